//! Orders: the unguessable order number and the order's state machine.
//! `pending_payment → delivered → settled`, or `pending_payment → paid → delivered` for goods delivered by hand;
//! `expired` when never paid; `refunded` when paid but nothing could be delivered. Transitions are functions
//! that refuse what may not happen; the store persists what they decide with a compare-and-set on the state.

use crate::i18n::{Lang, Localized};
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Crockford base32: no I, L, O, U, so a number read aloud or retyped is not misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// An order number: "K" and 26 base32 characters carrying 128 bits, the creation time in milliseconds (48 bits)
/// then 80 random bits. Knowing one grants nothing by itself (guest lookups also need the email or query
/// password), and it cannot be guessed or enumerated: even knowing the millisecond, one number in 2^80 exists.
/// The time first makes numbers sort by creation, so a new order's entry lands at the end of the unique index
/// instead of on a random page of it (fewer pages written per commit, and the recent orders stay cached).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderNo(String);

impl OrderNo {
    /// The number of an order created at `created`, with 10 random bytes from the caller's CSPRNG.
    pub fn new(created: Timestamp, random: [u8; 10]) -> OrderNo {
        // 48 bits of milliseconds last until the year 10889; earlier than 1970 is clamped to zero.
        let millis = u128::from(u64::try_from(created.millis()).unwrap_or(0)) & ((1 << 48) - 1);
        let mut bytes = [0u8; 16];
        bytes[6..].copy_from_slice(&random);
        let mut n = (millis << 80) | u128::from_be_bytes(bytes);
        let mut out = vec![b'0'; 26];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET.get((n & 31) as usize).copied().unwrap_or(b'0');
            n >>= 5;
        }
        OrderNo(format!("K{}", String::from_utf8_lossy(&out)))
    }

    /// Accepts what a person may type: case-insensitive, surrounding spaces ignored.
    pub fn parse(text: &str) -> Option<OrderNo> {
        let t = text.trim().to_ascii_uppercase();
        let body = t.strip_prefix('K')?;
        (body.len() == 26 && body.bytes().all(|b| ALPHABET.contains(&b))).then(|| OrderNo(t.clone()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrderNo {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        OrderNo::parse(&s).ok_or_else(|| format!("not an order number: {s:?}"))
    }
}

impl From<OrderNo> for String {
    fn from(o: OrderNo) -> String {
        o.0
    }
}

/// Where an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    PendingPayment,
    /// Paid, waiting for the merchant to deliver by hand.
    Paid,
    Delivered,
    Settled,
    Expired,
    Refunded,
}

impl OrderState {
    pub const ALL: [OrderState; 6] = [
        OrderState::PendingPayment,
        OrderState::Paid,
        OrderState::Delivered,
        OrderState::Settled,
        OrderState::Expired,
        OrderState::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::PendingPayment => "pending_payment",
            OrderState::Paid => "paid",
            OrderState::Delivered => "delivered",
            OrderState::Settled => "settled",
            OrderState::Expired => "expired",
            OrderState::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            OrderState::PendingPayment => lang.pick("待付款", "Awaiting payment"),
            OrderState::Paid => lang.pick("已付款，待发货", "Paid, awaiting delivery"),
            OrderState::Delivered => lang.pick("已发货", "Delivered"),
            OrderState::Settled => lang.pick("已结算", "Settled"),
            OrderState::Expired => lang.pick("已过期（未付款）", "Expired (unpaid)"),
            OrderState::Refunded => lang.pick("已退款", "Refunded"),
        }
    }
}

/// A transition that may not happen from the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order is {from:?}; cannot {action}")]
pub struct TransitionError {
    pub from: OrderState,
    pub action: &'static str,
}

impl Localized for TransitionError {
    fn code(&self) -> &'static str {
        "order.invalid_state"
    }
    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!("订单当前状态为「{}」，不能执行此操作", self.from.label(lang)),
            Lang::En => format!("The order is {}; this cannot be done now", self.from.label(lang).to_lowercase()),
        }
    }
}

/// What payment does to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Keys were allocated in the same transaction: delivered at once.
    Delivered,
    /// Goods delivered by hand: paid, waiting for the merchant.
    AwaitingDelivery,
    /// Stock ran out between ordering and paying: the money goes to the buyer's wallet.
    RefundedNoStock,
}

/// A payment arrives. Only a pending order can be paid; a late payment for an expired order is refunded.
pub fn on_payment(state: OrderState, outcome: PaymentOutcome) -> Result<OrderState, TransitionError> {
    match state {
        OrderState::PendingPayment => Ok(match outcome {
            PaymentOutcome::Delivered => OrderState::Delivered,
            PaymentOutcome::AwaitingDelivery => OrderState::Paid,
            PaymentOutcome::RefundedNoStock => OrderState::Refunded,
        }),
        from => Err(TransitionError { from, action: "be paid" }),
    }
}

/// The unpaid order's time ran out.
pub fn on_expiry(state: OrderState) -> Result<OrderState, TransitionError> {
    match state {
        OrderState::PendingPayment => Ok(OrderState::Expired),
        from => Err(TransitionError { from, action: "expire" }),
    }
}

/// The merchant delivered goods by hand.
pub fn on_manual_delivery(state: OrderState) -> Result<OrderState, TransitionError> {
    match state {
        OrderState::Paid => Ok(OrderState::Delivered),
        from => Err(TransitionError { from, action: "be delivered" }),
    }
}

/// The merchant missed the delivery deadline: the buyer is refunded.
pub fn on_delivery_deadline(state: OrderState) -> Result<OrderState, TransitionError> {
    match state {
        OrderState::Paid => Ok(OrderState::Refunded),
        from => Err(TransitionError { from, action: "be refunded for late delivery" }),
    }
}

/// The claim window closed with no open claim: escrow is released to the merchant.
pub fn on_settlement(state: OrderState) -> Result<OrderState, TransitionError> {
    match state {
        OrderState::Delivered => Ok(OrderState::Settled),
        from => Err(TransitionError { from, action: "be settled" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_27_chars_and_round_trip() {
        let now = Timestamp::from_millis(1_795_000_000_000);
        let a = OrderNo::new(now, [0xAB; 10]);
        assert_eq!(a.as_str().len(), 27);
        assert_eq!(OrderNo::parse(&a.as_str().to_lowercase()), Some(a.clone()));
        assert_ne!(OrderNo::new(now, [1; 10]), OrderNo::new(now, [2; 10]));
        // Numbers from before the time prefix (128 random bits) still parse: they are the same shape.
        assert!(OrderNo::parse("K7ZZZZZZZZZZZZZZZZZZZZZZZZZ").is_some());
        for bad in ["", "K", "X0000000000000000000000000", "K000000000000000000000000U", "K000000000000000000000000000"]
        {
            assert_eq!(OrderNo::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn order_numbers_sort_by_creation_time_and_keep_their_random_part() {
        let t = |ms| Timestamp::from_millis(ms);
        let earlier = OrderNo::new(t(1_795_000_000_000), [0xFF; 10]);
        let later = OrderNo::new(t(1_795_000_000_001), [0x00; 10]);
        assert!(earlier.as_str() < later.as_str(), "{earlier} must sort before {later}");
        // The last 16 characters are the 80 random bits: all zero, then all one.
        assert!(later.as_str().ends_with("0000000000000000"));
        assert!(earlier.as_str().ends_with("ZZZZZZZZZZZZZZZZ"));
        // The first ten carry the time: equal for the same millisecond, whatever the random part.
        assert_eq!(earlier.as_str()[..11], OrderNo::new(t(1_795_000_000_000), [7; 10]).as_str()[..11]);
        // Before 1970 is clamped rather than wrapped.
        assert!(OrderNo::new(t(-5), [0; 10]).as_str().starts_with("K0000000000"));
    }

    #[test]
    fn only_pending_orders_are_paid_or_expire() {
        assert_eq!(on_payment(OrderState::PendingPayment, PaymentOutcome::Delivered), Ok(OrderState::Delivered));
        assert_eq!(on_payment(OrderState::PendingPayment, PaymentOutcome::RefundedNoStock), Ok(OrderState::Refunded));
        assert_eq!(on_payment(OrderState::PendingPayment, PaymentOutcome::AwaitingDelivery), Ok(OrderState::Paid));
        for s in OrderState::ALL.into_iter().filter(|s| *s != OrderState::PendingPayment) {
            assert!(on_payment(s, PaymentOutcome::Delivered).is_err(), "{s:?} must not be paid twice");
            assert!(on_expiry(s).is_err());
        }
    }

    #[test]
    fn settlement_and_manual_delivery_follow_the_states() {
        assert_eq!(on_settlement(OrderState::Delivered), Ok(OrderState::Settled));
        assert!(on_settlement(OrderState::Paid).is_err());
        assert!(on_settlement(OrderState::Settled).is_err());
        assert_eq!(on_manual_delivery(OrderState::Paid), Ok(OrderState::Delivered));
        assert_eq!(on_delivery_deadline(OrderState::Paid), Ok(OrderState::Refunded));
        assert!(on_delivery_deadline(OrderState::Delivered).is_err());
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
    }
}
