//! Warranty insurance (质保险): the quote a buyer sees before paying, priced by `kabao_core::insurance` from the
//! category's 90-day claim window, the platform's, and the shop's trust score.
//!
//! The claim window is the 90 days that end at the start of the current hour. A window that has ended never
//! changes, so its counts are kept ([`WindowCache`]): a quote costs no count at all after the first of the hour,
//! and every instance sharing the database prices from the same counts (a quote from one and a checkout on
//! another agree).

use crate::products::ProductError;
use crate::trust::TrustError;
use crate::App;
use kabao_core::catalog::Category;
use kabao_core::insurance::Sample;
use kabao_core::insurance::{self, Quote, QuoteError, QuoteInputs};
use kabao_core::{Lang, Localized, ProductId, Timestamp};
use kabao_store::{Product, Shop, StoreError, Tx, TxMode, User};
use std::collections::HashMap;
use std::sync::Mutex;

/// Why a product has no insurance quote.
#[derive(Debug, thiserror::Error)]
pub enum InsuranceError {
    #[error(transparent)]
    Product(#[from] ProductError),
    /// Insurance covers what the merchant's warranty policy promises; a product without one (无质保) has none.
    #[error("the product has no warranty policy to insure")]
    NoPolicy,
    #[error(transparent)]
    Quote(#[from] QuoteError),
    /// The premium the buyer accepted is not the premium now (the claim window or the shop's trust moved).
    #[error("the premium changed to {premium}")]
    PremiumChanged { premium: kabao_core::Money },
    /// The product's merchant window is 30 days or longer: there is nothing to extend.
    #[error("the product's warranty is not extended")]
    NoExtension,
    /// The extension's premium the buyer accepted is not the one now.
    #[error("the extended warranty premium changed to {premium}")]
    ExtensionPremiumChanged { premium: kabao_core::Money },
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for InsuranceError {
    fn code(&self) -> &'static str {
        match self {
            InsuranceError::Product(e) => e.code(),
            InsuranceError::NoPolicy => "insurance.no_policy",
            InsuranceError::Quote(e) => e.code(),
            InsuranceError::PremiumChanged { .. } => "insurance.premium_changed",
            InsuranceError::NoExtension => "insurance.no_extension",
            InsuranceError::ExtensionPremiumChanged { .. } => "insurance.premium_changed",
            InsuranceError::Trust(e) => e.code(),
            InsuranceError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            InsuranceError::PremiumChanged { .. } => Some("insurance_premium"),
            InsuranceError::ExtensionPremiumChanged { .. } => Some("extended_premium"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            InsuranceError::Product(e) => e.message(lang),
            InsuranceError::NoPolicy => lang
                .pick("该商品无质保，不能投保质保险", "This product has no warranty, so it cannot be insured")
                .into(),
            InsuranceError::Quote(e) => e.message(lang),
            InsuranceError::PremiumChanged { premium } => match lang {
                Lang::Zh => format!("质保险保费已变为 {premium}，请确认新的保费后重新下单"),
                Lang::En => format!("The insurance premium is now {premium}; please confirm it and order again"),
            },
            InsuranceError::NoExtension => lang
                .pick(
                    "该商品的商家质保已达 30 天，不提供平台延保",
                    "This product's merchant warranty already lasts 30 days; no extension is offered",
                )
                .into(),
            InsuranceError::ExtensionPremiumChanged { premium } => match lang {
                Lang::Zh => format!("平台延保保费已变为 {premium}，请确认新的保费后重新下单"),
                Lang::En => {
                    format!("The extended warranty premium is now {premium}; please confirm it and order again")
                }
            },
            InsuranceError::Trust(e) => e.message(lang),
            InsuranceError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

const WINDOW_MS: i64 = insurance::WINDOW_DAYS as i64 * 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The counts of ended claim windows, by category (`None`: the platform) and window end. Only the current
/// hour's windows are kept: a new hour drops the previous one's.
#[derive(Default)]
pub struct WindowCache {
    counts: Mutex<HashMap<(Option<Category>, i64), Sample>>,
}

impl WindowCache {
    fn get(&self, key: (Option<Category>, i64)) -> Option<Sample> {
        self.counts.lock().ok()?.get(&key).copied()
    }

    fn keep(&self, key: (Option<Category>, i64), sample: Sample) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.retain(|(_, until), _| *until >= key.1);
            counts.insert(key, sample);
        }
    }
}

/// The claim window of `category` (`None`: the platform) ending at the start of `now`'s hour.
async fn window(
    state: &App,
    tx: &mut dyn Tx,
    category: Option<Category>,
    now: Timestamp,
) -> Result<Sample, StoreError> {
    let until = now.millis() - now.millis().rem_euclid(HOUR_MS);
    if let Some(sample) = state.insurance_windows.get((category, until)) {
        return Ok(sample);
    }
    let sample = tx.claim_window(category, Timestamp(until - WINDOW_MS), Timestamp(until)).await?;
    state.insurance_windows.keep((category, until), sample);
    Ok(sample)
}

/// The insurance quote of one unit of a product now, read in the caller's transaction.
pub async fn quote_in(state: &App, tx: &mut dyn Tx, product: &Product, shop: &Shop) -> Result<Quote, InsuranceError> {
    if product.warranty.is_none() {
        return Err(InsuranceError::NoPolicy);
    }
    let now = state.now();
    let category = window(state, tx, Some(product.category), now).await?;
    let platform = window(state, tx, None, now).await?;
    let trust = crate::trust::inputs_in(tx, &crate::trust::Subject::from(shop), now).await?;
    let trust_score = kabao_core::trust::compute(&trust).score;
    Ok(insurance::quote(&QuoteInputs { price: product.price, category, platform, trust_score })?)
}

/// The extended warranty (延保) offered on a product: the days it adds to the merchant's window (to 30 days)
/// and the price of one unit.
#[derive(Debug, Clone)]
pub struct Extension {
    pub days: u32,
    pub quote: Quote,
}

/// The extension of one unit now, priced from the same inputs as `quote_in`; `None` when the merchant's
/// window is 30 days or longer (or the product has no policy).
pub async fn extension_in(
    state: &App,
    tx: &mut dyn Tx,
    product: &Product,
    shop: &Shop,
) -> Result<Option<Extension>, InsuranceError> {
    let Some(days) = product.warranty.as_ref().and_then(|w| insurance::extension_days(w.window.millis())) else {
        return Ok(None);
    };
    let now = state.now();
    let category = window(state, tx, Some(product.category), now).await?;
    let platform = window(state, tx, None, now).await?;
    let trust = crate::trust::inputs_in(tx, &crate::trust::Subject::from(shop), now).await?;
    let trust_score = kabao_core::trust::compute(&trust).score;
    let inputs = QuoteInputs { price: product.price, category, platform, trust_score };
    Ok(Some(Extension { days, quote: insurance::quote_extension(&inputs, days)? }))
}

/// The extension's quote a visitor sees (`extension` of the insurance quote, the product page).
pub async fn extension_for(state: &App, product: &Product, shop: &Shop) -> Result<Option<Extension>, InsuranceError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    extension_in(state, &mut *tx, product, shop).await
}

/// The extension's premium of a checkout of `quantity` units now, checked against the one the buyer accepted.
pub async fn extension_for_checkout(
    state: &App,
    product: &Product,
    shop: &Shop,
    quantity: i64,
    accepted: kabao_core::Money,
) -> Result<kabao_core::Money, InsuranceError> {
    let ext = extension_for(state, product, shop).await?.ok_or(InsuranceError::NoExtension)?;
    let premium = ext.quote.premium.checked_mul(quantity).ok_or(QuoteError::Overflow)?;
    if premium != accepted {
        return Err(InsuranceError::ExtensionPremiumChanged { premium });
    }
    Ok(premium)
}

/// The end of an order's extended warranty: 30 days after the order was placed (the cover's `extended_until`).
pub fn extended_until(created_at: Timestamp) -> Timestamp {
    created_at.plus_seconds(i64::from(insurance::EXTENDED_WINDOW_DAYS) * 86_400)
}

/// The quote a visitor sees on a product they may see (`GET /api/v1/products/{id}/insurance-quote`, the page).
pub async fn quote_for(
    state: &App,
    product: ProductId,
    viewer: Option<&User>,
) -> Result<(Product, Shop, Quote), InsuranceError> {
    let (product, shop) = crate::products::public(state, product, viewer).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let quote = quote_in(state, &mut *tx, &product, &shop).await?;
    Ok((product, shop, quote))
}

/// The premium a checkout of `quantity` units costs now, checked against the one the buyer accepted: nothing is
/// created at a premium the buyer did not see.
pub async fn premium_for_checkout(
    state: &App,
    product: &Product,
    shop: &Shop,
    quantity: i64,
    accepted: kabao_core::Money,
) -> Result<kabao_core::Money, InsuranceError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let quote = quote_in(state, &mut *tx, product, shop).await?;
    drop(tx);
    let premium = quote.premium.checked_mul(quantity).ok_or(QuoteError::Overflow)?;
    if premium != accepted {
        return Err(InsuranceError::PremiumChanged { premium });
    }
    Ok(premium)
}

/// An order's premium, if it was insured, read in the caller's transaction.
pub async fn premium_of(
    tx: &mut dyn Tx,
    order: kabao_core::ledger::OrderId,
) -> Result<Option<kabao_core::Money>, StoreError> {
    Ok(tx.cover_of(order).await?.map(|c| c.premium))
}

/// What paying an order costs: its amount plus its premium, if insured.
pub async fn amount_due(tx: &mut dyn Tx, order: &kabao_store::Order) -> Result<kabao_core::Money, StoreError> {
    let premium = premium_of(tx, order.id).await?.unwrap_or(kabao_core::Money::ZERO);
    order.amount.checked_add(premium).ok_or_else(|| StoreError::Database("order amount overflow".into()))
}

// ---- payouts ----

/// The admin's security event of a payout the pool could not cover (queued until it can).
pub const SECURITY_PAYOUT_QUEUED: &str = "insurance.payout_queued";

/// The claim's decision when warranty insurance pays it.
const PAID_REASON: &str =
    "商家的补救未解决该申请（逾期未处理、店铺已被停用，或验货确认卡密发货前已失效且未能自动补发），\
                           质保险已从保险池赔付该件商品的货款 / The merchant's remedy did not settle the claim (no \
                           answer in time, the shop suspended, or the verifier found the key dead before delivery \
                           and none replaced it): warranty insurance paid the item's price from the insurance pool";

/// Why the payout job stopped.
#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error(transparent)]
    Ledger(#[from] kabao_core::ledger::LedgerError),
    #[error("{0} vanished")]
    Vanished(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for PayoutError {
    fn code(&self) -> &'static str {
        "internal"
    }
    fn message(&self, lang: Lang) -> String {
        crate::error::internal_message(lang)
    }
}

/// The pool's cash: its account less what shops owe it (receivables booked into it and not yet repaid).
async fn pool_cash(tx: &mut dyn Tx) -> Result<i64, StoreError> {
    use kabao_core::ledger::Account;
    let pool = tx.balance(Account::InsurancePool).await?.fen();
    let owed = tx.insurance_receivables().await?.fen();
    Ok(pool + owed)
}

/// One pass of warranty insurance payouts (a job): claims the cover now takes over (eligible, insured, and the
/// merchant's deadline plus `insurance_grace_seconds` passed without the normal remedy settling them, or the shop
/// suspended) get a payout, paid at once when the pool can cover it and queued otherwise; queued payouts are
/// paid when the pool has the money. Returns the payouts paid.
pub async fn run_payouts(state: &App) -> Result<u64, PayoutError> {
    let now = state.now();
    let overdue_by = kabao_core::Timestamp(now.millis() - state.config.insurance_grace_seconds * 1000);
    let claims = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.insurable_claims(overdue_by, 200).await?
    };
    let mut paid = 0;
    for c in claims {
        let mut tx = state.store.begin(TxMode::Write).await?;
        let order = tx.order_by_id(c.order_id).await?.ok_or(PayoutError::Vanished("insured order"))?;
        match take_over(state, &mut *tx, &order, &c, now).await {
            Ok(true) => paid += 1,
            Ok(false) => {}
            Err(PayoutError::Store(StoreError::Conflict(_))) => continue, // another instance took it over
            Err(e) => return Err(e),
        }
        tx.commit().await?;
    }
    let pending = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.pending_payouts(200).await?
    };
    for p in pending {
        let mut tx = state.store.begin(TxMode::Write).await?;
        if pay(state, &mut *tx, &p, now).await? {
            paid += 1;
            tx.commit().await?;
        }
    }
    Ok(paid)
}

/// The cover takes an insured claim over, in the caller's transaction: a pending payout (one per claim), paid at
/// once when the pool's cash covers it; otherwise it stays queued and the admin is alerted. True: paid.
pub async fn take_over(
    state: &App,
    tx: &mut dyn Tx,
    order: &kabao_store::Order,
    c: &kabao_store::ClaimRecord,
    now: Timestamp,
) -> Result<bool, PayoutError> {
    use kabao_store::{Payout, PayoutState};
    let p = Payout {
        id: 0,
        claim_id: c.id,
        order_id: order.id,
        shop_id: order.shop_id,
        amount: order.unit_price,
        state: PayoutState::Pending,
        created_at: now,
        decided_at: None,
    };
    let id = tx.insert_payout(&p).await?;
    let p = Payout { id, ..p };
    if pay(state, tx, &p, now).await? {
        return Ok(true);
    }
    tx.insert_security_event(&kabao_store::SecurityEvent {
        id: 0,
        kind: SECURITY_PAYOUT_QUEUED.into(),
        order_id: Some(order.id),
        detail_json: serde_json::json!({"claim_no": c.claim_no, "amount_fen": p.amount.fen()}).to_string(),
        created_at: now,
    })
    .await?;
    Ok(false)
}

/// Pays one pending payout if the pool's cash covers it: pending → paid (compare-and-set), pool → buyer, the
/// claim closed as refunded by insurance, then the recovery (from escrow while it holds the price, else a
/// receivable on the shop that settlement repays). A claim remedied meanwhile cancels the payout. False: not paid.
async fn pay(state: &App, tx: &mut dyn Tx, p: &kabao_store::Payout, now: Timestamp) -> Result<bool, PayoutError> {
    use kabao_core::claim::ClaimState;
    use kabao_core::events::OrderEvent;
    use kabao_core::ledger::{Account, LedgerTx, TxKind};
    use kabao_store::PayoutState;
    let order = tx.order_by_id(p.order_id).await?.ok_or(PayoutError::Vanished("insured order"))?;
    let claims = tx.order_claims(order.id).await?;
    let c = claims.into_iter().find(|c| c.id == p.claim_id).ok_or(PayoutError::Vanished("insured claim"))?;
    if !matches!(c.state, ClaimState::Open | ClaimState::AwaitingEvidence | ClaimState::RemedyFailed) {
        return Ok(tx.decide_payout(p.id, PayoutState::Cancelled, now).await?);
    }
    if pool_cash(tx).await? < p.amount.fen() {
        return Ok(false);
    }
    if !tx.decide_payout(p.id, PayoutState::Paid, now).await? {
        return Ok(false);
    }
    let route = crate::refunds::route(state, &mut *tx, &order).await?;
    let payout = kabao_core::refund::insurance_payout(route.to, p.amount)?;
    crate::refunds::post(&mut *tx, &route, &payout, order.id, p.amount, now).await?;
    let recovered = if in_extension(tx, &order, &c).await? {
        // Extended warranty (延保): the platform stands behind it; nothing is recovered from the merchant.
        "none"
    } else {
        let escrow = tx.balance(Account::Escrow(order.id)).await?;
        let (from, recovered) = if escrow >= p.amount {
            (Account::Escrow(order.id), "escrow")
        } else {
            (Account::InsuranceReceivable(order.shop_id), "receivable")
        };
        let recovery = LedgerTx::transfer(TxKind::InsuranceRecovery, from, Account::InsurancePool, p.amount)?;
        tx.post_ledger(&recovery, Some(order.id), now).await?;
        recovered
    };
    let closed = kabao_store::ClaimRecord {
        state: ClaimState::Refunded,
        due_at: None,
        paused_remaining_ms: None,
        decision_reason: Some(PAID_REASON.into()),
        decided_by: None,
        decided_at: Some(now),
        auto_remedied: false,
        ..c.clone()
    };
    if !tx.update_claim(&closed, c.state).await? {
        return Err(PayoutError::Vanished("claim state"));
    }
    let event =
        OrderEvent::InsurancePaid { claim_no: &c.claim_no, item: c.item, amount: p.amount, to: payout.to, recovered };
    crate::orders::append_event(tx, order.id, &event, now).await?;
    Ok(true)
}

/// Whether a claim falls in the order's extended warranty: the order bought one and the claim was filed after
/// the merchant's window closed.
pub(crate) async fn in_extension(
    tx: &mut dyn Tx,
    order: &kabao_store::Order,
    c: &kabao_store::ClaimRecord,
) -> Result<bool, StoreError> {
    if tx.cover_of(order.id).await?.and_then(|cv| cv.extended_until).is_none() {
        return Ok(false);
    }
    let delivered = order.delivered_at.or(order.paid_at).unwrap_or(order.created_at);
    Ok(kabao_core::warranty::WarrantyPolicy::from_snapshot(&order.warranty_snapshot)
        .is_some_and(|p| p.window.closes(delivered) < c.created_at))
}

/// A shop that owes the insurance pool (a payout its order's escrow could not give back) repays it from its
/// available balance as soon as money arrives there, in the settlement's transaction.
pub async fn repay_pool(tx: &mut dyn Tx, shop: kabao_core::ShopId, now: Timestamp) -> Result<(), PayoutError> {
    use kabao_core::ledger::{Account, LedgerTx, TxKind};
    let owed = -tx.balance(Account::InsuranceReceivable(shop)).await?.fen();
    let available = tx.balance(Account::MerchantAvailable(shop)).await?.fen();
    let pay = owed.min(available);
    if pay > 0 {
        let t = LedgerTx::transfer(
            TxKind::InsuranceRecovery,
            Account::MerchantAvailable(shop),
            Account::InsuranceReceivable(shop),
            kabao_core::Money::from_fen(pay),
        )?;
        tx.post_ledger(&t, None, now).await?;
    }
    Ok(())
}

/// An order's insurance payouts (the order page shows a queued one).
pub async fn order_payouts(
    state: &App,
    order: kabao_core::ledger::OrderId,
) -> Result<Vec<kabao_store::Payout>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.order_payouts(order).await
}

/// How many shops the insurance book lists (most premium first).
pub const BOOK_TOP_SHOPS: i64 = 20;

/// The insurance book (admin): the pool and its figures by category and for the top shops by premium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    /// The pool account's balance (receivables booked into it included).
    pub pool: kabao_core::Money,
    /// Sums over every category.
    pub totals: kabao_store::BookLine,
    pub by_category: Vec<(Category, kabao_store::BookLine)>,
    /// At most [`BOOK_TOP_SHOPS`]: shop, name, figures.
    pub by_shop: Vec<(kabao_core::ShopId, String, kabao_store::BookLine)>,
}

/// Why the book cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for BookError {
    fn code(&self) -> &'static str {
        match self {
            BookError::Shop(e) => e.code(),
            BookError::Store(_) => "internal",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            BookError::Shop(e) => e.message(lang),
            BookError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

/// The insurance book, for admins only (read in one transaction, so the figures agree with each other).
pub async fn book(state: &App, admin: &User) -> Result<Book, BookError> {
    crate::shops::require_admin(admin)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let pool = tx.balance(kabao_core::ledger::Account::InsurancePool).await?;
    let read = tx.insurance_book(BOOK_TOP_SHOPS).await?;
    let mut totals = kabao_store::BookLine::default();
    for (_, l) in &read.by_category {
        let add = |a: kabao_core::Money, b: kabao_core::Money| a.checked_add(b).unwrap_or(a);
        totals = kabao_store::BookLine {
            premiums: add(totals.premiums, l.premiums),
            payouts: add(totals.payouts, l.payouts),
            recoveries: add(totals.recoveries, l.recoveries),
            pending_count: totals.pending_count + l.pending_count,
            pending_amount: add(totals.pending_amount, l.pending_amount),
        };
    }
    Ok(Book { pool, totals, by_category: read.by_category, by_shop: read.by_shop })
}
