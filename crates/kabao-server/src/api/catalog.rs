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

/// A catalog page: search (`q`, matched against product and shop names; two Chinese characters are enough),
/// `category`, `sort`, and `cursor` (the `next_cursor` of the previous page, opaque); `limit` 1–100 (default 24).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    /// Words to find in product titles and shop names (at most 64 characters).
    #[param(max_length = 64)]
    pub q: Option<String>,
    #[param(value_type = Option<super::contract::CategoryName>)]
    pub category: Option<String>,
    /// relevance (the default with `q`), newest (the default without), price_asc, price_desc, sales, trust.
    #[param(value_type = Option<super::contract::CatalogSortName>)]
    pub sort: Option<String>,
    /// Where the page starts: the previous page's `next_cursor`, with the same `q`, `category` and `sort`.
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A picture's address and size.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PictureView {
    /// Hex SHA-256 of the stored bytes.
    pub hash: String,
    /// `/media/{hash}.{ext}`, cached for a year (the address changes when the picture does).
    pub url: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
}

impl From<&kabao_store::MediaMeta> for PictureView {
    fn from(m: &kabao_store::MediaMeta) -> PictureView {
        PictureView {
            hash: m.hash.clone(),
            url: format!("/media/{}.{}", m.hash, m.ext()),
            mime: m.mime.clone(),
            width: m.width,
            height: m.height,
        }
    }
}

/// A listing in a catalog page: the product, its shop, its units sold and its cover picture.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CatalogItemView {
    #[serde(flatten)]
    pub listing: ListingView,
    /// Units sold in paid orders.
    pub sales_count: i64,
    /// For a listing with variants (bought only through one of them): the lowest price among its listed variants,
    /// what the price sorts order it by ("¥x 起"). Null for a product sold as it is, at `price_fen`.
    pub from_price_fen: Option<i64>,
    pub cover: Option<PictureView>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CatalogPageView {
    pub items: Vec<CatalogItemView>,
    /// Pass as `cursor` for the next page; null on the last page. Products added meanwhile never make a page
    /// repeat or skip one (keyset pagination on the sort key and the product id).
    pub next_cursor: Option<String>,
}

/// Search and browse listed products of shops in good standing: filter by category, sort, page by cursor.
#[utoipa::path(get, path = "/api/v1/catalog", tag = "catalog", params(CatalogQuery),
    responses((status = 200, body = CatalogPageView),
        (status = 400, description = "bad q, category, sort, cursor or limit (the field is named)")))]
pub async fn catalog(
    State(state): State<SharedState>,
    ApiQuery(q): ApiQuery<CatalogQuery>,
) -> Result<ApiJson<CatalogPageView>, ApiError> {
    let req = kabao_app::catalog::BrowseRequest {
        q: q.q,
        category: q.category,
        sort: q.sort,
        cursor: q.cursor,
        limit: q.limit,
    };
    let browse = kabao_app::catalog::Browse::parse(&req)?;
    let page = kabao_app::catalog::browse(&state, &browse).await?;
    let items = page
        .rows
        .iter()
        .map(|(r, t)| CatalogItemView {
            listing: ListingView {
                product: ProductView::from(&r.listing.product),
                shop_name: r.listing.shop_name.clone(),
                shop_certification: r.listing.shop_certification.as_str().into(),
                trust_score: t.score,
                trust_level: t.level.as_str().into(),
            },
            sales_count: r.sales_count,
            from_price_fen: r.from_price.map(|m| m.fen()),
            cover: page.covers.get(&r.listing.product.id).map(PictureView::from),
        })
        .collect();
    Ok(ApiJson(CatalogPageView { items, next_cursor: page.next_cursor }))
}

/// A listed product's pictures, cover first.
#[utoipa::path(get, path = "/api/v1/products/{id}/pictures", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = [PictureView]), (status = 404, description = "no such listed product")))]
pub async fn pictures(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Vec<PictureView>>, ApiError> {
    let (p, _) = kabao_app::products::public(&state, ProductId(id), None).await?;
    let pics = kabao_app::pictures::of_product(&state, p.id).await?;
    Ok(ApiJson(pics.iter().map(PictureView::from).collect()))
}
