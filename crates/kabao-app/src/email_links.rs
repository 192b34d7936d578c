//! Email verification and password reset by mailed single-use links (issue 21 item 1). A link carries a random
//! token of which only the SHA-256 is stored; it is taken once, only before it expires (24 hours to verify an
//! address, 30 minutes to reset a password). Anything about an account goes only to a verified address, and a
//! reset request answers the same, in the same time, whether or not an account exists.

use crate::secrets::{random_token, sha256};
use crate::sessions::well_formed_token;
use crate::App;
use kabao_core::user::{check_new_password, AccountError, Email};
use kabao_core::{Lang, Localized, Timestamp, UserId};
use kabao_store::{EmailToken, EmailTokenPurpose, StoreError, TxMode, User};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Every answer to a reset request takes at least this long, so that its time tells nothing.
pub const RESET_ANSWER_MS: u64 = 400;
/// Verification mails per account, and reset requests per account and per client IP, in [`WINDOW_SECONDS`].
pub const VERIFY_MAILS_PER_ACCOUNT: usize = 3;
pub const RESETS_PER_ACCOUNT: usize = 3;
pub const RESETS_PER_IP: usize = 10;
pub const WINDOW_SECONDS: i64 = 3600;

/// Why a link could not be sent or used.
#[derive(Debug, thiserror::Error)]
pub enum EmailLinkError {
    /// A malformed address or a password the policy refuses.
    #[error(transparent)]
    Invalid(#[from] AccountError),
    #[error("the account has no email address")]
    NoEmail,
    /// Changing the address asks for the current password.
    #[error("wrong password")]
    WrongPassword,
    #[error("the address is already verified")]
    AlreadyVerified,
    #[error("too many requests; retry in {retry_after_s} s")]
    Throttled { retry_after_s: u64 },
    /// Unknown, malformed, or for another purpose.
    #[error("no such link")]
    LinkInvalid,
    #[error("the link was used already")]
    LinkUsed,
    #[error("the link expired")]
    LinkExpired,
    /// A verification link for an address the account no longer has.
    #[error("the account's address changed since the link was sent")]
    AddressChanged,
    #[error("password hashing failed")]
    Hashing,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl Localized for EmailLinkError {
    fn code(&self) -> &'static str {
        match self {
            EmailLinkError::Invalid(e) => e.code(),
            EmailLinkError::NoEmail => "email.no_address",
            EmailLinkError::WrongPassword => "email.wrong_password",
            EmailLinkError::AlreadyVerified => "email.already_verified",
            EmailLinkError::Throttled { .. } => "email.throttled",
            EmailLinkError::LinkInvalid => "link.invalid",
            EmailLinkError::LinkUsed => "link.used",
            EmailLinkError::LinkExpired => "link.expired",
            EmailLinkError::AddressChanged => "link.address_changed",
            EmailLinkError::Hashing | EmailLinkError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            EmailLinkError::Invalid(e) => e.field(),
            EmailLinkError::NoEmail | EmailLinkError::AlreadyVerified => Some("email"),
            EmailLinkError::WrongPassword => Some("password"),
            EmailLinkError::LinkInvalid
            | EmailLinkError::LinkUsed
            | EmailLinkError::LinkExpired
            | EmailLinkError::AddressChanged => Some("token"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            EmailLinkError::Invalid(e) => e.message(lang),
            EmailLinkError::NoEmail => lang.pick("账号尚未填写邮箱", "The account has no email address").into(),
            EmailLinkError::WrongPassword => lang.pick("当前密码不正确", "The current password is wrong").into(),
            EmailLinkError::AlreadyVerified => lang.pick("该邮箱已验证", "This address is already verified").into(),
            EmailLinkError::Throttled { retry_after_s } => {
                let minutes = retry_after_s.div_ceil(60).max(1);
                match lang {
                    Lang::Zh => format!("请求过于频繁，请 {minutes} 分钟后再试"),
                    Lang::En => format!("Too many requests; try again in {minutes} minutes"),
                }
            }
            EmailLinkError::LinkInvalid => lang
                .pick(
                    "链接无效，请检查是否完整复制了邮件中的链接",
                    "This link is not valid; check that you copied all of it",
                )
                .into(),
            EmailLinkError::LinkUsed => lang
                .pick(
                    "该链接已经使用过，每个链接只能使用一次。如需要，请重新申请。",
                    "This link was used already; each link works once. Ask for a new one if needed.",
                )
                .into(),
            EmailLinkError::LinkExpired => {
                lang.pick("该链接已过期，请重新申请。", "This link has expired; ask for a new one.").into()
            }
            EmailLinkError::AddressChanged => lang
                .pick(
                    "账号邮箱已更改，此链接不再有效，请验证新邮箱。",
                    "The account's address changed; this link no longer works. Verify the new address.",
                )
                .into(),
            EmailLinkError::Hashing | EmailLinkError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// The password policy of a reset, the same as registration's; kept in one place.
pub fn password_policy(password: &str, username: &str, email: Option<&str>) -> Result<(), AccountError> {
    check_new_password(password, username, email)
}

/// An account's address and whether it is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailStatus {
    pub email: Option<String>,
    pub verified: bool,
}

/// Whether the account's current address is the one it proved.
pub async fn email_status(app: &App, user: &User) -> Result<EmailStatus, EmailLinkError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    let verified = tx.email_verified(user.id).await?;
    let current = tx.user_by_id(user.id).await?.ok_or(StoreError::NotFound)?;
    let verified = matches!((&current.email, verified), (Some(e), Some((v, _))) if *e == v);
    Ok(EmailStatus { email: current.email, verified })
}

fn throttled(until: Timestamp, now: Timestamp) -> EmailLinkError {
    EmailLinkError::Throttled { retry_after_s: u64::try_from((until.0 - now.0).max(1000) / 1000).unwrap_or(1) }
}

/// Stores a new token for `user` and returns its value (for the link).
async fn new_token(
    app: &App,
    user: &User,
    email: &str,
    purpose: EmailTokenPurpose,
    ttl_seconds: i64,
) -> Result<String, EmailLinkError> {
    let token = random_token();
    let now = app.now();
    let row = EmailToken {
        token_hash: sha256(&token),
        user_id: user.id,
        purpose,
        email: email.to_string(),
        created_at: now,
        expires_at: now.plus_seconds(ttl_seconds),
        used_at: None,
    };
    let mut tx = app.store.begin(TxMode::Write).await?;
    tx.insert_email_token(&row).await?;
    tx.commit().await?;
    Ok(token)
}

fn send_in_background(app: &App, mail: crate::mailer::Mail, what: &'static str, user: UserId) {
    let mailer = app.mailer.clone();
    tokio::spawn(async move {
        if let Err(e) = mailer.send(&mail).await {
            tracing::warn!(user = %user, error = %e, "{what} mail not sent");
        }
    });
}

/// Mails a verification link to the account's current address (at most [`VERIFY_MAILS_PER_ACCOUNT`] an hour).
pub async fn send_verification(app: &App, user: &User) -> Result<(), EmailLinkError> {
    let status = email_status(app, user).await?;
    let Some(email) = status.email else { return Err(EmailLinkError::NoEmail) };
    if status.verified {
        return Err(EmailLinkError::AlreadyVerified);
    }
    let now = app.now();
    let by_account = app.verify_mail_check(user.id);
    if let Some(until) = crate::throttles::check_and_count(app, &[&by_account], &[&by_account]).await? {
        return Err(throttled(until, now));
    }
    let ttl = app.config.verify_link_seconds;
    let token = new_token(app, user, &email, EmailTokenPurpose::Verify, ttl).await?;
    let mail = crate::mailer::verify_email_mail(&email, &user.username, &token, ttl / 3600, &app.link_base());
    send_in_background(app, mail, "verification", user.id);
    Ok(())
}

/// After a registration with an address: the first verification mail (a failure is logged, never fails it).
pub async fn after_registration(app: &App, user: &User) {
    if user.email.is_some() {
        if let Err(e) = send_verification(app, user).await {
            tracing::warn!(user = %user.id, error = %e, "verification mail not sent after registration");
        }
    }
}

/// Reads a link's token and says whether it can still be used, without using it.
async fn usable_token(app: &App, token: &str, purpose: EmailTokenPurpose) -> Result<EmailToken, EmailLinkError> {
    if !well_formed_token(token) {
        return Err(EmailLinkError::LinkInvalid);
    }
    let mut tx = app.store.begin(TxMode::Read).await?;
    let row = tx.email_token(&sha256(token)).await?.filter(|t| t.purpose == purpose);
    let row = row.ok_or(EmailLinkError::LinkInvalid)?;
    if row.used_at.is_some() {
        return Err(EmailLinkError::LinkUsed);
    }
    if row.expires_at <= app.now() {
        return Err(EmailLinkError::LinkExpired);
    }
    Ok(row)
}

/// Takes a token in `tx`; when another request took it first (or it just expired), says which.
async fn take_token(
    app: &App,
    tx: &mut Box<dyn kabao_store::Tx>,
    token: &str,
    now: Timestamp,
) -> Result<(), EmailLinkError> {
    if tx.use_email_token(&sha256(token), now).await? {
        return Ok(());
    }
    match tx.email_token(&sha256(token)).await? {
        Some(t) if t.used_at.is_some() => Err(EmailLinkError::LinkUsed),
        Some(t) if t.expires_at <= app.now() => Err(EmailLinkError::LinkExpired),
        _ => Err(EmailLinkError::LinkInvalid),
    }
}

/// Uses a verification link: the address it was sent to becomes the account's verified address.
pub async fn verify_email(app: &App, token: &str) -> Result<User, EmailLinkError> {
    let row = usable_token(app, token, EmailTokenPurpose::Verify).await?;
    let now = app.now();
    let mut tx = app.store.begin(TxMode::Write).await?;
    let user = tx.user_by_id(row.user_id).await?.ok_or(EmailLinkError::LinkInvalid)?;
    if user.email.as_deref() != Some(row.email.as_str()) {
        return Err(EmailLinkError::AddressChanged);
    }
    take_token(app, &mut tx, token, now).await?;
    tx.set_email_verified(user.id, &row.email, now).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "email address verified");
    Ok(user)
}

/// Changes (or, with an empty text, removes) the account's address; the old address is told, the new one gets a
/// verification link. Older verification and reset links stop working. Asks for the current password, so that a
/// session left open cannot hand the account (through a reset) to another address.
pub async fn change_email(app: &App, user: &User, new_email: &str, password: &str) -> Result<User, EmailLinkError> {
    if !crate::accounts::verify_password(&user.password_hash, password).await {
        return Err(EmailLinkError::WrongPassword);
    }
    let new_email = match new_email.trim() {
        "" => None,
        e => Some(Email::parse(e)?.as_str().to_string()),
    };
    if new_email == user.email {
        return Ok(user.clone());
    }
    let now = app.now();
    let mut tx = app.store.begin(TxMode::Write).await?;
    tx.set_user_email(user.id, new_email.as_deref()).await?;
    tx.retire_email_tokens(user.id, EmailTokenPurpose::Verify, now).await?;
    tx.retire_email_tokens(user.id, EmailTokenPurpose::Reset, now).await?;
    let updated = tx.user_by_id(user.id).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "email address changed");
    // The notice goes to the old address (the one the owner had), the link to the new one.
    app.mail_security_change(user, crate::mailer::SecurityChange::EmailChanged);
    if updated.email.is_some() {
        match send_verification(app, &updated).await {
            Ok(()) | Err(EmailLinkError::Throttled { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(updated)
}

/// "Forgot password": `who` is a username or an address. Accounts with a verified address get a reset link;
/// the answer is the same, and takes at least [`RESET_ANSWER_MS`], whatever exists. Only the per-IP throttle
/// shows (it says nothing about any account).
pub async fn request_reset(app: &App, ip: IpAddr, who: &str) -> Result<(), EmailLinkError> {
    let started = Instant::now();
    let result = request_reset_inner(app, ip, who).await;
    let floor = Duration::from_millis(RESET_ANSWER_MS);
    if let Some(rest) = floor.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    result
}

async fn request_reset_inner(app: &App, ip: IpAddr, who: &str) -> Result<(), EmailLinkError> {
    let now = app.now();
    let by_ip = app.reset_ip_check(ip);
    if let Some(until) = crate::throttles::check_and_count(app, &[&by_ip], &[&by_ip]).await? {
        return Err(throttled(until, now));
    }
    let who = who.trim();
    if who.is_empty() || who.chars().count() > 254 {
        return Ok(());
    }
    let users = {
        let mut tx = app.store.begin(TxMode::Read).await?;
        if who.contains('@') {
            tx.users_with_verified_email(who).await?
        } else {
            match tx.user_by_username(who).await? {
                Some(u) => {
                    let verified = tx.email_verified(u.id).await?;
                    let ok = matches!((&u.email, verified), (Some(e), Some((v, _))) if *e == v);
                    if ok {
                        vec![u]
                    } else {
                        Vec::new()
                    }
                }
                None => Vec::new(),
            }
        }
    };
    for user in users.into_iter().take(3) {
        let Some(email) = user.email.clone() else { continue };
        let by_account = app.reset_account_check(user.id);
        if crate::throttles::check_and_count(app, &[&by_account], &[&by_account]).await?.is_some() {
            continue;
        }
        let ttl = app.config.reset_link_seconds;
        let token = new_token(app, &user, &email, EmailTokenPurpose::Reset, ttl).await?;
        let minutes = (ttl / 60).max(1);
        let mail = crate::mailer::password_reset_mail(&email, &user.username, &token, minutes, &app.link_base());
        send_in_background(app, mail, "password reset", user.id);
        tracing::info!(user = %user.id, "password reset link sent");
    }
    Ok(())
}

/// The account a reset link is for, if the link can still be used (for showing the form).
pub async fn reset_link_user(app: &App, token: &str) -> Result<User, EmailLinkError> {
    let row = usable_token(app, token, EmailTokenPurpose::Reset).await?;
    let mut tx = app.store.begin(TxMode::Read).await?;
    tx.user_by_id(row.user_id).await?.ok_or(EmailLinkError::LinkInvalid)
}

/// Uses a reset link: sets the new password (registration's policy), ends every session of the account and every
/// other reset link, and mails the account a notice. A second factor is still asked at the next login.
pub async fn reset_password(app: &App, token: &str, password: &str) -> Result<User, EmailLinkError> {
    let user = reset_link_user(app, token).await?;
    password_policy(password, &user.username, user.email.as_deref())?;
    let hash = crate::accounts::hash_password(password).await.map_err(|_| EmailLinkError::Hashing)?;
    let now = app.now();
    let mut tx = app.store.begin(TxMode::Write).await?;
    take_token(app, &mut tx, token, now).await?;
    tx.set_password_hash(user.id, &hash).await?;
    let ended = tx.delete_user_sessions(user.id).await?;
    tx.retire_email_tokens(user.id, EmailTokenPurpose::Reset, now).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, sessions_ended = ended, "password reset by emailed link");
    app.mail_security_change(&user, crate::mailer::SecurityChange::PasswordReset);
    Ok(user)
}
