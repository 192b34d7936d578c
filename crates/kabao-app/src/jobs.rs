//! Background work: releasing escrow when the claim window has closed, expiring unpaid orders, refunding
//! custom-goods orders whose merchant missed the delivery deadline, asking the gateways about payments whose
//! notification has not arrived (gateways lose some; see [`crate::reconcile`]) and paying withdrawals by
//! gateway transfer ([`crate::payouts`]).
//! Jobs are rows with leases in the store: of several `kabao serve` instances sharing one PostgreSQL
//! database, only the lease holder runs a job; a crashed holder's lease expires and another takes over.
//! Each order is also handled behind a compare-and-set on its state, so even two runs at once settle once.
//! Tests call the functions directly with a manual clock; nothing here sleeps in a test.

use crate::orders::append_event;
use crate::App;
use crate::Clock;
use kabao_core::events::{OrderEvent, RefundReason};
use kabao_core::ledger::{self, LedgerError};
use kabao_core::order::{on_delivery_deadline, on_expiry, on_settlement};
use kabao_core::{Lang, Localized};
use kabao_store::{Store, StoreError, TxMode};
use std::sync::Arc;
use std::time::Duration;

/// Why a job's pass stopped. None of these is a user's to fix: the pass is logged and tried again.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// A ledger transaction the rules could not build (a bug: the amounts come from the books).
    #[error("ledger transaction invalid: {0}")]
    Bookkeeping(#[from] LedgerError),
    /// A step of another module failed (order events and refunds, claim deadlines, escalations, trust).
    #[error(transparent)]
    Order(#[from] crate::orders::OrderError),
    #[error(transparent)]
    Claims(#[from] crate::claims::ClaimsError),
    #[error(transparent)]
    Disputes(#[from] crate::disputes::DisputesError),
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Insurance(#[from] crate::insurance::PayoutError),
    #[error(transparent)]
    Refunds(#[from] crate::refunds::RefundError),
    #[error(transparent)]
    Finance(#[from] crate::finance::FinanceError),
}

impl Localized for JobsError {
    fn code(&self) -> &'static str {
        match self {
            JobsError::Order(e) => e.code(),
            JobsError::Claims(e) => e.code(),
            JobsError::Disputes(e) => e.code(),
            JobsError::Trust(e) => e.code(),
            JobsError::Insurance(e) => e.code(),
            JobsError::Refunds(e) => e.code(),
            JobsError::Finance(e) => e.code(),
            JobsError::Bookkeeping(_) | JobsError::Store(_) => "internal",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            JobsError::Order(e) => e.message(lang),
            JobsError::Claims(e) => e.message(lang),
            JobsError::Disputes(e) => e.message(lang),
            JobsError::Trust(e) => e.message(lang),
            JobsError::Insurance(e) => e.message(lang),
            JobsError::Refunds(e) => e.message(lang),
            JobsError::Finance(e) => e.message(lang),
            JobsError::Bookkeeping(_) | JobsError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// Orders handled per pass; the loop comes back for the rest.
const BATCH: i64 = 200;

/// Settles delivered orders whose claim window has closed: escrow → merchant, fee → platform.
pub async fn settle_due(state: &App) -> Result<u64, JobsError> {
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
            // A coupon's discount is the merchant's cost: shown as its own line of the settlement (net unchanged).
            let discount = order.pricing.as_ref().map_or(kabao_core::Money::ZERO, |p| p.discount);
            let t = ledger::settle_with_discount(order.id, order.shop_id, held, fee, discount)?;
            tx.post_ledger(&t, Some(order.id), now).await?;
            repay_fund(&mut *tx, order.shop_id, now).await?;
            crate::insurance::repay_pool(&mut *tx, order.shop_id, now).await?;
        }
        append_event(
            &mut *tx,
            order.id,
            &OrderEvent::OrderSettled { amount: held, fee_bps: state.config.fee_bps },
            now,
        )
        .await?;
        tx.commit().await?;
        settled += 1;
    }
    Ok(settled)
}

/// A shop that owes the compensation fund (it advanced a refund for the shop) pays it back from its available
/// balance as soon as money arrives there, in the settlement's transaction.
async fn repay_fund(
    tx: &mut dyn kabao_store::Tx,
    shop: kabao_core::ShopId,
    now: kabao_core::Timestamp,
) -> Result<(), JobsError> {
    let owed = -tx.balance(ledger::Account::FundReceivable(shop)).await?.fen();
    let available = tx.balance(ledger::Account::MerchantAvailable(shop)).await?.fen();
    let pay = owed.min(available);
    if pay > 0 {
        let t = ledger::LedgerTx::transfer(
            ledger::TxKind::FundRepayment,
            ledger::Account::MerchantAvailable(shop),
            ledger::Account::FundReceivable(shop),
            kabao_core::Money::from_fen(pay),
        )?;
        tx.post_ledger(&t, None, now).await?;
    }
    Ok(())
}

/// Marks unpaid orders past their time as expired. Nothing was held for them, so nothing is released but the
/// coupon use an order took.
pub async fn expire_unpaid(state: &App) -> Result<u64, JobsError> {
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
        // A coupon use the order held goes back to the coupon.
        tx.release_coupon_use(order.id, now).await?;
        append_event(&mut *tx, order.id, &OrderEvent::OrderExpired, now).await?;
        tx.commit().await?;
        expired += 1;
    }
    Ok(expired)
}

/// Refunds paid custom-goods orders whose merchant did not deliver before the deadline, and puts the units
/// back on sale. The buyer never has to ask.
pub async fn refund_late_deliveries(state: &App) -> Result<u64, JobsError> {
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
        crate::orders::refund_order(state, &mut *tx, &order, RefundReason::DeliveryDeadlineMissed, now).await?;
        tx.return_counted_stock(order.product_id, order.quantity).await?;
        tx.commit().await?;
        tracing::info!(order = %order.order_no, "custom goods not delivered in time: refunded");
        refunded += 1;
    }
    Ok(refunded)
}

/// How long a job's lease lasts without renewal: an instance that dies holding it delays the job by at most
/// this. The holder renews it every [`RENEW_EVERY`] while the job runs, so a long pass keeps it.
const LEASE_SECONDS: i64 = 15;
const RENEW_EVERY: Duration = Duration::from_secs(5);
// Checked when compiling: seconds, not minutes, and renewal well before expiry (two renewals may be missed).
const _: () = assert!(LEASE_SECONDS <= 30 && RENEW_EVERY.as_secs() * 2 < LEASE_SECONDS as u64);

/// The lease of the 金牌卖家 review (a row created by migration 0010), and how often it runs.
const GOLD_JOB: &str = "certification_gold";
const GOLD_EVERY_SECONDS: i64 = 3600;

/// Whether this instance's hourly gold review is due (and, if so, the next one is set an hour on).
fn gold_review_due(state: &App) -> bool {
    let now = state.now();
    let Ok(mut due) = state.gold_review_due.lock() else { return false };
    if *due > now {
        return false;
    }
    *due = now.plus_seconds(GOLD_EVERY_SECONDS);
    true
}

/// What one pass did: `None` for a job whose lease another instance holds (or, for the gateway reconciliation,
/// when no gateway but the wallet is configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub settled: Option<u64>,
    pub expired: Option<u64>,
    pub refunded_late: Option<u64>,
    /// Payments still pending asked about at their gateways ([`crate::reconcile::run`]).
    pub reconciled: Option<crate::reconcile::Poll>,
    /// Claims whose merchant deadline passed, handled.
    pub claim_deadlines: Option<u64>,
    /// Buyers reminded that a rejected claim can still go to the platform.
    pub escalation_reminders: Option<u64>,
    /// Shops whose 金牌卖家 was granted or withdrawn from their record (hourly).
    pub gold_reviewed: Option<u64>,
    /// Shops whose stored trust facts (what pages score from) were recomputed.
    pub trust_facts: Option<u64>,
    /// Merchant webhooks sent, retried, failed (and deadline reminders written).
    pub webhooks: Option<crate::webhooks::WebhookPass>,
    /// Warranty insurance payouts paid (new and queued ones).
    pub insurance_paid: Option<u64>,
    /// Refunds asked of gateways (paid back, still processing, gone to the wallet, handed to the team).
    pub gateway_refunds: Option<crate::refunds::RefundPass>,
    /// Withdrawals paid (or refused) by gateway transfer.
    pub transfers: Option<crate::payouts::TransferPass>,
}

async fn with_lease(state: &App, owner: &str, job: &str) -> Result<bool, JobsError> {
    Ok(take_lease(&*state.store, &*state.clock, job, owner).await?)
}

/// Takes (or renews) `job`'s lease for `owner` for [`LEASE_SECONDS`] from now; `false` when another owner's
/// lease is still running.
async fn take_lease(store: &dyn Store, clock: &dyn Clock, job: &str, owner: &str) -> Result<bool, StoreError> {
    let now = clock.now();
    let mut tx = store.begin(TxMode::Write).await?;
    let got = tx.acquire_job_lease(job, owner, now, now.plus_seconds(LEASE_SECONDS)).await?;
    tx.commit().await?;
    Ok(got)
}

/// Runs `work` under `job`'s lease, which `owner` has just taken: renews the lease every [`RENEW_EVERY`] while
/// the work runs and releases it afterwards, whatever the work returned.
///
/// The work is never cancelled: every step of a job is its own transaction that re-checks the state it changes,
/// so if a stalled holder loses its lease, the worst case is two instances doing the same due work, each step
/// once. Renewal stops with a warning then.
async fn hold_lease<T>(
    store: &dyn Store,
    clock: &dyn Clock,
    job: &str,
    owner: &str,
    work: impl std::future::Future<Output = T>,
) -> Result<T, StoreError> {
    let renew = async {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            match take_lease(store, clock, job, owner).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job, "job lease taken over by another instance while running");
                    break;
                }
                // A blip in the database: try again at the next tick (the lease still has time).
                Err(e) => tracing::warn!(job, error = %e, "job lease renewal failed"),
            }
        }
        // Renewal is over; the work finishes on its own.
        std::future::pending::<std::convert::Infallible>().await
    };
    tokio::pin!(work);
    let result = tokio::select! {
        biased;
        r = &mut work => r,
        never = renew => match never {},
    };
    let mut tx = store.begin(TxMode::Write).await?;
    tx.release_job_lease(job, owner, clock.now()).await?;
    tx.commit().await?;
    Ok(result)
}

/// Runs `work` if this instance (`owner`) gets the job's lease ([`hold_lease`]). `None` when another instance
/// holds the lease.
async fn leased<T, E>(
    state: &App,
    owner: &str,
    job: &str,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<Option<T>, JobsError>
where
    JobsError: From<E>,
{
    if !with_lease(state, owner, job).await? {
        return Ok(None);
    }
    Ok(Some(hold_lease(&*state.store, &*state.clock, job, owner, work).await??))
}

/// The lease start-up work runs under (a job row created by migration 0033).
const STARTUP_JOB: &str = "bootstrap";
/// How long a starting instance waits for another's start-up work before giving up.
const STARTUP_WAIT: Duration = Duration::from_secs(300);
const STARTUP_POLL: Duration = Duration::from_millis(200);

/// Why start-up work did not run.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "another instance has held the start-up lease on this database for {} s (first admin, demo data) and is \
         still renewing it; is one stuck starting? A stopped holder's lease runs out {LEASE_SECONDS} s after it \
         stops",
        STARTUP_WAIT.as_secs()
    )]
    Waited,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the start-up work (first admin, demo data) of an instance, one instance at a time: instances starting
/// together on a fresh database do it one after another, so the later ones find what the first created. It is a
/// job lease like any other, short and renewed while the work runs, so an instance killed in the middle delays
/// the next start by seconds ([`LEASE_SECONDS`]), not minutes.
pub async fn one_at_a_time<T>(
    store: &dyn Store,
    clock: &dyn Clock,
    work: impl std::future::Future<Output = T>,
) -> Result<T, StartupError> {
    let owner = format!("startup-{}-{}", std::process::id(), crate::secrets::random_token());
    let started = std::time::Instant::now();
    while !take_lease(store, clock, STARTUP_JOB, &owner).await? {
        if started.elapsed() > STARTUP_WAIT {
            return Err(StartupError::Waited);
        }
        tokio::time::sleep(STARTUP_POLL).await;
    }
    Ok(hold_lease(store, clock, STARTUP_JOB, &owner, work).await?)
}

/// One pass of every job this instance (`owner`) can lease.
pub async fn run_once(state: &App, owner: &str) -> Result<Pass, JobsError> {
    let mut pass = Pass {
        settled: None,
        expired: None,
        refunded_late: None,
        reconciled: None,
        claim_deadlines: None,
        escalation_reminders: None,
        gold_reviewed: None,
        trust_facts: None,
        webhooks: None,
        insurance_paid: None,
        gateway_refunds: None,
        transfers: None,
    };
    // Deadlines first: a claim the silence job remedies must not be settled away in the same pass.
    pass.claim_deadlines = leased(state, owner, "claim_deadlines", crate::claims::run_deadlines(state)).await?;
    // Then insurance: a claim the silence job could not settle is paid before its order settles.
    pass.insurance_paid = leased(state, owner, "insurance_payouts", crate::insurance::run_payouts(state)).await?;
    pass.settled = leased(state, owner, "settle", settle_due(state)).await?;
    let housekeeping = async {
        let expired = expire_unpaid(state).await?;
        // Idempotency records past their retention go in the same leased pass (a bounded batch each time), and
        // throttle attempts and spent sign-up answers past their time.
        let purged = crate::idempotency::purge(state).await? + crate::throttles::purge(state).await?;
        // Products written before the search index existed are indexed a batch per pass, until none is left.
        let indexed = crate::catalog::index_backlog(state).await?;
        if indexed > 0 {
            tracing::info!(indexed, "products added to the search index");
        }
        if purged > 0 {
            tracing::info!(purged, "idempotency records and throttle attempts past retention deleted");
        }
        Ok::<_, JobsError>(expired)
    };
    pass.expired = leased(state, owner, "expire", housekeeping).await?;
    pass.refunded_late = leased(state, owner, "delivery_deadline", refund_late_deliveries(state)).await?;
    pass.escalation_reminders =
        leased(state, owner, "dispute_reminders", crate::disputes::remind_escalation(state)).await?;
    pass.trust_facts = leased(state, owner, TRUST_FACTS_JOB, crate::trust::refresh_facts(state)).await?;
    if gold_review_due(state) {
        pass.gold_reviewed = leased(state, owner, GOLD_JOB, crate::trust::review_gold(state)).await?;
    }
    let reconcile = crate::reconcile::RECONCILE_JOB;
    if state.gateways.external().next().is_some() {
        pass.reconciled = leased(state, owner, reconcile, crate::reconcile::run(state)).await?;
    }
    pass.transfers = leased(state, owner, crate::payouts::TRANSFER_JOB, crate::payouts::run(state)).await?;
    // Refunds the passes above queued go out in the same pass.
    pass.gateway_refunds = leased(state, owner, REFUND_JOB, crate::refunds::run(state)).await?;
    pass.webhooks = leased(state, owner, WEBHOOK_JOB, crate::webhooks::run(state, owner)).await?;
    Ok(pass)
}

/// The lease of the stored trust facts (a row created by migration 0035).
const TRUST_FACTS_JOB: &str = "trust_facts";

/// The lease of the gateway refund job (a row created by migration 0021).
const REFUND_JOB: &str = "gateway_refunds";

/// The lease of the webhook job (a row created by migration 0016); each delivery also has its own lease.
const WEBHOOK_JOB: &str = "webhooks";

/// Runs the jobs every `every` until the process ends, under a random instance name.
pub fn spawn<S>(state: Arc<S>, every: Duration) -> tokio::task::JoinHandle<()>
where
    S: std::ops::Deref<Target = App> + Send + Sync + 'static,
{
    let owner = format!("instance-{}", crate::secrets::random_token());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use kabao_core::Timestamp;

    const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    async fn app() -> (App, Arc<ManualClock>) {
        crate::test_support::app(T0).await
    }

    #[tokio::test]
    async fn a_dead_holders_lease_is_taken_over_once_it_runs_out() {
        let (app, clock) = app().await;
        // An instance took the settlement lease and died (no renewal, no release).
        assert!(with_lease(&app, "instance-dead", "settle").await.unwrap());
        assert_eq!(run_once(&app, "instance-live").await.unwrap().settled, None, "held: the live one waits");
        clock.advance_seconds(LEASE_SECONDS - 1);
        assert_eq!(run_once(&app, "instance-live").await.unwrap().settled, None, "still within the lease");
        clock.advance_seconds(2);
        assert_eq!(run_once(&app, "instance-live").await.unwrap().settled, Some(0), "taken over seconds later");
        // And the live instance released it after its pass: the next one by anyone runs at once.
        assert_eq!(run_once(&app, "instance-other").await.unwrap().settled, Some(0));
    }

    #[tokio::test]
    async fn a_start_up_killed_midway_delays_the_next_start_by_seconds_not_minutes() {
        let (app, clock) = app().await;
        // An instance begins its start-up work (first admin, demo data) and is killed in the middle: it neither
        // renews nor releases the lease.
        let (store, its_clock) = (app.store.clone(), clock.clone());
        let (began, began_rx) = tokio::sync::oneshot::channel();
        let killed = tokio::spawn(async move {
            one_at_a_time(&*store, &*its_clock, async {
                let _ = began.send(());
                std::future::pending::<()>().await
            })
            .await
        });
        began_rx.await.unwrap();
        killed.abort();
        // The next instance waits while the dead holder's lease runs...
        let next = one_at_a_time(&*app.store, &*clock, async { "bootstrapped" });
        tokio::pin!(next);
        assert!(tokio::time::timeout(Duration::from_millis(600), &mut next).await.is_err(), "the lease still runs");
        // ...and takes over as soon as it has run out, seconds later.
        clock.advance_seconds(LEASE_SECONDS + 1);
        let done =
            tokio::time::timeout(Duration::from_secs(10), next).await.expect("taken over once the lease ran out");
        assert_eq!(done.unwrap(), "bootstrapped");
    }

    #[tokio::test]
    async fn a_running_job_renews_its_lease_and_releases_it_when_done() {
        let (app, clock) = app().await;
        let app = &app;
        let work = async {
            // The job runs past its first lease (in the app's clock) while the renewal ticks (in real time).
            clock.advance_seconds(LEASE_SECONDS - 5);
            tokio::time::sleep(RENEW_EVERY + Duration::from_secs(3)).await;
            clock.advance_seconds(10);
            // Without the renewal the lease would have run out by now and another instance could take it.
            let stolen = with_lease(app, "instance-other", "settle").await?;
            Ok::<_, JobsError>(stolen)
        };
        let stolen = leased(app, "instance-slow", "settle", work).await.unwrap();
        assert_eq!(stolen, Some(false), "the renewed lease kept the other instance out");
        assert!(with_lease(app, "instance-other", "settle").await.unwrap(), "released when the job ended");
    }
}
