//! Shops and products: names, categories, certification and the limits a listing must respect.

use crate::i18n::{Lang, Localized};
use crate::money::Money;
use serde::{Deserialize, Serialize};

/// A shop's certification, set by an admin (gold is later earned from the record, see
/// [`crate::trust::gold_eligible`]). A new shop starts uncertified, hence the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificationLevel {
    #[default]
    None,
    Verified,
    Enterprise,
    Gold,
}

impl CertificationLevel {
    pub const ALL: [CertificationLevel; 4] = [
        CertificationLevel::None,
        CertificationLevel::Verified,
        CertificationLevel::Enterprise,
        CertificationLevel::Gold,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            CertificationLevel::None => "none",
            CertificationLevel::Verified => "verified",
            CertificationLevel::Enterprise => "enterprise",
            CertificationLevel::Gold => "gold",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            CertificationLevel::None => lang.pick("未认证", "Not certified"),
            CertificationLevel::Verified => lang.pick("实名认证", "Verified"),
            CertificationLevel::Enterprise => lang.pick("企业店铺", "Enterprise"),
            CertificationLevel::Gold => lang.pick("金牌卖家", "Gold seller"),
        }
    }
}

/// What kind of virtual good a product is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    GameCard,
    TopUp,
    SoftwareLicense,
    MembershipAccount,
    GameAccount,
    GiftCard,
    Custom,
}

/// The fixed category list (docs/catalog.md), in the order menus show it; `Custom` (其他) stays last.
impl Category {
    pub const ALL: [Category; 7] = [
        Category::GameCard,
        Category::TopUp,
        Category::SoftwareLicense,
        Category::MembershipAccount,
        Category::GameAccount,
        Category::GiftCard,
        Category::Custom,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::GameCard => "game_card",
            Category::TopUp => "top_up",
            Category::SoftwareLicense => "software_license",
            Category::MembershipAccount => "membership_account",
            Category::GameAccount => "game_account",
            Category::GiftCard => "gift_card",
            Category::Custom => "custom",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Category::GameCard => lang.pick("游戏点卡", "Game card"),
            Category::TopUp => lang.pick("话费充值", "Phone top-up"),
            Category::SoftwareLicense => lang.pick("软件激活码", "Software license"),
            Category::MembershipAccount => lang.pick("会员月卡", "Membership"),
            Category::GameAccount => lang.pick("游戏账号", "Game account"),
            Category::GiftCard => lang.pick("礼品卡", "Gift card"),
            Category::Custom => lang.pick("其他", "Other"),
        }
    }
}

/// Standard goods are delivered from card-key stock, one key per unit; shared goods (循环卡密) deliver one
/// secret to every buyer, with a stock count the merchant sets; custom goods are delivered by hand per order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoodsKind {
    Standard,
    Shared,
    Custom,
}

impl GoodsKind {
    pub const ALL: [GoodsKind; 3] = [GoodsKind::Standard, GoodsKind::Shared, GoodsKind::Custom];

    pub fn as_str(self) -> &'static str {
        match self {
            GoodsKind::Standard => "standard",
            GoodsKind::Shared => "shared",
            GoodsKind::Custom => "custom",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(GoodsKind::Standard),
            "shared" => Some(GoodsKind::Shared),
            "custom" => Some(GoodsKind::Custom),
            _ => None,
        }
    }
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            GoodsKind::Standard => lang.pick("自动发货", "Automatic delivery"),
            GoodsKind::Shared => lang.pick("循环卡密（所有买家同一份）", "Shared secret (same for every buyer)"),
            GoodsKind::Custom => lang.pick("人工交付", "Manual delivery"),
        }
    }
}

/// Limits of a listing.
pub const SHOP_NAME_MAX_CHARS: usize = 40;
pub const DESCRIPTION_MAX_CHARS: usize = 5_000;
pub const TITLE_MAX_CHARS: usize = 80;
pub const MAX_PRICE: Money = Money::from_fen(10_000_000 * 100);
pub const MAX_PER_ORDER_LIMIT: i64 = 1_000;

/// Why shop or product input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("shop name must be 1-40 characters")]
    ShopName,
    #[error("description too long")]
    Description,
    #[error("title must be 1-80 characters")]
    Title,
    #[error("unknown category")]
    Category,
    #[error("unknown goods kind")]
    GoodsKind,
    #[error("price out of range")]
    Price,
    #[error("max per order out of range")]
    MaxPerOrder,
    #[error("unknown certification level")]
    Certification,
}

impl Localized for CatalogError {
    fn code(&self) -> &'static str {
        match self {
            CatalogError::ShopName => "shop.name_invalid",
            CatalogError::Description => "catalog.description_too_long",
            CatalogError::Title => "product.title_invalid",
            CatalogError::Category => "product.category_invalid",
            CatalogError::GoodsKind => "product.kind_invalid",
            CatalogError::Price => "product.price_invalid",
            CatalogError::MaxPerOrder => "product.max_per_order_invalid",
            CatalogError::Certification => "shop.certification_invalid",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            CatalogError::ShopName => "name",
            CatalogError::Description => "description",
            CatalogError::Title => "title",
            CatalogError::Category => "category",
            CatalogError::GoodsKind => "kind",
            CatalogError::Price => "price",
            CatalogError::MaxPerOrder => "max_per_order",
            CatalogError::Certification => "level",
        })
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            CatalogError::ShopName => lang.pick("店铺名称需为 1–40 个字符", "Shop name must be 1–40 characters"),
            CatalogError::Description => {
                lang.pick("描述不能超过 5000 个字符", "Description must be at most 5000 characters")
            }
            CatalogError::Title => lang.pick("商品标题需为 1–80 个字符", "Product title must be 1–80 characters"),
            CatalogError::Category => lang.pick("商品分类无效", "Unknown product category"),
            CatalogError::GoodsKind => lang
                .pick("商品类型无效（自动发货、循环卡密或人工交付）", "Goods kind must be standard, shared or custom"),
            CatalogError::Price => {
                lang.pick("价格需在 ¥0.01 到 ¥10,000,000 之间", "Price must be between ¥0.01 and ¥10,000,000")
            }
            CatalogError::MaxPerOrder => {
                lang.pick("每单限购数量需在 1 到 1000 之间", "Max per order must be between 1 and 1000")
            }
            CatalogError::Certification => lang.pick("认证等级无效", "Unknown certification level"),
        }
        .to_string()
    }
}

fn clean_text(s: &str) -> String {
    s.trim().chars().filter(|c| !c.is_control() || *c == '\n').collect()
}

/// A shop's name: trimmed, 1–40 characters, no control characters.
pub fn parse_shop_name(s: &str) -> Result<String, CatalogError> {
    // The limit holds for the text as sent too, so what a client may send is what it can count.
    if s.chars().count() > SHOP_NAME_MAX_CHARS {
        return Err(CatalogError::ShopName);
    }
    let s = clean_text(s).replace('\n', " ");
    let n = s.chars().count();
    if n == 0 || n > SHOP_NAME_MAX_CHARS {
        return Err(CatalogError::ShopName);
    }
    Ok(s)
}

/// A free-text description: trimmed, at most 5000 characters; may be empty.
pub fn parse_description(s: &str) -> Result<String, CatalogError> {
    if s.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(CatalogError::Description);
    }
    let s = clean_text(&s.replace("\r\n", "\n"));
    if s.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(CatalogError::Description);
    }
    Ok(s)
}

/// A product title: trimmed, 1–80 characters.
pub fn parse_title(s: &str) -> Result<String, CatalogError> {
    if s.chars().count() > TITLE_MAX_CHARS {
        return Err(CatalogError::Title);
    }
    let s = clean_text(s).replace('\n', " ");
    let n = s.chars().count();
    if n == 0 || n > TITLE_MAX_CHARS {
        return Err(CatalogError::Title);
    }
    Ok(s)
}

/// A product price: at least 1 分, at most ¥10,000,000.
pub fn check_price(price: Money) -> Result<Money, CatalogError> {
    if price.is_positive() && price <= MAX_PRICE {
        Ok(price)
    } else {
        Err(CatalogError::Price)
    }
}

/// How many units one order may hold: 1..=1000.
pub fn check_max_per_order(n: i64) -> Result<i64, CatalogError> {
    if (1..=MAX_PER_ORDER_LIMIT).contains(&n) {
        Ok(n)
    } else {
        Err(CatalogError::MaxPerOrder)
    }
}

/// A product as a merchant describes it, validated. The store persists exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDraft {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub kind: GoodsKind,
    pub price: Money,
    pub max_per_order: i64,
    pub trial: bool,
    pub listed: bool,
}

/// Raw product input as it arrives from a form or the API.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProductInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    pub kind: String,
    pub price_fen: i64,
    pub max_per_order: i64,
    #[serde(default)]
    pub trial: bool,
    #[serde(default)]
    pub listed: bool,
}

impl ProductDraft {
    /// Validates every field; the first problem found is returned.
    pub fn parse(input: &ProductInput) -> Result<ProductDraft, CatalogError> {
        Ok(ProductDraft {
            title: parse_title(&input.title)?,
            description: parse_description(&input.description)?,
            category: Category::parse(&input.category).ok_or(CatalogError::Category)?,
            kind: GoodsKind::parse(&input.kind).ok_or(CatalogError::GoodsKind)?,
            price: check_price(Money::from_fen(input.price_fen))?,
            max_per_order: check_max_per_order(input.max_per_order)?,
            trial: input.trial,
            listed: input.listed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            title: "王者荣耀 60 点券".into(),
            description: "官方直充卡密".into(),
            category: "game_card".into(),
            kind: "standard".into(),
            price_fen: 600,
            max_per_order: 10,
            trial: false,
            listed: true,
        }
    }

    #[test]
    fn a_valid_product_parses() {
        let d = ProductDraft::parse(&input()).map_err(|e| e.to_string());
        assert_eq!(d.map(|d| d.price), Ok(Money::from_fen(600)));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Mutation = Box<dyn Fn(&mut ProductInput)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|i| i.title = "  ".into()), "title"),
            (Box::new(|i| i.title = "x".repeat(81)), "title"),
            (Box::new(|i| i.category = "drugs".into()), "category"),
            (Box::new(|i| i.kind = "magic".into()), "kind"),
            (Box::new(|i| i.price_fen = 0), "price"),
            (Box::new(|i| i.price_fen = -5), "price"),
            (Box::new(|i| i.max_per_order = 0), "max_per_order"),
            (Box::new(|i| i.max_per_order = 1001), "max_per_order"),
            (Box::new(|i| i.description = "x".repeat(5001)), "description"),
        ];
        for (mutate, field) in cases {
            let mut i = input();
            mutate(&mut i);
            let err = ProductDraft::parse(&i).err();
            assert_eq!(err.as_ref().and_then(|e| e.field()), Some(field), "{err:?}");
        }
    }

    #[test]
    fn text_limits_hold_for_the_text_as_sent_not_only_after_cleaning() {
        // 81 characters of which one is a control character: 80 after cleaning, yet over the limit as sent.
        let title = format!("{}\u{1}", "x".repeat(80));
        assert_eq!(parse_title(&title), Err(CatalogError::Title));
        assert_eq!(parse_shop_name(&format!("{}\u{7f}", "x".repeat(40))), Err(CatalogError::ShopName));
        assert_eq!(parse_description(&format!("{}\u{1}", "x".repeat(5000))), Err(CatalogError::Description));
        assert_eq!(parse_description(&"x".repeat(5000)).map(|d| d.len()), Ok(5000));
    }

    #[test]
    fn shop_names() {
        assert_eq!(parse_shop_name("  星辰点卡  "), Ok("星辰点卡".to_string()));
        assert_eq!(parse_shop_name(""), Err(CatalogError::ShopName));
        assert_eq!(parse_shop_name(&"店".repeat(41)), Err(CatalogError::ShopName));
    }
}
