//! Two-step verification pages: `/account/2fa` (enrol with a QR code, the base32 secret and an `otpauth://`
//! link; renew recovery codes; turn it off) and `/login/2fa` (the second step of a login, by TOTP code or
//! recovery code). Secrets and codes are shown with `Cache-Control: no-store`.

use super::{render, see_other, with_status, Ctx, PageForm};
use crate::auth::{Visitor, LOGIN_CHALLENGE_COOKIE};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_app::totp::Proof;
use kabao_store::User;
use serde::Deserialize;

/// A value percent-encoded for a query parameter.
pub(crate) fn query_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Pages that show a secret or codes are never kept by the browser or a proxy.
fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

// The error is the response itself (a redirect); boxing it would buy nothing on this cold path.
#[allow(clippy::result_large_err)]
fn signed_in(v: &Visitor) -> Result<User, Response> {
    v.user.clone().ok_or_else(|| see_other(&format!("/login?next={}", Ctx::new(v).path_encoded())))
}

/// The enrolment in progress, as the page shows it.
struct EnrolView {
    secret: String,
    otpauth_url: String,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "account_2fa.html")]
struct TwoFactorPage {
    ctx: Ctx,
    /// An admin or arbiter who must enrol before anything else.
    required: bool,
    /// Staff cannot turn it off.
    staff: bool,
    enabled: bool,
    recovery_left: i64,
    enrol: Option<EnrolView>,
    /// Recovery codes to show once (just made).
    codes: Vec<String>,
    error: Option<String>,
    notice: Option<String>,
    /// Where to go on after a sign-in with a recovery code.
    next: String,
}

#[derive(Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// The page for `user`: the enrolment (started if need be) while TOTP is off, else its state and forms.
async fn page(
    state: &SharedState,
    v: &Visitor,
    user: &User,
    codes: Vec<String>,
    error: Option<String>,
    notice: Option<String>,
    next: String,
) -> Result<Response, ApiError> {
    let status = kabao_app::totp::status(state, user).await?;
    let enrol = if status.enabled {
        None
    } else {
        let e = kabao_app::totp::begin_enrolment(state, user).await?;
        let qr_svg = super::orders::qr_svg(&e.otpauth_url).unwrap_or_default();
        Some(EnrolView { secret: e.secret_grouped.to_string(), otpauth_url: e.otpauth_url.to_string(), qr_svg })
    };
    let page = TwoFactorPage {
        ctx: Ctx::new(v),
        required: kabao_app::totp::needs_enrolment(user),
        staff: kabao_app::totp::required_for(user.role),
        enabled: status.enabled,
        recovery_left: status.recovery_codes_left,
        enrol,
        codes,
        error,
        notice,
        next,
    };
    Ok(no_store(render(page)))
}

pub async fn show(
    State(state): State<SharedState>,
    v: Visitor,
    ApiQuery(q): ApiQuery<ShowQuery>,
) -> Result<Response, ApiError> {
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let notice = match q.done.as_deref() {
        Some("off") => Some(v.lang.pick("两步验证已关闭。", "Two-step verification is off.").to_string()),
        Some("recovery") => Some(
            v.lang
                .pick(
                    "你刚才使用了一枚恢复码登录，它已作废。恢复码用完前请重新生成。",
                    "You signed in with a recovery code; it no longer works. Renew the codes before they run out.",
                )
                .to_string(),
        ),
        _ => None,
    };
    let next = super::account::safe_next(q.next.as_deref());
    page(&state, &v, &user, Vec::new(), None, notice, next).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Shows the page again with the refusal (and its status), or the error page for anything else.
async fn again(state: &SharedState, v: &Visitor, user: &User, e: ApiError) -> Result<Response, ApiError> {
    if !super::shown_on_form(&e) && e.status != StatusCode::FORBIDDEN {
        return Err(e);
    }
    // A wrong code on the account's own forms is bad input from a signed-in user, not a missing sign-in.
    let status = if e.status == StatusCode::UNAUTHORIZED { StatusCode::BAD_REQUEST } else { e.status };
    let res = page(state, v, user, Vec::new(), Some(e.message(v.lang).to_string()), None, String::new()).await?;
    let mut res = with_status(res, status);
    if let Some(s) = e.retry_after_s {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
    }
    Ok(res)
}

/// Completes enrolment with the first code; the recovery codes are shown once, on this response.
pub async fn confirm(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<CodeForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    match kabao_app::totp::confirm_enrolment(&state, &user, &f.code).await {
        Ok(codes) => {
            let user = User { totp_enabled: true, ..user };
            // The page's menu is the enrolled account's, not the gate's.
            let notice = Some(v.lang.pick("两步验证已开启。", "Two-step verification is on.").to_string());
            page(&state, &v, &user, codes, None, notice, String::new()).await
        }
        Err(e) => again(&state, &v, &user, e.into()).await,
    }
}

/// New recovery codes, confirmed by a current TOTP code; shown once.
pub async fn renew_codes(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<CodeForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    match kabao_app::totp::renew_recovery_codes(&state, &user, &f.code).await {
        Ok(codes) => {
            let notice = Some(
                v.lang
                    .pick("新的恢复码已生成，旧的全部失效。", "New recovery codes; the old ones no longer work.")
                    .to_string(),
            );
            page(&state, &v, &user, codes, None, notice, String::new()).await
        }
        Err(e) => again(&state, &v, &user, e.into()).await,
    }
}

/// Turns TOTP off with the password and a code (not for admins and arbiters).
pub async fn disable(
    State(state): State<SharedState>,
    v: Visitor,
    PageForm(f): PageForm<CodeForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let user = match signed_in(&v) {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    match kabao_app::totp::disable(&state, &user, &f.password, &f.code, v.ip).await {
        Ok(()) => Ok(see_other("/account/2fa?done=off")),
        Err(e) => again(&state, &v, &user, e.into()).await,
    }
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct CodePage {
    ctx: Ctx,
    username: String,
    error: Option<String>,
    next: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

/// The second step of a login: asks for the code while the pending login lives, else back to the login page.
pub async fn code_form(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<NextQuery>,
) -> Result<Response, ApiError> {
    let token = crate::auth::cookie(&headers, LOGIN_CHALLENGE_COOKIE).unwrap_or_default();
    let Some(user) = kabao_app::totp::challenge_user(&state, token).await? else {
        return Ok(see_other("/login"));
    };
    let next = super::account::safe_next(q.next.as_deref());
    Ok(render(CodePage { ctx: Ctx::new(&v), username: user.username, error: None, next }))
}

/// Checks the code; on success the session starts (a fresh id) and the pending login is spent.
pub async fn code(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    PageForm(f): PageForm<CodeForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let token = crate::auth::cookie(&headers, LOGIN_CHALLENGE_COOKIE).unwrap_or_default().to_string();
    let next = super::account::safe_next(Some(&f.next));
    let gone = crate::auth::set_cookie(LOGIN_CHALLENGE_COOKIE, "", Some(0), true, "Lax", state.config.secure_cookies);
    match kabao_app::totp::finish_login(&state, &token, &f.code, v.ip).await {
        Ok((user, proof)) => {
            let session = crate::auth::start_session_from(&state, &user, &headers, v.ip).await?;
            let to = match proof {
                Proof::RecoveryCode { .. } => {
                    format!("/account/2fa?done=recovery&next={}", query_encode(&next))
                }
                Proof::Totp if next.is_empty() => super::account::home_of(user.role).to_string(),
                Proof::Totp => next,
            };
            let mut res = see_other(&to);
            res.headers_mut().append(SET_COOKIE, session);
            res.headers_mut().append(SET_COOKIE, gone);
            Ok(res)
        }
        Err(kabao_app::totp::TotpError::ChallengeExpired) => {
            let e = ApiError::from(kabao_app::totp::TotpError::ChallengeExpired);
            let page = super::account::login_page(&v, Some(e.message(v.lang).to_string()), next);
            Ok(([(SET_COOKIE, gone)], with_status(page, e.status)).into_response())
        }
        Err(e) => {
            let e = ApiError::from(e);
            if !super::shown_on_form(&e) && e.status != StatusCode::UNAUTHORIZED {
                return Err(e);
            }
            let username =
                kabao_app::totp::challenge_user(&state, &token).await?.map(|u| u.username).unwrap_or_default();
            let mut page = with_status(
                render(CodePage { ctx: Ctx::new(&v), username, error: Some(e.message(v.lang).to_string()), next }),
                e.status,
            );
            if let Some(s) = e.retry_after_s {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
            }
            Ok(page)
        }
    }
}
