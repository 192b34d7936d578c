//! PostgreSQL: catalog search and listings, the stored trust score, and pictures ([`CatalogTx`]).

use super::PgTx;
use crate::catalog_sql::{
    count_sql, listing_sql, sort_page, Arg, Dialect, FROM_PRICE_AT, HAS_VARIANTS_AT, KEY_AT, SALES_AT,
};
use crate::errors::{map_sqlx, one_row};
use crate::rows::ColumnAt;
use crate::{rows, CatalogRow, CatalogTx, ListingQuery, Media, MediaMeta, StoreError, StoreResult};
use async_trait::async_trait;
use kabao_core::search::{document, document_grams};
use kabao_core::{Money, ProductId, ShopId, Timestamp};

impl PgTx {
    /// Writes the product's search document (called by product create/edit in the same transaction).
    pub(super) async fn reindex_product(&mut self, product: ProductId) -> StoreResult<()> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT p.title, sh.name FROM products p JOIN shops sh ON sh.id = p.shop_id WHERE p.id = $1",
        )
        .bind(product.0)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let (title, shop_name) = row.ok_or(StoreError::NotFound)?;
        let doc = document(&title, &shop_name);
        let grams = document_grams(&doc);
        sqlx::query(
            "INSERT INTO product_search (product_id, doc, grams) VALUES ($1, $2, $3) \
             ON CONFLICT (product_id) DO UPDATE SET doc = excluded.doc, grams = excluded.grams",
        )
        .bind(product.0)
        .bind(doc)
        .bind(grams)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    /// Rewrites the search documents of a shop's products (its name is part of each).
    pub(super) async fn reindex_shop(&mut self, shop: ShopId) -> StoreResult<()> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM products WHERE shop_id = $1")
            .bind(shop.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        for id in ids {
            self.reindex_product(ProductId(id)).await?;
        }
        Ok(())
    }
}

fn meta(r: (String, String, i32, i32)) -> MediaMeta {
    MediaMeta { hash: r.0, mime: r.1, width: i64::from(r.2), height: i64::from(r.3) }
}

#[async_trait]
impl CatalogTx for PgTx {
    async fn search_listings(&mut self, query: &ListingQuery) -> StoreResult<Vec<CatalogRow>> {
        let matches = match count_sql(query, Dialect::Postgres) {
            Some((sql, args)) => {
                let mut q = sqlx::query_scalar::<_, i64>(&sql);
                for a in args {
                    q = match a {
                        Arg::Int(v) => q.bind(v),
                        Arg::Text(v) => q.bind(v),
                        Arg::Bool(v) => q.bind(v),
                        Arg::Texts(v) => q.bind(v),
                    };
                }
                Some(q.fetch_one(&mut *self.tx).await.map_err(map_sqlx)?)
            }
            None => None,
        };
        let (sql, args) = listing_sql(query, Dialect::Postgres, matches);
        let mut q = sqlx::query(&sql);
        for a in args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Texts(v) => q.bind(v),
            };
        }
        let rows = q.fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        let mut page = rows
            .iter()
            .map(|r| {
                let has_variants: bool = r.at(HAS_VARIANTS_AT)?;
                let from_price: i64 = r.at(FROM_PRICE_AT)?;
                Ok(CatalogRow {
                    listing: rows::listing_from_row(r)?,
                    sales_count: r.at(SALES_AT)?,
                    sort_key: r.at(KEY_AT)?,
                    from_price: has_variants.then(|| Money::from_fen(from_price)),
                })
            })
            .collect::<StoreResult<Vec<CatalogRow>>>()?;
        sort_page(&mut page, query.sort);
        Ok(page)
    }

    async fn index_product(&mut self, product: ProductId) -> StoreResult<()> {
        self.reindex_product(product).await
    }

    async fn index_unindexed_products(&mut self, limit: i64) -> StoreResult<u64> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT p.id FROM products p WHERE NOT EXISTS (SELECT 1 FROM product_search s WHERE s.product_id = p.id) \
             ORDER BY p.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        let n = ids.len() as u64;
        for id in ids {
            self.reindex_product(ProductId(id)).await?;
        }
        Ok(n)
    }

    async fn set_shop_trust_score(&mut self, shop: ShopId, score: u8) -> StoreResult<()> {
        let done = sqlx::query("UPDATE shops SET trust_score = $1 WHERE id = $2")
            .bind(i32::from(score))
            .bind(shop.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn insert_media(&mut self, media: &Media) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO media (hash, mime, width, height, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&media.meta.hash)
        .bind(&media.meta.mime)
        .bind(i32::try_from(media.meta.width).unwrap_or(i32::MAX))
        .bind(i32::try_from(media.meta.height).unwrap_or(i32::MAX))
        .bind(&media.bytes)
        .bind(media.created_at.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn media(&mut self, hash: &str) -> StoreResult<Option<Media>> {
        let row: Option<(String, String, i32, i32, Vec<u8>, i64)> =
            sqlx::query_as("SELECT hash, mime, width, height, bytes, created_at FROM media WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(row.map(|r| Media { meta: meta((r.0, r.1, r.2, r.3)), bytes: r.4, created_at: Timestamp(r.5) }))
    }

    async fn set_product_pictures(&mut self, product: ProductId, hashes: &[String]) -> StoreResult<()> {
        sqlx::query("DELETE FROM product_pictures WHERE product_id = $1")
            .bind(product.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        for (position, hash) in hashes.iter().enumerate() {
            sqlx::query("INSERT INTO product_pictures (product_id, position, media_hash) VALUES ($1, $2, $3)")
                .bind(product.0)
                .bind(position as i32)
                .bind(hash)
                .execute(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        }
        Ok(())
    }

    async fn product_pictures(&mut self, product: ProductId) -> StoreResult<Vec<MediaMeta>> {
        let rows: Vec<(String, String, i32, i32)> = sqlx::query_as(
            "SELECT m.hash, m.mime, m.width, m.height FROM product_pictures pp JOIN media m ON m.hash = pp.media_hash \
             WHERE pp.product_id = $1 ORDER BY pp.position",
        )
        .bind(product.0)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(meta).collect())
    }

    async fn product_covers(&mut self, products: &[ProductId]) -> StoreResult<Vec<(ProductId, MediaMeta)>> {
        let mut out = Vec::new();
        for p in products {
            let row: Option<(String, String, i32, i32)> = sqlx::query_as(
                "SELECT m.hash, m.mime, m.width, m.height FROM product_pictures pp \
                 JOIN media m ON m.hash = pp.media_hash WHERE pp.product_id = $1 AND pp.position = 0",
            )
            .bind(p.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
            if let Some(r) = row {
                out.push((*p, meta(r)));
            }
        }
        Ok(out)
    }
}
