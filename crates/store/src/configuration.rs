//! Recording the department's configuration and the routing policy the service runs with,
//! auditing every difference from what was recorded before.

use chrono::{DateTime, Utc};
use radgate_domain::ai::{AiApplication, StatusChange};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::{Department, Policy};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, millis};

/// What changed since the configuration was last recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub table: &'static str,
    pub id: String,
    /// `added`, `changed` or `removed`.
    pub what: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    #[error(
        "policy version {0} is already recorded with different rules; give the changed policy a new version"
    )]
    PolicyVersionReused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ConfigurationError {
    fn from(e: sqlx::Error) -> Self {
        ConfigurationError::Store(StoreError::Db(e))
    }
}

/// `(id, body as JSON)` of one table's entries.
type Rows = Vec<(String, String)>;

/// An audit event to append once all rows are written.
struct Pending {
    kind: AuditKind,
    change: Change,
    body: Option<String>,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}

impl Store {
    /// Records the department (professionals, task agreements, AI register) and the
    /// policy in one transaction, with an audit event for every difference.
    pub async fn record_configuration(
        &self,
        dept: &Department,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ConfigurationError> {
        let mut tx = self.begin().await?;
        let mut changes = Vec::new();
        let mut events = Vec::new();
        // An edit of an entry's status in the file is a status change like the RAIO's.
        let latest = tx.latest_status_changes().await?;
        let mut status_edits = Vec::new();
        let tables: [(&'static str, AuditKind, Rows); 3] = [
            (
                "professionals",
                AuditKind::DepartmentChange,
                dept.professionals
                    .iter()
                    .map(|p| (p.id.to_string(), json(p)))
                    .collect(),
            ),
            (
                "task_agreements",
                AuditKind::AuthorizationChange,
                dept.agreements
                    .iter()
                    .map(|a| (a.id.clone(), json(a)))
                    .collect(),
            ),
            (
                "ai_applications",
                AuditKind::RegisterChange,
                dept.ai_applications
                    .iter()
                    .map(|a| (a.id.to_string(), json(a)))
                    .collect(),
            ),
        ];
        for (table, kind, rows) in tables {
            let stored: Rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, body FROM {table} ORDER BY id"
            )))
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("body")?)))
            .collect::<Result<_, sqlx::Error>>()?;
            for (id, body) in &rows {
                let what = match stored.iter().find(|(s, _)| s == id) {
                    None => "added",
                    Some((_, old)) if old != body => {
                        if table == "ai_applications" {
                            status_edits.push((old.clone(), body.clone()));
                        }
                        "changed"
                    }
                    Some(_) => continue,
                };
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {table} (id, body, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at"
                )))
                .bind(id)
                .bind(body)
                .bind(millis(now))
                .execute(tx.conn())
                .await?;
                events.push(Pending {
                    kind,
                    change: Change {
                        table,
                        id: id.clone(),
                        what,
                    },
                    body: Some(body.clone()),
                });
            }
            for (id, _) in stored
                .iter()
                .filter(|(s, _)| !rows.iter().any(|(id, _)| id == s))
            {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1")))
                    .bind(id)
                    .execute(tx.conn())
                    .await?;
                events.push(Pending {
                    kind,
                    change: Change {
                        table,
                        id: id.clone(),
                        what: "removed",
                    },
                    body: None,
                });
            }
        }
        let body = json(policy);
        let recorded: Option<String> = sqlx::query("SELECT body FROM policies WHERE version = $1")
            .bind(&policy.version)
            .fetch_optional(tx.conn())
            .await?
            .map(|r| r.try_get("body"))
            .transpose()?;
        match recorded {
            Some(old) if old != body => {
                return Err(ConfigurationError::PolicyVersionReused(
                    policy.version.clone(),
                ));
            }
            Some(_) => {}
            None => {
                sqlx::query(
                    "INSERT INTO policies (version, body, recorded_at) VALUES ($1, $2, $3)",
                )
                .bind(&policy.version)
                .bind(&body)
                .bind(millis(now))
                .execute(tx.conn())
                .await?;
                events.push(Pending {
                    kind: AuditKind::PolicyChange,
                    change: Change {
                        table: "policies",
                        id: policy.version.clone(),
                        what: "added",
                    },
                    body: None,
                });
            }
        }
        for (old, new) in status_edits {
            let (Ok(old), Ok(new)) = (
                serde_json::from_str::<AiApplication>(&old),
                serde_json::from_str::<AiApplication>(&new),
            ) else {
                continue; // an entry recorded by an older release: nothing to compare
            };
            if old.status == new.status {
                continue;
            }
            let current = old.effective_status(latest.iter().find(|c| c.app == old.id));
            let reason = "status edited in the department file";
            // A retired entry stays retired, and one already at the new status needs no
            // change: the file's edit is then history, not news.
            if current.change_to(new.status, reason).is_ok() {
                tx.record_status_change(&StatusChange {
                    app: new.id.clone(),
                    from: current,
                    to: new.status,
                    reason: reason.into(),
                    by: "department file".into(),
                    at: now,
                })
                .await?;
            }
        }
        for Pending { kind, change, body } in events {
            let Change { table, what, .. } = &change;
            let detail = match body {
                Some(b) => {
                    serde_json::json!({ "table": table, "change": what, "now": serde_json::from_str::<serde_json::Value>(&b).unwrap_or_default() })
                }
                None => serde_json::json!({ "table": table, "change": what }),
            };
            let subject = format!("{table}/{}", change.id);
            tx.audit(&AuditEvent {
                at: now,
                actor: "system".into(),
                kind,
                subject,
                detail,
            })
            .await?;
            changes.push(change);
        }
        tx.commit().await?;
        Ok(changes)
    }
}

impl Store {
    /// Every policy version recorded, newest first, with when it was first put in force.
    pub async fn policy_versions(&self) -> Result<Vec<(String, DateTime<Utc>)>> {
        sqlx::query("SELECT version, recorded_at FROM policies ORDER BY recorded_at DESC, version")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("version")?,
                    crate::from_millis(r.try_get("recorded_at")?),
                ))
            })
            .collect()
    }
}
