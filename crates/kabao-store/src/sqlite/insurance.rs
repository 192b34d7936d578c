//! SQLite: the insurance claim window ([`InsuranceTx`]).

use super::SqliteTx;
use crate::errors::map_sqlx;
use crate::{lite, Cover, CoverKind, InsuranceTx, StoreError, StoreResult};
use async_trait::async_trait;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::ledger::OrderId;
use kabao_core::{Money, Timestamp};

#[async_trait]
impl InsuranceTx for SqliteTx {
    async fn claim_window(
        &mut self,
        category: Option<Category>,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Sample> {
        // A NULL category (`$2`) selects the whole platform; the window bound leads, so the time indexes
        // drive both counts.
        let category = category.map(Category::as_str);
        let (claims,): (i64,) = lite::query_as(
            "SELECT COUNT(*) FROM claims c JOIN orders o ON o.id = c.order_id JOIN products p ON p.id = o.product_id \
             WHERE c.created_at >= $1 AND c.created_at < $3 AND (CAST($2 AS TEXT) IS NULL OR p.category = $2)",
        )
        .bind(since.millis())
        .bind(category)
        .bind(until.millis())
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        let (orders,): (i64,) = lite::query_as(
            "SELECT COUNT(*) FROM orders o JOIN products p ON p.id = o.product_id \
             WHERE o.paid_at >= $1 AND o.paid_at < $3 AND (CAST($2 AS TEXT) IS NULL OR p.category = $2)",
        )
        .bind(since.millis())
        .bind(category)
        .bind(until.millis())
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(Sample { claims: u64::try_from(claims).unwrap_or(0), orders: u64::try_from(orders).unwrap_or(0) })
    }

    async fn insert_cover(&mut self, cover: &Cover) -> StoreResult<()> {
        lite::query(
            "INSERT INTO insurance_covers (order_id, kind, premium_fen, extended_until, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(cover.order_id.0)
        .bind(cover.kind.as_str())
        .bind(cover.premium.fen())
        .bind(cover.extended_until.map(|t| t.millis()))
        .bind(cover.created_at.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn cover_of(&mut self, order: OrderId) -> StoreResult<Option<Cover>> {
        let row: Option<(String, i64, Option<i64>, i64)> = lite::query_as(
            "SELECT kind, premium_fen, extended_until, created_at FROM insurance_covers WHERE order_id = $1",
        )
        .bind(order.0)
        .fetch_optional(&mut self.tx)
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
}
