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
    /// What makes this rule's match ordinary talk just after it (its whole sentence for early release), beyond
    /// the common guards.
    unless: Option<Regex>,
    /// What makes this rule's match ordinary talk anywhere in its sentence (a merchant's own deposit, a Steam
    /// friend request for a gift).
    unless_sentence: Option<Regex>,
    /// What makes the match itself ordinary talk: a prohibition inside its own words (`先不要确认收货`,
    /// `差评我不会删`), which the clause's prohibition guard does not see because it reads only what comes before.
    unless_inside: Option<Regex>,
}

const APPS: &str = "微信|qq|telegram|whatsapp|line|钉钉|抖音|小红书|instagram|ins|b站|facebook|discord|skype|kakao|zalo|viber|signal|陌陌|momo";
const STOP: &str = "[^,。!?;\\n]";

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this module, checked by its tests; a bad one matches nothing.
    Regex::new(pattern).unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |id, kind, pattern: &str| Rule {
            id,
            kind,
            re: re(pattern),
            needs: None,
            unless: None,
            unless_sentence: None,
            unless_inside: None,
        };
        // 兑换 (redeeming) is how goods are used, not a remedy; 密保 and 再把…给你 are what a seller holds back.
        let condition = "退|补|(?:^|[^兑])换|重发|重新|解冻|解锁|解封|激活|验证|认证|审核|售后|风控|冻结|拿回|返还|申诉|找回|密保|核验|再把|提现|出款|实名|过审|到账|到帐|秒到|出金|否则|不然|清零|加急|快速通道|优先处理|插队|发货|放行|过户|名下|解除|证明是本人|证明(?:您|你)?是本人|没法用|不能用|用不了|转区|解绑|换绑|改绑|(?:才|就)能用|才(?:能|可以|会)?发|refund|unlock|verif|re-?issue|replace|resend|release|otherwise|cannot|can'?t|锁|恢复|放号|出号|发号|交号|放卡|出卡|(?:特殊|绿色|专属|内部)通道";
        let pay = r"交|付|缴|转|充|收|扣|垫|存入|金额|\d|块|元|rmb|\$|pay|钱|费用|[一二两三四五六七八九十百]{1,3}(?:块|元|蚊|刀|[,。!]|$)";
        vec![
            // --- contact
            r(
                rule::APP_ID,
                Kind::Id,
                &format!(
                    r"(?P<app>{APPS}|邮箱|email|电话|手机|call){STOP}{{0,12}}?(?P<id>@?[a-z0-9][a-z0-9_.-]{{3,30}})"
                ),
            ),
            r(rule::EMAIL, Kind::Id, r"(?:^|[^/a-z0-9._%+-])(?P<id>[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})"),
            r(
                rule::EMAIL,
                Kind::Id,
                r"(?P<id>[a-z0-9._-]{2,}\s*(?:\(at\)|\[at\]|(?-u:\b)at(?-u:\b)|艾特)\s*[a-z0-9-]+\s*(?:\(dot\)|\[dot\]|(?-u:\b)dot(?-u:\b)|点)\s*(?:com|net|cn|org|cc))",
            ),
            r(rule::HANDLE, Kind::Id, r"(?:^|[^a-z0-9.@])(?P<id>@[a-z0-9_][a-z0-9_.]{2,30})"),
            r(
                rule::EMAIL,
                Kind::Id,
                r"(?P<id>[a-z0-9][a-z0-9-]{1,30}\s*(?:点|\(dot\)|(?-u:\b)dot(?-u:\b))\s*(?:com|net|cn|org|cc|top|xyz|shop))",
            ),
            Rule {
                unless_sentence: Some(re(r"热线|官方")),
                ..r(
                rule::APP_ID,
                Kind::Id,
                // Also a number followed by the call to use it: 0912.345.678 打给我, 15922338800 有事打我.
                &format!(r"(?:电话|手机|座机|打给我|打我|打这个|call|whatsapp|联系|拨打?|致电)(?:[,:]\s*)?{STOP}{{0,12}}?(?P<id>\+?\d{{7,15}}|\d{{3,4}}(?:\.\d{{3,4}}){{2,3}})|(?P<id2>\+?\d{{7,15}}|\d{{3,4}}(?:\.\d{{3,4}}){{2,3}})\s*\p{{Han}}{{0,3}}(?:打给我|打我|打过来|call me|text me)"),
            )},
            r(rule::HANDLE, Kind::Id, r"(?:搜索?|search|加)\s*:?\s*(?P<id>[a-z][a-z0-9_]{4,30})"),
            r(rule::HANDLE, Kind::Id, r"(?:搜索?|search|加)\s*(?:id|号|账号)\s*:?\s*(?P<id>[a-z0-9_]{5,30})"),
            // An id given in English after the app (my ID is lucky_cards99, my wechat is …).
            r(
                rule::APP_ID,
                Kind::Id,
                &format!(r"(?-u:\b)(?P<mine>my)\s+(?:(?P<myapp>{APPS})\s*)?(?:id|handle|username|user name|account|number)?\s*(?:is|:)\s*:?\s*(?P<id>@?[a-z0-9][a-z0-9_.-]{{3,30}})"),
            ),
            // An id written to be put back together (威信 ka mi 0 0 9 去掉空格), or told to be the phone number.
            r(
                rule::APP_ID,
                Kind::Id,
                &format!(r"(?:{APPS})[^。!?\n]{{0,30}}?(?:去掉|去空格|空格去掉|连起来|合起来|拼起来|自己拼|拼一下)|(?:首字母|第一个字|第一个字母|藏头|倒过来|反过来|倒着)[^。!?\n]{{0,24}}?(?:号|{APPS}|联系)|(?:微信|qq)(?:号|号码|账号)?\s*(?:同|就是|=)\s*(?:手机|电话)"),
            ),
            r(rule::GROUP, Kind::Id, &format!(r"群(?:号|号码)?{STOP}{{0,4}}?(?P<id>\d{{5,12}})")),
            // An app named, then the id given as "mine is …" a clause later (…都是一个意思，我的是 abc_123).
            r(
                rule::APP_ID,
                Kind::Id,
                &format!(r"(?:{APPS})[^。!?\n]{{0,24}}?我的(?:是|:)\s*(?P<id>[a-z][a-z0-9_.-]{{3,30}})"),
            ),
            // A server invite spelled out (discord gg slash abc, discord点gg/abc).
            r(rule::GROUP, Kind::Id, r"(?P<id>discord\s*(?:\.|dot|点)?\s*gg\s*(?:/|slash|斜杠)\s*[a-z0-9]{3,30})"),
            // A chat link spelled out (t 点 me 斜杠 abc, wa dot me slash …), and a channel's number (频道号 pd12345).
            r(rule::GROUP, Kind::Id, r"(?P<id>(?-u:\b)(?:t|wa)\s*(?:点|dot|\(dot\))\s*me\s*(?:/|slash|斜杠)\s*[a-z0-9_+]{4,30})|频道(?:号|id)\s*:?\s*(?P<id2>[a-z]{0,4}\d{5,12})"),
            // Searching for the merchant on an app (B站搜我名字, 钉钉搜卡宝阿华), offering an app as the channel
            // (Zalo 也可以), poking them there (有事敲我QQ, 滴滴我企鹅, DM我).
            Rule {
                unless: Some(re(r"^\s*(?:支付|付款|pay|登录|充值|充)")),
                unless_sentence: Some(re(r"小程序|公众号|视频号|教程")),
                ..r(
                    rule::INVITE,
                    Kind::Phrase,
                    &format!(r"(?:{APPS})\s*(?:上|里)?\s*(?:搜|search)(?:索)?\s*[^\x22“「”\s]|(?:{APPS})\s*(?:也可以|也行|都行|都可以|亦可)|(?:敲|滴滴?|戳|钉)我[^,。!?]{{0,3}}(?:{APPS})|(?:{APPS})[^,。!?]{{0,3}}(?:敲|滴滴?|戳)我|dm\s*我|钉我"),
                )
            },
            Rule {
                unless: Some(re(r"^\s*(?:支付|付款|pay|读书|红包|会员|音乐|钱包|登录|绑定|实名)")),
                ..r(
                    rule::INVITE,
                    Kind::Phrase,
                    &format!(r"(?:加|jia\s*(?:wo)?\s*|➕|\+|添加|联系|找|上|去|来|走|换到?|搜|留|整)(?:我|一下|个|下|我的|你的|一下我的|我们|你)?(?:的)?\s*[\x22“「]?(?:企业)?(?:{APPS})|用(?:我|一下|个|下|我的|你的|一下我的|我们|你)(?:的)?\s*[\x22“「]?(?:企业)?(?:{APPS})"),
                )
            },
            // Where to find the id: on the profile picture, after the nickname, at "the usual place".
            r(
                rule::INVITE,
                Kind::Phrase,
                &format!(r"(?:{APPS})[^。!?\n]{{0,12}}?(?:在|看)(?:我的?)?(?:主页|头像|昵称|简介|签名|资料)|(?:{APPS})(?:号)?[^,。!?\n]{{0,6}}?(?:藏|写|放)?在(?:我的?)?(?:商品|店铺)?(?:图片|图|水印|公告|备注|详情)|看我的?(?:个人|店铺|商品)?(?:头像|主页|昵称|简介|签名|资料|图片|水印|公告|备注)[^。!?\n]{{0,16}}(?:联系|联络|号|方式|{APPS})|联系方式[^,。!?]{{0,6}}(?:写在|放在|藏在|在)[^,。!?]{{0,8}}(?:备注|图片|水印|公告|签名|昵称|简介|详情|卡密)|(?:那个|这个|那串|这串)[^,。!?]{{0,8}}就是(?:我的?)?(?:{APPS})|(?:昵称|头像|主页|签名|简介)(?:后面|最后面?|里|上)?的?(?:那串|那个号|那个数字|数字)|(?:置顶|直播间|评论区|主页|简介|签名)[^,。!?]{{0,6}}有我的?(?:联系方式|微信|qq|号)|(?:移步|去|到|关注)[^,。!?]{{0,8}}(?:公众号|视频号|qq频道)|(?:公众号|小程序|视频号|频道)[^。!?]{{0,12}}(?:下单|付款|客服|回复订单号)|老地方(?:联系|见|聊|找)|别在这(?:里|边)?(?:说|聊)|(?:这里|这边)说话不方便|(?:^|[^a-z])dd我|(?:{APPS})[^,。]{{0,3}}私我"),
            ),
            // Asking for the buyer's number or address: 把你手机号发我, 群号发我下, 留个邮箱.
            Rule {
                unless_sentence: Some(re(r"steam|好友代码|friend code|游戏(?:内|里)")),
                ..r(
                    rule::INVITE,
                    Kind::Phrase,
                    r"(?:手机号(?:码)?|电话号(?:码)?|联系方式|邮箱|email|e-mail|微信号|qq号|群号)[^,。!?]{0,3}?(?:发|给|留)(?:我|一下|个)|把你的?(?:微信|qq|telegram|whatsapp|line|discord|signal)(?:号)?[^,。!?]{0,3}?(?:发|给|留)(?:我|一下|下)|能(?:接|打)电话的(?:号码|号|方式)|(?:your|ur) (?:phone|mobile|handphone|hp) (?:no|num|number)|(?:留|发|给)(?:个|一下|我)?(?:你的)?(?:邮箱|email)|发(?:到)?你(?:的)?邮箱|(?:send|email)[^.!?]{0,20}(?:your|ur) (?:email|mail)|(?:your|ur) (?:email|phone number|number)",
                )
            },
            // Moving the chat in English: can we move to WeChat, talk on Telegram.
            r(
                rule::INVITE,
                Kind::Phrase,
                &format!(r"(?-u:\b)(?:move|switch|talk|chat|continue|go|reach|text|ping|find|add|follow|dm|message|contact|hit|send)[^.!?,]{{0,16}}?(?-u:\b)(?:on|to|over to|via|thru|through|at|in|using|by)\s+(?:{APPS})(?-u:\b)"),
            ),
            // Talking on an app (微信上聊); and (holdout8) other contact details asked for, adding "you", buying from you
            // directly, a fan page or profile on another app and a message left there, the rest of a number on the
            // profile, "over there", installing an app, a search inside an app's space or livestream, an id described
            // rather than written (1后面7个8再加个3). Not in the long rule below: there they made the regex engine's lazy
            // DFA outgrow its cache on long messages (holdout6 cost 30 % more instructions), while each rule of its own
            // costs every message one more pass.
            r(
                rule::INVITE,
                Kind::Phrase,
                &format!(r"(?:{APPS})\s*(?:上|里|で)?(?:聊|说|谈|私聊|详聊|联系|连络|找我|沟通|细聊|私信|话)|(?:(?:^|[^没])有|留|给|发|加)[^,。!?]{{0,4}}(?:别的|其他|其它|另外的?|私人)(?:的)?联系方式|(?:^|[^增参追叠附施更外倍累强])加(?:你|您)(?:好友)?[^,。!?]{{0,2}}(?:细聊|详聊|私聊|聊)|(?:想|要|我|可以|方便)加(?:你|您)(?:[^\d钱价块元的]|$)|直接(?:找|跟|和)(?:你|您|我)(?:买|拿|订|交易|下单)|(?:{APPS})[^,。!?]{{0,4}}(?:粉丝专页|粉丝页|粉专|专页|个人资料页?|个人主页)|(?:个人资料页?|资料页|主页|专页|空间)[^,。!?]{{0,4}}(?:留言|私信)|(?:后面|剩下|其余|后几位|后四位|后半段|前面|前几位)(?:的)?(?:几位|数字|号码)?(?:看|在|见)(?:我的?)?(?:昵称|头像|主页|简介|签名|资料|店名|名字)|有事(?:去|到|在)?那边(?:说|聊|找|联系)|(?:在|到|去)那边(?:给你看|细聊|详聊|私聊|聊|发你|给你发)|(?:下|装|安装|下载)(?:个|一个)\s*(?:{APPS})|(?:{APPS})\s*(?:空间|视频号|直播间|主页|频道)\s*(?:上|里)?\s*(?P<id>(?:搜|search)(?:索)?\s*[^\s,。!?])|(?:{APPS}|电话|手机|号码)[^,。!?]{{0,4}}?\d[^,。!?]{{0,6}}?(?:[\d两]\s*个\s*\d|(?:再加|加个|后面跟|后面是|接着是)\s*(?:个)?\s*\d)"),
            ),
            // Also an id told by reference (号就是店名拼音, 企鹅号=店铺ID, 店铺名就是我的vx, ID同铺名一样, same name as
            // the shop), and the buyer's own id asked for (your discord?, Tele handle pls, 你的扣…我晚上加你).
            r(
                rule::INVITE,
                Kind::Phrase,
                &format!(r"(?:换|整|用|在)(?:个|一个)?(?:别的|另外一?个|另一个)(?:软件|app|聊天工具)|(?:赖|line)我一下|加(?:我)?赖|我拉你(?:进|入|[,。!]|$)|(?:方式|号码|联系方式|二维码|群号|号|邀请链接|邀请码|进群链接)[^,。!?]{{0,8}}(?:在|见|看|放|写|挂)[^,。!?]{{0,10}}(?:头像|主图|图片|横幅|简介|主页|签名|昵称|首页|下一条)|看(?:下|一下)我的?(?:个人|店铺|商品)?(?:头像|主页|昵称|简介|签名|资料|图片)|(?:添加|加)[^,。!?]{{0,6}}(?:专员|经理|顾问)|向日葵|todesk|anydesk|teamviewer|远程(?:帮你|协助|控制|操作)|下载[^,。!?]{{0,12}}(?:app|软件)[^。!?]{{0,20}}(?:注册|搜|加|联系|客服)|关注[^,。!?]{{0,6}}公众号|(?:平台|系统)(?:就)?识别不(?:了|出)|(?:平台|系统)屏蔽(?:连着的|数字|号码|关键词|关键字)|分(?:两|几|三|四|五|开|2|3|4|5)(?:条|次|段)?发|一条一条(?:地|的)?发|一个一个(?:地|的)?发|拆开(?:了|发|写)|(?:怕|会|防|避免)被?(?:系统|平台)?屏蔽|拼起来(?:打|加|搜)|(?:百度|谷歌|google|必应)(?:一下|上)?\s*搜[^,。!?]{{0,16}}(?:工作室|客服|官网)|私聊|私信|私我|dm me|add me|reach me|contact me|message me|move this chat|text me|call me|私下沟通|私下联系|换个(?:地方|软件|app)|(?:主页|头像|昵称|简介|签名)(?:里|上)?\S{{0,6}}?(?:联系|号|码|微信|qq|telegram|line|whatsapp)|搜索?手机号|(?:微信|qq)同(?:手机)?号|手机同微|(?:{APPS})\s*(?:号码|号|账号|id)?\s*(?:就是|=|同|跟|和|与)\s*(?:我的?)?(?:店名|店铺|铺名|舖名|昵称|用户名|名字|订单号|手机|电话|店的?名)|(?:手机号|电话号码?|号码|号|id)\s*(?:就是|=|同)\s*(?:我的?)?(?:店名|店铺|铺名|舖名|昵称|订单号|店的?名)|(?:店名|店铺名?|铺名|昵称|用户名|名字)[^,。!?]{{0,4}}(?:就是|=)\s*(?:我的?)?(?:{APPS}|手机|电话)|same (?:name|id|username) as (?:the|my) (?:shop|store)|(?:your|ur)\s+(?:{APPS})\s*(?:\?|id|handle|username|account|number)|(?:{APPS})\s+(?:handle|id|username|account)\s*(?:pls|please|\?)|你的(?:{APPS}|电话|手机号?)[^。!?]{{0,12}}(?:我|我们)[^。!?]{{0,4}}加你|支付宝好友|加(?:我|个)的?支付宝"),
            ),
            Rule {
                unless_sentence: Some(re(r"steam|好友代码|friend code|游戏(?:内|里)")),
                ..r(
                    rule::INVITE,
                    Kind::Phrase,
                    &format!(r"(?:留|发|给)(?:个|一下|我)?(?:你的)?(?:联系方式|电话|手机号|{APPS})|把(?:你的?)?(?:号码|手机号码?|电话号码?)[^,。!?]{{0,3}}?(?:发|给)(?:我|过来)|联系方式给|推(?:个|一下)?名片|名片|加(?:个|一下|我|了)?好友"),
                )
            },
            r(
                rule::QR_OFFER,
                Kind::Phrase,
                &format!(r"扫描?[^,。!?]{{0,8}}二维码[^,。!?]{{0,6}}(?:添加|加)|(?:扫码|扫一下|扫了|长按识别){STOP}{{0,8}}?(?:加|好友|进群)|二维码{STOP}{{0,10}}?(?:加我|好友|进群|加一下|扫)|(?:加|进|入)(?:个|我们的?)?群|群(?:二维码|码)|长按(?:识别|扫码)|走[^,。!?]{{0,8}}群|(?:中介|交易|担保|福利|内部)群|好友{STOP}{{0,6}}?二维码|二维码[^,。]{{0,4}}?(?:发你|发给你|我发|发在|发到)"),
            ),
            // --- off-platform payment
            Rule {
                // A record of it, or a report that it failed or went through (汇款失败了, 转帐完成，平台显示已付款).
                unless: Some(re(r"^(?:记录|截图|凭证|失败|完成(?:了|[,。!]|$)|成功(?:了|[,。!]|$)|授权|登录)")),
                ..r(
                rule::TRANSFER,
                Kind::Claim,
                r"(?:^|[^a-z])z(?:付|转)|(?:用|拿)[^,。!?]{0,8}(?:卡|q币|点券|话费)[^,。!?]{0,4}(?:抵|代替|当)|(?:e卡|京东卡|话费卡|充值卡|礼品卡|购物卡|点卡|steam卡|gift ?card)[^,。!?]{0,12}抵|(?:付款|支付)方式[^。!?]{0,4}(?:京东)?(?:e卡|京东卡|沃尔玛卡|购物卡|超市卡|礼品卡|点卡|steam卡|gift ?card)|(?:打|转|汇)(?:到|进|给)?我的?(?:朋友|家人|老婆|老公|同事|亲戚|表哥|表姐)|(?:转|打|汇)[^,。!?]{0,12}尾号|扫(?:这个|我的|一下)?(?:微信|支付宝|zfb)(?:的)?(?:码|二维码|收款码)|收不了平台的钱|(?:你|您|先)用(?:微信|支付宝|zfb)(?:转|付)|(?:微信|支付宝|zfb)(?:转|付)(?:给我|我|给?(?:你|您)|过来|就行|都行|也行|吧|一下|一半|一部分)|(?:就当|当)抵(?:了|扣)?|买(?:张|个|一张|份)[^,。!?]{0,14}卡[^,。!?]{0,4}(?:给我|发我)|(?:钱|货款)直接(?:给|转|打)(?:我|给我)|(?:转|打|充|汇|缴纳?)(?:到|进|至)[^,。!?]{0,8}(?:账户|帐户)|(?:账户|帐户)信息(?:如下|见下)|(?:下方|以下|如下)(?:的)?(?:账户|帐户)|安全账户|(?:打|转|汇)到(?:这个|这张|我的?)(?:银行)?卡|transfer[^.!?]{0,20}(?:below|following|this|our|my) account|(?:card|code|voucher)[^.!?]{0,16}as (?:payment|pay)|直接(?:用)?(?:微信|支付宝|zfb)|充到我(?:的)?(?:号|账号|帐号|账户)|(?:就算|就当|当作?|当成|算作?)(?:是)?(?:你|您)?(?:已经?)?(?:付款|货款|付了款|付过款|支付|给钱|给了钱)|剩下的?[^,。]{0,4}(?:微信|支付宝|私下|转)|(?:付|转)完(?:了)?(?:截图|截个图)(?:给|发)我|(?:支付宝|微信|zfb)\s*扫[^,。]{0,6}码|转了?帐|转了?账|转钱|打款|汇款|转(?:给)?我|付(?:给)?我|给我转|打到我|转到(?:我|这个|我的)|扫我|微信零钱|好友转账|对公账户|云闪付|直接转|直接付|私下(?:付款|转账|交易|发)|pay me|paypal|venmo|usdt|比特币|btc|trc20|(?-u:\b)(?:ltc|trx|eth|usdc|bnb|xmr)(?-u:\b)|以太坊|莱特币|波场|泰达币|链上[^,。]{0,2}(?:转|付|打)|钱包地址|(?:转|打|付)(?:到|进)?(?:支付宝|微信|zfb)?(?:给|到)(?:我的?)?(?:朋友|家人|老婆|老公|同事|亲戚|表哥|表姐)|(?:send|transfer|wire|pay)[^.!?]{0,20}(?:to |into )?my (?:alipay|wechat|paypal|bank|account|wallet|card)|(?:用|拿)[^,。]{0,8}(?:gift ?card|礼品卡|充值卡)[^,。]{0,4}(?:付|支付|结|抵)|给我(?:充|转)|转[^,。!?;\n]{0,6}?到(?:我|这个|我的)|定金|订金|面交(?:[^不]|$)|现金(?:结算|交易|付|支付)|群收款|聚合(?:支付|收款)|(?:支付|收款)码|代付(?:也行|就行|也可以|都行|一下|给我)|(?:美团|饿了么|淘宝|拼多多|京东)[^,。]{0,4}代付|(?:拉|发|开)(?:个|一个)?(?:支付宝|微信|zfb)?\s*收款|(?:汇|打|转)(?:到|进|给)?(?:我的?[^,。]{0,3}|[^,。你回]{0,2})(?:邮局|邮政|银行|建行|工行|农行|中行|招行|交行)[^,。]{0,2}(?:卡|账户|帐户)|差价[^,。]{0,6}(?:微信|支付宝|私下|转|补给我)|(?:支付宝|微信|zfb)担保|超商(?:代码|缴费|付款码)|(?:缴费|付款)代码|(?:支付宝|zfb)(?:号|账号)?我?发你|(?:在|到|找)我(?:这|这里|这边)(?:充值?|付|交|买|转)|(?:微信|支付宝|zfb)\s*补给?我|银行卡[^。!?]{0,30}户名|户名[^。!?]{0,20}(?:转|汇|打款)",
            )},
            // (holdout8) A card or a code as the method (收京东卡付款, 兑换码也能付, 都收, 卡密发我…余额, 折抵), game
            // currency to the merchant's own account (往我小号充, 给我Q币), 咱…支付宝转. A rule of its own: in the rule
            // above they made long messages cost 40 % more instructions (its lazy DFA outgrew its cache).
            Rule {
                unless: Some(re(r"^(?:记录|截图|凭证|失败|完成(?:了|[,。!]|$)|成功(?:了|[,。!]|$)|授权|登录)")),
                ..r(
                    rule::TRANSFER,
                    Kind::Claim,
                    r"(?:接受|收|可以用|能用|用|拿)[^,。!?]{0,14}(?:充值卡|礼品卡|购物卡|点卡|e卡|京东卡|沃尔玛卡|超市卡|steam\s*(?:充值)?卡|itunes\s*卡|苹果卡|gift ?card|兑换码|会员码|卡密)(?:来)?(?:付款|支付|付|结|抵)|(?:充值卡|礼品卡|购物卡|点卡|e卡|京东卡|沃尔玛卡|超市卡|steam\s*(?:充值)?卡|itunes\s*卡|苹果卡|gift ?card|兑换码|会员码|卡密)(?:(?:来|也|都)(?:能|可以)?(?:付款|支付|付|结|抵)|(?:能|可以)(?:付款|支付|付|抵)|[^,。!?]{0,6}都收|[^,。]{0,3}(?:发我|给我)[^。!?]{0,12}(?:余额|面值))|(?:按|面值)[^,。!?]{0,6}折抵|折抵(?:货款|款)|(?:往|向|到|给)我(?:的)?(?:小号|大号|账号|帐号|号|游戏号)(?:上|里)?[^,。!?]{0,3}充|(?P<id>给我)\s*(?:qq|q)\s*币|(?:咱|咱们|咱俩|我俩|我们俩)[^,。!?]{0,3}(?:微信|支付宝|zfb)(?:转|付)",
                )
            },
            // An Alipay account given as a (masked) phone number: 支付宝 188****6620.
            r(rule::TRANSFER, Kind::Id, r"(?:支付宝|zfb)(?:账号|号|账户)?[^,。\d]{0,6}?(?P<id>1[3-9]\d{5,9})"),
            // Paying elsewhere by a named rail, also asked as a question (could you just send it by bank transfer?).
            r(
                rule::TRANSFER,
                Kind::Phrase,
                r"pay (?:me )?(?:with|in|by|via) (?:a |an )?(?:[a-z]+ ){0,2}(?:gift ?card|steam card|itunes card|apple card|usdt|crypto|bitcoin)|binance|gcash|paymaya|(?:or|via|by) maya(?-u:\b)|maya (?:or|is|wallet)|line ?pay|(?:via|by|through|with|use) wise(?-u:\b)|wise (?:or|transfer)|revolut|payoneer|skrill|neteller|touch ?'?n ?go|(?-u:\b)tng(?-u:\b)|duitnow|grabpay|paynow|promptpay|e-?wallet|bank transfer|wire transfer|wire (?:me|the money)|zelle|cash ?app|western union|e-?transfer|interac|转数快|계좌이체|계좌로|토스|카카오페이|kakao ?pay|(?-u:\b)fps(?-u:\b)|payme(?-u:\b)|八达通",
            ),
            Rule {
                unless: Some(re(r"^(?:卡|封面|序列|时)")),
                unless_sentence: Some(re(r"红包封面|封面序列号")),
                ..r(rule::RED_PACKET, Kind::Claim, &format!(r"(?:发|给|转|来){STOP}{{0,8}}?红包|红包{STOP}{{0,4}}?(?:发我|给我|也行|就行)|口令红包"))
            },
            r(
                rule::BANK_CARD,
                Kind::Id,
                r"(?:银行|工行|农行|建行|中行|招行|户名)[^。!?;\n]{0,16}?(?P<id>\d{12,19})|(?P<id2>\d{12,19})[^。!?;\n]{0,4}?户名",
            ),
            // A market's own membership redeemed on its own page (登录淘宝搜“88VIP”进入兑换页) is how a code is used.
            Rule {
                unless_sentence: Some(re(r"(?:进入|打开|到)[^,。!?]{0,6}兑换(?:页|入口|中心)|输入(?:激活码|兑换码|卡密)(?:即可|就行|兑换)")),
                ..r(
                rule::OTHER_MARKET,
                Kind::Claim,
                &format!(r"(?:闲鱼|咸鱼|某鱼|小黄鱼|海鲜市场|鱼上|淘宝|某宝|拼多多|拼夕夕|某多多|pdd|转转|抖音小店|抖店|微店|shopee|lazada|虾皮|carousell){STOP}{{0,10}}?(?:拍|下单|链接|店|搜|挂|付款|找我|有我|有个?号|担保交易|我{STOP}{{0,4}}同款|同款{STOP}{{0,4}}(?:拍|搜|下单|链接))|(?:拍|下单){STOP}{{0,6}}?(?:闲鱼|咸鱼|海鲜市场|淘宝|拼多多|转转)|搜\s*[\x22“「][^\x22”」]{{2,12}}[\x22”」][^,。]{{0,4}}(?:拍|下单|买)"),
            )},
            r(
                rule::BYPASS,
                Kind::Claim,
                &format!(r"不(?:想|愿意?)?走(?:平台|这边|这里)|不想在(?:平台|这里|这边)(?:付|买|下单|拍)|(?:去|到)我(?:的)?(?:另一个|另外一?个|别的|其他)店|(?:去|到)(?:别的|其他|另一个|另外的?)平台(?:上)?(?:搜|拍|下单|买|付)|(?:别的|其他|另一个|另外的?)平台[^。!?]{{0,10}}搜(?:店名|我|名字)|(?:有同款|同款)[^。!?]{{0,8}}(?:去|到)(?:那边|那里|那儿)|(?:我|我们)(?:自己)?(?:开|做)了?(?:个|一个)?[^,。!?]{{0,4}}(?:小程序|商城|网店|独立站)|(?:这单|订单)先不用付|(?:链接|网站|页面)不是平台的|走对公|do not pay (?:on|through|via|in) (?:the )?platform|don'?t pay (?:on|through|via|in) (?:the )?platform|别在(?:这|这里|平台){STOP}{{0,3}}?(?:下单|拍|付)|不用(?:拍|下单)|别拍了|下单太麻烦|走平台{STOP}{{0,2}}?(?:太贵|太麻烦|不划算|不值)|平台{STOP}{{0,4}}?(?:扣点|手续费){STOP}{{0,4}}?(?:高|多|贵)|拍下后?先?别付款|取消(?:订单|这单)[^。!?;\n退]{{0,12}}?(?:私下|微信|支付宝|zfb|直接转|转账|直接付)|比(?:在)?平台(?:上)?(?:付款|付|买|下单|拍)?(?:更|还)?(?:划算|便宜|省钱|实惠)|(?:省得|免得|不用)每次(?:都)?(?:下单|拍|在平台|走平台)|(?:我|我们|本店|咱们?)(?:自己|自家)?的?\s*(?:小程序|商城|网店|独立站|app)[^。!?]{{0,12}}(?:操作|下单|续费|付款|购买|买|充值|拍)|(?:你退了|申请退款|先退款)[^。!?;\n]{{0,10}}?(?:转|私下)|话费当货款|(?:用|以|拿)话费[^,。!?]{{0,6}}(?:付款|支付|抵)|话费[^,。!?]{{0,4}}(?:就算|就当|当作?|抵)|e卡抵扣|不用(?:每次|再)?在(?:这|这里|这边|平台)(?:里)?(?:买|下单|拍|付)|占(?:个)?单|拍个?\s*\d+\s*(?:元|块)(?:钱)?的?链接|更便宜的渠道|outside (?:the )?platform"),
            ),
            // Paying through a link of the merchant's own (我发你个链接重新拍, 开个发卡网链接那边付款).
            Rule {
                needs: Some(re(r"拍|付|买|下单|便宜|pay")),
                ..r(
                    rule::OTHER_MARKET,
                    Kind::Claim,
                    r"(?:我|给你)(?:发|开)(?:你|给你)?(?:个|一个)[^,。]{0,8}链接|发卡网|自助发卡|独立站",
                )
            },
            // --- fee scams
            Rule {
                needs: Some(re(&format!("(?:{pay})[^。!?;\\n]*(?:{condition})|(?:{condition})[^。!?;\\n]*(?:{pay})|解冻|解锁|解封|fee|流水"))),
                unless_sentence: Some(fee_reported()),
                ..r(
                    rule::FEE_CONDITION,
                    Kind::Claim,
                    r"手续费|\p{Han}{0,2}[\p{Han}&&[^话电水网燃运续]]费|担保金|(?:做|作为|当|当作)担保|(?-u:\b)tax(?-u:\b)|税|(?:买家|你|您)(?:来)?(?:承担|负担|自付)|先(?:开通|订阅|购买|升级)|(?:刷|做)[^,。]{0,6}流水|罚款|罚金|违约金|加钱|花钱|你出一半|你出\s*\d|平摊|分摊|再加\s*\d+|洗一下|洗卡|同面额|等额|同等金额|相同金额|同样金额|验资|(?:充值|做单|刷单)任务|(?:防找回|找回|交易|账号|帐号|安全|资金)保?险|保险(?:费|金)|(?:特殊|绿色|专属|内部|加急)通道|(?:完成|补)[^,。]{0,6}流水|流水不足|(?:中奖|奖品|福袋|抽奖|领奖)[^。!?]{0,16}(?:运费|邮费)|(?:开通|升级|充值)[^,。]{0,10}会员|充值升级|解冻金|认证金|验证金|保证金|押金|补发成本|(?:生成|补单|补卡|换卡|重发|重新)[^,。]{0,8}成本|差价|processing fee|verification fee|a fee|(?-u:\b)fee(?-u:\b)",
                )
            },
            // A payment asked as a deposit or guarantee is a fee whatever it is said to be for; and not paying
            // threatened with no refund or re-issue (没交的话平台不给你退, 不买这个险不让发号) makes one a condition; a
            // paperwork or escrow fee (公证费, 合同费, 托管费) is a pretext whatever it is said to be for; (holdout8) an
            // order-brushing task (拍单, 空包, 拍 3 单, 返利任务) with an advance or a commission later in its sentence
            // (先垫, 先付, 本金, 佣金). The sentence is read with `*`, not a bounded window: a `{0,40}` between two
            // alternations multiplies the regex's states.
            r(
                rule::FEE_CONDITION,
                Kind::Claim,
                r"先[^,。]{0,4}(?:打|转|付|交|充|买)[^,。]{0,10}(?:当|作为|做)(?:押金|保证金|担保|抵押)|(?:刷单|做单|做任务|接任务)[^。!?]{0,20}(?:佣金|(?:返|回)(?:现|利))|(?:刷单|做单|拍单|空包|(?:拍|刷|做)\s*[\d一二两三四五六七八九十几]+\s*(?:单|个单)|(?:返利|返佣|佣金|拍单|刷单|点赞|做单)任务|(?:做|接|完成)[^,。!?]{0,8}任务)[^。!?;\n]*(?:先垫|垫付|垫\s*\d|(?:自己|需要|要)?先(?:付|交|充|拍)|本金|佣金)|(?:公证|律师|律所|托管|监管|合同|签约)(?:服务)?费|垫付\s*\d+[^。!?]{0,12}(?:返|回)\s*\d+|先(?:交|缴)[^,。!?]{0,10}?(?:违约金|罚款|罚金|税)|(?:不|没)(?:交|付|缴|转|给|买|开|办)(?:钱|的话|这笔|这个|这份)?[^,。!?]{0,8}(?:不给|不能|没法|无法|不会|不让|不)[^,。!?]{0,6}(?:退|补|解冻|发|放)",
            ),
            Rule {
                needs: Some(re(condition)),
                unless_sentence: Some(fee_reported()),
                ..r(
                    rule::FEE_CONDITION,
                    Kind::Claim,
                    &format!(r"(?:先|需要?|要|得|必须|请|才)[^。!?;\n,]{{0,6}}?(?:交|付|转|充值?|垫付|缴纳?|打|给)(?:我|给我|过来)?\s*(?:到|至)?\s*(?:¥|\$)?(?:\d+|点钱|一笔|一单|个?\d)|交点钱|垫付|(?:得|要|需要?|再)补\s*(?:¥|\$)?\d+\s*(?:块|元|rmb|刀)|把这?\s*\d+\s*(?:块|元)?补给我|另付费?|额外(?:支付|付)|(?:^|[^已])(?:付|交|缴|预存)\s*\d+\s*(?:块|元)|(?:pay|deposit){STOP}{{0,30}}(?:refund|unlock|verif)|(?:send|transfer|wire)\s+(?:me\s+)?(?:an?\s+)?(?:\$|¥|rm|usd\s*)?\d+[^.!?]{{0,30}}(?:refund|unlock|verif|release|reactivat)|(?:refund|unlock|release|replace)[^.!?]{{0,40}}(?:send|pay|transfer|wire)\s+(?:me\s+)?(?:an?\s+)?(?:\$|¥|rm|usd\s*)\d+|(?:refund|unlock){STOP}{{0,40}}(?:pay|fee)"),
                )
            },
            // --- early release
            Rule {
                // A prohibition inside the request's own words: `先不要确认收货`, `差评我不会删`.
                unless_inside: Some(re(r"(?:不要|不用|不会|不想|别|勿)\S{0,2}?(?:确认|删|改|撤|关|取消|点)")),
                needs: Some(re(r"先|才|再|后|然后|之后|就|不然|否则|没法|提前|马上|立刻|立马|好结算|急着|补|退|换|发|给你|货款|压着|before|first|then|need to|才能|自动|send|refund|right away|replacement|key|otherwise|promise|can't|cannot|code|system|晚点|稍后|回头|明早|明天|今晚|一会|after|later|tonight|tomorrow|soon|i'll|i will|resend|now|will|minutes|mins|送你|返你|额外|下一单|尽快|超时|作废|赔(?:你|您)")),
                unless: Some(re(
                    r"(?:^|[^帮让给替])我(?:去|再|会|马上|就|先|这就|明天|等下|一会)?(?:去|来)?(?:给你)?(?:确认|点)|已(?:经)?确认|已经?到账|好使了|等[^。!?;\n]{0,20}再确认|(?:(?:^|[^就会])(?:能用了|可以用了)|用了再|可以用,|能正常|测试|成功(?:[^的]|的话|$)|once it works|works now|worked|收到了)|用了?[^,。]{0,6}再确认|没问题(?:了)?再|已(?:经)?(?:撤|取消|关)|我(?:已经?)?(?:把[^,。]{0,6})?(?:撤|取消|关)|(?:确认收货|收货|订单完成|交易完成|完成订单|订单完成)(?:后|之后)[^,。]{0,6}(?:记得|给个?好评|评价)|(?:兑换|使用|激活|测试)(?:成功)?(?:后|之后|完)[^,。]{0,6}确认|only (?:after|once)|(?-u:\b)confirmed(?-u:\b)|(?:code|key|card|it) works|after (?:it|the key|the code|you (?:receive|get|got|test|try|check|use|redeem))|结算给商家|给到商家|到商家账|确认收货前|i will confirm|once|自动确认|逾期|无误|检查|(?:你|您)[^,。]{0,4}核对|核对[^,。]{0,8}确认|流程:|(?:^|[^不])能用(?:你|您|再|后|的话|之后)|钱在平台|我[^,。]{0,3}不确认|补好|已经?补|充进去了|不撤也|(?:收到|到账)[^,。]{0,6}?(?:后|之后)再?确认",
                )),
                ..r(
                    rule::CONFIRM_EARLY,
                    Kind::Claim,
                    r"确认(?:一下|完)?收货|点(?:一下|个)?(?:确认)?收货|收货确认|先收货|签收|(?:完成|结束|确认)(?:了|掉)?(?:订单|交易)|(?:订单|交易)先?(?:完成|确认|结束|完结)(?:[^后之]|$)|结单|完结订单|不确认[^,。]{0,6}(?:没法|没办法|不能|无法)|(?:你|您)(?:先|就)确认|确认(?:了|后)?(?:马上|立刻|立马)|(?:确认|收货|好评|撤(?:回|销|掉)?)[^,。!?]{0,2}先(?:啦|喇|吧|呀|[,。!]|$)|把(?:订单|交易)\S{0,2}(?:完成|确认|结束)|点完成|放款|先点确认|撤(?:销|回|了|掉)?(?:投诉|申诉|纠纷)|(?:申诉|投诉)撤|(?:关闭|取消)(?:投诉|申诉|售后|纠纷|争议)|confirm(?:ed)? receipt|mark(?:ed)?[^.!?]{0,20}received|release (?:the )?(?:payment|funds)|(?:先|直接|点个?|点一下|赶紧|快|帮我|麻烦)[^,。!?]{0,3}?确认(?:一下下?|下)?(?:收货|订单|完成|了?吧|呗|哈|哦|啊|\s|[,。!?]|$)|确认(?:后|了|之后)?(?:才能|才可以|才会|我才|才|再)|确认(?:后|了|之后)我(?:就|马上|立刻)|(?:这单|订单|单子)先确认|确认(?:这一?单|本单|这个单)|把(?:这|那)?(?:一)?(?:单|订单)(?:子)?(?:给)?(?:结|确认|完成)(?:了|一下|掉)|(?:你|您)?(?:就)?先点(?:了|一下|掉)|把(?:那|这)?(?:个)?确认(?:给)?(?:整|点|弄|做)(?:了|一下)|(?:你|您)先(?:取消|关闭?)(?:掉|了|一下)|(?:pls|please|just) cancel (?:it|that|the request)|(?:撤|取消|关)了(?:之后|后)?(?:我|我这边|我们)?[^,。!?]{0,4}(?:才能|才可以|才会|就能|就给)|(?:没有?|不给)好评[^,。!?]{0,10}(?:不给?|没法|不能)(?:补|发|退|换)|confirm (?:the |your |this )?order|把(?:确认)?收货(?:给我)?点(?:了|一下|掉)|(?:点|选)[^,。]{0,3}[\x22“「]?(?:已收到货?|已收货|收到货|问题已解决|已解决|完成)|(?:hit|click|press|tap) (?:on )?(?:the )?[\x22'“]?(?:confirm|received|complete|done)|confirm (?:the )?(?:delivery|received)|release (?:the )?escrow|(?:leave|give)[^.!?]{0,10}(?:(?:good|positive) (?:review|rating)|(?:5|five)[- ]?stars?(?: review| rating)?)[^.!?]{0,6}(?:first|then|and (?:i|we)|before)|(?:don'?t|do not|no need to|never)\s+(?:open|file|start|raise)\s+(?:a |the )?(?:dispute|claim|complaint|case|ticket|chargeback)|(?:别|不要|不用)(?:开|申请|提|走)(?:仲裁|申诉|投诉|售后|纠纷|退款)|(?:remove|delete|change|edit|update)[^.!?]{0,12}(?:review|rating)|(?:review|rating|stars?) first|confirm (?:the order|it|now|first)|mark (?:the |this |your |it )?(?:order )?as (?:complete|completed|received|done|delivered|finished|fulfilled)|accept (?:the )?(?:order )?(?:completion|delivery)|(?:仲裁|申诉|投诉|售后|纠纷|退款)[^,。]{0,2}(?:别|不要|不用)(?:开|申请|提|走)|(?:close|cancel|withdraw|drop)[^.!?]{0,12}(?:dispute|claim|complaint|refund request|case|chargeback|ticket|report)|(?:撤|关|取消|撤销|撤回|删)[^,。!?]{0,4}?(?:退款|申请|申诉|投诉|纠纷|争议|仲裁|售后|工单|介入)|(?:退款|申请|申诉|投诉|纠纷|争议|仲裁|售后|工单)(?:申请|单)?[\x22”」]?[^,。!?]{0,3}?(?:撤|关|取消|删)|(?:退款|申诉|投诉|纠纷|争议|售后)那个?[^,。!?]{0,6}?(?:点|按)[^,。!?]{0,2}(?:撤|关|取消)|(?:先|你)撤(?:一下|了|掉|回|销)?|先[^,。]{0,4}?(?:好评|五星|5星|评价)|好评(?:打完|写完|给了)?(?:后|之后|了?我?才|了?我?再|了?就|我就)|改(?:成|为)?(?:好评|五星|5星)|(?:评价|评分)[^,。]{0,2}改|差评[^,。!?]{0,12}?(?:改|删|撤)|(?:赔|补偿)(?:你|您)[^,。!?]{0,8}(?:删|撤|改)|(?:评价|评论|好评)(?:内容)?(?:写成|就写|改成|写上)|把(?:钱|款|货款)(?:先)?放(?:给我|出来|了)|撤诉|撤(?:销|回|了|掉)?(?:投诉|申诉|纠纷|诉讼)|不撤(?:的话|就|我)?[^,。!?]{0,12}(?:没法|不能|无法|冻结)|(?:你|您)(?:点|点了)?确认(?:了|后|之后|完)[^,。!?]{0,8}(?:就|才|马上|立刻|自动)(?:会|能|可以)?[^,。!?]{0,4}(?:出|发|放|补|到|解锁|激活|生效)|(?:没|不)确认[^,。]{0,10}(?:不放|不发|不出|放不了|发不了|出不了)|(?:标记|勾选?|打勾|设为|改成)[^,。]{0,6}[\x22“「]?(?:已收到货?|已收货|收到货|问题已解决|已解决|完成)",
                )
            },
            // A good review asked for with the re-issue promised after it (给个好评吧，补的卡明早发).
            Rule {
                needs: Some(re(r"补|重发|新的|换|退|备用|新码|再发|再给|送你|\d+元券|resend|replacement|code|new (?:one|key)")),
                unless: Some(re(r"满意|下次|有问题|用得|用着|随时|欢迎|if you (?:like|liked|enjoy)|satisfied")),
                ..r(rule::CONFIRM_EARLY, Kind::Claim, r"给(?:个|我)?(?:五星|5星)?好评(?:吧|呗|啊|先)|好评返|写(?:个|了)?好评|好评[^,。]{0,4}(?:截图|晒图|晒个图)|(?:leave|give) (?:me |us )?(?:a )?(?:good|positive|5[- ]?star|five[- ]?star) (?:review|rating)")
            },
        ]
    })
}

/// A contact app's name or a placeholder (`@username`), and nothing else: not an id.
fn not_an_id() -> &'static Regex {
    static NOT_ID: OnceLock<Regex> = OnceLock::new();
    NOT_ID
        .get_or_init(|| re(&format!("^@?(?:{APPS}|user_?name|user|handle|your_?(?:name|id|handle|username)|name|id)$")))
}

/// Words that make a sentence a warning, a report or a denial, or say the payment stays on the platform.
fn guard() -> &'static Regex {
    static GUARD: OnceLock<Regex> = OnceLock::new();
    GUARD.get_or_init(|| {
        re(r"小心|当心|警惕|提防|谨防|拒绝|不理|没理|没加|举报|投诉了|我要投诉|骗子|诈骗|骗局|防骗|冒充|假冒|不法分子|诱导|没人管|后果自负|不受(?:平台)?保(?:障|护)|不会(?:要求|让|向|收)|陌生人|没同意|没答应|从不|从来不|不收|免费|无需|(?:^|[^先])不用(?:付|交|给|花)(?:[^平]|$)|不需要(?:付|交|给|任何)|有人(?:说|让|要|叫|冒充|假冒|自称|私|加|找|联系|以|问|发|卖)|有个(?:人|叫|自称)|(?:让|叫)我(?:加|转|付|交|扫|报|去)|我没去|我(?:真的|是)?(?:不会|不方便|不想|不太想|不愿意?|不打算)(?:再)?(?:删|改|撤|发|给|留|透露|告诉|加|私下|转|付)|正常(?:在|走|用|通过)?平台|退回(?:到)?[^,。]{0,4}零钱|差点(?:就)?(?:转|付|交|加|信|上当|被骗)|谢谢提醒|提醒(?:你们|大家|一下)|被拉(?:进|入)|一模一样|仿冒|山寨|盗用|(?:平台)?管不管|是不是只有|我看(?:了)?(?:平台)?的?(?:规则|说明|公告)|规则(?:里|上)(?:写|没写|说|没说)|(?:在|通过|走)平台(?:给(?:您|你)|退给)|部分退款|我(?:就|还是)在平台[^,。!?]{0,8}(?:付|买|下单)|所谓|(?:短信|来电|邮件)(?:里|上)?说|不另收|不另外收|不额外收|是正常的吗|别人(?:说|让|要|叫|冒充)|任何人|让人|叫人|为什么要我|为啥要我|凭什么|合理吗|是平台(?:收|扣|抽)|平台(?:收|扣|抽)的|问(?:能不能|可不可以|是否|能否)|never|refuse|report|(?:seller|merchant|he|she|they|someone|somebody|guy) (?:asks?|asked|told|tells|wants?|message) me|is (?:this|that|it) (?:allowed|ok|okay|safe)|(?:^|[^@_0-9A-Za-z\s])\s*scam(?:s|mers?|med)?(?-u:\b)|平台承担|谁出|free of charge|for free|no (?:extra )?(?:fee|charge|cost)|at no cost|never charge|won'?t charge|只能(?:用|在|走|通过)?平台|都在平台|是在平台|平台收银台|无法保障|不保障|没有保障|被骗|正常吗|是真的吗|真的假的|可信吗|靠谱吗|是不是骗|是骗子吗|是什么意思|这是什么意思|what does (?:this|that|it) mean|骗人|(?:跟|和|与)[^,。!?]{0,8}(?:无关|没(?:有)?关系|不相关)|(?:^|[^境])不安全|(?:退款|退回|返回)[^,。]{0,8}(?:您|你)的|不是不让|(?:不让|不允许|不能)加吗|合法吗|is (?:this|that|it) (?:legit|normal|a scam)|(?:他|她|对方|那人|那个人|之前的?卖家|卖家|商家|客服|店家|别的店|另一家)(?:说|让我|要我|叫我|跟我说)")
    })
}

/// Words that, earlier in the same clause, put what follows under a prohibition or a denial: `不能私下交易`,
/// `本店不加微信`, `不会以任何理由要求您支付解冻费`. Clause-scoped, so `别在这说，加我V` still fires.
fn negation() -> &'static Regex {
    static NEGATION: OnceLock<Regex> = OnceLock::new();
    NEGATION.get_or_init(|| {
        re(r"不能|不可以|不可|不会|不要|不用|不必|没必要|千万|不加|不添加|没加|不私|切勿|请勿|勿|严禁|禁止|谨防|提防|警惕|从不|从来不|绝不|不得|无需|不需要|不是|never|don'?t|do not|won'?t|will not|别")
    })
}

/// What may follow a prohibition and turn it into a lure: the platform itself is what is refused
/// (`不要在平台拍`, `别在这说`, `别找客服`).
fn refuses_platform() -> &'static Regex {
    static REFUSES: OnceLock<Regex> = OnceLock::new();
    REFUSES.get_or_init(|| {
        re(r"^(?:在|走|用|通过|找|申请|等|开|提)?(?:平台|这里|这边|这儿|这|客服|官方|站内|售后|补单|拍|下单|仲裁|申诉|投诉|纠纷|退款)|^\s*(?:open|file|start|raise)\s+(?:a |the )?(?:dispute|claim|complaint|case|ticket|chargeback)")
    })
}

/// How far back (in bytes: about twenty ideographs) a prohibition reaches within its clause.
const NEGATION_REACH: usize = 60;

/// Whether a prohibition or denial earlier in the clause of byte `a` covers the match.
fn negated_clause(text: &str, a: usize) -> bool {
    let reach = boundary(text, a.saturating_sub(NEGATION_REACH));
    let head = text.get(reach..a).unwrap_or("");
    // After the separator's last byte: `。` is three bytes, and a cut inside it read no clause at all.
    let from = head
        .char_indices()
        .rev()
        .find(|(_, c)| matches!(c, ',' | '。' | '!' | '?' | ';' | '\n' | ':'))
        .map_or(reach, |(i, c)| reach + i + c.len_utf8());
    // The match's first character too: `不加微信` negates the 加 that starts the match.
    let first = text.get(a..).and_then(|t| t.chars().next()).map_or(0, char::len_utf8);
    let Some(prefix) = text.get(from..a + first) else { return false };
    negation().find_iter(prefix).any(|m| {
        // Unpunctuated speech (`先别付款 我发你个码`): a space between two ideographs after the prohibition's
        // object ends its clause.
        if prefix.get(m.end()..).is_some_and(spoken_break) {
            return false;
        }
        let after = text.get(from + m.end()..).unwrap_or("");
        if refuses_platform().is_match(after) {
            return false;
        }
        // 能不能, 要不要, 会不会, 可不可以: an A-not-A question, not a prohibition.
        let before = prefix.get(..m.start()).and_then(|p| p.chars().next_back());
        if m.as_str().starts_with('不') && before.is_some() && before == m.as_str().chars().nth(1) {
            return false;
        }
        if m.as_str() == "别" {
            // 别人, 别的, 特别, 区别… are not a prohibition.
            let next = after.chars().next();
            let word = matches!(next, Some('人' | '的' | '处' | '家'))
                || matches!(
                    before,
                    Some(
                        '特' | '区'
                            | '分'
                            | '类'
                            | '级'
                            | '识'
                            | '个'
                            | '告'
                            | '性'
                            | '差'
                            | '派'
                            | '辨'
                            | '鉴'
                            | '判'
                    )
                );
            return !word;
        }
        true
    })
}

/// Whether `s` has a space between two ideographs after its first character: where an unpunctuated
/// transcript puts its commas.
fn spoken_break(s: &str) -> bool {
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    let mut seen = false;
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            if seen && prev.is_some_and(is_han) && chars.peek().copied().is_some_and(is_han) {
                return true;
            }
        } else {
            seen = true;
        }
        prev = Some(c);
    }
    false
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// A warning later in the sentence against doing it (`…确认收货，没收到货之前不要点确认`, `…私下转账，千万别信`):
/// an imperative prohibition of an action, not any 不要 (`先确认收货，不要担心` is still a lure).
fn warned_after(text: &str, b: usize, sentence: &str) -> bool {
    static AFTER: OnceLock<Regex> = OnceLock::new();
    let after = AFTER.get_or_init(|| {
        re(r"(?:不要|千万别|别|切勿|请勿|勿|严禁|禁止|谨防|小心)(?:随便|轻易|提前|再|去)?(?:点|确认|加|转|付|扫|相信|信|私下|交|打款|理|上当)|要(?:警惕|小心|当心|提防)")
    });
    // The part of the sentence after the match: the sentence is a slice of `text`, so its end is known.
    let end = (sentence.as_ptr() as usize).saturating_sub(text.as_ptr() as usize) + sentence.len();
    text.get(b.min(end)..end).is_some_and(|tail| after.is_match(tail))
}

/// A fee the speaker reports having paid, or the merchant's own deposit to the platform: not a demand.
fn fee_reported() -> Regex {
    re(
        r"开店|入驻|我(?:已经?)?(?:交|付|缴|充)了|(?:我们|本店|店铺?|商家)[^,。!?]{0,6}(?:交|付|缴|充)了|已经?(?:交|付|缴|充)",
    )
}

/// Goods names and key formats: a hit inside one is not contact.
fn goods() -> &'static Regex {
    static GOODS: OnceLock<Regex> = OnceLock::new();
    GOODS.get_or_init(|| {
        re(r"qq\s*(?:超级)?(?:会员|音乐|绿钻|币|空间|钱包|飞车|堂|号被|秀)|(?:绑定|原绑定?|密保|换绑)的?手机(?:号码?)?\s*(?:是|为|:)?\s*[\d*]+|(?:qq|微信)\s*号?\s*我?(?:已经?)?(?:在|填在|写在)(?:订单)?备注|qq\s*靓号[^,。!?】\]]{0,20}|(?:充|代充|直充|开|开通)(?:值|到)?的?\s*(?:qq|微信)\s*(?:号码|号)?\s*(?:是|为|:|填|写)?\s*\d{5,12}|充值?的?手机号(?:码)?\s*(?:是|为|:)?\s*\d+|(?:话费|充值|代充|直充)[^。!?联系找加打]{0,12}(?:手机号|号码|电话号?)(?:码)?\s*(?:是|为|:)?\s*\d+|(?:号码?|手机号码?|(?:qq|微信)\s*号(?:码)?)\s*(?:是|为|:)?\s*\d{5,12}[^。!?]{0,12}?(?:麻烦(?:代充|充)|帮我充|给我充|充\s*\d|的(?:超级)?会员|是你要充|要充的)|填(?:写)?\s*(?:这个)?\s*(?:号码?|手机号码?)?\s*:?\s*\d{5,12}|以[^,。!?]{0,8}?\d{5,12}\s*为准|(?:充值|代充|直充)的?(?:账号|帐号|号码)\s*:?\s*(?:qq|微信)?\s*(?:号码|号)?\s*:?\s*\d{5,12}|微信\s*(?:读书|支付|红包封面|红包序列号|pay)|付费会员|支付宝\s*红包卡|红包卡|红包封面|telegram\s*(?:premium|stars?)|premium|企鹅电竞|(?-u:\b)[a-z0-9]{4,6}(?:-[a-z0-9]{4,6}){2,}(?-u:\b)")
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

/// A question that asks the addressee to act: `能先…吗`, `可以帮我…吗`, `can you…?`, `could you please…?`.
fn request() -> &'static Regex {
    static REQUEST: OnceLock<Regex> = OnceLock::new();
    REQUEST.get_or_init(|| {
        re(r"(?:^|[,。!?;\s])\s*(?:亲|老板|兄弟|哥|姐)?\s*(?:你|您)?(?:能不能|能否|可不可以|可以|能|麻烦)(?:你|您)?(?:先|帮我|马上|赶紧|快点)|(?-u:\b)(?:can|could|would|will) (?:you|u) (?:please |pls |just |first )?(?:close|cancel|withdraw|drop|confirm|mark|remove|delete|change|release|pay|send|transfer|add|tap|click|hit)")
    })
}

/// Where the sentence of byte `at` starts (at most [`WINDOW`] bytes back).
fn clause_start(text: &str, at: usize) -> usize {
    let from = boundary(text, at.saturating_sub(WINDOW));
    let head = text.get(from..at).unwrap_or("");
    from + head.rfind(['。', '!', '?', ';', '\n']).map_or(0, |i| i + 1)
}

/// The sentence after `sentence` when it ends in `?`: a request put as a question is often followed by its
/// promise (`Can you close the dispute? I'll send a new key`).
fn next_after_question<'t>(text: &'t str, ctx: &Context, sentence: &str) -> &'t str {
    let end = (sentence.as_ptr() as usize).saturating_sub(text.as_ptr() as usize) + sentence.len();
    if text.get(end..).is_some_and(|t| t.starts_with('?')) {
        ctx.sentence(text, end + 1, end + 1)
    } else {
        ""
    }
}

/// Whether the clause (split at `,` and sentence ends) starting at byte `at` is a question.
fn clause_is_question(text: &str, at: usize) -> bool {
    let tail = text.get(at..).unwrap_or("");
    let tail = tail.get(..boundary(tail, WINDOW.min(tail.len()))).unwrap_or(tail);
    let end = tail.find([',', '。', '!', '?', ';', '\n']);
    // An unpunctuated question (`确认收货后还能申请售后吗 我怕…`): 吗 before a space ends it.
    let end = match (tail.find("吗 "), end) {
        (Some(q), Some(e)) if q < e => Some(q + '吗'.len_utf8()),
        (Some(q), None) => Some(q + '吗'.len_utf8()),
        (_, e) => e,
    };
    let body = end.and_then(|e| tail.get(..e)).unwrap_or(tail).trim_end();
    // 好吗, 行吗, 可以吗 after a request ask for agreement: 你先确认收货好吗 is a request, not a question.
    if ["好吗", "行吗", "可以吗", "好不好", "行不行", "成吗", "ok吗", "好么", " ok", " okay", " alright"]
        .iter()
        .any(|t| body.ends_with(t))
    {
        return false;
    }
    // 能先把申诉关掉吗, can you close the dispute?: asking the addressee to do it is a request, not a question.
    let clause = text.get(clause_start(text, at)..at + body.len()).unwrap_or("");
    if request().is_match(clause) {
        return false;
    }
    // 嘛 ends a demand (先确认收货嘛), not a question.
    end.is_some_and(|e| tail.get(e..).is_some_and(|t| t.starts_with('?'))) || body.ends_with(['吗', '么'])
}

/// The part of `sentence` from its last concession (但, 不过, but, however) before byte `a` of `text`: a guard
/// word before it is taken back (`本店免费补单，但补单需先支付5元服务费`).
fn after_concession<'t>(text: &'t str, sentence: &'t str, a: usize) -> &'t str {
    static BUT: OnceLock<Regex> = OnceLock::new();
    // 让我转告你: a report by role passed on as the speaker's own request.
    let but = BUT.get_or_init(|| re(r"但是?|不过|可是|(?-u:\b)(?:but|however)(?-u:\b)|让我(?:转告|告诉)|转告|转达"));
    let start = (sentence.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    let cut = a.saturating_sub(start).min(sentence.len());
    let before = sentence.get(..boundary(sentence, cut)).unwrap_or(sentence);
    match but.find_iter(before).last() {
        Some(m) => sentence.get(m.end()..).unwrap_or(sentence),
        None => sentence,
    }
}

/// Whether byte `a` of `text` is inside a `如果` clause of `sentence` (`如果有人让你加微信…`): a supposition is
/// not a request. The clause after it is not covered (`如果平台回复慢，可以打我座机…` is an offer).
fn conditional_clause(text: &str, sentence: &str, a: usize) -> bool {
    let start = (sentence.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    let before = sentence.get(..boundary(sentence, a.saturating_sub(start).min(sentence.len()))).unwrap_or("");
    before.rfind("如果").is_some_and(|i| !before.get(i..).unwrap_or("").contains([',', ';', ':']))
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
    let sentence = ctx.sentence(text, a, b);
    guard().is_match(after_concession(text, sentence, a))
        || conditional_clause(text, sentence, a)
        || negated_clause(text, a)
        || warned_after(text, b, sentence)
        || (question && clause_is_question(text, a))
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
    // A dotted id (yuki.tanaka.88) only after a marker (`是`, `:`), and never a domain.
    let marked = gap.contains([':', '号', '是', '@']) || gap.contains("id") || gap.contains("名");
    if id.contains('.') && !id.starts_with('@') && !(marked && dotted_id(id)) {
        return false;
    }
    if id.chars().all(|c| c.is_ascii_digit()) {
        return (5..=12).contains(&id.len());
    }
    if id.chars().filter(|c| c.is_ascii_alphanumeric()).count() < 5 {
        return false;
    }
    id.starts_with('@') || id.contains('_') || id.chars().any(|c| c.is_ascii_digit()) || marked
}

/// A dotted handle with a digit or `_` (`yuki.tanaka.88`), not a host (`abc.com`, `kabao.cn`).
fn dotted_id(id: &str) -> bool {
    const TLDS: &[&str] = &["com", "cn", "net", "org", "me", "gg", "io", "co", "cc", "top", "xyz", "shop", "hk", "tw"];
    let last = id.rsplit('.').next().unwrap_or(id);
    !TLDS.contains(&last) && id.chars().any(|c| c.is_ascii_digit() || c == '_')
}

/// Runs every shape rule on the normalised message.
pub(super) fn scan(n: &Normalized, ctx: &Context, hits: &mut Vec<Hit>) {
    let text = n.text.as_str();
    for rule in rules() {
        // Most rules name no group: a plain search costs less than one that records groups, on every message.
        if rule.re.captures_len() == 1 {
            for whole in rule.re.find_iter(text) {
                judge(n, ctx, rule, whole, None, hits);
            }
        } else {
            for caps in rule.re.captures_iter(text) {
                if let Some(whole) = caps.get(0) {
                    judge(n, ctx, rule, whole, Some(&caps), hits);
                }
            }
        }
    }
}

/// One match of a rule, judged by its checks and the guards; pushed as a hit if it stands.
fn judge(
    n: &Normalized,
    ctx: &Context,
    rule: &Rule,
    whole: regex::Match<'_>,
    caps: Option<&regex::Captures<'_>>,
    hits: &mut Vec<Hit>,
) {
    let text = n.text.as_str();
    let name = |group: &str| caps.and_then(|c| c.name(group));
    let (a, b) = match name("id").or_else(|| name("id2")) {
        Some(id) => (id.start(), id.end()),
        None => (whole.start(), whole.end()),
    };
    if let (Some(app), Some(id)) = (name("app"), name("id")) {
        let gap = text.get(app.end()..id.start()).unwrap_or("");
        let digits_only = id.as_str().chars().all(|c| c.is_ascii_digit());
        let phone_app = matches!(app.as_str(), "电话" | "手机" | "call");
        if !plausible_id(id.as_str(), gap) || (phone_app && !digits_only) {
            return;
        }
    }
    // `my account is Malaysia`: without an app named, an English word is not an id.
    if name("mine").is_some() && name("myapp").is_none() && !concrete(n, a, b) {
        return;
    }
    // `加 WhatsApp` names the app and `your @username` is a placeholder; the handle rules want an id.
    if rule.id == rule::HANDLE && not_an_id().is_match(text.get(a..b).unwrap_or("")) {
        return;
    }
    if let Some(unless) = &rule.unless {
        let check = if rule.id == rule::CONFIRM_EARLY {
            ctx.sentence(text, a, b)
        } else {
            let rest = text.get(whole.end()..).unwrap_or("");
            rest.get(..boundary(rest, 16.min(rest.len()))).unwrap_or(rest)
        };
        if unless.is_match(check) {
            return;
        }
    }
    if rule.unless_inside.as_ref().is_some_and(|u| u.is_match(whole.as_str())) {
        return;
    }
    if rule.unless_sentence.as_ref().is_some_and(|u| u.is_match(ctx.sentence(text, a, b))) {
        return;
    }
    if let Some(needs) = &rule.needs {
        let sentence = ctx.sentence(text, a, b);
        if !needs.is_match(sentence) && !needs.is_match(next_after_question(text, ctx, sentence)) {
            return;
        }
    }
    let phrase = rule.kind != Kind::Id && !concrete(n, a, b);
    if guarded(n, ctx, a, b, phrase, rule.kind == Kind::Claim) {
        return;
    }
    let Some(span) = n.original_span(a, b) else { return };
    // An id after one of the first rules' apps is reported as that app's rule.
    let id = match name("app").map(|m| m.as_str()) {
        Some("微信") => rule::WECHAT,
        Some("qq") => rule::QQ,
        Some("telegram") => rule::TELEGRAM,
        Some("电话" | "手机" | "call") => rule::PHONE,
        _ => rule.id,
    };
    let category = rule::category(id).unwrap_or(RiskCategory::OffPlatformContact);
    hits.push(Hit { rule: id, category, span });
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

    /// Each family in wordings of its own (not copied from any corpus): the shape, not the phrase, is matched.
    #[test]
    fn families_generalise_beyond_the_phrases_seen() {
        let fires = |t: &str| !rules_hit(t).is_empty();
        // Early release as the condition of a re-issue, in Chinese and English.
        for t in [
            "你把投诉撤了，我马上给你换新的",
            "仲裁先撤掉吧，撤了今天就补",
            "先点一下已收货，我这边才能重新发",
            "差评删了我就退你钱",
            "Please mark it as received and I'll resend the code",
            "withdraw the complaint and I will refund you today",
            "just click confirm first, new key coming",
        ] {
            assert!(fires(t), "{t}");
        }
        // Off-platform payment in kind or by another rail.
        for t in [
            "用话费充值卡抵货款就行",
            "拿Q币抵也可以，直接充到我号上",
            "Can you pay me with a steam card instead?",
            "支付宝 139****2288 转过来就行",
            "拼夕夕搜我店名，那边拍便宜",
        ] {
            assert!(fires(t), "{t}");
        }
        // A payment as the condition of getting money or goods back.
        for t in ["提现前要先交 30 元通道费", "违规了，罚款 80 元缴清才能解封", "先转 50 当保证金，核验完一起退"]
        {
            assert!(fires(t), "{t}");
        }
    }

    /// holdout4's families (2026-12-07), each in wordings of this test's own, not the corpus's.
    #[test]
    fn cantonese_is_read_like_mandarin() {
        let fires = |t: &str| !rules_hit(t).is_empty();
        for t in [
            "有嘢就喺WhatsApp搵我",
            "你撳咗確認收貨先，我再send過條key俾你",
            "要先俾200蚊按金先可以解鎖",
            "唔使喺度落單，直接過數俾我",
            "帳號我幫你攞返，不過要先交80蚊手續費",
            "你過咗數俾我先，我即刻發卡",
            "去Signal搵我啦，號碼係 61234567",
        ] {
            assert!(fires(t), "{t}");
        }
        for t in ["唔該晒，張卡用得", "我唔會加你微信，喺度傾就得", "佢話要我過數俾佢，係咪呃人？"]
        {
            assert!(rules_hit(t).is_empty(), "{t}");
        }
    }

    #[test]
    fn contact_apps_by_other_names_and_ids_by_reference() {
        let fires = |t: &str| !rules_hit(t).is_empty();
        for t in [
            "IG私我，價錢好傾",
            "陌陌号 kabao_2025",
            "tele: @cardking_9",
            "☎️ 0912 888 777",
            "加我的赖，cardshop",
            "那个绿色的软件搜 kabao_hk",
            "微信号跟我昵称一样，搜就有",
            "QQ就是订单号前八位",
            "my telegram has the same name as the shop",
            "小红书搜 卡宝小铺",
            "what's your telegram? I'll message you there",
            "你的微信发我一下，晚点我加你",
            "有空滴滴我微信",
            "急事請撥 0933-221-456",
            "號碼 零九八八．七七六．五五四 打給我",
        ] {
            assert!(fires(t), "{t}");
        }
        for t in [
            "拨打官方客服热线 95188 咨询",
            "在微信里搜索“腾讯视频”小程序兑换",
            "你看我主页的销量，都是老顾客",
            "帮我充的QQ号是 123456789，谢谢",
            "充值QQ号填 12345678 就行吗？",
            "gift goes to your @username automatically",
            "账号和手机号都换绑给你了",
            "登录账号就是邮箱，密码在卡密里",
        ] {
            assert!(rules_hit(t).is_empty(), "{t}");
        }
    }

    #[test]
    fn early_release_asked_as_a_question_in_english_or_by_another_name() {
        let fires = |t: &str| !rules_hit(t).is_empty();
        for t in [
            "能不能先点一下确认收货呀？新卡马上到",
            "Could you cancel the claim? I'll get you a working code.",
            "tap 'done' and I'll resend",
            "Give me five stars first, then the code",
            "这单先结单，下个码晚点补你",
            "你先确认我再帮你换",
            "不确认收货就没办法重发哦",
            "帮忙给个五星好评呗，补发的码晚上到",
            "先确认收货嘛，码我一会儿发",
            "先把评价改成五星，我马上退你",
            "please confirm receipt now, the code will come in 10 minutes",
            "close the ticket first and I'll send a fresh code",
            "评价写好评，写完截图给我，我再给你发备用码",
            "Mark as delivered first pls, then I'll help you",
            "Kindly accept the order completion, after that the activation happens",
            "确认完收货再联系我补卡就行了",
            "仲裁别开了，我给你重新发一个",
            "先給五星評價，序號馬上補給你",
            "We need you to confirm the order so our system can generate the new code",
            "Leave us a 5-star review and we'll send your bonus code",
            "Please don't open a dispute, I'll send you a new key via email",
            "先别申请售后，我私下给你换",
        ] {
            assert!(fires(t), "{t}");
        }
        for t in [
            "您的订单已发货，请在5天内确认收货，超时自动确认",
            "检查无误后再确认收货",
            "满意的话给个好评吧，谢谢",
            "卡能用你再确认，不急",
            "Confirm receipt only after the key works.",
            "订单完成后记得评价哦",
            "Steam 国区礼品卡 100元，兑换后请在平台确认收货",
            "Don't confirm until you've tested it.",
            "Key works, confirmed receipt, cheers",
        ] {
            assert!(rules_hit(t).is_empty(), "{t}");
        }
    }

    #[test]
    fn fees_in_english_as_tax_as_turnover_or_as_a_threat() {
        let fires = |t: &str| !rules_hit(t).is_empty();
        for t in [
            "You need to pay a $15 customs tax before the refund is released",
            "clearance fee 20 usd then I resend ok?",
            "要解除风控先做两单流水",
            "过审前要先交50",
            "不交这笔钱就不能退款",
            "今天不缴纳200保证金，账户余额将被清零",
            "补卡是免费的，不过要先付20元核验费",
            "想退款就得先开通会员，19.9一个月",
            "Your account is frozen. Send $25 to unlock it.",
            "Before I can refund you I need you to send a $10 processing payment",
            "想加急处理需支付加急费30元",
            "售后要走快速通道的话得补20块",
            "账号被封了，申诉要花钱找人，你出一半",
        ] {
            assert!(fires(t), "{t}");
        }
        for t in [
            "手续费是平台收的，跟我没关系",
            "话费充值100元，到账后不退",
            "平台担保交易，放心拍",
            "If the code fails, we replace it free of charge, no fee",
        ] {
            assert!(rules_hit(t).is_empty(), "{t}");
        }
    }

    #[test]
    fn payment_by_other_rails_in_kind_or_through_a_link_of_ones_own() {
        let fires = |t: &str| !rules_hit(t).is_empty();
        for t in [
            "GrabPay or PayNow also can",
            "just Revolut me the money",
            "pay through Payoneer and I'll deliver instantly",
            "这单走支付宝担保交易吧",
            "要重新发码得先在我这充值一次",
            "帐号交易走我们自己的中介群，更安全",
            "私我拿渠道价，比这里低两成",
            "可以用超商代碼繳費，我傳代碼給你",
            "私訊我賴 ID：gamecard88，有更優惠的價格",
            "薇 ❤ 心 kabao77 (备注卡宝)",
            "用Line Pay轉給我",
            "直接匯到我中行卡",
            "拉个微信群收款，大家一起付",
            "可以当面交易，现金付",
            "送我一件游戏道具，就当是给钱了",
            "我给你开个新链接，在那边拍",
            "差价走支付宝补给我",
            "银行卡尾号 8899，户名李某，转好截图",
        ] {
            assert!(fires(t), "{t}");
        }
        for t in [
            "提现会打到你绑定的银行卡",
            "退款会原路打回银行卡",
            "礼品卡面交不了，只能线上发",
            "可以用代付功能让朋友在平台帮你付款",
            "匯款失敗了，我重新在平台付",
            "轉帳完成，平台顯示已付款",
        ] {
            assert!(rules_hit(t).is_empty(), "{t}");
        }
    }

    #[test]
    fn warnings_reports_and_refusals_are_not_lures() {
        for t in [
            "【安全提示】常见骗局：卖家让你加微信私下交易、让你先确认收货再发货。",
            "卖家叫我去拼多多重新下单，这个能信吗",
            "凭什么要我加你QQ？就在这聊",
            "本店说明如下。请勿相信任何让你加好友的人",
            "有人冒充平台客服诱导买家转账，请注意",
            "Telegram's gift feature sends it to you",
            "WX-2025-VIP 是礼包名",
        ] {
            let scan = crate::risk::scan(t, &crate::risk::ScanConfig::default());
            assert!(!scan.risky(), "{t}: {:?}", scan.hits);
        }
    }

    #[test]
    fn a_handle_that_spells_scam_is_still_a_handle() {
        // The English guard word is a word of the sentence, not part of an id: `@scamguy`, `@noscam_keys` or a
        // handle split by separators is still contact, while "this is a scam" stays a warning.
        for text in
            ["加我飞机 @scamguy", "加*我 飞 机   @ s|c|a*m g u y", "tg @scam_free_keys 私聊", "加我飞机 @noscam88"]
        {
            assert!(crate::risk::scan(text, &crate::risk::ScanConfig::default()).risky(), "{text}");
        }
        let warning = crate::risk::scan("有人让你加他飞机，那是 scam，别理", &crate::risk::ScanConfig::default());
        assert!(!warning.risky(), "{:?}", warning.hits);
    }

    #[test]
    fn prohibitions_in_the_clause_and_questions_about_scams_are_not_lures() {
        for t in [
            "我们不会让您加微信，也不会私下收款",
            "严禁私下转账，出问题自负",
            "别人让我先交50解冻费，这正常吗",
            "他说要我先确认收货才补，是真的吗",
            "本店从不要求买家支付任何保证金",
        ] {
            assert!(rules_hit(t).is_empty(), "{t}");
        }
        // Reports of what the buyer did, the platform's own rule, and merely naming another market.
        for t in [
            "我已经撤销了退款申请，谢谢",
            "平台规定：确认收货后货款才会结算给商家",
            "确认收货后记得给个好评哦",
            "淘宝上同款卖得更贵",
            "在闲鱼上买过同款被骗了",
        ] {
            assert!(rules_hit(t).is_empty(), "{t}");
        }
        // A prohibition in another clause does not cover the lure.
        assert!(!rules_hit("别在这说，加我V").is_empty());
        assert!(!rules_hit("不要在平台拍了，直接转我").is_empty());
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

    fn risky(text: &str) -> bool {
        super::super::scan(text, &super::super::ScanConfig::default()).risky()
    }

    /// holdout5's early-release family, in wordings of our own: the confirmation (or a dropped dispute, or a
    /// review) traded for what the merchant does next, a gift, or cash back.
    #[test]
    fn early_release_traded_for_a_delivery_a_gift_or_cash_back() {
        for t in [
            "收货确认了我就把第二张码发给你",
            "现在把收货点了，我多送你一张月卡",
            "争议你先关一下，我这边马上给你补",
            "申诉那个麻烦你点下撤销，我今天补上",
            "这个好评打完我才能给你换",
            "五星好评返你10块，我再补一张新的",
            "订单先确认掉，下一单我给你打折",
            "麻烦点一下“已收货”，然后我把成功的截图发你",
        ] {
            assert!(risky(t), "{t}");
        }
        for t in [
            "码提示无效，我先不确认，你看看",
            "新码已经补好了，你也用上了，可以的话撤一下投诉，不撤也行",
            "游戏里收到钻石后再确认收货就可以",
        ] {
            assert!(!risky(t), "{t}");
        }
    }

    /// holdout5's fee family, in wordings of our own: a fine, a penalty, a transfer tax, a prepaid balance or a
    /// charge put on the buyer, as the condition of delivery, a transfer of ownership or a re-issue.
    #[test]
    fn fines_taxes_and_prepaid_balances_as_the_condition_of_delivery() {
        for t in [
            "账号异常，先交80罚款我才能发货",
            "想退的话，先交30%的违约金",
            "号过户到你名下需要交10%的税",
            "激活前要预存200元到卡里",
            "重发一次要你承担8元手续费",
        ] {
            assert!(risky(t), "{t}");
        }
        for t in ["到期后续费请在平台重新下单，激活方式不变", "补发免费，不另收费"] {
            assert!(!risky(t), "{t}");
        }
    }

    /// holdout5's payment family, in wordings of our own: money sent to a third person, to "my" account in
    /// English, in crypto coins or gift cards, or to another marketplace sold as just as safe.
    #[test]
    fn payment_to_a_third_person_in_coins_or_cards_or_on_another_market() {
        for t in [
            "平台收款有点问题，你直接打给我表姐吧，支付宝",
            "Could you transfer it straight into my PayPal instead",
            "ETH 也收，链上付就行",
            "手头有礼品卡吗？用礼品卡付我也行",
            "转转上也有担保交易，我那边更便宜",
            "你有京东卡吗？拿卡抵货款也行",
        ] {
            assert!(risky(t), "{t}");
        }
        // 手续费 is still a fee after 续费 (renewal) stopped being one.
        assert!(risky("重新充值的话还得付一次20元手续费，成功后一并退回"));
    }

    /// holdout5's false alarms, in wordings of our own: a buyer reporting what someone else asked, doubting a
    /// "channel", asking whether a platform fee is normal, a listing that says nothing extra is charged, and a
    /// Telegram Stars order.
    #[test]
    fn reports_doubts_and_listings_that_charge_nothing_extra_are_not_lures() {
        for t in [
            "有个自称官方的人加我微信让我交保证金，我没理",
            "昨天那条叫我加V的是你们店吗？",
            "网上有人卖所谓的内部折扣码，要私下转账，靠不住吧",
            "短信里说我的账户冻结了要交解冻费，我直接删了",
            "平台提现按规定收1%手续费，这是正常的吗？",
            "【视频会员】掉线请在订单内联系，平台内重新补登，不另收费。",
            "Telegram Stars 1000颗，能充到我自己号上吗",
        ] {
            assert!(!risky(t), "{t}");
        }
    }

    /// holdout5's contact family, in wordings of our own: the id hidden in a picture, a notice or the goods'
    /// remarks, pointed at ("that one is my WeChat"), given a clause after the app, to be put back together
    /// (brackets to drop, first letters), a spelled-out server invite, and the buyer's own id asked for.
    #[test]
    fn ids_hidden_pointed_at_reassembled_or_asked_of_the_buyer() {
        for t in [
            "企鹅号写在商品图片的水印上",
            "联系方式放在卡密备注第三行",
            "你看签名后面那串字母，那串就是我的威信",
            "飞机、纸飞机说的都是它，我的是 quick_keys_77",
            "vx：ab（括号去掉）cd（去掉）2024",
            "每行第一个字母连着读就是我的 vx",
            "join discord dot gg slash cheapcodes for the list",
            "把你的 telegram 发我一下，我拉你",
            "我去加你微信聊",
        ] {
            assert!(risky(t), "{t}");
        }
        for t in ["我们没有微信群，活动都写在店铺公告里", "这个价格比拼多多还便宜"] {
            assert!(!risky(t), "{t}");
        }
    }
}
