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
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    error: Option<String>,
    username: String,
    next: String,
}

pub async fn register_form(v: Visitor) -> Response {
    render(RegisterPage {
        ctx: Ctx::new(&v),
        error: None,
        username: String::new(),
        email: String::new(),
        role: "buyer".into(),
    })
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
}

/// Where a user lands after logging in.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::Merchant => "/console",
        Role::Admin => "/admin",
        Role::Buyer | Role::Arbiter => "/",
    }
}

pub async fn register(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<RegisterForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let email = Some(f.email.as_str()).filter(|e| !e.trim().is_empty());
    match kabao_app::accounts::register(&state, &f.username, &f.password, &f.role, email).await.map_err(ApiError::from)
    {
        Ok(user) => {
            let cookie = crate::auth::start_session(&state, &user).await?;
            Ok(([(SET_COOKIE, cookie)], see_other(home_of(user.role))).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let mut page = render(RegisterPage {
                ctx: Ctx::new(&v),
                error: Some(e.message(v.lang).to_string()),
                username: f.username,
                email: f.email,
                role: f.role,
            });
            *page.status_mut() = e.status;
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only local paths may be returned to after login (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or("").to_string()
}

pub async fn login_form(v: Visitor, ApiQuery(q): ApiQuery<NextQuery>) -> Response {
    render(LoginPage { ctx: Ctx::new(&v), error: None, username: String::new(), next: safe_next(q.next.as_deref()) })
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
    PageForm(f): PageForm<LoginForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match kabao_app::accounts::authenticate(&state, &f.username, &f.password, v.ip).await.map_err(ApiError::from) {
        Ok(user) => {
            let cookie = crate::auth::start_session(&state, &user).await?;
            let next = safe_next(Some(&f.next));
            let to = if next.is_empty() { home_of(user.role).to_string() } else { next };
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
