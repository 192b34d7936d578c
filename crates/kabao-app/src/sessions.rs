//! Who is asking, without HTTP: browser sessions (a random id, only its SHA-256 stored), the CSRF check of
//! forms (double submit, compared in constant time) and bearer API tokens (created, listed, revoked, looked up).

use crate::secrets::{random_token, sha256};
use crate::App;
use kabao_core::{ApiTokenId, Lang, Localized};
use kabao_store::{ApiToken, NewApiToken, Session, StoreError, TxMode, User};
use subtle::ConstantTimeEq;

/// API tokens start with this, so leaked ones are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "kb_";

/// Why a session, a form or an API token was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The form's CSRF token is missing or differs from the cookie's.
    #[error("CSRF token missing or not the cookie's")]
    CsrfMismatch,
    /// The bearer token is malformed, unknown or revoked.
    #[error("no valid API token")]
    NotAuthenticated,
    #[error("token name must be 1–40 characters")]
    TokenNameInvalid,
    /// No live token of this user has that id.
    #[error("no such live API token of this user")]
    TokenNotFound,
    /// No live session of this user has that id.
    #[error("no such live session of this user")]
    SessionNotFound,
    /// An admin or arbiter without a second factor: no API until they enrol on the page.
    #[error("two-step verification must be set up first")]
    TotpEnrolmentRequired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for SessionError {
    fn code(&self) -> &'static str {
        match self {
            SessionError::CsrfMismatch => "auth.csrf",
            SessionError::NotAuthenticated => "auth.required",
            SessionError::TokenNameInvalid => "token.name_invalid",
            SessionError::TokenNotFound => "token.not_found",
            SessionError::SessionNotFound => "session.not_found",
            SessionError::TotpEnrolmentRequired => "auth.totp_enrolment_required",
            SessionError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            SessionError::TokenNameInvalid => Some("name"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            SessionError::CsrfMismatch => lang.pick(
                "表单已过期或来源不明（CSRF 校验失败），请返回刷新页面后重试",
                "The form expired or came from elsewhere (CSRF check failed); go back, reload the page and retry",
            ),
            SessionError::NotAuthenticated => {
                lang.pick("请先登录或提供有效的 API 令牌", "Log in or provide a valid API token")
            }
            SessionError::TokenNameInvalid => {
                lang.pick("令牌名称需为 1–40 个字符", "Token name must be 1–40 characters")
            }
            SessionError::TokenNotFound => lang.pick("找不到该内容", "Not found"),
            SessionError::SessionNotFound => {
                lang.pick("找不到该登录会话，它可能已经退出", "No such session; it may have ended already")
            }
            SessionError::TotpEnrolmentRequired => return crate::totp::TotpError::EnrolmentRequired.message(lang),
            SessionError::Store(_) => crate::error::internal_words(lang),
        }
        .to_string()
    }
}

/// Whether a cookie value has the shape of [`random_token`]'s (43 base64url characters).
pub fn well_formed_token(t: &str) -> bool {
    t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a submitted CSRF token against the cookie's, in constant time.
pub fn check_csrf(cookie: &str, submitted: Option<&str>) -> Result<(), SessionError> {
    let ok = submitted.is_some_and(|s| well_formed_token(cookie) && bool::from(s.as_bytes().ct_eq(cookie.as_bytes())));
    if ok {
        Ok(())
    } else {
        Err(SessionError::CsrfMismatch)
    }
}

/// Where a session was started from, for its owner to recognise it on the sessions page.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// How long a session's "last seen" may lag behind its use (so a busy session is not a write per request).
pub const LAST_SEEN_GRANULARITY_S: i64 = 300;

/// At most this many characters of a `User-Agent` are kept.
const USER_AGENT_MAX_CHARS: usize = 200;

/// Starts a session for a user; returns the session id for the cookie. A fresh id at every login (no
/// fixation).
pub async fn start_session(app: &App, user: &User) -> Result<String, SessionError> {
    start_session_from(app, user, &Origin::default()).await
}

/// [`start_session`], recording where the session comes from.
pub async fn start_session_from(app: &App, user: &User, origin: &Origin) -> Result<String, SessionError> {
    let token = random_token();
    let now = app.now();
    let session = Session {
        token_hash: sha256(&token),
        user_id: user.id,
        created_at: now,
        expires_at: now.plus_seconds(app.config.session_ttl_hours * 3600),
        ip: origin.ip.map(|ip| ip.to_string()),
        user_agent: origin
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(USER_AGENT_MAX_CHARS).collect::<String>())
            .filter(|ua| !ua.trim().is_empty()),
        last_seen_at: now,
    };
    let mut tx = app.store.begin(TxMode::Write).await?;
    tx.insert_session(&session).await?;
    // Housekeeping on the write path we already hold: expired sessions never accumulate.
    tx.delete_expired_sessions(now).await?;
    tx.commit().await?;
    Ok(token)
}

/// Ends the session with this id, if there is one.
pub async fn end_session(app: &App, token: &str) -> Result<(), SessionError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    tx.delete_session(&sha256(token)).await?;
    tx.commit().await?;
    Ok(())
}

/// The user of a live session; `None` for an empty, oversized, unknown or expired id.
pub async fn session_user(app: &App, token: &str) -> Result<Option<User>, SessionError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = sha256(token);
    let now = app.now();
    let found = {
        let mut tx = app.store.begin(TxMode::Lookup).await?;
        tx.session_with_user(&hash, now).await?
    };
    let Some((session, user)) = found else { return Ok(None) };
    let stale_before = now.plus_seconds(-LAST_SEEN_GRANULARITY_S);
    if session.last_seen_at < stale_before {
        let mut tx = app.store.begin(TxMode::Write).await?;
        tx.touch_session(&hash, now, stale_before).await?;
        tx.commit().await?;
    }
    Ok(Some(user))
}

/// The user's live sessions, most recently seen first.
pub async fn live_sessions(app: &App, user: &User) -> Result<Vec<Session>, SessionError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    Ok(tx.list_user_sessions(user.id, app.now()).await?)
}

/// The public id of a session on the sessions page: the hex of its stored SHA-256 (never the cookie value).
pub fn session_id(session: &Session) -> String {
    hex::encode(&session.token_hash)
}

/// Whether a session is the one behind this cookie value.
pub fn is_session_of(session: &Session, cookie: &str) -> bool {
    bool::from(session.token_hash.as_slice().ct_eq(sha256(cookie).as_slice()))
}

/// Ends one of the user's sessions, named by [`session_id`].
pub async fn end_user_session(app: &App, user: &User, id: &str) -> Result<(), SessionError> {
    let hash = hex::decode(id.trim()).ok().filter(|h| h.len() == 32).ok_or(SessionError::SessionNotFound)?;
    let mut tx = app.store.begin(TxMode::Write).await?;
    if !tx.delete_user_session(user.id, &hash).await? {
        return Err(SessionError::SessionNotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// Signs the user out everywhere: every browser session ends, this one included (API tokens are not
/// touched; they are revoked one by one on the console page). The account is mailed. Returns how many ended.
pub async fn sign_out_everywhere(app: &App, user: &User) -> Result<u64, SessionError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    let ended = tx.delete_user_sessions(user.id).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, ended, "signed out everywhere");
    app.mail_security_change(user, crate::mailer::SecurityChange::SignedOutEverywhere);
    Ok(ended)
}

/// The user of a live API token.
pub async fn api_token_user(app: &App, token: &str) -> Result<User, SessionError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Err(SessionError::NotAuthenticated);
    }
    let mut tx = app.store.begin(TxMode::Lookup).await?;
    let (_, user) = tx.api_token_with_user(&sha256(token)).await?.ok_or(SessionError::NotAuthenticated)?;
    if crate::totp::needs_enrolment(&user) {
        return Err(SessionError::TotpEnrolmentRequired);
    }
    Ok(user)
}

/// A newly created API token: the secret is returned once and never stored.
pub struct CreatedToken {
    pub id: ApiTokenId,
    pub token: String,
    pub name: String,
}

/// Creates an API token for a user (never for an admin or arbiter without a second factor).
pub async fn create_api_token(app: &App, user: &User, name: &str) -> Result<CreatedToken, SessionError> {
    if crate::totp::needs_enrolment(user) {
        return Err(SessionError::TotpEnrolmentRequired);
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(SessionError::TokenNameInvalid);
    }
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let new = NewApiToken {
        user_id: user.id,
        name: name.to_string(),
        prefix: token.chars().take(10).collect(),
        token_hash: sha256(&token),
        created_at: app.now(),
    };
    let mut tx = app.store.begin(TxMode::Write).await?;
    let id = tx.insert_api_token(&new).await?;
    tx.commit().await?;
    Ok(CreatedToken { id, token, name: new.name })
}

/// The user's tokens, newest first (revoked ones included).
pub async fn api_tokens(app: &App, user: &User) -> Result<Vec<ApiToken>, SessionError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    Ok(tx.list_api_tokens(user.id).await?)
}

/// Revokes one of the user's live tokens.
pub async fn revoke_api_token(app: &App, user: &User, id: ApiTokenId) -> Result<(), SessionError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    if !tx.revoke_api_token(user.id, id, app.now()).await? {
        return Err(SessionError::TokenNotFound);
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_256_bits() {
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert!(well_formed_token(&t));
        assert_ne!(t, random_token());
    }

    #[test]
    fn csrf_check_is_exact() {
        let cookie = random_token();
        assert!(check_csrf(&cookie, Some(&cookie.clone())).is_ok());
        assert!(check_csrf(&cookie, None).is_err());
        assert!(check_csrf(&cookie, Some("x")).is_err());
        assert!(check_csrf("", Some("")).is_err());
    }
}
