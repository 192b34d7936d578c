//! The account's doors in the JSON API: "forgot password" and the reset link, and the caller's browser sessions.
//! Both backends for the link's story; the same rules as the pages (delay, single use, policy, ownership).

use crate::app::{TestApp, T0};
use axum::http::StatusCode;
use serde_json::json;

async fn user_with_verified_email(app: &TestApp, username: &str, email: &str) {
    let user = kabao_app::accounts::create_user(
        &*app.state.store,
        username,
        "lantern-quartz-58",
        kabao_core::user::Role::Buyer,
        Some(email),
        T0,
    )
    .await
    .unwrap();
    let mut tx = app.state.store.begin(kabao_store::TxMode::Write).await.unwrap();
    tx.set_email_verified(user.id, email, T0).await.unwrap();
    tx.commit().await.unwrap();
}

/// The token of the newest reset link mailed to `to`, once the background mail has arrived.
async fn reset_token(app: &TestApp, to: &str, seen: usize) -> String {
    for _ in 0..200 {
        let links: Vec<String> = app
            .mail
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to == to && m.text.contains("/password/reset?token="))
            .map(|m| m.text.clone())
            .collect();
        if links.len() > seen {
            let text = links.last().unwrap();
            let token = text.split("/password/reset?token=").nth(1).unwrap();
            return token.split(|c: char| c.is_whitespace()).next().unwrap().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no reset mail to {to}");
}

async fn forgot(app: &TestApp, body: serde_json::Value) -> crate::app::Res {
    app.api("POST", "/api/v1/password/forgot", None, Some(body)).await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> crate::app::Res {
    app.api("POST", "/api/v1/password/reset", None, Some(json!({"token": token, "password": password}))).await
}

fn error_of(res: &crate::app::Res) -> (StatusCode, String, String) {
    let j = res.json();
    (res.status, j["error"].as_str().unwrap_or("").to_string(), j["field"].as_str().unwrap_or("").to_string())
}

async fn reset_by_api_story(app: TestApp) {
    user_with_verified_email(&app, "api_reset", "api_reset@example.com").await;

    // The same answer, in at least the same time, for an account and for nobody.
    let floor = std::time::Duration::from_millis(kabao_app::email_links::RESET_ANSWER_MS);
    for login in ["api_reset", "nobody_at_all", "nobody@example.com"] {
        let started = std::time::Instant::now();
        let res = forgot(&app, json!({"login": login})).await;
        assert_eq!((res.status, res.body.as_str()), (StatusCode::ACCEPTED, ""), "{login}");
        assert!(started.elapsed() >= floor, "{login} answered before the floor");
    }
    let token = reset_token(&app, "api_reset@example.com", 0).await;
    assert_eq!(app.mail.sent.lock().unwrap().len(), 1, "only the account got a mail");

    // Refusals that change nothing, each naming its field.
    let long = "x".repeat(255);
    assert_eq!(error_of(&forgot(&app, json!({"login": long})).await).2, "login");
    assert_eq!(forgot(&app, json!({"who": "api_reset"})).await.status, StatusCode::BAD_REQUEST);
    let weak = reset(&app, &token, "password123").await;
    assert_eq!((weak.status, error_of(&weak).2.as_str()), (StatusCode::BAD_REQUEST, "password"), "{}", weak.body);
    let en = app
        .send(
            axum::http::Request::post("/api/v1/password/reset")
                .header("content-type", "application/json")
                .header("accept-language", "en")
                .body(axum::body::Body::from(json!({"token": token, "password": "api_reset"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(en.status, StatusCode::BAD_REQUEST);
    assert!(en.json()["message"].as_str().is_some_and(|m| m.is_ascii() && !m.is_empty()), "{}", en.body);
    let random = reset(&app, &"A".repeat(43), "violet tractor harbour 88").await;
    assert_eq!(error_of(&random), (StatusCode::BAD_REQUEST, "link.invalid".into(), "token".into()));
    assert_eq!(error_of(&reset(&app, "", "violet tractor harbour 88").await).2, "token");

    // The link works once.
    let done = reset(&app, &token, "violet tractor harbour 88").await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    app.token("api_reset", "violet tractor harbour 88").await;
    let again = reset(&app, &token, "another sturdy phrase 42").await;
    assert_eq!(error_of(&again).0, StatusCode::GONE);
    assert_eq!(error_of(&again).1, "link.used");
    app.token("api_reset", "violet tractor harbour 88").await;

    // A link past its time is gone too.
    app.clock.advance_seconds(2 * 3600); // a fresh throttle window
    assert_eq!(forgot(&app, json!({"login": "api_reset@example.com"})).await.status, StatusCode::ACCEPTED);
    let late = reset_token(&app, "api_reset@example.com", 1).await;
    app.clock.advance_seconds(app.state.config.reset_link_seconds + 1);
    let expired = reset(&app, &late, "another sturdy phrase 42").await;
    assert_eq!((expired.status, error_of(&expired).1.as_str()), (StatusCode::GONE, "link.expired"));
}

#[tokio::test]
async fn sqlite_a_password_is_reset_through_the_api_by_a_single_use_link() {
    reset_by_api_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_a_password_is_reset_through_the_api_by_a_single_use_link() {
    if let Some(app) = TestApp::postgres().await {
        reset_by_api_story(app).await;
    }
}

#[tokio::test]
async fn forgot_by_api_shares_the_pages_per_address_throttle() {
    let app = TestApp::new().await;
    for _ in 0..kabao_app::email_links::RESETS_PER_IP {
        assert_eq!(forgot(&app, json!({"login": "someone"})).await.status, StatusCode::ACCEPTED);
    }
    let res = forgot(&app, json!({"login": "someone"})).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.headers.get("retry-after").is_some());
    // The page counts against the same budget.
    let mut b = app.browser();
    b.get("/password/forgot").await;
    let csrf = b.csrf();
    let page = b.post("/password/forgot", &[("who", "someone")], Some(&csrf)).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_api_lists_and_ends_the_callers_browser_sessions_only() {
    let app = TestApp::new().await;
    user_with_verified_email(&app, "api_sessions", "api_sessions@example.com").await;
    user_with_verified_email(&app, "api_sessions_other", "other@example.com").await;
    let mut phone = app.browser();
    let mut laptop = app.browser();
    phone.login("api_sessions", "lantern-quartz-58").await;
    laptop.login("api_sessions", "lantern-quartz-58").await;
    let cookies = [phone.cookies["kabao_session"].clone(), laptop.cookies["kabao_session"].clone()];
    let token = app.token("api_sessions", "lantern-quartz-58").await;
    let other = app.token("api_sessions_other", "lantern-quartz-58").await;

    assert_eq!(app.api("GET", "/api/v1/account/sessions", None, None).await.status, StatusCode::UNAUTHORIZED);
    let list = app.api("GET", "/api/v1/account/sessions", Some(&token), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let sessions = list.json().as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{}", list.body);
    for c in &cookies {
        assert!(!list.body.contains(c.as_str()), "no cookie value in the list");
    }
    let ids: Vec<String> = sessions.iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.iter().all(|id| id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit())));
    let phone_id = kabao_app::sessions::session_id(
        &kabao_app::sessions::live_sessions(&app.state, &{
            let mut tx = app.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
            tx.user_by_username("api_sessions").await.unwrap().unwrap()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|s| kabao_app::sessions::is_session_of(s, &cookies[0]))
        .unwrap(),
    );
    assert!(ids.contains(&phone_id));
    assert_eq!(
        app.api("GET", "/api/v1/account/sessions", Some(&other), None).await.json(),
        json!([]),
        "another user sees only their own"
    );

    // Another user cannot end it; the owner can, and that browser is signed out.
    let path = format!("/api/v1/account/sessions/{phone_id}");
    let theirs = app.api("DELETE", &path, Some(&other), None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(phone.get("/account/sessions").await.status, StatusCode::OK, "still signed in");
    assert_eq!(app.api("DELETE", &path, Some(&token), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.api("DELETE", &path, Some(&token), None).await.status, StatusCode::NOT_FOUND, "once");
    assert!(phone.get("/account/sessions").await.status.is_redirection(), "signed out");
    let garbage = app.api("DELETE", "/api/v1/account/sessions/not-hex", Some(&token), None).await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);

    // Sign out everywhere: the browsers end, the API token stays; the account is mailed.
    let all = app.api("POST", "/api/v1/account/sessions/end-all", Some(&token), None).await;
    assert_eq!((all.status, all.json()["ended"].as_u64()), (StatusCode::OK, Some(1)), "{}", all.body);
    assert!(laptop.get("/account/sessions").await.status.is_redirection());
    assert_eq!(app.api("GET", "/api/v1/account/sessions", Some(&token), None).await.json(), json!([]));
    let mut mailed = false;
    for _ in 0..200 {
        if app.mail.sent.lock().unwrap().iter().any(|m| m.to == "api_sessions@example.com" && m.text.contains("退出"))
        {
            mailed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(mailed, "sign out everywhere is mailed");
}
