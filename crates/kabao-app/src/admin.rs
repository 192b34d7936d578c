//! What the platform's admins read across the marketplace: every user, every shop, the security events. The
//! caller has checked the admin role; these only read.

use crate::App;
use kabao_store::{SecurityEvent, Shop, StoreError, TxMode, User};

/// The admin page at a glance: the newest shops, users and security events.
pub struct Overview {
    pub shops: Vec<Shop>,
    pub users: Vec<User>,
    pub security_events: Vec<SecurityEvent>,
}

/// Users, newest first.
pub async fn users(app: &App, limit: i64, offset: i64) -> Result<Vec<User>, StoreError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    tx.list_users(limit, offset).await
}

/// Shops, suspended ones included.
pub async fn shops(app: &App, limit: i64, offset: i64) -> Result<Vec<Shop>, StoreError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    tx.list_shops(limit, offset).await
}

/// Security events, newest first.
pub async fn security_events(app: &App, limit: i64, offset: i64) -> Result<Vec<SecurityEvent>, StoreError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    tx.security_events(limit, offset).await
}

/// The admin page's lists, read in one transaction.
pub async fn overview(app: &App) -> Result<Overview, StoreError> {
    let mut tx = app.store.begin(TxMode::Read).await?;
    let shops = tx.list_shops(500, 0).await?;
    let users = tx.list_users(500, 0).await?;
    let security_events = tx.security_events(50, 0).await?;
    Ok(Overview { shops, users, security_events })
}
