//! Withdrawals that can be paid out: a request holds its money at once (a second request for the same money is
//! refused, also under concurrency, on both backends), goes to one of the merchant's own payees (validated,
//! masked on display), itemises its fee, and is paid out by the platform with a reference, or rejected with a
//! reason that returns the money.

use crate::app::{TestApp, T0};
use crate::orders::{buyer, verify_books};
use axum::http::StatusCode;
use kabao_core::ledger::{Account, LedgerTx, TxKind};
use kabao_core::{Money, ShopId};
use serde_json::json;

/// A merchant with a shop and `fen` available (as if orders had settled); returns (token, shop).
async fn merchant_with_balance(app: &TestApp, name: &str, fen: i64) -> (String, ShopId) {
    let (token, _) = app.merchant_with_product(name).await;
    let shop = ShopId(app.api("GET", "/api/v1/merchant/shop", Some(&token), None).await.json()["id"].as_i64().unwrap());
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    let earned = LedgerTx::transfer(
        TxKind::Settlement,
        Account::GatewayClearing,
        Account::MerchantAvailable(shop),
        Money::from_fen(fen),
    )
    .unwrap();
    tx.post_ledger(&earned, None, T0).await.unwrap();
    tx.commit().await.unwrap();
    (token, shop)
}

async fn alipay_payee(app: &TestApp, token: &str) -> i64 {
    let res = app
        .api(
            "POST",
            "/api/v1/merchant/payees",
            Some(token),
            Some(json!({"kind": "alipay", "account": "13812345678", "name": "张三"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()["id"].as_i64().unwrap()
}

async fn admin(app: &TestApp) -> String {
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    app.token("admin", &password).await
}

async fn balance(app: &TestApp, account: Account) -> i64 {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.balance(account).await.unwrap().fen()
}

#[tokio::test]
async fn a_second_request_for_the_same_money_is_refused_naming_the_amount() {
    let app = TestApp::new().await;
    let (merchant, shop) = merchant_with_balance(&app, "twice_seller", 5_000).await;
    let payee = alipay_payee(&app, &merchant).await;
    let body = json!({"amount_fen": 5_000, "payee_id": payee});
    let first = app.api("POST", "/api/v1/merchant/withdrawals", Some(&merchant), Some(body.clone())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = app.api("POST", "/api/v1/merchant/withdrawals", Some(&merchant), Some(body)).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
    assert_eq!(
        (second.json()["code"].clone(), second.json()["field"].clone()),
        (json!("withdrawal.insufficient"), json!("amount"))
    );
    let f = app.api("GET", "/api/v1/merchant/finance", Some(&merchant), None).await.json();
    assert_eq!((f["available_fen"].as_i64(), f["pending_withdrawals_fen"].as_i64()), (Some(0), Some(5_000)));
    assert_eq!(balance(&app, Account::WithdrawalPending(shop)).await, 5_000, "the request holds its money");
    verify_books(&app).await;
}

/// Thirty requests for the whole balance at once: exactly one passes, the rest are 409 naming the amount.
async fn concurrent_requests_for_the_whole_balance(app: TestApp) {
    let (merchant, shop) = merchant_with_balance(&app, "rush_seller", 8_000).await;
    let payee = alipay_payee(&app, &merchant).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (app, merchant) = (app.clone(), merchant.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"amount_fen": 8_000, "payee_id": payee});
            app.api("POST", "/api/v1/merchant/withdrawals", Some(&merchant), Some(body)).await
        }));
    }
    let (mut created, mut refused) = (0, 0);
    for t in tasks {
        let res = t.await.unwrap();
        match res.status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_eq!(res.json()["field"], "amount", "{}", res.body);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert_eq!((created, refused), (1, 29));
    assert_eq!(balance(&app, Account::MerchantAvailable(shop)).await, 0);
    assert_eq!(balance(&app, Account::WithdrawalPending(shop)).await, 8_000);
    verify_books(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_requests_for_the_whole_balance_let_exactly_one_through() {
    concurrent_requests_for_the_whole_balance(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_requests_for_the_whole_balance_let_exactly_one_through() {
    if let Some(app) = TestApp::postgres().await {
        concurrent_requests_for_the_whole_balance(app).await;
    }
}

#[tokio::test]
async fn payees_are_validated_masked_and_only_the_owners() {
    let app = TestApp::new().await;
    let (merchant, _) = merchant_with_balance(&app, "payee_seller", 5_000).await;
    let (other, _) = merchant_with_balance(&app, "payee_other", 5_000).await;
    let buyer = buyer(&app, "payee_buyer").await;
    let admin = admin(&app).await;

    for (body, field) in [
        (json!({"kind": "bank", "account": "6222021234567895", "name": "李四", "bank_name": "工商银行"}), "account"),
        (json!({"kind": "bank", "account": "6222021234567894", "name": "李四"}), "bank_name"),
        (json!({"kind": "alipay", "account": "12812345678", "name": "张三"}), "account"),
        (json!({"kind": "alipay", "account": "13812345678", "name": "张"}), "name"),
        (json!({"kind": "wechat", "account": "13812345678", "name": "张三"}), "kind"),
    ] {
        let res = app.api("POST", "/api/v1/merchant/payees", Some(&merchant), Some(body.clone())).await;
        assert_eq!(
            (res.status, res.json()["field"].clone()),
            (StatusCode::BAD_REQUEST, json!(field)),
            "{body}: {}",
            res.body
        );
    }
    let card = app
        .api(
            "POST",
            "/api/v1/merchant/payees",
            Some(&merchant),
            Some(json!({"kind": "bank", "account": "6222 0212 3456 7894", "name": "李四", "bank_name": "工商银行"})),
        )
        .await;
    assert_eq!(card.status, StatusCode::CREATED, "{}", card.body);
    assert_eq!(
        (card.json()["account_masked"].clone(), card.json()["holder_name_masked"].clone()),
        (json!("****7894"), json!("李*"))
    );
    let alipay = alipay_payee(&app, &merchant).await;
    let list = app.api("GET", "/api/v1/merchant/payees", Some(&merchant), None).await;
    assert_eq!(list.json()[0]["account_masked"], "138****5678");
    for secret in ["6222021234567894", "13812345678", "张三", "李四"] {
        assert!(!list.body.contains(secret), "the merchant's own list shows {secret} unmasked");
    }
    let page = {
        let mut b = app.browser();
        b.login("payee_seller", "merchant-pass-1").await;
        b.get("/console/finance").await
    };
    assert!(page.body.contains("138****5678") && !page.body.contains("13812345678"), "{}", page.body);

    // Another merchant's payee does not exist for this one; a buyer or an admin is not a merchant.
    let path = format!("/api/v1/merchant/payees/{alipay}");
    assert_eq!(app.api("GET", &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.api("DELETE", &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    let theirs = app
        .api("POST", "/api/v1/merchant/withdrawals", Some(&other), Some(json!({"amount_fen": 100, "payee_id": alipay})))
        .await;
    assert_eq!((theirs.status, theirs.json()["field"].clone()), (StatusCode::NOT_FOUND, json!("payee_id")));
    let missing =
        app.api("POST", "/api/v1/merchant/withdrawals", Some(&merchant), Some(json!({"amount_fen": 100}))).await;
    assert_eq!((missing.status, missing.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("payee_id")));
    for token in [&buyer, &admin] {
        assert_eq!(app.api("GET", "/api/v1/merchant/payees", Some(token), None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.api("GET", &path, Some(token), None).await.status, StatusCode::FORBIDDEN);
        let body = json!({"kind": "alipay", "account": "13812345678", "name": "张三"});
        assert_eq!(
            app.api("POST", "/api/v1/merchant/payees", Some(token), Some(body)).await.status,
            StatusCode::FORBIDDEN
        );
        let w = json!({"amount_fen": 100, "payee_id": alipay});
        assert_eq!(
            app.api("POST", "/api/v1/merchant/withdrawals", Some(token), Some(w)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.api("GET", "/api/v1/merchant/withdrawals", Some(token), None).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(app.api("GET", "/api/v1/merchant/payees", None, None).await.status, StatusCode::UNAUTHORIZED);

    // A removed payee can no longer be chosen.
    assert_eq!(app.api("DELETE", &path, Some(&merchant), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.api("DELETE", &path, Some(&merchant), None).await.status, StatusCode::NOT_FOUND);
    let removed = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 100, "payee_id": alipay})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_payout_itemises_the_fee_pays_the_snapshot_and_records_the_reference_once() {
    let app = TestApp::with_config(kabao_server::ServerConfig {
        withdrawal_fee_bps: 100,
        withdrawal_fee_min: Money::from_fen(200),
        ..kabao_server::ServerConfig::default()
    })
    .await;
    let (merchant, shop) = merchant_with_balance(&app, "fee_seller", 50_000).await;
    let admin = admin(&app).await;
    let payee = alipay_payee(&app, &merchant).await;
    let below = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 200, "payee_id": payee})),
        )
        .await;
    assert_eq!((below.status, below.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("amount")));
    let small = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 10_000, "payee_id": payee})),
        )
        .await
        .json();
    assert_eq!((small["fee_fen"].as_i64(), small["net_fen"].as_i64()), (Some(200), Some(9_800)), "the minimum fee");
    let big = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 40_000, "payee_id": payee})),
        )
        .await
        .json();
    assert_eq!((big["fee_fen"].as_i64(), big["net_fen"].as_i64()), (Some(400), Some(39_600)), "1 %");
    assert_eq!(big["payee"]["account_masked"], "138****5678");
    // The payee is removed after the request: the request is still paid where it said.
    app.api("DELETE", &format!("/api/v1/merchant/payees/{payee}"), Some(&merchant), None).await;

    let queue = app.api("GET", "/api/v1/admin/withdrawals", Some(&admin), None).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    let item = &queue.json()[1];
    assert_eq!(
        (item["id"].clone(), item["net_fen"].clone(), item["fee_fen"].clone()),
        (big["id"].clone(), json!(39_600), json!(400))
    );
    assert_eq!(
        item["payee"],
        json!({"kind": "alipay", "account": "13812345678", "holder_name": "张三", "bank_name": null})
    );
    assert_eq!(app.api("GET", "/api/v1/admin/withdrawals", Some(&merchant), None).await.status, StatusCode::FORBIDDEN);

    let path = format!("/api/v1/admin/withdrawals/{}/decision", big["id"]);
    let no_ref = app.api("POST", &path, Some(&admin), Some(json!({"approve": true}))).await;
    assert_eq!((no_ref.status, no_ref.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("payout_ref")));
    let revenue = balance(&app, Account::PlatformRevenue).await;
    let clearing = balance(&app, Account::GatewayClearing).await;
    let paid = app.api("POST", &path, Some(&admin), Some(json!({"approve": true, "payout_ref": "2024ALI0001"}))).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(
        (paid.json()["state"].clone(), paid.json()["payout_ref"].clone()),
        (json!("approved"), json!("2024ALI0001"))
    );
    let again = app.api("POST", &path, Some(&admin), Some(json!({"approve": false, "note": "oops"}))).await;
    assert_eq!((again.status, again.json()["code"].clone()), (StatusCode::CONFLICT, json!("withdrawal.decided")));
    assert_eq!(balance(&app, Account::PlatformRevenue).await - revenue, 400, "the fee is platform revenue");
    assert_eq!(balance(&app, Account::GatewayClearing).await - clearing, 39_600, "the net left the platform");
    assert_eq!(balance(&app, Account::WithdrawalPending(shop)).await, 10_000, "the other request still holds");

    // One transfer pays one request.
    let reused = app
        .api(
            "POST",
            &format!("/api/v1/admin/withdrawals/{}/decision", small["id"]),
            Some(&admin),
            Some(json!({"approve": true, "payout_ref": "2024ALI0001"})),
        )
        .await;
    assert_eq!((reused.status, reused.json()["field"].clone()), (StatusCode::CONFLICT, json!("payout_ref")));
    let mine = app.api("GET", "/api/v1/merchant/withdrawals", Some(&merchant), None).await;
    assert_eq!(mine.json()[0]["payout_ref"], "2024ALI0001", "newest first: the paid one");
    assert_eq!(mine.json()[1]["state"], "pending", "a refused reference decides nothing");
    verify_books(&app).await;
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_returns_the_money() {
    let app = TestApp::new().await;
    let (merchant, shop) = merchant_with_balance(&app, "reject_seller", 3_000).await;
    let admin = admin(&app).await;
    let payee = alipay_payee(&app, &merchant).await;
    let w = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": 3_000, "payee_id": payee})),
        )
        .await
        .json();
    let path = format!("/api/v1/admin/withdrawals/{}/decision", w["id"]);
    let no_reason = app.api("POST", &path, Some(&admin), Some(json!({"approve": false, "note": "  "}))).await;
    assert_eq!((no_reason.status, no_reason.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("note")));
    let res = app.api("POST", &path, Some(&admin), Some(json!({"approve": false, "note": "实名与账户不符"}))).await;
    assert_eq!((res.status, res.json()["state"].clone()), (StatusCode::OK, json!("rejected")));
    assert_eq!(balance(&app, Account::MerchantAvailable(shop)).await, 3_000, "the money is back");
    assert_eq!(balance(&app, Account::WithdrawalPending(shop)).await, 0);
    let twice = app.api("POST", &path, Some(&admin), Some(json!({"approve": true, "payout_ref": "X1"}))).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let statement = app.api("GET", "/api/v1/merchant/statement", Some(&merchant), None).await.json();
    let kinds: Vec<_> = statement.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["withdrawal_return", "withdrawal_request", "settlement"]);
    verify_books(&app).await;
}

#[tokio::test]
async fn merchant_and_payout_pages_add_payees_request_and_pay_with_a_reference() {
    let app = TestApp::with_config(kabao_server::ServerConfig {
        withdrawal_fee_bps: 100,
        ..kabao_server::ServerConfig::default()
    })
    .await;
    let (_, _) = merchant_with_balance(&app, "page_seller", 20_000).await;
    let mut m = app.browser();
    m.login("page_seller", "merchant-pass-1").await;
    let page = m.get("/console/finance").await;
    assert!(page.body.contains("id=\"no-payees\""), "no withdrawal form without a payee");
    let csrf = m.csrf();
    let bad = m
        .post(
            "/console/finance/payees",
            &[("kind", "bank"), ("account", "6222021234567895"), ("name", "李四"), ("bank_name", "工商银行")],
            Some(&csrf),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("银行卡号须为 16–19 位数字"), "{}", bad.body);
    let ok = m
        .post(
            "/console/finance/payees",
            &[("kind", "bank"), ("account", "6222021234567894"), ("name", "李四"), ("bank_name", "工商银行")],
            Some(&csrf),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let page = m.get("/console/finance").await;
    assert!(
        page.body.contains("银行卡 工商银行 ****7894 李*") && !page.body.contains("6222021234567894"),
        "{}",
        page.body
    );
    let payee = app
        .api("GET", "/api/v1/merchant/payees", Some(&app.token("page_seller", "merchant-pass-1").await), None)
        .await
        .json()[0]["id"]
        .as_i64()
        .unwrap();
    let no_payee = m.post("/console/withdrawals", &[("amount", "100.00")], Some(&csrf)).await;
    assert_eq!(no_payee.status, StatusCode::BAD_REQUEST);
    assert!(no_payee.body.contains("请选择收款账户"));
    let w =
        m.post("/console/withdrawals", &[("amount", "100.00"), ("payee_id", &payee.to_string())], Some(&csrf)).await;
    assert_eq!(w.status, StatusCode::SEE_OTHER, "{}", w.body);
    let page = m.get("/console/finance").await;
    assert!(page.body.contains("¥1.00") && page.body.contains("¥99.00"), "fee and net on the page: {}", page.body);

    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    let mut a = app.browser();
    a.login("admin", &password).await;
    let payout = a.get("/admin/withdrawals").await;
    assert!(
        payout.body.contains("银行卡 工商银行 6222021234567894 李四") && payout.body.contains("¥99.00"),
        "{}",
        payout.body
    );
    let id = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.list_pending_withdrawals(1).await.unwrap()[0].id
    };
    let csrf = a.csrf();
    let no_ref = a.post(&format!("/admin/withdrawals/{id}/approve"), &[], Some(&csrf)).await;
    assert_eq!(no_ref.status, StatusCode::BAD_REQUEST);
    assert!(no_ref.body.contains("交易流水号"));
    let paid = a.post(&format!("/admin/withdrawals/{id}/approve"), &[("payout_ref", "BANK-778899")], Some(&csrf)).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    assert!(m.get("/console/finance").await.body.contains("BANK-778899"), "the merchant sees the reference");
    verify_books(&app).await;
}
