//! The idempotency aggregate's part of a transaction: idempotency records.

use crate::{IdempotencyRecord, NewIdempotency, StoreResult, StoredResponse};
use async_trait::async_trait;
use kabao_core::Timestamp;

/// Idempotent API requests: one record per caller scope and `Idempotency-Key`, leased to the request
/// that runs it and completed in the transaction of its effect.
#[async_trait]
pub trait IdempotencyTx: Send {
    /// The record of a key within a scope, running or done.
    async fn idempotency_record(&mut self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>>;
    /// Reserves a key for a request about to run. Conflict `"idempotency.key"` if the scope holds the key.
    async fn idempotency_reserve(&mut self, new: &NewIdempotency<'_>) -> StoreResult<()>;
    /// Hands a running record whose lease ended before `now` to `runner` until `lease_until`; false if the
    /// record is done, still leased, or gone.
    async fn idempotency_take_over(
        &mut self,
        scope: &str,
        key: &str,
        runner: &[u8],
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Stores the response of `runner`'s request, in the transaction of its effect; false if the record is done
    /// or no longer this runner's (taken over), and then the caller must not commit its effect.
    async fn idempotency_complete(
        &mut self,
        scope: &str,
        key: &str,
        runner: &[u8],
        response: &StoredResponse,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Deletes `runner`'s running record (its request failed and changed nothing); false if it was not.
    async fn idempotency_release(&mut self, scope: &str, key: &str, runner: &[u8]) -> StoreResult<bool>;
    /// Deletes at most `limit` records created before `before` (the retention); returns how many.
    async fn idempotency_purge(&mut self, before: Timestamp, limit: i64) -> StoreResult<u64>;
}
