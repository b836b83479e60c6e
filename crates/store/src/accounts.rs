//! Users, login sessions and API keys. Only hashes of secrets are stored: passwords as
//! argon2id (computed by the caller), session tokens and API keys as SHA-256.

use chrono::{DateTime, Utc};
use radgate_domain::ids::ProfessionalId;
use radgate_domain::professional::Role;
use sqlx::Row;

use crate::{Result, Store, StoreError, millis};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub professional: ProfessionalId,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub scopes: Vec<String>,
}

fn user(row: &sqlx::any::AnyRow) -> Result<User> {
    let username: String = row.try_get("username")?;
    let bad = |reason: String| StoreError::Corrupt {
        what: "user",
        key: username.clone(),
        reason,
    };
    let role: String = row.try_get("role")?;
    Ok(User {
        professional: ProfessionalId::parse(row.try_get::<String, _>("professional_id")?)
            .map_err(|e| bad(e.to_string()))?,
        role: Role::parse(&role).ok_or_else(|| bad(format!("unknown role {role}")))?,
        password_hash: row.try_get("password_hash")?,
        username: username.clone(),
    })
}

impl Store {
    /// Creates a user, or replaces the password and role of an existing one; a replaced
    /// password ends every session of the user and enables a disabled account.
    pub async fn put_user(&self, u: &User, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO users (username, professional_id, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (username) DO UPDATE SET professional_id = excluded.professional_id, role = excluded.role, \
             password_hash = excluded.password_hash, disabled_at = NULL",
        )
        .bind(&u.username)
        .bind(u.professional.as_str())
        .bind(u.role.code())
        .bind(&u.password_hash)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(&u.username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables an account: its sessions end and it cannot log in until a new password is
    /// set. `false` when there is no such account.
    pub async fn disable_user(&self, username: &str, now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query("UPDATE users SET disabled_at = $1 WHERE username = $2")
            .bind(millis(now))
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(found)
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT username, professional_id, role, password_hash FROM users WHERE username = $1 AND disabled_at IS NULL",
        )
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(user).transpose()
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        username: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, username, created_at, expires_at, last_seen) VALUES ($1, $2, $3, $4, $3)")
            .bind(token_hash)
            .bind(username)
            .bind(millis(now))
            .bind(millis(expires))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The user of a session that has neither expired nor been idle for `idle`; the
    /// session counts as used now (recorded at most once a minute, so reads stay reads).
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> Result<Option<User>> {
        self.live_session(token_hash, now, idle, true).await
    }

    /// As [`Store::session_user`], without counting as a use: for what the browser asks
    /// by itself (a worklist refreshing on a screen nobody touches), which must not keep
    /// an unattended session open.
    pub async fn session_user_unused(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> Result<Option<User>> {
        self.live_session(token_hash, now, idle, false).await
    }

    async fn live_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        idle: chrono::Duration,
        used: bool,
    ) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.username, u.professional_id, u.role, u.password_hash, COALESCE(s.last_seen, s.created_at) AS seen \
             FROM sessions s JOIN users u ON u.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND COALESCE(s.last_seen, s.created_at) > $3 \
             AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(millis(now))
        .bind(millis(now - idle))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let seen: i64 = row.try_get("seen")?;
        if used && millis(now) - seen >= 60_000 {
            sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2")
                .bind(millis(now))
                .bind(token_hash)
                .execute(self.pool())
                .await?;
        }
        user(&row).map(Some)
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Registers an API key under `name` (replacing an earlier key of that name).
    pub async fn put_api_key(
        &self,
        key_hash: &str,
        name: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM api_keys WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO api_keys (key_hash, name, scopes, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(key_hash)
        .bind(name)
        .bind(scopes.join(" "))
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn api_key(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query("SELECT name, scopes FROM api_keys WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            None => None,
            Some(r) => Some(ApiKey {
                name: r.try_get("name")?,
                scopes: r
                    .try_get::<String, _>("scopes")?
                    .split_whitespace()
                    .map(String::from)
                    .collect(),
            }),
        })
    }

    /// Answers whether the database is reachable, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1 AS one")
            .fetch_one(self.pool())
            .await?;
        Ok(())
    }

    /// Open work items, for the metrics endpoint.
    pub async fn open_item_count(&self) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM work_items WHERE state = 'open'")
                .fetch_one(self.pool())
                .await?
                .try_get("n")?,
        )
    }
}
