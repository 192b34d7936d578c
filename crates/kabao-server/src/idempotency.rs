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

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_app::claims::Upload;
use kabao_app::idempotency::{Answer, Completion, Held, IdempotencyError, Reserved};
pub use kabao_app::idempotency::{Scope, HEADER, LEASE_SECONDS, RETENTION_HOURS};
use kabao_core::Timestamp;
use kabao_store::Tx;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The longest key accepted (visible ASCII only).
pub const KEY_MAX_LEN: usize = 128;
/// Marks an answer that is a replay of the first one (the body is the first one's, byte for byte).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

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

    fn answer(&self) -> Answer {
        Answer { status: self.status.as_u16(), body: self.body.clone() }
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
    /// Run the request (the use case completes it in the effect's transaction).
    Run(Run<'r, T>),
}

/// A request allowed to run. Without a key it is a plain request (nothing is stored).
pub struct Run<'r, T> {
    held: Option<Held>,
    render: Option<&'r Render<'r, T>>,
    rendered: OnceLock<Rendered>,
}

impl Idempotency {
    /// Looks the key up before anything else (see [`kabao_app::idempotency::reserve`]): a replay, 409
    /// `idempotency_key_reused` for another request under the key, 409 `idempotency_key_in_flight` while the
    /// first one runs; otherwise the key is reserved for this request.
    pub async fn begin<'r, T>(
        self,
        state: &AppState,
        scope: Scope<'_>,
        render: &'r Render<'r, T>,
    ) -> Result<Begun<'r, T>, ApiError> {
        let Some(key) = self.key else {
            return Ok(Begun::Run(Run { held: None, render: Some(render), rendered: OnceLock::new() }));
        };
        match kabao_app::idempotency::reserve(state, scope, key, &self.fingerprint).await? {
            Reserved::Replay(answer) => {
                let status = StatusCode::from_u16(answer.status).map_err(ApiError::internal)?;
                Ok(Begun::Replay(Rendered { status, body: answer.body }.into_response_marked(true)))
            }
            Reserved::Run(held) => {
                Ok(Begun::Run(Run { held: Some(held), render: Some(render), rendered: OnceLock::new() }))
            }
        }
    }
}

impl<T> Run<'static, T> {
    /// A request without a key, from a caller that answers by itself (a page): `complete` stores nothing.
    pub fn none() -> Run<'static, T> {
        Run { held: None, render: None, rendered: OnceLock::new() }
    }
}

#[async_trait::async_trait]
impl<T: Sync> Completion<T> for Run<'_, T> {
    /// Renders the answer from the use case's result and, for a keyed request, stores it under the key in the
    /// effect's transaction `tx` (the use case calls it last before the commit).
    async fn complete(&self, tx: &mut dyn Tx, result: &T, now: Timestamp) -> Result<(), IdempotencyError> {
        let Some(render) = self.render else { return Ok(()) };
        let rendered = render(result).map_err(|e| IdempotencyError::Render { cause: e.to_string() })?;
        if let Some(held) = &self.held {
            held.store(tx, &rendered.answer(), now).await?;
        }
        // A second call (a use case retrying inside one request) keeps the first rendering.
        let _ = self.rendered.set(rendered);
        Ok(())
    }
}

impl<T> Run<'_, T> {
    /// The answer: the bytes stored by the use case (rendered now if the request had no key and the use case
    /// did not complete), or the error, after freeing the key so a retry with it runs again.
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
                        debug_assert!(self.held.is_none(), "a keyed request's use case must complete it");
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
                    if let Err(release) = held.release(state).await {
                        // The lease runs out instead, and then the key can be used again.
                        tracing::warn!(error = %release, "idempotency key not released; it frees itself after its lease");
                    }
                }
                Err(e)
            }
        }
    }
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
