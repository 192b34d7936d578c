//! `/api/v1/merchant/finance|orders|statement|withdrawals` and `/api/v1/admin/withdrawals` (the payout queue).

use super::orders::OrderView;
use super::payees::PayeeKindView;
use super::ApiJson;
use crate::auth::{ApiMerchant, ApiUser};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::idempotency::{Begun, IdemJson, Rendered, Scope};
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use kabao_app::finance::WithdrawalDecision;
use kabao_app::payees::MaskedPayee;
use kabao_core::user::Role;
use kabao_core::Money;
use kabao_store::{LedgerEntry, Withdrawal, WithdrawalState};
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

/// The payee a withdrawal is paid to, as it was at request time, masked.
#[derive(Serialize, ToSchema)]
pub struct WithdrawalPayeeView {
    pub payee_id: Option<i64>,
    pub kind: PayeeKindView,
    pub account_masked: String,
    pub holder_name_masked: String,
    pub bank_name: Option<String>,
}

/// A withdrawal request as its merchant sees it: the amount, the fee and the net paid, itemised.
#[derive(Serialize, ToSchema)]
pub struct WithdrawalView {
    pub id: i64,
    pub shop_id: i64,
    /// What left the available balance.
    pub amount_fen: i64,
    /// The withdrawal fee, to the platform.
    pub fee_fen: i64,
    /// What the payee receives: amount − fee.
    pub net_fen: i64,
    /// pending / approved (paid out) / rejected (returned to the available balance)
    pub state: WithdrawalStateView,
    pub requested_at: i64,
    pub decided_at: Option<i64>,
    /// The reason of a rejection.
    pub note: Option<String>,
    /// The transfer's reference at Alipay or the bank, once paid.
    pub payout_ref: Option<String>,
    /// `null` on requests from before payees existed.
    pub payee: Option<WithdrawalPayeeView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalStateView {
    Pending,
    Approved,
    Rejected,
}

impl From<WithdrawalState> for WithdrawalStateView {
    fn from(s: WithdrawalState) -> Self {
        match s {
            WithdrawalState::Pending => WithdrawalStateView::Pending,
            WithdrawalState::Approved => WithdrawalStateView::Approved,
            WithdrawalState::Rejected => WithdrawalStateView::Rejected,
        }
    }
}

impl From<&Withdrawal> for WithdrawalView {
    fn from(w: &Withdrawal) -> Self {
        WithdrawalView {
            id: w.id,
            shop_id: w.shop_id.0,
            amount_fen: w.amount.fen(),
            fee_fen: w.fee.fen(),
            net_fen: w.net().fen(),
            state: w.state.into(),
            requested_at: w.requested_at.millis(),
            decided_at: w.decided_at.map(|t| t.millis()),
            note: w.note.clone(),
            payout_ref: w.payout_ref.clone(),
            payee: w.payee.as_ref().map(|p| {
                let m = MaskedPayee::of(p);
                WithdrawalPayeeView {
                    payee_id: w.payee_id,
                    kind: m.kind.into(),
                    account_masked: m.account,
                    holder_name_masked: m.holder_name,
                    bank_name: m.bank_name,
                }
            }),
        }
    }
}

/// Where the platform pays a withdrawal: the details in full, for the payout team only.
#[derive(Serialize, ToSchema)]
pub struct PayoutPayeeView {
    pub kind: PayeeKindView,
    /// The Alipay account or the card number.
    pub account: String,
    pub holder_name: String,
    pub bank_name: Option<String>,
}

/// A pending withdrawal as the payout team sees it: what to pay (net) to whom.
#[derive(Serialize, ToSchema)]
pub struct PayoutView {
    pub id: i64,
    pub shop_id: i64,
    pub shop_name: String,
    pub amount_fen: i64,
    pub fee_fen: i64,
    /// What to transfer to the payee.
    pub net_fen: i64,
    pub requested_at: i64,
    /// `null` on requests from before payees existed: ask the merchant where to pay.
    pub payee: Option<PayoutPayeeView>,
}

/// The caller's balances.
#[utoipa::path(get, path = "/api/v1/merchant/finance", tag = "merchant", security(("bearer" = [])), responses((status = 200, body = FinanceView), (status = 404, description = "no shop yet")))]
pub async fn finance(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<FinanceView>, ApiError> {
    let f = kabao_app::finance::shop_finance(&state, &user).await?;
    Ok(ApiJson(FinanceView {
        available_fen: f.available.fen(),
        in_escrow_fen: f.in_escrow.fen(),
        pending_withdrawals_fen: f.pending_withdrawals.fen(),
    }))
}

/// The shop's orders, newest first.
#[utoipa::path(get, path = "/api/v1/merchant/orders", tag = "merchant", security(("bearer" = [])), responses((status = 200, body = [OrderView]), (status = 404, description = "no shop yet")))]
pub async fn orders(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<OrderView>>, ApiError> {
    Ok(ApiJson(kabao_app::finance::shop_orders(&state, &user).await?.iter().map(OrderView::from).collect()))
}

/// The available-balance account's entries, newest first.
#[utoipa::path(get, path = "/api/v1/merchant/statement", tag = "merchant", security(("bearer" = [])), responses((status = 200, body = [EntryView]), (status = 404, description = "no shop yet")))]
pub async fn statement(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<EntryView>>, ApiError> {
    let f = kabao_app::finance::shop_finance(&state, &user).await?;
    Ok(ApiJson(f.statement.iter().map(EntryView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalInput {
    /// What leaves the available balance, in 分; the fee is taken from it.
    #[schema(minimum = 1)]
    #[serde(with = "super::views::whole")]
    pub amount_fen: i64,
    /// One of the caller's payees (`/api/v1/merchant/payees`).
    #[serde(with = "super::views::whole")]
    pub payee_id: i64,
}

/// Request a withdrawal to one of the caller's payees. The amount is held at once (it no longer counts as
/// available); an admin pays it out or rejects it.
#[utoipa::path(post, path = "/api/v1/merchant/withdrawals", tag = "merchant", security(("bearer" = [])), request_body = WithdrawalInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "At most 128 visible ASCII characters, per user. The same key with the same body answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another body 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    responses((status = 201, body = WithdrawalView), (status = 400, description = "amount not positive (field amount), or a malformed body"),
        (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "no shop, or payee_id is not one of the caller's payees (field payee_id)"),
        (status = 409, description = "more than the available balance after pending withdrawals (field amount); `idempotency_key_reused` (same key, other body) or `idempotency_key_in_flight` (same key, first request still running)"),
        (status = 422, description = "the amount does not exceed the fee (field amount)")))]
pub async fn request(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    IdemJson { idem, body }: IdemJson<WithdrawalInput>,
) -> Result<axum::response::Response, ApiError> {
    let render = |w: &Withdrawal| Rendered::json(StatusCode::CREATED, &WithdrawalView::from(w));
    let run = match idem.begin(&state, Scope::User(user.id), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let result =
        kabao_app::finance::request_withdrawal(&state, &user, Money::from_fen(body.amount_fen), body.payee_id, &run)
            .await
            .map_err(ApiError::from);
    run.finish(&state, result).await
}

/// The caller's withdrawals, newest first, with fee and net itemised.
#[utoipa::path(get, path = "/api/v1/merchant/withdrawals", tag = "merchant", security(("bearer" = [])),
    responses((status = 200, body = [WithdrawalView]), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "no shop yet")))]
pub async fn mine(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<WithdrawalView>>, ApiError> {
    let f = kabao_app::finance::shop_finance(&state, &user).await?;
    Ok(ApiJson(f.withdrawals.iter().map(WithdrawalView::from).collect()))
}

/// Pending withdrawals, oldest first: what to pay to whom.
#[utoipa::path(get, path = "/api/v1/admin/withdrawals", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [PayoutView]), (status = 401, description = "no token"), (status = 403, description = "not an admin")))]
pub async fn pending(State(state): State<SharedState>, user: ApiUser) -> Result<ApiJson<Vec<PayoutView>>, ApiError> {
    user.require(Role::Admin)?;
    let queue = kabao_app::finance::payout_queue(&state, 500).await?;
    let mut out = Vec::with_capacity(queue.len());
    for (w, shop_name) in queue {
        out.push(PayoutView {
            id: w.id,
            shop_id: w.shop_id.0,
            shop_name,
            amount_fen: w.amount.fen(),
            fee_fen: w.fee.fen(),
            net_fen: w.net().fen(),
            requested_at: w.requested_at.millis(),
            payee: w.payee.map(|p| PayoutPayeeView {
                kind: p.kind.into(),
                account: p.account,
                holder_name: p.holder_name,
                bank_name: p.bank_name,
            }),
        });
    }
    Ok(ApiJson(out))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalDecisionInput {
    /// true: the net amount was transferred to the payee; false: rejected, the money returns to the shop.
    pub approve: bool,
    /// Required when approving: the transfer's reference at Alipay or the bank.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub payout_ref: String,
    /// Required when rejecting: the reason the merchant reads.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// Record a payout (approve, with its reference) or reject a pending withdrawal (with a reason). Decided once.
#[utoipa::path(post, path = "/api/v1/admin/withdrawals/{id}/decision", tag = "admin", security(("bearer" = [])), params(("id" = i64, Path)), request_body = WithdrawalDecisionInput,
    responses((status = 200, body = WithdrawalView), (status = 400, description = "payout_ref missing on approval, or note missing on rejection (the field is named)"),
        (status = 401, description = "no token"), (status = 403, description = "not an admin"), (status = 404, description = "no such withdrawal"),
        (status = 409, description = "already decided, or the payout reference is recorded on another withdrawal")))]
pub async fn decide(
    State(state): State<SharedState>,
    user: ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<WithdrawalDecisionInput>,
) -> Result<ApiJson<WithdrawalView>, ApiError> {
    let admin = user.require(Role::Admin)?;
    let decision = if body.approve {
        WithdrawalDecision::Paid { payout_ref: &body.payout_ref }
    } else {
        WithdrawalDecision::Rejected { reason: &body.note }
    };
    let w = kabao_app::finance::decide_withdrawal(&state, &admin, id, decision).await?;
    Ok(ApiJson(WithdrawalView::from(&w)))
}
