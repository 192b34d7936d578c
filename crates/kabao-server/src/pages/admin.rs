//! The admin pages: users and their roles, shops with certification and suspension, security events.

use super::{date, render, see_other, Ctx, PageForm};
use crate::auth::{AdminVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kabao_core::catalog::CertificationLevel;
use kabao_core::user::Role;
use kabao_core::{ShopId, UserId};
use serde::Deserialize;

pub struct ShopRow {
    pub id: i64,
    pub name: String,
    pub opened: String,
    pub certification: &'static str,
    pub certification_label: &'static str,
    pub suspended: bool,
}

pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub created: String,
    pub role: &'static str,
    pub role_label: &'static str,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    ctx: Ctx,
    error: Option<String>,
    shops: Vec<ShopRow>,
    users: Vec<UserRow>,
    levels: Vec<(&'static str, &'static str)>,
    roles: Vec<(&'static str, &'static str)>,
    /// The newest security events: (when, kind, what happened).
    security_events: Vec<(String, String, String)>,
}

async fn page(state: &SharedState, v: &Visitor, error: Option<String>) -> Result<Response, ApiError> {
    let kabao_app::admin::Overview { shops, users, security_events } = kabao_app::admin::overview(state).await?;
    let lang = v.lang;
    Ok(render(AdminPage {
        ctx: Ctx::new(v),
        error,
        shops: shops
            .into_iter()
            .map(|s| ShopRow {
                id: s.id.0,
                opened: date(s.opened_at),
                certification: s.certification.as_str(),
                certification_label: s.certification.label(lang),
                suspended: s.suspended,
                name: s.name,
            })
            .collect(),
        users: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.0,
                created: date(u.created_at),
                role: u.role.as_str(),
                role_label: u.role.label(lang),
                username: u.username,
            })
            .collect(),
        levels: CertificationLevel::ALL.iter().map(|l| (l.as_str(), l.label(lang))).collect(),
        roles: Role::ALL.iter().map(|r| (r.as_str(), r.label(lang))).collect(),
        security_events: security_events
            .iter()
            .map(|e| {
                (super::datetime(e.created_at), e.kind.clone(), kabao_app::payments::describe_security_event(e, lang))
            })
            .collect(),
    }))
}

pub async fn home(
    State(state): State<SharedState>,
    AdminVisitor { v, .. }: AdminVisitor,
) -> Result<Response, ApiError> {
    page(&state, &v, None).await
}

async fn after(state: &SharedState, v: &Visitor, result: Result<(), ApiError>) -> Result<Response, ApiError> {
    match result {
        Ok(()) => Ok(see_other("/admin")),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let mut res = page(state, v, Some(e.message(v.lang).to_string())).await?;
            *res.status_mut() = e.status;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct LevelForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    level: String,
}

pub async fn set_certification(
    State(state): State<SharedState>,
    AdminVisitor { v, user }: AdminVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<LevelForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let r = kabao_app::shops::set_certification(&state, &user, ShopId(id), &f.level)
        .await
        .map(|_| ())
        .map_err(ApiError::from);
    after(&state, &v, r).await
}

#[derive(Deserialize)]
pub struct SuspensionForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    suspended: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_suspension(
    State(state): State<SharedState>,
    AdminVisitor { v, user }: AdminVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<SuspensionForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let r = kabao_app::shops::set_suspension(&state, &user, ShopId(id), f.suspended == "true", &f.reason)
        .await
        .map(|_| ())
        .map_err(ApiError::from);
    after(&state, &v, r).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    role: String,
}

pub async fn set_role(
    State(state): State<SharedState>,
    AdminVisitor { v, user }: AdminVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<RoleForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let r = kabao_app::shops::set_role(&state, &user, UserId(id), &f.role).await.map(|_| ()).map_err(ApiError::from);
    after(&state, &v, r).await
}

#[derive(Deserialize)]
pub struct FundForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    amount: String,
}

/// The platform moves part of its revenue into the compensation fund.
pub async fn contribute_to_fund(
    State(state): State<SharedState>,
    AdminVisitor { v, user }: AdminVisitor,
    PageForm(f): PageForm<FundForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let r = match kabao_core::Money::parse_yuan(&f.amount) {
        Ok(amount) => kabao_app::disputes::contribute_to_fund(&state, &user, amount).await.map_err(ApiError::from),
        Err(_) => Err(ApiError::bad_request(
            "fund.amount_invalid",
            "amount",
            "金额格式不正确（例如 100.00）",
            "Not a valid amount (e.g. 100.00)",
        )),
    };
    after(&state, &v, r).await
}
