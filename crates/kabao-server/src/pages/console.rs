//! The merchant console: open the shop, manage products, import card keys and read the per-line report,
//! void batches, manage API tokens.

use super::account::CsrfOnly;
use super::{date, datetime, render, see_other, Ctx, PageForm};
use crate::auth::{MerchantVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::SharedState;
use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_core::catalog::{Category, GoodsKind, ProductInput};
use kabao_core::inventory::{ImportError, ImportReport};
use kabao_core::{ApiTokenId, BatchId, Lang, Money, ProductId};
use kabao_store::{Product, User};
use serde::Deserialize;

pub struct ShopView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub certification: &'static str,
    pub certified: bool,
    pub opened: String,
    pub suspended: bool,
    /// Why the name or description was sent to the admin's risk review, one reason per rule; empty if not.
    pub held: Vec<String>,
}

pub struct ProductRow {
    pub id: i64,
    pub title: String,
    pub price: String,
    pub stock: i64,
    pub listed: bool,
    /// Why the listing is held for review (not listed), one reason per rule; empty if it is not held.
    pub held: Vec<String>,
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    ctx: Ctx,
    error: Option<String>,
    shop: Option<ShopView>,
    shop_name: String,
    shop_description: String,
    products: Vec<ProductRow>,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

async fn console_page(
    state: &SharedState,
    v: &Visitor,
    user: &User,
    error: Option<String>,
    new_token: Option<String>,
    draft: (String, String),
) -> Result<Response, ApiError> {
    let kabao_app::shops::Console { shop, products, tokens } = kabao_app::shops::console(state, user).await?;
    let lang = v.lang;
    let page = ConsolePage {
        ctx: Ctx::new(v),
        error,
        shop: shop.map(|s| ShopView {
            id: s.id.0,
            certification: s.certification.label(lang),
            certified: s.certification != kabao_core::catalog::CertificationLevel::None,
            opened: date(s.opened_at),
            suspended: s.suspended,
            held: kabao_app::listing::held_reasons(&s.held_rules, lang),
            name: s.name,
            description: s.description,
        }),
        shop_name: draft.0,
        shop_description: draft.1,
        products: products
            .into_iter()
            .map(|p| ProductRow {
                id: p.id.0,
                price: p.price.to_string(),
                stock: p.stock_available,
                listed: p.listed,
                held: kabao_app::listing::held_reasons(&p.held_rules, lang),
                title: p.title,
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id.0,
                created: datetime(t.created_at),
                revoked: t.revoked_at.is_some(),
                name: t.name,
                prefix: t.prefix,
            })
            .collect(),
        new_token,
    };
    // The page may show a new API token: never cache it.
    Ok(([(header::CACHE_CONTROL, "no-store")], render(page)).into_response())
}

fn status(mut res: Response, code: StatusCode) -> Response {
    *res.status_mut() = code;
    res
}

pub async fn home(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
) -> Result<Response, ApiError> {
    console_page(&state, &v, &user, None, None, Default::default()).await
}

#[derive(Deserialize)]
pub struct ShopForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

pub async fn save_shop(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    PageForm(f): PageForm<ShopForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match kabao_app::shops::save_my_shop(&state, &user, &f.name, &f.description).await.map_err(ApiError::from) {
        Ok(_) => Ok(see_other("/console")),
        Err(e) if e.status.is_client_error() => {
            let page =
                console_page(&state, &v, &user, Some(e.message(v.lang).to_string()), None, (f.name, f.description))
                    .await?;
            Ok(status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

/// The product form's fields as shown (strings, so a refused value is shown back as typed).
pub struct FormView {
    pub action: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub kind: String,
    pub price: String,
    pub max_per_order: String,
    pub trial: bool,
    pub listed: bool,
    pub categories: Vec<(&'static str, &'static str)>,
    pub kinds: Vec<(&'static str, &'static str)>,
}

impl FormView {
    fn empty(lang: Lang) -> FormView {
        FormView {
            action: "/console/products".into(),
            title: String::new(),
            description: String::new(),
            category: Category::GameCard.as_str().into(),
            kind: GoodsKind::Standard.as_str().into(),
            price: String::new(),
            max_per_order: "10".into(),
            trial: false,
            listed: true,
            categories: Category::ALL.iter().map(|c| (c.as_str(), c.label(lang))).collect(),
            kinds: GoodsKind::ALL.iter().map(|k| (k.as_str(), k.label(lang))).collect(),
        }
    }

    fn of(p: &Product, lang: Lang) -> FormView {
        FormView {
            action: format!("/console/products/{}", p.id),
            title: p.title.clone(),
            description: p.description.clone(),
            category: p.category.as_str().into(),
            kind: p.kind.as_str().into(),
            price: p.price.yuan_string(),
            max_per_order: p.max_per_order.to_string(),
            trial: p.trial,
            listed: p.listed,
            ..FormView::empty(lang)
        }
    }

    fn from_form(f: &ProductForm, action: String, lang: Lang) -> FormView {
        FormView {
            action,
            title: f.title.clone(),
            description: f.description.clone(),
            category: f.category.clone(),
            kind: f.kind.clone(),
            price: f.price.clone(),
            max_per_order: f.max_per_order.clone(),
            trial: f.trial.is_some(),
            listed: f.listed.is_some(),
            ..FormView::empty(lang)
        }
    }
}

#[derive(Template)]
#[template(path = "product_new.html")]
struct NewProductPage {
    ctx: Ctx,
    error: Option<String>,
    form: FormView,
}

pub async fn new_product(MerchantVisitor { v, .. }: MerchantVisitor) -> Result<Response, ApiError> {
    Ok(render(NewProductPage { ctx: Ctx::new(&v), error: None, form: FormView::empty(v.lang) }))
}

#[derive(Deserialize)]
pub struct ProductForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    max_per_order: String,
    trial: Option<String>,
    listed: Option<String>,
}

/// Parses the form's text fields into the core's input, naming the field that is wrong.
fn product_input(f: &ProductForm) -> Result<ProductInput, ApiError> {
    let price = Money::parse_yuan(&f.price)
        .map_err(|e| ApiError::from_localized(StatusCode::BAD_REQUEST, &e).with_field("price"))?;
    let max_per_order: i64 = f.max_per_order.trim().parse().map_err(|_| {
        ApiError::bad_request(
            "product.max_per_order_invalid",
            "max_per_order",
            "每单限购数量需为 1 到 1000 的整数",
            "Max per order must be a whole number from 1 to 1000",
        )
    })?;
    Ok(ProductInput {
        title: f.title.clone(),
        description: f.description.clone(),
        category: f.category.clone(),
        kind: f.kind.clone(),
        price_fen: price.fen(),
        max_per_order,
        trial: f.trial.is_some(),
        listed: f.listed.is_some(),
    })
}

pub async fn create_product(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    PageForm(f): PageForm<ProductForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let result = match product_input(&f) {
        Ok(input) => kabao_app::products::create(&state, &user, &input).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => Ok(see_other(&format!("/console/products/{}", p.id))),
        Err(e) if e.status.is_client_error() => {
            let page = render(NewProductPage {
                ctx: Ctx::new(&v),
                error: Some(e.message(v.lang).to_string()),
                form: FormView::from_form(&f, "/console/products".into(), v.lang),
            });
            Ok(status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

pub struct ReportView {
    pub accepted_count: u64,
    pub accepted_lines: String,
    pub malformed: Vec<String>,
    pub duplicates: Vec<String>,
    pub refused: Vec<String>,
    pub unverified_count: u64,
}

impl ReportView {
    fn new(r: &ImportReport, lang: Lang) -> ReportView {
        ReportView {
            accepted_count: r.accepted_count,
            accepted_lines: r
                .accepted_lines
                .iter()
                .map(|[a, b]| if a == b { a.to_string() } else { format!("{a}–{b}") })
                .collect::<Vec<_>>()
                .join(", "),
            malformed: r.malformed.iter().map(|m| m.problem.message(m.line, lang)).collect(),
            duplicates: r.duplicates.iter().map(|d| crate::i18n::duplicate_message(d, lang)).collect(),
            refused: r.refused.iter().map(|f| f.message(lang, kabao_app::display::datetime)).collect(),
            unverified_count: r.unverified_count,
        }
    }
}

pub struct BatchRow {
    pub id: i64,
    pub created: String,
    pub source: String,
    pub available: i64,
    pub sold: i64,
    pub voided: i64,
    pub can_void: bool,
}

pub struct KeyRow {
    pub secret: String,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "console_product.html")]
struct ProductConsolePage {
    ctx: Ctx,
    id: i64,
    stock: i64,
    kind_standard: bool,
    kind_shared: bool,
    shared_secret: String,
    /// Why the product is held for review (not listed), one reason per rule; empty if it is not held.
    held: Vec<String>,
    kind_custom: bool,
    /// Custom goods: the field labels, one per line, and the delivery deadline in hours.
    custom_fields: String,
    delivery_hours: i64,
    /// Templates to pick from (id, name), and the current policy (version, plain-language lines).
    warranty_templates: Vec<(&'static str, &'static str)>,
    warranty_version: Option<i32>,
    warranty_lines: Vec<String>,
    builder: PolicyBuilder,
    error: Option<String>,
    report: Option<ReportView>,
    /// One page of batches, newest first, with links to the next (older) page and back to the newest.
    batches: Vec<BatchRow>,
    batches_older: Option<String>,
    batches_newest: Option<String>,
    keys: Vec<KeyRow>,
    form: FormView,
    pictures: Vec<PictureRow>,
    /// The low-stock alert's threshold (the product's own or the default).
    stock_threshold: i64,
}

/// A product picture in the console, with the orders its two buttons submit (comma-separated hashes).
pub struct PictureRow {
    pub picture: super::catalog::Picture,
    pub as_cover: String,
    pub without: String,
}

/// How many keys the console lists (the oldest, walking the (product, id) index); the API pages through the rest.
const KEYS_SHOWN: i64 = 100;

/// The console's product page. `batch_cursor` picks the page of batches (the newest when `None`); the pages shown
/// again after a form always show the newest.
#[allow(clippy::too_many_arguments)]
async fn product_page(
    state: &SharedState,
    v: &Visitor,
    user: &User,
    id: ProductId,
    batch_cursor: Option<&str>,
    error: Option<String>,
    report: Option<ReportView>,
    form: Option<FormView>,
) -> Result<Response, ApiError> {
    let (p, _) = kabao_app::products::owned(state, user, id).await?;
    let lang = v.lang;
    let batches = kabao_app::inventory::list_batches_for_owner(&*state.store, user.id, id, batch_cursor).await?;
    let later = batch_cursor.is_some_and(|c| !c.trim().is_empty());
    let batches_newest = later.then(|| format!("/console/products/{}#batches", id.0));
    let batches_older = batches.next.map(|c| format!("/console/products/{}?batch_cursor={c}#batches", id.0));
    let keys =
        kabao_app::inventory::list_keys_for_owner(&*state.store, &state.keyring, user.id, id, None, KEYS_SHOWN, 0)
            .await?;
    let shared_secret = if p.kind == GoodsKind::Shared {
        kabao_app::inventory::shared_secret_of(&*state.store, &state.keyring, &p)
            .await?
            .map(|s| s.to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let spec = if p.kind == GoodsKind::Custom {
        kabao_app::inventory::custom_spec_of(&*state.store, p.id).await?
    } else {
        None
    };
    let policy = kabao_app::warranty::current_of(state, p.id).await?;
    let stock_threshold = kabao_app::webhooks::stock_threshold(state, user, p.id).await?;
    let pics = kabao_app::pictures::of_product(state, p.id).await?;
    let hashes: Vec<&str> = pics.iter().map(|m| m.hash.as_str()).collect();
    let pictures = pics
        .iter()
        .map(|m| PictureRow {
            picture: super::catalog::Picture::from(m),
            as_cover: std::iter::once(m.hash.as_str())
                .chain(hashes.iter().copied().filter(|h| *h != m.hash))
                .collect::<Vec<_>>()
                .join(","),
            without: hashes.iter().copied().filter(|h| *h != m.hash).collect::<Vec<_>>().join(","),
        })
        .collect();
    let page = ProductConsolePage {
        pictures,
        stock_threshold,
        ctx: Ctx::new(v),
        id: p.id.0,
        stock: p.stock_available,
        kind_standard: p.kind == GoodsKind::Standard,
        kind_shared: p.kind == GoodsKind::Shared,
        shared_secret,
        held: kabao_app::listing::held_reasons(&p.held_rules, lang),
        kind_custom: p.kind == GoodsKind::Custom,
        custom_fields: spec.as_ref().map(|s| s.fields.join("\n")).unwrap_or_default(),
        delivery_hours: spec.map(|s| s.delivery_hours).unwrap_or(kabao_core::custom::DEFAULT_DELIVERY_HOURS),
        warranty_templates: kabao_core::warranty::templates()
            .into_iter()
            .map(|t| (t.id, if lang == Lang::Zh { t.name_zh } else { t.name_en }))
            .collect(),
        warranty_version: policy.as_ref().map(|c| c.version.version),
        builder: PolicyBuilder::of(policy.as_ref().map(|c| &c.policy), lang),
        warranty_lines: policy.map(|c| c.policy.describe(lang)).unwrap_or_default(),
        error,
        report,
        batches_older,
        batches_newest,
        batches: batches
            .batches
            .iter()
            .map(|b| BatchRow {
                id: b.id.0,
                created: datetime(b.created_at),
                source: b.source.clone(),
                available: b.available,
                sold: b.sold,
                voided: b.voided,
                can_void: b.voided_at.is_none() && b.sold == 0 && b.available > 0,
            })
            .collect(),
        keys: keys
            .iter()
            .map(|k| KeyRow {
                secret: k.secret.to_string(),
                state: match k.state {
                    kabao_store::KeyState::Available => lang.pick("可售", "available"),
                    kabao_store::KeyState::Sold => lang.pick("已售", "sold"),
                    kabao_store::KeyState::Voided => lang.pick("已作废", "voided"),
                },
            })
            .collect(),
        form: form.unwrap_or_else(|| FormView::of(&p, lang)),
    };
    // The page shows keys in clear: never cache it.
    Ok(([(header::CACHE_CONTROL, "no-store")], render(page)).into_response())
}

#[derive(Deserialize)]
pub struct ProductQuery {
    /// The page of batches to show (the last batch id of the newer page); the newest when absent.
    batch_cursor: Option<String>,
}

pub async fn product(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ProductQuery>,
) -> Result<Response, ApiError> {
    product_page(&state, &v, &user, ProductId(id), q.batch_cursor.as_deref(), None, None, None).await
}

pub async fn update_product(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<ProductForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let result = match product_input(&f) {
        Ok(input) => kabao_app::products::update(&state, &user, ProductId(id), &input).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => Ok(see_other(&format!("/console/products/{}", p.id))),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let form = FormView::from_form(&f, format!("/console/products/{id}"), v.lang);
            let page = product_page(
                &state,
                &v,
                &user,
                ProductId(id),
                None,
                Some(e.message(v.lang).to_string()),
                None,
                Some(form),
            )
            .await?;
            Ok(status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

pub async fn import_keys(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let too_large = || {
        ApiError::from_localized(
            StatusCode::PAYLOAD_TOO_LARGE,
            &ImportError::TooLarge { max_bytes: kabao_app::inventory::MAX_UPLOAD_BYTES as u64 },
        )
    };
    // Not a multipart form at all (no boundary, another content type): say so on a page, not in plain text.
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(
            "request.invalid_body",
            "file",
            format!("上传内容无法读取：{}", e.body_text()),
            format!("The upload could not be read: {}", e.body_text()),
        )
    })?;
    let mut csrf = None;
    let mut file: Option<Vec<u8>> = None;
    // The paste box posts the same form with its text as `keys` instead of a file: same parser, same
    // all-or-none import, same report.
    let mut source = "upload";
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("_csrf") => csrf = Some(field.text().await.map_err(|_| too_large())?),
                Some(name @ ("file" | "keys")) => {
                    let pasted = name == "keys";
                    let bytes = field.bytes().await.map_err(|_| too_large())?;
                    if bytes.len() > kabao_app::inventory::MAX_UPLOAD_BYTES {
                        return Err(too_large());
                    }
                    if !bytes.is_empty() || file.is_none() {
                        file = Some(bytes.to_vec());
                        source = if pasted { "paste" } else { "upload" };
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad_request(
                    "request.invalid_body",
                    "file",
                    format!("上传内容无法读取：{e}"),
                    format!("The upload could not be read: {e}"),
                ))
            }
        }
    }
    v.check_csrf(csrf.as_deref())?;
    let Some(bytes) = file else {
        return Err(ApiError::from_localized(StatusCode::BAD_REQUEST, &ImportError::Empty));
    };
    match kabao_app::inventory::import_keys_checked(
        &*state.store,
        &state.keyring,
        &state.verifiers,
        user.id,
        ProductId(id),
        &bytes,
        source,
        state.now(),
    )
    .await
    {
        Ok(out) => {
            state.metrics.keys_imported.inc_by(out.report.accepted_count);
            let report = ReportView::new(&out.report, v.lang);
            product_page(&state, &v, &user, ProductId(id), None, None, Some(report), None).await
        }
        Err(e) => {
            let err = ApiError::from(e);
            if !matches!(err.status, StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::CONFLICT) {
                return Err(err);
            }
            let page =
                product_page(&state, &v, &user, ProductId(id), None, Some(err.message(v.lang).to_string()), None, None)
                    .await?;
            Ok(status(page, err.status))
        }
    }
}

pub async fn void_batch(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<CsrfOnly>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    kabao_app::inventory::void_batch(&*state.store, user.id, BatchId(id), state.now()).await?;
    let product =
        kabao_app::inventory::batch_product(&*state.store, BatchId(id)).await?.map(|p| p.0).unwrap_or_default();
    Ok(see_other(&format!("/console/products/{product}")))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    PageForm(f): PageForm<TokenForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match crate::auth::create_api_token(&state, &user, &f.name).await {
        Ok(t) => console_page(&state, &v, &user, None, Some(t.token), Default::default()).await,
        Err(e) if e.status.is_client_error() => {
            let page =
                console_page(&state, &v, &user, Some(e.message(v.lang).to_string()), None, Default::default()).await?;
            Ok(status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

pub async fn revoke_token(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<CsrfOnly>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    kabao_app::sessions::revoke_api_token(&state, &user, ApiTokenId(id)).await?;
    Ok(see_other("/console"))
}

/// After a form on the console's product page: back to the page, or the page again with the refusal in place
/// (400, nothing changed). Other errors go to the error page.
async fn back_to_product(
    state: &SharedState,
    v: &Visitor,
    user: &User,
    id: ProductId,
    result: Result<(), ApiError>,
) -> Result<Response, ApiError> {
    match result {
        Ok(()) => Ok(see_other(&format!("/console/products/{}", id.0))),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let page = product_page(state, v, user, id, None, Some(e.message(v.lang).to_string()), None, None).await?;
            Ok(status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct SharedForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    stock: String,
}

/// Sets a shared-secret product's secret and stock from the console.
pub async fn set_shared(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<SharedForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let stock = f.stock.trim().parse::<i64>().unwrap_or(-1);
    let result = kabao_app::inventory::set_shared_secret(
        &*state.store,
        &state.keyring,
        &kabao_app::chat::scan_config(&state),
        user.id,
        ProductId(id),
        &f.secret,
        stock,
        state.now(),
    )
    .await
    // A held product's page says why, from the rules stored with it.
    .map(|_held| ())
    .map_err(ApiError::from);
    back_to_product(&state, &v, &user, ProductId(id), result).await
}

#[derive(Deserialize)]
pub struct StockAlertForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    threshold: String,
}

/// Sets the low-stock alert's threshold from the console: the API's rule (0 to 1,000,000; 0 never alerts).
pub async fn set_stock_alert(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<StockAlertForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    // Not a whole number: refused by the same rule as an out-of-range one.
    let threshold = f.threshold.trim().parse::<i64>().unwrap_or(-1);
    let result =
        kabao_app::webhooks::set_stock_threshold(&state, &user, ProductId(id), threshold).await.map_err(ApiError::from);
    back_to_product(&state, &v, &user, ProductId(id), result).await
}

#[derive(Deserialize)]
pub struct CustomSpecForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    fields: String,
    #[serde(default)]
    delivery_hours: String,
    #[serde(default)]
    stock: String,
}

/// Sets a custom-goods product's buyer fields, delivery deadline and stock from the console.
pub async fn set_custom(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<CustomSpecForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let hours = f.delivery_hours.trim().parse::<i64>().unwrap_or(-1);
    let stock = f.stock.trim().parse::<i64>().unwrap_or(-1);
    let result = kabao_app::inventory::set_custom_spec(&*state.store, user.id, ProductId(id), &f.fields, hours, stock)
        .await
        .map(|_| ())
        .map_err(ApiError::from);
    back_to_product(&state, &v, &user, ProductId(id), result).await
}

/// A paid custom-goods order waiting for its merchant.
struct DeliveryRow {
    order_no: String,
    product_title: String,
    quantity: i64,
    amount: String,
    answers: Vec<(String, String)>,
    deadline: String,
    /// Whole minutes left before the automatic refund (0 when past).
    minutes_left: i64,
}

#[derive(Template)]
#[template(path = "console_deliveries.html")]
struct DeliveriesPage {
    ctx: Ctx,
    error: Option<String>,
    rows: Vec<DeliveryRow>,
}

async fn deliveries_page(
    state: &SharedState,
    v: &Visitor,
    user: &User,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let shop = kabao_app::shops::my_shop(state, user).await?;
    let now = state.now();
    let waiting = kabao_app::orders::awaiting_delivery(state, &shop).await?;
    let mut rows = Vec::with_capacity(waiting.len());
    for kabao_app::orders::AwaitingDelivery { order: o, product_title } in waiting {
        let deadline = o.delivery_deadline.unwrap_or(now);
        rows.push(DeliveryRow {
            order_no: o.order_no.clone(),
            product_title,
            quantity: o.quantity,
            amount: o.amount.to_string(),
            answers: o
                .custom_answers
                .as_deref()
                .map(kabao_core::custom::Answers::from_json)
                .map(|a| a.0)
                .unwrap_or_default(),
            deadline: datetime(deadline),
            minutes_left: ((deadline.millis() - now.millis()) / 60_000).max(0),
        });
    }
    let page = DeliveriesPage { ctx: Ctx::new(v), error, rows };
    // Buyers' answers (account ids) are personal: never cache the page.
    Ok(([(header::CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// The queue of custom-goods orders to deliver by hand, nearest deadline first.
pub async fn deliveries(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
) -> Result<Response, ApiError> {
    deliveries_page(&state, &v, &user, None).await
}

#[derive(Deserialize)]
pub struct DeliverForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    text: String,
}

/// Delivers one custom-goods order by hand.
pub async fn deliver(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(no): ApiPath<String>,
    PageForm(f): PageForm<DeliverForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match kabao_app::orders::deliver_by_hand(&state, &user, &no, &f.text).await.map_err(ApiError::from) {
        Ok(_) => Ok(see_other("/console/deliveries")),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let page = deliveries_page(&state, &v, &user, Some(e.message(v.lang).to_string())).await?;
            Ok(status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct WarrantyForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    template: String,
}

/// Sets a product's warranty policy from a template, or 无质保 ("none").
pub async fn set_warranty(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<WarrantyForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let change = match f.template.trim() {
        "none" => kabao_app::warranty::Change::None,
        t => kabao_app::warranty::Change::Template(t.to_string()),
    };
    let result =
        kabao_app::warranty::set(&state, &user, ProductId(id), change).await.map(|_| ()).map_err(ApiError::from);
    back_to_product(&state, &v, &user, ProductId(id), result).await
}

/// The console's field-by-field policy form, filled from the current policy (or the first template).
struct PolicyBuilder {
    /// (input name, label, checked)
    defects: Vec<(String, &'static str, bool)>,
    evidence: Vec<(String, &'static str, bool)>,
    window: u32,
    window_days: bool,
    only_if_not_activated: bool,
    max_reissues: u32,
    /// (value, label, selected)
    remedies: Vec<(&'static str, &'static str, bool)>,
    auto_reissue: bool,
    response_hours: u32,
}

impl PolicyBuilder {
    fn of(current: Option<&kabao_core::warranty::WarrantyPolicy>, lang: Lang) -> PolicyBuilder {
        use kabao_core::warranty::{templates, ClaimWindow, Defect, EvidenceKind, Remedy};
        let fallback = templates().into_iter().next().map(|t| t.policy);
        let p = current.cloned().or(fallback);
        let p = p.as_ref();
        let (window, window_days) = match p.map(|p| p.window) {
            Some(ClaimWindow::Days(d)) => (d, true),
            Some(ClaimWindow::Hours(h)) => (h, false),
            None => (24, false),
        };
        let remedy = p.map(|p| p.remedy).unwrap_or(Remedy::ReissueThenRefund);
        PolicyBuilder {
            defects: Defect::ALL
                .iter()
                .map(|d| (format!("covered_{}", d.as_str()), d.label(lang), p.is_some_and(|p| p.covered.contains(d))))
                .collect(),
            evidence: EvidenceKind::ALL
                .iter()
                .map(|e| (format!("evidence_{}", e.as_str()), e.label(lang), p.is_some_and(|p| p.evidence.contains(e))))
                .collect(),
            window,
            window_days,
            only_if_not_activated: p.is_some_and(|p| p.only_if_not_activated),
            max_reissues: p.map_or(1, |p| p.max_reissues),
            remedies: Remedy::ALL
                .iter()
                .map(|r| {
                    let label = match r {
                        Remedy::ReissueThenRefund => lang.pick("先补发，补不了退款", "Re-issue, else refund"),
                        Remedy::RefundOnly => lang.pick("仅退款", "Refund only"),
                        Remedy::ReissueOnly => lang.pick("仅补发", "Re-issue only"),
                    };
                    (r.as_str(), label, *r == remedy)
                })
                .collect(),
            auto_reissue: p.is_some_and(|p| p.auto_reissue),
            response_hours: p.map_or(24, |p| p.response_hours),
        }
    }
}

/// Reads the builder form into a policy; numbers that do not parse become out-of-range values, which the
/// policy's own check then refuses with the field named.
fn policy_from_form(f: &std::collections::BTreeMap<String, String>) -> kabao_core::warranty::WarrantyPolicy {
    use kabao_core::warranty::{ClaimWindow, Defect, EvidenceKind, Remedy, WarrantyPolicy};
    let on = |name: String| f.get(&name).is_some_and(|v| !v.is_empty());
    let num = |name: &str| f.get(name).and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
    let window = num("window");
    WarrantyPolicy {
        covered: Defect::ALL.into_iter().filter(|d| on(format!("covered_{}", d.as_str()))).collect(),
        evidence: EvidenceKind::ALL.into_iter().filter(|e| on(format!("evidence_{}", e.as_str()))).collect(),
        window: if f.get("window_unit").map(String::as_str) == Some("days") {
            ClaimWindow::Days(window)
        } else {
            ClaimWindow::Hours(window)
        },
        only_if_not_activated: on("only_if_not_activated".into()),
        max_reissues: num("max_reissues"),
        remedy: f.get("remedy").and_then(|r| Remedy::parse(r)).unwrap_or(Remedy::ReissueThenRefund),
        auto_reissue: on("auto_reissue".into()),
        response_hours: num("response_hours"),
    }
}

/// Sets a product's warranty policy built field by field in the console.
pub async fn build_warranty(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<std::collections::BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.get("_csrf").map(String::as_str))?;
    let change = kabao_app::warranty::Change::Policy(policy_from_form(&f));
    let result =
        kabao_app::warranty::set(&state, &user, ProductId(id), change).await.map(|_| ()).map_err(ApiError::from);
    back_to_product(&state, &v, &user, ProductId(id), result).await
}

/// Adds a picture to the product (console form: `_csrf` and `picture`).
pub async fn upload_picture(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let form = crate::forms::read_picture(multipart).await?;
    v.check_csrf(form.csrf.as_deref())?;
    match kabao_app::pictures::upload(&state, &user, ProductId(id), &form.picture).await {
        Ok(_) => Ok(see_other(&format!("/console/products/{id}#pictures"))),
        Err(e) => {
            let e = ApiError::from(e);
            if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND {
                let msg = e.message(v.lang).to_string();
                product_page(&state, &v, &user, ProductId(id), None, Some(msg), None, None).await
            } else {
                Err(e)
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ArrangeForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    hashes: String,
}

/// Puts the product's pictures in the submitted order (comma-separated hashes; those left out are removed).
pub async fn arrange_pictures(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(id): ApiPath<i64>,
    PageForm(f): PageForm<ArrangeForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let order: Vec<String> = f.hashes.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_string).collect();
    kabao_app::pictures::arrange(&state, &user, ProductId(id), &order).await?;
    Ok(see_other(&format!("/console/products/{id}#pictures")))
}
