//! The routing policy: a versioned, declarative rule set that maps a study and its AI
//! results to a [`Decision`](crate::decision::Decision).
//!
//! Evaluation semantics (also in README "Writing a policy"):
//! - Rules are tried in file order; the first rule whose `when` holds fires. No rule
//!   matching means the policy's `[default]` outcome applies (rule `None`).
//! - Within `when`, every condition given must hold (AND). A list value means "any of"
//!   (OR). A condition that is left out does not constrain.
//! - An `[[rule.when.ai]]` condition holds when at least one AI result (from `app`, when
//!   given) carries a finding (with code `finding`, when given) whose score lies within
//!   `score_min..=score_max` (both inclusive; a bound requires a score) and whose flags
//!   equal `critical` / `normal` where given. Several `ai` conditions must each hold, and
//!   may be met by different findings.
//! - `[[rule.when.ai_missing]]` holds when no result from `app` has arrived and at least
//!   `after_minutes` have passed since acquisition, at evaluation time.
//! - In `then`, `pathway` and `task` are required. `priority` defaults to the ordered
//!   priority; `sla_minutes` to the policy's `[sla]` minutes for the decided priority;
//!   `readers` to 2 for `double_read` and 1 otherwise; `review_fraction` to 0.

mod check;
mod eval;
mod parse;

pub use check::check;

use serde::Serialize;

use crate::decision::Pathway;
use crate::ids::{AiAppId, FindingCode, RuleId, TaskTypeId};
use crate::study::Priority;

/// A parsed routing policy. Build one with [`Policy::parse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub version: String,
    pub name: String,
    /// Path of the department file this policy is written for, relative to the policy.
    pub department: Option<String>,
    /// `autonomous_normal` is refused unless the policy says so explicitly.
    pub allow_autonomous_normal: bool,
    /// How long routing waits for an expected AI result before deciding without it.
    pub ai_wait_minutes: u32,
    /// Default SLA in minutes per decided priority (stat, urgent, routine).
    pub sla: SlaTable,
    pub default: Outcome,
    pub default_line: usize,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlaTable {
    pub stat: u32,
    pub urgent: u32,
    pub routine: u32,
}

impl SlaTable {
    pub fn minutes(&self, p: Priority) -> u32 {
        match p {
            Priority::Stat => self.stat,
            Priority::Urgent => self.urgent,
            Priority::Routine => self.routine,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: RuleId,
    pub line: usize,
    pub description: String,
    pub when: Conditions,
    pub then: Outcome,
}

/// Study and AI conditions of one rule; `None` or empty means "not constrained".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Conditions {
    pub modality: Option<Vec<String>>,
    pub procedure_code: Option<Vec<String>>,
    pub body_part: Option<Vec<String>>,
    pub priority: Option<Vec<Priority>>,
    pub site: Option<Vec<String>>,
    pub ordering_department: Option<Vec<String>>,
    /// Inclusive patient age band in years.
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    pub ai: Vec<AiCondition>,
    pub ai_missing: Vec<AiMissing>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AiCondition {
    pub app: Option<AiAppId>,
    pub finding: Option<FindingCode>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    pub critical: Option<bool>,
    pub normal: Option<bool>,
    /// Line of the condition's table; the `*_line` fields locate single keys for messages.
    pub line: usize,
    pub app_line: usize,
    pub score_min_line: usize,
    pub score_max_line: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AiMissing {
    pub app: AiAppId,
    pub after_minutes: u32,
    pub line: usize,
}

/// What a rule (or the default) decides. Optional fields fall back as the module doc says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub pathway: Pathway,
    pub task: TaskTypeId,
    pub task_line: usize,
    pub priority: Option<Priority>,
    pub sla_minutes: Option<u32>,
    pub readers: Option<u8>,
    pub review_fraction: f64,
    pub flags: Vec<String>,
}

impl Outcome {
    pub fn readers(&self) -> u8 {
        self.readers.unwrap_or(match self.pathway {
            Pathway::DoubleRead => 2,
            _ => 1,
        })
    }
}

impl Policy {
    /// All AI applications the policy refers to, with the line of each reference.
    pub fn ai_references(&self) -> impl Iterator<Item = (&AiAppId, usize)> {
        self.rules.iter().flat_map(|r| {
            r.when
                .ai
                .iter()
                .filter_map(|c| c.app.as_ref().map(|a| (a, c.line)))
                .chain(r.when.ai_missing.iter().map(|m| (&m.app, m.line)))
        })
    }

    /// The longest any rule or the default waits for an AI result.
    pub fn longest_wait_minutes(&self) -> u32 {
        self.rules
            .iter()
            .flat_map(|r| r.when.ai_missing.iter())
            .map(|m| m.after_minutes)
            .chain(std::iter::once(self.ai_wait_minutes))
            .max()
            .unwrap_or(self.ai_wait_minutes)
    }

    /// How long to wait for `app` before routing without it: the longest `ai_missing`
    /// timeout for that app, or the policy's `ai_wait_minutes`.
    pub fn wait_minutes_for(&self, app: &AiAppId) -> u32 {
        self.rules
            .iter()
            .flat_map(|r| r.when.ai_missing.iter())
            .filter(|m| &m.app == app)
            .map(|m| m.after_minutes)
            .max()
            .unwrap_or(self.ai_wait_minutes)
    }
}
