//! How each piece of work may end. A work item is one of four kinds of work, and each kind
//! ends only in the ways that keep what it decided on record:
//!
//! - gatekeeping ends by a clearance or an escalation, never by a report or a bare
//!   "complete", so the review sample and the escalated read are never skipped;
//! - a retrospective review ends by its finding (missed or not);
//! - a delegate's report or measurement (task delegation, taakdelegatie) ends by submitting
//!   it as preliminary: the BIG-registered radiologist stays responsible and signs it;
//! - final reporting (the radiologist's own read, or a reallocated task, taakherschikking,
//!   reported on the performer's own responsibility) ends by signing the final report; the
//!   item is done only once the study's report is authorized, or when a radiologist closes
//!   it without a report and says why.
//!
//! Interfaces ask [`work_of`] what an item is for the person acting and [`may_end`] whether
//! an ending is allowed; none of them decides this for itself.

use serde::Serialize;

use crate::decision::Pathway;
use crate::professional::Role;
use crate::report::{AUTHORIZATION_TASK, Mandate, REVIEW_TASK, ReportState};
use crate::workitem::WorkItem;

/// What a work item is, whoever acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A gatekeeper decides: clear, or escalate to a radiologist.
    Gatekeeping,
    /// A radiologist's retrospective review of a cleared or normal exam.
    Review,
    /// Reading, reporting, measuring, a procedure: work that produces a report.
    Reporting,
}

/// The kind of a work item: a task routed on the gatekeeper pathway is gatekeeping (the
/// radiologist's read an escalation opens is not), the review task is a review, and all
/// other work produces a report.
pub fn kind_of(item: &WorkItem) -> ItemKind {
    match (item.pathway, item.task.as_str()) {
        (_, REVIEW_TASK) => ItemKind::Review,
        (Pathway::Gatekeeper, t) if t != AUTHORIZATION_TASK => ItemKind::Gatekeeping,
        _ => ItemKind::Reporting,
    }
}

/// What a work item is for the person acting on it under their mandate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    Gatekeeping,
    Review,
    /// A delegate's report or measurement: submitted as preliminary, authorized by a
    /// radiologist.
    Preliminary,
    /// A report signed final by the one acting: `radiologist` when it is their own read.
    Final {
        radiologist: bool,
    },
}

/// Whether work under `mandate` may be signed final by the one who did it: only under a
/// reallocation (taakherschikking) to a BIG-registered role, which the department file
/// allows for no other role. Delegated work (taakdelegatie) stays the radiologist's to
/// sign, whatever the supervision mode: a sampled review decides afterwards which
/// clearances get a second look, it does not make the delegate the signer.
pub fn grants_final_sign_off(mandate: &Mandate) -> bool {
    mandate.kind == crate::agreement::AgreementKind::Reallocation
}

/// Whether someone in `role`, acting under `mandate` (`None`: on their own authority, as a
/// radiologist does), signs final reports.
pub fn signs_final(role: Role, mandate: Option<&Mandate>) -> bool {
    match mandate {
        None => role == Role::Radiologist,
        Some(m) => grants_final_sign_off(m),
    }
}

/// What `item` is for someone in `role` acting under `mandate`.
pub fn work_of(item: &WorkItem, role: Role, mandate: Option<&Mandate>) -> Work {
    match kind_of(item) {
        ItemKind::Gatekeeping => Work::Gatekeeping,
        ItemKind::Review => Work::Review,
        ItemKind::Reporting if signs_final(role, mandate) => Work::Final {
            radiologist: role == Role::Radiologist && mandate.is_none(),
        },
        ItemKind::Reporting => Work::Preliminary,
    }
}

/// The ways a work item can end, and reporting, which does not end it but needs an item
/// that produces a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    Clear,
    Escalate,
    Review,
    /// Drafting or editing the study's report (the item stays claimed).
    Report,
    SubmitPreliminary,
    SignFinal,
    /// A bare "complete": the work's outcome is already on record elsewhere.
    Complete,
    /// A radiologist ends their read without a report, with a reason.
    CloseWithoutReport,
}

impl Ending {
    pub fn code(self) -> &'static str {
        match self {
            Ending::Clear => "clear",
            Ending::Escalate => "escalate",
            Ending::Review => "review",
            Ending::Report => "report",
            Ending::SubmitPreliminary => "submit_preliminary",
            Ending::SignFinal => "sign_final",
            Ending::Complete => "complete",
            Ending::CloseWithoutReport => "close_without_report",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndingRefusal {
    #[error("gatekeeping ends by a clearance or an escalation: POST .../clear or .../escalate")]
    Gatekeeping,
    #[error(
        "a retrospective review ends by its finding: POST .../review with {{\"missed\": true|false}}"
    )]
    Review,
    #[error(
        "delegated work ends by submitting a preliminary report that a radiologist authorizes; it is not signed final by its performer"
    )]
    Delegated,
    #[error(
        "a read ends with an authorized report: sign it, or (a radiologist) close the item without one and say why (POST .../close)"
    )]
    NoAuthorizedReport,
    #[error("only a radiologist closes a read without a report")]
    CloseIsRadiologists,
    #[error("say why the read is closed without a report")]
    EmptyReason,
    #[error("only gatekeeping is cleared or escalated")]
    NotGatekeeping,
    #[error("only a retrospective review records a review finding")]
    NotReview,
}

/// Whether `work` may end (or be reported on) by `ending`, given the state of the study's
/// report (`None` when there is none) and, for a close, the reason given.
pub fn may_end(
    work: Work,
    ending: Ending,
    report: Option<ReportState>,
    reason: Option<&str>,
) -> Result<(), EndingRefusal> {
    use Ending as E;
    match (work, ending) {
        (Work::Gatekeeping, E::Clear | E::Escalate) => Ok(()),
        (Work::Gatekeeping, _) => Err(EndingRefusal::Gatekeeping),
        (Work::Review, E::Review) => Ok(()),
        (Work::Review, _) => Err(EndingRefusal::Review),
        (Work::Preliminary | Work::Final { .. }, E::Report | E::SubmitPreliminary) => Ok(()),
        (Work::Preliminary, E::SignFinal | E::Complete | E::CloseWithoutReport) => {
            Err(EndingRefusal::Delegated)
        }
        (Work::Final { .. }, E::SignFinal) => Ok(()),
        (Work::Final { .. }, E::Complete) => match report {
            Some(ReportState::Authorized) => Ok(()),
            _ => Err(EndingRefusal::NoAuthorizedReport),
        },
        (Work::Final { radiologist: false }, E::CloseWithoutReport) => {
            Err(EndingRefusal::CloseIsRadiologists)
        }
        (Work::Final { radiologist: true }, E::CloseWithoutReport) => match reason.map(str::trim) {
            Some(r) if !r.is_empty() => Ok(()),
            _ => Err(EndingRefusal::EmptyReason),
        },
        (Work::Preliminary | Work::Final { .. }, E::Clear | E::Escalate) => {
            Err(EndingRefusal::NotGatekeeping)
        }
        (Work::Preliminary | Work::Final { .. }, E::Review) => Err(EndingRefusal::NotReview),
    }
}
