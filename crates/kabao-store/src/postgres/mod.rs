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
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgStore {
    pool: PgPool,
    /// Statements this store sent, each a round trip (see [`Store::statements_sent`]).
    statements: Arc<AtomicU64>,
}

const MAX_CONNECTIONS: u32 = 10;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections idle longer than this are pinged before use (see [`PgStore::connect`]).
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(map_sqlx)?;
        // A payment and its delivery, once acknowledged, must survive a crash: whatever the server's default,
        // every session of ours waits for its commit to be flushed.
        let options = options.options([("synchronous_commit", "on")]);
        // Ten connections (docs/PERFORMANCE.md: more only queue on a small server's cores); a request waits at
        // most five seconds for one, then fails fast with 503 (StoreError::Unavailable) instead of piling up.
        // A connection idle for over a second is pinged before use, so connections the server dropped while
        // nobody used them are replaced without a restart; one in steady use is not (a ping is a round trip,
        // and sqlx pings every connection on release anyway). One the server dropped in the meantime fails
        // its BEGIN, and `begin` takes another.
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        Ok(PgStore { pool, statements: Arc::default() })
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
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let conn = match mode {
                TxMode::Write => self.pool.begin().await.map(PgConn::Tx),
                // One snapshot for the whole read: `ledger verify` compares entries with balances, a page shows
                // an order with its events, and under read committed each statement would see a different
                // moment. A read-only repeatable-read transaction never fails with a serialization error.
                TxMode::Read => {
                    self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map(PgConn::Tx)
                }
                TxMode::Lookup => self.pool.acquire().await.map(PgConn::Plain),
            };
            match conn {
                Ok(conn) => {
                    if matches!(conn, PgConn::Tx(_)) {
                        // BEGIN, and the COMMIT or ROLLBACK that ends it.
                        self.statements.fetch_add(2, Ordering::Relaxed);
                    }
                    let tx = Counted { conn, statements: self.statements.clone() };
                    return Ok(Box::new(PgTx { tx, sold: SoldKeys::default() }));
                }
                // BEGIN itself cannot be wrong: failing here is getting no connection (the pool's wait ran out,
                // the server refuses us) or one the server dropped while it sat in the pool. The pool discards
                // a broken connection, so try another, as long as the pool's own wait allows.
                Err(e) => {
                    let broken_connection = !matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed);
                    if !(broken_connection && attempts <= MAX_CONNECTIONS && started.elapsed() < ACQUIRE_TIMEOUT) {
                        return Err(match map_sqlx(e) {
                            StoreError::Database(text) => StoreError::Unavailable(text),
                            other => other,
                        });
                    }
                }
            }
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn analyze(&self) -> StoreResult<()> {
        // Not in a transaction (VACUUM refuses one): the pool's connection runs it on its own.
        sqlx::query("VACUUM (ANALYZE)").execute(&self.pool).await.map_err(map_sqlx)?;
        Ok(())
    }

    fn statements_sent(&self) -> Option<u64> {
        Some(self.statements.load(Ordering::Relaxed))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

pub struct PgTx {
    tx: Counted,
    /// Keys sold in this transaction and not yet counted off their product's stock and their batches' counts.
    /// Those counters are the hottest rows of a shop: every checkout of a product updates the same product row,
    /// and a row lock is held until the transaction ends. Counted at commit ([`PgTx::count_sold`]), the lock is
    /// held for that statement and the commit alone, not for every statement of the payment after the
    /// allocation: checkouts of one product no longer queue behind each other's whole payment.
    sold: SoldKeys,
}

/// Keys sold by product, and by batch within each product, waiting to be counted ([`PgTx::count_sold`]).
#[derive(Default)]
pub(super) struct SoldKeys(BTreeMap<i64, BTreeMap<i64, i64>>);

impl SoldKeys {
    /// Keys of `product` sold, one batch id per key.
    pub(super) fn add(&mut self, product: i64, batches: &[i64]) {
        let of_product = self.0.entry(product).or_default();
        for b in batches {
            *of_product.entry(*b).or_insert(0) += 1;
        }
    }
}

impl PgTx {
    /// Counts the keys sold so far in this transaction off their product's stock and their batches' available
    /// counts (into sold): one statement per product, in id order, the product row before its batches' as
    /// everywhere (`tx::keys`), so two transactions meet on the product row first. Run before commit, and
    /// before any statement of this transaction that reads or writes those counters, so the transaction sees
    /// its own sales.
    pub(super) async fn count_sold(&mut self) -> StoreResult<()> {
        // The batches' update waits for the product's (an uncorrelated subquery over `stock`, run once before
        // any batch row is touched).
        const SQL: &str = "WITH stock AS (UPDATE products SET stock_available = stock_available - $2 \
                 WHERE id = $1 RETURNING id), \
             counted AS (UPDATE key_batches b \
                 SET keys_available = b.keys_available - d.n, keys_sold = b.keys_sold + d.n \
                 FROM unnest($3::BIGINT[], $4::BIGINT[]) AS d(id, n) \
                 WHERE b.id = d.id AND b.product_id = $1 AND EXISTS (SELECT 1 FROM stock) RETURNING b.id) \
             SELECT (SELECT count(*) FROM stock), (SELECT count(*) FROM counted)";
        for (product, batches) in std::mem::take(&mut self.sold).0 {
            let (ids, sold): (Vec<i64>, Vec<i64>) = batches.into_iter().unzip();
            let (in_products, in_batches): (i64, i64) = sqlx::query_as(SQL)
                .bind(product)
                .bind(sold.iter().sum::<i64>())
                .bind(&ids)
                .bind(&sold)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
            if in_products != 1 || in_batches != ids.len() as i64 {
                return Err(StoreError::Database(format!(
                    "keys sold from product {product} counted in {in_batches} of their {} batches",
                    ids.len()
                )));
            }
        }
        Ok(())
    }
}

/// A transaction, or (for [`TxMode::Lookup`]) a pooled connection whose one statement commits on its own.
enum PgConn {
    Tx(sqlx::Transaction<'static, Postgres>),
    Plain(PoolConnection<Postgres>),
}

impl std::ops::Deref for PgConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            PgConn::Tx(tx) => tx,
            PgConn::Plain(conn) => conn,
        }
    }
}

/// A transaction's connection that counts the statements sent on it: every query runs as `&mut *self.tx`,
/// one [`DerefMut`](std::ops::DerefMut) of this, counted there.
struct Counted {
    conn: PgConn,
    statements: Arc<AtomicU64>,
}

impl std::ops::Deref for Counted {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Counted {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.statements.fetch_add(1, Ordering::Relaxed);
        &mut self.conn
    }
}

impl std::ops::DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            PgConn::Tx(tx) => tx,
            PgConn::Plain(conn) => conn,
        }
    }
}

#[async_trait]
impl Tx for PgTx {
    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.count_sold().await?;
        match self.tx.conn {
            PgConn::Tx(tx) => tx.commit().await.map_err(map_sqlx),
            PgConn::Plain(_) => Ok(()),
        }
    }
}
