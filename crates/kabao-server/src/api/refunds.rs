//! `/api/v1/admin/refunds`: gateway refunds that need the platform team — a guest's refund the gateway
//! refused (the team refunds by hand and records how), and refunds still retried after many attempts.

use super::ApiJson;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use kabao_core::user::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct GatewayRefundView {
    pub id: i64,
    /// Ours, sent to the gateway with every attempt.
    pub refund_no: String,
    pub order_no: String,
    pub gateway: String,
    pub amount_fen: i64,
    /// pending / processing / done / to_wallet / manual
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Why it went to the wallet or to the team; the team's note once resolved.
    pub outcome_note: Option<String>,
    pub created_at_ms: i64,
}

impl From<&kabao_app::refunds::AttentionRow> for GatewayRefundView {
    fn from((r, order_no): &kabao_app::refunds::AttentionRow) -> Self {
        GatewayRefundView {
            id: r.id,
            refund_no: r.refund_no.clone(),
            order_no: order_no.clone(),
            gateway: r.gateway.clone(),
            amount_fen: r.amount.fen(),
            state: r.state.as_str().into(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            outcome_note: r.outcome_note.clone(),
            created_at_ms: r.created_at.millis(),
        }
    }
}

/// Gateway refunds waiting for the team (`manual`) or retried for long, newest first (at most 200).
#[utoipa::path(get, path = "/api/v1/admin/refunds", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [GatewayRefundView])))]
pub async fn needing_attention(
    State(state): State<SharedState>,
    user: ApiUser,
) -> Result<ApiJson<Vec<GatewayRefundView>>, ApiError> {
    user.require(Role::Admin)?;
    let rows = kabao_app::refunds::needing_attention(&state, 200).await?;
    Ok(ApiJson(rows.iter().map(GatewayRefundView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    /// How the money was returned, with the reference (1–500 characters).
    #[schema(min_length = 1, max_length = 500)]
    pub note: String,
}

/// Record that a `manual` refund was paid back by hand: the money leaves the books through the gateway edge.
#[utoipa::path(post, path = "/api/v1/admin/refunds/{id}/resolve", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ResolveInput,
    responses((status = 200, body = GatewayRefundView), (status = 400, description = "note missing or too long"),
        (status = 404, description = "no such refund"), (status = 409, description = "not waiting for the team")))]
pub async fn resolve(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ResolveInput>,
) -> Result<ApiJson<GatewayRefundView>, ApiError> {
    user.require(Role::Admin)?;
    let row = kabao_app::refunds::resolve_manual(&state, id, &input.note).await?;
    Ok(ApiJson(GatewayRefundView::from(&row)))
}
