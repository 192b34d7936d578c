//! Warranty policies (补单规则): structured rules both sides see before paying, fixed on the order as a snapshot
//! with its SHA-256, and the eligibility of a claim computed against that snapshot with its reasons.
//!
//! A policy is data, never free text: the plain-language description shown to buyers is generated from it, so
//! what the buyer reads is exactly what the platform enforces.

use crate::i18n::{Lang, Localized};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// A defect a policy may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Defect {
    /// 卡密无效
    InvalidKey,
    /// 已被使用
    AlreadyRedeemed,
    /// 区服/地区不符
    WrongRegion,
    /// 账号无法登录
    LoginFailed,
    /// 账号被封
    AccountBanned,
    /// 缺少权益/功能
    MissingEntitlement,
    /// 提前过期
    ExpiredEarly,
}

impl Defect {
    pub const ALL: [Defect; 7] = [
        Defect::InvalidKey,
        Defect::AlreadyRedeemed,
        Defect::WrongRegion,
        Defect::LoginFailed,
        Defect::AccountBanned,
        Defect::MissingEntitlement,
        Defect::ExpiredEarly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Defect::InvalidKey => "invalid_key",
            Defect::AlreadyRedeemed => "already_redeemed",
            Defect::WrongRegion => "wrong_region",
            Defect::LoginFailed => "login_failed",
            Defect::AccountBanned => "account_banned",
            Defect::MissingEntitlement => "missing_entitlement",
            Defect::ExpiredEarly => "expired_early",
        }
    }

    pub fn parse(s: &str) -> Option<Defect> {
        Defect::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Defect::InvalidKey => lang.pick("卡密无效", "invalid key"),
            Defect::AlreadyRedeemed => lang.pick("卡密已被使用", "already redeemed"),
            Defect::WrongRegion => lang.pick("地区/区服不符", "wrong region or server"),
            Defect::LoginFailed => lang.pick("账号无法登录", "account cannot log in"),
            Defect::AccountBanned => lang.pick("账号被封禁", "account banned"),
            Defect::MissingEntitlement => lang.pick("缺少应有的权益或功能", "missing feature or entitlement"),
            Defect::ExpiredEarly => lang.pick("提前过期", "expired early"),
        }
    }
}

/// Evidence a policy may require with a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Screenshot,
    /// The error text or code, typed or pasted.
    ErrorText,
    ScreenRecording,
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 3] =
        [EvidenceKind::Screenshot, EvidenceKind::ErrorText, EvidenceKind::ScreenRecording];

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Screenshot => "screenshot",
            EvidenceKind::ErrorText => "error_text",
            EvidenceKind::ScreenRecording => "screen_recording",
        }
    }

    pub fn parse(s: &str) -> Option<EvidenceKind> {
        EvidenceKind::ALL.into_iter().find(|e| e.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            EvidenceKind::Screenshot => lang.pick("截图", "a screenshot"),
            EvidenceKind::ErrorText => lang.pick("错误提示或错误码", "the error text or code"),
            EvidenceKind::ScreenRecording => lang.pick("录屏", "a screen recording"),
        }
    }
}

/// What the buyer gets when a claim is upheld, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// A fresh key from stock; a refund when none is left or the re-issues are used up.
    ReissueThenRefund,
    RefundOnly,
    ReissueOnly,
}

impl Remedy {
    pub const ALL: [Remedy; 3] = [Remedy::ReissueThenRefund, Remedy::RefundOnly, Remedy::ReissueOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Remedy::ReissueThenRefund => "reissue_then_refund",
            Remedy::RefundOnly => "refund_only",
            Remedy::ReissueOnly => "reissue_only",
        }
    }

    pub fn parse(s: &str) -> Option<Remedy> {
        Remedy::ALL.into_iter().find(|r| r.as_str() == s)
    }

    fn reissues(self) -> bool {
        self != Remedy::RefundOnly
    }
}

/// How long after delivery a claim may be filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimWindow {
    /// A claim window in hours (point cards, codes: e.g. 24).
    Hours(u32),
    /// A warranty period in days (accounts: e.g. 30).
    Days(u32),
}

impl ClaimWindow {
    pub fn millis(self) -> i64 {
        match self {
            ClaimWindow::Hours(h) => i64::from(h) * 3_600_000,
            ClaimWindow::Days(d) => i64::from(d) * 86_400_000,
        }
    }

    /// When the window closes for goods delivered at `delivered`.
    pub fn closes(self, delivered: Timestamp) -> Timestamp {
        Timestamp(delivered.0.saturating_add(self.millis()))
    }
}

pub const MAX_WINDOW_HOURS: u32 = 720;
pub const MAX_WINDOW_DAYS: u32 = 365;
pub const MAX_REISSUES: u32 = 10;
pub const MAX_RESPONSE_HOURS: u32 = 168;

/// A merchant's re-issue rules for a product. Immutable once an order references it: editing makes a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarrantyPolicy {
    pub covered: BTreeSet<Defect>,
    pub evidence: BTreeSet<EvidenceKind>,
    pub window: ClaimWindow,
    /// Only items the buyer has not activated (redeemed, bound) may be claimed.
    pub only_if_not_activated: bool,
    /// Re-issues per delivered item (0 for refund-only).
    pub max_reissues: u32,
    pub remedy: Remedy,
    /// An eligible claim with stock available is re-issued in the buyer's own request, no merchant needed.
    pub auto_reissue: bool,
    /// Hours the merchant has to answer a claim; silence past it runs the remedy.
    pub response_hours: u32,
}

/// Why a policy is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a policy must cover at least one defect")]
    NothingCovered,
    #[error("claim window out of range")]
    Window,
    #[error("re-issues out of range for the remedy")]
    Reissues,
    #[error("automatic re-issue needs a remedy that re-issues")]
    AutoReissueWithoutReissue,
    #[error("response deadline out of range")]
    ResponseHours,
}

impl Localized for PolicyError {
    fn code(&self) -> &'static str {
        match self {
            PolicyError::NothingCovered => "warranty.nothing_covered",
            PolicyError::Window => "warranty.window_invalid",
            PolicyError::Reissues => "warranty.reissues_invalid",
            PolicyError::AutoReissueWithoutReissue => "warranty.auto_reissue_needs_reissue",
            PolicyError::ResponseHours => "warranty.response_hours_invalid",
        }
    }

    fn field(&self) -> Option<&'static str> {
        Some(match self {
            PolicyError::NothingCovered => "covered",
            PolicyError::Window => "window",
            PolicyError::Reissues => "max_reissues",
            PolicyError::AutoReissueWithoutReissue => "auto_reissue",
            PolicyError::ResponseHours => "response_hours",
        })
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            PolicyError::NothingCovered => lang.pick("请至少选择一种保障的问题", "Cover at least one defect"),
            PolicyError::Window => {
                lang.pick("售后期限需为 1–720 小时，或 1–365 天", "The claim window must be 1–720 hours or 1–365 days")
            }
            PolicyError::Reissues => lang.pick(
                "补发次数：可补发的方案需 1–10 次，仅退款方案需为 0 次",
                "Re-issues: 1–10 for a remedy that re-issues, 0 for refund only",
            ),
            PolicyError::AutoReissueWithoutReissue => lang.pick(
                "「自动补发」需要可补发的处理方式，不能与「仅退款」同时选择",
                "Automatic re-issue needs a remedy that re-issues; it cannot go with refund only",
            ),
            PolicyError::ResponseHours => {
                lang.pick("商家响应时限需为 1–168 小时", "The merchant's response deadline must be 1–168 hours")
            }
        }
        .to_string()
    }
}

impl WarrantyPolicy {
    /// Refuses incoherent policies, naming the reason.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.covered.is_empty() {
            return Err(PolicyError::NothingCovered);
        }
        let window_ok = match self.window {
            ClaimWindow::Hours(h) => (1..=MAX_WINDOW_HOURS).contains(&h),
            ClaimWindow::Days(d) => (1..=MAX_WINDOW_DAYS).contains(&d),
        };
        if !window_ok {
            return Err(PolicyError::Window);
        }
        if self.auto_reissue && !self.remedy.reissues() {
            return Err(PolicyError::AutoReissueWithoutReissue);
        }
        let reissues_ok = if self.remedy.reissues() {
            (1..=MAX_REISSUES).contains(&self.max_reissues)
        } else {
            self.max_reissues == 0
        };
        if !reissues_ok {
            return Err(PolicyError::Reissues);
        }
        if !(1..=MAX_RESPONSE_HOURS).contains(&self.response_hours) {
            return Err(PolicyError::ResponseHours);
        }
        Ok(())
    }

    /// The snapshot stored with an order: canonical JSON (keys sorted, no whitespace), so its hash is stable.
    pub fn snapshot(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        crate::audit::canonical_json(&serde_json::json!({ "warranty": value }))
    }

    /// Reads a snapshot back; `None` for the no-warranty snapshot or anything unreadable.
    pub fn from_snapshot(snapshot: &str) -> Option<WarrantyPolicy> {
        let v: serde_json::Value = serde_json::from_str(snapshot).ok()?;
        serde_json::from_value(v.get("warranty")?.clone()).ok()
    }

    /// SHA-256 of a snapshot, as shown on the order page and in the complaint package.
    pub fn snapshot_sha256(snapshot: &str) -> [u8; 32] {
        Sha256::digest(snapshot.as_bytes()).into()
    }

    /// The policy in plain words, one line per rule, generated from the data.
    pub fn describe(&self, lang: Lang) -> Vec<String> {
        let list = |items: Vec<&str>| items.join(lang.pick("、", ", "));
        let covered = list(self.covered.iter().map(|d| d.label(lang)).collect());
        let window = match (self.window, lang) {
            (ClaimWindow::Hours(h), Lang::Zh) => format!("发货后 {h} 小时内"),
            (ClaimWindow::Hours(h), Lang::En) => format!("within {h} hours of delivery"),
            (ClaimWindow::Days(d), Lang::Zh) => format!("发货后 {d} 天质保期内"),
            (ClaimWindow::Days(d), Lang::En) => format!("within a {d}-day warranty after delivery"),
        };
        let mut lines = Vec::new();
        lines.push(match lang {
            Lang::Zh => format!("保障范围：{covered}"),
            Lang::En => format!("Covered: {covered}"),
        });
        lines.push(match lang {
            Lang::Zh => format!("申请期限：{window}提交售后申请"),
            Lang::En => format!("Claim {window}"),
        });
        if self.only_if_not_activated {
            lines.push(
                lang.pick("仅限未激活（未兑换、未绑定）的商品", "Only items not yet activated (redeemed or bound)")
                    .into(),
            );
        }
        if !self.evidence.is_empty() {
            let ev = list(self.evidence.iter().map(|e| e.label(lang)).collect());
            lines.push(match lang {
                Lang::Zh => format!("需提供证据：{ev}"),
                Lang::En => format!("Evidence required: {ev}"),
            });
        }
        let n = self.max_reissues;
        lines.push(match (self.remedy, lang) {
            (Remedy::ReissueThenRefund, Lang::Zh) => format!("处理方式：每件最多补发 {n} 次，无货可补时全额退款"),
            (Remedy::ReissueThenRefund, Lang::En) => {
                format!("Remedy: up to {n} re-issue(s) per item, a full refund when none can be re-issued")
            }
            (Remedy::ReissueOnly, Lang::Zh) => format!("处理方式：每件最多补发 {n} 次（不退款）"),
            (Remedy::ReissueOnly, Lang::En) => format!("Remedy: up to {n} re-issue(s) per item (no refund)"),
            (Remedy::RefundOnly, Lang::Zh) => "处理方式：退款（不补发）".into(),
            (Remedy::RefundOnly, Lang::En) => "Remedy: a refund (no re-issue)".into(),
        });
        if self.auto_reissue {
            lines.push(
                lang.pick(
                    "符合条件且有库存时，平台立即自动补发，无需等待商家",
                    "When the claim qualifies and stock is available, the platform re-issues at once, without waiting for the merchant",
                )
                .into(),
            );
        }
        let h = self.response_hours;
        lines.push(match lang {
            Lang::Zh => format!("商家须在 {h} 小时内处理，逾期未处理将按以上方式自动执行"),
            Lang::En => format!("The merchant must answer within {h} hours; past that the remedy runs automatically"),
        });
        lines
    }
}

/// The one-line summary of a policy that every listing, page and API view shows ("7 天质保 · 自动补单"): the
/// claim window and whether re-issues are automatic. Derived from the policy, never stored on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WarrantySummary {
    pub window: ClaimWindow,
    /// An eligible claim is re-issued by the platform at once (自动补单); otherwise the merchant decides.
    pub auto_reissue: bool,
    pub remedy: Remedy,
}

impl WarrantyPolicy {
    /// What a listing says about this policy.
    pub fn summary(&self) -> WarrantySummary {
        WarrantySummary { window: self.window, auto_reissue: self.auto_reissue, remedy: self.remedy }
    }
}

impl WarrantySummary {
    /// The claim window in hours (a warranty period in days counts 24 hours a day).
    pub fn window_hours(self) -> u32 {
        match self.window {
            ClaimWindow::Hours(h) => h,
            ClaimWindow::Days(d) => d.saturating_mul(24),
        }
    }

    /// "7 天质保 · 自动补单", "24-hour warranty · manual re-issue", "30 天质保 · 仅退款".
    pub fn label(self, lang: Lang) -> String {
        let period = match (self.window, lang) {
            (ClaimWindow::Hours(h), Lang::Zh) => format!("{h} 小时质保"),
            (ClaimWindow::Hours(h), Lang::En) => format!("{h}-hour warranty"),
            (ClaimWindow::Days(d), Lang::Zh) => format!("{d} 天质保"),
            (ClaimWindow::Days(d), Lang::En) => format!("{d}-day warranty"),
        };
        let how = if self.auto_reissue {
            lang.pick("自动补单", "automatic re-issue")
        } else if self.remedy == Remedy::RefundOnly {
            lang.pick("仅退款", "refund only")
        } else {
            lang.pick("人工补单", "manual re-issue")
        };
        format!("{period} · {how}")
    }
}

/// The warranty label of a product or an order: its policy's summary, or 无质保 / "No warranty" without one.
/// The one place this text is made, so the home page, the catalog, the shop, product and order pages and the API
/// cannot disagree.
pub fn warranty_label(summary: Option<WarrantySummary>, lang: Lang) -> String {
    match summary {
        Some(s) => s.label(lang),
        None => lang.pick("无质保", "No warranty").to_string(),
    }
}

/// A starting point merchants pick in the console.
pub struct PolicyTemplate {
    pub id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub policy: WarrantyPolicy,
}

/// The templates offered to merchants; each is a valid policy.
pub fn templates() -> Vec<PolicyTemplate> {
    use Defect::*;
    use EvidenceKind::*;
    let set = |d: &[Defect]| d.iter().copied().collect::<BTreeSet<_>>();
    let ev = |e: &[EvidenceKind]| e.iter().copied().collect::<BTreeSet<_>>();
    vec![
        PolicyTemplate {
            id: "point_card_24h",
            name_zh: "点卡：未激活 24 小时内可补 1 次",
            name_en: "Point card: 1 re-issue within 24 h if not activated",
            policy: WarrantyPolicy {
                covered: set(&[InvalidKey, AlreadyRedeemed]),
                evidence: ev(&[Screenshot]),
                window: ClaimWindow::Hours(24),
                only_if_not_activated: true,
                max_reissues: 1,
                remedy: Remedy::ReissueThenRefund,
                auto_reissue: true,
                response_hours: 12,
            },
        },
        PolicyTemplate {
            id: "license_key_7d",
            name_zh: "激活码：7 天内无效可补 1 次，补不了退款",
            name_en: "License key: 1 re-issue within 7 days, else a refund",
            policy: WarrantyPolicy {
                covered: set(&[InvalidKey, AlreadyRedeemed, WrongRegion]),
                evidence: ev(&[Screenshot, ErrorText]),
                window: ClaimWindow::Days(7),
                only_if_not_activated: false,
                max_reissues: 1,
                remedy: Remedy::ReissueThenRefund,
                auto_reissue: false,
                response_hours: 24,
            },
        },
        PolicyTemplate {
            id: "account_30d",
            name_zh: "账号：30 天质保，无法登录或被封可补 2 次",
            name_en: "Account: 30-day warranty, 2 re-issues for login failure or ban",
            policy: WarrantyPolicy {
                covered: set(&[LoginFailed, AccountBanned, MissingEntitlement]),
                evidence: ev(&[Screenshot, ScreenRecording]),
                window: ClaimWindow::Days(30),
                only_if_not_activated: false,
                max_reissues: 2,
                remedy: Remedy::ReissueThenRefund,
                auto_reissue: false,
                response_hours: 24,
            },
        },
        PolicyTemplate {
            id: "membership_refund",
            name_zh: "会员：提前过期或缺权益，按规则退款",
            name_en: "Membership: refund when it expires early or lacks entitlements",
            policy: WarrantyPolicy {
                covered: set(&[ExpiredEarly, MissingEntitlement, LoginFailed]),
                evidence: ev(&[Screenshot]),
                window: ClaimWindow::Days(30),
                only_if_not_activated: false,
                max_reissues: 0,
                remedy: Remedy::RefundOnly,
                auto_reissue: false,
                response_hours: 48,
            },
        },
    ]
}

/// What is known about a claim when its eligibility is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFacts {
    pub defect: Defect,
    pub evidence: BTreeSet<EvidenceKind>,
    pub delivered_at: Timestamp,
    pub filed_at: Timestamp,
    /// Re-issues already made for this item.
    pub reissues_so_far: u32,
    /// The buyer says the item was activated (redeemed, bound) before the problem.
    pub activated: bool,
}

/// One reason a claim is not eligible under the snapshot it was sold with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    /// The order was sold without a warranty (无质保).
    NoWarranty,
    NotCovered(Defect),
    WindowClosed {
        closed_at: Timestamp,
    },
    MissingEvidence(Vec<EvidenceKind>),
    NoReissuesLeft {
        max: u32,
    },
    Activated,
}

impl Ineligible {
    pub fn code(&self) -> &'static str {
        match self {
            Ineligible::NoWarranty => "claim.no_warranty",
            Ineligible::NotCovered(_) => "claim.not_covered",
            Ineligible::WindowClosed { .. } => "claim.window_closed",
            Ineligible::MissingEvidence(_) => "claim.missing_evidence",
            Ineligible::NoReissuesLeft { .. } => "claim.no_reissues_left",
            Ineligible::Activated => "claim.activated",
        }
    }

    /// The reason in plain words. Times are shown by the caller's formatter.
    pub fn message(&self, lang: Lang, format_time: impl Fn(Timestamp) -> String) -> String {
        match (self, lang) {
            (Ineligible::NoWarranty, _) => {
                lang.pick("该订单购买时无质保", "The order was sold without a warranty").into()
            }
            (Ineligible::NotCovered(d), Lang::Zh) => format!("「{}」不在该商品的保障范围内", d.label(lang)),
            (Ineligible::NotCovered(d), Lang::En) => {
                format!("\"{}\" is not covered by this product's rules", d.label(lang))
            }
            (Ineligible::WindowClosed { closed_at }, Lang::Zh) => {
                format!("售后申请期限已于 {} 结束", format_time(*closed_at))
            }
            (Ineligible::WindowClosed { closed_at }, Lang::En) => {
                format!("The claim window closed at {}", format_time(*closed_at))
            }
            (Ineligible::MissingEvidence(kinds), _) => {
                let list = kinds.iter().map(|k| k.label(lang)).collect::<Vec<_>>().join(lang.pick("、", ", "));
                match lang {
                    Lang::Zh => format!("缺少规则要求的证据：{list}"),
                    Lang::En => format!("Missing the evidence the rules require: {list}"),
                }
            }
            (Ineligible::NoReissuesLeft { max }, Lang::Zh) => format!("该件商品的 {max} 次补发已用完"),
            (Ineligible::NoReissuesLeft { max }, Lang::En) => format!("The item's {max} re-issue(s) are used up"),
            (Ineligible::Activated, _) => lang
                .pick(
                    "规则仅保障未激活的商品，而该商品已激活",
                    "The rules cover only items not yet activated; this one was activated",
                )
                .into(),
        }
    }
}

/// What the policy allows for an eligible claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// A re-issue (refund as fallback when the remedy allows it).
    Reissue {
        refund_fallback: bool,
    },
    Refund,
}

/// A claim's eligibility: every reason it fails (all of them, so both sides see the whole picture), or what
/// the policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    Eligible(Allowed),
    Ineligible(Vec<Ineligible>),
}

/// What a remedy may do for an item that was re-issued `reissues_so_far` times: the policy's remedy order with
/// the re-issues it has left, or `None` when nothing is left (re-issue only, used up). Without a policy (无质保)
/// nothing is owed, but a merchant may still approve a claim as goodwill: a re-issue, else a refund.
pub fn remedy_allowed(policy: Option<&WarrantyPolicy>, reissues_so_far: u32) -> Option<Allowed> {
    let Some(p) = policy else { return Some(Allowed::Reissue { refund_fallback: true }) };
    let reissues_left = p.max_reissues.saturating_sub(reissues_so_far);
    match p.remedy {
        Remedy::RefundOnly => Some(Allowed::Refund),
        Remedy::ReissueThenRefund if reissues_left > 0 => Some(Allowed::Reissue { refund_fallback: true }),
        // Re-issues used up: the refund half of the remedy still applies.
        Remedy::ReissueThenRefund => Some(Allowed::Refund),
        Remedy::ReissueOnly if reissues_left > 0 => Some(Allowed::Reissue { refund_fallback: false }),
        Remedy::ReissueOnly => None,
    }
}

/// Computes a claim's eligibility against the policy snapshot the order was sold with (`None`: no warranty).
pub fn eligibility(policy: Option<&WarrantyPolicy>, facts: &ClaimFacts) -> Eligibility {
    let Some(p) = policy else { return Eligibility::Ineligible(vec![Ineligible::NoWarranty]) };
    let mut reasons = Vec::new();
    if !p.covered.contains(&facts.defect) {
        reasons.push(Ineligible::NotCovered(facts.defect));
    }
    let closes = p.window.closes(facts.delivered_at);
    if facts.filed_at > closes {
        reasons.push(Ineligible::WindowClosed { closed_at: closes });
    }
    let missing: Vec<EvidenceKind> = p.evidence.difference(&facts.evidence).copied().collect();
    if !missing.is_empty() {
        reasons.push(Ineligible::MissingEvidence(missing));
    }
    if p.only_if_not_activated && facts.activated {
        reasons.push(Ineligible::Activated);
    }
    match remedy_allowed(Some(p), facts.reissues_so_far) {
        Some(a) if reasons.is_empty() => Eligibility::Eligible(a),
        Some(_) => Eligibility::Ineligible(reasons),
        None => {
            reasons.push(Ineligible::NoReissuesLeft { max: p.max_reissues });
            Eligibility::Ineligible(reasons)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> WarrantyPolicy {
        templates().into_iter().find(|t| t.id == "point_card_24h").unwrap().policy
    }

    const DELIVERED: Timestamp = Timestamp(1_700_000_000_000);

    fn facts(defect: Defect) -> ClaimFacts {
        ClaimFacts {
            defect,
            evidence: [EvidenceKind::Screenshot].into_iter().collect(),
            delivered_at: DELIVERED,
            filed_at: Timestamp(DELIVERED.0 + 3_600_000),
            reissues_so_far: 0,
            activated: false,
        }
    }

    #[test]
    fn every_template_is_valid_and_describes_itself_in_both_languages() {
        for t in templates() {
            assert_eq!(t.policy.validate(), Ok(()), "{}", t.id);
            let zh = t.policy.describe(Lang::Zh);
            let en = t.policy.describe(Lang::En);
            assert_eq!(zh.len(), en.len());
            assert!(zh.iter().any(|l| l.starts_with("保障范围")), "{zh:?}");
        }
        let zh = card().describe(Lang::Zh).join("\n");
        assert!(zh.contains("卡密无效") && zh.contains("24 小时内") && zh.contains("最多补发 1 次"), "{zh}");
        assert!(zh.contains("仅限未激活") && zh.contains("自动补发") && zh.contains("12 小时内处理"), "{zh}");
    }

    #[test]
    fn incoherent_policies_are_refused_with_the_reason() {
        type Change = Box<dyn Fn(&mut WarrantyPolicy)>;
        let cases: Vec<(Change, PolicyError)> = vec![
            (Box::new(|p| p.covered.clear()), PolicyError::NothingCovered),
            (Box::new(|p| p.window = ClaimWindow::Hours(0)), PolicyError::Window),
            (Box::new(|p| p.window = ClaimWindow::Hours(721)), PolicyError::Window),
            (Box::new(|p| p.window = ClaimWindow::Days(366)), PolicyError::Window),
            (
                Box::new(|p| {
                    p.remedy = Remedy::RefundOnly;
                    p.max_reissues = 0;
                }),
                PolicyError::AutoReissueWithoutReissue,
            ),
            (Box::new(|p| p.max_reissues = 0), PolicyError::Reissues),
            (Box::new(|p| p.max_reissues = 11), PolicyError::Reissues),
            (
                Box::new(|p| {
                    p.remedy = Remedy::RefundOnly;
                    p.auto_reissue = false;
                    p.max_reissues = 1;
                }),
                PolicyError::Reissues,
            ),
            (Box::new(|p| p.response_hours = 0), PolicyError::ResponseHours),
            (Box::new(|p| p.response_hours = 169), PolicyError::ResponseHours),
        ];
        for (change, expected) in cases {
            let mut p = card();
            change(&mut p);
            assert_eq!(p.validate(), Err(expected));
            assert!(!expected.message(Lang::Zh).is_empty() && expected.field().is_some());
        }
    }

    #[test]
    fn snapshots_are_canonical_and_round_trip() {
        let p = card();
        let snap = p.snapshot();
        assert!(
            snap.starts_with(r#"{"warranty":{"auto_reissue":true,"covered":["invalid_key","already_redeemed"]"#),
            "{snap}"
        );
        assert_eq!(WarrantyPolicy::from_snapshot(&snap), Some(p.clone()));
        assert_eq!(WarrantyPolicy::from_snapshot(r#"{"warranty":"none"}"#), None);
        assert_eq!(WarrantyPolicy::snapshot_sha256(&snap), WarrantyPolicy::snapshot_sha256(&p.clone().snapshot()));
        let mut other = p;
        other.max_reissues = 2;
        assert_ne!(WarrantyPolicy::snapshot_sha256(&snap), WarrantyPolicy::snapshot_sha256(&other.snapshot()));
    }

    /// The label every page and API view shows, one row per policy shape.
    #[test]
    fn warranty_labels_say_the_window_and_who_reissues() {
        let shape = |window, auto_reissue, remedy| {
            let mut p = card();
            p.window = window;
            p.auto_reissue = auto_reissue;
            p.remedy = remedy;
            p.max_reissues = if remedy == Remedy::RefundOnly { 0 } else { 1 };
            assert_eq!(p.validate(), Ok(()));
            Some(p.summary())
        };
        let rows = [
            (
                shape(ClaimWindow::Days(7), true, Remedy::ReissueThenRefund),
                "7 天质保 · 自动补单",
                "7-day warranty · automatic re-issue",
            ),
            (
                shape(ClaimWindow::Days(3), false, Remedy::ReissueThenRefund),
                "3 天质保 · 人工补单",
                "3-day warranty · manual re-issue",
            ),
            (
                shape(ClaimWindow::Hours(24), true, Remedy::ReissueOnly),
                "24 小时质保 · 自动补单",
                "24-hour warranty · automatic re-issue",
            ),
            (
                shape(ClaimWindow::Hours(48), false, Remedy::ReissueOnly),
                "48 小时质保 · 人工补单",
                "48-hour warranty · manual re-issue",
            ),
            (
                shape(ClaimWindow::Days(30), false, Remedy::RefundOnly),
                "30 天质保 · 仅退款",
                "30-day warranty · refund only",
            ),
            (None, "无质保", "No warranty"),
        ];
        for (summary, zh, en) in rows {
            assert_eq!(warranty_label(summary, Lang::Zh), zh);
            assert_eq!(warranty_label(summary, Lang::En), en);
        }
        assert_eq!(shape(ClaimWindow::Days(7), true, Remedy::ReissueThenRefund).map(|s| s.window_hours()), Some(168));
        assert_eq!(shape(ClaimWindow::Hours(24), true, Remedy::ReissueOnly).map(|s| s.window_hours()), Some(24));
        // No policy a merchant can build is labelled 无质保.
        for t in templates() {
            assert!(!warranty_label(Some(t.policy.summary()), Lang::Zh).contains("无质保"), "{}", t.id);
        }
    }

    /// One row per eligibility reason, and the eligible outcomes of each remedy.
    #[test]
    fn eligibility_table() {
        let p = card();
        let closes = ClaimWindow::Hours(24).closes(DELIVERED);
        let with = |f: &dyn Fn(&mut ClaimFacts)| {
            let mut x = facts(Defect::InvalidKey);
            f(&mut x);
            eligibility(Some(&p), &x)
        };
        let table: Vec<(&str, Eligibility)> = vec![
            ("ok", with(&|_| {})),
            ("not covered", with(&|f| f.defect = Defect::AccountBanned)),
            ("window closed", with(&|f| f.filed_at = Timestamp(closes.0 + 1))),
            ("last moment", with(&|f| f.filed_at = closes)),
            ("no evidence", with(&|f| f.evidence.clear())),
            ("activated", with(&|f| f.activated = true)),
            ("reissued once already", with(&|f| f.reissues_so_far = 1)),
            (
                "everything wrong",
                with(&|f| {
                    f.defect = Defect::WrongRegion;
                    f.evidence.clear();
                    f.activated = true;
                }),
            ),
        ];
        let expected = vec![
            Eligibility::Eligible(Allowed::Reissue { refund_fallback: true }),
            Eligibility::Ineligible(vec![Ineligible::NotCovered(Defect::AccountBanned)]),
            Eligibility::Ineligible(vec![Ineligible::WindowClosed { closed_at: closes }]),
            Eligibility::Eligible(Allowed::Reissue { refund_fallback: true }),
            Eligibility::Ineligible(vec![Ineligible::MissingEvidence(vec![EvidenceKind::Screenshot])]),
            Eligibility::Ineligible(vec![Ineligible::Activated]),
            // Re-issue then refund with the re-issue used up: the refund remains.
            Eligibility::Eligible(Allowed::Refund),
            Eligibility::Ineligible(vec![
                Ineligible::NotCovered(Defect::WrongRegion),
                Ineligible::MissingEvidence(vec![EvidenceKind::Screenshot]),
                Ineligible::Activated,
            ]),
        ];
        for ((name, got), want) in table.into_iter().zip(expected) {
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(
            eligibility(None, &facts(Defect::InvalidKey)),
            Eligibility::Ineligible(vec![Ineligible::NoWarranty])
        );

        let mut only = p.clone();
        only.remedy = Remedy::ReissueOnly;
        let mut used = facts(Defect::InvalidKey);
        used.reissues_so_far = 1;
        assert_eq!(
            eligibility(Some(&only), &used),
            Eligibility::Ineligible(vec![Ineligible::NoReissuesLeft { max: 1 }])
        );
        let refund = templates().into_iter().find(|t| t.id == "membership_refund").unwrap().policy;
        let mut f = facts(Defect::ExpiredEarly);
        f.filed_at = Timestamp(DELIVERED.0 + 29 * 86_400_000);
        assert_eq!(eligibility(Some(&refund), &f), Eligibility::Eligible(Allowed::Refund));

        for r in [
            Ineligible::NoWarranty,
            Ineligible::NotCovered(Defect::InvalidKey),
            Ineligible::WindowClosed { closed_at: closes },
            Ineligible::MissingEvidence(vec![EvidenceKind::ScreenRecording]),
            Ineligible::NoReissuesLeft { max: 1 },
            Ineligible::Activated,
        ] {
            let zh = r.message(Lang::Zh, |t| t.0.to_string());
            let en = r.message(Lang::En, |t| t.0.to_string());
            assert!(!zh.is_empty() && !en.is_empty() && zh != en && r.code().starts_with("claim."));
        }
    }

    proptest::proptest! {
        /// Whatever the facts, a policy never allows more re-issues than its maximum.
        #[test]
        fn never_more_reissues_than_the_policy_allows(max in 1u32..=10, so_far in 0u32..20, t in 0usize..4) {
            let mut p = templates().into_iter().nth(t).unwrap().policy;
            if p.remedy != Remedy::RefundOnly {
                p.max_reissues = max;
            }
            let mut f = facts(*p.covered.iter().next().unwrap());
            f.evidence = p.evidence.clone();
            f.reissues_so_far = so_far;
            if let Eligibility::Eligible(Allowed::Reissue { .. }) = eligibility(Some(&p), &f) {
                proptest::prop_assert!(so_far < p.max_reissues);
            }
        }
    }
}
