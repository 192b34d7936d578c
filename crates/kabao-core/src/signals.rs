//! Buyer-abuse signals: patterns that make a claim worth a closer look (a claim filed seconds after revealing
//! many keys, a claim rate far above the category's, many accounts behind one device or payer). They are shown
//! to the merchant and the arbiter with their reasons and never penalise anyone by themselves: a real buyer can
//! trip any of them.

use crate::i18n::Lang;

/// A claim within this many seconds of the last reveal, after at least [`FAST_CLAIM_MIN_REVEALS`] reveals.
pub const FAST_CLAIM_SECONDS: i64 = 60;
pub const FAST_CLAIM_MIN_REVEALS: i64 = 3;
/// A claim rate at least this many times the category's, once the buyer has [`HIGH_RATE_MIN_CLAIMS`] claims.
pub const HIGH_RATE_FACTOR: i64 = 3;
pub const HIGH_RATE_MIN_CLAIMS: i64 = 3;
/// The category rate assumed when the category has no history yet (1 claim per 100 items).
pub const DEFAULT_NORM_PER_MILLE: i64 = 10;
/// Other buyers behind the same device cookie or payer account before it is "many accounts".
pub const SHARED_IDENTITY_MIN_OTHERS: i64 = 2;

/// The numbers a claim's signals are read from (the store gathers them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// Keys of the claim's order first revealed in the 10 minutes before the claim.
    pub reveals_before_claim: i64,
    /// Seconds from the last of those reveals to the claim.
    pub seconds_after_reveal: Option<i64>,
    /// Claims by the same buyer (account, or guest email), and items delivered to them.
    pub buyer_claims: i64,
    pub buyer_items: i64,
    /// Claims and delivered items in the order's category within the window.
    pub category_claims: i64,
    pub category_items: i64,
    /// Other buyers (accounts or guest emails) who ordered from the same device cookie.
    pub other_buyers_on_device: i64,
    /// Other buyers whose payments came from the same payer account.
    pub other_buyers_on_payer: i64,
}

/// One signal, with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    FastClaimAfterReveals { reveals: i64, seconds: i64 },
    HighClaimRate { claims: i64, items: i64, rate_per_mille: i64, norm_per_mille: i64 },
    SharedDevice { others: i64 },
    SharedPayer { others: i64 },
}

impl Signal {
    pub fn code(&self) -> &'static str {
        match self {
            Signal::FastClaimAfterReveals { .. } => "fast_claim_after_reveals",
            Signal::HighClaimRate { .. } => "high_claim_rate",
            Signal::SharedDevice { .. } => "shared_device",
            Signal::SharedPayer { .. } => "shared_payer",
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        match (*self, lang) {
            (Signal::FastClaimAfterReveals { reveals, seconds }, Lang::Zh) => {
                format!("查看 {reveals} 个卡密后 {seconds} 秒内即提交售后")
            }
            (Signal::FastClaimAfterReveals { reveals, seconds }, Lang::En) => {
                format!("Claimed {seconds} s after revealing {reveals} keys")
            }
            (Signal::HighClaimRate { claims, items, rate_per_mille, norm_per_mille }, Lang::Zh) => format!(
                "该买家 {items} 件商品提交了 {claims} 次售后（{}%），同类目平均 {}%",
                percent(rate_per_mille),
                percent(norm_per_mille)
            ),
            (Signal::HighClaimRate { claims, items, rate_per_mille, norm_per_mille }, Lang::En) => format!(
                "This buyer filed {claims} claims on {items} items ({}%); the category average is {}%",
                percent(rate_per_mille),
                percent(norm_per_mille)
            ),
            (Signal::SharedDevice { others }, Lang::Zh) => format!("同一设备上还有 {others} 个其他买家账号下单"),
            (Signal::SharedDevice { others }, Lang::En) => {
                format!("{others} other buyer accounts ordered from the same device")
            }
            (Signal::SharedPayer { others }, Lang::Zh) => format!("同一付款账户还为 {others} 个其他买家账号付款"),
            (Signal::SharedPayer { others }, Lang::En) => {
                format!("The same payer account paid for {others} other buyer accounts")
            }
        }
    }
}

fn percent(per_mille: i64) -> String {
    format!("{}.{}", per_mille / 10, per_mille % 10)
}

fn per_mille(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        0
    } else {
        part.saturating_mul(1000) / whole
    }
}

/// The signals the facts show, in a fixed order.
pub fn signals(f: &Facts) -> Vec<Signal> {
    let mut out = Vec::new();
    if let Some(seconds) = f.seconds_after_reveal {
        if f.reveals_before_claim >= FAST_CLAIM_MIN_REVEALS && (0..=FAST_CLAIM_SECONDS).contains(&seconds) {
            out.push(Signal::FastClaimAfterReveals { reveals: f.reveals_before_claim, seconds });
        }
    }
    let norm =
        if f.category_items > 0 { per_mille(f.category_claims, f.category_items) } else { DEFAULT_NORM_PER_MILLE };
    let rate = per_mille(f.buyer_claims, f.buyer_items.max(1));
    if f.buyer_claims >= HIGH_RATE_MIN_CLAIMS && rate >= norm.max(1).saturating_mul(HIGH_RATE_FACTOR) {
        out.push(Signal::HighClaimRate {
            claims: f.buyer_claims,
            items: f.buyer_items,
            rate_per_mille: rate,
            norm_per_mille: norm,
        });
    }
    if f.other_buyers_on_device >= SHARED_IDENTITY_MIN_OTHERS {
        out.push(Signal::SharedDevice { others: f.other_buyers_on_device });
    }
    if f.other_buyers_on_payer >= SHARED_IDENTITY_MIN_OTHERS {
        out.push(Signal::SharedPayer { others: f.other_buyers_on_payer });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(f: Facts) -> Vec<&'static str> {
        signals(&f).iter().map(Signal::code).collect()
    }

    #[test]
    fn an_ordinary_claim_shows_nothing() {
        let f = Facts {
            reveals_before_claim: 1,
            seconds_after_reveal: Some(600),
            buyer_claims: 1,
            buyer_items: 10,
            category_claims: 5,
            category_items: 100,
            ..Facts::default()
        };
        assert!(codes(f).is_empty());
    }

    #[test]
    fn a_claim_seconds_after_revealing_many_keys_is_shown() {
        let f = Facts { reveals_before_claim: 5, seconds_after_reveal: Some(8), ..Facts::default() };
        assert_eq!(codes(f), vec!["fast_claim_after_reveals"]);
        assert_eq!(signals(&f)[0].text(Lang::Zh), "查看 5 个卡密后 8 秒内即提交售后");
        assert!(codes(Facts { seconds_after_reveal: Some(61), ..f }).is_empty(), "slower is normal");
        assert!(codes(Facts { reveals_before_claim: 2, ..f }).is_empty(), "few reveals is normal");
    }

    #[test]
    fn a_claim_rate_far_above_the_category_is_shown() {
        let f =
            Facts { buyer_claims: 4, buyer_items: 10, category_claims: 20, category_items: 1000, ..Facts::default() };
        let s = signals(&f);
        assert_eq!(s, vec![Signal::HighClaimRate { claims: 4, items: 10, rate_per_mille: 400, norm_per_mille: 20 }]);
        assert_eq!(s[0].text(Lang::Zh), "该买家 10 件商品提交了 4 次售后（40.0%），同类目平均 2.0%");
        assert!(codes(Facts { buyer_claims: 2, ..f }).is_empty(), "too few claims to judge");
        assert!(codes(Facts { category_claims: 200, ..f }).is_empty(), "not far above a high norm");
    }

    #[test]
    fn many_accounts_behind_one_device_or_payer_are_shown() {
        let f = Facts { other_buyers_on_device: 2, other_buyers_on_payer: 3, ..Facts::default() };
        assert_eq!(codes(f), vec!["shared_device", "shared_payer"]);
        assert!(
            codes(Facts { other_buyers_on_device: 1, other_buyers_on_payer: 1, ..f }).is_empty(),
            "a household is not many"
        );
    }
}
