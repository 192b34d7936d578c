//! The shop trust score (商家信誉), computed on read from the store's aggregates by `kabao_core::trust`, and the
//! job that grants 金牌卖家 (gold) from the record and withdraws it when the record lapses.
//!
//! Computed on read, not cached: every input (a review, a claim decision, a ruling, a risk event, a day of shop
//! age) changes it, and one shop's aggregates are a handful of indexed queries.

use crate::App;
use kabao_core::catalog::CertificationLevel;
use kabao_core::ledger::Account;
use kabao_core::trust::{
    self, ClaimRecord, FundStanding, RatingStat, Ratings, ReissueReviews, RiskRecord, TrustInputs, TrustScore,
};
use kabao_core::{Lang, Localized, Timestamp};
use kabao_store::{RatingSums, Shop, ShopTrustFacts, StoreError, Tx, TxMode};
use std::collections::HashMap;

/// Why a score or a listing could not be given.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("unknown listing order")]
    SortInvalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for TrustError {
    fn code(&self) -> &'static str {
        match self {
            TrustError::SortInvalid => "listing.sort",
            TrustError::Store(_) => "internal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            TrustError::SortInvalid => Some("sort"),
            TrustError::Store(_) => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            TrustError::SortInvalid => lang.pick("排序方式只能是 newest 或 trust", "sort is newest or trust").into(),
            TrustError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

/// The record window (动态评分 and claims: 90 days), and the "recently" of warnings (30 days).
pub const WINDOW_DAYS: i64 = 90;
pub const RECENT_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

fn clamp_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// One rating dimension: the shop's sum and count, and the category average weighted by where the shop sells
/// (a shop selling game cards and licenses is compared with both categories, in proportion).
fn rating_stat(shop: &[RatingSums], all: &[RatingSums], pick: fn(&RatingSums) -> i64) -> RatingStat {
    let shop_sum: i64 = shop.iter().map(pick).sum();
    let shop_count: i64 = shop.iter().map(|r| r.count).sum();
    let mut weighted_milli: i64 = 0;
    let mut weight: i64 = 0;
    for mine in shop {
        if let Some(cat) = all.iter().find(|c| c.category == mine.category && c.count > 0) {
            weighted_milli += mine.count * (pick(cat) * 1000 / cat.count);
            weight += mine.count;
        }
    }
    RatingStat {
        shop_sum: clamp_u32(shop_sum),
        shop_count: clamp_u32(shop_count),
        category_avg_milli: (weight > 0).then(|| clamp_u32(weighted_milli / weight)),
    }
}

/// What the score needs to know of a shop itself.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub id: kabao_core::ShopId,
    pub certification: CertificationLevel,
    pub opened_at: Timestamp,
}

impl From<&Shop> for Subject {
    fn from(s: &Shop) -> Subject {
        Subject { id: s.id, certification: s.certification, opened_at: s.opened_at }
    }
}

impl From<&kabao_store::Listing> for Subject {
    fn from(l: &kabao_store::Listing) -> Subject {
        Subject { id: l.product.shop_id, certification: l.shop_certification, opened_at: l.shop_opened_at }
    }
}

/// The core's inputs from the store's aggregates.
pub fn inputs(
    shop: &Subject,
    facts: &ShopTrustFacts,
    fund_member: bool,
    deposit: kabao_core::Money,
    now: Timestamp,
) -> TrustInputs {
    let median = (!facts.claim_response_ms.is_empty())
        .then(|| facts.claim_response_ms.get(facts.claim_response_ms.len() / 2).copied().unwrap_or(0))
        .map(|ms| clamp_u32(ms / 60_000));
    TrustInputs {
        certification: shop.certification,
        shop_age_days: (now.millis() - shop.opened_at.millis()).max(0) / DAY_MS,
        ratings: Ratings {
            described: rating_stat(&facts.ratings, &facts.category_ratings, |r| r.described),
            service: rating_stat(&facts.ratings, &facts.category_ratings, |r| r.service),
            delivery: rating_stat(&facts.ratings, &facts.category_ratings, |r| r.delivery),
        },
        claims: ClaimRecord {
            decided: clamp_u32(facts.claims_decided),
            approved_or_auto: clamp_u32(facts.claims_remedied),
            median_response_minutes: median,
            response_samples: clamp_u32(i64::try_from(facts.claim_response_ms.len()).unwrap_or(i64::MAX)),
            category_response_minutes: facts.category_response_ms.map(|ms| clamp_u32(ms / 60_000)),
            disputes_lost_90d: clamp_u32(facts.disputes_lost),
            disputes_lost_30d: clamp_u32(facts.disputes_lost_recent),
        },
        reissue_reviews: ReissueReviews {
            positive: clamp_u32(facts.reissue_positive),
            negative: clamp_u32(facts.reissue_negative),
        },
        fund: FundStanding { member: fund_member, deposit },
        risk: RiskRecord { open_events: clamp_u32(facts.risk_open), confirmed_90d: clamp_u32(facts.risk_confirmed) },
        delivered_orders_90d: clamp_u32(facts.delivered_orders),
    }
}

/// A shop's inputs, read in the caller's transaction.
pub async fn inputs_in(tx: &mut dyn Tx, shop: &Subject, now: Timestamp) -> Result<TrustInputs, TrustError> {
    let since = Timestamp(now.millis() - WINDOW_DAYS * DAY_MS);
    let recent = Timestamp(now.millis() - RECENT_DAYS * DAY_MS);
    let facts = tx.shop_trust_facts(shop.id, since, recent).await?;
    let member = tx.fund_member_since(shop.id).await?.is_some();
    let deposit = tx.balance(Account::MerchantDeposit(shop.id)).await?;
    Ok(inputs(shop, &facts, member, deposit, now))
}

/// A shop's inputs now (what the score and the gold rule are computed from).
pub async fn inputs_now(state: &App, shop: &Subject) -> Result<TrustInputs, TrustError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    inputs_in(&mut *tx, shop, state.clock.now()).await
}

/// A shop's trust score now.
pub async fn of_shop(state: &App, shop: &Shop) -> Result<TrustScore, TrustError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let inputs = inputs_in(&mut *tx, &Subject::from(shop), state.clock.now()).await?;
    Ok(trust::compute(&inputs))
}

/// Scores of several shops (a listing), read in one transaction.
pub async fn of_shops(state: &App, shops: &[Subject]) -> Result<HashMap<kabao_core::ShopId, TrustScore>, TrustError> {
    let now = state.clock.now();
    let mut tx = state.store.begin(TxMode::Read).await?;
    let mut out = HashMap::with_capacity(shops.len());
    for shop in shops {
        if let std::collections::hash_map::Entry::Vacant(slot) = out.entry(shop.id) {
            slot.insert(trust::compute(&inputs_in(&mut *tx, shop, now).await?));
        }
    }
    Ok(out)
}

/// Shops examined per pass of the gold job.
const GOLD_BATCH: i64 = 500;

/// Stores every shop's current trust score (what listings sort by), grants 金牌卖家 to certified shops whose record meets the rule (`kabao_core::trust::gold_eligible`) and
/// withdraws it, back to the level last approved by an admin, from gold shops whose record lapsed. Returns how
/// many shops changed.
pub async fn review_gold(state: &App) -> Result<u64, TrustError> {
    let now = state.clock.now();
    let mut changed = 0;
    let mut offset = 0;
    loop {
        let mut tx = state.store.begin(TxMode::Write).await?;
        let shops = tx.list_shops(GOLD_BATCH, offset).await?;
        let n = shops.len() as i64;
        for shop in &shops {
            let inputs = inputs_in(&mut *tx, &Subject::from(shop), now).await?;
            // Every shop's score is stored as computed here, for listings sorted by trust.
            tx.set_shop_trust_score(shop.id, trust::compute(&inputs).score).await?;
            if shop.certification == CertificationLevel::None {
                continue;
            }
            let eligible = trust::gold_eligible(&inputs);
            let to = match (shop.certification, eligible) {
                (CertificationLevel::Gold, false) => Some(approved_level(&mut *tx, shop).await?),
                (CertificationLevel::Verified | CertificationLevel::Enterprise, true) => Some(CertificationLevel::Gold),
                _ => None,
            };
            if let Some(level) = to {
                tx.set_shop_certification(shop.id, level).await?;
                tracing::info!(shop = %shop.id, level = level.as_str(), "gold reviewed from the record");
                changed += 1;
            }
        }
        tx.commit().await?;
        if n < GOLD_BATCH {
            return Ok(changed);
        }
        offset += n;
    }
}

/// The level an admin last approved for the shop (verified if none is on file: gold needs certification).
async fn approved_level(tx: &mut dyn Tx, shop: &Shop) -> Result<CertificationLevel, TrustError> {
    let apps = tx.shop_certification_applications(shop.id).await?;
    Ok(apps.iter().find(|a| a.state == "approved").map_or(CertificationLevel::Verified, |a| a.level))
}

/// The buyer-abuse signals of a claim (for its merchant and the arbiter; never a penalty by themselves).
pub async fn signals_of(
    state: &App,
    claim: &kabao_store::ClaimRecord,
) -> Result<Vec<kabao_core::signals::Signal>, TrustError> {
    let since = Timestamp(state.clock.now().millis() - WINDOW_DAYS * DAY_MS);
    let mut tx = state.store.begin(TxMode::Read).await?;
    let facts = tx.buyer_facts(claim, since).await?;
    Ok(kabao_core::signals::signals(&facts))
}

/// How a listing is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListingOrder {
    /// Newest first.
    #[default]
    Newest,
    /// Highest trust score first (ties: newest first).
    Trust,
}

impl ListingOrder {
    pub fn parse(s: Option<&str>) -> Result<ListingOrder, TrustError> {
        match s.map(str::trim) {
            None | Some("") | Some("newest") => Ok(ListingOrder::Newest),
            Some("trust") => Ok(ListingOrder::Trust),
            Some(_) => Err(TrustError::SortInvalid),
        }
    }
}

/// Listings sorted by trust are sorted over at most this many products (the newest).
const TRUST_SORT_WINDOW: i64 = 1000;

/// Listed products with their shop's trust score, in the asked order, one page of them.
pub async fn listing(
    state: &App,
    order: ListingOrder,
    limit: i64,
    offset: i64,
) -> Result<Vec<(kabao_store::Listing, TrustScore)>, TrustError> {
    let listings = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        match order {
            ListingOrder::Newest => tx.list_listed_products(limit, offset).await?,
            ListingOrder::Trust => tx.list_listed_products(TRUST_SORT_WINDOW, 0).await?,
        }
    };
    let subjects: Vec<Subject> = listings.iter().map(Subject::from).collect();
    let scores = of_shops(state, &subjects).await?;
    let mut rows: Vec<(kabao_store::Listing, TrustScore)> =
        listings.into_iter().filter_map(|l| scores.get(&l.product.shop_id).cloned().map(|s| (l, s))).collect();
    if order == ListingOrder::Trust {
        // Stable: equal scores keep the newest-first order.
        rows.sort_by_key(|r| std::cmp::Reverse(r.1.score));
        let start = usize::try_from(offset.max(0)).unwrap_or(usize::MAX).min(rows.len());
        let end = start.saturating_add(usize::try_from(limit.max(0)).unwrap_or(0)).min(rows.len());
        rows = rows.drain(start..end).collect();
    }
    Ok(rows)
}
