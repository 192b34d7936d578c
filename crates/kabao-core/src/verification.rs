//! Third-party key verification (验货): the request Kabao sends a category's verifier, the answer it parses
//! (strictly: a malformed answer is no answer), and the pure decision of what an answer means for a claim.
//! The contract is written for outsiders in docs/VERIFIER.md; the signature is [`crate::signature`]'s.

use crate::warranty::{self, ClaimFacts, Eligibility, Ineligible, WarrantyPolicy};
use crate::{Lang, Timestamp};
use serde::{Deserialize, Serialize};

/// The largest answer body read from a verifier.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// The longest `detail` kept from an answer (characters); longer text is cut, not refused.
pub const MAX_DETAIL_CHARS: usize = 500;

/// What a verifier says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The key exists and has not been redeemed.
    Valid,
    /// The key has been redeemed (at `redeemed_at`, when the verifier knows).
    Redeemed,
    /// The key does not exist or was revoked by its issuer.
    Invalid,
    /// The verifier cannot tell (not its key, or not now).
    Unknown,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Valid, Status::Redeemed, Status::Invalid, Status::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Redeemed => "redeemed",
            Status::Invalid => "invalid",
            Status::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The status in words.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Status::Valid => lang.pick("有效，未被使用", "valid, not redeemed"),
            Status::Redeemed => lang.pick("已被使用", "redeemed"),
            Status::Invalid => lang.pick("无效", "invalid"),
            Status::Unknown => lang.pick("无法确认", "unknown"),
        }
    }
}

/// The body Kabao POSTs: `{"category", "product_code", "key"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request<'a> {
    /// The product's category (`game_card`, `software_license`, ...).
    pub category: &'a str,
    /// The product as Kabao knows it (its id, as text); a verifier may ignore it.
    pub product_code: &'a str,
    /// The key as imported (for `卡号----密码` keys, both parts joined by `----`).
    pub key: &'a str,
}

impl Request<'_> {
    /// The exact bytes sent (and signed).
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A verifier's answer, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: Status,
    /// When the key was redeemed (only with [`Status::Redeemed`]).
    pub redeemed_at: Option<Timestamp>,
    /// The verifier's own words, at most [`MAX_DETAIL_CHARS`] characters, control characters removed.
    pub detail: Option<String>,
}

/// Why an answer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer is over {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("the answer is not the contract's JSON: {0}")]
    Malformed(String),
    #[error("unknown status {0:?}")]
    Status(String),
    #[error("redeemed_at is given without status \"redeemed\"")]
    RedeemedAtWithoutRedeemed,
}

#[derive(Deserialize)]
struct Wire {
    status: String,
    #[serde(default)]
    redeemed_at: Option<i64>,
    #[serde(default)]
    detail: Option<String>,
}

/// Parses an answer body: `{"status": "valid"|"redeemed"|"invalid"|"unknown", "redeemed_at"?: <unix seconds>,
/// "detail"?: "<text>"}`. Unknown fields are ignored (a verifier may say more than the contract asks).
pub fn parse_answer(body: &[u8]) -> Result<Answer, AnswerError> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(AnswerError::TooLarge);
    }
    let wire: Wire = serde_json::from_slice(body).map_err(|e| AnswerError::Malformed(e.to_string()))?;
    let status = Status::parse(wire.status.trim()).ok_or_else(|| AnswerError::Status(wire.status.clone()))?;
    if wire.redeemed_at.is_some() && status != Status::Redeemed {
        return Err(AnswerError::RedeemedAtWithoutRedeemed);
    }
    let redeemed_at = wire.redeemed_at.map(|s| Timestamp::from_millis(s.saturating_mul(1000)));
    let detail = wire
        .detail
        .map(|d| d.chars().filter(|c| !c.is_control()).take(MAX_DETAIL_CHARS).collect::<String>())
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    Ok(Answer { status, redeemed_at, detail })
}

/// The answer body a verifier writes (the reference verifier uses it; the parser above reads it back).
pub fn answer_body(answer: &Answer) -> Vec<u8> {
    let mut v = serde_json::Map::new();
    v.insert("status".into(), answer.status.as_str().into());
    if let Some(at) = answer.redeemed_at {
        v.insert("redeemed_at".into(), at.millis().div_euclid(1000).into());
    }
    if let Some(d) = &answer.detail {
        v.insert("detail".into(), d.as_str().into());
    }
    serde_json::Value::Object(v).to_string().into_bytes()
}

/// What a verifier's answer means for a claim on a key delivered at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Finding {
    /// Invalid, or redeemed before it was delivered: the key was dead when sold. The claim is eligible.
    DefectConfirmed,
    /// Valid and not redeemed: shown to the merchant and the arbiter as evidence; eligibility is unchanged.
    KeyValid,
    /// Redeemed after delivery (by whoever held it then): evidence only.
    RedeemedAfterDelivery,
    /// Unknown, redeemed at an unknown time, or no answer (the verifier is down): no effect.
    NoFinding,
}

impl Finding {
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::DefectConfirmed => "defect_confirmed",
            Finding::KeyValid => "key_valid",
            Finding::RedeemedAfterDelivery => "redeemed_after_delivery",
            Finding::NoFinding => "no_finding",
        }
    }

    pub fn parse(s: &str) -> Option<Finding> {
        [Finding::DefectConfirmed, Finding::KeyValid, Finding::RedeemedAfterDelivery, Finding::NoFinding]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// The finding of `answer` (`None`: the verifier could not be reached) for a key delivered at `delivered_at`.
/// A redemption at the very instant of delivery counts as before it: the buyer cannot have used a key in the
/// millisecond it was handed over.
pub fn finding(answer: Option<&Answer>, delivered_at: Timestamp) -> Finding {
    let Some(a) = answer else { return Finding::NoFinding };
    match (a.status, a.redeemed_at) {
        (Status::Invalid, _) => Finding::DefectConfirmed,
        (Status::Redeemed, Some(at)) if at <= delivered_at => Finding::DefectConfirmed,
        (Status::Redeemed, Some(_)) => Finding::RedeemedAfterDelivery,
        (Status::Redeemed, None) | (Status::Unknown, _) => Finding::NoFinding,
        (Status::Valid, _) => Finding::KeyValid,
    }
}

/// Whether an import keeps a key the verifier answered on: a key already redeemed or invalid is refused;
/// valid, unknown or unanswered keys are kept (a verifier that is down never blocks the merchant).
pub fn refused_at_import(answer: Option<&Answer>) -> bool {
    answer.is_some_and(|a| matches!(a.status, Status::Redeemed | Status::Invalid))
}

/// A claim's eligibility with the verifier's finding. A confirmed defect is the independent proof the buyer's
/// evidence stands for, and a key dead before delivery cannot have been activated by the buyer: the
/// evidence and "not activated" requirements are met. The policy's other terms (a warranty at all, the defect
/// covered, the window, re-issues left) still apply. Any other finding leaves eligibility as the policy says.
pub fn eligibility(policy: Option<&WarrantyPolicy>, facts: &ClaimFacts, finding: Finding) -> Eligibility {
    let plain = warranty::eligibility(policy, facts);
    let (Finding::DefectConfirmed, Eligibility::Ineligible(reasons)) = (finding, &plain) else { return plain };
    let left: Vec<Ineligible> = reasons
        .iter()
        .filter(|r| !matches!(r, Ineligible::MissingEvidence(_) | Ineligible::Activated))
        .cloned()
        .collect();
    if !left.is_empty() {
        return Eligibility::Ineligible(left);
    }
    match warranty::remedy_allowed(policy, facts.reissues_so_far) {
        Some(allowed) => Eligibility::Eligible(allowed),
        None => plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warranty::{templates, Defect, EvidenceKind};
    use proptest::prelude::*;

    const DELIVERED: Timestamp = Timestamp(1_700_000_000_000);

    fn redeemed(at_s: i64) -> Answer {
        Answer { status: Status::Redeemed, redeemed_at: Some(Timestamp(at_s * 1000)), detail: None }
    }

    fn card() -> WarrantyPolicy {
        templates().into_iter().find(|t| t.id == "point_card_24h").unwrap().policy
    }

    fn facts_without_evidence() -> ClaimFacts {
        ClaimFacts {
            defect: Defect::AlreadyRedeemed,
            evidence: Default::default(),
            delivered_at: DELIVERED,
            filed_at: Timestamp(DELIVERED.0 + 3_600_000),
            reissues_so_far: 0,
            activated: true,
        }
    }

    #[test]
    fn answers_parse_strictly() {
        let a = parse_answer(br#"{"status":"redeemed","redeemed_at":1699999000,"detail":"used in\nshop","x":1}"#);
        assert_eq!(
            a,
            Ok(Answer {
                status: Status::Redeemed,
                redeemed_at: Some(Timestamp(1_699_999_000_000)),
                detail: Some("used inshop".into())
            })
        );
        assert_eq!(parse_answer(br#"{"status":"valid"}"#).map(|a| a.status), Ok(Status::Valid));
        assert_eq!(parse_answer(br#"{"status":"VALID"}"#), Err(AnswerError::Status("VALID".into())));
        assert_eq!(parse_answer(br#"{"status":"valid","redeemed_at":1}"#), Err(AnswerError::RedeemedAtWithoutRedeemed));
        assert!(matches!(parse_answer(b"<html>"), Err(AnswerError::Malformed(_))));
        assert!(matches!(
            parse_answer(br#"{"status":"redeemed","redeemed_at":"soon"}"#),
            Err(AnswerError::Malformed(_))
        ));
        assert_eq!(parse_answer(&vec![b' '; MAX_ANSWER_BYTES + 1]), Err(AnswerError::TooLarge));
        let long = format!(r#"{{"status":"unknown","detail":"{}"}}"#, "字".repeat(2000));
        assert_eq!(parse_answer(long.as_bytes()).ok().and_then(|a| a.detail).map(|d| d.chars().count()), Some(500));
    }

    #[test]
    fn what_an_answer_means_for_a_claim() {
        let delivered_s = DELIVERED.0 / 1000;
        assert_eq!(finding(Some(&redeemed(delivered_s - 60)), DELIVERED), Finding::DefectConfirmed);
        assert_eq!(finding(Some(&redeemed(delivered_s)), DELIVERED), Finding::DefectConfirmed);
        assert_eq!(finding(Some(&redeemed(delivered_s + 1)), DELIVERED), Finding::RedeemedAfterDelivery);
        let no_time = Answer { redeemed_at: None, ..redeemed(0) };
        assert_eq!(finding(Some(&no_time), DELIVERED), Finding::NoFinding);
        let of = |status| Answer { status, redeemed_at: None, detail: None };
        assert_eq!(finding(Some(&of(Status::Invalid)), DELIVERED), Finding::DefectConfirmed);
        assert_eq!(finding(Some(&of(Status::Valid)), DELIVERED), Finding::KeyValid);
        assert_eq!(finding(Some(&of(Status::Unknown)), DELIVERED), Finding::NoFinding);
        assert_eq!(finding(None, DELIVERED), Finding::NoFinding);
    }

    #[test]
    fn a_confirmed_defect_stands_for_the_evidence_but_not_for_the_policy() {
        let p = card();
        let facts = facts_without_evidence();
        assert!(matches!(warranty::eligibility(Some(&p), &facts), Eligibility::Ineligible(_)));
        assert!(matches!(eligibility(Some(&p), &facts, Finding::DefectConfirmed), Eligibility::Eligible(_)));
        for f in [Finding::KeyValid, Finding::RedeemedAfterDelivery, Finding::NoFinding] {
            assert_eq!(eligibility(Some(&p), &facts, f), warranty::eligibility(Some(&p), &facts), "{f:?}");
        }
        // The window still closes, and a product sold without a warranty still has none.
        let late = ClaimFacts { filed_at: Timestamp(DELIVERED.0 + 30 * 86_400_000), ..facts.clone() };
        assert!(matches!(
            eligibility(Some(&p), &late, Finding::DefectConfirmed),
            Eligibility::Ineligible(r) if r.iter().all(|r| matches!(r, Ineligible::WindowClosed { .. }))
        ));
        assert_eq!(
            eligibility(None, &facts, Finding::DefectConfirmed),
            Eligibility::Ineligible(vec![Ineligible::NoWarranty])
        );
        let with_evidence = ClaimFacts { evidence: [EvidenceKind::Screenshot].into(), activated: false, ..facts };
        assert_eq!(
            eligibility(Some(&p), &with_evidence, Finding::DefectConfirmed),
            warranty::eligibility(Some(&p), &with_evidence)
        );
    }

    #[test]
    fn import_refuses_only_redeemed_or_invalid_keys() {
        let of = |status| Answer { status, redeemed_at: None, detail: None };
        assert!(refused_at_import(Some(&of(Status::Redeemed))));
        assert!(refused_at_import(Some(&of(Status::Invalid))));
        assert!(!refused_at_import(Some(&of(Status::Valid))));
        assert!(!refused_at_import(Some(&of(Status::Unknown))));
        assert!(!refused_at_import(None));
    }

    #[test]
    fn the_request_body_is_the_contracts_json() {
        let r = Request { category: "game_card", product_code: "42", key: "AB\"C" };
        assert_eq!(r.body(), br#"{"category":"game_card","product_code":"42","key":"AB\"C"}"#.to_vec());
    }

    proptest! {
        #[test]
        fn a_written_answer_parses_back(status in proptest::sample::select(Status::ALL.to_vec()),
                                        at in proptest::option::of(-4_000_000_000i64..4_000_000_000),
                                        detail in proptest::option::of("[a-z0-9 \u{4e00}-\u{4e20}]{1,40}")) {
            let redeemed_at = at.filter(|_| status == Status::Redeemed).map(|s| Timestamp(s * 1000));
            let detail = detail.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
            let a = Answer { status, redeemed_at, detail };
            prop_assert_eq!(parse_answer(&answer_body(&a)), Ok(a));
        }

        #[test]
        fn no_answer_bytes_crash_the_parser(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_answer(&body);
        }

        #[test]
        fn a_finding_never_makes_an_eligible_claim_ineligible(activated: bool, hours in 0i64..100,
                                                              shot: bool, reissues in 0u32..3) {
            let p = card();
            let evidence = if shot { [EvidenceKind::Screenshot].into() } else { Default::default() };
            let facts = ClaimFacts {
                activated, evidence, reissues_so_far: reissues,
                filed_at: Timestamp(DELIVERED.0 + hours * 3_600_000),
                ..facts_without_evidence()
            };
            let plain = warranty::eligibility(Some(&p), &facts);
            for f in [Finding::DefectConfirmed, Finding::KeyValid, Finding::RedeemedAfterDelivery, Finding::NoFinding] {
                let with = eligibility(Some(&p), &facts, f);
                if matches!(plain, Eligibility::Eligible(_)) {
                    prop_assert_eq!(&with, &plain);
                }
            }
        }
    }
}
