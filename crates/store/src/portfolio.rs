//! The competence portfolio: assessments, certificates and suspensions per professional.

use chrono::{DateTime, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::ids::ProfessionalId;
use radgate_domain::portfolio::{Assessment, Certificate, Portfolio, Suspension};
use sqlx::Row;

use crate::tx::parse;
use crate::{Result, Store, StoreError};

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub created: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("nothing imported: assessment id(s) {} are already stored with different content", .0.join(", "))]
    Conflict(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(StoreError::Db(e))
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}

impl Store {
    /// Imports assessments in one transaction: all of them, or none when any id is taken
    /// by different content. Repeats of stored assessments change nothing.
    pub async fn import_assessments(
        &self,
        assessments: &[Assessment],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Imported, ImportError> {
        let mut tx = self.begin().await?;
        let (mut created, mut unchanged, mut conflicts) = (0, 0, Vec::new());
        for a in assessments {
            let body = json(a);
            let done = sqlx::query("INSERT INTO assessments (id, assessee, task, date, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                .bind(&a.id)
                .bind(a.assessee.as_str())
                .bind(a.task.as_str())
                .bind(a.date.to_string())
                .bind(&body)
                .execute(tx.conn())
                .await?
                .rows_affected();
            if done == 1 {
                created += 1;
                // In the same transaction: a request is never stored without its assessor
                // hearing of it.
                if a.status == radgate_domain::portfolio::AssessmentStatus::Requested {
                    tx.notify(
                        &a.assessor,
                        now,
                        &format!(
                            "{} asks you to confirm assessment {} ({}, {}).",
                            a.assessee, a.id, a.task, a.date
                        ),
                    )
                    .await?;
                }
                continue;
            }
            let stored: String = sqlx::query("SELECT body FROM assessments WHERE id = $1")
                .bind(&a.id)
                .fetch_one(tx.conn())
                .await?
                .try_get("body")?;
            if stored == body {
                unchanged += 1;
            } else {
                conflicts.push(a.id.clone());
            }
        }
        if !conflicts.is_empty() {
            return Err(ImportError::Conflict(conflicts));
        }
        let mut assessees: Vec<&str> = assessments.iter().map(|a| a.assessee.as_str()).collect();
        assessees.sort_unstable();
        assessees.dedup();
        for who in assessees {
            let ids: Vec<&str> = assessments
                .iter()
                .filter(|a| a.assessee.as_str() == who)
                .map(|a| a.id.as_str())
                .collect();
            tx.audit(&AuditEvent {
                at: now,
                actor: actor.to_string(),
                kind: AuditKind::AuthorizationChange,
                subject: format!("portfolio/{who}"),
                detail: serde_json::json!({ "imported_assessments": ids }),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(Imported { created, unchanged })
    }

    /// The assessments that wait for `assessor` to confirm them, oldest first.
    pub async fn awaiting_confirmation(
        &self,
        assessor: &ProfessionalId,
    ) -> Result<Vec<Assessment>> {
        let d = self.dialect();
        let sql = format!(
            "SELECT id, body FROM assessments WHERE {} = $1 AND {} = 'requested' ORDER BY date, id",
            d.json_text("body", "assessor"),
            d.json_text("body", "status"),
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(assessor.as_str())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                parse("assessment", &id, &r.try_get::<String, _>("body")?)
            })
            .collect()
    }

    /// One assessment by id.
    pub async fn assessment(&self, id: &str) -> Result<Option<Assessment>> {
        let row = sqlx::query("SELECT body FROM assessments WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| parse("assessment", id, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// Stores a changed assessment (a confirmation) with its audit event.
    pub async fn save_assessment(
        &self,
        a: &Assessment,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE assessments SET body = $1 WHERE id = $2")
            .bind(json(a))
            .bind(&a.id)
            .execute(tx.conn())
            .await?;
        tx.audit(&AuditEvent {
            at: now,
            actor: actor.to_string(),
            kind: AuditKind::AuthorizationChange,
            subject: format!("portfolio/{}", a.assessee),
            detail: serde_json::json!({ "confirmed_assessment": a.id }),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a certificate (a repeat changes nothing).
    pub async fn put_certificate(
        &self,
        c: &Certificate,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("INSERT INTO certificates (holder, kind, valid_until) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(c.holder.as_str())
            .bind(&c.kind)
            .bind(c.valid_until.to_string())
            .execute(tx.conn())
            .await?
            .rows_affected();
        if done == 1 {
            tx.audit(&AuditEvent {
                at: now,
                actor: actor.to_string(),
                kind: AuditKind::AuthorizationChange,
                subject: format!("portfolio/{}", c.holder),
                detail: serde_json::json!({ "certificate": c.kind, "valid_until": c.valid_until.to_string() }),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Everything the portfolio holds for one professional.
    pub async fn portfolio(&self, who: &ProfessionalId) -> Result<Portfolio> {
        let assessments =
            sqlx::query("SELECT id, body FROM assessments WHERE assessee = $1 ORDER BY date, id")
                .bind(who.as_str())
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| {
                    parse::<Assessment>(
                        "assessment",
                        &r.try_get::<String, _>("id")?,
                        &r.try_get::<String, _>("body")?,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
        let certificates = sqlx::query("SELECT kind, valid_until FROM certificates WHERE holder = $1 ORDER BY kind, valid_until")
            .bind(who.as_str())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                let until: String = r.try_get("valid_until")?;
                Ok(Certificate {
                    holder: who.clone(),
                    kind: r.try_get("kind")?,
                    valid_until: until.parse().map_err(|e: chrono::ParseError| StoreError::Corrupt {
                        what: "certificate",
                        key: who.to_string(),
                        reason: e.to_string(),
                    })?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let suspensions =
            sqlx::query("SELECT body FROM suspensions WHERE professional = $1 ORDER BY since")
                .bind(who.as_str())
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| {
                    parse::<Suspension>(
                        "suspension",
                        who.as_str(),
                        &r.try_get::<String, _>("body")?,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
        Ok(Portfolio {
            assessments,
            certificates,
            suspensions,
        })
    }
}
