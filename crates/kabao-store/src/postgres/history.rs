//! PostgreSQL: a buyer's order and wallet history and a shop's daily figures ([`HistoryTx`]).

use super::PgTx;
use crate::errors::map_sqlx;
use crate::tx::history::{self as h, DayFigure, Movement, ShopFigures};
use crate::{rows, HistoryTx, Order, StoreResult};
use async_trait::async_trait;
use kabao_core::ledger::Account;
use kabao_core::order::OrderState;
use kabao_core::{ShopId, Timestamp, UserId};
use std::sync::LazyLock;

#[async_trait]
impl HistoryTx for PgTx {
    async fn buyer_orders_page(
        &mut self,
        buyer: UserId,
        state: Option<OrderState>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Order>> {
        static ALL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM orders WHERE buyer_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3", rows::ORDER_COLS)
        });
        static ONE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM orders WHERE buyer_id = $1 AND state = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
                rows::ORDER_COLS
            )
        });
        let before = before.unwrap_or(i64::MAX);
        let rows = match state {
            None => sqlx::query(&ALL).bind(buyer.0).bind(before).bind(limit).fetch_all(&mut *self.tx).await,
            Some(s) => {
                sqlx::query(&ONE).bind(buyer.0).bind(s.as_str()).bind(before).bind(limit).fetch_all(&mut *self.tx).await
            }
        }
        .map_err(map_sqlx)?;
        rows.iter().map(rows::order_from_row).collect()
    }

    async fn account_movements(
        &mut self,
        account: Account,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Movement>> {
        let rows: Vec<h::MovementRow> = sqlx::query_as(h::MOVEMENTS_SQL)
            .bind(account.key())
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(h::movement).collect()
    }

    async fn shop_figures(&mut self, shop: ShopId, since: Timestamp) -> StoreResult<ShopFigures> {
        let mut days = Vec::new();
        for sql in [h::SALES_SQL, h::CLAIMS_SQL, h::REFUNDS_SQL] {
            let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sql)
                .bind(shop.0)
                .bind(since.millis())
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
            days.push(rows.into_iter().map(h::day_figure).collect::<Vec<DayFigure>>());
        }
        let reissue_ms: Vec<(i64, i64)> = sqlx::query_as(h::REISSUES_SQL)
            .bind(shop.0)
            .bind(since.millis())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let refunds = days.pop().unwrap_or_default();
        let claims = days.pop().unwrap_or_default();
        let sales = days.pop().unwrap_or_default();
        Ok(ShopFigures { sales, claims, reissue_ms, refunds })
    }
}
