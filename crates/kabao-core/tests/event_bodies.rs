//! Event bodies are hashed into every order's chain, so their bytes may never change. `reference` keeps the
//! bodies as the writers built them with `serde_json::json!` in kabao-server (at commit 4551a15, before events
//! were typed), verbatim but for the values they read; `data/event_chain.golden` is a chain of them with fixed
//! values, written from those literals. Both stay as the definition the typed events ([`OrderEvent`]) must match
//! byte for byte: for the golden values, and for any values (a property test against the literals).

use kabao_core::audit::{canonical_json, next_event, verify_chain, ChainedEvent};
use kabao_core::claim::EvidenceParty;
use kabao_core::dispute::{Plan, Ruling};
use kabao_core::events::{
    EventKind, OrderEvent, PaidFrom, RefundReason, Reissue, ReissueAfter, Rejection, RemedyTrigger,
};
use kabao_core::refund::RefundTo;
use kabao_core::verification::{Answer, Finding, Status};
use kabao_core::warranty::{Defect, EvidenceKind};
use kabao_core::{CardKeyId, Money, ProductId, Timestamp, UserId};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;

const GOLDEN: &str = include_str!("data/event_chain.golden");

/// The bodies as each writer built them, one function per call site (named after its file and function).
#[allow(clippy::too_many_arguments)]
mod reference {
    use serde_json::Value;

    /// orders.rs `checkout`.
    pub fn order_created(
        order_no: &str,
        product_id: i64,
        quantity: i64,
        amount_fen: i64,
        warranty_sha256: &[u8],
        warranty_version: Option<i32>,
        buyer: Option<i64>,
    ) -> Value {
        serde_json::json!({
            "order_no": order_no, "product_id": product_id, "quantity": quantity,
            "amount_fen": amount_fen, "warranty_sha256": hex::encode(warranty_sha256), "warranty_ack": true,
            "warranty_version": warranty_version,
            "buyer": buyer,
        })
    }

    /// orders.rs `apply_payment`: `None` is a wallet payment, `Some(p)` a gateway's payment `p`.
    pub fn order_paid(amount_fen: i64, gateway_payment: Option<i64>) -> Value {
        let via = match gateway_payment {
            None => serde_json::json!({"via": "wallet"}),
            Some(p) => serde_json::json!({"via": "gateway", "payment_id": p}),
        };
        serde_json::json!({"amount_fen": amount_fen, "source": via})
    }

    /// orders.rs `apply_payment`, delivered.
    pub fn keys_assigned(keys: &[i64]) -> Value {
        serde_json::json!({"count": keys.len(), "card_key_ids": keys.to_vec()})
    }

    /// orders.rs `apply_payment`, custom goods.
    pub fn order_awaiting_delivery(deadline_ms: i64, hours: i64) -> Value {
        serde_json::json!({"delivery_deadline": deadline_ms, "delivery_hours": hours})
    }

    /// orders.rs `refund_order` (`to`: "wallet" for a registered buyer, else "gateway").
    pub fn order_refunded(reason: &str, amount_fen: i64, to: &str) -> Value {
        serde_json::json!({"reason": reason, "amount_fen": amount_fen, "to": to})
    }

    /// orders.rs `deliver_by_hand`.
    pub fn goods_delivered(by: i64, chars: usize) -> Value {
        serde_json::json!({"by": by, "manual": true, "chars": chars})
    }

    /// orders.rs `reveal`.
    pub fn keys_revealed(by: Option<i64>, count: usize) -> Value {
        serde_json::json!({"by": by, "count": count})
    }

    /// claims.rs `file`, after an automatic re-issue.
    pub fn keys_revealed_reissued(by: Option<i64>, item: i32) -> Value {
        serde_json::json!({"by": by, "count": 1, "item": item})
    }

    /// payments.rs `settle_notification`, money for an order that can no longer be paid.
    pub fn payment_refunded_late(payment_id: i64, amount_fen: i64) -> Value {
        serde_json::json!({"payment_id": payment_id, "amount_fen": amount_fen})
    }

    /// jobs.rs `expire_unpaid`.
    pub fn order_expired() -> Value {
        serde_json::json!({})
    }

    /// jobs.rs `settle_due`.
    pub fn order_settled(held_fen: i64, fee_bps: i64) -> Value {
        serde_json::json!({"amount_fen": held_fen, "fee_bps": fee_bps})
    }

    /// claims.rs `file`.
    pub fn claim_filed(
        claim_no: &str,
        item: i32,
        defect: &str,
        activated: bool,
        eligible: bool,
        reasons: &str,
        hashes: &[String],
        due_at: Option<i64>,
    ) -> Value {
        serde_json::json!({
            "claim_no": claim_no,
            "item": item,
            "defect": defect,
            "activated": activated,
            "eligible": eligible,
            "reasons": serde_json::from_str::<serde_json::Value>(reasons).unwrap_or_default(),
            "evidence_sha256": hashes,
            "due_at": due_at,
        })
    }

    /// claims.rs `auto_reissue` (`after`: "filed" or "evidence").
    pub fn claim_reissued_auto(claim_no: &str, item: i32, card_key_id: i64, after: &str) -> Value {
        serde_json::json!({
            "claim_no": claim_no, "item": item, "card_key_id": card_key_id, "auto": true, "after": after
        })
    }

    /// claims.rs `run_remedy` (`how`: "merchant_approved" or "merchant_silent").
    pub fn claim_reissued_remedy(claim_no: &str, item: i32, card_key_id: i64, by: Option<i64>, how: &str) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "card_key_id": card_key_id, "by": by, "how": how})
    }

    /// disputes.rs `decide`, a forced re-issue.
    pub fn claim_reissued_arbiter(claim_no: &str, item: i32, card_key_id: i64, by: i64) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "card_key_id": card_key_id, "by": by, "how": "arbiter"})
    }

    /// claims.rs `run_remedy`, nothing possible.
    pub fn claim_remedy_failed(claim_no: &str, item: i32, how: &str) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "how": how})
    }

    /// claims.rs `refund_item`.
    pub fn claim_refunded(claim_no: &str, item: i32, unit_price_fen: i64, to: &str, how: &str) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "amount_fen": unit_price_fen, "to": to, "how": how})
    }

    /// claims.rs `decide`, rejected by the merchant.
    pub fn claim_rejected(claim_no: &str, item: i32, reason: &str, by: i64) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "reason": reason, "by": by})
    }

    /// claims.rs `run_deadlines`, an ineligible claim the merchant left unanswered.
    pub fn claim_rejected_silent(claim_no: &str, item: i32) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "reason": "merchant_silent_ineligible"})
    }

    /// claims.rs `decide`, more evidence asked for.
    pub fn claim_evidence_requested(claim_no: &str, item: i32, note: &str, by: i64) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "note": note, "by": by})
    }

    /// claims.rs `add_evidence` (`party`: "buyer" or "merchant").
    pub fn claim_evidence_added(claim_no: &str, party: &str, hashes: &[String], due_at: Option<i64>) -> Value {
        serde_json::json!({
            "claim_no": claim_no,
            "by": party,
            "evidence_sha256": hashes,
            "due_at": due_at,
        })
    }

    /// claims.rs `reevaluate` (`kinds`: the evidence kinds' texts, in the set's order).
    pub fn claim_reevaluated(
        claim_no: &str,
        item: i32,
        eligible: bool,
        was_eligible: bool,
        reasons: &str,
        kinds: &[&str],
    ) -> Value {
        serde_json::json!({
            "claim_no": claim_no,
            "item": item,
            "eligible": eligible,
            "was_eligible": was_eligible,
            "reasons": serde_json::from_str::<serde_json::Value>(reasons).unwrap_or_default(),
            "evidence": kinds.to_vec(),
        })
    }

    /// disputes.rs `escalate`.
    pub fn dispute_opened(claim_no: &str, item: i32, statement_chars: usize) -> Value {
        serde_json::json!({"claim_no": claim_no, "item": item, "statement_chars": statement_chars})
    }

    /// disputes.rs `add_statement` (`party`: "buyer", "merchant" or "arbiter").
    pub fn dispute_statement(claim_no: &str, party: &str) -> Value {
        serde_json::json!({"claim_no": claim_no, "party": party})
    }

    /// disputes.rs `decide`, a refund (`from`: escrow, available, deposit, fund).
    pub fn dispute_refunded(claim_no: &str, amount_fen: i64, from: [i64; 4], guest: bool) -> Value {
        serde_json::json!({
            "claim_no": claim_no,
            "amount_fen": amount_fen,
            "from_escrow_fen": from[0],
            "from_available_fen": from[1],
            "from_deposit_fen": from[2],
            "from_fund_fen": from[3],
            "to": if !guest { "wallet" } else { "gateway" },
        })
    }

    /// disputes.rs `decide` (`ruling`: "force_reissue", "refund" or "reject").
    pub fn dispute_decided(claim_no: &str, ruling: &str, refund_fen: Option<i64>, reason: &str, by: i64) -> Value {
        serde_json::json!({
            "claim_no": claim_no, "ruling": ruling, "refund_fen": refund_fen, "reason": reason.trim(), "by": by
        })
    }

    /// claims.rs `file_in` (issue 19, after the typed events): a verifier's answer.
    pub fn claim_verified(
        claim_no: &str,
        item: i32,
        status: &str,
        redeemed_at: Option<i64>,
        detail: Option<&str>,
        finding: &str,
    ) -> Value {
        serde_json::json!({
            "claim_no": claim_no, "item": item, "reachable": true, "status": status, "redeemed_at": redeemed_at,
            "detail": detail, "finding": finding,
        })
    }

    /// claims.rs `file_in`: the verifier could not be reached.
    pub fn claim_verified_unreachable(claim_no: &str, item: i32, note: &str) -> Value {
        serde_json::json!({
            "claim_no": claim_no, "item": item, "reachable": false, "note": note, "finding": "no_finding",
        })
    }

    /// insurance.rs `pay`.
    pub fn insurance_paid(claim_no: &str, item: i32, amount_fen: i64, to: &str, recovered: &str) -> Value {
        serde_json::json!({
            "claim_no": claim_no, "item": item, "amount_fen": amount_fen, "to": to, "recovered": recovered,
        })
    }
}

const REASONS: &str = concat!(
    r#"[{"code":"window_closed","en":"The claim window closed on 2025-01-02 03:04","#,
    r#""zh":"质保期已于 2025-01-02 03:04 结束"}]"#
);
const SHA_A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const SHA_B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

/// Every body shape the writers produce, with fixed values (guests and registered buyers, wallets and gateways,
/// present and absent optional fields, text that needs escaping), in the order of the golden chain.
fn reference_chain() -> Vec<(&'static str, Value)> {
    use reference::*;
    let hashes = vec![SHA_A.to_string(), SHA_B.to_string()];
    vec![
        ("order.created", order_created("K20250101A1B2C3D4E5F6G7H8J9", 42, 2, 1980, &[0xab; 32], Some(3), Some(7))),
        ("order.created", order_created("K20250101ZZZZZZZZZZZZZZZZZZ", 43, 1, 990, &[0x01; 32], None, None)),
        ("order.paid", order_paid(1980, None)),
        ("order.paid", order_paid(990, Some(55))),
        ("keys.assigned", keys_assigned(&[101, 102])),
        ("keys.assigned", keys_assigned(&[])),
        ("order.awaiting_delivery", order_awaiting_delivery(1_735_700_000_000, 24)),
        ("goods.delivered", goods_delivered(9, 17)),
        ("keys.revealed", keys_revealed(Some(7), 2)),
        ("keys.revealed", keys_revealed(None, 0)),
        ("keys.revealed", keys_revealed_reissued(Some(7), 2)),
        ("keys.revealed", keys_revealed_reissued(None, 1)),
        ("order.refunded", order_refunded("out_of_stock", 1980, "wallet")),
        ("order.refunded", order_refunded("delivery_deadline_missed", 990, "gateway")),
        ("payment.refunded_late", payment_refunded_late(56, 990)),
        ("order.expired", order_expired()),
        ("order.settled", order_settled(1980, 250)),
        ("order.settled", order_settled(0, 0)),
        (
            "claim.filed",
            claim_filed("C1a2b3", 1, "invalid_key", false, false, REASONS, &hashes, Some(1_735_786_400_000)),
        ),
        ("claim.filed", claim_filed("C1a2b4", 2, "account_banned", true, true, "[]", &[], None)),
        ("claim.filed", claim_filed("C1a2b5", 1, "expired_early", false, true, "not json", &hashes[..1], Some(1))),
        ("claim.reissued", claim_reissued_auto("C1a2b3", 1, 103, "filed")),
        ("claim.reissued", claim_reissued_auto("C1a2b3", 1, 104, "evidence")),
        ("claim.reissued", claim_reissued_remedy("C1a2b3", 1, 105, Some(9), "merchant_approved")),
        ("claim.reissued", claim_reissued_remedy("C1a2b3", 2, 106, None, "merchant_silent")),
        ("claim.reissued", claim_reissued_arbiter("C1a2b3", 1, 107, 11)),
        ("claim.remedy_failed", claim_remedy_failed("C1a2b3", 1, "merchant_approved")),
        ("claim.remedy_failed", claim_remedy_failed("C1a2b3", 2, "merchant_silent")),
        ("claim.refunded", claim_refunded("C1a2b3", 1, 990, "wallet", "merchant_approved")),
        ("claim.refunded", claim_refunded("C1a2b3", 2, 990, "gateway", "merchant_silent")),
        ("claim.rejected", claim_rejected("C1a2b3", 1, "售出前已测试可用 \"tested\"\n", 9)),
        ("claim.rejected", claim_rejected_silent("C1a2b3", 2)),
        ("claim.evidence_requested", claim_evidence_requested("C1a2b3", 1, "请上传激活截图 / a screenshot", 9)),
        ("claim.evidence_added", claim_evidence_added("C1a2b3", "buyer", &hashes, Some(1_735_786_400_000))),
        ("claim.evidence_added", claim_evidence_added("C1a2b3", "merchant", &[], None)),
        ("claim.reevaluated", claim_reevaluated("C1a2b3", 1, true, false, "[]", &["screenshot", "error_text"])),
        ("claim.reevaluated", claim_reevaluated("C1a2b3", 1, false, false, REASONS, &[])),
        ("dispute.opened", dispute_opened("C1a2b3", 1, 6)),
        ("dispute.statement", dispute_statement("C1a2b3", "buyer")),
        ("dispute.statement", dispute_statement("C1a2b3", "merchant")),
        ("dispute.statement", dispute_statement("C1a2b3", "arbiter")),
        ("dispute.refunded", dispute_refunded("C1a2b3", 990, [29, 0, 392, 569], false)),
        ("dispute.refunded", dispute_refunded("C1a2b3", 500, [500, 0, 0, 0], true)),
        ("dispute.decided", dispute_decided("C1a2b3", "refund", Some(990), " 卡密无效 ", 11)),
        ("dispute.decided", dispute_decided("C1a2b3", "force_reissue", None, "stock", 11)),
        ("dispute.decided", dispute_decided("C1a2b3", "reject", None, "no evidence", 11)),
        (
            "claim.verified",
            claim_verified(
                "C1a2b3",
                1,
                "redeemed",
                Some(1_735_600_000_000),
                Some("兑换于 \"门店\""),
                "defect_confirmed",
            ),
        ),
        ("claim.verified", claim_verified("C1a2b3", 2, "valid", None, None, "key_valid")),
        ("claim.verified", claim_verified_unreachable("C1a2b3", 1, "connection refused")),
        ("insurance.paid", insurance_paid("C1a2b3", 1, 990, "wallet", "escrow")),
    ]
}

/// Chains `(kind, body)` pairs from genesis, one millisecond apart.
fn chain(events: &[(&str, Value)]) -> Vec<ChainedEvent> {
    let mut out: Vec<ChainedEvent> = Vec::new();
    for (i, (kind, body)) in events.iter().enumerate() {
        let e = next_event(out.last(), kind, 1_735_689_600_000 + i as i64, body);
        out.push(e);
    }
    out
}

/// A chain as the golden file writes it: `seq kind at_ms body hash`, tab-separated, one event a line.
fn golden_lines(chain: &[ChainedEvent]) -> Vec<String> {
    chain.iter().map(|e| format!("{}\t{}\t{}\t{}\t{}", e.seq, e.kind, e.at_ms, e.body, hex::encode(e.hash))).collect()
}

fn golden() -> Vec<&'static str> {
    GOLDEN.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The golden file was written once, from the reference bodies, by
/// `KABAO_WRITE_GOLDEN=1 cargo test -p kabao-core --test event_bodies`; it is never rewritten to make a test pass.
#[test]
fn the_reference_bodies_make_the_golden_chain() {
    let lines = golden_lines(&chain(&reference_chain()));
    if std::env::var_os("KABAO_WRITE_GOLDEN").is_some() {
        let header = "# The order event chain as the writers made it before events were typed (kabao 4551a15),\n\
                      # from tests/event_bodies.rs `reference_chain`: seq, kind, at_ms, canonical body, hash (hex),\n\
                      # tab-separated.\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/event_chain.golden");
        std::fs::write(path, format!("{header}{}\n", lines.join("\n"))).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    assert_eq!(lines, golden());
}

/// The golden chain built from typed events, as the writers build them now.
fn typed_chain() -> Vec<ChainedEvent> {
    let hashes = vec![SHA_A.to_string(), SHA_B.to_string()];
    let none: &[String] = &[];
    let evidence: BTreeSet<EvidenceKind> = [EvidenceKind::ErrorText, EvidenceKind::Screenshot].into();
    let no_evidence = BTreeSet::new();
    let keys = [CardKeyId(101), CardKeyId(102)];
    let (buyer, merchant, arbiter) = (UserId(7), UserId(9), UserId(11));
    let redeemed = Answer {
        status: Status::Redeemed,
        redeemed_at: Some(Timestamp(1_735_600_000_000)),
        detail: Some("兑换于 \"门店\"".into()),
    };
    let valid = Answer { status: Status::Valid, redeemed_at: None, detail: None };
    let plan =
        |e, a, d, f| Plan { from_escrow: fen(e), from_available: fen(a), from_deposit: fen(d), from_fund: fen(f) };
    let events = [
        OrderEvent::OrderCreated {
            order_no: "K20250101A1B2C3D4E5F6G7H8J9",
            product: ProductId(42),
            quantity: 2,
            amount: fen(1980),
            warranty_sha256: &[0xab; 32],
            warranty_version: Some(3),
            buyer: Some(buyer),
        },
        OrderEvent::OrderCreated {
            order_no: "K20250101ZZZZZZZZZZZZZZZZZZ",
            product: ProductId(43),
            quantity: 1,
            amount: fen(990),
            warranty_sha256: &[0x01; 32],
            warranty_version: None,
            buyer: None,
        },
        OrderEvent::OrderPaid { amount: fen(1980), source: PaidFrom::Wallet },
        OrderEvent::OrderPaid { amount: fen(990), source: PaidFrom::Gateway { payment_id: 55 } },
        OrderEvent::KeysAssigned { card_keys: &keys },
        OrderEvent::KeysAssigned { card_keys: &[] },
        OrderEvent::OrderAwaitingDelivery { delivery_deadline: Timestamp(1_735_700_000_000), delivery_hours: 24 },
        OrderEvent::GoodsDelivered { by: merchant, chars: 17 },
        OrderEvent::KeysRevealed { by: Some(buyer), count: 2, item: None },
        OrderEvent::KeysRevealed { by: None, count: 0, item: None },
        OrderEvent::KeysRevealed { by: Some(buyer), count: 1, item: Some(2) },
        OrderEvent::KeysRevealed { by: None, count: 1, item: Some(1) },
        OrderEvent::OrderRefunded { reason: RefundReason::OutOfStock, amount: fen(1980), to: RefundTo::Wallet(buyer) },
        OrderEvent::OrderRefunded {
            reason: RefundReason::DeliveryDeadlineMissed,
            amount: fen(990),
            to: RefundTo::Gateway,
        },
        OrderEvent::PaymentRefundedLate { payment_id: 56, amount: fen(990) },
        OrderEvent::OrderExpired,
        OrderEvent::OrderSettled { amount: fen(1980), fee_bps: 250 },
        OrderEvent::OrderSettled { amount: fen(0), fee_bps: 0 },
        OrderEvent::ClaimFiled {
            claim_no: "C1a2b3",
            item: 1,
            defect: Defect::InvalidKey,
            activated: false,
            eligible: false,
            reasons: REASONS,
            evidence_sha256: &hashes,
            due_at: Some(Timestamp(1_735_786_400_000)),
        },
        OrderEvent::ClaimFiled {
            claim_no: "C1a2b4",
            item: 2,
            defect: Defect::AccountBanned,
            activated: true,
            eligible: true,
            reasons: "[]",
            evidence_sha256: none,
            due_at: None,
        },
        OrderEvent::ClaimFiled {
            claim_no: "C1a2b5",
            item: 1,
            defect: Defect::ExpiredEarly,
            activated: false,
            eligible: true,
            reasons: "not json",
            evidence_sha256: &hashes[..1],
            due_at: Some(Timestamp(1)),
        },
        reissued(1, 103, Reissue::Auto { after: ReissueAfter::Filed }),
        reissued(1, 104, Reissue::Auto { after: ReissueAfter::Evidence }),
        reissued(1, 105, Reissue::Remedy { by: Some(merchant), trigger: RemedyTrigger::MerchantApproved }),
        reissued(2, 106, Reissue::Remedy { by: None, trigger: RemedyTrigger::MerchantSilent }),
        reissued(1, 107, Reissue::Ruling { by: arbiter }),
        OrderEvent::ClaimRemedyFailed { claim_no: "C1a2b3", item: 1, how: RemedyTrigger::MerchantApproved },
        OrderEvent::ClaimRemedyFailed { claim_no: "C1a2b3", item: 2, how: RemedyTrigger::MerchantSilent },
        OrderEvent::ClaimRefunded {
            claim_no: "C1a2b3",
            item: 1,
            amount: fen(990),
            to: RefundTo::Wallet(buyer),
            how: RemedyTrigger::MerchantApproved,
        },
        OrderEvent::ClaimRefunded {
            claim_no: "C1a2b3",
            item: 2,
            amount: fen(990),
            to: RefundTo::Gateway,
            how: RemedyTrigger::MerchantSilent,
        },
        OrderEvent::ClaimRejected {
            claim_no: "C1a2b3",
            item: 1,
            why: Rejection::ByMerchant { reason: "售出前已测试可用 \"tested\"\n", by: merchant },
        },
        OrderEvent::ClaimRejected { claim_no: "C1a2b3", item: 2, why: Rejection::SilentIneligible },
        OrderEvent::ClaimEvidenceRequested {
            claim_no: "C1a2b3",
            item: 1,
            note: "请上传激活截图 / a screenshot",
            by: merchant,
        },
        OrderEvent::ClaimEvidenceAdded {
            claim_no: "C1a2b3",
            by: EvidenceParty::Buyer,
            evidence_sha256: &hashes,
            due_at: Some(Timestamp(1_735_786_400_000)),
        },
        OrderEvent::ClaimEvidenceAdded {
            claim_no: "C1a2b3",
            by: EvidenceParty::Merchant,
            evidence_sha256: none,
            due_at: None,
        },
        OrderEvent::ClaimReevaluated {
            claim_no: "C1a2b3",
            item: 1,
            eligible: true,
            was_eligible: false,
            reasons: "[]",
            evidence: &evidence,
        },
        OrderEvent::ClaimReevaluated {
            claim_no: "C1a2b3",
            item: 1,
            eligible: false,
            was_eligible: false,
            reasons: REASONS,
            evidence: &no_evidence,
        },
        OrderEvent::DisputeOpened { claim_no: "C1a2b3", item: 1, statement_chars: 6 },
        OrderEvent::DisputeStatement { claim_no: "C1a2b3", party: EvidenceParty::Buyer },
        OrderEvent::DisputeStatement { claim_no: "C1a2b3", party: EvidenceParty::Merchant },
        OrderEvent::DisputeStatement { claim_no: "C1a2b3", party: EvidenceParty::Arbiter },
        OrderEvent::DisputeRefunded {
            claim_no: "C1a2b3",
            amount: fen(990),
            plan: plan(29, 0, 392, 569),
            to: RefundTo::Wallet(buyer),
        },
        OrderEvent::DisputeRefunded {
            claim_no: "C1a2b3",
            amount: fen(500),
            plan: plan(500, 0, 0, 0),
            to: RefundTo::Gateway,
        },
        decided(Ruling::Refund { amount: fen(990) }, " 卡密无效 ", arbiter),
        decided(Ruling::ForceReissue, "stock", arbiter),
        decided(Ruling::Reject, "no evidence", arbiter),
        OrderEvent::ClaimVerified {
            claim_no: "C1a2b3",
            item: 1,
            answer: Some(&redeemed),
            finding: Finding::DefectConfirmed,
            note: None,
        },
        OrderEvent::ClaimVerified {
            claim_no: "C1a2b3",
            item: 2,
            answer: Some(&valid),
            finding: Finding::KeyValid,
            note: None,
        },
        OrderEvent::ClaimVerified {
            claim_no: "C1a2b3",
            item: 1,
            answer: None,
            finding: Finding::NoFinding,
            note: Some("connection refused"),
        },
        OrderEvent::InsurancePaid {
            claim_no: "C1a2b3",
            item: 1,
            amount: Money::from_fen(990),
            to: RefundTo::Wallet(buyer),
            recovered: "escrow",
        },
    ];
    let mut out: Vec<ChainedEvent> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let next = e.chain_after(out.last(), 1_735_689_600_000 + i as i64);
        out.push(next);
    }
    out
}

fn fen(f: i64) -> Money {
    Money::from_fen(f)
}

fn reissued(item: i32, key: i64, how: Reissue) -> OrderEvent<'static> {
    OrderEvent::ClaimReissued { claim_no: "C1a2b3", item, card_key: CardKeyId(key), how }
}

fn decided(ruling: Ruling, reason: &str, by: UserId) -> OrderEvent<'_> {
    OrderEvent::DisputeDecided { claim_no: "C1a2b3", ruling, reason, by }
}

#[test]
fn typed_events_make_the_golden_chain_byte_for_byte() {
    let typed = typed_chain();
    assert_eq!(golden_lines(&typed), golden());
    assert_eq!(typed, chain(&reference_chain()), "same kinds, bodies and hashes");
    assert_eq!(verify_chain(&typed), Ok(()));
}

#[test]
fn the_golden_chain_holds_every_kind() {
    let kinds: BTreeSet<&str> =
        typed_chain().iter().map(|e| EventKind::parse(&e.kind).map_or("?", |k| k.as_str())).collect();
    assert_eq!(kinds, EventKind::ALL.iter().map(|k| k.as_str()).collect());
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".*", "[a-zA-Z0-9]{0,24}", "[\\u{4e00}-\\u{9fff} \"\\\\\n\t]{0,12}"]
}

fn user() -> impl Strategy<Value = UserId> {
    any::<i64>().prop_map(UserId)
}

fn stamp() -> impl Strategy<Value = Option<Timestamp>> {
    proptest::option::of(any::<i64>().prop_map(Timestamp))
}

fn to() -> impl Strategy<Value = RefundTo> {
    proptest::option::of(user()).prop_map(|b| RefundTo::decide(b, false, false))
}

fn trigger() -> impl Strategy<Value = RemedyTrigger> {
    prop_oneof![Just(RemedyTrigger::MerchantApproved), Just(RemedyTrigger::MerchantSilent)]
}

/// Canonical bytes of both, and equal.
fn same(typed: &OrderEvent<'_>, reference: Value) -> Result<(), TestCaseError> {
    prop_assert_eq!(canonical_json(&typed.body()), canonical_json(&reference));
    Ok(())
}

/// The values one case of the property fills every event with.
#[derive(Debug)]
struct Values {
    no: String,
    s1: String,
    s2: String,
    a: i64,
    b: i64,
    c: i64,
    item: i32,
    n: usize,
    flag: bool,
    flag2: bool,
    u: UserId,
    ou: Option<UserId>,
    at: Option<Timestamp>,
    sha: [u8; 32],
    version: Option<i32>,
    keys: Vec<i64>,
    hashes: Vec<String>,
    kinds: BTreeSet<EvidenceKind>,
    refund_to: RefundTo,
    how: RemedyTrigger,
    defect: Defect,
    reasons: String,
}

fn values() -> impl Strategy<Value = Values> {
    let kind = proptest::sample::select(EvidenceKind::ALL.to_vec());
    (
        (text(), text(), text(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), 0..10_000usize, any::<bool>(), any::<bool>(), user(), proptest::option::of(user()), stamp()),
        (any::<[u8; 32]>(), any::<Option<i32>>(), proptest::collection::vec(any::<i64>(), 0..5)),
        (proptest::collection::vec("[0-9a-f]{64}", 0..4), proptest::collection::btree_set(kind, 0..4)),
        (to(), trigger(), proptest::sample::select(Defect::ALL.to_vec())),
        prop_oneof![Just(REASONS.to_string()), Just("[]".to_string()), text()],
    )
        .prop_map(
            |(
                (no, s1, s2, a, b, c),
                (item, n, flag, flag2, u, ou, at),
                (sha, version, keys),
                (hashes, kinds),
                (refund_to, how, defect),
                reasons,
            )| Values {
                no,
                s1,
                s2,
                a,
                b,
                c,
                item,
                n,
                flag,
                flag2,
                u,
                ou,
                at,
                sha,
                version,
                keys,
                hashes,
                kinds,
                refund_to,
                how,
                defect,
                reasons,
            },
        )
}

/// Every variant (and every shape of one) against its writer's literal, with the same values.
fn typed_bodies_match(v: &Values) -> Result<(), TestCaseError> {
    let Values { no, s1, s2, a, b, c, item, n, flag, flag2, u, ou, at, sha, version, keys, hashes, kinds, .. } = v;
    let (no, s1, s2, a, b, c, item, n, flag, flag2, u, ou, at) =
        (no.as_str(), s1.as_str(), s2.as_str(), *a, *b, *c, *item, *n, *flag, *flag2, *u, *ou, *at);
    let (refund_to, how, defect, reasons) = (v.refund_to, v.how, v.defect, v.reasons.as_str());
    let money = Money::from_fen(a);
    let ou_id = ou.map(|u| u.0);
    let at_ms = at.map(|t| t.millis());
    same(
        &OrderEvent::OrderCreated {
            order_no: no,
            product: ProductId(b),
            quantity: c,
            amount: money,
            warranty_sha256: sha,
            warranty_version: *version,
            buyer: ou,
        },
        reference::order_created(no, b, c, a, sha, *version, ou_id),
    )?;
    let source = if flag { PaidFrom::Wallet } else { PaidFrom::Gateway { payment_id: b } };
    same(&OrderEvent::OrderPaid { amount: money, source }, reference::order_paid(a, (!flag).then_some(b)))?;
    let card_keys: Vec<CardKeyId> = keys.iter().map(|k| CardKeyId(*k)).collect();
    same(&OrderEvent::KeysAssigned { card_keys: &card_keys }, reference::keys_assigned(keys))?;
    same(
        &OrderEvent::OrderAwaitingDelivery { delivery_deadline: Timestamp(b), delivery_hours: c },
        reference::order_awaiting_delivery(b, c),
    )?;
    same(&OrderEvent::GoodsDelivered { by: u, chars: n }, reference::goods_delivered(u.0, n))?;
    same(&OrderEvent::KeysRevealed { by: ou, count: n, item: None }, reference::keys_revealed(ou_id, n))?;
    same(
        &OrderEvent::KeysRevealed { by: ou, count: 1, item: Some(item) },
        reference::keys_revealed_reissued(ou_id, item),
    )?;
    let (reason, reason_text) = if flag {
        (RefundReason::OutOfStock, "out_of_stock")
    } else {
        (RefundReason::DeliveryDeadlineMissed, "delivery_deadline_missed")
    };
    let to_text = match refund_to {
        RefundTo::Wallet(_) => "wallet",
        RefundTo::Gateway => "gateway",
    };
    same(
        &OrderEvent::OrderRefunded { reason, amount: money, to: refund_to },
        reference::order_refunded(reason_text, a, to_text),
    )?;
    same(&OrderEvent::PaymentRefundedLate { payment_id: b, amount: money }, reference::payment_refunded_late(b, a))?;
    same(&OrderEvent::OrderExpired, reference::order_expired())?;
    same(&OrderEvent::OrderSettled { amount: money, fee_bps: b }, reference::order_settled(a, b))?;
    same(
        &OrderEvent::ClaimFiled {
            claim_no: no,
            item,
            defect,
            activated: flag,
            eligible: flag2,
            reasons,
            evidence_sha256: hashes,
            due_at: at,
        },
        reference::claim_filed(no, item, defect.as_str(), flag, flag2, reasons, hashes, at_ms),
    )?;
    let key = CardKeyId(b);
    let (after, after_text) = if flag { (ReissueAfter::Filed, "filed") } else { (ReissueAfter::Evidence, "evidence") };
    same(
        &OrderEvent::ClaimReissued { claim_no: no, item, card_key: key, how: Reissue::Auto { after } },
        reference::claim_reissued_auto(no, item, b, after_text),
    )?;
    same(
        &OrderEvent::ClaimReissued { claim_no: no, item, card_key: key, how: Reissue::Remedy { by: ou, trigger: how } },
        reference::claim_reissued_remedy(no, item, b, ou_id, how.as_str()),
    )?;
    same(
        &OrderEvent::ClaimReissued { claim_no: no, item, card_key: key, how: Reissue::Ruling { by: u } },
        reference::claim_reissued_arbiter(no, item, b, u.0),
    )?;
    same(
        &OrderEvent::ClaimRemedyFailed { claim_no: no, item, how },
        reference::claim_remedy_failed(no, item, how.as_str()),
    )?;
    same(
        &OrderEvent::ClaimRefunded { claim_no: no, item, amount: money, to: refund_to, how },
        reference::claim_refunded(no, item, a, to_text, how.as_str()),
    )?;
    same(
        &OrderEvent::ClaimRejected { claim_no: no, item, why: Rejection::ByMerchant { reason: s1, by: u } },
        reference::claim_rejected(no, item, s1, u.0),
    )?;
    same(
        &OrderEvent::ClaimRejected { claim_no: no, item, why: Rejection::SilentIneligible },
        reference::claim_rejected_silent(no, item),
    )?;
    same(
        &OrderEvent::ClaimEvidenceRequested { claim_no: no, item, note: s2, by: u },
        reference::claim_evidence_requested(no, item, s2, u.0),
    )?;
    let (party, party_text) =
        if flag { (EvidenceParty::Buyer, "buyer") } else { (EvidenceParty::Merchant, "merchant") };
    same(
        &OrderEvent::ClaimEvidenceAdded { claim_no: no, by: party, evidence_sha256: hashes, due_at: at },
        reference::claim_evidence_added(no, party_text, hashes, at_ms),
    )?;
    let kind_texts: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    same(
        &OrderEvent::ClaimReevaluated {
            claim_no: no,
            item,
            eligible: flag,
            was_eligible: flag2,
            reasons,
            evidence: kinds,
        },
        reference::claim_reevaluated(no, item, flag, flag2, reasons, &kind_texts),
    )?;
    same(
        &OrderEvent::DisputeOpened { claim_no: no, item, statement_chars: n },
        reference::dispute_opened(no, item, n),
    )?;
    for (party, text) in
        [(EvidenceParty::Buyer, "buyer"), (EvidenceParty::Merchant, "merchant"), (EvidenceParty::Arbiter, "arbiter")]
    {
        same(&OrderEvent::DisputeStatement { claim_no: no, party }, reference::dispute_statement(no, text))?;
    }
    let d = i64::from(item);
    let plan = Plan { from_escrow: fen(a), from_available: fen(b), from_deposit: fen(c), from_fund: fen(d) };
    same(
        &OrderEvent::DisputeRefunded { claim_no: no, amount: fen(c), plan, to: refund_to },
        reference::dispute_refunded(no, c, [a, b, c, d], refund_to == RefundTo::Gateway),
    )?;
    for (ruling, text, refund) in [
        (Ruling::Refund { amount: money }, "refund", Some(a)),
        (Ruling::ForceReissue, "force_reissue", None),
        (Ruling::Reject, "reject", None),
    ] {
        same(
            &OrderEvent::DisputeDecided { claim_no: no, ruling, reason: s1.trim(), by: u },
            reference::dispute_decided(no, text, refund, s1, u.0),
        )?;
    }
    for (status, finding) in [(Status::Redeemed, Finding::DefectConfirmed), (Status::Valid, Finding::KeyValid)] {
        let detail = (!s2.is_empty()).then(|| s2.to_string());
        let answer = Answer { status, redeemed_at: at, detail: detail.clone() };
        same(
            &OrderEvent::ClaimVerified { claim_no: no, item, answer: Some(&answer), finding, note: None },
            reference::claim_verified(no, item, status.as_str(), at_ms, detail.as_deref(), finding.as_str()),
        )?;
    }
    same(
        &OrderEvent::ClaimVerified { claim_no: no, item, answer: None, finding: Finding::NoFinding, note: Some(s1) },
        reference::claim_verified_unreachable(no, item, s1),
    )?;
    Ok(())
}

proptest! {
    /// Whatever the values, a typed event's body is the bytes its writer's `json!` made.
    #[test]
    fn typed_bodies_are_the_writers_bodies(v in values()) {
        typed_bodies_match(&v)?;
    }
}
