//! `/api/v1/admin/...`: users, roles, shop certification and suspension, security events, with an admin's token.

use super::views::{CertificationInput, Page, RoleInput, ShopView, SuspensionInput, UserView};
use super::ApiJson;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::SharedState;
use axum::extract::State;
use kabao_core::user::Role;
use kabao_core::{ShopId, UserId};

/// All users, newest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(Page), responses((status = 200, body = [UserView])))]
pub async fn list_users(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<ApiJson<Vec<UserView>>, ApiError> {
    user.require(Role::Admin)?;
    let (limit, offset) = page.bounds(100, 500)?;
    let users = kabao_app::admin::users(&state, limit, offset).await?;
    Ok(ApiJson(users.iter().map(UserView::from).collect()))
}

/// Change a user's role (their sessions end).
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/role", tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), request_body = RoleInput,
    responses((status = 200, body = UserView), (status = 400, description = "unknown role, or an admin demoting themself"), (status = 404, description = "no such user")))]
pub async fn set_role(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RoleInput>,
) -> Result<ApiJson<UserView>, ApiError> {
    let admin = user.require(Role::Admin)?;
    Ok(ApiJson(UserView::from(&kabao_app::shops::set_role(&state, &admin, UserId(id), &body.role).await?)))
}

/// All shops, suspended ones included.
#[utoipa::path(get, path = "/api/v1/admin/shops", tag = "admin", security(("bearer" = [])), params(Page), responses((status = 200, body = [ShopView])))]
pub async fn list_shops(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<ApiJson<Vec<ShopView>>, ApiError> {
    user.require(Role::Admin)?;
    let (limit, offset) = page.bounds(100, 500)?;
    let shops = kabao_app::admin::shops(&state, limit, offset).await?;
    Ok(ApiJson(shops.iter().map(ShopView::from).collect()))
}

/// Set a shop's certification level.
#[utoipa::path(put, path = "/api/v1/admin/shops/{id}/certification", tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), request_body = CertificationInput,
    responses((status = 200, body = ShopView), (status = 400, description = "unknown level"), (status = 404, description = "no such shop")))]
pub async fn set_certification(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CertificationInput>,
) -> Result<ApiJson<ShopView>, ApiError> {
    let admin = user.require(Role::Admin)?;
    Ok(ApiJson(ShopView::from(&kabao_app::shops::set_certification(&state, &admin, ShopId(id), &body.level).await?)))
}

/// Suspend (with a reason) or reinstate a shop. A suspended shop's products leave the catalog.
#[utoipa::path(put, path = "/api/v1/admin/shops/{id}/suspension", tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), request_body = SuspensionInput,
    responses((status = 200, body = ShopView), (status = 400, description = "reason missing"), (status = 404, description = "no such shop")))]
pub async fn set_suspension(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SuspensionInput>,
) -> Result<ApiJson<ShopView>, ApiError> {
    let admin = user.require(Role::Admin)?;
    Ok(ApiJson(ShopView::from(
        &kabao_app::shops::set_suspension(&state, &admin, ShopId(id), body.suspended, &body.reason).await?,
    )))
}

/// A security event: something refused or ignored that shows probing or a misbehaving gateway.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SecurityEventView {
    pub id: i64,
    /// e.g. `gateway.trade_no_reused`
    pub kind: String,
    /// What happened, in the request's language.
    pub message: String,
    /// The particulars (gateway, trade numbers, amount).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

/// Security events, newest first (admin only).
#[utoipa::path(get, path = "/api/v1/admin/security-events", tag = "admin", security(("bearer" = [])), params(Page),
    responses((status = 200, body = [SecurityEventView]), (status = 401, description = "no valid token"), (status = 403, description = "not an admin")))]
pub async fn security_events(
    State(state): State<SharedState>,
    user: ApiUser,
    headers: axum::http::HeaderMap,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<ApiJson<Vec<SecurityEventView>>, ApiError> {
    user.require(Role::Admin)?;
    let lang = crate::auth::request_lang(&headers);
    let (limit, offset) = (page.limit.unwrap_or(100).clamp(1, 500), page.offset.unwrap_or(0).max(0));
    let events = kabao_app::admin::security_events(&state, limit, offset).await?;
    Ok(ApiJson(
        events
            .iter()
            .map(|e| SecurityEventView {
                id: e.id,
                kind: e.kind.clone(),
                message: kabao_app::payments::describe_security_event(e, lang),
                detail: serde_json::from_str(&e.detail_json).unwrap_or_default(),
                created_at: e.created_at.millis(),
            })
            .collect(),
    ))
}

/// A reconciliation finding: what a gateway's record says that ours does not.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct FindingView {
    pub id: i64,
    pub gateway: String,
    /// Our trade number.
    pub trade_no: String,
    pub gateway_trade_no: Option<String>,
    /// `amount_mismatch`, `unknown_trade` (paid here, unknown, unpaid or closed at the gateway) or
    /// `applied_late` (paid at the gateway, found by a query and applied).
    pub kind: String,
    /// `error` (needs someone to act) or `info`.
    pub severity: String,
    /// The kind in the request's language.
    pub message: String,
    pub expected_fen: i64,
    pub got_fen: Option<i64>,
    /// The payment's business day, China time (UTC+8), `YYYY-MM-DD`.
    pub business_date: String,
    pub detail: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// Findings with an id below this (the next page); absent: from the newest.
    pub before: Option<i64>,
}

/// Open reconciliation findings, newest first, 50 a page (admin only).
#[utoipa::path(get, path = "/api/v1/admin/reconciliation/findings", tag = "admin", security(("bearer" = [])), params(FindingsQuery),
    responses((status = 200, body = [FindingView]), (status = 401, description = "no valid token"), (status = 403, description = "not an admin")))]
pub async fn findings(
    State(state): State<SharedState>,
    user: ApiUser,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<FindingsQuery>,
) -> Result<ApiJson<Vec<FindingView>>, ApiError> {
    let admin = user.require(Role::Admin)?;
    let lang = crate::auth::request_lang(&headers);
    let found = kabao_app::reconcile::open_findings(&state, &admin, q.before).await?;
    Ok(ApiJson(
        found
            .into_iter()
            .map(|f| FindingView {
                id: f.id,
                gateway: f.gateway,
                trade_no: f.trade_no,
                gateway_trade_no: f.gateway_trade_no,
                kind: f.kind.as_str().into(),
                severity: if f.kind.is_error() { "error" } else { "info" }.into(),
                message: kabao_app::reconcile::kind_words(f.kind, lang).into(),
                expected_fen: f.expected.fen(),
                got_fen: f.got.map(|m| m.fen()),
                business_date: f.business_date,
                detail: f.detail,
                created_at: f.created_at.millis(),
            })
            .collect(),
    ))
}
