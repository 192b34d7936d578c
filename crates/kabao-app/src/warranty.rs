//! Warranty policies (补单规则) of products: merchants set them (from a template or built field by field), every
//! change is a new version, and checkout fixes the current one on the order as a snapshot with its SHA-256.

use crate::products::ProductError;
use crate::App;
use kabao_core::warranty::{templates, PolicyError, WarrantyPolicy};
use kabao_core::{Lang, Localized, ProductId};
use kabao_store::{PolicyVersion, StoreError, Tx, TxMode, User};

/// Why a product's warranty policy could not be set or read, or a buyer's accepted terms are out of date.
#[derive(Debug, thiserror::Error)]
pub enum WarrantyError {
    #[error("no such policy template")]
    TemplateUnknown,
    /// The policy sent as JSON is not in the expected form.
    #[error("the policy is not in the expected form: {detail}")]
    PolicyMalformed { detail: String },
    /// The policy is incoherent (named by field).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The buyer accepted other terms than the current ones: the merchant changed them meanwhile.
    #[error("the warranty terms changed since the buyer saw them")]
    Changed,
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error("stored warranty policy {version_id} unreadable: {cause}")]
    StoredPolicyUnreadable { version_id: i64, cause: serde_json::Error },
    #[error("warranty policy not serializable: {0}")]
    Encode(serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for WarrantyError {
    fn code(&self) -> &'static str {
        match self {
            WarrantyError::TemplateUnknown => "warranty.template_unknown",
            WarrantyError::PolicyMalformed { .. } => "warranty.policy_invalid",
            WarrantyError::Policy(e) => e.code(),
            WarrantyError::Changed => "order.warranty_changed",
            WarrantyError::Product(e) => e.code(),
            WarrantyError::StoredPolicyUnreadable { .. } | WarrantyError::Encode(_) | WarrantyError::Store(_) => {
                "internal"
            }
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            WarrantyError::TemplateUnknown => Some("template"),
            WarrantyError::PolicyMalformed { .. } => Some("policy"),
            WarrantyError::Policy(e) => e.field(),
            WarrantyError::Changed => Some("warranty_sha256"),
            WarrantyError::Product(e) => e.field(),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            WarrantyError::TemplateUnknown => lang.pick("没有这个规则模板", "No such policy template").into(),
            WarrantyError::PolicyMalformed { detail } => match lang {
                Lang::Zh => format!("补单规则格式不正确：{detail}"),
                Lang::En => format!("The policy is not in the expected form: {detail}"),
            },
            WarrantyError::Policy(e) => e.message(lang),
            WarrantyError::Changed => lang
                .pick(
                    "商家刚刚修改了补单规则，请重新阅读并确认后再下单",
                    "The merchant has just changed the warranty rules; please read and confirm them again",
                )
                .into(),
            WarrantyError::Product(e) => e.message(lang),
            WarrantyError::StoredPolicyUnreadable { .. } | WarrantyError::Encode(_) | WarrantyError::Store(_) => {
                crate::error::internal_words(lang).into()
            }
        }
    }
}

/// The snapshot of "no warranty" (无质保).
pub const NO_WARRANTY_SNAPSHOT: &str = r#"{"warranty":"none"}"#;

/// A product's current policy, parsed.
#[derive(Debug, Clone)]
pub struct Current {
    pub version: PolicyVersion,
    pub policy: WarrantyPolicy,
}

impl Current {
    /// The snapshot an order sold now carries, and its SHA-256.
    pub fn snapshot(&self) -> (String, [u8; 32]) {
        let s = self.policy.snapshot();
        let sha = WarrantyPolicy::snapshot_sha256(&s);
        (s, sha)
    }
}

/// The snapshot and hash for a product's current terms: its policy, or 无质保.
pub fn snapshot_of(current: Option<&Current>) -> (String, [u8; 32]) {
    match current {
        Some(c) => c.snapshot(),
        None => (NO_WARRANTY_SNAPSHOT.to_string(), WarrantyPolicy::snapshot_sha256(NO_WARRANTY_SNAPSHOT)),
    }
}

/// The product's current policy inside the caller's transaction.
pub async fn current(tx: &mut dyn Tx, product: ProductId) -> Result<Option<Current>, WarrantyError> {
    let Some(version) = tx.current_policy(product).await? else { return Ok(None) };
    let policy = serde_json::from_str::<WarrantyPolicy>(&version.policy)
        .map_err(|cause| WarrantyError::StoredPolicyUnreadable { version_id: version.id, cause })?;
    Ok(Some(Current { version, policy }))
}

/// The product's current policy in a read transaction of its own.
pub async fn current_of(state: &App, product: ProductId) -> Result<Option<Current>, WarrantyError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    current(&mut *tx, product).await
}

/// What a merchant asks for.
pub enum Change {
    Template(String),
    Policy(WarrantyPolicy),
    /// 无质保 from now on.
    None,
}

/// Sets a product's policy. A policy equal to the current one creates no new version.
pub async fn set(
    state: &App,
    merchant: &User,
    product: ProductId,
    change: Change,
) -> Result<Option<Current>, WarrantyError> {
    let (p, _) = crate::products::owned(state, merchant, product).await?;
    let policy = match change {
        Change::Template(id) => {
            Some(templates().into_iter().find(|t| t.id == id).map(|t| t.policy).ok_or(WarrantyError::TemplateUnknown)?)
        }
        Change::Policy(policy) => Some(policy),
        Change::None => None,
    };
    if let Some(policy) = &policy {
        policy.validate()?;
    }
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let before = current(&mut *tx, p.id).await?;
    let after = match policy {
        Some(policy) if before.as_ref().is_some_and(|c| c.policy == policy) => before,
        Some(policy) => {
            let current = record(&mut *tx, p.id, policy, now).await?;
            tracing::info!(product = %p.id, version = current.version.version, "warranty policy set");
            Some(current)
        }
        None => {
            tx.clear_policy(p.id).await?;
            tracing::info!(product = %p.id, "warranty policy removed (无质保)");
            None
        }
    };
    tx.commit().await?;
    Ok(after)
}

/// Stores a (validated) policy as the product's next version, in the caller's transaction.
pub async fn record(
    tx: &mut dyn Tx,
    product: ProductId,
    policy: WarrantyPolicy,
    now: kabao_core::Timestamp,
) -> Result<Current, WarrantyError> {
    let json = serde_json::to_string(&policy).map_err(WarrantyError::Encode)?;
    let sha = WarrantyPolicy::snapshot_sha256(&policy.snapshot());
    let version = tx.insert_policy_version(product, &json, &sha, now).await?;
    Ok(Current { version, policy })
}

/// Refuses a checkout whose buyer saw other terms than the current ones (the merchant changed them meanwhile).
pub fn check_seen(seen_sha256: Option<&str>, current_sha256: &[u8; 32]) -> Result<(), WarrantyError> {
    match seen_sha256.map(str::trim).filter(|s| !s.is_empty()) {
        Some(seen) if !seen.eq_ignore_ascii_case(&hex::encode(current_sha256)) => Err(WarrantyError::Changed),
        _ => Ok(()),
    }
}

/// A policy error for API callers who sent the policy as JSON.
pub fn parse_policy(value: serde_json::Value) -> Result<WarrantyPolicy, WarrantyError> {
    serde_json::from_value(value).map_err(|e| WarrantyError::PolicyMalformed { detail: e.to_string() })
}

/// Plain-language lines for a snapshot (an order page, a complaint package); 无质保 gives none.
pub fn describe_snapshot(snapshot: &str, lang: kabao_core::Lang) -> Vec<String> {
    WarrantyPolicy::from_snapshot(snapshot).map(|p| p.describe(lang)).unwrap_or_default()
}
