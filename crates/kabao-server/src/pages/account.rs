//! Register, log in, log out.

use super::{render, see_other, Ctx, PageForm};
use crate::auth::Visitor;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kabao_core::user::Role;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    ctx: Ctx,
    error: Option<String>,
    username: String,
    email: String,
    role: String,
    /// The sign-up challenge the form's script solves; `None` when this address may not sign up now.
    pow: Option<kabao_core::pow::Challenge>,
}

/// The register page with a fresh challenge, or with the throttle's refusal (429) instead of the form.
async fn register_page(
    state: &SharedState,
    v: &Visitor,
    error: Option<ApiError>,
    username: String,
    email: String,
    role: String,
) -> Response {
    let (pow, refusal) = match kabao_app::signup::challenge(state, v.ip).await.map_err(ApiError::from) {
        Ok(c) => (Some(c), error),
        Err(e) => (None, Some(e)),
    };
    let status = refusal.as_ref().map(|e| e.status);
    let retry_after = refusal.as_ref().and_then(|e| e.retry_after_s);
    let mut page = render(RegisterPage {
        ctx: Ctx::new(v),
        error: refusal.map(|e| e.message(v.lang).to_string()),
        username,
        email,
        role,
        pow,
    });
    if let Some(s) = status {
        *page.status_mut() = s;
    }
    if let Some(s) = retry_after {
        page.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
    }
    page
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    error: Option<String>,
    username: String,
    next: String,
}

pub async fn register_form(State(state): State<SharedState>, v: Visitor) -> Response {
    register_page(&state, &v, None, String::new(), String::new(), "buyer".into()).await
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    pow_challenge: String,
    #[serde(default)]
    pow_nonce: String,
}

/// Where a user lands after logging in.
pub(crate) fn home_of(role: Role) -> &'static str {
    match role {
        Role::Merchant => "/console",
        Role::Admin => "/admin",
        Role::Buyer | Role::Arbiter => "/",
    }
}

pub async fn register(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    PageForm(f): PageForm<RegisterForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let email = Some(f.email.as_str()).filter(|e| !e.trim().is_empty());
    let registered = kabao_app::signup::register_with_proof(
        &state,
        v.ip,
        &f.pow_challenge,
        &f.pow_nonce,
        &f.username,
        &f.password,
        &f.role,
        email,
    )
    .await;
    match registered.map_err(ApiError::from) {
        Ok(user) => {
            let cookie = crate::auth::start_session_from(&state, &user, &headers, v.ip).await?;
            Ok(([(SET_COOKIE, cookie)], see_other(home_of(user.role))).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            Ok(register_page(&state, &v, Some(e), f.username, f.email, f.role).await)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only local paths may be returned to after login (no open redirect).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or("").to_string()
}

pub async fn login_form(v: Visitor, ApiQuery(q): ApiQuery<NextQuery>) -> Response {
    login_page(&v, None, safe_next(q.next.as_deref()))
}

/// The login page with an empty form (and a message, when a login had to start over).
pub(crate) fn login_page(v: &Visitor, error: Option<String>, next: String) -> Response {
    render(LoginPage { ctx: Ctx::new(v), error, username: String::new(), next })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    PageForm(f): PageForm<LoginForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match kabao_app::accounts::authenticate(&state, &f.username, &f.password, v.ip).await.map_err(ApiError::from) {
        Ok(user) if user.totp_enabled => {
            // The password was right; the session waits for the second factor on the code page.
            let token = kabao_app::totp::start_login_challenge(&state, &user).await?;
            let cookie = crate::auth::set_cookie(
                crate::auth::LOGIN_CHALLENGE_COOKIE,
                &token,
                Some(kabao_app::totp::LOGIN_CHALLENGE_SECONDS),
                true,
                "Lax",
                state.config.secure_cookies,
            );
            let next = safe_next(Some(&f.next));
            let to = if next.is_empty() {
                "/login/2fa".to_string()
            } else {
                format!("/login/2fa?next={}", super::two_factor::query_encode(&next))
            };
            Ok(([(SET_COOKIE, cookie)], see_other(&to)).into_response())
        }
        Ok(user) => {
            let cookie = crate::auth::start_session_from(&state, &user, &headers, v.ip).await?;
            let next = safe_next(Some(&f.next));
            let to = if kabao_app::totp::needs_enrolment(&user) {
                "/account/2fa".to_string()
            } else if next.is_empty() {
                home_of(user.role).to_string()
            } else {
                next
            };
            Ok(([(SET_COOKIE, cookie)], see_other(&to)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let mut page = render(LoginPage {
                ctx: Ctx::new(&v),
                error: Some(e.message(v.lang).to_string()),
                username: f.username,
                next: safe_next(Some(&f.next)),
            });
            *page.status_mut() = e.status;
            if let Some(s) = e.retry_after_s {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
            }
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    pub csrf: Option<String>,
}

pub async fn logout(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    PageForm(f): PageForm<CsrfOnly>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let cookie = crate::auth::end_session(&state, &headers).await?;
    Ok(([(SET_COOKIE, cookie)], see_other("/")).into_response())
}
