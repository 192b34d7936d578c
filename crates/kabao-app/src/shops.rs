//! Shops: opening and editing one's shop, and what admins do to shops (certification, suspension).

use crate::error::Problem;
use crate::error::Status;
use crate::App;
use kabao_core::catalog::{parse_description, parse_shop_name, CertificationLevel};
use kabao_core::user::Role;
use kabao_core::{Lang, Localized, ShopId};
use kabao_store::{NewShop, Shop, StoreError, TxMode, User};

fn catalog_error(e: kabao_core::catalog::CatalogError) -> Problem {
    Problem::from_localized(Status::BAD_REQUEST, &e)
}

fn shop_conflict(e: StoreError) -> Problem {
    match e {
        StoreError::Conflict("shops.owner") => {
            Problem::new(Status::CONFLICT, "shop.already_open", "你已经开过店铺了", "You already have a shop")
        }
        StoreError::Conflict("shops.name") => Problem::new(
            Status::CONFLICT,
            "shop.name_taken",
            "店铺名称已被使用，请换一个",
            "This shop name is taken; choose another",
        )
        .with_field("name"),
        e => Problem::internal(e),
    }
}

pub fn require_merchant(user: &User) -> Result<(), Problem> {
    if user.role == Role::Merchant {
        Ok(())
    } else {
        Err(Problem::new(
            Status::FORBIDDEN,
            "auth.merchant_only",
            "只有商家账号可以开店和管理商品",
            "Only merchant accounts can open shops and manage products",
        ))
    }
}

/// Opens the merchant's one shop.
pub async fn open_shop(state: &App, merchant: &User, name: &str, description: &str) -> Result<Shop, Problem> {
    require_merchant(merchant)?;
    let name = parse_shop_name(name).map_err(catalog_error)?;
    let description = parse_description(description).map_err(catalog_error)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let id = tx
        .insert_shop(&NewShop { owner_id: merchant.id, name, description, opened_at: state.now() })
        .await
        .map_err(shop_conflict)?;
    let shop = tx.shop_by_id(id).await?.ok_or_else(|| Problem::internal("shop vanished"))?;
    tx.commit().await?;
    tracing::info!(shop = %id, owner = %merchant.id, "shop opened");
    Ok(shop)
}

/// The merchant's shop, or a 404 telling them to open one.
pub async fn my_shop(state: &App, merchant: &User) -> Result<Shop, Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.shop_by_owner(merchant.id).await?.ok_or_else(|| {
        Problem::new(Status::NOT_FOUND, "shop.none", "你还没有店铺，请先开店", "You have no shop yet; open one first")
    })
}

pub async fn update_my_shop(state: &App, merchant: &User, name: &str, description: &str) -> Result<Shop, Problem> {
    let shop = my_shop(state, merchant).await?;
    let name = parse_shop_name(name).map_err(catalog_error)?;
    let description = parse_description(description).map_err(catalog_error)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.update_shop(shop.id, &name, &description).await.map_err(shop_conflict)?;
    let shop = tx.shop_by_id(shop.id).await?.ok_or_else(|| Problem::internal("shop vanished"))?;
    tx.commit().await?;
    Ok(shop)
}

/// A shop as the public may see it: suspended shops are hidden from everyone but their owner and admins.
pub async fn public_shop(state: &App, id: ShopId, viewer: Option<&User>) -> Result<Shop, Problem> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    let shop = tx.shop_by_id(id).await?.ok_or_else(|| Problem::not_found("shop.not_found"))?;
    let privileged = viewer.is_some_and(|u| u.id == shop.owner_id || u.role == Role::Admin);
    if shop.suspended && !privileged {
        return Err(Problem::not_found("shop.not_found"));
    }
    Ok(shop)
}

/// Why an admin action on a shop was refused.
#[derive(Debug)]
struct UnknownLevel;

impl Localized for UnknownLevel {
    fn code(&self) -> &'static str {
        "shop.certification_invalid"
    }
    fn field(&self) -> Option<&'static str> {
        Some("level")
    }
    fn message(&self, lang: Lang) -> String {
        lang.pick(
            "认证等级无效（none / verified / enterprise / gold）",
            "Unknown certification level (none / verified / enterprise / gold)",
        )
        .into()
    }
}

/// Admins only (403 otherwise).
pub(crate) fn require_admin(user: &User) -> Result<(), Problem> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(Problem::forbidden())
    }
}

pub async fn set_certification(state: &App, admin: &User, shop: ShopId, level: &str) -> Result<Shop, Problem> {
    require_admin(admin)?;
    let level =
        CertificationLevel::parse(level).ok_or_else(|| Problem::from_localized(Status::BAD_REQUEST, &UnknownLevel))?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.shop_by_id(shop).await?.ok_or_else(|| Problem::not_found("shop.not_found"))?;
    tx.set_shop_certification(shop, level).await?;
    let s = tx.shop_by_id(shop).await?.ok_or_else(|| Problem::internal("shop vanished"))?;
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
) -> Result<Shop, Problem> {
    require_admin(admin)?;
    let reason = reason.trim();
    if suspended && reason.is_empty() {
        return Err(Problem::bad_request(
            "shop.suspension_reason_required",
            "reason",
            "暂停店铺必须填写原因",
            "A reason is required to suspend a shop",
        ));
    }
    if reason.chars().count() > 500 {
        return Err(Problem::bad_request(
            "shop.suspension_reason_too_long",
            "reason",
            "原因不能超过 500 个字符",
            "The reason must be at most 500 characters",
        ));
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.shop_by_id(shop).await?.ok_or_else(|| Problem::not_found("shop.not_found"))?;
    tx.set_shop_suspended(shop, suspended, suspended.then_some(reason)).await?;
    let s = tx.shop_by_id(shop).await?.ok_or_else(|| Problem::internal("shop vanished"))?;
    tx.commit().await?;
    tracing::info!(shop = %shop, suspended, admin = %admin.id, "shop suspension changed");
    Ok(s)
}

pub async fn set_role(state: &App, admin: &User, user: kabao_core::UserId, role: &str) -> Result<User, Problem> {
    require_admin(admin)?;
    let role = Role::parse(role).ok_or_else(|| {
        Problem::bad_request(
            "account.role_invalid",
            "role",
            "角色无效（buyer / merchant / arbiter / admin）",
            "Unknown role (buyer / merchant / arbiter / admin)",
        )
    })?;
    if user == admin.id && role != Role::Admin {
        return Err(Problem::bad_request(
            "account.self_demotion",
            "role",
            "不能取消自己的管理员身份",
            "You cannot remove your own admin role",
        ));
    }
    let mut tx = state.store.begin(TxMode::Write).await?;
    tx.set_user_role(user, role).await.map_err(|e| match e {
        StoreError::NotFound => Problem::not_found("user.not_found"),
        e => Problem::internal(e),
    })?;
    // A role change takes effect at once: the user logs in again under the new role.
    tx.delete_user_sessions(user).await?;
    let u = tx.user_by_id(user).await?.ok_or_else(|| Problem::not_found("user.not_found"))?;
    tx.commit().await?;
    Ok(u)
}
