//! Payments: wallet top-ups and direct order payments through a gateway, and the gateway's signed
//! asynchronous notifications — verified, applied exactly once however often they arrive.
//! The sandbox gateway exists only in a demo (`serve --demo`) or when configured on purpose; it signs like a real
//! gateway (timestamp + HMAC-SHA256). With neither it nor 易支付 configured, nothing can be paid by gateway.

use crate::idempotency::IdempotencyError;
use crate::orders::{append_event, apply_payment, OrderError, PaymentSource};
use crate::App;
use kabao_core::events::OrderEvent;
use kabao_core::ledger::{self, Account, LedgerError, OrderId};
use kabao_core::order::OrderState;
use kabao_core::payments::{sandbox_sign, sandbox_verify, NotifyError};
use kabao_core::{Lang, Localized, Money, UserId};
use kabao_store::{NewPayment, Payment, PaymentPurpose, PaymentState, StoreError, TxMode};
use rand::RngCore;
use serde::{Deserialize, Serialize};

pub const SANDBOX: &str = "sandbox";
pub const HEADER_TIMESTAMP: &str = "kabao-timestamp";
pub const HEADER_SIGNATURE: &str = "kabao-signature";
/// Largest top-up accepted at once: ¥50,000.
pub const MAX_TOP_UP: Money = Money::from_fen(5_000_000);

/// The sandbox gateway's settings, present only when it is on.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Signs the simulated gateway's notifications.
    pub secret: Vec<u8>,
}

impl SandboxConfig {
    /// A sandbox with a random secret (it only has to outlive the process: the simulated payer is in it).
    pub fn random() -> SandboxConfig {
        let mut secret = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        SandboxConfig { secret }
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SandboxConfig { secret: <redacted> }")
    }
}

/// Why a payment could not be started, or a gateway's notification was refused.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No payment gateway is configured: nothing can be paid in, so nothing is started.
    #[error("no payment gateway is configured")]
    NoGateway,
    #[error("top-ups must be between ¥0.01 and ¥50,000")]
    TopUpInvalid,
    /// The sandbox gateway is off: its endpoint does not exist.
    #[error("the sandbox gateway is off")]
    SandboxOff,
    /// A sandbox notification refused: unsigned, badly signed, stale or malformed.
    #[error(transparent)]
    Notify(NotifyError),
    #[error("payment not found")]
    PaymentNotFound,
    /// No such gateway is configured here.
    #[error("no such payment gateway")]
    UnknownGateway,
    /// A gateway refused or could not be asked (a notification badly signed, a payment it would not start).
    #[error(transparent)]
    Gateway(crate::gateways::GatewayError),
    #[error("the notified amount does not match the payment")]
    AmountMismatch,
    /// Applying the payment to its order failed.
    #[error(transparent)]
    Order(Box<OrderError>),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    /// A ledger transaction could not be built (a rule broken by a bug, never by the payer).
    #[error("ledger: {0}")]
    Ledger(LedgerError),
    #[error("payment {0} vanished")]
    PaymentVanished(i64),
    #[error("paid order {0:?} vanished")]
    OrderVanished(OrderId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OrderError> for PaymentError {
    fn from(e: OrderError) -> Self {
        PaymentError::Order(Box::new(e))
    }
}

impl Localized for PaymentError {
    fn code(&self) -> &'static str {
        match self {
            PaymentError::NoGateway => "payment.no_gateway",
            PaymentError::TopUpInvalid => "wallet.top_up_invalid",
            PaymentError::SandboxOff => "request.not_found",
            PaymentError::Notify(NotifyError::Stale) => "gateway.stale",
            PaymentError::Notify(NotifyError::BadSignature | NotifyError::NoKey) => "gateway.bad_signature",
            PaymentError::Notify(NotifyError::Malformed(_)) => "gateway.malformed",
            PaymentError::PaymentNotFound => "payment.not_found",
            PaymentError::UnknownGateway => "request.not_found",
            PaymentError::Gateway(crate::gateways::GatewayError::Notify(NotifyError::Stale)) => "gateway.stale",
            PaymentError::Gateway(crate::gateways::GatewayError::Notify(
                NotifyError::BadSignature | NotifyError::NoKey,
            )) => "gateway.bad_signature",
            PaymentError::Gateway(crate::gateways::GatewayError::Notify(NotifyError::Malformed(_))) => {
                "gateway.malformed"
            }
            PaymentError::Gateway(crate::gateways::GatewayError::Unreachable(_)) => "gateway.unreachable",
            PaymentError::Gateway(_) => "gateway.refused",
            PaymentError::AmountMismatch => "gateway.amount_mismatch",
            PaymentError::Order(e) => e.code(),
            PaymentError::Idempotency(e) => e.code(),
            PaymentError::Ledger(_)
            | PaymentError::PaymentVanished(_)
            | PaymentError::OrderVanished(_)
            | PaymentError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            PaymentError::NoGateway => Some("epay_pid"),
            PaymentError::TopUpInvalid => Some("amount_fen"),
            PaymentError::Notify(NotifyError::Malformed(_)) => Some("body"),
            PaymentError::AmountMismatch => Some("amount"),
            PaymentError::Order(e) => e.field(),
            PaymentError::Idempotency(e) => e.field(),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            PaymentError::NoGateway => lang.pick(
                concat!(
                    "未配置支付网关：请设置 epay_pid / epay_key / epay_submit_url（易支付），",
                    "或仅在演示环境开启 payments.sandbox.enabled"
                ),
                concat!(
                    "No payment gateway is configured: set epay_pid / epay_key / epay_submit_url (易支付), ",
                    "or, for a demo only, payments.sandbox.enabled"
                ),
            ),
            PaymentError::TopUpInvalid => {
                lang.pick("充值金额需在 ¥0.01 到 ¥50,000 之间", "Top-ups must be between ¥0.01 and ¥50,000")
            }
            PaymentError::SandboxOff | PaymentError::PaymentNotFound | PaymentError::UnknownGateway => {
                lang.pick("找不到该内容", "Not found")
            }
            PaymentError::Gateway(crate::gateways::GatewayError::Notify(e)) => {
                return PaymentError::Notify(e.clone()).message(lang)
            }
            PaymentError::Gateway(crate::gateways::GatewayError::Unreachable(_)) => {
                lang.pick("支付网关暂时无法连接，请稍后再试", "The payment gateway cannot be reached; try again later")
            }
            PaymentError::Gateway(e) => {
                return match lang {
                    Lang::Zh => format!("支付网关拒绝了请求：{e}"),
                    Lang::En => format!("The payment gateway refused: {e}"),
                }
            }
            PaymentError::Notify(NotifyError::Stale) => {
                lang.pick("通知已过期（时间戳超出 ±300 秒）", "Notification timestamp outside the ±300 s window")
            }
            PaymentError::Notify(NotifyError::BadSignature | NotifyError::NoKey) => {
                lang.pick("通知签名无效", "Invalid notification signature")
            }
            PaymentError::Notify(NotifyError::Malformed(what)) => {
                return match lang {
                    Lang::Zh => format!("通知格式错误：{what}"),
                    Lang::En => format!("Malformed notification: {what}"),
                }
            }
            PaymentError::AmountMismatch => {
                lang.pick("通知金额与订单金额不符，已拒绝", "The notified amount does not match the payment; refused")
            }
            PaymentError::Order(e) => return e.message(lang),
            PaymentError::Idempotency(e) => return e.message(lang),
            PaymentError::Ledger(_)
            | PaymentError::PaymentVanished(_)
            | PaymentError::OrderVanished(_)
            | PaymentError::Store(_) => crate::error::internal_words(lang),
        }
        .into()
    }
}

/// The gateway a new top-up goes through: the sandbox in a demo, else 易支付, else none (409 naming the settings).
pub fn top_up_gateway(state: &App) -> Result<&'static str, PaymentError> {
    if state.config.sandbox.is_some() {
        Ok(SANDBOX)
    } else if state.config.epay.is_some() {
        Ok(crate::epay::EPAY)
    } else {
        Err(PaymentError::NoGateway)
    }
}

/// Where the payer completes a payment: the sandbox's payer page, or the 易支付 platform's submit URL.
pub fn pay_url(state: &App, payment: &Payment, name: &str) -> Result<String, PaymentError> {
    match (payment.gateway.as_str(), &state.config.epay) {
        (SANDBOX, _) if state.config.sandbox.is_some() => Ok(format!("/pay/sandbox/{}", payment.trade_no)),
        (crate::epay::EPAY, Some(cfg)) => Ok(crate::epay::submit_url(cfg, payment, name, "alipay")),
        _ => Err(PaymentError::NoGateway),
    }
}

fn random_ref(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// Starts a payment through a named gateway.
pub async fn start_with(
    state: &App,
    gateway: &str,
    purpose: PaymentPurpose,
    amount: Money,
    run: &dyn crate::idempotency::Completion<Payment>,
) -> Result<Payment, PaymentError> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    let new =
        NewPayment { gateway: gateway.into(), trade_no: random_ref("P"), purpose, amount, created_at: state.now() };
    let id = tx.insert_payment(&new).await?;
    let p = tx.payment_by_trade_no(&new.trade_no).await?.ok_or(PaymentError::PaymentVanished(id))?;
    run.complete(&mut *tx, &p, state.now()).await?;
    tx.commit().await?;
    Ok(p)
}

/// Starts a wallet top-up (a keyed API request stores its answer with the payment, see [`crate::idempotency`]).
pub async fn start_top_up(
    state: &App,
    user: UserId,
    amount: Money,
    run: &dyn crate::idempotency::Completion<Payment>,
) -> Result<Payment, PaymentError> {
    let gateway = top_up_gateway(state)?;
    if !amount.is_positive() || amount > MAX_TOP_UP {
        return Err(PaymentError::TopUpInvalid);
    }
    start_with(state, gateway, PaymentPurpose::TopUp(user), amount, run).await
}

/// The body of a sandbox notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxNotification {
    pub notification_id: String,
    pub trade_no: String,
    pub gateway_trade_no: String,
    pub amount_fen: i64,
    pub status: String,
    /// The payer's account at the gateway, when the gateway reports it (a buyer-abuse signal counts accounts
    /// paying from one payer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
}

/// What the sandbox's simulated payer sends: (timestamp, body, signature).
pub fn sandbox_notification(state: &App, payment: &Payment, timestamp_s: i64) -> (i64, Vec<u8>, String) {
    sandbox_notification_from(state, payment, timestamp_s, None)
}

/// [`sandbox_notification`] from a named payer account.
pub fn sandbox_notification_from(
    state: &App,
    payment: &Payment,
    timestamp_s: i64,
    payer: Option<String>,
) -> (i64, Vec<u8>, String) {
    let n = SandboxNotification {
        notification_id: random_ref("N"),
        trade_no: payment.trade_no.clone(),
        gateway_trade_no: random_ref("SBX"),
        amount_fen: payment.amount.fen(),
        status: "paid".into(),
        payer,
    };
    let body = serde_json::to_vec(&n).unwrap_or_default();
    // Without a sandbox there is no key: the empty one signs nothing the verifier accepts.
    let secret = state.config.sandbox.as_ref().map(|s| s.secret.as_slice()).unwrap_or_default();
    let sig = sandbox_sign(secret, timestamp_s, &body);
    (timestamp_s, body, sig)
}

/// What became of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOutcome {
    Applied,
    /// Seen before (same notification, or the payment was already paid): acknowledged, nothing done.
    Duplicate,
    /// A validly signed notification whose gateway trade number was already applied to another payment (a replay
    /// aimed at a second order, or a gateway fault): nothing done, recorded as a security event for the admin.
    TradeNoReused,
}

fn notify_error(e: NotifyError) -> PaymentError {
    tracing::warn!(error = %e, "gateway notification refused");
    PaymentError::Notify(e)
}

/// Verifies and applies a sandbox notification: signature and freshness, replay, amount, then the payment's
/// purpose — all in one transaction, so a crash leaves it unapplied and the gateway's retry applies it.
/// `timestamp` and `signature` are the values of the [`HEADER_TIMESTAMP`] and [`HEADER_SIGNATURE`] headers.
pub async fn handle_sandbox_notify(
    state: &App,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<NotifyOutcome, PaymentError> {
    let Some(sandbox) = &state.config.sandbox else { return Err(PaymentError::SandboxOff) };
    let timestamp: i64 = timestamp
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| notify_error(NotifyError::Malformed("timestamp header")))?;
    let signature = signature.ok_or_else(|| notify_error(NotifyError::Malformed("signature header")))?;
    sandbox_verify(&sandbox.secret, timestamp, body, signature, state.now().millis() / 1000).map_err(notify_error)?;
    let n: SandboxNotification =
        serde_json::from_slice(body).map_err(|_| notify_error(NotifyError::Malformed("body")))?;
    if n.status != "paid" {
        return Err(notify_error(NotifyError::Malformed("status")));
    }
    settle_notification(
        state,
        SANDBOX,
        &n.notification_id,
        &n.trade_no,
        &n.gateway_trade_no,
        Money::from_fen(n.amount_fen),
        n.payer.as_deref().map(str::trim).filter(|p| !p.is_empty() && p.len() <= 128),
    )
    .await
}

/// Verifies a notification with the named gateway's adapter and applies it once ([`settle_notification`]).
/// The caller answers with the adapter's [`crate::gateways::Gateway::ack`].
pub async fn handle_gateway_notify(
    state: &App,
    gateway: &str,
    request: &crate::gateways::NotifyRequest<'_>,
) -> Result<NotifyOutcome, PaymentError> {
    let adapter = state.gateways.get(gateway).ok_or(PaymentError::UnknownGateway)?;
    let n = adapter.verify_notify(request, state.now()).map_err(|e| {
        tracing::warn!(error = %e, gateway, "gateway notification refused");
        PaymentError::Gateway(e)
    })?;
    settle_notification(
        state,
        adapter.id(),
        &n.notification_id,
        &n.trade_no,
        &n.gateway_trade_no,
        n.amount,
        n.payer.as_deref(),
    )
    .await
}

/// Applies a verified gateway notification once: the notification id is remembered (a replay is acknowledged
/// and ignored), the amount must match the payment, and the payment's purpose is carried out — in one
/// transaction, so a crash leaves it unapplied and the gateway's retry applies it.
pub async fn settle_notification(
    state: &App,
    gateway: &str,
    notification_id: &str,
    trade_no: &str,
    gateway_trade_no: &str,
    amount: Money,
    payer: Option<&str>,
) -> Result<NotifyOutcome, PaymentError> {
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    match tx.insert_notification(gateway, notification_id, now).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            // The failed insert may have spoiled the transaction (PostgreSQL): look again in a fresh one.
            drop(tx);
            return seen_notification(state, gateway, trade_no, gateway_trade_no, amount).await;
        }
        Err(e) => return Err(e.into()),
    }
    let payment = tx
        .payment_by_trade_no(trade_no)
        .await?
        .filter(|p| p.gateway == gateway)
        .ok_or(PaymentError::PaymentNotFound)?;
    if payment.amount != amount {
        tracing::warn!(trade_no = %payment.trade_no, expected_fen = payment.amount.fen(), got_fen = amount.fen(), gateway, "gateway amount mismatch; refused");
        return Err(PaymentError::AmountMismatch);
    }
    if payment.state == PaymentState::Paid || !tx.mark_payment_paid(payment.id, gateway_trade_no, now).await? {
        tx.commit().await?;
        return Ok(NotifyOutcome::Duplicate);
    }
    if let Some(payer) = payer {
        tx.set_payment_payer(&payment.trade_no, payer).await?;
    }
    match payment.purpose {
        PaymentPurpose::TopUp(user) => {
            let t = ledger::top_up(user, payment.amount).map_err(PaymentError::Ledger)?;
            tx.post_ledger(&t, None, now).await?;
        }
        PaymentPurpose::Order(order_id) => {
            let order = tx.order_by_id(order_id).await?.ok_or(PaymentError::OrderVanished(order_id))?;
            let due = crate::insurance::amount_due(&mut *tx, &order).await?;
            if order.state == OrderState::PendingPayment && due == payment.amount {
                apply_payment(state, &mut *tx, &order, PaymentSource::Gateway(payment.id)).await?;
            } else {
                // Money arrived for an order that can no longer be paid (expired, or paid another way):
                // it is never lost — into escrow, then straight back to the buyer.
                let into = ledger::pay_direct(order.id, payment.amount).map_err(PaymentError::Ledger)?;
                tx.post_ledger(&into, Some(order.id), now).await?;
                let route =
                    crate::refunds::route_payment(state, &mut *tx, order.buyer_id, Some(payment.clone())).await?;
                let back = kabao_core::refund::from_escrow(order.id, route.to, payment.amount)
                    .map_err(PaymentError::Ledger)?;
                crate::refunds::post(&mut *tx, &route, &back, order.id, payment.amount, now).await?;
                append_event(
                    &mut *tx,
                    order.id,
                    &OrderEvent::PaymentRefundedLate { payment_id: payment.id, amount: payment.amount },
                    now,
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    tracing::info!(trade_no = %payment.trade_no, "payment applied");
    if let PaymentPurpose::Order(order) = payment.purpose {
        crate::orders::mail_if_delivered(state, order).await;
    }
    Ok(NotifyOutcome::Applied)
}

/// A notification whose id was seen before: the same payment again is a duplicate; the gateway's trade number
/// on another payment is a reuse — nothing is done, and the admin sees it as a security event.
async fn seen_notification(
    state: &App,
    gateway: &str,
    trade_no: &str,
    gateway_trade_no: &str,
    amount: Money,
) -> Result<NotifyOutcome, PaymentError> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    let payment = tx.payment_by_trade_no(trade_no).await?.filter(|p| p.gateway == gateway);
    if payment.as_ref().is_some_and(|p| p.gateway_trade_no.as_deref() == Some(gateway_trade_no)) {
        return Ok(NotifyOutcome::Duplicate);
    }
    tracing::warn!(
        gateway,
        trade_no,
        gateway_trade_no,
        "gateway trade number already applied to another payment; ignored"
    );
    let order_id = payment.as_ref().and_then(|p| match p.purpose {
        PaymentPurpose::Order(o) => Some(o),
        PaymentPurpose::TopUp(_) => None,
    });
    tx.insert_security_event(&kabao_store::SecurityEvent {
        id: 0,
        kind: SECURITY_TRADE_NO_REUSED.into(),
        order_id,
        detail_json: serde_json::json!({
            "gateway": gateway,
            "gateway_trade_no": gateway_trade_no,
            "trade_no": trade_no,
            "amount_fen": amount.fen(),
            "payment_state": payment.as_ref().map(|p| if p.state == PaymentState::Paid { "paid" } else { "pending" }),
        })
        .to_string(),
        created_at: state.now(),
    })
    .await?;
    tx.commit().await?;
    Ok(NotifyOutcome::TradeNoReused)
}

/// The security event of a gateway trade number reused for another payment.
pub const SECURITY_TRADE_NO_REUSED: &str = "gateway.trade_no_reused";

/// A security event in words, for the admin.
pub fn describe_security_event(e: &kabao_store::SecurityEvent, lang: kabao_core::Lang) -> String {
    let detail: serde_json::Value = serde_json::from_str(&e.detail_json).unwrap_or_default();
    let field = |k: &str| detail.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_string();
    match e.kind.as_str() {
        SECURITY_TRADE_NO_REUSED => {
            let (gateway, theirs, ours) = (field("gateway"), field("gateway_trade_no"), field("trade_no"));
            match lang {
                kabao_core::Lang::Zh => format!(
                    "{gateway} 发来签名有效的通知，但其交易号 {theirs} 已用于另一笔付款，现被用于 {ours}：已忽略，未做任何变更（可能是重放攻击或网关故障，请核对网关后台）"
                ),
                kabao_core::Lang::En => format!(
                    "{gateway} sent a validly signed notification reusing its trade number {theirs}, already applied to another payment, for {ours}: ignored, nothing changed (a replay or a gateway fault; check the gateway's records)"
                ),
            }
        }
        crate::insurance::SECURITY_PAYOUT_QUEUED => {
            let (claim, fen) = (field("claim_no"), detail.get("amount_fen").and_then(|v| v.as_i64()).unwrap_or(0));
            let amount = kabao_core::Money::from_fen(fen);
            match lang {
                kabao_core::Lang::Zh => {
                    format!("保险池资金不足：售后 {claim} 的质保险赔付 {amount} 已排队，请向保险池注资")
                }
                kabao_core::Lang::En => format!(
                    "The insurance pool is short: the payout of {amount} for claim {claim} is queued; fund the pool"
                ),
            }
        }
        crate::totp::SECURITY_TOTP_ENABLED
        | crate::totp::SECURITY_TOTP_DISABLED
        | crate::totp::SECURITY_RECOVERY_CODES_RENEWED
        | crate::totp::SECURITY_TOTP_RESET => {
            let who = field("username");
            let (zh, en) = match e.kind.as_str() {
                crate::totp::SECURITY_TOTP_ENABLED => ("开启了两步验证", "turned two-step verification on"),
                crate::totp::SECURITY_TOTP_DISABLED => ("关闭了两步验证", "turned two-step verification off"),
                crate::totp::SECURITY_RECOVERY_CODES_RENEWED => ("重新生成了恢复码", "renewed the recovery codes"),
                _ => ("的两步验证已由运维在服务器上重置", "had two-step verification reset by the operator"),
            };
            match lang {
                kabao_core::Lang::Zh => format!("账号 {who} {zh}"),
                kabao_core::Lang::En => format!("Account {who} {en}"),
            }
        }
        other => format!("{other}: {}", e.detail_json),
    }
}

/// A payment by our trade number.
pub async fn by_trade_no(state: &App, trade_no: &str) -> Result<Payment, PaymentError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.payment_by_trade_no(trade_no).await?.ok_or(PaymentError::PaymentNotFound)
}

/// A buyer's wallet balance.
pub async fn wallet_balance(state: &App, user: UserId) -> Result<Money, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.balance(Account::BuyerWallet(user)).await
}
