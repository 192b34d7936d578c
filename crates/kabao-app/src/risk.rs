//! The admin's risk review queue: shops whose open risk events (flagged chat messages) reached the threshold,
//! and shops with a listing held for review (one is enough: it waits on the admin). An admin confirms them (they
//! keep counting against the shop's trust, held listings stay held, and the shop may be suspended) or dismisses
//! them as false alarms (they stop counting, and the shop's held listings are released).

use crate::App;
use kabao_core::{Lang, Localized, ShopId};
use kabao_store::{RiskEvent, Shop, StoreError, TxMode, User};

/// Why a review of risk events was refused.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("the outcome is neither confirmed nor dismissed")]
    OutcomeInvalid,
    #[error("the note is empty or over 500 characters")]
    NoteInvalid,
    #[error("the shop has no open risk event")]
    NothingOpen,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
}

impl Localized for RiskError {
    fn code(&self) -> &'static str {
        match self {
            RiskError::OutcomeInvalid => "risk.outcome",
            RiskError::NoteInvalid => "risk.note",
            RiskError::NothingOpen => "risk.nothing_open",
            RiskError::Shop(e) => e.code(),
            RiskError::Store(_) => "internal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            RiskError::OutcomeInvalid => Some("outcome"),
            RiskError::NoteInvalid => Some("note"),
            _ => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            RiskError::OutcomeInvalid => lang.pick("请选择确认违规或误报", "Choose confirmed or dismissed").into(),
            RiskError::NoteInvalid => {
                lang.pick("请填写处理说明（最多 500 字）", "Give a note (up to 500 characters)").into()
            }
            RiskError::NothingOpen => lang.pick("找不到该内容", "Not found").into(),
            RiskError::Shop(e) => e.message(lang),
            RiskError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

/// A shop in the queue, with its recent events.
pub struct Queued {
    pub shop: Shop,
    pub open: i64,
    pub events: Vec<QueuedEvent>,
}

/// A risk event with what the admin needs to judge it: the order (to open its chat) and the message as written.
pub struct QueuedEvent {
    pub event: RiskEvent,
    pub order_no: Option<String>,
    pub message: Option<String>,
}

impl QueuedEvent {
    /// The rules that matched, as stored (ids such as `contact.wechat`).
    pub fn rules(&self) -> Vec<String> {
        serde_json::from_str(&self.event.rules_json).unwrap_or_default()
    }
}

/// What a rule looks for, in words; the id itself for a rule this version does not know.
pub fn rule_text(rule: &str, lang: Lang) -> String {
    kabao_core::risk::rule::describe(rule, lang).map_or_else(|| rule.to_string(), str::to_string)
}

/// An event's review state in words.
pub fn state_label(state: &str, lang: Lang) -> &'static str {
    match state {
        "open" => lang.pick("待处理", "Open"),
        "confirmed" => lang.pick("已确认违规", "Confirmed"),
        "dismissed" => lang.pick("误报，已撤销", "Dismissed as a false alarm"),
        _ => lang.pick("其他", "Other"),
    }
}

/// The queue, most open events first.
pub async fn queue(state: &App, admin: &User) -> Result<Vec<Queued>, RiskError> {
    crate::shops::require_admin(admin)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let shops = tx.risk_review_queue(state.config.risk_review_threshold.max(1), 100).await?;
    let mut out = Vec::with_capacity(shops.len());
    for (id, open) in shops {
        let Some(shop) = tx.shop_by_id(id).await? else { continue };
        let mut events = Vec::new();
        let mut listings: Option<String> = None;
        for e in tx.shop_risk_events(id, 20).await? {
            let order_no = match e.order_id {
                Some(o) => tx.order_by_id(o).await?.map(|o| o.order_no),
                None => None,
            };
            let message = match e.message_id {
                Some(m) => tx.chat_message(m).await?.map(|m| m.body),
                // A held listing: the shop's listing texts that the scanner flags now, as the admin judges them.
                None if e.kind.starts_with("listing.") => {
                    if listings.is_none() {
                        let products = tx.list_shop_products(id).await?;
                        listings = Some(flagged_listings(state, &shop, &products));
                    }
                    listings.clone().filter(|t| !t.is_empty())
                }
                None => None,
            };
            events.push(QueuedEvent { event: e, order_no, message });
        }
        out.push(Queued { shop, open, events });
    }
    Ok(out)
}

/// The shop's name and description and its products' titles and descriptions that the scanner flags, one
/// listing a paragraph.
fn flagged_listings(state: &App, shop: &Shop, products: &[kabao_store::Product]) -> String {
    let mut out = Vec::new();
    if !crate::listing::rules(state, &[shop.name.as_str(), shop.description.as_str()]).is_empty() {
        out.push(format!("店铺 Shop: {}\n{}", shop.name, shop.description));
    }
    for p in products {
        if !crate::listing::rules(state, &[p.title.as_str(), p.description.as_str()]).is_empty() {
            out.push(format!("商品 Product #{}: {}\n{}", p.id, p.title, p.description));
        } else if !p.held_rules.is_empty() {
            // Held for its delivery text (a shared secret, sealed like a key): the rules, not the text.
            let why = crate::listing::held_reasons(&p.held_rules, Lang::Zh).join("；");
            out.push(format!("商品 Product #{}: {}\n发货内容被标记 Delivery text flagged: {why}", p.id, p.title));
        }
    }
    out.join("\n\n")
}

/// Confirms or dismisses every open event of a shop, with a note; a confirmation may also suspend the shop.
pub async fn review(
    state: &App,
    admin: &User,
    shop: ShopId,
    outcome: &str,
    note: &str,
    suspend: bool,
) -> Result<u64, RiskError> {
    crate::shops::require_admin(admin)?;
    let outcome = match outcome.trim() {
        o @ ("confirmed" | "dismissed") => o,
        _ => return Err(RiskError::OutcomeInvalid),
    };
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(RiskError::NoteInvalid);
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    let n = tx.review_risk_events(shop, outcome, note, admin.id, state.clock.now()).await?;
    if n == 0 {
        return Err(RiskError::NothingOpen);
    }
    // A false alarm releases what it held: the shop's listing and its held products, listed again.
    let relisted = if outcome == "dismissed" { tx.release_listing_holds(shop).await? } else { 0 };
    tx.commit().await?;
    tracing::info!(shop = %shop, outcome, events = n, relisted, admin = %admin.id, "risk events reviewed");
    if suspend && outcome == "confirmed" {
        crate::shops::set_suspension(state, admin, shop, true, note).await?;
    }
    Ok(n)
}
