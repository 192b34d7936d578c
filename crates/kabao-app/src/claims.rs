//! Claims (售后 / 补单申请) on one delivered item: filing with evidence (content-addressed, each piece bound to
//! the product as sold, the claimed defect and the server's time), eligibility against the order's policy
//! snapshot, automatic re-issue in the buyer's own request, the merchant's decisions, and the job that runs the
//! remedy when the merchant stays silent past the deadline. Every step appends to the order's event chain.

use crate::idempotency::Completion;
use crate::orders::append_event;
use crate::verification::Asked;
use crate::App;
use kabao_core::catalog::GoodsKind;
use kabao_core::claim::{self, ClaimState, Deadline, RemedyAction};
use kabao_core::events::{OrderEvent, Reissue, ReissueAfter, Rejection, RemedyTrigger};
use kabao_core::ledger::Account;
use kabao_core::ledger::LedgerError;
use kabao_core::order::OrderState;
use kabao_core::vault::CardKeyAad;
use kabao_core::vault::VaultError;
use kabao_core::verification::{self, Finding};
use kabao_core::warranty::{self, Allowed, ClaimFacts, Defect, Eligibility, EvidenceKind, WarrantyPolicy};
use kabao_core::{Lang, Localized, ShopId, Timestamp, UserId};
use kabao_store::{ClaimRecord, EvidenceParty, EvidenceRecord, Order, QueueKey, StoreError, Tx, TxMode, User};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use zeroize::Zeroizing;

/// Files per submission.
pub const MAX_FILES: usize = 6;
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: usize = 20 * 1024 * 1024;
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// A whole submission (the request body limit of the claim routes).
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_NOTE_CHARS: usize = 1000;
/// The merchant's deadline for claims on orders sold without a policy (无质保), which sets none.
pub const DEFAULT_RESPONSE_HOURS: u32 = 48;
/// Claims handled per pass of the deadline job.
const BATCH: i64 = 200;

/// A file as uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What a buyer files.
#[derive(Debug, Clone, Default)]
pub struct ClaimInput {
    pub item: String,
    pub defect: String,
    pub description: String,
    pub activated: bool,
    /// The error text or code, typed or pasted (stored as a text evidence file).
    pub error_text: String,
    pub files: Vec<Upload>,
}

/// A checked piece of evidence, ready to store.
struct Evidence {
    kind: EvidenceKind,
    mime: &'static str,
    name: String,
    bytes: Vec<u8>,
    sha256: [u8; 32],
}

/// Why a claim step was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error("more than {max} files in one submission")]
    TooManyFiles { max: usize },
    #[error("{name:?} is not a supported evidence type")]
    FileType { name: String },
    #[error("{name:?} is over the {limit_kb} KB limit")]
    FileTooLarge { name: String, limit_kb: usize },
    #[error("the error text is too long")]
    ErrorTextTooLong,
    #[error("no such item on the order")]
    ItemInvalid,
    #[error("unknown defect")]
    DefectInvalid,
    #[error("the description is over {max} characters")]
    DescriptionTooLong { max: usize },
    #[error("no evidence file and no text")]
    EvidenceEmpty,
    #[error("{field} is over {max} characters")]
    TextTooLong { field: &'static str, max: usize },
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error("asking for evidence needs a note")]
    NoteRequired,
    #[error("unknown decision")]
    DecisionInvalid,
    #[error("no such order")]
    OrderNotFound,
    #[error("no such claim")]
    ClaimNotFound,
    #[error("no such evidence file")]
    EvidenceNotFound,
    #[error("malformed queue cursor")]
    BadCursor,
    #[error("the order has not been delivered")]
    NotDelivered,
    #[error("the item's key has not been revealed")]
    NotRevealed,
    #[error("the item has already been refunded")]
    ItemRefunded,
    #[error("the claim changed meanwhile")]
    Changed,
    #[error("the order's escrow has been paid out")]
    RefundUnavailable,
    /// The claim falls in the extended warranty: the insurance pool answers it, the merchant does not decide it.
    #[error("the claim falls in the extended warranty")]
    InsuranceHolds,
    /// The claim's state does not allow the step (closed, already asked, not waiting for evidence...).
    #[error(transparent)]
    Step(#[from] claim::ClaimError),
    /// A record the claim points to is gone (a bug or a broken database, never the caller's doing).
    #[error("{0} vanished")]
    Vanished(&'static str),
    #[error("approving left the claim undecided")]
    ApprovalUndecided,
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Idempotency(#[from] crate::idempotency::IdempotencyError),
}

impl Localized for ClaimsError {
    fn code(&self) -> &'static str {
        use ClaimsError as E;
        match self {
            E::TooManyFiles { .. } => "claim.too_many_files",
            E::FileType { .. } => "claim.file_type",
            E::FileTooLarge { .. } => "claim.file_too_large",
            E::ErrorTextTooLong => "claim.error_text_too_long",
            E::ItemInvalid => "claim.item_invalid",
            E::DefectInvalid => "claim.defect_invalid",
            E::DescriptionTooLong { .. } => "claim.description_too_long",
            E::EvidenceEmpty => "claim.evidence_empty",
            E::TextTooLong { .. } => "claim.text_too_long",
            E::ReasonRequired => claim::ClaimError::ReasonRequired.code(),
            E::NoteRequired => "claim.note_required",
            E::DecisionInvalid => "claim.decision_invalid",
            E::OrderNotFound => "order.not_found",
            E::ClaimNotFound => "claim.not_found",
            E::EvidenceNotFound => "evidence.not_found",
            E::BadCursor => "claim.cursor_invalid",
            E::NotDelivered => "claim.not_delivered",
            E::NotRevealed => "claim.not_revealed",
            E::ItemRefunded => "claim.item_refunded",
            E::Changed => "claim.changed",
            E::RefundUnavailable => "claim.refund_unavailable",
            E::InsuranceHolds => "claim.insurance_holds",
            E::Step(e) => e.code(),
            E::Idempotency(e) => e.code(),
            E::Vanished(_) | E::ApprovalUndecided | E::Vault(_) | E::Ledger(_) | E::Store(_) => "internal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        use ClaimsError as E;
        match self {
            E::TooManyFiles { .. } | E::FileType { .. } | E::FileTooLarge { .. } | E::EvidenceEmpty => Some("files"),
            E::ErrorTextTooLong => Some("error_text"),
            E::ItemInvalid => Some("item"),
            E::DefectInvalid => Some("defect"),
            E::DescriptionTooLong { .. } => Some("description"),
            E::TextTooLong { field, .. } => Some(field),
            E::ReasonRequired => claim::ClaimError::ReasonRequired.field(),
            E::NoteRequired => Some("note"),
            E::DecisionInvalid => Some("decision"),
            E::BadCursor => Some("cursor"),
            E::Step(e) => e.field(),
            E::Idempotency(e) => e.field(),
            _ => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        use ClaimsError as E;
        let (zh, en) = match self {
            E::TooManyFiles { max } => (format!("每次最多上传 {max} 个文件"), format!("At most {max} files at a time")),
            E::FileType { name } => (
                format!("「{name}」不是支持的文件类型（图片 PNG/JPEG/GIF/WebP、视频 MP4/MOV/WebM、文本）"),
                format!("\"{name}\" is not a supported type (PNG/JPEG/GIF/WebP images, MP4/MOV/WebM video, text)"),
            ),
            E::FileTooLarge { name, limit_kb } => {
                (format!("「{name}」超过 {limit_kb} KB 的上限"), format!("\"{name}\" is over the {limit_kb} KB limit"))
            }
            E::ErrorTextTooLong => ("错误信息太长".into(), "The error text is too long".into()),
            E::ItemInvalid => ("请选择要申请售后的那一件商品".into(), "Choose the item the claim is about".into()),
            E::DefectInvalid => ("请选择遇到的问题".into(), "Choose the problem".into()),
            E::DescriptionTooLong { max } => {
                (format!("问题描述最多 {max} 字"), format!("The description is limited to {max} characters"))
            }
            E::EvidenceEmpty => ("请上传文件或填写文字说明".into(), "Add a file or the text".into()),
            E::TextTooLong { max, .. } => (format!("最多 {max} 字"), format!("At most {max} characters")),
            E::ReasonRequired => return claim::ClaimError::ReasonRequired.message(lang),
            E::NoteRequired => ("请写明需要买家补充什么证据".into(), "Say what evidence the buyer should add".into()),
            E::DecisionInvalid => (
                "处理方式只能是同意、拒绝或要求补充证据".into(),
                "The decision must be approve, reject or ask_evidence".into(),
            ),
            E::OrderNotFound | E::ClaimNotFound | E::EvidenceNotFound => ("找不到该内容".into(), "Not found".into()),
            E::BadCursor => ("翻页参数无效，请从第一页开始".into(), "Invalid page cursor; start again".into()),
            E::NotDelivered => ("订单尚未发货，不能申请售后".into(), "The order has not been delivered".into()),
            E::NotRevealed => {
                ("请先查看该件商品的卡密，再申请售后".into(), "Reveal the item's key before filing a claim".into())
            }
            E::ItemRefunded => ("该件商品已经退款".into(), "This item has already been refunded".into()),
            E::Changed => ("该售后申请刚刚被处理过，请刷新".into(), "The claim just changed; reload".into()),
            E::InsuranceHolds => (
                "该售后申请在平台延保期内，由平台保险池赔付，商家无需处理".into(),
                "This claim falls in the platform's extended warranty and is paid by its pool; the merchant need not act".into(),
            ),
            E::RefundUnavailable => (
                "该订单的担保资金已结算，无法从担保中退款，请申请平台介入".into(),
                "The order's escrow has been paid out; ask the platform to step in".into(),
            ),
            E::Step(e) => return e.message(lang),
            E::Idempotency(e) => return e.message(lang),
            E::Vanished(_) | E::ApprovalUndecided | E::Vault(_) | E::Ledger(_) | E::Store(_) => {
                return crate::error::internal_message(lang)
            }
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// The type of a file from its first bytes (never from the name or the declared type).
fn sniff(bytes: &[u8]) -> Option<(EvidenceKind, &'static str)> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some((EvidenceKind::Screenshot, "image/png"))
    } else if starts(b"\xff\xd8\xff") {
        Some((EvidenceKind::Screenshot, "image/jpeg"))
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some((EvidenceKind::Screenshot, "image/gif"))
    } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
        Some((EvidenceKind::Screenshot, "image/webp"))
    } else if bytes.get(4..8) == Some(b"ftyp".as_slice()) {
        let mime = if bytes.get(8..12) == Some(b"qt  ".as_slice()) { "video/quicktime" } else { "video/mp4" };
        Some((EvidenceKind::ScreenRecording, mime))
    } else if starts(b"\x1a\x45\xdf\xa3") {
        Some((EvidenceKind::ScreenRecording, "video/webm"))
    } else if !bytes.is_empty() && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        Some((EvidenceKind::ErrorText, "text/plain; charset=utf-8"))
    } else {
        None
    }
}

/// A file name safe to show and to put in a package: no path, no control characters, at most 80 characters.
fn clean_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(80).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        fallback.to_string()
    } else {
        cleaned
    }
}

fn check_evidence(files: Vec<Upload>, error_text: &str) -> Result<Vec<Evidence>, ClaimsError> {
    let files: Vec<Upload> = files.into_iter().filter(|f| !f.bytes.is_empty() || !f.name.trim().is_empty()).collect();
    if files.len() > MAX_FILES {
        return Err(ClaimsError::TooManyFiles { max: MAX_FILES });
    }
    let mut out = Vec::with_capacity(files.len() + 1);
    for f in files {
        let name = clean_name(&f.name, "evidence");
        let Some((kind, mime)) = sniff(&f.bytes) else {
            return Err(ClaimsError::FileType { name });
        };
        let limit = match kind {
            EvidenceKind::Screenshot => MAX_IMAGE_BYTES,
            EvidenceKind::ScreenRecording => MAX_VIDEO_BYTES,
            EvidenceKind::ErrorText => MAX_TEXT_BYTES,
        };
        if f.bytes.len() > limit {
            return Err(ClaimsError::FileTooLarge { name, limit_kb: limit / 1024 });
        }
        let sha256: [u8; 32] = Sha256::digest(&f.bytes).into();
        out.push(Evidence { kind, mime, name, bytes: f.bytes, sha256 });
    }
    let text = error_text.trim();
    if !text.is_empty() {
        if text.len() > MAX_TEXT_BYTES {
            return Err(ClaimsError::ErrorTextTooLong);
        }
        let bytes = text.as_bytes().to_vec();
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        out.push(Evidence {
            kind: EvidenceKind::ErrorText,
            mime: "text/plain; charset=utf-8",
            name: "error-text.txt".into(),
            bytes,
            sha256,
        });
    }
    Ok(out)
}

fn new_claim_no() -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("CL{}", hex::encode_upper(bytes))
}

/// A claim number as it appears in URLs, or `None` for anything else (answered as "not found").
pub fn parse_claim_no(s: &str) -> Option<&str> {
    let s = s.trim();
    (s.len() == 26 && s.starts_with("CL") && s[2..].bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)))
        .then_some(s)
}

/// The core's view of a stored claim.
pub fn core_claim(c: &ClaimRecord) -> claim::Claim {
    let deadline = match (c.due_at, c.paused_remaining_ms) {
        (Some(due), _) => Deadline::Running { due },
        (None, Some(remaining_ms)) => Deadline::Paused { remaining_ms },
        (None, None) => Deadline::Paused { remaining_ms: 0 },
    };
    claim::Claim { state: c.state, deadline, evidence_requested: c.evidence_requested, decided_at: c.decided_at }
}

/// Writes the core's decision back onto the stored claim.
fn apply(c: &ClaimRecord, k: claim::Claim) -> ClaimRecord {
    let (due_at, paused_remaining_ms) = match k.deadline {
        Deadline::Running { due } => (Some(due), None),
        Deadline::Paused { remaining_ms } => (None, Some(remaining_ms)),
    };
    ClaimRecord {
        state: k.state,
        due_at,
        paused_remaining_ms,
        evidence_requested: k.evidence_requested,
        decided_at: k.decided_at,
        ..c.clone()
    }
}

fn policy_of(order: &Order) -> Option<WarrantyPolicy> {
    WarrantyPolicy::from_snapshot(&order.warranty_snapshot)
}

/// The reasons as stored and shown: `[{"code", "zh", "en"}]`.
fn reasons_json(reasons: &[warranty::Ineligible]) -> String {
    let list: Vec<serde_json::Value> = reasons
        .iter()
        .map(|r| {
            serde_json::json!({
                "code": r.code(),
                "zh": r.message(Lang::Zh, crate::display::datetime),
                "en": r.message(Lang::En, crate::display::datetime),
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// A stored claim's reasons in one language.
pub fn reasons(c: &ClaimRecord, lang: Lang) -> Vec<String> {
    let key = lang.pick("zh", "en");
    serde_json::from_str::<Vec<serde_json::Value>>(&c.reasons)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.get(key).and_then(|m| m.as_str()).map(str::to_string))
        .collect()
}

/// Re-issues already made for an item: the keys delivered for it and since voided.
fn voided_for(keys: &[kabao_store::DeliveredKey], item: i32) -> u32 {
    u32::try_from(keys.iter().filter(|k| k.item == item && k.voided_at.is_some()).count()).unwrap_or(u32::MAX)
}

/// What a filing did.
pub struct Filed {
    pub claim: ClaimRecord,
    /// The claim's evidence, as stored in the filing's transaction.
    pub evidence: Vec<EvidenceRecord>,
    /// A claim was already open on the item (a double submission): this is that claim.
    pub duplicate: bool,
    /// The fresh key of an automatic re-issue, shown at once (its reveal is recorded).
    pub new_key: Option<Zeroizing<String>>,
}

/// Files a claim on one item of an order the caller may see (`by`: the registered buyer, `None` for a guest).
/// A keyed API request (`run`, see [`crate::idempotency`]) stores its answer in the filing's transaction.
pub async fn file(
    state: &App,
    order: &Order,
    by: Option<UserId>,
    input: ClaimInput,
    run: &dyn Completion<Filed>,
) -> Result<Filed, ClaimsError> {
    let item: i32 = input
        .item
        .trim()
        .parse()
        .ok()
        .filter(|i| *i >= 1 && i64::from(*i) <= order.quantity)
        .ok_or(ClaimsError::ItemInvalid)?;
    let defect = Defect::parse(input.defect.trim()).ok_or(ClaimsError::DefectInvalid)?;
    let description = input.description.trim().to_string();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ClaimsError::DescriptionTooLong { max: MAX_DESCRIPTION_CHARS });
    }
    let evidence = check_evidence(input.files, &input.error_text)?;
    // The verifier is asked before the write transaction (a network call must not hold the writer lock).
    let verified = verify_item(state, order, item).await?;

    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let filing = Filing { item, defect, description, activated: input.activated, evidence, verified };
    let filed = file_in(state, &mut *tx, order, by, filing, now).await?;
    run.complete(&mut *tx, &filed, now).await?;
    tx.commit().await?;
    if !filed.duplicate {
        let c = &filed.claim;
        let state = c.state.as_str();
        tracing::info!(claim = %c.claim_no, order = %order.order_no, eligible = c.eligible, state, "claim filed");
    }
    Ok(filed)
}

/// A claim's checked fields.
struct Filing {
    item: i32,
    defect: Defect,
    description: String,
    activated: bool,
    evidence: Vec<Evidence>,
    /// The category verifier's answer on the item's live key (which key it was asked about), if it was asked.
    verified: Option<(kabao_core::CardKeyId, Asked)>,
}

/// Asks the product category's verifier (if any) about the item's live, revealed key of a standard product.
/// Nothing is asked when the filing will be refused anyway or is a repeat of an open claim.
async fn verify_item(
    state: &App,
    order: &Order,
    item: i32,
) -> Result<Option<(kabao_core::CardKeyId, Asked)>, ClaimsError> {
    let key = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        let Some(product) = tx.product_by_id(order.product_id).await? else { return Ok(None) };
        if product.kind != GoodsKind::Standard || !state.verifiers.has(product.category) {
            return Ok(None);
        }
        if tx.order_claims(order.id).await?.iter().any(|c| c.item == item && c.state.holds_escrow()) {
            return Ok(None);
        }
        let keys = tx.order_keys(order.id).await?;
        let Some(live) = keys.iter().find(|k| k.item == item && k.voided_at.is_none() && k.first_revealed_at.is_some())
        else {
            return Ok(None);
        };
        (product.category, live.key.id, open_key(state, &mut *tx, live.key.id).await?)
    };
    let (category, id, secret) = key;
    Ok(state.verifiers.ask(category, order.product_id, &secret).await.map(|asked| (id, asked)))
}

/// When the item's live key reached the buyer: the last re-issue for the item (the moment its predecessor was
/// voided), else the order's delivery.
fn key_delivered_at(keys: &[kabao_store::DeliveredKey], item: i32, order_delivered_at: Timestamp) -> Timestamp {
    keys.iter().filter(|k| k.item == item).filter_map(|k| k.voided_at).max().unwrap_or(order_delivered_at)
}

/// Files the claim in the caller's transaction (which the caller commits).
async fn file_in(
    state: &App,
    tx: &mut dyn Tx,
    order: &Order,
    by: Option<UserId>,
    filing: Filing,
    now: Timestamp,
) -> Result<Filed, ClaimsError> {
    let Filing { item, defect, description, activated, evidence, verified } = filing;
    let order = tx.order_by_id(order.id).await?.ok_or(ClaimsError::OrderNotFound)?;
    if !matches!(order.state, OrderState::Delivered | OrderState::Settled) {
        return Err(ClaimsError::NotDelivered);
    }
    let delivered_at = order.delivered_at.or(order.paid_at).unwrap_or(order.created_at);
    let product = tx.product_by_id(order.product_id).await?.ok_or(ClaimsError::Vanished("ordered product"))?;
    // One read of the order's keys answers both: is the item's current key revealed, and how often was it
    // re-issued (its voided keys). Shared secrets and hand deliveries have no keys and no re-issues.
    // The verifier's answer counts only if it was about the key that is still the item's live one.
    let (revealed, reissues, verified) = if product.kind == GoodsKind::Standard {
        let keys = tx.order_keys(order.id).await?;
        let live = keys.iter().find(|k| k.item == item && k.voided_at.is_none());
        let live = live.ok_or(ClaimsError::OrderNotFound)?;
        let key_delivered = key_delivered_at(&keys, item, delivered_at);
        let verified = verified.filter(|(id, _)| *id == live.key.id).map(|(_, asked)| (asked, key_delivered));
        (live.first_revealed_at.is_some(), voided_for(&keys, item), verified)
    } else {
        (!tx.list_reveals(order.id).await?.is_empty(), 0, None)
    };
    if !revealed {
        return Err(ClaimsError::NotRevealed);
    }
    let earlier = tx.order_claims(order.id).await?;
    if let Some(open) = earlier.iter().find(|c| c.item == item && c.state.holds_escrow()) {
        // The same problem filed twice (a double tap without a key): one claim per item at a time.
        let evidence = tx.claim_evidence(open.id).await?;
        return Ok(Filed { claim: open.clone(), evidence, duplicate: true, new_key: None });
    }
    if earlier.iter().any(|c| c.item == item && c.state == ClaimState::Refunded) {
        return Err(ClaimsError::ItemRefunded);
    }

    let policy = policy_of(&order);
    let facts = ClaimFacts {
        defect,
        evidence: evidence.iter().map(|e| e.kind).collect::<BTreeSet<_>>(),
        delivered_at,
        filed_at: now,
        reissues_so_far: reissues,
        activated,
    };
    let finding = match &verified {
        Some((asked, key_delivered)) => verification::finding(asked.answer(), *key_delivered),
        None => Finding::NoFinding,
    };
    let mut eligibility = verification::eligibility(policy.as_ref(), &facts, finding);
    // Extended warranty (延保): a claim that fails only because the merchant's window closed, filed before the
    // platform's window ends, stands, and the pool pays it (below); the merchant is not liable in the extension.
    let cover = tx.cover_of(order.id).await?;
    let extended = match &eligibility {
        Eligibility::Ineligible(r) if r.iter().all(|r| matches!(r, warranty::Ineligible::WindowClosed { .. })) => {
            cover.as_ref().and_then(|c| c.extended_until).is_some_and(|until| now < until)
        }
        _ => false,
    };
    if extended {
        eligibility = Eligibility::Eligible(warranty::Allowed::Refund);
    }
    let (eligible, reasons) = match &eligibility {
        Eligibility::Eligible(_) => (true, "[]".to_string()),
        Eligibility::Ineligible(r) => (false, reasons_json(r)),
    };
    let hours = policy.as_ref().map_or(DEFAULT_RESPONSE_HOURS, |p| p.response_hours);
    let mut record = ClaimRecord {
        id: 0,
        claim_no: new_claim_no(),
        order_id: order.id,
        item,
        shop_id: order.shop_id,
        defect,
        description,
        activated,
        eligible,
        reasons,
        state: ClaimState::Open,
        // The merchant has no deadline in the extension: the pool answers the claim.
        due_at: (!extended).then(|| Timestamp(now.0.saturating_add(i64::from(hours) * 3_600_000))),
        paused_remaining_ms: None,
        evidence_requested: false,
        request_note: None,
        decision_reason: None,
        decided_by: None,
        decided_at: None,
        created_at: now,
        auto_remedied: false,
    };
    record.id = tx.insert_claim(&record).await?;
    let hashes = store_evidence(&mut *tx, &order, &product.title, &record, evidence, EvidenceParty::Buyer, now).await?;
    append_event(
        &mut *tx,
        order.id,
        &OrderEvent::ClaimFiled {
            claim_no: &record.claim_no,
            item,
            defect,
            activated,
            eligible,
            reasons: &record.reasons,
            evidence_sha256: &hashes,
            due_at: record.due_at,
        },
        now,
    )
    .await?;
    if let Some((asked, _)) = &verified {
        let note = match asked {
            Asked::Answered(_) => None,
            Asked::Unreachable(why) => Some(why.as_str()),
        };
        let answer = asked.answer();
        let event = OrderEvent::ClaimVerified { claim_no: &record.claim_no, item, answer, finding, note };
        append_event(&mut *tx, order.id, &event, now).await?;
    }
    crate::webhooks::claim_opened(&mut *tx, &order, &record, now).await?;

    if extended {
        crate::insurance::take_over(state, &mut *tx, &order, &record, now).await?;
        record = tx.claim_by_no(&record.claim_no).await?.ok_or(ClaimsError::Vanished("filed claim"))?;
        let evidence = tx.claim_evidence(record.id).await?;
        return Ok(Filed { claim: record, evidence, duplicate: false, new_key: None });
    }
    // Automatic re-issue: eligible, allowed by the policy, and a key in stock — the buyer gets it now.
    let mut new_key = None;
    if let Some((decided, fresh)) =
        auto_reissue(&mut *tx, &order, &record, policy.as_ref(), &eligibility, product.kind, ReissueAfter::Filed, now)
            .await?
    {
        new_key = Some(open_key(state, &mut *tx, fresh).await?);
        tx.record_reveal(&kabao_store::Reveal { order_id: order.id, user_id: by, at: now }).await?;
        append_event(&mut *tx, order.id, &OrderEvent::KeysRevealed { by, count: 1, item: Some(item) }, now).await?;
        record = decided;
    }
    if new_key.is_none() && finding == Finding::DefectConfirmed && eligible {
        // The verifier says the key was dead before delivery and no key replaced it automatically: an insured
        // order's buyer is paid from the pool now (queued if the pool is short); otherwise the claim runs to the
        // merchant's deadline and remedy.
        tracing::info!(claim = %record.claim_no, order = %order.order_no, "verifier: dead before delivery, not replaced");
        let insured = cover.is_some_and(|c| c.kind == kabao_store::CoverKind::Cover);
        if insured {
            crate::insurance::take_over(state, &mut *tx, &order, &record, now).await?;
            record = tx.claim_by_no(&record.claim_no).await?.ok_or(ClaimsError::Vanished("filed claim"))?;
        }
    }
    let evidence = tx.claim_evidence(record.id).await?;
    Ok(Filed { claim: record, evidence, duplicate: false, new_key })
}

/// The automatic re-issue of an open claim: when it is eligible for a re-issue, the policy re-issues
/// automatically and a key is in stock, the reported key is voided, a fresh one takes its place and the claim is
/// decided, with a `claim.reissued` event (`auto`, and `after`: filed / evidence). `None` if it does not apply.
#[allow(clippy::too_many_arguments)]
async fn auto_reissue(
    tx: &mut dyn Tx,
    order: &Order,
    record: &ClaimRecord,
    policy: Option<&WarrantyPolicy>,
    eligibility: &Eligibility,
    kind: GoodsKind,
    after: ReissueAfter,
    now: Timestamp,
) -> Result<Option<(ClaimRecord, kabao_core::CardKeyId)>, ClaimsError> {
    let auto = policy.is_some_and(|p| p.auto_reissue);
    if !auto
        || !matches!(eligibility, Eligibility::Eligible(Allowed::Reissue { .. }))
        || kind != GoodsKind::Standard
        || record.state != ClaimState::Open
    {
        return Ok(None);
    }
    let Some(fresh) = tx.reissue_key(order.id, record.item, order.product_id, now).await? else { return Ok(None) };
    let decided = ClaimRecord {
        state: ClaimState::Reissued,
        due_at: None,
        paused_remaining_ms: None,
        decided_at: Some(now),
        // The platform answered, not the merchant: kept out of the shop's response time.
        auto_remedied: true,
        ..record.clone()
    };
    if !tx.update_claim(&decided, ClaimState::Open).await? {
        return Err(ClaimsError::Changed);
    }
    append_event(
        &mut *tx,
        order.id,
        &OrderEvent::ClaimReissued {
            claim_no: &record.claim_no,
            item: record.item,
            card_key: fresh,
            how: Reissue::Auto { after },
        },
        now,
    )
    .await?;
    crate::webhooks::reissued(&mut *tx, order, now).await?;
    Ok(Some((decided, fresh)))
}

async fn open_key(state: &App, tx: &mut dyn Tx, id: kabao_core::CardKeyId) -> Result<Zeroizing<String>, ClaimsError> {
    let k = tx.card_key_by_id(id).await?.ok_or(ClaimsError::Vanished("re-issued key"))?;
    let aad =
        CardKeyAad { shop: k.shop_id, product: k.product_id, fingerprint: &k.fingerprint, key_version: k.key_version };
    Ok(state.keyring.open(aad, &k.ciphertext)?)
}

/// Stores evidence files (once per content) and their records, each bound to the product as sold, the claimed
/// defect and the server's time. Returns the files' SHA-256 in hex, for the event chain.
async fn store_evidence(
    tx: &mut dyn Tx,
    order: &Order,
    product_title: &str,
    claim: &ClaimRecord,
    evidence: Vec<Evidence>,
    by: EvidenceParty,
    now: Timestamp,
) -> Result<Vec<String>, ClaimsError> {
    let mut hashes = Vec::with_capacity(evidence.len());
    for e in evidence {
        let sha_hex = hex::encode(e.sha256);
        tx.put_evidence_file(&e.sha256, e.mime, &e.bytes, now).await?;
        let binding = serde_json::json!({
            "order_no": order.order_no,
            "product_id": order.product_id.0,
            "product_title": product_title,
            "unit_price_fen": order.unit_price.fen(),
            "warranty_sha256": hex::encode(&order.warranty_sha256),
            "claim_no": claim.claim_no,
            "item": claim.item,
            "defect": claim.defect.as_str(),
            "kind": e.kind.as_str(),
            "file_sha256": sha_hex,
            "added_by": by.as_str(),
            "server_time_ms": now.millis(),
        })
        .to_string();
        let binding_sha256 = Sha256::digest(binding.as_bytes()).to_vec();
        tx.insert_claim_evidence(&EvidenceRecord {
            id: 0,
            claim_id: claim.id,
            sha256: e.sha256.to_vec(),
            kind: e.kind,
            file_name: e.name,
            mime: String::new(),
            size_bytes: 0,
            added_by: by,
            binding,
            binding_sha256,
            created_at: now,
        })
        .await?;
        hashes.push(sha_hex);
    }
    Ok(hashes)
}

/// Runs the remedy of a claim inside the caller's transaction: a fresh key (voiding the reported one) if the
/// policy allows and stock exists, else a refund of the item's price if allowed, else the remedy fails (the
/// buyer may escalate). Returns the claim as decided.
async fn run_remedy(
    state: &App,
    tx: &mut dyn Tx,
    order: &Order,
    c: &ClaimRecord,
    by: Option<UserId>,
    how: RemedyTrigger,
    now: Timestamp,
) -> Result<ClaimRecord, ClaimsError> {
    let policy = policy_of(order);
    let reissues = voided_for(&tx.order_keys(order.id).await?, c.item);
    let product = tx.product_by_id(order.product_id).await?.ok_or(ClaimsError::Vanished("ordered product"))?;
    let action = match warranty::remedy_allowed(policy.as_ref(), reissues) {
        None => RemedyAction::Fail,
        Some(allowed @ Allowed::Reissue { .. }) if product.kind == GoodsKind::Standard => {
            match tx.reissue_key(order.id, c.item, order.product_id, now).await? {
                Some(fresh) => {
                    append_event(
                        &mut *tx,
                        order.id,
                        &OrderEvent::ClaimReissued {
                            claim_no: &c.claim_no,
                            item: c.item,
                            card_key: fresh,
                            how: Reissue::Remedy { by, trigger: how },
                        },
                        now,
                    )
                    .await?;
                    crate::webhooks::reissued(&mut *tx, order, now).await?;
                    RemedyAction::Reissue
                }
                None => claim::remedy_action(allowed, false),
            }
        }
        Some(allowed) => claim::remedy_action(allowed, false),
    };
    match action {
        RemedyAction::Reissue => {}
        RemedyAction::Refund => refund_item(state, &mut *tx, order, c, how, now).await?,
        RemedyAction::Fail => {
            append_event(
                &mut *tx,
                order.id,
                &OrderEvent::ClaimRemedyFailed { claim_no: &c.claim_no, item: c.item, how },
                now,
            )
            .await?;
        }
    }
    let decided = ClaimRecord {
        state: claim::after_remedy(action),
        due_at: None,
        paused_remaining_ms: None,
        decided_by: by,
        decided_at: Some(now),
        auto_remedied: false,
        ..c.clone()
    };
    if !tx.update_claim(&decided, c.state).await? {
        return Err(ClaimsError::Changed);
    }
    Ok(decided)
}

/// Refunds one item's price from the order's escrow to where the money came from.
async fn refund_item(
    state: &App,
    tx: &mut dyn Tx,
    order: &Order,
    c: &ClaimRecord,
    how: RemedyTrigger,
    now: Timestamp,
) -> Result<(), ClaimsError> {
    let held = tx.balance(Account::Escrow(order.id)).await?;
    if held < order.unit_price {
        return Err(ClaimsError::RefundUnavailable);
    }
    let route = crate::refunds::route(state, &mut *tx, order).await?;
    let refund = kabao_core::refund::from_escrow(order.id, route.to, order.unit_price)?;
    crate::refunds::post(&mut *tx, &route, &refund, order.id, order.unit_price, now).await?;
    append_event(
        tx,
        order.id,
        &OrderEvent::ClaimRefunded {
            claim_no: &c.claim_no,
            item: c.item,
            amount: order.unit_price,
            to: refund.to,
            how,
        },
        now,
    )
    .await?;
    Ok(())
}

/// What a merchant decides.
#[derive(Debug, Clone)]
pub enum MerchantDecision {
    Approve,
    Reject { reason: String },
    AskEvidence { note: String },
}

impl MerchantDecision {
    /// From the API's or the form's fields.
    pub fn parse(
        decision: &str,
        reason: Option<String>,
        note: Option<String>,
    ) -> Result<MerchantDecision, ClaimsError> {
        let text = |v: Option<String>, field: &'static str| -> Result<String, ClaimsError> {
            let v = v.unwrap_or_default().trim().to_string();
            if v.chars().count() > MAX_NOTE_CHARS {
                return Err(ClaimsError::TextTooLong { field, max: MAX_NOTE_CHARS });
            }
            Ok(v)
        };
        match decision.trim() {
            "approve" => Ok(MerchantDecision::Approve),
            "reject" => {
                let reason = text(reason, "reason")?;
                if reason.is_empty() {
                    return Err(ClaimsError::ReasonRequired);
                }
                Ok(MerchantDecision::Reject { reason })
            }
            "ask_evidence" => {
                let note = text(note, "note")?;
                if note.is_empty() {
                    return Err(ClaimsError::NoteRequired);
                }
                Ok(MerchantDecision::AskEvidence { note })
            }
            _ => Err(ClaimsError::DecisionInvalid),
        }
    }
}

/// The claim and its order, if `merchant` owns the shop it was filed with; anything else is "not found".
async fn merchant_claim(tx: &mut dyn Tx, merchant: &User, claim_no: &str) -> Result<(ClaimRecord, Order), ClaimsError> {
    let no = parse_claim_no(claim_no).ok_or(ClaimsError::ClaimNotFound)?;
    let c = tx.claim_by_no(no).await?.ok_or(ClaimsError::ClaimNotFound)?;
    let shop = tx.shop_by_id(c.shop_id).await?;
    if shop.is_none_or(|s| s.owner_id != merchant.id) {
        return Err(ClaimsError::ClaimNotFound);
    }
    let order = tx.order_by_id(c.order_id).await?.ok_or(ClaimsError::Vanished("claimed order"))?;
    Ok((c, order))
}

/// A merchant approves (the remedy runs now), rejects with a reason, or asks once for more evidence (the
/// deadline pauses until the buyer answers).
pub async fn decide(
    state: &App,
    merchant: &User,
    claim_no: &str,
    decision: MerchantDecision,
) -> Result<ClaimRecord, ClaimsError> {
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let (c, order) = merchant_claim(&mut *tx, merchant, claim_no).await?;
    // An extended-warranty claim is the pool's: the merchant's decision would cancel its queued payout (a
    // rejection would take it away from the buyer), so the merchant does not decide it.
    if crate::insurance::in_extension(&mut *tx, &order, &c).await? {
        return Err(ClaimsError::InsuranceHolds);
    }
    let core_decision = match &decision {
        MerchantDecision::Approve => claim::Decision::Approve,
        MerchantDecision::Reject { reason } => claim::Decision::Reject { reason: reason.clone() },
        MerchantDecision::AskEvidence { note } => claim::Decision::AskForEvidence { note: note.clone() },
    };
    let next = claim::decide(&core_claim(&c), &core_decision, now)?;
    let decided = match (next, decision) {
        (None, _) => {
            run_remedy(state, &mut *tx, &order, &c, Some(merchant.id), RemedyTrigger::MerchantApproved, now).await?
        }
        (Some(k), MerchantDecision::Reject { reason }) => {
            let d =
                ClaimRecord { decision_reason: Some(reason.clone()), decided_by: Some(merchant.id), ..apply(&c, k) };
            append_event(
                &mut *tx,
                order.id,
                &OrderEvent::ClaimRejected {
                    claim_no: &c.claim_no,
                    item: c.item,
                    why: Rejection::ByMerchant { reason: &reason, by: merchant.id },
                },
                now,
            )
            .await?;
            save(&mut *tx, &d, c.state).await?;
            d
        }
        (Some(k), MerchantDecision::AskEvidence { note }) => {
            let d = ClaimRecord { request_note: Some(note.clone()), ..apply(&c, k) };
            append_event(
                &mut *tx,
                order.id,
                &OrderEvent::ClaimEvidenceRequested {
                    claim_no: &c.claim_no,
                    item: c.item,
                    note: &note,
                    by: merchant.id,
                },
                now,
            )
            .await?;
            save(&mut *tx, &d, c.state).await?;
            d
        }
        (Some(_), MerchantDecision::Approve) => return Err(ClaimsError::ApprovalUndecided),
    };
    tx.commit().await?;
    tracing::info!(claim = %decided.claim_no, state = decided.state.as_str(), "claim decided by merchant");
    Ok(decided)
}

async fn save(tx: &mut dyn Tx, c: &ClaimRecord, from: ClaimState) -> Result<(), ClaimsError> {
    if tx.update_claim(c, from).await? {
        Ok(())
    } else {
        Err(ClaimsError::Changed)
    }
}

/// Who adds evidence to a claim.
pub enum EvidenceFrom<'a> {
    /// The buyer of an order the caller may already see.
    Buyer(&'a Order),
    /// The merchant of the claim's shop.
    Merchant(&'a User),
}

/// What adding evidence did, read in its transaction.
pub struct EvidenceAdded {
    pub claim: ClaimRecord,
    pub evidence: Vec<EvidenceRecord>,
    pub order_no: String,
}

/// Adds evidence to a claim still open or disputed. A buyer's answer to a request for more evidence restarts the
/// paused deadline with the time that was left. Evidence from the buyer on a claim waiting for the merchant
/// re-evaluates it against the order's policy snapshot (`claim.reevaluated`, with the reasons); a claim that
/// becomes eligible is re-issued at once when the policy re-issues automatically and a key is in stock, as at
/// filing. A keyed API request (`run`) stores its answer in the same transaction.
pub async fn add_evidence(
    state: &App,
    from: EvidenceFrom<'_>,
    claim_no: &str,
    error_text: &str,
    files: Vec<Upload>,
    run: &dyn Completion<EvidenceAdded>,
) -> Result<EvidenceAdded, ClaimsError> {
    let evidence = check_evidence(files, error_text)?;
    if evidence.is_empty() {
        return Err(ClaimsError::EvidenceEmpty);
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let (c, order, party) = match from {
        EvidenceFrom::Buyer(o) => (buyer_claim(&mut *tx, o, claim_no).await?, o.clone(), EvidenceParty::Buyer),
        EvidenceFrom::Merchant(u) => {
            let (c, o) = merchant_claim(&mut *tx, u, claim_no).await?;
            (c, o, EvidenceParty::Merchant)
        }
    };
    if !c.state.holds_escrow() {
        return Err(claim::ClaimError::Closed(c.state).into());
    }
    let product = tx.product_by_id(order.product_id).await?.ok_or(ClaimsError::Vanished("ordered product"))?;
    let hashes = store_evidence(&mut *tx, &order, &product.title, &c, evidence, party, now).await?;
    let mut updated = if party == EvidenceParty::Buyer && c.state == ClaimState::AwaitingEvidence {
        let k = claim::on_more_evidence(&core_claim(&c), now)?;
        let d = apply(&c, k);
        save(&mut *tx, &d, c.state).await?;
        d
    } else {
        c.clone()
    };
    append_event(
        &mut *tx,
        order.id,
        &OrderEvent::ClaimEvidenceAdded {
            claim_no: &c.claim_no,
            by: party,
            evidence_sha256: &hashes,
            due_at: updated.due_at,
        },
        now,
    )
    .await?;
    if party == EvidenceParty::Buyer && updated.state == ClaimState::Open {
        updated = reevaluate(&mut *tx, &order, updated, product.kind, now).await?;
    }
    let evidence = tx.claim_evidence(updated.id).await?;
    let added = EvidenceAdded { claim: updated, evidence, order_no: order.order_no.clone() };
    run.complete(&mut *tx, &added, now).await?;
    tx.commit().await?;
    Ok(added)
}

/// The finding of the verifier's answer chained when the claim was filed ([`Finding::NoFinding`] if none).
async fn verified_finding(tx: &mut dyn Tx, order: &Order, claim_no: &str) -> Result<Finding, ClaimsError> {
    let kind = kabao_core::events::EventKind::ClaimVerified.as_str();
    let events = tx.order_events(order.id).await?;
    Ok(events
        .iter()
        .rev()
        .filter(|e| e.kind == kind)
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok())
        .filter(|b| b.get("claim_no").and_then(|n| n.as_str()) == Some(claim_no))
        .find_map(|b| b.get("finding").and_then(|f| f.as_str()).and_then(Finding::parse))
        .unwrap_or(Finding::NoFinding))
}

/// Re-computes an open claim's eligibility from all the buyer's evidence, as if filed with it (same defect,
/// filing time and activation), records the result on the chain, and runs the automatic re-issue if the claim
/// has just become eligible. A claim eligible before is not remedied again here: the merchant, the deadline or
/// the filing already had their turn.
async fn reevaluate(
    tx: &mut dyn Tx,
    order: &Order,
    c: ClaimRecord,
    kind: GoodsKind,
    now: Timestamp,
) -> Result<ClaimRecord, ClaimsError> {
    let policy = policy_of(order);
    let keys = if kind == GoodsKind::Standard { tx.order_keys(order.id).await? } else { Vec::new() };
    let kinds: BTreeSet<EvidenceKind> =
        tx.claim_evidence(c.id).await?.iter().filter(|e| e.added_by == EvidenceParty::Buyer).map(|e| e.kind).collect();
    let facts = ClaimFacts {
        defect: c.defect,
        evidence: kinds.clone(),
        delivered_at: order.delivered_at.or(order.paid_at).unwrap_or(order.created_at),
        filed_at: c.created_at,
        reissues_so_far: voided_for(&keys, c.item),
        activated: c.activated,
    };
    // The verifier's finding at filing still stands: new evidence must not undo a confirmed dead key.
    let finding = verified_finding(&mut *tx, order, &c.claim_no).await?;
    let eligibility = verification::eligibility(policy.as_ref(), &facts, finding);
    let (eligible, reasons) = match &eligibility {
        Eligibility::Eligible(_) => (true, "[]".to_string()),
        Eligibility::Ineligible(r) => (false, reasons_json(r)),
    };
    let became_eligible = eligible && !c.eligible;
    let reevaluated = ClaimRecord { eligible, reasons, ..c.clone() };
    if (reevaluated.eligible, &reevaluated.reasons) != (c.eligible, &c.reasons) {
        save(&mut *tx, &reevaluated, c.state).await?;
    }
    append_event(
        &mut *tx,
        order.id,
        &OrderEvent::ClaimReevaluated {
            claim_no: &c.claim_no,
            item: c.item,
            eligible,
            was_eligible: c.eligible,
            reasons: &reevaluated.reasons,
            evidence: &kinds,
        },
        now,
    )
    .await?;
    if !became_eligible {
        return Ok(reevaluated);
    }
    match auto_reissue(&mut *tx, order, &reevaluated, policy.as_ref(), &eligibility, kind, ReissueAfter::Evidence, now)
        .await?
    {
        Some((decided, _)) => {
            tracing::info!(claim = %c.claim_no, "claim eligible after new evidence: re-issued automatically");
            Ok(decided)
        }
        None => Ok(reevaluated),
    }
}

/// A claim of an order the caller may already see.
async fn buyer_claim(tx: &mut dyn Tx, order: &Order, claim_no: &str) -> Result<ClaimRecord, ClaimsError> {
    let no = parse_claim_no(claim_no).ok_or(ClaimsError::ClaimNotFound)?;
    tx.claim_by_no(no).await?.filter(|c| c.order_id == order.id).ok_or(ClaimsError::ClaimNotFound)
}

/// A claim with its evidence, for its buyer (the order is already checked).
pub async fn for_buyer(
    state: &App,
    order: &Order,
    claim_no: &str,
) -> Result<(ClaimRecord, Vec<EvidenceRecord>), ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let c = buyer_claim(&mut *tx, order, claim_no).await?;
    let evidence = tx.claim_evidence(c.id).await?;
    Ok((c, evidence))
}

/// An order's claims, each with its evidence, for a caller who may see the order (checked by the caller).
pub async fn of_order(state: &App, order: &Order) -> Result<Vec<(ClaimRecord, Vec<EvidenceRecord>)>, ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let mut out = Vec::new();
    for c in tx.order_claims(order.id).await? {
        let evidence = tx.claim_evidence(c.id).await?;
        out.push((c, evidence));
    }
    Ok(out)
}

/// A claim's evidence and its order's event chain, read together (the claim page), for a caller who may see it.
pub async fn evidence_and_events(
    state: &App,
    c: &ClaimRecord,
) -> Result<(Vec<EvidenceRecord>, Vec<kabao_core::audit::ChainedEvent>), ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok((tx.claim_evidence(c.id).await?, tx.order_events(c.order_id).await?))
}

/// Claims with the number of their order (empty if the order is gone), read in one transaction.
pub async fn with_order_nos(state: &App, claims: Vec<ClaimRecord>) -> Result<Vec<(ClaimRecord, String)>, ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let mut out = Vec::with_capacity(claims.len());
    for c in claims {
        let order_no = tx.order_by_id(c.order_id).await?.map(|o| o.order_no).unwrap_or_default();
        out.push((c, order_no));
    }
    Ok(out)
}

/// A claim with its evidence and order, for the merchant of its shop.
pub async fn for_merchant(
    state: &App,
    merchant: &User,
    claim_no: &str,
) -> Result<(ClaimRecord, Vec<EvidenceRecord>, Order), ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let (c, order) = merchant_claim(&mut *tx, merchant, claim_no).await?;
    let evidence = tx.claim_evidence(c.id).await?;
    Ok((c, evidence, order))
}

/// An evidence file of a claim the caller may see (checked by the caller), by its SHA-256 in hex.
pub async fn evidence_file(state: &App, c: &ClaimRecord, sha_hex: &str) -> Result<(String, Vec<u8>), ClaimsError> {
    let sha = hex::decode(sha_hex.trim()).ok().filter(|s| s.len() == 32).ok_or(ClaimsError::EvidenceNotFound)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    if !tx.claim_evidence(c.id).await?.iter().any(|e| e.sha256 == sha) {
        return Err(ClaimsError::EvidenceNotFound);
    }
    tx.evidence_file(&sha).await?.ok_or(ClaimsError::EvidenceNotFound)
}

/// Claims a page of the merchant's queue shows.
pub const QUEUE_PAGE: i64 = 20;

/// One page of the merchant's queue, and the cursor of the next page if there is more.
pub struct QueuePage<T> {
    pub claims: Vec<T>,
    pub next: Option<String>,
}

/// The queue position a cursor names: `<deadline key>.<claim id>`, as [`queue_cursor`] writes it.
fn parse_queue_cursor(s: &str) -> Result<QueueKey, ClaimsError> {
    let (due, id) = s.trim().split_once('.').ok_or(ClaimsError::BadCursor)?;
    let due = due.parse::<i64>().map_err(|_| ClaimsError::BadCursor)?;
    let id = id.parse::<i64>().ok().filter(|id| *id > 0).ok_or(ClaimsError::BadCursor)?;
    Ok(QueueKey { due, id })
}

/// The cursor of the page after the one ending at `last`.
fn queue_cursor(last: &ClaimRecord) -> String {
    let key = QueueKey::of(last);
    format!("{}.{}", key.due, key.id)
}

/// One page of the shop's waiting claims from `cursor` (none: the first page), read with one row more to know
/// whether another page follows.
async fn queue_page(
    tx: &mut dyn Tx,
    shop: ShopId,
    cursor: Option<&str>,
) -> Result<(Vec<ClaimRecord>, Option<String>), ClaimsError> {
    let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => parse_queue_cursor(c)?,
        None => QueueKey::START,
    };
    let claims = tx.shop_pending_claims(shop, after, QUEUE_PAGE + 1).await?;
    Ok(crate::history::keyset_page(claims, QUEUE_PAGE, queue_cursor))
}

/// The merchant's queue: claims waiting for an answer, nearest deadline first, a page from `cursor` on.
pub async fn queue(state: &App, merchant: &User, cursor: Option<&str>) -> Result<QueuePage<ClaimRecord>, ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let Some(shop) = tx.shop_by_owner(merchant.id).await? else { return Ok(QueuePage { claims: vec![], next: None }) };
    let (claims, next) = queue_page(&mut *tx, shop.id, cursor).await?;
    Ok(QueuePage { claims, next })
}

/// A page of the merchant's queue with each claim's order number and evidence, in one read.
pub async fn queue_in_full(
    state: &App,
    merchant: &User,
    cursor: Option<&str>,
) -> Result<QueuePage<(ClaimRecord, String, Vec<EvidenceRecord>)>, ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let Some(shop) = tx.shop_by_owner(merchant.id).await? else { return Ok(QueuePage { claims: vec![], next: None }) };
    let (claims, next) = queue_page(&mut *tx, shop.id, cursor).await?;
    let mut out = Vec::with_capacity(claims.len());
    for c in claims {
        let order_no = tx.order_by_id(c.order_id).await?.map(|o| o.order_no).unwrap_or_default();
        let evidence = tx.claim_evidence(c.id).await?;
        out.push((c, order_no, evidence));
    }
    Ok(QueuePage { claims: out, next })
}

/// A shop's recent claims in any state.
pub async fn recent(state: &App, merchant: &User) -> Result<Vec<ClaimRecord>, ClaimsError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let Some(shop) = tx.shop_by_owner(merchant.id).await? else { return Ok(Vec::new()) };
    Ok(tx.shop_claims(shop.id, 50).await?)
}

/// The merchant stayed silent past the deadline: an eligible claim gets its remedy; one the rules do not cover is
/// closed as rejected with the reasons (the buyer may still take it to the platform).
pub async fn run_deadlines(state: &App) -> Result<u64, ClaimsError> {
    let now = state.now();
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.claims_past_deadline(now, BATCH).await?
    };
    let mut handled = 0;
    for stale in due {
        let mut tx = state.store.begin(TxMode::Write).await?;
        let Some(c) = tx.claim_by_no(&stale.claim_no).await? else { continue };
        if !claim::silence_runs_remedy(&core_claim(&c), now) {
            continue; // decided meanwhile, or by another instance
        }
        let order = tx.order_by_id(c.order_id).await?.ok_or(ClaimsError::Vanished("claimed order"))?;
        if c.eligible {
            match run_remedy(state, &mut *tx, &order, &c, None, RemedyTrigger::MerchantSilent, now).await {
                Ok(_) => {}
                // The claim changed meanwhile, or its refund has nothing left to come from: the merchant or the
                // buyer acts next.
                Err(e @ (ClaimsError::Changed | ClaimsError::RefundUnavailable)) => {
                    tracing::warn!(claim = %c.claim_no, error = %e, "deadline remedy could not run");
                    continue;
                }
                Err(e) => return Err(e),
            }
        } else {
            let reason = "商家未在时限内处理；该申请不符合购买时的补单规则，系统已关闭，买家可申请平台介入 / \
                          The merchant did not answer in time; the claim is outside the rules it was sold under, so \
                          it was closed and the buyer may ask the platform to step in";
            let d = ClaimRecord {
                state: ClaimState::Rejected,
                due_at: None,
                decision_reason: Some(reason.into()),
                decided_at: Some(now),
                auto_remedied: false,
                ..c.clone()
            };
            save(&mut *tx, &d, c.state).await?;
            append_event(
                &mut *tx,
                order.id,
                &OrderEvent::ClaimRejected { claim_no: &c.claim_no, item: c.item, why: Rejection::SilentIneligible },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        handled += 1;
    }
    Ok(handled)
}

impl From<crate::insurance::PayoutError> for ClaimsError {
    fn from(e: crate::insurance::PayoutError) -> Self {
        use crate::insurance::PayoutError as P;
        match e {
            P::Ledger(e) => ClaimsError::Ledger(e),
            P::Vanished(what) => ClaimsError::Vanished(what),
            P::Store(e) => ClaimsError::Store(e),
        }
    }
}

/// When escrow of an order delivered at `delivered` may be released: the platform's window, or the policy's claim
/// window when that is longer.
pub fn settle_after(state: &App, order: &Order, delivered: Timestamp) -> Timestamp {
    let platform = delivered.plus_seconds(state.config.claim_window_seconds);
    match policy_of(order) {
        Some(p) => platform.max(p.window.closes(delivered)),
        None => platform,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_trusts_content_not_names() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest").map(|s| s.1), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0").map(|s| s.1), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").map(|s| s.1), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42").map(|s| s.0), Some(EvidenceKind::ScreenRecording));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  ").map(|s| s.1), Some("video/quicktime"));
        assert_eq!(sniff("错误代码 E1024".as_bytes()).map(|s| s.0), Some(EvidenceKind::ErrorText));
        assert_eq!(sniff(b"MZ\x90\0\x03\0"), None, "an executable is refused");
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("C:\\Users\\a\\截图 1.png", "x"), "截图 1.png");
        assert_eq!(clean_name("../../etc/passwd", "x"), "passwd");
        assert_eq!(clean_name("a\u{0}b\nc.txt", "x"), "abc.txt");
        assert_eq!(clean_name("..", "fallback"), "fallback");
    }

    #[test]
    fn claim_numbers_are_checked_before_any_lookup() {
        let no = new_claim_no();
        assert_eq!(parse_claim_no(&no), Some(no.as_str()));
        assert_eq!(parse_claim_no("CL123"), None);
        assert_eq!(parse_claim_no("XX0123456789ABCDEF01234567"), None);
        assert_eq!(parse_claim_no("CL0123456789abcdef01234567"), None);
    }
}
