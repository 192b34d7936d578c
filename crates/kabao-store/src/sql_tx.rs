//! The one implementation of [`crate::Tx`], expanded for each backend by [`impl_tx!`].
//! The SQL is portable (`$n` placeholders work on both SQLite and PostgreSQL), so writing it once keeps the
//! backends from drifting; only bulk key insertion and fingerprint lookup differ and live in each backend.
//! Statements spliced from the column lists in [`crate::rows`] are formatted once per process (a `static
//! LazyLock` each), not on every call: the per-call `format!` was about 1 % of the checkout benchmark's CPU.

/// Implements [`crate::Tx`] for `$tx`, a struct with a field `tx` that dereferences to a connection of the query
/// layer the invoking module names `db` (`sqlx` for PostgreSQL, [`crate::lite`] for SQLite), and the
/// inherent methods `insert_key_rows(&mut self, &[NewCardKey])` and
/// `fingerprints_in(&mut self, ShopId, &[Fingerprint]) -> StoreResult<Vec<Fingerprint>>`.
macro_rules! impl_tx {
    ($tx:ty) => {
        #[async_trait::async_trait]
        impl $crate::Tx for $tx {
            async fn commit(self: Box<Self>) -> $crate::StoreResult<()> {
                self.finish().await
            }

            // ---- users ----

            async fn insert_user(&mut self, user: &$crate::NewUser) -> $crate::StoreResult<kabao_core::UserId> {
                let id: i64 = db::query_scalar(
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM users u WHERE u.id = $1", $crate::rows::USER_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::UserRow> =
                    db::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::user).transpose()
            }

            async fn user_by_username(&mut self, username: &str) -> $crate::StoreResult<Option<$crate::User>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM users u WHERE u.username = $1", $crate::rows::USER_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::UserRow> =
                    db::query_as(&sql).bind(username).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::user).transpose()
            }

            async fn list_users(&mut self, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::User>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM users u ORDER BY u.id DESC LIMIT $1 OFFSET $2", $crate::rows::USER_COLS));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::UserRow> =
                    db::query_as(&sql).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::user).collect()
            }

            async fn count_users_with_role(&mut self, role: kabao_core::user::Role) -> $crate::StoreResult<i64> {
                db::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
                    .bind(role.as_str())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)
            }

            async fn set_user_role(&mut self, id: kabao_core::UserId, role: kabao_core::user::Role) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE users SET role = $1 WHERE id = $2")
                    .bind(role.as_str())
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn set_password_hash(&mut self, id: kabao_core::UserId, password_hash: &str) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            // ---- sessions ----

            async fn insert_session(&mut self, session: &$crate::Session) -> $crate::StoreResult<()> {
                db::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2",
                    $crate::rows::SESSION_COLS,
                    $crate::rows::USER_COLS
                ));
                let sql: &str = &SQL;
                let row: Option<(Vec<u8>, i64, i64, i64, i64, String, Option<String>, String, String, i64)> = db::query_as(&sql)
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
                db::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn delete_user_sessions(&mut self, user: kabao_core::UserId) -> $crate::StoreResult<u64> {
                let done = db::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected())
            }

            async fn delete_expired_sessions(&mut self, now: kabao_core::Timestamp) -> $crate::StoreResult<u64> {
                let done = db::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected())
            }

            // ---- merchant API tokens ----

            async fn insert_api_token(&mut self, token: &$crate::NewApiToken) -> $crate::StoreResult<kabao_core::ApiTokenId> {
                let id: i64 = db::query_scalar(
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.id DESC", $crate::rows::TOKEN_COLS));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::TokenRow> =
                    db::query_as(&sql).bind(user.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map($crate::rows::token).collect())
            }

            async fn revoke_api_token(
                &mut self,
                user: kabao_core::UserId,
                id: kabao_core::ApiTokenId,
                now: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                // Owner and liveness are in the WHERE clause, so another user's id simply matches nothing.
                let done = db::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                    .bind(now.millis())
                    .bind(id.0)
                    .bind(user.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn api_token_with_user(&mut self, token_hash: &[u8]) -> $crate::StoreResult<Option<($crate::ApiToken, $crate::User)>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {}, {} FROM api_tokens t JOIN users u ON u.id = t.user_id \
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                    $crate::rows::TOKEN_COLS,
                    $crate::rows::USER_COLS
                ));
                let sql: &str = &SQL;
                let row: Option<(i64, i64, String, String, i64, Option<i64>, i64, String, Option<String>, String, String, i64)> =
                    db::query_as(&sql).bind(token_hash).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
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
                    db::query_scalar("INSERT INTO shops (owner_id, name, description, opened_at) VALUES ($1, $2, $3, $4) RETURNING id")
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM shops sh WHERE sh.id = $1", $crate::rows::SHOP_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::ShopRow> =
                    db::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::shop).transpose()
            }

            async fn shop_by_owner(&mut self, owner: kabao_core::UserId) -> $crate::StoreResult<Option<$crate::Shop>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM shops sh WHERE sh.owner_id = $1", $crate::rows::SHOP_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::ShopRow> =
                    db::query_as(&sql).bind(owner.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::shop).transpose()
            }

            async fn list_shops(&mut self, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::Shop>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM shops sh ORDER BY sh.id ASC LIMIT $1 OFFSET $2", $crate::rows::SHOP_COLS));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::ShopRow> =
                    db::query_as(&sql).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::shop).collect()
            }

            async fn update_shop(&mut self, id: kabao_core::ShopId, name: &str, description: &str) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE shops SET name = $1, description = $2 WHERE id = $3")
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
                let done = db::query("UPDATE shops SET certification = $1 WHERE id = $2")
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
                let done = db::query("UPDATE shops SET suspended = $1, suspended_reason = $2 WHERE id = $3")
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
                let id: i64 = db::query_scalar(
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
                let done = db::query(
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM products p WHERE p.id = $1", $crate::rows::PRODUCT_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::ProductRow> =
                    db::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::product).transpose()
            }

            async fn list_shop_products(&mut self, shop: kabao_core::ShopId) -> $crate::StoreResult<Vec<$crate::Product>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM products p WHERE p.shop_id = $1 ORDER BY p.id DESC", $crate::rows::PRODUCT_COLS));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::ProductRow> =
                    db::query_as(&sql).bind(shop.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::product).collect()
            }

            async fn list_listed_products(&mut self, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::Listing>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {}, sh.name, sh.certification, sh.opened_at FROM products p JOIN shops sh ON sh.id = p.shop_id \
                     WHERE p.listed = $1 AND sh.suspended = $2 ORDER BY p.id DESC LIMIT $3 OFFSET $4",
                    $crate::rows::PRODUCT_COLS
                ));
                let sql: &str = &SQL;
                // Booleans are bound rather than written as literals: SQLite stores them as 0/1, PostgreSQL as bool.
                let rows = db::query(&sql)
                    .bind(true)
                    .bind(false)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::listing_from_row).collect()
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
                let id: i64 = db::query_scalar(
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
                    let done = db::query("UPDATE products SET stock_available = stock_available + $1 WHERE id = $2")
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM key_batches b WHERE b.product_id = $1 ORDER BY b.id DESC", $crate::rows::BATCH_COLS));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::BatchRow> =
                    db::query_as(&sql).bind(product.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map($crate::rows::batch).collect())
            }

            async fn batch_by_id(&mut self, id: kabao_core::BatchId) -> $crate::StoreResult<Option<$crate::Batch>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM key_batches b WHERE b.id = $1", $crate::rows::BATCH_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::BatchRow> =
                    db::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                Ok(row.map($crate::rows::batch))
            }

            async fn void_batch(&mut self, id: kabao_core::BatchId, now: kabao_core::Timestamp) -> $crate::StoreResult<u64> {
                let product: Option<i64> = db::query_scalar("SELECT product_id FROM key_batches WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                let product = product.ok_or($crate::StoreError::NotFound)?;
                // Rows affected, not a prior count: a key sold concurrently is not voided and not subtracted.
                let done = db::query("UPDATE card_keys SET state = 'voided' WHERE batch_id = $1 AND state = 'available'")
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                let voided = done.rows_affected();
                let voided_i64 = i64::try_from(voided).map_err(|_| $crate::StoreError::Database("voided count out of range".into()))?;
                if voided_i64 > 0 {
                    db::query("UPDATE products SET stock_available = stock_available - $1 WHERE id = $2")
                        .bind(voided_i64)
                        .bind(product)
                        .execute(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                }
                // The first voiding time is kept if a batch is voided again.
                db::query("UPDATE key_batches SET voided_at = COALESCE(voided_at, $1) WHERE id = $2")
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM card_keys k WHERE k.product_id = $1 AND ($2 IS NULL OR k.state = $2) \
                     ORDER BY k.id ASC LIMIT $3 OFFSET $4",
                    $crate::rows::KEY_COLS
                ));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::KeyRow> = db::query_as(&sql)
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
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM card_keys k WHERE k.id = $1", $crate::rows::KEY_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::KeyRow> =
                    db::query_as(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::card_key).transpose()
            }

            async fn count_card_keys(&mut self, product: kabao_core::ProductId, state: $crate::KeyState) -> $crate::StoreResult<i64> {
                db::query_scalar("SELECT COUNT(*) FROM card_keys WHERE product_id = $1 AND state = $2")
                    .bind(product.0)
                    .bind(state.as_str())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)
            }

            // ---- orders ----

            async fn insert_order(&mut self, o: &$crate::NewOrder) -> $crate::StoreResult<kabao_core::ledger::OrderId> {
                let id: i64 = db::query_scalar(
                    "INSERT INTO orders (order_no, buyer_id, guest_email, guest_query_hash, shop_id, product_id, quantity, \
                     unit_price_fen, amount_fen, state, warranty_snapshot, warranty_sha256, warranty_ack, created_at, expires_at, \
                     custom_answers) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending_payment', $10, $11, $12, $13, $14, $15) RETURNING id",
                )
                .bind(&o.order_no)
                .bind(o.buyer_id.map(|u| u.0))
                .bind(&o.guest_email)
                .bind(&o.guest_query_hash)
                .bind(o.shop_id.0)
                .bind(o.product_id.0)
                .bind(o.quantity)
                .bind(o.unit_price.fen())
                .bind(o.amount.fen())
                .bind(&o.warranty_snapshot)
                .bind(&o.warranty_sha256)
                .bind(o.warranty_ack)
                .bind(o.created_at.millis())
                .bind(o.expires_at.millis())
                .bind(&o.custom_answers)
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::ledger::OrderId(id))
            }

            async fn order_by_id(&mut self, id: kabao_core::ledger::OrderId) -> $crate::StoreResult<Option<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE id = $1", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(id.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map(|r| $crate::rows::order_from_row(&r)).transpose()
            }

            async fn order_by_no(&mut self, order_no: &str) -> $crate::StoreResult<Option<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE order_no = $1", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(order_no).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map(|r| $crate::rows::order_from_row(&r)).transpose()
            }

            async fn update_order_state(
                &mut self,
                id: kabao_core::ledger::OrderId,
                from: kabao_core::order::OrderState,
                to: kabao_core::order::OrderState,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                self.move_order(id, from, to, at, None).await
            }

            async fn deliver_order(
                &mut self,
                id: kabao_core::ledger::OrderId,
                from: kabao_core::order::OrderState,
                at: kabao_core::Timestamp,
                settle_after: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                self.move_order(id, from, kabao_core::order::OrderState::Delivered, at, Some(settle_after)).await
            }

            async fn orders_due_for_settlement(&mut self, now: kabao_core::Timestamp, limit: i64) -> $crate::StoreResult<Vec<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE state = 'delivered' AND settle_after <= $1 \
                     AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.order_id = orders.id \
                     AND c.state IN ('open', 'awaiting_evidence', 'escalated')) ORDER BY settle_after, id LIMIT $2", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(now.millis()).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::order_from_row).collect()
            }

            async fn orders_past_expiry(&mut self, now: kabao_core::Timestamp, limit: i64) -> $crate::StoreResult<Vec<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE state = 'pending_payment' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(now.millis()).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::order_from_row).collect()
            }

            async fn list_buyer_orders(&mut self, buyer: kabao_core::UserId, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE buyer_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(buyer.0).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::order_from_row).collect()
            }

            async fn list_shop_orders(&mut self, shop: kabao_core::ShopId, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE shop_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(shop.0).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::order_from_row).collect()
            }

            async fn set_delivery_deadline(&mut self, id: kabao_core::ledger::OrderId, at: kabao_core::Timestamp) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE orders SET delivery_deadline = $1 WHERE id = $2")
                    .bind(at.millis())
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn orders_past_delivery_deadline(&mut self, now: kabao_core::Timestamp, limit: i64) -> $crate::StoreResult<Vec<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE state = 'paid' AND delivery_deadline <= $1 ORDER BY delivery_deadline, id LIMIT $2", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(now.millis()).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::order_from_row).collect()
            }

            async fn shop_orders_awaiting_delivery(&mut self, shop: kabao_core::ShopId, limit: i64) -> $crate::StoreResult<Vec<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM orders WHERE shop_id = $1 AND state = 'paid' ORDER BY delivery_deadline, id LIMIT $2", $crate::rows::ORDER_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::order_from_row).collect()
            }

            async fn set_manual_delivery(&mut self, id: kabao_core::ledger::OrderId, ciphertext: &[u8], key_version: i32) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE orders SET delivery_ciphertext = $1, delivery_key_version = $2 WHERE id = $3")
                    .bind(ciphertext)
                    .bind(key_version)
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn manual_delivery(&mut self, id: kabao_core::ledger::OrderId) -> $crate::StoreResult<Option<(Vec<u8>, i32)>> {
                let row: Option<(Option<Vec<u8>>, Option<i32>)> = db::query_as("SELECT delivery_ciphertext, delivery_key_version FROM orders WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(match row {
                    Some((Some(ct), Some(v))) => Some((ct, v)),
                    _ => None,
                })
            }

            // ---- allocation and delivery ----

            async fn allocate_keys(
                &mut self,
                product: kabao_core::ProductId,
                order: kabao_core::ledger::OrderId,
                n: i64,
            ) -> $crate::StoreResult<Vec<kabao_core::CardKeyId>> {
                if n <= 0 {
                    return Ok(Vec::new());
                }
                let ids = self.available_key_ids(product, n).await?;
                if (ids.len() as i64) < n {
                    return Ok(Vec::new());
                }
                for (seq, id) in ids.iter().enumerate() {
                    // The state filter and the rows-affected check make a double sale impossible even if the
                    // selection above were stale; the UNIQUE key on order_keys is the last line.
                    let done = db::query("UPDATE card_keys SET state = 'sold' WHERE id = $1 AND state = 'available'")
                        .bind(*id)
                        .execute(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                    if done.rows_affected() != 1 {
                        return Err($crate::StoreError::Database("allocation raced: key no longer available".into()));
                    }
                    db::query("INSERT INTO order_keys (order_id, seq, item, card_key_id) VALUES ($1, $2, $2, $3)")
                        .bind(order.0)
                        .bind(seq as i64 + 1)
                        .bind(*id)
                        .execute(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                }
                let done = db::query("UPDATE products SET stock_available = stock_available - $1 WHERE id = $2")
                    .bind(n)
                    .bind(product.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())?;
                Ok(ids.into_iter().map(kabao_core::CardKeyId).collect())
            }

            async fn order_keys(&mut self, order: kabao_core::ledger::OrderId) -> $crate::StoreResult<Vec<$crate::DeliveredKey>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {}, ok.first_revealed_at, ok.item, ok.voided_at FROM order_keys ok JOIN card_keys k ON k.id = ok.card_key_id \
                     WHERE ok.order_id = $1 ORDER BY ok.seq",
                    $crate::rows::KEY_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(order.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    use $crate::rows::ColumnAt as _;
                    let key_row: $crate::rows::KeyRow = (
                        r.at(0)?,
                        r.at(1)?,
                        r.at(2)?,
                        r.at(3)?,
                        r.at(4)?,
                        r.at(5)?,
                        r.at(6)?,
                        r.at(7)?,
                        r.at(8)?,
                    );
                    let first: Option<i64> = r.at(9)?;
                    let voided: Option<i64> = r.at(11)?;
                    out.push($crate::DeliveredKey {
                        key: $crate::rows::card_key(key_row)?,
                        first_revealed_at: first.map(kabao_core::Timestamp),
                        item: r.at(10)?,
                        voided_at: voided.map(kabao_core::Timestamp),
                    });
                }
                Ok(out)
            }

            async fn record_reveal(&mut self, reveal: &$crate::Reveal) -> $crate::StoreResult<()> {
                db::query("INSERT INTO key_reveals (order_id, user_id, at) VALUES ($1, $2, $3)")
                    .bind(reveal.order_id.0)
                    .bind(reveal.user_id.map(|u| u.0))
                    .bind(reveal.at.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                db::query("UPDATE order_keys SET first_revealed_at = $1 WHERE order_id = $2 AND first_revealed_at IS NULL")
                    .bind(reveal.at.millis())
                    .bind(reveal.order_id.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn list_reveals(&mut self, order: kabao_core::ledger::OrderId) -> $crate::StoreResult<Vec<$crate::Reveal>> {
                let rows: Vec<(i64, Option<i64>, i64)> = db::query_as("SELECT order_id, user_id, at FROM key_reveals WHERE order_id = $1 ORDER BY id")
                    .bind(order.0)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::Reveal { order_id: kabao_core::ledger::OrderId(r.0), user_id: r.1.map(kabao_core::UserId), at: kabao_core::Timestamp(r.2) })
                    .collect())
            }

            // ---- ledger ----

            async fn post_ledger(
                &mut self,
                ltx: &kabao_core::ledger::LedgerTx,
                order: Option<kabao_core::ledger::OrderId>,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<i64> {
                // Balances of the touched accounts, locked (PostgreSQL) in a stable order against deadlocks. The check
                // runs before anything of this transaction is written, so a refusal writes nothing (on PostgreSQL
                // at most zero-balance rows for accounts that never moved, which every verification accepts).
                let mut accounts: Vec<kabao_core::ledger::Account> = ltx.postings().iter().map(|p| p.account).collect();
                accounts.sort();
                accounts.dedup();
                let mut balances = std::collections::BTreeMap::new();
                for a in &accounts {
                    balances.insert(*a, kabao_core::Money::from_fen(self.balance_for_update(&a.key()).await?));
                }
                ltx.check(|a| balances.get(&a).copied().unwrap_or(kabao_core::Money::ZERO))?;
                let id: i64 = db::query_scalar("INSERT INTO ledger_txs (kind, order_id, created_at) VALUES ($1, $2, $3) RETURNING id")
                    .bind(ltx.kind().as_str())
                    .bind(order.map(|o| o.0))
                    .bind(at.millis())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                for p in ltx.postings() {
                    db::query("INSERT INTO ledger_entries (tx_id, account, amount_fen) VALUES ($1, $2, $3)")
                        .bind(id)
                        .bind(p.account.key())
                        .bind(p.amount.fen())
                        .execute(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                    // An upsert: on SQLite the balance row of an account's first posting does not exist yet.
                    db::query(
                        "INSERT INTO account_balances (account, balance_fen) VALUES ($1, $2) \
                         ON CONFLICT (account) DO UPDATE SET balance_fen = account_balances.balance_fen + excluded.balance_fen",
                    )
                    .bind(p.account.key())
                    .bind(p.amount.fen())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                }
                Ok(id)
            }

            async fn balance(&mut self, account: kabao_core::ledger::Account) -> $crate::StoreResult<kabao_core::Money> {
                let fen: Option<i64> = db::query_scalar("SELECT balance_fen FROM account_balances WHERE account = $1")
                    .bind(account.key())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::Money::from_fen(fen.unwrap_or(0)))
            }

            async fn all_balances(&mut self) -> $crate::StoreResult<Vec<(kabao_core::ledger::Account, kabao_core::Money)>> {
                let rows: Vec<(String, i64)> = db::query_as("SELECT account, balance_fen FROM account_balances ORDER BY account")
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.into_iter()
                    .map(|(a, f)| {
                        let account = kabao_core::ledger::Account::parse_key(&a).ok_or_else(|| $crate::errors::corrupt("account_balances.account"))?;
                        Ok((account, kabao_core::Money::from_fen(f)))
                    })
                    .collect()
            }

            async fn all_ledger_entries(&mut self) -> $crate::StoreResult<Vec<$crate::LedgerEntry>> {
                let rows: Vec<$crate::rows::LedgerRow> = db::query_as($crate::rows::LEDGER_SELECT_ALL).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::ledger_entry).collect()
            }

            async fn order_ledger_entries(&mut self, order: kabao_core::ledger::OrderId) -> $crate::StoreResult<Vec<$crate::LedgerEntry>> {
                let rows: Vec<$crate::rows::LedgerRow> = db::query_as($crate::rows::LEDGER_SELECT_ORDER).bind(order.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::ledger_entry).collect()
            }

            async fn account_entries(&mut self, account: kabao_core::ledger::Account, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::LedgerEntry>> {
                let rows: Vec<$crate::rows::LedgerRow> = db::query_as($crate::rows::LEDGER_SELECT_ACCOUNT)
                    .bind(account.key())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::ledger_entry).collect()
            }

            // ---- audit chain ----

            async fn append_event(&mut self, order: kabao_core::ledger::OrderId, e: &kabao_core::audit::ChainedEvent) -> $crate::StoreResult<()> {
                db::query("INSERT INTO order_events (order_id, seq, kind, at_ms, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(order.0)
                    .bind(e.seq)
                    .bind(&e.kind)
                    .bind(e.at_ms)
                    .bind(&e.body)
                    .bind(&e.prev_hash[..])
                    .bind(&e.hash[..])
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn last_event(&mut self, order: kabao_core::ledger::OrderId) -> $crate::StoreResult<Option<kabao_core::audit::ChainedEvent>> {
                let row: Option<$crate::rows::EventRow> = db::query_as(
                    "SELECT seq, kind, at_ms, body, prev_hash, hash FROM order_events WHERE order_id = $1 ORDER BY seq DESC LIMIT 1",
                )
                .bind(order.0)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::chained_event).transpose()
            }

            async fn order_events(&mut self, order: kabao_core::ledger::OrderId) -> $crate::StoreResult<Vec<kabao_core::audit::ChainedEvent>> {
                let rows: Vec<$crate::rows::EventRow> =
                    db::query_as("SELECT seq, kind, at_ms, body, prev_hash, hash FROM order_events WHERE order_id = $1 ORDER BY seq")
                        .bind(order.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::chained_event).collect()
            }

            async fn orders_with_events(&mut self) -> $crate::StoreResult<Vec<kabao_core::ledger::OrderId>> {
                let ids: Vec<i64> = db::query_scalar("SELECT DISTINCT order_id FROM order_events ORDER BY order_id")
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(ids.into_iter().map(kabao_core::ledger::OrderId).collect())
            }

            // ---- idempotency ----

            async fn idempotency_record(&mut self, scope: &str, key: &str) -> $crate::StoreResult<Option<$crate::IdempotencyRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM idempotency_records WHERE scope = $1 AND key = $2", $crate::rows::IDEMPOTENCY_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(scope).bind(key).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.as_ref().map($crate::rows::idempotency_from_row).transpose()
            }

            async fn idempotency_reserve(&mut self, new: &$crate::NewIdempotency<'_>) -> $crate::StoreResult<()> {
                db::query(
                    "INSERT INTO idempotency_records (scope, key, fingerprint, runner, lease_until, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(new.scope)
                .bind(new.key)
                .bind(new.fingerprint)
                .bind(new.runner)
                .bind(new.lease_until.millis())
                .bind(new.created_at.millis())
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn idempotency_take_over(
                &mut self,
                scope: &str,
                key: &str,
                runner: &[u8],
                now: kabao_core::Timestamp,
                lease_until: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE idempotency_records SET runner = $1, lease_until = $2 \
                     WHERE scope = $3 AND key = $4 AND status IS NULL AND lease_until < $5",
                )
                .bind(runner)
                .bind(lease_until.millis())
                .bind(scope)
                .bind(key)
                .bind(now.millis())
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn idempotency_complete(
                &mut self,
                scope: &str,
                key: &str,
                runner: &[u8],
                response: &$crate::StoredResponse,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE idempotency_records SET status = $1, body = $2, key_version = $3, completed_at = $4 \
                     WHERE scope = $5 AND key = $6 AND runner = $7 AND status IS NULL",
                )
                .bind(i32::from(response.status))
                .bind(&response.body)
                .bind(response.key_version)
                .bind(at.millis())
                .bind(scope)
                .bind(key)
                .bind(runner)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn idempotency_release(&mut self, scope: &str, key: &str, runner: &[u8]) -> $crate::StoreResult<bool> {
                let done = db::query("DELETE FROM idempotency_records WHERE scope = $1 AND key = $2 AND runner = $3 AND status IS NULL")
                    .bind(scope)
                    .bind(key)
                    .bind(runner)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn idempotency_purge(&mut self, before: kabao_core::Timestamp, limit: i64) -> $crate::StoreResult<u64> {
                let done = db::query(
                    "DELETE FROM idempotency_records WHERE (scope, key) IN \
                     (SELECT scope, key FROM idempotency_records WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
                )
                .bind(before.millis())
                .bind(limit)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected())
            }

            // ---- payments and gateway notifications ----

            async fn insert_payment(&mut self, p: &$crate::NewPayment) -> $crate::StoreResult<i64> {
                let (kind, order, user) = match p.purpose {
                    $crate::PaymentPurpose::Order(o) => ("order", Some(o.0), None),
                    $crate::PaymentPurpose::TopUp(u) => ("top_up", None, Some(u.0)),
                };
                db::query_scalar(
                    "INSERT INTO payments (gateway, trade_no, purpose_kind, order_id, user_id, amount_fen, state, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING id",
                )
                .bind(&p.gateway)
                .bind(&p.trade_no)
                .bind(kind)
                .bind(order)
                .bind(user)
                .bind(p.amount.fen())
                .bind(p.created_at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)
            }

            async fn payment_by_trade_no(&mut self, trade_no: &str) -> $crate::StoreResult<Option<$crate::Payment>> {
                let row: Option<$crate::rows::PaymentRow> = db::query_as(
                    "SELECT id, gateway, trade_no, purpose_kind, order_id, user_id, amount_fen, state, gateway_trade_no, created_at, paid_at \
                     FROM payments WHERE trade_no = $1",
                )
                .bind(trade_no)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::payment).transpose()
            }

            async fn mark_payment_paid(&mut self, id: i64, gateway_trade_no: &str, at: kabao_core::Timestamp) -> $crate::StoreResult<bool> {
                let done = db::query("UPDATE payments SET state = 'paid', gateway_trade_no = $1, paid_at = $2 WHERE id = $3 AND state = 'pending'")
                    .bind(gateway_trade_no)
                    .bind(at.millis())
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn pending_order_payments(
                &mut self,
                gateway: &str,
                started_by: kabao_core::Timestamp,
                now: kabao_core::Timestamp,
                after_id: i64,
                limit: i64,
            ) -> $crate::StoreResult<Vec<$crate::Payment>> {
                let rows: Vec<$crate::rows::PaymentRow> = db::query_as(
                    "SELECT p.id, p.gateway, p.trade_no, p.purpose_kind, p.order_id, p.user_id, p.amount_fen, p.state, p.gateway_trade_no, p.created_at, p.paid_at \
                     FROM payments p JOIN orders o ON o.id = p.order_id \
                     WHERE p.state = 'pending' AND p.gateway = $1 AND p.purpose_kind = 'order' AND p.created_at <= $2 \
                       AND o.state = 'pending_payment' AND o.expires_at > $3 AND p.id > $4 \
                     ORDER BY p.id LIMIT $5",
                )
                .bind(gateway)
                .bind(started_by.millis())
                .bind(now.millis())
                .bind(after_id)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::payment).collect()
            }

            async fn insert_notification(&mut self, gateway: &str, notification_id: &str, at: kabao_core::Timestamp) -> $crate::StoreResult<()> {
                db::query("INSERT INTO gateway_notifications (gateway, notification_id, at) VALUES ($1, $2, $3)")
                    .bind(gateway)
                    .bind(notification_id)
                    .bind(at.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            // ---- payees and withdrawals ----

            async fn insert_payee(&mut self, shop: kabao_core::ShopId, payee: &$crate::PayeeSnapshot, at: kabao_core::Timestamp) -> $crate::StoreResult<i64> {
                db::query_scalar(
                    "INSERT INTO payees (shop_id, kind, account, holder_name, bank_name, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(shop.0)
                .bind(payee.kind.as_str())
                .bind(&payee.account)
                .bind(&payee.holder_name)
                .bind(payee.bank_name.as_deref())
                .bind(at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)
            }

            async fn payee_by_id(&mut self, id: i64) -> $crate::StoreResult<Option<$crate::PayeeRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM payees WHERE id = $1", $crate::rows::PAYEE_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::PayeeRow> =
                    db::query_as(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::payee).transpose()
            }

            async fn list_shop_payees(&mut self, shop: kabao_core::ShopId, limit: i64) -> $crate::StoreResult<Vec<$crate::PayeeRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM payees WHERE shop_id = $1 AND disabled_at IS NULL ORDER BY id DESC LIMIT $2",
                    $crate::rows::PAYEE_COLS
                ));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::PayeeRow> = db::query_as(&sql)
                    .bind(shop.0)
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::payee).collect()
            }

            async fn disable_payee(&mut self, shop: kabao_core::ShopId, id: i64, at: kabao_core::Timestamp) -> $crate::StoreResult<bool> {
                let done = db::query("UPDATE payees SET disabled_at = $1 WHERE id = $2 AND shop_id = $3 AND disabled_at IS NULL")
                    .bind(at.millis())
                    .bind(id)
                    .bind(shop.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_withdrawal(&mut self, w: &$crate::NewWithdrawal) -> $crate::StoreResult<i64> {
                db::query_scalar(
                    "INSERT INTO withdrawals (shop_id, amount_fen, state, requested_at, fee_fen, payee_id, payee_kind, \
                     payee_account, payee_name, payee_bank, hold_tx_id) \
                     VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                )
                .bind(w.shop_id.0)
                .bind(w.amount.fen())
                .bind(w.requested_at.millis())
                .bind(w.fee.fen())
                .bind(w.payee_id)
                .bind(w.payee.kind.as_str())
                .bind(&w.payee.account)
                .bind(&w.payee.holder_name)
                .bind(w.payee.bank_name.as_deref())
                .bind(w.hold_tx_id)
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)
            }

            async fn withdrawal_by_id(&mut self, id: i64) -> $crate::StoreResult<Option<$crate::Withdrawal>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM withdrawals WHERE id = $1", $crate::rows::WITHDRAWAL_COLS));
                let sql: &str = &SQL;
                let row: Option<$crate::rows::WithdrawalRow> =
                    db::query_as(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.map($crate::rows::withdrawal).transpose()
            }

            async fn list_shop_withdrawals(&mut self, shop: kabao_core::ShopId, limit: i64) -> $crate::StoreResult<Vec<$crate::Withdrawal>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM withdrawals WHERE shop_id = $1 ORDER BY id DESC LIMIT $2",
                    $crate::rows::WITHDRAWAL_COLS
                ));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::WithdrawalRow> = db::query_as(&sql)
                    .bind(shop.0)
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::withdrawal).collect()
            }

            async fn list_pending_withdrawals(&mut self, limit: i64) -> $crate::StoreResult<Vec<$crate::Withdrawal>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM withdrawals WHERE state = 'pending' ORDER BY id LIMIT $1",
                    $crate::rows::WITHDRAWAL_COLS
                ));
                let sql: &str = &SQL;
                let rows: Vec<$crate::rows::WithdrawalRow> =
                    db::query_as(&sql).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::withdrawal).collect()
            }

            async fn unheld_pending_withdrawals(&mut self, shop: kabao_core::ShopId) -> $crate::StoreResult<kabao_core::Money> {
                let fen: Option<i64> = db::query_scalar(
                    "SELECT CAST(SUM(amount_fen) AS BIGINT) FROM withdrawals WHERE shop_id = $1 AND state = 'pending' AND hold_tx_id IS NULL",
                )
                .bind(shop.0)
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::Money::from_fen(fen.unwrap_or(0)))
            }

            async fn decide_withdrawal(
                &mut self,
                id: i64,
                to: $crate::WithdrawalState,
                by: kabao_core::UserId,
                note: Option<&str>,
                payout_ref: Option<&str>,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE withdrawals SET state = $1, decided_by = $2, note = $3, decided_at = $4, payout_ref = $5 \
                     WHERE id = $6 AND state = 'pending'",
                )
                .bind(to.as_str())
                .bind(by.0)
                .bind(note)
                .bind(at.millis())
                .bind(payout_ref)
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            // ---- shared secrets ----

            async fn set_shared_secret(&mut self, product: kabao_core::ProductId, ciphertext: &[u8], key_version: i32, stock: i64) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE products SET shared_secret = $1, shared_key_version = $2, stock_available = $3 WHERE id = $4")
                    .bind(ciphertext)
                    .bind(key_version)
                    .bind(stock)
                    .bind(product.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn shared_secret(&mut self, product: kabao_core::ProductId) -> $crate::StoreResult<Option<(Vec<u8>, i32)>> {
                let row: Option<(Option<Vec<u8>>, Option<i32>)> = db::query_as("SELECT shared_secret, shared_key_version FROM products WHERE id = $1")
                    .bind(product.0)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(match row {
                    Some((Some(ct), Some(v))) => Some((ct, v)),
                    _ => None,
                })
            }

            async fn take_counted_stock(&mut self, product: kabao_core::ProductId, n: i64) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE products SET stock_available = stock_available - $1 WHERE id = $2 AND stock_available >= $1 \
                     AND (shared_secret IS NOT NULL OR custom_fields IS NOT NULL)",
                )
                .bind(n)
                .bind(product.0)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn return_counted_stock(&mut self, product: kabao_core::ProductId, n: i64) -> $crate::StoreResult<()> {
                let done = db::query(
                    "UPDATE products SET stock_available = stock_available + $1 WHERE id = $2 \
                     AND (shared_secret IS NOT NULL OR custom_fields IS NOT NULL)",
                )
                .bind(n)
                .bind(product.0)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            // ---- claims ----

            async fn insert_claim(&mut self, c: &$crate::ClaimRecord) -> $crate::StoreResult<i64> {
                db::query_scalar(
                    "INSERT INTO claims (claim_no, order_id, item, shop_id, defect, description, activated, eligible, \
                     reasons, state, due_at, paused_remaining_ms, evidence_requested, request_note, decision_reason, \
                     decided_by, decided_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
                     RETURNING id",
                )
                .bind(&c.claim_no)
                .bind(c.order_id.0)
                .bind(c.item)
                .bind(c.shop_id.0)
                .bind(c.defect.as_str())
                .bind(&c.description)
                .bind(c.activated)
                .bind(c.eligible)
                .bind(&c.reasons)
                .bind(c.state.as_str())
                .bind(c.due_at.map(|t| t.millis()))
                .bind(c.paused_remaining_ms)
                .bind(c.evidence_requested)
                .bind(c.request_note.as_deref())
                .bind(c.decision_reason.as_deref())
                .bind(c.decided_by.map(|u| u.0))
                .bind(c.decided_at.map(|t| t.millis()))
                .bind(c.created_at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)
            }

            async fn claim_by_no(&mut self, claim_no: &str) -> $crate::StoreResult<Option<$crate::ClaimRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM claims WHERE claim_no = $1", $crate::rows::CLAIM_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(claim_no).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.as_ref().map($crate::rows::claim_from_row).transpose()
            }

            async fn order_claims(&mut self, order: kabao_core::ledger::OrderId) -> $crate::StoreResult<Vec<$crate::ClaimRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM claims WHERE order_id = $1 ORDER BY id", $crate::rows::CLAIM_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(order.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::claim_from_row).collect()
            }

            async fn shop_pending_claims(&mut self, shop: kabao_core::ShopId, limit: i64) -> $crate::StoreResult<Vec<$crate::ClaimRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM claims WHERE shop_id = $1 AND state IN ('open', 'awaiting_evidence') \
                     ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, id LIMIT $2",
                    $crate::rows::CLAIM_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::claim_from_row).collect()
            }

            async fn shop_claims(&mut self, shop: kabao_core::ShopId, limit: i64) -> $crate::StoreResult<Vec<$crate::ClaimRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM claims WHERE shop_id = $1 ORDER BY id DESC LIMIT $2", $crate::rows::CLAIM_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::claim_from_row).collect()
            }

            async fn claims_past_deadline(&mut self, now: kabao_core::Timestamp, limit: i64) -> $crate::StoreResult<Vec<$crate::ClaimRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM claims WHERE state = 'open' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
                    $crate::rows::CLAIM_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(now.millis()).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::claim_from_row).collect()
            }

            async fn update_claim(&mut self, c: &$crate::ClaimRecord, from: kabao_core::claim::ClaimState) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE claims SET state = $1, due_at = $2, paused_remaining_ms = $3, evidence_requested = $4, \
                     request_note = $5, decision_reason = $6, decided_by = $7, decided_at = $8, eligible = $9, \
                     reasons = $10 WHERE id = $11 AND state = $12",
                )
                .bind(c.state.as_str())
                .bind(c.due_at.map(|t| t.millis()))
                .bind(c.paused_remaining_ms)
                .bind(c.evidence_requested)
                .bind(c.request_note.as_deref())
                .bind(c.decision_reason.as_deref())
                .bind(c.decided_by.map(|u| u.0))
                .bind(c.decided_at.map(|t| t.millis()))
                .bind(c.eligible)
                .bind(&c.reasons)
                .bind(c.id)
                .bind(from.as_str())
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_evidence_file(&mut self, sha256: &[u8], mime: &str, content: &[u8], at: kabao_core::Timestamp) -> $crate::StoreResult<()> {
                db::query(
                    "INSERT INTO evidence_files (sha256, mime, size_bytes, content, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(sha256)
                .bind(mime)
                .bind(content.len() as i64)
                .bind(content)
                .bind(at.millis())
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn evidence_file(&mut self, sha256: &[u8]) -> $crate::StoreResult<Option<(String, Vec<u8>)>> {
                db::query_as("SELECT mime, content FROM evidence_files WHERE sha256 = $1")
                    .bind(sha256)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)
            }

            async fn insert_claim_evidence(&mut self, e: &$crate::EvidenceRecord) -> $crate::StoreResult<i64> {
                db::query_scalar(
                    "INSERT INTO claim_evidence (claim_id, sha256, kind, file_name, added_by, binding, binding_sha256, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(e.claim_id)
                .bind(&e.sha256)
                .bind(e.kind.as_str())
                .bind(&e.file_name)
                .bind(e.added_by.as_str())
                .bind(&e.binding)
                .bind(&e.binding_sha256)
                .bind(e.created_at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)
            }

            async fn claim_evidence(&mut self, claim: i64) -> $crate::StoreResult<Vec<$crate::EvidenceRecord>> {
                let rows = db::query($crate::rows::EVIDENCE_SELECT).bind(claim).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::evidence_from_row).collect()
            }

            async fn reissue_key(
                &mut self,
                order: kabao_core::ledger::OrderId,
                item: i32,
                product: kabao_core::ProductId,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<Option<kabao_core::CardKeyId>> {
                let current: Option<(i32, i64)> = db::query_as(
                    "SELECT seq, card_key_id FROM order_keys WHERE order_id = $1 AND item = $2 AND voided_at IS NULL",
                )
                .bind(order.0)
                .bind(item)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let Some((seq, old_key)) = current else { return Err($crate::StoreError::NotFound) };
                let ids = self.available_key_ids(product, 1).await?;
                let Some(new_key) = ids.first().copied() else { return Ok(None) };
                let done = db::query("UPDATE card_keys SET state = 'sold' WHERE id = $1 AND state = 'available'")
                    .bind(new_key)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                if done.rows_affected() != 1 {
                    return Err($crate::StoreError::Database("allocation raced: key no longer available".into()));
                }
                db::query("UPDATE card_keys SET state = 'voided' WHERE id = $1")
                    .bind(old_key)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                db::query("UPDATE order_keys SET voided_at = $1 WHERE order_id = $2 AND seq = $3")
                    .bind(at.millis())
                    .bind(order.0)
                    .bind(seq)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                let next: i32 = db::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM order_keys WHERE order_id = $1")
                    .bind(order.0)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                db::query("INSERT INTO order_keys (order_id, seq, item, card_key_id) VALUES ($1, $2, $3, $4)")
                    .bind(order.0)
                    .bind(next)
                    .bind(item)
                    .bind(new_key)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                let done = db::query("UPDATE products SET stock_available = stock_available - 1 WHERE id = $1")
                    .bind(product.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())?;
                Ok(Some(kabao_core::CardKeyId(new_key)))
            }

            async fn claims_to_remind(&mut self, decided_by: kabao_core::Timestamp, limit: i64) -> $crate::StoreResult<Vec<$crate::ClaimRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM claims WHERE state IN ('rejected', 'remedy_failed') AND decided_at <= $1 \
                     AND escalation_reminded_at IS NULL ORDER BY decided_at, id LIMIT $2",
                    $crate::rows::CLAIM_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(decided_by.millis()).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::claim_from_row).collect()
            }

            async fn mark_escalation_reminded(&mut self, claim: i64, at: kabao_core::Timestamp) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE claims SET escalation_reminded_at = $1 WHERE id = $2")
                    .bind(at.millis())
                    .bind(claim)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn insert_dispute(&mut self, claim: &$crate::ClaimRecord, at: kabao_core::Timestamp) -> $crate::StoreResult<i64> {
                db::query_scalar(
                    "INSERT INTO disputes (claim_id, order_id, shop_id, state, opened_at) VALUES ($1, $2, $3, 'open', $4) RETURNING id",
                )
                .bind(claim.id)
                .bind(claim.order_id.0)
                .bind(claim.shop_id.0)
                .bind(at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)
            }

            async fn dispute_of_claim(&mut self, claim: i64) -> $crate::StoreResult<Option<$crate::DisputeRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM disputes WHERE claim_id = $1", $crate::rows::DISPUTE_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(claim).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.as_ref().map($crate::rows::dispute_from_row).transpose()
            }

            async fn open_disputes(&mut self, limit: i64) -> $crate::StoreResult<Vec<$crate::DisputeRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM disputes WHERE state = 'open' ORDER BY id LIMIT $1", $crate::rows::DISPUTE_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::dispute_from_row).collect()
            }

            async fn decided_disputes(&mut self, limit: i64) -> $crate::StoreResult<Vec<$crate::DisputeRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM disputes WHERE state = 'decided' ORDER BY decided_at DESC, id DESC LIMIT $1", $crate::rows::DISPUTE_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::dispute_from_row).collect()
            }

            async fn decide_dispute(
                &mut self,
                id: i64,
                ruling: &str,
                refund: Option<kabao_core::Money>,
                reason: &str,
                by: kabao_core::UserId,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE disputes SET state = 'decided', ruling = $1, refund_fen = $2, reason = $3, decided_by = $4, \
                     decided_at = $5 WHERE id = $6 AND state = 'open'",
                )
                .bind(ruling)
                .bind(refund.map(|m| m.fen()))
                .bind(reason)
                .bind(by.0)
                .bind(at.millis())
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_statement(&mut self, dispute: i64, st: &$crate::Statement) -> $crate::StoreResult<()> {
                db::query("INSERT INTO dispute_statements (dispute_id, party, body, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(dispute)
                    .bind(st.party.as_str())
                    .bind(&st.body)
                    .bind(st.created_at.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn dispute_statements(&mut self, dispute: i64) -> $crate::StoreResult<Vec<$crate::Statement>> {
                let rows: Vec<(String, String, i64)> =
                    db::query_as("SELECT party, body, created_at FROM dispute_statements WHERE dispute_id = $1 ORDER BY id")
                        .bind(dispute)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                rows.into_iter()
                    .map(|(party, body, at)| {
                        Ok($crate::Statement {
                            party: $crate::EvidenceParty::parse(&party).ok_or_else(|| $crate::errors::corrupt("dispute_statements.party"))?,
                            body,
                            created_at: kabao_core::Timestamp(at),
                        })
                    })
                    .collect()
            }

            async fn insert_fund_member(&mut self, shop: kabao_core::ShopId, at: kabao_core::Timestamp) -> $crate::StoreResult<()> {
                db::query("INSERT INTO fund_members (shop_id, joined_at) VALUES ($1, $2)")
                    .bind(shop.0)
                    .bind(at.millis())
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            async fn fund_member_since(&mut self, shop: kabao_core::ShopId) -> $crate::StoreResult<Option<kabao_core::Timestamp>> {
                let at: Option<i64> = db::query_scalar("SELECT joined_at FROM fund_members WHERE shop_id = $1")
                    .bind(shop.0)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(at.map(kabao_core::Timestamp))
            }

            async fn count_fund_members(&mut self) -> $crate::StoreResult<i64> {
                db::query_scalar("SELECT COUNT(*) FROM fund_members").fetch_one(&mut *self.tx).await.map_err($crate::errors::map_sqlx)
            }

            async fn fund_receivables(&mut self) -> $crate::StoreResult<Vec<(kabao_core::ShopId, kabao_core::Money)>> {
                let rows: Vec<(String, i64)> =
                    db::query_as("SELECT account, balance_fen FROM account_balances WHERE account >= $1 AND account < $2")
                        .bind($crate::rows::FUND_RECEIVABLE_FROM)
                        .bind($crate::rows::FUND_RECEIVABLE_UNTIL)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                rows.into_iter()
                    .map(|(a, f)| match kabao_core::ledger::Account::parse_key(&a) {
                        Some(kabao_core::ledger::Account::FundReceivable(shop)) => Ok((shop, kabao_core::Money::from_fen(f))),
                        _ => Err($crate::errors::corrupt("account_balances.account")),
                    })
                    .collect()
            }

            async fn fund_advances(&mut self, limit: i64) -> $crate::StoreResult<Vec<$crate::LedgerEntry>> {
                let rows: Vec<$crate::rows::LedgerRow> = db::query_as($crate::rows::LEDGER_SELECT_FUND_ADVANCES)
                    .bind($crate::rows::FUND_RECEIVABLE_FROM)
                    .bind($crate::rows::FUND_RECEIVABLE_UNTIL)
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.into_iter().map($crate::rows::ledger_entry).collect()
            }

            // ---- warranty policies ----

            async fn insert_policy_version(&mut self, product: kabao_core::ProductId, policy: &str, sha256: &[u8], at: kabao_core::Timestamp) -> $crate::StoreResult<$crate::PolicyVersion> {
                let next: i32 = db::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM warranty_policies WHERE product_id = $1")
                    .bind(product.0)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                let id: i64 = db::query_scalar(
                    "INSERT INTO warranty_policies (product_id, version, policy, sha256, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(product.0)
                .bind(next)
                .bind(policy)
                .bind(sha256)
                .bind(at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let done = db::query("UPDATE products SET warranty_policy_id = $1 WHERE id = $2")
                    .bind(id)
                    .bind(product.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())?;
                Ok($crate::PolicyVersion { id, product_id: product, version: next, policy: policy.to_string(), sha256: sha256.to_vec(), created_at: at })
            }

            async fn clear_policy(&mut self, product: kabao_core::ProductId) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE products SET warranty_policy_id = NULL WHERE id = $1")
                    .bind(product.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn current_policy(&mut self, product: kabao_core::ProductId) -> $crate::StoreResult<Option<$crate::PolicyVersion>> {
                let row: Option<(i64, i64, i32, String, Vec<u8>, i64)> = db::query_as(
                    "SELECT w.id, w.product_id, w.version, w.policy, w.sha256, w.created_at FROM products p \
                     JOIN warranty_policies w ON w.id = p.warranty_policy_id WHERE p.id = $1",
                )
                .bind(product.0)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(row.map($crate::rows::policy_version))
            }

            async fn policy_versions(&mut self, product: kabao_core::ProductId) -> $crate::StoreResult<Vec<$crate::PolicyVersion>> {
                let rows: Vec<(i64, i64, i32, String, Vec<u8>, i64)> = db::query_as(
                    "SELECT id, product_id, version, policy, sha256, created_at FROM warranty_policies WHERE product_id = $1 ORDER BY version",
                )
                .bind(product.0)
                .fetch_all(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map($crate::rows::policy_version).collect())
            }

            // ---- custom goods ----

            async fn set_custom_spec(&mut self, product: kabao_core::ProductId, fields_json: &str, delivery_hours: i64, stock: i64) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE products SET custom_fields = $1, delivery_hours = $2, stock_available = $3 WHERE id = $4")
                    .bind(fields_json)
                    .bind(delivery_hours)
                    .bind(stock)
                    .bind(product.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn custom_spec(&mut self, product: kabao_core::ProductId) -> $crate::StoreResult<Option<(String, i64)>> {
                let row: Option<(Option<String>, Option<i64>)> = db::query_as("SELECT custom_fields, delivery_hours FROM products WHERE id = $1")
                    .bind(product.0)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(match row {
                    Some((Some(f), Some(h))) => Some((f, h)),
                    _ => None,
                })
            }

            // ---- job leases ----

            async fn acquire_job_lease(&mut self, job: &str, owner: &str, now: kabao_core::Timestamp, until: kabao_core::Timestamp) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE job_leases SET owner = $1, lease_until = $2 WHERE name = $3 AND (owner IS NULL OR owner = $1 OR lease_until < $4)",
                )
                .bind(owner)
                .bind(until.millis())
                .bind(job)
                .bind(now.millis())
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_job_lease(&mut self, job: &str, owner: &str, now: kabao_core::Timestamp) -> $crate::StoreResult<()> {
                db::query("UPDATE job_leases SET owner = NULL, lease_until = 0, last_run_at = $1 WHERE name = $2 AND owner = $3")
                    .bind(now.millis())
                    .bind(job)
                    .bind(owner)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(())
            }

            // ---- trust and risk ----

            async fn insert_review(&mut self, review: &$crate::ReviewRecord) -> $crate::StoreResult<i64> {
                db::query_scalar(
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
                .map_err($crate::errors::map_sqlx)
            }

            async fn review_of_order(&mut self, order: kabao_core::ledger::OrderId) -> $crate::StoreResult<Option<$crate::ReviewRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM reviews WHERE order_id = $1", $crate::rows::REVIEW_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(order.0).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.as_ref().map($crate::rows::review_from_row).transpose()
            }

            async fn review_by_id(&mut self, id: i64) -> $crate::StoreResult<Option<$crate::ReviewRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM reviews WHERE id = $1", $crate::rows::REVIEW_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.as_ref().map($crate::rows::review_from_row).transpose()
            }

            async fn shop_reviews(&mut self, shop: kabao_core::ShopId, limit: i64) -> $crate::StoreResult<Vec<$crate::ReviewRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM reviews WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                    $crate::rows::REVIEW_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::review_from_row).collect()
            }

            async fn product_reviews(&mut self, product: kabao_core::ProductId, limit: i64) -> $crate::StoreResult<Vec<$crate::ReviewRecord>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM reviews WHERE product_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                    $crate::rows::REVIEW_COLS
                ));
                let sql: &str = &SQL;
                let rows =
                    db::query(&sql).bind(product.0).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::review_from_row).collect()
            }

            async fn set_review_reply(&mut self, review: i64, reply: &str, at: kabao_core::Timestamp) -> $crate::StoreResult<bool> {
                let done = db::query("UPDATE reviews SET reply = $1, replied_at = $2 WHERE id = $3 AND reply IS NULL")
                    .bind(reply)
                    .bind(at.millis())
                    .bind(review)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn shop_trust_facts(
                &mut self,
                shop: kabao_core::ShopId,
                since: kabao_core::Timestamp,
                recent: kabao_core::Timestamp,
            ) -> $crate::StoreResult<$crate::ShopTrustFacts> {
                let ratings: Vec<$crate::rows::RatingSumsRow> = db::query_as(
                    "SELECT category, SUM(described), SUM(service), SUM(delivery), COUNT(*) FROM reviews \
                     WHERE shop_id = $1 AND created_at >= $2 GROUP BY category ORDER BY category",
                )
                .bind(shop.0)
                .bind(since.millis())
                .fetch_all(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let category_ratings: Vec<$crate::rows::RatingSumsRow> = db::query_as(
                    "SELECT category, SUM(described), SUM(service), SUM(delivery), COUNT(*) FROM reviews \
                     WHERE created_at >= $1 GROUP BY category ORDER BY category",
                )
                .bind(since.millis())
                .fetch_all(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let mut claim_response_ms: Vec<i64> = db::query_scalar(
                    "SELECT decided_at - created_at FROM claims WHERE shop_id = $1 AND decided_at >= $2 \
                     AND state IN ('reissued', 'refunded', 'rejected', 'escalated')",
                )
                .bind(shop.0)
                .bind(since.millis())
                .fetch_all(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                claim_response_ms.sort_unstable();
                let claims_remedied: i64 = db::query_scalar(
                    "SELECT COUNT(*) FROM claims WHERE shop_id = $1 AND decided_at >= $2 AND state IN ('reissued', 'refunded')",
                )
                .bind(shop.0)
                .bind(since.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let (disputes_lost, disputes_lost_recent): (i64, i64) = db::query_as(
                    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN decided_at >= $3 THEN 1 ELSE 0 END), 0) FROM disputes \
                     WHERE shop_id = $1 AND decided_at >= $2 AND ruling IN ('force_reissue', 'refund')",
                )
                .bind(shop.0)
                .bind(since.millis())
                .bind(recent.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let (reissue_positive, reissue_negative): (i64, i64) = db::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN reissue > 0 THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN reissue < 0 THEN 1 ELSE 0 END), 0) FROM reviews WHERE shop_id = $1 AND created_at >= $2",
                )
                .bind(shop.0)
                .bind(since.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let (risk_open, risk_window): (i64, i64) = db::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN state <> 'dismissed' AND created_at >= $2 THEN 1 ELSE 0 END), 0) \
                     FROM risk_events WHERE shop_id = $1",
                )
                .bind(shop.0)
                .bind(since.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let delivered_orders: i64 =
                    db::query_scalar("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND delivered_at >= $2")
                        .bind(shop.0)
                        .bind(since.millis())
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                Ok($crate::ShopTrustFacts {
                    ratings: ratings.into_iter().map($crate::rows::rating_sums).collect(),
                    category_ratings: category_ratings.into_iter().map($crate::rows::rating_sums).collect(),
                    claims_decided: claim_response_ms.len() as i64,
                    claims_remedied,
                    claim_response_ms,
                    disputes_lost,
                    disputes_lost_recent,
                    reissue_positive,
                    reissue_negative,
                    risk_open,
                    risk_window,
                    delivered_orders,
                })
            }

            async fn insert_certification_application(&mut self, app: &$crate::CertificationApplication) -> $crate::StoreResult<i64> {
                db::query_scalar(
                    "INSERT INTO certification_applications (shop_id, level, details, id_masked, id_fingerprint, state, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id",
                )
                .bind(app.shop_id.0)
                .bind(app.level.as_str())
                .bind(&app.details_json)
                .bind(&app.id_masked)
                .bind(&app.id_fingerprint)
                .bind(app.created_at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)
            }

            async fn certification_application(&mut self, id: i64) -> $crate::StoreResult<Option<$crate::CertificationApplication>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM certification_applications WHERE id = $1", $crate::rows::CERT_APP_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.as_ref().map($crate::rows::cert_app_from_row).transpose()
            }

            async fn shop_certification_applications(&mut self, shop: kabao_core::ShopId) -> $crate::StoreResult<Vec<$crate::CertificationApplication>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM certification_applications WHERE shop_id = $1 ORDER BY id DESC LIMIT 20",
                    $crate::rows::CERT_APP_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(shop.0).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::cert_app_from_row).collect()
            }

            async fn pending_certification_applications(&mut self, limit: i64) -> $crate::StoreResult<Vec<$crate::CertificationApplication>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM certification_applications WHERE state = 'pending' ORDER BY id LIMIT $1",
                    $crate::rows::CERT_APP_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::cert_app_from_row).collect()
            }

            async fn shops_with_id_fingerprint(&mut self, fingerprint: &[u8], except: kabao_core::ShopId) -> $crate::StoreResult<Vec<kabao_core::ShopId>> {
                let ids: Vec<i64> = db::query_scalar(
                    "SELECT DISTINCT shop_id FROM certification_applications WHERE id_fingerprint = $1 AND shop_id <> $2 ORDER BY shop_id",
                )
                .bind(fingerprint)
                .bind(except.0)
                .fetch_all(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(ids.into_iter().map(kabao_core::ShopId).collect())
            }

            async fn decide_certification_application(
                &mut self,
                id: i64,
                state: &str,
                reason: &str,
                by: kabao_core::UserId,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<bool> {
                let done = db::query(
                    "UPDATE certification_applications SET state = $1, reason = $2, decided_by = $3, decided_at = $4 \
                     WHERE id = $5 AND state = 'pending'",
                )
                .bind(state)
                .bind(reason)
                .bind(by.0)
                .bind(at.millis())
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_chat_message(&mut self, message: &$crate::ChatMessage) -> $crate::StoreResult<i64> {
                db::query_scalar(
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
                .map_err($crate::errors::map_sqlx)
            }

            async fn order_chat(&mut self, order: kabao_core::ledger::OrderId, limit: i64) -> $crate::StoreResult<Vec<$crate::ChatMessage>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM order_messages WHERE order_id = $1 ORDER BY id LIMIT $2", $crate::rows::CHAT_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(order.0).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::chat_from_row).collect()
            }

            async fn chat_message(&mut self, id: i64) -> $crate::StoreResult<Option<$crate::ChatMessage>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM order_messages WHERE id = $1", $crate::rows::CHAT_COLS));
                let sql: &str = &SQL;
                let row = db::query(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                row.as_ref().map($crate::rows::chat_from_row).transpose()
            }

            async fn count_chat_messages_since(
                &mut self,
                order: kabao_core::ledger::OrderId,
                sender: $crate::ChatParty,
                since: kabao_core::Timestamp,
            ) -> $crate::StoreResult<i64> {
                db::query_scalar("SELECT COUNT(*) FROM order_messages WHERE order_id = $1 AND sender = $2 AND created_at >= $3")
                    .bind(order.0)
                    .bind(sender.as_str())
                    .bind(since.millis())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)
            }

            async fn insert_risk_event(&mut self, event: &$crate::RiskEvent) -> $crate::StoreResult<i64> {
                db::query_scalar(
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
                .map_err($crate::errors::map_sqlx)
            }

            async fn insert_security_event(&mut self, event: &$crate::SecurityEvent) -> $crate::StoreResult<i64> {
                db::query_scalar("INSERT INTO security_events (kind, order_id, detail, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(&event.kind)
                    .bind(event.order_id.map(|o| o.0))
                    .bind(&event.detail_json)
                    .bind(event.created_at.millis())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)
            }

            async fn security_events(&mut self, limit: i64, offset: i64) -> $crate::StoreResult<Vec<$crate::SecurityEvent>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM security_events ORDER BY id DESC LIMIT $1 OFFSET $2", $crate::rows::SECURITY_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::security_from_row).collect()
            }

            async fn shop_risk_events(&mut self, shop: kabao_core::ShopId, limit: i64) -> $crate::StoreResult<Vec<$crate::RiskEvent>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("SELECT {} FROM risk_events WHERE shop_id = $1 ORDER BY id DESC LIMIT $2", $crate::rows::RISK_COLS));
                let sql: &str = &SQL;
                let rows = db::query(&sql).bind(shop.0).bind(limit).fetch_all(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::risk_from_row).collect()
            }

            async fn risk_review_queue(&mut self, min_open: i64, limit: i64) -> $crate::StoreResult<Vec<(kabao_core::ShopId, i64)>> {
                let rows: Vec<(i64, i64)> = db::query_as(
                    "SELECT shop_id, COUNT(*) AS n FROM risk_events WHERE state = 'open' AND shop_id IS NOT NULL \
                     GROUP BY shop_id HAVING COUNT(*) >= $1 ORDER BY n DESC, shop_id LIMIT $2",
                )
                .bind(min_open)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map(|(s, n)| (kabao_core::ShopId(s), n)).collect())
            }

            async fn review_risk_events(
                &mut self,
                shop: kabao_core::ShopId,
                state: &str,
                note: &str,
                by: kabao_core::UserId,
                at: kabao_core::Timestamp,
            ) -> $crate::StoreResult<u64> {
                let done = db::query(
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
                .map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected())
            }

            async fn set_order_trial_key(&mut self, order: kabao_core::ledger::OrderId, key: &str) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE orders SET trial_key = $1 WHERE id = $2")
                    .bind(key)
                    .bind(order.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn set_order_device(&mut self, order: kabao_core::ledger::OrderId, device: &str) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE orders SET device_id = $1 WHERE id = $2")
                    .bind(device)
                    .bind(order.0)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn set_payment_payer(&mut self, trade_no: &str, payer: &str) -> $crate::StoreResult<()> {
                let done = db::query("UPDATE payments SET payer_ref = $1 WHERE trade_no = $2")
                    .bind(payer)
                    .bind(trade_no)
                    .execute(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                one_row(done.rows_affected())
            }

            async fn buyer_facts(
                &mut self,
                claim: &$crate::ClaimRecord,
                since: kabao_core::Timestamp,
            ) -> $crate::StoreResult<kabao_core::signals::Facts> {
                // Keys of the order first revealed in the 10 minutes before the claim, and the last such reveal.
                let window_start = claim.created_at.millis() - 10 * 60 * 1000;
                let (reveals_before_claim, last_reveal): (i64, Option<i64>) = db::query_as(
                    "SELECT COUNT(*), MAX(first_revealed_at) FROM order_keys WHERE order_id = $1 \
                     AND first_revealed_at >= $2 AND first_revealed_at <= $3",
                )
                .bind(claim.order_id.0)
                .bind(window_start)
                .bind(claim.created_at.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let (buyer_id, guest_email, device_id, category): (Option<i64>, Option<String>, Option<String>, String) =
                    db::query_as(
                        "SELECT o.buyer_id, o.guest_email, o.device_id, p.category FROM orders o \
                         JOIN products p ON p.id = o.product_id WHERE o.id = $1",
                    )
                    .bind(claim.order_id.0)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                // The buyer is the account, or for a guest the email: "orders of this buyer" matches either.
                let buyer_match = "((o.buyer_id IS NOT NULL AND o.buyer_id = $1) OR (o.buyer_id IS NULL AND o.guest_email = $2))";
                let (buyer_claims,): (i64,) = db::query_as(&format!(
                    "SELECT COUNT(*) FROM claims c JOIN orders o ON o.id = c.order_id WHERE {buyer_match}"
                ))
                .bind(buyer_id)
                .bind(&guest_email)
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let (buyer_items,): (i64,) = db::query_as(&format!(
                    "SELECT CAST(COALESCE(SUM(o.quantity), 0) AS BIGINT) FROM orders o WHERE {buyer_match} AND o.delivered_at IS NOT NULL"
                ))
                .bind(buyer_id)
                .bind(&guest_email)
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let (category_claims,): (i64,) = db::query_as(
                    "SELECT COUNT(*) FROM claims c JOIN orders o ON o.id = c.order_id JOIN products p ON p.id = o.product_id \
                     WHERE p.category = $1 AND c.created_at >= $2",
                )
                .bind(&category)
                .bind(since.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                let (category_items,): (i64,) = db::query_as(
                    "SELECT CAST(COALESCE(SUM(o.quantity), 0) AS BIGINT) FROM orders o JOIN products p ON p.id = o.product_id \
                     WHERE p.category = $1 AND o.delivered_at >= $2",
                )
                .bind(&category)
                .bind(since.millis())
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                // Other buyers behind the same device cookie or payer account: distinct (account or guest email).
                let identity = "COALESCE(CAST(o.buyer_id AS TEXT), o.guest_email)";
                let me: Option<String> = buyer_id.map(|b| b.to_string()).or(guest_email.clone());
                let other_buyers_on_device: i64 = match &device_id {
                    Some(device) => db::query_scalar(&format!(
                        "SELECT COUNT(DISTINCT {identity}) FROM orders o WHERE o.device_id = $1 AND {identity} <> $2"
                    ))
                    .bind(device)
                    .bind(&me)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?,
                    None => 0,
                };
                // Payments by this buyer (the order's own, and the buyer's top-ups) name its payer accounts; count the
                // other buyers whose payments (direct or top-up) came from one of them.
                let payer_identity = "COALESCE(CAST(COALESCE(q.user_id, o.buyer_id) AS TEXT), o.guest_email)";
                let other_buyers_on_payer: i64 = db::query_scalar(&format!(
                    "SELECT COUNT(DISTINCT {payer_identity}) FROM payments q LEFT JOIN orders o ON o.id = q.order_id \
                     WHERE q.payer_ref IN (SELECT payer_ref FROM payments WHERE payer_ref IS NOT NULL \
                     AND (order_id = $1 OR (user_id IS NOT NULL AND user_id = $2))) AND {payer_identity} <> $3"
                ))
                .bind(claim.order_id.0)
                .bind(buyer_id)
                .bind(&me)
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(kabao_core::signals::Facts {
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

            async fn buyer_orders_at_shop(
                &mut self,
                buyer: kabao_core::UserId,
                shop: kabao_core::ShopId,
                limit: i64,
            ) -> $crate::StoreResult<Vec<$crate::Order>> {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT {} FROM orders WHERE buyer_id = $1 AND shop_id = $2 ORDER BY id DESC LIMIT $3",
                    $crate::rows::ORDER_COLS
                ));
                let sql: &str = &SQL;
                let rows = db::query(&sql)
                    .bind(buyer.0)
                    .bind(shop.0)
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err($crate::errors::map_sqlx)?;
                rows.iter().map($crate::rows::order_from_row).collect()
            }

            async fn has_trial_order(
                &mut self,
                shop: kabao_core::ShopId,
                buyer: Option<kabao_core::UserId>,
                guest_email: Option<&str>,
            ) -> $crate::StoreResult<bool> {
                let n: i64 = db::query_scalar(
                    "SELECT COUNT(*) FROM orders o JOIN products p ON p.id = o.product_id WHERE o.shop_id = $1 AND p.trial \
                     AND o.state IN ('pending_payment', 'paid', 'delivered', 'settled') \
                     AND ((o.buyer_id IS NOT NULL AND o.buyer_id = $2) OR (o.guest_email IS NOT NULL AND o.guest_email = $3))",
                )
                .bind(shop.0)
                .bind(buyer.map(|b| b.0))
                .bind(guest_email)
                .fetch_one(&mut *self.tx)
                .await
                .map_err($crate::errors::map_sqlx)?;
                Ok(n > 0)
            }

            // ---- data keys ----

            async fn data_keys(&mut self) -> $crate::StoreResult<Vec<$crate::DataKeyRecord>> {
                let rows: Vec<$crate::rows::DataKeyRow> =
                    db::query_as("SELECT purpose, version, wrapped, created_at FROM data_keys ORDER BY purpose, version")
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err($crate::errors::map_sqlx)?;
                Ok(rows.into_iter().map($crate::rows::data_key).collect())
            }

            async fn insert_data_key(&mut self, key: &$crate::DataKeyRecord) -> $crate::StoreResult<()> {
                db::query("INSERT INTO data_keys (purpose, version, wrapped, created_at) VALUES ($1, $2, $3, $4)")
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

        impl $tx {
            /// The compare-and-set of an order's state: moves it from `from` to `to` and stamps the matching time
            /// column. A delivery may also set `settle_after` in the same statement, so the order enters the
            /// settlement index once, at its final position ([`crate::Tx::deliver_order`]).
            async fn move_order(
                &mut self,
                id: kabao_core::ledger::OrderId,
                from: kabao_core::order::OrderState,
                to: kabao_core::order::OrderState,
                at: kabao_core::Timestamp,
                settle_after: Option<kabao_core::Timestamp>,
            ) -> $crate::StoreResult<bool> {
                use kabao_core::order::OrderState as S;
                let sql = match to {
                    S::Paid => "UPDATE orders SET state = $1, paid_at = $2 WHERE id = $3 AND state = $4",
                    S::Delivered => "UPDATE orders SET state = $1, delivered_at = $2, paid_at = COALESCE(paid_at, $2), \
                                     settle_after = COALESCE($5, settle_after) WHERE id = $3 AND state = $4",
                    S::Settled => "UPDATE orders SET state = $1, settled_at = $2 WHERE id = $3 AND state = $4",
                    S::Refunded => "UPDATE orders SET state = $1, paid_at = COALESCE(paid_at, $2) WHERE id = $3 AND state = $4",
                    S::PendingPayment | S::Expired => "UPDATE orders SET state = $1 WHERE id = $3 AND state = $4 AND $2 = $2",
                };
                let mut query = db::query(sql).bind(to.as_str()).bind(at.millis()).bind(id.0).bind(from.as_str());
                if to == S::Delivered {
                    query = query.bind(settle_after.map(|t| t.millis()));
                }
                let done = query.execute(&mut *self.tx).await.map_err($crate::errors::map_sqlx)?;
                Ok(done.rows_affected() == 1)
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
