//! Reconciliation with the payment gateways. Gateways lose notifications and, rarely, disagree with us; two
//! things ask them about our trades through [`Gateway::query`]:
//!
//! - the job ([`run`]): payments still pending a few minutes after they started, whose order awaits payment or
//!   has expired (and top-ups), a bounded batch per gateway per pass. A trade the gateway says is paid with our
//!   amount is applied through the notification path ([`settle_notification`], notification id
//!   `query:<gateway trade no>`), so however the notification and the query interleave it is applied once — and
//!   a late payment of an expired order is refunded by that path. A paid amount that differs is a finding;
//! - `kabao reconcile --date` ([`reconcile_day`]): every gateway payment of a business day (UTC+8), compared
//!   with the gateway's record: paid there but pending here is applied (once); paid here but unknown, unpaid or
//!   closed there is a finding; an amount that differs is a finding.
//!
//! Findings are recorded once per (gateway, trade, kind); the admin page lists the open ones and resolves them.

use crate::gateways::{Gateway, GatewayError, TradeState};
use crate::payments::{settle_notification, NotifyOutcome, PaymentError};
use crate::App;
use kabao_core::user::Role;
use kabao_core::{Lang, Localized, Money, Timestamp};
use kabao_store::{Finding, FindingKind, NewFinding, Payment, PaymentState, StoreError, TxMode, User};
use std::collections::HashMap;
use std::sync::Mutex;

/// The lease of the reconciliation job (a row created by migration 0022).
pub const RECONCILE_JOB: &str = "gateway_reconcile";
/// Payments asked about per gateway per pass; the next pass goes on after the last one asked.
pub const BATCH: i64 = 50;
/// A payment is asked about once its payer had time to pay and the gateway time to notify.
pub const AFTER_SECONDS: i64 = 180;
/// How far back the job looks: a payment pending for longer is left to `kabao reconcile --date`.
pub const WINDOW_SECONDS: i64 = 24 * 3600;
/// Unreachable answers in a row after which a pass stops asking a gateway: one that is down is not asked
/// fifty times, each waiting out the timeout. Together with the batch this keeps a pass well inside its lease.
pub const MAX_UNREACHABLE: u32 = 3;
/// China time, the business day of every finding.
const UTC8_SECONDS: i64 = 8 * 3600;

/// Where the job is in each gateway's backlog: the id of the last payment it asked about, so a backlog larger
/// than a pass is asked about in turns. Kept in this process (a restart starts from the beginning again).
#[derive(Default)]
pub struct Cursors {
    by_gateway: Mutex<HashMap<String, i64>>,
}

impl Cursors {
    /// The id of the last payment asked about at `gateway` (0 before the first).
    pub fn get(&self, gateway: &str) -> i64 {
        self.by_gateway.lock().map(|m| m.get(gateway).copied().unwrap_or(0)).unwrap_or(0)
    }

    pub fn set(&self, gateway: &str, payment_id: i64) {
        if let Ok(mut m) = self.by_gateway.lock() {
            m.insert(gateway.to_string(), payment_id);
        }
    }
}

/// What one pass of the job did, over every gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Poll {
    /// Payments asked about.
    pub queried: u64,
    /// Confirmed paid by the gateway and applied now (a payment applied already is not counted).
    pub applied: u64,
    /// Answers not acted on: malformed, about another merchant or trade, or for another amount (a finding).
    pub refused: u64,
    /// Queries that got no answer (connection failed, timed out, an HTTP error); asked again next pass.
    pub unreachable: u64,
}

/// The business day (UTC+8) of an instant, `YYYY-MM-DD`.
pub fn business_date(at: Timestamp) -> String {
    let days = (at.millis().div_euclid(1000) + UTC8_SECONDS).div_euclid(86_400);
    let date = time::Date::from_julian_day(UNIX_EPOCH_JULIAN_DAY + days as i32).unwrap_or(time::Date::MIN);
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// The instants a business day (UTC+8) covers, `[start, end)`; `None` unless `YYYY-MM-DD` names a real day.
pub fn day_bounds(date: &str) -> Option<(Timestamp, Timestamp)> {
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let day = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    let days = i64::from(day.to_julian_day() - UNIX_EPOCH_JULIAN_DAY);
    let start = (days * 86_400 - UTC8_SECONDS) * 1000;
    Some((Timestamp(start), Timestamp(start + 86_400_000)))
}

/// What asking a gateway about one payment came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Paid there, pending here: applied now (and recorded as an `applied_late` finding).
    Applied,
    /// The gateway and our record agree (paid and paid, unpaid and pending), or it was applied already.
    Agrees,
    /// A finding was made (recorded now, or already).
    Finding(FindingKind),
    /// The answer could not be acted on (malformed, not ours, a trade number reused, an apply that failed).
    Refused(String),
    /// No answer; ask again later.
    Unreachable(String),
    /// This gateway does not answer queries.
    Unsupported,
}

/// Asks `gateway` about `payment` and acts on the answer: applies a confirmed payment once, records a finding
/// once. Never fails on the gateway's account; a store error is returned.
pub async fn check_payment(state: &App, gateway: &dyn Gateway, payment: &Payment) -> Result<Checked, StoreError> {
    let trade_no = payment.trade_no.as_str();
    let id = gateway.id();
    let answer = match gateway.query(trade_no).await {
        Ok(answer) => answer,
        Err(GatewayError::Unsupported) => return Ok(Checked::Unsupported),
        Err(GatewayError::Unreachable(e)) => {
            tracing::warn!(trade_no, error = %e, gateway = id, "trade query failed; asking again later");
            return Ok(Checked::Unreachable(e));
        }
        Err(e) => {
            tracing::warn!(trade_no, error = %e, gateway = id, "trade query answer refused");
            return Ok(Checked::Refused(e.to_string()));
        }
    };
    let paid_here = payment.state == PaymentState::Paid;
    let (gateway_trade_no, amount) = match answer {
        TradeState::Paid { gateway_trade_no, amount } => (gateway_trade_no, amount),
        other if paid_here => {
            let said = match other {
                TradeState::Unpaid => "unpaid",
                TradeState::Closed => "closed",
                _ => "not found",
            };
            let detail = format!("paid here, the gateway says {said}");
            let gtn = payment.gateway_trade_no.as_deref();
            record_finding(state, payment, id, gtn, FindingKind::UnknownTrade, None, &detail).await?;
            return Ok(Checked::Finding(FindingKind::UnknownTrade));
        }
        _ => return Ok(Checked::Agrees),
    };
    if amount != payment.amount {
        let detail = format!("the gateway says paid {amount}, ours is {}; not applied", payment.amount);
        let gtn = Some(gateway_trade_no.as_str());
        record_finding(state, payment, id, gtn, FindingKind::AmountMismatch, Some(amount), &detail).await?;
        return Ok(Checked::Finding(FindingKind::AmountMismatch));
    }
    if paid_here {
        return Ok(Checked::Agrees);
    }
    let notification_id = format!("query:{gateway_trade_no}");
    match settle_notification(state, id, &notification_id, trade_no, &gateway_trade_no, amount, None).await {
        Ok(NotifyOutcome::Applied) => {
            tracing::info!(trade_no, gateway = id, "payment confirmed by trade query: applied");
            let detail = "paid at the gateway, the notification lost: found by a trade query and applied";
            let gtn = Some(gateway_trade_no.as_str());
            record_finding(state, payment, id, gtn, FindingKind::AppliedLate, Some(amount), detail).await?;
            Ok(Checked::Applied)
        }
        Ok(NotifyOutcome::Duplicate) => Ok(Checked::Agrees),
        Ok(NotifyOutcome::TradeNoReused) => Ok(Checked::Refused("gateway trade number reused".into())),
        Err(PaymentError::Store(e)) => Err(e),
        Err(e) => {
            tracing::warn!(trade_no, error = %e, gateway = id, "confirmed payment not applied; asking again later");
            Ok(Checked::Refused(e.to_string()))
        }
    }
}

/// Records a finding about `payment` at `gateway` (once), dated by the payment's business day.
async fn record_finding(
    state: &App,
    payment: &Payment,
    gateway: &str,
    gateway_trade_no: Option<&str>,
    kind: FindingKind,
    got: Option<Money>,
    detail: &str,
) -> Result<(), StoreError> {
    let date = business_date(payment.created_at);
    let finding = NewFinding {
        gateway,
        trade_no: &payment.trade_no,
        gateway_trade_no,
        kind,
        expected: payment.amount,
        got,
        business_date: &date,
        detail,
        created_at: state.now(),
    };
    record(state, &finding).await
}

async fn record(state: &App, finding: &NewFinding<'_>) -> Result<(), StoreError> {
    let mut tx = state.store.begin(TxMode::Write).await?;
    let new = tx.insert_finding(finding).await?;
    tx.commit().await?;
    if new {
        let (gateway, trade_no, kind) = (finding.gateway, finding.trade_no, finding.kind.as_str());
        if finding.kind.is_error() {
            tracing::error!(gateway, trade_no, kind, detail = finding.detail, "reconciliation finding");
        } else {
            tracing::info!(gateway, trade_no, kind, detail = finding.detail, "reconciliation finding");
        }
    }
    Ok(())
}

/// One pass of the job: every configured gateway that answers queries is asked about its payments still
/// pending ([`BATCH`] at most, going on where the last pass stopped). No failure of a gateway fails the pass.
pub async fn run(state: &App) -> Result<Poll, StoreError> {
    let mut poll = Poll::default();
    let now = state.now();
    let started_by = now.plus_seconds(-AFTER_SECONDS);
    let created_from = now.plus_seconds(-WINDOW_SECONDS);
    for gateway in state.gateways.external() {
        let id = gateway.id();
        let after = state.reconcile_cursors.get(id);
        let due = {
            let mut tx = state.store.begin(TxMode::Read).await?;
            let mut due = tx.payments_to_reconcile(id, created_from, started_by, after, BATCH).await?;
            let room = BATCH - due.len() as i64;
            if room > 0 && after > 0 {
                // Round the end: on from the first, up to where this pass began.
                let from_start = tx.payments_to_reconcile(id, created_from, started_by, 0, room).await?;
                due.extend(from_start.into_iter().filter(|p| p.id <= after));
            }
            due
        };
        let mut unreachable_in_a_row = 0;
        for payment in due {
            state.reconcile_cursors.set(id, payment.id);
            poll.queried += 1;
            match check_payment(state, gateway.as_ref(), &payment).await? {
                Checked::Unsupported => {
                    poll.queried -= 1;
                    break;
                }
                Checked::Unreachable(_) => {
                    poll.unreachable += 1;
                    unreachable_in_a_row += 1;
                    if unreachable_in_a_row >= MAX_UNREACHABLE {
                        tracing::warn!(gateway = id, "gateway unreachable; the rest waits for the next pass");
                        break;
                    }
                    continue;
                }
                Checked::Applied => poll.applied += 1,
                Checked::Agrees => {}
                Checked::Finding(_) | Checked::Refused(_) => poll.refused += 1,
            }
            unreachable_in_a_row = 0;
        }
    }
    Ok(poll)
}

/// A finding made (or found again) by `kabao reconcile --date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayLine {
    pub gateway: String,
    pub trade_no: String,
    pub kind: FindingKind,
    pub expected: Money,
    pub got: Option<Money>,
    pub detail: String,
}

/// What `kabao reconcile --date` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayReport {
    /// Payments compared with their gateway.
    pub checked: u64,
    /// Paid at the gateway, pending here: applied now.
    pub applied: u64,
    /// Payments the gateway could not be asked about (unreachable, or an answer that could not be believed).
    pub unanswered: u64,
    /// The day's findings, recorded now or before, in the order recorded.
    pub findings: Vec<Finding>,
}

impl DayReport {
    /// Findings that need someone to act (all but payments applied late).
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.kind.is_error()).count()
    }
}

/// Payments read per page by [`reconcile_day`]: never the whole day in memory.
const DAY_PAGE: i64 = 200;

/// Compares every gateway payment created on a business day (`YYYY-MM-DD`, UTC+8) with the gateway's record,
/// gateway by gateway, page by page. `None` for a date that is not a real day.
pub async fn reconcile_day(state: &App, date: &str) -> Result<Option<DayReport>, StoreError> {
    let Some((from, to)) = day_bounds(date) else { return Ok(None) };
    let mut report = DayReport::default();
    for gateway in state.gateways.external() {
        let id = gateway.id();
        if id == crate::payments::SANDBOX {
            continue; // simulated: it keeps no record to compare with
        }
        let mut after = (Timestamp(i64::MIN), 0);
        'pages: loop {
            let page = {
                let mut tx = state.store.begin(TxMode::Read).await?;
                tx.gateway_payments_created(id, from, to, after, DAY_PAGE).await?
            };
            let Some(last) = page.last() else { break };
            after = (last.created_at, last.id);
            let full = page.len() as i64 == DAY_PAGE;
            for payment in &page {
                report.checked += 1;
                match check_payment(state, gateway.as_ref(), payment).await? {
                    Checked::Unsupported => {
                        report.checked -= 1;
                        break 'pages;
                    }
                    Checked::Applied => report.applied += 1,
                    Checked::Unreachable(_) | Checked::Refused(_) => report.unanswered += 1,
                    Checked::Agrees | Checked::Finding(_) => {}
                }
            }
            if !full {
                break;
            }
        }
    }
    let mut after = 0;
    loop {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let page = tx.findings_of_date(date, after, DAY_PAGE).await?;
        drop(tx);
        let Some(last) = page.last() else { break };
        after = last.id;
        report.findings.extend(page);
    }
    Ok(Some(report))
}

/// Why a finding could not be listed or resolved.
#[derive(Debug, thiserror::Error)]
pub enum FindingError {
    #[error("administrators only")]
    NotAdmin,
    #[error("finding not found")]
    NotFound,
    #[error("the finding is resolved already")]
    AlreadyResolved,
    #[error("a note is required")]
    NoteRequired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for FindingError {
    fn code(&self) -> &'static str {
        match self {
            FindingError::NotAdmin => "auth.forbidden",
            FindingError::NotFound => "request.not_found",
            FindingError::AlreadyResolved => "reconciliation.already_resolved",
            FindingError::NoteRequired => "reconciliation.note_required",
            FindingError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            FindingError::NoteRequired => Some("note"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            FindingError::NotAdmin => lang.pick("仅限管理员", "Administrators only"),
            FindingError::NotFound => lang.pick("找不到该内容", "Not found"),
            FindingError::AlreadyResolved => lang.pick("该差异已处理", "This finding is resolved already"),
            FindingError::NoteRequired => {
                lang.pick("请填写处理说明（1–500 字）", "Write how it was resolved (1–500 characters)")
            }
            FindingError::Store(_) => crate::error::internal_words(lang),
        }
        .into()
    }
}

/// Findings shown per page.
pub const FINDINGS_PAGE: i64 = 50;

/// Open findings, newest first, below `before` (keyset paging); the admin's page and API.
pub async fn open_findings(state: &App, admin: &User, before: Option<i64>) -> Result<Vec<Finding>, FindingError> {
    if admin.role != Role::Admin {
        return Err(FindingError::NotAdmin);
    }
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.list_open_findings(before, FINDINGS_PAGE).await?)
}

/// Resolves an open finding with a note saying how (refunded by hand, the gateway corrected…). Once.
pub async fn resolve(state: &App, admin: &User, id: i64, note: &str) -> Result<Finding, FindingError> {
    if admin.role != Role::Admin {
        return Err(FindingError::NotAdmin);
    }
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(FindingError::NoteRequired);
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    if tx.finding_by_id(id).await?.is_none() {
        return Err(FindingError::NotFound);
    }
    if !tx.resolve_finding(id, admin.id, note, state.now()).await? {
        return Err(FindingError::AlreadyResolved);
    }
    let finding = tx.finding_by_id(id).await?.ok_or(FindingError::NotFound)?;
    tx.commit().await?;
    tracing::info!(finding = id, admin = %admin.id, "reconciliation finding resolved");
    Ok(finding)
}

/// A finding's kind in words.
pub fn kind_words(kind: FindingKind, lang: Lang) -> &'static str {
    match kind {
        FindingKind::AmountMismatch => lang.pick("金额不符", "Amount differs"),
        FindingKind::UnknownTrade => lang.pick("网关无此笔已付交易", "Paid here, not at the gateway"),
        FindingKind::AppliedLate => lang.pick("通知丢失，已补单", "Notification lost, applied late"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_days_are_china_time() {
        // 2026-12-01 00:00 +08:00 is 2026-11-30 16:00 UTC.
        let (start, end) = day_bounds("2026-12-01").unwrap();
        assert_eq!(business_date(start), "2026-12-01");
        assert_eq!(business_date(Timestamp(start.millis() - 1)), "2026-11-30");
        assert_eq!(business_date(Timestamp(end.millis() - 1)), "2026-12-01");
        assert_eq!(business_date(end), "2026-12-02");
        assert_eq!(start.millis(), 1_796_054_400_000);
        assert_eq!(business_date(Timestamp(0)), "1970-01-01");
        for bad in ["2026-13-01", "2026-02-30", "2026-1-01", "20261201", "2026-12-01x", "", "２０２６-12-01"] {
            assert_eq!(day_bounds(bad), None, "{bad}");
        }
        assert!(day_bounds("2024-02-29").is_some());
    }
}
