//! PostgreSQL: card keys, stock, allocation, reveals and re-issue ([`KeysTx`]).

use super::PgTx;
use crate::errors::{map_sqlx, one_row};
use crate::tx::keys::{BATCH_KEYS_ADDED_SQL, BATCH_REISSUED_SQL, BATCH_VOIDED_SQL};
use crate::{
    rows, Batch, CardKey, DeliveredKey, KeyState, KeysTx, NewBatch, NewCardKey, Reveal, StoreError, StoreResult,
};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::vault::Fingerprint;
use kabao_core::{BatchId, CardKeyId, ProductId, ShopId, Timestamp, UserId};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Rows per UNNEST insert and fingerprints per `= ANY` lookup: arrays are one parameter each, so the bound is
/// about memory and statement time, not the 65535-parameter limit.
const KEY_ROWS_PER_INSERT: usize = 10_000;
const FINGERPRINTS_PER_LOOKUP: usize = 10_000;

#[async_trait]
impl KeysTx for PgTx {
    // ---- card-key inventory ----

    async fn existing_fingerprints(
        &mut self,
        shop: ShopId,
        fingerprints: &[Fingerprint],
    ) -> StoreResult<Vec<Fingerprint>> {
        let mut found = Vec::new();
        for chunk in fingerprints.chunks(FINGERPRINTS_PER_LOOKUP) {
            let list: Vec<&[u8]> = chunk.iter().map(|f| &f.0[..]).collect();
            // One index probe per fingerprint, planned for this call with the table as it is now. As a cached
            // prepared `fingerprint = ANY($2)`, one lookup of 10,000 fingerprints took 56–60 s once the shop had
            // 500,000 keys (`bench growth` on PostgreSQL, the import's own transaction busy in that statement);
            // as this join, not persistent, the next run imported 450,000 keys in 59 s in all. A hand-made
            // prepared `= ANY` on a table of 300,000 rows kept its index plan (27 ms), so which of the two
            // changes matters is not pinned down: both stay.
            let rows: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT k.fingerprint FROM unnest($2::BYTEA[]) AS f(fp) \
                 JOIN card_keys k ON k.shop_id = $1 AND k.fingerprint = f.fp",
            )
            .bind(shop.0)
            .bind(list)
            .persistent(false)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
            for bytes in rows {
                found.push(rows::fingerprint(&bytes)?);
            }
        }
        Ok(found)
    }

    async fn insert_batch(&mut self, batch: &NewBatch) -> StoreResult<BatchId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO key_batches (shop_id, product_id, created_by, created_at, source) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(batch.shop_id.0)
        .bind(batch.product_id.0)
        .bind(batch.created_by.0)
        .bind(batch.created_at.millis())
        .bind(&batch.source)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(BatchId(id))
    }

    async fn insert_card_keys(&mut self, keys: &[NewCardKey]) -> StoreResult<()> {
        self.count_sold().await?;
        if keys.is_empty() {
            return Ok(());
        }
        self.insert_key_rows(keys).await?;
        // One counter update per product and per batch and call, not per key: the counter rows would otherwise be
        // the hottest rows of the import. Products first (see `tx::keys`).
        let mut added: BTreeMap<i64, i64> = BTreeMap::new();
        let mut added_to_batch: BTreeMap<i64, i64> = BTreeMap::new();
        for key in keys {
            *added.entry(key.product_id.0).or_insert(0) += 1;
            *added_to_batch.entry(key.batch_id.0).or_insert(0) += 1;
        }
        for (product, n) in added {
            let done = sqlx::query("UPDATE products SET stock_available = stock_available + $1 WHERE id = $2")
                .bind(n)
                .bind(product)
                .execute(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
            one_row(done.rows_affected())?;
        }
        for (batch, n) in added_to_batch {
            let done =
                sqlx::query(BATCH_KEYS_ADDED_SQL).bind(n).bind(batch).execute(&mut *self.tx).await.map_err(map_sqlx)?;
            one_row(done.rows_affected())?;
        }
        Ok(())
    }

    async fn list_batches(
        &mut self,
        product: ProductId,
        before: Option<BatchId>,
        limit: i64,
    ) -> StoreResult<Vec<Batch>> {
        self.count_sold().await?;
        // Walks (product_id, id) backwards from the cursor: the page's rows and no others.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM key_batches b WHERE b.product_id = $1 AND b.id < $2 ORDER BY b.id DESC LIMIT $3",
                rows::BATCH_COLS
            )
        });
        let rows: Vec<rows::BatchRow> = sqlx::query_as(&SQL)
            .bind(product.0)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(rows::batch).collect())
    }

    async fn batch_by_id(&mut self, id: BatchId) -> StoreResult<Option<Batch>> {
        self.count_sold().await?;
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM key_batches b WHERE b.id = $1", rows::BATCH_COLS));
        let row: Option<rows::BatchRow> =
            sqlx::query_as(&SQL).bind(id.0).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        Ok(row.map(rows::batch))
    }

    async fn void_batch(&mut self, id: BatchId, now: Timestamp) -> StoreResult<u64> {
        self.count_sold().await?;
        let product: Option<i64> = sqlx::query_scalar("SELECT product_id FROM key_batches WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let product = product.ok_or(StoreError::NotFound)?;
        // Rows affected, not a prior count: a key sold concurrently is not voided and not subtracted.
        let done = sqlx::query("UPDATE card_keys SET state = 'voided' WHERE batch_id = $1 AND state = 'available'")
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let voided = done.rows_affected();
        let voided_i64 = i64::try_from(voided).map_err(|_| StoreError::Database("voided count out of range".into()))?;
        if voided_i64 > 0 {
            sqlx::query("UPDATE products SET stock_available = stock_available - $1 WHERE id = $2")
                .bind(voided_i64)
                .bind(product)
                .execute(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        }
        // The first voiding time is kept if a batch is voided again; the counts move by the rows voided above.
        let done = sqlx::query(BATCH_VOIDED_SQL)
            .bind(now.millis())
            .bind(id.0)
            .bind(voided_i64)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())?;
        Ok(voided)
    }

    async fn list_card_keys(
        &mut self,
        product: ProductId,
        state: Option<KeyState>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<CardKey>> {
        // Two statements, so each walks its own index in key order ((product, state, id) or (product, id))
        // instead of sorting every key of the product; the state is always bound, never spliced.
        static ALL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM card_keys k WHERE k.product_id = $1 ORDER BY k.id ASC LIMIT $2 OFFSET $3",
                rows::KEY_COLS
            )
        });
        static IN_STATE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM card_keys k WHERE k.product_id = $1 AND k.state = $2 \
                 ORDER BY k.id ASC LIMIT $3 OFFSET $4",
                rows::KEY_COLS
            )
        });
        let rows: Vec<rows::KeyRow> = match state {
            None => sqlx::query_as(&ALL).bind(product.0).bind(limit).bind(offset).fetch_all(&mut *self.tx).await,
            Some(state) => {
                sqlx::query_as(&IN_STATE)
                    .bind(product.0)
                    .bind(state.as_str())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self.tx)
                    .await
            }
        }
        .map_err(map_sqlx)?;
        rows.into_iter().map(rows::card_key).collect()
    }

    async fn card_key_by_id(&mut self, id: CardKeyId) -> StoreResult<Option<CardKey>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM card_keys k WHERE k.id = $1", rows::KEY_COLS));
        let row: Option<rows::KeyRow> =
            sqlx::query_as(&SQL).bind(id.0).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::card_key).transpose()
    }

    async fn delivery_audit(&mut self, product: ProductId) -> StoreResult<crate::DeliveryAudit> {
        let (delivered, duplicate_deliveries, sold_without_order, orders_missing_keys): (i64, i64, i64, i64) =
            sqlx::query_as(crate::commerce::DELIVERY_AUDIT_SQL)
                .bind(product.0)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(crate::DeliveryAudit { delivered, duplicate_deliveries, sold_without_order, orders_missing_keys })
    }

    async fn count_card_keys(&mut self, product: ProductId, state: KeyState) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM card_keys WHERE product_id = $1 AND state = $2")
            .bind(product.0)
            .bind(state.as_str())
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx)
    }

    // ---- shared secrets (循环卡密) and counted stock ----

    async fn set_shared_secret(
        &mut self,
        product: ProductId,
        ciphertext: &[u8],
        key_version: i32,
        stock: i64,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE products SET shared_secret = $1, shared_key_version = $2, stock_available = $3 WHERE id = $4",
        )
        .bind(ciphertext)
        .bind(key_version)
        .bind(stock)
        .bind(product.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn shared_secret(&mut self, product: ProductId) -> StoreResult<Option<(Vec<u8>, i32)>> {
        let row: Option<(Option<Vec<u8>>, Option<i32>)> =
            sqlx::query_as("SELECT shared_secret, shared_key_version FROM products WHERE id = $1")
                .bind(product.0)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(match row {
            Some((Some(ct), Some(v))) => Some((ct, v)),
            _ => None,
        })
    }

    async fn take_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<bool> {
        self.count_sold().await?;
        let done = sqlx::query(
            "UPDATE products SET stock_available = stock_available - $1 WHERE id = $2 AND stock_available >= $1 \
             AND (shared_secret IS NOT NULL OR custom_fields IS NOT NULL)",
        )
        .bind(n)
        .bind(product.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn return_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<()> {
        self.count_sold().await?;
        let done = sqlx::query(
            "UPDATE products SET stock_available = stock_available + $1 WHERE id = $2 \
             AND (shared_secret IS NOT NULL OR custom_fields IS NOT NULL)",
        )
        .bind(n)
        .bind(product.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    // ---- allocation, delivery and re-issue ----

    async fn allocate_keys(&mut self, product: ProductId, order: OrderId, n: i64) -> StoreResult<Vec<CardKeyId>> {
        if n <= 0 {
            return Ok(Vec::new());
        }
        // One statement, one round trip: pick the oldest available keys (locked, SKIP LOCKED so concurrent
        // buyers take others), and only if there are `n` of them mark them sold and link them to the order. The
        // state filter makes a double sale impossible even if the pick were stale; the UNIQUE key on order_keys
        // is the last line. The product's stock and the batches' counts move at commit (`PgTx::count_sold`):
        // the keys are locked first and the counters last, the order every writer of keys follows (`tx::keys`).
        const SQL: &str = "WITH picked AS ( \
                 SELECT id, row_number() OVER (ORDER BY id) AS seq FROM ( \
                     SELECT id FROM card_keys WHERE product_id = $1 AND state = 'available' ORDER BY id LIMIT $2 \
                     FOR UPDATE SKIP LOCKED) k), \
             enough AS (SELECT count(*) = $2 AS ok FROM picked), \
             sold AS (UPDATE card_keys c SET state = 'sold' FROM picked p \
                 WHERE (SELECT ok FROM enough) AND c.id = p.id AND c.state = 'available' \
                 RETURNING c.id, c.batch_id), \
             linked AS (INSERT INTO order_keys (order_id, seq, item, card_key_id) \
                 SELECT $3, p.seq, p.seq, p.id FROM picked p JOIN sold s ON s.id = p.id RETURNING card_key_id) \
             SELECT (SELECT ok FROM enough), (SELECT count(*) FROM linked), \
                 COALESCE((SELECT array_agg(id ORDER BY seq) FROM picked), '{}'), \
                 COALESCE((SELECT array_agg(batch_id) FROM sold), '{}')";
        let (enough, linked, ids, batches): (bool, i64, Vec<i64>, Vec<i64>) = sqlx::query_as(SQL)
            .bind(product.0)
            .bind(n)
            .bind(order.0)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        if !enough {
            return Ok(Vec::new());
        }
        if batches.len() as i64 != n || linked != n {
            return Err(StoreError::Database("allocation raced: key no longer available".into()));
        }
        self.sold.add(product.0, &batches);
        Ok(ids.into_iter().map(CardKeyId).collect())
    }

    async fn order_keys(&mut self, order: OrderId) -> StoreResult<Vec<DeliveredKey>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, ok.first_revealed_at, ok.item, ok.voided_at \
                 FROM order_keys ok JOIN card_keys k ON k.id = ok.card_key_id \
                 WHERE ok.order_id = $1 ORDER BY ok.seq",
                rows::KEY_COLS
            )
        });
        let rows = sqlx::query(&SQL).bind(order.0).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            use crate::rows::ColumnAt as _;
            let key_row: rows::KeyRow =
                (r.at(0)?, r.at(1)?, r.at(2)?, r.at(3)?, r.at(4)?, r.at(5)?, r.at(6)?, r.at(7)?, r.at(8)?);
            let first: Option<i64> = r.at(9)?;
            let voided: Option<i64> = r.at(11)?;
            out.push(DeliveredKey {
                key: rows::card_key(key_row)?,
                first_revealed_at: first.map(Timestamp),
                item: r.at(10)?,
                voided_at: voided.map(Timestamp),
            });
        }
        Ok(out)
    }

    async fn reissue_key(
        &mut self,
        order: OrderId,
        item: i32,
        product: ProductId,
        at: Timestamp,
    ) -> StoreResult<Option<CardKeyId>> {
        self.count_sold().await?;
        let current: Option<(i32, i64)> = sqlx::query_as(
            "SELECT seq, card_key_id FROM order_keys WHERE order_id = $1 AND item = $2 AND voided_at IS NULL",
        )
        .bind(order.0)
        .bind(item)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let Some((seq, old_key)) = current else { return Err(StoreError::NotFound) };
        let ids = self.available_key_ids(product, 1).await?;
        let Some(new_key) = ids.first().copied() else { return Ok(None) };
        let new_batch: Option<i64> = sqlx::query_scalar(
            "UPDATE card_keys SET state = 'sold' WHERE id = $1 AND state = 'available' RETURNING batch_id",
        )
        .bind(new_key)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let new_batch =
            new_batch.ok_or_else(|| StoreError::Database("allocation raced: key no longer available".into()))?;
        // A live delivered key is sold (only available keys are voided by a batch); the filter keeps the batch
        // counts exact if that ever stopped being true.
        let old_batch: Option<i64> = sqlx::query_scalar(
            "UPDATE card_keys SET state = 'voided' WHERE id = $1 AND state = 'sold' RETURNING batch_id",
        )
        .bind(old_key)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let old_batch =
            old_batch.ok_or_else(|| StoreError::Database("re-issue: the delivered key is not sold".into()))?;
        sqlx::query("UPDATE order_keys SET voided_at = $1 WHERE order_id = $2 AND seq = $3")
            .bind(at.millis())
            .bind(order.0)
            .bind(seq)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let next: i32 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM order_keys WHERE order_id = $1")
            .bind(order.0)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        sqlx::query("INSERT INTO order_keys (order_id, seq, item, card_key_id) VALUES ($1, $2, $3, $4)")
            .bind(order.0)
            .bind(next)
            .bind(item)
            .bind(new_key)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let done = sqlx::query("UPDATE products SET stock_available = stock_available - 1 WHERE id = $1")
            .bind(product.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())?;
        let done = sqlx::query(BATCH_REISSUED_SQL)
            .bind(new_batch)
            .bind(old_batch)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        if done.rows_affected() != if new_batch == old_batch { 1 } else { 2 } {
            return Err(StoreError::Database("re-issue: a key's batch is missing".into()));
        }
        Ok(Some(CardKeyId(new_key)))
    }

    async fn record_reveal(&mut self, reveal: &Reveal) -> StoreResult<()> {
        // One round trip: the reveal and the first-revealed mark together.
        sqlx::query(
            "WITH r AS (INSERT INTO key_reveals (order_id, user_id, at) VALUES ($1, $2, $3)) \
             UPDATE order_keys SET first_revealed_at = $3 WHERE order_id = $1 AND first_revealed_at IS NULL",
        )
        .bind(reveal.order_id.0)
        .bind(reveal.user_id.map(|u| u.0))
        .bind(reveal.at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn list_reveals(&mut self, order: OrderId) -> StoreResult<Vec<Reveal>> {
        let rows: Vec<(i64, Option<i64>, i64)> =
            sqlx::query_as("SELECT order_id, user_id, at FROM key_reveals WHERE order_id = $1 ORDER BY id")
                .bind(order.0)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|r| Reveal { order_id: OrderId(r.0), user_id: r.1.map(UserId), at: Timestamp(r.2) })
            .collect())
    }
}

impl PgTx {
    /// One array parameter per column through UNNEST: a fixed, small statement whatever the chunk size.
    async fn insert_key_rows(&mut self, keys: &[NewCardKey]) -> StoreResult<()> {
        for chunk in keys.chunks(KEY_ROWS_PER_INSERT) {
            let shops: Vec<i64> = chunk.iter().map(|k| k.shop_id.0).collect();
            let products: Vec<i64> = chunk.iter().map(|k| k.product_id.0).collect();
            let batches: Vec<i64> = chunk.iter().map(|k| k.batch_id.0).collect();
            let fingerprints: Vec<&[u8]> = chunk.iter().map(|k| &k.fingerprint.0[..]).collect();
            let ciphertexts: Vec<&[u8]> = chunk.iter().map(|k| &k.ciphertext[..]).collect();
            let versions: Vec<i32> = chunk.iter().map(|k| k.key_version).collect();
            let created: Vec<i64> = chunk.iter().map(|k| k.created_at.millis()).collect();
            sqlx::query(
                "INSERT INTO card_keys (shop_id, product_id, batch_id, fingerprint, ciphertext, key_version, \
                 created_at, state) \
                 SELECT s, p, b, f, c, v, t, 'available' \
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BYTEA[], $5::BYTEA[], $6::INTEGER[], \
                 $7::BIGINT[]) \
                 AS k(s, p, b, f, c, v, t)",
            )
            .bind(shops)
            .bind(products)
            .bind(batches)
            .bind(fingerprints)
            .bind(ciphertexts)
            .bind(versions)
            .bind(created)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        }
        Ok(())
    }

    /// The oldest available keys of a product, locked for this transaction. SKIP LOCKED lets concurrent
    /// buyers take other keys instead of queueing behind each other; one that finds too few is refunded.
    async fn available_key_ids(&mut self, product: ProductId, n: i64) -> StoreResult<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT id FROM card_keys WHERE product_id = $1 AND state = 'available' ORDER BY id LIMIT $2 FOR UPDATE \
             SKIP LOCKED",
        )
        .bind(product.0)
        .bind(n)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)
    }
}
