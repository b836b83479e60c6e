//! How much the MASAI reproduction depends on the inputs the trial did not publish: each
//! calibrated or assumed input of `examples/screening-department.toml` moved to a low and a
//! high value, the rest kept, a trial-sized year simulated with five seeds and averaged.
//!
//! `cargo run --release -p radgate-sim --example masai_sweep` prints the README's table.

use radgate_domain::{Department, Policy};
use radgate_sim::{ScoreModel, Screening, SimConfig, TaskSim, masai, simulate};

const DEPARTMENT: &str = include_str!("../../../examples/screening-department.toml");
const POLICY: &str = include_str!("../../../examples/screening-policy.toml");
const SEEDS: u64 = 5;

type Change = fn(&mut SimConfig, f64);

fn reader(cfg: &mut SimConfig) -> &mut TaskSim {
    task(cfg, "screening_mammography_read")
}

fn task<'c>(cfg: &'c mut SimConfig, id: &str) -> &'c mut TaskSim {
    cfg.tasks
        .iter_mut()
        .find(|t| t.id.as_str() == id)
        .expect("the example declares the task")
}

fn set_flag(values: &mut [(String, f64)], flag: &str, v: f64) {
    for (f, x) in values.iter_mut() {
        if f == flag {
            *x = v;
        }
    }
}

/// The share of cancers at score 10, the rest scaled to keep their proportions.
fn cancers_at_ten(cfg: &mut SimConfig, v: f64) {
    let ScoreModel::Categories { positive, .. } = &mut cfg.ai[0].findings[0].model else {
        panic!("the example scores in categories");
    };
    let below: f64 = positive[..9].iter().sum();
    for p in positive[..9].iter_mut() {
        *p *= (1.0 - v) / below;
    }
    positive[9] = v;
}

const INPUTS: [(&str, Change, [f64; 2]); 11] = [
    (
        "cancers per screen ([H25]'s control and AI arms)",
        |c, v| c.ai[0].findings[0].prevalence = v,
        [0.00676, 0.00795],
    ),
    (
        "cancers at score 10 (from [NO])",
        cancers_at_ten,
        [0.70, 0.85],
    ),
    (
        "reader sensitivity, unaided (calibrated)",
        |c, v| reader(c).sensitivity = v,
        [0.60, 0.75],
    ),
    (
        "reader specificity, unaided (calibrated)",
        |c, v| reader(c).specificity = Some(v),
        [0.978, 0.987],
    ),
    (
        "reader sensitivity, CAD marks (calibrated)",
        |c, v| set_flag(&mut reader(c).aided_sensitivity, "cad_marks", v),
        [0.70, 0.90],
    ),
    (
        "reader sensitivity, high risk (calibrated)",
        |c, v| set_flag(&mut reader(c).aided_sensitivity, "high_risk", v),
        [0.85, 0.95],
    ),
    (
        "reader specificity, high risk (calibrated)",
        |c, v| set_flag(&mut reader(c).aided_specificity, "high_risk", v),
        [0.88, 0.94],
    ),
    (
        "miss correlation (assumed)",
        |c, v| reader(c).miss_correlation = v,
        [0.5, 0.9],
    ),
    (
        "consensus sensitivity (assumed)",
        |c, v| task(c, "screening_consensus").sensitivity = v,
        [0.90, 1.0],
    ),
    (
        "consensus specificity (assumed)",
        |c, v| task(c, "screening_consensus").specificity = Some(v),
        [0.45, 0.65],
    ),
    (
        "screens without an AI score (assumed)",
        |c, v| c.ai[0].failure_rate = v,
        [0.0, 0.02],
    ),
];

/// The measures of the table, averaged over the seeds.
fn row(dept: &Department, cfg: &SimConfig, policy: &Policy) -> (Vec<f64>, usize) {
    let mut sums = vec![0.0; 11];
    let mut runs: Vec<Screening> = Vec::new();
    for seed in 1..=SEEDS {
        let r = simulate(dept, cfg, policy, 365, seed).expect("the example simulates");
        runs.push(r.screening.expect("a screening example"));
    }
    for s in &runs {
        let values = [
            s.policy.cancer_detection_per_1000,
            s.baseline.cancer_detection_per_1000,
            s.policy.recall_rate_pct,
            s.baseline.recall_rate_pct,
            s.policy.false_positive_rate_pct,
            s.policy.ppv_of_recall_pct,
            s.baseline.ppv_of_recall_pct,
            s.policy.interval_cancers_per_1000,
            s.baseline.interval_cancers_per_1000,
            s.screen_read_reduction_pct,
            0.0,
        ];
        for (sum, v) in sums.iter_mut().zip(values) {
            *sum += v / SEEDS as f64;
        }
    }
    // Inside: the seeds' mean of each published measure within the trial's interval.
    let inside = masai::SAFETY_ANALYSIS
        .iter()
        .filter(|p| {
            let mean: f64 = runs.iter().map(|s| (p.simulated)(s)).sum::<f64>() / SEEDS as f64;
            (p.low..=p.high).contains(&mean)
        })
        .count();
    (sums, inside)
}

fn print_row(input: &str, value: &str, (v, inside): (Vec<f64>, usize)) {
    println!(
        "| {input} | {value} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} | {inside}/{} |",
        v[0],
        v[1],
        v[2],
        v[3],
        v[4],
        v[5],
        v[6],
        v[7],
        v[8],
        v[9],
        masai::SAFETY_ANALYSIS.len()
    );
}

fn main() {
    let dept = Department::parse(DEPARTMENT).expect("the example parses");
    let base = SimConfig::parse(DEPARTMENT, &dept).expect("the example parses");
    let policy = Policy::parse(POLICY).expect("the example parses");
    println!(
        "| input | value | CDR AI | CDR control | recall % AI | recall % control | FP % AI | PPV % AI | PPV % control | interval AI | interval control | read reduction % | inside |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    print_row("(the example)", "", row(&dept, &base, &policy));
    for (name, change, values) in INPUTS {
        for v in values {
            let mut cfg = base.clone();
            change(&mut cfg, v);
            print_row(name, &format!("{v}"), row(&dept, &cfg, &policy));
        }
    }
}
