//! Links: any URL or bare domain whose host is not on the caller's allow-list, and personal payment or chat
//! deep links (`wxp://`, `alipays://`, `tg://`) whatever their host.
//!
//! Links are read in a view of their own, built from the light view: spaces next to `.`, `/` or `:` are
//! dropped (`t . me / scamguy`), as are emoji and decorations between characters (`evil❤.com`), and `。` reads
//! as a dot; any other space or an ideograph ends a link. A dot or dash put inside a host changes the host, so
//! those are not undone.

use super::text::Folded;
use super::{rule, Hit, RiskCategory};

/// Top-level domains a bare `name.tld` is recognised by (with a scheme, any host counts).
const TLDS: &[&str] = &[
    "com", "net", "org", "cn", "me", "io", "cc", "co", "top", "xyz", "vip", "info", "biz", "app", "link", "site",
    "online", "shop", "store", "club", "ltd", "tk", "ml", "ga", "gq", "cf", "ru", "in", "hk", "tw", "la", "ly", "gl",
    "to", "us", "uk", "de", "jp", "kr", "tv", "ws", "pw", "fun", "icu", "cyou", "live", "pro", "work", "asia", "mobi",
    "name", "red", "wang", "ren", "xin", "ink", "tech", "space", "website", "click", "life", "world", "today", "one",
    "im", "sh", "gg",
];

/// Schemes that open a personal payment or a chat, never the platform.
const PERSONAL_SCHEMES: &[&str] =
    &["wxp", "weixin", "alipays", "alipay", "alipayqr", "tg", "mqqwpa", "mqqapi", "mqq", "whatsapp", "line"];

/// One character of the link view: the character and its light index.
#[derive(Debug, Clone, Copy)]
struct C {
    c: char,
    light: usize,
}

fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".:/-_?=&#%~@+".contains(c)
}

/// Decorations dropped between link characters: emoji, symbols, `*`, `|`.
fn is_decoration(c: char) -> bool {
    matches!(c, '*' | '|' | '^' | '`' | '\'' | '"')
        || (!c.is_ascii() && !c.is_alphanumeric() && !c.is_whitespace() && !is_cjk_punctuation(c))
}

fn is_cjk_punctuation(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}' | '“' | '”' | '‘' | '’' | '…' | '—')
}

/// The link view: runs of link characters (tokens), each a vector of characters with their light index.
fn tokens(f: &Folded) -> Vec<Vec<C>> {
    let mut out: Vec<Vec<C>> = Vec::new();
    let mut cur: Vec<C> = Vec::new();
    let light = &f.light;
    for (i, l) in light.iter().enumerate() {
        let c = match l.c {
            '。' => '.',
            // 点 between letters reads as a dot (t点me); the host check decides whether it was one.
            '点' if cur.last().is_some_and(|p| p.c.is_ascii_alphanumeric())
                && light.get(i + 1).is_some_and(|n| n.c.is_ascii_alphabetic()) =>
            {
                '.'
            }
            c => c,
        };
        if is_url_char(c) {
            cur.push(C { c, light: i });
            continue;
        }
        if is_decoration(c) {
            continue;
        }
        if c.is_whitespace() {
            let prev_joins = cur.last().is_some_and(|p| matches!(p.c, '.' | '/' | ':'));
            let next =
                light.get(i + 1..).and_then(|rest| rest.iter().find(|n| !n.c.is_whitespace() && !is_decoration(n.c)));
            let next_joins = next.is_some_and(|n| matches!(n.c, '.' | '/' | ':' | '。'));
            if prev_joins || next_joins {
                continue;
            }
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The caller's allow-list and [`super::OFFICIAL_HOSTS`]. The caller's hosts are normalised once per message,
/// and only when a link needs them: most messages have none, and this runs on every one.
struct Allowed<'a> {
    raw: &'a [String],
    normalised: std::cell::OnceCell<Vec<String>>,
}

impl Allowed<'_> {
    fn contains(&self, host: &str) -> bool {
        let normalised = self.normalised.get_or_init(|| {
            self.raw
                .iter()
                .map(|h| h.trim().trim_start_matches("*.").trim_matches('.').to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        });
        normalised
            .iter()
            .map(String::as_str)
            .chain(super::OFFICIAL_HOSTS.iter().copied())
            .any(|d| host == d || host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.')))
            || reserved(host)
    }
}

/// Whether links to `host` (lowercase) are left alone: an allowed host or a subdomain of one, an official
/// redemption site, a reserved name. The rules' link check and the second opinion's ([`super::scan_with_model`]).
pub(super) fn allowed_host(host: &str, allowed: &[String]) -> bool {
    Allowed { raw: allowed, normalised: std::cell::OnceCell::new() }.contains(host)
}

/// Names reserved for documentation and testing (RFC 2606, RFC 6761): `.example`, `.test`, `.invalid`,
/// `.localhost` and `example.com/net/org` resolve to nobody's site, so a link there leads no buyer away.
fn reserved(host: &str) -> bool {
    const TLDS: &[&str] = &["example", "test", "invalid", "localhost"];
    const NAMES: &[&str] = &["example.com", "example.net", "example.org"];
    let last = host.rsplit('.').next().unwrap_or(host);
    TLDS.contains(&last)
        || NAMES.iter().any(|d| host == *d || host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.')))
}

/// Flags links whose host is neither on the caller's allow-list nor an official redemption site.
pub(super) fn scan(f: &Folded, allowed: &[String], hits: &mut Vec<Hit>) {
    let allowed = Allowed { raw: allowed, normalised: std::cell::OnceCell::new() };
    for token in tokens(f) {
        for (a, b) in flagged_links(&token, &allowed) {
            if official_link(token.get(a..b).unwrap_or_default()) {
                continue;
            }
            let span =
                token.get(a).zip(token.get(b.saturating_sub(1))).and_then(|(x, y)| f.light_span(x.light, y.light + 1));
            if let Some(span) = span {
                hits.push(Hit { rule: rule::EXTERNAL_LINK, category: RiskCategory::OffPlatformPayment, span });
            }
        }
    }
}

/// Links an official product delivers on a host that is otherwise someone's chat: a Telegram Premium gift
/// (`t.me/giftcode/…`) is redeemed in Telegram itself, while `t.me/someone` is a contact.
const OFFICIAL_LINKS: &[&str] = &["t.me/giftcode"];

fn official_link(link: &[C]) -> bool {
    let text: String = link.iter().map(|c| c.c).collect();
    let bare = text.trim_start_matches("https://").trim_start_matches("http://");
    OFFICIAL_LINKS
        .iter()
        .any(|p| bare.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?'])))
}

/// The flagged links of one token, as index ranges into it.
fn flagged_links(token: &[C], allowed: &Allowed) -> Vec<(usize, usize)> {
    let chars: Vec<char> = token.iter().map(|c| c.c).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        // A scheme: letters, then "://".
        if chars.get(i).is_some_and(|c| c.is_ascii_alphabetic())
            && (i == 0 || !chars.get(i - 1).is_some_and(|c| c.is_ascii_alphanumeric()))
        {
            let scheme_end = (i..chars.len()).find(|&k| !chars.get(k).is_some_and(|c| c.is_ascii_alphanumeric()));
            if let Some(se) = scheme_end {
                if chars.get(se..se + 3) == Some(&[':', '/', '/']) {
                    let scheme: String = chars.get(i..se).map(|s| s.iter().collect()).unwrap_or_default();
                    let end = link_end(&chars, se + 3);
                    let host = host_after_scheme(&chars, se + 3, end);
                    let personal = PERSONAL_SCHEMES.contains(&scheme.as_str());
                    if personal || !host.is_empty() && !allowed.contains(&host) {
                        out.push((i, end));
                    }
                    i = end.max(i + 1);
                    continue;
                }
            }
        }
        // A bare host: labels with a known TLD, at the start of the token or after ':' or '+', not in a path,
        // a query or an e-mail address.
        let starts_host = chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric())
            && match i.checked_sub(1).and_then(|k| chars.get(k)) {
                None => true,
                Some(p) => matches!(p, ':' | '+'),
            };
        if starts_host {
            let run_end = (i..chars.len())
                .find(|&k| !chars.get(k).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')))
                .unwrap_or(chars.len());
            let host: String = chars.get(i..run_end).map(|s| s.iter().collect()).unwrap_or_default();
            let host = host.trim_end_matches(['.', '-']);
            let followed_by_at = chars.get(run_end) == Some(&'@');
            if is_bare_host(host) && !followed_by_at {
                let end = link_end(&chars, i);
                if !allowed.contains(host) {
                    out.push((i, end));
                }
                i = end.max(i + 1);
                continue;
            }
            i = run_end.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// The end of a link starting at `from`: the token's end, without trailing dots or dashes.
fn link_end(chars: &[char], from: usize) -> usize {
    let mut end = chars.len();
    while end > from && chars.get(end - 1).is_some_and(|c| matches!(c, '.' | '-' | ':' | '?' | '#' | '&')) {
        end -= 1;
    }
    end.max(from)
}

/// The host of `scheme://[user@]host[:port][/path]`.
fn host_after_scheme(chars: &[char], from: usize, end: usize) -> String {
    let authority: String = chars
        .get(from..end)
        .map(|s| s.iter().take_while(|c| !matches!(c, '/' | '?' | '#')).collect())
        .unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or("");
    host.split(':').next().unwrap_or("").trim_end_matches('.').to_string()
}

fn is_bare_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| TLDS.contains(tld))
}
