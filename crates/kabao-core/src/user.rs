//! Accounts: roles, usernames, emails and the password policy.
//! Values are parsed once at the edge into types that can only hold valid data.

use crate::i18n::{Lang, Localized};
use serde::{Deserialize, Serialize};

/// What a user may do. A user has exactly one role; a merchant can also buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Buyer,
    Merchant,
    Arbiter,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Buyer, Role::Merchant, Role::Arbiter, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Merchant => "merchant",
            Role::Arbiter => "arbiter",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Role::Buyer => lang.pick("买家", "Buyer"),
            Role::Merchant => lang.pick("商家", "Merchant"),
            Role::Arbiter => lang.pick("仲裁员", "Arbiter"),
            Role::Admin => lang.pick("管理员", "Admin"),
        }
    }
    /// Roles a person may pick when registering; staff roles are granted, never chosen.
    pub fn self_service(self) -> bool {
        matches!(self, Role::Buyer | Role::Merchant)
    }
}

/// Why account input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("username must be 3-32 characters")]
    UsernameLength,
    #[error("username has characters other than letters, digits, _ and -")]
    UsernameChars,
    #[error("email is not a valid address")]
    Email,
    #[error("password too short")]
    PasswordTooShort,
    #[error("password too long")]
    PasswordTooLong,
    #[error("role cannot be chosen")]
    Role,
}

impl Localized for AccountError {
    fn code(&self) -> &'static str {
        match self {
            AccountError::UsernameLength => "account.username_length",
            AccountError::UsernameChars => "account.username_chars",
            AccountError::Email => "account.email_invalid",
            AccountError::PasswordTooShort => "account.password_too_short",
            AccountError::PasswordTooLong => "account.password_too_long",
            AccountError::Role => "account.role_invalid",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            AccountError::UsernameLength | AccountError::UsernameChars => "username",
            AccountError::Email => "email",
            AccountError::PasswordTooShort | AccountError::PasswordTooLong => "password",
            AccountError::Role => "role",
        })
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            AccountError::UsernameLength => lang.pick("用户名需为 3–32 个字符", "Username must be 3–32 characters"),
            AccountError::UsernameChars => lang.pick(
                "用户名只能包含字母、数字、汉字、下划线和连字符",
                "Username may contain only letters, digits, Chinese characters, _ and -",
            ),
            AccountError::Email => lang.pick("邮箱地址格式不正确", "Email address is not valid"),
            AccountError::PasswordTooShort => {
                lang.pick("密码至少需要 8 个字符", "Password must be at least 8 characters")
            }
            AccountError::PasswordTooLong => {
                lang.pick("密码不能超过 128 个字符", "Password must be at most 128 characters")
            }
            AccountError::Role => lang.pick("只能注册为买家或商家", "You can register only as a buyer or a merchant"),
        }
        .to_string()
    }
}

/// A login name: 3–32 characters of letters (any script), digits, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, AccountError> {
        let s = s.trim();
        let n = s.chars().count();
        if !(3..=32).contains(&n) {
            return Err(AccountError::UsernameLength);
        }
        if !s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            return Err(AccountError::UsernameChars);
        }
        Ok(Username(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = AccountError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}
impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

/// An email address: one `@`, a non-empty local part, a dotted domain, no spaces, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, AccountError> {
        let s = s.trim();
        let Some((local, domain)) = s.split_once('@') else {
            return Err(AccountError::Email);
        };
        let ok = s.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
        if ok {
            Ok(Email(s.to_lowercase()))
        } else {
            Err(AccountError::Email)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = AccountError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}
impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// Checks a new password against the policy (8–128 characters; OWASP ASVS 6.2.1/6.2.9).
pub fn check_new_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if n < 8 {
        Err(AccountError::PasswordTooShort)
    } else if n > 128 {
        Err(AccountError::PasswordTooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("alice_01").is_ok());
        assert!(Username::parse("卡保商家").is_ok());
        assert_eq!(Username::parse("ab"), Err(AccountError::UsernameLength));
        assert_eq!(Username::parse("a<script>"), Err(AccountError::UsernameChars));
        assert_eq!(Username::parse("a b c"), Err(AccountError::UsernameChars));
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(Email::parse(" Bob@Example.COM ").map(|e| e.as_str().to_string()), Ok("bob@example.com".into()));
        for bad in ["bob", "bob@", "@x.com", "bob@localhost", "a b@x.com", "a@b@c.com", "x@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_policy() {
        assert_eq!(check_new_password("short"), Err(AccountError::PasswordTooShort));
        assert!(check_new_password("密码密码密码密码").is_ok());
        assert_eq!(check_new_password(&"x".repeat(129)), Err(AccountError::PasswordTooLong));
    }

    #[test]
    fn only_buyer_and_merchant_are_self_service() {
        assert!(Role::Buyer.self_service() && Role::Merchant.self_service());
        assert!(!Role::Admin.self_service() && !Role::Arbiter.self_service());
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
