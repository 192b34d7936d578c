//! Rows of the commerce spine: orders and their keys, key reveals, ledger entries, payments, the event chain.
//! Plain data; `kabao-core` decides (order transitions, ledger checks, chain hashes), the store persists.

use crate::models::CardKey;
use kabao_core::ledger::{Account, OrderId, TxKind};
use kabao_core::order::OrderState;
use kabao_core::{Money, ProductId, ShopId, Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// `kabao_core::order::OrderNo` text.
    pub order_no: String,
    /// `None` for a guest order.
    pub buyer_id: Option<UserId>,
    pub guest_email: Option<String>,
    /// SHA-256 of the guest's query password, if one was set.
    pub guest_query_hash: Option<Vec<u8>>,
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
    /// The warranty terms the buyer saw, as canonical JSON (`{"warranty":"none"}` until policies exist).
    pub warranty_snapshot: String,
    pub warranty_sha256: Vec<u8>,
    /// The buyer acknowledged the terms before paying.
    pub warranty_ack: bool,
    pub created_at: Timestamp,
    /// An unpaid order expires then; nothing is held before payment.
    pub expires_at: Timestamp,
    /// Custom goods: the buyer's answers to the product's fields (`kabao_core::custom::Answers` JSON).
    pub custom_answers: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub order_no: String,
    pub buyer_id: Option<UserId>,
    pub guest_email: Option<String>,
    pub guest_query_hash: Option<Vec<u8>>,
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
    pub state: OrderState,
    pub warranty_snapshot: String,
    pub warranty_sha256: Vec<u8>,
    pub warranty_ack: bool,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    /// Escrow is released after this instant (the claim window's end), unless a claim is open.
    pub settle_after: Option<Timestamp>,
    pub settled_at: Option<Timestamp>,
    /// Custom goods: the buyer's answers to the product's fields (`kabao_core::custom::Answers` JSON).
    pub custom_answers: Option<String>,
    /// Custom goods, once paid: the merchant must deliver by then or the buyer is refunded.
    pub delivery_deadline: Option<Timestamp>,
    /// How the price was made (list, wholesale, coupon); `None` for orders placed before prices were recorded.
    pub pricing: Option<crate::OrderPricing>,
}

/// A key delivered with an order, and when its buyer first revealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredKey {
    pub key: CardKey,
    pub first_revealed_at: Option<Timestamp>,
    /// The item (1..=quantity) this key was delivered for; a re-issue delivers a new key for the same item.
    pub item: i32,
    /// Set when a re-issue replaced this key.
    pub voided_at: Option<Timestamp>,
}

/// What the database says about a product's deliveries (`kabao bench checkout`'s check after a run, kills
/// included): every figure but `delivered` must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryAudit {
    /// Keys linked to the product's orders and not replaced by a re-issue.
    pub delivered: i64,
    /// Links beyond the first of a key (the schema's unique key on `order_keys` should make this impossible).
    pub duplicate_deliveries: i64,
    /// Keys marked sold that no order holds.
    pub sold_without_order: i64,
    /// Orders past payment (paid, delivered, settled) holding fewer live keys than their quantity: for goods
    /// delivered on payment, a paid order without its keys.
    pub orders_missing_keys: i64,
}

/// The one statement behind [`crate::KeysTx::delivery_audit`], the same on both backends.
pub(crate) const DELIVERY_AUDIT_SQL: &str = "SELECT \
     (SELECT COUNT(*) FROM order_keys ok JOIN orders o ON o.id = ok.order_id \
      WHERE o.product_id = $1 AND ok.voided_at IS NULL), \
     (SELECT COUNT(*) - COUNT(DISTINCT ok.card_key_id) FROM order_keys ok JOIN orders o ON o.id = ok.order_id \
      WHERE o.product_id = $1), \
     (SELECT COUNT(*) FROM card_keys k WHERE k.product_id = $1 AND k.state = 'sold' \
      AND NOT EXISTS (SELECT 1 FROM order_keys ok WHERE ok.card_key_id = k.id)), \
     (SELECT COUNT(*) FROM orders o WHERE o.product_id = $1 AND o.state IN ('paid', 'delivered', 'settled') \
      AND o.quantity > (SELECT COUNT(*) FROM order_keys ok WHERE ok.order_id = o.id AND ok.voided_at IS NULL))";

/// One reveal of an order's keys (who, when) — never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reveal {
    pub order_id: OrderId,
    /// `None` for a guest who proved the order by email or query password.
    pub user_id: Option<UserId>,
    pub at: Timestamp,
}

/// One posting as stored, with its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub tx_id: i64,
    pub kind: TxKind,
    pub order_id: Option<OrderId>,
    pub account: Account,
    pub amount: Money,
    pub created_at: Timestamp,
}

/// What a payment pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentPurpose {
    Order(OrderId),
    TopUp(UserId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// `"sandbox"` or `"epay"`.
    pub gateway: String,
    /// Our reference sent to the gateway (`out_trade_no`): random, unique.
    pub trade_no: String,
    pub purpose: PaymentPurpose,
    pub amount: Money,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    Pending,
    Paid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: i64,
    pub gateway: String,
    pub trade_no: String,
    pub purpose: PaymentPurpose,
    pub amount: Money,
    pub state: PaymentState,
    /// The gateway's own transaction number, once paid.
    pub gateway_trade_no: Option<String>,
    pub created_at: Timestamp,
    pub paid_at: Option<Timestamp>,
}

/// Where a withdrawal request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalState {
    Pending,
    Approved,
    Rejected,
}

impl WithdrawalState {
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalState::Pending => "pending",
            WithdrawalState::Approved => "approved",
            WithdrawalState::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<WithdrawalState> {
        [WithdrawalState::Pending, WithdrawalState::Approved, WithdrawalState::Rejected]
            .into_iter()
            .find(|w| w.as_str() == s)
    }
}

/// A merchant's request to pay out part of the available balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: i64,
    pub shop_id: ShopId,
    /// What leaves the available balance; the payee receives `amount − fee`.
    pub amount: Money,
    pub fee: Money,
    pub state: WithdrawalState,
    pub requested_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<UserId>,
    pub note: Option<String>,
    /// The payee chosen and its details as they were at request time (`None` on requests from before payees).
    pub payee_id: Option<i64>,
    pub payee: Option<PayeeSnapshot>,
    /// The ledger transaction that moved the amount into the shop's pending-withdrawal account (`None` on
    /// requests from before that account existed, which hold nothing).
    pub hold_tx_id: Option<i64>,
    /// The payment's reference at Alipay or the bank, recorded on payout.
    pub payout_ref: Option<String>,
}

impl Withdrawal {
    /// What the payee receives.
    pub fn net(&self) -> Money {
        self.amount.checked_sub(self.fee).unwrap_or(Money::ZERO)
    }
}

/// Payee details copied onto a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayeeSnapshot {
    pub kind: kabao_core::payee::PayeeKind,
    pub account: String,
    pub holder_name: String,
    pub bank_name: Option<String>,
}

/// A new withdrawal request, written after its hold was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWithdrawal {
    pub shop_id: ShopId,
    pub amount: Money,
    pub fee: Money,
    pub payee_id: i64,
    pub payee: PayeeSnapshot,
    pub hold_tx_id: i64,
    pub requested_at: Timestamp,
}

/// A saved payee of a shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayeeRecord {
    pub id: i64,
    pub shop_id: ShopId,
    pub details: PayeeSnapshot,
    pub created_at: Timestamp,
    /// Set when the merchant removed it; it can no longer be chosen.
    pub disabled_at: Option<Timestamp>,
}

/// A claim (售后 / 补单申请) on one delivered item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    pub id: i64,
    /// Unguessable, for URLs.
    pub claim_no: String,
    pub order_id: OrderId,
    pub item: i32,
    pub shop_id: ShopId,
    pub defect: kabao_core::warranty::Defect,
    pub description: String,
    /// The buyer said the item was activated before the problem.
    pub activated: bool,
    pub eligible: bool,
    /// The ineligibility reasons computed at filing, as JSON (`[{"code", "zh", "en"}]`).
    pub reasons: String,
    pub state: kabao_core::claim::ClaimState,
    /// The merchant's deadline while it runs.
    pub due_at: Option<Timestamp>,
    /// What was left of the deadline when it was paused for more evidence.
    pub paused_remaining_ms: Option<i64>,
    pub evidence_requested: bool,
    pub request_note: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Remedied by the platform's automatic re-issue, not by the merchant: left out of the shop's response time.
    pub auto_remedied: bool,
}

/// Who added a piece of evidence (a domain type: the order's event chain records it too).
pub use kabao_core::claim::EvidenceParty;

/// One piece of evidence in a claim; the file itself is stored once under its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    pub id: i64,
    pub claim_id: i64,
    pub sha256: Vec<u8>,
    pub kind: kabao_core::warranty::EvidenceKind,
    pub file_name: String,
    pub mime: String,
    pub size_bytes: i64,
    pub added_by: EvidenceParty,
    /// Canonical JSON binding the file to the product as sold, the claimed defect and the server time.
    pub binding: String,
    pub binding_sha256: Vec<u8>,
    pub created_at: Timestamp,
}

/// A dispute (平台介入) on an escalated claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRecord {
    pub id: i64,
    pub claim_id: i64,
    pub order_id: OrderId,
    pub shop_id: ShopId,
    /// `open` until the arbiter rules, then `decided`.
    pub decided: bool,
    pub opened_at: Timestamp,
    /// force_reissue / refund / reject
    pub ruling: Option<String>,
    pub refund: Option<Money>,
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<Timestamp>,
}

/// What one side said in a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub party: EvidenceParty,
    pub body: String,
    pub created_at: Timestamp,
}

/// A request made with an `Idempotency-Key`, per caller scope and key: running (no response yet) or done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Whose key it is, e.g. `user:42`; one caller's key never finds another's record.
    pub scope: String,
    pub key: String,
    /// SHA-256 of the request's method, path and canonical body.
    pub fingerprint: Vec<u8>,
    /// A random id of the request running it (the last one to reserve or take it over).
    pub runner: Vec<u8>,
    /// While running: after this, the runner is presumed dead and the key may be taken over.
    pub lease_until: Timestamp,
    /// Once done: the response as first answered.
    pub response: Option<StoredResponse>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

/// A response stored under an idempotency key. The body is sealed by the caller (it may carry a card key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// The data-key version the body is sealed under.
    pub key_version: i32,
}

/// A fresh reservation of an idempotency key.
#[derive(Debug, Clone)]
pub struct NewIdempotency<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a [u8],
    pub runner: &'a [u8],
    pub lease_until: Timestamp,
    pub created_at: Timestamp,
}
