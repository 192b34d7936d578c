//! Money as integer 分 (1/100 yuan). No floats anywhere: amounts are parsed from and printed to decimal text.

use crate::i18n::{Lang, Localized};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in 分. Arithmetic is checked: overflow is an error, never a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal amount with at most two decimals")]
    Malformed,
    #[error("amount out of range")]
    OutOfRange,
}

impl Localized for MoneyError {
    fn code(&self) -> &'static str {
        match self {
            MoneyError::Malformed => "money.malformed",
            MoneyError::OutOfRange => "money.out_of_range",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            MoneyError::Malformed => lang
                .pick(
                    "金额格式错误：请填写数字，最多两位小数，例如 9.90",
                    "Amount must be a number with at most two decimals, e.g. 9.90",
                )
                .into(),
            MoneyError::OutOfRange => lang.pick("金额超出范围", "Amount out of range").into(),
        }
    }
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_fen(fen: i64) -> Money {
        Money(fen)
    }
    pub const fn fen(self) -> i64 {
        self.0
    }
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
    pub fn checked_mul(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n).map(Money)
    }
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Parses yuan as decimal text: `"9"`, `"9.9"`, `"9.90"`, optionally prefixed with `¥`/`￥`.
    pub fn parse_yuan(text: &str) -> Result<Money, MoneyError> {
        let t = text.trim().trim_start_matches(['¥', '￥']).trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (whole, frac) = match t.split_once('.') {
            Some((w, f)) => (w, f),
            None => (t, ""),
        };
        if whole.is_empty()
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MoneyError::Malformed);
        }
        if t.contains('.') && frac.is_empty() {
            return Err(MoneyError::Malformed);
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyError::OutOfRange)?;
        let frac_fen: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| MoneyError::Malformed)? * 10,
            _ => frac.parse::<i64>().map_err(|_| MoneyError::Malformed)?,
        };
        let fen = whole.checked_mul(100).and_then(|w| w.checked_add(frac_fen)).ok_or(MoneyError::OutOfRange)?;
        Ok(Money(if neg { -fen } else { fen }))
    }

    /// The amount as yuan text with two decimals, without a currency sign: `"9.90"`.
    pub fn yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{}", self.yuan_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(Money::parse_yuan("9"), Ok(Money::from_fen(900)));
        assert_eq!(Money::parse_yuan("9.9"), Ok(Money::from_fen(990)));
        assert_eq!(Money::parse_yuan("￥ 9.90"), Ok(Money::from_fen(990)));
        assert_eq!(Money::parse_yuan("0.01"), Ok(Money::from_fen(1)));
    }

    #[test]
    fn refuses_malformed_amounts() {
        for bad in ["", "abc", "9.999", "9.", ".5", "1e3", "9,90", "--1", "99999999999999999999"] {
            assert!(Money::parse_yuan(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn yuan_text_round_trips(fen in -1_000_000_000_000i64..1_000_000_000_000) {
            let m = Money::from_fen(fen);
            prop_assert_eq!(Money::parse_yuan(&m.yuan_string()), Ok(m));
        }
    }
}
