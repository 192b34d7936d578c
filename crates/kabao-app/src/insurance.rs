//! Warranty insurance (质保险): the quote a buyer sees before paying, priced by `kabao_core::insurance` from the
//! category's 90-day claim window, the platform's, and the shop's trust score.
//!
//! The claim window is the 90 days that end at the start of the current hour. A window that has ended never
//! changes, so its counts are kept ([`WindowCache`]): a quote costs no count at all after the first of the hour,
//! and every instance sharing the database prices from the same counts (a quote from one and a checkout on
//! another agree).

use crate::products::ProductError;
use crate::trust::TrustError;
use crate::App;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::insurance::{self, Quote, QuoteError, QuoteInputs};
use kabao_core::{Lang, Localized, ProductId, Timestamp};
use kabao_store::{Product, Shop, StoreError, Tx, TxMode, User};
use std::collections::HashMap;
use std::sync::Mutex;

/// Why a product has no insurance quote.
#[derive(Debug, thiserror::Error)]
pub enum InsuranceError {
    #[error(transparent)]
    Product(#[from] ProductError),
    /// Insurance covers what the merchant's warranty policy promises; a product without one (无质保) has none.
    #[error("the product has no warranty policy to insure")]
    NoPolicy,
    #[error(transparent)]
    Quote(#[from] QuoteError),
    /// The premium the buyer accepted is not the premium now (the claim window or the shop's trust moved).
    #[error("the premium changed to {premium}")]
    PremiumChanged { premium: kabao_core::Money },
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for InsuranceError {
    fn code(&self) -> &'static str {
        match self {
            InsuranceError::Product(e) => e.code(),
            InsuranceError::NoPolicy => "insurance.no_policy",
            InsuranceError::Quote(e) => e.code(),
            InsuranceError::PremiumChanged { .. } => "insurance.premium_changed",
            InsuranceError::Trust(e) => e.code(),
            InsuranceError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            InsuranceError::PremiumChanged { .. } => Some("insurance_premium"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            InsuranceError::Product(e) => e.message(lang),
            InsuranceError::NoPolicy => lang
                .pick("该商品无质保，不能投保质保险", "This product has no warranty, so it cannot be insured")
                .into(),
            InsuranceError::Quote(e) => e.message(lang),
            InsuranceError::PremiumChanged { premium } => match lang {
                Lang::Zh => format!("质保险保费已变为 {premium}，请确认新的保费后重新下单"),
                Lang::En => format!("The insurance premium is now {premium}; please confirm it and order again"),
            },
            InsuranceError::Trust(e) => e.message(lang),
            InsuranceError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

const WINDOW_MS: i64 = insurance::WINDOW_DAYS as i64 * 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The counts of ended claim windows, by category (`None`: the platform) and window end. Only the current
/// hour's windows are kept: a new hour drops the previous one's.
#[derive(Default)]
pub struct WindowCache {
    counts: Mutex<HashMap<(Option<Category>, i64), Sample>>,
}

impl WindowCache {
    fn get(&self, key: (Option<Category>, i64)) -> Option<Sample> {
        self.counts.lock().ok()?.get(&key).copied()
    }

    fn keep(&self, key: (Option<Category>, i64), sample: Sample) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.retain(|(_, until), _| *until >= key.1);
            counts.insert(key, sample);
        }
    }
}

/// The claim window of `category` (`None`: the platform) ending at the start of `now`'s hour.
async fn window(
    state: &App,
    tx: &mut dyn Tx,
    category: Option<Category>,
    now: Timestamp,
) -> Result<Sample, StoreError> {
    let until = now.millis() - now.millis().rem_euclid(HOUR_MS);
    if let Some(sample) = state.insurance_windows.get((category, until)) {
        return Ok(sample);
    }
    let sample = tx.claim_window(category, Timestamp(until - WINDOW_MS), Timestamp(until)).await?;
    state.insurance_windows.keep((category, until), sample);
    Ok(sample)
}

/// The insurance quote of one unit of a product now, read in the caller's transaction.
pub async fn quote_in(state: &App, tx: &mut dyn Tx, product: &Product, shop: &Shop) -> Result<Quote, InsuranceError> {
    if product.warranty.is_none() {
        return Err(InsuranceError::NoPolicy);
    }
    let now = state.now();
    let category = window(state, tx, Some(product.category), now).await?;
    let platform = window(state, tx, None, now).await?;
    let trust = crate::trust::inputs_in(tx, &crate::trust::Subject::from(shop), now).await?;
    let trust_score = kabao_core::trust::compute(&trust).score;
    Ok(insurance::quote(&QuoteInputs { price: product.price, category, platform, trust_score })?)
}

/// The quote a visitor sees on a product they may see (`GET /api/v1/products/{id}/insurance-quote`, the page).
pub async fn quote_for(
    state: &App,
    product: ProductId,
    viewer: Option<&User>,
) -> Result<(Product, Quote), InsuranceError> {
    let (product, shop) = crate::products::public(state, product, viewer).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let quote = quote_in(state, &mut *tx, &product, &shop).await?;
    Ok((product, quote))
}

/// The premium a checkout of `quantity` units costs now, checked against the one the buyer accepted: nothing is
/// created at a premium the buyer did not see.
pub async fn premium_for_checkout(
    state: &App,
    product: &Product,
    shop: &Shop,
    quantity: i64,
    accepted: kabao_core::Money,
) -> Result<kabao_core::Money, InsuranceError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let quote = quote_in(state, &mut *tx, product, shop).await?;
    drop(tx);
    let premium = quote.premium.checked_mul(quantity).ok_or(QuoteError::Overflow)?;
    if premium != accepted {
        return Err(InsuranceError::PremiumChanged { premium });
    }
    Ok(premium)
}

/// An order's premium, if it was insured, read in the caller's transaction.
pub async fn premium_of(
    tx: &mut dyn Tx,
    order: kabao_core::ledger::OrderId,
) -> Result<Option<kabao_core::Money>, StoreError> {
    Ok(tx.cover_of(order).await?.map(|c| c.premium))
}

/// What paying an order costs: its amount plus its premium, if insured.
pub async fn amount_due(tx: &mut dyn Tx, order: &kabao_store::Order) -> Result<kabao_core::Money, StoreError> {
    let premium = premium_of(tx, order.id).await?.unwrap_or(kabao_core::Money::ZERO);
    order.amount.checked_add(premium).ok_or_else(|| StoreError::Database("order amount overflow".into()))
}
