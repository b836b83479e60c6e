//! AI work as DICOM Unified Procedure Step work items (IHE AI Workflow for Imaging, AIW-I):
//! radgate is the Task Manager, an AI node the Task Performer that pulls, claims and
//! completes. The state rules are those of PS3.4 CC.1.1 (the UPS state machine) and
//! CC.2.4.3 (a cancel request); each refusal carries the standard's status code, and
//! UPS-RS (PS3.18 11.7) says which HTTP status and Warning text it is answered with.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ai::{AiApplication, StatusChange};

/// The Procedure Step State (0074,1000) of a work item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpsState {
    #[serde(rename = "SCHEDULED")]
    Scheduled,
    #[serde(rename = "IN PROGRESS")]
    InProgress,
    #[serde(rename = "COMPLETED")]
    Completed,
    #[serde(rename = "CANCELED")]
    Canceled,
}

impl UpsState {
    pub fn code(self) -> &'static str {
        match self {
            UpsState::Scheduled => "SCHEDULED",
            UpsState::InProgress => "IN PROGRESS",
            UpsState::Completed => "COMPLETED",
            UpsState::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<UpsState> {
        match s.trim() {
            "SCHEDULED" => Some(UpsState::Scheduled),
            "IN PROGRESS" => Some(UpsState::InProgress),
            "COMPLETED" => Some(UpsState::Completed),
            // PS3.18 11.7.1.4 spells it both ways; the data element's value is CANCELED.
            "CANCELED" | "CANCELLED" => Some(UpsState::Canceled),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, UpsState::Completed | UpsState::Canceled)
    }
}

/// Why a request on a work item is refused, with its DIMSE status (PS3.4 CC.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpsRefusal {
    /// C300: a completed or canceled work item may no longer be updated.
    #[error("The submitted request is inconsistent with the state of the UPS Instance.")]
    MayNoLongerBeUpdated,
    /// C301, without a Transaction UID.
    #[error("The Transaction UID is missing.")]
    TransactionUidMissing,
    /// C301, with another than the owner's.
    #[error("The Transaction UID is incorrect.")]
    TransactionUidIncorrect,
    /// C302: claimed already.
    #[error("The submitted request is inconsistent with the state of the UPS Instance.")]
    AlreadyInProgress,
    /// C303: SCHEDULED is where a work item starts, never where it goes.
    #[error("The submitted request is inconsistent with the state of the UPS Instance.")]
    MayOnlyBecomeScheduledByCreate,
    /// C310: not claimed yet.
    #[error("The submitted request is inconsistent with the state of the UPS Instance.")]
    NotYetInProgress,
    /// C311: a cancel request for a completed work item.
    #[error("The submitted request is inconsistent with the state of the UPS Instance.")]
    AlreadyCompleted,
}

impl UpsRefusal {
    /// The DIMSE status code (PS3.4 Table CC.2.1-2 and CC.2.4-2).
    pub fn status(self) -> u16 {
        match self {
            UpsRefusal::MayNoLongerBeUpdated => 0xC300,
            UpsRefusal::TransactionUidMissing | UpsRefusal::TransactionUidIncorrect => 0xC301,
            UpsRefusal::AlreadyInProgress => 0xC302,
            UpsRefusal::MayOnlyBecomeScheduledByCreate => 0xC303,
            UpsRefusal::NotYetInProgress => 0xC310,
            UpsRefusal::AlreadyCompleted => 0xC311,
        }
    }

    /// The HTTP status UPS-RS answers it with (PS3.18 Table 11.7.3-1): a missing or wrong
    /// Transaction UID is a bad request, the rest a conflict with the work item's state.
    pub fn http_status(self) -> u16 {
        match self {
            UpsRefusal::TransactionUidMissing | UpsRefusal::TransactionUidIncorrect => 400,
            _ => 409,
        }
    }
}

/// A change of state that is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    /// The work item moves to the state; with a Transaction UID to record on a claim.
    To(UpsState),
    /// It is in that final state already: PS3.18's warning, nothing changes.
    Already(UpsState),
}

impl Granted {
    /// The Warning text UPS-RS adds (PS3.18 11.7.3.2), if any.
    pub fn warning(&self) -> Option<String> {
        match self {
            Granted::Already(s) => Some(format!(
                "The UPS is already in the requested state of {}.",
                s.code()
            )),
            Granted::To(_) => None,
        }
    }
}

/// The Change UPS State rules (PS3.4 Table CC.1.1-2): `owner` is the Transaction UID the
/// work item was claimed with, `given` the one the request carries.
pub fn change_state(
    current: UpsState,
    owner: Option<&str>,
    requested: UpsState,
    given: Option<&str>,
) -> Result<Granted, UpsRefusal> {
    let given = given
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(UpsRefusal::TransactionUidMissing)?;
    use UpsState::*;
    match (current, requested) {
        (_, Scheduled) => Err(UpsRefusal::MayOnlyBecomeScheduledByCreate),
        (Scheduled, InProgress) => Ok(Granted::To(InProgress)),
        (Scheduled, Completed | Canceled) => Err(UpsRefusal::NotYetInProgress),
        (InProgress, InProgress) => Err(UpsRefusal::AlreadyInProgress),
        (InProgress, Completed | Canceled) => {
            if owner == Some(given) {
                Ok(Granted::To(requested))
            } else {
                Err(UpsRefusal::TransactionUidIncorrect)
            }
        }
        (Completed, Completed) | (Canceled, Canceled) => Ok(Granted::Already(requested)),
        (Completed | Canceled, _) => Err(UpsRefusal::MayNoLongerBeUpdated),
    }
}

/// The Update UPS rules (PS3.4 CC.2.2.3): a scheduled work item is updated without a
/// Transaction UID, a claimed one only by its owner, a final one never.
pub fn may_update(
    current: UpsState,
    owner: Option<&str>,
    given: Option<&str>,
) -> Result<(), UpsRefusal> {
    let given = given.map(str::trim).filter(|t| !t.is_empty());
    match current {
        UpsState::Scheduled => match given {
            None => Ok(()),
            Some(_) => Err(UpsRefusal::NotYetInProgress),
        },
        UpsState::InProgress => match given {
            None => Err(UpsRefusal::TransactionUidMissing),
            Some(t) if Some(t) == owner => Ok(()),
            Some(_) => Err(UpsRefusal::TransactionUidIncorrect),
        },
        UpsState::Completed | UpsState::Canceled => Err(UpsRefusal::MayNoLongerBeUpdated),
    }
}

/// What a cancel request does (PS3.4 CC.2.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRequest {
    /// Not claimed: the Task Manager cancels it at once.
    Canceled,
    /// Claimed: its performer is told (a Cancel Requested event) and decides.
    PerformerAsked,
    /// Canceled already: PS3.18's warning.
    AlreadyCanceled,
}

pub fn request_cancel(current: UpsState) -> Result<CancelRequest, UpsRefusal> {
    match current {
        UpsState::Scheduled => Ok(CancelRequest::Canceled),
        UpsState::InProgress => Ok(CancelRequest::PerformerAsked),
        UpsState::Canceled => Ok(CancelRequest::AlreadyCanceled),
        UpsState::Completed => Err(UpsRefusal::AlreadyCompleted),
    }
}

/// What the Task Manager does with a work item whose time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Nobody claimed it: schedule it once more, with a fresh deadline.
    Retry,
    /// Unclaimed after its retries, or claimed and not completed in time: cancel it, tell
    /// the RAIO, and let the study go the way it would without the AI (the policy's
    /// `ai_missing` rules).
    Escalate,
}

/// How often an unclaimed work item is scheduled again before it is escalated.
pub const RETRIES: u32 = 1;

/// Whether a work item's time ran out at `now`, and what follows.
pub fn expiry(
    state: UpsState,
    deadline: DateTime<Utc>,
    retries: u32,
    now: DateTime<Utc>,
) -> Option<Expiry> {
    if state.is_final() || now < deadline {
        return None;
    }
    Some(match state {
        UpsState::Scheduled if retries < RETRIES => Expiry::Retry,
        _ => Expiry::Escalate,
    })
}

/// How long a work item has to be done: the policy's wait for the application, at least
/// a minute.
pub fn deadline(from: DateTime<Utc>, wait_minutes: u32) -> DateTime<Utc> {
    from + Duration::minutes(i64::from(wait_minutes.max(1)))
}

/// The applications a study is owed to as work items: those the study is within the
/// intended use of (modality, body part) and whose status in force lets them receive
/// studies (shadow, pilot, production).
pub fn owed<'a>(
    register: &'a [AiApplication],
    changes: &[StatusChange],
    modality: &str,
    body_part: &str,
) -> Vec<&'a AiApplication> {
    register
        .iter()
        .filter(|a| a.covers(modality, body_part) && a.in_force(changes).status.monitored())
        .collect()
}

/// Why a work item offered for creation (IHE RAD-80; PS3.4 CC.2.5.1.3.1, PS3.18 11.4) is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateRefusal {
    /// C309: a work item starts SCHEDULED.
    #[error("The provided value of UPS State was not \"SCHEDULED\".")]
    NotScheduled,
    /// 0106: the Transaction UID is the performer's, given when it claims the work item.
    #[error(
        "A new UPS Instance has no Transaction UID; the performer gives it when it claims the work item."
    )]
    TransactionUid,
    /// 0120: an attribute radgate needs is missing.
    #[error("The {0} is missing.")]
    Missing(&'static str),
    /// 0106: an attribute names something radgate cannot schedule.
    #[error("{0}")]
    Invalid(String),
    /// 0111: the UPS Instance exists, or the study has a work item for the application.
    #[error(
        "The UPS Instance already exists; radgate keeps one work item per study and application."
    )]
    Duplicate,
}

impl CreateRefusal {
    /// The DIMSE status code (PS3.4 Table CC.2.5-2 and C.4.2).
    pub fn status(&self) -> u16 {
        match self {
            CreateRefusal::NotScheduled => 0xC309,
            CreateRefusal::TransactionUid | CreateRefusal::Invalid(_) => 0x0106,
            CreateRefusal::Missing(_) => 0x0120,
            CreateRefusal::Duplicate => 0x0111,
        }
    }

    /// The HTTP status UPS-RS answers it with: an existing instance is a conflict, the
    /// rest a bad request.
    pub fn http_status(&self) -> u16 {
        match self {
            CreateRefusal::Duplicate => 409,
            _ => 400,
        }
    }
}

/// Checks a work item offered for creation: it starts SCHEDULED (`state`, its Procedure
/// Step State) and without a Transaction UID (`transaction`).
pub fn check_new(state: Option<&str>, transaction: Option<&str>) -> Result<(), CreateRefusal> {
    match state {
        None => Err(CreateRefusal::Missing("Procedure Step State")),
        Some(s) if s != UpsState::Scheduled.code() => Err(CreateRefusal::NotScheduled),
        Some(_) if transaction.is_some() => Err(CreateRefusal::TransactionUid),
        Some(_) => Ok(()),
    }
}

/// The application a requested work item is for, when it may take the study: it is in the
/// register, its intended use covers the study's modality and body part, and its status in
/// force lets it receive studies (as [`owed`] decides for the work items radgate
/// schedules itself).
pub fn requested_for<'a>(
    register: &'a [AiApplication],
    changes: &[StatusChange],
    app: &str,
    modality: &str,
    body_part: &str,
) -> Result<&'a AiApplication, CreateRefusal> {
    let a = register
        .iter()
        .find(|a| a.id.as_str() == app)
        .ok_or_else(|| CreateRefusal::Invalid(format!("`{app}` is not in the AI register.")))?;
    if !a.covers(modality, body_part) {
        return Err(CreateRefusal::Invalid(format!(
            "The intended use of `{app}` does not cover {modality} {body_part}."
        )));
    }
    let status = a.in_force(changes).status;
    if !status.monitored() {
        return Err(CreateRefusal::Invalid(format!(
            "`{app}` is {} and receives no studies.",
            status.code()
        )));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use UpsState::*;

    #[test]
    fn a_claim_needs_a_transaction_uid_and_a_scheduled_work_item() {
        assert_eq!(
            change_state(Scheduled, None, InProgress, Some("2.25.1")),
            Ok(Granted::To(InProgress))
        );
        assert_eq!(
            change_state(Scheduled, None, InProgress, None),
            Err(UpsRefusal::TransactionUidMissing)
        );
        let e = change_state(InProgress, Some("2.25.1"), InProgress, Some("2.25.2")).unwrap_err();
        assert_eq!(e, UpsRefusal::AlreadyInProgress);
        assert_eq!(e.status(), 0xC302);
        assert_eq!(e.http_status(), 409);
    }

    #[test]
    fn only_the_owner_completes_or_cancels_and_final_states_stay() {
        assert_eq!(
            change_state(InProgress, Some("2.25.1"), Completed, Some("2.25.1")),
            Ok(Granted::To(Completed))
        );
        let wrong =
            change_state(InProgress, Some("2.25.1"), Completed, Some("2.25.9")).unwrap_err();
        assert_eq!(wrong, UpsRefusal::TransactionUidIncorrect);
        assert_eq!(wrong.status(), 0xC301);
        assert_eq!(wrong.http_status(), 400);
        assert_eq!(wrong.to_string(), "The Transaction UID is incorrect.");
        assert_eq!(
            change_state(Scheduled, None, Completed, Some("2.25.1")),
            Err(UpsRefusal::NotYetInProgress)
        );
        let again = change_state(Completed, Some("2.25.1"), Completed, Some("2.25.1")).unwrap();
        assert_eq!(
            again.warning().as_deref(),
            Some("The UPS is already in the requested state of COMPLETED.")
        );
        let claim_done =
            change_state(Completed, Some("2.25.1"), InProgress, Some("2.25.3")).unwrap_err();
        assert_eq!(claim_done, UpsRefusal::MayNoLongerBeUpdated);
        assert_eq!(claim_done.status(), 0xC300);
        assert_eq!(
            change_state(InProgress, Some("2.25.1"), Scheduled, Some("2.25.1")),
            Err(UpsRefusal::MayOnlyBecomeScheduledByCreate)
        );
    }

    #[test]
    fn updates_follow_ownership() {
        assert_eq!(may_update(Scheduled, None, None), Ok(()));
        assert_eq!(
            may_update(InProgress, Some("2.25.1"), None),
            Err(UpsRefusal::TransactionUidMissing)
        );
        assert_eq!(
            may_update(InProgress, Some("2.25.1"), Some("2.25.1")),
            Ok(())
        );
        assert_eq!(
            may_update(Completed, Some("2.25.1"), Some("2.25.1")),
            Err(UpsRefusal::MayNoLongerBeUpdated)
        );
    }

    #[test]
    fn a_cancel_request_cancels_an_unclaimed_item_and_asks_the_performer_of_a_claimed_one() {
        assert_eq!(request_cancel(Scheduled), Ok(CancelRequest::Canceled));
        assert_eq!(
            request_cancel(InProgress),
            Ok(CancelRequest::PerformerAsked)
        );
        assert_eq!(request_cancel(Canceled), Ok(CancelRequest::AlreadyCanceled));
        assert_eq!(
            request_cancel(Completed).map_err(UpsRefusal::status),
            Err(0xC311)
        );
    }

    #[test]
    fn an_unclaimed_item_is_retried_once_then_escalated() {
        let t0 = Utc::now();
        let due = deadline(t0, 20);
        assert_eq!(expiry(Scheduled, due, 0, t0), None);
        assert_eq!(
            expiry(Scheduled, due, 0, due),
            Some(Expiry::Retry),
            "due is due"
        );
        assert_eq!(expiry(Scheduled, due, 1, due), Some(Expiry::Escalate));
        assert_eq!(expiry(InProgress, due, 0, due), Some(Expiry::Escalate));
        assert_eq!(expiry(Completed, due, 0, due + Duration::days(1)), None);
        assert_eq!(deadline(t0, 0), t0 + Duration::minutes(1));
        assert_eq!(UpsState::parse("CANCELLED"), Some(Canceled));
    }

    #[test]
    fn a_new_work_item_is_scheduled_without_a_transaction_uid() {
        assert_eq!(check_new(Some("SCHEDULED"), None), Ok(()));
        let code = |r: Result<(), CreateRefusal>| r.map_err(|e| (e.status(), e.http_status()));
        assert_eq!(
            code(check_new(Some("IN PROGRESS"), None)),
            Err((0xC309, 400))
        );
        assert_eq!(code(check_new(None, None)), Err((0x0120, 400)));
        assert_eq!(
            code(check_new(Some("SCHEDULED"), Some("2.25.1"))),
            Err((0x0106, 400))
        );
        assert_eq!(CreateRefusal::Duplicate.http_status(), 409);
        assert_eq!(CreateRefusal::Duplicate.status(), 0x0111);
    }

    #[test]
    fn a_requested_work_item_is_for_a_registered_application_that_may_take_the_study() {
        let dept = crate::Department::parse(include_str!("../../../examples/department.toml"))
            .expect("the example department parses");
        let register = &dept.ai_applications;
        let refused = |app: &str, modality: &str, part: &str, changes: &[StatusChange]| {
            requested_for(register, changes, app, modality, part)
                .map(|a| a.id.as_str().to_owned())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            refused("pe-detect", "CT", "CHEST", &[]),
            Ok("pe-detect".into())
        );
        let e = refused("no-such-app", "CT", "CHEST", &[]).unwrap_err();
        assert!(e.contains("not in the AI register"), "{e}");
        let e = refused("pe-detect", "MR", "HEAD", &[]).unwrap_err();
        assert!(e.contains("does not cover MR HEAD"), "{e}");
        let suspended = StatusChange {
            app: crate::ids::AiAppId::parse("pe-detect").unwrap(),
            from: crate::ai::AiStatus::Production,
            to: crate::ai::AiStatus::Suspended,
            reason: "drift".into(),
            by: "bakker".into(),
            at: Utc::now(),
        };
        let e = refused("pe-detect", "CT", "CHEST", &[suspended]).unwrap_err();
        assert!(e.contains("suspended and receives no studies"), "{e}");
    }
}
