//! Measuring AI applications against what radiologists finally report.
//!
//! - The AI's call on a finding: positive when its score is at or above the finding's
//!   `positive_at` operating point; without one, at or above `critical_at` (a triage
//!   application) or else at or above `normal_below` (a normal filter, whose "not normal"
//!   is its positive). A result without a score counts its `critical` flag, else the
//!   negation of its `normal` flag when the application is a normal filter.
//! - The truth: the coded findings of the study's final authorized report, addenda
//!   included; a finding an addendum adds counts as "found later".
//! - The human comparison: the findings of the first report version that left draft
//!   (the delegate's preliminary report or the radiologist's own), on the same studies.
//!
//! Counts come from the store (aggregated in the database); this module turns them into
//! rates with Wald, Wilson and Clopper-Pearson intervals and the paired McNemar test.

use radgate_stats::{Interval, McNemar, Method, mcnemar, proportion};
use serde::Serialize;

use crate::ai::{AiFinding, FindingSpec};
use crate::ids::FindingCode;
use crate::report::{Report, ReportState};

/// Whether the application called `finding` present, by the rule above.
pub fn ai_positive(spec: Option<&FindingSpec>, finding: &AiFinding) -> bool {
    let threshold = spec.and_then(|s| s.positive_at.or(s.critical_at).or(s.normal_below));
    match (finding.score, threshold) {
        (Some(score), Some(t)) => score >= t,
        // No score to compare: the flags say it. A normal filter (only `normal_below`
        // declared) calls "not normal" positive; anything else calls "critical" positive.
        _ => {
            let normal_filter = spec.is_some_and(|s| {
                s.positive_at.is_none() && s.critical_at.is_none() && s.normal_below.is_some()
            });
            finding.critical || (normal_filter && !finding.normal)
        }
    }
}

/// The AI results routing may use. An application whose status in force (`changes`: the
/// latest status change of each application) is suspended or retired is ignored; so is one
/// whose register entry asks for fallback while one of its monitoring alarms of a kind that
/// falls back (`AlarmKind::falls_back`) is active (`alarmed`: application and kind). The
/// study then goes the way it would without AI until the RAIO restores the application or
/// clears the alarm.
pub fn usable_results(
    results: Vec<crate::ai::AiResult>,
    dept: &crate::department::Department,
    alarmed: &[(crate::ids::AiAppId, crate::drift::AlarmKind)],
    changes: &[crate::ai::StatusChange],
) -> Vec<crate::ai::AiResult> {
    results
        .into_iter()
        .filter(|r| {
            let Some(app) = dept.ai_application(r.app.as_str()) else {
                return true; // unregistered results never match a rule; keep them visible
            };
            let falls_back = alarmed
                .iter()
                .any(|(a, kind)| a == &r.app && kind.falls_back());
            app.in_force(changes).status.in_use() && !(falls_back && app.fallback_on_alarm)
        })
        .collect()
}

/// The truth a final report establishes: every finding of the authorized content and its
/// addenda, and which of them only an addendum added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truth {
    pub present: Vec<FindingCode>,
    pub found_later: Vec<FindingCode>,
}

impl Truth {
    /// `None` until the report is authorized.
    pub fn of(report: &Report) -> Option<Truth> {
        if report.state != ReportState::Authorized {
            return None;
        }
        let present = report.final_findings()?;
        let found_later = present
            .iter()
            .filter(|f| !report.content.findings.contains(f))
            .cloned()
            .collect();
        Some(Truth {
            present,
            found_later,
        })
    }
}

/// The findings of the first report version that left draft: the initial human report
/// the AI is compared with. `None` while the report is still a draft.
pub fn initial_human_findings(report: &Report) -> Option<&[FindingCode]> {
    report
        .history
        .iter()
        .find(|v| v.state != ReportState::Draft)
        .map(|v| v.content.findings.as_slice())
}

/// The counts for one application version, finding and stratum, as the store aggregates
/// them over studies with a final report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub tn: u64,
    /// Of the findings present in truth (TP + FN), those only an addendum added.
    pub found_later: u64,
    /// Studies where the initial human report is known, and on those: AI right and human
    /// wrong, AI wrong and human right.
    pub paired: u64,
    pub ai_only_right: u64,
    pub human_only_right: u64,
}

/// The counts of one application version, finding and (when asked for) stratum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountRow {
    pub version: String,
    pub finding: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stratum: Option<String>,
    pub counts: Counts,
}

/// One reported call with a score, for ROC analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredCall {
    pub version: String,
    pub finding: String,
    pub stratum: Option<String>,
    pub score: f64,
    pub truth: bool,
}

/// A [`CountRow`] with its rates, intervals and paired test, and the ROC AUC with its
/// DeLong 95% interval when scores were asked for and both classes have two or more.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsRow {
    pub version: String,
    pub finding: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stratum: Option<String>,
    #[serde(flatten)]
    pub metrics: Metrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<radgate_stats::Auc>,
}

impl MetricsRow {
    pub fn of(row: CountRow) -> MetricsRow {
        MetricsRow {
            version: row.version,
            finding: row.finding,
            stratum: row.stratum,
            metrics: Metrics::of(row.counts),
            auc: None,
        }
    }

    /// The rows with the AUC of each row's scores filled in.
    pub fn with_auc(rows: Vec<MetricsRow>, scores: &[ScoredCall]) -> Vec<MetricsRow> {
        rows.into_iter()
            .map(|mut r| {
                let (mut pos, mut neg) = (Vec::new(), Vec::new());
                for s in scores.iter().filter(|s| {
                    s.version == r.version && s.finding == r.finding && s.stratum == r.stratum
                }) {
                    if s.truth {
                        pos.push(s.score);
                    } else {
                        neg.push(s.score);
                    }
                }
                r.auc = radgate_stats::auc_delong(&pos, &neg, 0.95);
                r
            })
            .collect()
    }
}

/// Median, 90th percentile and share within an SLA of some durations in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Turnaround {
    pub exams: usize,
    pub median_minutes: f64,
    pub p90_minutes: f64,
    /// Share done within the SLA, when an SLA applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_sla: Option<Rate>,
}

impl Turnaround {
    /// `None` for no durations. Percentiles interpolate linearly between order statistics
    /// (numpy's default).
    pub fn of(minutes: &[f64], sla_minutes: Option<f64>) -> Option<Turnaround> {
        if minutes.is_empty() {
            return None;
        }
        let mut v = minutes.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let x = p * (v.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
        };
        Some(Turnaround {
            exams: v.len(),
            median_minutes: q(0.5),
            p90_minutes: q(0.9),
            within_sla: sla_minutes.and_then(|sla| {
                Rate::of(
                    v.iter().filter(|m| **m <= sla).count() as u64,
                    v.len() as u64,
                )
            }),
        })
    }
}

/// Turnaround of one priority (or `all`): acquisition to AI result, and to the authorized
/// report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnaroundRow {
    pub priority: String,
    pub to_ai_result: Option<Turnaround>,
    pub to_authorized_report: Option<Turnaround>,
}

/// One study's times, in minutes from acquisition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyTimes {
    /// The ordered priority's code.
    pub priority: String,
    pub to_ai_result: Option<f64>,
    pub to_authorized: Option<f64>,
}

/// Rows per priority (stat, urgent, routine, those with studies) and `all`.
pub fn turnaround_rows(studies: &[StudyTimes], ai_sla_minutes: f64) -> Vec<TurnaroundRow> {
    let row = |name: &str, keep: &dyn Fn(&str) -> bool| {
        let of = |f: fn(&StudyTimes) -> Option<f64>| -> Vec<f64> {
            studies
                .iter()
                .filter(|s| keep(&s.priority))
                .filter_map(f)
                .collect()
        };
        TurnaroundRow {
            priority: name.to_owned(),
            to_ai_result: Turnaround::of(&of(|s| s.to_ai_result), Some(ai_sla_minutes)),
            to_authorized_report: Turnaround::of(&of(|s| s.to_authorized), None),
        }
    };
    let mut out: Vec<TurnaroundRow> = crate::study::Priority::ALL
        .iter()
        .map(|p| row(p.code(), &|s: &str| s == p.code()))
        .filter(|r| r.to_ai_result.is_some() || r.to_authorized_report.is_some())
        .collect();
    out.push(row("all", &|_: &str| true));
    out
}

/// A rate with its three 95% intervals; absent when its denominator is zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub estimate: f64,
    pub successes: u64,
    pub trials: u64,
    pub wald: [f64; 2],
    pub wilson: [f64; 2],
    pub exact: [f64; 2],
}

impl Rate {
    pub fn of(successes: u64, trials: u64) -> Option<Rate> {
        if trials == 0 {
            return None;
        }
        let ci = |m: Method| {
            let i: Interval = proportion(successes, trials, m, 0.95).expect("valid counts");
            [i.lower, i.upper]
        };
        Some(Rate {
            estimate: successes as f64 / trials as f64,
            successes,
            trials,
            wald: ci(Method::Wald),
            wilson: ci(Method::Wilson),
            exact: ci(Method::Exact),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub counts: Counts,
    pub prevalence: Option<Rate>,
    pub sensitivity: Option<Rate>,
    pub specificity: Option<Rate>,
    pub ppv: Option<Rate>,
    pub npv: Option<Rate>,
    /// AI against the initial human report on the same studies; absent without
    /// discordant pairs to test.
    pub versus_human: Option<McNemar>,
}

impl Metrics {
    pub fn of(c: Counts) -> Metrics {
        let n = c.tp + c.fp + c.fn_ + c.tn;
        Metrics {
            counts: c,
            prevalence: Rate::of(c.tp + c.fn_, n),
            sensitivity: Rate::of(c.tp, c.tp + c.fn_),
            specificity: Rate::of(c.tn, c.tn + c.fp),
            ppv: Rate::of(c.tp, c.tp + c.fp),
            npv: Rate::of(c.tn, c.tn + c.fn_),
            versus_human: (c.ai_only_right + c.human_only_right > 0)
                .then(|| mcnemar(c.ai_only_right, c.human_only_right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(critical: Option<f64>, normal: Option<f64>, positive: Option<f64>) -> FindingSpec {
        FindingSpec {
            code: FindingCode::parse("pe").unwrap(),
            score_range: (0.0, 1.0),
            critical_at: critical,
            normal_below: normal,
            positive_at: positive,
            sensitivity_floor: None,
            sr: None,
        }
    }

    fn finding(score: Option<f64>, critical: bool, normal: bool) -> AiFinding {
        AiFinding {
            code: FindingCode::parse("pe").unwrap(),
            score,
            critical,
            normal,
        }
    }

    #[test]
    fn the_call_follows_the_declared_operating_point() {
        let triage = spec(Some(0.6), Some(0.1), None);
        assert!(ai_positive(
            Some(&triage),
            &finding(Some(0.6), false, false)
        ));
        assert!(!ai_positive(
            Some(&triage),
            &finding(Some(0.59), false, false)
        ));
        let explicit = spec(Some(0.6), Some(0.1), Some(0.3));
        assert!(ai_positive(
            Some(&explicit),
            &finding(Some(0.3), false, false)
        ));
        let filter = spec(None, Some(0.1), None);
        assert!(ai_positive(
            Some(&filter),
            &finding(Some(0.1), false, false)
        ));
        assert!(!ai_positive(
            Some(&filter),
            &finding(Some(0.09), false, true)
        ));
        // Without scores the flags decide.
        assert!(ai_positive(Some(&triage), &finding(None, true, false)));
        assert!(!ai_positive(Some(&triage), &finding(None, false, false)));
        assert!(ai_positive(Some(&filter), &finding(None, false, false)));
        assert!(!ai_positive(Some(&filter), &finding(None, false, true)));
        assert!(!ai_positive(None, &finding(Some(0.9), false, false)));
    }

    #[test]
    fn turnaround_percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 90]) = [3.0, 7.6]
        let t = Turnaround::of(&[4.0, 1.0, 10.0, 3.0, 2.0], Some(3.0)).unwrap();
        assert_eq!(t.median_minutes, 3.0);
        assert!((t.p90_minutes - 7.6).abs() < 1e-12);
        assert_eq!(t.within_sla.unwrap().successes, 3);
        assert_eq!(Turnaround::of(&[], None), None);
        let times = |p: &str, ai: Option<f64>, report: Option<f64>| StudyTimes {
            priority: p.into(),
            to_ai_result: ai,
            to_authorized: report,
        };
        let rows = turnaround_rows(
            &[
                times("stat", Some(2.0), Some(30.0)),
                times("routine", Some(20.0), None),
            ],
            10.0,
        );
        let names: Vec<&str> = rows.iter().map(|r| r.priority.as_str()).collect();
        assert_eq!(names, ["stat", "routine", "all"]);
        assert_eq!(
            rows[2].to_ai_result.unwrap().within_sla.unwrap().estimate,
            0.5
        );
        assert_eq!(rows[1].to_authorized_report, None);
    }

    #[test]
    fn rates_by_hand_including_zero_and_full_counts() {
        let m = Metrics::of(Counts {
            tp: 18,
            fp: 10,
            fn_: 2,
            tn: 70,
            ..Counts::default()
        });
        assert_eq!(m.sensitivity.unwrap().estimate, 0.9);
        assert_eq!(m.specificity.unwrap().estimate, 0.875);
        assert_eq!(m.ppv.unwrap().estimate, 18.0 / 28.0);
        assert_eq!(m.npv.unwrap().estimate, 70.0 / 72.0);
        assert_eq!(m.prevalence.unwrap().estimate, 0.2);
        // No positives at all: sensitivity undefined, not 0 or 1.
        let none = Metrics::of(Counts {
            tn: 50,
            ..Counts::default()
        });
        assert_eq!(none.sensitivity, None);
        assert_eq!(none.ppv, None);
        let spec = none.specificity.unwrap();
        assert_eq!(spec.estimate, 1.0);
        // Clopper-Pearson at 50/50: lower bound (0.025)^(1/50).
        assert!(
            (spec.exact[0] - 0.025f64.powf(1.0 / 50.0)).abs() < 1e-9,
            "{spec:?}"
        );
        assert_eq!(spec.exact[1], 1.0);
        assert_eq!(spec.wald, [1.0, 1.0], "Wald collapses at 100%");
        assert_eq!(none.versus_human, None);
    }
}
