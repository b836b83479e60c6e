//! The drift alarms on simulated AI: a pulmonary-embolism detector whose sensitivity drops
//! mid-stream raises the CUSUM alarm within a bounded number of exams, and a stable one
//! raises none over a long run. The simulator draws the exams, the truth and the AI scores
//! exactly as it does for `radgate simulate`.

use chrono::{DateTime, Duration, Utc};
use radgate_domain::Department;
use radgate_domain::drift::{Cusum, CusumDesign, score_shift};
use radgate_domain::monitoring::ai_positive;
use radgate_sim::{Feed, ScoreModel, SimConfig};

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

/// The example department with only CTPA exams, so every exam gets a PE result.
fn setup() -> (Department, SimConfig) {
    let dept = Department::parse(DEPARTMENT).unwrap();
    let mut cfg = SimConfig::parse(DEPARTMENT, &dept).unwrap();
    cfg.exams.retain(|e| e.procedure_code == "CTPA");
    for ai in &mut cfg.ai {
        ai.failure_rate = 0.0;
    }
    assert!(!cfg.exams.is_empty());
    (dept, cfg)
}

/// One exam's PE call and truth, and its score.
fn pe(feed: &mut Feed, dept: &Department, at: DateTime<Utc>) -> (bool, f64) {
    let exam = feed.next_exam(at);
    let r = exam
        .ai
        .iter()
        .find(|a| a.result.app.as_str() == "pe-detect")
        .expect("a PE result on every CTPA");
    let f = &r.result.findings[0];
    let spec = dept
        .ai_application("pe-detect")
        .unwrap()
        .finding("pulmonary_embolism");
    let discordant = ai_positive(spec, f) != exam.truth;
    (discordant, f.score.unwrap())
}

/// Runs `n` exams, switching the detector to `after` from exam `change` on; returns the
/// exam numbers at which the CUSUM alarmed and the scores before and after the change.
fn run(
    n: usize,
    change: usize,
    after: Option<ScoreModel>,
    design: CusumDesign,
) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let (dept, cfg) = setup();
    let mut drifted = cfg.clone();
    if let Some(model) = after {
        drifted
            .ai
            .iter_mut()
            .find(|a| a.app.as_str() == "pe-detect")
            .unwrap()
            .findings[0]
            .model = model;
    }
    let t0: DateTime<Utc> = "2026-01-05T08:00:00Z".parse().unwrap();
    let mut before_feed = Feed::new(dept.clone(), cfg, 7, "DRIFTA");
    let mut after_feed = Feed::new(dept.clone(), drifted, 8, "DRIFTB");
    let mut cusum = Cusum::new(design);
    let (mut alarms, mut before, mut after_scores) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let at = t0 + Duration::minutes(i as i64 * 20);
        let (discordant, score) = if i < change {
            pe(&mut before_feed, &dept, at)
        } else {
            pe(&mut after_feed, &dept, at)
        };
        if i < change {
            before.push(score);
        } else {
            after_scores.push(score);
        }
        if cusum.push(discordant) {
            alarms.push(i);
        }
    }
    (alarms, before, after_scores)
}

/// The design a RAIO would make: p0 from a baseline of 2,000 exams, tuned to a doubling,
/// one false alarm per 50,000 exams in control.
fn design() -> (CusumDesign, f64) {
    let (dept, cfg) = setup();
    let mut feed = Feed::new(dept.clone(), cfg, 1, "BASE");
    let t0: DateTime<Utc> = "2025-11-01T08:00:00Z".parse().unwrap();
    let discordant = (0..2000)
        .filter(|i| pe(&mut feed, &dept, t0 + Duration::minutes(*i as i64 * 20)).0)
        .count();
    let p0 = discordant as f64 / 2000.0;
    (CusumDesign::for_arl(p0, 2.0 * p0.max(0.005), 50_000.0), p0)
}

#[test]
fn a_stable_detector_raises_no_alarm_over_a_long_run() {
    let (d, p0) = design();
    let (alarms, first, second) = run(30_000, 15_000, None, d);
    assert!(
        alarms.is_empty(),
        "false alarms at {alarms:?} (baseline p0 {p0}, design {d:?}, in-control ARL at p0 {})",
        d.arl(p0.max(1e-6))
    );
    let shift = score_shift(&first, &second, (0.0, 1.0)).unwrap();
    assert!(!shift.alarm, "{shift:?}");
}

#[test]
fn a_sensitivity_drop_mid_stream_is_caught_within_a_bounded_number_of_exams() {
    let (d, _) = design();
    // From exam 5,000 on, positives score like Beta(2, 3): most fall below the 0.6
    // operating point, sensitivity drops from about 97% to about 18%.
    let drop = ScoreModel::Beta {
        positive: (2.0, 3.0),
        negative: (1.0, 15.0),
    };
    let (alarms, before, after) = run(8_000, 5_000, Some(drop), d);
    let first = *alarms.first().expect("the drift raises the alarm");
    assert!(
        first >= 5_000,
        "a false alarm before the change, at {first}"
    );
    let delay = first - 5_000;
    assert!(delay <= 1_000, "caught only after {delay} exams");
    // The label-free signal sees it too, without waiting for reports.
    let shift = score_shift(&before, &after[..1000], (0.0, 1.0)).unwrap();
    assert!(shift.alarm, "{shift:?}");
    println!(
        "CUSUM {d:?}: alarm {delay} exams after the change; score PSI {:.3}",
        shift.psi
    );
}
