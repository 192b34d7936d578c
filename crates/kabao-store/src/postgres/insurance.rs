//! PostgreSQL: the insurance claim window ([`InsuranceTx`]).

use super::PgTx;
use crate::errors::map_sqlx;
use crate::{
    rows, ClaimRecord, Cover, CoverKind, InsuranceBook, InsuranceTx, Payout, PayoutState, StoreError, StoreResult,
};
use async_trait::async_trait;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::ledger::OrderId;
use kabao_core::{Money, ShopId, Timestamp};
use std::sync::LazyLock;

#[async_trait]
impl InsuranceTx for PgTx {
    async fn insurance_receivables(&mut self) -> StoreResult<Money> {
        // The predicate is the partial index's, word for word, so the planner uses it.
        let fen: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(balance_fen), 0) AS BIGINT) FROM account_balances \
             WHERE account LIKE 'insurance_receivable:%'",
        )
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(Money::from_fen(fen))
    }

    async fn claim_window(
        &mut self,
        category: Option<Category>,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Sample> {
        // A NULL category (`$2`) selects the whole platform; the window bound leads, so the time indexes
        // drive both counts.
        let category = category.map(Category::as_str);
        let (claims,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM claims c JOIN orders o ON o.id = c.order_id JOIN products p ON p.id = o.product_id \
             WHERE c.created_at >= $1 AND c.created_at < $3 AND (CAST($2 AS TEXT) IS NULL OR p.category = $2)",
        )
        .bind(since.millis())
        .bind(category)
        .bind(until.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (orders,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM orders o JOIN products p ON p.id = o.product_id \
             WHERE o.paid_at >= $1 AND o.paid_at < $3 AND (CAST($2 AS TEXT) IS NULL OR p.category = $2)",
        )
        .bind(since.millis())
        .bind(category)
        .bind(until.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(Sample { claims: u64::try_from(claims).unwrap_or(0), orders: u64::try_from(orders).unwrap_or(0) })
    }

    async fn insert_cover(&mut self, cover: &Cover) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO insurance_covers (order_id, kind, premium_fen, extended_until, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(cover.order_id.0)
        .bind(cover.kind.as_str())
        .bind(cover.premium.fen())
        .bind(cover.extended_until.map(|t| t.millis()))
        .bind(cover.created_at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn cover_of(&mut self, order: OrderId) -> StoreResult<Option<Cover>> {
        let row: Option<(String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT kind, premium_fen, extended_until, created_at FROM insurance_covers WHERE order_id = $1",
        )
        .bind(order.0)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let Some((kind, premium, extended_until, created_at)) = row else { return Ok(None) };
        let kind =
            CoverKind::parse(&kind).ok_or_else(|| StoreError::Database(format!("unknown cover kind {kind:?}")))?;
        Ok(Some(Cover {
            order_id: order,
            kind,
            premium: Money::from_fen(premium),
            extended_until: extended_until.map(Timestamp),
            created_at: Timestamp(created_at),
        }))
    }

    async fn insurable_claims(&mut self, overdue_by: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM claims WHERE eligible \
                 AND order_id IN (SELECT order_id FROM insurance_covers WHERE kind = 'cover') \
                 AND NOT EXISTS (SELECT 1 FROM insurance_payouts p WHERE p.claim_id = claims.id) \
                 AND ((state = 'open' AND due_at <= $1) OR (state = 'remedy_failed' AND decided_at <= $1) \
                 OR (state IN ('open', 'awaiting_evidence') AND shop_id IN (SELECT id FROM shops WHERE suspended))) \
                 ORDER BY id LIMIT $2",
                rows::CLAIM_COLS
            )
        });
        let rows =
            sqlx::query(&SQL).bind(overdue_by.millis()).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::claim_from_row).collect()
    }

    async fn insert_payout(&mut self, payout: &Payout) -> StoreResult<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO insurance_payouts (claim_id, order_id, shop_id, amount_fen, state, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
        )
        .bind(payout.claim_id)
        .bind(payout.order_id.0)
        .bind(payout.shop_id.0)
        .bind(payout.amount.fen())
        .bind(payout.created_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(id)
    }

    async fn pending_payouts(&mut self, limit: i64) -> StoreResult<Vec<Payout>> {
        let rows: Vec<PayoutRow> = sqlx::query_as(&format!(
            "SELECT {PAYOUT_COLS} FROM insurance_payouts WHERE state = 'pending' ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter().map(payout_from_row).collect()
    }

    async fn decide_payout(&mut self, id: i64, to: PayoutState, at: Timestamp) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE insurance_payouts SET state = $1, decided_at = $2 WHERE id = $3 AND state = 'pending'")
                .bind(to.as_str())
                .bind(at.millis())
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn order_payouts(&mut self, order: OrderId) -> StoreResult<Vec<Payout>> {
        let rows: Vec<PayoutRow> =
            sqlx::query_as(&format!("SELECT {PAYOUT_COLS} FROM insurance_payouts WHERE order_id = $1 ORDER BY id"))
                .bind(order.0)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        rows.into_iter().map(payout_from_row).collect()
    }
    async fn insurance_book(&mut self, top_shops: i64) -> StoreResult<InsuranceBook> {
        use crate::tx::insurance::{book_by_category_sql, book_by_shop_sql, book_line};
        static BY_CATEGORY: LazyLock<String> = LazyLock::new(book_by_category_sql);
        static BY_SHOP: LazyLock<String> = LazyLock::new(book_by_shop_sql);
        type CategoryRow = (String, i64, i64, i64, i64, i64);
        let rows: Vec<CategoryRow> = sqlx::query_as(&BY_CATEGORY).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        let mut by_category = Vec::with_capacity(rows.len());
        for (category, a, b, c, d, e) in rows {
            let category = Category::parse(&category)
                .ok_or_else(|| StoreError::Database(format!("unknown category {category:?}")))?;
            by_category.push((category, book_line((a, b, c, d, e))));
        }
        type ShopRow = (i64, String, i64, i64, i64, i64, i64);
        let rows: Vec<ShopRow> =
            sqlx::query_as(&BY_SHOP).bind(top_shops).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        let by_shop =
            rows.into_iter().map(|(id, name, a, b, c, d, e)| (ShopId(id), name, book_line((a, b, c, d, e)))).collect();
        Ok(InsuranceBook { by_category, by_shop })
    }
}

const PAYOUT_COLS: &str = "id, claim_id, order_id, shop_id, amount_fen, state, created_at, decided_at";
type PayoutRow = (i64, i64, i64, i64, i64, String, i64, Option<i64>);

fn payout_from_row(r: PayoutRow) -> StoreResult<Payout> {
    let (id, claim_id, order_id, shop_id, amount, state, created_at, decided_at) = r;
    let state =
        PayoutState::parse(&state).ok_or_else(|| StoreError::Database(format!("unknown payout state {state:?}")))?;
    Ok(Payout {
        id,
        claim_id,
        order_id: OrderId(order_id),
        shop_id: ShopId(shop_id),
        amount: Money::from_fen(amount),
        state,
        created_at: Timestamp(created_at),
        decided_at: decided_at.map(Timestamp),
    })
}
