//! SQLite: job leases and due-work queries ([`JobsTx`]).

use super::SqliteTx;
use crate::errors::map_sqlx;
use crate::{lite, rows, ClaimRecord, JobsTx, Order, Payment, StoreResult};
use async_trait::async_trait;
use kabao_core::Timestamp;
use std::sync::LazyLock;

#[async_trait]
impl JobsTx for SqliteTx {
    // ---- leases ----

    async fn acquire_job_lease(
        &mut self,
        job: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let done = lite::query(
            "UPDATE job_leases SET owner = $1, lease_until = $2 \
             WHERE name = $3 AND (owner IS NULL OR owner = $1 OR lease_until < $4)",
        )
        .bind(owner)
        .bind(until.millis())
        .bind(job)
        .bind(now.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_job_lease(&mut self, job: &str, owner: &str, now: Timestamp) -> StoreResult<()> {
        lite::query(
            "UPDATE job_leases SET owner = NULL, lease_until = 0, last_run_at = $1 WHERE name = $2 AND owner = $3",
        )
        .bind(now.millis())
        .bind(job)
        .bind(owner)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    // ---- due work ----

    async fn orders_due_for_settlement(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM orders WHERE state = 'delivered' AND settle_after <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.order_id = orders.id \
                 AND c.state IN ('open', 'awaiting_evidence', 'escalated') \
                 AND NOT (c.state = 'open' AND c.due_at IS NULL)) ORDER BY settle_after, id LIMIT $2",
                rows::ORDER_COLS
            )
        });
        let rows = lite::query(&SQL).bind(now.millis()).bind(limit).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn orders_past_expiry(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM orders WHERE state = 'pending_payment' AND expires_at <= $1 \
                 ORDER BY expires_at, id LIMIT $2",
                rows::ORDER_COLS
            )
        });
        let rows = lite::query(&SQL).bind(now.millis()).bind(limit).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn orders_past_delivery_deadline(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM orders WHERE state = 'paid' AND delivery_deadline <= $1 \
                 ORDER BY delivery_deadline, id LIMIT $2",
                rows::ORDER_COLS
            )
        });
        let rows = lite::query(&SQL).bind(now.millis()).bind(limit).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn claims_past_deadline(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM claims WHERE state = 'open' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
                rows::CLAIM_COLS
            )
        });
        let rows = lite::query(&SQL).bind(now.millis()).bind(limit).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::claim_from_row).collect()
    }

    async fn claims_to_remind(&mut self, decided_by: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM claims WHERE state IN ('rejected', 'remedy_failed') AND decided_at <= $1 \
                 AND escalation_reminded_at IS NULL ORDER BY decided_at, id LIMIT $2",
                rows::CLAIM_COLS
            )
        });
        let rows =
            lite::query(&SQL).bind(decided_by.millis()).bind(limit).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::claim_from_row).collect()
    }

    async fn pending_order_payments(
        &mut self,
        gateway: &str,
        started_by: Timestamp,
        now: Timestamp,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Payment>> {
        let rows: Vec<rows::PaymentRow> = lite::query_as(
            "SELECT p.id, p.gateway, p.trade_no, p.purpose_kind, p.order_id, p.user_id, p.amount_fen, p.state, \
             p.gateway_trade_no, p.created_at, p.paid_at \
             FROM payments p JOIN orders o ON o.id = p.order_id \
             WHERE p.state = 'pending' AND p.gateway = $1 AND p.purpose_kind = 'order' AND p.created_at <= $2 \
               AND o.state = 'pending_payment' AND o.expires_at > $3 AND p.id > $4 \
             ORDER BY p.id LIMIT $5",
        )
        .bind(gateway)
        .bind(started_by.millis())
        .bind(now.millis())
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter().map(rows::payment).collect()
    }
}
