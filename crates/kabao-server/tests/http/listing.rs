//! Listings scanned when saved (issue 23), on both backends: a product whose title or description is risky is
//! saved but held (not listed, hidden from buyers) with the reason in the merchant's console, and its shop
//! reaches the admin's risk queue with the flagged text; listings that name QQ, 微信 or 支付宝 as goods, with an
//! official redemption site and "请在平台申请补单", are listed as asked.

use crate::app::{TestApp, T0};
use axum::http::StatusCode;
use serde_json::json;

fn config() -> kabao_server::ServerConfig {
    kabao_server::ServerConfig { risk_review_threshold: 1, ..Default::default() }
}

fn product(title: &str, description: &str) -> serde_json::Value {
    json!({"title": title, "description": description, "category": "game_card", "kind": "standard",
        "price_fen": 1990, "max_per_order": 5, "listed": true})
}

async fn listings_are_scanned_when_saved(app: TestApp) {
    let token = app.merchant_token("lister").await;
    let shop = json!({"name": "清风卡铺", "description": "QQ会员月卡、微信读书、支付宝红包卡，官方直充。"});
    let res = app.api("POST", "/api/v1/merchant/shop", Some(&token), Some(shop)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    let admin = app.token("admin", &password).await;
    let queue = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json();
    assert!(queue.as_array().unwrap().is_empty(), "goods names are not contact: {queue}");

    // Goods names, an official redemption site and the platform's own wording: listed.
    let clean = product(
        "Telegram Premium 礼品码 3 个月",
        "兑换：打开 Telegram 设置，点 Premium 使用礼品码；QQ 会员请登录 pay.qq.com 充值。卡密无效请在平台申请补单。",
    );
    let res = app.api("POST", "/api/v1/merchant/products", Some(&token), Some(clean)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["listed"], json!(true), "{}", res.body);
    let clean_id = res.json()["id"].as_i64().unwrap();
    assert_eq!(app.api("GET", &format!("/api/v1/products/{clean_id}"), None, None).await.status, StatusCode::OK);

    // A contact handle in the description: saved, held, hidden from buyers.
    let risky = product("QQ会员月卡", "售后请加 威❤信 kb_store88，补卡更快");
    let res = app.api("POST", "/api/v1/merchant/products", Some(&token), Some(risky)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["listed"], json!(false), "held for review: {}", res.body);
    let risky_id = res.json()["id"].as_i64().unwrap();
    assert_eq!(
        app.api("GET", &format!("/api/v1/products/{risky_id}"), None, None).await.status,
        StatusCode::NOT_FOUND,
        "a held listing is not shown to buyers"
    );

    // An update that asks for a fee before a re-issue is held too, even when it was listed before.
    let fee = product("Telegram Premium 礼品码 3 个月", "补卡需要先付 20 元手续费");
    let res = app.api("PUT", &format!("/api/v1/merchant/products/{clean_id}"), Some(&token), Some(fee)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["listed"], json!(false), "{}", res.body);

    // The merchant sees why in the console.
    let mut browser = app.browser();
    browser.login("lister", "merchant-pass-1").await;
    let page = browser.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
    let wechat = kabao_core::risk::rule::describe("contact.wechat", kabao_core::Lang::Zh).unwrap();
    assert!(page.body.contains("风险审核中") && page.body.contains(wechat), "{}", page.body);
    assert!(page.body.contains("held-reason"), "{}", page.body);

    // The admin's queue has the shop, with the flagged listings as written.
    let queue = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json();
    assert_eq!(queue.as_array().map(Vec::len), Some(1), "{queue}");
    let page = {
        let mut admin_browser = app.browser();
        admin_browser.login("admin", &password).await;
        admin_browser.get("/admin/trust").await
    };
    assert!(page.body.contains("kb_store88") && page.body.contains("补卡需要先付 20 元手续费"), "{}", page.body);
    assert!(!page.body.contains("pay.qq.com"), "clean listings are not in the queue: {}", page.body);

    // A risky shop description raises an event of its own.
    let before = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json()[0]["open_events"].as_i64();
    let shop = json!({"name": "清风卡铺", "description": "有事加扣 3 4 5 6 7 8 9 0 1"});
    let res = app.api("PUT", "/api/v1/merchant/shop", Some(&token), Some(shop)).await;
    assert!(res.status.is_success(), "{} {}", res.status, res.body);
    let after = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json()[0]["open_events"].as_i64();
    assert_eq!(after, before.map(|n| n + 1));
}

#[tokio::test]
async fn listings_are_scanned_when_saved_sqlite() {
    listings_are_scanned_when_saved(TestApp::with_config(config()).await).await;
}

#[tokio::test]
async fn listings_are_scanned_when_saved_postgres() {
    if let Some(app) = TestApp::postgres_with(config()).await {
        listings_are_scanned_when_saved(app).await;
    }
}
