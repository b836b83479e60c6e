//! One routing decision with a 50-rule policy (target: under 5 µs).

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use radgate_domain::ai::{AiFinding, AiResult};
use radgate_domain::ids::{AccessionNumber, AiAppId, FindingCode, PatientId};
use radgate_domain::{Policy, Priority, Study};

/// 49 rules that a CT pulmonary angiography walks past, then the rule that fires.
fn fifty_rule_policy() -> String {
    let mut p = String::from(
        "version = \"bench\"\n[sla]\nstat = 30\nurgent = 120\nroutine = 1440\n[default]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n",
    );
    for i in 0..49 {
        let (modality, body) = [
            ("DX", "CHEST"),
            ("MR", "HEAD"),
            ("US", "ABDOMEN"),
            ("CT", "HEAD"),
        ][i % 4];
        p.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\n[rule.when]\nmodality = [\"{modality}\"]\nbody_part = [\"{body}\"]\nprocedure_code = [\"P{i}\", \"Q{i}\"]\npriority = [\"routine\", \"urgent\"]\nage_min = 18\n[[rule.when.ai]]\napp = \"app{i}\"\nfinding = \"f{i}\"\nscore_min = 0.5\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\n",
        ));
    }
    p.push_str("[[rule]]\nid = \"pe\"\n[rule.when]\nmodality = \"CT\"\nprocedure_code = \"CTPA\"\n[[rule.when.ai]]\napp = \"pe-detect\"\nfinding = \"pulmonary_embolism\"\nscore_min = 0.5\n[rule.then]\npathway = \"radiologist_read\"\ntask = \"final_report\"\npriority = \"stat\"\nflags = [\"top_of_worklist\"]\n");
    p
}

fn bench(c: &mut Criterion) {
    let policy = Policy::parse(&fifty_rule_policy()).expect("bench policy parses");
    assert_eq!(policy.rules.len(), 50);
    let t0: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
    let study = Study {
        accession: AccessionNumber::parse("ACC1").unwrap(),
        study_uid: None,
        patient: PatientId::parse("P1").unwrap(),
        patient_name: None,
        patient_sex: None,
        patient_age_years: Some(60),
        modality: "CT".into(),
        procedure_code: "CTPA".into(),
        body_part: "CHEST".into(),
        priority: Priority::Urgent,
        site: "main".into(),
        ordering_department: "ED".into(),
        clinical_question: None,
        ordered_at: None,
        acquired_at: t0,
        manufacturer: None,
        model: None,
        protocol: None,
    };
    let results = vec![AiResult {
        id: "r".into(),
        app: AiAppId::parse("pe-detect").unwrap(),
        app_version: "3".into(),
        accession: study.accession.clone(),
        received_at: t0 + Duration::minutes(4),
        findings: vec![AiFinding {
            code: FindingCode::parse("pulmonary_embolism").unwrap(),
            score: Some(0.9),
            critical: true,
            normal: false,
        }],
    }];
    let now = t0 + Duration::minutes(5);
    assert_eq!(
        policy.decide(&study, &results, now).rule.unwrap().as_str(),
        "pe"
    );
    c.bench_function("decide/50_rules_last_rule_fires", |b| {
        b.iter(|| policy.decide(black_box(&study), black_box(&results), black_box(now)))
    });
    let mut other = study.clone();
    other.modality = "NM".into();
    c.bench_function("decide/50_rules_default", |b| {
        b.iter(|| policy.decide(black_box(&other), black_box(&results), black_box(now)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
