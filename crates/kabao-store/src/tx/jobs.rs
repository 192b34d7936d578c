//! The jobs aggregate's part of a transaction: job leases and due-work queries.

use crate::{ClaimRecord, Order, Payment, StoreResult};
use async_trait::async_trait;
use kabao_core::Timestamp;

/// Background work: job leases (one runner per job across processes) and the queries that find due
/// work. The due-order queries have the exact shape of their partial indexes (see the migrations).
#[async_trait]
pub trait JobsTx: Send {
    // ---- leases ----
    /// Takes (or renews) the lease of a job until `until` if it is free, expired, or already `owner`'s.
    /// Returns whether `owner` now holds it (false for an unknown job).
    async fn acquire_job_lease(
        &mut self,
        job: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Gives the lease up (if `owner` holds it) and records the run.
    async fn release_job_lease(&mut self, job: &str, owner: &str, now: Timestamp) -> StoreResult<()>;

    // ---- due work ----
    /// Delivered orders whose `settle_after <= now` and that no unresolved claim holds, oldest first. An open
    /// claim without a deadline (`due_at` NULL: an extended-warranty claim, the insurance pool's) holds nothing.
    async fn orders_due_for_settlement(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>>;
    /// Pending orders whose `expires_at <= now`, oldest first.
    async fn orders_past_expiry(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>>;
    /// Paid (awaiting manual delivery) orders whose delivery deadline `<= now`, oldest deadline first.
    async fn orders_past_delivery_deadline(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>>;
    /// Open claims whose merchant deadline `<= now`, oldest deadline first.
    async fn claims_past_deadline(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// Rejected claims or claims whose remedy failed, decided at or before `decided_by`, not escalated and not yet
    /// reminded about escalation; oldest first.
    async fn claims_to_remind(&mut self, decided_by: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// A gateway's payments still pending, started at or before `started_by`, for orders still awaiting
    /// payment and not expired at `now`; by id, after `after_id`, at most `limit` (for reconciliation polling).
    async fn pending_order_payments(
        &mut self,
        gateway: &str,
        started_by: Timestamp,
        now: Timestamp,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Payment>>;
}
