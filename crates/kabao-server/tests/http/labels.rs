//! Words, not codes: the warranty label is the same on every page and API view that shows a product or an
//! order; every order event kind reads as words on the buyer's, the merchant's and the arbiter's timelines in
//! both languages; the admin's risk queue shows the message, the rules in words and the chat, read only.

use crate::app::{TestApp, T0};
use crate::claims::{file_claim, png};
use crate::trust::{delivered_order, user};
use axum::http::StatusCode;
use kabao_core::events::EventKind;
use kabao_core::user::Role;
use kabao_core::Lang;
use serde_json::json;

/// Text as askama writes it into a page.
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

async fn set_policy(app: &TestApp, merchant: &str, product: i64, body: serde_json::Value) {
    let path = format!("/api/v1/merchant/products/{product}/warranty");
    let res = app.api("PUT", &path, Some(merchant), Some(body)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

/// One product per policy shape, each in its own marketplace: the home page, the shop, the product, the order
/// page and every API view say the same label, and 无质保 appears only for the product without a policy.
#[tokio::test]
async fn warranty_label_is_the_same_on_every_page_and_api_view_for_each_policy_shape() {
    let templates = kabao_core::warranty::templates();
    let mut three_days_auto = serde_json::to_value(&templates[0].policy).unwrap();
    three_days_auto["window"] = json!({"days": 3});
    let shapes = [
        (
            json!({"template": "point_card_24h"}),
            "24 小时质保 · 自动补单",
            "24-hour warranty · automatic re-issue",
            Some(24),
        ),
        (json!({"template": "license_key_7d"}), "7 天质保 · 人工补单", "7-day warranty · manual re-issue", Some(168)),
        (json!({"policy": three_days_auto}), "3 天质保 · 自动补单", "3-day warranty · automatic re-issue", Some(72)),
        (json!({"template": "membership_refund"}), "30 天质保 · 仅退款", "30-day warranty · refund only", Some(720)),
        (json!({"none": true}), "无质保", "No warranty", None),
    ];
    for (policy, zh, en, hours) in shapes {
        let app = TestApp::new().await;
        let (merchant, product) = app.merchant_with_product("label_m").await;
        app.import(&merchant, product, "LB-0001\nLB-0002\nLB-0003\n").await;
        set_policy(&app, &merchant, product, policy).await;
        let covered = hours.is_some();
        let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
        let (buyer, no) = delivered_order(&app, "label_b", product).await;

        // Pages, in Chinese and English.
        let mut browser = app.browser();
        browser.login("label_b", "password-pass-1").await;
        for lang in [Lang::Zh, Lang::En] {
            browser.cookies.insert("lang".into(), lang.tag().into());
            let (label, other) = match lang {
                Lang::Zh => (zh, "无质保"),
                Lang::En => (en, "No warranty"),
            };
            for path in ["/".to_string(), format!("/s/{shop}"), format!("/p/{product}"), format!("/o/{no}")] {
                let page = browser.get(&path).await;
                assert_eq!(page.status, StatusCode::OK, "{path}");
                assert!(page.body.contains(&html(label)), "{path} ({lang:?}) says {label:?}");
                if covered {
                    assert!(!page.body.contains(other), "{path} ({lang:?}) says {other:?} for a product with rules");
                }
            }
        }

        // API views: the catalog, one product, the merchant's list, the terms, the order.
        let want = json!({
            "covered": covered,
            "label_zh": zh,
            "label_en": en,
            "window_hours": hours,
        });
        let listed = app.api("GET", "/api/v1/products", None, None).await.json();
        let views = [
            ("catalog", listed[0]["warranty"].clone()),
            (
                "product",
                app.api("GET", &format!("/api/v1/products/{product}"), None, None).await.json()["warranty"].clone(),
            ),
            (
                "merchant",
                app.api("GET", "/api/v1/merchant/products", Some(&merchant), None).await.json()[0]["warranty"].clone(),
            ),
            (
                "terms",
                app.api("GET", &format!("/api/v1/products/{product}/warranty"), None, None).await.json()["summary"]
                    .clone(),
            ),
            (
                "order",
                app.api("GET", &format!("/api/v1/orders/{no}"), Some(&buyer), None).await.json()["warranty"].clone(),
            ),
        ];
        for (name, view) in views {
            for key in ["covered", "label_zh", "label_en", "window_hours"] {
                assert_eq!(view[key], want[key], "{name}: {key} of {view}");
            }
            assert_eq!(view["auto_reissue"], json!(zh.contains("自动补单")), "{name}: {view}");
        }
    }
}

/// A shop that is not certified wears a neutral badge, never the green one of a certified shop.
#[tokio::test]
async fn an_uncertified_shop_has_a_neutral_badge() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("badge_m").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    for path in [format!("/p/{product}"), format!("/s/{shop}")] {
        let page = app.get(&path).await.body;
        assert!(page.contains(r#"<span class="badge">未认证</span>"#), "{path}");
        assert!(!page.contains(r#"cert">未认证"#), "{path}");
    }
}

/// Every kind of order event, on an order in dispute, as the buyer (order page), the merchant (claim page) and
/// the arbiter (case page) see it, in both languages: each kind's words are there, no kind's code is.
#[tokio::test]
async fn every_event_kind_reads_as_words_on_every_timeline_in_both_languages() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("words_m").await;
    app.import(&merchant, product, "WD-0001\nWD-0002\n").await;
    set_policy(&app, &merchant, product, json!({"template": "license_key_7d"})).await;
    let (buyer, no) = delivered_order(&app, "words_b", product).await;
    app.api("POST", &format!("/api/v1/orders/{no}/keys/reveal"), Some(&buyer), None).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "激活失败")];
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
    let decision = json!({"decision": "reject", "reason": "售出前已测试可用"});
    let res =
        app.api("POST", &format!("/api/v1/merchant/claims/{claim_no}/decision"), Some(&merchant), Some(decision)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let escalate = format!("/api/v1/orders/{no}/claims/{claim_no}/escalate");
    let res = app.api("POST", &escalate, Some(&buyer), Some(json!({"statement": "卡密确实无效"}))).await;
    assert!(res.status.is_success(), "{}", res.body);

    // The story wrote some kinds; the rest are chained here so that every kind is on the timeline.
    {
        let order = {
            let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
            tx.order_by_no(&no).await.unwrap().unwrap()
        };
        let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
        // Written raw, with empty bodies, as a version with other bodies would have: the words come from the kind.
        for kind in EventKind::ALL {
            let last = tx.last_event(order.id).await.unwrap();
            let e = kabao_core::audit::next_event(last.as_ref(), kind.as_str(), app.state.now().millis(), &json!({}));
            tx.append_event(order.id, &e).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let (_, problems) = kabao_app::verify::audit(&*app.state.store).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    user(&app, "words_arb", Role::Arbiter).await;
    let mut as_buyer = app.browser();
    as_buyer.login("words_b", "password-pass-1").await;
    let mut as_merchant = app.browser();
    as_merchant.login("words_m", "merchant-pass-1").await;
    let mut as_arbiter = app.browser();
    as_arbiter.login("words_arb", "password-pass-1").await;
    let mut browsers = [as_buyer, as_merchant, as_arbiter];
    let timelines = [
        ("buyer", 0, format!("/o/{no}")),
        ("buyer's claim", 0, format!("/o/{no}/claims/{claim_no}")),
        ("merchant", 1, format!("/console/claims/{claim_no}")),
        ("arbiter", 2, format!("/arbiter/disputes/{claim_no}")),
    ];
    for (who, b, path) in timelines {
        let browser = &mut browsers[b];
        for lang in [Lang::Zh, Lang::En] {
            browser.cookies.insert("lang".into(), lang.tag().into());
            let page = browser.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{who}: {path}");
            for kind in EventKind::ALL {
                let words = kind.label("{}", lang);
                assert!(page.body.contains(&html(words)), "{who} ({lang:?}) does not show {kind} as {words:?}");
                assert!(!page.body.contains(kind.as_str()), "{who} ({lang:?}) shows the code {kind}");
            }
            assert!(!page.body.contains(lang.pick("其他事件", "Other event")), "{who} ({lang:?})");
        }
    }
}

fn risky_config() -> kabao_server::ServerConfig {
    kabao_server::ServerConfig { risk_review_threshold: 1, ..Default::default() }
}

/// The admin's risk queue shows what was said and which rules it broke in words, and links to the order's chat,
/// which only an admin may read there (read only: no form).
#[tokio::test]
async fn the_risk_queue_shows_the_message_the_rules_in_words_and_the_chat_to_admins_only() {
    let app = TestApp::with_config(risky_config()).await;
    let (merchant, product) = app.merchant_with_product("risk_m").await;
    app.import(&merchant, product, "RK-0001\n").await;
    let (buyer, no) = delivered_order(&app, "risk_b", product).await;
    let said = "补单请加微信 kabao_888，先交 50 手续费";
    let res = app
        .api("POST", &format!("/api/v1/merchant/orders/{no}/messages"), Some(&merchant), Some(json!({"body": said})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, T0).await.unwrap().unwrap();
    let admin = app.token("admin", &password).await;

    // The API queue.
    let queue = app.api("GET", "/api/v1/admin/risk", Some(&admin), None).await.json();
    let event = &queue[0]["events"][0];
    assert_eq!(event["message"], said, "{queue}");
    assert_eq!(event["messages_url"], format!("/api/v1/admin/orders/{no}/messages"), "{event}");
    let wechat = kabao_core::risk::rule::describe("contact.wechat", Lang::Zh).unwrap();
    let texts = event["rule_texts"].as_array().unwrap();
    assert!(texts.iter().any(|t| t["rule"] == "contact.wechat" && t["description_zh"] == wechat), "{event}");
    assert!(texts.iter().all(|t| !t["description_en"].as_str().unwrap().is_empty()), "{event}");

    // The chat over the API: the admin reads it as written; nobody else may use the admin's door.
    let path = format!("/api/v1/admin/orders/{no}/messages");
    let res = app.api("GET", &path, Some(&admin), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()[0]["body"], said, "as written, not masked");
    let arbiter = user(&app, "risk_arb", Role::Arbiter).await;
    for (who, token) in [("buyer", &buyer), ("merchant", &merchant), ("arbiter", &arbiter)] {
        assert_eq!(app.api("GET", &path, Some(token), None).await.status, StatusCode::FORBIDDEN, "{who}");
    }
    assert_eq!(app.api("GET", &path, None, None).await.status, StatusCode::UNAUTHORIZED);
    let res = app.api("GET", "/api/v1/admin/orders/NO-SUCH-ORDER/messages", Some(&admin), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api("POST", &path, Some(&admin), Some(json!({"body": "x"}))).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // The pages: the queue with the message, the rules in words and the link; the read-only chat.
    let mut as_admin = app.browser();
    as_admin.login("admin", &password).await;
    let page = as_admin.get("/admin/trust").await;
    assert!(page.body.contains(&html(said)), "{}", page.body);
    assert!(page.body.contains(wechat) && !page.body.contains("contact.wechat"), "rules in words");
    let chat_href = format!("/admin/orders/{no}/chat");
    assert!(page.body.contains(&chat_href));
    let chat = as_admin.get(&chat_href).await;
    assert_eq!(chat.status, StatusCode::OK);
    assert!(chat.body.contains(&html(said)) && chat.body.contains("chat-read-only"));
    assert!(!chat.body.contains("chat-form"), "admins do not write in order chats");
    let mut as_merchant = app.browser();
    as_merchant.login("risk_m", "merchant-pass-1").await;
    let res = as_merchant.get(&chat_href).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!res.body.contains(&html(said)));
    assert_eq!(app.get(&chat_href).await.status, StatusCode::SEE_OTHER, "anonymous: to the login page");
}
