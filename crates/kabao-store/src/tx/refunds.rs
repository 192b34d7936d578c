//! The gateway refunds aggregate's part of a transaction (migration 0021): refunds going back through the
//! gateway a buyer paid with, queued with the ledger entry that took the money out of escrow and driven by the
//! refund job.

use crate::{Payment, StoreResult};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::{Money, Timestamp};

/// Where a gateway refund is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayRefundState {
    /// Waiting for (another) attempt at the gateway.
    Pending,
    /// The gateway accepted it and is still paying: asked again later with the same number.
    Processing,
    /// The gateway paid it back.
    Done,
    /// The gateway refused or cannot refund: the money went to the buyer's wallet instead.
    ToWallet,
    /// A guest's refund the gateway refused: the platform team refunds by hand.
    Manual,
}

impl GatewayRefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayRefundState::Pending => "pending",
            GatewayRefundState::Processing => "processing",
            GatewayRefundState::Done => "done",
            GatewayRefundState::ToWallet => "to_wallet",
            GatewayRefundState::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<GatewayRefundState> {
        Some(match s {
            "pending" => GatewayRefundState::Pending,
            "processing" => GatewayRefundState::Processing,
            "done" => GatewayRefundState::Done,
            "to_wallet" => GatewayRefundState::ToWallet,
            "manual" => GatewayRefundState::Manual,
            _ => return None,
        })
    }

    /// Still the job's (or, for `manual`, the platform team's) to finish: its money is in flight.
    pub fn is_open(self) -> bool {
        matches!(self, GatewayRefundState::Pending | GatewayRefundState::Processing | GatewayRefundState::Manual)
    }
}

/// A refund through a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRefund {
    pub id: i64,
    /// Ours, sent with every attempt: the gateway pays one refund per number.
    pub refund_no: String,
    pub order_id: OrderId,
    /// The payment refunded (its gateway trade).
    pub payment_id: i64,
    pub gateway: String,
    pub amount: Money,
    /// Which remedy refunded (the ledger kind's words: `refund`, `insurance_payout`, …).
    pub reason: String,
    pub state: GatewayRefundState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub gateway_refund_no: Option<String>,
    /// Why it went to the wallet or to the platform team.
    pub outcome_note: Option<String>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// A refund to queue.
#[derive(Debug, Clone)]
pub struct NewGatewayRefund {
    pub refund_no: String,
    pub order_id: OrderId,
    pub payment_id: i64,
    pub gateway: String,
    pub amount: Money,
    pub reason: String,
    pub created_at: Timestamp,
}

/// An attempt's result, written by compare-and-set on the attempt count it started from.
#[derive(Debug, Clone)]
pub struct RefundAttempt<'a> {
    pub state: GatewayRefundState,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<&'a str>,
    pub gateway_refund_no: Option<&'a str>,
    pub outcome_note: Option<&'a str>,
    pub at: Timestamp,
}

/// What gateway refunds read and write.
#[async_trait]
pub trait RefundsTx: Send {
    /// The payment that paid an order (the first paid one), if a payment of a gateway did.
    async fn paid_payment_of_order(&mut self, order: OrderId) -> StoreResult<Option<Payment>>;
    /// Queues a refund (state pending, due at once) and returns its id. Conflict `"gateway_refunds.refund_no"`.
    async fn insert_gateway_refund(&mut self, refund: &NewGatewayRefund) -> StoreResult<i64>;
    /// Pending or processing refunds due at `now`, soonest first (a partial index walks only open ones).
    async fn due_gateway_refunds(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<GatewayRefund>>;
    /// Records an attempt if the refund is still open and still at `attempts` attempts (then counts one more);
    /// false (and nothing changed) if another attempt got there first.
    async fn record_refund_attempt(&mut self, id: i64, attempts: i64, r: &RefundAttempt<'_>) -> StoreResult<bool>;
    /// An order's gateway refunds, oldest first.
    async fn order_gateway_refunds(&mut self, order: OrderId) -> StoreResult<Vec<GatewayRefund>>;
    /// A refund by id.
    async fn gateway_refund(&mut self, id: i64) -> StoreResult<Option<GatewayRefund>>;
    /// Open refunds (pending, processing, manual): their count and total, from a partial index.
    async fn open_gateway_refunds(&mut self) -> StoreResult<(i64, Money)>;
    /// Refunds waiting for the platform team (manual) or retried for long (attempts ≥ `min_attempts`), newest
    /// first, for the admin.
    async fn gateway_refunds_needing_attention(
        &mut self,
        min_attempts: i64,
        limit: i64,
    ) -> StoreResult<Vec<GatewayRefund>>;
    /// The platform team refunded a `manual` refund by hand: it becomes `done` with their note; false if it was
    /// not manual.
    async fn resolve_manual_refund(&mut self, id: i64, note: &str, at: Timestamp) -> StoreResult<bool>;
    /// A payment by id.
    async fn payment_by_id(&mut self, id: i64) -> StoreResult<Option<Payment>>;
    /// Whether the buyer chose refunds to the wallet over the gateway they paid with (false until they choose).
    async fn prefers_wallet_refunds(&mut self, user: kabao_core::UserId) -> StoreResult<bool>;
    async fn set_prefers_wallet_refunds(
        &mut self,
        user: kabao_core::UserId,
        to_wallet: bool,
        at: Timestamp,
    ) -> StoreResult<()>;
}
