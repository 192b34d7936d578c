//! `TestApp`: a router over a fresh SQLite store, a fixed master key and a manual clock, driven like a user.
//! Like `serve --demo`, a TestApp has the sandbox gateway on (tests pay through it) unless built with
//! [`TestApp::production`], which keeps the configuration exactly as given (no sandbox by default).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use kabao_core::vault::MasterKey;
use kabao_core::Timestamp;
use kabao_server::{AppState, ManualClock, ServerConfig};
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

pub const T0: Timestamp = Timestamp::from_millis(1_790_000_000_000);

/// Switches the sandbox gateway on, as `serve --demo` does.
pub fn demo_like(config: ServerConfig) -> ServerConfig {
    ServerConfig { sandbox: Some(config.sandbox.unwrap_or_else(kabao_app::payments::SandboxConfig::random)), ..config }
}

pub struct TestApp {
    pub mail: Arc<kabao_app::mailer::MemoryMailer>,
    pub router: Router,
    pub state: Arc<AppState>,
    pub clock: Arc<ManualClock>,
    /// The second factors the harness enrolled ([`TestApp::enrol_totp`]), by user name.
    pub totp: std::sync::Mutex<HashMap<String, Enrolled>>,
}

/// A second factor the harness holds, as its owner would: the secret, the last time step a code was given for,
/// and the recovery codes not yet used.
pub struct Enrolled {
    pub secret: kabao_core::totp::TotpSecret,
    pub last_step: i64,
    pub recovery_codes: Vec<String>,
}

/// A response, read whole.
pub struct Res {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Res {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(ServerConfig::default()).await
    }

    /// A demo-like app: the sandbox gateway is switched on if the configuration leaves it off.
    pub async fn with_config(config: ServerConfig) -> TestApp {
        Self::production(demo_like(config)).await
    }

    /// The configuration as given: with `ServerConfig::default()`, no sandbox, as a plain `kabao serve`.
    pub async fn production(config: ServerConfig) -> TestApp {
        let store: Arc<dyn kabao_store::Store> =
            Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
        Self::with_store(store, config).await
    }

    /// A TestApp on a fresh PostgreSQL database, or `None` (after saying so) when no server is configured.
    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(ServerConfig::default()).await
    }

    /// Like [`TestApp::postgres`], with settings.
    pub async fn postgres_with(config: ServerConfig) -> Option<TestApp> {
        Self::postgres_with_gateway(config, None).await
    }

    /// Like [`TestApp::postgres_with`], with `gateway` registered too (see [`TestApp::with_gateway`]).
    pub async fn postgres_with_gateway(
        config: ServerConfig,
        gateway: Option<Arc<dyn kabao_app::gateways::Gateway>>,
    ) -> Option<TestApp> {
        let Some(admin_url) = std::env::var("KABAO_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
            assert!(
                std::env::var("KABAO_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "KABAO_REQUIRE_POSTGRES=1 but KABAO_TEST_DATABASE_URL is unset"
            );
            eprintln!("skipped: KABAO_TEST_DATABASE_URL not set");
            return None;
        };
        let name = format!("kabao_http_{:016x}", rand::random::<u64>());
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
        admin.close().await;
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let store = kabao_store::open(&format!("{base}/{name}")).await.unwrap();
        Some(Self::with_store_and(store, demo_like(config), gateway).await)
    }

    /// The configuration as given, with the gateways speaking HTTP through `http` (a fake gateway's tests).
    pub async fn production_with_http(config: ServerConfig, http: Arc<dyn kabao_app::gateways::HttpPort>) -> TestApp {
        let store: Arc<dyn kabao_store::Store> =
            Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
        Self::with_store_and_http(store, config, Some(http)).await
    }

    async fn with_store(store: Arc<dyn kabao_store::Store>, config: ServerConfig) -> TestApp {
        Self::with_store_and(store, config, None).await
    }

    /// A demo-like app on SQLite with `gateway` registered too (in place of a configured one with its id).
    pub async fn with_gateway(config: ServerConfig, gateway: Arc<dyn kabao_app::gateways::Gateway>) -> TestApp {
        let store: Arc<dyn kabao_store::Store> =
            Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
        Self::with_store_and(store, demo_like(config), Some(gateway)).await
    }

    async fn with_store_and(
        store: Arc<dyn kabao_store::Store>,
        config: ServerConfig,
        gateway: Option<Arc<dyn kabao_app::gateways::Gateway>>,
    ) -> TestApp {
        Self::with_store_gateway_http(store, config, gateway, None).await
    }

    async fn with_store_and_http(
        store: Arc<dyn kabao_store::Store>,
        config: ServerConfig,
        http: Option<Arc<dyn kabao_app::gateways::HttpPort>>,
    ) -> TestApp {
        Self::with_store_gateway_http(store, config, None, http).await
    }

    async fn with_store_gateway_http(
        store: Arc<dyn kabao_store::Store>,
        config: ServerConfig,
        gateway: Option<Arc<dyn kabao_app::gateways::Gateway>>,
        http: Option<Arc<dyn kabao_app::gateways::HttpPort>>,
    ) -> TestApp {
        store.migrate().await.unwrap();
        let keyring = kabao_app::keyring::load_or_create(&*store, &MasterKey::from_bytes([9; 32]), T0).await.unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let mail = Arc::new(kabao_app::mailer::MemoryMailer::default());
        let mut state = AppState::new(store, Arc::new(keyring), config, clock.clone()).with_mailer(mail.clone(), None);
        if let Some(http) = http {
            state.app = state.app.with_gateway_http(http);
        }
        if let Some(gateway) = gateway {
            state.app.gateways = state.app.gateways.clone().with(gateway);
        }
        let state = Arc::new(state);
        TestApp { mail, router: kabao_server::router(state.clone()), state, clock, totp: Default::default() }
    }

    pub async fn send(&self, req: Request<Body>) -> Res {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Res { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// A GET whose body is binary (a zip), read whole.
    pub async fn get_bytes(&self, path: &str, token: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut b = Request::get(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let res = self.router.clone().oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    pub async fn get(&self, path: &str) -> Res {
        self.send(Request::get(path).body(Body::empty()).unwrap()).await
    }

    /// A JSON API call, optionally with a bearer token.
    pub async fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>) -> Res {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())).unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    /// Registers a merchant through the API-less path and returns an API token for it.
    pub async fn merchant_token(&self, username: &str) -> String {
        kabao_app::accounts::create_user(
            &*self.state.store,
            username,
            "merchant-pass-1",
            kabao_core::user::Role::Merchant,
            None,
            T0,
        )
        .await
        .unwrap();
        self.token(username, "merchant-pass-1").await
    }

    /// The account named `username`, as stored now.
    pub async fn user(&self, username: &str) -> Option<kabao_store::User> {
        let mut tx = self.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.user_by_username(username).await.unwrap()
    }

    /// Seconds since the epoch on the test clock.
    pub fn now_s(&self) -> i64 {
        self.state.now().millis() / 1000
    }

    /// Enrols `username` in TOTP through the same use cases as the page (begin, then confirm with a code the
    /// test computes from the secret with `totp-rs`), keeps the secret and recovery codes, and returns the
    /// secret in base32. The confirming code is the previous step's, leaving two steps for logins at once.
    pub async fn enrol_totp(&self, username: &str) -> String {
        let user = self.user(username).await.unwrap_or_else(|| panic!("no user {username}"));
        let e = kabao_app::totp::begin_enrolment(&self.state, &user).await.unwrap();
        let secret = kabao_core::totp::TotpSecret::from_base32(&e.secret_grouped).unwrap();
        let step = kabao_core::totp::step_of(self.now_s()) - 1;
        let codes = kabao_app::totp::confirm_enrolment(&self.state, &user, &secret.code_for_step(step)).await.unwrap();
        let base32 = secret.base32().to_string();
        let enrolled = Enrolled { secret, last_step: step, recovery_codes: codes };
        self.totp.lock().unwrap().insert(username.to_string(), enrolled);
        base32
    }

    /// A second factor the server accepts for `username` now, as its owner would give it: the authenticator's
    /// code for the next unused step in the window, else (the window's steps all used at this clock time) one
    /// of the recovery codes. `None` if the harness did not enrol the account.
    pub fn second_factor(&self, username: &str) -> Option<String> {
        let mut all = self.totp.lock().unwrap();
        let e = all.get_mut(username)?;
        let now = kabao_core::totp::step_of(self.now_s());
        let next = (e.last_step + 1).max(now - kabao_core::totp::SKEW_STEPS);
        if next <= now + kabao_core::totp::SKEW_STEPS {
            e.last_step = next;
            return Some(e.secret.code_for_step(next));
        }
        e.recovery_codes.pop()
    }

    /// Enrols an admin or arbiter that must have a second factor and has none yet (forced enrolment).
    pub async fn enrol_if_required(&self, username: &str) {
        if self.user(username).await.is_some_and(|u| kabao_app::totp::needs_enrolment(&u)) {
            self.enrol_totp(username).await;
        }
    }

    /// An API token by user name and password, as `POST /api/v1/tokens` gives it; admins and arbiters are
    /// enrolled first, and an enrolled account's second factor is sent along.
    pub async fn token(&self, username: &str, password: &str) -> String {
        self.enrol_if_required(username).await;
        let mut body = serde_json::json!({"username": username, "password": password, "name": "test"});
        if let Some(code) = self.second_factor(username) {
            body["totp"] = serde_json::Value::String(code);
        }
        let res = self.api("POST", "/api/v1/tokens", None, Some(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.json()["token"].as_str().unwrap().to_string()
    }

    /// A merchant with a shop and one standard product; returns (token, product id).
    pub async fn merchant_with_product(&self, username: &str) -> (String, i64) {
        let token = self.merchant_token(username).await;
        let res = self
            .api(
                "POST",
                "/api/v1/merchant/shop",
                Some(&token),
                Some(serde_json::json!({"name": format!("{username} 的店")})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        // A name the risk scanner reads as contact details (wx_… is a WeChat id) holds the shop out of the catalog.
        assert_eq!(res.json()["under_review"], false, "the fixture shop is held for review: {}", res.body);
        let res = self
            .api(
                "POST",
                "/api/v1/merchant/products",
                Some(&token),
                Some(serde_json::json!({"title": "点卡 10 元", "category": "game_card", "kind": "standard", "price_fen": 990, "max_per_order": 5})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        (token, res.json()["id"].as_i64().unwrap())
    }

    pub async fn import(&self, token: &str, product: i64, file: &str) -> Res {
        let req = Request::post(format!("/api/v1/merchant/products/{product}/keys"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(file.to_string()))
            .unwrap();
        self.send(req).await
    }

    pub async fn stock(&self, product: i64) -> i64 {
        let mut tx = self.state.store.begin(kabao_store::TxMode::Read).await.unwrap();
        tx.product_by_id(kabao_core::ProductId(product)).await.unwrap().map(|p| p.stock_available).unwrap_or(-1)
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser { app: self, cookies: HashMap::new() }
    }
}

/// A cookie-keeping client for the pages.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: HashMap<String, String>,
}

impl Browser<'_> {
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, res: &Res) {
        for c in res.set_cookies() {
            let first = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = first.split_once('=') {
                if c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Res {
        let req = Request::get(path).header(header::COOKIE, self.cookie_header()).body(Body::empty()).unwrap();
        let res = self.app.send(req).await;
        self.keep(&res);
        res
    }

    pub fn csrf(&self) -> String {
        self.cookies.get("kabao_csrf").cloned().unwrap_or_default()
    }

    /// Posts a form as a browser would, with the CSRF field (pass `None` to leave it out).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)], csrf: Option<&str>) -> Res {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(c) = csrf {
            all.push(("_csrf", c));
        }
        let body = serde_urlencoded::to_string(&all).unwrap();
        let req = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let res = self.app.send(req).await;
        self.keep(&res);
        res
    }

    /// Posts a multipart form with one file field, as the import form does.
    pub async fn upload(&mut self, path: &str, csrf: &str, file: &[u8]) -> Res {
        let boundary = "----kabaotestboundary";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n").as_bytes(),
        );
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"keys.txt\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes());
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        let res = self.app.send(req).await;
        self.keep(&res);
        res
    }

    /// Posts a multipart form (text fields, then files under `files`), as the claim forms do.
    pub async fn post_multipart(&mut self, path: &str, fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Res {
        let (content_type, body) = crate::claims::multipart(fields, files);
        let req = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let res = self.app.send(req).await;
        self.keep(&res);
        res
    }

    /// Logs in through the page and stays logged in. Admins and arbiters are enrolled first; an account the
    /// harness enrolled gives its second factor on the code page (the response is then that page's answer).
    pub async fn login(&mut self, username: &str, password: &str) -> Res {
        self.app.enrol_if_required(username).await;
        let res = self.login_password(username, password).await;
        if !res.location().starts_with("/login/2fa") {
            return res;
        }
        let Some(code) = self.app.second_factor(username) else { return res };
        let csrf = self.csrf();
        self.post("/login/2fa", &[("code", &code)], Some(&csrf)).await
    }

    /// Only the password step of the login page (no enrolment, no second factor).
    pub async fn login_password(&mut self, username: &str, password: &str) -> Res {
        self.get("/login").await;
        let csrf = self.csrf();
        self.post("/login", &[("username", username), ("password", password)], Some(&csrf)).await
    }

    /// Registers through the page and stays logged in.
    pub async fn register(&mut self, username: &str, role: &str) -> Res {
        self.register_with(username, "correct horse battery", role).await
    }

    /// Registers through the page with this password, solving the sign-up challenge as `/static/pow.js` does.
    pub async fn register_with(&mut self, username: &str, password: &str, role: &str) -> Res {
        let page = self.get("/register").await;
        let (challenge, nonce) = solve_register_page(&page.body);
        let csrf = self.csrf();
        let fields = [
            ("username", username),
            ("password", password),
            ("role", role),
            ("pow_challenge", &challenge),
            ("pow_nonce", &nonce),
        ];
        self.post("/register", &fields, Some(&csrf)).await
    }
}

/// The register page's challenge and a nonce that solves it.
pub fn solve_register_page(body: &str) -> (String, String) {
    let attr = |name: &str| -> String {
        body.split(name)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .to_string()
    };
    let challenge = attr("name=\"pow_challenge\" value=\"");
    let difficulty: u8 = attr("data-pow-difficulty=\"").parse().unwrap();
    let nonce = kabao_core::pow::solve(&challenge, difficulty);
    (challenge, nonce)
}
