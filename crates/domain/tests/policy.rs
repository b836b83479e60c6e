//! Routing policy behaviour: parsing, evaluation semantics, explanations and checks.

use chrono::{DateTime, Duration, Utc};
use radgate_domain::ai::{AiFinding, AiResult};
use radgate_domain::ids::{AccessionNumber, AiAppId, FindingCode, PatientId};
use radgate_domain::policy::check;
use radgate_domain::{Department, Pathway, Policy, Priority, Study};

const POLICY: &str = include_str!("../../../examples/policy.toml");
const DEPARTMENT: &str = include_str!("../../../examples/department.toml");
const SCREENING_POLICY: &str = include_str!("../../../examples/screening-policy.toml");
const SCREENING_DEPARTMENT: &str = include_str!("../../../examples/screening-department.toml");

fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn study(modality: &str, procedure: &str, body_part: &str, priority: Priority) -> Study {
    Study {
        accession: AccessionNumber::parse("ACC1").unwrap(),
        study_uid: None,
        patient: PatientId::parse("P-0001").unwrap(),
        patient_name: None,
        patient_sex: None,
        patient_age_years: Some(54),
        modality: modality.into(),
        procedure_code: procedure.into(),
        body_part: body_part.into(),
        priority,
        site: "main".into(),
        ordering_department: "ED".into(),
        clinical_question: None,
        ordered_at: None,
        acquired_at: t0(),
        manufacturer: None,
        model: None,
        protocol: None,
    }
}

fn result(app: &str, code: &str, score: f64, critical: bool, normal: bool) -> AiResult {
    AiResult {
        id: format!("{app}-1"),
        app: AiAppId::parse(app).unwrap(),
        app_version: "1.0".into(),
        accession: AccessionNumber::parse("ACC1").unwrap(),
        received_at: t0(),
        findings: vec![AiFinding {
            code: FindingCode::parse(code).unwrap(),
            score: Some(score),
            critical,
            normal,
        }],
    }
}

fn example() -> Policy {
    Policy::parse(POLICY).expect("example policy parses")
}

#[test]
fn example_policies_pass_all_checks_against_their_departments() {
    let dept = Department::parse(DEPARTMENT).expect("example department parses");
    assert_eq!(check(&example(), Some(&dept)), vec![]);
    let sdept = Department::parse(SCREENING_DEPARTMENT).expect("screening department parses");
    let spolicy = Policy::parse(SCREENING_POLICY).expect("screening policy parses");
    assert_eq!(check(&spolicy, Some(&sdept)), vec![]);
}

#[test]
fn pe_positive_ctpa_goes_stat_to_top_with_ai_values_in_explanation() {
    let s = study("CT", "CTPA", "CHEST", Priority::Urgent);
    let r = [result("pe-detect", "pulmonary_embolism", 0.91, true, false)];
    let d = example().decide(&s, &r, t0() + Duration::minutes(5));
    assert_eq!(d.rule.as_ref().unwrap().as_str(), "ctpa-pe-positive");
    assert_eq!(d.pathway, Pathway::RadiologistRead);
    assert_eq!(d.priority, Priority::Stat);
    assert_eq!(d.sla_minutes, 15);
    assert_eq!(d.due, t0() + Duration::minutes(15));
    assert_eq!(d.flags, vec!["top_of_worklist".to_string()]);
    assert_eq!(d.policy_version, "2026.11-1");
    assert_eq!(d.ai_evidence.len(), 1);
    assert_eq!(d.ai_evidence[0].score, Some(0.91));
    assert!(
        d.explanation.contains("score 0.91 >= 0.5"),
        "{}",
        d.explanation
    );
    assert!(d.explanation.contains("pe-detect"), "{}", d.explanation);
    assert!(
        d.explanation.contains("ctpa-pe-positive"),
        "{}",
        d.explanation
    );
}

#[test]
fn first_matching_rule_wins_over_later_ones() {
    // Both ctpa-pe-positive and ai-critical hold; the earlier one decides.
    let s = study("CT", "CTPA", "CHEST", Priority::Routine);
    let r = [result("pe-detect", "pulmonary_embolism", 0.95, true, false)];
    let d = example().decide(&s, &r, t0());
    assert_eq!(d.rule.unwrap().as_str(), "ctpa-pe-positive");
}

#[test]
fn ai_normal_adult_chest_xray_goes_to_gatekeeper_with_review() {
    let s = study("DX", "XTHORAX", "CHEST", Priority::Routine);
    let r = [result("cxr-normal", "abnormality", 0.04, false, true)];
    let d = example().decide(&s, &r, t0() + Duration::minutes(4));
    assert_eq!(d.pathway, Pathway::Gatekeeper);
    assert_eq!(d.task.as_str(), "cxr_gatekeeping");
    assert_eq!(d.review_fraction, 0.05);
    assert_eq!(
        d.priority,
        Priority::Routine,
        "priority defaults to the ordered one"
    );
    assert_eq!(
        d.sla_minutes, 2880,
        "sla defaults to the [sla] minutes of the priority"
    );
}

#[test]
fn a_result_received_after_the_evaluation_time_is_not_seen() {
    let s = study("CT", "CTPA", "CHEST", Priority::Routine);
    let mut r = result("pe-detect", "pulmonary_embolism", 0.95, true, false);
    r.received_at = t0() + Duration::minutes(10);
    let p = example();
    let before = p.decide(&s, std::slice::from_ref(&r), t0() + Duration::minutes(9));
    assert_eq!(before.rule, None, "not arrived yet: the default");
    assert!(before.ai_evidence.is_empty());
    let after = p.decide(&s, std::slice::from_ref(&r), t0() + Duration::minutes(10));
    assert_eq!(after.rule.unwrap().as_str(), "ctpa-pe-positive");
}

#[test]
fn age_band_excludes_children_and_unknown_age() {
    let mut s = study("DX", "XTHORAX", "CHEST", Priority::Routine);
    let r = [result("cxr-normal", "abnormality", 0.04, false, true)];
    s.patient_age_years = Some(12);
    assert_eq!(
        example().decide(&s, &r, t0()).pathway,
        Pathway::RadiologistRead
    );
    s.patient_age_years = None;
    assert_eq!(
        example().decide(&s, &r, t0()).pathway,
        Pathway::RadiologistRead
    );
    s.patient_age_years = Some(18);
    assert_eq!(example().decide(&s, &r, t0()).pathway, Pathway::Gatekeeper);
}

#[test]
fn missing_ai_result_counts_only_after_the_timeout() {
    let s = study("CT", "CTPA", "CHEST", Priority::Routine);
    let p = example();
    let early = p.decide(&s, &[], t0() + Duration::minutes(19));
    assert_eq!(early.rule, None, "before the timeout the default applies");
    let late = p.decide(&s, &[], t0() + Duration::minutes(20));
    assert_eq!(late.rule.as_ref().unwrap().as_str(), "ctpa-ai-missing");
    assert_eq!(late.priority, Priority::Urgent);
    assert!(
        late.explanation
            .contains("no result from AI application pe-detect after 20 min")
    );
}

#[test]
fn default_applies_when_nothing_matches_and_says_so() {
    let s = study("MR", "MROVERIG", "SPINE", Priority::Routine);
    let d = example().decide(&s, &[], t0());
    assert_eq!(d.rule, None);
    assert_eq!(d.pathway, Pathway::RadiologistRead);
    assert_eq!(d.task.as_str(), "final_report");
    assert!(
        d.explanation
            .starts_with("No rule of policy 2026.11-1 matched")
    );
}

#[test]
fn screening_risk_score_ten_is_double_read_and_flagged() {
    let p = Policy::parse(SCREENING_POLICY).unwrap();
    let s = study("MG", "MGSCREEN", "BREAST", Priority::Routine);
    let high = p.decide(
        &s,
        &[result("mammo-risk", "exam_risk", 10.0, false, false)],
        t0(),
    );
    assert_eq!(high.pathway, Pathway::DoubleRead);
    assert_eq!(high.readers, 2);
    assert_eq!(high.flags, vec!["high_risk", "cad_marks"]);
    // CAD marks from 8, single reading below 10.
    let marked = p.decide(
        &s,
        &[result("mammo-risk", "exam_risk", 8.0, false, false)],
        t0(),
    );
    assert_eq!(marked.pathway, Pathway::SingleRead);
    assert_eq!(marked.readers, 1);
    assert_eq!(marked.flags, vec!["cad_marks"]);
    let low = p.decide(
        &s,
        &[result("mammo-risk", "exam_risk", 7.0, false, false)],
        t0(),
    );
    assert_eq!(low.pathway, Pathway::SingleRead);
    assert!(low.flags.is_empty());
}

fn problems(policy: &str, dept: Option<&str>) -> Vec<String> {
    let p = match Policy::parse(policy) {
        Ok(p) => p,
        Err(d) => return d.0.iter().map(|d| d.to_string()).collect(),
    };
    let d = dept.map(|d| Department::parse(d).unwrap());
    check(&p, d.as_ref())
        .iter()
        .map(|d| d.to_string())
        .collect()
}

const HEAD: &str = "version = \"t\"\n[sla]\nstat = 1\nurgent = 2\nroutine = 3\n[default]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n";

#[test]
fn unknown_keys_are_each_reported_on_their_line() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"a\"\n[rule.when]\nmodallity = \"CT\"\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\nprio = \"stat\"\n"
    );
    let p = problems(&text, None);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("line 12: unknown key `modallity` in rule `a`.when"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with("line 16: unknown key `prio` in rule `a`.then"),
        "{p:?}"
    );
}

#[test]
fn thresholds_outside_unit_interval_are_rejected_without_department() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"a\"\n[[rule.when.ai]]\nscore_min = 1.5\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n"
    );
    let p = problems(&text, None);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("line 12")
            && p[0].contains("score_min = 1.5 lies outside the score range [0, 1]"),
        "{p:?}"
    );
}

#[test]
fn planted_shadowed_rule_is_found() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"all-ct\"\n[rule.when]\nmodality = [\"CT\", \"MR\"]\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n\
         [[rule]]\nid = \"ct-chest\"\n[rule.when]\nmodality = \"CT\"\nbody_part = \"CHEST\"\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\npriority = \"stat\"\n"
    );
    let p = problems(&text, None);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("rule `ct-chest` can never fire: rule `all-ct` (line 9)"),
        "{p:?}"
    );
}

#[test]
fn narrower_earlier_rule_does_not_shadow_broader_later_rule() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"ct-chest\"\n[rule.when]\nmodality = \"CT\"\nbody_part = \"CHEST\"\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n\
         [[rule]]\nid = \"all-ct\"\n[rule.when]\nmodality = \"CT\"\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n"
    );
    assert_eq!(problems(&text, None), Vec::<String>::new());
}

#[test]
fn department_cross_references_are_checked() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"a\"\n[[rule.when.ai]]\napp = \"no-such-ai\"\n[rule.then]\npathway = \"delegated_preliminary\"\ntask = \"image_guided_puncture\"\n\
         [[rule]]\nid = \"b\"\n[rule.when]\nmodality = \"US\"\n[rule.then]\npathway = \"single_read\"\ntask = \"unknown_task\"\n\
         [[rule]]\nid = \"c\"\n[rule.when]\nmodality = \"DX\"\n[[rule.when.ai]]\napp = \"cxr-normal\"\nfinding = \"abnormality\"\nnormal = true\n[rule.then]\npathway = \"gatekeeper\"\ntask = \"cxr_gatekeeping\"\nreview_fraction = 0.01\n"
    );
    let dept = DEPARTMENT.replace(
        "[[agreement]]\nid = \"ta-puncture-pa\"\ntask = \"image_guided_puncture\"",
        "[[agreement]]\nid = \"ta-puncture-pa\"\ntask = \"msk_ultrasound_report\"",
    );
    let p = problems(&text, Some(&dept));
    let all = p.join("\n");
    assert!(
        all.contains("AI application `no-such-ai` is not in the department's AI register"),
        "{all}"
    );
    assert!(
        all.contains("task `image_guided_puncture` is not covered by any task agreement"),
        "{all}"
    );
    assert!(
        all.contains("task `unknown_task` is not in the department's task catalog"),
        "{all}"
    );
    assert!(
        all.contains(
            "review_fraction 0.01 is below the 0.05 that agreement `ta-cxr-gatekeeping` requires"
        ),
        "{all}"
    );
    assert_eq!(p.len(), 4, "{all}");
}

#[test]
fn autonomous_normal_needs_explicit_permission_and_review() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"auto\"\n[rule.when]\nmodality = \"DX\"\n[rule.then]\npathway = \"autonomous_normal\"\ntask = \"final_report\"\n"
    );
    let p = problems(&text, None).join("\n");
    assert!(p.contains("needs `allow_autonomous_normal = true`"), "{p}");
    assert!(p.contains("must have a review_fraction above 0"), "{p}");
}

#[test]
fn contradictory_rule_is_reported_as_never_firing() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"x\"\n[[rule.when.ai]]\napp = \"pe-detect\"\n[[rule.when.ai_missing]]\napp = \"pe-detect\"\nafter_minutes = 5\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n"
    );
    let p = problems(&text, None).join("\n");
    assert!(p.contains("rule `x` can never fire: it requires both a result from AI application `pe-detect` and its absence"), "{p}");
}

#[test]
fn broken_toml_and_wrong_types_are_located_not_panics() {
    let p = problems("version = \"x\"\n[sla\n", None);
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("line 2: invalid TOML"), "{p:?}");
    let p = problems(&HEAD.replace("stat = 1", "stat = \"one\""), None);
    assert!(
        p[0].contains("`stat` in the policy.sla must be an integer, found string"),
        "{p:?}"
    );
    let p = problems(&HEAD.replace("radiologist_read", "radiologist_reed"), None);
    assert!(p[0].contains("unknown pathway `radiologist_reed`"), "{p:?}");
}

#[test]
fn duplicate_rule_ids_are_rejected() {
    let rule = "[[rule]]\nid = \"a\"\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n";
    let p = problems(&format!("{HEAD}{rule}{rule}"), None);
    assert!(
        p.iter()
            .any(|p| p.contains("duplicate rule id `a` (first used on line 10)")),
        "{p:?}"
    );
}

#[test]
fn study_json_with_unknown_field_is_rejected_with_its_name() {
    let json = r#"{"accession":"A1","patient":"P1","modality":"CT","procedure_code":"X","body_part":"HEAD",
        "priority":"stat","site":"main","ordering_department":"ED","acquired_at":"2026-01-01T00:00:00Z","bodypart":"x"}"#;
    let err = serde_json::from_str::<Study>(json).unwrap_err().to_string();
    assert!(err.contains("unknown field `bodypart`"), "{err}");
}

#[test]
fn rules_may_not_rely_on_a_retired_or_suspended_ai_application() {
    let dept = DEPARTMENT.replace(
        "id = \"pe-detect\"\nname = \"Pulmonary embolism detection (simulated)\"",
        "id = \"pe-detect\"\nname = \"Pulmonary embolism detection (simulated)\"\n# retired below",
    );
    let dept = dept.replacen(
        "status = \"production\"\nce = { class = \"IIa\", regime = \"mdd\"",
        "status = \"retired\"\nce = { class = \"IIa\", regime = \"mdd\"",
        1,
    );
    assert_ne!(dept, DEPARTMENT, "fixture edit applied");
    let p = problems(POLICY, Some(&dept)).join("\n");
    assert!(
        p.contains("rule `ctpa-pe-positive`: AI application `pe-detect` is retired in the register; rules may not rely on it"),
        "{p}"
    );
}

#[test]
fn only_double_read_has_several_readers() {
    let text = format!(
        "{HEAD}[[rule]]\nid = \"a\"\n[rule.then]\npathway = \"single_read\"\ntask = \"final_report\"\nreaders = 2\n"
    );
    let p = problems(&text, None);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("only double_read has more than one reader, single_read has 1"),
        "{p:?}"
    );
}

mod register {
    use chrono::NaiveDate;
    use radgate_domain::Department;
    use radgate_domain::ai::RegisterWarning;

    const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn mdd_certificates_and_expiry_within_180_days_are_flagged() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let pe = dept.ai_application("pe-detect").unwrap();
        // Its MDD certificate states 2028-05-26.
        assert_eq!(
            pe.register_warnings(day(2027, 11, 27)),
            [RegisterWarning::MddOnly {
                lapses_by: day(2028, 12, 31)
            }]
        );
        assert_eq!(
            pe.register_warnings(day(2027, 11, 28)),
            [
                RegisterWarning::CertificateExpiring {
                    until: day(2028, 5, 26),
                    days: 180
                },
                RegisterWarning::MddOnly {
                    lapses_by: day(2028, 12, 31)
                }
            ]
        );
        assert_eq!(
            pe.register_warnings(day(2028, 5, 27))[0],
            RegisterWarning::CertificateExpired {
                until: day(2028, 5, 26)
            }
        );
        assert!(
            dept.ai_application("ich-detect")
                .unwrap()
                .register_warnings(day(2026, 6, 1))
                .is_empty()
        );
    }

    #[test]
    fn production_without_validation_evidence_is_flagged() {
        let text = DEPARTMENT.replace(
            "model_card = { training_data = \"Synthetic\", validation = \"Local prospective pilot, 2026\", known_limits = \"Post-operative heads excluded\" }",
            "model_card = { training_data = \"Synthetic\" }",
        );
        let dept = Department::parse(&text).unwrap();
        let w: Vec<String> = dept
            .ai_application("ich-detect")
            .unwrap()
            .register_warnings(day(2026, 6, 1))
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(
            w,
            [
                "model card lacks `validation`",
                "model card lacks `known_limits`",
                "in production without validation evidence"
            ]
        );
    }
}
