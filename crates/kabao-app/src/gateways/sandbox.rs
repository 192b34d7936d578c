//! The demo sandbox: a simulated payer page and notifications signed like a real gateway's (timestamp +
//! HMAC-SHA256, see [`crate::payments`]). It refunds at once, so a demo shows refunds going back where the money
//! came from. It exists only in a demo or when configured on purpose.

use super::{
    Checkout, Gateway, GatewayError, NotifyAck, NotifyRequest, PayRequest, RefundOutcome, RefundRequest, TradeState,
    VerifiedNotify,
};
use crate::payments::{SandboxConfig, SandboxNotification, HEADER_SIGNATURE, HEADER_TIMESTAMP, SANDBOX};
use kabao_core::payments::{sandbox_verify, NotifyError};
use kabao_core::{Lang, Money, Timestamp};

pub struct Sandbox {
    config: SandboxConfig,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Sandbox {
        Sandbox { config }
    }
}

#[async_trait::async_trait]
impl Gateway for Sandbox {
    fn id(&self) -> &'static str {
        SANDBOX
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("沙箱支付（演示）", "Sandbox (demo)")
    }
    fn refunds(&self) -> bool {
        true
    }
    async fn create(&self, request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        Ok(Checkout::Redirect(format!("/pay/sandbox/{}", request.payment.trade_no)))
    }
    fn verify_notify(&self, request: &NotifyRequest<'_>, now: Timestamp) -> Result<VerifiedNotify, GatewayError> {
        let timestamp: i64 = request
            .header(HEADER_TIMESTAMP)
            .and_then(|t| t.trim().parse().ok())
            .ok_or(NotifyError::Malformed("timestamp header"))?;
        let signature = request.header(HEADER_SIGNATURE).ok_or(NotifyError::Malformed("signature header"))?;
        sandbox_verify(&self.config.secret, timestamp, request.body, signature, now.millis() / 1000)?;
        let n: SandboxNotification =
            serde_json::from_slice(request.body).map_err(|_| NotifyError::Malformed("body"))?;
        if n.status != "paid" {
            return Err(NotifyError::Malformed("status").into());
        }
        Ok(VerifiedNotify {
            notification_id: n.notification_id,
            trade_no: n.trade_no,
            gateway_trade_no: n.gateway_trade_no,
            amount: Money::from_fen(n.amount_fen),
            payer: n.payer.map(|p| p.trim().to_string()).filter(|p| !p.is_empty() && p.len() <= 128),
        })
    }
    fn ack(&self, ok: bool) -> NotifyAck {
        NotifyAck {
            status: if ok { 200 } else { 400 },
            content_type: "application/json",
            body: if ok { r#"{"ok":true}"# } else { r#"{"ok":false}"# }.into(),
        }
    }
    /// The sandbox keeps no trades of its own: our payment record is the whole truth.
    async fn query(&self, _trade_no: &str) -> Result<TradeState, GatewayError> {
        Ok(TradeState::NotFound)
    }
    /// Simulated: the refund is done at once.
    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, GatewayError> {
        Ok(RefundOutcome::Done { gateway_refund_no: Some(format!("SBXR{}", request.refund_no)) })
    }
}
