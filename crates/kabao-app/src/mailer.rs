//! Outgoing mail behind a trait: SMTP (lettre) when configured, otherwise `.eml` files in a directory for
//! development. Delivery mails carry the order number and where to reveal the keys — never the keys: a key
//! leaves the platform only through an audited reveal.

use async_trait::async_trait;
use std::path::PathBuf;

/// One plain-text mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address or message: {0}")]
    Invalid(String),
    #[error("sending failed: {0}")]
    Send(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Development mailer: each mail becomes a file in `dir`.
pub struct FileMailer {
    pub dir: PathBuf,
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let name = format!(
            "{}-{:08x}.eml",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0),
            rand::random::<u32>()
        );
        let text = format!(
            "To: {}\nSubject: {}\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
            mail.to, mail.subject, mail.text
        );
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| MailError::Send(e.to_string()))?;
        tokio::fs::write(self.dir.join(name), text).await.map_err(|e| MailError::Send(e.to_string()))
    }
}

/// Mails kept in memory, for tests.
#[derive(Default)]
pub struct MemoryMailer {
    pub sent: std::sync::Mutex<Vec<Mail>>,
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        self.sent.lock().map_err(|_| MailError::Send("poisoned".into()))?.push(mail.clone());
        Ok(())
    }
}

/// SMTP through lettre, from a URL: `smtps://user:password@smtp.example.com:465` (implicit TLS),
/// `smtp://user:password@smtp.example.com:587?tls=required` (STARTTLS, refused without it) or plain `smtp://host:25`
/// (a relay on the same machine only). A CA file (PEM) adds trusted roots, for a private CA or a test certificate.
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

/// How a SMTP URL asks for TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SmtpTls {
    Implicit,
    StartTlsRequired,
    StartTlsOpportunistic,
    None,
}

/// The host and TLS mode of a SMTP URL (lettre parses the rest); None if it is not `smtp://` or `smtps://`.
fn smtp_host_and_tls(url: &str) -> Option<(String, SmtpTls)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        host_port.split(':').next()?
    };
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    let tls_param = query.split('&').find_map(|kv| kv.strip_prefix("tls="));
    let tls = match (scheme, tls_param) {
        ("smtps", _) => SmtpTls::Implicit,
        ("smtp", Some("required")) => SmtpTls::StartTlsRequired,
        ("smtp", Some("opportunistic")) => SmtpTls::StartTlsOpportunistic,
        ("smtp", _) => SmtpTls::None,
        _ => return None,
    };
    (!host.is_empty()).then(|| (host.to_string(), tls))
}

impl SmtpMailer {
    /// `ca_pem`: extra trusted root certificates (PEM), added to the public roots.
    pub fn new(url: &str, from: &str, ca_pem: Option<&[u8]>) -> Result<SmtpMailer, MailError> {
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        let (host, tls) =
            smtp_host_and_tls(url).ok_or_else(|| MailError::Invalid("not an smtp:// or smtps:// URL".into()))?;
        let mut builder = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Invalid(e.to_string()))?;
        if let Some(pem) = ca_pem {
            if !String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(MailError::Invalid("CA file holds no PEM certificate".into()));
            }
            let cert = Certificate::from_pem(pem).map_err(|e| MailError::Invalid(format!("CA file: {e}")))?;
            let params = TlsParameters::builder(host)
                .add_root_certificate(cert)
                .build()
                .map_err(|e| MailError::Invalid(format!("TLS: {e}")))?;
            builder = match tls {
                SmtpTls::Implicit => builder.tls(Tls::Wrapper(params)),
                SmtpTls::StartTlsRequired => builder.tls(Tls::Required(params)),
                SmtpTls::StartTlsOpportunistic => builder.tls(Tls::Opportunistic(params)),
                SmtpTls::None => builder,
            };
        }
        let transport = builder.timeout(Some(std::time::Duration::from_secs(30))).build();
        let from = from.parse().map_err(|e: lettre::address::AddressError| MailError::Invalid(e.to_string()))?;
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        use lettre::AsyncTransport;
        let to = mail.to.parse().map_err(|e: lettre::address::AddressError| MailError::Invalid(e.to_string()))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| MailError::Invalid(e.to_string()))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| MailError::Send(e.to_string()))
    }
}

/// An absolute link: the public base URL (always absolute, see `App::link_base`) and a path.
fn link(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The delivery mail for an order, in Chinese with English.
pub fn delivery_mail(to: &str, order_no: &str, base: &str) -> Mail {
    let link = link(base, &format!("/o/{order_no}"));
    Mail {
        to: to.to_string(),
        subject: format!("卡保订单 {order_no} 已发货 / Order delivered"),
        text: format!(
            "你的订单 {order_no} 已发货。请在订单页查看卡密（每次查看都会被记录）：{link}\n\
             游客订单可在「订单查询」输入订单号和邮箱或查询密码。请勿把卡密发给任何人，平台不会私下联系你补单。\n\n\
             Your order {order_no} has been delivered. Reveal your keys on the order page (every reveal is recorded): {link}\n\
             Guests: use \"Find my order\" with the order number and your email or query password."
        ),
    }
}

/// The reminder that a rejected claim can still go to the platform, before the window closes.
pub fn escalation_reminder_mail(to: &str, order_no: &str, claim_no: &str, closes: &str, base: &str) -> Mail {
    let link = link(base, &format!("/o/{order_no}/claims/{claim_no}"));
    Mail {
        to: to.to_string(),
        subject: format!("卡保售后 {claim_no}：申请平台介入的期限将至 / Escalation window closing"),
        text: format!(
            "你的售后申请 {claim_no}（订单 {order_no}）未获解决。如不认可商家的处理，可在 {closes} 前申请平台介入：{link}\n\n\
             Your claim {claim_no} (order {order_no}) was not resolved. If you disagree with the merchant, ask the \
             platform to step in before {closes}: {link}"
        ),
    }
}

/// The low-stock alert to a shop's owner: which product, how many are left, the threshold crossed and where to add
/// keys. Sent once per crossing, like the `stock.low` webhook.
pub fn stock_low_mail(to: &str, title: &str, product_id: i64, stock: i64, threshold: i64, base: &str) -> Mail {
    let link = link(base, &format!("/console/products/{product_id}"));
    Mail {
        to: to.to_string(),
        subject: format!("卡保库存提醒：{title} 仅剩 {stock} 件 / Low stock"),
        text: format!(
            "你的商品「{title}」库存已降到 {stock} 件，低于你设置的提醒值 {threshold}。请及时补充卡密：{link}\n\
             补货后库存回到提醒值以上，下次再低于提醒值时会再提醒一次；提醒值可在该页修改（0 为不提醒）。\n\n\
             Your product \"{title}\" is down to {stock} in stock, below your alert threshold of {threshold}. Add keys \
             here: {link}\nAfter a restock above the threshold you will be told again the next time it falls below; \
             change the threshold on that page (0: never)."
        ),
    }
}

/// A change to what protects an account; each one is mailed to the account so that a change its owner did not
/// make is noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityChange {
    PasswordChanged,
    PasswordReset,
    TotpEnabled,
    TotpDisabled,
    RecoveryCodesRenewed,
    RecoveryCodeUsed,
    SignedOutEverywhere,
    EmailChanged,
    /// `kabao admin reset-totp`: the operator removed the second factor and ended every session.
    TotpReset,
}

impl SecurityChange {
    fn words(self) -> (&'static str, &'static str) {
        match self {
            SecurityChange::PasswordChanged => ("你的登录密码已修改", "your password was changed"),
            SecurityChange::PasswordReset => {
                ("你的登录密码已通过邮件链接重置", "your password was reset by an emailed link")
            }
            SecurityChange::TotpEnabled => ("你的账号已开启两步验证", "two-step verification was turned on"),
            SecurityChange::TotpDisabled => ("你的账号已关闭两步验证", "two-step verification was turned off"),
            SecurityChange::RecoveryCodesRenewed => (
                "你的恢复码已重新生成，旧恢复码全部失效",
                "your recovery codes were renewed; the old ones no longer work",
            ),
            SecurityChange::RecoveryCodeUsed => {
                ("有人使用一枚恢复码登录了你的账号", "a recovery code was used to sign in")
            }
            SecurityChange::SignedOutEverywhere => {
                ("你的账号已在所有设备上退出登录", "your account was signed out everywhere")
            }
            SecurityChange::EmailChanged => ("你的账号邮箱已修改", "the email address of your account was changed"),
            SecurityChange::TotpReset => (
                "平台运营人员已移除你的两步验证，并让你在所有设备上退出登录",
                "the platform's operator removed your two-step verification and signed you out everywhere",
            ),
        }
    }
}

/// The link that proves an address belongs to an account (valid `hours`).
pub fn verify_email_mail(to: &str, username: &str, token: &str, hours: i64, base: &str) -> Mail {
    let link = link(base, &format!("/account/verify-email?token={token}"));
    Mail {
        to: to.to_string(),
        subject: "卡保：请验证你的邮箱 / Verify your email address".into(),
        text: format!(
            "{username}，你好：\n请在 {hours} 小时内打开以下链接验证你的邮箱（只能使用一次）：\n{link}\n\
             如果你没有在卡保注册或修改邮箱，请忽略本邮件。\n\n\
             Hello {username}: open this link within {hours} hours to verify your email address (it works once):\n\
             {link}\nIf you did not sign up at Kabao or change your address, ignore this mail."
        ),
    }
}

/// The password reset link (valid `minutes`, single use).
pub fn password_reset_mail(to: &str, username: &str, token: &str, minutes: i64, base: &str) -> Mail {
    let link = link(base, &format!("/password/reset?token={token}"));
    Mail {
        to: to.to_string(),
        subject: "卡保：重置密码 / Reset your password".into(),
        text: format!(
            "{username}，你好：\n有人请求重置你的卡保账号密码。请在 {minutes} 分钟内打开以下链接设置新密码（只能使用一次）：\n\
             {link}\n如果这不是你本人的请求，请忽略本邮件，你的密码不会改变。\n\n\
             Hello {username}: someone asked to reset the password of your Kabao account. Open this link within \
             {minutes} minutes to set a new password (it works once):\n{link}\nIf this was not you, ignore this \
             mail; your password stays as it is."
        ),
    }
}

/// The notice of a security change, in Chinese with English, with the time and where to act if it was not the
/// account's owner.
pub fn security_change_mail(to: &str, username: &str, change: SecurityChange, when: &str, base: &str) -> Mail {
    let (zh, en) = change.words();
    let link = link(base, "/account/security");
    Mail {
        to: to.to_string(),
        subject: format!("卡保账号安全提醒：{zh} / Account security notice"),
        text: format!(
            "{username}，你好：\n{zh}（{when}）。\n如果这不是你本人的操作，请立即重置密码并在 {link} 退出所有设备。\n\n\
             Hello {username}: {en} ({when}).\nIf this was not you, reset your password now and sign out \
             everywhere at {link}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_mails_link_the_order_and_never_carry_keys() {
        let m = delivery_mail("a@example.com", "K123", "https://kabao.example/");
        assert!(m.text.contains("https://kabao.example/o/K123"));
        assert!(m.subject.contains("K123"));
    }

    #[test]
    fn security_notices_name_the_change_and_link_the_security_page() {
        let m = security_change_mail(
            "a@example.com",
            "alice",
            SecurityChange::TotpDisabled,
            "2026-12-07 10:00",
            "https://kabao.example",
        );
        assert!(m.subject.contains("安全提醒"));
        assert!(m.text.contains("关闭两步验证") && m.text.contains("turned off"));
        assert!(m.text.contains("https://kabao.example/account/security"));
    }

    #[tokio::test]
    async fn file_mailer_writes_one_file_per_mail() {
        let dir = std::env::temp_dir().join(format!("kabao-mail-{}", rand::random::<u64>()));
        let m = FileMailer { dir: dir.clone() };
        m.send(&delivery_mail("a@example.com", "K1", "http://localhost")).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn smtp_urls_are_checked() {
        assert!(SmtpMailer::new("not a url", "shop@example.com", None).is_err());
        assert!(SmtpMailer::new("smtps://u:p@smtp.example.com:465", "not an address", None).is_err());
        assert!(SmtpMailer::new("smtp://localhost:25", "shop@example.com", Some(b"not a pem")).is_err());
    }

    #[test]
    fn smtp_urls_say_their_host_and_tls_mode() {
        let t = |u: &str| smtp_host_and_tls(u);
        assert_eq!(t("smtps://u:p@mail.example.com:465"), Some(("mail.example.com".into(), SmtpTls::Implicit)));
        assert_eq!(t("smtp://u:p@[::1]:587?tls=required"), Some(("::1".into(), SmtpTls::StartTlsRequired)));
        assert_eq!(t("smtp://127.0.0.1:25"), Some(("127.0.0.1".into(), SmtpTls::None)));
        assert_eq!(t("smtp://h:1?tls=opportunistic"), Some(("h".into(), SmtpTls::StartTlsOpportunistic)));
        assert_eq!(t("http://h"), None);
    }

    #[test]
    fn stock_low_mails_link_the_products_key_page_in_both_languages() {
        let m = stock_low_mail("m@example.com", "点卡 10 元", 42, 4, 5, "https://kabao.example/");
        assert!(m.text.contains("https://kabao.example/console/products/42"));
        assert!(m.subject.contains("点卡 10 元") && m.subject.contains("Low stock"));
        assert!(m.text.contains("库存已降到 4 件") && m.text.contains("down to 4 in stock"));
        assert!(m.text.contains("提醒值 5") && m.text.contains("threshold of 5"));
    }

    #[test]
    fn account_links_are_absolute_and_bilingual() {
        let m = password_reset_mail("a@example.com", "alice", "TOKEN", 30, "https://kabao.example/");
        assert!(m.text.contains("https://kabao.example/password/reset?token=TOKEN"));
        assert!(m.text.contains("30 分钟") && m.text.contains("30 minutes"));
        let v = verify_email_mail("a@example.com", "alice", "T2", 24, "https://kabao.example");
        assert!(v.text.contains("https://kabao.example/account/verify-email?token=T2"));
    }
}
