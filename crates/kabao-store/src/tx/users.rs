//! The users aggregate's part of a transaction: accounts, sessions, API tokens and security events.

use crate::{
    ApiToken, LoginChallenge, NewApiToken, NewUser, SealedTotp, SecurityEvent, Session, StoreResult, TotpCredential,
    User,
};
use async_trait::async_trait;
use kabao_core::user::Role;
use kabao_core::{ApiTokenId, Timestamp, UserId};

/// People and their credentials: accounts, login sessions, merchant API tokens (both stored as SHA-256
/// only), the TOTP second factor (secrets sealed by the keyring; recovery codes and login challenges as SHA-256
/// only), and the security events the platform records about them.
#[async_trait]
pub trait UsersTx: Send {
    // ---- accounts ----
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
    /// The user's live sessions (`expires_at > now`), most recently seen first.
    async fn list_user_sessions(&mut self, user: UserId, now: Timestamp) -> StoreResult<Vec<Session>>;
    /// Sets `last_seen_at = now` if it is older than `stale_before`; true if it was updated.
    async fn touch_session(&mut self, token_hash: &[u8], now: Timestamp, stale_before: Timestamp) -> StoreResult<bool>;
    /// Deletes the session only if it belongs to `user`; false if there was no such session of that user.
    async fn delete_user_session(&mut self, user: UserId, token_hash: &[u8]) -> StoreResult<bool>;

    // ---- merchant API tokens (stored as SHA-256 only) ----
    async fn insert_api_token(&mut self, token: &NewApiToken) -> StoreResult<ApiTokenId>;
    /// Tokens of a user, newest first, revoked ones included.
    async fn list_api_tokens(&mut self, user: UserId) -> StoreResult<Vec<ApiToken>>;
    /// Sets `revoked_at` if the token belongs to `user` and is not revoked yet; false otherwise.
    async fn revoke_api_token(&mut self, user: UserId, id: ApiTokenId, now: Timestamp) -> StoreResult<bool>;
    /// A live (not revoked) token and its user.
    async fn api_token_with_user(&mut self, token_hash: &[u8]) -> StoreResult<Option<(ApiToken, User)>>;

    // ---- security events ----
    /// Records a security event; returns its id.
    async fn insert_security_event(&mut self, event: &SecurityEvent) -> StoreResult<i64>;
    /// Security events, newest first.
    async fn security_events(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<SecurityEvent>>;

    // ---- second factor (TOTP) ----
    /// The user's confirmed TOTP credential, if any.
    async fn totp_credential(&mut self, user: UserId) -> StoreResult<Option<TotpCredential>>;
    /// Turns TOTP on: stores the credential and drops the pending secret. Conflict if the user has one already.
    async fn insert_totp_credential(&mut self, credential: &TotpCredential) -> StoreResult<()>;
    /// Records `step` as the last accepted one only if it is later than the stored one; false if it is not (a
    /// replay, or a concurrent use of the same code) or there is no credential.
    async fn advance_totp_step(&mut self, user: UserId, step: i64) -> StoreResult<bool>;
    /// Turns TOTP off: deletes the credential, any pending secret and every recovery code; true if there was
    /// a credential.
    async fn delete_totp(&mut self, user: UserId) -> StoreResult<bool>;
    /// The secret waiting for its first code, if any.
    async fn totp_pending(&mut self, user: UserId) -> StoreResult<Option<SealedTotp>>;
    /// Stores (or replaces) the user's pending secret.
    async fn put_totp_pending(&mut self, pending: &SealedTotp) -> StoreResult<()>;
    /// Replaces every recovery code of the user with these (SHA-256 of each).
    async fn replace_recovery_codes(&mut self, user: UserId, hashes: &[Vec<u8>], now: Timestamp) -> StoreResult<()>;
    /// Marks one unused recovery code of this user used; false if the user has no such unused code.
    async fn use_recovery_code(&mut self, user: UserId, code_hash: &[u8], now: Timestamp) -> StoreResult<bool>;
    /// How many of the user's recovery codes are still unused.
    async fn count_unused_recovery_codes(&mut self, user: UserId) -> StoreResult<i64>;
    /// Stores a login challenge (and drops expired ones).
    async fn insert_login_challenge(&mut self, challenge: &LoginChallenge) -> StoreResult<()>;
    /// A challenge that is not used and has `expires_at > now`.
    async fn live_login_challenge(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<LoginChallenge>>;
    /// Counts one wrong code against a challenge; returns its failures now (0 if there is no such challenge).
    async fn add_login_challenge_failure(&mut self, token_hash: &[u8]) -> StoreResult<i32>;
    /// Marks a challenge used; false if it was used already or does not exist.
    async fn use_login_challenge(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<bool>;
}
