//! The shops aggregate's part of a transaction: shops, products, custom goods, warranty policies and certification.

use crate::{CertificationApplication, Listing, NewShop, PolicyVersion, Product, Shop, StoreResult};
use async_trait::async_trait;
use kabao_core::catalog::{CertificationLevel, ProductDraft};
use kabao_core::{ProductId, ShopId, Timestamp, UserId};

/// Shops and what they sell: shops, products (with their custom-goods fields), the versioned warranty
/// policies products are sold under, and shops' certification applications.
#[async_trait]
pub trait ShopsTx: Send {
    // ---- shops ----
    /// Conflict `"shops.owner"` if the user has a shop; `"shops.name"` if the name is taken.
    async fn insert_shop(&mut self, shop: &NewShop) -> StoreResult<ShopId>;
    async fn shop_by_id(&mut self, id: ShopId) -> StoreResult<Option<Shop>>;
    async fn shop_by_owner(&mut self, owner: UserId) -> StoreResult<Option<Shop>>;
    /// Oldest first.
    async fn list_shops(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Shop>>;
    /// Conflict `"shops.name"`; NotFound.
    async fn update_shop(&mut self, id: ShopId, name: &str, description: &str) -> StoreResult<()>;
    async fn set_shop_certification(&mut self, id: ShopId, level: CertificationLevel) -> StoreResult<()>;
    /// `reason` is kept while suspended and cleared on reinstatement.
    async fn set_shop_suspended(&mut self, id: ShopId, suspended: bool, reason: Option<&str>) -> StoreResult<()>;

    // ---- products ----
    async fn insert_product(&mut self, shop: ShopId, draft: &ProductDraft, now: Timestamp) -> StoreResult<ProductId>;
    /// NotFound if the product does not exist.
    async fn update_product(&mut self, id: ProductId, draft: &ProductDraft, now: Timestamp) -> StoreResult<()>;
    async fn product_by_id(&mut self, id: ProductId) -> StoreResult<Option<Product>>;
    /// A shop's products, newest first, listed or not.
    async fn list_shop_products(&mut self, shop: ShopId) -> StoreResult<Vec<Product>>;
    /// Listed products of shops that are not suspended, with their shop, newest first.
    async fn list_listed_products(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Listing>>;

    // ---- listings held for review (the risk scanner) ----
    /// Holds a shop's listing under these rule ids (a JSON array), or releases it (`None`). NotFound.
    async fn set_shop_held(&mut self, id: ShopId, held_rules: Option<&str>) -> StoreResult<()>;
    /// Sets a product's hold (rule ids as a JSON array, `None`: not held) and whether it is listed. NotFound.
    async fn set_product_hold(&mut self, id: ProductId, held_rules: Option<&str>, listed: bool) -> StoreResult<()>;
    /// Releases every hold of a shop: its own, and its held products', which are listed again. Returns how many
    /// products were listed again.
    async fn release_listing_holds(&mut self, shop: ShopId) -> StoreResult<u64>;

    // ---- custom goods (人工交付) ----
    /// Sets a custom product's buyer fields (JSON array of labels), delivery deadline and stock count.
    async fn set_custom_spec(
        &mut self,
        product: ProductId,
        fields_json: &str,
        delivery_hours: i64,
        stock: i64,
    ) -> StoreResult<()>;
    /// A product's buyer fields (JSON) and delivery hours, if set.
    async fn custom_spec(&mut self, product: ProductId) -> StoreResult<Option<(String, i64)>>;

    // ---- warranty policies (补单规则) ----
    /// Adds a new version of a product's policy (the next version number) and makes it the current one.
    async fn insert_policy_version(
        &mut self,
        product: ProductId,
        policy: &str,
        sha256: &[u8],
        at: Timestamp,
    ) -> StoreResult<PolicyVersion>;
    /// Makes the product's policy "none" (无质保) from now on; earlier versions stay for the orders sold under them.
    async fn clear_policy(&mut self, product: ProductId) -> StoreResult<()>;
    /// The product's current policy version, if it has one.
    async fn current_policy(&mut self, product: ProductId) -> StoreResult<Option<PolicyVersion>>;
    /// Every version of a product's policy, oldest first.
    async fn policy_versions(&mut self, product: ProductId) -> StoreResult<Vec<PolicyVersion>>;

    // ---- certification applications ----
    /// Stores an application; Conflict `"certification_applications.pending"` if the shop has one pending.
    async fn insert_certification_application(&mut self, app: &CertificationApplication) -> StoreResult<i64>;
    async fn certification_application(&mut self, id: i64) -> StoreResult<Option<CertificationApplication>>;
    /// A shop's applications, newest first.
    async fn shop_certification_applications(&mut self, shop: ShopId) -> StoreResult<Vec<CertificationApplication>>;
    /// Pending applications, oldest first.
    async fn pending_certification_applications(&mut self, limit: i64) -> StoreResult<Vec<CertificationApplication>>;
    /// Other shops whose applications carry this id fingerprint.
    async fn shops_with_id_fingerprint(&mut self, fingerprint: &[u8], except: ShopId) -> StoreResult<Vec<ShopId>>;
    /// Compare-and-set pending → `state` (approved / rejected); false if it was decided already.
    async fn decide_certification_application(
        &mut self,
        id: i64,
        state: &str,
        reason: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<bool>;
}
