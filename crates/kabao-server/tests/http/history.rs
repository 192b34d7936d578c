//! Buyer and merchant conveniences (issue 21 item 4): 我的订单 filtered and keyset-paged, the wallet history
//! linking each movement to its order, the pay deadline on the pay page, the key paste box giving the file
//! import's report, and the merchant dashboard's figures and SVG charts on a known history. Both backends.

use crate::app::TestApp;
use crate::claims::{bought, file_claim, png, reveal, set_template};
use crate::orders::{buyer, order_no, top_up};
use axum::http::StatusCode;
use serde_json::json;

fn nos(page: &serde_json::Value) -> Vec<String> {
    page["orders"].as_array().unwrap().iter().map(|o| o["order_no"].as_str().unwrap().to_string()).collect()
}

async fn my_orders_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("hist_seller").await;
    app.import(&merchant, product, "H-01\nH-02\nH-03\n").await;
    let token = buyer(&app, "hist_buyer").await;
    top_up(&app, &token, 10_000).await;
    let mut placed = Vec::new();
    for _ in 0..22 {
        placed.push(order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await);
    }
    let mut delivered = Vec::new();
    for no in [&placed[3], &placed[10], &placed[21]] {
        let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
        assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
        delivered.push(no.clone());
    }
    let newest_first: Vec<String> = placed.iter().rev().cloned().collect();

    // Two pages of 20 and 2, newest first, no duplicates or gaps.
    let first = app.api("GET", "/api/v1/orders", Some(&token), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let first = first.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second = app.api("GET", &format!("/api/v1/orders?cursor={cursor}"), Some(&token), None).await.json();
    assert!(second["next_cursor"].is_null(), "{second}");
    let mut all = nos(&first);
    assert_eq!(all.len(), 20);
    all.extend(nos(&second));
    assert_eq!(all, newest_first);

    // The state filter.
    let only = app.api("GET", "/api/v1/orders?state=delivered", Some(&token), None).await.json();
    assert_eq!(nos(&only), delivered.iter().rev().cloned().collect::<Vec<_>>());
    assert!(only["orders"].as_array().unwrap().iter().all(|o| o["state"] == "delivered"));
    // Bad input names its field.
    for (q, field) in [("state=lost", "state"), ("cursor=abc", "cursor"), ("cursor=-5", "cursor")] {
        let res = app.api("GET", &format!("/api/v1/orders?{q}"), Some(&token), None).await;
        assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{q}");
    }
    // Another buyer sees none of them; without a token, 401.
    let other = buyer(&app, "hist_other").await;
    assert!(nos(&app.api("GET", "/api/v1/orders", Some(&other), None).await.json()).is_empty());
    assert_eq!(app.api("GET", "/api/v1/orders", None, None).await.status, StatusCode::UNAUTHORIZED);

    // The page: in the menu, filters, rows linking to the order, the next page keeping the filter.
    let mut b = app.browser();
    b.login("hist_buyer", "buyer-pass-1").await;
    let page = b.get("/orders").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("href=\"/orders\" id=\"my-orders-link\">我的订单<"), "menu link");
    assert!(page.body.contains(&format!("href=\"/o/{}\"", placed[21])));
    assert!(!page.body.contains(&format!("href=\"/o/{}\"", placed[0])), "the oldest is on page two");
    assert!(page.body.contains(&format!("href=\"/orders?cursor={cursor}\"")), "next page link");
    let page = b.get(&format!("/orders?cursor={cursor}")).await;
    assert!(page.body.contains(&format!("href=\"/o/{}\"", placed[0])));
    let page = b.get("/orders?state=delivered").await;
    assert_eq!(page.body.matches("data-state=\"delivered\"").count(), 3);
    assert!(!page.body.contains("data-state=\"pending_payment\""));
    assert!(page.body.contains("已发货（质保中）"));
    assert_eq!(b.get("/orders?state=lost").await.status, StatusCode::BAD_REQUEST);
    let anonymous = app.get("/orders").await;
    assert_eq!((anonymous.status, anonymous.location()), (StatusCode::SEE_OTHER, "/login?next=/orders"));
}

#[tokio::test]
async fn sqlite_my_orders_filter_by_state_and_page_by_cursor() {
    my_orders_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_my_orders_filter_by_state_and_page_by_cursor() {
    let Some(app) = TestApp::postgres().await else { return };
    my_orders_story(app).await;
}

async fn wallet_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("wal_seller").await;
    app.import(&merchant, product, "W-01\nW-02\n").await;
    let token = buyer(&app, "wal_buyer").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 2).await;

    let res = app.api("GET", "/api/v1/wallet/movements", Some(&token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let got = res.json();
    let lines: Vec<_> = got["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["kind"].clone(), m["amount_fen"].clone(), m["balance_after_fen"].clone(), m["order_no"].clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (json!("payment"), json!(-1980), json!(3020), json!(no)),
            (json!("top_up"), json!(5000), json!(5000), json!(null)),
        ]
    );
    assert_eq!(got["movements"][0]["kind_zh"], "支付订单");
    assert!(got["next_cursor"].is_null());
    let bad = app.api("GET", "/api/v1/wallet/movements?cursor=x", Some(&token), None).await;
    assert_eq!((bad.status, bad.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("cursor")));
    let other = buyer(&app, "wal_other").await;
    let theirs = app.api("GET", "/api/v1/wallet/movements", Some(&other), None).await.json();
    assert_eq!(theirs["movements"], json!([]), "another user's wallet is not shown");

    let mut b = app.browser();
    b.login("wal_buyer", "buyer-pass-1").await;
    let page = b.get("/wallet").await;
    assert!(page.body.contains("id=\"wallet-history\""));
    assert!(page.body.contains(&format!("class=\"movement-order\" href=\"/o/{no}\"")), "{}", page.body);
    assert!(page.body.contains("支付订单") && page.body.contains("-19.80") && page.body.contains("+50.00"));
}

#[tokio::test]
async fn sqlite_wallet_history_links_each_movement_to_its_order() {
    wallet_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_wallet_history_links_each_movement_to_its_order() {
    let Some(app) = TestApp::postgres().await else { return };
    wallet_story(app).await;
}

#[tokio::test]
async fn pay_page_shows_its_deadline_in_china_time_and_minutes_left() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("dl_seller").await;
    app.import(&merchant, product, "D-01\n").await;
    let token = buyer(&app, "dl_buyer").await;
    let no = order_no(&app, &token, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    let expires = app.api("GET", &format!("/api/v1/orders/{no}"), Some(&token), None).await.json()["expires_at"]
        .as_i64()
        .unwrap();
    let minutes = (expires - app.state.now().millis() + 59_999) / 60_000;
    let mut b = app.browser();
    b.login("dl_buyer", "buyer-pass-1").await;
    let page = b.get(&format!("/o/{no}")).await;
    let when = kabao_app::display::datetime(kabao_core::Timestamp(expires));
    assert!(page.body.contains("id=\"pay-deadline\""), "{}", page.body);
    assert!(page.body.contains(&format!("请在北京时间 <strong>{when}</strong> 前付款，剩余约")));
    assert!(page.body.contains(&format!("id=\"pay-minutes-left\">{minutes}<")));
    app.clock.advance_seconds(10 * 60);
    let page = b.get(&format!("/o/{no}")).await;
    assert!(page.body.contains(&format!("id=\"pay-minutes-left\">{}<", minutes - 10)), "the minutes count down");
    // Once paid, no deadline.
    top_up(&app, &token, 1_000).await;
    app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert!(!b.get(&format!("/o/{no}")).await.body.contains("id=\"pay-deadline\""));
}

/// The `#import-report` section of a console product page.
fn report(body: &str) -> String {
    let start = body.find("id=\"import-report\"").unwrap_or_else(|| panic!("no report: {body}"));
    let end = body[start..].find("</section>").unwrap() + start;
    body[start..end].to_string()
}

#[tokio::test]
async fn key_paste_box_imports_like_the_file_with_the_same_report() {
    let app = TestApp::new().await;
    let text = "AAA-1\nBBB-2\n----x\nAAA-1\n";
    let (_, by_file) = app.merchant_with_product("file_seller").await;
    let (_, by_paste) = app.merchant_with_product("paste_seller").await;

    let mut f = app.browser();
    f.login("file_seller", "merchant-pass-1").await;
    f.get(&format!("/console/products/{by_file}")).await;
    let csrf = f.csrf();
    let filed = f.upload(&format!("/console/products/{by_file}/keys"), &csrf, text.as_bytes()).await;
    assert_eq!(filed.status, StatusCode::OK);

    let mut p = app.browser();
    p.login("paste_seller", "merchant-pass-1").await;
    let form = p.get(&format!("/console/products/{by_paste}")).await;
    assert!(form.body.contains("id=\"paste-form\"") && form.body.contains("<textarea name=\"keys\""));
    let csrf = p.csrf();
    let path = format!("/console/products/{by_paste}/keys");
    let pasted = p.post_multipart(&path, &[("_csrf", &csrf), ("keys", text)], &[]).await;
    assert_eq!(pasted.status, StatusCode::OK);
    assert_eq!(report(&pasted.body), report(&filed.body), "the same report, line for line");
    assert!(pasted.body.contains("第 3 行：缺少卡号"));
    assert_eq!((app.stock(by_paste).await, app.stock(by_file).await), (2, 2));

    // A paste whose every line is already stocked imports nothing (all or none), reported like a file.
    let again = p.post_multipart(&path, &[("_csrf", &csrf), ("keys", "AAA-1\nBBB-2\n")], &[]).await;
    let again_file = f.upload(&format!("/console/products/{by_file}/keys"), &f.csrf(), b"AAA-1\nBBB-2\n").await;
    assert_eq!((again.status, report(&again.body)), (again_file.status, report(&again_file.body)));
    assert_eq!(app.stock(by_paste).await, 2);
    // Without the CSRF field, nothing.
    let forged = p.post_multipart(&path, &[("keys", "CCC-3\n")], &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.stock(by_paste).await, 2);
}

async fn dashboard_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("dash_seller").await;
    app.import(&merchant, product, "K-01\nK-02\nK-03\nK-04\nK-05\nK-06\n").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "dash_buyer").await;
    top_up(&app, &token, 10_000).await;
    // Day 1: one order of ¥9.90. Two days later: two orders (one of two keys), a claim re-issued at once, and
    // a refund of ¥5.00.
    bought(&app, &token, product, 1).await;
    app.clock.advance_seconds(2 * 86_400);
    let second = bought(&app, &token, product, 2).await;
    bought(&app, &token, product, 1).await;
    reveal(&app, &token, &second).await;
    let shot = png("截图");
    let filed = file_claim(
        &app,
        (Some(&token), None),
        &format!("/api/v1/orders/{second}/claims"),
        &[("item", "1"), ("defect", "invalid_key")],
        &[("a.png", &shot)],
        None,
    )
    .await;
    assert_eq!(filed.json()["claim"]["state"], "reissued", "{}", filed.body);
    {
        use kabao_core::ledger;
        let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
        let o = tx.order_by_no(&second).await.unwrap().unwrap();
        let refund = ledger::refund_to_wallet(o.id, o.buyer_id.unwrap(), kabao_core::Money::from_fen(500)).unwrap();
        tx.post_ledger(&refund, Some(o.id), app.state.now()).await.unwrap();
        tx.commit().await.unwrap();
    }

    let res = app.api("GET", "/api/v1/merchant/dashboard?days=7", Some(&merchant), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let d = res.json();
    assert_eq!(
        (&d["orders"], &d["amount_fen"], &d["claims"], &d["claim_rate_permille"]),
        (&json!(3), &json!(990 + 1980 + 990), &json!(1), &json!(333))
    );
    assert_eq!((&d["reissues"], &d["median_reissue_seconds"]), (&json!(1), &json!(0)));
    assert_eq!((&d["refunds"], &d["refunded_fen"]), (&json!(1), &json!(500)));
    let daily = d["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 7);
    let orders: Vec<i64> = daily.iter().map(|x| x["orders"].as_i64().unwrap()).collect();
    assert_eq!(orders, vec![0, 0, 0, 0, 1, 0, 2], "oldest first, today last");
    assert_eq!(daily[6]["claims"], 1);
    // A wider window: the same totals, one entry per day.
    let d90 = app.api("GET", "/api/v1/merchant/dashboard?days=90", Some(&merchant), None).await.json();
    assert_eq!((d90["orders"].clone(), d90["daily"].as_array().unwrap().len()), (json!(3), 90));
    for bad in ["days=8", "days=0", "days=x"] {
        let res = app.api("GET", &format!("/api/v1/merchant/dashboard?{bad}"), Some(&merchant), None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
    }
    assert_eq!(app.api("GET", "/api/v1/merchant/dashboard", Some(&token), None).await.status, StatusCode::FORBIDDEN);
    let other = app.merchant_token("dash_other").await;
    let res = app.api("GET", "/api/v1/merchant/dashboard", Some(&other), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "a merchant without a shop has no dashboard");

    let mut b = app.browser();
    b.login("dash_seller", "merchant-pass-1").await;
    assert!(b.get("/console").await.body.contains("href=\"/console/dashboard\""));
    let page = b.get("/console/dashboard?days=7").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"dash-orders\">3<"), "{}", page.body);
    assert!(page.body.contains("id=\"dash-claim-rate\">33.3%<"));
    assert!(page.body.contains("id=\"dash-refunded\">¥5.00<"));
    for id in ["chart-orders", "chart-amount", "chart-claims", "chart-refunds"] {
        assert!(page.body.contains(&format!("<svg id=\"{id}\"")), "{id}");
        assert!(page.body.contains(&format!("<title id=\"{id}-title\">")), "{id} has an accessible title");
    }
    assert!(page.body.contains("每日订单数"));
    assert_eq!(page.body.matches("<rect ").count(), 2 + 2 + 1 + 1, "one bar per day with activity");
    crate::hardened::assert_no_inline_script(&page.body, "the dashboard: nothing a strict CSP refuses");
}

#[tokio::test]
async fn sqlite_dashboard_figures_on_a_known_history() {
    dashboard_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_dashboard_figures_on_a_known_history() {
    let Some(app) = TestApp::postgres().await else { return };
    dashboard_story(app).await;
}

#[tokio::test]
async fn the_dashboard_window_is_an_enum_in_the_served_document() {
    let app = TestApp::new().await;
    let doc = app.get("/api/openapi.json").await.json();
    let params = doc["paths"]["/api/v1/merchant/dashboard"]["get"]["parameters"].as_array().unwrap().clone();
    let days = params.iter().find(|p| p["name"] == "days").expect("a days parameter");
    let schema = match days["schema"]["$ref"].as_str() {
        Some(r) => doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
        None => days["schema"].clone(),
    };
    assert_eq!(schema["type"], "integer", "{days}");
    assert_eq!(schema["enum"], serde_json::json!(kabao_app::history::DASHBOARD_DAYS), "{schema}");
}
