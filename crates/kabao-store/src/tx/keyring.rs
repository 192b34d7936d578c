//! The keyring aggregate's part of a transaction: wrapped data keys.

use crate::{DataKeyRecord, StoreResult};
use async_trait::async_trait;

/// The data keys that seal card keys and deliveries, stored wrapped by the master key.
#[async_trait]
pub trait KeyringTx: Send {
    async fn data_keys(&mut self) -> StoreResult<Vec<DataKeyRecord>>;
    /// Conflict `"data_keys.version"` if (purpose, version) exists.
    async fn insert_data_key(&mut self, key: &DataKeyRecord) -> StoreResult<()>;
}
