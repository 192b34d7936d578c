//! 易支付 reconciliation: a fake platform on 127.0.0.1 answers the order query (`api.php?act=order`) in the
//! published JSON form and records every query; a job pass applies what it confirms — once — and nothing else.

use crate::app::TestApp;
use crate::orders::{epay_app_config_with_api, epay_get, epay_params, order, verify_books};
use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kabao_app::reconcile::Poll as EpayPoll;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const KEY: &str = "epay-merchant-key";
const GUEST: &str = "poll@example.com";
/// The platform's trade number in `epay_params`' notification, so a poll and a notification can be the same.
const NOTIFIED_GATEWAY_TRADE_NO: &str = "2026112812345678";

/// A query the platform received: its path and parameters, in the order sent.
type Query = (String, Vec<(String, String)>);

#[derive(Clone)]
enum Answer {
    Json(Value),
    Http(StatusCode, &'static str),
}

/// The platform's side: answers by `out_trade_no` (unknown ones get the platform's "no such order").
#[derive(Clone, Default)]
struct FakeEpay {
    queries: Arc<Mutex<Vec<Query>>>,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
}

impl FakeEpay {
    /// Serves on a fresh port; returns the platform and its `api.php` URL.
    async fn start() -> (FakeEpay, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api.php", listener.local_addr().unwrap());
        (Self::serve(listener), url)
    }

    fn serve(listener: tokio::net::TcpListener) -> FakeEpay {
        let fake = FakeEpay::default();
        let app = axum::Router::new().route("/api.php", axum::routing::get(api)).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn answer(&self, out_trade_no: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(out_trade_no.to_string(), answer);
    }

    /// The published answer for a known trade: `status` 1 paid, 0 unpaid.
    fn known(&self, out_trade_no: &str, gateway_trade_no: &str, money: Value, status: Value) {
        self.answer(
            out_trade_no,
            Answer::Json(json!({
                "code": 1, "msg": "查询订单号成功！", "trade_no": gateway_trade_no, "out_trade_no": out_trade_no,
                "api_trade_no": format!("4200{gateway_trade_no}"), "type": "alipay", "pid": "1001",
                "addtime": "2026-11-28 12:00:00", "endtime": "2026-11-28 12:01:00", "name": "Kabao order",
                "money": money, "status": status, "param": "", "buyer": ""
            })),
        );
    }

    fn queries_for(&self, out_trade_no: &str) -> usize {
        let queries = self.queries.lock().unwrap();
        queries.iter().filter(|(_, p)| p.iter().any(|(k, v)| k == "out_trade_no" && v == out_trade_no)).count()
    }
}

async fn api(axum::extract::State(fake): axum::extract::State<FakeEpay>, uri: Uri) -> Response {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap();
    let no = params.iter().find(|(k, _)| k == "out_trade_no").map(|(_, v)| v.clone()).unwrap_or_default();
    fake.queries.lock().unwrap().push((uri.path().to_string(), params));
    let answer = fake.answers.lock().unwrap().get(&no).cloned();
    match answer {
        Some(Answer::Json(v)) => axum::Json(v).into_response(),
        Some(Answer::Http(status, body)) => (status, body).into_response(),
        None => axum::Json(json!({"code": -1, "msg": "订单号不存在"})).into_response(),
    }
}

/// A shop selling `keys` card keys through an app whose 易支付 queries go to `api_url`.
struct Shop {
    app: TestApp,
    product: i64,
}

impl Shop {
    async fn open(api_url: &str, seller: &str, keys: usize) -> Shop {
        let app = TestApp::with_config(epay_app_config_with_api(api_url)).await;
        let (merchant, product) = app.merchant_with_product(seller).await;
        let file: String = (0..keys).map(|i| format!("{seller}-KEY-{i}\n")).collect();
        let imported = app.import(&merchant, product, &file).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
        Shop { app, product }
    }

    /// A guest order whose 易支付 payment has started: (order number, our trade number).
    async fn pending_order(&self) -> (String, String) {
        let body = json!({"product_id": self.product, "quantity": 1, "warranty_ack": true, "guest_email": GUEST});
        let no = order(&self.app, None, body, None).await.json()["order_no"].as_str().unwrap().to_string();
        let req = Request::post(format!("/api/v1/orders/{no}/pay/epay"))
            .header("x-order-secret", GUEST)
            .body(Body::empty())
            .unwrap();
        let started = self.app.send(req).await;
        assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
        (no, started.json()["trade_no"].as_str().unwrap().to_string())
    }

    async fn state(&self, no: &str) -> String {
        let req =
            Request::get(format!("/api/v1/orders/{no}")).header("x-order-secret", GUEST).body(Body::empty()).unwrap();
        self.app.send(req).await.json()["state"].as_str().unwrap_or_default().to_string()
    }

    async fn payment(&self, trade_no: &str) -> kabao_store::Payment {
        let mut tx = self.app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.payment_by_trade_no(trade_no).await.unwrap().unwrap()
    }

    /// One pass of every job, as the server runs them; returns what the gateway reconciliation did.
    async fn pass(&self) -> EpayPoll {
        let pass = kabao_app::jobs::run_once(&self.app.state, "instance-test").await.unwrap();
        assert_eq!((pass.settled, pass.expired.is_some()), (Some(0), true), "the other jobs ran too");
        pass.reconciled.expect("the gateway reconciliation ran")
    }
}

fn polled(queried: u64, applied: u64, refused: u64, unreachable: u64) -> EpayPoll {
    EpayPoll { queried, applied, refused, unreachable }
}

#[tokio::test]
async fn epay_poll_applies_a_lost_notification_once_and_the_late_notification_changes_nothing() {
    let (fake, api_url) = FakeEpay::start().await;
    let shop = Shop::open(&api_url, "poll_paid", 2).await;
    let (no, trade_no) = shop.pending_order().await;
    fake.known(&trade_no, NOTIFIED_GATEWAY_TRADE_NO, json!("9.90"), json!(1));

    // Too soon: the payer may still be paying and the notification on its way.
    shop.app.clock.advance_seconds(170);
    assert_eq!(shop.pass().await, polled(0, 0, 0, 0));
    assert_eq!(fake.queries_for(&trade_no), 0);

    // The notification was lost; the platform says paid: delivered.
    shop.app.clock.advance_seconds(11);
    assert_eq!(shop.pass().await, polled(1, 1, 0, 0));
    assert_eq!(shop.state(&no).await, "delivered");
    assert_eq!(shop.app.stock(shop.product).await, 1);
    let payment = shop.payment(&trade_no).await;
    assert_eq!(
        (payment.state, payment.gateway_trade_no.as_deref()),
        (kabao_store::PaymentState::Paid, Some(NOTIFIED_GATEWAY_TRADE_NO))
    );
    // Paid now, so never asked again.
    assert_eq!(shop.pass().await, polled(0, 0, 0, 0));
    assert_eq!(fake.queries_for(&trade_no), 1);

    // The platform's notification arrives after all: acknowledged, applied no second time.
    assert_eq!(epay_get(&shop.app, &epay_params(&trade_no, "9.90", KEY)).await.body, "success");
    assert_eq!(shop.app.stock(shop.product).await, 1, "no second key");
    assert_eq!(shop.state(&no).await, "delivered");
    let reveal = Request::post(format!("/api/v1/orders/{no}/keys/reveal"))
        .header("x-order-secret", GUEST)
        .body(Body::empty())
        .unwrap();
    let keys = shop.app.send(reveal).await.json();
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(1), "{keys}");
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn epay_poll_refuses_a_paid_answer_for_another_amount_and_changes_nothing() {
    let (fake, api_url) = FakeEpay::start().await;
    let shop = Shop::open(&api_url, "poll_money", 2).await;
    let (no, trade_no) = shop.pending_order().await;
    fake.known(&trade_no, "2026112800000001", json!("0.01"), json!(1));
    shop.app.clock.advance_seconds(181);

    assert_eq!(shop.pass().await, polled(1, 0, 1, 0));
    assert_eq!(shop.state(&no).await, "pending_payment");
    assert_eq!(shop.app.stock(shop.product).await, 2);
    assert_eq!(shop.payment(&trade_no).await.state, kabao_store::PaymentState::Pending);
    verify_books(&shop.app).await;

    // The refusal consumed nothing: the same trade, answered with the right amount (as a number, and the
    // status as a string, as some platforms write them), is applied.
    fake.known(&trade_no, "2026112800000001", json!(9.9), json!("1"));
    assert_eq!(shop.pass().await, polled(1, 1, 0, 0));
    assert_eq!(shop.state(&no).await, "delivered");
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn epay_poll_of_an_unpaid_trade_changes_nothing_and_the_order_still_expires() {
    let (fake, api_url) = FakeEpay::start().await;
    let shop = Shop::open(&api_url, "poll_unpaid", 2).await;
    let (no, trade_no) = shop.pending_order().await;
    fake.known(&trade_no, "2026112800000002", json!("9.90"), json!(0));
    shop.app.clock.advance_seconds(181);

    assert_eq!(shop.pass().await, polled(1, 0, 0, 0));
    assert_eq!(fake.queries_for(&trade_no), 1);
    assert_eq!(shop.state(&no).await, "pending_payment");
    assert_eq!(shop.payment(&trade_no).await.state, kabao_store::PaymentState::Pending);

    // Expired: its payment is still asked about (a payer may pay late; the late payment is refunded), and
    // while unpaid nothing changes.
    shop.app.clock.advance_seconds(30 * 60);
    let pass = kabao_app::jobs::run_once(&shop.app.state, "instance-test").await.unwrap();
    assert_eq!((pass.expired, pass.reconciled), (Some(1), Some(polled(1, 0, 0, 0))), "expired, asked again");
    assert_eq!(shop.state(&no).await, "expired");
    assert_eq!(fake.queries_for(&trade_no), 2);
    assert_eq!(shop.app.stock(shop.product).await, 2);
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn epay_poll_asks_with_our_pid_key_and_trade_no_only_about_payments_still_pending() {
    let (fake, api_url) = FakeEpay::start().await;
    let shop = Shop::open(&api_url, "poll_query", 2).await;
    let (notified_no, notified) = shop.pending_order().await;
    let (lost_no, lost) = shop.pending_order().await;
    assert_eq!(epay_get(&shop.app, &epay_params(&notified, "9.90", KEY)).await.body, "success");
    fake.known(&lost, "2026112800000003", json!("9.90"), json!(1));
    shop.app.clock.advance_seconds(181);

    assert_eq!(shop.pass().await, polled(1, 1, 0, 0));
    let queries = fake.queries.lock().unwrap().clone();
    let expected: Vec<(String, String)> =
        [("act", "order"), ("pid", "1001"), ("key", KEY), ("out_trade_no", lost.as_str())]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(queries, vec![("/api.php".to_string(), expected)], "one query, for the payment still pending");
    assert_eq!((shop.state(&notified_no).await, shop.state(&lost_no).await), ("delivered".into(), "delivered".into()));
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn epay_poll_survives_an_unreachable_gateway_and_asks_again_next_pass() {
    // An address nothing listens on, for now.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let shop = Shop::open(&format!("http://{addr}/api.php"), "poll_down", 4).await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(shop.pending_order().await);
    }
    shop.app.clock.advance_seconds(181);

    // Connection refused: logged, and after three in a row the pass stops asking; the other jobs still ran.
    assert_eq!(shop.pass().await, polled(3, 0, 0, 3));
    for (no, _) in &orders {
        assert_eq!(shop.state(no).await, "pending_payment");
    }

    // The platform comes back on that address, first behind a proxy's error page, then answering. Each pass
    // goes on where the last one stopped, so the payments not asked last time are asked first.
    let fake = FakeEpay::serve(tokio::net::TcpListener::bind(addr).await.unwrap());
    for (_, trade_no) in &orders {
        fake.answer(trade_no, Answer::Http(StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>"));
    }
    assert_eq!(shop.pass().await, polled(3, 0, 0, 3));
    assert_eq!(fake.queries_for(&orders[3].1), 1, "the one left out last pass is asked first");
    for (i, (_, trade_no)) in orders.iter().enumerate() {
        fake.known(trade_no, &format!("20261128000001{i:02}"), json!("9.90"), json!(1));
    }
    assert_eq!(shop.pass().await, polled(4, 4, 0, 0));
    let queries = fake.queries.lock().unwrap().clone();
    let mut last_pass: Vec<&str> = queries[3..]
        .iter()
        .flat_map(|(_, p)| p.iter().filter(|(k, _)| k == "out_trade_no").map(|(_, v)| v.as_str()))
        .collect();
    last_pass.sort_unstable();
    last_pass.dedup();
    assert_eq!((queries.len(), last_pass.len()), (3 + 4, 4), "each payment asked once in a pass");
    for (no, _) in &orders {
        assert_eq!(shop.state(no).await, "delivered");
    }
    verify_books(&shop.app).await;
}
