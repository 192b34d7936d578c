//! A merchant's money: available balance, money still in escrow, the ledger statement, and withdrawals,
//! which hold their amount from the request on and leave the platform only when an admin records the payout.

use crate::payees::PayeesError;
use crate::App;
use kabao_core::ledger::{Account, LedgerError, LedgerTx, TxKind};
use kabao_core::order::OrderState;
use kabao_core::user::Role;
use kabao_core::{Lang, Localized, Money};
use kabao_store::{LedgerEntry, NewWithdrawal, Order, StoreError, TxMode, User, Withdrawal, WithdrawalState};

/// Why a withdrawal could not be requested or decided, or a shop's money not shown.
#[derive(Debug, thiserror::Error)]
pub enum FinanceError {
    #[error("the amount must be positive")]
    AmountInvalid,
    /// The fee would take all of it.
    #[error("the amount must be more than the fee of {fee}")]
    BelowFee { fee: Money },
    /// More than the available balance after the withdrawals under review.
    #[error("not enough available balance: {free} can be withdrawn")]
    Insufficient { free: Money },
    #[error("only admins decide withdrawals")]
    NotAdmin,
    #[error("approving needs the payout reference (1–64 characters)")]
    PayoutRefRequired,
    #[error("rejecting needs a reason (up to 500 characters)")]
    ReasonRequired,
    #[error("no such withdrawal")]
    WithdrawalNotFound,
    #[error("the withdrawal was already decided")]
    AlreadyDecided,
    /// The payout reference is recorded on another withdrawal.
    #[error("payout reference already used")]
    PayoutRefUsed,
    /// The books refused the decision's money movement.
    #[error("ledger refused: {0}")]
    LedgerRefused(LedgerError),
    /// A ledger transaction the rules could not even build (a bug: amounts are checked before).
    #[error("ledger transaction invalid: {0}")]
    Bookkeeping(LedgerError),
    #[error("the withdrawal just written could not be read back")]
    Vanished,
    #[error(transparent)]
    Payee(#[from] PayeesError),
    /// Finding the merchant's shop, or recording the idempotent answer, failed.
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
    #[error(transparent)]
    Idempotency(#[from] crate::idempotency::IdempotencyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for FinanceError {
    fn code(&self) -> &'static str {
        match self {
            FinanceError::AmountInvalid => "withdrawal.amount_invalid",
            FinanceError::BelowFee { .. } => "withdrawal.below_fee",
            FinanceError::Insufficient { .. } => "withdrawal.insufficient",
            FinanceError::NotAdmin => "auth.forbidden",
            FinanceError::PayoutRefRequired => "withdrawal.payout_ref_required",
            FinanceError::ReasonRequired => "withdrawal.reason_required",
            FinanceError::WithdrawalNotFound => "withdrawal.not_found",
            FinanceError::AlreadyDecided => "withdrawal.decided",
            FinanceError::PayoutRefUsed => "withdrawal.payout_ref_used",
            FinanceError::LedgerRefused(e) => e.code(),
            FinanceError::Payee(e) => e.code(),
            FinanceError::Shop(e) => e.code(),
            FinanceError::Idempotency(e) => e.code(),
            FinanceError::Bookkeeping(_) | FinanceError::Vanished | FinanceError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            FinanceError::AmountInvalid | FinanceError::BelowFee { .. } | FinanceError::Insufficient { .. } => {
                Some("amount")
            }
            FinanceError::PayoutRefRequired | FinanceError::PayoutRefUsed => Some("payout_ref"),
            FinanceError::ReasonRequired => Some("note"),
            FinanceError::LedgerRefused(e) => e.field(),
            FinanceError::Payee(e) => e.field(),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        let text = match self {
            FinanceError::AmountInvalid => lang.pick("提现金额必须大于零", "The amount must be positive"),
            FinanceError::BelowFee { fee } => {
                return match lang {
                    Lang::Zh => format!("提现金额须大于手续费 {fee}"),
                    Lang::En => format!("The amount must be more than the fee of {fee}"),
                }
            }
            FinanceError::Insufficient { free } => {
                return match lang {
                    Lang::Zh => format!("可提现余额不足：可提 {free}（审核中的提现已扣除）"),
                    Lang::En => format!(
                        "Not enough available balance: {free} can be withdrawn (withdrawals under review already \
                         deducted)"
                    ),
                }
            }
            FinanceError::NotAdmin => lang.pick("没有权限执行此操作", "You are not allowed to do this"),
            FinanceError::PayoutRefRequired => lang.pick(
                "确认打款必须填写支付宝或银行的交易流水号（1–64 个字符）",
                "Approving needs the Alipay or bank transaction reference (1–64 characters)",
            ),
            FinanceError::ReasonRequired => lang.pick(
                "拒绝提现必须填写原因（最多 500 字）",
                "A reason (up to 500 characters) is required to reject a withdrawal",
            ),
            FinanceError::WithdrawalNotFound => lang.pick("找不到该内容", "Not found"),
            FinanceError::AlreadyDecided => lang.pick("该提现申请已处理", "This withdrawal was already decided"),
            FinanceError::PayoutRefUsed => lang.pick(
                "该交易流水号已登记在另一笔提现上",
                "This transaction reference is already recorded on another withdrawal",
            ),
            FinanceError::LedgerRefused(e) => return e.message(lang),
            FinanceError::Payee(e) => return e.message(lang),
            FinanceError::Shop(e) => return e.message(lang),
            FinanceError::Idempotency(e) => return e.message(lang),
            FinanceError::Bookkeeping(_) | FinanceError::Vanished | FinanceError::Store(_) => {
                crate::error::internal_words(lang)
            }
        };
        text.to_string()
    }
}

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
pub async fn payout_queue(state: &App, limit: i64) -> Result<Vec<(Withdrawal, String)>, FinanceError> {
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

pub async fn shop_finance(state: &App, merchant: &User) -> Result<Finance, FinanceError> {
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

/// The shop's latest orders, newest first (the merchant API's order list).
pub async fn shop_orders(state: &App, merchant: &User) -> Result<Vec<Order>, FinanceError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.list_shop_orders(shop.id, 200, 0).await?)
}

/// What a shop may still withdraw and what it has asked for and not been paid. Requests hold their amount in
/// the shop's pending-withdrawal account, so the available balance already excludes them; requests from before
/// that account existed hold nothing and are subtracted here.
async fn withdrawable(tx: &mut dyn kabao_store::Tx, shop: kabao_core::ShopId) -> Result<(Money, Money), FinanceError> {
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
) -> Result<Withdrawal, FinanceError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    if !amount.is_positive() {
        return Err(FinanceError::AmountInvalid);
    }
    let fee = withdrawal_fee(state, amount);
    if fee >= amount {
        return Err(FinanceError::BelowFee { fee });
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let payee = crate::payees::chosen_payee(&mut *tx, shop.id, payee_id).await?;
    let (free, _) = withdrawable(&mut *tx, shop.id).await?;
    if amount > free {
        return Err(FinanceError::Insufficient { free });
    }
    let hold = kabao_core::ledger::request_withdrawal(shop.id, amount).map_err(FinanceError::Bookkeeping)?;
    let hold_tx_id = match tx.post_ledger(&hold, None, now).await {
        Ok(id) => id,
        // Another request took the money between the read above and the lock (PostgreSQL).
        Err(StoreError::Ledger(_)) => return Err(FinanceError::Insufficient { free }),
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
    let w = tx.withdrawal_by_id(id).await?.ok_or(FinanceError::Vanished)?;
    run.complete(&mut *tx, &w, state.now()).await?;
    tx.commit().await?;
    let (amount_fen, fee_fen) = (amount.fen(), fee.fen());
    tracing::info!(shop = %shop.id, withdrawal = id, amount_fen, fee_fen, "withdrawal requested");
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
) -> Result<Withdrawal, FinanceError> {
    if admin.role != Role::Admin {
        return Err(FinanceError::NotAdmin);
    }
    // An Alipay payee, with a gateway that transfers configured: the approval queues the transfer, which the
    // payouts job makes with a stable number and records (see [`crate::payouts`]); no manual reference.
    if let WithdrawalDecision::Paid { .. } = decision {
        let mut tx = state.store.begin(TxMode::Write).await?;
        let w = tx.withdrawal_by_id(id).await?.ok_or(FinanceError::WithdrawalNotFound)?;
        if w.hold_tx_id.is_some()
            && w.payee.as_ref().is_some_and(|p| crate::payouts::transfer_gateway(state, p).is_some())
        {
            if !tx.queue_withdrawal_transfer(id, admin.id, state.now()).await? {
                return Err(FinanceError::AlreadyDecided);
            }
            let w = tx.withdrawal_by_id(id).await?.ok_or(FinanceError::Vanished)?;
            tx.commit().await?;
            tracing::info!(withdrawal = id, admin = %admin.id, "withdrawal approved: gateway transfer queued");
            return Ok(w);
        }
    }
    let (to, note, payout_ref) = match decision {
        WithdrawalDecision::Paid { payout_ref } => {
            let r = payout_ref.trim();
            if r.is_empty() || r.chars().count() > 64 || r.chars().any(char::is_control) {
                return Err(FinanceError::PayoutRefRequired);
            }
            (WithdrawalState::Approved, None, Some(r))
        }
        WithdrawalDecision::Rejected { reason } => {
            let r = reason.trim();
            if r.is_empty() || r.chars().count() > 500 {
                return Err(FinanceError::ReasonRequired);
            }
            (WithdrawalState::Rejected, Some(r), None)
        }
    };
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let w = tx.withdrawal_by_id(id).await?.ok_or(FinanceError::WithdrawalNotFound)?;
    match tx.decide_withdrawal(id, to, admin.id, note, payout_ref, now).await {
        Ok(true) => {}
        Ok(false) => return Err(FinanceError::AlreadyDecided),
        Err(StoreError::Conflict("withdrawals.payout_ref")) => return Err(FinanceError::PayoutRefUsed),
        Err(e) => return Err(e.into()),
    }
    move_decided_money(&mut *tx, &w, to, now).await?;
    let w = tx.withdrawal_by_id(id).await?.ok_or(FinanceError::Vanished)?;
    tx.commit().await?;
    tracing::info!(withdrawal = id, state = to.as_str(), admin = %admin.id, "withdrawal decided");
    Ok(w)
}

/// The money of a decided withdrawal: paid (pending → the payee through the gateway edge, the fee → platform
/// revenue) or returned (pending → available). Called in the transaction whose compare-and-set decided it.
pub(crate) async fn move_decided_money(
    tx: &mut dyn kabao_store::Tx,
    w: &Withdrawal,
    to: WithdrawalState,
    now: kabao_core::Timestamp,
) -> Result<(), FinanceError> {
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
        let ltx = ltx.map_err(FinanceError::Bookkeeping)?;
        match tx.post_ledger(&ltx, None, now).await {
            Ok(_) => {}
            Err(StoreError::Ledger(e)) => return Err(FinanceError::LedgerRefused(e)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
