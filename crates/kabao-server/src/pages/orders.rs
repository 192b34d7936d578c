//! Buying pages: the buy box's checkout, the order page (keys first, with a copy button; every reveal
//! recorded), the sandbox payer, guest order lookup (订单查询) and the wallet.

use super::{datetime, render, see_other, Ctx, PageForm};
use crate::auth::{cookie, set_cookie, ClientIp, Visitor};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_app::orders::{Buyer, CheckoutRequest, OrderAccess};
use kabao_core::order::{OrderNo, OrderState};
use kabao_core::{Money, ProductId, ShopId};
use kabao_store::{Order, PaymentPurpose, PaymentState};
use serde::Deserialize;

/// Guests keep access to the orders they placed in this browser through a cookie of MACed order numbers.
const GUEST_COOKIE: &str = "kabao_guest";
const GUEST_COOKIE_MAX: usize = 10;

fn guest_mac(state: &SharedState, order_no: &str) -> String {
    let fp = state.keyring.fingerprint(ShopId(0), &format!("guest-pass:{order_no}"));
    hex::encode(&fp.0[..16])
}

fn guest_pass_cookie(state: &SharedState, headers: &HeaderMap, order_no: &str) -> HeaderValue {
    let mut passes: Vec<String> = cookie(headers, GUEST_COOKIE)
        .unwrap_or_default()
        .split('|')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let pass = format!("{order_no}.{}", guest_mac(state, order_no));
    passes.retain(|p| p != &pass);
    passes.insert(0, pass);
    passes.truncate(GUEST_COOKIE_MAX);
    set_cookie(GUEST_COOKIE, &passes.join("|"), Some(30 * 24 * 3600), true, "Lax", state.config.secure_cookies)
}

fn has_guest_pass(state: &SharedState, headers: &HeaderMap, order_no: &str) -> bool {
    let want = format!("{order_no}.{}", guest_mac(state, order_no));
    cookie(headers, GUEST_COOKIE).unwrap_or_default().split('|').any(|p| p == want)
}

/// The order, if this visitor may see it: its buyer, or a guest holding its pass.
pub(crate) async fn visible_order(
    state: &SharedState,
    v: &Visitor,
    headers: &HeaderMap,
    order_no: &str,
) -> Result<Order, ApiError> {
    if let Some(u) = &v.user {
        if let Ok(o) =
            kabao_app::orders::order_for(state, order_no, &OrderAccess::User(u)).await.map_err(ApiError::from)
        {
            return Ok(o);
        }
    }
    let no = OrderNo::parse(order_no).ok_or_else(|| ApiError::not_found("order.not_found"))?;
    if has_guest_pass(state, headers, no.as_str()) {
        if let Some(o) = kabao_app::orders::guest_order_by_pass(state, &no).await? {
            return Ok(o);
        }
    }
    Err(ApiError::not_found("order.not_found"))
}

#[derive(Deserialize)]
pub struct BuyForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    quantity: String,
    guest_email: Option<String>,
    query_password: Option<String>,
    warranty_ack: Option<String>,
    /// The SHA-256 of the terms shown beside the checkbox.
    warranty_sha256: Option<String>,
    /// Custom goods: answers to the product's fields, by position.
    custom_0: Option<String>,
    custom_1: Option<String>,
    custom_2: Option<String>,
    custom_3: Option<String>,
    custom_4: Option<String>,
    /// The buyer ticked "I have read the first-order guidance" (shown for low-trust shops and large orders).
    first_order_confirmed: Option<String>,
    /// The warranty insurance add-on, ticked: the per-item premium the page showed (分).
    insurance: Option<String>,
    /// The extended warranty (延保), ticked: the per-item premium the page showed (分).
    extended_warranty: Option<String>,
    /// A coupon (优惠券) code, if the buyer entered one.
    coupon_code: Option<String>,
}

pub async fn buy(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<BuyForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let buyer = match &v.user {
        Some(u) => Buyer::User(u.clone()),
        None => {
            Buyer::Guest { email: f.guest_email.clone().unwrap_or_default(), query_password: f.query_password.clone() }
        }
    };
    let quantity = f.quantity.trim().parse::<i64>().unwrap_or(0);
    // The form sends custom-goods answers by position; the product's field list gives them their labels.
    let labels =
        kabao_app::inventory::custom_spec_of(&*state.store, ProductId(id)).await?.map(|s| s.fields).unwrap_or_default();
    let values = [&f.custom_0, &f.custom_1, &f.custom_2, &f.custom_3, &f.custom_4];
    let custom_answers =
        labels.into_iter().zip(values).map(|(label, v)| (label, v.clone().unwrap_or_default())).collect();
    let req = CheckoutRequest {
        product: ProductId(id),
        quantity,
        warranty_ack: f.warranty_ack.is_some(),
        warranty_seen: f.warranty_sha256.clone(),
        custom_answers,
        first_order_confirmed: f.first_order_confirmed.is_some(),
        device_id: crate::auth::device_id(&headers).map(str::to_string),
        // The premium the page showed, for the whole quantity; a changed one is refused with the new one.
        insurance_premium: f
            .insurance
            .as_deref()
            .map(|unit| Money::from_fen(unit.trim().parse::<i64>().unwrap_or(0).saturating_mul(quantity))),
        extended_premium: f
            .extended_warranty
            .as_deref()
            .map(|unit| Money::from_fen(unit.trim().parse::<i64>().unwrap_or(0).saturating_mul(quantity))),
        coupon_code: f.coupon_code.clone(),
    };
    match kabao_app::orders::checkout(&state, &buyer, &req, &crate::idempotency::Run::none())
        .await
        .map_err(ApiError::from)
    {
        Ok(order) => {
            let mut res = see_other(&format!("/o/{}", order.order_no));
            if v.user.is_none() {
                res.headers_mut().append(SET_COOKIE, guest_pass_cookie(&state, &headers, &order.order_no));
            }
            Ok(res)
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let mut page =
                super::catalog::product_page(&state, &v, ProductId(id), Some(e.message(v.lang).to_string())).await?;
            *page.status_mut() = e.status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

/// An order's price as shown: list unit price, the tier unit price if below it, and the coupon code with "-¥x".
type PriceLines = (String, Option<String>, Option<(String, String)>);

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    ctx: Ctx,
    error: Option<String>,
    /// Warranty insurance bought with the order, in words.
    insurance: Option<String>,
    /// A warranty insurance payout waiting for the pool, in words.
    insurance_queued: Option<String>,
    /// With an extended warranty (延保): who stands behind the order until when (商家质保 至 … / 平台延保 至 …).
    windows: Option<(String, String)>,
    order_no: String,
    state: &'static str,
    state_label: &'static str,
    product_id: i64,
    product_title: String,
    quantity: i64,
    amount: String,
    /// 原价 / 批发价 / 优惠券, when the order recorded how its price was made.
    pricing: Option<PriceLines>,
    warranty_sha256: String,
    pending: bool,
    can_wallet: bool,
    /// Gateways this server has: the sandbox only in a demo, 易支付 when configured.
    can_sandbox: bool,
    can_epay: bool,
    /// The payments port's other configured gateways (Alipay, WeChat Pay): (id, name).
    port_gateways: Vec<(&'static str, &'static str)>,
    /// Refunds going back through the gateway the buyer paid with, in words: (state, words).
    refunds: Vec<(&'static str, String)>,
    can_reveal: bool,
    /// (item, key) pairs, each with a link to claim about that item.
    keys: Vec<(i32, String)>,
    /// The order's claims: (claim no, item, problem, state label, state).
    claims: Vec<(String, i32, &'static str, &'static str, &'static str)>,
    timeline: Vec<(String, String)>,
    /// Custom goods: delivered by hand (shown as text, not as key lines), the buyer's answers, the deadline.
    custom: bool,
    custom_answers: Vec<(String, String)>,
    delivery_deadline: Option<String>,
    /// While unpaid: the pay-by time in China time and the whole minutes left (rounded up).
    pay_deadline: Option<(String, i64)>,
    /// The warranty the order was sold under in one line, and its rules (empty: 无质保).
    warranty_label: String,
    warranty_lines: Vec<String>,
    /// The buyer's review, or the form while the order can be reviewed.
    review: Option<super::reviews::ReviewLine>,
    can_review: bool,
    review_tags: Vec<(&'static str, &'static str, i32)>,
    stars: [i32; 5],
    /// The order's chat as the buyer sees it (other side's contact details masked, warnings beside risky lines).
    chat: Vec<super::chat::ChatLine>,
    can_chat: bool,
    chat_action: String,
}

/// The merchant's window (closing a policy window after delivery; before delivery, its length) and the
/// platform's extended window, in words.
fn warranty_windows(order: &Order, until: kabao_core::Timestamp, lang: kabao_core::Lang) -> (String, String) {
    use kabao_core::Lang;
    let policy = kabao_core::warranty::WarrantyPolicy::from_snapshot(&order.warranty_snapshot);
    let merchant_until = match (policy, order.delivered_at) {
        (Some(p), Some(at)) => datetime(p.window.closes(at)),
        (Some(p), None) => match p.window {
            kabao_core::warranty::ClaimWindow::Days(d) => {
                lang.pick(&format!("交付后 {d} 天"), &format!("{d} days after delivery")).to_string()
            }
            kabao_core::warranty::ClaimWindow::Hours(h) => {
                lang.pick(&format!("交付后 {h} 小时"), &format!("{h} hours after delivery")).to_string()
            }
        },
        (None, _) => "—".to_string(),
    };
    match lang {
        Lang::Zh => (format!("商家质保 至 {merchant_until}"), format!("平台延保 至 {}", datetime(until))),
        Lang::En => (
            format!("Merchant's warranty until {merchant_until}"),
            format!("Platform's extended warranty until {}", datetime(until)),
        ),
    }
}

/// What every timeline (buyer, merchant, arbiter) says for an event: the words from core's list of event kinds.
pub(crate) fn event_label(e: &kabao_core::audit::ChainedEvent, lang: kabao_core::Lang) -> &'static str {
    kabao_core::events::label_or_other(&e.kind, &e.body, lang)
}

pub(crate) async fn order_page(
    state: &SharedState,
    v: &Visitor,
    order: &Order,
    keys: Vec<(i32, String)>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let lang = v.lang;
    let kabao_app::orders::OrderDetails { product, events, claims, review, premium, cover } =
        kabao_app::orders::details(state, order).await?;
    let windows = cover.as_ref().and_then(|c| c.extended_until).map(|until| warranty_windows(order, until, lang));
    // The insurance line is for warranty insurance; an extension alone is shown by the two windows.
    let premium = premium.filter(|_| cover.as_ref().is_some_and(|c| c.kind == kabao_store::CoverKind::Cover));
    let is_buyer = order.buyer_id.is_some() && v.user.as_ref().is_some_and(|u| Some(u.id) == order.buyer_id);
    let delivered = matches!(order.state, OrderState::Delivered | OrderState::Settled);
    let chat = super::chat::chat_lines(state, order, kabao_store::ChatParty::Buyer, lang).await?;
    let queued: Vec<kabao_store::Payout> = kabao_app::insurance::order_payouts(state, order.id)
        .await?
        .into_iter()
        .filter(|p| p.state == kabao_store::PayoutState::Pending)
        .collect();
    let insurance_queued = queued.first().map(|p| match lang {
        kabao_core::Lang::Zh => format!("保险赔付排队中：{}，保险池有资金时立即到账", p.amount),
        kabao_core::Lang::En => {
            format!("Insurance payout queued: {}, paid as soon as the pool has the money", p.amount)
        }
    });
    let extended = windows.is_some();
    let page = OrderPage {
        windows,
        insurance_queued,
        ctx: Ctx::new(v),
        error,
        order_no: order.order_no.clone(),
        state: order.state.as_str(),
        state_label: order.state.label(lang),
        product_id: order.product_id.0,
        product_title: product.map(|p| p.title).unwrap_or_default(),
        quantity: order.quantity,
        amount: order.amount.to_string(),
        pricing: order.pricing.as_ref().map(|p| {
            (
                p.list_unit_price.to_string(),
                (p.tier_unit_price < p.list_unit_price).then(|| p.tier_unit_price.to_string()),
                p.coupon_code.clone().filter(|_| p.discount.is_positive()).map(|c| (c, format!("-{}", p.discount))),
            )
        }),
        insurance: premium.map(|p| match (lang, extended) {
            (kabao_core::Lang::Zh, false) => {
                format!("已投保质保险（保费 {p}）：商家未按规则补单或退款时，由平台保险池先行赔付")
            }
            (kabao_core::Lang::Zh, true) => {
                format!("已投保质保险（保费 {p}，含平台延保）：商家未按规则补单或退款时，由平台保险池先行赔付")
            }
            (kabao_core::Lang::En, false) => {
                format!("Insured (premium {p}): the platform's pool pays if the merchant fails to remedy")
            }
            (kabao_core::Lang::En, true) => format!(
                "Insured (premium {p}, extended warranty included): the platform's pool pays if the merchant \
                 fails to remedy"
            ),
        }),
        warranty_sha256: hex::encode(&order.warranty_sha256),
        pending: order.state == OrderState::PendingPayment,
        can_wallet: order.buyer_id.is_some() && v.user.as_ref().is_some_and(|u| Some(u.id) == order.buyer_id),
        can_sandbox: state.config.sandbox.is_some(),
        can_epay: state.config.epay.is_some(),
        port_gateways: state
            .gateways
            .external()
            .filter(|g| PORT_PAGE_GATEWAYS.contains(&g.id()))
            .map(|g| (g.id(), g.name(lang)))
            .collect(),
        refunds: kabao_app::refunds::of_order(state, order.id)
            .await?
            .iter()
            .map(|r| (r.state.as_str(), kabao_app::refunds::describe(state, r, lang)))
            .collect(),
        can_reveal: matches!(order.state, OrderState::Delivered | OrderState::Settled),
        keys,
        claims: claims
            .iter()
            .map(|c| (c.claim_no.clone(), c.item, c.defect.label(lang), c.state.label(lang), c.state.as_str()))
            .collect(),
        timeline: events
            .iter()
            .map(|e| (datetime(kabao_core::Timestamp::from_millis(e.at_ms)), event_label(e, lang).to_string()))
            .collect(),
        custom: order.custom_answers.is_some(),
        custom_answers: order
            .custom_answers
            .as_deref()
            .map(kabao_core::custom::Answers::from_json)
            .map(|a| a.0)
            .unwrap_or_default(),
        delivery_deadline: order.delivery_deadline.filter(|_| order.state == OrderState::Paid).map(datetime),
        pay_deadline: (order.state == OrderState::PendingPayment).then(|| pay_deadline(state, order)),
        warranty_label: kabao_core::warranty::warranty_label(
            kabao_core::warranty::WarrantyPolicy::from_snapshot(&order.warranty_snapshot).map(|p| p.summary()),
            lang,
        ),
        warranty_lines: kabao_app::warranty::describe_snapshot(&order.warranty_snapshot, lang),
        can_review: is_buyer && delivered && review.is_none(),
        review: review.as_ref().map(|r| super::reviews::ReviewLine::new(r, lang)),
        review_tags: super::reviews::tag_choices(lang),
        stars: [5, 4, 3, 2, 1],
        can_chat: order.state != OrderState::Expired,
        chat_action: format!("/o/{}/messages", order.order_no),
        chat,
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

pub async fn show(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
) -> Result<Response, ApiError> {
    let order = visible_order(&state, &v, &headers, &no).await?;
    order_page(&state, &v, &order, Vec::new(), None).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

pub async fn reveal(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let keys = kabao_app::orders::reveal_keys(&state, &order, v.user.as_ref().map(|u| u.id)).await?;
    let keys = keys.iter().map(|k| (k.item, k.secret.to_string())).collect();
    order_page(&state, &v, &order, keys, None).await
}

pub async fn pay_wallet(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let Some(user) = v.user.as_ref() else { return Err(ApiError::unauthorized()) };
    match kabao_app::orders::pay_with_wallet(&state, user, &order.order_no).await.map_err(ApiError::from) {
        Ok(o) => Ok(see_other(&format!("/o/{}", o.order_no))),
        Err(e) if e.status.is_client_error() => {
            let mut page = order_page(&state, &v, &order, Vec::new(), Some(e.message(v.lang).to_string())).await?;
            *page.status_mut() = e.status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

pub async fn pay_sandbox(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    pay_gateway(&state, &v, &headers, &no, f, kabao_app::payments::SANDBOX).await
}

/// Pays through 易支付: the payer is sent to the platform's submit URL.
pub async fn pay_epay(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    pay_gateway(&state, &v, &headers, &no, f, kabao_app::epay::EPAY).await
}

async fn pay_gateway(
    state: &SharedState,
    v: &Visitor,
    headers: &HeaderMap,
    no: &str,
    f: CsrfForm,
    gateway: &str,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let order = visible_order(state, v, headers, no).await?;
    let started = match (gateway, &state.config.epay) {
        (kabao_app::epay::EPAY, None) => Err(ApiError::from(kabao_app::payments::PaymentError::NoGateway)),
        _ => kabao_app::orders::start_gateway_payment(state, &order, gateway).await.map_err(ApiError::from),
    };
    match started.and_then(|p| {
        kabao_app::payments::pay_url(state, &p, &format!("Kabao {}", order.order_no)).map_err(ApiError::from)
    }) {
        Ok(url) => Ok(see_other(&url)),
        Err(e) if e.status == StatusCode::CONFLICT => {
            let mut page = order_page(state, v, &order, Vec::new(), Some(e.message(v.lang).to_string())).await?;
            *page.status_mut() = e.status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

/// The gateways of the payments port paid through [`pay_port`] on the order page (the wallet, the sandbox and
/// 易支付 keep their own forms).
const PORT_PAGE_GATEWAYS: [&str; 2] = [kabao_app::gateways::alipay::ALIPAY, kabao_app::gateways::wechatpay::WECHATPAY];

pub async fn pay_alipay(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    pay_port(&state, &v, &headers, ip, &no, f, kabao_app::gateways::alipay::ALIPAY).await
}

pub async fn pay_wechatpay(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    pay_port(&state, &v, &headers, ip, &no, f, kabao_app::gateways::wechatpay::WECHATPAY).await
}

/// WeChat Native pay's page: the QR code to scan with WeChat, the amount, and the way back to the order (which
/// shows it paid once the gateway's notification arrived; the page itself never marks anything paid).
/// The pay-by time of an unpaid order in China time, and the minutes left (rounded up, never negative).
fn pay_deadline(state: &SharedState, order: &Order) -> (String, i64) {
    let left_ms = order.expires_at.millis().saturating_sub(state.now().millis()).max(0);
    (datetime(order.expires_at), (left_ms + 59_999) / 60_000)
}

#[derive(Template)]
#[template(path = "pay_qr.html")]
struct QrPage {
    ctx: Ctx,
    gateway: &'static str,
    order_no: String,
    trade_no: String,
    amount: String,
    svg: String,
    pay_deadline: (String, i64),
}

/// The QR code of `content` as an inline SVG (dark modules on white, a quiet zone around).
pub fn qr_svg(content: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(content.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

async fn pay_port(
    state: &SharedState,
    v: &Visitor,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
    no: &str,
    f: CsrfForm,
    gateway: &'static str,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let order = visible_order(state, v, headers, no).await?;
    match crate::gateway_http::start(state, &order, gateway, headers, ip).await {
        Ok((_, kabao_app::gateways::Checkout::Redirect(url))) => Ok(see_other(&url)),
        Ok((p, kabao_app::gateways::Checkout::QrCode(content))) => {
            let svg = qr_svg(&content).ok_or_else(|| {
                ApiError::internal(format!("{gateway} QR content of {} bytes cannot be encoded", content.len()))
            })?;
            let name = state.gateways.get(gateway).map(|g| g.name(v.lang)).unwrap_or(gateway);
            let page = QrPage {
                ctx: Ctx::new(v),
                gateway: name,
                order_no: order.order_no.clone(),
                trade_no: p.trade_no,
                amount: p.amount.to_string(),
                svg,
                pay_deadline: pay_deadline(state, &order),
            };
            Ok(render(page))
        }
        Ok((_, kabao_app::gateways::Checkout::Wallet)) => Ok(see_other(&format!("/o/{}", order.order_no))),
        Err(e) if matches!(e.status.as_u16(), 409 | 502 | 503) => {
            let mut page = order_page(state, v, &order, Vec::new(), Some(e.message(v.lang).to_string())).await?;
            *page.status_mut() = e.status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "sandbox_pay.html")]
struct SandboxPage {
    ctx: Ctx,
    trade_no: String,
    amount: String,
    paid: bool,
    back: String,
}

async fn payment_back(state: &SharedState, purpose: PaymentPurpose) -> Result<String, ApiError> {
    Ok(match purpose {
        PaymentPurpose::TopUp(_) => "/wallet".into(),
        PaymentPurpose::Order(id) => kabao_app::orders::by_id(state, id)
            .await?
            .map(|o| format!("/o/{}", o.order_no))
            .unwrap_or_else(|| "/".into()),
    })
}

pub async fn sandbox_page(
    State(state): State<SharedState>,
    v: Visitor,
    ApiPath(trade_no): ApiPath<String>,
) -> Result<Response, ApiError> {
    let p = kabao_app::payments::by_trade_no(&state, &trade_no).await?;
    let back = payment_back(&state, p.purpose).await?;
    Ok(render(SandboxPage {
        ctx: Ctx::new(&v),
        trade_no: p.trade_no,
        amount: p.amount.to_string(),
        paid: p.state == PaymentState::Paid,
        back,
    }))
}

#[derive(Deserialize)]
pub struct SandboxPayForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    /// The simulated payer's account (the sandbox reports it, as some real gateways do).
    payer: Option<String>,
}

/// The simulated payer pays: the sandbox gateway signs a notification and delivers it to the platform's
/// notification handler, exactly as it arrives from a real gateway.
pub async fn sandbox_pay(
    State(state): State<SharedState>,
    v: Visitor,
    ApiPath(trade_no): ApiPath<String>,
    PageForm(f): PageForm<SandboxPayForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let p = kabao_app::payments::by_trade_no(&state, &trade_no).await?;
    let (ts, body, sig) =
        kabao_app::payments::sandbox_notification_from(&state, &p, state.now().millis() / 1000, f.payer.clone());
    let mut headers = HeaderMap::new();
    headers.insert(kabao_app::payments::HEADER_TIMESTAMP, HeaderValue::from(ts));
    if let Ok(s) = HeaderValue::from_str(&sig) {
        headers.insert(kabao_app::payments::HEADER_SIGNATURE, s);
    }
    kabao_app::payments::handle_sandbox_notify(
        &state,
        headers.get(kabao_app::payments::HEADER_TIMESTAMP).and_then(|v| v.to_str().ok()),
        headers.get(kabao_app::payments::HEADER_SIGNATURE).and_then(|v| v.to_str().ok()),
        &body,
    )
    .await?;
    Ok(see_other(&payment_back(&state, p.purpose).await?))
}

#[derive(Template)]
#[template(path = "lookup.html")]
struct LookupPage {
    ctx: Ctx,
    error: Option<String>,
    order_no: String,
}

pub async fn lookup_form(v: Visitor) -> Response {
    render(LookupPage { ctx: Ctx::new(&v), error: None, order_no: String::new() })
}

#[derive(Deserialize)]
pub struct LookupForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    order_no: String,
    #[serde(default)]
    secret: String,
}

/// 订单查询: order number plus the query password (or, for an order without one, the email). Failures are
/// throttled per order and per client IP, shared with the API's `X-Order-Secret`.
pub async fn lookup(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    PageForm(f): PageForm<LookupForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match kabao_app::orders::guest_order(&state, &f.order_no, &f.secret, v.ip).await.map_err(ApiError::from) {
        Ok(order) => {
            let mut res = see_other(&format!("/o/{}", order.order_no));
            res.headers_mut().append(SET_COOKIE, guest_pass_cookie(&state, &headers, &order.order_no));
            Ok(res)
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            let message = v
                .lang
                .pick("订单号与邮箱/查询密码不匹配", "The order number and email/query password do not match")
                .to_string();
            let mut page = render(LookupPage { ctx: Ctx::new(&v), error: Some(message), order_no: f.order_no });
            *page.status_mut() = StatusCode::NOT_FOUND;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    ctx: Ctx,
    error: Option<String>,
    balance: String,
    orders: Vec<(String, &'static str, String)>,
    /// A gateway exists to top up through (易支付, or the sandbox in a demo); without one no form is offered.
    can_top_up: bool,
    /// The buyer chose refunds to the wallet over back where the money came from.
    refund_to_wallet: bool,
    /// Wallet movements, newest first: (time, kind, signed amount, balance after, order no).
    movements: Vec<(String, &'static str, String, String, Option<String>)>,
    /// The link to older movements.
    older: Option<String>,
}

async fn wallet_page(state: &SharedState, v: &Visitor, error: Option<String>) -> Result<Response, ApiError> {
    wallet_page_at(state, v, error, None).await
}

async fn wallet_page_at(
    state: &SharedState,
    v: &Visitor,
    error: Option<String>,
    cursor: Option<&str>,
) -> Result<Response, ApiError> {
    let Some(user) = &v.user else { return Ok(see_other("/login?next=/wallet")) };
    let balance = kabao_app::payments::wallet_balance(state, user.id).await?;
    let orders = kabao_app::orders::of_buyer(state, user, 50).await?;
    let history = kabao_app::history::wallet_history(state, user, cursor).await?;
    let lang = v.lang;
    Ok(render(WalletPage {
        ctx: Ctx::new(v),
        error,
        balance: balance.to_string(),
        orders: orders.iter().map(|o| (o.order_no.clone(), o.state.label(lang), o.amount.to_string())).collect(),
        can_top_up: kabao_app::payments::top_up_gateway(state).is_ok(),
        refund_to_wallet: kabao_app::refunds::prefers_wallet(state, user.id).await?,
        movements: history
            .lines
            .iter()
            .map(|l| {
                let m = &l.movement;
                let sign = if m.amount.fen() > 0 { "+" } else { "" };
                (
                    datetime(m.at),
                    kabao_app::history::kind_label(m.kind, lang),
                    format!("{sign}{}", m.amount.yuan_string()),
                    l.balance_after.to_string(),
                    m.order_no.clone(),
                )
            })
            .collect(),
        older: history.next.map(|c| format!("/wallet?cursor={c}#wallet-history")),
    }))
}

#[derive(Deserialize)]
pub struct RefundPreferenceForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    /// "wallet" or "original".
    #[serde(default)]
    to: String,
}

/// The buyer chooses where refunds go: back where the money came from (the default), or the wallet.
pub async fn refund_preference(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<RefundPreferenceForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let Some(user) = v.user.clone() else { return Ok(see_other("/login?next=/wallet")) };
    let to_wallet = match f.to.as_str() {
        "wallet" => true,
        "original" => false,
        _ => {
            let e =
                ApiError::bad_request("refund.preference_invalid", "to", "请选择退款去向", "Choose where refunds go");
            let page = wallet_page(&state, &v, Some(e.message(v.lang).to_string())).await?;
            return Ok(super::with_status(page, e.status));
        }
    };
    kabao_app::refunds::set_prefers_wallet(&state, user.id, to_wallet).await?;
    Ok(see_other("/wallet"))
}

#[derive(Deserialize)]
pub struct WalletQuery {
    cursor: Option<String>,
}

pub async fn wallet(
    State(state): State<SharedState>,
    v: Visitor,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<WalletQuery>,
) -> Result<Response, ApiError> {
    wallet_page_at(&state, &v, None, q.cursor.as_deref()).await
}

#[derive(Deserialize)]
pub struct TopUpForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    amount: String,
}

pub async fn top_up(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<TopUpForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let Some(user) = v.user.clone() else { return Ok(see_other("/login?next=/wallet")) };
    let amount = Money::parse_yuan(&f.amount)
        .map_err(|e| ApiError::from_localized(StatusCode::BAD_REQUEST, &e).with_field("amount"));
    match amount {
        Ok(a) => match kabao_app::payments::start_top_up(&state, user.id, a, &crate::idempotency::Run::none())
            .await
            .map_err(ApiError::from)
            .and_then(|p| kabao_app::payments::pay_url(&state, &p, "Kabao wallet top-up").map_err(ApiError::from))
        {
            Ok(url) => Ok(see_other(&url)),
            Err(e) if e.status.is_client_error() => {
                let page = wallet_page(&state, &v, Some(e.message(v.lang).to_string())).await?;
                Ok(super::with_status(page, e.status))
            }
            Err(e) => Err(e),
        },
        Err(e) => wallet_page(&state, &v, Some(e.message(v.lang).to_string())).await,
    }
}
