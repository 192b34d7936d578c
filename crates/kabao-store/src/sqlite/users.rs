//! SQLite: accounts, sessions, API tokens and security events ([`UsersTx`]).

use super::SqliteTx;
use crate::errors::{map_sqlx, one_row};
use crate::{
    lite, rows, ApiToken, LoginChallenge, NewApiToken, NewUser, SealedTotp, SecurityEvent, Session, StoreResult,
    TotpCredential, User, UsersTx,
};
use async_trait::async_trait;
use kabao_core::user::Role;
use kabao_core::{ApiTokenId, Timestamp, UserId};
use std::sync::LazyLock;

#[async_trait]
impl UsersTx for SqliteTx {
    // ---- accounts ----

    async fn insert_user(&mut self, user: &NewUser) -> StoreResult<UserId> {
        let id: i64 = lite::query_scalar(
            "INSERT INTO users (username, email, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at.millis())
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(UserId(id))
    }

    async fn user_by_id(&mut self, id: UserId) -> StoreResult<Option<User>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM users u WHERE u.id = $1", rows::USER_COLS));
        let row: Option<rows::UserRow> =
            lite::query_as(&SQL).bind(id.0).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        row.map(rows::user).transpose()
    }

    async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM users u WHERE u.username = $1", rows::USER_COLS));
        let row: Option<rows::UserRow> =
            lite::query_as(&SQL).bind(username).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        row.map(rows::user).transpose()
    }

    async fn list_users(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<User>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {} FROM users u ORDER BY u.id DESC LIMIT $1 OFFSET $2", rows::USER_COLS));
        let rows: Vec<rows::UserRow> =
            lite::query_as(&SQL).bind(limit).bind(offset).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::user).collect()
    }

    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<i64> {
        lite::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
            .bind(role.as_str())
            .fetch_one(&mut self.tx)
            .await
            .map_err(map_sqlx)
    }

    async fn set_user_role(&mut self, id: UserId, role: Role) -> StoreResult<()> {
        let done = lite::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    async fn set_password_hash(&mut self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let done = lite::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }

    // ---- sessions (token stored as SHA-256 only) ----

    async fn insert_session(&mut self, session: &Session) -> StoreResult<()> {
        lite::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, ip, user_agent, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.0)
        .bind(session.created_at.millis())
        .bind(session.expires_at.millis())
        .bind(&session.ip)
        .bind(&session.user_agent)
        .bind(session.last_seen_at.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn session_with_user(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<(Session, User)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
                rows::SESSION_COLS,
                rows::USER_COLS
            )
        });
        #[allow(clippy::type_complexity)]
        let row: Option<(
            Vec<u8>,
            i64,
            i64,
            i64,
            Option<String>,
            Option<String>,
            i64,
            i64,
            String,
            Option<String>,
            String,
            String,
            i64,
            bool,
        )> = lite::query_as(&SQL)
            .bind(token_hash)
            .bind(now.millis())
            .fetch_optional(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let session = rows::session((r.0, r.1, r.2, r.3, r.4, r.5, r.6));
                let user = rows::user((r.7, r.8, r.9, r.10, r.11, r.12, r.13))?;
                Ok(Some((session, user)))
            }
        }
    }

    async fn delete_session(&mut self, token_hash: &[u8]) -> StoreResult<()> {
        lite::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn delete_user_sessions(&mut self, user: UserId) -> StoreResult<u64> {
        let done = lite::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(&mut self, now: Timestamp) -> StoreResult<u64> {
        let done = lite::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn list_user_sessions(&mut self, user: UserId, now: Timestamp) -> StoreResult<Vec<Session>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM sessions s WHERE s.user_id = $1 AND s.expires_at > $2 \
                 ORDER BY s.last_seen_at DESC, s.created_at DESC, s.token_hash",
                rows::SESSION_COLS
            )
        });
        let found: Vec<rows::SessionRow> =
            lite::query_as(&SQL).bind(user.0).bind(now.millis()).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(found.into_iter().map(rows::session).collect())
    }

    async fn touch_session(&mut self, token_hash: &[u8], now: Timestamp, stale_before: Timestamp) -> StoreResult<bool> {
        let done = lite::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $3")
            .bind(token_hash)
            .bind(now.millis())
            .bind(stale_before.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_session(&mut self, user: UserId, token_hash: &[u8]) -> StoreResult<bool> {
        let done = lite::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash = $2")
            .bind(user.0)
            .bind(token_hash)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    // ---- merchant API tokens (stored as SHA-256 only) ----

    async fn insert_api_token(&mut self, token: &NewApiToken) -> StoreResult<ApiTokenId> {
        let id: i64 = lite::query_scalar(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(token.user_id.0)
        .bind(&token.name)
        .bind(&token.prefix)
        .bind(&token.token_hash)
        .bind(token.created_at.millis())
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(ApiTokenId(id))
    }

    async fn list_api_tokens(&mut self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.id DESC", rows::TOKEN_COLS)
        });
        let rows: Vec<rows::TokenRow> =
            lite::query_as(&SQL).bind(user.0).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(rows::token).collect())
    }

    async fn revoke_api_token(&mut self, user: UserId, id: ApiTokenId, now: Timestamp) -> StoreResult<bool> {
        // Owner and liveness are in the WHERE clause, so another user's id simply matches nothing.
        let done =
            lite::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now.millis())
                .bind(id.0)
                .bind(user.0)
                .execute(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_token_with_user(&mut self, token_hash: &[u8]) -> StoreResult<Option<(ApiToken, User)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {} FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                rows::TOKEN_COLS,
                rows::USER_COLS
            )
        });
        let row: Option<(
            i64,
            i64,
            String,
            String,
            i64,
            Option<i64>,
            i64,
            String,
            Option<String>,
            String,
            String,
            i64,
            bool,
        )> = lite::query_as(&SQL).bind(token_hash).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let token = rows::token((r.0, r.1, r.2, r.3, r.4, r.5));
                let user = rows::user((r.6, r.7, r.8, r.9, r.10, r.11, r.12))?;
                Ok(Some((token, user)))
            }
        }
    }

    // ---- security events ----

    async fn insert_security_event(&mut self, event: &SecurityEvent) -> StoreResult<i64> {
        lite::query_scalar(
            "INSERT INTO security_events (kind, order_id, detail, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&event.kind)
        .bind(event.order_id.map(|o| o.0))
        .bind(&event.detail_json)
        .bind(event.created_at.millis())
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)
    }

    async fn security_events(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<SecurityEvent>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {} FROM security_events ORDER BY id DESC LIMIT $1 OFFSET $2", rows::SECURITY_COLS)
        });
        let rows = lite::query(&SQL).bind(limit).bind(offset).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        rows.iter().map(rows::security_from_row).collect()
    }

    // ---- second factor (TOTP) ----

    async fn totp_credential(&mut self, user: UserId) -> StoreResult<Option<TotpCredential>> {
        let row: Option<(i64, i32, Vec<u8>, i64, i64)> = lite::query_as(
            "SELECT user_id, key_version, secret_sealed, enabled_at, last_step FROM totp_credentials \
             WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(row.map(|r| TotpCredential {
            sealed: SealedTotp { user_id: UserId(r.0), key_version: r.1, secret_sealed: r.2, at: Timestamp(r.3) },
            last_step: r.4,
        }))
    }

    async fn insert_totp_credential(&mut self, credential: &TotpCredential) -> StoreResult<()> {
        let c = &credential.sealed;
        lite::query(
            "INSERT INTO totp_credentials (user_id, key_version, secret_sealed, last_step, enabled_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c.user_id.0)
        .bind(c.key_version)
        .bind(&c.secret_sealed)
        .bind(credential.last_step)
        .bind(c.at.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        lite::query("DELETE FROM totp_pending WHERE user_id = $1")
            .bind(c.user_id.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn advance_totp_step(&mut self, user: UserId, step: i64) -> StoreResult<bool> {
        // The comparison is in the WHERE clause, so two requests with the same code cannot both pass.
        let done = lite::query("UPDATE totp_credentials SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
            .bind(user.0)
            .bind(step)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_totp(&mut self, user: UserId) -> StoreResult<bool> {
        let done = lite::query("DELETE FROM totp_credentials WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        lite::query("DELETE FROM totp_pending WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        lite::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn totp_pending(&mut self, user: UserId) -> StoreResult<Option<SealedTotp>> {
        let row: Option<(i64, i32, Vec<u8>, i64)> = lite::query_as(
            "SELECT user_id, key_version, secret_sealed, created_at FROM totp_pending WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(row.map(|r| SealedTotp { user_id: UserId(r.0), key_version: r.1, secret_sealed: r.2, at: Timestamp(r.3) }))
    }

    async fn put_totp_pending(&mut self, pending: &SealedTotp) -> StoreResult<()> {
        lite::query(
            "INSERT INTO totp_pending (user_id, key_version, secret_sealed, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET key_version = excluded.key_version, \
             secret_sealed = excluded.secret_sealed, created_at = excluded.created_at",
        )
        .bind(pending.user_id.0)
        .bind(pending.key_version)
        .bind(&pending.secret_sealed)
        .bind(pending.at.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn replace_recovery_codes(&mut self, user: UserId, hashes: &[Vec<u8>], now: Timestamp) -> StoreResult<()> {
        lite::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        for hash in hashes {
            lite::query("INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)")
                .bind(hash)
                .bind(user.0)
                .bind(now.millis())
                .execute(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        }
        Ok(())
    }

    async fn use_recovery_code(&mut self, user: UserId, code_hash: &[u8], now: Timestamp) -> StoreResult<bool> {
        // Owner and "unused" are in the WHERE clause: another user's code, or a used one, matches nothing.
        let done = lite::query(
            "UPDATE recovery_codes SET used_at = $3 WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL",
        )
        .bind(code_hash)
        .bind(user.0)
        .bind(now.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_unused_recovery_codes(&mut self, user: UserId) -> StoreResult<i64> {
        lite::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user.0)
            .fetch_one(&mut self.tx)
            .await
            .map_err(map_sqlx)
    }

    async fn insert_login_challenge(&mut self, challenge: &LoginChallenge) -> StoreResult<()> {
        lite::query("DELETE FROM login_challenges WHERE expires_at <= $1")
            .bind(challenge.created_at.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        lite::query(
            "INSERT INTO login_challenges (token_hash, user_id, created_at, expires_at, failures, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&challenge.token_hash)
        .bind(challenge.user_id.0)
        .bind(challenge.created_at.millis())
        .bind(challenge.expires_at.millis())
        .bind(challenge.failures)
        .bind(challenge.used_at.map(|t| t.millis()))
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn live_login_challenge(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<LoginChallenge>> {
        let row: Option<(Vec<u8>, i64, i64, i64, i32, Option<i64>)> = lite::query_as(
            "SELECT token_hash, user_id, created_at, expires_at, failures, used_at FROM login_challenges \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.millis())
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(row.map(|r| LoginChallenge {
            token_hash: r.0,
            user_id: UserId(r.1),
            created_at: Timestamp(r.2),
            expires_at: Timestamp(r.3),
            failures: r.4,
            used_at: r.5.map(Timestamp),
        }))
    }

    async fn add_login_challenge_failure(&mut self, token_hash: &[u8]) -> StoreResult<i32> {
        let failures: Option<i32> = lite::query_scalar(
            "UPDATE login_challenges SET failures = failures + 1 WHERE token_hash = $1 RETURNING failures",
        )
        .bind(token_hash)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(failures.unwrap_or(0))
    }

    async fn use_login_challenge(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<bool> {
        let done = lite::query("UPDATE login_challenges SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
            .bind(token_hash)
            .bind(now.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
