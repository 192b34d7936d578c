//! Disputes (平台介入) over the API: the buyer escalates and both sides make statements; arbiters read the whole
//! case and rule once; merchants join the compensation fund; anyone reads the fund's report.

use super::orders::access_order;
use super::ApiJson;
use crate::auth::{ApiMerchant, ApiUser, MaybeApiUser, ReqLang};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::idempotency::{Begun, IdemJson, Rendered, Scope};
use crate::SharedState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_app::disputes::{Party, Stated};
use kabao_core::Money;
use kabao_store::{DisputeRecord, Statement};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementInput {
    /// What this side says (1–2000 characters, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub statement: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatementView {
    #[schema(value_type = super::contract::PartyName)]
    pub party: String,
    pub body: String,
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DisputeView {
    pub claim_no: String,
    #[schema(value_type = super::contract::DisputeStateName)]
    pub state: String,
    pub opened_at: i64,
    #[schema(value_type = Option<super::contract::RulingName>)]
    pub ruling: Option<String>,
    pub refund_fen: Option<i64>,
    pub reason: Option<String>,
    pub decided_at: Option<i64>,
    pub statements: Vec<StatementView>,
}

impl DisputeView {
    fn new(claim_no: &str, d: &DisputeRecord, statements: &[Statement]) -> DisputeView {
        DisputeView {
            claim_no: claim_no.to_string(),
            state: if d.decided { "decided" } else { "open" }.into(),
            opened_at: d.opened_at.millis(),
            ruling: d.ruling.clone(),
            refund_fen: d.refund.map(|m| m.fen()),
            reason: d.reason.clone(),
            decided_at: d.decided_at.map(|t| t.millis()),
            statements: statements
                .iter()
                .map(|s| StatementView {
                    party: s.party.as_str().into(),
                    body: s.body.clone(),
                    created_at: s.created_at.millis(),
                })
                .collect(),
        }
    }
}

async fn view_of(state: &SharedState, claim_no: &str, c: &kabao_store::ClaimRecord) -> Result<DisputeView, ApiError> {
    let (d, statements) = kabao_app::disputes::of_claim(state, c).await?;
    let d = d.ok_or_else(|| ApiError::not_found("dispute.not_found"))?;
    Ok(DisputeView::new(claim_no, &d, &statements))
}

/// Take a rejected claim (or one whose remedy failed) to the platform, within the window after the decision.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/claims/{claim_no}/escalate", tag = "disputes", security((), ("bearer" = [])),
    params(("order_no" = String, Path), ("claim_no" = String, Path), super::orders::OrderSecret), request_body = StatementInput,
    responses((status = 201, body = DisputeView), (status = 400, description = "no statement"),
        (status = 404, description = "no such claim of yours"), (status = 409, description = "not escalatable, window closed, or escalated already")))]
pub async fn escalate(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath((order_no, claim_no)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<StatementInput>,
) -> Result<impl IntoResponse, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    kabao_app::disputes::escalate(&state, &order, &claim_no, &body.statement).await?;
    let (c, _) = kabao_app::claims::for_buyer(&state, &order, &claim_no).await?;
    Ok((StatusCode::CREATED, ApiJson(view_of(&state, &c.claim_no, &c).await?)))
}

/// The buyer adds a statement to an open dispute. With an `Idempotency-Key`, a retry of the same body adds nothing
/// and answers the first 200 byte for byte.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/claims/{claim_no}/statements", tag = "disputes", security((), ("bearer" = [])),
    params(("order_no" = String, Path), ("claim_no" = String, Path), super::orders::OrderSecret,
        ("Idempotency-Key" = Option<String>, Header, description = "At most 128 visible ASCII characters, per caller (token user, or guest order). The same key with the same body answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another body 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    request_body = StatementInput,
    responses((status = 200, body = DisputeView), (status = 400, description = "no statement, or an invalid Idempotency-Key"),
        (status = 404, description = "no such dispute of yours"),
        (status = 409, description = "already decided; `idempotency_key_reused` (same key, other body) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn buyer_statement(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath((order_no, claim_no)): ApiPath<(String, String)>,
    IdemJson { idem, body }: IdemJson<StatementInput>,
) -> Result<Response, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let render =
        |s: &Stated| Rendered::json(StatusCode::OK, &DisputeView::new(&s.claim.claim_no, &s.dispute, &s.statements));
    let run = match idem.begin(&state, Scope::buyer(user.as_ref(), &order), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let result = kabao_app::disputes::add_statement(&state, Party::Buyer(&order), &claim_no, &body.statement, &run)
        .await
        .map_err(ApiError::from);
    run.finish(&state, result).await
}

/// The merchant adds a statement to an open dispute about its shop. With an `Idempotency-Key`, a retry of the same
/// body adds nothing and answers the first 200 byte for byte.
#[utoipa::path(post, path = "/api/v1/merchant/claims/{claim_no}/statements", tag = "disputes", security(("bearer" = [])),
    params(("claim_no" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "At most 128 visible ASCII characters, per user. The same key with the same body answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another body 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    request_body = StatementInput,
    responses((status = 403, description = "not a merchant"), (status = 200, body = DisputeView), (status = 400, description = "no statement, or an invalid Idempotency-Key"),
        (status = 404, description = "no such dispute of your shop"),
        (status = 409, description = "already decided; `idempotency_key_reused` (same key, other body) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn merchant_statement(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(claim_no): ApiPath<String>,
    IdemJson { idem, body }: IdemJson<StatementInput>,
) -> Result<Response, ApiError> {
    let render =
        |s: &Stated| Rendered::json(StatusCode::OK, &DisputeView::new(&s.claim.claim_no, &s.dispute, &s.statements));
    let run = match idem.begin(&state, Scope::User(user.id), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let result = kabao_app::disputes::add_statement(&state, Party::Merchant(&user), &claim_no, &body.statement, &run)
        .await
        .map_err(ApiError::from);
    run.finish(&state, result).await
}

#[derive(Serialize, ToSchema)]
pub struct CaseView {
    pub claim: super::claims::ClaimView,
    pub dispute: Option<DisputeView>,
    /// The policy snapshot the order was sold under, and its SHA-256.
    pub warranty_snapshot: String,
    pub warranty_sha256: String,
    #[schema(value_type = super::contract::OrderStateName)]
    pub order_state: String,
    pub amount_fen: i64,
    pub unit_price_fen: i64,
    /// The order's event chain: [time (Unix ms), kind, hash (hex)].
    #[schema(value_type = Vec<Vec<String>>)]
    pub timeline: Vec<(i64, String, String)>,
    /// When keys were revealed (Unix ms).
    pub reveals: Vec<i64>,
    /// The key verifier's answers on the claim (验货), one line each in the request's language.
    pub verification: Vec<String>,
}

/// Disputes waiting for a ruling, oldest first (arbiters).
#[utoipa::path(get, path = "/api/v1/arbiter/disputes", tag = "disputes", security(("bearer" = [])),
    responses((status = 200, body = Vec<DisputeView>), (status = 403, description = "not an arbiter")))]
pub async fn queue(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
) -> Result<ApiJson<Vec<DisputeView>>, ApiError> {
    let (open, _) = kabao_app::disputes::arbiter_queue(&state, &user).await?;
    let mut out = Vec::with_capacity(open.len());
    for q in open {
        out.push(view_of(&state, &q.claim.claim_no, &q.claim).await?);
    }
    Ok(ApiJson(out))
}

/// The whole case of a dispute: claim, evidence with hashes, policy snapshot, timeline, reveal times, statements.
#[utoipa::path(get, path = "/api/v1/arbiter/disputes/{claim_no}", tag = "disputes", security(("bearer" = [])),
    params(("claim_no" = String, Path)),
    responses((status = 200, body = CaseView), (status = 403, description = "not an arbiter"), (status = 404, description = "no such claim")))]
pub async fn case(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    ApiPath(claim_no): ApiPath<String>,
) -> Result<ApiJson<CaseView>, ApiError> {
    let k = kabao_app::disputes::case_for_arbiter(&state, &user, &claim_no).await?;
    let signals = kabao_app::trust::signals_of(&state, &k.claim).await?;
    Ok(ApiJson(CaseView {
        claim: super::claims::ClaimView::new(&k.claim, &k.order.order_no, &k.evidence).with_signals(&signals),
        dispute: k.dispute.as_ref().map(|d| DisputeView::new(&k.claim.claim_no, d, &k.statements)),
        warranty_snapshot: k.order.warranty_snapshot.clone(),
        warranty_sha256: hex::encode(&k.order.warranty_sha256),
        order_state: k.order.state.as_str().into(),
        amount_fen: k.order.amount.fen(),
        unit_price_fen: k.order.unit_price.fen(),
        timeline: k.events.iter().map(|e| (e.at_ms, e.kind.clone(), hex::encode(e.hash))).collect(),
        reveals: k.reveals.iter().map(|r| r.at.millis()).collect(),
        verification: kabao_app::verification::shown(&k.events, &k.claim.claim_no, lang),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulingInput {
    #[schema(value_type = super::contract::RulingName)]
    pub ruling: String,
    /// For a refund (required then): the amount in 分, at least 1, up to the item's price.
    #[schema(minimum = 1)]
    #[serde(default, with = "super::views::whole::option")]
    pub refund_fen: Option<i64>,
    /// The written reason (required; 1–2000 characters).
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason: String,
}

/// Rule on a dispute, once. A refund is paid from escrow, then the shop's balance, its deposit, then the fund.
#[utoipa::path(post, path = "/api/v1/arbiter/disputes/{claim_no}/ruling", tag = "disputes", security(("bearer" = [])),
    params(("claim_no" = String, Path)), request_body = RulingInput,
    responses((status = 200, body = DisputeView), (status = 400, description = "bad ruling, amount or missing reason"),
        (status = 403, description = "not an arbiter"), (status = 404, description = "no such dispute"),
        (status = 409, description = "already ruled, no stock, or fund short")))]
pub async fn rule(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(claim_no): ApiPath<String>,
    ApiJson(body): ApiJson<RulingInput>,
) -> Result<ApiJson<DisputeView>, ApiError> {
    let ruling = kabao_app::disputes::parse_ruling(&body.ruling, body.refund_fen)?;
    kabao_app::disputes::decide(&state, &user, &claim_no, ruling, &body.reason).await?;
    let k = kabao_app::disputes::case_for_arbiter(&state, &user, &claim_no).await?;
    let d = k.dispute.ok_or_else(|| ApiError::internal("dispute vanished"))?;
    Ok(ApiJson(DisputeView::new(&k.claim.claim_no, &d, &k.statements)))
}

/// An arbiter adds a statement (a question to the parties, a note for the record). With an `Idempotency-Key`, a
/// retry of the same body adds nothing and answers the first 204.
#[utoipa::path(post, path = "/api/v1/arbiter/disputes/{claim_no}/statements", tag = "disputes", security(("bearer" = [])),
    params(("claim_no" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "At most 128 visible ASCII characters, per user. The same key with the same body answers the first response (header `Idempotent-Replayed: true`) for 48 hours; with another body 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    request_body = StatementInput,
    responses((status = 204, description = "added"), (status = 400, description = "no statement, or an invalid Idempotency-Key"),
        (status = 403, description = "not an arbiter"), (status = 404, description = "no such dispute"),
        (status = 409, description = "already decided; `idempotency_key_reused` (same key, other body) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn arbiter_statement(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiPath(claim_no): ApiPath<String>,
    IdemJson { idem, body }: IdemJson<StatementInput>,
) -> Result<Response, ApiError> {
    if user.role != kabao_core::user::Role::Arbiter {
        return Err(ApiError::forbidden());
    }
    let render = |_: &Stated| Ok(Rendered::empty(StatusCode::NO_CONTENT));
    let run = match idem.begin(&state, Scope::User(user.id), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let result = kabao_app::disputes::add_statement(&state, Party::Arbiter(&user), &claim_no, &body.statement, &run)
        .await
        .map_err(ApiError::from);
    run.finish(&state, result).await
}

#[derive(Serialize, ToSchema)]
pub struct FundView {
    /// What the fund can pay out now, in 分.
    pub cash_fen: i64,
    /// Advanced for shops and not yet recovered, in 分.
    pub outstanding_fen: i64,
    pub members: i64,
    /// Payouts, newest first: [Unix ms, 分].
    #[schema(value_type = Vec<Vec<i64>>)]
    pub payouts: Vec<(i64, i64)>,
}

/// The compensation fund's public report.
#[utoipa::path(get, path = "/api/v1/fund", tag = "disputes", responses((status = 200, body = FundView)))]
pub async fn fund(State(state): State<SharedState>) -> Result<ApiJson<FundView>, ApiError> {
    let r = kabao_app::disputes::fund_report(&state).await?;
    Ok(ApiJson(FundView {
        cash_fen: r.cash.fen(),
        outstanding_fen: r.outstanding.fen(),
        members: r.members,
        payouts: r.payouts.iter().map(|(t, m)| (t.millis(), m.fen())).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    pub member_since: i64,
}

/// The merchant's shop joins the fund: the deposit is topped up to the minimum and the contribution paid, both
/// from the available balance.
#[utoipa::path(post, path = "/api/v1/merchant/fund/join", tag = "disputes", security(("bearer" = [])),
    responses((status = 201, body = MembershipView), (status = 402, description = "balance too low"),
        (status = 404, description = "no shop yet"), (status = 409, description = "already a member")))]
pub async fn join(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
) -> Result<impl IntoResponse, ApiError> {
    let since = kabao_app::disputes::join_fund(&state, &user).await?;
    Ok((StatusCode::CREATED, ApiJson(MembershipView { member_since: since.millis() })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContributionInput {
    #[schema(minimum = 1)]
    #[serde(with = "super::views::whole")]
    pub amount_fen: i64,
}

/// The platform moves part of its revenue into the fund (admins).
#[utoipa::path(post, path = "/api/v1/admin/fund/contributions", tag = "disputes", security(("bearer" = [])),
    request_body = ContributionInput,
    responses((status = 204, description = "moved"), (status = 400, description = "amount not positive"), (status = 402, description = "not enough revenue"),
        (status = 403, description = "not an admin")))]
pub async fn contribute(
    State(state): State<SharedState>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<ContributionInput>,
) -> Result<StatusCode, ApiError> {
    kabao_app::disputes::contribute_to_fund(&state, &user, Money::from_fen(body.amount_fen)).await?;
    Ok(StatusCode::NO_CONTENT)
}
