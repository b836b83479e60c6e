//! The competence portfolio and the authorizations derived from it.
//!
//! Assessments record the supervision that *was* needed (retrospective evidence); an
//! [`Authorization`] grants the supervision that *will* apply (a prospective decision),
//! with its reasons, the evidence it rests on, what is missing, its conditions and the day
//! it lapses as evidence ages out. It is derived, never typed in.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::agreement::SupervisionMode;
use crate::department::Department;
use crate::ids::{ProfessionalId, TaskTypeId};
use crate::professional::Role;

/// ten Cate's entrustment levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Entrustment(u8);

impl Entrustment {
    pub const OBSERVE: Entrustment = Entrustment(1);
    pub const DIRECT_SUPERVISION: Entrustment = Entrustment(2);
    pub const INDIRECT_SUPERVISION: Entrustment = Entrustment(3);
    pub const UNSUPERVISED: Entrustment = Entrustment(4);
    pub const SUPERVISES_OTHERS: Entrustment = Entrustment(5);

    pub fn level(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Entrustment {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        if (1..=5).contains(&v) {
            Ok(Entrustment(v))
        } else {
            Err(format!("entrustment level must be 1 to 5, found {v}"))
        }
    }
}

impl From<Entrustment> for u8 {
    fn from(e: Entrustment) -> u8 {
        e.0
    }
}

/// The six CanMEDS-derived competence domains.
pub const DOMAINS: [&str; 6] = [
    "expertise",
    "communication",
    "collaboration",
    "organisation",
    "knowledge_science",
    "professionalism",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessorBackground {
    Medical,
    Technical,
    Other,
}

impl AssessorBackground {
    /// The background of someone in `role`, from their professional record: physicians
    /// are medical, technologists, practitioners and technical physicians technical.
    pub fn of(role: Role) -> AssessorBackground {
        match role {
            Role::Radiologist | Role::Resident | Role::Pa | Role::EdPhysician => {
                AssessorBackground::Medical
            }
            Role::Mbb | Role::MbbAi | Role::Ap | Role::Tg => AssessorBackground::Technical,
            Role::Student | Role::ProgrammeStaff => AssessorBackground::Other,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            AssessorBackground::Medical => "medical",
            AssessorBackground::Technical => "technical",
            AssessorBackground::Other => "other",
        }
    }
}

/// Why an assessment is not admitted to a portfolio, with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error(transparent)]
    Invalid(#[from] AssessmentError),
    #[error("{date} is after today ({today}): an assessment records what was observed")]
    FutureDate { date: NaiveDate, today: NaiveDate },
    #[error(transparent)]
    Assessor(#[from] crate::authz::AssessorRefusal),
    #[error("the assessor's background is {recorded} by their professional record, not {stated}")]
    Background {
        stated: &'static str,
        recorded: &'static str,
    },
}

impl AdmitError {
    pub fn field(&self) -> &'static str {
        match self {
            AdmitError::Invalid(AssessmentError::Score { .. }) => "scores",
            AdmitError::Invalid(AssessmentError::NarrativeRequired) => "narrative",
            AdmitError::Invalid(AssessmentError::SelfAssessment) | AdmitError::Assessor(_) => {
                "assessor"
            }
            AdmitError::FutureDate { .. } => "date",
            AdmitError::Background { .. } => "assessor_background",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentStatus {
    /// Asked for by the assessee; counts only once the assessor confirms it.
    Requested,
    Confirmed,
}

/// A workplace-based assessment (KKB, korte klinische beoordeling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub id: String,
    pub assessee: ProfessionalId,
    pub assessor: ProfessionalId,
    pub assessor_background: AssessorBackground,
    pub task: TaskTypeId,
    pub placement: String,
    pub date: NaiveDate,
    /// Score 1-5 per competence domain, in [`DOMAINS`] order; `None` is "not observed".
    pub scores: [Option<u8>; 6],
    pub entrustment: Entrustment,
    pub narrative: String,
    pub status: AssessmentStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    #[error("only the assessor ({0}) can confirm this assessment")]
    NotAssessor(ProfessionalId),
    #[error("the assessment is already confirmed")]
    AlreadyConfirmed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessmentError {
    #[error("{domain} score must be 1 to 5 or not observed, found {score}")]
    Score { domain: &'static str, score: u8 },
    #[error(
        "narrative feedback is required when the entrustment is 2 or lower or a domain scores 2 or lower"
    )]
    NarrativeRequired,
    #[error("an assessor cannot assess themselves")]
    SelfAssessment,
}

impl Assessment {
    /// The status an assessment entered by `by` starts in: the assessor records it
    /// confirmed; the assessee can only request it. `None`: nobody else may enter it.
    pub fn entered_by(&self, by: &ProfessionalId) -> Option<AssessmentStatus> {
        if by == &self.assessor {
            Some(AssessmentStatus::Confirmed)
        } else if by == &self.assessee {
            Some(AssessmentStatus::Requested)
        } else {
            None
        }
    }

    /// The assessor confirms a requested assessment; only then does it count.
    pub fn confirm(&mut self, by: &ProfessionalId) -> Result<(), ConfirmError> {
        if by != &self.assessor {
            return Err(ConfirmError::NotAssessor(self.assessor.clone()));
        }
        if self.status == AssessmentStatus::Confirmed {
            return Err(ConfirmError::AlreadyConfirmed);
        }
        self.status = AssessmentStatus::Confirmed;
        Ok(())
    }

    /// Admits an assessment to the assessee's portfolio on `today`: valid, not dated in the
    /// future, by someone who may assess the assessee for the task
    /// ([`crate::authz::may_assess`]), with the assessor's background taken from their
    /// professional record (`stated`, when the source gave one, must agree with it).
    pub fn admit(
        mut self,
        stated: Option<AssessorBackground>,
        dept: &crate::department::Department,
        today: NaiveDate,
    ) -> Result<Assessment, AdmitError> {
        self.validate()?;
        if self.date > today {
            return Err(AdmitError::FutureDate {
                date: self.date,
                today,
            });
        }
        crate::authz::may_assess(
            &self.assessor,
            &self.assessee,
            self.task.as_str(),
            dept,
            today,
        )?;
        let role = dept
            .professional(self.assessor.as_str())
            .map(|p| p.role)
            .expect("may_assess knows the assessor");
        let recorded = AssessorBackground::of(role);
        if let Some(stated) = stated
            && stated != recorded
        {
            return Err(AdmitError::Background {
                stated: stated.code(),
                recorded: recorded.code(),
            });
        }
        self.assessor_background = recorded;
        Ok(self)
    }

    /// The rules every assessment must meet before it is stored.
    pub fn validate(&self) -> Result<(), AssessmentError> {
        for (domain, score) in DOMAINS.iter().zip(self.scores) {
            if let Some(s) = score
                && !(1..=5).contains(&s)
            {
                return Err(AssessmentError::Score { domain, score: s });
            }
        }
        let low = self.entrustment <= Entrustment::DIRECT_SUPERVISION
            || self.scores.iter().flatten().any(|s| *s <= 2);
        if low && self.narrative.trim().is_empty() {
            return Err(AssessmentError::NarrativeRequired);
        }
        if self.assessor == self.assessee {
            return Err(AssessmentError::SelfAssessment);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    pub holder: ProfessionalId,
    /// e.g. `ai_literacy`, `ai_endorsement`, `mri_safety`.
    pub kind: String,
    pub valid_until: NaiveDate,
}

/// A suspension by quality monitoring; only the named supervisor lifts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    pub professional: ProfessionalId,
    pub task: TaskTypeId,
    pub since: NaiveDate,
    pub reason: String,
    pub supervisor: ProfessionalId,
    pub lifted_on: Option<NaiveDate>,
}

/// What a task agreement demands as evidence of competence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirements {
    pub assessments: u32,
    pub within_months: u32,
    pub min_entrustment: Entrustment,
    pub distinct_assessors: u32,
    /// At least one of the assessors is a radiologist.
    pub radiologist_assessor: bool,
    pub certificates: Vec<String>,
}

/// Everything known about one professional's competence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Portfolio {
    pub assessments: Vec<Assessment>,
    pub certificates: Vec<Certificate>,
    pub suspensions: Vec<Suspension>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationStatus {
    Authorized,
    NotYet,
    /// The evidence or a certificate has aged out since it was sufficient.
    Expired,
    Suspended,
}

/// May this professional do this task from now on, under which supervision, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Authorization {
    pub professional: ProfessionalId,
    pub task: TaskTypeId,
    pub status: AuthorizationStatus,
    pub agreement: Option<String>,
    /// The supervision that applies when authorized (from the agreement).
    pub supervision: Option<SupervisionMode>,
    /// Ids of the assessments the decision rests on.
    pub evidence: Vec<String>,
    pub missing: Vec<String>,
    /// Conditions the authorization holds under (e.g. AI literacy for AI-supported work).
    pub conditions: Vec<String>,
    /// The day it lapses unless new evidence arrives.
    pub lapses_on: Option<NaiveDate>,
}

/// The AI-literacy condition of every AI-supported task (EU AI Act, article 4).
pub const AI_LITERACY: &str = "ai_literacy";

/// Derives the authorization of `professional` (in `role`) for `task` on `today`.
pub fn derive(
    professional: &ProfessionalId,
    role: Role,
    task: &TaskTypeId,
    dept: &Department,
    portfolio: &Portfolio,
    today: NaiveDate,
) -> Authorization {
    let mut a = Authorization {
        professional: professional.clone(),
        task: task.clone(),
        status: AuthorizationStatus::NotYet,
        agreement: None,
        supervision: None,
        evidence: Vec::new(),
        missing: Vec::new(),
        conditions: Vec::new(),
        lapses_on: None,
    };
    if role == Role::Radiologist {
        // The supervising specialist needs no delegation.
        a.status = AuthorizationStatus::Authorized;
        a.conditions
            .push("radiologist: own professional authority".into());
        return a;
    }
    let Some(agreement) = dept
        .agreements_for(task.as_str())
        .find(|g| g.permits(role) && g.is_valid_on(today))
    else {
        a.missing.push(format!(
            "no task agreement valid on {today} lets a {role} do `{task}`"
        ));
        return a;
    };
    a.agreement = Some(agreement.id.clone());
    a.supervision = Some(agreement.supervision);
    if let Some(s) = portfolio.suspensions.iter().find(|s| {
        &s.professional == professional
            && &s.task == task
            && s.since <= today
            && s.lifted_on.is_none_or(|d| d > today)
    }) {
        a.status = AuthorizationStatus::Suspended;
        a.missing.push(format!(
            "suspended since {}: {} (only {} can lift it)",
            s.since, s.reason, s.supervisor
        ));
        return a;
    }
    // Each shortfall, and whether it has aged out (it was once met) rather than never been.
    let mut shortfalls: Vec<(String, bool)> = Vec::new();
    let mut lapses: Vec<NaiveDate> = Vec::new();
    if let Some(r) = &agreement.requirements {
        let (met, evidence, lapse, once) =
            assessments_met(professional, task, r, dept, portfolio, today);
        a.evidence = evidence;
        match met {
            Ok(()) => lapses.extend(lapse),
            Err(why) => shortfalls.extend(why.into_iter().map(|w| (w, once))),
        }
    }
    let mut certificates: Vec<String> = agreement
        .requirements
        .as_ref()
        .map(|r| r.certificates.clone())
        .unwrap_or_default();
    if dept.task(task.as_str()).is_some_and(|t| t.ai_supported)
        && !certificates.iter().any(|c| c == AI_LITERACY)
    {
        certificates.push(AI_LITERACY.into());
    }
    for kind in &certificates {
        a.conditions.push(format!("valid `{kind}` certificate"));
        let best = portfolio
            .certificates
            .iter()
            .filter(|c| &c.holder == professional && &c.kind == kind)
            .map(|c| c.valid_until)
            .max();
        match best {
            Some(until) if until >= today => lapses.push(until),
            Some(until) => {
                shortfalls.push((format!("`{kind}` certificate expired on {until}"), true))
            }
            None => shortfalls.push((format!("no `{kind}` certificate"), false)),
        }
    }
    if shortfalls.is_empty() {
        a.status = AuthorizationStatus::Authorized;
        a.lapses_on = lapses.into_iter().chain(agreement.valid_until).min();
    } else if shortfalls.iter().all(|(_, aged)| *aged) {
        a.status = AuthorizationStatus::Expired;
    }
    a.missing.extend(shortfalls.into_iter().map(|(w, _)| w));
    a
}

/// Whether the confirmed assessments meet `r` on `today`; the evidence used; the day the
/// count of recent assessments stops being enough; and whether it was ever enough before.
#[allow(clippy::type_complexity)]
fn assessments_met(
    professional: &ProfessionalId,
    task: &TaskTypeId,
    r: &Requirements,
    dept: &Department,
    portfolio: &Portfolio,
    today: NaiveDate,
) -> (
    Result<(), Vec<String>>,
    Vec<String>,
    Option<NaiveDate>,
    bool,
) {
    let window_start = today
        .checked_sub_months(Months::new(r.within_months))
        .unwrap_or(NaiveDate::MIN);
    let mut qualifying: Vec<&Assessment> = portfolio
        .assessments
        .iter()
        .filter(|x| {
            &x.assessee == professional
                && &x.task == task
                && x.status == AssessmentStatus::Confirmed
                && x.entrustment >= r.min_entrustment
                && x.date <= today
        })
        .collect();
    let ever = qualifying.len() >= r.assessments as usize;
    qualifying.retain(|x| x.date >= window_start);
    qualifying.sort_by(|a, b| b.date.cmp(&a.date).then(a.id.cmp(&b.id)));
    let evidence: Vec<String> = qualifying.iter().map(|x| x.id.clone()).collect();
    let mut missing = Vec::new();
    if qualifying.len() < r.assessments as usize {
        missing.push(format!(
            "{} of {} confirmed assessments with entrustment >= {} in the last {} months",
            qualifying.len(),
            r.assessments,
            r.min_entrustment.level(),
            r.within_months
        ));
    }
    let mut assessors: Vec<&ProfessionalId> = qualifying.iter().map(|x| &x.assessor).collect();
    assessors.sort_unstable();
    assessors.dedup();
    if assessors.len() < r.distinct_assessors as usize {
        missing.push(format!(
            "{} of {} distinct assessors",
            assessors.len(),
            r.distinct_assessors
        ));
    }
    let is_radiologist = |p: &ProfessionalId| {
        dept.professional(p.as_str())
            .is_some_and(|x| x.role == Role::Radiologist)
    };
    if r.radiologist_assessor && !assessors.iter().any(|p| is_radiologist(p)) {
        missing.push("no assessment by a radiologist".into());
    }
    // The evidence holds until the N-th most recent qualifying assessment leaves the window.
    let lapse = qualifying
        .get((r.assessments as usize).saturating_sub(1))
        .and_then(|x| x.date.checked_add_months(Months::new(r.within_months)));
    let result = if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    };
    (result, evidence, lapse, ever)
}
