//! Thesis milestones as they happen: the work plan handed in, the mid-term held.

use chrono::{DateTime, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::ids::ProfessionalId;
use sqlx::Row;

use crate::{Result, Store, StoreError, millis};

impl Store {
    /// Records a thesis milestone (the day it happened), replacing an earlier record of
    /// it, with its audit event.
    pub async fn record_milestone(
        &self,
        trainee: &ProfessionalId,
        kind: radgate_domain::thesis::MilestoneKind,
        on: chrono::NaiveDate,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let code = milestone_code(kind);
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO thesis_milestones (trainee, kind, on_day, recorded_by, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (trainee, kind) DO UPDATE SET on_day = excluded.on_day, recorded_by = excluded.recorded_by, at = excluded.at",
        )
        .bind(trainee.as_str())
        .bind(code)
        .bind(on.to_string())
        .bind(by)
        .bind(millis(now))
        .execute(tx.conn())
        .await?;
        tx.audit(&AuditEvent {
            at: now,
            actor: by.to_string(),
            kind: AuditKind::AuthorizationChange,
            subject: format!("thesis/{trainee}"),
            detail: serde_json::json!({ "milestone": code, "on": on }),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the trainee's work plan was handed in and the mid-term held, if recorded.
    pub async fn milestones_of(
        &self,
        trainee: &ProfessionalId,
    ) -> Result<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>)> {
        let rows = sqlx::query("SELECT kind, on_day FROM thesis_milestones WHERE trainee = $1")
            .bind(trainee.as_str())
            .fetch_all(self.pool())
            .await?;
        let mut out = (None, None);
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let on: String = row.try_get("on_day")?;
            let day = on
                .parse()
                .map_err(|e: chrono::ParseError| StoreError::Corrupt {
                    what: "thesis milestone",
                    key: trainee.to_string(),
                    reason: e.to_string(),
                })?;
            match kind.as_str() {
                "work_plan" => out.0 = Some(day),
                "midterm" => out.1 = Some(day),
                _ => {}
            }
        }
        Ok(out)
    }
}

fn milestone_code(kind: radgate_domain::thesis::MilestoneKind) -> &'static str {
    match kind {
        radgate_domain::thesis::MilestoneKind::WorkPlan => "work_plan",
        radgate_domain::thesis::MilestoneKind::Midterm => "midterm",
    }
}
