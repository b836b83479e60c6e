//! Retrospective reviews of cleared and normal exams, and their counts.

use chrono::{DateTime, Utc};
use radgate_domain::decision::Pathway;
use radgate_domain::ids::TaskTypeId;
use sqlx::Row;

use crate::{Result, Store, Tx, millis};

/// One radiologist's retrospective review of a cleared exam.
pub struct SafetyReview<'a> {
    pub accession: &'a str,
    /// The task the clearance stood for (`cxr_gatekeeping`, or the autonomous normal
    /// decision's task).
    pub task: &'a TaskTypeId,
    pub pathway: Pathway,
    /// The gatekeeper, or `ai` for an autonomous normal call.
    pub cleared_by: &'a str,
    pub reviewer: &'a str,
    pub missed: bool,
    pub note: &'a str,
    pub at: DateTime<Utc>,
}

impl Tx {
    /// Who cleared the exam: whoever completed its `task` (the gatekeeping) last.
    pub async fn cleared_by(
        &mut self,
        accession: &str,
        task: &TaskTypeId,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT assignee FROM work_items WHERE accession = $1 AND task = $2 AND state = 'done' \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(accession)
        .bind(task.as_str())
        .fetch_optional(self.conn())
        .await?;
        Ok(row.map(|r| r.try_get("assignee")).transpose()?.flatten())
    }

    pub async fn record_review(&mut self, r: &SafetyReview<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO safety_reviews (accession, task, pathway, cleared_by, reviewer, missed, note, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.accession)
        .bind(r.task.as_str())
        .bind(r.pathway.code())
        .bind(r.cleared_by)
        .bind(r.reviewer)
        .bind(i64::from(r.missed))
        .bind(r.note)
        .bind(millis(r.at))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Reviewed exams and misses of clearances under `task`, counted in the database.
    pub async fn review_counts(&self, task: &TaskTypeId) -> Result<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(missed), 0) AS BIGINT) AS missed FROM safety_reviews WHERE task = $1",
        )
        .bind(task.as_str())
        .fetch_one(self.pool())
        .await?;
        Ok((
            row.try_get::<i64, _>("n")? as u64,
            row.try_get::<i64, _>("missed")? as u64,
        ))
    }
}
