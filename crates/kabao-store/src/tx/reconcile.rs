//! Reconciliation with the payment gateways: findings (what a gateway's record says that ours does not), the
//! payments to ask gateways about, and withdrawals paid by a gateway's transfer API.

use crate::{Payment, StoreResult, Withdrawal, WithdrawalState};
use async_trait::async_trait;
use kabao_core::{Money, Timestamp, UserId};

/// What a reconciliation finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// The gateway says paid, for another amount than ours: not applied.
    AmountMismatch,
    /// Paid here, but the gateway does not know the trade, or says it is unpaid or closed.
    UnknownTrade,
    /// Paid at the gateway, found by a query (the notification was lost) and applied: information.
    AppliedLate,
}

impl FindingKind {
    pub const ALL: [FindingKind; 3] =
        [FindingKind::AmountMismatch, FindingKind::UnknownTrade, FindingKind::AppliedLate];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::AmountMismatch => "amount_mismatch",
            FindingKind::UnknownTrade => "unknown_trade",
            FindingKind::AppliedLate => "applied_late",
        }
    }

    pub fn parse(s: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the finding needs someone to act (money differs between the books): all but an applied late
    /// payment, which is information for the day's report.
    pub fn is_error(self) -> bool {
        !matches!(self, FindingKind::AppliedLate)
    }
}

/// A finding to record.
#[derive(Debug, Clone)]
pub struct NewFinding<'a> {
    pub gateway: &'a str,
    pub trade_no: &'a str,
    pub gateway_trade_no: Option<&'a str>,
    pub kind: FindingKind,
    /// Our amount.
    pub expected: Money,
    /// The gateway's amount, when it reported one.
    pub got: Option<Money>,
    /// The payment's business day in China time (UTC+8), `YYYY-MM-DD`.
    pub business_date: &'a str,
    pub detail: &'a str,
    pub created_at: Timestamp,
}

/// A recorded finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: i64,
    pub gateway: String,
    pub trade_no: String,
    pub gateway_trade_no: Option<String>,
    pub kind: FindingKind,
    pub expected: Money,
    pub got: Option<Money>,
    pub business_date: String,
    pub detail: String,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub resolved_by: Option<UserId>,
    pub note: Option<String>,
}

/// A withdrawal whose transfer is queued, with the attempts made so far.
#[derive(Debug, Clone)]
pub struct TransferDue {
    pub withdrawal: Withdrawal,
    pub attempts: i32,
}

#[async_trait]
pub trait ReconcileTx: Send {
    // ---- findings ----
    /// Records a finding unless one of the same (gateway, trade, kind) exists; returns whether it was recorded.
    async fn insert_finding(&mut self, finding: &NewFinding<'_>) -> StoreResult<bool>;
    async fn finding_by_id(&mut self, id: i64) -> StoreResult<Option<Finding>>;
    /// Unresolved findings, newest first, with ids below `before_id` (keyset paging), at most `limit`.
    async fn list_open_findings(&mut self, before_id: Option<i64>, limit: i64) -> StoreResult<Vec<Finding>>;
    /// A business day's findings (resolved or not), by id after `after_id`, at most `limit`.
    async fn findings_of_date(&mut self, date: &str, after_id: i64, limit: i64) -> StoreResult<Vec<Finding>>;
    /// Compare-and-set: resolves an unresolved finding with a note; false if it is resolved already (or absent).
    async fn resolve_finding(&mut self, id: i64, by: UserId, note: &str, at: Timestamp) -> StoreResult<bool>;

    // ---- payments to ask about ----
    /// A gateway's payments still pending, created in `[created_from, started_by]`, that are top-ups or whose
    /// order awaits payment or has expired; by id after `after_id`, at most `limit` (the reconciliation job).
    async fn payments_to_reconcile(
        &mut self,
        gateway: &str,
        created_from: Timestamp,
        started_by: Timestamp,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Payment>>;
    /// A gateway's payments (any state) created in `[from, to)`, in (created_at, id) order after `after`, at
    /// most `limit` (`kabao reconcile --date`).
    async fn gateway_payments_created(
        &mut self,
        gateway: &str,
        from: Timestamp,
        to: Timestamp,
        after: (Timestamp, i64),
        limit: i64,
    ) -> StoreResult<Vec<Payment>>;

    // ---- withdrawal transfers ----
    /// Compare-and-set: queues the transfer of a pending withdrawal (due at `at`), recording who approved it;
    /// false if it is not pending or already queued.
    async fn queue_withdrawal_transfer(&mut self, id: i64, by: UserId, at: Timestamp) -> StoreResult<bool>;
    /// Queued transfers due at `now`, oldest due first, at most `limit`.
    async fn withdrawal_transfers_due(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<TransferDue>>;
    /// Compare-and-set on the attempt count: a queued transfer is asked again at `next_at`; false if another
    /// runner counted this attempt already or it is no longer queued.
    async fn postpone_withdrawal_transfer(
        &mut self,
        id: i64,
        attempts_seen: i32,
        next_at: Timestamp,
        error: &str,
    ) -> StoreResult<bool>;
    /// Compare-and-set queued → done (`Approved`, with the gateway's order id as `payout_ref`) or refused
    /// (`Rejected`, with the reason as the note); false if it was no longer queued.
    async fn finish_withdrawal_transfer(
        &mut self,
        id: i64,
        to: WithdrawalState,
        payout_ref: Option<&str>,
        note: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool>;
}
