//! The PostgreSQL backend, for deployments that outgrow one SQLite file.
//! Write transactions run at READ COMMITTED; every counter change is a single atomic UPDATE, so that is enough.
//! This file holds the pool and transactions; the queries are in one file per aggregate beside it (`users.rs`,
//! `claims.rs`, ...), each implementing that aggregate's trait for [`PgTx`].

mod catalog;
mod claims;
mod email;
mod finance;
mod history;
mod idempotency;
mod insurance;
mod jobs;
mod keyring;
mod keys;
mod orders;
mod promotions;
mod reconcile;
mod refunds;
mod shops;
mod throttles;
mod trust;
mod users;
mod webhooks;

use crate::errors::{map_migrate, map_sqlx};
use crate::{Backend, Store, StoreError, StoreResult, Tx, TxMode};
use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(map_sqlx)?;
        // A payment and its delivery, once acknowledged, must survive a crash: whatever the server's default,
        // every session of ours waits for its commit to be flushed.
        let options = options.options([("synchronous_commit", "on")]);
        // Ten connections (docs/PERFORMANCE.md: more only queue on a small server's cores), each checked before
        // use so connections the server dropped are replaced without a restart; a request waits at most five
        // seconds for one, then fails fast with 503 (StoreError::Unavailable) instead of piling up.
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
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
            // One snapshot for the whole read: `ledger verify` compares entries with balances, a page shows an
            // order with its events, and under read committed each statement would see a different moment.
            // A read-only repeatable-read transaction never fails with a serialization error.
            TxMode::Read => self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await,
        }
        // BEGIN itself cannot be wrong: failing here is getting no connection (the pool's wait ran out, the
        // server refuses or dropped us), whatever the driver calls it.
        .map_err(|e| match map_sqlx(e) {
            StoreError::Database(text) => StoreError::Unavailable(text),
            other => other,
        })?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn analyze(&self) -> StoreResult<()> {
        sqlx::query("ANALYZE").execute(&self.pool).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
}

#[async_trait]
impl Tx for PgTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_sqlx)
    }
}
