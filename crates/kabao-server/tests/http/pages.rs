//! The pages: registration and login with CSRF and session cookies, the merchant console, escaping, 404s.

use crate::app::TestApp;
use crate::app::T0;
use axum::http::StatusCode;
use kabao_server::ServerConfig;

#[tokio::test]
async fn register_logs_in_with_a_hardened_session_cookie() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let res = b.register("page_merchant", "merchant").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/console");
    let cookie = res.set_cookies().into_iter().find(|c| c.starts_with("kabao_session=")).unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
    let console = b.get("/console").await;
    assert_eq!(console.status, StatusCode::OK);
    assert!(console.body.contains("id=\"shop-form\""));
    // Logging out ends the server-side session: the old cookie no longer works.
    let old = b.cookies.get("kabao_session").cloned().unwrap();
    let csrf = b.csrf();
    assert_eq!(b.post("/logout", &[], Some(&csrf)).await.status, StatusCode::SEE_OTHER);
    b.cookies.insert("kabao_session".into(), old);
    let res = b.get("/console").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.location().starts_with("/login"));
}

#[tokio::test]
async fn secure_flag_is_set_behind_https() {
    let app = TestApp::with_config(ServerConfig { secure_cookies: true, ..ServerConfig::default() }).await;
    let mut b = app.browser();
    let res = b.register("secure_buyer", "buyer").await;
    let cookie = res.set_cookies().into_iter().find(|c| c.starts_with("kabao_session=")).unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn missing_or_wrong_csrf_is_403_and_creates_nothing() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    b.get("/register").await;
    for token in [None, Some("not-the-token")] {
        let res = b
            .post(
                "/register",
                &[("username", "csrf_victim"), ("password", "correct horse battery"), ("role", "buyer")],
                token,
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(res.body.contains("CSRF"), "the page says why");
    }
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    assert!(tx.user_by_username("csrf_victim").await.unwrap().is_none());
    drop(tx);

    // A logged-in merchant's forms are protected the same way.
    b.register("csrf_merchant", "merchant").await;
    let res = b.post("/console/shop", &[("name", "偷偷开的店")], None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = b.get("/console").await;
    assert!(res.body.contains("id=\"shop-form\""), "no shop was opened");
}

#[tokio::test]
async fn wrong_password_shows_the_error_in_chinese() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    b.register("pw_user", "buyer").await;
    let csrf = b.csrf();
    let res = b.post("/login", &[("username", "pw_user"), ("password", "wrong password")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("用户名或密码错误"));
    assert!(res.body.contains("value=\"pw_user\""), "the username is kept");
}

#[tokio::test]
async fn merchant_console_flow_with_import_report_and_escaping() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    b.register("console_m", "merchant").await;
    let csrf = b.csrf();
    let res = b
        .post("/console/shop", &[("name", "<script>alert(1)</script>店"), ("description", "<b>hi</b>")], Some(&csrf))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let console = b.get("/console").await.body;
    assert!(!console.contains("<script>alert(1)</script>"), "shop name must be escaped");
    assert!(console.contains("&#60;script&#62;alert(1)"), "escaped, still readable");

    let res = b
        .post(
            "/console/products",
            &[
                ("title", "测试卡"),
                ("category", "game_card"),
                ("kind", "standard"),
                ("price", "abc"),
                ("max_per_order", "5"),
                ("listed", "on"),
            ],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("金额格式错误"), "price error shown in place");
    let res = b
        .post(
            "/console/products",
            &[
                ("title", "测试卡"),
                ("category", "game_card"),
                ("kind", "standard"),
                ("price", "9.90"),
                ("max_per_order", "5"),
                ("listed", "on"),
            ],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let product_path = res.location().to_string();
    let id: i64 = product_path.trim_start_matches("/console/products/").parse().unwrap();

    let res = b.upload(&format!("/console/products/{id}/keys"), &csrf, "AAA-1\nBBB-2\n----x\nAAA-1\n".as_bytes()).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("class=\"report-accepted-count\">2<"), "{}", res.body);
    assert!(res.body.contains("第 3 行：缺少卡号"));
    assert!(res.body.contains("第 4 行：重复（与第 1 行相同）"));
    assert!(res.body.contains("id=\"stock-available\">2<"));
    assert_eq!(app.stock(id).await, 2);

    // Without the CSRF field, the upload changes nothing.
    let res = b.upload(&format!("/console/products/{id}/keys"), "", b"CCC-3\n").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.stock(id).await, 2);
    // Too big: a clear page, nothing imported.
    let big = "X".repeat(kabao_app::inventory::MAX_UPLOAD_BYTES + 10);
    let res = b.upload(&format!("/console/products/{id}/keys"), &csrf, big.as_bytes()).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body.contains("文件过大"));
    assert_eq!(app.stock(id).await, 2);

    // The public page shows the stock and no key.
    let page = app.get(&format!("/p/{id}")).await;
    assert!(page.body.contains("id=\"stock-count\">2<"));
    assert!(!page.body.contains("AAA-1"));
}

#[tokio::test]
async fn another_merchant_cannot_see_or_import_into_a_product_through_pages() {
    let app = TestApp::new().await;
    let (owner, product) = app.merchant_with_product("page_owner").await;
    app.import(&owner, product, "SECRET-OWNER-KEY\n").await;
    let mut b = app.browser();
    b.register("page_intruder", "merchant").await;
    let csrf = b.csrf();
    let res = b.get(&format!("/console/products/{product}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.body.contains("SECRET-OWNER-KEY"));
    let res = b.upload(&format!("/console/products/{product}/keys"), &csrf, b"EVIL\n").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.stock(product).await, 1);
    let res = b
        .post(
            &format!("/console/products/{product}"),
            &[
                ("title", "hijacked"),
                ("category", "game_card"),
                ("kind", "standard"),
                ("price", "1"),
                ("max_per_order", "1"),
            ],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn buyers_are_kept_out_of_console_and_admin() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    b.register("plain_buyer", "buyer").await;
    assert_eq!(b.get("/console").await.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/admin").await.status, StatusCode::FORBIDDEN);
    let mut anon = app.browser();
    assert_eq!(anon.get("/admin").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn admin_pages_set_certification() {
    let app = TestApp::new().await;
    app.merchant_with_product("cert_shop").await;
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, crate::app::T0).await.unwrap().unwrap();
    let mut b = app.browser();
    // The admin signs in with the second factor (the harness enrols them, as forced enrolment requires).
    let res = b.login("admin", &password).await;
    assert_eq!(res.location(), "/admin");
    let csrf = b.csrf();
    let page = b.get("/admin").await;
    assert!(page.body.contains("cert_shop 的店"));
    let res = b.post("/admin/shops/1/certification", &[("level", "gold")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(app.get("/s/1").await.body.contains("金牌卖家"));
    let res = b.post("/admin/shops/1/certification", &[("level", "gold")], None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_pages_are_a_bilingual_404() {
    let app = TestApp::new().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.body.contains("找不到该页面"));
    let res = app.get("/p/424242").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.body.contains("<html"), "a page, not JSON");
}

#[tokio::test]
async fn language_switch_sets_a_cookie_and_refuses_open_redirects() {
    let app = TestApp::new().await;
    let res = app.get("/lang/en?next=/p/1").await;
    assert_eq!(res.location(), "/p/1");
    assert!(res.set_cookies().iter().any(|c| c.starts_with("lang=en")));
    let res = app.get("/lang/en?next=//evil.example").await;
    assert_eq!(res.location(), "/");
}

#[tokio::test]
async fn the_stylesheet_is_embedded_versioned_and_cached_long() {
    let app = TestApp::new().await;
    let home = app.get("/").await.body;
    let href = home.split("rel=\"stylesheet\" href=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
    assert!(href.starts_with("/static/app.css?v="), "{href}");
    let css = app.get(href).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.headers["cache-control"].to_str().unwrap().contains("max-age=31536000"));
    assert!(home.contains("name=\"viewport\" content=\"width=device-width"), "usable on a phone");
}

#[tokio::test]
async fn malformed_ids_and_wrong_methods_get_a_page_not_plain_text() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for (path, status) in [("/p/abc", StatusCode::NOT_FOUND), ("/s/99999999999999999999", StatusCode::NOT_FOUND)] {
        let res = b.get(path).await;
        assert_eq!(res.status, status, "{path}");
        assert!(res.body.starts_with("<!doctype html>") && res.body.contains("找不到"), "{path}: {}", res.body);
    }
    let csrf = b.csrf();
    let res = b.post("/", &[], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.body.starts_with("<!doctype html>") && res.body.contains("不支持此请求方法"), "{}", res.body);

    // The import form posted as a plain form (no multipart boundary) is a page with the reason.
    let (_, product) = app.merchant_with_product("shape_page_m").await;
    let mut m = app.browser();
    m.login("shape_page_m", "merchant-pass-1").await;
    let csrf = m.csrf();
    let res = m.post(&format!("/console/products/{product}/keys"), &[("file", "KEY-1")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.starts_with("<!doctype html>") && res.body.contains("上传内容无法读取"), "{}", res.body);
    assert_eq!(app.stock(product).await, 0);
}

/// Every form POST the pages accept, signed in as the role that may use it: without the CSRF field, or with
/// another token in it, each one is refused with 403 before it does anything. Add new forms here.
#[tokio::test]
async fn every_form_post_without_the_matching_csrf_token_is_403() {
    use kabao_core::user::Role;
    let app = TestApp::new().await;
    let (token, product) = app.merchant_with_product("csrf_all_m").await;
    let batch = app.import(&token, product, "KEY-A\nKEY-B\n").await.json()["batch_id"].as_i64().unwrap();
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&token), None).await.json()["id"].as_i64().unwrap();
    let token_id = app.api("GET", "/api/v1/tokens", Some(&token), None).await.json()[0]["id"].as_i64().unwrap();
    kabao_app::accounts::create_user(&*app.state.store, "csrf_all_a", "admin-pass-12", Role::Admin, None, T0)
        .await
        .unwrap();
    let mut merchant = app.browser();
    assert_eq!(merchant.login("csrf_all_m", "merchant-pass-1").await.status, StatusCode::SEE_OTHER);
    let mut admin = app.browser();
    assert_eq!(admin.login("csrf_all_a", "admin-pass-12").await.status, StatusCode::SEE_OTHER);
    let mut buyer = app.browser();
    buyer.register("csrf_all_b", "buyer").await;

    let as_merchant = [
        "/console/shop".to_string(),
        "/console/products".into(),
        format!("/console/products/{product}"),
        format!("/console/batches/{batch}/void"),
        format!("/console/products/{product}/shared"),
        format!("/console/products/{product}/custom"),
        format!("/console/products/{product}/warranty"),
        format!("/console/products/{product}/warranty/build"),
        "/console/orders/KB0000000000000000/deliver".into(),
        "/console/tokens".into(),
        format!("/console/tokens/{token_id}/revoke"),
        "/console/withdrawals".into(),
        "/console/finance/payees".into(),
        "/console/finance/payees/1/delete".into(),
        "/console/claims/CL0000000000000000000000AA/decision".into(),
        "/console/claims/CL0000000000000000000000AA/statements".into(),
        "/console/claims/CL0000000000000000000000AA/evidence".into(),
        "/console/fund/join".into(),
        "/console/reviews/1/reply".into(),
        "/console/certification".into(),
        "/console/orders/KB0000000000000000/chat".into(),
        "/logout".into(),
    ];
    let as_admin = [
        "/admin/users/1/role".to_string(),
        format!("/admin/shops/{shop}/certification"),
        format!("/admin/shops/{shop}/suspension"),
        "/admin/withdrawals/1/approve".into(),
        "/admin/withdrawals/1/reject".into(),
        "/admin/fund/contributions".into(),
        "/admin/certifications/1/decision".into(),
        format!("/admin/risk/{shop}/review"),
    ];
    let as_buyer = [
        "/register".to_string(),
        "/login".into(),
        format!("/p/{product}/buy"),
        "/o/KB0000000000000000/reveal".into(),
        "/o/KB0000000000000000/pay/wallet".into(),
        "/o/KB0000000000000000/pay/sandbox".into(),
        "/o/KB0000000000000000/pay/epay".into(),
        "/pay/sandbox/T0000".into(),
        "/orders/lookup".into(),
        "/wallet/top-up".into(),
        "/o/KB0000000000000000/claims".into(),
        "/o/KB0000000000000000/claims/CL0000000000000000000000AA/evidence".into(),
        "/o/KB0000000000000000/claims/CL0000000000000000000000AA/escalate".into(),
        "/o/KB0000000000000000/claims/CL0000000000000000000000AA/statements".into(),
        "/o/KB0000000000000000/review".into(),
        "/o/KB0000000000000000/messages".into(),
        "/account/security/password".into(),
        "/account/sessions/end".into(),
        "/account/sessions/end-all".into(),
    ];
    kabao_app::accounts::create_user(&*app.state.store, "csrf_all_r", "arbiter-pass-12", Role::Arbiter, None, T0)
        .await
        .unwrap();
    let mut arbiter = app.browser();
    assert_eq!(arbiter.login("csrf_all_r", "arbiter-pass-12").await.status, StatusCode::SEE_OTHER);
    let as_arbiter = [
        "/arbiter/disputes/CL0000000000000000000000AA/ruling".to_string(),
        "/arbiter/disputes/CL0000000000000000000000AA/statements".into(),
        "/arbiter/orders/KB0000000000000000/chat".into(),
    ];
    let forged = kabao_server::auth::random_token();
    for (b, paths) in [
        (&mut merchant, &as_merchant[..]),
        (&mut admin, &as_admin[..]),
        (&mut buyer, &as_buyer[..]),
        (&mut arbiter, &as_arbiter[..]),
    ] {
        for path in paths {
            for token in [None, Some(forged.as_str())] {
                let res = b.post(path, &[("name", "x"), ("level", "gold"), ("suspended", "true")], token).await;
                assert_eq!(res.status, StatusCode::FORBIDDEN, "POST {path} with {token:?}: {}", res.body);
                assert!(res.body.contains("CSRF"), "POST {path}: the page says why");
            }
        }
    }
    let res = merchant.upload(&format!("/console/products/{product}/keys"), &forged, b"KEY-C\n").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Nothing changed: same stock, batch still live, token still works, shop still uncertified and open.
    assert_eq!(app.stock(product).await, 2);
    let res = app.api("GET", &format!("/api/v1/shops/{shop}"), Some(&token), None).await.json();
    assert_eq!(res["certification"], "none", "{res}");
    assert_eq!(res["suspended"], false, "{res}");
    assert_eq!(merchant.get("/console").await.status, StatusCode::OK, "the merchant is still logged in");
}

#[tokio::test]
async fn unlisted_products_are_seen_only_by_their_owner() {
    let app = TestApp::new().await;
    let (token, product) = app.merchant_with_product("hide_m").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&token), None).await.json()["id"].as_i64().unwrap();
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/products/{product}"),
            Some(&token),
            Some(serde_json::json!({"title": "点卡 10 元", "category": "game_card", "kind": "standard",
                "price_fen": 990, "max_per_order": 5, "listed": false})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["listed"], false);

    let mut anonymous = app.browser();
    let mut buyer = app.browser();
    buyer.register("hide_b", "buyer").await;
    for b in [&mut anonymous, &mut buyer] {
        assert_eq!(b.get(&format!("/p/{product}")).await.status, StatusCode::NOT_FOUND);
        assert!(!b.get("/").await.body.contains("点卡 10 元"));
        assert!(!b.get(&format!("/s/{shop}")).await.body.contains("点卡 10 元"));
    }
    assert_eq!(app.get(&format!("/api/v1/products/{product}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/products").await.json().as_array().map(Vec::len), Some(0));

    let mut owner = app.browser();
    owner.login("hide_m", "merchant-pass-1").await;
    let res = owner.get(&format!("/p/{product}")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("点卡 10 元"));
}

/// 人工交付 through the pages: the merchant sets the fields, a buyer fills them in the buy box, the merchant
/// sees the answers in the delivery queue and delivers; the buyer reads the delivery on the order page.
#[tokio::test]
async fn custom_goods_are_bought_and_delivered_through_the_pages() {
    let app = TestApp::new().await;
    let token = app.merchant_token("page_tailor").await;
    app.api("POST", "/api/v1/merchant/shop", Some(&token), Some(serde_json::json!({"name": "代练工作室"}))).await;
    let product = app
        .api(
            "POST",
            "/api/v1/merchant/products",
            Some(&token),
            Some(serde_json::json!({"title": "代练 1 小时", "category": "custom", "kind": "custom", "price_fen": 800, "max_per_order": 1})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let mut merchant = app.browser();
    merchant.login("page_tailor", "merchant-pass-1").await;
    merchant.get(&format!("/console/products/{product}")).await;
    let csrf = merchant.csrf();
    let path = format!("/console/products/{product}/custom");
    let res = merchant
        .post(&path, &[("fields", "角色名\n角色名"), ("delivery_hours", "12"), ("stock", "5")], Some(&csrf))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("字段名「角色名」重复"), "{}", res.body);
    let res = merchant
        .post(&path, &[("fields", "角色名\n服务器"), ("delivery_hours", "12"), ("stock", "5")], Some(&csrf))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // The buy box asks for both fields and says how long delivery may take.
    let mut guest = app.browser();
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(page.body.contains("角色名") && page.body.contains("name=\"custom_1\""), "{}", page.body);
    assert!(page.body.contains("12 小时内人工发货"), "{}", page.body);
    let csrf = guest.csrf();
    let buy = |name: &'static str| {
        vec![
            ("quantity", "1"),
            ("guest_email", "guest@example.com"),
            ("warranty_ack", "on"),
            ("first_order_confirmed", "on"),
            ("custom_0", name),
            ("custom_1", ""),
        ]
    };
    let res = guest.post(&format!("/p/{product}/buy"), &buy("<b>剑圣</b>"), Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("请填写「服务器」"), "{}", res.body);
    let mut fields = buy("<b>剑圣</b>");
    fields[5] = ("custom_1", "艾欧尼亚");
    let res = guest.post(&format!("/p/{product}/buy"), &fields, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let order_page = res.location().to_string();
    let no = order_page.trim_start_matches("/o/").to_string();
    {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
        let o = tx.order_by_no(&no).await.unwrap().unwrap();
        kabao_app::orders::apply_payment(&app.state, &mut *tx, &o, kabao_app::orders::PaymentSource::Gateway(0))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let page = guest.get(&order_page).await;
    assert!(page.body.contains("艾欧尼亚") && page.body.contains("&#60;b&#62;剑圣"), "escaped: {}", page.body);
    assert!(page.body.contains("id=\"delivery-deadline\""), "{}", page.body);

    let queue = merchant.get("/console/deliveries").await;
    assert!(queue.body.contains(&no) && queue.body.contains("&#60;b&#62;剑圣"), "{}", queue.body);
    let csrf = merchant.csrf();
    let res = merchant.post(&format!("/console/orders/{no}/deliver"), &[("text", "")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = merchant
        .post(&format!("/console/orders/{no}/deliver"), &[("text", "已完成代练，段位：黄金")], Some(&csrf))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(merchant.get("/console/deliveries").await.body.contains("id=\"no-deliveries\""));

    let csrf = guest.csrf();
    let page = guest.post(&format!("/o/{no}/reveal"), &[], Some(&csrf)).await;
    assert!(page.body.contains("已完成代练，段位：黄金"), "{}", page.body);
}

/// The merchant picks rules in the console; the buyer accepts them in the buy box and finds them on the order.
#[tokio::test]
async fn warranty_rules_from_the_console_reach_the_buy_box_and_the_order_page() {
    let app = TestApp::new().await;
    let (token, product) = app.merchant_with_product("page_warranty").await;
    app.import(&token, product, "PW-1\nPW-2\n").await;
    let mut merchant = app.browser();
    merchant.login("page_warranty", "merchant-pass-1").await;
    let page = merchant.get(&format!("/console/products/{product}")).await;
    assert!(page.body.contains("value=\"license_key_7d\""), "templates offered: {}", page.body);
    let csrf = merchant.csrf();
    let path = format!("/console/products/{product}/warranty");
    let res = merchant.post(&path, &[("template", "bogus")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("没有这个规则模板"), "{}", res.body);
    let res = merchant.post(&path, &[("template", "license_key_7d")], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(merchant.get(&format!("/console/products/{product}")).await.body.contains("v1"));

    // Field by field: an incoherent combination is refused with the reason and changes nothing.
    let build = format!("/console/products/{product}/warranty/build");
    let mut fields = vec![
        ("covered_invalid_key", "on"),
        ("evidence_screenshot", "on"),
        ("window", "48"),
        ("window_unit", "hours"),
        ("remedy", "refund_only"),
        ("max_reissues", "0"),
        ("auto_reissue", "on"),
        ("response_hours", "6"),
    ];
    let res = merchant.post(&build, &fields, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("不能与「仅退款」同时选择"), "{}", res.body);
    assert!(merchant.get(&format!("/console/products/{product}")).await.body.contains("v1"), "still v1");
    fields.retain(|(k, _)| *k != "auto_reissue");
    let res = merchant.post(&build, &fields, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = merchant.get(&format!("/console/products/{product}")).await;
    assert!(page.body.contains("v2") && page.body.contains("发货后 48 小时内"), "{}", page.body);
    // Back to a template for the buyer's part below.
    merchant.post(&path, &[("template", "license_key_7d")], Some(&csrf)).await;

    let mut guest = app.browser();
    let page = guest.get(&format!("/p/{product}")).await;
    assert!(page.body.contains("7 天质保期内") && page.body.contains("我已阅读并接受以上补单规则"), "{}", page.body);
    let sha =
        page.body.split("name=\"warranty_sha256\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let csrf = guest.csrf();
    let buy = [
        ("quantity", "1"),
        ("guest_email", "g@example.com"),
        ("warranty_ack", "on"),
        ("warranty_sha256", sha.as_str()),
        ("first_order_confirmed", "on"),
    ];
    let res = guest.post(&format!("/p/{product}/buy"), &buy, Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let order = guest.get(res.location()).await;
    assert!(order.body.contains("id=\"order-warranty\"") && order.body.contains("7 天质保期内"), "{}", order.body);
    assert!(order.body.contains(&sha), "the order shows the hash the buyer accepted");
}
