//! What every response gets, whatever answered it (a page, the API, a static file, an error, a redirect):
//! a request id (accepted from a well-formed `X-Request-Id` or made here; in the tracing span of the request,
//! in the response header, in error pages and JSON error bodies), the security headers (a Content-Security-Policy
//! without inline script, nosniff, a referrer policy, no framing, HSTS when served over https), and gzip or
//! brotli compression of text. Also the small public files (favicon, robots.txt, the page script) and the gate
//! in front of `/metrics`.

use crate::SharedState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The HTTP-only settings of a server (the application's own are in [`kabao_app::Config`]).
#[derive(Clone, Default)]
pub struct HttpSettings {
    /// `/metrics` on the main listener answers only `Authorization: Bearer <token>`; without a token it is 404
    /// there (serve it on a separate address with [`crate::metrics_router`] instead).
    pub metrics_token: Option<String>,
    /// The public base URL; when it is https every response carries `Strict-Transport-Security`.
    pub public_url: Option<String>,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "<redacted>"))
            .field("public_url", &self.public_url)
            .finish()
    }
}

pub const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being answered on this task, if any (error bodies and error pages quote it).
pub fn current_request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// A client's `X-Request-Id` is kept when it is 1–64 characters of `[A-Za-z0-9-]` (nothing that could forge a
/// log line or a header); anything else is replaced by one made here.
pub fn accepted_request_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| v.to_string())
}

/// 32 random hex digits.
pub fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The request's id, as an extension the trace span reads.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Gives the request its id: in the request (header and extension, for the trace span), on the task (for error
/// bodies and pages) and on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = accepted_request_id(req.headers()).unwrap_or_else(new_request_id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = CURRENT.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// The tracing span of a request: every log line inside it carries the request id.
pub fn request_span(req: &Request) -> tracing::Span {
    let id = req.extensions().get::<RequestId>().map(|r| r.0.as_str()).unwrap_or("-");
    tracing::info_span!("request", request_id = %id, method = %req.method(), uri = %req.uri().path())
}

/// The Content-Security-Policy of every response: scripts and styles only from our own origin (no inline script,
/// no inline style), images from us or `data:`, no plugins, no `<base>`, no framing. Forms post to us, or to
/// the payment gateways in `form_hosts`: a browser also checks the redirect that follows a form (Chromium
/// applies `form-action` to it), and the pay buttons end in a redirect to Alipay or 易支付.
pub fn content_security_policy(form_hosts: &[String]) -> String {
    let mut form_action = String::from("'self'");
    for h in form_hosts {
        form_action.push(' ');
        form_action.push_str(h);
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
         base-uri 'none'; form-action {form_action}; frame-ancestors 'none'"
    )
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL, for a CSP source list; `None` for anything
/// else (a source list must not get spaces, quotes or semicolons from configuration).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let ok = !authority.is_empty()
        && authority.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then(|| format!("{scheme}://{authority}"))
}

/// The headers every response gets, computed once per server.
#[derive(Clone)]
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeaders {
    pub fn for_state(state: &SharedState) -> SecurityHeaders {
        let mut form_hosts: Vec<String> = Vec::new();
        if let Some(e) = &state.config.epay {
            form_hosts.extend(origin_of(&e.submit_url));
        }
        if let Some(a) = &state.config.alipay {
            form_hosts.extend(origin_of(&a.gateway_url));
        }
        form_hosts.sort();
        form_hosts.dedup();
        let https = state.http.public_url.as_deref().is_some_and(|u| u.trim().starts_with("https://"));
        let mut headers = Vec::new();
        let mut add = |name: HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.push((name, v));
            }
        };
        add(header::CONTENT_SECURITY_POLICY, &content_security_policy(&form_hosts));
        add(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        add(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
        add(header::X_FRAME_OPTIONS, "DENY");
        if https {
            add(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
        }
        SecurityHeaders { headers }
    }
}

/// Sets the security headers on a response; a stricter policy a handler set itself (an evidence file's
/// sandbox) is kept.
pub async fn security_headers(State(sec): State<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in &sec.headers {
        if !h.contains_key(name) {
            h.insert(name.clone(), value.clone());
        }
    }
    res
}

/// gzip or brotli, as the client asks, for text (HTML, JSON, CSS, JS, SVG, plain text): never for images and
/// archives that are compressed already, nor for bodies too small to gain. Adds `Vary: Accept-Encoding`.
pub fn compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
    let predicate = SizeAbove::new(256)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::const_new("application/zip"))
        .and(NotForContentType::const_new("application/octet-stream"))
        .and(NotForContentType::const_new("text/event-stream"));
    // IMAGES spares `image/svg+xml` (text that compresses well).
    tower_http::compression::CompressionLayer::new().compress_when(predicate)
}

/// `/metrics` on the main listener: only with `Authorization: Bearer <metrics_token>` (compared in constant
/// time); without a configured token the route does not exist here (404).
pub async fn metrics_gate(State(state): State<SharedState>, req: Request) -> Response {
    let Some(token) = state.http.metrics_token.as_deref().filter(|t| !t.is_empty()) else {
        return crate::pages::not_found(State(state.clone()), req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !token_matches(given, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            axum::Json(serde_json::json!({"error": "metrics.token_required", "request_id": current_request_id()})),
        )
            .into_response();
    }
    crate::metrics::render(State(state)).await
}

/// Constant-time comparison of the digests, so neither the content nor the length of the token leaks.
fn token_matches(given: &str, token: &str) -> bool {
    use sha2::Digest;
    use subtle::ConstantTimeEq;
    let a = sha2::Sha256::digest(given.as_bytes());
    let b = sha2::Sha256::digest(token.as_bytes());
    bool::from(a.ct_eq(&b))
}

const APP_JS: &str = include_str!("../static/app.js");
const FAVICON_SVG: &str = include_str!("../static/favicon.svg");
const FAVICON_ICO: &[u8] = include_bytes!("../static/favicon.ico");

fn versioned(path: &str, content: &[u8]) -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(content));
    format!("{path}?v={}", &hash[..12])
}

/// `/static/app.js?v=<content hash>` (the page script: copy buttons), cached for a year like the stylesheet.
pub fn js_href() -> &'static str {
    static HREF: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| versioned("/static/app.js", APP_JS.as_bytes()));
    &HREF
}

/// `/static/favicon.svg?v=<content hash>`.
pub fn icon_href() -> &'static str {
    static HREF: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| versioned("/static/favicon.svg", FAVICON_SVG.as_bytes()));
    &HREF
}

const YEAR: &str = "public, max-age=31536000, immutable";
const DAY: &str = "public, max-age=86400";

pub async fn app_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, YEAR)], APP_JS).into_response()
}

pub async fn favicon_svg() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, YEAR)], FAVICON_SVG).into_response()
}

/// `/favicon.ico`: browsers and crawlers ask for it whatever the page links.
pub async fn favicon_ico() -> Response {
    ([(header::CONTENT_TYPE, "image/x-icon"), (header::CACHE_CONTROL, DAY)], FAVICON_ICO).into_response()
}

/// The catalog is for crawlers; orders, accounts, consoles, the API and wallets are not.
pub const ROBOTS_TXT: &str = "User-agent: *\n\
Disallow: /o/\n\
Disallow: /orders/\n\
Disallow: /account\n\
Disallow: /console\n\
Disallow: /admin\n\
Disallow: /arbiter\n\
Disallow: /api/\n\
Disallow: /wallet\n\
Disallow: /pay/\n\
Disallow: /login\n\
Disallow: /register\n\
Allow: /\n";

pub async fn robots_txt() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, DAY)], ROBOTS_TXT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_request_ids_are_kept() {
        let mut h = HeaderMap::new();
        assert_eq!(accepted_request_id(&h), None);
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-DEF-123"));
        assert_eq!(accepted_request_id(&h).as_deref(), Some("abc-DEF-123"));
        for bad in ["", "a b", "a_b", "x\"y", "ü"] {
            if let Ok(v) = HeaderValue::from_str(bad) {
                h.insert(REQUEST_ID, v);
                assert_eq!(accepted_request_id(&h), None, "{bad:?}");
            }
        }
        h.insert(REQUEST_ID, HeaderValue::from_str(&"a".repeat(65)).unwrap_or(HeaderValue::from_static("-")));
        assert_eq!(accepted_request_id(&h), None);
        h.insert(REQUEST_ID, HeaderValue::from_str(&"a".repeat(64)).unwrap_or(HeaderValue::from_static("-")));
        assert_eq!(accepted_request_id(&h).map(|s| s.len()), Some(64));
        assert_eq!(new_request_id().len(), 32);
    }

    #[test]
    fn gateway_origins_join_form_action_and_nothing_else_gets_in() {
        assert_eq!(origin_of("https://openapi.alipay.com/gateway.do").as_deref(), Some("https://openapi.alipay.com"));
        assert_eq!(origin_of("http://pay.example:8080/submit.php?x=1").as_deref(), Some("http://pay.example:8080"));
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a.example; script-src *"), None);
        let csp = content_security_policy(&["https://openapi.alipay.com".into()]);
        assert!(csp.contains("form-action 'self' https://openapi.alipay.com;"), "{csp}");
        assert!(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"), "{csp}");
    }

    #[test]
    fn metrics_tokens_compare_whole() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        assert!(!token_matches("s3cret-toke", "s3cret-token"));
        assert!(!token_matches("", "s3cret-token"));
    }
}
