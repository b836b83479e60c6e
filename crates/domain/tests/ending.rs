//! How each piece of work may end, for every role and task of the example department.

use chrono::{DateTime, NaiveDate, Utc};
use radgate_domain::authz;
use radgate_domain::ending::{Ending, EndingRefusal, Work, may_end, work_of};
use radgate_domain::ids::{AccessionNumber, TaskTypeId};
use radgate_domain::professional::Role;
use radgate_domain::report::ReportState;
use radgate_domain::workitem::{WorkItem, WorkItemState};
use radgate_domain::{Department, Pathway, Priority};

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

fn item(task: &str, pathway: Pathway) -> WorkItem {
    let t: DateTime<Utc> = "2026-06-01T09:00:00Z".parse().unwrap();
    WorkItem {
        id: 1,
        accession: AccessionNumber::parse("ACC1").unwrap(),
        task: TaskTypeId::parse(task).unwrap(),
        pathway,
        priority: Priority::Routine,
        due: t,
        created_at: t,
        state: WorkItemState::Claimed,
        assignee: None,
    }
}

/// One letter for what a role may do with an item of a task:
/// `-` may not perform it; `G` gatekeeping (clear or escalate only); `R` a review (its
/// finding only); `P` delegated work (report and submit as preliminary, never sign final or
/// complete); `F` the radiologist's own read (sign final, complete once signed, close with a
/// reason); `f` final sign-off under a reallocation (as `F`, but no close without a report).
fn cell(role: Role, task: &str, pathway: Pathway, dept: &Department, day: NaiveDate) -> char {
    let Ok(mandate) = authz::mandate(role, task, dept, day) else {
        return '-';
    };
    let work = work_of(&item(task, pathway), role, mandate.as_ref());
    let ok = |e: Ending, report: Option<ReportState>, reason: Option<&str>| {
        may_end(work, e, report, reason).is_ok()
    };
    let signed = Some(ReportState::Authorized);
    let allowed: Vec<Ending> = [
        Ending::Clear,
        Ending::Escalate,
        Ending::Review,
        Ending::Report,
        Ending::SubmitPreliminary,
        Ending::SignFinal,
        Ending::Complete,
        Ending::CloseWithoutReport,
    ]
    .into_iter()
    .filter(|e| ok(*e, signed, Some("duplicate exam")))
    .collect();
    use Ending as E;
    let code = match allowed.as_slice() {
        [E::Clear, E::Escalate] => 'G',
        [E::Review] => 'R',
        [E::Report, E::SubmitPreliminary] => 'P',
        [
            E::Report,
            E::SubmitPreliminary,
            E::SignFinal,
            E::Complete,
            E::CloseWithoutReport,
        ] => 'F',
        [E::Report, E::SubmitPreliminary, E::SignFinal, E::Complete] => 'f',
        other => panic!("{role} on {task}: an unexpected set of endings {other:?}"),
    };
    // Whoever may complete a read may do so only once its report is authorized.
    if matches!(code, 'F' | 'f') {
        for unsigned in [
            None,
            Some(ReportState::Draft),
            Some(ReportState::Preliminary),
        ] {
            assert_eq!(
                may_end(work, Ending::Complete, unsigned, None),
                Err(EndingRefusal::NoAuthorizedReport),
                "{role} on {task} with {unsigned:?}"
            );
        }
    }
    code
}

#[test]
fn every_role_ends_every_task_of_the_example_department_only_as_its_kind_allows() {
    let dept = Department::parse(DEPARTMENT).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    // The tasks in catalog order, each on the pathway the example policy routes it by
    // (a review item carries the pathway of the exam it reviews).
    let tasks = [
        ("final_report", Pathway::RadiologistRead),
        ("retrospective_review", Pathway::Gatekeeper),
        ("cxr_gatekeeping", Pathway::Gatekeeper),
        ("fracture_gatekeeping", Pathway::Gatekeeper),
        ("liver_segmentation", Pathway::DelegatedPreliminary),
        ("mr_perfusion", Pathway::DelegatedPreliminary),
        ("aorta_measurement", Pathway::DelegatedPreliminary),
        ("oncology_preliminary_report", Pathway::DelegatedPreliminary),
        ("msk_ultrasound_report", Pathway::DelegatedPreliminary),
        ("image_guided_puncture", Pathway::SingleRead),
    ];
    assert_eq!(
        tasks.map(|(t, _)| t).to_vec(),
        dept.tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        "the table covers the whole catalog"
    );
    let expected = [
        (Role::Radiologist, "FRGGFFFFFF"),
        (Role::Mbb, "----PPP---"),
        (Role::MbbAi, "--GGPPP---"),
        (Role::Ap, "-------PP-"),
        (Role::Pa, "---------f"),
        (Role::Tg, "----------"),
        (Role::Resident, "----------"),
        (Role::Student, "----------"),
        (Role::EdPhysician, "----------"),
        (Role::ProgrammeStaff, "----------"),
    ];
    assert_eq!(
        expected.len(),
        Role::ALL.len(),
        "every role is in the table"
    );
    for (role, row) in expected {
        let got: String = tasks
            .iter()
            .map(|(t, p)| cell(role, t, *p, &dept, day))
            .collect();
        assert_eq!(got, row, "{role}");
    }
}

#[test]
fn a_gatekeeper_never_drafts_or_signs_a_report_on_a_gatekeeping_item() {
    let dept = Department::parse(DEPARTMENT).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let m = authz::mandate(Role::MbbAi, "cxr_gatekeeping", &dept, day).unwrap();
    let work = work_of(
        &item("cxr_gatekeeping", Pathway::Gatekeeper),
        Role::MbbAi,
        m.as_ref(),
    );
    assert_eq!(work, Work::Gatekeeping);
    for e in [
        Ending::Report,
        Ending::SignFinal,
        Ending::Complete,
        Ending::SubmitPreliminary,
    ] {
        assert_eq!(
            may_end(work, e, Some(ReportState::Authorized), None),
            Err(EndingRefusal::Gatekeeping),
            "{e:?}"
        );
    }
    // The radiologist's read that an escalation opens on the gatekeeper pathway is a read.
    let read = work_of(
        &item("final_report", Pathway::Gatekeeper),
        Role::Radiologist,
        None,
    );
    assert_eq!(read, Work::Final { radiologist: true });
}

#[test]
fn closing_a_read_without_a_report_needs_a_radiologist_and_a_reason() {
    let own = Work::Final { radiologist: true };
    assert_eq!(
        may_end(own, Ending::CloseWithoutReport, None, Some("  ")),
        Err(EndingRefusal::EmptyReason)
    );
    assert_eq!(
        may_end(own, Ending::CloseWithoutReport, None, None),
        Err(EndingRefusal::EmptyReason)
    );
    assert!(
        may_end(
            own,
            Ending::CloseWithoutReport,
            None,
            Some("duplicate exam")
        )
        .is_ok()
    );
    assert_eq!(
        may_end(
            Work::Final { radiologist: false },
            Ending::CloseWithoutReport,
            None,
            Some("duplicate exam")
        ),
        Err(EndingRefusal::CloseIsRadiologists)
    );
    assert_eq!(
        may_end(
            Work::Preliminary,
            Ending::CloseWithoutReport,
            None,
            Some("x")
        ),
        Err(EndingRefusal::Delegated)
    );
}
