//! Refunds follow the money: a claim refund of an order paid through a gateway that refunds goes back through
//! it (queued, then paid back by the refund job, exactly once, shown on the order page), unless the buyer chose
//! the wallet; an order paid from the wallet is refunded to the wallet; the books balance at every step.

use crate::app::TestApp;
use crate::claims::{decide, file_claim, png, reveal, set_template, wallet};
use crate::orders::{buyer, notify, now_s, order_no, top_up, verify_books};
use axum::http::StatusCode;
use kabao_store::GatewayRefundState;
use serde_json::json;

/// An order of one item paid through the sandbox gateway (which refunds); returns its number.
async fn paid_by_gateway(app: &TestApp, token: &str, product: i64) -> String {
    let no = order_no(app, token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    let start = app.api("POST", &format!("/api/v1/orders/{no}/pay/sandbox"), Some(token), None).await;
    let trade_no = start.json()["trade_no"].as_str().unwrap().to_string();
    let res = notify(app, &trade_no, now_s(app), |_| {}).await;
    assert_eq!(res.json()["status"], "applied", "{}", res.body);
    no
}

/// Files a claim on item 1 and has the merchant approve it (no stock left to re-issue: the item is refunded).
async fn refunded_claim(app: &TestApp, token: &str, merchant: &str, no: &str) {
    assert_eq!(reveal(app, token, no).await.len(), 1);
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "卡密无效")];
    let res = file_claim(app, (Some(token), None), &path, &fields, &[("a.png", &png(no))], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = decide(app, merchant, &claim_no, json!({"decision": "approve"})).await;
    assert_eq!(res.json()["state"], "refunded", "{}", res.body);
}

async fn refunds_of(app: &TestApp, no: &str) -> Vec<kabao_store::GatewayRefund> {
    let order = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.order_by_no(no).await.unwrap().unwrap()
    };
    kabao_app::refunds::of_order(&app.state, order.id).await.unwrap()
}

#[tokio::test]
async fn a_claim_refund_goes_back_through_the_gateway_once_unless_the_buyer_chose_the_wallet() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("refund_seller").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    app.import(&merchant, product, "RF-1\nRF-2\nRF-3\n").await;
    let token = buyer(&app, "refund_buyer").await;

    // Paid through the gateway: the refund is queued back to it, not paid into the wallet.
    let no = paid_by_gateway(&app, &token, product).await;
    let second = paid_by_gateway(&app, &token, product).await;
    let third = paid_by_gateway(&app, &token, product).await;
    refunded_claim(&app, &token, &merchant, &no).await;
    assert_eq!(wallet(&app, &token).await, 0, "not into the wallet");
    let queued = refunds_of(&app, &no).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].gateway.as_str(), queued[0].amount.fen(), queued[0].state),
        ("sandbox", 990, GatewayRefundState::Pending)
    );
    verify_books(&app).await;
    let mut browser = app.browser();
    browser.login("refund_buyer", "buyer-pass-1").await;
    let page = browser.get(&format!("/o/{no}")).await;
    assert!(page.body.contains("正在原路退回（沙箱支付（演示））"), "{}", page.body);

    let pass = kabao_app::refunds::run(&app.state).await.unwrap();
    assert_eq!(pass.done, 1, "{pass:?}");
    assert_eq!(kabao_app::refunds::run(&app.state).await.unwrap(), Default::default(), "paid back once");
    let done = refunds_of(&app, &no).await;
    assert_eq!(done[0].state, GatewayRefundState::Done);
    assert!(done[0].gateway_refund_no.as_deref().is_some_and(|r| r.contains(&done[0].refund_no)));
    let page = browser.get(&format!("/o/{no}")).await;
    assert!(page.body.contains("已原路退回"), "{}", page.body);
    assert_eq!(wallet(&app, &token).await, 0);
    verify_books(&app).await;

    // The buyer chooses the wallet: the next refund lands there at once, nothing queued.
    let res =
        app.api("PUT", "/api/v1/wallet/refund-preference", Some(&token), Some(json!({"refund_to_wallet": true}))).await;
    assert_eq!((res.status, res.json()["refund_to_wallet"].clone()), (StatusCode::OK, json!(true)), "{}", res.body);
    let bad = app
        .api("PUT", "/api/v1/wallet/refund-preference", Some(&token), Some(json!({"refund_to_wallet": "yes"})))
        .await;
    assert_eq!((bad.status, bad.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("refund_to_wallet")));
    refunded_claim(&app, &token, &merchant, &second).await;
    assert_eq!(wallet(&app, &token).await, 990);
    assert!(refunds_of(&app, &second).await.is_empty());
    verify_books(&app).await;

    // Back to the default on the wallet page: the gateway again.
    let csrf = browser.csrf();
    let res = browser.post("/wallet/refund-preference", &[("to", "original")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = browser.post("/wallet/refund-preference", &[("to", "somewhere")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("请选择退款去向"), "{}", res.body);
    refunded_claim(&app, &token, &merchant, &third).await;
    assert_eq!(refunds_of(&app, &third).await.len(), 1);
    assert_eq!(wallet(&app, &token).await, 990);
    verify_books(&app).await;
}

#[tokio::test]
async fn an_order_paid_from_the_wallet_is_refunded_to_the_wallet() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("refund_wallet_seller").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    app.import(&merchant, product, "RW-1\n").await;
    let token = buyer(&app, "refund_wallet_buyer").await;
    top_up(&app, &token, 990).await;
    let no = crate::claims::bought(&app, &token, product, 1).await;
    assert_eq!(wallet(&app, &token).await, 0);
    refunded_claim(&app, &token, &merchant, &no).await;
    assert_eq!(wallet(&app, &token).await, 990);
    assert!(refunds_of(&app, &no).await.is_empty());
    verify_books(&app).await;
}
