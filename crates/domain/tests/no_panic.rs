//! Configuration parsers never panic: any edit of a valid file gives a value or located
//! problems.

use proptest::prelude::*;
use radgate_domain::policy::check;
use radgate_domain::{Department, Policy};

const POLICY: &str = include_str!("../../../examples/policy.toml");
const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

/// The text with a byte range replaced by a fragment chosen to upset a TOML reader.
fn mutate(text: &str, at: usize, len: usize, fragment: &str) -> String {
    let bytes = text.as_bytes();
    let at = at % bytes.len();
    let end = (at + len).min(bytes.len());
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(fragment.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&out).into_owned()
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("=".to_string()),
        Just("[[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("[rule.when]\n".to_string()),
        Just("score_min = 99\n".to_string()),
        Just("x = { a = [1, \"b\"] }\n".to_string()),
        "[a-z_\\[\\]=\"{}, .0-9\n-]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn policy_parse_and_check_never_panic(at in any::<usize>(), len in 0usize..40, f in fragment()) {
        let text = mutate(POLICY, at, len, &f);
        let dept = Department::parse(DEPARTMENT).unwrap();
        match Policy::parse(&text) {
            Ok(p) => { let _ = check(&p, Some(&dept)); }
            Err(d) => prop_assert!(!d.0.is_empty() && d.0.iter().all(|d| d.line >= 1)),
        }
    }

    #[test]
    fn department_parse_never_panics(at in any::<usize>(), len in 0usize..40, f in fragment()) {
        let text = mutate(DEPARTMENT, at, len, &f);
        if let Err(d) = Department::parse(&text) {
            prop_assert!(!d.0.is_empty() && d.0.iter().all(|d| d.line >= 1));
        }
    }
}

/// Any instant chrono can hold, from the far past to the far future.
fn instant() -> impl Strategy<Value = chrono::DateTime<chrono::Utc>> {
    let (lo, hi) = (
        chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp(),
        chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp(),
    );
    prop_oneof![
        lo..=hi,
        Just(lo),
        Just(hi),
        // The clinical window's edges, and around the year 262142 of the issue.
        -2_208_988_801i64..=-2_208_988_799,
        8_210_266_815_999i64..=8_210_266_876_799,
    ]
    .prop_map(|s| chrono::DateTime::from_timestamp(s, 0).expect("in chrono's range"))
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        -1.0f64..2.0,
        1.0f64..11.0,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The ingest path's domain steps, as the server takes them: the clinical window, the
    /// register's reading of the AI result, routing at any time. Whatever the dates and
    /// numbers, each step answers; none panics.
    #[test]
    fn the_ingest_path_never_panics_on_dates_or_numbers(
        acquired in instant(), ordered in proptest::option::of(instant()), received in instant(),
        now in instant(), score in number(), app in 0usize..5, procedure in 0usize..4,
    ) {
        use radgate_domain::ai::{AiFinding, AiResult};
        use radgate_domain::ids::{AccessionNumber, PatientId};
        use radgate_domain::{Priority, Study};
        static PARSED: std::sync::OnceLock<(Department, Policy)> = std::sync::OnceLock::new();
        let (dept, policy) = PARSED.get_or_init(|| {
            (Department::parse(DEPARTMENT).unwrap(), Policy::parse(POLICY).unwrap())
        });
        let study = Study {
            accession: AccessionNumber::parse("P1").unwrap(),
            study_uid: None,
            patient: PatientId::parse("PSEUDO-1").unwrap(),
            patient_name: None,
            patient_sex: None,
            patient_age_years: Some(40),
            modality: ["CT", "DX", "CR", "MG"][procedure].into(),
            procedure_code: ["CTPA", "XTHORAX", "CTHEAD-TR", "MGSCREEN"][procedure].into(),
            body_part: "CHEST".into(),
            priority: Priority::Routine,
            site: "main".into(),
            ordering_department: "ED".into(),
            clinical_question: None,
            ordered_at: ordered,
            acquired_at: acquired,
            manufacturer: None,
            model: None,
            protocol: None,
        };
        let a = &dept.ai_applications[app];
        let result = AiResult {
            id: "r".into(),
            app: a.id.clone(),
            app_version: a.version.clone(),
            accession: study.accession.clone(),
            received_at: received,
            findings: vec![AiFinding {
                code: a.findings[0].code.clone(),
                score: Some(score),
                critical: score > 0.5,
                normal: false,
            }],
        };
        let in_window = study.check_values(now).is_ok();
        let read = dept.read_ai_result(&result);
        if let Ok(r) = &read {
            let (lo, hi) = a.findings[0].score_range;
            prop_assert!(r.findings[0].score.is_some_and(|s| s >= lo && s <= hi));
        }
        let results: Vec<AiResult> = read.into_iter().collect();
        let d = policy.decide(&study, &results, now);
        if in_window {
            prop_assert!(d.due >= study.acquired_at);
        }
    }
}
