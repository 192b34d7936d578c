//! Reviews (评价): one per delivered order, from its registered buyer; the merchant may reply once.
//! Guests cannot review: a guest pass proves an order, not a person, so a shop could review itself through one.

use crate::App;
use kabao_core::order::OrderState;
use kabao_core::review::{parse_reply, ReviewDraft, ReviewError, ReviewInput};
use kabao_core::{Lang, Localized, ProductId, ShopId};
use kabao_store::{Order, ReviewRecord, StoreError, TxMode, User};

/// Reviews shown per shop or product page.
pub const PAGE: i64 = 50;

/// Why a review or a reply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewsError {
    /// The ratings, tags or text are not acceptable (named field).
    #[error(transparent)]
    Invalid(#[from] ReviewError),
    #[error("no such order of the buyer")]
    OrderNotFound,
    #[error("the order's shop is gone")]
    ShopNotFound,
    #[error("the order's product is gone")]
    ProductNotFound,
    #[error("no such review of the merchant's shop")]
    ReviewNotFound,
    #[error("the order is not delivered")]
    NotDelivered,
    #[error("a merchant cannot review their own shop")]
    OwnShop,
    #[error("the order has been reviewed already")]
    AlreadyReviewed,
    #[error("the review has been replied to already")]
    AlreadyReplied,
    #[error("review tags not serialized: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for ReviewsError {
    fn code(&self) -> &'static str {
        match self {
            ReviewsError::Invalid(e) => e.code(),
            ReviewsError::OrderNotFound => "order.not_found",
            ReviewsError::ShopNotFound => "shop.not_found",
            ReviewsError::ProductNotFound => "product.not_found",
            ReviewsError::ReviewNotFound => "review.not_found",
            ReviewsError::NotDelivered => "review.not_delivered",
            ReviewsError::OwnShop => "review.own_shop",
            ReviewsError::AlreadyReviewed => "review.exists",
            ReviewsError::AlreadyReplied => "review.replied",
            ReviewsError::Json(_) | ReviewsError::Store(_) => "internal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            ReviewsError::Invalid(e) => e.field(),
            _ => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        let text = match self {
            ReviewsError::Invalid(e) => return e.message(lang),
            ReviewsError::OrderNotFound
            | ReviewsError::ShopNotFound
            | ReviewsError::ProductNotFound
            | ReviewsError::ReviewNotFound => lang.pick("找不到该内容", "Not found"),
            ReviewsError::NotDelivered => {
                lang.pick("订单交付后才能评价", "An order can be reviewed once it is delivered")
            }
            ReviewsError::OwnShop => lang.pick("不能评价自己的店铺", "You cannot review your own shop"),
            ReviewsError::AlreadyReviewed => lang.pick("这笔订单已经评价过了", "This order has been reviewed already"),
            ReviewsError::AlreadyReplied => lang.pick("每条评价只能回复一次", "A review can be replied to once"),
            ReviewsError::Json(_) | ReviewsError::Store(_) => return crate::error::internal_message(lang),
        };
        text.to_string()
    }
}

/// The buyer reviews their delivered order.
pub async fn submit(
    state: &App,
    buyer: &User,
    order: &Order,
    input: &ReviewInput,
) -> Result<ReviewRecord, ReviewsError> {
    let draft = ReviewDraft::parse(input)?;
    if order.buyer_id != Some(buyer.id) {
        return Err(ReviewsError::OrderNotFound);
    }
    if !matches!(order.state, OrderState::Delivered | OrderState::Settled) || order.delivered_at.is_none() {
        return Err(ReviewsError::NotDelivered);
    }
    let now = state.clock.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let shop = tx.shop_by_id(order.shop_id).await?.ok_or(ReviewsError::ShopNotFound)?;
    if shop.owner_id == buyer.id {
        return Err(ReviewsError::OwnShop);
    }
    let product = tx.product_by_id(order.product_id).await?.ok_or(ReviewsError::ProductNotFound)?;
    let mut review = ReviewRecord {
        id: 0,
        order_id: order.id,
        shop_id: order.shop_id,
        product_id: order.product_id,
        buyer_id: buyer.id,
        category: product.category,
        described: draft.described,
        service: draft.service,
        delivery: draft.delivery,
        tags_json: serde_json::to_string(&draft.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>())?,
        body: draft.body,
        reissue: draft.reissue,
        reply: None,
        replied_at: None,
        created_at: now,
    };
    review.id = match tx.insert_review(&review).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => return Err(ReviewsError::AlreadyReviewed),
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    tracing::info!(order = %order.order_no, shop = %order.shop_id, "review added");
    Ok(review)
}

/// The order's review, if any.
pub async fn of_order(state: &App, order: &Order) -> Result<Option<ReviewRecord>, ReviewsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.review_of_order(order.id).await?)
}

pub async fn of_shop(state: &App, shop: ShopId) -> Result<Vec<ReviewRecord>, ReviewsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.shop_reviews(shop, PAGE).await?)
}

pub async fn of_product(state: &App, product: ProductId) -> Result<Vec<ReviewRecord>, ReviewsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.product_reviews(product, PAGE).await?)
}

/// The reviews of the merchant's shop (none without a shop).
pub async fn of_merchant(state: &App, merchant: &User) -> Result<Vec<ReviewRecord>, ReviewsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    match tx.shop_by_owner(merchant.id).await? {
        Some(shop) => Ok(tx.shop_reviews(shop.id, PAGE).await?),
        None => Ok(Vec::new()),
    }
}

/// The shop's owner replies to a review of the shop, once.
pub async fn reply(state: &App, merchant: &User, review_id: i64, text: &str) -> Result<(), ReviewsError> {
    let text = parse_reply(text)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let shop = tx.shop_by_owner(merchant.id).await?.ok_or(ReviewsError::ReviewNotFound)?;
    tx.review_by_id(review_id).await?.filter(|r| r.shop_id == shop.id).ok_or(ReviewsError::ReviewNotFound)?;
    if !tx.set_review_reply(review_id, &text, state.clock.now()).await? {
        return Err(ReviewsError::AlreadyReplied);
    }
    tx.commit().await?;
    Ok(())
}

/// The tags of a stored review, as labels.
pub fn tag_labels(review: &ReviewRecord, lang: kabao_core::Lang) -> Vec<&'static str> {
    let codes: Vec<String> = serde_json::from_str(&review.tags_json).unwrap_or_default();
    codes.iter().filter_map(|c| kabao_core::review::ReviewTag::parse(c)).map(|t| t.label(lang)).collect()
}
