//! The throttles' part of a transaction: failed attempts per key and spent single-use tokens, shared by every
//! instance on the database. The rules that read them are `kabao_core::throttle`'s.

use crate::StoreResult;
use async_trait::async_trait;
use kabao_core::Timestamp;

/// Attempts counted per (scope, key), e.g. `("login_ip", "203.0.113.7")`, and tokens spent once.
#[async_trait]
pub trait ThrottlesTx: Send {
    /// Holds the given keys until the transaction ends, so a check and the count that follows it are one step
    /// for each key across instances (PostgreSQL: transaction advisory locks, taken in a fixed order; SQLite: the
    /// write transaction already excludes every other writer).
    async fn lock_throttle_keys(&mut self, keys: &[(&str, &str)]) -> StoreResult<()>;
    /// A key's newest attempts, at most `limit`, newest first.
    async fn throttle_hits(&mut self, scope: &str, key: &str, limit: i64) -> StoreResult<Vec<Timestamp>>;
    async fn add_throttle_hit(&mut self, scope: &str, key: &str, at: Timestamp) -> StoreResult<()>;
    /// Takes back one attempt recorded at `at` (an attempt that turned out not to count); false if none.
    async fn remove_throttle_hit(&mut self, scope: &str, key: &str, at: Timestamp) -> StoreResult<bool>;
    /// Forgets a key's attempts (a successful login).
    async fn clear_throttle_hits(&mut self, scope: &str, key: &str) -> StoreResult<()>;
    /// Spends a single-use token until `expires_at`: false if it was already spent and that use has not expired
    /// by `now`.
    async fn spend_token(
        &mut self,
        scope: &str,
        token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Deletes attempts older than `before` and tokens expired by then, at most `limit` rows of each.
    async fn purge_throttles(&mut self, before: Timestamp, limit: i64) -> StoreResult<u64>;
}

/// The statements both backends run (the same SQL; only the advisory lock is PostgreSQL's alone).
pub(crate) mod sql {
    pub const HITS: &str = "SELECT at FROM throttle_hits WHERE scope = $1 AND key = $2 ORDER BY at DESC LIMIT $3";
    pub const ADD: &str = "INSERT INTO throttle_hits (scope, key, at) VALUES ($1, $2, $3)";
    pub const REMOVE: &str = "DELETE FROM throttle_hits WHERE id = \
         (SELECT id FROM throttle_hits WHERE scope = $1 AND key = $2 AND at = $3 ORDER BY id DESC LIMIT 1)";
    pub const CLEAR: &str = "DELETE FROM throttle_hits WHERE scope = $1 AND key = $2";
    /// An expired spent token may be spent again (its proof is refused as expired before it gets here anyway).
    pub const SPEND: &str = "INSERT INTO spent_tokens (scope, token, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (scope, token) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE spent_tokens.expires_at <= $4";
    pub const PURGE_HITS: &str =
        "DELETE FROM throttle_hits WHERE id IN (SELECT id FROM throttle_hits WHERE at < $1 ORDER BY at LIMIT $2)";
    pub const PURGE_TOKENS: &str = "DELETE FROM spent_tokens WHERE (scope, token) IN \
         (SELECT scope, token FROM spent_tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)";
}
