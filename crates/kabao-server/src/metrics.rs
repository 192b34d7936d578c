//! Health and Prometheus metrics. Each server has its own registry, so many can live in one test process.

use crate::SharedState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    pub keys_imported: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("kabao_http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )
        .unwrap_or_else(|_| unreachable_metric());
        let durations = HistogramVec::new(
            HistogramOpts::new("kabao_http_request_duration_seconds", "HTTP request duration by route")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
            &["route"],
        )
        .unwrap_or_else(|_| unreachable_metric());
        let keys_imported = IntCounter::new("kabao_card_keys_imported_total", "Card keys accepted by imports")
            .unwrap_or_else(|_| unreachable_metric());
        // Registration fails only for duplicate names, which this fresh registry cannot have.
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(durations.clone()));
        let _ = registry.register(Box::new(keys_imported.clone()));
        Metrics { registry, requests, durations, keys_imported }
    }

    fn text(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn unreachable_metric<T>() -> T {
    // Metric options above are constants that prometheus accepts; reaching this is a programming error.
    #[allow(clippy::panic)]
    {
        panic!("invalid metric definition")
    }
}

/// Counts and times every request by its route template (never the raw path, which would explode cardinality).
pub async fn track(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    state.metrics.requests.with_label_values(&[method.as_str(), route.as_str(), status.as_str()]).inc();
    state.metrics.durations.with_label_values(&[route.as_str()]).observe(started.elapsed().as_secs_f64());
    res
}

pub async fn render(State(state): State<SharedState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.text()).into_response()
}

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(state): State<SharedState>) -> Response {
    match kabao_app::verify::database(&*state.store).await {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "status": "unavailable" })))
                .into_response()
        }
    }
}
