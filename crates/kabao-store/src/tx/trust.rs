//! The trust aggregate's part of a transaction: reviews, trust and abuse figures, order chat and risk events.

use crate::{ChatMessage, ChatParty, ClaimRecord, ReviewRecord, RiskEvent, ShopTrustFacts, StoreResult};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::signals::Facts;
use kabao_core::{ProductId, ShopId, Timestamp, UserId};

/// What buyers and the platform learn about shops and buyers: reviews, the figures behind trust scores
/// and abuse signals, the order chat that risk rules watch, and risk events.
#[async_trait]
pub trait TrustTx: Send {
    // ---- reviews ----
    /// Stores a review; Conflict `"reviews.order"` if the order has one.
    async fn insert_review(&mut self, review: &ReviewRecord) -> StoreResult<i64>;
    async fn review_of_order(&mut self, order: OrderId) -> StoreResult<Option<ReviewRecord>>;
    async fn review_by_id(&mut self, id: i64) -> StoreResult<Option<ReviewRecord>>;
    /// A shop's reviews, newest first.
    async fn shop_reviews(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ReviewRecord>>;
    /// A product's reviews, newest first.
    async fn product_reviews(&mut self, product: ProductId, limit: i64) -> StoreResult<Vec<ReviewRecord>>;
    /// Writes the merchant's one reply; false (and no change) if the review has a reply already.
    async fn set_review_reply(&mut self, review: i64, reply: &str, at: Timestamp) -> StoreResult<bool>;

    // ---- trust and abuse figures ----
    /// The aggregates a shop's trust score needs: everything since `since`, recent disputes since `recent`.
    async fn shop_trust_facts(
        &mut self,
        shop: ShopId,
        since: Timestamp,
        recent: Timestamp,
    ) -> StoreResult<ShopTrustFacts>;
    /// The numbers behind the abuse signals of a claim; category figures since `since`.
    async fn buyer_facts(&mut self, claim: &ClaimRecord, since: Timestamp) -> StoreResult<Facts>;
    /// A shop's trust facts as last stored (the app's JSON) and when they were computed; `None` when there are
    /// none, or a review, claim, dispute or risk event of the shop has come since (migration 0035's triggers).
    async fn stored_trust_facts(&mut self, shop: ShopId) -> StoreResult<Option<(String, Timestamp)>>;
    /// The version of a shop's stored facts (0 without a row): read it in the snapshot the facts are computed
    /// from, and give it to [`TrustTx::save_trust_facts`].
    async fn trust_facts_version(&mut self, shop: ShopId) -> StoreResult<i64>;
    /// Stores a shop's trust facts computed at `at` from a snapshot that saw `seen_version`; false (and nothing
    /// stored) if an event has marked the row stale since.
    async fn save_trust_facts(
        &mut self,
        shop: ShopId,
        facts: &str,
        at: Timestamp,
        seen_version: i64,
    ) -> StoreResult<bool>;
    /// Up to `limit` shops whose stored facts are missing, stale or computed before `before`: those without any
    /// first, then the oldest (stale ones are the oldest).
    async fn shops_due_trust_facts(&mut self, before: Timestamp, limit: i64) -> StoreResult<Vec<ShopId>>;

    // ---- order chat ----
    async fn insert_chat_message(&mut self, message: &ChatMessage) -> StoreResult<i64>;
    /// An order's chat, oldest first.
    async fn order_chat(&mut self, order: OrderId, limit: i64) -> StoreResult<Vec<ChatMessage>>;
    /// One chat message by its id (the message a risk event points to).
    async fn chat_message(&mut self, id: i64) -> StoreResult<Option<ChatMessage>>;
    /// Messages one party sent on an order since `since` (for flood limits).
    async fn count_chat_messages_since(
        &mut self,
        order: OrderId,
        sender: ChatParty,
        since: Timestamp,
    ) -> StoreResult<i64>;

    // ---- risk events ----
    async fn insert_risk_event(&mut self, event: &RiskEvent) -> StoreResult<i64>;
    /// A shop's risk events, newest first.
    async fn shop_risk_events(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<RiskEvent>>;
    /// Shops with at least `min_open` open risk events, or an open `listing.*` event (a held listing waits on the
    /// admin), most first: the admin's review queue.
    async fn risk_review_queue(&mut self, min_open: i64, limit: i64) -> StoreResult<Vec<(ShopId, i64)>>;
    /// Marks every open event of a shop confirmed or dismissed; returns how many.
    async fn review_risk_events(
        &mut self,
        shop: ShopId,
        state: &str,
        note: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<u64>;
}

/// The stored trust facts' statements, the same on both backends.
pub(crate) mod sql {
    pub const STORED: &str = "SELECT facts, computed_at FROM shop_trust_facts WHERE shop_id = $1 AND computed_at >= 0";
    pub const VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM shop_trust_facts WHERE shop_id = $1";
    /// A first save (version 0 seen: no row then); if an event has made a row since, it stays.
    pub const INSERT: &str =
        "INSERT INTO shop_trust_facts (shop_id, facts, computed_at, version) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (shop_id) DO NOTHING";
    pub const UPDATE: &str =
        "UPDATE shop_trust_facts SET facts = $2, computed_at = $3 WHERE shop_id = $1 AND version = $4";
    /// Shops never computed (no row, in the shops' key order), then rows stale or older than `$1`, oldest first.
    pub const DUE: &str = "SELECT id FROM (\
         SELECT * FROM (SELECT s.id, 0 AS k, 0 AS at FROM shops s \
             WHERE NOT EXISTS (SELECT 1 FROM shop_trust_facts f WHERE f.shop_id = s.id) ORDER BY s.id LIMIT $2) a \
         UNION ALL \
         SELECT * FROM (SELECT shop_id, 1, computed_at FROM shop_trust_facts WHERE computed_at < $1 \
             ORDER BY computed_at LIMIT $2) b) due ORDER BY k, at, id LIMIT $2";
}
