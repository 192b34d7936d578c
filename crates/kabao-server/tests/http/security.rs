//! Account security (issue 21): password strength, the second factor, the sign-up throttle and the sessions page.

use crate::app::TestApp;
use axum::http::StatusCode;

async fn register_with(b: &mut crate::app::Browser<'_>, username: &str, password: &str) -> crate::app::Res {
    b.register_with(username, password, "buyer").await
}

#[tokio::test]
async fn weak_password_is_refused_with_the_reason_and_creates_nothing() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let res = register_with(&mut b, "weak_pw", "password123").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("密码太容易被猜到：这是一个非常常见的密码"), "{}", res.body);
    let res = register_with(&mut b, "weak_pw", "abc123").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("密码至少需要 10 个字符"), "{}", res.body);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    assert!(tx.user_by_username("weak_pw").await.unwrap().is_none());
}

#[tokio::test]
async fn password_equal_to_the_username_is_refused() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let res = register_with(&mut b, "Violet-Tractor-88", "violet-tractor-88").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("密码不能与用户名相同"), "{}", res.body);
}

/// Waits for the background security notice to reach the memory mailer.
async fn mailed(app: &TestApp, to: &str, words: &str) -> bool {
    for _ in 0..100 {
        if app.mail.sent.lock().unwrap().iter().any(|m| m.to == to && m.text.contains(words)) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

async fn user_with_email(app: &TestApp, username: &str, email: &str) {
    kabao_app::accounts::create_user(
        &*app.state.store,
        username,
        "lantern-quartz-58",
        kabao_core::user::Role::Buyer,
        Some(email),
        crate::app::T0,
    )
    .await
    .unwrap();
}

async fn password_change_and_sessions_on(app: TestApp) {
    user_with_email(&app, "sec_user", "sec_user@example.com").await;
    let mut phone = app.browser();
    let mut laptop = app.browser();
    phone.login("sec_user", "lantern-quartz-58").await;
    laptop.login("sec_user", "lantern-quartz-58").await;

    // The sessions page lists both, marks this one, and signs out the other one.
    let page = laptop.get("/account/sessions").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body.matches("class=\"session").count(), 2, "{}", page.body);
    assert_eq!(page.body.matches("id=\"current-session\"").count(), 1);
    let other = page
        .body
        .split("class=\"session\" id=\"session-")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the other session's row")
        .to_string();
    let csrf = laptop.csrf();
    let res = laptop.post("/account/sessions/end", &[("id", &other)], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(phone.get("/account/sessions").await.location().starts_with("/login"), "the phone was signed out");
    let res = laptop.post("/account/sessions/end", &[("id", &other)], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "already ended");

    // Another user cannot end this user's session by its id.
    let mut stranger = app.browser();
    user_with_email(&app, "sec_other", "sec_other@example.com").await;
    stranger.login("sec_other", "lantern-quartz-58").await;
    let page = laptop.get("/account/sessions").await;
    let mine = page.body.split("id=\"session-").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
    let csrf = stranger.csrf();
    assert_eq!(
        stranger.post("/account/sessions/end", &[("id", &mine)], Some(&csrf)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(laptop.get("/account/sessions").await.status, StatusCode::OK);

    // Changing the password needs the current one, refuses a weak one with the reason, and is mailed.
    let csrf = laptop.csrf();
    let res = laptop
        .post(
            "/account/security/password",
            &[("current_password", "wrong-password-1"), ("new_password", "orchid-meteor-7731")],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("当前密码不正确"), "{}", res.body);
    let res = laptop
        .post(
            "/account/security/password",
            &[("current_password", "lantern-quartz-58"), ("new_password", "password1234")],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("密码太容易被猜到"), "{}", res.body);
    phone.login("sec_user", "lantern-quartz-58").await;
    let res = laptop
        .post(
            "/account/security/password",
            &[("current_password", "lantern-quartz-58"), ("new_password", "orchid-meteor-7731")],
            Some(&csrf),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(mailed(&app, "sec_user@example.com", "你的登录密码已修改").await);
    assert!(phone.get("/account/sessions").await.location().starts_with("/login"), "other sessions end");
    assert_eq!(laptop.get("/account/security").await.status, StatusCode::OK, "this browser stays signed in");
    assert_eq!(phone.login("sec_user", "lantern-quartz-58").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(phone.login("sec_user", "orchid-meteor-7731").await.status, StatusCode::SEE_OTHER);

    // Sign out everywhere ends every session, this one included, and is mailed.
    let csrf = laptop.csrf();
    let res = laptop.post("/account/sessions/end-all", &[], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(mailed(&app, "sec_user@example.com", "你的账号已在所有设备上退出登录").await);
    for b in [&mut phone, &mut laptop] {
        assert!(b.get("/account/sessions").await.location().starts_with("/login"));
    }
    assert_eq!(stranger.get("/account/sessions").await.status, StatusCode::OK, "other users are untouched");
}

#[tokio::test]
async fn password_change_and_sign_out_everywhere_are_mailed() {
    password_change_and_sessions_on(TestApp::new().await).await;
}

#[tokio::test]
async fn password_change_and_sign_out_everywhere_are_mailed_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        password_change_and_sessions_on(app).await;
    }
}

#[tokio::test]
async fn security_pages_need_a_login() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for path in ["/account/security", "/account/sessions"] {
        let res = b.get(path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert!(res.location().starts_with("/login?next="), "{path}");
    }
}

fn difficulty_of(page: &str) -> u8 {
    page.split("data-pow-difficulty=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().parse().unwrap()
}

#[tokio::test]
async fn sign_up_needs_a_fresh_solved_challenge_harder_each_time_and_stops_at_the_cap() {
    let config = kabao_server::ServerConfig {
        signup_pow_base_bits: 4,
        signup_pow_step_bits: 2,
        signups_per_ip_per_hour: 3,
        ..kabao_server::ServerConfig::default()
    };
    let app = TestApp::with_config(config).await;
    let mut b = app.browser();
    let page = b.get("/register").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<script src=\"/static/pow.js\" defer></script>"), "{}", page.body);
    assert!(page.body.contains("为防止批量注册"), "the form says what happens, in Chinese");
    assert_eq!(difficulty_of(&page.body), 4);
    let (challenge, nonce) = crate::app::solve_register_page(&page.body);
    let csrf = b.csrf();
    let post = |name: &'static str, c: String, n: String| {
        let fields = vec![
            ("username", name.to_string()),
            ("password", "correct horse battery".to_string()),
            ("role", "buyer".to_string()),
            ("pow_challenge", c),
            ("pow_nonce", n),
        ];
        fields
    };
    // Without an answer, or with a wrong one: refused, nothing created.
    let wrong = (0..)
        .map(|n: u32| n.to_string())
        .find(|n| kabao_core::pow::leading_zero_bits(&kabao_core::pow::digest(&challenge, n)) < 4)
        .unwrap();
    for (c, n) in [(String::new(), String::new()), (challenge.clone(), wrong)] {
        let f = post("pow_a", c, n);
        let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = b.post("/register", &fields, Some(&csrf)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
        assert!(res.body.contains("安全计算没有完成或结果不对"), "{}", res.body);
    }
    // Solved: signed up.
    let f = post("pow_a", challenge.clone(), nonce.clone());
    let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post("/register", &fields, Some(&csrf)).await.status, StatusCode::SEE_OTHER);
    // The same answer again (another name, another browser): refused as used.
    let mut again = app.browser();
    again.get("/register").await;
    let csrf2 = again.csrf();
    let f = post("pow_b", challenge, nonce);
    let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = again.post("/register", &fields, Some(&csrf2)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("已经用过"), "{}", res.body);
    // Each sign-up from the address makes the next challenge harder.
    let page = again.get("/register").await;
    assert_eq!(difficulty_of(&page.body), 6);
    assert_eq!(again.register("pow_b", "buyer").await.status, StatusCode::SEE_OTHER);
    let mut third = app.browser();
    let page = third.get("/register").await;
    assert_eq!(difficulty_of(&page.body), 8);
    let held = crate::app::solve_register_page(&page.body);
    assert_eq!(third.register("pow_c", "buyer").await.status, StatusCode::SEE_OTHER);
    // The cap: the page says so with 429 and no form, and a challenge fetched earlier no longer helps.
    let mut fourth = app.browser();
    let page = fourth.get("/register").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers.contains_key("retry-after"));
    assert!(page.body.contains("注册的账号太多了"), "{}", page.body);
    assert!(!page.body.contains("id=\"register-form\""));
    let csrf4 = fourth.csrf();
    let f = post("pow_d", held.0, held.1);
    let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(fourth.post("/register", &fields, Some(&csrf4)).await.status, StatusCode::TOO_MANY_REQUESTS);
    let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
    assert!(tx.user_by_username("pow_d").await.unwrap().is_none());
    drop(tx);
    // An hour later the address may sign up again, at the base difficulty.
    app.clock.advance_seconds(3601);
    let page = fourth.get("/register").await;
    assert_eq!((page.status, difficulty_of(&page.body)), (StatusCode::OK, 4));
    assert_eq!(fourth.register("pow_d", "buyer").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_solver_is_served_as_a_script_file() {
    let app = TestApp::new().await;
    let res = app.get("/static/pow.js").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(res.body.contains("pow_nonce"));
}
