//! Extended warranty (延保) over the API, on both backends: offered only on products whose merchant window is
//! shorter than 30 days, bought at checkout at the quoted premium, and a claim filed after the merchant's window
//! and before `extended_until` is paid by the insurance pool (queued while the pool is short), with nothing taken
//! from the merchant; a claim after `extended_until` is refused.

use crate::app::TestApp;
use crate::claims::{file_claim, png, reveal, set_template};
use crate::orders::{buyer, top_up};
use axum::http::StatusCode;
use kabao_core::insurance::{quote_extension, QuoteInputs, Sample};
use kabao_core::ledger::Account;
use kabao_core::Money;

async fn balance(app: &TestApp, a: Account) -> i64 {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.balance(a).await.unwrap().fen()
}

async fn order_id(app: &TestApp, no: &str) -> kabao_core::ledger::OrderId {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.order_by_no(no).await.unwrap().unwrap().id
}

async fn payouts(app: &TestApp, no: &str) -> Vec<kabao_store::Payout> {
    let id = order_id(app, no).await;
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.order_payouts(id).await.unwrap()
}

async fn buy(app: &TestApp, token: &str, body: serde_json::Value) -> String {
    let res = crate::orders::order(app, Some(token), body, None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let no = res.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    no
}

async fn file(app: &TestApp, token: &str, no: &str) -> serde_json::Value {
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let path = format!("/api/v1/orders/{no}/claims");
    let res = file_claim(app, (Some(token), None), &path, &fields, &[("s.png", &png("x"))], None).await;
    assert!(res.status.is_success(), "{}", res.body);
    res.json()
}

async fn extension_story(app: TestApp) {
    // A 30-day window is not extended.
    let (long_merchant, long) = app.merchant_with_product("ext_long_seller").await;
    set_template(&app, &long_merchant, long, "account_30d").await;
    app.import(&long_merchant, long, "LONG-0001\n").await;
    let res = app.api("GET", &format!("/api/v1/products/{long}/insurance-quote"), None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.json()["extension"].is_null(), "{}", res.body);

    // A 7-day window is extended by 23 days, priced by the extension model.
    let (merchant, product) = app.merchant_with_product("ext_seller").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let trust =
        app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await.json()["score"].as_u64().unwrap();
    let quote = app.api("GET", &format!("/api/v1/products/{product}/insurance-quote"), None, None).await.json();
    let empty = Sample { claims: 0, orders: 0 };
    let inputs = QuoteInputs {
        price: Money::from_fen(990),
        category: empty,
        platform: empty,
        trust_score: u8::try_from(trust).unwrap(),
    };
    let ext = &quote["extension"];
    assert_eq!(ext["days"], 23, "{quote}");
    assert_eq!(ext["premium_fen"].as_i64(), Some(quote_extension(&inputs, 23).unwrap().premium.fen()), "{quote}");
    assert!(ext["reasons"].as_array().unwrap().iter().any(|r| r["code"] == "extension"), "{quote}");
    assert!(ext["summary_zh"].as_str().unwrap().contains("延保 23 天"), "{quote}");
    let (cover, extension) = (quote["premium_fen"].as_i64().unwrap(), ext["premium_fen"].as_i64().unwrap());

    app.import(&merchant, product, "EXT-0001\nEXT-0002\n").await;
    let token = buyer(&app, "ext_buyer").await;
    top_up(&app, &token, 5_000).await;
    // A premium other than the quoted one (or none) is refused naming the field; nothing is created.
    for seen in [serde_json::json!(extension + 1), serde_json::Value::Null] {
        let body = serde_json::json!({"product_id": product, "quantity": 1, "warranty_ack": true,
            "extended_warranty": true, "extended_premium": seen});
        let res = crate::orders::order(&app, Some(&token), body, None).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert_eq!(
            (res.json()["error"].clone(), res.json()["field"].clone()),
            ("insurance.premium_changed".into(), "extended_premium".into())
        );
    }
    let body = serde_json::json!({"product_id": long, "quantity": 1, "warranty_ack": true,
        "extended_warranty": true, "extended_premium": 10});
    let res = crate::orders::order(&app, Some(&token), body, None).await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::CONFLICT, "insurance.no_extension".into()));
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    assert!(tx.list_shop_orders(kabao_core::ShopId(shop), 10, 0).await.unwrap().is_empty(), "nothing created");
    let long_shop = app.api("GET", "/api/v1/merchant/shop", Some(&long_merchant), None).await.json()["id"].clone();
    let long_shop = kabao_core::ShopId(long_shop.as_i64().unwrap());
    assert!(tx.list_shop_orders(long_shop, 10, 0).await.unwrap().is_empty(), "nothing created");
    drop(tx);

    // Order A buys the extension alone, order B both the cover and the extension: both premiums go to the pool.
    let a = buy(
        &app,
        &token,
        serde_json::json!({"product_id": product, "quantity": 1, "warranty_ack": true,
        "extended_warranty": true, "extended_premium": extension}),
    )
    .await;
    let b = buy(
        &app,
        &token,
        serde_json::json!({"product_id": product, "quantity": 1, "warranty_ack": true,
        "insurance": true, "insurance_premium": cover, "extended_warranty": true, "extended_premium": extension}),
    )
    .await;
    assert_eq!(crate::claims::wallet(&app, &token).await, 5_000 - 2 * 990 - 2 * extension - cover);
    assert_eq!(balance(&app, Account::InsurancePool).await, 2 * extension + cover);
    reveal(&app, &token, &a).await;
    reveal(&app, &token, &b).await;
    crate::orders::verify_books(&app).await;

    // Day 10: the merchant's window has closed (escrow not yet settled); A's claim stands on the extension and
    // is the pool's, queued while the pool is short.
    let run = || async { kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap() };
    app.clock.advance_seconds(10 * 86_400);
    let token = app.token("ext_buyer", "buyer-pass-1").await;
    let wallet_before = crate::claims::wallet(&app, &token).await;
    let filed = file(&app, &token, &a).await;
    assert_eq!(filed["claim"]["eligible"], true, "{filed}");
    let claim_no = filed["claim"]["claim_no"].as_str().unwrap().to_string();
    let queued = payouts(&app, &a).await;
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].state, queued[0].amount.fen()), (kabao_store::PayoutState::Pending, 990));
    assert!(filed["claim"]["due_at"].is_null(), "no merchant deadline in the extension: {filed}");
    // Escrow settles as usual (the merchant's window): the pool's claim does not hold it.
    run().await;
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let settled = tx.order_by_no(&a).await.unwrap().unwrap().state;
    assert_eq!(settled, kabao_core::order::OrderState::Settled);
    drop(tx);
    let merchant_before = balance(&app, Account::MerchantAvailable(kabao_core::ShopId(shop))).await;
    let escrow_before = balance(&app, Account::Escrow(order_id(&app, &a).await)).await;
    assert_eq!(escrow_before, 0);
    // The merchant cannot reject the pool's claim away (a rejection would cancel the queued payout).
    let merchant_now = app.token("ext_seller", "merchant-pass-1").await;
    let body = serde_json::json!({"decision": "reject", "reason": "已过质保期"});
    let res = crate::claims::decide(&app, &merchant_now, &claim_no, body).await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::CONFLICT, "claim.insurance_holds".into()));

    // Premiums of four insured orders (capped now that the category has a claim) fund the pool; the next pass
    // pays the buyer from the pool, once, and takes nothing from the merchant.
    app.import(&merchant, product, "FUND-0001\nFUND-0002\nFUND-0003\nFUND-0004\n").await;
    app.clock.advance_seconds(3_600);
    let funder = buyer(&app, "ext_funder").await;
    top_up(&app, &funder, 10_000).await;
    for _ in 0..4 {
        let p = crate::insurance::premium(&app, product).await;
        let res = crate::insurance::insured_order(&app, &funder, product, p).await;
        let o = res.json()["order_no"].as_str().unwrap().to_string();
        let res = app.api("POST", &format!("/api/v1/orders/{o}/pay/wallet"), Some(&funder), None).await;
        assert_eq!(res.json()["state"], "delivered", "{}", res.body);
    }
    let pool_before = balance(&app, Account::InsurancePool).await;
    assert!(pool_before >= 990, "{pool_before}");
    assert_eq!(run().await.insurance_paid, Some(1));
    assert_eq!(run().await.insurance_paid, Some(0), "paid once");
    assert_eq!(payouts(&app, &a).await[0].state, kabao_store::PayoutState::Paid);
    assert_eq!(crate::claims::wallet(&app, &token).await, wallet_before + 990, "the buyer got the price");
    assert_eq!(balance(&app, Account::InsurancePool).await, pool_before - 990, "nothing recovered");
    assert_eq!(balance(&app, Account::MerchantAvailable(kabao_core::ShopId(shop))).await, merchant_before);
    assert_eq!(balance(&app, Account::InsuranceReceivable(kabao_core::ShopId(shop))).await, 0);
    assert_eq!(balance(&app, Account::Escrow(order_id(&app, &a).await)).await, escrow_before);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let claim = tx.claim_by_no(&claim_no).await.unwrap().unwrap();
    assert_eq!(claim.state, kabao_core::claim::ClaimState::Refunded);
    let events = tx.order_events(order_id(&app, &a).await).await.unwrap();
    let paid: Vec<_> = events.iter().filter(|e| e.kind == "insurance.paid").collect();
    assert_eq!(paid.len(), 1);
    assert!(paid[0].body.contains("\"recovered\":\"none\""), "{}", paid[0].body);
    drop(tx);
    crate::orders::verify_books(&app).await;

    // Day 31: past B's extended_until (30 days after the order) a claim is refused, and nothing is paid.
    app.clock.advance_seconds(21 * 86_400);
    let token = app.token("ext_buyer", "buyer-pass-1").await;
    let filed = file(&app, &token, &b).await;
    assert_eq!(filed["claim"]["eligible"], false, "{filed}");
    assert!(filed["claim"]["reasons"].to_string().contains("claim.window_closed"), "{filed}");
    run().await;
    assert!(payouts(&app, &b).await.is_empty());
    crate::orders::verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_extended_warranty_is_quoted_for_short_windows_and_its_claims_are_paid_by_the_pool() {
    extension_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_extended_warranty_is_quoted_for_short_windows_and_its_claims_are_paid_by_the_pool() {
    if let Some(app) = TestApp::postgres().await {
        extension_story(app).await;
    }
}

/// The product page offers the extension beside the insurance add-on, with its price and reasons, only for a short
/// window; a ticked box at a changed premium creates nothing; the order page then shows both windows and who stands
/// behind each.
#[tokio::test]
async fn product_page_offers_the_extension_and_the_order_page_shows_both_windows() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("ext_page_seller").await;
    app.import(&merchant, product, "EXTP-0001\n").await;
    let mut guest = app.browser();
    set_template(&app, &merchant, product, "account_30d").await;
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(page.body.contains("insurance-addon") && !page.body.contains("extension-addon"), "{}", page.body);
    set_template(&app, &merchant, product, "license_key_7d").await;
    let quote = app.api("GET", &format!("/api/v1/products/{product}/insurance-quote"), None, None).await.json();
    let unit = quote["extension"]["premium_fen"].as_i64().unwrap();
    let shown = Money::from_fen(unit).to_string();
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(page.body.contains(&format!("加购平台延保：{shown} / 件（商家质保结束后再保 23 天")), "{}", page.body);
    assert!(page.body.contains("id=\"extension-reasons\"") && page.body.contains("延保 23 天"), "{}", page.body);
    let csrf = guest.csrf();
    let buy = |premium: String| {
        vec![
            ("quantity", "1".to_string()),
            ("guest_email", "g@example.com".to_string()),
            ("warranty_ack", "on".to_string()),
            ("first_order_confirmed", "on".to_string()),
            ("extended_warranty", premium),
        ]
    };
    let fields = buy((unit + 1).to_string());
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = guest.post(&format!("/p/{product}/buy"), &fields, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains(&format!("平台延保保费已变为 {shown}")), "{}", res.body);
    let fields = buy(unit.to_string());
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = guest.post(&format!("/p/{product}/buy"), &fields, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let no = res.location().trim_start_matches("/o/").to_string();
    let order_page = guest.get(res.location()).await.body;
    assert!(order_page.contains("商家质保 至 交付后 7 天"), "{order_page}");
    assert!(order_page.contains("平台延保 至 "), "{order_page}");
    assert!(!order_page.contains("已投保质保险"), "an extension alone is not warranty insurance: {order_page}");
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(&no).await.unwrap().unwrap();
    let cover = tx.cover_of(order.id).await.unwrap().unwrap();
    assert_eq!((cover.kind, cover.premium.fen()), (kabao_store::CoverKind::Extension, unit));
    assert_eq!(cover.extended_until, Some(order.created_at.plus_seconds(30 * 86_400)));
}

#[tokio::test]
async fn the_contract_documents_the_extension_quote_and_the_checkout_fields() {
    let app = TestApp::new().await;
    let doc = app.get("/api/openapi.json").await.json();
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["ExtensionQuoteView"]["properties"]["days"].is_object(), "{}", schemas["ExtensionQuoteView"]);
    assert!(schemas["InsuranceQuoteView"]["properties"]["extension"].is_object());
    let input = &schemas["OrderInput"]["properties"];
    assert!(input["extended_warranty"].is_object() && input["extended_premium"].is_object(), "{input}");
}
