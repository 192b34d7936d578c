//! PostgreSQL: reviews, trust and abuse figures, order chat and risk events ([`TrustTx`]).

use super::PgTx;
use crate::errors::map_sqlx;
use crate::tx::trust::category_days;
use crate::tx::trust::sql as trust_sql;
use crate::{rows, ChatMessage, ChatParty, ClaimRecord, ReviewRecord, RiskEvent, ShopTrustFacts, StoreResult, TrustTx};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::signals::Facts;
use kabao_core::{ProductId, ShopId, Timestamp, UserId};
use std::collections::HashMap;
use std::sync::LazyLock;

#[async_trait]
impl TrustTx for PgTx {
    // ---- reviews ----

    async fn insert_review(&mut self, review: &ReviewRecord) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO reviews (order_id, shop_id, product_id, buyer_id, category, described, service, delivery, \
             tags, body, reissue, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(review.order_id.0)
        .bind(review.shop_id.0)
        .bind(review.product_id.0)
        .bind(review.buyer_id.0)
        .bind(review.category.as_str())
        .bind(review.described)
        .bind(review.service)
        .bind(review.delivery)
        .bind(&review.tags_json)
        .bind(&review.body)
        .bind(review.reissue)
        .bind(review.created_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn review_of_order(&mut self, order: OrderId) -> StoreResult<Option<ReviewRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM reviews WHERE order_id = $1", rows::REVIEW_COLS));
        let row = sqlx::query(&SQL).bind(order.0).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.as_ref().map(rows::review_from_row).transpose()
    }

    async fn review_by_id(&mut self, id: i64) -> StoreResult<Option<ReviewRecord>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM reviews WHERE id = $1", rows::REVIEW_COLS));
        let row = sqlx::query(&SQL).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.as_ref().map(rows::review_from_row).transpose()
    }

    async fn shop_reviews(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ReviewRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM reviews WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                rows::REVIEW_COLS
            )
        });
        let rows = sqlx::query(&SQL).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::review_from_row).collect()
    }

    async fn product_reviews(&mut self, product: ProductId, limit: i64) -> StoreResult<Vec<ReviewRecord>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM reviews WHERE product_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                rows::REVIEW_COLS
            )
        });
        let rows = sqlx::query(&SQL).bind(product.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::review_from_row).collect()
    }

    async fn set_review_reply(&mut self, review: i64, reply: &str, at: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE reviews SET reply = $1, replied_at = $2 WHERE id = $3 AND reply IS NULL")
            .bind(reply)
            .bind(at.millis())
            .bind(review)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    // ---- trust and abuse figures ----

    async fn shop_trust_facts(
        &mut self,
        shop: ShopId,
        since: Timestamp,
        recent: Timestamp,
    ) -> StoreResult<ShopTrustFacts> {
        let ratings: Vec<rows::RatingSumsRow> = sqlx::query_as(
            "SELECT category, SUM(described), SUM(service), SUM(delivery), COUNT(*) FROM reviews \
             WHERE shop_id = $1 AND created_at >= $2 GROUP BY category ORDER BY category",
        )
        .bind(shop.0)
        .bind(since.millis())
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let category_ratings: Vec<rows::RatingSumsRow> = sqlx::query_as(
            "SELECT category, SUM(described), SUM(service), SUM(delivery), COUNT(*) FROM reviews \
             WHERE created_at >= $1 GROUP BY category ORDER BY category",
        )
        .bind(since.millis())
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (claims_decided, response_samples): (i64, i64) = sqlx::query_as(crate::tx::trust::DECIDED_CLAIMS_SQL)
            .bind(shop.0)
            .bind(since.millis())
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let median_response_ms: Option<i64> = if response_samples > 0 {
            sqlx::query_scalar(crate::tx::trust::RESPONSE_AT_SQL)
                .bind(shop.0)
                .bind(since.millis())
                .bind(response_samples / 2)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_sqlx)?
        } else {
            None
        };
        // The category's mean over every shop's merchant-handled claims in the categories this shop sells in.
        let (category_sum_ms, category_n): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(c.decided_at - c.created_at), 0) AS BIGINT), COUNT(*) FROM claims c \
             JOIN orders o ON o.id = c.order_id JOIN products p ON p.id = o.product_id \
             WHERE c.decided_at >= $2 AND NOT c.auto_remedied \
             AND c.state IN ('reissued', 'refunded', 'rejected', 'escalated') \
             AND p.category IN (SELECT category FROM products WHERE shop_id = $1)",
        )
        .bind(shop.0)
        .bind(since.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let claims_remedied: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM claims WHERE shop_id = $1 AND decided_at >= $2 AND state IN ('reissued', 'refunded')",
        )
        .bind(shop.0)
        .bind(since.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (disputes_lost, disputes_lost_recent): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN decided_at >= $3 THEN 1 ELSE 0 END), 0) FROM disputes \
             WHERE shop_id = $1 AND decided_at >= $2 AND ruling IN ('force_reissue', 'refund')",
        )
        .bind(shop.0)
        .bind(since.millis())
        .bind(recent.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (reissue_positive, reissue_negative): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN reissue > 0 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN reissue < 0 THEN 1 ELSE 0 END), 0) FROM reviews WHERE shop_id = $1 AND created_at \
             >= $2",
        )
        .bind(shop.0)
        .bind(since.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (risk_open, risk_confirmed): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state = 'confirmed' AND reviewed_at >= $2 THEN 1 ELSE 0 END), 0) \
             FROM risk_events WHERE shop_id = $1",
        )
        .bind(shop.0)
        .bind(since.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let delivered_orders: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND delivered_at >= $2")
                .bind(shop.0)
                .bind(since.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(ShopTrustFacts {
            ratings: ratings.into_iter().map(rows::rating_sums).collect(),
            category_ratings: category_ratings.into_iter().map(rows::rating_sums).collect(),
            claims_decided,
            claims_remedied,
            median_response_ms,
            response_samples,
            category_response_ms: (category_n > 0).then(|| category_sum_ms / category_n),
            disputes_lost,
            disputes_lost_recent,
            reissue_positive,
            reissue_negative,
            risk_open,
            risk_confirmed,
            delivered_orders,
        })
    }

    async fn buyer_facts_of(&mut self, claims: &[ClaimRecord], since: Timestamp) -> StoreResult<Vec<Facts>> {
        let mut norms = HashMap::new();
        let mut all = Vec::with_capacity(claims.len());
        for claim in claims {
            all.push(self.buyer_facts_with(claim, since, &mut norms).await?);
        }
        Ok(all)
    }

    async fn category_days_filled(&mut self, from_day: i64, to_day: i64) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(category_days::FILLED)
            .bind(from_day)
            .bind(to_day)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)
    }

    async fn fill_category_day(&mut self, day: i64, now: Timestamp) -> StoreResult<bool> {
        let marked = sqlx::query(category_days::MARK).bind(day).bind(now.millis()).execute(&mut *self.tx).await;
        if marked.map_err(map_sqlx)?.rows_affected() == 0 {
            return Ok(false);
        }
        let from = day.saturating_mul(category_days::DAY_MS);
        sqlx::query(category_days::FILL)
            .bind(day)
            .bind(from)
            .bind(from.saturating_add(category_days::DAY_MS))
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(true)
    }

    async fn stored_trust_facts(&mut self, shop: ShopId) -> StoreResult<Option<(String, Timestamp)>> {
        let row: Option<(String, i64)> =
            sqlx::query_as(trust_sql::STORED).bind(shop.0).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        Ok(row.map(|(facts, at)| (facts, Timestamp::from_millis(at))))
    }

    async fn trust_facts_version(&mut self, shop: ShopId) -> StoreResult<i64> {
        sqlx::query_scalar(trust_sql::VERSION).bind(shop.0).fetch_one(&mut *self.tx).await.map_err(map_sqlx)
    }

    async fn save_trust_facts(
        &mut self,
        shop: ShopId,
        facts: &str,
        at: Timestamp,
        seen_version: i64,
    ) -> StoreResult<bool> {
        let done = if seen_version == 0 {
            sqlx::query(trust_sql::INSERT).bind(shop.0).bind(facts).bind(at.millis()).execute(&mut *self.tx).await
        } else {
            sqlx::query(trust_sql::UPDATE)
                .bind(shop.0)
                .bind(facts)
                .bind(at.millis())
                .bind(seen_version)
                .execute(&mut *self.tx)
                .await
        }
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn shops_due_trust_facts(&mut self, before: Timestamp, limit: i64) -> StoreResult<Vec<ShopId>> {
        let ids: Vec<i64> = sqlx::query_scalar(trust_sql::DUE)
            .bind(before.millis())
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(ids.into_iter().map(ShopId).collect())
    }

    // ---- order chat ----

    async fn insert_chat_message(&mut self, message: &ChatMessage) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO order_messages (order_id, sender, sender_id, body, hits, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(message.order_id.0)
        .bind(message.sender.as_str())
        .bind(message.sender_id.map(|u| u.0))
        .bind(&message.body)
        .bind(&message.hits_json)
        .bind(message.created_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn order_chat(&mut self, order: OrderId, limit: i64) -> StoreResult<Vec<ChatMessage>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM order_messages WHERE order_id = $1 ORDER BY id LIMIT $2", rows::CHAT_COLS)
        });
        let rows = sqlx::query(&SQL).bind(order.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::chat_from_row).collect()
    }

    async fn chat_message(&mut self, id: i64) -> StoreResult<Option<ChatMessage>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM order_messages WHERE id = $1", rows::CHAT_COLS));
        let row = sqlx::query(&SQL).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.as_ref().map(rows::chat_from_row).transpose()
    }

    async fn count_chat_messages_since(
        &mut self,
        order: OrderId,
        sender: ChatParty,
        since: Timestamp,
    ) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM order_messages WHERE order_id = $1 AND sender = $2 AND created_at >= $3",
        )
        .bind(order.0)
        .bind(sender.as_str())
        .bind(since.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    // ---- risk events ----

    async fn insert_risk_event(&mut self, event: &RiskEvent) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO risk_events (kind, shop_id, user_id, order_id, message_id, rules, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) RETURNING id",
        )
        .bind(&event.kind)
        .bind(event.shop_id.map(|s| s.0))
        .bind(event.user_id.map(|u| u.0))
        .bind(event.order_id.map(|o| o.0))
        .bind(event.message_id)
        .bind(&event.rules_json)
        .bind(event.created_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn shop_risk_events(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<RiskEvent>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM risk_events WHERE shop_id = $1 ORDER BY id DESC LIMIT $2", rows::RISK_COLS)
        });
        let rows = sqlx::query(&SQL).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::risk_from_row).collect()
    }

    async fn risk_review_queue(&mut self, min_open: i64, limit: i64) -> StoreResult<Vec<(ShopId, i64)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT shop_id, COUNT(*) AS n FROM risk_events WHERE state = 'open' AND shop_id IS NOT NULL \
             GROUP BY shop_id HAVING COUNT(*) >= $1 OR SUM(CASE WHEN kind LIKE 'listing.%' THEN 1 ELSE 0 END) > 0 \
             ORDER BY n DESC, shop_id LIMIT $2",
        )
        .bind(min_open)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(|(s, n)| (ShopId(s), n)).collect())
    }

    async fn review_risk_events(
        &mut self,
        shop: ShopId,
        state: &str,
        note: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE risk_events SET state = $1, review_note = $2, reviewed_by = $3, reviewed_at = $4 \
             WHERE shop_id = $5 AND state = 'open'",
        )
        .bind(state)
        .bind(note)
        .bind(by.0)
        .bind(at.millis())
        .bind(shop.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}

impl PgTx {
    /// A claim's buyer facts; the category figures (the same for every claim of a category) from `norms` when
    /// an earlier claim of the request computed them.
    async fn buyer_facts_with(
        &mut self,
        claim: &ClaimRecord,
        since: Timestamp,
        norms: &mut HashMap<String, (i64, i64)>,
    ) -> StoreResult<Facts> {
        // Keys of the order first revealed in the 10 minutes before the claim, and the last such reveal.
        let window_start = claim.created_at.millis() - 10 * 60 * 1000;
        let (reveals_before_claim, last_reveal): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(first_revealed_at) FROM order_keys WHERE order_id = $1 \
             AND first_revealed_at >= $2 AND first_revealed_at <= $3",
        )
        .bind(claim.order_id.0)
        .bind(window_start)
        .bind(claim.created_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (buyer_id, guest_email, device_id, category): (Option<i64>, Option<String>, Option<String>, String) =
            sqlx::query_as(
                "SELECT o.buyer_id, o.guest_email, o.device_id, p.category FROM orders o \
                 JOIN products p ON p.id = o.product_id WHERE o.id = $1",
            )
            .bind(claim.order_id.0)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        // The buyer is the account, or for a guest the email: one indexed match or the other, never an `OR`.
        let buyer_match =
            if buyer_id.is_some() { "o.buyer_id = $1" } else { "o.buyer_id IS NULL AND o.guest_email = $2" };
        let (buyer_claims,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM claims c JOIN orders o ON o.id = c.order_id WHERE {buyer_match}"
        ))
        .bind(buyer_id)
        .bind(&guest_email)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (buyer_items,): (i64,) = sqlx::query_as(&format!(
            "SELECT CAST(COALESCE(SUM(o.quantity), 0) AS BIGINT) FROM orders o WHERE {buyer_match} \
             AND o.delivered_at IS NOT NULL"
        ))
        .bind(buyer_id)
        .bind(&guest_email)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (category_claims, category_items) = match norms.get(&category) {
            Some(figures) => *figures,
            None => {
                let figures = self.category_figures(&category, since).await?;
                norms.insert(category, figures);
                figures
            }
        };
        // Other buyers behind the same device cookie or payer account: distinct (account or guest email).
        let identity = "COALESCE(CAST(o.buyer_id AS TEXT), o.guest_email)";
        let me: Option<String> = buyer_id.map(|b| b.to_string()).or(guest_email.clone());
        let other_buyers_on_device: i64 = match &device_id {
            Some(device) => sqlx::query_scalar(&format!(
                "SELECT COUNT(DISTINCT {identity}) FROM orders o WHERE o.device_id = $1 AND {identity} <> $2"
            ))
            .bind(device)
            .bind(&me)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx)?,
            None => 0,
        };
        // Payments by this buyer (the order's own, and the buyer's top-ups) name its payer accounts; count the
        // other buyers whose payments (direct or top-up) came from one of them.
        let payer_identity = "COALESCE(CAST(COALESCE(q.user_id, o.buyer_id) AS TEXT), o.guest_email)";
        let other_buyers_on_payer: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(DISTINCT {payer_identity}) FROM payments q LEFT JOIN orders o ON o.id = q.order_id \
             WHERE q.payer_ref IN (SELECT payer_ref FROM payments WHERE payer_ref IS NOT NULL \
             AND (order_id = $1 OR (user_id IS NOT NULL AND user_id = $2))) AND {payer_identity} <> $3"
        ))
        .bind(claim.order_id.0)
        .bind(buyer_id)
        .bind(&me)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(Facts {
            reveals_before_claim,
            seconds_after_reveal: last_reveal.map(|at| (claim.created_at.millis() - at) / 1000),
            buyer_claims,
            buyer_items,
            category_claims,
            category_items,
            other_buyers_on_device,
            other_buyers_on_payer,
        })
    }

    /// A category's claims and delivered items since `since`: the stored days wholly in the window, and live
    /// counts over the rest. The stored days and their figures come from one statement, so a day filled
    /// meanwhile is counted once (live, with the same figures).
    async fn category_figures(&mut self, category: &str, since: Timestamp) -> StoreResult<(i64, i64)> {
        let first_day = since.millis().div_euclid(category_days::DAY_MS);
        let stored: Vec<(i64, i64, i64)> = sqlx::query_as(category_days::STORED)
            .bind(category)
            .bind(first_day)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let filled: Vec<i64> = stored.iter().map(|(day, _, _)| *day).collect();
        let ranges = category_days::live_ranges(since.millis(), &filled);
        let (mut claims, mut items) = stored
            .iter()
            .filter(|(day, _, _)| day.saturating_mul(category_days::DAY_MS) >= since.millis())
            .fold((0i64, 0i64), |(c, i), (_, dc, di)| (c.saturating_add(*dc), i.saturating_add(*di)));
        for (from, until) in ranges {
            let (c, i): (i64, i64) = sqlx::query_as(category_days::LIVE)
                .bind(category)
                .bind(from)
                .bind(until.unwrap_or(i64::MAX))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
            claims = claims.saturating_add(c);
            items = items.saturating_add(i);
        }
        Ok((claims, items))
    }
}
