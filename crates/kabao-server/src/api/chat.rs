//! Order chat over the API, for the buyer (token or guest `X-Order-Secret`), the merchant and, on orders with a
//! dispute, the arbiter; and the admin's risk review queue.

use super::orders::access_order;
use super::ApiJson;
use crate::auth::{ApiMerchant, ApiUser, MaybeApiUser};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use kabao_app::chat::Speaker;
use kabao_core::Lang;
use kabao_store::ChatParty;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// 1–1000 characters, not only spaces.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub body: String,
}

/// A message as one reader sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shown {
    pub id: i64,
    /// buyer / merchant / arbiter
    pub sender: String,
    /// The text; for the buyer, with contact details of the other side masked (`*`).
    pub body: String,
    /// Whether anything was masked.
    pub masked: bool,
    /// The risk scanner's verdict: rules that matched (empty when harmless).
    pub rules: Vec<String>,
    /// A plain warning for the reader, when the message is risky and the reader is not its sender.
    pub warning: Option<String>,
    pub created_at: i64,
}

impl From<kabao_app::chat::Shown> for Shown {
    fn from(m: kabao_app::chat::Shown) -> Shown {
        let kabao_app::chat::Shown { id, sender, body, masked, rules, warning, created_at } = m;
        Shown { id, sender, body, masked, rules, warning, created_at }
    }
}

async fn answer(
    state: &SharedState,
    order: &kabao_store::Order,
    reader: ChatParty,
    headers: &HeaderMap,
) -> Result<ApiJson<Vec<Shown>>, ApiError> {
    let lang = crate::auth::request_lang(headers);
    let messages = kabao_app::chat::messages(state, order).await?;
    Ok(ApiJson(kabao_app::chat::shown(&messages, reader, lang).into_iter().map(Shown::from).collect()))
}

/// The order's chat as the buyer sees it: the other side's contact details masked, risky messages warned about.
#[utoipa::path(get, path = "/api/v1/orders/{order_no}/messages", tag = "chat", security((), ("bearer" = [])),
    params(("order_no" = String, Path), super::orders::OrderSecret),
    responses((status = 200, body = Vec<Shown>), (status = 404, description = "no such order of yours")))]
pub async fn buyer_list(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<ApiJson<Vec<Shown>>, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    answer(&state, &order, ChatParty::Buyer, &headers).await
}

/// The buyer writes to the merchant.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/messages", tag = "chat", security((), ("bearer" = [])),
    params(("order_no" = String, Path), super::orders::OrderSecret),
    request_body = MessageInput,
    responses((status = 201, body = Vec<Shown>), (status = 400, description = "empty or too long"),
        (status = 404, description = "no such order of yours"), (status = 429, description = "too many messages")))]
pub async fn buyer_send(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
    ApiJson(body): ApiJson<MessageInput>,
) -> Result<impl IntoResponse, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    kabao_app::chat::send(&state, &order, Speaker::Buyer(user.as_ref().map(|u| u.id)), &body.body).await?;
    Ok((StatusCode::CREATED, answer(&state, &order, ChatParty::Buyer, &headers).await?))
}

/// The order's chat as the merchant sees it.
#[utoipa::path(get, path = "/api/v1/merchant/orders/{order_no}/messages", tag = "chat", security(("bearer" = [])),
    params(("order_no" = String, Path)),
    responses((status = 403, description = "not a merchant"), (status = 200, body = Vec<Shown>), (status = 404, description = "no such order of your shop")))]
pub async fn merchant_list(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<ApiJson<Vec<Shown>>, ApiError> {
    let order = kabao_app::chat::merchant_order(&state, &user, &order_no).await?;
    answer(&state, &order, ChatParty::Merchant, &headers).await
}

/// The merchant writes to the buyer. Risky messages are flagged and charged to the shop as risk events.
#[utoipa::path(post, path = "/api/v1/merchant/orders/{order_no}/messages", tag = "chat", security(("bearer" = [])),
    params(("order_no" = String, Path)), request_body = MessageInput,
    responses((status = 403, description = "not a merchant"), (status = 201, body = Vec<Shown>), (status = 400, description = "empty or too long"),
        (status = 404, description = "no such order of your shop"), (status = 429, description = "too many messages")))]
pub async fn merchant_send(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
    ApiJson(body): ApiJson<MessageInput>,
) -> Result<impl IntoResponse, ApiError> {
    let order = kabao_app::chat::merchant_order(&state, &user, &order_no).await?;
    kabao_app::chat::send(&state, &order, Speaker::Merchant(&user), &body.body).await?;
    Ok((StatusCode::CREATED, answer(&state, &order, ChatParty::Merchant, &headers).await?))
}

/// The chat of an order in dispute, for an arbiter (as written, with the scanner's rules).
#[utoipa::path(get, path = "/api/v1/arbiter/orders/{order_no}/messages", tag = "chat", security(("bearer" = [])),
    params(("order_no" = String, Path)),
    responses((status = 200, body = Vec<Shown>), (status = 403, description = "not an arbiter"),
        (status = 404, description = "no such order in dispute")))]
pub async fn arbiter_list(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<ApiJson<Vec<Shown>>, ApiError> {
    let order = kabao_app::chat::arbiter_order(&state, &user, &order_no).await?;
    answer(&state, &order, ChatParty::Arbiter, &headers).await
}

/// The arbiter joins the chat of an order in dispute.
#[utoipa::path(post, path = "/api/v1/arbiter/orders/{order_no}/messages", tag = "chat", security(("bearer" = [])),
    params(("order_no" = String, Path)), request_body = MessageInput,
    responses((status = 201, body = Vec<Shown>), (status = 403, description = "not an arbiter"),
        (status = 404, description = "no such order in dispute"), (status = 429, description = "too many messages")))]
pub async fn arbiter_send(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
    ApiJson(body): ApiJson<MessageInput>,
) -> Result<impl IntoResponse, ApiError> {
    let order = kabao_app::chat::arbiter_order(&state, &user, &order_no).await?;
    kabao_app::chat::send(&state, &order, Speaker::Arbiter(&user), &body.body).await?;
    Ok((StatusCode::CREATED, answer(&state, &order, ChatParty::Arbiter, &headers).await?))
}

/// The chat of any order, for an admin reviewing risk events: every message as written, with the scanner's rules.
/// Read only: admins do not write in order chats.
#[utoipa::path(get, path = "/api/v1/admin/orders/{order_no}/messages", tag = "chat", security(("bearer" = [])),
    params(("order_no" = String, Path)),
    responses((status = 200, body = Vec<Shown>), (status = 401, description = "no or bad token"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such order")))]
pub async fn admin_list(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<ApiJson<Vec<Shown>>, ApiError> {
    let order = kabao_app::chat::admin_order(&state, &user, &order_no).await?;
    answer(&state, &order, ChatParty::Arbiter, &headers).await
}

/// A rule that matched, with what it looks for in words.
#[derive(Serialize, ToSchema)]
pub struct RiskRuleView {
    /// The rule's stable id, e.g. `contact.wechat`.
    pub rule: String,
    pub description_zh: String,
    pub description_en: String,
}

#[derive(Serialize, ToSchema)]
pub struct RiskEventView {
    pub id: i64,
    pub kind: String,
    pub order_no: Option<String>,
    /// The rules that matched (ids); `rule_texts` says what each looks for.
    pub rules: Vec<String>,
    pub rule_texts: Vec<RiskRuleView>,
    /// The flagged message as its sender wrote it (null if the event has no message).
    pub message: Option<String>,
    /// The order's chat for the admin (`GET`), when the event is on an order.
    pub messages_url: Option<String>,
    /// open / confirmed / dismissed
    #[schema(value_type = super::contract::RiskStateName)]
    pub state: String,
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RiskShopView {
    pub shop_id: i64,
    pub shop_name: String,
    pub open_events: i64,
    pub events: Vec<RiskEventView>,
}

/// Shops whose open risk events reached the review threshold, most first (admins).
#[utoipa::path(get, path = "/api/v1/admin/risk", tag = "chat", security(("bearer" = [])),
    responses((status = 200, body = Vec<RiskShopView>), (status = 403, description = "not an admin")))]
pub async fn risk_queue(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
) -> Result<ApiJson<Vec<RiskShopView>>, ApiError> {
    let queue = kabao_app::risk::queue(&state, &user).await?;
    Ok(ApiJson(
        queue
            .into_iter()
            .map(|q| RiskShopView {
                shop_id: q.shop.id.0,
                shop_name: q.shop.name,
                open_events: q.open,
                events: q
                    .events
                    .into_iter()
                    .map(|e| {
                        let rules = e.rules();
                        RiskEventView {
                            id: e.event.id,
                            kind: e.event.kind,
                            rule_texts: rules
                                .iter()
                                .map(|r| RiskRuleView {
                                    rule: r.clone(),
                                    description_zh: kabao_app::risk::rule_text(r, Lang::Zh),
                                    description_en: kabao_app::risk::rule_text(r, Lang::En),
                                })
                                .collect(),
                            rules,
                            message: e.message,
                            messages_url: e.order_no.as_ref().map(|no| format!("/api/v1/admin/orders/{no}/messages")),
                            order_no: e.order_no,
                            state: e.event.state,
                            created_at: e.event.created_at.millis(),
                        }
                    })
                    .collect(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskReviewInput {
    /// confirmed (the events stand and keep counting against the shop) or dismissed (false alarms).
    #[schema(value_type = super::contract::RiskOutcomeName)]
    pub outcome: String,
    /// Required.
    #[schema(min_length = 1, pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    pub note: String,
    /// Also suspend the shop (confirmed only).
    #[serde(default)]
    pub suspend: bool,
}

/// An admin reviews a shop's open risk events.
#[utoipa::path(post, path = "/api/v1/admin/risk/shops/{id}/review", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RiskReviewInput,
    responses((status = 204), (status = 400, description = "bad outcome or no note"), (status = 403, description = "not an admin"),
        (status = 404, description = "no open events for this shop")))]
pub async fn risk_review(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RiskReviewInput>,
) -> Result<StatusCode, ApiError> {
    kabao_app::risk::review(&state, &user, kabao_core::ShopId(id), &body.outcome, &body.note, body.suspend).await?;
    Ok(StatusCode::NO_CONTENT)
}
