//! `/api/v1/merchant/webhooks`: a merchant's webhook endpoints, their deliveries with the last answers, and
//! "send again". Only the shop's own objects are reachable; anyone else's are "not found".

use super::ApiJson;
use crate::auth::ApiMerchant;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use kabao_core::ProductId;
use kabao_store::{WebhookDeliveryRecord, WebhookEndpointRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A registered endpoint (its secret is shown only when it is created).
#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    /// e.g. `["claim.opened", "order.paid"]`
    pub events: Vec<String>,
    pub created_at: i64,
}

impl From<&WebhookEndpointRecord> for EndpointView {
    fn from(e: &WebhookEndpointRecord) -> Self {
        EndpointView {
            id: e.id,
            url: e.url.clone(),
            events: e.events.iter().map(|k| k.as_str().to_string()).collect(),
            created_at: e.created_at.millis(),
        }
    }
}

/// An endpoint just created, with its signing secret: store it now, it is never shown again.
#[derive(Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_...`: the HMAC-SHA256 key of the `Kabao-Signature` header.
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// An https URL on a public address.
    #[schema(example = "https://shop.example.com/kabao/webhook")]
    pub url: String,
    /// One or more of `order.paid`, `claim.opened`, `claim.deadline_soon`, `dispute.opened`, `dispute.decided`,
    /// `stock.low`.
    #[schema(min_items = 1, value_type = Vec<EventName>)]
    pub events: Vec<String>,
}

/// An event a webhook endpoint may choose (the schema of `events`' items; `kabao_core::webhook::EventKind`).
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used: the input is parsed by kabao_core::webhook
pub enum EventName {
    #[schema(rename = "order.paid")]
    OrderPaid,
    #[schema(rename = "claim.opened")]
    ClaimOpened,
    #[schema(rename = "claim.deadline_soon")]
    ClaimDeadlineSoon,
    #[schema(rename = "dispute.opened")]
    DisputeOpened,
    #[schema(rename = "dispute.decided")]
    DisputeDecided,
    #[schema(rename = "stock.low")]
    StockLow,
}

/// One delivery of an event to an endpoint.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub endpoint_id: i64,
    /// The `Kabao-Event-Id`, the same on every attempt and re-send.
    pub event_id: String,
    pub event: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<i32>,
    /// The first bytes of the last answer.
    pub last_response: Option<String>,
    pub last_error: Option<String>,
    /// The exact JSON body that is signed and sent.
    pub body: String,
    pub created_at: i64,
}

impl From<&WebhookDeliveryRecord> for DeliveryView {
    fn from(d: &WebhookDeliveryRecord) -> Self {
        let pending = d.state == kabao_store::DeliveryState::Pending;
        DeliveryView {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.event_id.clone(),
            event: d.kind.as_str().to_string(),
            state: d.state.as_str().to_string(),
            attempts: d.attempts,
            next_attempt_at: pending.then(|| d.next_attempt_at.millis()),
            last_attempt_at: d.last_attempt_at.map(|t| t.millis()),
            last_status: d.last_status,
            last_response: d.last_response.clone(),
            last_error: d.last_error.clone(),
            body: d.body.clone(),
            created_at: d.created_at.millis(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Deliveries with an id below this (the next page); absent: from the newest.
    #[serde(default)]
    pub before: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdInput {
    /// `stock.low` is sent when a sale or re-issue takes the stock below this (0: never).
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(with = "super::views::whole")]
    pub threshold: i64,
}

/// The caller's webhook endpoints.
#[utoipa::path(get, path = "/api/v1/merchant/webhooks", tag = "merchant", security(("bearer" = [])),
    responses((status = 200, body = [EndpointView]), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "no shop yet")))]
pub async fn list(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<EndpointView>>, ApiError> {
    Ok(ApiJson(kabao_app::webhooks::my_endpoints(&state, &user).await?.iter().map(EndpointView::from).collect()))
}

/// Registers an endpoint; the answer carries its secret, shown this once.
#[utoipa::path(post, path = "/api/v1/merchant/webhooks", tag = "merchant", security(("bearer" = [])), request_body = EndpointInput,
    responses((status = 201, body = CreatedEndpoint), (status = 400, description = "bad URL (not https, private address) or events"),
        (status = 401, description = "no token"), (status = 403, description = "not a merchant"), (status = 404, description = "no shop yet"),
        (status = 409, description = "too many endpoints")))]
pub async fn create(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiJson(body): ApiJson<EndpointInput>,
) -> Result<(StatusCode, ApiJson<CreatedEndpoint>), ApiError> {
    let (e, secret) =
        kabao_app::webhooks::create_endpoint(&state, &user, &body.url, body.events.iter().map(String::as_str)).await?;
    Ok((StatusCode::CREATED, ApiJson(CreatedEndpoint { endpoint: EndpointView::from(&e), secret })))
}

/// Removes an endpoint; its pending deliveries are cancelled.
#[utoipa::path(delete, path = "/api/v1/merchant/webhooks/{id}", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "not the caller's endpoint, or removed already")))]
pub async fn remove(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    kabao_app::webhooks::delete_endpoint(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's deliveries, newest first, 50 a page.
#[utoipa::path(get, path = "/api/v1/merchant/webhooks/{id}/deliveries", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path), DeliveriesQuery),
    responses((status = 200, body = [DeliveryView]), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "not the caller's endpoint")))]
pub async fn deliveries(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<ApiJson<Vec<DeliveryView>>, ApiError> {
    let list = kabao_app::webhooks::deliveries(&state, &user, id, q.before).await?;
    Ok(ApiJson(list.iter().map(DeliveryView::from).collect()))
}

/// Sends a delivery again (same event id and body) from its first attempt.
#[utoipa::path(post, path = "/api/v1/merchant/webhook-deliveries/{id}/resend", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = DeliveryView), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "not the caller's delivery, or its endpoint was removed")))]
pub async fn resend(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<DeliveryView>, ApiError> {
    Ok(ApiJson(DeliveryView::from(&kabao_app::webhooks::resend(&state, &user, id).await?)))
}

/// Sets the stock below which `stock.low` is sent for a product (default 5).
#[utoipa::path(put, path = "/api/v1/merchant/products/{id}/stock-alert", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ThresholdInput,
    responses((status = 204, description = "set"), (status = 400, description = "threshold out of range"), (status = 401, description = "no token"),
        (status = 403, description = "not a merchant"), (status = 404, description = "not the caller's product")))]
pub async fn stock_alert(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ThresholdInput>,
) -> Result<StatusCode, ApiError> {
    kabao_app::webhooks::set_stock_threshold(&state, &user, ProductId(id), body.threshold).await?;
    Ok(StatusCode::NO_CONTENT)
}
