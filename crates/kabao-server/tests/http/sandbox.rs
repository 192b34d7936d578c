//! The sandbox gateway exists only where it is meant (a demo): on a plain configuration its routes are 404, no
//! page or API offers it, a top-up or gateway payment is refused with 409 naming the missing setting, and no
//! money enters the books. In a demo every page says payments are simulated.

use crate::app::{TestApp, T0};
use crate::orders::{buyer, order, verify_books};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use kabao_server::ServerConfig;
use serde_json::json;

const BANNER: &str = "演示环境：付款为模拟";

/// A plain `kabao serve`: the default configuration, nothing switched on.
async fn plain() -> TestApp {
    TestApp::production(ServerConfig::default()).await
}

/// A guest order on `app`; returns its number (the guest's secret is `guest@example.com`).
async fn guest_order(app: &TestApp, seller: &str) -> String {
    let (merchant, product) = app.merchant_with_product(seller).await;
    app.import(&merchant, product, "S-1\nS-2\n").await;
    let o = order(
        app,
        None,
        json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": "guest@example.com"}),
        None,
    )
    .await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
    o.json()["order_no"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_default_configuration_has_no_sandbox() {
    assert!(ServerConfig::default().sandbox.is_none());
}

#[tokio::test]
async fn a_plain_server_answers_404_on_every_sandbox_route() {
    let app = plain().await;
    let no = guest_order(&app, "plain_seller").await;
    // A payment a sandbox would have paid, to aim the payer page and the notify at something real.
    let payment = kabao_app::payments::start_with(
        &app.state,
        kabao_app::payments::SANDBOX,
        kabao_store::PaymentPurpose::TopUp(kabao_core::UserId(1)),
        kabao_core::Money::from_fen(100),
        &kabao_server::idempotency::Run::none(),
    )
    .await
    .unwrap();
    let (ts, body, sig) = kabao_app::payments::sandbox_notification(&app.state, &payment, T0.millis() / 1000);

    let api_pay = app
        .send(
            Request::post(format!("/api/v1/orders/{no}/pay/sandbox"))
                .header("x-order-secret", "guest@example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let api_notify = app
        .send(
            Request::post("/api/v1/gateways/sandbox/notify")
                .header("kabao-timestamp", ts.to_string())
                .header("kabao-signature", sig)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    let mut browser = app.browser();
    browser.get("/").await;
    let csrf = browser.csrf();
    let page_pay = browser.post(&format!("/o/{no}/pay/sandbox"), &[], Some(&csrf)).await;
    let payer_page = browser.get(&format!("/pay/sandbox/{}", payment.trade_no)).await;
    let payer_pay = browser.post(&format!("/pay/sandbox/{}", payment.trade_no), &[], Some(&csrf)).await;
    for (what, res) in [
        ("POST /api/v1/orders/{no}/pay/sandbox", &api_pay),
        ("POST /api/v1/gateways/sandbox/notify", &api_notify),
        ("POST /o/{no}/pay/sandbox", &page_pay),
        ("GET /pay/sandbox/{trade_no}", &payer_page),
        ("POST /pay/sandbox/{trade_no}", &payer_pay),
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{what}: {}", res.body);
    }
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let p = tx.payment_by_trade_no(&payment.trade_no).await.unwrap().unwrap();
    assert_eq!(p.state, kabao_store::PaymentState::Pending, "the notify changed nothing");
    drop(tx);

    // The API document served here does not list what does not exist.
    let doc = app.get("/api/openapi.json").await.json();
    for path in kabao_server::api::SANDBOX_PATHS {
        assert!(doc["paths"].get(path).is_none(), "{path} documented without a sandbox");
    }
    let demo_doc = TestApp::new().await.get("/api/openapi.json").await.json();
    assert!(demo_doc["paths"].get("/api/v1/gateways/sandbox/notify").is_some());
}

#[tokio::test]
async fn a_plain_server_offers_no_sandbox_on_its_pages() {
    let app = plain().await;
    let (merchant, product) = app.merchant_with_product("plain_pages").await;
    app.import(&merchant, product, "P-1\n").await;
    let mut guest = app.browser();
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(!page.body.contains(BANNER), "no demo banner on a plain server");
    let csrf = guest.csrf();
    let res = guest
        .post(
            &format!("/p/{product}/buy"),
            &[
                ("quantity", "1"),
                ("guest_email", "g@example.com"),
                ("warranty_ack", "on"),
                ("first_order_confirmed", "on"),
            ],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let order_page = guest.get(res.location()).await;
    assert_eq!(order_page.status, StatusCode::OK);
    assert!(!order_page.body.contains("pay-sandbox-form") && !order_page.body.contains("/pay/sandbox"));
    assert!(order_page.body.contains("id=\"no-gateway\""), "the guest is told why there is no pay button");

    buyer(&app, "plain_wallet").await;
    let mut b = app.browser();
    b.login("plain_wallet", "buyer-pass-1").await;
    let wallet = b.get("/wallet").await;
    assert!(!wallet.body.contains("top-up-form"), "no top-up form without a gateway");
    assert!(wallet.body.contains("top-up-unavailable"));
    let csrf = b.csrf();
    let res = b.post("/wallet/top-up", &[("amount", "50")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("epay_pid"), "the page names the missing setting: {}", res.body);
}

#[tokio::test]
async fn a_top_up_or_gateway_payment_without_a_gateway_is_409_naming_the_setting() {
    let app = plain().await;
    let token = buyer(&app, "plain_topper").await;
    let res = app.api("POST", "/api/v1/wallet/top-ups", Some(&token), Some(json!({"amount_fen": 5_000}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(
        (res.json()["code"].clone(), res.json()["field"].clone()),
        (json!("payment.no_gateway"), json!("epay_pid"))
    );
    assert!(res.json()["message"].as_str().unwrap().contains("payments.sandbox.enabled"));

    let no = guest_order(&app, "plain_epayless").await;
    let res = app
        .send(
            Request::post(format!("/api/v1/orders/{no}/pay/epay"))
                .header("x-order-secret", "guest@example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("payment.no_gateway")));
}

/// The attack from the issue: a buyer starts a top-up and confirms it themselves. On a plain server every step
/// is refused, the wallet stays empty and `ledger verify` has nothing to be fooled by.
#[tokio::test]
async fn ledger_verify_cannot_be_fooled_on_a_plain_server() {
    let app = plain().await;
    let token = buyer(&app, "plain_minter").await;
    let top = app.api("POST", "/api/v1/wallet/top-ups", Some(&token), Some(json!({"amount_fen": 1_000_000}))).await;
    assert_eq!(top.status, StatusCode::CONFLICT);
    // Forge a sandbox notification as if a trade existed, signed with any key at all.
    for key in [&b""[..], b"guess"] {
        let body = json!({"notification_id": "N-forged", "trade_no": "P00", "gateway_trade_no": "SBX", "amount_fen": 1_000_000, "status": "paid"}).to_string();
        let sig = kabao_core::payments::sandbox_sign(key, T0.millis() / 1000, body.as_bytes());
        let res = app
            .send(
                Request::post("/api/v1/gateways/sandbox/notify")
                    .header("kabao-timestamp", (T0.millis() / 1000).to_string())
                    .header("kabao-signature", sig)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
    let wallet = app.api("GET", "/api/v1/wallet", Some(&token), None).await;
    assert_eq!(wallet.json()["balance_fen"], 0);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    assert_eq!(tx.balance(kabao_core::ledger::Account::GatewayClearing).await.unwrap(), kabao_core::Money::ZERO);
    drop(tx);
    verify_books(&app).await;
}

#[tokio::test]
async fn a_demo_says_so_on_every_page_and_offers_the_sandbox() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("demo_seller").await;
    app.import(&merchant, product, "D-1\n").await;
    let mut guest = app.browser();
    for path in
        ["/".to_string(), format!("/p/{product}"), "/login".into(), "/orders/lookup".into(), "/no-such-page".into()]
    {
        let page = guest.get(&path).await;
        assert!(page.body.contains(BANNER) && page.body.contains("Demo: payments are simulated"), "{path}");
    }
    let csrf = guest.csrf();
    let res = guest
        .post(
            &format!("/p/{product}/buy"),
            &[
                ("quantity", "1"),
                ("guest_email", "g@example.com"),
                ("warranty_ack", "on"),
                ("first_order_confirmed", "on"),
            ],
            Some(&csrf),
        )
        .await;
    let order_page = guest.get(res.location()).await;
    assert!(order_page.body.contains("pay-sandbox-form") && order_page.body.contains(BANNER));
    let token = buyer(&app, "demo_topper").await;
    let res = app.api("POST", "/api/v1/wallet/top-ups", Some(&token), Some(json!({"amount_fen": 100}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert!(res.json()["pay_url"].as_str().unwrap().starts_with("/pay/sandbox/"));
}
