//! Third-party key verification (验货) against the reference verifier (`kabao_rails::verifier`) served on
//! 127.0.0.1: import refuses keys it says are redeemed; a key redeemed before delivery makes a claim eligible
//! and re-issued at once; "valid" is evidence on the merchant's and the arbiter's pages; a verifier that is down
//! never blocks a claim; the complaint package holds the answers (the refusal of badly signed requests is
//! tested beside the server, in kabao-rails). The signature's timestamp is wall-clock time (the server checks it), the app's clock stays manual.

use crate::app::{TestApp, T0};
use crate::claims::{bought, file_claim, png, reveal, set_template};
use crate::orders::{buyer, top_up, verify_books};
use axum::http::StatusCode;
use kabao_app::verification::VerifierConfig;
use kabao_core::catalog::Category;
use kabao_server::ServerConfig;
use serde_json::json;

const SECRET: &str = "verifier-test-secret-0123456789";

/// Seconds before the test clock's T0, when the dead keys were used.
fn before_t0_s() -> i64 {
    T0.millis() / 1000 - 3600
}

/// The reference verifier on a free loopback port, answering from `keys` (the `--keys` file format).
async fn reference(keys: &str) -> String {
    let book = kabao_rails::verifier::KeyBook::parse(keys).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(kabao_rails::verifier::serve_reference(listener, book, SECRET.as_bytes()));
    format!("http://{addr}/verify")
}

/// A loopback address where nothing listens.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/verify")
}

async fn app_with_verifier(url: &str) -> TestApp {
    let cfg = VerifierConfig { url: url.to_string(), secret: SECRET.into(), timeout_ms: 2_000, retries: 1 };
    let config = ServerConfig { verifiers: [(Category::GameCard, cfg)].into(), ..ServerConfig::default() };
    TestApp::with_config(config).await
}

async fn events(app: &TestApp, no: &str) -> Vec<(String, serde_json::Value)> {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(no).await.unwrap().unwrap();
    tx.order_events(order.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind.clone(), serde_json::from_str(&e.body).unwrap()))
        .collect()
}

#[tokio::test]
async fn import_refuses_keys_the_verifier_says_are_redeemed_or_invalid() {
    let url =
        reference(&format!("VK-USED\tredeemed\t{}\tused at store 12\nVK-GONE\tinvalid\nVK-OK\tvalid\n", before_t0_s()))
            .await;
    let app = app_with_verifier(&url).await;
    let (merchant, product) = app.merchant_with_product("ver_import_m").await;
    let res = app.import(&merchant, product, "VK-OK\nVK-USED\nVK-NEW\nVK-GONE\n").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = res.json();
    assert_eq!(r["accepted_count"], 2, "{r}");
    assert_eq!(r["accepted_lines"], json!([[1, 1], [3, 3]]));
    let refused: Vec<(i64, &str)> = r["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["line"].as_i64().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(refused, vec![(2, "redeemed"), (4, "invalid")]);
    assert_eq!(r["refused"][0]["redeemed_at"], before_t0_s() * 1000);
    assert!(
        r["refused"][0]["message"].as_str().unwrap().contains("第 2 行")
            && r["refused"][0]["message"].as_str().unwrap().contains("used at store 12")
    );
    assert_eq!(r["unverified_count"], 1, "VK-NEW is unknown to the verifier: kept, not checked");
    assert_eq!(app.stock(product).await, 2);

    // The console's report lists the refused lines too.
    let mut m = app.browser();
    assert_eq!(m.login("ver_import_m", "merchant-pass-1").await.status, StatusCode::SEE_OTHER);
    let csrf = m.csrf();
    let page = m.upload(&format!("/console/products/{product}/keys"), &csrf, b"VK-USED\nVK-2\n").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("report-refused") && page.body.contains("验货结果为「已被使用」"), "{}", page.body);
    assert_eq!(app.stock(product).await, 3);
}

#[tokio::test]
async fn a_key_redeemed_before_delivery_makes_the_claim_eligible_and_reissued_at_once() {
    let url = reference(&format!("RD-0001\tredeemed\t{}\n", before_t0_s())).await;
    let app = app_with_verifier(&url).await;
    let (merchant, product) = app.merchant_with_product("ver_claim_m").await;
    // RD-0001 came in before the category had a verifier (the verifier would refuse it now).
    kabao_app::inventory::import_keys(
        &*app.state.store,
        &app.state.keyring,
        merchant_id(&app, "ver_claim_m").await,
        kabao_core::ProductId(product),
        b"RD-0001\n",
        "test",
        T0,
    )
    .await
    .unwrap();
    app.import(&merchant, product, "RD-0002\n").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "ver_claim_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    assert_eq!(reveal(&app, &token, &no).await, vec!["RD-0001"]);

    // No screenshot, and the buyer says it was activated: outside the rules on its own word. The verifier's
    // "redeemed an hour before delivery" stands for the evidence: eligible, and re-issued at once.
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "already_redeemed"), ("activated", "true"), ("error_text", "提示已被使用")];
    let res = file_claim(&app, (Some(&token), None), &path, &fields, &[], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let filed = res.json();
    assert_eq!((filed["claim"]["eligible"].clone(), filed["claim"]["state"].clone()), (json!(true), json!("reissued")));
    assert_eq!(filed["new_key"], "RD-0002");
    let events = events(&app, &no).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    let at = kinds.iter().position(|k| *k == "claim.verified").expect("the answer is on the chain");
    assert_eq!(kinds[at - 1], "claim.filed");
    assert_eq!(kinds[at + 1], "claim.reissued");
    let body = &events[at].1;
    assert_eq!((body["status"].as_str(), body["finding"].as_str()), (Some("redeemed"), Some("defect_confirmed")));
    assert_eq!(body["redeemed_at"], before_t0_s() * 1000);
    verify_books(&app).await;

    // The complaint package carries the answer, and still verifies.
    let (status, _, zip) = app.get_bytes(&format!("/api/v1/orders/{no}/complaint-package"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kabao_app::bundle::verify(&zip).unwrap().problems.is_empty());
    let files = kabao_app::bundle::unzip(&zip).unwrap();
    let answers = files.iter().find(|(n, _)| n == "claims/verification.json").expect("verification.json").1.clone();
    let answers: serde_json::Value = serde_json::from_slice(&answers).unwrap();
    assert_eq!(answers[0]["answer"]["status"], "redeemed", "{answers}");
    let report = String::from_utf8(files.iter().find(|(n, _)| n == "report.html").unwrap().1.clone()).unwrap();
    assert!(report.contains("第三方验货：卡密在发货前已被使用或无效"), "the timeline names it");
}

async fn merchant_id(app: &TestApp, name: &str) -> kabao_core::UserId {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.user_by_username(name).await.unwrap().unwrap().id
}

#[tokio::test]
async fn valid_is_evidence_for_the_merchant_and_the_arbiter() {
    let url = reference("VA-0001\tvalid\t-\tnot redeemed, issued 2026-01\n").await;
    let app = app_with_verifier(&url).await;
    let (merchant, product) = app.merchant_with_product("ver_valid_m").await;
    app.import(&merchant, product, "VA-0001\nVA-0002\n").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "ver_valid_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    reveal(&app, &token, &no).await;
    // Outside the rules (activated), so nothing is re-issued; the verifier's "valid" is on record.
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key"), ("activated", "true")];
    let res = file_claim(&app, (Some(&token), None), &path, &fields, &[("a.png", &png("shot"))], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["claim"]["state"], "open");
    let claim_no = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let ev = events(&app, &no).await;
    let verified = ev.iter().find(|(k, _)| k == "claim.verified").expect("chained").1.clone();
    assert_eq!((verified["status"].as_str(), verified["finding"].as_str()), (Some("valid"), Some("key_valid")));
    assert_eq!(verified["detail"], "not redeemed, issued 2026-01");

    let mut m = app.browser();
    assert_eq!(m.login("ver_valid_m", "merchant-pass-1").await.status, StatusCode::SEE_OTHER);
    let page = m.get(&format!("/console/claims/{claim_no}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("第三方验货：卡密有效，未被使用"), "{}", page.body);
    assert!(page.body.contains("验货结果：有效，未被使用：not redeemed, issued 2026-01"), "{}", page.body);

    // The merchant rejects; the buyer takes it to the platform; the arbiter's case shows the answer too.
    let res =
        crate::claims::decide(&app, &merchant, &claim_no, json!({"decision": "reject", "reason": "验货显示有效"}))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app
        .api("POST", &format!("{path}/{claim_no}/escalate"), Some(&token), Some(json!({"statement": "确实无法使用"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    kabao_app::accounts::create_user(
        &*app.state.store,
        "ver_arbiter",
        "password-pass-1",
        kabao_core::user::Role::Arbiter,
        None,
        T0,
    )
    .await
    .unwrap();
    let arbiter = app.token("ver_arbiter", "password-pass-1").await;
    let case = app.api("GET", &format!("/api/v1/arbiter/disputes/{claim_no}"), Some(&arbiter), None).await;
    assert_eq!(
        case.json()["verification"][0],
        "验货结果：有效，未被使用：not redeemed, issued 2026-01",
        "{}",
        case.body
    );
    let mut a = app.browser();
    assert_eq!(a.login("ver_arbiter", "password-pass-1").await.status, StatusCode::SEE_OTHER);
    let case = a.get(&format!("/arbiter/disputes/{claim_no}")).await;
    assert_eq!(case.status, StatusCode::OK);
    assert!(case.body.contains("第三方验货：卡密有效，未被使用"), "{}", case.body);
    assert!(case.body.contains("验货结果：有效，未被使用：not redeemed, issued 2026-01"), "{}", case.body);
}

#[tokio::test]
async fn a_verifier_that_is_down_never_blocks_a_claim() {
    let app = app_with_verifier(&closed_port().await).await;
    let (merchant, product) = app.merchant_with_product("ver_down_m").await;
    let res = app.import(&merchant, product, "DN-0001\nDN-0002\n").await;
    assert_eq!((res.json()["accepted_count"].clone(), res.json()["unverified_count"].clone()), (json!(2), json!(2)));
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "ver_down_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    reveal(&app, &token, &no).await;
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key")];
    let res = file_claim(&app, (Some(&token), None), &path, &fields, &[("a.png", &png("shot"))], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["claim"]["state"], "reissued", "the claim proceeds as the rules say");
    let ev = events(&app, &no).await;
    let note = ev.iter().find(|(k, _)| k == "claim.verified").expect("the note is chained").1.clone();
    assert_eq!((note["reachable"].clone(), note["finding"].clone()), (json!(false), json!("no_finding")));
    assert!(note["note"].as_str().unwrap().contains("after 2 attempts"), "{note}");
    assert!(!note.to_string().contains("DN-0001"), "the key is never in the note");
    let mut b = app.browser();
    assert_eq!(b.login("ver_down_b", "buyer-pass-1").await.status, StatusCode::SEE_OTHER);
    let order_page = b.get(&format!("/o/{no}")).await;
    assert!(order_page.body.contains("第三方验货服务无法访问，售后照常进行"), "{}", order_page.body);
}

#[tokio::test]
async fn more_evidence_does_not_undo_a_confirmed_dead_key() {
    let url = reference("ND-0001\tinvalid\t-\tnever issued\n").await;
    let app = app_with_verifier(&url).await;
    let (merchant, product) = app.merchant_with_product("ver_more_m").await;
    kabao_app::inventory::import_keys(
        &*app.state.store,
        &app.state.keyring,
        merchant_id(&app, "ver_more_m").await,
        kabao_core::ProductId(product),
        b"ND-0001\n",
        "test",
        T0,
    )
    .await
    .unwrap();
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "ver_more_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    reveal(&app, &token, &no).await;
    // Invalid says the verifier; the buyer says activated and has no screenshot. No stock to re-issue from:
    // the claim is eligible and waits for the merchant.
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key"), ("activated", "true"), ("error_text", "无效")];
    let res = file_claim(&app, (Some(&token), None), &path, &fields, &[], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let claim = res.json()["claim"].clone();
    assert_eq!((claim["eligible"].clone(), claim["state"].clone()), (json!(true), json!("open")), "{claim}");
    let claim_no = claim["claim_no"].as_str().unwrap().to_string();
    // The buyer adds a line of text: re-evaluated with the verifier's finding, still eligible.
    let evidence = format!("{path}/{claim_no}/evidence");
    let res = file_claim(&app, (Some(&token), None), &evidence, &[("error_text", "错误码 E42")], &[], None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!((res.json()["eligible"].clone(), res.json()["state"].clone()), (json!(true), json!("open")));
}

/// The verifier finds an insured order's key dead before delivery and no key is left to re-issue automatically:
/// the cover takes the claim over when it is filed. The pool holds one premium, less than the price, so the
/// payout is queued for the buyer to see and the admin is alerted.
#[tokio::test]
async fn a_dead_key_on_an_insured_order_is_taken_over_by_the_cover_when_filed() {
    let url = reference(&format!("RI-0001\tredeemed\t{}\n", before_t0_s())).await;
    let app = app_with_verifier(&url).await;
    let (merchant, product) = app.merchant_with_product("ver_ins_m").await;
    kabao_app::inventory::import_keys(
        &*app.state.store,
        &app.state.keyring,
        merchant_id(&app, "ver_ins_m").await,
        kabao_core::ProductId(product),
        b"RI-0001\n",
        "test",
        T0,
    )
    .await
    .unwrap();
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "ver_ins_b").await;
    top_up(&app, &token, 5_000).await;
    let quoted = crate::insurance::premium(&app, product).await;
    let res = crate::insurance::insured_order(&app, &token, product, quoted).await;
    let no = res.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    assert_eq!(reveal(&app, &token, &no).await, vec!["RI-0001"]);
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "already_redeemed"), ("activated", "true"), ("error_text", "提示已被使用")];
    let res = file_claim(&app, (Some(&token), None), &path, &fields, &[], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let order = tx.order_by_no(&no).await.unwrap().unwrap();
    let payouts = tx.order_payouts(order.id).await.unwrap();
    drop(tx);
    assert_eq!(payouts.len(), 1, "taken over when filed");
    assert_eq!((payouts[0].state, payouts[0].amount.fen()), (kabao_store::PayoutState::Pending, 990));
    let alerts = kabao_app::admin::security_events(&app.state, 10, 0).await.unwrap();
    assert!(alerts.iter().any(|e| e.kind == "insurance.payout_queued"));
    verify_books(&app).await;
}
