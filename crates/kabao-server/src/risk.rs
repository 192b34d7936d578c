//! The admin's risk review queue: shops whose open risk events (flagged chat messages) reached the threshold.
//! An admin confirms them (they keep counting against the shop's trust, and the shop may be suspended) or
//! dismisses them as false alarms (they stop counting).

use crate::error::ApiError;
use crate::AppState;
use kabao_core::ShopId;
use kabao_store::{RiskEvent, Shop, TxMode, User};

/// A shop in the queue, with its recent events (and each event's order number).
pub struct Queued {
    pub shop: Shop,
    pub open: i64,
    pub events: Vec<(RiskEvent, Option<String>)>,
}

/// The queue, most open events first.
pub async fn queue(state: &AppState, admin: &User) -> Result<Vec<Queued>, ApiError> {
    crate::shops::require_admin(admin)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let shops = tx.risk_review_queue(state.config.risk_review_threshold.max(1), 100).await?;
    let mut out = Vec::with_capacity(shops.len());
    for (id, open) in shops {
        let Some(shop) = tx.shop_by_id(id).await? else { continue };
        let mut events = Vec::new();
        for e in tx.shop_risk_events(id, 20).await? {
            let order_no = match e.order_id {
                Some(o) => tx.order_by_id(o).await?.map(|o| o.order_no),
                None => None,
            };
            events.push((e, order_no));
        }
        out.push(Queued { shop, open, events });
    }
    Ok(out)
}

/// Confirms or dismisses every open event of a shop, with a note; a confirmation may also suspend the shop.
pub async fn review(
    state: &AppState,
    admin: &User,
    shop: ShopId,
    outcome: &str,
    note: &str,
    suspend: bool,
) -> Result<u64, ApiError> {
    crate::shops::require_admin(admin)?;
    let outcome = match outcome.trim() {
        o @ ("confirmed" | "dismissed") => o,
        _ => {
            return Err(ApiError::bad_request(
                "risk.outcome",
                "outcome",
                "请选择确认违规或误报",
                "Choose confirmed or dismissed",
            ))
        }
    };
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ApiError::bad_request(
            "risk.note",
            "note",
            "请填写处理说明（最多 500 字）",
            "Give a note (up to 500 characters)",
        ));
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    let n = tx.review_risk_events(shop, outcome, note, admin.id, state.clock.now()).await?;
    if n == 0 {
        return Err(ApiError::not_found("risk.nothing_open"));
    }
    tx.commit().await?;
    tracing::info!(shop = %shop, outcome, events = n, admin = %admin.id, "risk events reviewed");
    if suspend && outcome == "confirmed" {
        crate::shops::set_suspension(state, admin, shop, true, note).await?;
    }
    Ok(n)
}
