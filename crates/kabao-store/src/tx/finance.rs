//! The finance aggregate's part of a transaction: ledger postings and balances, payees and withdrawals.

use crate::{LedgerEntry, NewWithdrawal, PayeeRecord, PayeeSnapshot, StoreResult, Withdrawal, WithdrawalState};
use async_trait::async_trait;
use kabao_core::ledger::{Account, LedgerTx, OrderId};
use kabao_core::{Money, ShopId, Timestamp, UserId};

/// The money: double-entry ledger postings with their running balances and entries, shops' payees,
/// and withdrawals. (Named finance, not ledger: [`LedgerTx`] is the core's ledger transaction it posts.)
#[async_trait]
pub trait FinanceTx: Send {
    // ---- ledger ----
    /// Writes a balanced transaction after checking it against the current balances (locking them on
    /// PostgreSQL); refuses with `StoreError::Ledger` and writes nothing if a guarded account would go negative.
    /// Returns the transaction id.
    async fn post_ledger(&mut self, tx: &LedgerTx, order: Option<OrderId>, at: Timestamp) -> StoreResult<i64>;
    /// The stored running balance of an account (zero if it never moved).
    async fn balance(&mut self, account: Account) -> StoreResult<Money>;
    /// Every stored running balance, for verification.
    async fn all_balances(&mut self) -> StoreResult<Vec<(Account, Money)>>;
    /// Every entry, in transaction order, for verification.
    async fn all_ledger_entries(&mut self) -> StoreResult<Vec<LedgerEntry>>;
    /// Up to `limit` entries in (account, entry id) order after position `after` (an account key and an entry
    /// id; `("", 0)` for the start), each with its entry id: the whole ledger a page at a time, every account's
    /// entries together, in bounded memory.
    async fn ledger_entries_by_account(
        &mut self,
        after: (&str, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, LedgerEntry)>>;
    /// Up to `limit` transactions whose entries do not sum to zero: (transaction id, the sum). Summed by the
    /// database, in its own bounded memory.
    async fn unbalanced_ledger_txs(&mut self, limit: i64) -> StoreResult<Vec<(i64, Money)>>;
    /// Up to `limit` accounts whose stored balance is not the sum of their entries (or that have only one of the
    /// two): (account key, stored balance, sum of entries).
    async fn balance_mismatches(&mut self, limit: i64) -> StoreResult<Vec<(String, Money, Money)>>;
    /// Up to `limit` stored balances below zero (whether the account may go negative is the caller's rule).
    async fn negative_balances(&mut self, limit: i64) -> StoreResult<Vec<(Account, Money)>>;
    /// The entries of transactions recorded for an order.
    async fn order_ledger_entries(&mut self, order: OrderId) -> StoreResult<Vec<LedgerEntry>>;
    /// Entries touching one account, newest first (a merchant's statement).
    async fn account_entries(&mut self, account: Account, limit: i64, offset: i64) -> StoreResult<Vec<LedgerEntry>>;

    // ---- payees ----
    async fn insert_payee(&mut self, shop: ShopId, payee: &PayeeSnapshot, at: Timestamp) -> StoreResult<i64>;
    /// A payee, disabled or not, of any shop (callers check the shop).
    async fn payee_by_id(&mut self, id: i64) -> StoreResult<Option<PayeeRecord>>;
    /// A shop's payees that are not disabled, newest first.
    async fn list_shop_payees(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<PayeeRecord>>;
    /// Compare-and-set: disables the payee if it belongs to `shop` and is not disabled; false otherwise.
    async fn disable_payee(&mut self, shop: ShopId, id: i64, at: Timestamp) -> StoreResult<bool>;

    // ---- withdrawals ----
    async fn insert_withdrawal(&mut self, withdrawal: &NewWithdrawal) -> StoreResult<i64>;
    async fn withdrawal_by_id(&mut self, id: i64) -> StoreResult<Option<Withdrawal>>;
    /// A shop's withdrawals, newest first.
    async fn list_shop_withdrawals(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<Withdrawal>>;
    /// Pending withdrawals of all shops that no gateway transfer is paying, oldest first.
    async fn list_pending_withdrawals(&mut self, limit: i64) -> StoreResult<Vec<Withdrawal>>;
    /// The sum of a shop's pending withdrawals that hold nothing in the ledger (requested before the
    /// pending-withdrawal account existed).
    async fn unheld_pending_withdrawals(&mut self, shop: ShopId) -> StoreResult<Money>;
    /// Compare-and-set pending (and no transfer queued) → `to`, recording the payout reference of an approval;
    /// false if it was decided already (or a transfer is queued). Conflict `"withdrawals.payout_ref"` if another
    /// withdrawal has that reference.
    async fn decide_withdrawal(
        &mut self,
        id: i64,
        to: WithdrawalState,
        by: UserId,
        note: Option<&str>,
        payout_ref: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool>;
}
