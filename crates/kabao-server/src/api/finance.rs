//! `/api/v1/merchant/finance|orders|statement|withdrawals` and `/api/v1/admin/withdrawals`.

use super::orders::OrderView;
use super::ApiJson;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use kabao_core::user::Role;
use kabao_core::Money;
use kabao_store::{LedgerEntry, TxMode, Withdrawal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct FinanceView {
    pub available_fen: i64,
    pub in_escrow_fen: i64,
    pub pending_withdrawals_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub tx_id: i64,
    /// top_up / payment / settlement / refund / withdrawal / deposit / fund_contribution / fund_repayment
    pub kind: String,
    pub order_id: Option<i64>,
    pub amount_fen: i64,
    pub created_at: i64,
}

impl From<&LedgerEntry> for EntryView {
    fn from(e: &LedgerEntry) -> Self {
        EntryView {
            tx_id: e.tx_id,
            kind: e.kind.as_str().into(),
            order_id: e.order_id.map(|o| o.0),
            amount_fen: e.amount.fen(),
            created_at: e.created_at.millis(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WithdrawalView {
    pub id: i64,
    pub shop_id: i64,
    pub amount_fen: i64,
    #[schema(value_type = super::contract::WithdrawalStateName)]
    pub state: String,
    pub requested_at: i64,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
}

impl From<&Withdrawal> for WithdrawalView {
    fn from(w: &Withdrawal) -> Self {
        WithdrawalView {
            id: w.id,
            shop_id: w.shop_id.0,
            amount_fen: w.amount.fen(),
            state: w.state.as_str().into(),
            requested_at: w.requested_at.millis(),
            decided_at: w.decided_at.map(|t| t.millis()),
            note: w.note.clone(),
        }
    }
}

/// The caller's balances.
#[utoipa::path(get, path = "/api/v1/merchant/finance", tag = "merchant", security(("bearer" = [])), responses((status = 200, body = FinanceView), (status = 404, description = "no shop yet")))]
pub async fn finance(State(state): State<SharedState>, user: ApiUser) -> Result<ApiJson<FinanceView>, ApiError> {
    let user = user.require(Role::Merchant)?;
    let f = crate::finance::shop_finance(&state, &user).await?;
    Ok(ApiJson(FinanceView {
        available_fen: f.available.fen(),
        in_escrow_fen: f.in_escrow.fen(),
        pending_withdrawals_fen: f.pending_withdrawals.fen(),
    }))
}

/// The shop's orders, newest first.
#[utoipa::path(get, path = "/api/v1/merchant/orders", tag = "merchant", security(("bearer" = [])), responses((status = 200, body = [OrderView]), (status = 404, description = "no shop yet")))]
pub async fn orders(State(state): State<SharedState>, user: ApiUser) -> Result<ApiJson<Vec<OrderView>>, ApiError> {
    let user = user.require(Role::Merchant)?;
    let shop = crate::shops::my_shop(&state, &user).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(ApiJson(tx.list_shop_orders(shop.id, 200, 0).await?.iter().map(OrderView::from).collect()))
}

/// The available-balance account's entries, newest first.
#[utoipa::path(get, path = "/api/v1/merchant/statement", tag = "merchant", security(("bearer" = [])), responses((status = 200, body = [EntryView]), (status = 404, description = "no shop yet")))]
pub async fn statement(State(state): State<SharedState>, user: ApiUser) -> Result<ApiJson<Vec<EntryView>>, ApiError> {
    let user = user.require(Role::Merchant)?;
    let f = crate::finance::shop_finance(&state, &user).await?;
    Ok(ApiJson(f.statement.iter().map(EntryView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalInput {
    /// At least 1 分, at most the available balance not already requested.
    #[schema(minimum = 1)]
    #[serde(with = "super::views::whole")]
    pub amount_fen: i64,
}

/// Request a withdrawal (an admin approves it).
#[utoipa::path(post, path = "/api/v1/merchant/withdrawals", tag = "merchant", security(("bearer" = [])), request_body = WithdrawalInput,
    responses((status = 201, body = WithdrawalView), (status = 404, description = "no shop yet"), (status = 409, description = "more than the available balance")))]
pub async fn request(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiJson(body): ApiJson<WithdrawalInput>,
) -> Result<(StatusCode, ApiJson<WithdrawalView>), ApiError> {
    let user = user.require(Role::Merchant)?;
    let w = crate::finance::request_withdrawal(&state, &user, Money::from_fen(body.amount_fen)).await?;
    Ok((StatusCode::CREATED, ApiJson(WithdrawalView::from(&w))))
}

/// Pending withdrawals, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/withdrawals", tag = "admin", security(("bearer" = [])), responses((status = 200, body = [WithdrawalView])))]
pub async fn pending(
    State(state): State<SharedState>,
    user: ApiUser,
) -> Result<ApiJson<Vec<WithdrawalView>>, ApiError> {
    user.require(Role::Admin)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(ApiJson(tx.list_pending_withdrawals(500).await?.iter().map(WithdrawalView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WithdrawalDecisionInput)]
pub struct DecisionInput {
    pub approve: bool,
    /// Required when rejecting.
    #[serde(default)]
    pub note: String,
}

/// Approve (money leaves the platform) or reject a pending withdrawal. Decided once.
#[utoipa::path(post, path = "/api/v1/admin/withdrawals/{id}/decision", tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), request_body = DecisionInput,
    responses((status = 200, body = WithdrawalView), (status = 400, description = "a rejection without a note"),
        (status = 409, description = "already decided, or balance too low")))]
pub async fn decide(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DecisionInput>,
) -> Result<ApiJson<WithdrawalView>, ApiError> {
    let admin = user.require(Role::Admin)?;
    let w = crate::finance::decide_withdrawal(&state, &admin, id, body.approve, &body.note).await?;
    Ok(ApiJson(WithdrawalView::from(&w)))
}
