//! The API's request and response bodies. Inputs refuse unknown fields, so a typo is an error, not a no-op.

use kabao_core::inventory::ImportReport;
use kabao_store::{ApiToken, Batch, Product, Shop, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whole numbers in JSON bodies: JSON (and JSON Schema's `integer`) does not tell `4` from `4.0`, so both are
/// the integer 4; `4.5` or a number out of range is refused naming the field, as any mistyped value.
pub mod whole {
    use serde::de::{Deserializer, Error, Visitor};
    use std::fmt;

    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<i64, E> {
            // 2^63 is exactly representable; every whole f64 strictly inside ±2^63 converts without loss.
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if v.fract() == 0.0 && v > -LIMIT && v < LIMIT {
                Ok(v as i64)
            } else {
                Err(E::custom(format!("{v} is not a whole number in range")))
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(Whole)
    }

    /// The same for an optional number (`null` or absent: none).
    pub mod option {
        use serde::{Deserialize, Deserializer};

        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] i64);

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    #[schema(value_type = super::contract::RoleName)]
    pub role: String,
    pub email: Option<String>,
    pub created_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.0,
            username: u.username.clone(),
            role: u.role.as_str().into(),
            email: u.email.clone(),
            created_at: u.created_at.millis(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    pub username: String,
    pub password: String,
    /// A label for the token, e.g. "stock sync" (1–40 characters, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    /// For an account with two-step verification on: the authenticator's current 6-digit code, or one of the
    /// account's recovery codes (spent by this use).
    #[serde(default)]
    #[schema(max_length = 32)]
    pub totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: i64,
    /// The token itself; shown only in this response.
    pub token: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        TokenView {
            id: t.id.0,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_at: t.created_at.millis(),
            revoked_at: t.revoked_at.map(|t| t.millis()),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopInput {
    /// 1–40 characters, not only spaces.
    #[schema(min_length = 1, max_length = 40, pattern = r"[^\s\x00-\x1f\x7f-\x9f]")]
    pub name: String,
    /// At most 5000 characters.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShopView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub opened_at: i64,
    #[schema(value_type = super::contract::CertificationName)]
    pub certification: String,
    pub suspended: bool,
    /// Its name or description is held for review by the risk scanner: its products are out of the catalog
    /// until an admin clears it, and others see it without its name and description.
    pub under_review: bool,
}

impl From<&Shop> for ShopView {
    fn from(s: &Shop) -> Self {
        ShopView {
            id: s.id.0,
            name: s.name.clone(),
            description: s.description.clone(),
            opened_at: s.opened_at.millis(),
            certification: s.certification.as_str().into(),
            suspended: s.suspended,
            under_review: !s.held_rules.is_empty(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    /// 1–80 characters, not only spaces.
    #[schema(min_length = 1, max_length = 80, pattern = r"[^\s\x00-\x1f\x7f-\x9f]")]
    pub title: String,
    /// At most 5000 characters.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    #[schema(value_type = super::contract::CategoryName)]
    pub category: String,
    #[schema(value_type = super::contract::GoodsKindName)]
    pub kind: String,
    /// Price in 分 (1/100 yuan): 1 分 to ¥10,000,000.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    #[serde(with = "whole")]
    pub price_fen: i64,
    /// How many units one order may hold.
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(with = "whole")]
    pub max_per_order: i64,
    #[serde(default)]
    pub trial: bool,
    #[serde(default = "yes")]
    pub listed: bool,
}

fn yes() -> bool {
    true
}

impl From<ProductBody> for kabao_core::catalog::ProductInput {
    fn from(b: ProductBody) -> Self {
        kabao_core::catalog::ProductInput {
            title: b.title,
            description: b.description,
            category: b.category,
            kind: b.kind,
            price_fen: b.price_fen,
            max_per_order: b.max_per_order,
            trial: b.trial,
            listed: b.listed,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProductView {
    pub id: i64,
    pub shop_id: i64,
    pub title: String,
    pub description: String,
    #[schema(value_type = super::contract::CategoryName)]
    pub category: String,
    #[schema(value_type = super::contract::GoodsKindName)]
    pub kind: String,
    pub price_fen: i64,
    pub max_per_order: i64,
    pub trial: bool,
    pub listed: bool,
    pub stock_available: i64,
    /// The one-line summary of the product's current warranty policy, as every page shows it.
    pub warranty: WarrantySummaryView,
    /// The risk rules (ids such as `contact.wechat`) its title, description or delivery text is held for review
    /// under: not listed until an admin dismisses them or the texts pass. Empty when it is not held (only its
    /// owner and admins ever see a held product).
    pub held_rules: Vec<String>,
}

/// A warranty in one line, the same text the pages show ("7 天质保 · 自动补单", 无质保), in both languages: API
/// bodies do not depend on `Accept-Language` (only error messages do). On a product: its current policy; on an
/// order: the policy it was sold under.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "covered": true,
    "label_zh": "7 天质保 · 自动补单",
    "label_en": "7-day warranty · automatic re-issue",
    "window_hours": 168,
    "auto_reissue": true,
    "remedy": "reissue_then_refund"
}))]
pub struct WarrantySummaryView {
    /// False: sold without a warranty (无质保 / "No warranty"); the fields below are then null or false.
    pub covered: bool,
    pub label_zh: String,
    pub label_en: String,
    /// How long after delivery a claim may be filed, in hours (a warranty period in days counts 24 h a day).
    #[schema(minimum = 1, maximum = 8760)]
    pub window_hours: Option<u32>,
    /// An eligible claim is re-issued by the platform at once from stock (自动补单), without the merchant.
    pub auto_reissue: bool,
    /// What an upheld claim gets: a re-issue falling back to a refund, re-issues only, or a refund only.
    #[schema(value_type = Option<String>, example = "reissue_then_refund")]
    pub remedy: Option<&'static str>,
}

impl WarrantySummaryView {
    pub fn new(summary: Option<kabao_core::warranty::WarrantySummary>) -> WarrantySummaryView {
        use kabao_core::warranty::warranty_label;
        use kabao_core::Lang;
        WarrantySummaryView {
            covered: summary.is_some(),
            label_zh: warranty_label(summary, Lang::Zh),
            label_en: warranty_label(summary, Lang::En),
            window_hours: summary.map(|s| s.window_hours()),
            auto_reissue: summary.is_some_and(|s| s.auto_reissue),
            remedy: summary.map(|s| s.remedy.as_str()),
        }
    }

    /// The summary of an order's warranty snapshot (what it was sold under).
    pub fn of_snapshot(snapshot: &str) -> WarrantySummaryView {
        WarrantySummaryView::new(kabao_core::warranty::WarrantyPolicy::from_snapshot(snapshot).map(|p| p.summary()))
    }
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        ProductView {
            id: p.id.0,
            shop_id: p.shop_id.0,
            title: p.title.clone(),
            description: p.description.clone(),
            category: p.category.as_str().into(),
            kind: p.kind.as_str().into(),
            price_fen: p.price.fen(),
            max_per_order: p.max_per_order,
            trial: p.trial,
            listed: p.listed,
            stock_available: p.stock_available,
            warranty: WarrantySummaryView::new(p.warranty),
            held_rules: p.held_rules.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LineView {
    pub line: u32,
    /// For duplicates: the earlier line with the same key, or null if the shop already had it.
    pub same_as_line: Option<u32>,
    /// For malformed lines: the problem code.
    pub problem: Option<String>,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ImportView {
    /// The new batch, or null if no line was accepted (nothing was written).
    pub batch_id: Option<i64>,
    pub accepted_count: u64,
    /// Accepted line numbers as inclusive ranges [first, last].
    #[schema(value_type = Vec<Vec<u32>>)]
    pub accepted_lines: Vec<[u32; 2]>,
    pub duplicates: Vec<LineView>,
    pub malformed: Vec<LineView>,
    /// Lines the product category's key verifier says are already redeemed or invalid (not imported).
    pub refused: Vec<RefusedView>,
    /// Imported keys the verifier could not answer on (down, or "unknown").
    pub unverified_count: u64,
}

/// A key the verifier refused at import.
#[derive(Serialize, ToSchema)]
pub struct RefusedView {
    pub line: u32,
    /// `redeemed` or `invalid`.
    pub status: String,
    /// When the verifier says it was redeemed (ms since the epoch), if it says.
    pub redeemed_at: Option<i64>,
    pub detail: Option<String>,
    pub message: String,
}

impl ImportView {
    pub fn new(batch_id: Option<i64>, r: &ImportReport, lang: kabao_core::Lang) -> ImportView {
        ImportView {
            batch_id,
            accepted_count: r.accepted_count,
            accepted_lines: r.accepted_lines.clone(),
            duplicates: r
                .duplicates
                .iter()
                .map(|d| LineView {
                    line: d.line,
                    same_as_line: d.same_as_line,
                    problem: None,
                    message: crate::i18n::duplicate_message(d, lang),
                })
                .collect(),
            malformed: r
                .malformed
                .iter()
                .map(|m| LineView {
                    line: m.line,
                    same_as_line: None,
                    problem: Some(m.problem.code().into()),
                    message: m.problem.message(m.line, lang),
                })
                .collect(),
            refused: r
                .refused
                .iter()
                .map(|f| RefusedView {
                    line: f.line,
                    status: f.status.into(),
                    redeemed_at: f.redeemed_at.map(|t| t.millis()),
                    detail: f.detail.clone(),
                    message: f.message(lang, kabao_app::display::datetime),
                })
                .collect(),
            unverified_count: r.unverified_count,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: i64,
    pub batch_id: i64,
    #[schema(value_type = super::contract::KeyStateName)]
    pub state: String,
    /// The key in clear: returned only to the merchant who owns it.
    pub secret: String,
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BatchView {
    pub id: i64,
    pub product_id: i64,
    pub created_at: i64,
    pub source: String,
    pub voided_at: Option<i64>,
    pub available: i64,
    pub sold: i64,
    pub voided: i64,
}

impl From<&Batch> for BatchView {
    fn from(b: &Batch) -> Self {
        BatchView {
            id: b.id.0,
            product_id: b.product_id.0,
            created_at: b.created_at.millis(),
            source: b.source.clone(),
            voided_at: b.voided_at.map(|t| t.millis()),
            available: b.available,
            sold: b.sold,
            voided: b.voided,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BatchesPageView {
    /// Newest first, at most 20.
    pub batches: Vec<BatchView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VoidView {
    pub batch_id: i64,
    pub voided: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificationInput {
    #[schema(value_type = super::contract::CertificationName)]
    pub level: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspensionInput {
    pub suspended: bool,
    /// Required (not only spaces) when suspending.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    #[schema(value_type = super::contract::RoleName)]
    pub role: String,
}

/// A page of a list: at most `limit` (1–500, default 100) items after skipping `offset` (≥ 0, default 0).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl Page {
    /// The page asked for, refused with 400 naming the parameter when out of range (never silently clamped).
    pub fn bounds(&self, default_limit: i64, max_limit: i64) -> Result<(i64, i64), crate::error::ApiError> {
        page_bounds(self.limit, self.offset, default_limit, max_limit)
    }
}

/// `limit` within 1..=`max_limit` (absent: `default_limit`) and `offset` ≥ 0 (absent: 0), or 400 naming the one.
pub fn page_bounds(
    limit: Option<i64>,
    offset: Option<i64>,
    default_limit: i64,
    max_limit: i64,
) -> Result<(i64, i64), crate::error::ApiError> {
    let limit = limit.unwrap_or(default_limit);
    if !(1..=max_limit).contains(&limit) {
        return Err(crate::error::ApiError::bad_request(
            "request.invalid_query",
            "limit",
            format!("limit 需在 1 到 {max_limit} 之间"),
            format!("limit must be between 1 and {max_limit}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(crate::error::ApiError::bad_request(
            "request.invalid_query",
            "offset",
            "offset 不能为负数",
            "offset must not be negative",
        ));
    }
    Ok((limit, offset))
}

/// Which keys, and a page of them: `limit` 1–1000 (default 100), `offset` ≥ 0.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    /// Only keys in this state (all when absent).
    #[param(value_type = Option<super::contract::KeyStateName>)]
    pub state: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct N {
        #[serde(with = "whole")]
        n: i64,
        #[serde(default, with = "whole::option")]
        m: Option<i64>,
    }

    fn n(json: &str) -> Result<(i64, Option<i64>), String> {
        serde_json::from_str::<N>(json).map(|v| (v.n, v.m)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_part_of_zero_is_that_integer() {
        assert_eq!(n(r#"{"n": 4}"#), Ok((4, None)));
        assert_eq!(n(r#"{"n": 4.0, "m": 2.0}"#), Ok((4, Some(2))));
        assert_eq!(n(r#"{"n": -3.0, "m": null}"#), Ok((-3, None)));
        assert!(n(r#"{"n": 4.5}"#).is_err());
        assert!(n(r#"{"n": 1e300}"#).is_err());
        assert!(n(r#"{"n": 18446744073709551615}"#).is_err());
        assert!(n(r#"{"n": "4"}"#).is_err());
    }
}
