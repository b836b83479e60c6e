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
