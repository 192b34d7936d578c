//! Configuration: one typed struct, from defaults, then a TOML file, then `KABAO_*` environment variables,
//! then command-line flags (each later source wins). Printed at start with secrets redacted.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything `kabao` can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the dev master-key file.
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL instead of the embedded SQLite file.
    pub database_url: Option<String>,
    /// The master key as 64 hex characters. Prefer the environment (`KABAO_MASTER_KEY`) over the file.
    pub master_key: Option<String>,
    /// Where the master key is kept when `master_key` is not set (default: `<data_dir>/master.key`).
    pub master_key_file: Option<PathBuf>,
    /// Set when served over https (behind a TLS proxy): cookies get the `Secure` flag.
    pub secure_cookies: bool,
    /// Set when behind a trusted reverse proxy that appends the client address to `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// Log filter in `tracing` syntax, e.g. `info` or `kabao_server=debug`.
    pub log: String,
    /// The public base URL, e.g. `https://kabao.example` (gateways send notifications there).
    pub public_url: Option<String>,
    /// Log lines as `text` (default) or `json` (one JSON object a line, with the request id).
    pub log_format: String,
    /// `/metrics` on the main listener answers only `Authorization: Bearer <metrics_token>`; without it, 404.
    pub metrics_token: Option<SecretText>,
    /// A second address serving `/metrics` without a token (for a scraper on a private network).
    pub metrics_listen: Option<SocketAddr>,
    /// 易支付 merchant id, key and submit URL; all three, or none.
    pub epay_pid: Option<String>,
    pub epay_key: Option<String>,
    pub epay_submit_url: Option<String>,
    /// 易支付 order-query URL (`api.php`), polled for lost notifications; default: next to `submit.php`.
    pub epay_api_url: Option<String>,
    /// Alipay (支付宝开放平台, RSA2): the application id, the application's private key (PKCS#8 or PKCS#1, PEM or
    /// the key tool's bare base64) given inline or as a file, Alipay's public key likewise, and the gateway
    /// (default production; the sandbox is `https://openapi-sandbox.dl.alipaydev.com/gateway.do`). All or none.
    pub alipay_app_id: Option<String>,
    pub alipay_private_key: Option<SecretText>,
    pub alipay_private_key_file: Option<PathBuf>,
    pub alipay_public_key: Option<String>,
    pub alipay_public_key_file: Option<PathBuf>,
    pub alipay_gateway_url: Option<String>,
    /// WeChat Pay (微信支付 API v3): merchant id, app id, the merchant API certificate's serial number and private
    /// key (PEM, or a file holding it), the API v3 key (32 bytes), WeChat Pay's platform key (a platform
    /// certificate or the WeChat Pay public key, PEM or a file) and its serial (`PUB_KEY_ID_…` for a public key);
    /// all of them, or none.
    pub wechatpay_mch_id: Option<String>,
    pub wechatpay_app_id: Option<String>,
    pub wechatpay_serial_no: Option<String>,
    pub wechatpay_private_key: Option<SecretText>,
    pub wechatpay_private_key_file: Option<PathBuf>,
    pub wechatpay_api_v3_key: Option<SecretText>,
    pub wechatpay_platform_key: Option<String>,
    pub wechatpay_platform_key_file: Option<PathBuf>,
    pub wechatpay_platform_serial: Option<String>,
    /// Default `https://api.mch.weixin.qq.com`.
    pub wechatpay_api_url: Option<String>,
    /// SMTP server for mails, e.g. `smtps://user:password@smtp.example.com:465`; without it mails are
    /// written as files under `<data_dir>/mail`.
    pub smtp_url: Option<String>,
    /// The sender address of mails.
    pub smtp_from: Option<String>,
    /// Extra trusted root certificates (PEM) for the SMTP server's TLS: a private CA or a test certificate.
    pub smtp_ca_file: Option<PathBuf>,
    /// A password reset link works this long (default 1800 = 30 minutes).
    pub reset_link_seconds: i64,
    /// Sign-up proof of work: the leading zero bits asked of an address with no sign-up in the last hour
    /// (0–24, default 12), how many more per sign-up it made that hour (0–8, default 1), and the most sign-ups
    /// per address per hour (1–10000, default 20).
    pub signup_pow_base_bits: i64,
    pub signup_pow_step_bits: i64,
    pub signups_per_ip_per_hour: i64,
    /// Escrow is released this long after delivery (the platform's default claim window).
    pub claim_window_seconds: i64,
    /// Warranty insurance pays an unsettled eligible claim this long after the merchant's deadline.
    pub insurance_grace_seconds: i64,
    /// An unpaid order expires after this long.
    pub order_ttl_seconds: i64,
    /// How often background jobs (settlement, expiry) run.
    pub job_interval_seconds: u64,
    /// Days after a merchant's decision within which a buyer may take a claim to the platform.
    pub dispute_window_days: u32,
    /// A buyer's first order from a shop asks for confirmation (with trial guidance) when the shop's trust score
    /// is below this (0–100), or the order's amount is above `first_order_amount_fen`.
    pub first_order_trust_below: u8,
    pub first_order_amount_fen: i64,
    /// The highest price of a trial item (体验卡), in 分.
    pub trial_max_price_fen: i64,
    /// Open risk events that put a shop in the admin's review queue.
    pub risk_review_threshold: i64,
    /// The withdrawal fee in basis points of the amount (100 = 1 %), and its minimum in 分.
    pub withdrawal_fee_bps: i64,
    pub withdrawal_fee_min_fen: i64,
    /// Merchant webhooks may use plain http / private and loopback addresses (local development only).
    pub webhook_allow_http: bool,
    pub webhook_allow_private: bool,
    /// Payment gateways beyond 易支付: `[payments.sandbox]`.
    pub payments: PaymentsConfig,
    /// Third-party key verifiers (验货), one per product category: `[verifiers.game_card]` and so on.
    pub verifiers: BTreeMap<String, VerifierSettings>,
}

/// A secret read from the configuration (a private key): its Debug shows nothing of it.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `[verifiers.<category>]`: where the category's keys are checked (docs/VERIFIER.md).
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifierSettings {
    /// The verifier's URL (http or https); requests are POSTed there.
    pub url: String,
    /// The shared secret of the `Kabao-Signature` header (at least 16 characters).
    pub secret: String,
    /// Per attempt, connection included, in milliseconds (1–30000; default 3000).
    pub timeout_ms: Option<u64>,
    /// Further attempts after a failure (0–5; default 2).
    pub retries: Option<u32>,
}

impl std::fmt::Debug for VerifierSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierSettings")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout_ms", &self.timeout_ms)
            .field("retries", &self.retries)
            .finish()
    }
}

/// `[payments]`: the gateways that are not 易支付.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    pub sandbox: SandboxSettings,
}

/// `[payments.sandbox]`: the simulated gateway. Off unless `serve --demo` or `enabled = true`: with it on, any
/// buyer can "pay" without money, so it is for demos and development only.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    pub enabled: bool,
    /// Its signing secret (at least 16 characters); random per start when unset.
    pub secret: Option<String>,
}

impl std::fmt::Debug for SandboxSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxSettings")
            .field("enabled", &self.enabled)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            master_key: None,
            master_key_file: None,
            secure_cookies: false,
            trust_proxy: false,
            log: "info".to_string(),
            public_url: None,
            log_format: "text".to_string(),
            metrics_token: None,
            metrics_listen: None,
            epay_pid: None,
            epay_key: None,
            epay_submit_url: None,
            epay_api_url: None,
            alipay_app_id: None,
            alipay_private_key: None,
            alipay_private_key_file: None,
            alipay_public_key: None,
            alipay_public_key_file: None,
            alipay_gateway_url: None,
            wechatpay_mch_id: None,
            wechatpay_app_id: None,
            wechatpay_serial_no: None,
            wechatpay_private_key: None,
            wechatpay_private_key_file: None,
            wechatpay_api_v3_key: None,
            wechatpay_platform_key: None,
            wechatpay_platform_key_file: None,
            wechatpay_platform_serial: None,
            wechatpay_api_url: None,
            smtp_url: None,
            smtp_from: None,
            smtp_ca_file: None,
            reset_link_seconds: 30 * 60,
            signup_pow_base_bits: 12,
            signup_pow_step_bits: 1,
            signups_per_ip_per_hour: 20,
            claim_window_seconds: 24 * 3600,
            insurance_grace_seconds: 24 * 3600,
            order_ttl_seconds: 30 * 60,
            job_interval_seconds: 10,
            dispute_window_days: 7,
            first_order_trust_below: 60,
            first_order_amount_fen: 20_000,
            trial_max_price_fen: 1_000,
            risk_review_threshold: 3,
            withdrawal_fee_bps: 0,
            withdrawal_fee_min_fen: 0,
            webhook_allow_http: false,
            webhook_allow_private: false,
            payments: PaymentsConfig::default(),
            verifiers: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Loads the file (if given or if `./kabao.toml` exists), then applies `KABAO_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None if Path::new("kabao.toml").exists() => Self::from_file(Path::new("kabao.toml"))?,
            None => Config::default(),
        };
        if let Some(v) = env("KABAO_LISTEN") {
            config.listen =
                v.parse().with_context(|| format!("KABAO_LISTEN={v:?} is not an address like 127.0.0.1:8080"))?;
        }
        if let Some(v) = env("KABAO_DATA_DIR") {
            config.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("KABAO_DATABASE_URL") {
            config.database_url = Some(v);
        }
        if let Some(v) = env("KABAO_MASTER_KEY") {
            config.master_key = Some(v);
        }
        if let Some(v) = env("KABAO_MASTER_KEY_FILE") {
            config.master_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("KABAO_SECURE_COOKIES") {
            config.secure_cookies = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                _ => bail!("KABAO_SECURE_COOKIES={v:?} must be true or false"),
            };
        }
        if let Some(v) = env("KABAO_TRUST_PROXY") {
            config.trust_proxy = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                _ => bail!("KABAO_TRUST_PROXY={v:?} must be true or false"),
            };
        }
        if let Some(v) = env("KABAO_PAYMENTS_SANDBOX_ENABLED") {
            config.payments.sandbox.enabled = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                _ => bail!("KABAO_PAYMENTS_SANDBOX_ENABLED={v:?} must be true or false"),
            };
        }
        if let Some(v) = env("KABAO_PAYMENTS_SANDBOX_SECRET") {
            config.payments.sandbox.secret = Some(v);
        }
        if let Some(v) = env("KABAO_LOG") {
            config.log = v;
        }
        for (var, slot) in [
            ("KABAO_CLAIM_WINDOW_SECONDS", &mut config.claim_window_seconds),
            ("KABAO_INSURANCE_GRACE_SECONDS", &mut config.insurance_grace_seconds),
            ("KABAO_ORDER_TTL_SECONDS", &mut config.order_ttl_seconds),
        ] {
            if let Some(v) = env(var) {
                *slot = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n > 0)
                    .with_context(|| format!("{var}={v:?} must be a positive number of seconds"))?;
            }
        }
        if let Some(v) = env("KABAO_DISPUTE_WINDOW_DAYS") {
            config.dispute_window_days =
                v.trim().parse().ok().filter(|n: &u32| (1..=90).contains(n)).with_context(|| {
                    format!("KABAO_DISPUTE_WINDOW_DAYS={v:?} must be a number of days from 1 to 90")
                })?;
        }
        if let Some(v) = env("KABAO_FIRST_ORDER_TRUST_BELOW") {
            config.first_order_trust_below = v
                .trim()
                .parse()
                .ok()
                .filter(|n: &u8| *n <= 100)
                .with_context(|| format!("KABAO_FIRST_ORDER_TRUST_BELOW={v:?} must be a score from 0 to 100"))?;
        }
        for (var, slot) in [
            ("KABAO_FIRST_ORDER_AMOUNT_FEN", &mut config.first_order_amount_fen),
            ("KABAO_TRIAL_MAX_PRICE_FEN", &mut config.trial_max_price_fen),
            ("KABAO_RISK_REVIEW_THRESHOLD", &mut config.risk_review_threshold),
        ] {
            if let Some(v) = env(var) {
                *slot = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n > 0)
                    .with_context(|| format!("{var}={v:?} must be a positive whole number"))?;
            }
        }
        for (var, slot) in [
            ("KABAO_WEBHOOK_ALLOW_HTTP", &mut config.webhook_allow_http),
            ("KABAO_WEBHOOK_ALLOW_PRIVATE", &mut config.webhook_allow_private),
        ] {
            if let Some(v) = env(var) {
                *slot = match v.as_str() {
                    "1" | "true" | "yes" => true,
                    "0" | "false" | "no" | "" => false,
                    _ => bail!("{var}={v:?} must be true or false"),
                };
            }
        }
        if let Some(v) = env("KABAO_WITHDRAWAL_FEE_BPS") {
            config.withdrawal_fee_bps = v
                .trim()
                .parse()
                .ok()
                .filter(|n: &i64| (0..=10_000).contains(n))
                .with_context(|| format!("KABAO_WITHDRAWAL_FEE_BPS={v:?} must be basis points from 0 to 10000"))?;
        }
        if let Some(v) = env("KABAO_WITHDRAWAL_FEE_MIN_FEN") {
            config.withdrawal_fee_min_fen = v.trim().parse().ok().filter(|n: &i64| *n >= 0).with_context(|| {
                format!("KABAO_WITHDRAWAL_FEE_MIN_FEN={v:?} must be a whole number of 分, 0 or more")
            })?;
        }
        if let Some(v) = env("KABAO_RESET_LINK_SECONDS") {
            config.reset_link_seconds =
                v.trim().parse().ok().filter(|n: &i64| (1..=24 * 3600).contains(n)).with_context(|| {
                    format!("KABAO_RESET_LINK_SECONDS={v:?} must be a number of seconds from 1 to 86400")
                })?;
        }
        for (var, slot) in [
            ("KABAO_SIGNUP_POW_BASE_BITS", &mut config.signup_pow_base_bits),
            ("KABAO_SIGNUP_POW_STEP_BITS", &mut config.signup_pow_step_bits),
            ("KABAO_SIGNUPS_PER_IP_PER_HOUR", &mut config.signups_per_ip_per_hour),
        ] {
            if let Some(v) = env(var) {
                *slot = v.trim().parse().with_context(|| format!("{var}={v:?} must be a whole number"))?;
            }
        }
        config.check_signup()?;
        if let Some(v) = env("KABAO_SMTP_CA_FILE") {
            config.smtp_ca_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("KABAO_JOB_INTERVAL_SECONDS") {
            config.job_interval_seconds =
                v.trim().parse().ok().filter(|n: &u64| *n > 0).with_context(|| {
                    format!("KABAO_JOB_INTERVAL_SECONDS={v:?} must be a positive number of seconds")
                })?;
        }
        for (var, slot) in [
            ("KABAO_PUBLIC_URL", &mut config.public_url),
            ("KABAO_EPAY_PID", &mut config.epay_pid),
            ("KABAO_EPAY_KEY", &mut config.epay_key),
            ("KABAO_EPAY_SUBMIT_URL", &mut config.epay_submit_url),
            ("KABAO_EPAY_API_URL", &mut config.epay_api_url),
            ("KABAO_ALIPAY_APP_ID", &mut config.alipay_app_id),
            ("KABAO_ALIPAY_PUBLIC_KEY", &mut config.alipay_public_key),
            ("KABAO_ALIPAY_GATEWAY_URL", &mut config.alipay_gateway_url),
            ("KABAO_WECHATPAY_MCH_ID", &mut config.wechatpay_mch_id),
            ("KABAO_WECHATPAY_APP_ID", &mut config.wechatpay_app_id),
            ("KABAO_WECHATPAY_SERIAL_NO", &mut config.wechatpay_serial_no),
            ("KABAO_WECHATPAY_PLATFORM_KEY", &mut config.wechatpay_platform_key),
            ("KABAO_WECHATPAY_PLATFORM_SERIAL", &mut config.wechatpay_platform_serial),
            ("KABAO_WECHATPAY_API_URL", &mut config.wechatpay_api_url),
            ("KABAO_SMTP_URL", &mut config.smtp_url),
            ("KABAO_SMTP_FROM", &mut config.smtp_from),
        ] {
            if let Some(v) = env(var) {
                *slot = Some(v);
            }
        }
        if let Some(v) = env("KABAO_ALIPAY_PRIVATE_KEY") {
            config.alipay_private_key = Some(SecretText(v));
        }
        for (var, slot) in [
            ("KABAO_ALIPAY_PRIVATE_KEY_FILE", &mut config.alipay_private_key_file),
            ("KABAO_ALIPAY_PUBLIC_KEY_FILE", &mut config.alipay_public_key_file),
        ] {
            if let Some(v) = env(var) {
                *slot = Some(PathBuf::from(v));
            }
        }
        for (var, slot) in [
            ("KABAO_WECHATPAY_PRIVATE_KEY", &mut config.wechatpay_private_key),
            ("KABAO_WECHATPAY_API_V3_KEY", &mut config.wechatpay_api_v3_key),
        ] {
            if let Some(v) = env(var) {
                *slot = Some(SecretText(v));
            }
        }
        for (var, slot) in [
            ("KABAO_WECHATPAY_PRIVATE_KEY_FILE", &mut config.wechatpay_private_key_file),
            ("KABAO_WECHATPAY_PLATFORM_KEY_FILE", &mut config.wechatpay_platform_key_file),
        ] {
            if let Some(v) = env(var) {
                *slot = Some(PathBuf::from(v));
            }
        }
        if let Some(v) = env("KABAO_LOG_FORMAT") {
            config.log_format = v;
        }
        if !matches!(config.log_format.as_str(), "text" | "json") {
            bail!("log_format (KABAO_LOG_FORMAT / --log-format) {:?} must be text or json", config.log_format);
        }
        if let Some(v) = env("KABAO_METRICS_TOKEN") {
            config.metrics_token = Some(SecretText(v));
        }
        // An empty token (compose's `${KABAO_METRICS_TOKEN:-}`) means none.
        if config.metrics_token.as_ref().is_some_and(|t| t.0.trim().is_empty()) {
            config.metrics_token = None;
        }
        if config.metrics_token.as_ref().is_some_and(|t| t.0.trim().chars().count() < 16) {
            bail!("metrics_token (KABAO_METRICS_TOKEN) must be at least 16 characters");
        }
        if let Some(v) = env("KABAO_METRICS_LISTEN") {
            config.metrics_listen = Some(
                v.parse()
                    .with_context(|| format!("KABAO_METRICS_LISTEN={v:?} is not an address like 127.0.0.1:9090"))?,
            );
        }
        Ok(config)
    }

    /// The mailer: SMTP when `smtp_url` is set (which then needs an absolute `public_url`, so that every link in a
    /// mail is absolute, and reads `smtp_ca_file`), otherwise `.eml` files under `<data_dir>/mail`. A bad setting
    /// is one line naming what to fix.
    pub fn mailer(&self) -> anyhow::Result<std::sync::Arc<dyn kabao_app::mailer::Mailer>> {
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let Some(url) = text(&self.smtp_url) else {
            if self.smtp_ca_file.is_some() {
                bail!("smtp_ca_file (KABAO_SMTP_CA_FILE) is set but smtp_url (KABAO_SMTP_URL) is not");
            }
            return Ok(std::sync::Arc::new(kabao_app::mailer::FileMailer { dir: self.data_dir.join("mail") }));
        };
        match text(&self.public_url) {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {}
            Some(u) => bail!("public_url (KABAO_PUBLIC_URL) {u:?} must start with https:// or http://"),
            None => bail!(
                "smtp_url needs public_url (KABAO_PUBLIC_URL), e.g. https://kabao.example: links in mails must be absolute"
            ),
        }
        let ca = match &self.smtp_ca_file {
            Some(path) => {
                Some(std::fs::read(path).with_context(|| format!("smtp_ca_file: cannot read {}", path.display()))?)
            }
            None => None,
        };
        let from = text(&self.smtp_from).unwrap_or_else(|| "kabao@localhost".to_string());
        let mailer = kabao_app::mailer::SmtpMailer::new(&url, &from, ca.as_deref())
            .map_err(|e| anyhow::anyhow!("smtp_url / smtp_from / smtp_ca_file: {e}"))?;
        Ok(std::sync::Arc::new(mailer))
    }

    /// Alipay, if configured: all of the app id and both keys (inline or from a file), or none of them; half a
    /// configuration, a key given twice, a key that does not load or a missing public_url is an error at start,
    /// in one line that names what to fix (never a key's content).
    pub fn alipay(&self) -> anyhow::Result<Option<kabao_app::gateways::alipay::AlipayConfig>> {
        use kabao_app::gateways::alipay::{AlipayConfig, DEFAULT_GATEWAY_URL};
        let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let app_id = nonempty(&self.alipay_app_id);
        let gateway_url = nonempty(&self.alipay_gateway_url);
        let private_key = self.alipay_private_key.as_ref().map(|s| s.0.clone());
        let private_given = nonempty(&private_key).is_some() || self.alipay_private_key_file.is_some();
        let public_given = nonempty(&self.alipay_public_key).is_some() || self.alipay_public_key_file.is_some();
        if app_id.is_none() && gateway_url.is_none() && !private_given && !public_given {
            return Ok(None);
        }
        let mut missing = Vec::new();
        if app_id.is_none() {
            missing.push("alipay_app_id (KABAO_ALIPAY_APP_ID)");
        }
        if !private_given {
            missing.push("alipay_private_key or alipay_private_key_file (KABAO_ALIPAY_PRIVATE_KEY[_FILE])");
        }
        if !public_given {
            missing.push("alipay_public_key or alipay_public_key_file (KABAO_ALIPAY_PUBLIC_KEY[_FILE])");
        }
        if !missing.is_empty() {
            bail!("alipay is half configured: missing {}", missing.join(", "));
        }
        let read = |inline: &Option<String>, file: &Option<PathBuf>, name: &str| -> anyhow::Result<String> {
            match (nonempty(inline), file) {
                (Some(_), Some(_)) => bail!("set {name} or {name}_file, not both"),
                (Some(text), None) => Ok(text),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .with_context(|| format!("{name}_file: cannot read {}", path.display())),
                (None, None) => bail!("alipay needs {name}"),
            }
        };
        let app_private_key = read(&private_key, &self.alipay_private_key_file, "alipay_private_key")?;
        let alipay_public_key = read(&self.alipay_public_key, &self.alipay_public_key_file, "alipay_public_key")?;
        let Some(public_url) = nonempty(&self.public_url) else {
            bail!("alipay needs public_url (KABAO_PUBLIC_URL) for its notify_url");
        };
        let gateway_url = gateway_url.unwrap_or_else(|| DEFAULT_GATEWAY_URL.to_string());
        if !(gateway_url.starts_with("https://") || gateway_url.starts_with("http://")) {
            bail!("alipay_gateway_url {gateway_url:?} must be an http(s) URL");
        }
        let config = AlipayConfig {
            app_id: app_id.unwrap_or_default(),
            app_private_key,
            alipay_public_key,
            gateway_url,
            public_url,
        };
        config.keys().map_err(|e| anyhow::anyhow!("alipay: {e}"))?;
        Ok(Some(config))
    }

    /// WeChat Pay, if configured: all of it or none of it (half a configuration names what is missing in one
    /// line), keys that parse, an API v3 key of 32 bytes, a platform certificate whose serial is the configured
    /// one, and a public URL for `notify_url`.
    pub fn wechatpay(&self) -> anyhow::Result<Option<kabao_app::gateways::wechatpay::WechatPayConfig>> {
        use kabao_core::wechatpay::{ApiV3Key, MerchantKey, PlatformKey};
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        fn secret(v: &Option<SecretText>) -> Option<&str> {
            v.as_ref().map(|s| s.0.trim()).filter(|s| !s.is_empty())
        }
        let pem = |inline: Option<String>, file: &Option<PathBuf>, name: &str| -> anyhow::Result<Option<String>> {
            match (inline, file) {
                (Some(_), Some(_)) => bail!("set wechatpay_{name} or wechatpay_{name}_file, not both"),
                (Some(v), None) => Ok(Some(v)),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map(Some)
                    .with_context(|| format!("wechatpay_{name}_file {}: cannot be read", path.display())),
                (None, None) => Ok(None),
            }
        };
        let private_key = pem(
            secret(&self.wechatpay_private_key).map(str::to_string),
            &self.wechatpay_private_key_file,
            "private_key",
        )?;
        let platform_key = pem(text(&self.wechatpay_platform_key), &self.wechatpay_platform_key_file, "platform_key")?;
        let parts = [
            ("wechatpay_mch_id (KABAO_WECHATPAY_MCH_ID)", text(&self.wechatpay_mch_id).is_some()),
            ("wechatpay_app_id (KABAO_WECHATPAY_APP_ID)", text(&self.wechatpay_app_id).is_some()),
            ("wechatpay_serial_no (KABAO_WECHATPAY_SERIAL_NO)", text(&self.wechatpay_serial_no).is_some()),
            ("wechatpay_private_key or wechatpay_private_key_file", private_key.is_some()),
            ("wechatpay_api_v3_key (KABAO_WECHATPAY_API_V3_KEY)", secret(&self.wechatpay_api_v3_key).is_some()),
            ("wechatpay_platform_key or wechatpay_platform_key_file", platform_key.is_some()),
            (
                "wechatpay_platform_serial (KABAO_WECHATPAY_PLATFORM_SERIAL)",
                text(&self.wechatpay_platform_serial).is_some(),
            ),
        ];
        let api_url = text(&self.wechatpay_api_url);
        let missing: Vec<&str> = parts.iter().filter(|(_, set)| !set).map(|(name, _)| *name).collect();
        if missing.len() == parts.len() && api_url.is_none() {
            return Ok(None);
        }
        if !missing.is_empty() {
            bail!("WeChat Pay is half configured: missing {}", missing.join(", "));
        }
        let Some(public_url) = text(&self.public_url) else {
            bail!("wechatpay needs public_url (KABAO_PUBLIC_URL) for its notify_url");
        };
        let api_url = api_url.unwrap_or_else(|| kabao_app::gateways::wechatpay::DEFAULT_API_URL.to_string());
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            bail!("wechatpay_api_url {api_url:?} must be an http(s) URL");
        }
        let mch_private_key = MerchantKey::from_pem(private_key.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("wechatpay_private_key: {e}"))?;
        let api_v3_key = ApiV3Key::new(secret(&self.wechatpay_api_v3_key).unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("wechatpay_api_v3_key (KABAO_WECHATPAY_API_V3_KEY): {e}"))?;
        let platform_public_key = PlatformKey::from_pem(platform_key.as_deref().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("wechatpay_platform_key: {e}"))?;
        let platform_serial = text(&self.wechatpay_platform_serial).unwrap_or_default();
        platform_public_key
            .check_serial(&platform_serial)
            .map_err(|e| anyhow::anyhow!("wechatpay_platform_serial (KABAO_WECHATPAY_PLATFORM_SERIAL): {e}"))?;
        Ok(Some(kabao_app::gateways::wechatpay::WechatPayConfig {
            mch_id: text(&self.wechatpay_mch_id).unwrap_or_default(),
            app_id: text(&self.wechatpay_app_id).unwrap_or_default(),
            mch_serial_no: text(&self.wechatpay_serial_no).unwrap_or_default(),
            mch_private_key,
            api_v3_key,
            platform_public_key,
            platform_serial,
            api_url,
            public_url,
        }))
    }

    /// The 易支付 gateway, if configured. Half a configuration, or an empty key, is an error at start; the
    /// query URL defaults to `api.php` next to the submit URL's `submit.php`.
    pub fn epay(&self) -> anyhow::Result<Option<kabao_app::epay::EpayConfig>> {
        let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        match (nonempty(&self.epay_pid), nonempty(&self.epay_key), nonempty(&self.epay_submit_url)) {
            (None, None, None) => Ok(None),
            (Some(pid), Some(key), Some(submit_url)) => {
                let Some(public_url) = nonempty(&self.public_url) else {
                    bail!("epay needs public_url (KABAO_PUBLIC_URL) for its notify_url");
                };
                let Some(api_url) =
                    nonempty(&self.epay_api_url).or_else(|| kabao_app::epay::default_api_url(&submit_url))
                else {
                    bail!("epay_submit_url does not end in submit.php: set epay_api_url (KABAO_EPAY_API_URL) too");
                };
                if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
                    bail!("epay_api_url {api_url:?} must be an http(s) URL");
                }
                Ok(Some(kabao_app::epay::EpayConfig { pid, key, submit_url, api_url, public_url }))
            }
            _ => bail!("epay needs all of epay_pid, epay_key (never empty) and epay_submit_url"),
        }
    }

    /// The sandbox gateway: on with `--demo` or `[payments.sandbox] enabled = true`, never otherwise. A secret set
    /// while the sandbox is off is refused, so an operator who thinks it is on (or off) learns otherwise at start.
    pub fn sandbox(&self, demo: bool) -> anyhow::Result<Option<kabao_app::payments::SandboxConfig>> {
        let settings = &self.payments.sandbox;
        let secret = settings.secret.as_deref().map(str::trim);
        if let Some(secret) = secret {
            if secret.chars().count() < 16 {
                bail!("payments.sandbox.secret (KABAO_PAYMENTS_SANDBOX_SECRET) must be at least 16 characters");
            }
        }
        if !(demo || settings.enabled) {
            if secret.is_some() {
                bail!(
                    "payments.sandbox.secret (KABAO_PAYMENTS_SANDBOX_SECRET) is set but the sandbox is off: set payments.sandbox.enabled (KABAO_PAYMENTS_SANDBOX_ENABLED) or remove the secret"
                );
            }
            return Ok(None);
        }
        Ok(Some(match secret {
            Some(s) => kabao_app::payments::SandboxConfig { secret: s.as_bytes().to_vec() },
            None => kabao_app::payments::SandboxConfig::random(),
        }))
    }

    /// The key verifiers by category, checked: a known category, an http(s) URL, a secret of at least 16
    /// characters, a timeout and retries within their bounds.
    pub fn verifiers(
        &self,
    ) -> anyhow::Result<BTreeMap<kabao_core::catalog::Category, kabao_app::verification::VerifierConfig>> {
        use kabao_app::verification::{DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, MAX_RETRIES, MAX_TIMEOUT_MS};
        let mut out = BTreeMap::new();
        for (name, v) in &self.verifiers {
            let Some(category) = kabao_core::catalog::Category::parse(name) else {
                bail!("[verifiers.{name}]: not a product category (game_card, top_up, software_license, ...)");
            };
            let url = v.url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("verifiers.{name}.url {url:?} must be an http(s) URL");
            }
            if v.secret.trim().chars().count() < 16 {
                bail!("verifiers.{name}.secret must be at least 16 characters");
            }
            let timeout_ms = v.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
            if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
                bail!("verifiers.{name}.timeout_ms must be from 1 to {MAX_TIMEOUT_MS}");
            }
            let retries = v.retries.unwrap_or(DEFAULT_RETRIES);
            if retries > MAX_RETRIES {
                bail!("verifiers.{name}.retries must be from 0 to {MAX_RETRIES}");
            }
            let secret = v.secret.trim().to_string();
            out.insert(
                category,
                kabao_app::verification::VerifierConfig { url: url.to_string(), secret, timeout_ms, retries },
            );
        }
        Ok(out)
    }

    /// The sign-up settings, from the file or the environment, within bounds that still let people sign up
    /// and still cost a script something: one line naming the setting otherwise.
    fn check_signup(&self) -> anyhow::Result<()> {
        let max_bits = i64::from(kabao_core::pow::MAX_DIFFICULTY);
        for (name, var, value, range) in [
            ("signup_pow_base_bits", "KABAO_SIGNUP_POW_BASE_BITS", self.signup_pow_base_bits, 0..=max_bits),
            ("signup_pow_step_bits", "KABAO_SIGNUP_POW_STEP_BITS", self.signup_pow_step_bits, 0..=8),
            ("signups_per_ip_per_hour", "KABAO_SIGNUPS_PER_IP_PER_HOUR", self.signups_per_ip_per_hour, 1..=10_000),
        ] {
            if !range.contains(&value) {
                bail!("{name} ({var}) = {value} must be from {} to {}", range.start(), range.end());
            }
        }
        Ok(())
    }

    fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
    }

    /// The store URL: PostgreSQL if configured, else the SQLite file in the data directory.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("kabao.db").display()),
        }
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The configuration as it can be printed: secrets and database passwords redacted.
    pub fn redacted(&self) -> String {
        let db = match &self.database_url {
            Some(url) => redact_url(url),
            None => format!("sqlite {}", self.data_dir.join("kabao.db").display()),
        };
        let key = if self.master_key.is_some() {
            "from KABAO_MASTER_KEY (redacted)".to_string()
        } else {
            format!("file {}", self.master_key_path().display())
        };
        format!(
            "listen={} database={} master_key={} secure_cookies={} log={} payments.sandbox.enabled={} alipay={} \
             wechatpay={} verifiers=[{}]",
            self.listen,
            db,
            key,
            self.secure_cookies,
            self.log,
            self.payments.sandbox.enabled,
            self.alipay_app_id.as_deref().unwrap_or("off"),
            self.wechatpay_mch_id.as_deref().unwrap_or("off"),
            self.verifiers.keys().cloned().collect::<Vec<_>>().join(",")
        )
    }
}

/// Hides the password in `postgres://user:password@host/db`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A throwaway 1024-bit key pair, only for these configuration tests.
    const TEST_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAKqr6O61t9e/HYmZ\nIc1neNKgYkRorFAi+E+5C+2ekp4WYJA1eoG5vQ9kR0ti3+RX4jcSEPHkyUrdvV1O\njmX0iow6GnT695yi8aJM5UCnUUFL8X0/UxvCw74HSSoStFzKTiAXaYeVr+WLAbY7\nss56yRnP0phHOp0NbUr3KK2zTTD3AgMBAAECgYEAlofXg6t9AeoLmFAa0zr/Au74\nnROhX3DoiBBTJ/qjoJFmC+tPKNn0mX29sAz+Ij0tRZtGnMNIkyKuIXzm9Z/RDdm1\nmVTwLbOBC/80Atwj2PUrAZOFle4lsTs2hBO9mXbINkMSRurnLsfqtODCKhsValUZ\ngYbWAFxoMpoxS600IaECQQDfCIrYE+8eFZvfMV7R+ry30H3MMRo/81vyaeU4RS/D\nB4BDDcpX5myqnVRgvFFIjzW1mr7Rbirbmr5ipoAj+tNHAkEAw+YGT2a98CYt5/Oo\nOO40gDMFGT1zC54z5wjpefQaIP7dHC2rp1WmkYIJ5GRDRTXS0Z3x03q809p2o09k\noVWs0QJBAJfLfJPrnUbgdiHFvD81Y9PG9pdOpAr6Wo32PKe7jvIx3L3GWPzSOwsz\n4QWlpby4m1lqZIytakXkX8dMgtH6GGkCQAUIoBjiNvc4w+014Zi05jx1Eyh238Ho\nqsTBAd7UWueGJQBYXBTMqp8KjF6GBQR+QZCJUnFwsfFvp6TCoX9TyEECQBOaOKnc\nLj0vwxaUK0OWns/CiL28O3rmuM0RcatI1ZrNS6K3UNni+JOOdmWdVWcVK21gwDZl\niDqbPkfdFvhso0o=\n-----END PRIVATE KEY-----";
    const TEST_PUBLIC_KEY_BARE: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCqq+jutbfXvx2JmSHNZ3jSoGJEaKxQIvhPuQvtnpKeFmCQNXqBub0PZEdLYt/kV+I3EhDx5MlK3b1dTo5l9IqMOhp0+vecovGiTOVAp1FBS/F9P1MbwsO+B0kqErRcyk4gF2mHla/liwG2O7LOeskZz9KYRzqdDW1K9yits00w9wIDAQAB";

    fn alipay_env(vars: &[(&str, &str)]) -> anyhow::Result<Option<kabao_app::gateways::alipay::AlipayConfig>> {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        Config::load(None, |k| vars.get(k).map(|v| v.to_string())).and_then(|c| c.alipay())
    }

    #[test]
    fn alipay_is_all_or_nothing_and_names_what_is_missing() {
        assert!(alipay_env(&[]).unwrap().is_none());
        let half = alipay_env(&[("KABAO_ALIPAY_APP_ID", "2021000000000000")]).unwrap_err().to_string();
        assert!(half.contains("alipay_private_key") && half.contains("alipay_public_key"), "{half}");
        assert!(!half.contains("alipay_app_id"), "{half}");
        assert_eq!(half.lines().count(), 1);
        let only_url = alipay_env(&[("KABAO_ALIPAY_GATEWAY_URL", "https://openapi.alipay.com/gateway.do")]);
        assert!(only_url.unwrap_err().to_string().contains("alipay_app_id"));
        let full = [
            ("KABAO_ALIPAY_APP_ID", "2021000000000000"),
            ("KABAO_ALIPAY_PRIVATE_KEY", TEST_PRIVATE_KEY),
            ("KABAO_ALIPAY_PUBLIC_KEY", TEST_PUBLIC_KEY_BARE),
        ];
        let no_public_url = alipay_env(&full).unwrap_err().to_string();
        assert!(no_public_url.contains("public_url"), "{no_public_url}");
        let mut with_url = full.to_vec();
        with_url.push(("KABAO_PUBLIC_URL", "https://kabao.example"));
        let c = alipay_env(&with_url).unwrap().unwrap();
        assert_eq!(c.gateway_url, "https://openapi.alipay.com/gateway.do");
        assert_eq!(c.notify_url(), "https://kabao.example/api/v1/gateways/alipay/notify");
        assert!(!format!("{c:?}").contains("MII"), "keys never in Debug");
        let loaded = Config::load(None, |k| with_url.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()));
        assert!(!format!("{:?}", loaded.unwrap()).contains("PRIVATE KEY"), "nor in the configuration's Debug");
        with_url.push(("KABAO_ALIPAY_GATEWAY_URL", "https://openapi-sandbox.dl.alipaydev.com/gateway.do"));
        assert!(alipay_env(&with_url).unwrap().unwrap().gateway_url.contains("sandbox"));
    }

    #[test]
    fn alipay_keys_that_do_not_load_refuse_to_start_and_files_are_read() {
        let bad = alipay_env(&[
            ("KABAO_PUBLIC_URL", "https://kabao.example"),
            ("KABAO_ALIPAY_APP_ID", "2021000000000000"),
            ("KABAO_ALIPAY_PRIVATE_KEY", "MIIE-not-a-key"),
            ("KABAO_ALIPAY_PUBLIC_KEY", TEST_PUBLIC_KEY_BARE),
        ]);
        let text = bad.unwrap_err().to_string();
        assert!(text.contains("private key") && !text.contains("MIIE"), "{text}");
        let dir = std::env::temp_dir().join(format!("kabao-alipay-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (private, public) = (dir.join("app.key"), dir.join("alipay.pub"));
        std::fs::write(&private, TEST_PRIVATE_KEY).unwrap();
        std::fs::write(&public, TEST_PUBLIC_KEY_BARE).unwrap();
        let (private, public) = (private.display().to_string(), public.display().to_string());
        let from_files = alipay_env(&[
            ("KABAO_PUBLIC_URL", "https://kabao.example"),
            ("KABAO_ALIPAY_APP_ID", "2021000000000000"),
            ("KABAO_ALIPAY_PRIVATE_KEY_FILE", private.as_str()),
            ("KABAO_ALIPAY_PUBLIC_KEY_FILE", public.as_str()),
        ]);
        assert!(from_files.unwrap().is_some());
        let twice = alipay_env(&[
            ("KABAO_PUBLIC_URL", "https://kabao.example"),
            ("KABAO_ALIPAY_APP_ID", "2021000000000000"),
            ("KABAO_ALIPAY_PRIVATE_KEY", TEST_PRIVATE_KEY),
            ("KABAO_ALIPAY_PRIVATE_KEY_FILE", private.as_str()),
            ("KABAO_ALIPAY_PUBLIC_KEY", TEST_PUBLIC_KEY_BARE),
        ]);
        assert!(twice.unwrap_err().to_string().contains("not both"));
        let missing_file = alipay_env(&[
            ("KABAO_PUBLIC_URL", "https://kabao.example"),
            ("KABAO_ALIPAY_APP_ID", "2021000000000000"),
            ("KABAO_ALIPAY_PRIVATE_KEY_FILE", "/nonexistent/app.key"),
            ("KABAO_ALIPAY_PUBLIC_KEY", TEST_PUBLIC_KEY_BARE),
        ]);
        assert!(missing_file.unwrap_err().to_string().contains("alipay_private_key_file"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn env_overrides_defaults() {
        let vars: HashMap<&str, &str> =
            [("KABAO_LISTEN", "0.0.0.0:9000"), ("KABAO_SECURE_COOKIES", "true"), ("KABAO_DATA_DIR", "/tmp/k")].into();
        let c = Config::load(None, |k| vars.get(k).map(|v| v.to_string())).map_err(|e| e.to_string());
        let c = c.unwrap_or_default();
        assert_eq!(c.listen.port(), 9000);
        assert!(c.secure_cookies);
        assert_eq!(c.store_url(), "sqlite:///tmp/k/kabao.db");
    }

    #[test]
    fn log_format_and_metrics_settings_are_read_and_checked() {
        let load = |vars: &[(&str, &str)]| {
            let vars: HashMap<&str, &str> = vars.iter().copied().collect();
            Config::load(None, |k| vars.get(k).map(|v| v.to_string()))
        };
        let c = load(&[]).unwrap_or_default();
        assert_eq!((c.log_format.as_str(), c.metrics_token.is_none(), c.metrics_listen), ("text", true, None));
        let c = load(&[
            ("KABAO_LOG_FORMAT", "json"),
            ("KABAO_METRICS_TOKEN", "a-long-enough-token-123"),
            ("KABAO_METRICS_LISTEN", "127.0.0.1:9100"),
        ])
        .unwrap_or_default();
        assert_eq!(c.log_format, "json");
        assert_eq!(c.metrics_token.map(|t| t.0).as_deref(), Some("a-long-enough-token-123"));
        assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9100));
        assert!(!format!("{:?}", load(&[("KABAO_METRICS_TOKEN", "a-long-enough-token-123")]).ok()).contains("a-long"));
        assert!(load(&[("KABAO_METRICS_TOKEN", "")]).is_ok_and(|c| c.metrics_token.is_none()), "empty means none");
        let short = load(&[("KABAO_METRICS_TOKEN", "short")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(short.contains("metrics_token"), "{short}");
        let xml = load(&[("KABAO_LOG_FORMAT", "xml")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(xml.contains("log_format"), "{xml}");
        assert!(load(&[("KABAO_METRICS_LISTEN", "nowhere")]).is_err());
    }

    #[test]
    fn trust_settings_come_from_the_environment_and_are_checked() {
        let vars: HashMap<&str, &str> = [
            ("KABAO_FIRST_ORDER_TRUST_BELOW", "70"),
            ("KABAO_FIRST_ORDER_AMOUNT_FEN", "50000"),
            ("KABAO_TRIAL_MAX_PRICE_FEN", "500"),
            ("KABAO_RISK_REVIEW_THRESHOLD", "5"),
        ]
        .into();
        let c =
            Config::load(None, |k| vars.get(k).map(|v| v.to_string())).map_err(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            (c.first_order_trust_below, c.first_order_amount_fen, c.trial_max_price_fen, c.risk_review_threshold),
            (70, 50_000, 500, 5)
        );
        for (var, value) in [("KABAO_FIRST_ORDER_TRUST_BELOW", "101"), ("KABAO_TRIAL_MAX_PRICE_FEN", "-1")] {
            let err = Config::load(None, |k| (k == var).then(|| value.to_string())).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains(var)), "{var}={value}");
        }
    }

    #[test]
    fn bad_env_is_a_clear_error() {
        let err =
            Config::load(None, |k| (k == "KABAO_LISTEN").then(|| "nonsense".to_string())).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("KABAO_LISTEN")));
    }

    #[test]
    fn file_with_unknown_key_is_refused() {
        let dir = std::env::temp_dir().join(format!("kabao-config-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("kabao.toml");
        let _ = std::fs::write(&path, "listen = \"127.0.0.1:7000\"\nlistn = 1\n");
        let err = Config::load(Some(&path), |_| None).err().map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("listn")));
        let _ = std::fs::write(&path, "listen = \"127.0.0.1:7000\"\n");
        assert_eq!(Config::load(Some(&path), |_| None).map(|c| c.listen.port()).ok(), Some(7000));
    }

    #[test]
    fn epay_is_all_or_nothing_and_never_with_an_empty_key() {
        let half = Config { epay_pid: Some("1001".into()), ..Config::default() };
        assert!(half.epay().is_err());
        let empty_key = Config {
            epay_pid: Some("1001".into()),
            epay_key: Some(" ".into()),
            epay_submit_url: Some("https://pay.example/submit.php".into()),
            public_url: Some("https://kabao.example".into()),
            ..Config::default()
        };
        assert!(empty_key.epay().is_err());
        let full = Config { epay_key: Some("k".into()), ..empty_key };
        assert_eq!(full.epay().ok().flatten().map(|e| e.pid), Some("1001".to_string()));
        assert!(!full.redacted().contains("k\""));
    }

    #[test]
    fn epay_query_url_defaults_next_to_submit_php_or_is_set() {
        let env: HashMap<&str, &str> = [
            ("KABAO_EPAY_PID", "1001"),
            ("KABAO_EPAY_KEY", "k"),
            ("KABAO_EPAY_SUBMIT_URL", "https://pay.example/submit.php"),
            ("KABAO_PUBLIC_URL", "https://kabao.example"),
        ]
        .into();
        let load = |extra: Option<(&'static str, &'static str)>| {
            let mut vars = env.clone();
            vars.extend(extra);
            Config::load(None, |k| vars.get(k).map(|v| v.to_string())).and_then(|c| c.epay())
        };
        let api_url = |r: anyhow::Result<Option<kabao_app::epay::EpayConfig>>| r.ok().flatten().map(|e| e.api_url);
        assert_eq!(api_url(load(None)).as_deref(), Some("https://pay.example/api.php"));
        let set = load(Some(("KABAO_EPAY_API_URL", "https://query.example/api.php")));
        assert_eq!(api_url(set).as_deref(), Some("https://query.example/api.php"));
        let underivable = load(Some(("KABAO_EPAY_SUBMIT_URL", "https://pay.example/pay")));
        assert!(underivable.err().is_some_and(|e| e.to_string().contains("epay_api_url")));
        assert!(load(Some(("KABAO_EPAY_API_URL", "ftp://pay.example/api.php"))).is_err());
    }

    #[test]
    fn the_sandbox_is_off_unless_demo_or_enabled_and_its_secret_is_checked() {
        let plain = Config::default();
        assert!(plain.sandbox(false).ok().flatten().is_none(), "off on a plain serve");
        assert!(plain.sandbox(true).ok().flatten().is_some(), "on with --demo");
        let env: HashMap<&str, &str> =
            [("KABAO_PAYMENTS_SANDBOX_ENABLED", "true"), ("KABAO_PAYMENTS_SANDBOX_SECRET", "0123456789abcdef")].into();
        let enabled = Config::load(None, |k| env.get(k).map(|v| v.to_string())).and_then(|c| c.sandbox(false));
        assert_eq!(enabled.ok().flatten().map(|s| s.secret), Some(b"0123456789abcdef".to_vec()));
        let short = Config::load(None, |k| (k == "KABAO_PAYMENTS_SANDBOX_SECRET").then(|| "short".to_string()));
        assert!(short.and_then(|c| c.sandbox(true)).err().is_some_and(|e| e.to_string().contains("16")));
        let stray = Config::load(None, |k| (k == "KABAO_PAYMENTS_SANDBOX_SECRET").then(|| "0123456789abcdef".into()));
        assert!(stray.and_then(|c| c.sandbox(false)).err().is_some_and(|e| e.to_string().contains("enabled")));
        let bad = Config::load(None, |k| (k == "KABAO_PAYMENTS_SANDBOX_ENABLED").then(|| "maybe".to_string()));
        assert!(bad.err().is_some_and(|e| e.to_string().contains("KABAO_PAYMENTS_SANDBOX_ENABLED")));
        let dir = std::env::temp_dir().join(format!("kabao-sandbox-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("kabao.toml");
        let _ = std::fs::write(&path, "[payments.sandbox]\nenabled = true\n");
        let from_file = Config::load(Some(&path), |_| None).and_then(|c| c.sandbox(false));
        assert!(from_file.ok().flatten().is_some());
        assert!(!format!("{:?}", Config::load(None, |k| env.get(k).map(|v| v.to_string())).ok())
            .contains("0123456789abcdef"));
    }

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(redact_url("postgres://kabao:s3cret@db:5432/kabao"), "postgres://kabao:***@db:5432/kabao");
        let c = Config {
            database_url: Some("postgres://u:p@h/d".into()),
            master_key: Some("ab".repeat(32)),
            ..Config::default()
        };
        assert!(!c.redacted().contains(":p@") && !c.redacted().contains("abab"));
    }

    #[test]
    fn verifiers_are_read_from_their_tables_and_checked() {
        let text = r#"
[verifiers.game_card]
url = "http://127.0.0.1:8090/verify"
secret = "0123456789abcdef-secret"
timeout_ms = 500
retries = 1

[verifiers.software_license]
url = "https://keys.example/check"
secret = "another-long-secret-value"
"#;
        let c: Config = toml::from_str(text).unwrap();
        let v = c.verifiers().unwrap();
        let card = &v[&kabao_core::catalog::Category::GameCard];
        assert_eq!((card.url.as_str(), card.timeout_ms, card.retries), ("http://127.0.0.1:8090/verify", 500, 1));
        let lic = &v[&kabao_core::catalog::Category::SoftwareLicense];
        assert_eq!((lic.timeout_ms, lic.retries), (3000, 2));
        assert!(
            !c.redacted().contains("secret-value") && c.redacted().contains("verifiers=[game_card,software_license]")
        );
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        for bad in [
            "[verifiers.nope]\nurl = \"http://x\"\nsecret = \"0123456789abcdef\"",
            "[verifiers.game_card]\nurl = \"ftp://x\"\nsecret = \"0123456789abcdef\"",
            "[verifiers.game_card]\nurl = \"http://x\"\nsecret = \"short\"",
            "[verifiers.game_card]\nurl = \"http://x\"\nsecret = \"0123456789abcdef\"\nretries = 9",
            "[verifiers.game_card]\nurl = \"http://x\"\nsecret = \"0123456789abcdef\"\ntimeout_ms = 0",
        ] {
            let c: Config = toml::from_str(bad).unwrap();
            assert!(c.verifiers().is_err(), "{bad}");
        }
    }

    /// A merchant key and a platform public key as PEM, generated once for these tests.
    fn wechatpay_pems() -> &'static (String, String) {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        static PEMS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        PEMS.get_or_init(|| {
            let mut rng = rand::rngs::OsRng;
            let merchant = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
            let platform = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
            (
                merchant.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                platform.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
            )
        })
    }

    fn wechatpay_env() -> HashMap<&'static str, String> {
        let (private, public) = wechatpay_pems();
        [
            ("KABAO_PUBLIC_URL", "https://kabao.example".to_string()),
            ("KABAO_WECHATPAY_MCH_ID", "1900000001".into()),
            ("KABAO_WECHATPAY_APP_ID", "wx8888888888888888".into()),
            ("KABAO_WECHATPAY_SERIAL_NO", "3775B6A45ACD588826D15E583A95F5DD2C3C4C0B".into()),
            ("KABAO_WECHATPAY_PRIVATE_KEY", private.clone()),
            ("KABAO_WECHATPAY_API_V3_KEY", "0123456789abcdef0123456789abcdef".into()),
            ("KABAO_WECHATPAY_PLATFORM_KEY", public.clone()),
            ("KABAO_WECHATPAY_PLATFORM_SERIAL", "PUB_KEY_ID_0119000000012025000000000000".into()),
        ]
        .into()
    }

    fn load_wechatpay(
        vars: &HashMap<&'static str, String>,
    ) -> anyhow::Result<Option<kabao_app::gateways::wechatpay::WechatPayConfig>> {
        Config::load(None, |k| vars.get(k).cloned()).and_then(|c| c.wechatpay())
    }

    #[test]
    fn wechatpay_loads_from_the_environment_with_the_default_api_url() {
        let w = load_wechatpay(&wechatpay_env()).unwrap().unwrap();
        assert_eq!((w.mch_id.as_str(), w.app_id.as_str()), ("1900000001", "wx8888888888888888"));
        assert_eq!(w.api_url, "https://api.mch.weixin.qq.com");
        assert_eq!(w.public_url, "https://kabao.example");
        assert!(load_wechatpay(&HashMap::new()).unwrap().is_none(), "unconfigured is off");
        let mut set = wechatpay_env();
        set.insert("KABAO_WECHATPAY_API_URL", "http://127.0.0.1:9/".into());
        assert_eq!(load_wechatpay(&set).unwrap().unwrap().api_url, "http://127.0.0.1:9/");
    }

    #[test]
    fn wechatpay_is_all_or_nothing_in_one_line() {
        for var in [
            "KABAO_WECHATPAY_MCH_ID",
            "KABAO_WECHATPAY_APP_ID",
            "KABAO_WECHATPAY_SERIAL_NO",
            "KABAO_WECHATPAY_PRIVATE_KEY",
            "KABAO_WECHATPAY_API_V3_KEY",
            "KABAO_WECHATPAY_PLATFORM_KEY",
            "KABAO_WECHATPAY_PLATFORM_SERIAL",
        ] {
            let mut half = wechatpay_env();
            half.remove(var);
            let e = load_wechatpay(&half).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.starts_with("WeChat Pay is half configured: missing wechatpay_"), "{var}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let only_url: HashMap<&str, String> = [("KABAO_WECHATPAY_API_URL", "https://x.example".to_string())].into();
        assert!(load_wechatpay(&only_url).is_err(), "an API URL alone is half a configuration");
        let mut no_public_url = wechatpay_env();
        no_public_url.remove("KABAO_PUBLIC_URL");
        assert!(load_wechatpay(&no_public_url).err().is_some_and(|e| e.to_string().contains("public_url")));
    }

    #[test]
    fn wechatpay_keys_must_parse_and_are_never_printed() {
        for (var, value, says) in [
            (
                "KABAO_WECHATPAY_PRIVATE_KEY",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                "wechatpay_private_key",
            ),
            ("KABAO_WECHATPAY_PLATFORM_KEY", "not a pem", "wechatpay_platform_key"),
            ("KABAO_WECHATPAY_API_V3_KEY", "31-bytes-0123456789abcdef012345", "32 bytes"),
            ("KABAO_WECHATPAY_API_URL", "ftp://api.example", "http(s)"),
        ] {
            let mut bad = wechatpay_env();
            bad.insert(var, value.into());
            let e = load_wechatpay(&bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(says), "{var}: {e}");
            assert!(var.ends_with("API_URL") || !e.contains(value), "{var}: a key is not quoted: {e}");
        }
        let vars = wechatpay_env();
        let c = Config::load(None, |k| vars.get(k).cloned()).unwrap();
        let debug = format!("{c:?} {:?}", c.wechatpay().unwrap());
        assert!(!debug.contains("0123456789abcdef0123456789abcdef") && !debug.contains("PRIVATE KEY"), "{debug}");
        assert!(!c.redacted().contains("PRIVATE KEY"));
    }

    #[test]
    fn wechatpay_keys_can_come_from_files_but_not_from_both() {
        let dir = std::env::temp_dir().join(format!("kabao-wechatpay-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (private, public) = wechatpay_pems();
        let (key_file, platform_file) = (dir.join("apiclient_key.pem"), dir.join("pub_key.pem"));
        std::fs::write(&key_file, private).unwrap();
        std::fs::write(&platform_file, public).unwrap();
        let mut vars = wechatpay_env();
        vars.remove("KABAO_WECHATPAY_PRIVATE_KEY");
        vars.remove("KABAO_WECHATPAY_PLATFORM_KEY");
        vars.insert("KABAO_WECHATPAY_PRIVATE_KEY_FILE", key_file.display().to_string());
        vars.insert("KABAO_WECHATPAY_PLATFORM_KEY_FILE", platform_file.display().to_string());
        assert!(load_wechatpay(&vars).unwrap().is_some());
        vars.insert("KABAO_WECHATPAY_PRIVATE_KEY", private.clone());
        assert!(load_wechatpay(&vars).err().is_some_and(|e| e.to_string().contains("not both")));
        vars.remove("KABAO_WECHATPAY_PRIVATE_KEY");
        vars.insert("KABAO_WECHATPAY_PRIVATE_KEY_FILE", dir.join("missing.pem").display().to_string());
        assert!(load_wechatpay(&vars).err().is_some_and(|e| e.to_string().contains("cannot be read")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn signup_settings_come_from_the_file_and_environment_and_absurd_values_are_refused() {
        let c = Config::load(None, |_| None).unwrap_or_default();
        assert_eq!((c.signup_pow_base_bits, c.signup_pow_step_bits, c.signups_per_ip_per_hour), (12, 1, 20));
        let vars: HashMap<&str, &str> = [
            ("KABAO_SIGNUP_POW_BASE_BITS", "16"),
            ("KABAO_SIGNUP_POW_STEP_BITS", "2"),
            ("KABAO_SIGNUPS_PER_IP_PER_HOUR", "5"),
        ]
        .into();
        let c = Config::load(None, |k| vars.get(k).map(|v| v.to_string())).map_err(|e| e.to_string());
        let c = c.unwrap_or_default();
        assert_eq!((c.signup_pow_base_bits, c.signup_pow_step_bits, c.signups_per_ip_per_hour), (16, 2, 5));
        let server = crate::server_config(&c, None, None, None, None, BTreeMap::new());
        assert_eq!(
            (server.signup_pow_base_bits, server.signup_pow_step_bits, server.signups_per_ip_per_hour),
            (16, 2, 5)
        );
        for (var, value, name) in [
            ("KABAO_SIGNUP_POW_BASE_BITS", "40", "signup_pow_base_bits"),
            ("KABAO_SIGNUP_POW_BASE_BITS", "-1", "signup_pow_base_bits"),
            ("KABAO_SIGNUP_POW_STEP_BITS", "9", "signup_pow_step_bits"),
            ("KABAO_SIGNUPS_PER_IP_PER_HOUR", "0", "signups_per_ip_per_hour"),
            ("KABAO_SIGNUPS_PER_IP_PER_HOUR", "many", "KABAO_SIGNUPS_PER_IP_PER_HOUR"),
        ] {
            let err = Config::load(None, |k| (k == var).then(|| value.to_string())).err().map(|e| e.to_string());
            assert!(err.as_deref().is_some_and(|e| e.contains(name) && !e.contains('\n')), "{var}={value}: {err:?}");
        }
        let dir = std::env::temp_dir().join(format!("kabao-config-signup-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("kabao.toml");
        let _ = std::fs::write(&path, "signup_pow_base_bits = 18\n");
        assert_eq!(Config::load(Some(&path), |_| None).map(|c| c.signup_pow_base_bits).ok(), Some(18));
        let _ = std::fs::write(&path, "signup_pow_base_bits = 64\n");
        let err = Config::load(Some(&path), |_| None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("signup_pow_base_bits"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn smtp_needs_an_absolute_public_url() {
        let mut c = Config { smtp_url: Some("smtp://127.0.0.1:2525".into()), ..Config::default() };
        let err = c.mailer().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("public_url") && err.contains("KABAO_PUBLIC_URL"), "{err}");
        c.public_url = Some("kabao.example".into());
        assert!(c.mailer().is_err(), "not absolute");
        c.public_url = Some("https://kabao.example".into());
        assert!(c.mailer().is_ok());
        c.smtp_ca_file = Some(PathBuf::from("/nonexistent/ca.pem"));
        assert!(c.mailer().err().is_some_and(|e| e.to_string().contains("smtp_ca_file")));
        let files = Config::default();
        assert!(files.mailer().is_ok(), "without SMTP, mails are files and need no public URL");
    }
}
