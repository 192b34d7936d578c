//! `/api/v1/products/{id}/warranty`, `/api/v1/warranty/templates` and the merchant's
//! `/api/v1/merchant/products/{id}/warranty`: warranty policies (补单规则) as data, with their plain-language text.

use super::ApiJson;
use crate::auth::ApiMerchant;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use axum::extract::State;
use kabao_app::warranty::Change;
use kabao_core::warranty::templates;
use kabao_core::{Lang, ProductId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A product's current warranty terms.
#[derive(Serialize, ToSchema)]
pub struct WarrantyView {
    /// False: 无质保 (no warranty) — `policy` and `version` are then null.
    pub has_warranty: bool,
    pub version: Option<i32>,
    /// The policy as data (covered defects, evidence, window, re-issues, remedy, automatic re-issue, deadline).
    #[schema(value_type = Option<Object>)]
    pub policy: Option<serde_json::Value>,
    /// SHA-256 (hex) of the snapshot an order placed now would carry; send it back as `warranty_sha256`.
    pub sha256: String,
    /// The rules in plain Chinese and English, generated from the data.
    pub description_zh: Vec<String>,
    pub description_en: Vec<String>,
    /// The same terms in one line, as listings show them.
    pub summary: super::views::WarrantySummaryView,
}

fn view(current: Option<&kabao_app::warranty::Current>) -> WarrantyView {
    let (_, sha) = kabao_app::warranty::snapshot_of(current);
    WarrantyView {
        has_warranty: current.is_some(),
        version: current.map(|c| c.version.version),
        policy: current.and_then(|c| serde_json::to_value(&c.policy).ok()),
        sha256: hex::encode(sha),
        description_zh: current.map(|c| c.policy.describe(Lang::Zh)).unwrap_or_default(),
        description_en: current.map(|c| c.policy.describe(Lang::En)).unwrap_or_default(),
        summary: super::views::WarrantySummaryView::new(current.map(|c| c.policy.summary())),
    }
}

/// A listed product's current warranty terms.
#[utoipa::path(get, path = "/api/v1/products/{id}/warranty", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = WarrantyView), (status = 404, description = "no such product")))]
pub async fn get(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<WarrantyView>, ApiError> {
    let (p, _) = kabao_app::products::public(&state, ProductId(id), None).await?;
    let current = kabao_app::warranty::current_of(&state, p.id).await?;
    Ok(ApiJson(view(current.as_ref())))
}

#[derive(Serialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    pub description_zh: Vec<String>,
    pub description_en: Vec<String>,
}

/// The policy templates merchants start from.
#[utoipa::path(get, path = "/api/v1/warranty/templates", tag = "catalog", responses((status = 200, body = [TemplateView])))]
pub async fn list_templates() -> ApiJson<Vec<TemplateView>> {
    ApiJson(
        templates()
            .into_iter()
            .map(|t| TemplateView {
                id: t.id.into(),
                name_zh: t.name_zh.into(),
                name_en: t.name_en.into(),
                policy: serde_json::to_value(&t.policy).unwrap_or_default(),
                description_zh: t.policy.describe(Lang::Zh),
                description_en: t.policy.describe(Lang::En),
            })
            .collect(),
    )
}

/// Exactly one of the three (documented as [`WarrantyInputDoc`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarrantyInput {
    /// A template id from `/api/v1/warranty/templates`.
    pub template: Option<String>,
    /// A policy built field by field, in the form the templates show.
    pub policy: Option<serde_json::Value>,
    /// `true`: no warranty (无质保) from now on.
    pub none: Option<bool>,
}

/// The documented shape of [`WarrantyInput`]: exactly one of a template, a policy, or none.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = WarrantyInput)]
#[allow(dead_code)]
pub enum WarrantyInputDoc {
    Template(TemplateChoice),
    Policy(PolicyChoice),
    None(NoWarranty),
}

/// A template from `/api/v1/warranty/templates`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TemplateChoice {
    #[schema(value_type = super::contract::WarrantyTemplateName)]
    template: String,
}

/// A policy built field by field, in the form the templates show; an incoherent one is refused naming the field
/// (e.g. automatic re-issue with a refund-only remedy).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PolicyChoice {
    #[schema(value_type = Object)]
    policy: serde_json::Value,
}

/// No warranty (无质保) from now on.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NoWarranty {
    #[schema(value_type = super::contract::AcceptedFlag)]
    none: bool,
}

/// Set a product's warranty policy. Each change is a new version; orders keep the version they were sold under.
#[utoipa::path(put, path = "/api/v1/merchant/products/{id}/warranty", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = WarrantyInputDoc,
    responses((status = 200, body = WarrantyView), (status = 400, description = "incoherent policy, named by field"), (status = 404, description = "not a product of yours")))]
pub async fn set(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<WarrantyInput>,
) -> Result<ApiJson<WarrantyView>, ApiError> {
    let change = match (body.template, body.policy, body.none) {
        (Some(t), None, None | Some(false)) => Change::Template(t),
        (None, Some(p), None | Some(false)) => Change::Policy(kabao_app::warranty::parse_policy(p)?),
        (None, None, Some(true)) => Change::None,
        _ => {
            return Err(ApiError::bad_request(
                "warranty.input_ambiguous",
                "template",
                "请只提供 template、policy、none 三者之一",
                "Give exactly one of template, policy or none",
            ))
        }
    };
    let current = kabao_app::warranty::set(&state, &user, ProductId(id), change).await?;
    Ok(ApiJson(view(current.as_ref())))
}
