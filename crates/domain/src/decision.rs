//! What routing decides for a study, with the reasons.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AiAppId, FindingCode, RuleId, TaskTypeId};
use crate::study::Priority;

/// The route an exam takes through the department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pathway {
    RadiologistRead,
    /// An MBB'er with AI endorsement decides whether an AI-normal exam needs a radiologist.
    Gatekeeper,
    /// A delegate prepares (report, measurement, segmentation); a radiologist authorizes.
    DelegatedPreliminary,
    SingleRead,
    DoubleRead,
    /// No prospective human read. Only when a policy explicitly allows it, always with
    /// sample review.
    AutonomousNormal,
}

impl Pathway {
    pub const ALL: [Pathway; 6] = [
        Pathway::RadiologistRead,
        Pathway::Gatekeeper,
        Pathway::DelegatedPreliminary,
        Pathway::SingleRead,
        Pathway::DoubleRead,
        Pathway::AutonomousNormal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Pathway::RadiologistRead => "radiologist_read",
            Pathway::Gatekeeper => "gatekeeper",
            Pathway::DelegatedPreliminary => "delegated_preliminary",
            Pathway::SingleRead => "single_read",
            Pathway::DoubleRead => "double_read",
            Pathway::AutonomousNormal => "autonomous_normal",
        }
    }

    pub fn parse(s: &str) -> Option<Pathway> {
        Pathway::ALL.into_iter().find(|p| p.code() == s)
    }
}

impl std::fmt::Display for Pathway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// An AI value that a rule's condition looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiEvidence {
    pub app: AiAppId,
    pub app_version: String,
    pub finding: FindingCode,
    pub score: Option<f64>,
    pub critical: bool,
    pub normal: bool,
}

impl Decision {
    /// The work a decision opens: one item per reader on reading pathways, one for the
    /// gatekeeper or the delegate, none for autonomous normal (its review is sampled).
    /// Follow-up work (an escalated read, an authorization) is opened when the first step
    /// ends.
    pub fn initial_tasks(&self) -> Vec<TaskTypeId> {
        let n = match self.pathway {
            Pathway::RadiologistRead | Pathway::SingleRead | Pathway::DoubleRead => {
                usize::from(self.readers)
            }
            Pathway::Gatekeeper | Pathway::DelegatedPreliminary => 1,
            Pathway::AutonomousNormal => 0,
        };
        vec![self.task.clone(); n]
    }

    /// Whether this (newer) decision changes the work that `old` opened, so that open
    /// items of `old` must give way to new ones. Explanations may differ without that;
    /// so may the due time below the millisecond, the precision work items keep.
    pub fn changes_work_of(&self, old: &Decision) -> bool {
        (
            self.pathway,
            &self.task,
            self.priority,
            self.readers,
            self.due.timestamp_millis(),
        ) != (
            old.pathway,
            &old.task,
            old.priority,
            old.readers,
            old.due.timestamp_millis(),
        )
    }
}

/// The outcome of routing one study, with everything needed to explain it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub policy_version: String,
    /// The rule that fired; `None` when no rule matched and the policy default applied.
    pub rule: Option<RuleId>,
    pub pathway: Pathway,
    pub task: TaskTypeId,
    pub priority: Priority,
    pub sla_minutes: u32,
    pub due: DateTime<Utc>,
    pub readers: u8,
    /// Fraction of these exams drawn for retrospective review by a radiologist.
    pub review_fraction: f64,
    /// Markers for readers, e.g. `high_risk` in screening.
    pub flags: Vec<String>,
    /// One sentence per condition that held, with the values it used.
    pub reasons: Vec<String>,
    /// The AI values the matching conditions used.
    pub ai_evidence: Vec<AiEvidence>,
    /// A human-readable account of the whole decision.
    pub explanation: String,
}
