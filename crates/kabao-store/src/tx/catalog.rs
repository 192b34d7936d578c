//! The catalog's part of a transaction: search, filtered and sorted listings with keyset cursors, the stored
//! shop trust score they sort by, and product pictures (stored by content hash).

use crate::{CatalogRow, ListingQuery, Media, MediaMeta, StoreResult};
use async_trait::async_trait;
use kabao_core::{ProductId, ShopId};

/// What buyers browse: listings by search, category and sort, one keyset page at a time, and pictures.
#[async_trait]
pub trait CatalogTx: Send {
    /// Listed products of shops that are not suspended matching the query, in its sort, after its cursor, at most
    /// `limit` of them; each with the key its cursor is made of.
    async fn search_listings(&mut self, query: &ListingQuery) -> StoreResult<Vec<CatalogRow>>;
    /// Writes a product's search document from its title and its shop's name (create, edit, shop rename do this
    /// themselves; this is for backfilling). NotFound if there is no such product.
    async fn index_product(&mut self, product: ProductId) -> StoreResult<()>;
    /// Up to `limit` products without a search document, indexed now; returns how many.
    async fn index_unindexed_products(&mut self, limit: i64) -> StoreResult<u64>;
    /// Stores the shop's trust score as last computed, for sorting. NotFound.
    async fn set_shop_trust_score(&mut self, shop: ShopId, score: u8) -> StoreResult<()>;

    // ---- pictures ----
    /// Stores a picture under its hash; storing the same bytes again changes nothing.
    async fn insert_media(&mut self, media: &Media) -> StoreResult<()>;
    async fn media(&mut self, hash: &str) -> StoreResult<Option<Media>>;
    /// Replaces the product's pictures with these, in order (position 0 is the cover).
    async fn set_product_pictures(&mut self, product: ProductId, hashes: &[String]) -> StoreResult<()>;
    /// The product's pictures in order.
    async fn product_pictures(&mut self, product: ProductId) -> StoreResult<Vec<MediaMeta>>;
    /// The cover (first picture) of each of these products that has one.
    async fn product_covers(&mut self, products: &[ProductId]) -> StoreResult<Vec<(ProductId, MediaMeta)>>;
}
