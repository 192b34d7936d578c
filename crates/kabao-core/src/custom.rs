//! Custom goods (人工交付): the product names the fields a buyer fills at checkout (game account id, server...),
//! the merchant delivers a text by hand before a deadline, and a missed deadline refunds the buyer.
//! These are the rules for the merchant's field list, the buyer's answers and the delivered text.

use crate::i18n::{Lang, Localized};
use serde::{Deserialize, Serialize};

pub const MAX_FIELDS: usize = 5;
pub const MAX_LABEL_CHARS: usize = 30;
pub const MAX_ANSWER_CHARS: usize = 200;
pub const MAX_DELIVERY_CHARS: usize = 2000;
/// The merchant's delivery deadline may be 1 hour to 7 days after payment.
pub const DELIVERY_HOURS: std::ops::RangeInclusive<i64> = 1..=168;
/// Used only if a paid order's product lost its fields (which the store does not allow).
pub const DEFAULT_DELIVERY_HOURS: i64 = 24;

/// What a custom product asks of its buyer and how long its merchant has to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomSpec {
    /// Field labels in the order the buyer fills them; every field is required.
    pub fields: Vec<String>,
    pub delivery_hours: i64,
}

/// Why a field list, an answer or a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomError {
    #[error("between 1 and {MAX_FIELDS} field labels are needed")]
    FieldCount,
    #[error("field label {0:?} is empty, too long or contains control characters")]
    BadLabel(String),
    #[error("field label {0:?} appears twice")]
    DuplicateLabel(String),
    #[error("delivery deadline out of range")]
    DeliveryHours,
    #[error("field {0:?} is missing")]
    MissingAnswer(String),
    #[error("field {0:?} is too long or contains control characters")]
    BadAnswer(String),
    #[error("unknown field {0:?}")]
    UnknownField(String),
    #[error("delivery text is empty or too long")]
    BadDelivery,
}

impl Localized for CustomError {
    fn code(&self) -> &'static str {
        match self {
            CustomError::FieldCount => "custom.field_count",
            CustomError::BadLabel(_) => "custom.field_label_invalid",
            CustomError::DuplicateLabel(_) => "custom.field_label_duplicate",
            CustomError::DeliveryHours => "custom.delivery_hours_invalid",
            CustomError::MissingAnswer(_) => "order.custom_field_missing",
            CustomError::BadAnswer(_) => "order.custom_field_invalid",
            CustomError::UnknownField(_) => "order.custom_field_unknown",
            CustomError::BadDelivery => "order.delivery_text_invalid",
        }
    }

    fn field(&self) -> Option<&'static str> {
        Some(match self {
            CustomError::FieldCount | CustomError::BadLabel(_) | CustomError::DuplicateLabel(_) => "fields",
            CustomError::DeliveryHours => "delivery_hours",
            CustomError::MissingAnswer(_) | CustomError::BadAnswer(_) | CustomError::UnknownField(_) => "custom_fields",
            CustomError::BadDelivery => "text",
        })
    }

    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (CustomError::FieldCount, Lang::Zh) => format!("请填写 1–{MAX_FIELDS} 个下单信息字段，每行一个"),
            (CustomError::FieldCount, Lang::En) => format!("Give 1–{MAX_FIELDS} order fields, one per line"),
            (CustomError::BadLabel(l), Lang::Zh) => {
                format!("字段名「{l}」无效：需为 1–{MAX_LABEL_CHARS} 个字符，且不含控制字符")
            }
            (CustomError::BadLabel(l), Lang::En) => {
                format!("Field label \"{l}\" must be 1–{MAX_LABEL_CHARS} characters without control characters")
            }
            (CustomError::DuplicateLabel(l), Lang::Zh) => format!("字段名「{l}」重复"),
            (CustomError::DuplicateLabel(l), Lang::En) => format!("Field label \"{l}\" appears twice"),
            (CustomError::DeliveryHours, Lang::Zh) => "发货时限需在 1 到 168 小时之间".into(),
            (CustomError::DeliveryHours, Lang::En) => "The delivery deadline must be 1–168 hours".into(),
            (CustomError::MissingAnswer(l), Lang::Zh) => format!("请填写「{l}」"),
            (CustomError::MissingAnswer(l), Lang::En) => format!("Please fill in \"{l}\""),
            (CustomError::BadAnswer(l), Lang::Zh) => {
                format!("「{l}」最多 {MAX_ANSWER_CHARS} 个字符，且不能含控制字符")
            }
            (CustomError::BadAnswer(l), Lang::En) => {
                format!("\"{l}\" must be at most {MAX_ANSWER_CHARS} characters without control characters")
            }
            (CustomError::UnknownField(l), Lang::Zh) => format!("该商品没有「{l}」这一项"),
            (CustomError::UnknownField(l), Lang::En) => format!("This product has no field \"{l}\""),
            (CustomError::BadDelivery, Lang::Zh) => format!("发货内容需为 1–{MAX_DELIVERY_CHARS} 个字符"),
            (CustomError::BadDelivery, Lang::En) => {
                format!("The delivery text must be 1–{MAX_DELIVERY_CHARS} characters")
            }
        }
    }
}

fn clean_line(s: &str, max: usize) -> Option<&str> {
    let t = s.trim();
    let n = t.chars().count();
    (n > 0 && n <= max && !t.chars().any(char::is_control)).then_some(t)
}

impl CustomSpec {
    /// From the merchant's form: one label per line (blank lines ignored) and the deadline in hours.
    pub fn from_lines(lines: &str, delivery_hours: i64) -> Result<CustomSpec, CustomError> {
        let labels: Vec<&str> = lines.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        CustomSpec::new(labels.into_iter().map(str::to_string).collect(), delivery_hours)
    }

    pub fn new(fields: Vec<String>, delivery_hours: i64) -> Result<CustomSpec, CustomError> {
        if fields.is_empty() || fields.len() > MAX_FIELDS {
            return Err(CustomError::FieldCount);
        }
        let mut clean: Vec<String> = Vec::with_capacity(fields.len());
        for f in &fields {
            let label = clean_line(f, MAX_LABEL_CHARS).ok_or_else(|| CustomError::BadLabel(f.clone()))?;
            if clean.iter().any(|c| c == label) {
                return Err(CustomError::DuplicateLabel(label.to_string()));
            }
            clean.push(label.to_string());
        }
        if !DELIVERY_HOURS.contains(&delivery_hours) {
            return Err(CustomError::DeliveryHours);
        }
        Ok(CustomSpec { fields: clean, delivery_hours })
    }

    /// The labels as stored: a JSON array.
    pub fn fields_json(&self) -> String {
        serde_json::Value::from(self.fields.clone()).to_string()
    }

    /// From storage; `None` if the stored text is not a valid field list.
    pub fn from_stored(fields_json: &str, delivery_hours: i64) -> Option<CustomSpec> {
        let fields: Vec<String> = serde_json::from_str(fields_json).ok()?;
        CustomSpec::new(fields, delivery_hours).ok()
    }

    /// Checks a buyer's answers against the fields: every field answered, nothing else, each within limits.
    /// Returns them in the product's field order.
    pub fn answers(&self, given: &[(String, String)]) -> Result<Answers, CustomError> {
        if let Some((unknown, _)) = given.iter().find(|(label, _)| !self.fields.iter().any(|f| f == label.trim())) {
            return Err(CustomError::UnknownField(unknown.clone()));
        }
        let mut out = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let value = given.iter().find(|(l, _)| l.trim() == field).map(|(_, v)| v.trim()).unwrap_or("");
            if value.is_empty() {
                return Err(CustomError::MissingAnswer(field.clone()));
            }
            let value = clean_line(value, MAX_ANSWER_CHARS).ok_or_else(|| CustomError::BadAnswer(field.clone()))?;
            out.push((field.clone(), value.to_string()));
        }
        Ok(Answers(out))
    }
}

/// A buyer's checked answers, in the product's field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers(pub Vec<(String, String)>);

impl Answers {
    /// As stored with the order: a JSON array of `[label, value]` pairs (order kept).
    pub fn to_json(&self) -> String {
        serde_json::Value::from(
            self.0.iter().map(|(l, v)| serde_json::Value::from(vec![l.clone(), v.clone()])).collect::<Vec<_>>(),
        )
        .to_string()
    }

    /// From storage; an unreadable value yields no answers rather than an error (they are shown, not acted on).
    pub fn from_json(text: &str) -> Answers {
        Answers(serde_json::from_str::<Vec<(String, String)>>(text).unwrap_or_default())
    }
}

/// Checks the text a merchant delivers by hand; returns it trimmed.
pub fn delivery_text(text: &str) -> Result<&str, CustomError> {
    let t = text.trim();
    let n = t.chars().count();
    if n == 0 || n > MAX_DELIVERY_CHARS {
        return Err(CustomError::BadDelivery);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CustomSpec {
        CustomSpec::from_lines("游戏账号\n\n 区服 \n", 24).unwrap()
    }

    #[test]
    fn field_lists_are_checked() {
        assert_eq!(spec().fields, vec!["游戏账号", "区服"]);
        assert_eq!(CustomSpec::from_lines("\n \n", 24), Err(CustomError::FieldCount));
        assert_eq!(CustomSpec::from_lines("a\nb\nc\nd\ne\nf", 24), Err(CustomError::FieldCount));
        assert_eq!(CustomSpec::from_lines("区服\n区服", 24), Err(CustomError::DuplicateLabel("区服".into())));
        assert!(matches!(CustomSpec::from_lines(&"长".repeat(31), 24), Err(CustomError::BadLabel(_))));
        assert!(matches!(CustomSpec::new(vec!["a\u{7}b".into()], 24), Err(CustomError::BadLabel(_))));
        assert_eq!(CustomSpec::from_lines("a", 0), Err(CustomError::DeliveryHours));
        assert_eq!(CustomSpec::from_lines("a", 169), Err(CustomError::DeliveryHours));
        let s = spec();
        assert_eq!(CustomSpec::from_stored(&s.fields_json(), 24), Some(s));
        assert_eq!(CustomSpec::from_stored("not json", 24), None);
    }

    #[test]
    fn answers_must_cover_every_field_and_nothing_else() {
        let s = spec();
        let a = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(l, v)| (l.to_string(), v.to_string())).collect()
        };
        let ok = s.answers(&a(&[("区服", " 电信一区 "), ("游戏账号", "12345")])).unwrap();
        assert_eq!(ok.0, vec![("游戏账号".into(), "12345".into()), ("区服".into(), "电信一区".into())]);
        assert_eq!(Answers::from_json(&ok.to_json()), ok);
        assert_eq!(s.answers(&a(&[("游戏账号", "1")])), Err(CustomError::MissingAnswer("区服".into())));
        assert_eq!(s.answers(&a(&[("游戏账号", "1"), ("区服", "  ")])), Err(CustomError::MissingAnswer("区服".into())));
        assert_eq!(
            s.answers(&a(&[("游戏账号", "1"), ("区服", "x"), ("密码", "p")])),
            Err(CustomError::UnknownField("密码".into()))
        );
        let long = "x".repeat(MAX_ANSWER_CHARS + 1);
        assert_eq!(
            s.answers(&a(&[("游戏账号", &long), ("区服", "x")])),
            Err(CustomError::BadAnswer("游戏账号".into()))
        );
        assert_eq!(Answers::from_json("garbage"), Answers(vec![]));
    }

    #[test]
    fn delivery_text_limits() {
        assert_eq!(delivery_text("  账号 a 密码 b \n"), Ok("账号 a 密码 b"));
        assert_eq!(delivery_text("  "), Err(CustomError::BadDelivery));
        assert_eq!(delivery_text(&"x".repeat(MAX_DELIVERY_CHARS + 1)), Err(CustomError::BadDelivery));
        for e in [CustomError::FieldCount, CustomError::BadDelivery, CustomError::MissingAnswer("a".into())] {
            assert!(!e.message(Lang::Zh).is_empty() && !e.message(Lang::En).is_empty());
            assert!(e.field().is_some());
        }
    }
}
