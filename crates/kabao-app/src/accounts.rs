//! Accounts: registration, password hashing (Argon2id), login with throttling, and the first admin.

use crate::throttles::{self, Check};
use crate::App;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use kabao_core::user::{check_new_password, AccountError, Email, Role, Username};
use kabao_core::{Lang, Localized, Timestamp};
use kabao_store::{NewUser, Store, StoreError, TxMode, User};
use rand::rngs::OsRng;
use rand::Rng;
use std::net::IpAddr;

/// Why an account could not be created, or a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Invalid(#[from] AccountError),
    #[error("username taken")]
    UsernameTaken,
    /// Wrong password, or no such user (the two are not told apart).
    #[error("wrong username or password")]
    InvalidCredentials,
    /// Too many failed logins for the account or from the address; the next try is allowed after this wait.
    #[error("too many failed logins; retry in {retry_after_s} s")]
    Throttled { retry_after_s: u64 },
    #[error("store: {0}")]
    Store(StoreError),
    #[error("password hashing failed")]
    Hashing,
    /// The current password given to confirm a change is wrong.
    #[error("current password is wrong")]
    CurrentPasswordWrong,
}

impl From<StoreError> for AccountsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict("users.username") => AccountsError::UsernameTaken,
            e => AccountsError::Store(e),
        }
    }
}

impl Localized for AccountsError {
    fn code(&self) -> &'static str {
        match self {
            AccountsError::Invalid(e) => e.code(),
            AccountsError::UsernameTaken => "account.username_taken",
            AccountsError::InvalidCredentials => "auth.invalid_credentials",
            AccountsError::Throttled { .. } => "auth.throttled",
            AccountsError::CurrentPasswordWrong => "account.current_password_wrong",
            AccountsError::Store(_) | AccountsError::Hashing => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            AccountsError::Invalid(e) => e.field(),
            AccountsError::UsernameTaken => Some("username"),
            AccountsError::CurrentPasswordWrong => Some("current_password"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            AccountsError::Invalid(e) => e.message(lang),
            AccountsError::UsernameTaken => lang.pick("该用户名已被注册", "This username is taken").into(),
            AccountsError::CurrentPasswordWrong => lang.pick("当前密码不正确", "The current password is wrong").into(),
            AccountsError::InvalidCredentials => lang.pick("用户名或密码错误", "Wrong username or password").into(),
            AccountsError::Throttled { retry_after_s } => {
                let minutes = retry_after_s.div_ceil(60);
                match lang {
                    Lang::Zh => format!("登录失败次数过多，请 {minutes} 分钟后再试"),
                    Lang::En => format!("Too many failed logins; try again in {minutes} minutes"),
                }
            }
            AccountsError::Store(_) | AccountsError::Hashing => crate::error::internal_words(lang).into(),
        }
    }
}

/// Argon2id with the crate's defaults: m = 19 MiB, t = 2, p = 1 (OWASP's recommended minimum).
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// Hashes a password on a blocking thread (it takes tens of milliseconds on purpose).
pub async fn hash_password(password: &str) -> Result<String, AccountsError> {
    let password = zeroize::Zeroizing::new(password.to_string());
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| AccountsError::Hashing)
    })
    .await
    .map_err(|_| AccountsError::Hashing)?
}

/// Checks a password against a stored hash on a blocking thread.
pub async fn verify_password(hash: &str, password: &str) -> bool {
    let hash = hash.to_string();
    let password = zeroize::Zeroizing::new(password.to_string());
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// A random password of 20 letters and digits (≈119 bits).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = OsRng;
    (0..20).map(|_| ALPHABET.get(rng.gen_range(0..ALPHABET.len())).map(|b| char::from(*b)).unwrap_or('x')).collect()
}

/// Creates an account with any role (staff roles are for `kabao admin create` and the first admin only).
pub async fn create_user(
    store: &dyn Store,
    username: &str,
    password: &str,
    role: Role,
    email: Option<&str>,
    now: Timestamp,
) -> Result<User, AccountsError> {
    let username = Username::parse(username)?;
    let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(Email::parse(e)?),
        None => None,
    };
    check_new_password(password, username.as_str(), email.as_ref().map(Email::as_str))?;
    let password_hash = hash_password(password).await?;
    let new = NewUser {
        username: username.as_str().to_string(),
        email: email.map(|e| e.as_str().to_string()),
        password_hash,
        role,
        created_at: now,
    };
    let mut tx = store.begin(TxMode::Write).await?;
    let id = tx.insert_user(&new).await?;
    let user = tx.user_by_id(id).await?.ok_or(AccountsError::Store(StoreError::NotFound))?;
    tx.commit().await?;
    tracing::info!(user = %id, role = role.as_str(), "account created");
    Ok(user)
}

/// Self-service registration: buyers and merchants only.
pub async fn register(
    state: &App,
    username: &str,
    password: &str,
    role: &str,
    email: Option<&str>,
) -> Result<User, AccountsError> {
    let role = Role::parse(role).filter(|r| r.self_service()).ok_or(AccountsError::Invalid(AccountError::Role))?;
    let user = create_user(&*state.store, username, password, role, email, state.now()).await?;
    crate::email_links::after_registration(state, &user).await;
    Ok(user)
}

/// Creates the `admin` account with a random password if there is no admin yet; returns its credentials.
pub async fn ensure_admin(store: &dyn Store, now: Timestamp) -> Result<Option<(String, String)>, AccountsError> {
    {
        let mut tx = store.begin(TxMode::Read).await?;
        if tx.count_users_with_role(Role::Admin).await? > 0 {
            return Ok(None);
        }
    }
    let password = random_password();
    let mut username = "admin".to_string();
    for attempt in 0..5 {
        match create_user(store, &username, &password, Role::Admin, None, now).await {
            Ok(_) => return Ok(Some((username, password))),
            // Someone registered "admin" as a buyer: pick another name rather than take theirs.
            Err(AccountsError::UsernameTaken) => username = format!("admin{}", attempt + 2),
            Err(e) => return Err(e),
        }
    }
    Err(AccountsError::UsernameTaken)
}

/// Changes a user's password after checking the current one (wrong guesses count in the login throttles). Every
/// session of the account ends (the caller starts a fresh one for the browser that made the change); API
/// tokens stay. The account is mailed.
pub async fn change_password(
    state: &App,
    user: &User,
    current: &str,
    new: &str,
    ip: Option<IpAddr>,
) -> Result<(), AccountsError> {
    match authenticate(state, &user.username, current, ip).await {
        Ok(u) if u.id == user.id => {}
        Ok(_) | Err(AccountsError::InvalidCredentials) => return Err(AccountsError::CurrentPasswordWrong),
        Err(e) => return Err(e),
    }
    check_new_password(new, &user.username, user.email.as_deref())?;
    let password_hash = hash_password(new).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.set_password_hash(user.id, &password_hash).await?;
    tx.delete_user_sessions(user.id).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "password changed");
    state.mail_security_change(user, crate::mailer::SecurityChange::PasswordChanged);
    Ok(())
}

/// A hash of a random password, checked when the username is unknown so both paths cost the same.
static DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1f1VYt3hEuRUa4H1y5JbzQ/nrQa6ZQhzXkDQcBk1z3Y";

/// Checks credentials with throttling of failures: per account with a doubling lockout, and per IP at a much
/// higher threshold (so people behind one NAT do not lock each other out); a success clears the account's.
pub async fn authenticate(
    state: &App,
    username: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> Result<User, AccountsError> {
    let account = state.login_account_check(username);
    let by_ip = ip.map(|ip| state.login_ip_check(ip));
    let now = state.now();
    // The attempt counts as a failure until the password is proven right, so a burst of concurrent guesses (on
    // this instance or another) cannot all pass the check before any of them is counted. (The per-IP count is
    // kept after the fact: a right password must not count against a shared IP, so a burst may overshoot it.)
    let checks: Vec<&Check> = std::iter::once(&account).chain(by_ip.as_ref()).collect();
    if let Some(until) = throttles::check_and_count(state, &checks, &[&account]).await? {
        let retry_after_s = kabao_core::throttle::retry_after_seconds(now, until);
        return Err(AccountsError::Throttled { retry_after_s });
    }
    let user = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.user_by_username(username.trim()).await?
    };
    let ok = match &user {
        Some(u) => verify_password(&u.password_hash, password).await,
        None => {
            let _ = verify_password(DUMMY_HASH, password).await;
            false
        }
    };
    match user {
        Some(u) if ok => {
            throttles::clear(state, &account).await?;
            Ok(u)
        }
        _ => {
            if let Some(by_ip) = &by_ip {
                throttles::count(state, &[by_ip]).await?;
            }
            Err(AccountsError::InvalidCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_parameters_are_the_recommended_ones() {
        let p = argon2::Params::default();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19 * 1024, 2, 1));
        assert_eq!(argon2().params().m_cost(), 19 * 1024);
    }

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let h = hash_password("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&h, "correct horse").await);
        assert!(!verify_password(&h, "wrong horse").await);
        assert!(!verify_password("garbage", "x").await);
    }

    #[test]
    fn random_passwords_are_long_and_distinct() {
        let (a, b) = (random_password(), random_password());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}

#[cfg(test)]
mod dummy_hash_tests {
    #[test]
    fn dummy_hash_parses_so_unknown_users_cost_a_full_verification() {
        assert!(argon2::password_hash::PasswordHash::new(super::DUMMY_HASH).is_ok());
    }
}
