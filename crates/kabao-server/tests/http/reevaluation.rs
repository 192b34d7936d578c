//! Claims re-evaluate (issue 17, item 4): evidence the buyer adds later (on their own, or because the merchant
//! asked) re-computes the claim's eligibility against the order's policy snapshot, with the reasons; a claim that
//! becomes eligible is re-issued at once when the policy re-issues automatically and a key is in stock, as at
//! filing, with both steps on the order's event chain. Over the API on both backends, and through the pages.

use crate::app::{Res, TestApp};
use crate::claims::{bought, claim_count, decide, file_claim, png, reveal, set_template};
use crate::orders::{buyer, top_up, verify_books};
use axum::http::StatusCode;
use kabao_core::events::EventKind;
use serde_json::json;

async fn add_evidence(app: &TestApp, token: &str, path: &str, fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Res {
    file_claim(app, (Some(token), None), path, fields, files, None).await
}

/// The order's event kinds with their bodies, oldest first.
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

async fn reevaluation_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("reeval_m").await;
    app.import(&merchant, product, "RE-0001\nRE-0002\nRE-0003\n").await;
    // 点卡 template: a screenshot is required, and re-issues are automatic.
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "reeval_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    assert_eq!(reveal(&app, &token, &no).await, vec!["RE-0001"]);
    let path = format!("/api/v1/orders/{no}/claims");
    let me = (Some(token.as_str()), None);

    // Filed with the error text only: ineligible, with the missing screenshot as its reason; nothing re-issued.
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "提示：卡密无效")];
    let res = file_claim(&app, me, &path, &fields, &[], None).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let claim = res.json()["claim"].clone();
    assert_eq!((claim["eligible"].clone(), claim["state"].clone()), (json!(false), json!("open")), "{claim}");
    assert_eq!(claim["reasons"][0]["code"], "claim.missing_evidence", "{claim}");
    let claim_no = claim["claim_no"].as_str().unwrap().to_string();
    let evidence_path = format!("{path}/{claim_no}/evidence");
    assert_eq!(app.stock(product).await, 2);

    // More text is still not a screenshot: re-evaluated, still ineligible, the result on the chain.
    let res = add_evidence(&app, &token, &evidence_path, &[("error_text", "错误码 E42")], &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!((res.json()["eligible"].clone(), res.json()["state"].clone()), (json!(false), json!("open")));
    assert_eq!(res.json()["reasons"][0]["code"], "claim.missing_evidence");
    let (kind, body) = events(&app, &no).await.last().cloned().unwrap();
    assert_eq!(
        (kind.as_str(), body["eligible"].clone()),
        (EventKind::ClaimReevaluated.as_str(), json!(false)),
        "{body}"
    );

    // The merchant asks for the screenshot; the buyer adds it: eligible now, and re-issued in the same request.
    let res = decide(&app, &merchant, &claim_no, json!({"decision": "ask_evidence", "note": "请补充截图"})).await;
    assert_eq!(res.json()["state"], "awaiting_evidence", "{}", res.body);
    let res = file_claim(&app, me, &evidence_path, &[], &[("截图.png", &png("卡密无效"))], Some("evidence-1")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let first_answer = res.body.clone();
    let claim = res.json();
    assert_eq!(
        (claim["eligible"].clone(), claim["reasons"].clone(), claim["state"].clone()),
        (json!(true), json!([]), json!("reissued")),
        "{claim}"
    );
    assert_eq!(app.stock(product).await, 1, "one key taken for the re-issue");
    {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        let order = tx.order_by_no(&no).await.unwrap().unwrap();
        let keys = tx.order_keys(order.id).await.unwrap();
        assert_eq!(keys.iter().filter(|k| k.voided_at.is_some()).count(), 1, "the old key is voided");
    }
    let kinds: Vec<(String, serde_json::Value)> = events(&app, &no).await;
    let tail: Vec<&str> = kinds.iter().rev().take(3).rev().map(|(k, _)| k.as_str()).collect();
    let want = [EventKind::ClaimEvidenceAdded, EventKind::ClaimReevaluated, EventKind::ClaimReissued];
    assert_eq!(tail, want.map(EventKind::as_str));
    let reevaluated = &kinds[kinds.len() - 2].1;
    assert_eq!((reevaluated["eligible"].clone(), reevaluated["was_eligible"].clone()), (json!(true), json!(false)));
    let reissued = &kinds[kinds.len() - 1].1;
    assert_eq!((reissued["auto"].clone(), reissued["after"].clone()), (json!(true), json!("evidence")));
    assert_eq!(reveal(&app, &token, &no).await, vec!["RE-0002"], "the new key, the reported one voided");

    // Adding evidence again re-issues nothing twice: the claim is closed, and a retry of the request that
    // re-issued answers what it answered.
    let res = add_evidence(&app, &token, &evidence_path, &[], &[("again.png", &png("again"))]).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("claim.closed")));
    let retry = file_claim(&app, me, &evidence_path, &[], &[("截图.png", &png("卡密无效"))], Some("evidence-1")).await;
    assert_eq!((retry.status, &retry.body), (StatusCode::OK, &first_answer));
    assert_eq!(app.stock(product).await, 1);
    assert_eq!(claim_count(&app).await, 1);
    verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_a_claim_missing_its_screenshot_becomes_eligible_and_is_reissued_when_the_screenshot_is_added() {
    reevaluation_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_a_claim_missing_its_screenshot_becomes_eligible_and_is_reissued_when_the_screenshot_is_added() {
    if let Some(app) = TestApp::postgres().await {
        reevaluation_story(app).await;
    }
}

/// A claim eligible when filed is remedied by its filing, the merchant or the deadline: evidence added later
/// re-evaluates it but never runs the re-issue (no second key for one problem).
#[tokio::test]
async fn evidence_added_to_an_already_eligible_claim_does_not_reissue() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("reeval_twice_m").await;
    app.import(&merchant, product, "TW-0001\n").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "reeval_twice_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    reveal(&app, &token, &no).await;
    let path = format!("/api/v1/orders/{no}/claims");
    // Eligible, but no key in stock: the claim waits for the merchant.
    let fields = [("item", "1"), ("defect", "invalid_key")];
    let res = file_claim(&app, (Some(&token), None), &path, &fields, &[("s.png", &png("s"))], None).await;
    let claim = res.json()["claim"].clone();
    assert_eq!((claim["eligible"].clone(), claim["state"].clone()), (json!(true), json!("open")), "{claim}");
    let claim_no = claim["claim_no"].as_str().unwrap().to_string();
    app.import(&merchant, product, "TW-0002\n").await;
    let res = add_evidence(&app, &token, &format!("{path}/{claim_no}/evidence"), &[], &[("more.png", &png("m"))]).await;
    assert_eq!(
        (res.json()["eligible"].clone(), res.json()["state"].clone()),
        (json!(true), json!("open")),
        "{}",
        res.body
    );
    assert_eq!(app.stock(product).await, 1, "nothing re-issued by the evidence");
    let kinds: Vec<String> = events(&app, &no).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds.iter().filter(|k| *k == EventKind::ClaimReissued.as_str()).count(), 0);
    assert_eq!(kinds.last().map(String::as_str), Some(EventKind::ClaimReevaluated.as_str()));
    // The merchant approves: one re-issue, once.
    let res = decide(&app, &merchant, &claim_no, json!({"decision": "approve"})).await;
    assert_eq!(res.json()["state"], "reissued", "{}", res.body);
    assert_eq!(reveal(&app, &token, &no).await, vec!["TW-0002"]);
    verify_books(&app).await;
}

/// The same through the pages: the claim page shows the reason, the evidence form adds the screenshot, and the
/// claim page then shows the re-issue; the order page reveals the new key.
#[tokio::test]
async fn on_the_pages_adding_the_missing_screenshot_reissues_the_key() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("reeval_page_m").await;
    app.import(&merchant, product, "RP-0001\nRP-0002\n").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "reeval_page_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    let mut b = app.browser();
    assert_eq!(b.login("reeval_page_b", "buyer-pass-1").await.status, StatusCode::SEE_OTHER);
    let csrf = b.csrf();
    b.post(&format!("/o/{no}/reveal"), &[], Some(&csrf)).await;
    let form = b.get(&format!("/o/{no}/claims/new?item=1")).await;
    let submission =
        form.body.split("name=\"submission\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let fields = [
        ("_csrf", csrf.as_str()),
        ("submission", submission.as_str()),
        ("item", "1"),
        ("defect", "invalid_key"),
        ("error_text", "提示卡密无效"),
    ];
    let res = b.post_multipart(&format!("/o/{no}/claims"), &fields, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let claim_path = res.location().to_string();
    let page = b.get(&claim_path).await;
    assert!(page.body.contains("不符合规则") && page.body.contains("待商家处理"), "{}", page.body);

    let res =
        b.post_multipart(&format!("{claim_path}/evidence"), &[("_csrf", &csrf)], &[("截图.png", &png("p"))]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = b.get(&claim_path).await;
    assert!(page.body.contains("已补发"), "{}", page.body);
    let order_page = b.get(&format!("/o/{no}")).await;
    assert!(order_page.body.contains("补充证据后重新审核：符合补单规则"), "{}", order_page.body);
    let revealed = b.post(&format!("/o/{no}/reveal"), &[], Some(&csrf)).await;
    assert!(revealed.body.contains("RP-0002"), "{}", revealed.body);
    verify_books(&app).await;
}
