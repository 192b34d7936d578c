//! Certification (店铺认证): what a merchant gives to be verified (实名认证) or an enterprise (企业店铺), checked
//! before an admin sees it. Gold (金牌卖家) is not applied for: it is granted from the record (see `trust`).
//!
//! Id numbers are checked by their check digit, so a typo is caught at once, and are only ever kept masked and
//! fingerprinted by the server.

use crate::catalog::CertificationLevel;
use crate::i18n::{Lang, Localized};

/// Why an application was refused; each names its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificationError {
    #[error("level cannot be applied for")]
    Level,
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("too long {0}")]
    TooLong(&'static str),
    #[error("invalid id number")]
    IdNumber,
    #[error("invalid credit code")]
    CreditCode,
    #[error("invalid phone")]
    Phone,
}

impl Localized for CertificationError {
    fn code(&self) -> &'static str {
        match self {
            CertificationError::Level => "certification.level",
            CertificationError::Missing(_) => "certification.missing",
            CertificationError::TooLong(_) => "certification.too_long",
            CertificationError::IdNumber => "certification.id_number",
            CertificationError::CreditCode => "certification.credit_code",
            CertificationError::Phone => "certification.phone",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            CertificationError::Level => "level",
            CertificationError::Missing(f) | CertificationError::TooLong(f) => f,
            CertificationError::IdNumber => "id_number",
            CertificationError::CreditCode => "credit_code",
            CertificationError::Phone => "phone",
        })
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            CertificationError::Level => lang
                .pick(
                    "只能申请实名认证或企业店铺；金牌卖家由平台按记录自动授予",
                    "Apply for verified or enterprise; gold is granted from the record",
                )
                .into(),
            CertificationError::Missing(f) => match lang {
                Lang::Zh => format!("请填写{}", field_label(f, lang)),
                Lang::En => format!("{} is required", field_label(f, lang)),
            },
            CertificationError::TooLong(f) => match lang {
                Lang::Zh => format!("{}最多 {MAX_NAME_CHARS} 字", field_label(f, lang)),
                Lang::En => format!("{} is at most {MAX_NAME_CHARS} characters", field_label(f, lang)),
            },
            CertificationError::IdNumber => lang
                .pick(
                    "身份证号码无效（18 位，末位校验码不符）",
                    "Invalid ID card number (18 characters, check digit mismatch)",
                )
                .into(),
            CertificationError::CreditCode => lang
                .pick(
                    "统一社会信用代码无效（18 位，末位校验码不符）",
                    "Invalid unified social credit code (18 characters, check digit mismatch)",
                )
                .into(),
            CertificationError::Phone => {
                lang.pick("手机号码无效（11 位，1 开头）", "Invalid mobile number (11 digits starting with 1)").into()
            }
        }
    }
}

/// The longest name accepted.
pub const MAX_NAME_CHARS: usize = 60;

fn field_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "real_name" => lang.pick("真实姓名", "Real name"),
        "company_name" => lang.pick("企业名称", "Company name"),
        "legal_person" => lang.pick("法定代表人", "Legal representative"),
        _ => lang.pick("该项", "This field"),
    }
}

/// What a merchant submits, by field.
#[derive(Debug, Clone, Default)]
pub struct ApplicationInput {
    pub level: String,
    pub real_name: String,
    pub id_number: String,
    pub company_name: String,
    pub credit_code: String,
    pub legal_person: String,
    pub phone: String,
}

/// A checked application. `id_number` is the 身份证号 (verified) or the 统一社会信用代码 (enterprise), in
/// canonical form (upper case); the server keeps it only masked and fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub level: CertificationLevel,
    /// Real name (verified) or company name (enterprise).
    pub name: String,
    /// Enterprise: the legal representative.
    pub legal_person: Option<String>,
    pub phone: String,
    pub id_number: String,
}

impl Application {
    /// The id number with all but its first 3 and last 4 characters hidden.
    pub fn id_masked(&self) -> String {
        mask(&self.id_number)
    }
}

fn name(s: &str, field: &'static str) -> Result<String, CertificationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(CertificationError::Missing(field));
    }
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(CertificationError::TooLong(field));
    }
    Ok(s.to_string())
}

/// Checks an application for the level it names.
pub fn parse(input: &ApplicationInput) -> Result<Application, CertificationError> {
    let level = match CertificationLevel::parse(input.level.trim()) {
        Some(l @ (CertificationLevel::Verified | CertificationLevel::Enterprise)) => l,
        _ => return Err(CertificationError::Level),
    };
    let phone = input.phone.trim();
    if !is_mobile(phone) {
        return Err(CertificationError::Phone);
    }
    match level {
        CertificationLevel::Enterprise => {
            let company = name(&input.company_name, "company_name")?;
            let legal = name(&input.legal_person, "legal_person")?;
            let code = input.credit_code.trim().to_ascii_uppercase();
            if !is_credit_code(&code) {
                return Err(CertificationError::CreditCode);
            }
            Ok(Application { level, name: company, legal_person: Some(legal), phone: phone.into(), id_number: code })
        }
        _ => {
            let real = name(&input.real_name, "real_name")?;
            let id = input.id_number.trim().to_ascii_uppercase();
            if !is_id_number(&id) {
                return Err(CertificationError::IdNumber);
            }
            Ok(Application { level, name: real, legal_person: None, phone: phone.into(), id_number: id })
        }
    }
}

/// An 11-digit mainland mobile number.
pub fn is_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b.first() == Some(&b'1')
        && b.get(1).is_some_and(|d| (b'3'..=b'9').contains(d))
}

/// An 18-character resident ID number (GB 11643) whose check character matches.
pub fn is_id_number(s: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = s.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let mut sum = 0u32;
    for (c, w) in b.iter().zip(WEIGHTS) {
        if !c.is_ascii_digit() {
            return false;
        }
        sum += u32::from(c - b'0') * w;
    }
    CHECK.get((sum % 11) as usize) == b.get(17)
}

/// An 18-character unified social credit code (GB 32100) whose check character matches.
pub fn is_credit_code(s: &str) -> bool {
    const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let b = s.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let value = |c: &u8| CHARSET.iter().position(|x| x == c).map(|p| p as u32);
    let mut sum = 0u32;
    for (c, w) in b.iter().zip(WEIGHTS) {
        match value(c) {
            Some(v) => sum += v * w,
            None => return false,
        }
    }
    let check = (31 - sum % 31) % 31;
    CHARSET.get(check as usize) == b.get(17)
}

/// All but the first 3 and last 4 characters replaced by `*`.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    s.chars().enumerate().map(|(i, c)| if i < 3 || i + 4 >= n { c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published-format samples: the check characters follow from the standards' weights.
    const ID: &str = "11010519491231002X";
    const CREDIT: &str = "91350100M000100Y43";

    fn verified() -> ApplicationInput {
        ApplicationInput {
            level: "verified".into(),
            real_name: "张三".into(),
            id_number: ID.to_lowercase(),
            phone: "13800138000".into(),
            ..Default::default()
        }
    }

    #[test]
    fn id_numbers_are_checked_by_their_check_character() {
        assert!(is_id_number(ID));
        assert!(!is_id_number("110105194912310021"), "wrong check character");
        assert!(!is_id_number("11010519491231002"), "too short");
        assert!(is_credit_code(CREDIT));
        assert!(!is_credit_code("91350100M000100Y44"));
        assert!(!is_credit_code("91350100M000100YI3"), "I is not in the charset");
    }

    #[test]
    fn a_verified_application_needs_name_valid_id_and_phone() {
        let a = parse(&verified()).unwrap();
        assert_eq!((a.level, a.name.as_str(), a.id_number.as_str()), (CertificationLevel::Verified, "张三", ID));
        assert_eq!(a.id_masked(), "110***********002X");
        assert_eq!(
            parse(&ApplicationInput { real_name: " ".into(), ..verified() }),
            Err(CertificationError::Missing("real_name"))
        );
        assert_eq!(
            parse(&ApplicationInput { id_number: "110105194912310021".into(), ..verified() }),
            Err(CertificationError::IdNumber)
        );
        assert_eq!(parse(&ApplicationInput { phone: "12345".into(), ..verified() }), Err(CertificationError::Phone));
    }

    #[test]
    fn an_enterprise_application_needs_company_code_and_legal_person() {
        let input = ApplicationInput {
            level: "enterprise".into(),
            company_name: "某某网络科技有限公司".into(),
            credit_code: CREDIT.into(),
            legal_person: "李四".into(),
            phone: "13900139000".into(),
            ..Default::default()
        };
        let a = parse(&input).unwrap();
        assert_eq!((a.level, a.legal_person.as_deref()), (CertificationLevel::Enterprise, Some("李四")));
        assert_eq!(
            parse(&ApplicationInput { credit_code: "123".into(), ..input.clone() }),
            Err(CertificationError::CreditCode)
        );
        assert_eq!(
            parse(&ApplicationInput { legal_person: "".into(), ..input }),
            Err(CertificationError::Missing("legal_person"))
        );
    }

    #[test]
    fn gold_and_none_cannot_be_applied_for() {
        for level in ["gold", "none", "platinum"] {
            assert_eq!(parse(&ApplicationInput { level: level.into(), ..verified() }), Err(CertificationError::Level));
        }
    }
}
