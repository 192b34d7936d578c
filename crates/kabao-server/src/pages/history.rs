//! 我的订单 (`/orders`) and the merchant dashboard (`/console/dashboard`): pages over kabao-app's history use
//! cases. The dashboard's charts are SVG drawn here with presentation attributes only (no style attribute, no
//! script), so they survive a Content-Security-Policy without inline styles or scripts.

use super::{datetime, render, see_other, Ctx};
use crate::auth::{MerchantVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kabao_app::history::{Dashboard, DASHBOARD_DAYS};
use kabao_core::order::OrderState;
use kabao_core::{Lang, Money};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct OrdersQuery {
    state: Option<String>,
    cursor: Option<String>,
}

/// One row of 我的订单.
pub struct OrderRow {
    pub no: String,
    pub created: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "my_orders.html")]
struct MyOrdersPage {
    ctx: Ctx,
    /// (value, label, selected) of the state filter, "" = every state.
    filters: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<OrderRow>,
    /// The link to the next page, keeping the filter.
    next: Option<String>,
    /// Whether this is a later page (offers a link back to the first).
    later: bool,
    first: String,
}

/// The state filters in the order a buyer thinks of them (each one an order state).
const FILTERS: [OrderState; 6] = [
    OrderState::PendingPayment,
    OrderState::Paid,
    OrderState::Delivered,
    OrderState::Settled,
    OrderState::Refunded,
    OrderState::Expired,
];

fn filter_label(s: OrderState, lang: Lang) -> &'static str {
    match s {
        OrderState::PendingPayment => lang.pick("待付款", "Awaiting payment"),
        OrderState::Paid => lang.pick("待发货", "Awaiting delivery"),
        OrderState::Delivered => lang.pick("已发货（质保中）", "Delivered (under warranty)"),
        OrderState::Settled => lang.pick("已完成", "Completed"),
        OrderState::Refunded => lang.pick("已退款", "Refunded"),
        OrderState::Expired => lang.pick("已过期", "Expired"),
    }
}

/// 我的订单: the signed-in buyer's orders, newest first, filtered by state, 20 a page.
pub async fn my_orders(
    State(state): State<SharedState>,
    v: Visitor,
    ApiQuery(q): ApiQuery<OrdersQuery>,
) -> Result<Response, ApiError> {
    let Some(user) = v.user.clone() else { return Ok(see_other("/login?next=/orders")) };
    let filter = kabao_app::history::parse_state(q.state.as_deref())?;
    let page = kabao_app::history::my_orders(&state, &user, filter, q.cursor.as_deref()).await?;
    let lang = v.lang;
    let state_param = filter.map(|s| format!("state={}&", s.as_str())).unwrap_or_default();
    let mut filters = vec![("", lang.pick("全部", "All"), filter.is_none())];
    filters.extend(FILTERS.iter().map(|s| (s.as_str(), filter_label(*s, lang), filter == Some(*s))));
    Ok(render(MyOrdersPage {
        ctx: Ctx::new(&v),
        filters,
        rows: page
            .orders
            .iter()
            .map(|o| OrderRow {
                no: o.order_no.clone(),
                created: datetime(o.created_at),
                state: o.state.as_str(),
                state_label: o.state.label(lang),
                amount: o.amount.to_string(),
            })
            .collect(),
        next: page.next.map(|c| format!("/orders?{state_param}cursor={c}")),
        later: q.cursor.as_deref().is_some_and(|c| !c.is_empty()),
        first: format!("/orders?{}", state_param.trim_end_matches('&')),
    }))
}

// ---- the merchant dashboard ----

#[derive(Deserialize)]
pub struct DaysQuery {
    days: Option<i64>,
}

#[derive(Template)]
#[template(path = "console_dashboard.html")]
struct DashboardPage {
    ctx: Ctx,
    days: i64,
    windows: Vec<(i64, bool)>,
    /// (label, value, id) of the summary figures.
    facts: Vec<(&'static str, String, &'static str)>,
    /// Server-drawn SVG charts (built here from numbers and fixed words only).
    charts: Vec<String>,
}

pub async fn dashboard(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiQuery(q): ApiQuery<DaysQuery>,
) -> Result<Response, ApiError> {
    let d = kabao_app::history::dashboard(&state, &user, q.days.unwrap_or(30)).await?;
    let lang = v.lang;
    Ok(render(DashboardPage {
        ctx: Ctx::new(&v),
        days: d.days,
        windows: DASHBOARD_DAYS.iter().map(|n| (*n, *n == d.days)).collect(),
        facts: facts(&d, lang),
        charts: charts(&d, lang),
    }))
}

fn facts(d: &Dashboard, lang: Lang) -> Vec<(&'static str, String, &'static str)> {
    let none = || lang.pick("暂无", "none").to_string();
    vec![
        (lang.pick("订单数", "Orders"), d.orders.to_string(), "dash-orders"),
        (lang.pick("销售额", "Sales"), d.amount.to_string(), "dash-amount"),
        (lang.pick("售后申请", "Claims"), d.claims.to_string(), "dash-claims"),
        (
            lang.pick("售后率", "Claim rate"),
            d.claim_rate_permille.map(|p| format!("{}.{}%", p / 10, p % 10)).unwrap_or_else(none),
            "dash-claim-rate",
        ),
        (
            lang.pick("补单中位时长", "Median re-issue time"),
            d.median_reissue_seconds.map(|s| duration(s, lang)).unwrap_or_else(none),
            "dash-reissue",
        ),
        (lang.pick("退款笔数", "Refunds"), d.refunds.to_string(), "dash-refunds"),
        (lang.pick("退款金额", "Refunded"), d.refunded.to_string(), "dash-refunded"),
    ]
}

fn duration(seconds: i64, lang: Lang) -> String {
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60, lang) {
        (0, 0, s, Lang::Zh) => format!("{s} 秒"),
        (0, m, _, Lang::Zh) => format!("{m} 分钟"),
        (h, m, _, Lang::Zh) => format!("{h} 小时 {m} 分钟"),
        (0, 0, s, Lang::En) => format!("{s} s"),
        (0, m, _, Lang::En) => format!("{m} min"),
        (h, m, _, Lang::En) => format!("{h} h {m} min"),
    }
}

fn charts(d: &Dashboard, lang: Lang) -> Vec<String> {
    let dates: Vec<&str> = d.daily.iter().map(|x| x.date.as_str()).collect();
    let yuan = |m: Money| m.fen();
    vec![
        bar_chart(
            "chart-orders",
            lang.pick("每日订单数", "Orders per day"),
            &dates,
            &d.daily.iter().map(|x| x.orders).collect::<Vec<_>>(),
            false,
            lang,
        ),
        bar_chart(
            "chart-amount",
            lang.pick("每日销售额（元）", "Sales per day (yuan)"),
            &dates,
            &d.daily.iter().map(|x| yuan(x.amount)).collect::<Vec<_>>(),
            true,
            lang,
        ),
        bar_chart(
            "chart-claims",
            lang.pick("每日售后申请", "Claims per day"),
            &dates,
            &d.daily.iter().map(|x| x.claims).collect::<Vec<_>>(),
            false,
            lang,
        ),
        bar_chart(
            "chart-refunds",
            lang.pick("每日退款金额（元）", "Refunded per day (yuan)"),
            &dates,
            &d.daily.iter().map(|x| yuan(x.refunded)).collect::<Vec<_>>(),
            true,
            lang,
        ),
    ]
}

const W: i64 = 340;
const H: i64 = 180;
const LEFT: i64 = 44;
const BOTTOM: i64 = 24;
const TOP: i64 = 10;

/// A daily bar chart as SVG: `values` per day (分 when `money`), the largest labelled on the y axis, the first,
/// middle and last dates on the x axis, a `<title>` and `<desc>` for screen readers. Only numbers and the fixed
/// words passed in reach the markup (dates are `MM-DD`), so nothing needs escaping.
pub fn bar_chart(id: &str, title: &str, dates: &[&str], values: &[i64], money: bool, lang: Lang) -> String {
    use std::fmt::Write;
    let n = values.len().max(1) as i64;
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let total: i64 = values.iter().copied().fold(0, i64::saturating_add);
    let show = |v: i64| if money { Money::from_fen(v).yuan_string() } else { v.to_string() };
    let plot_w = W - LEFT - 6;
    let plot_h = H - TOP - BOTTOM;
    let base = TOP + plot_h;
    let mut s = String::with_capacity(4096);
    let desc = match lang {
        Lang::Zh => format!("共 {} 天，合计 {}，单日最高 {}", values.len(), show(total), show(max)),
        Lang::En => format!("{} days, total {}, highest day {}", values.len(), show(total), show(max)),
    };
    let _ = write!(
        s,
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 {W} {H}\" width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-title\">{title}</title>\
         <desc id=\"{id}-desc\">{desc}</desc>"
    );
    // Axes and their labels.
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#888\" stroke-width=\"1\"/>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" stroke=\"#888\" stroke-width=\"1\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">{}</text>\
         <text x=\"{}\" y=\"{base}\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">0</text>",
        LEFT + plot_w,
        LEFT - 4,
        TOP + 8,
        show(max),
        LEFT - 4,
    );
    let step = plot_w as f64 / n as f64;
    for (i, v) in values.iter().enumerate() {
        if *v <= 0 {
            continue;
        }
        let h = ((*v as f64 / max as f64) * plot_h as f64).round().max(1.0);
        let x = LEFT as f64 + step * i as f64 + step * 0.15;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#2f7d5b\">\
             <title>{} {}</title></rect>",
            base as f64 - h,
            (step * 0.7).max(1.0),
            dates.get(i).copied().unwrap_or(""),
            show(*v),
        );
    }
    let last = values.len().saturating_sub(1);
    for (i, anchor) in [(0, "start"), (last / 2, "middle"), (last, "end")] {
        if let Some(date) = dates.get(i) {
            let x = LEFT as f64 + step * i as f64 + step / 2.0;
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"{anchor}\" fill=\"#555\">{date}</text>",
                H - 8
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{H}\" font-size=\"9\" text-anchor=\"end\" fill=\"#555\">{}</text></svg>",
        W - 2,
        lang.pick("日期（北京时间）", "date (China time)")
    );
    s
}
