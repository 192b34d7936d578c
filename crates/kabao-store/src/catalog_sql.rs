//! The one place the catalog listing query is written, for both backends: they differ only in how a search
//! finds its candidates (SQLite: the FTS5 gram index; PostgreSQL: the grams array or pg_trgm), in the name of
//! the substring function and in how a join order is fixed. Every filter a listing applies (listed, a listing and
//! not a variant, shop neither suspended nor held for review, category) is here.
//!
//! A page costs the same however many products match (issue 22): no plan sorts every match.
//! - Without a search, each sort walks its own index (`products_listing_*_idx`, newest: the primary key) from the
//!   cursor, with a row-value keyset condition the index can seek to.
//! - A search sorted newest first walks the matches newest first straight out of the index.
//! - A search sorted by price, sales or trust first counts its index matches up to [`CANDIDATES`]: fewer are
//!   all taken and sorted (at most that many rows); more are common enough that walking the sort's index with the
//!   match as a substring test on each row finds a page after about `limit × products ÷ CANDIDATES` rows.
//! - Relevance ranks a bounded window: the [`WINDOW`] newest index matches, best first (title starts with the
//!   query, then title contains it, then only the shop's name matches; newest first within each); the matches
//!   older than the window follow, newest first. The window's oldest id (its floor) travels in the cursor's key
//!   (`floor × 4 + rank`; −1 past the window), so later pages rank the same window: the [`WINDOW`] oldest matches
//!   from the floor up, which products added since cannot push out. No duplicates, no gaps.

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

/// Columns after the listing's (product, shop name, certification, opened): units sold, the sort key, the price a
/// listing is sold from, and whether it has listed variants.
pub(crate) const SALES_AT: usize = 18;
pub(crate) const KEY_AT: usize = 19;
pub(crate) const FROM_PRICE_AT: usize = 20;
pub(crate) const HAS_VARIANTS_AT: usize = 21;

/// A search sorted by price, sales or trust with fewer index matches than this sorts them all; with more, it walks
/// the sort's index.
pub(crate) const CANDIDATES: i64 = 1000;
/// How many of the newest matches relevance ranks.
pub(crate) const WINDOW: i64 = 500;

struct Sql {
    dialect: Dialect,
    args: Vec<Arg>,
}

impl Sql {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn position(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "instr",
            Dialect::Postgres => "strpos",
        }
    }

    /// A join whose left side must stay the outer loop (SQLite's CROSS JOIN; PostgreSQL's planner, given its
    /// statistics, picks the same order for these shapes, as their plans at 100,000 products show).
    fn fixed_join(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "CROSS JOIN",
            Dialect::Postgres => "JOIN",
        }
    }

    /// A page's rows as its query finds them: the product id and the sort key.
    fn core(&self, key: &str) -> String {
        format!("SELECT p.id AS id, CAST({key} AS BIGINT) AS k")
    }

    /// The listing filters: listed, a listing (not a variant), shop neither suspended nor held, the category if one
    /// is asked.
    fn filters(&mut self, q: &ListingQuery) -> String {
        let mut f =
            "p.listed = $1 AND sh.suspended = $2 AND sh.held_rules IS NULL AND p.variant_of IS NULL".to_string();
        if let Some(c) = q.category {
            let c = self.arg(Arg::Text(c.as_str().into()));
            f.push_str(&format!(" AND p.category = {c}"));
        }
        f
    }

    /// The ids the search index matches, with `extra` conditions on the id (`{id}` stands for its column), in
    /// id order `dir` (if any) and at most `limit`. SQLite confirms words longer than 2 characters afterwards
    /// ([`Sql::confirm`]); PostgreSQL's match is exact.
    fn index_ids(&mut self, terms: &kabao_core::search::SearchTerms, extra: &[String], dir: Option<&str>) -> String {
        let (id, mut conds) = match self.dialect {
            Dialect::Sqlite => {
                // Grams hold only letters and digits, so quoting each is enough to make it a literal token.
                let expr = terms.grams().iter().map(|g| format!("\"{g}\"")).collect::<Vec<_>>().join(" AND ");
                let m = self.arg(Arg::Text(expr));
                ("rowid", vec![format!("product_search_fts MATCH {m}")])
            }
            Dialect::Postgres => {
                let mut conds = Vec::new();
                for w in terms.words() {
                    if w.chars().count() > 2 {
                        // Letters and digits only: no LIKE wildcard to escape.
                        let a = self.arg(Arg::Text(format!("%{w}%")));
                        conds.push(format!("s.doc LIKE {a}"));
                    } else {
                        let a = self.arg(Arg::Texts(vec![w.clone()]));
                        conds.push(format!("s.grams @> {a}"));
                    }
                }
                ("s.product_id", conds)
            }
        };
        conds.extend(extra.iter().map(|e| e.replace("{id}", id)));
        let from = match self.dialect {
            Dialect::Sqlite => "product_search_fts",
            Dialect::Postgres => "product_search s",
        };
        let order = dir.map(|d| format!(" ORDER BY {id} {d}")).unwrap_or_default();
        format!("SELECT {id} AS id FROM {from} WHERE {}{order}", conds.join(" AND "))
    }

    /// What the index match leaves to check on the product's search document: on SQLite, that each word longer
    /// than 2 characters is a substring (its bigrams matched, maybe apart); with `all`, every word (a walk of
    /// another index that did not use the search index at all).
    fn confirm(&mut self, terms: &kabao_core::search::SearchTerms, all: bool) -> Vec<String> {
        let position = self.position();
        let words: Vec<String> = terms
            .words()
            .iter()
            .filter(|w| all || (self.dialect == Dialect::Sqlite && w.chars().count() > 2))
            .cloned()
            .collect();
        words.into_iter().map(|w| format!("{position}(s.doc, {}) > 0", self.arg(Arg::Text(w)))).collect()
    }
}

/// The sort key column of a sort over listings (not relevance with a search).
fn sort_key(sort: ListingSort) -> &'static str {
    match sort {
        ListingSort::Newest | ListingSort::Relevance => "p.id",
        ListingSort::PriceAsc | ListingSort::PriceDesc => "p.listing_price_fen",
        ListingSort::Sales => "p.sales_count",
        ListingSort::Trust => "p.shop_trust_score",
    }
}

/// Whether a search needs its matches counted first (see [`count_sql`]).
pub(crate) fn needs_count(q: &ListingQuery) -> bool {
    q.terms.is_some()
        && matches!(q.sort, ListingSort::PriceAsc | ListingSort::PriceDesc | ListingSort::Sales | ListingSort::Trust)
}

/// Counts the search's index matches, up to [`CANDIDATES`] (that many means "common": walk the sort's index).
pub(crate) fn count_sql(q: &ListingQuery, dialect: Dialect) -> Option<(String, Vec<Arg>)> {
    let terms = q.terms.as_ref().filter(|_| needs_count(q))?;
    let mut s = Sql { dialect, args: Vec::new() };
    let ids = s.index_ids(terms, &[], None);
    let limit = s.arg(Arg::Int(CANDIDATES));
    Some((format!("SELECT COUNT(*) FROM ({ids} LIMIT {limit}) m"), s.args))
}

/// The listing query and its arguments ($1…). `matches` is what [`count_sql`] counted, for the sorts that need it.
/// Rows come in no particular order: the caller sorts the page (at most `limit` rows) by its key and id.
pub(crate) fn listing_sql(q: &ListingQuery, dialect: Dialect, matches: Option<i64>) -> (String, Vec<Arg>) {
    let mut s = Sql { dialect, args: vec![Arg::Bool(true), Arg::Bool(false)] };
    let core = match q.terms.as_ref() {
        None => listing(&mut s, q),
        Some(terms) => match q.sort {
            ListingSort::Newest => newest_matches(&mut s, q, terms, q.after.map(|c| Below::Id(c.id)), "p.id"),
            ListingSort::Relevance => relevance(&mut s, q, terms),
            ListingSort::PriceAsc | ListingSort::PriceDesc | ListingSort::Sales | ListingSort::Trust => {
                sorted_matches(&mut s, q, terms, matches.is_some_and(|n| n < CANDIDATES))
            }
        },
    };
    // What a listing shows, read for the page's rows only.
    let join = s.fixed_join();
    let sql = format!(
        "SELECT {}, sh.name, sh.certification, sh.opened_at, p.sales_count, pg.k, p.listing_price_fen, \
         EXISTS (SELECT 1 FROM products v WHERE v.variant_of = p.id AND v.listed = $1) \
         FROM ({core}) pg {join} products p ON p.id = pg.id JOIN shops sh ON sh.id = p.shop_id",
        rows::PRODUCT_COLS
    );
    (sql, s.args)
}

/// Puts a page's rows (from [`listing_sql`]) in the sort's order: by key, then id, both in its direction.
pub(crate) fn sort_page(rows: &mut [crate::CatalogRow], sort: ListingSort) {
    rows.sort_by_key(|r| (r.sort_key, r.listing.product.id.0));
    if sort.descending() {
        rows.reverse();
    }
}

/// `(key, id)` past the cursor in the sort's direction, as a row value an index can seek to.
fn keyset(s: &mut Sql, q: &ListingQuery, key: &str) -> Option<String> {
    let c = q.after?;
    let cmp = if q.sort.descending() { "<" } else { ">" };
    Some(if key == "p.id" {
        format!("p.id {cmp} {}", s.arg(Arg::Int(c.id)))
    } else {
        let (k, id) = (s.arg(Arg::Int(c.key)), s.arg(Arg::Int(c.id)));
        format!("({key}, p.id) {cmp} ({k}, {id})")
    })
}

fn direction(sort: ListingSort) -> &'static str {
    if sort.descending() {
        "DESC"
    } else {
        "ASC"
    }
}

/// A listing without a search: walk the sort's index from the cursor.
fn listing(s: &mut Sql, q: &ListingQuery) -> String {
    let key = sort_key(q.sort);
    let mut conds = vec![s.filters(q)];
    conds.extend(keyset(s, q, key));
    let dir = direction(q.sort);
    let order = if key == "p.id" { format!("p.id {dir}") } else { format!("{key} {dir}, p.id {dir}") };
    let limit = s.arg(Arg::Int(q.limit));
    let core = s.core(key);
    format!(
        "{core} FROM products p JOIN shops sh ON sh.id = p.shop_id WHERE {} ORDER BY {order} LIMIT {limit}",
        conds.join(" AND ")
    )
}

/// A search sorted by price, sales or trust: its few matches sorted, or its many walked in the sort's index.
fn sorted_matches(s: &mut Sql, q: &ListingQuery, terms: &kabao_core::search::SearchTerms, few: bool) -> String {
    let key = sort_key(q.sort);
    let mut conds = vec![s.filters(q)];
    conds.extend(keyset(s, q, key));
    let join = s.fixed_join();
    let from = if few {
        // Few matches: take them all from the index and sort them.
        let ids = s.index_ids(terms, &[], None);
        let limit = s.arg(Arg::Int(CANDIDATES));
        let confirm = s.confirm(terms, false);
        let doc = doc_join(&confirm);
        conds.extend(confirm);
        format!(
            "(SELECT m.id FROM ({ids} LIMIT {limit}) m) cand {join} products p ON p.id = cand.id \
             JOIN shops sh ON sh.id = p.shop_id{doc}"
        )
    } else {
        // Many: walk the sort's index, testing each row's search document.
        conds.extend(s.confirm(terms, true));
        format!("products p {join} shops sh ON sh.id = p.shop_id {join} product_search s ON s.product_id = p.id")
    };
    let dir = direction(q.sort);
    let limit = s.arg(Arg::Int(q.limit));
    let core = s.core(key);
    format!("{core} FROM {from} WHERE {} ORDER BY {key} {dir}, p.id {dir} LIMIT {limit}", conds.join(" AND "))
}

/// The join to the search document, when conditions on it are left to test.
fn doc_join(confirm: &[String]) -> &'static str {
    if confirm.is_empty() {
        ""
    } else {
        " JOIN product_search s ON s.product_id = p.id"
    }
}

/// Where [`newest_matches`] starts: below a cursor's id, or below an SQL expression.
enum Below {
    Id(i64),
    Sql(String),
}

/// The search's matches newest first, below `before` if given, each with `key` as its sort key.
fn newest_matches(
    s: &mut Sql,
    q: &ListingQuery,
    terms: &kabao_core::search::SearchTerms,
    before: Option<Below>,
    key: &str,
) -> String {
    let before = before.map(|b| match b {
        Below::Id(id) => s.arg(Arg::Int(id)),
        Below::Sql(sql) => sql,
    });
    let extra: Vec<String> = before.iter().map(|b| format!("{{id}} < {b}")).collect();
    let mut conds = vec![s.filters(q)];
    let (from, order) = match s.dialect {
        Dialect::Sqlite => {
            // Driven by the gram index in descending rowid order, which is also the ORDER BY (so no sort): the
            // walk stops at the page's last row.
            let ids = s.index_ids(terms, &extra, Some("DESC"));
            let confirm = s.confirm(terms, false);
            let doc = doc_join(&confirm);
            conds.extend(confirm);
            let from =
                format!("({ids}) m CROSS JOIN products p ON p.id = m.id JOIN shops sh ON sh.id = p.shop_id{doc}");
            (from, "m.id")
        }
        Dialect::Postgres => {
            // The planner walks the primary key backwards testing the match when matches are common, and takes
            // them from the GIN index and sorts them when they are rare.
            let ids = s.index_ids(terms, &extra, None);
            conds.push(format!("p.id IN ({ids})"));
            ("products p JOIN shops sh ON sh.id = p.shop_id".to_string(), "p.id")
        }
    };
    let limit = s.arg(Arg::Int(q.limit));
    let core = s.core(key);
    format!("{core} FROM {from} WHERE {} ORDER BY {order} DESC LIMIT {limit}", conds.join(" AND "))
}

/// Relevance: the window's matches ranked, then the older matches newest first (see the module's notes).
fn relevance(s: &mut Sql, q: &ListingQuery, terms: &kabao_core::search::SearchTerms) -> String {
    let after = q.after;
    if let Some(c) = after.filter(|c| c.key < 0) {
        // Past the window: the older matches, newest first.
        return newest_matches(s, q, terms, Some(Below::Id(c.id)), "-1");
    }
    let window_floor = after.map(|c| c.key / 4);
    let cand = match window_floor {
        None => s.index_ids(terms, &[], Some("DESC")),
        Some(floor) => {
            let fl = s.arg(Arg::Int(floor));
            s.index_ids(terms, &[format!("{{id}} >= {fl}")], Some("ASC"))
        }
    };
    let w = s.arg(Arg::Int(WINDOW));
    let cand = format!("SELECT c.id FROM ({cand} LIMIT {w}) c");
    let default_floor = s.arg(Arg::Int(window_floor.unwrap_or(0)));
    let position = s.position();
    let lead = s.arg(Arg::Text(terms.lead().to_string()));
    let mut conds = vec![s.filters(q)];
    let confirm = s.confirm(terms, false);
    let doc = doc_join(&confirm);
    conds.extend(confirm);
    let join = s.fixed_join();
    // Where the query starts in the title, computed once per row of the window.
    let ranked = format!(
        "SELECT r.id AS id, lo.floor * 4 + (CASE WHEN r.pos = 1 THEN 2 WHEN r.pos > 0 THEN 1 ELSE 0 END) AS k \
         FROM (SELECT p.id AS id, {position}(lower(p.title), {lead}) AS pos FROM ({cand}) cand \
         {join} products p ON p.id = cand.id JOIN shops sh ON sh.id = p.shop_id{doc} WHERE {}) r CROSS JOIN lo",
        conds.join(" AND ")
    );
    let older = newest_matches(s, q, terms, Some(Below::Sql("(SELECT floor FROM lo)".into())), "-1");
    let past = match after {
        Some(c) => {
            let (k, id) = (s.arg(Arg::Int(c.key)), s.arg(Arg::Int(c.id)));
            format!(" WHERE u.k < {k} OR (u.k = {k} AND u.id < {id})")
        }
        None => String::new(),
    };
    let limit = s.arg(Arg::Int(q.limit));
    format!(
        "WITH lo AS (SELECT COALESCE(MIN(c.id), {default_floor}) AS floor FROM ({cand}) c) \
         SELECT u.id, u.k FROM (SELECT * FROM ({ranked}) r2 UNION ALL SELECT * FROM ({older}) o) u{past} \
         ORDER BY u.k DESC, u.id DESC LIMIT {limit}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kabao_core::search::{Cursor, SearchTerms};

    fn query(q: &str, sort: ListingSort, after: Option<Cursor>) -> ListingQuery {
        ListingQuery { terms: SearchTerms::parse(q).unwrap(), category: None, sort, after, limit: 26 }
    }

    /// Prints every shape of the query for both backends (`-- --ignored --nocapture`), to read their plans.
    #[test]
    #[ignore = "prints SQL for EXPLAIN by hand"]
    fn print_listing_sql() {
        let after = Some(Cursor { key: 40, id: 90 });
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            for (q, sort, after, matches) in [
                ("", ListingSort::PriceAsc, after, None),
                ("点卡", ListingSort::Newest, after, None),
                ("点卡", ListingSort::PriceAsc, after, Some(CANDIDATES)),
                ("点卡", ListingSort::PriceAsc, after, Some(3)),
                ("一卡通", ListingSort::Relevance, None, None),
                ("点卡", ListingSort::Relevance, None, None),
                ("卡", ListingSort::Relevance, None, None),
                ("卡", ListingSort::PriceAsc, None, Some(CANDIDATES)),
                ("一卡通", ListingSort::Relevance, Some(Cursor { key: 4 * 90_000 + 1, id: 95_000 }), None),
                ("一卡通", ListingSort::Relevance, Some(Cursor { key: -1, id: 5_000 }), None),
            ] {
                let (sql, args) = listing_sql(&query(q, sort, after), dialect, matches);
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match a {
                        Arg::Int(v) => v.to_string(),
                        Arg::Text(v) => format!("'{v}'"),
                        Arg::Texts(v) => format!("ARRAY['{}']", v.join("','")),
                        Arg::Bool(v) => v.to_string(),
                    })
                    .collect();
                println!("-- {dialect:?} {q} {sort:?} {after:?} {matches:?}\n{sql};\n-- ARGS {}\n", args.join("|"));
            }
        }
    }
}
