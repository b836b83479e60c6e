//! Who may do which work. Every interface asks here; none decides for itself.
//!
//! Today the answer rests on the role and the department's task agreements. The
//! competence portfolio (issue 4) adds the individual evidence behind each authorization.

use chrono::NaiveDate;
use serde::Serialize;

use crate::department::Department;
use crate::ids::{AiAppId, ProfessionalId, TaskTypeId};
use crate::portfolio::{AuthorizationStatus, Portfolio, derive};
use crate::professional::{Professional, Role};
use crate::report::Mandate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    #[error("task `{task}` is not in the department's task catalog")]
    UnknownTask { task: String },
    #[error("task `{task}` is the radiologist's own; a {role} may not do it")]
    RadiologistOnly { task: String, role: Role },
    #[error("no task agreement valid on {day} lets a {role} do `{task}`")]
    NoAgreement {
        task: String,
        role: Role,
        day: NaiveDate,
    },
    #[error("not authorized for `{task}` ({status}): {}", missing.join("; "))]
    NotAuthorized {
        task: String,
        status: &'static str,
        missing: Vec<String>,
    },
}

/// May someone in `role` perform `task` on `day`?
pub fn may_perform(
    role: Role,
    task: &str,
    dept: &Department,
    day: NaiveDate,
) -> Result<(), Refusal> {
    let Some(t) = dept.task(task) else {
        return Err(Refusal::UnknownTask {
            task: task.to_string(),
        });
    };
    if role == Role::Radiologist {
        // The supervising specialist may always do the work they supervise.
        return Ok(());
    }
    if t.radiologist_only {
        return Err(Refusal::RadiologistOnly {
            task: task.to_string(),
            role,
        });
    }
    if dept
        .agreements_for(task)
        .any(|a| a.permits(role) && a.is_valid_on(day))
    {
        Ok(())
    } else {
        Err(Refusal::NoAgreement {
            task: task.to_string(),
            role,
            day,
        })
    }
}

/// The mandate under which someone in `role` does `task` on `day`: `None` for a
/// radiologist, who acts on their own authority; otherwise the first valid agreement that
/// permits the role. Recorded with every signature.
pub fn mandate(
    role: Role,
    task: &str,
    dept: &Department,
    day: NaiveDate,
) -> Result<Option<Mandate>, Refusal> {
    may_perform(role, task, dept, day)?;
    if role == Role::Radiologist {
        return Ok(None);
    }
    Ok(dept
        .agreements_for(task)
        .find(|a| a.permits(role) && a.is_valid_on(day))
        .map(|a| Mandate {
            agreement_id: a.id.clone(),
            kind: a.kind,
            supervision: a.supervision,
        }))
}

/// May this professional claim work of `task` on `day`? By role and a valid agreement, and,
/// where the agreement asks for evidence of competence, only while the authorization
/// derived from their portfolio says so ([`crate::portfolio::derive`]).
pub fn may_claim(
    professional: &ProfessionalId,
    role: Role,
    task: &str,
    dept: &Department,
    portfolio: &Portfolio,
    day: NaiveDate,
) -> Result<(), Refusal> {
    may_perform(role, task, dept, day)?;
    if role == Role::Radiologist {
        return Ok(());
    }
    let needs_evidence = dept
        .agreements_for(task)
        .any(|a| a.permits(role) && a.is_valid_on(day) && a.requirements.is_some());
    if !needs_evidence {
        return Ok(());
    }
    let task_id = TaskTypeId::parse(task).map_err(|_| Refusal::UnknownTask {
        task: task.to_string(),
    })?;
    let a = derive(professional, role, &task_id, dept, portfolio, day);
    match a.status {
        AuthorizationStatus::Authorized => Ok(()),
        status => Err(Refusal::NotAuthorized {
            task: task.to_string(),
            status: match status {
                AuthorizationStatus::NotYet => "not yet",
                AuthorizationStatus::Expired => "expired",
                AuthorizationStatus::Suspended => "suspended",
                AuthorizationStatus::Authorized => unreachable!("matched above"),
            },
            missing: a.missing,
        }),
    }
}

/// The tasks this professional may claim on `day`: their worklist shows these.
pub fn claimable_tasks(
    professional: &ProfessionalId,
    role: Role,
    dept: &Department,
    portfolio: &Portfolio,
    day: NaiveDate,
) -> Vec<TaskTypeId> {
    dept.tasks
        .iter()
        .filter(|t| may_claim(professional, role, t.id.as_str(), dept, portfolio, day).is_ok())
        .map(|t| t.id.clone())
        .collect()
}

/// The supervisors of `subject` on `day`: a trainee's named supervisors, and the
/// responsible specialists of every valid agreement that delegates work to their role.
pub fn supervisors_of(
    subject: &Professional,
    dept: &Department,
    day: NaiveDate,
) -> Vec<ProfessionalId> {
    let mut out: Vec<ProfessionalId> = dept
        .trainee(&subject.id)
        .map(|t| t.supervisors.clone())
        .unwrap_or_default();
    for a in &dept.agreements {
        if a.is_valid_on(day) && a.permits(subject.role) {
            out.extend(a.responsible_specialists.iter().cloned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `viewer` may see `subject`'s portfolio (assessments, authorizations, progress):
/// their own, as one of their supervisors, or as staff of the programme they are a trainee
/// in. Never a peer's: being a radiologist, or having assessed them once, is not enough.
pub fn may_view_portfolio(
    viewer: &ProfessionalId,
    subject: &Professional,
    dept: &Department,
    day: NaiveDate,
) -> bool {
    viewer == &subject.id
        || supervisors_of(subject, dept, day).contains(viewer)
        || dept
            .trainee(&subject.id)
            .and_then(|t| dept.programme(&t.programme))
            .is_some_and(|p| p.staff.contains(viewer))
}

/// Whether `viewer` may see the programme's cohort and draw its review sample.
pub fn may_monitor_programme(
    viewer: &ProfessionalId,
    programme: &crate::programme::Programme,
) -> bool {
    programme.staff.contains(viewer)
}

/// Whether `who` ranks placements in `programme`'s rounds: its own trainees, for
/// themselves.
pub fn may_rank_placements(
    who: &ProfessionalId,
    programme: &crate::programme::Programme,
    dept: &Department,
) -> bool {
    dept.trainees
        .iter()
        .any(|t| &t.person == who && t.programme == programme.id)
}

/// Whether `who` records a thesis's milestones: a member of its supervision team, or the
/// staff of the trainee's programme.
pub fn may_record_thesis(
    who: &ProfessionalId,
    thesis: &crate::thesis::ThesisPlan,
    dept: &Department,
) -> bool {
    thesis.team.iter().any(|s| &s.person == who)
        || dept
            .trainee(&thesis.trainee)
            .and_then(|t| dept.programme(&t.programme))
            .is_some_and(|p| may_monitor_programme(who, p))
}

/// Whether someone in `role` may see how the AI applications and the cleared exams
/// perform (metrics, alarms, turnaround, safety of "cleared", pilots): radiologists, who
/// answer for the reads that AI and delegates take over.
pub fn may_oversee_ai(role: Role) -> bool {
    role == Role::Radiologist
}

/// Whether someone in `role` may read the audit trail and the reconciliation list, which
/// name studies across the department: radiologists, who answer for the department's
/// reads (the RAIO is one).
pub fn may_read_audit(role: Role) -> bool {
    role == Role::Radiologist
}

/// Whether someone in `role` may answer the adjudication list: decide whether a finding
/// is present where the report text is uncertain or disagrees with the AI. Radiologists,
/// whose answer then is the truth AI monitoring counts.
pub fn may_adjudicate(role: Role) -> bool {
    role == Role::Radiologist
}

/// Whether `who` keeps the AI register: changes an application's status, clears its
/// monitoring alarms, declares pilots and decides on them. The department's RAIO only.
pub fn keeps_ai_register(who: &ProfessionalId, dept: &Department) -> bool {
    dept.raio.as_ref() == Some(who)
}

/// The tasks of the catalog that someone in `role` may perform on `day`.
pub fn tasks_for(role: Role, dept: &Department, day: NaiveDate) -> Vec<crate::ids::TaskTypeId> {
    dept.tasks
        .iter()
        .filter(|t| may_perform(role, t.id.as_str(), dept, day).is_ok())
        .map(|t| t.id.clone())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessorRefusal {
    #[error("`{0}` is not a professional of the department")]
    Unknown(String),
    #[error("nobody assesses themselves")]
    Themselves,
    #[error(
        "{assessor} is not an assessor of {assessee} for `{task}`: radiologists, their supervisors and, where the programme says so, its staff assess"
    )]
    NotAssessor {
        assessor: ProfessionalId,
        assessee: ProfessionalId,
        task: String,
    },
}

/// Whether `assessor` may record or confirm an assessment of `assessee` for `task` on
/// `day`: a radiologist (who answer for the delegated work), one of the assessee's
/// supervisors (a trainee's named supervisors, the responsible specialists of the
/// agreements that delegate to their role), or the staff of the assessee's programme when
/// the programme says its staff assess. Never a peer, and never oneself.
pub fn may_assess(
    assessor: &ProfessionalId,
    assessee: &ProfessionalId,
    task: &str,
    dept: &Department,
    day: NaiveDate,
) -> Result<(), AssessorRefusal> {
    let who = dept
        .professional(assessor.as_str())
        .ok_or_else(|| AssessorRefusal::Unknown(assessor.to_string()))?;
    let subject = dept
        .professional(assessee.as_str())
        .ok_or_else(|| AssessorRefusal::Unknown(assessee.to_string()))?;
    if who.id == subject.id {
        return Err(AssessorRefusal::Themselves);
    }
    let programme_staff = dept
        .trainee(&subject.id)
        .and_then(|t| dept.programme(&t.programme))
        .is_some_and(|p| p.staff_assess && p.staff.contains(&who.id));
    if who.role == Role::Radiologist
        || supervisors_of(subject, dept, day).contains(&who.id)
        || programme_staff
    {
        Ok(())
    } else {
        Err(AssessorRefusal::NotAssessor {
            assessor: who.id.clone(),
            assessee: subject.id.clone(),
            task: task.to_string(),
        })
    }
}

/// What a system's API key may do. People never feed routing; systems read nothing
/// clinical unless a key says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Orders and studies (the RIS, the PACS, the modalities' gateway).
    Ingest,
    /// The results of one AI application of the register (its vendor's platform).
    Ai(AiAppId),
    /// Read clinical records: decisions, reports and the FHIR facade's clinical resources.
    Read,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error(
        "unknown scope `{0}`; scopes are `ingest`, `read` and `ai:APP` (an application of the AI register)"
    )]
    Unknown(String),
    #[error("scope `{0}` names no application of the AI register")]
    UnknownApp(String),
}

impl Scope {
    /// Reads a scope as given when a key is made; `ai:APP` must name a registered
    /// application.
    pub fn parse(s: &str, dept: &Department) -> Result<Scope, ScopeError> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            _ => match s.strip_prefix("ai:") {
                Some(app) => match dept.ai_application(app) {
                    Some(a) => Ok(Scope::Ai(a.id.clone())),
                    None => Err(ScopeError::UnknownApp(s.to_string())),
                },
                None => Err(ScopeError::Unknown(s.to_string())),
            },
        }
    }

    pub fn code(&self) -> String {
        match self {
            Scope::Ingest => "ingest".into(),
            Scope::Read => "read".into(),
            Scope::Ai(app) => format!("ai:{app}"),
        }
    }
}

/// What feeds routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed<'a> {
    Order,
    Study,
    /// A final report written in the RIS.
    Report,
    AiResult(&'a AiAppId),
}

/// Who is asking, for the rules on feeding routing and reading records.
#[derive(Debug, Clone, Copy)]
pub enum Requester<'a> {
    Person(Role),
    System(&'a [Scope]),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedRefusal {
    #[error(
        "orders, studies, AI results and the RIS's reports come from systems with an API key; a person's session does not feed them"
    )]
    Person,
    #[error("this API key lacks the `{0}` scope")]
    MissingScope(String),
}

/// Whether `who` may feed routing with `what`: systems only, an order or study with
/// `ingest`, an AI result only with the scope of its own application, so one vendor's key
/// cannot speak for another's application.
pub fn may_feed(who: Requester<'_>, what: Feed<'_>) -> Result<(), FeedRefusal> {
    let Requester::System(scopes) = who else {
        return Err(FeedRefusal::Person);
    };
    let needed = match what {
        Feed::Order | Feed::Study | Feed::Report => Scope::Ingest,
        Feed::AiResult(app) => Scope::Ai(app.clone()),
    };
    if scopes.contains(&needed) {
        Ok(())
    } else {
        Err(FeedRefusal::MissingScope(needed.code()))
    }
}

/// What `who` may do with AI work items (AIW-I UPS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AiWork {
    /// A system: see and perform the work items of the applications its key speaks for.
    Perform(Vec<AiAppId>),
    /// A person who oversees AI: see every work item, act on none.
    Oversee,
    None,
}

/// The AI work items `who` may see and act on: an AI node's key performs those of the
/// applications it has the `ai:APP` scope of, so one vendor's node never sees another's
/// work; radiologists who oversee AI look at all of them.
pub fn ai_work(who: Requester<'_>) -> AiWork {
    match who {
        Requester::System(scopes) => {
            let apps: Vec<AiAppId> = scopes
                .iter()
                .filter_map(|s| match s {
                    Scope::Ai(app) => Some(app.clone()),
                    _ => None,
                })
                .collect();
            if apps.is_empty() {
                AiWork::None
            } else {
                AiWork::Perform(apps)
            }
        }
        Requester::Person(role) if may_oversee_ai(role) => AiWork::Oversee,
        Requester::Person(_) => AiWork::None,
    }
}

/// Whether `who` may ask for AI work on a study (a UPS work item, IHE RAD-80): the
/// systems that send radgate orders and studies (the RIS, the PACS: `ingest`), and
/// radiologists, who oversee AI. An AI node performs work; it does not order it.
pub fn may_request_ai_work(who: Requester<'_>) -> bool {
    match who {
        Requester::System(scopes) => scopes.contains(&Scope::Ingest),
        Requester::Person(role) => may_oversee_ai(role),
    }
}

/// Whether `who` may fetch a study's images and store instances into it over DICOMweb:
/// a system with `read`, or an AI node whose key speaks for an application the study is
/// owed to (`owed`, by `ups::owed`): its input (IHE RAD-16) and its results; a
/// radiologist, who may search clinical records, too.
pub fn may_exchange_images(who: Requester<'_>, owed: &[&AiAppId]) -> bool {
    match who {
        Requester::System(scopes) => scopes.iter().any(|s| match s {
            Scope::Read => true,
            Scope::Ai(app) => owed.contains(&app),
            Scope::Ingest => false,
        }),
        Requester::Person(_) => may_search_clinical(who),
    }
}

/// A person's tie to a study, for reading its clinical records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudyTie {
    /// They hold or held a work item of the study.
    pub worked_on: bool,
    /// The study has an open item of a task they may claim (they decide whether to take it).
    pub may_claim_open_item: bool,
}

/// Whether `who` may read a study's clinical records (its routing decision, report, and
/// FHIR resources): radiologists, who answer for every read; other clinicians for the
/// studies they work on or may take; systems with the `read` scope. Programme staff see
/// portfolios, not patients.
pub fn may_read_study(who: Requester<'_>, tie: StudyTie) -> bool {
    match who {
        Requester::System(scopes) => scopes.contains(&Scope::Read),
        Requester::Person(Role::Radiologist) => true,
        Requester::Person(Role::ProgrammeStaff | Role::Student) => false,
        Requester::Person(_) => tie.worked_on || tie.may_claim_open_item,
    }
}

/// Whether `who` may search clinical records across studies (the FHIR facade's searches
/// by patient or identifier): radiologists and systems with the `read` scope. Others
/// reach the studies of their work through their worklist.
pub fn may_search_clinical(who: Requester<'_>) -> bool {
    match who {
        Requester::System(scopes) => scopes.contains(&Scope::Read),
        Requester::Person(role) => role == Role::Radiologist,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn gatekeeper_cannot_clear_without_ai_endorsement() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let today = day(2026, 6, 1);
        assert_eq!(
            may_perform(Role::MbbAi, "cxr_gatekeeping", &dept, today),
            Ok(())
        );
        assert!(matches!(
            may_perform(Role::Mbb, "cxr_gatekeeping", &dept, today),
            Err(Refusal::NoAgreement { .. })
        ));
    }

    #[test]
    fn an_expired_agreement_authorizes_nothing() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        // ta-cxr-gatekeeping runs until 2027-12-31.
        assert!(may_perform(Role::MbbAi, "cxr_gatekeeping", &dept, day(2027, 12, 31)).is_ok());
        let refusal =
            may_perform(Role::MbbAi, "cxr_gatekeeping", &dept, day(2028, 1, 1)).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "no task agreement valid on 2028-01-01 lets a mbb_ai do `cxr_gatekeeping`"
        );
    }

    #[test]
    fn a_delegate_signs_under_the_agreement_and_a_radiologist_under_none() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let today = day(2026, 6, 1);
        let m = mandate(Role::Ap, "msk_ultrasound_report", &dept, today)
            .unwrap()
            .unwrap();
        assert_eq!(m.agreement_id, "ta-msk-ultrasound");
        assert_eq!(
            mandate(Role::Radiologist, "final_report", &dept, today),
            Ok(None)
        );
        assert!(mandate(Role::Mbb, "msk_ultrasound_report", &dept, today).is_err());
    }

    #[test]
    fn only_radiologists_do_radiologist_tasks_and_they_may_do_all() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let today = day(2026, 6, 1);
        assert!(matches!(
            may_perform(Role::Ap, "final_report", &dept, today),
            Err(Refusal::RadiologistOnly { .. })
        ));
        assert_eq!(
            tasks_for(Role::Radiologist, &dept, today).len(),
            dept.tasks.len()
        );
        let ap: Vec<String> = tasks_for(Role::Ap, &dept, today)
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(ap, ["oncology_preliminary_report", "msk_ultrasound_report"]);
    }

    #[test]
    fn only_systems_feed_routing_and_an_ai_key_speaks_for_its_own_application_only() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let pe = AiAppId::parse("pe-detect").unwrap();
        let cxr = AiAppId::parse("cxr-normal").unwrap();
        for role in Role::ALL {
            for what in [Feed::Order, Feed::Study, Feed::AiResult(&pe)] {
                assert_eq!(
                    may_feed(Requester::Person(role), what),
                    Err(FeedRefusal::Person)
                );
            }
        }
        let vendor = [Scope::parse("ai:pe-detect", &dept).unwrap()];
        assert_eq!(
            may_feed(Requester::System(&vendor), Feed::AiResult(&pe)),
            Ok(())
        );
        assert_eq!(
            may_feed(Requester::System(&vendor), Feed::AiResult(&cxr)),
            Err(FeedRefusal::MissingScope("ai:cxr-normal".into()))
        );
        assert!(may_feed(Requester::System(&vendor), Feed::Study).is_err());
        let ris = [Scope::Ingest];
        assert_eq!(may_feed(Requester::System(&ris), Feed::Order), Ok(()));
        assert!(may_feed(Requester::System(&ris), Feed::AiResult(&pe)).is_err());
        assert_eq!(
            Scope::parse("ai:no-such-ai", &dept),
            Err(ScopeError::UnknownApp("ai:no-such-ai".into()))
        );
        assert_eq!(
            Scope::parse("admin", &dept),
            Err(ScopeError::Unknown("admin".into()))
        );
    }

    #[test]
    fn an_ai_node_performs_its_own_applications_work_and_radiologists_look_on() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let pe = AiAppId::parse("pe-detect").unwrap();
        let vendor = [Scope::parse("ai:pe-detect", &dept).unwrap(), Scope::Read];
        assert_eq!(
            ai_work(Requester::System(&vendor)),
            AiWork::Perform(vec![pe])
        );
        assert_eq!(ai_work(Requester::System(&[Scope::Ingest])), AiWork::None);
        assert_eq!(
            ai_work(Requester::Person(Role::Radiologist)),
            AiWork::Oversee
        );
        assert_eq!(ai_work(Requester::Person(Role::Mbb)), AiWork::None);
        // Work is ordered by the RIS or PACS and by radiologists, not by the node.
        assert!(may_request_ai_work(Requester::System(&[Scope::Ingest])));
        assert!(!may_request_ai_work(Requester::System(&vendor)));
        assert!(may_request_ai_work(Requester::Person(Role::Radiologist)));
        assert!(!may_request_ai_work(Requester::Person(Role::Mbb)));
    }

    #[test]
    fn an_ai_node_exchanges_the_images_of_the_studies_owed_to_its_application() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let (pe, ich) = (
            AiAppId::parse("pe-detect").unwrap(),
            AiAppId::parse("ich-detect").unwrap(),
        );
        let node = [Scope::parse("ai:pe-detect", &dept).unwrap()];
        assert!(may_exchange_images(Requester::System(&node), &[&pe]));
        assert!(!may_exchange_images(Requester::System(&node), &[&ich]));
        assert!(!may_exchange_images(
            Requester::System(&[Scope::Ingest]),
            &[&pe]
        ));
        assert!(may_exchange_images(Requester::System(&[Scope::Read]), &[]));
        assert!(may_exchange_images(
            Requester::Person(Role::Radiologist),
            &[]
        ));
        assert!(!may_exchange_images(Requester::Person(Role::Mbb), &[&pe]));
    }

    #[test]
    fn reading_a_study_follows_the_work() {
        let none = StudyTie {
            worked_on: false,
            may_claim_open_item: false,
        };
        let worked = StudyTie {
            worked_on: true,
            may_claim_open_item: false,
        };
        let open = StudyTie {
            worked_on: false,
            may_claim_open_item: true,
        };
        assert!(may_read_study(Requester::Person(Role::Radiologist), none));
        for role in [
            Role::Pa,
            Role::Ap,
            Role::MbbAi,
            Role::Mbb,
            Role::Tg,
            Role::Resident,
        ] {
            assert!(!may_read_study(Requester::Person(role), none), "{role}");
            assert!(may_read_study(Requester::Person(role), worked), "{role}");
            assert!(may_read_study(Requester::Person(role), open), "{role}");
        }
        assert!(!may_read_study(
            Requester::Person(Role::ProgrammeStaff),
            worked
        ));
        assert!(!may_read_study(Requester::System(&[Scope::Ingest]), worked));
        assert!(may_read_study(Requester::System(&[Scope::Read]), none));
        assert!(may_search_clinical(Requester::Person(Role::Radiologist)));
        assert!(!may_search_clinical(Requester::Person(Role::Pa)));
        assert!(!may_search_clinical(Requester::System(&[Scope::Ingest])));
    }
}
