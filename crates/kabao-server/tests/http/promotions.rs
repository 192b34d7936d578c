//! Variants (面值), wholesale tiers (批发价) and coupons (优惠券) over HTTP: prices picked by quantity, coupons
//! refused with the field named, used up exactly at their limit under concurrent checkouts, given back by an
//! expired order, the discount carried by the merchant in the ledger through refund and settlement, and the
//! variant's own policy on the order. Both backends where money or concurrency is involved.

use crate::app::{TestApp, T0};
use crate::claims::{decide, file_claim, png, reveal, set_template, wallet};
use crate::orders::{buyer, order, order_no, top_up, verify_books};
use axum::http::StatusCode;
use kabao_core::ledger::Account;
use serde_json::json;

const DAY_MS: i64 = 24 * 3600 * 1000;

async fn coupon(app: &TestApp, merchant: &str, body: serde_json::Value) -> serde_json::Value {
    let res = app.api("POST", "/api/v1/merchant/coupons", Some(merchant), Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()
}

fn expires_in_days(days: i64) -> i64 {
    T0.millis() + days * DAY_MS
}

async fn set_tiers(app: &TestApp, merchant: &str, product: i64, tiers: serde_json::Value) -> crate::app::Res {
    app.api("PUT", &format!("/api/v1/merchant/products/{product}/tiers"), Some(merchant), Some(json!({"tiers": tiers})))
        .await
}

#[tokio::test]
async fn wholesale_price_is_picked_by_quantity_and_tiers_are_validated() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("tier_seller").await;
    app.import(&merchant, product, "T-1\nT-2\nT-3\nT-4\nT-5\n").await;
    for (tiers, why) in [
        (json!([{"min_quantity": 1, "unit_price_fen": 900}]), "threshold 1"),
        (
            json!([{"min_quantity": 3, "unit_price_fen": 900}, {"min_quantity": 3, "unit_price_fen": 800}]),
            "same threshold",
        ),
        (json!([{"min_quantity": 3, "unit_price_fen": 900}, {"min_quantity": 5, "unit_price_fen": 950}]), "price up"),
        (json!([{"min_quantity": 3, "unit_price_fen": 990}]), "not below the list price"),
        (json!([{"min_quantity": 3, "unit_price_fen": 0}]), "zero"),
    ] {
        let res = set_tiers(&app, &merchant, product, tiers).await;
        assert_eq!(
            (res.status, res.json()["field"].clone()),
            (StatusCode::BAD_REQUEST, json!("tiers")),
            "{why}: {}",
            res.body
        );
    }
    let rival = app.merchant_with_product("tier_rival").await.0;
    let ok = json!([{"min_quantity": 3, "unit_price_fen": 950}, {"min_quantity": 5, "unit_price_fen": 900}]);
    assert_eq!(set_tiers(&app, &rival, product, ok.clone()).await.status, StatusCode::NOT_FOUND, "another's product");
    assert_eq!(set_tiers(&app, &merchant, product, ok.clone()).await.status, StatusCode::OK);
    assert_eq!(app.api("GET", &format!("/api/v1/products/{product}/tiers"), None, None).await.json(), ok);
    let page = app.get(&format!("/p/{product}")).await;
    assert!(page.body.contains("id=\"wholesale-tiers\"") && page.body.contains("¥9.50"), "{}", page.body);

    let token = buyer(&app, "tier_buyer").await;
    for (quantity, unit, amount) in [(2, 990, 1980), (3, 950, 2850), (5, 900, 4500)] {
        let o =
            order(&app, Some(&token), json!({"product_id": product, "quantity": quantity, "warranty_ack": true}), None)
                .await
                .json();
        assert_eq!(o["amount_fen"], amount, "{o}");
        assert_eq!(o["pricing"]["tier_unit_price_fen"], unit, "{o}");
        assert_eq!(o["pricing"]["list_unit_price_fen"], 990, "{o}");
        assert_eq!(o["unit_refund_fen"], unit, "{o}");
    }
}

#[tokio::test]
async fn coupons_are_refused_with_the_field_named() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("cpn_seller").await;
    app.import(&merchant, product, "C-1\nC-2\n").await;
    let (rival, rival_product) = app.merchant_with_product("cpn_rival").await;
    coupon(&app, &merchant, json!({"code": "MIN20", "amount_off_fen": 100, "min_order_fen": 1500, "usage_limit": 9, "expires_at": expires_in_days(7)})).await;
    coupon(
        &app,
        &merchant,
        json!({"code": "SOON", "percent_off": 10, "usage_limit": 9, "expires_at": T0.millis() + 60_000}),
    )
    .await;
    let off = coupon(
        &app,
        &merchant,
        json!({"code": "OFF", "amount_off_fen": 100, "usage_limit": 9, "expires_at": expires_in_days(7)}),
    )
    .await;
    coupon(&app, &merchant, json!({"code": "OTHERP", "amount_off_fen": 100, "usage_limit": 9, "expires_at": expires_in_days(7), "product_id": product})).await;
    coupon(
        &app,
        &rival,
        json!({"code": "RIVAL", "amount_off_fen": 100, "usage_limit": 9, "expires_at": expires_in_days(7)}),
    )
    .await;
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/coupons/{}/enabled", off["id"]),
            Some(&rival),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "another shop's coupon");
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/coupons/{}/enabled", off["id"]),
            Some(&merchant),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(res.json()["enabled"], false, "{}", res.body);
    // Creation refusals name their field.
    for (body, field, status) in [
        (
            json!({"code": "min20", "amount_off_fen": 1, "usage_limit": 1, "expires_at": expires_in_days(1)}),
            "code",
            StatusCode::CONFLICT,
        ),
        (
            json!({"code": "a b", "amount_off_fen": 1, "usage_limit": 1, "expires_at": expires_in_days(1)}),
            "code",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"code": "PCT", "percent_off": 100, "usage_limit": 1, "expires_at": expires_in_days(1)}),
            "off",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"code": "LIM", "amount_off_fen": 1, "usage_limit": 0, "expires_at": expires_in_days(1)}),
            "usage_limit",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"code": "PAST", "amount_off_fen": 1, "usage_limit": 1, "expires_at": T0.millis()}),
            "expires_at",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let res = app.api("POST", "/api/v1/merchant/coupons", Some(&merchant), Some(body.clone())).await;
        assert_eq!((res.status, res.json()["field"].clone()), (status, json!(field)), "{body}: {}", res.body);
    }
    let res = app
        .api("POST", "/api/v1/merchant/coupons", Some(&merchant), Some(json!({"code": "THEIRS", "amount_off_fen": 1, "usage_limit": 1, "expires_at": expires_in_days(1), "product_id": rival_product})))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "a coupon for another shop's product: {}", res.body);

    app.clock.advance_seconds(120);
    let token = buyer(&app, "cpn_buyer").await;
    for (code, qty, on, expected) in [
        ("nope", 1, product, "coupon.not_found"),
        ("RIVAL", 1, product, "coupon.not_found"),
        ("SOON", 1, product, "coupon.expired"),
        ("off", 1, product, "coupon.disabled"),
        ("min20", 1, product, "coupon.below_minimum"),
    ] {
        let res = order(
            &app,
            Some(&token),
            json!({"product_id": on, "quantity": qty, "warranty_ack": true, "coupon_code": code}),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{code}: {}", res.body);
        assert_eq!(
            (res.json()["code"].clone(), res.json()["field"].clone()),
            (json!(expected), json!("coupon_code")),
            "{code}"
        );
    }
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let shop = tx.product_by_id(kabao_core::ProductId(product)).await.unwrap().unwrap().shop_id;
    assert!(tx.list_shop_orders(shop, 10, 0).await.unwrap().is_empty(), "a refused coupon creates no order");
    drop(tx);
    // A refused coupon creates nothing; a good one on the same product works.
    let ok = order(
        &app,
        Some(&token),
        json!({"product_id": product, "quantity": 2, "warranty_ack": true, "coupon_code": " Min20 "}),
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let o = ok.json();
    assert_eq!(
        (o["amount_fen"].clone(), o["pricing"]["discount_fen"].clone(), o["pricing"]["coupon_code"].clone()),
        (json!(1880), json!(100), json!("MIN20"))
    );
    let list = app.api("GET", "/api/v1/merchant/coupons", Some(&merchant), None).await.json();
    let min20 = list.as_array().unwrap().iter().find(|c| c["code"] == "MIN20").unwrap().clone();
    assert_eq!(min20["used"], 1);
}

/// A coupon with N uses, and many buyers checking out with it at once: exactly N orders get it; an order that
/// expires unpaid gives its use back.
async fn coupon_race(app: TestApp) {
    const LIMIT: usize = 4;
    let (merchant, product) = app.merchant_with_product("race_cpn_seller").await;
    let keys: String = (0..40).map(|i| format!("RC-{i:03}\n")).collect();
    app.import(&merchant, product, &keys).await;
    coupon(&app, &merchant, json!({"code": "RUSH", "amount_off_fen": 90, "usage_limit": LIMIT, "per_buyer_limit": 1, "expires_at": expires_in_days(7)})).await;
    let mut buyers = Vec::new();
    for i in 0..16 {
        buyers.push(crate::orders::funded_buyer(&app, 500 + i, 990).await);
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for token in buyers.clone() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            order(
                &app,
                Some(&token),
                json!({"product_id": product, "quantity": 1, "warranty_ack": true, "coupon_code": "rush"}),
                None,
            )
            .await
        }));
    }
    let mut won = Vec::new();
    for (t, token) in tasks.into_iter().zip(&buyers) {
        let res = t.await.unwrap();
        match res.status {
            StatusCode::CREATED => won.push((token.clone(), res.json()["order_no"].as_str().unwrap().to_string())),
            StatusCode::CONFLICT => assert_eq!(res.json()["code"], "coupon.used_up", "{}", res.body),
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert_eq!(won.len(), LIMIT, "used up exactly at its limit");
    // The same buyer cannot use it twice (per-buyer limit 1), even when a use is free.
    let (first_token, _) = won[0].clone();
    // One winner pays; the rest let their orders expire and the uses come back.
    let paid = app.api("POST", &format!("/api/v1/orders/{}/pay/wallet", won[0].1), Some(&first_token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    app.clock.advance_seconds(31 * 60);
    assert_eq!(kabao_app::jobs::expire_unpaid(&app.state).await.unwrap(), (LIMIT - 1) as u64);
    let list = app.api("GET", "/api/v1/merchant/coupons", Some(&merchant), None).await.json();
    assert_eq!(list[0]["used"], 1, "expired orders gave their uses back");
    let again = order(
        &app,
        Some(&first_token),
        json!({"product_id": product, "quantity": 1, "warranty_ack": true, "coupon_code": "RUSH"}),
        None,
    )
    .await;
    assert_eq!(
        (again.status, again.json()["code"].clone()),
        (StatusCode::CONFLICT, json!("coupon.buyer_limit")),
        "{}",
        again.body
    );
    let late = buyers.iter().find(|t| !won.iter().any(|(w, _)| w == *t)).unwrap();
    let res = order(
        &app,
        Some(late),
        json!({"product_id": product, "quantity": 1, "warranty_ack": true, "coupon_code": "RUSH"}),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "a use given back is usable again: {}", res.body);
    verify_books(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_coupon_is_used_up_exactly_at_its_limit_under_concurrent_checkouts() {
    coupon_race(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_coupon_is_used_up_exactly_at_its_limit_under_concurrent_checkouts() {
    if let Some(app) = TestApp::postgres().await {
        coupon_race(app).await;
    }
}

/// A 3-item order with a wholesale price and a coupon: one item refunded by a claim (prorated, never more than
/// paid), the rest settled net of the discount, which the ledger shows as the merchant's cost.
async fn coupon_ledger_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("books_seller").await;
    app.import(&merchant, product, "L-1\nL-2\nL-3\n").await;
    set_template(&app, &merchant, product, "membership_refund").await;
    assert_eq!(
        set_tiers(&app, &merchant, product, json!([{"min_quantity": 3, "unit_price_fen": 900}])).await.status,
        StatusCode::OK
    );
    coupon(
        &app,
        &merchant,
        json!({"code": "BOOKS", "amount_off_fen": 100, "usage_limit": 5, "expires_at": expires_in_days(60)}),
    )
    .await;
    let token = buyer(&app, "books_buyer").await;
    top_up(&app, &token, 5_000).await;
    let no = order_no(
        &app,
        &token,
        json!({"product_id": product, "quantity": 3, "warranty_ack": true, "coupon_code": "books"}),
    )
    .await;
    let o = app.api("GET", &format!("/api/v1/orders/{no}"), Some(&token), None).await.json();
    assert_eq!(
        o["pricing"],
        json!({"list_unit_price_fen": 990, "tier_unit_price_fen": 900, "amount_before_fen": 2700, "coupon_code": "BOOKS", "discount_fen": 100})
    );
    assert_eq!((o["amount_fen"].clone(), o["unit_refund_fen"].clone()), (json!(2600), json!(866)));
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    assert_eq!(wallet(&app, &token).await, 2_400);
    reveal(&app, &token, &no).await;
    let shot = png("过期截图");
    let res = file_claim(
        &app,
        (Some(&token), None),
        &format!("/api/v1/orders/{no}/claims"),
        &[("item", "2"), ("defect", "expired_early")],
        &[("a.png", &shot)],
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = decide(&app, &merchant, &claim_no, json!({"decision": "approve"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(wallet(&app, &token).await, 2_400 + 866, "the item refunds its share of what was paid");
    verify_books(&app).await;

    app.clock.advance_seconds(31 * 24 * 3600);
    assert_eq!(kabao_app::jobs::settle_due(&app.state).await.unwrap(), 1);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(&no).await.unwrap().unwrap();
    let entries = tx.order_ledger_entries(order.id).await.unwrap();
    let held = 2600 - 866;
    let fee = held * 300 / 10_000;
    let merchant_lines: Vec<i64> = entries
        .iter()
        .filter(|e| {
            e.kind == kabao_core::ledger::TxKind::Settlement && e.account == Account::MerchantAvailable(order.shop_id)
        })
        .map(|e| e.amount.fen())
        .collect();
    assert_eq!(merchant_lines, vec![held + 100 - fee, -100], "the coupon is the merchant's cost, on its own line");
    let available = tx.balance(Account::MerchantAvailable(order.shop_id)).await.unwrap();
    assert_eq!(available.fen(), held - fee, "settled net of the discount and the refund");
    drop(tx);
    verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_coupon_orders_keep_the_books_through_refund_and_settlement() {
    coupon_ledger_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_coupon_orders_keep_the_books_through_refund_and_settlement() {
    if let Some(app) = TestApp::postgres().await {
        coupon_ledger_story(app).await;
    }
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_coupon_is_refused() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("idem_cpn_seller").await;
    app.import(&merchant, product, "I-1\nI-2\n").await;
    coupon(
        &app,
        &merchant,
        json!({"code": "AAA", "amount_off_fen": 10, "usage_limit": 5, "expires_at": expires_in_days(7)}),
    )
    .await;
    coupon(
        &app,
        &merchant,
        json!({"code": "BBB", "amount_off_fen": 20, "usage_limit": 5, "expires_at": expires_in_days(7)}),
    )
    .await;
    let token = buyer(&app, "idem_cpn_buyer").await;
    let body = |code: &str| json!({"product_id": product, "quantity": 1, "warranty_ack": true, "coupon_code": code});
    let first = order(&app, Some(&token), body("AAA"), Some("key-1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let replay = order(&app, Some(&token), body("AAA"), Some("key-1")).await;
    assert_eq!(replay.body, first.body, "a retry answers the first response");
    let changed = order(&app, Some(&token), body("BBB"), Some("key-1")).await;
    assert_eq!(
        (changed.status, changed.json()["code"].clone()),
        (StatusCode::CONFLICT, json!("idempotency_key_reused")),
        "{}",
        changed.body
    );
    let list = app.api("GET", "/api/v1/merchant/coupons", Some(&merchant), None).await.json();
    let used: Vec<i64> = list.as_array().unwrap().iter().map(|c| c["used"].as_i64().unwrap()).collect();
    assert_eq!(used.iter().sum::<i64>(), 1, "one order, one use: {list}");
}

#[tokio::test]
async fn variants_have_their_own_price_stock_and_policy_and_stay_off_the_catalog() {
    let app = TestApp::new().await;
    let (merchant, parent) = app.merchant_with_product("variant_seller").await;
    set_template(&app, &merchant, parent, "point_card_24h").await;
    let add = |label: &'static str, price: i64| {
        let app = &app;
        let merchant = merchant.clone();
        async move {
            app.api(
                "POST",
                &format!("/api/v1/merchant/products/{parent}/variants"),
                Some(&merchant),
                Some(json!({"label": label, "price_fen": price})),
            )
            .await
        }
    };
    let v10 = add("10元", 990).await;
    assert_eq!(v10.status, StatusCode::CREATED, "{}", v10.body);
    let v10 = v10.json()["product_id"].as_i64().unwrap();
    let v50 = add("50元", 4850).await.json()["product_id"].as_i64().unwrap();
    let rival = app.merchant_with_product("variant_rival").await.0;
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/products/{parent}/variants"),
            Some(&rival),
            Some(json!({"label": "x", "price_fen": 1})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "another shop's listing");
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/products/{v10}/variants"),
            Some(&merchant),
            Some(json!({"label": "x", "price_fen": 1})),
        )
        .await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("parent")), "{}", res.body);
    assert_eq!(add("", 100).await.json()["field"], "label");
    app.import(&merchant, v50, "V50-1\nV50-2\n").await;
    // The 50元 variant gets a policy of its own; the 10元 one keeps the copy of the listing's.
    set_template(&app, &merchant, v50, "license_key_7d").await;

    let catalog = app.api("GET", "/api/v1/products", None, None).await.json();
    let ids: Vec<i64> =
        catalog["items"].as_array().or(catalog.as_array()).unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert!(ids.contains(&parent) && !ids.contains(&v10) && !ids.contains(&v50), "{ids:?}");
    let variants = app.api("GET", &format!("/api/v1/products/{parent}/variants"), None, None).await.json();
    assert_eq!(variants.as_array().unwrap().len(), 2);
    assert_eq!(
        (variants[1]["label"].clone(), variants[1]["price_fen"].clone(), variants[1]["stock_available"].clone()),
        (json!("50元"), json!(4850), json!(2))
    );
    let page = app.get(&format!("/p/{parent}")).await;
    assert!(page.body.contains("id=\"variant-picker\"") && page.body.contains(&format!("/p/{v50}")), "{}", page.body);
    assert!(!page.body.contains("id=\"buy-form\""), "a listing with variants is bought through one of them");
    let page = app.get(&format!("/p/{v50}")).await;
    assert!(page.body.contains("aria-current=\"page\"") && page.body.contains("id=\"buy-form\""), "{}", page.body);

    let token = buyer(&app, "variant_buyer").await;
    top_up(&app, &token, 10_000).await;
    let no = order_no(&app, &token, json!({"product_id": v50, "quantity": 1, "warranty_ack": true})).await;
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    let o = app.api("GET", &format!("/api/v1/orders/{no}"), Some(&token), None).await.json();
    let own = app.api("GET", &format!("/api/v1/products/{v50}/warranty"), None, None).await.json();
    let listing = app.api("GET", &format!("/api/v1/products/{parent}/warranty"), None, None).await.json();
    assert_eq!(o["warranty_sha256"], own["sha256"], "the order carries the variant's policy");
    assert_ne!(own["sha256"], listing["sha256"]);
    let copy = app.api("GET", &format!("/api/v1/products/{v10}/warranty"), None, None).await.json();
    assert_eq!(copy["policy"], listing["policy"], "a new variant starts with the listing's policy");
    assert_eq!(app.stock(v50).await, 1);
    assert_eq!(app.stock(parent).await, 0);
    let res = app.api("DELETE", &format!("/api/v1/merchant/variants/{v10}"), Some(&merchant), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(
        app.api("GET", &format!("/api/v1/products/{parent}/variants"), None, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    verify_books(&app).await;
}

#[tokio::test]
async fn the_pages_take_a_coupon_and_show_the_price_lines() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("page_cpn_seller").await;
    app.import(&merchant, product, "P-1\nP-2\nP-3\n").await;
    assert_eq!(
        set_tiers(&app, &merchant, product, json!([{"min_quantity": 2, "unit_price_fen": 950}])).await.status,
        StatusCode::OK
    );
    coupon(
        &app,
        &merchant,
        json!({"code": "PAGE5", "percent_off": 5, "usage_limit": 3, "expires_at": expires_in_days(7)}),
    )
    .await;
    let mut guest = app.browser();
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(page.body.contains("id=\"coupon-code\""), "{}", page.body);
    let csrf = guest.csrf();
    let mut buy = vec![
        ("quantity", "2"),
        ("guest_email", "pg@example.com"),
        ("warranty_ack", "on"),
        ("first_order_confirmed", "on"),
        ("coupon_code", "nope"),
    ];
    let res = guest.post(&format!("/p/{product}/buy"), &buy, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("优惠码无效"), "the page names the problem in Chinese: {}", res.body);
    buy.pop();
    buy.push(("coupon_code", "page5"));
    let res = guest.post(&format!("/p/{product}/buy"), &buy, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let order = guest.get(res.location()).await;
    for part in ["id=\"price-list\"", "¥9.90 × 2", "id=\"price-tier\"", "¥9.50 × 2", "PAGE5", "-¥0.95", "¥18.05"]
    {
        assert!(order.body.contains(part), "{part} missing: {}", order.body);
    }

    // The console lists the coupon with its usage.
    let mut m = app.browser();
    assert_eq!(m.login("page_cpn_seller", "merchant-pass-1").await.status, StatusCode::SEE_OTHER);
    let console = m.get("/console/coupons").await;
    assert!(console.body.contains("PAGE5") && console.body.contains("1 / 3"), "{}", console.body);
    let pricing = m.get(&format!("/console/products/{product}/pricing")).await;
    assert!(pricing.body.contains("2 9.50"), "{}", pricing.body);
}
