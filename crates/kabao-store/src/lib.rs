//! Kabao's storage: one [`Store`] trait with SQLite (embedded default) and PostgreSQL backends.
//! The store has no rules about content: `kabao-core` decides, the server orchestrates, the store persists.
//! Every unit of work runs in a [`Tx`]; nothing is written unless the transaction commits.
//!
//! Layout: [`Tx`] is one trait per aggregate (`tx/`: [`UsersTx`], [`ShopsTx`], [`KeysTx`], [`OrdersTx`],
//! [`FinanceTx`], [`ClaimsTx`], [`TrustTx`], [`JobsTx`], [`IdempotencyTx`], [`KeyringTx`], [`WebhooksTx`]);
//! each backend implements each of them in a file of the same name (`sqlite/claims.rs`, `postgres/claims.rs`),
//! owning its SQL. `rows` holds the row shapes and column lists both share; `conformance` proves they agree.

mod catalog_sql;
pub mod commerce;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod errors;
pub mod lite;
pub mod models;
pub mod postgres;
mod rows;
pub mod sqlite;
pub mod trust;
mod tx;
pub mod webhooks;

use async_trait::async_trait;
pub use commerce::*;
pub use models::*;
pub use trust::*;
pub use tx::CatalogTx;
pub use tx::QueueKey;
pub use tx::{china_day, DayFigure, HistoryTx, Movement, ShopFigures};
pub use tx::{BookLine, InsuranceBook};
pub use tx::{
    ClaimsTx, Cover, CoverKind, FinanceTx, IdempotencyTx, InsuranceTx, JobsTx, KeyringTx, KeysTx, OrdersTx, Payout,
    PayoutState, ShopsTx, ThrottlesTx, TrustTx, Tx, UsersTx, WebhooksTx,
};
pub use tx::{Coupon, CouponTake, OrderPricing, PromotionsTx, VariantRow};
pub use tx::{EmailToken, EmailTokenPurpose, EmailTx};
pub use tx::{Finding, FindingKind, NewFinding, ReconcileTx, TransferDue};
pub use tx::{GatewayRefund, GatewayRefundState, NewGatewayRefund, RefundAttempt, RefundsTx};
pub use webhooks::*;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether a transaction will write. On SQLite a write transaction starts with `BEGIN IMMEDIATE`, so it takes
/// the single writer lock up front (waiting up to the busy timeout) instead of failing when it upgrades. A read
/// transaction sees one consistent snapshot on both backends (SQLite's WAL read, PostgreSQL's repeatable read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    Read,
    Write,
    /// A read of **one statement** that needs no snapshot shared with another (who holds this API token or
    /// session, asked before every authenticated request). PostgreSQL runs it on a pooled connection without
    /// `BEGIN … ROLLBACK` around it, two round trips fewer; SQLite, where a transaction costs no round trip,
    /// runs it as [`TxMode::Read`]. Never write in it: on PostgreSQL each statement would commit on its own.
    Lookup,
}

/// Storage errors. Messages never contain bound values, so a card key cannot leak through one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated; the value names the rule, e.g. `"users.username"`.
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached or is overloaded (no connection within the pool's wait, the connection
    /// dropped or was terminated, the server shutting down or refusing connections, a statement cancelled by
    /// its timeout, SQLite's writer lock not granted within the busy timeout). Nothing of the transaction was
    /// kept; the same request may succeed in a moment. Its text starts with [`UNAVAILABLE`].
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A ledger transaction was refused by the rules (e.g. a wallet would go negative); nothing was written.
    #[error("ledger: {0}")]
    Ledger(#[from] kabao_core::ledger::LedgerError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How [`StoreError::Unavailable`]'s text starts, wrapped or not: what the HTTP layer answers 503 for.
pub const UNAVAILABLE: &str = "database unavailable";

/// A database holding Kabao's data.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Applies pending migrations. Idempotent.
    async fn migrate(&self) -> StoreResult<()>;
    /// Starts a transaction. Dropping it without [`Tx::commit`] rolls it back.
    async fn begin(&self, mode: TxMode) -> StoreResult<Box<dyn Tx>>;
    /// Cheap liveness check for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;
    /// After a bulk load (the benchmarks' seeding), what autovacuum does on a server that has been running:
    /// PostgreSQL: `VACUUM (ANALYZE)`, which removes the dead row versions every sale leaves behind (its product
    /// row, its order, its keys) and refreshes the planner's statistics; SQLite: nothing (its plans come from the
    /// indexes alone, which the plan tests pin, and it keeps no dead versions).
    async fn analyze(&self) -> StoreResult<()>;
    /// PostgreSQL: the statements this store has sent (each a round trip: queries, `BEGIN` and the `COMMIT` or
    /// `ROLLBACK` that ends a transaction; not the pings of idle connections), for `kabao bench checkout`'s
    /// statements per checkout. SQLite runs statements in the process, no round trips: `None`.
    fn statements_sent(&self) -> Option<u64> {
        None
    }
    /// Closes the pool (waits for connections to return).
    async fn close(&self);
}

/// Opens the store a URL names: `sqlite://PATH` or `postgres://...`, and applies migrations.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    let store: std::sync::Arc<dyn Store> = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        std::sync::Arc::new(postgres::PgStore::connect(url).await?)
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        std::sync::Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path)).await?)
    };
    store.migrate().await?;
    Ok(store)
}
