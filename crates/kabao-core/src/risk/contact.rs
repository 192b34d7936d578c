//! Contact rules: WeChat, QQ and Telegram ids, and Chinese mobile numbers.
//!
//! A channel name alone is ordinary talk (`可以用微信支付吗`, `坐飞机`, `QQ币`). A hit needs the name *and* an
//! id after it (`vx：kabao88`, `扣扣 一二三四五六七八`), or an explicit invitation (`加V`, `加我薇`, `+v`,
//! `微信聊`). Names that are also everyday words (飞机, 企鹅, a lone `v` or `q`) need an id marker before the id
//! (`飞机号`, `q：`, `@`). A phone number is an 11-digit mobile (`1[3-9]` and nine more, optionally after
//! `+86`) in any digits, but not one glued to letters (order numbers, keys), priced (`¥`, `元`), labelled as
//! another number (订单号, 卡号, 账号), a decimal or a time.

use super::phrases::guarded;
use super::text::Folded;
use super::{rule, Hit, RiskCategory};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    WeChat,
    Qq,
    Telegram,
}

impl Channel {
    fn rule(self) -> &'static str {
        match self {
            Channel::WeChat => rule::WECHAT,
            Channel::Qq => rule::QQ,
            Channel::Telegram => rule::TELEGRAM,
        }
    }
}

/// How much a channel name needs before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// Only a channel name: an id may follow directly.
    Strong,
    /// Also an everyday word: an id needs a marker before it (`号`, `是`, `:`, `@`).
    Marked,
    /// Only after an add verb (`加威`).
    AddOnly,
}

struct Keyword {
    pat: &'static str,
    channel: Channel,
    tier: Tier,
}

const fn kw(pat: &'static str, channel: Channel, tier: Tier) -> Keyword {
    Keyword { pat, channel, tier }
}

use Channel::{Qq, Telegram, WeChat};
use Tier::{AddOnly, Marked, Strong};

/// Channel names after folding (lowercase ASCII, separators gone). Look-alikes of 微 (薇, 威, 卫, 维, 溦, 徽, v)
/// count only next to 信 or after an add verb, so 维修 and 威力 stay words.
const KEYWORDS: &[Keyword] = &[
    kw("微信", WeChat, Strong),
    kw("薇信", WeChat, Strong),
    kw("威信", WeChat, Strong),
    kw("维信", WeChat, Strong),
    kw("卫信", WeChat, Strong),
    kw("溦信", WeChat, Strong),
    kw("徽信", WeChat, Strong),
    kw("嶶信", WeChat, Strong),
    kw("v信", WeChat, Strong),
    kw("vx信", WeChat, Strong),
    kw("wei信", WeChat, Strong),
    kw("微x", WeChat, Strong),
    kw("薇x", WeChat, Strong),
    kw("weixin", WeChat, Strong),
    kw("wechat", WeChat, Strong),
    kw("wxid", WeChat, Strong),
    kw("vxin", WeChat, Strong),
    kw("vx", WeChat, Strong),
    kw("wx", WeChat, Strong),
    kw("绿泡泡", WeChat, Strong),
    kw("卫星", WeChat, Marked),
    kw("微", WeChat, Marked),
    kw("薇", WeChat, Marked),
    kw("v", WeChat, Marked),
    kw("威", WeChat, AddOnly),
    kw("溦", WeChat, AddOnly),
    kw("徽", WeChat, AddOnly),
    kw("qq", Qq, Strong),
    kw("扣扣", Qq, Strong),
    kw("抠抠", Qq, Strong),
    kw("蔻蔻", Qq, Strong),
    kw("寇寇", Qq, Strong),
    kw("q群", Qq, Strong),
    kw("qq群", Qq, Strong),
    kw("企鹅", Qq, Marked),
    kw("秋秋", Qq, Marked),
    kw("球球", Qq, Marked),
    kw("q", Qq, Marked),
    kw("telegram", Telegram, Strong),
    kw("tg", Telegram, Strong),
    kw("纸飞机", Telegram, Strong),
    kw("飞机", Telegram, Marked),
    kw("小飞机", Telegram, Marked),
    kw("电报", Telegram, Marked),
    kw("✈", Telegram, Marked),
];

/// Words between a channel name and its id; the ones that also mark an id are listed in [`MARKERS`].
const FILLERS: &[&str] = &[
    "号码", "号", "账号", "帐号", "id", "是", "为", "名", "搜", "搜索", "我的", "我", "的", "is", "上", "群", "群号",
    "频道", "同号", "一下", "下",
];
const MARKERS: &[&str] = &["号码", "号", "账号", "帐号", "id", "是", "为", "名", "搜", "搜索", "is"];

/// Verbs of adding someone, and what may stand between them and the channel (加我的V, add me on wechat).
const ADD_VERBS: &[&str] = &["加", "添加", "加上", "add", "dm", "扫"];
const ADD_FILLERS: &[&str] =
    &["我", "我的", "下", "一下", "个", "一个", "好友", "下我", "个人", "私人", "本人", "me", "my", "on", "meon"];
/// 加 in 增加, 参加, 追加… is not an invitation.
const NOT_ADD: &[&str] = &["增", "参", "追", "叠", "附", "施", "更", "外", "倍", "累", "强"];
/// Talking on the channel: 微信聊, 微信上详谈, 走微信.
const TALK_VERBS: &[&str] = &[
    "联系", "聊", "详聊", "详谈", "私聊", "细聊", "沟通", "找我", "私信", "交流", "联络", "加我", "发你", "发我", "说",
    "谈",
];
/// Common words that follow a channel name in ordinary talk and are not ids (微信 alipay 都行).
const NOT_IDS: &[&str] = &[
    "alipay",
    "paypal",
    "wechatpay",
    "weixinpay",
    "unionpay",
    "applepay",
    "payment",
    "please",
    "thanks",
    "thank",
    "hello",
    "sorry",
    "later",
    "money",
    "zhifubao",
    "zhifu",
    "fukuan",
    "zhuanzhang",
    "keyi",
    "haode",
    "okay",
    "transfer",
    "account",
    "group",
    "friend",
    "check",
    "order",
];

/// Other apps' names: a word that starts with one is the next item of a list of apps, not an id.
const APP_NAMES: &[&str] =
    &["telegram", "whatsapp", "line", "discord", "signal", "skype", "facebook", "instagram", "wechat", "kakao"];

/// The longest id a rule reads: enough for any handle, and a bound on the work per position.
const MAX_ID: usize = 40;

pub(super) fn scan(f: &Folded, hits: &mut Vec<Hit>) {
    channels(f, hits);
    phones(f, hits);
}

fn channels(f: &Folded, hits: &mut Vec<Hit>) {
    let mut i = 0;
    while i < f.dense.len() {
        match channel_hit(f, i) {
            Some((channel, a, b)) => {
                if let Some(span) = f.span(a, b) {
                    hits.push(Hit { rule: channel.rule(), category: RiskCategory::OffPlatformContact, span });
                }
                i = b.max(i + 1);
            }
            None => i += 1,
        }
    }
}

/// A contact hit for a channel name starting at `i`: the id, or the invitation.
fn channel_hit(f: &Folded, i: usize) -> Option<(Channel, usize, usize)> {
    let k = keyword_at(f, i)?;
    let end = i + k.pat.chars().count();
    if k.tier != AddOnly {
        let mut j = end;
        let mut marked = false;
        for _ in 0..3 {
            match f.any(j, FILLERS) {
                Some(n) => {
                    marked |= f.any(j, MARKERS).is_some();
                    j += n;
                }
                None => break,
            }
        }
        marked |= (end..=j).any(|x| f.unit(x).is_some_and(|u| u.marker_before));
        if k.tier == Strong || marked {
            if let Some(id_end) = id(f, j, k.channel) {
                return Some((k.channel, j, id_end));
            }
        }
    }
    if let Some(start) = add_before(f, i) {
        let single = k.pat.chars().count() == 1;
        if (!single || follows_ok(f, end)) && !guarded(f, start, end) {
            return Some((k.channel, start, end));
        }
    }
    if k.tier == Strong {
        let mut j = end;
        if f.any(j, &["上", "里"]).is_some() {
            j += 1;
        }
        let talk = f.any(j, TALK_VERBS).filter(|&n| {
            // 说/谈 only after 上/里 (微信上说); 聊天记录 is evidence, not an invitation.
            (j > end || n > 1 || !f.is(j, "说") && !f.is(j, "谈")) && !f.is(j, "聊天记录") && !f.is(j, "聊天截图")
        });
        if let Some(n) = talk {
            if !guarded(f, i, j + n) {
                return Some((k.channel, i, j + n));
            }
        }
        if f.any_ending(i, &["走", "去", "换"]).is_some()
            && f.any(end, &["支付", "付款", "钱包", "付"]).is_none()
            && !guarded(f, i - 1, end)
        {
            return Some((k.channel, i - 1, end));
        }
    }
    None
}

/// The longest channel name at `i` whose ASCII letters are not part of a longer word (`tv x`, `vip`).
fn keyword_at(f: &Folded, i: usize) -> Option<&'static Keyword> {
    KEYWORDS
        .iter()
        .filter(|k| f.is(i, k.pat))
        .filter(|k| {
            let n = k.pat.chars().count();
            let starts_ascii = k.pat.starts_with(|c: char| c.is_ascii_alphabetic());
            let left_ok = !starts_ascii || !f.light_before(i).is_some_and(|c| c.is_ascii_alphanumeric());
            let short_ascii = k.pat.is_ascii() && n <= 4;
            let right_ok = !short_ascii || !f.light_after(i + n - 1).is_some_and(|c| c.is_ascii_alphabetic());
            // `WX-2024-GIFT` is a code: a short name joined by a dash to what follows is part of it.
            let code = short_ascii
                && f.light_after(i + n - 1) == Some('-')
                && f.unit(i + n - 1).and_then(|u| f.light_c(u.light + 2)).is_some_and(|c| c.is_ascii_alphanumeric());
            left_ok && right_ok && !code
        })
        .max_by_key(|k| k.pat.chars().count())
}

/// Where an add verb before the channel name at `p` starts (加V, 加我的微信, add me on wechat, +v).
fn add_before(f: &Folded, p: usize) -> Option<usize> {
    // A plus sign in the gap before the name (+v, + 微), not one that ends a number (100+ v2).
    let light = f.unit(p)?.light;
    let previous = p.checked_sub(1).and_then(|q| f.unit(q));
    let gap_start = previous.map_or(0, |u| u.light + 1);
    let plus = f.light.get(gap_start..light).and_then(|gap| gap.iter().position(|l| matches!(l.c, '+' | '➕')));
    if plus.is_some_and(|k| k > 0 || previous.is_none()) {
        return Some(p);
    }
    let mut q = p;
    for _ in 0..3 {
        if let Some(n) = f.any_ending(q, ADD_VERBS) {
            let start = q - n;
            let is_jia = f.is(start, "加");
            if !(is_jia && f.any_ending(start, NOT_ADD).is_some()) {
                return Some(start);
            }
        }
        q -= f.any_ending(q, ADD_FILLERS)?;
    }
    None
}

/// After a one-character name (加微, 加v, 加q): the end, a separator, an id, or a word that goes with it —
/// not another word (加微博, 加威力).
fn follows_ok(f: &Folded, end: usize) -> bool {
    match f.unit(end) {
        None => true,
        Some(u) => {
            u.gap_before
                || u.c.is_ascii_alphanumeric()
                || f.any(end, &["信", "号", "聊", "私", "详", "联", "好友", "吧", "哦", "呀", "啊", "呗", "了", "我"])
                    .is_some()
        }
    }
}

/// An id starting at `start` for `channel`: returns its end.
///
/// ASCII letters and digits (separators were dropped, so `k_a-b.a o88` is `kabao88`), or digits in any
/// writing (`一二三四五六七八`). A space between two plain words of two or more letters ends it, so the English
/// words after a channel name (`wechat or alipay`) are not read as one id; an id split by spaces alone into
/// two such words (`scam guy`) is read as two words, the price of that.
fn id(f: &Folded, start: usize, channel: Channel) -> Option<usize> {
    let is_id_char = |u: &super::text::Unit| u.c.is_ascii_alphanumeric() || u.digit.is_some();
    let first = f.unit(start).filter(|u| is_id_char(u))?;
    let numeric_only = !first.c.is_ascii();
    let (mut letters, mut digits) = (0usize, 0usize);
    let mut end = start;
    // The current space-separated group: its length, whether it has a digit, whether anything (a dot, an emoji)
    // splits it inside — English words have none of these.
    let (mut group_len, mut group_digit, mut group_plain) = (0usize, false, true);
    // After `@` the id is a handle by its own mark: spaces inside it (`@ scam guy`) split it, not words.
    let handle = after_at(f, start);
    while end - start < MAX_ID {
        let Some(u) = f.unit(end).filter(|u| is_id_char(u)) else { break };
        let is_letter = u.c.is_ascii_alphabetic();
        if (numeric_only && is_letter) || (!u.c.is_ascii() && letters > 0) {
            break;
        }
        if end > start && u.space_before {
            // Two plain letter words in a row are words, not one id.
            // `i`, `a` and `u` are English words of one letter (`telegram, i will stay`).
            let word = group_len >= 2 || (group_len == 1 && matches!(f.c(end - 1), Some('i' | 'a' | 'u')));
            if !handle && word && !group_digit && group_plain && word_ahead(f, end) {
                break;
            }
            (group_len, group_digit, group_plain) = (0, false, true);
        } else if end > start && u.gap_before {
            group_plain = false;
        }
        group_len += 1;
        group_digit |= u.digit.is_some();
        if is_letter {
            letters += 1;
        } else {
            digits += 1;
        }
        end += 1;
    }
    let len = end - start;
    if len < 5 {
        return None;
    }
    // An apostrophe before or inside makes it English words (`telegram, I'll only`, `Telegram's official`), not an id.
    let lights = f.unit(start).map(|u| u.light).zip(f.unit(end - 1).map(|u| u.light));
    let apostrophe = |c: char| matches!(c, '\'' | '’');
    if f.light_before(start).is_some_and(apostrophe)
        || lights.and_then(|(l0, l1)| f.light.get(l0..=l1)).is_some_and(|l| l.iter().any(|x| apostrophe(x.c)))
    {
        return None;
    }
    match channel {
        Channel::Qq => {
            let numeric = letters == 0 && (5..=11).contains(&digits);
            let leading_zero = f.unit(start).is_some_and(|u| u.digit == Some(0));
            (numeric && !leading_zero).then_some(end)
        }
        Channel::WeChat | Channel::Telegram => {
            if digits == 0 {
                let word: String = (start..end).filter_map(|k| f.c(k)).collect();
                // A list of apps (`QQ、微信、Telegram、WhatsApp`) reads as one word once the commas are dropped.
                if NOT_IDS.contains(&word.as_str()) || APP_NAMES.iter().any(|app| word.starts_with(app)) {
                    return None;
                }
            }
            Some(end)
        }
    }
}

/// Whether `@` (then only spaces) comes right before the unit at `start`.
fn after_at(f: &Folded, start: usize) -> bool {
    let Some(u) = f.unit(start).filter(|u| u.marker_before) else { return false };
    f.light.get(..u.light).unwrap_or_default().iter().rev().map(|l| l.c).find(|c| !c.is_whitespace()) == Some('@')
}

/// Whether a plain word of two or more letters (no digits, nothing inside it) starts at `k`.
fn word_ahead(f: &Folded, k: usize) -> bool {
    let mut n = 0;
    while let Some(u) = f.unit(k + n) {
        if n > 0 && u.space_before || !u.c.is_ascii_alphanumeric() {
            break;
        }
        if u.c.is_ascii_digit() || (n > 0 && u.gap_before) {
            return false;
        }
        n += 1;
    }
    n >= 2
}

// ---------------------------------------------------------------------------------------------------------
// contact.phone

/// Labels of numbers that are not phone numbers.
const NUMBER_LABELS: &[&str] = &[
    "订单号",
    "订单",
    "单号",
    "编号",
    "卡号",
    "流水号",
    "序列号",
    "交易号",
    "商品号",
    "激活码",
    "卡密",
    "兑换码",
    "密码",
    "账号",
    "帐号",
    "order",
    "no",
    "sn",
];
const CURRENCY_AFTER: &[&str] = &["元", "块", "分", "角", "円", "刀", "rmb", "yuan", "cny"];

fn phones(f: &Folded, hits: &mut Vec<Hit>) {
    let mut i = 0;
    while i < f.dense.len() {
        if f.unit(i).is_none_or(|u| u.digit.is_none()) {
            i += 1;
            continue;
        }
        let start = i;
        while f.unit(i).is_some_and(|u| u.digit.is_some()) {
            i += 1;
        }
        if let Some((a, b)) = phone_in_run(f, start, i) {
            if let Some(span) = f.span(a, b) {
                hits.push(Hit { rule: rule::PHONE, category: RiskCategory::OffPlatformContact, span });
            }
        }
    }
}

/// A mobile number in the digit run `a..b`: the run itself, or the run without digit words at its edges that
/// belong to the text around it (第一 13812345678).
fn phone_in_run(f: &Folded, a: usize, b: usize) -> Option<(usize, usize)> {
    let is_word = |k: usize| f.unit(k).is_some_and(|u| !u.c.is_ascii());
    let mut trimmed_a = a;
    while trimmed_a < b && is_word(trimmed_a) {
        trimmed_a += 1;
    }
    let mut trimmed_b = b;
    while trimmed_b > trimmed_a && is_word(trimmed_b - 1) {
        trimmed_b -= 1;
    }
    let mut candidates = vec![(a, b)];
    if trimmed_a < trimmed_b && (trimmed_a, trimmed_b) != (a, b) {
        candidates.extend([(trimmed_a, b), (a, trimmed_b), (trimmed_a, trimmed_b)]);
    }
    candidates.into_iter().find(|&(s, e)| is_mobile(f, s, e))
}

fn is_mobile(f: &Folded, a: usize, b: usize) -> bool {
    let len = b.saturating_sub(a);
    if len > 15 {
        return false;
    }
    let digits: Vec<u8> = (a..b).filter_map(|k| f.unit(k).and_then(|u| u.digit)).collect();
    let number = match digits.as_slice() {
        [8, 6, rest @ ..] if rest.len() == 11 => rest,
        [0, 0, 8, 6, rest @ ..] if rest.len() == 11 => rest,
        all if all.len() == 11 => all,
        _ => return false,
    };
    if !matches!(number, [1, 3..=9, ..]) {
        return false;
    }
    // Glued to letters or digits in the original: part of an order number or a key (K20261128…, ABCD13812…).
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if glued(f.light_before(a)) || glued(f.light_after(b - 1)) {
        return false;
    }
    // A price: ¥13812345678, 13812345678元.
    let Some(first_light) = f.unit(a).map(|u| u.light) else { return false };
    let Some(last_light) = f.unit(b - 1).map(|u| u.light) else { return false };
    let before = f.light.get(..first_light).and_then(|l| l.iter().rev().take(3).find(|l| !l.c.is_whitespace()));
    if before.is_some_and(|l| matches!(l.c, '¥' | '$' | '€' | '£' | '￥')) || f.any(b, CURRENCY_AFTER).is_some() {
        return false;
    }
    // An official hotline in a usage instruction (拨打官方充值热线 13800138000) is not a person's number.
    if (a.saturating_sub(8)..a).any(|k| f.is(k, "热线")) {
        return false;
    }
    // Labelled as another number: 订单号：13812345678, 卡号是….
    let label_end = a - f.any_ending(a, &["是", "为"]).unwrap_or(0);
    if f.any_ending(label_end, NUMBER_LABELS).is_some() {
        return false;
    }
    // A decimal (13812345.67) or a time (…13:45) read as one run.
    let inner: Vec<char> =
        f.light.get(first_light..=last_light).map(|l| l.iter().map(|l| l.c).collect()).unwrap_or_default();
    // Only a plain number (digits and one dot) is read as a decimal; a dot among other separators is obfuscation.
    let dots = inner.iter().filter(|&&c| c == '.').count();
    if dots == 1 && inner.iter().all(|c| c.is_ascii_digit() || *c == '.') {
        let after_dot = inner.iter().rev().take_while(|&&c| c != '.').count();
        if after_dot <= 2 {
            return false;
        }
    }
    let is_time = inner.iter().enumerate().any(|(k, &c)| {
        c == ':' && inner.get(k + 1..).is_some_and(|rest| rest.iter().take_while(|c| c.is_ascii_digit()).count() == 2)
    });
    !is_time
}
