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
///
/// Several instances may start at once on a fresh database: each reads, finds keys missing and inserts. The
/// losers' inserts conflict; they give their transaction up and read again, so every instance builds its
/// keyring from the rows that won, never from what it read before the race (which would blame the master key).
pub async fn load_or_create(store: &dyn Store, master: &MasterKey, now: Timestamp) -> Result<Keyring, KeyringError> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let mut tx = store.begin(TxMode::Write).await?;
        let rows = tx.data_keys().await?;
        let missing: Vec<&str> = [PURPOSE_FINGERPRINT, PURPOSE_CARD_KEY]
            .into_iter()
            .filter(|purpose| !rows.iter().any(|r| r.purpose == *purpose))
            .collect();
        if missing.is_empty() {
            drop(tx);
            return build(master, &rows);
        }
        let mut lost_race = false;
        for purpose in missing {
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
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    lost_race = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if lost_race {
            // Another instance created the key first; this transaction is spoilt (PostgreSQL aborts it).
            drop(tx);
            continue;
        }
        match tx.commit().await {
            // Read again: the keyring is built from the stored rows only.
            Ok(()) | Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Database(format!(
        "the data keys could not be created or read after {ATTEMPTS} attempts (other instances kept creating them)"
    ))
    .into())
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
