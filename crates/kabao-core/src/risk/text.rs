//! The scanner's views of one message, every character mapped back to its index in the original.
//!
//! - The **light** view folds each character on its own: Unicode compatibility decomposition (NFKD: full-width
//!   and circled forms, ligatures, mathematical letters become plain ones; per character, which is what keeps
//!   the offset map trivial), combining marks dropped (an accent over a look-alike letter does not hide it),
//!   invisible characters dropped (zero-width spaces and joiners, variation selectors, bidi controls), Cyrillic
//!   and Greek look-alikes of Latin letters folded, ASCII lowercased. Punctuation, spaces and symbols stay, so
//!   links and sentence boundaries can still be read.
//! - The **dense** view keeps only letters, digits and ideographs of the light view: whatever was put between
//!   characters (spaces, dots, dashes, `*`, `|`, emoji, ❤, ★) is gone, so `薇.信` reads `薇信` and
//!   `1 3 8-1234` reads `1381234`. Each unit also carries its digit value, so `一三八`, `壹叁捌`, `①` and `❶`
//!   read as digits where a number is expected, while keyword matching still sees the ideograph.
//!
//! A dense unit knows its light index, and a light character knows its original index, so any range of dense
//! units maps back to a character span of the original message.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// One character of the light view.
#[derive(Debug, Clone, Copy)]
pub(super) struct Light {
    /// The folded character.
    pub c: char,
    /// Its character index in the original message.
    pub orig: usize,
    /// Whether an invisible character was dropped just before it (`w\u{200B}x`).
    pub veiled: bool,
}

/// One unit of the dense view.
#[derive(Debug, Clone, Copy)]
pub(super) struct Unit {
    /// The folded character (an ASCII letter or digit, an ideograph, another script's letter).
    pub c: char,
    /// Its value when read as a digit (`3`, `三`, `叁`, `③`).
    pub digit: Option<u8>,
    /// Its index in the light view.
    pub light: usize,
    /// Whether whitespace separated it from the previous unit.
    pub space_before: bool,
    /// Whether anything at all separated it from the previous unit, invisible characters included.
    pub gap_before: bool,
    /// Whether an id marker (`:`, `@`, `#`, `=`) separated it from the previous unit.
    pub marker_before: bool,
    /// The sentence it is in (sentences end at `。！？!?；;` and line breaks).
    pub sentence: u32,
    /// The clause it is in (clauses also end at `，,`; a `、` list stays one clause).
    pub clause: u32,
}

/// The folded views of one message.
#[derive(Debug)]
pub(super) struct Folded {
    pub light: Vec<Light>,
    pub dense: Vec<Unit>,
    /// For each clause: whether it asks a question (ends with `?`, `吗`, `么`, `嘛`).
    pub clause_question: Vec<bool>,
}

impl Folded {
    pub fn new(text: &str) -> Folded {
        let mut light: Vec<Light> = Vec::with_capacity(text.len());
        let mut veil = false;
        for (orig, c) in text.chars().enumerate() {
            let before = light.len();
            fold_char(c, &mut |c| light.push(Light { c, orig, veiled: false }));
            match light.get_mut(before) {
                None => veil = true,
                Some(first) => {
                    first.veiled = veil;
                    veil = false;
                }
            }
        }
        let mut dense: Vec<Unit> = Vec::with_capacity(light.len());
        let mut clause_question = vec![false];
        let (mut sentence, mut clause) = (0u32, 0u32);
        let (mut space, mut gap, mut marker) = (false, false, false);
        for (i, l) in light.iter().enumerate() {
            if let Some((c, digit)) = dense_unit(l.c) {
                dense.push(Unit {
                    c,
                    digit,
                    light: i,
                    space_before: space,
                    gap_before: gap || l.veiled,
                    marker_before: marker,
                    sentence,
                    clause,
                });
                (space, gap, marker) = (false, false, false);
                continue;
            }
            gap = true;
            space |= l.c.is_whitespace();
            marker |= matches!(l.c, ':' | '@' | '#' | '=');
            let ends_sentence = matches!(l.c, '。' | '!' | '?' | ';' | '\n' | '\r');
            if ends_sentence || matches!(l.c, ',' | '،') {
                if l.c == '?' {
                    if let Some(q) = clause_question.last_mut() {
                        *q = true;
                    }
                }
                if dense.last().is_some_and(|u| u.clause == clause) {
                    if let Some(q) = clause_question.last_mut() {
                        *q |= dense.last().is_some_and(|u| matches!(u.c, '吗' | '么' | '嘛'));
                    }
                    clause += 1;
                    clause_question.push(false);
                }
                if ends_sentence && dense.last().is_some_and(|u| u.sentence == sentence) {
                    sentence += 1;
                }
            }
        }
        if let Some(q) = clause_question.last_mut() {
            *q |= dense.last().is_some_and(|u| u.clause == clause && matches!(u.c, '吗' | '么' | '嘛'));
        }
        Folded { light, dense, clause_question }
    }

    /// The dense unit at `i`.
    pub fn unit(&self, i: usize) -> Option<&Unit> {
        self.dense.get(i)
    }

    /// The dense character at `i`.
    pub fn c(&self, i: usize) -> Option<char> {
        self.dense.get(i).map(|u| u.c)
    }

    /// The light character at `i`.
    pub fn light_c(&self, i: usize) -> Option<char> {
        self.light.get(i).map(|l| l.c)
    }

    /// Whether the dense units from `i` spell `pat`.
    pub fn is(&self, i: usize, pat: &str) -> bool {
        (i..).zip(pat.chars()).all(|(j, p)| self.c(j) == Some(p))
    }

    /// The length (in units) of the longest pattern spelled from `i`.
    pub fn any(&self, i: usize, pats: &[&str]) -> Option<usize> {
        pats.iter().filter(|p| self.is(i, p)).map(|p| p.chars().count()).max()
    }

    /// The length of the longest pattern that ends just before `end`.
    pub fn any_ending(&self, end: usize, pats: &[&str]) -> Option<usize> {
        pats.iter()
            .filter_map(|p| {
                let n = p.chars().count();
                let start = end.checked_sub(n)?;
                self.is(start, p).then_some(n)
            })
            .max()
    }

    /// The first position in `from..to` (kept within `from`'s sentence) where one of `pats` starts, with its length.
    pub fn find(&self, from: usize, to: usize, pats: &[&str]) -> Option<(usize, usize)> {
        let sentence = self.unit(from)?.sentence;
        (from..to.min(self.dense.len()))
            .take_while(|&i| self.unit(i).is_some_and(|u| u.sentence == sentence))
            .find_map(|i| self.any(i, pats).map(|n| (i, n)))
    }

    /// Like [`Folded::find`], searching backwards from just before `to` down to `from`.
    pub fn rfind(&self, from: usize, to: usize, pats: &[&str]) -> Option<(usize, usize)> {
        let sentence = self.unit(to.checked_sub(1)?)?.sentence;
        (from..to.min(self.dense.len()))
            .rev()
            .take_while(|&i| self.unit(i).is_some_and(|u| u.sentence == sentence))
            .find_map(|i| self.any(i, pats).map(|n| (i, n)))
    }

    /// The first unit of `a`'s clause, looking back at most `max` units.
    pub fn clause_start(&self, a: usize, max: usize) -> usize {
        let Some(clause) = self.unit(a).map(|u| u.clause) else { return a };
        let mut s = a;
        while s > 0 && a - s < max && self.unit(s - 1).is_some_and(|u| u.clause == clause) {
            s -= 1;
        }
        s
    }

    /// One past the last unit of the sentence of unit `b - 1`, looking ahead at most `max` units from `b`.
    pub fn sentence_end(&self, b: usize, max: usize) -> usize {
        let Some(sentence) = b.checked_sub(1).and_then(|i| self.unit(i)).map(|u| u.sentence) else { return b };
        let mut e = b;
        while e - b < max && self.unit(e).is_some_and(|u| u.sentence == sentence) {
            e += 1;
        }
        e
    }

    /// Whether unit `i` ends its clause (the next unit is in another clause, or there is none).
    pub fn ends_clause(&self, i: usize) -> bool {
        match (self.unit(i), self.unit(i + 1)) {
            (Some(u), Some(next)) => u.clause != next.clause,
            _ => true,
        }
    }

    /// Whether the clause of unit `i` asks a question.
    pub fn in_question(&self, i: usize) -> bool {
        self.unit(i).and_then(|u| self.clause_question.get(u.clause as usize).copied()).unwrap_or(false)
    }

    /// Whether units `a` and `b` are in the same sentence.
    pub fn same_sentence(&self, a: usize, b: usize) -> bool {
        match (self.unit(a), self.unit(b)) {
            (Some(x), Some(y)) => x.sentence == y.sentence,
            _ => false,
        }
    }

    /// The light character just before dense unit `i`, separators included.
    pub fn light_before(&self, i: usize) -> Option<char> {
        let li = self.unit(i)?.light;
        self.light_c(li.checked_sub(1)?)
    }

    /// The light character just after dense unit `i`, separators included.
    pub fn light_after(&self, i: usize) -> Option<char> {
        let li = self.unit(i)?.light;
        self.light_c(li + 1)
    }

    /// The original character span `[start, end)` of the dense units `a..b` (`a < b`).
    pub fn span(&self, a: usize, b: usize) -> Option<(usize, usize)> {
        let first = self.light.get(self.unit(a)?.light)?.orig;
        let last = self.light.get(self.unit(b.checked_sub(1)?)?.light)?.orig;
        (first <= last).then_some((first, last + 1))
    }

    /// The original character span of the light characters `a..b` (`a < b`).
    pub fn light_span(&self, a: usize, b: usize) -> Option<(usize, usize)> {
        let first = self.light.get(a)?.orig;
        let last = self.light.get(b.checked_sub(1)?)?.orig;
        (first <= last).then_some((first, last + 1))
    }
}

/// Folds one original character into zero or more light characters.
fn fold_char(c: char, out: &mut impl FnMut(char)) {
    if let Some(d) = dingbat_digit(c) {
        out(d);
        return;
    }
    decompose_compatible(c, |k| {
        if !is_combining_mark(k) && !is_invisible(k) {
            out(latin_lookalike(k).to_ascii_lowercase());
        }
    });
}

/// Characters that render as nothing and are used to split words unseen.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Dingbat digits that compatibility decomposition leaves alone: ❶–❾, ➀–➈, ➊–➒, ⓵–⓽, ⓿.
pub(super) fn dingbat_digit(c: char) -> Option<char> {
    let n = c as u32;
    let d = match n {
        0x2776..=0x277E => n - 0x2776 + 1,
        0x2780..=0x2788 => n - 0x2780 + 1,
        0x278A..=0x2792 => n - 0x278A + 1,
        0x24F5..=0x24FD => n - 0x24F5 + 1,
        0x24FF => 0,
        _ => return None,
    };
    char::from_digit(d, 10)
}

/// Cyrillic and Greek letters drawn like Latin ones (`wх` with a Cyrillic `х` is still `wx`).
pub(super) fn latin_lookalike(c: char) -> char {
    match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'в' | 'В' | 'β' | 'Β' => 'b',
        'с' | 'С' | 'ϲ' => 'c',
        'е' | 'Е' | 'ε' | 'Ε' => 'e',
        'н' | 'Н' | 'Η' => 'h',
        'і' | 'І' | 'ι' | 'Ι' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'м' | 'М' | 'Μ' => 'm',
        'ν' | 'Ν' => 'n',
        'о' | 'О' | 'ο' | 'Ο' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ԛ' | 'Ԛ' => 'q',
        'ѕ' | 'Ѕ' => 's',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'υ' => 'u',
        'ѵ' | 'Ѵ' => 'v',
        'ԝ' | 'Ԝ' | 'ω' => 'w',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'Υ' => 'y',
        'Ζ' => 'z',
        _ => c,
    }
}

/// Whether a light character is kept in the dense view, as what, and with which digit value.
fn dense_unit(c: char) -> Option<(char, Option<u8>)> {
    if let Some(d) = c.to_digit(10) {
        return Some((c, u8::try_from(d).ok()));
    }
    let digit = match c {
        '零' | '〇' | '○' | '洞' => Some(0),
        '一' | '壹' | '幺' => Some(1),
        '二' | '贰' | '貳' => Some(2),
        '三' | '叁' | '參' => Some(3),
        '四' | '肆' => Some(4),
        '五' | '伍' => Some(5),
        '六' | '陆' | '陸' => Some(6),
        '七' | '柒' => Some(7),
        '八' | '捌' => Some(8),
        '九' | '玖' => Some(9),
        _ => None,
    };
    if digit.is_some() {
        return Some((c, digit));
    }
    // ✈ stands for Telegram (纸飞机); 丶 and 丿 are strokes used as dots.
    if c == '✈' {
        return Some((c, None));
    }
    if c.is_alphanumeric() && !matches!(c, '丶' | '丿') {
        return Some((c, None));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(text: &str) -> String {
        Folded::new(text).dense.iter().map(|u| u.c).collect()
    }

    #[test]
    fn separators_and_emoji_between_characters_are_dropped() {
        assert_eq!(dense("薇.信"), "薇信");
        assert_eq!(dense("威❤信 k_a-b*a/o|8 8"), "威信kabao88");
        assert_eq!(dense("w\u{200B}x"), "wx");
        assert_eq!(dense("加 V★：abc_123"), "加vabc123");
    }

    #[test]
    fn full_width_and_look_alike_letters_fold_to_ascii() {
        assert_eq!(dense("ｗｘ：ｋａｂａｏ８８"), "wxkabao88");
        assert_eq!(dense("Wх"), "wx", "a Cyrillic х");
        assert_eq!(dense("ⓥⓧ"), "vx");
        assert_eq!(dense("ẃx"), "wx");
    }

    #[test]
    fn digit_words_keep_their_ideograph_and_gain_a_value() {
        let f = Folded::new("一三八①❷");
        let digits: Vec<Option<u8>> = f.dense.iter().map(|u| u.digit).collect();
        assert_eq!(digits, vec![Some(1), Some(3), Some(8), Some(1), Some(2)]);
        assert_eq!(f.c(0), Some('一'));
    }

    #[test]
    fn spans_map_back_to_original_characters() {
        // The full-width colon and the spaces are not dense units; the map still points into the original.
        let f = Folded::new("ｖｘ： ａｂ");
        assert_eq!(f.dense.len(), 4);
        assert_eq!(f.span(2, 4), Some((4, 6)));
        // One original character that decomposes into several light ones maps to itself.
        let f = Folded::new("a⑩b");
        assert_eq!(dense("a⑩b"), "a10b");
        assert_eq!(f.span(1, 3), Some((1, 2)));
    }

    #[test]
    fn questions_are_known_per_clause() {
        let f = Folded::new("保证金是平台收的吗，好的。交钱?");
        assert!(f.in_question(0));
        assert!(!f.in_question(10));
        assert!(f.in_question(12));
    }
}
