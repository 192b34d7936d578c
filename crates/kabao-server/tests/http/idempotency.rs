//! One idempotency rule for every POST that takes an `Idempotency-Key` (issue 17, item 5): a replay answers the
//! first status and body byte for byte even when the state has moved on, the same key with another body is 409
//! `idempotency_key_reused` and changes nothing, a request still running holds its key (409
//! `idempotency_key_in_flight`) until it finishes or its lease runs out, keys are per caller, and records go after
//! their retention. A property test drives random bodies and replays through the API.

use crate::app::{Res, TestApp, T0};
use crate::claims::{bought, claim_count, decide, file_claim, png, reveal, set_template};
use crate::orders::{buyer, top_up, verify_books};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use kabao_core::user::Role;
use kabao_server::idempotency::{Begun, IdempotencyKey, Rendered, Scope};
use serde_json::json;

/// A JSON POST with a raw body string, a bearer token and a key.
async fn post(app: &TestApp, path: &str, token: Option<&str>, key: Option<&str>, body: &str) -> Res {
    let mut b = Request::post(path).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(k) = key {
        b = b.header("idempotency-key", k);
    }
    app.send(b.body(Body::from(body.to_string())).unwrap()).await
}

fn replayed(res: &Res) -> bool {
    res.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()) == Some("true")
}

/// The first answer again, byte for byte, marked as a replay.
fn assert_replay(first: &Res, again: &Res) {
    assert_eq!((again.status, &again.body), (first.status, &first.body), "a replay answers the first answer");
    assert!(replayed(again) && !replayed(first));
}

fn assert_reused(res: &Res) {
    assert_eq!(
        (res.status, res.json()["code"].clone(), res.json()["field"].clone()),
        (StatusCode::CONFLICT, json!("idempotency_key_reused"), json!("Idempotency-Key")),
        "{}",
        res.body
    );
}

async fn user(app: &TestApp, name: &str, role: Role) -> String {
    kabao_app::accounts::create_user(&*app.state.store, name, "password-pass-1", role, None, T0).await.unwrap();
    app.token(name, "password-pass-1").await
}

async fn user_id(app: &TestApp, name: &str) -> kabao_core::UserId {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    tx.user_by_username(name).await.unwrap().unwrap().id
}

async fn shop_orders(app: &TestApp, merchant: &str) -> usize {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let owner = {
        let shop_id =
            app.api("GET", "/api/v1/merchant/shop", Some(merchant), None).await.json()["id"].as_i64().unwrap();
        kabao_core::ShopId(shop_id)
    };
    tx.list_shop_orders(owner, 10_000, 0).await.unwrap().len()
}

async fn evidence_and_statements(app: &TestApp, claim_no: &str) -> (usize, usize) {
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    let c = tx.claim_by_no(claim_no).await.unwrap().unwrap();
    let evidence = tx.claim_evidence(c.id).await.unwrap().len();
    let statements = match tx.dispute_of_claim(c.id).await.unwrap() {
        Some(d) => tx.dispute_statements(d.id).await.unwrap().len(),
        None => 0,
    };
    (evidence, statements)
}

async fn every_keyed_post_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("idem_m").await;
    app.import(&merchant, product, "ID-0001\nID-0002\nID-0003\nID-0004\n").await;
    set_template(&app, &merchant, product, "license_key_7d").await;
    let token = buyer(&app, "idem_b").await;
    top_up(&app, &token, 10_000).await;

    // Checkout: 201 then the same 201 byte for byte; the fields the old fingerprint left out now count.
    let warranty = app.api("GET", &format!("/api/v1/products/{product}/warranty"), None, None).await.json();
    let sha = warranty["sha256"].as_str().unwrap().to_string();
    let body = json!({"product_id": product, "quantity": 1, "warranty_ack": true, "first_order_confirmed": true});
    let first = post(&app, "/api/v1/orders", Some(&token), Some("checkout"), &body.to_string()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // The same body with its keys in another order and other spacing is the same request.
    let reordered = format!(
        "{{ \"first_order_confirmed\": true, \"warranty_ack\": true, \"quantity\": 1, \"product_id\": {product} }}"
    );
    assert_replay(&first, &post(&app, "/api/v1/orders", Some(&token), Some("checkout"), &reordered).await);
    let mut other = body.clone();
    other["first_order_confirmed"] = json!(false);
    assert_reused(&post(&app, "/api/v1/orders", Some(&token), Some("checkout"), &other.to_string()).await);
    let mut other = body.clone();
    other["warranty_sha256"] = json!(sha);
    assert_reused(&post(&app, "/api/v1/orders", Some(&token), Some("checkout"), &other.to_string()).await);
    assert_eq!(shop_orders(&app, &merchant).await, 1);
    // The state moves on (paid, delivered); the replay still answers the first answer.
    let no = first.json()["order_no"].as_str().unwrap().to_string();
    let paid = app.api("POST", &format!("/api/v1/orders/{no}/pay/wallet"), Some(&token), None).await;
    assert_eq!(paid.json()["state"], "delivered", "{}", paid.body);
    assert_replay(&first, &post(&app, "/api/v1/orders", Some(&token), Some("checkout"), &body.to_string()).await);

    // Top-up: the same payment again, not a second one.
    let top = post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("top-up"), r#"{"amount_fen":100}"#).await;
    assert_eq!(top.status, StatusCode::CREATED, "{}", top.body);
    assert_replay(
        &top,
        &post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("top-up"), r#"{"amount_fen":100}"#).await,
    );
    assert_reused(&post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("top-up"), r#"{"amount_fen":200}"#).await);
    // One key per caller across routes: the checkout's key is not a top-up's.
    assert_reused(&post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("checkout"), r#"{"amount_fen":100}"#).await);

    // A claim (multipart): the same form again answers the first 201; another file under the key files nothing.
    assert_eq!(reveal(&app, &token, &no).await, vec!["ID-0001"]);
    let me = (Some(token.as_str()), None);
    let path = format!("/api/v1/orders/{no}/claims");
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "激活失败")];
    let filed = file_claim(&app, me, &path, &fields, &[("s.png", &png("s"))], Some("claim")).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    assert_replay(&filed, &file_claim(&app, me, &path, &fields, &[("s.png", &png("s"))], Some("claim")).await);
    assert_reused(&file_claim(&app, me, &path, &fields, &[("s.png", &png("other"))], Some("claim")).await);
    let changed = [("item", "1"), ("defect", "already_redeemed"), ("error_text", "激活失败")];
    assert_reused(&file_claim(&app, me, &path, &changed, &[("s.png", &png("s"))], Some("claim")).await);
    assert_eq!(claim_count(&app).await, 1);
    let claim_no = filed.json()["claim"]["claim_no"].as_str().unwrap().to_string();

    // Evidence, the buyer's and the merchant's.
    let evidence_path = format!("{path}/{claim_no}/evidence");
    let added = file_claim(&app, me, &evidence_path, &[("error_text", "E1")], &[], Some("ev")).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_replay(&added, &file_claim(&app, me, &evidence_path, &[("error_text", "E1")], &[], Some("ev")).await);
    assert_reused(&file_claim(&app, me, &evidence_path, &[("error_text", "E2")], &[], Some("ev")).await);
    let m = (Some(merchant.as_str()), None);
    let m_path = format!("/api/v1/merchant/claims/{claim_no}/evidence");
    let m_added = file_claim(&app, m, &m_path, &[("error_text", "售出前已测试")], &[], Some("ev")).await;
    assert_eq!(m_added.status, StatusCode::OK, "{}", m_added.body);
    assert_replay(&m_added, &file_claim(&app, m, &m_path, &[("error_text", "售出前已测试")], &[], Some("ev")).await);
    assert_reused(&file_claim(&app, m, &m_path, &[("error_text", "别的")], &[], Some("ev")).await);
    assert_eq!(evidence_and_statements(&app, &claim_no).await, (4, 0), "the filing's two, one each since");

    // Statements in the dispute: buyer, merchant, arbiter.
    let res = decide(&app, &merchant, &claim_no, json!({"decision": "reject", "reason": "售出前已测试可用"})).await;
    assert_eq!(res.json()["state"], "rejected");
    let res = app
        .api("POST", &format!("{path}/{claim_no}/escalate"), Some(&token), Some(json!({"statement": "请平台处理"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let arbiter = user(&app, "idem_arbiter", Role::Arbiter).await;
    for (who, at) in [
        (token.as_str(), format!("{path}/{claim_no}/statements")),
        (merchant.as_str(), format!("/api/v1/merchant/claims/{claim_no}/statements")),
        (arbiter.as_str(), format!("/api/v1/arbiter/disputes/{claim_no}/statements")),
    ] {
        let said = post(&app, &at, Some(who), Some("say"), r#"{"statement":"第一句"}"#).await;
        assert!(said.status.is_success(), "{at}: {} {}", said.status, said.body);
        let (_, statements) = evidence_and_statements(&app, &claim_no).await;
        assert_replay(&said, &post(&app, &at, Some(who), Some("say"), r#"{"statement": "第一句"}"#).await);
        assert_reused(&post(&app, &at, Some(who), Some("say"), r#"{"statement":"第二句"}"#).await);
        assert_eq!(evidence_and_statements(&app, &claim_no).await.1, statements, "{at}: nothing added");
    }
    assert_eq!(evidence_and_statements(&app, &claim_no).await.1, 4, "the escalation's and one per party");
    verify_books(&app).await;
}

#[tokio::test]
async fn sqlite_every_keyed_post_replays_its_first_answer_and_refuses_its_key_for_another_body() {
    every_keyed_post_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_every_keyed_post_replays_its_first_answer_and_refuses_its_key_for_another_body() {
    if let Some(app) = TestApp::postgres().await {
        every_keyed_post_story(app).await;
    }
}

/// Withdrawals: a retried request is one withdrawal, and the key does not stretch to another amount.
#[tokio::test]
async fn a_withdrawal_retried_with_its_key_is_requested_once() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("idem_payout").await;
    app.import(&merchant, product, "W-1\nW-2\n").await;
    let token = buyer(&app, "idem_payout_b").await;
    top_up(&app, &token, 1980).await;
    bought(&app, &token, product, 2).await;
    app.clock.advance_seconds(24 * 3600 + 1);
    kabao_app::jobs::settle_due(&app.state).await.unwrap();
    let payee = app
        .api(
            "POST",
            "/api/v1/merchant/payees",
            Some(&merchant),
            Some(serde_json::json!({"kind": "alipay", "account": "13812345678", "name": "张三"})),
        )
        .await;
    assert_eq!(payee.status, StatusCode::CREATED, "{}", payee.body);
    let body = |amount: i64| format!(r#"{{"amount_fen":{amount},"payee_id":{}}}"#, payee.json()["id"]);
    let first = post(&app, "/api/v1/merchant/withdrawals", Some(&merchant), Some("w"), &body(1000)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = post(&app, "/api/v1/merchant/withdrawals", Some(&merchant), Some("w"), &body(1000)).await;
    assert_replay(&first, &again);
    assert_reused(&post(&app, "/api/v1/merchant/withdrawals", Some(&merchant), Some("w"), &body(900)).await);
    let f = app.api("GET", "/api/v1/merchant/finance", Some(&merchant), None).await.json();
    assert_eq!(f["pending_withdrawals_fen"], 1000, "one withdrawal: {f}");
}

/// One caller's key never reaches another caller's answer: two buyers and a guest use the same key and body.
#[tokio::test]
async fn keys_are_per_caller_and_never_answer_another_callers_request() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("idem_scope_m").await;
    app.import(&merchant, product, "SC-1\nSC-2\n").await;
    let (a, b) = (buyer(&app, "idem_scope_a").await, buyer(&app, "idem_scope_b").await);
    let body = json!({"product_id": product, "quantity": 1, "warranty_ack": true, "first_order_confirmed": true});
    let for_a = post(&app, "/api/v1/orders", Some(&a), Some("same"), &body.to_string()).await;
    let for_b = post(&app, "/api/v1/orders", Some(&b), Some("same"), &body.to_string()).await;
    assert_eq!(
        (for_a.status, for_b.status),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{} {}",
        for_a.body,
        for_b.body
    );
    assert!(!replayed(&for_b));
    assert_ne!(for_a.json()["order_no"], for_b.json()["order_no"]);
    let mut guest = body.clone();
    guest["guest_email"] = json!("guest@example.com");
    let for_guest = post(&app, "/api/v1/orders", None, Some("same"), &guest.to_string()).await;
    assert_eq!(for_guest.status, StatusCode::CREATED, "{}", for_guest.body);
    assert!(![&for_a, &for_b].iter().any(|r| r.json()["order_no"] == for_guest.json()["order_no"]));
    let mut other_guest = guest.clone();
    other_guest["guest_email"] = json!("other@example.com");
    let for_other = post(&app, "/api/v1/orders", None, Some("same"), &other_guest.to_string()).await;
    assert_ne!(for_other.json()["order_no"], for_guest.json()["order_no"]);
    // A key that is not visible ASCII, or too long, is refused by name before anything runs.
    let bad = post(&app, "/api/v1/orders", Some(&a), Some(&"k".repeat(129)), &body.to_string()).await;
    assert_eq!((bad.status, bad.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("idempotency_key_invalid")));
}

/// A request still running holds its key: the same key is 409 `idempotency_key_in_flight` (another body still
/// `idempotency_key_reused`). A request that died is taken over after its lease, and the dead one can no longer
/// store its answer, so its effect could never commit next to the new one's.
#[tokio::test]
async fn a_request_in_flight_holds_its_key_until_its_lease_runs_out() {
    let app = TestApp::new().await;
    let token = buyer(&app, "idem_flight").await;
    let uid = user_id(&app, "idem_flight").await;
    let body = r#"{"amount_fen":300}"#;
    let render = |_: &()| Ok(Rendered::empty(StatusCode::NO_CONTENT));
    let key = IdempotencyKey::new("flight", Method::POST, "/api/v1/wallet/top-ups").unwrap();
    let Ok(Begun::Run(running)) = key.json(body.as_bytes()).begin(&app.state, Scope::User(uid), &render).await else {
        panic!("the key was free");
    };
    let res = post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("flight"), body).await;
    assert_eq!(
        (res.status, res.json()["code"].clone(), res.json()["field"].clone()),
        (StatusCode::CONFLICT, json!("idempotency_key_in_flight"), json!("Idempotency-Key")),
        "{}",
        res.body
    );
    assert_reused(&post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("flight"), r#"{"amount_fen":301}"#).await);

    app.clock.advance_seconds(kabao_server::idempotency::LEASE_SECONDS + 1);
    let taken = post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("flight"), body).await;
    assert_eq!(taken.status, StatusCode::CREATED, "after the lease the key is taken over: {}", taken.body);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    use kabao_app::idempotency::Completion;
    use kabao_core::Localized;
    let late = running.complete(&mut *tx, &(), app.state.now()).await.unwrap_err();
    assert_eq!(late.code(), "idempotency_key_in_flight", "the request that lost its key cannot commit");
    drop(tx);
    assert_replay(&taken, &post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("flight"), body).await);
}

/// Records are kept 48 hours; the expiry job then purges them and the key starts afresh.
#[tokio::test]
async fn keys_are_kept_48_hours_then_the_expiry_job_purges_them() {
    let app = TestApp::new().await;
    let token = buyer(&app, "idem_retention").await;
    let first = post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("kept"), r#"{"amount_fen":100}"#).await;
    app.clock.advance_seconds(kabao_server::idempotency::RETENTION_HOURS * 3600 - 60);
    kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap();
    assert_replay(
        &first,
        &post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("kept"), r#"{"amount_fen":100}"#).await,
    );
    app.clock.advance_seconds(120);
    kabao_app::jobs::run_once(&app.state, "instance-test").await.unwrap();
    let fresh = post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("kept"), r#"{"amount_fen":200}"#).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    assert!(!replayed(&fresh));
}

/// A failed request changes nothing and frees its key: the corrected request may use the same key.
#[tokio::test]
async fn a_refused_request_frees_its_key_for_the_corrected_one() {
    let app = TestApp::new().await;
    let token = buyer(&app, "idem_refused").await;
    let bad = post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("fix"), r#"{"amount_fen":0}"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let good = post(&app, "/api/v1/wallet/top-ups", Some(&token), Some("fix"), r#"{"amount_fen":100}"#).await;
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.body);
}

mod property {
    //! Random bodies and replays through the API: for every replay of a body that succeeded, identical status and
    //! body bytes; for a changed field under the key, 409 `idempotency_key_reused` and no new order.
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Call {
        Checkout { product: usize, quantity: i64, ack: bool, confirmed: bool, seen: bool, reversed: bool },
        TopUp { amount_fen: i64 },
    }

    fn call() -> impl Strategy<Value = Call> {
        prop_oneof![
            3 => (0..2usize, 0..=6i64, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
                |(product, quantity, ack, confirmed, seen, reversed)| Call::Checkout { product, quantity, ack, confirmed, seen, reversed }
            ),
            1 => prop_oneof![Just(0i64), Just(100), Just(250), Just(5_000_001)].prop_map(|amount_fen| Call::TopUp { amount_fen }),
        ]
    }

    /// The route, the body as sent, and the body as a value (what the request means).
    fn request(c: &Call, products: &[(i64, String)]) -> (&'static str, String, serde_json::Value) {
        match c {
            Call::Checkout { product, quantity, ack, confirmed, seen, reversed } => {
                let (id, sha) = &products[*product];
                let mut fields = vec![
                    ("product_id", json!(id)),
                    ("quantity", json!(quantity)),
                    ("warranty_ack", json!(ack)),
                    ("first_order_confirmed", json!(confirmed)),
                ];
                if *seen {
                    fields.push(("warranty_sha256", json!(sha)));
                }
                if *reversed {
                    fields.reverse();
                }
                let text = format!(
                    "{{{}}}",
                    fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect::<Vec<_>>().join(", ")
                );
                let value = serde_json::from_str(&text).unwrap();
                ("/api/v1/orders", text, value)
            }
            Call::TopUp { amount_fen } => {
                let text = format!("{{\"amount_fen\":{amount_fen}}}");
                let value = serde_json::from_str(&text).unwrap();
                ("/api/v1/wallet/top-ups", text, value)
            }
        }
    }

    #[test]
    fn random_bodies_and_replays_answer_the_first_answer_or_409_and_change_nothing() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (app, token, merchant, products) = rt.block_on(async {
            let app = TestApp::new().await;
            let (merchant, first) = app.merchant_with_product("prop_m").await;
            let second = app
                .api(
                    "POST",
                    "/api/v1/merchant/products",
                    Some(&merchant),
                    Some(json!({"title": "点卡 20 元", "category": "game_card", "kind": "standard", "price_fen": 1990, "max_per_order": 5})),
                )
                .await
                .json()["id"]
                .as_i64()
                .unwrap();
            set_template(&app, &merchant, first, "point_card_24h").await;
            app.import(&merchant, first, "PP-1\nPP-2\nPP-3\nPP-4\nPP-5\n").await;
            app.import(&merchant, second, "PQ-1\nPQ-2\nPQ-3\nPQ-4\nPQ-5\n").await;
            let mut products = Vec::new();
            for id in [first, second] {
                let w = app.api("GET", &format!("/api/v1/products/{id}/warranty"), None, None).await.json();
                let sha = w["sha256"].as_str().unwrap().to_string();
                products.push((id, sha));
            }
            let token = buyer(&app, "prop_b").await;
            (app, token, merchant, products)
        });
        let case = std::cell::Cell::new(0u32);
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 24,
            failure_persistence: None,
            ..Default::default()
        });
        let calls = proptest::collection::vec((0..3usize, call()), 1..10);
        runner
            .run(&calls, |calls| {
                case.set(case.get() + 1);
                let case = case.get();
                rt.block_on(async {
                    // What each key answered first (only answers that succeeded are kept).
                    let mut first: HashMap<usize, (&'static str, serde_json::Value, StatusCode, String)> =
                        HashMap::new();
                    for (k, c) in &calls {
                        let key = format!("case-{case}-key-{k}");
                        let (route, text, value) = request(c, &products);
                        let orders_before = shop_orders(&app, &merchant).await;
                        let res = post(&app, route, Some(&token), Some(&key), &text).await;
                        let orders_after = shop_orders(&app, &merchant).await;
                        match first.get(k) {
                            Some((r, v, status, body)) if *r == route && *v == value => {
                                prop_assert_eq!((res.status, &res.body), (*status, body), "{:?}", c);
                                prop_assert!(replayed(&res));
                                prop_assert_eq!(orders_after, orders_before);
                            }
                            Some(_) => {
                                prop_assert_eq!(res.status, StatusCode::CONFLICT, "{:?}: {}", c, res.body);
                                prop_assert_eq!(res.json()["code"].clone(), json!("idempotency_key_reused"));
                                prop_assert_eq!(orders_after, orders_before, "a refused key changes nothing");
                            }
                            None => {
                                prop_assert!(!replayed(&res));
                                let created = route == "/api/v1/orders" && res.status == StatusCode::CREATED;
                                prop_assert_eq!(orders_after, orders_before + usize::from(created), "{:?}", c);
                                if res.status.is_success() {
                                    first.insert(*k, (route, value, res.status, res.body.clone()));
                                }
                            }
                        }
                    }
                    Ok::<(), proptest::test_runner::TestCaseError>(())
                })
            })
            .unwrap();
    }
}
