//! The one place the catalog listing query is written, for both backends: they differ only in how a search
//! finds its candidates (SQLite: the FTS5 gram index; PostgreSQL: the grams array or pg_trgm) and in the name of
//! the substring function. Every filter a listing applies (listed, shop not suspended nor held for review) is here.

use crate::{rows, ListingQuery};
use kabao_core::search::ListingSort;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value of the listing query.
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    Texts(Vec<String>),
    Bool(bool),
}

/// Columns after the listing's (product, shop name, certification, opened): units sold, then the sort key.
pub(crate) const SALES_AT: usize = 18;
pub(crate) const KEY_AT: usize = 19;

/// The listing query and its arguments ($1…).
pub(crate) fn listing_sql(q: &ListingQuery, dialect: Dialect) -> (String, Vec<Arg>) {
    let mut args: Vec<Arg> = vec![Arg::Bool(true), Arg::Bool(false)];
    let arg = |a: Arg, args: &mut Vec<Arg>| {
        args.push(a);
        format!("${}", args.len())
    };
    let position = match dialect {
        Dialect::Sqlite => "instr",
        Dialect::Postgres => "strpos",
    };
    let mut filters: Vec<String> = vec![
        "p.listed = $1".into(),
        "sh.suspended = $2".into(),
        "sh.held_rules IS NULL".into(),
        "p.variant_of IS NULL".into(),
    ];
    if let Some(c) = q.category {
        filters.push(format!("p.category = {}", arg(Arg::Text(c.as_str().into()), &mut args)));
    }
    let mut key = match q.sort {
        ListingSort::Newest | ListingSort::Relevance => "p.id".to_string(),
        ListingSort::PriceAsc | ListingSort::PriceDesc => "p.price_fen".into(),
        ListingSort::Sales => "p.sales_count".into(),
        ListingSort::Trust => "CAST(sh.trust_score AS BIGINT)".into(),
    };
    let mut from = "products p JOIN shops sh ON sh.id = p.shop_id".to_string();
    if let Some(terms) = &q.terms {
        from.push_str(" JOIN product_search s ON s.product_id = p.id");
        match dialect {
            Dialect::Sqlite => {
                // Grams hold only letters and digits, so quoting each is enough to make it a literal token.
                let expr = terms.grams().iter().map(|g| format!("\"{g}\"")).collect::<Vec<_>>().join(" AND ");
                let m = arg(Arg::Text(expr), &mut args);
                filters.push(format!(
                    "s.product_id IN (SELECT rowid FROM product_search_fts WHERE product_search_fts MATCH {m})"
                ));
                for w in terms.words().iter().filter(|w| w.chars().count() > 2) {
                    filters.push(format!("instr(s.doc, {}) > 0", arg(Arg::Text(w.clone()), &mut args)));
                }
            }
            Dialect::Postgres => {
                for w in terms.words() {
                    if w.chars().count() > 2 {
                        // Letters and digits only: no LIKE wildcard to escape.
                        filters.push(format!("s.doc LIKE {}", arg(Arg::Text(format!("%{w}%")), &mut args)));
                    } else {
                        filters.push(format!("s.grams @> {}", arg(Arg::Texts(vec![w.clone()]), &mut args)));
                    }
                }
            }
        }
        if q.sort == ListingSort::Relevance {
            let lead = arg(Arg::Text(terms.lead().to_string()), &mut args);
            key = format!(
                "CAST(CASE WHEN {position}(lower(p.title), {lead}) = 1 THEN 2 \
                 WHEN {position}(lower(p.title), {lead}) > 0 THEN 1 ELSE 0 END AS BIGINT)"
            );
        }
    }
    let (cmp, dir) = if q.sort.descending() { ("<", "DESC") } else { (">", "ASC") };
    if let Some(c) = q.after {
        if key == "p.id" {
            filters.push(format!("p.id {cmp} {}", arg(Arg::Int(c.id), &mut args)));
        } else {
            let k = arg(Arg::Int(c.key), &mut args);
            let id = arg(Arg::Int(c.id), &mut args);
            filters.push(format!("({key} {cmp} {k} OR ({key} = {k} AND p.id {cmp} {id}))"));
        }
    }
    let limit = arg(Arg::Int(q.limit), &mut args);
    let order = if key == "p.id" { format!("p.id {dir}") } else { format!("{key} {dir}, p.id {dir}") };
    let sql = format!(
        "SELECT {}, sh.name, sh.certification, sh.opened_at, p.sales_count, {key} FROM {from} WHERE {} \
         ORDER BY {order} LIMIT {limit}",
        rows::PRODUCT_COLS,
        filters.join(" AND ")
    );
    (sql, args)
}
