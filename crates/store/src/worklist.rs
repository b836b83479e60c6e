//! Work items: creating them from decisions, the worklist query, and state changes that
//! two instances can never both win.

use chrono::{DateTime, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::ids::{AccessionNumber, ProfessionalId, TaskTypeId};
use radgate_domain::workitem::{WorkItem, WorkItemError, WorkItemState};
use radgate_domain::{Decision, Pathway, Priority};
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, from_millis};

/// A work item about to be created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkItem {
    pub accession: AccessionNumber,
    pub decision_id: i64,
    pub task: TaskTypeId,
    pub pathway: Pathway,
    pub priority: Priority,
    pub due: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl NewWorkItem {
    /// The items a stored decision opens, as the domain says ([`Decision::initial_tasks`]).
    pub fn for_decision(
        accession: &AccessionNumber,
        decision_id: i64,
        d: &Decision,
        now: DateTime<Utc>,
    ) -> Vec<NewWorkItem> {
        d.initial_tasks()
            .into_iter()
            .map(|task| NewWorkItem {
                accession: accession.clone(),
                decision_id,
                task,
                pathway: d.pathway,
                priority: d.priority,
                due: d.due,
                created_at: now,
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("work item {0} does not exist")]
    NotFound(u64),
    #[error(transparent)]
    Refused(#[from] WorkItemError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ClaimError {
    fn from(e: sqlx::Error) -> Self {
        ClaimError::Store(StoreError::Db(e))
    }
}

fn priority_code(p: Priority) -> i64 {
    p as i64
}

pub(crate) fn work_item(row: &sqlx::any::AnyRow) -> Result<WorkItem> {
    let id: i64 = row.try_get("id")?;
    let bad = |reason: String| StoreError::Corrupt {
        what: "work item",
        key: id.to_string(),
        reason,
    };
    let priority: i64 = row.try_get("priority")?;
    let state: String = row.try_get("state")?;
    let assignee: Option<String> = row.try_get("assignee")?;
    Ok(WorkItem {
        id: id as u64,
        accession: AccessionNumber::parse(row.try_get::<String, _>("accession")?)
            .map_err(|e| bad(e.to_string()))?,
        task: TaskTypeId::parse(row.try_get::<String, _>("task")?)
            .map_err(|e| bad(e.to_string()))?,
        pathway: Pathway::parse(&row.try_get::<String, _>("pathway")?)
            .ok_or_else(|| bad("unknown pathway".into()))?,
        priority: Priority::ALL
            .into_iter()
            .find(|p| priority_code(*p) == priority)
            .ok_or_else(|| bad(format!("unknown priority {priority}")))?,
        due: from_millis(row.try_get("due")?),
        created_at: from_millis(row.try_get("created_at")?),
        state: WorkItemState::parse(&state).ok_or_else(|| bad(format!("unknown state {state}")))?,
        assignee: assignee
            .map(ProfessionalId::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
    })
}

const COLUMNS: &str = "id, accession, task, pathway, priority, due, created_at, state, assignee";

impl Store {
    /// Open items of the given tasks in worklist order: priority, due time, arrival, id.
    pub async fn worklist(&self, tasks: &[TaskTypeId], limit: u32) -> Result<Vec<WorkItem>> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=tasks.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM work_items WHERE state = 'open' AND task IN ({}) ORDER BY priority, due, created_at, id LIMIT ${}",
            placeholders.join(", "),
            tasks.len() + 1
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for t in tasks {
            q = q.bind(t.as_str());
        }
        let rows = q.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter().map(work_item).collect()
    }

    /// The items `who` holds (claimed, including those returned to them), in worklist order.
    pub async fn held_by(&self, who: &ProfessionalId) -> Result<Vec<WorkItem>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM work_items WHERE state = 'claimed' AND assignee = $1 \
             ORDER BY priority, due, created_at, id"
        )))
        .bind(who.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(work_item).collect()
    }

    /// Accession numbers of studies acquired since `since` that still have open work.
    pub async fn recent_studies_with_open_work(&self, since: DateTime<Utc>) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT s.accession FROM studies s JOIN work_items w ON w.accession = s.accession \
             WHERE s.acquired_at >= $1 AND w.state = 'open' ORDER BY s.accession",
        )
        .bind(crate::millis(since))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("accession")?)).collect()
    }

    pub async fn work_item(&self, id: u64) -> Result<Option<WorkItem>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM work_items WHERE id = $1"
        )))
        .bind(id as i64)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(work_item).transpose()
    }

    pub async fn work_items_for(&self, accession: &str) -> Result<Vec<WorkItem>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM work_items WHERE accession = $1 ORDER BY id"
        )))
        .bind(accession)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(work_item).collect()
    }

    /// Claims an open item for `by`. Whether `by` may do the task is the authorization
    /// rule's question, asked before this; this enforces that one item has one claimer.
    pub async fn claim(
        &self,
        id: u64,
        by: &ProfessionalId,
        now: DateTime<Utc>,
    ) -> Result<WorkItem, ClaimError> {
        self.transition(id, by, now, AuditKind::Claim, |item| item.claim(by))
            .await
    }

    pub async fn release(
        &self,
        id: u64,
        by: &ProfessionalId,
        now: DateTime<Utc>,
    ) -> Result<WorkItem, ClaimError> {
        self.transition(id, by, now, AuditKind::Release, |item| item.release(by))
            .await
    }

    pub async fn complete(
        &self,
        id: u64,
        by: &ProfessionalId,
        now: DateTime<Utc>,
    ) -> Result<WorkItem, ClaimError> {
        self.transition(id, by, now, AuditKind::Complete, |item| item.complete(by))
            .await
    }

    /// Loads the item under a row lock, lets the domain rule change it, and stores the
    /// result with its audit event, in one transaction.
    async fn transition(
        &self,
        id: u64,
        by: &ProfessionalId,
        now: DateTime<Utc>,
        kind: AuditKind,
        change: impl FnOnce(&mut WorkItem) -> Result<(), WorkItemError>,
    ) -> Result<WorkItem, ClaimError> {
        let mut tx = self.begin().await?;
        let Some(mut item) = tx.work_item_for_update(id).await? else {
            return Err(ClaimError::NotFound(id));
        };
        let before = item.state;
        change(&mut item)?;
        tx.save_work_item(&item).await?;
        tx.audit(&AuditEvent {
            at: now,
            actor: by.to_string(),
            kind,
            subject: format!("work_item/{id}"),
            detail: serde_json::json!({
                "accession": item.accession.as_str(),
                "task": item.task.as_str(),
                "from": before.code(),
                "to": item.state.code(),
            }),
        })
        .await?;
        tx.commit().await?;
        Ok(item)
    }
}

/// What the worklist screen asks for: the tasks the person may claim (decided by the
/// domain), optional filters, and one page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorklistQuery {
    pub tasks: Vec<TaskTypeId>,
    pub modality: Option<String>,
    pub site: Option<String>,
    pub priority: Option<Priority>,
    /// One task of `tasks` only.
    pub task: Option<TaskTypeId>,
    /// Only items whose study's report waits as preliminary: the authorization queue.
    pub preliminary_only: bool,
    pub offset: u32,
    pub limit: u32,
}

/// A work item with the study and order it is about, as one worklist row shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorklistRow {
    pub item: WorkItem,
    pub study: Option<radgate_domain::Study>,
    pub order: Option<radgate_domain::study::Order>,
}

impl Store {
    /// One page of open items in worklist order with their studies and orders, and whether
    /// a further page exists. One query, whatever the page size.
    pub async fn worklist_page(&self, q: &WorklistQuery) -> Result<(Vec<WorklistRow>, bool)> {
        let tasks: Vec<&TaskTypeId> = match &q.task {
            Some(t) => q.tasks.iter().filter(|x| *x == t).collect(),
            None => q.tasks.iter().collect(),
        };
        if tasks.is_empty() || q.limit == 0 {
            return Ok((Vec::new(), false));
        }
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let task_list: Vec<String> = tasks.iter().map(|_| next()).collect();
        // The page is chosen first, on the work items alone (and the studies' filter
        // columns when filtering); only its rows are joined to the study and order bodies.
        let filtered = q.modality.is_some() || q.site.is_some();
        let mut page = format!(
            "SELECT w.id, w.accession, w.task, w.pathway, w.priority, w.due, w.created_at, w.state, w.assignee \
             FROM work_items w{}{} WHERE w.state = 'open' AND w.task IN ({})",
            if filtered {
                " JOIN studies f ON f.accession = w.accession"
            } else {
                ""
            },
            if q.preliminary_only {
                " JOIN reports r ON r.accession = w.accession AND r.state = 'preliminary'"
            } else {
                ""
            },
            task_list.join(", ")
        );
        if q.modality.is_some() {
            page += &format!(" AND f.modality = {}", next());
        }
        if q.site.is_some() {
            page += &format!(" AND f.site = {}", next());
        }
        if q.priority.is_some() {
            page += &format!(" AND w.priority = {}", next());
        }
        page += &format!(
            " ORDER BY w.priority, w.due, w.created_at, w.id LIMIT {} OFFSET {}",
            next(),
            next()
        );
        let sql = format!(
            "SELECT p.id, p.accession, p.task, p.pathway, p.priority, p.due, p.created_at, p.state, p.assignee, \
             s.body AS study_body, o.body AS order_body \
             FROM ({page}) p LEFT JOIN studies s ON s.accession = p.accession \
             LEFT JOIN orders o ON o.accession = p.accession \
             ORDER BY p.priority, p.due, p.created_at, p.id"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for t in &tasks {
            query = query.bind(t.as_str());
        }
        if let Some(m) = &q.modality {
            query = query.bind(m.as_str());
        }
        if let Some(s) = &q.site {
            query = query.bind(s.as_str());
        }
        if let Some(p) = q.priority {
            query = query.bind(priority_code(p));
        }
        let rows = query
            .bind(i64::from(q.limit) + 1)
            .bind(i64::from(q.offset))
            .fetch_all(self.pool())
            .await?;
        let more = rows.len() > q.limit as usize;
        let page = rows
            .iter()
            .take(q.limit as usize)
            .map(|row| {
                let item = work_item(row)?;
                let key = item.accession.to_string();
                let study = row
                    .try_get::<Option<String>, _>("study_body")?
                    .map(|b| crate::tx::parse("study", &key, &b))
                    .transpose()?;
                let order = row
                    .try_get::<Option<String>, _>("order_body")?
                    .map(|b| crate::tx::parse("order", &key, &b))
                    .transpose()?;
                Ok(WorklistRow { item, study, order })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((page, more))
    }

    /// The distinct modalities and sites of studies with open work, for the filters.
    pub async fn open_work_facets(&self) -> Result<(Vec<String>, Vec<String>)> {
        let mut out = (Vec::new(), Vec::new());
        for (column, into) in [("modality", &mut out.0), ("site", &mut out.1)] {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT DISTINCT s.{column} AS v FROM work_items w JOIN studies s ON s.accession = w.accession \
                 WHERE w.state = 'open' AND s.{column} IS NOT NULL ORDER BY v LIMIT 100"
            )))
            .fetch_all(self.pool())
            .await?;
            for r in rows {
                into.push(r.try_get("v")?);
            }
        }
        Ok(out)
    }

    /// A number that changes whenever work is created, claimed, released or ended, by this
    /// instance or any other on the same database: the newest audit sequence number (every
    /// such change is audited in its own transaction).
    pub async fn change_stamp(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_events")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("seq")?)
    }
}
