//! WeChat Pay API v3's message rules, pure: the merchant's request signature (`WECHATPAY2-SHA256-RSA2048`),
//! the check of WeChat Pay's signature on its answers and notifications, the AES-256-GCM notification resource,
//! and the answers Kabao reads (a transaction, a refund, an error). The adapter in `kabao-app` does the HTTP.

use crate::payments::{NotifyError, NOTIFY_WINDOW_SECONDS};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The signature scheme of API v3 (the `Authorization` header's first word, `Wechatpay-Signature-Type`).
pub const SCHEMA: &str = "WECHATPAY2-SHA256-RSA2048";

/// Why a key or certificate given in the configuration was not loaded (never quoting it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the merchant private key is not an RSA private key in PEM (PKCS#8 or PKCS#1)")]
    PrivateKey,
    #[error("the platform key is neither a certificate nor an RSA public key in PEM")]
    PlatformKey,
    #[error("the platform certificate's serial number is {found}, not the configured {configured}")]
    SerialMismatch { found: String, configured: String },
    #[error("the API v3 key must be exactly 32 bytes, not {0}")]
    ApiV3KeyLength(usize),
}

/// The merchant API certificate's private key, which signs every request (`apiclient_key.pem`).
#[derive(Clone)]
pub struct MerchantKey {
    key: SigningKey<Sha256>,
}

impl std::fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MerchantKey(..)")
    }
}

impl MerchantKey {
    /// From PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what the merchant platform issues) or PKCS#1 (`BEGIN RSA PRIVATE
    /// KEY`).
    pub fn from_pem(pem: &str) -> Result<MerchantKey, KeyError> {
        let pem = pem.trim();
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::PrivateKey)?;
        Ok(MerchantKey { key: SigningKey::new(key) })
    }

    /// SHA256withRSA (PKCS#1 v1.5) of `message`, base64.
    pub fn sign(&self, message: &[u8]) -> Option<String> {
        self.key.try_sign(message).ok().map(|s| B64.encode(s.to_bytes()))
    }
}

/// WeChat Pay's key that signs its answers and notifications: a platform certificate's public key, or the
/// "WeChat Pay public key" (`PUB_KEY_ID_…`) new merchants get instead.
#[derive(Clone)]
pub struct PlatformKey {
    key: VerifyingKey<Sha256>,
    /// The certificate's serial number (upper-case hex, no leading zeros), when given a certificate.
    cert_serial: Option<String>,
}

impl std::fmt::Debug for PlatformKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKey").field("cert_serial", &self.cert_serial).finish()
    }
}

/// A serial number as compared: upper-case hex without leading zeros.
fn normalize_serial(serial: &str) -> String {
    let s = serial.trim().trim_start_matches('0').to_ascii_uppercase();
    if s.is_empty() {
        "0".into()
    } else {
        s
    }
}

impl PlatformKey {
    /// From PEM: a certificate (`BEGIN CERTIFICATE`, its public key is used), a public key (`BEGIN PUBLIC
    /// KEY`) or a PKCS#1 public key (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<PlatformKey, KeyError> {
        use x509_cert::der::{DecodePem, Encode};
        let pem = pem.trim();
        if pem.starts_with("-----BEGIN CERTIFICATE-----") {
            let cert = x509_cert::Certificate::from_pem(pem).map_err(|_| KeyError::PlatformKey)?;
            let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| KeyError::PlatformKey)?;
            let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| KeyError::PlatformKey)?;
            let serial = normalize_serial(&hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes()));
            return Ok(PlatformKey { key: VerifyingKey::new(key), cert_serial: Some(serial) });
        }
        let key = RsaPublicKey::from_public_key_pem(pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::PlatformKey)?;
        Ok(PlatformKey { key: VerifyingKey::new(key), cert_serial: None })
    }

    /// The certificate's serial number, when the key came from a certificate.
    pub fn cert_serial(&self) -> Option<&str> {
        self.cert_serial.as_deref()
    }

    /// Checks that a certificate's serial is the configured one (a public key has no serial to check).
    pub fn check_serial(&self, configured: &str) -> Result<(), KeyError> {
        match &self.cert_serial {
            Some(found) if *found != normalize_serial(configured) => {
                Err(KeyError::SerialMismatch { found: found.clone(), configured: configured.trim().into() })
            }
            _ => Ok(()),
        }
    }

    fn verify(&self, message: &[u8], signature_b64: &str) -> Result<(), NotifyError> {
        let raw = B64.decode(signature_b64.trim()).map_err(|_| NotifyError::BadSignature)?;
        let signature = Signature::try_from(raw.as_slice()).map_err(|_| NotifyError::BadSignature)?;
        self.key.verify(message, &signature).map_err(|_| NotifyError::BadSignature)
    }
}

/// Whether two serial numbers name the same certificate or public key (`PUB_KEY_ID_…` compared as it is).
pub fn same_serial(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.starts_with("PUB_KEY_ID_") || b.starts_with("PUB_KEY_ID_") {
        return a == b;
    }
    !a.is_empty() && normalize_serial(a) == normalize_serial(b)
}

/// The API v3 key: 32 bytes that key the notifications' AES-256-GCM.
#[derive(Clone)]
pub struct ApiV3Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiV3Key(..)")
    }
}

impl ApiV3Key {
    pub fn new(key: &str) -> Result<ApiV3Key, KeyError> {
        let bytes: [u8; 32] = key.as_bytes().try_into().map_err(|_| KeyError::ApiV3KeyLength(key.len()))?;
        Ok(ApiV3Key(Zeroizing::new(bytes)))
    }
}

/// What a request signature covers: `METHOD\nURL\ntimestamp\nnonce\nbody\n`, the URL being the path and
/// query (`/v3/pay/transactions/native`), the body empty for a GET.
pub fn request_message(method: &str, url: &str, timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The `Authorization` header of a request: `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
/// signature="…",timestamp="…",serial_no="…"`. `None` if the key cannot sign.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    mch_id: &str,
    serial_no: &str,
    key: &MerchantKey,
    method: &str,
    url: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> Option<String> {
    let signature = key.sign(request_message(method, url, timestamp, nonce, body).as_bytes())?;
    Some(format!(
        r#"{SCHEMA} mchid="{mch_id}",nonce_str="{nonce}",signature="{signature}",timestamp="{timestamp}",serial_no="{serial_no}""#
    ))
}

/// The signature headers of an answer or notification (`Wechatpay-Timestamp`, `-Nonce`, `-Signature`,
/// `-Serial`, and `-Signature-Type` when sent).
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub serial: Option<&'a str>,
    pub signature_type: Option<&'a str>,
}

/// Verifies WeChat Pay's signature over `timestamp\nnonce\nbody\n`: by the configured key (the serial must
/// be the configured one), with a timestamp within ±300 s of `now_seconds`.
pub fn verify_signed(
    key: &PlatformKey,
    serial: &str,
    headers: &SignedHeaders<'_>,
    body: &[u8],
    now_seconds: i64,
) -> Result<(), NotifyError> {
    if headers.signature_type.is_some_and(|t| t.trim() != SCHEMA) {
        return Err(NotifyError::Malformed("Wechatpay-Signature-Type"));
    }
    let got_serial = headers.serial.ok_or(NotifyError::Malformed("Wechatpay-Serial missing"))?;
    if !same_serial(got_serial, serial) {
        return Err(NotifyError::Malformed("Wechatpay-Serial is not the configured platform key"));
    }
    let timestamp = headers.timestamp.ok_or(NotifyError::Malformed("Wechatpay-Timestamp missing"))?.trim();
    let nonce = headers.nonce.ok_or(NotifyError::Malformed("Wechatpay-Nonce missing"))?;
    let signature = headers.signature.ok_or(NotifyError::Malformed("Wechatpay-Signature missing"))?;
    let seconds: i64 = timestamp.parse().map_err(|_| NotifyError::Malformed("Wechatpay-Timestamp"))?;
    // The message is built from the header as sent (the signature covers its text, not its value).
    let mut message = Vec::with_capacity(body.len() + timestamp.len() + nonce.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    key.verify(&message, signature)?;
    // Checked after the signature so a forged header cannot learn anything about our clock.
    if now_seconds.checked_sub(seconds).and_then(i64::checked_abs).is_none_or(|d| d > NOTIFY_WINDOW_SECONDS) {
        return Err(NotifyError::Stale);
    }
    Ok(())
}

/// A notification's envelope (its JSON body); the payment is in the encrypted `resource`.
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    /// The notification's id: the same event notified again carries the same id.
    pub id: String,
    /// `TRANSACTION.SUCCESS` for a payment.
    pub event_type: String,
    #[serde(default)]
    pub resource_type: String,
    pub resource: EncryptedResource,
}

/// An `AEAD_AES_256_GCM` resource: base64 ciphertext with the 16-byte tag appended.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct EncryptedResource {
    pub algorithm: String,
    pub ciphertext: String,
    pub nonce: String,
    #[serde(default)]
    pub associated_data: String,
    #[serde(default)]
    pub original_type: String,
}

/// The event type of a successful payment.
pub const TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";

/// Reads a notification's envelope.
pub fn parse_notification(body: &[u8]) -> Result<Notification, NotifyError> {
    serde_json::from_slice(body).map_err(|_| NotifyError::Malformed("notification body"))
}

/// Decrypts a resource with the API v3 key.
pub fn decrypt_resource(key: &ApiV3Key, resource: &EncryptedResource) -> Result<Vec<u8>, NotifyError> {
    if resource.algorithm != "AEAD_AES_256_GCM" {
        return Err(NotifyError::Malformed("resource algorithm"));
    }
    if resource.nonce.len() != 12 {
        return Err(NotifyError::Malformed("resource nonce"));
    }
    let ciphertext = B64.decode(resource.ciphertext.trim()).map_err(|_| NotifyError::Malformed("resource base64"))?;
    let cipher = Aes256Gcm::new_from_slice(key.0.as_slice()).map_err(|_| NotifyError::NoKey)?;
    cipher
        .decrypt(
            Nonce::from_slice(resource.nonce.as_bytes()),
            Payload { msg: &ciphertext, aad: resource.associated_data.as_bytes() },
        )
        .map_err(|_| NotifyError::BadSignature)
}

/// Encrypts a resource as WeChat Pay does (for tests and fakes; Kabao only decrypts). `nonce` is 12 bytes.
pub fn encrypt_resource(
    key: &ApiV3Key,
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Option<EncryptedResource> {
    if nonce.len() != 12 {
        return None;
    }
    let cipher = Aes256Gcm::new_from_slice(key.0.as_slice()).ok()?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: plaintext, aad: associated_data.as_bytes() })
        .ok()?;
    Some(EncryptedResource {
        algorithm: "AEAD_AES_256_GCM".into(),
        ciphertext: B64.encode(sealed),
        nonce: nonce.into(),
        associated_data: associated_data.into(),
        original_type: "transaction".into(),
    })
}

/// A transaction as notified or queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub mchid: String,
    pub appid: String,
    pub out_trade_no: String,
    /// WeChat Pay's trade number; absent before payment.
    pub transaction_id: Option<String>,
    /// `SUCCESS`, `REFUND`, `NOTPAY`, `CLOSED`, `REVOKED`, `USERPAYING`, `PAYERROR`.
    pub trade_state: String,
    /// `amount.total`, in fen.
    pub total_fen: Option<i64>,
    /// `payer.openid`.
    pub payer_openid: Option<String>,
}

#[derive(Deserialize)]
struct RawTransaction {
    mchid: String,
    appid: String,
    out_trade_no: String,
    transaction_id: Option<String>,
    trade_state: String,
    amount: Option<RawAmount>,
    payer: Option<RawPayer>,
}

#[derive(Deserialize)]
struct RawAmount {
    total: Option<i64>,
}

#[derive(Deserialize)]
struct RawPayer {
    openid: Option<String>,
}

/// Reads a transaction (a decrypted notification resource, or a query answer).
pub fn parse_transaction(json: &[u8]) -> Result<Transaction, &'static str> {
    let raw: RawTransaction = serde_json::from_slice(json).map_err(|_| "transaction")?;
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Ok(Transaction {
        mchid: raw.mchid,
        appid: raw.appid,
        out_trade_no: raw.out_trade_no,
        transaction_id: non_empty(raw.transaction_id),
        trade_state: raw.trade_state,
        total_fen: raw.amount.and_then(|a| a.total),
        payer_openid: non_empty(raw.payer.and_then(|p| p.openid)),
    })
}

/// A refund as WeChat Pay answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefundAnswer {
    pub refund_id: String,
    pub out_refund_no: String,
    /// `SUCCESS`, `PROCESSING`, `CLOSED`, `ABNORMAL`.
    pub status: String,
}

/// Reads a refund answer.
pub fn parse_refund(json: &[u8]) -> Result<RefundAnswer, &'static str> {
    serde_json::from_slice(json).map_err(|_| "refund")
}

/// An error answer: `{"code": "NOT_ENOUGH", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorAnswer {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// Reads an error answer, if the body is one.
pub fn parse_error(json: &[u8]) -> Option<ErrorAnswer> {
    serde_json::from_slice(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use std::sync::OnceLock;

    /// Two keys, generated once per test run: the merchant's and WeChat Pay's platform key.
    fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
        static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = rand::rngs::OsRng;
            (RsaPrivateKey::new(&mut rng, 2048).unwrap(), RsaPrivateKey::new(&mut rng, 2048).unwrap())
        })
    }

    fn merchant() -> MerchantKey {
        MerchantKey::from_pem(&keys().0.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap()
    }

    fn platform_signer() -> MerchantKey {
        MerchantKey::from_pem(&keys().1.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap()
    }

    fn platform() -> PlatformKey {
        PlatformKey::from_pem(&keys().1.to_public_key().to_public_key_pem(LineEnding::LF).unwrap()).unwrap()
    }

    const SERIAL: &str = "PUB_KEY_ID_0114232134912410000000000000";

    fn signed<'a>(ts: &'a str, nonce: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            timestamp: Some(ts),
            nonce: Some(nonce),
            signature: Some(sig),
            serial: Some(SERIAL),
            signature_type: Some(SCHEMA),
        }
    }

    #[test]
    fn the_authorization_header_signs_method_url_timestamp_nonce_and_body() {
        let key = merchant();
        let auth =
            authorization("1900000001", "ABC123", &key, "POST", "/v3/pay/transactions/native", 1700000000, "N1", "{}")
                .unwrap();
        assert!(auth.starts_with(r#"WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="N1",signature=""#));
        assert!(auth.ends_with(r#"",timestamp="1700000000",serial_no="ABC123""#));
        let sig = auth.split("signature=\"").nth(1).unwrap().split('"').next().unwrap();
        let public =
            PlatformKey::from_pem(&keys().0.to_public_key().to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
        let message = "POST\n/v3/pay/transactions/native\n1700000000\nN1\n{}\n";
        assert_eq!(request_message("POST", "/v3/pay/transactions/native", 1700000000, "N1", "{}"), message);
        public.verify(message.as_bytes(), sig).unwrap();
        assert_eq!(public.verify(b"GET\n/\n1\nN1\n\n", sig), Err(NotifyError::BadSignature));
    }

    #[test]
    fn an_answer_signed_by_the_platform_key_is_believed_within_the_window() {
        let body = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=abc"}"#;
        let mut msg = b"1700000000\nNONCE\n".to_vec();
        msg.extend_from_slice(body);
        msg.push(b'\n');
        let sig = platform_signer().sign(&msg).unwrap();
        let h = signed("1700000000", "NONCE", &sig);
        verify_signed(&platform(), SERIAL, &h, body, 1700000100).unwrap();
        assert_eq!(verify_signed(&platform(), SERIAL, &h, body, 1700000301), Err(NotifyError::Stale));
        assert_eq!(verify_signed(&platform(), SERIAL, &h, body, 1699999699), Err(NotifyError::Stale));
        let mut tampered = body.to_vec();
        tampered[5] ^= 1;
        assert_eq!(verify_signed(&platform(), SERIAL, &h, &tampered, 1700000000), Err(NotifyError::BadSignature));
        // Signed by the merchant key (anyone's key but the platform's): refused.
        let forged = merchant().sign(&msg).unwrap();
        assert_eq!(
            verify_signed(&platform(), SERIAL, &signed("1700000000", "NONCE", &forged), body, 1700000000),
            Err(NotifyError::BadSignature)
        );
        let other = SignedHeaders { serial: Some("PUB_KEY_ID_other"), ..h };
        assert!(matches!(verify_signed(&platform(), SERIAL, &other, body, 1700000000), Err(NotifyError::Malformed(_))));
        let missing = SignedHeaders { signature: None, ..h };
        assert!(matches!(
            verify_signed(&platform(), SERIAL, &missing, body, 1700000000),
            Err(NotifyError::Malformed(_))
        ));
        let odd = SignedHeaders { signature_type: Some("WECHATPAY2-SM2-WITH-SM3"), ..h };
        assert!(matches!(verify_signed(&platform(), SERIAL, &odd, body, 1700000000), Err(NotifyError::Malformed(_))));
        // A timestamp no clock can subtract from is stale, not a panic.
        let sig_max = platform_signer().sign(format!("{}\nNONCE\n\n", i64::MIN).as_bytes()).unwrap();
        let min = i64::MIN.to_string();
        assert_eq!(
            verify_signed(&platform(), SERIAL, &signed(&min, "NONCE", &sig_max), b"", i64::MAX),
            Err(NotifyError::Stale)
        );
    }

    #[test]
    fn serials_compare_without_case_or_leading_zeros_but_key_ids_exactly() {
        assert!(same_serial("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "5157f09efdc096de15ebe81a47057a7232f1b8e1"));
        assert!(same_serial("00AB", "ab"));
        assert!(!same_serial("AB", "AC"));
        assert!(same_serial("PUB_KEY_ID_1", "PUB_KEY_ID_1"));
        assert!(!same_serial("PUB_KEY_ID_1", "pub_key_id_1"));
        assert!(!same_serial("", ""));
    }

    #[test]
    fn keys_that_do_not_parse_are_refused_without_quoting_them() {
        assert_eq!(
            MerchantKey::from_pem("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----").unwrap_err(),
            KeyError::PrivateKey
        );
        assert_eq!(PlatformKey::from_pem("not a key").unwrap_err(), KeyError::PlatformKey);
        assert_eq!(
            PlatformKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").unwrap_err(),
            KeyError::PlatformKey
        );
        assert_eq!(ApiV3Key::new("short").unwrap_err(), KeyError::ApiV3KeyLength(5));
        assert!(ApiV3Key::new("0123456789abcdef0123456789abcdef").is_ok());
        assert_eq!(format!("{:?}", merchant()), "MerchantKey(..)");
        // PKCS#1 private keys load too.
        use rsa::pkcs1::EncodeRsaPrivateKey;
        MerchantKey::from_pem(&keys().0.to_pkcs1_pem(LineEnding::LF).unwrap()).unwrap();
    }

    #[test]
    fn a_resource_decrypts_with_the_api_v3_key_and_nothing_else() {
        let key = ApiV3Key::new("0123456789abcdef0123456789abcdef").unwrap();
        let plain = br#"{"mchid":"1900000001","appid":"wx1","out_trade_no":"T1","transaction_id":"4200","trade_state":"SUCCESS","amount":{"total":1250,"currency":"CNY"},"payer":{"openid":"o-1"}}"#;
        let r = encrypt_resource(&key, "abcdefghijkl", "transaction", plain).unwrap();
        assert_eq!(decrypt_resource(&key, &r).unwrap(), plain.to_vec());
        let other = ApiV3Key::new("0123456789abcdef0123456789abcdeX").unwrap();
        assert_eq!(decrypt_resource(&other, &r), Err(NotifyError::BadSignature));
        let wrong_ad = EncryptedResource { associated_data: "refund".into(), ..r.clone() };
        assert_eq!(decrypt_resource(&key, &wrong_ad), Err(NotifyError::BadSignature));
        let short_nonce = EncryptedResource { nonce: "abc".into(), ..r.clone() };
        assert!(matches!(decrypt_resource(&key, &short_nonce), Err(NotifyError::Malformed(_))));
        let t = parse_transaction(plain).unwrap();
        assert_eq!(t.out_trade_no, "T1");
        assert_eq!(t.transaction_id.as_deref(), Some("4200"));
        assert_eq!(t.total_fen, Some(1250));
        assert_eq!(t.payer_openid.as_deref(), Some("o-1"));
    }

    #[test]
    fn answers_read_as_transactions_refunds_and_errors() {
        let unpaid = parse_transaction(
            br#"{"mchid":"1","appid":"wx","out_trade_no":"T","trade_state":"NOTPAY","amount":{"total":5}}"#,
        )
        .unwrap();
        assert_eq!(unpaid.transaction_id, None);
        assert!(parse_transaction(br#"{"mchid":"1"}"#).is_err());
        let r = parse_refund(br#"{"refund_id":"50","out_refund_no":"R1","status":"PROCESSING","amount":{"refund":1}}"#)
            .unwrap();
        assert_eq!(r.status, "PROCESSING");
        let e = parse_error(r#"{"code":"NOT_ENOUGH","message":"余额不足"}"#.as_bytes()).unwrap();
        assert_eq!(e.code, "NOT_ENOUGH");
        let n = parse_notification(br#"{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"","nonce":"n","associated_data":"transaction"}}"#).unwrap();
        assert_eq!(n.id, "EV-1");
        assert!(parse_notification(b"{}").is_err());
    }
}
