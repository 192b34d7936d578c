//! Listings scanned when saved: a shop's name and description, a product's title and description and a
//! shared-secret product's delivery text (the 循环卡密 every buyer receives) go through the same risk scanner as
//! chat. A risky product is held for review (saved, but not listed) with a risk event of kind
//! `listing.product`; a risky shop name or description holds the shop (its products out of the catalog, its
//! page marked under review) with a `listing.shop` event. The rules a listing is held under are stored with it,
//! so the merchant's console says why; dismissing the shop's events in the admin's risk queue releases both.

use crate::App;
use kabao_core::{Lang, ShopId, Timestamp, UserId};
use kabao_store::RiskEvent;

/// The rules the texts trip, each once, in the order first met.
pub fn rules(state: &App, texts: &[&str]) -> Vec<&'static str> {
    rules_with(&crate::chat::scan_config(state), texts)
}

/// [`rules`] under a given scan configuration.
pub fn rules_with(cfg: &kabao_core::risk::ScanConfig, texts: &[&str]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for text in texts {
        for hit in kabao_core::risk::scan(text, cfg).hits {
            if !out.contains(&hit.rule) {
                out.push(hit.rule);
            }
        }
    }
    out
}

/// The rules a delivery text trips. A shared secret is often a login (共享账号: "账号 a@b.com 密码 x"), so an id
/// in a credential's place (right after an account label, in a text that also labels a password) is the goods,
/// not contact details; the same id offered any other way, and every other rule, still counts.
pub fn delivery_rules(cfg: &kabao_core::risk::ScanConfig, text: &str) -> Vec<&'static str> {
    let chars: Vec<char> = text.chars().collect();
    let lower = text.to_lowercase();
    let has_password = PASSWORD_LABELS.iter().any(|l| lower.contains(l));
    let mut out: Vec<&'static str> = Vec::new();
    for hit in kabao_core::risk::scan(text, cfg).hits {
        let credential = has_password && CREDENTIAL_RULES.contains(&hit.rule) && {
            let start = hit.span.0.min(chars.len());
            let before: String = chars.get(start.saturating_sub(8)..start).unwrap_or_default().iter().collect();
            let before = before.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '：' | '='));
            let before = before.to_lowercase();
            ACCOUNT_LABELS.iter().any(|l| before.ends_with(l))
        };
        if !credential && !out.contains(&hit.rule) {
            out.push(hit.rule);
        }
    }
    out
}

/// Ids that may be a login rather than a way to reach someone.
const CREDENTIAL_RULES: &[&str] = &["contact.email", "contact.phone", "contact.qq", "contact.handle", "contact.app_id"];
/// What labels a login in a delivery text (compared lower-cased).
const ACCOUNT_LABELS: &[&str] =
    &["账号", "帐号", "账户", "帐户", "用户名", "登录名", "登录邮箱", "account", "login", "user", "username"];
/// What labels its password (compared lower-cased).
const PASSWORD_LABELS: &[&str] = &["密码", "password", "pwd", "passwd"];

/// Why the texts are held, in the merchant's language: one sentence per rule; empty when they are not.
pub fn reasons(state: &App, texts: &[&str], lang: Lang) -> Vec<String> {
    rules(state, texts).into_iter().map(|r| crate::risk::rule_text(r, lang)).collect()
}

/// Why a listing is held, from the rule ids stored with it: one sentence per rule; empty when it is not held.
pub fn held_reasons(held_rules: &[String], lang: Lang) -> Vec<String> {
    held_rules.iter().map(|r| crate::risk::rule_text(r, lang)).collect()
}

/// The rule ids as stored with a held listing (a JSON array); `None` when there are none (not held).
pub fn held_json(rules: &[&str]) -> Option<String> {
    // A list of rule ids always serializes; "[]" only to avoid a panic path.
    (!rules.is_empty()).then(|| serde_json::to_string(rules).unwrap_or_else(|_| "[]".into()))
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
