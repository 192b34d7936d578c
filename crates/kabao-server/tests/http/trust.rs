//! Trust and risk over the API, on both backends: reviews (one per delivered order, from its buyer only, the
//! merchant replies once), the trust score and its reasons, certification, trial orders, chat with the risk
//! scanner, and buyer-abuse signals.

use crate::app::{TestApp, T0};
use crate::orders::{order_no, top_up};
use axum::http::StatusCode;
use kabao_core::user::Role;
use serde_json::json;

pub async fn user(app: &TestApp, name: &str, role: Role) -> String {
    let email = format!("{name}@example.com");
    kabao_app::accounts::create_user(&*app.state.store, name, "password-pass-1", role, Some(&email), T0).await.unwrap();
    app.token(name, "password-pass-1").await
}

/// Writes a delivered order straight to the store (for records checkout would take long to build).
pub async fn store_delivered_order(
    app: &TestApp,
    no: &str,
    buyer: kabao_core::UserId,
    shop: i64,
    product: i64,
    at: kabao_core::Timestamp,
) -> kabao_core::ledger::OrderId {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    let id = tx
        .insert_order(&kabao_store::NewOrder {
            order_no: no.into(),
            buyer_id: Some(buyer),
            guest_email: None,
            guest_query_hash: None,
            shop_id: kabao_core::ShopId(shop),
            product_id: kabao_core::ProductId(product),
            quantity: 1,
            unit_price: kabao_core::Money::from_fen(100),
            amount: kabao_core::Money::from_fen(100),
            warranty_snapshot: r#"{"warranty":"none"}"#.into(),
            warranty_sha256: vec![0; 32],
            warranty_ack: true,
            created_at: at,
            expires_at: at,
            custom_answers: None,
        })
        .await
        .unwrap();
    use kabao_core::order::OrderState as S;
    assert!(tx.update_order_state(id, S::PendingPayment, S::Delivered, at).await.unwrap());
    tx.commit().await.unwrap();
    id
}

/// A buyer with a delivered order of `product`; returns (buyer token, order no).
pub async fn delivered_order(app: &TestApp, buyer_name: &str, product: i64) -> (String, String) {
    let buyer = user(app, buyer_name, Role::Buyer).await;
    top_up(app, &buyer, 5_000).await;
    let no = order_no(app, &buyer, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    let res = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&buyer), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    (buyer, no)
}

async fn reviews_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("review_m").await;
    app.import(&merchant, product, "RV-0001\nRV-0002\nRV-0003\n").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let (buyer, no) = delivered_order(&app, "review_b", product).await;
    let path = format!("/api/v1/orders/{no}/review");
    let good = json!({"described": 5, "service": 4, "delivery": 5, "tags": ["reissue_fast"], "body": "<script>alert(1)</script>很好"});

    // Bad input changes nothing.
    for (body, field) in [
        (json!({"described": 6, "service": 4, "delivery": 5}), "described"),
        (json!({"described": 5, "service": 0, "delivery": 5}), "service"),
        (json!({"described": 5, "service": 4, "delivery": 5, "tags": ["bribe"]}), "tags"),
        (json!({"described": 5, "service": 4, "delivery": 5, "body": "长".repeat(501)}), "body"),
    ] {
        let res = app.api("POST", &path, Some(&buyer), Some(body)).await;
        assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{}", res.body);
    }
    // Another buyer's order, and a guest, cannot be reviewed by this buyer.
    let stranger = user(&app, "review_x", Role::Buyer).await;
    assert_eq!(app.api("POST", &path, Some(&stranger), Some(good.clone())).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.api("POST", &path, None, Some(good.clone())).await.status, StatusCode::UNAUTHORIZED);
    assert!(app
        .api("GET", &format!("/api/v1/shops/{shop}/reviews"), None, None)
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty());

    let res = app.api("POST", &path, Some(&buyer), Some(good.clone())).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["reissue"], 1);
    let review = res.json()["id"].as_i64().unwrap();
    let res = app.api("POST", &path, Some(&buyer), Some(good.clone())).await;
    assert_eq!(
        (res.status, res.json()["code"].clone()),
        (StatusCode::CONFLICT, json!("review.exists")),
        "one per order"
    );

    // An undelivered order cannot be reviewed.
    let pending = order_no(&app, &buyer, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    let res = app.api("POST", &format!("/api/v1/orders/{pending}/review"), Some(&buyer), Some(good.clone())).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("review.not_delivered")));

    // A text review that forgot the tag still counts against re-issue.
    let (buyer2, no2) = delivered_order(&app, "review_c", product).await;
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orders/{no2}/review"),
            Some(&buyer2),
            Some(json!({"described": 1, "service": 1, "delivery": 3, "body": "卡密无效，商家不给补还拉黑"})),
        )
        .await;
    assert_eq!(res.json()["reissue"], -1, "{}", res.body);

    // The merchant replies once; other merchants cannot.
    let reply = format!("/api/v1/merchant/reviews/{review}/reply");
    let (other, _) = app.merchant_with_product("review_o").await;
    assert_eq!(app.api("POST", &reply, Some(&other), Some(json!({"reply": "hi"}))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api("POST", &reply, Some(&merchant), Some(json!({"reply": " "}))).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.api("POST", &reply, Some(&merchant), Some(json!({"reply": "谢谢"}))).await.status,
        StatusCode::NO_CONTENT
    );
    let res = app.api("POST", &reply, Some(&merchant), Some(json!({"reply": "again"}))).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("review.replied")));

    let listed = app.api("GET", &format!("/api/v1/products/{product}/reviews"), None, None).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["reply"], "谢谢");

    // The shop's owner cannot review their own shop, even with a delivered order (which checkout never makes:
    // this one is written straight to the store).
    let own = "K00000000000000000000000SEF";
    let owner = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.user_by_username("review_m").await.unwrap().unwrap().id
    };
    store_delivered_order(&app, own, owner, shop, product, T0).await;
    let res = app.api("POST", &format!("/api/v1/orders/{own}/review"), Some(&merchant), Some(good.clone())).await;
    assert_eq!(
        (res.status, res.json()["code"].clone()),
        (StatusCode::CONFLICT, json!("review.own_shop")),
        "{}",
        res.body
    );

    // HTML is escaped on the shop page.
    let page = app.get(&format!("/s/{shop}")).await;
    assert!(!page.body.contains("<script>alert(1)</script>"));
    assert!(
        page.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;很好"),
        "the review is shown, escaped: {}",
        page.body
    );
}

#[tokio::test]
async fn reviews_one_per_delivered_order_from_its_buyer_sqlite() {
    reviews_story(TestApp::new().await).await;
}

#[tokio::test]
async fn reviews_one_per_delivered_order_from_its_buyer_postgres() {
    if let Some(app) = TestApp::postgres().await {
        reviews_story(app).await;
    }
}

async fn trust_of(app: &TestApp, shop: i64) -> serde_json::Value {
    let res = app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()
}

fn reason_codes(t: &serde_json::Value) -> Vec<String> {
    t["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

fn warning_codes(t: &serde_json::Value) -> Vec<String> {
    t["warnings"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

async fn admin_token(app: &TestApp) -> String {
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    app.token("admin", &password).await
}

const ID_NUMBER: &str = "11010519491231002X";

/// Certification: checked details, one pending application, an admin's decision with a reason; approval raises
/// the trust score. A risky chat message lowers it and warns, until an admin dismisses the event.
async fn certification_and_trust_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("cert_m").await;
    app.import(&merchant, product, "CE-0001\n").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let before = trust_of(&app, shop).await;
    assert!(reason_codes(&before).contains(&"shop_age".to_string()), "{before}");
    assert!(warning_codes(&before).contains(&"new_shop".to_string()), "a brand-new shop is a warning: {before}");
    let reasons = before["reasons"].as_array().unwrap();
    let age = reasons.iter().find(|r| r["code"] == "shop_age").unwrap();
    assert!(age["points"].as_i64().unwrap() < 0 && age["text"].as_str().unwrap().starts_with("开店"), "{age}");

    let path = "/api/v1/merchant/certification";
    let good = json!({"level": "verified", "real_name": "张三", "id_number": ID_NUMBER, "phone": "13800138000"});
    for (body, field) in [
        (json!({"level": "gold", "real_name": "张三", "id_number": ID_NUMBER, "phone": "13800138000"}), "level"),
        (
            json!({"level": "verified", "real_name": "张三", "id_number": "110105194912310021", "phone": "13800138000"}),
            "id_number",
        ),
        (json!({"level": "verified", "real_name": "", "id_number": ID_NUMBER, "phone": "13800138000"}), "real_name"),
        (json!({"level": "verified", "real_name": "张三", "id_number": ID_NUMBER, "phone": "138"}), "phone"),
        (
            json!({"level": "enterprise", "company_name": "某公司", "legal_person": "李四", "credit_code": "123", "phone": "13800138000"}),
            "credit_code",
        ),
    ] {
        let res = app.api("POST", path, Some(&merchant), Some(body)).await;
        assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{}", res.body);
    }
    let res = app.api("POST", path, Some(&merchant), Some(good.clone())).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let app_id = res.json()["id"].as_i64().unwrap();
    assert_eq!(res.json()["id_masked"], "110***********002X");
    assert!(!res.body.contains(ID_NUMBER), "the id number is never stored or shown in the clear");
    let res = app.api("POST", path, Some(&merchant), Some(good.clone())).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("certification.pending")));

    // The same person behind a second shop is pointed out to the admin.
    let (twin, _) = app.merchant_with_product("cert_twin").await;
    assert_eq!(app.api("POST", path, Some(&twin), Some(good.clone())).await.status, StatusCode::CREATED);

    let admin = admin_token(&app).await;
    assert_eq!(
        app.api("GET", "/api/v1/admin/certifications", Some(&merchant), None).await.status,
        StatusCode::FORBIDDEN
    );
    let queue = app.api("GET", "/api/v1/admin/certifications", Some(&admin), None).await.json();
    assert_eq!(queue.as_array().unwrap().len(), 2);
    assert_eq!(queue[0]["same_id_shops"].as_array().unwrap().len(), 1, "{queue}");
    let decide = format!("/api/v1/admin/certifications/{app_id}/decision");
    let res = app.api("POST", &decide, Some(&admin), Some(json!({"decision": "approve", "reason": " "}))).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("reason")));
    let res =
        app.api("POST", &decide, Some(&admin), Some(json!({"decision": "approve", "reason": "证件核验通过"}))).await;
    assert_eq!((res.status, res.json()["state"].clone()), (StatusCode::OK, json!("approved")), "{}", res.body);
    let res = app.api("POST", &decide, Some(&admin), Some(json!({"decision": "reject", "reason": "again"}))).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("certification.decided")));
    assert_eq!(app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.json()["certification"], "verified");
    let certified = trust_of(&app, shop).await;
    assert!(
        certified["score"].as_i64() > before["score"].as_i64(),
        "certification raises trust: {before} → {certified}"
    );

    // Listings carry the score and can be sorted by it: the certified shop comes first.
    let newest = app.api("GET", "/api/v1/products", None, None).await.json();
    assert_ne!(newest[0]["shop_id"].as_i64(), Some(shop), "newest first: the twin's product is newer");
    let by_trust = app.api("GET", "/api/v1/products?sort=trust", None, None).await.json();
    assert_eq!(by_trust[0]["shop_id"].as_i64(), Some(shop), "{by_trust}");
    assert_eq!(by_trust[0]["trust_score"], certified["score"]);
    let res = app.api("GET", "/api/v1/products?sort=cheapest", None, None).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("sort")));
    let home = app.get("/?sort=trust").await;
    assert!(home.body.contains("class=\"trust-score\""), "{}", home.body);

    // A risky chat message by the merchant is a risk event: the score drops and buyers are warned.
    let (_, no) = delivered_order(&app, "cert_b", product).await;
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/orders/{no}/messages"),
            Some(&merchant),
            Some(json!({"body": "补单加我微信 kabao_8888"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let flagged = trust_of(&app, shop).await;
    assert!(flagged["score"].as_i64() < certified["score"].as_i64(), "{certified} → {flagged}");
    assert!(
        warning_codes(&flagged).contains(&"risk.open_events".to_string())
            || !flagged["warnings"].as_array().unwrap().is_empty(),
        "{flagged}"
    );
    let res = app
        .api(
            "POST",
            &format!("/api/v1/admin/risk/shops/{shop}/review"),
            Some(&admin),
            Some(json!({"outcome": "dismissed", "note": "误报"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(trust_of(&app, shop).await["score"], certified["score"], "a dismissed event no longer counts");

    // The same again, confirmed as a violation: −10 with its reason, on the API and on the shop's page.
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/orders/{no}/messages"),
            Some(&merchant),
            Some(json!({"body": "补单加我微信 kabao_9999，私下转账"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let pending = trust_of(&app, shop).await;
    let res = app
        .api(
            "POST",
            &format!("/api/v1/admin/risk/shops/{shop}/review"),
            Some(&admin),
            Some(json!({"outcome": "confirmed", "note": "引导私下交易"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let confirmed = trust_of(&app, shop).await;
    let score = |t: &serde_json::Value| t["score"].as_i64().unwrap();
    assert_eq!(score(&confirmed), score(&certified) - 10, "{confirmed}");
    assert!(score(&confirmed) < score(&pending), "confirming costs more than a pending event: {pending} → {confirmed}");
    let reason = confirmed["reasons"].as_array().unwrap().iter().find(|r| r["code"] == "risk.confirmed").cloned();
    assert_eq!(
        reason.map(|r| (r["points"].clone(), r["text"].clone())),
        Some((json!(-10), json!("近 90 天经平台核实的违规 1 次"))),
        "{confirmed}"
    );
    assert!(!reason_codes(&confirmed).contains(&"risk.open".to_string()), "nothing left open: {confirmed}");
    let page = app.get(&format!("/s/{shop}")).await;
    assert!(
        page.body.contains("近 90 天经平台核实的违规 1 次</span> <b class=\"warn\">\u{2212}10</b>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("id=\"trust-score\">{}<", score(&confirmed))), "{}", page.body);
}

#[tokio::test]
async fn certification_is_checked_decided_once_and_moves_trust_sqlite() {
    certification_and_trust_story(TestApp::new().await).await;
}

#[tokio::test]
async fn certification_is_checked_decided_once_and_moves_trust_postgres() {
    if let Some(app) = TestApp::postgres().await {
        certification_and_trust_story(app).await;
    }
}

/// Trial items are cheap and bought once per buyer per shop; a first order from a low-trust shop asks for
/// confirmation, pointing at the trial item; the buyer's later orders do not.
async fn trial_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("trial_m").await;
    app.import(&merchant, product, "TR-0001\nTR-0002\nTR-0003\nTR-0004\n").await;
    let create = |price: i64, max: i64| json!({"title": "体验卡 1 元", "category": "game_card", "kind": "standard", "price_fen": price, "max_per_order": max, "trial": true});
    let res = app.api("POST", "/api/v1/merchant/products", Some(&merchant), Some(create(5_000, 1))).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("price")), "{}", res.body);
    let res = app.api("POST", "/api/v1/merchant/products", Some(&merchant), Some(create(100, 3))).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("max_per_order")));
    let res = app.api("POST", "/api/v1/merchant/products", Some(&merchant), Some(create(100, 1))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let trial = res.json()["id"].as_i64().unwrap();
    app.import(&merchant, trial, "TRIAL-1\nTRIAL-2\nTRIAL-3\n").await;

    let buyer = user(&app, "trial_b", Role::Buyer).await;
    top_up(&app, &buyer, 10_000).await;
    let unconfirmed =
        json!({"product_id": product, "quantity": 2, "warranty_ack": true, "first_order_confirmed": false});
    let res = crate::orders::order(&app, Some(&buyer), unconfirmed.clone(), None).await;
    assert_eq!(
        (res.status, res.json()["code"].clone(), res.json()["field"].clone()),
        (StatusCode::CONFLICT, json!("order.first_order_unconfirmed"), json!("first_order_confirmed")),
        "{}",
        res.body
    );
    assert!(
        res.json()["message"].as_str().unwrap().contains("体验卡 1 元"),
        "guidance names the trial item: {}",
        res.body
    );

    // The trial item: one at a time, once per buyer per shop.
    let trial_order = |q: i64| json!({"product_id": trial, "quantity": q, "warranty_ack": true});
    let res = crate::orders::order(&app, Some(&buyer), trial_order(2), None).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("quantity")), "{}", res.body);
    let res = crate::orders::order(&app, Some(&buyer), trial_order(1), None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = crate::orders::order(&app, Some(&buyer), trial_order(1), None).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("order.trial_once")));

    // Racing requests for a trial item: exactly one order, however they interleave.
    let racer = user(&app, "trial_r", Role::Buyer).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, racer) = (&app, racer.clone());
        tasks.push(async move {
            crate::orders::order(
                app,
                Some(&racer),
                json!({"product_id": trial, "quantity": 1, "warranty_ack": true}),
                None,
            )
            .await
        });
    }
    let results = futures_join_all(tasks).await;
    let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{:?}", results.iter().map(|r| r.body.clone()).collect::<Vec<_>>());
    assert!(results.iter().all(|r| r.status == StatusCode::CREATED || r.json()["code"] == "order.trial_once"));

    // Having ordered from the shop, the buyer is no longer asked.
    let res = crate::orders::order(&app, Some(&buyer), unconfirmed, None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    // A guest's first order is always a first order.
    let guest = json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": "g@example.com", "first_order_confirmed": false});
    assert_eq!(crate::orders::order(&app, None, guest, None).await.status, StatusCode::CONFLICT);

    // The product page shows the guidance, the trial link and a required confirmation; the record shows after.
    let mut b = app.browser();
    let page = b.get(&format!("/p/{product}")).await;
    assert!(page.body.contains("id=\"trial-guidance\""), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/p/{trial}\"")));
    assert!(page.body.contains("id=\"trust-panel\""));
}

#[tokio::test]
async fn trial_items_and_first_order_guidance_sqlite() {
    trial_story(TestApp::new().await).await;
}

#[tokio::test]
async fn trial_items_and_first_order_guidance_postgres() {
    if let Some(app) = TestApp::postgres().await {
        trial_story(app).await;
    }
}

/// Chat: the scanner flags a disguised WeChat id from the merchant; the buyer sees it masked with a warning, the
/// merchant sees their own words flagged; repeated events queue the shop for an admin; bad input and flooding
/// are refused; the complaint package carries the chat.
async fn chat_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("chat_m").await;
    app.import(&merchant, product, "CH-0001\nCH-0002\n").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let (buyer, no) = delivered_order(&app, "chat_b", product).await;
    let buyer_path = format!("/api/v1/orders/{no}/messages");
    let merchant_path = format!("/api/v1/merchant/orders/{no}/messages");

    let res = app
        .api("POST", &buyer_path, Some(&buyer), Some(json!({"body": "卡密 ABCD-EFGH-1234 提示无效，订单号在上面"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert!(res.json()[0]["warning"].is_null(), "ordinary talk about keys is not flagged: {}", res.body);

    let disguised = "亲，补单请加 威❤信：ｋａｂａｏ＿８８８，私聊更快";
    let res = app.api("POST", &merchant_path, Some(&merchant), Some(json!({"body": disguised}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let mine = &res.json()[1];
    assert_eq!(mine["body"], disguised, "the sender sees their own words");
    assert!(mine["warning"].as_str().unwrap().contains("风控"), "{mine}");

    let seen = app.api("GET", &buyer_path, Some(&buyer), None).await.json();
    let line = &seen[1];
    assert_eq!(line["masked"], true, "{line}");
    assert!(!line["body"].as_str().unwrap().contains("ｋａｂａｏ"), "the id is masked: {line}");
    assert!(line["body"].as_str().unwrap().contains('*'));
    assert!(line["warning"].as_str().unwrap().contains("平台外交易不受保护"), "{line}");
    assert!(line["rules"].as_array().unwrap().iter().any(|r| r == "contact.wechat"), "{line}");

    // Bad input changes nothing; strangers cannot read or write.
    let res = app.api("POST", &buyer_path, Some(&buyer), Some(json!({"body": "  "}))).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("body")));
    let res = app.api("POST", &buyer_path, Some(&buyer), Some(json!({"body": "长".repeat(1001)}))).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("chat.too_long")));
    let (other, _) = app.merchant_with_product("chat_o").await;
    assert_eq!(
        app.api("GET", &format!("/api/v1/merchant/orders/{no}/messages"), Some(&other), None).await.status,
        StatusCode::NOT_FOUND
    );
    let stranger = user(&app, "chat_x", Role::Buyer).await;
    assert_eq!(app.api("GET", &buyer_path, Some(&stranger), None).await.status, StatusCode::NOT_FOUND);
    let arbiter = user(&app, "chat_arb", Role::Arbiter).await;
    assert_eq!(
        app.api("GET", &format!("/api/v1/arbiter/orders/{no}/messages"), Some(&arbiter), None).await.status,
        StatusCode::NOT_FOUND,
        "no dispute, no arbiter"
    );
    assert_eq!(
        app.api("GET", &buyer_path, Some(&buyer), None).await.json().as_array().unwrap().len(),
        2,
        "nothing was stored"
    );

    // Flooding: six messages a minute per party.
    for i in 0..5 {
        let res = app.api("POST", &buyer_path, Some(&buyer), Some(json!({"body": format!("第 {i} 条")}))).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let res = app.api("POST", &buyer_path, Some(&buyer), Some(json!({"body": "太多了"}))).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::TOO_MANY_REQUESTS, json!("chat.too_fast")));
    assert_eq!(res.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("60"), "every 429 says when");
    app.clock.advance_seconds(61);
    assert_eq!(
        app.api("POST", &buyer_path, Some(&buyer), Some(json!({"body": "好了"}))).await.status,
        StatusCode::CREATED
    );

    // Three risky messages put the shop in the admin's queue.
    let admin = admin_token(&app).await;
    assert!(app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json().as_array().unwrap().is_empty());
    for body in ["先转账 50 手续费再给你补单", "扫这个收款码付款"] {
        assert_eq!(
            app.api("POST", &merchant_path, Some(&merchant), Some(json!({"body": body}))).await.status,
            StatusCode::CREATED
        );
    }
    let queue = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json();
    assert_eq!((queue[0]["shop_id"].as_i64(), queue[0]["open_events"].as_i64()), (Some(shop), Some(3)), "{queue}");
    let res = app
        .api(
            "POST",
            &format!("/api/v1/admin/risk/shops/{shop}/review"),
            Some(&admin),
            Some(json!({"outcome": "maybe", "note": "x"})),
        )
        .await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("outcome")));
    let res = app
        .api(
            "POST",
            &format!("/api/v1/admin/risk/shops/{shop}/review"),
            Some(&admin),
            Some(json!({"outcome": "confirmed", "note": "引导站外交易", "suspend": true})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert!(app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json().as_array().unwrap().is_empty());
    assert_eq!(
        app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.status,
        StatusCode::NOT_FOUND,
        "suspended"
    );

    // The complaint package carries the chat as the buyer saw it.
    let (status, _, zip) = app.get_bytes(&format!("/api/v1/orders/{no}/complaint-package"), Some(&buyer)).await;
    assert_eq!(status, StatusCode::OK);
    let files = kabao_app::bundle::unzip(&zip).unwrap();
    let chat = files
        .iter()
        .find(|(p, _)| p == "chat/messages.json")
        .map(|(_, b)| String::from_utf8_lossy(b).to_string())
        .unwrap();
    assert!(chat.contains("contact.wechat") && !chat.contains("ｋａｂａｏ"), "{chat}");
    assert!(kabao_app::bundle::verify(&zip).unwrap().problems.is_empty(), "the package still verifies");
}

#[tokio::test]
async fn chat_is_scanned_masked_for_the_buyer_and_queued_for_review_sqlite() {
    chat_story(TestApp::new().await).await;
}

#[tokio::test]
async fn chat_is_scanned_masked_for_the_buyer_and_queued_for_review_postgres() {
    if let Some(app) = TestApp::postgres().await {
        chat_story(app).await;
    }
}

/// A claim filed seconds after revealing several keys, and several accounts on one device, are shown to the
/// merchant as signals; nothing else happens to the claim.
async fn signals_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("sig_m").await;
    app.import(&merchant, product, "SG-0001\nSG-0002\nSG-0003\nSG-0004\nSG-0005\nSG-0006\n").await;
    let mut device_accounts = Vec::new();
    for name in ["sig_a", "sig_b", "sig_c"] {
        let buyer = user(&app, name, Role::Buyer).await;
        top_up(&app, &buyer, 5_000).await;
        device_accounts.push(buyer);
    }
    let mut orders = Vec::new();
    for (i, buyer) in device_accounts.iter().enumerate() {
        let q = if i == 0 { 3 } else { 1 };
        let req = axum::http::Request::post("/api/v1/orders")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {buyer}"))
            .header("x-device-id", "device-of-one-person")
            .body(axum::body::Body::from(
                json!({"product_id": product, "quantity": q, "warranty_ack": true, "first_order_confirmed": true})
                    .to_string(),
            ))
            .unwrap();
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let no = res.json()["order_no"].as_str().unwrap().to_string();
        assert_eq!(
            app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(buyer), None).await.status,
            StatusCode::OK
        );
        orders.push(no);
    }
    let (buyer, no) = (&device_accounts[0], &orders[0]);
    app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(buyer), None).await;
    app.clock.advance_seconds(5);
    let res = crate::claims::file_claim(
        &app,
        (Some(buyer), None),
        &format!("/api/v1/orders/{no}/claims"),
        &[("item", "1"), ("defect", "invalid_key"), ("error_text", "无效")],
        &[("s.png", &crate::claims::png("s"))],
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let queue = app.api("GET", "/api/v1/merchant/claims", Some(&merchant), None).await.json();
    let codes: Vec<&str> =
        queue["claims"][0]["signals"].as_array().unwrap().iter().map(|s| s["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["fast_claim_after_reveals", "shared_device"], "{queue}");
    assert!(queue["claims"][0]["signals"][0]["zh"].as_str().unwrap().contains("查看 3 个卡密后 5 秒内"), "{queue}");
    // The buyer never sees them, and the claim is handled as any other.
    let mine = app.api("GET", &format!("/api/v1/orders/{no}/claims"), Some(buyer), None).await;
    assert!(!mine.body.contains("signals"), "{}", mine.body);
}

#[tokio::test]
async fn buyer_signals_are_shown_to_the_merchant_never_applied_sqlite() {
    signals_story(TestApp::new().await).await;
}

#[tokio::test]
async fn buyer_signals_are_shown_to_the_merchant_never_applied_postgres() {
    if let Some(app) = TestApp::postgres().await {
        signals_story(app).await;
    }
}

/// 金牌卖家 is granted from a sustained record (a year open, certified, 100 deliveries in 90 days, ratings at the
/// category average, nothing open against the shop) and withdrawn when the record lapses.
async fn gold_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("gold_m").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let admin = admin_token(&app).await;
    let res = app
        .api(
            "POST",
            "/api/v1/merchant/certification",
            Some(&merchant),
            Some(json!({"level": "verified", "real_name": "王五", "id_number": ID_NUMBER, "phone": "13900139000"})),
        )
        .await;
    let id = res.json()["id"].as_i64().unwrap();
    let res = app
        .api(
            "POST",
            &format!("/api/v1/admin/certifications/{id}/decision"),
            Some(&admin),
            Some(json!({"decision": "approve", "reason": "ok"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    app.clock.advance_seconds(400 * 86_400);
    let now = app.state.clock.now();
    let buyer = kabao_app::accounts::create_user(&*app.state.store, "gold_b", "password-pass-1", Role::Buyer, None, T0)
        .await
        .unwrap()
        .id;
    assert_eq!(kabao_app::trust::review_gold(&app.state).await.unwrap(), 0, "no record yet");
    for i in 0..100 {
        let order = store_delivered_order(&app, &format!("K{i:026}"), buyer, shop, product, now).await;
        if i < 5 {
            let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
            tx.insert_review(&kabao_store::ReviewRecord {
                id: 0,
                order_id: order,
                shop_id: kabao_core::ShopId(shop),
                product_id: kabao_core::ProductId(product),
                buyer_id: buyer,
                category: kabao_core::catalog::Category::GameCard,
                described: 5,
                service: 5,
                delivery: 5,
                tags_json: "[]".into(),
                body: String::new(),
                reissue: 0,
                reply: None,
                replied_at: None,
                created_at: now,
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    }
    assert_eq!(kabao_app::trust::review_gold(&app.state).await.unwrap(), 1);
    assert_eq!(app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.json()["certification"], "gold");
    assert_eq!(kabao_app::trust::review_gold(&app.state).await.unwrap(), 0, "nothing changes while the record holds");

    // A flagged chat message is an open risk event: gold is withdrawn back to the level the admin approved.
    {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
        tx.insert_risk_event(&kabao_store::RiskEvent {
            id: 0,
            kind: "chat".into(),
            shop_id: Some(kabao_core::ShopId(shop)),
            user_id: None,
            order_id: None,
            message_id: None,
            rules_json: r#"["contact.wechat"]"#.into(),
            state: "open".into(),
            review_note: None,
            reviewed_by: None,
            reviewed_at: None,
            created_at: now,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(kabao_app::trust::review_gold(&app.state).await.unwrap(), 1);
    assert_eq!(app.api("GET", &format!("/api/v1/shops/{shop}"), None, None).await.json()["certification"], "verified");
}

#[tokio::test]
async fn gold_is_granted_from_the_record_and_withdrawn_when_it_lapses_sqlite() {
    gold_story(TestApp::new().await).await;
}

#[tokio::test]
async fn gold_is_granted_from_the_record_and_withdrawn_when_it_lapses_postgres() {
    if let Some(app) = TestApp::postgres().await {
        gold_story(app).await;
    }
}

/// The pages: the buyer reviews from the order page and chats there; the merchant replies to the review, chats
/// from the console and applies for certification; the admin approves it on the trust page. Text is escaped
/// everywhere it is shown, refusals are shown on the page in Chinese, and nothing is half-done.
#[tokio::test]
async fn pages_for_reviews_chat_and_certification() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("page_m").await;
    app.import(&merchant, product, "PG-0001\nPG-0002\n").await;
    let (_, no) = delivered_order(&app, "page_b", product).await;
    let mut b = app.browser();
    assert_eq!(b.login("page_b", "password-pass-1").await.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/o/{no}")).await;
    assert!(page.body.contains("id=\"review-form\"") && page.body.contains("id=\"chat-form\""), "{}", page.body);
    let csrf = b.csrf();
    let res = b
        .post(
            &format!("/o/{no}/review"),
            &[("described", "9"), ("service", "5"), ("delivery", "5"), ("body", "x")],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("评分须为 1 到 5 星"), "{}", res.body);
    let res = b
        .post(
            &format!("/o/{no}/review"),
            &[
                ("described", "4"),
                ("service", "5"),
                ("delivery", "5"),
                ("tag_reissue_by_the_rules", "on"),
                ("body", "<img src=x onerror=alert(1)>不错"),
            ],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = b.get(&format!("/o/{no}")).await;
    assert!(page.body.contains("id=\"my-review\"") && !page.body.contains("id=\"review-form\""));
    assert!(!page.body.contains("<img src=x"), "escaped");
    assert!(page.body.contains("补单流程规范"));

    // The buyer writes; the merchant answers from the console with a disguised contact; the buyer sees it masked.
    let res = b.post(&format!("/o/{no}/messages"), &[("body", "<script>x()</script>卡密无效")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let mut m = app.browser();
    assert_eq!(m.login("page_m", "merchant-pass-1").await.status, StatusCode::SEE_OTHER);
    let chat = m.get(&format!("/console/orders/{no}/chat")).await;
    assert_eq!(chat.status, StatusCode::OK);
    assert!(!chat.body.contains("<script>x()"), "escaped for the merchant too");
    let mcsrf = m.csrf();
    let res = m
        .post(&format!("/console/orders/{no}/chat"), &[("body", "加我 V 信：scam_seller_01 私下补")], Some(&mcsrf))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = m.post(&format!("/console/orders/{no}/chat"), &[("body", "")], Some(&mcsrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("消息不能为空"), "{}", res.body);
    let page = b.get(&format!("/o/{no}")).await;
    assert!(!page.body.contains("scam_seller_01"), "masked for the buyer");
    assert!(page.body.contains("class=\"form-error chat-warning\""), "{}", page.body);

    // The merchant replies to the review once.
    let reviews = m.get("/console/reviews").await;
    let id = reviews.body.split("/console/reviews/").nth(1).unwrap().split('/').next().unwrap().to_string();
    let res = m.post(&format!("/console/reviews/{id}/reply"), &[("reply", "感谢<b>支持</b>")], Some(&mcsrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = m.post(&format!("/console/reviews/{id}/reply"), &[("reply", "again")], Some(&mcsrf)).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.body.contains("每条评价只能回复一次"));
    let shop_page = app.get(&format!("/p/{product}")).await;
    assert!(shop_page.body.contains("感谢&#60;b&#62;支持&#60;/b&#62;"), "{}", shop_page.body);

    // Certification from the console: a refusal says why and does not echo the id number back.
    let page = m.get("/console/certification").await;
    assert!(page.body.contains("id=\"cert-form\"") && page.body.contains("id=\"gold-shortfalls\""));
    let bad =
        [("level", "verified"), ("real_name", "赵六"), ("id_number", "110105194912310021"), ("phone", "13800138000")];
    let res = m.post("/console/certification", &bad, Some(&mcsrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("身份证号码无效") && !res.body.contains("110105194912310021"), "{}", res.body);
    let good = [("level", "verified"), ("real_name", "赵六"), ("id_number", ID_NUMBER), ("phone", "13800138000")];
    assert_eq!(m.post("/console/certification", &good, Some(&mcsrf)).await.status, StatusCode::SEE_OTHER);
    let page = m.get("/console/certification").await;
    assert!(page.body.contains("110***********002X") && page.body.contains("审核中"), "{}", page.body);

    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    let mut a = app.browser();
    assert_eq!(a.login("admin", &password).await.status, StatusCode::SEE_OTHER);
    let page = a.get("/admin/trust").await;
    assert!(page.body.contains("赵六"), "{}", page.body);
    let app_id = page.body.split("/admin/certifications/").nth(1).unwrap().split('/').next().unwrap().to_string();
    let acsrf = a.csrf();
    let res = a
        .post(
            &format!("/admin/certifications/{app_id}/decision"),
            &[("decision", "approve"), ("reason", "")],
            Some(&acsrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = a
        .post(
            &format!("/admin/certifications/{app_id}/decision"),
            &[("decision", "approve"), ("reason", "核验通过")],
            Some(&acsrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = m.get("/console/certification").await;
    assert!(page.body.contains("已通过"), "{}", page.body);
    // A buyer cannot reach the admin page or the console.
    assert_eq!(b.get("/admin/trust").await.status, StatusCode::FORBIDDEN);
}

/// Runs futures concurrently on this task (no extra crate: a poll loop over pinned futures).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}
