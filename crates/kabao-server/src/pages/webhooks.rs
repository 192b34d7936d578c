//! The merchant's webhook console: endpoints (the secret shown once, on creation), each with its latest
//! deliveries and last answers, and "重新发送 / Send again". Forms carry the CSRF token like every console form.

use super::{datetime, render, see_other, Ctx, PageForm};
use crate::auth::MerchantVisitor;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use kabao_core::webhook::EventKind;
use kabao_core::Lang;
use kabao_store::DeliveryState;
use serde::Deserialize;

/// Deliveries shown per endpoint on the page (the API pages through all of them).
const SHOWN: usize = 20;

struct DeliveryRow {
    id: i64,
    created_at: String,
    kind: &'static str,
    state: &'static str,
    attempts: i32,
    /// "HTTP 200 received" or the reason there was no answer.
    last: String,
}

struct EndpointRow {
    id: i64,
    url: String,
    events: String,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "console_webhooks.html")]
struct WebhooksPage {
    ctx: Ctx,
    error: Option<String>,
    secret: Option<String>,
    kinds: Vec<(&'static str, &'static str)>,
    endpoints: Vec<EndpointRow>,
}

fn state_label(s: DeliveryState, lang: Lang) -> &'static str {
    match s {
        DeliveryState::Pending => lang.pick("等待发送", "Pending"),
        DeliveryState::Delivered => lang.pick("已送达", "Delivered"),
        DeliveryState::Failed => lang.pick("发送失败", "Failed"),
        DeliveryState::Cancelled => lang.pick("已取消", "Cancelled"),
    }
}

async fn page(
    state: &SharedState,
    mv: &MerchantVisitor,
    error: Option<String>,
    secret: Option<String>,
) -> Result<Response, ApiError> {
    let lang = mv.v.lang;
    let mut endpoints = Vec::new();
    for e in kabao_app::webhooks::my_endpoints(state, &mv.user).await? {
        let deliveries = kabao_app::webhooks::deliveries(state, &mv.user, e.id, 0).await?;
        endpoints.push(EndpointRow {
            id: e.id,
            url: e.url.clone(),
            events: e.events.iter().map(|k| k.label(lang)).collect::<Vec<_>>().join(" · "),
            deliveries: deliveries
                .iter()
                .take(SHOWN)
                .map(|d| DeliveryRow {
                    id: d.id,
                    created_at: datetime(d.created_at),
                    kind: d.kind.as_str(),
                    state: state_label(d.state, lang),
                    attempts: d.attempts,
                    last: match (d.last_status, &d.last_response, &d.last_error) {
                        (Some(s), r, _) => format!("HTTP {s} {}", r.as_deref().unwrap_or("")),
                        (None, _, Some(err)) => err.clone(),
                        _ => "—".into(),
                    },
                })
                .collect(),
        });
    }
    let p = WebhooksPage {
        ctx: Ctx::new(&mv.v),
        error,
        secret,
        kinds: EventKind::ALL.iter().map(|k| (k.as_str(), k.label(lang))).collect(),
        endpoints,
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(p)).into_response())
}

async fn outcome(
    state: &SharedState,
    mv: &MerchantVisitor,
    result: Result<(), ApiError>,
) -> Result<Response, ApiError> {
    match result {
        Ok(()) => Ok(see_other("/console/webhooks")),
        Err(e) if e.status.is_client_error() => {
            let mut res = page(state, mv, Some(e.message(mv.v.lang).to_string()), None).await?;
            *res.status_mut() = e.status;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

pub async fn show(State(state): State<SharedState>, mv: MerchantVisitor) -> Result<Response, ApiError> {
    page(&state, &mv, None, None).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

/// The endpoint form: `url` and any number of `events` checkboxes, read from the raw pairs (a form may repeat
/// a name).
pub async fn create(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    mv.v.check_csrf(field("_csrf"))?;
    let url = field("url").unwrap_or("");
    let events = pairs.iter().filter(|(k, _)| k == "events").map(|(_, v)| v.as_str());
    match kabao_app::webhooks::create_endpoint(&state, &mv.user, url, events).await {
        Ok((_, secret)) => page(&state, &mv, None, Some(secret)).await,
        Err(e) => outcome(&state, &mv, Err(ApiError::from(e))).await,
    }
}

pub async fn remove(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = kabao_app::webhooks::delete_endpoint(&state, &mv.user, id).await.map_err(ApiError::from);
    outcome(&state, &mv, result).await
}

pub async fn resend(
    State(state): State<SharedState>,
    mv: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, ApiError> {
    mv.v.check_csrf(f.csrf.as_deref())?;
    let result = kabao_app::webhooks::resend(&state, &mv.user, id).await.map(|_| ()).map_err(ApiError::from);
    outcome(&state, &mv, result).await
}
