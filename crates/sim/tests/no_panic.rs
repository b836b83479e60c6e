//! The simulation table reader never panics on an edited department file, and a screening
//! simulation never panics on one that it accepts.

use proptest::prelude::*;
use radgate_domain::{Department, Policy};
use radgate_sim::{SimConfig, simulate};

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");
const SCREENING: &str = include_str!("../../../examples/screening-department.toml");
const SCREENING_POLICY: &str = include_str!("../../../examples/screening-policy.toml");

/// `text` with `len` bytes of its `[simulation]` table from `at` replaced by `f`.
fn edited(text: &str, at: usize, len: usize, f: &str) -> String {
    let start = text.find("[simulation]").unwrap();
    let bytes = text.as_bytes();
    let at = start + at % (bytes.len() - start);
    let end = (at + len).min(bytes.len());
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(f.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&out).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn simulation_table_parse_never_panics(at in 0usize..100_000, len in 0usize..30, f in "[a-z_\\[\\]=\"{}, .0-9\n-]{0,12}") {
        let dept = Department::parse(DEPARTMENT).unwrap();
        if let Err(d) = SimConfig::parse(&edited(DEPARTMENT, at, len, &f), &dept) {
            prop_assert!(!d.0.is_empty() && d.0.iter().all(|d| d.line >= 1));
        }
    }

    #[test]
    fn an_edited_screening_table_is_refused_or_simulated(at in 0usize..100_000, len in 0usize..30, f in "[a-z_\\[\\]=\"{}, .0-9\n-]{0,12}") {
        let dept = Department::parse(SCREENING).unwrap();
        let policy = Policy::parse(SCREENING_POLICY).unwrap();
        match SimConfig::parse(&edited(SCREENING, at, len, &f), &dept) {
            Err(d) => prop_assert!(!d.0.is_empty() && d.0.iter().all(|d| d.line >= 1)),
            // A refusal (a task nobody can do, a screening read without specificity) is
            // an answer too; a panic is not.
            Ok(cfg) => {
                if let Ok(r) = simulate(&dept, &cfg, &policy, 2, 1)
                    && let Some(s) = r.screening
                {
                    for arm in [&s.policy, &s.baseline] {
                        prop_assert!(arm.recalls.is_finite() && arm.recalls >= 0.0);
                        prop_assert!(arm.cancers_detected <= arm.cancers as f64 + 0.05);
                    }
                }
            }
        }
    }
}
