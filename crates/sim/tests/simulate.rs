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
