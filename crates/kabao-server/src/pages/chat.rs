//! Chat pages: the buyer's chat on the order page (posted here), and one chat page for the merchant
//! (`/console/orders/{no}/chat`), the arbiter (`/arbiter/orders/{no}/chat`) and, read only, the admin
//! (`/admin/orders/{no}/chat`).

use super::orders::visible_order;
use super::{after_form, datetime, render, Ctx, PageForm};
use crate::auth::{AdminVisitor, ArbiterVisitor, MerchantVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kabao_app::chat::{Shown, Speaker};
use kabao_core::Lang;
use kabao_store::{ChatParty, Order};
use std::collections::HashMap;

/// A message as the pages show it.
pub struct ChatLine {
    /// buyer / merchant / arbiter
    pub sender: String,
    pub sender_label: &'static str,
    pub mine: bool,
    pub body: String,
    pub masked: bool,
    pub rules: String,
    pub warning: Option<String>,
    pub at: String,
}

pub fn lines(shown: Vec<Shown>, reader: ChatParty, lang: Lang) -> Vec<ChatLine> {
    shown
        .into_iter()
        .map(|m| ChatLine {
            sender_label: match ChatParty::parse(&m.sender) {
                Some(ChatParty::Buyer) => lang.pick("买家", "Buyer"),
                Some(ChatParty::Merchant) => lang.pick("商家", "Merchant"),
                _ => lang.pick("平台仲裁员", "Arbiter"),
            },
            mine: m.sender == reader.as_str(),
            sender: m.sender,
            body: m.body,
            masked: m.masked,
            rules: m
                .rules
                .iter()
                .map(|r| kabao_app::risk::rule_text(r, lang))
                .collect::<Vec<_>>()
                .join(lang.pick("；", "; ")),
            warning: m.warning,
            at: datetime(kabao_core::Timestamp(m.created_at)),
        })
        .collect()
}

/// The chat of an order as `reader` sees it.
pub async fn chat_lines(
    state: &SharedState,
    order: &Order,
    reader: ChatParty,
    lang: Lang,
) -> Result<Vec<ChatLine>, ApiError> {
    let messages = kabao_app::chat::messages(state, order).await?;
    Ok(lines(kabao_app::chat::shown(&messages, reader, lang), reader, lang))
}

/// `POST /o/{no}/messages`: the buyer writes; back to the order's chat, or the order page with the error.
pub async fn buyer_send(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.get("_csrf").map(String::as_str))?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let body = f.get("body").cloned().unwrap_or_default();
    after_form(
        v.lang,
        kabao_app::chat::send(&state, &order, Speaker::Buyer(v.user.as_ref().map(|u| u.id)), &body)
            .await
            .map_err(ApiError::from),
        &format!("/o/{}#chat", order.order_no),
        |msg| super::orders::order_page(&state, &v, &order, Vec::new(), Some(msg)),
    )
    .await
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage {
    ctx: Ctx,
    error: Option<String>,
    order_no: String,
    /// Where the form posts: `/console/orders/{no}/chat` or `/arbiter/orders/{no}/chat`; an admin's view has
    /// no form (`can_write` false).
    chat_action: String,
    can_write: bool,
    chat: Vec<ChatLine>,
}

async fn chat_page(
    state: &SharedState,
    v: &Visitor,
    order: &Order,
    reader: ChatParty,
    action: String,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let chat = chat_lines(state, order, reader, v.lang).await?;
    let page = ChatPage {
        ctx: Ctx::new(v),
        error,
        order_no: order.order_no.clone(),
        can_write: !action.is_empty(),
        chat_action: action,
        chat,
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// `GET /console/orders/{no}/chat`.
pub async fn merchant(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(no): ApiPath<String>,
) -> Result<Response, ApiError> {
    let order = kabao_app::chat::merchant_order(&state, &user, &no).await?;
    chat_page(&state, &v, &order, ChatParty::Merchant, format!("/console/orders/{}/chat", order.order_no), None).await
}

/// `POST /console/orders/{no}/chat`.
pub async fn merchant_send(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.get("_csrf").map(String::as_str))?;
    let order = kabao_app::chat::merchant_order(&state, &user, &no).await?;
    let action = format!("/console/orders/{}/chat", order.order_no);
    let body = f.get("body").cloned().unwrap_or_default();
    after_form(
        v.lang,
        kabao_app::chat::send(&state, &order, Speaker::Merchant(&user), &body).await.map_err(ApiError::from),
        &action,
        |msg| chat_page(&state, &v, &order, ChatParty::Merchant, action.clone(), Some(msg)),
    )
    .await
}

/// `GET /arbiter/orders/{no}/chat`.
pub async fn arbiter(
    State(state): State<SharedState>,
    ArbiterVisitor { v, user }: ArbiterVisitor,
    ApiPath(no): ApiPath<String>,
) -> Result<Response, ApiError> {
    let order = kabao_app::chat::arbiter_order(&state, &user, &no).await?;
    chat_page(&state, &v, &order, ChatParty::Arbiter, format!("/arbiter/orders/{}/chat", order.order_no), None).await
}

/// `GET /admin/orders/{no}/chat`: any order's chat, read only, for an admin reviewing risk events.
pub async fn admin(
    State(state): State<SharedState>,
    AdminVisitor { v, user }: AdminVisitor,
    ApiPath(no): ApiPath<String>,
) -> Result<Response, ApiError> {
    let order = kabao_app::chat::admin_order(&state, &user, &no).await?;
    chat_page(&state, &v, &order, ChatParty::Arbiter, String::new(), None).await
}

/// `POST /arbiter/orders/{no}/chat`.
pub async fn arbiter_send(
    State(state): State<SharedState>,
    ArbiterVisitor { v, user }: ArbiterVisitor,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.get("_csrf").map(String::as_str))?;
    let order = kabao_app::chat::arbiter_order(&state, &user, &no).await?;
    let action = format!("/arbiter/orders/{}/chat", order.order_no);
    let body = f.get("body").cloned().unwrap_or_default();
    after_form(
        v.lang,
        kabao_app::chat::send(&state, &order, Speaker::Arbiter(&user), &body).await.map_err(ApiError::from),
        &action,
        |msg| chat_page(&state, &v, &order, ChatParty::Arbiter, action.clone(), Some(msg)),
    )
    .await
}
