//! AI pilots: declarations, decisions, and the facts of a period that a pilot report
//! compares (exams of the application's intended use, the radiologist work they opened,
//! their turnaround to the authorized report).

use chrono::NaiveDate;
use radgate_domain::Department;
use radgate_domain::ai::{AiApplication, StatusChange};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::monitoring::Turnaround;
use radgate_domain::pilot::{Measured, PeriodFacts, Pilot, PilotDecision, rates_per_finding};
use sqlx::{AssertSqlSafe, Row};

use crate::tx::parse;
use crate::{Result, Store, millis};

/// `$first, $first+1, ...` for `n` bound values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(day: NaiveDate) -> i64 {
    millis(day.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

impl Store {
    /// What a pilot report compares: the pilot period and its baseline, and the
    /// application's sensitivity and specificity over the pilot's reported exams.
    pub async fn pilot_measured(&self, p: &Pilot, dept: &Department) -> Result<Option<Measured>> {
        let Some(app) = dept.ai_application(p.app.as_str()) else {
            return Ok(None);
        };
        let tasks: Vec<String> = dept
            .tasks
            .iter()
            .filter(|t| t.radiologist_only)
            .map(|t| t.id.to_string())
            .collect();
        let counts = self
            .monitor_counts(p.app.as_str(), p.start, p.end, None)
            .await?;
        Ok(Some(Measured {
            pilot: self.period_facts(app, &tasks, p.start, p.end).await?,
            baseline: self
                .period_facts(app, &tasks, p.baseline_start, p.baseline_end)
                .await?,
            rates: rates_per_finding(&counts),
        }))
    }

    /// Records a declared pilot with its audit event; false (and nothing written) when a
    /// pilot of that id is already declared, since its expectations cannot change.
    pub async fn declare_pilot(&self, p: &Pilot) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "INSERT INTO pilots (id, app, body, declared_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&p.id)
        .bind(p.app.as_str())
        .bind(serde_json::to_string(p).expect("pilots serialize"))
        .bind(millis(p.declared_at))
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        tx.audit(&AuditEvent {
            at: p.declared_at,
            actor: p.declared_by.clone(),
            kind: AuditKind::Pilot,
            subject: format!("pilots/{}", p.id),
            detail: serde_json::json!({ "declared": p }),
        })
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn pilot(&self, id: &str) -> Result<Option<(Pilot, Option<PilotDecision>)>> {
        let row = sqlx::query(
            "SELECT p.body AS body, d.body AS decision FROM pilots p LEFT JOIN pilot_decisions d ON d.pilot = p.id WHERE p.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let pilot = parse("pilot", id, &row.try_get::<String, _>("body")?)?;
        let decision = row
            .try_get::<Option<String>, _>("decision")?
            .map(|b| parse("pilot decision", id, &b))
            .transpose()?;
        Ok(Some((pilot, decision)))
    }

    pub async fn pilots(&self) -> Result<Vec<(Pilot, Option<PilotDecision>)>> {
        let rows = sqlx::query(
            "SELECT p.id AS id, p.body AS body, d.body AS decision FROM pilots p LEFT JOIN pilot_decisions d ON d.pilot = p.id ORDER BY p.declared_at, p.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok((
                    parse("pilot", &id, &r.try_get::<String, _>("body")?)?,
                    r.try_get::<Option<String>, _>("decision")?
                        .map(|b| parse("pilot decision", &id, &b))
                        .transpose()?,
                ))
            })
            .collect()
    }

    /// Records the decision the domain allowed and moves the application's register
    /// status to what the outcome implies (when the domain lets it change: an application
    /// already there stays as it is), all in one transaction with their audit events.
    /// False when a decision was recorded meanwhile.
    pub async fn decide_pilot(
        &self,
        pilot: &Pilot,
        app: &AiApplication,
        d: &PilotDecision,
    ) -> Result<Option<Option<StatusChange>>> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "INSERT INTO pilot_decisions (pilot, outcome, body, at) VALUES ($1, $2, $3, $4) ON CONFLICT (pilot) DO NOTHING",
        )
        .bind(&pilot.id)
        .bind(d.outcome.code())
        .bind(serde_json::to_string(d).expect("decisions serialize"))
        .bind(millis(d.at))
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        tx.audit(&AuditEvent {
            at: d.at,
            actor: d.by.clone(),
            kind: AuditKind::Pilot,
            subject: format!("pilots/{}", pilot.id),
            detail: serde_json::json!({ "decided": d.outcome.code(), "reason": d.reason }),
        })
        .await?;
        let reason = format!("pilot {}: {} ({})", pilot.id, d.outcome.code(), d.reason);
        let change = tx
            .change_ai_status(app, d.outcome.status_after(), &reason, &d.by, d.at)
            .await?
            .ok();
        tx.commit().await?;
        Ok(Some(change))
    }

    /// Exams of `app`'s intended use (its modalities and body parts) acquired on days
    /// `from..=to`, the radiologist work items they opened (`radiologist_tasks`, superseded
    /// ones left out), and their minutes from acquisition to the first authorized report.
    pub async fn period_facts(
        &self,
        app: &AiApplication,
        radiologist_tasks: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<PeriodFacts> {
        if app.modalities.is_empty() {
            return Ok(PeriodFacts {
                exams: 0,
                radiologist_items: 0,
                to_authorized_report: None,
            });
        }
        let d = self.dialect();
        let mut filter = format!(
            "s.acquired_at >= $1 AND s.acquired_at < $2 AND {} IN ({})",
            d.json_text("s.body", "modality"),
            placeholders(3, app.modalities.len())
        );
        let mut next = 3 + app.modalities.len();
        if !app.body_parts.is_empty() {
            filter.push_str(&format!(
                " AND {} IN ({})",
                d.json_text("s.body", "body_part"),
                placeholders(next, app.body_parts.len())
            ));
            next += app.body_parts.len();
        }
        let tasks = if radiologist_tasks.is_empty() {
            "NULL".to_owned()
        } else {
            placeholders(next, radiologist_tasks.len())
        };
        // Placeholders only: the values are bound below, in this order.
        let counts = format!(
            "SELECT COUNT(*) AS exams, CAST(COALESCE(SUM((SELECT COUNT(*) FROM work_items w \
               WHERE w.accession = s.accession AND w.state <> 'superseded' AND w.task IN ({tasks}))), 0) AS BIGINT) AS items \
             FROM studies s WHERE {filter}"
        );
        let times = format!(
            "SELECT s.acquired_at AS acquired_at, \
               (SELECT MIN(v.at) FROM report_versions v WHERE v.accession = s.accession AND v.act = 'authorized') AS authorized_at \
             FROM studies s WHERE {filter}"
        );
        let bind_all = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql))
                .bind(ms(from))
                .bind(ms(to + chrono::Duration::days(1)));
            for v in app.modalities.iter().chain(&app.body_parts) {
                q = q.bind(v.clone());
            }
            q
        };
        let mut q = bind_all(counts);
        for t in radiologist_tasks {
            q = q.bind(t.clone());
        }
        let row = q.fetch_one(self.pool()).await?;
        let mut minutes = Vec::new();
        for r in bind_all(times).fetch_all(self.pool()).await? {
            let acquired: i64 = r.try_get("acquired_at")?;
            if let Some(at) = r.try_get::<Option<i64>, _>("authorized_at")? {
                minutes.push((at - acquired) as f64 / 60_000.0);
            }
        }
        Ok(PeriodFacts {
            exams: row.try_get::<i64, _>("exams")? as u64,
            radiologist_items: row.try_get::<i64, _>("items")? as u64,
            to_authorized_report: Turnaround::of(&minutes, None),
        })
    }
}
