//! Derived authorizations: evidence, what is missing, conditions, expiry and suspension.

use chrono::NaiveDate;
use radgate_domain::Department;
use radgate_domain::agreement::SupervisionMode;
use radgate_domain::ids::{ProfessionalId, TaskTypeId};
use radgate_domain::portfolio::{
    Assessment, AssessmentError, AssessmentStatus, AssessorBackground, AuthorizationStatus,
    Certificate, Entrustment, Portfolio, Suspension, derive,
};
use radgate_domain::professional::Role;

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn id(s: &str) -> ProfessionalId {
    ProfessionalId::parse(s).unwrap()
}

fn kkb(n: u32, assessor: &str, date: NaiveDate, level: u8) -> Assessment {
    Assessment {
        id: format!("kkb-{n}"),
        assessee: id("mbb-jansen"),
        assessor: id(assessor),
        assessor_background: if assessor.starts_with("rad") {
            AssessorBackground::Medical
        } else {
            AssessorBackground::Technical
        },
        task: TaskTypeId::parse("cxr_gatekeeping").unwrap(),
        placement: "thorax".into(),
        date,
        scores: [Some(4), Some(4), None, Some(3), Some(4), Some(5)],
        entrustment: Entrustment::try_from(level).unwrap(),
        narrative: String::new(),
        status: AssessmentStatus::Confirmed,
    }
}

fn cert(kind: &str, until: NaiveDate) -> Certificate {
    Certificate {
        holder: id("mbb-jansen"),
        kind: kind.into(),
        valid_until: until,
    }
}

/// Five good gatekeeping KKBs in spring 2026, from a radiologist and an MBB'er.
fn portfolio() -> Portfolio {
    Portfolio {
        assessments: (1..=5)
            .map(|n| {
                kkb(
                    n,
                    if n % 2 == 0 {
                        "rad-devries"
                    } else {
                        "mbb-visser"
                    },
                    day(2026, 3, n),
                    4,
                )
            })
            .collect(),
        certificates: vec![
            cert("ai_literacy", day(2027, 6, 30)),
            cert("ai_endorsement", day(2027, 3, 31)),
        ],
        suspensions: vec![],
    }
}

fn gatekeeping(p: &Portfolio, today: NaiveDate) -> radgate_domain::portfolio::Authorization {
    let dept = Department::parse(DEPARTMENT).unwrap();
    derive(
        &id("mbb-jansen"),
        Role::MbbAi,
        &TaskTypeId::parse("cxr_gatekeeping").unwrap(),
        &dept,
        p,
        today,
    )
}

#[test]
fn enough_evidence_authorizes_with_the_agreements_supervision_and_a_lapse_date() {
    let a = gatekeeping(&portfolio(), day(2026, 6, 1));
    assert_eq!(a.status, AuthorizationStatus::Authorized, "{a:?}");
    assert_eq!(a.agreement.as_deref(), Some("ta-cxr-gatekeeping"));
    assert_eq!(
        a.supervision,
        Some(SupervisionMode::SampleReview { fraction: 0.05 })
    );
    assert_eq!(a.evidence.len(), 5);
    // The oldest of the five needed KKBs (2026-03-01) leaves the 12-month window first.
    assert_eq!(a.lapses_on, Some(day(2027, 3, 1)));
    assert!(
        a.conditions.iter().any(|c| c.contains("ai_literacy")),
        "AI literacy is a condition of AI-supported work"
    );
}

#[test]
fn gatekeeper_cannot_clear_without_ai_endorsement() {
    let mut p = portfolio();
    p.certificates.retain(|c| c.kind != "ai_endorsement");
    let a = gatekeeping(&p, day(2026, 6, 1));
    assert_eq!(a.status, AuthorizationStatus::NotYet);
    assert_eq!(a.missing, ["no `ai_endorsement` certificate"]);
}

#[test]
fn ai_literacy_is_required_for_ai_supported_tasks_even_when_the_agreement_omits_it() {
    let mut p = portfolio();
    p.certificates.retain(|c| c.kind != "ai_literacy");
    let a = gatekeeping(&p, day(2026, 6, 1));
    assert_eq!(a.missing, ["no `ai_literacy` certificate"]);
}

#[test]
fn requested_and_low_entrustment_assessments_do_not_count() {
    let mut p = portfolio();
    p.assessments[0].status = AssessmentStatus::Requested;
    p.assessments[1].entrustment = Entrustment::INDIRECT_SUPERVISION;
    p.assessments[1].narrative = "needed a hint on the costophrenic angles".into();
    let a = gatekeeping(&p, day(2026, 6, 1));
    assert_eq!(a.status, AuthorizationStatus::NotYet);
    assert_eq!(
        a.missing,
        ["3 of 5 confirmed assessments with entrustment >= 4 in the last 12 months"]
    );
}

#[test]
fn a_radiologist_assessor_and_distinct_assessors_are_required() {
    let mut p = portfolio();
    for x in &mut p.assessments {
        x.assessor = id("mbb-visser");
    }
    let a = gatekeeping(&p, day(2026, 6, 1));
    assert_eq!(
        a.missing,
        [
            "1 of 2 distinct assessors",
            "no assessment by a radiologist"
        ]
    );
}

#[test]
fn evidence_ages_out_and_certificates_expire() {
    let aged = gatekeeping(&portfolio(), day(2027, 3, 2));
    assert_eq!(aged.status, AuthorizationStatus::Expired, "{aged:?}");
    let mut p = portfolio();
    p.certificates[1].valid_until = day(2026, 5, 31);
    let expired = gatekeeping(&p, day(2026, 6, 1));
    assert_eq!(expired.status, AuthorizationStatus::Expired);
    assert_eq!(
        expired.missing,
        ["`ai_endorsement` certificate expired on 2026-05-31"]
    );
}

#[test]
fn a_suspension_holds_until_it_is_lifted() {
    let mut p = portfolio();
    p.suspensions.push(Suspension {
        professional: id("mbb-jansen"),
        task: TaskTypeId::parse("cxr_gatekeeping").unwrap(),
        since: day(2026, 5, 1),
        reason: "major discrepancy rate above 5%".into(),
        supervisor: id("rad-devries"),
        lifted_on: None,
    });
    let a = gatekeeping(&p, day(2026, 6, 1));
    assert_eq!(a.status, AuthorizationStatus::Suspended);
    assert!(
        a.missing[0].contains("only rad-devries can lift it"),
        "{:?}",
        a.missing
    );
    p.suspensions[0].lifted_on = Some(day(2026, 5, 20));
    assert_eq!(
        gatekeeping(&p, day(2026, 6, 1)).status,
        AuthorizationStatus::Authorized
    );
}

#[test]
fn roles_without_an_agreement_are_not_authorized_and_radiologists_are() {
    let dept = Department::parse(DEPARTMENT).unwrap();
    let task = TaskTypeId::parse("cxr_gatekeeping").unwrap();
    let a = derive(
        &id("mbb-visser"),
        Role::Mbb,
        &task,
        &dept,
        &portfolio(),
        day(2026, 6, 1),
    );
    assert_eq!(a.status, AuthorizationStatus::NotYet);
    assert!(a.missing[0].contains("no task agreement"));
    let r = derive(
        &id("rad-bakker"),
        Role::Radiologist,
        &task,
        &dept,
        &Portfolio::default(),
        day(2026, 6, 1),
    );
    assert_eq!(r.status, AuthorizationStatus::Authorized);
}

#[test]
fn assessments_need_narrative_when_low_and_valid_scores() {
    let mut x = kkb(1, "rad-devries", day(2026, 3, 1), 2);
    assert_eq!(x.validate(), Err(AssessmentError::NarrativeRequired));
    x.narrative = "Direct supervision needed for lateral views.".into();
    assert_eq!(x.validate(), Ok(()));
    x.scores[0] = Some(6);
    assert!(matches!(
        x.validate(),
        Err(AssessmentError::Score {
            domain: "expertise",
            score: 6
        })
    ));
    let mut own = kkb(2, "mbb-jansen", day(2026, 3, 1), 4);
    own.scores = [Some(4); 6];
    assert_eq!(own.validate(), Err(AssessmentError::SelfAssessment));
    assert!(Entrustment::try_from(6).is_err());
}

#[test]
fn aged_evidence_with_a_never_held_certificate_is_not_yet_rather_than_expired() {
    let mut p = portfolio();
    p.certificates.retain(|c| c.kind != "ai_endorsement");
    let a = gatekeeping(&p, day(2027, 3, 2));
    assert_eq!(a.status, AuthorizationStatus::NotYet, "{a:?}");
    assert_eq!(a.missing.len(), 2);
}

#[test]
fn the_assessor_records_confirmed_the_assessee_only_requests_and_only_the_assessor_confirms() {
    use radgate_domain::portfolio::ConfirmError;
    let mut x = kkb(1, "rad-devries", day(2026, 3, 1), 4);
    assert_eq!(
        x.entered_by(&id("rad-devries")),
        Some(AssessmentStatus::Confirmed)
    );
    assert_eq!(
        x.entered_by(&id("mbb-jansen")),
        Some(AssessmentStatus::Requested)
    );
    assert_eq!(x.entered_by(&id("ap-smit")), None);
    x.status = AssessmentStatus::Requested;
    assert_eq!(
        x.confirm(&id("mbb-jansen")),
        Err(ConfirmError::NotAssessor(id("rad-devries")))
    );
    x.confirm(&id("rad-devries")).unwrap();
    assert_eq!(x.status, AssessmentStatus::Confirmed);
    assert_eq!(
        x.confirm(&id("rad-devries")),
        Err(ConfirmError::AlreadyConfirmed)
    );
}

#[test]
fn an_agreement_may_set_its_own_discrepancy_limits_and_bad_ones_are_reported() {
    let dept = Department::parse(DEPARTMENT).unwrap();
    let default = dept
        .agreements
        .iter()
        .find(|a| a.id == "ta-cxr-gatekeeping")
        .unwrap();
    assert_eq!(
        default.discrepancy_limits,
        radgate_domain::quality::Limits::default()
    );
    let strict = DEPARTMENT.replacen(
        "id = \"ta-cxr-gatekeeping\"",
        "id = \"ta-cxr-gatekeeping\"\ndiscrepancy_limits = { major = 0.02, window = 100 }",
        1,
    );
    let dept = Department::parse(&strict).unwrap();
    let a = dept
        .agreements
        .iter()
        .find(|a| a.id == "ta-cxr-gatekeeping")
        .unwrap();
    assert_eq!(
        (
            a.discrepancy_limits.major,
            a.discrepancy_limits.minor,
            a.discrepancy_limits.window
        ),
        (0.02, 0.10, 100),
        "unset keys keep the RCR defaults"
    );
    let bad = DEPARTMENT.replacen(
        "id = \"ta-cxr-gatekeeping\"",
        "id = \"ta-cxr-gatekeeping\"\ndiscrepancy_limits = { major = 5, window = 0, typo = 1 }",
        1,
    );
    let problems: Vec<String> = Department::parse(&bad)
        .unwrap_err()
        .0
        .into_iter()
        .map(|d| d.message)
        .collect();
    let problems = problems.join("\n");
    for needle in [
        "major must be a rate between 0 and 1, got 5",
        "window must be at least 1 report",
        "typo",
    ] {
        assert!(problems.contains(needle), "{needle}: {problems}");
    }
}

#[test]
fn the_agreed_npv_interval_width_comes_from_the_agreement_or_the_default() {
    use radgate_domain::ids::TaskTypeId;
    use radgate_domain::safety::{DEFAULT_NPV_INTERVAL_WIDTH, agreed_width};
    let dept = Department::parse(DEPARTMENT).unwrap();
    let fracture = TaskTypeId::parse("fracture_gatekeeping").unwrap();
    assert_eq!(agreed_width(&dept, &fracture), DEFAULT_NPV_INTERVAL_WIDTH);
    let narrow = DEPARTMENT.replacen(
        "id = \"ta-fracture-gatekeeping\"",
        "id = \"ta-fracture-gatekeeping\"\nnpv_interval_width = 0.03",
        1,
    );
    let dept = Department::parse(&narrow).unwrap();
    assert_eq!(agreed_width(&dept, &fracture), 0.03);
    let bad = DEPARTMENT.replacen(
        "id = \"ta-fracture-gatekeeping\"",
        "id = \"ta-fracture-gatekeeping\"\nnpv_interval_width = 1.5",
        1,
    );
    let problems = Department::parse(&bad).unwrap_err().0;
    assert!(
        problems
            .iter()
            .any(|d| d.message == "npv_interval_width must lie between 0 and 1, got 1.5"),
        "{problems:?}"
    );
}
