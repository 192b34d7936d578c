//! Public catalog: listed products and shops, readable without a token.

use super::views::{Page, ProductView, ShopView};
use super::ApiJson;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::SharedState;
use axum::extract::State;
use kabao_core::{ProductId, ShopId};
use kabao_store::TxMode;

/// Listed products of shops in good standing, newest first.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(Page), responses((status = 200, body = [ProductView])))]
pub async fn list_products(
    State(state): State<SharedState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<ApiJson<Vec<ProductView>>, ApiError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let listings =
        tx.list_listed_products(page.limit.unwrap_or(50).clamp(1, 200), page.offset.unwrap_or(0).max(0)).await?;
    Ok(ApiJson(listings.iter().map(|l| ProductView::from(&l.product)).collect()))
}

/// One listed product, with its exact stock.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = ProductView), (status = 404, description = "no such listed product")))]
pub async fn get_product(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<ProductView>, ApiError> {
    let (p, _) = crate::products::public(&state, ProductId(id), None).await?;
    Ok(ApiJson(ProductView::from(&p)))
}

/// One shop in good standing.
#[utoipa::path(get, path = "/api/v1/shops/{id}", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = ShopView), (status = 404, description = "no such shop")))]
pub async fn get_shop(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<ShopView>, ApiError> {
    let s = crate::shops::public_shop(&state, ShopId(id), None).await?;
    Ok(ApiJson(ShopView::from(&s)))
}
