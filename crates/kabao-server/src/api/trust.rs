//! Trust over the API: a shop's score with its reasons and warnings, certification applications and their review.

use super::ApiJson;
use crate::auth::{ApiMerchant, ApiUser};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use kabao_core::trust::TrustScore;
use kabao_core::{Lang, ShopId};
use kabao_store::CertificationApplication;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(as = TrustReason)]
pub struct ReasonView {
    /// e.g. shop_age, rating.described, claims.response, disputes.lost
    pub code: String,
    pub points: i32,
    /// e.g. "开店 3 个月（不足 1 年）"
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct WarningView {
    pub code: String,
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct TrustView {
    pub shop_id: i64,
    /// 0–100.
    #[schema(maximum = 100)]
    pub score: u8,
    #[schema(value_type = super::contract::TrustLevelName)]
    pub level: String,
    pub level_label: String,
    /// What moved the score, biggest first.
    pub reasons: Vec<ReasonView>,
    /// Where a buyer should hesitate.
    pub warnings: Vec<WarningView>,
}

impl TrustView {
    pub fn new(shop: ShopId, t: &TrustScore, lang: Lang) -> TrustView {
        TrustView {
            shop_id: shop.0,
            score: t.score,
            level: t.level.as_str().into(),
            level_label: t.level.label(lang).into(),
            reasons: t
                .reasons
                .iter()
                .map(|r| ReasonView { code: r.code().into(), points: r.points, text: r.text(lang) })
                .collect(),
            warnings: t.warnings.iter().map(|w| WarningView { code: w.code().into(), text: w.text(lang) }).collect(),
        }
    }
}

/// A shop's trust score (商家信誉), its reasons and warnings.
#[utoipa::path(get, path = "/api/v1/shops/{id}/trust", tag = "trust", params(("id" = i64, Path)),
    responses((status = 200, body = TrustView), (status = 404, description = "no such shop")))]
pub async fn shop_trust(
    State(state): State<SharedState>,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<TrustView>, ApiError> {
    let lang = crate::auth::request_lang(&headers);
    let shop = kabao_app::shops::public_shop(&state, ShopId(id), None).await?;
    let t = kabao_app::trust::of_shop(&state, &shop).await?;
    Ok(ApiJson(TrustView::new(shop.id, &t, lang)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// verified (实名认证) or enterprise (企业店铺). Gold is granted from the record, not applied for.
    #[schema(value_type = super::contract::ApplicationLevelName)]
    pub level: String,
    /// verified (required): the holder's real name, 1–60 characters.
    #[serde(default)]
    #[schema(max_length = 60)]
    pub real_name: String,
    /// verified (required): the 18-character resident ID number whose last character is its check character
    /// (GB 11643); kept only masked and fingerprinted.
    #[serde(default)]
    #[schema(pattern = "^\\s*([0-9]{17}[0-9Xx])?\\s*$")]
    pub id_number: String,
    /// enterprise (required): company name, 1–60 characters.
    #[serde(default)]
    #[schema(max_length = 60)]
    pub company_name: String,
    /// enterprise (required): the 18-character 统一社会信用代码 with its check character (GB 32100).
    #[serde(default)]
    #[schema(pattern = "^\\s*([0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18})?\\s*$")]
    pub credit_code: String,
    /// enterprise (required): the legal representative, 1–60 characters.
    #[serde(default)]
    #[schema(max_length = 60)]
    pub legal_person: String,
    /// An 11-digit mainland mobile number.
    #[schema(pattern = "^\\s*1[3-9][0-9]{9}\\s*$")]
    pub phone: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: i64,
    pub shop_id: i64,
    #[schema(value_type = super::contract::CertificationName)]
    pub level: String,
    /// Name (and legal representative, phone) as submitted.
    pub details: serde_json::Value,
    pub id_masked: String,
    #[schema(value_type = super::contract::ApplicationStateName)]
    pub state: String,
    pub reason: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

impl From<&CertificationApplication> for ApplicationView {
    fn from(a: &CertificationApplication) -> ApplicationView {
        ApplicationView {
            id: a.id,
            shop_id: a.shop_id.0,
            level: a.level.as_str().into(),
            details: serde_json::from_str(&a.details_json).unwrap_or_default(),
            id_masked: a.id_masked.clone(),
            state: a.state.clone(),
            reason: a.reason.clone(),
            created_at: a.created_at.millis(),
            decided_at: a.decided_at.map(|t| t.millis()),
        }
    }
}

/// The merchant applies for a certification level; one application may be pending at a time.
#[utoipa::path(post, path = "/api/v1/merchant/certification", tag = "trust", security(("bearer" = [])),
    request_body = ApplicationInput,
    responses((status = 201, body = ApplicationView), (status = 400, description = "a field is missing or invalid (named)"),
        (status = 404, description = "no shop yet"), (status = 409, description = "an application is pending, or the shop has the level already")))]
pub async fn apply(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiJson(body): ApiJson<ApplicationInput>,
) -> Result<impl IntoResponse, ApiError> {
    let input = kabao_core::certification::ApplicationInput {
        level: body.level,
        real_name: body.real_name,
        id_number: body.id_number,
        company_name: body.company_name,
        credit_code: body.credit_code,
        legal_person: body.legal_person,
        phone: body.phone,
    };
    let app = kabao_app::certification::apply(&state, &user, &input).await?;
    Ok((StatusCode::CREATED, ApiJson(ApplicationView::from(&app))))
}

/// The merchant's applications, newest first.
#[utoipa::path(get, path = "/api/v1/merchant/certification", tag = "trust", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApplicationView>), (status = 404, description = "no shop yet")))]
pub async fn mine(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<ApplicationView>>, ApiError> {
    let apps = kabao_app::certification::of_merchant(&state, &user).await?;
    Ok(ApiJson(apps.iter().map(ApplicationView::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct PendingView {
    #[serde(flatten)]
    pub application: ApplicationView,
    pub shop_name: String,
    /// Other shops whose applications carry the same id number (one person or company behind several shops).
    pub same_id_shops: Vec<i64>,
}

/// Pending applications, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/admin/certifications", tag = "trust", security(("bearer" = [])),
    responses((status = 200, body = Vec<PendingView>), (status = 403, description = "not an admin")))]
pub async fn pending(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
) -> Result<ApiJson<Vec<PendingView>>, ApiError> {
    let rows = kabao_app::certification::pending(&state, &user).await?;
    Ok(ApiJson(
        rows.iter()
            .map(|p| PendingView {
                application: ApplicationView::from(&p.application),
                shop_name: p.shop_name.clone(),
                same_id_shops: p.same_id_shops.iter().map(|s| s.0).collect(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CertificationDecisionInput)]
pub struct DecisionInput {
    #[schema(value_type = super::contract::ApprovalName)]
    pub decision: String,
    /// Required: shown to the merchant.
    #[schema(min_length = 1, pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    pub reason: String,
}

/// An admin approves (the shop gets the level) or rejects an application, with a reason.
#[utoipa::path(post, path = "/api/v1/admin/certifications/{id}/decision", tag = "trust", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DecisionInput,
    responses((status = 200, body = ApplicationView), (status = 400, description = "bad decision or no reason"),
        (status = 403, description = "not an admin"), (status = 404, description = "no such application"),
        (status = 409, description = "decided already")))]
pub async fn decide(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DecisionInput>,
) -> Result<ApiJson<ApplicationView>, ApiError> {
    let app = kabao_app::certification::decide(&state, &user, id, &body.decision, &body.reason).await?;
    Ok(ApiJson(ApplicationView::from(&app)))
}
