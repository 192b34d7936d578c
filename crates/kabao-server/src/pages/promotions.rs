//! The merchant's console for coupons (`/console/coupons`: create, disable, see usage) and for a product's
//! variants and wholesale tiers (`/console/products/{id}/pricing`). Every form carries the CSRF token; a refusal
//! re-renders the page with the message and its status.

use super::{datetime, render, see_other, Ctx, PageForm};
use crate::auth::MerchantVisitor;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kabao_core::pricing::{CouponOff, CouponTerms, Tier};
use kabao_core::{Money, ProductId};
use serde::Deserialize;

struct CouponRow {
    id: i64,
    code: String,
    off: String,
    scope: String,
    min_order: String,
    usage: String,
    per_buyer: String,
    expires: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "console_coupons.html")]
struct CouponsPage {
    ctx: Ctx,
    error: Option<String>,
    coupons: Vec<CouponRow>,
    /// The shop's products for the scope picker: (id, title).
    products: Vec<(i64, String)>,
}

async fn coupons_page(state: &SharedState, mv: &MerchantVisitor, error: Option<String>) -> Result<Response, ApiError> {
    let lang = mv.v.lang;
    let products = kabao_app::products::list_mine(state, &mv.user).await?;
    let title = |id: ProductId| products.iter().find(|p| p.id == id).map(|p| p.title.clone()).unwrap_or_default();
    let coupons = kabao_app::promotions::coupons(state, &mv.user)
        .await?
        .iter()
        .map(|c| CouponRow {
            id: c.id,
            code: c.terms.code.clone(),
            off: match c.terms.off {
                CouponOff::Amount(m) => format!("-{m}"),
                CouponOff::Percent(p) => format!("-{p}%"),
            },
            scope: c.terms.product.map_or_else(|| lang.pick("全店", "Whole shop").to_string(), title),
            min_order: c.terms.min_order.map_or_else(|| "—".into(), |m| m.to_string()),
            usage: format!("{} / {}", c.used, c.terms.usage_limit),
            per_buyer: c.terms.per_buyer_limit.map_or_else(|| "—".into(), |l| l.to_string()),
            expires: datetime(c.terms.expires_at),
            enabled: c.enabled,
        })
        .collect();
    let page = CouponsPage {
        ctx: Ctx::new(&mv.v),
        error,
        coupons,
        products: products.iter().map(|p| (p.id.0, p.title.clone())).collect(),
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

async fn refused(
    page: impl std::future::Future<Output = Result<Response, ApiError>>,
    e: ApiError,
) -> Result<Response, ApiError> {
    if !e.status.is_client_error() {
        return Err(e);
    }
    let mut res = page.await?;
    *res.status_mut() = e.status;
    Ok(res)
}

pub async fn coupons(State(state): State<SharedState>, mv: MerchantVisitor) -> Result<Response, ApiError> {
    coupons_page(&state, &mv, None).await
}

#[derive(Deserialize)]
pub struct CouponForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    code: String,
    /// `amount` (yuan off) or `percent`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    min_order: String,
    #[serde(default)]
    usage_limit: String,
    #[serde(default)]
    per_buyer_limit: String,
    /// Valid for this many days from now.
    #[serde(default)]
    days: String,
}

fn bad(code: &'static str, field: &'static str, zh: &str, en: &str) -> ApiError {
    ApiError::bad_request(code, field, zh, en)
}

fn parse_coupon(f: &CouponForm, now: kabao_core::Timestamp) -> Result<CouponTerms, ApiError> {
    let int = |s: &str| s.trim().parse::<i64>().ok();
    let off =
        match f.kind.as_str() {
            "percent" => CouponOff::Percent(int(&f.value).unwrap_or(0)),
            _ => CouponOff::Amount(Money::parse_yuan(f.value.trim()).map_err(|_| {
                bad("coupon.off_invalid", "value", "请填写优惠金额（元）", "Enter the amount off (yuan)")
            })?),
        };
    let min_order = match f.min_order.trim() {
        "" => None,
        s => Some(Money::parse_yuan(s).map_err(|_| {
            bad("coupon.minimum_invalid", "min_order", "最低消费金额格式不正确", "The minimum order is not an amount")
        })?),
    };
    let days = int(&f.days)
        .filter(|d| (1..=366).contains(d))
        .ok_or_else(|| bad("coupon.expiry_invalid", "days", "有效天数需在 1–366 之间", "Valid days must be 1–366"))?;
    Ok(CouponTerms {
        code: f.code.clone(),
        off,
        product: int(&f.product).filter(|p| *p > 0).map(ProductId),
        min_order,
        usage_limit: int(&f.usage_limit).unwrap_or(0),
        per_buyer_limit: match f.per_buyer_limit.trim() {
            "" => None,
            s => Some(int(s).unwrap_or(0)),
        },
        expires_at: now.plus_seconds(days * 24 * 3600),
    })
}

pub async fn create_coupon(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    PageForm(f): PageForm<CouponForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = match parse_coupon(&f, state.now()) {
        Ok(terms) => kabao_app::promotions::create_coupon(&state, &mv.user, terms).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other("/console/coupons")),
        Err(e) => {
            let msg = e.message(mv.v.lang).to_string();
            refused(coupons_page(&state, &mv, Some(msg)), e).await
        }
    }
}

#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    enabled: String,
}

pub async fn set_coupon_enabled(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<EnabledForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    kabao_app::promotions::set_coupon_enabled(&state, &mv.user, id, f.enabled == "1").await?;
    Ok(see_other("/console/coupons"))
}

// ---- variants and tiers ----

#[derive(Template)]
#[template(path = "console_pricing.html")]
struct PricingPage {
    ctx: Ctx,
    error: Option<String>,
    id: i64,
    title: String,
    price: String,
    /// The product is itself a variant (of this listing id): it has tiers, not variants.
    variant_of: Option<i64>,
    /// (product id, label, price, stock)
    variants: Vec<(i64, String, String, i64)>,
    /// One tier a line: "10 9.50".
    tiers_text: String,
}

async fn pricing_page(
    state: &SharedState,
    mv: &MerchantVisitor,
    id: ProductId,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let (p, _) = kabao_app::products::owned(state, &mv.user, id).await?;
    let variant_of = kabao_app::promotions::parent_of(state, p.id).await?.map(|(parent, _)| parent.0);
    let variants = kabao_app::promotions::all_variants(state, p.id)
        .await?
        .into_iter()
        .map(|v| (v.product.id.0, v.label, v.product.price.to_string(), v.product.stock_available))
        .collect();
    let tiers_text = kabao_app::promotions::tiers(state, p.id)
        .await?
        .iter()
        .map(|t| format!("{} {}", t.min_quantity, t.unit_price.yuan_string()))
        .collect::<Vec<_>>()
        .join("\n");
    let page = PricingPage {
        ctx: Ctx::new(&mv.v),
        error,
        id: p.id.0,
        title: p.title,
        price: p.price.to_string(),
        variant_of,
        variants,
        tiers_text,
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

pub async fn pricing(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    pricing_page(&state, &mv, ProductId(id), None).await
}

async fn pricing_outcome(
    state: &SharedState,
    mv: &MerchantVisitor,
    id: ProductId,
    result: Result<(), ApiError>,
) -> Result<Response, ApiError> {
    match result {
        Ok(()) => Ok(see_other(&format!("/console/products/{}/pricing", id.0))),
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(e),
        Err(e) => {
            let msg = e.message(mv.v.lang).to_string();
            refused(pricing_page(state, mv, id, Some(msg)), e).await
        }
    }
}

#[derive(Deserialize)]
pub struct VariantForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    label: String,
    #[serde(default)]
    price: String,
}

pub async fn add_variant(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<VariantForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = match Money::parse_yuan(f.price.trim()) {
        Ok(price) => kabao_app::promotions::add_variant(&state, &mv.user, ProductId(id), &f.label, price)
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::from_localized(StatusCode::BAD_REQUEST, &e).with_field("price")),
    };
    pricing_outcome(&state, &mv, ProductId(id), result).await
}

pub async fn rename_variant(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<VariantForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let parent = kabao_app::promotions::parent_of(&state, ProductId(id)).await?;
    let back = parent.map_or(ProductId(id), |(p, _)| p);
    let result =
        kabao_app::promotions::rename_variant(&state, &mv.user, ProductId(id), &f.label).await.map_err(ApiError::from);
    pricing_outcome(&state, &mv, back, result).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

pub async fn remove_variant(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let parent = kabao_app::promotions::parent_of(&state, ProductId(id)).await?;
    kabao_app::promotions::remove_variant(&state, &mv.user, ProductId(id)).await?;
    Ok(see_other(&format!("/console/products/{}/pricing", parent.map_or(id, |(p, _)| p.0))))
}

#[derive(Deserialize)]
pub struct TiersForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    /// One tier a line: the quantity, then the unit price in yuan ("10 9.50").
    #[serde(default)]
    tiers: String,
}

fn parse_tiers(text: &str) -> Result<Vec<Tier>, ApiError> {
    let mut tiers = Vec::new();
    for (i, line) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        let mut parts = line.split_whitespace();
        let qty = parts.next().and_then(|q| q.parse::<i64>().ok());
        let price = parts.next().and_then(|p| Money::parse_yuan(p).ok());
        match (qty, price, parts.next()) {
            (Some(q), Some(p), None) => tiers.push(Tier { min_quantity: q, unit_price: p }),
            _ => {
                let (zh, en) = (
                    format!("第 {} 行：请按「数量 单价」填写，例如 10 9.50", i + 1),
                    format!("Line {}: write \"quantity unit-price\", e.g. 10 9.50", i + 1),
                );
                return Err(ApiError::bad_request("tiers.line_invalid", "tiers", zh, en));
            }
        }
    }
    Ok(tiers)
}

pub async fn set_tiers(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<TiersForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = match parse_tiers(&f.tiers) {
        Ok(tiers) => kabao_app::promotions::set_tiers(&state, &mv.user, ProductId(id), tiers)
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    pricing_outcome(&state, &mv, ProductId(id), result).await
}
