//! The complaint package (维权材料包): one zip a buyer takes to platform support or to 12315, holding a readable
//! report (HTML, Chinese with English), the warranty policy as sold with its SHA-256, the order's event chain,
//! its ledger entries, the claims with their disputes and statements, the evidence files, and a manifest of the
//! SHA-256 of every file. [`verify`] re-checks a package offline (`kabao verify-bundle`) and names what was
//! altered: a file whose hash does not match, a file added or missing, a broken event chain, a policy that is not
//! the one hashed on the order, evidence not bound to its file.

use crate::App;
use kabao_core::audit::ChainedEvent;
use kabao_core::warranty::WarrantyPolicy;
use kabao_core::{Lang, Localized};
use kabao_store::{Order, StoreError, TxMode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};

pub const FORMAT: &str = "kabao-complaint-package/1";
const MANIFEST: &str = "manifest.json";
/// A package never holds more than this (evidence is limited per claim; this bounds a hostile zip on reading).
const MAX_PACKAGE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub order_no: String,
    pub generated_at_ms: i64,
    /// The SHA-256 recorded on the order for the policy it was sold under.
    pub warranty_sha256: String,
    /// The hash of the order's last event: platform support can confirm it against the live chain.
    pub event_chain_head: String,
    pub files: Vec<ManifestFile>,
}

#[derive(Serialize, Deserialize)]
struct EvidenceEntry {
    claim_no: String,
    path: String,
    sha256: String,
    kind: String,
    file_name: String,
    added_by: String,
    binding: String,
    binding_sha256: String,
    created_at_ms: i64,
}

/// Why a package could not be built: every cause is internal (the order is one the caller may see).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("evidence file {sha256} is missing from the store")]
    EvidenceMissing { sha256: String },
    #[error("package file not serialized: {0}")]
    Json(#[from] serde_json::Error),
    #[error("package not zipped: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for BundleError {
    fn code(&self) -> &'static str {
        "internal"
    }

    fn message(&self, lang: Lang) -> String {
        crate::error::internal_message(lang)
    }
}

/// SHA-256 in lowercase hex, as the manifest lists it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Builds the package of an order the caller may see.
pub async fn build(state: &App, order: &Order) -> Result<Vec<u8>, BundleError> {
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Read).await?;
    let product = tx.product_by_id(order.product_id).await?.map(|p| p.title).unwrap_or_default();
    let shop = tx.shop_by_id(order.shop_id).await?.map(|s| s.name).unwrap_or_default();
    let events = tx.order_events(order.id).await?;
    let entries = tx.order_ledger_entries(order.id).await?;
    let claims = tx.order_claims(order.id).await?;
    let chat = tx.order_chat(order.id, crate::chat::MAX_SHOWN).await?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut evidence_entries = Vec::new();
    let mut claims_json = Vec::new();
    for c in &claims {
        let evidence = tx.claim_evidence(c.id).await?;
        for e in &evidence {
            let sha = hex::encode(&e.sha256);
            let path = format!("evidence/{}-{}", &sha[..16], e.file_name.replace(['/', '\\'], "_"));
            if !files.iter().any(|(p, _)| *p == path) {
                let (_, content) = tx
                    .evidence_file(&e.sha256)
                    .await?
                    .ok_or_else(|| BundleError::EvidenceMissing { sha256: sha.clone() })?;
                files.push((path.clone(), content));
            }
            evidence_entries.push(EvidenceEntry {
                claim_no: c.claim_no.clone(),
                path,
                sha256: sha,
                kind: e.kind.as_str().into(),
                file_name: e.file_name.clone(),
                added_by: e.added_by.as_str().into(),
                binding: e.binding.clone(),
                binding_sha256: hex::encode(&e.binding_sha256),
                created_at_ms: e.created_at.millis(),
            });
        }
        let dispute = tx.dispute_of_claim(c.id).await?;
        let statements = match &dispute {
            Some(d) => tx.dispute_statements(d.id).await?,
            None => Vec::new(),
        };
        claims_json.push(serde_json::json!({
            "claim_no": c.claim_no,
            "item": c.item,
            "defect": c.defect.as_str(),
            "description": c.description,
            "activated": c.activated,
            "eligible": c.eligible,
            "reasons": serde_json::from_str::<serde_json::Value>(&c.reasons).unwrap_or_default(),
            "state": c.state.as_str(),
            "due_at_ms": c.due_at.map(|t| t.millis()),
            "request_note": c.request_note,
            "decision_reason": c.decision_reason,
            "decided_at_ms": c.decided_at.map(|t| t.millis()),
            "created_at_ms": c.created_at.millis(),
            "dispute": dispute.as_ref().map(|d| serde_json::json!({
                "opened_at_ms": d.opened_at.millis(),
                "ruling": d.ruling,
                "refund_fen": d.refund.map(|m| m.fen()),
                "reason": d.reason,
                "decided_at_ms": d.decided_at.map(|t| t.millis()),
                "statements": statements
                    .iter()
                    .map(|s| serde_json::json!({
                        "party": s.party.as_str(),
                        "body": s.body,
                        "at_ms": s.created_at.millis(),
                    }))
                    .collect::<Vec<_>>(),
            })),
        }));
    }
    drop(tx);

    let json = |v: &serde_json::Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    files.push(("policy/snapshot.json".into(), order.warranty_snapshot.as_bytes().to_vec()));
    files.push(("order/events.json".into(), serde_json::to_vec_pretty(&events)?));
    let ledger: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "tx_id": e.tx_id,
                "kind": e.kind.as_str(),
                "account": e.account.key(),
                "amount_fen": e.amount.fen(),
                "at_ms": e.created_at.millis(),
            })
        })
        .collect();
    files.push(("order/ledger.json".into(), json(&serde_json::Value::Array(ledger))));
    files.push((
        "order/order.json".into(),
        json(&serde_json::json!({
            "order_no": order.order_no,
            "product_id": order.product_id.0,
            "product_title": product,
            "shop_id": order.shop_id.0,
            "shop_name": shop,
            "quantity": order.quantity,
            "unit_price_fen": order.unit_price.fen(),
            "amount_fen": order.amount.fen(),
            "state": order.state.as_str(),
            "created_at_ms": order.created_at.millis(),
            "paid_at_ms": order.paid_at.map(|t| t.millis()),
            "delivered_at_ms": order.delivered_at.map(|t| t.millis()),
            "warranty_sha256": hex::encode(&order.warranty_sha256),
            "warranty_acknowledged": order.warranty_ack,
        })),
    ));
    files.push(("claims/claims.json".into(), json(&serde_json::Value::Array(claims_json))));
    files.push(("claims/evidence.json".into(), serde_json::to_vec_pretty(&evidence_entries)?));
    // Every key verifier's answer (验货), as chained: the event's place, time and hash beside its body.
    let verification: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| e.kind == kabao_core::events::EventKind::ClaimVerified.as_str())
        .map(|e| {
            serde_json::json!({
                "seq": e.seq,
                "at_ms": e.at_ms,
                "event_sha256": hex::encode(e.hash),
                "answer": serde_json::from_str::<serde_json::Value>(&e.body).unwrap_or_default(),
            })
        })
        .collect();
    files.push(("claims/verification.json".into(), json(&serde_json::Value::Array(verification))));
    // The chat as the buyer saw it (the other side's contact details masked), with the scanner's rules and the
    // SHA-256 of each message as written, so the platform's copy can prove the original.
    let shown = crate::chat::shown(&chat, kabao_store::ChatParty::Buyer, Lang::Zh);
    let chat_json: Vec<serde_json::Value> = chat
        .iter()
        .zip(&shown)
        .map(|(m, v)| {
            serde_json::json!({
                "sender": v.sender,
                "created_at_ms": v.created_at,
                "body": v.body,
                "masked": v.masked,
                "rules": v.rules,
                "body_sha256": sha256_hex(m.body.as_bytes()),
            })
        })
        .collect();
    files.push(("chat/messages.json".into(), json(&serde_json::Value::Array(chat_json))));
    let report = report_html(
        order,
        (&product, &shop),
        &events,
        Sections { evidence: &evidence_entries, claims: &claims, chat: &shown },
        now,
    );
    files.push(("report.html".into(), report.into_bytes()));

    let manifest = Manifest {
        format: FORMAT.into(),
        order_no: order.order_no.clone(),
        generated_at_ms: now.millis(),
        warranty_sha256: hex::encode(&order.warranty_sha256),
        event_chain_head: events.last().map(|e| hex::encode(e.hash)).unwrap_or_default(),
        files: files
            .iter()
            .map(|(p, b)| ManifestFile { path: p.clone(), sha256: sha256_hex(b), bytes: b.len() as u64 })
            .collect(),
    };
    files.push((MANIFEST.into(), serde_json::to_vec_pretty(&manifest)?));
    Ok(zip_files(&files)?)
}

/// Writes files into a zip (deflated, with fixed timestamps so the same content gives the same bytes).
pub fn zip_files(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in files {
        w.start_file(path.as_str(), options)?;
        w.write_all(bytes)?;
    }
    Ok(w.finish()?.into_inner())
}

/// The parts of the report that list what happened after the sale.
struct Sections<'a> {
    evidence: &'a [EvidenceEntry],
    claims: &'a [kabao_store::ClaimRecord],
    chat: &'a [crate::chat::Shown],
}

fn report_html(
    order: &Order,
    (product, shop): (&str, &str),
    events: &[ChainedEvent],
    Sections { evidence, claims, chat }: Sections<'_>,
    now: kabao_core::Timestamp,
) -> String {
    let dt = crate::display::datetime;
    let rules = WarrantyPolicy::from_snapshot(&order.warranty_snapshot);
    let mut h = String::new();
    h.push_str("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.push_str(&format!("<title>维权材料包 Complaint package {}</title>", esc(&order.order_no)));
    h.push_str("<style>body{font-family:sans-serif;max-width:48rem;margin:1rem auto;padding:0 1rem;line-height:1.5}");
    h.push_str("code{word-break:break-all;font-size:.85em}table{border-collapse:collapse;width:100%}");
    h.push_str("td,th{border:1px solid #ccc;padding:.25rem;text-align:left;vertical-align:top}</style></head><body>");
    h.push_str("<h1>卡保维权材料包 <small>Kabao complaint package</small></h1>");
    h.push_str(&format!(
        "<p>订单号 Order <code>{}</code> · 生成时间 Generated {} (UTC+8)</p>",
        esc(&order.order_no),
        dt(now)
    ));
    h.push_str("<h2>如何使用 How to use this package</h2><ol>");
    h.push_str("<li>先在卡保订单页向平台客服提交（平台介入），把本文件作为附件。<br>");
    h.push_str("First ask Kabao platform support to step in from the order page, attaching this file.</li>");
    h.push_str(
        "<li>如未解决，可向 12315（全国12315平台 www.12315.cn 或拨打 12315）投诉：被投诉方填写店铺名称与卡保平台，",
    );
    h.push_str("诉求写明补发或退款，并上传本材料包中的 report.html 与证据文件。<br>");
    h.push_str("If unresolved, complain to 12315 (www.12315.cn or call 12315): name the shop and the Kabao platform, ");
    h.push_str("state the remedy you ask for, and upload report.html and the evidence files.</li>");
    h.push_str(
        "<li>manifest.json 记录了每个文件的 SHA-256 指纹；任何人可用 <code>kabao verify-bundle 本文件.zip</code> ",
    );
    h.push_str("离线核验材料未被改动，平台可用订单事件链的最新哈希核对原始记录。<br>");
    h.push_str("manifest.json holds every file's SHA-256; anyone can check the package offline with ");
    h.push_str("<code>kabao verify-bundle FILE.zip</code>, and the platform can match the event chain's head hash ");
    h.push_str("against its records.</li></ol>");
    h.push_str("<h2>订单 Order</h2><table>");
    for (k, v) in [
        ("商品 Product", esc(product)),
        ("店铺 Shop", esc(shop)),
        ("数量 Quantity", order.quantity.to_string()),
        ("单价 Unit price", order.unit_price.to_string()),
        ("金额 Amount", order.amount.to_string()),
        ("状态 State", format!("{} / {}", order.state.label(Lang::Zh), order.state.label(Lang::En))),
        ("下单 Ordered", dt(order.created_at)),
        ("付款 Paid", order.paid_at.map(dt).unwrap_or_else(|| "-".into())),
        ("发货 Delivered", order.delivered_at.map(dt).unwrap_or_else(|| "-".into())),
    ] {
        h.push_str(&format!("<tr><th>{k}</th><td>{v}</td></tr>"));
    }
    h.push_str("</table>");
    h.push_str("<h2>购买时的补单规则 Warranty rules as sold</h2>");
    let summary = rules.as_ref().map(WarrantyPolicy::summary);
    h.push_str(&format!(
        "<p><b>{} / {}</b></p>",
        esc(&kabao_core::warranty::warranty_label(summary, Lang::Zh)),
        esc(&kabao_core::warranty::warranty_label(summary, Lang::En))
    ));
    match &rules {
        Some(p) => {
            h.push_str("<ul>");
            for (zh, en) in p.describe(Lang::Zh).iter().zip(p.describe(Lang::En)) {
                h.push_str(&format!("<li>{}<br><small>{}</small></li>", esc(zh), esc(&en)));
            }
            h.push_str("</ul>");
        }
        None => h.push_str("<p>该订单购买时无质保 / Sold without a warranty</p>"),
    }
    h.push_str(&format!(
        "<p>规则快照 SHA-256（买家付款前确认）Policy snapshot SHA-256 (acknowledged before paying): <code>{}</code></p>",
        hex::encode(&order.warranty_sha256)
    ));
    h.push_str("<h2>售后申请 Claims</h2>");
    if claims.is_empty() {
        h.push_str("<p>无 / None</p>");
    }
    for c in claims {
        h.push_str(&format!(
            "<h3><code>{}</code> · 第 {} 件 item {}</h3><p>{} / {} · {} / {}</p>",
            esc(&c.claim_no),
            c.item,
            c.item,
            c.defect.label(Lang::Zh),
            c.defect.label(Lang::En),
            c.state.label(Lang::Zh),
            c.state.label(Lang::En)
        ));
        for r in crate::claims::reasons(c, Lang::Zh).iter().zip(crate::claims::reasons(c, Lang::En)) {
            h.push_str(&format!("<p>不符合规则 Outside the rules: {} / {}</p>", esc(r.0), esc(&r.1)));
        }
        if !c.description.is_empty() {
            h.push_str(&format!("<p>{}</p>", esc(&c.description)));
        }
        if let Some(r) = &c.decision_reason {
            h.push_str(&format!("<p>处理理由 Reason given: {}</p>", esc(r)));
        }
    }
    h.push_str("<h2>证据 Evidence</h2><table><tr><th>文件 File</th><th>SHA-256</th><th>时间 Time</th></tr>");
    for e in evidence {
        h.push_str(&format!(
            "<tr><td>{} ({})<br><small>{}</small></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&e.file_name),
            esc(&e.kind),
            esc(&e.path),
            e.sha256,
            dt(kabao_core::Timestamp(e.created_at_ms))
        ));
    }
    h.push_str("</table><h2>沟通记录 Chat</h2>");
    if chat.is_empty() {
        h.push_str("<p>无 None</p>");
    }
    for m in chat {
        h.push_str(&format!(
            "<p><b>{}</b> {}<br>{}{}</p>",
            esc(&m.sender),
            dt(kabao_core::Timestamp(m.created_at)),
            esc(&m.body),
            if m.rules.is_empty() {
                String::new()
            } else {
                format!("<br><small>风控命中 Risk rules: {}</small>", esc(&m.rules.join(", ")))
            }
        ));
    }
    h.push_str("<h2>订单时间线（哈希链）Timeline (hash chain)</h2><ol>");
    for e in events {
        h.push_str(&format!(
            "<li>{} · {} / {} <br><small><code>{}</code></small></li>",
            dt(kabao_core::Timestamp(e.at_ms)),
            esc(kabao_core::events::label_or_other(&e.kind, &e.body, Lang::Zh)),
            esc(kabao_core::events::label_or_other(&e.kind, &e.body, Lang::En)),
            hex::encode(e.hash)
        ));
    }
    h.push_str("</ol><p><small>由卡保平台生成。Generated by the Kabao platform.</small></p></body></html>");
    h
}

/// The files of a zip, in order, refusing archives larger than any package can be.
pub fn unzip(zip_bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).map_err(|e| format!("not a zip file: {e}"))?;
    let mut out = Vec::with_capacity(archive.len());
    let mut total = 0u64;
    for i in 0..archive.len() {
        let f = archive.by_index(i).map_err(|e| format!("unreadable entry {i}: {e}"))?;
        let name = f.name().to_string();
        let mut bytes = Vec::new();
        // Read at most what is left of the budget (+1 to notice going over), whatever the header claims.
        f.take(MAX_PACKAGE_BYTES - total + 1).read_to_end(&mut bytes).map_err(|e| format!("{name}: {e}"))?;
        total = total.saturating_add(bytes.len() as u64);
        if total > MAX_PACKAGE_BYTES {
            return Err("the package is larger than any Kabao package can be".into());
        }
        out.push((name, bytes));
    }
    Ok(out)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub order_no: String,
    pub files: usize,
    pub events: usize,
    /// Every problem, naming the part; empty when the package is intact.
    pub problems: Vec<String>,
}

/// Re-checks a package: each file against the manifest, no file added or missing, the event chain, the policy's
/// hash, and every piece of evidence against its file and its binding.
pub fn verify(zip_bytes: &[u8]) -> Result<Verdict, String> {
    let files: BTreeMap<String, Vec<u8>> = unzip(zip_bytes)?.into_iter().collect();
    let manifest: Manifest = files
        .get(MANIFEST)
        .ok_or("manifest.json is missing")
        .and_then(|b| serde_json::from_slice(b).map_err(|_| "manifest.json is not a Kabao manifest"))?;
    if manifest.format != FORMAT {
        return Err(format!("unknown package format {:?}", manifest.format));
    }
    let mut problems = Vec::new();
    let listed: BTreeMap<&str, &ManifestFile> = manifest.files.iter().map(|f| (f.path.as_str(), f)).collect();
    for (path, bytes) in &files {
        if path == MANIFEST {
            continue;
        }
        match listed.get(path.as_str()) {
            None => problems.push(format!("{path}: added (not in the manifest)")),
            Some(m) if m.sha256 != sha256_hex(bytes) => {
                problems.push(format!("{path}: altered (SHA-256 does not match the manifest)"))
            }
            Some(_) => {}
        }
    }
    for path in listed.keys() {
        if !files.contains_key(*path) {
            problems.push(format!("{path}: missing"));
        }
    }
    // The event chain: each event's hash over the previous hash and its canonical body.
    let mut events = 0;
    match files.get("order/events.json").map(|b| serde_json::from_slice::<Vec<ChainedEvent>>(b)) {
        Some(Ok(chain)) => {
            events = chain.len();
            if let Err(e) = kabao_core::audit::verify_chain(&chain) {
                problems.push(format!("order/events.json: event chain broken: {e}"));
            }
            let head = chain.last().map(|e| hex::encode(e.hash)).unwrap_or_default();
            if head != manifest.event_chain_head {
                problems.push("order/events.json: the chain does not end at the manifest's head hash".into());
            }
        }
        Some(Err(_)) => problems.push("order/events.json: unreadable".into()),
        None => {}
    }
    // The policy as sold: its hash is the one on the order.
    if let Some(snapshot) = files.get("policy/snapshot.json") {
        if hex::encode(WarrantyPolicy::snapshot_sha256(&String::from_utf8_lossy(snapshot))) != manifest.warranty_sha256
        {
            problems.push("policy/snapshot.json: not the policy the order was sold under (hash mismatch)".into());
        }
    }
    // Evidence: each file is the one its record names, and each binding hashes to its recorded hash.
    if let Some(Ok(list)) = files.get("claims/evidence.json").map(|b| serde_json::from_slice::<Vec<EvidenceEntry>>(b)) {
        for e in list {
            match files.get(&e.path) {
                Some(bytes) if sha256_hex(bytes) != e.sha256 => {
                    problems.push(format!("{}: altered (not the evidence recorded)", e.path))
                }
                None => problems.push(format!("{}: missing evidence file", e.path)),
                _ => {}
            }
            if sha256_hex(e.binding.as_bytes()) != e.binding_sha256 {
                problems.push(format!("claims/evidence.json: binding of {} altered", e.path));
            }
            let bound = serde_json::from_str::<serde_json::Value>(&e.binding).ok();
            if bound.as_ref().and_then(|b| b.get("file_sha256")).and_then(|v| v.as_str()) != Some(e.sha256.as_str()) {
                problems.push(format!("claims/evidence.json: {} is not bound to its file", e.path));
            }
        }
    }
    problems.sort();
    problems.dedup();
    Ok(Verdict { order_no: manifest.order_no, files: files.len(), events, problems })
}
