//! AI monitoring data: every AI call with its study's strata, the truth of the final report
//! and the initial human call, kept in `ai_calls` so that metrics are one aggregation in
//! the database (never rows loaded into memory). The domain decides what a call, a truth
//! and an initial report are; this module only writes and counts them.

use chrono::{Datelike, NaiveDate};
use radgate_domain::Department;
use radgate_domain::ai::AiResult;
use radgate_domain::monitoring::{
    CountRow, Counts, ScoredCall, StudyTimes, ai_positive, initial_human_findings,
};
use radgate_domain::report::Report;
use radgate_domain::study::Study;
use radgate_domain::truth::Source;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, Tx, millis};

/// What the metrics are broken down by, besides application version and finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stratum {
    Site,
    Scanner,
    Protocol,
    Month,
}

impl Stratum {
    /// The strata of the input mix that drift watches.
    pub const INPUT_MIX: [Stratum; 3] = [Stratum::Site, Stratum::Scanner, Stratum::Protocol];

    pub fn code(self) -> &'static str {
        self.column()
    }

    pub fn parse(s: &str) -> Option<Stratum> {
        match s {
            "site" => Some(Stratum::Site),
            "scanner" => Some(Stratum::Scanner),
            "protocol" => Some(Stratum::Protocol),
            "month" => Some(Stratum::Month),
            _ => None,
        }
    }

    fn column(self) -> &'static str {
        match self {
            Stratum::Site => "site",
            Stratum::Scanner => "scanner",
            Stratum::Protocol => "protocol",
            Stratum::Month => "month",
        }
    }
}

impl Tx {
    /// Records the calls of `result` on `study`, replacing an earlier result of the same
    /// application version, and applies the study's report if there is one already.
    pub async fn record_ai_calls(
        &mut self,
        study: &Study,
        result: &AiResult,
        dept: &Department,
    ) -> Result<()> {
        let app = dept.ai_application(result.app.as_str());
        let day = study.acquired_at.date_naive().to_string();
        let month = format!(
            "{:04}-{:02}",
            study.acquired_at.year(),
            study.acquired_at.month()
        );
        self.count_cells(study.accession.as_str(), -1).await?;
        let scanner = match (&study.manufacturer, &study.model) {
            (Some(m), Some(n)) => format!("{m} {n}"),
            (Some(m), None) => m.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => String::new(),
        };
        for f in &result.findings {
            let spec = app.and_then(|a| a.findings.iter().find(|s| s.code == f.code));
            sqlx::query(
                "INSERT INTO ai_calls (accession, app, version, finding, score, positive, acquired_at, day, month, site, scanner, protocol, priority) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (accession, app, version, finding) DO UPDATE SET score = excluded.score, positive = excluded.positive",
            )
            .bind(study.accession.as_str())
            .bind(result.app.as_str())
            .bind(&result.app_version)
            .bind(f.code.as_str())
            .bind(f.score)
            .bind(i32::from(ai_positive(spec, f)))
            .bind(millis(study.acquired_at))
            .bind(&day)
            .bind(&month)
            .bind(&study.site)
            .bind(&scanner)
            .bind(study.protocol.clone().unwrap_or_default())
            .bind(study.priority.code())
            .execute(self.conn())
            .await?;
        }
        let report = sqlx::query("SELECT body FROM reports WHERE accession = $1")
            .bind(study.accession.as_str())
            .fetch_optional(self.conn())
            .await?;
        match report {
            Some(row) => {
                let report: Report = crate::tx::parse(
                    "report",
                    study.accession.as_str(),
                    &row.try_get::<String, _>("body")?,
                )?;
                self.write_report_to_calls(&report).await?;
            }
            // A report from the RIS, or its labels, may be here before the AI result.
            None => {
                self.write_truth(study.accession.as_str(), None, result.received_at)
                    .await?
            }
        }
        self.count_cells(study.accession.as_str(), 1).await
    }

    /// Writes what `report` establishes for the AI calls of its study: the truth once it
    /// is authorized (addenda included), and the initial human call once it left draft.
    /// Idempotent, so it runs on every save.
    pub async fn apply_report_to_calls(&mut self, report: &Report) -> Result<()> {
        let accession = report.accession.as_str();
        self.count_cells(accession, -1).await?;
        self.write_report_to_calls(report).await?;
        self.count_cells(accession, 1).await
    }

    /// Adds (`sign` 1) or takes away (-1) the calls of one study from the day cells; every
    /// change to `ai_calls` is bracketed by the two.
    async fn count_cells(&mut self, accession: &str, sign: i64) -> Result<()> {
        let sql = format!(
            "INSERT INTO ai_call_days (app, version, finding, day, month, site, scanner, protocol, positive, truth, found_later, human, truth_source, n) \
             SELECT app, version, finding, day, month, site, scanner, protocol, positive, COALESCE(truth, -1), found_later, COALESCE(human, -1), truth_source, {sign} * COUNT(*) \
             FROM ai_calls WHERE accession = $1 \
             GROUP BY app, version, finding, day, month, site, scanner, protocol, positive, COALESCE(truth, -1), found_later, COALESCE(human, -1), truth_source \
             ON CONFLICT (app, day, version, finding, site, scanner, protocol, positive, truth, found_later, human, truth_source) \
             DO UPDATE SET n = ai_call_days.n + excluded.n"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(accession)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn write_report_to_calls(&mut self, report: &Report) -> Result<()> {
        let accession = report.accession.as_str();
        if let Some(human) = initial_human_findings(report) {
            sqlx::query("UPDATE ai_calls SET human = 0 WHERE accession = $1")
                .bind(accession)
                .execute(self.conn())
                .await?;
            for f in human {
                sqlx::query("UPDATE ai_calls SET human = 1 WHERE accession = $1 AND finding = $2")
                    .bind(accession)
                    .bind(f.as_str())
                    .execute(self.conn())
                    .await?;
            }
        }
        let at = report
            .history
            .last()
            .map_or_else(chrono::Utc::now, |v| v.at);
        self.write_truth(accession, Some(report), at).await
    }

    /// Decides the study's truth again from everything stored (after feedback, a report
    /// from the RIS, new labels or an adjudication), keeping the day cells in step.
    pub async fn refresh_truth(
        &mut self,
        accession: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let report = sqlx::query("SELECT body FROM reports WHERE accession = $1")
            .bind(accession)
            .fetch_optional(self.conn())
            .await?;
        let report: Option<Report> = report
            .map(|row| crate::tx::parse("report", accession, &row.try_get::<String, _>("body")?))
            .transpose()?;
        self.count_cells(accession, -1).await?;
        self.write_truth(accession, report.as_ref(), now).await?;
        self.count_cells(accession, 1).await
    }
}

impl Store {
    /// TP/FP/FN/TN and the paired counts per version, finding and stratum for `app`, over
    /// studies acquired from day `from` to day `to` (inclusive, UTC) that have a final
    /// report. One `GROUP BY` over the day cells.
    /// The first day `app` sent a call for `finding`, if any.
    pub async fn first_call_day(&self, app: &str, finding: &str) -> Result<Option<NaiveDate>> {
        let row =
            sqlx::query("SELECT MIN(day) AS d FROM ai_call_days WHERE app = $1 AND finding = $2")
                .bind(app)
                .bind(finding)
                .fetch_one(self.pool())
                .await?;
        Ok(row
            .try_get::<Option<String>, _>("d")?
            .and_then(|d| d.parse().ok()))
    }

    /// Exams per category of `by` that `app` called `finding` on, acquired on days in
    /// `[from, to)`, counted in the database: the input mix. Labelled or not.
    pub async fn mix_counts(
        &self,
        app: &str,
        finding: &str,
        by: Stratum,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, u64)>> {
        // The column comes from the closed list of strata, never from the caller.
        let column = by.column();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {column} AS category, CAST(SUM(n) AS BIGINT) AS n FROM ai_call_days \
             WHERE app = $1 AND finding = $2 AND day >= $3 AND day < $4 \
             GROUP BY {column} ORDER BY {column}"
        )))
        .bind(app)
        .bind(finding)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("category")?, r.try_get::<i64, _>("n")? as u64)))
            .collect()
    }

    pub async fn monitor_counts(
        &self,
        app: &str,
        from: NaiveDate,
        to: NaiveDate,
        by: Option<Stratum>,
    ) -> Result<Vec<CountRow>> {
        self.monitor_counts_from(app, from, to, by, None).await
    }

    /// [`Store::monitor_counts`] over the calls whose truth came from `source` only (all
    /// sources when `None`).
    pub async fn monitor_counts_from(
        &self,
        app: &str,
        from: NaiveDate,
        to: NaiveDate,
        by: Option<Stratum>,
        source: Option<Source>,
    ) -> Result<Vec<CountRow>> {
        let stratum = by.map_or("''", Stratum::column);
        // PostgreSQL refuses a constant in GROUP BY, so the stratum joins it only when asked.
        let group = by.map_or_else(String::new, |s| format!(", {}", s.column()));
        let sum = |cond: &str| format!("CAST(SUM(CASE WHEN {cond} THEN n ELSE 0 END) AS BIGINT)");
        // The stratum column comes from the closed list above, never from the caller.
        let sql = format!(
            "SELECT version, finding, {stratum} AS stratum, {} AS tp, {} AS fp, {} AS fn, {} AS tn, \
               {} AS later, {} AS paired, {} AS ai_only, {} AS human_only \
             FROM ai_call_days \
             WHERE app = $1 AND day >= $2 AND day <= $3 AND truth >= 0 AND ($4 = '' OR truth_source = $4) \
             GROUP BY version, finding{group} \
             ORDER BY version, finding{group}",
            sum("positive = 1 AND truth = 1"),
            sum("positive = 1 AND truth = 0"),
            sum("positive = 0 AND truth = 1"),
            sum("positive = 0 AND truth = 0"),
            sum("truth = 1 AND found_later = 1"),
            sum("human >= 0"),
            sum("human >= 0 AND positive = truth AND human <> truth"),
            sum("human >= 0 AND positive <> truth AND human = truth"),
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(app)
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(source.map_or("", Source::code))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let n = |c: &str| -> Result<u64> { Ok(r.try_get::<i64, _>(c)? as u64) };
                Ok(CountRow {
                    version: r.try_get("version")?,
                    finding: r.try_get("finding")?,
                    stratum: by.map(|_| r.try_get("stratum")).transpose()?,
                    counts: Counts {
                        tp: n("tp")?,
                        fp: n("fp")?,
                        fn_: n("fn")?,
                        tn: n("tn")?,
                        found_later: n("later")?,
                        paired: n("paired")?,
                        ai_only_right: n("ai_only")?,
                        human_only_right: n("human_only")?,
                    },
                })
            })
            .collect()
    }

    /// The scores of reported calls (score present, truth known) with their version,
    /// finding and stratum, for ROC analysis: a ranking statistic needs the scores.
    pub async fn scored_calls(
        &self,
        app: &str,
        from: NaiveDate,
        to: NaiveDate,
        by: Option<Stratum>,
    ) -> Result<Vec<ScoredCall>> {
        self.scored_calls_from(app, from, to, by, None).await
    }

    /// [`Store::scored_calls`] over the calls whose truth came from `source` only.
    pub async fn scored_calls_from(
        &self,
        app: &str,
        from: NaiveDate,
        to: NaiveDate,
        by: Option<Stratum>,
        source: Option<Source>,
    ) -> Result<Vec<ScoredCall>> {
        let stratum = by.map_or("''", Stratum::column);
        let sql = format!(
            "SELECT version, finding, {stratum} AS stratum, score, CAST(truth AS BIGINT) AS truth FROM ai_calls \
             WHERE app = $1 AND day >= $2 AND day <= $3 AND truth IS NOT NULL AND score IS NOT NULL \
               AND ($4 = '' OR truth_source = $4)"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(app)
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(source.map_or("", Source::code))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ScoredCall {
                    version: r.try_get("version")?,
                    finding: r.try_get("finding")?,
                    stratum: by.map(|_| r.try_get("stratum")).transpose()?,
                    score: r.try_get("score")?,
                    truth: r.try_get::<i64, _>("truth")? == 1,
                })
            })
            .collect()
    }

    /// Per study of `app` acquired in the window: its priority, and the minutes from
    /// acquisition to the application's first result and to the first authorization of
    /// its report (absent until authorized).
    pub async fn turnaround_times(
        &self,
        app: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StudyTimes>> {
        let rows = sqlx::query(
            "SELECT c.accession AS accession, c.priority AS priority, c.acquired_at AS acquired_at, \
                    MIN(r.received_at) AS ai_at, \
                    (SELECT MIN(v.at) FROM report_versions v WHERE v.accession = c.accession AND v.act = 'authorized') AS authorized_at \
             FROM ai_calls c JOIN ai_results r ON r.accession = c.accession AND r.app = c.app \
             WHERE c.app = $1 AND c.day >= $2 AND c.day <= $3 \
             GROUP BY c.accession, c.priority, c.acquired_at \
             ORDER BY c.acquired_at",
        )
        .bind(app)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let acquired: i64 = r.try_get("acquired_at")?;
                let minutes = |ms: i64| (ms - acquired) as f64 / 60_000.0;
                Ok(StudyTimes {
                    priority: r.try_get("priority")?,
                    to_ai_result: r.try_get::<Option<i64>, _>("ai_at")?.map(minutes),
                    to_authorized: r.try_get::<Option<i64>, _>("authorized_at")?.map(minutes),
                })
            })
            .collect()
    }

    /// How many AI calls are stored (benchmarks check their data set with it).
    pub async fn ai_call_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM ai_calls")
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok(n as u64)
    }

    /// Runs one trusted SQL statement: benchmark data generation only, never user input.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<()> {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
