//! The kinds of event on an order's hash chain, named once here (the writers use these constants), with the
//! words every timeline shows for them in zh-CN and English, so no page shows a raw code.
//!
//! A kind is stored as text in the chain and hashed with it: the strings never change once written.

use crate::i18n::Lang;

pub const ORDER_CREATED: &str = "order.created";
pub const ORDER_PAID: &str = "order.paid";
pub const KEYS_ASSIGNED: &str = "keys.assigned";
pub const ORDER_AWAITING_DELIVERY: &str = "order.awaiting_delivery";
pub const GOODS_DELIVERED: &str = "goods.delivered";
pub const KEYS_REVEALED: &str = "keys.revealed";
pub const ORDER_REFUNDED: &str = "order.refunded";
pub const PAYMENT_REFUNDED_LATE: &str = "payment.refunded_late";
pub const ORDER_EXPIRED: &str = "order.expired";
pub const ORDER_SETTLED: &str = "order.settled";
pub const CLAIM_FILED: &str = "claim.filed";
pub const CLAIM_REISSUED: &str = "claim.reissued";
pub const CLAIM_REFUNDED: &str = "claim.refunded";
pub const CLAIM_REJECTED: &str = "claim.rejected";
pub const CLAIM_EVIDENCE_REQUESTED: &str = "claim.evidence_requested";
pub const CLAIM_EVIDENCE_ADDED: &str = "claim.evidence_added";
pub const CLAIM_REMEDY_FAILED: &str = "claim.remedy_failed";
pub const CLAIM_REEVALUATED: &str = "claim.reevaluated";
pub const DISPUTE_OPENED: &str = "dispute.opened";
pub const DISPUTE_STATEMENT: &str = "dispute.statement";
pub const DISPUTE_REFUNDED: &str = "dispute.refunded";
pub const DISPUTE_DECIDED: &str = "dispute.decided";

/// Every kind an order's chain may hold. A new kind is added here, with its label below; a test checks both.
pub const ALL: [&str; 22] = [
    ORDER_CREATED,
    ORDER_PAID,
    KEYS_ASSIGNED,
    ORDER_AWAITING_DELIVERY,
    GOODS_DELIVERED,
    KEYS_REVEALED,
    ORDER_REFUNDED,
    PAYMENT_REFUNDED_LATE,
    ORDER_EXPIRED,
    ORDER_SETTLED,
    CLAIM_FILED,
    CLAIM_REISSUED,
    CLAIM_REFUNDED,
    CLAIM_REJECTED,
    CLAIM_EVIDENCE_REQUESTED,
    CLAIM_EVIDENCE_ADDED,
    CLAIM_REMEDY_FAILED,
    CLAIM_REEVALUATED,
    DISPUTE_OPENED,
    DISPUTE_STATEMENT,
    DISPUTE_REFUNDED,
    DISPUTE_DECIDED,
];

/// What a timeline says for an event of `kind` with the canonical JSON `body` it was chained with; `None` for a
/// kind this list does not know (see [`label_or_other`]). The body only refines the words (an automatic
/// re-issue, a refund for a missed delivery deadline); it never makes a known kind unlabelled.
pub fn label(kind: &str, body: &str, lang: Lang) -> Option<&'static str> {
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let field = |k: &str| body.get(k).and_then(serde_json::Value::as_str);
    Some(match kind {
        ORDER_CREATED => lang.pick("下单（已确认质保条款）", "Ordered (warranty terms acknowledged)"),
        ORDER_PAID => lang.pick("已付款，资金由平台担保", "Paid; the money is held in escrow"),
        KEYS_ASSIGNED => lang.pick("卡密已发放", "Keys delivered"),
        ORDER_AWAITING_DELIVERY => lang.pick("等待商家人工发货", "Waiting for the merchant to deliver"),
        GOODS_DELIVERED => lang.pick("商家已发货", "Delivered by the merchant"),
        KEYS_REVEALED => lang.pick("查看了卡密", "Keys revealed"),
        ORDER_REFUNDED if field("reason") == Some("delivery_deadline_missed") => {
            lang.pick("商家未在时限内发货，已自动全额退款", "Not delivered in time: refunded in full automatically")
        }
        ORDER_REFUNDED => lang.pick("库存不足，已退款", "Out of stock: refunded"),
        PAYMENT_REFUNDED_LATE => lang.pick("订单已失效，付款已退回", "Payment for an inactive order returned"),
        ORDER_EXPIRED => lang.pick("超时未付款，订单关闭", "Not paid in time: closed"),
        ORDER_SETTLED => lang.pick("质保期结束，货款结算给商家", "Claim window over: paid out to the merchant"),
        CLAIM_FILED => lang.pick("买家提交售后申请（证据已存证）", "Claim filed (evidence fingerprinted)"),
        CLAIM_REISSUED if body.get("auto").and_then(serde_json::Value::as_bool) == Some(true) => {
            lang.pick("符合补单规则，系统自动补发新卡密", "Within the rules: a new key re-issued automatically")
        }
        CLAIM_REISSUED if field("how") == Some("arbiter") => lang.pick(
            "平台裁决补发新卡密，原卡密作废",
            "A new key re-issued by the platform's ruling; the reported one voided",
        ),
        CLAIM_REISSUED => lang.pick("已补发新卡密，原卡密作废", "A new key re-issued; the reported one voided"),
        CLAIM_REFUNDED => lang.pick("售后退款：该件商品的货款已退回", "Claim refunded: the item's price returned"),
        CLAIM_REJECTED if field("reason") == Some("merchant_silent_ineligible") => lang.pick(
            "商家逾期未处理，申请不符合规则，已自动关闭",
            "The merchant did not answer and the claim is outside the rules: closed automatically",
        ),
        CLAIM_REJECTED => lang.pick("商家拒绝了售后申请", "The merchant rejected the claim"),
        CLAIM_EVIDENCE_REQUESTED => {
            lang.pick("商家要求补充证据（处理时限暂停）", "More evidence asked for (deadline paused)")
        }
        CLAIM_EVIDENCE_ADDED => lang.pick("补充了证据", "Evidence added"),
        CLAIM_REMEDY_FAILED => {
            lang.pick("无法补发或退款，可申请平台介入", "No re-issue or refund possible: the platform can step in")
        }
        CLAIM_REEVALUATED if body.get("eligible").and_then(serde_json::Value::as_bool) == Some(true) => {
            lang.pick("补充证据后重新审核：符合补单规则", "Re-evaluated with the new evidence: within the rules")
        }
        CLAIM_REEVALUATED => lang.pick(
            "补充证据后重新审核：仍不符合补单规则",
            "Re-evaluated with the new evidence: still outside the rules",
        ),
        DISPUTE_OPENED => lang.pick("买家申请平台介入", "The buyer asked the platform to step in"),
        DISPUTE_STATEMENT => match field("party") {
            Some("buyer") => lang.pick("买家向平台提交了陈述", "The buyer gave the platform a statement"),
            Some("merchant") => lang.pick("商家向平台提交了陈述", "The merchant gave the platform a statement"),
            Some("arbiter") => lang.pick("仲裁员补充了说明", "The arbiter added a note"),
            _ => lang.pick("平台介入：提交了陈述", "Dispute: a statement was added"),
        },
        DISPUTE_REFUNDED => lang.pick("平台裁决退款，款项已退回", "Refunded by the platform's ruling"),
        DISPUTE_DECIDED => lang.pick("平台已作出裁决", "The platform ruled on the dispute"),
        _ => return None,
    })
}

/// [`label`], or "其他事件" / "Other event" for a kind written by a newer version than this one.
pub fn label_or_other(kind: &str, body: &str, lang: Lang) -> &'static str {
    label(kind, body, lang).unwrap_or_else(|| lang.pick("其他事件", "Other event"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_kind_has_distinct_non_empty_labels_in_both_languages() {
        assert_eq!(ALL.iter().collect::<BTreeSet<_>>().len(), ALL.len(), "a kind is listed twice");
        for lang in [Lang::Zh, Lang::En] {
            let mut seen = BTreeSet::new();
            for kind in ALL {
                let l = label(kind, "{}", lang).unwrap_or_else(|| panic!("{kind} has no label"));
                assert!(!l.trim().is_empty(), "{kind}");
                assert!(!l.contains(kind), "{kind} shows its code");
                assert!(seen.insert(l), "{kind}: label {l:?} is used by another kind");
            }
        }
        for kind in ALL {
            assert_ne!(label(kind, "{}", Lang::Zh), label(kind, "{}", Lang::En), "{kind}");
        }
    }

    #[test]
    fn the_body_refines_the_words_and_bad_bodies_still_get_a_label() {
        let auto = label(CLAIM_REISSUED, r#"{"auto":true,"claim_no":"C1"}"#, Lang::Zh);
        assert_eq!(auto, Some("符合补单规则，系统自动补发新卡密"));
        assert_ne!(auto, label(CLAIM_REISSUED, r#"{"how":"merchant"}"#, Lang::Zh));
        assert_eq!(
            label(ORDER_REFUNDED, r#"{"reason":"delivery_deadline_missed"}"#, Lang::En),
            Some("Not delivered in time: refunded in full automatically")
        );
        assert_eq!(label(DISPUTE_STATEMENT, r#"{"party":"merchant"}"#, Lang::Zh), Some("商家向平台提交了陈述"));
        for kind in ALL {
            assert!(label(kind, "not json", Lang::En).is_some(), "{kind}");
        }
        assert_eq!(label("later.kind", "{}", Lang::Zh), None);
        assert_eq!(label_or_other("later.kind", "{}", Lang::En), "Other event");
    }
}
