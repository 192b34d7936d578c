//! WeChat Pay interop: Kabao against a fake WeChat Pay API v3 written on the wechatpayv3 SDK
//! (`tests/interop/wechatpay_gateway.py`, run by `KABAO_INTEROP_PYTHON`). The fake checks Kabao's request
//! signatures with the SDK's `rsa_verify`, signs its answers and notifications with the SDK's `rsa_sign`, and has
//! the SDK's own client accept every notification it hands the test. Keys are generated per run.

use crate::app::{TestApp, T0};
use crate::orders::{order, verify_books};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use kabao_app::gateways::wechatpay::{WechatPayConfig, WECHATPAY};
use kabao_app::gateways::{Gateway, HttpPort, HttpRequest, RefundOutcome, RefundRequest, TradeState};
use kabao_core::wechatpay::{ApiV3Key, MerchantKey, PlatformKey};
use kabao_core::Money;
use serde_json::{json, Value};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const GUEST: &str = "wx-guest@example.com";
const PAYER_IP: &str = "203.0.113.7";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";
const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
/// Gateway calls give up after this; the fake's slow refund outwaits it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The fake WeChat Pay, running; stopped when dropped.
struct Fake {
    child: Child,
    info: Value,
    base: String,
    http: kabao_rails::GatewayHttp,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fake {
    /// Starts the fake, or `None` (after saying so) without `KABAO_INTEROP_PYTHON`.
    fn start() -> Option<Fake> {
        let Some(python) = std::env::var("KABAO_INTEROP_PYTHON").ok().filter(|p| !p.is_empty()) else {
            assert!(
                std::env::var("KABAO_REQUIRE_INTEROP").as_deref() != Ok("1"),
                "KABAO_REQUIRE_INTEROP=1 but KABAO_INTEROP_PYTHON is unset"
            );
            eprintln!("skipped: KABAO_INTEROP_PYTHON not set");
            return None;
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/interop/wechatpay_gateway.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the fake WeChat Pay starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("fake's first line ({e}): {line}"));
        let base = format!("http://127.0.0.1:{}", info["port"]);
        Some(Fake { child, info, base, http: kabao_rails::GatewayHttp::default() })
    }

    fn s(&self, name: &str) -> String {
        self.info[name].as_str().unwrap_or_else(|| panic!("fake info {name}")).to_string()
    }

    /// Kabao's WeChat Pay settings for this fake: its platform key as the WeChat Pay public key, or (`cert`) as
    /// a platform certificate.
    fn config(&self, cert: bool) -> WechatPayConfig {
        let (key, serial) = if cert {
            (self.s("platform_cert"), self.s("platform_cert_serial"))
        } else {
            (self.s("platform_public_key"), self.s("platform_key_id"))
        };
        let platform_public_key = PlatformKey::from_pem(&key).unwrap();
        platform_public_key.check_serial(&serial).unwrap();
        WechatPayConfig {
            mch_id: self.s("mch_id"),
            app_id: self.s("app_id"),
            mch_serial_no: self.s("merchant_serial"),
            mch_private_key: MerchantKey::from_pem(&self.s("merchant_private_key")).unwrap(),
            api_v3_key: ApiV3Key::new(&self.s("api_v3_key")).unwrap(),
            platform_public_key,
            platform_serial: serial,
            api_url: self.base.clone(),
            public_url: "https://kabao.example".into(),
        }
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let request = HttpRequest {
            method: if body.is_null() { "GET" } else { "POST" },
            url: format!("{}{path}", self.base),
            headers: vec![("content-type".into(), "application/json".into())],
            body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
        };
        let answer = self.http.send(request).await.unwrap();
        serde_json::from_slice(&answer.body).unwrap()
    }

    async fn recorded(&self) -> Value {
        self.control("/control/state", Value::Null).await
    }

    /// A notification for `trade_no`, signed and encrypted on the SDK side (and accepted by the SDK's client),
    /// with `overrides` (timestamp, total, mchid, appid…); the timestamp defaults to the app's clock.
    async fn notify(&self, trade_no: &str, overrides: Value) -> (Vec<(String, String)>, String) {
        let mut req = json!({"out_trade_no": trade_no, "timestamp": T0.millis() / 1000});
        for (k, v) in overrides.as_object().cloned().unwrap_or_default() {
            req[k] = v;
        }
        let n = self.control("/control/notify", req).await;
        assert_eq!(n["sdk_accepts"], true, "the SDK's own client accepts the notification: {n}");
        let headers =
            n["headers"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()));
        (headers.collect(), n["body"].as_str().unwrap().to_string())
    }
}

/// An app with WeChat Pay at the fake and a shop selling `keys` keys: (app, product id).
async fn shop(fake: &Fake, cert: bool, keys: usize) -> (TestApp, i64) {
    let config = kabao_server::ServerConfig {
        wechatpay: Some(fake.config(cert)),
        trust_proxy: true,
        ..kabao_server::ServerConfig::default()
    };
    let app =
        TestApp::production_with_http(config, Arc::new(kabao_rails::GatewayHttp::with_timeout(CLIENT_TIMEOUT))).await;
    let (merchant, product) = app.merchant_with_product("sdk_seller").await;
    let file: String = (0..keys).map(|i| format!("WX-KEY-{i}\n")).collect();
    assert_eq!(app.import(&merchant, product, &file).await.status, StatusCode::OK);
    (app, product)
}

/// A guest order paid (to be) through WeChat Pay from `user_agent`: (order number, the start's JSON).
async fn start(app: &TestApp, product: i64, user_agent: &str) -> (String, Value) {
    let body = json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": GUEST});
    let created = order(app, None, body, None).await;
    let no = created.json()["order_no"].as_str().unwrap_or_else(|| panic!("{}", created.body)).to_string();
    let req = Request::post(format!("/api/v1/orders/{no}/pay/wechatpay"))
        .header("x-order-secret", GUEST)
        .header("user-agent", user_agent)
        .header("x-forwarded-for", PAYER_IP)
        .body(Body::empty())
        .unwrap();
    let started = app.send(req).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    (no, started.json())
}

async fn post_notify(app: &TestApp, headers: &[(String, String)], body: &[u8]) -> crate::app::Res {
    let mut req = Request::post("/api/v1/gateways/wechatpay/notify").header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    app.send(req.body(Body::from(body.to_vec())).unwrap()).await
}

async fn order_state(app: &TestApp, no: &str) -> String {
    let req = Request::get(format!("/api/v1/orders/{no}")).header("x-order-secret", GUEST).body(Body::empty()).unwrap();
    app.send(req).await.json()["state"].as_str().unwrap_or_default().to_string()
}

fn wechatpay(app: &TestApp) -> Arc<dyn Gateway> {
    app.state.gateways.get(WECHATPAY).expect("WeChat Pay is configured").clone()
}

#[tokio::test]
async fn wechatpay_native_and_h5_requests_are_signed_as_the_sdk_verifies() {
    let Some(fake) = Fake::start() else { return };
    let (app, product) = shop(&fake, false, 2).await;
    let (desktop_no, native) = start(&app, product, DESKTOP).await;
    let trade_no = native["trade_no"].as_str().unwrap();
    assert_eq!(native["qr_code"], format!("weixin://wxpay/bizpayurl?pr={trade_no}"));
    assert_eq!(native["pay_url"], format!("/o/{desktop_no}"));
    let (phone_no, h5) = start(&app, product, PHONE).await;
    let pay_url = h5["pay_url"].as_str().unwrap();
    assert!(pay_url.starts_with("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id="), "{pay_url}");
    assert!(pay_url.ends_with(&format!("&redirect_url=%2Fo%2F{phone_no}")), "back to our order page: {pay_url}");
    assert!(h5.get("qr_code").is_none());

    let recorded = fake.recorded().await;
    assert_eq!(recorded["bad_signatures"], 0, "{recorded}");
    let requests = recorded["requests"].as_array().unwrap();
    let paths: Vec<&str> = requests.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/v3/pay/transactions/native", "/v3/pay/transactions/h5"]);
    assert!(requests.iter().all(|r| r["signature_ok"] == true && r["wechatpay_serial"] == fake.s("platform_key_id")));
    let native_body: Value = serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(native_body["amount"], json!({"total": native["amount_fen"], "currency": "CNY"}));
    assert_eq!(native_body["notify_url"], "https://kabao.example/api/v1/gateways/wechatpay/notify");
    assert_eq!(
        (native_body["mchid"].as_str(), native_body["appid"].as_str()),
        (Some("1900000109"), Some("wxd678efh567hg6787"))
    );
    let h5_body: Value = serde_json::from_str(requests[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(h5_body["scene_info"], json!({"payer_client_ip": PAYER_IP, "h5_info": {"type": "Wap"}}));
}

#[tokio::test]
async fn wechatpay_notify_from_the_sdk_pays_once_and_tampering_is_refused() {
    let Some(fake) = Fake::start() else { return };
    let (app, product) = shop(&fake, false, 5).await;
    let (a, started) = start(&app, product, DESKTOP).await;
    let trade_a = started["trade_no"].as_str().unwrap().to_string();
    let (b, started_b) = start(&app, product, DESKTOP).await;
    let trade_b = started_b["trade_no"].as_str().unwrap().to_string();
    let stock = app.stock(product).await;

    // Tampered: one byte of the body changed (the signature no longer matches).
    let (headers, body) = fake.notify(&trade_a, json!({})).await;
    let mut tampered = body.clone().into_bytes();
    let at = body.find("TRANSACTION").unwrap();
    tampered[at] = b't';
    let refused = post_notify(&app, &headers, &tampered).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", refused.body);
    assert_eq!(refused.json()["code"], "FAIL");
    assert_eq!(order_state(&app, &a).await, "pending_payment");

    // Signed and encrypted correctly, but not what Kabao asked for: refused, nothing paid.
    for overrides in [
        json!({"total": started["amount_fen"].as_i64().unwrap() + 1}),
        json!({"mchid": "1900000999"}),
        json!({"appid": "wx0000000000000000"}),
        json!({"timestamp": T0.millis() / 1000 - 301}),
        json!({"trade_state": "NOTPAY"}),
    ] {
        let (headers, body) = fake.notify(&trade_a, overrides.clone()).await;
        let res = post_notify(&app, &headers, body.as_bytes()).await;
        assert_eq!(
            (res.status, res.json()["code"].as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, Some("FAIL")),
            "{overrides}"
        );
        assert_eq!(order_state(&app, &a).await, "pending_payment", "{overrides}");
    }

    // The real one pays A, once; WeChat Pay's repeat of it is acknowledged and changes nothing.
    let (headers, body) = fake.notify(&trade_a, json!({})).await;
    for _ in 0..2 {
        let ok = post_notify(&app, &headers, body.as_bytes()).await;
        assert_eq!((ok.status, ok.body.as_str()), (StatusCode::OK, r#"{"code":"SUCCESS"}"#));
        assert_eq!(ok.headers["content-type"], "application/json");
    }
    assert_ne!(order_state(&app, &a).await, "pending_payment");
    assert_eq!(app.stock(product).await, stock - 1, "one payment, one key");
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let paid = tx.payment_by_trade_no(&trade_a).await.unwrap().unwrap();
    drop(tx);
    assert!(paid.gateway_trade_no.as_deref().is_some_and(|n| n.starts_with("42000")), "{paid:?}");

    // A's notification replayed, or its resource carried into B's signed envelope: B stays unpaid.
    let replay = post_notify(&app, &headers, body.as_bytes()).await;
    assert_eq!(replay.status, StatusCode::OK);
    let (headers_b, body_b) = fake.notify(&trade_b, json!({})).await;
    let envelope_a: Value = serde_json::from_str(&body).unwrap();
    let mut envelope_b: Value = serde_json::from_str(&body_b).unwrap();
    envelope_b["resource"] = envelope_a["resource"].clone();
    let spliced = post_notify(&app, &headers_b, envelope_b.to_string().as_bytes()).await;
    assert_eq!(spliced.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(order_state(&app, &b).await, "pending_payment");
    assert_eq!(app.stock(product).await, stock - 1);
    verify_books(&app).await;
}

#[tokio::test]
async fn wechatpay_query_finds_a_paid_trade_whose_notify_was_lost() {
    let Some(fake) = Fake::start() else { return };
    // The platform key given as a certificate: answers name the certificate's serial.
    fake.control("/control/mode", json!({"serial": "cert"})).await;
    let (app, product) = shop(&fake, true, 2).await;
    let (_, started) = start(&app, product, DESKTOP).await;
    let trade_no = started["trade_no"].as_str().unwrap();
    let gateway = wechatpay(&app);
    assert_eq!(gateway.query(trade_no).await.unwrap(), TradeState::Unpaid);
    fake.control("/control/pay", json!({"out_trade_no": trade_no})).await;
    match gateway.query(trade_no).await.unwrap() {
        TradeState::Paid { gateway_trade_no, amount } => {
            assert!(gateway_trade_no.starts_with("42000"));
            assert_eq!(amount, Money::from_fen(started["amount_fen"].as_i64().unwrap()));
        }
        other => panic!("paid, not {other:?}"),
    }
    assert_eq!(gateway.query("KB-NEVER-STARTED").await.unwrap(), TradeState::NotFound);
    let recorded = fake.recorded().await;
    assert_eq!(recorded["bad_signatures"], 0);
    let query = recorded["requests"].as_array().unwrap().iter().find(|r| r["method"] == "GET").unwrap();
    assert_eq!(query["path"], format!("/v3/pay/transactions/out-trade-no/{trade_no}?mchid=1900000109"));

    // Answers signed under another serial than the configured one are not believed.
    fake.control("/control/mode", json!({"serial": "public_key"})).await;
    let err = gateway.query(trade_no).await.unwrap_err();
    assert!(matches!(err, kabao_app::gateways::GatewayError::BadAnswer(_)), "{err}");
}

#[tokio::test]
async fn wechatpay_refunds_are_done_refused_with_the_reason_and_retried_once() {
    let Some(fake) = Fake::start() else { return };
    let (app, product) = shop(&fake, false, 3).await;
    let gateway = wechatpay(&app);
    assert!(gateway.refunds());
    let mut trades = vec![];
    for _ in 0..3 {
        let (_, started) = start(&app, product, DESKTOP).await;
        let trade_no = started["trade_no"].as_str().unwrap().to_string();
        fake.control("/control/pay", json!({"out_trade_no": trade_no})).await;
        trades.push((trade_no, Money::from_fen(started["amount_fen"].as_i64().unwrap())));
    }
    let refund = |refund_no: &'static str, i: usize| {
        let (trade_no, total) = &trades[i];
        (refund_no, trade_no.clone(), *total)
    };

    // Done, and asking again with the same number answers the same refund.
    let (refund_no, trade_no, total) = refund("RF-DONE-1", 0);
    let request = RefundRequest {
        refund_no,
        trade_no: &trade_no,
        gateway_trade_no: None,
        total,
        amount: Money::from_fen(total.fen() / 2),
        reason: "质保退款 / warranty refund",
    };
    let first = gateway.refund(&request).await.unwrap();
    let RefundOutcome::Done { gateway_refund_no: Some(refund_id) } = &first else { panic!("done, not {first:?}") };
    assert_eq!(gateway.refund(&request).await.unwrap(), first);
    let recorded = fake.recorded().await;
    assert_eq!(recorded["refunds"].as_object().unwrap().len(), 1);
    assert_eq!(recorded["refunds"]["RF-DONE-1"]["refund_id"], refund_id.as_str());
    assert_eq!(
        recorded["refunds"]["RF-DONE-1"]["amount"],
        json!({"refund": total.fen() / 2, "total": total.fen(), "currency": "CNY"})
    );

    // Refused by WeChat Pay (insufficient balance): the reason says why.
    fake.control("/control/mode", json!({"refuse_refunds": true})).await;
    let (refund_no, trade_no, total) = refund("RF-REFUSED-1", 1);
    let refused = gateway
        .refund(&RefundRequest {
            refund_no,
            trade_no: &trade_no,
            gateway_trade_no: None,
            total,
            amount: total,
            reason: "r",
        })
        .await
        .unwrap();
    let RefundOutcome::Refused { reason } = refused else { panic!("refused, not {refused:?}") };
    assert!(reason.starts_with("NOT_ENOUGH: "), "{reason}");
    fake.control("/control/mode", json!({"refuse_refunds": false})).await;

    // The first call outlives the client's timeout though WeChat Pay took it; the retry (same number) finds it.
    fake.control("/control/mode", json!({"slow_next_refund": CLIENT_TIMEOUT.as_secs_f64() + 2.0})).await;
    let (refund_no, trade_no, total) = refund("RF-SLOW-1", 2);
    let slow =
        RefundRequest { refund_no, trade_no: &trade_no, gateway_trade_no: None, total, amount: total, reason: "r" };
    let timed_out = gateway.refund(&slow).await.unwrap_err();
    assert!(matches!(timed_out, kabao_app::gateways::GatewayError::Unreachable(_)), "{timed_out}");
    let retried = gateway.refund(&slow).await.unwrap();
    assert!(matches!(retried, RefundOutcome::Done { gateway_refund_no: Some(_) }), "{retried:?}");
    let recorded = fake.recorded().await;
    let refunds = recorded["refunds"].as_object().unwrap();
    assert_eq!(refunds.keys().collect::<Vec<_>>(), ["RF-DONE-1", "RF-SLOW-1"], "exactly one refund per number");
    assert_eq!(recorded["bad_signatures"], 0);
}
