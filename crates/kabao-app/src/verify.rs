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

/// Entries read per page of the ledger; problems named before the rest are only counted.
const PAGE: i64 = 5_000;
const MAX_PROBLEMS: usize = 1_000;

/// The problems found, the first [`MAX_PROBLEMS`] named, the rest counted.
#[derive(Default)]
struct Problems {
    named: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, p: String) {
        if self.named.len() < MAX_PROBLEMS {
            // The same problem found twice in a row is named once.
            if self.named.last() != Some(&p) {
                self.named.push(p);
            }
        } else {
            self.more += 1;
        }
    }

    fn into_vec(mut self) -> Vec<String> {
        if self.more > 0 {
            self.named.push(format!("… and {} more problems", self.more));
        }
        self.named
    }
}

/// What the ledger's end state must satisfy across accounts, gathered while the accounts stream past.
#[derive(Default)]
struct Totals {
    /// The compensation fund plus its advances (negative receivables).
    fund: i64,
    /// The insurance pool plus the receivables booked into it.
    pool: i64,
    refunds_in_flight: i64,
}

/// One account's entries as they stream past: its sum and, for an order's escrow, (paid, refunded, settled).
struct Run {
    account: Account,
    sum: i64,
    flows: (i64, i64, i64),
}

/// Recomputes every balance from the entries and checks: each transaction sums to zero; stored balances equal
/// the recomputed ones; no guarded account is negative; each order's escrow equals paid − refunded − settled
/// and fits its state (nothing left in escrow once settled or refunded; a delivered or settled order refunded
/// exactly the price of each item whose claim was refunded); each shop's pending-withdrawal account equals its
/// pending withdrawal requests. Returns the problems found.
///
/// Reads one snapshot in bounded memory whatever the ledger's size: the database sums transactions and
/// compares stored balances; the entries stream a page at a time in account order, so each account is checked
/// when its last entry has passed and only that account is held.
pub async fn ledger(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    let mut tx = store.begin(TxMode::Read).await?;
    let mut problems = Problems::default();
    for (id, sum) in tx.unbalanced_ledger_txs(MAX_PROBLEMS as i64).await? {
        problems.push(format!("transaction {id} does not balance: its entries sum to {} 分", sum.fen()));
    }
    let mismatched = tx.balance_mismatches(MAX_PROBLEMS as i64).await?;
    for (key, kept, sum) in &mismatched {
        problems.push(format!("account {key}: stored balance {} 分, entries say {} 分", kept.fen(), sum.fen()));
    }
    // A negative stored balance equal to the entries' sum is named when its account streams past.
    for (account, fen) in tx.negative_balances(MAX_PROBLEMS as i64).await? {
        if !account.may_go_negative() && mismatched.iter().any(|(k, _, _)| *k == account.key()) {
            problems.push(format!("account {} is negative: {} 分", account.key(), fen.fen()));
        }
    }
    // Pending withdrawals are few (one open request per shop at most): held in memory.
    let mut held: BTreeMap<Account, i64> = BTreeMap::new();
    for w in tx.list_pending_withdrawals(i64::MAX).await? {
        if w.hold_tx_id.is_some() {
            *held.entry(Account::WithdrawalPending(w.shop_id)).or_default() += w.amount.fen();
        }
    }
    let mut totals = Totals::default();
    let mut run: Option<Run> = None;
    let mut after = (String::new(), 0_i64);
    loop {
        let page = tx.ledger_entries_by_account((&after.0, after.1), PAGE).await?;
        for (_, e) in &page {
            if run.as_ref().is_some_and(|r| r.account != e.account) {
                if let Some(done) = run.take() {
                    finish(&mut *tx, done, &mut held, &mut totals, &mut problems).await?;
                }
            }
            let r = run.get_or_insert(Run { account: e.account, sum: 0, flows: (0, 0, 0) });
            r.sum += e.amount.fen();
            entry_rules(e, &mut r.flows, &mut problems);
        }
        match page.last() {
            Some((id, e)) if page.len() as i64 == PAGE => after = (e.account.key(), *id),
            _ => break,
        }
    }
    if let Some(done) = run.take() {
        finish(&mut *tx, done, &mut held, &mut totals, &mut problems).await?;
    }
    // Pending requests whose account has no entry at all.
    for (account, requested) in held {
        if requested != 0 {
            problems.push(format!(
                "{}: holds 0 分 but the shop's pending withdrawals add up to {requested} 分",
                account.key()
            ));
        }
    }
    // The compensation fund never pays out money it does not have: its account plus its advances (negative
    // receivables) stays at or above zero. Nor does the insurance pool.
    if totals.fund < 0 {
        problems.push(format!("the compensation fund advanced {} 分 more than it held", -totals.fund));
    }
    if totals.pool < 0 {
        problems.push(format!("the insurance pool paid out {} 分 more than it held", -totals.pool));
    }
    // Refunds in flight to gateways hold exactly the open gateway refunds (pending, processing, or waiting for
    // the platform team).
    let (open, open_total) = tx.open_gateway_refunds().await?;
    if totals.refunds_in_flight != open_total.fen() {
        problems.push(format!(
            "{}: holds {} 分 but the {open} open gateway refunds add up to {} 分",
            Account::RefundsInFlight.key(),
            totals.refunds_in_flight,
            open_total.fen()
        ));
    }
    Ok(problems.into_vec())
}

/// The rules one entry must keep whatever else is in the ledger: which transactions may move which accounts,
/// and an escrow's flows by kind.
fn entry_rules(e: &kabao_store::LedgerEntry, flows: &mut (i64, i64, i64), problems: &mut Problems) {
    use kabao_core::ledger::TxKind::{
        GatewayRefund, InsurancePayout, InsurancePremium, InsuranceRecovery, InsuranceRefund, Payment, Refund,
        RefundToWallet, Settlement, Withdrawal, WithdrawalRequest, WithdrawalReturn,
    };
    let allowed = match e.account {
        Account::Escrow(order) => {
            match e.kind {
                Payment => flows.0 += e.amount.fen(),
                // The insurance pool's recovery from escrow stands for the claim's refund.
                Refund | InsuranceRecovery => flows.1 -= e.amount.fen(),
                Settlement => flows.2 -= e.amount.fen(),
                other => {
                    problems.push(format!("escrow of order {} moved by a {} transaction", order.0, other.as_str()))
                }
            }
            true
        }
        // A shop's pending-withdrawal account holds exactly its pending requests, moved only by withdrawal
        // transactions: nothing requested is lost or paid twice.
        Account::WithdrawalPending(_) => matches!(e.kind, Withdrawal | WithdrawalRequest | WithdrawalReturn),
        // The insurance pool is moved only by premiums, their refunds, payouts and recoveries; a shop's insurance
        // receivable only by recoveries.
        Account::InsurancePool => {
            matches!(e.kind, InsurancePremium | InsuranceRefund | InsurancePayout | InsuranceRecovery)
        }
        Account::InsuranceReceivable(_) => e.kind == InsuranceRecovery,
        // Refunds in flight: moved only by refunds into it and the refund job out of it.
        Account::RefundsInFlight => {
            matches!(e.kind, Refund | InsuranceRefund | InsurancePayout | GatewayRefund | RefundToWallet)
        }
        _ => true,
    };
    if !allowed {
        problems.push(format!("{} moved by a {} transaction", e.account.key(), e.kind.as_str()));
    }
}

/// Checks an account once all its entries have passed.
async fn finish(
    tx: &mut dyn kabao_store::Tx,
    run: Run,
    held: &mut BTreeMap<Account, i64>,
    totals: &mut Totals,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let Run { account, sum, flows: (paid, refunded, settled) } = run;
    if sum < 0 && !account.may_go_negative() {
        problems.push(format!("account {} is negative: {sum} 分", account.key()));
    }
    match account {
        Account::CompensationFund | Account::FundReceivable(_) => totals.fund += sum,
        Account::InsurancePool | Account::InsuranceReceivable(_) => totals.pool += sum,
        Account::RefundsInFlight => totals.refunds_in_flight = sum,
        Account::WithdrawalPending(_) => {
            let requested = held.remove(&account).unwrap_or(0);
            if sum != requested {
                problems.push(format!(
                    "{}: holds {sum} 分 but the shop's pending withdrawals add up to {requested} 分",
                    account.key()
                ));
            }
        }
        Account::Escrow(order_id) => {
            escrow(tx, order_id, sum, (paid, refunded, settled), problems).await?;
        }
        _ => {}
    }
    Ok(())
}

/// An order's escrow against its flows and its state.
async fn escrow(
    tx: &mut dyn kabao_store::Tx,
    order_id: kabao_core::ledger::OrderId,
    escrow: i64,
    (paid, refunded, settled): (i64, i64, i64),
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let id = order_id.0;
    if escrow != paid - refunded - settled {
        problems
            .push(format!("order {id}: escrow {escrow} 分 ≠ paid {paid} − refunded {refunded} − settled {settled}"));
    }
    if refunded > paid {
        problems.push(format!("order {id}: refunded {refunded} 分 more than paid {paid} 分"));
    }
    let Some(order) = tx.order_by_id(order_id).await? else { return Ok(()) };
    let must_be_empty = matches!(order.state, OrderState::Settled | OrderState::Refunded | OrderState::Expired);
    if must_be_empty && escrow != 0 {
        problems.push(format!(
            "order {} is {} but escrow still holds {escrow} 分",
            order.order_no,
            order.state.as_str()
        ));
    }
    // A delivered order's money leaves escrow only by settlement, or for refunded claims: a claim refund returns
    // the item's price from escrow; an arbiter may refund part of it, and only part from escrow.
    if matches!(order.state, OrderState::Delivered | OrderState::Settled) {
        let claims = tx.order_claims(order.id).await?;
        let refunded_items = claims.iter().filter(|c| c.state == kabao_core::claim::ClaimState::Refunded).count();
        let owed = order.unit_price.fen() * refunded_items as i64;
        if refunded > owed {
            problems.push(format!(
                "order {}: refunded {refunded} 分 from escrow, more than its refunded claims account for ({owed} 分)",
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
    Ok(())
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
