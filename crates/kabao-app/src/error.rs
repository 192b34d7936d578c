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

// TRANSITIONAL (issue 18): the modules of "orders, payments, catalog and inventory" have their own errors; the
// modules not converted yet still answer `Problem` and reach theirs with `?`. The statuses repeat the mapping
// in kabao-server's error.rs and go away with `Problem`.

/// The kind of refusal of a converted module's error, for the modules still answering `Problem`.
fn converted(status: u16, e: &(impl Localized + std::fmt::Display)) -> Problem {
    if status >= 500 {
        tracing::error!(error = %e, "internal error");
    }
    Problem::from_localized(Status(status), e)
}

impl From<crate::inventory::InventoryError> for Problem {
    fn from(e: crate::inventory::InventoryError) -> Self {
        use crate::inventory::InventoryError as E;
        use kabao_core::inventory::ImportError;
        let status = match &e {
            E::ProductNotFound | E::BatchNotFound => 404,
            E::CustomGoods | E::SharedGoods | E::NotShared | E::NotCustom => 409,
            E::SharedInput | E::Custom(_) | E::StockRange | E::Import(ImportError::Empty) => 400,
            E::Import(ImportError::TooLarge { .. }) => 413,
            E::BatchHasSoldKeys { .. } | E::BatchAlreadyVoided | E::ConcurrentDuplicate => 409,
            E::Vault(_) | E::Store(_) => 500,
        };
        converted(status, &e)
    }
}

impl From<crate::shops::ShopError> for Problem {
    fn from(e: crate::shops::ShopError) -> Self {
        use crate::shops::ShopError as E;
        match e {
            E::NotMerchant | E::NotAdmin => converted(403, &e),
            E::AlreadyOpen | E::NameTaken => converted(409, &e),
            E::NoShop | E::NotFound | E::UserNotFound => converted(404, &e),
            E::CertificationLevelUnknown
            | E::SuspensionReasonRequired
            | E::SuspensionReasonTooLong
            | E::RoleUnknown
            | E::SelfDemotion
            | E::Catalog(_) => converted(400, &e),
            E::Vanished(_) | E::Store(_) => Problem::internal(e),
        }
    }
}

impl From<crate::idempotency::IdempotencyError> for Problem {
    fn from(e: crate::idempotency::IdempotencyError) -> Self {
        use crate::idempotency::IdempotencyError as E;
        match e {
            E::InFlight | E::Reused => converted(409, &e),
            E::Seal(_) | E::Open(_) | E::Render { .. } | E::Store(_) => Problem::internal(e),
        }
    }
}

impl From<crate::orders::OrderError> for Problem {
    fn from(e: crate::orders::OrderError) -> Self {
        // Other modules reach orders only to refund (ledger and storage failures): all internal.
        Problem::internal(e)
    }
}
