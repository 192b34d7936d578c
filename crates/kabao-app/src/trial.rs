//! Trial orders (小额试单): trial items (体验卡) are cheap, one per order and one per buyer per shop; and a buyer's
//! first order from a shop with low trust, or for a large amount, shows guidance to start with the trial item or
//! a smaller quantity and asks for an explicit confirmation before the order is placed.

use crate::App;
use kabao_core::trust::TrustScore;
use kabao_core::{Lang, Localized, Money, ShopId};
use kabao_store::{Order, Product, Shop, StoreError, Tx, TxMode, User};

/// Why an order was refused by the trial rules.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// A first order that needs the buyer's confirmation (low trust or a large amount) did not get it; the
    /// guidance says why and what to try instead.
    #[error("first order from this shop not confirmed")]
    FirstOrderUnconfirmed { guidance: Box<Guidance> },
    #[error("a trial item is bought one at a time")]
    TrialQuantity,
    #[error("a trial item can be bought once per buyer per shop")]
    TrialOnce,
    /// Reading the shop's trust failed.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for TrialError {
    fn code(&self) -> &'static str {
        match self {
            TrialError::FirstOrderUnconfirmed { .. } => "order.first_order_unconfirmed",
            TrialError::TrialQuantity => "order.trial_quantity",
            TrialError::TrialOnce => "order.trial_once",
            TrialError::Trust(e) => e.code(),
            TrialError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            TrialError::FirstOrderUnconfirmed { .. } => Some("first_order_confirmed"),
            TrialError::TrialQuantity => Some("quantity"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            TrialError::FirstOrderUnconfirmed { guidance } => guidance.words(lang),
            TrialError::TrialQuantity => {
                lang.pick("体验卡每单限购 1 件", "A trial item is bought one at a time").into()
            }
            TrialError::TrialOnce => lang
                .pick("每位买家在每家店铺只能购买一次体验卡", "A trial item can be bought once per buyer per shop")
                .into(),
            TrialError::Trust(e) => e.message(lang),
            TrialError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// Why a first order asks for confirmation, and what to try instead.
#[derive(Debug, Clone)]
pub struct Guidance {
    pub score: u8,
    pub level: kabao_core::trust::TrustLevel,
    /// The shop's trust is below the platform's threshold.
    pub low_trust: bool,
    /// The order's amount is above the platform's first-order amount.
    pub large_amount: bool,
    /// The shop's trial item, if it sells one: (id, title, price).
    pub trial: Option<(i64, String, Money)>,
    /// The platform's thresholds the guidance names: the suggested trust score and the first-order amount.
    pub trust_below: u8,
    pub first_order_amount: Money,
}

impl Guidance {
    /// The guidance in plain words.
    pub fn text(&self, _state: &App, lang: Lang) -> String {
        self.words(lang)
    }

    /// The guidance in plain words (the thresholds it names are those it was made with).
    pub fn words(&self, lang: Lang) -> String {
        let mut parts = Vec::new();
        if self.low_trust {
            parts.push(match lang {
                Lang::Zh => format!("这是你在该店铺的第一笔订单，店铺信誉 {} 分（{}），低于平台建议的 {} 分。", self.score, self.level.label(lang), self.trust_below),
                Lang::En => format!(
                    "This is your first order from this shop, and its trust score is {} ({}), below the platform's suggested {}.",
                    self.score,
                    self.level.label(lang),
                    self.trust_below
                ),
            });
        }
        if self.large_amount {
            parts.push(match lang {
                Lang::Zh => format!("首次在该店铺下单金额超过 {}。", self.first_order_amount),
                Lang::En => format!("A first order from this shop above {}.", self.first_order_amount),
            });
        }
        parts.push(match (&self.trial, lang) {
            (Some((_, title, price)), Lang::Zh) => format!("建议先购买体验卡「{title}」（{price}）试单，或减少数量，确认卡密可用后再大量购买。"),
            (Some((_, title, price)), Lang::En) => {
                format!("Start with the trial item “{title}” ({price}) or a smaller quantity, and buy more once the keys work.")
            }
            (None, Lang::Zh) => "建议先少量购买，确认卡密可用后再大量购买。".to_string(),
            (None, Lang::En) => "Start with a smaller quantity, and buy more once the keys work.".to_string(),
        });
        parts.join(match lang {
            Lang::Zh => "",
            Lang::En => " ",
        })
    }
}

/// Whether the buyer has ordered from the shop before (guests have no history: every guest order is a first).
pub async fn ordered_before(state: &App, buyer: Option<&User>, shop: ShopId) -> Result<bool, StoreError> {
    let Some(user) = buyer else { return Ok(false) };
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(!tx.buyer_orders_at_shop(user.id, shop, 1).await?.is_empty())
}

/// The guidance a first order of `amount` from `shop` needs (given the shop's score), or `None` when it needs
/// none (not a first order, or a trusted shop and a small amount).
pub async fn guidance(
    state: &App,
    first_order: bool,
    trust: &TrustScore,
    shop: &Shop,
    amount: Money,
) -> Result<Option<Guidance>, StoreError> {
    let low_trust = trust.score < state.config.first_order_trust_below;
    let large_amount = amount > state.config.first_order_amount;
    if !first_order || (!low_trust && !large_amount) {
        return Ok(None);
    }
    let trial = crate::products::listed_in_shop(state, shop)
        .await?
        .into_iter()
        .find(|p| p.trial && p.stock_available > 0)
        .map(|p| (p.id.0, p.title, p.price));
    Ok(Some(Guidance {
        score: trust.score,
        level: trust.level,
        low_trust,
        large_amount,
        trial,
        trust_below: state.config.first_order_trust_below,
        first_order_amount: state.config.first_order_amount,
    }))
}

/// Refuses a first order that needs confirmation and did not get it, saying why and what to try instead.
pub async fn check_first_order(
    state: &App,
    buyer: Option<&User>,
    shop: &Shop,
    amount: Money,
    confirmed: bool,
) -> Result<(), TrialError> {
    if confirmed || ordered_before(state, buyer, shop.id).await? {
        return Ok(());
    }
    let trust = crate::trust::of_shop(state, shop).await?;
    match guidance(state, true, &trust, shop, amount).await? {
        None => Ok(()),
        Some(g) => Err(TrialError::FirstOrderUnconfirmed { guidance: Box::new(g) }),
    }
}

/// A trial item is bought one at a time, once per buyer per shop; checked in the order's own transaction, with
/// [`mark_trial`] and a UNIQUE index behind it for requests that race.
pub async fn check_trial(
    tx: &mut dyn Tx,
    product: &Product,
    quantity: i64,
    buyer: Option<&User>,
    guest_email: Option<&str>,
) -> Result<(), TrialError> {
    if !product.trial {
        return Ok(());
    }
    if quantity != 1 {
        return Err(TrialError::TrialQuantity);
    }
    if tx.has_trial_order(product.shop_id, buyer.map(|u| u.id), guest_email).await? {
        return Err(TrialError::TrialOnce);
    }
    Ok(())
}

/// Marks a new order of a trial item with its shop and buyer; the store's partial UNIQUE index refuses a
/// second live trial order of the same buyer at the shop even when two requests race past [`check_trial`].
pub async fn mark_trial(
    tx: &mut dyn Tx,
    product: &Product,
    order: kabao_core::ledger::OrderId,
    buyer: Option<&User>,
    guest_email: Option<&str>,
) -> Result<(), TrialError> {
    if !product.trial {
        return Ok(());
    }
    let who = match (buyer, guest_email) {
        (Some(u), _) => format!("user:{}", u.id),
        (None, Some(email)) => format!("guest:{}", email.to_lowercase()),
        (None, None) => return Ok(()),
    };
    match tx.set_order_trial_key(order, &format!("{}|{who}", product.shop_id)).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(TrialError::TrialOnce),
        Err(e) => Err(e.into()),
    }
}

/// A buyer's record with a shop: their orders there, and the claims on them with their outcomes.
pub struct Record {
    pub orders: Vec<Order>,
    /// (claim no, state) of claims on those orders.
    pub claims: Vec<(String, kabao_core::claim::ClaimState)>,
}

pub async fn record(state: &App, buyer: &User, shop: ShopId) -> Result<Record, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let orders = tx.buyer_orders_at_shop(buyer.id, shop, 20).await?;
    let mut claims = Vec::new();
    for o in &orders {
        for c in tx.order_claims(o.id).await? {
            claims.push((c.claim_no, c.state));
        }
    }
    Ok(Record { orders, claims })
}
