//! The SQLite backend: the embedded default, one file in WAL mode.
//! SQLite allows one writer at a time, so writes go through a one-connection pool and start with
//! `BEGIN IMMEDIATE` (taking the lock up front, waiting up to the busy timeout); reads use their own pool.

use crate::errors::{map_migrate, map_sqlx};
use crate::{Backend, NewCardKey, Store, StoreError, StoreResult, Tx, TxMode};
use async_trait::async_trait;
use kabao_core::vault::Fingerprint;
use kabao_core::ShopId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite allows 32766 bound parameters per statement; 7 per key row.
const KEY_ROWS_PER_INSERT: usize = 4_000;
/// Fingerprints per `IN (...)` lookup.
const FINGERPRINTS_PER_LOOKUP: usize = 1_000;
const READERS: u32 = 4;
/// Negative means KiB: 64 MiB.
const WRITER_CACHE: &str = "-65536";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Set for [`SqliteStore::open_in_memory`]: the scratch file to delete when the store is dropped.
    scratch: Option<PathBuf>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and its parent directory.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("cannot create database directory: {e}")))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL, not NORMAL: with NORMAL a power loss can drop the last commits, and these are payments.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // A bigger page cache for the writer: a large import inserts into the (shop, fingerprint) index in random
        // order, and with SQLite's 2 MiB default most of those inserts would miss the cache.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("cache_size", WRITER_CACHE))
            .await
            .map_err(map_sqlx)?;
        // query_only makes an accidental write through a read transaction fail instead of racing the writer.
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.pragma("query_only", "ON"))
            .await
            .map_err(map_sqlx)?;
        Ok(SqliteStore { writer, reader, scratch: None })
    }

    /// A private, empty database for tests. It is a scratch file in the temp directory rather than a
    /// `:memory:` database, because only a file in WAL mode lets readers run beside the writer as in production.
    pub async fn open_in_memory() -> StoreResult<SqliteStore> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let name =
            format!("kabao-test-{}-{}-{}.db", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        let mut store = SqliteStore::open(&path).await?;
        store.scratch = Some(path);
        Ok(store)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(path) = &self.scratch {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                // Best effort: a leftover scratch file in /tmp is harmless.
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.writer).await.map_err(map_migrate)
    }

    async fn begin(&self, mode: TxMode) -> StoreResult<Box<dyn Tx>> {
        let tx = match mode {
            TxMode::Write => self.writer.begin_with("BEGIN IMMEDIATE").await,
            TxMode::Read => self.reader.begin().await,
        }
        .map_err(map_sqlx)?;
        Ok(Box::new(SqliteTx { tx }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

pub struct SqliteTx {
    tx: sqlx::Transaction<'static, Sqlite>,
}

impl SqliteTx {
    async fn insert_key_rows(&mut self, keys: &[NewCardKey]) -> StoreResult<()> {
        for chunk in keys.chunks(KEY_ROWS_PER_INSERT) {
            let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
                "INSERT INTO card_keys (shop_id, product_id, batch_id, fingerprint, ciphertext, key_version, created_at, state) ",
            );
            qb.push_values(chunk, |mut row, key| {
                row.push_bind(key.shop_id.0)
                    .push_bind(key.product_id.0)
                    .push_bind(key.batch_id.0)
                    .push_bind(&key.fingerprint.0[..])
                    .push_bind(&key.ciphertext[..])
                    .push_bind(key.key_version)
                    .push_bind(key.created_at.millis())
                    .push("'available'");
            });
            qb.build().execute(&mut *self.tx).await.map_err(map_sqlx)?;
        }
        Ok(())
    }

    async fn fingerprints_in(&mut self, shop: ShopId, fingerprints: &[Fingerprint]) -> StoreResult<Vec<Fingerprint>> {
        let mut found = Vec::new();
        for chunk in fingerprints.chunks(FINGERPRINTS_PER_LOOKUP) {
            let mut qb: QueryBuilder<'_, Sqlite> =
                QueryBuilder::new("SELECT fingerprint FROM card_keys WHERE shop_id = ");
            qb.push_bind(shop.0).push(" AND fingerprint IN (");
            let mut list = qb.separated(", ");
            for fp in chunk {
                list.push_bind(&fp.0[..]);
            }
            list.push_unseparated(")");
            let rows: Vec<Vec<u8>> = qb.build_query_scalar().fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
            for bytes in rows {
                found.push(crate::rows::fingerprint(&bytes)?);
            }
        }
        Ok(found)
    }
}

impl SqliteTx {
    /// The oldest available keys of a product. The writer connection is exclusive, so nothing can take
    /// them before this transaction marks them sold.
    async fn available_key_ids(&mut self, product: kabao_core::ProductId, n: i64) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT id FROM card_keys WHERE product_id = $1 AND state = 'available' ORDER BY id LIMIT $2",
        )
        .bind(product.0)
        .bind(n)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    /// An account's balance (zero if it has no row yet). The writer connection is exclusive, so nothing needs
    /// locking and nothing is written: a refused ledger transaction leaves no trace.
    async fn balance_for_update(&mut self, account: &str) -> StoreResult<i64> {
        let fen: Option<i64> = sqlx::query_scalar("SELECT balance_fen FROM account_balances WHERE account = $1")
            .bind(account)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(fen.unwrap_or(0))
    }
}

crate::sql_tx::impl_tx!(SqliteTx);

#[cfg(test)]
mod tests {
    use super::*;
    use kabao_core::UserId;

    /// Text the domain does not know is reported as corruption, never a panic.
    #[tokio::test]
    async fn unknown_enum_text_reads_as_corrupt() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query("INSERT INTO users (username, password_hash, role, created_at) VALUES ('x', 'h', 'wizard', 0)")
            .execute(&store.writer)
            .await
            .unwrap();
        let mut tx = store.begin(TxMode::Read).await.unwrap();
        let err = tx.user_by_id(UserId(1)).await.unwrap_err();
        assert!(matches!(&err, StoreError::Database(m) if m.contains("corrupt users.role")), "{err:?}");
    }

    #[tokio::test]
    async fn read_transactions_cannot_write() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let mut tx = store.begin(TxMode::Read).await.unwrap();
        let user = crate::NewUser {
            username: "x".into(),
            email: None,
            password_hash: "h".into(),
            role: kabao_core::user::Role::Buyer,
            created_at: kabao_core::Timestamp(0),
        };
        assert!(matches!(tx.insert_user(&user).await, Err(StoreError::Database(_))));
    }

    #[tokio::test]
    async fn open_creates_parent_directory_and_file() {
        let dir = std::env::temp_dir().join(format!("kabao-open-{}", std::process::id()));
        let path = dir.join("nested").join("kabao.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store.migrate().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&store.writer).await.unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&store.writer).await.unwrap();
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&store.writer).await.unwrap();
        assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
        store.close().await;
        assert!(path.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
