//! Variants (面值), wholesale tiers (批发价) and coupons (优惠券): `/api/v1/products/{id}/variants` and
//! `/tiers` for buyers, `/api/v1/merchant/...` to set them up. Checkout takes `coupon_code` (see `orders`).

use super::ApiJson;
use crate::auth::ApiMerchant;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use kabao_core::pricing::{CouponOff, CouponTerms, Tier};
use kabao_core::{Money, ProductId, Timestamp};
use kabao_store::Coupon;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// From `min_quantity` units on, each costs `unit_price_fen`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierView {
    #[schema(minimum = 2)]
    pub min_quantity: i64,
    #[schema(minimum = 1)]
    pub unit_price_fen: i64,
}

fn tier_views(tiers: &[Tier]) -> Vec<TierView> {
    tiers.iter().map(|t| TierView { min_quantity: t.min_quantity, unit_price_fen: t.unit_price.fen() }).collect()
}

/// One variant of a listing: its own product (order it by `product_id`), price, stock and tiers.
#[derive(Serialize, ToSchema)]
pub struct VariantView {
    pub product_id: i64,
    pub label: String,
    pub price_fen: i64,
    pub stock_available: i64,
    pub tiers: Vec<TierView>,
}

/// A listing's variants (面值 / 规格), in the order the merchant added them; empty for a product without variants.
#[utoipa::path(get, path = "/api/v1/products/{id}/variants", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = [VariantView]), (status = 404, description = "no such listed product")))]
pub async fn variants(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Vec<VariantView>>, ApiError> {
    let (p, _) = kabao_app::products::public(&state, ProductId(id), None).await?;
    let variants = kabao_app::promotions::variants(&state, p.id).await?;
    Ok(ApiJson(
        variants
            .into_iter()
            .map(|v| VariantView {
                product_id: v.product.id.0,
                label: v.label,
                price_fen: v.product.price.fen(),
                stock_available: v.product.stock_available,
                tiers: tier_views(&v.tiers),
            })
            .collect(),
    ))
}

/// A product's wholesale tiers (批发价), lowest threshold first; below the first, the list price applies.
#[utoipa::path(get, path = "/api/v1/products/{id}/tiers", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = [TierView]), (status = 404, description = "no such listed product")))]
pub async fn tiers(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Vec<TierView>>, ApiError> {
    let (p, _) = kabao_app::products::public(&state, ProductId(id), None).await?;
    Ok(ApiJson(tier_views(&kabao_app::promotions::tiers(&state, p.id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    /// 1–20 characters, e.g. `50元`, `月卡`.
    #[schema(min_length = 1, max_length = 20)]
    pub label: String,
    #[schema(minimum = 1)]
    #[serde(with = "super::views::whole")]
    pub price_fen: i64,
}

/// Adds a variant to one of the merchant's products: a product of its own (import its keys, set its tiers and
/// policy at `/api/v1/merchant/products/{product_id}/...`), starting with a copy of the listing's warranty policy.
#[utoipa::path(post, path = "/api/v1/merchant/products/{id}/variants", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = VariantInput,
    responses((status = 201, body = VariantView), (status = 400, description = "bad label or price, or the product is itself a variant"),
        (status = 404, description = "not a product of yours")))]
pub async fn add_variant(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<VariantInput>,
) -> Result<(StatusCode, ApiJson<VariantView>), ApiError> {
    let p =
        kabao_app::promotions::add_variant(&state, &user, ProductId(id), &body.label, Money::from_fen(body.price_fen))
            .await?;
    let view = VariantView {
        product_id: p.id.0,
        label: body.label.trim().to_string(),
        price_fen: p.price.fen(),
        stock_available: p.stock_available,
        tiers: Vec::new(),
    };
    Ok((StatusCode::CREATED, ApiJson(view)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantLabelInput {
    #[schema(min_length = 1, max_length = 20)]
    pub label: String,
}

/// Renames a variant. Its price, stock and policy are changed as the product it is.
#[utoipa::path(put, path = "/api/v1/merchant/variants/{id}", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = VariantLabelInput,
    responses((status = 204, description = "renamed"), (status = 400, description = "bad label"),
        (status = 404, description = "not a variant of yours")))]
pub async fn rename_variant(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<VariantLabelInput>,
) -> Result<StatusCode, ApiError> {
    kabao_app::promotions::rename_variant(&state, &user, ProductId(id), &body.label).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a variant from its listing: it is unlisted; its orders, keys and claims stay.
#[utoipa::path(delete, path = "/api/v1/merchant/variants/{id}", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 404, description = "not a variant of yours")))]
pub async fn remove_variant(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    kabao_app::promotions::remove_variant(&state, &user, ProductId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TiersInput {
    /// Thresholds increasing (each ≥ 2), unit prices decreasing and below the list price; at most 10. Empty: none.
    #[schema(max_items = 10)]
    pub tiers: Vec<TierView>,
}

/// Replaces a product's (or variant's) wholesale tiers.
#[utoipa::path(put, path = "/api/v1/merchant/products/{id}/tiers", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = TiersInput,
    responses((status = 200, body = [TierView]), (status = 400, description = "tiers out of order, named by field `tiers`"),
        (status = 404, description = "not a product of yours")))]
pub async fn set_tiers(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<TiersInput>,
) -> Result<ApiJson<Vec<TierView>>, ApiError> {
    let tiers = body
        .tiers
        .iter()
        .map(|t| Tier { min_quantity: t.min_quantity, unit_price: Money::from_fen(t.unit_price_fen) })
        .collect();
    let tiers = kabao_app::promotions::set_tiers(&state, &user, ProductId(id), tiers).await?;
    Ok(ApiJson(tier_views(&tiers)))
}

/// A coupon and its usage.
#[derive(Serialize, ToSchema)]
pub struct CouponView {
    pub id: i64,
    pub code: String,
    /// Exactly one of `amount_off_fen` and `percent_off` is set.
    pub amount_off_fen: Option<i64>,
    pub percent_off: Option<i64>,
    /// The one product (or listing, with its variants) it applies to; null: the whole shop.
    pub product_id: Option<i64>,
    pub min_order_fen: Option<i64>,
    pub usage_limit: i64,
    pub per_buyer_limit: Option<i64>,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    pub enabled: bool,
    /// Uses held by orders (an order that expired unpaid gave its use back).
    pub used: i64,
    pub created_at: i64,
}

impl From<&Coupon> for CouponView {
    fn from(c: &Coupon) -> Self {
        let (amount_off_fen, percent_off) = match c.terms.off {
            CouponOff::Amount(m) => (Some(m.fen()), None),
            CouponOff::Percent(p) => (None, Some(p)),
        };
        CouponView {
            id: c.id,
            code: c.terms.code.clone(),
            amount_off_fen,
            percent_off,
            product_id: c.terms.product.map(|p| p.0),
            min_order_fen: c.terms.min_order.map(Money::fen),
            usage_limit: c.terms.usage_limit,
            per_buyer_limit: c.terms.per_buyer_limit,
            expires_at: c.terms.expires_at.millis(),
            enabled: c.enabled,
            used: c.used,
            created_at: c.created_at.millis(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponInput {
    /// 3–32 letters, digits, `-` or `_`; unique in the shop, case-insensitive.
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_-]{3,32}$")]
    pub code: String,
    /// Give exactly one of `amount_off_fen` (分 off the order) and `percent_off` (1–99).
    #[schema(minimum = 1)]
    pub amount_off_fen: Option<i64>,
    #[schema(minimum = 1, maximum = 99)]
    pub percent_off: Option<i64>,
    /// Only this product of the shop (a listing's coupon also applies to its variants); omitted: the whole shop.
    pub product_id: Option<i64>,
    #[schema(minimum = 1)]
    pub min_order_fen: Option<i64>,
    #[schema(minimum = 1)]
    pub usage_limit: i64,
    #[schema(minimum = 1)]
    pub per_buyer_limit: Option<i64>,
    /// Milliseconds since the epoch; must be in the future.
    pub expires_at: i64,
}

/// The merchant's coupons with their usage, newest first.
#[utoipa::path(get, path = "/api/v1/merchant/coupons", tag = "merchant", security(("bearer" = [])),
    responses((status = 200, body = [CouponView]), (status = 404, description = "no shop yet")))]
pub async fn list_coupons(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<CouponView>>, ApiError> {
    Ok(ApiJson(kabao_app::promotions::coupons(&state, &user).await?.iter().map(CouponView::from).collect()))
}

/// Creates a coupon (优惠券). Buyers enter its code at checkout (`coupon_code`).
#[utoipa::path(post, path = "/api/v1/merchant/coupons", tag = "merchant", security(("bearer" = [])), request_body = CouponInput,
    responses((status = 201, body = CouponView), (status = 400, description = "invalid field, named"),
        (status = 404, description = "no shop yet, or the product is not yours"), (status = 409, description = "coupon.code_taken")))]
pub async fn create_coupon(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiJson(body): ApiJson<CouponInput>,
) -> Result<(StatusCode, ApiJson<CouponView>), ApiError> {
    let off = match (body.amount_off_fen, body.percent_off) {
        (Some(a), None) => CouponOff::Amount(Money::from_fen(a)),
        (None, Some(p)) => CouponOff::Percent(p),
        _ => {
            return Err(ApiError::bad_request(
                "coupon.off_invalid",
                "amount_off_fen",
                "请只填写优惠金额或折扣比例其中之一",
                "Give exactly one of amount_off_fen and percent_off",
            ))
        }
    };
    let terms = CouponTerms {
        code: body.code,
        off,
        product: body.product_id.map(ProductId),
        min_order: body.min_order_fen.map(Money::from_fen),
        usage_limit: body.usage_limit,
        per_buyer_limit: body.per_buyer_limit,
        expires_at: Timestamp::from_millis(body.expires_at),
    };
    let coupon = kabao_app::promotions::create_coupon(&state, &user, terms).await?;
    Ok((StatusCode::CREATED, ApiJson(CouponView::from(&coupon))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponEnabledInput {
    pub enabled: bool,
}

/// Enables or disables a coupon. A disabled coupon is refused at checkout; orders placed with it keep it.
#[utoipa::path(put, path = "/api/v1/merchant/coupons/{id}/enabled", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = CouponEnabledInput,
    responses((status = 200, body = CouponView), (status = 404, description = "not a coupon of yours")))]
pub async fn set_coupon_enabled(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CouponEnabledInput>,
) -> Result<ApiJson<CouponView>, ApiError> {
    let coupon = kabao_app::promotions::set_coupon_enabled(&state, &user, id, body.enabled).await?;
    Ok(ApiJson(CouponView::from(&coupon)))
}
