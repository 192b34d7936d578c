//! What a transaction can do, one trait per aggregate, so "the claim queries" are one trait here and one file
//! per backend (`sqlite/claims.rs`, `postgres/claims.rs`). [`Tx`] is all of them plus `commit`.
//!
//! Callers hold a `Box<dyn Tx>` (or `&mut dyn Tx`) and call any aggregate's methods on it without importing
//! that aggregate's trait: methods of a trait object's supertraits resolve like its own.

mod catalog;
pub(crate) mod claims;
mod email;
mod finance;
pub(crate) mod history;
mod idempotency;
pub(crate) mod insurance;
mod jobs;
mod keyring;
pub(crate) mod keys;
mod orders;
pub(crate) mod promotions;
mod reconcile;
mod refunds;
mod shops;
pub(crate) mod throttles;
pub(crate) mod trust;
mod users;
mod webhooks;

use crate::StoreResult;
use async_trait::async_trait;
pub use catalog::CatalogTx;
pub use claims::{ClaimsTx, QueueKey};
pub use email::{EmailToken, EmailTokenPurpose, EmailTx};
pub use finance::FinanceTx;
pub use history::{china_day, DayFigure, HistoryTx, Movement, ShopFigures};
pub use idempotency::IdempotencyTx;
pub use insurance::{BookLine, Cover, CoverKind, InsuranceBook, InsuranceTx, Payout, PayoutState};
pub use jobs::JobsTx;
pub use keyring::KeyringTx;
pub use keys::KeysTx;
pub use orders::OrdersTx;
pub use promotions::{Coupon, CouponTake, OrderPricing, PromotionsTx, VariantRow};
pub use reconcile::{Finding, FindingKind, NewFinding, ReconcileTx, TransferDue};
pub use refunds::{GatewayRefund, GatewayRefundState, NewGatewayRefund, RefundAttempt, RefundsTx};
pub use shops::ShopsTx;
pub use throttles::ThrottlesTx;
pub use trust::TrustTx;
pub use users::UsersTx;
pub use webhooks::WebhooksTx;

/// One transaction. All reads see one snapshot; all writes land together on commit.
#[async_trait]
pub trait Tx:
    UsersTx
    + ShopsTx
    + KeysTx
    + OrdersTx
    + FinanceTx
    + ClaimsTx
    + TrustTx
    + JobsTx
    + ThrottlesTx
    + IdempotencyTx
    + KeyringTx
    + InsuranceTx
    + WebhooksTx
    + RefundsTx
    + ReconcileTx
    + PromotionsTx
    + HistoryTx
    + EmailTx
    + CatalogTx
    + Send
{
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
