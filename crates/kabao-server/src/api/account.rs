//! The account's own doors in the API: "forgot password" and the reset link (`/api/v1/password/…`, no token: the
//! emailed link is the credential), and the caller's browser sessions (`/api/v1/account/sessions`). The same use
//! cases as the pages (`kabao_app::email_links`, `kabao_app::sessions`): the same delay, throttles and policy.

use super::ApiJson;
use crate::auth::{ApiUser, ClientIp};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use utoipa::ToSchema;

/// The longest `login` accepted (an email address's limit).
const LOGIN_MAX_CHARS: usize = 254;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotInput {
    /// A username or an email address.
    #[schema(max_length = 254)]
    pub login: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    /// The `token` of the mailed link (`/password/reset?token=…`).
    pub token: String,
    /// The new password: the registration policy (at least 10 characters, not guessable, not the user name or
    /// address).
    pub password: String,
}

/// Ask for a password reset link. Always 202, in at least the same time, whether or not an account exists: an
/// account whose address is verified gets a link valid 30 minutes. Throttled per client address (429).
#[utoipa::path(post, path = "/api/v1/password/forgot", tag = "account", request_body = ForgotInput,
    responses((status = 202, description = "if an account with a verified address matches, a link is on its way"),
        (status = 400, description = "login too long"),
        (status = 429, description = "too many requests from this address")))]
pub async fn forgot(
    State(state): State<SharedState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ForgotInput>,
) -> Result<StatusCode, ApiError> {
    if body.login.chars().count() > LOGIN_MAX_CHARS {
        return Err(ApiError::bad_request(
            "account.login_too_long",
            "login",
            format!("用户名或邮箱最多 {LOGIN_MAX_CHARS} 个字符"),
            format!("The username or address is at most {LOGIN_MAX_CHARS} characters"),
        ));
    }
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    kabao_app::email_links::request_reset(&state, ip, &body.login).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with a mailed reset link. Every browser session of the account ends and the account is
/// mailed a notice; API tokens stay valid.
#[utoipa::path(post, path = "/api/v1/password/reset", tag = "account", request_body = ResetInput,
    responses((status = 204, description = "the password is changed"),
        (status = 400, description = "no such link (`token`) or a password the policy refuses (`password`)"),
        (status = 410, description = "the link was used already or has expired")))]
pub async fn reset(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<ResetInput>,
) -> Result<StatusCode, ApiError> {
    kabao_app::email_links::reset_password(&state, &body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A browser session of the caller: where and when it began and was last used. Never its cookie value.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The session's public id (the hex SHA-256 of its cookie; the cookie cannot be derived from it).
    pub id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// The client address when it began, if known.
    pub ip: Option<String>,
    /// The browser's `User-Agent` when it began, if sent.
    pub user_agent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    /// How many browser sessions ended.
    pub ended: u64,
}

/// The caller's live browser sessions, most recently used first (API tokens are listed at `/api/v1/tokens`).
#[utoipa::path(get, path = "/api/v1/account/sessions", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = [SessionView])))]
pub async fn sessions(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
) -> Result<ApiJson<Vec<SessionView>>, ApiError> {
    let live = kabao_app::sessions::live_sessions(&state, &user).await?;
    Ok(ApiJson(
        live.iter()
            .map(|s| SessionView {
                id: kabao_app::sessions::session_id(s),
                created_at: s.created_at.millis(),
                last_seen_at: s.last_seen_at.millis(),
                expires_at: s.expires_at.millis(),
                ip: s.ip.clone(),
                user_agent: s.user_agent.clone(),
            })
            .collect(),
    ))
}

/// Sign out one of the caller's browser sessions.
#[utoipa::path(delete, path = "/api/v1/account/sessions/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = String, Path, description = "a session id from the list")),
    responses((status = 204), (status = 404, description = "no such live session of yours")))]
pub async fn end_session(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    kabao_app::sessions::end_user_session(&state, &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere: every browser session of the caller ends (API tokens stay valid; revoke them one by
/// one). The account is mailed a notice.
#[utoipa::path(post, path = "/api/v1/account/sessions/end-all", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = SessionsEnded)))]
pub async fn end_all(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
) -> Result<ApiJson<SessionsEnded>, ApiError> {
    let ended = kabao_app::sessions::sign_out_everywhere(&state, &user).await?;
    Ok(ApiJson(SessionsEnded { ended }))
}
