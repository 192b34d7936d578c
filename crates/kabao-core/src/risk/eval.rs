//! Measuring the scanner on a labelled corpus: one JSON object a line,
//! `{"text": "…", "risky": true, "category": "contact"|"off_platform_payment"|"fee_scam"|"early_release"|null}`.
//!
//! A message counts as caught when the scanner flags it at all (the buyer sees a warning); per family the
//! report also says how often the flagged category was the labelled one.

use super::{scan, RiskCategory, Scan, ScanConfig};
use serde::Deserialize;

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Labelled {
    pub text: String,
    pub risky: bool,
    #[serde(default)]
    pub category: Option<String>,
}

/// The corpus's name for a family, as the scanner's category.
pub fn corpus_category(name: &str) -> Option<RiskCategory> {
    match name {
        "contact" | "off_platform_contact" => Some(RiskCategory::OffPlatformContact),
        other => RiskCategory::parse(other),
    }
}

/// Reads a JSONL corpus; blank lines are skipped. An error names the line (1-based).
pub fn parse_corpus(jsonl: &str) -> Result<Vec<Labelled>, String> {
    let mut out = Vec::new();
    for (n, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Labelled = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        if let Some(c) = item.category.as_deref() {
            if corpus_category(c).is_none() {
                return Err(format!("line {}: unknown category {c:?}", n + 1));
            }
        }
        out.push(item);
    }
    Ok(out)
}

/// Figures for one labelled family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Family {
    pub name: String,
    /// Labelled messages of this family.
    pub total: usize,
    /// Of those, flagged at all.
    pub caught: usize,
    /// Of those, flagged with this family's category among the hits.
    pub right_category: usize,
}

/// The outcome of one corpus run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub true_negatives: usize,
    pub families: Vec<Family>,
    /// Risky messages not flagged, with their labelled family.
    pub misses: Vec<(String, String)>,
    /// Benign messages flagged, with the rules that fired.
    pub false_alarms: Vec<(String, Vec<&'static str>)>,
}

impl Report {
    /// Flagged and risky over all flagged; 1.0 when nothing was flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    /// Flagged and risky over all risky; 1.0 when nothing is risky.
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    /// Messages judged.
    pub fn total(&self) -> usize {
        self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Scans every message of the corpus and compares with its label.
pub fn evaluate(corpus: &[Labelled], cfg: &ScanConfig) -> Report {
    let verdicts: Vec<Scan> = corpus.iter().map(|item| scan(&item.text, cfg)).collect();
    evaluate_verdicts(corpus, &verdicts)
}

/// Compares verdicts already made (one per message, in order; a message without one counts as not flagged) with
/// the corpus's labels: for scoring another scanner, such as [`super::scan_with_model`], on the same corpus.
pub fn evaluate_verdicts(corpus: &[Labelled], verdicts: &[Scan]) -> Report {
    let mut report = Report::default();
    let none = Scan::default();
    for (i, item) in corpus.iter().enumerate() {
        let verdict = verdicts.get(i).unwrap_or(&none);
        let family = item.category.clone().unwrap_or_else(|| "risky".to_string());
        if item.risky {
            let idx = match report.families.iter().position(|f| f.name == family) {
                Some(i) => i,
                None => {
                    report.families.push(Family { name: family.clone(), ..Family::default() });
                    report.families.len() - 1
                }
            };
            let want = corpus_category(&family);
            if let Some(f) = report.families.get_mut(idx) {
                f.total += 1;
                f.caught += usize::from(verdict.risky());
                f.right_category += usize::from(want.is_some_and(|c| verdict.categories().contains(&c)));
            }
        }
        match (item.risky, verdict.risky()) {
            (true, true) => report.true_positives += 1,
            (true, false) => {
                report.false_negatives += 1;
                report.misses.push((family, item.text.clone()));
            }
            (false, true) => {
                report.false_positives += 1;
                report.false_alarms.push((item.text.clone(), verdict.hits.iter().map(|h| h.rule).collect()));
            }
            (false, false) => report.true_negatives += 1,
        }
    }
    report.families.sort_by(|a, b| a.name.cmp(&b.name));
    report
}

/// The report as text: the figures, then every miss and false alarm.
pub fn render(report: &Report) -> String {
    let mut out = render_figures(report);
    for (family, text) in &report.misses {
        out.push_str(&format!("miss [{family}] {text}\n"));
    }
    for (text, rules) in &report.false_alarms {
        out.push_str(&format!("false alarm [{}] {text}\n", rules.join(",")));
    }
    out
}

/// The figures alone (totals and recall per family), without a message's text: what may be shown of an unseen
/// corpus without spoiling it.
pub fn render_figures(report: &Report) -> String {
    let mut out = format!(
        "messages {}  precision {:.3}  recall {:.3}  (tp {} fp {} fn {} tn {})\n",
        report.total(),
        report.precision(),
        report.recall(),
        report.true_positives,
        report.false_positives,
        report.false_negatives,
        report.true_negatives,
    );
    for f in &report.families {
        out.push_str(&format!(
            "  {:<22} recall {:.3} ({}/{}), right category {}/{}\n",
            f.name,
            ratio(f.caught, f.total),
            f.caught,
            f.total,
            f.right_category,
            f.total
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = include_str!("../../../../tests/data/risk/dev.jsonl");
    const HOLDOUT: &str = include_str!("../../../../tests/data/risk/holdout.jsonl");
    const HOLDOUT2: &str = include_str!("../../../../tests/data/risk/holdout2.jsonl");
    const HOLDOUT3: &str = include_str!("../../../../tests/data/risk/holdout3.jsonl");
    const HOLDOUT4: &str = include_str!("../../../../tests/data/risk/holdout4.jsonl");
    const HOLDOUT5: &str = include_str!("../../../../tests/data/risk/holdout5.jsonl");
    const HOLDOUT6: &str = include_str!("../../../../tests/data/risk/holdout6.jsonl");
    const HOLDOUT7: &str = include_str!("../../../../tests/data/risk/holdout7.jsonl");
    const HOLDOUT8: &str = include_str!("../../../../tests/data/risk/holdout8.jsonl");

    fn run(jsonl: &str) -> Report {
        let corpus = parse_corpus(jsonl).unwrap_or_else(|e| panic!("{e}"));
        assert!(!corpus.is_empty());
        evaluate(&corpus, &ScanConfig::default())
    }

    /// Scores a corpus, prints the figures and the misses, and holds precision and recall at 0.95.
    fn holds_the_bar(jsonl: &str) {
        let r = run(jsonl);
        let text = render(&r);
        println!("{text}");
        assert!(r.precision() >= 0.95 && r.recall() >= 0.95, "{text}");
    }

    #[test]
    fn corpora_are_the_promised_size_and_balance() {
        let dev = parse_corpus(DEV).unwrap_or_default();
        let holdout = parse_corpus(HOLDOUT).unwrap_or_default();
        assert!(dev.len() >= 400 && holdout.len() >= 150, "{} {}", dev.len(), holdout.len());
        let risky = dev.iter().filter(|m| m.risky).count();
        assert!(risky * 10 >= dev.len() * 4 && risky * 10 <= dev.len() * 6, "{risky}");
        for m in dev.iter().chain(&holdout) {
            assert_eq!(m.risky, m.category.is_some(), "{}", m.text);
        }
    }

    #[test]
    fn dev_corpus_precision_and_recall_hold() {
        holds_the_bar(DEV);
    }

    #[test]
    fn holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT);
    }

    #[test]
    fn second_holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT2);
    }

    /// holdout3 became seen on 2026-12-07: it was scored blind once (P 0.905 / R 0.733), then its misses and
    /// false alarms were read and the rules generalised to their families. It is now a regression set, not a
    /// measure of generalisation: the next unseen set is.
    #[test]
    fn third_holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT3);
    }

    /// holdout4 became seen on 2026-12-07: scored blind once (P 0.876 / R 0.724), then its misses and false
    /// alarms were read and fixed by family (Cantonese read as Mandarin, apps by other names, ids by reference,
    /// requests put as questions, fees in English, other payment rails, scam warnings and reports). A regression
    /// set from now on, not a measure of generalisation.
    #[test]
    fn fourth_holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT4);
    }

    /// holdout5 became seen on 2026-12-07: scored blind once (P 0.947 / R 0.856), then its misses and false
    /// alarms were read and fixed by family (early release traded for a delivery or a gift, fines and taxes as
    /// fees, payment to a third person or in coins and cards, ids hidden, pointed at or reassembled, reports of
    /// what someone else asked). A regression set from now on, not a measure of generalisation.
    #[test]
    fn fifth_holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT5);
    }

    /// holdout6 became seen on 2026-12-07: scored blind once (P 0.894 / R 0.708), then its misses and false
    /// alarms were read and fixed by family (the buyer's number asked for, contact pointed at a picture or put off
    /// the platform's filter, homophones, accounts given below, fees priced as costs, early release as a condition
    /// in other words, buyers' own reports). A regression set from now on, not a measure of generalisation.
    #[test]
    fn sixth_holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT6);
    }

    /// holdout7 became seen on 2026-12-07: scored blind once (P 0.921 / R 0.788), then its misses and false
    /// alarms were read and fixed by family (speech-to-text and OCR spacing, slang abbreviations, game-trade and
    /// livestream voice, mini-programs and channels, "verification" deposits and turnover tasks, buyers asking
    /// about the rules). A regression set from now on, not a measure of generalisation.
    #[test]
    fn seventh_holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT7);
    }

    /// holdout8 became seen on 2026-12-07: scored blind before it was read (P 0.934 / R 0.845, tp 169 fp 12 fn 31
    /// tn 188, on the rules tuned to holdout7; recall by category: contact 0.800, early release 0.911, fee scam 0.820,
    /// off-platform payment 0.860), then its misses and false alarms were read and fixed by family (emoji and dialect
    /// read as words, order-brushing tasks, insurance and paperwork fees, cards and codes as payment, contact on another
    /// app's page, prohibitions inside a request's own words, numbers the order is for). A regression set from now on,
    /// not a measure of generalisation.
    #[test]
    fn eighth_holdout_corpus_precision_and_recall_hold() {
        holds_the_bar(HOLDOUT8);
    }

    #[test]
    fn figures_count_the_four_outcomes() {
        let corpus = parse_corpus(
            "{\"text\":\"加我微信 abc_123\",\"risky\":true,\"category\":\"contact\"}\n\n\
             {\"text\":\"谢谢\",\"risky\":true,\"category\":\"fee_scam\"}\n\
             {\"text\":\"QQ：12345678\",\"risky\":false,\"category\":null}\n\
             {\"text\":\"好的\",\"risky\":false}\n",
        )
        .unwrap_or_default();
        let r = evaluate(&corpus, &ScanConfig::default());
        assert_eq!((r.true_positives, r.false_negatives, r.false_positives, r.true_negatives), (1, 1, 1, 1));
        assert_eq!(r.precision(), 0.5);
        assert_eq!(r.misses, vec![("fee_scam".to_string(), "谢谢".to_string())]);
        assert!(render(&r).contains("false alarm [contact.qq] QQ：12345678"));
        assert!(parse_corpus("{\"text\":\"x\",\"risky\":true,\"category\":\"other\"}").is_err());
        assert!(parse_corpus("not json").is_err());
    }
}
