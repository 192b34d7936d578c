//! Third-party key verification (验货): the [`Verifier`] a product category may have (the HTTP client lives in
//! `kabao-rails`; this crate speaks no HTTP), the [`Verifiers`] registry built from the configuration, and
//! [`Verifiers::ask`] with its bounded retries. Import and claim filing call it (see `inventory`, `claims`).

use kabao_core::catalog::Category;
use kabao_core::verification::{Answer, AnswerError, Request, Status};
use kabao_core::ProductId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The verifier's timeout per attempt when the configuration gives none, and the bounds of what it may give.
pub const DEFAULT_TIMEOUT_MS: u64 = 3_000;
pub const MAX_TIMEOUT_MS: u64 = 30_000;
/// Further attempts after a failed one (connection refused, timeout, HTTP 5xx), by default and at most.
pub const DEFAULT_RETRIES: u32 = 2;
pub const MAX_RETRIES: u32 = 5;
/// Keys checked at once during an import.
pub const IMPORT_CONCURRENCY: usize = 8;

/// One category's verifier endpoint, as configured (`[verifiers.<category>]` in kabao.toml).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Where the requests are POSTed (http or https).
    pub url: String,
    /// The shared secret of the `Kabao-Signature` header.
    pub secret: String,
    /// Per attempt, connection included (clamped to 1..=[`MAX_TIMEOUT_MS`]).
    pub timeout_ms: u64,
    /// Further attempts after a failure that may pass (clamped to [`MAX_RETRIES`]).
    pub retries: u32,
}

impl std::fmt::Debug for VerifierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout_ms", &self.timeout_ms)
            .field("retries", &self.retries)
            .finish()
    }
}

impl VerifierConfig {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.clamp(1, MAX_TIMEOUT_MS))
    }
}

/// Why one attempt got no usable answer. The text never holds the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifierError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error(transparent)]
    Answer(#[from] AnswerError),
}

impl VerifierError {
    /// Whether another attempt may get an answer: the network, a timeout, an overloaded or failing server.
    fn retryable(&self) -> bool {
        match self {
            VerifierError::Unreachable(_) => true,
            VerifierError::Status(s) => *s >= 500 || *s == 429 || *s == 408,
            VerifierError::Answer(_) => false,
        }
    }
}

/// A category's verifier: one signed attempt at asking about a key (the caller retries).
#[async_trait::async_trait]
pub trait Verifier: Send + Sync {
    async fn check(&self, request: &Request<'_>) -> Result<Answer, VerifierError>;
}

/// What asking a verifier came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    Answered(Answer),
    /// Every attempt failed; the text says why (the last failure and the number of attempts).
    Unreachable(String),
}

impl Asked {
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            Asked::Answered(a) => Some(a),
            Asked::Unreachable(_) => None,
        }
    }
}

/// One category's verifier with its retry bound; cheap to clone into concurrent tasks.
#[derive(Clone)]
pub struct Handle {
    category: Category,
    verifier: Arc<dyn Verifier>,
    retries: u32,
}

impl Handle {
    /// Asks about `key` of `product`: at most 1 + retries attempts, one after the other (each bounded by the
    /// client's timeout); an answer that breaks the contract, or a refusal (HTTP 4xx), is not retried.
    pub async fn ask(&self, product: ProductId, key: &str) -> Asked {
        let code = product.0.to_string();
        let request = Request { category: self.category.as_str(), product_code: &code, key };
        let attempts = self.retries.saturating_add(1);
        let mut last = VerifierError::Unreachable("no attempt".into());
        for attempt in 1..=attempts {
            match self.verifier.check(&request).await {
                Ok(answer) => return Asked::Answered(answer),
                Err(e) => {
                    let category = self.category.as_str();
                    tracing::warn!(category, product = %product, attempt, error = %e, "verifier failed");
                    let retry = e.retryable();
                    last = e;
                    if !retry {
                        return Asked::Unreachable(format!("{last}"));
                    }
                }
            }
        }
        Asked::Unreachable(format!("{last} (after {attempts} attempts)"))
    }
}

/// The verifiers by product category. Empty by default: no category is verified unless configured.
#[derive(Default, Clone)]
pub struct Verifiers {
    by_category: BTreeMap<Category, Handle>,
}

impl Verifiers {
    /// One verifier per configured category, made by `make` (the server passes the HTTP client).
    pub fn build(
        configs: &BTreeMap<Category, VerifierConfig>,
        make: impl Fn(&VerifierConfig) -> Arc<dyn Verifier>,
    ) -> Verifiers {
        let mut v = Verifiers::default();
        for (category, cfg) in configs {
            v.insert(*category, make(cfg), cfg.retries);
        }
        v
    }

    /// Sets `category`'s verifier.
    pub fn insert(&mut self, category: Category, verifier: Arc<dyn Verifier>, retries: u32) {
        self.by_category.insert(category, Handle { category, verifier, retries: retries.min(MAX_RETRIES) });
    }

    pub fn has(&self, category: Category) -> bool {
        self.by_category.contains_key(&category)
    }

    pub fn handle(&self, category: Category) -> Option<Handle> {
        self.by_category.get(&category).cloned()
    }

    /// Asks `category`'s verifier about `key` of `product` ([`Handle::ask`]); `None` when the category has none.
    pub async fn ask(&self, category: Category, product: ProductId, key: &str) -> Option<Asked> {
        Some(self.by_category.get(&category)?.ask(product, key).await)
    }
}

/// The verifier's answers on claim `claim_no` among an order's events, one line each as shown to the buyer, the
/// merchant and the arbiter: the status, when it was redeemed, the verifier's words, or that it was unreachable.
pub fn shown(events: &[kabao_core::audit::ChainedEvent], claim_no: &str, lang: kabao_core::Lang) -> Vec<String> {
    let kind = kabao_core::events::EventKind::ClaimVerified.as_str();
    events
        .iter()
        .filter(|e| e.kind == kind)
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok())
        .filter(|b| b.get("claim_no").and_then(|n| n.as_str()) == Some(claim_no))
        .map(|b| {
            let text = |k: &str| b.get(k).and_then(|v| v.as_str()).map(str::to_string);
            if b.get("reachable").and_then(|r| r.as_bool()) == Some(false) {
                return lang
                    .pick("验货服务无法访问，售后照常进行", "The verifier could not be reached; the claim proceeds")
                    .to_string();
            }
            let status = text("status").and_then(|s| Status::parse(&s)).unwrap_or(Status::Unknown);
            let mut line = format!("{}{}", lang.pick("验货结果：", "Verifier: "), status.label(lang));
            if let Some(at) = b.get("redeemed_at").and_then(|v| v.as_i64()) {
                let at = crate::display::datetime(kabao_core::Timestamp(at));
                line.push_str(&format!("{}{at}{}", lang.pick("（使用于 ", " (redeemed "), lang.pick("）", ")")));
            }
            if let Some(d) = text("detail") {
                line.push_str(&format!("{}{d}", lang.pick("：", ": ")));
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Fails `failures` times with `error`, then answers "valid".
    struct Flaky {
        calls: AtomicU32,
        failures: u32,
        error: VerifierError,
    }

    #[async_trait::async_trait]
    impl Verifier for Flaky {
        async fn check(&self, request: &Request<'_>) -> Result<Answer, VerifierError> {
            assert_eq!((request.category, request.product_code, request.key), ("game_card", "7", "K-1"));
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(self.error.clone());
            }
            Ok(Answer { status: Status::Valid, redeemed_at: None, detail: None })
        }
    }

    fn flaky(failures: u32, error: VerifierError) -> Arc<Flaky> {
        Arc::new(Flaky { calls: AtomicU32::new(0), failures, error })
    }

    async fn ask(v: &Arc<Flaky>, retries: u32) -> Option<Asked> {
        let mut all = Verifiers::default();
        all.insert(Category::GameCard, v.clone(), retries);
        all.ask(Category::GameCard, ProductId(7), "K-1").await
    }

    #[tokio::test]
    async fn retries_stop_at_the_bound() {
        let down = flaky(u32::MAX, VerifierError::Unreachable("connection refused".into()));
        let asked = ask(&down, 2).await;
        assert!(matches!(&asked, Some(Asked::Unreachable(t)) if t.contains("after 3 attempts")), "{asked:?}");
        assert_eq!(down.calls.load(Ordering::SeqCst), 3);

        let huge = flaky(u32::MAX, VerifierError::Status(503));
        ask(&huge, 1000).await;
        assert_eq!(huge.calls.load(Ordering::SeqCst), MAX_RETRIES + 1);
    }

    #[tokio::test]
    async fn a_passing_failure_is_retried_and_a_broken_answer_is_not() {
        let once = flaky(1, VerifierError::Status(502));
        assert!(matches!(ask(&once, 2).await, Some(Asked::Answered(a)) if a.status == Status::Valid));
        assert_eq!(once.calls.load(Ordering::SeqCst), 2);

        let refused = flaky(u32::MAX, VerifierError::Status(401));
        assert!(matches!(ask(&refused, 2).await, Some(Asked::Unreachable(_))));
        assert_eq!(refused.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_category_without_a_verifier_is_not_asked() {
        let v = Verifiers::default();
        assert_eq!(v.ask(Category::GameCard, ProductId(1), "k").await, None);
        let cfg = VerifierConfig { url: "http://x".into(), secret: "s3cret".into(), timeout_ms: 0, retries: 1 };
        assert!(!format!("{cfg:?}").contains("s3cret"));
        assert_eq!(cfg.timeout(), std::time::Duration::from_millis(1));
    }
}
