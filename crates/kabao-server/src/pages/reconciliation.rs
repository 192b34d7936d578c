//! The platform's reconciliation page: open findings of the gateway reconciliation (amounts that differ, payments
//! paid here that the gateway does not know, payments applied late), newest first, with keyset paging, and a
//! form to resolve one with a note.

use super::{datetime, render, see_other, Ctx, PageForm};
use crate::auth::AdminVisitor;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kabao_core::Lang;
use serde::Deserialize;

/// One finding as the page shows it.
struct FindingRow {
    id: i64,
    created_at: String,
    business_date: String,
    gateway: String,
    trade_no: String,
    gateway_trade_no: String,
    kind: &'static str,
    /// "error" or "info", as a CSS class and a badge.
    severity: &'static str,
    expected: String,
    got: String,
    detail: String,
}

/// The page's words, picked once for the visitor's language.
struct Words {
    title: &'static str,
    none: &'static str,
    when: &'static str,
    date: &'static str,
    gateway: &'static str,
    trade: &'static str,
    expected: &'static str,
    got: &'static str,
    note: &'static str,
    resolve: &'static str,
    older: &'static str,
    error: &'static str,
    info: &'static str,
    back: &'static str,
}

impl Words {
    fn of(lang: Lang) -> Words {
        Words {
            title: lang.pick("对账差异", "Reconciliation findings"),
            none: lang.pick("暂无未处理的对账差异。", "No open findings."),
            when: lang.pick("发现时间", "Found"),
            date: lang.pick("业务日", "Business day"),
            gateway: lang.pick("网关", "Gateway"),
            trade: lang.pick("交易号", "Trade"),
            expected: lang.pick("本站金额", "Our amount"),
            got: lang.pick("网关金额", "Gateway amount"),
            note: lang.pick("处理说明", "How it was resolved"),
            resolve: lang.pick("标记为已处理", "Mark resolved"),
            older: lang.pick("更早的差异", "Older findings"),
            error: lang.pick("需处理", "Error"),
            info: lang.pick("提示", "Info"),
            back: lang.pick("管理后台", "Admin"),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_reconciliation.html")]
struct ReconciliationPage {
    ctx: Ctx,
    w: Words,
    error: Option<String>,
    items: Vec<FindingRow>,
    /// The keyset link to the next (older) page.
    older: Option<i64>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// Findings with ids below this one (the next page).
    before: Option<i64>,
}

async fn page(
    state: &SharedState,
    av: &AdminVisitor,
    before: Option<i64>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let lang = av.v.lang;
    let findings = kabao_app::reconcile::open_findings(state, &av.user, before).await?;
    let older =
        (findings.len() as i64 == kabao_app::reconcile::FINDINGS_PAGE).then(|| findings.last().map(|f| f.id)).flatten();
    let items = findings
        .into_iter()
        .map(|f| FindingRow {
            id: f.id,
            created_at: datetime(f.created_at),
            business_date: f.business_date,
            gateway: f.gateway,
            trade_no: f.trade_no,
            gateway_trade_no: f.gateway_trade_no.unwrap_or_default(),
            kind: kabao_app::reconcile::kind_words(f.kind, lang),
            severity: if f.kind.is_error() { "error" } else { "info" },
            expected: f.expected.to_string(),
            got: f.got.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
            detail: f.detail,
        })
        .collect();
    let w = Words::of(lang);
    Ok(render(ReconciliationPage { ctx: Ctx::new(&av.v), w, error, items, older }))
}

pub async fn list(
    State(state): State<SharedState>,
    av: AdminVisitor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    page(&state, &av, q.before, None).await
}

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    note: String,
}

pub async fn resolve(
    State(state): State<SharedState>,
    av: AdminVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<ResolveForm>,
) -> Result<Response, ApiError> {
    av.v.check_csrf(f.csrf.as_deref())?;
    match kabao_app::reconcile::resolve(&state, &av.user, id, &f.note).await.map_err(ApiError::from) {
        Ok(_) => Ok(see_other("/admin/reconciliation")),
        Err(e) if e.status.is_client_error() => {
            let mut res = page(&state, &av, None, Some(e.message(av.v.lang).to_string())).await?;
            *res.status_mut() = e.status;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}
