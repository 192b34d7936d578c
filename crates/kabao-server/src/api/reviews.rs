//! Reviews (评价) over the API: the buyer reviews a delivered order, anyone reads a shop's or product's reviews,
//! the merchant replies once.

use super::ApiJson;
use crate::auth::{ApiMerchant, ApiUser};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use kabao_app::orders::OrderAccess;
use kabao_core::review::ReviewInput as CoreInput;
use kabao_core::{ProductId, ShopId};
use kabao_store::ReviewRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// 描述相符, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    #[serde(with = "super::views::whole")]
    pub described: i64,
    /// 服务态度, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    #[serde(with = "super::views::whole")]
    pub service: i64,
    /// 发货速度, 1–5.
    #[schema(minimum = 1, maximum = 5)]
    #[serde(with = "super::views::whole")]
    pub delivery: i64,
    /// Tag codes: key_worked, fast_delivery, patient_service, reissue_fast (补单响应快), reissue_by_the_rules
    /// (补单流程规范), reissue_refused (拒绝补单), vanished_after_reissue (补单后失联), reissue_charged (补单收费).
    #[serde(default)]
    #[schema(value_type = Vec<super::contract::ReviewTagName>, max_items = 6)]
    pub tags: Vec<String>,
    /// At most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    /// 1–500 characters, not only spaces.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reply: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewView {
    pub id: i64,
    pub shop_id: i64,
    pub product_id: i64,
    pub described: i32,
    pub service: i32,
    pub delivery: i32,
    #[schema(value_type = Vec<super::contract::ReviewTagName>)]
    pub tags: Vec<String>,
    pub body: String,
    /// What the review says about re-issue (补单): 1 praise, -1 complaint (tag or text), 0 nothing.
    pub reissue: i32,
    pub reply: Option<String>,
    pub replied_at: Option<i64>,
    pub created_at: i64,
}

impl From<&ReviewRecord> for ReviewView {
    fn from(r: &ReviewRecord) -> ReviewView {
        ReviewView {
            id: r.id,
            shop_id: r.shop_id.0,
            product_id: r.product_id.0,
            described: r.described,
            service: r.service,
            delivery: r.delivery,
            tags: serde_json::from_str(&r.tags_json).unwrap_or_default(),
            body: r.body.clone(),
            reissue: r.reissue,
            reply: r.reply.clone(),
            replied_at: r.replied_at.map(|t| t.millis()),
            created_at: r.created_at.millis(),
        }
    }
}

fn views(rs: &[ReviewRecord]) -> Vec<ReviewView> {
    rs.iter().map(ReviewView::from).collect()
}

/// The buyer reviews a delivered order (registered buyers only; once per order).
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/review", tag = "reviews", security(("bearer" = [])),
    params(("order_no" = String, Path)), request_body = ReviewInput,
    responses((status = 201, body = ReviewView), (status = 400, description = "rating out of range, unknown tag, text too long"),
        (status = 404, description = "no such order of yours"),
        (status = 409, description = "not delivered, reviewed already, or your own shop")))]
pub async fn create(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(order_no): ApiPath<String>,
    ApiJson(body): ApiJson<ReviewInput>,
) -> Result<impl IntoResponse, ApiError> {
    let order = kabao_app::orders::order_for(&state, &order_no, &OrderAccess::User(&user)).await?;
    let input = CoreInput {
        described: body.described,
        service: body.service,
        delivery: body.delivery,
        tags: body.tags,
        body: body.body,
    };
    let review = kabao_app::reviews::submit(&state, &user, &order, &input).await?;
    Ok((StatusCode::CREATED, ApiJson(ReviewView::from(&review))))
}

/// A shop's reviews, newest first.
#[utoipa::path(get, path = "/api/v1/shops/{id}/reviews", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ReviewView>), (status = 404, description = "no such shop")))]
pub async fn of_shop(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Vec<ReviewView>>, ApiError> {
    Ok(ApiJson(views(&kabao_app::reviews::of_shop(&state, ShopId(id)).await?)))
}

/// A product's reviews, newest first.
#[utoipa::path(get, path = "/api/v1/products/{id}/reviews", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ReviewView>), (status = 404, description = "no such product")))]
pub async fn of_product(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Vec<ReviewView>>, ApiError> {
    Ok(ApiJson(views(&kabao_app::reviews::of_product(&state, ProductId(id)).await?)))
}

/// The merchant replies to a review of its shop, once.
#[utoipa::path(post, path = "/api/v1/merchant/reviews/{id}/reply", tag = "reviews", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ReplyInput,
    responses((status = 403, description = "not a merchant"), (status = 204), (status = 400, description = "empty or too long"), (status = 404, description = "no such review of your shop"),
        (status = 409, description = "replied already")))]
pub async fn reply(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReplyInput>,
) -> Result<StatusCode, ApiError> {
    kabao_app::reviews::reply(&state, &user, id, &body.reply).await?;
    Ok(StatusCode::NO_CONTENT)
}
