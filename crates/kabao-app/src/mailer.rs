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

/// SMTP through lettre, from a URL such as `smtps://user:password@smtp.example.com:465`.
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, MailError> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Invalid(e.to_string()))?
            .build();
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

/// The delivery mail for an order, in Chinese with English.
pub fn delivery_mail(to: &str, order_no: &str, public_url: Option<&str>) -> Mail {
    let link = format!("{}/o/{order_no}", public_url.unwrap_or("").trim_end_matches('/'));
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
pub fn escalation_reminder_mail(
    to: &str,
    order_no: &str,
    claim_no: &str,
    closes: &str,
    public_url: Option<&str>,
) -> Mail {
    let link = format!("{}/o/{order_no}/claims/{claim_no}", public_url.unwrap_or("").trim_end_matches('/'));
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
        }
    }
}

/// The notice of a security change, in Chinese with English, with the time and where to act if it was not the
/// account's owner.
pub fn security_change_mail(
    to: &str,
    username: &str,
    change: SecurityChange,
    when: &str,
    public_url: Option<&str>,
) -> Mail {
    let (zh, en) = change.words();
    let link = format!("{}/account/security", public_url.unwrap_or("").trim_end_matches('/'));
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
        let m = delivery_mail("a@example.com", "K123", Some("https://kabao.example/"));
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
            Some("https://kabao.example"),
        );
        assert!(m.subject.contains("安全提醒"));
        assert!(m.text.contains("关闭两步验证") && m.text.contains("turned off"));
        assert!(m.text.contains("https://kabao.example/account/security"));
    }

    #[tokio::test]
    async fn file_mailer_writes_one_file_per_mail() {
        let dir = std::env::temp_dir().join(format!("kabao-mail-{}", rand::random::<u64>()));
        let m = FileMailer { dir: dir.clone() };
        m.send(&delivery_mail("a@example.com", "K1", None)).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn smtp_urls_are_checked() {
        assert!(SmtpMailer::new("not a url", "shop@example.com").is_err());
        assert!(SmtpMailer::new("smtps://u:p@smtp.example.com:465", "not an address").is_err());
    }
}
