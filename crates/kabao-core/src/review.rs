//! Reviews (评价): three 1–5 ratings, tags, text, and what a review says about re-issue (补单).
//! A shop's re-issue record counts reviews by their tags and, for reviews that forgot the tag, by their text.

use crate::i18n::{Lang, Localized};
use serde::Serialize;

/// The longest review or reply, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// The most tags one review may carry.
pub const MAX_TAGS: usize = 6;

/// A review tag. The re-issue tags feed the shop's re-issue record; the others describe the deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewTag {
    KeyWorked,
    FastDelivery,
    PatientService,
    /// 补单响应快
    ReissueFast,
    /// 补单流程规范
    ReissueByTheRules,
    /// 拒绝补单
    ReissueRefused,
    /// 补单后失联
    VanishedAfterReissue,
    /// 补单收费
    ReissueCharged,
}

impl ReviewTag {
    pub const ALL: [ReviewTag; 8] = [
        ReviewTag::KeyWorked,
        ReviewTag::FastDelivery,
        ReviewTag::PatientService,
        ReviewTag::ReissueFast,
        ReviewTag::ReissueByTheRules,
        ReviewTag::ReissueRefused,
        ReviewTag::VanishedAfterReissue,
        ReviewTag::ReissueCharged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewTag::KeyWorked => "key_worked",
            ReviewTag::FastDelivery => "fast_delivery",
            ReviewTag::PatientService => "patient_service",
            ReviewTag::ReissueFast => "reissue_fast",
            ReviewTag::ReissueByTheRules => "reissue_by_the_rules",
            ReviewTag::ReissueRefused => "reissue_refused",
            ReviewTag::VanishedAfterReissue => "vanished_after_reissue",
            ReviewTag::ReissueCharged => "reissue_charged",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewTag> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            ReviewTag::KeyWorked => lang.pick("卡密有效", "Key worked"),
            ReviewTag::FastDelivery => lang.pick("发货快", "Fast delivery"),
            ReviewTag::PatientService => lang.pick("客服耐心", "Patient service"),
            ReviewTag::ReissueFast => lang.pick("补单响应快", "Quick re-issue"),
            ReviewTag::ReissueByTheRules => lang.pick("补单流程规范", "Re-issue by the rules"),
            ReviewTag::ReissueRefused => lang.pick("拒绝补单", "Refused to re-issue"),
            ReviewTag::VanishedAfterReissue => lang.pick("补单后失联", "Vanished after re-issue"),
            ReviewTag::ReissueCharged => lang.pick("补单收费", "Charged for re-issue"),
        }
    }

    /// +1 for praise of re-issue, −1 for a complaint about it, 0 for tags about something else.
    pub fn reissue_polarity(self) -> i32 {
        match self {
            ReviewTag::ReissueFast | ReviewTag::ReissueByTheRules => 1,
            ReviewTag::ReissueRefused | ReviewTag::VanishedAfterReissue | ReviewTag::ReissueCharged => -1,
            ReviewTag::KeyWorked | ReviewTag::FastDelivery | ReviewTag::PatientService => 0,
        }
    }
}

/// Phrases in a review's text that complain about re-issue.
const NEGATIVE_REISSUE: &[&str] = &[
    "不给补",
    "不补",
    "拒绝补",
    "补单要钱",
    "补单收费",
    "补单要收",
    "补单费",
    "失联",
    "拉黑",
    "跑路",
    "不回复",
    "不理人",
    "不给换",
];
/// Phrases that praise it.
const POSITIVE_REISSUE: &[&str] = &[
    "秒补",
    "补单快",
    "补单很快",
    "补单及时",
    "及时补",
    "很快补",
    "马上补",
    "补得快",
    "已补",
    "补了新",
    "给补了",
    "换了新",
];

/// What a review says about re-issue: its tags decide (a complaint outweighs praise); without re-issue tags, the
/// text is read for the phrases buyers use ("不给补", "补单后失联", "拉黑", "秒补" …).
pub fn reissue_verdict(tags: &[ReviewTag], text: &str) -> i32 {
    let polarities: Vec<i32> = tags.iter().map(|t| t.reissue_polarity()).filter(|p| *p != 0).collect();
    if polarities.contains(&-1) {
        return -1;
    }
    if !polarities.is_empty() {
        return 1;
    }
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if NEGATIVE_REISSUE.iter().any(|p| text.contains(p)) {
        -1
    } else if POSITIVE_REISSUE.iter().any(|p| text.contains(p)) {
        1
    } else {
        0
    }
}

/// Why a review was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("rating {field} out of range")]
    RatingOutOfRange { field: &'static str },
    #[error("unknown tag")]
    UnknownTag,
    #[error("too many tags")]
    TooManyTags,
    #[error("text too long")]
    TextTooLong { field: &'static str },
    #[error("reply empty")]
    EmptyReply,
}

impl Localized for ReviewError {
    fn code(&self) -> &'static str {
        match self {
            ReviewError::RatingOutOfRange { .. } => "review.rating_out_of_range",
            ReviewError::UnknownTag => "review.unknown_tag",
            ReviewError::TooManyTags => "review.too_many_tags",
            ReviewError::TextTooLong { .. } => "review.text_too_long",
            ReviewError::EmptyReply => "review.reply_empty",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            ReviewError::RatingOutOfRange { field } | ReviewError::TextTooLong { field } => field,
            ReviewError::UnknownTag | ReviewError::TooManyTags => "tags",
            ReviewError::EmptyReply => "reply",
        })
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            ReviewError::RatingOutOfRange { .. } => lang.pick("评分须为 1 到 5 星", "Ratings are 1 to 5 stars").into(),
            ReviewError::UnknownTag => lang.pick("未知的评价标签", "Unknown review tag").into(),
            ReviewError::TooManyTags => match lang {
                Lang::Zh => format!("最多选择 {MAX_TAGS} 个标签"),
                Lang::En => format!("At most {MAX_TAGS} tags"),
            },
            ReviewError::TextTooLong { .. } => match lang {
                Lang::Zh => format!("内容最多 {MAX_TEXT_CHARS} 字"),
                Lang::En => format!("At most {MAX_TEXT_CHARS} characters"),
            },
            ReviewError::EmptyReply => lang.pick("回复不能为空", "The reply is empty").into(),
        }
    }
}

/// A review as submitted, before checks.
#[derive(Debug, Clone, Default)]
pub struct ReviewInput {
    pub described: i64,
    pub service: i64,
    pub delivery: i64,
    pub tags: Vec<String>,
    pub body: String,
}

/// A review that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDraft {
    pub described: i32,
    pub service: i32,
    pub delivery: i32,
    pub tags: Vec<ReviewTag>,
    pub body: String,
    /// See [`reissue_verdict`].
    pub reissue: i32,
}

fn rating(v: i64, field: &'static str) -> Result<i32, ReviewError> {
    match i32::try_from(v) {
        Ok(r) if (1..=5).contains(&r) => Ok(r),
        _ => Err(ReviewError::RatingOutOfRange { field }),
    }
}

impl ReviewDraft {
    pub fn parse(input: &ReviewInput) -> Result<ReviewDraft, ReviewError> {
        let described = rating(input.described, "described")?;
        let service = rating(input.service, "service")?;
        let delivery = rating(input.delivery, "delivery")?;
        if input.tags.len() > MAX_TAGS {
            return Err(ReviewError::TooManyTags);
        }
        let mut tags = Vec::with_capacity(input.tags.len());
        for t in &input.tags {
            let tag = ReviewTag::parse(t.trim()).ok_or(ReviewError::UnknownTag)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let body = input.body.trim().to_string();
        if body.chars().count() > MAX_TEXT_CHARS {
            return Err(ReviewError::TextTooLong { field: "body" });
        }
        let reissue = reissue_verdict(&tags, &body);
        Ok(ReviewDraft { described, service, delivery, tags, body, reissue })
    }
}

/// Checks a merchant's reply: not empty, not too long.
pub fn parse_reply(text: &str) -> Result<String, ReviewError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ReviewError::EmptyReply);
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ReviewError::TextTooLong { field: "reply" });
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(d: i64, s: i64, v: i64, tags: &[&str], body: &str) -> ReviewInput {
        ReviewInput {
            described: d,
            service: s,
            delivery: v,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            body: body.into(),
        }
    }

    #[test]
    fn ratings_out_of_range_name_their_field() {
        for (i, field) in [
            (input(0, 5, 5, &[], ""), "described"),
            (input(5, 6, 5, &[], ""), "service"),
            (input(5, 5, -1, &[], ""), "delivery"),
        ] {
            assert_eq!(ReviewDraft::parse(&i), Err(ReviewError::RatingOutOfRange { field }));
        }
        assert_eq!(
            ReviewDraft::parse(&input(5, 5, 1 << 40, &[], "")),
            Err(ReviewError::RatingOutOfRange { field: "delivery" })
        );
    }

    #[test]
    fn tags_are_known_deduplicated_and_bounded() {
        assert_eq!(ReviewDraft::parse(&input(5, 5, 5, &["nope"], "")), Err(ReviewError::UnknownTag));
        let d = ReviewDraft::parse(&input(5, 5, 5, &["key_worked", "key_worked"], "")).unwrap();
        assert_eq!(d.tags, vec![ReviewTag::KeyWorked]);
        let many = ["key_worked"; 7];
        assert_eq!(ReviewDraft::parse(&input(5, 5, 5, &many, "")), Err(ReviewError::TooManyTags));
    }

    #[test]
    fn text_is_bounded() {
        let long = "好".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(ReviewDraft::parse(&input(5, 5, 5, &[], &long)), Err(ReviewError::TextTooLong { field: "body" }));
        assert_eq!(parse_reply(" "), Err(ReviewError::EmptyReply));
        assert_eq!(parse_reply(&long), Err(ReviewError::TextTooLong { field: "reply" }));
    }

    #[test]
    fn reissue_tags_decide_and_complaints_outweigh_praise() {
        assert_eq!(reissue_verdict(&[ReviewTag::ReissueFast], "不给补"), 1, "the tag decides");
        assert_eq!(reissue_verdict(&[ReviewTag::ReissueFast, ReviewTag::ReissueCharged], ""), -1);
        assert_eq!(reissue_verdict(&[ReviewTag::KeyWorked], ""), 0);
    }

    #[test]
    fn untagged_text_is_read_for_reissue_mentions() {
        assert_eq!(reissue_verdict(&[], "卡密无效，找客服不给补，还把我拉黑了"), -1);
        assert_eq!(reissue_verdict(&[], "补单后 失联"), -1);
        assert_eq!(reissue_verdict(&[], "第一张没用，商家秒补"), 1);
        assert_eq!(reissue_verdict(&[], "很好用，下次再来"), 0);
        let d = ReviewDraft::parse(&input(1, 1, 1, &[], "不给补，拉黑")).unwrap();
        assert_eq!(d.reissue, -1);
    }
}
