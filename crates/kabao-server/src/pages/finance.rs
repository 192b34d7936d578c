//! Money pages: the merchant's balance, escrow, statement, orders and withdrawal requests; the admin's
//! withdrawal approvals.

use super::admin::AdminVisitor;
use super::console::MerchantVisitor;
use super::{datetime, render, see_other, Ctx, PageForm};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use kabao_core::{Lang, Money};
use kabao_store::{TxMode, WithdrawalState};
use serde::Deserialize;

fn withdrawal_label(s: WithdrawalState, lang: Lang) -> &'static str {
    match s {
        WithdrawalState::Pending => lang.pick("审核中", "Under review"),
        WithdrawalState::Approved => lang.pick("已打款", "Paid out"),
        WithdrawalState::Rejected => lang.pick("已拒绝", "Rejected"),
    }
}

fn entry_label(kind: kabao_core::ledger::TxKind, lang: Lang) -> &'static str {
    use kabao_core::ledger::TxKind::*;
    match kind {
        Settlement => lang.pick("订单结算", "Order settled"),
        Withdrawal => lang.pick("提现", "Withdrawal"),
        Refund => lang.pick("退款", "Refund"),
        Payment => lang.pick("付款", "Payment"),
        TopUp => lang.pick("充值", "Top-up"),
        Deposit => lang.pick("缴纳保证金", "Deposit paid"),
        FundContribution => lang.pick("赔付基金份额", "Compensation fund contribution"),
        FundRepayment => lang.pick("归还赔付基金垫付", "Repaid to the compensation fund"),
    }
}

#[derive(Template)]
#[template(path = "finance.html")]
struct FinancePage {
    ctx: Ctx,
    error: Option<String>,
    available: String,
    in_escrow: String,
    pending_withdrawals: String,
    withdrawals: Vec<(String, String, &'static str, String)>,
    statement: Vec<(String, &'static str, String)>,
    orders: Vec<(String, &'static str, String, String)>,
    deposit: String,
    fund_member: bool,
}

async fn page(state: &SharedState, mv: &MerchantVisitor, error: Option<String>) -> Result<Response, ApiError> {
    let f = crate::finance::shop_finance(state, &mv.user).await?;
    let lang = mv.v.lang;
    let p = FinancePage {
        ctx: Ctx::new(&mv.v),
        error,
        available: f.available.to_string(),
        deposit: f.deposit.to_string(),
        fund_member: f.fund_member_since.is_some(),
        in_escrow: f.in_escrow.to_string(),
        pending_withdrawals: f.pending_withdrawals.to_string(),
        withdrawals: f
            .withdrawals
            .iter()
            .map(|w| {
                (
                    datetime(w.requested_at),
                    w.amount.to_string(),
                    withdrawal_label(w.state, lang),
                    w.note.clone().unwrap_or_default(),
                )
            })
            .collect(),
        statement: f
            .statement
            .iter()
            .map(|e| (datetime(e.created_at), entry_label(e.kind, lang), e.amount.to_string()))
            .collect(),
        orders: f
            .orders
            .iter()
            .map(|o| (o.order_no.clone(), o.state.label(lang), o.amount.to_string(), datetime(o.created_at)))
            .collect(),
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(p)).into_response())
}

pub async fn show(State(state): State<SharedState>, mv: MerchantVisitor) -> Result<Response, ApiError> {
    page(&state, &mv, None).await
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    amount: String,
}

pub async fn withdraw(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    PageForm(f): PageForm<WithdrawForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = match Money::parse_yuan(&f.amount) {
        Ok(a) => {
            crate::finance::request_withdrawal(&state, &mv.user, a, &crate::idempotency::Run::none()).await.map(|_| ())
        }
        Err(e) => Err(ApiError::from_localized(axum::http::StatusCode::BAD_REQUEST, &e).with_field("amount")),
    };
    match result {
        Ok(()) => Ok(see_other("/console/finance")),
        Err(e) if e.status.is_client_error() => {
            let mut res = page(&state, &mv, Some(e.message(mv.v.lang).to_string())).await?;
            *res.status_mut() = e.status;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin_withdrawals.html")]
struct AdminWithdrawalsPage {
    ctx: Ctx,
    error: Option<String>,
    items: Vec<(i64, i64, String, String, String)>,
}

async fn admin_page(state: &SharedState, av: &AdminVisitor, error: Option<String>) -> Result<Response, ApiError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let pending = tx.list_pending_withdrawals(200).await?;
    let mut items = Vec::with_capacity(pending.len());
    for w in pending {
        let name = tx.shop_by_id(w.shop_id).await?.map(|s| s.name).unwrap_or_default();
        items.push((w.id, w.shop_id.0, name, w.amount.to_string(), datetime(w.requested_at)));
    }
    drop(tx);
    Ok(render(AdminWithdrawalsPage { ctx: Ctx::new(&av.v), error, items }))
}

pub async fn admin_list(State(state): State<SharedState>, av: AdminVisitor) -> Result<Response, ApiError> {
    admin_page(&state, &av, None).await
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    note: String,
}

async fn decide(
    state: &SharedState,
    av: &AdminVisitor,
    id: i64,
    approve: bool,
    f: DecideForm,
) -> Result<Response, ApiError> {
    av.v.check_csrf(f.csrf.as_deref())?;
    match crate::finance::decide_withdrawal(state, &av.user, id, approve, &f.note).await {
        Ok(_) => Ok(see_other("/admin/withdrawals")),
        Err(e) if e.status.is_client_error() => {
            let mut res = admin_page(state, av, Some(e.message(av.v.lang).to_string())).await?;
            *res.status_mut() = e.status;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

pub async fn approve(
    State(state): State<SharedState>,
    av: AdminVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<DecideForm>,
) -> Result<Response, ApiError> {
    decide(&state, &av, id, true, f).await
}

pub async fn reject(
    State(state): State<SharedState>,
    av: AdminVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<DecideForm>,
) -> Result<Response, ApiError> {
    decide(&state, &av, id, false, f).await
}
