//! Request extractors whose rejections are [`ApiError`]s: a malformed path, query string, JSON or form body
//! gets the same `{"code", "message", "field"}` answer (or, on a page, the error page) as any other refusal,
//! never axum's plain-text rejection. Handlers use these instead of axum's `Path`, `Query`, `Json` and `Form`.

use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};

/// Path parameters; one that does not parse (`/p/abc`) is a 404, as no such thing exists.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters; a bad one is a 400 `request.invalid_query` naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// A JSON body; bad JSON or an unknown, missing or mistyped field is a 400 `request.invalid_body` naming it.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A urlencoded form body; its rejections are rendered as an error page by the page layer.
#[derive(FromRequest)]
#[from_request(via(axum::Form), rejection(ApiError))]
pub struct PageForm<T>(pub T);
