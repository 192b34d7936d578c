//! Alipay's routes in the API: its asynchronous notification, and starting an order's payment at Alipay.

use crate::auth::{ClientIp, MaybeApiUser};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use kabao_app::gateways::alipay::ALIPAY;

/// The parameters of an Alipay notification that Kabao reads (Alipay sends more; all are covered by the
/// signature).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AlipayNotify {
    /// Identifies this notification; a second one with it is acknowledged and ignored.
    notify_id: String,
    /// Must be ours.
    app_id: String,
    /// Alipay's trade number.
    trade_no: String,
    /// Our trade number (of the payment started with `POST /api/v1/orders/{order_no}/pay/alipay`).
    out_trade_no: String,
    /// The amount in yuan, e.g. "12.50"; must equal the payment's.
    total_amount: String,
    /// Only TRADE_SUCCESS and TRADE_FINISHED are applied.
    trade_status: String,
    /// RSA2 (SHA256withRSA) over the other parameters but `sign_type`, sorted, `k=v` joined by `&`.
    sign: String,
    sign_type: String,
}

/// Alipay's asynchronous notification (a form POST signed with Alipay's key). Answers the plain text `success`
/// (applied, or seen before) or `fail` (refused: bad signature, another app, not a success, wrong amount; or
/// Alipay is not configured here), which Alipay retries.
#[utoipa::path(post, path = "/api/v1/gateways/alipay/notify", tag = "gateways",
    request_body(content = AlipayNotify, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "success", body = String, content_type = "text/plain"),
        (status = 400, description = "fail: malformed, or the signature, app, trade status or amount is wrong", body = String, content_type = "text/plain"),
        (status = 404, description = "Alipay is not configured here", body = crate::api::contract::ErrorBody),
        (status = 413, description = "the body is too large", body = String, content_type = "text/plain")))]
pub async fn notify(
    State(state): State<SharedState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> axum::response::Response {
    crate::gateway_http::notify(&state, ALIPAY, &headers, uri.query().unwrap_or_default(), &body).await
}

/// Start paying a pending order through Alipay: `pay_url` is Alipay's cashier (page pay on a desktop, wap pay on
/// a phone, by the `User-Agent`). Without Alipay configured here: 404.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/pay/alipay", tag = "orders",
    params(("order_no" = String, Path), super::orders::OrderSecret),
    security((), ("bearer" = [])),
    responses((status = 201, body = super::orders::PaymentView), (status = 404, description = "no such order of yours, or Alipay is not configured"),
        (status = 409, description = "not payable"), (status = 502, description = "the gateway's answer was refused"), (status = 503, description = "the gateway is unreachable; try again")))]
pub async fn pay(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<axum::response::Response, ApiError> {
    super::orders::pay_at(&state, user.as_ref(), &headers, client_ip, &order_no, ALIPAY).await
}
