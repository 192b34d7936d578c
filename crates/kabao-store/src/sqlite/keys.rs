//! SQLite: card keys, stock, allocation, reveals and re-issue ([`KeysTx`]).

use super::SqliteTx;
use crate::errors::{map_sqlx, one_row};
use crate::lite::Error as LiteError;
use crate::tx::keys::{BATCH_KEYS_ADDED_SQL, BATCH_KEYS_SOLD_SQL, BATCH_REISSUED_SQL, BATCH_VOIDED_SQL};
use crate::{
    lite, rows, Batch, CardKey, DeliveredKey, KeyState, KeysTx, NewBatch, NewCardKey, Reveal, StoreError, StoreResult,
};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::vault::Fingerprint;
use kabao_core::{BatchId, CardKeyId, ProductId, ShopId, Timestamp, UserId};
use std::collections::BTreeMap;
use std::sync::LazyLock;

#[async_trait]
impl KeysTx for SqliteTx {
    // ---- card-key inventory ----

    async fn existing_fingerprints(
        &mut self,
        shop: ShopId,
        fingerprints: &[Fingerprint],
    ) -> StoreResult<Vec<Fingerprint>> {
        self.bulk(fingerprints.len())?;
        let conn = self.tx.get();
        let mut stmt = conn
            .prepare_cached("SELECT 1 FROM card_keys WHERE shop_id = ?1 AND fingerprint = ?2")
            .map_err(|e| map_sqlx(LiteError(e)))?;
        let mut found = Vec::new();
        for fp in fingerprints {
            if stmt.exists(rusqlite::params![shop.0, &fp.0[..]]).map_err(|e| map_sqlx(LiteError(e)))? {
                found.push(*fp);
            }
        }
        Ok(found)
    }

    async fn insert_batch(&mut self, batch: &NewBatch) -> StoreResult<BatchId> {
        let id: i64 = lite::query_scalar(
            "INSERT INTO key_batches (shop_id, product_id, created_by, created_at, source) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(batch.shop_id.0)
        .bind(batch.product_id.0)
        .bind(batch.created_by.0)
        .bind(batch.created_at.millis())
        .bind(&batch.source)
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(BatchId(id))
    }

    async fn insert_card_keys(&mut self, keys: &[NewCardKey]) -> StoreResult<()> {
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
            let done = lite::query("UPDATE products SET stock_available = stock_available + $1 WHERE id = $2")
                .bind(n)
                .bind(product)
                .execute(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
            one_row(done.rows_affected())?;
        }
        for (batch, n) in added_to_batch {
            let done =
                lite::query(BATCH_KEYS_ADDED_SQL).bind(n).bind(batch).execute(&mut self.tx).await.map_err(map_sqlx)?;
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
        // Walks (product_id, id) backwards from the cursor: the page's rows and no others.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM key_batches b WHERE b.product_id = $1 AND b.id < $2 ORDER BY b.id DESC LIMIT $3",
                rows::BATCH_COLS
            )
        });
        let rows: Vec<rows::BatchRow> = lite::query_as(&SQL)
            .bind(product.0)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(limit)
            .fetch_all(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(rows::batch).collect())
    }

    async fn batch_by_id(&mut self, id: BatchId) -> StoreResult<Option<Batch>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM key_batches b WHERE b.id = $1", rows::BATCH_COLS));
        let row: Option<rows::BatchRow> =
            lite::query_as(&SQL).bind(id.0).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(row.map(rows::batch))
    }

    async fn void_batch(&mut self, id: BatchId, now: Timestamp) -> StoreResult<u64> {
        let product: Option<i64> = lite::query_scalar("SELECT product_id FROM key_batches WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        let product = product.ok_or(StoreError::NotFound)?;
        // Rows affected, not a prior count: a key sold concurrently is not voided and not subtracted.
        let done = lite::query("UPDATE card_keys SET state = 'voided' WHERE batch_id = $1 AND state = 'available'")
            .bind(id.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        let voided = done.rows_affected();
        let voided_i64 = i64::try_from(voided).map_err(|_| StoreError::Database("voided count out of range".into()))?;
        if voided_i64 > 0 {
            lite::query("UPDATE products SET stock_available = stock_available - $1 WHERE id = $2")
                .bind(voided_i64)
                .bind(product)
                .execute(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        }
        // The first voiding time is kept if a batch is voided again; the counts move by the rows voided above.
        let done = lite::query(BATCH_VOIDED_SQL)
            .bind(now.millis())
            .bind(id.0)
            .bind(voided_i64)
            .execute(&mut self.tx)
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
            None => lite::query_as(&ALL).bind(product.0).bind(limit).bind(offset).fetch_all(&mut self.tx).await,
            Some(state) => {
                lite::query_as(&IN_STATE)
                    .bind(product.0)
                    .bind(state.as_str())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut self.tx)
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
            lite::query_as(&SQL).bind(id.0).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        row.map(rows::card_key).transpose()
    }

    async fn delivery_audit(&mut self, product: ProductId) -> StoreResult<crate::DeliveryAudit> {
        let (delivered, duplicate_deliveries, sold_without_order, orders_missing_keys): (i64, i64, i64, i64) =
            lite::query_as(crate::commerce::DELIVERY_AUDIT_SQL)
                .bind(product.0)
                .fetch_one(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(crate::DeliveryAudit { delivered, duplicate_deliveries, sold_without_order, orders_missing_keys })
    }

    async fn count_card_keys(&mut self, product: ProductId, state: KeyState) -> StoreResult<i64> {
        lite::query_scalar("SELECT COUNT(*) FROM card_keys WHERE product_id = $1 AND state = $2")
            .bind(product.0)
            .bind(state.as_str())
            .fetch_one(&mut self.tx)
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
        let done = lite::query(
            "UPDATE products SET shared_secret = $1, shared_key_version = $2, stock_available = $3 WHERE id = $4",
        )
        .bind(ciphertext)
        .bind(key_version)
        .bind(stock)
        .bind(product.0)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn shared_secret(&mut self, product: ProductId) -> StoreResult<Option<(Vec<u8>, i32)>> {
        let row: Option<(Option<Vec<u8>>, Option<i32>)> =
            lite::query_as("SELECT shared_secret, shared_key_version FROM products WHERE id = $1")
                .bind(product.0)
                .fetch_optional(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(match row {
            Some((Some(ct), Some(v))) => Some((ct, v)),
            _ => None,
        })
    }

    async fn take_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<bool> {
        let done = lite::query(
            "UPDATE products SET stock_available = stock_available - $1 WHERE id = $2 AND stock_available >= $1 \
             AND (shared_secret IS NOT NULL OR custom_fields IS NOT NULL)",
        )
        .bind(n)
        .bind(product.0)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn return_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<()> {
        let done = lite::query(
            "UPDATE products SET stock_available = stock_available + $1 WHERE id = $2 \
             AND (shared_secret IS NOT NULL OR custom_fields IS NOT NULL)",
        )
        .bind(n)
        .bind(product.0)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    // ---- allocation, delivery and re-issue ----

    async fn allocate_keys(&mut self, product: ProductId, order: OrderId, n: i64) -> StoreResult<Vec<CardKeyId>> {
        if n <= 0 {
            return Ok(Vec::new());
        }
        let ids = self.available_key_ids(product, n).await?;
        if (ids.len() as i64) < n {
            return Ok(Vec::new());
        }
        let mut sold_from_batch: BTreeMap<i64, i64> = BTreeMap::new();
        for (seq, id) in ids.iter().enumerate() {
            // The state filter and the returned row make a double sale impossible even if the selection above
            // were stale; the UNIQUE key on order_keys is the last line.
            let batch: Option<i64> = lite::query_scalar(
                "UPDATE card_keys SET state = 'sold' WHERE id = $1 AND state = 'available' RETURNING batch_id",
            )
            .bind(*id)
            .fetch_optional(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
            let Some(batch) = batch else {
                return Err(StoreError::Database("allocation raced: key no longer available".into()));
            };
            *sold_from_batch.entry(batch).or_insert(0) += 1;
            lite::query("INSERT INTO order_keys (order_id, seq, item, card_key_id) VALUES ($1, $2, $2, $3)")
                .bind(order.0)
                .bind(seq as i64 + 1)
                .bind(*id)
                .execute(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        }
        let done = lite::query("UPDATE products SET stock_available = stock_available - $1 WHERE id = $2")
            .bind(n)
            .bind(product.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())?;
        for (batch, sold) in sold_from_batch {
            let done = lite::query(BATCH_KEYS_SOLD_SQL)
                .bind(sold)
                .bind(batch)
                .execute(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
            one_row(done.rows_affected())?;
        }
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
        let rows = lite::query(&SQL).bind(order.0).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
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
        let current: Option<(i32, i64)> = lite::query_as(
            "SELECT seq, card_key_id FROM order_keys WHERE order_id = $1 AND item = $2 AND voided_at IS NULL",
        )
        .bind(order.0)
        .bind(item)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        let Some((seq, old_key)) = current else { return Err(StoreError::NotFound) };
        let ids = self.available_key_ids(product, 1).await?;
        let Some(new_key) = ids.first().copied() else { return Ok(None) };
        let new_batch: Option<i64> = lite::query_scalar(
            "UPDATE card_keys SET state = 'sold' WHERE id = $1 AND state = 'available' RETURNING batch_id",
        )
        .bind(new_key)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        let new_batch =
            new_batch.ok_or_else(|| StoreError::Database("allocation raced: key no longer available".into()))?;
        // A live delivered key is sold (only available keys are voided by a batch); the filter keeps the batch
        // counts exact if that ever stopped being true.
        let old_batch: Option<i64> = lite::query_scalar(
            "UPDATE card_keys SET state = 'voided' WHERE id = $1 AND state = 'sold' RETURNING batch_id",
        )
        .bind(old_key)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        let old_batch =
            old_batch.ok_or_else(|| StoreError::Database("re-issue: the delivered key is not sold".into()))?;
        lite::query("UPDATE order_keys SET voided_at = $1 WHERE order_id = $2 AND seq = $3")
            .bind(at.millis())
            .bind(order.0)
            .bind(seq)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        let next: i32 = lite::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM order_keys WHERE order_id = $1")
            .bind(order.0)
            .fetch_one(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        lite::query("INSERT INTO order_keys (order_id, seq, item, card_key_id) VALUES ($1, $2, $3, $4)")
            .bind(order.0)
            .bind(next)
            .bind(item)
            .bind(new_key)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        let done = lite::query("UPDATE products SET stock_available = stock_available - 1 WHERE id = $1")
            .bind(product.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())?;
        let done = lite::query(BATCH_REISSUED_SQL)
            .bind(new_batch)
            .bind(old_batch)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        if done.rows_affected() != if new_batch == old_batch { 1 } else { 2 } {
            return Err(StoreError::Database("re-issue: a key's batch is missing".into()));
        }
        Ok(Some(CardKeyId(new_key)))
    }

    async fn record_reveal(&mut self, reveal: &Reveal) -> StoreResult<()> {
        lite::query("INSERT INTO key_reveals (order_id, user_id, at) VALUES ($1, $2, $3)")
            .bind(reveal.order_id.0)
            .bind(reveal.user_id.map(|u| u.0))
            .bind(reveal.at.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        lite::query("UPDATE order_keys SET first_revealed_at = $1 WHERE order_id = $2 AND first_revealed_at IS NULL")
            .bind(reveal.at.millis())
            .bind(reveal.order_id.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn list_reveals(&mut self, order: OrderId) -> StoreResult<Vec<Reveal>> {
        let rows: Vec<(i64, Option<i64>, i64)> =
            lite::query_as("SELECT order_id, user_id, at FROM key_reveals WHERE order_id = $1 ORDER BY id")
                .bind(order.0)
                .fetch_all(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|r| Reveal { order_id: OrderId(r.0), user_id: r.1.map(UserId), at: Timestamp(r.2) })
            .collect())
    }
}

impl SqliteTx {
    /// One cached statement run per key: SQLite has no array parameters, and each run is an in-process call.
    async fn insert_key_rows(&mut self, keys: &[NewCardKey]) -> StoreResult<()> {
        self.bulk(keys.len())?;
        let conn = self.tx.get();
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO card_keys (shop_id, product_id, batch_id, fingerprint, ciphertext, key_version, \
                 created_at, state) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'available')",
            )
            .map_err(|e| map_sqlx(LiteError(e)))?;
        for key in keys {
            stmt.execute(rusqlite::params![
                key.shop_id.0,
                key.product_id.0,
                key.batch_id.0,
                &key.fingerprint.0[..],
                &key.ciphertext[..],
                key.key_version,
                key.created_at.millis()
            ])
            .map_err(|e| map_sqlx(LiteError(e)))?;
        }
        Ok(())
    }

    /// The oldest available keys of a product. The writer connection is exclusive, so nothing can take
    /// them before this transaction marks them sold.
    async fn available_key_ids(&mut self, product: ProductId, n: i64) -> StoreResult<Vec<i64>> {
        lite::query_scalar(
            "SELECT id FROM card_keys WHERE product_id = $1 AND state = 'available' ORDER BY id LIMIT $2",
        )
        .bind(product.0)
        .bind(n)
        .fetch_all(&mut self.tx)
        .await
        .map_err(map_sqlx)
    }
}
