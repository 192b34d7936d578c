//! The refusal a use case answers with while its module has no error enum of its own yet.
//!
//! TRANSITIONAL (issue 18): every module is being given its own thiserror enum in domain words; this type is
//! what they return until then, and goes away with the last one.

use kabao_core::{Lang, Localized};
use kabao_store::StoreError;

/// What kind of refusal (the server maps it to its answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    pub const OK: Status = Status(200);
    pub const CREATED: Status = Status(201);
    pub const NO_CONTENT: Status = Status(204);
    pub const BAD_REQUEST: Status = Status(400);
    pub const UNAUTHORIZED: Status = Status(401);
    pub const FORBIDDEN: Status = Status(403);
    pub const NOT_FOUND: Status = Status(404);
    pub const PAYMENT_REQUIRED: Status = Status(402);
    pub const CONFLICT: Status = Status(409);
    pub const GONE: Status = Status(410);
    pub const PAYLOAD_TOO_LARGE: Status = Status(413);
    pub const UNPROCESSABLE_ENTITY: Status = Status(422);
    pub const TOO_MANY_REQUESTS: Status = Status(429);
    pub const INTERNAL_SERVER_ERROR: Status = Status(500);
    pub const BAD_GATEWAY: Status = Status(502);
    pub const SERVICE_UNAVAILABLE: Status = Status(503);

    pub fn as_u16(self) -> u16 {
        self.0
    }
}

/// A refusal: its kind, stable code, optional field, and the message in both languages.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: Status,
    pub code: &'static str,
    pub field: Option<String>,
    pub zh: String,
    pub en: String,
    /// A throttle's wait, in seconds.
    pub retry_after_s: Option<u64>,
}

impl Problem {
    pub fn new(status: Status, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Problem {
        Problem { status, code, field: None, zh: zh.into(), en: en.into(), retry_after_s: None }
    }

    pub fn from_localized(status: Status, e: &dyn Localized) -> Problem {
        Problem {
            status,
            code: e.code(),
            field: e.field().map(str::to_string),
            zh: e.message(Lang::Zh),
            en: e.message(Lang::En),
            retry_after_s: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// An internal failure whose cause is logged but not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %cause, "internal error");
        Problem::new(
            Status::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后重试",
            "Internal error, please retry later",
        )
    }

    pub fn not_found(code: &'static str) -> Problem {
        Problem::new(Status::NOT_FOUND, code, "找不到该内容", "Not found")
    }

    pub fn forbidden() -> Problem {
        Problem::new(Status::FORBIDDEN, "auth.forbidden", "没有权限执行此操作", "You are not allowed to do this")
    }

    pub fn too_many(code: &'static str, retry_after_s: u64, zh: impl Into<String>, en: impl Into<String>) -> Problem {
        Problem { retry_after_s: Some(retry_after_s.max(1)), ..Problem::new(Status::TOO_MANY_REQUESTS, code, zh, en) }
    }

    pub fn bad_request(code: &'static str, field: &str, zh: impl Into<String>, en: impl Into<String>) -> Problem {
        Problem::new(Status::BAD_REQUEST, code, zh, en).with_field(field)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.en)
    }
}

impl std::error::Error for Problem {}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        Problem::internal(e)
    }
}

impl From<crate::inventory::InventoryError> for Problem {
    fn from(e: crate::inventory::InventoryError) -> Self {
        if e.status() >= 500 {
            tracing::error!(error = %e, "inventory");
        }
        Problem::from_localized(Status(e.status()), &e)
    }
}

/// What an internal failure says to the user, in every module's `Localized` (the cause is logged, never shown).
pub fn internal_message(lang: Lang) -> String {
    lang.pick("服务器内部错误，请稍后重试", "Internal error, please retry later").to_string()
}
