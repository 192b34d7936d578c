//! Shops: opening and editing one's shop, and what admins do to shops (certification, suspension).

use crate::App;
use kabao_core::catalog::{parse_description, parse_shop_name, CatalogError, CertificationLevel};
use kabao_core::user::Role;
use kabao_core::{Lang, Localized, ShopId};
use kabao_store::{NewShop, Shop, StoreError, TxMode, User};

/// Why a shop could not be opened, changed or found.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("only merchant accounts can open shops and manage products")]
    NotMerchant,
    /// Admins only.
    #[error("not an admin")]
    NotAdmin,
    #[error("the merchant already has a shop")]
    AlreadyOpen,
    #[error("the shop name is taken")]
    NameTaken,
    /// The merchant has not opened a shop yet.
    #[error("the merchant has no shop")]
    NoShop,
    /// No such shop, or one the viewer may not see (suspended).
    #[error("shop not found")]
    NotFound,
    #[error("unknown certification level")]
    CertificationLevelUnknown,
    #[error("a suspension needs a reason")]
    SuspensionReasonRequired,
    #[error("the suspension reason is longer than 500 characters")]
    SuspensionReasonTooLong,
    #[error("unknown role")]
    RoleUnknown,
    #[error("an admin cannot remove their own admin role")]
    SelfDemotion,
    #[error("user not found")]
    UserNotFound,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A row written in this transaction could not be read back.
    #[error("shop {0} vanished")]
    Vanished(ShopId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for ShopError {
    fn code(&self) -> &'static str {
        match self {
            ShopError::NotMerchant => "auth.merchant_only",
            ShopError::NotAdmin => "auth.forbidden",
            ShopError::AlreadyOpen => "shop.already_open",
            ShopError::NameTaken => "shop.name_taken",
            ShopError::NoShop => "shop.none",
            ShopError::NotFound => "shop.not_found",
            ShopError::CertificationLevelUnknown => "shop.certification_invalid",
            ShopError::SuspensionReasonRequired => "shop.suspension_reason_required",
            ShopError::SuspensionReasonTooLong => "shop.suspension_reason_too_long",
            ShopError::RoleUnknown => "account.role_invalid",
            ShopError::SelfDemotion => "account.self_demotion",
            ShopError::UserNotFound => "user.not_found",
            ShopError::Catalog(e) => e.code(),
            ShopError::Vanished(_) | ShopError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            ShopError::NameTaken => Some("name"),
            ShopError::CertificationLevelUnknown => Some("level"),
            ShopError::SuspensionReasonRequired | ShopError::SuspensionReasonTooLong => Some("reason"),
            ShopError::RoleUnknown | ShopError::SelfDemotion => Some("role"),
            ShopError::Catalog(e) => e.field(),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            ShopError::NotMerchant => {
                lang.pick("只有商家账号可以开店和管理商品", "Only merchant accounts can open shops and manage products")
            }
            ShopError::NotAdmin => lang.pick("没有权限执行此操作", "You are not allowed to do this"),
            ShopError::AlreadyOpen => lang.pick("你已经开过店铺了", "You already have a shop"),
            ShopError::NameTaken => lang.pick("店铺名称已被使用，请换一个", "This shop name is taken; choose another"),
            ShopError::NoShop => lang.pick("你还没有店铺，请先开店", "You have no shop yet; open one first"),
            ShopError::NotFound | ShopError::UserNotFound => lang.pick("找不到该内容", "Not found"),
            ShopError::CertificationLevelUnknown => lang.pick(
                "认证等级无效（none / verified / enterprise / gold）",
                "Unknown certification level (none / verified / enterprise / gold)",
            ),
            ShopError::SuspensionReasonRequired => {
                lang.pick("暂停店铺必须填写原因", "A reason is required to suspend a shop")
            }
            ShopError::SuspensionReasonTooLong => {
                lang.pick("原因不能超过 500 个字符", "The reason must be at most 500 characters")
            }
            ShopError::RoleUnknown => lang.pick(
                "角色无效（buyer / merchant / arbiter / admin）",
                "Unknown role (buyer / merchant / arbiter / admin)",
            ),
            ShopError::SelfDemotion => lang.pick("不能取消自己的管理员身份", "You cannot remove your own admin role"),
            ShopError::Catalog(e) => return e.message(lang),
            ShopError::Vanished(_) | ShopError::Store(_) => crate::error::internal_words(lang),
        }
        .into()
    }
}

fn shop_conflict(e: StoreError) -> ShopError {
    match e {
        StoreError::Conflict("shops.owner") => ShopError::AlreadyOpen,
        StoreError::Conflict("shops.name") => ShopError::NameTaken,
        e => ShopError::Store(e),
    }
}

pub fn require_merchant(user: &User) -> Result<(), ShopError> {
    if user.role == Role::Merchant {
        Ok(())
    } else {
        Err(ShopError::NotMerchant)
    }
}

/// Opens the merchant's one shop.
pub async fn open_shop(state: &App, merchant: &User, name: &str, description: &str) -> Result<Shop, ShopError> {
    require_merchant(merchant)?;
    let name = parse_shop_name(name)?;
    let description = parse_description(description)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let held = crate::listing::rules(state, &[name.as_str(), description.as_str()]);
    let id = tx
        .insert_shop(&NewShop { owner_id: merchant.id, name, description, opened_at: state.now() })
        .await
        .map_err(shop_conflict)?;
    if !held.is_empty() {
        tx.insert_risk_event(&crate::listing::event(crate::listing::SHOP, id, merchant.id, &held, state.now())).await?;
        tx.set_shop_held(id, crate::listing::held_json(&held).as_deref()).await?;
    }
    let shop = tx.shop_by_id(id).await?.ok_or(ShopError::Vanished(id))?;
    // Listings sort by the stored score, which the hourly review refreshes: a new shop starts with the score its
    // (empty) record gets now, not 0, so its products do not sink to the bottom until the first review.
    let inputs = crate::trust::inputs_in(&mut *tx, &crate::trust::Subject::from(&shop), state.now()).await.map_err(
        |e| match e {
            crate::trust::TrustError::Store(e) => ShopError::Store(e),
            crate::trust::TrustError::SortInvalid => ShopError::Vanished(id),
        },
    )?;
    tx.set_shop_trust_score(id, kabao_core::trust::compute(&inputs).score).await?;
    tx.commit().await?;
    tracing::info!(shop = %id, owner = %merchant.id, "shop opened");
    Ok(shop)
}

/// Opens the merchant's shop, or saves its name and description if it is open already (the console's one form).
pub async fn save_my_shop(state: &App, merchant: &User, name: &str, description: &str) -> Result<Shop, ShopError> {
    let has_shop = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.shop_by_owner(merchant.id).await?.is_some()
    };
    if has_shop {
        update_my_shop(state, merchant, name, description).await
    } else {
        open_shop(state, merchant, name, description).await
    }
}

/// What the merchant console's front page shows, read in one transaction.
pub struct Console {
    /// `None` until the merchant opens their shop.
    pub shop: Option<Shop>,
    pub products: Vec<kabao_store::Product>,
    pub tokens: Vec<kabao_store::ApiToken>,
}

/// The merchant's shop (if any), its products and the merchant's API tokens.
pub async fn console(state: &App, merchant: &User) -> Result<Console, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let shop = tx.shop_by_owner(merchant.id).await?;
    let products = match &shop {
        Some(s) => tx.list_shop_products(s.id).await?,
        None => Vec::new(),
    };
    let tokens = tx.list_api_tokens(merchant.id).await?;
    Ok(Console { shop, products, tokens })
}

/// The merchant's shop, or a 404 telling them to open one.
pub async fn my_shop(state: &App, merchant: &User) -> Result<Shop, ShopError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.shop_by_owner(merchant.id).await?.ok_or(ShopError::NoShop)
}

pub async fn update_my_shop(state: &App, merchant: &User, name: &str, description: &str) -> Result<Shop, ShopError> {
    let shop = my_shop(state, merchant).await?;
    let name = parse_shop_name(name)?;
    let description = parse_description(description)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.update_shop(shop.id, &name, &description).await.map_err(shop_conflict)?;
    let held = crate::listing::rules(state, &[name.as_str(), description.as_str()]);
    if !held.is_empty() {
        let event = crate::listing::event(crate::listing::SHOP, shop.id, merchant.id, &held, state.now());
        tx.insert_risk_event(&event).await?;
    }
    // Texts the scanner passes release a hold: what buyers would see is clean (the events stay for the admin).
    tx.set_shop_held(shop.id, crate::listing::held_json(&held).as_deref()).await?;
    let shop = tx.shop_by_id(shop.id).await?.ok_or(ShopError::Vanished(shop.id))?;
    tx.commit().await?;
    Ok(shop)
}

/// A shop as the public may see it: suspended shops are hidden from everyone but their owner and admins; a shop
/// held for review is shown to others marked under review, without its name, description or products.
pub async fn public_shop(state: &App, id: ShopId, viewer: Option<&User>) -> Result<Shop, ShopError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let shop = tx.shop_by_id(id).await?.ok_or(ShopError::NotFound)?;
    let privileged = viewer.is_some_and(|u| u.id == shop.owner_id || u.role == Role::Admin);
    if shop.suspended && !privileged {
        return Err(ShopError::NotFound);
    }
    let mut shop = shop;
    if !shop.held_rules.is_empty() && !privileged {
        // The texts under review are what was flagged: others see the shop as under review, without them.
        shop.name.clear();
        shop.description.clear();
    }
    Ok(shop)
}

/// Admins only (403 otherwise).
pub(crate) fn require_admin(user: &User) -> Result<(), ShopError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ShopError::NotAdmin)
    }
}

pub async fn set_certification(state: &App, admin: &User, shop: ShopId, level: &str) -> Result<Shop, ShopError> {
    require_admin(admin)?;
    let level = CertificationLevel::parse(level).ok_or(ShopError::CertificationLevelUnknown)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.shop_by_id(shop).await?.ok_or(ShopError::NotFound)?;
    tx.set_shop_certification(shop, level).await?;
    let s = tx.shop_by_id(shop).await?.ok_or(ShopError::Vanished(shop))?;
    tx.commit().await?;
    tracing::info!(shop = %shop, level = level.as_str(), admin = %admin.id, "certification set");
    Ok(s)
}

pub async fn set_suspension(
    state: &App,
    admin: &User,
    shop: ShopId,
    suspended: bool,
    reason: &str,
) -> Result<Shop, ShopError> {
    require_admin(admin)?;
    let reason = reason.trim();
    if suspended && reason.is_empty() {
        return Err(ShopError::SuspensionReasonRequired);
    }
    if reason.chars().count() > 500 {
        return Err(ShopError::SuspensionReasonTooLong);
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.shop_by_id(shop).await?.ok_or(ShopError::NotFound)?;
    tx.set_shop_suspended(shop, suspended, suspended.then_some(reason)).await?;
    let s = tx.shop_by_id(shop).await?.ok_or(ShopError::Vanished(shop))?;
    tx.commit().await?;
    tracing::info!(shop = %shop, suspended, admin = %admin.id, "shop suspension changed");
    Ok(s)
}

pub async fn set_role(state: &App, admin: &User, user: kabao_core::UserId, role: &str) -> Result<User, ShopError> {
    require_admin(admin)?;
    let role = Role::parse(role).ok_or(ShopError::RoleUnknown)?;
    if user == admin.id && role != Role::Admin {
        return Err(ShopError::SelfDemotion);
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.set_user_role(user, role).await.map_err(|e| match e {
        StoreError::NotFound => ShopError::UserNotFound,
        e => ShopError::Store(e),
    })?;
    // A role change takes effect at once: the user logs in again under the new role.
    tx.delete_user_sessions(user).await?;
    let u = tx.user_by_id(user).await?.ok_or(ShopError::UserNotFound)?;
    tx.commit().await?;
    Ok(u)
}
