//! The API's request and response bodies. Inputs refuse unknown fields, so a typo is an error, not a no-op.

use kabao_core::inventory::ImportReport;
use kabao_store::{ApiToken, Batch, Product, Shop, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
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
    /// A label for the token, e.g. "stock sync".
    pub name: String,
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
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShopView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub opened_at: i64,
    /// none / verified / enterprise / gold
    pub certification: String,
    pub suspended: bool,
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
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// game_card / top_up / software_license / membership_account / game_account / custom
    pub category: String,
    /// standard (delivered from card keys) / custom (delivered by hand)
    pub kind: String,
    /// Price in 分 (1/100 yuan).
    pub price_fen: i64,
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
    pub category: String,
    pub kind: String,
    pub price_fen: i64,
    pub max_per_order: i64,
    pub trial: bool,
    pub listed: bool,
    pub stock_available: i64,
    /// The one-line summary of the product's current warranty policy, as every page shows it.
    pub warranty: WarrantySummaryView,
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
    pub accepted_lines: Vec<[u32; 2]>,
    pub duplicates: Vec<LineView>,
    pub malformed: Vec<LineView>,
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
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: i64,
    pub batch_id: i64,
    /// available / sold / voided
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
pub struct VoidView {
    pub batch_id: i64,
    pub voided: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificationInput {
    /// none / verified / enterprise / gold
    pub level: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspensionInput {
    pub suspended: bool,
    #[serde(default)]
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// buyer / merchant / arbiter / admin
    pub role: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    /// available / sold / voided
    pub state: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}
