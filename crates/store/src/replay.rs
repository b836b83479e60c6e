//! The stored cases a policy replay reads, a batch at a time: each study of a period with
//! its AI results, the decision in force and the findings of its final report. Reads
//! only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use radgate_domain::Decision;
use radgate_domain::ai::AiResult;
use radgate_domain::ids::FindingCode;
use radgate_domain::replay::Case;
use radgate_domain::report::Report;
use radgate_domain::study::Study;
use sqlx::{AssertSqlSafe, Row};

use crate::tx::parse;
use crate::{Result, Store, from_millis, millis};

/// Where a batch ends, to start the next after it.
pub type ReplayCursor = (i64, String);

impl Store {
    /// Up to `limit` studies acquired in `[from, to)` after `after`, in acquisition order,
    /// as replay cases; studies never routed are left out. The cursor of the last study
    /// read comes back with them (none when the period is done).
    pub async fn replay_batch(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<&ReplayCursor>,
        limit: u32,
    ) -> Result<(Vec<Case>, Option<ReplayCursor>)> {
        // Every accession is after the empty string: the first batch starts at `from`.
        let (at, acc) = after.cloned().unwrap_or((millis(from), String::new()));
        let rows = sqlx::query(
            "SELECT accession, body, acquired_at FROM studies \
             WHERE acquired_at >= $1 AND acquired_at < $2 AND acquired_at >= $3 \
               AND (acquired_at > $3 OR (acquired_at = $3 AND accession > $4)) \
             ORDER BY acquired_at, accession LIMIT $5",
        )
        .bind(millis(from))
        .bind(millis(to))
        .bind(at)
        .bind(&acc)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let Some(last) = rows.last() else {
            return Ok((Vec::new(), None));
        };
        let cursor = (
            last.try_get::<i64, _>("acquired_at")?,
            last.try_get::<String, _>("accession")?,
        );
        let mut studies: Vec<(String, Study)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let accession: String = r.try_get("accession")?;
            let study: Study = parse("study", &accession, &r.try_get::<String, _>("body")?)?;
            studies.push((accession, study));
        }
        // The batch's other rows are found by the same range of studies (a list of
        // thousands of accession numbers costs SQLite more than the join).
        // The plain range first, so that both planners scan only the batch's part of the
        // acquisition index.
        let in_batch = "s.acquired_at >= $1 AND s.acquired_at <= $3 \
             AND (s.acquired_at > $1 OR (s.acquired_at = $1 AND s.accession > $2)) \
             AND (s.acquired_at < $3 OR (s.acquired_at = $3 AND s.accession <= $4))";
        let bind_all = |sql: String| {
            sqlx::query(AssertSqlSafe(sql))
                .bind(at)
                .bind(acc.clone())
                .bind(cursor.0)
                .bind(cursor.1.clone())
        };

        let mut decided: HashMap<String, (Decision, DateTime<Utc>)> = HashMap::new();
        let sql = format!(
            "SELECT d.accession AS accession, d.body AS body, d.decided_at AS decided_at \
             FROM studies s JOIN decisions d ON d.accession = s.accession \
             WHERE {in_batch} AND d.id = (SELECT MAX(d2.id) FROM decisions d2 WHERE d2.accession = s.accession)"
        );
        for r in bind_all(sql).fetch_all(self.pool()).await? {
            let accession: String = r.try_get("accession")?;
            let d: Decision = parse("decision", &accession, &r.try_get::<String, _>("body")?)?;
            decided.insert(accession, (d, from_millis(r.try_get("decided_at")?)));
        }

        let mut results: HashMap<String, Vec<AiResult>> = HashMap::new();
        let sql = format!(
            "SELECT r.id AS id, r.accession AS accession, r.body AS body \
             FROM studies s JOIN ai_results r ON r.accession = s.accession \
             WHERE {in_batch} ORDER BY r.received_at, r.id"
        );
        for r in bind_all(sql).fetch_all(self.pool()).await? {
            let id: String = r.try_get("id")?;
            let result: AiResult = parse("AI result", &id, &r.try_get::<String, _>("body")?)?;
            results
                .entry(r.try_get("accession")?)
                .or_default()
                .push(result);
        }

        // The truth: the final report's coded findings, and what monitoring settled for
        // the study's AI calls (feedback, adjudication, the labeller).
        let mut truth: HashMap<String, Vec<FindingCode>> = HashMap::new();
        let sql = format!(
            "SELECT p.accession AS accession, p.body AS body \
             FROM studies s JOIN reports p ON p.accession = s.accession \
             WHERE {in_batch} AND p.state = 'authorized'"
        );
        for r in bind_all(sql).fetch_all(self.pool()).await? {
            let accession: String = r.try_get("accession")?;
            let report: Report = parse("report", &accession, &r.try_get::<String, _>("body")?)?;
            truth.insert(accession, report.final_findings().unwrap_or_default());
        }
        let sql = format!(
            "SELECT DISTINCT c.accession AS accession, c.finding AS finding, CAST(c.truth AS BIGINT) AS truth \
             FROM studies s JOIN ai_calls c ON c.accession = s.accession \
             WHERE {in_batch} AND c.truth IS NOT NULL"
        );
        for r in bind_all(sql).fetch_all(self.pool()).await? {
            let found = truth.entry(r.try_get("accession")?).or_default();
            if r.try_get::<i64, _>("truth")? == 1 {
                let finding: String = r.try_get("finding")?;
                if let Ok(f) = FindingCode::parse(finding)
                    && !found.contains(&f)
                {
                    found.push(f);
                }
            }
        }

        let cases = studies
            .into_iter()
            .filter_map(|(accession, study)| {
                let (decided, decided_at) = decided.remove(&accession)?;
                Some(Case {
                    study,
                    results: results.remove(&accession).unwrap_or_default(),
                    decided,
                    decided_at,
                    truth: truth.remove(&accession),
                })
            })
            .collect();
        Ok((cases, Some(cursor)))
    }
}
