//! PostgreSQL: wrapped data keys ([`KeyringTx`]).

use super::PgTx;
use crate::errors::map_sqlx;
use crate::{rows, DataKeyRecord, KeyringTx, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl KeyringTx for PgTx {
    async fn data_keys(&mut self) -> StoreResult<Vec<DataKeyRecord>> {
        let rows: Vec<rows::DataKeyRow> =
            sqlx::query_as("SELECT purpose, version, wrapped, created_at FROM data_keys ORDER BY purpose, version")
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(rows::data_key).collect())
    }

    async fn insert_data_key(&mut self, key: &DataKeyRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO data_keys (purpose, version, wrapped, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.purpose)
            .bind(key.version)
            .bind(&key.wrapped)
            .bind(key.created_at.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }
}
