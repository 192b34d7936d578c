//! The JSON API under `/api/v1`, documented by an OpenAPI 3 document at `/api/openapi.json`.
//! Callers authenticate with `Authorization: Bearer kb_...` tokens; errors are the `Error` schema
//! `{"error", "message", "field"?}` (with `code`, a deprecated alias of `error`); see [`contract`].

pub mod account;
pub mod admin;
pub mod alipay;
pub mod catalog;
pub mod chat;
pub mod claims;
pub mod contract;
pub mod disputes;
pub mod finance;
pub mod history;
pub mod insurance;
pub mod merchant;
pub mod orders;
pub mod payees;
pub mod pictures;
pub mod promotions;
pub mod refunds;
pub mod reviews;
pub mod tokens;
pub mod trust;
pub mod views;
pub mod warranty;
pub mod webhooks;
pub mod wechatpay;

use crate::error::ApiError;
use crate::route_table::{delete, get, post, put, Routes};
use crate::SharedState;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use contract::Contract;
use kabao_core::Lang;
use utoipa::OpenApi;

pub use crate::extract::ApiJson;

/// Answers API errors in the caller's language (`Accept-Language` or the `lang` cookie; zh-CN by default).
async fn localize(req: Request, next: Next) -> Response {
    let lang = crate::auth::request_lang(req.headers());
    let res = next.run(req).await;
    if lang == Lang::Zh {
        return res;
    }
    match res.extensions().get::<ApiError>().cloned() {
        Some(err) => {
            let mut out = (err.status, axum::Json(err.body(lang))).into_response();
            for (k, v) in res.headers() {
                if k != axum::http::header::CONTENT_LENGTH && k != axum::http::header::CONTENT_TYPE {
                    out.headers_mut().append(k.clone(), v.clone());
                }
            }
            out
        }
        None => res,
    }
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("request.not_found")
}

/// The `/api/v1` routes, recorded (see [`route_table`]); the sandbox gateway's only when `sandbox` is on (a demo),
/// so elsewhere they are 404.
fn v1(sandbox: bool) -> Routes {
    let v1 = Routes::new()
        .route("/tokens", post(tokens::create).get(tokens::list))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/password/forgot", post(account::forgot))
        .route("/password/reset", post(account::reset))
        .route("/account/sessions", get(account::sessions))
        .route("/account/sessions/end-all", post(account::end_all))
        .route("/account/sessions/{id}", delete(account::end_session))
        .route("/products", get(catalog::list_products))
        .route("/products/{id}", get(catalog::get_product))
        .route("/products/{id}/warranty", get(warranty::get))
        .route("/products/{id}/insurance-quote", get(insurance::quote))
        .route("/warranty/templates", get(warranty::list_templates))
        .route("/merchant/products/{id}/warranty", put(warranty::set))
        .route("/shops/{id}", get(catalog::get_shop))
        .route("/merchant/shop", get(merchant::get_shop).post(merchant::open_shop).put(merchant::update_shop))
        .route("/merchant/products", get(merchant::list_products).post(merchant::create_product))
        .route("/merchant/products/{id}", get(merchant::get_product).put(merchant::update_product))
        .route(
            "/merchant/products/{id}/keys",
            post(merchant::import_keys)
                .get(merchant::list_keys)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::inventory::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/merchant/products/{id}/batches", get(merchant::list_batches))
        .route("/merchant/products/{id}/shared-secret", put(merchant::set_shared_secret))
        .route("/merchant/products/{id}/custom-fields", put(merchant::set_custom_fields))
        .route("/merchant/orders/{order_no}/delivery", post(merchant::deliver))
        .route("/merchant/batches/{id}/void", post(merchant::void_batch))
        .route("/orders", post(orders::create).get(history::my_orders))
        .route("/orders/{order_no}", get(orders::get))
        .route("/orders/{order_no}/pay/wallet", post(orders::pay_wallet))
        .route("/orders/{order_no}/keys/reveal", post(orders::reveal))
        .route(
            "/orders/{order_no}/claims",
            post(claims::file)
                .get(claims::list)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::claims::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/orders/{order_no}/claims/{claim_no}", get(claims::get))
        .route("/orders/{order_no}/complaint-package", get(claims::complaint_package))
        .route(
            "/orders/{order_no}/claims/{claim_no}/evidence",
            post(claims::add_evidence)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::claims::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/orders/{order_no}/claims/{claim_no}/evidence/{sha256}", get(claims::buyer_file))
        .route("/orders/{order_no}/claims/{claim_no}/escalate", post(disputes::escalate))
        .route("/orders/{order_no}/claims/{claim_no}/statements", post(disputes::buyer_statement))
        .route("/merchant/claims/{claim_no}/statements", post(disputes::merchant_statement))
        .route("/arbiter/disputes", get(disputes::queue))
        .route("/arbiter/disputes/{claim_no}", get(disputes::case))
        .route("/arbiter/disputes/{claim_no}/ruling", post(disputes::rule))
        .route("/arbiter/disputes/{claim_no}/statements", post(disputes::arbiter_statement))
        .route("/fund", get(disputes::fund))
        .route("/orders/{order_no}/review", post(reviews::create))
        .route("/orders/{order_no}/messages", get(chat::buyer_list).post(chat::buyer_send))
        .route("/merchant/orders/{order_no}/messages", get(chat::merchant_list).post(chat::merchant_send))
        .route("/arbiter/orders/{order_no}/messages", get(chat::arbiter_list).post(chat::arbiter_send))
        .route("/admin/risk", get(chat::risk_queue))
        .route("/admin/orders/{order_no}/messages", get(chat::admin_list))
        .route("/admin/risk/shops/{id}/review", post(chat::risk_review))
        .route("/shops/{id}/trust", get(trust::shop_trust))
        .route("/merchant/certification", get(trust::mine).post(trust::apply))
        .route("/admin/certifications", get(trust::pending))
        .route("/admin/certifications/{id}/decision", post(trust::decide))
        .route("/shops/{id}/reviews", get(reviews::of_shop))
        .route("/products/{id}/reviews", get(reviews::of_product))
        .route("/merchant/reviews/{id}/reply", post(reviews::reply))
        .route("/merchant/fund/join", post(disputes::join))
        .route("/admin/fund/contributions", post(disputes::contribute))
        .route("/merchant/claims", get(claims::queue))
        .route("/merchant/claims/{claim_no}/decision", post(claims::decide))
        .route(
            "/merchant/claims/{claim_no}/evidence",
            post(claims::merchant_evidence)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::claims::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/merchant/claims/{claim_no}/evidence/{sha256}", get(claims::merchant_file))
        .route("/wallet", get(orders::wallet))
        .route("/wallet/top-ups", post(orders::top_up))
        .route("/wallet/refund-preference", put(orders::set_refund_preference))
        .route("/gateways/epay/notify", get(orders::epay_notify_get).post(orders::epay_notify_post))
        .route("/orders/{order_no}/pay/epay", post(orders::pay_epay))
        .route("/gateways/alipay/notify", post(alipay::notify))
        .route("/orders/{order_no}/pay/alipay", post(alipay::pay))
        .route("/gateways/wechatpay/notify", post(wechatpay::notify))
        .route("/orders/{order_no}/pay/wechatpay", post(wechatpay::pay))
        .route("/merchant/finance", get(finance::finance))
        .route("/merchant/orders", get(finance::orders))
        .route("/merchant/statement", get(finance::statement))
        .route("/merchant/withdrawals", post(finance::request).get(finance::mine))
        .route("/merchant/payees", get(payees::list).post(payees::create))
        .route("/merchant/payees/{id}", get(payees::get).delete(payees::remove))
        .route("/admin/withdrawals", get(finance::pending))
        .route("/admin/withdrawals/{id}/decision", post(finance::decide))
        .route("/admin/users", get(admin::list_users))
        .route("/admin/users/{id}/role", put(admin::set_role))
        .route("/admin/shops", get(admin::list_shops))
        .route("/admin/shops/{id}/certification", put(admin::set_certification))
        .route("/admin/shops/{id}/suspension", put(admin::set_suspension))
        .route("/admin/security-events", get(admin::security_events))
        .route("/admin/refunds", get(refunds::needing_attention))
        .route("/admin/refunds/{id}/resolve", post(refunds::resolve))
        .route("/admin/reconciliation/findings", get(admin::findings))
        .route("/merchant/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/merchant/webhooks/{id}", delete(webhooks::remove))
        .route("/merchant/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/merchant/webhook-deliveries/{id}/resend", post(webhooks::resend))
        .route("/merchant/products/{id}/stock-alert", put(webhooks::stock_alert))
        .route("/admin/insurance", get(insurance::book))
        .route("/products/{id}/variants", get(promotions::variants))
        .route("/products/{id}/tiers", get(promotions::tiers))
        .route("/merchant/products/{id}/variants", post(promotions::add_variant))
        .route("/merchant/variants/{id}", put(promotions::rename_variant).delete(promotions::remove_variant))
        .route("/merchant/products/{id}/tiers", put(promotions::set_tiers))
        .route("/merchant/coupons", get(promotions::list_coupons).post(promotions::create_coupon))
        .route("/merchant/coupons/{id}/enabled", put(promotions::set_coupon_enabled))
        .route("/wallet/movements", get(history::movements))
        .route("/merchant/dashboard", get(history::dashboard))
        .route("/catalog", get(catalog::catalog))
        .route("/products/{id}/pictures", get(catalog::pictures))
        .route(
            "/merchant/products/{id}/pictures",
            post(pictures::upload)
                .put(pictures::arrange)
                .layer(axum::extract::DefaultBodyLimit::max(kabao_app::pictures::MAX_UPLOAD_BYTES + 64 * 1024)),
        );
    if sandbox {
        v1.route("/orders/{order_no}/pay/sandbox", post(orders::pay_sandbox))
            .route("/gateways/sandbox/notify", post(orders::sandbox_notify))
    } else {
        v1
    }
}

/// The API's routes outside `/api/v1`.
fn outside_v1() -> Routes {
    Routes::new().route("/api/openapi.json", get(openapi_json))
}

pub fn routes(sandbox: bool) -> Router<SharedState> {
    let v1 =
        v1(sandbox).into_router().method_not_allowed_fallback(crate::error::method_not_allowed).fallback(api_not_found);
    Router::new().nest("/api/v1", v1).merge(outside_v1().into_router()).layer(axum::middleware::from_fn(localize))
}

/// Every `(method, path)` the API router answers, read from the router as it is built.
pub fn route_table(sandbox: bool) -> Vec<(axum::http::Method, String)> {
    let mut table = v1(sandbox).table("/api/v1");
    table.extend(outside_v1().table(""));
    table
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Kabao API", description = "卡保 Kabao: virtual goods with the warranty built in. Every refusal is an `Error` body: {\"error\": stable code, \"message\", \"field\"?}; `code` repeats `error` for older clients (deprecated)."),
    paths(
        tokens::create, tokens::list, tokens::revoke,
        account::forgot, account::reset, account::sessions, account::end_session, account::end_all,
        catalog::list_products, catalog::get_product, catalog::get_shop,
        catalog::catalog, catalog::pictures, pictures::upload, pictures::arrange,
        merchant::get_shop, merchant::open_shop, merchant::update_shop,
        merchant::list_products, merchant::create_product, merchant::get_product, merchant::update_product,
        merchant::import_keys, merchant::list_keys, merchant::set_shared_secret, merchant::list_batches, merchant::void_batch,
        merchant::set_custom_fields, merchant::deliver,
        warranty::get, warranty::list_templates, warranty::set,
        claims::file, claims::list, claims::get, claims::add_evidence, claims::buyer_file,
        claims::queue, claims::decide, claims::merchant_file, claims::complaint_package, claims::merchant_evidence,
        disputes::escalate, disputes::buyer_statement, disputes::merchant_statement, disputes::queue, disputes::case,
        disputes::rule, disputes::arbiter_statement, disputes::fund, disputes::join, disputes::contribute,
        reviews::create, reviews::of_shop, reviews::of_product, reviews::reply,
        trust::shop_trust, trust::apply, trust::mine, trust::pending, trust::decide,
        chat::buyer_list, chat::buyer_send, chat::merchant_list, chat::merchant_send, chat::arbiter_list, chat::arbiter_send,
        chat::risk_queue, chat::risk_review, chat::admin_list,
        orders::create, orders::get, orders::pay_wallet, orders::pay_sandbox, orders::reveal,
        orders::wallet, orders::set_refund_preference, orders::top_up, orders::sandbox_notify, orders::epay_notify_get, orders::epay_notify_post, orders::pay_epay,
        alipay::notify, alipay::pay,
        wechatpay::notify, wechatpay::pay,
        finance::finance, finance::orders, finance::statement, finance::request, finance::pending, finance::decide,
        finance::mine, payees::list, payees::create, payees::get, payees::remove,
        admin::list_users, admin::set_role, admin::list_shops, admin::set_certification, admin::set_suspension,
        admin::security_events, refunds::needing_attention, refunds::resolve,
        admin::findings,
        insurance::quote, insurance::book,
        webhooks::list, webhooks::create, webhooks::remove, webhooks::deliveries, webhooks::resend, webhooks::stock_alert,
        promotions::variants, promotions::tiers, promotions::add_variant, promotions::rename_variant,
        promotions::remove_variant, promotions::set_tiers, promotions::list_coupons, promotions::create_coupon,
        promotions::set_coupon_enabled,
        history::my_orders, history::movements, history::dashboard,
    ),
    components(schemas(contract::ErrorBody)),
    modifiers(&BearerAuth, &Contract)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Paths documented only where the sandbox gateway exists.
pub const SANDBOX_PATHS: [&str; 2] = ["/api/v1/orders/{order_no}/pay/sandbox", "/api/v1/gateways/sandbox/notify"];

/// The document this server answers: without the sandbox, its paths are left out (they do not exist here).
pub fn openapi(sandbox: bool) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if !sandbox {
        for path in SANDBOX_PATHS {
            doc.paths.paths.remove(path);
        }
    }
    doc
}

async fn openapi_json(axum::extract::State(state): axum::extract::State<SharedState>) -> Response {
    axum::Json(openapi(state.config.sandbox.is_some())).into_response()
}
