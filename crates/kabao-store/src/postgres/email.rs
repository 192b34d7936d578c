//! PostgreSQL: email verification and password reset tokens ([`EmailTx`]).

use super::PgTx;
use crate::errors::{corrupt, map_sqlx, one_row};
use crate::{rows, EmailToken, EmailTokenPurpose, EmailTx, StoreResult, User};
use async_trait::async_trait;
use kabao_core::{Timestamp, UserId};
use std::sync::LazyLock;

type TokenRow = (Vec<u8>, i64, String, String, i64, i64, Option<i64>);

fn token(r: TokenRow) -> StoreResult<EmailToken> {
    Ok(EmailToken {
        token_hash: r.0,
        user_id: UserId(r.1),
        purpose: EmailTokenPurpose::parse(&r.2).ok_or_else(|| corrupt("email_tokens.purpose"))?,
        email: r.3,
        created_at: Timestamp(r.4),
        expires_at: Timestamp(r.5),
        used_at: r.6.map(Timestamp),
    })
}

#[async_trait]
impl EmailTx for PgTx {
    async fn insert_email_token(&mut self, t: &EmailToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.token_hash)
        .bind(t.user_id.0)
        .bind(t.purpose.as_str())
        .bind(&t.email)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.used_at.map(|u| u.millis()))
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn email_token(&mut self, token_hash: &[u8]) -> StoreResult<Option<EmailToken>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT token_hash, user_id, purpose, email, created_at, expires_at, used_at \
             FROM email_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        row.map(token).transpose()
    }

    async fn use_email_token(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now.millis())
        .bind(token_hash)
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retire_email_tokens(
        &mut self,
        user: UserId,
        purpose: EmailTokenPurpose,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let done =
            sqlx::query("UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
                .bind(now.millis())
                .bind(user.0)
                .bind(purpose.as_str())
                .execute(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn set_email_verified(&mut self, user: UserId, email: &str, now: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO email_verified (user_id, email, verified_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, verified_at = excluded.verified_at",
        )
        .bind(user.0)
        .bind(email)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn email_verified(&mut self, user: UserId) -> StoreResult<Option<(String, Timestamp)>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT email, verified_at FROM email_verified WHERE user_id = $1")
                .bind(user.0)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(row.map(|(e, t)| (e, Timestamp(t))))
    }

    async fn users_with_verified_email(&mut self, email: &str) -> StoreResult<Vec<User>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {} FROM users u JOIN email_verified v ON v.user_id = u.id \
                 WHERE u.email = $1 AND v.email = $1 ORDER BY u.id",
                rows::USER_COLS
            )
        });
        let rows: Vec<rows::UserRow> =
            sqlx::query_as(&SQL).bind(email).fetch_all(&mut *self.tx).await.map_err(map_sqlx)?;
        rows.into_iter().map(rows::user).collect()
    }

    async fn set_user_email(&mut self, user: UserId, email: Option<&str>) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(map_sqlx)?;
        one_row(done.rows_affected())
    }
}
