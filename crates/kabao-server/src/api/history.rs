//! `/api/v1/orders` (GET: 我的订单), `/api/v1/wallet/movements` and `/api/v1/merchant/dashboard`: what a buyer and a
//! merchant look back on, paged by keyset cursors or bounded by a 7/30/90-day window.

use super::orders::OrderView;
use super::ApiJson;
use crate::auth::{ApiMerchant, ApiUser};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::SharedState;
use axum::extract::State;
use kabao_core::Lang;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// 我的订单: an optional state filter and the cursor of the page to read.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Only orders in this state (any state when absent).
    #[param(value_type = Option<super::contract::OrderStateName>)]
    pub state: Option<String>,
    /// `next_cursor` of the previous page (the first page when absent).
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrdersPageView {
    /// Newest first, at most 20.
    pub orders: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's orders as a buyer, newest first, optionally in one state (keyset-paged).
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(OrdersQuery),
    responses((status = 200, body = OrdersPageView), (status = 400, description = "unknown state or malformed cursor"),
        (status = 401, description = "no token")))]
pub async fn my_orders(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiQuery(q): ApiQuery<OrdersQuery>,
) -> Result<ApiJson<OrdersPageView>, ApiError> {
    let filter = kabao_app::history::parse_state(q.state.as_deref())?;
    let page = kabao_app::history::my_orders(&state, &user, filter, q.cursor.as_deref()).await?;
    Ok(ApiJson(OrdersPageView { orders: page.orders.iter().map(OrderView::from).collect(), next_cursor: page.next }))
}

/// The cursor of the wallet history page to read.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CursorQuery {
    /// `next_cursor` of the previous page (the first page when absent).
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MovementView {
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The ledger transaction kind (`top_up`, `payment`, `refund`, ...).
    pub kind: String,
    /// The kind in Chinese, as the wallet page shows it.
    pub kind_zh: String,
    /// Added to the wallet (negative: taken from it), in 分.
    pub amount_fen: i64,
    /// The wallet's balance right after this movement, in 分.
    pub balance_after_fen: i64,
    /// The order the movement belongs to, if any (its page is `/o/{order_no}`).
    pub order_no: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MovementsPageView {
    /// Newest first, at most 20.
    pub movements: Vec<MovementView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Every movement of the caller's wallet, newest first (keyset-paged), each linked to its order.
#[utoipa::path(get, path = "/api/v1/wallet/movements", tag = "wallet", security(("bearer" = [])), params(CursorQuery),
    responses((status = 200, body = MovementsPageView), (status = 400, description = "malformed cursor"),
        (status = 401, description = "no token")))]
pub async fn movements(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiQuery(q): ApiQuery<CursorQuery>,
) -> Result<ApiJson<MovementsPageView>, ApiError> {
    let page = kabao_app::history::wallet_history(&state, &user, q.cursor.as_deref()).await?;
    Ok(ApiJson(MovementsPageView {
        movements: page
            .lines
            .iter()
            .map(|l| MovementView {
                at: l.movement.at.millis(),
                kind: l.movement.kind.as_str().into(),
                kind_zh: kabao_app::history::kind_label(l.movement.kind, Lang::Zh).into(),
                amount_fen: l.movement.amount.fen(),
                balance_after_fen: l.balance_after.fen(),
                order_no: l.movement.order_no.clone(),
            })
            .collect(),
        next_cursor: page.next,
    }))
}

/// The dashboard window.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DaysQuery {
    /// 7, 30 (default) or 90.
    #[param(value_type = Option<super::contract::DashboardDays>)]
    pub days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DashboardDayView {
    /// `MM-DD`, China time.
    pub date: String,
    pub orders: i64,
    pub amount_fen: i64,
    pub claims: i64,
    pub refunds: i64,
    pub refunded_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DashboardView {
    pub days: i64,
    /// Orders paid in the window and their amount.
    pub orders: i64,
    pub amount_fen: i64,
    /// Claims filed in the window.
    pub claims: i64,
    /// Claims per 1000 paid orders; absent without orders.
    pub claim_rate_permille: Option<i64>,
    /// Claims filed in the window that were re-issued, and the median seconds from filing to re-issue.
    pub reissues: i64,
    pub median_reissue_seconds: Option<i64>,
    /// Refunds of the shop's orders in the window and the amount paid back.
    pub refunds: i64,
    pub refunded_fen: i64,
    /// Every China day of the window, oldest first.
    pub daily: Vec<DashboardDayView>,
}

/// The merchant's sales, claim rate, re-issue time and refunds over the last 7, 30 or 90 days.
#[utoipa::path(get, path = "/api/v1/merchant/dashboard", tag = "merchant", security(("bearer" = [])), params(DaysQuery),
    responses((status = 200, body = DashboardView), (status = 400, description = "days not 7, 30 or 90"),
        (status = 401, description = "no token"), (status = 403, description = "not a merchant"),
        (status = 404, description = "no shop yet")))]
pub async fn dashboard(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiQuery(q): ApiQuery<DaysQuery>,
) -> Result<ApiJson<DashboardView>, ApiError> {
    let d = kabao_app::history::dashboard(&state, &user, q.days.unwrap_or(30)).await?;
    Ok(ApiJson(DashboardView {
        days: d.days,
        orders: d.orders,
        amount_fen: d.amount.fen(),
        claims: d.claims,
        claim_rate_permille: d.claim_rate_permille,
        reissues: d.reissues,
        median_reissue_seconds: d.median_reissue_seconds,
        refunds: d.refunds,
        refunded_fen: d.refunded.fen(),
        daily: d
            .daily
            .iter()
            .map(|x| DashboardDayView {
                date: x.date.clone(),
                orders: x.orders,
                amount_fen: x.amount.fen(),
                claims: x.claims,
                refunds: x.refunds,
                refunded_fen: x.refunded.fen(),
            })
            .collect(),
    }))
}
