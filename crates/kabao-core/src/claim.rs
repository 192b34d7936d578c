//! Claims (售后 / 补单申请): the state machine of one claim on one delivered item, its merchant deadline (paused
//! while the buyer is asked for more evidence), what the remedy does given the stock, and when a buyer may
//! escalate to the platform. Pure rules; the server persists what they decide.

use crate::i18n::{Lang, Localized};
use crate::time::Timestamp;
use crate::warranty::Allowed;
use serde::{Deserialize, Serialize};

/// Who added a piece of evidence to a claim, or a statement to its dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceParty {
    Buyer,
    Merchant,
    Arbiter,
}

impl EvidenceParty {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceParty::Buyer => "buyer",
            EvidenceParty::Merchant => "merchant",
            EvidenceParty::Arbiter => "arbiter",
        }
    }

    pub fn parse(s: &str) -> Option<EvidenceParty> {
        [EvidenceParty::Buyer, EvidenceParty::Merchant, EvidenceParty::Arbiter].into_iter().find(|p| p.as_str() == s)
    }
}

/// Where a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// Waiting for the merchant, with a deadline.
    Open,
    /// The merchant asked (once) for more evidence; the deadline is paused until the buyer answers.
    AwaitingEvidence,
    /// A fresh key was delivered and the reported one voided.
    Reissued,
    /// The item's price went back to the buyer.
    Refunded,
    /// The merchant rejected it, with a reason; the buyer may escalate.
    Rejected,
    /// The remedy could not run (no stock and no refund allowed); the buyer may escalate.
    RemedyFailed,
    /// Taken to the platform (平台介入).
    Escalated,
}

impl ClaimState {
    pub const ALL: [ClaimState; 7] = [
        ClaimState::Open,
        ClaimState::AwaitingEvidence,
        ClaimState::Reissued,
        ClaimState::Refunded,
        ClaimState::Rejected,
        ClaimState::RemedyFailed,
        ClaimState::Escalated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimState::Open => "open",
            ClaimState::AwaitingEvidence => "awaiting_evidence",
            ClaimState::Reissued => "reissued",
            ClaimState::Refunded => "refunded",
            ClaimState::Rejected => "rejected",
            ClaimState::RemedyFailed => "remedy_failed",
            ClaimState::Escalated => "escalated",
        }
    }

    pub fn parse(s: &str) -> Option<ClaimState> {
        ClaimState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// While a claim is unresolved, the item's escrow is held back from settlement.
    pub fn holds_escrow(self) -> bool {
        matches!(self, ClaimState::Open | ClaimState::AwaitingEvidence | ClaimState::Escalated)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            ClaimState::Open => lang.pick("待商家处理", "Waiting for the merchant"),
            ClaimState::AwaitingEvidence => lang.pick("商家要求补充证据", "The merchant asked for more evidence"),
            ClaimState::Reissued => lang.pick("已补发", "Re-issued"),
            ClaimState::Refunded => lang.pick("已退款", "Refunded"),
            ClaimState::Rejected => lang.pick("商家已拒绝", "Rejected by the merchant"),
            ClaimState::RemedyFailed => lang.pick("无法补发或退款", "The remedy could not run"),
            ClaimState::Escalated => lang.pick("平台介入中", "With the platform"),
        }
    }
}

/// The merchant's deadline: running until `due`, or paused with what was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    Running { due: Timestamp },
    Paused { remaining_ms: i64 },
}

impl Deadline {
    pub fn start(now: Timestamp, response_hours: u32) -> Deadline {
        Deadline::Running { due: Timestamp(now.0.saturating_add(i64::from(response_hours) * 3_600_000)) }
    }

    /// Passed: silence from here runs the remedy. A paused deadline never passes.
    pub fn passed(self, now: Timestamp) -> bool {
        matches!(self, Deadline::Running { due } if now >= due)
    }
}

/// What the merchant decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the policy's remedy.
    Approve,
    /// A reason is required.
    Reject { reason: String },
    /// Once per claim; pauses the deadline.
    AskForEvidence { note: String },
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("claim is {0:?}")]
    Closed(ClaimState),
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error("more evidence may be asked for only once")]
    AlreadyAsked,
    #[error("the claim is not waiting for evidence")]
    NotAwaitingEvidence,
    #[error("the escalation window has closed")]
    EscalationClosed,
    #[error("only a rejected claim or a failed remedy can be escalated")]
    NotEscalatable,
}

impl Localized for ClaimError {
    fn code(&self) -> &'static str {
        match self {
            ClaimError::Closed(_) => "claim.closed",
            ClaimError::ReasonRequired => "claim.reason_required",
            ClaimError::AlreadyAsked => "claim.evidence_already_requested",
            ClaimError::NotAwaitingEvidence => "claim.not_awaiting_evidence",
            ClaimError::EscalationClosed => "claim.escalation_closed",
            ClaimError::NotEscalatable => "claim.not_escalatable",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            ClaimError::ReasonRequired => Some("reason"),
            _ => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (ClaimError::Closed(s), Lang::Zh) => format!("该售后申请已是「{}」，不能再处理", s.label(lang)),
            (ClaimError::Closed(s), Lang::En) => format!("This claim is already: {}", s.label(lang)),
            (ClaimError::ReasonRequired, _) => {
                lang.pick("拒绝售后申请必须写明理由", "A rejection needs a written reason").into()
            }
            (ClaimError::AlreadyAsked, _) => {
                lang.pick("每个售后申请只能要求补充一次证据", "More evidence may be asked for only once").into()
            }
            (ClaimError::NotAwaitingEvidence, _) => {
                lang.pick("该售后申请没有在等待补充证据", "This claim is not waiting for evidence").into()
            }
            (ClaimError::EscalationClosed, _) => {
                lang.pick("申请平台介入的期限已过", "The time to ask the platform to step in has passed").into()
            }
            (ClaimError::NotEscalatable, _) => lang
                .pick(
                    "只有被拒绝或无法执行的售后申请可以申请平台介入",
                    "Only a rejected claim or one whose remedy failed can go to the platform",
                )
                .into(),
        }
    }
}

/// A claim's mutable facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub state: ClaimState,
    pub deadline: Deadline,
    pub evidence_requested: bool,
    /// When the merchant (or the silence job) decided; escalation is counted from here.
    pub decided_at: Option<Timestamp>,
}

/// What running the remedy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemedyAction {
    Reissue,
    Refund,
    /// Nothing can be done under the policy (re-issue only, and no stock): the buyer may escalate.
    Fail,
}

/// The remedy the policy allows, given whether a key is in stock.
pub fn remedy_action(allowed: Allowed, stock_available: bool) -> RemedyAction {
    match allowed {
        Allowed::Reissue { .. } if stock_available => RemedyAction::Reissue,
        Allowed::Reissue { refund_fallback: true } | Allowed::Refund => RemedyAction::Refund,
        Allowed::Reissue { refund_fallback: false } => RemedyAction::Fail,
    }
}

/// The claim's state once a remedy ran.
pub fn after_remedy(action: RemedyAction) -> ClaimState {
    match action {
        RemedyAction::Reissue => ClaimState::Reissued,
        RemedyAction::Refund => ClaimState::Refunded,
        RemedyAction::Fail => ClaimState::RemedyFailed,
    }
}

fn require_pending(c: &Claim) -> Result<(), ClaimError> {
    match c.state {
        ClaimState::Open | ClaimState::AwaitingEvidence => Ok(()),
        s => Err(ClaimError::Closed(s)),
    }
}

/// The merchant decides. `Ok(None)` for approval means the caller runs the remedy and then records
/// [`after_remedy`]; the other decisions give the new claim directly.
pub fn decide(c: &Claim, decision: &Decision, now: Timestamp) -> Result<Option<Claim>, ClaimError> {
    require_pending(c)?;
    match decision {
        Decision::Approve => Ok(None),
        Decision::Reject { reason } => {
            if reason.trim().is_empty() {
                return Err(ClaimError::ReasonRequired);
            }
            Ok(Some(Claim { state: ClaimState::Rejected, decided_at: Some(now), ..*c }))
        }
        Decision::AskForEvidence { .. } => {
            if c.evidence_requested {
                return Err(ClaimError::AlreadyAsked);
            }
            let remaining_ms = match c.deadline {
                Deadline::Running { due } => (due.0 - now.0).max(0),
                Deadline::Paused { remaining_ms } => remaining_ms,
            };
            Ok(Some(Claim {
                state: ClaimState::AwaitingEvidence,
                deadline: Deadline::Paused { remaining_ms },
                evidence_requested: true,
                ..*c
            }))
        }
    }
}

/// The buyer answered the request for evidence: the deadline runs again with what was left.
pub fn on_more_evidence(c: &Claim, now: Timestamp) -> Result<Claim, ClaimError> {
    match (c.state, c.deadline) {
        (ClaimState::AwaitingEvidence, Deadline::Paused { remaining_ms }) => Ok(Claim {
            state: ClaimState::Open,
            deadline: Deadline::Running { due: Timestamp(now.0.saturating_add(remaining_ms)) },
            ..*c
        }),
        _ => Err(ClaimError::NotAwaitingEvidence),
    }
}

/// Whether the merchant's silence now runs the remedy.
pub fn silence_runs_remedy(c: &Claim, now: Timestamp) -> bool {
    c.state == ClaimState::Open && c.deadline.passed(now)
}

/// The buyer takes a rejected claim (or one whose remedy failed) to the platform within `window_days` of the
/// decision.
pub fn escalate(c: &Claim, now: Timestamp, window_days: u32) -> Result<Claim, ClaimError> {
    if !matches!(c.state, ClaimState::Rejected | ClaimState::RemedyFailed) {
        return Err(ClaimError::NotEscalatable);
    }
    let decided = c.decided_at.unwrap_or(now);
    if now.0 > decided.0.saturating_add(i64::from(window_days) * 86_400_000) {
        return Err(ClaimError::EscalationClosed);
    }
    Ok(Claim { state: ClaimState::Escalated, ..*c })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = Timestamp(1_700_000_000_000);
    const HOUR: i64 = 3_600_000;

    fn open() -> Claim {
        Claim { state: ClaimState::Open, deadline: Deadline::start(T, 12), evidence_requested: false, decided_at: None }
    }

    #[test]
    fn the_remedy_follows_the_policy_and_the_stock() {
        let both = Allowed::Reissue { refund_fallback: true };
        let only = Allowed::Reissue { refund_fallback: false };
        assert_eq!(remedy_action(both, true), RemedyAction::Reissue);
        assert_eq!(remedy_action(both, false), RemedyAction::Refund);
        assert_eq!(remedy_action(only, true), RemedyAction::Reissue);
        assert_eq!(remedy_action(only, false), RemedyAction::Fail);
        assert_eq!(remedy_action(Allowed::Refund, true), RemedyAction::Refund);
        assert_eq!(after_remedy(RemedyAction::Fail), ClaimState::RemedyFailed);
    }

    #[test]
    fn asking_for_evidence_pauses_the_deadline_once() {
        let c = open();
        let asked =
            decide(&c, &Decision::AskForEvidence { note: "录屏".into() }, Timestamp(T.0 + 2 * HOUR)).unwrap().unwrap();
        assert_eq!(asked.state, ClaimState::AwaitingEvidence);
        assert_eq!(asked.deadline, Deadline::Paused { remaining_ms: 10 * HOUR });
        assert!(!silence_runs_remedy(&asked, Timestamp(T.0 + 100 * HOUR)), "a paused deadline never passes");
        // The buyer answers two days later: ten hours left from then.
        let back = on_more_evidence(&asked, Timestamp(T.0 + 48 * HOUR)).unwrap();
        assert_eq!(back.deadline, Deadline::Running { due: Timestamp(T.0 + 58 * HOUR) });
        assert_eq!(decide(&back, &Decision::AskForEvidence { note: String::new() }, T), Err(ClaimError::AlreadyAsked));
        assert_eq!(on_more_evidence(&back, T), Err(ClaimError::NotAwaitingEvidence));
        assert!(!silence_runs_remedy(&back, Timestamp(T.0 + 58 * HOUR - 1)));
        assert!(silence_runs_remedy(&back, Timestamp(T.0 + 58 * HOUR)));
    }

    #[test]
    fn rejections_need_a_reason_and_closed_claims_take_no_decision() {
        let c = open();
        assert_eq!(decide(&c, &Decision::Reject { reason: "  ".into() }, T), Err(ClaimError::ReasonRequired));
        let rejected = decide(&c, &Decision::Reject { reason: "卡密已被使用过".into() }, T).unwrap().unwrap();
        assert_eq!((rejected.state, rejected.decided_at), (ClaimState::Rejected, Some(T)));
        for d in [Decision::Approve, Decision::Reject { reason: "x".into() }] {
            assert_eq!(decide(&rejected, &d, T), Err(ClaimError::Closed(ClaimState::Rejected)));
        }
        assert_eq!(decide(&c, &Decision::Approve, T), Ok(None), "approval: the caller runs the remedy");
        assert!(!silence_runs_remedy(&rejected, Timestamp(T.0 + 1_000 * HOUR)));
    }

    #[test]
    fn escalation_is_for_rejected_or_failed_claims_within_the_window() {
        let rejected = Claim { state: ClaimState::Rejected, decided_at: Some(T), ..open() };
        assert_eq!(escalate(&rejected, Timestamp(T.0 + 7 * 24 * HOUR), 7).unwrap().state, ClaimState::Escalated);
        assert_eq!(escalate(&rejected, Timestamp(T.0 + 7 * 24 * HOUR + 1), 7), Err(ClaimError::EscalationClosed));
        let failed = Claim { state: ClaimState::RemedyFailed, decided_at: Some(T), ..open() };
        assert!(escalate(&failed, T, 7).is_ok());
        for s in [ClaimState::Open, ClaimState::Reissued, ClaimState::Refunded, ClaimState::Escalated] {
            assert_eq!(escalate(&Claim { state: s, ..open() }, T, 7), Err(ClaimError::NotEscalatable));
        }
        for s in ClaimState::ALL {
            assert_eq!(ClaimState::parse(s.as_str()), Some(s));
            assert_eq!(
                s.holds_escrow(),
                matches!(s, ClaimState::Open | ClaimState::AwaitingEvidence | ClaimState::Escalated)
            );
        }
        for e in [ClaimError::Closed(ClaimState::Refunded), ClaimError::ReasonRequired, ClaimError::EscalationClosed] {
            assert!(!e.message(Lang::Zh).is_empty() && !e.message(Lang::En).is_empty());
        }
    }
}
