//! The account's own security pages: change the password (`/account/security`, needs the current one) and the
//! live sessions (`/account/sessions`: where each signed in, last seen, sign one out or all of them).

use super::{datetime, render, see_other, Ctx, PageForm};
use crate::auth::{Visitor, SESSION_COOKIE};
use crate::error::ApiError;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kabao_store::User;
use serde::Deserialize;

/// The logged-in user of a page, or the redirect to the login page.
// The error is the response itself (a redirect); boxing it would buy nothing on this cold path.
#[allow(clippy::result_large_err)]
fn signed_in(v: &Visitor) -> Result<User, Response> {
    v.user.clone().ok_or_else(|| see_other(&format!("/login?next={}", Ctx::new(v).path_encoded())))
}

#[derive(Template)]
#[template(path = "account_security.html")]
struct SecurityPage {
    ctx: Ctx,
    error: Option<String>,
    done: bool,
    /// TOTP is on (else the page offers it).
    totp_enabled: bool,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

pub async fn show(v: Visitor, crate::extract::ApiQuery(q): crate::extract::ApiQuery<DoneQuery>) -> Response {
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return r,
    };
    render(SecurityPage { ctx: Ctx::new(&v), error: None, done: q.done.is_some(), totp_enabled: user.totp_enabled })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Changes the password; every session ends and this browser gets a fresh one.
pub async fn change_password(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    PageForm(f): PageForm<PasswordForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let changed = kabao_app::accounts::change_password(&state, &user, &f.current_password, &f.new_password, v.ip).await;
    match changed.map_err(ApiError::from) {
        Ok(()) => {
            let cookie = crate::auth::start_session_from(&state, &user, &headers, v.ip).await?;
            Ok(([(SET_COOKIE, cookie)], see_other("/account/security?done=password")).into_response())
        }
        Err(e) if super::shown_on_form(&e) => {
            let page = render(SecurityPage {
                ctx: Ctx::new(&v),
                error: Some(e.message(v.lang).to_string()),
                done: false,
                totp_enabled: user.totp_enabled,
            });
            let mut page = super::with_status(page, e.status);
            if let Some(s) = e.retry_after_s {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
            }
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

struct SessionRow {
    id: String,
    current: bool,
    created_at: String,
    last_seen_at: String,
    ip: String,
    device: String,
}

#[derive(Template)]
#[template(path = "account_sessions.html")]
struct SessionsPage {
    ctx: Ctx,
    sessions: Vec<SessionRow>,
}

/// A `User-Agent` shortened to what a person recognises: the browser and the system, else its first 40
/// characters.
pub fn short_user_agent(ua: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("MicroMessenger", "微信 WeChat"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| name);
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

pub async fn sessions(State(state): State<SharedState>, v: Visitor, headers: HeaderMap) -> Result<Response, ApiError> {
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let mine = crate::auth::cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    let unknown = v.lang.pick("未知", "unknown");
    let sessions = kabao_app::sessions::live_sessions(&state, &user)
        .await?
        .iter()
        .map(|s| SessionRow {
            id: kabao_app::sessions::session_id(s),
            current: kabao_app::sessions::is_session_of(s, mine),
            created_at: datetime(s.created_at),
            last_seen_at: datetime(s.last_seen_at),
            ip: s.ip.clone().unwrap_or_else(|| unknown.to_string()),
            device: s.user_agent.as_deref().map(short_user_agent).unwrap_or_else(|| unknown.to_string()),
        })
        .collect();
    Ok(render(SessionsPage { ctx: Ctx::new(&v), sessions }))
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    id: String,
}

/// Signs one session out (ending the current one is a logout).
pub async fn end_one(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<EndForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    kabao_app::sessions::end_user_session(&state, &user, &f.id).await?;
    Ok(see_other("/account/sessions"))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

/// Signs out everywhere, this browser included; API tokens stay (the console revokes them).
pub async fn end_all(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    kabao_app::sessions::sign_out_everywhere(&state, &user).await?;
    let gone = crate::auth::set_cookie(SESSION_COOKIE, "", Some(0), true, "Lax", state.config.secure_cookies);
    Ok(([(SET_COOKIE, gone)], see_other("/?signed_out=everywhere")).into_response())
}

#[cfg(test)]
mod tests {
    use super::short_user_agent;

    #[test]
    fn user_agents_are_shortened_to_browser_and_system() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 \
                      Mobile/15E148 Safari/604.1";
        assert_eq!(short_user_agent(iphone), "Safari · iPhone");
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(short_user_agent(chrome), "Chrome · Linux");
        assert_eq!(short_user_agent("curl/8.5.0"), "curl");
        assert_eq!(short_user_agent(&"x".repeat(100)).len(), 40);
    }
}
