//! Kabao's domain: the types, rules and state machines of the marketplace.
//! Pure by design — no I/O, no clocks, no randomness of its own — so every rule is testable in isolation.
#![forbid(unsafe_code)]
// Rules must not crash the server on any input: no unwrap, expect, panic or unchecked indexing outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod alipay;
pub mod audit;
pub mod catalog;
pub mod certification;
pub mod claim;
pub mod custom;
pub mod dispute;
pub mod events;
pub mod i18n;
pub mod ids;
pub mod insurance;
pub mod inventory;
pub mod ledger;
pub mod money;
pub mod order;
pub mod payee;
pub mod payments;
pub mod pow;
pub mod pricing;
pub mod refund;
pub mod review;
pub mod risk;
pub mod search;
pub mod signals;
pub mod signature;
pub mod throttle;
pub mod time;
pub mod totp;
pub mod trust;
pub mod user;
pub mod vault;
pub mod verification;
pub mod warranty;
pub mod webhook;
pub mod wechatpay;

pub use i18n::{Lang, Localized};
pub use ids::*;
pub use money::Money;
pub use time::Timestamp;
