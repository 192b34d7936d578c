//! Stored pictures at `/media/{hash}.{ext}`: the address is the SHA-256 of the bytes, so what it names never
//! changes and browsers may keep it for a year; the ETag (the hash) answers revalidation with 304.

use crate::route_table::{get, Routes};
use crate::SharedState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(crate) fn routes() -> Routes {
    Routes::new().route("/media/{file}", get(serve))
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn serve(State(state): State<SharedState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let not_found = || {
        let page = "<!doctype html><meta charset=\"utf-8\"><title>404</title><p>找不到该图片 / Picture not found</p>";
        (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
    };
    let Some((hash, ext)) = file.split_once('.') else { return not_found() };
    let media = match kabao_app::pictures::media(&state, hash).await {
        Ok(Some(m)) if m.meta.ext() == ext => m,
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "reading a picture failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let etag = format!("\"{}\"", media.meta.hash);
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let revalidating = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if revalidating {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE))],
        )
            .into_response();
    }
    let mime = HeaderValue::from_str(&media.meta.mime).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
            (header::ETAG, etag_value),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        media.bytes,
    )
        .into_response()
}
