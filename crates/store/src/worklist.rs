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
