//! The AI register's status history: every change of an application's status, whose
//! latest entry per application is the status in force.

use chrono::{DateTime, Utc};
use radgate_domain::ai::{AiApplication, AiStatus, StatusChange, StatusChangeError};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::ids::AiAppId;
use sqlx::Row;

use crate::{Result, Store, StoreError, Tx, from_millis, millis};

const COLUMNS: &str = "app, from_status, to_status, reason, changed_by, at";

fn status(r: &sqlx::any::AnyRow, column: &str) -> Result<AiStatus> {
    let code: String = r.try_get(column)?;
    AiStatus::parse(&code).ok_or_else(|| StoreError::Corrupt {
        what: "AI status change",
        key: code.clone(),
        reason: format!("unknown status `{code}`"),
    })
}

fn change(r: &sqlx::any::AnyRow) -> Result<StatusChange> {
    let app: String = r.try_get("app")?;
    Ok(StatusChange {
        app: AiAppId::parse(&app).map_err(|e| StoreError::Corrupt {
            what: "AI status change",
            key: app.clone(),
            reason: e.to_string(),
        })?,
        from: status(r, "from_status")?,
        to: status(r, "to_status")?,
        reason: r.try_get("reason")?,
        by: r.try_get("changed_by")?,
        at: from_millis(r.try_get("at")?),
    })
}

/// The latest change of each application: one row per application.
const LATEST: &str = "SELECT app, from_status, to_status, reason, changed_by, at FROM ai_status_changes c \
     WHERE id = (SELECT MAX(id) FROM ai_status_changes WHERE app = c.app) ORDER BY app";

impl Tx {
    /// [`Store::change_ai_status`] inside a larger transaction; audits last, so call it
    /// after the transaction's other writes.
    pub async fn change_ai_status(
        &mut self,
        app: &AiApplication,
        to: AiStatus,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<StatusChange, StatusChangeError>> {
        let from = app.in_force(&self.latest_status_changes().await?).status;
        if let Err(e) = from.change_to(to, reason) {
            return Ok(Err(e));
        }
        let c = StatusChange {
            app: app.id.clone(),
            from,
            to,
            reason: reason.trim().to_owned(),
            by: by.to_owned(),
            at: now,
        };
        self.record_status_change(&c).await?;
        self.audit(&AuditEvent {
            at: now,
            actor: c.by.clone(),
            kind: AuditKind::RegisterChange,
            subject: format!("ai_applications/{}", c.app),
            detail: serde_json::json!({ "change": "status", "from": from.code(), "to": to.code(),
                "reason": c.reason }),
        })
        .await?;
        Ok(Ok(c))
    }

    /// Appends a status change; the caller has asked the domain whether it may happen.
    pub async fn record_status_change(&mut self, c: &StatusChange) -> Result<()> {
        self.lock("ai_status_changes").await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO ai_status_changes (id, {COLUMNS}) \
             SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6 FROM ai_status_changes"
        )))
        .bind(c.app.as_str())
        .bind(c.from.code())
        .bind(c.to.code())
        .bind(&c.reason)
        .bind(&c.by)
        .bind(millis(c.at))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The latest change of each application, read inside the transaction that routes.
    pub async fn latest_status_changes(&mut self) -> Result<Vec<StatusChange>> {
        let rows = sqlx::query(LATEST).fetch_all(self.conn()).await?;
        rows.iter().map(change).collect()
    }
}

impl Store {
    /// Changes `app`'s status in force to `to` as the domain allows (the outer result is
    /// the database's, the inner the domain's verdict), with its audit event, in one
    /// transaction. The caller has checked that `by` keeps the register.
    pub async fn change_ai_status(
        &self,
        app: &AiApplication,
        to: AiStatus,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<StatusChange, StatusChangeError>> {
        let mut tx = self.begin().await?;
        let change = tx.change_ai_status(app, to, reason, by, now).await?;
        if change.is_ok() {
            tx.commit().await?;
        }
        Ok(change)
    }

    /// The latest change of each application.
    pub async fn latest_status_changes(&self) -> Result<Vec<StatusChange>> {
        let rows = sqlx::query(LATEST).fetch_all(self.pool()).await?;
        rows.iter().map(change).collect()
    }

    /// Every status change of `app`, oldest first.
    pub async fn status_history(&self, app: &str) -> Result<Vec<StatusChange>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM ai_status_changes WHERE app = $1 ORDER BY id"
        )))
        .bind(app)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(change).collect()
    }
}
