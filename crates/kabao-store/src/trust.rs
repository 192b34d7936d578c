//! What trust and risk persist: reviews, certification applications, order chat, risk events, and the aggregates
//! the trust score and buyer-abuse signals are computed from (the rules themselves live in `kabao-core`).

use kabao_core::catalog::{Category, CertificationLevel};
use kabao_core::ledger::OrderId;
use kabao_core::{ProductId, ShopId, Timestamp, UserId};

/// A review (评价) of a delivered order by its buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub id: i64,
    pub order_id: OrderId,
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub buyer_id: UserId,
    /// The product's category when reviewed (category averages are per category).
    pub category: Category,
    /// 描述相符, 1–5.
    pub described: i32,
    /// 服务态度, 1–5.
    pub service: i32,
    /// 发货速度, 1–5.
    pub delivery: i32,
    /// Tag codes, as a JSON array.
    pub tags_json: String,
    pub body: String,
    /// The review's verdict on re-issue: +1 praised, −1 complained (by tag or in the text), 0 silent.
    pub reissue: i32,
    pub reply: Option<String>,
    pub replied_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A merchant's application for a certification level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificationApplication {
    pub id: i64,
    pub shop_id: ShopId,
    pub level: CertificationLevel,
    /// The details the level needs (names, contact), as JSON.
    pub details_json: String,
    /// The id number with all but its first and last digits hidden.
    pub id_masked: String,
    /// Keyed fingerprint of the id number: equal for the same person or company.
    pub id_fingerprint: Vec<u8>,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatParty {
    Buyer,
    Merchant,
    Arbiter,
}

impl ChatParty {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatParty::Buyer => "buyer",
            ChatParty::Merchant => "merchant",
            ChatParty::Arbiter => "arbiter",
        }
    }
    pub fn parse(s: &str) -> Option<ChatParty> {
        [ChatParty::Buyer, ChatParty::Merchant, ChatParty::Arbiter].into_iter().find(|p| p.as_str() == s)
    }
}

/// One message of an order's chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: i64,
    pub order_id: OrderId,
    pub sender: ChatParty,
    /// The account that wrote it; `None` for a guest buyer.
    pub sender_id: Option<UserId>,
    pub body: String,
    /// The risk scanner's hits, as JSON (`[]` when harmless).
    pub hits_json: String,
    pub created_at: Timestamp,
}

/// A risk event charged to a message's sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskEvent {
    pub id: i64,
    /// What raised it, e.g. `chat`.
    pub kind: String,
    /// The shop the sender spoke for, if a merchant.
    pub shop_id: Option<ShopId>,
    pub user_id: Option<UserId>,
    pub order_id: Option<OrderId>,
    pub message_id: Option<i64>,
    /// The rules that matched, as JSON.
    pub rules_json: String,
    /// `open` until an admin `confirmed` or `dismissed` it.
    pub state: String,
    pub review_note: Option<String>,
    pub reviewed_by: Option<UserId>,
    pub reviewed_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// Sums of one category's (or one shop's, within a category) ratings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RatingSums {
    pub category: String,
    pub described: i64,
    pub service: i64,
    pub delivery: i64,
    pub count: i64,
}

/// The numbers a shop's trust score is computed from, read in one transaction: aggregates only, so reading them
/// costs the same however many claims the shop has. Stored as JSON in `shop_trust_facts` (what pages score from).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ShopTrustFacts {
    /// The shop's ratings since the window start, per category.
    pub ratings: Vec<RatingSums>,
    /// Every shop's ratings since the window start, per category (the 行业均值).
    pub category_ratings: Vec<RatingSums>,
    /// Claims decided since the window start.
    pub claims_decided: i64,
    /// Of those, remedied (re-issued or refunded, by the merchant, the rules or an arbiter).
    pub claims_remedied: i64,
    /// The median of the milliseconds from filing to decision of the decided claims the merchant handled
    /// (automatic re-issues left out: they say nothing of the merchant's responsiveness): the upper one of an
    /// even count. `None` without such claims.
    pub median_response_ms: Option<i64>,
    /// How many claims that median is taken over.
    pub response_samples: i64,
    /// The category average (行业均值) of the same figure: the mean over every shop's merchant-handled claims
    /// decided since the window start, in the categories this shop has products in; `None` without such claims.
    /// A mean, not a median: one aggregate row per read on both backends, and it leans toward the slow side
    /// when a few claims waited long, so the prior never flatters a shop with a short record.
    pub category_response_ms: Option<i64>,
    pub disputes_lost: i64,
    /// Disputes lost since the recent-window start.
    pub disputes_lost_recent: i64,
    pub reissue_positive: i64,
    pub reissue_negative: i64,
    /// Risk events not yet reviewed by an admin (any age).
    pub risk_open: i64,
    /// Risk events an admin confirmed as violations since the window start (by the time of the confirmation);
    /// dismissed ones never count.
    pub risk_confirmed: i64,
    pub delivered_orders: i64,
}

/// A security event for the admin: something refused or ignored that shows probing or a misbehaving gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    pub id: i64,
    /// What happened, e.g. `gateway.trade_no_reused`.
    pub kind: String,
    /// The order it concerns, if any.
    pub order_id: Option<OrderId>,
    /// The particulars, as JSON.
    pub detail_json: String,
    pub created_at: Timestamp,
}
