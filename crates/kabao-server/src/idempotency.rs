//! One idempotency rule for every POST that takes an `Idempotency-Key` (checkout, top-up, claims, evidence,
//! statements, withdrawals), kept in one place: the key is looked up before anything else, a replay answers the
//! first status and body byte for byte, the same key with another request is refused, and keys are per caller.
//!
//! How a handler adopts it:
//! 1. Take [`IdemJson<T>`] instead of `ApiJson<T>` (or [`IdempotencyKey`] and, once a multipart form is read,
//!    [`IdempotencyKey::form`]). The fingerprint is SHA-256 of the method, the path and the canonical body
//!    (JSON with sorted keys; for a form every field and each file's name and SHA-256), so any field added to a
//!    body later is covered without touching this module.
//! 2. After authentication and before any state check, [`Idempotency::begin`] with the caller's [`Scope`] and a
//!    renderer from the use case's result to the response: [`Begun::Replay`] is answered as it is; otherwise it
//!    gives a [`Run`].
//! 3. The use case calls [`Run::complete`] in its own transaction just before the commit, so the response is
//!    stored in the transaction of the effect: a crash leaves either both or neither, and a request whose key
//!    was taken over meanwhile cannot commit its effect.
//! 4. The handler answers with [`Run::finish`], which returns exactly the bytes stored, or on an error frees
//!    the key (nothing was done, so the client may retry with the same key).
//!
//! Only successful answers are stored; refusals change nothing and are computed again on a retry. Records are
//! kept [`RETENTION_HOURS`] and purged by the expiry job. A stored body may carry a card key (an automatic
//! re-issue), so bodies are sealed under the card-key data key, bound to their scope and key.

use crate::claims::Upload;
use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_core::ledger::OrderId;
use kabao_core::{Timestamp, UserId};
use kabao_store::{NewIdempotency, StoreError, StoredResponse, Tx, TxMode};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The request header, as documented.
pub const HEADER: &str = "Idempotency-Key";
/// The longest key accepted (visible ASCII only).
pub const KEY_MAX_LEN: usize = 128;
/// How long a request may run before another one with its key presumes it died and takes the key over.
/// A request that died committed nothing (its response is stored with its effect), so running it again is safe.
pub const LEASE_SECONDS: i64 = 60;
/// How long a key's record is kept: a retry within this gets the first answer; afterwards the key is new again.
pub const RETENTION_HOURS: i64 = 48;
/// Records purged per pass of the expiry job.
const PURGE_BATCH: i64 = 5_000;
/// Marks an answer that is a replay of the first one (the body is the first one's, byte for byte).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Whose key it is: one caller's key never reaches another caller's record.
#[derive(Debug, Clone)]
pub enum Scope<'a> {
    /// A registered user (whichever of their tokens, or their session).
    User(UserId),
    /// A guest at checkout, by the (parsed) email the order is placed under.
    GuestEmail(&'a str),
    /// A guest acting on an order with its secret.
    GuestOrder(OrderId),
}

impl Scope<'_> {
    /// The buyer's scope on an order: the registered buyer, or the guest holding the order's secret.
    pub fn buyer(user: Option<&kabao_store::User>, order: &kabao_store::Order) -> Scope<'static> {
        match user {
            Some(u) => Scope::User(u.id),
            None => Scope::GuestOrder(order.id),
        }
    }

    fn text(&self) -> String {
        match self {
            Scope::User(id) => format!("user:{}", id.0),
            Scope::GuestEmail(email) => format!("guest:{email}"),
            Scope::GuestOrder(id) => format!("order:{}", id.0),
        }
    }
}

fn in_flight() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_flight",
        "使用相同 Idempotency-Key 的请求仍在处理中，请稍后用同一个 Key 重试",
        "A request with this Idempotency-Key is still being processed; retry later with the same key",
    )
    .with_field(HEADER)
}

fn reused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_reused",
        "该 Idempotency-Key 已用于另一个不同的请求；新请求请换一个新的 Key",
        "This Idempotency-Key was already used for a different request; use a new key for a new request",
    )
    .with_field(HEADER)
}

/// The `Idempotency-Key` of a request, with the method and path its fingerprint starts from.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: Option<String>,
    method: Method,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let key = match parts.headers.get(HEADER) {
            None => None,
            Some(v) => Some(parse_key(v)?).filter(|k| !k.is_empty()),
        };
        // The whole path as the client sent it: a nested router sees only its own part of it.
        let path = match parts.extensions.get::<axum::extract::OriginalUri>() {
            Some(original) => original.path().to_string(),
            None => parts.uri.path().to_string(),
        };
        Ok(IdempotencyKey { key, method: parts.method.clone(), path })
    }
}

fn parse_key(v: &HeaderValue) -> Result<String, ApiError> {
    // A value that is not even visible ASCII is refused like any other bad key.
    key_text(v.to_str().unwrap_or("\u{0}"))
}

fn key_text(key: &str) -> Result<String, ApiError> {
    let key = key.trim();
    if key.len() > KEY_MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ApiError::bad_request(
            "idempotency_key_invalid",
            HEADER,
            format!("Idempotency-Key 需为最多 {KEY_MAX_LEN} 个可见 ASCII 字符"),
            format!("The Idempotency-Key must be at most {KEY_MAX_LEN} visible ASCII characters"),
        ));
    }
    Ok(key.to_string())
}

impl IdempotencyKey {
    /// A key given otherwise than by the header: a page form's one-time token, a test.
    pub fn new(token: &str, method: Method, path: &str) -> Result<IdempotencyKey, ApiError> {
        let key = key_text(token)?;
        Ok(IdempotencyKey { key: Some(key).filter(|k| !k.is_empty()), method, path: path.to_string() })
    }

    fn hasher(&self) -> Sha256 {
        let mut h = Sha256::new();
        h.update(b"kabao.idempotency.v1\n");
        h.update(self.method.as_str().as_bytes());
        h.update(b"\n");
        h.update(self.path.as_bytes());
        h.update(b"\n");
        h
    }

    /// The request with a JSON body: its fingerprint covers the whole body, canonical (keys sorted, no spaces).
    /// A body that is not JSON is covered as its bytes (it is refused before anything runs anyway).
    pub fn json(self, body: &[u8]) -> Idempotency {
        let mut h = self.hasher();
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => {
                h.update(b"json\n");
                canonical_json(&v, &mut h);
            }
            Err(_) => {
                h.update(b"raw\n");
                h.update(body);
            }
        }
        Idempotency { key: self.key, fingerprint: h.finalize().into() }
    }

    /// The request with a multipart form: every text field by name (a page's `_csrf` and `submission` tokens
    /// aside) and every file's name and SHA-256, in order.
    pub fn form(self, fields: &HashMap<String, String>, files: &[Upload]) -> Idempotency {
        let fields: std::collections::BTreeMap<&str, &str> = fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "_csrf" | "submission"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let files: Vec<serde_json::Value> = files
            .iter()
            .map(|f| serde_json::json!({"name": f.name, "sha256": hex::encode(Sha256::digest(&f.bytes))}))
            .collect();
        let mut h = self.hasher();
        h.update(b"form\n");
        canonical_json(&serde_json::json!({"fields": fields, "files": files}), &mut h);
        Idempotency { key: self.key, fingerprint: h.finalize().into() }
    }
}

/// Writes `v` as canonical JSON (object keys sorted, no whitespace) into the hash.
fn canonical_json(v: &serde_json::Value, h: &mut Sha256) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            h.update(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                h.update(Value::String(k.clone()).to_string().as_bytes());
                h.update(b":");
                if let Some(item) = map.get(k) {
                    canonical_json(item, h);
                }
            }
            h.update(b"}");
        }
        Value::Array(items) => {
            h.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                canonical_json(item, h);
            }
            h.update(b"]");
        }
        scalar => h.update(scalar.to_string().as_bytes()),
    }
}

/// A JSON body with its idempotency key and fingerprint. Bad JSON is refused exactly as `ApiJson` refuses it.
pub struct IdemJson<T> {
    pub idem: Idempotency,
    pub body: T,
}

impl<S, T> FromRequest<S> for IdemJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let key = IdempotencyKey::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| ApiError::bad_request("request.invalid_body", "body", e.body_text(), e.body_text()))?;
        let idem = key.json(&bytes);
        let crate::extract::ApiJson(body) = crate::extract::ApiJson::<T>::from_request(
            Request::from_parts(parts, axum::body::Body::from(bytes)),
            state,
        )
        .await?;
        Ok(IdemJson { idem, body })
    }
}

/// A request's key (if any) and fingerprint, ready to begin.
#[derive(Debug, Clone)]
pub struct Idempotency {
    key: Option<String>,
    fingerprint: [u8; 32],
}

/// A response as answered and stored: the status and the exact body bytes (JSON, or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Rendered {
    /// A JSON answer, serialized once: these bytes are what the caller gets now and on every replay.
    pub fn json(status: StatusCode, view: &impl serde::Serialize) -> Result<Rendered, ApiError> {
        Ok(Rendered { status, body: serde_json::to_vec(view).map_err(ApiError::internal)? })
    }

    /// An answer without a body (204).
    pub fn empty(status: StatusCode) -> Rendered {
        Rendered { status, body: Vec::new() }
    }

    fn into_response_marked(self, replayed: bool) -> Response {
        let mut res = if self.body.is_empty() {
            self.status.into_response()
        } else {
            (self.status, [(header::CONTENT_TYPE, "application/json")], self.body).into_response()
        };
        // Some answers carry a key in clear (an automatic re-issue); none of them is for a shared cache.
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if replayed {
            res.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        }
        res
    }
}

impl IntoResponse for Rendered {
    fn into_response(self) -> Response {
        self.into_response_marked(false)
    }
}

/// Turns a use case's result into the response to store and send.
pub type Render<'a, T> = dyn Fn(&T) -> Result<Rendered, ApiError> + Send + Sync + 'a;

/// What [`Idempotency::begin`] found.
pub enum Begun<'r, T> {
    /// The key already answered this request: answer the same (the response carries `Idempotent-Replayed`).
    Replay(Response),
    /// Run the request (and [`Run::complete`] it in the effect's transaction).
    Run(Run<'r, T>),
}

/// The reservation a request holds on its key while it runs.
struct Held {
    scope: String,
    key: String,
    runner: [u8; 16],
    keyring: std::sync::Arc<kabao_core::vault::Keyring>,
}

impl Held {
    fn context(&self) -> Vec<u8> {
        format!("idempotency\n{}\n{}", self.scope, self.key).into_bytes()
    }
}

/// A request allowed to run. Without a key it is a plain request (nothing is stored).
pub struct Run<'r, T> {
    held: Option<Held>,
    render: Option<&'r Render<'r, T>>,
    rendered: OnceLock<Rendered>,
}

impl Idempotency {
    /// Looks the key up before anything else: a replay, 409 `idempotency_key_reused` for another request
    /// under the key, 409 `idempotency_key_in_flight` while the first one runs; otherwise reserves the key.
    pub async fn begin<'r, T>(
        self,
        state: &AppState,
        scope: Scope<'_>,
        render: &'r Render<'r, T>,
    ) -> Result<Begun<'r, T>, ApiError> {
        let Some(key) = self.key else {
            return Ok(Begun::Run(Run { held: None, render: Some(render), rendered: OnceLock::new() }));
        };
        let scope = scope.text();
        let now = state.now();
        let lease_until = now.plus_seconds(LEASE_SECONDS);
        let mut runner = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut runner);
        let mut tx = state.store.begin(TxMode::Write).await?;
        match tx.idempotency_record(&scope, &key).await? {
            None => {
                let new = NewIdempotency {
                    scope: &scope,
                    key: &key,
                    fingerprint: &self.fingerprint,
                    runner: &runner,
                    lease_until,
                    created_at: now,
                };
                match tx.idempotency_reserve(&new).await {
                    Ok(()) => {}
                    // Another request reserved it after this one looked (PostgreSQL): it is in flight.
                    Err(StoreError::Conflict(_)) => return Err(in_flight()),
                    Err(e) => return Err(e.into()),
                }
            }
            Some(r) if r.fingerprint != self.fingerprint => return Err(reused()),
            Some(r) => match r.response {
                Some(stored) => {
                    drop(tx);
                    let held = Held { scope, key, runner, keyring: state.keyring.clone() };
                    let body = held
                        .keyring
                        .open_record(stored.key_version, &held.context(), &stored.body)
                        .map_err(|e| ApiError::internal(format!("stored idempotent response: {e}")))?;
                    let status = StatusCode::from_u16(stored.status).map_err(ApiError::internal)?;
                    let replay = Rendered { status, body: body.to_vec() };
                    return Ok(Begun::Replay(replay.into_response_marked(true)));
                }
                None if r.lease_until > now => return Err(in_flight()),
                None => {
                    if !tx.idempotency_take_over(&scope, &key, &runner, now, lease_until).await? {
                        return Err(in_flight());
                    }
                    tracing::warn!(scope = %scope, "idempotency key taken over from a request that did not finish");
                }
            },
        }
        tx.commit().await?;
        let held = Held { scope, key, runner, keyring: state.keyring.clone() };
        Ok(Begun::Run(Run { held: Some(held), render: Some(render), rendered: OnceLock::new() }))
    }
}

impl<T> Run<'static, T> {
    /// A request without a key, from a caller that answers by itself (a page, a job): `complete` stores nothing.
    pub fn none() -> Run<'static, T> {
        Run { held: None, render: None, rendered: OnceLock::new() }
    }
}

impl<T> Run<'_, T> {
    /// Renders the answer from the use case's result and, for a keyed request, stores it under the key in the
    /// effect's transaction `tx` (call it last before the commit). Refuses with 409 `idempotency_key_in_flight`
    /// if the key was taken over meanwhile: the caller's transaction must then roll back, so the effect happens
    /// once, in whichever request stores its answer first.
    pub async fn complete(&self, tx: &mut dyn Tx, result: &T, now: Timestamp) -> Result<(), ApiError> {
        let Some(render) = self.render else { return Ok(()) };
        let rendered = render(result)?;
        if let Some(held) = &self.held {
            let mut nonce = [0u8; kabao_core::vault::NONCE_LEN];
            rand::rngs::OsRng.fill_bytes(&mut nonce);
            let (key_version, body) =
                held.keyring.seal_record(&held.context(), &rendered.body, nonce).map_err(ApiError::internal)?;
            let stored = StoredResponse { status: rendered.status.as_u16(), body, key_version };
            if !tx.idempotency_complete(&held.scope, &held.key, &held.runner, &stored, now).await? {
                return Err(in_flight());
            }
        }
        // A second call (a use case retrying inside one request) keeps the first rendering.
        let _ = self.rendered.set(rendered);
        Ok(())
    }

    /// The answer: the bytes stored by [`Run::complete`] (rendered now if the request had no key and the use
    /// case did not complete), or the error, after freeing the key so a retry with it runs again.
    pub async fn finish(self, state: &AppState, result: Result<T, ApiError>) -> Result<Response, ApiError> {
        self.finish_with(state, result).await.map(|(_, r)| r.into_response())
    }

    /// [`Run::finish`] that also hands back the use case's result (for a page that shows more than the answer).
    pub async fn finish_with(self, state: &AppState, result: Result<T, ApiError>) -> Result<(T, Rendered), ApiError> {
        match result {
            Ok(value) => {
                let rendered = match self.rendered.into_inner() {
                    Some(r) => r,
                    None => {
                        debug_assert!(self.held.is_none(), "a keyed request's use case must call Run::complete");
                        if self.held.is_some() {
                            tracing::error!("a keyed request finished without storing its answer");
                        }
                        match self.render {
                            Some(render) => render(&value)?,
                            None => Rendered::empty(StatusCode::NO_CONTENT),
                        }
                    }
                };
                Ok((value, rendered))
            }
            Err(e) => {
                if let Some(held) = &self.held {
                    if let Err(release) = release(state, held).await {
                        // The lease runs out instead, and then the key can be used again.
                        tracing::warn!(error = %release, "idempotency key not released; it frees itself after its lease");
                    }
                }
                Err(e)
            }
        }
    }
}

async fn release(state: &AppState, held: &Held) -> Result<(), ApiError> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.idempotency_release(&held.scope, &held.key, &held.runner).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes records older than the retention ([`RETENTION_HOURS`]), a bounded batch per call; run by the
/// expiry job. Returns how many went.
pub async fn purge(state: &AppState) -> Result<u64, ApiError> {
    let before = state.now().plus_seconds(-RETENTION_HOURS * 3600);
    let mut tx = state.store.begin(TxMode::Write).await?;
    let n = tx.idempotency_purge(before, PURGE_BATCH).await?;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> IdempotencyKey {
        IdempotencyKey { key: Some("k".into()), method: Method::POST, path: "/api/v1/orders".into() }
    }

    #[test]
    fn the_fingerprint_ignores_layout_and_key_order_but_not_values_or_added_fields() {
        let a = key().json(br#"{"product_id": 1, "quantity": 2}"#).fingerprint;
        assert_eq!(a, key().json(br#"{"quantity":2,"product_id":1}"#).fingerprint);
        assert_ne!(a, key().json(br#"{"product_id":1,"quantity":3}"#).fingerprint);
        assert_ne!(a, key().json(br#"{"product_id":1,"quantity":2,"payee_id":7}"#).fingerprint);
        assert_ne!(a, key().json(br#"{"product_id":1,"quantity":2,"nested":{"a":[1,{"b":null}]}}"#).fingerprint);
        let other_path = IdempotencyKey { path: "/api/v1/wallet/top-ups".into(), ..key() };
        assert_ne!(a, other_path.json(br#"{"product_id":1,"quantity":2}"#).fingerprint, "the route counts");
    }

    #[test]
    fn a_form_fingerprint_covers_fields_and_file_contents_but_not_page_tokens() {
        let fields = |extra: &str| {
            let mut m = HashMap::from([("defect".to_string(), "invalid_key".to_string())]);
            m.insert("_csrf".into(), extra.into());
            m.insert("submission".into(), extra.into());
            m
        };
        let file = |b: &[u8]| vec![Upload { name: "a.png".into(), bytes: b.to_vec() }];
        let a = key().form(&fields("x"), &file(b"one")).fingerprint;
        assert_eq!(a, key().form(&fields("y"), &file(b"one")).fingerprint);
        assert_ne!(a, key().form(&fields("x"), &file(b"two")).fingerprint);
        let mut more = fields("x");
        more.insert("item".into(), "2".into());
        assert_ne!(a, key().form(&more, &file(b"one")).fingerprint);
    }

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(parse_key(&HeaderValue::from_static("3f1c-ab_9.Z")).is_ok());
        assert!(parse_key(&HeaderValue::from_str(&"a".repeat(KEY_MAX_LEN + 1)).unwrap()).is_err());
        assert!(parse_key(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()).is_err());
        assert!(IdempotencyKey::new("tok\nen", Method::POST, "/").is_err());
    }
}
