//! The evidence of a study's truth: feedback at sign-off, reports from the RIS, the
//! labeller's labels and the adjudication list. The domain (`truth::decide`) weighs it;
//! this module stores it and writes the decision to the study's AI calls.

use chrono::{DateTime, NaiveDate, Utc};
use radgate_domain::external_report::{ExternalReport, Status};
use radgate_domain::ids::{AiAppId, FindingCode};
use radgate_domain::labeller::{Label, Value};
use radgate_domain::report::Report;
use radgate_domain::truth::{Call, Evidence, Feedback, Reason, Verdict, decide, feedback_truth};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Result, Store, StoreError, Tx, from_millis, millis};

/// Where a labelled text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// radgate's own report: seq 0 the authorized text, then each addendum.
    Radgate,
    /// A report from the RIS: seq as stored.
    Ris,
}

impl Origin {
    fn code(self) -> &'static str {
        match self {
            Origin::Radgate => "radgate",
            Origin::Ris => "ris",
        }
    }
}

/// A report from the RIS as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredExternalReport {
    pub seq: i64,
    pub status: Status,
    pub text: String,
    pub signer: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub received_by: String,
}

/// A stored label with the text it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredLabel {
    pub origin: Origin,
    pub seq: i64,
    #[serde(flatten)]
    pub label: Label,
    pub labelled_at: DateTime<Utc>,
}

/// Feedback as stored, with who gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GivenFeedback {
    #[serde(flatten)]
    pub feedback: Feedback,
    pub given_by: String,
    pub given_at: DateTime<Utc>,
}

/// One finding on the adjudication list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adjudication {
    pub accession: String,
    pub finding: String,
    pub reason: Reason,
    pub opened_at: DateTime<Utc>,
    /// The answer, once given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
}

fn corrupt(what: &'static str, key: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn value_code(v: Value) -> &'static str {
    match v {
        Value::Present => "present",
        Value::Absent => "absent",
        Value::Uncertain => "uncertain",
    }
}

fn value_parse(s: &str) -> Option<Value> {
    [Value::Present, Value::Absent, Value::Uncertain]
        .into_iter()
        .find(|v| value_code(*v) == s)
}

fn adjudication(r: &sqlx::any::AnyRow) -> Result<Adjudication> {
    let accession: String = r.try_get("accession")?;
    let reason: String = r.try_get("reason")?;
    Ok(Adjudication {
        reason: Reason::parse(&reason)
            .ok_or_else(|| corrupt("adjudication", &accession, format!("reason {reason}")))?,
        finding: r.try_get("finding")?,
        opened_at: from_millis(r.try_get("opened_at")?),
        present: r.try_get::<Option<i64>, _>("present")?.map(|p| p == 1),
        comment: r.try_get("comment")?,
        answered_by: r.try_get("answered_by")?,
        answered_at: r.try_get::<Option<i64>, _>("answered_at")?.map(from_millis),
        accession,
    })
}

const ADJUDICATION_COLUMNS: &str = "accession, finding, reason, opened_at, CAST(present AS BIGINT) AS present, comment, answered_by, answered_at";

impl Tx {
    /// The study's AI calls (each application's latest version that called each finding).
    pub async fn calls_of(&mut self, accession: &str) -> Result<Vec<Call>> {
        let rows = sqlx::query(
            "SELECT app, finding, CAST(MAX(positive) AS BIGINT) AS positive FROM ai_calls \
             WHERE accession = $1 GROUP BY app, finding ORDER BY app, finding",
        )
        .bind(accession)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let app: String = r.try_get("app")?;
                let finding: String = r.try_get("finding")?;
                Ok(Call {
                    app: AiAppId::parse(&app)
                        .map_err(|e| corrupt("AI call", accession, e.to_string()))?,
                    finding: FindingCode::parse(&finding)
                        .map_err(|e| corrupt("AI call", accession, e.to_string()))?,
                    positive: r.try_get::<i64, _>("positive")? == 1,
                })
            })
            .collect()
    }

    /// Stores the signing radiologist's feedback (replacing any earlier feedback on the
    /// same calls). The caller checks it with `truth::feedback_truth` first.
    pub async fn save_feedback(
        &mut self,
        accession: &str,
        feedback: &[Feedback],
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        for f in feedback {
            sqlx::query(
                "INSERT INTO report_feedback (accession, app, finding, verdict, comment, given_by, given_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (accession, app, finding) DO UPDATE SET verdict = excluded.verdict, \
                 comment = excluded.comment, given_by = excluded.given_by, given_at = excluded.given_at",
            )
            .bind(accession)
            .bind(f.app.as_str())
            .bind(f.finding.as_str())
            .bind(f.verdict.code())
            .bind(f.comment.as_deref())
            .bind(by)
            .bind(millis(at))
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Stores a report from the RIS; `None` when the same report (status and text) is
    /// already stored, else its sequence number.
    pub async fn insert_external_report(
        &mut self,
        r: &ExternalReport,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let acc = r.accession.as_str();
        let identity = format!("{:x}", Sha256::digest(r.identity().as_bytes()));
        let known = sqlx::query(
            "SELECT 1 AS one FROM external_reports WHERE accession = $1 AND identity = $2",
        )
        .bind(acc)
        .bind(&identity)
        .fetch_optional(self.conn())
        .await?;
        if known.is_some() {
            return Ok(None);
        }
        let seq: i64 = sqlx::query(
            "SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) AS seq FROM external_reports WHERE accession = $1",
        )
        .bind(acc)
        .fetch_one(self.conn())
        .await?
        .try_get("seq")?;
        sqlx::query(
            "INSERT INTO external_reports (accession, seq, identity, status, body, signer, issued_at, received_at, received_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(acc)
        .bind(seq as i32)
        .bind(&identity)
        .bind(r.status.code())
        .bind(&r.text)
        .bind(r.signer.as_deref())
        .bind(r.issued_at.map(millis))
        .bind(millis(at))
        .bind(by)
        .execute(self.conn())
        .await?;
        Ok(Some(seq))
    }

    /// Replaces the labels of one text.
    pub async fn save_labels(
        &mut self,
        accession: &str,
        origin: Origin,
        seq: i64,
        labels: &[Label],
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("DELETE FROM report_labels WHERE accession = $1 AND origin = $2 AND seq = $3")
            .bind(accession)
            .bind(origin.code())
            .bind(seq as i32)
            .execute(self.conn())
            .await?;
        for l in labels {
            sqlx::query(
                "INSERT INTO report_labels (accession, origin, seq, finding, label, version, sentence, cue, labelled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(accession)
            .bind(origin.code())
            .bind(seq as i32)
            .bind(&l.finding)
            .bind(value_code(l.value))
            .bind(&l.version)
            .bind(l.sentence.as_deref())
            .bind(l.cue.as_deref())
            .bind(millis(at))
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Removes the labels of radgate's report (its feedback now speaks instead).
    pub async fn drop_report_labels(&mut self, accession: &str) -> Result<()> {
        sqlx::query("DELETE FROM report_labels WHERE accession = $1 AND origin = 'radgate'")
            .bind(accession)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Answers an open adjudication; false when there is none for the finding.
    pub async fn adjudicate(
        &mut self,
        accession: &str,
        finding: &str,
        present: bool,
        comment: Option<&str>,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE adjudications SET present = $3, comment = $4, answered_by = $5, answered_at = $6 \
             WHERE accession = $1 AND finding = $2",
        )
        .bind(accession)
        .bind(finding)
        .bind(i32::from(present))
        .bind(comment)
        .bind(by)
        .bind(millis(at))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Decides the truth of the study's AI calls from everything stored and writes it,
    /// with its source, to the calls; opens and closes the study's adjudications.
    /// `report` is radgate's report of the study, if any. Runs inside the bracket of
    /// the day cells (the caller's `count_cells`).
    pub(crate) async fn write_truth(
        &mut self,
        accession: &str,
        report: Option<&Report>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let calls = self.calls_of(accession).await?;
        if calls.is_empty() {
            return Ok(());
        }
        let feedback: Vec<Feedback> = feedback_of(self.conn(), accession)
            .await?
            .into_iter()
            .map(|g| g.feedback)
            .collect();
        // Stored feedback was checked when given; a call replaced since (a new version)
        // can make it inapplicable, and then it no longer speaks.
        let stated = feedback_truth(&feedback, &calls).unwrap_or_default();
        let answered: Vec<(FindingCode, bool)> = adjudications_of(self.conn(), accession)
            .await?
            .into_iter()
            .filter_map(|a| Some((FindingCode::parse(&a.finding).ok()?, a.present?)))
            .collect();
        let labels = labels_of(self.conn(), accession).await?;
        let texts = |origin: Origin| -> Vec<Vec<Label>> {
            let mut seqs: Vec<i64> = labels
                .iter()
                .filter(|l| l.origin == origin)
                .map(|l| l.seq)
                .collect();
            seqs.dedup();
            seqs.into_iter()
                .map(|s| {
                    labels
                        .iter()
                        .filter(|l| l.origin == origin && l.seq == s)
                        .map(|l| l.label.clone())
                        .collect()
                })
                .collect()
        };
        let (report_labels, ris_labels) = (texts(Origin::Radgate), texts(Origin::Ris));
        let decided = decide(
            &calls,
            &Evidence {
                feedback: &stated,
                adjudicated: &answered,
                report,
                report_labels: &report_labels,
                ris_labels: &ris_labels,
            },
        );
        for (finding, truth) in &decided.truth {
            let (t, later, source) = match truth {
                Some(t) => (
                    Some(i32::from(t.present)),
                    i32::from(t.found_later),
                    t.source.code(),
                ),
                None => (None, 0, ""),
            };
            sqlx::query(
                "UPDATE ai_calls SET truth = $3, found_later = $4, truth_source = $5 \
                 WHERE accession = $1 AND finding = $2",
            )
            .bind(accession)
            .bind(finding.as_str())
            .bind(t)
            .bind(later)
            .bind(source)
            .execute(self.conn())
            .await?;
        }
        // Open what is owed (one already open keeps its place in the list, with today's
        // reason); an unanswered one no longer owed goes.
        let open = adjudications_of(self.conn(), accession).await?;
        for gone in open.iter().filter(|a| {
            a.present.is_none()
                && decided
                    .adjudicate
                    .iter()
                    .all(|(f, _)| f.as_str() != a.finding)
        }) {
            sqlx::query("DELETE FROM adjudications WHERE accession = $1 AND finding = $2 AND present IS NULL")
                .bind(accession)
                .bind(&gone.finding)
                .execute(self.conn())
                .await?;
        }
        for (finding, reason) in &decided.adjudicate {
            sqlx::query(
                "INSERT INTO adjudications (accession, finding, reason, opened_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (accession, finding) DO UPDATE SET reason = excluded.reason \
                 WHERE adjudications.present IS NULL",
            )
            .bind(accession)
            .bind(finding.as_str())
            .bind(reason.code())
            .bind(millis(now))
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }
}

async fn feedback_of(
    conn: &mut sqlx::AnyConnection,
    accession: &str,
) -> Result<Vec<GivenFeedback>> {
    let rows = sqlx::query(
        "SELECT app, finding, verdict, comment, given_by, given_at FROM report_feedback \
         WHERE accession = $1 ORDER BY app, finding",
    )
    .bind(accession)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| given_feedback(accession, r)).collect()
}

async fn adjudications_of(
    conn: &mut sqlx::AnyConnection,
    accession: &str,
) -> Result<Vec<Adjudication>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ADJUDICATION_COLUMNS} FROM adjudications WHERE accession = $1 ORDER BY finding"
    )))
    .bind(accession)
    .fetch_all(conn)
    .await?;
    rows.iter().map(adjudication).collect()
}

async fn labels_of(conn: &mut sqlx::AnyConnection, accession: &str) -> Result<Vec<StoredLabel>> {
    let rows = sqlx::query(
        "SELECT origin, CAST(seq AS BIGINT) AS seq, finding, label, version, sentence, cue, labelled_at \
         FROM report_labels WHERE accession = $1 ORDER BY origin, seq, finding",
    )
    .bind(accession)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| stored_label(accession, r)).collect()
}

fn given_feedback(accession: &str, r: &sqlx::any::AnyRow) -> Result<GivenFeedback> {
    let bad = |e: String| corrupt("feedback", accession, e);
    let verdict: String = r.try_get("verdict")?;
    Ok(GivenFeedback {
        feedback: Feedback {
            app: AiAppId::parse(r.try_get::<String, _>("app")?).map_err(|e| bad(e.to_string()))?,
            finding: FindingCode::parse(r.try_get::<String, _>("finding")?)
                .map_err(|e| bad(e.to_string()))?,
            verdict: Verdict::parse(&verdict).ok_or_else(|| bad(format!("verdict {verdict}")))?,
            comment: r.try_get("comment")?,
        },
        given_by: r.try_get("given_by")?,
        given_at: from_millis(r.try_get("given_at")?),
    })
}

fn stored_label(accession: &str, r: &sqlx::any::AnyRow) -> Result<StoredLabel> {
    let origin: String = r.try_get("origin")?;
    let value: String = r.try_get("label")?;
    Ok(StoredLabel {
        origin: match origin.as_str() {
            "radgate" => Origin::Radgate,
            "ris" => Origin::Ris,
            o => return Err(corrupt("label", accession, format!("origin {o}"))),
        },
        seq: r.try_get("seq")?,
        label: Label {
            finding: r.try_get("finding")?,
            value: value_parse(&value)
                .ok_or_else(|| corrupt("label", accession, format!("value {value}")))?,
            version: r.try_get("version")?,
            sentence: r.try_get("sentence")?,
            cue: r.try_get("cue")?,
        },
        labelled_at: from_millis(r.try_get("labelled_at")?),
    })
}

/// Everything stored about one study's truth, for its page and the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthRecord {
    pub feedback: Vec<GivenFeedback>,
    pub external_reports: Vec<StoredExternalReport>,
    pub labels: Vec<StoredLabel>,
    pub adjudications: Vec<Adjudication>,
    /// Per AI call: application, version, finding, the call, the truth and its source.
    pub calls: Vec<CallTruth>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallTruth {
    pub app: String,
    pub version: String,
    pub finding: String,
    pub positive: bool,
    pub truth: Option<bool>,
    pub source: Option<String>,
}

/// The texts the labeller reads for one study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextsToLabel {
    pub accession: String,
    /// radgate's authorized report and its addenda, unless feedback speaks for it.
    pub radgate: Vec<String>,
    /// The final reports from the RIS: (seq, text).
    pub ris: Vec<(i64, String)>,
}

impl Store {
    /// Everything stored about the truth of one study.
    pub async fn truth_record(&self, accession: &str) -> Result<TruthRecord> {
        let mut conn = self.pool().acquire().await?;
        let feedback = feedback_of(&mut conn, accession).await?;
        let labels = labels_of(&mut conn, accession).await?;
        let adjudications = adjudications_of(&mut conn, accession).await?;
        let rows = sqlx::query(
            "SELECT CAST(seq AS BIGINT) AS seq, status, body, signer, issued_at, received_at, received_by FROM external_reports \
             WHERE accession = $1 ORDER BY seq",
        )
        .bind(accession)
        .fetch_all(&mut *conn)
        .await?;
        let external_reports = rows
            .iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(StoredExternalReport {
                    seq: r.try_get("seq")?,
                    status: Status::parse(&status).ok_or_else(|| {
                        corrupt("external report", accession, format!("status {status}"))
                    })?,
                    text: r.try_get("body")?,
                    signer: r.try_get("signer")?,
                    issued_at: r.try_get::<Option<i64>, _>("issued_at")?.map(from_millis),
                    received_at: from_millis(r.try_get("received_at")?),
                    received_by: r.try_get("received_by")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT app, version, finding, CAST(positive AS BIGINT) AS positive, CAST(truth AS BIGINT) AS truth, truth_source \
             FROM ai_calls WHERE accession = $1 ORDER BY app, version, finding",
        )
        .bind(accession)
        .fetch_all(&mut *conn)
        .await?;
        let calls = rows
            .iter()
            .map(|r| {
                let source: String = r.try_get("truth_source")?;
                Ok(CallTruth {
                    app: r.try_get("app")?,
                    version: r.try_get("version")?,
                    finding: r.try_get("finding")?,
                    positive: r.try_get::<i64, _>("positive")? == 1,
                    truth: r.try_get::<Option<i64>, _>("truth")?.map(|t| t == 1),
                    source: (!source.is_empty()).then_some(source),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TruthRecord {
            feedback,
            external_reports,
            labels,
            adjudications,
            calls,
        })
    }

    /// The texts the labeller reads for one study: radgate's authorized report (with its
    /// addenda) when no feedback was given on it, and the RIS's final reports.
    pub async fn texts_to_label(&self, accession: &str) -> Result<TextsToLabel> {
        let mut radgate = Vec::new();
        if let Some(r) = self.report(accession).await? {
            let feedback: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM report_feedback WHERE accession = $1")
                    .bind(accession)
                    .fetch_one(self.pool())
                    .await?
                    .try_get("n")?;
            if r.state == radgate_domain::report::ReportState::Authorized && feedback == 0 {
                radgate.push(r.content.text.clone());
                radgate.extend(r.addenda.iter().map(|a| a.text.clone()));
            }
        }
        let rows = sqlx::query(
            "SELECT CAST(seq AS BIGINT) AS seq, body FROM external_reports \
             WHERE accession = $1 AND status <> 'preliminary' ORDER BY seq",
        )
        .bind(accession)
        .fetch_all(self.pool())
        .await?;
        let ris = rows
            .iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("body")?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(TextsToLabel {
            accession: accession.to_string(),
            radgate,
            ris,
        })
    }

    /// The studies acquired on days from `from` to `to` (inclusive) that have AI calls
    /// and a final report (radgate's or the RIS's): what a relabel reads.
    pub async fn reported_studies_with_calls(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT c.accession AS accession FROM ai_calls c \
             WHERE c.day >= $1 AND c.day <= $2 AND ( \
               EXISTS (SELECT 1 FROM reports r WHERE r.accession = c.accession AND r.state = 'authorized') \
               OR EXISTS (SELECT 1 FROM external_reports e WHERE e.accession = c.accession AND e.status <> 'preliminary')) \
             ORDER BY c.accession",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("accession")?)).collect()
    }

    /// One finding's adjudication, open or answered.
    pub async fn adjudication(
        &self,
        accession: &str,
        finding: &str,
    ) -> Result<Option<Adjudication>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ADJUDICATION_COLUMNS} FROM adjudications WHERE accession = $1 AND finding = $2"
        )))
        .bind(accession)
        .bind(finding)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(adjudication).transpose()
    }

    /// The adjudication list: open findings first, oldest first; answered ones too when
    /// `answered` is set. At most `limit`.
    pub async fn adjudication_list(&self, answered: bool, limit: u32) -> Result<Vec<Adjudication>> {
        let filter = if answered {
            ""
        } else {
            "WHERE present IS NULL"
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ADJUDICATION_COLUMNS} FROM adjudications {filter} \
             ORDER BY CASE WHEN present IS NULL THEN 0 ELSE 1 END, opened_at, accession, finding LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(adjudication).collect()
    }
}
