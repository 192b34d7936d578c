//! The pages: registration and login with CSRF and session cookies, the merchant console, escaping, 404s.

use crate::app::TestApp;
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
    let big = "X".repeat(kabao_server::inventory::MAX_UPLOAD_BYTES + 10);
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
    let (_, password) = kabao_server::accounts::ensure_admin(&*app.state.store, crate::app::T0).await.unwrap().unwrap();
    let mut b = app.browser();
    b.get("/login").await;
    let csrf = b.csrf();
    let res = b.post("/login", &[("username", "admin"), ("password", &password)], Some(&csrf)).await;
    assert_eq!(res.location(), "/admin");
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
