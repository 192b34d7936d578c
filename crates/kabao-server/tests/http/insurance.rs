//! Warranty insurance (质保险) over the API, on both backends: the quote is priced from the category's 90-day
//! claim window, the platform's and the shop's trust score, shows its reasons, and is refused for 无质保 products.

use crate::app::TestApp;
use crate::claims::{bought, file_claim, png, reveal, set_template};
use crate::orders::{buyer, top_up};
use axum::http::StatusCode;
use kabao_core::insurance::{quote, QuoteInputs, Sample};
use kabao_core::Money;

async fn quote_story(app: TestApp) {
    // Not "insured_seller": the scanner reads "ins" + "ured_seller" as an Instagram id, which holds the shop.
    let (merchant, product) = app.merchant_with_product("quote_seller").await;
    let path = format!("/api/v1/products/{product}/insurance-quote");
    // 无质保: nothing to insure.
    let res = app.api("GET", &path, None, None).await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::CONFLICT, "insurance.no_policy".into()));
    assert_eq!(
        app.api("GET", "/api/v1/products/999999/insurance-quote", None, None).await.status,
        StatusCode::NOT_FOUND
    );

    set_template(&app, &merchant, product, "license_key_7d").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let trust =
        app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await.json()["score"].as_u64().unwrap();
    let trust_score = u8::try_from(trust).unwrap();

    // A new platform: no claims, no orders — the platform's default rate, and the quote says it shrank.
    let res = app.api("GET", &path, None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let first = res.json();
    let empty = Sample { claims: 0, orders: 0 };
    let inputs = QuoteInputs { price: Money::from_fen(990), category: empty, platform: empty, trust_score };
    let expected = quote(&inputs).unwrap();
    assert_eq!(first["premium_fen"].as_i64(), Some(expected.premium.fen()), "{first}");
    assert_eq!(first["price_fen"], 990);
    let summary = first["summary_zh"].as_str().unwrap();
    assert!(summary.contains("样本较少") && summary.contains(&format!("店铺信用 {trust_score} 分")), "{summary}");
    assert_eq!(first["reasons"][0]["code"], "shrunk_toward_platform");
    assert!(first["summary_en"].as_str().unwrap().contains("shop trust"));

    // One order paid and claimed in the window: the category's (and platform's) rate is now 100 %, and the
    // premium is capped at 30 % of the price.
    app.import(&merchant, product, "INS-0001\nINS-0002\n").await;
    let token = buyer(&app, "insured_buyer").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    reveal(&app, &token, &no).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let res = file_claim(
        &app,
        (Some(&token), None),
        &format!("/api/v1/orders/{no}/claims"),
        &fields,
        &[("s.png", &png("i"))],
        None,
    )
    .await;
    assert!(res.status.is_success(), "{}", res.body);
    // The window is the 90 days ending at the start of the hour: the sale and the claim count from the next.
    app.clock.advance_seconds(3_600);
    let res = app.api("GET", &path, None, None).await.json();
    let trust_now =
        app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await.json()["score"].as_u64().unwrap();
    let one = Sample { claims: 1, orders: 1 };
    let inputs = QuoteInputs { category: one, platform: one, trust_score: u8::try_from(trust_now).unwrap(), ..inputs };
    assert_eq!(res["premium_fen"].as_i64(), Some(quote(&inputs).unwrap().premium.fen()));
    assert_eq!(res["premium_fen"], 297, "{res}");
    assert!(res["reasons"].as_array().unwrap().iter().any(|r| r["code"] == "capped_at_maximum"), "{res}");

    // Ninety days later the claim and the order have left the window.
    app.clock.advance_seconds(91 * 86_400);
    let res = app.api("GET", &path, None, None).await.json();
    assert!(res["summary_zh"].as_str().unwrap().contains("近 90 天 0 单"), "{res}");
}

#[tokio::test]
async fn sqlite_insurance_quote_is_priced_from_the_claim_window_with_reasons() {
    quote_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_insurance_quote_is_priced_from_the_claim_window_with_reasons() {
    if let Some(app) = TestApp::postgres().await {
        quote_story(app).await;
    }
}

pub(crate) async fn premium(app: &TestApp, product: i64) -> i64 {
    let path = format!("/api/v1/products/{product}/insurance-quote");
    app.api("GET", &path, None, None).await.json()["premium_fen"].as_i64().unwrap()
}

async fn pool(app: &TestApp) -> i64 {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.balance(kabao_core::ledger::Account::InsurancePool).await.unwrap().fen()
}

pub(crate) async fn insured_order(app: &TestApp, token: &str, product: i64, premium_fen: i64) -> crate::app::Res {
    let body = serde_json::json!({"product_id": product, "quantity": 1, "warranty_ack": true,
        "insurance": true, "insurance_premium": premium_fen});
    crate::orders::order(app, Some(token), body, None).await
}

async fn checkout_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("pool_seller").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    app.import(&merchant, product, "POOL-0001\n").await;
    let token = buyer(&app, "pool_buyer").await;
    top_up(&app, &token, 5_000).await;

    // A premium other than the quoted one (or none) is refused, naming the premium now; nothing is created.
    let quoted = premium(&app, product).await;
    for seen in [serde_json::json!(quoted + 1), serde_json::Value::Null] {
        let body = serde_json::json!({"product_id": product, "quantity": 1, "warranty_ack": true,
            "insurance": true, "insurance_premium": seen});
        let res = crate::orders::order(&app, Some(&token), body, None).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert_eq!(
            (res.json()["error"].clone(), res.json()["field"].clone()),
            ("insurance.premium_changed".into(), "insurance_premium".into())
        );
    }
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    assert!(tx.list_shop_orders(kabao_core::ShopId(shop), 10, 0).await.unwrap().is_empty(), "nothing created");
    drop(tx);

    // At the quoted premium: paid with the order from the wallet, into the pool.
    let res = insured_order(&app, &token, product, quoted).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let no = res.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    assert_eq!(crate::claims::wallet(&app, &token).await, 5_000 - 990 - quoted);
    assert_eq!(pool(&app).await, quoted);
    crate::orders::verify_books(&app).await;

    // Two insured orders for the last key: the one whose payment finds no stock gets its premium back too.
    app.import(&merchant, product, "POOL-0002\n").await;
    let other = buyer(&app, "pool_buyer2").await;
    top_up(&app, &other, 5_000).await;
    let second = premium(&app, product).await;
    let a = insured_order(&app, &token, product, second).await.json()["order_no"].as_str().unwrap().to_string();
    let b = insured_order(&app, &other, product, second).await.json()["order_no"].as_str().unwrap().to_string();
    let res = app.api("POST", &format!("/api/v1/orders/{a}/pay/wallet"), Some(&token), None).await;
    assert_eq!(res.json()["state"], "delivered", "{}", res.body);
    let res = app.api("POST", &format!("/api/v1/orders/{b}/pay/wallet"), Some(&other), None).await;
    assert_eq!(res.json()["state"], "refunded", "{}", res.body);
    assert_eq!(crate::claims::wallet(&app, &other).await, 5_000, "price and premium both returned");
    assert_eq!(pool(&app).await, quoted + second);
    crate::orders::verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_insurance_premium_is_paid_with_the_order_into_the_pool_and_refunded_with_it() {
    checkout_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_insurance_premium_is_paid_with_the_order_into_the_pool_and_refunded_with_it() {
    if let Some(app) = TestApp::postgres().await {
        checkout_story(app).await;
    }
}

/// The product page offers the add-on with its price and reasons before paying; a ticked box at a changed premium
/// shows the new one and creates nothing, the shown one creates an insured order.
#[tokio::test]
async fn product_page_offers_insurance_with_price_and_reasons_before_paying() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("page_insurer").await;
    app.import(&merchant, product, "PAGE-0001\n").await;
    let mut guest = app.browser();
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(!page.body.contains("insurance-addon"), "无质保: no add-on");
    set_template(&app, &merchant, product, "license_key_7d").await;
    let quoted = premium(&app, product).await;
    let page = guest.get(&format!("/p/{product}")).await;
    let shown = Money::from_fen(quoted).to_string();
    assert!(page.body.contains(&format!("加购质保险：{shown} / 件")), "{}", page.body);
    assert!(page.body.contains("id=\"insurance-reasons\"") && page.body.contains("店铺信用"), "{}", page.body);
    let csrf = guest.csrf();
    let unit = quoted.to_string();
    let stale = (quoted + 1).to_string();
    let buy = |premium: &str| {
        vec![
            ("quantity", "1"),
            ("guest_email", "g@example.com"),
            ("warranty_ack", "on"),
            ("first_order_confirmed", "on"),
            ("insurance", premium),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect::<Vec<_>>()
    };
    let fields = buy(&stale);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = guest.post(&format!("/p/{product}/buy"), &fields, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains(&format!("质保险保费已变为 {shown}")), "{}", res.body);
    let fields = buy(&unit);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = guest.post(&format!("/p/{product}/buy"), &fields, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let no = res.location().trim_start_matches("/o/").to_string();
    let order_page = guest.get(res.location()).await;
    assert!(order_page.body.contains(&format!("已投保质保险（保费 {shown}）")), "{}", order_page.body);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(&no).await.unwrap().unwrap();
    assert_eq!(tx.cover_of(order.id).await.unwrap().map(|c| c.premium.fen()), Some(quoted));
}

/// A guest pays an insured order through the gateway: the payment asks for the price plus the premium, and the
/// notification puts the premium into the pool.
#[tokio::test]
async fn guest_gateway_payment_carries_the_premium_into_the_pool() {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("gateway_insurer").await;
    app.import(&merchant, product, "GW-0001\n").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    let quoted = premium(&app, product).await;
    let body = serde_json::json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": "g@example.com",
        "query_password": "chaxun123", "first_order_confirmed": true, "insurance": true, "insurance_premium": quoted});
    let o = crate::orders::order(&app, None, body, None).await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.body);
    let no = o.json()["order_no"].as_str().unwrap().to_string();
    let start = app
        .send(
            Request::post(format!("/api/v1/orders/{no}/pay/sandbox"))
                .header("x-order-secret", "chaxun123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(start.status, StatusCode::CREATED, "{}", start.body);
    let trade_no = start.json()["trade_no"].as_str().unwrap().to_string();
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    assert_eq!(tx.payment_by_trade_no(&trade_no).await.unwrap().unwrap().amount.fen(), 990 + quoted);
    drop(tx);
    let res = crate::orders::notify(&app, &trade_no, crate::orders::now_s(&app), |_| {}).await;
    assert_eq!(res.json()["status"], "applied", "{}", res.body);
    assert_eq!(pool(&app).await, quoted);
    assert_eq!(app.stock(product).await, 0, "delivered");
    crate::orders::verify_books(&app).await;
}

/// The balance of the wallet that paid order `no` (read from the books: API tokens expire as the clock runs).
async fn wallet_of(app: &TestApp, no: &str) -> i64 {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let buyer = tx.order_by_no(no).await.unwrap().unwrap().buyer_id.unwrap();
    tx.balance(kabao_core::ledger::Account::BuyerWallet(buyer)).await.unwrap().fen()
}

async fn payouts(app: &TestApp, no: &str) -> Vec<kabao_store::Payout> {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(no).await.unwrap().unwrap();
    tx.order_payouts(order.id).await.unwrap()
}

/// A merchant whose re-issue-only remedy fails (no stock) stays silent: past the deadline plus the grace period
/// the cover takes the claim over. The pool (one premium) cannot pay the price, so the payout is queued, shown on
/// the order page and raised to the admin; premiums fund the pool and the next pass pays it once, recovering the
/// price from the order's escrow; the books verify.
async fn payout_story(app: TestApp) {
    use kabao_core::ledger::Account;
    let (merchant, product) = app.merchant_with_product("payout_seller").await;
    let templates = app.api("GET", "/api/v1/warranty/templates", None, None).await.json();
    let mut policy =
        templates.as_array().unwrap().iter().find(|t| t["id"] == "license_key_7d").unwrap()["policy"].clone();
    policy["remedy"] = serde_json::json!("reissue_only");
    let path = format!("/api/v1/merchant/products/{product}/warranty");
    let res = app.api("PUT", &path, Some(&merchant), Some(serde_json::json!({"policy": policy}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    app.import(&merchant, product, "PAY-0001\n").await;
    let token = buyer(&app, "payout_buyer").await;
    top_up(&app, &token, 5_000).await;
    let quoted = premium(&app, product).await;
    let no = insured_order(&app, &token, product, quoted).await.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    reveal(&app, &token, &no).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let claim_path = format!("/api/v1/orders/{no}/claims");
    let res = file_claim(&app, (Some(&token), None), &claim_path, &fields, &[("s.png", &png("p"))], None).await;
    assert!(res.status.is_success(), "{}", res.body);
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let before = wallet_of(&app, &no).await;
    let run = || async { kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap() };

    // The merchant is silent past the deadline: the remedy runs and fails (no stock, no refund in the rules).
    app.clock.advance_seconds(25 * 3600);
    assert_eq!(run().await.insurance_paid, Some(0));
    assert!(payouts(&app, &no).await.is_empty(), "within the grace period the cover waits");
    // Past the grace period the cover takes it over; one premium cannot pay 9.90, so the payout is queued.
    app.clock.advance_seconds(24 * 3600);
    assert_eq!(run().await.insurance_paid, Some(0));
    let queued = payouts(&app, &no).await;
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].state, queued[0].amount.fen()), (kabao_store::PayoutState::Pending, 990));
    assert_eq!(wallet_of(&app, &no).await, before, "nothing paid yet");
    let mut page = app.browser();
    assert_eq!(page.login("payout_buyer", "buyer-pass-1").await.status, StatusCode::SEE_OTHER);
    let body = page.get(&format!("/o/{no}")).await.body;
    assert!(body.contains("保险赔付排队中") && body.contains("id=\"order-insurance-queued\""), "{body}");
    let events = kabao_app::admin::security_events(&app.state, 10, 0).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "insurance.payout_queued" && e.detail_json.contains(&claim_no)));
    crate::orders::verify_books(&app).await;

    // Premiums of four more insured orders fund the pool; the next pass pays the queued payout, once.
    let keys: String = (0..4).map(|i| format!("FUND-{i:04}\n")).collect();
    app.import(&merchant, product, &keys).await;
    let other = buyer(&app, "payout_funder").await;
    top_up(&app, &other, 10_000).await;
    for _ in 0..4 {
        let p = premium(&app, product).await;
        let o = insured_order(&app, &other, product, p).await.json()["order_no"].as_str().unwrap().to_string();
        let res = app.api("POST", &format!("/api/v1/orders/{o}/pay/wallet"), Some(&other), None).await;
        assert_eq!(res.json()["state"], "delivered", "{}", res.body);
    }
    let pool_before = pool(&app).await;
    assert!(pool_before >= 990, "{pool_before}");
    assert_eq!(run().await.insurance_paid, Some(1));
    assert_eq!(run().await.insurance_paid, Some(0), "a second pass never pays twice");
    assert_eq!(wallet_of(&app, &no).await, before + 990, "the buyer got the item's price");
    assert_eq!(payouts(&app, &no).await[0].state, kabao_store::PayoutState::Paid);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(&no).await.unwrap().unwrap();
    assert_eq!(tx.balance(Account::Escrow(order.id)).await.unwrap().fen(), 0, "recovered from escrow");
    let claim = tx.claim_by_no(&claim_no).await.unwrap().unwrap();
    assert_eq!(claim.state, kabao_core::claim::ClaimState::Refunded);
    assert!(claim.decision_reason.unwrap().contains("质保险"));
    let events = tx.order_events(order.id).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "insurance.paid").count(), 1);
    drop(tx);
    assert_eq!(pool(&app).await, pool_before, "paid out and recovered");
    let body = page.get(&format!("/o/{no}")).await.body;
    assert!(!body.contains("保险赔付排队中"), "{body}");
    crate::orders::verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_insurance_pays_a_silent_merchants_claim_after_the_grace_queues_when_short_and_recovers() {
    payout_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_insurance_pays_a_silent_merchants_claim_after_the_grace_queues_when_short_and_recovers() {
    if let Some(app) = TestApp::postgres().await {
        payout_story(app).await;
    }
}

/// A shop suspended with an insured claim open: the next pass takes the claim over at once, without waiting for
/// the merchant's deadline or the grace period (queued here: the pool holds one premium).
#[tokio::test]
async fn a_suspended_shops_open_insured_claim_is_taken_over_at_once() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("suspended_insured").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    app.import(&merchant, product, "SUS-0001\n").await;
    let token = buyer(&app, "suspended_buyer").await;
    top_up(&app, &token, 5_000).await;
    let quoted = premium(&app, product).await;
    let no = insured_order(&app, &token, product, quoted).await.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    reveal(&app, &token, &no).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let claim_path = format!("/api/v1/orders/{no}/claims");
    let res = file_claim(&app, (Some(&token), None), &claim_path, &fields, &[("s.png", &png("s"))], None).await;
    assert!(res.status.is_success(), "{}", res.body);
    let run = || async { kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap() };
    run().await;
    assert!(payouts(&app, &no).await.is_empty(), "an active shop's open claim waits for its merchant");

    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, crate::app::T0).await.unwrap().unwrap();
    let admin = app.token("admin", &password).await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let body = serde_json::json!({"suspended": true, "reason": "售卖无效卡密"});
    let res = app.api("PUT", &format!("/api/v1/admin/shops/{shop}/suspension"), Some(&admin), Some(body)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    run().await;
    let taken = payouts(&app, &no).await;
    assert_eq!(taken.len(), 1, "taken over without waiting for the deadline");
    assert_eq!((taken[0].state, taken[0].amount.fen()), (kabao_store::PayoutState::Pending, 990));
    run().await;
    assert_eq!(payouts(&app, &no).await.len(), 1, "one payout per claim");
    crate::orders::verify_books(&app).await;
}

async fn balance_of(app: &TestApp, a: kabao_core::ledger::Account) -> i64 {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.balance(a).await.unwrap().fen()
}

/// The escrow no longer holds the price (an earlier partial refund): the silent merchant's remedy cannot refund,
/// the claim stays open, and past the grace the pool pays; the recovery becomes a receivable on the shop, repaid
/// from what the order's settlement makes available. The books verify at each step.
async fn receivable_story(app: TestApp) {
    use kabao_core::ledger::{Account, LedgerTx, TxKind};
    let (merchant, product) = app.merchant_with_product("receivable_seller").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    app.import(&merchant, product, "REC-0001\n").await;
    let token = buyer(&app, "receivable_buyer").await;
    top_up(&app, &token, 5_000).await;
    let quoted = premium(&app, product).await;
    let no = insured_order(&app, &token, product, quoted).await.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    reveal(&app, &token, &no).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let claim_path = format!("/api/v1/orders/{no}/claims");
    let res = file_claim(&app, (Some(&token), None), &claim_path, &fields, &[("s.png", &png("r"))], None).await;
    assert!(res.status.is_success(), "{}", res.body);
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    // 5.00 of the 9.90 left escrow earlier (a partial refund); premiums elsewhere put 20.00 in the pool.
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    let order = tx.order_by_no(&no).await.unwrap().unwrap();
    let shop = order.shop_id;
    let partial = kabao_core::refund::from_escrow(
        order.id,
        kabao_core::refund::RefundTo::decide(order.buyer_id, false, false),
        Money::from_fen(500),
    )
    .unwrap();
    tx.post_ledger(&partial.tx, Some(order.id), app.state.now()).await.unwrap();
    let premiums = LedgerTx::transfer(
        TxKind::InsurancePremium,
        Account::GatewayClearing,
        Account::InsurancePool,
        Money::from_fen(2_000),
    )
    .unwrap();
    tx.post_ledger(&premiums, None, app.state.now()).await.unwrap();
    tx.commit().await.unwrap();
    let run = || async { kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap() };

    app.clock.advance_seconds(25 * 3600);
    run().await;
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let open = tx.claim_by_no(&claim_no).await.unwrap().unwrap();
    drop(tx);
    assert_eq!(open.state, kabao_core::claim::ClaimState::Open, "the remedy could not refund from escrow");
    app.clock.advance_seconds(24 * 3600);
    let pool_before = pool(&app).await;
    assert_eq!(run().await.insurance_paid, Some(1));
    assert_eq!(balance_of(&app, Account::InsuranceReceivable(shop)).await, -990, "recovery booked on the shop");
    assert_eq!(balance_of(&app, Account::Escrow(order.id)).await, 490, "escrow untouched");
    assert_eq!(pool(&app).await, pool_before, "paid out and booked back as the shop's debt");
    crate::orders::verify_books(&app).await;

    // The order settles after its window: what it makes available repays the pool first.
    app.clock.advance_seconds(7 * 86_400);
    run().await;
    let available = balance_of(&app, Account::MerchantAvailable(shop)).await;
    let owed = balance_of(&app, Account::InsuranceReceivable(shop)).await;
    assert_eq!(available, 0, "all of it went to the pool");
    assert!(owed > -990 && owed < 0, "{owed}");
    crate::orders::verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_insurance_recovers_as_a_receivable_repaid_at_settlement() {
    receivable_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_insurance_recovers_as_a_receivable_repaid_at_settlement() {
    if let Some(app) = TestApp::postgres().await {
        receivable_story(app).await;
    }
}
