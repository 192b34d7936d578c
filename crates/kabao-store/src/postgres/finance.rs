//! PostgreSQL: ledger postings and balances, payees and withdrawals ([`FinanceTx`]).

use super::PgTx;
use crate::errors::{corrupt, map_sqlx};
use crate::{
    rows, FinanceTx, LedgerEntry, NewWithdrawal, PayeeRecord, PayeeSnapshot, StoreResult, Withdrawal, WithdrawalState,
};
use async_trait::async_trait;
use kabao_core::ledger::{Account, LedgerTx, OrderId};
use kabao_core::{Money, ShopId, Timestamp, UserId};
use std::collections::BTreeMap;
use std::sync::LazyLock;

#[async_trait]
impl FinanceTx for PgTx {
    // ---- ledger ----

    async fn post_ledger(&mut self, ltx: &LedgerTx, order: Option<OrderId>, at: Timestamp) -> StoreResult<i64> {
        // Three statements whatever the number of accounts (each a round trip to the server): make sure every
        // touched account has a balance row, lock them all in one stable order (against deadlocks) and read
        // them, then write the transaction, its entries and the balances in one statement. The rules' check runs
        // between the lock and the write, so a refusal writes nothing (at most zero-balance rows for accounts
        // that never moved, which every verification accepts).
        let mut keys: Vec<String> = ltx.postings().iter().map(|p| p.account.key()).collect();
        keys.sort();
        keys.dedup();
        sqlx::query(
            "INSERT INTO account_balances (account, balance_fen) SELECT a, 0 FROM unnest($1::text[]) AS u(a) \
             ON CONFLICT (account) DO NOTHING",
        )
        .bind(&keys)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let locked: Vec<(String, i64)> = sqlx::query_as(
            "SELECT account, balance_fen FROM account_balances WHERE account = ANY($1) ORDER BY account FOR UPDATE",
        )
        .bind(&keys)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let balances: BTreeMap<String, i64> = locked.into_iter().collect();
        ltx.check(|a| Money::from_fen(balances.get(&a.key()).copied().unwrap_or(0)))?;
        let accounts: Vec<String> = ltx.postings().iter().map(|p| p.account.key()).collect();
        let amounts: Vec<i64> = ltx.postings().iter().map(|p| p.amount.fen()).collect();
        sqlx::query_scalar(
            "WITH t AS (INSERT INTO ledger_txs (kind, order_id, created_at) VALUES ($1, $2, $3) RETURNING id), \
             e AS (INSERT INTO ledger_entries (tx_id, account, amount_fen) \
                   SELECT t.id, p.a, p.f FROM t, unnest($4::text[], $5::bigint[]) WITH ORDINALITY AS p(a, f, n) \
                   ORDER BY p.n), \
             b AS (INSERT INTO account_balances (account, balance_fen) \
                   SELECT a, SUM(f) FROM unnest($4::text[], $5::bigint[]) AS p(a, f) GROUP BY a \
                   ON CONFLICT (account) DO UPDATE \
                   SET balance_fen = account_balances.balance_fen + excluded.balance_fen) \
             SELECT id FROM t",
        )
        .bind(ltx.kind().as_str())
        .bind(order.map(|o| o.0))
        .bind(at.millis())
        .bind(&accounts)
        .bind(&amounts)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn balance(&mut self, account: Account) -> StoreResult<Money> {
        let fen: Option<i64> = sqlx::query_scalar("SELECT balance_fen FROM account_balances WHERE account = $1")
            .bind(account.key())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(Money::from_fen(fen.unwrap_or(0)))
    }

    async fn all_balances(&mut self) -> StoreResult<Vec<(Account, Money)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT account, balance_fen FROM account_balances ORDER BY account")
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(a, f)| {
                let account = Account::parse_key(&a).ok_or_else(|| corrupt("account_balances.account"))?;
                Ok((account, Money::from_fen(f)))
            })
            .collect()
    }

    async fn all_ledger_entries(&mut self) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<rows::LedgerRow> =
            sqlx::query_as(rows::LEDGER_SELECT_ALL).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::ledger_entry).collect()
    }

    async fn ledger_entries_by_account(
        &mut self,
        after: (&str, i64),
        limit: i64,
    ) -> StoreResult<Vec<(i64, LedgerEntry)>> {
        let rows: Vec<rows::LedgerPageRow> = sqlx::query_as(rows::LEDGER_SELECT_BY_ACCOUNT)
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(rows::ledger_page_entry).collect()
    }

    async fn unbalanced_ledger_txs(&mut self, limit: i64) -> StoreResult<Vec<(i64, Money)>> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as(rows::LEDGER_UNBALANCED).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(|(id, fen)| (id, Money::from_fen(fen))).collect())
    }

    async fn balance_mismatches(&mut self, limit: i64) -> StoreResult<Vec<(String, Money, Money)>> {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as(rows::BALANCE_MISMATCHES).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(|(a, kept, sum)| (a, Money::from_fen(kept), Money::from_fen(sum))).collect())
    }

    async fn negative_balances(&mut self, limit: i64) -> StoreResult<Vec<(Account, Money)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as(rows::NEGATIVE_BALANCES).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(a, f)| {
                let account = Account::parse_key(&a).ok_or_else(|| corrupt("account_balances.account"))?;
                Ok((account, Money::from_fen(f)))
            })
            .collect()
    }

    async fn order_ledger_entries(&mut self, order: OrderId) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<rows::LedgerRow> =
            sqlx::query_as(rows::LEDGER_SELECT_ORDER).bind(order.0).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::ledger_entry).collect()
    }

    async fn account_entries(&mut self, account: Account, limit: i64, offset: i64) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<rows::LedgerRow> = sqlx::query_as(rows::LEDGER_SELECT_ACCOUNT)
            .bind(account.key())
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(rows::ledger_entry).collect()
    }

    // ---- payees ----

    async fn insert_payee(&mut self, shop: ShopId, payee: &PayeeSnapshot, at: Timestamp) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO payees (shop_id, kind, account, holder_name, bank_name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(shop.0)
        .bind(payee.kind.as_str())
        .bind(&payee.account)
        .bind(&payee.holder_name)
        .bind(payee.bank_name.as_deref())
        .bind(at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn payee_by_id(&mut self, id: i64) -> StoreResult<Option<PayeeRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM payees WHERE id = $1", rows::PAYEE_COLS));
        let row: Option<rows::PayeeRow> =
            sqlx::query_as(&SQL).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::payee).transpose()
    }

    async fn list_shop_payees(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<PayeeRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM payees WHERE shop_id = $1 AND disabled_at IS NULL ORDER BY id DESC LIMIT $2",
                rows::PAYEE_COLS
            )
        });
        let rows: Vec<rows::PayeeRow> =
            sqlx::query_as(&SQL).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::payee).collect()
    }

    async fn disable_payee(&mut self, shop: ShopId, id: i64, at: Timestamp) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE payees SET disabled_at = $1 WHERE id = $2 AND shop_id = $3 AND disabled_at IS NULL")
                .bind(at.millis())
                .bind(id)
                .bind(shop.0)
                .execute(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    // ---- withdrawals ----

    async fn insert_withdrawal(&mut self, w: &NewWithdrawal) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO withdrawals (shop_id, amount_fen, state, requested_at, fee_fen, payee_id, payee_kind, \
             payee_account, payee_name, payee_bank, hold_tx_id) \
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(w.shop_id.0)
        .bind(w.amount.fen())
        .bind(w.requested_at.millis())
        .bind(w.fee.fen())
        .bind(w.payee_id)
        .bind(w.payee.kind.as_str())
        .bind(&w.payee.account)
        .bind(&w.payee.holder_name)
        .bind(w.payee.bank_name.as_deref())
        .bind(w.hold_tx_id)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn withdrawal_by_id(&mut self, id: i64) -> StoreResult<Option<Withdrawal>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM withdrawals WHERE id = $1", rows::WITHDRAWAL_COLS));
        let row: Option<rows::WithdrawalRow> =
            sqlx::query_as(&SQL).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::withdrawal).transpose()
    }

    async fn list_shop_withdrawals(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<Withdrawal>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM withdrawals WHERE shop_id = $1 ORDER BY id DESC LIMIT $2", rows::WITHDRAWAL_COLS)
        });
        let rows: Vec<rows::WithdrawalRow> =
            sqlx::query_as(&SQL).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::withdrawal).collect()
    }

    async fn list_pending_withdrawals(&mut self, limit: i64) -> StoreResult<Vec<Withdrawal>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM withdrawals WHERE state = 'pending' AND transfer_state IS NULL ORDER BY id LIMIT $1",
                rows::WITHDRAWAL_COLS
            )
        });
        let rows: Vec<rows::WithdrawalRow> =
            sqlx::query_as(&SQL).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::withdrawal).collect()
    }

    async fn unheld_pending_withdrawals(&mut self, shop: ShopId) -> StoreResult<Money> {
        let fen: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM withdrawals \
             WHERE shop_id = $1 AND state = 'pending' AND hold_tx_id IS NULL",
        )
        .bind(shop.0)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(Money::from_fen(fen.unwrap_or(0)))
    }

    async fn decide_withdrawal(
        &mut self,
        id: i64,
        to: WithdrawalState,
        by: UserId,
        note: Option<&str>,
        payout_ref: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE withdrawals SET state = $1, decided_by = $2, note = $3, decided_at = $4, payout_ref = $5 \
             WHERE id = $6 AND state = 'pending' AND transfer_state IS NULL",
        )
        .bind(to.as_str())
        .bind(by.0)
        .bind(note)
        .bind(at.millis())
        .bind(payout_ref)
        .bind(id)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
