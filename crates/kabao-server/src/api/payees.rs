//! `/api/v1/merchant/payees`: where a merchant's withdrawals are paid. Answers are masked; only the platform's
//! payout view (`GET /api/v1/admin/withdrawals`) shows the details in full.

use super::ApiJson;
use crate::auth::ApiMerchant;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use kabao_app::payees::MaskedPayee;
use kabao_core::payee::PayeeKind;
use kabao_store::PayeeRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a payee is paid.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayeeKindView {
    Alipay,
    Bank,
}

impl From<PayeeKind> for PayeeKindView {
    fn from(k: PayeeKind) -> Self {
        match k {
            PayeeKind::Alipay => PayeeKindView::Alipay,
            PayeeKind::Bank => PayeeKindView::Bank,
        }
    }
}

impl PayeeKindView {
    fn as_str(self) -> &'static str {
        match self {
            PayeeKindView::Alipay => "alipay",
            PayeeKindView::Bank => "bank",
        }
    }
}

/// A saved payee, masked.
#[derive(Serialize, ToSchema)]
pub struct PayeeView {
    pub id: i64,
    pub kind: PayeeKindView,
    /// e.g. `138****5678`, `s***@example.com`, `****7894`
    pub account_masked: String,
    /// e.g. `张*`
    pub holder_name_masked: String,
    /// The bank of a bank card.
    pub bank_name: Option<String>,
    pub created_at: i64,
}

impl From<&PayeeRecord> for PayeeView {
    fn from(p: &PayeeRecord) -> Self {
        let m = MaskedPayee::of(&p.details);
        PayeeView {
            id: p.id,
            kind: m.kind.into(),
            account_masked: m.account,
            holder_name_masked: m.holder_name,
            bank_name: m.bank_name,
            created_at: p.created_at.millis(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayeeInput {
    pub kind: PayeeKindView,
    /// Alipay: an 11-digit mainland mobile number or an email address. Bank: the card number, 16–19 digits with
    /// a valid Luhn check digit (spaces allowed).
    #[schema(max_length = 100, example = "13812345678")]
    pub account: String,
    /// The real name on the Alipay account, or the card holder's name: 2–30 letters.
    #[schema(min_length = 2, max_length = 30, example = "张三")]
    pub name: String,
    /// Required for a bank card: 2–40 characters.
    #[serde(default)]
    #[schema(max_length = 40, example = "中国工商银行")]
    pub bank_name: String,
}

/// The caller's payees, newest first (removed ones are not listed).
#[utoipa::path(get, path = "/api/v1/merchant/payees", tag = "merchant", security(("bearer" = [])),
    responses((status = 200, body = [PayeeView]), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "no shop yet")))]
pub async fn list(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<PayeeView>>, ApiError> {
    Ok(ApiJson(kabao_app::payees::my_payees(&state, &user).await?.iter().map(PayeeView::from).collect()))
}

/// Saves a payee (never edited afterwards: remove it and add another).
#[utoipa::path(post, path = "/api/v1/merchant/payees", tag = "merchant", security(("bearer" = [])), request_body = PayeeInput,
    responses((status = 201, body = PayeeView), (status = 400, description = "invalid kind, account, name or bank_name (the field is named)"),
        (status = 401, description = "no token"), (status = 403, description = "not a merchant"), (status = 404, description = "no shop yet"),
        (status = 409, description = "too many payees")))]
pub async fn create(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiJson(body): ApiJson<PayeeInput>,
) -> Result<(StatusCode, ApiJson<PayeeView>), ApiError> {
    let p = kabao_app::payees::add_payee(&state, &user, body.kind.as_str(), &body.account, &body.name, &body.bank_name)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(PayeeView::from(&p))))
}

/// One of the caller's payees.
#[utoipa::path(get, path = "/api/v1/merchant/payees/{id}", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = PayeeView), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "not the caller's payee, or removed")))]
pub async fn get(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<PayeeView>, ApiError> {
    Ok(ApiJson(PayeeView::from(&kabao_app::payees::my_payee(&state, &user, id).await?)))
}

/// Removes a payee. Withdrawals already requested to it keep its details and are paid as requested.
#[utoipa::path(delete, path = "/api/v1/merchant/payees/{id}", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "not the caller's payee, or removed already")))]
pub async fn remove(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    kabao_app::payees::remove_payee(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
