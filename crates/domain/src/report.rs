//! The report lifecycle: draft -> preliminary -> authorized, addenda after authorization,
//! and return-for-correction from preliminary back to draft.
//!
//! Every method either performs a legal transition and records who did it, in which role
//! and under which mandate, or returns a [`ReportError`] and changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::agreement::{AgreementKind, SupervisionMode};
use crate::department::Department;
use crate::ids::TaskTypeId;
use crate::ids::{AccessionNumber, FindingCode, ProfessionalId};
use crate::professional::Role;

/// The radiologist's task that authorizes delegated work and reads what a gatekeeper
/// escalates.
pub const AUTHORIZATION_TASK: &str = "final_report";

/// The task under which sampled exams are reviewed afterwards.
pub const REVIEW_TASK: &str = "retrospective_review";

pub fn authorization_task() -> TaskTypeId {
    TaskTypeId::parse(AUTHORIZATION_TASK).expect("a valid task id")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    Draft,
    Preliminary,
    Authorized,
}

impl ReportState {
    pub fn code(self) -> &'static str {
        match self {
            ReportState::Draft => "draft",
            ReportState::Preliminary => "preliminary",
            ReportState::Authorized => "authorized",
        }
    }
}

/// The task agreement someone acts under, as recorded with their signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mandate {
    pub agreement_id: String,
    pub kind: AgreementKind,
    pub supervision: SupervisionMode,
}

/// Who acts on a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signer {
    pub id: ProfessionalId,
    pub role: Role,
    /// `None` when acting on one's own professional authority (a radiologist).
    pub mandate: Option<Mandate>,
}

impl Signer {
    fn may_sign_final(&self) -> bool {
        crate::ending::signs_final(self.role, self.mandate.as_ref())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportContent {
    pub text: String,
    /// Coded findings; these become the ground truth for AI monitoring once authorized.
    pub findings: Vec<FindingCode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Drafted,
    Edited,
    SubmittedPreliminary,
    Authorized,
    ReturnedForCorrection,
    Addendum,
}

impl Act {
    pub fn code(self) -> &'static str {
        match self {
            Act::Drafted => "drafted",
            Act::Edited => "edited",
            Act::SubmittedPreliminary => "submitted_preliminary",
            Act::Authorized => "authorized",
            Act::ReturnedForCorrection => "returned_for_correction",
            Act::Addendum => "addendum",
        }
    }
}

/// One entry in the report's history; the content is the content after the act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportVersion {
    pub number: u32,
    pub act: Act,
    pub state: ReportState,
    pub by: Signer,
    pub at: DateTime<Utc>,
    pub content: ReportContent,
    /// The reason given when returning for correction.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Addendum {
    pub text: String,
    pub findings: Vec<FindingCode>,
    pub by: Signer,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("cannot {action} a report that is {state:?}")]
    WrongState {
        action: &'static str,
        state: ReportState,
    },
    #[error("only the author ({author}) may {action} this report")]
    NotAuthor {
        author: ProfessionalId,
        action: &'static str,
    },
    #[error("the author of a preliminary report may not authorize it; another radiologist must")]
    AuthorizerIsAuthor,
    #[error("a {0} may not authorize reports without a mandate for independent reporting")]
    MayNotSignFinal(Role),
    #[error("only a radiologist may {0}")]
    RadiologistOnly(&'static str),
    #[error("a report returned for correction must be submitted as preliminary again")]
    MustResubmit,
    #[error("the report text is empty")]
    EmptyText,
    #[error("a return for correction must say why")]
    EmptyReason,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub accession: AccessionNumber,
    pub author: Signer,
    pub state: ReportState,
    pub content: ReportContent,
    pub authorized_by: Option<Signer>,
    pub addenda: Vec<Addendum>,
    pub history: Vec<ReportVersion>,
}

impl Report {
    pub fn draft(
        accession: AccessionNumber,
        author: Signer,
        content: ReportContent,
        at: DateTime<Utc>,
    ) -> Report {
        let mut r = Report {
            accession,
            author: author.clone(),
            state: ReportState::Draft,
            content,
            authorized_by: None,
            addenda: Vec::new(),
            history: Vec::new(),
        };
        r.record(Act::Drafted, author, at, None);
        r
    }

    pub fn edit(
        &mut self,
        by: &Signer,
        content: ReportContent,
        at: DateTime<Utc>,
    ) -> Result<(), ReportError> {
        self.require_state("edit", ReportState::Draft)?;
        self.require_author(by, "edit")?;
        self.content = content;
        self.record(Act::Edited, by.clone(), at, None);
        Ok(())
    }

    pub fn submit_preliminary(
        &mut self,
        by: &Signer,
        at: DateTime<Utc>,
    ) -> Result<(), ReportError> {
        self.require_state("submit as preliminary", ReportState::Draft)?;
        self.require_author(by, "submit")?;
        self.require_text()?;
        self.state = ReportState::Preliminary;
        self.record(Act::SubmittedPreliminary, by.clone(), at, None);
        Ok(())
    }

    /// Authorizes a preliminary report (a radiologist other than its author), or signs a
    /// draft directly (its author, when a radiologist or under an independent mandate).
    pub fn authorize(&mut self, by: &Signer, at: DateTime<Utc>) -> Result<(), ReportError> {
        match self.state {
            ReportState::Preliminary => {
                if by.id == self.author.id {
                    return Err(ReportError::AuthorizerIsAuthor);
                }
                if by.role != Role::Radiologist {
                    return Err(ReportError::RadiologistOnly(
                        "authorize a preliminary report",
                    ));
                }
            }
            ReportState::Draft => {
                self.require_author(by, "sign a draft")?;
                // A supervisor asked for a correction: the corrected report goes back to
                // them, the author may not sign it off alone.
                if self
                    .history
                    .iter()
                    .any(|v| v.act == Act::ReturnedForCorrection)
                {
                    return Err(ReportError::MustResubmit);
                }
                if !by.may_sign_final() {
                    return Err(ReportError::MayNotSignFinal(by.role));
                }
            }
            ReportState::Authorized => {
                return Err(ReportError::WrongState {
                    action: "authorize",
                    state: self.state,
                });
            }
        }
        self.require_text()?;
        self.state = ReportState::Authorized;
        self.authorized_by = Some(by.clone());
        self.record(Act::Authorized, by.clone(), at, None);
        Ok(())
    }

    pub fn return_for_correction(
        &mut self,
        by: &Signer,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ReportError> {
        self.require_state("return for correction", ReportState::Preliminary)?;
        if by.role != Role::Radiologist {
            return Err(ReportError::RadiologistOnly(
                "return a report for correction",
            ));
        }
        if by.id == self.author.id {
            return Err(ReportError::AuthorizerIsAuthor);
        }
        if reason.trim().is_empty() {
            return Err(ReportError::EmptyReason);
        }
        self.state = ReportState::Draft;
        self.record(
            Act::ReturnedForCorrection,
            by.clone(),
            at,
            Some(reason.to_owned()),
        );
        Ok(())
    }

    /// Adds to an authorized report, which is otherwise immutable.
    pub fn addendum(
        &mut self,
        by: &Signer,
        text: &str,
        findings: Vec<FindingCode>,
        at: DateTime<Utc>,
    ) -> Result<(), ReportError> {
        self.require_state("add an addendum to", ReportState::Authorized)?;
        if !by.may_sign_final() {
            return Err(ReportError::MayNotSignFinal(by.role));
        }
        if text.trim().is_empty() {
            return Err(ReportError::EmptyText);
        }
        self.addenda.push(Addendum {
            text: text.to_owned(),
            findings,
            by: by.clone(),
            at,
        });
        self.record(Act::Addendum, by.clone(), at, None);
        Ok(())
    }

    /// Whether authorizing it needs a discrepancy grade: a preliminary report written by a
    /// delegate (under a mandate), which feeds the delegate's quality record.
    pub fn needs_discrepancy_grade(&self) -> bool {
        self.state == ReportState::Preliminary && self.author.mandate.is_some()
    }

    /// The task its author works under, to which a returned report goes back: the task of
    /// the author's agreement, or the radiologist's own read.
    pub fn author_task(&self, dept: &Department) -> TaskTypeId {
        self.author
            .mandate
            .as_ref()
            .and_then(|m| dept.agreements.iter().find(|a| a.id == m.agreement_id))
            .map_or_else(authorization_task, |a| a.task.clone())
    }

    /// The discrepancy limits the author's work is judged by: those of the agreement that
    /// mandated it, else the defaults.
    pub fn discrepancy_limits(&self, dept: &Department) -> crate::quality::Limits {
        self.author
            .mandate
            .as_ref()
            .and_then(|m| dept.agreements.iter().find(|a| a.id == m.agreement_id))
            .map_or_else(Default::default, |a| a.discrepancy_limits)
    }

    /// The coded findings that count as truth: the authorized content plus addenda.
    pub fn final_findings(&self) -> Option<Vec<FindingCode>> {
        (self.state == ReportState::Authorized).then(|| {
            let mut all = self.content.findings.clone();
            for a in &self.addenda {
                for f in &a.findings {
                    if !all.contains(f) {
                        all.push(f.clone());
                    }
                }
            }
            all
        })
    }

    fn require_state(&self, action: &'static str, state: ReportState) -> Result<(), ReportError> {
        if self.state == state {
            Ok(())
        } else {
            Err(ReportError::WrongState {
                action,
                state: self.state,
            })
        }
    }

    fn require_author(&self, by: &Signer, action: &'static str) -> Result<(), ReportError> {
        if by.id == self.author.id {
            Ok(())
        } else {
            Err(ReportError::NotAuthor {
                author: self.author.id.clone(),
                action,
            })
        }
    }

    fn require_text(&self) -> Result<(), ReportError> {
        if self.content.text.trim().is_empty() {
            Err(ReportError::EmptyText)
        } else {
            Ok(())
        }
    }

    fn record(&mut self, act: Act, by: Signer, at: DateTime<Utc>, note: Option<String>) {
        self.history.push(ReportVersion {
            number: self.history.len() as u32 + 1,
            act,
            state: self.state,
            by,
            at,
            content: self.content.clone(),
            note,
        });
    }
}
