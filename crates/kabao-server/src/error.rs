//! Errors, one way.
//! - `kabao-core` refuses input with typed errors that implement [`Localized`]: a stable code
//!   (`"product.price_invalid"`), the field, and a message in zh-CN and English.
//! - `kabao-store` returns `StoreError`; it is logged, never shown (it could name internals), and becomes
//!   `internal.store` (500) — except the conflicts a user can act on, which services map to their own errors.
//! - Here, [`ApiError`] is the one error a handler returns. The API renders it as JSON
//!   `{"error", "message", "field"}` in the request's language (plus `code`, a deprecated alias of `error` kept
//!   for older clients; the OpenAPI document names this body `Error`); pages render the same message in place.
//! - Malformed requests are refused the same way: handlers extract through [`crate::extract`], whose
//!   rejections convert below (bad path → 404, bad query/body → 400 naming the field, too large → 413), and
//!   an unsupported method is [`method_not_allowed`] — never axum's plain-text rejections.
//! - `anyhow` is used only in the binary's `main`.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kabao_core::{Lang, Localized};
use kabao_store::StoreError;

/// An error answered to a client: status, stable code, optional field, and the message in both languages.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub field: Option<String>,
    pub zh: String,
    pub en: String,
    /// A 429's or a 503's wait, in seconds: answered as `Retry-After`.
    pub retry_after_s: Option<u64>,
}

/// How long a client is asked to wait after a 503 for the database.
const UNAVAILABLE_RETRY_AFTER_S: u64 = 5;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError { status, code, field: None, zh: zh.into(), en: en.into(), retry_after_s: None }
    }

    /// From a domain error, with the status it deserves.
    pub fn from_localized(status: StatusCode, e: &dyn Localized) -> ApiError {
        ApiError {
            status,
            code: e.code(),
            field: e.field().map(str::to_string),
            zh: e.message(Lang::Zh),
            en: e.message(Lang::En),
            retry_after_s: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// A 500 whose cause is logged but not shown; a 503 with `Retry-After` when the cause is the database being
    /// unreachable or overloaded ([`kabao_store::StoreError::Unavailable`], which every use-case error passes on
    /// with its text), so a client or a load balancer retries instead of reporting a bug.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        let text = cause.to_string();
        if text.contains(kabao_store::UNAVAILABLE) {
            tracing::warn!(error = %text, "database unavailable");
            return ApiError::unavailable();
        }
        tracing::error!(error = %text, "internal error");
        let words = kabao_app::error::internal_words;
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", words(Lang::Zh), words(Lang::En))
    }

    /// 503: the database cannot serve now; retry in a few seconds. Nothing of the request was kept.
    pub fn unavailable() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "服务暂时繁忙或数据库暂不可用，本次操作未生效，请稍后重试",
            "The service is busy or its database is unreachable; nothing was changed, please retry shortly",
        );
        e.retry_after_s = Some(UNAVAILABLE_RETRY_AFTER_S);
        e
    }

    pub fn not_found(code: &'static str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, "找不到该内容", "Not found")
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "auth.required",
            "请先登录或提供有效的 API 令牌",
            "Log in or provide a valid API token",
        )
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "auth.forbidden", "没有权限执行此操作", "You are not allowed to do this")
    }

    /// 429: too many attempts; the client may retry after `retry_after_s` seconds (sent as `Retry-After`).
    pub fn too_many(code: &'static str, retry_after_s: u64, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError {
            retry_after_s: Some(retry_after_s.max(1)),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, zh, en)
        }
    }

    pub fn bad_request(code: &'static str, field: &str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, zh, en).with_field(field)
    }

    /// The JSON body in one language: `error` is the stable code; `code` repeats it for clients written before
    /// `error` existed (deprecated); `field` is present only when one field is at fault; `request_id` is the
    /// request's id (also in the `X-Request-Id` header) while answering a request.
    pub fn body(&self, lang: Lang) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.code, "code": self.code, "message": self.message(lang) });
        if let (Some(field), Some(obj)) = (&self.field, body.as_object_mut()) {
            obj.insert("field".into(), serde_json::Value::String(field.clone()));
        }
        if let (Some(id), Some(obj)) = (crate::hardening::current_request_id(), body.as_object_mut()) {
            obj.insert("request_id".into(), serde_json::Value::String(id));
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.en)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body(Lang::Zh))).into_response();
        if let Some(s) = self.retry_after_s {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s));
        }
        // The error rides along so the API layer can answer in the request's language and the page layer can
        // render it as an HTML page; zh-CN JSON is what reaches a client when neither applies.
        res.extensions_mut().insert(self);
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The use cases' errors, each mapped to its HTTP status here and nowhere else; the body and the page message come
// from the error's `Localized` codes and words.
// ---------------------------------------------------------------------------------------------------------------

// === Orders, payments, catalog and inventory (orders, payments, epay, trial, warranty, products, shops,
// inventory, idempotency, keyring) ===

/// A domain refusal answered with `status`, its code, field and words from the error itself.
fn refused(status: StatusCode, e: &dyn Localized) -> ApiError {
    ApiError::from_localized(status, e)
}

impl From<kabao_app::shops::ShopError> for ApiError {
    fn from(e: kabao_app::shops::ShopError) -> Self {
        use kabao_app::shops::ShopError as E;
        match e {
            E::NotMerchant | E::NotAdmin => refused(StatusCode::FORBIDDEN, &e),
            E::AlreadyOpen | E::NameTaken => refused(StatusCode::CONFLICT, &e),
            E::NoShop | E::NotFound | E::UserNotFound => refused(StatusCode::NOT_FOUND, &e),
            E::CertificationLevelUnknown
            | E::SuspensionReasonRequired
            | E::SuspensionReasonTooLong
            | E::RoleUnknown
            | E::SelfDemotion
            | E::Catalog(_) => refused(StatusCode::BAD_REQUEST, &e),
            E::Vanished(_) | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::products::ProductError> for ApiError {
    fn from(e: kabao_app::products::ProductError) -> Self {
        use kabao_app::products::ProductError as E;
        match e {
            E::NotFound => refused(StatusCode::NOT_FOUND, &e),
            E::TrialPriceTooHigh { .. } | E::TrialMaxPerOrder | E::Catalog(_) => refused(StatusCode::BAD_REQUEST, &e),
            E::Shop(e) => e.into(),
            E::Vanished(_) | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::warranty::WarrantyError> for ApiError {
    fn from(e: kabao_app::warranty::WarrantyError) -> Self {
        use kabao_app::warranty::WarrantyError as E;
        match e {
            E::TemplateUnknown | E::PolicyMalformed { .. } | E::Policy(_) => refused(StatusCode::BAD_REQUEST, &e),
            E::Changed => refused(StatusCode::CONFLICT, &e),
            E::Product(e) => e.into(),
            E::StoredPolicyUnreadable { .. } | E::Encode(_) | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::trial::TrialError> for ApiError {
    fn from(e: kabao_app::trial::TrialError) -> Self {
        use kabao_app::trial::TrialError as E;
        match e {
            E::FirstOrderUnconfirmed { .. } | E::TrialOnce => refused(StatusCode::CONFLICT, &e),
            E::TrialQuantity => refused(StatusCode::BAD_REQUEST, &e),
            E::Trust(e) => ApiError::from(e),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::idempotency::IdempotencyError> for ApiError {
    fn from(e: kabao_app::idempotency::IdempotencyError) -> Self {
        use kabao_app::idempotency::IdempotencyError as E;
        match e {
            E::InFlight | E::Reused => refused(StatusCode::CONFLICT, &e),
            E::Seal(_) | E::Open(_) | E::Render { .. } | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::payments::PaymentError> for ApiError {
    fn from(e: kabao_app::payments::PaymentError) -> Self {
        use kabao_app::payments::PaymentError as E;
        use kabao_core::payments::NotifyError;
        match e {
            E::NoGateway => refused(StatusCode::CONFLICT, &e),
            E::TopUpInvalid | E::AmountMismatch | E::Notify(NotifyError::Malformed(_)) => {
                refused(StatusCode::BAD_REQUEST, &e)
            }
            E::Notify(NotifyError::Stale | NotifyError::BadSignature | NotifyError::NoKey) => {
                refused(StatusCode::UNAUTHORIZED, &e)
            }
            E::SandboxOff | E::PaymentNotFound | E::UnknownGateway => refused(StatusCode::NOT_FOUND, &e),
            E::Gateway(kabao_app::gateways::GatewayError::Notify(NotifyError::Malformed(_))) => {
                refused(StatusCode::BAD_REQUEST, &e)
            }
            E::Gateway(kabao_app::gateways::GatewayError::Notify(_)) => refused(StatusCode::UNAUTHORIZED, &e),
            E::Gateway(kabao_app::gateways::GatewayError::Unreachable(_)) => {
                refused(StatusCode::SERVICE_UNAVAILABLE, &e)
            }
            E::Gateway(_) => refused(StatusCode::BAD_GATEWAY, &e),
            E::Order(e) => (*e).into(),
            E::Idempotency(e) => e.into(),
            E::Ledger(_) | E::PaymentVanished(_) | E::OrderVanished(_) | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::epay::EpayError> for ApiError {
    fn from(e: kabao_app::epay::EpayError) -> Self {
        use kabao_app::epay::EpayError as E;
        match e {
            E::NotConfigured => refused(StatusCode::NOT_FOUND, &e),
            E::Refused(_) => refused(StatusCode::BAD_REQUEST, &e),
            E::Payment(e) => e.into(),
        }
    }
}

impl From<kabao_app::orders::OrderError> for ApiError {
    fn from(e: kabao_app::orders::OrderError) -> Self {
        use kabao_app::orders::OrderError as E;
        match e {
            E::ProductNotFound | E::NotFound => refused(StatusCode::NOT_FOUND, &e),
            E::OwnProduct
            | E::CustomGoodsNotReady
            | E::Custom(_)
            | E::CustomFieldsNotExpected
            | E::QuantityInvalid { .. }
            | E::GuestEmail(_)
            | E::QueryPasswordInvalid
            | E::AmountOverflow
            | E::WarrantyNotAcknowledged { .. } => refused(StatusCode::BAD_REQUEST, &e),
            E::OutOfStock { .. }
            | E::ChooseVariant
            | E::Changed
            | E::Transition(_)
            | E::DeliveryDeadlinePassed
            | E::NotPayable
            | E::Expired
            | E::NotDelivered => refused(StatusCode::CONFLICT, &e),
            E::InsufficientBalance(_) => refused(StatusCode::PAYMENT_REQUIRED, &e),
            E::LookupThrottled { retry_after_s } => {
                ApiError { retry_after_s: Some(retry_after_s.max(1)), ..refused(StatusCode::TOO_MANY_REQUESTS, &e) }
            }
            E::Warranty(e) => e.into(),
            E::Trial(e) => e.into(),
            E::Inventory(e) => e.into(),
            E::Payment(e) => e.into(),
            E::Idempotency(e) => e.into(),
            E::Insurance(e) => e.into(),
            E::Coupon(ref c) => coupon_status(c, &e),
            E::Ledger(_) | E::Vault(_) | E::OrderVanished(_) | E::ProductVanished(_) | E::Store(_) => {
                ApiError::internal(e)
            }
        }
    }
}

/// A coupon refused: taken meanwhile or by the code's owner already (409), else the input is at fault (400).
fn coupon_status(c: &kabao_core::pricing::CouponError, e: &dyn Localized) -> ApiError {
    use kabao_core::pricing::CouponError as C;
    match c {
        C::UsedUp | C::BuyerLimit | C::CodeTaken => refused(StatusCode::CONFLICT, e),
        _ => refused(StatusCode::BAD_REQUEST, e),
    }
}

impl From<kabao_app::promotions::PromotionError> for ApiError {
    fn from(e: kabao_app::promotions::PromotionError) -> Self {
        use kabao_app::promotions::PromotionError as E;
        match e {
            E::Coupon(ref c) => coupon_status(c, &e),
            E::Tier(_) | E::VariantLabelInvalid | E::VariantOfVariant => refused(StatusCode::BAD_REQUEST, &e),
            E::NotFound => refused(StatusCode::NOT_FOUND, &e),
            E::Product(e) => e.into(),
            E::Shop(e) => e.into(),
            E::Warranty(e) => e.into(),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::inventory::InventoryError> for ApiError {
    fn from(e: kabao_app::inventory::InventoryError) -> Self {
        use kabao_app::inventory::InventoryError as E;
        use kabao_core::inventory::ImportError;
        let status = match &e {
            E::ProductNotFound | E::BatchNotFound => StatusCode::NOT_FOUND,
            // The request is well formed but the product's kind does not take it: a conflict with the product.
            E::CustomGoods | E::SharedGoods | E::NotShared | E::NotCustom => StatusCode::CONFLICT,
            E::SharedInput | E::Custom(_) | E::StockRange | E::Import(ImportError::Empty) | E::BadCursor => {
                StatusCode::BAD_REQUEST
            }
            E::Import(ImportError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            E::BatchHasSoldKeys { .. } | E::BatchAlreadyVoided | E::ConcurrentDuplicate => StatusCode::CONFLICT,
            E::Vault(_) | E::Store(_) => {
                // Its own codes (`internal.vault`, `internal.store`) are kept; the cause is logged, never shown.
                tracing::error!(error = %e, "inventory");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        refused(status, &e)
    }
}

impl From<kabao_app::keyring::KeyringError> for ApiError {
    fn from(e: kabao_app::keyring::KeyringError) -> Self {
        ApiError::internal(e)
    }
}

// === end of orders, payments, catalog and inventory ===

// === Claims, disputes and trust (claims, disputes, bundle, chat, reviews, certification, risk, trust) ===

impl From<kabao_app::claims::ClaimsError> for ApiError {
    fn from(e: kabao_app::claims::ClaimsError) -> Self {
        use kabao_app::claims::ClaimsError as E;
        let status = match &e {
            E::Idempotency(_) | E::Vanished(_) | E::ApprovalUndecided | E::Vault(_) | E::Ledger(_) | E::Store(_) => {
                return match e {
                    E::Idempotency(e) => ApiError::from(e),
                    e => ApiError::internal(e),
                }
            }
            E::TooManyFiles { .. }
            | E::FileType { .. }
            | E::FileTooLarge { .. }
            | E::ErrorTextTooLong
            | E::ItemInvalid
            | E::DefectInvalid
            | E::DescriptionTooLong { .. }
            | E::EvidenceEmpty
            | E::TextTooLong { .. }
            | E::ReasonRequired
            | E::NoteRequired
            | E::DecisionInvalid
            | E::BadCursor => StatusCode::BAD_REQUEST,
            E::OrderNotFound | E::ClaimNotFound | E::EvidenceNotFound => StatusCode::NOT_FOUND,
            E::NotDelivered
            | E::NotRevealed
            | E::ItemRefunded
            | E::Changed
            | E::RefundUnavailable
            | E::InsuranceHolds
            | E::Step(_) => StatusCode::CONFLICT,
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::disputes::DisputesError> for ApiError {
    fn from(e: kabao_app::disputes::DisputesError) -> Self {
        use kabao_app::disputes::DisputesError as E;
        let status = match &e {
            E::Idempotency(_) | E::Shop(_) | E::Vanished(_) | E::Ledger(_) | E::Store(_) => {
                return match e {
                    E::Idempotency(e) => ApiError::from(e),
                    E::Shop(e) => ApiError::from(e),
                    e => ApiError::internal(e),
                }
            }
            E::StatementEmpty | E::StatementTooLong { .. } | E::RulingInvalid(_) | E::AmountInvalid => {
                StatusCode::BAD_REQUEST
            }
            E::NotArbiter | E::NotAdmin => StatusCode::FORBIDDEN,
            E::ClaimNotFound | E::DisputeNotFound => StatusCode::NOT_FOUND,
            E::AlreadyEscalated
            | E::ClaimChanged
            | E::Closed
            | E::AlreadyRuled
            | E::NoStock
            | E::Escalation(_)
            | E::NotCovered(_)
            | E::AlreadyMember => StatusCode::CONFLICT,
            E::BalanceTooLow { .. } | E::Revenue(_) => StatusCode::PAYMENT_REQUIRED,
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::reconcile::FindingError> for ApiError {
    fn from(e: kabao_app::reconcile::FindingError) -> Self {
        use kabao_app::reconcile::FindingError as E;
        let status = match &e {
            E::Store(_) => return ApiError::internal(e),
            E::NotAdmin => StatusCode::FORBIDDEN,
            E::NotFound => StatusCode::NOT_FOUND,
            E::AlreadyResolved => StatusCode::CONFLICT,
            E::NoteRequired => StatusCode::BAD_REQUEST,
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::bundle::BundleError> for ApiError {
    fn from(e: kabao_app::bundle::BundleError) -> Self {
        ApiError::internal(e)
    }
}

impl From<kabao_app::chat::ChatError> for ApiError {
    fn from(e: kabao_app::chat::ChatError) -> Self {
        use kabao_app::chat::ChatError as E;
        let status = match &e {
            E::Shop(_) | E::Json(_) | E::Store(_) => {
                return match e {
                    E::Shop(e) => ApiError::from(e),
                    e => ApiError::internal(e),
                }
            }
            E::TooFast { wait_s } => {
                let (zh, en) = (e.message(Lang::Zh), e.message(Lang::En));
                return ApiError::too_many(e.code(), *wait_s, zh, en);
            }
            E::Empty | E::TooLong { .. } => StatusCode::BAD_REQUEST,
            E::OrderNotFound => StatusCode::NOT_FOUND,
            E::NotArbiter => StatusCode::FORBIDDEN,
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::reviews::ReviewsError> for ApiError {
    fn from(e: kabao_app::reviews::ReviewsError) -> Self {
        use kabao_app::reviews::ReviewsError as E;
        let status = match &e {
            E::Json(_) | E::Store(_) => return ApiError::internal(e),
            E::Invalid(_) => StatusCode::BAD_REQUEST,
            E::OrderNotFound | E::ShopNotFound | E::ProductNotFound | E::ReviewNotFound => StatusCode::NOT_FOUND,
            E::NotDelivered | E::OwnShop | E::AlreadyReviewed | E::AlreadyReplied => StatusCode::CONFLICT,
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::certification::CertificationError> for ApiError {
    fn from(e: kabao_app::certification::CertificationError) -> Self {
        use kabao_app::certification::CertificationError as E;
        let status = match &e {
            E::Shop(_) | E::Store(_) => {
                return match e {
                    E::Shop(e) => ApiError::from(e),
                    e => ApiError::internal(e),
                }
            }
            E::Invalid(_) | E::DecisionInvalid | E::ReasonInvalid => StatusCode::BAD_REQUEST,
            E::NotFound => StatusCode::NOT_FOUND,
            E::NoShop | E::AlreadyHeld | E::AlreadyPending | E::AlreadyDecided => StatusCode::CONFLICT,
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::risk::RiskError> for ApiError {
    fn from(e: kabao_app::risk::RiskError) -> Self {
        use kabao_app::risk::RiskError as E;
        let status = match &e {
            E::Shop(_) | E::Store(_) => {
                return match e {
                    E::Shop(e) => ApiError::from(e),
                    e => ApiError::internal(e),
                }
            }
            E::OutcomeInvalid | E::NoteInvalid => StatusCode::BAD_REQUEST,
            E::NothingOpen => StatusCode::NOT_FOUND,
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::trust::TrustError> for ApiError {
    fn from(e: kabao_app::trust::TrustError) -> Self {
        use kabao_app::trust::TrustError as E;
        match e {
            E::SortInvalid => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

// === end of claims, disputes and trust ===

// === Accounts, money out and jobs (accounts and sessions, finance, payees, jobs, verify, mailer) ===

impl From<kabao_app::accounts::AccountsError> for ApiError {
    fn from(e: kabao_app::accounts::AccountsError) -> Self {
        use kabao_app::accounts::AccountsError as E;
        match &e {
            E::Invalid(_) => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::UsernameTaken => ApiError::from_localized(StatusCode::CONFLICT, &e),
            E::InvalidCredentials => ApiError::from_localized(StatusCode::UNAUTHORIZED, &e),
            E::Throttled { retry_after_s } => ApiError {
                retry_after_s: Some((*retry_after_s).max(1)),
                ..ApiError::from_localized(StatusCode::TOO_MANY_REQUESTS, &e)
            },
            E::CurrentPasswordWrong => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::Store(_) | E::Hashing => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::email_links::EmailLinkError> for ApiError {
    fn from(e: kabao_app::email_links::EmailLinkError) -> Self {
        use kabao_app::email_links::EmailLinkError as E;
        match &e {
            E::Invalid(_) | E::NoEmail | E::WrongPassword | E::LinkInvalid => {
                ApiError::from_localized(StatusCode::BAD_REQUEST, &e)
            }
            E::AlreadyVerified | E::AddressChanged => ApiError::from_localized(StatusCode::CONFLICT, &e),
            E::LinkUsed | E::LinkExpired => ApiError::from_localized(StatusCode::GONE, &e),
            E::Throttled { retry_after_s } => ApiError {
                retry_after_s: Some((*retry_after_s).max(1)),
                ..ApiError::from_localized(StatusCode::TOO_MANY_REQUESTS, &e)
            },
            E::Hashing | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::signup::SignupError> for ApiError {
    fn from(e: kabao_app::signup::SignupError) -> Self {
        use kabao_app::signup::SignupError as E;
        match e {
            E::Throttled { retry_after_s } => ApiError {
                retry_after_s: Some(retry_after_s.max(1)),
                ..ApiError::from_localized(StatusCode::TOO_MANY_REQUESTS, &e)
            },
            E::ProofInvalid | E::ProofExpired | E::ProofUsed => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::Account(inner) => ApiError::from(inner),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::sessions::SessionError> for ApiError {
    fn from(e: kabao_app::sessions::SessionError) -> Self {
        use kabao_app::sessions::SessionError as E;
        match &e {
            E::CsrfMismatch => ApiError::from_localized(StatusCode::FORBIDDEN, &e),
            E::NotAuthenticated => ApiError::unauthorized(),
            E::TokenNameInvalid => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::TokenNotFound => ApiError::not_found("token.not_found"),
            E::SessionNotFound => ApiError::not_found("session.not_found"),
            E::TotpEnrolmentRequired => ApiError::from_localized(StatusCode::FORBIDDEN, &e),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::totp::TotpError> for ApiError {
    fn from(e: kabao_app::totp::TotpError) -> Self {
        use kabao_app::totp::TotpError as E;
        match e {
            E::Required | E::Invalid | E::ChallengeExpired => ApiError::from_localized(StatusCode::UNAUTHORIZED, &e),
            E::EnrolmentRequired | E::StaffMustKeep => ApiError::from_localized(StatusCode::FORBIDDEN, &e),
            E::NoPendingEnrolment | E::AlreadyEnabled | E::NotEnabled => {
                ApiError::from_localized(StatusCode::CONFLICT, &e)
            }
            E::PasswordWrong => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::Accounts(a) => a.into(),
            E::Store(_) | E::Vault(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::payees::PayeesError> for ApiError {
    fn from(e: kabao_app::payees::PayeesError) -> Self {
        use kabao_app::payees::PayeesError as E;
        match e {
            E::Invalid(_) => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::NotFound => ApiError::from_localized(StatusCode::NOT_FOUND, &e),
            E::TooMany { .. } => ApiError::from_localized(StatusCode::CONFLICT, &e),
            E::Shop(e) => ApiError::from(e),
            E::Vanished | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::finance::FinanceError> for ApiError {
    fn from(e: kabao_app::finance::FinanceError) -> Self {
        use kabao_app::finance::FinanceError as E;
        let status = match e {
            E::AmountInvalid | E::PayoutRefRequired | E::ReasonRequired => StatusCode::BAD_REQUEST,
            E::BelowFee { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::Insufficient { .. } | E::AlreadyDecided | E::PayoutRefUsed | E::LedgerRefused(_) => StatusCode::CONFLICT,
            E::NotAdmin => StatusCode::FORBIDDEN,
            E::WithdrawalNotFound => StatusCode::NOT_FOUND,
            E::Payee(p) => return ApiError::from(p),
            E::Shop(e) => return ApiError::from(e),
            E::Idempotency(e) => return ApiError::from(e),
            E::Bookkeeping(_) | E::Vanished | E::Store(_) => return ApiError::internal(e),
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::refunds::RefundError> for ApiError {
    fn from(e: kabao_app::refunds::RefundError) -> Self {
        use kabao_app::refunds::RefundError as E;
        let status = match e {
            E::NotFound => StatusCode::NOT_FOUND,
            E::NotManual => StatusCode::CONFLICT,
            E::NoteRequired => StatusCode::BAD_REQUEST,
            E::Store(_) | E::Ledger(_) => return ApiError::internal(e),
        };
        ApiError::from_localized(status, &e)
    }
}

impl From<kabao_app::jobs::JobsError> for ApiError {
    fn from(e: kabao_app::jobs::JobsError) -> Self {
        use kabao_app::jobs::JobsError as E;
        match e {
            E::Order(e) => ApiError::from(e),
            E::Claims(e) => ApiError::from(e),
            E::Disputes(e) => ApiError::from(e),
            E::Trust(e) => ApiError::from(e),
            E::Finance(e) => ApiError::from(e),
            E::Bookkeeping(_) | E::Store(_) | E::Insurance(_) | E::Refunds(_) => ApiError::internal(e),
        }
    }
}

// === end of accounts, money out and jobs ===

/// Names the field in a serde message such as "unknown field `colour`, expected ..." or "missing field `title`".
fn field_in(message: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `", "duplicate field `"] {
        if let Some(rest) = message.split(marker).nth(1) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    // axum reports where serde failed as a path before the reason: "Failed to deserialize the JSON body into
    // the target type: price_fen: invalid type: ...", "Failed to deserialize query string: limit: invalid digit".
    for marker in ["into the target type: ", "query string: ", "form body: ", "deserialize form: "] {
        if let Some((path, _)) = message.split(marker).nth(1).and_then(|rest| rest.split_once(": ")) {
            let is_path = !path.is_empty()
                && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
            if is_path {
                return Some(path.to_string());
            }
        }
    }
    None
}

/// A body over the route's limit: 413, so a client knows shrinking it (not fixing it) is the way forward.
fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", "请求内容过大", "The request body is too large")
}

fn invalid_body(detail: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::BAD_REQUEST,
        "request.invalid_body",
        format!("请求内容格式错误：{detail}"),
        format!("The request body is not valid: {detail}"),
    );
    e.field = field_in(detail);
    e
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.content_type",
                "请求需要 Content-Type: application/json",
                "Expected Content-Type: application/json",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            other => invalid_body(&other.body_text()),
        }
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return too_large();
        }
        invalid_body(&r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        let mut e = invalid_body(&r.body_text());
        e.code = "request.invalid_query";
        e
    }
}

/// The answer to a method a route does not accept (JSON in the API, the error page on pages).
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "request.method_not_allowed",
        "不支持此请求方法",
        "This method is not allowed here",
    )
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::not_found("request.not_found")
    }
}

// === Insurance ===

impl From<kabao_app::insurance::InsuranceError> for ApiError {
    fn from(e: kabao_app::insurance::InsuranceError) -> Self {
        use kabao_app::insurance::InsuranceError as E;
        use kabao_core::insurance::QuoteError as Q;
        match e {
            E::Product(e) => e.into(),
            E::Trust(e) => e.into(),
            E::NoPolicy
            | E::PremiumChanged { .. }
            | E::Quote(Q::PriceTooLow { .. })
            | E::NoExtension
            | E::ExtensionPremiumChanged { .. } => refused(StatusCode::CONFLICT, &e),
            E::Quote(Q::NoExtraDays) => refused(StatusCode::BAD_REQUEST, &e),
            E::Quote(Q::Overflow) | E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::insurance::BookError> for ApiError {
    fn from(e: kabao_app::insurance::BookError) -> Self {
        use kabao_app::insurance::BookError as E;
        match e {
            E::Shop(e) => e.into(),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

// === Webhooks ===

impl From<kabao_app::webhooks::WebhooksError> for ApiError {
    fn from(e: kabao_app::webhooks::WebhooksError) -> Self {
        use kabao_app::webhooks::WebhooksError as E;
        let status = match e {
            E::Invalid(_) | E::BadThreshold => StatusCode::BAD_REQUEST,
            E::EndpointNotFound | E::DeliveryNotFound | E::ProductNotFound => StatusCode::NOT_FOUND,
            E::TooMany { .. } => StatusCode::CONFLICT,
            E::Shop(e) => return ApiError::from(e),
            E::Vault(_) | E::Store(_) => return ApiError::internal(e),
        };
        ApiError::from_localized(status, &e)
    }
}

// === History and dashboard ===

impl From<kabao_app::history::HistoryError> for ApiError {
    fn from(e: kabao_app::history::HistoryError) -> Self {
        use kabao_app::history::HistoryError as E;
        match e {
            E::BadState | E::BadCursor | E::BadDays => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::Shop(e) => ApiError::from(e),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

// === Catalog: browsing and pictures ===

impl From<kabao_app::catalog::BrowseError> for ApiError {
    fn from(e: kabao_app::catalog::BrowseError) -> Self {
        use kabao_app::catalog::BrowseError as E;
        match e {
            E::Query(_) | E::Limit => ApiError::from_localized(StatusCode::BAD_REQUEST, &e),
            E::Trust(e) => e.into(),
            E::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<kabao_app::pictures::PictureError> for ApiError {
    fn from(e: kabao_app::pictures::PictureError) -> Self {
        use kabao_app::pictures::PictureError as E;
        match e {
            E::NotImage | E::TooManyPixels | E::TooMany | E::Unknown => {
                ApiError::from_localized(StatusCode::BAD_REQUEST, &e)
            }
            E::TooLarge => ApiError::from_localized(StatusCode::PAYLOAD_TOO_LARGE, &e),
            E::Product(e) => e.into(),
            E::Encode | E::Store(_) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_the_field() {
        assert_eq!(field_in("unknown field `colour`, expected one of `title`"), Some("colour".into()));
        assert_eq!(field_in("missing field `title` at line 1"), Some("title".into()));
        assert_eq!(field_in("expected value"), None);
        assert_eq!(
            field_in("Failed to deserialize the JSON body into the target type: name: invalid type: integer `5`"),
            Some("name".into())
        );
        assert_eq!(
            field_in("Failed to deserialize query string: limit: invalid digit found in string"),
            Some("limit".into())
        );
        assert_eq!(field_in("Failed to parse the request body as JSON: key must be a string at line 1"), None);
    }

    #[test]
    fn body_has_error_code_alias_message_and_field() {
        let e = ApiError::bad_request("x.y", "price", "价格错误", "bad price");
        assert_eq!(
            e.body(Lang::En),
            serde_json::json!({"error": "x.y", "code": "x.y", "message": "bad price", "field": "price"})
        );
        assert_eq!(e.body(Lang::Zh)["message"], "价格错误");
    }

    #[test]
    fn body_omits_field_when_no_field_is_at_fault() {
        let body = ApiError::not_found("order.not_found").body(Lang::En);
        assert_eq!(
            body,
            serde_json::json!({"error": "order.not_found", "code": "order.not_found", "message": "Not found"})
        );
    }
}
