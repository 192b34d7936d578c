//! The chat risk scanner against a labelled corpus of order-chat messages (`tests/data/risk_corpus.tsv`), and
//! properties: obfuscation keeps a risky message risky, and no input panics or yields a span out of bounds.

use kabao_core::risk::{scan, Scan, ScanConfig};
use proptest::prelude::*;

const CORPUS: &str = include_str!("data/risk_corpus.tsv");

struct Line {
    number: usize,
    /// The expected rule id, or `None` for a harmless message.
    expected: Option<&'static str>,
    message: String,
}

fn corpus() -> Vec<Line> {
    CORPUS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let (label, message) = l.split_once('\t').unwrap_or_else(|| panic!("line {}: no tab: {l}", i + 1));
            Line { number: i + 1, expected: (label != "ok").then_some(label), message: unescape(message) }
        })
        .collect()
}

/// `\n`, `\t` and `\u{XXXX}` in the corpus, so invisible characters stay visible in the file.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("\\u{") {
            let close = after.find('}').unwrap_or_else(|| panic!("unclosed \\u{{ in {s}"));
            let code = u32::from_str_radix(&after[..close], 16).unwrap_or_else(|e| panic!("{e} in {s}"));
            out.push(char::from_u32(code).unwrap_or_else(|| panic!("bad char in {s}")));
            rest = &after[close + 1..];
        } else if let Some(after) = tail.strip_prefix("\\n") {
            out.push('\n');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("\\t") {
            out.push('\t');
            rest = after;
        } else {
            out.push('\\');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn describe(scan: &Scan) -> String {
    let rules: Vec<String> = scan.hits.iter().map(|h| format!("{}@{:?}", h.rule, h.span)).collect();
    if rules.is_empty() {
        "no hits".to_string()
    } else {
        rules.join(", ")
    }
}

#[test]
fn corpus_precision_and_recall_are_at_least_95_percent() {
    let cfg = ScanConfig::default();
    let lines = corpus();
    let risky = lines.iter().filter(|l| l.expected.is_some()).count();
    let harmless = lines.len() - risky;
    assert!(lines.len() >= 200, "the corpus needs at least 200 messages, has {}", lines.len());
    assert!(risky * 10 >= lines.len() * 4 && harmless * 10 >= lines.len() * 4, "{risky} risky, {harmless} harmless");

    let (mut tp, mut fp, mut fn_, mut tn) = (0usize, 0usize, 0usize, 0usize);
    let mut wrong_rule = 0usize;
    let mut report = Vec::new();
    for line in &lines {
        let result = scan(&line.message, &cfg);
        match (line.expected, result.risky()) {
            (Some(rule), true) => {
                tp += 1;
                if !result.hits.iter().any(|h| h.rule == rule) {
                    wrong_rule += 1;
                    report.push(format!(
                        "  wrong rule  line {}: expected {rule}: {}  [{}]",
                        line.number,
                        line.message,
                        describe(&result)
                    ));
                }
            }
            (Some(rule), false) => {
                fn_ += 1;
                report.push(format!("  missed      line {}: expected {rule}: {}", line.number, line.message));
            }
            (None, true) => {
                fp += 1;
                report.push(format!("  false alarm line {}: {}  [{}]", line.number, line.message, describe(&result)));
            }
            (None, false) => tn += 1,
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    let rule_agreement = (tp - wrong_rule) as f64 / tp.max(1) as f64;
    let summary = format!(
        "{} messages ({risky} risky, {harmless} harmless): tp {tp}, fp {fp}, fn {fn_}, tn {tn}; precision {precision:.3}, \
         recall {recall:.3}, expected rule among the hits {rule_agreement:.3}\n{}",
        lines.len(),
        report.join("\n")
    );
    println!("{summary}");
    assert!(precision >= 0.95 && recall >= 0.95 && rule_agreement >= 0.95, "{summary}");
}

fn risky_messages() -> Vec<String> {
    corpus().into_iter().filter(|l| l.expected.is_some()).map(|l| l.message).collect()
}

/// Whether the message's risk rests on a link, whose dots, dashes and slashes are its syntax.
fn is_link(message: &str) -> bool {
    scan(message, &ScanConfig::default()).hits.iter().all(|h| h.rule == "payment.external_link")
}

const SEPARATORS: &[&str] =
    &[" ", "  ", ".", "-", "_", "*", "/", "|", "\u{200B}", "\u{200D}", "😀", "❤", "★", "·", "～"];
/// Separators that are not link syntax or spaces: safe to put anywhere, even inside a host or a word.
const INVISIBLE_OR_DECORATIVE: &[&str] = &["*", "|", "\u{200B}", "\u{2060}", "😀", "❤️", "★", "✨"];

fn interleave(message: &str, seps: &[Option<&str>]) -> String {
    let mut out = String::new();
    for (i, c) in message.chars().enumerate() {
        if i > 0 {
            if let Some(Some(sep)) = seps.get((i - 1) % seps.len().max(1)) {
                out.push_str(sep);
            }
        }
        out.push(c);
    }
    out
}

/// ASCII `!`..`~` to their full-width forms (U+FF01..U+FF5E).
fn full_width(message: &str) -> String {
    message
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect()
}

fn assert_risky(original: &str, variant: &str) -> Result<(), TestCaseError> {
    let result = scan(variant, &ScanConfig::default());
    prop_assert!(result.risky(), "{original:?} became harmless as {variant:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// A separator between every pair of characters (each gap its own kind) keeps a risky message risky.
    #[test]
    fn separators_between_all_characters_keep_a_message_risky(
        pick in any::<prop::sample::Index>(),
        seps in prop::collection::vec(0..SEPARATORS.len(), 1..12),
        wide in any::<bool>(),
    ) {
        let messages = risky_messages();
        let message = pick.get(&messages);
        let set = if is_link(message) { INVISIBLE_OR_DECORATIVE } else { SEPARATORS };
        let seps: Vec<Option<&str>> = seps.iter().map(|&k| set.get(k % set.len()).copied()).collect();
        let mut variant = interleave(message, &seps);
        if wide {
            variant = full_width(&variant);
        }
        assert_risky(message, &variant)?;
    }

    /// Invisible characters and emoji in some gaps, and full-width forms, keep a risky message risky.
    #[test]
    fn decorations_in_some_gaps_and_full_width_keep_a_message_risky(
        pick in any::<prop::sample::Index>(),
        seps in prop::collection::vec(prop::option::of(0..INVISIBLE_OR_DECORATIVE.len()), 1..12),
        wide in any::<bool>(),
    ) {
        let messages = risky_messages();
        let message = pick.get(&messages);
        let seps: Vec<Option<&str>> = seps.iter().map(|k| k.and_then(|k| INVISIBLE_OR_DECORATIVE.get(k).copied())).collect();
        let mut variant = interleave(message, &seps);
        if wide {
            variant = full_width(&variant);
        }
        assert_risky(message, &variant)?;
    }

    /// No input panics, and every span is a non-empty range of the message's characters.
    #[test]
    fn any_string_scans_without_panic_and_spans_stay_in_bounds(text in any::<String>()) {
        check_spans(&text)?;
    }

    /// The same, on strings made of the characters the rules look at.
    #[test]
    fn rule_shaped_strings_scan_without_panic_and_spans_stay_in_bounds(
        text in "[微信薇威vVxXwWqQ扣企鹅飞机✈tg加我的号是：:@#/.\\- 0-9一二三八幺①❶１３８补单交付费先再才解冻激活保证金私下收款码转账到给¥元。？?，吗\u{200B}😀a-z]{0,80}"
    ) {
        check_spans(&text)?;
    }
}

fn check_spans(text: &str) -> Result<(), TestCaseError> {
    let len = text.chars().count();
    let result = scan(text, &ScanConfig::default());
    for hit in &result.hits {
        prop_assert!(hit.span.0 < hit.span.1 && hit.span.1 <= len, "{hit:?} in {text:?} ({len} chars)");
    }
    let masked = kabao_core::risk::mask(text, &result);
    prop_assert_eq!(masked.chars().count(), len);
    Ok(())
}
