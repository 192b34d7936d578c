//! SQLite: throttle attempts and spent tokens ([`ThrottlesTx`]).

use super::SqliteTx;
use crate::errors::map_sqlx;
use crate::lite;
use crate::tx::throttles::sql;
use crate::{StoreResult, ThrottlesTx};
use async_trait::async_trait;
use kabao_core::Timestamp;

#[async_trait]
impl ThrottlesTx for SqliteTx {
    async fn lock_throttle_keys(&mut self, keys: &[(&str, &str)]) -> StoreResult<()> {
        let _ = keys; // The write transaction (BEGIN IMMEDIATE) already holds the database's single writer lock.
        Ok(())
    }

    async fn throttle_hits(&mut self, scope: &str, key: &str, limit: i64) -> StoreResult<Vec<Timestamp>> {
        let hits: Vec<i64> = lite::query_scalar(sql::HITS)
            .bind(scope)
            .bind(key)
            .bind(limit)
            .fetch_all(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(hits.into_iter().map(Timestamp::from_millis).collect())
    }

    async fn add_throttle_hit(&mut self, scope: &str, key: &str, at: Timestamp) -> StoreResult<()> {
        lite::query(sql::ADD).bind(scope).bind(key).bind(at.millis()).execute(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn remove_throttle_hit(&mut self, scope: &str, key: &str, at: Timestamp) -> StoreResult<bool> {
        let done = lite::query(sql::REMOVE)
            .bind(scope)
            .bind(key)
            .bind(at.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn clear_throttle_hits(&mut self, scope: &str, key: &str) -> StoreResult<()> {
        lite::query(sql::CLEAR).bind(scope).bind(key).execute(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn spend_token(
        &mut self,
        scope: &str,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let done = lite::query(sql::SPEND)
            .bind(scope)
            .bind(token)
            .bind(expires_at.millis())
            .bind(now.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_throttles(&mut self, before: Timestamp, limit: i64) -> StoreResult<u64> {
        let hits = lite::query(sql::PURGE_HITS)
            .bind(before.millis())
            .bind(limit)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        let tokens = lite::query(sql::PURGE_TOKENS)
            .bind(before.millis())
            .bind(limit)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(hits.rows_affected() + tokens.rows_affected())
    }
}
