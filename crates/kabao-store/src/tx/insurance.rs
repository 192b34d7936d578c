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
