//! The task catalog and the department's written task agreements.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{ProfessionalId, TaskTypeId};
use crate::professional::Role;

/// One kind of work in the department's catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskType {
    pub id: TaskTypeId,
    pub name: String,
    /// Work that relies on an AI application's output; the EU AI Act (art. 4) asks for
    /// AI literacy from whoever does it.
    pub ai_supported: bool,
    /// The radiologist's own work (e.g. `final_report`): it needs no task agreement.
    pub radiologist_only: bool,
}

/// Delegation keeps responsibility with the BIG-registered delegator; reallocation moves
/// it (partly) to a BIG-registered performer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementKind {
    Delegation,
    Reallocation,
}

/// The supervision that applies to work done under an agreement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum SupervisionMode {
    /// A radiologist authorizes every result before it counts.
    AuthorizeEach,
    /// A reproducible fraction of the results is reviewed afterwards.
    SampleReview {
        fraction: f64,
    },
    None,
}

/// The department's written agreement for one task type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAgreement {
    pub id: String,
    pub task: TaskTypeId,
    pub kind: AgreementKind,
    pub permitted_roles: Vec<Role>,
    pub supervision: SupervisionMode,
    pub responsible_specialists: Vec<ProfessionalId>,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    /// The evidence of competence the agreement asks of each performer.
    pub requirements: Option<crate::portfolio::Requirements>,
    /// When a performer's discrepancy rates suspend their authorization (RCR defaults
    /// unless the agreement says otherwise).
    #[serde(default)]
    pub discrepancy_limits: crate::quality::Limits,
    /// How narrow the 95% interval of the NPV of "cleared" must become before the
    /// sampled review is judged conclusive (`npv_interval_width`; default 0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npv_interval_width: Option<f64>,
}

impl TaskAgreement {
    pub fn is_valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_until.is_none_or(|until| day <= until)
    }

    pub fn permits(&self, role: Role) -> bool {
        self.permitted_roles.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement() -> TaskAgreement {
        TaskAgreement {
            id: "a".into(),
            task: TaskTypeId::parse("cxr_gatekeeping").unwrap(),
            kind: AgreementKind::Delegation,
            permitted_roles: vec![Role::MbbAi],
            supervision: SupervisionMode::SampleReview { fraction: 0.1 },
            responsible_specialists: vec![],
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            valid_until: NaiveDate::from_ymd_opt(2026, 12, 31),
            requirements: None,
            discrepancy_limits: Default::default(),
            npv_interval_width: None,
        }
    }

    #[test]
    fn agreement_is_valid_only_inside_its_period() {
        let a = agreement();
        assert!(a.is_valid_on(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()));
        assert!(!a.is_valid_on(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()));
        assert!(!a.is_valid_on(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()));
    }

    #[test]
    fn agreement_permits_only_listed_roles() {
        assert!(agreement().permits(Role::MbbAi));
        assert!(!agreement().permits(Role::Mbb));
    }
}
