//! The trust panel (商家信誉) shown on shop and product pages: score, level, the reasons with their points, and
//! the warnings a buyer should read before paying; the buyer's own record with the shop; the first-order
//! guidance; certification applications in the console and their review by admins; the admin's risk queue.

use super::{after_form, date, datetime, render, Ctx, PageForm};
use crate::auth::{AdminVisitor, MerchantVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use kabao_core::trust::TrustScore;
use kabao_core::Lang;
use kabao_store::User;
use std::collections::HashMap;

/// The panel's content.
pub struct TrustPanel {
    pub score: u8,
    pub level: &'static str,
    /// low / fair / good / excellent, for styling.
    pub level_code: &'static str,
    /// (text, signed points, positive?)
    pub reasons: Vec<(String, String, bool)>,
    pub warnings: Vec<String>,
}

impl TrustPanel {
    pub fn new(t: &TrustScore, lang: Lang) -> TrustPanel {
        TrustPanel {
            score: t.score,
            level: t.level.label(lang),
            level_code: t.level.as_str(),
            reasons: t.reasons.iter().map(|r| (r.text(lang), r.signed_points(), r.points >= 0)).collect(),
            warnings: t.warnings.iter().map(|w| w.text(lang)).collect(),
        }
    }
}

/// The buyer's record with a shop, as shown beside the buy box.
pub struct RecordView {
    pub orders: usize,
    /// (order no, state label, date)
    pub recent: Vec<(String, &'static str, String)>,
    /// (claim no, state label)
    pub claims: Vec<(String, &'static str)>,
}

pub async fn record_view(
    state: &SharedState,
    user: &User,
    shop: kabao_core::ShopId,
    lang: Lang,
) -> Result<Option<RecordView>, ApiError> {
    let r = kabao_app::trial::record(state, user, shop).await?;
    if r.orders.is_empty() {
        return Ok(None);
    }
    Ok(Some(RecordView {
        orders: r.orders.len(),
        recent: r
            .orders
            .iter()
            .take(5)
            .map(|o| (o.order_no.clone(), o.state.label(lang), date(o.created_at)))
            .collect(),
        claims: r.claims.iter().map(|(no, s)| (no.clone(), s.label(lang))).collect(),
    }))
}

#[derive(Template)]
#[template(path = "console_certification.html")]
struct CertificationPage {
    ctx: Ctx,
    error: Option<String>,
    current: &'static str,
    current_certified: bool,
    /// (level, state, masked id, reason, date)
    applications: Vec<(&'static str, String, String, Option<String>, String)>,
    /// What the shop still lacks for 金牌卖家.
    gold_shortfalls: Vec<String>,
    form: CertForm,
}

/// What the form shows again after a refusal (never the id numbers).
#[derive(Default)]
struct CertForm {
    level: String,
    real_name: String,
    company_name: String,
    legal_person: String,
    phone: String,
}

impl CertForm {
    fn from(f: &HashMap<String, String>) -> CertForm {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        CertForm {
            level: get("level"),
            real_name: get("real_name"),
            company_name: get("company_name"),
            legal_person: get("legal_person"),
            phone: get("phone"),
        }
    }
}

async fn certification_page(
    state: &SharedState,
    v: &Visitor,
    user: &User,
    error: Option<String>,
    form: CertForm,
) -> Result<Response, ApiError> {
    let lang = v.lang;
    let shop = kabao_app::shops::my_shop(state, user).await?;
    let apps = kabao_app::certification::of_merchant(state, user).await?;
    let inputs = kabao_app::trust::inputs_now(state, &kabao_app::trust::Subject::from(&shop)).await?;
    let gold_shortfalls = kabao_core::trust::gold_shortfalls(&inputs).iter().map(|g| g.text(lang)).collect();
    let page = CertificationPage {
        ctx: Ctx::new(v),
        error,
        current: shop.certification.label(lang),
        current_certified: shop.certification != kabao_core::catalog::CertificationLevel::None,
        applications: apps
            .iter()
            .map(|a| {
                let state_label = match a.state.as_str() {
                    "approved" => lang.pick("已通过", "Approved"),
                    "rejected" => lang.pick("未通过", "Rejected"),
                    _ => lang.pick("审核中", "Under review"),
                };
                (
                    a.level.label(lang),
                    state_label.to_string(),
                    a.id_masked.clone(),
                    a.reason.clone(),
                    date(a.created_at),
                )
            })
            .collect(),
        gold_shortfalls,
        form,
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// `GET /console/certification`.
pub async fn console(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
) -> Result<Response, ApiError> {
    certification_page(&state, &v, &user, None, CertForm::default()).await
}

/// `POST /console/certification`: apply.
pub async fn apply(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    PageForm(f): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.get("_csrf").map(String::as_str))?;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let input = kabao_core::certification::ApplicationInput {
        level: get("level"),
        real_name: get("real_name"),
        id_number: get("id_number"),
        company_name: get("company_name"),
        credit_code: get("credit_code"),
        legal_person: get("legal_person"),
        phone: get("phone"),
    };
    after_form(
        v.lang,
        kabao_app::certification::apply(&state, &user, &input).await.map_err(ApiError::from),
        "/console/certification",
        |msg| certification_page(&state, &v, &user, Some(msg), CertForm::from(&f)),
    )
    .await
}

#[derive(Template)]
#[template(path = "admin_trust.html")]
struct AdminTrustPage {
    ctx: Ctx,
    error: Option<String>,
    applications: Vec<AppRow>,
    risk: Vec<RiskRow>,
}

struct AppRow {
    id: i64,
    shop: String,
    shop_id: i64,
    level: &'static str,
    details: String,
    masked: String,
    /// Other shops with the same id.
    same: String,
    when: String,
}

struct RiskRow {
    shop_id: i64,
    shop: String,
    open: i64,
    events: Vec<RiskLine>,
}

/// One flagged message in the queue: what was said, which rules it broke (in words), and where to read the chat.
struct RiskLine {
    when: String,
    order_no: Option<String>,
    message: Option<String>,
    rules: Vec<String>,
    state: &'static str,
    open: bool,
}

async fn admin_page(
    state: &SharedState,
    v: &Visitor,
    admin: &User,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let lang = v.lang;
    let pending = kabao_app::certification::pending(state, admin).await?;
    let queue = kabao_app::risk::queue(state, admin).await?;
    let page = AdminTrustPage {
        ctx: Ctx::new(v),
        error,
        applications: pending
            .into_iter()
            .map(|p| {
                let a = p.application;
                let details: serde_json::Value = serde_json::from_str(&a.details_json).unwrap_or_default();
                let mut text = details["name"].as_str().unwrap_or_default().to_string();
                if let Some(legal) = details["legal_person"].as_str() {
                    text.push_str(&format!(" · {legal}"));
                }
                if let Some(phone) = details["phone"].as_str() {
                    text.push_str(&format!(" · {phone}"));
                }
                let same = p.same_id_shops.iter().map(|s| format!("#{}", s.0)).collect::<Vec<_>>().join(" ");
                AppRow {
                    id: a.id,
                    shop: p.shop_name,
                    shop_id: a.shop_id.0,
                    level: a.level.label(lang),
                    details: text,
                    masked: a.id_masked,
                    same,
                    when: date(a.created_at),
                }
            })
            .collect(),
        risk: queue
            .into_iter()
            .map(|q| {
                let events = q
                    .events
                    .into_iter()
                    .map(|e| RiskLine {
                        rules: e.rules().iter().map(|r| kabao_app::risk::rule_text(r, lang)).collect(),
                        when: datetime(e.event.created_at),
                        state: kabao_app::risk::state_label(&e.event.state, lang),
                        open: e.event.state == "open",
                        order_no: e.order_no,
                        message: e.message,
                    })
                    .collect();
                RiskRow { shop_id: q.shop.id.0, shop: q.shop.name, open: q.open, events }
            })
            .collect(),
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// `GET /admin/trust`: certification applications and the risk review queue.
pub async fn admin(
    State(state): State<SharedState>,
    AdminVisitor { v, user: admin }: AdminVisitor,
) -> Result<Response, ApiError> {
    admin_page(&state, &v, &admin, None).await
}

/// `POST /admin/certifications/{id}/decision`.
pub async fn decide(
    State(state): State<SharedState>,
    AdminVisitor { v, user: admin }: AdminVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.get("_csrf").map(String::as_str))?;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    after_form(
        v.lang,
        kabao_app::certification::decide(&state, &admin, id, &get("decision"), &get("reason"))
            .await
            .map_err(ApiError::from),
        "/admin/trust",
        |msg| admin_page(&state, &v, &admin, Some(msg)),
    )
    .await
}

/// `POST /admin/risk/{shop_id}/review`.
pub async fn review_risk(
    State(state): State<SharedState>,
    AdminVisitor { v, user: admin }: AdminVisitor,
    ApiPath(shop): ApiPath<i64>,
    PageForm(f): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.get("_csrf").map(String::as_str))?;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let suspend = f.contains_key("suspend");
    after_form(
        v.lang,
        kabao_app::risk::review(&state, &admin, kabao_core::ShopId(shop), &get("outcome"), &get("note"), suspend)
            .await
            .map_err(ApiError::from),
        "/admin/trust",
        |msg| admin_page(&state, &v, &admin, Some(msg)),
    )
    .await
}
