//! How an order's price is made: the product's list price, its wholesale tiers (批发价) by quantity, then a
//! merchant's coupon (优惠券). Pure rules; the store keeps the tiers and coupons, the app applies these at checkout.

use crate::i18n::{Lang, Localized};
use crate::ids::{ProductId, ShopId};
use crate::money::Money;
use crate::Timestamp;

/// At most this many tiers per product: a price list, not a table.
pub const MAX_TIERS: usize = 10;

/// From `min_quantity` units on, each unit costs `unit_price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub min_quantity: i64,
    pub unit_price: Money,
}

/// A product's tiers: thresholds above 1 and increasing, prices positive, decreasing and below the list price.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tiers(Vec<Tier>);

/// Why a tier list is refused; `index` is the tier's position (0-based) in what was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierError {
    #[error("at most {MAX_TIERS} tiers")]
    TooMany,
    #[error("tier {index}: the threshold must be at least 2 and above the previous one")]
    ThresholdNotIncreasing { index: usize },
    #[error("tier {index}: the price must be positive and below the previous one (and the list price)")]
    PriceNotDecreasing { index: usize },
}

impl Localized for TierError {
    fn code(&self) -> &'static str {
        match self {
            TierError::TooMany => "tiers.too_many",
            TierError::ThresholdNotIncreasing { .. } => "tiers.threshold_not_increasing",
            TierError::PriceNotDecreasing { .. } => "tiers.price_not_decreasing",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some("tiers")
    }
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (TierError::TooMany, Lang::Zh) => format!("批发价最多 {MAX_TIERS} 档"),
            (TierError::TooMany, Lang::En) => format!("At most {MAX_TIERS} wholesale tiers"),
            (TierError::ThresholdNotIncreasing { index }, Lang::Zh) => {
                format!("第 {} 档：起批数量需至少为 2，且大于上一档", index + 1)
            }
            (TierError::ThresholdNotIncreasing { index }, Lang::En) => {
                format!("Tier {}: the quantity must be at least 2 and above the previous tier's", index + 1)
            }
            (TierError::PriceNotDecreasing { index }, Lang::Zh) => {
                format!("第 {} 档：单价需大于零，且低于上一档（及原价）", index + 1)
            }
            (TierError::PriceNotDecreasing { index }, Lang::En) => {
                format!(
                    "Tier {}: the unit price must be positive and below the previous tier's (and the list price)",
                    index + 1
                )
            }
        }
    }
}

impl Tiers {
    /// Checks tiers against the product's list price.
    pub fn parse(tiers: Vec<Tier>, list_price: Money) -> Result<Tiers, TierError> {
        if tiers.len() > MAX_TIERS {
            return Err(TierError::TooMany);
        }
        let mut prev_qty = 1;
        let mut prev_price = list_price;
        for (index, t) in tiers.iter().enumerate() {
            if t.min_quantity <= prev_qty {
                return Err(TierError::ThresholdNotIncreasing { index });
            }
            if !t.unit_price.is_positive() || t.unit_price >= prev_price {
                return Err(TierError::PriceNotDecreasing { index });
            }
            prev_qty = t.min_quantity;
            prev_price = t.unit_price;
        }
        Ok(Tiers(tiers))
    }

    /// Tiers as stored, trusted (they were checked when written).
    pub fn from_stored(tiers: Vec<Tier>) -> Tiers {
        Tiers(tiers)
    }

    pub fn as_slice(&self) -> &[Tier] {
        &self.0
    }

    /// The unit price for a quantity: the highest threshold reached, else the list price. Never above the list
    /// price, even if the list price was lowered after the tiers were set.
    pub fn unit_price(&self, quantity: i64, list_price: Money) -> Money {
        let tier = self.0.iter().filter(|t| t.min_quantity <= quantity).map(|t| t.unit_price).min();
        tier.map_or(list_price, |p| p.min(list_price))
    }
}

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponOff {
    /// A fixed amount off the order.
    Amount(Money),
    /// A percentage (1–99) off the order, rounded down to the 分.
    Percent(i64),
}

/// A coupon as the merchant sets it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponTerms {
    pub code: String,
    pub off: CouponOff,
    /// `None`: the whole shop.
    pub product: Option<ProductId>,
    pub min_order: Option<Money>,
    pub usage_limit: i64,
    pub per_buyer_limit: Option<i64>,
    pub expires_at: Timestamp,
}

/// Why a coupon cannot be created or used. Every one names the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    #[error("coupon code must be 3–32 letters, digits, - or _")]
    CodeInvalid,
    #[error("the amount or percentage off is invalid")]
    OffInvalid,
    #[error("usage limits must be positive")]
    LimitInvalid,
    #[error("the minimum order amount must be positive")]
    MinimumInvalid,
    #[error("the expiry must be in the future")]
    ExpiryInvalid,
    #[error("the shop already has this code")]
    CodeTaken,
    #[error("no such coupon at this shop")]
    NotFound,
    #[error("the coupon is disabled")]
    Disabled,
    #[error("the coupon expired")]
    Expired,
    #[error("the coupon is for another product")]
    WrongProduct,
    #[error("the order is below the coupon's minimum of {min}")]
    BelowMinimum { min: Money },
    #[error("the coupon is used up")]
    UsedUp,
    #[error("the buyer used the coupon the most times allowed")]
    BuyerLimit,
}

impl Localized for CouponError {
    fn code(&self) -> &'static str {
        match self {
            CouponError::CodeInvalid => "coupon.code_invalid",
            CouponError::OffInvalid => "coupon.off_invalid",
            CouponError::LimitInvalid => "coupon.limit_invalid",
            CouponError::MinimumInvalid => "coupon.minimum_invalid",
            CouponError::ExpiryInvalid => "coupon.expiry_invalid",
            CouponError::CodeTaken => "coupon.code_taken",
            CouponError::NotFound => "coupon.not_found",
            CouponError::Disabled => "coupon.disabled",
            CouponError::Expired => "coupon.expired",
            CouponError::WrongProduct => "coupon.wrong_product",
            CouponError::BelowMinimum { .. } => "coupon.below_minimum",
            CouponError::UsedUp => "coupon.used_up",
            CouponError::BuyerLimit => "coupon.buyer_limit",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            CouponError::CodeInvalid | CouponError::CodeTaken => "code",
            CouponError::OffInvalid => "off",
            CouponError::LimitInvalid => "usage_limit",
            CouponError::MinimumInvalid => "min_order_fen",
            CouponError::ExpiryInvalid => "expires_at",
            _ => "coupon_code",
        })
    }
    fn message(&self, lang: Lang) -> String {
        let words = match self {
            CouponError::CodeInvalid => {
                lang.pick("优惠码需为 3–32 位字母、数字、- 或 _", "The code must be 3–32 letters, digits, - or _")
            }
            CouponError::OffInvalid => lang.pick(
                "优惠金额需大于零，或折扣比例在 1–99% 之间",
                "The amount off must be positive, or the percentage 1–99",
            ),
            CouponError::LimitInvalid => lang.pick("使用次数上限需大于零", "Usage limits must be positive"),
            CouponError::MinimumInvalid => lang.pick("最低消费金额需大于零", "The minimum order must be positive"),
            CouponError::ExpiryInvalid => lang.pick("有效期需晚于现在", "The expiry must be in the future"),
            CouponError::CodeTaken => lang.pick("本店已有该优惠码", "The shop already has this code"),
            CouponError::NotFound => lang.pick("优惠码无效（本店没有该优惠券）", "No such coupon at this shop"),
            CouponError::Disabled => lang.pick("该优惠券已停用", "This coupon is disabled"),
            CouponError::Expired => lang.pick("该优惠券已过期", "This coupon has expired"),
            CouponError::WrongProduct => lang.pick("该优惠券不适用于此商品", "This coupon is for another product"),
            CouponError::BelowMinimum { min } => {
                return match lang {
                    Lang::Zh => format!("订单金额未达到该优惠券的最低消费 {min}"),
                    Lang::En => format!("The order is below this coupon's minimum of {min}"),
                }
            }
            CouponError::UsedUp => lang.pick("该优惠券已被领完", "This coupon is used up"),
            CouponError::BuyerLimit => {
                lang.pick("您使用该优惠券的次数已达上限", "You have used this coupon the most times allowed")
            }
        };
        words.into()
    }
}

/// Folds a code as typed to the key it is unique under (case-insensitive, surrounding spaces ignored).
pub fn coupon_code_key(code: &str) -> Result<String, CouponError> {
    let code = code.trim();
    let ok = (3..=32).contains(&code.chars().count())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(code.to_ascii_lowercase())
    } else {
        Err(CouponError::CodeInvalid)
    }
}

impl CouponTerms {
    /// Checks a new coupon's terms.
    pub fn check(&self, now: Timestamp) -> Result<(), CouponError> {
        coupon_code_key(&self.code)?;
        match self.off {
            CouponOff::Amount(m) if m.is_positive() => {}
            CouponOff::Percent(p) if (1..=99).contains(&p) => {}
            _ => return Err(CouponError::OffInvalid),
        }
        if self.usage_limit < 1 || self.per_buyer_limit.is_some_and(|l| l < 1) {
            return Err(CouponError::LimitInvalid);
        }
        if self.min_order.is_some_and(|m| !m.is_positive()) {
            return Err(CouponError::MinimumInvalid);
        }
        if self.expires_at <= now {
            return Err(CouponError::ExpiryInvalid);
        }
        Ok(())
    }
}

/// A stored coupon's state, as checkout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponState {
    pub shop: ShopId,
    pub terms: CouponTerms,
    pub enabled: bool,
}

/// Whether a coupon applies to an order of `product` at `shop` worth `amount` (after tier prices), and the
/// discount if so. Usage limits are not checked here: the store takes a use atomically.
pub fn apply_coupon(
    coupon: &CouponState,
    shop: ShopId,
    product: ProductId,
    parent: Option<ProductId>,
    amount: Money,
    now: Timestamp,
) -> Result<Money, CouponError> {
    if coupon.shop != shop {
        return Err(CouponError::NotFound);
    }
    if !coupon.enabled {
        return Err(CouponError::Disabled);
    }
    if coupon.terms.expires_at <= now {
        return Err(CouponError::Expired);
    }
    // A coupon for a listing applies to each of its variants.
    if coupon.terms.product.is_some_and(|p| p != product && Some(p) != parent) {
        return Err(CouponError::WrongProduct);
    }
    if let Some(min) = coupon.terms.min_order {
        if amount < min {
            return Err(CouponError::BelowMinimum { min });
        }
    }
    Ok(discount(coupon.terms.off, amount))
}

/// The discount on an amount: never more than the amount less 1 分, so every order still pays something (a
/// payment, and with it the escrow and the ledger, needs a positive amount).
pub fn discount(off: CouponOff, amount: Money) -> Money {
    let raw = match off {
        CouponOff::Amount(m) => m.fen(),
        CouponOff::Percent(p) => amount.fen().saturating_mul(p.clamp(0, 100)) / 100,
    };
    Money::from_fen(raw.clamp(0, (amount.fen() - 1).max(0)))
}

/// What one item of an order refunds: the amount paid split over the items, rounded down, so any number of
/// item refunds never adds up to more than was paid (the remainder, under 1 分 per item, settles to the merchant).
pub fn unit_refund(amount_paid: Money, quantity: i64) -> Money {
    if quantity < 1 {
        return amount_paid;
    }
    Money::from_fen(amount_paid.fen() / quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(f: i64) -> Money {
        Money::from_fen(f)
    }

    #[test]
    fn wholesale_price_is_picked_by_quantity() {
        let tiers = Tiers::parse(
            vec![Tier { min_quantity: 10, unit_price: m(950) }, Tier { min_quantity: 50, unit_price: m(900) }],
            m(1000),
        )
        .unwrap();
        assert_eq!(tiers.unit_price(1, m(1000)), m(1000));
        assert_eq!(tiers.unit_price(9, m(1000)), m(1000));
        assert_eq!(tiers.unit_price(10, m(1000)), m(950));
        assert_eq!(tiers.unit_price(49, m(1000)), m(950));
        assert_eq!(tiers.unit_price(50, m(1000)), m(900));
        assert_eq!(tiers.unit_price(500, m(800)), m(800), "never above a lowered list price");
    }

    #[test]
    fn tiers_must_increase_in_quantity_and_decrease_in_price() {
        let t = |q, p| Tier { min_quantity: q, unit_price: m(p) };
        assert_eq!(Tiers::parse(vec![t(1, 900)], m(1000)), Err(TierError::ThresholdNotIncreasing { index: 0 }));
        assert_eq!(
            Tiers::parse(vec![t(10, 900), t(10, 800)], m(1000)),
            Err(TierError::ThresholdNotIncreasing { index: 1 })
        );
        assert_eq!(Tiers::parse(vec![t(10, 1000)], m(1000)), Err(TierError::PriceNotDecreasing { index: 0 }));
        assert_eq!(
            Tiers::parse(vec![t(10, 900), t(20, 950)], m(1000)),
            Err(TierError::PriceNotDecreasing { index: 1 })
        );
        assert_eq!(Tiers::parse(vec![t(10, 0)], m(1000)), Err(TierError::PriceNotDecreasing { index: 0 }));
        assert!(Tiers::parse(vec![], m(1000)).is_ok());
    }

    #[test]
    fn discount_never_takes_the_whole_order() {
        assert_eq!(discount(CouponOff::Amount(m(500)), m(2000)), m(500));
        assert_eq!(discount(CouponOff::Amount(m(5000)), m(2000)), m(1999));
        assert_eq!(discount(CouponOff::Percent(15), m(999)), m(149));
        assert_eq!(discount(CouponOff::Percent(99), m(1)), m(0));
    }

    #[test]
    fn item_refunds_never_exceed_what_was_paid() {
        for (paid, qty) in [(1000, 3), (1, 2), (999, 7), (5000, 5)] {
            let unit = unit_refund(m(paid), qty);
            assert!(unit.fen() * qty <= paid);
            assert!(paid - unit.fen() * qty < qty);
        }
    }

    #[test]
    fn coupon_checks_name_what_is_wrong() {
        let now = Timestamp::from_millis(1_000);
        let terms = CouponTerms {
            code: "SAVE5".into(),
            off: CouponOff::Amount(m(500)),
            product: Some(ProductId(7)),
            min_order: Some(m(3000)),
            usage_limit: 10,
            per_buyer_limit: None,
            expires_at: Timestamp::from_millis(2_000),
        };
        let c = CouponState { shop: ShopId(1), terms, enabled: true };
        assert_eq!(apply_coupon(&c, ShopId(2), ProductId(7), None, m(5000), now), Err(CouponError::NotFound));
        assert_eq!(apply_coupon(&c, ShopId(1), ProductId(8), None, m(5000), now), Err(CouponError::WrongProduct));
        assert_eq!(apply_coupon(&c, ShopId(1), ProductId(8), Some(ProductId(7)), m(5000), now), Ok(m(500)));
        assert_eq!(
            apply_coupon(&c, ShopId(1), ProductId(7), None, m(2999), now),
            Err(CouponError::BelowMinimum { min: m(3000) })
        );
        assert_eq!(
            apply_coupon(&c, ShopId(1), ProductId(7), None, m(5000), Timestamp::from_millis(2_000)),
            Err(CouponError::Expired)
        );
        let off = CouponState { enabled: false, ..c.clone() };
        assert_eq!(apply_coupon(&off, ShopId(1), ProductId(7), None, m(5000), now), Err(CouponError::Disabled));
        assert_eq!(CouponError::UsedUp.field(), Some("coupon_code"));
        assert_eq!(coupon_code_key(" Save5 "), Ok("save5".into()));
        assert_eq!(coupon_code_key("a b"), Err(CouponError::CodeInvalid));
    }
}
