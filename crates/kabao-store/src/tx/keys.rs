//! The keys aggregate's part of a transaction: card keys, stock, allocation, reveals and re-issue.

use crate::{Batch, CardKey, DeliveredKey, DeliveryAudit, KeyState, NewBatch, NewCardKey, Reveal, StoreResult};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::vault::Fingerprint;
use kabao_core::{BatchId, CardKeyId, ProductId, ShopId, Timestamp};

/// The goods themselves: card-key batches and keys with each product's stock counter, shared secrets and
/// counted stock, and the allocation, delivery, reveal and re-issue of keys to orders.
#[async_trait]
pub trait KeysTx: Send {
    // ---- card-key inventory ----
    /// Which of `fingerprints` the shop already holds (in any state: a voided key stays a duplicate).
    async fn existing_fingerprints(
        &mut self,
        shop: ShopId,
        fingerprints: &[Fingerprint],
    ) -> StoreResult<Vec<Fingerprint>>;
    async fn insert_batch(&mut self, batch: &NewBatch) -> StoreResult<BatchId>;
    /// Inserts keys as `available` and adds their number to the product's stock counter and to their batch's
    /// available count, in this transaction.
    /// Conflict `"card_keys.fingerprint"` if any fingerprint exists in the shop (the caller checked first;
    /// the UNIQUE constraint is the backstop). Must be fast: a million rows in a few seconds on SQLite.
    async fn insert_card_keys(&mut self, keys: &[NewCardKey]) -> StoreResult<()>;
    /// At most `limit` batches of a product, newest first, with an id below `before` (a keyset cursor; `None`:
    /// from the newest), each with its stored counts by state: a page costs the same whatever the batches hold.
    async fn list_batches(
        &mut self,
        product: ProductId,
        before: Option<BatchId>,
        limit: i64,
    ) -> StoreResult<Vec<Batch>>;
    async fn batch_by_id(&mut self, id: BatchId) -> StoreResult<Option<Batch>>;
    /// Marks every `available` key of the batch `voided`, sets the batch's `voided_at`, moves the voided keys
    /// from the batch's available count to its voided count, lowers the stock counter; returns how many keys were
    /// voided.
    async fn void_batch(&mut self, id: BatchId, now: Timestamp) -> StoreResult<u64>;
    /// Keys of a product, oldest first, optionally of one state.
    async fn list_card_keys(
        &mut self,
        product: ProductId,
        state: Option<KeyState>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<CardKey>>;
    async fn card_key_by_id(&mut self, id: CardKeyId) -> StoreResult<Option<CardKey>>;
    /// Exact count by scanning keys (for checks); pages read `Product::stock_available` instead.
    async fn count_card_keys(&mut self, product: ProductId, state: KeyState) -> StoreResult<i64>;
    /// A product's deliveries checked from the rows (for checks after load and kills, not for pages).
    async fn delivery_audit(&mut self, product: ProductId) -> StoreResult<DeliveryAudit>;

    // ---- shared secrets (循环卡密) and counted stock ----
    /// Sets a product's shared secret (sealed) and its stock count. NotFound if no such product.
    async fn set_shared_secret(
        &mut self,
        product: ProductId,
        ciphertext: &[u8],
        key_version: i32,
        stock: i64,
    ) -> StoreResult<()>;
    /// The sealed shared secret of a product and its key version, if one is set.
    async fn shared_secret(&mut self, product: ProductId) -> StoreResult<Option<(Vec<u8>, i32)>>;
    /// Takes `n` from the stock counter of a product sold by count (a shared secret that is set, or custom goods
    /// whose fields are set) if at least `n` remain; false (and no change) otherwise.
    async fn take_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<bool>;
    /// Gives `n` back to such a product's counter (an order refunded before delivery).
    async fn return_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<()>;

    // ---- allocation, delivery and re-issue ----
    /// Assigns `n` available keys of the product to the order, oldest first: marks them `sold`, links them in
    /// `order_keys` (UNIQUE on the key: a key can never be delivered twice), lowers the stock counter and moves
    /// the keys from their batches' available counts to their sold counts.
    /// Returns the keys' ids, or an empty vector and no change if fewer than `n` are available.
    /// SQLite runs it inside the single writer; PostgreSQL locks the chosen rows (`FOR UPDATE SKIP LOCKED`) and
    /// moves the counters at commit, or before any later statement of the transaction that reads or writes them.
    async fn allocate_keys(&mut self, product: ProductId, order: OrderId, n: i64) -> StoreResult<Vec<CardKeyId>>;
    /// The keys delivered with an order, in allocation order.
    async fn order_keys(&mut self, order: OrderId) -> StoreResult<Vec<DeliveredKey>>;
    /// Re-issues an item: voids its current key (the card key becomes `voided`, its `order_keys` row is
    /// stamped), delivers the product's oldest available key for the same item, lowers the stock counter and
    /// moves both keys in their batches' counts (the old one sold → voided, the new one available → sold).
    /// Returns the new key, or `None` and no change when no key is available. NotFound if the item has no live key.
    async fn reissue_key(
        &mut self,
        order: OrderId,
        item: i32,
        product: ProductId,
        at: Timestamp,
    ) -> StoreResult<Option<CardKeyId>>;
    /// Records one reveal and stamps `first_revealed_at` on the order's keys that have none.
    async fn record_reveal(&mut self, reveal: &Reveal) -> StoreResult<()>;
    async fn list_reveals(&mut self, order: OrderId) -> StoreResult<Vec<Reveal>>;
}

// Statements both backends run to keep each batch's stored counts (`key_batches.keys_*`) equal to its keys by
// state. Every transaction that changes them locks the keys it moves first, then the product's stock counter,
// then the batches: two transactions on one product meet on the product row before any batch row and cannot lock
// two batches in opposite orders, and none waits for a key while holding the product row. (PostgreSQL counts an
// allocation's keys off the counters at commit, so the product row, the hottest of a shop, is held only for the
// commit.)

/// `$1` keys added to batch `$2` as available.
pub(crate) const BATCH_KEYS_ADDED_SQL: &str =
    "UPDATE key_batches SET keys_available = keys_available + $1 WHERE id = $2";
/// `$1` keys of batch `$2` sold.
pub(crate) const BATCH_KEYS_SOLD_SQL: &str =
    "UPDATE key_batches SET keys_available = keys_available - $1, keys_sold = keys_sold + $1 WHERE id = $2";
/// Batch `$2` voided at `$1` (the first time is kept) with `$3` of its available keys.
pub(crate) const BATCH_VOIDED_SQL: &str = "UPDATE key_batches SET voided_at = COALESCE(voided_at, $1), \
     keys_available = keys_available - $3, keys_voided = keys_voided + $3 WHERE id = $2";
/// A re-issue: one key of batch `$1` sold, one sold key of batch `$2` voided (the same batch or two).
pub(crate) const BATCH_REISSUED_SQL: &str = "UPDATE key_batches SET \
     keys_available = keys_available - CASE WHEN id = $1 THEN 1 ELSE 0 END, \
     keys_sold = keys_sold + CASE WHEN id = $1 THEN 1 ELSE 0 END - CASE WHEN id = $2 THEN 1 ELSE 0 END, \
     keys_voided = keys_voided + CASE WHEN id = $2 THEN 1 ELSE 0 END \
     WHERE id IN ($1, $2)";
