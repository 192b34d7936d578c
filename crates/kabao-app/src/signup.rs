//! Sign-up throttle (issue 21): per client IP, a proof-of-work challenge whose difficulty grows with the
//! sign-ups from that IP in the last hour, and a hard cap per hour. Challenges are stateless (signed with a key
//! derived from the keyring); a used one is remembered until it expires, so it cannot be spent twice. The
//! counts live in this instance's memory, like the login throttles.

use crate::accounts::{register, AccountsError};
use crate::App;
use kabao_core::pow::{self, Challenge, PowError};
use kabao_core::{Lang, Localized};
use kabao_store::User;
use rand::rngs::OsRng;
use rand::RngCore;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Sign-ups are counted over this window.
const WINDOW_MS: i64 = 3600 * 1000;
/// At most this many addresses and used challenges are remembered (oldest forgotten first).
const MAX_TRACKED: usize = 100_000;

/// What the sign-up throttle remembers: recent sign-ups per client address, and challenges already spent.
#[derive(Default)]
pub struct SignupGuard {
    recent: HashMap<Option<IpAddr>, VecDeque<i64>>,
    used: HashMap<String, i64>,
}

impl SignupGuard {
    fn prune(&mut self, now_ms: i64) {
        self.used.retain(|_, expires| *expires > now_ms);
        self.recent.retain(|_, times| {
            while times.front().is_some_and(|t| *t <= now_ms - WINDOW_MS) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    fn recent(&self, ip: Option<IpAddr>) -> (u32, Option<i64>) {
        self.recent
            .get(&ip)
            .map(|t| (u32::try_from(t.len()).unwrap_or(u32::MAX), t.front().copied()))
            .unwrap_or((0, None))
    }
}

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
    #[error("the sign-up throttle's lock is poisoned")]
    Poisoned,
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
            SignupError::Poisoned => "internal",
            SignupError::Account(e) => e.code(),
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            SignupError::ProofInvalid | SignupError::ProofExpired | SignupError::ProofUsed => Some("pow_nonce"),
            SignupError::Throttled { .. } | SignupError::Poisoned => None,
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
            SignupError::Poisoned => crate::error::internal_words(lang).into(),
            SignupError::Account(e) => e.message(lang),
        }
    }
}

fn pow_key(app: &App) -> zeroize::Zeroizing<[u8; 32]> {
    app.keyring.derived_key("signup-pow")
}

fn throttled(oldest: Option<i64>, now_ms: i64) -> SignupError {
    let until = oldest.unwrap_or(now_ms) + WINDOW_MS;
    SignupError::Throttled { retry_after_s: u64::try_from((until - now_ms).max(1000) / 1000).unwrap_or(1) }
}

/// A challenge for a client about to sign up, or `Throttled` when its address reached the hourly cap.
pub fn challenge(app: &App, ip: Option<IpAddr>) -> Result<Challenge, SignupError> {
    let now_ms = app.now().millis();
    let mut guard = app.signups.lock().map_err(|_| SignupError::Poisoned)?;
    guard.prune(now_ms);
    let (recent, oldest) = guard.recent(ip);
    if recent >= app.config.signups_per_ip_per_hour {
        return Err(throttled(oldest, now_ms));
    }
    let difficulty = pow::difficulty_for(app.config.signup_pow_base_bits, app.config.signup_pow_step_bits, recent);
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let client = ip.map(|ip| ip.to_string());
    Ok(pow::issue(&pow_key(app), client.as_deref(), now_ms, difficulty, salt))
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
    let now_ms = app.now().millis();
    let client = ip.map(|ip| ip.to_string());
    let checked = pow::verify(&pow_key(app), challenge_text, nonce.trim(), client.as_deref(), now_ms);
    let spent = match checked {
        Ok(c) => c,
        Err(PowError::Expired) => return Err(SignupError::ProofExpired),
        Err(PowError::Malformed | PowError::WrongClient | PowError::NotSolved) => {
            return Err(SignupError::ProofInvalid)
        }
    };
    {
        let mut guard = app.signups.lock().map_err(|_| SignupError::Poisoned)?;
        guard.prune(now_ms);
        let (recent, oldest) = guard.recent(ip);
        if recent >= app.config.signups_per_ip_per_hour {
            return Err(throttled(oldest, now_ms));
        }
        if guard.used.contains_key(&spent.text) {
            return Err(SignupError::ProofUsed);
        }
        if guard.used.len() >= MAX_TRACKED {
            // Full of unexpired challenges: refuse rather than forget one that could then be replayed.
            return Err(throttled(Some(now_ms), now_ms));
        }
        guard.used.insert(spent.text.clone(), spent.expires_at_ms);
        if guard.recent.len() < MAX_TRACKED || guard.recent.contains_key(&ip) {
            // Counted now, so concurrent answers from one address cannot all pass the cap.
            guard.recent.entry(ip).or_default().push_back(now_ms);
        }
    }
    match register(app, username, password, role, email).await {
        Ok(user) => Ok(user),
        Err(e) => {
            // Not a sign-up after all: it does not count against the address (the challenge stays spent).
            if let Ok(mut guard) = app.signups.lock() {
                if let Some(times) = guard.recent.get_mut(&ip) {
                    if let Some(pos) = times.iter().rposition(|t| *t == now_ms) {
                        times.remove(pos);
                    }
                }
            }
            Err(SignupError::Account(e))
        }
    }
}
