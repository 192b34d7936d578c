//! WeChat Pay's two API routes: starting a payment (Native QR code on a desktop, H5 on a phone) and its
//! asynchronous notification, answered in WeChat Pay's own words. The protocol lives in the adapter
//! (`kabao_app::gateways::wechatpay`); these handlers only extract and call.

use super::orders::PaymentView;
use crate::auth::{ClientIp, MaybeApiUser};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use kabao_app::gateways::wechatpay::WECHATPAY;
use serde::Serialize;
use utoipa::ToSchema;

/// WeChat Pay's answer words: `SUCCESS` (received), or `FAIL` with a message (notify again later).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct WechatPayAck {
    #[schema(example = "SUCCESS")]
    code: String,
    #[schema(nullable = false)]
    message: Option<String>,
}

/// A WeChat Pay notification as it arrives: the encrypted `resource` holds the transaction.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WechatPayNotifyBody {
    /// The notification's id; the same event notified again carries the same id.
    id: String,
    create_time: String,
    /// `TRANSACTION.SUCCESS` is the only one applied.
    event_type: String,
    resource_type: String,
    /// `{algorithm: AEAD_AES_256_GCM, ciphertext, nonce, associated_data, original_type}`, encrypted with the
    /// API v3 key.
    #[schema(value_type = Object)]
    resource: serde_json::Value,
    summary: String,
}

/// WeChat Pay's asynchronous payment notification, signed with WeChat Pay's platform key (SHA256withRSA over
/// `timestamp\nnonce\nbody\n`). Applied once: a repeat is acknowledged and changes nothing. Any refusal (bad
/// signature, stale, another merchant, wrong amount, not a success) answers 500 `FAIL`, so WeChat Pay notifies
/// again and the payment can still be confirmed by the order query.
#[utoipa::path(post, path = "/api/v1/gateways/wechatpay/notify", tag = "gateways",
    params(("Wechatpay-Timestamp" = Option<String>, Header, description = "Unix seconds; within ±300 s of the server's clock. Sent by WeChat Pay with every notification; one without it is refused (`FAIL`), and where WeChat Pay is not configured the route answers 404 whatever is sent"),
        ("Wechatpay-Nonce" = Option<String>, Header, description = "sent with every notification; one without it is refused"),
        ("Wechatpay-Signature" = Option<String>, Header, description = "base64 SHA256withRSA of \"timestamp\\nnonce\\nbody\\n\" by WeChat Pay's platform key; one without it is refused"),
        ("Wechatpay-Serial" = Option<String>, Header, description = "the configured platform certificate serial or public key id (PUB_KEY_ID_…); one without it is refused"),
        ("Wechatpay-Signature-Type" = Option<String>, Header, description = "WECHATPAY2-SHA256-RSA2048")),
    request_body(content = WechatPayNotifyBody, content_type = "application/json"),
    responses((status = 200, description = "received (applied now or before)", body = WechatPayAck),
        (status = 404, description = "WeChat Pay is not configured here"),
        (status = 500, description = "`FAIL`: refused or not applied; WeChat Pay notifies again", body = WechatPayAck)))]
pub async fn notify(
    State(state): State<SharedState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> axum::response::Response {
    crate::gateway_http::notify(&state, WECHATPAY, &headers, uri.query().unwrap_or_default(), &body).await
}

/// Start paying a pending order through WeChat Pay: on a desktop Native pay (`qr_code` holds the `weixin://`
/// content to show as a QR code, `pay_url` our order page showing it), on a phone (by `User-Agent`) H5 pay
/// (`pay_url` is WeChat Pay's page, which returns the payer to our order page). Not configured here: 404.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/pay/wechatpay", tag = "orders",
    params(("order_no" = String, Path), super::orders::OrderSecret),
    security((), ("bearer" = [])),
    responses((status = 201, body = PaymentView), (status = 404, description = "no such order of yours, or WeChat Pay is not configured"),
        (status = 409, description = "not payable"), (status = 502, description = "WeChat Pay refused the payment or gave an answer that cannot be believed"),
        (status = 503, description = "WeChat Pay could not be reached; try again")))]
pub async fn pay(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<axum::response::Response, ApiError> {
    super::orders::pay_at(&state, user.as_ref(), &headers, client_ip, &order_no, WECHATPAY).await
}
