//! Browsing the catalog: search, category, sort and keyset pages (the query rules are in `kabao_core::search`),
//! and the search index's backfill for products written before it existed.

use crate::trust::{of_shops, Subject, TrustError};
use crate::App;
use kabao_core::catalog::Category;
use kabao_core::search::{Cursor, ListingSort, SearchError, SearchTerms};
use kabao_core::trust::TrustScore;
use kabao_core::{Lang, Localized, ProductId};
use kabao_store::{CatalogRow, ListingQuery, MediaMeta, StoreError, TxMode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Page size when none is asked, and the most a page holds.
pub const DEFAULT_PAGE: i64 = 24;
pub const MAX_PAGE: i64 = 100;

/// Why a catalog page could not be given.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    #[error(transparent)]
    Query(#[from] SearchError),
    #[error("page size out of range")]
    Limit,
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for BrowseError {
    fn code(&self) -> &'static str {
        match self {
            BrowseError::Query(e) => e.code(),
            BrowseError::Limit => "listing.limit",
            BrowseError::Trust(e) => e.code(),
            BrowseError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            BrowseError::Query(e) => e.field(),
            BrowseError::Limit => Some("limit"),
            BrowseError::Trust(e) => e.field(),
            BrowseError::Store(_) => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            BrowseError::Query(e) => e.message(lang),
            BrowseError::Limit => lang.pick("每页数量需在 1 到 100 之间", "limit is 1–100").into(),
            BrowseError::Trust(e) => e.message(lang),
            BrowseError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

/// What a visitor asks of the catalog, as sent (query string or form).
#[derive(Debug, Clone, Default)]
pub struct BrowseRequest {
    pub q: Option<String>,
    pub category: Option<String>,
    pub sort: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// The parsed request: what a page shows as chosen.
#[derive(Debug, Clone)]
pub struct Browse {
    pub query: ListingQuery,
    /// The search as typed (trimmed), for the search box.
    pub q: String,
}

impl Browse {
    pub fn parse(r: &BrowseRequest) -> Result<Browse, BrowseError> {
        let q = r.q.as_deref().unwrap_or("").trim().to_string();
        let terms = SearchTerms::parse(&q)?;
        let category = match r.category.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(Category::parse(c).ok_or(SearchError::Category)?),
        };
        let sort = ListingSort::parse(r.sort.as_deref(), terms.is_some())?;
        let after = match r.cursor.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(Cursor::decode(c, sort)?),
        };
        let limit = r.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(BrowseError::Limit);
        }
        Ok(Browse { query: ListingQuery { terms, category, sort, after, limit }, q })
    }
}

/// One page of the catalog.
#[derive(Debug, Clone)]
pub struct CatalogPage {
    pub rows: Vec<(CatalogRow, TrustScore)>,
    /// Each product's cover picture, if it has one.
    pub covers: HashMap<ProductId, MediaMeta>,
    /// Where the next page starts; None on the last page.
    pub next_cursor: Option<String>,
}

/// A page of listings, with each shop's trust score now (computed once per shop on the page, not per row).
pub async fn browse(state: &App, b: &Browse) -> Result<CatalogPage, BrowseError> {
    // One more than asked tells whether there is a next page.
    let probe = ListingQuery { limit: b.query.limit + 1, ..b.query.clone() };
    let (mut rows, covers) = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let rows = tx.search_listings(&probe).await?;
        let ids: Vec<ProductId> = rows.iter().map(|r| r.listing.product.id).collect();
        let covers = tx.product_covers(&ids).await?;
        (rows, covers)
    };
    let more = rows.len() as i64 > b.query.limit;
    rows.truncate(usize::try_from(b.query.limit).unwrap_or(0));
    let next_cursor = if more { rows.last().map(|r| r.cursor().encode(b.query.sort)) } else { None };
    let subjects: Vec<Subject> = rows.iter().map(|r| Subject::from(&r.listing)).collect();
    let scores = of_shops(state, &subjects).await?;
    let rows =
        rows.into_iter().filter_map(|r| scores.get(&r.listing.product.shop_id).cloned().map(|s| (r, s))).collect();
    Ok(CatalogPage { rows, covers: covers.into_iter().collect(), next_cursor })
}

/// Products indexed per backfill batch.
const BACKFILL_BATCH: i64 = 500;
/// Set once a pass found nothing left to index: products written since are indexed as they are written.
static BACKFILL_DONE: AtomicBool = AtomicBool::new(false);

/// Indexes a batch of products written before the search index existed (once per process, until none is left);
/// returns how many.
pub async fn index_backlog(state: &App) -> Result<u64, StoreError> {
    if BACKFILL_DONE.load(Ordering::Relaxed) {
        return Ok(0);
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    let n = tx.index_unindexed_products(BACKFILL_BATCH).await?;
    tx.commit().await?;
    if n == 0 {
        BACKFILL_DONE.store(true, Ordering::Relaxed);
    }
    Ok(n)
}
