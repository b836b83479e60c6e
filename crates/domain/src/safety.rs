//! Safety of "cleared" and "normal": exams a gatekeeper cleared or an AI called normal
//! without a radiologist's read. A reproducible sample of them (the fraction the decision
//! carries from the task agreement and the policy) goes to a radiologist for retrospective
//! review; the misses found there, with their intervals, are the safety figure, and the
//! NPV of "cleared" is one minus the miss rate.

use radgate_stats::trials_for_wilson_width;
use serde::Serialize;

use crate::decision::Decision;
use crate::department::Department;
use crate::ids::{AccessionNumber, TaskTypeId};
use crate::monitoring::Rate;

/// Whether a cleared (or autonomous-normal) exam is drawn for retrospective review: a draw
/// keyed by the policy version that decided, so anyone can re-draw it.
pub fn drawn_for_review(accession: &AccessionNumber, decision: &Decision) -> bool {
    crate::sampling::in_sample(
        &decision.policy_version,
        accession.as_str(),
        decision.review_fraction,
    )
}

/// The NPV interval width a review aims for when the task agreement names none.
pub const DEFAULT_NPV_INTERVAL_WIDTH: f64 = 0.05;

/// The agreed width of the NPV's interval for exams cleared under `task`: the valid task
/// agreement's `npv_interval_width`, else the default.
pub fn agreed_width(dept: &Department, task: &TaskTypeId) -> f64 {
    dept.agreements
        .iter()
        .find(|a| &a.task == task)
        .and_then(|a| a.npv_interval_width)
        .unwrap_or(DEFAULT_NPV_INTERVAL_WIDTH)
}

/// The safety of "cleared" for one task (a gatekeeping task, or the task an autonomous
/// normal decision stands for) over the reviewed exams.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafetyReport {
    pub task: TaskTypeId,
    pub reviewed: u64,
    /// Reviewed exams where the radiologist found what the clearance missed.
    pub misses: u64,
    pub miss_rate: Option<Rate>,
    /// Negative predictive value of "cleared": reviewed exams with nothing missed.
    pub npv: Option<Rate>,
    /// The agreed width of the NPV's Wilson 95% interval.
    pub target_width: f64,
    pub interval_width: Option<f64>,
    /// More reviewed exams needed before the interval is that narrow, at the NPV seen
    /// so far (0 when it already is).
    pub more_reviews_needed: Option<u64>,
}

impl SafetyReport {
    pub fn of(task: TaskTypeId, reviewed: u64, misses: u64, target_width: f64) -> SafetyReport {
        let npv = Rate::of(reviewed - misses, reviewed);
        let interval_width = npv.map(|r| r.wilson[1] - r.wilson[0]);
        let estimate = npv.map_or(1.0, |r| r.estimate);
        let more_reviews_needed = trials_for_wilson_width(estimate, target_width, 0.95, reviewed)
            .map(|n| n.saturating_sub(reviewed));
        SafetyReport {
            task,
            reviewed,
            misses,
            miss_rate: Rate::of(misses, reviewed),
            npv,
            target_width,
            interval_width,
            more_reviews_needed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(t: &str) -> TaskTypeId {
        TaskTypeId::parse(t).unwrap()
    }

    #[test]
    fn npv_and_the_reviews_still_needed() {
        // 200 reviewed, 2 missed: NPV 99%, Wilson 96.428-99.725% (statsmodels'
        // proportion_confint(198, 200, method="wilson")), width 3.2975%.
        let r = SafetyReport::of(task("cxr_gatekeeping"), 200, 2, 0.02);
        assert_eq!(r.npv.unwrap().estimate, 0.99);
        let w = r.interval_width.unwrap();
        assert!((w - 0.032_975_1).abs() < 1e-6, "{w}");
        let more = r.more_reviews_needed.unwrap();
        assert!(more > 0, "a 2% width needs more than 200");
        // At the same NPV, 200 + more reviews bring the width to 2% or below.
        let then = SafetyReport::of(task("cxr_gatekeeping"), 200 + more, (2 + more) / 100, 0.02);
        assert!(then.interval_width.unwrap() <= 0.0205, "{then:?}");
        // Nothing reviewed yet: no rates, and the count needed at a perfect NPV (73 for 5%).
        let none = SafetyReport::of(task("cxr_gatekeeping"), 0, 0, 0.05);
        assert_eq!((none.npv, none.miss_rate), (None, None));
        assert_eq!(none.more_reviews_needed, Some(73));
    }
}
