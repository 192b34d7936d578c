//! The orders aggregate's part of a transaction: orders, audit events and payments.

use crate::{NewOrder, NewPayment, Order, Payment, StoreResult};
use async_trait::async_trait;
use kabao_core::audit::ChainedEvent;
use kabao_core::ledger::OrderId;
use kabao_core::order::OrderState;
use kabao_core::{ShopId, Timestamp, UserId};

/// Orders and what happens to them: the order rows and their state compare-and-set, trial and device
/// marks, the hash-chained audit events, and payments with their gateway notifications.
#[async_trait]
pub trait OrdersTx: Send {
    // ---- orders ----
    /// Conflict `"orders.order_no"` if the number exists.
    async fn insert_order(&mut self, order: &NewOrder) -> StoreResult<OrderId>;
    async fn order_by_id(&mut self, id: OrderId) -> StoreResult<Option<Order>>;
    async fn order_by_no(&mut self, order_no: &str) -> StoreResult<Option<Order>>;
    /// Compare-and-set: moves the order from `from` to `to` and stamps the matching time column
    /// (`paid` → paid_at, `delivered` → delivered_at (and paid_at if unset), `settled` → settled_at). A delivery
    /// that starts the claim window goes through [`OrdersTx::deliver_order`] instead.
    /// Returns false (and changes nothing) if the order is not in `from`.
    async fn update_order_state(
        &mut self,
        id: OrderId,
        from: OrderState,
        to: OrderState,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Compare-and-set to delivered, starting the claim window in the same statement: moves the order from `from`
    /// to `delivered`, stamps delivered_at (and paid_at if unset) with `at`, and sets `settle_after`, the moment
    /// the escrow may settle. Returns false (and changes nothing) if the order is not in `from`.
    async fn deliver_order(
        &mut self,
        id: OrderId,
        from: OrderState,
        at: Timestamp,
        settle_after: Timestamp,
    ) -> StoreResult<bool>;
    /// A buyer's orders, newest first.
    async fn list_buyer_orders(&mut self, buyer: UserId, limit: i64, offset: i64) -> StoreResult<Vec<Order>>;
    /// A shop's orders, newest first.
    async fn list_shop_orders(&mut self, shop: ShopId, limit: i64, offset: i64) -> StoreResult<Vec<Order>>;
    /// A buyer's orders from a shop (newest first), for "your record with this shop".
    async fn buyer_orders_at_shop(&mut self, buyer: UserId, shop: ShopId, limit: i64) -> StoreResult<Vec<Order>>;
    async fn set_delivery_deadline(&mut self, id: OrderId, at: Timestamp) -> StoreResult<()>;
    /// A shop's paid orders awaiting manual delivery, nearest deadline first.
    async fn shop_orders_awaiting_delivery(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<Order>>;
    /// Stores the text a merchant delivered by hand (sealed by the caller).
    async fn set_manual_delivery(&mut self, id: OrderId, ciphertext: &[u8], key_version: i32) -> StoreResult<()>;
    /// The sealed manual delivery of an order and its key version, if delivered.
    async fn manual_delivery(&mut self, id: OrderId) -> StoreResult<Option<(Vec<u8>, i32)>>;

    // ---- trial orders and devices ----
    /// Marks an order as a buyer's trial order at its shop (`key` names shop and buyer); Conflict
    /// `"orders.trial"` if the buyer has a live one there already.
    async fn set_order_trial_key(&mut self, order: OrderId, key: &str) -> StoreResult<()>;
    /// Records the device cookie an order was placed from.
    async fn set_order_device(&mut self, order: OrderId, device: &str) -> StoreResult<()>;
    /// Whether a buyer (account, or guest email) has a live (pending or paid) order of a trial product at a shop.
    async fn has_trial_order(
        &mut self,
        shop: ShopId,
        buyer: Option<UserId>,
        guest_email: Option<&str>,
    ) -> StoreResult<bool>;

    // ---- audit chain ----
    /// Appends an event; Conflict `"order_events.seq"` if that sequence number exists (a concurrent append).
    async fn append_event(&mut self, order: OrderId, event: &ChainedEvent) -> StoreResult<()>;
    async fn last_event(&mut self, order: OrderId) -> StoreResult<Option<ChainedEvent>>;
    async fn order_events(&mut self, order: OrderId) -> StoreResult<Vec<ChainedEvent>>;
    /// Every order that has events, ascending.
    async fn orders_with_events(&mut self) -> StoreResult<Vec<OrderId>>;

    // ---- payments and gateway notifications ----
    /// Conflict `"payments.trade_no"` if the trade number exists.
    async fn insert_payment(&mut self, payment: &NewPayment) -> StoreResult<i64>;
    async fn payment_by_trade_no(&mut self, trade_no: &str) -> StoreResult<Option<Payment>>;
    /// Compare-and-set pending → paid; false if it was not pending (a duplicate notification).
    async fn mark_payment_paid(&mut self, id: i64, gateway_trade_no: &str, at: Timestamp) -> StoreResult<bool>;
    /// Records the payer account a gateway reported for a payment.
    async fn set_payment_payer(&mut self, trade_no: &str, payer: &str) -> StoreResult<()>;
    /// Remembers a notification id; Conflict `"notifications.id"` if seen before (a replay).
    async fn insert_notification(&mut self, gateway: &str, notification_id: &str, at: Timestamp) -> StoreResult<()>;
}
