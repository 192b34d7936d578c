//! PostgreSQL: claims, evidence, disputes and the compensation fund ([`ClaimsTx`]).

use super::PgTx;
use crate::errors::{corrupt, map_sqlx, one_row};
use crate::{
    rows, ClaimRecord, ClaimsTx, DisputeRecord, EvidenceParty, EvidenceRecord, LedgerEntry, QueueKey, Statement,
    StoreResult,
};
use async_trait::async_trait;
use kabao_core::claim::ClaimState;
use kabao_core::ledger::{Account, OrderId};
use kabao_core::{Money, ShopId, Timestamp, UserId};
use std::sync::LazyLock;

#[async_trait]
impl ClaimsTx for PgTx {
    // ---- claims ----

    async fn insert_claim(&mut self, c: &ClaimRecord) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO claims (claim_no, order_id, item, shop_id, defect, description, activated, eligible, \
             reasons, state, due_at, paused_remaining_ms, evidence_requested, request_note, decision_reason, \
             decided_by, decided_at, created_at, auto_remedied) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             RETURNING id",
        )
        .bind(&c.claim_no)
        .bind(c.order_id.0)
        .bind(c.item)
        .bind(c.shop_id.0)
        .bind(c.defect.as_str())
        .bind(&c.description)
        .bind(c.activated)
        .bind(c.eligible)
        .bind(&c.reasons)
        .bind(c.state.as_str())
        .bind(c.due_at.map(|t| t.millis()))
        .bind(c.paused_remaining_ms)
        .bind(c.evidence_requested)
        .bind(c.request_note.as_deref())
        .bind(c.decision_reason.as_deref())
        .bind(c.decided_by.map(|u| u.0))
        .bind(c.decided_at.map(|t| t.millis()))
        .bind(c.created_at.millis())
        .bind(c.auto_remedied)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn claim_by_no(&mut self, claim_no: &str) -> StoreResult<Option<ClaimRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM claims WHERE claim_no = $1", rows::CLAIM_COLS));
        let row = sqlx::query(&SQL).bind(claim_no).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.as_ref().map(rows::claim_from_row).transpose()
    }

    async fn order_claims(&mut self, order: OrderId) -> StoreResult<Vec<ClaimRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM claims WHERE order_id = $1 ORDER BY id", rows::CLAIM_COLS));
        let rows = sqlx::query(&SQL).bind(order.0).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::claim_from_row).collect()
    }

    async fn shop_pending_claims(
        &mut self,
        shop: ShopId,
        after: QueueKey,
        limit: i64,
    ) -> StoreResult<Vec<ClaimRecord>> {
        let rows = sqlx::query(&crate::tx::claims::QUEUE_PAGE_SQL)
            .bind(shop.0)
            .bind(after.due)
            .bind(after.id)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.iter().map(rows::claim_from_row).collect()
    }

    async fn shop_claims(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ClaimRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM claims WHERE shop_id = $1 ORDER BY id DESC LIMIT $2", rows::CLAIM_COLS)
        });
        let rows = sqlx::query(&SQL).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::claim_from_row).collect()
    }

    async fn update_claim(&mut self, c: &ClaimRecord, from: ClaimState) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE claims SET state = $1, due_at = $2, paused_remaining_ms = $3, evidence_requested = $4, \
             request_note = $5, decision_reason = $6, decided_by = $7, decided_at = $8, eligible = $9, \
             reasons = $10, auto_remedied = $11 WHERE id = $12 AND state = $13",
        )
        .bind(c.state.as_str())
        .bind(c.due_at.map(|t| t.millis()))
        .bind(c.paused_remaining_ms)
        .bind(c.evidence_requested)
        .bind(c.request_note.as_deref())
        .bind(c.decision_reason.as_deref())
        .bind(c.decided_by.map(|u| u.0))
        .bind(c.decided_at.map(|t| t.millis()))
        .bind(c.eligible)
        .bind(&c.reasons)
        .bind(c.auto_remedied)
        .bind(c.id)
        .bind(from.as_str())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_escalation_reminded(&mut self, claim: i64, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query("UPDATE claims SET escalation_reminded_at = $1 WHERE id = $2")
            .bind(at.millis())
            .bind(claim)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    // ---- evidence ----

    async fn put_evidence_file(&mut self, sha256: &[u8], mime: &str, content: &[u8], at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO evidence_files (sha256, mime, size_bytes, content, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(mime)
        .bind(content.len() as i64)
        .bind(content)
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn evidence_file(&mut self, sha256: &[u8]) -> StoreResult<Option<(String, Vec<u8>)>> {
        sqlx::query_as("SELECT mime, content FROM evidence_files WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)
    }

    async fn insert_claim_evidence(&mut self, e: &EvidenceRecord) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO claim_evidence \
             (claim_id, sha256, kind, file_name, added_by, binding, binding_sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(e.claim_id)
        .bind(&e.sha256)
        .bind(e.kind.as_str())
        .bind(&e.file_name)
        .bind(e.added_by.as_str())
        .bind(&e.binding)
        .bind(&e.binding_sha256)
        .bind(e.created_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn claim_evidence(&mut self, claim: i64) -> StoreResult<Vec<EvidenceRecord>> {
        let rows = sqlx::query(rows::EVIDENCE_SELECT).bind(claim).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::evidence_from_row).collect()
    }

    // ---- disputes (平台介入) ----

    async fn insert_dispute(&mut self, claim: &ClaimRecord, at: Timestamp) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO disputes (claim_id, order_id, shop_id, state, opened_at) VALUES ($1, $2, $3, 'open', $4) \
             RETURNING id",
        )
        .bind(claim.id)
        .bind(claim.order_id.0)
        .bind(claim.shop_id.0)
        .bind(at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn dispute_of_claim(&mut self, claim: i64) -> StoreResult<Option<DisputeRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM disputes WHERE claim_id = $1", rows::DISPUTE_COLS));
        let row = sqlx::query(&SQL).bind(claim).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.as_ref().map(rows::dispute_from_row).transpose()
    }

    async fn open_disputes(&mut self, limit: i64) -> StoreResult<Vec<DisputeRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM disputes WHERE state = 'open' ORDER BY id LIMIT $1", rows::DISPUTE_COLS)
        });
        let rows = sqlx::query(&SQL).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::dispute_from_row).collect()
    }

    async fn decided_disputes(&mut self, limit: i64) -> StoreResult<Vec<DisputeRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM disputes WHERE state = 'decided' ORDER BY decided_at DESC, id DESC LIMIT $1",
                rows::DISPUTE_COLS
            )
        });
        let rows = sqlx::query(&SQL).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::dispute_from_row).collect()
    }

    async fn decide_dispute(
        &mut self,
        id: i64,
        ruling: &str,
        refund: Option<Money>,
        reason: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE disputes SET state = 'decided', ruling = $1, refund_fen = $2, reason = $3, decided_by = $4, \
             decided_at = $5 WHERE id = $6 AND state = 'open'",
        )
        .bind(ruling)
        .bind(refund.map(|m| m.fen()))
        .bind(reason)
        .bind(by.0)
        .bind(at.millis())
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_statement(&mut self, dispute: i64, st: &Statement) -> StoreResult<()> {
        sqlx::query("INSERT INTO dispute_statements (dispute_id, party, body, created_at) VALUES ($1, $2, $3, $4)")
            .bind(dispute)
            .bind(st.party.as_str())
            .bind(&st.body)
            .bind(st.created_at.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn dispute_statements(&mut self, dispute: i64) -> StoreResult<Vec<Statement>> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT party, body, created_at FROM dispute_statements WHERE dispute_id = $1 ORDER BY id")
                .bind(dispute)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(party, body, at)| {
                Ok(Statement {
                    party: EvidenceParty::parse(&party).ok_or_else(|| corrupt("dispute_statements.party"))?,
                    body,
                    created_at: Timestamp(at),
                })
            })
            .collect()
    }

    // ---- the compensation fund ----

    async fn insert_fund_member(&mut self, shop: ShopId, at: Timestamp) -> StoreResult<()> {
        sqlx::query("INSERT INTO fund_members (shop_id, joined_at) VALUES ($1, $2)")
            .bind(shop.0)
            .bind(at.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn fund_member_since(&mut self, shop: ShopId) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT joined_at FROM fund_members WHERE shop_id = $1")
            .bind(shop.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(at.map(Timestamp))
    }

    async fn count_fund_members(&mut self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM fund_members").fetch_one(&mut *self.tx).await.map_err(map_sqlx)
    }

    async fn fund_receivables(&mut self) -> StoreResult<Vec<(ShopId, Money)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT account, balance_fen FROM account_balances WHERE account >= $1 AND account < $2")
                .bind(rows::FUND_RECEIVABLE_FROM)
                .bind(rows::FUND_RECEIVABLE_UNTIL)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(a, f)| match Account::parse_key(&a) {
                Some(Account::FundReceivable(shop)) => Ok((shop, Money::from_fen(f))),
                _ => Err(corrupt("account_balances.account")),
            })
            .collect()
    }

    async fn fund_advances(&mut self, limit: i64) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<rows::LedgerRow> = sqlx::query_as(rows::LEDGER_SELECT_FUND_ADVANCES)
            .bind(rows::FUND_RECEIVABLE_FROM)
            .bind(rows::FUND_RECEIVABLE_UNTIL)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(rows::ledger_entry).collect()
    }
}
