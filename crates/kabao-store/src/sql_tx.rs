//! The one implementation of [`crate::Tx`], expanded for each backend by [`impl_tx!`].
//! The SQL is portable (`$n` placeholders work on both SQLite and PostgreSQL), so writing it once keeps the
//! backends from drifting; only bulk key insertion and fingerprint lookup differ and live in each backend.

/// Implements [`crate::Tx`] for `$tx`, a struct with a field `tx: sqlx::Transaction<'static, DB>` and the
/// inherent methods `insert_key_rows(&mut self, &[NewCardKey])` and
/// `fingerprints_in(&mut self, ShopId, &[Fingerprint]) -> StoreResult<Vec<Fingerprint>>`.
macro_rules! impl_tx {
    ($tx:ty) => {
        #[async_trait::async_trait]
        impl $crate::Tx for $tx {
            async fn commit(self: Box<Self>) -> $crate::StoreResult<()> {
                self.tx.commit().await.map_err($crate::errors::map_sqlx)
            }

            // ---- users ----

            async fn insert_user(&mut self, user: &$crate::NewUser) -> $crate::StoreResult<kabao_core::UserId> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (username, email, password_hash, role, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&user.username)
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(user.role.as_str())
                .bind(user.created_at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::UserId(id))
            }

            async fn user_by_id(&mut self, id: kabao_core::UserId) -> $crate::StoreResult<Option<$crate::User>> {
                let sql = format!("SELECT {} FROM users u WHERE u.id = $1", $crate::rows::USER_COLS);
                let row: Option<$crate::rows::UserRow> =
                    sqlx::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::user).transpose()
            }

            async fn user_by_username(&mut self, username: &str) -> $crate::StoreResult<Option<$crate::User>> {
                let sql = format!("SELECT {} FROM users u WHERE u.username = $1", $crate::rows::USER_COLS);
                let row: Option<$crate::rows::UserRow> =
                    sqlx::query_as(&sql).bind(username).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::user).transpose()
            }

            async fn list_users(&mut self, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::User>> {
                let sql = format!("SELECT {} FROM users u ORDER BY u.id DESC LIMIT $1 OFFSET $2", $crate::rows::USER_COLS);
                let rows: Vec<$crate::rows::UserRow> =
                    sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::user).collect()
            }

            async fn count_users_with_role(&mut self, role: kabao_core::user::Role) -> $crate::StoreResult<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
                    .bind(role.as_str())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)
            }

            async fn set_user_role(&mut self, id: kabao_core::UserId, role: kabao_core::user::Role) -> $crate::StoreResult<()> {
                let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                    .bind(role.as_str())
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn set_password_hash(&mut self, id: kabao_core::UserId, password_hash: &str) -> $crate::StoreResult<()> {
                let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            // ---- sessions ----

            async fn insert_session(&mut self, session: &$crate::Session) -> $crate::StoreResult<()> {
                sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&session.token_hash)
                    .bind(session.user_id.0)
                    .bind(session.created_at.millis())
                    .bind(session.expires_at.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn session_with_user(
                &mut self,
                token_hash: &[u8],
                now: kabao_core::Timestamp,
            ) -> $crate::StoreResult<Option<($crate::Session, $crate::User)>> {
                let sql = format!(
                    "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2",
                    $crate::rows::SESSION_COLS,
                    $crate::rows::USER_COLS
                );
                let row: Option<(Vec<u8>, i64, i64, i64, i64, String, Option<String>, String, String, i64)> = sqlx::query_as(&sql)
                    .bind(token_hash)
                    .bind(now.millis())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                match row {
                    None => Ok(None),
                    Some(r) => {
                        let session = $crate::rows::session((r.0, r.1, r.2, r.3));
                        let user = $crate::rows::user((r.4, r.5, r.6, r.7, r.8, r.9))?;
                        Ok(Some((session, user)))
                    }
                }
            }

            async fn delete_session(&mut self, token_hash: &[u8]) -> $crate::StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn delete_user_sessions(&mut self, user: kabao_core::UserId) -> $crate::StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected())
            }

            async fn delete_expired_sessions(&mut self, now: kabao_core::Timestamp) -> $crate::StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected())
            }

            // ---- merchant API tokens ----

            async fn insert_api_token(&mut self, token: &$crate::NewApiToken) -> $crate::StoreResult<kabao_core::ApiTokenId> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(token.user_id.0)
                .bind(&token.name)
                .bind(&token.prefix)
                .bind(&token.token_hash)
                .bind(token.created_at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::ApiTokenId(id))
            }

            async fn list_api_tokens(&mut self, user: kabao_core::UserId) -> $crate::StoreResult<Vec<$crate::ApiToken>> {
                let sql = format!("SELECT {} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.id DESC", $crate::rows::TOKEN_COLS);
                let rows: Vec<$crate::rows::TokenRow> =
                    sqlx::query_as(&sql).bind(user.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map($crate::rows::token).collect())
            }

            async fn revoke_api_token(
                &mut self,
                user: kabao_core::UserId,
                id: kabao_core::ApiTokenId,
                now: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                // Owner and liveness are in the WHERE clause, so another user's id simply matches nothing.
                let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                    .bind(now.millis())
                    .bind(id.0)
                    .bind(user.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn api_token_with_user(&mut self, token_hash: &[u8]) -> $crate::StoreResult<Option<($crate::ApiToken, $crate::User)>> {
                let sql = format!(
                    "SELECT {}, {} FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                    $crate::rows::TOKEN_COLS,
                    $crate::rows::USER_COLS
                );
                let row: Option<(i64, i64, String, String, i64, Option<i64>, i64, String, Option<String>, String, String, i64)> =
                    sqlx::query_as(&sql).bind(token_hash).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                match row {
                    None => Ok(None),
                    Some(r) => {
                        let token = $crate::rows::token((r.0, r.1, r.2, r.3, r.4, r.5));
                        let user = $crate::rows::user((r.6, r.7, r.8, r.9, r.10, r.11))?;
                        Ok(Some((token, user)))
                    }
                }
            }

            // ---- shops ----

            async fn insert_shop(&mut self, shop: &$crate::NewShop) -> $crate::StoreResult<kabao_core::ShopId> {
                let id: i64 =
                    sqlx::query_scalar("INSERT INTO shops (owner_id, name, description, opened_at) VALUES ($1, $2, $3, $4) RETURNING id")
                        .bind(shop.owner_id.0)
                        .bind(&shop.name)
                        .bind(&shop.description)
                        .bind(shop.opened_at.millis())
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::ShopId(id))
            }

            async fn shop_by_id(&mut self, id: kabao_core::ShopId) -> $crate::StoreResult<Option<$crate::Shop>> {
                let sql = format!("SELECT {} FROM shops sh WHERE sh.id = $1", $crate::rows::SHOP_COLS);
                let row: Option<$crate::rows::ShopRow> =
                    sqlx::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::shop).transpose()
            }

            async fn shop_by_owner(&mut self, owner: kabao_core::UserId) -> $crate::StoreResult<Option<$crate::Shop>> {
                let sql = format!("SELECT {} FROM shops sh WHERE sh.owner_id = $1", $crate::rows::SHOP_COLS);
                let row: Option<$crate::rows::ShopRow> =
                    sqlx::query_as(&sql).bind(owner.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::shop).transpose()
            }

            async fn list_shops(&mut self, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::Shop>> {
                let sql = format!("SELECT {} FROM shops sh ORDER BY sh.id ASC LIMIT $1 OFFSET $2", $crate::rows::SHOP_COLS);
                let rows: Vec<$crate::rows::ShopRow> =
                    sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::shop).collect()
            }

            async fn update_shop(&mut self, id: kabao_core::ShopId, name: &str, description: &str) -> $crate::StoreResult<()> {
                let done = sqlx::query("UPDATE shops SET name = $1, description = $2 WHERE id = $3")
                    .bind(name)
                    .bind(description)
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn set_shop_certification(
                &mut self,
                id: kabao_core::ShopId,
                level: kabao_core::catalog::CertificationLevel,
            ) -> $crate::StoreResult<()> {
                let done = sqlx::query("UPDATE shops SET certification = $1 WHERE id = $2")
                    .bind(level.as_str())
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn set_shop_suspended(
                &mut self,
                id: kabao_core::ShopId,
                suspended: bool,
                reason: Option<&str>,
            ) -> $crate::StoreResult<()> {
                let reason = if suspended { reason } else { None };
                let done = sqlx::query("UPDATE shops SET suspended = $1, suspended_reason = $2 WHERE id = $3")
                    .bind(suspended)
                    .bind(reason)
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            // ---- products ----

            async fn insert_product(
                &mut self,
                shop: kabao_core::ShopId,
                draft: &kabao_core::catalog::ProductDraft,
                now: kabao_core::Timestamp,
            ) -> $crate::StoreResult<kabao_core::ProductId> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO products (shop_id, title, description, category, kind, price_fen, max_per_order, \
                     trial, listed, stock_available, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10) RETURNING id",
                )
                .bind(shop.0)
                .bind(&draft.title)
                .bind(&draft.description)
                .bind(draft.category.as_str())
                .bind(draft.kind.as_str())
                .bind(draft.price.fen())
                .bind(draft.max_per_order)
                .bind(draft.trial)
                .bind(draft.listed)
                .bind(now.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::ProductId(id))
            }

            async fn update_product(
                &mut self,
                id: kabao_core::ProductId,
                draft: &kabao_core::catalog::ProductDraft,
                now: kabao_core::Timestamp,
            ) -> $crate::StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE products SET title = $1, description = $2, category = $3, kind = $4, price_fen = $5, \
                     max_per_order = $6, trial = $7, listed = $8, updated_at = $9 WHERE id = $10",
                )
                .bind(&draft.title)
                .bind(&draft.description)
                .bind(draft.category.as_str())
                .bind(draft.kind.as_str())
                .bind(draft.price.fen())
                .bind(draft.max_per_order)
                .bind(draft.trial)
                .bind(draft.listed)
                .bind(now.millis())
                .bind(id.0)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn product_by_id(&mut self, id: kabao_core::ProductId) -> $crate::StoreResult<Option<$crate::Product>> {
                let sql = format!("SELECT {} FROM products p WHERE p.id = $1", $crate::rows::PRODUCT_COLS);
                let row: Option<$crate::rows::ProductRow> =
                    sqlx::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::product).transpose()
            }

            async fn list_shop_products(&mut self, shop: kabao_core::ShopId) -> $crate::StoreResult<Vec<$crate::Product>> {
                let sql = format!("SELECT {} FROM products p WHERE p.shop_id = $1 ORDER BY p.id DESC", $crate::rows::PRODUCT_COLS);
                let rows: Vec<$crate::rows::ProductRow> =
                    sqlx::query_as(&sql).bind(shop.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::product).collect()
            }

            async fn list_listed_products(&mut self, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::Listing>> {
                let sql = format!(
                    "SELECT {}, sh.name, sh.certification, sh.opened_at FROM products p JOIN shops sh ON sh.id = p.shop_id \
                     WHERE p.listed = $1 AND sh.suspended = $2 ORDER BY p.id DESC LIMIT $3 OFFSET $4",
                    $crate::rows::PRODUCT_COLS
                );
                // Booleans are bound rather than written as literals: SQLite stores them as 0/1, PostgreSQL as bool.
                let rows: Vec<$crate::rows::ListingRow> = sqlx::query_as(&sql)
                    .bind(true)
                    .bind(false)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::listing).collect()
            }

            // ---- card-key inventory ----

            async fn existing_fingerprints(
                &mut self,
                shop: kabao_core::ShopId,
                fingerprints: &[kabao_core::vault::Fingerprint],
            ) -> $crate::StoreResult<Vec<kabao_core::vault::Fingerprint>> {
                self.fingerprints_in(shop, fingerprints).await
            }

            async fn insert_batch(&mut self, batch: &$crate::NewBatch) -> $crate::StoreResult<kabao_core::BatchId> {
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
                .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::BatchId(id))
            }

            async fn insert_card_keys(&mut self, keys: &[$crate::NewCardKey]) -> $crate::StoreResult<()> {
                if keys.is_empty() {
                    return Ok(());
                }
                self.insert_key_rows(keys).await?;
                // One counter update per product and call, not per key: the counter row would otherwise be the
                // hottest row of the import.
                let mut added: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
                for key in keys {
                    *added.entry(key.product_id.0).or_insert(0) += 1;
                }
                for (product, n) in added {
                    let done = sqlx::query("UPDATE products SET stock_available = stock_available + $1 WHERE id = $2")
                        .bind(n)
                        .bind(product)
                        .execute(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                    one_row(done.rows_affected())?;
                }
                Ok(())
            }

            async fn list_batches(&mut self, product: kabao_core::ProductId) -> $crate::StoreResult<Vec<$crate::Batch>> {
                let sql = format!("SELECT {} FROM key_batches b WHERE b.product_id = $1 ORDER BY b.id DESC", $crate::rows::BATCH_COLS);
                let rows: Vec<$crate::rows::BatchRow> =
                    sqlx::query_as(&sql).bind(product.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map($crate::rows::batch).collect())
            }

            async fn batch_by_id(&mut self, id: kabao_core::BatchId) -> $crate::StoreResult<Option<$crate::Batch>> {
                let sql = format!("SELECT {} FROM key_batches b WHERE b.id = $1", $crate::rows::BATCH_COLS);
                let row: Option<$crate::rows::BatchRow> =
                    sqlx::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                Ok(row.map($crate::rows::batch))
            }

            async fn void_batch(&mut self, id: kabao_core::BatchId, now: kabao_core::Timestamp) -> $crate::StoreResult<u64> {
                let product: Option<i64> = sqlx::query_scalar("SELECT product_id FROM key_batches WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                let product = product.ok_or($crate::StoreError::NotFound)?;
                // Rows affected, not a prior count: a key sold concurrently is not voided and not subtracted.
                let done = sqlx::query("UPDATE card_keys SET state = 'voided' WHERE batch_id = $1 AND state = 'available'")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                let voided = done.rows_affected();
                let voided_i64 = i64::try_from(voided).map_err(|_| $crate::StoreError::Database("voided count out of range".into()))?;
                if voided_i64 > 0 {
                    sqlx::query("UPDATE products SET stock_available = stock_available - $1 WHERE id = $2")
                        .bind(voided_i64)
                        .bind(product)
                        .execute(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                }
                // The first voiding time is kept if a batch is voided again.
                sqlx::query("UPDATE key_batches SET voided_at = COALESCE(voided_at, $1) WHERE id = $2")
                    .bind(now.millis())
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(voided)
            }

            async fn list_card_keys(
                &mut self,
                product: kabao_core::ProductId,
                state: Option<$crate::KeyState>,
                limit: i64,
                offset: i64,
            ) -> $crate::StoreResult<Vec<$crate::CardKey>> {
                // `$2 IS NULL OR` keeps one statement for both cases; the state is always bound, never spliced.
                let sql = format!(
                    "SELECT {} FROM card_keys k WHERE k.product_id = $1 AND ($2 IS NULL OR k.state = $2) \
                     ORDER BY k.id ASC LIMIT $3 OFFSET $4",
                    $crate::rows::KEY_COLS
                );
                let rows: Vec<$crate::rows::KeyRow> = sqlx::query_as(&sql)
                    .bind(product.0)
                    .bind(state.map(|s| s.as_str()))
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::card_key).collect()
            }

            async fn card_key_by_id(&mut self, id: kabao_core::CardKeyId) -> $crate::StoreResult<Option<$crate::CardKey>> {
                let sql = format!("SELECT {} FROM card_keys k WHERE k.id = $1", $crate::rows::KEY_COLS);
                let row: Option<$crate::rows::KeyRow> =
                    sqlx::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::card_key).transpose()
            }

            async fn count_card_keys(&mut self, product: kabao_core::ProductId, state: $crate::KeyState) -> $crate::StoreResult<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM card_keys WHERE product_id = $1 AND state = $2")
                    .bind(product.0)
                    .bind(state.as_str())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)
            }

            // ---- data keys ----

            async fn data_keys(&mut self) -> $crate::StoreResult<Vec<$crate::DataKeyRecord>> {
                let rows: Vec<$crate::rows::DataKeyRow> =
                    sqlx::query_as("SELECT purpose, version, wrapped, created_at FROM data_keys ORDER BY purpose, version")
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map($crate::rows::data_key).collect())
            }

            async fn insert_data_key(&mut self, key: &$crate::DataKeyRecord) -> $crate::StoreResult<()> {
                sqlx::query("INSERT INTO data_keys (purpose, version, wrapped, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&key.purpose)
                    .bind(key.version)
                    .bind(&key.wrapped)
                    .bind(key.created_at.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }
        }

        /// An UPDATE that must hit exactly one row; none means the id does not exist.
        fn one_row(affected: u64) -> $crate::StoreResult<()> {
            if affected == 0 {
                Err($crate::StoreError::NotFound)
            } else {
                Ok(())
            }
        }
    };
}

pub(crate) use impl_tx;
