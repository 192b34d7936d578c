//! Dispute pages (平台介入): the buyer escalates and both sides make statements from the claim page; arbiters
//! work a queue and a case page holding the whole order; the compensation fund's public page; joining the fund.

use super::claims::{back_to_claim, party_label, ruling_text, Back};
use super::orders::visible_order;
use super::{datetime, render, see_other, shown_on_form, with_status, Ctx, PageForm};
use crate::auth::{ArbiterVisitor, MerchantVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::idempotency::Run;
use crate::SharedState;
use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kabao_app::disputes::Party;
use kabao_store::User;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct StatementForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    statement: String,
}

/// The buyer takes the claim to the platform.
pub async fn escalate(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath((no, claim_no)): ApiPath<(String, String)>,
    PageForm(f): PageForm<StatementForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let result = kabao_app::disputes::escalate(&state, &order, &claim_no, &f.statement).await.map_err(ApiError::from);
    back_to_claim(&state, &v, Back::Buyer(&order), &claim_no, result).await
}

/// The buyer adds a statement.
pub async fn buyer_statement(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath((no, claim_no)): ApiPath<(String, String)>,
    PageForm(f): PageForm<StatementForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let result =
        kabao_app::disputes::add_statement(&state, Party::Buyer(&order), &claim_no, &f.statement, &Run::none())
            .await
            .map_err(ApiError::from);
    back_to_claim(&state, &v, Back::Buyer(&order), &claim_no, result).await
}

/// The merchant adds a statement.
pub async fn merchant_statement(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(claim_no): ApiPath<String>,
    PageForm(f): PageForm<StatementForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let result =
        kabao_app::disputes::add_statement(&state, Party::Merchant(&user), &claim_no, &f.statement, &Run::none())
            .await
            .map_err(ApiError::from);
    back_to_claim(&state, &v, Back::Merchant(&user), &claim_no, result).await
}

struct QueueRow {
    claim_no: String,
    order_no: String,
    defect: &'static str,
    opened: String,
    ruling: Option<String>,
}

#[derive(Template)]
#[template(path = "arbiter.html")]
struct ArbiterQueuePage {
    ctx: Ctx,
    open: Vec<QueueRow>,
    decided: Vec<QueueRow>,
}

/// The arbiter's queue: open disputes oldest first, then recent rulings.
pub async fn queue(
    State(state): State<SharedState>,
    ArbiterVisitor { v, user }: ArbiterVisitor,
) -> Result<Response, ApiError> {
    let lang = v.lang;
    let (open, decided) = kabao_app::disputes::arbiter_queue(&state, &user).await?;
    let rows = |list: Vec<kabao_app::disputes::Queued>| {
        list.into_iter()
            .map(|q| QueueRow {
                claim_no: q.claim.claim_no.clone(),
                order_no: q.order_no,
                defect: q.claim.defect.label(lang),
                opened: datetime(q.dispute.opened_at),
                ruling: q.dispute.ruling.as_deref().map(|r| ruling_text(r, q.dispute.refund, None, lang)),
            })
            .collect::<Vec<_>>()
    };
    let (open, decided) = (rows(open), rows(decided));
    Ok(([(CACHE_CONTROL, "no-store")], render(ArbiterQueuePage { ctx: Ctx::new(&v), open, decided })).into_response())
}

struct EvidenceRow {
    sha256: String,
    file_name: String,
    kind: &'static str,
    by: &'static str,
    at: String,
    binding_sha256: String,
}

#[derive(Template)]
#[template(path = "arbiter_case.html")]
struct CasePage {
    ctx: Ctx,
    error: Option<String>,
    claim_no: String,
    order_no: String,
    order_state: &'static str,
    amount: String,
    unit_price: String,
    item: i32,
    defect: &'static str,
    description: String,
    eligible: bool,
    reasons: Vec<String>,
    claim_state: &'static str,
    decision_reason: Option<String>,
    warranty_lines: Vec<String>,
    warranty_sha256: String,
    timeline: Vec<(String, String, String)>,
    reveals: Vec<String>,
    evidence: Vec<EvidenceRow>,
    statements: Vec<(&'static str, String, String)>,
    open: bool,
    ruling: Option<String>,
    /// Buyer-abuse signals (information only).
    signals: Vec<String>,
    /// The key verifier's answers on this claim (验货).
    verification: Vec<String>,
}

async fn case_page(
    state: &SharedState,
    v: &Visitor,
    user: &User,
    claim_no: &str,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let lang = v.lang;
    let k = kabao_app::disputes::case_for_arbiter(state, user, claim_no).await?;
    let signals = kabao_app::trust::signals_of(state, &k.claim).await?.iter().map(|s| s.text(lang)).collect();
    let verification = kabao_app::verification::shown(&k.events, &k.claim.claim_no, lang);
    let page = CasePage {
        verification,
        signals,
        ctx: Ctx::new(v),
        error,
        claim_no: k.claim.claim_no.clone(),
        order_no: k.order.order_no.clone(),
        order_state: k.order.state.label(lang),
        amount: k.order.amount.to_string(),
        unit_price: k.order.unit_price.to_string(),
        item: k.claim.item,
        defect: k.claim.defect.label(lang),
        description: k.claim.description.clone(),
        eligible: k.claim.eligible,
        reasons: kabao_app::claims::reasons(&k.claim, lang),
        claim_state: k.claim.state.label(lang),
        decision_reason: k.claim.decision_reason.clone(),
        warranty_lines: kabao_app::warranty::describe_snapshot(&k.order.warranty_snapshot, lang),
        warranty_sha256: hex::encode(&k.order.warranty_sha256),
        timeline: k
            .events
            .iter()
            .map(|e| {
                let label = super::orders::event_label(e, lang).to_string();
                (datetime(kabao_core::Timestamp(e.at_ms)), label, hex::encode(e.hash))
            })
            .collect(),
        reveals: k.reveals.iter().map(|r| datetime(r.at)).collect(),
        evidence: k
            .evidence
            .iter()
            .map(|e| EvidenceRow {
                sha256: hex::encode(&e.sha256),
                file_name: e.file_name.clone(),
                kind: e.kind.label(lang),
                by: party_label(e.added_by, lang),
                at: datetime(e.created_at),
                binding_sha256: hex::encode(&e.binding_sha256),
            })
            .collect(),
        statements: k
            .statements
            .iter()
            .map(|s| (party_label(s.party, lang), s.body.clone(), datetime(s.created_at)))
            .collect(),
        open: k.dispute.as_ref().is_some_and(|d| !d.decided),
        ruling: k
            .dispute
            .as_ref()
            .and_then(|d| d.ruling.as_deref().map(|r| ruling_text(r, d.refund, d.reason.as_deref(), lang))),
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// The whole case: order, rules as sold and their hash, timeline with hashes, reveal times, evidence, statements.
pub async fn case(
    State(state): State<SharedState>,
    ArbiterVisitor { v, user }: ArbiterVisitor,
    ApiPath(claim_no): ApiPath<String>,
) -> Result<Response, ApiError> {
    case_page(&state, &v, &user, &claim_no, None).await
}

/// An evidence file, for the arbiter.
pub async fn case_file(
    State(state): State<SharedState>,
    ArbiterVisitor { user, .. }: ArbiterVisitor,
    ApiPath((claim_no, sha)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let k = kabao_app::disputes::case_for_arbiter(&state, &user, &claim_no).await?;
    let (mime, bytes) = kabao_app::claims::evidence_file(&state, &k.claim, &sha).await?;
    Ok(crate::files::evidence_response(mime, bytes))
}

#[derive(Deserialize)]
pub struct RulingForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    ruling: String,
    /// Yuan, as typed (e.g. "9.90"); only for a refund.
    refund: Option<String>,
    #[serde(default)]
    reason: String,
}

/// The arbiter rules.
pub async fn rule(
    State(state): State<SharedState>,
    ArbiterVisitor { v, user }: ArbiterVisitor,
    ApiPath(claim_no): ApiPath<String>,
    PageForm(f): PageForm<RulingForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let refund = f.refund.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|text| {
        kabao_core::Money::parse_yuan(text).map_err(|_| {
            ApiError::bad_request(
                "dispute.amount_invalid",
                "refund",
                "退款金额格式不正确（例如 9.90）",
                "The refund amount is not a valid amount (e.g. 9.90)",
            )
        })
    });
    let result = match refund.transpose() {
        Ok(refund) => match kabao_app::disputes::parse_ruling(&f.ruling, refund.map(|m| m.fen()))
            .map(|r| match r {
                // A refund with the amount left blank is the item's whole price.
                kabao_core::dispute::Ruling::Refund { amount }
                    if refund.is_none() && amount == kabao_core::Money::ZERO =>
                {
                    None
                }
                r => Some(r),
            })
            .map_err(ApiError::from)
        {
            Ok(None) => {
                match kabao_app::disputes::case_for_arbiter(&state, &user, &claim_no).await.map_err(ApiError::from) {
                    Ok(k) => {
                        let whole = kabao_core::dispute::Ruling::Refund { amount: k.order.unit_price };
                        kabao_app::disputes::decide(&state, &user, &claim_no, whole, &f.reason)
                            .await
                            .map(|_| ())
                            .map_err(ApiError::from)
                    }
                    Err(e) => Err(e),
                }
            }
            Ok(Some(ruling)) => kabao_app::disputes::decide(&state, &user, &claim_no, ruling, &f.reason)
                .await
                .map(|_| ())
                .map_err(ApiError::from),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/arbiter/disputes/{claim_no}"))),
        Err(e) if shown_on_form(&e) => {
            let page = case_page(&state, &v, &user, &claim_no, Some(e.message(v.lang).into())).await?;
            Ok(with_status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

/// The arbiter adds a statement.
pub async fn arbiter_statement(
    State(state): State<SharedState>,
    ArbiterVisitor { v, user }: ArbiterVisitor,
    ApiPath(claim_no): ApiPath<String>,
    PageForm(f): PageForm<StatementForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    match kabao_app::disputes::add_statement(&state, Party::Arbiter(&user), &claim_no, &f.statement, &Run::none())
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(see_other(&format!("/arbiter/disputes/{claim_no}"))),
        Err(e) if shown_on_form(&e) => {
            let page = case_page(&state, &v, &user, &claim_no, Some(e.message(v.lang).into())).await?;
            Ok(with_status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "fund.html")]
struct FundPage {
    ctx: Ctx,
    cash: String,
    outstanding: String,
    members: i64,
    payouts: Vec<(String, String)>,
}

/// The compensation fund's public page: what it holds, what it advanced, its payouts.
pub async fn fund(State(state): State<SharedState>, v: Visitor) -> Result<Response, ApiError> {
    let r = kabao_app::disputes::fund_report(&state).await?;
    let page = FundPage {
        ctx: Ctx::new(&v),
        cash: r.cash.to_string(),
        outstanding: r.outstanding.to_string(),
        members: r.members,
        payouts: r.payouts.iter().map(|(t, m)| (datetime(*t), m.to_string())).collect(),
    };
    Ok(render(page))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

/// The merchant's shop joins the fund.
pub async fn join_fund(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    PageForm(f): PageForm<CsrfOnly>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    kabao_app::disputes::join_fund(&state, &user).await?;
    Ok(see_other("/console/finance"))
}
