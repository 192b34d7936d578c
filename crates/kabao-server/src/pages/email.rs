//! Email verification and password reset pages: `/account/email` (the address, verified or not, resend, change),
//! `/account/verify-email?token=…`, `/password/forgot` and `/password/reset?token=…`. A link that cannot be used
//! (unknown, used, expired) is a clear page that changes nothing.

use super::{render, see_other, with_status, Ctx, PageForm};
use crate::auth::Visitor;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kabao_app::email_links::{self, EmailLinkError};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Template)]
#[template(path = "account_email.html")]
struct AccountEmailPage {
    ctx: Ctx,
    email: Option<String>,
    verified: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    ctx: Ctx,
    sent: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    ctx: Ctx,
    token: String,
    username: String,
    error: Option<String>,
}

/// The end of a link: done, or why the link cannot be used.
#[derive(Template)]
#[template(path = "email_link.html")]
struct LinkPage {
    ctx: Ctx,
    ok: bool,
    title: String,
    message: String,
    /// Where to go next, and the words of the link.
    next: &'static str,
    next_words: String,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    sent: Option<String>,
    changed: Option<String>,
}

async fn account_page(
    state: &SharedState,
    v: &Visitor,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let Some(user) = &v.user else { return Ok(see_other("/login?next=/account/email")) };
    let status = email_links::email_status(state, user).await?;
    Ok(render(AccountEmailPage { ctx: Ctx::new(v), email: status.email, verified: status.verified, notice, error }))
}

pub async fn account(
    State(state): State<SharedState>,
    v: Visitor,
    ApiQuery(q): ApiQuery<AccountQuery>,
) -> Result<Response, ApiError> {
    let notice = if q.sent.is_some() {
        Some("email.sent")
    } else if q.changed.is_some() {
        Some("email.changed")
    } else {
        None
    };
    account_page(&state, &v, notice, None).await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /account/email`: a new address (the current password confirms it).
pub async fn change(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<ChangeForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let Some(user) = &v.user else { return Ok(see_other("/login?next=/account/email")) };
    match email_links::change_email(&state, user, &f.email, &f.password).await.map_err(ApiError::from) {
        Ok(_) => Ok(see_other("/account/email?changed=1")),
        Err(e) if super::shown_on_form(&e) => {
            let page = account_page(&state, &v, None, Some(e.message(v.lang).to_string())).await?;
            Ok(with_status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

/// `POST /account/email/resend`: another verification mail (throttled per account).
pub async fn resend(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let Some(user) = &v.user else { return Ok(see_other("/login?next=/account/email")) };
    match email_links::send_verification(&state, user).await.map_err(ApiError::from) {
        Ok(()) => Ok(see_other("/account/email?sent=1")),
        Err(e) if super::shown_on_form(&e) => {
            let page = account_page(&state, &v, None, Some(e.message(v.lang).to_string())).await?;
            let mut page = with_status(page, e.status);
            if let Some(s) = e.retry_after_s {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
            }
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// A link that cannot be used, as a page with the refusal's status; anything else is the error page.
fn link_refused(v: &Visitor, e: EmailLinkError, next: &'static str, next_key: &str) -> Result<Response, ApiError> {
    let e = ApiError::from(e);
    if !e.status.is_client_error() {
        return Err(e);
    }
    let ctx = Ctx::new(v);
    let page = LinkPage {
        title: ctx.t.get("email.link_title").into(),
        next_words: ctx.t.get(next_key).into(),
        ctx,
        ok: false,
        message: e.message(v.lang).to_string(),
        next,
    };
    Ok(with_status(render(page), e.status))
}

/// `GET /account/verify-email?token=…`: the link from the verification mail.
pub async fn verify(
    State(state): State<SharedState>,
    v: Visitor,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Result<Response, ApiError> {
    match email_links::verify_email(&state, &q.token).await {
        Ok(_) => {
            let ctx = Ctx::new(&v);
            Ok(render(LinkPage {
                title: ctx.t.get("email.verified_title").into(),
                message: ctx.t.get("email.verified_text").into(),
                next_words: ctx.t.get("email.to_account").into(),
                ctx,
                ok: true,
                next: "/account/email",
            }))
        }
        Err(e) => link_refused(&v, e, "/account/email", "email.to_account"),
    }
}

pub async fn forgot_form(v: Visitor) -> Response {
    render(ForgotPage { ctx: Ctx::new(&v), sent: false, error: None })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    who: String,
}

/// `POST /password/forgot`: the same answer, in the same time, whether or not an account exists.
pub async fn forgot(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<ForgotForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let ip = v.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    match email_links::request_reset(&state, ip, &f.who).await.map_err(ApiError::from) {
        Ok(()) => Ok(render(ForgotPage { ctx: Ctx::new(&v), sent: true, error: None })),
        Err(e) if super::shown_on_form(&e) => {
            let page =
                render(ForgotPage { ctx: Ctx::new(&v), sent: false, error: Some(e.message(v.lang).to_string()) });
            let mut page = with_status(page, e.status);
            if let Some(s) = e.retry_after_s {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
            }
            Ok(page)
        }
        Err(e) => Err(e),
    }
}

/// `GET /password/reset?token=…`: the form, if the link can still be used.
pub async fn reset_form(
    State(state): State<SharedState>,
    v: Visitor,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Result<Response, ApiError> {
    match email_links::reset_link_user(&state, &q.token).await {
        Ok(user) => Ok(render(ResetPage { ctx: Ctx::new(&v), token: q.token, username: user.username, error: None })),
        Err(e) => link_refused(&v, e, "/password/forgot", "password.ask_again"),
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

/// `POST /password/reset`: the new password; every session of the account ends.
pub async fn reset(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<ResetForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match email_links::reset_password(&state, &f.token, &f.password).await {
        Ok(_) => {
            let ctx = Ctx::new(&v);
            Ok(render(LinkPage {
                title: ctx.t.get("password.reset_done_title").into(),
                message: ctx.t.get("password.reset_done").into(),
                next_words: ctx.t.get("nav.login").into(),
                ctx,
                ok: true,
                next: "/login",
            }))
        }
        Err(EmailLinkError::Invalid(e)) => {
            let e = ApiError::from(EmailLinkError::Invalid(e));
            let username = match email_links::reset_link_user(&state, &f.token).await {
                Ok(u) => u.username,
                Err(other) => return link_refused(&v, other, "/password/forgot", "password.ask_again"),
            };
            let page = render(ResetPage {
                ctx: Ctx::new(&v),
                token: f.token,
                username,
                error: Some(e.message(v.lang).to_string()),
            });
            Ok(with_status(page, e.status))
        }
        Err(e) => link_refused(&v, e, "/password/forgot", "password.ask_again"),
    }
}
