//! PostgreSQL: gateway refunds ([`RefundsTx`]).

use super::PgTx;
use crate::errors::map_sqlx;
use crate::{rows, GatewayRefund, NewGatewayRefund, Payment, RefundAttempt, RefundsTx, StoreResult};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::{Money, Timestamp};

#[async_trait]
impl RefundsTx for PgTx {
    async fn paid_payment_of_order(&mut self, order: OrderId) -> StoreResult<Option<Payment>> {
        let row: Option<rows::PaymentRow> = sqlx::query_as(&format!(
            "SELECT {} FROM payments WHERE order_id = $1 AND state = 'paid' ORDER BY paid_at, id LIMIT 1",
            rows::PAYMENT_COLS
        ))
        .bind(order.0)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        row.map(rows::payment).transpose()
    }

    async fn insert_gateway_refund(&mut self, r: &NewGatewayRefund) -> StoreResult<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO gateway_refunds (refund_no, order_id, payment_id, gateway, amount_fen, reason, state, \
             attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) RETURNING id",
        )
        .bind(&r.refund_no)
        .bind(r.order_id.0)
        .bind(r.payment_id)
        .bind(&r.gateway)
        .bind(r.amount.fen())
        .bind(&r.reason)
        .bind(r.created_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(id)
    }

    async fn due_gateway_refunds(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<GatewayRefund>> {
        let rows: Vec<rows::GatewayRefundRow> = sqlx::query_as(&format!(
            "SELECT {} FROM gateway_refunds WHERE state IN ('pending', 'processing') AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2",
            rows::GATEWAY_REFUND_COLS
        ))
        .bind(now.millis())
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter().map(rows::gateway_refund).collect()
    }

    async fn record_refund_attempt(&mut self, id: i64, attempts: i64, r: &RefundAttempt<'_>) -> StoreResult<bool> {
        let decided = (!r.state.is_open() || r.state == crate::GatewayRefundState::Manual).then_some(r.at.millis());
        let done = sqlx::query(
            "UPDATE gateway_refunds SET state = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3, \
             gateway_refund_no = COALESCE($4, gateway_refund_no), outcome_note = COALESCE($5, outcome_note), \
             decided_at = $6 WHERE id = $7 AND attempts = $8 AND state IN ('pending', 'processing')",
        )
        .bind(r.state.as_str())
        .bind(r.next_attempt_at.millis())
        .bind(r.last_error)
        .bind(r.gateway_refund_no)
        .bind(r.outcome_note)
        .bind(decided)
        .bind(id)
        .bind(attempts)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn order_gateway_refunds(&mut self, order: OrderId) -> StoreResult<Vec<GatewayRefund>> {
        let rows: Vec<rows::GatewayRefundRow> = sqlx::query_as(&format!(
            "SELECT {} FROM gateway_refunds WHERE order_id = $1 ORDER BY id",
            rows::GATEWAY_REFUND_COLS
        ))
        .bind(order.0)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter().map(rows::gateway_refund).collect()
    }

    async fn gateway_refund(&mut self, id: i64) -> StoreResult<Option<GatewayRefund>> {
        let row: Option<rows::GatewayRefundRow> =
            sqlx::query_as(&format!("SELECT {} FROM gateway_refunds WHERE id = $1", rows::GATEWAY_REFUND_COLS))
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        row.map(rows::gateway_refund).transpose()
    }

    async fn open_gateway_refunds(&mut self) -> StoreResult<(i64, Money)> {
        let (n, fen): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM gateway_refunds \
             WHERE state IN ('pending', 'processing', 'manual')",
        )
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok((n, Money::from_fen(fen)))
    }

    async fn gateway_refunds_needing_attention(
        &mut self,
        min_attempts: i64,
        limit: i64,
    ) -> StoreResult<Vec<GatewayRefund>> {
        let rows: Vec<rows::GatewayRefundRow> = sqlx::query_as(&format!(
            "SELECT {} FROM gateway_refunds WHERE state = 'manual' \
             OR (state IN ('pending', 'processing') AND attempts >= $1) ORDER BY id DESC LIMIT $2",
            rows::GATEWAY_REFUND_COLS
        ))
        .bind(min_attempts)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter().map(rows::gateway_refund).collect()
    }

    async fn resolve_manual_refund(&mut self, id: i64, note: &str, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE gateway_refunds SET state = 'done', outcome_note = $1, decided_at = $2 \
             WHERE id = $3 AND state = 'manual'",
        )
        .bind(note)
        .bind(at.millis())
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn payment_by_id(&mut self, id: i64) -> StoreResult<Option<Payment>> {
        let row: Option<rows::PaymentRow> =
            sqlx::query_as(&format!("SELECT {} FROM payments WHERE id = $1", rows::PAYMENT_COLS))
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        row.map(rows::payment).transpose()
    }

    async fn prefers_wallet_refunds(&mut self, user: kabao_core::UserId) -> StoreResult<bool> {
        let row: Option<(bool,)> = sqlx::query_as("SELECT to_wallet FROM refund_preferences WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(row.is_some_and(|(w,)| w))
    }

    async fn set_prefers_wallet_refunds(
        &mut self,
        user: kabao_core::UserId,
        to_wallet: bool,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refund_preferences (user_id, to_wallet, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET to_wallet = excluded.to_wallet, updated_at = excluded.updated_at",
        )
        .bind(user.0)
        .bind(to_wallet)
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }
}
