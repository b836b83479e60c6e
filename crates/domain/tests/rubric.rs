//! Rubric assessments: committee scoring, deliberation required before the grade is final,
//! and nothing changes after.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use radgate_domain::Department;
use radgate_domain::assessor_agreement::agreement_report;
use radgate_domain::ids::ProfessionalId;
use radgate_domain::portfolio::AssessorBackground;
use radgate_domain::rubric::{CommitteeMember, RubricAssessment, RubricError};

fn dept() -> Department {
    Department::parse(include_str!("../../../examples/department.toml")).unwrap()
}

fn id(s: &str) -> ProfessionalId {
    ProfessionalId::parse(s).unwrap()
}

fn at() -> DateTime<Utc> {
    "2026-06-01T14:00:00Z".parse().unwrap()
}

fn committee() -> Vec<CommitteeMember> {
    vec![
        CommitteeMember {
            person: id("rad-devries"),
            background: AssessorBackground::Medical,
        },
        CommitteeMember {
            person: id("edu-koster"),
            background: AssessorBackground::Technical,
        },
    ]
}

fn thesis() -> RubricAssessment {
    let d = dept();
    RubricAssessment::new(
        "thesis-smit".into(),
        d.rubric("miro-thesis").unwrap(),
        id("ap-smit"),
        "AI triage of chest radiographs".into(),
        committee(),
    )
    .unwrap()
}

fn agreed() -> BTreeMap<String, i64> {
    [
        ("question", 8),
        ("method", 7),
        ("analysis", 6),
        ("writing", 9),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn score_all(t: &mut RubricAssessment) {
    let d = dept();
    let r = d.rubric("miro-thesis").unwrap();
    for (who, bump) in [("rad-devries", 1), ("edu-koster", 0)] {
        for (c, s) in agreed() {
            t.score(r, &id(who), &c, s + bump - 1, String::new())
                .unwrap();
        }
    }
}

#[test]
fn the_committee_needs_two_people_and_not_the_author() {
    let d = dept();
    let r = d.rubric("miro-thesis").unwrap();
    let one = vec![committee().remove(0)];
    assert_eq!(
        RubricAssessment::new("x".into(), r, id("ap-smit"), "t".into(), one).unwrap_err(),
        RubricError::CommitteeTooSmall
    );
    let twice = vec![committee().remove(0), committee().remove(0)];
    assert_eq!(
        RubricAssessment::new("x".into(), r, id("ap-smit"), "t".into(), twice).unwrap_err(),
        RubricError::CommitteeTooSmall
    );
    assert_eq!(
        RubricAssessment::new("x".into(), r, id("rad-devries"), "t".into(), committee())
            .unwrap_err(),
        RubricError::OwnWork(id("rad-devries"))
    );
}

#[test]
fn only_members_score_within_the_scale_and_a_rescore_replaces() {
    let d = dept();
    let r = d.rubric("miro-thesis").unwrap();
    let mut t = thesis();
    assert_eq!(
        t.score(r, &id("mbb-jansen"), "method", 7, String::new()),
        Err(RubricError::NotOnCommittee(id("mbb-jansen")))
    );
    assert!(matches!(
        t.score(r, &id("rad-devries"), "method", 11, String::new()),
        Err(RubricError::OutOfRange { score: 11, .. })
    ));
    assert!(matches!(
        t.score(r, &id("rad-devries"), "style", 5, String::new()),
        Err(RubricError::UnknownCriterion { .. })
    ));
    t.score(r, &id("rad-devries"), "method", 6, String::new())
        .unwrap();
    t.score(r, &id("rad-devries"), "method", 7, "on reflection".into())
        .unwrap();
    assert_eq!(t.scores.len(), 1);
    assert_eq!(t.scores[0].score, 7);
}

#[test]
fn the_grade_is_final_only_with_every_score_and_the_deliberation_on_record() {
    let d = dept();
    let r = d.rubric("miro-thesis").unwrap();
    let mut t = thesis();
    let by = id("rad-devries");
    match t.finalise(r, &by, agreed(), at()) {
        Err(RubricError::Incomplete(why)) => {
            assert!(why.contains("rad-devries has not scored question"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    score_all(&mut t);
    let mut partial = agreed();
    partial.remove("writing");
    assert_eq!(
        t.finalise(r, &by, partial, at()),
        Err(RubricError::Incomplete(
            "no agreed score for writing".into()
        ))
    );
    assert_eq!(
        t.finalise(r, &by, agreed(), at()),
        Err(RubricError::NoDeliberation),
        "scores alone do not make a grade"
    );
    assert_eq!(t.deliberate(&by, "   ", at()), Err(RubricError::EmptyNote));
    t.deliberate(
        &id("edu-koster"),
        "Method sound; the analysis lacks a sensitivity analysis, hence 6.",
        at(),
    )
    .unwrap();
    assert!(!t.is_final());
    t.finalise(r, &by, agreed(), at()).unwrap();
    // (8*1 + 7*2 + 6*2 + 9*1) / 6
    let grade = t.finalisation.as_ref().unwrap().grade;
    assert!((grade - 43.0 / 6.0).abs() < 1e-12, "{grade}");
    // Final means final.
    let before = t.clone();
    assert_eq!(
        t.score(r, &by, "method", 9, String::new()),
        Err(RubricError::Final)
    );
    assert_eq!(
        t.deliberate(&by, "second thoughts", at()),
        Err(RubricError::Final)
    );
    assert_eq!(t.finalise(r, &by, agreed(), at()), Err(RubricError::Final));
    assert_eq!(t, before);
}

#[test]
fn the_two_assessors_own_scores_feed_the_agreement_report() {
    let mut t = thesis();
    score_all(&mut t);
    let pairs = t.score_pairs();
    assert_eq!(pairs.len(), 4);
    let report = agreement_report(&pairs).unwrap();
    // The medical assessor scored every criterion one point higher.
    assert_eq!(report.overall.mean_difference, Some(1.0));
    assert_eq!(report.criteria["method"].n, 1);
}

#[test]
fn rubric_mistakes_are_reported() {
    let bad = include_str!("../../../examples/department.toml").replace(
        "{ id = \"writing\", weight = 1, min = 1, max = 10 }",
        "{ id = \"method\", weight = -1, min = 1, max = 1 }",
    );
    let all: Vec<String> = Department::parse(&bad)
        .unwrap_err()
        .0
        .into_iter()
        .map(|d| d.message)
        .collect();
    let all = all.join("\n");
    for needle in [
        "duplicate criterion `method`",
        "weight must be positive, got -1",
        "max (1) must be above min (1)",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}
