//! AIW-I work items (DICOM UPS) and their events: one work item per study and AI
//! application, its state as the domain's `ups` rules move it, and an event log the
//! UPS-RS event channel and pollers read in order. The rules live in the domain; here
//! they are applied under a row lock so that two claims of one work item queue up.

use chrono::{DateTime, Utc};
use radgate_domain::ups::{self, CancelRequest, Granted, UpsRefusal, UpsState};
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, Tx, from_millis, millis};

/// A stored work item.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsWorkitem {
    pub uid: String,
    pub accession: String,
    pub study_uid: Option<String>,
    pub app: String,
    pub state: UpsState,
    pub transaction_uid: Option<String>,
    pub progress: Option<f64>,
    pub progress_description: Option<String>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub retries: u32,
    pub created_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Why the Task Manager canceled it, if it did.
    pub reason: Option<String>,
}

/// One event of a work item, in the order they happened.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsEvent {
    pub id: i64,
    pub uid: String,
    pub app: String,
    pub at: DateTime<Utc>,
    /// PS3.4 CC.2.4 Event Type ID: 1 state report, 2 cancel requested, 3 progress report.
    pub event_type: u16,
    pub state: UpsState,
    pub progress: Option<f64>,
    pub reason: Option<String>,
}

/// What a request on a work item did.
#[derive(Debug, Clone, PartialEq)]
pub enum UpsOutcome<T> {
    Done(T),
    NotFound,
    Refused(UpsRefusal),
}

const COLUMNS: &str = "uid, accession, study_uid, app, state, transaction_uid, progress, \
    progress_description, cancel_requested_at, retries, created_at, deadline_at, updated_at, reason";

fn workitem(r: &sqlx::any::AnyRow) -> Result<UpsWorkitem> {
    let state: String = r.try_get("state")?;
    Ok(UpsWorkitem {
        uid: r.try_get("uid")?,
        accession: r.try_get("accession")?,
        study_uid: r.try_get("study_uid")?,
        app: r.try_get("app")?,
        state: UpsState::parse(&state).unwrap_or(UpsState::Canceled),
        transaction_uid: r.try_get("transaction_uid")?,
        progress: r.try_get("progress")?,
        progress_description: r.try_get("progress_description")?,
        cancel_requested_at: r
            .try_get::<Option<i64>, _>("cancel_requested_at")?
            .map(from_millis),
        retries: r.try_get::<i64, _>("retries")? as u32,
        created_at: from_millis(r.try_get("created_at")?),
        deadline_at: from_millis(r.try_get("deadline_at")?),
        updated_at: from_millis(r.try_get("updated_at")?),
        reason: r.try_get("reason")?,
    })
}

/// What to search for; unset fields match anything.
#[derive(Debug, Clone, Default)]
pub struct UpsQuery {
    pub state: Option<UpsState>,
    /// Only these applications' work items (an AI node's key sees its own).
    pub apps: Option<Vec<String>>,
    pub app: Option<String>,
    pub study_uid: Option<String>,
    pub accession: Option<String>,
    pub offset: u32,
    pub limit: u32,
}

impl Tx {
    async fn locked_workitem(&mut self, uid: &str) -> Result<Option<UpsWorkitem>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM ups_workitems WHERE uid = $1{}",
            self.for_update()
        );
        // Only the column list and the dialect's lock clause are spliced in; values bind.
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(uid)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(workitem).transpose()
    }

    async fn event(&mut self, w: &UpsWorkitem, event_type: u16, now: DateTime<Utc>) -> Result<()> {
        self.lock("ups_events").await?;
        // The progress always binds as a number (-1 for none): sqlx's Any driver types a
        // NULL parameter as an integer, and a statement PostgreSQL prepared that way
        // refuses the number a later execution binds.
        sqlx::query(
            "INSERT INTO ups_events (id, uid, app, at, event_type, state, progress, reason) \
             SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, NULLIF($6, -1.0), $7 \
             FROM ups_events",
        )
        .bind(&w.uid)
        .bind(&w.app)
        .bind(millis(now))
        .bind(i64::from(event_type))
        .bind(w.state.code())
        .bind(w.progress.unwrap_or(-1.0))
        .bind(&w.reason)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn save(&mut self, w: &UpsWorkitem) -> Result<()> {
        sqlx::query(
            "UPDATE ups_workitems SET state = $2, transaction_uid = $3, progress = NULLIF($4, -1.0), \
             progress_description = $5, cancel_requested_at = NULLIF($6, -1), retries = $7, deadline_at = $8, \
             updated_at = $9, reason = $10 WHERE uid = $1",
        )
        .bind(&w.uid)
        .bind(w.state.code())
        .bind(&w.transaction_uid)
        // As in `event`: never a NULL number.
        .bind(w.progress.unwrap_or(-1.0))
        .bind(&w.progress_description)
        .bind(w.cancel_requested_at.map_or(-1, millis))
        .bind(i64::from(w.retries))
        .bind(millis(w.deadline_at))
        .bind(millis(w.updated_at))
        .bind(&w.reason)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Schedules the work item of `app` for the study, unless it has one (a study routed
    /// again keeps its work item) or `uid` is taken; `true` when it was created. The insert
    /// is the check, so of two requests at the same instant one creates and one is told no.
    #[allow(clippy::too_many_arguments)]
    pub async fn schedule_workitem(
        &mut self,
        uid: &str,
        accession: &str,
        study_uid: Option<&str>,
        app: &str,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO ups_workitems (uid, accession, study_uid, app, state, retries, created_at, deadline_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'SCHEDULED', 0, $5, $6, $5) ON CONFLICT DO NOTHING",
        )
        .bind(uid)
        .bind(accession)
        .bind(study_uid)
        .bind(app)
        .bind(millis(now))
        .bind(millis(deadline))
        .execute(self.conn())
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        let w = self
            .locked_workitem(uid)
            .await?
            .expect("inserted in this transaction");
        self.event(&w, 1, now).await?;
        Ok(true)
    }
}

impl Store {
    pub async fn workitem(&self, uid: &str) -> Result<Option<UpsWorkitem>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM ups_workitems WHERE uid = $1"
        )))
        .bind(uid)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(workitem).transpose()
    }

    /// Work items matching `q`, oldest first.
    pub async fn workitems(&self, q: &UpsQuery) -> Result<Vec<UpsWorkitem>> {
        let mut sql = format!("SELECT {COLUMNS} FROM ups_workitems WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut param = |sql: &mut String, clause: &str, value: String| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(s) = q.state {
            param(&mut sql, " AND state = ?", s.code().to_owned());
        }
        if let Some(a) = &q.app {
            param(&mut sql, " AND app = ?", a.clone());
        }
        if let Some(u) = &q.study_uid {
            param(&mut sql, " AND study_uid = ?", u.clone());
        }
        if let Some(a) = &q.accession {
            param(&mut sql, " AND accession = ?", a.clone());
        }
        if let Some(apps) = &q.apps {
            if apps.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(" AND app IN (");
            for (i, a) in apps.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                param(&mut sql, "?", a.clone());
            }
            sql.push(')');
        }
        sql.push_str(&format!(
            " ORDER BY created_at, uid LIMIT {} OFFSET {}",
            q.limit.clamp(1, 1000),
            q.offset
        ));
        // Clauses are fixed text with numbered placeholders; every value binds.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(workitem).collect()
    }

    /// Changes a work item's state by the domain's rules (`ups::change_state`).
    pub async fn change_workitem_state(
        &self,
        uid: &str,
        requested: UpsState,
        transaction_uid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UpsOutcome<Granted>> {
        let mut tx = self.begin().await?;
        let Some(mut w) = tx.locked_workitem(uid).await? else {
            return Ok(UpsOutcome::NotFound);
        };
        let granted = match ups::change_state(
            w.state,
            w.transaction_uid.as_deref(),
            requested,
            transaction_uid,
        ) {
            Ok(g) => g,
            Err(refusal) => return Ok(UpsOutcome::Refused(refusal)),
        };
        if let Granted::To(state) = &granted {
            w.state = *state;
            if *state == UpsState::InProgress {
                w.transaction_uid = transaction_uid.map(|t| t.trim().to_owned());
            }
            if *state == UpsState::Completed {
                w.progress = Some(100.0);
            }
            w.updated_at = now;
            tx.save(&w).await?;
            tx.event(&w, 1, now).await?;
        }
        tx.commit().await?;
        Ok(UpsOutcome::Done(granted))
    }

    /// Records the performer's progress (`ups::may_update`).
    pub async fn update_workitem_progress(
        &self,
        uid: &str,
        transaction_uid: Option<&str>,
        progress: Option<f64>,
        description: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UpsOutcome<()>> {
        let mut tx = self.begin().await?;
        let Some(mut w) = tx.locked_workitem(uid).await? else {
            return Ok(UpsOutcome::NotFound);
        };
        if let Err(refusal) =
            ups::may_update(w.state, w.transaction_uid.as_deref(), transaction_uid)
        {
            return Ok(UpsOutcome::Refused(refusal));
        }
        if progress.is_some() {
            w.progress = progress;
        }
        if description.is_some() {
            w.progress_description = description.map(str::to_owned);
        }
        w.updated_at = now;
        tx.save(&w).await?;
        tx.event(&w, 3, now).await?;
        tx.commit().await?;
        Ok(UpsOutcome::Done(()))
    }

    /// A cancel request (`ups::request_cancel`): an unclaimed work item is canceled, the
    /// performer of a claimed one is told.
    pub async fn request_workitem_cancel(
        &self,
        uid: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UpsOutcome<CancelRequest>> {
        let mut tx = self.begin().await?;
        let Some(mut w) = tx.locked_workitem(uid).await? else {
            return Ok(UpsOutcome::NotFound);
        };
        let what = match ups::request_cancel(w.state) {
            Ok(w) => w,
            Err(refusal) => return Ok(UpsOutcome::Refused(refusal)),
        };
        w.reason = reason.map(str::to_owned).or(w.reason);
        w.updated_at = now;
        match what {
            CancelRequest::Canceled => {
                w.state = UpsState::Canceled;
                tx.save(&w).await?;
                tx.event(&w, 1, now).await?;
            }
            CancelRequest::PerformerAsked => {
                w.cancel_requested_at = Some(now);
                tx.save(&w).await?;
                tx.event(&w, 2, now).await?;
            }
            CancelRequest::AlreadyCanceled => {}
        }
        tx.commit().await?;
        Ok(UpsOutcome::Done(what))
    }

    /// Work items whose deadline passed and that are not final, oldest first.
    pub async fn overdue_workitems(&self, now: DateTime<Utc>) -> Result<Vec<UpsWorkitem>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM ups_workitems WHERE deadline_at <= $1 \
             AND state IN ('SCHEDULED', 'IN PROGRESS') ORDER BY deadline_at, uid LIMIT 500"
        )))
        .bind(millis(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(workitem).collect()
    }

    /// Applies the domain's expiry rule to an overdue work item: scheduled once more with
    /// `retry_deadline`, or canceled with `reason`. `None` when it was not overdue after
    /// all (claimed or completed meanwhile).
    pub async fn expire_workitem(
        &self,
        uid: &str,
        retry_deadline: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ups::Expiry>> {
        let mut tx = self.begin().await?;
        let Some(mut w) = tx.locked_workitem(uid).await? else {
            return Ok(None);
        };
        let Some(what) = ups::expiry(w.state, w.deadline_at, w.retries, now) else {
            return Ok(None);
        };
        w.updated_at = now;
        match what {
            ups::Expiry::Retry => {
                w.retries += 1;
                w.deadline_at = retry_deadline;
                tx.save(&w).await?;
                tx.event(&w, 1, now).await?;
            }
            ups::Expiry::Escalate => {
                w.state = UpsState::Canceled;
                w.reason = Some(reason.to_owned());
                tx.save(&w).await?;
                tx.event(&w, 1, now).await?;
            }
        }
        tx.commit().await?;
        Ok(Some(what))
    }

    /// Events after `after`, of the work items of `apps` (all when `None`), in order, and
    /// the id of the last event looked at, where the next call starts: events of other
    /// applications are passed over, never looked at again.
    pub async fn ups_events_after(
        &self,
        after: i64,
        apps: Option<&[String]>,
        limit: u32,
    ) -> Result<(Vec<UpsEvent>, i64)> {
        let rows = sqlx::query(
            "SELECT id, uid, app, at, event_type, state, progress, reason FROM ups_events \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        let mut last = after;
        for r in &rows {
            last = last.max(r.try_get("id")?);
            let app: String = r.try_get("app")?;
            if apps.is_some_and(|a| !a.contains(&app)) {
                continue;
            }
            let state: String = r.try_get("state")?;
            out.push(UpsEvent {
                id: r.try_get("id")?,
                uid: r.try_get("uid")?,
                app,
                at: from_millis(r.try_get("at")?),
                event_type: r.try_get::<i64, _>("event_type")? as u16,
                state: UpsState::parse(&state).unwrap_or(UpsState::Canceled),
                progress: r.try_get("progress")?,
                reason: r.try_get("reason")?,
            });
        }
        Ok((out, last))
    }

    /// Deletes the events from before `before`, all but the last (new events are numbered
    /// after it, and watchers count on numbers that only grow); returns how many.
    pub async fn prune_ups_events(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM ups_events WHERE at < $1              AND id < (SELECT COALESCE(MAX(id), 0) FROM ups_events)",
        )
        .bind(millis(before))
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// The last event's id, where a new watcher starts.
    pub async fn last_ups_event(&self) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COALESCE(MAX(id), 0) AS id FROM ups_events")
                .fetch_one(self.pool())
                .await?
                .try_get("id")?,
        )
    }

    /// Subscribes `ae_title` to a work item, or to the whole worklist (`target` `*`).
    pub async fn subscribe_ups(
        &self,
        ae_title: &str,
        target: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ups_subscriptions (ae_title, target, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (ae_title, target) DO NOTHING",
        )
        .bind(ae_title)
        .bind(target)
        .bind(millis(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Ends a subscription; `false` when there was none.
    pub async fn unsubscribe_ups(&self, ae_title: &str, target: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM ups_subscriptions WHERE ae_title = $1 AND target = $2")
            .bind(ae_title)
            .bind(target)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// What `ae_title` is subscribed to: work item UIDs, and `*` for the worklist.
    pub async fn ups_subscriptions(&self, ae_title: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT target FROM ups_subscriptions WHERE ae_title = $1")
            .bind(ae_title)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("target")?)).collect()
    }
}
