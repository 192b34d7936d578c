//! Public catalog: listed products and shops, readable without a token.

use super::views::{ProductView, ShopView};
use super::ApiJson;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::SharedState;
use axum::extract::State;
use kabao_core::{ProductId, ShopId};

/// A page of the catalog: `limit` 1–200 (default 50), `offset` ≥ 0, in the `sort` order.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// newest (default) or trust (highest shop trust score first).
    #[param(value_type = Option<super::contract::ListingSortName>)]
    pub sort: Option<String>,
}

/// A listed product with its shop's name and trust score.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ListingView {
    #[serde(flatten)]
    pub product: ProductView,
    pub shop_name: String,
    #[schema(value_type = super::contract::CertificationName)]
    pub shop_certification: String,
    /// The shop's trust score (0–100) and level.
    #[schema(maximum = 100)]
    pub trust_score: u8,
    #[schema(value_type = super::contract::TrustLevelName)]
    pub trust_level: String,
}

/// Listed products of shops in good standing, newest first or by the shop's trust score.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ListQuery),
    responses((status = 200, body = [ListingView]), (status = 400, description = "bad sort, limit or offset")))]
pub async fn list_products(
    State(state): State<SharedState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<ApiJson<Vec<ListingView>>, ApiError> {
    let order = kabao_app::trust::ListingOrder::parse(q.sort.as_deref())?;
    let (limit, offset) = super::views::page_bounds(q.limit, q.offset, 50, 200)?;
    let rows = kabao_app::trust::listing(&state, order, limit, offset).await?;
    Ok(ApiJson(
        rows.iter()
            .map(|(l, t)| ListingView {
                product: ProductView::from(&l.product),
                shop_name: l.shop_name.clone(),
                shop_certification: l.shop_certification.as_str().into(),
                trust_score: t.score,
                trust_level: t.level.as_str().into(),
            })
            .collect(),
    ))
}

/// One listed product, with its exact stock.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = ProductView), (status = 404, description = "no such listed product")))]
pub async fn get_product(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<ProductView>, ApiError> {
    let (p, _) = kabao_app::products::public(&state, ProductId(id), None).await?;
    Ok(ApiJson(ProductView::from(&p)))
}

/// One shop in good standing.
#[utoipa::path(get, path = "/api/v1/shops/{id}", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = ShopView), (status = 404, description = "no such shop")))]
pub async fn get_shop(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<ShopView>, ApiError> {
    let s = kabao_app::shops::public_shop(&state, ShopId(id), None).await?;
    Ok(ApiJson(ShopView::from(&s)))
}
