//! `/admin/insurance`: the insurance book (保险账本) for admins: the pool, premiums, payouts, recoveries, pending
//! payouts and loss ratio by product category and for the shops with the most premium, with bar charts drawn on
//! the server as inline SVG (no script; labels escaped by the template).

use super::{render, Ctx};
use crate::auth::AdminVisitor;
use crate::error::ApiError;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use kabao_core::insurance::{loss_ratio_permille, percent_text};
use kabao_core::Money;
use kabao_store::BookLine;

/// Width of the longest bar, in SVG user units (the template puts labels in the first 160 of 480).
const BAR_MAX: i64 = 300;
/// One group's height: a premium bar and a payout bar under it.
const ROW_HEIGHT: i64 = 28;

#[derive(Template)]
#[template(path = "admin_insurance.html")]
struct BookPage {
    ctx: Ctx,
    pool: String,
    totals: Figures,
    categories: Vec<Figures>,
    category_chart: Chart,
    shops: Vec<Figures>,
    shop_chart: Chart,
    top_shops: i64,
}

/// One row of a table: a category or a shop and its figures, as text.
struct Figures {
    label: String,
    /// The shop's page, for shop rows.
    href: Option<String>,
    premiums: String,
    payouts: String,
    recoveries: String,
    pending_count: i64,
    pending: String,
    loss_ratio: String,
}

impl Figures {
    fn new(label: String, href: Option<String>, l: &BookLine) -> Figures {
        Figures {
            label,
            href,
            premiums: l.premiums.to_string(),
            payouts: l.payouts.to_string(),
            recoveries: l.recoveries.to_string(),
            pending_count: l.pending_count,
            pending: l.pending_amount.to_string(),
            loss_ratio: loss_ratio_permille(l.payouts, l.premiums).map(percent_text).unwrap_or_else(|| "—".into()),
        }
    }
}

/// A horizontal bar chart of premiums against payouts, one group per row.
struct Chart {
    height: i64,
    bars: Vec<Bar>,
}

struct Bar {
    label: String,
    /// Baseline of the label; the premium bar's top is `y - 11`, the payout bar's `y + 1`.
    y: i64,
    premium_width: i64,
    payout_width: i64,
    premium: String,
    payout: String,
}

/// Bars scaled to the largest premium or payout of the chart (a non-zero amount is at least 1 unit wide).
fn chart(rows: &[(String, &BookLine)]) -> Chart {
    let max = rows.iter().map(|(_, l)| l.premiums.fen().max(l.payouts.fen())).max().unwrap_or(0).max(1);
    let width = |m: Money| {
        let fen = i128::from(m.fen().max(0));
        let w = i64::try_from(fen * i128::from(BAR_MAX) / i128::from(max)).unwrap_or(BAR_MAX);
        if fen > 0 {
            w.max(1)
        } else {
            0
        }
    };
    let bars = rows
        .iter()
        .zip(0..)
        .map(|((label, l), i): (&(String, &BookLine), i64)| Bar {
            label: label.clone(),
            y: 20 + i * ROW_HEIGHT,
            premium_width: width(l.premiums),
            payout_width: width(l.payouts),
            premium: l.premiums.to_string(),
            payout: l.payouts.to_string(),
        })
        .collect::<Vec<_>>();
    Chart { height: 10 + ROW_HEIGHT * i64::try_from(bars.len()).unwrap_or(0).max(1), bars }
}

/// `GET /admin/insurance`: the insurance book.
pub async fn book(
    State(state): State<SharedState>,
    AdminVisitor { v, user: admin }: AdminVisitor,
) -> Result<Response, ApiError> {
    let lang = v.lang;
    let b = kabao_app::insurance::book(&state, &admin).await?;
    let categories: Vec<(String, &BookLine)> =
        b.by_category.iter().map(|(c, l)| (c.label(lang).to_string(), l)).collect();
    let shops: Vec<(String, &BookLine)> = b.by_shop.iter().map(|(_, name, l)| (name.clone(), l)).collect();
    let page = BookPage {
        ctx: Ctx::new(&v),
        pool: b.pool.to_string(),
        totals: Figures::new(String::new(), None, &b.totals),
        category_chart: chart(&categories),
        shop_chart: chart(&shops),
        categories: categories.iter().map(|(label, l)| Figures::new(label.clone(), None, l)).collect(),
        shops: b
            .by_shop
            .iter()
            .map(|(id, name, l)| Figures::new(name.clone(), Some(format!("/s/{}", id.0)), l))
            .collect(),
        top_shops: kabao_app::insurance::BOOK_TOP_SHOPS,
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_amount_and_keep_small_amounts_visible() {
        let line = |p, o| BookLine { premiums: Money::from_fen(p), payouts: Money::from_fen(o), ..BookLine::default() };
        let (a, b) = (line(1000, 2000), line(1, 0));
        let c = chart(&[("a".into(), &a), ("b".into(), &b)]);
        let widths: Vec<_> = c.bars.iter().map(|b| (b.y, b.premium_width, b.payout_width)).collect();
        assert_eq!(widths, vec![(20, 150, 300), (48, 1, 0)]);
        assert_eq!(c.height, 66);
        assert_eq!(chart(&[]).height, 38, "an empty chart still has a row's height");
    }
}
