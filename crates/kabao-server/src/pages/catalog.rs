//! Public pages: the home page with listed products, a product page, a shop page.

use super::{date, render, Ctx};
use crate::auth::Visitor;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kabao_core::catalog::CertificationLevel;
use kabao_core::warranty::warranty_label;
use kabao_core::{ProductId, ShopId};

/// A product as a card in a list.
pub struct Item {
    pub id: i64,
    pub title: String,
    pub price: String,
    pub category: &'static str,
    pub shop_id: i64,
    pub shop_name: String,
    pub certified: bool,
    pub certification: &'static str,
    pub stock: i64,
    /// The product's warranty in one line ("7 天质保 · 自动补单", 无质保), and whether it has one.
    pub warranty: String,
    pub warranty_covered: bool,
    /// The shop's trust score and level.
    pub trust_score: u8,
    pub trust_level: &'static str,
    /// Units sold (None where the list does not read it).
    pub sales: Option<i64>,
    /// The cover picture: address, width, height.
    pub cover: Option<Picture>,
}

/// A listing with variants is sold from its cheapest listed variant: "¥9.00 起" / "from ¥9.00".
pub fn price_from(price: kabao_core::Money, lang: kabao_core::Lang) -> String {
    match lang {
        kabao_core::Lang::Zh => format!("{price} 起"),
        kabao_core::Lang::En => format!("from {price}"),
    }
}

/// A stored picture as a page shows it (width and height keep the layout still while it loads).
pub struct Picture {
    pub url: String,
    pub width: i64,
    pub height: i64,
}

impl From<&kabao_store::MediaMeta> for Picture {
    fn from(m: &kabao_store::MediaMeta) -> Picture {
        Picture { url: format!("/media/{}.{}", m.hash, m.ext()), width: m.width, height: m.height }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    items: Vec<Item>,
    /// The search as typed, the chosen category and sort (their form values).
    q: String,
    category: &'static str,
    sort: &'static str,
    categories: Vec<(&'static str, &'static str)>,
    sorts: Vec<(&'static str, &'static str)>,
    /// The next page's address, if there is one.
    next_url: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct HomeQuery {
    q: Option<String>,
    category: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
}

pub async fn home(
    State(state): State<SharedState>,
    v: Visitor,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<HomeQuery>,
) -> Result<Response, ApiError> {
    use kabao_core::search::ListingSort;
    let req = kabao_app::catalog::BrowseRequest {
        q: q.q,
        category: q.category,
        sort: q.sort,
        cursor: q.cursor,
        limit: Some(kabao_app::catalog::DEFAULT_PAGE),
    };
    let browse = kabao_app::catalog::Browse::parse(&req)?;
    let page = kabao_app::catalog::browse(&state, &browse).await?;
    let lang = v.lang;
    let sort = browse.query.sort;
    let category = browse.query.category.map_or("", |c| c.as_str());
    let next_url = page.next_cursor.as_ref().map(|cursor| {
        let mut params: Vec<(&str, &str)> = Vec::new();
        if !browse.q.is_empty() {
            params.push(("q", &browse.q));
        }
        if !category.is_empty() {
            params.push(("category", category));
        }
        params.push(("sort", sort.as_str()));
        params.push(("cursor", cursor));
        format!("/?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    });
    let items = page
        .rows
        .into_iter()
        .map(|(r, t)| {
            let from_price = r.from_price;
            let l = r.listing;
            Item {
                cover: page.covers.get(&l.product.id).map(Picture::from),
                id: l.product.id.0,
                title: l.product.title,
                price: from_price.map_or_else(|| l.product.price.to_string(), |m| price_from(m, lang)),
                category: l.product.category.label(lang),
                shop_id: l.product.shop_id.0,
                shop_name: l.shop_name,
                certified: l.shop_certification != CertificationLevel::None,
                certification: l.shop_certification.label(lang),
                stock: l.product.stock_available,
                warranty: warranty_label(l.product.warranty, lang),
                warranty_covered: l.product.warranty.is_some(),
                trust_score: t.score,
                trust_level: t.level.label(lang),
                sales: Some(r.sales_count),
            }
        })
        .collect();
    let searching = browse.query.terms.is_some();
    let sorts = ListingSort::ALL
        .iter()
        .filter(|o| searching || **o != ListingSort::Relevance)
        .map(|o| (o.as_str(), o.label(lang)))
        .collect();
    Ok(render(HomePage {
        ctx: Ctx::new(&v),
        items,
        q: browse.q.clone(),
        category,
        sort: sort.as_str(),
        categories: kabao_core::catalog::Category::ALL.iter().map(|c| (c.as_str(), c.label(lang))).collect(),
        sorts,
        next_url,
    }))
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    ctx: Ctx,
    id: i64,
    can_buy: bool,
    error: Option<String>,
    title: String,
    price: String,
    category: &'static str,
    kind: &'static str,
    trial: bool,
    listed: bool,
    stock: i64,
    max_per_order: i64,
    description: String,
    shop_id: i64,
    shop_name: String,
    certification: &'static str,
    /// Certified at any level (未认证 is shown as a neutral badge, not a good one).
    certified: bool,
    opened: String,
    /// Custom goods: the fields the buyer fills (form input name, label) and the delivery deadline in hours.
    custom_fields: Vec<(String, String)>,
    delivery_hours: Option<i64>,
    /// The current warranty in one line, the rules in plain words (empty: 无质保) and the SHA-256 of what the
    /// buyer is shown.
    warranty_label: String,
    warranty_lines: Vec<String>,
    warranty_sha256: String,
    /// The shop is in the compensation fund (赔付保障).
    fund_member: bool,
    reviews: Vec<super::reviews::ReviewLine>,
    trust: super::trust::TrustPanel,
    /// First-order guidance for this visitor (low trust or a large first order), and the trial item to try.
    guidance: Option<String>,
    trial_id: Option<i64>,
    /// The visitor never ordered from the shop (a large first order asks for confirmation).
    first_time: bool,
    record: Option<super::trust::RecordView>,
    /// Warranty insurance (质保险) offered at checkout: its premium and reasons, shown before paying.
    insurance: Option<InsuranceOffer>,
    /// Extended warranty (延保) offered at checkout when the merchant's window is under 30 days.
    extension: Option<InsuranceOffer>,
    /// The product's pictures, cover first.
    pictures: Vec<Picture>,
    /// The listing's variants (面值): (product id, label, price, stock, chosen), as links; empty without variants.
    variants: Vec<VariantChoice>,
    /// This product is a listing with variants: buy one of them, not the listing itself.
    has_variants: bool,
    /// Wholesale tiers (批发价): (threshold, unit price).
    tiers: Vec<(i64, String)>,
}

/// One variant in the product page's picker.
struct VariantChoice {
    id: i64,
    label: String,
    price: String,
    stock: i64,
    chosen: bool,
}

/// The checkout add-on: the premium of one unit (the form's value; checkout multiplies by the quantity), the
/// label with the price, and the reasons.
struct InsuranceOffer {
    unit_fen: i64,
    label: String,
    reasons: String,
}

async fn insurance_offer(
    state: &SharedState,
    p: &kabao_store::Product,
    shop: &kabao_store::Shop,
    lang: kabao_core::Lang,
) -> Result<Option<InsuranceOffer>, ApiError> {
    use kabao_app::insurance::InsuranceError as E;
    let mut tx = state.store.begin(kabao_store::TxMode::Read).await?;
    match kabao_app::insurance::quote_in(state, &mut *tx, p, shop).await {
        Ok(q) => Ok(Some(InsuranceOffer {
            unit_fen: q.premium.fen(),
            label: match lang {
                kabao_core::Lang::Zh => {
                    format!("加购质保险：{} / 件（商家未按规则补单或退款时，由平台保险池先行赔付）", q.premium)
                }
                kabao_core::Lang::En => format!(
                    "Add warranty insurance: {} per item (the platform's pool pays if the merchant fails to remedy)",
                    q.premium
                ),
            },
            reasons: q.summary(lang),
        })),
        Err(E::NoPolicy | E::Quote(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn extension_offer(
    state: &SharedState,
    p: &kabao_store::Product,
    shop: &kabao_store::Shop,
    lang: kabao_core::Lang,
) -> Result<Option<InsuranceOffer>, ApiError> {
    use kabao_app::insurance::InsuranceError as E;
    match kabao_app::insurance::extension_for(state, p, shop).await {
        Ok(Some(e)) => Ok(Some(InsuranceOffer {
            unit_fen: e.quote.premium.fen(),
            label: match lang {
                kabao_core::Lang::Zh => format!(
                    "加购平台延保：{} / 件（商家质保结束后再保 {} 天，至下单后 30 天，由平台保险池赔付）",
                    e.quote.premium, e.days
                ),
                kabao_core::Lang::En => format!(
                    "Add the platform's extended warranty: {} per item ({} more days after the merchant's, to 30 \
                     days after ordering, paid by the platform's pool)",
                    e.quote.premium, e.days
                ),
            },
            reasons: e.quote.summary(lang),
        })),
        Ok(None) | Err(E::NoPolicy | E::Quote(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn product(
    State(state): State<SharedState>,
    v: Visitor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    product_page(&state, &v, ProductId(id), None).await
}

/// The product page, with an error from the buy box if there was one.
pub async fn product_page(
    state: &SharedState,
    v: &Visitor,
    id: ProductId,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let (p, shop) = kabao_app::products::public(state, id, v.user.as_ref()).await?;
    let lang = v.lang;
    let own = v.user.as_ref().is_some_and(|u| u.id == shop.owner_id);
    let spec = if p.kind == kabao_core::catalog::GoodsKind::Custom {
        kabao_app::inventory::custom_spec_of(&*state.store, p.id).await?
    } else {
        None
    };
    let ready = p.kind != kabao_core::catalog::GoodsKind::Custom || spec.is_some();
    let policy = kabao_app::warranty::current_of(state, p.id).await?;
    let (_, warranty_sha) = kabao_app::warranty::snapshot_of(policy.as_ref());
    let fund_member = kabao_app::disputes::is_member(state, shop.id).await?;
    let reviews = super::reviews::lines(&kabao_app::reviews::of_product(state, p.id).await?, lang);
    let trust = kabao_app::trust::of_shop(state, &shop).await?;
    let first_time = !kabao_app::trial::ordered_before(state, v.user.as_ref(), shop.id).await?;
    let guidance = kabao_app::trial::guidance(state, first_time, &trust, &shop, p.price).await?;
    let record = match v.user.as_ref() {
        Some(u) => super::trust::record_view(state, u, shop.id, lang).await?,
        None => None,
    };
    // A variant's page shows its listing's picker; a listing with variants is bought through one of them.
    let parent = kabao_app::promotions::parent_of(state, p.id).await?;
    let listing = parent.as_ref().map_or(p.id, |(parent, _)| *parent);
    let variants: Vec<VariantChoice> = kabao_app::promotions::variants(state, listing)
        .await?
        .into_iter()
        .map(|v| VariantChoice {
            id: v.product.id.0,
            label: v.label,
            price: v.product.price.to_string(),
            stock: v.product.stock_available,
            chosen: v.product.id == p.id,
        })
        .collect();
    let has_variants = parent.is_none() && !variants.is_empty();
    let tiers = kabao_app::promotions::tiers(state, p.id)
        .await?
        .into_iter()
        .map(|t| (t.min_quantity, t.unit_price.to_string()))
        .collect();
    let can_buy = p.listed && !shop.suspended && !own && ready && p.stock_available > 0 && !has_variants;
    let insurance = if can_buy { insurance_offer(state, &p, &shop, lang).await? } else { None };
    let extension = if can_buy { extension_offer(state, &p, &shop, lang).await? } else { None };
    let custom_fields = spec
        .as_ref()
        .map(|s| s.fields.iter().enumerate().map(|(i, l)| (format!("custom_{i}"), l.clone())).collect())
        .unwrap_or_default();
    let pictures = kabao_app::pictures::of_product(state, p.id).await?.iter().map(Picture::from).collect();
    Ok(render(ProductPage {
        pictures,
        ctx: Ctx::new(v),
        id: p.id.0,
        can_buy,
        error,
        title: p.title,
        price: p.price.to_string(),
        category: p.category.label(lang),
        kind: p.kind.label(lang),
        trial: p.trial,
        listed: p.listed,
        stock: p.stock_available,
        max_per_order: p.max_per_order,
        description: p.description,
        shop_id: shop.id.0,
        shop_name: shop.name,
        certification: shop.certification.label(lang),
        certified: shop.certification != CertificationLevel::None,
        opened: date(shop.opened_at),
        custom_fields,
        delivery_hours: spec.map(|s| s.delivery_hours),
        warranty_label: warranty_label(policy.as_ref().map(|c| c.policy.summary()), lang),
        warranty_lines: policy.map(|c| c.policy.describe(lang)).unwrap_or_default(),
        warranty_sha256: hex::encode(warranty_sha),
        fund_member,
        reviews,
        trust: super::trust::TrustPanel::new(&trust, lang),
        trial_id: guidance.as_ref().and_then(|g| g.trial.as_ref()).map(|t| t.0).filter(|t| *t != p.id.0),
        guidance: guidance.map(|g| g.text(state, lang)),
        first_time,
        record,
        insurance,
        extension,
        variants,
        has_variants,
        tiers,
    }))
}

#[derive(Template)]
#[template(path = "shop.html")]
struct ShopPage {
    ctx: Ctx,
    name: String,
    description: String,
    certification: &'static str,
    certified: bool,
    opened: String,
    suspended: bool,
    /// Its name or description is held for review (risk scanner): marked for everyone, without its products.
    under_review: bool,
    items: Vec<Item>,
    /// The shop is in the compensation fund (赔付保障).
    fund_member: bool,
    reviews: Vec<super::reviews::ReviewLine>,
    trust: super::trust::TrustPanel,
}

pub async fn shop(
    State(state): State<SharedState>,
    v: Visitor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let shop = kabao_app::shops::public_shop(&state, ShopId(id), v.user.as_ref()).await?;
    let products = kabao_app::products::listed_in_shop(&state, &shop).await?;
    let fund_member = kabao_app::disputes::is_member(&state, shop.id).await?;
    let lang = v.lang;
    let reviews = super::reviews::lines(&kabao_app::reviews::of_shop(&state, shop.id).await?, lang);
    let score = kabao_app::trust::of_shop(&state, &shop).await?;
    let trust = super::trust::TrustPanel::new(&score, lang);
    let items = products
        .into_iter()
        .map(|p| Item {
            id: p.id.0,
            title: p.title,
            price: p.price.to_string(),
            category: p.category.label(lang),
            shop_id: shop.id.0,
            shop_name: shop.name.clone(),
            certified: shop.certification != CertificationLevel::None,
            certification: shop.certification.label(lang),
            stock: p.stock_available,
            warranty: warranty_label(p.warranty, lang),
            warranty_covered: p.warranty.is_some(),
            trust_score: score.score,
            trust_level: score.level.label(lang),
            sales: None,
            cover: None,
        })
        .collect();
    let ctx = Ctx::new(&v);
    let under_review = !shop.held_rules.is_empty();
    // Others see a held shop without its name (see kabao_app::shops::public_shop).
    let name = if shop.name.is_empty() { ctx.t.get("shop.under_review_name").to_string() } else { shop.name };
    Ok(render(ShopPage {
        ctx,
        certification: shop.certification.label(lang),
        certified: shop.certification != CertificationLevel::None,
        opened: date(shop.opened_at),
        suspended: shop.suspended,
        under_review,
        name,
        description: shop.description,
        items,
        fund_member,
        reviews,
        trust,
    }))
}
