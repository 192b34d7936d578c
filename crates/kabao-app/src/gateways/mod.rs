//! The payments port: every way money comes in — the wallet, the demo sandbox, 易支付, Alipay and WeChat Pay —
//! behind one [`Gateway`] trait (start a payment, verify a notification, query a trade, refund it), each adapter
//! in its own file. Adding a gateway is one file here and one line in [`Gateways::from_config`].
//!
//! Adapters speak HTTP through [`HttpPort`], which `kabao-rails` implements with reqwest: this crate stays free
//! of HTTP, and the signing, parsing and checking of every gateway's protocol lives with its adapter.

pub mod alipay;
pub mod epay;
pub mod sandbox;
pub mod wallet;
pub mod wechatpay;

use kabao_core::payments::NotifyError;
use kabao_core::{Lang, Money, Timestamp};
use kabao_store::Payment;
use std::sync::Arc;
use std::time::Duration;

/// What the payer is on: a page pay for a desktop, a phone flow (wap pay, H5) for a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Phone,
}

impl Device {
    /// From a `User-Agent`: phones and tablets say so (`Mobile`, `Android`, `iPhone`, `iPad`, `MicroMessenger`).
    pub fn from_user_agent(ua: Option<&str>) -> Device {
        let ua = ua.unwrap_or_default();
        let phone =
            ["Mobile", "Android", "iPhone", "iPad", "MicroMessenger", "HarmonyOS"].iter().any(|m| ua.contains(m));
        if phone {
            Device::Phone
        } else {
            Device::Desktop
        }
    }
}

/// What starting a payment asks of the payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkout {
    /// Send the payer's browser to this URL (Alipay page/wap pay, WeChat H5, 易支付, the sandbox's payer page).
    Redirect(String),
    /// Show this content as a QR code for the payer to scan (WeChat Native pay's `code_url`).
    QrCode(String),
    /// Nothing to do at a gateway: the wallet pays in the same transaction.
    Wallet,
}

/// A payment to start at a gateway.
#[derive(Debug, Clone)]
pub struct PayRequest<'a> {
    pub payment: &'a Payment,
    /// What the payer sees at the gateway (the product's title).
    pub subject: &'a str,
    pub device: Device,
    /// The payer's address (WeChat H5 requires it).
    pub client_ip: Option<std::net::IpAddr>,
    /// Where the gateway sends the payer back (our order page); never proof of payment.
    pub return_url: String,
}

/// A notification as it arrived: headers (names lower-case), the raw query string and the raw body.
#[derive(Debug, Clone, Copy)]
pub struct NotifyRequest<'a> {
    pub headers: &'a [(String, String)],
    pub query: &'a str,
    pub body: &'a [u8],
}

impl NotifyRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A notification whose signature and merchant were checked: a payment the gateway says is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotify {
    /// Identifies this payment event at the gateway; a second notification with it is a duplicate.
    pub notification_id: String,
    /// Our trade number.
    pub trade_no: String,
    /// The gateway's trade number.
    pub gateway_trade_no: String,
    pub amount: Money,
    /// The payer's account at the gateway, when reported.
    pub payer: Option<String>,
}

/// What a notification is answered with, by outcome: the gateway's own "received" and "retry" words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyAck {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// A trade as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeState {
    /// Paid: the gateway's trade number and the amount it took.
    Paid { gateway_trade_no: String, amount: Money },
    /// Created, waiting for the payer.
    Unpaid,
    /// Closed without payment, or fully refunded.
    Closed,
    /// The gateway does not know the trade (yet).
    NotFound,
}

/// A paid trade in a day's list (reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub trade_no: String,
    pub gateway_trade_no: String,
    pub amount: Money,
}

/// A refund to ask of a gateway. `refund_no` is ours and stable across retries: the gateway pays one refund
/// per number, however often it is asked.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    pub refund_no: &'a str,
    pub trade_no: &'a str,
    pub gateway_trade_no: Option<&'a str>,
    /// What the payer paid in the trade (WeChat wants it with every refund).
    pub total: Money,
    pub amount: Money,
    pub reason: &'a str,
}

/// What a gateway said of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The money is on its way back to the payer.
    Done { gateway_refund_no: Option<String> },
    /// Accepted, not finished: ask again later (same number).
    Processing,
    /// The gateway will not refund this (trade too old, closed, insufficient balance…): the money goes to the
    /// buyer's wallet instead, with this reason recorded.
    Refused { reason: String },
}

/// A transfer to a payee (a merchant's withdrawal) to ask of a gateway; `out_biz_no` is ours and idempotent.
#[derive(Debug, Clone)]
pub struct TransferRequest<'a> {
    pub out_biz_no: &'a str,
    pub amount: Money,
    /// The payee's account at the gateway (an Alipay login id) and real name.
    pub account: &'a str,
    pub name: &'a str,
    pub remark: &'a str,
}

/// What a gateway said of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    Done { gateway_order_id: String },
    Processing,
    Refused { reason: String },
}

/// Why a gateway call gave nothing to act on.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// This gateway does not do that (the wallet has no notifications, 易支付 no refunds…).
    #[error("not supported by this gateway")]
    Unsupported,
    /// Not reached, timed out, or answered with an HTTP error: try again later.
    #[error("gateway unreachable: {0}")]
    Unreachable(String),
    /// An answer that cannot be believed: badly signed, malformed, about another merchant or trade.
    #[error("gateway answer refused: {0}")]
    BadAnswer(String),
    /// A notification refused: unsigned, badly signed, stale, not ours, not a success, malformed.
    #[error("notification refused: {0}")]
    Notify(#[from] NotifyError),
    /// A request we could not build (a key that does not load…): a configuration fault.
    #[error("gateway request could not be built: {0}")]
    Config(String),
}

/// How long one gateway call may take, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest gateway answer read.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// An HTTP request an adapter wants sent.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The answer: status, headers (names lower-case) and body (at most [`MAX_ANSWER_BYTES`]).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends adapters' HTTP requests (`kabao-rails` implements it with reqwest: [`CALL_TIMEOUT`], no redirects,
/// answers cut at [`MAX_ANSWER_BYTES`]). An `Err` is a transport failure, described without secrets.
#[async_trait::async_trait]
pub trait HttpPort: Send + Sync {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String>;
}

/// The port before anyone gave one: every call is unreachable (tests that never reach a gateway).
pub struct NoHttp;

#[async_trait::async_trait]
impl HttpPort for NoHttp {
    async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, String> {
        Err("no HTTP client was given to the gateways".into())
    }
}

/// One way money comes in. Implementations are stateless apart from their settings and the HTTP port.
#[async_trait::async_trait]
pub trait Gateway: Send + Sync {
    /// The name stored on payments and used in routes: `"alipay"`, `"wechatpay"`, `"epay"`, …
    fn id(&self) -> &'static str;
    /// The name a buyer reads.
    fn name(&self, lang: Lang) -> &'static str;
    /// Whether money paid through it can be refunded through it ([`Gateway::refund`]).
    fn refunds(&self) -> bool {
        false
    }
    /// Whether it pays payees ([`Gateway::transfer`]): an approved withdrawal to such a payee is transferred by
    /// the payouts job instead of paid by hand ([`crate::payouts`]).
    fn transfers(&self) -> bool {
        false
    }
    /// Starts paying `request.payment` at the gateway.
    async fn create(&self, request: &PayRequest<'_>) -> Result<Checkout, GatewayError>;
    /// Checks a notification's signature, merchant and status; the caller applies it once
    /// ([`crate::payments::settle_notification`]) with the amount checked against the payment.
    fn verify_notify(&self, request: &NotifyRequest<'_>, now: Timestamp) -> Result<VerifiedNotify, GatewayError> {
        let _ = (request, now);
        Err(GatewayError::Unsupported)
    }
    /// The answer to a notification: `ok` once it is applied (or was already), else the gateway's "retry".
    fn ack(&self, ok: bool) -> NotifyAck {
        NotifyAck {
            status: if ok { 200 } else { 400 },
            content_type: "text/plain; charset=utf-8",
            body: if ok { "success" } else { "fail" }.into(),
        }
    }
    /// Asks the gateway about one of our trades (reconciliation).
    async fn query(&self, trade_no: &str) -> Result<TradeState, GatewayError> {
        let _ = trade_no;
        Err(GatewayError::Unsupported)
    }
    /// Refunds (part of) a paid trade; retried with the same `refund_no` until it is done or refused.
    async fn refund(&self, request: &RefundRequest<'_>) -> Result<RefundOutcome, GatewayError> {
        let _ = request;
        Err(GatewayError::Unsupported)
    }
    /// Pays a payee (a merchant's withdrawal); retried with the same `out_biz_no`.
    async fn transfer(&self, request: &TransferRequest<'_>) -> Result<TransferOutcome, GatewayError> {
        let _ = request;
        Err(GatewayError::Unsupported)
    }
}

/// The gateways this server offers, in the order the pay page lists them.
#[derive(Clone, Default)]
pub struct Gateways {
    all: Vec<Arc<dyn Gateway>>,
}

impl Gateways {
    /// The configured gateways, speaking HTTP through `http`. The wallet is always there; the sandbox only in a
    /// demo; each real gateway only when fully configured.
    pub fn from_config(config: &crate::Config, http: Arc<dyn HttpPort>) -> Gateways {
        let mut all: Vec<Arc<dyn Gateway>> = vec![Arc::new(wallet::Wallet)];
        if let Some(c) = &config.sandbox {
            all.push(Arc::new(sandbox::Sandbox::new(c.clone())));
        }
        if let Some(c) = &config.epay {
            all.push(Arc::new(epay::Epay::new(c.clone(), http.clone())));
        }
        if let Some(c) = &config.alipay {
            all.push(Arc::new(alipay::Alipay::new(c.clone(), http.clone())));
        }
        if let Some(c) = &config.wechatpay {
            all.push(Arc::new(wechatpay::WechatPay::new(c.clone(), http.clone())));
        }
        Gateways { all }
    }

    /// These gateways with `gateway` added, or put in place of the one with its id (tests register their own).
    pub fn with(mut self, gateway: Arc<dyn Gateway>) -> Gateways {
        self.all.retain(|g| g.id() != gateway.id());
        self.all.push(gateway);
        self
    }

    /// A gateway by id, if configured here.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Gateway>> {
        self.all.iter().find(|g| g.id() == id)
    }

    /// Every configured gateway, the wallet first.
    pub fn all(&self) -> &[Arc<dyn Gateway>] {
        &self.all
    }

    /// The gateways a payer can be sent to (all but the wallet).
    pub fn external(&self) -> impl Iterator<Item = &Arc<dyn Gateway>> {
        self.all.iter().filter(|g| g.id() != wallet::WALLET)
    }
}
