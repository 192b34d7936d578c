//! A merchant's payees (收款账户): where withdrawals are paid. Saved validated, never edited (remove and add
//! again), shown masked to everyone but the platform's payout team.

use crate::App;
use kabao_core::payee::{mask_account, mask_name, PayeeDetails, PayeeError};
use kabao_core::{Lang, Localized};
use kabao_store::{PayeeRecord, PayeeSnapshot, StoreError, TxMode, User};

/// A shop keeps at most this many payees at once.
pub const MAX_PAYEES: usize = 20;

/// Why a payee could not be saved, found or removed.
#[derive(Debug, thiserror::Error)]
pub enum PayeesError {
    #[error(transparent)]
    Invalid(#[from] PayeeError),
    /// Not the shop's own, removed, or none with that id.
    #[error("no such payee of this shop")]
    NotFound,
    #[error("the shop already keeps {max} payees")]
    TooMany { max: usize },
    #[error("the payee just saved could not be read back")]
    Vanished,
    /// Finding the merchant's shop failed (no shop).
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for PayeesError {
    fn code(&self) -> &'static str {
        match self {
            PayeesError::Invalid(e) => e.code(),
            PayeesError::NotFound => "payee.not_found",
            PayeesError::TooMany { .. } => "payee.too_many",
            PayeesError::Shop(e) => e.code(),
            PayeesError::Vanished | PayeesError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            PayeesError::Invalid(e) => e.field(),
            PayeesError::NotFound => Some("payee_id"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            PayeesError::Invalid(e) => e.message(lang),
            PayeesError::NotFound => lang.pick("找不到该收款账户", "No such payee").into(),
            PayeesError::TooMany { max } => match lang {
                Lang::Zh => format!("最多保存 {max} 个收款账户，请先删除不用的"),
                Lang::En => format!("At most {max} payees; remove one you no longer use first"),
            },
            PayeesError::Shop(e) => e.message(lang),
            PayeesError::Vanished | PayeesError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// A payee as shown anywhere but the payout page: account and name masked, bank in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedPayee {
    pub kind: kabao_core::payee::PayeeKind,
    pub account: String,
    pub holder_name: String,
    pub bank_name: Option<String>,
}

impl MaskedPayee {
    pub fn of(p: &PayeeSnapshot) -> MaskedPayee {
        MaskedPayee {
            kind: p.kind,
            account: mask_account(p.kind, &p.account),
            holder_name: mask_name(&p.holder_name),
            bank_name: p.bank_name.clone(),
        }
    }

    /// One line, e.g. "支付宝 138****5678 张*" or "银行卡 工商银行 ****7894 李*".
    pub fn line(&self, lang: Lang) -> String {
        describe(self.kind, &self.account, &self.holder_name, self.bank_name.as_deref(), lang)
    }
}

/// One line describing a payee, in full (the payout page) or masked (through [`MaskedPayee::line`]).
pub fn describe(
    kind: kabao_core::payee::PayeeKind,
    account: &str,
    holder_name: &str,
    bank_name: Option<&str>,
    lang: Lang,
) -> String {
    match bank_name {
        Some(bank) => format!("{} {bank} {account} {holder_name}", kind.label(lang)),
        None => format!("{} {account} {holder_name}", kind.label(lang)),
    }
}

/// Saves a payee for the merchant's shop.
pub async fn add_payee(
    state: &App,
    merchant: &User,
    kind: &str,
    account: &str,
    name: &str,
    bank_name: &str,
) -> Result<PayeeRecord, PayeesError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let details = PayeeDetails::parse(kind, account, name, bank_name)?;
    let snapshot = PayeeSnapshot {
        kind: details.kind(),
        account: details.account().to_string(),
        holder_name: details.name().to_string(),
        bank_name: details.bank_name().map(str::to_string),
    };
    let mut tx = state.store.begin(TxMode::Write).await?;
    if tx.list_shop_payees(shop.id, MAX_PAYEES as i64).await?.len() >= MAX_PAYEES {
        return Err(PayeesError::TooMany { max: MAX_PAYEES });
    }
    let id = tx.insert_payee(shop.id, &snapshot, state.now()).await?;
    let payee = tx.payee_by_id(id).await?.ok_or(PayeesError::Vanished)?;
    tx.commit().await?;
    tracing::info!(shop = %shop.id, payee = id, kind = snapshot.kind.as_str(), "payee added");
    Ok(payee)
}

/// The merchant's payees that can be chosen, newest first.
pub async fn my_payees(state: &App, merchant: &User) -> Result<Vec<PayeeRecord>, PayeesError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    Ok(tx.list_shop_payees(shop.id, MAX_PAYEES as i64).await?)
}

/// One of the merchant's payees that can be chosen; 404 for another shop's, a removed one, or none.
pub async fn my_payee(state: &App, merchant: &User, id: i64) -> Result<PayeeRecord, PayeesError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    match tx.payee_by_id(id).await? {
        Some(p) if p.shop_id == shop.id && p.disabled_at.is_none() => Ok(p),
        _ => Err(PayeesError::NotFound),
    }
}

/// Removes (disables) a payee; withdrawals already requested keep their copy of its details.
pub async fn remove_payee(state: &App, merchant: &User, id: i64) -> Result<(), PayeesError> {
    let shop = crate::shops::my_shop(state, merchant).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    if !tx.disable_payee(shop.id, id, state.now()).await? {
        return Err(PayeesError::NotFound);
    }
    tx.commit().await?;
    tracing::info!(shop = %shop.id, payee = id, "payee removed");
    Ok(())
}

/// The payee a withdrawal request names, inside the request's transaction: 404 unless it is the shop's own and
/// not removed.
pub(crate) async fn chosen_payee(
    tx: &mut dyn kabao_store::Tx,
    shop: kabao_core::ShopId,
    id: i64,
) -> Result<PayeeRecord, PayeesError> {
    match tx.payee_by_id(id).await? {
        Some(p) if p.shop_id == shop && p.disabled_at.is_none() => Ok(p),
        _ => Err(PayeesError::NotFound),
    }
}
