//! Alipay (支付宝开放平台, RSA2): page pay on a desktop and wap pay on a phone (a signed GET to the gateway),
//! the asynchronous notification (a signed form POST), and the server APIs — trade query, refund and transfer —
//! as signed form POSTs whose answers are believed only once their signature checks. The protocol's pieces
//! (keys, canonical string, answer extraction) are in [`kabao_core::alipay`].

use super::{
    Checkout, Device, Gateway, GatewayError, HttpPort, HttpRequest, NotifyAck, NotifyRequest, PayRequest,
    RefundOutcome, RefundRequest, TradeState, TransferOutcome, TransferRequest, VerifiedNotify,
};
use kabao_core::alipay::{signed_params, verify_answer, Answer, AnswerError, AppKey, Call, KeyError, PublicKey};
use kabao_core::payments::NotifyError;
use kabao_core::{Lang, Money, Timestamp};
use serde_json::json;
use std::sync::Arc;

pub const ALIPAY: &str = "alipay";

/// The production gateway.
pub const DEFAULT_GATEWAY_URL: &str = "https://openapi.alipay.com/gateway.do";
/// The open platform's sandbox.
pub const SANDBOX_GATEWAY_URL: &str = "https://openapi-sandbox.dl.alipaydev.com/gateway.do";

/// Where Alipay's notifications arrive, under the public URL.
pub const NOTIFY_PATH: &str = "/api/v1/gateways/alipay/notify";

/// Alipay settings (`[alipay]` in kabao.toml or `KABAO_ALIPAY_*`).
#[derive(Clone)]
pub struct AlipayConfig {
    pub app_id: String,
    /// The application's private key (PKCS#1 or PKCS#8, PEM or bare base64).
    pub app_private_key: String,
    /// Alipay's public key (SPKI, PEM or bare base64).
    pub alipay_public_key: String,
    /// The gateway, `https://openapi.alipay.com/gateway.do` (the sandbox's, or a test's).
    pub gateway_url: String,
    /// Our public base URL, for `notify_url` and `return_url`.
    pub public_url: String,
}

impl AlipayConfig {
    /// Loads both keys: a configuration whose keys do not load must not start.
    pub fn keys(&self) -> Result<(AppKey, PublicKey), KeyError> {
        Ok((AppKey::parse(&self.app_private_key)?, PublicKey::parse(&self.alipay_public_key)?))
    }

    /// `{public_url}/api/v1/gateways/alipay/notify`.
    pub fn notify_url(&self) -> String {
        format!("{}{NOTIFY_PATH}", self.public_url.trim_end_matches('/'))
    }
}

impl std::fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayConfig").field("app_id", &self.app_id).field("gateway_url", &self.gateway_url).finish()
    }
}

pub struct Alipay {
    config: AlipayConfig,
    /// Loaded once; the binary refuses to start when they do not load, so the error is for tests and embedders.
    keys: Result<(AppKey, PublicKey), KeyError>,
    http: Arc<dyn HttpPort>,
}

impl Alipay {
    pub fn new(config: AlipayConfig, http: Arc<dyn HttpPort>) -> Alipay {
        let keys = config.keys();
        Alipay { config, keys, http }
    }

    fn app_key(&self) -> Result<&AppKey, GatewayError> {
        self.keys.as_ref().map(|(k, _)| k).map_err(|e| GatewayError::Config(e.to_string()))
    }

    fn alipay_key(&self) -> Result<&PublicKey, GatewayError> {
        self.keys.as_ref().map(|(_, k)| k).map_err(|e| GatewayError::Config(e.to_string()))
    }

    /// The signed parameters of a call to `method`.
    fn params(
        &self,
        method: &str,
        biz_content: &serde_json::Value,
        notify_url: Option<&str>,
        return_url: Option<&str>,
    ) -> Result<Vec<(String, String)>, GatewayError> {
        let biz_content = biz_content.to_string();
        let call = Call {
            app_id: &self.config.app_id,
            method,
            now: wall_clock(),
            notify_url,
            return_url,
            biz_content: &biz_content,
        };
        Ok(signed_params(self.app_key()?, &call))
    }

    /// A server API call: the signed form POSTed to the gateway, the answer's signature checked before anything
    /// in it is read. Transport failures, HTTP errors and Alipay's "service unavailable" (20000, `*SYSTEM_ERROR`)
    /// are [`GatewayError::Unreachable`]: the caller retries with the same numbers.
    async fn call(&self, method: &str, biz_content: serde_json::Value) -> Result<Answer, GatewayError> {
        let params = self.params(method, &biz_content, None, None)?;
        let body = serde_urlencoded::to_string(&params).map_err(|e| GatewayError::Config(e.to_string()))?;
        let request = HttpRequest {
            method: "POST",
            url: self.config.gateway_url.clone(),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded; charset=utf-8".into())],
            body: body.into_bytes(),
        };
        let answer = self.http.send(request).await.map_err(GatewayError::Unreachable)?;
        if !(200..300).contains(&answer.status) {
            return Err(GatewayError::Unreachable(format!("{method}: HTTP {}", answer.status)));
        }
        let answer = match verify_answer(self.alipay_key()?, method, &answer.body) {
            Ok(a) => a,
            Err(AnswerError::Unsigned { code, sub_code }) if unavailable(&code, &sub_code) => {
                return Err(GatewayError::Unreachable(format!("{method}: {code} {sub_code}")));
            }
            Err(e) => return Err(GatewayError::BadAnswer(format!("{method}: {e}"))),
        };
        if unavailable(&answer.code, &answer.sub_code) {
            return Err(GatewayError::Unreachable(format!("{method}: {}", answer.reason())));
        }
        Ok(answer)
    }
}

/// Alipay's `timestamp` is checked against Alipay's own clock, so it is the real time, not the app's clock.
fn wall_clock() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// "Try again later": the service is unavailable (20000) or had a system error (`ACQ.SYSTEM_ERROR`,
/// `SYSTEM_ERROR`, `aop.ACQ.SYSTEM_ERROR`).
fn unavailable(code: &str, sub_code: &str) -> bool {
    code == "20000" || sub_code.ends_with("SYSTEM_ERROR")
}

/// A business refusal (40004): the gateway will not do this, retrying will not change it.
fn business_refusal(answer: &Answer) -> bool {
    answer.code == "40004"
}

fn amount(answer: &Answer, name: &str) -> Result<Money, GatewayError> {
    let text = answer.text(name).ok_or_else(|| GatewayError::BadAnswer(format!("no {name}")))?;
    Money::parse_yuan(&text).map_err(|_| GatewayError::BadAnswer(format!("{name} {text:?} is not an amount")))
}

#[async_trait::async_trait]
impl Gateway for Alipay {
    fn id(&self) -> &'static str {
        ALIPAY
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("支付宝", "Alipay")
    }
    fn refunds(&self) -> bool {
        true
    }
    /// Withdrawals to Alipay payees are paid with `alipay.fund.trans.uni.transfer`.
    fn transfers(&self) -> bool {
        true
    }

    /// `alipay.trade.page.pay` (desktop) or `alipay.trade.wap.pay` (phone): the payer's browser is sent to the
    /// gateway with the signed parameters in the URL.
    async fn create(&self, request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        let (method, product_code) = match request.device {
            Device::Desktop => ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
            Device::Phone => ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
        };
        let biz = json!({
            "out_trade_no": request.payment.trade_no,
            "total_amount": request.payment.amount.yuan_string(),
            "subject": request.subject,
            "product_code": product_code,
        });
        let notify_url = self.config.notify_url();
        let return_url = Some(request.return_url.as_str()).filter(|u| !u.is_empty());
        let params = self.params(method, &biz, Some(&notify_url), return_url)?;
        let query = serde_urlencoded::to_string(&params).map_err(|e| GatewayError::Config(e.to_string()))?;
        let sep = if self.config.gateway_url.contains('?') { '&' } else { '?' };
        Ok(Checkout::Redirect(format!("{}{sep}{query}", self.config.gateway_url)))
    }

    /// The form body, signed over every parameter but `sign` and `sign_type`; ours (`app_id`), a success
    /// (`TRADE_SUCCESS` or `TRADE_FINISHED`). It is identified by Alipay's trade number, not its `notify_id`:
    /// the trade number names the payment event (a retry, or `TRADE_FINISHED` after `TRADE_SUCCESS`, is a
    /// duplicate), and a validly signed notification carrying a trade number already applied to another of our
    /// payments is then caught as a reuse instead of paying a second order with the same money.
    fn verify_notify(&self, request: &NotifyRequest<'_>, _now: Timestamp) -> Result<VerifiedNotify, GatewayError> {
        let text = std::str::from_utf8(request.body).map_err(|_| NotifyError::Malformed("body"))?;
        let params: Vec<(String, String)> =
            serde_urlencoded::from_str(text).map_err(|_| NotifyError::Malformed("parameters"))?;
        kabao_core::alipay::verify_notify(self.alipay_key()?, &params)?;
        let get =
            |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
        if get("app_id") != Some(self.config.app_id.as_str()) {
            return Err(NotifyError::Malformed("app_id").into());
        }
        if !matches!(get("trade_status"), Some("TRADE_SUCCESS" | "TRADE_FINISHED")) {
            return Err(NotifyError::Malformed("trade_status").into());
        }
        let trade_no = get("out_trade_no").ok_or(NotifyError::Malformed("out_trade_no"))?;
        let gateway_trade_no = get("trade_no").ok_or(NotifyError::Malformed("trade_no"))?;
        let total = get("total_amount").ok_or(NotifyError::Malformed("total_amount"))?;
        let amount = Money::parse_yuan(total).map_err(|_| NotifyError::Malformed("total_amount"))?;
        let payer = get("buyer_logon_id").or_else(|| get("buyer_id")).filter(|p| p.len() <= 128).map(str::to_string);
        Ok(VerifiedNotify {
            notification_id: gateway_trade_no.into(),
            trade_no: trade_no.into(),
            gateway_trade_no: gateway_trade_no.into(),
            amount,
            payer,
        })
    }

    /// Alipay stops retrying on the plain text `success`; anything else is retried (up to 25 hours).
    fn ack(&self, ok: bool) -> NotifyAck {
        NotifyAck {
            status: if ok { 200 } else { 400 },
            content_type: "text/plain; charset=utf-8",
            body: if ok { "success" } else { "fail" }.into(),
        }
    }

    /// `alipay.trade.query` by our trade number.
    async fn query(&self, trade_no: &str) -> Result<TradeState, GatewayError> {
        let answer = self.call("alipay.trade.query", json!({ "out_trade_no": trade_no })).await?;
        if !answer.is_success() {
            if answer.sub_code == "ACQ.TRADE_NOT_EXIST" {
                return Ok(TradeState::NotFound);
            }
            return Err(GatewayError::BadAnswer(format!("alipay.trade.query: {}", answer.reason())));
        }
        if answer.text("out_trade_no").is_some_and(|t| t != trade_no) {
            return Err(GatewayError::BadAnswer("alipay.trade.query: the answer is about another trade".into()));
        }
        match answer.text("trade_status").as_deref() {
            Some("WAIT_BUYER_PAY") => Ok(TradeState::Unpaid),
            Some("TRADE_CLOSED") => Ok(TradeState::Closed),
            Some("TRADE_SUCCESS" | "TRADE_FINISHED") => {
                let gateway_trade_no =
                    answer.text("trade_no").ok_or_else(|| GatewayError::BadAnswer("no trade_no".into()))?;
                Ok(TradeState::Paid { gateway_trade_no, amount: amount(&answer, "total_amount")? })
            }
            other => Err(GatewayError::BadAnswer(format!("alipay.trade.query: trade_status {other:?}"))),
        }
    }

    /// `alipay.trade.refund` with `out_request_no` = our refund number: Alipay refunds once per number, so a
    /// retry after a lost answer never pays twice (it answers success again, `fund_change` `N`).
    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, GatewayError> {
        let mut biz = json!({
            "out_trade_no": request.trade_no,
            "refund_amount": request.amount.yuan_string(),
            "out_request_no": request.refund_no,
            "refund_reason": request.reason,
        });
        if let Some(no) = request.gateway_trade_no {
            biz["trade_no"] = json!(no);
        }
        let answer = self.call("alipay.trade.refund", biz).await?;
        if answer.is_success() {
            if answer.text("out_trade_no").is_some_and(|t| t != request.trade_no) {
                return Err(GatewayError::BadAnswer("alipay.trade.refund: the answer is about another trade".into()));
            }
            tracing::info!(
                refund_no = request.refund_no,
                fund_change = answer.text("fund_change").unwrap_or_default(),
                "alipay refund accepted"
            );
            return Ok(RefundOutcome::Done { gateway_refund_no: None });
        }
        if business_refusal(&answer) {
            return Ok(RefundOutcome::Refused { reason: answer.reason() });
        }
        Err(GatewayError::BadAnswer(format!("alipay.trade.refund: {}", answer.reason())))
    }

    /// `alipay.fund.trans.uni.transfer` to an Alipay login id, with `out_biz_no` ours: Alipay transfers once per
    /// number.
    async fn transfer(&self, request: &TransferRequest<'_>) -> Result<TransferOutcome, GatewayError> {
        let biz = json!({
            "out_biz_no": request.out_biz_no,
            "trans_amount": request.amount.yuan_string(),
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
            "order_title": request.remark,
            "payee_info": {
                "identity": request.account,
                "identity_type": "ALIPAY_LOGON_ID",
                "name": request.name,
            },
        });
        let answer = self.call("alipay.fund.trans.uni.transfer", biz).await?;
        if answer.is_success() {
            if answer.text("out_biz_no").is_some_and(|t| t != request.out_biz_no) {
                return Err(GatewayError::BadAnswer("transfer: the answer is about another transfer".into()));
            }
            return match answer.text("status").as_deref() {
                Some("SUCCESS") => {
                    let order_id = answer
                        .text("order_id")
                        .ok_or_else(|| GatewayError::BadAnswer("transfer: no order_id".into()))?;
                    Ok(TransferOutcome::Done { gateway_order_id: order_id })
                }
                Some("FAIL") => Ok(TransferOutcome::Refused { reason: answer.reason() }),
                _ => Ok(TransferOutcome::Processing),
            };
        }
        if business_refusal(&answer) {
            return Ok(TransferOutcome::Refused { reason: answer.reason() });
        }
        Err(GatewayError::BadAnswer(format!("alipay.fund.trans.uni.transfer: {}", answer.reason())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateways::HttpResponse;
    use kabao_core::alipay::canonical;
    use std::sync::Mutex;

    /// A throwaway 1024-bit key pair: here both the application's and "Alipay's" (the answers are signed with it).
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAKqr6O61t9e/HYmZ\nIc1neNKgYkRorFAi+E+5C+2ekp4WYJA1eoG5vQ9kR0ti3+RX4jcSEPHkyUrdvV1O\njmX0iow6GnT695yi8aJM5UCnUUFL8X0/UxvCw74HSSoStFzKTiAXaYeVr+WLAbY7\nss56yRnP0phHOp0NbUr3KK2zTTD3AgMBAAECgYEAlofXg6t9AeoLmFAa0zr/Au74\nnROhX3DoiBBTJ/qjoJFmC+tPKNn0mX29sAz+Ij0tRZtGnMNIkyKuIXzm9Z/RDdm1\nmVTwLbOBC/80Atwj2PUrAZOFle4lsTs2hBO9mXbINkMSRurnLsfqtODCKhsValUZ\ngYbWAFxoMpoxS600IaECQQDfCIrYE+8eFZvfMV7R+ry30H3MMRo/81vyaeU4RS/D\nB4BDDcpX5myqnVRgvFFIjzW1mr7Rbirbmr5ipoAj+tNHAkEAw+YGT2a98CYt5/Oo\nOO40gDMFGT1zC54z5wjpefQaIP7dHC2rp1WmkYIJ5GRDRTXS0Z3x03q809p2o09k\noVWs0QJBAJfLfJPrnUbgdiHFvD81Y9PG9pdOpAr6Wo32PKe7jvIx3L3GWPzSOwsz\n4QWlpby4m1lqZIytakXkX8dMgtH6GGkCQAUIoBjiNvc4w+014Zi05jx1Eyh238Ho\nqsTBAd7UWueGJQBYXBTMqp8KjF6GBQR+QZCJUnFwsfFvp6TCoX9TyEECQBOaOKnc\nLj0vwxaUK0OWns/CiL28O3rmuM0RcatI1ZrNS6K3UNni+JOOdmWdVWcVK21gwDZl\niDqbPkfdFvhso0o=\n-----END PRIVATE KEY-----";
    const PUBLIC: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCqq+jutbfXvx2JmSHNZ3jSoGJEaKxQIvhPuQvtnpKeFmCQNXqBub0PZEdLYt/kV+I3EhDx5MlK3b1dTo5l9IqMOhp0+vecovGiTOVAp1FBS/F9P1MbwsO+B0kqErRcyk4gF2mHla/liwG2O7LOeskZz9KYRzqdDW1K9yits00w9wIDAQAB";

    /// Answers every call with the next scripted answer and keeps the requests.
    struct Scripted {
        answers: Mutex<Vec<Result<HttpResponse, String>>>,
        requests: Mutex<Vec<HttpRequest>>,
    }

    #[async_trait::async_trait]
    impl HttpPort for Scripted {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
            self.requests.lock().unwrap().push(request);
            self.answers.lock().unwrap().remove(0)
        }
    }

    fn config() -> AlipayConfig {
        AlipayConfig {
            app_id: "2021000000000000".into(),
            app_private_key: KEY.into(),
            alipay_public_key: PUBLIC.into(),
            gateway_url: "https://openapi.alipay.example/gateway.do".into(),
            public_url: "https://kabao.example/".into(),
        }
    }

    fn signed(method: &str, member: &str) -> Result<HttpResponse, String> {
        let sign = AppKey::parse(KEY).unwrap().sign(member);
        let body = format!(r#"{{"{}":{member},"sign":"{sign}"}}"#, kabao_core::alipay::response_name(method));
        Ok(HttpResponse { status: 200, headers: vec![], body: body.into_bytes() })
    }

    fn gateway(answers: Vec<Result<HttpResponse, String>>) -> (Alipay, Arc<Scripted>) {
        let port = Arc::new(Scripted { answers: Mutex::new(answers), requests: Mutex::new(vec![]) });
        (Alipay::new(config(), port.clone()), port)
    }

    fn refund_request() -> RefundRequest<'static> {
        RefundRequest {
            refund_no: "RF-1",
            trade_no: "P1",
            gateway_trade_no: Some("2026000000000001"),
            total: Money::from_fen(990),
            amount: Money::from_fen(990),
            reason: "质保",
        }
    }

    #[tokio::test]
    async fn refund_answers_map_to_done_refused_or_retry() {
        let m = "alipay.trade.refund";
        let (g, port) = gateway(vec![
            signed(m, r#"{"code":"10000","msg":"Success","out_trade_no":"P1","fund_change":"Y"}"#),
            signed(m, r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SELLER_BALANCE_NOT_ENOUGH","sub_msg":"卖家余额不足"}"#),
            signed(m, r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SYSTEM_ERROR","sub_msg":"系统错误"}"#),
            Ok(HttpResponse { status: 200, headers: vec![], body: br#"{"alipay_trade_refund_response":{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error"}}"#.to_vec() }),
            Ok(HttpResponse { status: 502, headers: vec![], body: vec![] }),
            Err("connection reset".into()),
            signed(m, r#"{"code":"10000","msg":"Success","out_trade_no":"P2","fund_change":"Y"}"#),
            Ok(HttpResponse { status: 200, headers: vec![], body: br#"{"alipay_trade_refund_response":{"code":"10000","out_trade_no":"P1"},"sign":"AAAA"}"#.to_vec() }),
        ]);
        assert_eq!(g.refund(&refund_request()).await.unwrap(), RefundOutcome::Done { gateway_refund_no: None });
        match g.refund(&refund_request()).await.unwrap() {
            RefundOutcome::Refused { reason } => assert_eq!(reason, "ACQ.SELLER_BALANCE_NOT_ENOUGH 卖家余额不足"),
            other => panic!("{other:?}"),
        }
        for _ in 0..4 {
            assert!(matches!(g.refund(&refund_request()).await, Err(GatewayError::Unreachable(_))));
        }
        assert!(matches!(g.refund(&refund_request()).await, Err(GatewayError::BadAnswer(_))), "another trade");
        assert!(matches!(g.refund(&refund_request()).await, Err(GatewayError::BadAnswer(_))), "bad signature");
        let requests = port.requests.lock().unwrap();
        let first = &requests[0];
        assert_eq!(first.method, "POST");
        assert!(first
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("application/x-www-form-urlencoded")));
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&first.body).unwrap();
        let biz = params.iter().find(|(k, _)| k == "biz_content").unwrap();
        assert!(biz.1.contains(r#""out_request_no":"RF-1""#) && biz.1.contains(r#""refund_amount":"9.90""#));
        let sign = &params.iter().find(|(k, _)| k == "sign").unwrap().1;
        assert!(PublicKey::parse(PUBLIC).unwrap().verify(&canonical(&params, &["sign"]), sign));
    }

    #[tokio::test]
    async fn query_and_transfer_states() {
        let (g, _) = gateway(vec![
            signed(
                "alipay.trade.query",
                r#"{"code":"10000","msg":"Success","out_trade_no":"P1","trade_status":"TRADE_CLOSED","total_amount":"9.90"}"#,
            ),
            signed(
                "alipay.trade.query",
                r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}"#,
            ),
            signed(
                "alipay.trade.query",
                r#"{"code":"10000","msg":"Success","out_trade_no":"P9","trade_status":"TRADE_SUCCESS","total_amount":"9.90","trade_no":"1"}"#,
            ),
            signed(
                "alipay.fund.trans.uni.transfer",
                r#"{"code":"10000","msg":"Success","out_biz_no":"W1","order_id":"1","status":"DEALING"}"#,
            ),
        ]);
        assert_eq!(g.query("P1").await.unwrap(), TradeState::Closed);
        assert_eq!(g.query("P1").await.unwrap(), TradeState::NotFound);
        assert!(matches!(g.query("P1").await, Err(GatewayError::BadAnswer(_))), "an answer about another trade");
        let t = TransferRequest {
            out_biz_no: "W1",
            amount: Money::from_fen(100),
            account: "a@example.com",
            name: "张三",
            remark: "提现",
        };
        assert_eq!(g.transfer(&t).await.unwrap(), TransferOutcome::Processing);
    }

    #[tokio::test]
    async fn create_redirects_with_a_signed_page_or_wap_pay() {
        let (g, _) = gateway(vec![]);
        let payment = kabao_store::Payment {
            id: 1,
            gateway: ALIPAY.into(),
            trade_no: "P1".into(),
            purpose: kabao_store::PaymentPurpose::Order(kabao_core::ledger::OrderId(1)),
            amount: Money::from_fen(990),
            state: kabao_store::PaymentState::Pending,
            gateway_trade_no: None,
            created_at: Timestamp::from_millis(0),
            paid_at: None,
        };
        for (device, method) in [(Device::Desktop, "alipay.trade.page.pay"), (Device::Phone, "alipay.trade.wap.pay")] {
            let request = PayRequest {
                payment: &payment,
                subject: "Kabao O1",
                device,
                client_ip: None,
                return_url: "https://kabao.example/o/O1".into(),
            };
            let Checkout::Redirect(url) = g.create(&request).await.unwrap() else { panic!("a redirect") };
            let (base, query) = url.split_once('?').unwrap();
            assert_eq!(base, "https://openapi.alipay.example/gateway.do");
            let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
            let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap_or_default();
            assert_eq!(get("method"), method);
            assert_eq!(get("notify_url"), "https://kabao.example/api/v1/gateways/alipay/notify");
            assert_eq!(get("return_url"), "https://kabao.example/o/O1");
            assert!(PublicKey::parse(PUBLIC).unwrap().verify(&canonical(&params, &["sign"]), &get("sign")));
        }
    }

    #[test]
    fn notifications_must_be_signed_ours_and_a_success() {
        let (g, _) = gateway(vec![]);
        let body = |app_id: &str, status: &str| {
            let mut params: Vec<(String, String)> = [
                ("notify_id", "n1"),
                ("app_id", app_id),
                ("out_trade_no", "P1"),
                ("trade_no", "2026000000000001"),
                ("total_amount", "9.90"),
                ("trade_status", status),
                ("buyer_logon_id", "buy***@example.com"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            params.push(("sign".into(), AppKey::parse(KEY).unwrap().sign(&canonical(&params, &[]))));
            params.push(("sign_type".into(), "RSA2".into()));
            serde_urlencoded::to_string(&params).unwrap()
        };
        let verify = |body: &str| {
            g.verify_notify(
                &NotifyRequest { headers: &[], query: "", body: body.as_bytes() },
                Timestamp::from_millis(0),
            )
        };
        let n = verify(&body("2021000000000000", "TRADE_SUCCESS")).unwrap();
        assert_eq!(
            (n.notification_id.as_str(), n.trade_no.as_str(), n.amount),
            ("2026000000000001", "P1", Money::from_fen(990))
        );
        assert!(verify(&body("2021000000000000", "TRADE_FINISHED")).is_ok());
        assert!(verify(&body("2021000000000099", "TRADE_SUCCESS")).is_err(), "another app");
        assert!(verify(&body("2021000000000000", "WAIT_BUYER_PAY")).is_err(), "not a success");
        assert!(verify(&body("2021000000000000", "TRADE_SUCCESS").replace("9.90", "9.80")).is_err(), "changed");
        assert!(verify("").is_err());
    }
}
