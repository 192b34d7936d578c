//! Disputes (平台介入) and the compensation fund (纠纷赔付基金). A buyer takes a rejected claim, or one whose
//! remedy failed, to the platform within the window; both sides make statements; an arbiter sees the whole
//! order and rules once — a forced re-issue, a full or partial refund, or a rejection, always with a reason.
//! Refunds come from escrow if it still holds money, then the shop's balance, its deposit, and last the fund,
//! which records the advance as the shop's debt. Shops join the fund with a deposit and a contribution.

use crate::claims::{core_claim, parse_claim_no};
use crate::orders::append_event;
use crate::App;
use kabao_core::claim::{self, ClaimState};
use kabao_core::dispute::{self, Ruling, Sources};
use kabao_core::events::{OrderEvent, Reissue};
use kabao_core::ledger::{Account, LedgerError, LedgerTx, TxKind};
use kabao_core::user::Role;
use kabao_core::{Lang, Localized, Money, Timestamp};
use kabao_store::{
    ClaimRecord, DisputeRecord, EvidenceParty, EvidenceRecord, Order, Statement, StoreError, Tx, TxMode, User,
};

pub const MAX_STATEMENT_CHARS: usize = 2000;
/// Reminders go out this long before the escalation window closes.
const REMIND_BEFORE_MS: i64 = 24 * 3_600_000;

/// Why a dispute step (or a step of the compensation fund) was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DisputesError {
    #[error("the statement is empty")]
    StatementEmpty,
    #[error("the statement is over {max} characters")]
    StatementTooLong { max: usize },
    #[error("no such claim")]
    ClaimNotFound,
    #[error("the claim has no dispute")]
    DisputeNotFound,
    #[error("the claim is already with the platform")]
    AlreadyEscalated,
    #[error("the claim changed meanwhile")]
    ClaimChanged,
    /// A statement on a dispute the platform has ruled on.
    #[error("the dispute is closed")]
    Closed,
    /// A second ruling.
    #[error("the platform has already ruled")]
    AlreadyRuled,
    #[error("the product is out of stock for a forced re-issue")]
    NoStock,
    /// The claim cannot be escalated (its state, or the window closed).
    #[error(transparent)]
    Escalation(#[from] claim::ClaimError),
    /// The ruling as asked is not one the platform can make (unknown, no reason, amount out of range).
    #[error("ruling refused: {0:?}")]
    RulingInvalid(dispute::DisputeError),
    /// The refund cannot be paid: escrow, the shop's money and the fund together do not cover it.
    #[error("refund not covered: {0:?}")]
    NotCovered(dispute::DisputeError),
    #[error("not an arbiter")]
    NotArbiter,
    #[error("not an admin")]
    NotAdmin,
    #[error("the shop is already in the fund")]
    AlreadyMember,
    #[error("joining the fund needs {needed} available; the shop has {available}")]
    BalanceTooLow { needed: Money, top_up: Money, fee: Money, available: Money },
    #[error("the amount must be positive")]
    AmountInvalid,
    /// The platform's revenue cannot cover a contribution to the fund.
    #[error(transparent)]
    Revenue(LedgerError),
    #[error("{0} vanished")]
    Vanished(&'static str),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Idempotency(#[from] crate::idempotency::IdempotencyError),
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
}

impl Localized for DisputesError {
    fn code(&self) -> &'static str {
        use DisputesError as E;
        match self {
            E::StatementEmpty => "dispute.statement_empty",
            E::StatementTooLong { .. } => "dispute.statement_too_long",
            E::ClaimNotFound => "claim.not_found",
            E::DisputeNotFound => "dispute.not_found",
            E::AlreadyEscalated => "dispute.exists",
            E::ClaimChanged => "claim.changed",
            E::Closed | E::AlreadyRuled => "dispute.decided",
            E::NoStock => "dispute.no_stock",
            E::Escalation(e) => e.code(),
            E::RulingInvalid(e) => e.code(),
            E::NotCovered(e) => e.code(),
            E::NotArbiter | E::NotAdmin => "auth.forbidden",
            E::AlreadyMember => "fund.already_member",
            E::BalanceTooLow { .. } => "fund.balance_too_low",
            E::AmountInvalid => "fund.amount_invalid",
            E::Revenue(e) => e.code(),
            E::Idempotency(e) => e.code(),
            E::Shop(e) => e.code(),
            E::Vanished(_) | E::Ledger(_) | E::Store(_) => "internal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        use DisputesError as E;
        match self {
            E::StatementEmpty | E::StatementTooLong { .. } => Some("statement"),
            E::Escalation(e) => e.field(),
            E::RulingInvalid(e) | E::NotCovered(e) => e.field(),
            E::AmountInvalid => Some("amount_fen"),
            E::Revenue(e) => e.field(),
            E::Idempotency(e) => e.field(),
            E::Shop(e) => e.field(),
            _ => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        use DisputesError as E;
        let (zh, en) = match self {
            E::StatementEmpty => ("请写下你的说明".into(), "Write your statement".into()),
            E::StatementTooLong { max } => {
                (format!("说明最多 {max} 字"), format!("A statement is limited to {max} characters"))
            }
            E::ClaimNotFound | E::DisputeNotFound => ("找不到该内容".into(), "Not found".into()),
            E::AlreadyEscalated => {
                ("该售后申请已经申请过平台介入".into(), "This claim is already with the platform".into())
            }
            E::ClaimChanged => ("该售后申请刚刚被处理过，请刷新".into(), "The claim just changed; reload".into()),
            E::Closed => ("平台已作出裁决，争议已结束".into(), "The platform has ruled; the dispute is closed".into()),
            E::AlreadyRuled => {
                ("平台已作出裁决，不能重复执行".into(), "The platform has already ruled; a ruling runs once".into())
            }
            E::NoStock => (
                "该商品已无库存，无法强制补发，请改为退款".into(),
                "The product is out of stock; rule a refund instead".into(),
            ),
            E::Escalation(e) => return e.message(lang),
            E::RulingInvalid(e) => return e.message(lang),
            E::NotCovered(e) => return e.message(lang),
            E::NotArbiter | E::NotAdmin => ("没有权限执行此操作".into(), "You are not allowed to do this".into()),
            E::AlreadyMember => ("店铺已加入赔付基金".into(), "The shop is already in the fund".into()),
            E::BalanceTooLow { needed, top_up, fee, available } => (
                format!("加入赔付基金需要可用余额 {needed}（保证金 {top_up} + 基金份额 {fee}），当前 {available}"),
                format!(
                    "Joining needs {needed} available ({top_up} deposit + {fee} contribution); you have {available}"
                ),
            ),
            E::AmountInvalid => ("金额必须大于零".into(), "The amount must be positive".into()),
            E::Revenue(e) => return e.message(lang),
            E::Idempotency(e) => return e.message(lang),
            E::Shop(e) => return e.message(lang),
            E::Vanished(_) | E::Ledger(_) | E::Store(_) => return crate::error::internal_message(lang),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

fn statement_text(body: &str) -> Result<String, DisputesError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(DisputesError::StatementEmpty);
    }
    if body.chars().count() > MAX_STATEMENT_CHARS {
        return Err(DisputesError::StatementTooLong { max: MAX_STATEMENT_CHARS });
    }
    Ok(body.to_string())
}

/// When the window to escalate a decided claim closes.
pub fn escalation_closes(state: &App, c: &ClaimRecord) -> Option<Timestamp> {
    let decided = c.decided_at?;
    matches!(c.state, ClaimState::Rejected | ClaimState::RemedyFailed)
        .then(|| Timestamp(decided.0.saturating_add(i64::from(state.config.dispute_window_days) * 86_400_000)))
}

/// The buyer takes a claim of an order they may see to the platform, with a first statement.
pub async fn escalate(
    state: &App,
    order: &Order,
    claim_no: &str,
    statement: &str,
) -> Result<DisputeRecord, DisputesError> {
    let body = statement_text(statement)?;
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let no = parse_claim_no(claim_no).ok_or(DisputesError::ClaimNotFound)?;
    let c = tx.claim_by_no(no).await?.filter(|c| c.order_id == order.id).ok_or(DisputesError::ClaimNotFound)?;
    if tx.dispute_of_claim(c.id).await?.is_some() {
        return Err(DisputesError::AlreadyEscalated);
    }
    let k = claim::escalate(&core_claim(&c), now, state.config.dispute_window_days)?;
    let escalated = ClaimRecord { state: k.state, ..c.clone() };
    if !tx.update_claim(&escalated, c.state).await? {
        return Err(DisputesError::ClaimChanged);
    }
    let id = match tx.insert_dispute(&c, now).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => return Err(DisputesError::AlreadyEscalated),
        Err(e) => return Err(e.into()),
    };
    tx.insert_statement(id, &Statement { party: EvidenceParty::Buyer, body: body.clone(), created_at: now }).await?;
    append_event(
        &mut *tx,
        c.order_id,
        &OrderEvent::DisputeOpened { claim_no: &c.claim_no, item: c.item, statement_chars: body.chars().count() },
        now,
    )
    .await?;
    crate::webhooks::dispute_event(&mut *tx, &c, None, now).await?;
    let d = tx.dispute_of_claim(c.id).await?.ok_or(DisputesError::Vanished("dispute"))?;
    tx.commit().await?;
    tracing::info!(claim = %c.claim_no, "claim escalated to the platform");
    Ok(d)
}

/// Who adds a statement.
pub enum Party<'a> {
    /// The buyer of an order they may see.
    Buyer(&'a Order),
    /// The merchant of the shop the claim is against.
    Merchant(&'a User),
    Arbiter(&'a User),
}

/// A dispute as it stands after a statement, read in the statement's transaction.
pub struct Stated {
    pub claim: ClaimRecord,
    pub dispute: DisputeRecord,
    pub statements: Vec<Statement>,
}

/// Adds a statement to an open dispute (a keyed API request stores its answer with it: [`crate::idempotency`]).
pub async fn add_statement(
    state: &App,
    party: Party<'_>,
    claim_no: &str,
    body: &str,
    run: &dyn crate::idempotency::Completion<Stated>,
) -> Result<Stated, DisputesError> {
    let body = statement_text(body)?;
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let no = parse_claim_no(claim_no).ok_or(DisputesError::ClaimNotFound)?;
    let c = tx.claim_by_no(no).await?.ok_or(DisputesError::ClaimNotFound)?;
    let who = match party {
        Party::Buyer(o) if o.id == c.order_id => EvidenceParty::Buyer,
        Party::Merchant(u) if tx.shop_by_id(c.shop_id).await?.is_some_and(|s| s.owner_id == u.id) => {
            EvidenceParty::Merchant
        }
        Party::Arbiter(u) if u.role == Role::Arbiter => EvidenceParty::Arbiter,
        _ => return Err(DisputesError::ClaimNotFound),
    };
    let d = tx.dispute_of_claim(c.id).await?.ok_or(DisputesError::DisputeNotFound)?;
    if d.decided {
        return Err(DisputesError::Closed);
    }
    tx.insert_statement(d.id, &Statement { party: who, body, created_at: now }).await?;
    append_event(&mut *tx, c.order_id, &OrderEvent::DisputeStatement { claim_no: &c.claim_no, party: who }, now)
        .await?;
    let statements = tx.dispute_statements(d.id).await?;
    let stated = Stated { claim: c, dispute: d, statements };
    run.complete(&mut *tx, &stated, now).await?;
    tx.commit().await?;
    Ok(stated)
}

/// Everything an arbiter (or a party) reads about a dispute.
pub struct Case {
    pub claim: ClaimRecord,
    pub dispute: Option<DisputeRecord>,
    pub statements: Vec<Statement>,
    pub evidence: Vec<EvidenceRecord>,
    pub order: Order,
    pub events: Vec<kabao_core::audit::ChainedEvent>,
    pub reveals: Vec<kabao_store::Reveal>,
}

async fn case_in(tx: &mut dyn Tx, c: ClaimRecord) -> Result<Case, DisputesError> {
    let order = tx.order_by_id(c.order_id).await?.ok_or(DisputesError::Vanished("claimed order"))?;
    let dispute = tx.dispute_of_claim(c.id).await?;
    let statements = match &dispute {
        Some(d) => tx.dispute_statements(d.id).await?,
        None => Vec::new(),
    };
    Ok(Case {
        evidence: tx.claim_evidence(c.id).await?,
        events: tx.order_events(order.id).await?,
        reveals: tx.list_reveals(order.id).await?,
        claim: c,
        dispute,
        statements,
        order,
    })
}

fn require_arbiter(user: &User) -> Result<(), DisputesError> {
    if user.role == Role::Arbiter {
        Ok(())
    } else {
        Err(DisputesError::NotArbiter)
    }
}

/// The whole case, for an arbiter.
pub async fn case_for_arbiter(state: &App, arbiter: &User, claim_no: &str) -> Result<Case, DisputesError> {
    require_arbiter(arbiter)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let no = parse_claim_no(claim_no).ok_or(DisputesError::ClaimNotFound)?;
    let c = tx.claim_by_no(no).await?.ok_or(DisputesError::ClaimNotFound)?;
    case_in(&mut *tx, c).await
}

/// The dispute and its statements of a claim, for a party that may already see the claim.
pub async fn of_claim(state: &App, c: &ClaimRecord) -> Result<(Option<DisputeRecord>, Vec<Statement>), DisputesError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let d = tx.dispute_of_claim(c.id).await?;
    let statements = match &d {
        Some(d) => tx.dispute_statements(d.id).await?,
        None => Vec::new(),
    };
    Ok((d, statements))
}

/// A dispute in the arbiter's queue, with its claim and order number.
pub struct Queued {
    pub dispute: DisputeRecord,
    pub claim: ClaimRecord,
    pub order_no: String,
}

/// Disputes waiting for a ruling (oldest first) and recently decided ones, read in one transaction.
pub async fn arbiter_queue(state: &App, arbiter: &User) -> Result<(Vec<Queued>, Vec<Queued>), DisputesError> {
    require_arbiter(arbiter)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let mut out = (Vec::new(), Vec::new());
    for (list, into) in [(tx.open_disputes(200).await?, &mut out.0), (tx.decided_disputes(50).await?, &mut out.1)] {
        for dispute in list {
            let claims = tx.order_claims(dispute.order_id).await?;
            let Some(claim) = claims.into_iter().find(|c| c.id == dispute.claim_id) else { continue };
            let order_no = tx.order_by_id(dispute.order_id).await?.map(|o| o.order_no).unwrap_or_default();
            into.push(Queued { dispute, claim, order_no });
        }
    }
    Ok(out)
}

/// Parses a ruling from the API's or a form's fields (`refund_fen`: the amount of a refund).
pub fn parse_ruling(ruling: &str, refund_fen: Option<i64>) -> Result<Ruling, DisputesError> {
    match ruling.trim() {
        "force_reissue" => Ok(Ruling::ForceReissue),
        "refund" => Ok(Ruling::Refund { amount: Money::from_fen(refund_fen.unwrap_or(0)) }),
        "reject" => Ok(Ruling::Reject),
        _ => Err(DisputesError::RulingInvalid(dispute::DisputeError::UnknownRuling)),
    }
}

/// The fund's cash: its account less what it advanced for shops and has not recovered.
async fn fund_cash(tx: &mut dyn Tx) -> Result<Money, DisputesError> {
    let fund = tx.balance(Account::CompensationFund).await?;
    let receivables = tx.fund_receivables().await?;
    Ok(dispute::fund_cash(fund, receivables.into_iter().map(|(_, owed)| owed)))
}

/// The arbiter rules, once. The ruling runs in the same transaction that records it: a second attempt finds the
/// dispute decided and changes nothing.
pub async fn decide(
    state: &App,
    arbiter: &User,
    claim_no: &str,
    ruling: Ruling,
    reason: &str,
) -> Result<DisputeRecord, DisputesError> {
    require_arbiter(arbiter)?;
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let no = parse_claim_no(claim_no).ok_or(DisputesError::ClaimNotFound)?;
    let c = tx.claim_by_no(no).await?.ok_or(DisputesError::ClaimNotFound)?;
    let d = tx.dispute_of_claim(c.id).await?.ok_or(DisputesError::DisputeNotFound)?;
    let order = tx.order_by_id(c.order_id).await?.ok_or(DisputesError::Vanished("claimed order"))?;
    dispute::check_ruling(ruling, reason, order.unit_price).map_err(DisputesError::RulingInvalid)?;
    let refund = match ruling {
        Ruling::Refund { amount } => Some(amount),
        _ => None,
    };
    if d.decided || !tx.decide_dispute(d.id, ruling.as_str(), refund, reason.trim(), arbiter.id, now).await? {
        return Err(DisputesError::AlreadyRuled);
    }
    let final_state = match ruling {
        Ruling::Reject => ClaimState::Rejected,
        Ruling::ForceReissue => {
            let fresh = tx.reissue_key(order.id, c.item, order.product_id, now).await?.ok_or(DisputesError::NoStock)?;
            append_event(
                &mut *tx,
                order.id,
                &OrderEvent::ClaimReissued {
                    claim_no: &c.claim_no,
                    item: c.item,
                    card_key: fresh,
                    how: Reissue::Ruling { by: arbiter.id },
                },
                now,
            )
            .await?;
            ClaimState::Reissued
        }
        Ruling::Refund { amount } => {
            let sources = Sources {
                escrow: tx.balance(Account::Escrow(order.id)).await?,
                available: tx.balance(Account::MerchantAvailable(order.shop_id)).await?,
                deposit: tx.balance(Account::MerchantDeposit(order.shop_id)).await?,
                fund: fund_cash(&mut *tx).await?,
            };
            let plan = dispute::plan(amount, sources).map_err(DisputesError::NotCovered)?;
            let route = crate::refunds::route(state, &mut *tx, &order).await?;
            let payout = kabao_core::refund::from_plan(&plan, order.id, order.shop_id, route.to)?;
            crate::refunds::post(&mut *tx, &route, &payout, order.id, amount, now).await?;
            append_event(
                &mut *tx,
                order.id,
                &OrderEvent::DisputeRefunded { claim_no: &c.claim_no, amount, plan, to: payout.to },
                now,
            )
            .await?;
            ClaimState::Refunded
        }
    };
    let closed = ClaimRecord {
        state: final_state,
        decision_reason: Some(reason.trim().to_string()),
        decided_by: Some(arbiter.id),
        decided_at: Some(now),
        auto_remedied: false,
        ..c.clone()
    };
    if !tx.update_claim(&closed, ClaimState::Escalated).await? {
        return Err(DisputesError::ClaimChanged);
    }
    append_event(
        &mut *tx,
        order.id,
        &OrderEvent::DisputeDecided { claim_no: &c.claim_no, ruling, reason: reason.trim(), by: arbiter.id },
        now,
    )
    .await?;
    crate::webhooks::dispute_event(&mut *tx, &c, Some(ruling.as_str()), now).await?;
    let decided = tx.dispute_of_claim(c.id).await?.ok_or(DisputesError::Vanished("dispute"))?;
    tx.commit().await?;
    tracing::info!(claim = %c.claim_no, ruling = ruling.as_str(), "dispute decided");
    Ok(decided)
}

/// Reminds buyers (by mail, when there is an address) that a rejected claim can go to the platform, a day before
/// the window closes. The claim page says the same in the app.
pub async fn remind_escalation(state: &App) -> Result<u64, DisputesError> {
    let now = state.now();
    let window_ms = i64::from(state.config.dispute_window_days) * 86_400_000;
    let cutoff = Timestamp(now.0.saturating_sub(window_ms.saturating_sub(REMIND_BEFORE_MS)));
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.claims_to_remind(cutoff, 200).await?
    };
    let mut sent = 0;
    for c in due {
        let mut tx = state.store.begin(TxMode::Write).await?;
        if tx.dispute_of_claim(c.id).await?.is_some() {
            tx.mark_escalation_reminded(c.id, now).await?;
            tx.commit().await?;
            continue;
        }
        let Some(order) = tx.order_by_id(c.order_id).await? else { continue };
        let to = match order.buyer_id {
            Some(b) => tx.user_by_id(b).await?.and_then(|u| u.email),
            None => order.guest_email.clone(),
        };
        tx.mark_escalation_reminded(c.id, now).await?;
        tx.commit().await?;
        let Some(closes) = escalation_closes(state, &c) else { continue };
        if closes <= now {
            continue;
        }
        if let Some(to) = to {
            let mail = crate::mailer::escalation_reminder_mail(
                &to,
                &order.order_no,
                &c.claim_no,
                &crate::display::datetime(closes),
                &state.link_base(),
            );
            if let Err(e) = state.mailer.send(&mail).await {
                tracing::warn!(claim = %c.claim_no, error = %e, "escalation reminder not sent");
            }
        }
        sent += 1;
    }
    Ok(sent)
}

/// A shop joins the compensation fund: its deposit is topped up to the minimum from its available balance and it
/// pays the one-time contribution into the fund, in one transaction.
pub async fn join_fund(state: &App, merchant: &User) -> Result<Timestamp, DisputesError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    if tx.fund_member_since(shop.id).await?.is_some() {
        return Err(DisputesError::AlreadyMember);
    }
    let deposit = tx.balance(Account::MerchantDeposit(shop.id)).await?;
    let top_up = Money::from_fen((state.config.fund_min_deposit.fen() - deposit.fen()).max(0));
    let needed = Money::from_fen(top_up.fen() + state.config.fund_fee.fen());
    let available = tx.balance(Account::MerchantAvailable(shop.id)).await?;
    if available < needed {
        return Err(DisputesError::BalanceTooLow { needed, top_up, fee: state.config.fund_fee, available });
    }
    if top_up.is_positive() {
        let t = LedgerTx::transfer(
            TxKind::Deposit,
            Account::MerchantAvailable(shop.id),
            Account::MerchantDeposit(shop.id),
            top_up,
        )?;
        tx.post_ledger(&t, None, now).await?;
    }
    if state.config.fund_fee.is_positive() {
        let t = LedgerTx::transfer(
            TxKind::FundContribution,
            Account::MerchantAvailable(shop.id),
            Account::CompensationFund,
            state.config.fund_fee,
        )?;
        tx.post_ledger(&t, None, now).await?;
    }
    tx.insert_fund_member(shop.id, now).await?;
    tx.commit().await?;
    tracing::info!(shop = %shop.id, "shop joined the compensation fund");
    Ok(now)
}

/// The platform moves part of its revenue into the fund (admin).
pub async fn contribute_to_fund(state: &App, admin: &User, amount: Money) -> Result<(), DisputesError> {
    if admin.role != Role::Admin {
        return Err(DisputesError::NotAdmin);
    }
    if !amount.is_positive() {
        return Err(DisputesError::AmountInvalid);
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    let t = LedgerTx::transfer(TxKind::FundContribution, Account::PlatformRevenue, Account::CompensationFund, amount)?;
    match tx.post_ledger(&t, None, state.now()).await {
        Ok(_) => {}
        Err(StoreError::Ledger(e)) => return Err(DisputesError::Revenue(e)),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(())
}

/// What the public fund page shows.
pub struct FundReport {
    pub cash: Money,
    /// Advanced for shops and not yet recovered.
    pub outstanding: Money,
    pub members: i64,
    /// (when, amount) of each advance the fund paid out, newest first.
    pub payouts: Vec<(Timestamp, Money)>,
}

pub async fn fund_report(state: &App) -> Result<FundReport, DisputesError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let fund = tx.balance(Account::CompensationFund).await?;
    let owed: Vec<Money> = tx.fund_receivables().await?.into_iter().map(|(_, owed)| owed).collect();
    let cash = dispute::fund_cash(fund, owed.iter().copied());
    let outstanding = Money::from_fen(-owed.iter().map(|m| m.fen()).sum::<i64>());
    let payouts =
        tx.fund_advances(100).await?.into_iter().map(|e| (e.created_at, Money::from_fen(-e.amount.fen()))).collect();
    Ok(FundReport { cash, outstanding, members: tx.count_fund_members().await?, payouts })
}

/// Whether a shop is in the fund (its products show 赔付保障).
pub async fn is_member(state: &App, shop: kabao_core::ShopId) -> Result<bool, DisputesError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.fund_member_since(shop).await?.is_some())
}
