//! Email verification and password reset links ([`EmailTx`]): single-use tokens stored as SHA-256 only, and which
//! address of an account has been verified.

use crate::{StoreResult, User};
use async_trait::async_trait;
use kabao_core::{Timestamp, UserId};

/// What a mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    /// Proves the account owns the address the link was sent to.
    Verify,
    /// Sets a new password.
    Reset,
}

impl EmailTokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailTokenPurpose::Verify => "verify",
            EmailTokenPurpose::Reset => "reset",
        }
    }

    pub fn parse(s: &str) -> Option<EmailTokenPurpose> {
        match s {
            "verify" => Some(EmailTokenPurpose::Verify),
            "reset" => Some(EmailTokenPurpose::Reset),
            _ => None,
        }
    }
}

/// One mailed link's token (the value itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub purpose: EmailTokenPurpose,
    /// The address the link was sent to.
    pub email: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[async_trait]
pub trait EmailTx: Send {
    async fn insert_email_token(&mut self, token: &EmailToken) -> StoreResult<()>;
    /// The token whatever its state (used, expired), so a caller can say which.
    async fn email_token(&mut self, token_hash: &[u8]) -> StoreResult<Option<EmailToken>>;
    /// Marks the token used if it is unused and `expires_at > now`; false otherwise (taken once, even concurrently).
    async fn use_email_token(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<bool>;
    /// Marks every unused token of the user for the purpose as used (a new password or address ends older links).
    async fn retire_email_tokens(
        &mut self,
        user: UserId,
        purpose: EmailTokenPurpose,
        now: Timestamp,
    ) -> StoreResult<u64>;
    /// Records that the user proved `email` (replaces an earlier verified address).
    async fn set_email_verified(&mut self, user: UserId, email: &str, now: Timestamp) -> StoreResult<()>;
    /// The last verified address of the user and when; it counts only while it equals the account's address.
    async fn email_verified(&mut self, user: UserId) -> StoreResult<Option<(String, Timestamp)>>;
    /// Accounts whose current address is `email` and verified, oldest first.
    async fn users_with_verified_email(&mut self, email: &str) -> StoreResult<Vec<User>>;
    /// NotFound if no such user.
    async fn set_user_email(&mut self, user: UserId, email: Option<&str>) -> StoreResult<()>;
}
