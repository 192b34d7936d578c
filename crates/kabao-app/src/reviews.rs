//! Reviews (评价): one per delivered order, from its registered buyer; the merchant may reply once.
//! Guests cannot review: a guest pass proves an order, not a person, so a shop could review itself through one.

use crate::error::Problem;
use crate::error::Status;
use crate::App;
use kabao_core::order::OrderState;
use kabao_core::review::{parse_reply, ReviewDraft, ReviewInput};
use kabao_core::{ProductId, ShopId};
use kabao_store::{Order, ReviewRecord, StoreError, TxMode, User};

/// Reviews shown per shop or product page.
pub const PAGE: i64 = 50;

fn refused(code: &'static str, zh: &str, en: &str) -> Problem {
    Problem::new(Status::CONFLICT, code, zh, en)
}

/// The buyer reviews their delivered order.
pub async fn submit(state: &App, buyer: &User, order: &Order, input: &ReviewInput) -> Result<ReviewRecord, Problem> {
    let draft = ReviewDraft::parse(input).map_err(|e| Problem::from_localized(Status::BAD_REQUEST, &e))?;
    if order.buyer_id != Some(buyer.id) {
        return Err(Problem::not_found("order.not_found"));
    }
    if !matches!(order.state, OrderState::Delivered | OrderState::Settled) || order.delivered_at.is_none() {
        return Err(refused(
            "review.not_delivered",
            "订单交付后才能评价",
            "An order can be reviewed once it is delivered",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let shop = tx.shop_by_id(order.shop_id).await?.ok_or_else(|| Problem::not_found("shop.not_found"))?;
    if shop.owner_id == buyer.id {
        return Err(refused("review.own_shop", "不能评价自己的店铺", "You cannot review your own shop"));
    }
    let product = tx.product_by_id(order.product_id).await?.ok_or_else(|| Problem::not_found("product.not_found"))?;
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
        tags_json: serde_json::to_string(&draft.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .map_err(Problem::internal)?,
        body: draft.body,
        reissue: draft.reissue,
        reply: None,
        replied_at: None,
        created_at: now,
    };
    review.id = match tx.insert_review(&review).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => {
            return Err(refused("review.exists", "这笔订单已经评价过了", "This order has been reviewed already"))
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    tracing::info!(order = %order.order_no, shop = %order.shop_id, "review added");
    Ok(review)
}

/// The order's review, if any.
pub async fn of_order(state: &App, order: &Order) -> Result<Option<ReviewRecord>, Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.review_of_order(order.id).await?)
}

pub async fn of_shop(state: &App, shop: ShopId) -> Result<Vec<ReviewRecord>, Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.shop_reviews(shop, PAGE).await?)
}

pub async fn of_product(state: &App, product: ProductId) -> Result<Vec<ReviewRecord>, Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.product_reviews(product, PAGE).await?)
}

/// The shop's owner replies to a review of the shop, once.
pub async fn reply(state: &App, merchant: &User, review_id: i64, text: &str) -> Result<(), Problem> {
    let text = parse_reply(text).map_err(|e| Problem::from_localized(Status::BAD_REQUEST, &e))?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let shop = tx.shop_by_owner(merchant.id).await?.ok_or_else(|| Problem::not_found("review.not_found"))?;
    tx.review_by_id(review_id)
        .await?
        .filter(|r| r.shop_id == shop.id)
        .ok_or_else(|| Problem::not_found("review.not_found"))?;
    if !tx.set_review_reply(review_id, &text, state.clock.now()).await? {
        return Err(refused("review.replied", "每条评价只能回复一次", "A review can be replied to once"));
    }
    tx.commit().await?;
    Ok(())
}

/// The tags of a stored review, as labels.
pub fn tag_labels(review: &ReviewRecord, lang: kabao_core::Lang) -> Vec<&'static str> {
    let codes: Vec<String> = serde_json::from_str(&review.tags_json).unwrap_or_default();
    codes.iter().filter_map(|c| kabao_core::review::ReviewTag::parse(c)).map(|t| t.label(lang)).collect()
}
