//! The commerce spine over HTTP: checkout with idempotency, wallet top-up and payment, the sandbox gateway's
//! signed notifications (duplicate, replayed, tampered, stale, wrong amount), allocation, reveal, settlement,
//! and the ledger and audit checks after each story.

use crate::app::{TestApp, T0};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

/// A buyer account and its token.
pub(crate) async fn buyer(app: &TestApp, name: &str) -> String {
    kabao_app::accounts::create_user(&*app.state.store, name, "buyer-pass-1", kabao_core::user::Role::Buyer, None, T0)
        .await
        .unwrap();
    app.token(name, "buyer-pass-1").await
}

/// Posts a sandbox notification for a payment, as the gateway would (optionally altered by `tamper`).
pub(crate) async fn notify(app: &TestApp, trade_no: &str, at_s: i64, tamper: impl Fn(&mut Vec<u8>)) -> crate::app::Res {
    let payment = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.payment_by_trade_no(trade_no).await.unwrap().unwrap()
    };
    let (ts, mut body, sig) = kabao_app::payments::sandbox_notification(&app.state, &payment, at_s);
    tamper(&mut body);
    send_notification(app, ts, body, &sig).await
}

async fn send_notification(app: &TestApp, ts: i64, body: Vec<u8>, sig: &str) -> crate::app::Res {
    let req = Request::post("/api/v1/gateways/sandbox/notify")
        .header("kabao-timestamp", ts.to_string())
        .header("kabao-signature", sig)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

/// Tops a buyer's wallet up through the sandbox gateway, as the buyer and the gateway would.
pub(crate) async fn top_up(app: &TestApp, token: &str, fen: i64) {
    let top = app.api("POST", "/api/v1/wallet/top-ups", Some(token), Some(json!({"amount_fen": fen}))).await;
    let res = notify(app, top.json()["trade_no"].as_str().unwrap(), now_s(app), |_| {}).await;
    assert_eq!(res.json()["status"], "applied", "{}", res.body);
}

/// Places an order as a registered buyer and returns its number.
pub(crate) async fn order_no(app: &TestApp, token: &str, body: serde_json::Value) -> String {
    let res = order(app, Some(token), body, None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()["order_no"].as_str().unwrap().to_string()
}

pub(crate) fn now_s(app: &TestApp) -> i64 {
    app.state.now().millis() / 1000
}

pub(crate) async fn verify_books(app: &TestApp) {
    let problems = kabao_app::verify::ledger(&*app.state.store).await.unwrap();
    assert!(problems.is_empty(), "ledger verify: {problems:?}");
    let (_, problems) = kabao_app::verify::audit(&*app.state.store).await.unwrap();
    assert!(problems.is_empty(), "audit verify: {problems:?}");
}

pub(crate) async fn order(
    app: &TestApp,
    token: Option<&str>,
    body: serde_json::Value,
    key: Option<&str>,
) -> crate::app::Res {
    // New shops have little trust, so a first order asks for confirmation (tested in `trust`); these stories
    // confirm it up front unless they say otherwise.
    let mut body = body;
    if let Some(fields) = body.as_object_mut() {
        fields.entry("first_order_confirmed").or_insert(serde_json::Value::Bool(true));
    }
    let mut b = Request::post("/api/v1/orders").header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(k) = key {
        b = b.header("idempotency-key", k);
    }
    app.send(b.body(Body::from(body.to_string())).unwrap()).await
}

#[tokio::test]
async fn registered_buyer_tops_up_orders_idempotently_pays_and_reveals() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_one").await;
    app.import(&merchant, product, "CARD-0001\nCARD-0002\nCARD-0003\n").await;
    let token = buyer(&app, "buyer_one").await;

    let top = app.api("POST", "/api/v1/wallet/top-ups", Some(&token), Some(json!({"amount_fen": 5000}))).await;
    assert_eq!(top.status, StatusCode::CREATED, "{}", top.body);
    let trade_no = top.json()["trade_no"].as_str().unwrap().to_string();
    let res = notify(&app, &trade_no, now_s(&app), |_| {}).await;
    assert_eq!(res.json()["status"], "applied", "{}", res.body);
    assert_eq!(app.api("GET", "/api/v1/wallet", Some(&token), None).await.json()["balance_fen"], 5000);

    let body = json!({"product_id": product, "quantity": 2, "warranty_ack": true});
    let first = order(&app, Some(&token), body.clone(), Some("checkout-1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let order_no = first.json()["order_no"].as_str().unwrap().to_string();
    assert!(order_no.starts_with('K') && order_no.len() == 27);
    let again = order(&app, Some(&token), body, Some("checkout-1")).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body), "same key + same body = the first answer");
    let other = order(
        &app,
        Some(&token),
        json!({"product_id": product, "quantity": 1, "warranty_ack": true}),
        Some("checkout-1"),
    )
    .await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.json()["code"], "idempotency_key_reused");

    let paid = app.api("POST", &format!("/api/v1/orders/{order_no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(paid.json()["state"], "delivered");
    assert_eq!(app.stock(product).await, 1);
    assert_eq!(app.api("GET", "/api/v1/wallet", Some(&token), None).await.json()["balance_fen"], 5000 - 2 * 990);
    let again = app.api("POST", &format!("/api/v1/orders/{order_no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "an order is paid once");

    let keys = app.api("POST", &format!("/api/v1/orders/{order_no}/keys/reveal"), Some(&token), None).await;
    assert_eq!(keys.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_eq!(keys.json()["keys"], json!(["CARD-0001", "CARD-0002"]));

    // Another buyer sees nothing of it.
    let stranger = buyer(&app, "buyer_two").await;
    assert_eq!(
        app.api("GET", &format!("/api/v1/orders/{order_no}"), Some(&stranger), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api("POST", &format!("/api/v1/orders/{order_no}/keys/reveal"), Some(&stranger), None).await.status,
        StatusCode::NOT_FOUND
    );
    verify_books(&app).await;
}

#[tokio::test]
async fn a_wallet_cannot_pay_more_than_it_holds() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_poor").await;
    app.import(&merchant, product, "K1\n").await;
    let token = buyer(&app, "poor_buyer").await;
    let o = order(&app, Some(&token), json!({"product_id": product, "quantity": 1, "warranty_ack": true}), None).await;
    let order_no = o.json()["order_no"].as_str().unwrap().to_string();
    let res = app.api("POST", &format!("/api/v1/orders/{order_no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(res.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(res.json()["code"], "ledger.insufficient_balance");
    assert_eq!(app.stock(product).await, 1, "no key was taken");
    assert_eq!(
        app.api("GET", &format!("/api/v1/orders/{order_no}"), Some(&token), None).await.json()["state"],
        "pending_payment"
    );
    verify_books(&app).await;
}

#[tokio::test]
async fn guest_pays_through_the_sandbox_and_notifications_are_applied_exactly_once() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_guest").await;
    app.import(&merchant, product, "G-1\nG-2\n").await;
    let o = order(&app, None, json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": "Guest@Example.com", "query_password": "chaxun123"}), None).await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
    let order_no = o.json()["order_no"].as_str().unwrap().to_string();
    let start = app
        .send(
            Request::post(format!("/api/v1/orders/{order_no}/pay/sandbox"))
                .header("x-order-secret", "chaxun123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(start.status, StatusCode::CREATED, "{}", start.body);
    let trade_no = start.json()["trade_no"].as_str().unwrap().to_string();

    // Tampered amount, stale timestamp, wrong signature: refused, nothing applied.
    let tampered =
        notify(&app, &trade_no, now_s(&app), |b| *b = String::from_utf8_lossy(b).replace("990", "1").into_bytes())
            .await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
    let stale = notify(&app, &trade_no, now_s(&app) - 301, |_| {}).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.json()["code"], "gateway.stale");
    let forged = send_notification(
        &app,
        now_s(&app),
        br#"{"notification_id":"N1","trade_no":"x","gateway_trade_no":"y","amount_fen":990,"status":"paid"}"#.to_vec(),
        "00",
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.stock(product).await, 2);

    // A correctly signed notification with the wrong amount is refused and logged.
    let payment = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.payment_by_trade_no(&trade_no).await.unwrap().unwrap()
    };
    let body = json!({"notification_id": "N-wrong", "trade_no": trade_no, "gateway_trade_no": "SBX1", "amount_fen": 1, "status": "paid"}).to_string();
    let sig = kabao_core::payments::sandbox_sign(
        &app.state.config.sandbox.as_ref().unwrap().secret,
        now_s(&app),
        body.as_bytes(),
    );
    let wrong = send_notification(&app, now_s(&app), body.into_bytes(), &sig).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["code"], "gateway.amount_mismatch");
    let _ = payment;

    // The real one, then the same one replayed, then a second notification for the same payment.
    let (ts, body, sig) = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        let p = tx.payment_by_trade_no(&trade_no).await.unwrap().unwrap();
        kabao_app::payments::sandbox_notification(&app.state, &p, now_s(&app))
    };
    assert_eq!(send_notification(&app, ts, body.clone(), &sig).await.json()["status"], "applied");
    assert_eq!(send_notification(&app, ts, body, &sig).await.json()["status"], "duplicate");
    assert_eq!(notify(&app, &trade_no, now_s(&app), |_| {}).await.json()["status"], "duplicate");
    assert_eq!(app.stock(product).await, 1, "one key, however often the gateway calls");
    // The delivery mail went to the guest, with the order number and without the key.
    tokio::task::yield_now().await;
    for _ in 0..50 {
        if !app.mail.sent.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let sent = app.mail.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one delivery mail");
    assert_eq!(sent[0].to, "guest@example.com");
    assert!(sent[0].text.contains(&order_no) && !sent[0].text.contains("G-1"));

    // The guest reveals with the query password (the order has one, so the email alone does not open it); a
    // wrong secret sees nothing.
    let reveal = |secret: &'static str| {
        Request::post(format!("/api/v1/orders/{order_no}/keys/reveal"))
            .header("x-order-secret", secret)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(reveal("chaxun123")).await.json()["keys"], json!(["G-1"]));
    assert_eq!(app.send(reveal("guest@example.com")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.send(reveal("guess")).await.status, StatusCode::NOT_FOUND);
    verify_books(&app).await;
}

#[tokio::test]
async fn stock_gone_before_payment_refunds_to_the_wallet() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_race").await;
    app.import(&merchant, product, "R-1\n").await;
    let slow = buyer(&app, "slow_buyer").await;
    let fast = buyer(&app, "fast_buyer").await;
    for t in [&slow, &fast] {
        top_up(&app, t, 990).await;
    }
    let body = json!({"product_id": product, "quantity": 1, "warranty_ack": true});
    let slow_no = order_no(&app, &slow, body.clone()).await;
    let fast_no = order_no(&app, &fast, body).await;
    assert_eq!(
        app.api("POST", &format!("/api/v1/orders/{fast_no}/pay/wallet"), Some(&fast), None).await.json()["state"],
        "delivered"
    );
    let res = app.api("POST", &format!("/api/v1/orders/{slow_no}/pay/wallet"), Some(&slow), None).await;
    assert_eq!(res.json()["state"], "refunded", "{}", res.body);
    assert_eq!(
        app.api("GET", "/api/v1/wallet", Some(&slow), None).await.json()["balance_fen"],
        990,
        "the money is back"
    );
    verify_books(&app).await;
}

#[tokio::test]
async fn escrow_settles_after_the_claim_window_once() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_settle").await;
    app.import(&merchant, product, "S-1\n").await;
    let token = buyer(&app, "settle_buyer").await;
    top_up(&app, &token, 990).await;
    let no = order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;

    assert_eq!(kabao_app::jobs::settle_due(&app.state).await.unwrap(), 0, "not before the window closes");
    app.clock.advance_seconds(24 * 3600 + 1);
    assert_eq!(kabao_app::jobs::settle_due(&app.state).await.unwrap(), 1);
    assert_eq!(kabao_app::jobs::settle_due(&app.state).await.unwrap(), 0, "never twice");
    let shop = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        let o = tx.order_by_no(&no).await.unwrap().unwrap();
        assert_eq!(o.state, kabao_core::order::OrderState::Settled);
        o.shop_id
    };
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let available = tx.balance(kabao_core::ledger::Account::MerchantAvailable(shop)).await.unwrap();
    let revenue = tx.balance(kabao_core::ledger::Account::PlatformRevenue).await.unwrap();
    drop(tx);
    assert_eq!((available.fen(), revenue.fen()), (990 - 29, 29), "3% fee, rounded down");
    verify_books(&app).await;
}

#[tokio::test]
async fn unpaid_orders_expire_and_hold_nothing() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_expire").await;
    app.import(&merchant, product, "E-1\n").await;
    let token = buyer(&app, "expire_buyer").await;
    let no = order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    assert_eq!(app.stock(product).await, 1, "ordering reserves nothing");
    app.clock.advance_seconds(31 * 60);
    assert_eq!(kabao_app::jobs::expire_unpaid(&app.state).await.unwrap(), 1);
    let o = app.api("GET", &format!("/api/v1/orders/{no}"), Some(&token), None).await.json();
    assert_eq!(o["state"], "expired");
    verify_books(&app).await;
}

#[tokio::test]
async fn checkout_refuses_bad_input_with_the_field_named() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_bad").await;
    app.import(&merchant, product, "B-1\n").await;
    let token = buyer(&app, "bad_input_buyer").await;
    for (body, field) in [
        (json!({"product_id": product, "quantity": 0, "warranty_ack": true}), "quantity"),
        (json!({"product_id": product, "quantity": 6, "warranty_ack": true}), "quantity"),
        (json!({"product_id": product, "quantity": 2, "warranty_ack": true}), "quantity"),
        (json!({"product_id": product, "quantity": 1, "warranty_ack": false}), "warranty_ack"),
        (json!({"product_id": product, "quantity": 1, "warranty_ack": true, "coupon": "x"}), "coupon"),
    ] {
        let res = order(&app, Some(&token), body.clone(), None).await;
        assert!(res.status.is_client_error(), "{body}: {}", res.body);
        assert_eq!(res.json()["field"], field, "{body}: {}", res.body);
    }
    let res = order(&app, None, json!({"product_id": product, "quantity": 1, "warranty_ack": true}), None).await;
    assert_eq!(res.json()["field"], "guest_email");
    let res =
        order(&app, Some(&merchant), json!({"product_id": product, "quantity": 1, "warranty_ack": true}), None).await;
    assert_eq!(res.json()["code"], "order.own_product");
}

/// A buyer with a token and a funded wallet, written straight to the store (no Argon2 per buyer).
pub(crate) async fn funded_buyer(app: &TestApp, i: usize, fen: i64) -> String {
    let token = format!("kb_race_{i:04}_{:016x}", rand::random::<u64>());
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    let user = tx
        .insert_user(&kabao_store::NewUser {
            username: format!("racer_{i:04}"),
            email: None,
            password_hash: "x".into(),
            role: kabao_core::user::Role::Buyer,
            created_at: T0,
        })
        .await
        .unwrap();
    tx.insert_api_token(&kabao_store::NewApiToken {
        user_id: user,
        name: "race".into(),
        prefix: "kb_race".into(),
        token_hash: kabao_server::auth::sha256(&token),
        created_at: T0,
    })
    .await
    .unwrap();
    let top = kabao_core::ledger::top_up(user, kabao_core::Money::from_fen(fen)).unwrap();
    tx.post_ledger(&top, None, T0).await.unwrap();
    tx.commit().await.unwrap();
    token
}

/// 200 buyers race for the last 50 keys: exactly 50 sold, every key once, every loser's money back.
async fn race_for_the_last_keys(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("race_seller").await;
    let keys: String = (0..50).map(|i| format!("RACE-{i:03}\n")).collect();
    app.import(&merchant, product, &keys).await;
    let mut buyers = Vec::new();
    for i in 0..200 {
        let token = funded_buyer(&app, i, 990).await;
        let o =
            order(&app, Some(&token), json!({"product_id": product, "quantity": 1, "warranty_ack": true}), None).await;
        assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
        buyers.push((token, o.json()["order_no"].as_str().unwrap().to_string()));
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for (token, no) in buyers.clone() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await
        }));
    }
    let mut delivered = 0;
    let mut refunded = 0;
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        match res.json()["state"].as_str() {
            Some("delivered") => delivered += 1,
            Some("refunded") => refunded += 1,
            other => panic!("unexpected state {other:?}"),
        }
    }
    assert_eq!((delivered, refunded), (50, 150));
    assert_eq!(app.stock(product).await, 0);
    let mut seen = std::collections::HashSet::new();
    for (token, no) in &buyers {
        let res = app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(token), None).await;
        if res.status == StatusCode::OK {
            for k in res.json()["keys"].as_array().unwrap() {
                assert!(seen.insert(k.as_str().unwrap().to_string()), "key {k} delivered twice");
            }
        } else {
            assert_eq!(
                app.api("GET", "/api/v1/wallet", Some(token), None).await.json()["balance_fen"],
                990,
                "a loser's money is back"
            );
        }
    }
    assert_eq!(seen.len(), 50);
    verify_books(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_200_buyers_race_for_50_keys() {
    race_for_the_last_keys(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_200_buyers_race_for_50_keys() {
    if let Some(app) = TestApp::postgres().await {
        race_for_the_last_keys(app).await;
    }
}

pub(crate) fn epay_app_config() -> kabao_server::ServerConfig {
    epay_app_config_with_api("https://pay.example/api.php")
}

/// The 易支付 test merchant (pid 1001), its order queries sent to `api_url`.
pub(crate) fn epay_app_config_with_api(api_url: &str) -> kabao_server::ServerConfig {
    kabao_server::ServerConfig {
        epay: Some(kabao_app::epay::EpayConfig {
            pid: "1001".into(),
            key: "epay-merchant-key".into(),
            submit_url: "https://pay.example/submit.php".into(),
            api_url: api_url.into(),
            public_url: "https://kabao.example".into(),
        }),
        ..kabao_server::ServerConfig::default()
    }
}

/// The platform's notification for a payment, in the published parameter format, signed with `key`.
pub(crate) fn epay_params(trade_no: &str, money: &str, key: &str) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("pid", "1001"),
        ("trade_no", "2026112812345678"),
        ("out_trade_no", trade_no),
        ("type", "alipay"),
        ("name", "Kabao order"),
        ("money", money),
        ("trade_status", "TRADE_SUCCESS"),
        ("sign_type", "MD5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sign = kabao_core::payments::epay_sign(&p, key);
    p.push(("sign".into(), sign));
    p
}

pub(crate) async fn epay_get(app: &TestApp, params: &[(String, String)]) -> crate::app::Res {
    app.get(&format!("/api/v1/gateways/epay/notify?{}", serde_urlencoded::to_string(params).unwrap())).await
}

#[tokio::test]
async fn epay_notifications_are_verified_bound_to_the_payment_and_applied_once() {
    let app = TestApp::with_config(epay_app_config()).await;
    let (merchant, product) = app.merchant_with_product("epay_seller").await;
    app.import(&merchant, product, "EP-1\nEP-2\n").await;
    let guest = json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": "epay@example.com"});
    let a = order(&app, None, guest.clone(), None).await.json()["order_no"].as_str().unwrap().to_string();
    let b = order(&app, None, guest, None).await.json()["order_no"].as_str().unwrap().to_string();
    let start = |no: String| {
        Request::post(format!("/api/v1/orders/{no}/pay/epay"))
            .header("x-order-secret", "epay@example.com")
            .body(Body::empty())
            .unwrap()
    };
    let pa = app.send(start(a.clone())).await.json();
    let pb = app.send(start(b.clone())).await.json();
    assert!(pa["pay_url"].as_str().unwrap().starts_with("https://pay.example/submit.php?pid=1001"));
    let (ta, tb) = (pa["trade_no"].as_str().unwrap().to_string(), pb["trade_no"].as_str().unwrap().to_string());

    // Forged with an empty or wrong key, tampered amount, doubled or array amount, wrong pid: all `fail`.
    assert_eq!(epay_get(&app, &epay_params(&ta, "9.90", "")).await.body, "fail");
    assert_eq!(epay_get(&app, &epay_params(&ta, "9.90", "guessed")).await.body, "fail");
    let mut tampered = epay_params(&ta, "9.90", "epay-merchant-key");
    tampered.iter_mut().filter(|(k, _)| k == "money").for_each(|(_, v)| *v = "0.01".into());
    assert_eq!(epay_get(&app, &tampered).await.body, "fail");
    let mut doubled = epay_params(&ta, "9.90", "epay-merchant-key");
    doubled.push(("money".into(), "0.01".into()));
    assert_eq!(epay_get(&app, &doubled).await.body, "fail");
    let mut array = epay_params(&ta, "9.90", "epay-merchant-key");
    array.push(("money[]".into(), "0.01".into()));
    assert_eq!(epay_get(&app, &array).await.body, "fail");
    // A correctly signed notification for the wrong amount is refused too.
    assert_eq!(epay_get(&app, &epay_params(&ta, "0.01", "epay-merchant-key")).await.body, "fail");
    // A valid notification for order A replayed onto order B: the signature covers out_trade_no, so it fails.
    let mut replayed = epay_params(&ta, "9.90", "epay-merchant-key");
    replayed.iter_mut().filter(|(k, _)| k == "out_trade_no").for_each(|(_, v)| *v = tb.clone());
    assert_eq!(epay_get(&app, &replayed).await.body, "fail");
    assert_eq!(app.stock(product).await, 2, "nothing applied so far");

    // The real one, as GET and again as POST: applied once.
    let good = epay_params(&ta, "9.90", "epay-merchant-key");
    assert_eq!(epay_get(&app, &good).await.body, "success");
    let post = Request::post("/api/v1/gateways/epay/notify")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(&good).unwrap()))
        .unwrap();
    assert_eq!(app.send(post).await.body, "success");
    assert_eq!(app.stock(product).await, 1);
    let state = app
        .send(
            Request::get(format!("/api/v1/orders/{a}"))
                .header("x-order-secret", "epay@example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(state.json()["state"], "delivered");
    let state = app
        .send(
            Request::get(format!("/api/v1/orders/{b}"))
                .header("x-order-secret", "epay@example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(state.json()["state"], "pending_payment");
    verify_books(&app).await;
}

#[tokio::test]
async fn settled_money_is_withdrawn_only_with_admin_approval_and_once() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_payout").await;
    app.import(&merchant, product, "W-1\nW-2\n").await;
    let token = buyer(&app, "payout_buyer").await;
    top_up(&app, &token, 1980).await;
    let no = order_no(&app, &token, json!({"product_id": product, "quantity": 2, "warranty_ack": true})).await;
    app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    let f = app.api("GET", "/api/v1/merchant/finance", Some(&merchant), None).await.json();
    assert_eq!(
        (f["available_fen"].as_i64(), f["in_escrow_fen"].as_i64()),
        (Some(0), Some(1980)),
        "in escrow until the window closes"
    );
    let payee = app
        .api(
            "POST",
            "/api/v1/merchant/payees",
            Some(&merchant),
            Some(json!({"kind": "alipay", "account": "seller@example.com", "name": "王五"})),
        )
        .await
        .json()["id"]
        .clone();
    let early = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 100, "payee_id": payee})),
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "nothing to withdraw before settlement");

    app.clock.advance_seconds(24 * 3600 + 1);
    kabao_app::jobs::settle_due(&app.state).await.unwrap();
    let f = app.api("GET", "/api/v1/merchant/finance", Some(&merchant), None).await.json();
    assert_eq!(f["available_fen"], 1980 - 59);
    let too_much = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 1922, "payee_id": payee})),
        )
        .await;
    assert_eq!(too_much.status, StatusCode::CONFLICT);
    let w = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 1000, "payee_id": payee})),
        )
        .await;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);
    let id = w.json()["id"].as_i64().unwrap();
    let second = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 1000, "payee_id": payee})),
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT, "pending requests count against the balance");

    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    let admin = app.token("admin", &password).await;
    assert_eq!(app.api("GET", "/api/v1/admin/withdrawals", Some(&merchant), None).await.status, StatusCode::FORBIDDEN);
    let no_reason = app
        .api("POST", &format!("/api/v1/admin/withdrawals/{id}/decision"), Some(&admin), Some(json!({"approve": false})))
        .await;
    assert_eq!((no_reason.status, no_reason.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("note")));
    let ok = app
        .api(
            "POST",
            &format!("/api/v1/admin/withdrawals/{id}/decision"),
            Some(&admin),
            Some(json!({"approve": true, "payout_ref": "ALI-0001"})),
        )
        .await;
    assert_eq!(ok.json()["state"], "approved", "{}", ok.body);
    let twice = app
        .api(
            "POST",
            &format!("/api/v1/admin/withdrawals/{id}/decision"),
            Some(&admin),
            Some(json!({"approve": true, "payout_ref": "ALI-0001"})),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let f = app.api("GET", "/api/v1/merchant/finance", Some(&merchant), None).await.json();
    assert_eq!(f["available_fen"], 1980 - 59 - 1000);
    let statement = app.api("GET", "/api/v1/merchant/statement", Some(&merchant), None).await.json();
    assert_eq!(statement.as_array().map(Vec::len), Some(2), "settlement in, withdrawal held out");
    assert_eq!(app.api("GET", "/api/v1/merchant/orders", Some(&merchant), None).await.json()[0]["state"], "settled");
    verify_books(&app).await;
}

/// Notifications out of order: the order expired before the gateway's notification arrived. The money is
/// not lost and buys nothing: into escrow and straight back where it came from (the gateway, which refunds),
/// not into the wallet; the order stays expired.
#[tokio::test]
async fn a_payment_notified_after_expiry_is_returned_not_lost() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_late").await;
    app.import(&merchant, product, "L-1\n").await;
    let token = buyer(&app, "late_buyer").await;
    let no = order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    let start = app.api("POST", &format!("/api/v1/orders/{no}/pay/sandbox"), Some(&token), None).await;
    let trade_no = start.json()["trade_no"].as_str().unwrap().to_string();
    app.clock.advance_seconds(31 * 60);
    assert_eq!(kabao_app::jobs::expire_unpaid(&app.state).await.unwrap(), 1);
    let res = notify(&app, &trade_no, now_s(&app), |_| {}).await;
    assert_eq!(res.json()["status"], "applied", "{}", res.body);
    assert_eq!(app.api("GET", &format!("/api/v1/orders/{no}"), Some(&token), None).await.json()["state"], "expired");
    assert_eq!(
        app.api("GET", "/api/v1/wallet", Some(&token), None).await.json()["balance_fen"],
        0,
        "not into the wallet: back to the gateway it came from"
    );
    assert_eq!(app.stock(product).await, 1, "no key left the shop");
    verify_books(&app).await;
    let order = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.order_by_no(&no).await.unwrap().unwrap()
    };
    let queued = kabao_app::refunds::of_order(&app.state, order.id).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].gateway.as_str(), queued[0].amount.fen()), ("sandbox", 990));
    assert_eq!(queued[0].state, kabao_store::GatewayRefundState::Pending);
    let pass = kabao_app::refunds::run(&app.state).await.unwrap();
    assert_eq!(pass.done, 1, "{pass:?}");
    let done = kabao_app::refunds::of_order(&app.state, order.id).await.unwrap();
    assert_eq!(done[0].state, kabao_store::GatewayRefundState::Done);
    assert_eq!(kabao_app::refunds::run(&app.state).await.unwrap(), Default::default(), "refunded once");
    verify_books(&app).await;
}

/// 循环卡密: one secret delivered to every buyer while the merchant-set stock lasts.
#[tokio::test]
async fn shared_secret_goods_deliver_the_same_secret_while_stock_lasts() {
    let app = TestApp::new().await;
    let merchant = app.merchant_token("seller_shared").await;
    app.api("POST", "/api/v1/merchant/shop", Some(&merchant), Some(json!({"name": "共享小铺"}))).await;
    let p = app
        .api(
            "POST",
            "/api/v1/merchant/products",
            Some(&merchant),
            Some(json!({"title": "某视频会员 共享账号", "category": "membership_account", "kind": "shared", "price_fen": 300, "max_per_order": 5})),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let product = p.json()["id"].as_i64().unwrap();
    // Keys cannot be imported into it, and it cannot be bought before the secret is set.
    assert_eq!(app.import(&merchant, product, "X\n").await.json()["code"], "import.shared_goods");
    let set = |secret: &str, stock: i64| json!({"secret": secret, "stock": stock});
    let bad = app
        .api("PUT", &format!("/api/v1/merchant/products/{product}/shared-secret"), Some(&merchant), Some(set("", 3)))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ok = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/products/{product}/shared-secret"),
            Some(&merchant),
            Some(set("账号 share@example.com 密码 Pa55word", 3)),
        )
        .await;
    assert_eq!(ok.json()["stock_available"], 3, "{}", ok.body);
    let (other, _) = app.merchant_with_product("not_the_owner").await;
    let foreign = app
        .api("PUT", &format!("/api/v1/merchant/products/{product}/shared-secret"), Some(&other), Some(set("mine", 9)))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    let mut secrets = Vec::new();
    for i in 0..2 {
        let token = buyer(&app, &format!("shared_buyer_{i}")).await;
        top_up(&app, &token, 300).await;
        let no = order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
        let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
        assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
        let keys = app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(&token), None).await.json();
        secrets.push(keys["keys"].clone());
    }
    assert_eq!(secrets[0], json!(["账号 share@example.com 密码 Pa55word"]));
    assert_eq!(secrets[0], secrets[1], "every buyer gets the same secret");
    assert_eq!(app.stock(product).await, 1);
    let late = buyer(&app, "shared_buyer_late").await;
    let res = order(&app, Some(&late), json!({"product_id": product, "quantity": 2, "warranty_ack": true}), None).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "only one left");
    verify_books(&app).await;
}

/// One rule for every way of paying: past its time, an order cannot start a wallet or gateway payment,
/// even before the expiry job has run.
#[tokio::test]
async fn an_order_past_its_time_cannot_start_any_payment() {
    let app = TestApp::with_config(epay_app_config()).await;
    let (merchant, product) = app.merchant_with_product("seller_timeout").await;
    app.import(&merchant, product, "T-1\n").await;
    let token = buyer(&app, "timeout_buyer").await;
    top_up(&app, &token, 990).await;
    let no = order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    app.clock.advance_seconds(31 * 60);
    for how in ["wallet", "sandbox", "epay"] {
        let res = app.api("POST", &format!("/api/v1/orders/{no}/pay/{how}"), Some(&token), None).await;
        assert_eq!(
            (res.status, res.json()["code"].clone()),
            (StatusCode::CONFLICT, json!("order.expired")),
            "{how}: {}",
            res.body
        );
    }
    assert_eq!(app.stock(product).await, 1);
    verify_books(&app).await;
}

/// 人工交付: buyer fields at checkout, delivery by hand before the deadline, automatic refund when it is missed.
async fn custom_goods_story(app: TestApp) {
    let merchant = app.merchant_token("seller_custom").await;
    app.api("POST", "/api/v1/merchant/shop", Some(&merchant), Some(json!({"name": "代充小铺"}))).await;
    let p = app
        .api(
            "POST",
            "/api/v1/merchant/products",
            Some(&merchant),
            Some(json!({"title": "某游戏 648 代充", "category": "top_up", "kind": "custom", "price_fen": 500, "max_per_order": 2})),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let product = p.json()["id"].as_i64().unwrap();
    let token = buyer(&app, "custom_buyer").await;
    top_up(&app, &token, 1_000).await;
    let answers = json!({"游戏账号": "10086", "区服": "电信一区"});
    let buy = |fields: serde_json::Value| json!({"product_id": product, "quantity": 1, "warranty_ack": true, "custom_fields": fields});

    // Not orderable until the merchant says what to ask.
    let res = order(&app, Some(&token), buy(answers.clone()), None).await;
    assert_eq!(
        (res.status, res.json()["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("order.custom_goods_not_ready"))
    );
    let spec = |fields: serde_json::Value, hours: i64| json!({"fields": fields, "delivery_hours": hours, "stock": 3});
    let path = format!("/api/v1/merchant/products/{product}/custom-fields");
    for (bad, field) in [
        (spec(json!([]), 2), "fields"),
        (spec(json!(["区服", "区服"]), 2), "fields"),
        (spec(json!(["区服"]), 0), "delivery_hours"),
    ] {
        let res = app.api("PUT", &path, Some(&merchant), Some(bad)).await;
        assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{}", res.body);
    }
    let (other, _) = app.merchant_with_product("custom_other").await;
    assert_eq!(app.api("PUT", &path, Some(&other), Some(spec(json!(["x"]), 2))).await.status, StatusCode::NOT_FOUND);
    let ok = app.api("PUT", &path, Some(&merchant), Some(spec(json!(["游戏账号", "区服"]), 2))).await;
    assert_eq!(ok.json()["stock_available"], 3, "{}", ok.body);

    // Answers are checked: every field, nothing else.
    for (fields, code) in [
        (json!({"游戏账号": "10086"}), "order.custom_field_missing"),
        (json!({"游戏账号": "10086", "区服": "一区", "密码": "x"}), "order.custom_field_unknown"),
        (json!({"游戏账号": "1".repeat(201), "区服": "一区"}), "order.custom_field_invalid"),
    ] {
        let res = order(&app, Some(&token), buy(fields), None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
        assert_eq!((res.json()["code"].clone(), res.json()["field"].clone()), (json!(code), json!("custom_fields")));
    }
    let (_, standard) = app.merchant_with_product("custom_std").await;
    let res = order(
        &app,
        Some(&token),
        json!({"product_id": standard, "quantity": 1, "warranty_ack": true, "custom_fields": answers}),
        None,
    )
    .await;
    assert_eq!(res.json()["code"], "order.custom_fields_not_expected", "{}", res.body);

    // Paid: waiting for the merchant, with a deadline; nothing to reveal yet.
    let no = order_no(&app, &token, buy(answers.clone())).await;
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "paid", "{}", paid.body);
    assert_eq!(
        paid.json()["custom_fields"],
        json!([{"label": "游戏账号", "value": "10086"}, {"label": "区服", "value": "电信一区"}])
    );
    assert_eq!(paid.json()["delivery_deadline"], app.state.now().millis() + 2 * 3_600_000);
    assert_eq!(app.stock(product).await, 2);
    let reveal = app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(&token), None).await;
    assert_eq!(reveal.status, StatusCode::CONFLICT);
    let queue = app.api("GET", "/api/v1/merchant/orders", Some(&merchant), None).await;
    assert_eq!(queue.json()[0]["state"], "paid");

    // Only the shop's merchant delivers, with a real text, once.
    let deliver = |t: &str| json!({"text": t});
    let dpath = format!("/api/v1/merchant/orders/{no}/delivery");
    assert_eq!(app.api("POST", &dpath, Some(&other), Some(deliver("x"))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.api("POST", &dpath, Some(&merchant), Some(deliver("  "))).await.json()["field"], "text");
    let done =
        app.api("POST", &dpath, Some(&merchant), Some(deliver("已充值 648 元宝，订单号 TX-1\n请登录查收"))).await;
    assert_eq!(done.json()["state"], "delivered", "{}", done.body);
    assert_eq!(app.api("POST", &dpath, Some(&merchant), Some(deliver("again"))).await.status, StatusCode::CONFLICT);
    let keys = app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(&token), None).await;
    assert_eq!(keys.json()["keys"], json!(["已充值 648 元宝，订单号 TX-1\n请登录查收"]), "{}", keys.body);

    // A second order the merchant lets slip: refused after the deadline, refunded by the job, once.
    let late = order_no(&app, &token, buy(answers)).await;
    app.api("POST", &format!("/api/v1/orders/{late}/pay/wallet"), Some(&token), None).await;
    assert_eq!(app.api("GET", "/api/v1/wallet", Some(&token), None).await.json()["balance_fen"], 0);
    app.clock.advance_seconds(2 * 3600 - 1);
    assert_eq!(kabao_app::jobs::refund_late_deliveries(&app.state).await.unwrap(), 0, "not yet");
    app.clock.advance_seconds(1);
    let res = app
        .api("POST", &format!("/api/v1/merchant/orders/{late}/delivery"), Some(&merchant), Some(deliver("late")))
        .await;
    assert_eq!(
        (res.status, res.json()["code"].clone()),
        (StatusCode::CONFLICT, json!("order.delivery_deadline_passed"))
    );
    assert_eq!(kabao_app::jobs::refund_late_deliveries(&app.state).await.unwrap(), 1);
    assert_eq!(kabao_app::jobs::refund_late_deliveries(&app.state).await.unwrap(), 0, "refunded once");
    assert_eq!(app.api("GET", &format!("/api/v1/orders/{late}"), Some(&token), None).await.json()["state"], "refunded");
    assert_eq!(app.api("GET", "/api/v1/wallet", Some(&token), None).await.json()["balance_fen"], 500, "money back");
    assert_eq!(app.stock(product).await, 2, "the unit is back on sale");
    // The delivered order settles as usual when its claim window closes.
    app.clock.advance_seconds(app.state.config.claim_window_seconds);
    assert_eq!(kabao_app::jobs::settle_due(&app.state).await.unwrap(), 1);
    verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_custom_goods_are_delivered_by_hand_or_refunded_after_the_deadline() {
    custom_goods_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_custom_goods_are_delivered_by_hand_or_refunded_after_the_deadline() {
    if let Some(app) = TestApp::postgres().await {
        custom_goods_story(app).await;
    }
}

/// 补单规则: set from a template or field by field, versioned, shown before paying, fixed on the order.
#[tokio::test]
async fn warranty_policies_are_versioned_shown_and_fixed_on_the_order() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("seller_warranty").await;
    app.import(&merchant, product, "W-1\nW-2\nW-3\n").await;
    let path = format!("/api/v1/merchant/products/{product}/warranty");
    let shown = app.api("GET", &format!("/api/v1/products/{product}/warranty"), None, None).await.json();
    assert_eq!(shown["has_warranty"], false, "无质保 until the merchant sets rules");

    // Bad input: unknown template, ambiguous body, incoherent policy, someone else's product.
    let res = app.api("PUT", &path, Some(&merchant), Some(json!({"template": "nope"}))).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("template")));
    let res = app.api("PUT", &path, Some(&merchant), Some(json!({"template": "point_card_24h", "none": true}))).await;
    assert_eq!(res.json()["code"], "warranty.input_ambiguous");
    let templates = app.api("GET", "/api/v1/warranty/templates", None, None).await.json();
    let mut incoherent = templates[0]["policy"].clone();
    incoherent["remedy"] = json!("refund_only");
    incoherent["max_reissues"] = json!(0);
    let res = app.api("PUT", &path, Some(&merchant), Some(json!({"policy": incoherent}))).await;
    assert_eq!(
        (res.status, res.json()["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("auto_reissue")),
        "{}",
        res.body
    );
    let (other, _) = app.merchant_with_product("warranty_other").await;
    let res = app.api("PUT", &path, Some(&other), Some(json!({"template": "point_card_24h"}))).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api("GET", &format!("/api/v1/products/{product}/warranty"), None, None).await.json()["has_warranty"],
        false
    );

    let v1 = app.api("PUT", &path, Some(&merchant), Some(json!({"template": "point_card_24h"}))).await.json();
    assert_eq!((v1["has_warranty"].clone(), v1["version"].clone()), (json!(true), json!(1)), "{v1}");
    assert!(v1["description_zh"].to_string().contains("最多补发 1 次"), "{v1}");
    let same = app.api("PUT", &path, Some(&merchant), Some(json!({"template": "point_card_24h"}))).await.json();
    assert_eq!(same["version"], 1, "the same rules make no new version");

    // The buyer orders under v1, having seen its hash.
    let token = buyer(&app, "warranty_buyer").await;
    let buy = |sha: &serde_json::Value| json!({"product_id": product, "quantity": 1, "warranty_ack": true, "warranty_sha256": sha});
    let first = order(&app, Some(&token), buy(&v1["sha256"]), None).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let first = first.json();
    assert_eq!(first["warranty_sha256"], v1["sha256"]);
    let policy =
        kabao_core::warranty::WarrantyPolicy::from_snapshot(first["warranty_snapshot"].as_str().unwrap()).unwrap();
    assert_eq!(serde_json::to_value(&policy).unwrap(), v1["policy"]);

    // The merchant changes the rules: a new version; the first order keeps v1; a buyer who saw v1 must confirm again.
    let mut custom = templates[1]["policy"].clone();
    custom["max_reissues"] = json!(3);
    let v2 = app.api("PUT", &path, Some(&merchant), Some(json!({"policy": custom}))).await.json();
    assert_eq!(v2["version"], 2, "{v2}");
    assert_ne!(v2["sha256"], v1["sha256"]);
    let stale = order(&app, Some(&token), buy(&v1["sha256"]), None).await;
    assert_eq!((stale.status, stale.json()["code"].clone()), (StatusCode::CONFLICT, json!("order.warranty_changed")));
    let no = first["order_no"].as_str().unwrap();
    let again = app.api("GET", &format!("/api/v1/orders/{no}"), Some(&token), None).await.json();
    assert_eq!(again["warranty_sha256"], v1["sha256"], "sold under v1, stays v1");
    let second = order(&app, Some(&token), buy(&v2["sha256"]), None).await.json();
    assert_eq!(second["warranty_sha256"], v2["sha256"]);

    // Back to 无质保: orders carry the no-warranty snapshot again.
    let none = app.api("PUT", &path, Some(&merchant), Some(json!({"none": true}))).await.json();
    assert_eq!(none["has_warranty"], false);
    let third = order(&app, Some(&token), json!({"product_id": product, "quantity": 1, "warranty_ack": true}), None)
        .await
        .json();
    assert_eq!(third["warranty_snapshot"], r#"{"warranty":"none"}"#);

    // The pages say the same: the product page lists the rules, the order page the ones it was sold under.
    app.api("PUT", &path, Some(&merchant), Some(json!({"template": "point_card_24h"}))).await;
    let mut guest = app.browser();
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(
        page.body.contains("id=\"warranty-rules\"") && page.body.contains("24 小时质保 · 自动补单"),
        "{}",
        page.body
    );
    assert!(page.body.contains(v1["sha256"].as_str().unwrap()), "the form carries the hash of what is shown");
}
