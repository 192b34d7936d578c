//! The webhooks aggregate's part of a transaction: endpoints, deliveries and their leases, stock thresholds.

use crate::{
    ClaimRecord, NewWebhookDelivery, StockAlertMail, StoreResult, WebhookAttempt, WebhookDeliveryRecord,
    WebhookEndpointRecord,
};
use async_trait::async_trait;
use kabao_core::webhook::EventKind;
use kabao_core::{ProductId, ShopId, Timestamp};

/// Merchant webhooks: a shop's endpoints, the deliveries owed to them (written in their event's transaction),
/// and the per-delivery lease that keeps two instances from sending one delivery at once.
#[async_trait]
pub trait WebhooksTx: Send {
    // ---- endpoints ----
    async fn insert_webhook_endpoint(
        &mut self,
        shop: ShopId,
        url: &str,
        events: &[EventKind],
        secret_sealed: &[u8],
        secret_version: i32,
        at: Timestamp,
    ) -> StoreResult<i64>;
    async fn webhook_endpoint(&mut self, id: i64) -> StoreResult<Option<WebhookEndpointRecord>>;
    /// The shop's endpoints not removed, oldest first, at most `limit`.
    async fn shop_webhook_endpoints(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<WebhookEndpointRecord>>;
    /// The shop's endpoints not removed that subscribe to `kind`.
    async fn webhook_endpoints_for(&mut self, shop: ShopId, kind: EventKind)
        -> StoreResult<Vec<WebhookEndpointRecord>>;
    /// Removes (disables) the shop's endpoint and cancels its pending deliveries; false if it is not the shop's
    /// or already removed.
    async fn disable_webhook_endpoint(&mut self, shop: ShopId, id: i64, at: Timestamp) -> StoreResult<bool>;

    // ---- deliveries ----
    /// Writes a pending delivery due at `at`; a second one for the same endpoint and event is ignored.
    async fn insert_webhook_delivery(&mut self, d: &NewWebhookDelivery<'_>) -> StoreResult<()>;
    async fn webhook_delivery(&mut self, id: i64) -> StoreResult<Option<WebhookDeliveryRecord>>;
    /// An endpoint's deliveries, newest first, with id below `before` (0: from the newest), at most `limit`.
    async fn endpoint_webhook_deliveries(
        &mut self,
        endpoint: i64,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDeliveryRecord>>;
    /// Pending deliveries due at `now` whose lease is free, oldest due first.
    async fn due_webhook_deliveries(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<WebhookDeliveryRecord>>;
    /// Takes a due, pending delivery for `owner` until `until`; false if it is not pending, not due, or leased.
    async fn lease_webhook_delivery(
        &mut self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Records an attempt made under `owner`'s lease and frees the lease; false if the lease is no longer
    /// `owner`'s (then nothing is written).
    async fn record_webhook_attempt(&mut self, id: i64, owner: &str, attempt: &WebhookAttempt<'_>)
        -> StoreResult<bool>;
    /// Sends the shop's delivery again from the first attempt (same event id and body), due at `now`;
    /// false if it is not the shop's or its endpoint was removed.
    async fn resend_webhook_delivery(&mut self, shop: ShopId, id: i64, now: Timestamp) -> StoreResult<bool>;

    // ---- claim.deadline_soon and stock.low ----
    /// Open claims whose deadline falls in `(now, soon]`, not yet considered for that deadline; oldest first.
    async fn claims_due_soon(&mut self, now: Timestamp, soon: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// Marks a claim's deadline as considered; false if it already was.
    async fn mark_deadline_notice(&mut self, claim_id: i64, due_at: Timestamp) -> StoreResult<bool>;
    async fn stock_alert_threshold(&mut self, product: ProductId) -> StoreResult<Option<i64>>;
    async fn set_stock_alert_threshold(&mut self, product: ProductId, threshold: i64) -> StoreResult<()>;

    // ---- low-stock mails ----
    /// Writes a low-stock mail owed to `shop`'s owner, in the transaction of the sale that crossed the threshold.
    async fn insert_stock_alert_mail(
        &mut self,
        shop: ShopId,
        product: ProductId,
        stock: i64,
        threshold: i64,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Mails not yet taken, oldest first, at most `limit`.
    async fn pending_stock_alert_mails(&mut self, limit: i64) -> StoreResult<Vec<StockAlertMail>>;
    /// Takes a mail for sending; false if it was already taken (it is then not sent again).
    async fn take_stock_alert_mail(&mut self, id: i64, at: Timestamp) -> StoreResult<bool>;
}
