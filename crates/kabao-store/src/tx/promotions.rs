//! The promotions aggregate's part of a transaction: product variants (面值), wholesale tiers (批发价), coupons
//! (优惠券) with their uses, and how each order's price was made.

use crate::StoreResult;
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::pricing::{CouponOff, CouponTerms, Tier};
use kabao_core::{Money, ProductId, ShopId, Timestamp};

/// A stored coupon with its live use count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    pub id: i64,
    pub shop_id: ShopId,
    pub terms: CouponTerms,
    pub enabled: bool,
    /// Uses held by orders that did not expire or get cancelled.
    pub used: i64,
    pub created_at: Timestamp,
}

/// What [`PromotionsTx::take_coupon_use`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponTake {
    Taken,
    /// Disabled, expired, or every use is held: nothing changed.
    Unavailable,
    /// The buyer holds `per_buyer_limit` uses already: nothing changed.
    BuyerLimit,
}

/// How an order's price was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPricing {
    pub order_id: OrderId,
    pub list_unit_price: Money,
    /// The wholesale tier's unit price, or the list price.
    pub tier_unit_price: Money,
    /// Quantity × tier unit price: the amount before the coupon.
    pub amount_before: Money,
    pub coupon_id: Option<i64>,
    pub coupon_code: Option<String>,
    pub discount: Money,
}

/// A variant of a listing: its own product row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantRow {
    pub product_id: ProductId,
    pub label: String,
}

#[async_trait]
pub trait PromotionsTx: Send {
    // ---- variants ----
    /// Makes `product` a variant of `parent` with a label, or (None) a listing of its own again.
    async fn set_variant_of(&mut self, product: ProductId, parent: Option<(ProductId, &str)>) -> StoreResult<()>;
    /// A listing's variants, in the order they were added.
    async fn variants_of(&mut self, parent: ProductId) -> StoreResult<Vec<VariantRow>>;
    /// The listing a variant belongs to, with the variant's label; `None` for a product that is no variant.
    async fn variant_parent(&mut self, product: ProductId) -> StoreResult<Option<(ProductId, String)>>;

    // ---- wholesale tiers ----
    /// Replaces a product's tiers (checked by `kabao_core::pricing::Tiers::parse`).
    async fn set_tiers(&mut self, product: ProductId, tiers: &[Tier]) -> StoreResult<()>;
    /// A product's tiers, lowest threshold first.
    async fn tiers_of(&mut self, product: ProductId) -> StoreResult<Vec<Tier>>;

    // ---- coupons ----
    /// Conflict `"coupons.code"` if the shop has the code (case-insensitive).
    async fn insert_coupon(&mut self, shop: ShopId, terms: &CouponTerms, at: Timestamp) -> StoreResult<i64>;
    /// A shop's coupon by its code folded with `kabao_core::pricing::coupon_code_key`.
    async fn coupon_by_code(&mut self, shop: ShopId, code_key: &str) -> StoreResult<Option<Coupon>>;
    async fn coupon_by_id(&mut self, id: i64) -> StoreResult<Option<Coupon>>;
    /// A shop's coupons, newest first.
    async fn shop_coupons(&mut self, shop: ShopId) -> StoreResult<Vec<Coupon>>;
    /// Enables or disables a shop's coupon; false if the shop has no such coupon.
    async fn set_coupon_enabled(&mut self, shop: ShopId, id: i64, enabled: bool) -> StoreResult<bool>;
    /// Takes one use for an order in one conditional update (`used < usage_limit`, enabled, not expired), so
    /// concurrent checkouts use a coupon up exactly at its limit; then counts the buyer's live uses.
    async fn take_coupon_use(
        &mut self,
        coupon: i64,
        order: OrderId,
        buyer_key: &str,
        per_buyer_limit: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<CouponTake>;
    /// Gives an order's use back (it expired unpaid or was cancelled); false if it held none or gave it already.
    async fn release_coupon_use(&mut self, order: OrderId, now: Timestamp) -> StoreResult<bool>;

    // ---- order pricing ----
    /// Records how an order's price was made (read back as `Order::pricing`), in the order's transaction.
    async fn set_order_pricing(&mut self, pricing: &OrderPricing) -> StoreResult<()>;
    /// A shop's products that are variants of another (for pages that list a shop's listings).
    async fn variant_products_of_shop(&mut self, shop: ShopId) -> StoreResult<Vec<ProductId>>;
}

/// The columns of a coupon read, in [`coupon_from_row`]'s order.
pub(crate) const COUPON_COLS: &str = "id, shop_id, code, amount_off_fen, percent_off, product_id, min_order_fen, \
     usage_limit, per_buyer_limit, expires_at, enabled, used, created_at";

pub(crate) type CouponRow =
    (i64, i64, String, Option<i64>, Option<i64>, Option<i64>, Option<i64>, i64, Option<i64>, i64, bool, i64, i64);

pub(crate) fn coupon_from_row(r: CouponRow) -> Coupon {
    let (
        id,
        shop,
        code,
        amount_off,
        percent_off,
        product,
        min_order,
        usage_limit,
        per_buyer,
        expires,
        enabled,
        used,
        at,
    ) = r;
    let off = match (amount_off, percent_off) {
        (Some(a), _) => CouponOff::Amount(Money::from_fen(a)),
        (None, p) => CouponOff::Percent(p.unwrap_or(0)),
    };
    Coupon {
        id,
        shop_id: ShopId(shop),
        terms: CouponTerms {
            code,
            off,
            product: product.map(ProductId),
            min_order: min_order.map(Money::from_fen),
            usage_limit,
            per_buyer_limit: per_buyer,
            expires_at: Timestamp::from_millis(expires),
        },
        enabled,
        used,
        created_at: Timestamp::from_millis(at),
    }
}
