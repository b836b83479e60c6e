//! Writing through a transaction: idempotent ingest by natural keys, decisions, work items
//! and audit events land together or not at all.

use radgate_domain::Decision;
use radgate_domain::ai::AiResult;
use radgate_domain::audit::AuditEvent;
use radgate_domain::ids::ProfessionalId;
use radgate_domain::report::Report;
use radgate_domain::study::{Order, OrderError, Study};
use radgate_domain::workitem::WorkItem;
use serde::Serialize;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use crate::audit::{AuditRecord, GENESIS, chain_hash};
use crate::dialect::Dialect;
use crate::worklist::{NewWorkItem, work_item};
use crate::{Result, StoreError, from_millis, millis};

/// What an ingest did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// The same message was stored before; nothing changed.
    Unchanged,
    /// A newer version of the same order replaced the stored one.
    Changed,
    /// The key is taken by different content; nothing changed.
    Conflict,
}

pub struct Tx {
    inner: Transaction<'static, Any>,
    dialect: &'static dyn Dialect,
    /// The chain head once this transaction has locked the audit log.
    audit_head: Option<(i64, String)>,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}

impl Tx {
    pub(crate) fn new(inner: Transaction<'static, Any>, dialect: &'static dyn Dialect) -> Tx {
        Tx {
            inner,
            dialect,
            audit_head: None,
        }
    }

    /// Makes everything written through this transaction durable; dropping a `Tx`
    /// without committing rolls it all back.
    pub async fn commit(self) -> Result<()> {
        Ok(self.inner.commit().await?)
    }

    /// Row lock on PostgreSQL so that concurrent transactions on one item queue up; on
    /// SQLite the transaction already holds the database's write lock.
    pub(crate) fn for_update(&self) -> &'static str {
        self.dialect.row_lock()
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }

    /// Locks `table` until commit (PostgreSQL; SQLite's write transaction already holds
    /// the database's lock), for writers that number their rows themselves.
    pub(crate) async fn lock(&mut self, table: &'static str) -> Result<()> {
        Ok(self.dialect.lock_table(&mut self.inner, table).await?)
    }

    /// Stores an order; a repeat is `Unchanged`, a newer version of the same order
    /// replaces it as the domain's [`Order::update`] allows.
    ///
    /// The outer result is the database's; the inner one the domain's verdict.
    pub async fn insert_order(
        &mut self,
        order: &Order,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<Inserted, OrderError>> {
        let body = json(order);
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT body FROM orders WHERE accession = $1{}",
            self.for_update()
        )))
        .bind(order.accession.as_str())
        .fetch_optional(&mut *self.inner)
        .await?;
        let Some(row) = existing else {
            sqlx::query("INSERT INTO orders (accession, status, body, received_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
                .bind(order.accession.as_str())
                .bind(order.status.code())
                .bind(&body)
                .bind(millis(now))
                .execute(&mut *self.inner)
                .await?;
            return Ok(Ok(Inserted::Created));
        };
        let stored: String = row.try_get("body")?;
        if stored == body {
            return Ok(Ok(Inserted::Unchanged));
        }
        let mut current: Order = parse("order", order.accession.as_str(), &stored)?;
        if let Err(e) = current.update(order.clone()) {
            return Ok(Err(e));
        }
        sqlx::query(
            "UPDATE orders SET status = $1, body = $2, updated_at = $3 WHERE accession = $4",
        )
        .bind(current.status.code())
        .bind(json(&current))
        .bind(millis(now))
        .bind(order.accession.as_str())
        .execute(&mut *self.inner)
        .await?;
        Ok(Ok(Inserted::Changed))
    }

    /// After an insert that did nothing: the same content stored before is `Unchanged`,
    /// anything else under the key is a `Conflict`.
    async fn compare_stored(
        &mut self,
        sql: &'static str,
        key: &str,
        body: &str,
    ) -> Result<Inserted> {
        let stored: Option<String> = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&mut *self.inner)
            .await?
            .map(|r| r.try_get("body"))
            .transpose()?;
        Ok(if stored.as_deref() == Some(body) {
            Inserted::Unchanged
        } else {
            Inserted::Conflict
        })
    }

    /// Stores a study once per accession number and Study Instance UID.
    pub async fn insert_study(
        &mut self,
        study: &Study,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Inserted> {
        let body = json(study);
        let inserted = sqlx::query(
            "INSERT INTO studies (accession, study_uid, body, acquired_at, received_at, modality, site) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(study.accession.as_str())
        .bind(study.study_uid.as_ref().map(|u| u.as_str().to_string()))
        .bind(&body)
        .bind(millis(study.acquired_at))
        .bind(millis(now))
        .bind(&study.modality)
        .bind(&study.site)
        .execute(&mut *self.inner)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Inserted::Created);
        }
        self.compare_stored(
            "SELECT body FROM studies WHERE accession = $1",
            study.accession.as_str(),
            &body,
        )
        .await
    }

    /// Stores an AI result once per result id.
    pub async fn insert_ai_result(
        &mut self,
        result: &AiResult,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Inserted> {
        let body = json(result);
        let inserted = sqlx::query(
            "INSERT INTO ai_results (id, accession, app, body, received_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&result.id)
        .bind(result.accession.as_str())
        .bind(result.app.as_str())
        .bind(&body)
        .bind(millis(now))
        .execute(&mut *self.inner)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Inserted::Created);
        }
        self.compare_stored(
            "SELECT body FROM ai_results WHERE id = $1",
            &result.id,
            &body,
        )
        .await
    }

    pub async fn study(&mut self, accession: &str) -> Result<Option<Study>> {
        let row = sqlx::query("SELECT body FROM studies WHERE accession = $1")
            .bind(accession)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.map(|r| parse("study", accession, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// The AI results for a study, in arrival order, each with the time radgate received
    /// it (not the sender's claim), which routing at a given time goes by.
    pub async fn ai_results_for(&mut self, accession: &str) -> Result<Vec<AiResult>> {
        let rows = sqlx::query(
            "SELECT id, body, received_at FROM ai_results WHERE accession = $1 ORDER BY received_at, id",
        )
        .bind(accession)
        .fetch_all(&mut *self.inner)
        .await?;
        rows.iter()
            .map(|r| {
                let mut result: AiResult = parse(
                    "AI result",
                    &r.try_get::<String, _>("id")?,
                    &r.try_get::<String, _>("body")?,
                )?;
                result.received_at = from_millis(r.try_get::<i64, _>("received_at")?);
                Ok(result)
            })
            .collect()
    }

    /// Stores a decision with its explanation; returns its id.
    pub async fn insert_decision(
        &mut self,
        accession: &str,
        d: &Decision,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO decisions (accession, policy_version, rule, body, decided_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(accession)
        .bind(&d.policy_version)
        .bind(d.rule.as_ref().map(|r| r.as_str().to_string()))
        .bind(json(d))
        .bind(millis(now))
        .fetch_one(&mut *self.inner)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The latest decision for a study.
    pub async fn latest_decision(&mut self, accession: &str) -> Result<Option<(i64, Decision)>> {
        let row = sqlx::query(
            "SELECT id, body FROM decisions WHERE accession = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(accession)
        .fetch_optional(&mut *self.inner)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((
                r.try_get("id")?,
                parse("decision", accession, &r.try_get::<String, _>("body")?)?,
            ))),
        }
    }

    pub async fn insert_work_item(&mut self, new: &NewWorkItem) -> Result<WorkItem> {
        let row = sqlx::query(
            "INSERT INTO work_items (accession, decision_id, task, pathway, priority, due, created_at, state, assignee) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', NULL) \
             RETURNING id, accession, task, pathway, priority, due, created_at, state, assignee",
        )
        .bind(new.accession.as_str())
        .bind(new.decision_id)
        .bind(new.task.as_str())
        .bind(new.pathway.code())
        .bind(new.priority as i64)
        .bind(millis(new.due))
        .bind(millis(new.created_at))
        .fetch_one(&mut *self.inner)
        .await?;
        work_item(&row)
    }

    /// Lets the open items of decision `decision_id` give way to a newer decision, as the
    /// domain's [`WorkItem::supersede`] allows; returns the items superseded.
    pub async fn supersede_open_items(&mut self, decision_id: i64) -> Result<Vec<u64>> {
        let sql = format!(
            "SELECT id, accession, task, pathway, priority, due, created_at, state, assignee FROM work_items WHERE decision_id = $1 AND state = 'open'{}",
            self.for_update()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(decision_id)
            .fetch_all(&mut *self.inner)
            .await?;
        let mut superseded = Vec::new();
        for row in &rows {
            let mut item = work_item(row)?;
            if item.supersede().is_ok() {
                self.save_work_item(&item).await?;
                superseded.push(item.id);
            }
        }
        Ok(superseded)
    }

    /// A work item under a row lock, for a state change in this transaction.
    pub async fn work_item_for_update(&mut self, id: u64) -> Result<Option<WorkItem>> {
        let sql = format!(
            "SELECT id, accession, task, pathway, priority, due, created_at, state, assignee FROM work_items WHERE id = $1{}",
            self.for_update()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id as i64)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(work_item).transpose()
    }

    /// The items of a study that `by` holds (claimed), under a row lock.
    pub async fn claimed_items(
        &mut self,
        accession: &str,
        by: &ProfessionalId,
    ) -> Result<Vec<WorkItem>> {
        let sql = format!(
            "SELECT id, accession, task, pathway, priority, due, created_at, state, assignee FROM work_items \
             WHERE accession = $1 AND assignee = $2 AND state = 'claimed' ORDER BY id{}",
            self.for_update()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(accession)
            .bind(by.as_str())
            .fetch_all(&mut *self.inner)
            .await?;
        rows.iter().map(work_item).collect()
    }

    /// A study's report under a row lock.
    pub async fn report_for_update(&mut self, accession: &str) -> Result<Option<Report>> {
        let sql = format!(
            "SELECT body FROM reports WHERE accession = $1{}",
            self.for_update()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(accession)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.map(|r| parse("report", accession, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// Stores the report and its newest version; earlier versions are never rewritten.
    pub async fn save_report(&mut self, report: &Report) -> Result<()> {
        let v = report
            .history
            .last()
            .expect("a report has at least its draft version");
        let at = millis(v.at);
        let body = json(report);
        sqlx::query(
            "INSERT INTO reports (accession, state, author, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (accession) DO UPDATE SET state = excluded.state, body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(report.accession.as_str())
        .bind(report.state.code())
        .bind(report.author.id.as_str())
        .bind(&body)
        .bind(at)
        .execute(&mut *self.inner)
        .await?;
        sqlx::query(
            "INSERT INTO report_versions (accession, number, act, state, signer, role, agreement, at, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(report.accession.as_str())
        .bind(i64::from(v.number))
        .bind(v.act.code())
        .bind(v.state.code())
        .bind(v.by.id.as_str())
        .bind(v.by.role.code())
        .bind(v.by.mandate.as_ref().map(|m| m.agreement_id.clone()))
        .bind(at)
        .bind(json(v))
        .execute(&mut *self.inner)
        .await?;
        // What the report establishes for AI monitoring changes with it, in one transaction.
        self.apply_report_to_calls(report).await
    }

    /// Writes a work item's new state and assignee.
    pub async fn save_work_item(&mut self, item: &WorkItem) -> Result<()> {
        sqlx::query("UPDATE work_items SET state = $1, assignee = $2 WHERE id = $3")
            .bind(item.state.code())
            .bind(item.assignee.as_ref().map(|a| a.as_str().to_string()))
            .bind(item.id as i64)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Appends an event to the hash chain. Call it last in a transaction: on PostgreSQL it
    /// locks the audit log until commit, which orders concurrent writers into one chain.
    pub async fn audit(&mut self, event: &AuditEvent) -> Result<AuditRecord> {
        let (last_seq, prev_hash) = match self.audit_head.take() {
            Some(head) => head,
            None => {
                self.dialect
                    .lock_table(&mut self.inner, "audit_events")
                    .await?;
                let row =
                    sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                        .fetch_optional(&mut *self.inner)
                        .await?;
                match row {
                    Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
                    None => (0, GENESIS.to_string()),
                }
            }
        };
        let seq = last_seq + 1;
        let at = millis(event.at);
        let kind = event.kind.code();
        let detail = event.detail.to_string();
        let hash = chain_hash(
            &prev_hash,
            seq,
            at,
            &event.actor,
            kind,
            &event.subject,
            &detail,
        );
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, kind, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(at)
        .bind(&event.actor)
        .bind(kind)
        .bind(&event.subject)
        .bind(&detail)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *self.inner)
        .await?;
        self.audit_head = Some((seq, hash.clone()));
        Ok(AuditRecord {
            seq,
            at,
            actor: event.actor.clone(),
            kind: kind.to_string(),
            subject: event.subject.clone(),
            detail,
            prev_hash,
            hash,
        })
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    key: &str,
    body: &str,
) -> Result<T> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what,
        key: key.to_string(),
        reason: e.to_string(),
    })
}
