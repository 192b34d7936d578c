//! `/api/v1/merchant/...`: a merchant's shop, products and card-key inventory, with a merchant's token.
//! Another shop's ids answer 404, exactly as ids that do not exist.

use super::history::CursorQuery;
use super::views::{
    BatchView, BatchesPageView, ImportView, KeyQuery, KeyView, ProductBody, ProductView, ShopInput, ShopView, VoidView,
};
use super::ApiJson;
use crate::auth::{ApiMerchant, ReqLang};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::SharedState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use kabao_app::inventory::MAX_UPLOAD_BYTES;
use kabao_core::inventory::ImportError;
use kabao_core::{BatchId, ProductId};
use kabao_store::KeyState;

/// The caller's shop.
#[utoipa::path(get, path = "/api/v1/merchant/shop", tag = "merchant", security(("bearer" = [])),
    responses((status = 403, description = "not a merchant"), (status = 200, body = ShopView), (status = 404, description = "no shop yet")))]
pub async fn get_shop(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<ShopView>, ApiError> {
    Ok(ApiJson(ShopView::from(&kabao_app::shops::my_shop(&state, &user).await?)))
}

/// Open the caller's shop (one per merchant).
#[utoipa::path(post, path = "/api/v1/merchant/shop", tag = "merchant", security(("bearer" = [])), request_body = ShopInput,
    responses((status = 201, body = ShopView), (status = 400, description = "a field is invalid; `field` names it"),
        (status = 409, description = "already open, or name taken")))]
pub async fn open_shop(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiJson(body): ApiJson<ShopInput>,
) -> Result<(StatusCode, ApiJson<ShopView>), ApiError> {
    let shop = kabao_app::shops::open_shop(&state, &user, &body.name, &body.description).await?;
    Ok((StatusCode::CREATED, ApiJson(ShopView::from(&shop))))
}

/// Rename or redescribe the caller's shop.
#[utoipa::path(put, path = "/api/v1/merchant/shop", tag = "merchant", security(("bearer" = [])), request_body = ShopInput,
    responses((status = 200, body = ShopView), (status = 400, description = "a field is invalid; `field` names it"),
        (status = 404, description = "no shop yet"), (status = 409, description = "name taken")))]
pub async fn update_shop(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiJson(body): ApiJson<ShopInput>,
) -> Result<ApiJson<ShopView>, ApiError> {
    Ok(ApiJson(ShopView::from(&kabao_app::shops::update_my_shop(&state, &user, &body.name, &body.description).await?)))
}

/// The caller's products, listed or not.
#[utoipa::path(get, path = "/api/v1/merchant/products", tag = "merchant", security(("bearer" = [])),
    responses((status = 200, body = [ProductView]), (status = 404, description = "no shop yet")))]
pub async fn list_products(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<ApiJson<Vec<ProductView>>, ApiError> {
    Ok(ApiJson(kabao_app::products::list_mine(&state, &user).await?.iter().map(ProductView::from).collect()))
}

/// Create a product in the caller's shop.
#[utoipa::path(post, path = "/api/v1/merchant/products", tag = "merchant", security(("bearer" = [])), request_body = ProductBody,
    responses((status = 201, body = ProductView), (status = 400, description = "a field is invalid; `field` names it"),
        (status = 404, description = "no shop yet")))]
pub async fn create_product(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiJson(body): ApiJson<ProductBody>,
) -> Result<(StatusCode, ApiJson<ProductView>), ApiError> {
    let p = kabao_app::products::create(&state, &user, &body.into()).await?;
    Ok((StatusCode::CREATED, ApiJson(ProductView::from(&p))))
}

/// One of the caller's products.
#[utoipa::path(get, path = "/api/v1/merchant/products/{id}", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 403, description = "not a merchant"), (status = 200, body = ProductView), (status = 404, description = "not a product of yours")))]
pub async fn get_product(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<ProductView>, ApiError> {
    let (p, _) = kabao_app::products::owned(&state, &user, ProductId(id)).await?;
    Ok(ApiJson(ProductView::from(&p)))
}

/// Replace one of the caller's products.
#[utoipa::path(put, path = "/api/v1/merchant/products/{id}", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)), request_body = ProductBody,
    responses((status = 200, body = ProductView), (status = 400, description = "a field is invalid; `field` names it"),
        (status = 404, description = "not a product of yours")))]
pub async fn update_product(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ProductBody>,
) -> Result<ApiJson<ProductView>, ApiError> {
    Ok(ApiJson(ProductView::from(&kabao_app::products::update(&state, &user, ProductId(id), &body.into()).await?)))
}

/// Import card keys: the request body is the key file (UTF-8 text, one key per line or `卡号----密码`).
/// Accepted lines are stored in one transaction; every duplicate and malformed line is named by number.
#[utoipa::path(post, path = "/api/v1/merchant/products/{id}/keys", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body(content = super::contract::KeyFile, content_type = "text/plain"),
    responses((status = 200, body = ImportView), (status = 400, description = "the file is empty"), (status = 404, description = "not a product of yours"),
        (status = 409, description = "the product does not sell card keys (shared secret or custom goods)"), (status = 413, description = "file over 16 MiB")))]
pub async fn import_keys(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ReqLang(lang): ReqLang,
    ApiPath(id): ApiPath<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<ApiJson<ImportView>, ApiError> {
    let too_large = || {
        ApiError::from_localized(
            StatusCode::PAYLOAD_TOO_LARGE,
            &ImportError::TooLarge { max_bytes: MAX_UPLOAD_BYTES as u64 },
        )
    };
    let body = body.map_err(|_| too_large())?;
    if body.len() > MAX_UPLOAD_BYTES {
        return Err(too_large());
    }
    let out = kabao_app::inventory::import_keys_checked(
        &*state.store,
        &state.keyring,
        &state.verifiers,
        user.id,
        ProductId(id),
        &body,
        "api",
        state.now(),
    )
    .await?;
    state.metrics.keys_imported.inc_by(out.report.accepted_count);
    Ok(ApiJson(ImportView::new(out.batch_id.map(|b| b.0), &out.report, lang)))
}

/// The product's keys in clear, for the merchant who owns them. Never cached.
#[utoipa::path(get, path = "/api/v1/merchant/products/{id}/keys", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path), KeyQuery),
    responses((status = 403, description = "not a merchant"), (status = 200, body = [KeyView]), (status = 404, description = "not a product of yours")))]
pub async fn list_keys(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<KeyQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let key_state = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(KeyState::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "request.invalid_query",
                "state",
                "state 只能是 available、sold 或 voided",
                "state must be available, sold or voided",
            )
        })?),
    };
    let (limit, offset) = super::views::page_bounds(q.limit, q.offset, 100, 1000)?;
    let keys = kabao_app::inventory::list_keys_for_owner(
        &*state.store,
        &state.keyring,
        user.id,
        ProductId(id),
        key_state,
        limit,
        offset,
    )
    .await?;
    let views: Vec<KeyView> = keys
        .iter()
        .map(|k| KeyView {
            id: k.id.0,
            batch_id: k.batch_id.0,
            state: k.state.as_str().into(),
            secret: k.secret.to_string(),
            created_at: k.created_at.millis(),
        })
        .collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], ApiJson(views)))
}

/// The product's import batches with their counts by state, newest first, 20 a page (keyset-paged).
#[utoipa::path(get, path = "/api/v1/merchant/products/{id}/batches", tag = "merchant", security(("bearer" = [])),
    params(("id" = i64, Path), CursorQuery),
    responses((status = 403, description = "not a merchant"), (status = 200, body = BatchesPageView),
        (status = 400, description = "malformed cursor"), (status = 404, description = "not a product of yours")))]
pub async fn list_batches(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<CursorQuery>,
) -> Result<ApiJson<BatchesPageView>, ApiError> {
    let page = kabao_app::inventory::list_batches_for_owner(&*state.store, user.id, ProductId(id), q.cursor.as_deref())
        .await?;
    Ok(ApiJson(BatchesPageView { batches: page.batches.iter().map(BatchView::from).collect(), next_cursor: page.next }))
}

/// Void a batch none of whose keys were sold.
#[utoipa::path(post, path = "/api/v1/merchant/batches/{id}/void", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 403, description = "not a merchant"), (status = 200, body = VoidView), (status = 404, description = "not a batch of yours"), (status = 409, description = "already voided, or has sold keys")))]
pub async fn void_batch(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<VoidView>, ApiError> {
    let voided = kabao_app::inventory::void_batch(&*state.store, user.id, BatchId(id), state.now()).await?;
    Ok(ApiJson(VoidView { batch_id: id, voided }))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedSecretInput {
    /// The one secret every buyer receives (a shared account, a universal code, a link and password).
    #[schema(
        min_length = 1,
        max_length = 512,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub secret: String,
    /// How many units may be sold.
    #[schema(minimum = 0, maximum = 1_000_000)]
    #[serde(with = "super::views::whole")]
    pub stock: i64,
}

/// Set a shared-secret (循环卡密) product's secret and stock count.
#[utoipa::path(put, path = "/api/v1/merchant/products/{id}/shared-secret", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = SharedSecretInput,
    responses((status = 200, body = ProductView), (status = 400, description = "secret or stock out of range"), (status = 404, description = "not a product of yours"),
        (status = 409, description = "not a shared-secret product")))]
pub async fn set_shared_secret(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SharedSecretInput>,
) -> Result<ApiJson<ProductView>, ApiError> {
    kabao_app::inventory::set_shared_secret(
        &*state.store,
        &state.keyring,
        &kabao_app::chat::scan_config(&state),
        user.id,
        ProductId(id),
        &body.secret,
        body.stock,
        state.now(),
    )
    .await?;
    let (p, _) = kabao_app::products::owned(&state, &user, ProductId(id)).await?;
    Ok(ApiJson(ProductView::from(&p)))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomSpecInput {
    /// The labels of the fields every buyer fills at checkout (1–5, distinct, e.g. "游戏账号", "区服"); all are required.
    #[schema(schema_with = super::contract::field_labels)]
    pub fields: Vec<String>,
    /// Hours after payment within which the order must be delivered (1–168); past it the buyer is refunded.
    #[schema(minimum = 1, maximum = 168)]
    #[serde(with = "super::views::whole")]
    pub delivery_hours: i64,
    /// How many units may be sold.
    #[schema(minimum = 0, maximum = 1_000_000)]
    #[serde(with = "super::views::whole")]
    pub stock: i64,
}

/// Set a custom-goods (人工交付) product's buyer fields, delivery deadline and stock count.
#[utoipa::path(put, path = "/api/v1/merchant/products/{id}/custom-fields", tag = "merchant", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = CustomSpecInput,
    responses((status = 200, body = ProductView), (status = 400, description = "a field out of range"), (status = 404, description = "not a product of yours"),
        (status = 409, description = "not a custom-goods product")))]
pub async fn set_custom_fields(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CustomSpecInput>,
) -> Result<ApiJson<ProductView>, ApiError> {
    kabao_app::inventory::set_custom_spec(
        &*state.store,
        user.id,
        ProductId(id),
        &body.fields.join("\n"),
        body.delivery_hours,
        body.stock,
    )
    .await?;
    let (p, _) = kabao_app::products::owned(&state, &user, ProductId(id)).await?;
    Ok(ApiJson(ProductView::from(&p)))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryInput {
    /// What the buyer receives (e.g. the account and password, or a note that the top-up is done); 1–2000
    /// characters, stored encrypted like a card key.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub text: String,
}

/// Deliver a paid custom-goods order by hand, before its deadline.
#[utoipa::path(post, path = "/api/v1/merchant/orders/{order_no}/delivery", tag = "merchant", security(("bearer" = [])), params(("order_no" = String, Path)),
    request_body = DeliveryInput,
    responses((status = 403, description = "not a merchant"), (status = 200, body = super::orders::OrderView), (status = 400, description = "text empty or too long"), (status = 404, description = "not an order of your shop"), (status = 409, description = "not awaiting delivery, or the deadline passed")))]
pub async fn deliver(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(order_no): ApiPath<String>,
    ApiJson(body): ApiJson<DeliveryInput>,
) -> Result<ApiJson<super::orders::OrderView>, ApiError> {
    let order = kabao_app::orders::deliver_by_hand(&state, &user, &order_no, &body.text).await?;
    Ok(ApiJson(super::orders::OrderView::from(&order)))
}
