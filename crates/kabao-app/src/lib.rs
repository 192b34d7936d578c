//! Kabao's use cases, without HTTP: one module per concept (orders, payments, claims, disputes, warranty,
//! finance, accounts, shops, products, chat, reviews, certification, trial, jobs, ...). Each takes the [`App`]
//! (store, clock, configuration), opens its own transactions and returns its own error. The HTTP server, the CLI
//! and the jobs call these functions; none of them speaks HTTP or renders HTML.

pub mod accounts;
pub mod admin;
pub mod bundle;
pub mod catalog;
pub mod certification;
pub mod chat;
pub mod claims;
pub mod display;
pub mod disputes;
pub mod email_links;
pub mod epay;
pub mod error;
pub mod finance;
pub mod gateways;
pub mod history;
pub mod idempotency;
pub mod insurance;
pub mod inventory;
pub mod jobs;
pub mod keyring;
pub mod listing;
pub mod mailer;
pub mod orders;
pub mod payees;
pub mod payments;
pub mod payouts;
pub mod pictures;
pub mod products;
pub mod promotions;
pub mod reconcile;
pub mod refunds;
pub mod reviews;
pub mod risk;
pub mod secrets;
pub mod sessions;
pub mod shops;
pub mod signup;
pub mod throttles;
pub mod totp;
pub mod trial;
pub mod trust;
pub mod verification;
pub mod verify;
pub mod warranty;
pub mod webhooks;

/// What the use cases' unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::{App, Config, ManualClock};
    use kabao_core::vault::MasterKey;
    use kabao_core::Timestamp;
    use kabao_store::Store;
    use std::sync::Arc;

    /// An app on a fresh in-memory SQLite database with default settings and a clock stopped at `at`.
    pub async fn app(at: Timestamp) -> (App, Arc<ManualClock>) {
        let store: Arc<dyn Store> = Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
        store.migrate().await.unwrap();
        let keyring =
            Arc::new(crate::keyring::load_or_create(&*store, &MasterKey::from_bytes([5; 32]), at).await.unwrap());
        let clock = Arc::new(ManualClock::new(at));
        (App::new(store, keyring, Config::default(), clock.clone()), clock)
    }
}

use kabao_core::vault::Keyring;
use kabao_core::Timestamp;
use kabao_store::Store;
use std::sync::{Arc, Mutex};

/// Where the server reads the time. Tests use [`ManualClock`] so deadlines are deterministic.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        Timestamp::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(at.millis()))
    }
    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Settings of the marketplace that are not about storage.
#[derive(Debug, Clone)]
pub struct Config {
    /// Set when served over https: cookies get the `Secure` flag.
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_ttl_hours: i64,
    /// A password reset link works this long (30 minutes; shorter in tests).
    pub reset_link_seconds: i64,
    /// An email verification link works this long (24 hours).
    pub verify_link_seconds: i64,
    /// Failed logins per account before it is locked out for `login_lockout_base_seconds`; every further failure
    /// doubles the wait, up to `login_lockout_max_seconds`. A success, or a day without failures, starts afresh.
    pub login_failures_per_account: usize,
    pub login_lockout_base_seconds: i64,
    pub login_lockout_max_seconds: i64,
    /// Failed logins per client IP before it must wait, within `login_window_seconds`. Well above the per-account
    /// threshold: many people share one address (a school, a carrier's NAT) and must not lock each other out.
    pub login_failures_per_ip: usize,
    pub login_window_seconds: i64,
    /// Failed guest order lookups (page 订单查询 and the API's `X-Order-Secret`) per order and per client IP,
    /// within `login_window_seconds`, before further lookups wait.
    pub lookup_failures_per_order: usize,
    pub lookup_failures_per_ip: usize,
    /// An unpaid order expires after this long; nothing is held meanwhile.
    pub order_ttl_seconds: i64,
    /// Escrow is released this long after delivery, unless a claim is open (the platform default window).
    pub claim_window_seconds: i64,
    /// Warranty insurance pays an eligible claim the merchant's remedy has not settled this long after the
    /// merchant's deadline.
    pub insurance_grace_seconds: i64,
    /// The platform's fee on settlement, in basis points.
    pub fee_bps: i64,
    /// Days after a merchant's decision within which a buyer may take the claim to the platform.
    pub dispute_window_days: u32,
    /// The deposit (保证金) a shop pays to join the compensation fund, and its one-time contribution to the fund.
    pub fund_min_deposit: kabao_core::Money,
    pub fund_fee: kabao_core::Money,
    /// The sandbox gateway (simulated payments), only in a demo or when configured on purpose: when `None` its
    /// routes do not exist and nothing offers it. Never on by default, or any buyer could mint wallet money.
    pub sandbox: Option<payments::SandboxConfig>,
    /// The 易支付 gateway, when configured.
    pub epay: Option<epay::EpayConfig>,
    /// Alipay (RSA2), when configured.
    pub alipay: Option<gateways::alipay::AlipayConfig>,
    /// WeChat Pay (API v3), when configured.
    pub wechatpay: Option<gateways::wechatpay::WechatPayConfig>,
    /// Served behind a trusted reverse proxy: take the client address from the proxy's `X-Forwarded-For`
    /// entry (for login and lookup throttling) instead of the socket peer, which would be the proxy.
    pub trust_proxy: bool,
    /// Open risk events that put a shop in the admin's review queue.
    pub risk_review_threshold: i64,
    /// A buyer's first order from a shop asks for confirmation (with trial guidance) when the shop's trust
    /// score is below this, or the order's amount above `first_order_amount`.
    pub first_order_trust_below: u8,
    pub first_order_amount: kabao_core::Money,
    /// The highest price of a trial item (体验卡).
    pub trial_max_price: kabao_core::Money,
    /// The fee on a withdrawal: basis points of the amount, at least `withdrawal_fee_min`; kept out of what
    /// the payee receives and posted to platform revenue on payout.
    pub withdrawal_fee_bps: i64,
    pub withdrawal_fee_min: kabao_core::Money,
    /// Third-party key verifiers (验货) by product category (`[verifiers.<category>]`); none by default.
    pub verifiers: std::collections::BTreeMap<kabao_core::catalog::Category, verification::VerifierConfig>,
    /// Merchant webhooks: plain http endpoints and private/loopback addresses are refused unless allowed
    /// (tests and local development turn these on).
    pub webhook_allow_http: bool,
    pub webhook_allow_private: bool,
    /// Sign-up proof of work: the leading zero bits asked of an address with no sign-up in the last hour, and
    /// how many more for each sign-up it made (one bit doubles the work); at most this many sign-ups per
    /// address per hour.
    pub signup_pow_base_bits: u8,
    pub signup_pow_step_bits: u8,
    pub signups_per_ip_per_hour: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_cookies: false,
            session_ttl_hours: 24 * 7,
            reset_link_seconds: 30 * 60,
            verify_link_seconds: 24 * 3600,
            login_failures_per_account: 5,
            login_lockout_base_seconds: 60,
            login_lockout_max_seconds: 3600,
            login_failures_per_ip: 100,
            login_window_seconds: 15 * 60,
            lookup_failures_per_order: 10,
            lookup_failures_per_ip: 30,
            order_ttl_seconds: 30 * 60,
            claim_window_seconds: 24 * 3600,
            insurance_grace_seconds: 24 * 3600,
            fee_bps: 300,
            dispute_window_days: 7,
            fund_min_deposit: kabao_core::Money::from_fen(50_000),
            fund_fee: kabao_core::Money::from_fen(5_000),
            sandbox: None,
            epay: None,
            alipay: None,
            wechatpay: None,
            trust_proxy: false,
            risk_review_threshold: 3,
            first_order_trust_below: 60,
            first_order_amount: kabao_core::Money::from_fen(20_000),
            trial_max_price: kabao_core::Money::from_fen(1_000),
            withdrawal_fee_bps: 0,
            withdrawal_fee_min: kabao_core::Money::ZERO,
            verifiers: std::collections::BTreeMap::new(),
            webhook_allow_http: false,
            webhook_allow_private: false,
            signup_pow_base_bits: 12,
            signup_pow_step_bits: 1,
            signups_per_ip_per_hour: 20,
        }
    }
}

/// What every use case may use: the store, the keyring, the configuration, the clock, the mailer and the
/// state kept between calls (the reconciliation cursor). HTTP-free: the server wraps it.
pub struct App {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub mailer: Arc<dyn mailer::Mailer>,
    /// The public base URL, for links in mails.
    pub public_url: Option<String>,
    /// Where the gateway reconciliation job is in each gateway's pending payments, kept between passes.
    pub reconcile_cursors: reconcile::Cursors,
    /// When this instance next reviews 金牌卖家 from the records (hourly: it reads every certified shop).
    pub gold_review_due: Mutex<Timestamp>,
    /// The key verifiers (HTTP, from `kabao-rails`), given by whoever builds the app; none by default.
    pub verifiers: verification::Verifiers,
    /// Sends merchant webhooks (HTTP, from `kabao-rails`); without one, deliveries wait in the store.
    pub webhook_transport: Option<Arc<dyn webhooks::WebhookTransport>>,
    /// The insurance premium's claim-window counts of the current hour.
    pub insurance_windows: insurance::WindowCache,
    /// The configured payment gateways (the payments port), speaking HTTP through what
    /// [`App::with_gateway_http`] gave (nothing reachable before).
    pub gateways: gateways::Gateways,
}

impl App {
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>, config: Config, clock: Arc<dyn Clock>) -> App {
        let gateways = gateways::Gateways::from_config(&config, Arc::new(gateways::NoHttp));
        App {
            gateways,
            store,
            keyring,
            config,
            clock,
            mailer: Arc::new(mailer::MemoryMailer::default()),
            public_url: None,
            reconcile_cursors: reconcile::Cursors::default(),
            gold_review_due: Mutex::new(Timestamp(0)),
            verifiers: verification::Verifiers::default(),
            webhook_transport: None,
            insurance_windows: insurance::WindowCache::default(),
        }
    }

    /// Replaces the mailer (the default keeps mails in memory, as tests want).
    pub fn with_mailer(mut self, mailer: Arc<dyn mailer::Mailer>, public_url: Option<String>) -> App {
        self.mailer = mailer;
        self.public_url = public_url;
        self
    }

    /// Gives the payment gateways their HTTP client (from `kabao-rails`).
    pub fn with_gateway_http(mut self, http: Arc<dyn gateways::HttpPort>) -> App {
        self.gateways = gateways::Gateways::from_config(&self.config, http);
        self
    }

    /// Gives the app its key verifiers (see [`verification::Verifiers::build`]).
    pub fn with_verifiers(mut self, verifiers: verification::Verifiers) -> App {
        self.verifiers = verifiers;
        self
    }

    /// Gives the webhook job its transport.
    pub fn with_webhook_transport(mut self, transport: Arc<dyn webhooks::WebhookTransport>) -> App {
        self.webhook_transport = Some(transport);
        self
    }

    /// Sends a delivery mail in the background; a failure is logged and never fails the payment.
    pub fn mail_delivery(&self, to: Option<String>, order_no: &str) {
        let Some(to) = to else { return };
        let mail = mailer::delivery_mail(&to, order_no, &self.link_base());
        let mailer = self.mailer.clone();
        let order_no = order_no.to_string();
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&mail).await {
                tracing::warn!(order = %order_no, error = %e, "delivery mail not sent");
            }
        });
    }

    /// Mails `user` that `change` happened, in the background (an account without an email gets nothing); a
    /// failure is logged and never undoes the change.
    pub fn mail_security_change(&self, user: &kabao_store::User, change: mailer::SecurityChange) {
        let Some(to) = user.email.clone() else { return };
        let when = format!("{} (UTC+8)", display::datetime(self.now()));
        let mail = mailer::security_change_mail(&to, &user.username, change, &when, &self.link_base());
        let mailer = self.mailer.clone();
        let user_id = user.id;
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&mail).await {
                tracing::warn!(user = %user_id, error = %e, "security notice not sent");
            }
        });
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The absolute base of links in mails: the public URL. Without one (development, mails written as files)
    /// `http://localhost`, still absolute; the server refuses to send by SMTP without a public URL.
    pub fn link_base(&self) -> String {
        match self.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => "http://localhost".to_string(),
        }
    }
}
