//! Listings scanned when saved: a shop's name and description, a product's title and description go through
//! the same risk scanner as chat. A risky product is held for review (saved, but not listed) with a risk event
//! of kind `listing.product` for the admin's risk review queue; a risky shop name or description raises a
//! `listing.shop` event. The merchant's console says why, from the same scan of the saved texts.

use crate::App;
use kabao_core::{Lang, ShopId, Timestamp, UserId};
use kabao_store::RiskEvent;

/// The rules the texts trip, each once, in the order first met.
pub fn rules(state: &App, texts: &[&str]) -> Vec<&'static str> {
    let cfg = crate::chat::scan_config(state);
    let mut out: Vec<&'static str> = Vec::new();
    for text in texts {
        for hit in kabao_core::risk::scan(text, &cfg).hits {
            if !out.contains(&hit.rule) {
                out.push(hit.rule);
            }
        }
    }
    out
}

/// Why the texts are held, in the merchant's language: one sentence per rule; empty when they are not.
pub fn reasons(state: &App, texts: &[&str], lang: Lang) -> Vec<String> {
    rules(state, texts).into_iter().map(|r| crate::risk::rule_text(r, lang)).collect()
}

/// The open risk event recording a held listing.
pub fn event(kind: &str, shop: ShopId, merchant: UserId, rules: &[&str], now: Timestamp) -> RiskEvent {
    // A list of rule ids always serializes; "[]" only to avoid a panic path.
    let rules_json = serde_json::to_string(rules).unwrap_or_else(|_| "[]".into());
    RiskEvent {
        id: 0,
        kind: kind.into(),
        shop_id: Some(shop),
        user_id: Some(merchant),
        order_id: None,
        message_id: None,
        rules_json,
        state: "open".into(),
        review_note: None,
        reviewed_by: None,
        reviewed_at: None,
        created_at: now,
    }
}

/// The kind of a product listing's event.
pub const PRODUCT: &str = "listing.product";
/// The kind of a shop name's or description's event.
pub const SHOP: &str = "listing.shop";
