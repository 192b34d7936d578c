//! Payment hygiene: a validly signed 易支付 notification that reuses a gateway trade number already applied to
//! another payment is answered `success` (so the platform stops retrying), changes nothing, and is recorded as a
//! security event the admin sees on /admin and through the API.

use crate::app::{TestApp, T0};
use crate::orders::{buyer, epay_app_config, epay_get, epay_params, order, verify_books};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

async fn guest_state(app: &TestApp, no: &str) -> String {
    let res = app
        .send(
            Request::get(format!("/api/v1/orders/{no}"))
                .header("x-order-secret", "reuse@example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    res.json()["state"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn sqlite_a_signed_notify_reusing_an_applied_trade_number_changes_nothing_and_is_a_security_event() {
    reused_trade_no_story(TestApp::with_config(epay_app_config()).await).await;
}

/// On PostgreSQL the refused insert spoils its transaction: the event must still be recorded.
#[tokio::test]
async fn postgres_a_signed_notify_reusing_an_applied_trade_number_changes_nothing_and_is_a_security_event() {
    if let Some(app) = TestApp::postgres_with(epay_app_config()).await {
        reused_trade_no_story(app).await;
    }
}

async fn reused_trade_no_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("reuse_seller").await;
    app.import(&merchant, product, "R-1\nR-2\n").await;
    let guest = json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": "reuse@example.com"});
    let a = order(&app, None, guest.clone(), None).await.json()["order_no"].as_str().unwrap().to_string();
    let b = order(&app, None, guest, None).await.json()["order_no"].as_str().unwrap().to_string();
    let start = |no: &str| {
        Request::post(format!("/api/v1/orders/{no}/pay/epay"))
            .header("x-order-secret", "reuse@example.com")
            .body(Body::empty())
            .unwrap()
    };
    let ta = app.send(start(&a)).await.json()["trade_no"].as_str().unwrap().to_string();
    let tb = app.send(start(&b)).await.json()["trade_no"].as_str().unwrap().to_string();
    // Order A is paid; the very same notification again is a plain duplicate, not a security event.
    let key = "epay-merchant-key";
    assert_eq!(epay_get(&app, &epay_params(&ta, "9.90", key)).await.body, "success");
    assert_eq!(epay_get(&app, &epay_params(&ta, "9.90", key)).await.body, "success");
    assert!(app
        .state
        .store
        .begin(kabao_store::TxMode::Read)
        .await
        .unwrap()
        .security_events(10, 0)
        .await
        .unwrap()
        .is_empty());

    // A signed notification for order B carrying A's gateway trade number (epay_params always sends the same
    // one): `success`, so the platform stops retrying, and nothing else.
    let reused = epay_get(&app, &epay_params(&tb, "9.90", key)).await;
    assert_eq!((reused.status, reused.body.as_str()), (StatusCode::OK, "success"));
    assert_eq!(guest_state(&app, &b).await, "pending_payment");
    assert_eq!(guest_state(&app, &a).await, "delivered");
    assert_eq!(app.stock(product).await, 1, "only A's key left the shelf");
    verify_books(&app).await;

    // The admin sees it, through the API and on /admin; nobody else does.
    kabao_app::accounts::create_user(
        &*app.state.store,
        "sec_admin",
        "admin-pass-123",
        kabao_core::user::Role::Admin,
        None,
        T0,
    )
    .await
    .unwrap();
    let admin = app.token("sec_admin", "admin-pass-123").await;
    let events = app.api("GET", "/api/v1/admin/security-events", Some(&admin), None).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    // The admin's own enrolment in two-step verification (forced for admins) is an event too; set it aside.
    let events: Vec<serde_json::Value> =
        events.json().as_array().unwrap().iter().filter(|e| e["kind"] != "totp_enabled").cloned().collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "gateway.trade_no_reused");
    assert_eq!(events[0]["detail"]["trade_no"], json!(tb));
    assert_eq!(events[0]["detail"]["gateway_trade_no"], "2026112812345678");
    assert!(events[0]["message"].as_str().unwrap().contains("2026112812345678"));
    let buyer_token = buyer(&app, "sec_nosy").await;
    assert_eq!(
        app.api("GET", "/api/v1/admin/security-events", Some(&buyer_token), None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.api("GET", "/api/v1/admin/security-events", None, None).await.status, StatusCode::UNAUTHORIZED);
    let mut page = app.browser();
    page.login("sec_admin", "admin-pass-123").await;
    let admin_page = page.get("/admin").await;
    assert!(admin_page.body.contains("id=\"security-events\"") && admin_page.body.contains("2026112812345678"));
    assert!(admin_page.body.contains("已忽略，未做任何变更"), "{}", admin_page.body);
}
