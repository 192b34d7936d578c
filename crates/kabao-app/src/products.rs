//! Products: a merchant's listings, and what buyers may see of them.

use crate::shops::ShopError;
use crate::App;
use kabao_core::catalog::{CatalogError, GoodsKind, ProductDraft, ProductInput};
use kabao_core::user::Role;
use kabao_core::{Lang, Localized, Money, ProductId};
use kabao_store::{Product, Shop, StoreError, TxMode, User};

/// Why a product could not be created, changed or shown.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// No such product, another shop's product, or one the viewer may not see.
    #[error("product not found")]
    NotFound,
    #[error("a trial item costs at most {max}")]
    TrialPriceTooHigh { max: Money },
    #[error("a trial item is sold one per order")]
    TrialMaxPerOrder,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Shop(#[from] ShopError),
    /// A row written in this transaction could not be read back.
    #[error("product {0} vanished")]
    Vanished(ProductId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for ProductError {
    fn code(&self) -> &'static str {
        match self {
            ProductError::NotFound => "product.not_found",
            ProductError::TrialPriceTooHigh { .. } => "product.trial_price",
            ProductError::TrialMaxPerOrder => "product.trial_max_per_order",
            ProductError::Catalog(e) => e.code(),
            ProductError::Shop(e) => e.code(),
            ProductError::Vanished(_) | ProductError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            ProductError::TrialPriceTooHigh { .. } => Some("price"),
            ProductError::TrialMaxPerOrder => Some("max_per_order"),
            ProductError::Catalog(e) => e.field(),
            ProductError::Shop(e) => e.field(),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            ProductError::NotFound => lang.pick("找不到该内容", "Not found").into(),
            ProductError::TrialPriceTooHigh { max } => match lang {
                Lang::Zh => format!("体验卡售价不能超过 {max}"),
                Lang::En => format!("A trial item costs at most {max}"),
            },
            ProductError::TrialMaxPerOrder => {
                lang.pick("体验卡每单限购 1 件", "A trial item is sold one per order").into()
            }
            ProductError::Catalog(e) => e.message(lang),
            ProductError::Shop(e) => e.message(lang),
            ProductError::Vanished(_) | ProductError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// A trial item (体验卡) is cheap and sold one at a time, so a first try costs the buyer little.
fn check_trial(state: &App, draft: &ProductDraft) -> Result<(), ProductError> {
    if !draft.trial {
        return Ok(());
    }
    if draft.price > state.config.trial_max_price {
        return Err(ProductError::TrialPriceTooHigh { max: state.config.trial_max_price });
    }
    if draft.max_per_order != 1 {
        return Err(ProductError::TrialMaxPerOrder);
    }
    Ok(())
}

/// A product whose title, description or delivery text trips the risk scanner is saved but held for review: not
/// listed, whatever the merchant asked. Returns the rules that held it (empty when it is clean).
fn hold_if_risky(state: &App, draft: &mut ProductDraft, delivery_text: Option<&str>) -> Vec<&'static str> {
    let mut rules = crate::listing::rules(state, &[draft.title.as_str(), draft.description.as_str()]);
    if let Some(text) = delivery_text {
        for rule in crate::listing::delivery_rules(&crate::chat::scan_config(state), text) {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
    if !rules.is_empty() {
        draft.listed = false;
        tracing::warn!(rules = ?rules, "product listing held for review");
    }
    rules
}

/// Creates a product in the merchant's shop.
pub async fn create(state: &App, merchant: &User, input: &ProductInput) -> Result<Product, ProductError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut draft = ProductDraft::parse(input)?;
    check_trial(state, &draft)?;
    let wanted = draft.listed;
    let held = hold_if_risky(state, &mut draft, None);
    let mut tx = state.store.begin(TxMode::Write).await?;
    let id = tx.insert_product(shop.id, &draft, state.now()).await?;
    if !held.is_empty() {
        tx.insert_risk_event(&crate::listing::event(crate::listing::PRODUCT, shop.id, merchant.id, &held, state.now()))
            .await?;
        // Held only when the merchant asked to list it: a dismissal then lists it, as they asked.
        if wanted {
            tx.set_product_hold(id, crate::listing::held_json(&held).as_deref(), false).await?;
        }
    }
    let p = tx.product_by_id(id).await?.ok_or(ProductError::Vanished(id))?;
    tx.commit().await?;
    tracing::info!(product = %id, shop = %shop.id, "product created");
    Ok(p)
}

/// A product of the merchant's own shop; another shop's product is "not found", never "forbidden".
pub async fn owned(state: &App, merchant: &User, id: ProductId) -> Result<(Product, Shop), ProductError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let p = tx.product_by_id(id).await?.ok_or(ProductError::NotFound)?;
    let shop = tx.shop_by_id(p.shop_id).await?.ok_or(ProductError::NotFound)?;
    if shop.owner_id != merchant.id {
        return Err(ProductError::NotFound);
    }
    Ok((p, shop))
}

pub async fn update(
    state: &App,
    merchant: &User,
    id: ProductId,
    input: &ProductInput,
) -> Result<Product, ProductError> {
    let mut draft = ProductDraft::parse(input)?;
    check_trial(state, &draft)?;
    let (before, shop) = owned(state, merchant, id).await?;
    let wanted = draft.listed;
    let mut tx = state.store.begin(TxMode::Write).await?;
    // A shared secret is the product's delivery text: a clean title does not list a product whose secret is held.
    let secret = if before.kind == GoodsKind::Shared && draft.kind == GoodsKind::Shared {
        crate::inventory::open_shared_secret(&mut *tx, &state.keyring, &before).await.unwrap_or_else(|e| {
            tracing::warn!(product = %id, error = %e, "shared secret could not be opened for the listing scan");
            None
        })
    } else {
        None
    };
    let held = hold_if_risky(state, &mut draft, secret.as_deref().map(|s| s.as_str()));
    tx.update_product(id, &draft, state.now()).await?;
    let hold = if held.is_empty() { None } else { crate::listing::held_json(&held).filter(|_| wanted) };
    tx.set_product_hold(id, hold.as_deref(), draft.listed).await?;
    if !held.is_empty() {
        tx.insert_risk_event(&crate::listing::event(crate::listing::PRODUCT, shop.id, merchant.id, &held, state.now()))
            .await?;
    }
    let p = tx.product_by_id(id).await?.ok_or(ProductError::NotFound)?;
    tx.commit().await?;
    Ok(p)
}

pub async fn list_mine(state: &App, merchant: &User) -> Result<Vec<Product>, ShopError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.list_shop_products(shop.id).await?)
}

/// A product as a visitor may see it: unlisted products and those of suspended shops or shops held for review
/// are visible only to their owner (and admins).
pub async fn public(state: &App, id: ProductId, viewer: Option<&User>) -> Result<(Product, Shop), ProductError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    public_in(&mut *tx, id, viewer).await
}

/// [`public`] in the caller's transaction, for a use case that reads more beside it.
pub async fn public_in(
    tx: &mut dyn kabao_store::Tx,
    id: ProductId,
    viewer: Option<&User>,
) -> Result<(Product, Shop), ProductError> {
    let p = tx.product_by_id(id).await?.ok_or(ProductError::NotFound)?;
    let shop = tx.shop_by_id(p.shop_id).await?.ok_or(ProductError::NotFound)?;
    let privileged = viewer.is_some_and(|u| u.id == shop.owner_id || u.role == Role::Admin);
    if (!p.listed || shop.suspended || !shop.held_rules.is_empty()) && !privileged {
        return Err(ProductError::NotFound);
    }
    Ok((p, shop))
}

/// Listed products of one shop, for its public page; variants (面值) are shown on their listing's page instead.
/// None while the shop is held for review.
pub async fn listed_in_shop(state: &App, shop: &Shop) -> Result<Vec<Product>, StoreError> {
    if !shop.held_rules.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = state.store.begin(TxMode::Read).await?;
    let variants = tx.variant_products_of_shop(shop.id).await?;
    Ok(tx.list_shop_products(shop.id).await?.into_iter().filter(|p| p.listed && !variants.contains(&p.id)).collect())
}
