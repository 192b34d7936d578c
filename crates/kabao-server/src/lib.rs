//! Kabao's HTTP server: the JSON API under `/api/v1`, the server-rendered pages, sessions and tokens.
//! Handlers stay thin — extract, call a service function, map the result to JSON or a page.

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub(crate) mod files;
pub(crate) mod forms;
pub mod gateway_http;
pub mod hardening;
pub mod i18n;
pub mod idempotency;
pub(crate) mod media;
pub mod metrics;
pub mod pages;
pub mod route_table;
pub mod state;

pub use kabao_app::{Clock, Config as ServerConfig, ManualClock, SystemClock};
pub use state::{AppState, SharedState};

use axum::Router;

/// The whole application: API, pages, health and metrics.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .merge(api::routes(state.config.sandbox.is_some()))
        .merge(pages::with_csrf(pages::routes(state.config.sandbox.is_some()), state.clone()))
        .merge(ops_routes().into_router())
        .merge(media::routes().into_router())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::client_ip_and_retry_after))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(hardening::request_span))
        .layer(axum::middleware::from_fn(hardening::request_id))
        .layer(hardening::compression())
        .layer(axum::middleware::from_fn_with_state(
            hardening::SecurityHeaders::for_state(&state),
            hardening::security_headers,
        ))
        .with_state(state)
}

/// `/metrics` alone, without a token, for a separate listen address (`metrics_listen`) that only the operator's
/// scraper reaches.
pub fn metrics_router(state: SharedState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics::render))
        .layer(axum::middleware::from_fn_with_state(
            hardening::SecurityHeaders::for_state(&state),
            hardening::security_headers,
        ))
        .with_state(state)
}

/// Health and metrics, for the operator.
fn ops_routes() -> route_table::Routes {
    use route_table::get;
    route_table::Routes::new()
        .route("/healthz", get(metrics::healthz))
        .route("/metrics", get(hardening::metrics_gate))
        .route("/favicon.ico", get(hardening::favicon_ico))
        .route("/robots.txt", get(hardening::robots_txt))
        .route("/static/favicon.svg", get(hardening::favicon_svg))
        .route("/static/app.js", get(hardening::app_js))
}

/// Every `(method, path)` the whole application answers (API, pages, health, metrics), read from the routers
/// as they are built: the access-matrix test walks this list.
pub fn route_table(sandbox: bool) -> Vec<(axum::http::Method, String)> {
    let mut table = api::route_table(sandbox);
    table.extend(pages::route_table(sandbox));
    table.extend(ops_routes().table(""));
    table.extend(media::routes().table(""));
    table
}

/// Serves until ctrl-c (or SIGTERM), then finishes the requests in flight.
pub async fn serve(state: SharedState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
}

/// Serves [`metrics_router`] on its own listener until the process stops.
pub async fn serve_metrics(state: SharedState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(state)).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
