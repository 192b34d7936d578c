//! SQLite: orders, audit events and payments ([`OrdersTx`]).

use super::SqliteTx;
use crate::errors::{map_sqlx, one_row};
use crate::{lite, rows, NewOrder, NewPayment, Order, OrdersTx, Payment, PaymentPurpose, StoreResult};
use async_trait::async_trait;
use kabao_core::audit::ChainedEvent;
use kabao_core::ledger::OrderId;
use kabao_core::order::OrderState;
use kabao_core::{ShopId, Timestamp, UserId};
use std::sync::LazyLock;

#[async_trait]
impl OrdersTx for SqliteTx {
    // ---- orders ----

    async fn insert_order(&mut self, o: &NewOrder) -> StoreResult<OrderId> {
        let id: i64 = lite::query_scalar(
            "INSERT INTO orders (order_no, buyer_id, guest_email, guest_query_hash, shop_id, product_id, quantity, \
             unit_price_fen, amount_fen, state, warranty_snapshot, warranty_sha256, warranty_ack, created_at, \
             expires_at, custom_answers) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending_payment', $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(&o.order_no)
        .bind(o.buyer_id.map(|u| u.0))
        .bind(&o.guest_email)
        .bind(&o.guest_query_hash)
        .bind(o.shop_id.0)
        .bind(o.product_id.0)
        .bind(o.quantity)
        .bind(o.unit_price.fen())
        .bind(o.amount.fen())
        .bind(&o.warranty_snapshot)
        .bind(&o.warranty_sha256)
        .bind(o.warranty_ack)
        .bind(o.created_at.millis())
        .bind(o.expires_at.millis())
        .bind(&o.custom_answers)
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(OrderId(id))
    }

    async fn order_by_id(&mut self, id: OrderId) -> StoreResult<Option<Order>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM orders WHERE id = $1", rows::ORDER_COLS));
        let row = lite::query(&SQL).bind(id.0).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        row.map(|r| rows::order_from_row(&r)).transpose()
    }

    async fn order_by_no(&mut self, order_no: &str) -> StoreResult<Option<Order>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM orders WHERE order_no = $1", rows::ORDER_COLS));
        let row = lite::query(&SQL).bind(order_no).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        row.map(|r| rows::order_from_row(&r)).transpose()
    }

    async fn update_order_state(
        &mut self,
        id: OrderId,
        from: OrderState,
        to: OrderState,
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.move_order(id, from, to, at, None).await
    }

    async fn deliver_order(
        &mut self,
        id: OrderId,
        from: OrderState,
        at: Timestamp,
        settle_after: Timestamp,
    ) -> StoreResult<bool> {
        self.move_order(id, from, OrderState::Delivered, at, Some(settle_after)).await
    }

    async fn list_buyer_orders(&mut self, buyer: UserId, limit: i64, offset: i64) -> StoreResult<Vec<Order>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM orders WHERE buyer_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3", rows::ORDER_COLS)
        });
        let rows =
            lite::query(&SQL).bind(buyer.0).bind(limit).bind(offset).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn list_shop_orders(&mut self, shop: ShopId, limit: i64, offset: i64) -> StoreResult<Vec<Order>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM orders WHERE shop_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3", rows::ORDER_COLS)
        });
        let rows =
            lite::query(&SQL).bind(shop.0).bind(limit).bind(offset).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn buyer_orders_at_shop(&mut self, buyer: UserId, shop: ShopId, limit: i64) -> StoreResult<Vec<Order>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM orders WHERE buyer_id = $1 AND shop_id = $2 ORDER BY id DESC LIMIT $3",
                rows::ORDER_COLS
            )
        });
        let rows =
            lite::query(&SQL).bind(buyer.0).bind(shop.0).bind(limit).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn set_delivery_deadline(&mut self, id: OrderId, at: Timestamp) -> StoreResult<()> {
        let done = lite::query("UPDATE orders SET delivery_deadline = $1 WHERE id = $2")
            .bind(at.millis())
            .bind(id.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn shop_orders_awaiting_delivery(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<Order>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM orders WHERE shop_id = $1 AND state = 'paid' ORDER BY delivery_deadline, id LIMIT $2",
                rows::ORDER_COLS
            )
        });
        let rows = lite::query(&SQL).bind(shop.0).bind(limit).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn set_manual_delivery(&mut self, id: OrderId, ciphertext: &[u8], key_version: i32) -> StoreResult<()> {
        let done = lite::query("UPDATE orders SET delivery_ciphertext = $1, delivery_key_version = $2 WHERE id = $3")
            .bind(ciphertext)
            .bind(key_version)
            .bind(id.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn manual_delivery(&mut self, id: OrderId) -> StoreResult<Option<(Vec<u8>, i32)>> {
        let row: Option<(Option<Vec<u8>>, Option<i32>)> =
            lite::query_as("SELECT delivery_ciphertext, delivery_key_version FROM orders WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(match row {
            Some((Some(ct), Some(v))) => Some((ct, v)),
            _ => None,
        })
    }

    // ---- trial orders and devices ----

    async fn set_order_trial_key(&mut self, order: OrderId, key: &str) -> StoreResult<()> {
        let done = lite::query("UPDATE orders SET trial_key = $1 WHERE id = $2")
            .bind(key)
            .bind(order.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn set_order_device(&mut self, order: OrderId, device: &str) -> StoreResult<()> {
        let done = lite::query("UPDATE orders SET device_id = $1 WHERE id = $2")
            .bind(device)
            .bind(order.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn has_trial_order(
        &mut self,
        shop: ShopId,
        buyer: Option<UserId>,
        guest_email: Option<&str>,
    ) -> StoreResult<bool> {
        let n: i64 = lite::query_scalar(
            "SELECT COUNT(*) FROM orders o JOIN products p ON p.id = o.product_id WHERE o.shop_id = $1 AND p.trial \
             AND o.state IN ('pending_payment', 'paid', 'delivered', 'settled') \
             AND ((o.buyer_id IS NOT NULL AND o.buyer_id = $2) OR (o.guest_email IS NOT NULL AND o.guest_email = $3))",
        )
        .bind(shop.0)
        .bind(buyer.map(|b| b.0))
        .bind(guest_email)
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(n > 0)
    }

    // ---- audit chain ----

    async fn append_event(&mut self, order: OrderId, e: &ChainedEvent) -> StoreResult<()> {
        lite::query(
            "INSERT INTO order_events (order_id, seq, kind, at_ms, body, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(order.0)
        .bind(e.seq)
        .bind(&e.kind)
        .bind(e.at_ms)
        .bind(&e.body)
        .bind(&e.prev_hash[..])
        .bind(&e.hash[..])
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn last_event(&mut self, order: OrderId) -> StoreResult<Option<ChainedEvent>> {
        let row: Option<rows::EventRow> = lite::query_as(
            "SELECT seq, kind, at_ms, body, prev_hash, hash FROM order_events WHERE order_id = $1 ORDER BY seq DESC \
             LIMIT 1",
        )
        .bind(order.0)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        row.map(rows::chained_event).transpose()
    }

    async fn order_events(&mut self, order: OrderId) -> StoreResult<Vec<ChainedEvent>> {
        let rows: Vec<rows::EventRow> = lite::query_as(
            "SELECT seq, kind, at_ms, body, prev_hash, hash FROM order_events WHERE order_id = $1 ORDER BY seq",
        )
        .bind(order.0)
        .fetch_all(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter().map(rows::chained_event).collect()
    }

    async fn orders_with_events(&mut self) -> StoreResult<Vec<OrderId>> {
        let ids: Vec<i64> = lite::query_scalar("SELECT DISTINCT order_id FROM order_events ORDER BY order_id")
            .fetch_all(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(ids.into_iter().map(OrderId).collect())
    }

    // ---- payments and gateway notifications ----

    async fn insert_payment(&mut self, p: &NewPayment) -> StoreResult<i64> {
        let (kind, order, user) = match p.purpose {
            PaymentPurpose::Order(o) => ("order", Some(o.0), None),
            PaymentPurpose::TopUp(u) => ("top_up", None, Some(u.0)),
        };
        lite::query_scalar(
            "INSERT INTO payments (gateway, trade_no, purpose_kind, order_id, user_id, amount_fen, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING id",
        )
        .bind(&p.gateway)
        .bind(&p.trade_no)
        .bind(kind)
        .bind(order)
        .bind(user)
        .bind(p.amount.fen())
        .bind(p.created_at.millis())
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn payment_by_trade_no(&mut self, trade_no: &str) -> StoreResult<Option<Payment>> {
        let row: Option<rows::PaymentRow> =
            lite::query_as(&format!("SELECT {} FROM payments WHERE trade_no = $1", rows::PAYMENT_COLS))
                .bind(trade_no)
                .fetch_optional(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        row.map(rows::payment).transpose()
    }

    async fn mark_payment_paid(&mut self, id: i64, gateway_trade_no: &str, at: Timestamp) -> StoreResult<bool> {
        let done = lite::query(
            "UPDATE payments SET state = 'paid', gateway_trade_no = $1, paid_at = $2 WHERE id = $3 \
             AND state = 'pending'",
        )
        .bind(gateway_trade_no)
        .bind(at.millis())
        .bind(id)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_payment_payer(&mut self, trade_no: &str, payer: &str) -> StoreResult<()> {
        let done = lite::query("UPDATE payments SET payer_ref = $1 WHERE trade_no = $2")
            .bind(payer)
            .bind(trade_no)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn insert_notification(&mut self, gateway: &str, notification_id: &str, at: Timestamp) -> StoreResult<()> {
        lite::query("INSERT INTO gateway_notifications (gateway, notification_id, at) VALUES ($1, $2, $3)")
            .bind(gateway)
            .bind(notification_id)
            .bind(at.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }
}

impl SqliteTx {
    /// The compare-and-set of an order's state: moves it from `from` to `to` and stamps the matching time
    /// column. A delivery may also set `settle_after` in the same statement, so the order enters the
    /// settlement index once, at its final position ([`OrdersTx::deliver_order`]).
    async fn move_order(
        &mut self,
        id: OrderId,
        from: OrderState,
        to: OrderState,
        at: Timestamp,
        settle_after: Option<Timestamp>,
    ) -> StoreResult<bool> {
        use kabao_core::order::OrderState as S;
        let sql = match to {
            S::Paid => "UPDATE orders SET state = $1, paid_at = $2 WHERE id = $3 AND state = $4",
            S::Delivered => {
                "UPDATE orders SET state = $1, delivered_at = $2, paid_at = COALESCE(paid_at, $2), \
                 settle_after = COALESCE($5, settle_after) WHERE id = $3 AND state = $4"
            }
            S::Settled => "UPDATE orders SET state = $1, settled_at = $2 WHERE id = $3 AND state = $4",
            S::Refunded => "UPDATE orders SET state = $1, paid_at = COALESCE(paid_at, $2) WHERE id = $3 AND state = $4",
            S::PendingPayment | S::Expired => "UPDATE orders SET state = $1 WHERE id = $3 AND state = $4 AND $2 = $2",
        };
        let mut query = lite::query(sql).bind(to.as_str()).bind(at.millis()).bind(id.0).bind(from.as_str());
        if to == S::Delivered {
            query = query.bind(settle_after.map(|t| t.millis()));
        }
        let done = query.execute(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
