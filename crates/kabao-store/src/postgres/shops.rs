//! PostgreSQL: shops, products, custom goods, warranty policies and certification ([`ShopsTx`]).

use super::PgTx;
use crate::errors::{map_sqlx, one_row};
use crate::{rows, CertificationApplication, Listing, NewShop, PolicyVersion, Product, Shop, ShopsTx, StoreResult};
use async_trait::async_trait;
use kabao_core::catalog::{CertificationLevel, ProductDraft};
use kabao_core::{ProductId, ShopId, Timestamp, UserId};
use std::sync::LazyLock;

#[async_trait]
impl ShopsTx for PgTx {
    // ---- shops ----

    async fn insert_shop(&mut self, shop: &NewShop) -> StoreResult<ShopId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO shops (owner_id, name, description, opened_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(shop.owner_id.0)
        .bind(&shop.name)
        .bind(&shop.description)
        .bind(shop.opened_at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(ShopId(id))
    }

    async fn shop_by_id(&mut self, id: ShopId) -> StoreResult<Option<Shop>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM shops sh WHERE sh.id = $1", rows::SHOP_COLS));
        let row: Option<rows::ShopRow> =
            sqlx::query_as(&SQL).bind(id.0).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::shop).transpose()
    }

    async fn shop_by_owner(&mut self, owner: UserId) -> StoreResult<Option<Shop>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM shops sh WHERE sh.owner_id = $1", rows::SHOP_COLS));
        let row: Option<rows::ShopRow> =
            sqlx::query_as(&SQL).bind(owner.0).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::shop).transpose()
    }

    async fn list_shops(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Shop>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM shops sh ORDER BY sh.id ASC LIMIT $1 OFFSET $2", rows::SHOP_COLS));
        let rows: Vec<rows::ShopRow> =
            sqlx::query_as(&SQL).bind(limit).bind(offset).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::shop).collect()
    }

    async fn update_shop(&mut self, id: ShopId, name: &str, description: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE shops SET name = $1, description = $2 WHERE id = $3")
            .bind(name)
            .bind(description)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())?;
        // The shop's name is part of its products' search documents.
        self.reindex_shop(id).await
    }

    async fn set_shop_certification(&mut self, id: ShopId, level: CertificationLevel) -> StoreResult<()> {
        let done = sqlx::query("UPDATE shops SET certification = $1 WHERE id = $2")
            .bind(level.as_str())
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn set_shop_suspended(&mut self, id: ShopId, suspended: bool, reason: Option<&str>) -> StoreResult<()> {
        let reason = if suspended { reason } else { None };
        let done = sqlx::query("UPDATE shops SET suspended = $1, suspended_reason = $2 WHERE id = $3")
            .bind(suspended)
            .bind(reason)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    // ---- products ----

    async fn insert_product(&mut self, shop: ShopId, draft: &ProductDraft, now: Timestamp) -> StoreResult<ProductId> {
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
        .map_err(map_sqlx)?;
        self.reindex_product(ProductId(id)).await?;
        Ok(ProductId(id))
    }

    async fn update_product(&mut self, id: ProductId, draft: &ProductDraft, now: Timestamp) -> StoreResult<()> {
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
        .map_err(map_sqlx)?;
        one_row(done.rows_affected())?;
        self.reindex_product(id).await
    }

    async fn product_by_id(&mut self, id: ProductId) -> StoreResult<Option<Product>> {
        self.count_sold().await?;
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM products p WHERE p.id = $1", rows::PRODUCT_COLS));
        let row: Option<rows::ProductRow> =
            sqlx::query_as(&SQL).bind(id.0).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.map(rows::product).transpose()
    }

    async fn list_shop_products(&mut self, shop: ShopId) -> StoreResult<Vec<Product>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM products p WHERE p.shop_id = $1 ORDER BY p.id DESC", rows::PRODUCT_COLS)
        });
        let rows: Vec<rows::ProductRow> =
            sqlx::query_as(&SQL).bind(shop.0).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::product).collect()
    }

    async fn list_listed_products(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Listing>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
            "SELECT {}, sh.name, sh.certification, sh.opened_at FROM products p JOIN shops sh ON sh.id = p.shop_id \
             WHERE p.listed = $1 AND sh.suspended = $2 AND sh.held_rules IS NULL AND p.variant_of IS NULL \
             ORDER BY p.id DESC LIMIT $3 OFFSET $4",
            rows::PRODUCT_COLS
        )
        });
        // Booleans are bound rather than written as literals: SQLite stores them as 0/1, PostgreSQL as bool.
        let rows = sqlx::query(&SQL)
            .bind(true)
            .bind(false)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        rows.iter().map(rows::listing_from_row).collect()
    }

    // ---- listings held for review (the risk scanner) ----

    async fn set_shop_held(&mut self, id: ShopId, held_rules: Option<&str>) -> StoreResult<()> {
        let done = sqlx::query("UPDATE shops SET held_rules = $1 WHERE id = $2")
            .bind(held_rules)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn set_product_hold(&mut self, id: ProductId, held_rules: Option<&str>, listed: bool) -> StoreResult<()> {
        let done = sqlx::query("UPDATE products SET held_rules = $1, listed = $2 WHERE id = $3")
            .bind(held_rules)
            .bind(listed)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn release_listing_holds(&mut self, shop: ShopId) -> StoreResult<u64> {
        sqlx::query("UPDATE shops SET held_rules = NULL WHERE id = $1")
            .bind(shop.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        let done = sqlx::query(
            "UPDATE products SET held_rules = NULL, listed = $1 WHERE shop_id = $2 AND held_rules IS NOT NULL",
        )
        .bind(true)
        .bind(shop.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    // ---- custom goods (人工交付) ----

    async fn set_custom_spec(
        &mut self,
        product: ProductId,
        fields_json: &str,
        delivery_hours: i64,
        stock: i64,
    ) -> StoreResult<()> {
        self.count_sold().await?;
        let done = sqlx::query(
            "UPDATE products SET custom_fields = $1, delivery_hours = $2, stock_available = $3 WHERE id = $4",
        )
        .bind(fields_json)
        .bind(delivery_hours)
        .bind(stock)
        .bind(product.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn custom_spec(&mut self, product: ProductId) -> StoreResult<Option<(String, i64)>> {
        let row: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT custom_fields, delivery_hours FROM products WHERE id = $1")
                .bind(product.0)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(match row {
            Some((Some(f), Some(h))) => Some((f, h)),
            _ => None,
        })
    }

    // ---- warranty policies (补单规则) ----

    async fn insert_policy_version(
        &mut self,
        product: ProductId,
        policy: &str,
        sha256: &[u8],
        at: Timestamp,
    ) -> StoreResult<PolicyVersion> {
        let next: i32 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM warranty_policies WHERE product_id = $1")
                .bind(product.0)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO warranty_policies (product_id, version, policy, sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(product.0)
        .bind(next)
        .bind(policy)
        .bind(sha256)
        .bind(at.millis())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let done = sqlx::query("UPDATE products SET warranty_policy_id = $1 WHERE id = $2")
            .bind(id)
            .bind(product.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())?;
        Ok(PolicyVersion {
            id,
            product_id: product,
            version: next,
            policy: policy.to_string(),
            sha256: sha256.to_vec(),
            created_at: at,
        })
    }

    async fn clear_policy(&mut self, product: ProductId) -> StoreResult<()> {
        let done = sqlx::query("UPDATE products SET warranty_policy_id = NULL WHERE id = $1")
            .bind(product.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn current_policy(&mut self, product: ProductId) -> StoreResult<Option<PolicyVersion>> {
        let row: Option<(i64, i64, i32, String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT w.id, w.product_id, w.version, w.policy, w.sha256, w.created_at FROM products p \
             JOIN warranty_policies w ON w.id = p.warranty_policy_id WHERE p.id = $1",
        )
        .bind(product.0)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(row.map(rows::policy_version))
    }

    async fn policy_versions(&mut self, product: ProductId) -> StoreResult<Vec<PolicyVersion>> {
        let rows: Vec<(i64, i64, i32, String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT id, product_id, version, policy, sha256, created_at FROM warranty_policies WHERE product_id = $1 \
             ORDER BY version",
        )
        .bind(product.0)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(rows::policy_version).collect())
    }

    // ---- certification applications ----

    async fn insert_certification_application(&mut self, app: &CertificationApplication) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO certification_applications \
             (shop_id, level, details, id_masked, id_fingerprint, state, created_at) \
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
        .map_err(map_sqlx)
    }

    async fn certification_application(&mut self, id: i64) -> StoreResult<Option<CertificationApplication>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM certification_applications WHERE id = $1", rows::CERT_APP_COLS));
        let row = sqlx::query(&SQL).bind(id).fetch_optional(&mut *self.tx).await.map_err(map_sqlx)?;
        row.as_ref().map(rows::cert_app_from_row).transpose()
    }

    async fn shop_certification_applications(&mut self, shop: ShopId) -> StoreResult<Vec<CertificationApplication>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM certification_applications WHERE shop_id = $1 ORDER BY id DESC LIMIT 20",
                rows::CERT_APP_COLS
            )
        });
        let rows = sqlx::query(&SQL).bind(shop.0).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::cert_app_from_row).collect()
    }

    async fn pending_certification_applications(&mut self, limit: i64) -> StoreResult<Vec<CertificationApplication>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM certification_applications WHERE state = 'pending' ORDER BY id LIMIT $1",
                rows::CERT_APP_COLS
            )
        });
        let rows = sqlx::query(&SQL).bind(limit).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::cert_app_from_row).collect()
    }

    async fn shops_with_id_fingerprint(&mut self, fingerprint: &[u8], except: ShopId) -> StoreResult<Vec<ShopId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT shop_id FROM certification_applications WHERE id_fingerprint = $1 AND shop_id <> $2 \
             ORDER BY shop_id",
        )
        .bind(fingerprint)
        .bind(except.0)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(ids.into_iter().map(ShopId).collect())
    }

    async fn decide_certification_application(
        &mut self,
        id: i64,
        state: &str,
        reason: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
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
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
