//! Alipay interop: a fake Alipay gateway built on python-alipay-sdk 3.4.0 (tests/interop/alipay_gateway.py)
//! checks Kabao's requests with the SDK's verification and signs notifications and answers with the SDK's
//! signing; Kabao listens on a real socket so the fake can deliver notifications to its notify_url. Needs
//! `KABAO_INTEROP_PYTHON` (a python with the SDK); skipped without it unless `KABAO_REQUIRE_INTEROP=1`.

use crate::app::TestApp;
use crate::orders::{order, verify_books};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use kabao_app::gateways::alipay::{Alipay, AlipayConfig, ALIPAY, NOTIFY_PATH};
use kabao_app::gateways::{
    Gateway, GatewayError, HttpPort, HttpRequest, RefundOutcome, RefundRequest, TradeState, TransferOutcome,
    TransferRequest,
};
use kabao_core::Money;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const GUEST: &str = "alipay-guest@example.com";
const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";

/// The fake gateway: its process (killed on drop), its address and the keys it generated for this run.
struct Fake {
    _child: tokio::process::Child,
    base: String,
    app_id: String,
    app_private_key: String,
    alipay_public_key: String,
    http: kabao_rails::GatewayHttp,
}

impl Fake {
    async fn start() -> Option<Fake> {
        let Some(python) = std::env::var("KABAO_INTEROP_PYTHON").ok().filter(|p| !p.is_empty()) else {
            assert!(
                std::env::var("KABAO_REQUIRE_INTEROP").as_deref() != Ok("1"),
                "KABAO_REQUIRE_INTEROP=1 but KABAO_INTEROP_PYTHON is unset"
            );
            eprintln!("skipped: KABAO_INTEROP_PYTHON not set");
            return None;
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/interop/alipay_gateway.py");
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .arg("--port")
            .arg("0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the fake Alipay gateway");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::time::timeout(Duration::from_secs(60), tokio::io::BufReader::new(stdout).lines().next_line())
            .await
            .expect("the fake gateway starts within a minute")
            .unwrap()
            .expect("the fake gateway prints its settings");
        let hello: Value = serde_json::from_str(&line).unwrap();
        Some(Fake {
            _child: child,
            base: format!("http://127.0.0.1:{}", hello["port"]),
            app_id: hello["app_id"].as_str().unwrap().into(),
            app_private_key: hello["app_private_key"].as_str().unwrap().into(),
            alipay_public_key: hello["alipay_public_key"].as_str().unwrap().into(),
            http: kabao_rails::GatewayHttp::default(),
        })
    }

    fn config(&self, public_url: &str) -> AlipayConfig {
        AlipayConfig {
            app_id: self.app_id.clone(),
            app_private_key: self.app_private_key.clone(),
            alipay_public_key: self.alipay_public_key.clone(),
            gateway_url: format!("{}/gateway.do", self.base),
            public_url: public_url.into(),
        }
    }

    async fn control(&self, command: Value) -> Value {
        let request = HttpRequest {
            method: "POST",
            url: format!("{}/control", self.base),
            headers: vec![("content-type".into(), "application/json".into())],
            body: command.to_string().into_bytes(),
        };
        let res = self.http.send(request).await.unwrap();
        serde_json::from_slice(&res.body).unwrap()
    }

    /// The payer's browser arriving at the cashier with Kabao's redirect.
    async fn open(&self, pay_url: &str) -> u16 {
        let request = HttpRequest { method: "GET", url: pay_url.into(), headers: vec![], body: vec![] };
        self.http.send(request).await.unwrap().status
    }
}

/// Kabao with Alipay pointed at the fake, served on a real socket (the fake posts notifications there).
async fn kabao(fake: &Fake) -> (TestApp, AlipayConfig) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let config = fake.config(&public_url);
    let app = TestApp::production(kabao_server::ServerConfig {
        alipay: Some(config.clone()),
        ..kabao_server::ServerConfig::default()
    })
    .await;
    let service = app.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    (app, config)
}

/// A shop with `keys` keys at 9.90 each; returns the product id.
async fn shop(app: &TestApp, seller: &str, keys: usize) -> i64 {
    let (merchant, product) = app.merchant_with_product(seller).await;
    let file: String = (0..keys).map(|i| format!("ALI-{seller}-{i}\n")).collect();
    app.import(&merchant, product, &file).await;
    product
}

async fn guest_order(app: &TestApp, product: i64) -> String {
    let o = order(
        app,
        None,
        json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": GUEST}),
        None,
    )
    .await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
    o.json()["order_no"].as_str().unwrap().to_string()
}

/// Starts paying `no` at Alipay from a browser with `user_agent`; returns the trade number and the pay URL.
async fn pay(app: &TestApp, no: &str, user_agent: &str) -> (String, String) {
    let req = Request::post(format!("/api/v1/orders/{no}/pay/alipay"))
        .header("x-order-secret", GUEST)
        .header("user-agent", user_agent)
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let v = res.json();
    assert_eq!(v["amount_fen"], 990);
    (v["trade_no"].as_str().unwrap().into(), v["pay_url"].as_str().unwrap().into())
}

async fn order_state(app: &TestApp, no: &str) -> String {
    let req = Request::get(format!("/api/v1/orders/{no}")).header("x-order-secret", GUEST).body(Body::empty()).unwrap();
    app.send(req).await.json()["state"].as_str().unwrap().to_string()
}

/// A notification body posted to Kabao's notify route as Alipay posts it.
async fn post_notify(app: &TestApp, body: &str) -> String {
    let req = Request::post(NOTIFY_PATH)
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await.body
}

fn last_request(state: &Value) -> &Value {
    state["requests"].as_array().unwrap().last().unwrap()
}

#[tokio::test]
async fn alipay_pay_requests_pass_the_sdk_and_only_good_notifications_pay_once() {
    let Some(fake) = Fake::start().await else { return };
    let (app, config) = kabao(&fake).await;
    let product = shop(&app, "ali_seller", 4).await;
    let (a, b) = (guest_order(&app, product).await, guest_order(&app, product).await);

    // Desktop: page pay, verified by the SDK, with our notify and return URLs.
    let (ta, url_a) = pay(&app, &a, DESKTOP).await;
    assert!(url_a.starts_with(&format!("{}/gateway.do?", fake.base)), "{url_a}");
    assert_eq!(fake.open(&url_a).await, 200);
    let state = fake.control(json!({"action": "state"})).await;
    let req = last_request(&state);
    assert_eq!(req["verified"], true, "{req}");
    assert_eq!(req["method"], "alipay.trade.page.pay");
    assert_eq!(req["params"]["notify_url"], config.notify_url());
    assert!(req["params"]["return_url"].as_str().unwrap().ends_with(&format!("/o/{a}")));
    let biz: Value = serde_json::from_str(req["params"]["biz_content"].as_str().unwrap()).unwrap();
    assert_eq!((biz["out_trade_no"].as_str(), biz["total_amount"].as_str()), (Some(ta.as_str()), Some("9.90")));
    assert_eq!(biz["product_code"], "FAST_INSTANT_TRADE_PAY");

    // Phone: wap pay, verified too.
    let (tb, url_b) = pay(&app, &b, PHONE).await;
    assert_eq!(fake.open(&url_b).await, 200);
    let state = fake.control(json!({"action": "state"})).await;
    let req = last_request(&state);
    assert_eq!((req["verified"].as_bool(), req["method"].as_str()), (Some(true), Some("alipay.trade.wap.pay")));
    assert!(req["params"]["biz_content"].as_str().unwrap().contains("QUICK_WAP_WAY"));
    // A request changed after Kabao signed it does not pass the SDK.
    assert_eq!(fake.open(&url_a.replace("9.90", "9.91")).await, 400);
    assert_eq!(last_request(&fake.control(json!({"action": "state"})).await)["verified"], false);

    // A pays at Alipay; the signed notification is kept by the test.
    let paid = fake.control(json!({"action": "pay", "out_trade_no": ta, "notify": "return"})).await;
    let good = paid["body"].as_str().unwrap().to_string();
    // One byte changed: refused.
    let notify_id_at = good.find("notify_id=").unwrap() + "notify_id=".len();
    let mut bytes = good.clone().into_bytes();
    bytes[notify_id_at] = if bytes[notify_id_at] == b'a' { b'b' } else { b'a' };
    assert_eq!(post_notify(&app, std::str::from_utf8(&bytes).unwrap()).await, "fail");
    // A's notification moved onto B (its sign over A's parameters): refused.
    assert_eq!(post_notify(&app, &good.replace(&ta, &tb)).await, "fail");
    assert_eq!(order_state(&app, &a).await, "pending_payment");
    assert_eq!(order_state(&app, &b).await, "pending_payment");
    // Validly signed but the wrong amount, or another app: refused.
    for overrides in [json!({"total_amount": "0.01"}), json!({"app_id": "2021000000009999"})] {
        let n = fake
            .control(json!({"action": "notify", "out_trade_no": ta, "notify": "send", "overrides": overrides}))
            .await;
        assert_eq!(n["answer"], "fail", "{overrides}");
    }
    assert_eq!(order_state(&app, &a).await, "pending_payment");

    // The real notification, delivered by the fake to the notify URL, then again: one payment.
    let sent = fake.control(json!({"action": "notify", "out_trade_no": ta, "notify": "send"})).await;
    assert_eq!(sent["answer"], "success", "{sent}");
    let again = fake.control(json!({"action": "resend", "out_trade_no": ta})).await;
    assert_eq!(again["answer"], "success");
    assert_eq!(post_notify(&app, &good).await, "success", "the kept copy of the same payment is acknowledged");
    assert_eq!(order_state(&app, &a).await, "delivered");
    assert_eq!(app.stock(product).await, 3, "one key delivered, once");

    // A validly signed notification reusing A's Alipay trade number for B: B is not paid with A's money.
    let a_trade =
        fake.control(json!({"action": "state"})).await["trades"][&ta]["trade_no"].as_str().unwrap().to_string();
    let reused = fake
        .control(json!({"action": "notify", "out_trade_no": tb, "notify": "return", "trade_of": tb,
            "overrides": {"trade_no": a_trade, "trade_status": "TRADE_SUCCESS"}}))
        .await;
    // Acknowledged (Alipay retrying cannot change it) and recorded for the admin, but nothing is paid.
    assert_eq!(post_notify(&app, reused["body"].as_str().unwrap()).await, "success");
    assert_eq!(order_state(&app, &b).await, "pending_payment");
    assert_eq!(app.stock(product).await, 3);
    verify_books(&app).await;
}

#[tokio::test]
async fn alipay_query_finds_a_paid_trade_whose_notification_was_lost() {
    let Some(fake) = Fake::start().await else { return };
    let (app, _) = kabao(&fake).await;
    let product = shop(&app, "ali_query", 2).await;
    let no = guest_order(&app, product).await;
    let (trade_no, url) = pay(&app, &no, DESKTOP).await;
    let adapter = app.state.gateways.get(ALIPAY).unwrap().clone();
    assert_eq!(adapter.query(&trade_no).await.unwrap(), TradeState::NotFound, "not at the cashier yet");
    fake.open(&url).await;
    assert_eq!(adapter.query(&trade_no).await.unwrap(), TradeState::Unpaid);
    fake.control(json!({"action": "pay", "out_trade_no": trade_no, "notify": "none"})).await;
    let gateway_trade_no =
        fake.control(json!({"action": "state"})).await["trades"][&trade_no]["trade_no"].as_str().unwrap().to_string();
    assert_eq!(
        adapter.query(&trade_no).await.unwrap(),
        TradeState::Paid { gateway_trade_no, amount: Money::from_fen(990) }
    );
    let state = fake.control(json!({"action": "state"})).await;
    let req = last_request(&state);
    assert_eq!((req["http"].as_str(), req["verified"].as_bool()), (Some("POST"), Some(true)));
    assert_eq!(order_state(&app, &no).await, "pending_payment", "the query alone applies nothing");
}

#[tokio::test]
async fn alipay_refunds_are_done_refused_or_retried_without_paying_twice() {
    let Some(fake) = Fake::start().await else { return };
    let (app, config) = kabao(&fake).await;
    let product = shop(&app, "ali_refund", 4).await;
    let mut trades = Vec::new();
    for _ in 0..3 {
        let no = guest_order(&app, product).await;
        let (trade_no, url) = pay(&app, &no, DESKTOP).await;
        fake.open(&url).await;
        fake.control(json!({"action": "pay", "out_trade_no": trade_no, "notify": "send"})).await;
        assert_eq!(order_state(&app, &no).await, "delivered");
        trades.push(trade_no);
    }
    let adapter = app.state.gateways.get(ALIPAY).unwrap().clone();
    assert!(adapter.refunds());
    let refund = |refund_no: &'static str, trade_no: &str| {
        let trade_no = trade_no.to_string();
        move |adapter: Arc<dyn Gateway>| async move {
            adapter
                .refund(&RefundRequest {
                    refund_no,
                    trade_no: &trade_no,
                    gateway_trade_no: None,
                    total: Money::from_fen(990),
                    amount: Money::from_fen(990),
                    reason: "质保退款",
                })
                .await
        }
    };
    let refunds_of = |state: &Value, trade_no: &str| {
        state["refunds"].as_array().unwrap().iter().filter(|r| r["out_trade_no"] == trade_no).count()
    };

    // Done, and asked again with the same number: still one refund.
    let done = refund("RF-1", &trades[0])(adapter.clone()).await.unwrap();
    assert_eq!(done, RefundOutcome::Done { gateway_refund_no: None });
    assert_eq!(refund("RF-1", &trades[0])(adapter.clone()).await.unwrap(), done);
    assert_eq!(refunds_of(&fake.control(json!({"action": "state"})).await, &trades[0]), 1);

    // Refused by Alipay: the reason says why.
    fake.control(json!({"action": "refuse_refunds", "out_trade_no": trades[1]})).await;
    match refund("RF-2", &trades[1])(adapter.clone()).await.unwrap() {
        RefundOutcome::Refused { reason } => assert!(reason.contains("ACQ.TRADE_NOT_ALLOW_REFUND"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The first call is recorded but answers after the client gave up; the retry with the same number is
    // answered with the first result, and Alipay refunded once.
    let impatient: Arc<dyn Gateway> =
        Arc::new(Alipay::new(config.clone(), Arc::new(kabao_rails::GatewayHttp::with_timeout(Duration::from_secs(1)))));
    fake.control(json!({"action": "slow_refund", "seconds": 3})).await;
    let timed_out = refund("RF-3", &trades[2])(impatient.clone()).await;
    assert!(matches!(timed_out, Err(GatewayError::Unreachable(_))), "{timed_out:?}");
    assert_eq!(refund("RF-3", &trades[2])(impatient).await.unwrap(), RefundOutcome::Done { gateway_refund_no: None });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let state = fake.control(json!({"action": "state"})).await;
    assert_eq!(refunds_of(&state, &trades[2]), 1);
    assert_eq!(state["refunds"].as_array().unwrap().len(), 2);
    assert!(state["requests"].as_array().unwrap().iter().all(|r| r["verified"] == true));
}

#[tokio::test]
async fn alipay_transfers_happen_once_per_out_biz_no() {
    let Some(fake) = Fake::start().await else { return };
    let (app, _) = kabao(&fake).await;
    let adapter = app.state.gateways.get(ALIPAY).unwrap().clone();
    let transfer = |out_biz_no: &'static str, account: &'static str| TransferRequest {
        out_biz_no,
        amount: Money::from_fen(12_345),
        account,
        name: "王五",
        remark: "卡保提现",
    };
    let first = adapter.transfer(&transfer("WD-1", "seller@example.com")).await.unwrap();
    let TransferOutcome::Done { gateway_order_id } = &first else { panic!("expected done, got {first:?}") };
    assert_eq!(adapter.transfer(&transfer("WD-1", "seller@example.com")).await.unwrap(), first);
    let state = fake.control(json!({"action": "state"})).await;
    let transfers = state["transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0]["order_id"].as_str(), Some(gateway_order_id.as_str()));
    assert_eq!(transfers[0]["trans_amount"], "123.45");
    assert_eq!(transfers[0]["payee_info"]["name"], "王五");
    match adapter.transfer(&transfer("WD-2", "refuse@example.com")).await.unwrap() {
        TransferOutcome::Refused { reason } => assert!(reason.contains("PAYEE_NOT_EXIST"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A registered buyer's order of one item paid at the fake Alipay (notification delivered); returns its number.
async fn bought_with_alipay(app: &TestApp, fake: &Fake, token: &str, product: i64) -> String {
    let no =
        crate::orders::order_no(app, token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    let res = app.api("POST", &format!("/api/v1/orders/{no}/pay/alipay"), Some(token), None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let trade_no = res.json()["trade_no"].as_str().unwrap().to_string();
    fake.open(res.json()["pay_url"].as_str().unwrap()).await;
    fake.control(json!({"action": "pay", "out_trade_no": trade_no, "notify": "send"})).await;
    let got = app.api("GET", &format!("/api/v1/orders/{no}"), Some(token), None).await;
    assert_eq!(got.json()["state"], "delivered", "{}", got.body);
    no
}

/// Files a claim on item 1 and has the merchant approve it: with no stock left to re-issue, a refund.
async fn claim_refunded(app: &TestApp, token: &str, merchant: &str, no: &str) {
    crate::claims::reveal(app, token, no).await;
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "卡密无效")];
    let png = crate::claims::png(no);
    let res = crate::claims::file_claim(app, (Some(token), None), &path, &fields, &[("a.png", &png)], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = crate::claims::decide(app, merchant, &claim_no, json!({"decision": "approve"})).await;
    assert_eq!(res.json()["state"], "refunded", "{}", res.body);
}

async fn gateway_refunds(app: &TestApp, no: &str) -> Vec<kabao_store::GatewayRefund> {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(no).await.unwrap().unwrap();
    tx.order_gateway_refunds(order.id).await.unwrap()
}

/// Claim refunds of orders paid with Alipay go back to Alipay through the refund job: once, even when the
/// process died after Alipay refunded and before it recorded that; a refund Alipay refuses lands in the
/// buyer's wallet with Alipay's reason.
#[tokio::test]
async fn alipay_claim_refunds_go_back_to_alipay_once_and_refusals_fall_back_to_the_wallet() {
    let Some(fake) = Fake::start().await else { return };
    let (app, _) = kabao(&fake).await;
    let (merchant, product) = app.merchant_with_product("ali_claims").await;
    crate::claims::set_template(&app, &merchant, product, "point_card_24h").await;
    app.import(&merchant, product, "AC-1\nAC-2\nAC-3\n").await;
    let token = crate::orders::buyer(&app, "ali_claim_buyer").await;
    // Another buyer, a merchant, or nobody cannot start paying this buyer's order at Alipay.
    let pending =
        crate::orders::order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true}))
            .await;
    let other = crate::orders::buyer(&app, "ali_other_buyer").await;
    for who in [Some(other.as_str()), Some(merchant.as_str()), None] {
        let res = app.api("POST", &format!("/api/v1/orders/{pending}/pay/alipay"), who, None).await;
        assert!(matches!(res.status.as_u16(), 401 | 404), "{who:?}: {} {}", res.status, res.body);
    }
    let first = bought_with_alipay(&app, &fake, &token, product).await;
    let second = bought_with_alipay(&app, &fake, &token, product).await;
    let third = bought_with_alipay(&app, &fake, &token, product).await;
    let wallet = || async { crate::claims::wallet(&app, &token).await };
    let alipay_refunds = |state: &Value| state["refunds"].as_array().map(Vec::len).unwrap_or(0);

    // Back to Alipay.
    claim_refunded(&app, &token, &merchant, &first).await;
    assert_eq!(wallet().await, 0);
    let pass = kabao_app::refunds::run(&app.state).await.unwrap();
    assert_eq!(pass.done, 1, "{pass:?}");
    assert_eq!(gateway_refunds(&app, &first).await[0].state, kabao_store::GatewayRefundState::Done);
    assert_eq!(alipay_refunds(&fake.control(json!({"action": "state"})).await), 1);
    verify_books(&app).await;

    // The process asked Alipay (which refunded) and died before recording it: the refund is still pending, and
    // the next pass asks again with the same number. Alipay answers the same refund; it refunded once.
    claim_refunded(&app, &token, &merchant, &second).await;
    let queued = gateway_refunds(&app, &second).await.remove(0);
    let payment = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.payment_by_id(queued.payment_id).await.unwrap().unwrap()
    };
    let adapter = app.state.gateways.get(ALIPAY).unwrap().clone();
    let before_crash = adapter
        .refund(&RefundRequest {
            refund_no: &queued.refund_no,
            trade_no: &payment.trade_no,
            gateway_trade_no: payment.gateway_trade_no.as_deref(),
            total: payment.amount,
            amount: queued.amount,
            reason: "卡保退款",
        })
        .await
        .unwrap();
    assert!(matches!(before_crash, RefundOutcome::Done { .. }));
    assert_eq!(alipay_refunds(&fake.control(json!({"action": "state"})).await), 2);
    assert_eq!(kabao_app::refunds::run(&app.state).await.unwrap().done, 1);
    assert_eq!(gateway_refunds(&app, &second).await[0].state, kabao_store::GatewayRefundState::Done);
    assert_eq!(alipay_refunds(&fake.control(json!({"action": "state"})).await), 2, "not refunded twice");
    verify_books(&app).await;

    // Refused by Alipay: into the wallet, with the reason on the order page.
    let trade_no = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        let order = tx.order_by_no(&third).await.unwrap().unwrap();
        tx.paid_payment_of_order(order.id).await.unwrap().unwrap().trade_no
    };
    fake.control(json!({"action": "refuse_refunds", "out_trade_no": trade_no})).await;
    claim_refunded(&app, &token, &merchant, &third).await;
    let pass = kabao_app::refunds::run(&app.state).await.unwrap();
    assert_eq!(pass.to_wallet, 1, "{pass:?}");
    assert_eq!(wallet().await, 990);
    let refused = gateway_refunds(&app, &third).await.remove(0);
    assert_eq!(refused.state, kabao_store::GatewayRefundState::ToWallet);
    assert!(refused.outcome_note.as_deref().is_some_and(|n| n.contains("ACQ.TRADE_NOT_ALLOW_REFUND")), "{refused:?}");
    assert_eq!(kabao_app::refunds::run(&app.state).await.unwrap(), Default::default());
    assert_eq!(wallet().await, 990, "once");
    verify_books(&app).await;
}

/// A guest has no wallet: a refund Alipay refuses waits for the platform team, who refund by hand and record
/// how; only an admin sees and resolves it, once, with a note.
#[tokio::test]
async fn a_guest_refund_alipay_refuses_waits_for_the_team_who_resolve_it_once() {
    let Some(fake) = Fake::start().await else { return };
    let (app, _) = kabao(&fake).await;
    let (merchant, product) = app.merchant_with_product("ali_guest_claims").await;
    crate::claims::set_template(&app, &merchant, product, "point_card_24h").await;
    app.import(&merchant, product, "AG-1\n").await;
    let no = guest_order(&app, product).await;
    let (trade_no, url) = pay(&app, &no, PHONE).await;
    fake.open(&url).await;
    fake.control(json!({"action": "pay", "out_trade_no": trade_no, "notify": "send"})).await;
    fake.control(json!({"action": "refuse_refunds", "out_trade_no": trade_no})).await;
    let reveal = Request::post(format!("/api/v1/orders/{no}/keys/reveal"))
        .header("x-order-secret", GUEST)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(reveal).await.status, StatusCode::OK);
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "卡密无效")];
    let png = crate::claims::png("guest");
    let res = crate::claims::file_claim(&app, (None, Some(GUEST)), &path, &fields, &[("a.png", &png)], None).await;
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = crate::claims::decide(&app, &merchant, &claim_no, json!({"decision": "approve"})).await;
    assert_eq!(res.json()["state"], "refunded", "{}", res.body);
    assert_eq!(kabao_app::refunds::run(&app.state).await.unwrap().manual, 1);
    verify_books(&app).await;

    kabao_app::accounts::create_user(
        &*app.state.store,
        "ali_admin",
        "admin-pass-12",
        kabao_core::user::Role::Admin,
        None,
        crate::app::T0,
    )
    .await
    .unwrap();
    let admin = app.token("ali_admin", "admin-pass-12").await;
    let list = app.api("GET", "/api/v1/admin/refunds", Some(&admin), None).await.json();
    assert_eq!(
        (list[0]["order_no"].as_str(), list[0]["state"].as_str()),
        (Some(no.as_str()), Some("manual")),
        "{list}"
    );
    assert!(list[0]["outcome_note"].as_str().unwrap().contains("ACQ.TRADE_NOT_ALLOW_REFUND"));
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(app.api("GET", "/api/v1/admin/refunds", Some(&merchant), None).await.status, StatusCode::FORBIDDEN);
    let path = format!("/api/v1/admin/refunds/{id}/resolve");
    let empty = app.api("POST", &path, Some(&admin), Some(json!({"note": "  "}))).await;
    assert_eq!((empty.status, empty.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("note")));
    let done =
        app.api("POST", &path, Some(&admin), Some(json!({"note": "支付宝商家后台手工退款，流水 2026120600001"}))).await;
    assert_eq!((done.status, done.json()["state"].clone()), (StatusCode::OK, json!("done")), "{}", done.body);
    let again = app.api("POST", &path, Some(&admin), Some(json!({"note": "再来一次"}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(app.api("GET", "/api/v1/admin/refunds", Some(&admin), None).await.json().as_array().unwrap().is_empty());
    verify_books(&app).await;
}

/// A notification Alipay sent that never arrived: the reconciliation job asks Alipay (through the SDK-built
/// fake) about the payment still pending after 3 minutes, applies it once, and the day's report shows it.
#[tokio::test]
async fn a_lost_alipay_notification_is_found_by_reconciliation_and_applied_once() {
    let Some(fake) = Fake::start().await else { return };
    let (app, _) = kabao(&fake).await;
    let product = shop(&app, "ali_lost", 2).await;
    let no = guest_order(&app, product).await;
    let (trade_no, url) = pay(&app, &no, DESKTOP).await;
    fake.open(&url).await;
    fake.control(json!({"action": "pay", "out_trade_no": trade_no, "notify": "none"})).await;
    assert_eq!(kabao_app::reconcile::run(&app.state).await.unwrap().queried, 0, "not asked before 3 minutes");
    app.clock.advance_seconds(4 * 60);
    let poll = kabao_app::reconcile::run(&app.state).await.unwrap();
    assert_eq!((poll.queried, poll.applied), (1, 1), "{poll:?}");
    assert_eq!(order_state(&app, &no).await, "delivered");
    assert_eq!(kabao_app::reconcile::run(&app.state).await.unwrap().applied, 0, "applied once");
    // The notification arriving after all changes nothing more.
    fake.control(json!({"action": "notify", "out_trade_no": trade_no})).await;
    assert_eq!(order_state(&app, &no).await, "delivered");
    let date = kabao_app::reconcile::business_date(app.state.now());
    let report = kabao_app::reconcile::reconcile_day(&app.state, &date).await.unwrap();
    assert!(report.is_some(), "the day has a report");
    verify_books(&app).await;
}
