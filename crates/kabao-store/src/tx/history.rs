//! The history reads of a transaction: a buyer's orders and wallet movements page by page (keyset, newest
//! first), and a shop's daily figures over a window for the merchant dashboard. Reads only.

use crate::{Order, StoreResult};
use async_trait::async_trait;
use kabao_core::ledger::{Account, TxKind};
use kabao_core::order::OrderState;
use kabao_core::{Money, ShopId, Timestamp, UserId};

/// One ledger movement of an account, with the order it belongs to (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// The ledger entry's id: the keyset cursor of the next page.
    pub entry_id: i64,
    pub kind: TxKind,
    /// Added to the account (negative: taken from it).
    pub amount: Money,
    pub at: Timestamp,
    pub order_no: Option<String>,
}

/// A count and an amount on one China day (days since 1970-01-01 in UTC+8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFigure {
    pub day: i64,
    pub count: i64,
    pub amount: Money,
}

/// What the merchant dashboard reads for a shop since a moment, grouped by China day (ascending).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopFigures {
    /// Orders paid (by `paid_at`) and their amount.
    pub sales: Vec<DayFigure>,
    /// Claims filed (by `created_at`); amount zero.
    pub claims: Vec<DayFigure>,
    /// Claims filed in the window and re-issued: (day filed, milliseconds from filing to the re-issue).
    pub reissue_ms: Vec<(i64, i64)>,
    /// Refund transactions of the shop's orders: count and the amount paid back to buyers.
    pub refunds: Vec<DayFigure>,
}

/// Milliseconds China time is ahead of UTC, for grouping by China day in SQL.
pub const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// The China day a moment falls on.
pub fn china_day(at: Timestamp) -> i64 {
    (at.0 + CHINA_OFFSET_MS).div_euclid(DAY_MS)
}

#[async_trait]
pub trait HistoryTx: Send {
    /// A buyer's orders, newest first, with an id below `before` (a keyset cursor; `None`: from the newest),
    /// optionally only those in one state.
    async fn buyer_orders_page(
        &mut self,
        buyer: UserId,
        state: Option<OrderState>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Order>>;
    /// An account's ledger movements, newest first, with an entry id below `before` (`None`: from the newest).
    async fn account_movements(
        &mut self,
        account: Account,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Movement>>;
    /// A shop's daily sales, claims, re-issue times and refunds since `since`.
    async fn shop_figures(&mut self, shop: ShopId, since: Timestamp) -> StoreResult<ShopFigures>;
}

// The SQL both backends run (the same text: the day arithmetic is integer division of BIGINT in both).
pub(crate) const MOVEMENTS_SQL: &str = "SELECT e.id, t.kind, e.amount_fen, t.created_at, o.order_no \
     FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id LEFT JOIN orders o ON o.id = t.order_id \
     WHERE e.account = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3";
pub(crate) const SALES_SQL: &str = "SELECT (paid_at + 28800000) / 86400000 AS day, COUNT(*), \
     CAST(SUM(amount_fen) AS BIGINT) FROM orders WHERE shop_id = $1 AND paid_at >= $2 GROUP BY day ORDER BY day";
pub(crate) const CLAIMS_SQL: &str = "SELECT (created_at + 28800000) / 86400000 AS day, COUNT(*), CAST(0 AS BIGINT) \
     FROM claims WHERE shop_id = $1 AND created_at >= $2 GROUP BY day ORDER BY day";
pub(crate) const REISSUES_SQL: &str = "SELECT (created_at + 28800000) / 86400000, decided_at - created_at \
     FROM claims WHERE shop_id = $1 AND created_at >= $2 AND state = 'reissued' AND decided_at IS NOT NULL \
     ORDER BY created_at";
pub(crate) const REFUNDS_SQL: &str = "SELECT (t.created_at + 28800000) / 86400000 AS day, COUNT(DISTINCT t.id), \
     CAST(SUM(e.amount_fen) AS BIGINT) FROM ledger_txs t JOIN orders o ON o.id = t.order_id \
     JOIN ledger_entries e ON e.tx_id = t.id AND e.amount_fen > 0 \
     WHERE t.kind = 'refund' AND t.created_at >= $2 AND o.shop_id = $1 GROUP BY day ORDER BY day";

pub(crate) type MovementRow = (i64, String, i64, i64, Option<String>);

pub(crate) fn movement(r: MovementRow) -> StoreResult<Movement> {
    Ok(Movement {
        entry_id: r.0,
        kind: TxKind::parse(&r.1).ok_or_else(|| crate::errors::corrupt("ledger_txs.kind"))?,
        amount: Money::from_fen(r.2),
        at: Timestamp(r.3),
        order_no: r.4,
    })
}

pub(crate) fn day_figure(r: (i64, i64, i64)) -> DayFigure {
    DayFigure { day: r.0, count: r.1, amount: Money::from_fen(r.2) }
}
