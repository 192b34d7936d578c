//! The card-key keyring: data keys live in the store wrapped by the master key, and are created on first use.
//! The master key never touches the database; rotating it means re-wrapping a handful of rows, not every key.

use kabao_core::vault::{Keyring, MasterKey, VaultError, KEY_LEN, NONCE_LEN, PURPOSE_CARD_KEY, PURPOSE_FINGERPRINT};
use kabao_core::{Lang, Localized, Timestamp};
use kabao_store::{DataKeyRecord, Store, StoreError, TxMode};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

/// Why the keyring could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("key store: {0}")]
    Store(#[from] StoreError),
    #[error("{0} (is KABAO_MASTER_KEY / the key file the one this database was created with?)")]
    Vault(#[from] VaultError),
}

impl Localized for KeyringError {
    fn code(&self) -> &'static str {
        "internal"
    }
    fn message(&self, lang: Lang) -> String {
        crate::error::internal_words(lang).into()
    }
}

/// Loads the data keys, creating the fingerprint key and card-key key version 1 on a fresh database.
pub async fn load_or_create(store: &dyn Store, master: &MasterKey, now: Timestamp) -> Result<Keyring, KeyringError> {
    // Two instances starting at once may both try to create; the loser's insert conflicts and it reloads.
    for _ in 0..2 {
        let mut tx = store.begin(TxMode::Write).await?;
        let rows = tx.data_keys().await?;
        let mut created = false;
        for purpose in [PURPOSE_FINGERPRINT, PURPOSE_CARD_KEY] {
            if !rows.iter().any(|r| r.purpose == purpose) {
                let mut material = Zeroizing::new([0u8; KEY_LEN]);
                OsRng.fill_bytes(&mut *material);
                let mut nonce = [0u8; NONCE_LEN];
                OsRng.fill_bytes(&mut nonce);
                let record = DataKeyRecord {
                    purpose: purpose.to_string(),
                    version: 1,
                    wrapped: master.wrap(purpose, 1, &material, nonce),
                    created_at: now,
                };
                match tx.insert_data_key(&record).await {
                    Ok(()) => created = true,
                    Err(StoreError::Conflict(_)) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if created {
            tx.commit().await?;
            continue;
        }
        drop(tx);
        return build(master, &rows);
    }
    let mut tx = store.begin(TxMode::Read).await?;
    let rows = tx.data_keys().await?;
    build(master, &rows)
}

fn build(master: &MasterKey, rows: &[DataKeyRecord]) -> Result<Keyring, KeyringError> {
    let mut fingerprint = None;
    let mut card_keys = Vec::new();
    for row in rows {
        let key = master.unwrap_key(&row.purpose, row.version, &row.wrapped)?;
        match row.purpose.as_str() {
            PURPOSE_FINGERPRINT if row.version == 1 => fingerprint = Some(key),
            PURPOSE_CARD_KEY => card_keys.push((row.version, key)),
            _ => {}
        }
    }
    let fingerprint = fingerprint.ok_or(VaultError::UnknownVersion(1))?;
    if card_keys.is_empty() {
        return Err(VaultError::UnknownVersion(1).into());
    }
    Ok(Keyring::new(fingerprint, card_keys))
}
