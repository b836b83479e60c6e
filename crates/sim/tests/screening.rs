//! The screening reading model (every read can recall, aided readers, correlated double
//! readers, consensus) and the MASAI example that reproduces the trial.

use radgate_domain::{Department, Pathway, Policy};
use radgate_sim::{SimConfig, SimError, SimReport, masai, simulate};

const DEPARTMENT: &str = include_str!("../../../examples/screening-department.toml");
const POLICY: &str = include_str!("../../../examples/screening-policy.toml");

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap()
}

/// The example with `from` replaced by `to` (which must occur), simulated.
fn run_with(from: &str, to: &str, days: u32, seed: u64) -> Result<SimReport, SimError> {
    assert!(DEPARTMENT.contains(from), "the example has `{from}`");
    let text = DEPARTMENT.replace(from, to);
    let dept = Department::parse(&text).unwrap();
    let cfg = SimConfig::parse(&text, &dept).unwrap();
    simulate(&dept, &cfg, &policy(), days, seed)
}

fn run(days: u32, seed: u64) -> SimReport {
    run_with("", "", days, seed).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    // The report rounds percentages to two decimals.
    (a - b).abs() <= 0.006
}

#[test]
fn the_masai_example_reproduces_the_safety_analysis() {
    // A year of the example is the size of one trial arm (about 40,000 screens).
    let r = run(365, 1);
    let s = r.screening.as_ref().expect("screening outcomes");
    assert!(
        (39_000..41_000).contains(&s.policy.screens),
        "{}",
        s.policy.screens
    );
    let table: Vec<String> = masai::compare(s)
        .iter()
        .map(|c| {
            format!(
                "{} {}: simulated {} published {} ({}-{}) {}",
                c.published.arm,
                c.published.measure,
                c.simulated,
                c.published.value,
                c.published.low,
                c.published.high,
                if c.inside() { "inside" } else { "OUTSIDE" }
            )
        })
        .collect();
    assert!(
        masai::compare(s).iter().all(|c| c.inside()),
        "{}",
        table.join("\n")
    );
    // Fewer cancers missed with AI, as in the trial, and no review sampling.
    assert!(s.policy.interval_cancers_per_1000 < s.baseline.interval_cancers_per_1000);
    assert!(!r.radiologist_reads_by_kind.contains_key("review"));
}

#[test]
fn the_baseline_follows_the_reading_model_in_closed_form() {
    // Every baseline screen is read twice, unaided: a cancer is flagged unless both miss
    // (miss 0.325, the second given the first 0.325 + 0.7 * 0.675), then consensus
    // recalls 95% of it; a screen without cancer is flagged with 1 - 0.9827^2 and 45% of
    // those are recalled.
    let s = run(120, 4).screening.unwrap();
    let m = 0.325 * (0.325 + 0.7 * 0.675);
    assert!(
        close(s.baseline.sensitivity_pct, 100.0 * (1.0 - m) * 0.95),
        "{}",
        s.baseline.sensitivity_pct
    );
    let fp = (1.0 - 0.9827f64.powi(2)) * 0.45;
    assert!(
        close(s.baseline.specificity_pct, 100.0 * (1.0 - fp)),
        "{}",
        s.baseline.specificity_pct
    );
    // Independent readers each add what the other missed.
    let s = run_with("miss_correlation = 0.7", "miss_correlation = 0.0", 120, 4)
        .unwrap()
        .screening
        .unwrap();
    assert!(close(
        s.baseline.sensitivity_pct,
        100.0 * (1.0 - 0.325f64.powi(2)) * 0.95
    ));
    // Without a consensus, every flag recalls and nobody meets.
    let r = run_with("consensus = \"screening_consensus\"\n", "", 120, 4).unwrap();
    let s = r.screening.unwrap();
    assert!(close(s.baseline.specificity_pct, 100.0 * 0.9827f64.powi(2)));
    assert_eq!(s.baseline.consensus_discussions, 0.0);
    assert!(!r.radiologist_reads_by_kind.contains_key("consensus"));
    // Arbitration of discordant reads only: a screen both readers flag is recalled.
    let s = run_with(
        "consensus = \"screening_consensus\"\n",
        "consensus = \"screening_consensus\"\nconsensus_when = \"discordant\"\n",
        120,
        4,
    )
    .unwrap()
    .screening
    .unwrap();
    let (sens, flag) = (0.675, 1.0 - 0.9827);
    let both = sens * (sens + 0.7 * (1.0 - sens));
    let split = (1.0 - m) - both;
    assert!(
        close(s.baseline.sensitivity_pct, 100.0 * (both + split * 0.95)),
        "{}",
        s.baseline.sensitivity_pct
    );
    let fp = flag * flag + 2.0 * flag * (1.0 - flag) * 0.45;
    assert!(close(s.baseline.specificity_pct, 100.0 * (1.0 - fp)));
    // Those discussed are the split reads only.
    let b = &s.baseline;
    let negatives = (b.screens - b.cancers) as f64;
    let discussed = negatives * 2.0 * flag * (1.0 - flag) + b.cancers as f64 * split;
    assert!(
        (b.consensus_discussions - discussed).abs() < 0.06,
        "{} vs {discussed}",
        b.consensus_discussions
    );
    // The counts add up.
    let b = &s.baseline;
    assert!((b.recalls - b.cancers_detected - b.false_positives).abs() < 0.15);
    assert!(close(
        b.interval_cancers_per_1000,
        1000.0 * (b.cancers as f64 - b.cancers_detected) / b.screens as f64
    ));
}

#[test]
fn readers_shown_an_ai_flag_read_with_their_aided_characteristics() {
    let aided = run(120, 9);
    let unaided = run_with(
        "aided_sensitivity = { cad_marks = 0.80, high_risk = 0.909 }",
        "",
        120,
        9,
    )
    .unwrap();
    let (a, u) = (
        aided.screening.as_ref().unwrap(),
        unaided.screening.as_ref().unwrap(),
    );
    // Only the AI arm's flagged reads change: risk 10 (double) and 8-9 (single).
    assert!(a.policy.cancers_detected > u.policy.cancers_detected + 10.0);
    let missed = |r: &SimReport, p: Pathway| r.expected_missed_findings.by_pathway[&p];
    assert!(missed(&aided, Pathway::DoubleRead) < missed(&unaided, Pathway::DoubleRead));
    assert!(missed(&aided, Pathway::SingleRead) < missed(&unaided, Pathway::SingleRead));
    assert_eq!(a.baseline, u.baseline, "the baseline is unaided");
    // Aided specificity: a high-risk flag makes readers flag more screens without cancer.
    let plain_spec = run_with(
        "aided_specificity = { cad_marks = 0.975, high_risk = 0.912 }",
        "",
        120,
        9,
    )
    .unwrap()
    .screening
    .unwrap();
    assert!(a.policy.false_positives > plain_spec.policy.false_positives + 20.0);
    assert_eq!(
        a.policy.cancers_detected,
        plain_spec.policy.cancers_detected
    );
}

#[test]
fn flagged_screens_are_discussed_by_radiologists_in_both_arms() {
    let r = run(120, 2);
    let s = r.screening.as_ref().unwrap();
    // The AI arm's discussions are drawn work items; the report's count is expected.
    let drawn = r.radiologist_reads_by_kind["consensus"] as f64;
    let expected = s.policy.consensus_discussions;
    assert!(
        (drawn - expected).abs() < 0.1 * expected,
        "{drawn} vs {expected}"
    );
    assert_eq!(r.radiologist_reads_by_kind["read"], s.policy.screen_reads);
    // The baseline's discussions count as its work too.
    assert_eq!(
        r.baseline_radiologist_reads,
        (s.baseline.screen_reads as f64 + s.baseline.consensus_discussions).round() as u64
    );
    assert_eq!(r.unfinished_exams, 0);
}

#[test]
fn the_baseline_reads_as_the_ai_arm_does_unless_an_exam_names_its_baseline_task() {
    // Named: that task's characteristics, here a single unaided read with no consensus.
    let named = "screening = true\nbaseline_task = \"final_report\"";
    let e = run_with("screening = true", named, 30, 5).unwrap_err();
    assert!(
        matches!(&e, SimError::ScreeningNeedsSpecificity { task } if task == "final_report"),
        "{e}"
    );
    let text = DEPARTMENT.replace("screening = true", named).replace(
        "id = \"final_report\"\nsensitivity = 0.85\n",
        "id = \"final_report\"\nsensitivity = 0.85\nspecificity = 0.99\n",
    );
    let dept = Department::parse(&text).unwrap();
    let cfg = SimConfig::parse(&text, &dept).unwrap();
    let s = simulate(&dept, &cfg, &policy(), 60, 5)
        .unwrap()
        .screening
        .unwrap();
    // Two independent readers of sensitivity 0.85, every flag a recall.
    assert!(close(
        s.baseline.sensitivity_pct,
        100.0 * (1.0 - 0.15 * 0.15)
    ));
    assert!(close(s.baseline.specificity_pct, 100.0 * 0.99 * 0.99));
}

#[test]
fn screening_inputs_are_checked() {
    let dept = Department::parse(DEPARTMENT).unwrap();
    let bad = |from: &str, to: &str| {
        let text = DEPARTMENT.replace(from, to);
        format!("{:?}", SimConfig::parse(&text, &dept).unwrap_err())
    };
    let e = bad("high_risk = 0.909", "high_risk = 1.5");
    assert!(
        e.contains("aided_sensitivity") && e.contains("high_risk"),
        "{e}"
    );
    let e = bad(
        "sensitivity = 0.95\nspecificity = 0.55\n",
        "sensitivity = 0.95\n",
    );
    assert!(e.contains("consensus task `screening_consensus`"), "{e}");
    let e = bad(
        "consensus = \"screening_consensus\"",
        "consensus = \"tea_break\"",
    );
    assert!(e.contains("tea_break"), "{e}");
    let e = bad(
        "consensus = \"screening_consensus\"",
        "consensus = \"screening_consensus\"\nconsensus_when = \"sometimes\"",
    );
    assert!(e.contains("`any_flag` or `discordant`"), "{e}");
    let e = bad(
        "consensus = \"screening_consensus\"",
        "consensus_when = \"discordant\"",
    );
    assert!(e.contains("needs `consensus`"), "{e}");
    let e = bad("specificity = 0.9827 ", "");
    assert!(
        e.contains("aided_specificity") && e.contains("no `specificity`"),
        "{e}"
    );
    // A screening read without specificity cannot recall: refused before simulating.
    let text = DEPARTMENT
        .replace("specificity = 0.9827 ", "# ")
        .replace("aided_specificity = ", "# ");
    let dept = Department::parse(&text).unwrap();
    let cfg = SimConfig::parse(&text, &dept).unwrap();
    let e = simulate(&dept, &cfg, &policy(), 10, 1).unwrap_err();
    assert!(
        matches!(&e, SimError::ScreeningNeedsSpecificity { task } if task == "screening_mammography_read"),
        "{e}"
    );
}
