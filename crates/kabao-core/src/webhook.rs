//! Merchant webhooks: the event kinds a merchant may subscribe to, the JSON a delivery carries, the retry
//! schedule and the rule on which URLs may be called. Pure: the app resolves names and sends; this decides.
//!
//! The signature on a delivery is [`crate::signature`]'s (`Kabao-Signature: t=…,v1=…`); the event id travels in
//! [`EVENT_ID_HEADER`] so a receiver can drop a delivery it has already handled (a re-send keeps the id).

use crate::Lang;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The header carrying the event id (the same on every attempt and on a manual re-send).
pub const EVENT_ID_HEADER: &str = "Kabao-Event-Id";
/// The header naming the event kind, e.g. `order.paid`.
pub const EVENT_KIND_HEADER: &str = "Kabao-Event";
/// Attempts of one delivery before it is marked failed.
pub const MAX_ATTEMPTS: i32 = 8;
/// The wait after the first failed attempt; each further failure doubles it, up to [`MAX_BACKOFF_SECONDS`].
pub const BASE_BACKOFF_SECONDS: i64 = 30;
pub const MAX_BACKOFF_SECONDS: i64 = 6 * 3600;
/// How long before a claim's merchant deadline `claim.deadline_soon` is sent.
pub const DEADLINE_SOON_SECONDS: i64 = 2 * 3600;
/// How much of a receiver's answer is kept with the delivery (bytes).
pub const RESPONSE_EXCERPT_BYTES: usize = 512;
/// `stock.low` fires below this stock for a product whose merchant set no threshold of its own.
pub const DEFAULT_STOCK_LOW: i64 = 5;
/// The highest threshold a merchant may set (stock at or above it can never cross one).
pub const MAX_STOCK_LOW: i64 = 1_000_000;
/// The longest endpoint URL accepted.
pub const MAX_URL_CHARS: usize = 500;

/// What a merchant can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EventKind {
    OrderPaid,
    ClaimOpened,
    ClaimDeadlineSoon,
    DisputeOpened,
    DisputeDecided,
    StockLow,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::OrderPaid,
        EventKind::ClaimOpened,
        EventKind::ClaimDeadlineSoon,
        EventKind::DisputeOpened,
        EventKind::DisputeDecided,
        EventKind::StockLow,
    ];

    /// The name in payloads, headers and the API, e.g. `order.paid`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::OrderPaid => "order.paid",
            EventKind::ClaimOpened => "claim.opened",
            EventKind::ClaimDeadlineSoon => "claim.deadline_soon",
            EventKind::DisputeOpened => "dispute.opened",
            EventKind::DisputeDecided => "dispute.decided",
            EventKind::StockLow => "stock.low",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            EventKind::OrderPaid => lang.pick("订单已付款", "Order paid"),
            EventKind::ClaimOpened => lang.pick("新售后申请", "Claim opened"),
            EventKind::ClaimDeadlineSoon => lang.pick("售后处理期限将至（2 小时）", "Claim deadline in 2 hours"),
            EventKind::DisputeOpened => lang.pick("平台介入已开启", "Dispute opened"),
            EventKind::DisputeDecided => lang.pick("平台已裁决", "Dispute decided"),
            EventKind::StockLow => lang.pick("库存不足", "Stock low"),
        }
    }
}

/// Parses a list of event names (as a form or the API gives them); unknown names, an empty list and
/// duplicates are refused by name.
pub fn parse_kinds<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<EventKind>, WebhookError> {
    let mut kinds = Vec::new();
    for name in names {
        let name = name.trim();
        let kind = EventKind::parse(name).ok_or_else(|| WebhookError::UnknownEvent(name.chars().take(40).collect()))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(WebhookError::NoEvents);
    }
    kinds.sort();
    Ok(kinds)
}

/// The body of a delivery: `{"id","type","created","shop_id","data"}`. Built once when the event happens and
/// stored, so every attempt and every re-send signs the same bytes.
pub fn payload(event_id: &str, kind: EventKind, created_unix: i64, shop_id: i64, data: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "id": event_id,
        "type": kind.as_str(),
        "created": created_unix,
        "shop_id": shop_id,
        "data": data,
    })
    .to_string()
    .into_bytes()
}

/// When to try again after `attempts` attempts have failed (1 = the first one), in seconds from now; `None` once
/// [`MAX_ATTEMPTS`] is reached and the delivery is failed for good.
pub fn retry_after_seconds(attempts: i32) -> Option<i64> {
    if !(1..MAX_ATTEMPTS).contains(&attempts) {
        return None;
    }
    let doublings = u32::try_from(attempts - 1).unwrap_or(0).min(20);
    Some(BASE_BACKOFF_SECONDS.saturating_mul(1i64 << doublings).min(MAX_BACKOFF_SECONDS))
}

/// Whether a receiver's status code counts as delivered.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// `stock.low` fires when a sale or re-issue takes the stock from at or above the threshold to below it, not on
/// every sale while it stays low.
pub fn stock_crossed_low(before: i64, after: i64, threshold: i64) -> bool {
    threshold > 0 && before >= threshold && after < threshold
}

/// What the platform allows beyond public https endpoints (both off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allow_http: bool,
    pub allow_private: bool,
}

/// An endpoint URL that passed the syntax rules: https (or http if allowed), a host, no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    url: String,
    host: String,
    port: u16,
}

impl EndpointUrl {
    pub fn as_str(&self) -> &str {
        &self.url
    }
    /// The host as written (brackets removed from an IPv6 literal).
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl UrlPolicy {
    /// Checks the text of a URL. The addresses its host resolves to are checked with [`UrlPolicy::address_allowed`]
    /// at registration and again before every attempt (a name may be pointed elsewhere later).
    pub fn parse(&self, text: &str) -> Result<EndpointUrl, WebhookError> {
        let url = text.trim();
        if url.is_empty()
            || url.chars().count() > MAX_URL_CHARS
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(WebhookError::BadUrl);
        }
        let (scheme, rest) = url.split_once("://").ok_or(WebhookError::BadUrl)?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "https" => 443,
            "http" if self.allow_http => 80,
            "http" => return Err(WebhookError::PlainHttp),
            _ => return Err(WebhookError::BadUrl),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Err(WebhookError::BadUrl);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(WebhookError::BadUrl)?;
            let port = match after {
                "" => default_port,
                p => p.strip_prefix(':').and_then(|p| p.parse().ok()).ok_or(WebhookError::BadUrl)?,
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| WebhookError::BadUrl)?),
                None => (authority.to_string(), default_port),
            }
        };
        let host = host.to_ascii_lowercase();
        let valid_name = host
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if host.is_empty() || port == 0 || (host.parse::<IpAddr>().is_err() && !valid_name) {
            return Err(WebhookError::BadUrl);
        }
        if !self.allow_private {
            if host == "localhost" || host.ends_with(".localhost") {
                return Err(WebhookError::PrivateAddress);
            }
            if let Ok(ip) = host.parse::<IpAddr>() {
                if !self.address_allowed(ip) {
                    return Err(WebhookError::PrivateAddress);
                }
            }
        }
        Ok(EndpointUrl { url: url.to_string(), host, port })
    }

    /// Whether a resolved address may be called: a public unicast address, unless private ones are allowed.
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let [first, second, ..] = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0) // NAT64 prefix itself
                || first == 0x2001 && second == 0x0db8) // documentation
        }
    }
}

/// Why an endpoint or a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("not a valid https URL")]
    BadUrl,
    #[error("plain http is not allowed")]
    PlainHttp,
    #[error("the address is private, loopback or otherwise not public")]
    PrivateAddress,
    #[error("the host name does not resolve")]
    Unresolvable,
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    #[error("no events chosen")]
    NoEvents,
}

impl crate::Localized for WebhookError {
    fn code(&self) -> &'static str {
        match self {
            WebhookError::BadUrl => "webhook.bad_url",
            WebhookError::PlainHttp => "webhook.plain_http",
            WebhookError::PrivateAddress => "webhook.private_address",
            WebhookError::Unresolvable => "webhook.unresolvable",
            WebhookError::UnknownEvent(_) => "webhook.unknown_event",
            WebhookError::NoEvents => "webhook.no_events",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            WebhookError::UnknownEvent(_) | WebhookError::NoEvents => Some("events"),
            _ => Some("url"),
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            WebhookError::BadUrl => {
                lang.pick("地址无效：请填写完整的 https:// 地址", "Invalid URL: give a full https:// address").into()
            }
            WebhookError::PlainHttp => lang.pick("只接受 https 地址", "Only https URLs are accepted").into(),
            WebhookError::PrivateAddress => lang
                .pick(
                    "该地址指向内网、本机或保留地址，不能用作回调",
                    "The URL points to a private, loopback or reserved address and cannot be used",
                )
                .into(),
            WebhookError::Unresolvable => lang.pick("无法解析该域名", "The host name does not resolve").into(),
            WebhookError::UnknownEvent(name) => match lang {
                Lang::Zh => format!("未知的事件类型：{name}"),
                Lang::En => format!("Unknown event: {name}"),
            },
            WebhookError::NoEvents => lang.pick("请至少选择一个事件", "Choose at least one event").into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kinds_round_trip_and_unknown_names_are_refused() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(
            parse_kinds(["order.paid", "stock.low", "order.paid"]),
            Ok(vec![EventKind::OrderPaid, EventKind::StockLow])
        );
        assert_eq!(parse_kinds(["order.refunded"]), Err(WebhookError::UnknownEvent("order.refunded".into())));
        assert_eq!(parse_kinds([]), Err(WebhookError::NoEvents));
    }

    #[test]
    fn backoff_doubles_is_capped_and_stops_at_the_bound() {
        assert_eq!(retry_after_seconds(1), Some(30));
        assert_eq!(retry_after_seconds(2), Some(60));
        assert_eq!(retry_after_seconds(7), Some(30 * 64));
        assert_eq!(retry_after_seconds(MAX_ATTEMPTS), None);
        assert_eq!(retry_after_seconds(0), None);
    }

    proptest! {
        #[test]
        fn backoff_never_shrinks_and_stays_bounded(n in 1i32..MAX_ATTEMPTS - 1) {
            let a = retry_after_seconds(n).unwrap();
            let b = retry_after_seconds(n + 1).unwrap();
            prop_assert!(a <= b && b <= MAX_BACKOFF_SECONDS && a >= BASE_BACKOFF_SECONDS);
        }
    }

    #[test]
    fn urls_are_https_public_and_without_credentials_by_default() {
        let strict = UrlPolicy::default();
        let ok = strict.parse("https://hooks.example.com/kabao?x=1").unwrap();
        assert_eq!((ok.host(), ok.port()), ("hooks.example.com", 443));
        assert_eq!(strict.parse("https://example.com:8443/").unwrap().port(), 8443);
        assert_eq!(strict.parse("http://example.com/"), Err(WebhookError::PlainHttp));
        for private in [
            "https://127.0.0.1/",
            "https://localhost/",
            "https://10.1.2.3/",
            "https://192.168.1.1:8443/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
        ] {
            assert_eq!(strict.parse(private), Err(WebhookError::PrivateAddress), "{private}");
        }
        for bad in
            ["", "example.com", "ftp://example.com/", "https://user:pw@example.com/", "https:///x", "https://a b/"]
        {
            assert_eq!(strict.parse(bad), Err(WebhookError::BadUrl), "{bad}");
        }
        let open = UrlPolicy { allow_http: true, allow_private: true };
        assert_eq!(open.parse("http://127.0.0.1:8080/hook").unwrap().port(), 8080);
        assert!(open.address_allowed("127.0.0.1".parse().unwrap()));
        assert!(!strict.address_allowed("127.0.0.1".parse().unwrap()));
        assert!(strict.address_allowed("93.184.216.34".parse().unwrap()));
        assert!(strict.address_allowed("2606:2800:220:1::1".parse().unwrap()));
    }

    #[test]
    fn stock_low_fires_once_when_crossing() {
        assert!(stock_crossed_low(5, 4, 5));
        assert!(!stock_crossed_low(4, 3, 5));
        assert!(!stock_crossed_low(9, 5, 5));
        assert!(!stock_crossed_low(3, 0, 0));
    }
}
