//! Discrepancy grades, suspensions and notifications.

use chrono::{DateTime, NaiveDate, Utc};
use radgate_domain::ids::{ProfessionalId, TaskTypeId};
use radgate_domain::portfolio::Suspension;
use radgate_domain::quality::Discrepancy;
use serde::Serialize;
use sqlx::Row;

use crate::tx::parse;
use crate::{Result, Store, StoreError, Tx, millis};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub at: DateTime<Utc>,
    pub text: String,
}

impl Tx {
    pub async fn record_discrepancy(
        &mut self,
        accession: &str,
        author: &ProfessionalId,
        task: &TaskTypeId,
        grade: Discrepancy,
        graded_by: &ProfessionalId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO discrepancies (accession, author, task, grade, graded_by, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(accession)
            .bind(author.as_str())
            .bind(task.as_str())
            .bind(i64::from(u8::from(grade)))
            .bind(graded_by.as_str())
            .bind(millis(at))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The author's most recent `limit` grades for the task, oldest first.
    pub async fn recent_grades(
        &mut self,
        author: &ProfessionalId,
        task: &TaskTypeId,
        limit: usize,
    ) -> Result<Vec<Discrepancy>> {
        let rows = sqlx::query("SELECT grade FROM discrepancies WHERE author = $1 AND task = $2 ORDER BY at DESC, accession DESC LIMIT $3")
            .bind(author.as_str())
            .bind(task.as_str())
            .bind(limit as i64)
            .fetch_all(self.conn())
            .await?;
        let mut grades = rows
            .iter()
            .map(|r| {
                let g: i64 = r.try_get("grade")?;
                Discrepancy::try_from(u8::try_from(g).unwrap_or(u8::MAX)).map_err(|reason| {
                    StoreError::Corrupt {
                        what: "discrepancy",
                        key: author.to_string(),
                        reason,
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        grades.reverse();
        Ok(grades)
    }

    /// The suspension of `professional` for `task` active on `day`, under a row lock.
    pub async fn active_suspension(
        &mut self,
        professional: &ProfessionalId,
        task: &TaskTypeId,
        day: NaiveDate,
    ) -> Result<Option<Suspension>> {
        let sql = format!(
            "SELECT body FROM suspensions WHERE professional = $1 AND task = $2 ORDER BY since{}",
            self.for_update()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(professional.as_str())
            .bind(task.as_str())
            .fetch_all(self.conn())
            .await?;
        for r in &rows {
            let s: Suspension = parse(
                "suspension",
                professional.as_str(),
                &r.try_get::<String, _>("body")?,
            )?;
            if s.is_active_on(day) {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    pub async fn save_suspension(&mut self, s: &Suspension) -> Result<()> {
        sqlx::query(
            "INSERT INTO suspensions (professional, task, since, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (professional, task, since) DO UPDATE SET body = excluded.body",
        )
        .bind(s.professional.as_str())
        .bind(s.task.as_str())
        .bind(s.since.to_string())
        .bind(serde_json::to_string(s).expect("serializes"))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn notify(
        &mut self,
        recipient: &ProfessionalId,
        at: DateTime<Utc>,
        text: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO notifications (recipient, at, text) VALUES ($1, $2, $3)")
            .bind(recipient.as_str())
            .bind(millis(at))
            .bind(text)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// A person's notifications, newest first.
    pub async fn notifications(&self, recipient: &ProfessionalId) -> Result<Vec<Notification>> {
        let rows =
            sqlx::query("SELECT at, text FROM notifications WHERE recipient = $1 ORDER BY at DESC")
                .bind(recipient.as_str())
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    at: crate::from_millis(r.try_get("at")?),
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }
}

/// The grade a radiologist gave a delegated preliminary report when authorizing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GivenGrade {
    pub grade: Discrepancy,
    pub graded_by: ProfessionalId,
    pub at: DateTime<Utc>,
}

impl Store {
    /// The discrepancy grade of a study's report, if it was graded.
    pub async fn discrepancy_of(&self, accession: &str) -> Result<Option<GivenGrade>> {
        let row =
            sqlx::query("SELECT grade, graded_by, at FROM discrepancies WHERE accession = $1")
                .bind(accession)
                .fetch_optional(self.pool())
                .await?;
        let Some(r) = row else { return Ok(None) };
        let bad = |reason: String| StoreError::Corrupt {
            what: "discrepancy",
            key: accession.to_string(),
            reason,
        };
        let grade: i64 = r.try_get("grade")?;
        Ok(Some(GivenGrade {
            grade: u8::try_from(grade)
                .map_err(|e| bad(e.to_string()))
                .and_then(|g| Discrepancy::try_from(g).map_err(bad))?,
            graded_by: ProfessionalId::parse(r.try_get::<String, _>("graded_by")?)
                .map_err(|e| bad(e.to_string()))?,
            at: crate::from_millis(r.try_get("at")?),
        }))
    }
}
