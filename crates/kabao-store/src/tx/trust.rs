//! The trust aggregate's part of a transaction: reviews, trust and abuse figures, order chat and risk events.

use crate::{ChatMessage, ChatParty, ClaimRecord, ReviewRecord, RiskEvent, ShopTrustFacts, StoreResult};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::signals::Facts;
use kabao_core::{ProductId, ShopId, Timestamp, UserId};

/// Claims of shop `$1` decided since `$2`, and how many of them the merchant decided (every decided claim counts
/// for the approval share; only the merchant's own decisions, not automatic re-issues, for the response time).
pub(crate) const DECIDED_CLAIMS_SQL: &str =
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN auto_remedied THEN 0 ELSE 1 END), 0) FROM claims \
     WHERE shop_id = $1 AND decided_at >= $2 AND state IN ('reissued', 'refunded', 'rejected', 'escalated')";

/// The merchant's response time at offset `$3` in ascending order (the median at half the count): sorted in the
/// database, one row returned.
pub(crate) const RESPONSE_AT_SQL: &str = "SELECT decided_at - created_at AS ms FROM claims \
     WHERE shop_id = $1 AND decided_at >= $2 AND NOT auto_remedied \
     AND state IN ('reissued', 'refunded', 'rejected', 'escalated') ORDER BY ms LIMIT 1 OFFSET $3";

/// What buyers and the platform learn about shops and buyers: reviews, the figures behind trust scores
/// and abuse signals, the order chat that risk rules watch, and risk events.
#[async_trait]
pub trait TrustTx: Send {
    // ---- reviews ----
    /// Stores a review; Conflict `"reviews.order"` if the order has one.
    async fn insert_review(&mut self, review: &ReviewRecord) -> StoreResult<i64>;
    async fn review_of_order(&mut self, order: OrderId) -> StoreResult<Option<ReviewRecord>>;
    async fn review_by_id(&mut self, id: i64) -> StoreResult<Option<ReviewRecord>>;
    /// A shop's reviews, newest first.
    async fn shop_reviews(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ReviewRecord>>;
    /// A product's reviews, newest first.
    async fn product_reviews(&mut self, product: ProductId, limit: i64) -> StoreResult<Vec<ReviewRecord>>;
    /// Writes the merchant's one reply; false (and no change) if the review has a reply already.
    async fn set_review_reply(&mut self, review: i64, reply: &str, at: Timestamp) -> StoreResult<bool>;

    // ---- trust and abuse figures ----
    /// The aggregates a shop's trust score needs: everything since `since`, recent disputes since `recent`.
    async fn shop_trust_facts(
        &mut self,
        shop: ShopId,
        since: Timestamp,
        recent: Timestamp,
    ) -> StoreResult<ShopTrustFacts>;
    /// The numbers behind the abuse signals of a claim; category figures since `since` (the days in
    /// `category_days` plus live counts over the rest, as `category_days::live_ranges` splits the window).
    async fn buyer_facts(&mut self, claim: &ClaimRecord, since: Timestamp) -> StoreResult<Facts> {
        let mut all = self.buyer_facts_of(std::slice::from_ref(claim), since).await?;
        all.pop().ok_or(crate::StoreError::NotFound)
    }
    /// [`TrustTx::buyer_facts`] of several claims, in their order, each category's figures computed once.
    async fn buyer_facts_of(&mut self, claims: &[ClaimRecord], since: Timestamp) -> StoreResult<Vec<Facts>>;
    /// The days from `from_day` to `to_day` (both included, UTC day numbers) whose category figures are stored.
    async fn category_days_filled(&mut self, from_day: i64, to_day: i64) -> StoreResult<Vec<i64>>;
    /// Stores one closed day's claims and delivered items per category; false (and no change) if the day is
    /// stored already. Only for a day no claim or delivery can still be stamped with.
    async fn fill_category_day(&mut self, day: i64, now: Timestamp) -> StoreResult<bool>;
    /// A shop's trust facts as last stored (the app's JSON) and when they were computed; `None` when there are
    /// none, or a review, claim, dispute or risk event of the shop has come since (migration 0035's triggers).
    async fn stored_trust_facts(&mut self, shop: ShopId) -> StoreResult<Option<(String, Timestamp)>>;
    /// The version of a shop's stored facts (0 without a row): read it in the snapshot the facts are computed
    /// from, and give it to [`TrustTx::save_trust_facts`].
    async fn trust_facts_version(&mut self, shop: ShopId) -> StoreResult<i64>;
    /// Stores a shop's trust facts computed at `at` from a snapshot that saw `seen_version`; false (and nothing
    /// stored) if an event has marked the row stale since.
    async fn save_trust_facts(
        &mut self,
        shop: ShopId,
        facts: &str,
        at: Timestamp,
        seen_version: i64,
    ) -> StoreResult<bool>;
    /// Up to `limit` shops whose stored facts are missing, stale or computed before `before`: those without any
    /// first, then the oldest (stale ones are the oldest).
    async fn shops_due_trust_facts(&mut self, before: Timestamp, limit: i64) -> StoreResult<Vec<ShopId>>;

    // ---- order chat ----
    async fn insert_chat_message(&mut self, message: &ChatMessage) -> StoreResult<i64>;
    /// An order's chat, oldest first.
    async fn order_chat(&mut self, order: OrderId, limit: i64) -> StoreResult<Vec<ChatMessage>>;
    /// One chat message by its id (the message a risk event points to).
    async fn chat_message(&mut self, id: i64) -> StoreResult<Option<ChatMessage>>;
    /// Messages one party sent on an order since `since` (for flood limits).
    async fn count_chat_messages_since(
        &mut self,
        order: OrderId,
        sender: ChatParty,
        since: Timestamp,
    ) -> StoreResult<i64>;

    // ---- risk events ----
    async fn insert_risk_event(&mut self, event: &RiskEvent) -> StoreResult<i64>;
    /// A shop's risk events, newest first.
    async fn shop_risk_events(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<RiskEvent>>;
    /// Shops with at least `min_open` open risk events, or an open `listing.*` event (a held listing waits on the
    /// admin), most first: the admin's review queue.
    async fn risk_review_queue(&mut self, min_open: i64, limit: i64) -> StoreResult<Vec<(ShopId, i64)>>;
    /// Marks every open event of a shop confirmed or dismissed; returns how many.
    async fn review_risk_events(
        &mut self,
        shop: ShopId,
        state: &str,
        note: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<u64>;
}

/// The stored trust facts' statements, the same on both backends.
pub(crate) mod sql {
    pub const STORED: &str = "SELECT facts, computed_at FROM shop_trust_facts WHERE shop_id = $1 AND computed_at >= 0";
    pub const VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM shop_trust_facts WHERE shop_id = $1";
    /// A first save (version 0 seen: no row then); if an event has made a row since, it stays.
    pub const INSERT: &str =
        "INSERT INTO shop_trust_facts (shop_id, facts, computed_at, version) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (shop_id) DO NOTHING";
    pub const UPDATE: &str =
        "UPDATE shop_trust_facts SET facts = $2, computed_at = $3 WHERE shop_id = $1 AND version = $4";
    /// Shops never computed (no row, in the shops' key order), then rows stale or older than `$1`, oldest first.
    pub const DUE: &str = "SELECT id FROM (\
         SELECT * FROM (SELECT s.id, 0 AS k, 0 AS at FROM shops s \
             WHERE NOT EXISTS (SELECT 1 FROM shop_trust_facts f WHERE f.shop_id = s.id) ORDER BY s.id LIMIT $2) a \
         UNION ALL \
         SELECT * FROM (SELECT shop_id, 1, computed_at FROM shop_trust_facts WHERE computed_at < $1 \
             ORDER BY computed_at LIMIT $2) b) due ORDER BY k, at, id LIMIT $2";
}

/// Per-category figures by closed UTC day (migration 0037): the norm a buyer's claim rate is compared with.
pub(crate) mod category_days {
    /// One UTC day in milliseconds; day `d` covers `[d * DAY_MS, (d + 1) * DAY_MS)`.
    pub const DAY_MS: i64 = 86_400_000;

    /// The ranges `[from, until)` (`None`: open-ended) of the window starting at `since` that `filled` days do
    /// not cover: what is counted live. `filled` is ascending; days not wholly inside the window are ignored.
    pub fn live_ranges(since: i64, filled: &[i64]) -> Vec<(i64, Option<i64>)> {
        let first_whole = since.div_euclid(DAY_MS) + i64::from(since.rem_euclid(DAY_MS) != 0);
        let mut ranges = Vec::new();
        let mut cursor = since;
        for &day in filled.iter().filter(|d| **d >= first_whole) {
            let start = day.saturating_mul(DAY_MS);
            if start < cursor {
                continue;
            }
            if start > cursor {
                ranges.push((cursor, Some(start)));
            }
            cursor = start.saturating_add(DAY_MS);
        }
        ranges.push((cursor, None));
        ranges
    }

    /// The filled days from `$2` on, each with the category `$1`'s figures (0 when it had none that day).
    pub(crate) const STORED: &str = "SELECT f.day, COALESCE(d.claims, 0), COALESCE(d.items, 0) \
         FROM category_days_filled f LEFT JOIN category_days d ON d.day = f.day AND d.category = $1 \
         WHERE f.day >= $2 ORDER BY f.day";
    /// The category `$1`'s claims and delivered items in `[$2, $3)`.
    pub(crate) const LIVE: &str = "SELECT \
         (SELECT COUNT(*) FROM claims c JOIN orders o ON o.id = c.order_id JOIN products p ON p.id = o.product_id \
          WHERE p.category = $1 AND c.created_at >= $2 AND c.created_at < $3), \
         (SELECT CAST(COALESCE(SUM(o.quantity), 0) AS BIGINT) FROM orders o JOIN products p ON p.id = o.product_id \
          WHERE p.category = $1 AND o.delivered_at >= $2 AND o.delivered_at < $3)";
    pub(crate) const FILLED: &str = "SELECT day FROM category_days_filled WHERE day >= $1 AND day <= $2 ORDER BY day";
    pub(crate) const MARK: &str =
        "INSERT INTO category_days_filled (day, filled_at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING";
    /// The day `$1` (from `$2` to `$3`): every category's claims and delivered items.
    pub(crate) const FILL: &str = "INSERT INTO category_days (category, day, claims, items) \
         SELECT category, $1, CAST(SUM(claims) AS BIGINT), CAST(SUM(items) AS BIGINT) FROM (\
         SELECT p.category AS category, COUNT(*) AS claims, 0 AS items FROM claims c \
             JOIN orders o ON o.id = c.order_id JOIN products p ON p.id = o.product_id \
             WHERE c.created_at >= $2 AND c.created_at < $3 GROUP BY p.category \
         UNION ALL \
         SELECT p.category, 0, SUM(o.quantity) FROM orders o JOIN products p ON p.id = o.product_id \
             WHERE o.delivered_at >= $2 AND o.delivered_at < $3 GROUP BY p.category) t GROUP BY category";

    #[cfg(test)]
    mod tests {
        use super::*;

        const D: i64 = DAY_MS;

        #[test]
        fn nothing_filled_is_one_live_range() {
            assert_eq!(live_ranges(5 * D + 7, &[]), vec![(5 * D + 7, None)]);
        }

        #[test]
        fn filled_days_leave_the_partial_first_day_and_today_live() {
            let since = 10 * D + 3_600_000;
            assert_eq!(live_ranges(since, &[11, 12, 13]), vec![(since, Some(11 * D)), (14 * D, None)]);
        }

        #[test]
        fn a_gap_is_counted_live_and_days_outside_the_window_are_ignored() {
            let since = 10 * D;
            let ranges = live_ranges(since, &[9, 10, 12, 13]);
            assert_eq!(ranges, vec![(11 * D, Some(12 * D)), (14 * D, None)]);
        }

        #[test]
        fn a_partly_covered_first_day_is_not_taken_from_the_store() {
            assert_eq!(live_ranges(10 * D + 1, &[10]), vec![(10 * D + 1, None)]);
        }
    }
}
