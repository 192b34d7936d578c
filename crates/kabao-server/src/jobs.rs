//! Background work: releasing escrow when the claim window has closed, expiring unpaid orders, and refunding
//! custom-goods orders whose merchant missed the delivery deadline.
//! Jobs are rows with leases in the store: of several `kabao serve` instances sharing one PostgreSQL
//! database, only the lease holder runs a job; a crashed holder's lease expires and another takes over.
//! Each order is also handled behind a compare-and-set on its state, so even two runs at once settle once.
//! Tests call the functions directly with a manual clock; nothing here sleeps in a test.

use crate::error::ApiError;
use crate::orders::append_event;
use crate::AppState;
use kabao_core::ledger;
use kabao_core::order::{on_delivery_deadline, on_expiry, on_settlement};
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

/// Refunds paid custom-goods orders whose merchant did not deliver before the deadline, and puts the units
/// back on sale. The buyer never has to ask.
pub async fn refund_late_deliveries(state: &AppState) -> Result<u64, ApiError> {
    let now = state.now();
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.orders_past_delivery_deadline(now, BATCH).await?
    };
    let mut refunded = 0;
    for order in due {
        let Ok(next) = on_delivery_deadline(order.state) else { continue };
        let mut tx = state.store.begin(TxMode::Write).await?;
        if !tx.update_order_state(order.id, order.state, next, now).await? {
            continue; // delivered at the last moment, or another instance refunded it
        }
        crate::orders::refund_order(&mut *tx, &order, "delivery_deadline_missed", now).await?;
        tx.return_counted_stock(order.product_id, order.quantity).await?;
        tx.commit().await?;
        tracing::info!(order = %order.order_no, "custom goods not delivered in time: refunded");
        refunded += 1;
    }
    Ok(refunded)
}

/// How long a job's lease lasts; a holder that dies is replaced after this.
const LEASE_SECONDS: i64 = 300;

/// What one pass did: `None` for a job whose lease another instance holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub settled: Option<u64>,
    pub expired: Option<u64>,
    pub refunded_late: Option<u64>,
}

async fn with_lease(state: &AppState, owner: &str, job: &str) -> Result<bool, ApiError> {
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let got = tx.acquire_job_lease(job, owner, now, now.plus_seconds(LEASE_SECONDS)).await?;
    tx.commit().await?;
    Ok(got)
}

async fn release(state: &AppState, owner: &str, job: &str) -> Result<(), ApiError> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.release_job_lease(job, owner, state.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// One pass of every job this instance (`owner`) can lease.
pub async fn run_once(state: &AppState, owner: &str) -> Result<Pass, ApiError> {
    let mut pass = Pass { settled: None, expired: None, refunded_late: None };
    if with_lease(state, owner, "settle").await? {
        let r = settle_due(state).await;
        release(state, owner, "settle").await?;
        pass.settled = Some(r?);
    }
    if with_lease(state, owner, "expire").await? {
        let r = expire_unpaid(state).await;
        release(state, owner, "expire").await?;
        pass.expired = Some(r?);
    }
    if with_lease(state, owner, "delivery_deadline").await? {
        let r = refund_late_deliveries(state).await;
        release(state, owner, "delivery_deadline").await?;
        pass.refunded_late = Some(r?);
    }
    Ok(pass)
}

/// Runs the jobs every `every` until the process ends, under a random instance name.
pub fn spawn(state: Arc<AppState>, every: Duration) -> tokio::task::JoinHandle<()> {
    let owner = format!("instance-{}", crate::auth::random_token());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&state, &owner).await {
                Ok(pass) => tracing::debug!(?pass, "jobs ran"),
                Err(e) => tracing::error!(error = %e, "background jobs failed"),
            }
        }
    })
}
