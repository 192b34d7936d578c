//! How database errors become [`StoreError`]s, for both backends.
//! Policy: a UNIQUE violation becomes `Conflict` naming the rule; everything else becomes `Database` with the
//! database's message only — never a bound value (PostgreSQL puts values in `detail`, which is never read here).

use crate::{StoreError, StoreResult};

/// The rules callers may see, by PostgreSQL constraint name and by the `table.column` text SQLite reports.
const UNIQUE_RULES: &[(&str, &str, &str)] = &[
    ("users_username_key", "users.username", "users.username"),
    ("shops_owner_key", "shops.owner_id", "shops.owner"),
    ("shops_name_key", "shops.name", "shops.name"),
    ("api_tokens_token_hash_key", "api_tokens.token_hash", "api_tokens.token_hash"),
    ("card_keys_fingerprint_key", "card_keys.fingerprint", "card_keys.fingerprint"),
    ("data_keys_pkey", "data_keys.version", "data_keys.version"),
    ("sessions_pkey", "sessions.token_hash", "sessions.token_hash"),
    ("orders_order_no_key", "orders.order_no", "orders.order_no"),
    ("order_keys_card_key_key", "order_keys.card_key_id", "order_keys.card_key"),
    ("order_events_pkey", "order_events.seq", "order_events.seq"),
    ("idempotency_records_pkey", "idempotency_records.scope, idempotency_records.key", "idempotency.key"),
    ("payments_trade_no_key", "payments.trade_no", "payments.trade_no"),
    ("gateway_notifications_pkey", "gateway_notifications.notification_id", "notifications.id"),
    (
        "warranty_policies_version_key",
        "warranty_policies.product_id, warranty_policies.version",
        "warranty_policies.version",
    ),
    ("claims_claim_no_key", "claims.claim_no", "claims.claim_no"),
    ("disputes_claim_key", "disputes.claim_id", "disputes.claim"),
    ("fund_members_pkey", "fund_members.shop_id", "fund_members.shop"),
    ("reviews_order_key", "reviews.order_id", "reviews.order"),
    ("orders_trial_key", "orders.trial_key", "orders.trial"),
    ("withdrawals_payout_ref_key", "withdrawals.payout_ref", "withdrawals.payout_ref"),
    (
        "certification_applications_pending_key",
        "certification_applications.shop_id",
        "certification_applications.pending",
    ),
    ("insurance_covers_pkey", "insurance_covers.order_id", "insurance_covers.order"),
    ("insurance_payouts_claim_key", "insurance_payouts.claim_id", "insurance_payouts.claim"),
    ("gateway_refunds_no_key", "gateway_refunds.refund_no", "gateway_refunds.refund_no"),
    ("coupons_code_key", "coupons.shop_id, coupons.code_key", "coupons.code"),
];

/// PostgreSQL SQLSTATEs that say the server cannot serve now rather than that the statement is wrong: connection
/// exceptions (class 08), operator intervention (57P01 terminated, 57P02 crash shutdown, 57P03 cannot connect now,
/// 57014 cancelled, e.g. by `statement_timeout`), too many connections (53300), and a transaction the server gave
/// up under contention (40001 serialization failure, 40P01 deadlock, 55P03 lock timeout): retrying it is right.
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03" | "57014" | "53300" | "40001" | "40P01" | "55P03")
}

/// A database error of either backend's driver.
pub(crate) trait DbError {
    fn into_store(self) -> StoreError;
}

fn unique_conflict(constraint: Option<&str>, message: &str) -> StoreError {
    // PostgreSQL names the constraint; SQLite only says "UNIQUE constraint failed: t.a, t.b".
    let rule = match constraint {
        Some(name) => UNIQUE_RULES.iter().find(|(pg, _, _)| *pg == name),
        None => UNIQUE_RULES.iter().find(|(_, lite, _)| message.contains(lite)),
    };
    StoreError::Conflict(rule.map_or("unique", |(_, _, rule)| rule))
}

impl DbError for sqlx::Error {
    fn into_store(self) -> StoreError {
        match self {
            sqlx::Error::Database(db) => {
                if db.kind() == sqlx::error::ErrorKind::UniqueViolation {
                    return unique_conflict(db.constraint(), db.message());
                }
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if unavailable_code(&code) {
                    return StoreError::Unavailable(format!("{} ({code})", db.message()));
                }
                StoreError::Database(format!("{} ({code})", db.message()))
            }
            sqlx::Error::RowNotFound => StoreError::NotFound,
            e @ (sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed) => StoreError::Unavailable(e.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl DbError for crate::lite::Error {
    fn into_store(self) -> StoreError {
        use rusqlite::ffi;
        match self.0 {
            rusqlite::Error::SqliteFailure(e, msg)
                if e.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                unique_conflict(None, msg.as_deref().unwrap_or_default())
            }
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            // The writer lock not granted within the busy timeout: overloaded, not broken.
            rusqlite::Error::SqliteFailure(e, msg)
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                StoreError::Unavailable(format!("{} ({})", msg.unwrap_or_else(|| e.to_string()), e.extended_code))
            }
            rusqlite::Error::SqliteFailure(e, msg) => {
                StoreError::Database(format!("{} ({})", msg.unwrap_or_else(|| e.to_string()), e.extended_code))
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

pub(crate) fn map_sqlx<E: DbError>(err: E) -> StoreError {
    err.into_store()
}

pub(crate) fn map_migrate(err: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Migration(err.to_string())
}

/// A value read back that the domain does not know: a bug or a tampered database, never a panic.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Database(format!("corrupt {what} in database"))
}

/// An UPDATE that must hit exactly one row; none means the id does not exist.
pub(crate) fn one_row(affected: u64) -> StoreResult<()> {
    if affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
