//! Orders: checkout (with idempotency keys), payment into escrow with key allocation in the same transaction,
//! revealing keys (audited), and the event chain every state change appends to.

use crate::idempotency::{Completion, IdempotencyError};
use crate::inventory::InventoryError;
use crate::payments::PaymentError;
use crate::trial::TrialError;
use crate::warranty::WarrantyError;
use crate::App;
use kabao_core::audit::ChainedEvent;
use kabao_core::catalog::GoodsKind;
use kabao_core::custom::CustomError;
use kabao_core::events::{OrderEvent, PaidFrom, RefundReason};
use kabao_core::ledger::{self, LedgerError, OrderId};
use kabao_core::order::{on_manual_delivery, on_payment, OrderNo, OrderState, PaymentOutcome, TransitionError};
use kabao_core::user::AccountError;
use kabao_core::vault::{CardKeyAad, VaultError};
use kabao_core::{Lang, Localized, Money, ProductId, Timestamp, UserId};
use kabao_store::{NewOrder, Order, Reveal, StoreError, Tx, TxMode, User};
use rand::RngCore;
use zeroize::Zeroizing;

/// Why an order could not be placed, paid, delivered, found or revealed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No such product, or not one a buyer may see.
    #[error("product not found")]
    ProductNotFound,
    #[error("a merchant cannot buy from their own shop")]
    OwnProduct,
    /// The product is a listing with variants: a buyer orders one of its variants (its own product id).
    #[error("the listing has variants: order one of them")]
    ChooseVariant,
    /// Custom goods whose merchant has not set the order fields yet.
    #[error("the product's order fields are not set up")]
    CustomGoodsNotReady,
    /// The buyer's answers to a custom product's fields, or a merchant's delivery text, are refused.
    #[error(transparent)]
    Custom(#[from] CustomError),
    #[error("the product is delivered automatically and takes no order fields")]
    CustomFieldsNotExpected,
    #[error("quantity must be between 1 and {max}")]
    QuantityInvalid { max: i64 },
    #[error("not enough stock: {left} left")]
    OutOfStock { left: i64 },
    #[error(transparent)]
    GuestEmail(#[from] AccountError),
    #[error("the query password must be 6–64 characters")]
    QueryPasswordInvalid,
    #[error("amount too large")]
    AmountOverflow,
    /// The buyer did not accept the warranty terms (the product's policy, or 无质保 when it has none).
    #[error("warranty terms not acknowledged")]
    WarrantyNotAcknowledged { has_policy: bool },
    #[error(transparent)]
    Warranty(#[from] WarrantyError),
    #[error(transparent)]
    Trial(#[from] TrialError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Insurance(#[from] crate::insurance::InsuranceError),
    /// The coupon code is unknown, disabled, expired, for another product, above the order, or used up.
    #[error(transparent)]
    Coupon(#[from] kabao_core::pricing::CouponError),
    /// No such order, or not one the visitor (or merchant) may see: the two are indistinguishable on purpose.
    #[error("order not found")]
    NotFound,
    /// Another request moved the order first (the compare-and-set on its state failed).
    #[error("the order changed meanwhile")]
    Changed,
    /// The buyer's wallet cannot pay the order.
    #[error("wallet: {0}")]
    InsufficientBalance(LedgerError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the delivery deadline has passed")]
    DeliveryDeadlinePassed,
    #[error("the order is not awaiting payment")]
    NotPayable,
    #[error("the order expired")]
    Expired,
    #[error("the order has not been delivered")]
    NotDelivered,
    /// Too many failed guest lookups of this order or from this address; retry after the wait.
    #[error("guest lookups throttled for {retry_after_s} s")]
    LookupThrottled { retry_after_s: u64 },
    /// A ledger transaction could not be built (a rule broken by a bug, never by the buyer).
    #[error("ledger: {0}")]
    Ledger(LedgerError),
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    #[error("order {0:?} vanished")]
    OrderVanished(OrderId),
    #[error("ordered product {0} vanished")]
    ProductVanished(ProductId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for OrderError {
    fn code(&self) -> &'static str {
        match self {
            OrderError::ProductNotFound => "product.not_found",
            OrderError::OwnProduct => "order.own_product",
            OrderError::ChooseVariant => "order.choose_variant",
            OrderError::CustomGoodsNotReady => "order.custom_goods_not_ready",
            OrderError::Custom(e) => e.code(),
            OrderError::CustomFieldsNotExpected => "order.custom_fields_not_expected",
            OrderError::QuantityInvalid { .. } => "order.quantity_invalid",
            OrderError::OutOfStock { .. } => "order.out_of_stock",
            OrderError::GuestEmail(e) => e.code(),
            OrderError::QueryPasswordInvalid => "order.query_password_invalid",
            OrderError::AmountOverflow => "order.amount_overflow",
            OrderError::WarrantyNotAcknowledged { .. } => "order.warranty_not_acknowledged",
            OrderError::Warranty(e) => e.code(),
            OrderError::Trial(e) => e.code(),
            OrderError::Inventory(e) => e.code(),
            OrderError::Payment(e) => e.code(),
            OrderError::Idempotency(e) => e.code(),
            OrderError::Insurance(e) => e.code(),
            OrderError::Coupon(e) => e.code(),
            OrderError::NotFound => "order.not_found",
            OrderError::Changed => "order.changed",
            OrderError::InsufficientBalance(e) => e.code(),
            OrderError::Transition(e) => e.code(),
            OrderError::DeliveryDeadlinePassed => "order.delivery_deadline_passed",
            OrderError::NotPayable => "order.not_payable",
            OrderError::Expired => "order.expired",
            OrderError::NotDelivered => "order.not_delivered",
            OrderError::LookupThrottled { .. } => "lookup.throttled",
            OrderError::Ledger(_)
            | OrderError::Vault(_)
            | OrderError::OrderVanished(_)
            | OrderError::ProductVanished(_)
            | OrderError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            OrderError::OwnProduct | OrderError::ChooseVariant | OrderError::CustomGoodsNotReady => Some("product"),
            OrderError::Custom(e) => e.field(),
            OrderError::CustomFieldsNotExpected => Some("custom_fields"),
            OrderError::QuantityInvalid { .. } | OrderError::OutOfStock { .. } | OrderError::AmountOverflow => {
                Some("quantity")
            }
            OrderError::GuestEmail(e) => e.field(),
            OrderError::QueryPasswordInvalid => Some("query_password"),
            OrderError::WarrantyNotAcknowledged { .. } => Some("warranty_ack"),
            OrderError::Warranty(e) => e.field(),
            OrderError::Trial(e) => e.field(),
            OrderError::Inventory(e) => e.field(),
            OrderError::Payment(e) => e.field(),
            OrderError::Idempotency(e) => e.field(),
            OrderError::Insurance(e) => e.field(),
            OrderError::Coupon(e) => e.field(),
            OrderError::InsufficientBalance(e) => e.field(),
            OrderError::Transition(e) => e.field(),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        let words = match self {
            OrderError::ProductNotFound | OrderError::NotFound => lang.pick("找不到该内容", "Not found"),
            OrderError::OwnProduct => lang.pick("不能购买自己店铺的商品", "You cannot buy from your own shop"),
            OrderError::ChooseVariant => lang.pick(
                "该商品有多个规格（面值），请先选择一个规格再下单",
                "This listing comes in variants: choose one (its own product id) to order",
            ),
            OrderError::CustomGoodsNotReady => lang.pick(
                "商家尚未设置该商品的下单信息，暂不能购买",
                "The merchant has not set up this product's order fields yet",
            ),
            OrderError::CustomFieldsNotExpected => lang.pick(
                "该商品自动发货，无需填写下单信息",
                "This product is delivered automatically and takes no order fields",
            ),
            OrderError::QuantityInvalid { max } => {
                return match lang {
                    Lang::Zh => format!("购买数量需在 1 到 {max} 之间"),
                    Lang::En => format!("Quantity must be between 1 and {max}"),
                }
            }
            OrderError::OutOfStock { left } => {
                return match lang {
                    Lang::Zh => format!("库存不足：当前仅剩 {left} 件"),
                    Lang::En => format!("Not enough stock: {left} left"),
                }
            }
            OrderError::QueryPasswordInvalid => {
                lang.pick("查询密码需为 6–64 个字符", "The query password must be 6–64 characters")
            }
            OrderError::AmountOverflow => lang.pick("金额过大", "Amount too large"),
            OrderError::WarrantyNotAcknowledged { has_policy: true } => lang
                .pick("请先阅读并确认该商品的补单规则", "Please read and accept this product's warranty rules first"),
            OrderError::WarrantyNotAcknowledged { has_policy: false } => lang.pick(
                "请先确认质保条款：该商品无质保，卡密出问题时平台无法按规则补发或退款",
                "Please acknowledge the warranty terms first: this product has no warranty",
            ),
            OrderError::Changed => lang.pick("订单状态已变化，请刷新", "The order changed; reload"),
            OrderError::DeliveryDeadlinePassed => lang.pick(
                "发货时限已过，该订单将自动退款给买家",
                "The delivery deadline has passed; the order is being refunded to the buyer",
            ),
            OrderError::NotPayable => lang.pick("该订单不是待付款状态", "This order is not awaiting payment"),
            OrderError::Expired => lang.pick("订单已过期，请重新下单", "The order expired; please order again"),
            OrderError::NotDelivered => lang.pick("订单尚未发货，暂无卡密", "The order has not been delivered yet"),
            OrderError::LookupThrottled { retry_after_s } => {
                let minutes = retry_after_s.div_ceil(60);
                return match lang {
                    Lang::Zh => format!("查询失败次数过多，请 {minutes} 分钟后再试"),
                    Lang::En => format!("Too many failed lookups; try again in {minutes} minutes"),
                };
            }
            OrderError::Custom(e) => return e.message(lang),
            OrderError::GuestEmail(e) => return e.message(lang),
            OrderError::Warranty(e) => return e.message(lang),
            OrderError::Trial(e) => return e.message(lang),
            OrderError::Inventory(e) => return e.message(lang),
            OrderError::Payment(e) => return e.message(lang),
            OrderError::Idempotency(e) => return e.message(lang),
            OrderError::Insurance(e) => return e.message(lang),
            OrderError::Coupon(e) => return e.message(lang),
            OrderError::InsufficientBalance(e) => return e.message(lang),
            OrderError::Transition(e) => return e.message(lang),
            OrderError::Ledger(_)
            | OrderError::Vault(_)
            | OrderError::OrderVanished(_)
            | OrderError::ProductVanished(_)
            | OrderError::Store(_) => crate::error::internal_words(lang),
        };
        words.into()
    }
}

/// Who is buying.
#[derive(Debug, Clone)]
pub enum Buyer {
    User(User),
    /// A guest finds the order again with its number and the email, or the query password.
    Guest {
        email: String,
        query_password: Option<String>,
    },
}

/// What a buyer asks for at checkout.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub product: ProductId,
    pub quantity: i64,
    /// The buyer saw and accepted the warranty terms (the product's policy, or 无质保).
    pub warranty_ack: bool,
    /// SHA-256 (hex) of the terms the buyer saw; if given and the merchant changed them since, checkout is refused.
    pub warranty_seen: Option<String>,
    /// Custom goods (人工交付): the buyer's answers to the product's fields, as (label, value).
    pub custom_answers: Vec<(String, String)>,
    /// The buyer confirmed a first order from a low-trust shop (or a large one) after seeing the trial guidance.
    pub first_order_confirmed: bool,
    /// The browser's device cookie (pages) or the client's `X-Device-Id` (API), recorded with the order.
    pub device_id: Option<String>,
    /// Warranty insurance (质保险) at the premium the buyer was quoted for the whole quantity; `None`: uninsured.
    pub insurance_premium: Option<Money>,
    /// Extended warranty (延保): the premium the buyer accepted, for the whole quantity.
    pub extended_premium: Option<Money>,
    /// A coupon (优惠券) code of the product's shop, applied after the wholesale price; `None` or blank: none.
    pub coupon_code: Option<String>,
}

/// Appends the next event of an order's hash chain, in the caller's transaction.
pub async fn append_event(
    tx: &mut dyn Tx,
    order: OrderId,
    event: &OrderEvent<'_>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let last = tx.last_event(order).await?;
    append_event_after(tx, order, last.as_ref(), event, now).await.map(|_| ())
}

/// Appends the event that follows `last`, the chain's head as the caller's transaction has it, and returns the
/// new head: a transaction appending two events reads the head once (the payment's path, with the writer held).
async fn append_event_after(
    tx: &mut dyn Tx,
    order: OrderId,
    last: Option<&ChainedEvent>,
    event: &OrderEvent<'_>,
    now: Timestamp,
) -> Result<ChainedEvent, StoreError> {
    let event = event.chain_after(last, now.millis());
    tx.append_event(order, &event).await?;
    Ok(event)
}

fn new_order_no(now: Timestamp) -> OrderNo {
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    OrderNo::new(now, random)
}

/// Creates an unpaid order. Nothing is reserved: keys are allocated only when the payment arrives.
/// A keyed request (`run`, see [`crate::idempotency`]) stores its answer in the order's own transaction.
pub async fn checkout(
    state: &App,
    buyer: &Buyer,
    req: &CheckoutRequest,
    run: &dyn Completion<Order>,
) -> Result<Order, OrderError> {
    let now = state.now();
    let viewer = match buyer {
        Buyer::User(u) => Some(u),
        Buyer::Guest { .. } => None,
    };
    // One read for the product, its shop and its variants (each read transaction is two round trips more on
    // PostgreSQL).
    let (product, shop) = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let (product, shop) = crate::products::public_in(&mut *tx, req.product, None).await.map_err(|e| match e {
            crate::products::ProductError::Store(e) => OrderError::Store(e),
            _ => OrderError::ProductNotFound,
        })?;
        if viewer.is_some_and(|u| u.id == shop.owner_id) {
            return Err(OrderError::OwnProduct);
        }
        if crate::promotions::has_listed_variants(&mut *tx, product.id).await? {
            return Err(OrderError::ChooseVariant);
        }
        (product, shop)
    };
    let custom_answers = if product.kind == GoodsKind::Custom {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let spec = crate::inventory::custom_spec(&mut *tx, product.id).await?.ok_or(OrderError::CustomGoodsNotReady)?;
        drop(tx);
        let answers = spec.answers(&req.custom_answers)?;
        Some(answers.to_json())
    } else if req.custom_answers.iter().any(|(_, v)| !v.trim().is_empty()) {
        return Err(OrderError::CustomFieldsNotExpected);
    } else {
        None
    };
    if req.quantity < 1 || req.quantity > product.max_per_order {
        return Err(OrderError::QuantityInvalid { max: product.max_per_order });
    }
    if req.quantity > product.stock_available {
        return Err(OrderError::OutOfStock { left: product.stock_available });
    }
    let (guest_email, guest_query_hash) = match buyer {
        Buyer::User(_) => (None, None),
        Buyer::Guest { email, query_password } => {
            let email = kabao_core::user::Email::parse(email)?;
            let hash = match query_password.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                Some(p) if p.chars().count() < 6 || p.chars().count() > 64 => {
                    return Err(OrderError::QueryPasswordInvalid)
                }
                Some(p) => Some(crate::secrets::sha256(p)),
                None => None,
            };
            (Some(email.as_str().to_string()), hash)
        }
    };
    // The list price times the quantity, for the first-order check: what the order is worth before any discount.
    let amount = product.price.checked_mul(req.quantity).ok_or(OrderError::AmountOverflow)?;
    crate::trial::check_first_order(state, viewer, &shop, amount, req.first_order_confirmed).await?;
    let premium = match req.insurance_premium {
        Some(accepted) => {
            Some(crate::insurance::premium_for_checkout(state, &product, &shop, req.quantity, accepted).await?)
        }
        None => None,
    };
    let extension = match req.extended_premium {
        Some(accepted) => {
            Some(crate::insurance::extension_for_checkout(state, &product, &shop, req.quantity, accepted).await?)
        }
        None => None,
    };

    let mut tx = state.store.begin(TxMode::Write).await?;
    // A listing with listed variants is only the page they are chosen on; its own price and stock are never sold
    // (checked above for a quick answer, and again in the order's transaction, so a variant added meanwhile counts).
    if crate::promotions::has_listed_variants(&mut *tx, product.id).await? {
        return Err(OrderError::ChooseVariant);
    }
    // The terms are read in the order's own transaction: what the buyer accepted is exactly what is stored.
    let policy = crate::warranty::current(&mut *tx, product.id).await?;
    if !req.warranty_ack {
        return Err(OrderError::WarrantyNotAcknowledged { has_policy: policy.is_some() });
    }
    let (warranty_snapshot, warranty_sha256) = crate::warranty::snapshot_of(policy.as_ref());
    crate::warranty::check_seen(req.warranty_seen.as_deref(), &warranty_sha256)?;
    crate::trial::check_trial(&mut *tx, &product, req.quantity, viewer, guest_email.as_deref()).await?;
    // Wholesale tier, then coupon, read in the order's own transaction like the terms.
    let priced =
        crate::promotions::price_order(&mut *tx, &product, req.quantity, req.coupon_code.as_deref(), now).await?;
    let amount = priced.amount;
    let buyer_key = match (viewer, guest_email.as_deref()) {
        (Some(u), _) => format!("user:{}", u.id.0),
        (None, Some(e)) => format!("guest:{}", e.to_lowercase()),
        (None, None) => "guest:".to_string(),
    };
    let new = NewOrder {
        order_no: new_order_no(now).to_string(),
        buyer_id: viewer.map(|u| u.id),
        guest_email,
        guest_query_hash,
        shop_id: shop.id,
        product_id: product.id,
        quantity: req.quantity,
        // What one item refunds: the amount paid split over the items, rounded down (see `pricing::unit_refund`).
        unit_price: priced.unit_refund,
        amount,
        warranty_snapshot,
        warranty_sha256: warranty_sha256.to_vec(),
        warranty_ack: true,
        created_at: now,
        expires_at: now.plus_seconds(state.config.order_ttl_seconds),
        custom_answers,
    };
    let id = tx.insert_order(&new).await?;
    crate::promotions::record_pricing(&mut *tx, id, &priced, &buyer_key, now).await?;
    // One cover row per order: kind `cover` when warranty insurance was bought (with `extended_until` too when
    // the extension was), `extension` for an extension alone; the premium is what the buyer pays for both.
    if premium.is_some() || extension.is_some() {
        let kind = if premium.is_some() { kabao_store::CoverKind::Cover } else { kabao_store::CoverKind::Extension };
        let total = premium
            .unwrap_or(Money::ZERO)
            .checked_add(extension.unwrap_or(Money::ZERO))
            .ok_or(OrderError::AmountOverflow)?;
        let extended_until = extension.map(|_| crate::insurance::extended_until(now));
        tx.insert_cover(&kabao_store::Cover { order_id: id, kind, premium: total, extended_until, created_at: now })
            .await?;
    }
    crate::trial::mark_trial(&mut *tx, &product, id, viewer, new.guest_email.as_deref()).await?;
    if let Some(device) = req.device_id.as_deref() {
        tx.set_order_device(id, device).await?;
    }
    // The order was inserted in this transaction: its chain starts here, nothing to read.
    append_event_after(
        &mut *tx,
        id,
        None,
        &OrderEvent::OrderCreated {
            order_no: &new.order_no,
            product: product.id,
            quantity: req.quantity,
            amount,
            warranty_sha256: &new.warranty_sha256,
            warranty_version: policy.as_ref().map(|c| c.version.version),
            buyer: viewer.map(|u| u.id),
        },
        now,
    )
    .await?;
    let order = tx.order_by_id(id).await?.ok_or(OrderError::OrderVanished(id))?;
    run.complete(&mut *tx, &order, now).await?;
    tx.commit().await?;
    tracing::info!(order = %order.order_no, product = %product.id, quantity = req.quantity, "order created");
    Ok(order)
}

/// Where a payment's money comes from.
#[derive(Debug, Clone, Copy)]
pub enum PaymentSource {
    Wallet(UserId),
    /// A gateway, identified by our payment id.
    Gateway(i64),
}

/// Applies a payment to a pending order inside the caller's transaction: escrow entry, key allocation and the
/// order's new state land together, or not at all. Stock gone since ordering → the money is refunded
/// (to a registered buyer's wallet, or back through the gateway for a guest), never lost.
pub async fn apply_payment(
    state: &App,
    tx: &mut dyn Tx,
    order: &Order,
    source: PaymentSource,
) -> Result<OrderState, OrderError> {
    let now = state.now();
    let pay = match source {
        PaymentSource::Wallet(u) => ledger::pay_from_wallet(u, order.id, order.amount),
        PaymentSource::Gateway(_) => ledger::pay_direct(order.id, order.amount),
    }
    .map_err(OrderError::Ledger)?;
    match tx.post_ledger(&pay, Some(order.id), now).await {
        Ok(_) => {}
        Err(StoreError::Ledger(e)) => return Err(OrderError::InsufficientBalance(e)),
        Err(e) => return Err(e.into()),
    }
    // The premium goes into the insurance pool in the payment's own transaction, from the same source.
    if let Some(premium) = crate::insurance::premium_of(tx, order.id).await? {
        let premium_tx = match source {
            PaymentSource::Wallet(u) => ledger::premium_from_wallet(u, premium),
            PaymentSource::Gateway(_) => ledger::premium_direct(premium),
        }
        .map_err(OrderError::Ledger)?;
        match tx.post_ledger(&premium_tx, Some(order.id), now).await {
            Ok(_) => {}
            Err(StoreError::Ledger(e)) => return Err(OrderError::InsufficientBalance(e)),
            Err(e) => return Err(e.into()),
        }
    }
    let via = match source {
        PaymentSource::Wallet(_) => PaidFrom::Wallet,
        PaymentSource::Gateway(p) => PaidFrom::Gateway { payment_id: p },
    };
    let head = tx.last_event(order.id).await?;
    let event = OrderEvent::OrderPaid { amount: order.amount, source: via };
    let paid = append_event_after(tx, order.id, head.as_ref(), &event, now).await?;
    let product = tx.product_by_id(order.product_id).await?.ok_or(OrderError::ProductVanished(order.product_id))?;
    // Card keys are allocated one per unit; a shared secret (循环卡密) and custom goods (人工交付) only take from
    // their stock count, and custom goods then wait for the merchant.
    let (keys, outcome) = match product.kind {
        GoodsKind::Standard => {
            let keys = tx.allocate_keys(order.product_id, order.id, order.quantity).await?;
            let ok = keys.len() as i64 == order.quantity;
            (keys, if ok { PaymentOutcome::Delivered } else { PaymentOutcome::RefundedNoStock })
        }
        GoodsKind::Shared | GoodsKind::Custom => {
            let taken = tx.take_counted_stock(order.product_id, order.quantity).await?;
            let outcome = match (taken, product.kind) {
                (false, _) => PaymentOutcome::RefundedNoStock,
                (true, GoodsKind::Custom) => PaymentOutcome::AwaitingDelivery,
                (true, _) => PaymentOutcome::Delivered,
            };
            (Vec::new(), outcome)
        }
    };
    let next = on_payment(order.state, outcome)?;
    let moved = match next {
        OrderState::Delivered => {
            tx.deliver_order(order.id, order.state, now, crate::claims::settle_after(state, order, now)).await?
        }
        _ => tx.update_order_state(order.id, order.state, next, now).await?,
    };
    if !moved {
        return Err(OrderError::Changed);
    }
    if outcome != PaymentOutcome::RefundedNoStock {
        crate::webhooks::order_paid(tx, order, now).await?;
        let before = product.stock_available;
        let after = before.saturating_sub(order.quantity);
        crate::webhooks::stock_changed(tx, product.shop_id, product.id, before, after, now).await?;
    }
    match outcome {
        PaymentOutcome::Delivered => {
            append_event_after(tx, order.id, Some(&paid), &OrderEvent::KeysAssigned { card_keys: &keys }, now).await?;
        }
        PaymentOutcome::AwaitingDelivery => {
            let hours = crate::inventory::custom_spec(tx, order.product_id)
                .await?
                .map(|s| s.delivery_hours)
                .unwrap_or(kabao_core::custom::DEFAULT_DELIVERY_HOURS);
            let deadline = now.plus_seconds(hours * 3600);
            tx.set_delivery_deadline(order.id, deadline).await?;
            append_event(
                tx,
                order.id,
                &OrderEvent::OrderAwaitingDelivery { delivery_deadline: deadline, delivery_hours: hours },
                now,
            )
            .await?;
        }
        PaymentOutcome::RefundedNoStock => refund_order(state, tx, order, RefundReason::OutOfStock, now).await?,
    }
    Ok(next)
}

/// Returns a paid order's whole escrow to where the money came from — a registered buyer's wallet, or the
/// gateway for a guest — and records why, in the caller's transaction (which has already moved the state).
pub async fn refund_order(
    state: &App,
    tx: &mut dyn Tx,
    order: &Order,
    reason: RefundReason,
    now: Timestamp,
) -> Result<(), OrderError> {
    let route = crate::refunds::route(state, &mut *tx, order).await?;
    // Nothing was delivered: the coupon use goes back too.
    tx.release_coupon_use(order.id, now).await?;
    let refund = kabao_core::refund::from_escrow(order.id, route.to, order.amount).map_err(OrderError::Ledger)?;
    crate::refunds::post(&mut *tx, &route, &refund, order.id, order.amount, now).await?;
    // Never delivered: the premium goes back too, by the same rule.
    if let Some(premium) = crate::insurance::premium_of(tx, order.id).await? {
        let back = kabao_core::refund::premium_back(route.to, premium).map_err(OrderError::Ledger)?;
        crate::refunds::post(&mut *tx, &route, &back, order.id, premium, now).await?;
    }
    let event = OrderEvent::OrderRefunded { reason, amount: order.amount, to: refund.to };
    Ok(append_event(tx, order.id, &event, now).await?)
}

/// The associated-data fingerprint that binds a manual delivery's ciphertext to its order.
fn manual_delivery_binding(state: &App, order: &Order) -> kabao_core::vault::Fingerprint {
    state.keyring.fingerprint(order.shop_id, &format!("kabao.manual_delivery.{}", order.id.0))
}

/// The merchant delivers a custom-goods order by hand: the text is sealed like a card key, the order becomes
/// delivered, and the claim window starts. Another shop's order is "not found"; a passed deadline is refused
/// (the job refunds the buyer).
pub async fn deliver_by_hand(state: &App, merchant: &User, order_no: &str, text: &str) -> Result<Order, OrderError> {
    let text = kabao_core::custom::delivery_text(text)?;
    let order_no = OrderNo::parse(order_no).ok_or(OrderError::NotFound)?;
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let order = tx.order_by_no(order_no.as_str()).await?.ok_or(OrderError::NotFound)?;
    let shop = tx.shop_by_id(order.shop_id).await?;
    if shop.is_none_or(|s| s.owner_id != merchant.id) {
        return Err(OrderError::NotFound);
    }
    // The transition's rules (only a paid order can be delivered by hand); its target is always delivered.
    on_manual_delivery(order.state)?;
    if order.delivery_deadline.is_some_and(|d| d <= now) {
        return Err(OrderError::DeliveryDeadlinePassed);
    }
    let mut nonce = [0u8; kabao_core::vault::NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let binding = manual_delivery_binding(state, &order);
    let (version, sealed) = state.keyring.seal(order.shop_id, order.product_id, &binding, text, nonce)?;
    tx.set_manual_delivery(order.id, &sealed, version).await?;
    if !tx.deliver_order(order.id, order.state, now, crate::claims::settle_after(state, &order, now)).await? {
        return Err(OrderError::Changed);
    }
    append_event(&mut *tx, order.id, &OrderEvent::GoodsDelivered { by: merchant.id, chars: text.chars().count() }, now)
        .await?;
    let order = tx.order_by_id(order.id).await?.ok_or(OrderError::OrderVanished(order.id))?;
    tx.commit().await?;
    tracing::info!(order = %order.order_no, "custom goods delivered by hand");
    mail_if_delivered(state, order.id).await;
    Ok(order)
}

/// Mails the buyer that an order was delivered (after the payment's transaction committed).
pub async fn mail_if_delivered(state: &App, order: OrderId) {
    let found = async {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let Some(o) = tx.order_by_id(order).await? else { return Ok::<_, StoreError>(None) };
        if o.state != OrderState::Delivered {
            return Ok(None);
        }
        let to = match o.buyer_id {
            Some(b) => tx.user_by_id(b).await?.and_then(|u| u.email),
            None => o.guest_email.clone(),
        };
        Ok(Some((to, o.order_no)))
    }
    .await;
    match found {
        Ok(Some((to, no))) => state.mail_delivery(to, &no),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "delivery mail: order lookup failed"),
    }
}

/// The one rule for starting a payment: the order awaits payment and has not expired.
pub fn check_payable(state: &App, order: &Order) -> Result<(), OrderError> {
    if order.state != OrderState::PendingPayment {
        return Err(OrderError::NotPayable);
    }
    if order.expires_at <= state.now() {
        return Err(OrderError::Expired);
    }
    Ok(())
}

/// Starts paying an order through a configured gateway of the payments port: the payment is recorded, then
/// the gateway asked how the payer pays ([`crate::gateways::Checkout`]). A gateway that refuses leaves the
/// payment pending and unused (nothing is owed on it).
pub async fn start_payment_at(
    state: &App,
    order: &Order,
    gateway: &str,
    subject: &str,
    device: crate::gateways::Device,
    client_ip: Option<std::net::IpAddr>,
    return_url: String,
) -> Result<(kabao_store::Payment, crate::gateways::Checkout), OrderError> {
    let adapter = state
        .gateways
        .get(gateway)
        .filter(|g| g.id() != crate::gateways::wallet::WALLET)
        .ok_or(crate::payments::PaymentError::UnknownGateway)?
        .clone();
    let payment = start_gateway_payment(state, order, adapter.id()).await?;
    let request = crate::gateways::PayRequest { payment: &payment, subject, device, client_ip, return_url };
    let checkout = adapter.create(&request).await.map_err(|e| {
        tracing::warn!(error = %e, gateway, trade_no = %payment.trade_no, "gateway refused to start a payment");
        crate::payments::PaymentError::Gateway(e)
    })?;
    Ok((payment, checkout))
}

/// Starts paying an order through a gateway, if it may be paid.
pub async fn start_gateway_payment(
    state: &App,
    order: &Order,
    gateway: &str,
) -> Result<kabao_store::Payment, OrderError> {
    check_payable(state, order)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let due = crate::insurance::amount_due(&mut *tx, order).await?;
    drop(tx);
    Ok(crate::payments::start_with(
        state,
        gateway,
        kabao_store::PaymentPurpose::Order(order.id),
        due,
        &crate::idempotency::NoKey,
    )
    .await?)
}

/// Pays an order from the buyer's wallet.
pub async fn pay_with_wallet(state: &App, user: &User, order_no: &str) -> Result<Order, OrderError> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    let order = tx.order_by_no(order_no).await?.filter(|o| o.buyer_id == Some(user.id)).ok_or(OrderError::NotFound)?;
    check_payable(state, &order)?;
    apply_payment(state, &mut *tx, &order, PaymentSource::Wallet(user.id)).await?;
    let order = tx.order_by_id(order.id).await?.ok_or(OrderError::OrderVanished(order.id))?;
    tx.commit().await?;
    if order.state == OrderState::Delivered {
        // The buyer is at hand: no need to look the order and the address up again.
        state.mail_delivery(user.email.clone(), &order.order_no);
    }
    Ok(order)
}

/// How a visitor proves an order is theirs.
pub enum OrderAccess<'a> {
    User(&'a User),
    /// A guest: the order's query password if it has one, else its email.
    Guest {
        secret: &'a str,
    },
}

/// A guest's order by its number and secret (the query password if the order has one, else the email). Failures
/// are throttled per order and per client IP, shared by the page 订单查询 and the API's `X-Order-Secret`, so a
/// secret cannot be guessed: past the limit every lookup waits (429 with `Retry-After`), even a right one.
pub async fn guest_order(
    state: &App,
    order_no: &str,
    secret: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<Order, OrderError> {
    let now = state.now();
    let by_order = OrderNo::parse(order_no).map(|n| state.lookup_order_check(n.as_str()));
    let by_ip = ip.map(|ip| state.lookup_ip_check(ip));
    // Counted before the answer is known, so a burst of concurrent guesses cannot all pass the check. (The
    // per-IP count is kept after the fact: a right secret must not count against a shared address.)
    let checks: Vec<&crate::throttles::Check> = by_order.iter().chain(by_ip.iter()).collect();
    let count: Vec<&crate::throttles::Check> = by_order.iter().collect();
    if let Some(until) = crate::throttles::check_and_count(state, &checks, &count).await? {
        let retry_after_s = kabao_core::throttle::retry_after_seconds(now, until);
        return Err(OrderError::LookupThrottled { retry_after_s });
    }
    let result = order_for(state, order_no, &OrderAccess::Guest { secret }).await;
    if matches!(result, Err(OrderError::NotFound)) {
        if let Some(by_ip) = &by_ip {
            crate::throttles::count(state, &[by_ip]).await?;
        }
    }
    result
}

/// Loads an order if the visitor may see it; anything else is "not found".
pub async fn order_for(state: &App, order_no: &str, access: &OrderAccess<'_>) -> Result<Order, OrderError> {
    let order_no = OrderNo::parse(order_no).ok_or(OrderError::NotFound)?;
    let mut tx = state.store.begin(TxMode::Lookup).await?;
    let order = tx.order_by_no(order_no.as_str()).await?.ok_or(OrderError::NotFound)?;
    let allowed = match access {
        OrderAccess::User(u) => order.buyer_id == Some(u.id),
        OrderAccess::Guest { secret } => {
            let secret = secret.trim();
            // An order with a query password opens with that password only: the email is often known to others
            // (it is written on the mail the order sent), the password only to the buyer.
            let secret_ok = match order.guest_query_hash.as_deref() {
                Some(h) => {
                    !secret.is_empty()
                        && bool::from(subtle::ConstantTimeEq::ct_eq(h, crate::secrets::sha256(secret).as_slice()))
                }
                None => {
                    order.guest_email.as_deref().is_some_and(|e| !secret.is_empty() && e.eq_ignore_ascii_case(secret))
                }
            };
            order.buyer_id.is_none() && secret_ok
        }
    };
    if allowed {
        Ok(order)
    } else {
        Err(OrderError::NotFound)
    }
}

/// A key shown to its buyer.
pub struct RevealedKey {
    /// The item (1..=quantity) it was delivered for; a shared secret or a manual delivery counts as item 1.
    pub item: i32,
    pub secret: Zeroizing<String>,
}

/// Decrypts an order's keys for its buyer and records the reveal (who, when — never the key).
pub async fn reveal_keys(state: &App, order: &Order, by: Option<UserId>) -> Result<Vec<RevealedKey>, OrderError> {
    if !matches!(order.state, OrderState::Delivered | OrderState::Settled) {
        return Err(OrderError::NotDelivered);
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let keys = tx.order_keys(order.id).await?;
    let mut out = Vec::with_capacity(keys.len().max(1));
    if keys.is_empty() {
        // A shared-secret order: every buyer receives the product's one secret.
        let product = tx.product_by_id(order.product_id).await?.ok_or(OrderError::ProductVanished(order.product_id))?;
        if product.kind == GoodsKind::Shared {
            let secret = crate::inventory::open_shared_secret(&mut *tx, &state.keyring, &product).await?;
            out.extend(secret.map(|secret| RevealedKey { item: 1, secret }));
        } else if let Some((sealed, version)) = tx.manual_delivery(order.id).await? {
            // Custom goods: the text the merchant delivered by hand.
            let binding = manual_delivery_binding(state, order);
            let aad = CardKeyAad {
                shop: order.shop_id,
                product: order.product_id,
                fingerprint: &binding,
                key_version: version,
            };
            let secret = state.keyring.open(aad, &sealed)?;
            out.push(RevealedKey { item: 1, secret });
        }
    }
    // Keys replaced by a re-issue stay on record but are no longer delivered.
    for k in keys.iter().filter(|k| k.voided_at.is_none()) {
        let aad = CardKeyAad {
            shop: k.key.shop_id,
            product: k.key.product_id,
            fingerprint: &k.key.fingerprint,
            key_version: k.key.key_version,
        };
        let secret = state.keyring.open(aad, &k.key.ciphertext)?;
        out.push(RevealedKey { item: k.item, secret });
    }
    tx.record_reveal(&Reveal { order_id: order.id, user_id: by, at: now }).await?;
    append_event(&mut *tx, order.id, &OrderEvent::KeysRevealed { by, count: out.len(), item: None }, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// Money as shown on order pages.
pub fn yuan(m: Money) -> String {
    m.to_string()
}

/// A guest's order found by the pass their browser holds (the caller checked the pass); a registered buyer's
/// order is never found this way.
pub async fn guest_order_by_pass(state: &App, order_no: &OrderNo) -> Result<Option<Order>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.order_by_no(order_no.as_str()).await?.filter(|o| o.buyer_id.is_none()))
}

/// An order by its id, for pages that only hold the id (a payment's purpose).
pub async fn by_id(state: &App, order: OrderId) -> Result<Option<Order>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.order_by_id(order).await
}

/// A buyer's most recent orders.
pub async fn of_buyer(state: &App, buyer: &User, limit: i64) -> Result<Vec<Order>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.list_buyer_orders(buyer.id, limit, 0).await
}

/// What an order page shows beside the order itself, read in one transaction.
pub struct OrderDetails {
    /// `None` only if the product was deleted.
    pub product: Option<kabao_store::Product>,
    /// The order's event chain, oldest first.
    pub events: Vec<ChainedEvent>,
    pub claims: Vec<kabao_store::ClaimRecord>,
    pub review: Option<kabao_store::ReviewRecord>,
    /// The warranty insurance (质保险) premium paid with the order, if insured.
    pub premium: Option<Money>,
    /// The order's cover (warranty insurance and/or extended warranty), if any.
    pub cover: Option<kabao_store::Cover>,
}

/// The product, timeline, claims and review of an order (the caller checked the visitor may see it).
pub async fn details(state: &App, order: &Order) -> Result<OrderDetails, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(OrderDetails {
        product: tx.product_by_id(order.product_id).await?,
        events: tx.order_events(order.id).await?,
        claims: tx.order_claims(order.id).await?,
        review: tx.review_of_order(order.id).await?,
        cover: tx.cover_of(order.id).await?,
        premium: crate::insurance::premium_of(&mut *tx, order.id).await?,
    })
}

/// A paid custom-goods order waiting for its merchant, with its product's title.
pub struct AwaitingDelivery {
    pub order: Order,
    pub product_title: String,
}

/// The shop's custom-goods orders to deliver by hand, nearest deadline first (at most 200).
pub async fn awaiting_delivery(state: &App, shop: &kabao_store::Shop) -> Result<Vec<AwaitingDelivery>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let orders = tx.shop_orders_awaiting_delivery(shop.id, 200).await?;
    let mut rows = Vec::with_capacity(orders.len());
    for order in orders {
        let product_title = tx.product_by_id(order.product_id).await?.map(|p| p.title).unwrap_or_default();
        rows.push(AwaitingDelivery { order, product_title });
    }
    Ok(rows)
}
