//! WeChat Pay (微信支付 API v3): Native pay (a QR code) on a desktop, H5 pay on a phone, the encrypted
//! `TRANSACTION.SUCCESS` notification, the order query and refunds. Every request is signed with the merchant
//! key and every answer's signature is checked against WeChat Pay's platform key before it is believed; the
//! protocol's pieces are in [`kabao_core::wechatpay`].

use super::{
    Checkout, Device, Gateway, GatewayError, HttpPort, HttpRequest, HttpResponse, NotifyAck, NotifyRequest, PayRequest,
    RefundOutcome, RefundRequest, TradeState, VerifiedNotify,
};
use kabao_core::payments::NotifyError;
use kabao_core::wechatpay::{
    authorization, decrypt_resource, parse_error, parse_notification, parse_refund, parse_transaction, verify_signed,
    ApiV3Key, MerchantKey, PlatformKey, SignedHeaders, TRANSACTION_SUCCESS,
};
use kabao_core::{Lang, Money, Timestamp};
use rand::Rng;
use serde_json::json;
use std::sync::Arc;

pub const WECHATPAY: &str = "wechatpay";

/// The production API.
pub const DEFAULT_API_URL: &str = "https://api.mch.weixin.qq.com";

/// WeChat Pay settings (`[wechatpay]` in kabao.toml or `KABAO_WECHATPAY_*`), keys already parsed: a
/// configuration that holds one is usable.
#[derive(Clone)]
pub struct WechatPayConfig {
    pub mch_id: String,
    pub app_id: String,
    /// The merchant API certificate's serial number and private key.
    pub mch_serial_no: String,
    pub mch_private_key: MerchantKey,
    /// The API v3 key (32 bytes) that encrypts notifications' `resource`.
    pub api_v3_key: ApiV3Key,
    /// WeChat Pay's platform key (from a platform certificate or the WeChat Pay public key) and its serial
    /// (the certificate's serial number, or the public key's id `PUB_KEY_ID_…`).
    pub platform_public_key: PlatformKey,
    pub platform_serial: String,
    /// `https://api.mch.weixin.qq.com` (or a test's).
    pub api_url: String,
    /// Our public base URL, for `notify_url`.
    pub public_url: String,
}

impl std::fmt::Debug for WechatPayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayConfig")
            .field("mch_id", &self.mch_id)
            .field("app_id", &self.app_id)
            .field("mch_serial_no", &self.mch_serial_no)
            .field("platform_serial", &self.platform_serial)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

pub struct WechatPay {
    config: WechatPayConfig,
    http: Arc<dyn HttpPort>,
}

/// What WeChat Pay limits `description` (the payer's view of the purchase) and a refund's `reason` to.
const MAX_DESCRIPTION_CHARS: usize = 127;
const MAX_REASON_CHARS: usize = 80;

/// The signature headers of an answer or a notification.
fn signed_headers<'a>(header: impl Fn(&str) -> Option<&'a str>) -> SignedHeaders<'a> {
    SignedHeaders {
        timestamp: header("wechatpay-timestamp"),
        nonce: header("wechatpay-nonce"),
        signature: header("wechatpay-signature"),
        serial: header("wechatpay-serial"),
        signature_type: header("wechatpay-signature-type"),
    }
}

/// Percent-encodes a path segment or query value (our trade numbers are alphanumeric; this is a guard).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A verified answer: its status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl WechatPay {
    pub fn new(config: WechatPayConfig, http: Arc<dyn HttpPort>) -> WechatPay {
        WechatPay { config, http }
    }

    fn notify_url(&self) -> String {
        format!("{}/api/v1/gateways/wechatpay/notify", self.config.public_url.trim_end_matches('/'))
    }

    /// Sends a signed request and checks the answer's signature. Requests are signed, and answers checked, by
    /// the system clock, not the application's: WeChat Pay compares our timestamps with its own real time.
    /// A 5xx or 429 is unreachable (retry later); any other answer must be signed by the platform key.
    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Answer, GatewayError> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let now = system_seconds();
        let nonce: String =
            rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(32).map(char::from).collect();
        let c = &self.config;
        let auth = authorization(&c.mch_id, &c.mch_serial_no, &c.mch_private_key, method, path, now, &nonce, &body)
            .ok_or_else(|| GatewayError::Config("the merchant key could not sign".into()))?;
        let mut headers = vec![
            ("authorization".to_string(), auth),
            ("accept".to_string(), "application/json".to_string()),
            ("user-agent".to_string(), "Kabao".to_string()),
            // Tells WeChat Pay which of its keys we verify with (required in the public-key mode).
            ("wechatpay-serial".to_string(), c.platform_serial.clone()),
        ];
        if method == "POST" {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        let url = format!("{}{path}", c.api_url.trim_end_matches('/'));
        let answer: HttpResponse = self
            .http
            .send(HttpRequest { method, url, headers, body: body.into_bytes() })
            .await
            .map_err(GatewayError::Unreachable)?;
        if answer.status >= 500 || answer.status == 429 {
            return Err(GatewayError::Unreachable(format!("HTTP {}", answer.status)));
        }
        let signed = signed_headers(|name| answer.header(name));
        if signed.signature.is_none() {
            return Err(GatewayError::BadAnswer(format!("unsigned answer (HTTP {})", answer.status)));
        }
        verify_signed(&c.platform_public_key, &c.platform_serial, &signed, &answer.body, system_seconds())
            .map_err(|e| GatewayError::BadAnswer(format!("answer signature: {e}")))?;
        Ok(Answer { status: answer.status, body: answer.body })
    }

    /// An answer that is not a success, as an error: its code and message when it has them.
    fn refused(answer: &Answer) -> GatewayError {
        match parse_error(&answer.body) {
            Some(e) => GatewayError::BadAnswer(format!("HTTP {}: {} {}", answer.status, e.code, e.message)),
            None => GatewayError::BadAnswer(format!("HTTP {}", answer.status)),
        }
    }
}

fn system_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl Gateway for WechatPay {
    fn id(&self) -> &'static str {
        WECHATPAY
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("微信支付", "WeChat Pay")
    }
    fn refunds(&self) -> bool {
        true
    }

    /// Native pay (`code_url`, shown as a QR code) on a desktop, H5 pay (`h5_url`, a redirect, back to our
    /// order page through `redirect_url`) on a phone.
    async fn create(&self, request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        let c = &self.config;
        let mut body = json!({
            "appid": c.app_id,
            "mchid": c.mch_id,
            "description": truncate_chars(request.subject, MAX_DESCRIPTION_CHARS),
            "out_trade_no": request.payment.trade_no,
            "notify_url": self.notify_url(),
            "amount": { "total": request.payment.amount.fen(), "currency": "CNY" },
        });
        let path = match request.device {
            Device::Desktop => "/v3/pay/transactions/native",
            Device::Phone => {
                let ip = request
                    .client_ip
                    .ok_or_else(|| GatewayError::Config("WeChat H5 pay needs the payer's IP address".into()))?;
                body["scene_info"] = json!({ "payer_client_ip": ip.to_string(), "h5_info": { "type": "Wap" } });
                "/v3/pay/transactions/h5"
            }
        };
        let answer = self.call("POST", path, Some(body)).await?;
        if !(200..300).contains(&answer.status) {
            return Err(Self::refused(&answer));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&answer.body).map_err(|_| GatewayError::BadAnswer("not JSON".into()))?;
        match request.device {
            Device::Desktop => match v["code_url"].as_str() {
                Some(code) if code.starts_with("weixin://") => Ok(Checkout::QrCode(code.into())),
                _ => Err(GatewayError::BadAnswer("no weixin:// code_url".into())),
            },
            Device::Phone => match v["h5_url"].as_str() {
                Some(url) if url.starts_with("https://") => {
                    Ok(Checkout::Redirect(format!("{url}&redirect_url={}", encode(&request.return_url))))
                }
                _ => Err(GatewayError::BadAnswer("no https:// h5_url".into())),
            },
        }
    }

    /// Signed by the platform key within ±300 s, a `TRANSACTION.SUCCESS` whose decrypted transaction is ours
    /// (merchant and app id) and paid. The notification's `id` identifies the event.
    fn verify_notify(&self, request: &NotifyRequest<'_>, now: Timestamp) -> Result<VerifiedNotify, GatewayError> {
        let c = &self.config;
        let signed = signed_headers(|name| request.header(name));
        verify_signed(&c.platform_public_key, &c.platform_serial, &signed, request.body, now.millis() / 1000)?;
        let n = parse_notification(request.body)?;
        if n.event_type != TRANSACTION_SUCCESS {
            return Err(NotifyError::Malformed("event_type").into());
        }
        let plain = decrypt_resource(&c.api_v3_key, &n.resource)?;
        let t = parse_transaction(&plain).map_err(NotifyError::Malformed)?;
        if t.mchid != c.mch_id {
            return Err(NotifyError::Malformed("mchid").into());
        }
        if t.appid != c.app_id {
            return Err(NotifyError::Malformed("appid").into());
        }
        if t.trade_state != "SUCCESS" {
            return Err(NotifyError::Malformed("trade_state").into());
        }
        let gateway_trade_no = t.transaction_id.ok_or(NotifyError::Malformed("transaction_id"))?;
        let total = t.total_fen.filter(|f| *f > 0).ok_or(NotifyError::Malformed("amount"))?;
        if n.id.is_empty() || n.id.len() > 128 {
            return Err(NotifyError::Malformed("id").into());
        }
        Ok(VerifiedNotify {
            notification_id: n.id,
            trade_no: t.out_trade_no,
            gateway_trade_no,
            amount: Money::from_fen(total),
            payer: t.payer_openid.filter(|p| p.len() <= 128),
        })
    }

    /// WeChat Pay's words: 200 `{"code":"SUCCESS"}`, or a 5xx `{"code":"FAIL",…}` so it notifies again.
    fn ack(&self, ok: bool) -> NotifyAck {
        NotifyAck {
            status: if ok { 200 } else { 500 },
            content_type: "application/json",
            body: if ok { r#"{"code":"SUCCESS"}"# } else { r#"{"code":"FAIL","message":"失败"}"# }.into(),
        }
    }

    /// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=…`. A refunded trade (`REFUND`) is reported paid: it
    /// took the money, and its refunds are Kabao's own records.
    async fn query(&self, trade_no: &str) -> Result<TradeState, GatewayError> {
        let c = &self.config;
        let path = format!("/v3/pay/transactions/out-trade-no/{}?mchid={}", encode(trade_no), encode(&c.mch_id));
        let answer = self.call("GET", &path, None).await?;
        if answer.status == 404 {
            return match parse_error(&answer.body) {
                Some(e) if e.code == "ORDER_NOT_EXIST" || e.code == "RESOURCE_NOT_EXISTS" => Ok(TradeState::NotFound),
                _ => Err(Self::refused(&answer)),
            };
        }
        if !(200..300).contains(&answer.status) {
            return Err(Self::refused(&answer));
        }
        let t = parse_transaction(&answer.body).map_err(|e| GatewayError::BadAnswer(format!("malformed {e}")))?;
        if t.mchid != c.mch_id || t.out_trade_no != trade_no {
            return Err(GatewayError::BadAnswer("the answer is about another merchant or trade".into()));
        }
        match t.trade_state.as_str() {
            "SUCCESS" | "REFUND" => {
                if t.appid != c.app_id {
                    return Err(GatewayError::BadAnswer("the answer is about another app".into()));
                }
                let gateway_trade_no =
                    t.transaction_id.ok_or_else(|| GatewayError::BadAnswer("paid without transaction_id".into()))?;
                let total = t.total_fen.ok_or_else(|| GatewayError::BadAnswer("paid without amount".into()))?;
                Ok(TradeState::Paid { gateway_trade_no, amount: Money::from_fen(total) })
            }
            "NOTPAY" | "USERPAYING" | "PAYERROR" => Ok(TradeState::Unpaid),
            "CLOSED" | "REVOKED" => Ok(TradeState::Closed),
            other => Err(GatewayError::BadAnswer(format!("unknown trade_state {}", truncate_chars(other, 32)))),
        }
    }

    /// `POST /v3/refund/domestic/refunds`, idempotent by `out_refund_no` (our refund number): asking again
    /// answers the refund already made. Business refusals are final; system errors are retried.
    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, GatewayError> {
        let body = json!({
            "out_trade_no": request.trade_no,
            "out_refund_no": request.refund_no,
            "reason": truncate_chars(request.reason, MAX_REASON_CHARS),
            "amount": { "refund": request.amount.fen(), "total": request.total.fen(), "currency": "CNY" },
        });
        let answer = self.call("POST", "/v3/refund/domestic/refunds", Some(body)).await?;
        if (200..300).contains(&answer.status) {
            let r = parse_refund(&answer.body).map_err(|e| GatewayError::BadAnswer(format!("malformed {e}")))?;
            if r.out_refund_no != request.refund_no {
                return Err(GatewayError::BadAnswer("the answer is about another refund".into()));
            }
            return Ok(match r.status.as_str() {
                "SUCCESS" => RefundOutcome::Done { gateway_refund_no: Some(r.refund_id) },
                "PROCESSING" => RefundOutcome::Processing,
                other => RefundOutcome::Refused { reason: format!("WeChat Pay refund {}", truncate_chars(other, 32)) },
            });
        }
        match parse_error(&answer.body) {
            Some(e) if e.code == "SYSTEM_ERROR" || e.code == "FREQUENCY_LIMITED" => {
                Err(GatewayError::Unreachable(format!("HTTP {}: {}", answer.status, e.code)))
            }
            // Our own signature refused: a configuration fault, not the payer's refund refused.
            Some(e) if e.code == "SIGN_ERROR" => {
                Err(GatewayError::Config(format!("HTTP {}: SIGN_ERROR", answer.status)))
            }
            Some(e) => Ok(RefundOutcome::Refused {
                reason: format!("{}: {}", truncate_chars(&e.code, 64), truncate_chars(&e.message, 200)),
            }),
            None => Err(Self::refused(&answer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use std::sync::{Mutex, OnceLock};

    const KEY_ID: &str = "PUB_KEY_ID_0119000001092026120600000000";

    /// The merchant's key and the platform's, generated once for these tests.
    fn keys() -> &'static (String, String, String) {
        static KEYS: OnceLock<(String, String, String)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = rand::rngs::OsRng;
            let merchant = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
            let platform = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
            (
                merchant.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                platform.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                platform.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
            )
        })
    }

    /// WeChat Pay in a box: answers every call with the next canned (status, body), signed by the platform key
    /// unless `unsigned`.
    struct Canned {
        answers: Mutex<Vec<(u16, String)>>,
        unsigned: bool,
    }

    #[async_trait::async_trait]
    impl HttpPort for Canned {
        async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, String> {
            let (status, body) = self.answers.lock().unwrap().remove(0);
            let mut headers = vec![];
            if !self.unsigned {
                let ts = system_seconds().to_string();
                let signer = MerchantKey::from_pem(&keys().1).unwrap();
                let signature = signer.sign(format!("{ts}\nN\n{body}\n").as_bytes()).unwrap();
                headers = vec![
                    ("wechatpay-timestamp".into(), ts),
                    ("wechatpay-nonce".into(), "N".into()),
                    ("wechatpay-signature".into(), signature),
                    ("wechatpay-serial".into(), KEY_ID.into()),
                ];
            }
            Ok(HttpResponse { status, headers, body: body.into_bytes() })
        }
    }

    fn gateway(answers: &[(u16, &str)], unsigned: bool) -> WechatPay {
        let config = WechatPayConfig {
            mch_id: "1900000109".into(),
            app_id: "wx1".into(),
            mch_serial_no: "ABC".into(),
            mch_private_key: MerchantKey::from_pem(&keys().0).unwrap(),
            api_v3_key: ApiV3Key::new("0123456789abcdef0123456789abcdef").unwrap(),
            platform_public_key: PlatformKey::from_pem(&keys().2).unwrap(),
            platform_serial: KEY_ID.into(),
            api_url: "http://wechatpay.invalid".into(),
            public_url: "https://kabao.example".into(),
        };
        let answers = answers.iter().map(|(s, b)| (*s, b.to_string())).collect();
        WechatPay::new(config, Arc::new(Canned { answers: Mutex::new(answers), unsigned }))
    }

    fn refund_request() -> RefundRequest<'static> {
        RefundRequest {
            refund_no: "R1",
            trade_no: "T1",
            gateway_trade_no: None,
            total: Money::from_fen(100),
            amount: Money::from_fen(100),
            reason: "r",
        }
    }

    #[tokio::test]
    async fn refund_answers_map_to_done_processing_refused_or_retry() {
        let ok = |status: &str| format!(r#"{{"refund_id":"50","out_refund_no":"R1","status":"{status}"}}"#);
        let cases: Vec<(u16, String, &str)> = vec![
            (200, ok("SUCCESS"), "done"),
            (200, ok("PROCESSING"), "processing"),
            (200, ok("ABNORMAL"), "refused"),
            (200, ok("CLOSED"), "refused"),
            (403, r#"{"code":"NOT_ENOUGH","message":"余额不足"}"#.into(), "refused"),
            (400, r#"{"code":"INVALID_REQUEST","message":"m"}"#.into(), "refused"),
            (404, r#"{"code":"RESOURCE_NOT_EXISTS","message":"m"}"#.into(), "refused"),
            (500, r#"{"code":"SYSTEM_ERROR","message":"m"}"#.into(), "retry"),
            (503, String::new(), "retry"),
            (429, r#"{"code":"FREQUENCY_LIMITED","message":"m"}"#.into(), "retry"),
            (400, r#"{"code":"SYSTEM_ERROR","message":"m"}"#.into(), "retry"),
            (200, r#"{"refund_id":"50","out_refund_no":"OTHER","status":"SUCCESS"}"#.into(), "bad"),
        ];
        for (status, body, expected) in cases {
            let got = gateway(&[(status, &body)], false).refund(&refund_request()).await;
            let kind = match &got {
                Ok(RefundOutcome::Done { gateway_refund_no: Some(id) }) if id == "50" => "done",
                Ok(RefundOutcome::Processing) => "processing",
                Ok(RefundOutcome::Refused { .. }) => "refused",
                Err(GatewayError::Unreachable(_)) => "retry",
                Err(GatewayError::BadAnswer(_)) => "bad",
                _ => "other",
            };
            assert_eq!(kind, expected, "{status} {body}: {got:?}");
        }
        let refused = gateway(&[(403, r#"{"code":"NOT_ENOUGH","message":"余额不足"}"#)], false)
            .refund(&refund_request())
            .await
            .unwrap();
        assert_eq!(refused, RefundOutcome::Refused { reason: "NOT_ENOUGH: 余额不足".into() });
    }

    #[tokio::test]
    async fn an_unsigned_answer_is_not_believed() {
        let body = r#"{"refund_id":"50","out_refund_no":"R1","status":"SUCCESS"}"#;
        let got = gateway(&[(200, body)], true).refund(&refund_request()).await;
        assert!(matches!(got, Err(GatewayError::BadAnswer(_))), "{got:?}");
        let got = gateway(&[(404, r#"{"code":"ORDER_NOT_EXIST","message":"m"}"#)], true).query("T1").await;
        assert!(matches!(got, Err(GatewayError::BadAnswer(_))), "{got:?}");
    }

    #[tokio::test]
    async fn trade_states_map_to_paid_unpaid_closed_or_not_found() {
        let trade = |state: &str| {
            format!(
                r#"{{"mchid":"1900000109","appid":"wx1","out_trade_no":"T1","transaction_id":"4200","trade_state":"{state}","amount":{{"total":100}}}}"#
            )
        };
        let paid = TradeState::Paid { gateway_trade_no: "4200".into(), amount: Money::from_fen(100) };
        for (state, expected) in [
            ("SUCCESS", paid.clone()),
            ("REFUND", paid),
            ("NOTPAY", TradeState::Unpaid),
            ("USERPAYING", TradeState::Unpaid),
            ("CLOSED", TradeState::Closed),
            ("REVOKED", TradeState::Closed),
        ] {
            assert_eq!(gateway(&[(200, &trade(state))], false).query("T1").await.unwrap(), expected, "{state}");
        }
        let not_found = gateway(&[(404, r#"{"code":"ORDER_NOT_EXIST","message":"m"}"#)], false).query("T1").await;
        assert_eq!(not_found.unwrap(), TradeState::NotFound);
        let other_trade = gateway(&[(200, &trade("SUCCESS"))], false).query("T2").await;
        assert!(matches!(other_trade, Err(GatewayError::BadAnswer(_))), "{other_trade:?}");
        let odd = gateway(&[(200, &trade("MYSTERY"))], false).query("T1").await;
        assert!(matches!(odd, Err(GatewayError::BadAnswer(_))), "{odd:?}");
    }

    /// A notification signed at `ts` by the platform key: (headers, body).
    fn notification(event_type: &str, transaction: &str, ts: i64) -> (Vec<(String, String)>, String) {
        let key = ApiV3Key::new("0123456789abcdef0123456789abcdef").unwrap();
        let resource =
            kabao_core::wechatpay::encrypt_resource(&key, "abcdefghijkl", "transaction", transaction.as_bytes());
        let body =
            json!({"id": "EV-1", "event_type": event_type, "resource_type": "encrypt-resource", "resource": resource})
                .to_string();
        let signer = MerchantKey::from_pem(&keys().1).unwrap();
        let signature = signer.sign(format!("{ts}\nN\n{body}\n").as_bytes()).unwrap();
        let headers = vec![
            ("wechatpay-timestamp".into(), ts.to_string()),
            ("wechatpay-nonce".into(), "N".into()),
            ("wechatpay-signature".into(), signature),
            ("wechatpay-serial".into(), KEY_ID.into()),
        ];
        (headers, body)
    }

    #[test]
    fn a_notify_is_believed_only_signed_fresh_ours_and_a_success() {
        let g = gateway(&[], false);
        let ts = 1_790_000_000;
        let now = Timestamp::from_millis(ts * 1000);
        let paid = r#"{"mchid":"1900000109","appid":"wx1","out_trade_no":"T1","transaction_id":"4200","trade_state":"SUCCESS","amount":{"total":100},"payer":{"openid":"o-1"}}"#;
        let (headers, body) = notification(TRANSACTION_SUCCESS, paid, ts);
        let n = g.verify_notify(&NotifyRequest { headers: &headers, query: "", body: body.as_bytes() }, now).unwrap();
        assert_eq!(
            n,
            VerifiedNotify {
                notification_id: "EV-1".into(),
                trade_no: "T1".into(),
                gateway_trade_no: "4200".into(),
                amount: Money::from_fen(100),
                payer: Some("o-1".into()),
            }
        );
        let late = Timestamp::from_millis((ts + 301) * 1000);
        assert!(g.verify_notify(&NotifyRequest { headers: &headers, query: "", body: body.as_bytes() }, late).is_err());
        let refund_event = notification("REFUND.SUCCESS", paid, ts);
        let other_app = notification(TRANSACTION_SUCCESS, &paid.replace("wx1", "wx2"), ts);
        let other_mch = notification(TRANSACTION_SUCCESS, &paid.replace("1900000109", "1900000999"), ts);
        let unpaid = notification(TRANSACTION_SUCCESS, &paid.replace("\"SUCCESS\"", "\"NOTPAY\""), ts);
        for (headers, body) in [refund_event, other_app, other_mch, unpaid] {
            let got = g.verify_notify(&NotifyRequest { headers: &headers, query: "", body: body.as_bytes() }, now);
            assert!(got.is_err(), "{body}");
        }
    }

    #[tokio::test]
    async fn create_asks_native_on_a_desktop_and_h5_on_a_phone() {
        let payment = kabao_store::Payment {
            id: 1,
            gateway: WECHATPAY.into(),
            trade_no: "T1".into(),
            purpose: kabao_store::PaymentPurpose::TopUp(kabao_core::UserId(1)),
            amount: Money::from_fen(100),
            state: kabao_store::PaymentState::Pending,
            gateway_trade_no: None,
            created_at: Timestamp::from_millis(0),
            paid_at: None,
        };
        let request = |device, client_ip| PayRequest {
            payment: &payment,
            subject: "Kabao",
            device,
            client_ip,
            return_url: "https://kabao.example/o/KB1".into(),
        };
        let native = gateway(&[(200, r#"{"code_url":"weixin://wxpay/bizpayurl?pr=x"}"#)], false);
        assert_eq!(
            native.create(&request(Device::Desktop, None)).await.unwrap(),
            Checkout::QrCode("weixin://wxpay/bizpayurl?pr=x".into())
        );
        let ip = Some(std::net::IpAddr::from([203, 0, 113, 7]));
        let h5 = gateway(&[(200, r#"{"h5_url":"https://wx.tenpay.com/x?prepay_id=1"}"#)], false);
        assert_eq!(
            h5.create(&request(Device::Phone, ip)).await.unwrap(),
            Checkout::Redirect(
                "https://wx.tenpay.com/x?prepay_id=1&redirect_url=https%3A%2F%2Fkabao.example%2Fo%2FKB1".into()
            )
        );
        let no_ip = gateway(&[], false).create(&request(Device::Phone, None)).await;
        assert!(matches!(no_ip, Err(GatewayError::Config(_))), "{no_ip:?}");
        let odd =
            gateway(&[(200, r#"{"h5_url":"javascript:alert(1)"}"#)], false).create(&request(Device::Phone, ip)).await;
        assert!(matches!(odd, Err(GatewayError::BadAnswer(_))), "{odd:?}");
    }

    #[test]
    fn encode_keeps_unreserved_characters_and_escapes_the_rest() {
        assert_eq!(encode("KB2026-x_y.z~"), "KB2026-x_y.z~");
        assert_eq!(encode("https://k.example/o/1?a=b"), "https%3A%2F%2Fk.example%2Fo%2F1%3Fa%3Db");
        assert_eq!(encode("卡"), "%E5%8D%A1");
    }

    #[test]
    fn descriptions_are_cut_by_characters_not_bytes() {
        let long = "卡".repeat(200);
        assert_eq!(truncate_chars(&long, MAX_DESCRIPTION_CHARS).chars().count(), 127);
    }
}
