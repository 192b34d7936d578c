//! PostgreSQL: reconciliation findings, payments to ask gateways about, withdrawal transfers ([`ReconcileTx`]).

use super::PgTx;
use crate::errors::{corrupt, map_sqlx};
use crate::{rows, Finding, FindingKind, NewFinding, Payment, ReconcileTx, StoreResult, TransferDue, WithdrawalState};
use async_trait::async_trait;
use kabao_core::{Money, Timestamp, UserId};

const FINDING_COLS: &str = "id, gateway, trade_no, gateway_trade_no, kind, expected_fen, got_fen, business_date, \
     detail, created_at, resolved_at, resolved_by, note";

type FindingRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn finding(r: FindingRow) -> StoreResult<Finding> {
    Ok(Finding {
        id: r.0,
        gateway: r.1,
        trade_no: r.2,
        gateway_trade_no: r.3,
        kind: FindingKind::parse(&r.4).ok_or_else(|| corrupt("reconciliation_findings.kind"))?,
        expected: Money::from_fen(r.5),
        got: r.6.map(Money::from_fen),
        business_date: r.7,
        detail: r.8,
        created_at: Timestamp(r.9),
        resolved_at: r.10.map(Timestamp),
        resolved_by: r.11.map(UserId),
        note: r.12,
    })
}

const PAYMENT_COLS: &str = "p.id, p.gateway, p.trade_no, p.purpose_kind, p.order_id, p.user_id, p.amount_fen, \
     p.state, p.gateway_trade_no, p.created_at, p.paid_at";

#[async_trait]
impl ReconcileTx for PgTx {
    async fn insert_finding(&mut self, f: &NewFinding<'_>) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO reconciliation_findings (gateway, trade_no, gateway_trade_no, kind, expected_fen, got_fen, \
             business_date, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (gateway, trade_no, kind) DO NOTHING",
        )
        .bind(f.gateway)
        .bind(f.trade_no)
        .bind(f.gateway_trade_no)
        .bind(f.kind.as_str())
        .bind(f.expected.fen())
        .bind(f.got.map(Money::fen))
        .bind(f.business_date)
        .bind(f.detail)
        .bind(f.created_at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn finding_by_id(&mut self, id: i64) -> StoreResult<Option<Finding>> {
        let sql = format!("SELECT {FINDING_COLS} FROM reconciliation_findings WHERE id = $1");
        let row: Option<FindingRow> =
            sqlx::query_as(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(finding).transpose()
    }

    async fn list_open_findings(&mut self, before_id: Option<i64>, limit: i64) -> StoreResult<Vec<Finding>> {
        let sql = format!(
            "SELECT {FINDING_COLS} FROM reconciliation_findings WHERE resolved_at IS NULL AND id < $1 \
             ORDER BY id DESC LIMIT $2"
        );
        let rows: Vec<FindingRow> = sqlx::query_as(&sql)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(finding).collect()
    }

    async fn findings_of_date(&mut self, date: &str, after_id: i64, limit: i64) -> StoreResult<Vec<Finding>> {
        let sql = format!(
            "SELECT {FINDING_COLS} FROM reconciliation_findings WHERE business_date = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        let rows: Vec<FindingRow> = sqlx::query_as(&sql)
            .bind(date)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(finding).collect()
    }

    async fn resolve_finding(&mut self, id: i64, by: UserId, note: &str, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE reconciliation_findings SET resolved_at = $1, resolved_by = $2, note = $3 \
             WHERE id = $4 AND resolved_at IS NULL",
        )
        .bind(at.millis())
        .bind(by.0)
        .bind(note)
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn payments_to_reconcile(
        &mut self,
        gateway: &str,
        created_from: Timestamp,
        started_by: Timestamp,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Payment>> {
        let sql = format!(
            "SELECT {PAYMENT_COLS} FROM payments p LEFT JOIN orders o ON o.id = p.order_id \
             WHERE p.state = 'pending' AND p.gateway = $1 AND p.created_at >= $2 AND p.created_at <= $3 \
               AND p.id > $4 \
               AND (p.purpose_kind = 'top_up' OR o.state IN ('pending_payment', 'expired')) \
             ORDER BY p.id LIMIT $5"
        );
        let rows: Vec<rows::PaymentRow> = sqlx::query_as(&sql)
            .bind(gateway)
            .bind(created_from.millis())
            .bind(started_by.millis())
            .bind(after_id)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(rows::payment).collect()
    }

    async fn gateway_payments_created(
        &mut self,
        gateway: &str,
        from: Timestamp,
        to: Timestamp,
        after: (Timestamp, i64),
        limit: i64,
    ) -> StoreResult<Vec<Payment>> {
        let sql = format!(
            "SELECT {PAYMENT_COLS} FROM payments p \
             WHERE p.gateway = $1 AND p.created_at >= $2 AND p.created_at < $3 \
               AND (p.created_at > $4 OR (p.created_at = $4 AND p.id > $5)) \
             ORDER BY p.created_at, p.id LIMIT $6"
        );
        let rows: Vec<rows::PaymentRow> = sqlx::query_as(&sql)
            .bind(gateway)
            .bind(from.millis())
            .bind(to.millis())
            .bind(after.0.millis())
            .bind(after.1)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(rows::payment).collect()
    }

    async fn queue_withdrawal_transfer(&mut self, id: i64, by: UserId, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE withdrawals SET transfer_state = 'queued', transfer_next_at = $1, decided_by = $2 \
             WHERE id = $3 AND state = 'pending' AND transfer_state IS NULL",
        )
        .bind(at.millis())
        .bind(by.0)
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn withdrawal_transfers_due(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<TransferDue>> {
        let due: Vec<(i64, i32)> = sqlx::query_as(
            "SELECT id, transfer_attempts FROM withdrawals \
             WHERE transfer_state = 'queued' AND transfer_next_at <= $1 ORDER BY transfer_next_at, id LIMIT $2",
        )
        .bind(now.millis())
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let mut out = Vec::with_capacity(due.len());
        for (id, attempts) in due {
            if let Some(withdrawal) = crate::FinanceTx::withdrawal_by_id(self, id).await? {
                out.push(TransferDue { withdrawal, attempts });
            }
        }
        Ok(out)
    }

    async fn postpone_withdrawal_transfer(
        &mut self,
        id: i64,
        attempts_seen: i32,
        next_at: Timestamp,
        error: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE withdrawals SET transfer_attempts = transfer_attempts + 1, transfer_next_at = $1, \
             transfer_error = $2 WHERE id = $3 AND transfer_state = 'queued' AND transfer_attempts = $4",
        )
        .bind(next_at.millis())
        .bind(error)
        .bind(id)
        .bind(attempts_seen)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_withdrawal_transfer(
        &mut self,
        id: i64,
        to: WithdrawalState,
        payout_ref: Option<&str>,
        note: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let transfer_state = if to == WithdrawalState::Approved { "done" } else { "refused" };
        let done = sqlx::query(
            "UPDATE withdrawals SET state = $1, transfer_state = $2, payout_ref = $3, note = $4, decided_at = $5, \
             transfer_next_at = NULL WHERE id = $6 AND state = 'pending' AND transfer_state = 'queued'",
        )
        .bind(to.as_str())
        .bind(transfer_state)
        .bind(payout_ref)
        .bind(note)
        .bind(at.millis())
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
