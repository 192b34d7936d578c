//! The records behind idempotency keys: reserving a key for a request, storing its answer in the transaction of
//! its effect, replaying it, freeing the key after a refusal, and purging old records. The HTTP side (reading
//! the `Idempotency-Key` header, fingerprinting the body, rendering and replaying responses) lives in
//! `kabao-server`; a use case only sees a [`Completion`] to call last before its commit.
//!
//! A stored answer may carry a card key (an automatic re-issue), so answers are sealed under the card-key data
//! key, bound to their scope and key.

use crate::App;
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::vault::{Keyring, VaultError};
use kabao_core::{Lang, Localized, Timestamp, UserId};
use kabao_store::{NewIdempotency, StoreError, StoredResponse, Tx, TxMode};
use rand::RngCore;
use std::sync::Arc;

/// The header a client names its key in (also named in refusals).
pub const HEADER: &str = "Idempotency-Key";
/// How long a request may run before another one with its key presumes it died and takes the key over.
/// A request that died committed nothing (its answer is stored with its effect), so running it again is safe.
pub const LEASE_SECONDS: i64 = 60;
/// How long a key's record is kept: a retry within this gets the first answer; afterwards the key is new again.
pub const RETENTION_HOURS: i64 = 48;
/// Records purged per pass of the expiry job.
const PURGE_BATCH: i64 = 5_000;

/// Whose key it is: one caller's key never reaches another caller's record.
#[derive(Debug, Clone)]
pub enum Scope<'a> {
    /// A registered user (whichever of their tokens, or their session).
    User(UserId),
    /// A guest at checkout, by the (parsed) email the order is placed under.
    GuestEmail(&'a str),
    /// A guest acting on an order with its secret.
    GuestOrder(OrderId),
}

impl Scope<'_> {
    /// The buyer's scope on an order: the registered buyer, or the guest holding the order's secret.
    pub fn buyer(user: Option<&kabao_store::User>, order: &kabao_store::Order) -> Scope<'static> {
        match user {
            Some(u) => Scope::User(u.id),
            None => Scope::GuestOrder(order.id),
        }
    }

    fn text(&self) -> String {
        match self {
            Scope::User(id) => format!("user:{}", id.0),
            Scope::GuestEmail(email) => format!("guest:{email}"),
            Scope::GuestOrder(id) => format!("order:{}", id.0),
        }
    }
}

/// Why a keyed request cannot run, or could not store its answer.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// Another request holds the key (it is still running, or took the key over from this one).
    #[error("a request with this idempotency key is still in flight")]
    InFlight,
    /// The key already answered a different request.
    #[error("the idempotency key was used for a different request")]
    Reused,
    /// The answer could not be sealed for storage.
    #[error("sealing the idempotent answer: {0}")]
    Seal(VaultError),
    /// A stored answer could not be opened (wrong data key, or tampered).
    #[error("stored idempotent response: {0}")]
    Open(VaultError),
    /// The caller could not render the use case's result into the answer to store.
    #[error("render: {cause}")]
    Render { cause: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for IdempotencyError {
    fn code(&self) -> &'static str {
        match self {
            IdempotencyError::InFlight => "idempotency_key_in_flight",
            IdempotencyError::Reused => "idempotency_key_reused",
            _ => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            IdempotencyError::InFlight | IdempotencyError::Reused => Some(HEADER),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            IdempotencyError::InFlight => lang.pick(
                "使用相同 Idempotency-Key 的请求仍在处理中，请稍后用同一个 Key 重试",
                "A request with this Idempotency-Key is still being processed; retry later with the same key",
            ),
            IdempotencyError::Reused => lang.pick(
                "该 Idempotency-Key 已用于另一个不同的请求；新请求请换一个新的 Key",
                "This Idempotency-Key was already used for a different request; use a new key for a new request",
            ),
            _ => crate::error::internal_words(lang),
        }
        .into()
    }
}

/// An answer as the caller rendered it and as it is stored and replayed: a status number and the exact body
/// bytes. Its meaning belongs to the caller (the HTTP layer); this module only keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The reservation a request holds on its key while it runs.
pub struct Held {
    scope: String,
    key: String,
    runner: [u8; 16],
    keyring: Arc<Keyring>,
}

impl Held {
    fn context(&self) -> Vec<u8> {
        format!("idempotency\n{}\n{}", self.scope, self.key).into_bytes()
    }

    /// Stores `answer` under the key in the effect's transaction `tx` (last before the commit). Refuses with
    /// `idempotency_key_in_flight` if the key was taken over meanwhile: the caller's transaction must then roll
    /// back, so the effect happens once, in whichever request stores its answer first.
    pub async fn store(&self, tx: &mut dyn Tx, answer: &Answer, now: Timestamp) -> Result<(), IdempotencyError> {
        let mut nonce = [0u8; kabao_core::vault::NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let (key_version, body) =
            self.keyring.seal_record(&self.context(), &answer.body, nonce).map_err(IdempotencyError::Seal)?;
        let stored = StoredResponse { status: answer.status, body, key_version };
        if !tx.idempotency_complete(&self.scope, &self.key, &self.runner, &stored, now).await? {
            return Err(IdempotencyError::InFlight);
        }
        Ok(())
    }

    /// Frees the key after a refusal (nothing was done, so the client may retry with the same key).
    pub async fn release(&self, state: &App) -> Result<(), StoreError> {
        let mut tx = state.store.begin(TxMode::Write).await?;
        tx.idempotency_release(&self.scope, &self.key, &self.runner).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What [`reserve`] found.
pub enum Reserved {
    /// The key already answered this request: answer the same.
    Replay(Answer),
    /// The request may run; the key is held for it.
    Run(Held),
}

/// Looks the key up before anything else: a replay, `idempotency_key_reused` for another request under the key,
/// `idempotency_key_in_flight` while the first one runs; otherwise reserves the key for this request.
pub async fn reserve(
    state: &App,
    scope: Scope<'_>,
    key: String,
    fingerprint: &[u8; 32],
) -> Result<Reserved, IdempotencyError> {
    let scope = scope.text();
    let now = state.now();
    let lease_until = now.plus_seconds(LEASE_SECONDS);
    let mut runner = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut runner);
    let mut tx = state.store.begin(TxMode::Write).await?;
    match tx.idempotency_record(&scope, &key).await? {
        None => {
            let new =
                NewIdempotency { scope: &scope, key: &key, fingerprint, runner: &runner, lease_until, created_at: now };
            match tx.idempotency_reserve(&new).await {
                Ok(()) => {}
                // Another request reserved it after this one looked (PostgreSQL): it is in flight.
                Err(StoreError::Conflict(_)) => return Err(IdempotencyError::InFlight),
                Err(e) => return Err(e.into()),
            }
        }
        Some(r) if r.fingerprint != *fingerprint => return Err(IdempotencyError::Reused),
        Some(r) => match r.response {
            Some(stored) => {
                drop(tx);
                let held = Held { scope, key, runner, keyring: state.keyring.clone() };
                let body = held
                    .keyring
                    .open_record(stored.key_version, &held.context(), &stored.body)
                    .map_err(IdempotencyError::Open)?;
                return Ok(Reserved::Replay(Answer { status: stored.status, body: body.to_vec() }));
            }
            None if r.lease_until > now => return Err(IdempotencyError::InFlight),
            None => {
                if !tx.idempotency_take_over(&scope, &key, &runner, now, lease_until).await? {
                    return Err(IdempotencyError::InFlight);
                }
                tracing::warn!(scope = %scope, "idempotency key taken over from a request that did not finish");
            }
        },
    }
    tx.commit().await?;
    Ok(Reserved::Run(Held { scope, key, runner, keyring: state.keyring.clone() }))
}

/// What a use case calls in its own transaction just before the commit, with its result: a keyed request
/// stores its answer there, so a crash leaves both the effect and the answer or neither.
#[async_trait]
pub trait Completion<T: Sync>: Send + Sync {
    async fn complete(&self, tx: &mut dyn Tx, result: &T, now: Timestamp) -> Result<(), IdempotencyError>;
}

/// A request without a key, from a caller that answers by itself (a page, a job): nothing is stored.
pub struct NoKey;

#[async_trait]
impl<T: Sync> Completion<T> for NoKey {
    async fn complete(&self, _: &mut dyn Tx, _: &T, _: Timestamp) -> Result<(), IdempotencyError> {
        Ok(())
    }
}

/// Deletes records older than the retention ([`RETENTION_HOURS`]), a bounded batch per call; run by the
/// expiry job. Returns how many went.
pub async fn purge(state: &App) -> Result<u64, StoreError> {
    let before = state.now().plus_seconds(-RETENTION_HOURS * 3600);
    let mut tx = state.store.begin(TxMode::Write).await?;
    let n = tx.idempotency_purge(before, PURGE_BATCH).await?;
    tx.commit().await?;
    Ok(n)
}
