//! Phrase rules: private deals (私下交易, 走闲鱼), payment codes and transfers to a person (收款码, 转账到我),
//! and the fee scams (补单手续费, 解冻费, 激活费, a 保证金 asked of the buyer, 先付款再补).
//!
//! A phrase alone is not proof: `请勿私下交易` warns against one, `补单不收手续费` denies a fee, and
//! `保证金是平台收的吗` asks about one. So every phrase hit passes [`guarded`] (a warning or denial in its
//! clause before it, or a warning in its sentence after it), and the fee rules also skip questions and the
//! merchant's own deposit. Every search is a bounded window around a position, so the work stays linear.

use super::text::Folded;
use super::{rule, Hit, RiskCategory};

/// A phrase rule: the dense range of its phrase starting at a position, if one does.
type Matcher = fn(&Folded, usize) -> Option<(usize, usize)>;

/// How far (in dense units) a rule looks for the other half of a phrase.
const WINDOW: usize = 16;

pub(super) fn scan(f: &Folded, hits: &mut Vec<Hit>) {
    for i in 0..f.dense.len() {
        let mut push = |rule: &'static str, category: RiskCategory, a: usize, b: usize| {
            if let Some(span) = f.span(a, b) {
                hits.push(Hit { rule, category, span });
            }
        };
        if let Some((a, b)) = private_deal(f, i).filter(|&(a, b)| !guarded(f, a, b)) {
            push(rule::PRIVATE_DEAL, RiskCategory::OffPlatformContact, a, b);
        }
        if let Some((a, b)) = qr_code(f, i).filter(|&(a, b)| !guarded(f, a, b)) {
            push(rule::QR_CODE, RiskCategory::OffPlatformPayment, a, b);
        }
        let fees: [(&'static str, Matcher); 5] = [
            (rule::REISSUE_FEE, reissue_fee),
            (rule::UNFREEZE, unfreeze_fee),
            (rule::ACTIVATION, activation_fee),
            (rule::DEPOSIT_FROM_BUYER, deposit_from_buyer),
            (rule::PAY_FIRST, pay_first),
        ];
        for (rule, matcher) in fees {
            if let Some((a, b)) = matcher(f, i).filter(|&(a, b)| !fee_guarded(f, a, b)) {
                push(rule, RiskCategory::FeeScam, a, b);
            }
        }
    }
}

/// Words that, earlier in the same clause, turn a phrase into a warning or a denial.
const WARNINGS_BEFORE: &[&str] = &[
    "请勿",
    "切勿",
    "勿",
    "不要",
    "不可",
    "别",
    "禁止",
    "严禁",
    "谨防",
    "警惕",
    "小心",
    "防止",
    "提防",
    "当心",
    "不会",
    "不用",
    "无需",
    "不需要",
    "不必",
    "不能",
    "不可以",
    "不得",
    "拒绝",
    "不建议",
    "不支持",
    "不接受",
    "不加",
    "别加",
    "不添加",
    "没加",
    "不私下",
    "不是扫",
    "如果有人",
    "若有人",
    "凡是",
    "千万",
    "dont",
    "never",
    "donot",
];

/// Words that, later in the same sentence, turn a phrase into a warning.
const WARNINGS_AFTER: &[&str] = &[
    "不受保护",
    "不受平台保护",
    "不受保障",
    "没有保障",
    "无保障",
    "有风险",
    "风险很大",
    "风险大",
    "风险自负",
    "是骗",
    "骗局",
    "被骗",
    "骗子",
    "诈骗",
    "违规",
    "封号",
    "不安全",
    "安全吗",
    "靠谱吗",
    "可靠吗",
    "举报",
    "无法保障",
    "不保障",
    "没保障",
    "不负责",
    "无法追回",
    "追不回",
    "平台收银台",
    "notprotected",
];

/// Whether the phrase `a..b` is warned against or denied rather than proposed.
pub(super) fn guarded(f: &Folded, a: usize, b: usize) -> bool {
    let from = f.clause_start(a, 24);
    for k in (from..a).rev() {
        if let Some(n) = f.any(k, WARNINGS_BEFORE) {
            // Unpunctuated speech (`先别付款 我发你个码`): a space between two ideographs after the warning's
            // object ends its clause.
            if spoken_break(f, k + n, a) {
                continue;
            }
            // 别 is also part of 别人 (others), 特别, 区别…; only the imperative warns.
            let is_bie = n == 1 && f.c(k) == Some('别');
            if !is_bie || !(f.any(k + 1, &["人", "的", "处", "家"]).is_some() || f.any_ending(k, BIE_WORDS).is_some())
            {
                return true;
            }
        }
    }
    let to = f.sentence_end(b, 24);
    (b..to).any(|k| f.any(k, WARNINGS_AFTER).is_some() && f.any_ending(k, &["不", "没", "并非"]).is_none())
}

/// Whether dense units `[from, to)` hold a space between two ideographs after their first unit.
fn spoken_break(f: &Folded, from: usize, to: usize) -> bool {
    let han = |c: Option<char>| c.is_some_and(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    (from + 1..to).any(|k| f.unit(k).is_some_and(|u| u.space_before && han(Some(u.c))) && han(f.c(k - 1)))
}

const BIE_WORDS: &[&str] = &["特", "区", "分", "类", "级", "识", "个", "告", "性", "差", "派", "辨", "鉴", "判"];

/// Fee phrases are also not proposals when asked about.
fn fee_guarded(f: &Folded, a: usize, b: usize) -> bool {
    guarded(f, a, b) || f.in_question(a) || f.in_question(b.saturating_sub(1))
}

// ---------------------------------------------------------------------------------------------------------
// offplatform.private_deal

const PRIVATE_WORDS: &[&str] = &[
    "私下",
    "私聊",
    "私单",
    "私人交易",
    "线下交易",
    "线下付",
    "线下转",
    "线下见面",
    "当面交易",
    "见面交易",
    "走外面",
    "平台外交易",
    "平台外付",
    "平台外聊",
    "站外交易",
    "场外交易",
    "不走平台",
    "别走平台",
    "不用走平台",
    "不用在平台",
    "不在平台上",
    "别在平台",
    "直接找我买",
    "直接找我拿",
    "绕过平台",
    "绕开平台",
    "跳过平台",
    "避开平台",
    "脱离平台",
    "不经过平台",
    "不通过平台",
    "offplatform",
    "outsidetheplatform",
    "outsideplatform",
    "dealprivately",
    "privatedeal",
];

const OUTSIDE_ACTS: &[&str] = &["交易", "付", "转", "买", "卖", "聊", "谈", "联系", "拍", "下单"];
const MARKETS: &[&str] =
    &["淘宝", "某宝", "闲鱼", "咸鱼", "某鱼", "转转", "拼多多", "微店", "抖音", "快手", "京东", "小红书"];
const PROPOSALS: &[&str] = &["吧", "呗", "就行", "就好", "好了", "更便宜", "便宜", "更划算", "划算"];
const MOVE_VERBS: &[&str] = &["走", "去", "到", "换", "改", "上"];
const ADD_ME_TAILS: &[&str] = &["好友", "一下", "下", "吧", "呀", "哦", "呗", "啊", "聊", "私聊", "详聊", "联系"];

fn private_deal(f: &Folded, i: usize) -> Option<(usize, usize)> {
    if let Some(n) = f.any(i, PRIVATE_WORDS) {
        return Some((i, i + n));
    }
    if f.is(i, "外面") {
        return f.any(i + 2, OUTSIDE_ACTS).map(|n| (i, i + 2 + n));
    }
    if let Some(v) = f.any(i, MOVE_VERBS) {
        // 绑定到京东账户, 上京东App充值: the market's own account or app is where a product is redeemed.
        let m = f.any(i + v, MARKETS)?;
        if f.any(i + v + m, &["账户", "帐户", "账号", "帐号", "app", "会员", "plus", "e卡", "卡", "钱包"]).is_some()
        {
            return None;
        }
        return Some((i, i + v + m));
    }
    if let Some(m) = f.any(i, MARKETS) {
        if let Some(n) = f.any(i + m, &["链接", "拍下", "上拍", "上交易"]) {
            return Some((i, i + m + n));
        }
        // 淘宝交易吧, 闲鱼拍更便宜: a proposal, not 我在淘宝交易过.
        let act = f.any(i + m, OUTSIDE_ACTS)?;
        let end = i + m + act;
        return f.any(end, PROPOSALS).map(|n| (i, end + n));
    }
    // 加我 / 添加我 as an invitation ("加我好友", "有事加我"), not 增加我的… or 参加我们…; a channel name after
    // it (加我微信) is the contact rule's.
    if f.is(i, "加我") && f.any_ending(i, &["增", "参", "追", "叠", "附", "施", "更", "外", "倍", "累", "强"]).is_none()
    {
        let mut end = i + 2;
        if f.is(end, "的") {
            end += 1;
        }
        if let Some(n) = f.any(end, ADD_ME_TAILS) {
            return Some((i, end + n));
        }
        return f.ends_clause(end - 1).then_some((i, end));
    }
    if f.is(i, "addme") && f.ends_clause(i + 4) {
        return Some((i, i + 5));
    }
    None
}

// ---------------------------------------------------------------------------------------------------------
// payment.qr_code

const CODE_WORDS: &[&str] = &[
    "收款码",
    "收钱码",
    "付款码",
    "收款二维码",
    "付款二维码",
    "个人收款",
    "私人收款",
    "scanmyqr",
    "scantheqr",
    "myqrcode",
    "mypaymentcode",
    "paymedirectly",
    "transfertome",
    "transfertomy",
    "sendmoneytome",
    "sendmoneytomy",
];
const MONEY_VERBS: &[&str] =
    &["转账", "转帐", "转钱", "转款", "打款", "打钱", "汇款", "汇钱", "付款", "付钱", "给钱", "交钱"];
const PLAIN_VERBS: &[&str] = &["转", "打", "汇", "付", "充"];
const ACCOUNTS: &[&str] = &[
    "支付宝",
    "微信",
    "vx",
    "wx",
    "v信",
    "zfb",
    "alipay",
    "银行卡",
    "银行账户",
    "卡上",
    "卡里",
    "账户",
    "帐户",
    "账号",
    "个人",
    "私人",
];
const PAY_CHANNELS: &[&str] =
    &["微信", "v信", "vx", "wx", "薇信", "支付宝", "zfb", "alipay", "银行卡", "银行", "网银", "银联"];
const CHANNEL_TRANSFERS: &[&str] = &["转账", "转帐", "转给", "转我", "转到", "打款", "汇款", "红包", "转钱", "付给我"];
const NOT_ME: &[&str] = &["朋友", "同学", "家人", "们", "妈", "爸", "老婆", "老公", "孩子"];

fn qr_code(f: &Folded, i: usize) -> Option<(usize, usize)> {
    if let Some(n) = f.any(i, CODE_WORDS) {
        return Some((i, i + n));
    }
    // 扫(我的/这个)码付款, 扫码转账, 扫我二维码; 扫码支付 alone is how the platform's own checkout is paid.
    if f.is(i, "扫") {
        let mut j = i + 1;
        j += f.any(j, &["我的", "我", "这个", "下面的", "一下"]).unwrap_or(0);
        let code = f.any(j, &["二维码", "码"])?;
        let after = j + code;
        if let Some(n) = f.any(after, &["付款", "转账", "给我", "打款", "付钱", "转钱", "转给我", "付给我"])
        {
            return Some((i, after + n));
        }
        return (j > i + 1 && !f.is(i + 1, "一下")).then_some((i, after));
    }
    // 红包给我 / 发个红包到我这: a red packet is a transfer to a person.
    if f.is(i, "红包") {
        return f.any(i + 2, &["给我", "发我", "转我", "到我"]).map(|n| (i, i + 2 + n));
    }
    // 这个码扫一下付款: the code first, then scanning it to pay.
    if f.is(i, "码扫") {
        let mut j = i + 2;
        j += f.any(j, &["一下", "下", "了"]).unwrap_or(0);
        return f.any(j, &["付款", "转账", "付钱", "打款", "给我"]).map(|n| (i, j + n));
    }
    if f.is(i, "二维码") {
        return f.any(i + 3, &["付款", "转账", "收款", "打款"]).map(|n| (i, i + 3 + n));
    }
    // 微信转账, 支付宝转给我: a person's account, not the checkout's 微信支付.
    if let Some(c) = f.any(i, PAY_CHANNELS) {
        return f.any(i + c, CHANNEL_TRANSFERS).map(|n| (i, i + c + n));
    }
    // 转账到我(的支付宝), 打款给我, 转我支付宝 — but 平台什么时候打款给我 is a merchant asking about settlement.
    // A plain verb right after 钱/款 is about money too (钱直接转给我).
    let after_money = (i.saturating_sub(3)..i).any(|k| f.any(k, &["钱", "款"]).is_some());
    let money = f.any(i, MONEY_VERBS).or_else(|| f.any(i, PLAIN_VERBS).filter(|_| after_money));
    let verb = money.or_else(|| f.any(i, PLAIN_VERBS))?;
    if f.find(f.clause_start(i, WINDOW), i, &["平台", "结算"]).is_some() {
        return None;
    }
    let mut j = i + verb;
    j += f.any(j, &["到", "给", "进"]).unwrap_or(0);
    if money.is_some() && f.any(j, &["个人", "私人"]).is_some() {
        return Some((i, j + 2));
    }
    let me = f.any(j, &["我的", "本人", "我"])?;
    j += me;
    if let Some(n) = f.any(j, ACCOUNTS) {
        return Some((i, j + n));
    }
    (money.is_some() && f.any(j, NOT_ME).is_none()).then_some((i, j))
}

// ---------------------------------------------------------------------------------------------------------
// fee.*

const FEE_NOUNS: &[&str] =
    &["手续费", "服务费", "工本费", "费用", "税费", "交费", "付费", "缴费", "收费", "扣费", "押金", "保证金"];
const FEE_DENIALS: &[&str] = &["免", "无", "不", "没有", "零", "无需", "不用", "不需要"];
const PAY_VERBS: &[&str] = &[
    "缴纳", "交纳", "支付", "付款", "付钱", "转账", "转钱", "打款", "打钱", "交钱", "充值", "汇款", "交", "付", "缴",
    "转", "充", "打", "收取", "收",
];
const AMOUNT_WORDS: &[&str] = &["十", "百", "千", "万", "几", "两", "钱", "块", "元"];

/// Words that start with a pay verb's character but are not paying: 交易, 打开, 收到, 转发…
const NOT_PAYING: &[&str] = &[
    "交易",
    "交流",
    "交货",
    "交付",
    "交给",
    "转发",
    "转换",
    "转告",
    "转移",
    "转卖",
    "打开",
    "打折",
    "打电话",
    "打扰",
    "打包",
    "打不开",
    "收到",
    "收货",
    "收藏",
    "收下",
    "充电",
    "充分",
    "充足",
    "充满",
    "付出",
];

/// A pay verb at `k` (交, 付款, 缴纳…), with its length.
fn pay_verb(f: &Folded, k: usize, verbs: &[&str]) -> Option<usize> {
    // 提交, 递交, 移交, 成交: handing over or a deal, not paying.
    if f.any(k, NOT_PAYING).is_some() || (f.is(k, "交") && f.any_ending(k, &["提", "递", "移", "成"]).is_some()) {
        return None;
    }
    f.any(k, verbs)
}

/// A fee noun at `k` that is not denied (免手续费, 不收费, 不收手续费, 无需支付服务费), with its length.
fn fee_noun(f: &Folded, k: usize) -> Option<usize> {
    let n = f.any(k, FEE_NOUNS)?;
    let before_verb = k - f.any_ending(k, PAY_VERBS).unwrap_or(0);
    let denied = f.any_ending(k, FEE_DENIALS).is_some() || f.any_ending(before_verb, FEE_DENIALS).is_some();
    (!denied).then_some(n)
}

/// A payment demand at `k`: a pay verb (not 已交, not 交了) followed within a few units by an amount or a fee.
/// Returns its end.
fn payment_demand(f: &Folded, k: usize) -> Option<usize> {
    let v = pay_verb(f, k, PAY_VERBS)?;
    if f.any_ending(k, &["已", "已经", "不", "没", "无需", "不用"]).is_some() || f.is(k + v, "了") {
        return None;
    }
    let is_amount = |j: usize| f.unit(j).is_some_and(|u| u.digit.is_some()) || f.any(j, AMOUNT_WORDS).is_some();
    (k + v..k + v + 5).take_while(|&j| f.same_sentence(k, j)).find_map(|j| {
        if is_amount(j) {
            // The whole amount (299, 两千, 500块) and the fee it pays, if named (50手续费, 30元的服务费).
            let mut end = j + 1;
            while end < j + 12 && is_amount(end) {
                end += 1;
            }
            let of = usize::from(f.is(end, "的"));
            Some(fee_noun(f, end + of).map_or(end, |n| end + of + n))
        } else {
            fee_noun(f, j).map(|n| j + n)
        }
    })
}

/// A payment demand or a fee noun within [`WINDOW`] units of the trigger `a..b`, in its sentence; the span
/// covering both.
fn demand_near(f: &Folded, a: usize, b: usize) -> Option<(usize, usize)> {
    let after = (b..b + WINDOW)
        .take_while(|&k| f.same_sentence(a, k))
        .find_map(|k| payment_demand(f, k).or_else(|| fee_noun(f, k).map(|n| k + n)));
    if let Some(end) = after {
        return Some((a, end));
    }
    (a.saturating_sub(WINDOW)..a).filter(|&k| f.same_sentence(k, a)).find_map(|k| payment_demand(f, k).map(|_| (k, b)))
}

fn reissue_fee(f: &Folded, i: usize) -> Option<(usize, usize)> {
    let t = f.any(i, &["补单", "补卡", "补发", "重发", "补号", "补货"])?;
    let mut j = i + t;
    if f.is(j, "的") {
        j += 1;
    }
    if let Some(n) = f.any(j, &["手续费", "服务费", "费用", "工本费", "费", "金"]) {
        return Some((i, j + n));
    }
    if f.is(i, "补货") {
        return None;
    }
    demand_near(f, i, i + t)
}

fn unfreeze_fee(f: &Folded, i: usize) -> Option<(usize, usize)> {
    let t = f.any(i, &["解冻", "冻结"])?;
    if f.is(i, "解冻") {
        if let Some(n) = f.any(i + 2, &["手续费", "服务费", "费用", "费", "金", "保证金", "税"]) {
            return Some((i, i + 2 + n));
        }
    }
    demand_near(f, i, i + t)
}

fn activation_fee(f: &Folded, i: usize) -> Option<(usize, usize)> {
    if !f.is(i, "激活") {
        return None;
    }
    if let Some(n) = f.any(i + 2, &["手续费", "服务费", "费用", "费", "金"]) {
        return Some((i, i + 2 + n));
    }
    // 激活码, 激活卡, 激活成功… are the product, not a fee.
    if f.any(i + 2, &["码", "卡", "了", "成功", "失败", "方法", "步骤", "教程", "入口", "页面", "key"]).is_some()
    {
        return None;
    }
    demand_near(f, i, i + 2)
}

const MERCHANT_WORDS: &[&str] = &["商家", "店铺", "卖家", "商户", "店家", "本店", "我们店", "入驻", "开店", "平台"];

fn deposit_from_buyer(f: &Folded, i: usize) -> Option<(usize, usize)> {
    let t = f.any(i, &["保证金", "押金", "担保金", "诚意金"])?;
    // The merchant's own deposit (商家保证金, 本店已交保证金) is how the platform works.
    if f.any_ending(i, &["已", "已经"]).is_some() || f.rfind(f.clause_start(i, WINDOW), i, MERCHANT_WORDS).is_some()
    {
        return None;
    }
    let before = (i.saturating_sub(6)..i).filter(|&k| f.same_sentence(k, i)).find(|&k| {
        pay_verb(f, k, PAY_VERBS)
            .is_some_and(|v| f.any_ending(k, &["已", "已经", "不", "没", "无需", "不用"]).is_none() && k + v <= i)
    });
    if let Some(k) = before {
        return Some((k, i + t));
    }
    (i + t..i + t + 4)
        .take_while(|&k| f.same_sentence(i, k))
        .find_map(|k| pay_verb(f, k, PAY_VERBS).filter(|_| !f.is(k, "收")).map(|v| (i, k + v)))
}

const PAY_FIRST_VERBS: &[&str] = &[
    "付款", "付钱", "转账", "转钱", "交钱", "缴纳", "打款", "打钱", "充值", "汇款", "支付", "付", "转", "交", "缴",
    "充",
];
const REMEDIES: &[&str] =
    &["补", "退", "解冻", "提现", "返", "激活", "到账", "解封", "恢复", "放号", "发号", "出卡", "放卡"];
const THEN_FILLERS: &[&str] = &["能", "可以", "会", "给你", "给", "帮你", "为你", "马上", "立即", "立刻", "就", "再"];

/// After `j`: 再/才/然后 (+ a few fillers) + a remedy; `extra` remedies count too. Returns the remedy's end.
fn then_remedy(f: &Folded, from: usize, extra: &[&str]) -> Option<usize> {
    (from..from + 10).take_while(|&k| f.same_sentence(from, k)).find_map(|k| {
        let t = f.any(k, &["再", "才", "然后", "后", "就"])?;
        let mut j = k + t;
        for _ in 0..3 {
            match f.any(j, THEN_FILLERS) {
                Some(n) => j += n,
                None => break,
            }
        }
        f.any(j, REMEDIES).or_else(|| f.any(j, extra)).map(|n| j + n)
    })
}

fn pay_first(f: &Folded, i: usize) -> Option<(usize, usize)> {
    // 先付款再补 / 先转账才能退
    if f.is(i, "先") {
        let v = pay_verb(f, i + 1, PAY_FIRST_VERBS)?;
        if f.is(i + 1 + v, "了") {
            return None;
        }
        return then_remedy(f, i + 1 + v, &[]).map(|end| (i, end));
    }
    // 再付30才能补 / 再交50才能发货
    if f.is(i, "再") {
        let v = pay_verb(f, i + 1, PAY_FIRST_VERBS)?;
        return then_remedy(f, i + 1 + v, &["发", "给你"]).map(|end| (i, end));
    }
    // 交50才能补单
    let end = payment_demand(f, i)?;
    if f.is(end, "才") || (end..end + 4).any(|k| f.is(k, "才")) {
        return then_remedy(f, end, &[]).map(|e| (i, e));
    }
    None
}
