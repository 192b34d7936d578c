//! Orders: checkout (with idempotency keys), payment into escrow with key allocation in the same transaction,
//! revealing keys (audited), and the event chain every state change appends to.

use crate::error::Problem;
use crate::error::Status;
use crate::idempotency::Completion;
use crate::App;
use kabao_core::audit::ChainedEvent;
use kabao_core::catalog::GoodsKind;
use kabao_core::events::{OrderEvent, PaidFrom, RefundReason};
use kabao_core::ledger::{self, OrderId};
use kabao_core::order::{on_manual_delivery, on_payment, OrderNo, OrderState, PaymentOutcome};
use kabao_core::vault::CardKeyAad;
use kabao_core::{Money, ProductId, Timestamp, UserId};
use kabao_store::{NewOrder, Order, Reveal, StoreError, Tx, TxMode, User};
use rand::RngCore;
use zeroize::Zeroizing;

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
}

/// Appends the next event of an order's hash chain, in the caller's transaction.
pub async fn append_event(
    tx: &mut dyn Tx,
    order: OrderId,
    event: &OrderEvent<'_>,
    now: Timestamp,
) -> Result<(), Problem> {
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
) -> Result<ChainedEvent, Problem> {
    let event = event.chain_after(last, now.millis());
    tx.append_event(order, &event).await?;
    Ok(event)
}

fn new_order_no(now: Timestamp) -> OrderNo {
    let mut random = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut random);
    OrderNo::new(now, random)
}

/// Another request moved the order first (the compare-and-set on its state failed).
fn order_changed() -> Problem {
    Problem::new(Status::CONFLICT, "order.changed", "订单状态已变化，请刷新", "The order changed; reload")
}

fn bad(code: &'static str, field: &str, zh: &str, en: &str) -> Problem {
    Problem::bad_request(code, field, zh, en)
}

/// Creates an unpaid order. Nothing is reserved: keys are allocated only when the payment arrives.
/// A keyed request (`run`, see [`crate::idempotency`]) stores its answer in the order's own transaction.
pub async fn checkout(
    state: &App,
    buyer: &Buyer,
    req: &CheckoutRequest,
    run: &dyn Completion<Order>,
) -> Result<Order, Problem> {
    let now = state.now();
    let viewer = match buyer {
        Buyer::User(u) => Some(u),
        Buyer::Guest { .. } => None,
    };
    let (product, shop) =
        crate::products::public(state, req.product, None).await.map_err(|_| Problem::not_found("product.not_found"))?;
    if viewer.is_some_and(|u| u.id == shop.owner_id) {
        return Err(bad("order.own_product", "product", "不能购买自己店铺的商品", "You cannot buy from your own shop"));
    }
    let custom_answers = if product.kind == GoodsKind::Custom {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let spec = crate::inventory::custom_spec(&mut *tx, product.id).await?.ok_or_else(|| {
            bad(
                "order.custom_goods_not_ready",
                "product",
                "商家尚未设置该商品的下单信息，暂不能购买",
                "The merchant has not set up this product's order fields yet",
            )
        })?;
        drop(tx);
        let answers =
            spec.answers(&req.custom_answers).map_err(|e| Problem::from_localized(Status::BAD_REQUEST, &e))?;
        Some(answers.to_json())
    } else if req.custom_answers.iter().any(|(_, v)| !v.trim().is_empty()) {
        return Err(bad(
            "order.custom_fields_not_expected",
            "custom_fields",
            "该商品自动发货，无需填写下单信息",
            "This product is delivered automatically and takes no order fields",
        ));
    } else {
        None
    };
    if req.quantity < 1 || req.quantity > product.max_per_order {
        return Err(Problem::bad_request(
            "order.quantity_invalid",
            "quantity",
            format!("购买数量需在 1 到 {} 之间", product.max_per_order),
            format!("Quantity must be between 1 and {}", product.max_per_order),
        ));
    }
    if req.quantity > product.stock_available {
        return Err(Problem::new(
            Status::CONFLICT,
            "order.out_of_stock",
            format!("库存不足：当前仅剩 {} 件", product.stock_available),
            format!("Not enough stock: {} left", product.stock_available),
        )
        .with_field("quantity"));
    }
    let (guest_email, guest_query_hash) = match buyer {
        Buyer::User(_) => (None, None),
        Buyer::Guest { email, query_password } => {
            let email =
                kabao_core::user::Email::parse(email).map_err(|e| Problem::from_localized(Status::BAD_REQUEST, &e))?;
            let hash = match query_password.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                Some(p) if p.chars().count() < 6 || p.chars().count() > 64 => {
                    return Err(bad(
                        "order.query_password_invalid",
                        "query_password",
                        "查询密码需为 6–64 个字符",
                        "The query password must be 6–64 characters",
                    ))
                }
                Some(p) => Some(crate::secrets::sha256(p)),
                None => None,
            };
            (Some(email.as_str().to_string()), hash)
        }
    };
    let amount = product
        .price
        .checked_mul(req.quantity)
        .ok_or_else(|| bad("order.amount_overflow", "quantity", "金额过大", "Amount too large"))?;
    crate::trial::check_first_order(state, viewer, &shop, amount, req.first_order_confirmed).await?;

    let mut tx = state.store.begin(TxMode::Write).await?;
    // The terms are read in the order's own transaction: what the buyer accepted is exactly what is stored.
    let policy = crate::warranty::current(&mut *tx, product.id).await?;
    if !req.warranty_ack {
        return Err(match policy {
            Some(_) => bad(
                "order.warranty_not_acknowledged",
                "warranty_ack",
                "请先阅读并确认该商品的补单规则",
                "Please read and accept this product's warranty rules first",
            ),
            None => bad(
                "order.warranty_not_acknowledged",
                "warranty_ack",
                "请先确认质保条款：该商品无质保，卡密出问题时平台无法按规则补发或退款",
                "Please acknowledge the warranty terms first: this product has no warranty",
            ),
        });
    }
    let (warranty_snapshot, warranty_sha256) = crate::warranty::snapshot_of(policy.as_ref());
    crate::warranty::check_seen(req.warranty_seen.as_deref(), &warranty_sha256)?;
    crate::trial::check_trial(&mut *tx, &product, req.quantity, viewer, guest_email.as_deref()).await?;
    let new = NewOrder {
        order_no: new_order_no(now).to_string(),
        buyer_id: viewer.map(|u| u.id),
        guest_email,
        guest_query_hash,
        shop_id: shop.id,
        product_id: product.id,
        quantity: req.quantity,
        unit_price: product.price,
        amount,
        warranty_snapshot,
        warranty_sha256: warranty_sha256.to_vec(),
        warranty_ack: true,
        created_at: now,
        expires_at: now.plus_seconds(state.config.order_ttl_seconds),
        custom_answers,
    };
    let id = tx.insert_order(&new).await?;
    crate::trial::mark_trial(&mut *tx, &product, id, viewer, new.guest_email.as_deref()).await?;
    if let Some(device) = req.device_id.as_deref() {
        tx.set_order_device(id, device).await?;
    }
    append_event(
        &mut *tx,
        id,
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
    let order = tx.order_by_id(id).await?.ok_or_else(|| Problem::internal("order vanished"))?;
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
) -> Result<OrderState, Problem> {
    let now = state.now();
    let pay = match source {
        PaymentSource::Wallet(u) => ledger::pay_from_wallet(u, order.id, order.amount),
        PaymentSource::Gateway(_) => ledger::pay_direct(order.id, order.amount),
    }
    .map_err(Problem::internal)?;
    match tx.post_ledger(&pay, Some(order.id), now).await {
        Ok(_) => {}
        Err(StoreError::Ledger(e)) => return Err(Problem::from_localized(Status::PAYMENT_REQUIRED, &e)),
        Err(e) => return Err(e.into()),
    }
    let via = match source {
        PaymentSource::Wallet(_) => PaidFrom::Wallet,
        PaymentSource::Gateway(p) => PaidFrom::Gateway { payment_id: p },
    };
    let head = tx.last_event(order.id).await?;
    let event = OrderEvent::OrderPaid { amount: order.amount, source: via };
    let paid = append_event_after(tx, order.id, head.as_ref(), &event, now).await?;
    let product =
        tx.product_by_id(order.product_id).await?.ok_or_else(|| Problem::internal("ordered product vanished"))?;
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
    let next = on_payment(order.state, outcome).map_err(|e| Problem::from_localized(Status::CONFLICT, &e))?;
    let moved = match next {
        OrderState::Delivered => {
            tx.deliver_order(order.id, order.state, now, crate::claims::settle_after(state, order, now)).await?
        }
        _ => tx.update_order_state(order.id, order.state, next, now).await?,
    };
    if !moved {
        return Err(order_changed());
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
        PaymentOutcome::RefundedNoStock => refund_order(tx, order, RefundReason::OutOfStock, now).await?,
    }
    Ok(next)
}

/// Returns a paid order's whole escrow to where the money came from — a registered buyer's wallet, or the
/// gateway for a guest — and records why, in the caller's transaction (which has already moved the state).
pub async fn refund_order(tx: &mut dyn Tx, order: &Order, reason: RefundReason, now: Timestamp) -> Result<(), Problem> {
    let refund = kabao_core::refund::from_escrow(order.id, order.buyer_id, order.amount).map_err(Problem::internal)?;
    tx.post_ledger(&refund.tx, Some(order.id), now).await?;
    append_event(tx, order.id, &OrderEvent::OrderRefunded { reason, amount: order.amount, to: refund.to }, now).await
}

/// The associated-data fingerprint that binds a manual delivery's ciphertext to its order.
fn manual_delivery_binding(state: &App, order: &Order) -> kabao_core::vault::Fingerprint {
    state.keyring.fingerprint(order.shop_id, &format!("kabao.manual_delivery.{}", order.id.0))
}

/// The merchant delivers a custom-goods order by hand: the text is sealed like a card key, the order becomes
/// delivered, and the claim window starts. Another shop's order is "not found"; a passed deadline is refused
/// (the job refunds the buyer).
pub async fn deliver_by_hand(state: &App, merchant: &User, order_no: &str, text: &str) -> Result<Order, Problem> {
    let text = kabao_core::custom::delivery_text(text).map_err(|e| Problem::from_localized(Status::BAD_REQUEST, &e))?;
    let order_no = OrderNo::parse(order_no).ok_or_else(|| Problem::not_found("order.not_found"))?;
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let order = tx.order_by_no(order_no.as_str()).await?.ok_or_else(|| Problem::not_found("order.not_found"))?;
    let shop = tx.shop_by_id(order.shop_id).await?;
    if shop.is_none_or(|s| s.owner_id != merchant.id) {
        return Err(Problem::not_found("order.not_found"));
    }
    // The transition's rules (only a paid order can be delivered by hand); its target is always delivered.
    on_manual_delivery(order.state).map_err(|e| Problem::from_localized(Status::CONFLICT, &e))?;
    if order.delivery_deadline.is_some_and(|d| d <= now) {
        return Err(Problem::new(
            Status::CONFLICT,
            "order.delivery_deadline_passed",
            "发货时限已过，该订单将自动退款给买家",
            "The delivery deadline has passed; the order is being refunded to the buyer",
        ));
    }
    let mut nonce = [0u8; kabao_core::vault::NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let binding = manual_delivery_binding(state, &order);
    let (version, sealed) =
        state.keyring.seal(order.shop_id, order.product_id, &binding, text, nonce).map_err(Problem::internal)?;
    tx.set_manual_delivery(order.id, &sealed, version).await?;
    if !tx.deliver_order(order.id, order.state, now, crate::claims::settle_after(state, &order, now)).await? {
        return Err(order_changed());
    }
    append_event(&mut *tx, order.id, &OrderEvent::GoodsDelivered { by: merchant.id, chars: text.chars().count() }, now)
        .await?;
    let order = tx.order_by_id(order.id).await?.ok_or_else(|| Problem::internal("order vanished"))?;
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
pub fn check_payable(state: &App, order: &Order) -> Result<(), Problem> {
    if order.state != OrderState::PendingPayment {
        return Err(Problem::new(
            Status::CONFLICT,
            "order.not_payable",
            "该订单不是待付款状态",
            "This order is not awaiting payment",
        ));
    }
    if order.expires_at <= state.now() {
        return Err(Problem::new(
            Status::CONFLICT,
            "order.expired",
            "订单已过期，请重新下单",
            "The order expired; please order again",
        ));
    }
    Ok(())
}

/// Starts paying an order through a gateway, if it may be paid.
pub async fn start_gateway_payment(state: &App, order: &Order, gateway: &str) -> Result<kabao_store::Payment, Problem> {
    check_payable(state, order)?;
    crate::payments::start_with(
        state,
        gateway,
        kabao_store::PaymentPurpose::Order(order.id),
        order.amount,
        &crate::idempotency::NoKey,
    )
    .await
}

/// Pays an order from the buyer's wallet.
pub async fn pay_with_wallet(state: &App, user: &User, order_no: &str) -> Result<Order, Problem> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    let order = tx
        .order_by_no(order_no)
        .await?
        .filter(|o| o.buyer_id == Some(user.id))
        .ok_or_else(|| Problem::not_found("order.not_found"))?;
    check_payable(state, &order)?;
    apply_payment(state, &mut *tx, &order, PaymentSource::Wallet(user.id)).await?;
    let order = tx.order_by_id(order.id).await?.ok_or_else(|| Problem::internal("order vanished"))?;
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
) -> Result<Order, Problem> {
    let now = state.now();
    let order_key = OrderNo::parse(order_no).map(|n| n.as_str().to_string());
    {
        let mut t = state.throttles.lock().map_err(|_| Problem::internal("throttle lock poisoned"))?;
        let until = order_key
            .as_ref()
            .and_then(|k| t.lookup_by_order.blocked_until(k, now))
            .or_else(|| ip.and_then(|ip| t.lookup_by_ip.blocked_until(&ip, now)));
        if let Some(until) = until {
            let seconds = kabao_core::throttle::retry_after_seconds(now, until);
            let minutes = seconds.div_ceil(60);
            return Err(Problem::too_many(
                "lookup.throttled",
                seconds,
                format!("查询失败次数过多，请 {minutes} 分钟后再试"),
                format!("Too many failed lookups; try again in {minutes} minutes"),
            ));
        }
        // Counted before the answer is known, so a burst of concurrent guesses cannot all pass the check above.
        // (The per-IP count is kept after the fact: a right secret must not count against a shared address.)
        if let Some(k) = &order_key {
            t.lookup_by_order.record_failure(k.clone(), now);
        }
    }
    let result = order_for(state, order_no, &OrderAccess::Guest { secret }).await;
    if result.as_ref().is_err_and(|e| e.status == Status::NOT_FOUND) {
        if let Some(ip) = ip {
            state
                .throttles
                .lock()
                .map_err(|_| Problem::internal("throttle lock poisoned"))?
                .lookup_by_ip
                .record_failure(ip, now);
        }
    }
    result
}

/// Loads an order if the visitor may see it; anything else is "not found".
pub async fn order_for(state: &App, order_no: &str, access: &OrderAccess<'_>) -> Result<Order, Problem> {
    let order_no = OrderNo::parse(order_no).ok_or_else(|| Problem::not_found("order.not_found"))?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let order = tx.order_by_no(order_no.as_str()).await?.ok_or_else(|| Problem::not_found("order.not_found"))?;
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
        Err(Problem::not_found("order.not_found"))
    }
}

/// A key shown to its buyer.
pub struct RevealedKey {
    /// The item (1..=quantity) it was delivered for; a shared secret or a manual delivery counts as item 1.
    pub item: i32,
    pub secret: Zeroizing<String>,
}

/// Decrypts an order's keys for its buyer and records the reveal (who, when — never the key).
pub async fn reveal_keys(state: &App, order: &Order, by: Option<UserId>) -> Result<Vec<RevealedKey>, Problem> {
    if !matches!(order.state, OrderState::Delivered | OrderState::Settled) {
        return Err(Problem::new(
            Status::CONFLICT,
            "order.not_delivered",
            "订单尚未发货，暂无卡密",
            "The order has not been delivered yet",
        ));
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let keys = tx.order_keys(order.id).await?;
    let mut out = Vec::with_capacity(keys.len().max(1));
    if keys.is_empty() {
        // A shared-secret order: every buyer receives the product's one secret.
        let product =
            tx.product_by_id(order.product_id).await?.ok_or_else(|| Problem::internal("ordered product vanished"))?;
        if product.kind == GoodsKind::Shared {
            let secret = crate::inventory::open_shared_secret(&mut *tx, &state.keyring, &product)
                .await
                .map_err(Problem::from)?;
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
            let secret = state.keyring.open(aad, &sealed).map_err(Problem::internal)?;
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
        let secret = state.keyring.open(aad, &k.key.ciphertext).map_err(Problem::internal)?;
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
