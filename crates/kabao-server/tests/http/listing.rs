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

fn shared(title: &str) -> serde_json::Value {
    json!({"title": title, "description": "官方充值码，自动发货", "category": "game_card", "kind": "shared",
        "price_fen": 4500, "max_per_order": 1, "listed": true})
}

async fn set_secret(app: &TestApp, token: &str, product: i64, secret: &str) -> serde_json::Value {
    let path = format!("/api/v1/merchant/products/{product}/shared-secret");
    let res = app.api("PUT", &path, Some(token), Some(json!({"secret": secret, "stock": 10}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()
}

async fn admin_token(app: &TestApp) -> (String, String) {
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    (app.token("admin", &password).await, password)
}

/// A shared-secret product's delivery text (循环卡密, what every buyer receives) is scanned when saved: one with a
/// WeChat id holds the product with the reason in the console, and the shop reaches the admin's queue at the
/// default threshold; a redemption instruction naming the official site does not. A title edit does not list a
/// product held for its delivery text; a clean delivery text does.
async fn delivery_texts_are_scanned_when_saved(app: TestApp) {
    let token = app.merchant_token("deliverer").await;
    let shop = json!({"name": "晴川数字", "description": "正版充值码"});
    assert_eq!(app.api("POST", "/api/v1/merchant/shop", Some(&token), Some(shop)).await.status, StatusCode::CREATED);
    let (admin, admin_password) = admin_token(&app).await;

    let res = app.api("POST", "/api/v1/merchant/products", Some(&token), Some(shared("Steam 钱包充值码 50 元"))).await;
    let benign = res.json()["id"].as_i64().unwrap();
    let view = set_secret(
        &app,
        &token,
        benign,
        "充值码：ABCD-EFGH-JKLM\n兑换：登录 https://store.steampowered.com/account/redeemwalletcode 输入充值码。\
         卡密无效请在平台申请补单。",
    )
    .await;
    assert_eq!(view["listed"], json!(true), "{view}");
    assert_eq!(view["held_rules"], json!([]), "{view}");
    assert_eq!(app.api("GET", &format!("/api/v1/products/{benign}"), None, None).await.status, StatusCode::OK);

    let res = app.api("POST", "/api/v1/merchant/products", Some(&token), Some(shared("Steam 钱包充值码 100 元"))).await;
    let risky = res.json()["id"].as_i64().unwrap();
    assert_eq!(res.json()["listed"], json!(true), "a clean title and description list it: {}", res.body);
    let view = set_secret(&app, &token, risky, "充值码请加微信 kb_store88 领取，备注订单号").await;
    assert_eq!(view["listed"], json!(false), "held for its delivery text: {view}");
    assert!(view["held_rules"].as_array().unwrap().contains(&json!("contact.wechat")), "{view}");
    let public = app.api("GET", &format!("/api/v1/products/{risky}"), None, None).await;
    assert_eq!(public.status, StatusCode::NOT_FOUND, "a held product is not shown to buyers");

    // Saving the product's title again (asking to list it) does not list it while its delivery text is risky.
    let path = format!("/api/v1/merchant/products/{risky}");
    let res = app.api("PUT", &path, Some(&token), Some(shared("Steam 钱包充值码 100 元"))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["listed"], json!(false), "{}", res.body);

    // The merchant sees why on the product's console page and in the list.
    let mut browser = app.browser();
    browser.login("deliverer", "merchant-pass-1").await;
    let wechat = kabao_core::risk::rule::describe("contact.wechat", kabao_core::Lang::Zh).unwrap();
    for page in [format!("/console/products/{risky}"), "/console".to_string()] {
        let page = browser.get(&page).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("held-reason") && page.body.contains(wechat), "{}", page.body);
    }
    let page = browser.get(&format!("/console/products/{benign}")).await;
    assert!(!page.body.contains("held-reason"), "{}", page.body);

    // One held listing is enough to reach the admin's queue (the default threshold is 3 open events); the
    // admin is told which rule held it, not the sealed delivery text.
    let queue = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json();
    assert_eq!(queue.as_array().map(Vec::len), Some(1), "{queue}");
    let mut admin_browser = app.browser();
    admin_browser.login("admin", &admin_password).await;
    let page = admin_browser.get("/admin/trust").await;
    assert!(page.body.contains("Steam 钱包充值码 100 元") && page.body.contains(wechat), "{}", page.body);
    assert!(!page.body.contains("kb_store88"), "the delivery text is sealed like a key: {}", page.body);

    // A shared account's login is the goods, not contact; an address offered to write to is contact.
    let view = set_secret(&app, &token, benign, "账号 share@example.com 密码 Pa55word").await;
    assert_eq!((view["listed"].clone(), view["held_rules"].clone()), (json!(true), json!([])), "{view}");
    let view = set_secret(&app, &token, benign, "有问题发邮件到 help_kb88@gmail.com 处理").await;
    assert_eq!(view["held_rules"], json!(["contact.email"]), "{view}");
    let view = set_secret(&app, &token, benign, "充值码：ABCD-EFGH-JKLM，在 Steam 客户端兑换").await;
    assert_eq!(view["listed"], json!(true), "{view}");

    // A clean delivery text releases it, listed as the merchant asked.
    let view = set_secret(&app, &token, risky, "充值码：WXYZ-2345-6789，在 Steam 客户端「激活产品」中兑换。").await;
    assert_eq!(view["listed"], json!(true), "{view}");
    assert_eq!(view["held_rules"], json!([]), "{view}");
}

#[tokio::test]
async fn delivery_texts_are_scanned_when_saved_sqlite() {
    delivery_texts_are_scanned_when_saved(TestApp::new().await).await;
}

#[tokio::test]
async fn delivery_texts_are_scanned_when_saved_postgres() {
    if let Some(app) = TestApp::postgres().await {
        delivery_texts_are_scanned_when_saved(app).await;
    }
}

async fn catalog_ids(app: &TestApp) -> Vec<i64> {
    let res = app.api("GET", "/api/v1/catalog", None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()["items"].as_array().unwrap().iter().filter_map(|i| i["id"].as_i64()).collect()
}

async fn review(app: &TestApp, token: &str, shop: i64, outcome: &str) -> crate::app::Res {
    let path = format!("/api/v1/admin/risk/shops/{shop}/review");
    app.api("POST", &path, Some(token), Some(json!({"outcome": outcome, "note": "看过了"}))).await
}

/// A risky shop name or description holds the shop: its products leave the catalog and their pages, its page is
/// marked under review without the flagged texts, its existing orders work, and its merchant sees why. Neither a
/// buyer nor another merchant can clear it; an admin's confirmation keeps it held, a dismissal releases the shop
/// and lists again the products that were held (not those their merchant keeps unlisted).
async fn a_risky_shop_is_held_until_an_admin_dismisses_it(app: TestApp) {
    let (merchant, card) = app.merchant_with_product("holder").await;
    app.import(&merchant, card, "HK-0001\nHK-0002\n").await;
    let buyer = crate::orders::buyer(&app, "holder_buyer").await;
    crate::orders::top_up(&app, &buyer, 10_000).await;
    let no = crate::claims::bought(&app, &buyer, card, 1).await;
    let shop =
        app.api("GET", &format!("/api/v1/products/{card}"), None, None).await.json()["shop_id"].as_i64().unwrap();
    let (admin, _) = admin_token(&app).await;

    let held = app
        .api(
            "POST",
            "/api/v1/merchant/products",
            Some(&merchant),
            Some(product("QQ会员月卡", "售后请加 威❤信 kb_store88")),
        )
        .await;
    assert_eq!(held.json()["listed"], json!(false), "{}", held.body);
    let held = held.json()["id"].as_i64().unwrap();
    let mut kept = product("QQ会员季卡", "售后请加 威❤信 kb_store99");
    kept["listed"] = json!(false);
    let kept =
        app.api("POST", "/api/v1/merchant/products", Some(&merchant), Some(kept)).await.json()["id"].as_i64().unwrap();
    assert_eq!(catalog_ids(&app).await, vec![card]);

    let body = json!({"name": "holder 的店", "description": "有事加扣 3 4 5 6 7 8 9 0 1"});
    let res = app.api("PUT", "/api/v1/merchant/shop", Some(&merchant), Some(body)).await;
    assert!(res.status.is_success(), "{} {}", res.status, res.body);

    // Buyers: the shop is under review, without its texts or products.
    let view = app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.json();
    assert_eq!(view["under_review"], json!(true), "{view}");
    assert_eq!((view["name"].as_str(), view["description"].as_str()), (Some(""), Some("")), "{view}");
    assert_eq!(catalog_ids(&app).await, Vec::<i64>::new(), "a held shop's products leave the catalog");
    let page = app.api("GET", &format!("/api/v1/products/{card}"), None, None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = app.get(&format!("/s/{shop}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("under-review") && page.body.contains("店铺审核中"), "{}", page.body);
    assert!(!page.body.contains("3 4 5 6") && !page.body.contains("点卡 10 元"), "{}", page.body);
    let order = json!({"product_id": card, "quantity": 1, "warranty_ack": true});
    let res = app.api("POST", "/api/v1/orders", Some(&buyer), Some(order)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "no new orders while held: {}", res.body);

    // Existing orders are unaffected: the buyer still reads the order and reveals its key.
    assert_eq!(app.api("GET", &format!("/api/v1/orders/{no}"), Some(&buyer), None).await.status, StatusCode::OK);
    assert_eq!(crate::claims::reveal(&app, &buyer, &no).await.len(), 1);

    // The merchant sees why.
    let mut browser = app.browser();
    browser.login("holder", "merchant-pass-1").await;
    let console = browser.get("/console").await;
    assert!(
        console.body.contains("店铺名称或简介已提交风险审核") && console.body.contains("held-reason"),
        "{}",
        console.body
    );

    // Neither a buyer nor another merchant clears it; the hold stands.
    let rival = app.merchant_token("holder_rival").await;
    for token in [&buyer, &rival, &merchant] {
        assert_eq!(review(&app, token, shop, "dismissed").await.status, StatusCode::FORBIDDEN);
    }
    let view = app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.json();
    assert_eq!(view["under_review"], json!(true), "{view}");

    // An admin's confirmation keeps it held.
    let queue = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json();
    assert_eq!(queue[0]["shop_id"], json!(shop), "{queue}");
    assert_eq!(review(&app, &admin, shop, "confirmed").await.status, StatusCode::NO_CONTENT);
    assert_eq!(catalog_ids(&app).await, Vec::<i64>::new());
    let view = app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.json();
    assert_eq!(view["under_review"], json!(true), "{view}");

    // The merchant saves the texts again, still risky: a new event; the admin dismisses it as a false alarm.
    let body = json!({"name": "holder 的店", "description": "有事加扣 3 4 5 6 7 8 9 0 1"});
    assert!(app.api("PUT", "/api/v1/merchant/shop", Some(&merchant), Some(body)).await.status.is_success());
    assert_eq!(review(&app, &admin, shop, "dismissed").await.status, StatusCode::NO_CONTENT);
    let view = app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.json();
    assert_eq!(view["under_review"], json!(false), "{view}");
    assert_eq!(view["name"], json!("holder 的店"), "{view}");
    let mut listed = catalog_ids(&app).await;
    listed.sort_unstable();
    assert_eq!(listed, vec![card, held], "the shop's products and the held product are listed again");
    let kept = app.api("GET", &format!("/api/v1/products/{kept}"), None, None).await;
    assert_eq!(kept.status, StatusCode::NOT_FOUND, "a product its merchant keeps unlisted stays unlisted");
    let console = browser.get("/console").await;
    assert!(!console.body.contains("held-reason"), "{}", console.body);
}

#[tokio::test]
async fn a_risky_shop_is_held_until_an_admin_dismisses_it_sqlite() {
    a_risky_shop_is_held_until_an_admin_dismisses_it(TestApp::new().await).await;
}

#[tokio::test]
async fn a_risky_shop_is_held_until_an_admin_dismisses_it_postgres() {
    if let Some(app) = TestApp::postgres().await {
        a_risky_shop_is_held_until_an_admin_dismisses_it(app).await;
    }
}
