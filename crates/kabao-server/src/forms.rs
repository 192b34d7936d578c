//! Multipart claim forms (售后申请与补充证据), read the same way by the API and the pages: text fields by name and
//! every part named `files` as an upload, with the claim routes' size limit answered as 413.

use crate::error::ApiError;
use crate::idempotency::IdempotencyKey;
use axum::extract::multipart::MultipartRejection;
use axum::extract::Multipart;
use axum::http::StatusCode;
use kabao_app::claims::{ClaimInput, Upload};

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "claim.upload_too_large",
        format!("上传内容超过 {} MB 的上限", kabao_app::claims::MAX_UPLOAD_BYTES / (1024 * 1024)),
        format!("The upload is over the {} MB limit", kabao_app::claims::MAX_UPLOAD_BYTES / (1024 * 1024)),
    )
}

fn unreadable(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "request.invalid_body",
        "files",
        format!("上传内容无法读取（需要 multipart/form-data）：{detail}"),
        format!("The upload could not be read (multipart/form-data expected): {detail}"),
    )
}

/// A claim form as sent by the API or a page: its text fields by name and its files.
pub(crate) struct ClaimForm {
    pub fields: std::collections::HashMap<String, String>,
    pub files: Vec<Upload>,
}

impl ClaimForm {
    pub fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.text(name).trim(), "true" | "on" | "1" | "yes")
    }

    /// The fields a buyer files a claim with.
    pub fn into_input(self) -> ClaimInput {
        ClaimInput {
            item: self.text("item"),
            defect: self.text("defect"),
            description: self.text("description"),
            activated: self.flag("activated"),
            error_text: self.text("error_text"),
            files: self.files,
        }
    }

    /// The request's idempotency: its key with a fingerprint of every field and file of this form.
    pub fn idempotency(&self, key: IdempotencyKey) -> crate::idempotency::Idempotency {
        key.form(&self.fields, &self.files)
    }
}

/// Reads a multipart claim form: text fields, and every part named `files` as an upload.
pub(crate) async fn read_claim_form(multipart: Result<Multipart, MultipartRejection>) -> Result<ClaimForm, ApiError> {
    let mut multipart = multipart.map_err(|e| unreadable(e.body_text()))?;
    let mut form = ClaimForm { fields: Default::default(), files: Vec::new() };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "files" {
                    let file_name = field.file_name().unwrap_or_default().to_string();
                    let bytes = field.bytes().await.map_err(|_| too_large())?;
                    form.files.push(Upload { name: file_name, bytes: bytes.to_vec() });
                } else if !name.is_empty() {
                    let text = field.text().await.map_err(|_| too_large())?;
                    form.fields.insert(name, text);
                }
            }
            Ok(None) => return Ok(form),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(unreadable(e)),
        }
    }
}

fn picture_too_large() -> ApiError {
    ApiError::from_localized(StatusCode::PAYLOAD_TOO_LARGE, &kabao_app::pictures::PictureError::TooLarge)
}

/// A picture upload as the API or the console sends it: the part named `picture`, and the console's `_csrf`.
pub(crate) struct PictureForm {
    pub csrf: Option<String>,
    pub picture: Vec<u8>,
}

/// Reads a picture upload (413 past the limit; 400 when there is no `picture` part).
pub(crate) async fn read_picture(multipart: Result<Multipart, MultipartRejection>) -> Result<PictureForm, ApiError> {
    let no_picture = || ApiError::from_localized(StatusCode::BAD_REQUEST, &kabao_app::pictures::PictureError::NotImage);
    let mut multipart = multipart.map_err(|_| no_picture())?;
    let mut csrf = None;
    let mut picture = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("picture") => {
                    let bytes = field.bytes().await.map_err(|_| picture_too_large())?;
                    if bytes.len() > kabao_app::pictures::MAX_UPLOAD_BYTES {
                        return Err(picture_too_large());
                    }
                    picture = Some(bytes.to_vec());
                }
                Some("_csrf") => csrf = Some(field.text().await.map_err(|_| no_picture())?),
                _ => {}
            },
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(picture_too_large()),
            Err(_) => return Err(no_picture()),
        }
    }
    Ok(PictureForm { csrf, picture: picture.ok_or_else(no_picture)? })
}
