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
    #[error("password too easy to guess: {0:?}")]
    PasswordWeak(WeakReason),
    #[error("password equals the username")]
    PasswordIsUsername,
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
            AccountError::PasswordWeak(_) => "account.password_weak",
            AccountError::PasswordIsUsername => "account.password_is_username",
            AccountError::Role => "account.role_invalid",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            AccountError::UsernameLength | AccountError::UsernameChars => "username",
            AccountError::Email => "email",
            AccountError::PasswordTooShort
            | AccountError::PasswordTooLong
            | AccountError::PasswordWeak(_)
            | AccountError::PasswordIsUsername => "password",
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
                lang.pick("密码至少需要 10 个字符", "Password must be at least 10 characters")
            }
            AccountError::PasswordWeak(reason) => {
                return match lang {
                    Lang::Zh => format!("密码太容易被猜到：{}。请换一个更长、更少见的密码，例如几个不相关的词组合", reason.words(lang)),
                    Lang::En => format!(
                        "This password is too easy to guess: {}. Pick a longer, less common one, such as a few unrelated words",
                        reason.words(lang)
                    ),
                }
            }
            AccountError::PasswordIsUsername => {
                lang.pick("密码不能与用户名相同", "The password must not be the username")
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

/// Why the strength estimator found a password too easy to guess (zxcvbn's feedback, in our words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakReason {
    KeyboardPattern,
    Repeats,
    CommonPassword,
    SimilarToCommon,
    Sequence,
    Dates,
    SingleWord,
    Names,
    /// No specific warning: it is simply guessable (short, or built from the name or email).
    Generic,
}

impl WeakReason {
    fn from_warning(w: Option<zxcvbn::feedback::Warning>) -> WeakReason {
        use zxcvbn::feedback::Warning as W;
        match w {
            Some(W::StraightRowsOfKeysAreEasyToGuess | W::ShortKeyboardPatternsAreEasyToGuess) => {
                WeakReason::KeyboardPattern
            }
            Some(W::RepeatsLikeAaaAreEasyToGuess | W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess) => {
                WeakReason::Repeats
            }
            Some(W::ThisIsATop10Password | W::ThisIsATop100Password | W::ThisIsACommonPassword) => {
                WeakReason::CommonPassword
            }
            Some(W::ThisIsSimilarToACommonlyUsedPassword) => WeakReason::SimilarToCommon,
            Some(W::SequencesLikeAbcAreEasyToGuess) => WeakReason::Sequence,
            Some(W::RecentYearsAreEasyToGuess | W::DatesAreOftenEasyToGuess) => WeakReason::Dates,
            Some(W::AWordByItselfIsEasyToGuess) => WeakReason::SingleWord,
            Some(W::NamesAndSurnamesByThemselvesAreEasyToGuess | W::CommonNamesAndSurnamesAreEasyToGuess) => {
                WeakReason::Names
            }
            None => WeakReason::Generic,
        }
    }

    pub fn words(self, lang: Lang) -> &'static str {
        match self {
            WeakReason::KeyboardPattern => {
                lang.pick("键盘上连续的按键很容易被猜到", "keyboard patterns are easy to guess")
            }
            WeakReason::Repeats => {
                lang.pick("重复的字符或片段很容易被猜到", "repeated characters or chunks are easy to guess")
            }
            WeakReason::CommonPassword => lang.pick("这是一个非常常见的密码", "this is a very common password"),
            WeakReason::SimilarToCommon => lang.pick("它和常用密码很相似", "it is similar to a commonly used password"),
            WeakReason::Sequence => {
                lang.pick("abc、6543 这样的序列很容易被猜到", "sequences like abc or 6543 are easy to guess")
            }
            WeakReason::Dates => lang.pick("年份和日期很容易被猜到", "years and dates are easy to guess"),
            WeakReason::SingleWord => lang.pick("单个词语很容易被猜到", "a single word is easy to guess"),
            WeakReason::Names => lang.pick("人名和姓氏很容易被猜到", "names and surnames are easy to guess"),
            WeakReason::Generic => lang.pick(
                "它太短或太常见，或者包含了你的用户名或邮箱",
                "it is too short or too common, or built from your username or email",
            ),
        }
    }
}

/// Checks a new password against the policy: 10–128 characters, not the username (case-insensitive), and
/// judged hard enough to guess by zxcvbn (score ≥ 3, i.e. more than 10^8 guesses), with the username and the
/// email given to it as words an attacker would try first.
pub fn check_new_password(password: &str, username: &str, email: Option<&str>) -> Result<(), AccountError> {
    let n = password.chars().count();
    if n < 10 {
        return Err(AccountError::PasswordTooShort);
    }
    if n > 128 {
        return Err(AccountError::PasswordTooLong);
    }
    if password.trim().to_lowercase() == username.trim().to_lowercase() {
        return Err(AccountError::PasswordIsUsername);
    }
    let mut inputs = vec![username.trim()];
    if let Some(email) = email {
        inputs.push(email.trim());
        if let Some((local, _)) = email.trim().split_once('@') {
            inputs.push(local);
        }
    }
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) >= 3 {
        Ok(())
    } else {
        Err(AccountError::PasswordWeak(WeakReason::from_warning(estimate.feedback().and_then(|f| f.warning()))))
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
        assert_eq!(check_new_password("short", "alice", None), Err(AccountError::PasswordTooShort));
        assert_eq!(check_new_password("abcdefghi", "alice", None), Err(AccountError::PasswordTooShort));
        assert!(check_new_password("卡保的密码真难猜测呀嗯", "alice", None).is_ok());
        assert!(check_new_password("kabao-demo-2026", "demo_buyer", None).is_ok());
        assert_eq!(check_new_password(&"x".repeat(129), "alice", None), Err(AccountError::PasswordTooLong));
        assert!(check_new_password("violet tractor umbrella", "alice", Some("alice@example.com")).is_ok());
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        assert_eq!(
            check_new_password("password123", "alice", None),
            Err(AccountError::PasswordWeak(WeakReason::CommonPassword))
        );
        assert_eq!(
            check_new_password("aaaaaaaaaaaa", "alice", None),
            Err(AccountError::PasswordWeak(WeakReason::Repeats))
        );
        let e = check_new_password("password123", "alice", None).unwrap_err();
        assert_eq!(e.code(), "account.password_weak");
        assert_eq!(e.field(), Some("password"));
        assert!(e.message(Lang::Zh).contains("非常常见"), "{}", e.message(Lang::Zh));
        assert!(e.message(Lang::En).contains("very common"), "{}", e.message(Lang::En));
        // The name and email count as words an attacker tries first.
        assert!(check_new_password("kirin_dragon_forge!", "alice", None).is_ok());
        assert!(matches!(
            check_new_password("kirin_dragon_forge!", "kirin_dragon_forge", None),
            Err(AccountError::PasswordWeak(_))
        ));
        assert!(check_new_password("tangerine-kiln-41!", "alice", None).is_ok());
        assert!(matches!(
            check_new_password("tangerine-kiln-41!", "alice", Some("tangerine-kiln-41@example.com")),
            Err(AccountError::PasswordWeak(_))
        ));
    }

    #[test]
    fn password_equal_to_the_username_is_refused() {
        assert_eq!(
            check_new_password("Purple-Otter-9431", "purple-otter-9431", None),
            Err(AccountError::PasswordIsUsername)
        );
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
