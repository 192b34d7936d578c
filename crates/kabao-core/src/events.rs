//! The events on an order's hash chain: [`OrderEvent`], one variant per kind with what it carries, written by
//! every writer; its canonical body; and [`EventKind`] with the words every timeline shows in zh-CN and English.
//!
//! Kind and body are hashed into the chain, so neither the kind strings nor a body's bytes may ever change once
//! written (`tests/event_bodies.rs` keeps the bodies as they were first written). Stored events are read back as
//! (kind text, body text) and labelled from those, so a body written by any version still gets its words.

use crate::audit::{next_event, ChainedEvent};
use crate::claim::EvidenceParty;
use crate::dispute::{Plan, Ruling};
use crate::i18n::Lang;
use crate::refund::RefundTo;
use crate::verification::{Answer, Finding};
use crate::warranty::{Defect, EvidenceKind};
use crate::{CardKeyId, Money, ProductId, Timestamp, UserId};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt;

/// The kind of an event, as stored (the text of [`EventKind::as_str`]) and as timelines name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    OrderCreated,
    OrderPaid,
    KeysAssigned,
    OrderAwaitingDelivery,
    GoodsDelivered,
    KeysRevealed,
    OrderRefunded,
    PaymentRefundedLate,
    OrderExpired,
    OrderSettled,
    ClaimFiled,
    ClaimReissued,
    ClaimRefunded,
    ClaimRejected,
    ClaimEvidenceRequested,
    ClaimEvidenceAdded,
    ClaimRemedyFailed,
    ClaimReevaluated,
    DisputeOpened,
    DisputeStatement,
    DisputeRefunded,
    DisputeDecided,
    ClaimVerified,
    InsurancePaid,
}

impl EventKind {
    /// Every kind an order's chain may hold.
    pub const ALL: [EventKind; 24] = [
        EventKind::OrderCreated,
        EventKind::OrderPaid,
        EventKind::KeysAssigned,
        EventKind::OrderAwaitingDelivery,
        EventKind::GoodsDelivered,
        EventKind::KeysRevealed,
        EventKind::OrderRefunded,
        EventKind::PaymentRefundedLate,
        EventKind::OrderExpired,
        EventKind::OrderSettled,
        EventKind::ClaimFiled,
        EventKind::ClaimReissued,
        EventKind::ClaimRefunded,
        EventKind::ClaimRejected,
        EventKind::ClaimEvidenceRequested,
        EventKind::ClaimEvidenceAdded,
        EventKind::ClaimRemedyFailed,
        EventKind::ClaimReevaluated,
        EventKind::DisputeOpened,
        EventKind::DisputeStatement,
        EventKind::DisputeRefunded,
        EventKind::DisputeDecided,
        EventKind::ClaimVerified,
        EventKind::InsurancePaid,
    ];

    /// The kind as stored and hashed; never changed once written.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::OrderCreated => "order.created",
            EventKind::OrderPaid => "order.paid",
            EventKind::KeysAssigned => "keys.assigned",
            EventKind::OrderAwaitingDelivery => "order.awaiting_delivery",
            EventKind::GoodsDelivered => "goods.delivered",
            EventKind::KeysRevealed => "keys.revealed",
            EventKind::OrderRefunded => "order.refunded",
            EventKind::PaymentRefundedLate => "payment.refunded_late",
            EventKind::OrderExpired => "order.expired",
            EventKind::OrderSettled => "order.settled",
            EventKind::ClaimFiled => "claim.filed",
            EventKind::ClaimReissued => "claim.reissued",
            EventKind::ClaimRefunded => "claim.refunded",
            EventKind::ClaimRejected => "claim.rejected",
            EventKind::ClaimEvidenceRequested => "claim.evidence_requested",
            EventKind::ClaimEvidenceAdded => "claim.evidence_added",
            EventKind::ClaimRemedyFailed => "claim.remedy_failed",
            EventKind::ClaimReevaluated => "claim.reevaluated",
            EventKind::DisputeOpened => "dispute.opened",
            EventKind::DisputeStatement => "dispute.statement",
            EventKind::DisputeRefunded => "dispute.refunded",
            EventKind::DisputeDecided => "dispute.decided",
            EventKind::ClaimVerified => "claim.verified",
            EventKind::InsurancePaid => "insurance.paid",
        }
    }

    /// The kind a stored event names; `None` for one written by a newer version than this one.
    pub fn parse(kind: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// What a timeline says for an event of this kind with the canonical JSON `body` it was chained with. The
    /// body only refines the words (an automatic re-issue, a refund for a missed delivery deadline); a body this
    /// version does not understand, or no JSON at all, still gets the kind's words.
    pub fn label(self, body: &str, lang: Lang) -> &'static str {
        self.label_of(&serde_json::from_str(body).unwrap_or(Value::Null), lang)
    }

    fn label_of(self, body: &Value, lang: Lang) -> &'static str {
        let field = |k: &str| body.get(k).and_then(Value::as_str);
        let flag = |k: &str| body.get(k).and_then(Value::as_bool);
        match self {
            EventKind::OrderCreated => lang.pick("下单（已确认质保条款）", "Ordered (warranty terms acknowledged)"),
            EventKind::OrderPaid => lang.pick("已付款，资金由平台担保", "Paid; the money is held in escrow"),
            EventKind::KeysAssigned => lang.pick("卡密已发放", "Keys delivered"),
            EventKind::OrderAwaitingDelivery => lang.pick("等待商家人工发货", "Waiting for the merchant to deliver"),
            EventKind::GoodsDelivered => lang.pick("商家已发货", "Delivered by the merchant"),
            EventKind::KeysRevealed => lang.pick("查看了卡密", "Keys revealed"),
            EventKind::OrderRefunded if field("reason") == Some(RefundReason::DeliveryDeadlineMissed.as_str()) => {
                lang.pick("商家未在时限内发货，已自动全额退款", "Not delivered in time: refunded in full automatically")
            }
            EventKind::OrderRefunded => lang.pick("库存不足，已退款", "Out of stock: refunded"),
            EventKind::PaymentRefundedLate => {
                lang.pick("订单已失效，付款已退回", "Payment for an inactive order returned")
            }
            EventKind::OrderExpired => lang.pick("超时未付款，订单关闭", "Not paid in time: closed"),
            EventKind::OrderSettled => {
                lang.pick("质保期结束，货款结算给商家", "Claim window over: paid out to the merchant")
            }
            EventKind::ClaimFiled => {
                lang.pick("买家提交售后申请（证据已存证）", "Claim filed (evidence fingerprinted)")
            }
            EventKind::ClaimReissued if flag("auto") == Some(true) => {
                lang.pick("符合补单规则，系统自动补发新卡密", "Within the rules: a new key re-issued automatically")
            }
            EventKind::ClaimReissued if field("how") == Some(Reissue::RULING) => lang.pick(
                "平台裁决补发新卡密，原卡密作废",
                "A new key re-issued by the platform's ruling; the reported one voided",
            ),
            EventKind::ClaimReissued => {
                lang.pick("已补发新卡密，原卡密作废", "A new key re-issued; the reported one voided")
            }
            EventKind::ClaimRefunded => {
                lang.pick("售后退款：该件商品的货款已退回", "Claim refunded: the item's price returned")
            }
            EventKind::ClaimRejected if field("reason") == Some(Rejection::SILENT_INELIGIBLE) => lang.pick(
                "商家逾期未处理，申请不符合规则，已自动关闭",
                "The merchant did not answer and the claim is outside the rules: closed automatically",
            ),
            EventKind::ClaimRejected => lang.pick("商家拒绝了售后申请", "The merchant rejected the claim"),
            EventKind::ClaimEvidenceRequested => {
                lang.pick("商家要求补充证据（处理时限暂停）", "More evidence asked for (deadline paused)")
            }
            EventKind::ClaimEvidenceAdded => lang.pick("补充了证据", "Evidence added"),
            EventKind::ClaimRemedyFailed => {
                lang.pick("无法补发或退款，可申请平台介入", "No re-issue or refund possible: the platform can step in")
            }
            EventKind::ClaimReevaluated if flag("eligible") == Some(true) => {
                lang.pick("补充证据后重新审核：符合补单规则", "Re-evaluated with the new evidence: within the rules")
            }
            EventKind::ClaimReevaluated => lang.pick(
                "补充证据后重新审核：仍不符合补单规则",
                "Re-evaluated with the new evidence: still outside the rules",
            ),
            EventKind::DisputeOpened => lang.pick("买家申请平台介入", "The buyer asked the platform to step in"),
            EventKind::DisputeStatement => match field("party").and_then(EvidenceParty::parse) {
                Some(EvidenceParty::Buyer) => {
                    lang.pick("买家向平台提交了陈述", "The buyer gave the platform a statement")
                }
                Some(EvidenceParty::Merchant) => {
                    lang.pick("商家向平台提交了陈述", "The merchant gave the platform a statement")
                }
                Some(EvidenceParty::Arbiter) => lang.pick("仲裁员补充了说明", "The arbiter added a note"),
                None => lang.pick("平台介入：提交了陈述", "Dispute: a statement was added"),
            },
            EventKind::DisputeRefunded => lang.pick("平台裁决退款，款项已退回", "Refunded by the platform's ruling"),
            EventKind::DisputeDecided => lang.pick("平台已作出裁决", "The platform ruled on the dispute"),
            EventKind::ClaimVerified => match field("finding").and_then(Finding::parse) {
                _ if flag("reachable") == Some(false) => lang.pick(
                    "第三方验货服务无法访问，售后照常进行",
                    "The key verifier could not be reached; the claim proceeds",
                ),
                Some(Finding::DefectConfirmed) => lang.pick(
                    "第三方验货：卡密在发货前已被使用或无效",
                    "Key verifier: the key was invalid or redeemed before delivery",
                ),
                Some(Finding::KeyValid) => {
                    lang.pick("第三方验货：卡密有效，未被使用", "Key verifier: the key is valid and not redeemed")
                }
                Some(Finding::RedeemedAfterDelivery) => {
                    lang.pick("第三方验货：卡密在发货后被使用", "Key verifier: the key was redeemed after delivery")
                }
                Some(Finding::NoFinding) | None => {
                    lang.pick("第三方验货：无法确认卡密状态", "Key verifier: the key's state is unknown")
                }
            },
            EventKind::InsurancePaid => lang.pick(
                "质保险赔付：该件商品的货款已由保险池赔付",
                "Warranty insurance paid: the item's price came from the insurance pool",
            ),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a timeline says for a stored event of `kind` with its `body`; `None` for a kind this version does not
/// know (see [`label_or_other`]).
pub fn label(kind: &str, body: &str, lang: Lang) -> Option<&'static str> {
    EventKind::parse(kind).map(|k| k.label(body, lang))
}

/// [`label`], or "其他事件" / "Other event" for a kind written by a newer version than this one.
pub fn label_or_other(kind: &str, body: &str, lang: Lang) -> &'static str {
    label(kind, body, lang).unwrap_or_else(|| lang.pick("其他事件", "Other event"))
}

/// Where the money for an order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidFrom {
    Wallet,
    /// A gateway, with our payment id.
    Gateway {
        payment_id: i64,
    },
}

/// Why a paid order was refunded whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundReason {
    /// The stock was gone when the payment arrived.
    OutOfStock,
    /// The merchant did not deliver custom goods before the deadline.
    DeliveryDeadlineMissed,
}

impl RefundReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::OutOfStock => "out_of_stock",
            RefundReason::DeliveryDeadlineMissed => "delivery_deadline_missed",
        }
    }
}

/// Why a claim's remedy ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemedyTrigger {
    /// The merchant approved the claim.
    MerchantApproved,
    /// The merchant did not answer before the deadline and the claim is eligible.
    MerchantSilent,
}

impl RemedyTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RemedyTrigger::MerchantApproved => "merchant_approved",
            RemedyTrigger::MerchantSilent => "merchant_silent",
        }
    }
}

/// When an automatic re-issue happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReissueAfter {
    /// In the buyer's filing.
    Filed,
    /// When evidence the buyer added made the claim eligible.
    Evidence,
}

impl ReissueAfter {
    pub fn as_str(self) -> &'static str {
        match self {
            ReissueAfter::Filed => "filed",
            ReissueAfter::Evidence => "evidence",
        }
    }
}

/// Who or what re-issued a key for a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reissue {
    /// The policy's automatic re-issue.
    Auto { after: ReissueAfter },
    /// The claim's remedy: `by` the merchant who approved, `None` when the merchant stayed silent.
    Remedy { by: Option<UserId>, trigger: RemedyTrigger },
    /// An arbiter's forced re-issue.
    Ruling { by: UserId },
}

impl Reissue {
    /// The `how` of an arbiter's re-issue.
    const RULING: &'static str = "arbiter";
}

/// Why a claim was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection<'a> {
    /// The merchant rejected it, with a reason.
    ByMerchant { reason: &'a str, by: UserId },
    /// The merchant stayed silent past the deadline and the claim is outside the rules.
    SilentIneligible,
}

impl Rejection<'_> {
    const SILENT_INELIGIBLE: &'static str = "merchant_silent_ineligible";
}

/// One event of an order's chain, with what it records. [`OrderEvent::body`] is the JSON hashed with its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent<'a> {
    /// An unpaid order, its buyer having acknowledged the warranty terms with this SHA-256.
    OrderCreated {
        order_no: &'a str,
        product: ProductId,
        quantity: i64,
        amount: Money,
        warranty_sha256: &'a [u8],
        /// The policy's version, `None` for a product without warranty.
        warranty_version: Option<i32>,
        /// `None` for a guest.
        buyer: Option<UserId>,
    },
    OrderPaid {
        amount: Money,
        source: PaidFrom,
    },
    KeysAssigned {
        card_keys: &'a [CardKeyId],
    },
    /// Custom goods wait for the merchant until the deadline.
    OrderAwaitingDelivery {
        delivery_deadline: Timestamp,
        delivery_hours: i64,
    },
    /// The merchant delivered custom goods by hand: `chars` characters of text.
    GoodsDelivered {
        by: UserId,
        chars: usize,
    },
    /// `by` is `None` for a guest; `item` is the re-issued item shown with a claim's filing.
    KeysRevealed {
        by: Option<UserId>,
        count: usize,
        item: Option<i32>,
    },
    OrderRefunded {
        reason: RefundReason,
        amount: Money,
        to: RefundTo,
    },
    /// Money that arrived for an order that could no longer be paid, sent straight back.
    PaymentRefundedLate {
        payment_id: i64,
        amount: Money,
    },
    OrderExpired,
    /// Escrow released: `amount` was held, the platform took `fee_bps` of it.
    OrderSettled {
        amount: Money,
        fee_bps: i64,
    },
    ClaimFiled {
        claim_no: &'a str,
        item: i32,
        defect: Defect,
        activated: bool,
        eligible: bool,
        /// The ineligibility reasons as the claim records them (JSON, `[{"code", "zh", "en"}]`).
        reasons: &'a str,
        evidence_sha256: &'a [String],
        /// The merchant's deadline, if one runs.
        due_at: Option<Timestamp>,
    },
    ClaimReissued {
        claim_no: &'a str,
        item: i32,
        card_key: CardKeyId,
        how: Reissue,
    },
    ClaimRefunded {
        claim_no: &'a str,
        item: i32,
        amount: Money,
        to: RefundTo,
        how: RemedyTrigger,
    },
    ClaimRejected {
        claim_no: &'a str,
        item: i32,
        why: Rejection<'a>,
    },
    ClaimEvidenceRequested {
        claim_no: &'a str,
        item: i32,
        note: &'a str,
        by: UserId,
    },
    ClaimEvidenceAdded {
        claim_no: &'a str,
        by: EvidenceParty,
        evidence_sha256: &'a [String],
        /// The merchant's deadline after the evidence (restarted when it answered a request).
        due_at: Option<Timestamp>,
    },
    ClaimRemedyFailed {
        claim_no: &'a str,
        item: i32,
        how: RemedyTrigger,
    },
    ClaimReevaluated {
        claim_no: &'a str,
        item: i32,
        eligible: bool,
        was_eligible: bool,
        /// As in [`OrderEvent::ClaimFiled`].
        reasons: &'a str,
        /// The kinds of evidence the buyer has given.
        evidence: &'a BTreeSet<EvidenceKind>,
    },
    DisputeOpened {
        claim_no: &'a str,
        item: i32,
        statement_chars: usize,
    },
    DisputeStatement {
        claim_no: &'a str,
        party: EvidenceParty,
    },
    /// An arbiter's refund of `amount`, paid from the sources in `plan`.
    DisputeRefunded {
        claim_no: &'a str,
        amount: Money,
        plan: Plan,
        to: RefundTo,
    },
    /// `reason` as the arbiter gave it (recorded trimmed).
    DisputeDecided {
        claim_no: &'a str,
        ruling: Ruling,
        reason: &'a str,
        by: UserId,
    },
    /// The category's verifier was asked about the claimed item's key: its answer and what it means, or that it
    /// could not be reached (`answer: None`, with `note`: why, without the key).
    ClaimVerified {
        claim_no: &'a str,
        item: i32,
        answer: Option<&'a Answer>,
        finding: Finding,
        note: Option<&'a str>,
    },
    /// Warranty insurance paid a claim the normal remedy did not settle; `recovered` says where the pool got
    /// the money back from (`escrow`, `receivable`).
    InsurancePaid {
        claim_no: &'a str,
        item: i32,
        amount: Money,
        to: RefundTo,
        recovered: &'a str,
    },
}

impl OrderEvent<'_> {
    pub fn kind(&self) -> EventKind {
        match self {
            OrderEvent::OrderCreated { .. } => EventKind::OrderCreated,
            OrderEvent::OrderPaid { .. } => EventKind::OrderPaid,
            OrderEvent::KeysAssigned { .. } => EventKind::KeysAssigned,
            OrderEvent::OrderAwaitingDelivery { .. } => EventKind::OrderAwaitingDelivery,
            OrderEvent::GoodsDelivered { .. } => EventKind::GoodsDelivered,
            OrderEvent::KeysRevealed { .. } => EventKind::KeysRevealed,
            OrderEvent::OrderRefunded { .. } => EventKind::OrderRefunded,
            OrderEvent::PaymentRefundedLate { .. } => EventKind::PaymentRefundedLate,
            OrderEvent::OrderExpired => EventKind::OrderExpired,
            OrderEvent::OrderSettled { .. } => EventKind::OrderSettled,
            OrderEvent::ClaimFiled { .. } => EventKind::ClaimFiled,
            OrderEvent::ClaimReissued { .. } => EventKind::ClaimReissued,
            OrderEvent::ClaimRefunded { .. } => EventKind::ClaimRefunded,
            OrderEvent::ClaimRejected { .. } => EventKind::ClaimRejected,
            OrderEvent::ClaimEvidenceRequested { .. } => EventKind::ClaimEvidenceRequested,
            OrderEvent::ClaimEvidenceAdded { .. } => EventKind::ClaimEvidenceAdded,
            OrderEvent::ClaimRemedyFailed { .. } => EventKind::ClaimRemedyFailed,
            OrderEvent::ClaimReevaluated { .. } => EventKind::ClaimReevaluated,
            OrderEvent::DisputeOpened { .. } => EventKind::DisputeOpened,
            OrderEvent::DisputeStatement { .. } => EventKind::DisputeStatement,
            OrderEvent::DisputeRefunded { .. } => EventKind::DisputeRefunded,
            OrderEvent::DisputeDecided { .. } => EventKind::DisputeDecided,
            OrderEvent::ClaimVerified { .. } => EventKind::ClaimVerified,
            OrderEvent::InsurancePaid { .. } => EventKind::InsurancePaid,
        }
    }

    /// The body chained with the kind. Its fields are the ones first written for the kind: an absent optional
    /// field is `null` where it always was, and left out where it always was (a reveal's `item`).
    pub fn body(&self) -> Value {
        let ms = |t: &Option<Timestamp>| t.map(|t| t.millis());
        match self {
            OrderEvent::OrderCreated {
                order_no,
                product,
                quantity,
                amount,
                warranty_sha256,
                warranty_version,
                buyer,
            } => json!({
                "order_no": order_no, "product_id": product.0, "quantity": quantity,
                "amount_fen": amount.fen(), "warranty_sha256": hex::encode(warranty_sha256), "warranty_ack": true,
                "warranty_version": warranty_version,
                "buyer": buyer.map(|u| u.0),
            }),
            OrderEvent::OrderPaid { amount, source } => {
                let via = match source {
                    PaidFrom::Wallet => json!({"via": "wallet"}),
                    PaidFrom::Gateway { payment_id } => json!({"via": "gateway", "payment_id": payment_id}),
                };
                json!({"amount_fen": amount.fen(), "source": via})
            }
            OrderEvent::KeysAssigned { card_keys } => {
                json!({"count": card_keys.len(), "card_key_ids": card_keys.iter().map(|k| k.0).collect::<Vec<_>>()})
            }
            OrderEvent::OrderAwaitingDelivery { delivery_deadline, delivery_hours } => {
                json!({"delivery_deadline": delivery_deadline.millis(), "delivery_hours": delivery_hours})
            }
            OrderEvent::GoodsDelivered { by, chars } => json!({"by": by.0, "manual": true, "chars": chars}),
            OrderEvent::KeysRevealed { by, count, item: None } => json!({"by": by.map(|u| u.0), "count": count}),
            OrderEvent::KeysRevealed { by, count, item: Some(item) } => {
                json!({"by": by.map(|u| u.0), "count": count, "item": item})
            }
            OrderEvent::OrderRefunded { reason, amount, to } => {
                json!({"reason": reason.as_str(), "amount_fen": amount.fen(), "to": to.as_str()})
            }
            OrderEvent::PaymentRefundedLate { payment_id, amount } => {
                json!({"payment_id": payment_id, "amount_fen": amount.fen()})
            }
            OrderEvent::OrderExpired => json!({}),
            OrderEvent::OrderSettled { amount, fee_bps } => json!({"amount_fen": amount.fen(), "fee_bps": fee_bps}),
            OrderEvent::ClaimFiled {
                claim_no,
                item,
                defect,
                activated,
                eligible,
                reasons,
                evidence_sha256,
                due_at,
            } => json!({
                "claim_no": claim_no,
                "item": item,
                "defect": defect.as_str(),
                "activated": activated,
                "eligible": eligible,
                "reasons": reasons_value(reasons),
                "evidence_sha256": evidence_sha256,
                "due_at": ms(due_at),
            }),
            OrderEvent::ClaimReissued { claim_no, item, card_key, how } => {
                let card_key_id = card_key.0;
                match how {
                    Reissue::Auto { after } => json!({
                        "claim_no": claim_no, "item": item, "card_key_id": card_key_id, "auto": true,
                        "after": after.as_str(),
                    }),
                    Reissue::Remedy { by, trigger } => json!({
                        "claim_no": claim_no, "item": item, "card_key_id": card_key_id, "by": by.map(|u| u.0),
                        "how": trigger.as_str(),
                    }),
                    Reissue::Ruling { by } => json!({
                        "claim_no": claim_no, "item": item, "card_key_id": card_key_id, "by": by.0,
                        "how": Reissue::RULING,
                    }),
                }
            }
            OrderEvent::ClaimRefunded { claim_no, item, amount, to, how } => json!({
                "claim_no": claim_no, "item": item, "amount_fen": amount.fen(), "to": to.as_str(),
                "how": how.as_str(),
            }),
            OrderEvent::ClaimRejected { claim_no, item, why: Rejection::ByMerchant { reason, by } } => {
                json!({"claim_no": claim_no, "item": item, "reason": reason, "by": by.0})
            }
            OrderEvent::ClaimRejected { claim_no, item, why: Rejection::SilentIneligible } => {
                json!({"claim_no": claim_no, "item": item, "reason": Rejection::SILENT_INELIGIBLE})
            }
            OrderEvent::ClaimEvidenceRequested { claim_no, item, note, by } => {
                json!({"claim_no": claim_no, "item": item, "note": note, "by": by.0})
            }
            OrderEvent::ClaimEvidenceAdded { claim_no, by, evidence_sha256, due_at } => json!({
                "claim_no": claim_no,
                "by": by.as_str(),
                "evidence_sha256": evidence_sha256,
                "due_at": ms(due_at),
            }),
            OrderEvent::ClaimRemedyFailed { claim_no, item, how } => {
                json!({"claim_no": claim_no, "item": item, "how": how.as_str()})
            }
            OrderEvent::ClaimReevaluated { claim_no, item, eligible, was_eligible, reasons, evidence } => json!({
                "claim_no": claim_no,
                "item": item,
                "eligible": eligible,
                "was_eligible": was_eligible,
                "reasons": reasons_value(reasons),
                "evidence": evidence.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            }),
            OrderEvent::DisputeOpened { claim_no, item, statement_chars } => {
                json!({"claim_no": claim_no, "item": item, "statement_chars": statement_chars})
            }
            OrderEvent::DisputeStatement { claim_no, party } => json!({"claim_no": claim_no, "party": party.as_str()}),
            OrderEvent::DisputeRefunded { claim_no, amount, plan, to } => json!({
                "claim_no": claim_no,
                "amount_fen": amount.fen(),
                "from_escrow_fen": plan.from_escrow.fen(),
                "from_available_fen": plan.from_available.fen(),
                "from_deposit_fen": plan.from_deposit.fen(),
                "from_fund_fen": plan.from_fund.fen(),
                "to": to.as_str(),
            }),
            OrderEvent::DisputeDecided { claim_no, ruling, reason, by } => {
                let refund_fen = match ruling {
                    Ruling::Refund { amount } => Some(amount.fen()),
                    Ruling::ForceReissue | Ruling::Reject => None,
                };
                json!({
                    "claim_no": claim_no, "ruling": ruling.as_str(), "refund_fen": refund_fen, "reason": reason.trim(),
                    "by": by.0,
                })
            }
            OrderEvent::ClaimVerified { claim_no, item, answer: Some(a), finding, .. } => json!({
                "claim_no": claim_no, "item": item, "reachable": true, "status": a.status.as_str(),
                "redeemed_at": a.redeemed_at.map(|t| t.millis()), "detail": a.detail, "finding": finding.as_str(),
            }),
            OrderEvent::ClaimVerified { claim_no, item, answer: None, finding, note } => json!({
                "claim_no": claim_no, "item": item, "reachable": false, "note": note, "finding": finding.as_str(),
            }),
            OrderEvent::InsurancePaid { claim_no, item, amount, to, recovered } => json!({
                "claim_no": claim_no, "item": item, "amount_fen": amount.fen(), "to": to.as_str(),
                "recovered": recovered,
            }),
        }
    }

    /// This event as the next link of a chain whose last event is `last` (or none), at `at_ms`.
    pub fn chain_after(&self, last: Option<&ChainedEvent>, at_ms: i64) -> ChainedEvent {
        next_event(last, self.kind().as_str(), at_ms, &self.body())
    }

    /// What a timeline says for this event.
    pub fn label(&self, lang: Lang) -> &'static str {
        self.kind().label_of(&self.body(), lang)
    }
}

/// A claim's recorded reasons as JSON; text that is not JSON is `null`, as it always was on the chain.
fn reasons_value(reasons: &str) -> Value {
    serde_json::from_str(reasons).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_distinct_non_empty_labels_in_both_languages() {
        assert_eq!(
            EventKind::ALL.iter().collect::<BTreeSet<_>>().len(),
            EventKind::ALL.len(),
            "a kind is listed twice"
        );
        for lang in [Lang::Zh, Lang::En] {
            let mut seen = BTreeSet::new();
            for kind in EventKind::ALL {
                let l = kind.label("{}", lang);
                assert!(!l.trim().is_empty(), "{kind}");
                assert!(!l.contains(kind.as_str()), "{kind} shows its code");
                assert!(seen.insert(l), "{kind}: label {l:?} is used by another kind");
            }
        }
        for kind in EventKind::ALL {
            assert_ne!(kind.label("{}", Lang::Zh), kind.label("{}", Lang::En), "{kind}");
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn the_body_refines_the_words_and_bad_bodies_still_get_a_label() {
        let auto = label("claim.reissued", r#"{"auto":true,"claim_no":"C1"}"#, Lang::Zh);
        assert_eq!(auto, Some("符合补单规则，系统自动补发新卡密"));
        assert_ne!(auto, label("claim.reissued", r#"{"how":"merchant"}"#, Lang::Zh));
        assert_eq!(
            label("order.refunded", r#"{"reason":"delivery_deadline_missed"}"#, Lang::En),
            Some("Not delivered in time: refunded in full automatically")
        );
        assert_eq!(label("dispute.statement", r#"{"party":"merchant"}"#, Lang::Zh), Some("商家向平台提交了陈述"));
        for kind in EventKind::ALL {
            assert!(label(kind.as_str(), "not json", Lang::En).is_some(), "{kind}");
        }
        assert_eq!(label("later.kind", "{}", Lang::Zh), None);
        assert_eq!(label_or_other("later.kind", "{}", Lang::En), "Other event");
    }

    #[test]
    fn a_typed_event_reads_as_its_stored_form_does() {
        let arbiter = UserId(3);
        let events = [
            OrderEvent::ClaimReissued {
                claim_no: "C1",
                item: 1,
                card_key: CardKeyId(9),
                how: Reissue::Auto { after: ReissueAfter::Evidence },
            },
            OrderEvent::ClaimReissued {
                claim_no: "C1",
                item: 1,
                card_key: CardKeyId(9),
                how: Reissue::Ruling { by: arbiter },
            },
            OrderEvent::ClaimRejected { claim_no: "C1", item: 1, why: Rejection::SilentIneligible },
            OrderEvent::OrderRefunded {
                reason: RefundReason::DeliveryDeadlineMissed,
                amount: Money::from_fen(1),
                to: RefundTo::Gateway,
            },
            OrderEvent::DisputeStatement { claim_no: "C1", party: EvidenceParty::Arbiter },
        ];
        let mut seen = BTreeSet::new();
        for e in &events {
            let stored = e.chain_after(None, 0);
            assert_eq!(stored.kind, e.kind().as_str());
            for lang in [Lang::Zh, Lang::En] {
                assert_eq!(Some(e.label(lang)), label(&stored.kind, &stored.body, lang));
            }
            assert_ne!(e.label(Lang::En), e.kind().label("{}", Lang::En), "{:?}: the body refines the words", e.kind());
            assert!(seen.insert(e.label(Lang::Zh)));
        }
    }
}
