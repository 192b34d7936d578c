//! The claims aggregate's part of a transaction: claims, evidence, disputes and the compensation fund.

use crate::{ClaimRecord, DisputeRecord, EvidenceRecord, LedgerEntry, Statement, StoreResult};
use async_trait::async_trait;
use kabao_core::claim::ClaimState;
use kabao_core::ledger::OrderId;
use kabao_core::{Money, ShopId, Timestamp, UserId};

/// A position in a shop's claim queue: a claim's deadline (`i64::MAX` while paused) and id, in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueueKey {
    /// The deadline in milliseconds, or `i64::MAX` for a paused claim (they come last).
    pub due: i64,
    pub id: i64,
}

impl QueueKey {
    /// Before every claim: the first page.
    pub const START: QueueKey = QueueKey { due: i64::MIN, id: 0 };

    /// Where a claim stands in the queue.
    pub fn of(c: &ClaimRecord) -> QueueKey {
        QueueKey { due: c.due_at.map_or(i64::MAX, |d| d.millis()), id: c.id }
    }
}

/// A page of a shop's claim queue after `($2, $3)` (a [`QueueKey`]), `$4` at most, on both backends: one range of
/// migration 0039's index. The first bound on the key lets the index seek to the page (a row-value bound alone is
/// only a filter to SQLite).
pub(crate) static QUEUE_PAGE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {cols} FROM claims WHERE shop_id = $1 AND state IN ('open', 'awaiting_evidence') \
         AND {key} >= $2 AND ({key}, id) > ($2, $3) ORDER BY {key}, id LIMIT $4",
        cols = crate::rows::CLAIM_COLS,
        key = "COALESCE(due_at, 9223372036854775807)",
    )
});

/// After-sales: buyers' claims (售后 / 补单申请) with their evidence, the disputes (平台介入) they escalate
/// to, and the compensation fund that advances refunds.
#[async_trait]
pub trait ClaimsTx: Send {
    // ---- claims ----
    /// Inserts a claim (its `id` is ignored) and returns its id. Conflict `"claims.claim_no"`.
    async fn insert_claim(&mut self, claim: &ClaimRecord) -> StoreResult<i64>;
    async fn claim_by_no(&mut self, claim_no: &str) -> StoreResult<Option<ClaimRecord>>;
    /// An order's claims, oldest first.
    async fn order_claims(&mut self, order: OrderId) -> StoreResult<Vec<ClaimRecord>>;
    /// Up to `limit` of a shop's claims waiting for the merchant (open or awaiting evidence) that come after
    /// `after` in the queue's order: nearest deadline first, paused deadlines last, then by id. One range of
    /// migration 0039's index, so a page costs the same however long the queue or the shop's history.
    async fn shop_pending_claims(&mut self, shop: ShopId, after: QueueKey, limit: i64)
        -> StoreResult<Vec<ClaimRecord>>;
    /// A shop's claims in any state, newest first.
    async fn shop_claims(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// Compare-and-set: writes the claim's state, deadline, request and decision fields, and its eligibility
    /// with reasons (re-evaluated when the buyer adds evidence), if its state is still `from`; false (and no
    /// change) otherwise.
    async fn update_claim(&mut self, claim: &ClaimRecord, from: ClaimState) -> StoreResult<bool>;
    /// Stamps that the buyer was reminded about escalating a claim.
    async fn mark_escalation_reminded(&mut self, claim: i64, at: Timestamp) -> StoreResult<()>;

    // ---- evidence ----
    /// Stores a file under its SHA-256 (the caller hashed it), unless that content is stored already.
    async fn put_evidence_file(&mut self, sha256: &[u8], mime: &str, content: &[u8], at: Timestamp) -> StoreResult<()>;
    /// A stored file's type and content.
    async fn evidence_file(&mut self, sha256: &[u8]) -> StoreResult<Option<(String, Vec<u8>)>>;
    /// Adds a piece of evidence to a claim (its `id`, `mime` and `size_bytes` are ignored: the file is stored
    /// first with [`ClaimsTx::put_evidence_file`]).
    async fn insert_claim_evidence(&mut self, evidence: &EvidenceRecord) -> StoreResult<i64>;
    /// A claim's evidence, oldest first.
    async fn claim_evidence(&mut self, claim: i64) -> StoreResult<Vec<EvidenceRecord>>;

    // ---- disputes (平台介入) ----
    /// Opens the dispute of a claim. Conflict `"disputes.claim"` if the claim was escalated before.
    async fn insert_dispute(&mut self, claim: &ClaimRecord, at: Timestamp) -> StoreResult<i64>;
    async fn dispute_of_claim(&mut self, claim: i64) -> StoreResult<Option<DisputeRecord>>;
    /// Open disputes, oldest first.
    async fn open_disputes(&mut self, limit: i64) -> StoreResult<Vec<DisputeRecord>>;
    /// Recently decided disputes, newest first.
    async fn decided_disputes(&mut self, limit: i64) -> StoreResult<Vec<DisputeRecord>>;
    /// Compare-and-set open → decided with the ruling; false if it was decided already.
    async fn decide_dispute(
        &mut self,
        id: i64,
        ruling: &str,
        refund: Option<Money>,
        reason: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<bool>;
    async fn insert_statement(&mut self, dispute: i64, statement: &Statement) -> StoreResult<()>;
    /// A dispute's statements, oldest first.
    async fn dispute_statements(&mut self, dispute: i64) -> StoreResult<Vec<Statement>>;

    // ---- the compensation fund ----
    /// Records a shop's joining the fund; Conflict `"fund_members.shop"` if it is a member already.
    async fn insert_fund_member(&mut self, shop: ShopId, at: Timestamp) -> StoreResult<()>;
    async fn fund_member_since(&mut self, shop: ShopId) -> StoreResult<Option<Timestamp>>;
    async fn count_fund_members(&mut self) -> StoreResult<i64>;
    /// Every shop's `FundReceivable` balance (negative: what it owes the fund), read by key range, not by scan.
    async fn fund_receivables(&mut self) -> StoreResult<Vec<(ShopId, Money)>>;
    /// The fund's advances (debits of `FundReceivable` accounts), newest first.
    async fn fund_advances(&mut self, limit: i64) -> StoreResult<Vec<LedgerEntry>>;
}
