//! Claims (售后 / 补单申请) over the API, on both backends: bad input changes nothing, automatic re-issue in the
//! buyer's own request, idempotent submission, evidence stored by hash and bound to the sale, merchant decisions
//! and isolation, the deadline paused for more evidence, silence running the remedy, and escrow held meanwhile.

use crate::app::{Res, TestApp};
use crate::orders::{buyer, order_no, top_up, verify_books};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

const DAY_S: i64 = 24 * 3600;

pub(crate) fn png(payload: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(payload.as_bytes());
    b
}

/// A multipart/form-data body: text fields, then files (all under the part name `files`).
pub(crate) fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "kabao-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Files a claim through the API as a registered buyer (`token`) or a guest (`secret`).
pub(crate) async fn file_claim(
    app: &TestApp,
    who: (Option<&str>, Option<&str>),
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
    idempotency_key: Option<&str>,
) -> Res {
    let (content_type, body) = multipart(fields, files);
    let mut b = Request::post(path).header("content-type", content_type);
    if let Some(t) = who.0 {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(s) = who.1 {
        b = b.header("x-order-secret", s);
    }
    if let Some(k) = idempotency_key {
        b = b.header("idempotency-key", k);
    }
    app.send(b.body(Body::from(body)).unwrap()).await
}

pub(crate) async fn set_template(app: &TestApp, merchant: &str, product: i64, template: &str) {
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/products/{product}/warranty"),
            Some(merchant),
            Some(json!({"template": template})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

pub(crate) async fn bought(app: &TestApp, token: &str, product: i64, quantity: i64) -> String {
    let no = order_no(app, token, json!({"product_id": product, "quantity": quantity, "warranty_ack": true})).await;
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    no
}

pub(crate) async fn reveal(app: &TestApp, token: &str, no: &str) -> Vec<String> {
    let res = app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    serde_json::from_value(res.json()["keys"].clone()).unwrap()
}

pub(crate) async fn wallet(app: &TestApp, token: &str) -> i64 {
    app.api("GET", "/api/v1/wallet", Some(token), None).await.json()["balance_fen"].as_i64().unwrap()
}

pub(crate) async fn claim_count(app: &TestApp) -> usize {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let mut n = 0;
    for shop in tx.list_shops(100, 0).await.unwrap() {
        n += tx.shop_claims(shop.id, 1000).await.unwrap().len();
    }
    n
}

pub(crate) async fn decide(app: &TestApp, merchant: &str, claim_no: &str, body: serde_json::Value) -> Res {
    app.api("POST", &format!("/api/v1/merchant/claims/{claim_no}/decision"), Some(merchant), Some(body)).await
}

async fn auto_reissue_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("claim_seller").await;
    app.import(&merchant, product, "PC-0001\nPC-0002\nPC-0003\nPC-0004\nPC-0005\n").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "claim_buyer").await;
    top_up(&app, &token, 10_000).await;
    let no = bought(&app, &token, product, 2).await;
    let path = format!("/api/v1/orders/{no}/claims");
    let me = (Some(token.as_str()), None);
    let shot = png("卡密无效的截图");

    // Before the keys were revealed there is nothing to claim about.
    let res = file_claim(&app, me, &path, &[("item", "1"), ("defect", "invalid_key")], &[("a.png", &shot)], None).await;
    assert_eq!(
        (res.status, res.json()["code"].clone()),
        (StatusCode::CONFLICT, json!("claim.not_revealed")),
        "{}",
        res.body
    );
    assert_eq!(reveal(&app, &token, &no).await, vec!["PC-0001", "PC-0002"]);

    // Bad input, each with its field named, and nothing filed.
    let exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    let mut huge = png("");
    huge.resize(5 * 1024 * 1024 + 1, 0);
    for (fields, files, field) in [
        (vec![("item", "1")], vec![("a.png", shot.clone())], "defect"),
        (vec![("item", "3"), ("defect", "invalid_key")], vec![("a.png", shot.clone())], "item"),
        (vec![("item", "x"), ("defect", "invalid_key")], vec![], "item"),
        (vec![("item", "1"), ("defect", "nonsense")], vec![], "defect"),
        (vec![("item", "1"), ("defect", "invalid_key")], vec![("setup.exe", exe.clone())], "files"),
        (vec![("item", "1"), ("defect", "invalid_key")], vec![("big.png", huge.clone())], "files"),
    ] {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let res = file_claim(&app, me, &path, &fields, &files, None).await;
        assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{}", res.body);
    }
    let stranger = buyer(&app, "claim_stranger").await;
    let res = file_claim(
        &app,
        (Some(&stranger), None),
        &path,
        &[("item", "1"), ("defect", "invalid_key")],
        &[("a.png", &shot)],
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "another buyer's order does not exist for them");
    assert_eq!(app.api("GET", &path, Some(&stranger), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(claim_count(&app).await, 0, "bad input files nothing");
    assert_eq!(app.stock(product).await, 3);

    // "卡密无效" with a screenshot, eligible, automatic re-issue: the fresh key is in the answer at once.
    let fields = [("item", "1"), ("defect", "invalid_key"), ("description", "充值时提示卡密无效")];
    let res = file_claim(&app, me, &path, &fields, &[("截图.png", &shot)], Some("claim-1")).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let filed = res.json();
    assert_eq!(filed["claim"]["state"], "reissued", "{filed}");
    assert_eq!(filed["claim"]["eligible"], true);
    assert_eq!(filed["new_key"], "PC-0003");
    let claim_no = filed["claim"]["claim_no"].as_str().unwrap().to_string();
    assert_eq!(app.stock(product).await, 2);
    // The platform re-issued, not the merchant: no "median response 0 minutes" for the shop, only a decided claim.
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let trust = app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await.json();
    let codes: Vec<&str> = trust["reasons"].as_array().unwrap().iter().filter_map(|r| r["code"].as_str()).collect();
    assert!(!codes.contains(&"claims.response"), "an automatic re-issue is not a response: {trust}");
    assert!(codes.contains(&"claims.approval"), "{trust}");

    // The same submission again with its key (a retry): the first answer byte for byte, no second re-issue.
    let again = file_claim(&app, me, &path, &fields, &[("截图.png", &shot)], Some("claim-1")).await;
    assert_eq!((again.status, &again.body), (StatusCode::CREATED, &res.body));
    assert_eq!(again.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    // The same key with another form (another file) is refused and files nothing.
    let other = file_claim(&app, me, &path, &fields, &[("截图.png", &png("other"))], Some("claim-1")).await;
    assert_eq!(
        (other.status, other.json()["code"].clone(), other.json()["field"].clone()),
        (StatusCode::CONFLICT, json!("idempotency_key_reused"), json!("Idempotency-Key"))
    );
    assert_eq!(claim_count(&app).await, 1);
    assert_eq!(app.stock(product).await, 2);
    assert_eq!(reveal(&app, &token, &no).await, vec!["PC-0002", "PC-0003"], "the voided key is no longer delivered");

    // The evidence: stored under its SHA-256, bound to the sale, the defect and the server time.
    let got = app.api("GET", &format!("{path}/{claim_no}"), Some(&token), None).await.json();
    let sha = hex::encode(Sha256::digest(&shot));
    assert_eq!(got["evidence"][0]["sha256"], sha.as_str());
    assert_eq!(got["evidence"][0]["mime"], "image/png");
    let binding: serde_json::Value = serde_json::from_str(got["evidence"][0]["binding"].as_str().unwrap()).unwrap();
    assert_eq!((binding["order_no"].as_str(), binding["defect"].as_str()), (Some(no.as_str()), Some("invalid_key")));
    assert_eq!(binding["server_time_ms"], app.state.now().millis());
    assert_eq!(
        got["evidence"][0]["binding_sha256"],
        hex::encode(Sha256::digest(got["evidence"][0]["binding"].as_str().unwrap().as_bytes())).as_str()
    );
    let file = app.api("GET", &format!("{path}/{claim_no}/evidence/{sha}"), Some(&token), None).await;
    assert_eq!((file.status, file.body.as_str()), (StatusCode::OK, String::from_utf8_lossy(&shot).as_ref()));
    assert_eq!(file.headers.get("content-type").unwrap(), "image/png");
    let other_sha = hex::encode(Sha256::digest(b"other"));
    assert_eq!(
        app.api("GET", &format!("{path}/{claim_no}/evidence/{other_sha}"), Some(&token), None).await.status,
        StatusCode::NOT_FOUND
    );

    // The item's one re-issue is used: the next claim is still eligible, for the refund half of the remedy.
    let res = file_claim(&app, me, &path, &fields, &[("截图2.png", &png("again"))], Some("claim-2")).await;
    let second = res.json();
    assert_eq!(
        (second["claim"]["state"].clone(), second["claim"]["eligible"].clone()),
        (json!("open"), json!(true)),
        "{second}"
    );
    let second_no = second["claim"]["claim_no"].as_str().unwrap().to_string();
    let queue = app.api("GET", "/api/v1/merchant/claims", Some(&merchant), None).await.json();
    assert_eq!(queue["claims"][0]["claim_no"], second_no.as_str());
    // Another merchant cannot decide it; approving refunds the item's price to the wallet.
    let (rival, _) = app.merchant_with_product("claim_rival").await;
    assert_eq!(decide(&app, &rival, &second_no, json!({"decision": "approve"})).await.status, StatusCode::NOT_FOUND);
    let before = wallet(&app, &token).await;
    let res = decide(&app, &merchant, &second_no, json!({"decision": "approve"})).await;
    assert_eq!(res.json()["state"], "refunded", "{}", res.body);
    assert_eq!(wallet(&app, &token).await, before + 990);
    // The merchant's own decision is a response, one sample, shrunk toward the category and saying so.
    let trust = app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await.json();
    let response = trust["reasons"].as_array().unwrap().iter().find(|r| r["code"] == "claims.response").cloned();
    let text = response.as_ref().and_then(|r| r["text"].as_str()).unwrap_or_default();
    assert!(text.starts_with("近 90 天商家处理售后 1 次，中位响应 0 分钟（不足 10 次"), "{trust}");
    let res = decide(&app, &merchant, &second_no, json!({"decision": "approve"})).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::CONFLICT, json!("claim.closed")));
    assert_eq!(wallet(&app, &token).await, before + 990, "a closed claim is never paid twice");
    let res = file_claim(&app, me, &path, &fields, &[("c.png", &shot)], None).await;
    assert_eq!(res.json()["code"], "claim.item_refunded");

    // Not covered: filed anyway, marked with the reason; a rejection needs a reason.
    let res =
        file_claim(&app, me, &path, &[("item", "2"), ("defect", "wrong_region")], &[("d.png", &shot)], None).await;
    let third = res.json();
    assert_eq!(third["claim"]["eligible"], false, "{third}");
    assert_eq!(third["claim"]["reasons"][0]["code"], "claim.not_covered");
    assert!(third["claim"]["reasons"][0]["zh"].as_str().unwrap().contains("区服"), "{third}");
    let third_no = third["claim"]["claim_no"].as_str().unwrap();
    let res = decide(&app, &merchant, third_no, json!({"decision": "reject"})).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("reason")));
    let res = decide(&app, &merchant, third_no, json!({"decision": "reject", "reason": "本商品不分区服"})).await;
    assert_eq!(
        (res.json()["state"].clone(), res.json()["decision_reason"].clone()),
        (json!("rejected"), json!("本商品不分区服"))
    );
    let res = decide(&app, &merchant, third_no, json!({"decision": "maybe"})).await;
    assert_eq!(res.json()["field"], "decision");
    verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_claims_reissue_automatically_refund_on_approval_and_refuse_bad_input() {
    auto_reissue_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_claims_reissue_automatically_refund_on_approval_and_refuse_bad_input() {
    if let Some(app) = TestApp::postgres().await {
        auto_reissue_story(app).await;
    }
}

async fn silence_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("quiet_seller").await;
    app.import(&merchant, product, "LK-0001\nLK-0002\n").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    let token = buyer(&app, "quiet_buyer").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    reveal(&app, &token, &no).await;
    let path = format!("/api/v1/orders/{no}/claims");
    let me = (Some(token.as_str()), None);

    // The rules want a screenshot and the error text: without the text the claim is filed but not eligible.
    let res =
        file_claim(&app, me, &path, &[("item", "1"), ("defect", "invalid_key")], &[("s.png", &png("s"))], None).await;
    let first = res.json();
    assert_eq!(first["claim"]["reasons"][0]["code"], "claim.missing_evidence", "{first}");
    let first_no = first["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = decide(&app, &merchant, &first_no, json!({"decision": "reject", "reason": "缺少错误信息"})).await;
    assert_eq!(res.json()["state"], "rejected");

    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let res = file_claim(&app, me, &path, &fields, &[("s.png", &png("s2"))], None).await;
    let claim = res.json()["claim"].clone();
    assert_eq!((claim["eligible"].clone(), claim["state"].clone()), (json!(true), json!("open")), "{claim}");
    assert_eq!(claim["evidence"].as_array().unwrap().len(), 2, "the typed error text is evidence too");
    let claim_no = claim["claim_no"].as_str().unwrap().to_string();
    let run = || async { kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap() };

    // The merchant asks once for more evidence: the deadline pauses, even past the settlement time.
    app.clock.advance_seconds(3600);
    let res =
        decide(&app, &merchant, &claim_no, json!({"decision": "ask_evidence", "note": "请补充兑换页面的截图"})).await;
    assert_eq!(
        (res.json()["state"].clone(), res.json()["paused_remaining_ms"].clone()),
        (json!("awaiting_evidence"), json!(23 * 3600 * 1000))
    );
    let res = decide(&app, &merchant, &claim_no, json!({"decision": "ask_evidence", "note": "再来一张"})).await;
    assert_eq!(res.json()["code"], "claim.evidence_already_requested");
    app.clock.advance_seconds(8 * DAY_S);
    let pass = run().await;
    assert_eq!((pass.claim_deadlines, pass.settled), (Some(0), Some(0)), "paused, and the claim holds the escrow");

    // The buyer answers: the deadline runs again with the 23 hours that were left; the merchant stays silent.
    let (ct, body) = multipart(&[], &[("兑换页.png", &png("redeem page"))]);
    let req = Request::post(format!("{path}/{claim_no}/evidence"))
        .header("content-type", ct)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.json()["state"], "open", "{}", res.body);
    assert_eq!(res.json()["due_at"], app.state.now().millis() + 23 * 3600 * 1000);
    app.clock.advance_seconds(22 * 3600);
    assert_eq!(run().await.claim_deadlines, Some(0));
    app.clock.advance_seconds(3600);
    let pass = run().await;
    assert_eq!(pass.claim_deadlines, Some(1), "silence past the deadline runs the remedy");
    assert_eq!(pass.settled, Some(1), "and the claim no longer holds the escrow");
    let got = app.api("GET", &format!("{path}/{claim_no}"), Some(&token), None).await.json();
    assert_eq!(got["state"], "reissued");
    assert_eq!(reveal(&app, &token, &no).await, vec!["LK-0002"]);
    assert_eq!(run().await.claim_deadlines, Some(0), "remedied once");
    verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_merchant_silence_past_the_deadline_runs_the_remedy() {
    silence_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_merchant_silence_past_the_deadline_runs_the_remedy() {
    if let Some(app) = TestApp::postgres().await {
        silence_story(app).await;
    }
}

/// The pages: a buyer files from the order page's link and sees the re-issued key at once; a claim outside the
/// rules is shown with its reasons; the merchant's queue, decision forms and errors; nobody else sees either.
#[tokio::test]
async fn claim_pages_for_buyer_and_merchant() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("page_claim_m").await;
    app.import(&merchant, product, "PG-0001\nPG-0002\nPG-0003\n").await;
    set_template(&app, &merchant, product, "point_card_24h").await;
    let token = buyer(&app, "page_claim_b").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 2).await;
    let mut b = app.browser();
    assert_eq!(b.login("page_claim_b", "buyer-pass-1").await.status, StatusCode::SEE_OTHER);
    let csrf = b.csrf();
    let page = b.post(&format!("/o/{no}/reveal"), &[], Some(&csrf)).await;
    assert!(page.body.contains(&format!("/o/{no}/claims/new?item=1")), "a claim link beside each key");

    let form = b.get(&format!("/o/{no}/claims/new?item=1")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("卡密无效 ✓"), "covered problems are marked");
    let submission =
        form.body.split("name=\"submission\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let path = format!("/o/{no}/claims");

    // A wrong file type: the form again, with the message in Chinese and the answers kept; nothing filed.
    let res = b
        .post_multipart(
            &path,
            &[
                ("_csrf", &csrf),
                ("submission", &submission),
                ("item", "1"),
                ("defect", "invalid_key"),
                ("description", "充值失败"),
            ],
            &[("virus.exe", b"MZ\x90\x00")],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("不是支持的文件类型") && res.body.contains("充值失败"), "{}", res.body);
    assert_eq!(claim_count(&app).await, 0);

    let fields =
        [("_csrf", csrf.as_str()), ("submission", submission.as_str()), ("item", "1"), ("defect", "invalid_key")];
    let res = b.post_multipart(&path, &fields, &[("截图.png", &png("shot"))]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("id=\"new-key-value\" value=\"PG-0003\""), "the new key at once: {}", res.body);
    assert!(res.body.contains(&hex::encode(Sha256::digest(png("shot")))), "the evidence hash is shown");
    // Submitting the same form again (back button, double tap) lands on the same claim, no second key.
    let again = b.post_multipart(&path, &fields, &[("截图.png", &png("shot"))]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(app.stock(product).await, 0);

    // Item 2, a problem the rules do not cover: filed, with the reason shown; the merchant rejects it.
    let form = b.get(&format!("/o/{no}/claims/new?item=2")).await;
    let submission =
        form.body.split("name=\"submission\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let res = b
        .post_multipart(
            &path,
            &[("_csrf", &csrf), ("submission", &submission), ("item", "2"), ("defect", "wrong_region")],
            &[("a.png", &png("a"))],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let claim_path = res.location().to_string();
    let page = b.get(&claim_path).await;
    assert!(page.body.contains("不在该商品的保障范围内") && page.body.contains("不符合规则"), "{}", page.body);
    let claim_no = claim_path.rsplit('/').next().unwrap().to_string();

    let mut m = app.browser();
    assert_eq!(m.login("page_claim_m", "merchant-pass-1").await.status, StatusCode::SEE_OTHER);
    let queue = m.get("/console/claims").await;
    assert!(queue.body.contains(&claim_no), "{}", queue.body);
    let m_csrf = m.csrf();
    let decision = format!("/console/claims/{claim_no}/decision");
    let res = m.post(&decision, &[("decision", "reject"), ("reason", "  ")], Some(&m_csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("拒绝售后申请必须写明理由"), "{}", res.body);
    let res = m.post(&decision, &[("decision", "reject"), ("reason", "本卡全国通用")], Some(&m_csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = m.post(&decision, &[("decision", "approve")], Some(&m_csrf)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "a decided claim is closed");
    assert!(b.get(&claim_path).await.body.contains("本卡全国通用"), "the buyer reads the reason");

    // Nobody else: another merchant, another buyer.
    let (_, _) = app.merchant_with_product("page_claim_rival").await;
    let mut rival = app.browser();
    rival.login("page_claim_rival", "merchant-pass-1").await;
    assert_eq!(rival.get(&format!("/console/claims/{claim_no}")).await.status, StatusCode::NOT_FOUND);
    let mut stranger = app.browser();
    stranger.register("page_claim_stranger", "buyer").await;
    assert_eq!(stranger.get(&claim_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.get(&format!("/o/{no}/claims/new")).await.status, StatusCode::NOT_FOUND);
    verify_books(&app).await;
}

/// The merchant's queue a page at a time (issue 22: a page costs the same however many claims wait): 20 a page by
/// deadline, every waiting claim once, a malformed cursor refused naming `cursor`; the console page links on and
/// back.
async fn queue_pages_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("queue_pager").await;
    let keys: String = (0..23).map(|i| format!("QP-{i:04}\n")).collect();
    app.import(&merchant, product, &keys).await;
    let token = buyer(&app, "queue_pager_buyer").await;
    top_up(&app, &token, 100_000).await;
    let mut filed = Vec::new();
    for quantity in [5, 5, 5, 5, 3] {
        let no = bought(&app, &token, product, quantity).await;
        reveal(&app, &token, &no).await;
        for item in 1..=quantity {
            // A minute between claims: each deadline is later than the one before.
            app.clock.advance_seconds(60);
            let item = item.to_string();
            let fields = [("item", item.as_str()), ("defect", "invalid_key"), ("error_text", "卡密无效")];
            let res =
                file_claim(&app, (Some(&token), None), &format!("/api/v1/orders/{no}/claims"), &fields, &[], None)
                    .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            assert_eq!(res.json()["claim"]["state"], "open", "{}", res.body);
            filed.push(res.json()["claim"]["claim_no"].as_str().unwrap().to_string());
        }
    }

    let first = app.api("GET", "/api/v1/merchant/claims", Some(&merchant), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let first = first.json();
    let nos = |page: &serde_json::Value| -> Vec<String> {
        page["claims"].as_array().unwrap().iter().map(|c| c["claim_no"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(nos(&first).len(), 20);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second = app.api("GET", &format!("/api/v1/merchant/claims?cursor={cursor}"), Some(&merchant), None).await;
    let second = second.json();
    assert!(second["next_cursor"].is_null(), "{second}");
    let mut all = nos(&first);
    all.extend(nos(&second));
    assert_eq!(all, filed, "nearest deadline first, each claim once");
    for bad in ["abc", "5", "x.1", "1.0", "1.-3"] {
        let res = app.api("GET", &format!("/api/v1/merchant/claims?cursor={bad}"), Some(&merchant), None).await;
        assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("cursor")), "{bad}");
    }
    // The queue is the merchant's own: a buyer's token is refused, another merchant sees an empty queue.
    let res = app.api("GET", "/api/v1/merchant/claims", Some(&token), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let (rival, _) = app.merchant_with_product("queue_pager_rival").await;
    let theirs = app.api("GET", &format!("/api/v1/merchant/claims?cursor={cursor}"), Some(&rival), None).await;
    assert_eq!(theirs.json(), json!({"claims": [], "next_cursor": null}));

    let mut m = app.browser();
    m.login("queue_pager", "merchant-pass-1").await;
    let page = m.get("/console/claims").await;
    assert!(page.body.contains(&filed[19]) && !page.body.contains(&filed[20]), "{}", page.body);
    let next = format!("/console/claims?cursor={cursor}");
    assert!(page.body.contains(&format!("id=\"claims-next\" href=\"{next}\">更多待处理")), "{}", page.body);
    assert!(!page.body.contains("claims-first"));
    let later = m.get(&next).await;
    assert!(later.body.contains(&filed[22]) && !later.body.contains(&filed[0]), "{}", later.body);
    assert!(later.body.contains("id=\"claims-first\" href=\"/console/claims\">← 时限最近的"), "{}", later.body);
    assert!(!later.body.contains("claims-next"));
    let bad = m.get("/console/claims?cursor=abc").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("翻页参数无效"), "{}", bad.body);
}

#[tokio::test]
async fn sqlite_the_claim_queue_pages_by_deadline() {
    queue_pages_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_the_claim_queue_pages_by_deadline() {
    if let Some(app) = TestApp::postgres().await {
        queue_pages_story(app).await;
    }
}
