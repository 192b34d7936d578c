//! Payment-gateway message rules, pure: the sandbox gateway's signed notifications, the 易支付 (epay)
//! protocol's MD5 signatures and its order-query answers. The server does the HTTP; these functions decide
//! what is authentic and what an answer says.

use crate::Money;
use hmac::{Hmac, Mac};
use serde::Deserialize;
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
    // Any i64 may arrive in the header: the difference is taken without overflow (an extreme value is stale).
    if now_seconds.checked_sub(timestamp).and_then(i64::checked_abs).is_none_or(|d| d > NOTIFY_WINDOW_SECONDS) {
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

/// What the 易支付 order query (`api.php?act=order`) says about one of our trades, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpayQueryAnswer {
    /// The platform knows the trade and says it was paid: its own trade number and the amount paid.
    Paid { gateway_trade_no: String, amount: Money },
    /// The platform knows the trade; it is not paid (yet).
    Unpaid,
    /// `code` ≠ 1: the platform does not know the trade (the payer never reached it) or refused the query.
    NotFound { message: String },
}

/// Why a query answer was not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpayQueryError {
    #[error("malformed query answer: {0}")]
    Malformed(&'static str),
    /// The answer is about another merchant or another trade than the one asked for.
    #[error("query answer is for another {0}")]
    Mismatch(&'static str),
}

/// The fields of a query answer Kabao reads. Platforms disagree on whether numbers are JSON numbers or
/// strings, so each is taken as either; a repeated field is refused by serde, unknown ones are ignored.
#[derive(Deserialize)]
struct RawQueryAnswer {
    code: Option<serde_json::Value>,
    msg: Option<serde_json::Value>,
    pid: Option<serde_json::Value>,
    trade_no: Option<serde_json::Value>,
    out_trade_no: Option<serde_json::Value>,
    money: Option<serde_json::Value>,
    status: Option<serde_json::Value>,
}

/// A scalar as text: a string as it is, a number as JSON writes it; anything else (array, object, null,
/// boolean) is not a scalar the protocol uses.
fn scalar_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn scalar_int(v: Option<&serde_json::Value>, what: &'static str) -> Result<i64, EpayQueryError> {
    scalar_text(v).and_then(|t| t.parse().ok()).ok_or(EpayQueryError::Malformed(what))
}

/// The longest gateway trade number accepted; real ones are about twenty digits.
const MAX_GATEWAY_TRADE_NO: usize = 128;

/// Reads the platform's answer to a query for `out_trade_no` under merchant `pid`. Lenient about the JSON
/// types of scalars, strict about meaning: `code` and `status` must be integers, a paid answer must name
/// our pid and our trade, carry the platform's trade number and an amount in yuan with at most two decimals.
/// The amount is returned, not compared: the caller knows what the payment was for.
pub fn epay_parse_query(body: &[u8], pid: &str, out_trade_no: &str) -> Result<EpayQueryAnswer, EpayQueryError> {
    let raw: RawQueryAnswer = serde_json::from_slice(body).map_err(|_| EpayQueryError::Malformed("not JSON"))?;
    if scalar_int(raw.code.as_ref(), "code")? != 1 {
        let message = scalar_text(raw.msg.as_ref()).unwrap_or_default().chars().take(200).collect();
        return Ok(EpayQueryAnswer::NotFound { message });
    }
    if scalar_text(raw.out_trade_no.as_ref()).ok_or(EpayQueryError::Malformed("out_trade_no"))? != out_trade_no {
        return Err(EpayQueryError::Mismatch("out_trade_no"));
    }
    if scalar_text(raw.pid.as_ref()).ok_or(EpayQueryError::Malformed("pid"))? != pid {
        return Err(EpayQueryError::Mismatch("pid"));
    }
    match scalar_int(raw.status.as_ref(), "status")? {
        0 => return Ok(EpayQueryAnswer::Unpaid),
        1 => {}
        _ => return Err(EpayQueryError::Malformed("status")),
    }
    let gateway_trade_no = scalar_text(raw.trade_no.as_ref())
        .filter(|t| !t.is_empty() && t.len() <= MAX_GATEWAY_TRADE_NO && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(EpayQueryError::Malformed("trade_no"))?;
    let amount = scalar_text(raw.money.as_ref())
        .filter(|m| m.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .and_then(|m| Money::parse_yuan(&m).ok())
        .filter(|m| m.is_positive())
        .ok_or(EpayQueryError::Malformed("money"))?;
    Ok(EpayQueryAnswer::Paid { gateway_trade_no, amount })
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
        // Extreme timestamps from the header are stale, never an overflow.
        for ts in [i64::MIN, i64::MAX, -1] {
            assert_eq!(sandbox_verify(b"secret", ts, body, &sig, 1_000), Err(NotifyError::Stale), "{ts}");
        }
        assert_eq!(sandbox_verify(b"secret", 1_000, body, &sig, i64::MIN), Err(NotifyError::Stale));
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

    fn answer(fields: serde_json::Value) -> Vec<u8> {
        let mut base = serde_json::json!({
            "code": 1, "msg": "查询订单号成功！", "trade_no": "2024010112000012345", "out_trade_no": "P01",
            "api_trade_no": "4200001", "type": "alipay", "pid": "1001", "addtime": "2024-01-01 12:00:00",
            "endtime": "2024-01-01 12:01:00", "name": "点卡", "money": "9.90", "status": 1, "param": "", "buyer": ""
        });
        if let (Some(b), Some(f)) = (base.as_object_mut(), fields.as_object()) {
            for (k, v) in f {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&base).unwrap_or_default()
    }

    #[test]
    fn epay_query_answers_are_read_leniently_and_checked_strictly() {
        let paid = |amount_fen| {
            Ok(EpayQueryAnswer::Paid {
                gateway_trade_no: "2024010112000012345".into(),
                amount: Money::from_fen(amount_fen),
            })
        };
        let q = |fields| epay_parse_query(&answer(fields), "1001", "P01");
        assert_eq!(q(serde_json::json!({})), paid(990), "the published form");
        // Numbers as strings or as numbers, either way.
        assert_eq!(q(serde_json::json!({"code": "1", "status": "1", "pid": 1001, "money": 9.9})), paid(990));
        assert_eq!(q(serde_json::json!({"money": 10})), paid(1000));
        assert_eq!(q(serde_json::json!({"status": 0})), Ok(EpayQueryAnswer::Unpaid));
        assert_eq!(q(serde_json::json!({"status": "0", "money": null})), Ok(EpayQueryAnswer::Unpaid));
        assert_eq!(
            q(serde_json::json!({"code": -1, "msg": "订单号不存在"})),
            Ok(EpayQueryAnswer::NotFound { message: "订单号不存在".into() })
        );
        // Bound to our merchant and our trade.
        assert_eq!(q(serde_json::json!({"pid": "1002"})), Err(EpayQueryError::Mismatch("pid")));
        assert_eq!(q(serde_json::json!({"out_trade_no": "P02"})), Err(EpayQueryError::Mismatch("out_trade_no")));
        // Strict about what a paid answer must carry.
        for bad in [
            serde_json::json!({"money": ["9.90"]}),
            serde_json::json!({"money": "9.901"}),
            serde_json::json!({"money": "-9.90"}),
            serde_json::json!({"money": "¥9.90"}),
            serde_json::json!({"money": "0.00"}),
            serde_json::json!({"money": 0.30000000000000004}),
            serde_json::json!({"money": null}),
            serde_json::json!({"status": 2}),
            serde_json::json!({"status": true}),
            serde_json::json!({"code": "ok"}),
            serde_json::json!({"code": null}),
            serde_json::json!({"trade_no": ""}),
            serde_json::json!({"trade_no": "has space"}),
            serde_json::json!({"pid": null}),
        ] {
            assert!(matches!(q(bad.clone()), Err(EpayQueryError::Malformed(_))), "{bad}");
        }
        assert!(matches!(epay_parse_query(b"<html>502</html>", "1001", "P01"), Err(EpayQueryError::Malformed(_))));
        let doubled =
            br#"{"code":1,"pid":"1001","out_trade_no":"P01","trade_no":"T","status":1,"money":"9.90","money":"0.01"}"#;
        assert!(matches!(epay_parse_query(doubled, "1001", "P01"), Err(EpayQueryError::Malformed(_))));
    }
}
