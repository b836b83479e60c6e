//! Properties that must hold for all inputs: routing determinism, the critical-is-stat
//! guarantee of the example policy, soundness and reach of the shadowing check, and the
//! report lifecycle's invariants.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use radgate_domain::agreement::{AgreementKind, SupervisionMode};
use radgate_domain::ai::{AiFinding, AiResult};
use radgate_domain::ids::{
    AccessionNumber, AiAppId, FindingCode, PatientId, ProfessionalId, RuleId, TaskTypeId,
};
use radgate_domain::policy::{AiCondition, AiMissing, Conditions, Outcome, Rule, check};
use radgate_domain::professional::Role;
use radgate_domain::report::{Act, Mandate, Report, ReportContent, ReportState, Signer};
use radgate_domain::{Pathway, Policy, Priority, Study};

const POLICY: &str = include_str!("../../../examples/policy.toml");

const MODALITIES: [&str; 5] = ["CT", "DX", "CR", "MR", "US"];
const PROCEDURES: [&str; 6] = ["CTPA", "XTHORAX", "CTHEAD-TR", "CTCWK", "USMSK", "OTHER"];
const BODY_PARTS: [&str; 5] = ["CHEST", "HEAD", "CSPINE", "EXTREMITY", "ABDOMEN"];
const DEPTS: [&str; 3] = ["ED", "GP", "ONC"];
const APPS: [&str; 4] = ["pe-detect", "cxr-normal", "ich-detect", "fracture-detect"];
const FINDINGS: [&str; 4] = [
    "pulmonary_embolism",
    "abnormality",
    "intracranial_hemorrhage",
    "fracture",
];

fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn priority() -> impl Strategy<Value = Priority> {
    prop::sample::select(Priority::ALL.to_vec())
}

prop_compose! {
    fn study()(m in prop::sample::select(&MODALITIES[..]),
               p in prop::sample::select(&PROCEDURES[..]),
               b in prop::sample::select(&BODY_PARTS[..]),
               d in prop::sample::select(&DEPTS[..]),
               pr in priority(),
               age in prop::option::of(0u32..100)) -> Study {
        Study {
            accession: AccessionNumber::parse("ACC1").unwrap(),
            study_uid: None,
            patient: PatientId::parse("P1").unwrap(),
            patient_name: None,
            patient_sex: None,
            patient_age_years: age,
            modality: m.into(),
            procedure_code: p.into(),
            body_part: b.into(),
            priority: pr,
            site: "main".into(),
            ordering_department: d.into(),
            clinical_question: None,
            ordered_at: None,
            acquired_at: t0(),
            manufacturer: None,
            model: None,
            protocol: None,
        }
    }
}

prop_compose! {
    fn finding()(code in prop::sample::select(&FINDINGS[..]),
                 score in prop::option::of(0.0f64..=1.0),
                 critical in any::<bool>(),
                 normal in any::<bool>()) -> AiFinding {
        AiFinding { code: FindingCode::parse(code).unwrap(), score, critical, normal }
    }
}

prop_compose! {
    fn ai_result()(app in prop::sample::select(&APPS[..]),
                   findings in prop::collection::vec(finding(), 1..3)) -> AiResult {
        AiResult {
            id: format!("{app}-r"),
            app: AiAppId::parse(app).unwrap(),
            app_version: "1".into(),
            accession: AccessionNumber::parse("ACC1").unwrap(),
            received_at: t0(),
            findings,
        }
    }
}

fn subset(all: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::of(
        prop::sample::subsequence(all, 1..=all.len())
            .prop_map(|v| v.into_iter().map(String::from).collect()),
    )
}

prop_compose! {
    fn ai_condition()(app in prop::option::of(prop::sample::select(&APPS[..])),
                      finding in prop::option::of(prop::sample::select(&FINDINGS[..])),
                      lo in prop::option::of(0.0f64..0.5),
                      hi in prop::option::of(0.5f64..=1.0),
                      critical in prop::option::of(any::<bool>()),
                      normal in prop::option::of(any::<bool>())) -> AiCondition {
        AiCondition {
            app: app.map(|a| AiAppId::parse(a).unwrap()),
            finding: finding.map(|f| FindingCode::parse(f).unwrap()),
            score_min: lo, score_max: hi, critical, normal, line: 1, app_line: 1, score_min_line: 1, score_max_line: 1,
        }
    }
}

prop_compose! {
    fn conditions()(modality in subset(&MODALITIES),
                    procedure_code in subset(&PROCEDURES),
                    body_part in subset(&BODY_PARTS),
                    ordering_department in subset(&DEPTS),
                    prio in prop::option::of(prop::sample::subsequence(Priority::ALL.to_vec(), 1..=3)),
                    age_min in prop::option::of(0u32..60),
                    age_span in prop::option::of(0u32..60),
                    ai in prop::collection::vec(ai_condition(), 0..2),
                    missing in prop::option::of((prop::sample::select(&APPS[..]), 0u32..60))) -> Conditions {
        Conditions {
            modality, procedure_code, body_part, ordering_department,
            priority: prio, site: None,
            age_min, age_max: age_span.map(|s| age_min.unwrap_or(0) + s),
            ai,
            ai_missing: missing.map(|(a, m)| AiMissing { app: AiAppId::parse(a).unwrap(), after_minutes: m, line: 1 }).into_iter().collect(),
        }
    }
}

fn rule(id: &str, line: usize, when: Conditions) -> Rule {
    Rule {
        id: RuleId::parse(id).unwrap(),
        line,
        description: String::new(),
        when,
        then: Outcome {
            pathway: Pathway::RadiologistRead,
            task: TaskTypeId::parse("final_report").unwrap(),
            task_line: line,
            priority: None,
            sla_minutes: None,
            readers: None,
            review_fraction: 0.0,
            flags: vec![],
        },
    }
}

fn two_rule_policy(a: Conditions, b: Conditions) -> Policy {
    let mut p = Policy::parse(POLICY).unwrap();
    p.rules = vec![rule("a", 10, a), rule("b", 20, b)];
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decisions_are_deterministic(s in study(), rs in prop::collection::vec(ai_result(), 0..4), wait in 0i64..120) {
        let p = Policy::parse(POLICY).unwrap();
        let now = t0() + Duration::minutes(wait);
        let first = p.decide(&s, &rs, now);
        let again = Policy::parse(POLICY).unwrap().decide(&s.clone(), &rs.clone(), now);
        prop_assert_eq!(first, again);
    }

    #[test]
    fn example_policy_never_gives_a_critical_ai_finding_less_than_stat(
        s in study(),
        mut rs in prop::collection::vec(ai_result(), 0..4),
        critical in ai_result(),
        at in 0usize..4,
        wait in 0i64..120,
    ) {
        let mut critical = critical;
        critical.findings[0].critical = true;
        critical.findings[0].normal = false;
        rs.insert(at.min(rs.len()), critical);
        let d = Policy::parse(POLICY).unwrap().decide(&s, &rs, t0() + Duration::minutes(wait));
        prop_assert_eq!(d.priority, Priority::Stat, "{}", d.explanation);
    }

    /// Soundness: a rule reported as shadowed never fires.
    #[test]
    fn a_rule_reported_shadowed_never_fires(
        a in conditions(), b in conditions(),
        studies in prop::collection::vec((study(), prop::collection::vec(ai_result(), 0..3), 0i64..90), 32),
    ) {
        let p = two_rule_policy(a, b);
        let shadowed = check(&p, None).iter().any(|d| d.message.starts_with("rule `b` can never fire"));
        if shadowed {
            for (s, rs, wait) in &studies {
                let d = p.decide(s, rs, t0() + Duration::minutes(*wait));
                prop_assert_ne!(d.rule.map(|r| r.to_string()), Some("b".to_string()));
            }
        }
    }

    /// Reach: a later rule that only adds constraints to an earlier one is always found.
    #[test]
    fn a_planted_narrowing_of_an_earlier_rule_is_reported(a in conditions(), extra in conditions()) {
        let mut b = a.clone();
        if b.modality.is_none() { b.modality = extra.modality.clone(); }
        if b.body_part.is_none() { b.body_part = extra.body_part.clone(); }
        if b.age_min.is_none() && b.age_max.is_none() { b.age_min = extra.age_min; b.age_max = extra.age_max; }
        b.ai.extend(extra.ai.iter().cloned());
        for c in &mut b.ai {
            // Tightening a score bound keeps the narrowing a narrowing.
            c.score_min = c.score_min.map(|x| (x + 0.1).min(0.5));
        }
        let p = two_rule_policy(a, b);
        let problems = check(&p, None);
        let never = |id: &str| problems.iter().any(|d| d.message.starts_with(&format!("rule `{id}` can never fire")));
        // `a` may itself be contradictory (an app both required and missing); then so is `b`.
        prop_assert!(never("b"), "{:?}", problems);
    }
}

// ---------------------------------------------------------------- report lifecycle

#[derive(Debug, Clone)]
enum Action {
    Edit(usize),
    Submit(usize),
    Authorize(usize),
    Return(usize),
    Addendum(usize),
}

fn signers() -> Vec<Signer> {
    let independent = Mandate {
        agreement_id: "ta-puncture".into(),
        kind: AgreementKind::Reallocation,
        supervision: SupervisionMode::None,
    };
    let sampled = Mandate {
        agreement_id: "ta-msk".into(),
        kind: AgreementKind::Delegation,
        supervision: SupervisionMode::SampleReview { fraction: 0.1 },
    };
    let supervised = Mandate {
        agreement_id: "ta-onc".into(),
        kind: AgreementKind::Delegation,
        supervision: SupervisionMode::AuthorizeEach,
    };
    vec![
        Signer {
            id: ProfessionalId::parse("ap-1").unwrap(),
            role: Role::Ap,
            mandate: Some(supervised),
        },
        Signer {
            id: ProfessionalId::parse("rad-1").unwrap(),
            role: Role::Radiologist,
            mandate: None,
        },
        Signer {
            id: ProfessionalId::parse("rad-2").unwrap(),
            role: Role::Radiologist,
            mandate: None,
        },
        Signer {
            id: ProfessionalId::parse("pa-2").unwrap(),
            role: Role::Pa,
            mandate: Some(independent),
        },
        Signer {
            id: ProfessionalId::parse("mbb-1").unwrap(),
            role: Role::Mbb,
            mandate: None,
        },
        Signer {
            id: ProfessionalId::parse("ap-3").unwrap(),
            role: Role::Ap,
            mandate: Some(sampled),
        },
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0usize..6).prop_map(Action::Edit),
        (0usize..6).prop_map(Action::Submit),
        (0usize..6).prop_map(Action::Authorize),
        (0usize..6).prop_map(Action::Return),
        (0usize..6).prop_map(Action::Addendum),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn report_lifecycle_invariants_hold_for_any_sequence(author in 0usize..6, actions in prop::collection::vec(action(), 0..12)) {
        let people = signers();
        let content = |n: usize| ReportContent { text: format!("text {n}"), findings: vec![] };
        let mut r = Report::draft(AccessionNumber::parse("A").unwrap(), people[author].clone(), content(0), t0());
        let mut authorized_content = None;
        for (i, a) in actions.iter().enumerate() {
            let before = r.clone();
            let at = t0() + Duration::minutes(i as i64 + 1);
            let outcome = match a {
                Action::Edit(s) => r.edit(&people[*s], content(i + 1), at),
                Action::Submit(s) => r.submit_preliminary(&people[*s], at),
                Action::Authorize(s) => r.authorize(&people[*s], at),
                Action::Return(s) => r.return_for_correction(&people[*s], "please re-measure", at),
                Action::Addendum(s) => r.addendum(&people[*s], "addendum", vec![], at),
            };
            match outcome {
                Err(_) => prop_assert_eq!(&r, &before, "a rejected action changed the report"),
                Ok(()) => prop_assert_eq!(r.history.len(), before.history.len() + 1),
            }
            if r.state == ReportState::Authorized {
                let signer = r.authorized_by.clone().expect("authorized reports name their signer");
                prop_assert!(
                    radgate_domain::ending::signs_final(signer.role, signer.mandate.as_ref()),
                    "{:?} signed a final report without a mandate for it", signer
                );
                let prelim_then_auth = r.history.iter().any(|v| v.act == Act::SubmittedPreliminary);
                if prelim_then_auth {
                    prop_assert_ne!(&signer.id, &r.author.id, "the author authorized their own preliminary report");
                    prop_assert_eq!(signer.role, Role::Radiologist);
                }
                match &authorized_content {
                    None => authorized_content = Some(r.content.clone()),
                    Some(c) => prop_assert_eq!(c, &r.content, "authorized content changed"),
                }
            }
        }
        for (i, v) in r.history.iter().enumerate() {
            prop_assert_eq!(v.number as usize, i + 1);
        }
    }
}
