//! Variants (面值), wholesale tiers (批发价) and coupons (优惠券): what a merchant sets up, and the price a checkout
//! computes from them ([`price_order`], called by `orders::checkout` inside the order's transaction).

use crate::orders::OrderError;
use crate::products::ProductError;
use crate::shops::ShopError;
use crate::App;
use kabao_core::catalog::ProductDraft;
use kabao_core::ledger::OrderId;
use kabao_core::pricing::{self, CouponError, CouponState, CouponTerms, Tier, TierError, Tiers};
use kabao_core::{Lang, Localized, Money, ProductId, Timestamp};
use kabao_store::{Coupon, CouponTake, OrderPricing, Product, StoreError, Tx, TxMode, User, VariantRow};

/// Why a variant, tier list or coupon could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PromotionError {
    #[error(transparent)]
    Coupon(#[from] CouponError),
    #[error(transparent)]
    Tier(#[from] TierError),
    #[error("a variant label must be 1–20 characters")]
    VariantLabelInvalid,
    /// A variant cannot have variants of its own (one level: a listing and its 面值).
    #[error("a variant cannot have variants")]
    VariantOfVariant,
    /// A coupon scoped to a product of another shop, or no such coupon of the merchant.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Warranty(#[from] crate::warranty::WarrantyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for PromotionError {
    fn code(&self) -> &'static str {
        match self {
            PromotionError::Coupon(e) => e.code(),
            PromotionError::Tier(e) => e.code(),
            PromotionError::VariantLabelInvalid => "variant.label_invalid",
            PromotionError::VariantOfVariant => "variant.nested",
            PromotionError::NotFound => "not_found",
            PromotionError::Product(e) => e.code(),
            PromotionError::Shop(e) => e.code(),
            PromotionError::Warranty(e) => e.code(),
            PromotionError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            PromotionError::Coupon(e) => e.field(),
            PromotionError::Tier(e) => e.field(),
            PromotionError::VariantLabelInvalid => Some("label"),
            PromotionError::VariantOfVariant => Some("parent"),
            PromotionError::Product(e) => e.field(),
            PromotionError::Shop(e) => e.field(),
            PromotionError::Warranty(e) => e.field(),
            PromotionError::NotFound | PromotionError::Store(_) => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            PromotionError::Coupon(e) => e.message(lang),
            PromotionError::Tier(e) => e.message(lang),
            PromotionError::VariantLabelInvalid => {
                lang.pick("规格名称需为 1–20 个字符", "A variant label must be 1–20 characters").into()
            }
            PromotionError::VariantOfVariant => {
                lang.pick("规格不能再添加子规格", "A variant cannot have variants of its own").into()
            }
            PromotionError::NotFound => lang.pick("找不到该内容", "Not found").into(),
            PromotionError::Product(e) => e.message(lang),
            PromotionError::Shop(e) => e.message(lang),
            PromotionError::Warranty(e) => e.message(lang),
            PromotionError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

// ---- variants ----

/// A variant as a buyer sees it on the listing's page.
#[derive(Debug, Clone)]
pub struct Variant {
    pub label: String,
    pub product: Product,
    pub tiers: Vec<Tier>,
}

fn check_label(label: &str) -> Result<String, PromotionError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 20 || label.chars().any(char::is_control) {
        return Err(PromotionError::VariantLabelInvalid);
    }
    Ok(label.to_string())
}

/// Adds a variant to one of the merchant's listings: a product row of its own (price, stock, policy, orders),
/// with the listing's title, category and kind, and a copy of the listing's current warranty policy (editable
/// on the variant afterwards like any product's).
pub async fn add_variant(
    state: &App,
    merchant: &User,
    parent: ProductId,
    label: &str,
    price: Money,
) -> Result<Product, PromotionError> {
    let label = check_label(label)?;
    let (p, shop) = crate::products::owned(state, merchant, parent).await?;
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    if tx.variant_parent(p.id).await?.is_some() {
        return Err(PromotionError::VariantOfVariant);
    }
    let draft = ProductDraft {
        title: format!("{} · {label}", p.title),
        description: p.description.clone(),
        category: p.category,
        kind: p.kind,
        price,
        max_per_order: p.max_per_order,
        trial: false,
        listed: true,
    };
    kabao_core::catalog::ProductDraft::parse(&kabao_core::catalog::ProductInput {
        title: draft.title.clone(),
        description: draft.description.clone(),
        category: draft.category.as_str().into(),
        kind: draft.kind.as_str().into(),
        price_fen: price.fen(),
        max_per_order: draft.max_per_order,
        trial: false,
        listed: true,
    })
    .map_err(ProductError::from)?;
    let id = tx.insert_product(shop.id, &draft, now).await?;
    tx.set_variant_of(id, Some((p.id, &label))).await?;
    if let Some(policy) = crate::warranty::current(&mut *tx, p.id).await? {
        crate::warranty::record(&mut *tx, id, policy.policy, now).await?;
    }
    let product = tx.product_by_id(id).await?.ok_or(PromotionError::NotFound)?;
    tx.commit().await?;
    tracing::info!(product = %id, parent = %p.id, "variant added");
    Ok(product)
}

/// Renames a variant (its price, stock and policy are edited as the product it is).
pub async fn rename_variant(
    state: &App,
    merchant: &User,
    variant: ProductId,
    label: &str,
) -> Result<(), PromotionError> {
    let label = check_label(label)?;
    crate::products::owned(state, merchant, variant).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let (parent, _) = tx.variant_parent(variant).await?.ok_or(PromotionError::NotFound)?;
    tx.set_variant_of(variant, Some((parent, &label))).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a variant from its listing: it is unlisted (its orders, keys and claims stay as they are) and no
/// longer offered on the listing's page.
pub async fn remove_variant(state: &App, merchant: &User, variant: ProductId) -> Result<(), PromotionError> {
    let (p, _) = crate::products::owned(state, merchant, variant).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.variant_parent(variant).await?.ok_or(PromotionError::NotFound)?;
    let draft = ProductDraft {
        title: p.title.clone(),
        description: p.description.clone(),
        category: p.category,
        kind: p.kind,
        price: p.price,
        max_per_order: p.max_per_order,
        trial: p.trial,
        listed: false,
    };
    tx.update_product(variant, &draft, state.now()).await?;
    tx.set_variant_of(variant, None).await?;
    tx.commit().await?;
    Ok(())
}

/// A listing's listed variants, with their tiers, in the order they were added.
pub async fn variants(state: &App, parent: ProductId) -> Result<Vec<Variant>, StoreError> {
    variants_where(state, parent, false).await
}

/// A listing's variants for its merchant's console, unlisted ones too.
pub async fn all_variants(state: &App, parent: ProductId) -> Result<Vec<Variant>, StoreError> {
    variants_where(state, parent, true).await
}

async fn variants_where(state: &App, parent: ProductId, unlisted_too: bool) -> Result<Vec<Variant>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let rows: Vec<VariantRow> = tx.variants_of(parent).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(product) = tx.product_by_id(r.product_id).await? else { continue };
        if !product.listed && !unlisted_too {
            continue;
        }
        let tiers = tx.tiers_of(product.id).await?;
        out.push(Variant { label: r.label, product, tiers });
    }
    Ok(out)
}

/// Whether a listing has variants on sale (listed): then it is bought only through one of them.
pub async fn has_listed_variants(tx: &mut dyn kabao_store::Tx, parent: ProductId) -> Result<bool, StoreError> {
    for r in tx.variants_of(parent).await? {
        if tx.product_by_id(r.product_id).await?.is_some_and(|p| p.listed) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The listing a variant belongs to and its label, if it is one.
pub async fn parent_of(state: &App, product: ProductId) -> Result<Option<(ProductId, String)>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.variant_parent(product).await
}

// ---- wholesale tiers ----

/// Replaces the tiers of one of the merchant's products (or variants). An empty list removes them.
pub async fn set_tiers(
    state: &App,
    merchant: &User,
    product: ProductId,
    tiers: Vec<Tier>,
) -> Result<Vec<Tier>, PromotionError> {
    let (p, _) = crate::products::owned(state, merchant, product).await?;
    let tiers = Tiers::parse(tiers, p.price)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.set_tiers(p.id, tiers.as_slice()).await?;
    tx.commit().await?;
    Ok(tiers.as_slice().to_vec())
}

/// A product's tiers, lowest threshold first.
pub async fn tiers(state: &App, product: ProductId) -> Result<Vec<Tier>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.tiers_of(product).await
}

// ---- coupons ----

/// Creates a coupon in the merchant's shop.
pub async fn create_coupon(state: &App, merchant: &User, terms: CouponTerms) -> Result<Coupon, PromotionError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let now = state.now();
    terms.check(now)?;
    if let Some(product) = terms.product {
        let (p, _) = crate::products::owned(state, merchant, product).await.map_err(|_| PromotionError::NotFound)?;
        debug_assert_eq!(p.shop_id, shop.id);
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    let id = match tx.insert_coupon(shop.id, &terms, now).await {
        Ok(id) => id,
        Err(StoreError::Conflict("coupons.code")) => return Err(CouponError::CodeTaken.into()),
        Err(e) => return Err(e.into()),
    };
    let coupon = tx.coupon_by_id(id).await?.ok_or(PromotionError::NotFound)?;
    tx.commit().await?;
    tracing::info!(shop = %shop.id, coupon = id, "coupon created");
    Ok(coupon)
}

/// Enables or disables one of the merchant's coupons (a disabled coupon is refused at checkout; orders that used
/// it keep their discount).
pub async fn set_coupon_enabled(
    state: &App,
    merchant: &User,
    id: i64,
    enabled: bool,
) -> Result<Coupon, PromotionError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    if !tx.set_coupon_enabled(shop.id, id, enabled).await? {
        return Err(PromotionError::NotFound);
    }
    let coupon = tx.coupon_by_id(id).await?.ok_or(PromotionError::NotFound)?;
    tx.commit().await?;
    Ok(coupon)
}

/// The merchant's coupons with their live use counts, newest first.
pub async fn coupons(state: &App, merchant: &User) -> Result<Vec<Coupon>, PromotionError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.shop_coupons(shop.id).await?)
}

// ---- checkout ----

/// An order's price before it is written: the tier unit price, the amount before and after the coupon, and
/// the coupon to take a use of once the order row exists.
pub struct Priced {
    pub list_unit_price: Money,
    pub tier_unit_price: Money,
    pub amount_before: Money,
    pub coupon: Option<Coupon>,
    pub discount: Money,
    /// What the buyer pays.
    pub amount: Money,
    /// What one item refunds: `amount / quantity` rounded down.
    pub unit_refund: Money,
}

/// Prices an order in the caller's (write) transaction: wholesale tier by quantity, then the coupon if a code is
/// given. A code of another shop is "not found"; every coupon refusal names the field `coupon_code`.
pub async fn price_order(
    tx: &mut dyn Tx,
    product: &Product,
    quantity: i64,
    coupon_code: Option<&str>,
    now: Timestamp,
) -> Result<Priced, OrderError> {
    let tiers = Tiers::from_stored(tx.tiers_of(product.id).await?);
    let tier_unit_price = tiers.unit_price(quantity, product.price);
    let amount_before = tier_unit_price.checked_mul(quantity).ok_or(OrderError::AmountOverflow)?;
    let code = coupon_code.map(str::trim).filter(|c| !c.is_empty());
    let (coupon, discount) = match code {
        None => (None, Money::ZERO),
        Some(code) => {
            let key = pricing::coupon_code_key(code).map_err(|_| CouponError::NotFound)?;
            let coupon = tx.coupon_by_code(product.shop_id, &key).await?.ok_or(CouponError::NotFound)?;
            let parent = tx.variant_parent(product.id).await?.map(|(p, _)| p);
            let state = CouponState { shop: coupon.shop_id, terms: coupon.terms.clone(), enabled: coupon.enabled };
            let discount = pricing::apply_coupon(&state, product.shop_id, product.id, parent, amount_before, now)?;
            (Some(coupon), discount)
        }
    };
    let amount = amount_before.checked_sub(discount).ok_or(OrderError::AmountOverflow)?;
    Ok(Priced {
        list_unit_price: product.price,
        tier_unit_price,
        amount_before,
        coupon,
        discount,
        amount,
        unit_refund: pricing::unit_refund(amount, quantity),
    })
}

/// Takes the coupon's use for a new order and records its pricing, in the order's transaction. A coupon used up
/// meanwhile, or past the buyer's limit, is refused and the caller's transaction (with the order) rolls back.
pub async fn record_pricing(
    tx: &mut dyn Tx,
    order: OrderId,
    priced: &Priced,
    buyer_key: &str,
    now: Timestamp,
) -> Result<(), OrderError> {
    if let Some(c) = &priced.coupon {
        match tx.take_coupon_use(c.id, order, buyer_key, c.terms.per_buyer_limit, now).await? {
            CouponTake::Taken => {}
            CouponTake::Unavailable => return Err(CouponError::UsedUp.into()),
            CouponTake::BuyerLimit => return Err(CouponError::BuyerLimit.into()),
        }
    }
    tx.set_order_pricing(&OrderPricing {
        order_id: order,
        list_unit_price: priced.list_unit_price,
        tier_unit_price: priced.tier_unit_price,
        amount_before: priced.amount_before,
        coupon_id: priced.coupon.as_ref().map(|c| c.id),
        coupon_code: priced.coupon.as_ref().map(|c| c.terms.code.clone()),
        discount: priced.discount,
    })
    .await?;
    Ok(())
}
