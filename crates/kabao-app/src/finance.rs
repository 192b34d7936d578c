//! A merchant's money: available balance, money still in escrow, the ledger statement, and withdrawals,
//! which hold their amount from the request on and leave the platform only when an admin records the payout.

use crate::error::Problem;
use crate::error::Status;
use crate::App;
use kabao_core::ledger::{Account, LedgerTx, TxKind};
use kabao_core::order::OrderState;
use kabao_core::user::Role;
use kabao_core::Money;
use kabao_store::{LedgerEntry, NewWithdrawal, Order, StoreError, TxMode, User, Withdrawal, WithdrawalState};

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
    /// The payees a withdrawal may be paid to.
    pub payees: Vec<kabao_store::PayeeRecord>,
}

/// The payout queue: pending withdrawals, oldest first, each with its shop's name (read once per shop). The
/// admin's API and page both show it.
pub async fn payout_queue(state: &App, limit: i64) -> Result<Vec<(Withdrawal, String)>, Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let pending = tx.list_pending_withdrawals(limit).await?;
    let mut names: std::collections::HashMap<kabao_core::ShopId, String> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(pending.len());
    for w in pending {
        let name = match names.get(&w.shop_id) {
            Some(n) => n.clone(),
            None => {
                let n = tx.shop_by_id(w.shop_id).await?.map(|s| s.name).unwrap_or_default();
                names.insert(w.shop_id, n.clone());
                n
            }
        };
        out.push((w, name));
    }
    Ok(out)
}

pub async fn shop_finance(state: &App, merchant: &User) -> Result<Finance, Problem> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let orders = tx.list_shop_orders(shop.id, 200, 0).await?;
    let statement = tx.account_entries(Account::MerchantAvailable(shop.id), 100, 0).await?;
    let withdrawals = tx.list_shop_withdrawals(shop.id, 50).await?;
    let in_escrow = orders
        .iter()
        .filter(|o| o.state == OrderState::Delivered)
        .fold(Money::ZERO, |acc, o| acc.checked_add(o.amount).unwrap_or(acc));
    let (available, pending_withdrawals) = withdrawable(&mut *tx, shop.id).await?;
    let deposit = tx.balance(Account::MerchantDeposit(shop.id)).await?;
    let fund_member_since = tx.fund_member_since(shop.id).await?;
    let payees = tx.list_shop_payees(shop.id, crate::payees::MAX_PAYEES as i64).await?;
    Ok(Finance {
        available,
        in_escrow,
        pending_withdrawals,
        statement,
        withdrawals,
        orders,
        deposit,
        fund_member_since,
        payees,
    })
}

/// What a shop may still withdraw and what it has asked for and not been paid. Requests hold their amount in
/// the shop's pending-withdrawal account, so the available balance already excludes them; requests from before
/// that account existed hold nothing and are subtracted here.
async fn withdrawable(tx: &mut dyn kabao_store::Tx, shop: kabao_core::ShopId) -> Result<(Money, Money), Problem> {
    let available = tx.balance(Account::MerchantAvailable(shop)).await?;
    let held = tx.balance(Account::WithdrawalPending(shop)).await?;
    let unheld = tx.unheld_pending_withdrawals(shop).await?;
    let free = available.checked_sub(unheld).filter(|m| m.fen() >= 0).unwrap_or(Money::ZERO);
    Ok((free, held.checked_add(unheld).unwrap_or(held)))
}

/// The fee a withdrawal of `amount` costs under the current settings.
pub fn withdrawal_fee(state: &App, amount: Money) -> Money {
    kabao_core::ledger::withdrawal_fee(amount, state.config.withdrawal_fee_bps, state.config.withdrawal_fee_min)
}

fn insufficient(free: Money) -> Problem {
    Problem::new(
        Status::CONFLICT,
        "withdrawal.insufficient",
        format!("可提现余额不足：可提 {free}（审核中的提现已扣除）"),
        format!("Not enough available balance: {free} can be withdrawn (withdrawals under review already deducted)"),
    )
    .with_field("amount")
}

/// Requests a withdrawal of at most the available balance to one of the shop's payees. In the same transaction
/// the amount moves from the available balance to the shop's pending-withdrawal account, checked against the
/// locked balance (SQLite: the single writer of `BEGIN IMMEDIATE`; PostgreSQL: the balance row `FOR UPDATE`), so
/// two requests for the same money cannot both pass. The fee is fixed now and itemised on the request.
pub async fn request_withdrawal(
    state: &App,
    merchant: &User,
    amount: Money,
    payee_id: i64,
    run: &dyn crate::idempotency::Completion<Withdrawal>,
) -> Result<Withdrawal, Problem> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    if !amount.is_positive() {
        return Err(Problem::bad_request(
            "withdrawal.amount_invalid",
            "amount",
            "提现金额必须大于零",
            "The amount must be positive",
        ));
    }
    let fee = withdrawal_fee(state, amount);
    if fee >= amount {
        return Err(Problem::new(
            Status::UNPROCESSABLE_ENTITY,
            "withdrawal.below_fee",
            format!("提现金额须大于手续费 {fee}"),
            format!("The amount must be more than the fee of {fee}"),
        )
        .with_field("amount"));
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let payee = crate::payees::chosen_payee(&mut *tx, shop.id, payee_id).await?;
    let (free, _) = withdrawable(&mut *tx, shop.id).await?;
    if amount > free {
        return Err(insufficient(free));
    }
    let hold = kabao_core::ledger::request_withdrawal(shop.id, amount).map_err(Problem::internal)?;
    let hold_tx_id = match tx.post_ledger(&hold, None, now).await {
        Ok(id) => id,
        // Another request took the money between the read above and the lock (PostgreSQL).
        Err(StoreError::Ledger(_)) => return Err(insufficient(free)),
        Err(e) => return Err(e.into()),
    };
    let id = tx
        .insert_withdrawal(&NewWithdrawal {
            shop_id: shop.id,
            amount,
            fee,
            payee_id: payee.id,
            payee: payee.details.clone(),
            hold_tx_id,
            requested_at: now,
        })
        .await?;
    let w = tx.withdrawal_by_id(id).await?.ok_or_else(|| Problem::internal("withdrawal vanished"))?;
    run.complete(&mut *tx, &w, state.now()).await?;
    tx.commit().await?;
    tracing::info!(shop = %shop.id, withdrawal = id, amount_fen = amount.fen(), fee_fen = fee.fen(), "withdrawal requested");
    Ok(w)
}

/// What the platform decides about a pending withdrawal.
pub enum WithdrawalDecision<'a> {
    /// Paid: the reference of the transfer at Alipay or the bank.
    Paid { payout_ref: &'a str },
    /// Refused: the reason the merchant reads; the money returns to the available balance.
    Rejected { reason: &'a str },
}

/// An admin records a payout (pending → the payee through the gateway edge, the fee → platform revenue) or
/// rejects a pending withdrawal (pending → available). Decided once: the state changes by compare-and-set
/// before any money moves, so a second decision finds nothing pending and moves nothing.
pub async fn decide_withdrawal(
    state: &App,
    admin: &User,
    id: i64,
    decision: WithdrawalDecision<'_>,
) -> Result<Withdrawal, Problem> {
    if admin.role != Role::Admin {
        return Err(Problem::forbidden());
    }
    let (to, note, payout_ref) = match decision {
        WithdrawalDecision::Paid { payout_ref } => {
            let r = payout_ref.trim();
            if r.is_empty() || r.chars().count() > 64 || r.chars().any(char::is_control) {
                return Err(Problem::bad_request(
                    "withdrawal.payout_ref_required",
                    "payout_ref",
                    "确认打款必须填写支付宝或银行的交易流水号（1–64 个字符）",
                    "Approving needs the Alipay or bank transaction reference (1–64 characters)",
                ));
            }
            (WithdrawalState::Approved, None, Some(r))
        }
        WithdrawalDecision::Rejected { reason } => {
            let r = reason.trim();
            if r.is_empty() || r.chars().count() > 500 {
                return Err(Problem::bad_request(
                    "withdrawal.reason_required",
                    "note",
                    "拒绝提现必须填写原因（最多 500 字）",
                    "A reason (up to 500 characters) is required to reject a withdrawal",
                ));
            }
            (WithdrawalState::Rejected, Some(r), None)
        }
    };
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let w = tx.withdrawal_by_id(id).await?.ok_or_else(|| Problem::not_found("withdrawal.not_found"))?;
    match tx.decide_withdrawal(id, to, admin.id, note, payout_ref, now).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(Problem::new(
                Status::CONFLICT,
                "withdrawal.decided",
                "该提现申请已处理",
                "This withdrawal was already decided",
            ))
        }
        Err(StoreError::Conflict("withdrawals.payout_ref")) => {
            return Err(Problem::new(
                Status::CONFLICT,
                "withdrawal.payout_ref_used",
                "该交易流水号已登记在另一笔提现上",
                "This transaction reference is already recorded on another withdrawal",
            )
            .with_field("payout_ref"))
        }
        Err(e) => return Err(e.into()),
    }
    let money = match (to, w.hold_tx_id.is_some()) {
        (WithdrawalState::Approved, true) => Some(kabao_core::ledger::pay_withdrawal(w.shop_id, w.amount, w.fee)),
        (WithdrawalState::Rejected, true) => Some(kabao_core::ledger::return_withdrawal(w.shop_id, w.amount)),
        // A request from before the pending account held nothing: paid straight from the available balance
        // (without a fee, as agreed then), and a refusal has nothing to return.
        (WithdrawalState::Approved, false) => Some(LedgerTx::transfer(
            TxKind::Withdrawal,
            Account::MerchantAvailable(w.shop_id),
            Account::GatewayClearing,
            w.amount,
        )),
        _ => None,
    };
    if let Some(ltx) = money {
        let ltx = ltx.map_err(Problem::internal)?;
        match tx.post_ledger(&ltx, None, now).await {
            Ok(_) => {}
            Err(StoreError::Ledger(e)) => return Err(Problem::from_localized(Status::CONFLICT, &e)),
            Err(e) => return Err(e.into()),
        }
    }
    let w = tx.withdrawal_by_id(id).await?.ok_or_else(|| Problem::internal("withdrawal vanished"))?;
    tx.commit().await?;
    tracing::info!(withdrawal = id, state = to.as_str(), admin = %admin.id, "withdrawal decided");
    Ok(w)
}
