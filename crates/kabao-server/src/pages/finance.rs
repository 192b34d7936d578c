//! Money pages: the merchant's balance, escrow, statement, orders, payees and withdrawal requests; the
//! platform's payout page (what to pay to whom, and the payout reference once paid).

use super::{datetime, render, see_other, Ctx, PageForm};
use crate::auth::{AdminVisitor, MerchantVisitor};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use kabao_app::finance::WithdrawalDecision;
use kabao_app::payees::MaskedPayee;
use kabao_core::{Lang, Money};
use kabao_store::WithdrawalState;
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
        Withdrawal => lang.pick("提现打款", "Withdrawal paid out"),
        WithdrawalRequest => lang.pick("申请提现（冻结待打款）", "Withdrawal requested (held)"),
        WithdrawalReturn => lang.pick("提现被拒，退回余额", "Withdrawal rejected, returned"),
        Refund => lang.pick("退款", "Refund"),
        Payment => lang.pick("付款", "Payment"),
        TopUp => lang.pick("充值", "Top-up"),
        Deposit => lang.pick("缴纳保证金", "Deposit paid"),
        FundContribution => lang.pick("赔付基金份额", "Compensation fund contribution"),
        FundRepayment => lang.pick("归还赔付基金垫付", "Repaid to the compensation fund"),
        InsurancePremium => lang.pick("质保险保费", "Warranty insurance premium"),
        InsuranceRefund => lang.pick("退还质保险保费", "Insurance premium refunded"),
        InsurancePayout => lang.pick("质保险赔付", "Warranty insurance payout"),
        InsuranceRecovery => lang.pick("质保险追偿", "Recovered by warranty insurance"),
        GatewayRefund => lang.pick("原路退款到账", "Refunded to the payment gateway"),
        RefundToWallet => lang.pick("原路退款失败，退至余额", "Gateway refund refused, refunded to the wallet"),
    }
}

/// One withdrawal on the merchant's page: fee and net itemised, the payee masked.
struct WithdrawalRow {
    requested_at: String,
    amount: String,
    fee: String,
    net: String,
    payee: String,
    state: &'static str,
    note: String,
}

#[derive(Template)]
#[template(path = "finance.html")]
struct FinancePage {
    ctx: Ctx,
    error: Option<String>,
    available: String,
    in_escrow: String,
    pending_withdrawals: String,
    fee_rule: String,
    withdrawals: Vec<WithdrawalRow>,
    /// (id, masked line)
    payees: Vec<(i64, String)>,
    statement: Vec<(String, &'static str, String)>,
    orders: Vec<(String, &'static str, String, String)>,
    deposit: String,
    fund_member: bool,
}

/// "1.00%，最低 ¥2.00" / "1.00%, at least ¥2.00"; "免费" when there is none.
fn fee_rule(state: &SharedState, lang: Lang) -> String {
    let (bps, min) = (state.config.withdrawal_fee_bps, state.config.withdrawal_fee_min);
    match (bps, min.is_positive()) {
        (0, false) => lang.pick("免费", "None").to_string(),
        (0, true) => format!("{min}"),
        (_, false) => format!("{}.{:02}%", bps / 100, bps % 100),
        (_, true) => format!("{}.{:02}%{}{min}", bps / 100, bps % 100, lang.pick("，最低 ", ", at least ")),
    }
}

async fn page(state: &SharedState, mv: &MerchantVisitor, error: Option<String>) -> Result<Response, ApiError> {
    let f = kabao_app::finance::shop_finance(state, &mv.user).await?;
    let lang = mv.v.lang;
    let p = FinancePage {
        ctx: Ctx::new(&mv.v),
        error,
        available: f.available.to_string(),
        deposit: f.deposit.to_string(),
        fund_member: f.fund_member_since.is_some(),
        in_escrow: f.in_escrow.to_string(),
        pending_withdrawals: f.pending_withdrawals.to_string(),
        fee_rule: fee_rule(state, lang),
        withdrawals: f
            .withdrawals
            .iter()
            .map(|w| WithdrawalRow {
                requested_at: datetime(w.requested_at),
                amount: w.amount.to_string(),
                fee: w.fee.to_string(),
                net: w.net().to_string(),
                payee: w.payee.as_ref().map(|p| MaskedPayee::of(p).line(lang)).unwrap_or_default(),
                state: withdrawal_label(w.state, lang),
                note: match (&w.payout_ref, &w.note) {
                    (Some(r), _) => format!("{} {r}", lang.pick("流水号", "Ref.")),
                    (None, Some(n)) => n.clone(),
                    (None, None) => String::new(),
                },
            })
            .collect(),
        payees: f.payees.iter().map(|p| (p.id, MaskedPayee::of(&p.details).line(lang))).collect(),
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

/// The finance page again with the error in place and its status, or the error itself when it is not the
/// visitor's to fix.
async fn merchant_outcome(
    state: &SharedState,
    mv: &MerchantVisitor,
    result: Result<(), ApiError>,
) -> Result<Response, ApiError> {
    match result {
        Ok(()) => Ok(see_other("/console/finance")),
        Err(e) if e.status.is_client_error() => {
            let mut res = page(state, mv, Some(e.message(mv.v.lang).to_string())).await?;
            *res.status_mut() = e.status;
            Ok(res)
        }
        Err(e) => Err(e),
    }
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
    #[serde(default)]
    payee_id: String,
}

pub async fn withdraw(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    PageForm(f): PageForm<WithdrawForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = match (Money::parse_yuan(&f.amount), f.payee_id.trim().parse::<i64>()) {
        (Err(e), _) => Err(ApiError::from_localized(axum::http::StatusCode::BAD_REQUEST, &e).with_field("amount")),
        (Ok(_), Err(_)) => Err(ApiError::bad_request(
            "withdrawal.payee_missing",
            "payee_id",
            "请选择收款账户",
            "Choose where to pay the withdrawal",
        )),
        (Ok(a), Ok(payee)) => {
            kabao_app::finance::request_withdrawal(&state, &mv.user, a, payee, &crate::idempotency::Run::none())
                .await
                .map(|_| ())
                .map_err(ApiError::from)
        }
    };
    merchant_outcome(&state, &mv, result).await
}

#[derive(Deserialize)]
pub struct PayeeForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    bank_name: String,
}

pub async fn add_payee(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    PageForm(f): PageForm<PayeeForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = kabao_app::payees::add_payee(&state, &mv.user, &f.kind, &f.account, &f.name, &f.bank_name)
        .await
        .map_err(ApiError::from);
    merchant_outcome(&state, &mv, result.map(|_| ())).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

pub async fn remove_payee(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = kabao_app::payees::remove_payee(&state, &mv.user, id).await.map_err(ApiError::from);
    merchant_outcome(&state, &mv, result).await
}

/// One pending withdrawal on the payout page: what to pay (net) to whom, in full.
struct PayoutRow {
    id: i64,
    shop_id: i64,
    shop_name: String,
    amount: String,
    fee: String,
    net: String,
    /// `None`: an older request without a payee.
    pay_to: Option<String>,
    requested_at: String,
    /// Approving queues a transfer through the gateway (an Alipay payee with Alipay configured): no reference
    /// to type; `None` for a manual payout.
    transfer_via: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "admin_withdrawals.html")]
struct AdminWithdrawalsPage {
    ctx: Ctx,
    error: Option<String>,
    items: Vec<PayoutRow>,
}

async fn admin_page(state: &SharedState, av: &AdminVisitor, error: Option<String>) -> Result<Response, ApiError> {
    let lang = av.v.lang;
    let queue = kabao_app::finance::payout_queue(state, 200).await?;
    let mut items = Vec::with_capacity(queue.len());
    for (w, shop_name) in queue {
        items.push(PayoutRow {
            id: w.id,
            shop_id: w.shop_id.0,
            shop_name,
            amount: w.amount.to_string(),
            fee: w.fee.to_string(),
            net: w.net().to_string(),
            pay_to: w
                .payee
                .as_ref()
                .map(|p| kabao_app::payees::describe(p.kind, &p.account, &p.holder_name, p.bank_name.as_deref(), lang)),
            requested_at: datetime(w.requested_at),
            transfer_via: w
                .payee
                .as_ref()
                .filter(|_| w.hold_tx_id.is_some())
                .and_then(|p| kabao_app::payouts::transfer_gateway(state, p))
                .map(|g| g.name(lang)),
        });
    }
    // Full payee details: never cached.
    Ok(([(CACHE_CONTROL, "no-store")], render(AdminWithdrawalsPage { ctx: Ctx::new(&av.v), error, items }))
        .into_response())
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
    #[serde(default)]
    payout_ref: String,
}

async fn decide(
    state: &SharedState,
    av: &AdminVisitor,
    id: i64,
    approve: bool,
    f: DecideForm,
) -> Result<Response, ApiError> {
    av.v.check_csrf(f.csrf.as_deref())?;
    let decision = if approve {
        WithdrawalDecision::Paid { payout_ref: &f.payout_ref }
    } else {
        WithdrawalDecision::Rejected { reason: &f.note }
    };
    match kabao_app::finance::decide_withdrawal(state, &av.user, id, decision).await.map_err(ApiError::from) {
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
