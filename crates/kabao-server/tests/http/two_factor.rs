//! Two-step verification over HTTP: enrolment on the page (secret, QR code, recovery codes shown once), the
//! two-step page login with a wrong code, a right one and a recovery code, the token API's `totp` field, forced
//! enrolment of admins and arbiters (pages redirect, the API answers 403), turning it off, and a pending login
//! that is useless to anyone else. Runs on SQLite and, when configured, PostgreSQL.

use crate::app::{TestApp, T0};
use axum::http::StatusCode;
use kabao_core::totp::{step_of, TotpSecret};
use kabao_core::user::Role;

const PASSWORD: &str = "lantern-quartz-58";

async fn user(app: &TestApp, name: &str, role: Role) {
    let email = format!("{name}@example.com");
    kabao_app::accounts::create_user(&*app.state.store, name, PASSWORD, role, Some(&email), T0).await.unwrap();
}

/// Waits for a background security notice to reach the memory mailer.
async fn mailed(app: &TestApp, to: &str, words: &str) -> bool {
    for _ in 0..100 {
        if app.mail.sent.lock().unwrap().iter().any(|m| m.to == to && m.text.contains(words)) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

/// The text of the element with this id (up to its closing tag).
fn by_id(body: &str, id: &str) -> String {
    let start = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap() + open;
    rest[open..close].trim().to_string()
}

/// The recovery codes a page shows once.
fn recovery_codes(body: &str) -> Vec<String> {
    let start = body.find("id=\"recovery-codes\"").unwrap_or_else(|| panic!("no recovery codes in {body}"));
    let list = &body[start..body[start..].find("</ul>").unwrap() + start];
    list.split("<li>").skip(1).map(|li| li.split("</li>").next().unwrap().trim().to_string()).collect()
}

/// Enrols a signed-in browser on the page, as a person would: read the key, compute the code, confirm. Returns
/// the secret and the recovery codes.
async fn enrol_on_page(app: &TestApp, b: &mut crate::app::Browser<'_>) -> (TotpSecret, Vec<String>) {
    let page = b.get("/account/2fa").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-store");
    let secret = TotpSecret::from_base32(&by_id(&page.body, "totp-secret")).unwrap();
    assert!(page.body.contains("otpauth://totp/Kabao:"), "an open-in-authenticator link");
    assert!(page.body.contains("<svg"), "a QR code rendered on the server");
    assert!(!page.body.contains("style="), "no inline style (CSP)");
    let csrf = b.csrf();
    let wrong = b.post("/account/2fa/confirm", &[("code", "000000")], Some(&csrf)).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert!(wrong.body.contains("验证码不正确"), "{}", wrong.body);
    let code = secret.code_for_step(step_of(app.now_s()) - 1);
    let done = b.post("/account/2fa/confirm", &[("code", &code)], Some(&csrf)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.headers.get("cache-control").unwrap(), "no-store");
    let codes = recovery_codes(&done.body);
    assert_eq!(codes.len(), 10);
    let again = b.get("/account/2fa").await;
    assert!(!again.body.contains(&codes[0]), "recovery codes are shown once");
    assert!(again.body.contains("id=\"totp-on\""));
    (secret, codes)
}

async fn page_login_on(app: TestApp) {
    user(&app, "tf_alice", Role::Merchant).await;
    let mut b = app.browser();
    b.login_password("tf_alice", PASSWORD).await;
    let security = b.get("/account/security").await;
    assert!(security.body.contains("id=\"two-factor-offer\""), "merchants are offered it");
    let (secret, codes) = enrol_on_page(&app, &mut b).await;
    assert!(mailed(&app, "tf_alice@example.com", "已开启两步验证").await);
    assert!(!b.get("/account/security").await.body.contains("id=\"two-factor-offer\""));

    // A right password alone starts no session: it leads to the code page.
    let mut b = app.browser();
    let res = b.login_password("tf_alice", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.location().starts_with("/login/2fa"), "{}", res.location());
    assert!(!b.cookies.contains_key("kabao_session"), "no session before the code");
    assert_eq!(b.get("/console").await.location(), "/login?next=/console");
    let form = b.get("/login/2fa").await;
    assert!(form.body.contains("tf_alice"), "{}", form.body);

    // A wrong code: refused with the reason, still no session.
    let csrf = b.csrf();
    let wrong = b.post("/login/2fa", &[("code", "123 456")], Some(&csrf)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("id=\"login-2fa-error\""), "{}", wrong.body);
    assert!(!b.cookies.contains_key("kabao_session"));

    // The right code: a session, and the pending login is spent.
    let code = secret.code_for_step(step_of(app.now_s()));
    let ok = b.post("/login/2fa", &[("code", &code)], Some(&csrf)).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/console");
    assert!(b.cookies.contains_key("kabao_session"));
    assert_eq!(b.get("/console").await.status, StatusCode::OK);

    // The same code again (another browser, right password): a replay, refused.
    let mut thief = app.browser();
    thief.login_password("tf_alice", PASSWORD).await;
    let csrf = thief.csrf();
    let replay = thief.post("/login/2fa", &[("code", &code)], Some(&csrf)).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);

    // A recovery code signs in once; the page says how many remain, and the account is mailed.
    let used = thief.post("/login/2fa", &[("code", &codes[0])], Some(&csrf)).await;
    assert_eq!(used.status, StatusCode::SEE_OTHER, "{}", used.body);
    assert!(used.location().starts_with("/account/2fa?done=recovery"), "{}", used.location());
    let page = thief.get(used.location()).await;
    assert!(page.body.contains("id=\"totp-notice\""), "the page says a recovery code was used");
    assert!(page.body.contains("剩余未使用的恢复码：<strong>9</strong>"), "{}", page.body);
    assert!(mailed(&app, "tf_alice@example.com", "恢复码").await);
    let mut again = app.browser();
    again.login_password("tf_alice", PASSWORD).await;
    let csrf = again.csrf();
    let reused = again.post("/login/2fa", &[("code", &codes[0])], Some(&csrf)).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "a recovery code works once");
}

#[tokio::test]
async fn page_login_of_an_enrolled_account_needs_a_code_and_takes_each_code_once() {
    page_login_on(TestApp::new().await).await;
}

#[tokio::test]
async fn page_login_of_an_enrolled_account_needs_a_code_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    page_login_on(app).await;
}

#[tokio::test]
async fn wrong_codes_count_in_the_login_throttle_and_the_pending_login_dies_at_five() {
    let app = TestApp::new().await;
    user(&app, "tf_bob", Role::Buyer).await;
    app.enrol_totp("tf_bob").await;
    let mut b = app.browser();
    b.login_password("tf_bob", PASSWORD).await;
    let csrf = b.csrf();
    for _ in 0..5 {
        let res = b.post("/login/2fa", &[("code", "000000")], Some(&csrf)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    }
    // The account is locked out by the login throttle, like five wrong passwords.
    let locked = app.browser().login_password("tf_bob", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
    app.clock.advance_seconds(120);
    // The pending login died at the fifth wrong code: even a right code now starts over at the password.
    let code = app.second_factor("tf_bob").unwrap();
    let dead = b.post("/login/2fa", &[("code", &code)], Some(&csrf)).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);
    assert!(dead.body.contains("id=\"login-form\""), "back to the password: {}", dead.body);
    assert!(!b.cookies.contains_key("kabao_session"));
}

#[tokio::test]
async fn another_users_pending_login_is_useless() {
    let app = TestApp::new().await;
    user(&app, "tf_carl", Role::Buyer).await;
    user(&app, "tf_dora", Role::Buyer).await;
    app.enrol_totp("tf_carl").await;
    app.enrol_totp("tf_dora").await;
    // Carl's pending login with Dora's valid code: refused, no session for anyone.
    let mut carl = app.browser();
    carl.login_password("tf_carl", PASSWORD).await;
    let csrf = carl.csrf();
    let doras_code = app.second_factor("tf_dora").unwrap();
    let res = carl.post("/login/2fa", &[("code", &doras_code)], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(!carl.cookies.contains_key("kabao_session"));
    // Without a pending login of one's own, the code page sends back to the password, whatever the code.
    let mut stranger = app.browser();
    stranger.get("/login").await;
    assert_eq!(stranger.get("/login/2fa").await.location(), "/login");
    let csrf = stranger.csrf();
    let code = app.second_factor("tf_carl").unwrap();
    let res = stranger.post("/login/2fa", &[("code", &code)], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(!stranger.cookies.contains_key("kabao_session"));
    // A forged challenge cookie does not help either.
    stranger.cookies.insert("kabao_login2fa".into(), "A".repeat(43));
    let res = stranger.post("/login/2fa", &[("code", &code)], Some(&csrf)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(!stranger.cookies.contains_key("kabao_session"));
}

#[tokio::test]
async fn the_token_api_asks_an_enrolled_account_for_its_code() {
    let app = TestApp::new().await;
    user(&app, "tf_erin", Role::Merchant).await;
    app.enrol_totp("tf_erin").await;
    let body = |totp: Option<&str>| {
        let mut b = serde_json::json!({"username": "tf_erin", "password": PASSWORD, "name": "sync"});
        if let Some(t) = totp {
            b["totp"] = serde_json::Value::String(t.into());
        }
        b
    };
    let missing = app.api("POST", "/api/v1/tokens", None, Some(body(None))).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json()["error"], "auth.totp_required");
    assert_eq!(missing.json()["field"], "totp");
    let wrong = app.api("POST", "/api/v1/tokens", None, Some(body(Some("000000")))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "auth.totp_invalid");
    let code = app.second_factor("tf_erin").unwrap();
    let created = app.api("POST", "/api/v1/tokens", None, Some(body(Some(&code)))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let replay = app.api("POST", "/api/v1/tokens", None, Some(body(Some(&code)))).await;
    assert_eq!(replay.json()["error"], "auth.totp_invalid", "a code is taken once");
    let recovery = app.totp.lock().unwrap().get("tf_erin").unwrap().recovery_codes[0].clone();
    let by_recovery = app.api("POST", "/api/v1/tokens", None, Some(body(Some(&recovery)))).await;
    assert_eq!(by_recovery.status, StatusCode::CREATED, "{}", by_recovery.body);
    // Wrong password with a right code is still a wrong password.
    let mut b = body(Some(&app.second_factor("tf_erin").unwrap()));
    b["password"] = "not-the-password-1".into();
    assert_eq!(app.api("POST", "/api/v1/tokens", None, Some(b)).await.json()["error"], "auth.invalid_credentials");
}

async fn forced_enrolment_on(app: TestApp) {
    user(&app, "tf_root", Role::Admin).await;
    // The API: no token for an admin without a second factor.
    let body = serde_json::json!({"username": "tf_root", "password": PASSWORD, "name": "ops"});
    let refused = app.api("POST", "/api/v1/tokens", None, Some(body)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.json()["error"], "auth.totp_enrolment_required");

    // A merchant's token made staff later: every call answers 403 until enrolment.
    user(&app, "tf_judge", Role::Merchant).await;
    let token = app.token("tf_judge", PASSWORD).await;
    {
        let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
        let judge = tx.user_by_username("tf_judge").await.unwrap().unwrap();
        tx.set_user_role(judge.id, Role::Arbiter).await.unwrap();
        tx.commit().await.unwrap();
    }
    let res = app.api("GET", "/api/v1/arbiter/disputes", Some(&token), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.json()["error"], "auth.totp_enrolment_required");
    assert!(res.json()["message"].as_str().unwrap().contains("两步验证"));

    // The pages: the password starts a session that reaches only enrolment (and logout, static files).
    let mut b = app.browser();
    let res = b.login_password("tf_root", PASSWORD).await;
    assert_eq!(res.location(), "/account/2fa");
    for path in ["/admin", "/", "/account/security", "/orders"] {
        let res = b.get(path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.location(), "/account/2fa", "{path}");
    }
    let csrf = b.csrf();
    let post = b.post("/admin/fund/contributions", &[("amount", "1")], Some(&csrf)).await;
    assert_eq!(post.location(), "/account/2fa", "forms too");
    let page = b.get("/account/2fa").await;
    assert!(page.body.contains("id=\"totp-required\""), "the reason, in Chinese");
    assert!(page.body.contains("必须先开启两步验证"));
    assert_eq!(b.get(kabao_server::pages::css_href()).await.status, StatusCode::OK, "static files load");
    let (_, _) = enrol_on_page(&app, &mut b).await;
    assert_eq!(b.get("/admin").await.status, StatusCode::OK, "enrolled: the admin page opens");
    let page = b.get("/account/2fa").await;
    assert!(page.body.contains("id=\"totp-staff-keeps\""), "no form to turn it off");
    // And turning it off anyway is refused.
    let csrf = b.csrf();
    let code = "000000";
    let off = b.post("/account/2fa/disable", &[("password", PASSWORD), ("code", code)], Some(&csrf)).await;
    assert_eq!(off.status, StatusCode::FORBIDDEN, "{}", off.body);
    assert!(off.body.contains("必须保持两步验证开启"), "{}", off.body);
    assert!(app.user("tf_root").await.unwrap().totp_enabled);
    // Logging out works from the gate too (checked above by reaching it); the new admin signs in in two steps.
    let mut fresh = app.browser();
    assert!(fresh.login_password("tf_root", PASSWORD).await.location().starts_with("/login/2fa"));
}

#[tokio::test]
async fn admins_and_arbiters_without_totp_reach_only_enrolment() {
    forced_enrolment_on(TestApp::new().await).await;
}

#[tokio::test]
async fn admins_and_arbiters_without_totp_reach_only_enrolment_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    forced_enrolment_on(app).await;
}

#[tokio::test]
async fn a_buyer_turns_totp_off_with_password_and_code_and_is_mailed() {
    let app = TestApp::new().await;
    user(&app, "tf_fay", Role::Buyer).await;
    let mut b = app.browser();
    b.login_password("tf_fay", PASSWORD).await;
    let (secret, _) = enrol_on_page(&app, &mut b).await;
    let csrf = b.csrf();
    let code = secret.code_for_step(step_of(app.now_s()));
    let wrong_password =
        b.post("/account/2fa/disable", &[("password", "not-the-password-1"), ("code", &code)], Some(&csrf)).await;
    assert_eq!(wrong_password.status, StatusCode::BAD_REQUEST, "{}", wrong_password.body);
    assert!(app.user("tf_fay").await.unwrap().totp_enabled);
    let renewed = b.post("/account/2fa/recovery-codes", &[("code", &code)], Some(&csrf)).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    assert_eq!(recovery_codes(&renewed.body).len(), 10);
    assert!(mailed(&app, "tf_fay@example.com", "恢复码已重新生成").await);
    let next = secret.code_for_step(step_of(app.now_s()) + 1);
    let off = b.post("/account/2fa/disable", &[("password", PASSWORD), ("code", &next)], Some(&csrf)).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    assert!(!app.user("tf_fay").await.unwrap().totp_enabled);
    assert!(mailed(&app, "tf_fay@example.com", "已关闭两步验证").await);
    // Signing in is one step again.
    let res = app.browser().login_password("tf_fay", PASSWORD).await;
    assert_eq!(res.location(), "/");
}
