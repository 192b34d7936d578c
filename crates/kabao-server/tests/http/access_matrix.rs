//! The access matrix: every route the server registers (read from the routers themselves, see
//! `kabao_server::route_table`) and every operation of the OpenAPI document, called by eight callers, against
//! the expected outcomes in `access_matrix.txt`. A route without a row, a row without a route, an API route
//! missing from the OpenAPI document (or the reverse) unless listed there as a known exception, and any cell
//! whose outcome differs, fail the test; the failure prints the rows to paste.
//!
//! Path parameters are filled from one fixture world: the buyer's order and claim (the guest uses its own guest
//! order), the merchant's shop, product, batch, review, certification and withdrawal, and spare objects for the
//! destructive admin routes (a victim user and shop), so "another buyer" and "another merchant" reach the first
//! one's objects. Set `KABAO_ACCESS_MATRIX_WRITE=1` to rewrite the table's rows from what was observed.

use crate::app::{Res, TestApp, T0};
use crate::claims::{file_claim, png};
use crate::orders::{notify, now_s, order, order_no, top_up};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use kabao_core::user::Role;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const TABLE: &str = include_str!("access_matrix.txt");
const TABLE_FILE: &str = "tests/http/access_matrix.txt";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caller {
    Anon,
    Guest,
    Buyer,
    Buyer2,
    Merchant,
    Merchant2,
    Arbiter,
    Admin,
}

/// The table's column order.
const CALLERS: [Caller; 8] = [
    Caller::Anon,
    Caller::Guest,
    Caller::Buyer,
    Caller::Buyer2,
    Caller::Merchant,
    Caller::Merchant2,
    Caller::Arbiter,
    Caller::Admin,
];

/// The order in which one row is walked: the callers that may not act first, the owners last, so an owner's
/// change (a ruling, a decision) never decides what the others see.
const WALK: [Caller; 8] = [
    Caller::Anon,
    Caller::Buyer2,
    Caller::Merchant2,
    Caller::Arbiter,
    Caller::Guest,
    Caller::Buyer,
    Caller::Merchant,
    Caller::Admin,
];

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Caller::Anon => "anon",
            Caller::Guest => "guest",
            Caller::Buyer => "buyer",
            Caller::Buyer2 => "buyer2",
            Caller::Merchant => "merchant",
            Caller::Merchant2 => "merchant2",
            Caller::Arbiter => "arbiter",
            Caller::Admin => "admin",
        }
    }
    fn index(self) -> usize {
        CALLERS.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// One caller's credentials.
struct Who {
    user: Option<kabao_store::User>,
    token: Option<String>,
}

/// The fixture world: who the callers are and which objects fill the paths.
struct World {
    who: Vec<Who>,
    guest_secret: String,
    guest_pass: String,
    product: i64,
    shop: i64,
    batch: i64,
    review: i64,
    certification: i64,
    withdrawal: i64,
    payee: i64,
    /// Never removed by the walk: the withdrawal requests name it.
    withdrawal_payee: i64,
    /// Removed by the page route, so the API route removes another.
    page_payee: i64,
    buyer_order: String,
    buyer_claim: String,
    buyer_sha: String,
    guest_order: String,
    guest_claim: String,
    guest_sha: String,
    buyer_spare_token: i64,
    merchant_spare_token: i64,
    victim_user: i64,
    victim_shop: i64,
    /// The merchant's webhook endpoint with a delivery (listed, re-sent); the API and the page each remove
    /// their own spare.
    webhook: i64,
    webhook_delivery: i64,
    api_spare_webhook: i64,
    page_spare_webhook: i64,
    trade_no: String,
    /// Variants (面值) of the merchant's product: the API and the page each rename one and remove another (the
    /// walk removes before it renames).
    api_variant: i64,
    api_removed_variant: i64,
    page_variant: i64,
    page_removed_variant: i64,
    /// The merchant's coupon (enabled and disabled by both).
    coupon: i64,
}

async fn user_token(app: &TestApp, name: &str, role: Role) -> (kabao_store::User, String) {
    let user =
        kabao_app::accounts::create_user(&*app.state.store, name, "matrix-pass-12", role, None, T0).await.unwrap();
    (user, app.token(name, "matrix-pass-12").await)
}

async fn shop_of(app: &TestApp, token: &str) -> i64 {
    app.api("GET", "/api/v1/merchant/shop", Some(token), None).await.json()["id"].as_i64().unwrap()
}

fn ok(res: &Res, what: &str) {
    assert!(res.status.is_success() || res.status.is_redirection(), "fixture: {what}: {} {}", res.status, res.body);
}

async fn merchant(app: &TestApp, name: &str) -> (kabao_store::User, String, i64, i64) {
    let (token, product) = app.merchant_with_product(name).await;
    let user = {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.user_by_username(name).await.unwrap().unwrap()
    };
    let shop = shop_of(app, &token).await;
    (user, token, product, shop)
}

async fn world(app: &TestApp) -> World {
    let (m_user, m, product, shop) = merchant(app, "matrix_m").await;
    let (m2_user, m2, _, _) = merchant(app, "matrix_m2").await;
    let (victim, _, _, victim_shop) = merchant(app, "matrix_victim").await;
    let imported = app.import(&m, product, "MX-0001\nMX-0002\nMX-0003\nMX-0004\nMX-0005\nMX-0006\n").await;
    ok(&imported, "import");
    let batch = imported.json()["batch_id"].as_i64().unwrap_or(0);
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/products/{product}/warranty"),
            Some(&m),
            Some(json!({"template": "license_key_7d"})),
        )
        .await;
    ok(&res, "warranty");
    let (b_user, b) = user_token(app, "matrix_b", Role::Buyer).await;
    let (b2_user, b2) = user_token(app, "matrix_b2", Role::Buyer).await;
    let (r_user, r) = user_token(app, "matrix_r", Role::Arbiter).await;
    let (a_user, a) = user_token(app, "matrix_a", Role::Admin).await;
    top_up(app, &b, 20_000).await;
    top_up(app, &b2, 20_000).await;

    // A settled sale, so the merchant has a withdrawal for the admin to decide.
    let settled = order_no(app, &b, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    ok(&app.api("POST", &format!("/api/v1/orders/{settled}/pay/wallet"), Some(&b), None).await, "pay");
    app.clock.advance_seconds(8 * 24 * 3600);
    kabao_app::jobs::settle_due(&app.state).await.unwrap();
    let p = app
        .api(
            "POST",
            "/api/v1/merchant/payees",
            Some(&m),
            Some(json!({"kind": "alipay", "account": "13812345678", "name": "张三"})),
        )
        .await;
    ok(&p, "payee");
    let payee = p.json()["id"].as_i64().unwrap();
    let mut spare_payees = Vec::new();
    for account in ["13812345679", "13812345670"] {
        let body = json!({"kind": "alipay", "account": account, "name": "张三"});
        let p = app.api("POST", "/api/v1/merchant/payees", Some(&m), Some(body)).await;
        ok(&p, "spare payee");
        spare_payees.push(p.json()["id"].as_i64().unwrap());
    }
    let (withdrawal_payee, page_payee) = (spare_payees[0], spare_payees[1]);
    // Webhook endpoints written straight to the store: the test has no public https host to register.
    let (webhook, api_spare_webhook, page_spare_webhook, webhook_delivery) = {
        use kabao_core::webhook::EventKind;
        let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
        let shop_id = kabao_core::ShopId(shop);
        let mut ids = Vec::new();
        for n in 0..3 {
            let url = format!("https://hooks{n}.example.com/k");
            ids.push(tx.insert_webhook_endpoint(shop_id, &url, &[EventKind::OrderPaid], b"x", 1, T0).await.unwrap());
        }
        kabao_app::webhooks::enqueue(&mut *tx, shop_id, EventKind::OrderPaid, None, json!({}), T0).await.unwrap();
        let delivery = tx.endpoint_webhook_deliveries(ids[0], 0, 1).await.unwrap()[0].id;
        tx.commit().await.unwrap();
        (ids[0], ids[1], ids[2], delivery)
    };
    let w = app
        .api(
            "POST",
            "/api/v1/merchant/withdrawals",
            Some(&m),
            Some(json!({"amount_fen": 100, "payee_id": withdrawal_payee})),
        )
        .await;
    ok(&w, "withdrawal");
    let withdrawal = w.json()["id"].as_i64().unwrap();

    // The buyer's order: reviewed, claimed with a screenshot, rejected by the merchant, escalated.
    let buyer_order = order_no(app, &b, json!({"product_id": product, "quantity": 1, "warranty_ack": true})).await;
    ok(&app.api("POST", &format!("/api/v1/orders/{buyer_order}/pay/wallet"), Some(&b), None).await, "pay");
    ok(&app.api("POST", &format!("/api/v1/orders/{buyer_order}/keys/reveal"), Some(&b), None).await, "reveal");
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orders/{buyer_order}/review"),
            Some(&b),
            Some(json!({"described": 5, "service": 5, "delivery": 5})),
        )
        .await;
    ok(&res, "review");
    let review = res.json()["id"].as_i64().unwrap_or(0);
    let shot = png("matrix");
    let buyer_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&shot));
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "激活失败：序列号已被使用")];
    let res = file_claim(
        app,
        (Some(&b), None),
        &format!("/api/v1/orders/{buyer_order}/claims"),
        &fields,
        &[("s.png", &shot)],
        None,
    )
    .await;
    ok(&res, "claim");
    let buyer_claim = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/claims/{buyer_claim}/decision"),
            Some(&m),
            Some(json!({"decision": "reject", "reason": "售出前已测试可用"})),
        )
        .await;
    ok(&res, "reject");
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orders/{buyer_order}/claims/{buyer_claim}/escalate"),
            Some(&b),
            Some(json!({"statement": "序列号从未激活过"})),
        )
        .await;
    ok(&res, "escalate");

    // The guest's order, paid through the sandbox, claimed with a screenshot.
    let guest_secret = "matrix-guest@example.com".to_string();
    let res = order(
        app,
        None,
        json!({"product_id": product, "quantity": 1, "warranty_ack": true, "guest_email": guest_secret}),
        None,
    )
    .await;
    ok(&res, "guest order");
    let guest_order = res.json()["order_no"].as_str().unwrap().to_string();
    let start = app
        .send(
            Request::post(format!("/api/v1/orders/{guest_order}/pay/sandbox"))
                .header("x-order-secret", &guest_secret)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    ok(&start, "guest pay");
    let paid = notify(app, start.json()["trade_no"].as_str().unwrap(), now_s(app), |_| {}).await;
    ok(&paid, "guest notify");
    let reveal = app
        .send(
            Request::post(format!("/api/v1/orders/{guest_order}/keys/reveal"))
                .header("x-order-secret", &guest_secret)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    ok(&reveal, "guest reveal");
    let shot = png("matrix-guest");
    let guest_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&shot));
    let res = file_claim(
        app,
        (None, Some(&guest_secret)),
        &format!("/api/v1/orders/{guest_order}/claims"),
        &fields,
        &[("g.png", &shot)],
        None,
    )
    .await;
    ok(&res, "guest claim");
    let guest_claim = res.json()["claim"]["claim_no"].as_str().unwrap().to_string();
    let res = app
        .api(
            "POST",
            &format!("/api/v1/merchant/claims/{guest_claim}/decision"),
            Some(&m),
            Some(json!({"decision": "reject", "reason": "售出前已测试可用"})),
        )
        .await;
    ok(&res, "reject the guest's claim");
    let res = app
        .send(
            Request::post(format!("/api/v1/orders/{guest_order}/claims/{guest_claim}/escalate"))
                .header("x-order-secret", &guest_secret)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"statement": "卡密无效"}).to_string()))
                .unwrap(),
        )
        .await;
    ok(&res, "guest escalates");
    // The guest's page pass: the cookie the order lookup sets.
    let csrf = kabao_server::auth::random_token();
    let lookup = app
        .send(
            Request::post("/orders/lookup")
                .header(header::COOKIE, format!("kabao_csrf={csrf}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(
                    serde_urlencoded::to_string([
                        ("_csrf", &csrf),
                        ("order_no", &guest_order),
                        ("secret", &guest_secret),
                    ])
                    .unwrap(),
                ))
                .unwrap(),
        )
        .await;
    let guest_pass = lookup
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("kabao_guest="))
        .and_then(|c| c.split(';').next().map(str::to_string))
        .unwrap_or_else(|| panic!("fixture: guest lookup set no pass: {} {}", lookup.status, lookup.body));

    let res = app
        .api(
            "POST",
            "/api/v1/merchant/certification",
            Some(&m),
            Some(json!({"level": "verified", "real_name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"})),
        )
        .await;
    ok(&res, "certification");
    let certification = res.json()["id"].as_i64().unwrap();
    let spare = |token: String| async move {
        let res = app.api("GET", "/api/v1/tokens", Some(&token), None).await;
        res.json().as_array().and_then(|a| a.first().cloned()).and_then(|t| t["id"].as_i64()).unwrap()
    };
    // The buyer's and the merchant's only tokens so far become spares for the revocation routes; the walk
    // uses fresh ones, so revoking a spare changes nothing it depends on.
    let buyer_spare_token = spare(b.clone()).await;
    let merchant_spare_token = spare(m.clone()).await;
    let b = app.token("matrix_b", "matrix-pass-12").await;
    let m = app.token("matrix_m", "merchant-pass-1").await;
    let top = app.api("POST", "/api/v1/wallet/top-ups", Some(&b), Some(json!({"amount_fen": 100}))).await;
    ok(&top, "top-up");
    let trade_no = top.json()["trade_no"].as_str().unwrap().to_string();
    let mut variants = Vec::new();
    for label in ["矩阵50元", "矩阵100元", "矩阵200元", "矩阵500元"] {
        let res = app
            .api(
                "POST",
                &format!("/api/v1/merchant/products/{product}/variants"),
                Some(&m),
                Some(json!({"label": label, "price_fen": 4900})),
            )
            .await;
        ok(&res, "variant");
        variants.push(res.json()["product_id"].as_i64().unwrap());
    }
    let res = app
        .api(
            "POST",
            "/api/v1/merchant/coupons",
            Some(&m),
            Some(json!({"code": "MATRIX", "amount_off_fen": 10, "usage_limit": 5, "expires_at": T0.millis() + 90 * 86_400_000_i64})),
        )
        .await;
    ok(&res, "coupon");
    let coupon = res.json()["id"].as_i64().unwrap();

    let who = vec![
        Who { user: None, token: None },
        Who { user: None, token: None },
        Who { user: Some(b_user), token: Some(b) },
        Who { user: Some(b2_user), token: Some(b2) },
        Who { user: Some(m_user), token: Some(m) },
        Who { user: Some(m2_user), token: Some(m2) },
        Who { user: Some(r_user), token: Some(r) },
        Who { user: Some(a_user), token: Some(a) },
    ];
    World {
        who,
        guest_secret,
        guest_pass,
        product,
        shop,
        batch,
        review,
        certification,
        withdrawal,
        payee,
        withdrawal_payee,
        page_payee,
        buyer_order,
        buyer_claim,
        buyer_sha,
        guest_order,
        guest_claim,
        guest_sha,
        buyer_spare_token,
        merchant_spare_token,
        victim_user: victim.id.0,
        victim_shop,
        trade_no,
        api_variant: variants[0],
        api_removed_variant: variants[1],
        page_variant: variants[2],
        page_removed_variant: variants[3],
        coupon,
        webhook,
        webhook_delivery,
        api_spare_webhook,
        page_spare_webhook,
    }
}

/// The value of each `{param}` of `template` for `caller`; the key is the segment before the parameter.
fn fill(template: &str, caller: Caller, w: &World) -> Result<String, String> {
    let guest = caller == Caller::Guest;
    let segs: Vec<&str> = template.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            out.push(seg.to_string());
            continue;
        };
        let prev = if i > 0 { segs[i - 1] } else { "" };
        let admin = segs.get(1) == Some(&"admin") || segs.get(3) == Some(&"admin");
        let value = match (prev, name) {
            ("orders" | "o", "order_no" | "no") if guest => w.guest_order.clone(),
            ("orders" | "o", "order_no" | "no") => w.buyer_order.clone(),
            ("claims" | "disputes", "claim_no") if guest => w.guest_claim.clone(),
            ("claims" | "disputes", "claim_no") => w.buyer_claim.clone(),
            ("evidence", "sha256") if guest => w.guest_sha.clone(),
            ("evidence", "sha256") => w.buyer_sha.clone(),
            ("products" | "p", "id") => w.product.to_string(),
            ("media", "file") => format!("{}.jpg", "0".repeat(64)),
            // The admin's shop actions (suspension, certification, risk review) hit a shop nobody else uses.
            ("shops" | "risk", "id" | "shop") if admin => w.victim_shop.to_string(),
            ("shops" | "s", "id") => w.shop.to_string(),
            ("users", "id") => w.victim_user.to_string(),
            ("batches", "id") => w.batch.to_string(),
            ("reviews", "id") => w.review.to_string(),
            ("certifications", "id") => w.certification.to_string(),
            ("withdrawals", "id") => w.withdrawal.to_string(),
            // No finding exists: the admin's resolve without a note is refused (400) after access was granted.
            ("reconciliation", "id") => "1".into(),
            ("payees", "id") if !template.starts_with("/api/") => w.page_payee.to_string(),
            ("payees", "id") => w.payee.to_string(),
            ("webhooks", "id") if template.ends_with("/deliveries") => w.webhook.to_string(),
            ("webhooks", "id") if template.starts_with("/api/") => w.api_spare_webhook.to_string(),
            ("webhooks", "id") => w.page_spare_webhook.to_string(),
            ("webhook-deliveries", "id") => w.webhook_delivery.to_string(),
            ("variants", "id") if template.starts_with("/api/") => w.api_variant.to_string(),
            ("variants", "id") if template.ends_with("/remove") => w.page_removed_variant.to_string(),
            ("variants", "id") => w.page_variant.to_string(),
            ("coupons", "id") => w.coupon.to_string(),
            // A session id that names no session: each caller is refused as for another user's (the page row too).
            ("sessions", "id") => "0".repeat(64),
            ("tokens", "id") if template.starts_with("/api/") => w.buyer_spare_token.to_string(),
            ("tokens", "id") => w.merchant_spare_token.to_string(),
            ("sandbox", "trade_no") => w.trade_no.clone(),
            // No gateway refund waits for the team in the fixture world: the admin reaches the lookup (404).
            ("refunds", "id") => "999999".into(),
            ("lang", "tag") => "en".into(),
            _ => {
                return Err(format!(
                "no fixture value for {{{name}}} after /{prev}/ in {template}: add one to `fill` in access_matrix.rs"
            ))
            }
        };
        out.push(value);
    }
    Ok(out.join("/"))
}

/// What a request body carries.
enum Payload {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    /// Text fields, then one PNG file under the given part name.
    Multipart(Vec<(&'static str, String)>, &'static str),
    Text(&'static str),
}

/// A minimal body that passes each route's input checks, so the walk reaches the access checks behind them
/// (a body the handler refuses proves access was granted too: 400/409/422 count as `ok`). Routes not named
/// get an empty JSON object (API) or a form with only the CSRF field (pages).
fn payload(method: &Method, template: &str, w: &World) -> Payload {
    let j = Payload::Json;
    let f = |fields: &[(&'static str, &str)]| Payload::Form(fields.iter().map(|(k, v)| (*k, v.to_string())).collect());
    let api = template.starts_with("/api/");
    match (method.as_str(), template) {
        ("GET" | "DELETE", _) => Payload::None,
        (_, "/api/v1/tokens") => j(json!({"username": "matrix_b2", "password": "matrix-pass-12", "name": "x"})),
        (_, "/api/v1/merchant/shop") => j(json!({"name": "矩阵店"})),
        (_, "/api/v1/merchant/products" | "/api/v1/merchant/products/{id}") => j(json!({
            "title": "点卡 10 元", "category": "game_card", "kind": "standard", "price_fen": 990, "max_per_order": 5
        })),
        (_, "/api/v1/merchant/products/{id}/keys") => Payload::Text("MX-NEW-1\n"),
        (_, "/api/v1/merchant/products/{id}/warranty") => j(json!({"template": "license_key_7d"})),
        (_, "/api/v1/merchant/products/{id}/shared-secret") => j(json!({"secret": "s", "stock": 1})),
        (_, "/api/v1/merchant/products/{id}/custom-fields") => {
            j(json!({"fields": ["账号"], "delivery_hours": 24, "stock": 1}))
        }
        (_, "/api/v1/merchant/orders/{order_no}/delivery") => j(json!({"text": "已发货"})),
        (_, "/api/v1/orders") => j(
            json!({"product_id": w.product, "quantity": 1, "warranty_ack": true, "guest_email": w.guest_secret, "first_order_confirmed": true}),
        ),
        (_, t) if t.ends_with("/messages") && api => j(json!({"body": "你好"})),
        (_, "/api/v1/admin/risk/shops/{id}/review") => j(json!({"outcome": "cleared", "note": "ok"})),
        (_, t) if t.ends_with("/statements") && api => j(json!({"statement": "说明"})),
        (_, t) if t.ends_with("/escalate") && api => j(json!({"statement": "说明"})),
        (_, "/api/v1/arbiter/disputes/{claim_no}/ruling") => {
            j(json!({"ruling": "refund", "refund_fen": 1, "reason": "理由"}))
        }
        (_, "/api/v1/admin/fund/contributions") => j(json!({"amount_fen": 1})),
        (_, "/api/v1/orders/{order_no}/review") => j(json!({"described": 5, "service": 5, "delivery": 5})),
        (_, "/api/v1/merchant/reviews/{id}/reply") => j(json!({"reply": "谢谢"})),
        (_, "/api/v1/merchant/certification") => j(
            json!({"level": "verified", "real_name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}),
        ),
        (_, "/api/v1/admin/certifications/{id}/decision") => j(json!({"decision": "reject", "reason": "资料不全"})),
        (_, "/api/v1/merchant/claims/{claim_no}/decision") => j(json!({"decision": "reject", "reason": "已测试"})),
        (_, "/api/v1/merchant/withdrawals") => j(json!({"amount_fen": 1, "payee_id": w.withdrawal_payee})),
        (_, "/api/v1/admin/withdrawals/{id}/decision") => j(json!({"approve": false, "note": "请核对"})),
        (_, "/api/v1/merchant/webhooks") => j(json!({"url": "https://127.0.0.1/hook", "events": ["order.paid"]})),
        (_, "/api/v1/merchant/products/{id}/stock-alert") => j(json!({"threshold": 3})),
        (_, "/api/v1/merchant/products/{id}/variants") => j(json!({"label": "矩阵10元", "price_fen": 990})),
        (_, "/api/v1/merchant/variants/{id}") => j(json!({"label": "矩阵五十"})),
        (_, "/api/v1/merchant/products/{id}/tiers") => {
            j(json!({"tiers": [{"min_quantity": 10, "unit_price_fen": 900}]}))
        }
        (_, "/api/v1/merchant/coupons") => j(
            json!({"code": "MXNEW", "percent_off": 5, "usage_limit": 3, "expires_at": T0.millis() + 90 * 86_400_000_i64}),
        ),
        (_, "/api/v1/merchant/coupons/{id}/enabled") => j(json!({"enabled": true})),
        (_, "/api/v1/admin/users/{id}/role") => j(json!({"role": "buyer"})),
        (_, "/api/v1/admin/shops/{id}/certification") => j(json!({"level": "none"})),
        (_, "/api/v1/admin/shops/{id}/suspension") => j(json!({"suspended": false})),
        (_, "/api/v1/wallet/top-ups") => j(json!({"amount_fen": 100})),
        (_, "/api/v1/admin/refunds/{id}/resolve") => j(json!({"note": "支付宝后台手工退款"})),
        (_, "/api/v1/wallet/refund-preference") => j(json!({"refund_to_wallet": false})),
        (_, "/wallet/refund-preference") => f(&[("to", "original")]),
        (_, t) if t.contains("/claims") && (t.ends_with("/claims") || t.ends_with("/evidence")) => {
            let fields =
                vec![("item", "1".into()), ("defect", "invalid_key".into()), ("error_text", "补充说明".into())];
            Payload::Multipart(fields, "files")
        }
        (_, "/console/products/{id}/keys") => Payload::Multipart(vec![], "file"),
        (_, "/console/orders/{no}/deliver") => f(&[("text", "已发货")]),
        (_, "/login") => f(&[("username", "matrix_b2"), ("password", "matrix-pass-12")]),
        (_, "/orders/lookup") => {
            Payload::Form(vec![("order_no", w.guest_order.clone()), ("secret", w.guest_secret.clone())])
        }
        (_, t) if t.ends_with("/messages") || t.ends_with("/chat") => f(&[("body", "你好")]),
        (_, t) if t.ends_with("/statements") || t.ends_with("/escalate") => f(&[("statement", "说明")]),
        (_, "/console/webhooks") => f(&[("url", "https://127.0.0.1/hook"), ("events", "order.paid")]),
        (_, "/admin/users/{id}/role") => f(&[("role", "buyer")]),
        (_, "/admin/shops/{id}/suspension") => f(&[("suspended", "false")]),
        (_, "/admin/shops/{id}/certification") => f(&[("level", "none")]),
        (_, "/admin/withdrawals/{id}/reject") => f(&[("note", "请核对")]),
        (_, "/admin/certifications/{id}/decision") => f(&[("decision", "reject"), ("reason", "资料不全")]),
        (_, "/console/claims/{claim_no}/decision") => f(&[("decision", "reject"), ("reason", "已测试")]),
        (_, "/console/reviews/{id}/reply") => f(&[("reply", "谢谢")]),
        (_, "/console/products/{id}/variants") => f(&[("label", "矩阵20元"), ("price", "19.80")]),
        (_, "/console/variants/{id}/rename") => f(&[("label", "矩阵一百")]),
        (_, "/console/products/{id}/tiers") => f(&[("tiers", "10 9.00")]),
        (_, "/console/coupons") => {
            f(&[("code", "MXPAGE"), ("kind", "amount"), ("value", "1.00"), ("usage_limit", "3"), ("days", "30")])
        }
        (_, "/console/coupons/{id}/enabled") => f(&[("enabled", "1")]),
        (_, "/o/{no}/review") => f(&[("described", "5"), ("service", "5"), ("delivery", "5")]),
        (_, _) if api => j(json!({})),
        _ => Payload::Form(vec![]),
    }
}

fn cookie_value(set_cookie: &axum::http::HeaderValue) -> String {
    set_cookie.to_str().unwrap_or_default().split(';').next().unwrap_or_default().to_string()
}

/// Calls one route as one caller.
async fn call(app: &TestApp, w: &World, method: &Method, template: &str, caller: Caller) -> Result<Res, String> {
    let mut path = fill(template, caller, w)?;
    if *method == Method::DELETE && template == "/api/v1/merchant/variants/{id}" {
        path = format!("/api/v1/merchant/variants/{}", w.api_removed_variant);
    }
    let who = &w.who[caller.index()];
    let api = template.starts_with("/api/");
    let mut b = Request::builder().method(method.clone()).uri(&path);
    let csrf = kabao_server::auth::random_token();
    if api {
        if let Some(t) = &who.token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if caller == Caller::Guest {
            b = b.header("x-order-secret", &w.guest_secret);
        }
    } else {
        let mut cookies = vec![format!("kabao_csrf={csrf}")];
        // A fresh session for every request, so the walk's own logout does not end the caller's login.
        if let Some(u) = &who.user {
            cookies.push(cookie_value(&kabao_server::auth::start_session(&app.state, u).await.unwrap()));
        }
        if caller == Caller::Guest {
            cookies.push(w.guest_pass.clone());
        }
        b = b.header(header::COOKIE, cookies.join("; "));
    }
    let req = match payload(method, template, w) {
        Payload::None => b.body(Body::empty()),
        Payload::Json(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
        Payload::Text(t) => b.header(header::CONTENT_TYPE, "text/plain").body(Body::from(t)),
        Payload::Form(mut fields) => {
            fields.push(("_csrf", csrf.clone()));
            b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(serde_urlencoded::to_string(&fields).unwrap()))
        }
        Payload::Multipart(mut fields, file_part) => {
            if !api {
                fields.insert(0, ("_csrf", csrf));
            }
            let boundary = "kabao-matrix-boundary";
            let mut body = Vec::new();
            for (name, value) in &fields {
                body.extend_from_slice(
                    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_part}\"; filename=\"w.png\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(&png("walk"));
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            b.header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}")).body(Body::from(body))
        }
    };
    Ok(app.send(req.unwrap()).await)
}

/// The outcome class of a response (see the top of `access_matrix.txt`).
fn class(res: &Res) -> String {
    let s = res.status.as_u16();
    match s {
        401 => "401".into(),
        403 => "403".into(),
        404 => "404".into(),
        300..=399 if res.location().starts_with("/login") => "401".into(),
        200..=399 | 400 | 402 | 409 | 422 => "ok".into(),
        _ => s.to_string(),
    }
}

/// One row of the table.
struct Row {
    line: usize,
    cells: [String; 8],
}

/// The table file: rows by `(method, path)`, and the known differences between the router and the OpenAPI
/// document.
#[derive(Default)]
struct Table {
    rows: BTreeMap<(String, String), Row>,
    undocumented: BTreeSet<(String, String)>,
    unrouted: BTreeSet<(String, String)>,
    errors: Vec<String>,
}

fn parse(text: &str) -> Table {
    let mut t = Table::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = i + 1;
        match words.as_slice() {
            ["not-in-openapi", m, p] => {
                t.undocumented.insert((m.to_string(), p.to_string()));
            }
            ["not-in-router", m, p] => {
                t.unrouted.insert((m.to_string(), p.to_string()));
            }
            [m, p, cells @ ..] => {
                let mut row = Row { line: at, cells: Default::default() };
                let mut seen = [false; 8];
                for cell in cells {
                    let Some((k, v)) = cell.split_once('=') else {
                        t.errors.push(format!("line {at}: `{cell}` is not caller=outcome"));
                        continue;
                    };
                    let Some(c) = CALLERS.iter().find(|c| c.name() == k) else {
                        t.errors.push(format!("line {at}: unknown caller `{k}`"));
                        continue;
                    };
                    let valid = matches!(v, "ok" | "401" | "403" | "404") || (v.len() == 3 && v.parse::<u16>().is_ok());
                    if !valid {
                        t.errors.push(format!("line {at}: unknown outcome `{v}`"));
                    }
                    row.cells[c.index()] = v.to_string();
                    seen[c.index()] = true;
                }
                if let Some(c) = CALLERS.iter().find(|c| !seen[c.index()]) {
                    t.errors.push(format!("line {at}: no outcome for {}", c.name()));
                }
                if t.rows.insert((m.to_string(), p.to_string()), row).is_some() {
                    t.errors.push(format!("line {at}: {m} {p} has two rows"));
                }
            }
            _ => t.errors.push(format!("line {at}: cannot read `{line}`")),
        }
    }
    t
}

fn format_row(method: &str, path: &str, cells: &[String]) -> String {
    let cells: Vec<String> = CALLERS
        .iter()
        .zip(cells)
        .map(|(c, v)| format!("{:<w$}", format!("{}={v}", c.name()), w = c.name().len() + 5))
        .collect();
    format!("{method:<7}{path:<62}{}", cells.join("")).trim_end().to_string()
}

/// The OpenAPI document's operations, as `(METHOD, path)`.
fn openapi_operations() -> BTreeSet<(String, String)> {
    use utoipa::OpenApi;
    let doc = kabao_server::api::ApiDoc::openapi();
    let mut ops = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("DELETE", item.delete.is_some()),
            ("PATCH", item.patch.is_some()),
        ];
        for (m, present) in methods {
            if present {
                ops.insert((m.to_string(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_access_matrix_says() {
    // Every request of the walk comes from one address and most callers hold no secret for the order they try:
    // the guest-lookup throttle (tested in `throttles`) would answer 429 before the access rule spoke.
    let app = TestApp::with_config(kabao_server::ServerConfig {
        lookup_failures_per_order: 1_000_000,
        lookup_failures_per_ip: 1_000_000,
        ..Default::default()
    })
    .await;
    let table = parse(TABLE);
    let mut problems: Vec<String> = table.errors.clone();

    let routed: BTreeSet<(String, String)> =
        kabao_server::route_table(true).into_iter().map(|(m, p)| (m.as_str().to_string(), p)).collect();
    let documented = openapi_operations();

    // The router's API routes and the OpenAPI document's operations are the same set, except the listed ones.
    let api_routes: BTreeSet<_> = routed.iter().filter(|(_, p)| p.starts_with("/api/")).cloned().collect();
    for (m, p) in api_routes.difference(&documented) {
        if !table.undocumented.contains(&(m.clone(), p.clone())) {
            problems.push(format!(
                "{m} {p} is routed but not in the OpenAPI document: document it, or list it as `not-in-openapi {m} {p}`"
            ));
        }
    }
    for (m, p) in documented.difference(&api_routes) {
        if !table.unrouted.contains(&(m.clone(), p.clone())) {
            problems.push(format!(
                "{m} {p} is in the OpenAPI document but not routed: route it, or list it as `not-in-router {m} {p}`"
            ));
        }
    }
    for (m, p) in &table.undocumented {
        if documented.contains(&(m.clone(), p.clone())) || !api_routes.contains(&(m.clone(), p.clone())) {
            problems.push(format!("`not-in-openapi {m} {p}` is no longer true: remove the line"));
        }
    }
    for (m, p) in &table.unrouted {
        if !documented.contains(&(m.clone(), p.clone())) || api_routes.contains(&(m.clone(), p.clone())) {
            problems.push(format!("`not-in-router {m} {p}` is no longer true: remove the line"));
        }
    }

    // Every route routed or documented has a row; every row a route.
    let all: BTreeSet<(String, String)> = routed.union(&documented).cloned().collect();
    for ((m, p), row) in &table.rows {
        if !all.contains(&(m.clone(), p.clone())) {
            problems.push(format!("line {}: {m} {p} is neither routed nor documented: remove the row", row.line));
        }
    }

    let w = world(&app).await;
    // Reads first, then writes, each group in path order; destructive rows hit spare objects (see `fill`).
    let mut order: Vec<&(String, String)> = all.iter().collect();
    order.sort_by_key(|(m, p)| (m != "GET", p.clone(), m.clone()));
    let mut observed: BTreeMap<(String, String), [String; 8]> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for (m, p) in order {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let mut cells: [String; 8] = Default::default();
        let mut details = Vec::new();
        for caller in WALK {
            let res = match call(&app, &w, &method, p, caller).await {
                Ok(res) => res,
                Err(e) => {
                    problems.push(e);
                    break;
                }
            };
            let got = class(&res);
            // Whatever answered, and to whom: the security headers and a request id; a page runs no inline script.
            let what = format!("{m} {p} as {}", caller.name());
            crate::hardened::assert_security_headers(&res.headers, &what);
            if res
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/html"))
            {
                crate::hardened::assert_no_inline_script(&res.body, &what);
            }
            // A refusal says why: JSON with a code from the API, an HTML page from the pages (gateway
            // notifications answer in the gateway's own protocol).
            let refused = res.status == StatusCode::FORBIDDEN || res.status == StatusCode::NOT_FOUND;
            if refused && !p.contains("/gateways/") {
                let typed = res.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
                let fine = if p.starts_with("/api/") {
                    typed.starts_with("application/json") && res.body.contains("\"code\"")
                } else {
                    typed.starts_with("text/html")
                };
                if !fine {
                    problems.push(format!(
                        "{m} {p} as {}: {} without an error body: {}",
                        caller.name(),
                        res.status,
                        res.body
                    ));
                }
            }
            let expected = table.rows.get(&(m.clone(), p.clone())).map(|r| r.cells[caller.index()].clone());
            if expected.as_ref().is_some_and(|e| *e != got) {
                let body: String = res.body.chars().take(160).collect();
                details.push(format!(
                    "    {}: expected {}, got {got} ({} {} {body})",
                    caller.name(),
                    expected.unwrap_or_default(),
                    res.status,
                    res.location()
                ));
            }
            cells[caller.index()] = got;
        }
        match table.rows.get(&(m.clone(), p.clone())) {
            None => missing.push(format_row(m, p, &cells)),
            Some(row) if !details.is_empty() => {
                wrong.push(format!(
                    "line {}: {m} {p}\n{}\n  observed row:\n{}",
                    row.line,
                    details.join("\n"),
                    format_row(m, p, &cells)
                ));
            }
            Some(_) => {}
        }
        observed.insert((m.clone(), p.clone()), cells);
    }

    if std::env::var("KABAO_ACCESS_MATRIX_WRITE").as_deref() == Ok("1") {
        write_table(&observed);
    }
    if !missing.is_empty() {
        problems.push(format!(
            "{} route(s) without a row in {TABLE_FILE}; check these observed outcomes, then paste:\n{}",
            missing.len(),
            missing.join("\n")
        ));
    }
    problems.extend(wrong);
    eprintln!(
        "access matrix: {} API operations and {} other routes × {} callers",
        all.iter().filter(|(_, p)| p.starts_with("/api/")).count(),
        all.iter().filter(|(_, p)| !p.starts_with("/api/")).count(),
        CALLERS.len()
    );
    assert!(problems.is_empty(), "access matrix ({TABLE_FILE}):\n{}", problems.join("\n"));
}

/// Rewrites the table's rows from what was observed, keeping its comments and known exceptions.
fn write_table(observed: &BTreeMap<(String, String), [String; 8]>) {
    let head: Vec<&str> = TABLE
        .lines()
        .take_while(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t.starts_with("not-in-")
        })
        .collect();
    let mut out = head.join("\n");
    out.push('\n');
    let mut rows: Vec<_> = observed.iter().collect();
    rows.sort_by_key(|((m, p), _)| (!p.starts_with("/api/"), p.clone(), m.clone()));
    let mut api = true;
    for ((m, p), cells) in rows {
        if api && !p.starts_with("/api/") {
            out.push_str("\n# Pages, health and metrics (401 = sent to /login).\n");
            api = false;
        }
        out.push_str(&format_row(m, p, cells));
        out.push('\n');
    }
    std::fs::write(TABLE_FILE, out).unwrap();
}

/// The wrong role is refused before anything else is read: a buyer's token on every `/api/v1/merchant/...`
/// route the router has, with ids that name nothing and a body no handler accepts, is 403 `auth.merchant_only`
/// — never a 400 naming a field, a 404, or `200 []`.
#[tokio::test]
async fn a_buyer_token_on_any_merchant_route_is_403_before_the_path_or_body_is_read() {
    let app = TestApp::new().await;
    let (_, token) = user_token(&app, "matrix_only_buyer", Role::Buyer).await;
    let routes: Vec<_> =
        kabao_server::route_table(true).into_iter().filter(|(_, p)| p.starts_with("/api/v1/merchant/")).collect();
    assert!(routes.len() > 20, "the merchant API: {routes:?}");
    for (method, template) in routes {
        let path: Vec<&str> = template.split('/').map(|s| if s.starts_with('{') { "999999" } else { s }).collect();
        let res = app.api(method.as_str(), &path.join("/"), Some(&token), Some(json!({"unknown": true}))).await;
        assert_eq!(
            (res.status, res.json()["code"].clone()),
            (StatusCode::FORBIDDEN, json!("auth.merchant_only")),
            "{method} {template}: {}",
            res.body
        );
    }
}
