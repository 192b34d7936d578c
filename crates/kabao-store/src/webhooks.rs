//! Rows of the webhooks aggregate: a shop's endpoints and the deliveries owed to them, and the low-stock mails
//! owed to merchants.

use kabao_core::webhook::EventKind;
use kabao_core::{ProductId, ShopId, Timestamp};

/// A registered endpoint. The secret is sealed (the app opens it to sign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpointRecord {
    pub id: i64,
    pub shop_id: ShopId,
    pub url: String,
    pub events: Vec<EventKind>,
    pub secret_sealed: Vec<u8>,
    pub secret_version: i32,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Every attempt failed.
    Failed,
    /// No longer worth sending (a claim answered before its deadline reminder went out).
    Cancelled,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed, DeliveryState::Cancelled]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A delivery to write, in the transaction of its event.
#[derive(Debug, Clone)]
pub struct NewWebhookDelivery<'a> {
    pub endpoint_id: i64,
    pub shop_id: ShopId,
    pub event_id: &'a str,
    pub kind: EventKind,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDeliveryRecord {
    pub id: i64,
    pub endpoint_id: i64,
    pub shop_id: ShopId,
    pub event_id: String,
    pub kind: EventKind,
    pub subject: Option<String>,
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status: Option<i32>,
    /// The first bytes of the receiver's answer.
    pub last_response: Option<String>,
    /// Why the last attempt got no answer (connection refused, timeout, refused address).
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

/// The outcome of one attempt, recorded by the instance that holds the delivery's lease.
#[derive(Debug, Clone)]
pub struct WebhookAttempt<'a> {
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub at: Timestamp,
    pub status: Option<i32>,
    pub response: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// A low-stock mail owed to a shop's owner: the sale or re-issue that took `product` to `stock`, below
/// `threshold`, at `created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockAlertMail {
    pub id: i64,
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub stock: i64,
    pub threshold: i64,
    pub created_at: Timestamp,
}
