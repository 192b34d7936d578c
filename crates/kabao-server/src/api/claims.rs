//! `/api/v1/orders/{order_no}/claims`, `/api/v1/claims/...` and `/api/v1/merchant/claims`: filing a claim
//! (售后 / 补单申请) with evidence as `multipart/form-data`, adding evidence, the merchant's queue and decisions.

use super::history::CursorQuery;
use super::orders::access_order;
use super::ApiJson;
use crate::auth::{ApiMerchant, MaybeApiUser};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::files::{evidence_response, package_response};
use crate::forms::read_claim_form;
use crate::idempotency::{Begun, IdempotencyKey, Rendered, Scope};
use crate::SharedState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kabao_app::claims::{EvidenceAdded, EvidenceFrom, MerchantDecision};
use kabao_core::Lang;
use kabao_store::{ClaimRecord, EvidenceRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a claim is (not) eligible, or a buyer-abuse signal: a code and its text in both languages.
#[derive(Serialize, ToSchema)]
#[schema(as = ClaimReason)]
pub struct ReasonView {
    pub code: String,
    pub zh: String,
    pub en: String,
}

#[derive(Serialize, ToSchema)]
pub struct EvidenceView {
    /// SHA-256 of the file (hex); the file is at `.../claims/{claim_no}/evidence/{sha256}` under the order (buyer)
    /// or under `/api/v1/merchant` (merchant).
    pub sha256: String,
    #[schema(value_type = super::contract::EvidenceKindName)]
    pub kind: String,
    pub file_name: String,
    pub mime: String,
    pub size_bytes: i64,
    #[schema(value_type = super::contract::PartyName)]
    pub added_by: String,
    /// Canonical JSON binding the file to the product as sold, the defect claimed and the server time.
    pub binding: String,
    pub binding_sha256: String,
    pub created_at: i64,
}

impl From<&EvidenceRecord> for EvidenceView {
    fn from(e: &EvidenceRecord) -> Self {
        EvidenceView {
            sha256: hex::encode(&e.sha256),
            kind: e.kind.as_str().into(),
            file_name: e.file_name.clone(),
            mime: e.mime.clone(),
            size_bytes: e.size_bytes,
            added_by: e.added_by.as_str().into(),
            binding: e.binding.clone(),
            binding_sha256: hex::encode(&e.binding_sha256),
            created_at: e.created_at.millis(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClaimView {
    pub claim_no: String,
    pub order_no: String,
    /// The item (1..=quantity) the claim is about.
    pub item: i32,
    #[schema(value_type = super::contract::DefectName)]
    pub defect: String,
    pub description: String,
    pub activated: bool,
    /// Whether the claim meets the rules the order was sold under; if not, `reasons` says why.
    pub eligible: bool,
    pub reasons: Vec<ReasonView>,
    #[schema(value_type = super::contract::ClaimStateName)]
    pub state: String,
    /// The merchant's deadline (Unix ms) while it runs; silence past it runs the remedy.
    pub due_at: Option<i64>,
    /// What is left of the deadline while it is paused for more evidence.
    pub paused_remaining_ms: Option<i64>,
    pub request_note: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub evidence: Vec<EvidenceView>,
    /// Buyer-abuse signals, for the merchant and the arbiter only (information, never a penalty): `code` is
    /// fast_claim_after_reveals / high_claim_rate / shared_device / shared_payer; `zh`/`en` say it with numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<ReasonView>,
}

impl ClaimView {
    pub fn new(c: &ClaimRecord, order_no: &str, evidence: &[EvidenceRecord]) -> ClaimView {
        let zh = kabao_app::claims::reasons(c, Lang::Zh);
        let en = kabao_app::claims::reasons(c, Lang::En);
        let codes: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&c.reasons)
            .unwrap_or_default()
            .iter()
            .map(|r| r.get("code").and_then(|v| v.as_str()).unwrap_or_default().to_string())
            .collect();
        ClaimView {
            claim_no: c.claim_no.clone(),
            order_no: order_no.to_string(),
            item: c.item,
            defect: c.defect.as_str().into(),
            description: c.description.clone(),
            activated: c.activated,
            eligible: c.eligible,
            reasons: codes.into_iter().zip(zh).zip(en).map(|((code, zh), en)| ReasonView { code, zh, en }).collect(),
            state: c.state.as_str().into(),
            due_at: c.due_at.map(|t| t.millis()),
            paused_remaining_ms: c.paused_remaining_ms,
            request_note: c.request_note.clone(),
            decision_reason: c.decision_reason.clone(),
            decided_at: c.decided_at.map(|t| t.millis()),
            created_at: c.created_at.millis(),
            evidence: evidence.iter().map(EvidenceView::from).collect(),
            signals: Vec::new(),
        }
    }

    /// With the claim's buyer-abuse signals (for the merchant and the arbiter).
    pub fn with_signals(mut self, signals: &[kabao_core::signals::Signal]) -> ClaimView {
        self.signals = signals
            .iter()
            .map(|s| ReasonView { code: s.code().into(), zh: s.text(Lang::Zh), en: s.text(Lang::En) })
            .collect();
        self
    }
}

#[derive(Serialize, ToSchema)]
pub struct FiledView {
    pub claim: ClaimView,
    /// A claim was already open on the item: this is that claim (answered 200). A retry with the same
    /// `Idempotency-Key` gets the first answer instead, byte for byte.
    pub duplicate: bool,
    /// An automatic re-issue's fresh key, in clear (its reveal is recorded).
    pub new_key: Option<String>,
}

/// The multipart form of a claim (documentation only; the body is `multipart/form-data`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClaimUpload {
    /// The item (1..=quantity).
    #[schema(minimum = 1, maximum = 1000)]
    pub item: i32,
    #[schema(value_type = super::contract::DefectName)]
    pub defect: String,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// "true" if the item was activated (redeemed, bound) before the problem.
    #[schema(value_type = Option<bool>)]
    pub activated: Option<String>,
    /// The error text or code, typed or pasted (at most 64 KB).
    #[schema(max_length = 65536)]
    pub error_text: Option<String>,
    /// Evidence files (repeat the part): PNG/JPEG/GIF/WebP ≤ 5 MB, MP4/MOV/WebM ≤ 20 MB, text ≤ 64 KB; at most 6.
    #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 6)]
    pub files: Vec<Vec<u8>>,
}

/// The multipart form adding evidence to a claim (documentation only): at least one file, or `error_text`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EvidenceUpload {
    /// The error text or code, typed or pasted (at most 64 KB).
    #[schema(max_length = 65536)]
    pub error_text: Option<String>,
    /// Evidence files (repeat the part): PNG/JPEG/GIF/WebP ≤ 5 MB, MP4/MOV/WebM ≤ 20 MB, text ≤ 64 KB; at most 6.
    #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 6)]
    pub files: Vec<Vec<u8>>,
}

/// File a claim on one delivered, revealed item (buyer's token, or guest's `X-Order-Secret`). With an
/// `Idempotency-Key`, a retry of the same form (fields and files) answers the first response byte for byte. If the
/// rules allow an automatic re-issue and a key is in stock, the fresh key is in the answer.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/claims", tag = "claims", security((), ("bearer" = [])),
    params(("order_no" = String, Path), super::orders::OrderSecret,
        ("Idempotency-Key" = Option<String>, Header, max_length = 128, description = "At most 128 visible ASCII characters, per caller (token user, or guest order). The same key with the same form (every field, each file's name and SHA-256) answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another form 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    request_body(content = ClaimUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = FiledView), (status = 200, body = FiledView, description = "a claim was already open on the item"),
        (status = 400, description = "bad field, file type or size, or an invalid Idempotency-Key"), (status = 404, description = "no such order or item of yours"),
        (status = 409, description = "not delivered, not revealed, or already refunded; `idempotency_key_reused` (same key, other form) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn file(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    key: IdempotencyKey,
    ApiPath(order_no): ApiPath<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let form = read_claim_form(multipart).await?;
    let render = |f: &kabao_app::claims::Filed| {
        let status = if f.duplicate { StatusCode::OK } else { StatusCode::CREATED };
        let view = FiledView {
            claim: ClaimView::new(&f.claim, &order.order_no, &f.evidence),
            duplicate: f.duplicate,
            new_key: f.new_key.as_ref().map(|k| k.to_string()),
        };
        Rendered::json(status, &view)
    };
    let run = match form.idempotency(key).begin(&state, Scope::buyer(user.as_ref(), &order), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let result = kabao_app::claims::file(&state, &order, user.as_ref().map(|u| u.id), form.into_input(), &run)
        .await
        .map_err(ApiError::from);
    run.finish(&state, result).await
}

/// An order's claims (buyer's token, or guest's `X-Order-Secret`).
#[utoipa::path(get, path = "/api/v1/orders/{order_no}/claims", tag = "claims", security((), ("bearer" = [])),
    params(("order_no" = String, Path), super::orders::OrderSecret),
    responses((status = 200, body = Vec<ClaimView>), (status = 404, description = "no such order of yours")))]
pub async fn list(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<ApiJson<Vec<ClaimView>>, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let claims = kabao_app::claims::of_order(&state, &order).await?;
    Ok(ApiJson(claims.iter().map(|(c, evidence)| ClaimView::new(c, &order.order_no, evidence)).collect()))
}

/// One claim of an order (buyer's token, or guest's `X-Order-Secret`).
#[utoipa::path(get, path = "/api/v1/orders/{order_no}/claims/{claim_no}", tag = "claims", security((), ("bearer" = [])),
    params(("order_no" = String, Path), ("claim_no" = String, Path), super::orders::OrderSecret),
    responses((status = 200, body = ClaimView), (status = 404, description = "no such claim of yours")))]
pub async fn get(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath((order_no, claim_no)): ApiPath<(String, String)>,
) -> Result<ApiJson<ClaimView>, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let (c, evidence) = kabao_app::claims::for_buyer(&state, &order, &claim_no).await?;
    Ok(ApiJson(ClaimView::new(&c, &order.order_no, &evidence)))
}

/// Add evidence to a claim (multipart `files` and/or `error_text`). If the merchant asked for more evidence,
/// the deadline runs again with the time that was left. The claim is re-evaluated against the order's rules with
/// all the buyer's evidence (`eligible`, `reasons`); if it has just become eligible and the rules re-issue
/// automatically with a key in stock, it is re-issued at once (`state` = reissued; reveal the order's keys). With
/// an `Idempotency-Key`, a retry of the same form answers the first response byte for byte.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/claims/{claim_no}/evidence", tag = "claims", security((), ("bearer" = [])),
    params(("order_no" = String, Path), ("claim_no" = String, Path), super::orders::OrderSecret,
        ("Idempotency-Key" = Option<String>, Header, description = "At most 128 visible ASCII characters, per caller (token user, or guest order). The same key with the same form (every field, each file's name and SHA-256) answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another form 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    request_body(content = EvidenceUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = ClaimView), (status = 400, description = "no evidence, bad type or size, or an invalid Idempotency-Key"),
        (status = 404, description = "no such claim of yours"),
        (status = 409, description = "the claim is closed; `idempotency_key_reused` (same key, other form) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn add_evidence(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    key: IdempotencyKey,
    ApiPath((order_no, claim_no)): ApiPath<(String, String)>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let form = read_claim_form(multipart).await?;
    let render =
        |a: &EvidenceAdded| Rendered::json(StatusCode::OK, &ClaimView::new(&a.claim, &a.order_no, &a.evidence));
    let run = match form.idempotency(key).begin(&state, Scope::buyer(user.as_ref(), &order), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let error_text = form.text("error_text");
    let from = EvidenceFrom::Buyer(&order);
    let result = kabao_app::claims::add_evidence(&state, from, &claim_no, &error_text, form.files, &run)
        .await
        .map_err(ApiError::from);
    run.finish(&state, result).await
}

/// A page of the merchant's claim queue.
#[derive(Serialize, ToSchema)]
pub struct ClaimQueueView {
    /// Waiting claims, nearest deadline first, paused ones last; at most 20.
    pub claims: Vec<ClaimView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The merchant's claims waiting for an answer, nearest deadline first, a page at a time.
#[utoipa::path(get, path = "/api/v1/merchant/claims", tag = "claims", security(("bearer" = [])),
    params(CursorQuery),
    responses((status = 200, body = ClaimQueueView), (status = 400, description = "malformed cursor"),
        (status = 404, description = "no shop yet")))]
pub async fn queue(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiQuery(q): ApiQuery<CursorQuery>,
) -> Result<ApiJson<ClaimQueueView>, ApiError> {
    let page = kabao_app::claims::queue_in_full(&state, &user, q.cursor.as_deref()).await?;
    let claims: Vec<ClaimRecord> = page.claims.iter().map(|(c, _, _)| c.clone()).collect();
    let signals = kabao_app::trust::signals_of_all(&state, &claims).await?;
    let views = page
        .claims
        .iter()
        .zip(&signals)
        .map(|((c, order_no, evidence), signals)| ClaimView::new(c, order_no, evidence).with_signals(signals))
        .collect();
    Ok(ApiJson(ClaimQueueView { claims: views, next_cursor: page.next }))
}

/// A merchant's decision on a claim.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// approve (runs the remedy now) / reject (needs `reason`) / ask_evidence (once; needs `note`)
    pub decision: String,
    pub reason: Option<String>,
    pub note: Option<String>,
}

/// The documented shape of [`DecisionInput`]: `reason` is required to reject, `note` to ask for evidence.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = ClaimDecisionInput)]
#[allow(dead_code)]
pub enum ClaimDecisionDoc {
    Approve(ApproveDoc),
    Reject(RejectDoc),
    AskEvidence(AskEvidenceDoc),
}

/// Approve: the remedy runs now.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClaimApproval)]
#[allow(dead_code)]
pub struct ApproveDoc {
    #[schema(pattern = "^\\s*approve\\s*$")]
    decision: String,
}

/// Reject, with the reason the buyer sees (1–1000 characters).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClaimRejection)]
#[allow(dead_code)]
pub struct RejectDoc {
    #[schema(pattern = "^\\s*reject\\s*$")]
    decision: String,
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    reason: String,
}

/// Ask the buyer for more evidence, once (the deadline pauses), with a note (1–1000 characters).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClaimEvidenceRequest)]
#[allow(dead_code)]
pub struct AskEvidenceDoc {
    #[schema(pattern = "^\\s*ask_evidence\\s*$")]
    decision: String,
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    note: String,
}

/// Decide a claim of the merchant's shop.
#[utoipa::path(post, path = "/api/v1/merchant/claims/{claim_no}/decision", tag = "claims", security(("bearer" = [])),
    params(("claim_no" = String, Path)), request_body = ClaimDecisionDoc,
    responses((status = 200, body = ClaimView), (status = 400, description = "bad decision or missing reason"),
        (status = 404, description = "no such claim of your shop"), (status = 409, description = "already decided")))]
pub async fn decide(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath(claim_no): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionInput>,
) -> Result<ApiJson<ClaimView>, ApiError> {
    let decision = MerchantDecision::parse(&body.decision, body.reason, body.note)?;
    kabao_app::claims::decide(&state, &user, &claim_no, decision).await?;
    let (c, evidence, order) = kabao_app::claims::for_merchant(&state, &user, &claim_no).await?;
    Ok(ApiJson(ClaimView::new(&c, &order.order_no, &evidence)))
}

/// An evidence file of one of the buyer's claims.
#[utoipa::path(get, path = "/api/v1/orders/{order_no}/claims/{claim_no}/evidence/{sha256}", tag = "claims", security((), ("bearer" = [])),
    params(("order_no" = String, Path), ("claim_no" = String, Path), ("sha256" = String, Path), super::orders::OrderSecret),
    responses((status = 200, description = "the file"), (status = 404, description = "no such file in a claim of yours")))]
pub async fn buyer_file(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath((order_no, claim_no, sha)): ApiPath<(String, String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    let (c, _) = kabao_app::claims::for_buyer(&state, &order, &claim_no).await?;
    let (mime, bytes) = kabao_app::claims::evidence_file(&state, &c, &sha).await?;
    Ok(evidence_response(mime, bytes))
}

/// An evidence file of a claim of the merchant's shop.
#[utoipa::path(get, path = "/api/v1/merchant/claims/{claim_no}/evidence/{sha256}", tag = "claims", security(("bearer" = [])),
    params(("claim_no" = String, Path), ("sha256" = String, Path)),
    responses((status = 403, description = "not a merchant"), (status = 200, description = "the file"), (status = 404, description = "no such file in a claim of your shop")))]
pub async fn merchant_file(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    ApiPath((claim_no, sha)): ApiPath<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let (c, _, _) = kabao_app::claims::for_merchant(&state, &user, &claim_no).await?;
    let (mime, bytes) = kabao_app::claims::evidence_file(&state, &c, &sha).await?;
    Ok(evidence_response(mime, bytes))
}

/// The order's complaint package (维权材料包): a zip with a readable report (HTML, Chinese with English), the
/// policy snapshot and hash, the event chain, ledger entries, claims, evidence files and a SHA-256 manifest.
/// Check it offline with `kabao verify-bundle FILE.zip`.
#[utoipa::path(get, path = "/api/v1/orders/{order_no}/complaint-package", tag = "claims", security((), ("bearer" = [])),
    params(("order_no" = String, Path), super::orders::OrderSecret),
    responses((status = 200, description = "the zip", content_type = "application/zip"), (status = 404, description = "no such order of yours")))]
pub async fn complaint_package(
    State(state): State<SharedState>,
    MaybeApiUser(user): MaybeApiUser,
    headers: HeaderMap,
    ApiPath(order_no): ApiPath<String>,
) -> Result<axum::response::Response, ApiError> {
    let order = access_order(&state, user.as_ref(), &headers, &order_no).await?;
    package_response(&state, &order).await
}

/// The merchant adds evidence (multipart `files` and/or `error_text`) to an open or disputed claim of its shop.
/// With an `Idempotency-Key`, a retry of the same form answers the first response byte for byte.
#[utoipa::path(post, path = "/api/v1/merchant/claims/{claim_no}/evidence", tag = "claims", security(("bearer" = [])),
    params(("claim_no" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "At most 128 visible ASCII characters, per user. The same key with the same form (every field, each file's name and SHA-256) answers the first response byte for byte (header `Idempotent-Replayed: true`) for 48 hours; with another form 409 `idempotency_key_reused`; while the first request runs 409 `idempotency_key_in_flight`.")),
    request_body(content = EvidenceUpload, content_type = "multipart/form-data"),
    responses((status = 403, description = "not a merchant"), (status = 200, body = ClaimView), (status = 400, description = "no evidence, bad type or size, or an invalid Idempotency-Key"),
        (status = 404, description = "no such claim of your shop"),
        (status = 409, description = "the claim is closed; `idempotency_key_reused` (same key, other form) or `idempotency_key_in_flight` (same key, first request still running)")))]
pub async fn merchant_evidence(
    State(state): State<SharedState>,
    ApiMerchant(user): ApiMerchant,
    key: IdempotencyKey,
    ApiPath(claim_no): ApiPath<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let form = read_claim_form(multipart).await?;
    let render =
        |a: &EvidenceAdded| Rendered::json(StatusCode::OK, &ClaimView::new(&a.claim, &a.order_no, &a.evidence));
    let run = match form.idempotency(key).begin(&state, Scope::User(user.id), &render).await? {
        Begun::Replay(answer) => return Ok(answer),
        Begun::Run(run) => run,
    };
    let error_text = form.text("error_text");
    let from = EvidenceFrom::Merchant(&user);
    let result = kabao_app::claims::add_evidence(&state, from, &claim_no, &error_text, form.files, &run)
        .await
        .map_err(ApiError::from);
    run.finish(&state, result).await
}
