//! Warranty insurance (质保险) and extended warranty (延保): the premium model, priced by the category's recent
//! claim rate (shrunk toward the platform rate when samples are few), the shop's trust score and the price.
//! Integer arithmetic only: every rate is kept as an exact fraction and the premium is rounded up to 分 once.

use crate::i18n::{Lang, Localized};
use crate::money::Money;
use serde::{Deserialize, Serialize};

/// Credibility constant: a category with `K` orders in the window weighs its own claim rate and the platform's
/// equally; with far more it is priced by its own, with far fewer by the platform's.
pub const CREDIBILITY_K: u64 = 50;
/// The window the claim counts cover.
pub const WINDOW_DAYS: u32 = 90;
/// The smallest premium: ¥0.10.
pub const MIN_PREMIUM: Money = Money::from_fen(10);
/// The largest premium as a percentage of the price.
pub const MAX_PREMIUM_PERCENT: i64 = 30;
/// Extended warranty is priced per this many extra days.
pub const EXTENSION_UNIT_DAYS: u32 = 30;
/// The platform rate used when the platform itself has no orders in the window yet: 2 %.
pub const DEFAULT_PLATFORM_RATE: Sample = Sample { claims: 1, orders: 50 };

/// Claims and paid orders counted over the last [`WINDOW_DAYS`] days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub claims: u64,
    pub orders: u64,
}

impl Sample {
    /// The rate in tenths of a percent (‰), rounded half up; `None` without orders.
    pub fn permille(self) -> Option<u64> {
        (self.orders > 0).then(|| (self.claims.saturating_mul(2000) + self.orders) / (2 * self.orders))
    }
}

/// What the premium of one product is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteInputs {
    pub price: Money,
    /// The product's category over the window.
    pub category: Sample,
    /// The whole platform over the window (falls back to [`DEFAULT_PLATFORM_RATE`] when it has no orders).
    pub platform: Sample,
    /// The shop's trust score, 0..=100 (larger values are read as 100).
    pub trust_score: u8,
}

/// Why a product cannot be insured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// 30 % of the price is below the smallest premium.
    #[error("price too low to insure")]
    PriceTooLow { price: Money },
    #[error("extension must be at least one day")]
    NoExtraDays,
    #[error("amount overflow")]
    Overflow,
}

impl Localized for QuoteError {
    fn code(&self) -> &'static str {
        match self {
            QuoteError::PriceTooLow { .. } => "insurance.price_too_low",
            QuoteError::NoExtraDays => "insurance.extension_invalid",
            QuoteError::Overflow => "insurance.invalid",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (QuoteError::PriceTooLow { price }, Lang::Zh) => {
                format!("商品价格 {price} 过低，无法投保质保险（保费最低 {MIN_PREMIUM}，最高为价格的 30 %）")
            }
            (QuoteError::PriceTooLow { price }, Lang::En) => format!(
                "The price {price} is too low to insure (the premium is at least {MIN_PREMIUM} and at most 30 % \
                 of the price)"
            ),
            (QuoteError::NoExtraDays, _) => {
                lang.pick("延保天数必须大于零", "The extension must be at least one day").into()
            }
            (QuoteError::Overflow, _) => lang.pick("保费计算失败（金额溢出）", "Premium out of range").into(),
        }
    }
}

/// One reason shown with a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum QuoteReason {
    /// The category's own claim rate over the window.
    CategoryClaimRate { claims: u64, orders: u64, permille: u64 },
    /// Too few orders in the category: the rate was shrunk toward the platform's.
    ShrunkTowardPlatform { orders: u64, platform_permille: u64, used_permille: u64 },
    /// The shop's trust score and the risk loading it gives.
    ShopTrust { score: u8, loading_percent: u64 },
    /// The premium was raised to the minimum.
    RaisedToMinimum,
    /// The premium was capped at 30 % of the price.
    CappedAtMaximum,
    /// An extension of this many days beyond the merchant's window.
    Extension { extra_days: u32 },
}

/// A per-mille figure as a percentage with one decimal, e.g. 32 → "3.2 %".
pub fn percent_text(permille: u64) -> String {
    format!("{}.{} %", permille / 10, permille % 10)
}

impl QuoteReason {
    pub fn text(&self, lang: Lang) -> String {
        match (*self, lang) {
            (QuoteReason::CategoryClaimRate { claims, orders, permille }, Lang::Zh) => {
                format!("本类商品近 {WINDOW_DAYS} 天索赔率 {}（{orders} 单中 {claims} 单）", percent_text(permille))
            }
            (QuoteReason::CategoryClaimRate { claims, orders, permille }, Lang::En) => format!(
                "claim rate of this category over {WINDOW_DAYS} days {} ({claims} of {orders} orders)",
                percent_text(permille)
            ),
            (QuoteReason::ShrunkTowardPlatform { orders, platform_permille, used_permille }, Lang::Zh) => format!(
                "样本较少（近 {WINDOW_DAYS} 天 {orders} 单），索赔率按平台平均 {} 收缩为 {}",
                percent_text(platform_permille),
                percent_text(used_permille)
            ),
            (QuoteReason::ShrunkTowardPlatform { orders, platform_permille, used_permille }, Lang::En) => format!(
                "few samples ({orders} orders in {WINDOW_DAYS} days): shrunk toward the platform average {} to {}",
                percent_text(platform_permille),
                percent_text(used_permille)
            ),
            (QuoteReason::ShopTrust { score, loading_percent }, Lang::Zh) => {
                format!("店铺信用 {score} 分（风险附加 {loading_percent} %）")
            }
            (QuoteReason::ShopTrust { score, loading_percent }, Lang::En) => {
                format!("shop trust {score} (risk loading {loading_percent} %)")
            }
            (QuoteReason::RaisedToMinimum, Lang::Zh) => format!("保费最低 {MIN_PREMIUM}"),
            (QuoteReason::RaisedToMinimum, Lang::En) => format!("minimum premium {MIN_PREMIUM}"),
            (QuoteReason::CappedAtMaximum, Lang::Zh) => "保费最高为价格的 30 %".into(),
            (QuoteReason::CappedAtMaximum, Lang::En) => "premium capped at 30 % of the price".into(),
            (QuoteReason::Extension { extra_days }, Lang::Zh) => {
                format!("延保 {extra_days} 天（按每 {EXTENSION_UNIT_DAYS} 天一份保费计）")
            }
            (QuoteReason::Extension { extra_days }, Lang::En) => {
                format!("extended by {extra_days} days (priced per {EXTENSION_UNIT_DAYS} days)")
            }
        }
    }
}

/// A priced premium with its reasons, shown to the buyer before paying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub premium: Money,
    pub reasons: Vec<QuoteReason>,
}

impl Quote {
    /// The reasons in one line: "本类商品近 90 天索赔率 3.2 %（…），店铺信用 82 分（…）".
    pub fn summary(&self, lang: Lang) -> String {
        let sep = lang.pick("，", "; ");
        self.reasons.iter().map(|r| r.text(lang)).collect::<Vec<_>>().join(sep)
    }
}

/// The risk loading in thousandths: `0.5 + 0.015 · (100 − trust)`, i.e. 500‰ at trust 100, 2000‰ at trust 0.
fn loading_permille(trust_score: u8) -> u64 {
    500 + 15 * (100 - u64::from(trust_score.min(100)))
}

/// The quote of warranty insurance over the merchant's window.
pub fn quote(inputs: &QuoteInputs) -> Result<Quote, QuoteError> {
    price_premium(inputs, None)
}

/// The price of extending the window by `extra_days`: the insurance premium scaled by `extra_days / 30`, with
/// the same bounds.
pub fn quote_extension(inputs: &QuoteInputs, extra_days: u32) -> Result<Quote, QuoteError> {
    if extra_days == 0 {
        return Err(QuoteError::NoExtraDays);
    }
    price_premium(inputs, Some(extra_days))
}

/// The platform's extended warranty (延保) runs to this many days; only a shorter merchant window is extended.
pub const EXTENDED_WINDOW_DAYS: u32 = 30;

/// The whole days an extended warranty adds to a merchant window of `window_ms` (to
/// [`EXTENDED_WINDOW_DAYS`]); `None` when the window is already that long or the gap is under a day.
pub fn extension_days(window_ms: i64) -> Option<u32> {
    let gap = i64::from(EXTENDED_WINDOW_DAYS) * 86_400_000 - window_ms.max(0);
    u32::try_from(gap / 86_400_000).ok().filter(|d| *d > 0)
}

fn price_premium(inputs: &QuoteInputs, extra_days: Option<u32>) -> Result<Quote, QuoteError> {
    let price = inputs.price.fen();
    let cap = price.checked_mul(MAX_PREMIUM_PERCENT).ok_or(QuoteError::Overflow)? / 100;
    if price <= 0 || cap < MIN_PREMIUM.fen() {
        return Err(QuoteError::PriceTooLow { price: inputs.price });
    }
    let platform = if inputs.platform.orders == 0 { DEFAULT_PLATFORM_RATE } else { inputs.platform };
    let c = inputs.category;
    // rate = (claims + K·pc/po) / (orders + K) = (claims·po + K·pc) / ((orders + K)·po)
    let mul = |a: u128, b: u128| a.checked_mul(b).ok_or(QuoteError::Overflow);
    let rate_num = mul(c.claims.into(), platform.orders.into())?
        .checked_add(mul(CREDIBILITY_K.into(), platform.claims.into())?)
        .ok_or(QuoteError::Overflow)?;
    let rate_den = mul(u128::from(c.orders) + u128::from(CREDIBILITY_K), platform.orders.into())?;
    let load = 1000 + u128::from(loading_permille(inputs.trust_score));
    let (days_num, days_den) = match extra_days {
        Some(d) => (u128::from(d), u128::from(EXTENSION_UNIT_DAYS)),
        None => (1, 1),
    };
    // premium = price · rate · (1 + loading) · 1.25 · days, rounded up to 分.
    let price_u = u128::try_from(price).map_err(|_| QuoteError::Overflow)?;
    let num = mul(mul(mul(price_u, rate_num)?, load * 5)?, days_num)?;
    let den = mul(mul(rate_den, 4000)?, days_den)?;
    let raw = i64::try_from(num.div_ceil(den)).unwrap_or(i64::MAX);

    let mut reasons = Vec::with_capacity(5);
    let used_permille = rate_num.saturating_mul(2000).saturating_add(rate_den) / rate_den.saturating_mul(2);
    let used_permille = u64::try_from(used_permille).unwrap_or(u64::MAX);
    if let Some(permille) = c.permille() {
        reasons.push(QuoteReason::CategoryClaimRate { claims: c.claims, orders: c.orders, permille });
    }
    if c.orders < CREDIBILITY_K {
        reasons.push(QuoteReason::ShrunkTowardPlatform {
            orders: c.orders,
            platform_permille: platform.permille().unwrap_or(0),
            used_permille,
        });
    }
    reasons.push(QuoteReason::ShopTrust {
        score: inputs.trust_score.min(100),
        loading_percent: loading_permille(inputs.trust_score) / 10,
    });
    if let Some(extra_days) = extra_days {
        reasons.push(QuoteReason::Extension { extra_days });
    }
    let premium = if raw < MIN_PREMIUM.fen() {
        reasons.push(QuoteReason::RaisedToMinimum);
        MIN_PREMIUM.fen()
    } else if raw > cap {
        reasons.push(QuoteReason::CappedAtMaximum);
        cap
    } else {
        raw
    };
    Ok(Quote { premium: Money::from_fen(premium), reasons })
}

/// The loss ratio (赔付率) of the insurance book: payouts ÷ premiums, in per mille rounded half up. `None` when
/// no premium was taken (the ratio is undefined, not zero).
pub fn loss_ratio_permille(payouts: Money, premiums: Money) -> Option<u64> {
    let (payouts, premiums) = (i128::from(payouts.fen().max(0)), i128::from(premiums.fen()));
    if premiums <= 0 {
        return None;
    }
    u64::try_from((payouts * 2000 + premiums) / (premiums * 2)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn loss_ratio_rounds_half_up_and_is_undefined_without_premiums() {
        let r = |p, q| loss_ratio_permille(Money::from_fen(p), Money::from_fen(q));
        assert_eq!(r(400, 350), Some(1143)); // 114.29 %
        assert_eq!(r(1, 2000), Some(1)); // 0.05 % → 0.1 %
        assert_eq!(r(0, 500), Some(0));
        assert_eq!(r(500, 0), None);
        assert_eq!(percent_text(1143), "114.3 %");
    }

    const PLATFORM: Sample = Sample { claims: 200, orders: 10_000 };

    fn inputs(price_fen: i64, category: Sample, trust_score: u8) -> QuoteInputs {
        QuoteInputs { price: Money::from_fen(price_fen), category, platform: PLATFORM, trust_score }
    }

    /// The table in docs/INSURANCE.md.
    #[test]
    fn example_table_of_three_products() {
        let steam = quote(&inputs(10_000, Sample { claims: 32, orders: 1000 }, 82)).unwrap();
        let account = quote(&inputs(30_000, Sample { claims: 9, orders: 60 }, 55)).unwrap();
        let vip = quote(&inputs(1_500, Sample { claims: 3, orders: 20 }, 95)).unwrap();
        assert_eq!(steam.premium, Money::from_fen(696));
        assert_eq!(account.premium, Money::from_fen(7_415));
        assert_eq!(vip.premium, Money::from_fen(169));
        assert_eq!(
            steam.summary(Lang::Zh),
            "本类商品近 90 天索赔率 3.2 %（1000 单中 32 单），店铺信用 82 分（风险附加 77 %）"
        );
        assert!(!steam.reasons.iter().any(|r| matches!(r, QuoteReason::ShrunkTowardPlatform { .. })));
        assert_eq!(
            vip.summary(Lang::Zh),
            "本类商品近 90 天索赔率 15.0 %（20 单中 3 单），样本较少（近 90 天 20 单），索赔率按平台平均 2.0 % 收缩为 5.7 %，\
             店铺信用 95 分（风险附加 57 %）"
        );
        assert!(vip.summary(Lang::En).starts_with("claim rate of this category over 90 days 15.0 % (3 of 20"));
        // Extending the Steam card's window by 23 days (7 → 30).
        let ext = quote_extension(&inputs(10_000, Sample { claims: 32, orders: 1000 }, 82), 23).unwrap();
        assert_eq!(ext.premium, Money::from_fen(534));
        assert!(ext.reasons.contains(&QuoteReason::Extension { extra_days: 23 }));
    }

    #[test]
    fn a_new_category_is_priced_at_the_platform_rate() {
        let q = quote(&inputs(10_000, Sample { claims: 0, orders: 0 }, 100)).unwrap();
        // 100 × 2 % × 1.5 × 1.25 = 3.75
        assert_eq!(q.premium, Money::from_fen(375));
        assert_eq!(
            q.reasons.first().map(|r| r.text(Lang::Zh)).as_deref(),
            Some("样本较少（近 90 天 0 单），索赔率按平台平均 2.0 % 收缩为 2.0 %")
        );
        let empty_platform = QuoteInputs {
            platform: Sample { claims: 0, orders: 0 },
            ..inputs(10_000, Sample { claims: 0, orders: 0 }, 100)
        };
        assert_eq!(quote(&empty_platform).unwrap().premium, Money::from_fen(375));
    }

    #[test]
    fn bounds_are_applied_with_a_reason() {
        let cheap = quote(&inputs(40, Sample { claims: 0, orders: 1000 }, 100)).unwrap();
        assert_eq!(cheap.premium, MIN_PREMIUM);
        assert!(cheap.reasons.contains(&QuoteReason::RaisedToMinimum));
        let risky = quote(&inputs(10_000, Sample { claims: 900, orders: 1000 }, 0)).unwrap();
        assert_eq!(risky.premium, Money::from_fen(3_000));
        assert!(risky.reasons.contains(&QuoteReason::CappedAtMaximum));
        assert_eq!(
            quote(&inputs(33, Sample { claims: 0, orders: 0 }, 50)),
            Err(QuoteError::PriceTooLow { price: Money::from_fen(33) })
        );
        assert_eq!(quote_extension(&inputs(10_000, PLATFORM, 50), 0), Err(QuoteError::NoExtraDays));
    }

    fn sample() -> impl Strategy<Value = Sample> {
        (0u64..100_000, 0u64..100_000).prop_map(|(a, b)| Sample { claims: a.min(b), orders: b })
    }

    proptest! {
        #[test]
        fn premium_is_bounded(price in 1i64..1_000_000_000, c in sample(), p in sample(), trust in 0u8..=255,
                              days in proptest::option::of(1u32..366)) {
            let i = QuoteInputs { price: Money::from_fen(price), category: c, platform: p, trust_score: trust };
            let q = match days { Some(d) => quote_extension(&i, d), None => quote(&i) };
            if price * 30 / 100 < 10 {
                prop_assert_eq!(q, Err(QuoteError::PriceTooLow { price: Money::from_fen(price) }));
            } else {
                let q = q.unwrap();
                prop_assert!(q.premium >= MIN_PREMIUM);
                prop_assert!(q.premium.fen() <= price * 30 / 100);
            }
        }

        #[test]
        fn premium_is_monotone_in_claim_rate(price in 34i64..10_000_000, orders in 1u64..10_000, a in 0u64..10_000,
                                             b in 0u64..10_000, p in sample(), trust in 0u8..=100) {
            let (lo, hi) = (a.min(b).min(orders), a.max(b).min(orders));
            let q = |claims| quote(&QuoteInputs { price: Money::from_fen(price), category: Sample { claims, orders },
                                                  platform: p, trust_score: trust }).unwrap().premium;
            prop_assert!(q(lo) <= q(hi));
        }

        #[test]
        fn premium_is_monotone_in_low_trust(price in 34i64..10_000_000, c in sample(), p in sample(),
                                            a in 0u8..=100, b in 0u8..=100) {
            let q = |trust| quote(&QuoteInputs { price: Money::from_fen(price), category: c, platform: p,
                                                 trust_score: trust }).unwrap().premium;
            // Lower trust never costs less.
            prop_assert!(q(a.min(b)) >= q(a.max(b)));
        }

        #[test]
        fn few_samples_are_shrunk_toward_the_platform(orders in 1u64..10, claims_frac in 0u64..=100) {
            // A category with a handful of orders, all claimed or none, is priced near the platform rate,
            // not at 0 % or 100 %; with many orders the same observed rate stands.
            let claims = orders * claims_frac / 100;
            let few = Sample { claims, orders };
            let many = Sample { claims: claims * 1000, orders: orders * 1000 };
            let base = QuoteInputs { price: Money::from_fen(1_000_000), category: few, platform: PLATFORM,
                                     trust_score: 100 };
            let q_few = quote(&base).unwrap().premium.fen();
            let q_many = quote(&QuoteInputs { category: many, ..base }).unwrap().premium.fen();
            let q_platform = quote(&QuoteInputs { category: Sample { claims: 0, orders: 0 }, ..base })
                .unwrap().premium.fen();
            prop_assert!((q_few - q_platform).abs() <= (q_many - q_platform).abs());
            let shrunk = quote(&base).unwrap().reasons.iter()
                .any(|r| matches!(r, QuoteReason::ShrunkTowardPlatform { .. }));
            prop_assert!(shrunk);
        }

        #[test]
        fn extension_scales_with_days(price in 1_000i64..1_000_000, c in sample(), trust in 0u8..=100,
                                      a in 1u32..365, b in 1u32..365) {
            let i = QuoteInputs { price: Money::from_fen(price), category: c, platform: PLATFORM, trust_score: trust };
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(quote_extension(&i, lo).unwrap().premium <= quote_extension(&i, hi).unwrap().premium);
        }
    }

    #[test]
    fn only_windows_shorter_than_thirty_days_are_extended() {
        assert_eq!(extension_days(7 * 86_400_000), Some(23));
        assert_eq!(extension_days(24 * 3_600_000), Some(29));
        assert_eq!(extension_days(30 * 86_400_000), None);
        assert_eq!(extension_days(90 * 86_400_000), None);
        assert_eq!(extension_days(29 * 86_400_000 + 1), None);
    }
}
