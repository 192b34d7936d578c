//! Guessing is throttled: guest order lookups (the API's `X-Order-Secret` and the page 订单查询) per order and per
//! client IP; logins per account with a doubling lockout, and per IP only far above that; every 429 says when to
//! come back (`Retry-After`, seconds). An order with a query password opens with the password only.

use crate::app::TestApp;
use crate::orders::order;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use kabao_server::ServerConfig;
use serde_json::json;

/// Behind a trusted proxy, so each request can come from the address the test names.
async fn app() -> TestApp {
    TestApp::with_config(ServerConfig { trust_proxy: true, ..ServerConfig::default() }).await
}

/// A guest order with the given query password (if any); returns its number. The email is `g@example.com`.
async fn guest_order(app: &TestApp, seller: &str, password: Option<&str>) -> String {
    let (merchant, product) = app.merchant_with_product(seller).await;
    app.import(&merchant, product, "K-1\nK-2\n").await;
    let mut body = json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": "g@example.com"});
    if let Some(p) = password {
        body["query_password"] = json!(p);
    }
    let o = order(app, None, body, None).await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
    o.json()["order_no"].as_str().unwrap().to_string()
}

async fn api_lookup(app: &TestApp, no: &str, secret: &str, ip: &str) -> crate::app::Res {
    app.send(
        Request::get(format!("/api/v1/orders/{no}"))
            .header("x-order-secret", secret)
            .header("x-forwarded-for", ip)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

fn retry_after(res: &crate::app::Res) -> u64 {
    res.headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a 429 without Retry-After: {:?}", res.headers))
}

#[tokio::test]
async fn api_guest_lookup_is_throttled_per_order_even_from_many_addresses() {
    let app = app().await;
    let no = guest_order(&app, "thr_order", None).await;
    let other = guest_order(&app, "thr_order_other", None).await;
    let limit = app.state.config.lookup_failures_per_order;
    for i in 0..limit {
        let res = api_lookup(&app, &no, "wrong@example.com", &format!("10.0.{}.{}", i / 200, i % 200 + 1)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
    // Now even the right secret, from a fresh address, waits; the answer says how long.
    let res = api_lookup(&app, &no, "g@example.com", "10.9.9.9").await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::TOO_MANY_REQUESTS, json!("lookup.throttled")));
    let wait = retry_after(&res);
    assert!(wait > 0 && wait <= 15 * 60, "{wait}");
    // Another order is not affected, and the window passing frees this one.
    assert_eq!(api_lookup(&app, &other, "g@example.com", "10.9.9.9").await.status, StatusCode::OK);
    app.clock.advance_seconds(i64::try_from(wait).unwrap());
    assert_eq!(api_lookup(&app, &no, "g@example.com", "10.9.9.9").await.status, StatusCode::OK);
}

#[tokio::test]
async fn api_guest_lookup_is_throttled_per_address_across_orders_and_shared_with_the_page() {
    let app = app().await;
    let no = guest_order(&app, "thr_ip", None).await;
    let limit = app.state.config.lookup_failures_per_ip;
    // One address probing many order numbers (none of them a limit on its own).
    for i in 0..limit {
        let probe = format!("KB{:016}", 1_000 + i);
        assert_eq!(api_lookup(&app, &probe, "x@example.com", "192.0.2.7").await.status, StatusCode::NOT_FOUND);
    }
    let res = api_lookup(&app, &no, "g@example.com", "192.0.2.7").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    retry_after(&res);
    // Other guest-accessible routes are behind the same door.
    let reveal = app
        .send(
            Request::post(format!("/api/v1/orders/{no}/keys/reveal"))
                .header("x-order-secret", "g@example.com")
                .header("x-forwarded-for", "192.0.2.7")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reveal.status, StatusCode::TOO_MANY_REQUESTS);
    retry_after(&reveal);
    // The page lookup from that address waits too, with Retry-After on the page.
    let mut page = app.browser();
    page.get("/orders/lookup").await;
    let csrf = page.csrf();
    let req = Request::post("/orders/lookup")
        .header(header::COOKIE, format!("kabao_csrf={csrf}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "192.0.2.7")
        .body(Body::from(
            serde_urlencoded::to_string([("order_no", no.as_str()), ("secret", "g@example.com"), ("_csrf", &csrf)])
                .unwrap(),
        ))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.body.contains("查询失败次数过多"));
    retry_after(&res);
    // Another address is not affected.
    assert_eq!(api_lookup(&app, &no, "g@example.com", "192.0.2.8").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_order_with_a_query_password_does_not_open_with_the_email_alone() {
    let app = app().await;
    let no = guest_order(&app, "thr_pw", Some("chaxun-2026")).await;
    assert_eq!(api_lookup(&app, &no, "g@example.com", "198.51.100.1").await.status, StatusCode::NOT_FOUND);
    assert_eq!(api_lookup(&app, &no, "chaxun-2026", "198.51.100.1").await.status, StatusCode::OK);
    let mut page = app.browser();
    page.get("/orders/lookup").await;
    let csrf = page.csrf();
    let res = page.post("/orders/lookup", &[("order_no", &no), ("secret", "g@example.com")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = page.post("/orders/lookup", &[("order_no", &no), ("secret", "chaxun-2026")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // Without a query password the email still opens it.
    let plain = guest_order(&app, "thr_nopw", None).await;
    assert_eq!(api_lookup(&app, &plain, "G@Example.com", "198.51.100.1").await.status, StatusCode::OK);
}

async fn login(app: &TestApp, user: &str, password: &str, ip: &str) -> crate::app::Res {
    app.send(
        Request::post("/api/v1/tokens")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", ip)
            .body(Body::from(json!({"username": user, "password": password, "name": "t"}).to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn login_lockout_is_per_account_and_doubles_with_each_failure_past_the_threshold() {
    let app = app().await;
    app.merchant_token("backoff").await;
    let threshold = app.state.config.login_failures_per_account;
    let base = app.state.config.login_lockout_base_seconds;
    // Failures from many addresses still count against the one account.
    for i in 0..threshold {
        let res = login(&app, "backoff", "wrong", &format!("203.0.113.{}", i + 1)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let mut expected = base;
    for round in 0..3 {
        let res = login(&app, "backoff", "merchant-pass-1", "203.0.113.200").await;
        assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::TOO_MANY_REQUESTS, json!("auth.throttled")));
        assert_eq!(retry_after(&res), u64::try_from(expected).unwrap(), "round {round}");
        app.clock.advance_seconds(expected);
        // One more wrong guess after the wait: the next wait is twice as long.
        assert_eq!(login(&app, "backoff", "wrong", "203.0.113.201").await.status, StatusCode::UNAUTHORIZED);
        expected *= 2;
    }
    app.clock.advance_seconds(expected);
    assert_eq!(login(&app, "backoff", "merchant-pass-1", "203.0.113.1").await.status, StatusCode::CREATED);
    // A success starts afresh: one wrong guess does not lock.
    assert_eq!(login(&app, "backoff", "wrong", "203.0.113.1").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "backoff", "merchant-pass-1", "203.0.113.1").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn people_behind_one_address_do_not_lock_each_other_out() {
    let config = ServerConfig::default();
    assert!(
        config.login_failures_per_ip >= 10 * config.login_failures_per_account,
        "the per-IP threshold must be well above the per-account one"
    );
    let app = app().await;
    let nat = "100.64.0.1";
    // Several people on one carrier NAT each lock their own account out.
    for i in 0..5 {
        let name = format!("nat_user_{i}");
        app.merchant_token(&name).await;
        for _ in 0..config.login_failures_per_account {
            login(&app, &name, "wrong", nat).await;
        }
        assert_eq!(login(&app, &name, "merchant-pass-1", nat).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    // Someone else behind the same address still logs in.
    app.merchant_token("nat_neighbour").await;
    assert_eq!(login(&app, "nat_neighbour", "merchant-pass-1", nat).await.status, StatusCode::CREATED);
    // But one address guessing across many accounts is stopped at the per-IP threshold.
    let spray = "100.64.0.99";
    for i in 0..config.login_failures_per_ip {
        login(&app, &format!("nobody_{i}"), "wrong", spray).await;
    }
    let res = login(&app, "nat_neighbour", "merchant-pass-1", spray).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    retry_after(&res);
}

#[tokio::test]
async fn page_login_lockout_answers_429_with_retry_after() {
    let app = app().await;
    app.merchant_token("page_locked").await;
    let mut b = app.browser();
    for _ in 0..app.state.config.login_failures_per_account {
        b.login("page_locked", "wrong").await;
    }
    let res = b.login("page_locked", "merchant-pass-1").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(retry_after(&res) >= 1);
}
