//! Card-key import: parsing a merchant's file line by line and planning what to accept.
//! Two formats: one key per line, and `卡号----密码`. Every refused line is named by its number.

use crate::i18n::{Lang, Localized};
use crate::vault::Fingerprint;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use zeroize::Zeroizing;

/// Longest key line accepted, in characters. Real card keys and account/password pairs are far shorter.
pub const KEY_MAX_CHARS: usize = 512;
/// The separator between card number and password in the common card-shop format.
pub const PAIR_SEPARATOR: &str = "----";

/// A card key as the merchant uploaded it. Zeroized on drop: secrets do not linger in freed memory.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySecret {
    /// One code, e.g. a license key.
    Code(Zeroizing<String>),
    /// `卡号----密码`: a card number and its password.
    Pair { number: Zeroizing<String>, password: Zeroizing<String> },
}

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, not even in a debug log.
        match self {
            KeySecret::Code(_) => f.write_str("KeySecret::Code(<redacted>)"),
            KeySecret::Pair { .. } => f.write_str("KeySecret::Pair(<redacted>)"),
        }
    }
}

impl KeySecret {
    /// The one text the key is stored, fingerprinted and shown as.
    pub fn canonical(&self) -> Zeroizing<String> {
        match self {
            KeySecret::Code(c) => c.clone(),
            KeySecret::Pair { number, password } => {
                Zeroizing::new(format!("{}{PAIR_SEPARATOR}{}", &**number, &**password))
            }
        }
    }

    /// Parses stored canonical text back into its parts.
    pub fn from_canonical(text: &str) -> KeySecret {
        match text.split_once(PAIR_SEPARATOR) {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => {
                KeySecret::Pair { number: Zeroizing::new(n.to_string()), password: Zeroizing::new(p.to_string()) }
            }
            _ => KeySecret::Code(Zeroizing::new(text.to_string())),
        }
    }
}

/// Why one line of an import file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineProblem {
    /// The line is not valid UTF-8 (often a GBK file saved by an old editor).
    NotUtf8,
    TooLong,
    ControlCharacters,
    /// `----` with nothing before it.
    MissingCardNumber,
    /// `----` with nothing after it.
    MissingPassword,
    /// More than one `----`.
    TooManySeparators,
}

impl LineProblem {
    pub fn code(self) -> &'static str {
        match self {
            LineProblem::NotUtf8 => "import.line_not_utf8",
            LineProblem::TooLong => "import.line_too_long",
            LineProblem::ControlCharacters => "import.line_control_chars",
            LineProblem::MissingCardNumber => "import.line_missing_card_number",
            LineProblem::MissingPassword => "import.line_missing_password",
            LineProblem::TooManySeparators => "import.line_too_many_separators",
        }
    }

    /// A message naming the line, e.g. "第 17 行：缺少密码（---- 之后为空）".
    pub fn message(self, line: u32, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!(
                "第 {line} 行：{}",
                match self {
                    LineProblem::NotUtf8 => "不是 UTF-8 编码（请将文件另存为 UTF-8）",
                    LineProblem::TooLong => "超过 512 个字符",
                    LineProblem::ControlCharacters => "含有控制字符或制表符",
                    LineProblem::MissingCardNumber => "缺少卡号（---- 之前为空）",
                    LineProblem::MissingPassword => "缺少密码（---- 之后为空）",
                    LineProblem::TooManySeparators => "有多个 ----，格式应为 卡号----密码",
                }
            ),
            Lang::En => format!(
                "Line {line}: {}",
                match self {
                    LineProblem::NotUtf8 => "not UTF-8 (save the file as UTF-8)",
                    LineProblem::TooLong => "longer than 512 characters",
                    LineProblem::ControlCharacters => "contains control characters or tabs",
                    LineProblem::MissingCardNumber => "card number missing (nothing before ----)",
                    LineProblem::MissingPassword => "password missing (nothing after ----)",
                    LineProblem::TooManySeparators => "more than one ----; the format is number----password",
                }
            ),
        }
    }
}

/// Parses one non-blank line (already without its line ending). Surrounding whitespace is trimmed.
pub fn parse_key_line(line: &str) -> Result<KeySecret, LineProblem> {
    let line = line.trim();
    if line.chars().count() > KEY_MAX_CHARS {
        return Err(LineProblem::TooLong);
    }
    if line.chars().any(char::is_control) {
        return Err(LineProblem::ControlCharacters);
    }
    let mut parts = line.split(PAIR_SEPARATOR);
    let first = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (None, _) => Ok(KeySecret::Code(Zeroizing::new(line.to_string()))),
        (Some(second), None) => {
            let (number, password) = (first.trim(), second.trim());
            if number.is_empty() {
                Err(LineProblem::MissingCardNumber)
            } else if password.is_empty() {
                Err(LineProblem::MissingPassword)
            } else {
                Ok(KeySecret::Pair { number: Zeroizing::new(number.into()), password: Zeroizing::new(password.into()) })
            }
        }
        (Some(_), Some(_)) => Err(LineProblem::TooManySeparators),
    }
}

/// Splits raw file bytes into numbered, non-blank lines (1-based; `\r\n` and a UTF-8 BOM are handled).
pub fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = (u32, Result<&str, LineProblem>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.split(|b| *b == b'\n').enumerate().filter_map(|(i, raw)| {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match std::str::from_utf8(raw) {
            Ok(s) if s.trim().is_empty() => None,
            Ok(s) => Some((number, Ok(s))),
            Err(_) => Some((number, Err(LineProblem::NotUtf8))),
        }
    })
}

/// A key the import will store.
#[derive(Debug, Clone)]
pub struct PlannedKey {
    pub line: u32,
    pub secret: KeySecret,
    pub fingerprint: Fingerprint,
}

/// A line refused because the same key exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DuplicateLine {
    pub line: u32,
    /// The earlier line of the same file with this key, or `None` when the shop already holds it.
    pub same_as_line: Option<u32>,
}

/// A line refused because the category's verifier says the key is already redeemed or invalid (验货).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedLine {
    pub line: u32,
    /// `redeemed` or `invalid`.
    pub status: &'static str,
    /// When the verifier says it was redeemed (milliseconds), if it says.
    pub redeemed_at: Option<crate::Timestamp>,
    pub detail: Option<String>,
}

impl RefusedLine {
    pub fn new(line: u32, answer: &crate::verification::Answer) -> RefusedLine {
        RefusedLine {
            line,
            status: answer.status.as_str(),
            redeemed_at: answer.redeemed_at,
            detail: answer.detail.clone(),
        }
    }

    /// The line in plain words; times are shown by the caller's formatter.
    pub fn message(&self, lang: Lang, format_time: impl Fn(crate::Timestamp) -> String) -> String {
        let status = crate::verification::Status::parse(self.status).map_or(self.status, |s| s.label(lang));
        let at = self.redeemed_at.map(format_time);
        let mut text = match (lang, at) {
            (Lang::Zh, Some(at)) => format!("第 {} 行：验货结果为「{status}」（{at}），已拒收", self.line),
            (Lang::Zh, None) => format!("第 {} 行：验货结果为「{status}」，已拒收", self.line),
            (Lang::En, Some(at)) => format!("Line {}: the verifier says {status} ({at}); refused", self.line),
            (Lang::En, None) => format!("Line {}: the verifier says {status}; refused", self.line),
        };
        if let Some(d) = &self.detail {
            text.push_str(lang.pick("：", ": "));
            text.push_str(d);
        }
        text
    }
}

/// A refused line and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MalformedLine {
    pub line: u32,
    pub problem: LineProblem,
}

/// What an import will do, decided before anything is written.
#[derive(Debug, Default)]
pub struct ImportPlan {
    pub accepted: Vec<PlannedKey>,
    pub duplicates: Vec<DuplicateLine>,
    pub malformed: Vec<MalformedLine>,
    pub refused: Vec<RefusedLine>,
    pub unverified_count: u64,
}

impl ImportPlan {
    /// Parses every line, fingerprints each key with `fingerprint`, and drops repeats within the file.
    pub fn from_lines<'a>(
        lines: impl Iterator<Item = (u32, Result<&'a str, LineProblem>)>,
        fingerprint: impl Fn(&KeySecret) -> Fingerprint,
    ) -> ImportPlan {
        let mut plan = ImportPlan::default();
        let mut first_line: HashMap<Fingerprint, u32> = HashMap::new();
        for (line, text) in lines {
            match text.and_then(parse_key_line) {
                Err(problem) => plan.malformed.push(MalformedLine { line, problem }),
                Ok(secret) => {
                    let fp = fingerprint(&secret);
                    if let Some(first) = first_line.get(&fp) {
                        plan.duplicates.push(DuplicateLine { line, same_as_line: Some(*first) });
                    } else {
                        first_line.insert(fp, line);
                        plan.accepted.push(PlannedKey { line, secret, fingerprint: fp });
                    }
                }
            }
        }
        plan
    }

    /// Moves keys the shop already holds from accepted to duplicates.
    pub fn drop_existing(&mut self, existing: &HashSet<Fingerprint>) {
        if existing.is_empty() {
            return;
        }
        let mut kept = Vec::with_capacity(self.accepted.len());
        for key in self.accepted.drain(..) {
            if existing.contains(&key.fingerprint) {
                self.duplicates.push(DuplicateLine { line: key.line, same_as_line: None });
            } else {
                kept.push(key);
            }
        }
        self.accepted = kept;
        self.duplicates.sort_by_key(|d| d.line);
    }

    /// The report of this plan: accepted lines as compact ranges, every refused line by number.
    pub fn report(&self) -> ImportReport {
        ImportReport {
            accepted_count: self.accepted.len() as u64,
            accepted_lines: line_ranges(self.accepted.iter().map(|k| k.line)),
            duplicates: self.duplicates.clone(),
            malformed: self.malformed.clone(),
            refused: self.refused.clone(),
            unverified_count: self.unverified_count,
        }
    }

    /// Moves the keys the verifier refused from accepted to refused.
    pub fn refuse(&mut self, mut refused: Vec<RefusedLine>) {
        if refused.is_empty() {
            return;
        }
        let lines: HashSet<u32> = refused.iter().map(|r| r.line).collect();
        self.accepted.retain(|k| !lines.contains(&k.line));
        self.refused.append(&mut refused);
        self.refused.sort_by_key(|r| r.line);
    }
}

/// The per-line result of an import, returned to the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub accepted_count: u64,
    /// Accepted line numbers as inclusive ranges `[first, last]`.
    pub accepted_lines: Vec<[u32; 2]>,
    pub duplicates: Vec<DuplicateLine>,
    pub malformed: Vec<MalformedLine>,
    /// Lines the category's verifier refused (redeemed or invalid), by line number.
    pub refused: Vec<RefusedLine>,
    /// Accepted keys the verifier could not answer on (down, or "unknown"): kept, not checked.
    pub unverified_count: u64,
}

/// Collapses ascending line numbers into inclusive ranges.
pub fn line_ranges(lines: impl Iterator<Item = u32>) -> Vec<[u32; 2]> {
    let mut ranges: Vec<[u32; 2]> = Vec::new();
    for line in lines {
        match ranges.last_mut() {
            Some(last) if last[1].checked_add(1) == Some(line) => last[1] = line,
            _ => ranges.push([line, line]),
        }
    }
    ranges
}

/// Why a whole import was refused before any line was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("file has no keys")]
    Empty,
    #[error("file too large")]
    TooLarge { max_bytes: u64 },
}

impl Localized for ImportError {
    fn code(&self) -> &'static str {
        match self {
            ImportError::Empty => "import.empty",
            ImportError::TooLarge { .. } => "import.too_large",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some("file")
    }
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (ImportError::Empty, _) => lang.pick("文件中没有卡密", "The file contains no keys").into(),
            (ImportError::TooLarge { max_bytes }, Lang::Zh) => {
                format!("文件过大：单次最多 {} MB，请分批导入或使用命令行 kabao keys import", max_bytes / 1024 / 1024)
            }
            (ImportError::TooLarge { max_bytes }, Lang::En) => {
                format!(
                    "File too large: at most {} MB per upload; split it or use `kabao keys import`",
                    max_bytes / 1024 / 1024
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn fp(secret: &KeySecret) -> Fingerprint {
        Fingerprint(Sha256::digest(secret.canonical().as_bytes()).into())
    }

    fn plan(text: &str) -> ImportPlan {
        ImportPlan::from_lines(numbered_lines(text.as_bytes()), fp)
    }

    #[test]
    fn both_formats_parse() {
        assert_eq!(parse_key_line(" ABCD-EFGH-1234 "), Ok(KeySecret::Code(Zeroizing::new("ABCD-EFGH-1234".into()))));
        let pair = parse_key_line("1234567890----pw9876").map(|s| s.canonical().to_string());
        assert_eq!(pair, Ok("1234567890----pw9876".to_string()));
    }

    #[test]
    fn each_line_problem_is_detected() {
        assert_eq!(parse_key_line("----pw"), Err(LineProblem::MissingCardNumber));
        assert_eq!(parse_key_line("123----"), Err(LineProblem::MissingPassword));
        assert_eq!(parse_key_line("1----2----3"), Err(LineProblem::TooManySeparators));
        assert_eq!(parse_key_line("ab\tcd"), Err(LineProblem::ControlCharacters));
        assert_eq!(parse_key_line(&"k".repeat(513)), Err(LineProblem::TooLong));
    }

    #[test]
    fn blank_lines_are_skipped_but_counted() {
        let p = plan("\u{feff}AAA\r\n\r\n   \nBBB\n----x\nAAA\n");
        assert_eq!(p.accepted.iter().map(|k| k.line).collect::<Vec<_>>(), vec![1, 4]);
        assert_eq!(p.malformed, vec![MalformedLine { line: 5, problem: LineProblem::MissingCardNumber }]);
        assert_eq!(p.duplicates, vec![DuplicateLine { line: 6, same_as_line: Some(1) }]);
    }

    #[test]
    fn non_utf8_line_is_named() {
        let mut bytes = b"GOOD1\n".to_vec();
        bytes.extend_from_slice(&[0xbf, 0xa8, 0xc3, 0xdc, b'\n']); // "卡密" in GBK
        bytes.extend_from_slice(b"GOOD2\n");
        let p = ImportPlan::from_lines(numbered_lines(&bytes), fp);
        assert_eq!(p.accepted.len(), 2);
        assert_eq!(p.malformed, vec![MalformedLine { line: 2, problem: LineProblem::NotUtf8 }]);
    }

    #[test]
    fn existing_keys_become_duplicates() {
        let mut p = plan("AAA\nBBB\nCCC\n");
        let existing: HashSet<Fingerprint> = [fp(&KeySecret::Code(Zeroizing::new("BBB".into())))].into();
        p.drop_existing(&existing);
        assert_eq!(p.accepted.len(), 2);
        assert_eq!(p.duplicates, vec![DuplicateLine { line: 2, same_as_line: None }]);
        assert_eq!(p.report().accepted_lines, vec![[1, 1], [3, 3]]);
    }

    #[test]
    fn ranges_collapse() {
        assert_eq!(line_ranges([1, 2, 3, 5, 7, 8].into_iter()), vec![[1, 3], [5, 5], [7, 8]]);
        assert!(line_ranges(std::iter::empty()).is_empty());
    }

    #[test]
    fn messages_name_the_line() {
        assert_eq!(LineProblem::MissingPassword.message(17, Lang::Zh), "第 17 行：缺少密码（---- 之后为空）");
        assert!(LineProblem::MissingPassword.message(17, Lang::En).starts_with("Line 17:"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = KeySecret::Code(Zeroizing::new("SECRET-123".into()));
        assert!(!format!("{s:?}").contains("SECRET"));
    }
}
