//! Kabao's storage: one [`Store`] trait with SQLite (embedded default) and PostgreSQL backends.
//! The store has no rules about content: `kabao-core` decides, the server orchestrates, the store persists.
//! Every unit of work runs in a [`Tx`]; nothing is written unless the transaction commits.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod errors;
pub mod models;
pub mod postgres;
mod rows;
mod sql_tx;
pub mod sqlite;

use async_trait::async_trait;
use kabao_core::catalog::{CertificationLevel, ProductDraft};
use kabao_core::user::Role;
use kabao_core::vault::Fingerprint;
use kabao_core::{ApiTokenId, Timestamp};
use kabao_core::{BatchId, CardKeyId, ProductId, ShopId, UserId};
pub use models::*;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether a transaction will write. On SQLite a write transaction starts with `BEGIN IMMEDIATE`, so it takes
/// the single writer lock up front (waiting up to the busy timeout) instead of failing when it upgrades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    Read,
    Write,
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
    #[error("migration failed: {0}")]
    Migration(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

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
    /// Closes the pool (waits for connections to return).
    async fn close(&self);
}

/// One transaction. All reads see one snapshot; all writes land together on commit.
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    // ---- users ----
    /// Conflict `"users.username"` when taken.
    async fn insert_user(&mut self, user: &NewUser) -> StoreResult<UserId>;
    async fn user_by_id(&mut self, id: UserId) -> StoreResult<Option<User>>;
    /// Exact match on the stored (trimmed) username.
    async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<User>>;
    /// Newest first.
    async fn list_users(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<User>>;
    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<i64>;
    /// NotFound if no such user.
    async fn set_user_role(&mut self, id: UserId, role: Role) -> StoreResult<()>;
    async fn set_password_hash(&mut self, id: UserId, password_hash: &str) -> StoreResult<()>;

    // ---- sessions (token stored as SHA-256 only) ----
    async fn insert_session(&mut self, session: &Session) -> StoreResult<()>;
    /// The session and its user, if the session exists and `expires_at > now`.
    async fn session_with_user(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<(Session, User)>>;
    async fn delete_session(&mut self, token_hash: &[u8]) -> StoreResult<()>;
    /// Deletes every session of a user (password change, role change).
    async fn delete_user_sessions(&mut self, user: UserId) -> StoreResult<u64>;
    async fn delete_expired_sessions(&mut self, now: Timestamp) -> StoreResult<u64>;

    // ---- merchant API tokens (stored as SHA-256 only) ----
    async fn insert_api_token(&mut self, token: &NewApiToken) -> StoreResult<ApiTokenId>;
    /// Tokens of a user, newest first, revoked ones included.
    async fn list_api_tokens(&mut self, user: UserId) -> StoreResult<Vec<ApiToken>>;
    /// Sets `revoked_at` if the token belongs to `user` and is not revoked yet; false otherwise.
    async fn revoke_api_token(&mut self, user: UserId, id: ApiTokenId, now: Timestamp) -> StoreResult<bool>;
    /// A live (not revoked) token and its user.
    async fn api_token_with_user(&mut self, token_hash: &[u8]) -> StoreResult<Option<(ApiToken, User)>>;

    // ---- shops ----
    /// Conflict `"shops.owner"` if the user has a shop; `"shops.name"` if the name is taken.
    async fn insert_shop(&mut self, shop: &NewShop) -> StoreResult<ShopId>;
    async fn shop_by_id(&mut self, id: ShopId) -> StoreResult<Option<Shop>>;
    async fn shop_by_owner(&mut self, owner: UserId) -> StoreResult<Option<Shop>>;
    /// Oldest first.
    async fn list_shops(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Shop>>;
    /// Conflict `"shops.name"`; NotFound.
    async fn update_shop(&mut self, id: ShopId, name: &str, description: &str) -> StoreResult<()>;
    async fn set_shop_certification(&mut self, id: ShopId, level: CertificationLevel) -> StoreResult<()>;
    /// `reason` is kept while suspended and cleared on reinstatement.
    async fn set_shop_suspended(&mut self, id: ShopId, suspended: bool, reason: Option<&str>) -> StoreResult<()>;

    // ---- products ----
    async fn insert_product(&mut self, shop: ShopId, draft: &ProductDraft, now: Timestamp) -> StoreResult<ProductId>;
    /// NotFound if the product does not exist.
    async fn update_product(&mut self, id: ProductId, draft: &ProductDraft, now: Timestamp) -> StoreResult<()>;
    async fn product_by_id(&mut self, id: ProductId) -> StoreResult<Option<Product>>;
    /// A shop's products, newest first, listed or not.
    async fn list_shop_products(&mut self, shop: ShopId) -> StoreResult<Vec<Product>>;
    /// Listed products of shops that are not suspended, with their shop, newest first.
    async fn list_listed_products(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Listing>>;

    // ---- card-key inventory ----
    /// Which of `fingerprints` the shop already holds (in any state: a voided key stays a duplicate).
    async fn existing_fingerprints(&mut self, shop: ShopId, fingerprints: &[Fingerprint]) -> StoreResult<Vec<Fingerprint>>;
    async fn insert_batch(&mut self, batch: &NewBatch) -> StoreResult<BatchId>;
    /// Inserts keys as `available` and adds their number to the product's stock counter, in this transaction.
    /// Conflict `"card_keys.fingerprint"` if any fingerprint exists in the shop (the caller checked first;
    /// the UNIQUE constraint is the backstop). Must be fast: a million rows in a few seconds on SQLite.
    async fn insert_card_keys(&mut self, keys: &[NewCardKey]) -> StoreResult<()>;
    /// Batches of a product, newest first, with their counts by state.
    async fn list_batches(&mut self, product: ProductId) -> StoreResult<Vec<Batch>>;
    async fn batch_by_id(&mut self, id: BatchId) -> StoreResult<Option<Batch>>;
    /// Marks every `available` key of the batch `voided`, sets the batch's `voided_at`, lowers the stock
    /// counter; returns how many keys were voided.
    async fn void_batch(&mut self, id: BatchId, now: Timestamp) -> StoreResult<u64>;
    /// Keys of a product, oldest first, optionally of one state.
    async fn list_card_keys(&mut self, product: ProductId, state: Option<KeyState>, limit: i64, offset: i64) -> StoreResult<Vec<CardKey>>;
    async fn card_key_by_id(&mut self, id: CardKeyId) -> StoreResult<Option<CardKey>>;
    /// Exact count by scanning keys (for checks); pages read `Product::stock_available` instead.
    async fn count_card_keys(&mut self, product: ProductId, state: KeyState) -> StoreResult<i64>;

    // ---- data keys (wrapped by the master key) ----
    async fn data_keys(&mut self) -> StoreResult<Vec<DataKeyRecord>>;
    /// Conflict `"data_keys.version"` if (purpose, version) exists.
    async fn insert_data_key(&mut self, key: &DataKeyRecord) -> StoreResult<()>;
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
