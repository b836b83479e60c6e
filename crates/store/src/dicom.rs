//! The index of received DICOM instances and the studies they make up. The file on disk
//! is the durable copy; this index groups instances into studies and records when each
//! study was last completed (routed), so that late instances route it again.

use chrono::{DateTime, Utc};
use radgate_domain::acquisition::AcquiredInstance;
use radgate_domain::ids::ProfessionalId;
use radgate_domain::study::Order;
use sqlx::Row;

use crate::tx::parse;
use crate::{Result, Store, from_millis, millis};

/// An instance the receiver stored, to be indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedInstance {
    pub instance: AcquiredInstance,
    /// Where its file is.
    pub path: String,
    pub calling_ae: String,
    pub received_at: DateTime<Utc>,
}

/// What a forward of a study sends: the instances that one completion of it added (a
/// study completed again by late instances sends only those), or the whole study. Kept
/// in the outbox as `STUDY_UID;completion=N`, or the bare UID for the whole study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyPart {
    pub study_uid: String,
    pub completion: Option<i64>,
}

impl std::fmt::Display for StudyPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.completion {
            Some(n) => write!(f, "{};completion={n}", self.study_uid),
            None => f.write_str(&self.study_uid),
        }
    }
}

impl std::str::FromStr for StudyPart {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s.split_once(";completion=") {
            Some((uid, n)) => StudyPart {
                study_uid: uid.to_owned(),
                completion: Some(n.parse()?),
            },
            None => StudyPart {
                study_uid: s.to_owned(),
                completion: None,
            },
        })
    }
}

/// A study whose instances have stopped coming.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietStudy {
    pub study_uid: String,
    pub first_at: DateTime<Utc>,
    /// Completed before: this completion comes from late instances.
    pub completed_before: bool,
    pub instances: u64,
    /// Distinct series received.
    pub series: u32,
    pub last_at: DateTime<Utc>,
    /// The first instance received, whose attributes make the study.
    pub first: AcquiredInstance,
}

impl Store {
    /// Indexes stored instances, in one transaction, and notes each study's newest
    /// arrival. A repeat of a SOP Instance UID replaces the earlier index row (the file was
    /// overwritten too) and reopens its study; the same receipt indexed twice (the
    /// receiver's journal replayed after a crash) changes nothing.
    pub async fn record_instances(&self, batch: &[ReceivedInstance]) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut touched: Vec<(&str, i64)> = Vec::new();
        for r in batch {
            let i = &r.instance;
            let meta = serde_json::to_string(i).expect("instances serialize");
            let at = millis(r.received_at);
            let changed = sqlx::query(
                "INSERT INTO dicom_instances (sop_uid, study_uid, series_uid, path, meta, calling_ae, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (sop_uid) DO UPDATE SET study_uid = excluded.study_uid, series_uid = excluded.series_uid, \
                   path = excluded.path, meta = excluded.meta, calling_ae = excluded.calling_ae, received_at = excluded.received_at, \
                   completion = NULL \
                 WHERE dicom_instances.received_at <> excluded.received_at OR dicom_instances.path <> excluded.path",
            )
            .bind(&i.sop_instance_uid)
            .bind(&i.study_uid)
            .bind(&i.series_uid)
            .bind(&r.path)
            .bind(&meta)
            .bind(&r.calling_ae)
            .bind(at)
            .execute(tx.conn())
            .await?
            .rows_affected();
            if changed == 0 {
                continue;
            }
            match touched.iter_mut().find(|(s, _)| *s == i.study_uid) {
                Some((_, last)) => *last = (*last).max(at),
                None => touched.push((&i.study_uid, at)),
            }
        }
        for (study, last) in touched {
            sqlx::query(
                "INSERT INTO dicom_studies (study_uid, first_at, last_at, instances) \
                 VALUES ($1, $2, $2, (SELECT COUNT(*) FROM dicom_instances WHERE study_uid = $1)) \
                 ON CONFLICT (study_uid) DO UPDATE SET \
                   last_at = CASE WHEN excluded.last_at > dicom_studies.last_at THEN excluded.last_at ELSE dicom_studies.last_at END, \
                   instances = excluded.instances, completed_at = NULL",
            )
            .bind(study)
            .bind(last)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Studies not completed since their last instance, which arrived before `before`;
    /// the receiver decides which of them are complete (`acquisition::Completion`).
    pub async fn quiet_studies(&self, before: DateTime<Utc>) -> Result<Vec<QuietStudy>> {
        let rows = sqlx::query(
            "SELECT s.study_uid AS study_uid, s.first_at AS first_at, s.last_at AS last_at, s.completions AS completions, s.instances AS instances, \
               (SELECT COUNT(DISTINCT i.series_uid) FROM dicom_instances i WHERE i.study_uid = s.study_uid) AS series, \
               (SELECT i.meta FROM dicom_instances i WHERE i.study_uid = s.study_uid ORDER BY i.received_at, i.sop_uid LIMIT 1) AS meta \
             FROM dicom_studies s WHERE s.completed_at IS NULL AND s.last_at <= $1 ORDER BY s.last_at",
        )
        .bind(millis(before))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let uid: String = r.try_get("study_uid")?;
                let meta: String = r.try_get("meta")?;
                Ok(QuietStudy {
                    first: parse("DICOM instance", &uid, &meta)?,
                    study_uid: uid,
                    first_at: from_millis(r.try_get("first_at")?),
                    completed_before: r.try_get::<i64, _>("completions")? > 0,
                    instances: r.try_get::<i64, _>("instances")? as u64,
                    series: r.try_get::<i64, _>("series")? as u32,
                    last_at: from_millis(r.try_get("last_at")?),
                })
            })
            .collect()
    }

    /// Marks a study completed at `now`, with the reason it could not be routed, if any,
    /// and owes it to each of `forward_to` (outbox destinations) in the same transaction.
    pub async fn complete_study(
        &self,
        study_uid: &str,
        accession: &str,
        problem: Option<&str>,
        reconcile: Option<&Reconcile<'_>>,
        forward_to: &[String],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // In the completing transaction: a study that needs a person is never only a log line.
        match reconcile {
            Some(r) => {
                let fresh = sqlx::query(
                    "SELECT reason FROM reconciliation WHERE study_uid = $1 AND resolved_at IS NULL",
                )
                .bind(study_uid)
                .fetch_optional(tx.conn())
                .await?
                .map(|row| row.try_get::<String, _>("reason"))
                .transpose()?
                .is_none_or(|reason| reason != r.reason);
                sqlx::query(
                    "INSERT INTO reconciliation (study_uid, accession, reason, instances, at, resolved_at) \
                     VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (study_uid) DO UPDATE SET \
                     accession = excluded.accession, reason = excluded.reason, \
                     instances = excluded.instances, at = excluded.at, resolved_at = NULL",
                )
                .bind(study_uid)
                .bind(accession)
                .bind(r.reason)
                .bind(r.instances as i64)
                .bind(millis(now))
                .execute(tx.conn())
                .await?;
                if fresh && let Some(who) = r.notify {
                    tx.notify(
                        who,
                        now,
                        &format!(
                            "Study {study_uid} (accession `{accession}`, {} instances) needs reconciliation: {}",
                            r.instances, r.reason
                        ),
                    )
                    .await?;
                }
            }
            None => {
                sqlx::query(
                    "UPDATE reconciliation SET resolved_at = $1 WHERE study_uid = $2 AND resolved_at IS NULL",
                )
                .bind(millis(now))
                .bind(study_uid)
                .execute(tx.conn())
                .await?;
            }
        }
        sqlx::query(
            "UPDATE dicom_studies SET completed_at = $1, completions = completions + 1, problem = $2 WHERE study_uid = $3",
        )
        .bind(millis(now))
        .bind(problem)
        .bind(study_uid)
        .execute(tx.conn())
        .await?;
        let completion: i64 =
            sqlx::query("SELECT completions FROM dicom_studies WHERE study_uid = $1")
                .bind(study_uid)
                .fetch_one(tx.conn())
                .await?
                .try_get("completions")?;
        sqlx::query(
            "UPDATE dicom_instances SET completion = $1 WHERE study_uid = $2 AND completion IS NULL",
        )
        .bind(completion)
        .bind(study_uid)
        .execute(tx.conn())
        .await?;
        let payload = StudyPart {
            study_uid: study_uid.to_owned(),
            completion: Some(completion),
        }
        .to_string();
        for d in forward_to {
            tx.enqueue(d, accession, "study", &payload, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// When the indexed copy of an instance was received, if it is indexed.
    pub async fn instance_received_at(&self, sop_uid: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT received_at FROM dicom_instances WHERE sop_uid = $1")
            .bind(sop_uid)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok(from_millis(r.try_get("received_at")?)))
            .transpose()
    }

    /// The order placed under `accession`, if any.
    pub async fn order(&self, accession: &str) -> Result<Option<Order>> {
        let row = sqlx::query("SELECT body FROM orders WHERE accession = $1")
            .bind(accession)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| parse("order", accession, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// The stored instances of a study, or of one of its completions: `(SOP Instance
    /// UID, path, calling AE title it came from)`.
    pub async fn study_instances(&self, part: &StudyPart) -> Result<Vec<(String, String, String)>> {
        let rows = match part.completion {
            None => sqlx::query("SELECT sop_uid, path, calling_ae FROM dicom_instances WHERE study_uid = $1 ORDER BY received_at, sop_uid")
                .bind(&part.study_uid),
            Some(n) => sqlx::query("SELECT sop_uid, path, calling_ae FROM dicom_instances WHERE study_uid = $1 AND completion = $2 ORDER BY received_at, sop_uid")
                .bind(&part.study_uid)
                .bind(n),
        }
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("sop_uid")?,
                    r.try_get("path")?,
                    r.try_get("calling_ae")?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::StudyPart;

    #[test]
    fn a_study_part_reads_back_as_written_and_a_bare_uid_is_the_whole_study() {
        let part = StudyPart {
            study_uid: "1.2.826.0.1.3680043.10.1".into(),
            completion: Some(3),
        };
        assert_eq!(part.to_string(), "1.2.826.0.1.3680043.10.1;completion=3");
        assert_eq!(part.to_string().parse::<StudyPart>().unwrap(), part);
        let whole: StudyPart = "1.2.3".parse().unwrap();
        assert_eq!(whole.completion, None);
        assert!("1.2.3;completion=x".parse::<StudyPart>().is_err());
    }
}

/// A received study as DICOMweb searches list it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStudy {
    pub study_uid: String,
    /// Its instances' attributes, in the order they arrived.
    pub instances: Vec<AcquiredInstance>,
}

impl Store {
    /// Received studies, the most recent first, with their instances' attributes; one
    /// study when `study_uid` is given.
    pub async fn stored_studies(
        &self,
        study_uid: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredStudy>> {
        let uids: Vec<String> = match study_uid {
            Some(u) => vec![u.to_owned()],
            None => sqlx::query(
                "SELECT study_uid FROM dicom_studies ORDER BY last_at DESC, study_uid LIMIT $1",
            )
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get("study_uid"))
            .collect::<std::result::Result<_, _>>()?,
        };
        let mut out = Vec::new();
        for uid in uids {
            let rows = sqlx::query(
                "SELECT meta FROM dicom_instances WHERE study_uid = $1 ORDER BY received_at, sop_uid",
            )
            .bind(&uid)
            .fetch_all(self.pool())
            .await?;
            if rows.is_empty() {
                continue;
            }
            let instances = rows
                .iter()
                .map(|r| parse("DICOM instance", &uid, &r.try_get::<String, _>("meta")?))
                .collect::<Result<Vec<AcquiredInstance>>>()?;
            out.push(StoredStudy {
                study_uid: uid,
                instances,
            });
        }
        Ok(out)
    }
}

/// An object an AI node sent beside its report, linked to its study and application.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AiObject {
    pub sop_uid: String,
    pub study_uid: String,
    pub series_uid: String,
    pub kind: String,
    pub sop_class: String,
    /// The application it came from, when it names a registered algorithm.
    pub app: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl Store {
    /// Links an AI object to study `accession` (again, when it is sent again).
    pub async fn record_ai_object(&self, accession: &str, o: &AiObject) -> Result<()> {
        sqlx::query(
            "INSERT INTO ai_objects (sop_uid, study_uid, series_uid, accession, app, kind, sop_class, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sop_uid) DO UPDATE SET \
             study_uid = excluded.study_uid, series_uid = excluded.series_uid, accession = excluded.accession, \
             app = excluded.app, kind = excluded.kind, sop_class = excluded.sop_class, received_at = excluded.received_at",
        )
        .bind(&o.sop_uid)
        .bind(&o.study_uid)
        .bind(&o.series_uid)
        .bind(accession)
        .bind(&o.app)
        .bind(&o.kind)
        .bind(&o.sop_class)
        .bind(millis(o.received_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The AI objects of study `accession`, in the order they arrived.
    pub async fn ai_objects_of(&self, accession: &str) -> Result<Vec<AiObject>> {
        let rows = sqlx::query(
            "SELECT sop_uid, study_uid, series_uid, app, kind, sop_class, received_at FROM ai_objects \
             WHERE accession = $1 ORDER BY received_at, sop_uid",
        )
        .bind(accession)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AiObject {
                    sop_uid: r.try_get("sop_uid")?,
                    study_uid: r.try_get("study_uid")?,
                    series_uid: r.try_get("series_uid")?,
                    kind: r.try_get("kind")?,
                    sop_class: r.try_get("sop_class")?,
                    app: r.try_get("app")?,
                    received_at: from_millis(r.try_get("received_at")?),
                })
            })
            .collect()
    }
}

/// A received study that needs a person: why, how many instances, and whom to tell.
pub struct Reconcile<'a> {
    pub reason: &'a str,
    pub instances: u64,
    pub notify: Option<&'a ProfessionalId>,
}

/// An open entry of the reconciliation list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unreconciled {
    pub study_uid: String,
    pub accession: String,
    pub reason: String,
    pub instances: i64,
    pub since: DateTime<Utc>,
    /// For an entry about one instance (an AI node's SR), its SOP Instance UID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_uid: Option<String>,
}

impl Store {
    /// The open reconciliation list, oldest first: studies, and single instances.
    pub async fn reconciliation(&self) -> Result<Vec<Unreconciled>> {
        let rows = sqlx::query(
            "SELECT study_uid, accession, reason, instances, at, NULL AS sop_uid FROM reconciliation \
             WHERE resolved_at IS NULL \
             UNION ALL SELECT study_uid, accession, reason, 1 AS instances, at, sop_uid \
             FROM reconciliation_instances WHERE resolved_at IS NULL \
             ORDER BY at, study_uid",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Unreconciled {
                    study_uid: r.try_get("study_uid")?,
                    accession: r.try_get("accession")?,
                    reason: r.try_get("reason")?,
                    instances: r.try_get("instances")?,
                    since: from_millis(r.try_get("at")?),
                    sop_uid: r.try_get("sop_uid")?,
                })
            })
            .collect()
    }

    /// Lists a received instance that was kept but could not be read, with the reason;
    /// tells `notify` the first time the reason is seen for it.
    pub async fn reconcile_instance(
        &self,
        sop_uid: &str,
        study_uid: &str,
        accession: &str,
        reason: &str,
        notify: Option<&ProfessionalId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let fresh = sqlx::query(
            "SELECT reason FROM reconciliation_instances WHERE sop_uid = $1 AND resolved_at IS NULL",
        )
        .bind(sop_uid)
        .fetch_optional(tx.conn())
        .await?
        .map(|row| row.try_get::<String, _>("reason"))
        .transpose()?
        .is_none_or(|r| r != reason);
        sqlx::query(
            "INSERT INTO reconciliation_instances (sop_uid, study_uid, accession, reason, at, resolved_at) \
             VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (sop_uid) DO UPDATE SET \
             study_uid = excluded.study_uid, accession = excluded.accession, \
             reason = excluded.reason, at = excluded.at, resolved_at = NULL",
        )
        .bind(sop_uid)
        .bind(study_uid)
        .bind(accession)
        .bind(reason)
        .bind(millis(now))
        .execute(tx.conn())
        .await?;
        if fresh && let Some(who) = notify {
            tx.notify(
                who,
                now,
                &format!("Instance {sop_uid} of study {study_uid} needs reconciliation: {reason}"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Closes the entry of an instance that has now been read.
    pub async fn resolve_instance(&self, sop_uid: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE reconciliation_instances SET resolved_at = $1 WHERE sop_uid = $2 AND resolved_at IS NULL",
        )
        .bind(millis(now))
        .bind(sop_uid)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The accession number of a received study: that of its first indexed instances
    /// that carry one.
    pub async fn study_accession(&self, study_uid: &str) -> Result<Option<String>> {
        let rows = sqlx::query(
            "SELECT meta FROM dicom_instances WHERE study_uid = $1 ORDER BY received_at, sop_uid LIMIT 16",
        )
        .bind(study_uid)
        .fetch_all(self.pool())
        .await?;
        for row in rows {
            let meta: String = row.try_get("meta")?;
            let i: AcquiredInstance = parse("DICOM instance", study_uid, &meta)?;
            if let Some(a) = i
                .accession
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
            {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// How many studies wait for reconciliation, for the metrics.
    pub async fn reconciliation_count(&self) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT (SELECT COUNT(*) FROM reconciliation WHERE resolved_at IS NULL) + \
                 (SELECT COUNT(*) FROM reconciliation_instances WHERE resolved_at IS NULL) AS n",
        )
        .fetch_one(self.pool())
        .await?
        .try_get("n")?)
    }
}
