//! What the API and the pages share about the payments port: starting a payment at a configured gateway (the
//! device read from the `User-Agent`, the return URL our order page) and answering a gateway's notification
//! with the gateway's own words ([`kabao_app::gateways::Gateway::ack`]).

use crate::error::ApiError;
use crate::SharedState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_app::gateways::{Checkout, Device, NotifyRequest};
use kabao_store::{Order, Payment};

/// Starts paying `order` at the gateway `gateway`; 404 when it is not configured here.
pub async fn start(
    state: &SharedState,
    order: &Order,
    gateway: &str,
    headers: &HeaderMap,
    client_ip: Option<std::net::IpAddr>,
) -> Result<(Payment, Checkout), ApiError> {
    let device = Device::from_user_agent(headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()));
    let base = state.public_url.as_deref().unwrap_or_default().trim_end_matches('/');
    let return_url = format!("{base}/o/{}", order.order_no);
    let subject = format!("Kabao {}", order.order_no);
    Ok(kabao_app::orders::start_payment_at(state, order, gateway, &subject, device, client_ip, return_url).await?)
}

/// Verifies and applies a notification to `gateway` and answers in its words: its "success" once applied (or
/// already applied, or a trade number reused — retrying cannot change that answer, and the admin sees the
/// security event), its "fail" otherwise, so the gateway retries.
pub async fn notify(state: &SharedState, gateway: &str, headers: &HeaderMap, query: &str, body: &[u8]) -> Response {
    let Some(adapter) = state.gateways.get(gateway).cloned() else {
        return ApiError::from(kabao_app::payments::PaymentError::UnknownGateway).into_response();
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
        .collect();
    let request = NotifyRequest { headers: &headers, query, body };
    let ok = match kabao_app::payments::handle_gateway_notify(state, gateway, &request).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(gateway, error = %e, "notification not applied");
            false
        }
    };
    let ack = adapter.ack(ok);
    let status = StatusCode::from_u16(ack.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, ack.content_type)], ack.body).into_response()
}
