//! The report lifecycle, transition by transition.

use chrono::{DateTime, Utc};
use radgate_domain::agreement::{AgreementKind, SupervisionMode};
use radgate_domain::ids::{AccessionNumber, FindingCode, ProfessionalId};
use radgate_domain::professional::Role;
use radgate_domain::report::{
    Act, Mandate, Report, ReportContent, ReportError, ReportState, Signer,
};

fn at() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn signer(id: &str, role: Role, supervision: Option<SupervisionMode>) -> Signer {
    Signer {
        id: ProfessionalId::parse(id).unwrap(),
        role,
        mandate: supervision.map(|supervision| Mandate {
            agreement_id: format!("ta-{id}"),
            kind: AgreementKind::Delegation,
            supervision,
        }),
    }
}

fn ap() -> Signer {
    signer("ap-smit", Role::Ap, Some(SupervisionMode::AuthorizeEach))
}
fn rad() -> Signer {
    signer("rad-devries", Role::Radiologist, None)
}
fn content(text: &str, findings: &[&str]) -> ReportContent {
    ReportContent {
        text: text.into(),
        findings: findings
            .iter()
            .map(|f| FindingCode::parse(*f).unwrap())
            .collect(),
    }
}
fn draft(author: Signer) -> Report {
    Report::draft(
        AccessionNumber::parse("ACC9").unwrap(),
        author,
        content("Stable disease.", &["liver_lesion"]),
        at(),
    )
}

#[test]
fn delegated_preliminary_is_authorized_by_another_radiologist_and_records_both() {
    let mut r = draft(ap());
    r.submit_preliminary(&ap(), at()).unwrap();
    assert_eq!(r.state, ReportState::Preliminary);
    r.authorize(&rad(), at()).unwrap();
    assert_eq!(r.state, ReportState::Authorized);
    assert_eq!(r.authorized_by.as_ref().unwrap().id.as_str(), "rad-devries");
    let acts: Vec<_> = r.history.iter().map(|v| v.act).collect();
    assert_eq!(
        acts,
        [Act::Drafted, Act::SubmittedPreliminary, Act::Authorized]
    );
    assert_eq!(
        r.history[1].by.mandate.as_ref().unwrap().agreement_id,
        "ta-ap-smit"
    );
}

#[test]
fn author_of_a_preliminary_report_cannot_authorize_it() {
    let mut r = draft(rad());
    r.submit_preliminary(&rad(), at()).unwrap();
    assert_eq!(
        r.authorize(&rad(), at()),
        Err(ReportError::AuthorizerIsAuthor)
    );
}

#[test]
fn only_a_radiologist_authorizes_a_preliminary_report() {
    let mut r = draft(ap());
    r.submit_preliminary(&ap(), at()).unwrap();
    let pa = signer("pa-mulder", Role::Pa, None);
    assert_eq!(
        r.authorize(&pa, at()),
        Err(ReportError::RadiologistOnly(
            "authorize a preliminary report"
        ))
    );
    assert_eq!(r.state, ReportState::Preliminary);
}

#[test]
fn supervised_delegate_cannot_sign_their_own_draft() {
    let mut r = draft(ap());
    assert_eq!(
        r.authorize(&ap(), at()),
        Err(ReportError::MayNotSignFinal(Role::Ap))
    );
}

#[test]
fn a_delegate_under_sampled_review_still_cannot_sign_final() {
    // Task delegation keeps the radiologist responsible, whatever the supervision mode.
    let ap_msk = signer(
        "ap-msk",
        Role::Ap,
        Some(SupervisionMode::SampleReview { fraction: 0.1 }),
    );
    let mut r = draft(ap_msk.clone());
    assert_eq!(
        r.authorize(&ap_msk, at()),
        Err(ReportError::MayNotSignFinal(Role::Ap))
    );
    assert_eq!(r.state, ReportState::Draft);
}

#[test]
fn a_big_registered_performer_under_reallocation_signs_own_draft() {
    let pa = Signer {
        id: ProfessionalId::parse("pa-mulder").unwrap(),
        role: Role::Pa,
        mandate: Some(Mandate {
            agreement_id: "ta-puncture-pa".into(),
            kind: AgreementKind::Reallocation,
            supervision: SupervisionMode::None,
        }),
    };
    let mut r = draft(pa.clone());
    r.authorize(&pa, at()).unwrap();
    assert_eq!(r.state, ReportState::Authorized);
}

#[test]
fn authorized_report_is_immutable_and_takes_addenda_only() {
    let mut r = draft(rad());
    r.authorize(&rad(), at()).unwrap();
    let err = r.edit(&rad(), content("changed", &[]), at()).unwrap_err();
    assert_eq!(
        err,
        ReportError::WrongState {
            action: "edit",
            state: ReportState::Authorized
        }
    );
    assert_eq!(r.content.text, "Stable disease.");
    r.addendum(
        &rad(),
        "Also a rib fracture.",
        vec![FindingCode::parse("rib_fracture").unwrap()],
        at(),
    )
    .unwrap();
    let truth: Vec<_> = r
        .final_findings()
        .unwrap()
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(truth, ["liver_lesion", "rib_fracture"]);
}

#[test]
fn addendum_is_refused_before_authorization() {
    let mut r = draft(rad());
    assert!(matches!(
        r.addendum(&rad(), "x", vec![], at()),
        Err(ReportError::WrongState { .. })
    ));
    assert_eq!(r.final_findings(), None);
}

#[test]
fn return_for_correction_needs_a_reason_and_the_author_must_resubmit() {
    let mut r = draft(signer(
        "ap-msk",
        Role::Ap,
        Some(SupervisionMode::SampleReview { fraction: 0.1 }),
    ));
    let author = r.author.clone();
    r.submit_preliminary(&author, at()).unwrap();
    assert_eq!(
        r.return_for_correction(&rad(), "  ", at()),
        Err(ReportError::EmptyReason)
    );
    r.return_for_correction(&rad(), "Measure the lesion in axial plane", at())
        .unwrap();
    assert_eq!(r.state, ReportState::Draft);
    assert_eq!(
        r.history.last().unwrap().note.as_deref(),
        Some("Measure the lesion in axial plane")
    );
    assert_eq!(r.authorize(&author, at()), Err(ReportError::MustResubmit));
    r.edit(&author, content("Corrected.", &[]), at()).unwrap();
    r.submit_preliminary(&author, at()).unwrap();
    r.authorize(&rad(), at()).unwrap();
}

#[test]
fn only_the_author_edits_a_draft_and_empty_reports_are_not_submitted() {
    let mut r = draft(ap());
    assert!(matches!(
        r.edit(&rad(), content("x", &[]), at()),
        Err(ReportError::NotAuthor { .. })
    ));
    r.edit(&ap(), content(" ", &[]), at()).unwrap();
    assert_eq!(
        r.submit_preliminary(&ap(), at()),
        Err(ReportError::EmptyText)
    );
}

#[test]
fn a_returned_report_goes_back_as_its_authors_agreement_task() {
    let dept = radgate_domain::Department::parse(include_str!("../../../examples/department.toml"))
        .unwrap();
    let mut ap_signer = ap();
    ap_signer.mandate.as_mut().unwrap().agreement_id = "ta-oncology-preliminary".into();
    assert_eq!(
        draft(ap_signer).author_task(&dept).as_str(),
        "oncology_preliminary_report"
    );
    assert_eq!(draft(rad()).author_task(&dept).as_str(), "final_report");
}

#[test]
fn a_report_is_judged_by_the_discrepancy_limits_of_the_agreement_that_mandated_it() {
    let mut dept =
        radgate_domain::Department::parse(include_str!("../../../examples/department.toml"))
            .unwrap();
    let limits = radgate_domain::quality::Limits {
        major: 0.02,
        minor: 0.08,
        window: 80,
    };
    let agreement = dept
        .agreements
        .iter_mut()
        .find(|a| a.id == "ta-oncology-preliminary")
        .unwrap();
    agreement.discrepancy_limits = limits;
    let mut author = ap();
    author.mandate.as_mut().unwrap().agreement_id = "ta-oncology-preliminary".into();
    let accession = AccessionNumber::parse("ACC1").unwrap();
    let delegated = Report::draft(accession.clone(), author, content("x", &[]), at());
    assert_eq!(delegated.discrepancy_limits(&dept), limits);
    let own = Report::draft(accession, rad(), content("x", &[]), at());
    assert_eq!(
        own.discrepancy_limits(&dept),
        radgate_domain::quality::Limits::default()
    );
}
