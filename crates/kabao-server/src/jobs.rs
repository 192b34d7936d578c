//! Background work: releasing escrow when the claim window has closed, and expiring unpaid orders.
//! Each order is handled in its own transaction behind a compare-and-set on its state, so two `kabao serve`
//! instances sharing one PostgreSQL database can both run these loops and still settle an order only once.
//! Tests call the functions directly with a manual clock; nothing here sleeps in a test.

use crate::error::ApiError;
use crate::orders::append_event;
use crate::AppState;
use kabao_core::ledger;
use kabao_core::order::{on_expiry, on_settlement};
use kabao_store::TxMode;
use std::sync::Arc;
use std::time::Duration;

/// Orders handled per pass; the loop comes back for the rest.
const BATCH: i64 = 200;

/// Settles delivered orders whose claim window has closed: escrow → merchant, fee → platform.
pub async fn settle_due(state: &AppState) -> Result<u64, ApiError> {
    let now = state.now();
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.orders_due_for_settlement(now, BATCH).await?
    };
    let mut settled = 0;
    for order in due {
        let Ok(next) = on_settlement(order.state) else { continue };
        let mut tx = state.store.begin(TxMode::Write).await?;
        if !tx.update_order_state(order.id, order.state, next, now).await? {
            continue; // another instance got there first
        }
        let held = tx.balance(ledger::Account::Escrow(order.id)).await?;
        if held.is_positive() {
            let fee = ledger::fee(held, state.config.fee_bps);
            let t = ledger::settle(order.id, order.shop_id, held, fee).map_err(ApiError::internal)?;
            tx.post_ledger(&t, Some(order.id), now).await?;
        }
        append_event(
            &mut *tx,
            order.id,
            "order.settled",
            serde_json::json!({"amount_fen": held.fen(), "fee_bps": state.config.fee_bps}),
            now,
        )
        .await?;
        tx.commit().await?;
        settled += 1;
    }
    Ok(settled)
}

/// Marks unpaid orders past their time as expired. Nothing was held for them, so nothing is released.
pub async fn expire_unpaid(state: &AppState) -> Result<u64, ApiError> {
    let now = state.now();
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.orders_past_expiry(now, BATCH).await?
    };
    let mut expired = 0;
    for order in due {
        let Ok(next) = on_expiry(order.state) else { continue };
        let mut tx = state.store.begin(TxMode::Write).await?;
        if !tx.update_order_state(order.id, order.state, next, now).await? {
            continue;
        }
        append_event(&mut *tx, order.id, "order.expired", serde_json::json!({}), now).await?;
        tx.commit().await?;
        expired += 1;
    }
    Ok(expired)
}

/// Runs the jobs every `every` until the process ends.
pub fn spawn(state: Arc<AppState>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = settle_due(&state).await {
                tracing::error!(error = %e, "settlement job failed");
            }
            if let Err(e) = expire_unpaid(&state).await {
                tracing::error!(error = %e, "expiry job failed");
            }
        }
    })
}
