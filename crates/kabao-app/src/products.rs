//! Products: a merchant's listings, and what buyers may see of them.

use crate::error::Problem;
use crate::error::Status;
use crate::App;
use kabao_core::catalog::{ProductDraft, ProductInput};
use kabao_core::user::Role;
use kabao_core::ProductId;
use kabao_store::{Product, Shop, TxMode, User};

fn invalid(e: kabao_core::catalog::CatalogError) -> Problem {
    Problem::from_localized(Status::BAD_REQUEST, &e)
}

/// A trial item (体验卡) is cheap and sold one at a time, so a first try costs the buyer little.
fn check_trial(state: &App, draft: &ProductDraft) -> Result<(), Problem> {
    if !draft.trial {
        return Ok(());
    }
    if draft.price > state.config.trial_max_price {
        return Err(Problem::bad_request(
            "product.trial_price",
            "price",
            format!("体验卡售价不能超过 {}", state.config.trial_max_price),
            format!("A trial item costs at most {}", state.config.trial_max_price),
        ));
    }
    if draft.max_per_order != 1 {
        return Err(Problem::bad_request(
            "product.trial_max_per_order",
            "max_per_order",
            "体验卡每单限购 1 件",
            "A trial item is sold one per order",
        ));
    }
    Ok(())
}

/// Creates a product in the merchant's shop.
pub async fn create(state: &App, merchant: &User, input: &ProductInput) -> Result<Product, Problem> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let draft = ProductDraft::parse(input).map_err(invalid)?;
    check_trial(state, &draft)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let id = tx.insert_product(shop.id, &draft, state.now()).await?;
    let p = tx.product_by_id(id).await?.ok_or_else(|| Problem::internal("product vanished"))?;
    tx.commit().await?;
    tracing::info!(product = %id, shop = %shop.id, "product created");
    Ok(p)
}

/// A product of the merchant's own shop; another shop's product is "not found", never "forbidden".
pub async fn owned(state: &App, merchant: &User, id: ProductId) -> Result<(Product, Shop), Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let p = tx.product_by_id(id).await?.ok_or_else(|| Problem::not_found("product.not_found"))?;
    let shop = tx.shop_by_id(p.shop_id).await?.ok_or_else(|| Problem::not_found("product.not_found"))?;
    if shop.owner_id != merchant.id {
        return Err(Problem::not_found("product.not_found"));
    }
    Ok((p, shop))
}

pub async fn update(state: &App, merchant: &User, id: ProductId, input: &ProductInput) -> Result<Product, Problem> {
    let draft = ProductDraft::parse(input).map_err(invalid)?;
    check_trial(state, &draft)?;
    owned(state, merchant, id).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.update_product(id, &draft, state.now()).await?;
    let p = tx.product_by_id(id).await?.ok_or_else(|| Problem::not_found("product.not_found"))?;
    tx.commit().await?;
    Ok(p)
}

pub async fn list_mine(state: &App, merchant: &User) -> Result<Vec<Product>, Problem> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.list_shop_products(shop.id).await?)
}

/// A product as a visitor may see it: unlisted products and those of suspended shops are visible only to
/// their owner (and admins).
pub async fn public(state: &App, id: ProductId, viewer: Option<&User>) -> Result<(Product, Shop), Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let p = tx.product_by_id(id).await?.ok_or_else(|| Problem::not_found("product.not_found"))?;
    let shop = tx.shop_by_id(p.shop_id).await?.ok_or_else(|| Problem::not_found("product.not_found"))?;
    let privileged = viewer.is_some_and(|u| u.id == shop.owner_id || u.role == Role::Admin);
    if (!p.listed || shop.suspended) && !privileged {
        return Err(Problem::not_found("product.not_found"));
    }
    Ok((p, shop))
}

/// Listed products of one shop, for its public page.
pub async fn listed_in_shop(state: &App, shop: &Shop) -> Result<Vec<Product>, Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.list_shop_products(shop.id).await?.into_iter().filter(|p| p.listed).collect())
}
