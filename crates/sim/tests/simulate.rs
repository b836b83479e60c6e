//! Simulator fidelity: what it generates matches what the department declares.

use radgate_domain::{Department, Policy};
use radgate_sim::{SimConfig, simulate};

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");
const POLICY: &str = include_str!("../../../examples/policy.toml");

fn setup(text: &str) -> (Department, SimConfig, Policy) {
    let dept = Department::parse(text).unwrap();
    let cfg = SimConfig::parse(text, &dept).unwrap();
    (dept, cfg, Policy::parse(POLICY).unwrap())
}

#[test]
fn a_simulated_year_matches_the_declared_annual_volume() {
    let (dept, cfg, policy) = setup(DEPARTMENT);
    let declared: f64 = cfg.exams.iter().map(|e| e.per_year).sum::<f64>() * 364.0 / 365.25;
    let r = simulate(&dept, &cfg, &policy, 364, 11).unwrap();
    let ratio = r.exams as f64 / declared;
    // Poisson noise on ~175k exams is about 0.25%; 1% leaves room without hiding a bias.
    assert!(
        (0.99..1.01).contains(&ratio),
        "simulated {} vs declared {declared:.0}",
        r.exams
    );
    assert_eq!(r.unfinished_exams, 0);
}

#[test]
fn stat_work_is_served_before_routine_work() {
    let (dept, cfg, policy) = setup(DEPARTMENT);
    let r = simulate(&dept, &cfg, &policy, 28, 5).unwrap();
    let t = &r.turnaround_minutes;
    let stat = &t[&radgate_domain::Priority::Stat];
    let routine = &t[&radgate_domain::Priority::Routine];
    assert!(
        stat.p90 < routine.p90,
        "stat p90 {} vs routine p90 {}",
        stat.p90,
        routine.p90
    );
}

#[test]
fn without_night_staff_evening_work_waits_for_the_morning() {
    // Remove the radiologist on-call shift: stat exams acquired at night now wait for the
    // day shift, so stat SLA compliance must drop.
    let (dept, cfg, policy) = setup(DEPARTMENT);
    let with_night = simulate(&dept, &cfg, &policy, 28, 9).unwrap();
    let text = DEPARTMENT.replace(
        "count = 1\nhours = \"17:00-08:00\"",
        "count = 0\nhours = \"17:00-08:00\"",
    );
    let (dept, cfg, policy) = setup(&text);
    let without = simulate(&dept, &cfg, &policy, 28, 9).unwrap();
    let stat = radgate_domain::Priority::Stat;
    assert!(
        without.sla_compliance_pct_by_priority[&stat]
            < with_night.sla_compliance_pct_by_priority[&stat] - 10.0,
        "{} vs {}",
        without.sla_compliance_pct_by_priority[&stat],
        with_night.sla_compliance_pct_by_priority[&stat]
    );
    assert_eq!(
        with_night.exams, without.exams,
        "the roster does not change arrivals"
    );
}

#[test]
fn gatekeeping_escalations_follow_the_declared_gatekeeper_characteristics() {
    // AI-normal chest and extremity X-rays reach the gatekeeper; with finding prevalence p
    // among them, escalations are p*sens + (1-p)*(1-spec) of gatekept exams. The AI calls
    // normal mostly when there is no finding, so escalations lie near (1-spec) = 15%.
    let (dept, cfg, policy) = setup(DEPARTMENT);
    let r = simulate(&dept, &cfg, &policy, 56, 2).unwrap();
    let gatekept = r.pathways[&radgate_domain::Pathway::Gatekeeper] as f64;
    let escalated = r.radiologist_reads_by_kind["escalation"] as f64;
    let share = escalated / gatekept;
    assert!((0.12..0.19).contains(&share), "escalation share {share}");
}

#[test]
fn the_baseline_reads_as_the_ai_arm_does_unless_an_exam_names_its_baseline_task() {
    let text = include_str!("../../../examples/screening-department.toml");
    let policy = Policy::parse(include_str!("../../../examples/screening-policy.toml")).unwrap();
    let dept = Department::parse(text).unwrap();
    let cfg = SimConfig::parse(text, &dept).unwrap();
    // Unset: the policy's task without AI (screening reads, sensitivity 0.80), two readers.
    // The report rounds to two decimals.
    let r = simulate(&dept, &cfg, &policy, 60, 5).unwrap();
    let n = r.expected_missed_findings.exams_with_finding as f64;
    assert!(n > 0.0);
    assert!(
        (r.expected_missed_findings.baseline - n * 0.2f64.powi(2)).abs() < 0.006,
        "{:?}",
        r.expected_missed_findings
    );
    // Named: that task's sensitivity (final_report, 0.85).
    let named = text.replace(
        "baseline_readers = 2",
        "baseline_readers = 2\nbaseline_task = \"final_report\"",
    );
    let cfg = SimConfig::parse(&named, &dept).unwrap();
    let r = simulate(&dept, &cfg, &policy, 60, 5).unwrap();
    assert!(
        (r.expected_missed_findings.baseline - n * 0.15f64.powi(2)).abs() < 0.006,
        "{:?}",
        r.expected_missed_findings
    );
}

#[test]
fn readers_shown_an_ai_flag_read_with_their_aided_sensitivity_and_double_readers_can_miss_together()
{
    use radgate_domain::Pathway;
    let text = include_str!("../../../examples/screening-department.toml");
    let policy = Policy::parse(include_str!("../../../examples/screening-policy.toml")).unwrap();
    let dept = Department::parse(text).unwrap();
    let task = "id = \"screening_mammography_read\"\nsensitivity = 0.80\n";
    assert!(text.contains(task));
    let run = |extra: &str| {
        let t = text.replace(task, &format!("{task}{extra}"));
        let cfg = SimConfig::parse(&t, &dept).unwrap();
        simulate(&dept, &cfg, &policy, 120, 9)
            .unwrap()
            .expected_missed_findings
    };
    let plain = run("");
    // The risk-10 exams carry the `high_risk` flag: only their double reads improve.
    let aided = run("aided_sensitivity = { high_risk = 0.95 }\n");
    assert!(aided.by_pathway[&Pathway::DoubleRead] < plain.by_pathway[&Pathway::DoubleRead]);
    assert_eq!(
        aided.by_pathway[&Pathway::SingleRead],
        plain.by_pathway[&Pathway::SingleRead]
    );
    assert_eq!(aided.baseline, plain.baseline, "the baseline is unaided");
    // Correlated readers miss more together, in both arms' double reads.
    let together = run("miss_correlation = 0.5\n");
    assert!(together.by_pathway[&Pathway::DoubleRead] > plain.by_pathway[&Pathway::DoubleRead]);
    assert!(together.baseline > plain.baseline);
    // Out of range is named.
    let bad = text.replace(
        task,
        &format!("{task}aided_sensitivity = {{ high_risk = 1.5 }}\n"),
    );
    let e = SimConfig::parse(&bad, &dept).unwrap_err();
    assert!(format!("{e:?}").contains("high_risk"), "{e:?}");
}
