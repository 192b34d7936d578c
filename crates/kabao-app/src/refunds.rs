//! Refunds follow the money (issue 20): every remedy that refunds — an order refunded whole, a claim's item, a
//! ruling, an insurance payout, money that arrived for an order that could no longer be paid — asks [`route`]
//! where the money goes and posts it with [`post`]. Paid through a gateway that refunds (Alipay, WeChat Pay,
//! the demo sandbox) it goes back through that gateway: the ledger moves it to
//! [`Account::RefundsInFlight`](kabao_core::ledger::Account::RefundsInFlight) and a gateway refund is queued in the
//! same transaction. The job ([`run`]) asks the gateway with the refund's stable number (a retry is never paid
//! twice), retries with backoff while the gateway cannot be reached, and moves the money on: out through the edge
//! once paid, or to the buyer's wallet with the reason when the gateway refuses. A guest has no wallet: a refused
//! guest refund waits for the platform team, who refund by hand and record it ([`resolve_manual`]).

use crate::gateways::{GatewayError, RefundOutcome, RefundRequest};
use crate::App;
use kabao_core::ledger::{self, LedgerError, OrderId, TxKind};
use kabao_core::refund::{Refund, RefundTo};
use kabao_core::{Lang, Localized, Money, Timestamp, UserId};
use kabao_store::{
    GatewayRefund, GatewayRefundState, NewGatewayRefund, Order, Payment, RefundAttempt, StoreError, Tx, TxMode,
};
use rand::RngCore;

/// Where a refund of an order goes, and the payment it goes back through.
#[derive(Debug, Clone)]
pub struct Route {
    pub to: RefundTo,
    /// The gateway payment refunded when `to` is the gateway.
    pub payment: Option<Payment>,
}

/// The one refund rule for an order ([`RefundTo::decide`]), from the payment that paid it.
pub async fn route(state: &App, tx: &mut dyn Tx, order: &Order) -> Result<Route, StoreError> {
    let payment = tx.paid_payment_of_order(order.id).await?;
    route_payment(state, tx, order.buyer_id, payment).await
}

/// The rule for money that came in with `payment` (`None`: paid from the wallet), for `buyer` (and their
/// choice of the wallet).
pub async fn route_payment(
    state: &App,
    tx: &mut dyn Tx,
    buyer: Option<UserId>,
    payment: Option<Payment>,
) -> Result<Route, StoreError> {
    let refunds = payment.as_ref().is_some_and(|p| state.gateways.get(&p.gateway).is_some_and(|g| g.refunds()));
    let prefers_wallet = match buyer {
        Some(b) if refunds => tx.prefers_wallet_refunds(b).await?,
        _ => false,
    };
    let to = match (buyer, &payment) {
        // A guest's order was paid through a gateway; without a payment on record (older data) the money
        // still goes back out through the edge, as it always did.
        (None, None) => RefundTo::Gateway,
        _ => RefundTo::decide(buyer, refunds, prefers_wallet),
    };
    Ok(Route { to, payment: if to == RefundTo::Gateway { payment } else { None } })
}

/// Whether `user` chose refunds to the wallet.
pub async fn prefers_wallet(state: &App, user: UserId) -> Result<bool, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.prefers_wallet_refunds(user).await
}

/// Sets `user`'s choice: refunds to the wallet (true) or back where the money came from (false).
pub async fn set_prefers_wallet(state: &App, user: UserId, to_wallet: bool) -> Result<(), StoreError> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.set_prefers_wallet_refunds(user, to_wallet, state.now()).await?;
    tx.commit().await
}

fn refund_no() -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("R{}", hex::encode(bytes))
}

/// Posts a refund decided by [`route`] in the caller's transaction and, when it goes back through a gateway,
/// queues the gateway refund with it (so the money in flight and the queue never disagree).
pub async fn post(
    tx: &mut dyn Tx,
    route: &Route,
    refund: &Refund,
    order: OrderId,
    amount: Money,
    now: Timestamp,
) -> Result<(), StoreError> {
    match (&route.to, &route.payment) {
        (RefundTo::Gateway, Some(payment)) => {
            tx.post_ledger(&refund.tx, Some(order), now).await?;
            tx.insert_gateway_refund(&NewGatewayRefund {
                refund_no: refund_no(),
                order_id: order,
                payment_id: payment.id,
                gateway: payment.gateway.clone(),
                amount,
                reason: refund.tx.kind().as_str().into(),
                created_at: now,
            })
            .await?;
        }
        (RefundTo::Gateway, None) => {
            // No payment to refund through (a guest order from before payments were recorded): the money leaves
            // through the edge at once, as refunds always did before gateway refunds.
            let mut postings = refund.tx.postings().to_vec();
            for p in &mut postings {
                if p.account == ledger::Account::RefundsInFlight {
                    p.account = ledger::Account::GatewayClearing;
                }
            }
            let direct = ledger::LedgerTx::new(refund.tx.kind(), postings).map_err(ledger_bug)?;
            tx.post_ledger(&direct, Some(order), now).await?;
        }
        (RefundTo::Wallet(_), _) => {
            tx.post_ledger(&refund.tx, Some(order), now).await?;
        }
    }
    Ok(())
}

fn ledger_bug(e: LedgerError) -> StoreError {
    StoreError::Ledger(e)
}

/// Refunds tried per pass.
const BATCH: i64 = 20;
/// A refund still processing at the gateway is asked again after this.
const PROCESSING_RECHECK_SECONDS: i64 = 60;
/// Backoff after a failed attempt: 30 s doubling, at most an hour; never given up (the money is owed).
fn backoff_seconds(attempts: i64) -> i64 {
    30i64.saturating_mul(1i64 << attempts.clamp(0, 7)).min(3600)
}
/// Attempts after which an open refund shows on the admin's list.
pub const ATTENTION_AFTER_ATTEMPTS: i64 = 8;

/// What one pass of the refund job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefundPass {
    pub done: u64,
    pub processing: u64,
    pub to_wallet: u64,
    pub manual: u64,
    /// Attempts that failed (gateway unreachable, answer refused): retried later.
    pub failed: u64,
}

/// Why the refund job stopped.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("gateway refund not found")]
    NotFound,
    #[error("this refund is not waiting for the platform team")]
    NotManual,
    #[error("a note (what was paid, and how) is required")]
    NoteRequired,
}

impl Localized for RefundError {
    fn code(&self) -> &'static str {
        match self {
            RefundError::NotFound => "refund.not_found",
            RefundError::NotManual => "refund.not_manual",
            RefundError::NoteRequired => "refund.note_required",
            RefundError::Store(_) | RefundError::Ledger(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        matches!(self, RefundError::NoteRequired).then_some("note")
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            RefundError::NotFound => lang.pick("找不到该退款", "Refund not found").into(),
            RefundError::NotManual => {
                lang.pick("该退款不需要人工处理", "This refund is not waiting for the team").into()
            }
            RefundError::NoteRequired => {
                lang.pick("请填写处理说明（如何退还、凭证号）", "Write how it was refunded (and the reference)").into()
            }
            RefundError::Store(_) | RefundError::Ledger(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// One pass of the refund job: each due refund is asked of its gateway once.
pub async fn run(state: &App) -> Result<RefundPass, RefundError> {
    let now = state.now();
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.due_gateway_refunds(now, BATCH).await?
    };
    let mut pass = RefundPass::default();
    for refund in due {
        attempt(state, &refund, &mut pass).await?;
    }
    Ok(pass)
}

async fn attempt(state: &App, refund: &GatewayRefund, pass: &mut RefundPass) -> Result<(), RefundError> {
    let (payment, order) = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let payment = tx.payment_by_id(refund.payment_id).await?;
        let order = tx.order_by_id(refund.order_id).await?;
        (payment, order)
    };
    let (Some(payment), Some(order)) = (payment, order) else {
        tracing::error!(refund_no = %refund.refund_no, "gateway refund lost its payment or order; skipped");
        return Ok(());
    };
    let outcome = match state.gateways.get(&refund.gateway).filter(|g| g.refunds()) {
        None => Ok(RefundOutcome::Refused { reason: format!("{} cannot refund here", refund.gateway) }),
        Some(gateway) => {
            let request = RefundRequest {
                refund_no: &refund.refund_no,
                trade_no: &payment.trade_no,
                gateway_trade_no: payment.gateway_trade_no.as_deref(),
                total: payment.amount,
                amount: refund.amount,
                reason: refund_reason_words(&refund.reason),
            };
            gateway.refund(&request).await
        }
    };
    let now = state.now();
    // What the gateway said, as (state, next attempt, last error, gateway refund number, note, ledger entry).
    let (next_state, next_at, last_error, gateway_refund_no, note, posted) = match &outcome {
        Ok(RefundOutcome::Done { gateway_refund_no }) => (
            GatewayRefundState::Done,
            now,
            None,
            gateway_refund_no.clone(),
            None,
            Some(ledger::gateway_refund_paid(refund.amount)?),
        ),
        Ok(RefundOutcome::Processing) => {
            (GatewayRefundState::Processing, now.plus_seconds(PROCESSING_RECHECK_SECONDS), None, None, None, None)
        }
        Ok(RefundOutcome::Refused { .. }) | Err(GatewayError::Unsupported) => {
            let reason: String = reason_of(&outcome).chars().take(500).collect();
            match order.buyer_id {
                Some(buyer) => {
                    tracing::warn!(refund_no = %refund.refund_no, gateway = %refund.gateway, %reason, "gateway refused a refund; to the wallet");
                    let to_wallet = ledger::gateway_refund_to_wallet(buyer, refund.amount)?;
                    (GatewayRefundState::ToWallet, now, None, None, Some(reason), Some(to_wallet))
                }
                None => {
                    tracing::warn!(refund_no = %refund.refund_no, gateway = %refund.gateway, %reason, "gateway refused a guest's refund; the platform team refunds by hand");
                    (GatewayRefundState::Manual, now, None, None, Some(reason), None)
                }
            }
        }
        Err(e) => {
            tracing::warn!(refund_no = %refund.refund_no, gateway = %refund.gateway, error = %e, "gateway refund failed; retrying later");
            let keep = if refund.state == GatewayRefundState::Processing {
                GatewayRefundState::Processing
            } else {
                GatewayRefundState::Pending
            };
            let error: String = e.to_string().chars().take(500).collect();
            (keep, now.plus_seconds(backoff_seconds(refund.attempts)), Some(error), None, None, None)
        }
    };
    let result = RefundAttempt {
        state: next_state,
        next_attempt_at: next_at,
        last_error: last_error.as_deref(),
        gateway_refund_no: gateway_refund_no.as_deref(),
        outcome_note: note.as_deref(),
        at: now,
    };
    let mut tx = state.store.begin(TxMode::Write).await?;
    if !tx.record_refund_attempt(refund.id, refund.attempts, &result).await? {
        // Another instance's attempt got there first; it recorded (and posted) what the gateway said.
        return Ok(());
    }
    if let Some(t) = &posted {
        tx.post_ledger(t, Some(refund.order_id), now).await?;
    }
    if result.state == GatewayRefundState::Manual {
        tx.insert_security_event(&kabao_store::SecurityEvent {
            id: 0,
            kind: SECURITY_REFUND_MANUAL.into(),
            order_id: Some(refund.order_id),
            detail_json: serde_json::json!({
                "refund_no": refund.refund_no,
                "gateway": refund.gateway,
                "amount_fen": refund.amount.fen(),
                "reason": result.outcome_note,
            })
            .to_string(),
            created_at: now,
        })
        .await?;
    }
    tx.commit().await?;
    match result.state {
        GatewayRefundState::Done => pass.done += 1,
        GatewayRefundState::ToWallet => pass.to_wallet += 1,
        GatewayRefundState::Manual => pass.manual += 1,
        GatewayRefundState::Processing if outcome.is_ok() => pass.processing += 1,
        _ => pass.failed += 1,
    }
    Ok(())
}

/// The security event of a guest's refund that needs the platform team.
pub const SECURITY_REFUND_MANUAL: &str = "refund.manual";

fn reason_of(outcome: &Result<RefundOutcome, GatewayError>) -> String {
    match outcome {
        Ok(RefundOutcome::Refused { reason }) => reason.clone(),
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    }
}

fn refund_reason_words(kind: &str) -> &'static str {
    match TxKind::parse(kind) {
        Some(TxKind::InsurancePayout) => "质保险赔付",
        Some(TxKind::InsuranceRefund) => "质保险保费退还",
        _ => "卡保退款",
    }
}

/// The platform team refunded a guest's `manual` refund by hand: the money leaves through the edge, the note
/// (how, and the reference) is kept.
pub async fn resolve_manual(state: &App, id: i64, note: &str) -> Result<AttentionRow, RefundError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(RefundError::NoteRequired);
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let refund = tx.gateway_refund(id).await?.ok_or(RefundError::NotFound)?;
    if !tx.resolve_manual_refund(id, note, now).await? {
        return Err(RefundError::NotManual);
    }
    tx.post_ledger(&ledger::gateway_refund_paid(refund.amount)?, Some(refund.order_id), now).await?;
    tx.commit().await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let refund = tx.gateway_refund(id).await?.ok_or(RefundError::NotFound)?;
    let order_no = tx.order_by_id(refund.order_id).await?.map(|o| o.order_no).unwrap_or_default();
    Ok((refund, order_no))
}

/// A gateway refund with its order's number.
pub type AttentionRow = (GatewayRefund, String);

/// Refunds waiting for the team, or retried for long ([`ATTENTION_AFTER_ATTEMPTS`]), newest first.
pub async fn needing_attention(state: &App, limit: i64) -> Result<Vec<AttentionRow>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let rows = tx.gateway_refunds_needing_attention(ATTENTION_AFTER_ATTEMPTS, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let no = tx.order_by_id(r.order_id).await?.map(|o| o.order_no).unwrap_or_default();
        out.push((r, no));
    }
    Ok(out)
}

/// An order's gateway refunds, for its page.
pub async fn of_order(state: &App, order: OrderId) -> Result<Vec<GatewayRefund>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.order_gateway_refunds(order).await
}

/// A refund's state in words, for the buyer, naming the gateway as the buyer knows it (支付宝, 微信支付…).
pub fn describe(state: &App, r: &GatewayRefund, lang: Lang) -> String {
    let amount = r.amount;
    let gateway = state.gateways.get(&r.gateway).map(|g| g.name(lang)).unwrap_or(r.gateway.as_str());
    match (r.state, lang) {
        (GatewayRefundState::Pending | GatewayRefundState::Processing, Lang::Zh) => {
            format!("{amount} 正在原路退回（{gateway}），通常几分钟内到账")
        }
        (GatewayRefundState::Pending | GatewayRefundState::Processing, Lang::En) => {
            format!("{amount} is on its way back to {gateway} (usually within minutes)")
        }
        (GatewayRefundState::Done, Lang::Zh) => format!("{amount} 已原路退回（{gateway}）"),
        (GatewayRefundState::Done, Lang::En) => format!("{amount} refunded to {gateway}"),
        (GatewayRefundState::ToWallet, Lang::Zh) => {
            format!("{amount} 无法原路退回（{}），已退至余额", r.outcome_note.as_deref().unwrap_or("网关拒绝"))
        }
        (GatewayRefundState::ToWallet, Lang::En) => format!(
            "{amount} could not go back to {gateway} ({}); refunded to your wallet",
            r.outcome_note.as_deref().unwrap_or("refused")
        ),
        (GatewayRefundState::Manual, Lang::Zh) => format!("{amount} 原路退回失败，平台客服将人工退款"),
        (GatewayRefundState::Manual, Lang::En) => {
            format!("{amount} could not go back automatically; the platform team will refund it by hand")
        }
    }
}
