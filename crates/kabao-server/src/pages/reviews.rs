//! Review pages: the buyer's review form on the order page, reviews on shop and product pages, and the merchant's
//! reviews with their one reply in the console.

use super::orders::visible_order;
use super::{after_form, date, render, Ctx, PageForm};
use crate::auth::{MerchantVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kabao_core::review::{ReviewInput, ReviewTag};
use kabao_core::Lang;
use kabao_store::ReviewRecord;
use std::collections::HashMap;

/// A review as the pages show it.
pub struct ReviewLine {
    pub id: i64,
    pub described: i32,
    pub service: i32,
    pub delivery: i32,
    pub tags: Vec<&'static str>,
    /// −1, 0 or 1: what it says about re-issue.
    pub reissue: i32,
    pub body: String,
    pub reply: Option<String>,
    pub date: String,
}

impl ReviewLine {
    pub fn new(r: &ReviewRecord, lang: Lang) -> ReviewLine {
        ReviewLine {
            id: r.id,
            described: r.described,
            service: r.service,
            delivery: r.delivery,
            tags: kabao_app::reviews::tag_labels(r, lang),
            reissue: r.reissue,
            body: r.body.clone(),
            reply: r.reply.clone(),
            date: date(r.created_at),
        }
    }
}

pub fn lines(reviews: &[ReviewRecord], lang: Lang) -> Vec<ReviewLine> {
    reviews.iter().map(|r| ReviewLine::new(r, lang)).collect()
}

/// The tags a review form offers: (code, label, re-issue polarity).
pub fn tag_choices(lang: Lang) -> Vec<(&'static str, &'static str, i32)> {
    ReviewTag::ALL.iter().map(|t| (t.as_str(), t.label(lang), t.reissue_polarity())).collect()
}

fn number(fields: &HashMap<String, String>, name: &str) -> i64 {
    // Anything that is not a number is out of range, and the rule says so by the field's name.
    fields.get(name).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// `POST /o/{no}/review`: the buyer reviews the order; back to the order page, with the error if refused.
pub async fn submit(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    PageForm(fields): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(fields.get("_csrf").map(String::as_str))?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let Some(user) = v.user.as_ref() else { return Err(ApiError::unauthorized()) };
    let input = ReviewInput {
        described: number(&fields, "described"),
        service: number(&fields, "service"),
        delivery: number(&fields, "delivery"),
        tags: fields.keys().filter_map(|k| k.strip_prefix("tag_")).map(str::to_string).collect(),
        body: fields.get("body").cloned().unwrap_or_default(),
    };
    after_form(
        v.lang,
        kabao_app::reviews::submit(&state, user, &order, &input).await.map_err(ApiError::from),
        &format!("/o/{}#review", order.order_no),
        |msg| super::orders::order_page(&state, &v, &order, Vec::new(), Some(msg)),
    )
    .await
}

#[derive(Template)]
#[template(path = "console_reviews.html")]
struct ConsoleReviews {
    ctx: Ctx,
    error: Option<String>,
    reviews: Vec<ReviewLine>,
}

async fn console_page(
    state: &SharedState,
    v: &Visitor,
    user: &kabao_store::User,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let reviews = kabao_app::reviews::of_merchant(state, user).await?;
    let page = ConsoleReviews { ctx: Ctx::new(v), error, reviews: lines(&reviews, v.lang) };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// `GET /console/reviews`: the shop's reviews, each with a reply form until replied.
pub async fn console(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
) -> Result<Response, ApiError> {
    console_page(&state, &v, &user, None).await
}

/// `POST /console/reviews/{id}/reply`.
pub async fn reply(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(fields): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(fields.get("_csrf").map(String::as_str))?;
    let text = fields.get("reply").cloned().unwrap_or_default();
    after_form(
        v.lang,
        kabao_app::reviews::reply(&state, &user, id, &text).await.map_err(ApiError::from),
        "/console/reviews",
        |msg| console_page(&state, &v, &user, Some(msg)),
    )
    .await
}
