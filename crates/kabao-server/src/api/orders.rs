//! `/api/v1/orders`, `/api/v1/wallet` and the gateway notification endpoint: checkout with an
//! `Idempotency-Key`, paying from the wallet or through a gateway (易支付, or the sandbox in a demo), revealing keys.

use super::ApiJson;
use crate::auth::{ApiUser, MaybeApiUser};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::idempotency::{Begun, IdemJson, Rendered, Scope};
use crate::SharedState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use kabao_app::orders::{Buyer, CheckoutRequest, OrderAccess};
use kabao_core::{Money, ProductId};
use kabao_store::Order;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    #[schema(minimum = 1)]
    #[serde(with = "super::views::whole")]
    pub product_id: i64,
    /// 1 up to the product's `max_per_order` (at most 1000).
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(with = "super::views::whole")]
    pub quantity: i64,
    /// The buyer has seen the product's warranty terms (its policy, or 无质保) and accepts them. Must be true.
    #[schema(value_type = super::contract::AcceptedFlag)]
    pub warranty_ack: bool,
    /// Optional: SHA-256 (hex) of the terms the buyer was shown (`GET /api/v1/products/{id}/warranty`). If the
    /// merchant changed them since, the order is refused with 409 `order.warranty_changed`.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub warranty_sha256: Option<String>,
    /// Guests only (refused with a token): where the order can be found again.
    #[schema(format = Email, max_length = 254)]
    pub guest_email: Option<String>,
    /// Guests only: an optional password to look the order up with (6–64 characters).
    #[schema(min_length = 6, max_length = 64)]
    pub query_password: Option<String>,
    /// Custom goods (人工交付) only: an answer for every field the product defines, by field label,
    /// e.g. `{"游戏账号": "123456", "区服": "电信一区"}`.
    #[serde(default)]
    pub custom_fields: std::collections::BTreeMap<String, String>,
    /// A first order from a shop whose trust is below the platform's threshold, or above the platform's
    /// first-order amount, is refused with 409 `order.first_order_unconfirmed` and guidance (start with the
    /// shop's trial item or a smaller quantity) until the buyer confirms with `true`.
    #[serde(default)]
    pub first_order_confirmed: bool,
    /// Warranty insurance (质保险): `true` buys it, at the premium quoted by
    /// `GET /api/v1/products/{id}/insurance-quote` times the quantity, echoed in `insurance_premium` (分). A
    /// premium that changed since is refused with 409 `insurance.premium_changed` (naming the new one) and
    /// nothing is created. The premium is paid with the order, into the insurance pool.
    #[serde(default)]
    pub insurance: bool,
    pub insurance_premium: Option<i64>,
    /// Extended warranty (延保): `true` buys the `extension` of the insurance quote (the merchant's window
    /// extended to 30 days, backed by the platform), its premium times the quantity echoed in
    /// `extended_premium` (分). A changed premium: 409 `insurance.premium_changed`, field `extended_premium`;
    /// a product whose window is 30 days or longer: 409 `insurance.no_extension`. Nothing is created.
    #[serde(default)]
    pub extended_warranty: bool,
    pub extended_premium: Option<i64>,
    /// A coupon (优惠券) code of the product's shop (case-insensitive), applied after the wholesale price. Refused
    /// with field `coupon_code`: unknown here (`coupon.not_found`), disabled, expired, for another product, below
    /// its minimum (400), used up or past the buyer's limit (409). Part of the idempotency fingerprint like every
    /// field: the same key with another code is `idempotency_key_reused`.
    #[schema(max_length = 32)]
    pub coupon_code: Option<String>,
}

/// How an order's price was made: 原价 (list), 批发价 (wholesale tier), 优惠券 (coupon), 实付 (`amount_fen`).
#[derive(Serialize, ToSchema)]
pub struct OrderPricingView {
    pub list_unit_price_fen: i64,
    /// The wholesale tier's unit price for the quantity, or the list price.
    pub tier_unit_price_fen: i64,
    /// Quantity × tier unit price.
    pub amount_before_fen: i64,
    pub coupon_code: Option<String>,
    pub discount_fen: i64,
}

/// A buyer's answer to one of a custom product's fields.
#[derive(Serialize, ToSchema)]
pub struct CustomFieldView {
    pub label: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrderView {
    pub order_no: String,
    #[schema(value_type = super::contract::OrderStateName)]
    pub state: String,
    pub product_id: i64,
    pub quantity: i64,
    pub amount_fen: i64,
    /// The warranty terms as sold, and their SHA-256.
    pub warranty_snapshot: String,
    pub warranty_sha256: String,
    /// The warranty the order was sold under, in one line (the same label as on the product and order pages).
    pub warranty: super::views::WarrantySummaryView,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub settled_at: Option<i64>,
    /// Custom goods: the buyer's answers, in the product's field order.
    pub custom_fields: Vec<CustomFieldView>,
    /// Custom goods, once paid: the merchant must deliver before this (ms since the epoch) or the buyer is refunded.
    pub delivery_deadline: Option<i64>,
    /// What one item refunds (a claim refunds this per item): `amount_fen / quantity`, rounded down.
    pub unit_refund_fen: i64,
    /// Null for orders placed before prices were recorded.
    pub pricing: Option<OrderPricingView>,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
            order_no: o.order_no.clone(),
            state: o.state.as_str().into(),
            product_id: o.product_id.0,
            quantity: o.quantity,
            amount_fen: o.amount.fen(),
            warranty_snapshot: o.warranty_snapshot.clone(),
            warranty_sha256: hex::encode(&o.warranty_sha256),
            warranty: super::views::WarrantySummaryView::of_snapshot(&o.warranty_snapshot),
            created_at: o.created_at.millis(),
            expires_at: o.expires_at.millis(),
            paid_at: o.paid_at.map(|t| t.millis()),
            delivered_at: o.delivered_at.map(|t| t.millis()),
            settled_at: o.settled_at.map(|t| t.millis()),
            custom_fields: o
                .custom_answers
                .as_deref()
                .map(kabao_core::custom::Answers::from_json)
                .map(|a| a.0.into_iter().map(|(label, value)| CustomFieldView { label, value }).collect())
                .unwrap_or_default(),
            delivery_deadline: o.delivery_deadline.map(|t| t.millis()),
            unit_refund_fen: o.unit_price.fen(),
            pricing: o.pricing.as_ref().map(|p| OrderPricingView {
                list_unit_price_fen: p.list_unit_price.fen(),
                tier_unit_price_fen: p.tier_unit_price.fen(),
                amount_before_fen: p.amount_before.fen(),
                coupon_code: p.coupon_code.clone(),
                discount_fen: p.discount.fen(),
            }),
        }
    }
}

/// Create an order (registered buyer with a token, or a guest with `guest_email`). Nothing is reserved.
/// With an `Idempotency-Key`, a retry of the same body answers the first 201 byte for byte.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = OrderInput, security((), ("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, max_length = 128, description = "At most 128 visible ASCII characters, per caller (token user, or guest email). The same key with the same body answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another body 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    responses((status = 201, body = OrderView), (status = 400, description = "invalid field, or an invalid Idempotency-Key"),
        (status = 404, description = "no such listed product"),
        (status = 409, description = "out of stock, warranty changed, first order unconfirmed; `idempotency_key_reused` (same key, other body) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn create(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    IdemJson { idem, body }: IdemJson<OrderInput>,
) -> Result<axum::response::Response, ApiError> {
    let buyer = match (user, body.guest_email) {
        (Some(u), None) => Buyer::User(u),
        (None, Some(email)) => Buyer::Guest { email, query_password: body.query_password },
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "order.guest_email_with_token",
                "guest_email",
                "已登录时不需要填写游客邮箱",
                "guest_email is for guests; omit it when using a token",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "order.guest_email_required",
                "guest_email",
                "游客下单请填写邮箱，用于查询订单",
                "Guests must give guest_email to find the order again",
            ))
        }
    };
    // A guest's keys are theirs by email (the body's other fields, a query password among them, are in the
    // fingerprint), so the email is parsed before the key is looked up.
    let guest_email = match &buyer {
        Buyer::User(_) => None,
        Buyer::Guest { email, .. } => Some(
            kabao_core::user::Email::parse(email).map_err(|e| ApiError::from_localized(StatusCode::BAD_REQUEST, &e))?,
        ),
    };
    let scope = match (&buyer, &guest_email) {
        (Buyer::User(u), _) => Scope::User(u.id),
        (_, Some(email)) => Scope::GuestEmail(email.as_str()),
        (Buyer::Guest { .. }, None) => return Err(ApiError::internal("guest without an email")),
    };
    let render = |o: &Order| Rendered::json(StatusCode::CREATED, &OrderView::from(o));
    let run = match idem.begin(&state, scope, &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let req = CheckoutRequest {
        product: ProductId(body.product_id),
        quantity: body.quantity,
        warranty_ack: body.warranty_ack,
        warranty_seen: body.warranty_sha256,
        custom_answers: body.custom_fields.into_iter().collect(),
        first_order_confirmed: body.first_order_confirmed,
        device_id: headers
            .get("x-device-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|d| !d.is_empty() && d.len() <= 64)
            .map(str::to_string),
        // A missing premium is never the current one: refused as changed, with the premium to accept.
        insurance_premium: body.insurance.then(|| Money::from_fen(body.insurance_premium.unwrap_or(0))),
        extended_premium: body.extended_warranty.then(|| Money::from_fen(body.extended_premium.unwrap_or(0))),
        coupon_code: body.coupon_code,
    };
    let result = kabao_app::orders::checkout(&state, &buyer, &req, &run).await.map_err(ApiError::from);
    run.finish(&state, result).await
}

/// A guest's proof of access to an order (ignored with a bearer token).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct OrderSecret {
    /// Guests: the order's email, or its query password when it has one.
    #[param(rename = "X-Order-Secret")]
    secret: Option<String>,
}

/// The body of a sandbox notification (documentation of [`kabao_app::payments::SandboxNotification`]).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SandboxNotifyBody {
    notification_id: String,
    trade_no: String,
    gateway_trade_no: String,
    #[schema(minimum = 1)]
    amount_fen: i64,
    /// Only `paid` is applied.
    status: String,
    /// The payer's account at the gateway, when it reports one.
    payer: Option<String>,
}

/// How a request proves access to an order: the buyer's token, or for guests `X-Order-Secret` (the query password
/// if the order has one, else the email), throttled per order and per client IP like the page lookup.
pub(crate) async fn access_order(
    state: &SharedState,
    user: Option<&kabao_store::User>,
    headers: &HeaderMap,
    order_no: &str,
) -> Result<Order, ApiError> {
    match user {
        Some(u) => kabao_app::orders::order_for(state, order_no, &OrderAccess::User(u)).await.map_err(ApiError::from),
        None => {
            let secret = headers.get("x-order-secret").and_then(|v| v.to_str().ok()).unwrap_or_default();
            kabao_app::orders::guest_order(state, order_no, secret, crate::auth::client_ip_of(headers))
                .await
                .map_err(ApiError::from)
        }
    }
}

/// One order (buyer's token, or guest's `X-Order-Secret`: the query password if the order has one, else the email).
/// Failed guest lookups are throttled per order and per client IP.
#[utoipa::path(get, path = "/api/v1/orders/{order_no}", tag = "orders", params(("order_no" = String, Path), OrderSecret),
    security((), ("bearer" = [])),
    responses((status = 200, body = OrderView), (status = 404, description = "no such order of yours"), (status = 429, description = "lookup.throttled: too many failed guest lookups; see Retry-After")))]
pub async fn get(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<ApiJson<OrderView>, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    Ok(ApiJson(OrderView::from(&order)))
}

/// Pay a pending order from the buyer's wallet; the keys are allocated in the same transaction.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/pay/wallet", tag = "orders", security(("bearer" = [])), params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 402, description = "wallet balance too low"), (status = 404, description = "no such order of yours"),
        (status = 409, description = "not payable")))]
pub async fn pay_wallet(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(order_no): ApiPath<String>,
) -> Result<ApiJson<OrderView>, ApiError> {
    let order = kabao_app::orders::pay_with_wallet(&state, &user, &order_no).await?;
    Ok(ApiJson(OrderView::from(&order)))
}

#[derive(Serialize, ToSchema)]
pub struct PaymentView {
    pub trade_no: String,
    pub amount_fen: i64,
    /// Where the payer completes the payment: the gateway's page (Alipay, WeChat H5, 易支付), our page showing the
    /// QR code (WeChat Native), or the sandbox's payer page in a demo.
    pub pay_url: String,
    /// WeChat Native pay: the `weixin://` content of the QR code the payer scans (also shown at `pay_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code: Option<String>,
}

/// Start paying a pending order through the sandbox gateway. Exists only in a demo (`serve --demo` or
/// `[payments.sandbox] enabled = true`); otherwise 404.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/pay/sandbox", tag = "orders", params(("order_no" = String, Path), OrderSecret),
    security((), ("bearer" = [])),
    responses((status = 201, body = PaymentView), (status = 404, description = "no such order of yours, or no sandbox"), (status = 409, description = "not payable")))]
pub async fn pay_sandbox(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let p = kabao_app::orders::start_gateway_payment(&state, &order, kabao_app::payments::SANDBOX).await?;
    Ok((StatusCode::CREATED, ApiJson(PaymentView::new(&state, p, &format!("Kabao {}", order.order_no))?)))
}

impl PaymentView {
    fn new(state: &SharedState, p: kabao_store::Payment, name: &str) -> Result<PaymentView, ApiError> {
        Ok(PaymentView {
            pay_url: kabao_app::payments::pay_url(state, &p, name)?,
            trade_no: p.trade_no,
            amount_fen: p.amount.fen(),
            qr_code: None,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeysView {
    pub order_no: String,
    /// The keys in clear; every reveal is recorded.
    pub keys: Vec<String>,
}

/// Reveal the order's keys (recorded: who and when). Never cached.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/keys/reveal", tag = "orders", params(("order_no" = String, Path), OrderSecret),
    security((), ("bearer" = [])),
    responses((status = 200, body = KeysView), (status = 404, description = "no such order of yours"), (status = 409, description = "not delivered")))]
pub async fn reveal(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let keys = kabao_app::orders::reveal_keys(&state, &order, user.as_ref().map(|u| u.id)).await?;
    let view = KeysView { order_no: order.order_no, keys: keys.iter().map(|k| k.secret.to_string()).collect() };
    Ok(([(header::CACHE_CONTROL, "no-store")], ApiJson(view)))
}

#[derive(Serialize, ToSchema)]
pub struct WalletView {
    pub balance_fen: i64,
    /// Refunds go to this wallet (true) instead of back through the gateway the buyer paid with (false, the
    /// default). Orders paid from the wallet, or through a gateway without refunds, are refunded to the wallet
    /// either way.
    pub refund_to_wallet: bool,
}

async fn wallet_view(state: &SharedState, user: kabao_core::UserId) -> Result<WalletView, ApiError> {
    Ok(WalletView {
        balance_fen: kabao_app::payments::wallet_balance(state, user).await?.fen(),
        refund_to_wallet: kabao_app::refunds::prefers_wallet(state, user).await?,
    })
}

/// The caller's wallet balance, and where their refunds go.
#[utoipa::path(get, path = "/api/v1/wallet", tag = "wallet", security(("bearer" = [])), responses((status = 200, body = WalletView)))]
pub async fn wallet(State(state): State<SharedState>, ApiUser(user): ApiUser) -> Result<ApiJson<WalletView>, ApiError> {
    Ok(ApiJson(wallet_view(&state, user.id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundPreferenceInput {
    /// true: refunds to the wallet; false: back where the money came from.
    pub refund_to_wallet: bool,
}

/// Choose where refunds go: the wallet, or back through the gateway paid with (the default).
#[utoipa::path(put, path = "/api/v1/wallet/refund-preference", tag = "wallet", security(("bearer" = [])),
    request_body = RefundPreferenceInput, responses((status = 200, body = WalletView), (status = 400, description = "malformed body")))]
pub async fn set_refund_preference(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<RefundPreferenceInput>,
) -> Result<ApiJson<WalletView>, ApiError> {
    kabao_app::refunds::set_prefers_wallet(&state, user.id, input.refund_to_wallet).await?;
    Ok(ApiJson(wallet_view(&state, user.id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpInput {
    /// 1 分 to ¥50,000.
    #[schema(minimum = 1, maximum = 5_000_000)]
    #[serde(with = "super::views::whole")]
    pub amount_fen: i64,
}

/// Start a wallet top-up through the configured gateway (易支付, or the sandbox in a demo); with neither configured 409
/// `payment.no_gateway`. With an `Idempotency-Key`, a retry of the same body answers
/// the first 201 (the same payment) byte for byte.
#[utoipa::path(post, path = "/api/v1/wallet/top-ups", tag = "wallet", security(("bearer" = [])), request_body = TopUpInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "At most 128 visible ASCII characters, per user. The same key with the same body answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another body 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    responses((status = 201, body = PaymentView), (status = 400, description = "amount out of range, or an invalid Idempotency-Key"),
        (status = 409, description = "`payment.no_gateway` (no payment gateway configured); `idempotency_key_reused` (same key, other body) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn top_up(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    IdemJson { idem, body }: IdemJson<TopUpInput>,
) -> Result<axum::response::Response, ApiError> {
    let render = |p: &kabao_store::Payment| {
        Rendered::json(StatusCode::CREATED, &PaymentView::new(&state, p.clone(), "Kabao wallet top-up")?)
    };
    let run = match idem.begin(&state, Scope::User(user.id), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let result = kabao_app::payments::start_top_up(&state, user.id, Money::from_fen(body.amount_fen), &run)
        .await
        .map_err(ApiError::from);
    run.finish(&state, result).await
}

#[derive(Serialize, ToSchema)]
pub struct NotifyView {
    /// applied; duplicate (acknowledged, nothing done); or ignored (the gateway's trade number was already
    /// applied to another payment: nothing done, recorded as a security event)
    #[schema(value_type = super::contract::NotifyStatusName)]
    pub status: String,
}

/// The sandbox gateway's asynchronous notification: headers `Kabao-Timestamp` and `Kabao-Signature`
/// (hex HMAC-SHA256 of "timestamp.body"). Replays are acknowledged and ignored; tampering is refused.
#[utoipa::path(post, path = "/api/v1/gateways/sandbox/notify", tag = "gateways",
    params(("Kabao-Timestamp" = i64, Header, description = "Unix seconds; within ±300 s of the server's clock"),
        ("Kabao-Signature" = String, Header, description = "hex HMAC-SHA256 of \"timestamp.body\" with the sandbox secret")),
    request_body(content = SandboxNotifyBody, content_type = "application/json"),
    responses((status = 200, body = NotifyView), (status = 400, description = "malformed or wrong amount"), (status = 401, description = "bad signature or stale"),
        (status = 404, description = "no such payment")))]
pub async fn sandbox_notify(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiJson<NotifyView>, ApiError> {
    let outcome = kabao_app::payments::handle_sandbox_notify(
        &state,
        headers.get(kabao_app::payments::HEADER_TIMESTAMP).and_then(|v| v.to_str().ok()),
        headers.get(kabao_app::payments::HEADER_SIGNATURE).and_then(|v| v.to_str().ok()),
        &body,
    )
    .await?;
    let status = match outcome {
        kabao_app::payments::NotifyOutcome::Applied => "applied",
        kabao_app::payments::NotifyOutcome::Duplicate => "duplicate",
        kabao_app::payments::NotifyOutcome::TradeNoReused => "ignored",
    };
    Ok(ApiJson(NotifyView { status: status.into() }))
}

/// Parses a query string or form body into its raw name/value pairs, keeping repeats so they can be refused.
fn raw_params(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(text).map_err(|_| {
        ApiError::bad_request("gateway.malformed", "query", "通知参数格式错误", "Malformed notification parameters")
    })
}

async fn epay_answer(state: &SharedState, params: Result<Vec<(String, String)>, ApiError>) -> axum::response::Response {
    let result = match params {
        Ok(p) => kabao_app::epay::handle_notify(state, &p).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        // The platform expects the plain text `success`, and keeps retrying until it gets it. A signed notification
        // reusing a trade number already applied to another payment is answered `success` too: retrying cannot
        // change our answer (it would only repeat for hours), it changed nothing, and the admin sees it as a
        // security event to check against the gateway's records.
        Ok(_) => (StatusCode::OK, "success").into_response(),
        Err(e) => (e.status, "fail").into_response(),
    }
}

/// The parameters of an 易支付 notification (signed with the merchant key; `sign_type` MD5).
#[derive(utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EpayNotify {
    /// The merchant id the platform gave us.
    pid: String,
    /// The platform's trade number.
    trade_no: String,
    /// Our trade number (of the payment started with `POST /api/v1/orders/{order_no}/pay/epay`).
    out_trade_no: String,
    /// The payment method, e.g. alipay, wxpay.
    #[schema(rename = "type")]
    #[param(rename = "type")]
    method: String,
    name: String,
    /// The amount in yuan, e.g. "12.50"; must equal the payment's.
    money: String,
    /// Only TRADE_SUCCESS is applied.
    trade_status: String,
    sign: String,
    sign_type: String,
}

/// The 易支付 asynchronous notification as a GET (the usual way). Answers the plain text `success` (applied, or
/// seen before) or `fail` (refused: bad signature, not ours, wrong amount; or 易支付 is not configured).
#[utoipa::path(get, path = "/api/v1/gateways/epay/notify", tag = "gateways", params(EpayNotify),
    responses((status = 200, description = "success", body = String, content_type = "text/plain"),
        (status = 400, description = "fail: malformed, or the signature, pid or trade status is wrong", body = String, content_type = "text/plain"),
        (status = 404, description = "fail: 易支付 is not configured, or no such payment", body = String, content_type = "text/plain"),
        (status = 409, description = "fail: the notification conflicts with the payment (amount, another order)", body = String, content_type = "text/plain"),
        (status = 500, description = "fail: internal error; the platform retries", body = String, content_type = "text/plain")))]
pub async fn epay_notify_get(State(state): State<SharedState>, uri: axum::http::Uri) -> axum::response::Response {
    epay_answer(&state, raw_params(uri.query().unwrap_or_default())).await
}

/// The 易支付 asynchronous notification as a form POST; the same parameters and answers as the GET.
#[utoipa::path(post, path = "/api/v1/gateways/epay/notify", tag = "gateways",
    request_body(content = EpayNotify, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "success", body = String, content_type = "text/plain"),
        (status = 400, description = "fail: malformed, or the signature, pid or trade status is wrong", body = String, content_type = "text/plain"),
        (status = 404, description = "fail: 易支付 is not configured, or no such payment", body = String, content_type = "text/plain"),
        (status = 409, description = "fail: the notification conflicts with the payment (amount, another order)", body = String, content_type = "text/plain"),
        (status = 413, description = "fail: the body is too large", body = String, content_type = "text/plain"),
        (status = 500, description = "fail: internal error; the platform retries", body = String, content_type = "text/plain")))]
pub async fn epay_notify_post(State(state): State<SharedState>, body: Bytes) -> axum::response::Response {
    let text = String::from_utf8_lossy(&body);
    epay_answer(&state, raw_params(&text)).await
}

/// Starts paying an order at a gateway of the payments port (Alipay, WeChat Pay…): 201 with where the payer pays.
/// An order not the caller's is 404; a gateway not configured here is 404.
pub async fn pay_at(
    state: &SharedState,
    user: Option<&kabao_store::User>,
    headers: &HeaderMap,
    client_ip: Option<std::net::IpAddr>,
    order_no: &str,
    gateway: &str,
) -> Result<axum::response::Response, ApiError> {
    let order = access_order(state, user, headers, order_no).await?;
    let (p, checkout) = crate::gateway_http::start(state, &order, gateway, headers, client_ip).await?;
    let (pay_url, qr_code) = match checkout {
        kabao_app::gateways::Checkout::Redirect(url) => (url, None),
        kabao_app::gateways::Checkout::QrCode(code) => (format!("/o/{}", order.order_no), Some(code)),
        kabao_app::gateways::Checkout::Wallet => (format!("/o/{}", order.order_no), None),
    };
    let view = PaymentView { trade_no: p.trade_no, amount_fen: p.amount.fen(), pay_url, qr_code };
    Ok((StatusCode::CREATED, ApiJson(view)).into_response())
}

/// Start paying a pending order through 易支付: returns the platform's payment URL. Without 易支付 configured:
/// 409 `payment.no_gateway`.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/pay/epay", tag = "orders", params(("order_no" = String, Path), OrderSecret),
    security((), ("bearer" = [])),
    responses((status = 201, body = PaymentView), (status = 404, description = "no such order of yours"), (status = 409, description = "not payable, or payment.no_gateway")))]
pub async fn pay_epay(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    if state.config.epay.is_none() {
        return Err(kabao_app::payments::PaymentError::NoGateway.into());
    }
    let p = kabao_app::orders::start_gateway_payment(&state, &order, kabao_app::epay::EPAY).await?;
    Ok((StatusCode::CREATED, ApiJson(PaymentView::new(&state, p, &format!("Kabao {}", order.order_no))?)))
}
