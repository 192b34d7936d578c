//! Certification (店铺认证): a merchant applies for verified (实名认证) or enterprise (企业店铺) with the details
//! each needs; an admin approves (the shop gets the level) or rejects with a reason. The id number is checked by
//! its check character, then kept only masked and as a keyed fingerprint, so an admin sees when one person or
//! company stands behind several shops without the platform holding the number itself.

use crate::App;
use kabao_core::catalog::CertificationLevel;
use kabao_core::certification::{self, ApplicationInput};
use kabao_core::{Lang, Localized, ShopId};
use kabao_store::{CertificationApplication, StoreError, TxMode, User};

/// Why an application or a decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum CertificationError {
    /// The application's details are not acceptable (named field).
    #[error(transparent)]
    Invalid(#[from] certification::CertificationError),
    #[error("the merchant has no shop")]
    NoShop,
    #[error("the shop already holds this level or a higher one")]
    AlreadyHeld,
    #[error("an application is already under review")]
    AlreadyPending,
    #[error("the decision is neither approve nor reject")]
    DecisionInvalid,
    #[error("the reason is empty or over 500 characters")]
    ReasonInvalid,
    #[error("no such application")]
    NotFound,
    #[error("the application has been decided already")]
    AlreadyDecided,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
}

impl Localized for CertificationError {
    fn code(&self) -> &'static str {
        use CertificationError as E;
        match self {
            E::Invalid(e) => e.code(),
            E::NoShop => "shop.required",
            E::AlreadyHeld => "certification.held",
            E::AlreadyPending => "certification.pending",
            E::DecisionInvalid => "certification.decision",
            E::ReasonInvalid => "certification.reason",
            E::NotFound => "certification.not_found",
            E::AlreadyDecided => "certification.decided",
            E::Shop(e) => e.code(),
            E::Store(_) => "internal",
        }
    }

    fn field(&self) -> Option<&'static str> {
        use CertificationError as E;
        match self {
            E::Invalid(e) => e.field(),
            E::DecisionInvalid => Some("decision"),
            E::ReasonInvalid => Some("reason"),
            _ => None,
        }
    }

    fn message(&self, lang: Lang) -> String {
        use CertificationError as E;
        let text = match self {
            E::Invalid(e) => return e.message(lang),
            E::NoShop => lang.pick("请先开设店铺", "Open a shop first"),
            E::AlreadyHeld => {
                lang.pick("店铺已具备该认证（或更高）", "The shop already holds this certification (or a higher one)")
            }
            E::AlreadyPending => lang.pick("已有一份申请在审核中", "An application is already under review"),
            E::DecisionInvalid => lang.pick("请选择通过或拒绝", "Choose approve or reject"),
            E::ReasonInvalid => lang.pick("请填写理由（最多 500 字）", "Give a reason (up to 500 characters)"),
            E::NotFound => lang.pick("找不到该内容", "Not found"),
            E::AlreadyDecided => lang.pick("该申请已处理", "This application has been decided already"),
            E::Shop(e) => return e.message(lang),
            E::Store(_) => return crate::error::internal_message(lang),
        };
        text.to_string()
    }
}

/// The keyed fingerprint of an id number (platform-wide, so equal across shops).
fn id_fingerprint(state: &App, id_number: &str) -> Vec<u8> {
    state.keyring.fingerprint(ShopId(0), &format!("certification-id:{id_number}")).0.to_vec()
}

/// The merchant applies for a level.
pub async fn apply(
    state: &App,
    merchant: &User,
    input: &ApplicationInput,
) -> Result<CertificationApplication, CertificationError> {
    let app = certification::parse(input)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let shop = tx.shop_by_owner(merchant.id).await?.ok_or(CertificationError::NoShop)?;
    let has = shop.certification;
    if has == app.level
        || has == CertificationLevel::Gold
        || (has == CertificationLevel::Enterprise && app.level == CertificationLevel::Verified)
    {
        return Err(CertificationError::AlreadyHeld);
    }
    let details = serde_json::json!({
        "name": app.name,
        "legal_person": app.legal_person,
        "phone": certification::mask(&app.phone),
    });
    let mut record = CertificationApplication {
        id: 0,
        shop_id: shop.id,
        level: app.level,
        details_json: details.to_string(),
        id_masked: app.id_masked(),
        id_fingerprint: id_fingerprint(state, &app.id_number),
        state: "pending".into(),
        reason: None,
        decided_by: None,
        decided_at: None,
        created_at: state.clock.now(),
    };
    record.id = match tx.insert_certification_application(&record).await {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => return Err(CertificationError::AlreadyPending),
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    tracing::info!(shop = %shop.id, level = app.level.as_str(), "certification applied for");
    Ok(record)
}

/// The merchant's applications, newest first.
pub async fn of_merchant(state: &App, merchant: &User) -> Result<Vec<CertificationApplication>, CertificationError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    match tx.shop_by_owner(merchant.id).await? {
        Some(shop) => Ok(tx.shop_certification_applications(shop.id).await?),
        None => Ok(Vec::new()),
    }
}

/// An application waiting for an admin, with what the admin should know.
pub struct Pending {
    pub application: CertificationApplication,
    pub shop_name: String,
    /// Other shops with the same id fingerprint.
    pub same_id_shops: Vec<ShopId>,
}

/// Pending applications, oldest first.
pub async fn pending(state: &App, admin: &User) -> Result<Vec<Pending>, CertificationError> {
    crate::shops::require_admin(admin)?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let apps = tx.pending_certification_applications(200).await?;
    let mut out = Vec::with_capacity(apps.len());
    for a in apps {
        let shop_name = tx.shop_by_id(a.shop_id).await?.map(|s| s.name).unwrap_or_default();
        let same_id_shops = tx.shops_with_id_fingerprint(&a.id_fingerprint, a.shop_id).await?;
        out.push(Pending { application: a, shop_name, same_id_shops });
    }
    Ok(out)
}

/// An admin decides an application: `approve` gives the shop the level, `reject` records why. Once.
pub async fn decide(
    state: &App,
    admin: &User,
    id: i64,
    decision: &str,
    reason: &str,
) -> Result<CertificationApplication, CertificationError> {
    crate::shops::require_admin(admin)?;
    let approve = match decision.trim() {
        "approve" => true,
        "reject" => false,
        _ => return Err(CertificationError::DecisionInvalid),
    };
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(CertificationError::ReasonInvalid);
    }
    let now = state.clock.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let app = tx.certification_application(id).await?.ok_or(CertificationError::NotFound)?;
    let to = if approve { "approved" } else { "rejected" };
    if !tx.decide_certification_application(id, to, reason, admin.id, now).await? {
        return Err(CertificationError::AlreadyDecided);
    }
    if approve {
        tx.set_shop_certification(app.shop_id, app.level).await?;
    }
    let app = tx.certification_application(id).await?.ok_or(CertificationError::NotFound)?;
    tx.commit().await?;
    let level = app.level.as_str();
    tracing::info!(shop = %app.shop_id, level, decision = to, admin = %admin.id, "certification decided");
    Ok(app)
}
