//! Key verification over HTTP (验货, docs/VERIFIER.md): [`VerifierHttp`], the client behind
//! [`kabao_app::verification::Verifier`], and the reference verifier (`kabao verifier serve --keys FILE`), a real
//! HTTP server answering from a key file, checking every request's signature. Tests run it on loopback.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_app::verification::{Verifier, VerifierConfig, VerifierError};
use kabao_core::signature;
use kabao_core::verification::{answer_body, parse_answer, Answer, Status, MAX_ANSWER_BYTES};
use kabao_core::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The largest request body the reference verifier reads.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Unix seconds by the system clock: the signature's timestamp is wall-clock time (the receiver checks it
/// against its own), never the application's (possibly manual) clock.
fn unix_seconds() -> i64 {
    let s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// A category's verifier over HTTP(S): one signed POST per attempt, bounded by the configured timeout
/// (connection included), no redirects, an answer of at most [`MAX_ANSWER_BYTES`].
pub struct VerifierHttp {
    config: VerifierConfig,
    client: OnceLock<reqwest::Client>,
}

impl VerifierHttp {
    pub fn new(config: &VerifierConfig) -> VerifierHttp {
        VerifierHttp { config: config.clone(), client: OnceLock::new() }
    }

    fn client(&self) -> Result<&reqwest::Client, VerifierError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let built = reqwest::Client::builder()
            .timeout(self.config.timeout())
            .connect_timeout(self.config.timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| VerifierError::Unreachable(format!("verifier client: {}", crate::describe(e))))?;
        Ok(self.client.get_or_init(|| built))
    }
}

#[async_trait::async_trait]
impl Verifier for VerifierHttp {
    async fn check(&self, request: &kabao_core::verification::Request<'_>) -> Result<Answer, VerifierError> {
        let body = request.body();
        let header = signature::sign(self.config.secret.as_bytes(), unix_seconds(), &body);
        let mut res = self
            .client()?
            .post(&self.config.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, header)
            .body(body)
            .send()
            .await
            .map_err(|e| VerifierError::Unreachable(crate::describe(e)))?;
        if !res.status().is_success() {
            return Err(VerifierError::Status(res.status().as_u16()));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| VerifierError::Unreachable(crate::describe(e)))? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(kabao_core::verification::AnswerError::TooLarge.into());
            }
            answer.extend_from_slice(&chunk);
        }
        Ok(parse_answer(&answer)?)
    }
}

/// A line of a key file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct KeyFileError {
    pub line: usize,
    pub why: String,
}

/// The reference verifier's knowledge: keys and what to answer for each. Keys not listed are "unknown".
#[derive(Debug, Clone, Default)]
pub struct KeyBook {
    answers: HashMap<String, Answer>,
}

impl KeyBook {
    /// Reads a key file: one key a line, `KEY<TAB>STATUS[<TAB>REDEEMED_AT[<TAB>DETAIL]]`, where STATUS is
    /// valid, redeemed, invalid or unknown, REDEEMED_AT is unix seconds (only with redeemed; `-` for none) and
    /// DETAIL free text. Blank lines and lines starting with `#` are skipped. A key listed twice is an error.
    pub fn parse(text: &str) -> Result<KeyBook, KeyFileError> {
        let mut answers = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |why: &str| KeyFileError { line, why: why.to_string() };
            let raw = raw.trim_end_matches('\r');
            if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
                continue;
            }
            let mut fields = raw.split('\t');
            let key = fields.next().map(str::trim).filter(|k| !k.is_empty()).ok_or_else(|| err("no key"))?;
            let status = fields.next().map(str::trim).ok_or_else(|| err("no status (KEY<TAB>STATUS)"))?;
            let status =
                Status::parse(status).ok_or_else(|| err("status must be valid, redeemed, invalid or unknown"))?;
            let redeemed_at = match fields.next().map(str::trim) {
                None | Some("" | "-") => None,
                Some(_) if status != Status::Redeemed => return Err(err("a redemption time needs status redeemed")),
                Some(t) => Some(Timestamp::from_millis(
                    t.parse::<i64>().map_err(|_| err("REDEEMED_AT must be unix seconds"))?.saturating_mul(1000),
                )),
            };
            let detail = fields.next().map(str::trim).filter(|d| !d.is_empty()).map(str::to_string);
            if answers.insert(key.to_string(), Answer { status, redeemed_at, detail }).is_some() {
                return Err(err("the key is listed twice"));
            }
        }
        Ok(KeyBook { answers })
    }

    /// What to answer for `key`.
    pub fn answer(&self, key: &str) -> Answer {
        self.answers.get(key.trim()).cloned().unwrap_or(Answer {
            status: Status::Unknown,
            redeemed_at: None,
            detail: None,
        })
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

struct Reference {
    book: KeyBook,
    secret: Vec<u8>,
}

#[derive(serde::Deserialize)]
struct WireRequest {
    category: String,
    #[allow(dead_code)]
    product_code: String,
    key: String,
}

fn refusal(status: StatusCode, error: &str) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": error }).to_string(),
    )
        .into_response()
}

async fn answer(
    axum::extract::State(r): axum::extract::State<Arc<Reference>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return refusal(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    let Some(header) = headers.get(signature::HEADER).and_then(|v| v.to_str().ok()) else {
        return refusal(StatusCode::UNAUTHORIZED, "missing Kabao-Signature");
    };
    if let Err(e) = signature::verify(&r.secret, header, &body, unix_seconds()) {
        tracing::warn!(error = %e, "verifier request refused");
        return refusal(StatusCode::UNAUTHORIZED, &e.to_string());
    }
    let Ok(req) = serde_json::from_slice::<WireRequest>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "the body must be {\"category\", \"product_code\", \"key\"}");
    };
    let answer = r.book.answer(&req.key);
    tracing::info!(category = %req.category, status = answer.status.as_str(), "verifier answered");
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], answer_body(&answer)).into_response()
}

/// The reference verifier's routes: every path answers a signed POST.
pub fn reference_router(book: KeyBook, secret: &[u8]) -> axum::Router {
    let state = Arc::new(Reference { book, secret: secret.to_vec() });
    axum::Router::new()
        .fallback(answer)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

/// Serves the reference verifier on `listener` until the future is dropped (tests) or the process ends.
pub async fn serve_reference(listener: tokio::net::TcpListener, book: KeyBook, secret: &[u8]) -> std::io::Result<()> {
    axum::serve(listener, reference_router(book, secret)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_read_strictly() {
        let book = KeyBook::parse(
            "# issuer export\nAAAA-1111\tvalid\nBBBB----pw\tredeemed\t1700000000\tused at store 12\n\nCCCC\tinvalid\r\n",
        )
        .unwrap();
        assert_eq!(book.len(), 3);
        assert_eq!(book.answer("AAAA-1111").status, Status::Valid);
        let b = book.answer("BBBB----pw");
        assert_eq!(b.redeemed_at, Some(Timestamp(1_700_000_000_000)));
        assert_eq!(b.detail.as_deref(), Some("used at store 12"));
        assert_eq!(book.answer("CCCC").status, Status::Invalid);
        assert_eq!(book.answer("nope").status, Status::Unknown);
        for (bad, line) in [
            ("K\n", 1),
            ("K\tgone\n", 1),
            ("# x\nK\tvalid\t1700000000\n", 2),
            ("K\tredeemed\tyesterday\n", 1),
            ("K\tvalid\nK\tinvalid\n", 2),
        ] {
            assert_eq!(KeyBook::parse(bad).map(|_| ()).map_err(|e| e.line), Err(line), "{bad:?}");
        }
    }

    const SECRET: &str = "verifier-test-secret-0123456789";

    async fn reference(keys: &str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve_reference(listener, KeyBook::parse(keys).unwrap(), SECRET.as_bytes()));
        format!("http://{addr}/verify")
    }

    #[tokio::test]
    async fn the_reference_verifier_refuses_unsigned_and_wrongly_signed_requests() {
        let url = reference("SG-1\tvalid\n").await;
        let client = reqwest::Client::new();
        let body = br#"{"category":"game_card","product_code":"1","key":"SG-1"}"#.to_vec();
        let now = unix_seconds();
        let send = |header: Option<String>, body: Vec<u8>| {
            let mut req = client.post(&url).header("content-type", "application/json").body(body);
            if let Some(h) = header {
                req = req.header(signature::HEADER, h);
            }
            req.send()
        };
        let good = send(Some(signature::sign(SECRET.as_bytes(), now, &body)), body.clone()).await.unwrap();
        assert_eq!(good.status(), 200);
        assert_eq!(good.text().await.unwrap(), r#"{"status":"valid"}"#);
        for (header, why) in [
            (None, "no signature"),
            (Some(signature::sign(b"wrong-secret-0123456789", now, &body)), "another secret"),
            (Some(signature::sign(SECRET.as_bytes(), now - 3600, &body)), "a replay an hour late"),
            (Some("t=1,v1=zz".into()), "garbage"),
        ] {
            assert_eq!(send(header, body.clone()).await.unwrap().status(), 401, "{why}");
        }
        let other = br#"{"category":"game_card","product_code":"1","key":"SG-2"}"#.to_vec();
        let signed_for_body = signature::sign(SECRET.as_bytes(), now, &body);
        assert_eq!(send(Some(signed_for_body), other).await.unwrap().status(), 401, "a signature for another body");
    }

    #[tokio::test]
    async fn the_client_signs_what_the_reference_verifier_checks() {
        let url = reference("CL-1\tredeemed\t1700000000\tused\n").await;
        let request = kabao_core::verification::Request { category: "game_card", product_code: "3", key: "CL-1" };
        let cfg =
            |secret: &str| VerifierConfig { url: url.clone(), secret: secret.into(), timeout_ms: 2000, retries: 0 };
        let answer = VerifierHttp::new(&cfg(SECRET)).check(&request).await.unwrap();
        assert_eq!(
            (answer.status, answer.redeemed_at, answer.detail.as_deref()),
            (Status::Redeemed, Some(Timestamp(1_700_000_000_000)), Some("used"))
        );
        let unknown = kabao_core::verification::Request { key: "nope", ..request.clone() };
        assert_eq!(VerifierHttp::new(&cfg(SECRET)).check(&unknown).await.map(|a| a.status), Ok(Status::Unknown));
        let wrong = VerifierHttp::new(&cfg("not-the-shared-secret")).check(&request).await;
        assert_eq!(wrong, Err(VerifierError::Status(401)));
    }
}
