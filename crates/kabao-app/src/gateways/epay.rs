//! 易支付, the aggregator protocol small card shops use: MD5-signed redirect and notification, and the
//! platform's order query (`api.php?act=order`). It has no refund API: money paid through it is refunded to the
//! buyer's wallet. The protocol's pieces are in [`crate::epay`] and [`kabao_core::payments`].

use super::{
    Checkout, Gateway, GatewayError, HttpPort, HttpRequest, NotifyRequest, PayRequest, TradeState, VerifiedNotify,
};
use crate::epay::{submit_url, EpayConfig, EPAY};
use kabao_core::payments::{epay_parse_query, epay_verify, EpayQueryAnswer, NotifyError};
use kabao_core::{Lang, Money, Timestamp};
use std::sync::Arc;

pub struct Epay {
    config: EpayConfig,
    http: Arc<dyn HttpPort>,
}

impl Epay {
    pub fn new(config: EpayConfig, http: Arc<dyn HttpPort>) -> Epay {
        Epay { config, http }
    }
}

/// The parameters of a notification: the query string of a GET, or the form body of a POST.
pub fn notify_params(request: &NotifyRequest<'_>) -> Result<Vec<(String, String)>, NotifyError> {
    let raw = if request.body.is_empty() {
        request.query.to_string()
    } else {
        String::from_utf8(request.body.to_vec()).map_err(|_| NotifyError::Malformed("body"))?
    };
    crate::epay::parse_params(&raw).ok_or(NotifyError::Malformed("parameters"))
}

#[async_trait::async_trait]
impl Gateway for Epay {
    fn id(&self) -> &'static str {
        EPAY
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("在线支付（易支付）", "Pay online (易支付)")
    }
    async fn create(&self, request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        Ok(Checkout::Redirect(submit_url(&self.config, request.payment, request.subject, "alipay")))
    }
    fn verify_notify(&self, request: &NotifyRequest<'_>, _now: Timestamp) -> Result<VerifiedNotify, GatewayError> {
        let params = notify_params(request)?;
        epay_verify(&params, &self.config.key)?;
        let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if get("pid") != Some(self.config.pid.as_str()) {
            return Err(NotifyError::Malformed("pid").into());
        }
        if get("trade_status") != Some("TRADE_SUCCESS") {
            return Err(NotifyError::Malformed("trade_status").into());
        }
        let trade_no = get("out_trade_no").ok_or(NotifyError::Malformed("out_trade_no"))?;
        let gateway_trade_no = get("trade_no").ok_or(NotifyError::Malformed("trade_no"))?;
        let money = get("money").ok_or(NotifyError::Malformed("money"))?;
        let amount = Money::parse_yuan(money).map_err(|_| NotifyError::Malformed("money"))?;
        // 易支付 has no notification id: its trade number identifies the payment event.
        Ok(VerifiedNotify {
            notification_id: gateway_trade_no.into(),
            trade_no: trade_no.into(),
            gateway_trade_no: gateway_trade_no.into(),
            amount,
            payer: None,
        })
    }
    /// `GET {api_url}?act=order&pid=…&key=…&out_trade_no=…`. The answer is unsigned; it is believed because it
    /// comes from the configured platform in answer to a query only the key holder can make, and only if it
    /// names our pid and trade.
    async fn query(&self, trade_no: &str) -> Result<TradeState, GatewayError> {
        let query = crate::epay::encode_params(&[
            ("act", "order"),
            ("pid", self.config.pid.as_str()),
            ("key", self.config.key.as_str()),
            ("out_trade_no", trade_no),
        ]);
        let sep = if self.config.api_url.contains('?') { '&' } else { '?' };
        let request = HttpRequest {
            method: "GET",
            url: format!("{}{sep}{query}", self.config.api_url),
            headers: vec![],
            body: vec![],
        };
        let answer = self.http.send(request).await.map_err(GatewayError::Unreachable)?;
        if !(200..300).contains(&answer.status) {
            return Err(GatewayError::Unreachable(format!("HTTP {}", answer.status)));
        }
        match epay_parse_query(&answer.body, &self.config.pid, trade_no) {
            Ok(EpayQueryAnswer::Paid { gateway_trade_no, amount }) => Ok(TradeState::Paid { gateway_trade_no, amount }),
            Ok(EpayQueryAnswer::Unpaid) => Ok(TradeState::Unpaid),
            Ok(EpayQueryAnswer::NotFound { .. }) => Ok(TradeState::NotFound),
            Err(e) => Err(GatewayError::BadAnswer(e.to_string())),
        }
    }
}
