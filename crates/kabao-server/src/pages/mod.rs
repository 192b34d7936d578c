//! Server-rendered pages (askama templates, checked at compile time), zh-CN first with an English switch.
//! Every form carries a CSRF token; every page works without JavaScript and fits a 375 px phone.

pub mod account;
pub mod admin;
pub mod catalog;
pub mod chat;
pub mod claims;
pub mod console;
pub mod disputes;
pub mod email;
pub mod finance;
pub mod history;
pub mod insurance;
pub mod orders;
pub mod promotions;
pub mod reconciliation;
pub mod reviews;
pub mod security;
pub mod trust;
pub mod two_factor;
pub mod webhooks;

use crate::auth::Visitor;
use crate::error::ApiError;
use crate::i18n::T;
use crate::route_table::{get, post, Routes};
use crate::SharedState;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Router;
use kabao_core::user::Role;
use kabao_core::Lang;

/// What every page needs: the translator, who is looking, the CSRF token for its forms.
pub struct Ctx {
    pub t: T,
    pub username: Option<String>,
    pub role: Option<Role>,
    pub csrf: String,
    /// The current path, for the language switch to come back to.
    pub path: String,
    /// The sandbox gateway is on: every page says payments are simulated.
    pub demo: bool,
}

impl Ctx {
    pub fn new(v: &Visitor) -> Ctx {
        Ctx {
            t: T { lang: v.lang },
            username: v.user.as_ref().map(|u| u.username.clone()),
            role: v.user.as_ref().map(|u| u.role),
            csrf: v.csrf.clone(),
            path: v.path.clone(),
            demo: v.demo,
        }
    }
    pub fn is_merchant(&self) -> bool {
        self.role == Some(Role::Merchant)
    }
    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }
    pub fn is_arbiter(&self) -> bool {
        self.role == Some(Role::Arbiter)
    }
    /// The current path, percent-encoded for a query parameter.
    pub fn path_encoded(&self) -> String {
        self.path
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    /// The stylesheet's URL, versioned by its content (see [`css_href`]).
    pub fn css_href(&self) -> &'static str {
        css_href()
    }
    /// The page script's and the icon's URLs, versioned by their content.
    pub fn js_href(&self) -> &'static str {
        crate::hardening::js_href()
    }
    pub fn icon_href(&self) -> &'static str {
        crate::hardening::icon_href()
    }
    pub fn other_lang(&self) -> &'static str {
        match self.t.lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        }
    }
}

/// A page answered with another status (a form shown again with its error).
pub(crate) fn with_status(mut res: Response, code: StatusCode) -> Response {
    *res.status_mut() = code;
    res
}

/// Whether an error belongs on the form's own page (bad input, a conflict) rather than on the error page
/// (not found, forbidden, internal).
pub(crate) fn shown_on_form(e: &ApiError) -> bool {
    e.status.is_client_error() && e.status != StatusCode::NOT_FOUND && e.status != StatusCode::FORBIDDEN
}

/// Where a form ends: on success, a redirect to `done`; a refusal that belongs on the form shows the form's page
/// again (`again` renders it with the message) with the refusal's status; anything else is the error page.
pub(crate) async fn after_form<T, Fut>(
    lang: Lang,
    result: Result<T, ApiError>,
    done: &str,
    again: impl FnOnce(String) -> Fut,
) -> Result<Response, ApiError>
where
    Fut: std::future::Future<Output = Result<Response, ApiError>>,
{
    match result {
        Ok(_) => Ok(see_other(done)),
        Err(e) if shown_on_form(&e) => Ok(with_status(again(e.message(lang).to_string()).await?, e.status)),
        Err(e) => Err(e),
    }
}

/// Renders a template to an HTML response.
pub fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

pub use kabao_app::display::{date, datetime};

pub use crate::extract::PageForm;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: Ctx,
    status: u16,
    message: String,
    /// The request's id, for the visitor to quote to support.
    request_id: Option<String>,
}

/// Turns an [`ApiError`] returned by a page handler into an error page in the visitor's language.
async fn error_pages(demo: bool, req: Request, next: Next) -> Response {
    let lang = crate::auth::request_lang(req.headers());
    let csrf = crate::auth::cookie(req.headers(), crate::auth::CSRF_COOKIE).unwrap_or_default().to_string();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let Some(err) = res.extensions().get::<ApiError>().cloned() else {
        return res;
    };
    let ctx = Ctx { t: T { lang }, username: None, role: None, csrf, path, demo };
    let mut page = render(ErrorPage {
        ctx,
        status: err.status.as_u16(),
        message: err.message(lang).to_string(),
        request_id: crate::hardening::current_request_id(),
    });
    *page.status_mut() = err.status;
    for (k, v) in res.headers() {
        if k == header::SET_COOKIE || k == header::RETRY_AFTER {
            page.headers_mut().append(k.clone(), v.clone());
        }
    }
    page
}

/// The 404 page for any path no route matches.
pub async fn not_found(State(state): State<SharedState>, req: Request) -> Response {
    let lang = crate::auth::request_lang(req.headers());
    if req.uri().path().starts_with("/api/") {
        return ApiError::not_found("request.not_found").into_response();
    }
    let ctx = Ctx {
        t: T { lang },
        username: None,
        role: None,
        csrf: String::new(),
        path: req.uri().path().to_string(),
        demo: state.config.sandbox.is_some(),
    };
    let message = ctx.t.get("error.not_found").to_string();
    let mut page = render(ErrorPage { ctx, status: 404, message, request_id: crate::hardening::current_request_id() });
    *page.status_mut() = StatusCode::NOT_FOUND;
    page
}

/// Redirect after a successful POST (303, so a reload does not resubmit).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `GET /lang/{zh|en}?next=/path`: remembers the language in a cookie.
async fn switch_lang(
    State(state): State<SharedState>,
    crate::extract::ApiPath(tag): crate::extract::ApiPath<String>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<std::collections::HashMap<String, String>>,
) -> Response {
    let lang = Lang::from_tag(&tag).unwrap_or_default();
    // Only local paths: an open redirect would let phishing links borrow our domain.
    let next = q
        .get("next")
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/".into());
    let cookie = crate::auth::set_cookie(
        crate::auth::LANG_COOKIE,
        lang.tag(),
        Some(365 * 24 * 3600),
        false,
        "Lax",
        state.config.secure_cookies,
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}

const APP_CSS: &str = include_str!("../../static/app.css");

/// `/static/app.css?v=<content hash>`: browsers may keep the stylesheet for a year, because a build with other
/// CSS links it under another URL.
pub fn css_href() -> &'static str {
    static HREF: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(APP_CSS.as_bytes()));
        format!("/static/app.css?v={}", &hash[..12])
    });
    &HREF
}

/// The sign-up proof-of-work solver, run by the register form (a file of ours: the CSP allows no inline script).
async fn pow_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/pow.js"),
    )
        .into_response()
}

async fn app_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        APP_CSS,
    )
        .into_response()
}

/// The page routes, recorded (see [`route_table`]); the sandbox payer's only when `sandbox` is on (a demo), so
/// elsewhere they are 404.
fn page_routes(sandbox: bool) -> Routes {
    let routes = Routes::new()
        .route("/", get(catalog::home))
        .route("/p/{id}", get(catalog::product))
        .route("/s/{id}", get(catalog::shop))
        .route("/p/{id}/buy", post(orders::buy))
        .route("/o/{no}", get(orders::show))
        .route("/o/{no}/reveal", post(orders::reveal))
        .route("/o/{no}/review", post(reviews::submit))
        .route("/o/{no}/messages", post(chat::buyer_send))
        .route("/console/orders/{no}/chat", get(chat::merchant).post(chat::merchant_send))
        .route("/arbiter/orders/{no}/chat", get(chat::arbiter).post(chat::arbiter_send))
        .route("/admin/orders/{no}/chat", get(chat::admin))
        .route("/console/certification", get(trust::console).post(trust::apply))
        .route("/admin/trust", get(trust::admin))
        .route("/admin/certifications/{id}/decision", post(trust::decide))
        .route("/admin/risk/{shop}/review", post(trust::review_risk))
        .route("/console/reviews", get(reviews::console))
        .route("/console/reviews/{id}/reply", post(reviews::reply))
        .route("/o/{no}/pay/wallet", post(orders::pay_wallet))
        .route("/o/{no}/pay/epay", post(orders::pay_epay))
        .route("/o/{no}/pay/alipay", post(orders::pay_alipay))
        .route("/o/{no}/pay/wechatpay", post(orders::pay_wechatpay))
        .route("/o/{no}/claims/new", get(claims::new_form))
        .route("/o/{no}/complaint-package", get(claims::complaint_package))
        .route(
            "/o/{no}/claims",
            post(claims::file)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::claims::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/o/{no}/claims/{claim_no}", get(claims::show))
        .route(
            "/o/{no}/claims/{claim_no}/evidence",
            post(claims::add_evidence)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::claims::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/o/{no}/claims/{claim_no}/evidence/{sha256}", get(claims::buyer_file))
        .route("/o/{no}/claims/{claim_no}/escalate", post(disputes::escalate))
        .route("/o/{no}/claims/{claim_no}/statements", post(disputes::buyer_statement))
        .route("/console/claims/{claim_no}/statements", post(disputes::merchant_statement))
        .route("/console/fund/join", post(disputes::join_fund))
        .route("/arbiter", get(disputes::queue))
        .route("/arbiter/disputes/{claim_no}", get(disputes::case))
        .route("/arbiter/disputes/{claim_no}/evidence/{sha256}", get(disputes::case_file))
        .route("/arbiter/disputes/{claim_no}/ruling", post(disputes::rule))
        .route("/arbiter/disputes/{claim_no}/statements", post(disputes::arbiter_statement))
        .route("/fund", get(disputes::fund))
        .route("/console/claims", get(claims::queue))
        .route("/console/claims/{claim_no}", get(claims::merchant_show))
        .route("/console/claims/{claim_no}/decision", post(claims::decide))
        .route(
            "/console/claims/{claim_no}/evidence",
            post(claims::merchant_evidence)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::claims::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/console/claims/{claim_no}/evidence/{sha256}", get(claims::merchant_file))
        .route("/orders/lookup", get(orders::lookup_form).post(orders::lookup))
        .route("/wallet", get(orders::wallet))
        .route("/orders", get(history::my_orders))
        .route("/console/dashboard", get(history::dashboard))
        .route("/wallet/top-up", post(orders::top_up))
        .route("/wallet/refund-preference", post(orders::refund_preference))
        .route("/register", get(account::register_form).post(account::register))
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route("/lang/{tag}", get(switch_lang))
        .route("/console", get(console::home))
        .route("/console/shop", post(console::save_shop))
        .route("/console/products", post(console::create_product))
        .route("/console/products/new", get(console::new_product))
        .route("/console/products/{id}", get(console::product).post(console::update_product))
        .route(
            "/console/products/{id}/keys",
            post(console::import_keys)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::inventory::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/console/batches/{id}/void", post(console::void_batch))
        .route(
            "/console/products/{id}/pictures",
            post(console::upload_picture)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::pictures::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/console/products/{id}/pictures/order", post(console::arrange_pictures))
        .route("/console/products/{id}/shared", post(console::set_shared))
        .route("/console/products/{id}/stock-alert", post(console::set_stock_alert))
        .route("/console/products/{id}/custom", post(console::set_custom))
        .route("/console/products/{id}/warranty", post(console::set_warranty))
        .route("/console/products/{id}/warranty/build", post(console::build_warranty))
        .route("/console/deliveries", get(console::deliveries))
        .route("/console/orders/{no}/deliver", post(console::deliver))
        .route("/console/tokens", post(console::create_token))
        .route("/console/tokens/{id}/revoke", post(console::revoke_token))
        .route("/console/finance", get(finance::show))
        .route("/console/withdrawals", post(finance::withdraw))
        .route("/console/finance/payees", post(finance::add_payee))
        .route("/console/finance/payees/{id}/delete", post(finance::remove_payee))
        .route("/console/webhooks", get(webhooks::show).post(webhooks::create))
        .route("/console/webhooks/{id}/delete", post(webhooks::remove))
        .route("/console/webhook-deliveries/{id}/resend", post(webhooks::resend))
        .route("/console/coupons", get(promotions::coupons).post(promotions::create_coupon))
        .route("/console/coupons/{id}/enabled", post(promotions::set_coupon_enabled))
        .route("/console/products/{id}/pricing", get(promotions::pricing))
        .route("/console/products/{id}/variants", post(promotions::add_variant))
        .route("/console/products/{id}/tiers", post(promotions::set_tiers))
        .route("/console/variants/{id}/rename", post(promotions::rename_variant))
        .route("/console/variants/{id}/remove", post(promotions::remove_variant))
        .route("/admin/withdrawals", get(finance::admin_list))
        .route("/admin/withdrawals/{id}/approve", post(finance::approve))
        .route("/admin/withdrawals/{id}/reject", post(finance::reject))
        .route("/admin/reconciliation", get(reconciliation::list))
        .route("/admin/reconciliation/{id}/resolve", post(reconciliation::resolve))
        .route("/admin", get(admin::home))
        .route("/admin/fund/contributions", post(admin::contribute_to_fund))
        .route("/admin/users/{id}/role", post(admin::set_role))
        .route("/admin/shops/{id}/certification", post(admin::set_certification))
        .route("/admin/shops/{id}/suspension", post(admin::set_suspension))
        .route("/static/app.css", get(app_css))
        .route("/admin/insurance", get(insurance::book))
        .route("/account/email", get(email::account).post(email::change))
        .route("/account/email/resend", post(email::resend))
        .route("/account/verify-email", get(email::verify))
        .route("/password/forgot", get(email::forgot_form).post(email::forgot))
        .route("/password/reset", get(email::reset_form).post(email::reset))
        .route("/static/pow.js", get(pow_js))
        .route("/account/security", get(security::show))
        .route("/account/security/password", post(security::change_password))
        .route("/account/sessions", get(security::sessions))
        .route("/account/sessions/end", post(security::end_one))
        .route("/account/sessions/end-all", post(security::end_all))
        .route("/account/2fa", get(two_factor::show))
        .route("/account/2fa/confirm", post(two_factor::confirm))
        .route("/account/2fa/recovery-codes", post(two_factor::renew_codes))
        .route("/account/2fa/disable", post(two_factor::disable))
        .route("/login/2fa", get(two_factor::code_form).post(two_factor::code));
    if sandbox {
        routes
            .route("/o/{no}/pay/sandbox", post(orders::pay_sandbox))
            .route("/pay/sandbox/{trade_no}", get(orders::sandbox_page).post(orders::sandbox_pay))
    } else {
        routes
    }
}

pub fn routes(sandbox: bool) -> Router<SharedState> {
    page_routes(sandbox)
        .into_router()
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .layer(axum::middleware::from_fn(move |req, next| error_pages(sandbox, req, next)))
}

/// Every `(method, path)` the page router answers, read from the router as it is built.
pub fn route_table(sandbox: bool) -> Vec<(axum::http::Method, String)> {
    page_routes(sandbox).table("")
}

/// Wraps the page routes with the CSRF-cookie middleware (needs the state, so it is applied in `router`).
/// The forced-enrolment gate ([`crate::auth::forced_enrolment`]) is applied here too, for the same reason.
pub fn with_csrf(router: Router<SharedState>, state: SharedState) -> Router<SharedState> {
    router
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::forced_enrolment))
        .layer(axum::middleware::from_fn_with_state(state, crate::auth::csrf_cookie))
}
