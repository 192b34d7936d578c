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
