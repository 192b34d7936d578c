//! Throttles of guesses and requests, kept in the store so they hold across every instance on one database:
//! failed logins (per account, with a doubling lockout, and per client IP), guest order lookups (per order and
//! per IP), verification and reset mails (per account and per IP) and sign-ups (per IP). The rules are
//! `kabao_core::throttle`'s; a check and the count that follows it are one transaction holding the key, so a
//! burst of concurrent attempts, on one instance or several, cannot all pass.

use crate::App;
use kabao_core::throttle::Rule;
use kabao_core::{Timestamp, UserId};
use kabao_store::{StoreError, TxMode};
use std::net::IpAddr;

/// Attempts older than this are deleted by the housekeeping job: longer than any rule remembers them.
pub const KEEP_SECONDS: i64 = 2 * 86_400;
/// Attempts and spent tokens deleted per housekeeping pass, at most.
const PURGE_BATCH: i64 = 5_000;

/// One key under one rule: the scope names what is counted (`login_ip`), the key whose (`203.0.113.7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub scope: &'static str,
    pub rule: Rule,
    pub key: String,
}

impl Check {
    fn pair(&self) -> (&str, &str) {
        (self.scope, self.key.as_str())
    }
}

/// The checks the use cases make, with the limits of the configuration.
impl App {
    /// Failed logins (and wrong second factors) of an account, by its lower-cased name.
    pub fn login_account_check(&self, username: &str) -> Check {
        let c = &self.config;
        Check {
            scope: "login_account",
            rule: Rule::Backoff {
                threshold: u32::try_from(c.login_failures_per_account).unwrap_or(u32::MAX),
                base_seconds: c.login_lockout_base_seconds,
                max_seconds: c.login_lockout_max_seconds,
                forget_after_seconds: 24 * 3600,
            },
            key: username.trim().to_lowercase(),
        }
    }

    /// Failed logins from a client address.
    pub fn login_ip_check(&self, ip: IpAddr) -> Check {
        let c = &self.config;
        Check {
            scope: "login_ip",
            rule: Rule::Window { max: c.login_failures_per_ip, window_seconds: c.login_window_seconds },
            key: ip.to_string(),
        }
    }

    /// Guest lookups of one order (every lookup counts: a right secret must not tell itself by its speed).
    pub fn lookup_order_check(&self, order_no: &str) -> Check {
        let c = &self.config;
        Check {
            scope: "lookup_order",
            rule: Rule::Window { max: c.lookup_failures_per_order, window_seconds: c.login_window_seconds },
            key: order_no.to_string(),
        }
    }

    /// Failed guest lookups from a client address.
    pub fn lookup_ip_check(&self, ip: IpAddr) -> Check {
        let c = &self.config;
        Check {
            scope: "lookup_ip",
            rule: Rule::Window { max: c.lookup_failures_per_ip, window_seconds: c.login_window_seconds },
            key: ip.to_string(),
        }
    }

    /// Verification mails of an account.
    pub fn verify_mail_check(&self, user: UserId) -> Check {
        use crate::email_links::{VERIFY_MAILS_PER_ACCOUNT, WINDOW_SECONDS};
        Check {
            scope: "verify_mail",
            rule: Rule::Window { max: VERIFY_MAILS_PER_ACCOUNT, window_seconds: WINDOW_SECONDS },
            key: user.0.to_string(),
        }
    }

    /// Reset mails of an account.
    pub fn reset_account_check(&self, user: UserId) -> Check {
        use crate::email_links::{RESETS_PER_ACCOUNT, WINDOW_SECONDS};
        Check {
            scope: "reset_account",
            rule: Rule::Window { max: RESETS_PER_ACCOUNT, window_seconds: WINDOW_SECONDS },
            key: user.0.to_string(),
        }
    }

    /// Reset requests from a client address.
    pub fn reset_ip_check(&self, ip: IpAddr) -> Check {
        use crate::email_links::{RESETS_PER_IP, WINDOW_SECONDS};
        Check {
            scope: "reset_ip",
            rule: Rule::Window { max: RESETS_PER_IP, window_seconds: WINDOW_SECONDS },
            key: ip.to_string(),
        }
    }

    /// Sign-ups from a client address (no address: one shared bucket) in the last hour.
    pub fn signup_check(&self, ip: Option<IpAddr>) -> Check {
        Check {
            scope: "signup_ip",
            rule: Rule::Window {
                max: usize::try_from(self.config.signups_per_ip_per_hour).unwrap_or(usize::MAX),
                window_seconds: 3600,
            },
            key: ip.map(|ip| ip.to_string()).unwrap_or_else(|| "-".into()),
        }
    }
}

async fn blocked_in(
    tx: &mut dyn kabao_store::Tx,
    checks: &[&Check],
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let mut until: Option<Timestamp> = None;
    for c in checks {
        let needed = i64::try_from(c.rule.attempts_needed()).unwrap_or(i64::MAX);
        let hits = tx.throttle_hits(c.scope, &c.key, needed).await?;
        if let Some(t) = c.rule.blocked_until(&hits, now) {
            until = Some(until.map_or(t, |u| u.max(t)));
        }
    }
    Ok(until)
}

/// If any of `checks` must wait now, the instant the last of them may try again. Reads only.
pub async fn blocked(app: &App, checks: &[&Check]) -> Result<Option<Timestamp>, StoreError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    blocked_in(&mut *tx, checks, app.now()).await
}

/// Checks `checks` and, if none must wait, counts an attempt against each of `count`, in one transaction
/// holding all their keys. Returns the wait (and counts nothing) when one must wait.
pub async fn check_and_count(app: &App, checks: &[&Check], count: &[&Check]) -> Result<Option<Timestamp>, StoreError> {
    let now = app.now();
    let mut tx = app.store.begin(TxMode::Write).await?;
    let keys: Vec<(&str, &str)> = checks.iter().chain(count.iter()).map(|c| c.pair()).collect();
    tx.lock_throttle_keys(&keys).await?;
    if let Some(until) = blocked_in(&mut *tx, checks, now).await? {
        return Ok(Some(until));
    }
    for c in count {
        tx.add_throttle_hit(c.scope, &c.key, now).await?;
    }
    tx.commit().await?;
    Ok(None)
}

/// Counts an attempt against each check (a failure known after the fact).
pub async fn count(app: &App, checks: &[&Check]) -> Result<(), StoreError> {
    let now = app.now();
    let mut tx = app.store.begin(TxMode::Write).await?;
    for c in checks {
        tx.add_throttle_hit(c.scope, &c.key, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Forgets a key's attempts (a successful login clears its account).
pub async fn clear(app: &App, check: &Check) -> Result<(), StoreError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    tx.clear_throttle_hits(check.scope, &check.key).await?;
    tx.commit().await?;
    Ok(())
}

/// Takes back the attempt counted at `at` (a sign-up that turned out not to be one).
pub async fn take_back(app: &App, check: &Check, at: Timestamp) -> Result<(), StoreError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    tx.remove_throttle_hit(check.scope, &check.key, at).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes attempts past [`KEEP_SECONDS`] and spent tokens past their expiry, a bounded batch per pass.
pub async fn purge(app: &App) -> Result<u64, StoreError> {
    let mut tx = app.store.begin(TxMode::Write).await?;
    let purged = tx.purge_throttles(app.now().plus_seconds(-KEEP_SECONDS), PURGE_BATCH).await?;
    tx.commit().await?;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use crate::accounts::{authenticate, create_user, AccountsError};
    use crate::{App, Config, ManualClock};
    use kabao_core::user::Role;
    use kabao_core::vault::MasterKey;
    use kabao_core::Timestamp;
    use kabao_store::Store;
    use std::net::IpAddr;
    use std::sync::Arc;

    const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    /// Two apps on one store, as two instances on one database: nothing in memory is shared between them.
    async fn two_instances() -> (App, App, Arc<ManualClock>) {
        let store: Arc<dyn Store> = Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
        store.migrate().await.unwrap();
        let keyring =
            Arc::new(crate::keyring::load_or_create(&*store, &MasterKey::from_bytes([6; 32]), T0).await.unwrap());
        let clock = Arc::new(ManualClock::new(T0));
        let config = Config { login_failures_per_account: 4, ..Config::default() };
        let a = App::new(store.clone(), keyring.clone(), config.clone(), clock.clone());
        let b = App::new(store, keyring, config, clock.clone());
        (a, b, clock)
    }

    #[tokio::test]
    async fn failed_logins_spread_over_two_instances_lock_the_account_on_both() {
        let (a, b, clock) = two_instances().await;
        create_user(&*a.store, "alice", "correct horse battery", Role::Buyer, None, T0).await.unwrap();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        for i in 0..4 {
            let app = if i % 2 == 0 { &a } else { &b };
            let r = authenticate(app, "alice", "wrong password!", Some(ip)).await;
            assert!(matches!(r, Err(AccountsError::InvalidCredentials)), "attempt {i}: {r:?}");
        }
        // Four failures, two on each instance: locked on both, even with the right password.
        for app in [&a, &b] {
            let r = authenticate(app, "ALICE", "correct horse battery", Some(ip)).await;
            assert!(matches!(r, Err(AccountsError::Throttled { .. })), "{r:?}");
        }
        clock.advance_seconds(a.config.login_lockout_base_seconds);
        assert!(authenticate(&b, "alice", "correct horse battery", Some(ip)).await.is_ok(), "after the lockout");
        // The success cleared the account on both: one more failure does not lock it.
        assert!(matches!(
            authenticate(&a, "alice", "wrong password!", Some(ip)).await,
            Err(AccountsError::InvalidCredentials)
        ));
        assert!(authenticate(&a, "alice", "correct horse battery", Some(ip)).await.is_ok());
    }

    #[tokio::test]
    async fn a_signup_answer_is_spent_once_across_instances_and_the_cap_is_shared() {
        let (a, b, _) = two_instances().await;
        let ip: Option<IpAddr> = Some("198.51.100.9".parse().unwrap());
        let c = crate::signup::challenge(&a, ip).await.unwrap();
        let nonce = kabao_core::pow::solve(&c.text, c.difficulty);
        crate::signup::register_with_proof(&a, ip, &c.text, &nonce, "bob_1", "correct horse battery", "buyer", None)
            .await
            .unwrap();
        let replay = crate::signup::register_with_proof(
            &b,
            ip,
            &c.text,
            &nonce,
            "bob_2",
            "correct horse battery",
            "buyer",
            None,
        )
        .await;
        assert!(matches!(replay, Err(crate::signup::SignupError::ProofUsed)), "{replay:?}");
        // The other instance's next challenge is harder: it counted the sign-up made on the first.
        let next = crate::signup::challenge(&b, ip).await.unwrap();
        assert!(next.difficulty > c.difficulty, "{} > {}", next.difficulty, c.difficulty);
    }
}
