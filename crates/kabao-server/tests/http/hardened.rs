//! Hardened HTTP: security headers and compression on every kind of response (page, JSON, CSS, JS, SVG, the 404
//! page, an error page, a redirect, an API error), request ids (header, error page, JSON error), `/metrics`
//! behind its token, favicon and robots.txt, and no inline script in any template.

use crate::app::{Res, TestApp, T0};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use kabao_core::vault::MasterKey;
use kabao_server::hardening::HttpSettings;
use kabao_server::{AppState, ManualClock, ServerConfig};
use std::io::Read;
use std::sync::Arc;
use tower::ServiceExt;

/// A router over a fresh store with the given HTTP settings (the TestApp's own has the defaults).
async fn router_with(config: ServerConfig, http: HttpSettings) -> (Router, Arc<AppState>) {
    let store: Arc<dyn kabao_store::Store> =
        Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
    store.migrate().await.unwrap();
    let keyring = kabao_app::keyring::load_or_create(&*store, &MasterKey::from_bytes([9; 32]), T0).await.unwrap();
    let state =
        Arc::new(AppState::new(store, Arc::new(keyring), config, Arc::new(ManualClock::new(T0))).with_http(http));
    (kabao_server::router(state.clone()), state)
}

async fn send_raw(router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let res = router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn get(path: &str, encoding: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(e) = encoding {
        b = b.header(header::ACCEPT_ENCODING, e);
    }
    b.body(Body::empty()).unwrap()
}

/// The headers every response must carry (whatever answered it).
pub fn assert_security_headers(headers: &HeaderMap, what: &str) {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let csp = h("content-security-policy");
    assert!(csp.contains("default-src 'self'") || csp.contains("default-src 'none'"), "{what}: CSP {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'") || csp.contains("sandbox"), "{what}: CSP {csp:?}");
    assert!(!csp.contains("unsafe-inline"), "{what}: CSP {csp:?}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(h("x-frame-options"), "DENY", "{what}");
    assert_eq!(h("referrer-policy"), "strict-origin-when-cross-origin", "{what}");
    let id = h("x-request-id");
    assert!(!id.is_empty() && id.len() <= 64, "{what}: request id {id:?}");
}

/// An HTML body runs no inline script and no inline handler, and has no inline style (all refused by the CSP).
pub fn assert_no_inline_script(html: &str, what: &str) {
    let lower = html.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("<script") {
        let tag_end = rest[i..].find('>').map(|j| i + j).unwrap_or(rest.len());
        let tag = &rest[i..tag_end];
        assert!(tag.contains(" src="), "{what}: an inline <script> ({tag})");
        assert!(rest[tag_end..].starts_with("></script>"), "{what}: a script tag with content ({tag})");
        rest = &rest[tag_end..];
    }
    for attr in
        [" onclick=", " onload=", " onsubmit=", " onchange=", " oninput=", " onerror=", " style=", "javascript:"]
    {
        assert!(!lower.contains(attr), "{what}: inline {attr}");
    }
}

fn decode(encoding: &str, body: &[u8]) -> String {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut out).unwrap();
        }
        "br" => {
            brotli_decompressor::Decompressor::new(body, 4096).read_to_end(&mut out).unwrap();
        }
        other => panic!("unexpected encoding {other}"),
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn every_kind_of_response_has_the_security_headers_and_text_is_compressed() {
    let app = TestApp::new().await;
    let (merchant, product) = app.merchant_with_product("hard_seller").await;
    let _ = merchant;
    let css = kabao_server::pages::css_href();
    let js = kabao_server::hardening::js_href();
    let icon = kabao_server::hardening::icon_href();
    let product_page = format!("/p/{product}");
    // (path, the content type it answers, whether a text body is expected to compress)
    let cases: Vec<(&str, &str, StatusCode, bool)> = vec![
        ("/", "text/html", StatusCode::OK, true),
        (&product_page, "text/html", StatusCode::OK, true),
        ("/api/v1/products", "application/json", StatusCode::OK, true),
        ("/api/openapi.json", "application/json", StatusCode::OK, true),
        (css, "text/css", StatusCode::OK, true),
        (js, "text/javascript", StatusCode::OK, true),
        (icon, "image/svg+xml", StatusCode::OK, true),
        ("/robots.txt", "text/plain", StatusCode::OK, false),
        ("/favicon.ico", "image/x-icon", StatusCode::OK, false),
        ("/no/such/page", "text/html", StatusCode::NOT_FOUND, true),
        ("/o/NO-SUCH-ORDER", "text/html", StatusCode::NOT_FOUND, true),
        ("/api/v1/orders/NO-SUCH", "application/json", StatusCode::NOT_FOUND, false),
        ("/api/v1/merchant/shop", "application/json", StatusCode::UNAUTHORIZED, false),
        ("/api/v1/no-such-route", "application/json", StatusCode::NOT_FOUND, false),
        ("/lang/en?next=/", "", StatusCode::SEE_OTHER, false),
        ("/console", "", StatusCode::SEE_OTHER, false),
        ("/healthz", "application/json", StatusCode::OK, false),
    ];
    for (path, ctype, status, compresses) in cases {
        let (plain_status, plain_headers, plain) = send_raw(&app.router, get(path, None)).await;
        assert_eq!(plain_status, status, "{path}");
        assert_security_headers(&plain_headers, path);
        assert!(plain_headers.get(header::CONTENT_ENCODING).is_none(), "{path}: not compressed unasked");
        let got_type = plain_headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(got_type.starts_with(ctype), "{path}: content type {got_type}");
        if got_type.starts_with("text/html") {
            assert_no_inline_script(&String::from_utf8_lossy(&plain), path);
        }
        for encoding in ["gzip", "br"] {
            let (s, headers, body) = send_raw(&app.router, get(path, Some(encoding))).await;
            assert_eq!(s, status, "{path} {encoding}");
            assert_security_headers(&headers, &format!("{path} ({encoding})"));
            let got = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_string);
            if compresses {
                assert_eq!(got.as_deref(), Some(encoding), "{path}: compressed with {encoding}");
                let vary = headers.get_all(header::VARY).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
                assert!(vary.iter().any(|v| v.to_ascii_lowercase().contains("accept-encoding")), "{path}: {vary:?}");
                assert!(body.len() < plain.len(), "{path}: {encoding} is smaller");
                let text = decode(encoding, &body);
                if path == css || path == js || path == icon {
                    assert_eq!(text.as_bytes(), &plain[..], "{path}: {encoding} decodes to the same bytes");
                } else {
                    assert!(
                        !text.is_empty() && (text.contains("<html") || text.starts_with('{') || text.starts_with('[')),
                        "{path}"
                    );
                }
            } else if got_type.starts_with("image/x-icon") {
                assert_eq!(got, None, "{path}: an icon is not recompressed");
            }
        }
    }
}

#[tokio::test]
async fn request_ids_reach_the_header_the_error_page_and_the_json_error() {
    let app = TestApp::new().await;
    // A well-formed id from the client is kept.
    let res = app
        .send(Request::get("/no/such/page").header("x-request-id", "support-case-42").body(Body::empty()).unwrap())
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.headers["x-request-id"], "support-case-42");
    assert!(res.body.contains("请向客服提供请求编号") && res.body.contains("support-case-42"), "{}", res.body);
    // English error page.
    let res = app.send(Request::get("/o/NO-SUCH").header("accept-language", "en").body(Body::empty()).unwrap()).await;
    let id = res.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "a generated id");
    assert!(res.body.contains("Quote this request id to support") && res.body.contains(&id), "{}", res.body);
    // A malformed one is replaced.
    for bad in ["has space", "semi;colon", &"x".repeat(65)] {
        let res = app
            .send(Request::get("/api/v1/merchant/shop").header("x-request-id", bad).body(Body::empty()).unwrap())
            .await;
        let id = res.headers["x-request-id"].to_str().unwrap();
        assert_ne!(id, bad);
        assert_eq!(res.json()["request_id"], id, "the JSON error quotes the header's id");
    }
    // JSON errors in both languages carry it.
    for lang in ["zh-CN", "en"] {
        let res = app
            .send(
                Request::get("/api/v1/merchant/shop")
                    .header("x-request-id", "abc-123")
                    .header("accept-language", lang)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["request_id"], "abc-123", "{lang}");
        assert_eq!(res.json()["error"], "auth.required");
    }
    // Two requests never share a generated id; successes carry one too.
    let a = app.get("/").await.headers["x-request-id"].clone();
    let b = app.get("/").await.headers["x-request-id"].clone();
    assert_ne!(a, b);
}

#[tokio::test]
async fn metrics_need_the_token_on_the_main_listener() {
    // No token configured: there is no /metrics here, whatever is sent.
    let (router, _) = router_with(ServerConfig::default(), HttpSettings::default()).await;
    let (s, h, _) = send_raw(&router, get("/metrics", None)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_security_headers(&h, "/metrics without a token configured");

    let token = "metrics-token-0123456789";
    let (router, state) =
        router_with(ServerConfig::default(), HttpSettings { metrics_token: Some(token.into()), public_url: None })
            .await;
    let with = |auth: Option<&str>| {
        let mut b = Request::get("/metrics");
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(Body::empty()).unwrap()
    };
    for refused in [None, Some("Bearer wrong-token-0123456789"), Some("Bearer "), Some(token), Some("Basic xyz")] {
        let (s, h, body) = send_raw(&router, with(refused)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{refused:?}");
        assert!(!String::from_utf8_lossy(&body).contains("kabao_http_requests_total"), "{refused:?}");
        assert_security_headers(&h, "/metrics refused");
    }
    let (s, _, body) = send_raw(&router, with(Some(&format!("Bearer {token}")))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("kabao_http_requests_total"));

    // The separate listener serves it without a token.
    let metrics = kabao_server::metrics_router(state);
    let (s, h, body) = send_raw(&metrics, get("/metrics", None)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("kabao_http_requests_total"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    // /healthz stays public on the main listener.
    let (s, _, _) = send_raw(&router, get("/healthz", None)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn hsts_only_when_the_public_url_is_https_and_gateway_hosts_join_form_action() {
    let (router, _) = router_with(ServerConfig::default(), HttpSettings::default()).await;
    let (_, h, _) = send_raw(&router, get("/", None)).await;
    assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());
    let http = HttpSettings { metrics_token: None, public_url: Some("http://shop.example".into()) };
    let (router, _) = router_with(ServerConfig::default(), http).await;
    let (_, h, _) = send_raw(&router, get("/", None)).await;
    assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());

    let https = HttpSettings { metrics_token: None, public_url: Some("https://shop.example".into()) };
    let (router, _) = router_with(crate::orders::epay_app_config(), https).await;
    for path in ["/", "/no/such", "/api/v1/products", "/lang/en"] {
        let (_, h, _) = send_raw(&router, get(path, None)).await;
        let hsts = h.get(header::STRICT_TRANSPORT_SECURITY).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(hsts.starts_with("max-age=31536000"), "{path}: {hsts:?}");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("form-action 'self' https://pay.example;"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn favicon_and_robots_are_served_and_cached() {
    let app = TestApp::new().await;
    let (s, h, body) = send_raw(&app.router, get("/favicon.ico", None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(&body[..4], &[0, 0, 1, 0], "an ICO file");
    assert!(h[header::CACHE_CONTROL].to_str().unwrap().contains("max-age"));
    let robots: Res = app.get("/robots.txt").await;
    assert!(robots.headers[header::CACHE_CONTROL].to_str().unwrap().contains("max-age"));
    for path in ["/o/", "/account", "/console", "/admin", "/arbiter", "/api/", "/wallet"] {
        assert!(robots.body.lines().any(|l| l == format!("Disallow: {path}")), "{path}");
    }
    assert!(robots.body.contains("Allow: /\n"));
    let home = app.get("/").await;
    assert!(home.body.contains(&format!(
        "<link rel=\"icon\" type=\"image/svg+xml\" href=\"{}\">",
        kabao_server::hardening::icon_href()
    )));
    assert!(home.body.contains(&format!("<script src=\"{}\" defer></script>", kabao_server::hardening::js_href())));
}

/// The templates themselves: a `<script>` only with `src`, no inline handlers or styles (a page the walk does not
/// reach cannot slip one in).
#[test]
fn no_template_has_inline_script_or_style() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "html") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_no_inline_script(&text, &path.display().to_string());
            seen += 1;
        }
    }
    assert!(seen > 10);
}
