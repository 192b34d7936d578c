//! Event bodies are hashed into every order's chain, so their bytes may never change. `reference` keeps the
//! bodies as the writers built them with `serde_json::json!` in kabao-server (at commit 4551a15, before events
//! were typed), verbatim but for the values they read; `data/event_chain.golden` is a chain of them with fixed
//! values, written from those literals. Both stay as the definition the typed events must match byte for byte.

use kabao_core::audit::{next_event, ChainedEvent};
use serde_json::Value;

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
