//! Merchant webhooks: endpoints a merchant registers (each with its own secret, shown once), deliveries written
//! in the transaction of their event, and the job that sends them, signed, with bounded exponential backoff.
//! Sending goes through [`WebhookTransport`] (HTTP lives in `kabao-rails`), so this module speaks no HTTP.
//! The low-stock alert is both a `stock.low` delivery and a mail to the shop's owner, written on the same crossing.
//!
//! Everything a delivery needs is in its row (body, attempts, next attempt, lease), so a restart or a second
//! instance picks up where the last left off; a per-delivery lease keeps two instances from sending one at once.

use crate::App;
use kabao_core::signature;
use kabao_core::vault::NONCE_LEN;
use kabao_core::webhook::{self, EventKind, UrlPolicy, WebhookError};
use kabao_core::{Lang, Localized, ProductId, ShopId, Timestamp};
use kabao_store::{
    DeliveryState, NewWebhookDelivery, Order, StoreError, Tx, TxMode, User, WebhookAttempt, WebhookDeliveryRecord,
    WebhookEndpointRecord,
};
use rand::RngCore;
use std::time::Duration;

/// A shop keeps at most this many endpoints.
pub const MAX_ENDPOINTS: usize = 10;
/// Deliveries listed per page in the console.
pub const DELIVERIES_PAGE: i64 = 50;
/// How long one attempt may take, connection included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries sent per pass; the next pass takes the rest.
const BATCH: i64 = 50;
/// How long a sender holds a delivery: well beyond [`SEND_TIMEOUT`], so a live sender never loses it.
const LEASE_SECONDS: i64 = 120;

/// One signed POST to make.
#[derive(Debug)]
pub struct WebhookRequest<'a> {
    pub url: &'a str,
    /// `Content-Type`, `Kabao-Signature`, `Kabao-Event-Id`, `Kabao-Event`.
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
    /// The addresses that may be connected to: the transport resolves the host itself and refuses the others
    /// (a name pointed at an internal address after registration is still refused).
    pub policy: UrlPolicy,
}

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    /// At most [`webhook::RESPONSE_EXCERPT_BYTES`] bytes of the body, as text.
    pub excerpt: String,
}

/// Why an attempt got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// The host resolved to an address the policy forbids, or did not resolve.
    #[error("refused: {0}")]
    Refused(String),
    /// Connection failed, timed out, or the answer was cut off.
    #[error("unreachable: {0}")]
    Unreachable(String),
}

/// Sends a delivery over HTTP(S) (`kabao_rails::WebhookHttp`; tests may use their own).
#[async_trait::async_trait]
pub trait WebhookTransport: Send + Sync {
    async fn post(&self, request: &WebhookRequest<'_>) -> Result<WebhookResponse, TransportError>;
}

/// Why a webhook request of a merchant was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error(transparent)]
    Invalid(#[from] WebhookError),
    /// Not the merchant's own, removed, or none with that id.
    #[error("no such webhook endpoint of this shop")]
    EndpointNotFound,
    #[error("no such webhook delivery of this shop")]
    DeliveryNotFound,
    #[error("no such product of this shop")]
    ProductNotFound,
    #[error("the threshold must be between 0 and 1000000")]
    BadThreshold,
    #[error("the shop already has {max} endpoints")]
    TooMany { max: usize },
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
    #[error("vault: {0}")]
    Vault(#[from] kabao_core::vault::VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for WebhooksError {
    fn code(&self) -> &'static str {
        match self {
            WebhooksError::Invalid(e) => e.code(),
            WebhooksError::EndpointNotFound => "webhook.endpoint_not_found",
            WebhooksError::DeliveryNotFound => "webhook.delivery_not_found",
            WebhooksError::ProductNotFound => "product.not_found",
            WebhooksError::BadThreshold => "webhook.bad_threshold",
            WebhooksError::TooMany { .. } => "webhook.too_many",
            WebhooksError::Shop(e) => e.code(),
            WebhooksError::Vault(_) | WebhooksError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            WebhooksError::Invalid(e) => e.field(),
            WebhooksError::BadThreshold => Some("threshold"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            WebhooksError::Invalid(e) => e.message(lang),
            WebhooksError::EndpointNotFound => lang.pick("找不到该回调地址", "No such webhook endpoint").into(),
            WebhooksError::DeliveryNotFound => lang.pick("找不到该推送记录", "No such webhook delivery").into(),
            WebhooksError::ProductNotFound => lang.pick("商品不存在", "Product not found").into(),
            WebhooksError::BadThreshold => {
                lang.pick("库存提醒阈值须在 0 到 1000000 之间", "The threshold must be between 0 and 1,000,000").into()
            }
            WebhooksError::TooMany { max } => match lang {
                Lang::Zh => format!("每个店铺最多 {max} 个回调地址，请先删除不用的"),
                Lang::En => format!("At most {max} endpoints per shop; remove one you no longer use first"),
            },
            WebhooksError::Shop(e) => e.message(lang),
            WebhooksError::Vault(_) | WebhooksError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// The platform's URL policy from the configuration.
pub fn policy(state: &App) -> UrlPolicy {
    UrlPolicy { allow_http: state.config.webhook_allow_http, allow_private: state.config.webhook_allow_private }
}

/// The associated data a secret is sealed under: its shop and URL, so a sealed secret copied to another row
/// does not open.
fn secret_context(shop: ShopId, url: &str) -> Vec<u8> {
    format!("webhook_endpoints|{}|{url}", shop.0).into_bytes()
}

/// Checks a URL and every address its host resolves to.
async fn check_url(state: &App, url: &str) -> Result<webhook::EndpointUrl, WebhookError> {
    let policy = policy(state);
    let parsed = policy.parse(url)?;
    let addrs: Vec<_> = tokio::net::lookup_host((parsed.host(), parsed.port()))
        .await
        .map_err(|_| WebhookError::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(WebhookError::Unresolvable);
    }
    if addrs.iter().any(|a| !policy.address_allowed(a.ip())) {
        return Err(WebhookError::PrivateAddress);
    }
    Ok(parsed)
}

/// Registers an endpoint for the merchant's shop. Returns it with its secret, which is shown this once.
pub async fn create_endpoint<'a>(
    state: &App,
    merchant: &User,
    url: &str,
    events: impl IntoIterator<Item = &'a str>,
) -> Result<(WebhookEndpointRecord, String), WebhooksError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let kinds = webhook::parse_kinds(events)?;
    let url = check_url(state, url).await?;
    let secret = format!("whsec_{}", crate::secrets::random_token());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let (version, sealed) =
        state.keyring.seal_record(&secret_context(shop.id, url.as_str()), secret.as_bytes(), nonce)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    if tx.shop_webhook_endpoints(shop.id, MAX_ENDPOINTS as i64).await?.len() >= MAX_ENDPOINTS {
        return Err(WebhooksError::TooMany { max: MAX_ENDPOINTS });
    }
    let id = tx.insert_webhook_endpoint(shop.id, url.as_str(), &kinds, &sealed, version, state.now()).await?;
    let endpoint = tx.webhook_endpoint(id).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    tracing::info!(shop = %shop.id, endpoint = id, "webhook endpoint added");
    Ok((endpoint, secret))
}

/// The merchant's endpoints, oldest first.
pub async fn my_endpoints(state: &App, merchant: &User) -> Result<Vec<WebhookEndpointRecord>, WebhooksError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.shop_webhook_endpoints(shop.id, MAX_ENDPOINTS as i64).await?)
}

/// One of the merchant's endpoints (not removed); "not found" for anyone else's.
pub async fn my_endpoint(state: &App, merchant: &User, id: i64) -> Result<WebhookEndpointRecord, WebhooksError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    match tx.webhook_endpoint(id).await? {
        Some(e) if e.shop_id == shop.id && e.disabled_at.is_none() => Ok(e),
        _ => Err(WebhooksError::EndpointNotFound),
    }
}

/// Removes an endpoint; its deliveries still pending are cancelled.
pub async fn delete_endpoint(state: &App, merchant: &User, id: i64) -> Result<(), WebhooksError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    if !tx.disable_webhook_endpoint(shop.id, id, state.now()).await? {
        return Err(WebhooksError::EndpointNotFound);
    }
    tx.commit().await?;
    tracing::info!(shop = %shop.id, endpoint = id, "webhook endpoint removed");
    Ok(())
}

/// An endpoint's deliveries, newest first, before delivery id `before` (0: the newest).
pub async fn deliveries(
    state: &App,
    merchant: &User,
    endpoint: i64,
    before: i64,
) -> Result<Vec<WebhookDeliveryRecord>, WebhooksError> {
    let e = my_endpoint(state, merchant, endpoint).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.endpoint_webhook_deliveries(e.id, before.max(0), DELIVERIES_PAGE).await?)
}

/// Sends a delivery again from its first attempt, with the same event id and body (a receiver that handled it
/// already can tell). "Not found" for another shop's delivery or one whose endpoint was removed.
pub async fn resend(state: &App, merchant: &User, delivery: i64) -> Result<WebhookDeliveryRecord, WebhooksError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    if !tx.resend_webhook_delivery(shop.id, delivery, state.now()).await? {
        return Err(WebhooksError::DeliveryNotFound);
    }
    let d = tx.webhook_delivery(delivery).await?.ok_or(WebhooksError::DeliveryNotFound)?;
    tx.commit().await?;
    tracing::info!(shop = %shop.id, delivery, "webhook delivery queued again");
    Ok(d)
}

/// Sets the stock below which `stock.low` is sent for one of the merchant's products (0: never).
pub async fn set_stock_threshold(
    state: &App,
    merchant: &User,
    product: ProductId,
    threshold: i64,
) -> Result<(), WebhooksError> {
    if !(0..=webhook::MAX_STOCK_LOW).contains(&threshold) {
        return Err(WebhooksError::BadThreshold);
    }
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    match tx.product_by_id(product).await? {
        Some(p) if p.shop_id == shop.id => {}
        _ => return Err(WebhooksError::ProductNotFound),
    }
    tx.set_stock_alert_threshold(product, threshold).await?;
    tx.commit().await?;
    Ok(())
}

/// The stock below which one of the merchant's products alerts (its own, or [`webhook::DEFAULT_STOCK_LOW`]).
pub async fn stock_threshold(state: &App, merchant: &User, product: ProductId) -> Result<i64, WebhooksError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    match tx.product_by_id(product).await? {
        Some(p) if p.shop_id == shop.id => {}
        _ => return Err(WebhooksError::ProductNotFound),
    }
    Ok(tx.stock_alert_threshold(product).await?.unwrap_or(webhook::DEFAULT_STOCK_LOW))
}

// ---- enqueueing, in the transaction of the event ----

fn new_event_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("evt_{}", hex::encode(bytes))
}

/// Writes one delivery per endpoint of `shop` that chose `kind`, in the caller's transaction: if the event's
/// transaction commits, so do its deliveries; if it rolls back, nothing is sent. A shop without such endpoints
/// costs one indexed query.
pub async fn enqueue(
    tx: &mut dyn Tx,
    shop: ShopId,
    kind: EventKind,
    subject: Option<&str>,
    data: serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    let endpoints = tx.webhook_endpoints_for(shop, kind).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let event_id = new_event_id();
    let body = webhook::payload(&event_id, kind, now.0.div_euclid(1000), shop.0, data);
    let body = String::from_utf8_lossy(&body);
    for e in endpoints {
        let d = NewWebhookDelivery {
            endpoint_id: e.id,
            shop_id: shop,
            event_id: &event_id,
            kind,
            subject,
            body: &body,
            at: now,
        };
        tx.insert_webhook_delivery(&d).await?;
    }
    Ok(())
}

/// `order.paid`, from the payment's transaction.
pub(crate) async fn order_paid(tx: &mut dyn Tx, order: &Order, now: Timestamp) -> Result<(), StoreError> {
    let data = serde_json::json!({
        "order_no": order.order_no.as_str(),
        "product_id": order.product_id.0,
        "quantity": order.quantity,
        "amount_fen": order.amount.fen(),
    });
    enqueue(tx, order.shop_id, EventKind::OrderPaid, None, data, now).await
}

/// `claim.opened`, from the filing's transaction.
pub(crate) async fn claim_opened(
    tx: &mut dyn Tx,
    order: &Order,
    claim: &kabao_store::ClaimRecord,
    now: Timestamp,
) -> Result<(), StoreError> {
    let data = serde_json::json!({
        "claim_no": claim.claim_no,
        "order_no": order.order_no.as_str(),
        "item": claim.item,
        "defect": claim.defect.as_str(),
        "eligible": claim.eligible,
        "due_at": claim.due_at.map(|t| t.0.div_euclid(1000)),
    });
    enqueue(tx, order.shop_id, EventKind::ClaimOpened, None, data, now).await
}

/// `dispute.opened` and `dispute.decided` (with the ruling), from their transactions.
pub(crate) async fn dispute_event(
    tx: &mut dyn Tx,
    claim: &kabao_store::ClaimRecord,
    ruling: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (kind, data) = match ruling {
        None => (EventKind::DisputeOpened, serde_json::json!({ "claim_no": claim.claim_no, "item": claim.item })),
        Some(r) => (
            EventKind::DisputeDecided,
            serde_json::json!({ "claim_no": claim.claim_no, "item": claim.item, "ruling": r }),
        ),
    };
    enqueue(tx, claim.shop_id, kind, None, data, now).await
}

/// When a sale or re-issue took the product's stock from `before` to below its threshold: a low-stock mail owed to
/// the shop's owner and `stock.low` to the shop's endpoints, both in the caller's transaction (a rolled-back sale
/// owes neither). The checkout's cost: one read by primary key of the threshold when the stock went down and could
/// cross one; the mail row and the endpoints' read only on a crossing.
pub(crate) async fn stock_changed(
    tx: &mut dyn Tx,
    shop: ShopId,
    product: ProductId,
    before: i64,
    after: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    if after >= before || after >= webhook::MAX_STOCK_LOW {
        return Ok(());
    }
    let threshold = match tx.stock_alert_threshold(product).await? {
        Some(t) => t,
        None => webhook::DEFAULT_STOCK_LOW,
    };
    if !webhook::stock_crossed_low(before, after, threshold) {
        return Ok(());
    }
    tx.insert_stock_alert_mail(shop, product, after, threshold, now).await?;
    let data = serde_json::json!({ "product_id": product.0, "stock": after, "threshold": threshold });
    enqueue(tx, shop, EventKind::StockLow, None, data, now).await
}

/// `stock.low` after a re-issue took one key, read from the product as the re-issue left it.
pub(crate) async fn reissued(tx: &mut dyn Tx, order: &Order, now: Timestamp) -> Result<(), StoreError> {
    let Some(p) = tx.product_by_id(order.product_id).await? else { return Ok(()) };
    stock_changed(tx, p.shop_id, p.id, p.stock_available.saturating_add(1), p.stock_available, now).await
}

// ---- the job ----

/// What one pass of the webhook job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPass {
    /// Claims whose deadline is near, considered (deliveries written for shops that asked).
    pub deadline_notices: u64,
    pub delivered: u64,
    /// Attempts that failed and will be tried again.
    pub retrying: u64,
    /// Deliveries that failed their last allowed attempt.
    pub failed: u64,
    /// Deliveries no longer worth sending (a claim answered before its reminder went out).
    pub cancelled: u64,
    /// Low-stock mails sent to merchants (a merchant without a verified address gets none; the alert is dropped).
    pub stock_mails: u64,
}

/// Sends the low-stock mails owed, each taken once (a second instance, or the next pass, skips it), to the shop
/// owner's address if it is verified. A mail that fails to send is logged and not tried again, like every other
/// notification mail; the webhook and the console's stock figure still tell.
async fn send_stock_mails(state: &App, pass: &mut WebhookPass) -> Result<(), StoreError> {
    let owed = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.pending_stock_alert_mails(BATCH).await?
    };
    for m in owed {
        let mut tx = state.store.begin(TxMode::Write).await?;
        if !tx.take_stock_alert_mail(m.id, state.now()).await? {
            continue;
        }
        let shop = tx.shop_by_id(m.shop_id).await?;
        let product = tx.product_by_id(m.product_id).await?;
        let owner = match &shop {
            Some(s) => tx.user_by_id(s.owner_id).await?,
            None => None,
        };
        let verified = match &owner {
            Some(u) => tx.email_verified(u.id).await?,
            None => None,
        };
        tx.commit().await?;
        // Only the address the owner proved, and only while it is still the account's address.
        let to = match (&owner, verified) {
            (Some(u), Some((v, _))) if u.email.as_deref() == Some(v.as_str()) => v,
            _ => continue,
        };
        let Some(product) = product else { continue };
        let mail =
            crate::mailer::stock_low_mail(&to, &product.title, product.id.0, m.stock, m.threshold, &state.link_base());
        match state.mailer.send(&mail).await {
            Ok(()) => pass.stock_mails += 1,
            Err(e) => tracing::warn!(shop = %m.shop_id, product = %m.product_id, error = %e, "low-stock mail not sent"),
        }
    }
    Ok(())
}

/// Writes `claim.deadline_soon` deliveries for open claims whose merchant deadline is at most
/// [`webhook::DEADLINE_SOON_SECONDS`] away, once per claim and deadline.
async fn enqueue_deadline_notices(state: &App, pass: &mut WebhookPass) -> Result<(), StoreError> {
    let now = state.now();
    let soon = now.plus_seconds(webhook::DEADLINE_SOON_SECONDS);
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.claims_due_soon(now, soon, BATCH).await?
    };
    for c in due {
        let Some(due_at) = c.due_at else { continue };
        let mut tx = state.store.begin(TxMode::Write).await?;
        if !tx.mark_deadline_notice(c.id, due_at).await? {
            continue;
        }
        let data = serde_json::json!({
            "claim_no": c.claim_no,
            "item": c.item,
            "due_at": due_at.0.div_euclid(1000),
        });
        enqueue(&mut *tx, c.shop_id, EventKind::ClaimDeadlineSoon, Some(&c.claim_no), data, now).await?;
        tx.commit().await?;
        pass.deadline_notices += 1;
    }
    Ok(())
}

/// Whether a delivery still says something true at send time: a deadline reminder for a claim that is no longer
/// open (answered) or whose deadline has passed is not sent.
async fn still_relevant(tx: &mut dyn Tx, d: &WebhookDeliveryRecord, now: Timestamp) -> Result<bool, StoreError> {
    if d.kind != EventKind::ClaimDeadlineSoon {
        return Ok(true);
    }
    let Some(claim_no) = d.subject.as_deref() else { return Ok(true) };
    let claim = tx.claim_by_no(claim_no).await?;
    Ok(claim.is_some_and(|c| c.state == kabao_core::claim::ClaimState::Open && c.due_at.is_some_and(|t| t > now)))
}

/// The signed request of a delivery at `now`.
fn request<'a>(
    state: &App,
    endpoint: &'a WebhookEndpointRecord,
    d: &'a WebhookDeliveryRecord,
    now: Timestamp,
) -> Result<WebhookRequest<'a>, kabao_core::vault::VaultError> {
    let secret = state.keyring.open_record(
        endpoint.secret_version,
        &secret_context(endpoint.shop_id, &endpoint.url),
        &endpoint.secret_sealed,
    )?;
    let header = signature::sign(&secret, now.0.div_euclid(1000), d.body.as_bytes());
    Ok(WebhookRequest {
        url: &endpoint.url,
        headers: vec![
            ("Content-Type", "application/json".to_string()),
            (signature::HEADER, header),
            (webhook::EVENT_ID_HEADER, d.event_id.clone()),
            (webhook::EVENT_KIND_HEADER, d.kind.as_str().to_string()),
            ("User-Agent", "Kabao-Webhooks/1".to_string()),
        ],
        body: d.body.as_bytes(),
        policy: policy(state),
    })
}

/// Sends the low-stock mails owed, then the deliveries that are due, each under its own lease, and records every
/// attempt. No answer or a non-2xx answer schedules the next attempt by [`webhook::retry_after_seconds`]; after
/// [`webhook::MAX_ATTEMPTS`] the delivery is failed (a merchant may still send it again from the console).
pub async fn run(state: &App, owner: &str) -> Result<WebhookPass, StoreError> {
    let mut pass = WebhookPass::default();
    enqueue_deadline_notices(state, &mut pass).await?;
    send_stock_mails(state, &mut pass).await?;
    let Some(transport) = state.webhook_transport.clone() else {
        return Ok(pass);
    };
    let now = state.now();
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.due_webhook_deliveries(now, BATCH).await?
    };
    for d in due {
        let now = state.now();
        let mut tx = state.store.begin(TxMode::Write).await?;
        if !tx.lease_webhook_delivery(d.id, owner, now, now.plus_seconds(LEASE_SECONDS)).await? {
            continue; // another instance has it
        }
        let endpoint = tx.webhook_endpoint(d.endpoint_id).await?;
        let relevant = still_relevant(&mut *tx, &d, now).await?;
        tx.commit().await?;
        let attempts = d.attempts.saturating_add(1);
        let endpoint = match endpoint {
            Some(e) if e.disabled_at.is_none() && relevant => e,
            _ => {
                let cancel = WebhookAttempt {
                    state: DeliveryState::Cancelled,
                    attempts: d.attempts,
                    next_attempt_at: d.next_attempt_at,
                    at: now,
                    status: None,
                    response: None,
                    error: None,
                };
                let mut tx = state.store.begin(TxMode::Write).await?;
                if tx.record_webhook_attempt(d.id, owner, &cancel).await? {
                    pass.cancelled += 1;
                }
                tx.commit().await?;
                continue;
            }
        };
        let outcome = match request(state, &endpoint, &d, now) {
            Ok(req) => transport.post(&req).await,
            Err(e) => {
                tracing::error!(delivery = d.id, error = %e, "webhook secret does not open");
                Err(TransportError::Refused("the endpoint's secret could not be opened".into()))
            }
        };
        let at = state.now();
        let (status, response, error) = match &outcome {
            Ok(r) => (Some(i32::from(r.status)), Some(r.excerpt.as_str()), None),
            Err(e) => (None, None, Some(e.to_string())),
        };
        let ok = matches!(&outcome, Ok(r) if webhook::is_success(r.status));
        let (next_state, next_at) = if ok {
            (DeliveryState::Delivered, at)
        } else {
            match webhook::retry_after_seconds(attempts) {
                Some(wait) => (DeliveryState::Pending, at.plus_seconds(wait)),
                None => (DeliveryState::Failed, at),
            }
        };
        let attempt = WebhookAttempt {
            state: next_state,
            attempts,
            next_attempt_at: next_at,
            at,
            status,
            response,
            error: error.as_deref(),
        };
        let mut tx = state.store.begin(TxMode::Write).await?;
        if !tx.record_webhook_attempt(d.id, owner, &attempt).await? {
            tracing::warn!(delivery = d.id, "webhook lease lost before the attempt was recorded");
            continue;
        }
        tx.commit().await?;
        match next_state {
            DeliveryState::Delivered => pass.delivered += 1,
            DeliveryState::Pending => pass.retrying += 1,
            _ => {
                pass.failed += 1;
                tracing::warn!(delivery = d.id, attempts, "webhook delivery failed for good");
            }
        }
    }
    Ok(pass)
}
