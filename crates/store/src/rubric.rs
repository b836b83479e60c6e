//! Rubric assessments: created once, then changed only by read-modify-write under a row
//! lock, each change with its audit event in the same transaction.

use chrono::{DateTime, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::rubric::RubricAssessment;
use sqlx::Row;

use crate::tx::parse;
use crate::{Inserted, Result, Store};

fn json(a: &RubricAssessment) -> String {
    serde_json::to_string(a).expect("domain types serialize")
}

impl Store {
    /// Stores a new rubric assessment: `Created`, `Unchanged` for an identical repeat, or
    /// `Conflict` when the id holds a different one.
    pub async fn create_rubric_assessment(
        &self,
        a: &RubricAssessment,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Inserted> {
        let mut tx = self.begin().await?;
        let body = json(a);
        let done = sqlx::query("INSERT INTO rubric_assessments (id, rubric, subject, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(&a.id)
            .bind(&a.rubric)
            .bind(a.subject.as_str())
            .bind(&body)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if done == 0 {
            let stored: String = sqlx::query("SELECT body FROM rubric_assessments WHERE id = $1")
                .bind(&a.id)
                .fetch_one(tx.conn())
                .await?
                .try_get("body")?;
            return Ok(if stored == body {
                Inserted::Unchanged
            } else {
                Inserted::Conflict
            });
        }
        tx.audit(&AuditEvent {
            at: now,
            actor: actor.to_string(),
            kind: AuditKind::RubricAssessment,
            subject: format!("rubric-assessment/{}", a.id),
            detail: serde_json::json!({ "created": a.rubric, "subject": a.subject }),
        })
        .await?;
        tx.commit().await?;
        Ok(Inserted::Created)
    }

    pub async fn rubric_assessment(&self, id: &str) -> Result<Option<RubricAssessment>> {
        let row = sqlx::query("SELECT body FROM rubric_assessments WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| parse("rubric assessment", id, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// Every assessment on `rubric`, in id order.
    pub async fn rubric_assessments(&self, rubric: &str) -> Result<Vec<RubricAssessment>> {
        let rows =
            sqlx::query("SELECT id, body FROM rubric_assessments WHERE rubric = $1 ORDER BY id")
                .bind(rubric)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                parse(
                    "rubric assessment",
                    &r.try_get::<String, _>("id")?,
                    &r.try_get::<String, _>("body")?,
                )
            })
            .collect()
    }

    /// Applies `change` to the stored assessment under a row lock and stores the result
    /// with an audit event whose detail is `what`. `Ok(None)`: no such assessment;
    /// `Ok(Some(Err(_)))`: the change was refused and nothing was written.
    pub async fn change_rubric_assessment<E>(
        &self,
        id: &str,
        actor: &str,
        now: DateTime<Utc>,
        what: serde_json::Value,
        change: impl FnOnce(&mut RubricAssessment) -> std::result::Result<(), E>,
    ) -> Result<Option<std::result::Result<RubricAssessment, E>>> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT body FROM rubric_assessments WHERE id = $1{}",
            tx.for_update()
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
        else {
            return Ok(None);
        };
        let mut a: RubricAssessment =
            parse("rubric assessment", id, &row.try_get::<String, _>("body")?)?;
        if let Err(e) = change(&mut a) {
            return Ok(Some(Err(e)));
        }
        sqlx::query("UPDATE rubric_assessments SET body = $1 WHERE id = $2")
            .bind(json(&a))
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.audit(&AuditEvent {
            at: now,
            actor: actor.to_string(),
            kind: AuditKind::RubricAssessment,
            subject: format!("rubric-assessment/{id}"),
            detail: what,
        })
        .await?;
        tx.commit().await?;
        Ok(Some(Ok(a)))
    }
}
