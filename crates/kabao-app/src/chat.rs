//! Order chat (订单沟通): buyer and merchant talk on the order, the arbiter joins while a dispute is open. Every
//! message passes the risk scanner: a risky one is stored with its hits, charges a risk event to its sender, and
//! is shown to the buyer with a warning and the contact details masked. Messages go into the complaint package.

use crate::App;
use kabao_core::risk::{self, RiskCategory, Scan, ScanConfig};
use kabao_core::{Lang, Localized, Timestamp, UserId};
use kabao_store::{ChatMessage, ChatParty, Order, RiskEvent, StoreError, Tx, TxMode, User};
use serde::{Deserialize, Serialize};

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// Messages one party may send on one order per minute, and per day (flooding).
pub const MAX_PER_MINUTE: i64 = 6;
pub const MAX_PER_DAY: i64 = 200;
/// Messages shown (and packaged) per order.
pub const MAX_SHOWN: i64 = 500;

/// Why a message could not be read or sent.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("the message is empty")]
    Empty,
    #[error("the message is over {max} characters")]
    TooLong { max: usize },
    /// Flooding: the sender may write again after `wait_s` seconds.
    #[error("too many messages; retry in {wait_s} s")]
    TooFast { wait_s: u64 },
    #[error("no such order for this reader")]
    OrderNotFound,
    #[error("not an arbiter")]
    NotArbiter,
    #[error("risk hits not serialized: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
}

impl Localized for ChatError {
    fn code(&self) -> &'static str {
        match self {
            ChatError::Empty => "chat.empty",
            ChatError::TooLong { .. } => "chat.too_long",
            ChatError::TooFast { .. } => "chat.too_fast",
            ChatError::OrderNotFound => "order.not_found",
            ChatError::NotArbiter => "auth.forbidden",
            ChatError::Shop(e) => e.code(),
            ChatError::Json(_) | ChatError::Store(_) => "internal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            ChatError::Empty | ChatError::TooLong { .. } => Some("body"),
            _ => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            ChatError::Empty => lang.pick("消息不能为空", "The message is empty").into(),
            ChatError::TooLong { max } => match lang {
                Lang::Zh => format!("消息最多 {max} 字"),
                Lang::En => format!("A message is at most {max} characters"),
            },
            ChatError::TooFast { .. } => {
                lang.pick("发送太频繁，请稍后再试", "Too many messages; please wait a moment").into()
            }
            ChatError::OrderNotFound => lang.pick("找不到该内容", "Not found").into(),
            ChatError::NotArbiter => lang.pick("没有权限执行此操作", "You are not allowed to do this").into(),
            ChatError::Shop(e) => e.message(lang),
            ChatError::Json(_) | ChatError::Store(_) => crate::error::internal_message(lang),
        }
    }
}

/// Who is writing or reading.
pub enum Speaker<'a> {
    /// The order's buyer (an account, or a guest who proved the order).
    Buyer(Option<UserId>),
    /// The owner of the order's shop (checked by [`merchant_order`]).
    Merchant(&'a User),
    /// An arbiter on an order with a dispute (checked by [`arbiter_order`]).
    Arbiter(&'a User),
}

impl Speaker<'_> {
    fn party(&self) -> ChatParty {
        match self {
            Speaker::Buyer(_) => ChatParty::Buyer,
            Speaker::Merchant(_) => ChatParty::Merchant,
            Speaker::Arbiter(_) => ChatParty::Arbiter,
        }
    }
    fn user(&self) -> Option<UserId> {
        match self {
            Speaker::Buyer(u) => *u,
            Speaker::Merchant(u) | Speaker::Arbiter(u) => Some(u.id),
        }
    }
}

/// One hit as stored with a message: the rule, its category and the span (char offsets) in the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredHit {
    pub rule: String,
    pub category: String,
    pub span: [usize; 2],
}

/// The scanner's configuration: the platform's own hosts are allowed links.
pub fn scan_config(state: &App) -> ScanConfig {
    let mut cfg = ScanConfig::default();
    if let Some(host) = state.public_url.as_deref().and_then(host_of) {
        cfg.allowed_hosts.push(host);
    }
    cfg
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', ':', '?', '#']).next()?.to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn stored_hits(scan: &Scan) -> Vec<StoredHit> {
    scan.hits
        .iter()
        .map(|h| StoredHit {
            rule: h.rule.to_string(),
            category: h.category.as_str().to_string(),
            span: [h.span.0, h.span.1],
        })
        .collect()
}

/// The merchant's order: the order of the merchant's shop, else not found.
pub async fn merchant_order(state: &App, merchant: &User, order_no: &str) -> Result<Order, ChatError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let order = tx.order_by_no(order_no.trim()).await?.ok_or(ChatError::OrderNotFound)?;
    let shop = tx.shop_by_owner(merchant.id).await?;
    if shop.is_some_and(|s| s.id == order.shop_id) {
        Ok(order)
    } else {
        Err(ChatError::OrderNotFound)
    }
}

/// The order of a dispute, for an arbiter (orders without a dispute are not theirs to read).
pub async fn arbiter_order(state: &App, arbiter: &User, order_no: &str) -> Result<Order, ChatError> {
    if arbiter.role != kabao_core::user::Role::Arbiter {
        return Err(ChatError::NotArbiter);
    }
    let mut tx = state.store.begin(TxMode::Read).await?;
    let order = tx.order_by_no(order_no.trim()).await?.ok_or(ChatError::OrderNotFound)?;
    if has_dispute(&mut *tx, &order).await? {
        Ok(order)
    } else {
        Err(ChatError::OrderNotFound)
    }
}

/// Any order, for an admin reviewing risk events: read only (admins do not write in order chats).
pub async fn admin_order(state: &App, admin: &User, order_no: &str) -> Result<Order, ChatError> {
    crate::shops::require_admin(admin)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.order_by_no(order_no.trim()).await?.ok_or(ChatError::OrderNotFound)
}

async fn has_dispute(tx: &mut dyn Tx, order: &Order) -> Result<bool, ChatError> {
    for c in tx.order_claims(order.id).await? {
        if tx.dispute_of_claim(c.id).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sends a message on an order the caller may write on (checked by the caller).
pub async fn send(state: &App, order: &Order, speaker: Speaker<'_>, body: &str) -> Result<ChatMessage, ChatError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(ChatError::Empty);
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ChatError::TooLong { max: MAX_MESSAGE_CHARS });
    }
    let now = state.clock.now();
    let party = speaker.party();
    let scan = risk::scan(body, &scan_config(state));
    let hits = stored_hits(&scan);
    let mut tx = state.store.begin(TxMode::Write).await?;
    let last_minute = tx.count_chat_messages_since(order.id, party, Timestamp(now.millis() - 60_000)).await?;
    let last_day = tx.count_chat_messages_since(order.id, party, Timestamp(now.millis() - 86_400_000)).await?;
    if last_minute >= MAX_PER_MINUTE || last_day >= MAX_PER_DAY {
        // The per-minute limit frees up within a minute; the daily one, within the day.
        let wait_s = if last_day >= MAX_PER_DAY { 3600 } else { 60 };
        return Err(ChatError::TooFast { wait_s });
    }
    let mut message = ChatMessage {
        id: 0,
        order_id: order.id,
        sender: party,
        sender_id: speaker.user(),
        body: body.to_string(),
        hits_json: serde_json::to_string(&hits)?,
        created_at: now,
    };
    message.id = tx.insert_chat_message(&message).await?;
    if scan.risky() {
        let mut rules: Vec<&str> = scan.hits.iter().map(|h| h.rule).collect();
        rules.dedup();
        tx.insert_risk_event(&RiskEvent {
            id: 0,
            kind: "chat".into(),
            shop_id: (party == ChatParty::Merchant).then_some(order.shop_id),
            user_id: speaker.user(),
            order_id: Some(order.id),
            message_id: Some(message.id),
            rules_json: serde_json::to_string(&rules)?,
            state: "open".into(),
            review_note: None,
            reviewed_by: None,
            reviewed_at: None,
            created_at: now,
        })
        .await?;
        // The rules only, never the message: logs must not carry contact details or anything a key could be in.
        tracing::warn!(order = %order.order_no, sender = party.as_str(), rules = ?rules, "risky chat message");
    }
    tx.commit().await?;
    Ok(message)
}

/// An order's messages.
pub async fn messages(state: &App, order: &Order) -> Result<Vec<ChatMessage>, ChatError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.order_chat(order.id, MAX_SHOWN).await?)
}

/// A message as one reader sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub id: i64,
    /// buyer / merchant / arbiter
    pub sender: String,
    /// The text; for the buyer, with contact details of the other side masked (`*`).
    pub body: String,
    /// Whether anything was masked.
    pub masked: bool,
    /// The risk scanner's verdict: rules that matched (empty when harmless).
    pub rules: Vec<String>,
    /// A plain warning for the reader, when the message is risky and the reader is not its sender.
    pub warning: Option<String>,
    pub created_at: i64,
}

/// What `reader` sees of each message: the buyer sees what others wrote masked and with a warning; the sender
/// sees their own text and a note that it was flagged; an arbiter sees everything as written.
pub fn shown(messages: &[ChatMessage], reader: ChatParty, lang: Lang) -> Vec<Shown> {
    messages
        .iter()
        .map(|m| {
            let hits: Vec<StoredHit> = serde_json::from_str(&m.hits_json).unwrap_or_default();
            let categories: Vec<RiskCategory> = hits.iter().filter_map(|h| RiskCategory::parse(&h.category)).collect();
            let rules = hits.iter().map(|h| h.rule.clone()).collect();
            let (body, masked) = if reader == ChatParty::Buyer && m.sender != ChatParty::Buyer && !hits.is_empty() {
                let spans: Vec<(usize, usize)> =
                    hits.iter().filter(|h| risk::is_contact_rule(&h.rule)).map(|h| (h.span[0], h.span[1])).collect();
                let masked = risk::mask_spans(&m.body, &spans);
                let changed = masked != m.body;
                (masked, changed)
            } else {
                (m.body.clone(), false)
            };
            let warning = categories.first().map(|c| {
                if m.sender == reader {
                    lang.pick(
                        "这条消息触发了平台风控（站外联系方式或收费要求），已记录。请在平台内完成交易与补单。",
                        "This message was flagged (contact off the platform or a fee request) and recorded. \
                         Keep the deal and re-issues on the platform.",
                    )
                    .to_string()
                } else {
                    risk::warning(*c, lang).to_string()
                }
            });
            Shown {
                id: m.id,
                sender: m.sender.as_str().into(),
                body,
                masked,
                rules,
                warning,
                created_at: m.created_at.millis(),
            }
        })
        .collect()
}
