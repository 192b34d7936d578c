//! The insurance book (保险账本) at `/api/v1/admin/insurance` and `/admin/insurance`, on both backends: after
//! premiums in two categories and two shops, a queued payout, then the payout and its recovery, the figures per
//! category and shop are right; only admins see them.

use crate::app::TestApp;
use crate::claims::{file_claim, png, reveal, set_template};
use crate::insurance::{insured_order, premium};
use crate::orders::{buyer, top_up};
use axum::http::StatusCode;
use kabao_core::insurance::{loss_ratio_permille, percent_text};
use kabao_core::Money;
use serde_json::Value;

/// A paid insured order of `product` by `token`; returns (order no, premium).
async fn insured_and_paid(app: &TestApp, token: &str, product: i64) -> (String, i64) {
    let p = premium(app, product).await;
    let no = insured_order(app, token, product, p).await.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    (no, p)
}

fn row<'a>(rows: &'a Value, key: &str, value: &Value) -> &'a Value {
    rows.as_array().unwrap().iter().find(|r| &r[key] == value).unwrap_or_else(|| panic!("no {key} {value} in {rows}"))
}

/// (premiums, payouts, recoveries, pending count, pending amount) of a book line.
fn figures(line: &Value) -> (i64, i64, i64, i64, i64) {
    let f = |k: &str| line[k].as_i64().unwrap_or_else(|| panic!("{k} in {line}"));
    (f("premiums_fen"), f("payouts_fen"), f("recoveries_fen"), f("pending_count"), f("pending_fen"))
}

async fn book_story(app: TestApp) {
    use kabao_core::ledger::{Account, LedgerTx, TxKind};
    use kabao_core::user::Role;
    // Shop A sells a game card, shop B (a name to escape) a top-up card.
    let (merchant_a, card) = app.merchant_with_product("book_seller_a").await;
    set_template(&app, &merchant_a, card, "license_key_7d").await;
    app.import(&merchant_a, card, "BOOK-A-0001\nBOOK-A-0002\n").await;
    let merchant_b = app.merchant_token("book_seller_b").await;
    let body = serde_json::json!({"name": "<b>B&店</b>"});
    let res = app.api("POST", "/api/v1/merchant/shop", Some(&merchant_b), Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let shop_b = res.json()["id"].as_i64().unwrap();
    let body = serde_json::json!({"title": "话费充值 10 元", "category": "top_up", "kind": "standard", "price_fen": 990,
        "max_per_order": 5});
    let res = app.api("POST", "/api/v1/merchant/products", Some(&merchant_b), Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let top_up_card = res.json()["id"].as_i64().unwrap();
    set_template(&app, &merchant_b, top_up_card, "license_key_7d").await;
    app.import(&merchant_b, top_up_card, "BOOK-B-0001\n").await;
    let shop_a = app.api("GET", "/api/v1/merchant/shop", Some(&merchant_a), None).await.json()["id"].as_i64().unwrap();

    let token = buyer(&app, "book_buyer").await;
    top_up(&app, &token, 10_000).await;
    let (claimed, pa1) = insured_and_paid(&app, &token, card).await;
    let (_, pa2) = insured_and_paid(&app, &token, card).await;
    let (_, pb) = insured_and_paid(&app, &token, top_up_card).await;

    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, crate::app::T0).await.unwrap().unwrap();
    let admin = app.token("admin", &password).await;
    kabao_app::accounts::create_user(
        &*app.state.store,
        "book_arbiter",
        "arbiter-pass-1",
        Role::Arbiter,
        None,
        crate::app::T0,
    )
    .await
    .unwrap();
    let arbiter = app.token("book_arbiter", "arbiter-pass-1").await;
    let book = || async { app.api("GET", "/api/v1/admin/insurance", Some(&admin), None).await };

    // Only admins read the book.
    for (who, t) in [("buyer", &token), ("merchant", &merchant_a), ("arbiter", &arbiter)] {
        let res = app.api("GET", "/api/v1/admin/insurance", Some(t), None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{who}: {}", res.body);
        assert_eq!(res.json()["error"], "auth.forbidden", "{who}");
    }
    assert_eq!(app.api("GET", "/api/v1/admin/insurance", None, None).await.status, StatusCode::UNAUTHORIZED);

    // Premiums only.
    let res = book().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let b = res.json();
    assert_eq!(b["pool_fen"], pa1 + pa2 + pb);
    assert_eq!(figures(&b["totals"]), (pa1 + pa2 + pb, 0, 0, 0, 0));
    assert_eq!(figures(row(&b["by_category"], "category", &"game_card".into())), (pa1 + pa2, 0, 0, 0, 0));
    assert_eq!(figures(row(&b["by_category"], "category", &"top_up".into())), (pb, 0, 0, 0, 0));
    assert_eq!(row(&b["by_category"], "category", &"game_card".into())["loss_ratio_permille"], 0);

    // Shop A is suspended with an insured claim open: the cover takes it over, but the pool is short (queued).
    reveal(&app, &token, &claimed).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let claim_path = format!("/api/v1/orders/{claimed}/claims");
    let res = file_claim(&app, (Some(&token), None), &claim_path, &fields, &[("s.png", &png("b"))], None).await;
    assert!(res.status.is_success(), "{}", res.body);
    let body = serde_json::json!({"suspended": true, "reason": "售卖无效卡密"});
    let res = app.api("PUT", &format!("/api/v1/admin/shops/{shop_a}/suspension"), Some(&admin), Some(body)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let run = || async { kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap() };
    assert_eq!(run().await.insurance_paid, Some(0));
    let b = book().await.json();
    assert_eq!(figures(row(&b["by_category"], "category", &"game_card".into())), (pa1 + pa2, 0, 0, 1, 990));
    assert_eq!(figures(row(&b["by_shop"], "shop_id", &shop_a.into())), (pa1 + pa2, 0, 0, 1, 990));
    assert_eq!(figures(row(&b["by_shop"], "shop_id", &shop_b.into())), (pb, 0, 0, 0, 0));
    assert_eq!(figures(&b["totals"]), (pa1 + pa2 + pb, 0, 0, 1, 990));

    // Money reaches the pool from outside any order (not in a category's premiums); the payout is paid and
    // recovered from the order's escrow.
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    let outside = Money::from_fen(2_000);
    let funds = LedgerTx::transfer(TxKind::InsurancePremium, Account::GatewayClearing, Account::InsurancePool, outside);
    tx.post_ledger(&funds.unwrap(), None, app.state.now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(run().await.insurance_paid, Some(1));
    let b = book().await.json();
    assert_eq!(b["pool_fen"], pa1 + pa2 + pb + 2_000);
    let game_card = row(&b["by_category"], "category", &"game_card".into());
    assert_eq!(figures(game_card), (pa1 + pa2, 990, 990, 0, 0));
    assert_eq!(game_card["category_label"], "游戏点卡");
    let ratio = loss_ratio_permille(Money::from_fen(990), Money::from_fen(pa1 + pa2)).unwrap();
    assert_eq!(game_card["loss_ratio_permille"], ratio);
    assert_eq!(figures(row(&b["by_category"], "category", &"top_up".into())), (pb, 0, 0, 0, 0));
    let a = row(&b["by_shop"], "shop_id", &shop_a.into());
    assert_eq!(figures(a), (pa1 + pa2, 990, 990, 0, 0));
    assert_eq!(a["shop_name"], "book_seller_a 的店");
    assert_eq!(row(&b["by_shop"], "shop_id", &shop_b.into())["shop_name"], "<b>B&店</b>");
    assert_eq!(figures(&b["totals"]), (pa1 + pa2 + pb, 990, 990, 0, 0));
    assert_eq!(b["top_shops"], kabao_app::insurance::BOOK_TOP_SHOPS);
    let first = b["by_shop"][0]["premiums_fen"].as_i64().unwrap();
    assert_eq!(first, (pa1 + pa2).max(pb), "most premium first");
    crate::orders::verify_books(&app).await;

    // The page shows the same figures, with its charts; other roles get 403, a visitor is sent to log in.
    let mut page = app.browser();
    assert_eq!(page.login("admin", &password).await.status, StatusCode::SEE_OTHER);
    let res = page.get("/admin/insurance").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let body = res.body;
    assert!(body.contains("保险账本"), "{body}");
    let pool = Money::from_fen(pa1 + pa2 + pb + 2_000).to_string();
    assert!(body.contains(&format!("<dd id=\"book-pool\">{pool}</dd>")), "{body}");
    let cells = format!(
        "游戏点卡</th><td class=\"premiums\">{}</td><td class=\"payouts\">¥9.90</td><td class=\"recoveries\">¥9.90</td>\
         <td class=\"pending\">0 · ¥0.00</td><td class=\"loss-ratio\">{}</td>",
        Money::from_fen(pa1 + pa2),
        percent_text(ratio)
    );
    assert!(body.contains(&cells), "{cells} in {body}");
    assert!(body.contains("<svg id=\"category-chart\"") && body.contains("<svg id=\"shop-chart\""), "{body}");
    assert!(body.contains("&#60;b&#62;B&#38;店&#60;/b&#62;") && !body.contains("<b>B&"), "the shop name is escaped");
    crate::hardened::assert_no_inline_script(&body, "the insurance book");
    let admin_home = page.get("/admin").await.body;
    assert!(admin_home.contains("href=\"/admin/insurance\""), "linked from the admin page");
    page.get("/lang/en?next=/admin/insurance").await;
    let body = page.get("/admin/insurance").await.body;
    assert!(body.contains("Insurance book") && body.contains("Game card") && body.contains("Loss ratio"), "{body}");

    for (user, password) in [("book_buyer", "buyer-pass-1"), ("book_seller_a", "merchant-pass-1")] {
        let mut other = app.browser();
        assert_eq!(other.login(user, password).await.status, StatusCode::SEE_OTHER, "{user}");
        assert_eq!(other.get("/admin/insurance").await.status, StatusCode::FORBIDDEN, "{user}");
    }
    let mut arb = app.browser();
    assert_eq!(arb.login("book_arbiter", "arbiter-pass-1").await.status, StatusCode::SEE_OTHER);
    assert_eq!(arb.get("/admin/insurance").await.status, StatusCode::FORBIDDEN);
    let res = app.browser().get("/admin/insurance").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.location().starts_with("/login"), "{}", res.location());
}

#[tokio::test]
async fn sqlite_insurance_book_shows_premiums_payouts_recoveries_and_pending_by_category_and_shop() {
    book_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_insurance_book_shows_premiums_payouts_recoveries_and_pending_by_category_and_shop() {
    if let Some(app) = TestApp::postgres().await {
        book_story(app).await;
    }
}

/// Measures the book's read with 5 000 insured orders (10 000 pool entries) over 50 shops, on SQLite and (with
/// `KABAO_TEST_DATABASE_URL`) PostgreSQL, test profile:
/// `cargo test -p kabao-server --test http -- --ignored insurance_book_cost --nocapture`.
#[tokio::test]
#[ignore]
async fn insurance_book_cost() {
    book_cost(TestApp::new().await, "SQLite").await;
    if let Some(app) = TestApp::postgres().await {
        book_cost(app, "PostgreSQL").await;
    }
}

async fn book_cost(app: TestApp, backend: &str) {
    use kabao_core::ledger::{Account, LedgerTx, TxKind};
    let (edge, pool) = (Account::GatewayClearing, Account::InsurancePool);
    for s in 0..50 {
        let (_, product) = app.merchant_with_product(&format!("cost_shop_{s}")).await;
        let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
        let p = tx.product_by_id(kabao_core::ProductId(product)).await.unwrap().unwrap();
        for i in 0..100 {
            let order = kabao_store::NewOrder {
                order_no: format!("K{s:04}{i:022}"),
                buyer_id: None,
                guest_email: Some("g@example.com".into()),
                guest_query_hash: None,
                shop_id: p.shop_id,
                product_id: p.id,
                quantity: 1,
                unit_price: Money::from_fen(990),
                amount: Money::from_fen(990),
                warranty_snapshot: r#"{"warranty":"none"}"#.into(),
                warranty_sha256: vec![7; 32],
                warranty_ack: true,
                created_at: crate::app::T0,
                expires_at: crate::app::T0,
                custom_answers: None,
            };
            let id = tx.insert_order(&order).await.unwrap();
            let premium = LedgerTx::transfer(TxKind::InsurancePremium, edge, pool, Money::from_fen(50)).unwrap();
            tx.post_ledger(&premium, Some(id), crate::app::T0).await.unwrap();
            let refund = LedgerTx::transfer(TxKind::InsuranceRefund, pool, edge, Money::from_fen(10)).unwrap();
            tx.post_ledger(&refund, Some(id), crate::app::T0).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    kabao_app::accounts::ensure_admin(&*app.state.store, crate::app::T0).await.unwrap();
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let admin = tx.user_by_username("admin").await.unwrap().unwrap();
    drop(tx);
    let runs = 20;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let b = kabao_app::insurance::book(&app.state, &admin).await.unwrap();
        assert_eq!(b.totals.premiums, Money::from_fen(5_000 * 40));
    }
    println!("{backend}: insurance book, 10 000 pool entries, 50 shops: {:?} per read", start.elapsed() / runs);
}
