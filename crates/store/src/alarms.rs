//! Monitoring alarms: the calls drift evaluation reads, and the alarms it raises, which
//! only the RAIO clears.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use radgate_domain::drift::CallPoint;
use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, Tx, millis};

/// A raised alarm, active until cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub id: String,
    pub app: String,
    pub finding: String,
    pub kind: String,
    /// The day the evaluation placed the signal on.
    pub day: NaiveDate,
    pub detail: String,
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub cleared_by: Option<String>,
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

const ACTIVE_KINDS: &str =
    "SELECT DISTINCT app, kind FROM ai_alarms WHERE cleared_at IS NULL ORDER BY app, kind";

fn app_kind(r: &sqlx::any::AnyRow) -> Result<(String, String)> {
    Ok((r.try_get("app")?, r.try_get("kind")?))
}

fn alarm(r: &sqlx::any::AnyRow) -> Result<Alarm> {
    let day: String = r.try_get("day")?;
    Ok(Alarm {
        id: r.try_get("id")?,
        app: r.try_get("app")?,
        finding: r.try_get("finding")?,
        kind: r.try_get("kind")?,
        day: day.parse().map_err(|e| crate::StoreError::Corrupt {
            what: "alarm",
            key: day.clone(),
            reason: format!("{e}"),
        })?,
        detail: r.try_get("detail")?,
        raised_at: from_millis(r.try_get("raised_at")?),
        cleared_at: r.try_get::<Option<i64>, _>("cleared_at")?.map(from_millis),
        cleared_by: r.try_get("cleared_by")?,
    })
}

impl Store {
    /// Every call of one application finding, in acquisition order, for drift evaluation
    /// (a sequential method: it needs the calls, not their counts).
    pub async fn call_points(&self, app: &str, finding: &str) -> Result<Vec<CallPoint>> {
        let rows = sqlx::query(
            "SELECT day, score, CAST(positive AS BIGINT) AS positive, CAST(truth AS BIGINT) AS truth FROM ai_calls WHERE app = $1 AND finding = $2 ORDER BY acquired_at, accession",
        )
        .bind(app)
        .bind(finding)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let day: String = r.try_get("day")?;
                Ok(CallPoint {
                    day: day.parse().map_err(|e| crate::StoreError::Corrupt {
                        what: "AI call",
                        key: day.clone(),
                        reason: format!("{e}"),
                    })?,
                    score: r.try_get("score")?,
                    positive: r.try_get::<i64, _>("positive")? == 1,
                    truth: r.try_get::<Option<i64>, _>("truth")?.map(|t| t == 1),
                })
            })
            .collect()
    }

    /// The alarms of `app`, newest first; `active_only` leaves out cleared ones.
    pub async fn alarms(&self, app: &str, active_only: bool) -> Result<Vec<Alarm>> {
        let sql = if active_only {
            "SELECT * FROM ai_alarms WHERE app = $1 AND cleared_at IS NULL ORDER BY raised_at DESC, id"
        } else {
            "SELECT * FROM ai_alarms WHERE app = $1 ORDER BY raised_at DESC, id"
        };
        let rows = sqlx::query(sql).bind(app).fetch_all(self.pool()).await?;
        rows.iter().map(alarm).collect()
    }

    /// `(application, kind)` of every kind of alarm active on an application.
    pub async fn active_alarm_kinds(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(ACTIVE_KINDS).fetch_all(self.pool()).await?;
        rows.iter().map(app_kind).collect()
    }

    /// The last day alarms of this application finding and kind were cleared.
    pub async fn last_cleared(
        &self,
        app: &str,
        finding: &str,
        kind: &str,
    ) -> Result<Option<NaiveDate>> {
        let row = sqlx::query(
            "SELECT MAX(cleared_day) AS d FROM ai_alarms WHERE app = $1 AND finding = $2 AND kind = $3",
        )
        .bind(app)
        .bind(finding)
        .bind(kind)
        .fetch_one(self.pool())
        .await?;
        Ok(row
            .try_get::<Option<String>, _>("d")?
            .and_then(|d| d.parse().ok()))
    }
}

impl Tx {
    /// `(application, kind)` of every kind of alarm active on an application, read inside
    /// the transaction that routes.
    pub async fn active_alarm_kinds(&mut self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(ACTIVE_KINDS).fetch_all(self.conn()).await?;
        rows.iter().map(app_kind).collect()
    }

    /// Raises an alarm unless one of the same application, finding and kind is active;
    /// true when raised.
    pub async fn raise_alarm(&mut self, a: &Alarm) -> Result<bool> {
        let active = sqlx::query(
            "SELECT id FROM ai_alarms WHERE app = $1 AND finding = $2 AND kind = $3 AND cleared_at IS NULL",
        )
        .bind(&a.app)
        .bind(&a.finding)
        .bind(&a.kind)
        .fetch_optional(self.conn())
        .await?;
        if active.is_some() {
            return Ok(false);
        }
        let done = sqlx::query(
            "INSERT INTO ai_alarms (id, app, finding, kind, day, detail, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&a.id)
        .bind(&a.app)
        .bind(&a.finding)
        .bind(&a.kind)
        .bind(a.day.to_string())
        .bind(&a.detail)
        .bind(millis(a.raised_at))
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Clears an active alarm; `None` when there is no such active alarm.
    pub async fn clear_alarm(
        &mut self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Alarm>> {
        let done = sqlx::query(
            "UPDATE ai_alarms SET cleared_at = $2, cleared_by = $3, cleared_day = $4 WHERE id = $1 AND cleared_at IS NULL",
        )
        .bind(id)
        .bind(millis(at))
        .bind(by)
        .bind(at.date_naive().to_string())
        .execute(self.conn())
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT * FROM ai_alarms WHERE id = $1")
            .bind(id)
            .fetch_one(self.conn())
            .await?;
        Ok(Some(alarm(&row)?))
    }
}
