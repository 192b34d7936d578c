//! Normalisation before matching: one pipeline, one function per step, every output character knowing the
//! range of original characters it came from, so a verdict's span still points into what was written.
//!
//! 0. [`simplify`]: Traditional Chinese folded to Simplified for matching (`確認收貨` → `确认收货`, `支付寶轉帳` →
//!    `支付宝转帐`), with the `fast2s` character table: one character in, one character out, so every later
//!    offset still counts the original's characters.
//! 1. [`fold`]: Unicode NFKC per character (full-width `ｖｘ１２３` → `vx123`, circled `①` → `1`), dingbat digits
//!    (`❶`, `➀`), Cyrillic/Greek look-alikes of Latin letters, ASCII lowercased; invisible characters, keycap
//!    marks and combining marks dropped.
//! 2. [`numerals`]: Chinese numerals (`一三八`, `壹叁捌`, `幺`, `洞`) read as digits where five or more of them
//!    (digits mixed in, single spaces or dashes between) form a number; `一共`, `一百五十` stay words.
//!    Then [`emoji_words`]: emoji that stand for a rule's word become it (`🧧` → `红包`, `💰` → `钱`, a check
//!    mark before `收` → `确认`), before the other emoji are stripped as decorations.
//! 3. [`strip_decorations`]: hearts, stars, dots, emoji and other symbols put between characters are removed
//!    (`微❤信`, `k★b`, `微.信`), sentence punctuation and id syntax (`:@#/._-+`) stay.
//! 4. [`collapse_separators`]: spaces and dashes inside a number (`138 1234-5678`) and between characters
//!    written one by one (`k b _ 8 8`, `k-a-b-a-o`, `扣 扣`) are removed.
//! 5. [`aliases`]: pinyin, homophone and slang names of the contact apps become one canonical name:
//!    `微信` (wei xin, vx, wx, V, 薇信, 威信, 微訊, 绿泡泡, 卫星…), `qq` (企鹅, 扣扣, 蔻蔻, 🐧, a lone Q…),
//!    `telegram` (飞机, 纸飞机, 电报, tg, ✈).

use super::text::{dingbat_digit, is_invisible, latin_lookalike};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// One normalised character and the original characters `[start, end)` it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NChar {
    pub c: char,
    pub start: usize,
    pub end: usize,
}

/// A normalised message: its characters, the same as a string (for matching), and the map back.
#[derive(Debug, Clone)]
pub struct Normalized {
    pub chars: Vec<NChar>,
    pub text: String,
    /// Byte offset in `text` of each character, plus `text.len()` at the end.
    byte_starts: Vec<usize>,
    /// Characters in the original message.
    pub original_len: usize,
}

impl Normalized {
    /// The normalised character index at a byte offset of `text` (the next character when inside one).
    pub fn char_at_byte(&self, byte: usize) -> usize {
        self.byte_starts.partition_point(|&b| b < byte)
    }

    /// The original character span `[start, end)` of the normalised bytes `[a, b)`; `None` when empty.
    pub fn original_span(&self, a: usize, b: usize) -> Option<(usize, usize)> {
        let (i, j) = (self.char_at_byte(a), self.char_at_byte(b));
        if i >= j {
            return None;
        }
        let first = self.chars.get(i)?;
        let last = self.chars.get(j - 1)?;
        let (s, e) = (first.start.min(last.start), first.end.max(last.end));
        (s < e && e <= self.original_len).then_some((s, e))
    }

    /// The normalised byte range `[a, b)` covering an original character span.
    pub fn normalized_range(&self, span: (usize, usize)) -> (usize, usize) {
        // Characters stay in order of their original positions, so the overlap is one run found by bisection.
        let first = self.chars.partition_point(|ch| ch.end <= span.0);
        let mut a = None;
        let mut b = 0;
        for (i, ch) in self.chars.iter().enumerate().skip(first) {
            if ch.start >= span.1 {
                break;
            }
            if ch.end > span.0 {
                a.get_or_insert(i);
                b = i + 1;
            }
        }
        let a = a.unwrap_or(0);
        let byte = |i: usize| self.byte_starts.get(i).copied().unwrap_or(self.text.len());
        (byte(a), byte(b.max(a)))
    }
}

/// Runs the whole pipeline.
pub fn normalize(text: &str) -> Normalized {
    normalize_simplified(&simplify(text))
}

/// The pipeline after [`simplify`], for a caller that already has the simplified text.
pub(super) fn normalize_simplified(text: &str) -> Normalized {
    let original_len = text.chars().count();
    let chars = aliases(collapse_separators(strip_decorations(emoji_words(numerals(cantonese(fold(text)))))));
    let mut s = String::with_capacity(chars.len() * 3);
    let mut byte_starts = Vec::with_capacity(chars.len() + 1);
    for ch in &chars {
        byte_starts.push(s.len());
        s.push(ch.c);
    }
    byte_starts.push(s.len());
    Normalized { chars, text: s, byte_starts, original_len }
}

/// Step 0: Traditional characters replaced by their Simplified form, character for character (`fast2s` decides a
/// few by their neighbours: 乾隆 stays, 乾淨 becomes 干净). The result has exactly the original's characters
/// count; were the table ever to change that, the text is left as written rather than shifting every span.
pub fn simplify(text: &str) -> std::borrow::Cow<'_, str> {
    // Only ideographs can change: ASCII-only text (most English chat) skips the table.
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    let out = fast2s::convert(text);
    if out == text || out.chars().count() != text.chars().count() {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(out)
}

/// Step 1: NFKC per character, look-alikes folded, lowercase; invisible, keycap and combining marks dropped.
pub fn fold(text: &str) -> Vec<NChar> {
    let mut out = Vec::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        let push = |out: &mut Vec<NChar>, c: char| out.push(NChar { c, start: i, end: i + 1 });
        if let Some(d) = dingbat_digit(c) {
            push(&mut out, d);
            continue;
        }
        if c == '\u{20E3}' || is_invisible(c) {
            continue;
        }
        for k in std::iter::once(c).nfkc() {
            if is_combining_mark(k) || is_invisible(k) {
                continue;
            }
            let k = latin_lookalike(k);
            let k = match k {
                '訊' => '讯',
                '號' => '号',
                '碼' => '码',
                '聯' => '联',
                '係' => '系',
                _ => k,
            };
            push(&mut out, k.to_ascii_lowercase());
        }
    }
    out
}

/// Cantonese words and their Mandarin reading, longest first where one is a prefix of another. Only words
/// that are not also Mandarin words are read (喺, 搵, 睇, 唔…); `系` (from 係) only where it stands for 是.
/// Homophone misspellings of the rules' words (确任收货, 支负宝, 红苞) are read here too, two characters for two.
const CANTONESE: &[(&str, &str)] = &[
    ("唔使", "不用"),
    ("唔洗", "不用"),
    ("唔好", "不要"),
    ("唔该", "谢谢"),
    ("系唔系", "是不是"),
    ("系咪", "是不是"),
    ("系", "是"),
    ("点解", "为什么"),
    ("呢度", "这里"),
    ("呢个", "这个"),
    ("呢单", "这单"),
    ("过咗数", "转了账"),
    ("过数", "转账"),
    ("入数", "转账"),
    ("落单", "下单"),
    ("落订", "下单"),
    ("呃人", "骗人"),
    ("呃钱", "骗钱"),
    ("按金", "押金"),
    ("倾偈", "聊天"),
    ("倾", "聊"),
    ("搵", "找"),
    ("睇", "看"),
    ("喺", "在"),
    ("唔", "不"),
    ("冇", "没"),
    ("俾", "给"),
    ("畀", "给"),
    ("咗", "了"),
    ("嘅", "的"),
    ("嗰", "那"),
    ("哋", "们"),
    ("佢话", "他说"),
    ("佢", "他"),
    ("撳", "点"),
    ("揿", "点"),
    ("攞", "拿"),
    ("啲", "些"),
    ("返", "回"),
    // Taiwanese Hokkien written in characters: 揣 is 找 (来揣我, 揣阮).
    ("揣我", "找我"),
    ("揣阮", "找我们"),
    // Homophone misspellings, Mandarin ones too: typed by accident or to dodge a filter.
    // Chat shorthand: 确收 is 确认收货.
    ("确收", "确认收货"),
    ("确仍", "确认"),
    ("确任", "确认"),
    ("确人", "确认"),
    ("却认", "确认"),
    ("支负", "支付"),
    ("红苞", "红包"),
    ("解东", "解冻"),
];

/// The first characters of [`CANTONESE`]'s words (a test holds the two together).
fn cantonese_start(c: char) -> bool {
    matches!(
        c,
        '唔' | '系'
            | '点'
            | '呢'
            | '过'
            | '入'
            | '落'
            | '呃'
            | '按'
            | '倾'
            | '搵'
            | '睇'
            | '喺'
            | '冇'
            | '俾'
            | '畀'
            | '咗'
            | '嘅'
            | '嗰'
            | '哋'
            | '佢'
            | '撳'
            | '揿'
            | '攞'
            | '啲'
            | '返'
            | '揣'
            | '确'
            | '却'
            | '支'
            | '红'
            | '解'
    )
}

/// Characters before `系` that make it Cantonese 係 (是): an id, 就系, 当系, 都系, 唔系, 即系.
fn cantonese_is(prev: Option<char>) -> bool {
    prev.is_some_and(|p| {
        p.is_ascii_alphanumeric()
            || matches!(p, '就' | '当' | '都' | '唔' | '即' | '咪' | '号' | '码' | '名' | ':' | ' ')
    })
}

/// Step 1b: Cantonese read as Mandarin (`搵我` → `找我`, `唔加` → `不加`, `过数` → `转账`, `撤返` → `撤回`), so the
/// rules and guards written in Mandarin read both. Every output character stands for the whole Cantonese word.
pub fn cantonese(v: Vec<NChar>) -> Vec<NChar> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let Some(c) = v.get(i).map(|ch| ch.c) else { break };
        // Most characters start no Cantonese word (this runs per character).
        if !cantonese_start(c) {
            out.extend(v.get(i).copied());
            i += 1;
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| v.get(p)).map(|ch| ch.c);
        let next = v.get(i + 1).map(|ch| ch.c);
        let found = CANTONESE.iter().find(|(pat, _)| {
            if !pat.chars().enumerate().all(|(k, p)| v.get(i + k).is_some_and(|ch| ch.c == p)) {
                return false;
            }
            match *pat {
                // 系统, 联系, 关系: only 係 as 是.
                "系" => cantonese_is(prev) && !matches!(next, Some('统' | '列' | '数' | '着')),
                // 倾向, 倾斜: Mandarin words.
                "倾" => !matches!(next, Some('向' | '斜' | '销' | '听' | '诉' | '倒' | '家')),
                // 返 is 回 after a verb of getting back (找返, 撤返, 攞返, 退返), not in 返还, 返现.
                "返" => matches!(prev, Some('找' | '撤' | '攞' | '拿' | '退' | '补' | '俾' | '畀' | '给' | '搵')),
                // 的确收到, 准确收录: 确 belongs to the word before, and 确收到 is "did receive".
                "确收" => !matches!(prev, Some('的' | '准' | '正' | '明' | '精')) && next != Some('到'),
                _ => true,
            }
        });
        match found {
            Some((pat, read)) => {
                let len = pat.chars().count();
                let start = v.get(i).map_or(0, |ch| ch.start);
                let end = v.get(i + len - 1).map_or(start, |ch| ch.end);
                out.extend(read.chars().map(|c| NChar { c, start, end }));
                i += len;
            }
            None => {
                out.extend(v.get(i).copied());
                i += 1;
            }
        }
    }
    out
}

/// The value of a Chinese numeral or digit.
fn numeral(c: char) -> Option<char> {
    let d = match c {
        '0'..='9' => return Some(c),
        '零' | '〇' | '○' | '洞' => 0,
        '一' | '壹' | '幺' | '么' => 1,
        '二' | '贰' | '貳' => 2,
        '三' | '叁' | '參' | '参' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' | '陸' => 6,
        '七' | '柒' | '拐' => 7,
        '八' | '捌' => 8,
        '九' | '玖' | '勾' => 9,
        _ => return None,
    };
    char::from_digit(d, 10)
}

/// Step 2: runs of at least five numerals (single spaces or dashes between them allowed) become digits; a
/// letter `o` or `l` written between two digits (`139 1O27`) reads as `0` or `1`.
pub fn numerals(mut v: Vec<NChar>) -> Vec<NChar> {
    for k in 1..v.len() {
        let digit_at = |v: &[NChar], j: usize| v.get(j).is_some_and(|ch| ch.c.is_ascii_digit());
        let sep_digit = |v: &[NChar], j: usize, step: isize| {
            let j2 = j.checked_add_signed(step);
            let j3 = j.checked_add_signed(2 * step);
            j2.is_some_and(|x| digit_at(v, x))
                || (j2.and_then(|x| v.get(x)).is_some_and(|ch| matches!(ch.c, ' ' | '-'))
                    && j3.is_some_and(|x| digit_at(v, x)))
        };
        let glued = |v: &[NChar], j: usize| {
            let word = |x: Option<usize>| x.and_then(|x| v.get(x)).is_some_and(|ch| ch.c.is_ascii_alphabetic());
            word(j.checked_sub(1)) || word(j.checked_add(1))
        };
        let lookalike = match v.get(k).map(|ch| ch.c) {
            Some('o') => Some('0'),
            Some('l') => Some('1'),
            _ => None,
        };
        if let Some(d) = lookalike {
            if sep_digit(&v, k, -1) && sep_digit(&v, k, 1) && !glued(&v, k) {
                if let Some(ch) = v.get_mut(k) {
                    ch.c = d;
                }
            }
        }
    }
    let mut i = 0;
    while i < v.len() {
        if v.get(i).and_then(|ch| numeral(ch.c)).is_none() {
            i += 1;
            continue;
        }
        // Extend the run: numerals, with at most one separator between two of them.
        let (mut j, mut count) = (i, 0);
        loop {
            match v.get(j).map(|ch| ch.c) {
                Some(c) if numeral(c).is_some() => {
                    count += 1;
                    j += 1;
                }
                Some(' ' | '-' | '.') if v.get(j + 1).and_then(|ch| numeral(ch.c)).is_some() && j > i => j += 1,
                _ => break,
            }
        }
        if count >= 5 {
            for ch in v.iter_mut().take(j).skip(i) {
                if let Some(d) = numeral(ch.c) {
                    ch.c = d;
                }
            }
        }
        i = j.max(i + 1);
    }
    v
}

/// Step 2, continued: emoji that stand for a word of the rules become that word before decorations are stripped: 🧧 is
/// 红包, 💰/💵/💴/💸 are 钱, and a check mark before 收 (`先 ✔️ 收货`) is 确认, the spaces after it dropped. Each
/// output character spans the emoji.
pub fn emoji_words(v: Vec<NChar>) -> Vec<NChar> {
    // Most messages have none: one pass to check before building anything.
    if !v.iter().any(|ch| matches!(ch.c, '🧧' | '💰' | '💵' | '💴' | '💸' | '✔' | '✅' | '☑' | '✓')) {
        return v;
    }
    let mut out = Vec::with_capacity(v.len() + 4);
    let mut i = 0;
    while i < v.len() {
        let Some(&ch) = v.get(i) else { break };
        let word = match ch.c {
            '🧧' => Some("红包"),
            '💰' | '💵' | '💴' | '💸' => Some("钱"),
            '✔' | '✅' | '☑' | '✓' => {
                let mut j = i + 1;
                while v.get(j).is_some_and(|n| n.c.is_whitespace()) {
                    j += 1;
                }
                if v.get(j).is_some_and(|n| n.c == '收') {
                    out.extend("确认".chars().map(|c| NChar { c, ..ch }));
                    i = j;
                    continue;
                }
                None
            }
            _ => None,
        };
        match word {
            Some(w) => out.extend(w.chars().map(|c| NChar { c, ..ch })),
            None => out.push(ch),
        }
        i += 1;
    }
    out
}

/// Characters that carry meaning between words: sentence punctuation and the syntax of ids and links.
fn is_kept_symbol(c: char) -> bool {
    matches!(
        c,
        ':' | '@'
            | '#'
            | '/'
            | '.'
            | '_'
            | '-'
            | '+'
            | ','
            | '，'
            | '。'
            | '!'
            | '?'
            | ';'
            | '、'
            | '('
            | ')'
            | '¥'
            | '$'
            | '%'
            | '='
            | '"'
            | '\''
            | '“'
            | '”'
            | '「'
            | '」'
            | '《'
            | '》'
            | '【'
            | '】'
            | '['
            | ']'
            | '&'
            | '➕'
            | '🐧'
            | '✈'
            | '📞'
            | '☎'
            | '📱'
    )
}

/// Step 3: decorations removed: symbols and emoji anywhere, and a `.` between two ideographs.
pub fn strip_decorations(v: Vec<NChar>) -> Vec<NChar> {
    let mut out: Vec<NChar> = Vec::with_capacity(v.len());
    for (i, ch) in v.iter().enumerate() {
        let c = ch.c;
        if c.is_alphanumeric() || c.is_whitespace() || is_kept_symbol(c) {
            let between_ideographs = matches!(c, '.' | '_' | '-')
                && out.last().is_some_and(|p| is_ideograph(p.c))
                && v.get(i + 1).is_some_and(|n| is_ideograph(n.c));
            if !between_ideographs {
                out.push(*ch);
            }
        }
    }
    out
}

fn is_ideograph(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '-' | '–' | '—' | '\t')
}

/// Step 4: separators inside numbers and between characters written one at a time are removed.
pub fn collapse_separators(v: Vec<NChar>) -> Vec<NChar> {
    let n = v.len();
    let mut drop = vec![false; n];
    // Inside a number: digit, up to three separators, digit.
    let mut i = 0;
    while i < n {
        if v.get(i).is_some_and(|ch| ch.c.is_ascii_digit()) {
            let mut j = i + 1;
            while j < n && j - i <= 3 && v.get(j).is_some_and(|ch| is_sep(ch.c)) {
                j += 1;
            }
            if j > i + 1 && v.get(j).is_some_and(|ch| ch.c.is_ascii_digit()) {
                for d in drop.iter_mut().take(j).skip(i + 1) {
                    *d = true;
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    // Characters written one at a time: x SEP y SEP z (three or more ASCII, or two or more ideographs).
    let single = |k: usize| -> bool {
        let c = v.get(k).map(|ch| ch.c);
        let word = |p: &NChar| p.c.is_alphanumeric() || p.c == '_';
        let prev_ok = k == 0 || v.get(k - 1).is_some_and(|p| !word(p));
        let next_ok = v.get(k + 1).is_none_or(|p| !word(p));
        c.is_some_and(|c| c.is_alphanumeric() || c == '_') && prev_ok && next_ok
    };
    let mut k = 0;
    while k < n {
        if !single(k) {
            k += 1;
            continue;
        }
        let mut run = vec![k];
        let mut j = k;
        let sep = v.get(k + 1).map(|s| s.c).filter(|c| matches!(c, ' ' | '-' | '.'));
        loop {
            // One separator, or a few spaces where a decoration between them was removed.
            let mut g = j + 1;
            while g < n && g - j <= 3 && sep.is_some() && v.get(g).map(|s| s.c) == sep {
                g += 1;
            }
            if g == j + 1 || g >= n || !single(g) {
                break;
            }
            j = g;
            run.push(j);
        }
        let ascii = run.iter().all(|&r| v.get(r).is_some_and(|ch| ch.c.is_ascii()));
        let dots = sep == Some('.');
        let enough = if dots { ascii && run.len() >= 4 } else { ascii && run.len() >= 3 };
        let ideograph = |k: usize| v.get(k).is_some_and(|ch| is_ideograph(ch.c));
        for w in run.windows(2) {
            if let (Some(&x), Some(&y)) = (w.first(), w.get(1)) {
                // ASCII spelled out one by one, or two ideographs written apart (`微 信 号 码 同 手 机 尾 号 7 7 3 1`
                // joins its words; the digits join as a number above).
                if enough || (!dots && ideograph(x) && ideograph(y)) {
                    for d in drop.iter_mut().take(y).skip(x + 1) {
                        *d = true;
                    }
                }
            }
        }
        k = j + 1;
    }
    v.into_iter().zip(drop).filter(|(_, d)| !d).map(|(ch, _)| ch).collect()
}

/// An alias of a contact app and its canonical name.
struct Alias {
    pat: &'static str,
    canon: &'static str,
}

const fn al(pat: &'static str, canon: &'static str) -> Alias {
    Alias { pat, canon }
}

const WECHAT: &str = "微信";
const QQ: &str = "qq";
const TELEGRAM: &str = "telegram";
const PHONE: &str = "电话";

/// Longest first where one is a prefix of another.
const ALIASES: &[Alias] = &[
    al("wei xin", WECHAT),
    al("weixin", WECHAT),
    al("we chat", WECHAT),
    al("wechat", WECHAT),
    al("vxin", WECHAT),
    al("vx信", WECHAT),
    al("wei信", WECHAT),
    al("v信", WECHAT),
    al("vx", WECHAT),
    al("wx", WECHAT),
    al("微信", WECHAT),
    al("薇信", WECHAT),
    al("威信", WECHAT),
    al("维信", WECHAT),
    al("卫信", WECHAT),
    al("溦信", WECHAT),
    al("徽信", WECHAT),
    al("嶶信", WECHAT),
    al("微讯", WECHAT),
    al("薇心", WECHAT),
    al("威心", WECHAT),
    al("微心", WECHAT),
    al("v心", WECHAT),
    al("微x", WECHAT),
    al("薇x", WECHAT),
    al("绿泡泡", WECHAT),
    al("卫星", WECHAT),
    al("微星", WECHAT),
    // Named by its colour: 那个绿色软件, 绿色那个 (嗰個 is read 那个 by then).
    al("绿色的聊天软件", WECHAT),
    al("绿色聊天软件", WECHAT),
    al("绿色的软件", WECHAT),
    al("绿色软件", WECHAT),
    al("绿色的那个", WECHAT),
    al("绿色那个", WECHAT),
    al("绿色的app", WECHAT),
    al("绿色app", WECHAT),
    al("小绿书", "小红书"),
    al("xhs", "小红书"),
    al("fb messenger", "facebook"),
    al("messenger", "facebook"),
    al("fb", "facebook"),
    al("ig", "instagram"),
    al("kakaotalk", "kakao"),
    al("카카오톡", "kakao"),
    al("카톡", "kakao"),
    // Japanese katakana: ライン (LINE), カカオ (Kakao).
    al("ライン", "line"),
    al("カカオ", "kakao"),
    al("tele", TELEGRAM),
    al("📞", PHONE),
    al("☎", PHONE),
    al("📱", PHONE),
    al("纸飞机", TELEGRAM),
    al("飞机", TELEGRAM),
    al("电报", TELEGRAM),
    al("telegram", TELEGRAM),
    al("tg", TELEGRAM),
    al("✈", TELEGRAM),
    al("企鹅", QQ),
    al("扣扣", QQ),
    al("蔻蔻", QQ),
    al("抠抠", QQ),
    al("寇寇", QQ),
    al("口口", QQ),
    al("球球", QQ),
    al("秋秋", QQ),
    al("q q", QQ),
    al("🐧", QQ),
];

/// Whether the word before character `i` (past one space) is a modal or `let's`: `can we chat`, `let's we chat`.
fn after_modal(v: &[NChar], i: usize) -> bool {
    let before: String = v.get(i.saturating_sub(8)..i).unwrap_or_default().iter().map(|ch| ch.c).collect();
    let word = before.trim_end().rsplit(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    matches!(word, "can" | "could" | "shall" | "should" | "may" | "might" | "will" | "would" | "lets" | "s")
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A one-character alias that needs context: a lone Latin `v`/`q`, or 薇/威/微/扣 next to an id marker or an
/// add verb.
fn single_alias(v: &[NChar], i: usize) -> Option<&'static str> {
    let c = v.get(i)?.c;
    let prev = i.checked_sub(1).and_then(|p| v.get(p)).map(|ch| ch.c);
    let next = v.get(i + 1).map(|ch| ch.c);
    let after = v.iter().skip(i + 1).map(|ch| ch.c).find(|c| *c != ' ');
    match c {
        'v' if !is_word(prev) && !is_word(next) && next != Some('.') => Some(WECHAT),
        'q' if !is_word(prev) && !is_word(next) && next != Some('币') && next != Some('.') => Some(QQ),
        '薇' | '威' | '微' | '扣' | '赖' => {
            let marked = matches!(after, Some(':' | '号' | '是')) || after.is_some_and(|c| c.is_ascii_digit());
            // 上微软, 加微博: a word goes on after the character, so it is not the app.
            let word_follows = next.is_some_and(|n| {
                is_ideograph(n)
                    && !matches!(
                        n,
                        '号' | '聊'
                            | '找'
                            | '私'
                            | '详'
                            | '联'
                            | '好'
                            | '吧'
                            | '哦'
                            | '呀'
                            | '啊'
                            | '呗'
                            | '了'
                            | '我'
                    )
            });
            let added = matches!(prev, Some('加' | '的' | '➕' | '+' | '上' | '去' | '来' | '走')) && !word_follows;
            // 你的扣, 我的扣 (a QQ number asked for or given), not 打的扣.
            let owned = prev == Some('的')
                && i.checked_sub(2).and_then(|p| v.get(p)).is_some_and(|ch| matches!(ch.c, '你' | '我'));
            let contacted = matches!(after, Some('找' | '聊'));
            if c == '赖' {
                // Taiwanese slang for Line (加我的赖, 我赖 id), only after an add verb or a possessive.
                return (added || marked || (prev == Some('我') && !word_follows)).then_some("line");
            }
            (marked || contacted || (added && (c != '扣' || prev != Some('的') || owned))).then_some(if c == '扣' {
                QQ
            } else {
                WECHAT
            })
        }
        _ => None,
    }
}

/// Step 5: contact-app aliases replaced by their canonical name; each canonical character stands for the whole
/// alias in the original.
pub fn aliases(v: Vec<NChar>) -> Vec<NChar> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let mut found: Option<(usize, &'static str)> = None;
        let c = v.get(i).map(|ch| ch.c);
        // Most characters start no alias: compare first characters before anything else, this runs per character.
        for a in ALIASES.iter().filter(|a| a.pat.chars().next() == c) {
            if !a.pat.chars().enumerate().all(|(k, p)| v.get(i + k).is_some_and(|ch| ch.c == p)) {
                continue;
            }
            let len = a.pat.chars().count();
            let ascii_start = a.pat.starts_with(|c: char| c.is_ascii_alphabetic());
            let ascii_end = a.pat.ends_with(|c: char| c.is_ascii_alphabetic());
            let prev = i.checked_sub(1).and_then(|p| v.get(p)).map(|ch| ch.c);
            let next = v.get(i + len).map(|ch| ch.c);
            // `wx-2024-gift` is a code, not WeChat.
            let code = next == Some('-') && is_word(v.get(i + len + 1).map(|ch| ch.c));
            if (ascii_start && is_word(prev)) || (ascii_end && (is_word(next) || code)) {
                continue;
            }
            // `can we chat on WhatsApp`: "we chat" after a modal verb is English, not WeChat.
            if a.pat == "we chat" && after_modal(&v, i) {
                continue;
            }
            found = Some((len, a.canon));
            break;
        }
        let found = found.or_else(|| single_alias(&v, i).map(|c| (1, c)));
        match found {
            Some((len, canon)) => {
                let start = v.get(i).map_or(0, |ch| ch.start);
                let end = v.get(i + len - 1).map_or(start, |ch| ch.end);
                for c in canon.chars() {
                    out.push(NChar { c, start, end });
                }
                i += len;
            }
            None => {
                if let Some(ch) = v.get(i) {
                    out.push(*ch);
                }
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &[NChar]) -> String {
        v.iter().map(|c| c.c).collect()
    }

    #[test]
    fn fold_applies_nfkc_look_alikes_and_lowercase() {
        assert_eq!(s(&fold("ＱＱ：１２３ｖｘ")), "qq:123vx");
        assert_eq!(s(&fold("①❷➂ⓦⓧ")), "123wx");
        assert_eq!(s(&fold("wх\u{200B}1\u{FE0F}\u{20E3}")), "wx1");
        assert_eq!(s(&fold("微訊")), "微讯");
        // Each output character keeps the original index it came from.
        let v = fold("a\u{200B}Ｂ");
        assert_eq!(v.iter().map(|c| c.start).collect::<Vec<_>>(), vec![0, 2]);
    }

    #[test]
    fn traditional_chinese_folds_to_simplified_character_for_character() {
        assert_eq!(simplify("確認收貨"), "确认收货");
        assert_eq!(simplify("支付寶轉帳給我，補單手續費"), "支付宝转帐给我，补单手续费");
        assert_eq!(simplify("已经是简体 abc"), "已经是简体 abc");
        assert_eq!(normalize("加我微信號碼").text, "加我微信号码");
        // The span of a folded word is the word as written.
        let text = "先確認收貨，謝謝";
        let n = normalize(text);
        let a = n.text.find("确认收货").unwrap_or(0);
        assert_eq!(n.original_span(a, a + "确认收货".len()), Some((1, 5)));
    }

    #[test]
    fn numerals_become_digits_only_where_they_form_a_number() {
        assert_eq!(s(&numerals(fold("139 1O27 8845"))), "139 1027 8845");
        assert_eq!(s(&numerals(fold("5l2 4o4 hello 10o"))), "512 404 hello 10o");
        assert_eq!(s(&numerals(fold("扣扣一二三四五六七八"))), "扣扣12345678");
        assert_eq!(s(&numerals(fold("一八六 一二三四 五六七八"))), "186 1234 5678");
        assert_eq!(s(&numerals(fold("壹叁玖零零零零"))), "1390000");
        // 么 for 幺, the simplified 参, groups split by dots.
        assert_eq!(s(&numerals(fold("零八七三 么么 五二"))), "0873 11 52");
        assert_eq!(s(&numerals(cantonese(fold(&simplify("零九壹二．參肆伍"))))), "0912.345");
        assert_eq!(s(&numerals(fold("一共一百五十块，三张卡"))), "一共一百五十块,三张卡");
    }

    #[test]
    fn decorations_between_characters_are_removed() {
        assert_eq!(s(&strip_decorations(fold("微❤信 k★b✨8"))), "微信 kb8");
        assert_eq!(s(&strip_decorations(fold("微.信.号 a.com"))), "微信号 a.com");
        assert_eq!(s(&strip_decorations(fold("价格 ¥99，好的。"))), "价格 ¥99,好的。");
    }

    #[test]
    fn separators_inside_numbers_and_spelled_out_handles_collapse() {
        let run = |t: &str| s(&collapse_separators(strip_decorations(numerals(fold(t)))));
        assert_eq!(run("138 1234-5678"), "13812345678");
        assert_eq!(run("k b _ 2 0 2 4"), "kb_2024");
        assert_eq!(run("k-a-b-a-o-8-8"), "kabao88");
        assert_eq!(run("k.a.b.a.o.9.9 a.com"), "kabao99 a.com");
        assert_eq!(run("扣 扣 号 码"), "扣扣号码");
        assert_eq!(run("微 信 号 同 手 机 尾 号 7 7 3 1 的 那 个"), "微信号同手机尾号 7731 的那个");
        assert_eq!(run("价格 99.9 元，我 3 点到"), "价格 99.9 元,我 3 点到");
    }

    #[test]
    fn aliases_of_contact_apps_become_one_name() {
        let run = |t: &str| normalize(t).text;
        assert_eq!(run("wei xin abc"), "微信 abc");
        assert_eq!(run("加V 威信 薇信"), "加微信 微信 微信");
        assert_eq!(run("企鹅 12345 扣扣"), "qq 12345 qq");
        assert_eq!(run("纸飞机 飞机 电报 tg ✈"), "telegram telegram telegram telegram telegram");
        assert_eq!(run("加扣 12345"), "加qq 12345");
        assert_eq!(run("按屏幕上微软的号码"), "按屏幕上微软的号码");
        // Words and codes that merely contain the letters stay.
        assert_eq!(run("vx7k-2mnp q币 扣点 wx-2024-gift"), "vx7k-2mnp q币 扣点 wx-2024-gift");
        assert_eq!(run("Telegram Premium"), "telegram premium");
    }

    #[test]
    fn cantonese_reads_as_mandarin_and_keeps_its_span() {
        let run = |t: &str| normalize(t).text;
        assert_eq!(run("想傾就搵我，唔使落單"), "想聊就找我,不用下单");
        assert_eq!(run("ID係 abc_1，撤返先"), "id是 abc_1,撤回先");
        assert_eq!(run("號碼係 1234，過咗數未"), "号码是 1234,转了账未");
        assert_eq!(run("有需要來揣我"), "有需要来找我");
        // Mandarin words that share a character stay.
        assert_eq!(run("联系客服，系统倾向于返还"), "联系客服,系统倾向于返还");
        let text = "唔使過數";
        let n = normalize(text);
        let a = n.text.find("转账").unwrap_or(0);
        assert_eq!(n.original_span(a, a + "转账".len()), Some((2, 4)));
        // Every word's first character is one the fast path looks for.
        for (word, _) in CANTONESE {
            assert!(word.chars().next().is_some_and(cantonese_start), "{word}");
        }
    }

    #[test]
    fn more_apps_by_nickname_emoji_and_colour() {
        let run = |t: &str| normalize(t).text;
        assert_eq!(run("IG xhs FB tele 카톡"), "instagram 小红书 facebook telegram kakao");
        assert_eq!(run("口口 球球 📞 那个绿色软件"), "qq qq 电话 那个微信");
        assert_eq!(run("加我的赖 走微"), "加我的line 走微信");
        // Words that contain the letters stay.
        assert_eq!(run("big telephone 信赖 赖床"), "big telephone 信赖 赖床");
    }

    #[test]
    fn emoji_that_stand_for_words_become_the_words() {
        assert_eq!(s(&emoji_words(fold("🧧发我"))), "红包发我");
        assert_eq!(s(&emoji_words(fold("💰转我"))), "钱转我");
        assert_eq!(s(&emoji_words(fold("先 ✔️ 收货"))), "先 确认收货");
        // A check mark before anything else is a decoration, left for strip_decorations.
        assert_eq!(s(&emoji_words(fold("✅ 自动发货"))), "✅ 自动发货");
        let v = emoji_words(fold("a🧧b"));
        assert_eq!(v.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(), vec![(0, 1), (1, 2), (1, 2), (2, 3)]);
    }

    #[test]
    fn a_span_maps_back_to_the_original_characters() {
        let text = "加我 威❤信：ｋ ｂ ８ ８ ８";
        let n = normalize(text);
        let a = n.text.find("kb888").unwrap_or(0);
        assert_eq!(n.original_span(a, a + 5), Some((7, 16)));
        let w = n.text.find("微信").unwrap_or(0);
        assert_eq!(n.original_span(w, w + "微信".len()), Some((3, 6)));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn every_span_maps_to_a_valid_range_of_the_original(
            text in "[微信薇威vVxXqQ扣企鹅飞机✈🐧📞一二三八幺么①❶１３８ .\\-_❤★:@a-z0-9\u{200B}\u{FE0F}\u{20E3}唔使过数系咪点解咗返撤🧧💰✔✅收]{0,60}",
            a in 0usize..200, b in 0usize..200,
        ) {
            let n = normalize(&text);
            let len = text.chars().count();
            prop_assert_eq!(n.original_len, len);
            for ch in &n.chars {
                prop_assert!(ch.start < ch.end && ch.end <= len);
            }
            let (a, b) = (a.min(n.text.len()), b.min(n.text.len()));
            if let Some((s, e)) = n.original_span(a.min(b), a.max(b)) {
                prop_assert!(s < e && e <= len);
            }
        }

        #[test]
        fn simplifying_keeps_every_character_in_place(text in "[確認收貨補單手續費支付寶轉帳乾隆淨头像abc 1，]{0,40}") {
            let simple = simplify(&text);
            prop_assert_eq!(simple.chars().count(), text.chars().count());
            for (a, b) in simple.chars().zip(text.chars()) {
                prop_assert!(a == b || (!a.is_ascii() && !b.is_ascii()));
            }
        }

        #[test]
        fn any_string_normalises_with_a_valid_map(text in any::<String>()) {
            let n = normalize(&text);
            let len = text.chars().count();
            for ch in &n.chars {
                prop_assert!(ch.start < ch.end && ch.end <= len);
            }
        }
    }
}
