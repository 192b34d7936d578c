//! The 易支付 (epay) protocol, the gateway most card shops use: a signed submit URL sends the payer to the
//! platform; the platform notifies us (usually a GET) with MD5-signed parameters; we answer `success`.
//! Refusals follow the known attacks on card shops: an unset key, a signature replayed onto another order,
//! an amount sent twice or as an array. Platforms lose notifications, so the reconciliation job
//! ([`crate::reconcile`]) also asks the platform's order query (`api.php?act=order`, in
//! [`crate::gateways::epay`]) about payments still pending.

use crate::payments::{settle_notification, NotifyOutcome, PaymentError};
use crate::App;
use kabao_core::payments::{epay_sign, epay_verify, NotifyError};
use kabao_core::{Lang, Localized, Money};
use kabao_store::Payment;

pub const EPAY: &str = "epay";

/// Merchant settings at the 易支付 platform.
#[derive(Debug, Clone)]
pub struct EpayConfig {
    pub pid: String,
    /// The merchant key. Never empty: an empty key makes every signature forgeable (checked at start).
    pub key: String,
    /// The platform's `submit.php`.
    pub submit_url: String,
    /// The platform's `api.php`, asked `act=order` by the reconciliation job (see [`default_api_url`]).
    pub api_url: String,
    /// Our public base URL, for `notify_url` and `return_url`.
    pub public_url: String,
}

/// The query API next to a `…/submit.php`, as every 易支付 platform lays them out: `…/api.php`.
pub fn default_api_url(submit_url: &str) -> Option<String> {
    submit_url.trim().strip_suffix("submit.php").map(|base| format!("{base}api.php"))
}

/// Decodes `k=v&…` parameters (a query string or a form body); `None` when malformed.
pub fn parse_params(raw: &str) -> Option<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw).ok()
}

/// Encodes parameters as a query string, in the order given.
pub fn encode_params(params: &[(&str, &str)]) -> String {
    params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The URL that sends the payer to the 易支付 platform for a payment.
pub fn submit_url(cfg: &EpayConfig, payment: &Payment, name: &str, pay_type: &str) -> String {
    let mut params: Vec<(String, String)> = vec![
        ("pid".into(), cfg.pid.clone()),
        ("type".into(), pay_type.into()),
        ("out_trade_no".into(), payment.trade_no.clone()),
        ("notify_url".into(), format!("{}/api/v1/gateways/epay/notify", cfg.public_url.trim_end_matches('/'))),
        ("return_url".into(), format!("{}/", cfg.public_url.trim_end_matches('/'))),
        ("name".into(), name.into()),
        ("money".into(), payment.amount.yuan_string()),
    ];
    let sign = epay_sign(&params, &cfg.key);
    params.push(("sign".into(), sign));
    params.push(("sign_type".into(), "MD5".into()));
    let query = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
    format!("{}?{query}", cfg.submit_url)
}

/// Why an 易支付 notification was not applied.
#[derive(Debug, thiserror::Error)]
pub enum EpayError {
    /// 易支付 is not configured on this server.
    #[error("易支付 is not configured")]
    NotConfigured,
    /// Unsigned, badly signed, not ours (pid), not a success, or missing a parameter.
    #[error("notification refused: {0}")]
    Refused(NotifyError),
    /// The verified notification could not be applied to its payment.
    #[error(transparent)]
    Payment(#[from] PaymentError),
}

impl Localized for EpayError {
    fn code(&self) -> &'static str {
        match self {
            EpayError::NotConfigured => "gateway.not_configured",
            EpayError::Refused(_) => "gateway.refused",
            EpayError::Payment(e) => e.code(),
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            EpayError::NotConfigured => None,
            EpayError::Refused(_) => Some("sign"),
            EpayError::Payment(e) => e.field(),
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            EpayError::NotConfigured => lang.pick("找不到该内容", "Not found").into(),
            EpayError::Refused(e) => match lang {
                Lang::Zh => format!("通知被拒绝：{e}"),
                Lang::En => format!("Notification refused: {e}"),
            },
            EpayError::Payment(e) => e.message(lang),
        }
    }
}

fn refuse(e: NotifyError) -> EpayError {
    tracing::warn!(error = %e, gateway = EPAY, "notification refused");
    EpayError::Refused(e)
}

/// Verifies and applies an 易支付 notification. Parameters arrive as decoded single strings; the signature is
/// checked over them, then bound to this payment: our pid, our trade number, its exact amount.
pub async fn handle_notify(state: &App, params: &[(String, String)]) -> Result<NotifyOutcome, EpayError> {
    let Some(cfg) = &state.config.epay else {
        return Err(EpayError::NotConfigured);
    };
    epay_verify(params, &cfg.key).map_err(refuse)?;
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if get("pid") != Some(cfg.pid.as_str()) {
        return Err(refuse(NotifyError::Malformed("pid")));
    }
    if get("trade_status") != Some("TRADE_SUCCESS") {
        return Err(refuse(NotifyError::Malformed("trade_status")));
    }
    let trade_no = get("out_trade_no").ok_or(NotifyError::Malformed("out_trade_no")).map_err(refuse)?;
    let gateway_trade_no = get("trade_no").ok_or(NotifyError::Malformed("trade_no")).map_err(refuse)?;
    let money = get("money").ok_or(NotifyError::Malformed("money")).map_err(refuse)?;
    let amount = Money::parse_yuan(money).map_err(|_| refuse(NotifyError::Malformed("money")))?;
    // 易支付 has no notification id: its trade number identifies the payment event.
    Ok(settle_notification(state, EPAY, gateway_trade_no, trade_no, gateway_trade_no, amount, None).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_urls_carry_a_verifiable_signature() {
        let cfg = EpayConfig {
            pid: "1001".into(),
            key: "k3y".into(),
            submit_url: "https://pay.example/submit.php".into(),
            api_url: "https://pay.example/api.php".into(),
            public_url: "https://kabao.example/".into(),
        };
        let p = Payment {
            id: 1,
            gateway: EPAY.into(),
            trade_no: "P01".into(),
            purpose: kabao_store::PaymentPurpose::TopUp(kabao_core::UserId(1)),
            amount: Money::from_fen(990),
            state: kabao_store::PaymentState::Pending,
            gateway_trade_no: None,
            created_at: kabao_core::Timestamp(0),
            paid_at: None,
        };
        let url = submit_url(&cfg, &p, "点卡", "alipay");
        assert!(url.starts_with("https://pay.example/submit.php?pid=1001&type=alipay&out_trade_no=P01"));
        assert!(url.contains("money=9.90") && url.contains("sign_type=MD5"));
        assert!(url.contains("notify_url=https%3A%2F%2Fkabao.example%2Fapi%2Fv1%2Fgateways%2Fepay%2Fnotify"));
        let params: Vec<(String, String)> =
            serde_urlencoded::from_str(url.split_once('?').map(|x| x.1).unwrap_or_default()).unwrap_or_default();
        assert_eq!(epay_verify(&params, "k3y"), Ok(()));
    }

    #[test]
    fn the_query_api_sits_next_to_submit_php() {
        assert_eq!(default_api_url("https://pay.example/submit.php").as_deref(), Some("https://pay.example/api.php"));
        assert_eq!(
            default_api_url("https://pay.example/x/submit.php").as_deref(),
            Some("https://pay.example/x/api.php")
        );
        assert_eq!(default_api_url("https://pay.example/pay"), None);
    }
}
