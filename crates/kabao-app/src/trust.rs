//! The shop trust score (商家信誉), computed on read from the store's aggregates by `kabao_core::trust`, and the
//! job that grants 金牌卖家 (gold) from the record and withdraws it when the record lapses.
//!
//! Pages read a shop's facts (the aggregates over its 90-day record) from `shop_trust_facts`, which the
//! `trust_facts` job keeps at most a minute or two old, and compute the score from them and the live parts (shop
//! age, fund standing, certification): a listing costs one row per shop whatever the shop's history. A review,
//! claim, ruling or risk event marks its shop's row stale in the same transaction (migration 0035), and a stale
//! or missing row, or one older than [`FRESH_SECONDS`], is computed live, so a page is never wrong by more than
//! the delivered orders and category averages of the last few minutes. Checks that decide something (gold,
//! insurance prices) compute live.

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

/// A stored row older than this is not used: the page computes live instead.
pub const FRESH_SECONDS: i64 = 300;
/// The job recomputes rows older than this.
const REFRESH_AFTER_SECONDS: i64 = 60;
/// Shops recomputed per transaction, and at most per pass of the job.
const FACTS_BATCH: i64 = 100;
const FACTS_PER_PASS: u64 = 2000;

/// The facts a score is computed from, as the store reads them and as `shop_trust_facts` stores them.
pub type Facts = ShopTrustFacts;

/// A shop's facts computed now from its record (the cost grows with the 90-day record: jobs and decisions).
pub async fn facts_live(tx: &mut dyn Tx, shop: kabao_core::ShopId, now: Timestamp) -> Result<Facts, TrustError> {
    let since = Timestamp(now.millis() - WINDOW_DAYS * DAY_MS);
    let recent = Timestamp(now.millis() - RECENT_DAYS * DAY_MS);
    Ok(tx.shop_trust_facts(shop, since, recent).await?)
}

/// A shop's facts for a page: the stored row while it is fresh and not marked stale, else computed live.
pub async fn facts_for_page(tx: &mut dyn Tx, shop: kabao_core::ShopId, now: Timestamp) -> Result<Facts, TrustError> {
    if let Some((json, at)) = tx.stored_trust_facts(shop).await? {
        if at.millis() >= now.millis() - FRESH_SECONDS * 1000 && at.millis() <= now.millis() {
            match serde_json::from_str(&json) {
                Ok(facts) => return Ok(facts),
                // Written by another version of Kabao: computed live, and the job rewrites it.
                Err(e) => tracing::warn!(shop = %shop, error = %e, "stored trust facts unreadable"),
            }
        }
    }
    facts_live(tx, shop, now).await
}

/// Recomputes the stored facts of shops whose row is missing, stale or over a minute old, a batch at a time
/// (each batch computed in one read snapshot, then stored unless an event marked the row stale meanwhile).
/// Returns how many rows were stored.
pub async fn refresh_facts(state: &App) -> Result<u64, TrustError> {
    fill_category_days(state).await?;
    let now = state.clock.now();
    let before = Timestamp(now.millis() - REFRESH_AFTER_SECONDS * 1000);
    let mut stored = 0;
    let mut examined = 0;
    loop {
        let mut computed = Vec::new();
        {
            let mut tx = state.store.begin(TxMode::Read).await?;
            for shop in tx.shops_due_trust_facts(before, FACTS_BATCH).await? {
                let version = tx.trust_facts_version(shop).await?;
                computed.push((shop, version, facts_live(&mut *tx, shop, now).await?));
            }
        }
        let n = computed.len() as u64;
        let mut tx = state.store.begin(TxMode::Write).await?;
        for (shop, version, facts) in &computed {
            // Facts always serialize (numbers and strings); an empty object would only be refused on read.
            let json = serde_json::to_string(facts).unwrap_or_default();
            if tx.save_trust_facts(*shop, &json, now, *version).await? {
                stored += 1;
            }
        }
        tx.commit().await?;
        examined += n;
        if n < FACTS_BATCH as u64 || examined >= FACTS_PER_PASS {
            return Ok(stored);
        }
    }
}

/// A day is stored only this long after it ended: a claim or a delivery is stamped by its instance's clock
/// before its transaction commits, so a day just ended may still gain rows.
const CATEGORY_DAY_SETTLE_MS: i64 = 3_600_000;

/// Stores each closed day of the claim-signal window not stored yet (its categories' claims and delivered
/// items, `category_days`), one day a transaction: the claim signals then read at most 90 stored days plus
/// live counts over today and the window's first partial day, whatever the history. Returns the days stored.
pub async fn fill_category_days(state: &App) -> Result<u64, TrustError> {
    let now = state.clock.now();
    let last = (now.millis() - CATEGORY_DAY_SETTLE_MS).div_euclid(DAY_MS) - 1;
    let first = (now.millis() - WINDOW_DAYS * DAY_MS).div_euclid(DAY_MS);
    if last < first {
        return Ok(0);
    }
    let filled: std::collections::BTreeSet<i64> = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.category_days_filled(first, last).await?.into_iter().collect()
    };
    let mut stored = 0;
    for day in (first..=last).filter(|d| !filled.contains(d)) {
        let mut tx = state.store.begin(TxMode::Write).await?;
        if tx.fill_category_day(day, now).await? {
            stored += 1;
        }
        tx.commit().await?;
    }
    Ok(stored)
}

/// The core's inputs from a shop's facts and its live standing.
pub fn inputs(
    shop: &Subject,
    facts: &Facts,
    fund_member: bool,
    deposit: kabao_core::Money,
    now: Timestamp,
) -> TrustInputs {
    let median = facts.median_response_ms.map(|ms| clamp_u32(ms / 60_000));
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
            response_samples: clamp_u32(facts.response_samples),
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

/// A shop's inputs computed live from its record, read in the caller's transaction (for decisions: gold,
/// insurance prices).
pub async fn inputs_in(tx: &mut dyn Tx, shop: &Subject, now: Timestamp) -> Result<TrustInputs, TrustError> {
    let facts = facts_live(tx, shop.id, now).await?;
    standing(tx, shop, &facts, now).await
}

/// A shop's inputs for a page, from its stored facts while fresh ([`facts_for_page`]).
pub async fn inputs_for_page(tx: &mut dyn Tx, shop: &Subject, now: Timestamp) -> Result<TrustInputs, TrustError> {
    let facts = facts_for_page(tx, shop.id, now).await?;
    standing(tx, shop, &facts, now).await
}

/// The facts with the shop's live standing (fund membership and deposit: one indexed row each).
async fn standing(tx: &mut dyn Tx, shop: &Subject, facts: &Facts, now: Timestamp) -> Result<TrustInputs, TrustError> {
    let member = tx.fund_member_since(shop.id).await?.is_some();
    let deposit = tx.balance(Account::MerchantDeposit(shop.id)).await?;
    Ok(inputs(shop, facts, member, deposit, now))
}

/// A shop's inputs as a page shows them (the score and its reasons).
pub async fn inputs_now(state: &App, shop: &Subject) -> Result<TrustInputs, TrustError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    inputs_for_page(&mut *tx, shop, state.clock.now()).await
}

/// A shop's trust score as a page shows it.
pub async fn of_shop(state: &App, shop: &Shop) -> Result<TrustScore, TrustError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let inputs = inputs_for_page(&mut *tx, &Subject::from(shop), state.clock.now()).await?;
    Ok(trust::compute(&inputs))
}

/// Scores of several shops (a listing), read in one transaction.
pub async fn of_shops(state: &App, shops: &[Subject]) -> Result<HashMap<kabao_core::ShopId, TrustScore>, TrustError> {
    let now = state.clock.now();
    let mut tx = state.store.begin(TxMode::Read).await?;
    let mut out = HashMap::with_capacity(shops.len());
    for shop in shops {
        if let std::collections::hash_map::Entry::Vacant(slot) = out.entry(shop.id) {
            slot.insert(trust::compute(&inputs_for_page(&mut *tx, shop, now).await?));
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

/// [`signals_of`] for a list of claims (the merchant's queue), in one snapshot, each category's norm read once.
pub async fn signals_of_all(
    state: &App,
    claims: &[kabao_store::ClaimRecord],
) -> Result<Vec<Vec<kabao_core::signals::Signal>>, TrustError> {
    let since = Timestamp(state.clock.now().millis() - WINDOW_DAYS * DAY_MS);
    let mut tx = state.store.begin(TxMode::Read).await?;
    let facts = tx.buyer_facts_of(claims, since).await?;
    Ok(facts.iter().map(kabao_core::signals::signals).collect())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use kabao_core::user::Role;
    use kabao_core::{ShopId, UserId};
    use kabao_store::{NewShop, NewUser, RiskEvent};
    use std::sync::Arc;

    const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    async fn app() -> (App, Arc<ManualClock>) {
        crate::test_support::app(T0).await
    }

    async fn shop(app: &App, name: &str) -> (UserId, ShopId) {
        let mut tx = app.store.begin(TxMode::Write).await.unwrap();
        let owner = tx
            .insert_user(&NewUser {
                username: name.into(),
                email: None,
                password_hash: "x".into(),
                role: Role::Merchant,
                created_at: T0,
            })
            .await
            .unwrap();
        let shop = tx
            .insert_shop(&NewShop {
                owner_id: owner,
                name: format!("{name} 的店"),
                description: String::new(),
                opened_at: T0,
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (owner, shop)
    }

    async fn risk_event(app: &App, shop: ShopId, owner: UserId) {
        let mut tx = app.store.begin(TxMode::Write).await.unwrap();
        tx.insert_risk_event(&RiskEvent {
            id: 0,
            kind: "chat".into(),
            shop_id: Some(shop),
            user_id: Some(owner),
            order_id: None,
            message_id: None,
            rules_json: r#"["contact.wechat"]"#.into(),
            state: "open".into(),
            review_note: None,
            reviewed_by: None,
            reviewed_at: None,
            created_at: app.now(),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    async fn page_and_live(app: &App, shop: ShopId) -> (Facts, Facts) {
        let mut tx = app.store.begin(TxMode::Read).await.unwrap();
        let page = facts_for_page(&mut *tx, shop, app.now()).await.unwrap();
        let live = facts_live(&mut *tx, shop, app.now()).await.unwrap();
        (page, live)
    }

    #[tokio::test]
    async fn pages_score_from_stored_facts_that_always_equal_a_full_recomputation() {
        let (app, clock) = app().await;
        let shops = [shop(&app, "facts_one").await, shop(&app, "facts_two").await, shop(&app, "facts_three").await];
        // A pseudo-random history: events on random shops, some reviewed, time moving, the job running now and
        // then; after every step each shop's page facts equal what a full recomputation gives.
        let mut r: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..60 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let (owner, id) = shops[(r % 3) as usize];
            match (r >> 8) % 5 {
                0 | 1 => risk_event(&app, id, owner).await,
                2 => {
                    let mut tx = app.store.begin(TxMode::Write).await.unwrap();
                    let state = if (r >> 16).is_multiple_of(2) { "confirmed" } else { "dismissed" };
                    tx.review_risk_events(id, state, "reviewed", owner, app.now()).await.unwrap();
                    tx.commit().await.unwrap();
                }
                3 => {
                    refresh_facts(&app).await.unwrap();
                }
                _ => clock.advance_seconds(((r >> 24) % 400) as i64),
            }
            for (_, id) in shops {
                let (page, live) = page_and_live(&app, id).await;
                assert_eq!(page, live, "step {step}, shop {id}");
            }
        }
    }

    #[tokio::test]
    async fn a_page_reads_the_stored_row_while_it_is_fresh_and_computes_live_after() {
        let (app, clock) = app().await;
        let (owner, id) = shop(&app, "facts_fresh").await;
        risk_event(&app, id, owner).await;
        assert_eq!(refresh_facts(&app).await.unwrap(), 1);
        let (page, live) = page_and_live(&app, id).await;
        assert_eq!((page.risk_open, live.risk_open), (1, 1));
        // The page reads the row, not the record: a row saying otherwise is what it shows while fresh.
        let mut tx = app.store.begin(TxMode::Write).await.unwrap();
        let version = tx.trust_facts_version(id).await.unwrap();
        let planted = Facts { risk_open: 7, ..live.clone() };
        let json = serde_json::to_string(&planted).unwrap();
        assert!(tx.save_trust_facts(id, &json, app.now(), version).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(page_and_live(&app, id).await.0.risk_open, 7);
        // Past the freshness bound it is not used...
        clock.advance_seconds(FRESH_SECONDS + 1);
        assert_eq!(page_and_live(&app, id).await.0.risk_open, 1);
        // ...and the job (rows over a minute old) puts the truth back.
        assert_eq!(refresh_facts(&app).await.unwrap(), 1);
        let mut tx = app.store.begin(TxMode::Read).await.unwrap();
        let (json, at) = tx.stored_trust_facts(id).await.unwrap().unwrap();
        assert_eq!(at, app.now());
        assert_eq!(serde_json::from_str::<Facts>(&json).unwrap().risk_open, 1);
        drop(tx);
        // A fresh row is not recomputed by the next pass.
        assert_eq!(refresh_facts(&app).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_job_stores_each_closed_day_of_the_window_once() {
        let (app, clock) = app().await;
        let days = fill_category_days(&app).await.unwrap();
        let today = app.now().millis().div_euclid(DAY_MS);
        let mut tx = app.store.begin(TxMode::Read).await.unwrap();
        let stored = tx.category_days_filled(today - 200, today + 1).await.unwrap();
        drop(tx);
        assert_eq!(stored.len() as u64, days);
        // Every closed day of the window, a day after another: from the one the window starts in to one that
        // ended an hour or more ago.
        let first = *stored.first().unwrap();
        let last = *stored.last().unwrap();
        assert_eq!(first, (app.now().millis() - WINDOW_DAYS * DAY_MS).div_euclid(DAY_MS));
        assert!((last + 1) * DAY_MS <= app.now().millis() - CATEGORY_DAY_SETTLE_MS);
        assert!((last + 2) * DAY_MS > app.now().millis() - CATEGORY_DAY_SETTLE_MS);
        assert_eq!(stored, (first..=last).collect::<Vec<_>>());
        assert_eq!(fill_category_days(&app).await.unwrap(), 0, "a stored day is not stored again");
        clock.advance_seconds(86_400);
        assert_eq!(fill_category_days(&app).await.unwrap(), 1, "the day that closed meanwhile");
    }
}
