//! The PostgreSQL backend, for deployments that outgrow one SQLite file.
//! Write transactions run at READ COMMITTED; every counter change is a single atomic UPDATE, so that is enough.

use crate::errors::{map_migrate, map_sqlx};
use crate::{Backend, NewCardKey, Store, StoreResult, Tx, TxMode};
use async_trait::async_trait;
use kabao_core::vault::Fingerprint;
use kabao_core::ShopId;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};
// The query layer the shared Tx implementation (`impl_tx!`) is written against.
use sqlx as db;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per UNNEST insert and fingerprints per `= ANY` lookup: arrays are one parameter each, so the bound is
/// about memory and statement time, not the 65535-parameter limit.
const KEY_ROWS_PER_INSERT: usize = 10_000;
const FINGERPRINTS_PER_LOOKUP: usize = 10_000;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(map_sqlx)?;
        // A payment and its delivery, once acknowledged, must survive a crash: whatever the server's default,
        // every session of ours waits for its commit to be flushed.
        let options = options.options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new().max_connections(10).connect_with(options).await.map_err(map_sqlx)?;
        Ok(PgStore { pool })
    }

    /// The session's `synchronous_commit` setting (for the test that pins it).
    pub async fn synchronous_commit(&self) -> StoreResult<String> {
        sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&self.pool).await.map_err(map_sqlx)
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(map_migrate)
    }

    async fn begin(&self, mode: TxMode) -> StoreResult<Box<dyn Tx>> {
        let tx = match mode {
            TxMode::Write => self.pool.begin().await,
            TxMode::Read => self.pool.begin_with("BEGIN READ ONLY").await,
        }
        .map_err(map_sqlx)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
}

impl PgTx {
    /// One array parameter per column through UNNEST: a fixed, small statement whatever the chunk size.
    async fn insert_key_rows(&mut self, keys: &[NewCardKey]) -> StoreResult<()> {
        for chunk in keys.chunks(KEY_ROWS_PER_INSERT) {
            let shops: Vec<i64> = chunk.iter().map(|k| k.shop_id.0).collect();
            let products: Vec<i64> = chunk.iter().map(|k| k.product_id.0).collect();
            let batches: Vec<i64> = chunk.iter().map(|k| k.batch_id.0).collect();
            let fingerprints: Vec<&[u8]> = chunk.iter().map(|k| &k.fingerprint.0[..]).collect();
            let ciphertexts: Vec<&[u8]> = chunk.iter().map(|k| &k.ciphertext[..]).collect();
            let versions: Vec<i32> = chunk.iter().map(|k| k.key_version).collect();
            let created: Vec<i64> = chunk.iter().map(|k| k.created_at.millis()).collect();
            sqlx::query(
                "INSERT INTO card_keys (shop_id, product_id, batch_id, fingerprint, ciphertext, key_version, created_at, state) \
                 SELECT s, p, b, f, c, v, t, 'available' \
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BYTEA[], $5::BYTEA[], $6::INTEGER[], $7::BIGINT[]) \
                 AS k(s, p, b, f, c, v, t)",
            )
            .bind(shops)
            .bind(products)
            .bind(batches)
            .bind(fingerprints)
            .bind(ciphertexts)
            .bind(versions)
            .bind(created)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        }
        Ok(())
    }

    async fn fingerprints_in(&mut self, shop: ShopId, fingerprints: &[Fingerprint]) -> StoreResult<Vec<Fingerprint>> {
        let mut found = Vec::new();
        for chunk in fingerprints.chunks(FINGERPRINTS_PER_LOOKUP) {
            let list: Vec<&[u8]> = chunk.iter().map(|f| &f.0[..]).collect();
            let rows: Vec<Vec<u8>> =
                sqlx::query_scalar("SELECT fingerprint FROM card_keys WHERE shop_id = $1 AND fingerprint = ANY($2)")
                    .bind(shop.0)
                    .bind(list)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err(map_sqlx)?;
            for bytes in rows {
                found.push(crate::rows::fingerprint(&bytes)?);
            }
        }
        Ok(found)
    }
}

impl PgTx {
    /// The oldest available keys of a product, locked for this transaction. SKIP LOCKED lets concurrent
    /// buyers take other keys instead of queueing behind each other; one that finds too few is refunded.
    async fn available_key_ids(&mut self, product: kabao_core::ProductId, n: i64) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT id FROM card_keys WHERE product_id = $1 AND state = 'available' ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(product.0)
        .bind(n)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    /// An account's balance, creating its row at zero (a row that does not exist cannot be locked), locked until
    /// this transaction ends. Callers take accounts in a stable sorted order, so two postings cannot deadlock.
    async fn balance_for_update(&mut self, account: &str) -> StoreResult<i64> {
        sqlx::query(
            "INSERT INTO account_balances (account, balance_fen) VALUES ($1, 0) ON CONFLICT (account) DO NOTHING",
        )
        .bind(account)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        sqlx::query_scalar("SELECT balance_fen FROM account_balances WHERE account = $1 FOR UPDATE")
            .bind(account)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx)
    }
}

impl PgTx {
    async fn finish(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_sqlx)
    }
}

crate::sql_tx::impl_tx!(PgTx);
