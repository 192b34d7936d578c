//! `/api/v1/tokens`: create (with username and password), list and revoke API tokens.

use super::views::{TokenCreate, TokenCreated, TokenView};
use super::ApiJson;
use crate::auth::{ApiUser, ClientIp};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use kabao_core::ApiTokenId;

/// Create an API token. An account with two-step verification on also gives `totp` (a current code or a
/// recovery code): without it the answer is 401 `auth.totp_required`, with a wrong one 401 `auth.totp_invalid`.
/// Admins and arbiters without two-step verification are refused (403 `auth.totp_enrolment_required`) until they
/// set it up on the page. Login failures, wrong codes included, count towards the same throttle as the login page.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = TokenCreate, tag = "tokens",
    responses((status = 201, body = TokenCreated), (status = 400, description = "bad token name"),
        (status = 401, description = "wrong credentials, or the TOTP code missing (auth.totp_required) or wrong (auth.totp_invalid)"),
        (status = 403, description = "an admin or arbiter without two-step verification (auth.totp_enrolment_required)"),
        (status = 429, description = "too many failures")))]
pub async fn create(
    State(state): State<SharedState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<TokenCreate>,
) -> Result<(StatusCode, ApiJson<TokenCreated>), ApiError> {
    let (user, _) =
        kabao_app::totp::login_with_code(&state, &body.username, &body.password, body.totp.as_deref(), ip).await?;
    let t = kabao_app::sessions::create_api_token(&state, &user, &body.name).await?;
    Ok((StatusCode::CREATED, ApiJson(TokenCreated { id: t.id.0, token: t.token, name: t.name })))
}

/// The caller's tokens, newest first (revoked ones included).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), responses((status = 200, body = [TokenView])))]
pub async fn list(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
) -> Result<ApiJson<Vec<TokenView>>, ApiError> {
    Ok(ApiJson(kabao_app::sessions::api_tokens(&state, &user).await?.iter().map(TokenView::from).collect()))
}

/// Revoke one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, description = "no such live token of yours")))]
pub async fn revoke(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    kabao_app::sessions::revoke_api_token(&state, &user, ApiTokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
