//! Sign-up throttle (issue 21): per client IP, a proof-of-work challenge whose difficulty grows with the
//! sign-ups from that IP in the last hour, and a hard cap per hour. Challenges are stateless (signed with a key
//! derived from the keyring); a used one is remembered in the store until it expires, so it cannot be spent twice
//! on any instance. The counts are the store's throttle attempts ([`crate::throttles`]), shared by instances.

use crate::accounts::{register, AccountsError};
use crate::App;
use kabao_core::pow::{self, Challenge, PowError};
use kabao_core::{Lang, Localized, Timestamp};
use kabao_store::{TxMode, User};
use rand::rngs::OsRng;
use rand::RngCore;
use std::net::IpAddr;

/// Why a sign-up was refused before the account was looked at.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// The address reached the hourly cap; the next sign-up is allowed after this wait.
    #[error("too many sign-ups from this address; retry in {retry_after_s} s")]
    Throttled { retry_after_s: u64 },
    /// No answer, an altered or foreign challenge, or a nonce that does not solve it.
    #[error("the sign-up check is missing or wrong")]
    ProofInvalid,
    #[error("the sign-up check expired")]
    ProofExpired,
    #[error("the sign-up check was already used")]
    ProofUsed,
    #[error("store: {0}")]
    Store(#[from] kabao_store::StoreError),
    #[error(transparent)]
    Account(#[from] AccountsError),
}

impl Localized for SignupError {
    fn code(&self) -> &'static str {
        match self {
            SignupError::Throttled { .. } => "signup.throttled",
            SignupError::ProofInvalid => "signup.proof_invalid",
            SignupError::ProofExpired => "signup.proof_expired",
            SignupError::ProofUsed => "signup.proof_used",
            SignupError::Store(_) => "internal",
            SignupError::Account(e) => e.code(),
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            SignupError::ProofInvalid | SignupError::ProofExpired | SignupError::ProofUsed => Some("pow_nonce"),
            SignupError::Throttled { .. } | SignupError::Store(_) => None,
            SignupError::Account(e) => e.field(),
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            SignupError::Throttled { retry_after_s } => {
                let minutes = retry_after_s.div_ceil(60);
                match lang {
                    Lang::Zh => format!("这个网络地址注册的账号太多了，请 {minutes} 分钟后再试"),
                    Lang::En => format!("Too many sign-ups from this network address; try again in {minutes} minutes"),
                }
            }
            SignupError::ProofInvalid => lang
                .pick(
                    "防批量注册的安全计算没有完成或结果不对，请允许本站的脚本运行后重新提交",
                    "The anti-bulk-sign-up computation is missing or wrong; allow this site's script to run and submit again",
                )
                .into(),
            SignupError::ProofExpired => lang
                .pick("安全计算已过期，请重新提交注册表单", "The security computation expired; submit the form again")
                .into(),
            SignupError::ProofUsed => lang
                .pick("这次安全计算已经用过了，请重新提交注册表单", "This security computation was already used; submit the form again")
                .into(),
            SignupError::Store(_) => crate::error::internal_words(lang).into(),
            SignupError::Account(e) => e.message(lang),
        }
    }
}

fn pow_key(app: &App) -> zeroize::Zeroizing<[u8; 32]> {
    app.keyring.derived_key("signup-pow")
}

fn throttled(until: Timestamp, now: Timestamp) -> SignupError {
    SignupError::Throttled { retry_after_s: kabao_core::throttle::retry_after_seconds(now, until) }
}

/// A challenge for a client about to sign up, or `Throttled` when its address reached the hourly cap. The
/// difficulty grows with the address's sign-ups in the last hour.
pub async fn challenge(app: &App, ip: Option<IpAddr>) -> Result<Challenge, SignupError> {
    let now = app.now();
    let check = app.signup_check(ip);
    let recent = {
        let mut tx = app.store.begin(TxMode::Read).await?;
        let needed = i64::try_from(check.rule.attempts_needed()).unwrap_or(i64::MAX);
        tx.throttle_hits(check.scope, &check.key, needed).await?
    };
    if let Some(until) = check.rule.blocked_until(&recent, now) {
        return Err(throttled(until, now));
    }
    let in_window = recent.iter().filter(|t| now.millis() - t.millis() < 3_600_000).count();
    let difficulty = pow::difficulty_for(
        app.config.signup_pow_base_bits,
        app.config.signup_pow_step_bits,
        u32::try_from(in_window).unwrap_or(u32::MAX),
    );
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let client = ip.map(|ip| ip.to_string());
    Ok(pow::issue(&pow_key(app), client.as_deref(), now.millis(), difficulty, salt))
}

/// Registers a buyer or merchant who answered a challenge: the answer is checked and spent, the cap checked
/// again, then the account is created and counted against the address.
#[allow(clippy::too_many_arguments)]
pub async fn register_with_proof(
    app: &App,
    ip: Option<IpAddr>,
    challenge_text: &str,
    nonce: &str,
    username: &str,
    password: &str,
    role: &str,
    email: Option<&str>,
) -> Result<User, SignupError> {
    let now = app.now();
    let client = ip.map(|ip| ip.to_string());
    let checked = pow::verify(&pow_key(app), challenge_text, nonce.trim(), client.as_deref(), now.millis());
    let spent = match checked {
        Ok(c) => c,
        Err(PowError::Expired) => return Err(SignupError::ProofExpired),
        Err(PowError::Malformed | PowError::WrongClient | PowError::NotSolved) => {
            return Err(SignupError::ProofInvalid)
        }
    };
    let check = app.signup_check(ip);
    {
        // One transaction holding the address: the cap checked, the answer spent and the sign-up counted, so
        // concurrent answers from one address (on any instance) cannot all pass the cap or spend one answer twice.
        let mut tx = app.store.begin(TxMode::Write).await?;
        tx.lock_throttle_keys(&[(check.scope, check.key.as_str())]).await?;
        let needed = i64::try_from(check.rule.attempts_needed()).unwrap_or(i64::MAX);
        let recent = tx.throttle_hits(check.scope, &check.key, needed).await?;
        if let Some(until) = check.rule.blocked_until(&recent, now) {
            return Err(throttled(until, now));
        }
        let expires_at = Timestamp::from_millis(spent.expires_at_ms);
        if !tx.spend_token("signup_pow", &spent.text, expires_at, now).await? {
            return Err(SignupError::ProofUsed);
        }
        tx.add_throttle_hit(check.scope, &check.key, now).await?;
        tx.commit().await?;
    }
    match register(app, username, password, role, email).await {
        Ok(user) => Ok(user),
        Err(e) => {
            // Not a sign-up after all: it does not count against the address (the challenge stays spent).
            crate::throttles::take_back(app, &check, now).await?;
            Err(SignupError::Account(e))
        }
    }
}
