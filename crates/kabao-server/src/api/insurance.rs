//! `/api/v1/products/{id}/insurance-quote`: the warranty insurance (质保险) premium a buyer would pay for one unit
//! of a product now, with its reasons in zh-CN and English.

use super::ApiJson;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use kabao_core::{Lang, ProductId};
use serde::Serialize;
use utoipa::ToSchema;

/// One reason of a quote.
#[derive(Serialize, ToSchema)]
pub struct QuoteReasonView {
    /// Stable: `category_claim_rate`, `shrunk_toward_platform`, `shop_trust`, `raised_to_minimum`,
    /// `capped_at_maximum`, `extension`.
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// The premium of warranty insurance for one unit of a product.
#[derive(Serialize, ToSchema)]
pub struct InsuranceQuoteView {
    pub product_id: i64,
    pub price_fen: i64,
    pub premium_fen: i64,
    /// The premium as yuan text, e.g. `"6.96"`.
    pub premium: String,
    pub reasons: Vec<QuoteReasonView>,
    /// The reasons in one line: "本类商品近 90 天索赔率 3.2 %（…），店铺信用 82 分（…）".
    pub summary_zh: String,
    pub summary_en: String,
    /// The extended warranty (延保) of one unit: the merchant's window extended to 30 days, backed by the
    /// platform; `null` when the merchant's window is already 30 days or longer.
    pub extension: Option<ExtensionQuoteView>,
}

/// The price of the extended warranty (延保) of one unit.
#[derive(Serialize, ToSchema)]
pub struct ExtensionQuoteView {
    /// Days added to the merchant's window (to 30 days).
    pub days: u32,
    pub premium_fen: i64,
    pub premium: String,
    pub reasons: Vec<QuoteReasonView>,
    pub summary_zh: String,
    pub summary_en: String,
}

fn reasons_of(quote: &kabao_core::insurance::Quote) -> Vec<QuoteReasonView> {
    quote
        .reasons
        .iter()
        .map(|r| QuoteReasonView { code: reason_code(r), zh: r.text(Lang::Zh), en: r.text(Lang::En) })
        .collect()
}

fn reason_code(r: &kabao_core::insurance::QuoteReason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// The insurance quote of a product a visitor may see. 409 `insurance.no_policy` for a product without a
/// warranty policy (无质保), 409 `insurance.price_too_low` when 30 % of the price is under ¥0.10.
#[utoipa::path(get, path = "/api/v1/products/{id}/insurance-quote", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = InsuranceQuoteView), (status = 404, description = "no such product"),
        (status = 409, description = "the product cannot be insured", body = super::contract::ErrorBody)))]
pub async fn quote(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<InsuranceQuoteView>, ApiError> {
    let (product, shop, quote) = kabao_app::insurance::quote_for(&state, ProductId(id), None).await?;
    let extension = kabao_app::insurance::extension_for(&state, &product, &shop).await?;
    Ok(ApiJson(InsuranceQuoteView {
        product_id: product.id.0,
        price_fen: product.price.fen(),
        premium_fen: quote.premium.fen(),
        premium: quote.premium.yuan_string(),
        reasons: reasons_of(&quote),
        summary_zh: quote.summary(Lang::Zh),
        summary_en: quote.summary(Lang::En),
        extension: extension.map(|e| ExtensionQuoteView {
            days: e.days,
            premium_fen: e.quote.premium.fen(),
            premium: e.quote.premium.yuan_string(),
            reasons: reasons_of(&e.quote),
            summary_zh: e.quote.summary(Lang::Zh),
            summary_en: e.quote.summary(Lang::En),
        }),
    }))
}

/// The insurance book's figures for one group (all amounts in 分).
#[derive(Serialize, ToSchema)]
pub struct BookLineView {
    /// Premiums paid into the pool less premiums refunded.
    pub premiums_fen: i64,
    pub payouts_fen: i64,
    /// Recoveries booked into the pool (from the order's escrow, or owed by the shop).
    pub recoveries_fen: i64,
    /// Payouts queued until the pool can cover them.
    pub pending_count: i64,
    pub pending_fen: i64,
    /// Loss ratio (赔付率) payouts ÷ premiums in per mille, rounded half up; null without premiums.
    pub loss_ratio_permille: Option<u64>,
}

impl From<&kabao_store::BookLine> for BookLineView {
    fn from(l: &kabao_store::BookLine) -> BookLineView {
        BookLineView {
            premiums_fen: l.premiums.fen(),
            payouts_fen: l.payouts.fen(),
            recoveries_fen: l.recoveries.fen(),
            pending_count: l.pending_count,
            pending_fen: l.pending_amount.fen(),
            loss_ratio_permille: kabao_core::insurance::loss_ratio_permille(l.payouts, l.premiums),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoryBookView {
    #[schema(value_type = super::contract::CategoryName)]
    pub category: String,
    /// In the request's language, e.g. "游戏点卡".
    pub category_label: String,
    #[serde(flatten)]
    pub figures: BookLineView,
}

#[derive(Serialize, ToSchema)]
pub struct ShopBookView {
    pub shop_id: i64,
    pub shop_name: String,
    #[serde(flatten)]
    pub figures: BookLineView,
}

/// The insurance book (保险账本).
#[derive(Serialize, ToSchema)]
pub struct InsuranceBookView {
    /// The insurance pool's balance.
    pub pool_fen: i64,
    /// Every category together.
    pub totals: BookLineView,
    /// Categories with any pool movement.
    pub by_category: Vec<CategoryBookView>,
    /// The shops with the most premium, most first; at most `top_shops`.
    pub by_shop: Vec<ShopBookView>,
    pub top_shops: i64,
}

/// The insurance book: the pool, premiums, payouts, recoveries, pending payouts and loss ratio by product
/// category and for the shops with the most premium (admins).
#[utoipa::path(get, path = "/api/v1/admin/insurance", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = InsuranceBookView), (status = 401, description = "no valid token"),
        (status = 403, description = "not an admin", body = super::contract::ErrorBody)))]
pub async fn book(
    State(state): State<SharedState>,
    headers: axum::http::HeaderMap,
    crate::auth::ApiUser(user): crate::auth::ApiUser,
) -> Result<ApiJson<InsuranceBookView>, ApiError> {
    let lang = crate::auth::request_lang(&headers);
    let b = kabao_app::insurance::book(&state, &user).await?;
    Ok(ApiJson(InsuranceBookView {
        pool_fen: b.pool.fen(),
        totals: BookLineView::from(&b.totals),
        by_category: b
            .by_category
            .iter()
            .map(|(c, l)| CategoryBookView {
                category: c.as_str().into(),
                category_label: c.label(lang).into(),
                figures: l.into(),
            })
            .collect(),
        by_shop: b
            .by_shop
            .iter()
            .map(|(id, name, l)| ShopBookView { shop_id: id.0, shop_name: name.clone(), figures: l.into() })
            .collect(),
        top_shops: kabao_app::insurance::BOOK_TOP_SHOPS,
    }))
}
