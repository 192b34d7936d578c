//! Shape rules on the normalised text ([`super::normalize`]): what a lure looks like, not how one scammer
//! phrased it.
//!
//! - Contact: a contact app's name (after aliases: 微信, qq, telegram, and others) near an identifier shape
//!   (a QQ number, a mobile number, a WeChat-style id, an @handle), an e-mail address (also spelled out), a
//!   spelled-out domain, a group number, a QR-code or business-card offer, an invitation to talk elsewhere.
//! - Off-platform payment: a transfer to a person, a red packet, a bank card number, another marketplace's
//!   listing, or any "pay me instead of paying here".
//! - Fee scam: a fee, or any payment, asked as the condition of a refund, a re-issue, unfreezing or a
//!   "verification".
//! - Early release: confirming receipt (or dropping a complaint) asked for before the goods work.
//!
//! Guards ([`guarded`]) keep precision: a phrase in a sentence that warns against it, reports it or denies it
//! (`任何人让你加微信都不要理`, `补单不收费`), or asks about it, is not a lure; goods names (`QQ会员月卡`,
//! `支付宝红包卡`, `Telegram Premium`) and key formats (`VX7K-2MNP-Q9ZL`) are not contact details.

use super::normalize::Normalized;
use super::{rule, Hit, RiskCategory};
use regex::Regex;
use std::sync::OnceLock;

/// How a rule's match is judged by the guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A concrete identifier: flagged whatever the words around it say (except goods names and key formats).
    Id,
    /// A phrase: not flagged in a sentence that warns against it, reports or denies it.
    Phrase,
    /// A phrase that is also not flagged in a question.
    Claim,
}

struct Rule {
    id: &'static str,
    kind: Kind,
    re: Regex,
    /// What else the sentence needs (a payment verb, a condition, a sequence), if anything.
    needs: Option<Regex>,
    /// What makes this rule's match ordinary talk in its sentence, beyond the common guards.
    unless: Option<Regex>,
}

const APPS: &str = "微信|qq|telegram|whatsapp|line|钉钉|抖音|小红书|instagram|ins|b站|facebook|discord|skype|kakao";
const STOP: &str = "[^,。!?;\\n]";

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this module, checked by its tests; a bad one matches nothing.
    Regex::new(pattern).unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |id, kind, pattern: &str| Rule { id, kind, re: re(pattern), needs: None, unless: None };
        let condition = "退|补|换|重发|重新|解冻|解锁|解封|激活|验证|认证|审核|售后|风控|冻结|拿回|返还|refund|unlock|verif|re-?issue|锁";
        let pay = r"交|付|缴|转|充|收|扣|垫|\d|块|元|rmb|\$|pay|钱";
        vec![
            // --- contact
            r(
                rule::APP_ID,
                Kind::Id,
                &format!(
                    r"(?P<app>{APPS}|邮箱|email|电话|手机|call|uid){STOP}{{0,12}}?(?P<id>@?[a-z0-9][a-z0-9_.-]{{3,30}})"
                ),
            ),
            r(rule::EMAIL, Kind::Id, r"(?:^|[^/a-z0-9._%+-])(?P<id>[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})"),
            r(
                rule::EMAIL,
                Kind::Id,
                r"(?P<id>[a-z0-9._-]{2,}\s*(?:\(at\)|\[at\]|\bat\b|艾特)\s*[a-z0-9-]+\s*(?:\(dot\)|\[dot\]|\bdot\b|点)\s*(?:com|net|cn|org|cc))",
            ),
            r(rule::HANDLE, Kind::Id, r"(?:^|[^a-z0-9.@])(?P<id>@[a-z0-9_][a-z0-9_.]{2,30})"),
            r(
                rule::EMAIL,
                Kind::Id,
                r"(?P<id>[a-z0-9][a-z0-9-]{1,30}\s*(?:点|\(dot\)|\bdot\b)\s*(?:com|net|cn|org|cc|top|xyz|shop))",
            ),
            r(
                rule::APP_ID,
                Kind::Id,
                &format!(r"(?:电话|手机|打给我|打我|打这个|call|whatsapp|联系){STOP}{{0,12}}?(?P<id>\+?\d{{7,15}})"),
            ),
            r(rule::HANDLE, Kind::Id, r"(?:搜索?|search|加)\s*:?\s*(?P<id>[a-z][a-z0-9_]{4,30})"),
            r(rule::GROUP, Kind::Id, &format!(r"群(?:号|号码)?{STOP}{{0,4}}?(?P<id>\d{{5,12}})")),
            Rule {
                unless: Some(re(r"^\s*(?:支付|付款|pay|读书|红包|会员|音乐|钱包|登录|绑定|实名)")),
                ..r(
                    rule::INVITE,
                    Kind::Phrase,
                    &format!(r"(?:加|jia\s*(?:wo)?\s*|➕|\+|添加|联系|找|上|去|来|换到?|用|搜|留)(?:我|一下|个|下|我的|你的|一下我的|我们)?(?:的)?\s*(?:{APPS})"),
                )
            },
            r(
                rule::INVITE,
                Kind::Phrase,
                &format!(r"(?:{APPS})(?:上|里)?(?:聊|说|谈|私聊|详聊|联系|找我|沟通|细聊|私信)"),
            ),
            r(
                rule::INVITE,
                Kind::Phrase,
                r"私聊|私信|dm me|add me|reach me|contact me|message me|move this chat|text me|call me|私下沟通|私下联系|换个(?:地方|软件|app)|(?:主页|头像|昵称|简介|签名)(?:里|上)?\S{0,6}?(?:联系|号|码)|搜索?手机号|(?:微信|qq)同(?:手机)?号|手机同微",
            ),
            r(
                rule::INVITE,
                Kind::Phrase,
                r"(?:留|发|给)(?:个|一下|我)?(?:你的)?(?:联系方式|微信|qq|电话|手机号)|联系方式给|推(?:个|一下)?名片|名片|加(?:个|一下|我)?好友",
            ),
            r(
                rule::QR_OFFER,
                Kind::Phrase,
                &format!(r"(?:扫码|扫一下|扫了|长按识别){STOP}{{0,8}}?(?:加|好友|进群)|二维码{STOP}{{0,10}}?(?:加我|好友|进群|加一下|扫)|(?:加|进)(?:个|我们的?)?群|好友{STOP}{{0,6}}?二维码"),
            ),
            // --- off-platform payment
            r(
                rule::TRANSFER,
                Kind::Claim,
                r"转账|转钱|打款|汇款|转(?:给)?我|付(?:给)?我|给我转|打到我|转到(?:我|这个|我的)|扫我|微信零钱|好友转账|对公账户|云闪付|直接转|直接付|私下(?:付款|转账|交易|发)|pay me|paypal|venmo|usdt|比特币|btc|trc20|钱包地址|给我(?:充|转)|转[^,。!?;\n]{0,6}?到(?:我|这个|我的)|定金|订金",
            ),
            Rule {
                unless: Some(re(r"^(?:卡|封面|序列)")),
                ..r(rule::RED_PACKET, Kind::Claim, &format!(r"(?:发|给|转|来){STOP}{{0,8}}?红包|红包{STOP}{{0,4}}?(?:发我|给我|也行|就行)|口令红包"))
            },
            r(
                rule::BANK_CARD,
                Kind::Id,
                r"(?:银行|工行|农行|建行|中行|招行|户名)[^。!?;\n]{0,16}?(?P<id>\d{12,19})|(?P<id2>\d{12,19})[^。!?;\n]{0,4}?户名",
            ),
            r(
                rule::OTHER_MARKET,
                Kind::Claim,
                &format!(r"(?:闲鱼|淘宝|某宝|拼多多|pdd|转转|抖音小店|抖店|微店){STOP}{{0,10}}?(?:拍|下单|链接|店铺|搜|挂|付款|找我)|(?:拍|下单){STOP}{{0,6}}?(?:闲鱼|淘宝|拼多多|转转)"),
            ),
            r(
                rule::BYPASS,
                Kind::Claim,
                &format!(r"不走平台|别在(?:这|这里|平台){STOP}{{0,3}}?(?:下单|拍|付)|不用(?:拍|下单)|别拍了|下单太麻烦|走平台{STOP}{{0,2}}?(?:太贵|太麻烦)|平台{STOP}{{0,4}}?(?:扣点|手续费){STOP}{{0,4}}?(?:高|多|贵)|拍下后?别付款|取消订单[^。!?;\n]{{0,6}}?私下|(?:你退了|申请退款|先退款)[^。!?;\n]{{0,10}}?(?:转|私下)|话费当货款|e卡抵扣|更便宜的渠道|outside (?:the )?platform"),
            ),
            // --- fee scams
            Rule {
                needs: Some(re(&format!("(?:{pay})[^。!?;\\n]*(?:{condition})|(?:{condition})[^。!?;\\n]*(?:{pay})|解冻|解锁|解封|fee"))),
                ..r(
                    rule::FEE_CONDITION,
                    Kind::Claim,
                    r"\p{Han}{1,3}费|解冻金|认证金|验证金|保证金|押金|补发成本|差价|所得税|交税|税钱|刷流水|processing fee|verification fee|a fee|\bfee\b",
                )
            },
            Rule {
                needs: Some(re(condition)),
                ..r(
                    rule::FEE_CONDITION,
                    Kind::Claim,
                    &format!(r"(?:先|需要?|要|得|必须|请|才)[^。!?;\n,]{{0,6}}?(?:交|付|转|充值?|垫付|缴纳?|打)(?:我|给我|过来)?\s*(?:¥|\$)?(?:\d+|点钱|一笔|一单|个?\d)|交点钱|垫付|另付费?|额外(?:支付|付)|(?:^|[^已])(?:付|交|缴)\s*\d+\s*(?:块|元)|(?:pay|deposit){STOP}{{0,30}}(?:refund|unlock|verif)|(?:refund|unlock){STOP}{{0,40}}(?:pay|fee)"),
                )
            },
            // --- early release
            Rule {
                needs: Some(re(r"先|才|再|后|然后|之后|就|不然|否则|没法|提前|马上|立刻|立马|好结算|急着|补|退|换|发|给你|before|first|then|need to|才能|自动|send|refund")),
                unless: Some(re(
                    r"我(?:去|再|会|马上|就|先|这就)?(?:确认|点)|已(?:经)?确认|等[^。!?;\n]{0,20}再确认|(?:能用了|可以用了|用了再|可以用,|能正常|测试|成功|once it works|works now|worked|收到了)|确认收货前|i will confirm|once",
                )),
                ..r(
                    rule::CONFIRM_EARLY,
                    Kind::Claim,
                    r"确认(?:一下)?收货|点(?:一下)?(?:确认)?收货|收货确认|先收货|签收|(?:完成|结束|确认)(?:了|掉)?(?:订单|交易)|(?:订单|交易)(?:完成|确认|结束)|把(?:订单|交易)\S{0,2}(?:完成|确认|结束)|点完成|放款|先点确认|撤(?:销|回|了|掉)?(?:投诉|申诉|纠纷)|(?:申诉|投诉)撤|(?:关闭|取消)(?:投诉|申诉|售后|纠纷)|confirm(?:ed)? receipt|mark(?:ed)?[^.!?]{0,20}received|release (?:the )?(?:payment|funds)",
                )
            },
        ]
    })
}

/// Words that make a sentence a warning, a report or a denial.
fn guard() -> &'static Regex {
    static GUARD: OnceLock<Regex> = OnceLock::new();
    GUARD.get_or_init(|| {
        re(r"不要|勿|谨防|小心|当心|千万|拒绝|不理|没理|没加|举报|投诉了|骗子|诈骗|不会(?:要求|让|向|收)|陌生人|没同意|没答应|从不|从来不|不收|免费|无需|不用(?:付|交|给|花)|不需要(?:付|交|给|任何)|有人|别人|任何人|如果|never|refuse|report|\bscam|平台承担|谁出")
    })
}

/// Goods names and key formats: a hit inside one is not contact.
fn goods() -> &'static Regex {
    static GOODS: OnceLock<Regex> = OnceLock::new();
    GOODS.get_or_init(|| {
        re(r"qq\s*(?:超级)?(?:会员|音乐|绿钻|币|空间|钱包|飞车|堂|号被)|微信\s*(?:读书|支付|红包封面|红包序列号|pay)|支付宝\s*红包卡|红包卡|红包封面|telegram\s*premium|premium|企鹅电竞|\b[a-z0-9]{4,6}(?:-[a-z0-9]{4,6}){2,}\b")
    })
}

/// What the guards need of one message, computed once: where goods names are and where sentences end.
pub(super) struct Context {
    goods: Vec<(usize, usize)>,
    enders: Vec<usize>,
}

/// How far (in bytes) around a match its sentence is read: rules look at a bounded window, so the work stays
/// linear in the message's length.
const WINDOW: usize = 240;

impl Context {
    pub fn new(n: &Normalized) -> Context {
        let text = n.text.as_str();
        // A key format's groups are all one length (`VX7K-2MNP-Q9ZL`); dashes put between letters at random
        // (`we-cha-t`) are not a key.
        let uniform = |m: &str| {
            let mut lens = m.split('-').map(str::len);
            let first = lens.next();
            !m.contains('-') || lens.all(|l| Some(l) == first)
        };
        let goods = goods().find_iter(text).filter(|m| uniform(m.as_str())).map(|m| (m.start(), m.end())).collect();
        let enders = text.match_indices(['。', '!', '?', ';', '\n']).map(|(i, _)| i).collect();
        Context { goods, enders }
    }

    /// The sentence around bytes `[a, b)`, at most [`WINDOW`] bytes either side.
    fn sentence<'t>(&self, text: &'t str, a: usize, b: usize) -> &'t str {
        let k = self.enders.partition_point(|&e| e < a);
        let start = k.checked_sub(1).and_then(|k| self.enders.get(k)).map_or(0, |&e| e + 1);
        let end = self.enders.get(self.enders.partition_point(|&e| e < b)).copied().unwrap_or(text.len());
        let start = boundary(text, start.max(a.saturating_sub(WINDOW)));
        let end = boundary(text, end.min(b + WINDOW).max(start));
        text.get(start..end).unwrap_or("")
    }
}

/// The nearest character boundary at or after `i`.
fn boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

/// Whether the clause (split at `,` and sentence ends) starting at byte `at` is a question.
fn clause_is_question(text: &str, at: usize) -> bool {
    let tail = text.get(at..).unwrap_or("");
    let tail = tail.get(..boundary(tail, WINDOW.min(tail.len()))).unwrap_or(tail);
    let end = tail.find([',', '。', '!', '?', ';', '\n']);
    let body = end.and_then(|e| tail.get(..e)).unwrap_or(tail).trim_end();
    end.is_some_and(|e| tail.get(e..).is_some_and(|t| t.starts_with('?'))) || body.ends_with(['吗', '么', '嘛'])
}

/// Whether a hit over the normalised bytes `[a, b)` is ordinary talk: a goods name or key, or (for a phrase) a
/// warning, report, denial or question.
pub(super) fn guarded(n: &Normalized, ctx: &Context, a: usize, b: usize, phrase: bool, question: bool) -> bool {
    let text = n.text.as_str();
    if ctx.goods.iter().any(|&(s, e)| (s <= a && a < e) || (phrase && s < b && a < e)) {
        return true;
    }
    if !phrase {
        return false;
    }
    guard().is_match(ctx.sentence(text, a, b)) || (question && clause_is_question(text, a))
}

/// Whether the normalised bytes `[a, b)` hold a concrete identifier: five or more id characters in a row with
/// a digit or `_` among them (English words are not ids), or an `@`.
pub(super) fn concrete(n: &Normalized, a: usize, b: usize) -> bool {
    let part = n.text.get(a..b).unwrap_or("");
    let (mut run, mut marked) = (0, false);
    for c in part.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            run += 1;
            marked |= c.is_ascii_digit() || c == '_';
            if run >= 5 && marked {
                return true;
            }
        } else {
            (run, marked) = (0, false);
        }
    }
    part.contains('@')
}

/// Whether the original characters `span` hold an identifier once everything between its letters and digits
/// is dropped (`s*c|a|m 2 0*2|6` is `scam2026`).
pub(super) fn concrete_written(text: &str, span: (usize, usize)) -> bool {
    let part: String = text.chars().skip(span.0).take(span.1.saturating_sub(span.0)).collect();
    let folded = super::normalize::fold(&part);
    let id: Vec<char> = folded.iter().map(|c| c.c).filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    folded.iter().any(|c| c.c == '@') || (id.len() >= 5 && id.iter().any(|c| c.is_ascii_digit() || *c == '_'))
}

/// Whether an id after an app name is one: digits (5–12, or a mobile), or a handle with a digit, `_` or `@`,
/// or any handle after a marker (`:`, `号`, `是`, `id`).
fn plausible_id(id: &str, gap: &str) -> bool {
    if id.contains('.') && !id.starts_with('@') {
        return false;
    }
    if id.chars().all(|c| c.is_ascii_digit()) {
        return (5..=12).contains(&id.len());
    }
    if id.chars().filter(|c| c.is_ascii_alphanumeric()).count() < 5 {
        return false;
    }
    let marked = gap.contains([':', '号', '是', '@']) || gap.contains("id") || gap.contains("名");
    id.starts_with('@') || id.contains('_') || id.chars().any(|c| c.is_ascii_digit()) || marked
}

/// Runs every shape rule on the normalised message.
pub(super) fn scan(n: &Normalized, ctx: &Context, hits: &mut Vec<Hit>) {
    let text = n.text.as_str();
    for rule in rules() {
        for caps in rule.re.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            let (a, b) = match caps.name("id").or_else(|| caps.name("id2")) {
                Some(id) => (id.start(), id.end()),
                None => (whole.start(), whole.end()),
            };
            if let (Some(app), Some(id)) = (caps.name("app"), caps.name("id")) {
                let gap = text.get(app.end()..id.start()).unwrap_or("");
                let digits_only = id.as_str().chars().all(|c| c.is_ascii_digit());
                let phone_app = matches!(app.as_str(), "电话" | "手机" | "call");
                if !plausible_id(id.as_str(), gap) || (phone_app && !digits_only) {
                    continue;
                }
            }
            if let Some(unless) = &rule.unless {
                let check = if rule.id == rule::CONFIRM_EARLY {
                    ctx.sentence(text, a, b)
                } else {
                    let rest = text.get(whole.end()..).unwrap_or("");
                    rest.get(..boundary(rest, 16.min(rest.len()))).unwrap_or(rest)
                };
                if unless.is_match(check) {
                    continue;
                }
            }
            if let Some(needs) = &rule.needs {
                if !needs.is_match(ctx.sentence(text, a, b)) {
                    continue;
                }
            }
            let phrase = rule.kind != Kind::Id && !concrete(n, a, b);
            if guarded(n, ctx, a, b, phrase, rule.kind == Kind::Claim) {
                continue;
            }
            let Some(span) = n.original_span(a, b) else { continue };
            // An id after one of the first rules' apps is reported as that app's rule.
            let id = match caps.name("app").map(|m| m.as_str()) {
                Some("微信") => rule::WECHAT,
                Some("qq") => rule::QQ,
                Some("telegram") => rule::TELEGRAM,
                Some("电话" | "手机" | "call") => rule::PHONE,
                _ => rule.id,
            };
            let category = rule::category(id).unwrap_or(RiskCategory::OffPlatformContact);
            hits.push(Hit { rule: id, category, span });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize::normalize;
    use super::*;

    fn rules_hit(text: &str) -> Vec<&'static str> {
        let mut hits = Vec::new();
        let n = normalize(text);
        scan(&n, &Context::new(&n), &mut hits);
        let mut ids: Vec<_> = hits.iter().map(|h| h.rule).collect();
        ids.dedup();
        ids
    }

    #[test]
    fn every_pattern_compiles() {
        for rule in rules() {
            assert!(!rule.re.as_str().is_empty());
            assert!(Regex::new(rule.re.as_str()).is_ok(), "{}", rule.id);
            assert!(rule.re.as_str() != "$^", "{}", rule.id);
        }
        assert!(guard().as_str() != "$^" && goods().as_str() != "$^");
    }

    #[test]
    fn contact_shapes_near_an_app_name() {
        assert_eq!(rules_hit("企鹅 8 8 6 5 4 3 2 1"), vec![rule::QQ]);
        assert_eq!(rules_hit("whatsapp +85291234567"), vec![rule::APP_ID]);
        assert_eq!(rules_hit("加扣 3 4 5 6 7 8 9 0 1"), vec![rule::QQ, rule::INVITE]);
        assert!(rules_hit("扫码加好友，二维码发你了").contains(&rule::QR_OFFER));
        assert!(rules_hit("邮箱 abc123 at 163 dot com").contains(&rule::EMAIL));
        assert!(rules_hit("QQ会员月卡还有货吗").is_empty());
        assert!(rules_hit("Telegram Premium 礼品码 3 个月").is_empty());
        assert!(rules_hit("码是 VX7K-2MNP-Q9ZL，提示错误").is_empty());
    }

    #[test]
    fn warnings_and_reports_are_not_lures() {
        assert!(rules_hit("任何人让你加微信都不要理").is_empty());
        assert!(rules_hit("有人让我转 50 解冻费，我举报了").is_empty());
        assert!(rules_hit("卡能正常用了再确认收货").is_empty());
        assert_eq!(rules_hit("你先确认收货，我马上给你补卡"), vec![rule::CONFIRM_EARLY]);
        assert_eq!(rules_hit("退款前要先付 20 块退款手续费"), vec![rule::FEE_CONDITION]);
        assert!(rules_hit("补单需要交钱吗").is_empty());
        assert!(rules_hit("有陌生人加我微信，我没同意").is_empty());
        assert_eq!(rules_hit("补发要走流程，流程费 25 元"), vec![rule::FEE_CONDITION]);
        assert_eq!(rules_hit("好评加确认收货，回头给你补"), vec![rule::CONFIRM_EARLY]);
        assert_eq!(rules_hit("jia wo wei xin"), vec![rule::INVITE]);
        assert_eq!(rules_hit("搜 shop_keys99"), vec![rule::HANDLE]);
    }
}
