//! The second factor (TOTP, RFC 6238): enrolment with a pending secret confirmed by its first code, recovery
//! codes, turning it off, the two-step login (a short-lived single-use challenge after the right password) and
//! the operator's reset. Secrets are sealed by the keyring with the user as associated data; recovery codes and
//! login challenges are stored as SHA-256 only. Admins and arbiters must have it ([`needs_enrolment`]).

use crate::accounts::AccountsError;
use crate::mailer::SecurityChange;
use crate::secrets::{random_token, sha256};
use crate::App;
use kabao_core::totp::{
    looks_like_totp_code, normalize_recovery_code, recovery_code_from_bytes, TotpSecret, RECOVERY_CODES,
    RECOVERY_CODE_BYTES, SECRET_BYTES,
};
use kabao_core::user::Role;
use kabao_core::vault::{VaultError, NONCE_LEN};
use kabao_core::{Lang, Localized, UserId};
use kabao_store::{LoginChallenge, SealedTotp, SecurityEvent, Store, StoreError, TotpCredential, TxMode, User};
use rand::rngs::OsRng;
use rand::RngCore;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// How long the second step of a login may wait for its code.
pub const LOGIN_CHALLENGE_SECONDS: i64 = 300;
/// Wrong codes after which a login challenge dies (the password must be given again).
pub const LOGIN_CHALLENGE_MAX_FAILURES: i32 = 5;

/// Security events (the admin's list) written for second-factor changes.
pub const SECURITY_TOTP_ENABLED: &str = "totp_enabled";
pub const SECURITY_TOTP_DISABLED: &str = "totp_disabled";
pub const SECURITY_RECOVERY_CODES_RENEWED: &str = "totp_recovery_codes_renewed";
pub const SECURITY_TOTP_RESET: &str = "totp_reset";

/// Why a second-factor step was refused.
#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    /// The account has TOTP on and no code was given.
    #[error("a TOTP code is required")]
    Required,
    /// The code is wrong, used already, or not a recovery code of this account.
    #[error("the code is wrong or was used already")]
    Invalid,
    /// An admin or arbiter without TOTP: nothing but enrolment until they have it.
    #[error("this account must set up two-step verification first")]
    EnrolmentRequired,
    /// The pending login is unknown, used, expired, or died of wrong codes.
    #[error("the sign-in expired; enter the password again")]
    ChallengeExpired,
    #[error("no enrolment is pending")]
    NoPendingEnrolment,
    #[error("two-step verification is on already")]
    AlreadyEnabled,
    #[error("two-step verification is not on")]
    NotEnabled,
    /// Admins and arbiters keep their second factor.
    #[error("admins and arbiters cannot turn two-step verification off")]
    StaffMustKeep,
    /// The password given to confirm turning it off is wrong.
    #[error("the password is wrong")]
    PasswordWrong,
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
}

impl Localized for TotpError {
    fn code(&self) -> &'static str {
        match self {
            TotpError::Required => "auth.totp_required",
            TotpError::Invalid => "auth.totp_invalid",
            TotpError::EnrolmentRequired => "auth.totp_enrolment_required",
            TotpError::ChallengeExpired => "auth.login_expired",
            TotpError::NoPendingEnrolment => "totp.no_pending_enrolment",
            TotpError::AlreadyEnabled => "totp.already_enabled",
            TotpError::NotEnabled => "totp.not_enabled",
            TotpError::StaffMustKeep => "totp.staff_must_keep",
            TotpError::PasswordWrong => "account.current_password_wrong",
            TotpError::Accounts(e) => e.code(),
            TotpError::Store(_) | TotpError::Vault(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            TotpError::Required | TotpError::Invalid => Some("totp"),
            TotpError::PasswordWrong => Some("password"),
            TotpError::Accounts(e) => e.field(),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            TotpError::Required => lang.pick(
                "该账号已开启两步验证，请填写验证器中的 6 位验证码或一枚恢复码",
                "This account has two-step verification on: give the 6-digit code from the authenticator or a recovery code",
            ),
            TotpError::Invalid => lang.pick(
                "验证码不正确或已使用过，请等待验证器显示新的验证码后重试",
                "The code is wrong or was used already; wait for the authenticator's next code and retry",
            ),
            TotpError::EnrolmentRequired => lang.pick(
                "管理员和仲裁员账号必须先开启两步验证，请在「两步验证」页面完成设置",
                "Admin and arbiter accounts must set up two-step verification first, on the two-step verification page",
            ),
            TotpError::ChallengeExpired => lang.pick(
                "登录已过期或验证码错误次数过多，请重新输入密码登录",
                "The sign-in expired or had too many wrong codes; sign in with your password again",
            ),
            TotpError::NoPendingEnrolment => lang.pick(
                "没有进行中的两步验证设置，请重新打开设置页面",
                "No two-step verification setup is in progress; open the setup page again",
            ),
            TotpError::AlreadyEnabled => lang.pick("两步验证已经开启", "Two-step verification is on already"),
            TotpError::NotEnabled => lang.pick("两步验证尚未开启", "Two-step verification is not on"),
            TotpError::StaffMustKeep => lang.pick(
                "管理员和仲裁员账号必须保持两步验证开启",
                "Admin and arbiter accounts must keep two-step verification on",
            ),
            TotpError::PasswordWrong => lang.pick("密码不正确", "The password is wrong"),
            TotpError::Accounts(e) => return e.message(lang),
            TotpError::Store(_) | TotpError::Vault(_) => crate::error::internal_words(lang),
        }
        .to_string()
    }
}

/// Whether an account must enrol before it may do anything else: admins and arbiters without TOTP.
pub fn needs_enrolment(user: &User) -> bool {
    required_for(user.role) && !user.totp_enabled
}

/// Whether the role must have a second factor.
pub fn required_for(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Arbiter)
}

/// The secret of an enrolment in progress, as the page shows it.
pub struct Enrolment {
    /// Base32 in groups of four, for typing.
    pub secret_grouped: Zeroizing<String>,
    /// `otpauth://totp/Kabao:<user>?secret=…`, for "open in authenticator" and the QR code.
    pub otpauth_url: Zeroizing<String>,
}

/// The second factor of an account, for its page.
pub struct Status {
    pub enabled: bool,
    pub recovery_codes_left: i64,
}

/// What proved the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Totp,
    /// A recovery code, now spent; this many are left.
    RecoveryCode {
        left: i64,
    },
}

fn seal_context(kind: &str, user: UserId) -> Vec<u8> {
    format!("totp.{kind}|user:{}", user.0).into_bytes()
}

fn seal(app: &App, kind: &str, user: UserId, secret: &TotpSecret) -> Result<SealedTotp, TotpError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let (key_version, secret_sealed) = app.keyring.seal_record(&seal_context(kind, user), secret.as_bytes(), nonce)?;
    Ok(SealedTotp { user_id: user, key_version, secret_sealed, at: app.now() })
}

fn open(app: &App, kind: &str, sealed: &SealedTotp) -> Result<TotpSecret, TotpError> {
    let plain =
        app.keyring.open_record(sealed.key_version, &seal_context(kind, sealed.user_id), &sealed.secret_sealed)?;
    Ok(TotpSecret::from_bytes(plain.to_vec()))
}

fn enrolment(user: &User, secret: &TotpSecret) -> Enrolment {
    Enrolment { secret_grouped: secret.base32_grouped(), otpauth_url: secret.otpauth_url(&user.username) }
}

fn unix_seconds(app: &App) -> i64 {
    app.now().millis().div_euclid(1000)
}

/// The account's second factor: on or off, and how many recovery codes are left.
pub async fn status(app: &App, user: &User) -> Result<Status, TotpError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    let enabled = tx.totp_credential(user.id).await?.is_some();
    let recovery_codes_left = tx.count_unused_recovery_codes(user.id).await?;
    Ok(Status { enabled, recovery_codes_left })
}

/// Starts (or shows again) the enrolment: a fresh secret kept sealed server-side until its first code confirms
/// it. Reloading the page shows the same secret.
pub async fn begin_enrolment(app: &App, user: &User) -> Result<Enrolment, TotpError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    if tx.totp_credential(user.id).await?.is_some() {
        return Err(TotpError::AlreadyEnabled);
    }
    if let Some(pending) = tx.totp_pending(user.id).await? {
        return Ok(enrolment(user, &open(app, "pending", &pending)?));
    }
    let mut bytes = vec![0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let secret = TotpSecret::from_bytes(bytes);
    tx.put_totp_pending(&seal(app, "pending", user.id, &secret)?).await?;
    tx.commit().await?;
    Ok(enrolment(user, &secret))
}

/// The enrolment in progress, if any (for its QR code).
pub async fn pending_enrolment(app: &App, user: &User) -> Result<Option<Enrolment>, TotpError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    match tx.totp_pending(user.id).await? {
        Some(p) => Ok(Some(enrolment(user, &open(app, "pending", &p)?))),
        None => Ok(None),
    }
}

/// Ten fresh recovery codes: the codes to show once, and their SHA-256 to store.
fn new_recovery_codes() -> (Vec<String>, Vec<Vec<u8>>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_CODE_BYTES];
            OsRng.fill_bytes(&mut bytes);
            let code = recovery_code_from_bytes(&bytes);
            let hash = sha256(&normalize_recovery_code(&code).unwrap_or_default());
            (code, hash)
        })
        .unzip()
}

fn security_event(app: &App, kind: &str, user: &User) -> SecurityEvent {
    SecurityEvent {
        id: 0,
        kind: kind.to_string(),
        order_id: None,
        detail_json: serde_json::json!({"user_id": user.id.0, "username": user.username}).to_string(),
        created_at: app.now(),
    }
}

/// Completes the enrolment with the first code of the pending secret: TOTP is on from now, and the ten recovery
/// codes returned are shown once (only their hashes are kept). The account is mailed.
pub async fn confirm_enrolment(app: &App, user: &User, code: &str) -> Result<Vec<String>, TotpError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    if tx.totp_credential(user.id).await?.is_some() {
        return Err(TotpError::AlreadyEnabled);
    }
    let pending = tx.totp_pending(user.id).await?.ok_or(TotpError::NoPendingEnrolment)?;
    let secret = open(app, "pending", &pending)?;
    let step = secret.accept(code, unix_seconds(app), None).map_err(|_| TotpError::Invalid)?;
    let sealed = seal(app, "credential", user.id, &secret)?;
    tx.insert_totp_credential(&TotpCredential { sealed, last_step: step }).await?;
    let (codes, hashes) = new_recovery_codes();
    tx.replace_recovery_codes(user.id, &hashes, app.now()).await?;
    tx.insert_security_event(&security_event(app, SECURITY_TOTP_ENABLED, user)).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "two-step verification turned on");
    app.mail_security_change(user, SecurityChange::TotpEnabled);
    Ok(codes)
}

/// Checks a TOTP code (never a recovery code) inside `tx`, recording its step so it is not taken again.
async fn check_totp_in(app: &App, tx: &mut dyn kabao_store::Tx, user: UserId, code: &str) -> Result<(), TotpError> {
    let credential = tx.totp_credential(user).await?.ok_or(TotpError::NotEnabled)?;
    let secret = open(app, "credential", &credential.sealed)?;
    let step = secret.accept(code, unix_seconds(app), Some(credential.last_step)).map_err(|_| TotpError::Invalid)?;
    // The step moves forward only if no one took it meanwhile: of two requests with one code, one wins.
    if !tx.advance_totp_step(user, step).await? {
        return Err(TotpError::Invalid);
    }
    Ok(())
}

/// Checks a TOTP code or a recovery code inside `tx`; a recovery code is spent.
async fn check_second_factor_in(
    app: &App,
    tx: &mut dyn kabao_store::Tx,
    user: UserId,
    input: &str,
) -> Result<Proof, TotpError> {
    if looks_like_totp_code(input) {
        check_totp_in(app, tx, user, input).await.map_err(|e| match e {
            TotpError::NotEnabled => TotpError::Invalid,
            e => e,
        })?;
        return Ok(Proof::Totp);
    }
    let code = normalize_recovery_code(input).ok_or(TotpError::Invalid)?;
    if !tx.use_recovery_code(user, &sha256(&code), app.now()).await? {
        return Err(TotpError::Invalid);
    }
    Ok(Proof::RecoveryCode { left: tx.count_unused_recovery_codes(user).await? })
}

/// New recovery codes (the old ones stop working), confirmed by a current TOTP code. Shown once; mailed.
pub async fn renew_recovery_codes(app: &App, user: &User, code: &str) -> Result<Vec<String>, TotpError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    check_totp_in(app, &mut *tx, user.id, code).await?;
    let (codes, hashes) = new_recovery_codes();
    tx.replace_recovery_codes(user.id, &hashes, app.now()).await?;
    tx.insert_security_event(&security_event(app, SECURITY_RECOVERY_CODES_RENEWED, user)).await?;
    tx.commit().await?;
    app.mail_security_change(user, SecurityChange::RecoveryCodesRenewed);
    Ok(codes)
}

/// Turns TOTP off, with the password and a code (TOTP or recovery). Refused for admins and arbiters. Mailed.
pub async fn disable(app: &App, user: &User, password: &str, code: &str, ip: Option<IpAddr>) -> Result<(), TotpError> {
    if required_for(user.role) {
        return Err(TotpError::StaffMustKeep);
    }
    match crate::accounts::authenticate(app, &user.username, password, ip).await {
        Ok(u) if u.id == user.id => {}
        Ok(_) | Err(AccountsError::InvalidCredentials) => return Err(TotpError::PasswordWrong),
        Err(e) => return Err(e.into()),
    }
    let mut tx = app.store.begin(TxMode::Write).await?;
    if tx.totp_credential(user.id).await?.is_none() {
        return Err(TotpError::NotEnabled);
    }
    check_second_factor_in(app, &mut *tx, user.id, code).await?;
    tx.delete_totp(user.id).await?;
    tx.insert_security_event(&security_event(app, SECURITY_TOTP_DISABLED, user)).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "two-step verification turned off");
    app.mail_security_change(user, SecurityChange::TotpDisabled);
    Ok(())
}

/// Refuses when the account or the address is locked out by failed logins (as [`crate::accounts::authenticate`]
/// counts them).
async fn check_throttles(app: &App, username: &str, ip: Option<IpAddr>) -> Result<(), TotpError> {
    let now = app.now();
    let account = app.login_account_check(username);
    let by_ip = ip.map(|ip| app.login_ip_check(ip));
    let checks: Vec<&crate::throttles::Check> = std::iter::once(&account).chain(by_ip.as_ref()).collect();
    match crate::throttles::blocked(app, &checks).await? {
        Some(until) => {
            Err(AccountsError::Throttled { retry_after_s: kabao_core::throttle::retry_after_seconds(now, until) }
                .into())
        }
        None => Ok(()),
    }
}

/// A wrong second factor counts as a failed login, for the account and the address.
async fn record_failure(app: &App, username: &str, ip: Option<IpAddr>) -> Result<(), TotpError> {
    let account = app.login_account_check(username);
    let by_ip = ip.map(|ip| app.login_ip_check(ip));
    let checks: Vec<&crate::throttles::Check> = std::iter::once(&account).chain(by_ip.as_ref()).collect();
    crate::throttles::count(app, &checks).await?;
    Ok(())
}

async fn clear_failures(app: &App, username: &str) -> Result<(), TotpError> {
    crate::throttles::clear(app, &app.login_account_check(username)).await?;
    Ok(())
}

/// After a right password for an account with TOTP on: a random single-use token for the second step, bound to
/// the user and valid [`LOGIN_CHALLENGE_SECONDS`] (only its SHA-256 is stored). No session yet.
pub async fn start_login_challenge(app: &App, user: &User) -> Result<String, TotpError> {
    let token = random_token();
    let now = app.now();
    let challenge = LoginChallenge {
        token_hash: sha256(&token),
        user_id: user.id,
        created_at: now,
        expires_at: now.plus_seconds(LOGIN_CHALLENGE_SECONDS),
        failures: 0,
        used_at: None,
    };
    let mut tx = app.store.begin(TxMode::Write).await?;
    tx.insert_login_challenge(&challenge).await?;
    tx.commit().await?;
    Ok(token)
}

/// The user a live login challenge belongs to (for the code page to greet), or `None`.
pub async fn challenge_user(app: &App, token: &str) -> Result<Option<User>, TotpError> {
    if !crate::sessions::well_formed_token(token) {
        return Ok(None);
    }
    let mut tx = app.store.begin(TxMode::Read).await?;
    match tx.live_login_challenge(&sha256(token), app.now()).await? {
        Some(c) => Ok(tx.user_by_id(c.user_id).await?),
        None => Ok(None),
    }
}

/// The second step of a login: the challenge's user, if `code` is their current TOTP code or one of their
/// recovery codes. The challenge is then spent. A wrong code counts as a failed login (account and address) and
/// against the challenge, which dies at the fifth.
pub async fn finish_login(app: &App, token: &str, code: &str, ip: Option<IpAddr>) -> Result<(User, Proof), TotpError> {
    if !crate::sessions::well_formed_token(token) {
        return Err(TotpError::ChallengeExpired);
    }
    let hash = sha256(token);
    let mut tx = app.store.begin(TxMode::Write).await?;
    let challenge = tx.live_login_challenge(&hash, app.now()).await?.ok_or(TotpError::ChallengeExpired)?;
    let user = tx.user_by_id(challenge.user_id).await?.ok_or(TotpError::ChallengeExpired)?;
    check_throttles(app, &user.username, ip).await?;
    match check_second_factor_in(app, &mut *tx, user.id, code).await {
        Ok(proof) => {
            if !tx.use_login_challenge(&hash, app.now()).await? {
                return Err(TotpError::ChallengeExpired);
            }
            tx.commit().await?;
            clear_failures(app, &user.username).await?;
            if let Proof::RecoveryCode { .. } = proof {
                app.mail_security_change(&user, SecurityChange::RecoveryCodeUsed);
            }
            Ok((user, proof))
        }
        Err(TotpError::Invalid) => {
            let failures = tx.add_login_challenge_failure(&hash).await?;
            if failures >= LOGIN_CHALLENGE_MAX_FAILURES {
                tx.use_login_challenge(&hash, app.now()).await?;
            }
            tx.commit().await?;
            record_failure(app, &user.username, ip).await?;
            Err(TotpError::Invalid)
        }
        Err(e) => Err(e),
    }
}

/// The API's login (creating a token): the password, then — for an account with TOTP on — `code` (TOTP or
/// recovery). An admin or arbiter without TOTP is refused until they enrol on the page. A wrong code counts as
/// a failed login.
pub async fn login_with_code(
    app: &App,
    username: &str,
    password: &str,
    code: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<(User, Option<Proof>), TotpError> {
    let user = crate::accounts::authenticate(app, username, password, ip).await?;
    if needs_enrolment(&user) {
        return Err(TotpError::EnrolmentRequired);
    }
    if !user.totp_enabled {
        return Ok((user, None));
    }
    let code = code.map(str::trim).filter(|c| !c.is_empty()).ok_or(TotpError::Required)?;
    check_throttles(app, &user.username, ip).await?;
    let mut tx = app.store.begin(TxMode::Write).await?;
    match check_second_factor_in(app, &mut *tx, user.id, code).await {
        Ok(proof) => {
            tx.commit().await?;
            if let Proof::RecoveryCode { .. } = proof {
                app.mail_security_change(&user, SecurityChange::RecoveryCodeUsed);
            }
            Ok((user, Some(proof)))
        }
        Err(TotpError::Invalid) => {
            drop(tx);
            record_failure(app, &user.username, ip).await?;
            Err(TotpError::Invalid)
        }
        Err(e) => Err(e),
    }
}

/// The operator's reset (`kabao admin reset-totp`), for someone who lost their device and recovery codes: the
/// second factor is removed and every session ends; an admin or arbiter walks into enrolment at the next login.
/// Recorded as a security event.
pub async fn reset(store: &dyn Store, username: &str, now: kabao_core::Timestamp) -> Result<User, TotpError> {
    let mut tx = store.begin(TxMode::Write).await?;
    let user = tx.user_by_username(username.trim()).await?.ok_or(AccountsError::InvalidCredentials)?;
    let had = tx.delete_totp(user.id).await?;
    tx.delete_user_sessions(user.id).await?;
    tx.insert_security_event(&SecurityEvent {
        id: 0,
        kind: SECURITY_TOTP_RESET.into(),
        order_id: None,
        detail_json: serde_json::json!({"user_id": user.id.0, "username": user.username, "had_totp": had}).to_string(),
        created_at: now,
    })
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, had, "two-step verification reset by the operator");
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kabao_core::vault::MasterKey;
    use kabao_core::Timestamp;
    use std::sync::Arc;

    const T0: Timestamp = Timestamp(1_790_000_000_000);

    async fn app() -> (App, Arc<crate::ManualClock>) {
        let store: Arc<dyn Store> = Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
        store.migrate().await.unwrap();
        let keyring = crate::keyring::load_or_create(&*store, &MasterKey::from_bytes([5; 32]), T0).await.unwrap();
        let clock = Arc::new(crate::ManualClock::new(T0));
        (App::new(store, Arc::new(keyring), crate::Config::default(), clock.clone()), clock)
    }

    async fn user(app: &App, name: &str, role: Role) -> User {
        crate::accounts::create_user(&*app.store, name, "correct horse battery", role, None, T0).await.unwrap()
    }

    async fn reload(app: &App, u: &User) -> User {
        app.store.begin(TxMode::Read).await.unwrap().user_by_id(u.id).await.unwrap().unwrap()
    }

    fn now_s(app: &App) -> i64 {
        app.now().millis() / 1000
    }

    /// Enrols `u` and returns the secret and the recovery codes.
    async fn enrol(app: &App, u: &User) -> (TotpSecret, Vec<String>) {
        let e = begin_enrolment(app, u).await.unwrap();
        let secret = TotpSecret::from_base32(&e.secret_grouped).unwrap();
        let codes = confirm_enrolment(app, u, &secret.code_at(now_s(app))).await.unwrap();
        (secret, codes)
    }

    #[tokio::test]
    async fn enrolment_needs_a_code_of_the_pending_secret_and_keeps_it_sealed() {
        let (app, _) = app().await;
        let u = user(&app, "alice", Role::Merchant).await;
        let e = begin_enrolment(&app, &u).await.unwrap();
        assert_eq!(begin_enrolment(&app, &u).await.unwrap().secret_grouped, e.secret_grouped, "reload: same");
        assert!(e.otpauth_url.starts_with("otpauth://totp/Kabao:alice?secret="));
        let secret = TotpSecret::from_base32(&e.secret_grouped).unwrap();
        let sealed = app.store.begin(TxMode::Read).await.unwrap().totp_pending(u.id).await.unwrap().unwrap();
        assert!(!sealed.secret_sealed.windows(8).any(|w| secret.as_bytes().windows(8).any(|s| s == w)));
        assert!(matches!(confirm_enrolment(&app, &u, "000000").await, Err(TotpError::Invalid)));
        assert!(!reload(&app, &u).await.totp_enabled, "a wrong code enables nothing");
        let codes = confirm_enrolment(&app, &u, &secret.code_at(now_s(&app))).await.unwrap();
        assert_eq!(codes.len(), 10);
        assert!(reload(&app, &u).await.totp_enabled);
        assert!(matches!(begin_enrolment(&app, &u).await, Err(TotpError::AlreadyEnabled)));
    }

    #[tokio::test]
    async fn a_code_is_accepted_once_and_a_later_one_after_it() {
        let (app, clock) = app().await;
        let u = user(&app, "bob", Role::Buyer).await;
        let (secret, _) = enrol(&app, &u).await;
        let code = secret.code_at(now_s(&app));
        assert!(
            matches!(
                login_with_code(&app, "bob", "correct horse battery", Some(&code), None).await,
                Err(TotpError::Invalid)
            ),
            "the enrolment's own code is spent"
        );
        clock.advance_seconds(30);
        let code = secret.code_at(now_s(&app));
        let (_, proof) = login_with_code(&app, "bob", "correct horse battery", Some(&code), None).await.unwrap();
        assert_eq!(proof, Some(Proof::Totp));
        assert!(
            matches!(
                login_with_code(&app, "bob", "correct horse battery", Some(&code), None).await,
                Err(TotpError::Invalid)
            ),
            "replay refused"
        );
        let earlier = secret.code_at(now_s(&app) - 30);
        assert!(matches!(
            login_with_code(&app, "bob", "correct horse battery", Some(&earlier), None).await,
            Err(TotpError::Invalid)
        ));
        assert!(matches!(
            login_with_code(&app, "bob", "correct horse battery", None, None).await,
            Err(TotpError::Required)
        ));
    }

    #[tokio::test]
    async fn recovery_codes_work_once_each_and_renewal_ends_the_old_ones() {
        let (app, clock) = app().await;
        let u = user(&app, "carol", Role::Merchant).await;
        let (secret, codes) = enrol(&app, &u).await;
        let (_, proof) = login_with_code(&app, "carol", "correct horse battery", Some(&codes[0].to_uppercase()), None)
            .await
            .unwrap();
        assert_eq!(proof, Some(Proof::RecoveryCode { left: 9 }));
        assert!(matches!(
            login_with_code(&app, "carol", "correct horse battery", Some(&codes[0]), None).await,
            Err(TotpError::Invalid)
        ));
        clock.advance_seconds(30);
        let fresh = renew_recovery_codes(&app, &u, &secret.code_at(now_s(&app))).await.unwrap();
        assert!(matches!(
            login_with_code(&app, "carol", "correct horse battery", Some(&codes[1]), None).await,
            Err(TotpError::Invalid)
        ));
        assert_eq!(status(&app, &u).await.unwrap().recovery_codes_left, 10);
        assert!(login_with_code(&app, "carol", "correct horse battery", Some(&fresh[3]), None).await.is_ok());
    }

    #[tokio::test]
    async fn staff_must_enrol_and_cannot_turn_it_off() {
        let (app, clock) = app().await;
        let admin = user(&app, "root", Role::Admin).await;
        assert!(needs_enrolment(&admin));
        assert!(matches!(
            login_with_code(&app, "root", "correct horse battery", None, None).await,
            Err(TotpError::EnrolmentRequired)
        ));
        let (secret, _) = enrol(&app, &admin).await;
        let admin = reload(&app, &admin).await;
        assert!(!needs_enrolment(&admin));
        clock.advance_seconds(30);
        let code = secret.code_at(now_s(&app));
        assert!(matches!(
            disable(&app, &admin, "correct horse battery", &code, None).await,
            Err(TotpError::StaffMustKeep)
        ));
        assert!(reload(&app, &admin).await.totp_enabled);
        let reset_user = reset(&*app.store, "root", app.now()).await.unwrap();
        assert!(needs_enrolment(&reload(&app, &reset_user).await), "after the operator's reset: enrol again");
    }

    #[tokio::test]
    async fn a_login_challenge_dies_after_five_wrong_codes_and_is_single_use() {
        let (app, clock) = app().await;
        let u = user(&app, "dave", Role::Buyer).await;
        let (secret, _) = enrol(&app, &u).await;
        let token = start_login_challenge(&app, &u).await.unwrap();
        for _ in 0..LOGIN_CHALLENGE_MAX_FAILURES {
            assert!(matches!(finish_login(&app, &token, "000000", None).await, Err(TotpError::Invalid)));
        }
        clock.advance_seconds(3600);
        let code = secret.code_at(now_s(&app));
        assert!(matches!(finish_login(&app, &token, &code, None).await, Err(TotpError::ChallengeExpired)));
        let token = start_login_challenge(&app, &u).await.unwrap();
        let (who, proof) = finish_login(&app, &token, &code, None).await.unwrap();
        assert_eq!((who.id, proof), (u.id, Proof::Totp));
        clock.advance_seconds(30);
        let next = secret.code_at(now_s(&app));
        assert!(matches!(finish_login(&app, &token, &next, None).await, Err(TotpError::ChallengeExpired)), "used");
        let token = start_login_challenge(&app, &u).await.unwrap();
        clock.advance_seconds(LOGIN_CHALLENGE_SECONDS);
        assert!(matches!(finish_login(&app, &token, &next, None).await, Err(TotpError::ChallengeExpired)), "expired");
    }
}
