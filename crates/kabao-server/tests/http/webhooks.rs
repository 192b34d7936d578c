//! Merchant webhooks end to end: a real receiver on 127.0.0.1 gets signed deliveries, the README's Python
//! snippet verifies one, failures are retried up to the bound, a pending delivery survives a restart, each event
//! kind is written by its own flow, other merchants reach nothing, and private or plain-http URLs are refused.

use crate::app::{TestApp, T0};
use crate::claims::{bought, decide, file_claim, png, reveal, set_template};
use crate::orders::{buyer, top_up};
use axum::http::{HeaderMap, StatusCode};
use kabao_core::user::Role;
use kabao_core::webhook::{EventKind, MAX_ATTEMPTS};
use kabao_server::ServerConfig;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// One request the receiver got: (Kabao-Signature, Kabao-Event-Id, Kabao-Event, body).
type Got = (String, String, String, Vec<u8>);

/// A merchant's server on loopback: records every POST to `/hook` and answers with `status`.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    status: Arc<AtomicU16>,
    url: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver { got: Arc::default(), status: Arc::new(AtomicU16::new(200)), url };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    r.got.lock().unwrap().push((h("kabao-signature"), h("kabao-event-id"), h("kabao-event"), body.to_vec()));
    (StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap(), "received, thanks")
}

fn loopback_allowed() -> ServerConfig {
    ServerConfig { webhook_allow_http: true, webhook_allow_private: true, ..ServerConfig::default() }
}

async fn register(app: &TestApp, merchant: &str, url: &str, events: &[&str]) -> (i64, String) {
    let res =
        app.api("POST", "/api/v1/merchant/webhooks", Some(merchant), Some(json!({"url": url, "events": events}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    (res.json()["id"].as_i64().unwrap(), res.json()["secret"].as_str().unwrap().to_string())
}

async fn run_webhooks(app: &TestApp) -> kabao_app::webhooks::WebhookPass {
    kabao_app::webhooks::run(&app.state, "instance-test").await.unwrap()
}

async fn deliveries(app: &TestApp, merchant: &str, endpoint: i64) -> Vec<Value> {
    let res = app.api("GET", &format!("/api/v1/merchant/webhooks/{endpoint}/deliveries"), Some(merchant), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json().as_array().unwrap().clone()
}

/// The README's verification snippet (the ```python block that defines `verify_kabao_signature`).
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme.find("def verify_kabao_signature").expect("README has the webhook verification snippet");
    let block_start =
        readme[..start].rfind("```python\n").expect("the snippet is a python block") + "```python\n".len();
    let block_end = start + readme[start..].find("```").expect("the python block ends");
    readme[block_start..block_end].to_string()
}

/// Runs the README snippet with python3 on a delivery; true if it says the signature verifies.
fn python_verifies(secret: &str, header: &str, body: &[u8], now: i64) -> bool {
    let dir = std::env::temp_dir().join(format!("kabao-webhook-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "{}\nimport sys\nbody = open(sys.argv[3], 'rb').read()\n\
         print('verified' if verify_kabao_signature(sys.argv[1], sys.argv[2], body, now=int(sys.argv[4])) else 'refused')\n",
        readme_snippet()
    );
    std::fs::write(dir.join("verify.py"), script).unwrap();
    std::fs::write(dir.join("body.json"), body).unwrap();
    let out = std::process::Command::new("python3")
        .arg(dir.join("verify.py"))
        .args([secret, header, dir.join("body.json").to_str().unwrap(), &now.to_string()])
        .output()
        .expect("python3 runs");
    std::fs::remove_dir_all(&dir).ok();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success() && (said == "verified" || said == "refused"), "{said} {:?}", out);
    said == "verified"
}

#[tokio::test]
async fn sqlite_a_paid_order_is_delivered_signed_and_the_readme_snippet_verifies_it() {
    paid_order_story(TestApp::with_config(loopback_allowed()).await).await;
}

#[tokio::test]
async fn postgres_a_paid_order_is_delivered_signed_and_the_readme_snippet_verifies_it() {
    if let Some(app) = TestApp::postgres_with(loopback_allowed()).await {
        paid_order_story(app).await;
    }
}

async fn paid_order_story(app: TestApp) {
    let hook = Receiver::start().await;
    let (merchant, product) = app.merchant_with_product("hook_seller").await;
    app.import(&merchant, product, "HK-1\nHK-2\nHK-3\nHK-4\nHK-5\nHK-6\n").await;
    let (endpoint, secret) = register(&app, &merchant, &hook.url, &["order.paid", "stock.low"]).await;
    assert!(secret.starts_with("whsec_"));
    let listed = app.api("GET", "/api/v1/merchant/webhooks", Some(&merchant), None).await;
    assert!(!listed.body.contains(&secret), "the secret is shown once, never listed");

    let b = buyer(&app, "hook_buyer").await;
    top_up(&app, &b, 5_000).await;
    let order_no = bought(&app, &b, product, 2).await; // stock 6 → 4: below the default threshold of 5
    assert_eq!(run_webhooks(&app).await.delivered, 2);
    let got = hook.got();
    assert_eq!(got.iter().map(|g| g.2.as_str()).collect::<Vec<_>>(), vec!["order.paid", "stock.low"]);
    let (header, event_id, _, body) = got[0].clone();
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((payload["id"].as_str(), payload["type"].as_str()), (Some(event_id.as_str()), Some("order.paid")));
    assert_eq!(
        (payload["data"]["order_no"].as_str(), payload["data"]["quantity"].as_i64()),
        (Some(order_no.as_str()), Some(2))
    );
    let stock: Value = serde_json::from_slice(&got[1].3).unwrap();
    assert_eq!((stock["data"]["stock"].as_i64(), stock["data"]["threshold"].as_i64()), (Some(4), Some(5)));

    let now = app.state.now().millis() / 1000;
    assert_eq!(kabao_core::signature::verify(secret.as_bytes(), &header, &body, now), Ok(()));
    assert!(python_verifies(&secret, &header, &body, now), "the README snippet verifies a real delivery");
    let mut forged = body.clone();
    forged.extend_from_slice(b" ");
    assert!(!python_verifies(&secret, &header, &forged, now), "and refuses a changed body");
    assert!(!python_verifies("whsec_other", &header, &body, now), "or another secret");
    assert!(!python_verifies(&secret, &header, &body, now + 301), "or a replay past the window");

    let listed = deliveries(&app, &merchant, endpoint).await;
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[1]["state"].as_str(), listed[1]["last_status"].as_i64()), (Some("delivered"), Some(200)));
    assert_eq!(listed[1]["last_response"], "received, thanks");
    assert_eq!(run_webhooks(&app).await.delivered, 0, "delivered once");

    // Sending again keeps the event id, so the receiver can tell it has seen it.
    let again = listed[1]["id"].as_i64().unwrap();
    let res =
        app.api("POST", &format!("/api/v1/merchant/webhook-deliveries/{again}/resend"), Some(&merchant), None).await;
    assert_eq!((res.status, res.json()["state"].as_str()), (StatusCode::OK, Some("pending")), "{}", res.body);
    assert_eq!(run_webhooks(&app).await.delivered, 1);
    assert_eq!(hook.got()[2].1, event_id);
}

#[tokio::test]
async fn sqlite_failed_attempts_back_off_and_stop_at_the_bound() {
    backoff_story(TestApp::with_config(loopback_allowed()).await).await;
}

#[tokio::test]
async fn postgres_failed_attempts_back_off_and_stop_at_the_bound() {
    if let Some(app) = TestApp::postgres_with(loopback_allowed()).await {
        backoff_story(app).await;
    }
}

async fn backoff_story(app: TestApp) {
    let hook = Receiver::start().await;
    hook.status.store(503, Ordering::SeqCst);
    let (merchant, product) = app.merchant_with_product("flaky_seller").await;
    app.import(&merchant, product, "FK-1\nFK-2\nFK-3\nFK-4\nFK-5\nFK-6\nFK-7\n").await;
    let (endpoint, _) = register(&app, &merchant, &hook.url, &["order.paid"]).await;
    let b = buyer(&app, "flaky_buyer").await;
    top_up(&app, &b, 5_000).await;
    bought(&app, &b, product, 1).await;

    let mut waits = Vec::new();
    for attempt in 1..=MAX_ATTEMPTS {
        let pass = run_webhooks(&app).await;
        assert_eq!(hook.got().len(), attempt as usize, "one attempt per due pass");
        let d = deliveries(&app, &merchant, endpoint).await[0].clone();
        assert_eq!((d["attempts"].as_i64(), d["last_status"].as_i64()), (Some(i64::from(attempt)), Some(503)));
        if attempt < MAX_ATTEMPTS {
            assert_eq!((pass.retrying, d["state"].as_str()), (1, Some("pending")));
            let wait = (d["next_attempt_at"].as_i64().unwrap() - app.state.now().millis()) / 1000;
            assert_eq!(run_webhooks(&app).await.retrying, 0, "not before its time");
            waits.push(wait);
            app.clock.advance_seconds(wait);
        } else {
            assert_eq!((pass.failed, d["state"].as_str()), (1, Some("failed")));
        }
    }
    assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1920], "exponential backoff");
    app.clock.advance_seconds(30 * 24 * 3600);
    run_webhooks(&app).await;
    assert_eq!(hook.got().len(), MAX_ATTEMPTS as usize, "no attempt after the bound");
}

#[tokio::test]
async fn a_pending_delivery_survives_a_restart() {
    use kabao_core::vault::MasterKey;
    let path = std::env::temp_dir().join(format!("kabao-webhook-restart-{:016x}.db", rand::random::<u64>()));
    let hook = Receiver::start().await;
    let config = loopback_allowed();
    let clock = Arc::new(kabao_app::ManualClock::new(T0));
    let start = |with_transport: bool| {
        let (path, config, clock) = (path.clone(), config.clone(), clock.clone());
        async move {
            let store = kabao_store::open(path.to_str().unwrap()).await.unwrap();
            let keyring =
                kabao_app::keyring::load_or_create(&*store, &MasterKey::from_bytes([3; 32]), T0).await.unwrap();
            let app = kabao_app::App::new(store, Arc::new(keyring), config, clock);
            if with_transport {
                app.with_webhook_transport(Arc::new(kabao_rails::WebhookHttp))
            } else {
                app
            }
        }
    };
    let first = start(false).await;
    let m = kabao_app::accounts::create_user(&*first.store, "restart_m", "merchant-pass-1", Role::Merchant, None, T0)
        .await
        .unwrap();
    let shop = kabao_app::shops::open_shop(&first, &m, "重启店", "").await.unwrap();
    let (endpoint, secret) = kabao_app::webhooks::create_endpoint(&first, &m, &hook.url, ["order.paid"]).await.unwrap();
    let mut tx = first.store.begin(kabao_store::TxMode::Write).await.unwrap();
    kabao_app::webhooks::enqueue(&mut *tx, shop.id, EventKind::OrderPaid, None, json!({"order_no": "X"}), T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(kabao_app::webhooks::run(&first, "first").await.unwrap().delivered, 0, "no transport: it waits");
    first.store.close().await;
    drop(first);

    let second = start(true).await;
    assert_eq!(kabao_app::webhooks::run(&second, "second").await.unwrap().delivered, 1);
    let got = hook.got();
    assert_eq!(got.len(), 1);
    assert_eq!(kabao_core::signature::verify(secret.as_bytes(), &got[0].0, &got[0].3, T0.millis() / 1000), Ok(()));
    let listed = kabao_app::webhooks::deliveries(&second, &m, endpoint.id, 0).await.unwrap();
    assert_eq!(listed[0].state, kabao_store::DeliveryState::Delivered);
    second.store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
    }
}

/// Kinds written so far for the shop's endpoint, oldest first.
async fn kinds(app: &TestApp, merchant: &str, endpoint: i64) -> Vec<String> {
    let mut k: Vec<String> =
        deliveries(app, merchant, endpoint).await.iter().map(|d| d["event"].as_str().unwrap().to_string()).collect();
    k.reverse();
    k
}

#[tokio::test]
async fn sqlite_each_event_kind_is_written_by_its_flow() {
    event_kinds_story(TestApp::with_config(loopback_allowed()).await).await;
}

#[tokio::test]
async fn postgres_each_event_kind_is_written_by_its_flow() {
    if let Some(app) = TestApp::postgres_with(loopback_allowed()).await {
        event_kinds_story(app).await;
    }
}

async fn event_kinds_story(app: TestApp) {
    let hook = Receiver::start().await;
    let (merchant, product) = app.merchant_with_product("all_events").await;
    app.import(&merchant, product, "EV-1\nEV-2\n").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    let all: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    let (endpoint, _) = register(&app, &merchant, &hook.url, &all).await;
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/products/{product}/stock-alert"),
            Some(&merchant),
            Some(json!({"threshold": 2})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);

    let b = buyer(&app, "all_buyer").await;
    top_up(&app, &b, 5_000).await;
    let no = bought(&app, &b, product, 1).await; // stock 2 → 1, below 2
    assert_eq!(kinds(&app, &merchant, endpoint).await, vec!["order.paid", "stock.low"]);
    reveal(&app, &b, &no).await;
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024")];
    let res = file_claim(&app, (Some(&b), None), &path, &fields, &[("s.png", &png("s"))], None).await;
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    assert_eq!(kinds(&app, &merchant, endpoint).await[2], "claim.opened");

    // Two hours before the merchant's deadline (24 h), the job writes the reminder, once.
    app.clock.advance_seconds(21 * 3600);
    run_webhooks(&app).await;
    assert_eq!(kinds(&app, &merchant, endpoint).await.len(), 3, "not yet");
    app.clock.advance_seconds(3600);
    assert_eq!(run_webhooks(&app).await.deadline_notices, 1);
    assert_eq!(run_webhooks(&app).await.deadline_notices, 0, "once per deadline");
    assert_eq!(kinds(&app, &merchant, endpoint).await[3], "claim.deadline_soon");

    let res = decide(&app, &merchant, &claim_no, json!({"decision": "reject", "reason": "售出前已测试可用"})).await;
    assert_eq!(res.json()["state"], "rejected", "{}", res.body);
    let res =
        app.api("POST", &format!("{path}/{claim_no}/escalate"), Some(&b), Some(json!({"statement": "卡密无效"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(kinds(&app, &merchant, endpoint).await[4], "dispute.opened");
    kabao_app::accounts::create_user(&*app.state.store, "hook_arbiter", "arbiter-pass-1", Role::Arbiter, None, T0)
        .await
        .unwrap();
    let arbiter = app.token("hook_arbiter", "arbiter-pass-1").await;
    let ruling = json!({"ruling": "force_reissue", "reason": "验货无效"});
    let res =
        app.api("POST", &format!("/api/v1/arbiter/disputes/{claim_no}/ruling"), Some(&arbiter), Some(ruling)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // The forced re-issue took the last key: stock 1 → 0 stays below the threshold, so no second stock.low.
    assert_eq!(
        kinds(&app, &merchant, endpoint).await[5..],
        ["dispute.decided".to_string()],
        "{:?}",
        kinds(&app, &merchant, endpoint).await
    );
    let decided = deliveries(&app, &merchant, endpoint).await[0].clone();
    let body: Value = serde_json::from_str(decided["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["data"]["ruling"], "force_reissue");
}

#[tokio::test]
async fn a_reissue_that_takes_the_stock_below_the_threshold_sends_stock_low() {
    let app = TestApp::with_config(loopback_allowed()).await;
    let hook = Receiver::start().await;
    let (merchant, product) = app.merchant_with_product("reissue_low").await;
    app.import(&merchant, product, "RL-1\nRL-2\nRL-3\n").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    let (endpoint, _) = register(&app, &merchant, &hook.url, &["stock.low"]).await;
    app.api(
        "PUT",
        &format!("/api/v1/merchant/products/{product}/stock-alert"),
        Some(&merchant),
        Some(json!({"threshold": 2})),
    )
    .await;
    let b = buyer(&app, "reissue_buyer").await;
    top_up(&app, &b, 5_000).await;
    let no = bought(&app, &b, product, 1).await; // 3 → 2: not below 2
    assert!(kinds(&app, &merchant, endpoint).await.is_empty());
    reveal(&app, &b, &no).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024")];
    let path = format!("/api/v1/orders/{no}/claims");
    let res = file_claim(&app, (Some(&b), None), &path, &fields, &[("s.png", &png("s"))], None).await;
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = decide(&app, &merchant, &claim_no, json!({"decision": "approve"})).await;
    assert_eq!(res.json()["state"], "reissued", "{}", res.body);
    assert_eq!(kinds(&app, &merchant, endpoint).await, vec!["stock.low"], "the re-issue took it to 1");
}

#[tokio::test]
async fn another_merchant_cannot_see_remove_or_resend_your_webhooks() {
    let app = TestApp::with_config(loopback_allowed()).await;
    let hook = Receiver::start().await;
    let (merchant, product) = app.merchant_with_product("owner_m").await;
    let (other, other_product) = app.merchant_with_product("nosy_m").await;
    app.import(&merchant, product, "OW-1\nOW-2\n").await;
    let (endpoint, _) = register(&app, &merchant, &hook.url, &["order.paid"]).await;
    let b = buyer(&app, "owner_buyer").await;
    top_up(&app, &b, 5_000).await;
    bought(&app, &b, product, 1).await;
    let delivery = deliveries(&app, &merchant, endpoint).await[0]["id"].as_i64().unwrap();

    let theirs = |method: &'static str, path: String, body: Option<Value>| {
        let other = other.clone();
        let app = &app;
        async move { app.api(method, &path, Some(&other), body).await }
    };
    let res = theirs("GET", format!("/api/v1/merchant/webhooks/{endpoint}/deliveries"), None).await;
    assert_eq!((res.status, res.json()["error"].as_str()), (StatusCode::NOT_FOUND, Some("webhook.endpoint_not_found")));
    let res = theirs("POST", format!("/api/v1/merchant/webhook-deliveries/{delivery}/resend"), None).await;
    assert_eq!((res.status, res.json()["error"].as_str()), (StatusCode::NOT_FOUND, Some("webhook.delivery_not_found")));
    let res = theirs("DELETE", format!("/api/v1/merchant/webhooks/{endpoint}"), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res =
        theirs("PUT", format!("/api/v1/merchant/products/{product}/stock-alert"), Some(json!({"threshold": 1}))).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "not another shop's product");
    let mine = theirs("GET", "/api/v1/merchant/webhooks".into(), None).await;
    assert_eq!(mine.json(), json!([]), "their list is their own");
    let _ = other_product;
    // The buyer is not a merchant at all.
    let res = app.api("GET", &format!("/api/v1/merchant/webhooks/{endpoint}/deliveries"), Some(&b), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // The owner still can; removing cancels what is pending and closes re-sending.
    assert_eq!(deliveries(&app, &merchant, endpoint).await.len(), 1);
    let res = app.api("DELETE", &format!("/api/v1/merchant/webhooks/{endpoint}"), Some(&merchant), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res =
        app.api("POST", &format!("/api/v1/merchant/webhook-deliveries/{delivery}/resend"), Some(&merchant), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(run_webhooks(&app).await.delivered, 0);
    assert!(hook.got().is_empty());
}

#[tokio::test]
async fn private_loopback_and_plain_http_endpoints_are_refused_by_default() {
    let app = TestApp::new().await;
    let (merchant, _) = app.merchant_with_product("ssrf_m").await;
    let refused = |url: &'static str| {
        let app = &app;
        let merchant = merchant.clone();
        async move {
            let res = app
                .api(
                    "POST",
                    "/api/v1/merchant/webhooks",
                    Some(&merchant),
                    Some(json!({"url": url, "events": ["order.paid"]})),
                )
                .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{url}: {}", res.body);
            res.json()["error"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(refused("http://127.0.0.1:8080/hook").await, "webhook.plain_http");
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
    ] {
        assert_eq!(refused(url).await, "webhook.private_address", "{url}");
    }
    assert_eq!(refused("https://user:pw@example.com/").await, "webhook.bad_url");
    let res = app
        .api(
            "POST",
            "/api/v1/merchant/webhooks",
            Some(&merchant),
            Some(json!({"url": "https://example.com/", "events": ["order.refunded"]})),
        )
        .await;
    assert_eq!((res.status, res.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("events")));

    // Allowing http alone does not open loopback; and the sender refuses a private address even for an
    // endpoint that got in (checked again at send time, after resolving).
    let app = TestApp::with_config(ServerConfig { webhook_allow_http: true, ..ServerConfig::default() }).await;
    let (merchant, _) = app.merchant_with_product("ssrf_m2").await;
    let res = app
        .api(
            "POST",
            "/api/v1/merchant/webhooks",
            Some(&merchant),
            Some(json!({"url": "http://127.0.0.1:9/", "events": ["order.paid"]})),
        )
        .await;
    assert_eq!(res.json()["error"], "webhook.private_address", "{}", res.body);
    let strict = kabao_core::webhook::UrlPolicy::default();
    let req = kabao_app::webhooks::WebhookRequest {
        url: "https://127.0.0.1/x",
        headers: vec![],
        body: b"{}",
        policy: strict,
    };
    use kabao_app::webhooks::WebhookTransport;
    let sent = kabao_rails::WebhookHttp.post(&req).await;
    assert!(matches!(sent, Err(kabao_app::webhooks::TransportError::Refused(_))), "{sent:?}");
}

#[tokio::test]
async fn the_console_registers_lists_deliveries_with_their_answers_and_sends_again() {
    let app = TestApp::with_config(loopback_allowed()).await;
    let hook = Receiver::start().await;
    hook.status.store(500, Ordering::SeqCst);
    let (merchant, product) = app.merchant_with_product("console_hook").await;
    app.import(&merchant, product, "CH-1\nCH-2\nCH-3\nCH-4\nCH-5\nCH-6\nCH-7\n").await;
    let mut m = app.browser();
    m.login("console_hook", "merchant-pass-1").await;
    let page = m.get("/console/webhooks").await;
    assert!(page.body.contains("id=\"no-webhooks\""), "{}", page.body);
    let csrf = m.csrf();
    let fields = [("url", hook.url.as_str()), ("events", "order.paid"), ("events", "claim.opened")];
    assert_eq!(m.post("/console/webhooks", &fields, None).await.status, StatusCode::FORBIDDEN, "CSRF as every form");
    let created = m.post("/console/webhooks", &fields, Some(&csrf)).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains("id=\"webhook-secret\">whsec_"), "the secret is shown once");
    let bad = m.post("/console/webhooks", &[("url", "ftp://x"), ("events", "order.paid")], Some(&csrf)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("地址无效"), "{}", bad.body);

    let b = buyer(&app, "console_buyer").await;
    top_up(&app, &b, 5_000).await;
    bought(&app, &b, product, 1).await;
    run_webhooks(&app).await;
    let page = m.get("/console/webhooks").await;
    assert!(!page.body.contains("whsec_"), "never shown again");
    assert!(page.body.contains("HTTP 500 received, thanks") && page.body.contains("重新发送"), "{}", page.body);
    let delivery = {
        let endpoints = app.api("GET", "/api/v1/merchant/webhooks", Some(&merchant), None).await.json();
        let id = endpoints[0]["id"].as_i64().unwrap();
        assert_eq!(endpoints[0]["events"], json!(["order.paid", "claim.opened"]));
        deliveries(&app, &merchant, id).await[0]["id"].as_i64().unwrap()
    };
    hook.status.store(200, Ordering::SeqCst);
    let res = m.post(&format!("/console/webhook-deliveries/{delivery}/resend"), &[], Some(&csrf)).await;
    assert_eq!(res.location(), "/console/webhooks");
    assert_eq!(run_webhooks(&app).await.delivered, 1, "sent again at once, without waiting for the backoff");
    assert!(m.get("/console/webhooks").await.body.contains("HTTP 200"));
}

/// Gives a merchant an address, verified or not.
async fn merchant_address(app: &TestApp, username: &str, email: &str, verified: bool) {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    let user = tx.user_by_username(username).await.unwrap().unwrap();
    tx.set_user_email(user.id, Some(email)).await.unwrap();
    if verified {
        tx.set_email_verified(user.id, email, T0).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn mails_to(app: &TestApp, to: &str) -> Vec<kabao_app::mailer::Mail> {
    app.mail.sent.lock().unwrap().iter().filter(|m| m.to == to).cloned().collect()
}

async fn low_stock_mail_story(app: TestApp) {
    // No webhook endpoint anywhere: the mail does not depend on one.
    let (merchant, product) = app.merchant_with_product("low_mail").await;
    merchant_address(&app, "low_mail", "low_mail@example.com", true).await;
    app.import(&merchant, product, "LM-1\nLM-2\nLM-3\n").await;

    // The console shows the default threshold and sets another, with CSRF and the API's rule.
    let mut m = app.browser();
    m.login("low_mail", "merchant-pass-1").await;
    let page = m.get(&format!("/console/products/{product}")).await;
    assert!(page.body.contains("id=\"stock-alert-form\""), "{}", page.body);
    assert!(page.body.contains("name=\"threshold\" inputmode=\"numeric\" value=\"5\""), "the default is shown");
    let path = format!("/console/products/{product}/stock-alert");
    let forged = m.post(&path, &[("threshold", "2")], None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = m.csrf();
    let bad = m.post(&path, &[("threshold", "很多")], Some(&csrf)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("库存提醒阈值须在 0 到 1000000 之间"), "{}", bad.body);
    let too_big = m.post(&path, &[("threshold", "1000001")], Some(&csrf)).await;
    assert_eq!(too_big.status, StatusCode::BAD_REQUEST);
    let set = m.post(&path, &[("threshold", "2")], Some(&csrf)).await;
    assert_eq!((set.status, set.location()), (StatusCode::SEE_OTHER, path.trim_end_matches("/stock-alert")));
    let page = m.get(&format!("/console/products/{product}")).await;
    assert!(page.body.contains("name=\"threshold\" inputmode=\"numeric\" value=\"2\""), "the current value");
    crate::hardened::assert_no_inline_script(&page.body, "the product console with its stock alert form");

    // Another merchant cannot set it on this product, by page or API.
    let (other, _) = app.merchant_with_product("low_mail_nosy").await;
    let mut o = app.browser();
    o.login("low_mail_nosy", "merchant-pass-1").await;
    o.get("/console").await;
    let csrf_o = o.csrf();
    assert_eq!(o.post(&path, &[("threshold", "0")], Some(&csrf_o)).await.status, StatusCode::NOT_FOUND);
    let api = format!("/api/v1/merchant/products/{product}/stock-alert");
    assert_eq!(app.api("PUT", &api, Some(&other), Some(json!({"threshold": 0}))).await.status, StatusCode::NOT_FOUND);

    let b = buyer(&app, "low_mail_buyer").await;
    top_up(&app, &b, 20_000).await;
    bought(&app, &b, product, 1).await; // 3 → 2: not below 2
    assert_eq!(run_webhooks(&app).await.stock_mails, 0);
    bought(&app, &b, product, 1).await; // 2 → 1: crosses
    assert_eq!(run_webhooks(&app).await.stock_mails, 1);
    assert_eq!(run_webhooks(&app).await.stock_mails, 0, "sent once");
    let sent = mails_to(&app, "low_mail@example.com");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].subject.contains("点卡 10 元") && sent[0].subject.contains("Low stock"), "{}", sent[0].subject);
    assert!(sent[0].text.contains(&format!("http://localhost/console/products/{product}")), "{}", sent[0].text);
    assert!(sent[0].text.contains("库存已降到 1 件") && sent[0].text.contains("down to 1 in stock"));
    bought(&app, &b, product, 1).await; // 1 → 0: still below, no new alert
    assert_eq!(run_webhooks(&app).await.stock_mails, 0);
    assert_eq!(mails_to(&app, "low_mail@example.com").len(), 1, "once per crossing");

    // A restock re-arms it; the next crossing mails again.
    app.import(&merchant, product, "LM-4\nLM-5\nLM-6\n").await;
    bought(&app, &b, product, 2).await; // 3 → 1
    assert_eq!(run_webhooks(&app).await.stock_mails, 1);
    let sent = mails_to(&app, "low_mail@example.com");
    assert_eq!(sent.len(), 2);
    assert!(sent[1].text.contains("库存已降到 1 件"));

    // An address its owner never proved gets nothing.
    let (unproven, other_product) = app.merchant_with_product("low_mail_unproven").await;
    merchant_address(&app, "low_mail_unproven", "unproven@example.com", false).await;
    app.import(&unproven, other_product, "UP-1\nUP-2\nUP-3\nUP-4\nUP-5\n").await;
    bought(&app, &b, other_product, 1).await; // 5 → 4: below the default 5
    assert_eq!(run_webhooks(&app).await.stock_mails, 0);
    assert!(mails_to(&app, "unproven@example.com").is_empty());
}

#[tokio::test]
async fn sqlite_a_sale_crossing_the_threshold_mails_the_merchant_once_per_crossing() {
    low_stock_mail_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_a_sale_crossing_the_threshold_mails_the_merchant_once_per_crossing() {
    if let Some(app) = TestApp::postgres().await {
        low_stock_mail_story(app).await;
    }
}
