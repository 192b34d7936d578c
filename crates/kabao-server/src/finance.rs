//! A merchant's money: available balance, money still in escrow, the ledger statement, and withdrawals,
//! which leave the platform only when an admin approves them.

use crate::error::ApiError;
use crate::AppState;
use axum::http::StatusCode;
use kabao_core::ledger::{Account, LedgerTx, TxKind};
use kabao_core::order::OrderState;
use kabao_core::user::Role;
use kabao_core::Money;
use kabao_store::{LedgerEntry, Order, StoreError, TxMode, User, Withdrawal, WithdrawalState};

/// What the finance page shows.
pub struct Finance {
    pub available: Money,
    /// Paid and delivered, waiting for the claim window to close.
    pub in_escrow: Money,
    pub pending_withdrawals: Money,
    pub statement: Vec<LedgerEntry>,
    pub withdrawals: Vec<Withdrawal>,
    pub orders: Vec<Order>,
    pub deposit: Money,
    /// When the shop joined the compensation fund.
    pub fund_member_since: Option<kabao_core::Timestamp>,
}

pub async fn shop_finance(state: &AppState, merchant: &User) -> Result<Finance, ApiError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let available = tx.balance(Account::MerchantAvailable(shop.id)).await?;
    let orders = tx.list_shop_orders(shop.id, 200, 0).await?;
    let statement = tx.account_entries(Account::MerchantAvailable(shop.id), 100, 0).await?;
    let withdrawals = tx.list_shop_withdrawals(shop.id, 50).await?;
    let in_escrow = orders
        .iter()
        .filter(|o| o.state == OrderState::Delivered)
        .fold(Money::ZERO, |acc, o| acc.checked_add(o.amount).unwrap_or(acc));
    let pending_withdrawals = withdrawals
        .iter()
        .filter(|w| w.state == WithdrawalState::Pending)
        .fold(Money::ZERO, |acc, w| acc.checked_add(w.amount).unwrap_or(acc));
    let deposit = tx.balance(Account::MerchantDeposit(shop.id)).await?;
    let fund_member_since = tx.fund_member_since(shop.id).await?;
    Ok(Finance {
        available,
        in_escrow,
        pending_withdrawals,
        statement,
        withdrawals,
        orders,
        deposit,
        fund_member_since,
    })
}

/// Requests a withdrawal of at most the available balance not already requested.
pub async fn request_withdrawal(
    state: &AppState,
    merchant: &User,
    amount: Money,
    run: &crate::idempotency::Run<'_, Withdrawal>,
) -> Result<Withdrawal, ApiError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    if !amount.is_positive() {
        return Err(ApiError::bad_request(
            "withdrawal.amount_invalid",
            "amount",
            "提现金额必须大于零",
            "The amount must be positive",
        ));
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    let available = tx.balance(Account::MerchantAvailable(shop.id)).await?;
    let pending = tx
        .list_shop_withdrawals(shop.id, 1000)
        .await?
        .iter()
        .filter(|w| w.state == WithdrawalState::Pending)
        .fold(Money::ZERO, |acc, w| acc.checked_add(w.amount).unwrap_or(acc));
    let free = available.checked_sub(pending).unwrap_or(Money::ZERO);
    if amount > free {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "withdrawal.insufficient",
            format!("可提现余额不足：可提 {free}"),
            format!("Not enough available balance: {free} can be withdrawn"),
        )
        .with_field("amount"));
    }
    let id = tx.insert_withdrawal(shop.id, amount, state.now()).await?;
    let w = tx.withdrawal_by_id(id).await?.ok_or_else(|| ApiError::internal("withdrawal vanished"))?;
    run.complete(&mut *tx, &w, state.now()).await?;
    tx.commit().await?;
    tracing::info!(shop = %shop.id, withdrawal = id, amount_fen = amount.fen(), "withdrawal requested");
    Ok(w)
}

/// An admin approves (money leaves: merchant available → gateway clearing) or rejects a pending withdrawal.
pub async fn decide_withdrawal(
    state: &AppState,
    admin: &User,
    id: i64,
    approve: bool,
    note: &str,
) -> Result<Withdrawal, ApiError> {
    if admin.role != Role::Admin {
        return Err(ApiError::forbidden());
    }
    let note = note.trim();
    if !approve && note.is_empty() {
        return Err(ApiError::bad_request(
            "withdrawal.reason_required",
            "note",
            "拒绝提现必须填写原因",
            "A reason is required to reject a withdrawal",
        ));
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let w = tx.withdrawal_by_id(id).await?.ok_or_else(|| ApiError::not_found("withdrawal.not_found"))?;
    let to = if approve { WithdrawalState::Approved } else { WithdrawalState::Rejected };
    if approve {
        let out = LedgerTx::transfer(
            TxKind::Withdrawal,
            Account::MerchantAvailable(w.shop_id),
            Account::GatewayClearing,
            w.amount,
        )
        .map_err(ApiError::internal)?;
        match tx.post_ledger(&out, None, now).await {
            Ok(_) => {}
            Err(StoreError::Ledger(e)) => return Err(ApiError::from_localized(StatusCode::CONFLICT, &e)),
            Err(e) => return Err(e.into()),
        }
    }
    if !tx.decide_withdrawal(id, to, admin.id, Some(note).filter(|n| !n.is_empty()), now).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "withdrawal.decided",
            "该提现申请已处理",
            "This withdrawal was already decided",
        ));
    }
    let w = tx.withdrawal_by_id(id).await?.ok_or_else(|| ApiError::internal("withdrawal vanished"))?;
    tx.commit().await?;
    tracing::info!(withdrawal = id, approved = approve, admin = %admin.id, "withdrawal decided");
    Ok(w)
}
