//! Payment-gateway message rules, pure: the sandbox gateway's signed notifications and the 易支付 (epay)
//! protocol's MD5 signatures. The server does the HTTP; these functions decide what is authentic.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a notification's timestamp may be from the server's clock, either way.
pub const NOTIFY_WINDOW_SECONDS: i64 = 300;

/// Why a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("signature does not match")]
    BadSignature,
    #[error("timestamp outside the ±300 s window")]
    Stale,
    #[error("malformed notification: {0}")]
    Malformed(&'static str),
    #[error("merchant key is not configured")]
    NoKey,
}

/// Sandbox signature: hex HMAC-SHA256 over `"{timestamp}.{body}"`, as Stripe-style webhooks do.
pub fn sandbox_sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies a sandbox notification: fresh timestamp and matching signature (constant-time).
/// Replays inside the window are caught by the caller, which stores each notification id once.
pub fn sandbox_verify(
    secret: &[u8],
    timestamp: i64,
    body: &[u8],
    signature: &str,
    now_seconds: i64,
) -> Result<(), NotifyError> {
    if secret.is_empty() {
        return Err(NotifyError::NoKey);
    }
    if (now_seconds - timestamp).abs() > NOTIFY_WINDOW_SECONDS {
        return Err(NotifyError::Stale);
    }
    let expected = sandbox_sign(secret, timestamp, body);
    if bool::from(expected.as_bytes().ct_eq(signature.trim().to_ascii_lowercase().as_bytes())) {
        Ok(())
    } else {
        Err(NotifyError::BadSignature)
    }
}

/// 易支付 signature: MD5 of `k1=v1&k2=v2…` over the non-empty parameters sorted by name, except `sign` and
/// `sign_type`, with the merchant key appended (no separator); lowercase hex.
pub fn epay_sign(params: &[(String, String)], key: &str) -> String {
    let mut kv: Vec<&(String, String)> =
        params.iter().filter(|(k, v)| !v.is_empty() && k != "sign" && k != "sign_type").collect();
    kv.sort_by(|a, b| a.0.cmp(&b.0));
    let joined = kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    format!("{:x}", md5::compute(format!("{joined}{key}")))
}

/// Verifies a 易支付 notification's signature. Parameters must be single strings (a repeated name such as
/// `money[]=` or `money=1&money=2` is refused, a known way around amount checks).
pub fn epay_verify(params: &[(String, String)], key: &str) -> Result<(), NotifyError> {
    if key.is_empty() {
        // An empty key makes every signature forgeable.
        return Err(NotifyError::NoKey);
    }
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w.first() == w.get(1)) || names.iter().any(|n| n.contains('[')) {
        return Err(NotifyError::Malformed("repeated or array parameter"));
    }
    let sign = params
        .iter()
        .find(|(k, _)| k == "sign")
        .map(|(_, v)| v.as_str())
        .ok_or(NotifyError::Malformed("sign missing"))?;
    let expected = epay_sign(params, key);
    if bool::from(expected.as_bytes().ct_eq(sign.to_ascii_lowercase().as_bytes())) {
        Ok(())
    } else {
        Err(NotifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sandbox_signatures_verify_and_refuse_tampering_and_staleness() {
        let body = br#"{"order":"K123","amount_fen":990}"#;
        let sig = sandbox_sign(b"secret", 1_000, body);
        assert_eq!(sandbox_verify(b"secret", 1_000, body, &sig, 1_100), Ok(()));
        assert_eq!(
            sandbox_verify(b"secret", 1_000, br#"{"order":"K123","amount_fen":1}"#, &sig, 1_100),
            Err(NotifyError::BadSignature)
        );
        assert_eq!(sandbox_verify(b"secret", 1_000, body, &sig, 1_000 + 301), Err(NotifyError::Stale));
        assert_eq!(sandbox_verify(b"secret", 1_000, body, &sig, 1_000 - 301), Err(NotifyError::Stale));
        assert_eq!(sandbox_verify(b"other", 1_000, body, &sig, 1_000), Err(NotifyError::BadSignature));
        assert_eq!(sandbox_verify(b"", 1_000, body, &sig, 1_000), Err(NotifyError::NoKey));
    }

    /// The published 易支付 example: sorted, empty values and sign/sign_type left out, key appended.
    #[test]
    fn epay_signature_matches_the_published_form() {
        let params = p(&[
            ("pid", "1001"),
            ("type", "alipay"),
            ("out_trade_no", "20160806151343349"),
            ("notify_url", "http://www.example.com/notify_url.php"),
            ("return_url", "http://www.example.com/return_url.php"),
            ("name", "VIP会员"),
            ("money", "1.00"),
            ("sitename", ""),
            ("sign_type", "MD5"),
        ]);
        let expected_string = "money=1.00&name=VIP会员&notify_url=http://www.example.com/notify_url.php&out_trade_no=20160806151343349&pid=1001&return_url=http://www.example.com/return_url.php&type=alipay";
        assert_eq!(epay_sign(&params, "KEY"), format!("{:x}", md5::compute(format!("{expected_string}KEY"))));
    }

    #[test]
    fn epay_notifications_are_verified_strictly() {
        let mut params = p(&[
            ("pid", "1001"),
            ("trade_no", "2024010112345"),
            ("out_trade_no", "K7Q2"),
            ("type", "alipay"),
            ("name", "点卡"),
            ("money", "9.90"),
            ("trade_status", "TRADE_SUCCESS"),
            ("sign_type", "MD5"),
        ]);
        let sign = epay_sign(&params, "merchant-key");
        params.push(("sign".into(), sign.clone()));
        assert_eq!(epay_verify(&params, "merchant-key"), Ok(()));
        assert_eq!(epay_verify(&params, ""), Err(NotifyError::NoKey));
        let mut tampered = params.clone();
        if let Some(m) = tampered.iter_mut().find(|(k, _)| k == "money") {
            m.1 = "0.01".into();
        }
        assert_eq!(epay_verify(&tampered, "merchant-key"), Err(NotifyError::BadSignature));
        let mut doubled = params.clone();
        doubled.push(("money".into(), "0.01".into()));
        assert!(matches!(epay_verify(&doubled, "merchant-key"), Err(NotifyError::Malformed(_))));
        let mut array = params;
        array.push(("money[]".into(), "1".into()));
        assert!(matches!(epay_verify(&array, "merchant-key"), Err(NotifyError::Malformed(_))));
    }
}
