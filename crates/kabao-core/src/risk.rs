//! The chat risk scanner: flags order-chat messages that try to move a deal off the platform (WeChat, QQ,
//! phone, Telegram, 私下交易, 收款码, personal payment links) or ask the buyer for a fake fee (补单手续费,
//! 解冻费, 激活费, a 保证金 asked of a buyer, 先付款再补).
//!
//! How it reads a message:
//! 1. It folds the text into two views with an offset map back to the original ([`text`]): full-width and
//!    look-alike letters become plain ASCII, and a dense view drops everything put between characters, so
//!    `威❤信`, `ｗｘ`, `1 3 8-1234-5678` and `扣扣 一二三四五六七八` read as what they mean.
//! 2. Contact rules ([`contact`]) need a channel name *and* something that looks like an id, or an explicit
//!    "add me" phrase: `微信：kabao88` and `加V` are flagged, `可以用微信支付吗` is not. Phone numbers are 11-digit
//!    mobiles, not order numbers, key groups, prices or times.
//! 3. Phrase rules ([`phrases`]) cover private deals, payment codes and fee scams; a phrase is not flagged when
//!    its sentence warns against it (`请勿私下交易`), denies it (`补单不收手续费`) or asks about it
//!    (`保证金是平台收的吗`). A concrete id, number or link is flagged whatever the words around it say.
//! 4. Links ([`links`]) are flagged unless their host is on the caller's allow-list.
//!
//! Pure and bounded: every rule looks at a fixed window around a position, so the work is linear in the
//! message's length, and no input can make it panic (a property test feeds it arbitrary strings).

mod contact;
pub mod eval;
mod links;
pub mod model;
pub mod normalize;
mod phrases;
mod shapes;
mod text;

use crate::i18n::Lang;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use text::Folded;

/// What the caller decides: which link hosts are the platform's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanConfig {
    /// Hosts whose links are not flagged; each also allows its subdomains (`kabao.cn` allows `www.kabao.cn`).
    pub allowed_hosts: Vec<String>,
}

impl Default for ScanConfig {
    /// Only the platform's own domain, `kabao.cn`, and its subdomains.
    fn default() -> Self {
        ScanConfig { allowed_hosts: vec!["kabao.cn".to_string()] }
    }
}

/// Official redemption and recharge sites a product page names (`store.steampowered.com`, `apple.com/redeem`):
/// links to them are never flagged, whatever the caller's allow-list.
pub const OFFICIAL_HOSTS: &[&str] = &[
    "apple.com",
    "steampowered.com",
    "microsoft.com",
    "xbox.com",
    "playstation.com",
    "nintendo.com",
    "play.google.com",
    "netflix.com",
    "spotify.com",
    "pay.qq.com",
    "ecard.163.com",
    "iqiyi.com",
    "bilibili.com",
    "epicgames.com",
    "office.com",
    "microsoft365.com",
    "openai.com",
    "chatgpt.com",
    "roblox.com",
    "ea.com",
    "ubisoft.com",
    "battle.net",
    "blizzard.com",
    "riotgames.com",
    "gog.com",
    "minecraft.net",
    "hoyoverse.com",
    "mihoyo.com",
    "adobe.com",
    "disneyplus.com",
    "youtube.com",
    // Redemption pages named by product listings: Discord Nitro, Tencent Video VIP, Razer Gold.
    "discord.com",
    "film.qq.com",
    "v.qq.com",
    "razer.com",
];

/// The kind of risk a hit is, which decides the warning a buyer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCategory {
    /// A WeChat/QQ/Telegram id, a phone number, or an invitation to talk or deal elsewhere.
    OffPlatformContact,
    /// A payment code, a transfer to a person, or a payment link outside the platform.
    OffPlatformPayment,
    /// A fee the buyer is told to pay: re-issue, unfreezing, activation, deposit, "pay first".
    FeeScam,
    /// Asking the buyer to confirm receipt (or drop a complaint) before the goods work: escrow released early.
    EarlyRelease,
}

impl RiskCategory {
    pub const ALL: [RiskCategory; 4] = [
        RiskCategory::OffPlatformContact,
        RiskCategory::OffPlatformPayment,
        RiskCategory::FeeScam,
        RiskCategory::EarlyRelease,
    ];

    /// The stable machine name, as serialized: `off_platform_contact`, `off_platform_payment`, `fee_scam`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskCategory::OffPlatformContact => "off_platform_contact",
            RiskCategory::OffPlatformPayment => "off_platform_payment",
            RiskCategory::FeeScam => "fee_scam",
            RiskCategory::EarlyRelease => "early_release",
        }
    }

    pub fn parse(s: &str) -> Option<RiskCategory> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A short name for people.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            RiskCategory::OffPlatformContact => lang.pick("平台外联系", "Off-platform contact"),
            RiskCategory::OffPlatformPayment => lang.pick("平台外付款", "Off-platform payment"),
            RiskCategory::FeeScam => lang.pick("收费诈骗", "Fee scam"),
            RiskCategory::EarlyRelease => lang.pick("诱导提前确认收货", "Early release"),
        }
    }
}

/// Rule ids: stable, clients may match on them.
pub mod rule {
    pub const WECHAT: &str = "contact.wechat";
    pub const QQ: &str = "contact.qq";
    pub const PHONE: &str = "contact.phone";
    pub const TELEGRAM: &str = "contact.telegram";
    pub const PRIVATE_DEAL: &str = "offplatform.private_deal";
    pub const QR_CODE: &str = "payment.qr_code";
    pub const EXTERNAL_LINK: &str = "payment.external_link";
    pub const REISSUE_FEE: &str = "fee.reissue_fee";
    pub const UNFREEZE: &str = "fee.unfreeze";
    pub const ACTIVATION: &str = "fee.activation";
    pub const DEPOSIT_FROM_BUYER: &str = "fee.deposit_from_buyer";
    pub const PAY_FIRST: &str = "fee.pay_first";
    pub const APP_ID: &str = "contact.app_id";
    pub const EMAIL: &str = "contact.email";
    pub const HANDLE: &str = "contact.handle";
    pub const GROUP: &str = "contact.group";
    pub const INVITE: &str = "contact.invite";
    pub const QR_OFFER: &str = "contact.qr_offer";
    pub const TRANSFER: &str = "payment.transfer";
    pub const RED_PACKET: &str = "payment.red_packet";
    pub const BANK_CARD: &str = "payment.bank_card";
    pub const OTHER_MARKET: &str = "payment.other_market";
    pub const BYPASS: &str = "payment.bypass";
    pub const FEE_CONDITION: &str = "fee.condition";
    pub const CONFIRM_EARLY: &str = "release.confirm_early";
    /// The learned second opinion ([`super::model`]), one id per category: only when no rule flagged the message.
    pub const MODEL_CONTACT: &str = "model.contact";
    pub const MODEL_PAYMENT: &str = "model.payment";
    pub const MODEL_FEE: &str = "model.fee";
    pub const MODEL_RELEASE: &str = "model.release";

    /// The category of a rule id this version knows.
    pub fn category(rule: &str) -> Option<super::RiskCategory> {
        ALL.iter().find(|(id, _)| *id == rule).map(|(_, c)| *c)
    }

    /// Every rule id with its category.
    pub const ALL: [(&str, super::RiskCategory); 29] = {
        use super::RiskCategory::*;
        [
            (WECHAT, OffPlatformContact),
            (QQ, OffPlatformContact),
            (PHONE, OffPlatformContact),
            (TELEGRAM, OffPlatformContact),
            (PRIVATE_DEAL, OffPlatformContact),
            (QR_CODE, OffPlatformPayment),
            (EXTERNAL_LINK, OffPlatformPayment),
            (REISSUE_FEE, FeeScam),
            (UNFREEZE, FeeScam),
            (ACTIVATION, FeeScam),
            (DEPOSIT_FROM_BUYER, FeeScam),
            (PAY_FIRST, FeeScam),
            (APP_ID, OffPlatformContact),
            (EMAIL, OffPlatformContact),
            (HANDLE, OffPlatformContact),
            (GROUP, OffPlatformContact),
            (INVITE, OffPlatformContact),
            (QR_OFFER, OffPlatformContact),
            (TRANSFER, OffPlatformPayment),
            (RED_PACKET, OffPlatformPayment),
            (BANK_CARD, OffPlatformPayment),
            (OTHER_MARKET, OffPlatformPayment),
            (BYPASS, OffPlatformPayment),
            (FEE_CONDITION, FeeScam),
            (CONFIRM_EARLY, EarlyRelease),
            (MODEL_CONTACT, OffPlatformContact),
            (MODEL_PAYMENT, OffPlatformPayment),
            (MODEL_FEE, FeeScam),
            (MODEL_RELEASE, EarlyRelease),
        ]
    };

    /// What a rule looks for, in words an admin or arbiter reads beside the flagged message; `None` for an id
    /// this version does not know.
    pub fn describe(rule: &str, lang: crate::i18n::Lang) -> Option<&'static str> {
        Some(match rule {
            WECHAT => lang.pick("留微信号或邀请加微信", "A WeChat id or an invitation to add on WeChat"),
            QQ => lang.pick("留 QQ 号或邀请加 QQ", "A QQ number or an invitation to add on QQ"),
            PHONE => lang.pick("留手机号码", "A mobile phone number"),
            TELEGRAM => {
                lang.pick("留 Telegram 账号或邀请加 Telegram", "A Telegram account or an invitation to Telegram")
            }
            PRIVATE_DEAL => lang.pick("邀请私下交易、绕开平台", "An invitation to deal privately, off the platform"),
            QR_CODE => lang.pick("索要扫收款码或转账到个人", "A payment code or a transfer to a person"),
            EXTERNAL_LINK => {
                lang.pick("平台外的链接（可能是站外付款）", "A link outside the platform (possibly a payment)")
            }
            REISSUE_FEE => lang.pick("向买家索要补单手续费", "Asks the buyer for a re-issue fee"),
            UNFREEZE => lang.pick("向买家索要解冻费", "Asks the buyer for an unfreezing fee"),
            ACTIVATION => lang.pick("向买家索要激活费", "Asks the buyer for an activation fee"),
            DEPOSIT_FROM_BUYER => lang.pick("向买家索要保证金", "Asks the buyer for a deposit"),
            PAY_FIRST => lang.pick("要求买家先付款再补单或退款", "Tells the buyer to pay before a re-issue or refund"),
            APP_ID => lang.pick("对方在索要或留下平台外联系方式", "Contact details for an app outside the platform"),
            EMAIL => {
                lang.pick("留电子邮箱或网站，引导站外联系", "An e-mail address or website to talk off the platform")
            }
            HANDLE => lang.pick("留 @ 账号，引导站外联系", "An @handle to talk off the platform"),
            GROUP => lang.pick("邀请加入站外群聊", "An invitation to a group chat off the platform"),
            INVITE => lang.pick("邀请到平台外聊天或加好友", "An invitation to talk or add a friend off the platform"),
            QR_OFFER => {
                lang.pick("发二维码或名片，引导扫码加好友", "A QR code or contact card to add them off the platform")
            }
            TRANSFER => {
                lang.pick("要求直接转账给个人，不走平台付款", "Asks for a direct transfer instead of paying here")
            }
            RED_PACKET => lang.pick("要求用红包付款", "Asks to be paid by red packet"),
            BANK_CARD => lang.pick("给出银行卡号要求打款", "A bank card number to pay into"),
            OTHER_MARKET => {
                lang.pick("引导到其他平台的链接或店铺付款", "Sends the buyer to another marketplace's listing to pay")
            }
            BYPASS => lang.pick("劝买家绕开平台付款", "Talks the buyer into paying around the platform"),
            FEE_CONDITION => lang.pick(
                "把付款当作退款、补单、解冻或验证的条件",
                "Makes a payment the condition of a refund, re-issue, unfreezing or verification",
            ),
            CONFIRM_EARLY => lang.pick(
                "在卡密能用之前要求确认收货或撤销申诉",
                "Asks to confirm receipt or drop a complaint before the goods work",
            ),
            MODEL_CONTACT => lang.pick(
                "没有具体规则命中，但统计模型认为这像在引导到平台外联系",
                "No rule matched, but the learned model reads this as leading off the platform to talk",
            ),
            MODEL_PAYMENT => lang.pick(
                "没有具体规则命中，但统计模型认为这像在要求平台外付款",
                "No rule matched, but the learned model reads this as asking for a payment off the platform",
            ),
            MODEL_FEE => lang.pick(
                "没有具体规则命中，但统计模型认为这像在向买家收取费用",
                "No rule matched, but the learned model reads this as asking the buyer for a fee",
            ),
            MODEL_RELEASE => lang.pick(
                "没有具体规则命中，但统计模型认为这像在诱导提前确认收货或撤销申诉",
                "No rule matched, but the learned model reads this as asking to confirm or drop a complaint early",
            ),
            _ => return None,
        })
    }

    /// The second opinion's rule id for a category.
    pub fn model(category: super::RiskCategory) -> &'static str {
        match category {
            super::RiskCategory::OffPlatformContact => MODEL_CONTACT,
            super::RiskCategory::OffPlatformPayment => MODEL_PAYMENT,
            super::RiskCategory::FeeScam => MODEL_FEE,
            super::RiskCategory::EarlyRelease => MODEL_RELEASE,
        }
    }
}

/// One flagged part of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The rule's stable id, e.g. `"contact.wechat"` (see [`rule`]).
    pub rule: &'static str,
    pub category: RiskCategory,
    /// Character offsets `[start, end)` in the original message (characters, not bytes), `start < end`.
    /// For a contact or a link: the id, number or link itself; for a phrase: the phrase.
    pub span: (usize, usize),
}

impl Hit {
    /// Whether the span is contact details a buyer should not see: an id, a number, an invitation, a link.
    pub fn is_contact_detail(&self) -> bool {
        is_contact_rule(self.rule)
    }
}

/// The result of scanning one message. Serializes as `{"risky": bool, "hits": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// In order of their spans; a rule's hits do not overlap.
    pub hits: Vec<Hit>,
}

impl Scan {
    /// Whether anything was flagged.
    pub fn risky(&self) -> bool {
        !self.hits.is_empty()
    }

    /// The categories flagged, each once, in [`RiskCategory::ALL`] order: one warning per category.
    pub fn categories(&self) -> Vec<RiskCategory> {
        RiskCategory::ALL.into_iter().filter(|c| self.hits.iter().any(|h| h.category == *c)).collect()
    }
}

impl Serialize for Scan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Scan", 2)?;
        s.serialize_field("risky", &self.risky())?;
        s.serialize_field("hits", &self.hits)?;
        s.end()
    }
}

/// Scans one message, as every chat message and listing text is scanned: the rules, then, when no rule flagged
/// it, the committed learned second opinion at [`model::DEFAULT_THRESHOLD`] ([`scan_with_model`]). Never
/// panics; spans are character offsets into `text`.
///
/// Why both: on holdout9, a set written by someone who had read neither the rules nor any corpus and scored once
/// (docs/RISK.md), the rules alone had precision 0.967 and recall 0.816, the model alone 0.995 / 0.876, and both
/// 0.967 / 0.940. The rules explain themselves and hold the policies (a concrete id is always flagged); the model
/// catches the rewordings no rule names yet.
pub fn scan(text: &str, cfg: &ScanConfig) -> Scan {
    match model::builtin() {
        Some(m) => scan_with_model(text, cfg, m, model::DEFAULT_THRESHOLD),
        // Cannot happen with the committed file (a test parses it); the rules alone are still a scanner.
        None => scan_rules(text, cfg),
    }
}

/// The rules alone, without the second opinion: what [`scan`] adds the model to, for measuring each on its own.
pub fn scan_rules(text: &str, cfg: &ScanConfig) -> Scan {
    // Traditional characters are read as Simplified by every rule; one character for one, so spans still count
    // the message as written.
    let simplified = normalize::simplify(text);
    let normalized = normalize::normalize_simplified(&simplified);
    scan_normalized(&simplified, &normalized, cfg)
}

/// [`scan_rules`], then, when no rule flagged the message, the learned second opinion ([`model`]): a message the
/// model finds risky with probability at least `threshold` gets one hit of its most probable category
/// (`model.contact`, `model.payment`, `model.fee`, `model.release`), spanning the n-gram that weighed most, or the
/// whole message. The model never removes a rule's hit.
pub fn scan_with_model(text: &str, cfg: &ScanConfig, model: &model::Model, threshold: f32) -> Scan {
    let simplified = normalize::simplify(text);
    let normalized = normalize::normalize_simplified(&simplified);
    let mut scan = scan_normalized(&simplified, &normalized, cfg);
    if scan.hits.is_empty() && model_reads(text) {
        let opinion = model.opinion_normalized(&normalized);
        if opinion.risky_probability() >= threshold {
            let span = opinion.span.unwrap_or((0, normalized.original_len));
            // The model's hit passes the rules' guards like a phrase rule's: a prohibition (先别急着确认收货), a
            // warning or report, a denial, a goods name; and the platform's own links are allowed.
            let (a, b) = normalized.normalized_range(span);
            let ctx = shapes::Context::new(&normalized);
            if !shapes::guarded(&normalized, &ctx, a, b, true, false)
                && !inside_allowed_link(&simplified, span, &cfg.allowed_hosts)
            {
                scan.hits.push(Hit { rule: rule::model(opinion.category), category: opinion.category, span });
            }
        }
    }
    scan
}

/// Chinese characters a message needs before the second opinion is asked.
const MODEL_MIN_HAN: usize = 12;

/// Whether the second opinion reads `text` at all: it was trained on chat messages, nearly all in Chinese, and
/// outside them (short labels such as `扫码支付` or `先补发，补不了退款`, English) it guesses: run over the
/// project's own interface strings, it flagged 196 of 4,271 the rules leave alone, 31 of them Chinese labels. A
/// message with fewer than [`MODEL_MIN_HAN`] Chinese characters is the rules' alone: the least count at which no
/// interface string is flagged by the model (at 8, five still were, e.g. `必须先开启两步验证`).
fn model_reads(text: &str) -> bool {
    text.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)).nth(MODEL_MIN_HAN - 1).is_some()
}

/// Whether the characters `span` of `text` lie in a link (a token up to whitespace or Chinese punctuation) whose
/// host the rules leave alone ([`links::allowed_host`]: `help.kabao.cn/faq`, an official redemption site).
fn inside_allowed_link(text: &str, span: (usize, usize), allowed: &[String]) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let ends = |c: &char| c.is_whitespace() || "，。：、；！？（）【】「」《》".contains(*c);
    let mut a = span.0.min(chars.len());
    while a > 0 && chars.get(a - 1).is_some_and(|c| !ends(c)) {
        a -= 1;
    }
    let mut b = span.1.clamp(a, chars.len());
    while chars.get(b).is_some_and(|c| !ends(c)) {
        b += 1;
    }
    let token: String = chars.get(a..b).unwrap_or_default().iter().collect::<String>().to_ascii_lowercase();
    let rest = token.split_once("://").map_or(token.as_str(), |(_, r)| r);
    let host = rest.split(['/', '?', '#', ':']).next().unwrap_or("").trim_matches('.');
    host.contains('.') && links::allowed_host(host, allowed)
}

/// The rules over a message already simplified and normalised.
fn scan_normalized(text: &str, normalized: &normalize::Normalized, cfg: &ScanConfig) -> Scan {
    let folded = Folded::new(text);
    let mut hits = Vec::new();
    contact::scan(&folded, &mut hits);
    phrases::scan(&folded, &mut hits);
    links::scan(&folded, &cfg.allowed_hosts, &mut hits);
    // The first rules' hits pass the shape rules' guards too: goods names, key formats, warnings.
    let ctx = shapes::Context::new(normalized);
    hits.retain(|h| {
        let (a, b) = normalized.normalized_range(h.span);
        let phrase = h.rule != rule::EXTERNAL_LINK
            && !shapes::concrete(normalized, a, b)
            && !shapes::concrete_written(text, h.span);
        !shapes::guarded(normalized, &ctx, a, b, phrase, false)
    });
    // The shape rules add what the first rules missed: a category they did not flag at all.
    let mut shaped = Vec::new();
    shapes::scan(normalized, &ctx, &mut shaped);
    let seen: Vec<RiskCategory> = hits.iter().map(|h| h.category).collect();
    hits.extend(shaped.into_iter().filter(|h| !seen.contains(&h.category)));
    let len = text.chars().count();
    hits.retain(|h| h.span.0 < h.span.1 && h.span.1 <= len);
    // One hit per rule and stretch of text: overlapping or touching hits of a rule become one.
    hits.sort_by(|a, b| a.rule.cmp(b.rule).then(a.span.cmp(&b.span)));
    let mut merged: Vec<Hit> = Vec::with_capacity(hits.len());
    for hit in hits {
        match merged.last_mut() {
            Some(last) if last.rule == hit.rule && hit.span.0 <= last.span.1 => {
                last.span.1 = last.span.1.max(hit.span.1);
            }
            _ => merged.push(hit),
        }
    }
    merged.sort_by(|a, b| a.span.cmp(&b.span).then(a.rule.cmp(b.rule)));
    Scan { hits: merged }
}

/// The message as a buyer sees it: every character of a contact detail (the spans of `contact.*` and
/// `payment.external_link` hits) replaced by `*`. Phrases (私下交易, 解冻费) stay readable: the warning is
/// about them.
pub fn mask(text: &str, scan: &Scan) -> String {
    let spans: Vec<(usize, usize)> = scan.hits.iter().filter(|h| h.is_contact_detail()).map(|h| h.span).collect();
    mask_spans(text, &spans)
}

/// Whether a rule's hits are contact details (masked for the buyer), by rule id: for hits stored with a message.
pub fn is_contact_rule(rule: &str) -> bool {
    rule.starts_with("contact.") || rule == rule::EXTERNAL_LINK
}

/// `text` with every character inside one of `spans` (character offsets) replaced by `*`.
pub fn mask_spans(text: &str, spans: &[(usize, usize)]) -> String {
    text.chars().enumerate().map(|(i, c)| if spans.iter().any(|&(s, e)| s <= i && i < e) { '*' } else { c }).collect()
}

/// A plain warning for the buyer, one per category.
pub fn warning(category: RiskCategory, lang: Lang) -> &'static str {
    match category {
        RiskCategory::OffPlatformContact => lang.pick(
            "平台外交易不受保护：对方可能在引导你离开平台。请不要添加对方的微信、QQ、电话或 Telegram，沟通和交易都留在订单里，出了问题卡保才能帮你。",
            "Deals off the platform are not protected: the other party may be leading you away from Kabao. Do not \
             add their WeChat, QQ, phone or Telegram; keep talking and dealing in the order, where Kabao can help \
             if something goes wrong.",
        ),
        RiskCategory::OffPlatformPayment => lang.pick(
            "请不要扫对方的收款码、转账到个人账户或打开站外付款链接：只有在卡保订单页付款才受保护，站外付款被骗后无法追回。",
            "Do not scan their payment code, transfer to a personal account or open a payment link outside the \
             platform: only payments on the Kabao order page are protected, and money paid elsewhere cannot be \
             recovered.",
        ),
        RiskCategory::FeeScam => lang.pick(
            "卡保从不向买家收取补单费、解冻费、激活费或保证金。要你先付钱才能补单、解冻或退款的，都是诈骗，请勿付款并申请平台介入。",
            "Kabao never charges buyers a re-issue fee, an unfreezing fee, an activation fee or a deposit. Anyone \
             who asks you to pay before re-issuing, unfreezing or refunding is a scammer: do not pay, and ask the \
             platform to step in.",
        ),
        RiskCategory::EarlyRelease => lang.pick(
            "卡密能正常使用之前，请不要确认收货或撤销申诉：确认后货款就付给了卖家，平台无法再帮你补单或退款。",
            "Do not confirm receipt or withdraw a complaint before the goods work: confirming pays the seller, and \
             the platform can no longer re-issue or refund.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(text: &str) -> Vec<(&'static str, String)> {
        scan(text, &ScanConfig::default())
            .hits
            .iter()
            .map(|h| (h.rule, text.chars().skip(h.span.0).take(h.span.1 - h.span.0).collect()))
            .collect()
    }

    #[test]
    fn every_rule_is_described_in_both_languages() {
        for (id, _) in rule::ALL {
            let zh = rule::describe(id, Lang::Zh).unwrap_or_default();
            let en = rule::describe(id, Lang::En).unwrap_or_default();
            assert!(!zh.is_empty() && !en.is_empty() && zh != en, "{id}");
            assert!(!zh.contains(id) && !en.contains(id), "{id}");
        }
        assert_eq!(rule::describe("contact.later", Lang::Zh), None);
    }

    #[test]
    fn a_wechat_hit_spans_the_id_in_the_original() {
        assert_eq!(hits("加我 vx：kabao_88 谢谢"), vec![(rule::WECHAT, "kabao_88".to_string())]);
        // Full-width input: the span counts the original (full-width) characters.
        assert_eq!(hits("ｖｘ：ｋａｂａｏ８８"), vec![(rule::WECHAT, "ｋａｂａｏ８８".to_string())]);
        let scan = scan("ｖｘ：ｋａｂａｏ８８", &ScanConfig::default());
        assert_eq!(scan.hits.first().map(|h| h.span), Some((3, 10)));
        // Emoji between the letters stay inside the span; separators around it do not.
        assert_eq!(hits("威❤信 k❤b❤8❤8❤8 。"), vec![(rule::WECHAT, "k❤b❤8❤8❤8".to_string())]);
    }

    #[test]
    fn phone_and_qq_spans_cover_the_number_as_written() {
        assert_eq!(hits("电话 138-1234-5678 谢谢"), vec![(rule::PHONE, "138-1234-5678".to_string())]);
        assert_eq!(hits("扣扣 一二三四五六七八，速加"), vec![(rule::QQ, "一二三四五六七八".to_string())]);
        assert_eq!(hits("+86 186 0000 1111"), vec![(rule::PHONE, "86 186 0000 1111".to_string())]);
    }

    #[test]
    fn a_fee_hit_spans_the_demand_and_the_fee() {
        assert_eq!(hits("补单需要先交50手续费，谢谢"), vec![(rule::REISSUE_FEE, "补单需要先交50手续费".to_string())]);
        assert_eq!(hits("账号被冻结需要交解冻费"), vec![(rule::UNFREEZE, "解冻费".to_string())]);
    }

    #[test]
    fn an_invitation_without_an_id_spans_the_phrase() {
        assert_eq!(hits("有问题加V，秒回"), vec![(rule::WECHAT, "加V".to_string())]);
        assert_eq!(hits("加我飞机"), vec![(rule::TELEGRAM, "加我飞机".to_string())]);
    }

    #[test]
    fn wechat_pay_in_ordinary_talk_is_not_contact() {
        for text in ["你可以用微信支付付款吗", "微信支付可以吗", "我用 wechat pay 付的款", "增加微信支付方式吧"]
        {
            assert!(!scan(text, &ScanConfig::default()).risky(), "{text}");
        }
    }

    #[test]
    fn mask_hides_contact_details_and_keeps_phrases() {
        let text = "加我 vx：kabao_88，私下交易更便宜";
        let s = scan(text, &ScanConfig::default());
        assert_eq!(mask(text, &s), "加我 vx：********，私下交易更便宜");
        let text = "电话 138 1234 5678，链接 t.me/scam";
        let s = scan(text, &ScanConfig::default());
        assert_eq!(mask(text, &s), "电话 *************，链接 *********");
        let text = "补单需要先交50手续费";
        assert_eq!(mask(text, &scan(text, &ScanConfig::default())), text);
    }

    #[test]
    fn allow_listed_links_pass_and_others_are_flagged() {
        let cfg = ScanConfig::default();
        for text in ["官方网址 https://www.kabao.cn/help", "帮助中心：help.kabao.cn/faq", "请在 KABAO.CN 查看"]
        {
            assert!(!scan(text, &cfg).risky(), "{text}");
        }
        for text in [
            "https://pay.evil.com/x",
            "kabao.cn.evil.com/pay",
            "http://kabao-pay.cn",
            "evilkabao.cn",
            "wxp://f2f0abc",
            "qr.alipay.com/fkx123",
            "https://kabao.cn@evil.com/pay",
        ] {
            let s = scan(text, &cfg);
            assert_eq!(s.hits.iter().map(|h| h.rule).collect::<Vec<_>>(), vec![rule::EXTERNAL_LINK], "{text}");
            assert_eq!(s.hits.first().map(|h| h.span), Some((0, text.chars().count())), "{text}");
        }
        // The caller's allow-list replaces the default one.
        let partner = ScanConfig { allowed_hosts: vec!["partnergames.com".into(), "kabao.cn".into()] };
        assert!(!scan("去 store.partnergames.com 激活", &partner).risky());
        assert!(scan("去 store.partnergames.com 激活", &cfg).risky());
    }

    #[test]
    fn vendor_sites_contractions_codes_and_submitted_requests_are_not_flagged() {
        for text in [
            "兑换地址 roblox.com/redeem，登录后输入卡密",
            "Download from office.com/setup and sign in",
            "No, I won't add you on WeChat, I'll keep it here.",
            "Telegram's own gift flow delivers it",
            "WX-2025-VIP 是礼包名",
            "您的退款申请已提交，商家会在48小时内处理",
        ] {
            let s = scan(text, &ScanConfig::default());
            assert!(!s.risky(), "{text}: {:?}", s.hits);
        }
        // An id after the app is still one, and a real payment demand still is.
        assert!(scan("telegram: scam_shop88", &ScanConfig::default()).risky());
        assert!(scan("补单需要先交50手续费", &ScanConfig::default()).risky());
    }

    #[test]
    fn serializes_as_risky_and_hits_with_span_arrays() {
        let s = scan("QQ：12345678", &ScanConfig::default());
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"risky": true, "hits": [{"rule": "contact.qq", "category": "off_platform_contact", "span": [3, 11]}]})
        );
        let json = serde_json::to_string(&scan("谢谢", &ScanConfig::default())).unwrap_or_default();
        assert_eq!(json, r#"{"risky":false,"hits":[]}"#);
    }

    #[test]
    fn categories_have_names_labels_and_warnings_in_both_languages() {
        for (id, category) in rule::ALL {
            // The second opinion's ids name the category after `model.`.
            let (prefix, rest) = id.split_once('.').unwrap_or_default();
            let family = if prefix == "model" { rest } else { prefix };
            let expected = match family {
                "contact" | "offplatform" => RiskCategory::OffPlatformContact,
                "release" => RiskCategory::EarlyRelease,
                "payment" => RiskCategory::OffPlatformPayment,
                _ => RiskCategory::FeeScam,
            };
            assert_eq!(category, expected, "{id}");
        }
        for c in RiskCategory::ALL {
            assert_eq!(serde_json::to_value(c).unwrap_or_default(), c.as_str());
            assert!(!c.label(Lang::Zh).is_ascii() && c.label(Lang::En).is_ascii());
            assert!(!warning(c, Lang::Zh).is_ascii() && warning(c, Lang::En).is_ascii());
        }
        assert!(warning(RiskCategory::OffPlatformContact, Lang::Zh).starts_with("平台外交易不受保护"));
    }

    #[test]
    fn a_rule_reports_one_hit_per_stretch_of_text() {
        let s = scan("激活这个卡需要先付68激活费", &ScanConfig::default());
        assert_eq!(s.hits.iter().filter(|h| h.rule == rule::ACTIVATION).count(), 1, "{s:?}");
        assert_eq!(s.categories(), vec![RiskCategory::FeeScam]);
    }

    #[test]
    fn long_messages_stay_fast() {
        // Many channel names and digit runs: every rule's window is bounded, so the work is linear. Compared as a
        // ratio of two lengths (best of three each), not against a wall-clock limit a loaded machine can miss: four
        // times the text must not take anywhere near the sixteen times a quadratic rule would.
        let time = |reps: usize| {
            let text = "加微信vx扣扣1381234567 ".repeat(reps);
            (0..3)
                .map(|_| {
                    let start = std::time::Instant::now();
                    assert!(scan(&text, &ScanConfig::default()).risky());
                    start.elapsed()
                })
                .min()
                .unwrap_or_default()
        };
        let (short, long) = (time(125), time(500));
        assert!(long < short * 10, "{short:?} for 125 repetitions, {long:?} for 500");
    }

    /// holdout6's families (2026-12-07), each in wordings of this test's own, not the corpus's.
    #[test]
    fn holdout6_families_are_flagged_in_other_words() {
        let risky = |t: &str| scan(t, &ScanConfig::default()).risky();
        for t in [
            // The buyer's number asked for, or a channel named in another register (整个, 赖我, 另外一个软件).
            "方便的话留个能接电话的号码，我让师傅打给你",
            "pls give me ur mobile number, i call u later",
            "平台卡得很，你整个微信我俩唠",
            "咱换个别的软件聊吧，这边太慢",
            "有空赖我一下，帐号在简介",
            "想进VIP群的话号给我，我拉你进",
            // Contact pointed at a picture or the next message, a specialist, remote control, another app.
            "客服号码见店铺首页的横幅图片",
            "后续问题请添加我们的售后专员处理",
            "装个向日葵，我帮你远程弄",
            "去应用商店下载我们的app，注册后搜客服",
            "关注一下我们的公众号，回复订单号就有人管",
            "请扫描下一条的二维码添加客服",
            "我们有座机，电话 02087654321",
            // Homophones read as the word (确任收货, 支负宝, 红苞, 解东).
            "亲先点确任收货，我再给你补一张",
            "直接支负宝转我吧",
            "发个红苞给我就行，不用下单",
            "先交个解东费，钱马上就能出来",
            // Payment elsewhere: an account given below, a card as payment, half by WeChat, another market.
            "付款请转到以下账户，转完截图",
            "货款请汇至公司指定账户",
            "you can pay with apple store gift card, send photo of the code",
            "send me a steam card as payment pls",
            "先微信付一半，剩下的再说",
            "Transfer the money to our account below and I release the code",
            "Do not pay on the platform, it takes too long",
            "去Lazada拍我的链接，那边便宜",
            "我不走这边，只收现金",
            // Fees as the condition of using the goods (转区, 解绑, 不办就用不了), in English with otherwise.
            "想换区得付换区费三十，付了就能用",
            "This key need pay activation fee 15 usd otherwise cannot redeem",
            "换一张可以，先把这 15 补给我",
            // Early release: this order confirmed, the order 'settled', pressed with urgency, cancelled for a gift.
            "麻烦先确认本单，我们随后补发",
            "先把这单结一下，我马上发你",
            "快超时了，请尽快确认收货",
            "你先取消掉，我立刻给你换一张",
            "please cancel it, I will send you a new key right away",
            "Please confirm your order first and then I send the code",
            "先评价再发码哦",
            // An offer after a supposition is still an offer (如果…，可以…); only the 如果 clause is a supposition.
            "如果急用，可以直接加我微信 card_kb77",
            // The platform's filter named as the thing to get round; the number in pieces; a search engine.
            "我打字母平台识别不出，你照着拼",
            "号码我分三段发，平台屏蔽数字",
            "前四位发你了，后面的拼起来打就行",
            "你谷歌搜一下我们工作室的名字，官网有客服",
            "i send the key via whatsapp, faster",
            // Fees named as a cost or a 费用, priced in Chinese numerals.
            "补卡要重新生成，生成成本8元，你先付一下",
            "退款要先开通加速服务，费用退款后返还",
            "解锁费三十，不交就用不了",
            // Dropping the complaint or the review as the condition of a re-issue.
            "申诉关了我这边才能补",
            "没好评上游不给补，先给个好评",
            "那码维护完就能用了，你先确认收货吧",
            "请先确认收货，我们核对后补发",
            // Paying later and elsewhere, an account on another market, a link that is not the platform's.
            "这单先不用付，收到了再转我",
            "我在咸鱼有个号，去那边拍一样的",
            "付款链接不是平台的，但一样安全",
            // Paying in phone credit, and a number given after a comma (座机，020…).
            "拿话费抵也行，充到我给的号上",
            "帮我这个号充150话费就当付过了",
            "有事打座机，021 6543 2100",
        ] {
            assert!(risky(t), "{t}");
        }
        for t in [
            // Goods, order details and the buyer's own report, question or thanks.
            "我要给QQ秀充Q币，号在订单备注",
            "账号原绑定手机是 139****2211，过户要走官方流程",
            "My account is Singapore, can I use this card?",
            "the seller ask me whatsapp, i said no, i stay here",
            "退款会原路退回到您的支付宝",
            "微信扫码授权登录就行，跟加好友没关系",
            "码好使了，我明天去点确认",
            "已经到账了，马上确认收货，谢谢",
            "订单完成后可以在个人中心开发票",
            "兑换请到 discord.com/gifts 领取",
            "如果有人私下让你加微信付款，直接举报",
            "如果码不能用，可以在订单页申请售后",
            "卡已经能用了，谢谢，我去确认收货",
            // A list of apps in a listing, and a buyer asking what something means.
            "本店可代开微信、Discord、Signal、Skype 的会员",
            "详情页写着加微信领券，这是什么意思？",
        ] {
            assert!(!risky(t), "{t}");
        }
    }

    /// holdout7's families (2026-12-07), each in wordings of this test's own, not the corpus's.
    #[test]
    fn holdout7_families_are_flagged_in_other_words() {
        let risky = |t: &str| scan(t, &ScanConfig::default()).risky();
        let mut wrong = Vec::new();
        for t in [
            // Unpunctuated speech: a space ends a prohibition's clause; 确收 is 确认收货.
            "下单后先别急着付 我给你一个付款码 扫那个",
            "奶奶您别慌 您先点那个确认收货 点了就好了",
            "亲确收一下呗 不然系统老提醒我",
            // Early release: asked for someone else (帮我点), a button named 已收到, the order confirmed with 把,
            // money released (放给我), a bad review bought off, a review dictated, cash back for it.
            "帮我点下确认 月底冲单 货后天到",
            "你点一下“已收到” 码自动弹出来",
            "你先把这一单确认掉 缺的那张我后面补",
            "你把款先放给我 我好去拿货",
            "那条差评我赔你15块钱 你删掉吧",
            "评价就写成“很快 很好”，我退你十块",
            "给个好评晒个图 送你8元券",
            "please confirm receipt first, the code unlocks after you release the money",
            "售后让我转告你 要先确认收货才给换",
            // Contact: a livestream's pinned comment, the WeChat channels, a spelled-out chat link, a channel number,
            // a one-line-at-a-time id, a dotted handle, the buyer's number, a move in English or Japanese.
            "直播间置顶有我的联系方式 进来看",
            "售后请移步我们的公众号，留言即可",
            "找我拿货 t 点 me 斜杠 cardking_01",
            "频道号 kb20261 进去有福利",
            "号码我一条一条发的 怕被屏蔽",
            "邀请码放在我主页签名里了",
            "我的line是 mika.sato.77 有空加",
            "麻烦把你的号码发我 我让师傅打过去",
            "could we talk in telegram? faster for me",
            "ラインで連絡してください",
            "老板给我你的飞机 我有事问",
            // Payment: not wanting the platform, a friend's card, a card by its last digits, a gift card as the method,
            // another platform, an own mini-program shop, a placeholder, a Korean account transfer.
            "我不想走平台 支付宝转你吧",
            "钱打我表哥卡上就行",
            "转四百到尾号6612那张卡",
            "付款方式：购物卡 卡密发我就行",
            "买张苹果礼品卡给我 就当你付过款了",
            "我有张50的点卡 能抵吗 不想在平台付",
            "去我另一个店拍 在别的平台搜得到",
            "我们自己做了个小程序商城 里面下单便宜",
            "扫这个支付宝码直接付",
            "계좌이체 가능해요?",
            // Fees: an equal sum, capital verification, a top-up task, turnover, a deposit to lift a limit, postage for
            // a prize of virtual goods, a task that pays back more.
            "资金被冻结了 需要转入同等金额证明你是本人",
            "账户要先验资 转300验资款 核验后退回",
            "提现前要完成一个充值任务激活账户",
            "提现失败 流水不足 还要再下单500",
            "解除限制需要把余额充到800以上 验证完退你",
            "抽奖中奖的付6元运费才能发卡密",
            "接任务返佣金 先垫付50 马上回60",
            "环境不安全 需要刷一笔流水才能解冻",
        ] {
            if !risky(t) {
                wrong.push(format!("missed: {t}"));
            }
        }
        for t in [
            // A buyer's report, reminder, question about the rules, and a look-alike shop noticed.
            "之前有人叫我去闲鱼拍，我没去",
            "差点就转账了 幸好问了客服",
            "我被拉进一个奇怪的群 让交钱 提醒大家一下",
            "闲鱼上有家店头像跟你们一模一样",
            "我看规则里写着提现收手续费",
            "私下交易出了事平台管不管？",
            "确认收货后还能退吗 怕卡有问题",
            "那我还是在平台用银行卡付吧",
            "差价我在平台给您退，订单页点同意",
            // Recharge targets, goods and one's own apps.
            "话费充值50元 手机号 138 0000 1111 联通",
            "充值账号：QQ 2 3 4 5 6 7 8 9 开年费会员",
            "游戏点券代充，请提供充值用的QQ号",
            "我平时用的企业微信，网页版能登吗",
            "发红包时选择封面，输入序列号即可",
            "兑换请访问 https://redeem.example/code",
            "我的确收到了，谢谢",
            "不要 加陌生人微信",
        ] {
            if risky(t) {
                wrong.push(format!("flagged: {t}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// holdout8's false alarms fell into families of their own (a prohibition inside the request's words, the
    /// speaker's own refusal, a number the order is for); each in wordings of this test's own.
    /// What every message gets ([`scan`]) is the rules and the second opinion: the model flags a fee the rules
    /// name no shape for, with its category and words, and its hit passes the rules' guards and allowed links.
    #[test]
    fn the_second_opinion_is_part_of_every_scan_and_passes_the_guards() {
        let cfg = ScanConfig::default();
        let fee = "退款前要先把保证金补齐才能原路退回";
        assert!(!scan_rules(fee, &cfg).risky(), "no rule names this one");
        let hits = scan(fee, &cfg).hits;
        assert_eq!(
            hits.iter().map(|h| (h.rule, h.category)).collect::<Vec<_>>(),
            [(rule::MODEL_FEE, RiskCategory::FeeScam)]
        );
        assert!(rule::describe(rule::MODEL_FEE, Lang::Zh).is_some_and(|w| w.contains("统计模型")));
        // Short labels and English are outside what it was trained on: the rules' alone.
        for t in ["扫码支付", "用钱包余额支付", "先补发，补不了退款", "必须先开启两步验证", "Scan to pay", "Pay by"]
        {
            assert!(!scan(t, &cfg).risky(), "{t}");
        }
        // The platform's own help link reads like a link to the model; the allowed hosts hold for it too.
        assert!(!scan("帮助中心：help.kabao.cn/faq 有常见问题", &cfg).risky());
    }

    #[test]
    fn holdout8_false_alarm_families_stay_quiet() {
        let mut wrong = Vec::new();
        for t in [
            // A prohibition inside the words of the request, and the speaker's own refusal.
            "码还没到账，您先不要点确认收货",
            "你先别急着确认收货好吗，我马上补一张",
            "保险起见，先别确认收货",
            "好评我是不会改的，你们态度太差",
            "投诉我不会撤，等平台处理",
            "抱歉我不方便留电话，就在这里沟通吧",
            "我不想加微信，有事订单里说",
            "我不太懂什么比特币，能不能正常平台下单？",
            // A number the order is for: a top-up target, a correction of the remarks.
            "麻烦帮我充到 QQ 号 2233445566，充 50 Q币",
            "手机号 13955556666 是我女儿的，帮我充 100 话费",
            "充值号码填 15011112222 就行，移动的",
            "订单备注写错了，以这条消息里的 18622223333 为准",
            // A market's membership redeemed on its own page; a refund going back to the wallet.
            "京东plus会员码，打开京东App进入兑换中心输入兑换码即可",
            "取消订单后退款会退回微信零钱",
        ] {
            if scan_rules(t, &ScanConfig::default()).risky() {
                wrong.push(t);
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        // The same words still fire when the request is made: no prohibition, an id, a number to call.
        for t in [
            "麻烦先确认收货，我马上补一张",
            "差评能不能删一下，我给你补",
            "我不方便在这说，你加我微信 kb_778",
            "充值找我，号码 13912345678",
        ] {
            assert!(scan_rules(t, &ScanConfig::default()).risky(), "{t}");
        }
    }

    /// holdout8's families (2026-12-07), each in wordings of this test's own, not the corpus's.
    #[test]
    fn holdout8_families_are_flagged_in_other_words() {
        let risky = |t: &str| scan_rules(t, &ScanConfig::default()).risky();
        let mut wrong = Vec::new();
        for t in [
            // Contact: other details asked for, adding "you", buying from you directly, a page or profile on another
            // app, the rest of a number on the profile, "over there", installing an app, a search inside an app's
            // space or livestream, an id described rather than written, group invitations by 入群 and the group's code.
            "你有其他联系方式吗，这里老是掉线",
            "我加你吧，以后直接找你拿货更方便",
            "想加您好友私聊一下价格",
            "我们在抖音有粉丝专页，去那边下单便宜",
            "去我B站个人主页私信我",
            "号码前三位是 188，后四位看我头像",
            "有事去那边聊，这里说话不方便",
            "装个 telegram 吧，我在上面发你",
            "抖音直播间搜“阿杰卡铺”，进来聊",
            "微信：3后面五个6再加个2",
            // Taiwanese Hokkien written in characters (揣 is 找).
            "有需要揣我 LINE，价格好谈",
            "号码 139 后面跟 8 个 0 打给我",
            "进群领券，群码在商品图第三张",
            "扫完群二维码记得备注订单号",
            "扫群码进群，群里有优惠",
            // Payment in kind: a card or a code as the method, cards "all accepted", a code sent to check its balance,
            // an exchange rate (折抵), game currency to the merchant's own account, a card bought and its code sent.
            "我们收京东卡付款，面值九折",
            "苹果礼品卡也可以付，发我卡号就行",
            "星巴克兑换码也能抵货款，我这边收",
            "网易点卡发我，我查一下面值就给你发号",
            "直接往我游戏号充 200 钻石就算付款了",
            "直接给我转 Q 币就行，充到我号上",
            "买一张 50 的话费卡把卡密给我",
            // Payment elsewhere: 咱 + an app's transfer, the order cancelled first, cheaper than the platform, not
            // ordering each time, the merchant's own app or shop.
            "咱俩支付宝转吧，省手续费",
            "咱们支付宝付吧，平台太慢",
            "把订单取消了，我们支付宝直接转，便宜十块",
            "比在平台买便宜多了，加我私聊",
            "比平台便宜 20，私下转我",
            "以后不用每次都拍，直接找我",
            "来我们自家 app 续费，打八折",
            "我们的小程序里续费便宜一半",
            "在我的独立站付款，打九折",
            "加我好友私聊，平台抽成太高",
            // Emoji for words: 💰, 🧧, a check mark before 收货.
            "直接💰转我，省事",
            "🧧发我就行，不用拍",
            "点 ✅ 收货 我就发新卡",
            "点了✔收货就发你新的",
            // Fees: tasks paid in advance for a commission, insurance, paperwork and escrow fees, a fast lane, remedies
            // named 恢复/放号/赔付, a threat with 不付…不让.
            "做五单点赞任务，每单先垫付 30，完成后连本带佣金返还",
            "刷 10 单就返 20% 佣金，本金当天退",
            "刷单三单，每单先付 50，结束后本金加佣金一起给你",
            "需要购买账号安全险 49 元，否则系统不放号",
            "你得先交一份防找回险，不然放不了号",
            "要签代售合同，合同费 88 元，交了才能过户",
            "免押金，只要一笔 30 的合同公证费",
            "资金走托管，托管费 20，付完才赔付给你",
            "走绿色通道加急处理，费用 60，付了马上恢复",
            "不付这个保险费平台不让发货",
            "不交这 100 块押金，平台不让退款",
            // Early release: 撤诉, "once you confirm it unlocks", the received box ticked, in the merchant's words.
            "你先撤诉，我今天就补发",
            "撤诉先，撤了立马退款",
            "你撤诉吧，撤了马上退",
            "您确认了卡密就会自动解锁",
            "请勾选“已收货”，系统才会补发",
            "帮我在订单页勾选已收货，系统才给我补货",
            "亲，麻烦先确认收货，不然我没法给你补",
        ] {
            if !risky(t) {
                wrong.push(format!("missed: {t}"));
            }
        }
        for t in [
            // The shop's own deposit, and look-alikes of the new families.
            "我们店铺交了保证金，出了问题平台先行赔付",
            "我已经撤诉了，谢谢你们补发",
            "游戏里做每日任务可以领钻石",
            "任务做完了，奖励怎么没到",
            "号码我就不留了，平台上联系",
            "这个卡能抵货款吗？平台说不行",
            "平台优惠券可以抵扣，下单自动使用",
            "京东卡我们不收，只在平台付款",
            "✅ 24小时自动发货 ✅ 售后无忧",
            "💰满100减10，平台活动",
            "收到码了，确认没问题我再点收货",
            "先确认卡能用，我再补评价",
            "QQ空间装扮卡，登录QQ空间即可使用",
            "抖音直播间的卡密怎么用",
            "请勿相信任何人发的群二维码",
            "这个QQ群号码卡是虚拟商品，拍下自动发",
            "我加你的购物车了，明天下单",
            "我给你加一张卡，不另收费",
            "本店商品比平台均价便宜，放心拍",
            "我们店在抖音也有号，但只在本平台交易",
            "你那边聊得怎么样了？我等结果",
            "下个月再来买",
            "装个加速器就能登录了",
            "账号被找回了，能恢复吗？",
            "买了之后多久放号？",
            "你确认了吗？我这边看还没完成",
            "确认了就好，感谢支持",
            "我标记了已收到，谢谢",
            "撤诉的话需要怎么操作？",
            "佣金是平台给推广员的，和买家无关",
            "平台说赔付会在三个工作日内到账",
            "这个月赔付率不到 3%，保费照常按年收",
            "平台赔付后，垫付款会从商家保证金里扣",
            "出卡速度很快，付款后秒发",
        ] {
            if risky(t) {
                wrong.push(format!("flagged: {t}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
