//! Offline checks of the books and the audit trail, behind `kabao ledger verify` and `kabao audit verify`.
//! They recompute from the raw rows and name every problem they find. Also the health check's question: does
//! the database answer? Storage is all that can fail here, so these return the store's own error.

use kabao_core::audit::verify_chain;
use kabao_core::ledger::Account;
use kabao_core::order::OrderState;
use kabao_store::{Store, StoreError, TxMode};
use std::collections::BTreeMap;

/// Whether the database answers (`GET /healthz`).
pub async fn database(store: &dyn Store) -> Result<(), StoreError> {
    store.ping().await
}

/// Recomputes every balance from the entries and checks: each transaction sums to zero; stored balances equal
/// the recomputed ones; no guarded account is negative; each order's escrow equals paid − refunded − settled
/// and fits its state (nothing left in escrow once settled or refunded; a delivered or settled order refunded
/// exactly the price of each item whose claim was refunded); each shop's pending-withdrawal account equals its
/// pending withdrawal requests. Returns the problems found.
pub async fn ledger(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    let mut tx = store.begin(TxMode::Read).await?;
    let entries = tx.all_ledger_entries().await?;
    let stored = tx.all_balances().await?;
    let mut problems = Vec::new();
    let mut per_tx: BTreeMap<i64, i64> = BTreeMap::new();
    let mut balances: BTreeMap<Account, i64> = BTreeMap::new();
    // Per order: (paid, refunded, settled) as seen on its escrow account.
    let mut flows: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
    for e in &entries {
        *per_tx.entry(e.tx_id).or_default() += e.amount.fen();
        *balances.entry(e.account).or_default() += e.amount.fen();
        if let Account::Escrow(order) = e.account {
            let f = flows.entry(order.0).or_default();
            match e.kind {
                kabao_core::ledger::TxKind::Payment => f.0 += e.amount.fen(),
                // The insurance pool's recovery from escrow stands for the claim's refund.
                kabao_core::ledger::TxKind::Refund | kabao_core::ledger::TxKind::InsuranceRecovery => {
                    f.1 -= e.amount.fen()
                }
                kabao_core::ledger::TxKind::Settlement => f.2 -= e.amount.fen(),
                other => {
                    problems.push(format!("escrow of order {} moved by a {} transaction", order.0, other.as_str()))
                }
            }
        }
    }
    // A shop's pending-withdrawal account holds exactly its pending requests, moved only by withdrawal
    // transactions: nothing requested is lost or paid twice.
    for e in &entries {
        use kabao_core::ledger::TxKind::{Withdrawal, WithdrawalRequest, WithdrawalReturn};
        if matches!(e.account, Account::WithdrawalPending(_))
            && !matches!(e.kind, Withdrawal | WithdrawalRequest | WithdrawalReturn)
        {
            problems.push(format!("{} moved by a {} transaction", e.account.key(), e.kind.as_str()));
        }
    }
    // The insurance pool is moved only by premiums, their refunds, payouts and recoveries (and never goes
    // negative, below); a shop's insurance receivable only by recoveries.
    for e in &entries {
        use kabao_core::ledger::TxKind::{InsurancePayout, InsurancePremium, InsuranceRecovery, InsuranceRefund};
        let pool_kind = matches!(e.kind, InsurancePremium | InsuranceRefund | InsurancePayout | InsuranceRecovery);
        if (e.account == Account::InsurancePool && !pool_kind)
            || (matches!(e.account, Account::InsuranceReceivable(_)) && e.kind != InsuranceRecovery)
        {
            problems.push(format!("{} moved by a {} transaction", e.account.key(), e.kind.as_str()));
        }
    }
    let mut held: BTreeMap<Account, i64> = BTreeMap::new();
    for w in tx.list_pending_withdrawals(i64::MAX).await? {
        if w.hold_tx_id.is_some() {
            *held.entry(Account::WithdrawalPending(w.shop_id)).or_default() += w.amount.fen();
        }
    }
    let pending_accounts: std::collections::BTreeSet<&Account> =
        balances.keys().filter(|a| matches!(a, Account::WithdrawalPending(_))).chain(held.keys()).collect();
    for account in pending_accounts {
        let (in_books, requested) =
            (balances.get(account).copied().unwrap_or(0), held.get(account).copied().unwrap_or(0));
        if in_books != requested {
            problems.push(format!(
                "{}: holds {in_books} 分 but the shop's pending withdrawals add up to {requested} 分",
                account.key()
            ));
        }
    }
    for (id, sum) in &per_tx {
        if *sum != 0 {
            problems.push(format!("transaction {id} does not balance: its entries sum to {sum} 分"));
        }
    }
    let stored: BTreeMap<Account, i64> = stored.into_iter().map(|(a, m)| (a, m.fen())).collect();
    for (account, fen) in balances.iter().chain(stored.iter()) {
        let computed = balances.get(account).copied().unwrap_or(0);
        let kept = stored.get(account).copied().unwrap_or(0);
        if computed != kept {
            problems.push(format!("account {}: stored balance {kept} 分, entries say {computed} 分", account.key()));
        }
        if *fen < 0 && !account.may_go_negative() {
            problems.push(format!("account {} is negative: {fen} 分", account.key()));
        }
    }
    problems.dedup();
    // The compensation fund never pays out money it does not have: its account plus its advances (negative
    // receivables) stays at or above zero.
    let fund = balances.get(&Account::CompensationFund).copied().unwrap_or(0)
        + balances.iter().filter(|(a, _)| matches!(a, Account::FundReceivable(_))).map(|(_, v)| *v).sum::<i64>();
    if fund < 0 {
        problems.push(format!("the compensation fund advanced {} 分 more than it held", -fund));
    }
    // Nor does the insurance pool: its account plus the receivables booked into it stays at or above zero.
    let pool = balances.get(&Account::InsurancePool).copied().unwrap_or(0)
        + balances.iter().filter(|(a, _)| matches!(a, Account::InsuranceReceivable(_))).map(|(_, v)| *v).sum::<i64>();
    if pool < 0 {
        problems.push(format!("the insurance pool paid out {} 分 more than it held", -pool));
    }
    // Refunds in flight to gateways: moved only by refunds into it and the refund job out of it, and holding
    // exactly the open gateway refunds (pending, processing, or waiting for the platform team).
    for e in &entries {
        use kabao_core::ledger::TxKind::{GatewayRefund, InsurancePayout, InsuranceRefund, Refund, RefundToWallet};
        if e.account == Account::RefundsInFlight
            && !matches!(e.kind, Refund | InsuranceRefund | InsurancePayout | GatewayRefund | RefundToWallet)
        {
            problems.push(format!("{} moved by a {} transaction", e.account.key(), e.kind.as_str()));
        }
    }
    let in_flight = balances.get(&Account::RefundsInFlight).copied().unwrap_or(0);
    let (open, open_total) = tx.open_gateway_refunds().await?;
    if in_flight != open_total.fen() {
        problems.push(format!(
            "{}: holds {in_flight} 分 but the {open} open gateway refunds add up to {} 分",
            Account::RefundsInFlight.key(),
            open_total.fen()
        ));
    }
    for (order_id, (paid, refunded, settled)) in &flows {
        let escrow = balances.get(&Account::Escrow(kabao_core::ledger::OrderId(*order_id))).copied().unwrap_or(0);
        if escrow != paid - refunded - settled {
            problems.push(format!(
                "order {order_id}: escrow {escrow} 分 ≠ paid {paid} − refunded {refunded} − settled {settled}"
            ));
        }
        if refunded > paid {
            problems.push(format!("order {order_id}: refunded {refunded} 分 more than paid {paid} 分"));
        }
        if let Some(order) = tx.order_by_id(kabao_core::ledger::OrderId(*order_id)).await? {
            let must_be_empty = matches!(order.state, OrderState::Settled | OrderState::Refunded | OrderState::Expired);
            if must_be_empty && escrow != 0 {
                problems.push(format!(
                    "order {} is {} but escrow still holds {escrow} 分",
                    order.order_no,
                    order.state.as_str()
                ));
            }
            // A delivered order's money leaves escrow only by settlement, or for refunded claims: a claim refund
            // returns the item's price from escrow; an arbiter may refund part of it, and only part from escrow.
            if matches!(order.state, OrderState::Delivered | OrderState::Settled) {
                let claims = tx.order_claims(order.id).await?;
                let refunded_items =
                    claims.iter().filter(|c| c.state == kabao_core::claim::ClaimState::Refunded).count();
                let owed = order.unit_price.fen() * refunded_items as i64;
                if *refunded > owed {
                    problems.push(format!(
                        "order {}: refunded {refunded} 分 from escrow, more than its refunded claims account for \
                         ({owed} 分)",
                        order.order_no
                    ));
                }
            }
            if order.state == OrderState::Delivered && escrow != order.amount.fen() - refunded {
                problems.push(format!(
                    "order {} is delivered but escrow holds {escrow} 分 of {} 分 (after {refunded} 分 refunded)",
                    order.order_no,
                    order.amount.fen()
                ));
            }
        }
    }
    Ok(problems)
}

/// Re-checks every order's event chain; returns each broken chain with its first break.
pub async fn audit(store: &dyn Store) -> Result<(usize, Vec<String>), StoreError> {
    let mut tx = store.begin(TxMode::Read).await?;
    let orders = tx.orders_with_events().await?;
    let mut problems = Vec::new();
    for id in &orders {
        let events = tx.order_events(*id).await?;
        if let Err(e) = verify_chain(&events) {
            problems.push(format!("order {}: {e}", id.0));
        }
    }
    Ok((orders.len(), problems))
}
