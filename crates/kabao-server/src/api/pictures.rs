//! A merchant's product pictures: upload one (multipart, part `picture`), or put them in order (leaving some out
//! removes them).

use super::catalog::PictureView;
use super::ApiJson;
use crate::auth::ApiMerchant;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use kabao_core::ProductId;

/// A picture upload: one part named `picture` (PNG, JPEG or WebP, at most 5 MB and 4096 px a side).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PictureUpload {
    #[schema(value_type = String, format = Binary)]
    pub picture: Vec<u8>,
}

/// The product's pictures in their new order (hashes of pictures it has; those left out are removed).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrangeBody {
    #[schema(max_items = 5)]
    pub hashes: Vec<String>,
}

/// Adds a picture to one of the merchant's products (at most 5). It is checked by decoding, re-encoded (no EXIF
/// or other metadata survives), shrunk to at most 1200 px a side and stored by its SHA-256.
#[utoipa::path(post, path = "/api/v1/merchant/products/{id}/pictures", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body(content = PictureUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = [PictureView]),
        (status = 400, description = "not a PNG/JPEG/WebP picture, over 4096 px, or already 5 pictures"),
        (status = 404, description = "no such product in your shop"), (status = 413, description = "over 5 MB")))]
pub async fn upload(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<ApiJson<Vec<PictureView>>, ApiError> {
    // Another merchant's product is "not found" before the upload is read.
    kabao_app::products::owned(&state, &user, ProductId(id)).await?;
    let form = crate::forms::read_picture(multipart).await?;
    let pics = kabao_app::pictures::upload(&state, &user, ProductId(id), &form.picture).await?;
    Ok(ApiJson(pics.iter().map(PictureView::from).collect()))
}

/// Puts the product's pictures in this order (the first is the cover); pictures left out are removed.
#[utoipa::path(put, path = "/api/v1/merchant/products/{id}/pictures", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ArrangeBody,
    responses((status = 200, body = [PictureView]), (status = 400, description = "a hash that is not the product's"),
        (status = 404, description = "no such product in your shop")))]
pub async fn arrange(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ArrangeBody>,
) -> Result<ApiJson<Vec<PictureView>>, ApiError> {
    let pics = kabao_app::pictures::arrange(&state, &user, ProductId(id), &body.hashes).await?;
    Ok(ApiJson(pics.iter().map(PictureView::from).collect()))
}
