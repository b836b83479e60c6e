//! Work items on worklists and how they may change state.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decision::Pathway;
use crate::ids::{AccessionNumber, ProfessionalId, TaskTypeId};
use crate::study::Priority;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkItemState {
    Open,
    Claimed,
    Done,
    Escalated,
    /// Replaced by the work of a newer decision (e.g. a late AI result made it stat).
    Superseded,
}

impl WorkItemState {
    pub const ALL: [WorkItemState; 5] = [
        WorkItemState::Open,
        WorkItemState::Claimed,
        WorkItemState::Done,
        WorkItemState::Escalated,
        WorkItemState::Superseded,
    ];

    pub fn code(self) -> &'static str {
        match self {
            WorkItemState::Open => "open",
            WorkItemState::Claimed => "claimed",
            WorkItemState::Done => "done",
            WorkItemState::Escalated => "escalated",
            WorkItemState::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<WorkItemState> {
        WorkItemState::ALL.into_iter().find(|w| w.code() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkItemError {
    #[error("work item is {0:?}; only an open item can be claimed")]
    NotOpen(WorkItemState),
    #[error("work item is {0:?}; only a claimed item can be released or completed")]
    NotClaimed(WorkItemState),
    #[error("work item is claimed by {holder}, not by {caller}")]
    NotHolder {
        holder: ProfessionalId,
        caller: ProfessionalId,
    },
    #[error("work item is already {0:?}")]
    Closed(WorkItemState),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkItem {
    pub id: u64,
    pub accession: AccessionNumber,
    pub task: TaskTypeId,
    pub pathway: Pathway,
    pub priority: Priority,
    pub due: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub state: WorkItemState,
    pub assignee: Option<ProfessionalId>,
}

impl WorkItem {
    /// Claims an open item. Whether `by` may do the task is the authorization rule's
    /// question, asked before this.
    pub fn claim(&mut self, by: &ProfessionalId) -> Result<(), WorkItemError> {
        if self.state != WorkItemState::Open {
            return Err(WorkItemError::NotOpen(self.state));
        }
        self.state = WorkItemState::Claimed;
        self.assignee = Some(by.clone());
        Ok(())
    }

    pub fn release(&mut self, by: &ProfessionalId) -> Result<(), WorkItemError> {
        self.require_holder(by)?;
        self.state = WorkItemState::Open;
        self.assignee = None;
        Ok(())
    }

    pub fn complete(&mut self, by: &ProfessionalId) -> Result<(), WorkItemError> {
        self.require_holder(by)?;
        self.state = WorkItemState::Done;
        Ok(())
    }

    /// Gives way to a newer decision's work. Only open items: work someone has claimed
    /// stays theirs, and the new decision's items appear beside it.
    pub fn supersede(&mut self) -> Result<(), WorkItemError> {
        if self.state != WorkItemState::Open {
            return Err(WorkItemError::NotOpen(self.state));
        }
        self.state = WorkItemState::Superseded;
        Ok(())
    }

    /// The holder sends the item up (a gatekeeper to a radiologist).
    pub fn escalate_by(&mut self, by: &ProfessionalId) -> Result<(), WorkItemError> {
        self.require_holder(by)?;
        self.state = WorkItemState::Escalated;
        Ok(())
    }

    /// Sends the item up (to a radiologist); open or claimed items only.
    pub fn escalate(&mut self) -> Result<(), WorkItemError> {
        match self.state {
            WorkItemState::Open | WorkItemState::Claimed => {
                self.state = WorkItemState::Escalated;
                Ok(())
            }
            s => Err(WorkItemError::Closed(s)),
        }
    }

    fn require_holder(&self, by: &ProfessionalId) -> Result<(), WorkItemError> {
        if self.state != WorkItemState::Claimed {
            return Err(WorkItemError::NotClaimed(self.state));
        }
        match &self.assignee {
            Some(holder) if holder == by => Ok(()),
            Some(holder) => Err(WorkItemError::NotHolder {
                holder: holder.clone(),
                caller: by.clone(),
            }),
            None => Err(WorkItemError::NotClaimed(self.state)),
        }
    }
}

/// Worklist order: priority (stat first), then due time, then arrival, then id.
pub fn worklist_order(a: &WorkItem, b: &WorkItem) -> Ordering {
    (a.priority, a.due, a.created_at, a.id).cmp(&(b.priority, b.due, b.created_at, b.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u64, priority: Priority, due_min: i64) -> WorkItem {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        WorkItem {
            id,
            accession: AccessionNumber::parse(format!("A{id}")).unwrap(),
            task: TaskTypeId::parse("final_report").unwrap(),
            pathway: Pathway::RadiologistRead,
            priority,
            due: t0 + chrono::Duration::minutes(due_min),
            created_at: t0,
            state: WorkItemState::Open,
            assignee: None,
        }
    }

    #[test]
    fn worklist_puts_stat_first_then_earliest_due() {
        let mut items = [
            item(1, Priority::Routine, 10),
            item(2, Priority::Stat, 60),
            item(3, Priority::Stat, 30),
        ];
        items.sort_by(worklist_order);
        let ids: Vec<_> = items.iter().map(|i| i.id).collect();
        assert_eq!(ids, [3, 2, 1]);
    }

    #[test]
    fn only_the_holder_releases_or_completes() {
        let a = ProfessionalId::parse("a").unwrap();
        let b = ProfessionalId::parse("b").unwrap();
        let mut w = item(1, Priority::Routine, 10);
        w.claim(&a).unwrap();
        assert_eq!(
            w.claim(&b),
            Err(WorkItemError::NotOpen(WorkItemState::Claimed))
        );
        assert!(matches!(
            w.complete(&b),
            Err(WorkItemError::NotHolder { .. })
        ));
        w.release(&a).unwrap();
        assert_eq!(w.state, WorkItemState::Open);
        w.claim(&b).unwrap();
        w.complete(&b).unwrap();
        assert_eq!(
            w.escalate(),
            Err(WorkItemError::Closed(WorkItemState::Done))
        );
    }
}
