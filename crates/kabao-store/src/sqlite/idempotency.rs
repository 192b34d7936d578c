//! SQLite: idempotency records ([`IdempotencyTx`]).

use super::SqliteTx;
use crate::errors::map_sqlx;
use crate::{lite, rows, IdempotencyRecord, IdempotencyTx, NewIdempotency, StoreResult, StoredResponse};
use async_trait::async_trait;
use kabao_core::Timestamp;
use std::sync::LazyLock;

#[async_trait]
impl IdempotencyTx for SqliteTx {
    async fn idempotency_record(&mut self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM idempotency_records WHERE scope = $1 AND key = $2", rows::IDEMPOTENCY_COLS)
        });
        let row = lite::query(&SQL).bind(scope).bind(key).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        row.as_ref().map(rows::idempotency_from_row).transpose()
    }

    async fn idempotency_reserve(&mut self, new: &NewIdempotency<'_>) -> StoreResult<()> {
        lite::query(
            "INSERT INTO idempotency_records (scope, key, fingerprint, runner, lease_until, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.scope)
        .bind(new.key)
        .bind(new.fingerprint)
        .bind(new.runner)
        .bind(new.lease_until.millis())
        .bind(new.created_at.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn idempotency_take_over(
        &mut self,
        scope: &str,
        key: &str,
        runner: &[u8],
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<bool> {
        let done = lite::query(
            "UPDATE idempotency_records SET runner = $1, lease_until = $2 \
             WHERE scope = $3 AND key = $4 AND status IS NULL AND lease_until < $5",
        )
        .bind(runner)
        .bind(lease_until.millis())
        .bind(scope)
        .bind(key)
        .bind(now.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn idempotency_complete(
        &mut self,
        scope: &str,
        key: &str,
        runner: &[u8],
        response: &StoredResponse,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = lite::query(
            "UPDATE idempotency_records SET status = $1, body = $2, key_version = $3, completed_at = $4 \
             WHERE scope = $5 AND key = $6 AND runner = $7 AND status IS NULL",
        )
        .bind(i32::from(response.status))
        .bind(&response.body)
        .bind(response.key_version)
        .bind(at.millis())
        .bind(scope)
        .bind(key)
        .bind(runner)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn idempotency_release(&mut self, scope: &str, key: &str, runner: &[u8]) -> StoreResult<bool> {
        let done = lite::query(
            "DELETE FROM idempotency_records WHERE scope = $1 AND key = $2 AND runner = $3 AND status IS NULL",
        )
        .bind(scope)
        .bind(key)
        .bind(runner)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn idempotency_purge(&mut self, before: Timestamp, limit: i64) -> StoreResult<u64> {
        let done = lite::query(
            "DELETE FROM idempotency_records WHERE (scope, key) IN \
             (SELECT scope, key FROM idempotency_records WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        )
        .bind(before.millis())
        .bind(limit)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}
