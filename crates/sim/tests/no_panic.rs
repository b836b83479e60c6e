//! The simulation table reader never panics on an edited department file.

use proptest::prelude::*;
use radgate_domain::Department;
use radgate_sim::SimConfig;

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn simulation_table_parse_never_panics(at in 0usize..100_000, len in 0usize..30, f in "[a-z_\\[\\]=\"{}, .0-9\n-]{0,12}") {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let start = DEPARTMENT.find("[simulation]").unwrap();
        let bytes = DEPARTMENT.as_bytes();
        let at = start + at % (bytes.len() - start);
        let end = (at + len).min(bytes.len());
        let mut out = bytes[..at].to_vec();
        out.extend_from_slice(f.as_bytes());
        out.extend_from_slice(&bytes[end..]);
        let text = String::from_utf8_lossy(&out);
        if let Err(d) = SimConfig::parse(&text, &dept) {
            prop_assert!(!d.0.is_empty() && d.0.iter().all(|d| d.line >= 1));
        }
    }
}
