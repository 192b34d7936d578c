//! The insurance aggregate's part of a transaction: the 90-day claim window the premium model prices from.

use crate::{ClaimRecord, StoreResult};
use async_trait::async_trait;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::ledger::OrderId;
use kabao_core::{Money, ShopId, Timestamp};

/// What warranty insurance (质保险) reads and writes.
#[async_trait]
pub trait InsuranceTx: Send {
    /// Claims filed and orders paid in `[since, until)`, of one product category (`None`: the whole platform).
    /// Both counts walk only the window, by the `claims (created_at)` and `orders (paid_at)` indexes. A window
    /// that ended in the past never changes, so callers may keep its counts.
    async fn claim_window(
        &mut self,
        category: Option<Category>,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Sample>;
    /// Stores an order's cover; Conflict `"insurance_covers.order"` if it has one.
    async fn insert_cover(&mut self, cover: &Cover) -> StoreResult<()>;
    async fn cover_of(&mut self, order: OrderId) -> StoreResult<Option<Cover>>;

    // ---- payouts (migration 0019) ----
    /// Eligible claims on orders with a `cover` that have no payout yet and that the normal remedy did not
    /// settle: open with the merchant's deadline at or before `overdue_by`, remedy failed at or before
    /// `overdue_by`, or open (or awaiting evidence) on a suspended shop. Oldest first.
    async fn insurable_claims(&mut self, overdue_by: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// Stores a pending payout and returns its id. Conflict `"insurance_payouts.claim"`: the claim has one.
    async fn insert_payout(&mut self, payout: &Payout) -> StoreResult<i64>;
    /// Pending payouts, oldest first.
    async fn pending_payouts(&mut self, limit: i64) -> StoreResult<Vec<Payout>>;
    /// Compare-and-set pending → `to` (paid or cancelled); false (and no change) if it was not pending.
    async fn decide_payout(&mut self, id: i64, to: PayoutState, at: Timestamp) -> StoreResult<bool>;
    /// An order's payouts, oldest first.
    async fn order_payouts(&mut self, order: OrderId) -> StoreResult<Vec<Payout>>;
    /// The sum of every shop's `insurance_receivable` balance (what shops owe the pool, ≤ 0), read from a partial
    /// index of those accounts only: its cost follows the shops that owe, not the ledger's size.
    async fn insurance_receivables(&mut self) -> StoreResult<Money>;

    // ---- the book (admin) ----
    /// The insurance book: the pool's movements (premiums net of premium refunds, payouts, recoveries booked into
    /// the pool) and the pending payouts, by product category (at most [`Category::ALL`] rows) and for the
    /// `top_shops` shops with the most premium (ties by shop id). Cost: one pass over the pool's ledger entries
    /// (`ledger_entries (account, id)` index) per grouping, plus one indexed look-up of pending payouts per
    /// output row; nothing is written.
    async fn insurance_book(&mut self, top_shops: i64) -> StoreResult<InsuranceBook>;
}

/// The insurance book's figures for one category or shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BookLine {
    /// Premiums paid into the pool less premiums refunded.
    pub premiums: Money,
    pub payouts: Money,
    /// Recoveries booked into the pool (from escrow, or as a receivable on the shop).
    pub recoveries: Money,
    pub pending_count: i64,
    pub pending_amount: Money,
}

/// What [`InsuranceTx::insurance_book`] reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InsuranceBook {
    /// Categories with any pool movement, in [`Category::as_str`] order.
    pub by_category: Vec<(Category, BookLine)>,
    /// Shop, shop name, figures; most premium first.
    pub by_shop: Vec<(ShopId, String, BookLine)>,
}

/// The book's sums over the pool's ledger entries (`e`, `t` its transaction) of insured orders (`o`, `p` its
/// product). The pool's entries are positive for premiums and recoveries, negative for refunds and payouts.
pub(crate) const BOOK_SUMS: &str = "\
    CAST(SUM(CASE WHEN t.kind IN ('insurance_premium', 'insurance_refund') THEN e.amount_fen ELSE 0 END) AS BIGINT), \
    CAST(SUM(CASE WHEN t.kind = 'insurance_payout' THEN -e.amount_fen ELSE 0 END) AS BIGINT), \
    CAST(SUM(CASE WHEN t.kind = 'insurance_recovery' THEN e.amount_fen ELSE 0 END) AS BIGINT)";
pub(crate) const BOOK_FROM: &str = "FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id \
    JOIN orders o ON o.id = t.order_id JOIN products p ON p.id = o.product_id";

pub(crate) fn book_by_category_sql() -> String {
    format!(
        "SELECT p.category, {BOOK_SUMS}, \
         (SELECT COUNT(*) FROM insurance_payouts ip JOIN orders o2 ON o2.id = ip.order_id \
          JOIN products p2 ON p2.id = o2.product_id WHERE ip.state = 'pending' AND p2.category = p.category), \
         (SELECT CAST(COALESCE(SUM(ip.amount_fen), 0) AS BIGINT) FROM insurance_payouts ip \
          JOIN orders o2 ON o2.id = ip.order_id JOIN products p2 ON p2.id = o2.product_id \
          WHERE ip.state = 'pending' AND p2.category = p.category) \
         {BOOK_FROM} WHERE e.account = 'insurance_pool' GROUP BY p.category ORDER BY p.category"
    )
}

pub(crate) fn book_by_shop_sql() -> String {
    format!(
        "SELECT o.shop_id, s.name, {BOOK_SUMS}, \
         (SELECT COUNT(*) FROM insurance_payouts ip WHERE ip.state = 'pending' AND ip.shop_id = o.shop_id), \
         (SELECT CAST(COALESCE(SUM(ip.amount_fen), 0) AS BIGINT) FROM insurance_payouts ip \
          WHERE ip.state = 'pending' AND ip.shop_id = o.shop_id) \
         {BOOK_FROM} JOIN shops s ON s.id = o.shop_id WHERE e.account = 'insurance_pool' \
         GROUP BY o.shop_id, s.name ORDER BY 3 DESC, o.shop_id LIMIT $1"
    )
}

/// A row of [`book_by_category_sql`] (category) or [`book_by_shop_sql`] (after shop id and name).
pub(crate) type BookSums = (i64, i64, i64, i64, i64);

pub(crate) fn book_line((premiums, payouts, recoveries, pending_count, pending): BookSums) -> BookLine {
    BookLine {
        premiums: Money::from_fen(premiums),
        payouts: Money::from_fen(payouts),
        recoveries: Money::from_fen(recoveries),
        pending_count,
        pending_amount: Money::from_fen(pending),
    }
}

/// Where an insurance payout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutState {
    /// The pool could not cover it yet: queued, shown to the buyer.
    Pending,
    Paid,
    /// The claim was remedied by other means while the payout waited.
    Cancelled,
}

impl PayoutState {
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutState::Pending => "pending",
            PayoutState::Paid => "paid",
            PayoutState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<PayoutState> {
        [PayoutState::Pending, PayoutState::Paid, PayoutState::Cancelled].into_iter().find(|k| k.as_str() == s)
    }
}

/// A claim taken over by warranty insurance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    /// Ignored on insert.
    pub id: i64,
    pub claim_id: i64,
    pub order_id: OrderId,
    pub shop_id: ShopId,
    pub amount: Money,
    pub state: PayoutState,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// What kind of cover an order bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverKind {
    /// Warranty insurance over the merchant's window.
    Cover,
    /// Extended warranty (延保): the platform's window after the merchant's.
    Extension,
}

impl CoverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverKind::Cover => "cover",
            CoverKind::Extension => "extension",
        }
    }
    pub fn parse(s: &str) -> Option<CoverKind> {
        [CoverKind::Cover, CoverKind::Extension].into_iter().find(|k| k.as_str() == s)
    }
}

/// An insured order's cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    pub order_id: OrderId,
    pub kind: CoverKind,
    pub premium: Money,
    pub extended_until: Option<Timestamp>,
    pub created_at: Timestamp,
}
