//! The insurance aggregate's part of a transaction: the 90-day claim window the premium model prices from.

use crate::StoreResult;
use async_trait::async_trait;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::Timestamp;

/// What warranty insurance (质保险) reads and writes.
#[async_trait]
pub trait InsuranceTx: Send {
    /// Claims filed and orders paid since `since`, of one product category (`None`: the whole platform). Both
    /// counts walk only the window, by the `claims (created_at)` and `orders (paid_at)` indexes.
    async fn claim_window(&mut self, category: Option<Category>, since: Timestamp) -> StoreResult<Sample>;
}
