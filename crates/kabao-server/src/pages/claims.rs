//! Claim pages (售后): the buyer's form (item, problem, evidence), the claim page both sides read (state,
//! deadline, eligibility reasons, evidence with SHA-256), and the merchant's queue and decisions in the console.

use super::orders::visible_order;
use super::{datetime, render, see_other, shown_on_form, with_status, Ctx};
use crate::auth::{MerchantVisitor, Visitor};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::files::{evidence_response, package_response};
use crate::forms::{read_claim_form, ClaimForm};
use crate::idempotency::{Begun, IdempotencyKey, Rendered, Run, Scope};
use crate::SharedState;
use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kabao_app::claims::MerchantDecision;
use kabao_core::claim::ClaimState;
use kabao_core::warranty::{Defect, WarrantyPolicy};
use kabao_core::Lang;
use kabao_store::{ClaimRecord, EvidenceRecord, Order};
use serde::Deserialize;

/// Reads a claim page's multipart form and checks its CSRF token. A body that is not multipart at all is no
/// form of ours: it is refused like a forged one.
async fn page_form(v: &Visitor, multipart: Result<Multipart, MultipartRejection>) -> Result<ClaimForm, ApiError> {
    if multipart.is_err() {
        v.check_csrf(None)?;
    }
    let form = read_claim_form(multipart).await?;
    v.check_csrf(Some(&form.text("_csrf")))?;
    Ok(form)
}

#[derive(Template)]
#[template(path = "claim_new.html")]
struct NewClaimPage {
    ctx: Ctx,
    error: Option<String>,
    order_no: String,
    /// (item number, selected)
    items: Vec<(i32, bool)>,
    /// (value, label, covered by the order's rules, selected)
    defects: Vec<(&'static str, &'static str, bool, bool)>,
    warranty_lines: Vec<String>,
    /// What the rules ask for, in words.
    evidence_required: Vec<&'static str>,
    description: String,
    error_text: String,
    /// A one-time token: submitting twice files one claim.
    submission: String,
    max_image_mb: usize,
    max_video_mb: usize,
}

async fn new_claim_page(
    v: &Visitor,
    order: &Order,
    item: i32,
    defect: &str,
    description: String,
    error_text: String,
    error: Option<String>,
) -> Response {
    let lang = v.lang;
    let policy = WarrantyPolicy::from_snapshot(&order.warranty_snapshot);
    let quantity = i32::try_from(order.quantity).unwrap_or(1);
    let page = NewClaimPage {
        ctx: Ctx::new(v),
        error,
        order_no: order.order_no.clone(),
        items: (1..=quantity).map(|i| (i, i == item)).collect(),
        defects: Defect::ALL
            .iter()
            .map(|d| {
                let covered = policy.as_ref().is_some_and(|p| p.covered.contains(d));
                (d.as_str(), d.label(lang), covered, d.as_str() == defect)
            })
            .collect(),
        warranty_lines: kabao_app::warranty::describe_snapshot(&order.warranty_snapshot, lang),
        evidence_required: policy
            .as_ref()
            .map(|p| p.evidence.iter().map(|k| k.label(lang)).collect())
            .unwrap_or_default(),
        description,
        error_text,
        submission: crate::auth::random_token(),
        max_image_mb: kabao_app::claims::MAX_IMAGE_BYTES / (1024 * 1024),
        max_video_mb: kabao_app::claims::MAX_VIDEO_BYTES / (1024 * 1024),
    };
    ([(CACHE_CONTROL, "no-store")], render(page)).into_response()
}

#[derive(Deserialize)]
pub struct ItemQuery {
    item: Option<String>,
}

/// The claim form for one item of an order the visitor may see.
pub async fn new_form(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> Result<Response, ApiError> {
    let order = visible_order(&state, &v, &headers, &no).await?;
    let item = q.item.and_then(|i| i.trim().parse().ok()).unwrap_or(1);
    Ok(new_claim_page(&v, &order, item, "invalid_key", String::new(), String::new(), None).await)
}

/// Files the claim. An automatic re-issue shows the new key on the claim page at once.
pub async fn file(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let form = page_form(&v, multipart).await?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let (item, defect) = (form.text("item"), form.text("defect"));
    let (description, error_text) = (form.text("description"), form.text("error_text"));
    // The form's one-time token is its idempotency key: a second submission of the same form (a double tap, a
    // reload) lands on the claim the first one filed, by the one rule the API's `Idempotency-Key` follows.
    let key = IdempotencyKey::new(&form.text("submission"), Method::POST, &format!("/o/{no}/claims"))?;
    let claim_url = |f: &kabao_app::claims::Filed| format!("/o/{}/claims/{}", order.order_no, f.claim.claim_no);
    let render =
        |f: &kabao_app::claims::Filed| Ok(Rendered { status: StatusCode::SEE_OTHER, body: claim_url(f).into_bytes() });
    let run = match form.idempotency(key).begin(&state, Scope::buyer(v.user.as_ref(), &order), &render).await {
        Ok(Begun::Run(run)) => run,
        Ok(Begun::Replay(answer)) => return Ok(replayed_redirect(answer).await),
        Err(e) => return Err(e),
    };
    let result = kabao_app::claims::file(&state, &order, v.user.as_ref().map(|u| u.id), form.into_input(), &run)
        .await
        .map_err(ApiError::from);
    match run.finish_with(&state, result).await {
        Ok((filed, _)) => match filed.new_key {
            Some(key) => claim_page(&state, &v, View::Buyer(&order), &filed.claim, Some(key.to_string()), None).await,
            None => Ok(see_other(&claim_url(&filed))),
        },
        Err(e) if shown_on_form(&e) => {
            let item = item.trim().parse().unwrap_or(1);
            let page =
                new_claim_page(&v, &order, item, &defect, description, error_text, Some(e.message(v.lang).into()))
                    .await;
            Ok(with_status(page, e.status))
        }
        Err(e) => Err(e),
    }
}

/// A replayed form answer (its stored body is the claim's address) as the redirect a browser follows.
async fn replayed_redirect(answer: Response) -> Response {
    let body = axum::body::to_bytes(answer.into_body(), 4096).await.unwrap_or_default();
    see_other(&String::from_utf8_lossy(&body))
}

/// Whose eyes the claim page is for.
pub(crate) enum View<'a> {
    Buyer(&'a Order),
    Merchant(&'a Order),
}

struct EvidenceRow {
    sha256: String,
    file_name: String,
    kind: &'static str,
    by: &'static str,
    size_kb: String,
    at: String,
}

fn evidence_rows(evidence: &[EvidenceRecord], lang: Lang) -> Vec<EvidenceRow> {
    evidence
        .iter()
        .map(|e| EvidenceRow {
            sha256: hex::encode(&e.sha256),
            file_name: e.file_name.clone(),
            kind: e.kind.label(lang),
            by: party_label(e.added_by, lang),
            size_kb: format!("{:.1}", e.size_bytes as f64 / 1024.0),
            at: datetime(e.created_at),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "claim.html")]
struct ClaimPage {
    ctx: Ctx,
    error: Option<String>,
    claim_no: String,
    order_no: String,
    back_href: String,
    item: i32,
    defect: &'static str,
    description: String,
    activated: bool,
    eligible: bool,
    reasons: Vec<String>,
    state: &'static str,
    state_label: &'static str,
    deadline: Option<String>,
    hours_left: i64,
    paused: bool,
    request_note: Option<String>,
    decision_reason: Option<String>,
    evidence: Vec<EvidenceRow>,
    file_base: String,
    new_key: Option<String>,
    can_add_evidence: bool,
    evidence_action: String,
    can_decide: bool,
    can_ask: bool,
    warranty_lines: Vec<String>,
    /// The buyer may still take the claim to the platform, until this time.
    escalate_until: Option<String>,
    /// The dispute, once escalated: whether it is still open, what each side said, the ruling.
    disputed: bool,
    dispute_open: bool,
    statements: Vec<(&'static str, String, String)>,
    ruling: Option<String>,
    statement_action: String,
    /// Buyer-abuse signals, for the merchant (information only).
    signals: Vec<String>,
    /// The order's chat.
    chat_href: String,
    /// The order's timeline (time, what happened), for the buyer and the merchant alike.
    timeline: Vec<(String, &'static str)>,
    /// The key verifier's answers on this claim (验货).
    verification: Vec<String>,
}

pub(crate) async fn claim_page(
    state: &SharedState,
    v: &Visitor,
    view: View<'_>,
    c: &ClaimRecord,
    new_key: Option<String>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let lang = v.lang;
    let now = state.now();
    let (order, buyer) = match view {
        View::Buyer(o) => (o, true),
        View::Merchant(o) => (o, false),
    };
    let (evidence, events) = kabao_app::claims::evidence_and_events(state, c).await?;
    let timeline = events
        .iter()
        .map(|e| (datetime(kabao_core::Timestamp(e.at_ms)), super::orders::event_label(e, lang)))
        .collect();
    let pending = matches!(c.state, ClaimState::Open | ClaimState::AwaitingEvidence);
    let (dispute, statements) = kabao_app::disputes::of_claim(state, c).await?;
    let escalate_until = kabao_app::disputes::escalation_closes(state, c)
        .filter(|closes| buyer && dispute.is_none() && *closes > now)
        .map(datetime);
    let signals = if buyer {
        Vec::new()
    } else {
        kabao_app::trust::signals_of(state, c).await?.iter().map(|s| s.text(lang)).collect()
    };
    let chat_href =
        if buyer { format!("/o/{}#chat", order.order_no) } else { format!("/console/orders/{}/chat", order.order_no) };
    let verification = kabao_app::verification::shown(&events, &c.claim_no, lang);
    let page = ClaimPage {
        verification,
        timeline,
        signals,
        chat_href,
        ctx: Ctx::new(v),
        error,
        claim_no: c.claim_no.clone(),
        order_no: order.order_no.clone(),
        back_href: if buyer { format!("/o/{}", order.order_no) } else { "/console/claims".into() },
        item: c.item,
        defect: c.defect.label(lang),
        description: c.description.clone(),
        activated: c.activated,
        eligible: c.eligible,
        reasons: kabao_app::claims::reasons(c, lang),
        state: c.state.as_str(),
        state_label: c.state.label(lang),
        deadline: c.due_at.filter(|_| pending).map(datetime),
        hours_left: c.due_at.map(|d| ((d.millis() - now.millis()) / 3_600_000).max(0)).unwrap_or(0),
        paused: c.state == ClaimState::AwaitingEvidence,
        request_note: c.request_note.clone(),
        decision_reason: c.decision_reason.clone(),
        evidence: evidence_rows(&evidence, lang),
        file_base: if buyer {
            format!("/o/{}/claims/{}/evidence", order.order_no, c.claim_no)
        } else {
            format!("/console/claims/{}/evidence", c.claim_no)
        },
        new_key,
        can_add_evidence: pending || c.state == ClaimState::Escalated,
        evidence_action: if buyer {
            format!("/o/{}/claims/{}/evidence", order.order_no, c.claim_no)
        } else {
            format!("/console/claims/{}/evidence", c.claim_no)
        },
        can_decide: !buyer && pending,
        can_ask: !buyer && !c.evidence_requested && c.state == ClaimState::Open,
        warranty_lines: kabao_app::warranty::describe_snapshot(&order.warranty_snapshot, lang),
        escalate_until,
        disputed: dispute.is_some(),
        dispute_open: dispute.as_ref().is_some_and(|d| !d.decided),
        statements: statements
            .iter()
            .map(|s| (party_label(s.party, lang), s.body.clone(), datetime(s.created_at)))
            .collect(),
        ruling: dispute
            .as_ref()
            .and_then(|d| d.ruling.as_deref().map(|r| ruling_text(r, d.refund, d.reason.as_deref(), lang))),
        statement_action: if buyer {
            format!("/o/{}/claims/{}/statements", order.order_no, c.claim_no)
        } else {
            format!("/console/claims/{}/statements", c.claim_no)
        },
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// Whose claim page a form on it returns to.
pub(crate) enum Back<'a> {
    /// The buyer of an order the visitor may see.
    Buyer(&'a Order),
    /// The merchant of the claim's shop.
    Merchant(&'a kabao_store::User),
}

/// Ends a form posted from a claim page: success goes back to the page; an error the form can show renders the
/// page again with it (and its status); anything else goes to the error page.
pub(crate) async fn back_to_claim<T>(
    state: &SharedState,
    v: &Visitor,
    back: Back<'_>,
    claim_no: &str,
    result: Result<T, ApiError>,
) -> Result<Response, ApiError> {
    let e = match result {
        Ok(_) => {
            return Ok(see_other(&match back {
                Back::Buyer(o) => format!("/o/{}/claims/{claim_no}", o.order_no),
                Back::Merchant(_) => format!("/console/claims/{claim_no}"),
            }))
        }
        Err(e) if shown_on_form(&e) => e,
        Err(e) => return Err(e),
    };
    let error = Some(e.message(v.lang).to_string());
    let page = match back {
        Back::Buyer(order) => {
            let (c, _) = kabao_app::claims::for_buyer(state, order, claim_no).await?;
            claim_page(state, v, View::Buyer(order), &c, None, error).await?
        }
        Back::Merchant(user) => {
            let (c, _, order) = kabao_app::claims::for_merchant(state, user, claim_no).await?;
            claim_page(state, v, View::Merchant(&order), &c, None, error).await?
        }
    };
    Ok(with_status(page, e.status))
}

pub(crate) fn party_label(p: kabao_store::EvidenceParty, lang: Lang) -> &'static str {
    match p {
        kabao_store::EvidenceParty::Buyer => lang.pick("买家", "Buyer"),
        kabao_store::EvidenceParty::Merchant => lang.pick("商家", "Merchant"),
        kabao_store::EvidenceParty::Arbiter => lang.pick("平台仲裁员", "Platform arbiter"),
    }
}

/// A ruling in words: what was decided, and why.
pub(crate) fn ruling_text(ruling: &str, refund: Option<kabao_core::Money>, reason: Option<&str>, lang: Lang) -> String {
    let what = match (ruling, refund) {
        ("force_reissue", _) => lang.pick("平台裁决：强制补发", "Ruling: forced re-issue").to_string(),
        ("refund", Some(m)) => match lang {
            Lang::Zh => format!("平台裁决：退款 {m}"),
            Lang::En => format!("Ruling: refund {m}"),
        },
        _ => lang.pick("平台裁决：驳回", "Ruling: rejected").to_string(),
    };
    match reason {
        Some(r) => format!("{what} — {r}"),
        None => what,
    }
}

/// A claim, for its buyer.
pub async fn show(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath((no, claim_no)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let order = visible_order(&state, &v, &headers, &no).await?;
    let (c, _) = kabao_app::claims::for_buyer(&state, &order, &claim_no).await?;
    claim_page(&state, &v, View::Buyer(&order), &c, None, None).await
}

/// The buyer adds evidence (and so answers a request for more).
pub async fn add_evidence(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath((no, claim_no)): ApiPath<(String, String)>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let form = page_form(&v, multipart).await?;
    let order = visible_order(&state, &v, &headers, &no).await?;
    let error_text = form.text("error_text");
    let result = kabao_app::claims::add_evidence(
        &state,
        kabao_app::claims::EvidenceFrom::Buyer(&order),
        &claim_no,
        &error_text,
        form.files,
        &Run::none(),
    )
    .await
    .map_err(ApiError::from);
    back_to_claim(&state, &v, Back::Buyer(&order), &claim_no, result).await
}

/// An evidence file of the buyer's claim.
pub async fn buyer_file(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath((no, claim_no, sha)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let order = visible_order(&state, &v, &headers, &no).await?;
    let (c, _) = kabao_app::claims::for_buyer(&state, &order, &claim_no).await?;
    let (mime, bytes) = kabao_app::claims::evidence_file(&state, &c, &sha).await?;
    Ok(evidence_response(mime, bytes))
}

/// One row of the merchant's queue.
struct QueueRow {
    claim_no: String,
    order_no: String,
    item: i32,
    defect: &'static str,
    eligible: bool,
    state: &'static str,
    state_label: &'static str,
    deadline: String,
    hours_left: i64,
    urgent: bool,
}

#[derive(Template)]
#[template(path = "console_claims.html")]
struct QueuePage {
    ctx: Ctx,
    pending: Vec<QueueRow>,
    /// The first page's address, when this is a later one.
    pending_first: Option<String>,
    /// The next page's address, when the queue goes on.
    pending_next: Option<String>,
    recent: Vec<QueueRow>,
}

#[derive(Deserialize)]
pub struct QueueQuery {
    /// The page of waiting claims to show (as the previous page's next link gives it); the first when absent.
    cursor: Option<String>,
}

async fn rows(state: &SharedState, lang: Lang, claims: Vec<ClaimRecord>) -> Result<Vec<QueueRow>, ApiError> {
    let now = state.now();
    let claims = kabao_app::claims::with_order_nos(state, claims).await?;
    let mut out = Vec::with_capacity(claims.len());
    for (c, order_no) in claims {
        let hours_left = c.due_at.map(|d| ((d.millis() - now.millis()) / 3_600_000).max(0)).unwrap_or(0);
        out.push(QueueRow {
            claim_no: c.claim_no.clone(),
            order_no,
            item: c.item,
            defect: c.defect.label(lang),
            eligible: c.eligible,
            state: c.state.as_str(),
            state_label: c.state.label(lang),
            deadline: c.due_at.map(datetime).unwrap_or_else(|| lang.pick("已暂停", "paused").into()),
            hours_left,
            urgent: c.due_at.is_some() && hours_left < 6,
        });
    }
    Ok(out)
}

/// The merchant's claims: waiting ones by deadline with the time left, a page at a time, then the recent ones.
pub async fn queue(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Response, ApiError> {
    let cursor = q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let pending = kabao_app::claims::queue(&state, &user, cursor).await?;
    let recent: Vec<ClaimRecord> =
        kabao_app::claims::recent(&state, &user).await?.into_iter().filter(|c| !c.state.holds_escrow()).collect();
    let page = QueuePage {
        ctx: Ctx::new(&v),
        pending: rows(&state, v.lang, pending.claims).await?,
        pending_first: cursor.map(|_| "/console/claims".to_string()),
        pending_next: pending.next.map(|c| format!("/console/claims?cursor={c}")),
        recent: rows(&state, v.lang, recent).await?,
    };
    Ok(([(CACHE_CONTROL, "no-store")], render(page)).into_response())
}

/// A claim of the merchant's shop, with the decision forms while it waits.
pub async fn merchant_show(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(claim_no): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (c, _, order) = kabao_app::claims::for_merchant(&state, &user, &claim_no).await?;
    claim_page(&state, &v, View::Merchant(&order), &c, None, None).await
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    decision: String,
    reason: Option<String>,
    note: Option<String>,
}

/// The merchant decides: approve, reject with a reason, or ask for more evidence.
pub async fn decide(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(claim_no): ApiPath<String>,
    super::PageForm(f): super::PageForm<DecisionForm>,
) -> Result<Response, ApiError> {
    v.check_csrf(f.csrf.as_deref())?;
    let result = match MerchantDecision::parse(&f.decision, f.reason, f.note) {
        Ok(d) => kabao_app::claims::decide(&state, &user, &claim_no, d).await.map_err(ApiError::from),
        Err(e) => Err(e.into()),
    };
    back_to_claim(&state, &v, Back::Merchant(&user), &claim_no, result).await
}

/// An evidence file of a claim of the merchant's shop.
pub async fn merchant_file(
    State(state): State<SharedState>,
    MerchantVisitor { user, .. }: MerchantVisitor,
    ApiPath((claim_no, sha)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (c, _, _) = kabao_app::claims::for_merchant(&state, &user, &claim_no).await?;
    let (mime, bytes) = kabao_app::claims::evidence_file(&state, &c, &sha).await?;
    Ok(evidence_response(mime, bytes))
}

/// The complaint package (维权材料包) of an order the visitor may see, as a zip download.
pub async fn complaint_package(
    State(state): State<SharedState>,
    v: Visitor,
    headers: HeaderMap,
    ApiPath(no): ApiPath<String>,
) -> Result<Response, ApiError> {
    let order = visible_order(&state, &v, &headers, &no).await?;
    package_response(&state, &order).await
}

/// The merchant adds evidence to a claim of its shop.
pub async fn merchant_evidence(
    State(state): State<SharedState>,
    MerchantVisitor { v, user }: MerchantVisitor,
    ApiPath(claim_no): ApiPath<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let form = page_form(&v, multipart).await?;
    let error_text = form.text("error_text");
    let result = kabao_app::claims::add_evidence(
        &state,
        kabao_app::claims::EvidenceFrom::Merchant(&user),
        &claim_no,
        &error_text,
        form.files,
        &Run::none(),
    )
    .await
    .map_err(ApiError::from);
    back_to_claim(&state, &v, Back::Merchant(&user), &claim_no, result).await
}
