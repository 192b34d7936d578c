//! Where a merchant's withdrawals are paid: an Alipay account or a bank card, each with the holder's name.
//! Parsed once (parse, don't validate) and shown masked everywhere except the platform's payout page.

use crate::i18n::{Lang, Localized};
use serde::{Deserialize, Serialize};

/// How a payee is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayeeKind {
    Alipay,
    Bank,
}

impl PayeeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayeeKind::Alipay => "alipay",
            PayeeKind::Bank => "bank",
        }
    }
    pub fn parse(s: &str) -> Option<PayeeKind> {
        [PayeeKind::Alipay, PayeeKind::Bank].into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            PayeeKind::Alipay => lang.pick("支付宝", "Alipay"),
            PayeeKind::Bank => lang.pick("银行卡", "Bank card"),
        }
    }
}

/// Why payee details were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayeeError {
    #[error("unknown payee kind")]
    Kind,
    #[error("Alipay account is neither a mobile number nor an email address")]
    AlipayAccount,
    #[error("bank card number invalid")]
    CardNumber,
    #[error("bank name invalid")]
    BankName,
    #[error("holder name invalid")]
    Name,
}

impl Localized for PayeeError {
    fn code(&self) -> &'static str {
        match self {
            PayeeError::Kind => "payee.kind_invalid",
            PayeeError::AlipayAccount => "payee.alipay_account_invalid",
            PayeeError::CardNumber => "payee.card_number_invalid",
            PayeeError::BankName => "payee.bank_name_invalid",
            PayeeError::Name => "payee.name_invalid",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            PayeeError::Kind => "kind",
            PayeeError::AlipayAccount | PayeeError::CardNumber => "account",
            PayeeError::BankName => "bank_name",
            PayeeError::Name => "name",
        })
    }
    fn message(&self, lang: Lang) -> String {
        let text = match self {
            PayeeError::Kind => lang.pick("收款方式须为支付宝或银行卡", "The payee kind must be alipay or bank"),
            PayeeError::AlipayAccount => lang.pick(
                "支付宝账号须为 11 位手机号或邮箱地址",
                "The Alipay account must be an 11-digit mobile number or an email address",
            ),
            PayeeError::CardNumber => lang.pick(
                "银行卡号须为 16–19 位数字且校验位正确，请核对",
                "The bank card number must be 16–19 digits with a valid check digit; please check it",
            ),
            PayeeError::BankName => lang.pick("开户银行需为 2–40 个字符", "The bank name must be 2–40 characters"),
            PayeeError::Name => lang.pick(
                "收款人姓名需为 2–30 个字符，不含数字和符号",
                "The holder's name must be 2–30 characters, without digits or symbols",
            ),
        };
        text.to_string()
    }
}

/// Valid payee details. Fields are normalised: spaces removed from numbers, names trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayeeDetails {
    kind: PayeeKind,
    account: String,
    name: String,
    bank_name: Option<String>,
}

impl PayeeDetails {
    /// Parses a payee from form or API fields. `bank_name` is required for a bank card and ignored otherwise.
    pub fn parse(kind: &str, account: &str, name: &str, bank_name: &str) -> Result<PayeeDetails, PayeeError> {
        let kind = PayeeKind::parse(kind.trim()).ok_or(PayeeError::Kind)?;
        let (account, bank_name) = match kind {
            PayeeKind::Alipay => (parse_alipay_account(account)?, None),
            PayeeKind::Bank => (parse_card_number(account)?, Some(parse_bank_name(bank_name)?)),
        };
        Ok(PayeeDetails { kind, account, name: parse_name(name)?, bank_name })
    }

    pub fn kind(&self) -> PayeeKind {
        self.kind
    }
    /// The Alipay account or the card number, in full (for storage and the payout page only).
    pub fn account(&self) -> &str {
        &self.account
    }
    /// The real name on the Alipay account or the card holder's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn bank_name(&self) -> Option<&str> {
        self.bank_name.as_deref()
    }
}

/// A mainland mobile number (11 digits starting 1[3-9]) or an email address, lower-cased.
fn parse_alipay_account(s: &str) -> Result<String, PayeeError> {
    let compact: String = s.trim().chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if is_mobile(&compact) {
        return Ok(compact);
    }
    let email = s.trim().to_lowercase();
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && email.len() <= 100
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && email.chars().all(|c| c.is_ascii_alphanumeric() || "@._+-".contains(c))
        }
        None => false,
    };
    if ok {
        Ok(email)
    } else {
        Err(PayeeError::AlipayAccount)
    }
}

fn is_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b.first() == Some(&b'1')
        && b.get(1).is_some_and(|d| *d >= b'3')
}

/// 16–19 digits (spaces allowed between groups) passing the Luhn check, which every UnionPay card carries: a
/// typo in one digit, or two swapped neighbours, is caught before money is sent to a stranger's card.
fn parse_card_number(s: &str) -> Result<String, PayeeError> {
    let digits: String = s.trim().chars().filter(|c| *c != ' ').collect();
    if !(16..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || !luhn(&digits) {
        return Err(PayeeError::CardNumber);
    }
    Ok(digits)
}

/// The Luhn check digit test over ASCII digits.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b.wrapping_sub(b'0'));
        if d > 9 {
            return false;
        }
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

fn parse_bank_name(s: &str) -> Result<String, PayeeError> {
    let s = s.trim();
    let n = s.chars().count();
    if !(2..=40).contains(&n) || s.chars().any(char::is_control) {
        return Err(PayeeError::BankName);
    }
    Ok(s.to_string())
}

/// A person's name: letters (any script), spaces and the middle dots of transliterated names (·, •, .).
fn parse_name(s: &str) -> Result<String, PayeeError> {
    let s = s.trim();
    let n = s.chars().count();
    let ok = (2..=30).contains(&n) && s.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '·' | '•' | '.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(PayeeError::Name)
    }
}

/// An account shown to anyone but the platform's payout team: `138****5678`, `z***@example.com`, `****1234`.
pub fn mask_account(kind: PayeeKind, account: &str) -> String {
    let chars: Vec<char> = account.chars().collect();
    let tail = |n: usize| chars.iter().skip(chars.len().saturating_sub(n)).collect::<String>();
    match kind {
        PayeeKind::Bank => format!("****{}", tail(4)),
        PayeeKind::Alipay => match account.split_once('@') {
            Some((local, domain)) => {
                format!("{}***@{domain}", local.chars().next().map(String::from).unwrap_or_default())
            }
            None if chars.len() >= 11 => format!("{}****{}", chars.iter().take(3).collect::<String>(), tail(4)),
            None => "****".to_string(),
        },
    }
}

/// A name shown masked: the first character, the rest as `*` (张三 → 张*, 欧阳娜娜 → 欧***).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn alipay_accounts_are_mobile_numbers_or_email_addresses() {
        let p = |a: &str| PayeeDetails::parse("alipay", a, "张三", "").map(|d| d.account().to_string());
        assert_eq!(p(" 138 1234 5678 "), Ok("13812345678".into()));
        assert_eq!(p("Seller@Example.COM"), Ok("seller@example.com".into()));
        for bad in ["12812345678", "1381234567", "seller@", "@example.com", "seller@example", "a b@x.cn", "微信号"] {
            assert_eq!(p(bad), Err(PayeeError::AlipayAccount), "{bad}");
        }
    }

    #[test]
    fn bank_cards_need_sixteen_to_nineteen_digits_passing_luhn_and_a_bank() {
        let p = |c: &str, bank: &str| PayeeDetails::parse("bank", c, "李四", bank);
        let ok = p("6222 0212 3456 7894", "工商银行").unwrap();
        assert_eq!((ok.account(), ok.bank_name()), ("6222021234567894", Some("工商银行")));
        assert_eq!(p("6222021234567895", "工商银行"), Err(PayeeError::CardNumber), "wrong check digit");
        assert_eq!(p("6222021234567984", "工商银行"), Err(PayeeError::CardNumber), "swapped neighbours");
        assert_eq!(p("622202123456789", "工商银行"), Err(PayeeError::CardNumber), "15 digits");
        assert_eq!(p("62220212345678a4", "工商银行"), Err(PayeeError::CardNumber));
        assert_eq!(p("6222021234567894", " "), Err(PayeeError::BankName));
    }

    #[test]
    fn names_are_letters_and_kind_must_be_known() {
        assert_eq!(PayeeDetails::parse("alipay", "13812345678", "张", ""), Err(PayeeError::Name));
        assert_eq!(PayeeDetails::parse("alipay", "13812345678", "张三3", ""), Err(PayeeError::Name));
        assert!(PayeeDetails::parse("alipay", "13812345678", "买买提·艾力", "").is_ok());
        assert_eq!(PayeeDetails::parse("wechat", "13812345678", "张三", ""), Err(PayeeError::Kind));
        assert_eq!(PayeeError::CardNumber.field(), Some("account"));
    }

    #[test]
    fn display_masks_account_and_name() {
        assert_eq!(mask_account(PayeeKind::Alipay, "13812345678"), "138****5678");
        assert_eq!(mask_account(PayeeKind::Alipay, "seller@example.com"), "s***@example.com");
        assert_eq!(mask_account(PayeeKind::Bank, "6222021234567894"), "****7894");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
    }

    proptest! {
        /// Any single-digit change to a valid card number is refused, and a masked card never shows more than
        /// its last four digits.
        #[test]
        fn luhn_catches_every_single_digit_typo(pos in 0usize..16, delta in 1u8..10) {
            let good = "6222021234567894";
            let mut bytes = good.as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(!luhn(&typo));
            prop_assert_eq!(mask_account(PayeeKind::Bank, good).matches(char::is_numeric).count(), 4);
        }
    }
}
