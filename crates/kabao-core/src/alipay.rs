//! Alipay's open platform protocol (支付宝开放平台), RSA2: SHA256withRSA (PKCS#1 v1.5) signatures in base64 over a
//! canonical string of the parameters, the common request parameters, and the checks of asynchronous
//! notifications and synchronous answers. Pure: the adapter in `kabao-app` sends and receives.
//!
//! - A request is signed over every parameter but `sign`, empty values left out, sorted by name, `k=v` joined by
//!   `&`, values raw (not URL-encoded).
//! - A notification is signed the same way without `sign` and `sign_type`.
//! - A synchronous answer `{"<method>_response": {…}, "sign": "…"}` is signed over the exact JSON text of the
//!   `<method>_response` member (method dots as underscores), which is therefore taken from the body as sent,
//!   never re-serialised; an `error_response` member is handled the same way.

use crate::payments::NotifyError;
use crate::Timestamp;
use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::value::RawValue;
use sha2::Sha256;
use std::collections::BTreeMap;

/// The only signature type spoken: SHA256withRSA.
pub const SIGN_TYPE: &str = "RSA2";
/// The answer code of a successful call.
pub const CODE_SUCCESS: &str = "10000";

/// A key that does not load. Says which key, never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the app private key is not an RSA private key (PKCS#8 or PKCS#1, PEM or bare base64)")]
    Private,
    #[error("the Alipay public key is not an RSA public key (SPKI, PEM or bare base64)")]
    Public,
}

/// The application's private key, which signs our requests. Its Debug shows nothing of it.
#[derive(Clone)]
pub struct AppKey(SigningKey<Sha256>);

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKey(<redacted>)")
    }
}

impl AppKey {
    /// Loads a private key as the open platform's key tool gives it: PKCS#8 or PKCS#1, PEM or bare base64.
    pub fn parse(text: &str) -> Result<AppKey, KeyError> {
        let text = normalise(text);
        let key = if text.starts_with("-----BEGIN") {
            if text.contains("BEGIN RSA PRIVATE KEY") {
                RsaPrivateKey::from_pkcs1_pem(&text).ok()
            } else {
                RsaPrivateKey::from_pkcs8_pem(&text).ok()
            }
        } else {
            bare_der(&text).and_then(|der| {
                RsaPrivateKey::from_pkcs8_der(&der).ok().or_else(|| RsaPrivateKey::from_pkcs1_der(&der).ok())
            })
        };
        key.map(|k| AppKey(SigningKey::new(k))).ok_or(KeyError::Private)
    }

    /// The base64 RSA2 signature of `content`.
    pub fn sign(&self, content: &str) -> String {
        let signature: Signature = self.0.sign(content.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    }
}

/// A public key that checks signatures (Alipay's, or in tests the application's).
#[derive(Clone, Debug)]
pub struct PublicKey(VerifyingKey<Sha256>);

impl PublicKey {
    /// Loads a public key: SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM, or bare base64.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let text = normalise(text);
        let key = if text.starts_with("-----BEGIN") {
            if text.contains("BEGIN RSA PUBLIC KEY") {
                RsaPublicKey::from_pkcs1_pem(&text).ok()
            } else {
                RsaPublicKey::from_public_key_pem(&text).ok()
            }
        } else {
            bare_der(&text).and_then(|der| {
                RsaPublicKey::from_public_key_der(&der).ok().or_else(|| RsaPublicKey::from_pkcs1_der(&der).ok())
            })
        };
        key.map(|k| PublicKey(VerifyingKey::new(k))).ok_or(KeyError::Public)
    }

    /// Whether `signature` (base64; line breaks tolerated) is an RSA2 signature of `content` by this key.
    pub fn verify(&self, content: &str, signature: &str) -> bool {
        let compact: String = signature.chars().filter(|c| !c.is_whitespace()).collect();
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact) else {
            return false;
        };
        let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
            return false;
        };
        self.0.verify(content.as_bytes(), &signature).is_ok()
    }
}

/// Trims, and turns the two characters `\n` (a PEM squeezed into one line of an environment variable) into a
/// line break.
fn normalise(text: &str) -> String {
    text.trim().replace("\\n", "\n").replace("\r\n", "\n")
}

/// A bare base64 key (the key tool's one-line form) as DER.
fn bare_der(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).ok()
}

/// The canonical string: parameters sorted by name, empty values and the names in `skip` left out, `k=v`
/// joined by `&`, values raw.
pub fn canonical<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)], skip: &[&str]) -> String {
    let mut items: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, v)| !v.is_empty() && !skip.contains(k))
        .collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (i, (k, v)) in items.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The moment as Alipay's `timestamp` wants it: `YYYY-MM-DD HH:MM:SS` in China time (UTC+8).
pub fn format_timestamp(at: Timestamp) -> String {
    crate::time::china_time(at)
}

/// What a request is made of besides the common parameters.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub app_id: &'a str,
    /// `alipay.trade.page.pay`, `alipay.trade.query`, …
    pub method: &'a str,
    pub now: Timestamp,
    pub notify_url: Option<&'a str>,
    pub return_url: Option<&'a str>,
    /// The business parameters as JSON text.
    pub biz_content: &'a str,
}

/// The signed parameters of a request: the common ones (`app_id`, `method`, `format=JSON`, `charset=utf-8`,
/// `sign_type=RSA2`, `timestamp`, `version=1.0`, `notify_url` and `return_url` when given), `biz_content`, and
/// `sign` over all of them.
pub fn signed_params(key: &AppKey, call: &Call<'_>) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        ("app_id".into(), call.app_id.into()),
        ("method".into(), call.method.into()),
        ("format".into(), "JSON".into()),
        ("charset".into(), "utf-8".into()),
        ("sign_type".into(), SIGN_TYPE.into()),
        ("timestamp".into(), format_timestamp(call.now)),
        ("version".into(), "1.0".into()),
    ];
    if let Some(url) = call.notify_url.filter(|u| !u.is_empty()) {
        params.push(("notify_url".into(), url.into()));
    }
    if let Some(url) = call.return_url.filter(|u| !u.is_empty()) {
        params.push(("return_url".into(), url.into()));
    }
    params.push(("biz_content".into(), call.biz_content.into()));
    let sign = key.sign(&canonical(&params, &["sign"]));
    params.push(("sign".into(), sign));
    params
}

/// Checks an asynchronous notification's signature: `sign` over the canonical string without `sign` and
/// `sign_type`; a parameter given twice, a missing sign or a sign type other than RSA2 is refused.
pub fn verify_notify(key: &PublicKey, params: &[(String, String)]) -> Result<(), NotifyError> {
    let mut seen = std::collections::BTreeSet::new();
    if !params.iter().all(|(k, _)| seen.insert(k.as_str())) {
        return Err(NotifyError::Malformed("a parameter is repeated"));
    }
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let sign = get("sign").filter(|s| !s.is_empty()).ok_or(NotifyError::Malformed("sign"))?;
    if get("sign_type").is_some_and(|t| t != SIGN_TYPE) {
        return Err(NotifyError::Malformed("sign_type"));
    }
    if key.verify(&canonical(params, &["sign", "sign_type"]), sign) {
        Ok(())
    } else {
        Err(NotifyError::BadSignature)
    }
}

/// Why a synchronous answer cannot be believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// No signature: Alipay leaves some refusals unsigned (a wrong app id, a bad request signature).
    #[error("unsigned answer (code {code}, {sub_code})")]
    Unsigned { code: String, sub_code: String },
    #[error("answer signature does not match")]
    BadSignature,
}

/// A verified synchronous answer: the member's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub code: String,
    pub msg: String,
    pub sub_code: String,
    pub sub_msg: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        self.code == CODE_SUCCESS
    }
    /// A text field (numbers given as JSON numbers are read as their text).
    pub fn text(&self, name: &str) -> Option<String> {
        match self.fields.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    /// `sub_code sub_msg` (or `code msg` when there is no sub code), for a refusal's reason.
    pub fn reason(&self) -> String {
        if self.sub_code.is_empty() {
            format!("{} {}", self.code, self.msg).trim().to_string()
        } else {
            format!("{} {}", self.sub_code, self.sub_msg).trim().to_string()
        }
    }
}

/// The member name of `method`'s answer: `alipay.trade.query` → `alipay_trade_query_response`.
pub fn response_name(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// Reads and verifies the synchronous answer to `method`: the exact text of its `<method>_response` member (or
/// `error_response`) must carry a good `sign` from `key`. Only then are its fields read.
pub fn verify_answer(key: &PublicKey, method: &str, body: &[u8]) -> Result<Answer, AnswerError> {
    let text = std::str::from_utf8(body).map_err(|_| AnswerError::Malformed("not UTF-8"))?;
    let top: BTreeMap<String, &RawValue> =
        serde_json::from_str(text).map_err(|_| AnswerError::Malformed("not a JSON object"))?;
    let member = top
        .get(&response_name(method))
        .or_else(|| top.get("error_response"))
        .ok_or(AnswerError::Malformed("no response member"))?;
    let raw = member.get();
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|_| AnswerError::Malformed("the response member is not an object"))?;
    let field = |name: &str| match fields.get(name) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let (code, msg, sub_code, sub_msg) = (field("code"), field("msg"), field("sub_code"), field("sub_msg"));
    let sign: Option<String> = match top.get("sign") {
        Some(s) => serde_json::from_str::<String>(s.get()).ok().filter(|s| !s.is_empty()),
        None => None,
    };
    let Some(sign) = sign else {
        return Err(AnswerError::Unsigned { code, sub_code });
    };
    if !key.verify(raw, &sign) {
        return Err(AnswerError::BadSignature);
    }
    Ok(Answer { code, msg, sub_code, sub_msg, fields })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use std::sync::OnceLock;

    fn key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap())
    }

    fn app_key() -> AppKey {
        AppKey::parse(&key().to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap()
    }

    fn public_key() -> PublicKey {
        PublicKey::parse(&key().to_public_key().to_public_key_pem(LineEnding::LF).unwrap()).unwrap()
    }

    fn strip_pem(pem: &str) -> String {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    #[test]
    fn canonical_string_sorts_skips_empty_and_sign_and_keeps_values_raw() {
        let params = [
            ("timestamp", "2026-12-07 08:00:00"),
            ("app_id", "2021000000000000"),
            ("sign", "xyz"),
            ("return_url", ""),
            ("biz_content", r#"{"subject":"卡 & 券","total_amount":"9.90"}"#),
            ("sign_type", "RSA2"),
        ];
        assert_eq!(
            canonical(&params, &["sign"]),
            r#"app_id=2021000000000000&biz_content={"subject":"卡 & 券","total_amount":"9.90"}&sign_type=RSA2&timestamp=2026-12-07 08:00:00"#
        );
        assert_eq!(
            canonical(&params, &["sign", "sign_type"]),
            r#"app_id=2021000000000000&biz_content={"subject":"卡 & 券","total_amount":"9.90"}&timestamp=2026-12-07 08:00:00"#
        );
    }

    #[test]
    fn timestamps_are_china_time() {
        // 2026-12-06T16:30:05Z is 2026-12-07 00:30:05 in Beijing.
        assert_eq!(format_timestamp(Timestamp::from_millis(1_796_574_605_000)), "2026-12-07 00:30:05");
        assert_eq!(format_timestamp(Timestamp::from_millis(0)), "1970-01-01 08:00:00");
        assert_eq!(format_timestamp(Timestamp::from_millis(951_782_400_000)), "2000-02-29 08:00:00");
    }

    #[test]
    fn private_keys_load_in_every_form_the_key_tool_gives() {
        let pkcs8 = key().to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let pkcs1 = key().to_pkcs1_pem(LineEnding::CRLF).unwrap().to_string();
        let forms = [pkcs8.clone(), pkcs1.clone(), strip_pem(&pkcs8), strip_pem(&pkcs1), pkcs8.replace('\n', "\\n")];
        let expected = app_key().sign("a=1");
        for form in forms {
            assert_eq!(AppKey::parse(&form).unwrap().sign("a=1"), expected, "{form}");
        }
        assert_eq!(AppKey::parse("not a key").unwrap_err(), KeyError::Private);
        assert_eq!(AppKey::parse(&strip_pem(&pkcs8)[..100]).unwrap_err(), KeyError::Private);
        assert!(format!("{:?}", app_key()).contains("redacted"));
    }

    #[test]
    fn public_keys_load_as_spki_or_pkcs1_pem_or_bare_base64() {
        let spki = key().to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let pkcs1 = key().to_public_key().to_pkcs1_pem(LineEnding::LF).unwrap();
        let signature = app_key().sign("a=1&b=2");
        for form in [spki.clone(), pkcs1, strip_pem(&spki)] {
            assert!(PublicKey::parse(&form).unwrap().verify("a=1&b=2", &signature), "{form}");
        }
        assert_eq!(
            PublicKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").unwrap_err(),
            KeyError::Public
        );
    }

    #[test]
    fn sign_and_verify_round_trip_and_any_change_breaks_it() {
        let signature = app_key().sign("a=1&b=2");
        let public = public_key();
        assert!(public.verify("a=1&b=2", &signature));
        assert!(!public.verify("a=1&b=3", &signature));
        assert!(!public.verify("a=1&b=2", "not base64!"));
        assert!(!public.verify("a=1&b=2", ""));
        let other = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let other = AppKey::parse(&other.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap();
        assert!(!public.verify("a=1&b=2", &other.sign("a=1&b=2")));
    }

    #[test]
    fn requests_carry_the_common_parameters_and_a_sign_over_them() {
        let call = Call {
            app_id: "2021000000000000",
            method: "alipay.trade.page.pay",
            now: Timestamp::from_millis(0),
            notify_url: Some("https://kabao.example/api/v1/gateways/alipay/notify"),
            return_url: None,
            biz_content: r#"{"out_trade_no":"P1"}"#,
        };
        let params = signed_params(&app_key(), &call);
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("format"), Some("JSON"));
        assert_eq!(get("charset"), Some("utf-8"));
        assert_eq!(get("sign_type"), Some("RSA2"));
        assert_eq!(get("version"), Some("1.0"));
        assert_eq!(get("timestamp"), Some("1970-01-01 08:00:00"));
        assert_eq!(get("return_url"), None);
        let sign = get("sign").unwrap();
        assert!(public_key().verify(&canonical(&params, &["sign"]), sign));
    }

    #[test]
    fn notifications_are_verified_without_sign_and_sign_type() {
        let mut params: Vec<(String, String)> = [
            ("app_id", "2021000000000000"),
            ("out_trade_no", "P1"),
            ("total_amount", "9.90"),
            ("trade_status", "TRADE_SUCCESS"),
            ("fund_bill_list", r#"[{"amount":"9.90","fundChannel":"ALIPAYACCOUNT"}]"#),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sign = app_key().sign(&canonical(&params, &[]));
        params.push(("sign".into(), sign));
        params.push(("sign_type".into(), "RSA2".into()));
        let public = public_key();
        assert_eq!(verify_notify(&public, &params), Ok(()));
        let mut changed = params.clone();
        changed[2].1 = "99.00".into();
        assert_eq!(verify_notify(&public, &changed), Err(NotifyError::BadSignature));
        let mut repeated = params.clone();
        repeated.push(("total_amount".into(), "9.90".into()));
        assert!(matches!(verify_notify(&public, &repeated), Err(NotifyError::Malformed(_))));
        let mut rsa1 = params.clone();
        rsa1.last_mut().unwrap().1 = "RSA".into();
        assert!(matches!(verify_notify(&public, &rsa1), Err(NotifyError::Malformed("sign_type"))));
        let unsigned: Vec<_> = params.iter().filter(|(k, _)| k != "sign").cloned().collect();
        assert!(matches!(verify_notify(&public, &unsigned), Err(NotifyError::Malformed("sign"))));
    }

    #[test]
    fn answers_are_verified_over_the_exact_member_text() {
        // Spacing and key order as sent: a re-serialisation would not match the signature.
        let member = r#"{ "code":"10000","msg":"Success","out_trade_no":"P1","total_amount":"9.90", "note":"{}}\"x" }"#;
        let sign = app_key().sign(member);
        let body = format!(r#"{{"alipay_trade_query_response":{member},"sign":"{sign}"}}"#);
        let answer = verify_answer(&public_key(), "alipay.trade.query", body.as_bytes()).unwrap();
        assert!(answer.is_success());
        assert_eq!(answer.text("total_amount").as_deref(), Some("9.90"));
        let tampered = body.replace("9.90", "0.01");
        assert_eq!(
            verify_answer(&public_key(), "alipay.trade.query", tampered.as_bytes()),
            Err(AnswerError::BadSignature)
        );
        // The answer of another method is not this one's.
        assert!(matches!(
            verify_answer(&public_key(), "alipay.trade.refund", body.as_bytes()),
            Err(AnswerError::Malformed(_))
        ));
    }

    #[test]
    fn error_answers_are_read_signed_or_reported_unsigned() {
        let member =
            r#"{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}"#;
        let sign = app_key().sign(member);
        let signed = format!(r#"{{"error_response":{member},"sign":"{sign}"}}"#);
        let answer = verify_answer(&public_key(), "alipay.trade.query", signed.as_bytes()).unwrap();
        assert!(!answer.is_success());
        assert_eq!(answer.reason(), "isv.invalid-app-id 无效的AppID参数");
        let unsigned = format!(r#"{{"alipay_trade_query_response":{member}}}"#);
        assert_eq!(
            verify_answer(&public_key(), "alipay.trade.query", unsigned.as_bytes()),
            Err(AnswerError::Unsigned { code: "40002".into(), sub_code: "isv.invalid-app-id".into() })
        );
        assert!(matches!(
            verify_answer(&public_key(), "alipay.trade.query", b"<html>"),
            Err(AnswerError::Malformed(_))
        ));
    }
}
