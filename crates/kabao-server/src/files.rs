//! Files answered as they are, for the API and the pages alike: an evidence file shown inline and never run, and
//! the complaint package (维权材料包) as a zip attachment.

use crate::error::ApiError;
use crate::SharedState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kabao_store::Order;

/// An uploaded evidence file, shown inline under a policy that runs nothing in it.
pub(crate) fn evidence_response(mime: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (header::CONTENT_DISPOSITION, "inline".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            // An uploaded file is shown, never run: no scripts, no plugins, even if a browser were fooled.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src 'self'; media-src 'self'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The complaint package of an order the caller may see, as an attachment named after the order.
pub(crate) async fn package_response(state: &SharedState, order: &Order) -> Result<Response, ApiError> {
    let zip = kabao_app::bundle::build(state, order).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"kabao-{}.zip\"", order.order_no)),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        zip,
    )
        .into_response())
}
