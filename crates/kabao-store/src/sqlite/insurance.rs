//! SQLite: the insurance claim window ([`InsuranceTx`]).

use super::SqliteTx;
use crate::errors::map_sqlx;
use crate::{lite, InsuranceTx, StoreResult};
use async_trait::async_trait;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::Timestamp;

#[async_trait]
impl InsuranceTx for SqliteTx {
    async fn claim_window(&mut self, category: Option<Category>, since: Timestamp) -> StoreResult<Sample> {
        // A NULL category (`$2`) selects the whole platform; the window bound leads, so the time indexes
        // drive both counts.
        let category = category.map(Category::as_str);
        let (claims,): (i64,) = lite::query_as(
            "SELECT COUNT(*) FROM claims c JOIN orders o ON o.id = c.order_id JOIN products p ON p.id = o.product_id \
             WHERE c.created_at >= $1 AND (CAST($2 AS TEXT) IS NULL OR p.category = $2)",
        )
        .bind(since.millis())
        .bind(category)
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        let (orders,): (i64,) = lite::query_as(
            "SELECT COUNT(*) FROM orders o JOIN products p ON p.id = o.product_id \
             WHERE o.paid_at >= $1 AND (CAST($2 AS TEXT) IS NULL OR p.category = $2)",
        )
        .bind(since.millis())
        .bind(category)
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(Sample { claims: u64::try_from(claims).unwrap_or(0), orders: u64::try_from(orders).unwrap_or(0) })
    }
}
