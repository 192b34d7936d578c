//! PostgreSQL: merchant webhook endpoints, deliveries and stock thresholds ([`WebhooksTx`]).

use super::PgTx;
use crate::errors::map_sqlx;
use crate::{
    rows, ClaimRecord, NewWebhookDelivery, StockAlertMail, StoreResult, WebhookAttempt, WebhookDeliveryRecord,
    WebhookEndpointRecord, WebhooksTx,
};
use async_trait::async_trait;
use kabao_core::webhook::EventKind;
use kabao_core::{ProductId, ShopId, Timestamp};
use std::sync::LazyLock;

#[async_trait]
impl WebhooksTx for PgTx {
    // ---- endpoints ----

    async fn insert_webhook_endpoint(
        &mut self,
        shop: ShopId,
        url: &str,
        events: &[EventKind],
        secret_sealed: &[u8],
        secret_version: i32,
        at: Timestamp,
    ) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO webhook_endpoints (shop_id, url, events, secret_sealed, secret_version, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(shop.0)
        .bind(url)
        .bind(rows::webhook_events_text(events))
        .bind(secret_sealed)
        .bind(secret_version)
        .bind(at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn webhook_endpoint(&mut self, id: i64) -> StoreResult<Option<WebhookEndpointRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM webhook_endpoints WHERE id = $1", rows::WEBHOOK_ENDPOINT_COLS));
        let row: Option<rows::WebhookEndpointRow> =
            sqlx::query_as(&SQL).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::webhook_endpoint).transpose()
    }

    async fn shop_webhook_endpoints(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<WebhookEndpointRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM webhook_endpoints WHERE shop_id = $1 AND disabled_at IS NULL ORDER BY id LIMIT $2",
                rows::WEBHOOK_ENDPOINT_COLS
            )
        });
        let rows: Vec<rows::WebhookEndpointRow> =
            sqlx::query_as(&SQL).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::webhook_endpoint).collect()
    }

    async fn webhook_endpoints_for(
        &mut self,
        shop: ShopId,
        kind: EventKind,
    ) -> StoreResult<Vec<WebhookEndpointRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM webhook_endpoints WHERE shop_id = $1 AND disabled_at IS NULL \
                 AND (',' || events || ',') LIKE $2 ORDER BY id",
                rows::WEBHOOK_ENDPOINT_COLS
            )
        });
        let pattern = format!("%,{},%", kind.as_str());
        let rows: Vec<rows::WebhookEndpointRow> =
            sqlx::query_as(&SQL).bind(shop.0).bind(pattern).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::webhook_endpoint).collect()
    }

    async fn disable_webhook_endpoint(&mut self, shop: ShopId, id: i64, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET disabled_at = $1 WHERE id = $2 AND shop_id = $3 AND disabled_at IS NULL",
        )
        .bind(at.millis())
        .bind(id)
        .bind(shop.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE webhook_deliveries SET state = 'cancelled' WHERE endpoint_id = $1 AND state = 'pending'")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(true)
    }

    // ---- deliveries ----

    async fn insert_webhook_delivery(&mut self, d: &NewWebhookDelivery<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webhook_deliveries \
             (endpoint_id, shop_id, event_id, kind, subject, body, state, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) ON CONFLICT DO NOTHING",
        )
        .bind(d.endpoint_id)
        .bind(d.shop_id.0)
        .bind(d.event_id)
        .bind(d.kind.as_str())
        .bind(d.subject)
        .bind(d.body)
        .bind(d.at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn webhook_delivery(&mut self, id: i64) -> StoreResult<Option<WebhookDeliveryRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM webhook_deliveries WHERE id = $1", rows::WEBHOOK_DELIVERY_COLS));
        let row: Option<rows::WebhookDeliveryRow> =
            sqlx::query_as(&SQL).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::webhook_delivery).transpose()
    }

    async fn endpoint_webhook_deliveries(
        &mut self,
        endpoint: i64,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDeliveryRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 = 0 OR id < $2) \
                 ORDER BY id DESC LIMIT $3",
                rows::WEBHOOK_DELIVERY_COLS
            )
        });
        let rows: Vec<rows::WebhookDeliveryRow> = sqlx::query_as(&SQL)
            .bind(endpoint)
            .bind(before)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(rows::webhook_delivery).collect()
    }

    async fn due_webhook_deliveries(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<WebhookDeliveryRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
                 AND lease_until < $1 ORDER BY next_attempt_at, id LIMIT $2",
                rows::WEBHOOK_DELIVERY_COLS
            )
        });
        let rows: Vec<rows::WebhookDeliveryRow> =
            sqlx::query_as(&SQL).bind(now.millis()).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::webhook_delivery).collect()
    }

    async fn lease_webhook_delivery(
        &mut self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND state = 'pending' AND next_attempt_at <= $4 AND lease_until < $4",
        )
        .bind(owner)
        .bind(until.millis())
        .bind(id)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_webhook_attempt(&mut self, id: i64, owner: &str, a: &WebhookAttempt<'_>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_attempt_at = $4, \
             last_status = $5, last_response = $6, last_error = $7, lease_owner = NULL, lease_until = 0 \
             WHERE id = $8 AND lease_owner = $9 AND state = 'pending'",
        )
        .bind(a.state.as_str())
        .bind(a.attempts)
        .bind(a.next_attempt_at.millis())
        .bind(a.at.millis())
        .bind(a.status)
        .bind(a.response)
        .bind(a.error)
        .bind(id)
        .bind(owner)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn resend_webhook_delivery(&mut self, shop: ShopId, id: i64, now: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, \
             lease_owner = NULL, lease_until = 0 \
             WHERE id = $2 AND shop_id = $3 AND EXISTS (SELECT 1 FROM webhook_endpoints e \
             WHERE e.id = webhook_deliveries.endpoint_id AND e.disabled_at IS NULL)",
        )
        .bind(now.millis())
        .bind(id)
        .bind(shop.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    // ---- claim.deadline_soon and stock.low ----

    async fn claims_due_soon(&mut self, now: Timestamp, soon: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM claims WHERE state = 'open' AND due_at > $1 AND due_at <= $2 \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deadline_notices n \
                 WHERE n.claim_id = claims.id AND n.due_at = claims.due_at) ORDER BY due_at, id LIMIT $3",
                rows::CLAIM_COLS
            )
        });
        let rows = sqlx::query(&SQL)
            .bind(now.millis())
            .bind(soon.millis())
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.iter().map(rows::claim_from_row).collect()
    }

    async fn mark_deadline_notice(&mut self, claim_id: i64, due_at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO webhook_deadline_notices (claim_id, due_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(claim_id)
        .bind(due_at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn stock_alert_threshold(&mut self, product: ProductId) -> StoreResult<Option<i64>> {
        sqlx::query_scalar("SELECT threshold FROM stock_alert_thresholds WHERE product_id = $1")
            .bind(product.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)
    }

    async fn set_stock_alert_threshold(&mut self, product: ProductId, threshold: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO stock_alert_thresholds (product_id, threshold) VALUES ($1, $2) \
             ON CONFLICT (product_id) DO UPDATE SET threshold = excluded.threshold",
        )
        .bind(product.0)
        .bind(threshold)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    // ---- low-stock mails ----

    async fn insert_stock_alert_mail(
        &mut self,
        shop: ShopId,
        product: ProductId,
        stock: i64,
        threshold: i64,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO stock_alert_mails (shop_id, product_id, stock, threshold, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(shop.0)
        .bind(product.0)
        .bind(stock)
        .bind(threshold)
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn pending_stock_alert_mails(&mut self, limit: i64) -> StoreResult<Vec<StockAlertMail>> {
        let rows: Vec<(i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, shop_id, product_id, stock, threshold, created_at FROM stock_alert_mails \
             WHERE sent_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(id, shop, product, stock, threshold, at)| StockAlertMail {
                id,
                shop_id: ShopId(shop),
                product_id: ProductId(product),
                stock,
                threshold,
                created_at: Timestamp::from_millis(at),
            })
            .collect())
    }

    async fn take_stock_alert_mail(&mut self, id: i64, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE stock_alert_mails SET sent_at = $2 WHERE id = $1 AND sent_at IS NULL")
            .bind(id)
            .bind(at.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
