//! Pilots: an AI application on trial. The expected effects are declared before the pilot
//! starts and cannot change after; at the end, what was measured stands beside what was
//! declared, each with a verdict, and the RAIO records the decision to scale up or stop,
//! with its reason.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ai::AiStatus;
use crate::department::Department;
use crate::ids::{AiAppId, FindingCode};
use crate::monitoring::{CountRow, Rate, Turnaround};

/// One effect the pilot promises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// The application's sensitivity for `finding` against final reports is at least this.
    SensitivityAtLeast {
        finding: FindingCode,
        value: f64,
    },
    SpecificityAtLeast {
        finding: FindingCode,
        value: f64,
    },
    /// Radiologist work items per exam of the application's intended use fall by at least
    /// this many percent against the baseline period.
    RadiologistWorkloadDownPct {
        value: f64,
    },
    /// The median minutes from acquisition to the authorized report fall by at least this.
    TurnaroundDownMinutes {
        value: f64,
    },
}

/// A pilot as declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pilot {
    pub id: String,
    pub app: AiAppId,
    /// First and last day of the pilot (inclusive, UTC).
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The period measured against: by default as many days as the pilot, just before it.
    pub baseline_start: NaiveDate,
    pub baseline_end: NaiveDate,
    pub expected: Vec<Expectation>,
    pub declared_by: String,
    pub declared_at: DateTime<Utc>,
}

/// What a declaration asks for; `Pilot::declare` checks it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    pub id: String,
    pub app: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    #[serde(default)]
    pub baseline_start: Option<NaiveDate>,
    #[serde(default)]
    pub baseline_end: Option<NaiveDate>,
    pub expected: Vec<Expectation>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PilotError {
    #[error("`{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("pilot `{0}` is already declared; its expectations cannot change")]
    AlreadyDeclared(String),
    #[error("pilot `{0}` has its decision already: {1}")]
    AlreadyDecided(String, String),
    #[error("pilot `{0}` has not started yet (it starts on {1})")]
    NotStarted(String, NaiveDate),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PilotError {
    PilotError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl Pilot {
    /// A declaration becomes a pilot when its period starts no earlier than the day it is
    /// declared (expectations after the fact are not expectations), its application and
    /// findings are in the register, and every expected value is possible.
    pub fn declare(
        d: Declaration,
        dept: &Department,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Pilot, PilotError> {
        if crate::ids::TaskTypeId::parse(&d.id).is_err() {
            return Err(invalid(
                "id",
                "a pilot id is lower-case letters, digits, '-' and '_'",
            ));
        }
        let Some(app) = dept.ai_application(&d.app) else {
            return Err(invalid(
                "app",
                format!("no AI application `{}` in the register", d.app),
            ));
        };
        if d.start < now.date_naive() {
            return Err(invalid(
                "start",
                format!(
                    "a pilot is declared before it starts: {} is before today ({})",
                    d.start,
                    now.date_naive()
                ),
            ));
        }
        if d.end < d.start {
            return Err(invalid("end", "the pilot ends before it starts"));
        }
        let days = (d.end - d.start).num_days() + 1;
        let baseline_end = d
            .baseline_end
            .unwrap_or(d.start - chrono::Duration::days(1));
        let baseline_start = d
            .baseline_start
            .unwrap_or(baseline_end - chrono::Duration::days(days - 1));
        if baseline_end < baseline_start {
            return Err(invalid(
                "baseline_end",
                "the baseline ends before it starts",
            ));
        }
        if baseline_end >= d.start {
            return Err(invalid(
                "baseline_end",
                "the baseline lies before the pilot",
            ));
        }
        if d.expected.is_empty() {
            return Err(invalid("expected", "declare at least one expected effect"));
        }
        for e in &d.expected {
            match e {
                Expectation::SensitivityAtLeast { finding, value }
                | Expectation::SpecificityAtLeast { finding, value } => {
                    if app.finding(finding.as_str()).is_none() {
                        return Err(invalid(
                            "expected",
                            format!("{} reports no finding `{finding}`", app.id),
                        ));
                    }
                    if !(*value > 0.0 && *value <= 1.0) {
                        return Err(invalid(
                            "expected",
                            format!("a rate lies in (0, 1], not {value}"),
                        ));
                    }
                }
                Expectation::RadiologistWorkloadDownPct { value } => {
                    if !(*value > 0.0 && *value <= 100.0) {
                        return Err(invalid(
                            "expected",
                            format!("a reduction lies in (0, 100] percent, not {value}"),
                        ));
                    }
                }
                Expectation::TurnaroundDownMinutes { value } => {
                    if !(*value > 0.0 && value.is_finite()) {
                        return Err(invalid(
                            "expected",
                            format!("a reduction is a positive number of minutes, not {value}"),
                        ));
                    }
                }
            }
        }
        Ok(Pilot {
            id: d.id,
            app: app.id.clone(),
            start: d.start,
            end: d.end,
            baseline_start,
            baseline_end,
            expected: d.expected,
            declared_by: by.to_owned(),
            declared_at: now,
        })
    }
}

/// Workload and turnaround of the application's intended use over one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodFacts {
    pub exams: u64,
    /// Radiologist work items (the catalog's radiologist-only tasks) the exams opened,
    /// superseded ones left out.
    pub radiologist_items: u64,
    pub to_authorized_report: Option<Turnaround>,
}

impl PeriodFacts {
    pub fn items_per_exam(&self) -> Option<f64> {
        (self.exams > 0).then(|| self.radiologist_items as f64 / self.exams as f64)
    }
}

/// What was measured: the pilot's period and its baseline, and the application's rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub pilot: PeriodFacts,
    pub baseline: PeriodFacts,
    /// `(finding, sensitivity, specificity)` over the pilot's reported exams.
    pub rates: Vec<(FindingCode, Option<Rate>, Option<Rate>)>,
}

/// Sensitivity and specificity per finding over all the application's versions in the
/// pilot (`rows`: the monitoring counts of its period, per version and finding).
pub fn rates_per_finding(rows: &[CountRow]) -> Vec<(FindingCode, Option<Rate>, Option<Rate>)> {
    let mut findings: Vec<&str> = rows.iter().map(|r| r.finding.as_str()).collect();
    findings.sort_unstable();
    findings.dedup();
    findings
        .into_iter()
        .filter_map(|f| {
            let (mut tp, mut fn_, mut tn, mut fp) = (0, 0, 0, 0);
            for r in rows.iter().filter(|r| r.finding == f) {
                tp += r.counts.tp;
                fn_ += r.counts.fn_;
                tn += r.counts.tn;
                fp += r.counts.fp;
            }
            Some((
                FindingCode::parse(f).ok()?,
                Rate::of(tp, tp + fn_),
                Rate::of(tn, tn + fp),
            ))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Measured at least as declared (for a rate: the Wilson 95% lower bound is).
    Met,
    /// The estimate reaches the declared rate but its interval does not exclude less.
    NotShown,
    NotMet,
    /// Nothing to measure yet.
    NoData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub expectation: Expectation,
    pub declared: String,
    pub measured: String,
    pub verdict: Verdict,
}

/// Declared against measured, side by side.
pub fn compare(pilot: &Pilot, m: &Measured) -> Vec<Row> {
    pilot
        .expected
        .iter()
        .map(|e| {
            let (declared, measured, verdict) = match e {
                Expectation::SensitivityAtLeast { finding, value }
                | Expectation::SpecificityAtLeast { finding, value } => {
                    let sensitivity = matches!(e, Expectation::SensitivityAtLeast { .. });
                    let name = if sensitivity {
                        "sensitivity"
                    } else {
                        "specificity"
                    };
                    let rate = m
                        .rates
                        .iter()
                        .find(|(f, _, _)| f == finding)
                        .and_then(|(_, se, sp)| if sensitivity { *se } else { *sp });
                    let declared = format!("{name} ({finding}) at least {:.1}%", 100.0 * value);
                    match rate {
                        None => (declared, "no reported exams yet".to_owned(), Verdict::NoData),
                        Some(r) => {
                            let verdict = if r.wilson[0] >= *value {
                                Verdict::Met
                            } else if r.estimate >= *value {
                                Verdict::NotShown
                            } else {
                                Verdict::NotMet
                            };
                            (
                                declared,
                                format!(
                                    "{:.1}% ({}/{}; Wilson 95% {:.1}-{:.1}%)",
                                    100.0 * r.estimate,
                                    r.successes,
                                    r.trials,
                                    100.0 * r.wilson[0],
                                    100.0 * r.wilson[1]
                                ),
                                verdict,
                            )
                        }
                    }
                }
                Expectation::RadiologistWorkloadDownPct { value } => {
                    let declared = format!("radiologist workload down at least {value:.1}%");
                    match (m.baseline.items_per_exam(), m.pilot.items_per_exam()) {
                        (Some(b), Some(p)) if b > 0.0 => {
                            let down = 100.0 * (1.0 - p / b);
                            (
                                declared,
                                format!(
                                    "down {down:.1}% ({p:.2} radiologist items per exam over {} exams, baseline {b:.2} over {})",
                                    m.pilot.exams, m.baseline.exams
                                ),
                                if down >= *value {
                                    Verdict::Met
                                } else {
                                    Verdict::NotMet
                                },
                            )
                        }
                        _ => (
                            declared,
                            "no exams in the pilot or the baseline".to_owned(),
                            Verdict::NoData,
                        ),
                    }
                }
                Expectation::TurnaroundDownMinutes { value } => {
                    let declared =
                        format!("median turnaround to the authorized report down at least {value:.0} min");
                    match (&m.baseline.to_authorized_report, &m.pilot.to_authorized_report) {
                        (Some(b), Some(p)) => {
                            let down = b.median_minutes - p.median_minutes;
                            (
                                declared,
                                format!(
                                    "down {down:.0} min (median {:.0} min over {} reports, baseline {:.0} over {})",
                                    p.median_minutes, p.exams, b.median_minutes, b.exams
                                ),
                                if down >= *value {
                                    Verdict::Met
                                } else {
                                    Verdict::NotMet
                                },
                            )
                        }
                        _ => (
                            declared,
                            "no authorized reports in the pilot or the baseline".to_owned(),
                            Verdict::NoData,
                        ),
                    }
                }
            };
            Row {
                expectation: e.clone(),
                declared,
                measured,
                verdict,
            }
        })
        .collect()
}

/// A pilot report: the declaration, what was measured, the comparison and the decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PilotReport {
    pub pilot: Pilot,
    pub measured: Measured,
    pub rows: Vec<Row>,
    pub decision: Option<PilotDecision>,
}

impl PilotReport {
    pub fn of(pilot: Pilot, measured: Measured, decision: Option<PilotDecision>) -> PilotReport {
        PilotReport {
            rows: compare(&pilot, &measured),
            pilot,
            measured,
            decision,
        }
    }

    /// The report as text: declared against measured, one expectation per line.
    pub fn render(&self) -> String {
        let p = &self.pilot;
        let mut out = format!(
            "Pilot {} of {}: {} to {} (baseline {} to {}), declared by {} on {}\n",
            p.id,
            p.app,
            p.start,
            p.end,
            p.baseline_start,
            p.baseline_end,
            p.declared_by,
            p.declared_at.date_naive()
        );
        let width = self
            .rows
            .iter()
            .map(|r| r.declared.len())
            .max()
            .unwrap_or(0);
        for r in &self.rows {
            let verdict = match r.verdict {
                Verdict::Met => "met",
                Verdict::NotShown => "not shown",
                Verdict::NotMet => "NOT MET",
                Verdict::NoData => "no data",
            };
            out.push_str(&format!(
                "  {:<width$}  | {:<9} | {}\n",
                r.declared, verdict, r.measured
            ));
        }
        match &self.decision {
            Some(d) => out.push_str(&format!(
                "Decision: {} by {} on {}: {}\n",
                d.outcome.code(),
                d.by,
                d.at.date_naive(),
                d.reason
            )),
            None => out.push_str("Decision: none recorded yet\n"),
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    ScaleUp,
    Stop,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "scale_up" => Some(Outcome::ScaleUp),
            "stop" => Some(Outcome::Stop),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Outcome::ScaleUp => "scale_up",
            Outcome::Stop => "stop",
        }
    }

    /// The register status that follows: scaling up puts the application in production,
    /// stopping suspends it (retiring it is a separate, deliberate step).
    pub fn status_after(self) -> AiStatus {
        match self {
            Outcome::ScaleUp => AiStatus::Production,
            Outcome::Stop => AiStatus::Suspended,
        }
    }
}

/// The decision at the end of a pilot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PilotDecision {
    pub outcome: Outcome,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl Pilot {
    /// A pilot is decided once, with a reason, after it has started (stopping early for
    /// safety is a decision too).
    pub fn decide(
        &self,
        existing: Option<&PilotDecision>,
        outcome: Outcome,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<PilotDecision, PilotError> {
        if let Some(d) = existing {
            return Err(PilotError::AlreadyDecided(
                self.id.clone(),
                d.outcome.code().to_owned(),
            ));
        }
        if now.date_naive() < self.start {
            return Err(PilotError::NotStarted(self.id.clone(), self.start));
        }
        if reason.trim().is_empty() {
            return Err(invalid("reason", "say why"));
        }
        Ok(PilotDecision {
            outcome,
            reason: reason.trim().to_owned(),
            by: by.to_owned(),
            at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn declaration(start: &str, end: &str, expected: Vec<Expectation>) -> Declaration {
        Declaration {
            id: "pe-pilot-2027".into(),
            app: "pe-detect".into(),
            start: day(start),
            end: day(end),
            baseline_start: None,
            baseline_end: None,
            expected,
        }
    }

    fn pe() -> FindingCode {
        FindingCode::parse("pulmonary_embolism").unwrap()
    }

    #[test]
    fn a_pilot_is_declared_before_it_starts_with_possible_expectations() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let now = at("2027-01-10T09:00:00Z");
        let sens = Expectation::SensitivityAtLeast {
            finding: pe(),
            value: 0.9,
        };
        let p = Pilot::declare(
            declaration("2027-02-01", "2027-03-02", vec![sens.clone()]),
            &dept,
            "rad-bakker",
            now,
        )
        .unwrap();
        // 30 days of pilot, so 30 days of baseline just before.
        assert_eq!(
            (p.baseline_start, p.baseline_end),
            (day("2027-01-02"), day("2027-01-31"))
        );
        let refused = |d: Declaration| Pilot::declare(d, &dept, "rad-bakker", now).unwrap_err();
        assert!(matches!(
            refused(declaration("2027-01-09", "2027-03-01", vec![sens.clone()])),
            PilotError::Invalid { field: "start", .. }
        ));
        assert!(matches!(
            refused(declaration("2027-02-01", "2027-01-31", vec![sens.clone()])),
            PilotError::Invalid { field: "end", .. }
        ));
        assert!(matches!(
            refused(declaration("2027-02-01", "2027-03-01", vec![])),
            PilotError::Invalid {
                field: "expected",
                ..
            }
        ));
        let unknown = Expectation::SensitivityAtLeast {
            finding: FindingCode::parse("fracture").unwrap(),
            value: 0.9,
        };
        assert_eq!(
            refused(declaration("2027-02-01", "2027-03-01", vec![unknown])).to_string(),
            "`expected`: pe-detect reports no finding `fracture`"
        );
        let impossible = Expectation::RadiologistWorkloadDownPct { value: 120.0 };
        assert!(matches!(
            refused(declaration("2027-02-01", "2027-03-01", vec![impossible])),
            PilotError::Invalid {
                field: "expected",
                ..
            }
        ));
    }

    fn facts(exams: u64, items: u64, minutes: &[f64]) -> PeriodFacts {
        PeriodFacts {
            exams,
            radiologist_items: items,
            to_authorized_report: Turnaround::of(minutes, None),
        }
    }

    #[test]
    fn declared_and_measured_stand_side_by_side_with_verdicts() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let expected = vec![
            Expectation::SensitivityAtLeast {
                finding: pe(),
                value: 0.85,
            },
            Expectation::SpecificityAtLeast {
                finding: pe(),
                value: 0.9,
            },
            Expectation::RadiologistWorkloadDownPct { value: 20.0 },
            Expectation::TurnaroundDownMinutes { value: 30.0 },
        ];
        let p = Pilot::declare(
            declaration("2027-02-01", "2027-03-02", expected),
            &dept,
            "rad-bakker",
            at("2027-01-10T09:00:00Z"),
        )
        .unwrap();
        let m = Measured {
            // 100 exams opened 70 radiologist items against 100 for 100: down 30%.
            pilot: facts(100, 70, &[60.0, 100.0, 140.0]),
            baseline: facts(100, 100, &[90.0, 120.0, 200.0]),
            // Sensitivity 95/100 (Wilson 88.82-97.85%): shown above 85%. Specificity
            // 91/100 (Wilson 83.77-95.19%): the estimate reaches 90%, the interval does not.
            rates: vec![(pe(), Rate::of(95, 100), Rate::of(91, 100))],
        };
        let rows = compare(&p, &m);
        let verdicts: Vec<Verdict> = rows.iter().map(|r| r.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Met,
                Verdict::NotShown,
                Verdict::Met,
                // Medians 100 against 120: down 20 minutes, not 30.
                Verdict::NotMet
            ]
        );
        assert_eq!(rows[0].measured, "95.0% (95/100; Wilson 95% 88.8-97.8%)");
        assert!(
            rows[2].measured.starts_with("down 30.0%"),
            "{}",
            rows[2].measured
        );
        assert!(
            rows[3].measured.starts_with("down 20 min"),
            "{}",
            rows[3].measured
        );
        let empty = Measured {
            pilot: facts(0, 0, &[]),
            baseline: facts(0, 0, &[]),
            rates: vec![],
        };
        assert!(
            compare(&p, &empty)
                .iter()
                .all(|r| r.verdict == Verdict::NoData)
        );
    }

    #[test]
    fn a_pilot_is_decided_once_after_it_starts_with_a_reason() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let p = Pilot::declare(
            declaration(
                "2027-02-01",
                "2027-03-02",
                vec![Expectation::TurnaroundDownMinutes { value: 10.0 }],
            ),
            &dept,
            "rad-bakker",
            at("2027-01-10T09:00:00Z"),
        )
        .unwrap();
        let early = at("2027-01-20T09:00:00Z");
        assert!(matches!(
            p.decide(None, Outcome::Stop, "no", "rad-bakker", early),
            Err(PilotError::NotStarted(..))
        ));
        let later = at("2027-03-05T09:00:00Z");
        assert!(
            p.decide(None, Outcome::ScaleUp, " ", "rad-bakker", later)
                .is_err()
        );
        let d = p
            .decide(None, Outcome::ScaleUp, "targets met", "rad-bakker", later)
            .unwrap();
        assert_eq!(d.outcome.status_after(), AiStatus::Production);
        assert!(matches!(
            p.decide(
                Some(&d),
                Outcome::Stop,
                "changed my mind",
                "rad-bakker",
                later
            ),
            Err(PilotError::AlreadyDecided(..))
        ));
    }
}
