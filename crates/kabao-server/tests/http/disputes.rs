//! Disputes (平台介入) over the API, on both backends: a claim rejected by the merchant, the escrow settled, a
//! reminder before the escalation window closes, the buyer escalates, both sides state their case, and the
//! arbiter's refund is paid from the shop's balance, then its deposit, then the compensation fund — once.

use crate::app::{TestApp, T0};
use crate::claims::{file_claim, png};
use crate::orders::{order_no, top_up, verify_books};
use axum::http::StatusCode;
use kabao_core::user::Role;
use serde_json::json;

fn config() -> kabao_server::ServerConfig {
    kabao_server::ServerConfig {
        fund_min_deposit: kabao_core::Money::from_fen(300),
        fund_fee: kabao_core::Money::from_fen(600),
        ..Default::default()
    }
}

async fn user(app: &TestApp, name: &str, role: Role, email: Option<&str>) -> String {
    kabao_app::accounts::create_user(&*app.state.store, name, "password-pass-1", role, email, T0).await.unwrap();
    app.token(name, "password-pass-1").await
}

async fn balance(app: &TestApp, account: kabao_core::ledger::Account) -> i64 {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.balance(account).await.unwrap().fen()
}

async fn dispute_after_settlement(app: TestApp) {
    use kabao_core::ledger::Account;
    let (merchant, product) = app.merchant_with_product("dispute_m").await;
    app.import(&merchant, product, "DK-0001\nDK-0002\nDK-0003\n").await;
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/products/{product}/warranty"),
            Some(&merchant),
            Some(json!({"template": "license_key_7d"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let shop = kabao_core::ShopId(shop);
    let buyer = user(&app, "dispute_b", Role::Buyer, Some("dispute_b@example.com")).await;
    top_up(&app, &buyer, 5_000).await;
    let no = order_no(&app, &buyer, json!({"product_id": product, "quantity": 2, "warranty_ack": true})).await;
    assert_eq!(
        app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&buyer), None).await.status,
        StatusCode::OK
    );
    app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(&buyer), None).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "激活失败：序列号已被使用")];
    let res = file_claim(
        &app,
        (Some(&buyer), None),
        &format!("/api/v1/orders/{no}/claims"),
        &fields,
        &[("s.png", &png("s"))],
        None,
    )
    .await;
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let claim_path = format!("/api/v1/orders/{no}/claims/{claim_no}");

    // Escalating an open claim is refused; the merchant rejects it within its deadline.
    let res =
        app.api("POST", &format!("{claim_path}/escalate"), Some(&buyer), Some(json!({"statement": "商家不理"}))).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("claim.not_escalatable")));
    app.clock.advance_seconds(3600);
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/claims/{claim_no}/decision"),
            Some(&merchant),
            Some(json!({"decision": "reject", "reason": "售出前已测试可用"})),
        )
        .await;
    assert_eq!(res.json()["state"], "rejected");

    // The claim window ends: escrow is settled to the shop; the buyer is reminded before the escalation window ends.
    app.clock.advance_seconds(7 * 86_400 - 3600 + 60);
    let pass = kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap();
    assert_eq!((pass.settled, pass.escalation_reminders), (Some(1), Some(1)));
    assert!(
        app.mail.sent.lock().unwrap().iter().any(|m| m.to == "dispute_b@example.com" && m.text.contains(&claim_no)),
        "a reminder mail"
    );
    assert_eq!(kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap().escalation_reminders, Some(0));

    // The shop joins the fund (deposit 3 元 + 6 元 into the fund), the platform adds its fees, the shop withdraws most
    // of the rest: the refund will need every source.
    let res = app.api("POST", "/api/v1/merchant/fund/join", Some(&merchant), None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(app.api("POST", "/api/v1/merchant/fund/join", Some(&merchant), None).await.status, StatusCode::CONFLICT);
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    let admin = app.token("admin", &password).await;
    let fees = balance(&app, Account::PlatformRevenue).await;
    let res =
        app.api("POST", "/api/v1/admin/fund/contributions", Some(&admin), Some(json!({"amount_fen": fees}))).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res =
        app.api("POST", "/api/v1/admin/fund/contributions", Some(&merchant), Some(json!({"amount_fen": 1}))).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let available = balance(&app, Account::MerchantAvailable(shop)).await;
    assert_eq!(available, 1980 - fees - 300 - 600);
    let payee = app
        .api(
            "POST",
            "/api/v1/merchant/payees",
            Some(&merchant),
            Some(json!({"kind": "alipay", "account": "13912345678", "name": "赵六"})),
        )
        .await
        .json()["id"]
        .clone();
    let w = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&merchant),
            Some(json!({"amount_fen": available - 121, "payee_id": payee})),
        )
        .await;
    let id = w.json()["id"].as_i64().unwrap();
    app.api(
        "POST",
        &format!("/api/v1/admin/withdrawals/{id}/decision"),
        Some(&admin),
        Some(json!({"approve": true, "payout_ref": "ALI-0002"})),
    )
    .await;
    assert_eq!(balance(&app, Account::MerchantAvailable(shop)).await, 121);

    // The buyer escalates; both sides state their case; the arbiter sees the whole case.
    let res = app
        .api(
            "POST",
            &format!("{claim_path}/escalate"),
            Some(&buyer),
            Some(json!({"statement": "序列号从未激活过，截图为证"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res =
        app.api("POST", &format!("{claim_path}/escalate"), Some(&buyer), Some(json!({"statement": "again"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "escalated once");
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/claims/{claim_no}/statements"),
            Some(&merchant),
            Some(json!({"statement": "我们的后台显示已激活"})),
        )
        .await;
    assert_eq!(res.json()["statements"].as_array().unwrap().len(), 2, "{}", res.body);
    // The merchant adds its own evidence (a log excerpt) while the dispute is open.
    let (ct, body) = crate::claims::multipart(&[("error_text", "后台记录：2026-11-28 10:02 已激活")], &[]);
    let req = axum::http::Request::post(format!("/api/v1/merchant/claims/{claim_no}/evidence"))
        .header("content-type", ct)
        .header("authorization", format!("Bearer {merchant}"))
        .body(axum::body::Body::from(body))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["evidence"].as_array().unwrap().iter().filter(|e| e["added_by"] == "merchant").count(), 1);
    let arbiter = user(&app, "arbiter_a", Role::Arbiter, None).await;
    assert_eq!(app.api("GET", "/api/v1/arbiter/disputes", Some(&merchant), None).await.status, StatusCode::FORBIDDEN);
    let queue = app.api("GET", "/api/v1/arbiter/disputes", Some(&arbiter), None).await.json();
    assert_eq!(queue[0]["claim_no"], claim_no.as_str());
    let case = app.api("GET", &format!("/api/v1/arbiter/disputes/{claim_no}"), Some(&arbiter), None).await.json();
    assert_eq!(case["order_state"], "settled");
    assert_eq!(case["claim"]["evidence"].as_array().unwrap().len(), 3, "both sides' evidence");
    assert!(!case["reveals"].as_array().unwrap().is_empty());
    assert!(case["warranty_snapshot"].as_str().unwrap().contains("invalid_key"));

    // Bad rulings change nothing; a refund of the whole price is paid: balance 1.21, deposit 3, the fund the rest.
    let ruling_path = format!("/api/v1/arbiter/disputes/{claim_no}/ruling");
    let rule = |body: serde_json::Value| app.api("POST", &ruling_path, Some(&arbiter), Some(body));
    assert_eq!(rule(json!({"ruling": "refund", "refund_fen": 990, "reason": " "})).await.json()["field"], "reason");
    assert_eq!(rule(json!({"ruling": "refund", "refund_fen": 991, "reason": "x"})).await.json()["field"], "refund_fen");
    assert_eq!(rule(json!({"ruling": "maybe", "reason": "x"})).await.json()["field"], "ruling");
    let res = app
        .api(
            "POST",
            &format!("/api/v1/arbiter/disputes/{claim_no}/ruling"),
            Some(&merchant),
            Some(json!({"ruling": "reject", "reason": "mine"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "a merchant cannot rule");
    let wallet_before =
        app.api("GET", "/api/v1/wallet", Some(&buyer), None).await.json()["balance_fen"].as_i64().unwrap();
    let res = rule(json!({"ruling": "refund", "refund_fen": 990, "reason": "商家无法证明激活记录"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!((res.json()["state"].clone(), res.json()["ruling"].clone()), (json!("decided"), json!("refund")));
    let wallet =
        || async { app.api("GET", "/api/v1/wallet", Some(&buyer), None).await.json()["balance_fen"].as_i64().unwrap() };
    assert_eq!(wallet().await, wallet_before + 990);
    assert_eq!(balance(&app, Account::MerchantAvailable(shop)).await, 0);
    assert_eq!(balance(&app, Account::MerchantDeposit(shop)).await, 0);
    assert_eq!(
        balance(&app, Account::FundReceivable(shop)).await,
        -(990 - 121 - 300),
        "the shop owes the fund its advance"
    );
    let fund = app.api("GET", "/api/v1/fund", None, None).await.json();
    assert_eq!((fund["outstanding_fen"].clone(), fund["members"].clone()), (json!(569), json!(1)));
    assert_eq!(fund["cash_fen"], 600 + fees - 569);
    assert_eq!(fund["payouts"][0][1], 569);
    // The lost dispute lowers the shop's trust, with the reason shown.
    let trust = app.api("GET", &format!("/api/v1/shops/{}/trust", shop.0), None, None).await.json();
    let lost = trust["reasons"].as_array().unwrap().iter().find(|r| r["code"] == "disputes.lost").cloned();
    assert_eq!(
        lost.map(|r| (r["points"].clone(), r["text"].clone())),
        Some((json!(-8), json!("近 90 天平台介入败诉 1 次"))),
        "{trust}"
    );
    assert!(trust["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "dispute_lost_recently"), "{trust}");

    // A ruling runs once.
    let res = rule(json!({"ruling": "refund", "refund_fen": 990, "reason": "again"})).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("dispute.decided")));
    assert_eq!(wallet().await, wallet_before + 990);
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/claims/{claim_no}/statements"),
            Some(&merchant),
            Some(json!({"statement": "late"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let claim = app.api("GET", &claim_path, Some(&buyer), None).await.json();
    assert_eq!(
        (claim["state"].clone(), claim["decision_reason"].clone()),
        (json!("refunded"), json!("商家无法证明激活记录"))
    );
    verify_books(&app).await;
    complaint_package(&app, &buyer, &no).await;

    // The shop's next earnings pay the fund back first.
    let next = order_no(&app, &buyer, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    assert_eq!(
        app.api("POST", &format!("/api/v1/orders/{next}/pay/wallet"), Some(&buyer), None).await.status,
        StatusCode::OK
    );
    app.clock.advance_seconds(7 * 86_400 + 60);
    assert_eq!(kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap().settled, Some(1));
    assert_eq!(balance(&app, Account::FundReceivable(shop)).await, 0, "the advance is repaid");
    assert_eq!(balance(&app, Account::MerchantAvailable(shop)).await, 990 - 29 - 569);
    assert_eq!(app.api("GET", "/api/v1/fund", None, None).await.json()["outstanding_fen"], 0);
    verify_books(&app).await;
}

/// The complaint package verifies as downloaded, and each kind of tampering is named.
async fn complaint_package(app: &TestApp, buyer: &str, no: &str) {
    use kabao_app::bundle::{unzip, verify, zip_files};
    let path = format!("/api/v1/orders/{no}/complaint-package");
    assert_eq!(app.get_bytes(&path, None).await.0, StatusCode::NOT_FOUND, "not without the buyer's token");
    let (status, headers, zip) = app.get_bytes(&path, Some(buyer)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-type").unwrap(), "application/zip");
    let verdict = verify(&zip).unwrap();
    assert!(verdict.problems.is_empty(), "{:?}", verdict.problems);
    assert_eq!(verdict.order_no, no);
    let files = unzip(&zip).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "report.html",
        "policy/snapshot.json",
        "order/events.json",
        "order/ledger.json",
        "claims/claims.json",
        "manifest.json",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let report = String::from_utf8(files.iter().find(|(n, _)| n == "report.html").unwrap().1.clone()).unwrap();
    assert!(report.contains("12315") && report.contains("商家无法证明激活记录") && report.contains("SHA-256"));
    assert_eq!(
        names.iter().filter(|n| n.starts_with("evidence/")).count(),
        3,
        "the screenshot, the error text, the log"
    );

    type Files = Vec<(String, Vec<u8>)>;
    let tampered = |edit: &dyn Fn(&mut Files)| {
        let mut f = files.clone();
        edit(&mut f);
        verify(&zip_files(&f).unwrap()).unwrap().problems
    };
    let evidence = names.iter().find(|n| n.ends_with(".png")).unwrap().to_string();
    let p = tampered(&|f| f.iter_mut().find(|(n, _)| *n == evidence).unwrap().1.push(0));
    assert!(p.iter().any(|p| p.starts_with(&evidence) && p.contains("altered")), "{p:?}");
    // An edited event, with the manifest "fixed" to match: the hash chain still gives it away.
    let p = tampered(&|f| {
        let (_, events) = f.iter_mut().find(|(n, _)| n == "order/events.json").unwrap();
        let text = String::from_utf8(events.clone()).unwrap().replacen("售出前已测试可用", "商家同意退款", 1);
        *events = text.into_bytes();
        let new_sha = kabao_app::bundle::sha256_hex(events);
        let (_, m) = f.iter_mut().find(|(n, _)| n == "manifest.json").unwrap();
        let mut manifest: kabao_app::bundle::Manifest = serde_json::from_slice(m).unwrap();
        manifest.files.iter_mut().find(|x| x.path == "order/events.json").unwrap().sha256 = new_sha;
        *m = serde_json::to_vec(&manifest).unwrap();
    });
    assert!(p.iter().any(|p| p.contains("event chain broken")), "{p:?}");
    let p = tampered(&|f| f.retain(|(n, _)| n != "order/ledger.json"));
    assert_eq!(p, vec!["order/ledger.json: missing".to_string()]);
    let p = tampered(&|f| f.push(("evidence/extra.png".into(), b"x".to_vec())));
    assert!(p.iter().any(|p| p.contains("evidence/extra.png: added")), "{p:?}");
    assert!(verify(b"not a zip").is_err());
}

#[tokio::test]
async fn sqlite_a_dispute_after_settlement_pays_from_balance_then_deposit_then_fund() {
    dispute_after_settlement(TestApp::with_config(config()).await).await;
}

#[tokio::test]
async fn postgres_a_dispute_after_settlement_pays_from_balance_then_deposit_then_fund() {
    if let Some(app) = TestApp::postgres_with(config()).await {
        dispute_after_settlement(app).await;
    }
}

/// Joining the fund from the console shows 赔付保障 on the shop and its products; the fund's page is public; an
/// admin's contribution cannot exceed the platform's revenue.
#[tokio::test]
async fn fund_membership_badge_public_page_and_admin_contribution() {
    let app = TestApp::with_config(kabao_server::ServerConfig {
        fund_min_deposit: kabao_core::Money::ZERO,
        fund_fee: kabao_core::Money::ZERO,
        ..Default::default()
    })
    .await;
    let (merchant, product) = app.merchant_with_product("fund_page_m").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    assert!(!app.get(&format!("/p/{product}")).await.body.contains("fund-badge"));
    let mut m = app.browser();
    m.login("fund_page_m", "merchant-pass-1").await;
    assert!(m.get("/console/finance").await.body.contains("fund-join-form"));
    let csrf = m.csrf();
    assert_eq!(m.post("/console/fund/join", &[], Some(&csrf)).await.status, StatusCode::SEE_OTHER);
    assert!(m.get("/console/finance").await.body.contains("fund-member"));
    assert!(app.get(&format!("/p/{product}")).await.body.contains("id=\"fund-badge\""));
    assert!(app.get(&format!("/s/{shop}")).await.body.contains("id=\"fund-badge\""));
    let page = app.get("/fund").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"fund-members\">1<"), "{}", page.body);

    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    let mut admin = app.browser();
    admin.login("admin", &password).await;
    let csrf = admin.csrf();
    let res = admin.post("/admin/fund/contributions", &[("amount", "abc")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = admin.post("/admin/fund/contributions", &[("amount", "100.00")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::PAYMENT_REQUIRED, "no revenue to move yet");
    assert_eq!(app.api("GET", "/api/v1/fund", None, None).await.json()["cash_fen"], 0);
}
