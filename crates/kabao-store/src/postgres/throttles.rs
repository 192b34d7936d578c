//! PostgreSQL: throttle attempts and spent tokens ([`ThrottlesTx`]).

use super::PgTx;
use crate::errors::map_sqlx;
use crate::tx::throttles::sql;
use crate::{StoreResult, ThrottlesTx};
use async_trait::async_trait;
use kabao_core::Timestamp;

#[async_trait]
impl ThrottlesTx for PgTx {
    async fn lock_throttle_keys(&mut self, keys: &[(&str, &str)]) -> StoreResult<()> {
        let mut names: Vec<String> = keys.iter().map(|(scope, key)| format!("{scope}\u{1f}{key}")).collect();
        // One order for every transaction, so two of them locking the same keys cannot deadlock.
        names.sort_unstable();
        names.dedup();
        for name in names {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
                .bind(name)
                .execute(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        }
        Ok(())
    }

    async fn throttle_hits(&mut self, scope: &str, key: &str, limit: i64) -> StoreResult<Vec<Timestamp>> {
        let hits: Vec<i64> = sqlx::query_scalar(sql::HITS)
            .bind(scope)
            .bind(key)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(hits.into_iter().map(Timestamp::from_millis).collect())
    }

    async fn add_throttle_hit(&mut self, scope: &str, key: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query(sql::ADD).bind(scope).bind(key).bind(at.millis()).execute(&mut *self.tx).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn remove_throttle_hit(&mut self, scope: &str, key: &str, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(sql::REMOVE)
            .bind(scope)
            .bind(key)
            .bind(at.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn clear_throttle_hits(&mut self, scope: &str, key: &str) -> StoreResult<()> {
        sqlx::query(sql::CLEAR).bind(scope).bind(key).execute(&mut *self.tx).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn spend_token(
        &mut self,
        scope: &str,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::SPEND)
            .bind(scope)
            .bind(token)
            .bind(expires_at.millis())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_throttles(&mut self, before: Timestamp, limit: i64) -> StoreResult<u64> {
        let hits = sqlx::query(sql::PURGE_HITS)
            .bind(before.millis())
            .bind(limit)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let tokens = sqlx::query(sql::PURGE_TOKENS)
            .bind(before.millis())
            .bind(limit)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(hits.rows_affected() + tokens.rows_affected())
    }
}
