//! The MASAI trial's published screening outcomes, to hold a simulation of its design
//! against (`examples/screening-*.toml`, the reproduction test, the README's table).
//!
//! Lång K et al. Artificial intelligence-supported screen reading versus standard double
//! reading in the Mammography Screening with Artificial Intelligence trial (MASAI): a
//! clinical safety analysis. Lancet Oncol 2023; 24: 936-44. Estimates and 95% confidence
//! intervals as the abstract gives them.

use crate::report::{Screening, ScreeningArm};

/// One published figure of one arm.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    pub measure: &'static str,
    /// `AI` (the intervention arm, the simulated policy) or `control` (the baseline).
    pub arm: &'static str,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// How the simulation reports the measure.
    pub simulated: fn(&Screening) -> f64,
}

/// The published figure beside the simulated one.
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    pub published: Published,
    pub simulated: f64,
}

impl Comparison {
    pub fn inside(&self) -> bool {
        (self.published.low..=self.published.high).contains(&self.simulated)
    }
}

fn ai(s: &Screening) -> &ScreeningArm {
    &s.policy
}

fn control(s: &Screening) -> &ScreeningArm {
    &s.baseline
}

/// The safety analysis's outcomes. The trial published no interval for the workload
/// reduction (46,345 against 83,231 screen readings); the one here is derived from those
/// counts as binomial variation of each arm's reads beyond one per screen (39,996 and
/// 40,024 screens), the delta method on the ratio: 44.3% +- 0.19.
pub const SAFETY_ANALYSIS: [Published; 9] = [
    Published {
        measure: "screen-read reduction %",
        arm: "AI",
        value: 44.3,
        low: 44.1,
        high: 44.5,
        simulated: |s| s.screen_read_reduction_pct,
    },
    Published {
        measure: "cancer detection /1000",
        arm: "AI",
        value: 6.1,
        low: 5.4,
        high: 6.9,
        simulated: |s| ai(s).cancer_detection_per_1000,
    },
    Published {
        measure: "cancer detection /1000",
        arm: "control",
        value: 5.1,
        low: 4.4,
        high: 5.8,
        simulated: |s| control(s).cancer_detection_per_1000,
    },
    Published {
        measure: "recall rate %",
        arm: "AI",
        value: 2.2,
        low: 2.0,
        high: 2.3,
        simulated: |s| ai(s).recall_rate_pct,
    },
    Published {
        measure: "recall rate %",
        arm: "control",
        value: 2.0,
        low: 1.9,
        high: 2.2,
        simulated: |s| control(s).recall_rate_pct,
    },
    Published {
        measure: "false-positive rate %",
        arm: "AI",
        value: 1.5,
        low: 1.4,
        high: 1.7,
        simulated: |s| ai(s).false_positive_rate_pct,
    },
    Published {
        measure: "false-positive rate %",
        arm: "control",
        value: 1.5,
        low: 1.4,
        high: 1.7,
        simulated: |s| control(s).false_positive_rate_pct,
    },
    Published {
        measure: "PPV of recall %",
        arm: "AI",
        value: 28.3,
        low: 25.3,
        high: 31.5,
        simulated: |s| ai(s).ppv_of_recall_pct,
    },
    Published {
        measure: "PPV of recall %",
        arm: "control",
        value: 24.8,
        low: 21.9,
        high: 28.0,
        simulated: |s| control(s).ppv_of_recall_pct,
    },
];

/// The full cohort's interval cancers per 1,000 (AI 1.55, control 1.76), reported beside
/// the simulation but not held to: the simulation has one prevalence for both arms, and
/// the trial's AI arm found cancers that would not have surfaced within the interval.
pub const INTERVAL_CANCERS_PER_1000: (f64, f64) = (1.55, 1.76);

/// Every safety-analysis figure beside the simulation's.
pub fn compare(s: &Screening) -> Vec<Comparison> {
    SAFETY_ANALYSIS
        .iter()
        .map(|p| Comparison {
            published: *p,
            simulated: (p.simulated)(s),
        })
        .collect()
}
