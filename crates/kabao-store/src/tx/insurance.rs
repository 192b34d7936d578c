//! The insurance aggregate's part of a transaction: the 90-day claim window the premium model prices from.

use crate::StoreResult;
use async_trait::async_trait;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::ledger::OrderId;
use kabao_core::{Money, Timestamp};

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
