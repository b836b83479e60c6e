//! Audit events: every ingest, decision, claim, report transition, authorization change,
//! policy or register change and login. The store appends them to a hash chain.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    OrderIngested,
    OrderChanged,
    StudyIngested,
    AiResultIngested,
    Decision,
    WorkItemCreated,
    Claim,
    Release,
    Complete,
    Escalate,
    ReportTransition,
    AuthorizationChange,
    PolicyChange,
    RegisterChange,
    DepartmentChange,
    Login,
    /// A rubric assessment created, scored, deliberated or finalised.
    RubricAssessment,
    /// An AI monitoring alarm raised or cleared.
    AiAlarm,
    /// An AI pilot declared or decided.
    Pilot,
    /// A report written in the RIS received.
    ExternalReport,
    /// The truth about a finding stated: feedback on the AI at sign-off, an adjudication.
    Truth,
}

impl AuditKind {
    pub const ALL: [AuditKind; 21] = [
        AuditKind::OrderIngested,
        AuditKind::OrderChanged,
        AuditKind::StudyIngested,
        AuditKind::AiResultIngested,
        AuditKind::Decision,
        AuditKind::WorkItemCreated,
        AuditKind::Claim,
        AuditKind::Release,
        AuditKind::Complete,
        AuditKind::Escalate,
        AuditKind::ReportTransition,
        AuditKind::AuthorizationChange,
        AuditKind::PolicyChange,
        AuditKind::RegisterChange,
        AuditKind::DepartmentChange,
        AuditKind::Login,
        AuditKind::RubricAssessment,
        AuditKind::AiAlarm,
        AuditKind::Pilot,
        AuditKind::ExternalReport,
        AuditKind::Truth,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AuditKind::OrderIngested => "order_ingested",
            AuditKind::OrderChanged => "order_changed",
            AuditKind::StudyIngested => "study_ingested",
            AuditKind::AiResultIngested => "ai_result_ingested",
            AuditKind::Decision => "decision",
            AuditKind::WorkItemCreated => "work_item_created",
            AuditKind::Claim => "claim",
            AuditKind::Release => "release",
            AuditKind::Complete => "complete",
            AuditKind::Escalate => "escalate",
            AuditKind::ReportTransition => "report_transition",
            AuditKind::AuthorizationChange => "authorization_change",
            AuditKind::PolicyChange => "policy_change",
            AuditKind::RegisterChange => "register_change",
            AuditKind::DepartmentChange => "department_change",
            AuditKind::Login => "login",
            AuditKind::RubricAssessment => "rubric_assessment",
            AuditKind::AiAlarm => "ai_alarm",
            AuditKind::Pilot => "pilot",
            AuditKind::ExternalReport => "external_report",
            AuditKind::Truth => "truth",
        }
    }

    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// One thing that happened, by whom, to what. `detail` never holds patient names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// Who: a professional id, an API client, or `system`.
    pub actor: String,
    pub kind: AuditKind,
    /// What it concerns: an accession number, a work item, a report, a person.
    pub subject: String,
    pub detail: serde_json::Value,
}
