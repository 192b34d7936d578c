//! Who is asking, in HTTP terms: the session and CSRF cookies, the language choice, bearer API tokens, and the
//! extractors that admit a request by role (API caller, merchant, admin, arbiter). Session ids and tokens are
//! 256 random bits; only SHA-256 is stored ([`kabao_app::sessions`] keeps them).

use crate::error::ApiError;
use crate::pages::{see_other, Ctx};
use crate::{AppState, SharedState};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kabao_app::sessions::well_formed_token;
use kabao_core::user::Role;
use kabao_core::Lang;
use kabao_store::User;
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "kabao_session";
pub const CSRF_COOKIE: &str = "kabao_csrf";
pub const LANG_COOKIE: &str = "lang";
/// The hidden form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
pub use kabao_app::secrets::{random_token, sha256};
pub use kabao_app::sessions::{CreatedToken, TOKEN_PREFIX};

/// The value of a cookie in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value. `max_age_seconds = Some(0)` deletes the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_seconds: Option<i64>,
    http_only: bool,
    same_site: &str,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; SameSite={same_site}");
    if let Some(age) = max_age_seconds {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The language of a request: the `lang` cookie, else `Accept-Language`, else zh-CN.
pub fn request_lang(headers: &HeaderMap) -> Lang {
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(Lang::from_tag) {
        return l;
    }
    headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|first| Lang::from_tag(first.split(';').next().unwrap_or_default()))
        .unwrap_or_default()
}

/// Creates a session for a user and returns the cookie to set. A fresh id at every login (no fixation).
pub async fn start_session(state: &AppState, user: &User) -> Result<HeaderValue, ApiError> {
    let token = kabao_app::sessions::start_session(state, user).await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        &token,
        Some(state.config.session_ttl_hours * 3600),
        true,
        "Lax",
        state.config.secure_cookies,
    ))
}

/// [`start_session`], recording the client's address and browser for the sessions page.
pub async fn start_session_from(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<HeaderValue, ApiError> {
    let user_agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    let origin = kabao_app::sessions::Origin { ip, user_agent };
    let token = kabao_app::sessions::start_session_from(state, user, &origin).await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        &token,
        Some(state.config.session_ttl_hours * 3600),
        true,
        "Lax",
        state.config.secure_cookies,
    ))
}

/// Ends the request's session (if any) and returns the cookie that clears it.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        kabao_app::sessions::end_session(state, token).await?;
    }
    Ok(set_cookie(SESSION_COOKIE, "", Some(0), true, "Lax", state.config.secure_cookies))
}

async fn session_user(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(kabao_app::sessions::session_user(state, token).await?)
}

/// The session's user as [`forced_enrolment`] looked it up, so [`Visitor`] does not look again.
#[derive(Clone)]
struct SessionLookup(Option<User>);

/// The cookie carrying a pending login's second-step token (see [`kabao_app::totp::start_login_challenge`]).
pub const LOGIN_CHALLENGE_COOKIE: &str = "kabao_login2fa";

/// Paths an admin or arbiter without a second factor may still reach: the enrolment pages, logging out, the
/// language switch and static files.
fn allowed_before_enrolment(path: &str) -> bool {
    path == "/account/2fa"
        || path.starts_with("/account/2fa/")
        || path == "/logout"
        || path.starts_with("/lang/")
        || path.starts_with("/static/")
}

/// Page middleware: an admin or arbiter signed in without TOTP reaches only the enrolment page (and logout,
/// static files); every other page redirects there, where the reason is explained. The session's user is
/// handed on to [`Visitor`].
pub async fn forced_enrolment(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/static/") {
        // Files for everyone: no session to look up.
        return next.run(req).await;
    }
    let user = match session_user(&state, req.headers()).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    if user.as_ref().is_some_and(kabao_app::totp::needs_enrolment) && !allowed_before_enrolment(req.uri().path()) {
        return see_other("/account/2fa");
    }
    req.extensions_mut().insert(SessionLookup(user));
    next.run(req).await
}

/// The CSRF token minted for a request that had none (set by [`csrf_cookie`], read by [`Visitor`]).
#[derive(Clone)]
struct MintedCsrf(String);

/// Gives every page visitor a CSRF cookie: forms carry the same value in a hidden field (double submit).
pub async fn csrf_cookie(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    let has = cookie(req.headers(), CSRF_COOKIE).is_some_and(well_formed_token);
    let minted = if has { None } else { Some(random_token()) };
    if let Some(m) = &minted {
        req.extensions_mut().insert(MintedCsrf(m.clone()));
    }
    let has_device = cookie(req.headers(), DEVICE_COOKIE).is_some_and(well_formed_token);
    let mut res = next.run(req).await;
    if let Some(m) = minted {
        res.headers_mut()
            .append(SET_COOKIE, set_cookie(CSRF_COOKIE, &m, None, true, "Strict", state.config.secure_cookies));
    }
    if !has_device {
        let max_age = Some(2 * 365 * 86_400);
        res.headers_mut().append(
            SET_COOKIE,
            set_cookie(DEVICE_COOKIE, &random_token(), max_age, true, "Lax", state.config.secure_cookies),
        );
    }
    res
}

/// A long-lived random id of the browser, set on the first page; orders record it, so a claim can show that
/// many buyer accounts ordered from one device (a buyer-abuse signal, never a penalty by itself).
pub const DEVICE_COOKIE: &str = "kb_dev";

/// The browser's device id, if it has a well-formed one.
pub fn device_id(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, DEVICE_COOKIE).filter(|t| well_formed_token(t))
}

/// A page visitor: maybe logged in, with a language and a CSRF token for the forms on the page.
#[derive(Clone)]
pub struct Visitor {
    pub user: Option<User>,
    pub lang: Lang,
    pub csrf: String,
    pub ip: Option<IpAddr>,
    /// Path and query of the request, for "back to where you were" links.
    pub path: String,
    /// The sandbox gateway is on (a demo): pages carry the simulated-payments banner.
    pub demo: bool,
}

impl Visitor {
    /// Checks a submitted CSRF token against the cookie, in constant time.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), ApiError> {
        Ok(kabao_app::sessions::check_csrf(&self.csrf, submitted)?)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.user.as_ref().is_some_and(|u| u.role == role)
    }
}

/// The request header through which the client's address reaches handlers that only see headers (the API's
/// guest order access). Set by [`client_ip_and_retry_after`] on every request; a client's own is discarded.
pub const CLIENT_IP_HEADER: &str = "x-kabao-client-ip";

/// The client's address as [`client_ip_and_retry_after`] recorded it.
pub fn client_ip_of(headers: &axum::http::HeaderMap) -> Option<IpAddr> {
    headers.get(CLIENT_IP_HEADER)?.to_str().ok()?.parse().ok()
}

/// Outermost middleware: records the client's address for handlers (replacing any the client sent), and makes
/// sure every 429 says when to come back (`Retry-After`; the throttles set their exact wait, this is the floor).
pub async fn client_ip_and_retry_after(
    axum::extract::State(state): axum::extract::State<SharedState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = req.into_parts();
    parts.headers.remove(CLIENT_IP_HEADER);
    if let Some(ip) = client_ip(&parts, state.config.trust_proxy) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&ip.to_string()) {
            parts.headers.insert(CLIENT_IP_HEADER, v);
        }
    }
    let mut res = next.run(axum::extract::Request::from_parts(parts, body)).await;
    if res.status() == axum::http::StatusCode::TOO_MANY_REQUESTS
        && !res.headers().contains_key(axum::http::header::RETRY_AFTER)
    {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("60"));
    }
    res
}

/// The client's address: the socket peer, or — only when the server is configured to sit behind a trusted
/// reverse proxy — the last address that proxy appended to `X-Forwarded-For` (earlier entries are the
/// client's own claims and cannot be trusted).
fn client_ip(parts: &Parts, trust_proxy: bool) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip());
    if !trust_proxy {
        return peer;
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .next_back();
    forwarded.or(peer)
}

impl FromRequestParts<SharedState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let user = match parts.extensions.get::<SessionLookup>() {
            Some(found) => found.0.clone(),
            None => session_user(state, &parts.headers).await?,
        };
        let csrf = match parts.extensions.get::<MintedCsrf>() {
            Some(m) => m.0.clone(),
            None => cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default().to_string(),
        };
        Ok(Visitor {
            user,
            lang: request_lang(&parts.headers),
            csrf,
            ip: client_ip(parts, state.config.trust_proxy),
            path: parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into()),
            demo: state.config.sandbox.is_some(),
        })
    }
}

/// An API caller authenticated by `Authorization: Bearer kb_...`.
pub struct ApiUser(pub User);

impl FromRequestParts<SharedState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or_else(ApiError::unauthorized)?;
        Ok(ApiUser(kabao_app::sessions::api_token_user(state, token).await?))
    }
}

/// The credentials of `Authorization: Bearer <token>` (the scheme name is case-insensitive, RFC 9110 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// An API caller with a merchant account. Anyone else is refused with 403 `auth.merchant_only` before the
/// path's object is looked up or the body is read, so a wrong role is never answered with an empty list or
/// a 404 that depends on someone's data.
pub struct ApiMerchant(pub User);

impl FromRequestParts<SharedState> for ApiMerchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let ApiUser(user) = ApiUser::from_request_parts(parts, state).await?;
        if user.role != Role::Merchant {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "auth.merchant_only",
                "此操作只对商家账号开放",
                "This is for merchant accounts only",
            ));
        }
        Ok(ApiMerchant(user))
    }
}

impl ApiUser {
    pub fn require(self, role: Role) -> Result<User, ApiError> {
        if self.0.role == role {
            Ok(self.0)
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// Creates an API token for a user (the console's form and the API answer its refusal as an [`ApiError`]).
pub async fn create_api_token(state: &AppState, user: &User, name: &str) -> Result<CreatedToken, ApiError> {
    Ok(kabao_app::sessions::create_api_token(state, user, name).await?)
}

/// A bearer token if one is sent; guests send none.
pub struct MaybeApiUser(pub Option<User>);

impl FromRequestParts<SharedState> for MaybeApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            Ok(MaybeApiUser(Some(ApiUser::from_request_parts(parts, state).await?.0)))
        } else {
            Ok(MaybeApiUser(None))
        }
    }
}

/// The logged-in merchant, or the response that sends everyone else away.
// The error is the response itself (a redirect or a 403 page); boxing it would buy nothing on this cold path.
#[allow(clippy::result_large_err)]
fn merchant(v: &Visitor) -> Result<User, Response> {
    match &v.user {
        None => Err(see_other(&format!("/login?next={}", Ctx::new(v).path_encoded()))),
        Some(u) if u.role == Role::Merchant => Ok(u.clone()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.merchant_only",
            "商家后台只对商家账号开放",
            "The merchant console is for merchant accounts",
        )
        .into_response()),
    }
}

/// The logged-in merchant behind a request; anyone else is sent to log in, or shown a 403 page.
pub struct MerchantVisitor {
    pub v: Visitor,
    pub user: User,
}

impl axum::extract::FromRequestParts<SharedState> for MerchantVisitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &SharedState) -> Result<Self, Response> {
        let v = Visitor::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let user = merchant(&v)?;
        Ok(MerchantVisitor { v, user })
    }
}

// The error is the response itself (a redirect or a 403 page); boxing it would buy nothing on this cold path.
#[allow(clippy::result_large_err)]
fn admin(v: &Visitor) -> Result<User, Response> {
    match &v.user {
        None => Err(see_other(&format!("/login?next={}", Ctx::new(v).path_encoded()))),
        Some(u) if u.role == Role::Admin => Ok(u.clone()),
        Some(_) => Err(ApiError::forbidden().into_response()),
    }
}

/// The logged-in admin behind a request; anyone else is sent to log in, or shown a 403 page.
pub struct AdminVisitor {
    pub v: Visitor,
    pub user: User,
}

impl axum::extract::FromRequestParts<SharedState> for AdminVisitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &SharedState) -> Result<Self, Response> {
        let v = Visitor::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let user = admin(&v)?;
        Ok(AdminVisitor { v, user })
    }
}

/// The logged-in arbiter behind a request; anyone else is sent to log in, or shown a 403 page.
pub struct ArbiterVisitor {
    pub v: Visitor,
    pub user: User,
}

impl axum::extract::FromRequestParts<SharedState> for ArbiterVisitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &SharedState) -> Result<Self, Response> {
        let v = Visitor::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        match &v.user {
            None => Err(see_other(&format!("/login?next={}", Ctx::new(&v).path_encoded()))),
            Some(u) if u.role == Role::Arbiter => {
                let user = u.clone();
                Ok(ArbiterVisitor { v, user })
            }
            Some(_) => Err(ApiError::forbidden().into_response()),
        }
    }
}

/// The client's IP address, when the server knows it (not behind a unix socket or in tests without one).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<SharedState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state.config.trust_proxy)))
    }
}

/// The language a request asked for.
pub struct ReqLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for ReqLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ReqLang(request_lang(&parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_parsed_and_built_with_flags() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; kabao_session=abc; lang=en"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(request_lang(&h), Lang::En);
        let c = set_cookie(SESSION_COOKIE, "v", Some(60), true, "Lax", true);
        assert_eq!(c.to_str().unwrap(), "kabao_session=v; Path=/; SameSite=Lax; Max-Age=60; HttpOnly; Secure");
    }

    #[test]
    fn accept_language_picks_english_and_defaults_to_chinese() {
        let mut h = HeaderMap::new();
        assert_eq!(request_lang(&h), Lang::Zh);
        h.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("en-US,en;q=0.9"));
        assert_eq!(request_lang(&h), Lang::En);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer kb_x"), Some("kb_x"));
        assert_eq!(bearer("bearer  kb_x "), Some("kb_x"));
        assert_eq!(bearer("Basic a2JfeA=="), None);
        assert_eq!(bearer("Bearerkb_x"), None);
    }

    #[test]
    fn forwarded_for_is_used_only_behind_a_trusted_proxy() {
        let req =
            axum::http::Request::get("/").header("x-forwarded-for", "1.2.3.4, 10.0.0.7").body(()).unwrap_or_default();
        let (mut parts, _) = req.into_parts();
        parts.extensions.insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        assert_eq!(client_ip(&parts, false), Some(IpAddr::from([127, 0, 0, 1])), "untrusted header ignored");
        assert_eq!(
            client_ip(&parts, true),
            Some(IpAddr::from([10, 0, 0, 7])),
            "the proxy's own entry, not the client's claim"
        );
    }

    #[test]
    fn csrf_check_is_exact() {
        let v = Visitor { user: None, lang: Lang::Zh, csrf: random_token(), ip: None, path: "/".into(), demo: false };
        assert!(v.check_csrf(Some(&v.csrf.clone())).is_ok());
        assert!(v.check_csrf(None).is_err());
        assert!(v.check_csrf(Some("x")).is_err());
        let empty = Visitor { csrf: String::new(), ..v };
        assert!(empty.check_csrf(Some("")).is_err());
    }
}
