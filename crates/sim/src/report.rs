//! What a simulation counts while it runs, and the report made from it.

use std::collections::BTreeMap;
use std::fmt::Write;

use radgate_domain::professional::Role;
use radgate_domain::{Pathway, Priority};
use serde::Serialize;

/// Per-exam facts the router hands to the tally.
pub(crate) struct Outcome<'r> {
    pub pathway: Pathway,
    pub rule: &'r str,
    pub baseline_readers: u8,
    pub read_minutes: f64,
}

#[derive(Default)]
pub(crate) struct Tally {
    exams: u64,
    pathways: BTreeMap<Pathway, u64>,
    rules: BTreeMap<String, u64>,
    baseline_reads: u64,
    baseline_minutes: f64,
    radiologist_items: BTreeMap<&'static str, u64>,
    radiologist_minutes: f64,
    minutes_by_role: BTreeMap<Role, f64>,
    pub findings: u64,
    missed: BTreeMap<Pathway, f64>,
    pub baseline_missed: f64,
    turnaround: BTreeMap<Priority, Vec<f64>>,
    sla_met: BTreeMap<Priority, u64>,
    pub ai_results: u64,
    pub ai_missing: u64,
    pub unfinished: u64,
}

impl Tally {
    pub fn exam(&mut self, o: Outcome) {
        self.exams += 1;
        *self.pathways.entry(o.pathway).or_default() += 1;
        match self.rules.get_mut(o.rule) {
            Some(n) => *n += 1,
            None => {
                self.rules.insert(o.rule.to_string(), 1);
            }
        }
        self.baseline_reads += u64::from(o.baseline_readers);
        self.baseline_minutes += o.read_minutes * f64::from(o.baseline_readers);
    }

    pub fn missed(&mut self, pathway: Pathway, p: f64) {
        *self.missed.entry(pathway).or_default() += p;
    }

    pub fn work(&mut self, role: Role, kind: &'static str, minutes: f64) {
        *self.minutes_by_role.entry(role).or_default() += minutes;
        if role == Role::Radiologist {
            *self.radiologist_items.entry(kind).or_default() += 1;
            self.radiologist_minutes += minutes;
        }
    }

    pub fn turnaround(&mut self, p: Priority, minutes: f64, met_sla: bool) {
        self.turnaround.entry(p).or_default().push(minutes);
        if met_sla {
            *self.sla_met.entry(p).or_default() += 1;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turnaround {
    pub exams: u64,
    pub p50: f64,
    pub p90: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missed {
    /// Exams with at least one finding that a simulated AI application targets.
    pub exams_with_finding: u64,
    pub total: f64,
    /// Radiologists reading everything (with the exam's baseline number of readers).
    pub baseline: f64,
    pub by_pathway: BTreeMap<Pathway, f64>,
}

/// The simulation's result; `radgate simulate --format json` prints it as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    pub department: String,
    pub policy_version: String,
    pub start: String,
    pub days: u32,
    pub seed: u64,
    pub exams: u64,
    pub pathways: BTreeMap<Pathway, u64>,
    /// How often each rule fired; `(default)` when none did.
    pub rules: BTreeMap<String, u64>,
    /// Every work item a radiologist did: reads, escalations, authorizations, reviews.
    pub radiologist_reads: u64,
    pub radiologist_reads_by_kind: BTreeMap<&'static str, u64>,
    pub radiologist_minutes: f64,
    pub baseline_radiologist_reads: u64,
    pub baseline_radiologist_minutes: f64,
    /// Reduction in radiologist minutes against the baseline, in percent.
    pub workload_reduction_pct: f64,
    /// Reduction in radiologist work items against the baseline, in percent.
    pub read_reduction_pct: f64,
    pub minutes_by_role: BTreeMap<Role, f64>,
    pub expected_missed_findings: Missed,
    /// Acquisition to final result (authorized report, or gatekeeper clearance), per
    /// decided priority; nearest-rank percentiles.
    pub turnaround_minutes: BTreeMap<Priority, Turnaround>,
    pub sla_compliance_pct: f64,
    pub sla_compliance_pct_by_priority: BTreeMap<Priority, f64>,
    pub ai_results: u64,
    pub ai_results_missing: u64,
    /// Exams still not finished when the queue gave up (an understaffed roster).
    pub unfinished_exams: u64,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        round(100.0 * part / whole, 2)
    } else {
        0.0
    }
}

impl SimReport {
    pub(crate) fn from_tally(
        t: Tally,
        department: &str,
        policy_version: &str,
        start: String,
        days: u32,
        seed: u64,
    ) -> Self {
        let radiologist_reads: u64 = t.radiologist_items.values().sum();
        let mut turnaround = BTreeMap::new();
        let mut sla_by = BTreeMap::new();
        let (mut met, mut finished) = (0u64, 0u64);
        for (p, mut v) in t.turnaround {
            v.sort_by(f64::total_cmp);
            let ok = t.sla_met.get(&p).copied().unwrap_or(0);
            met += ok;
            finished += v.len() as u64;
            sla_by.insert(p, pct(ok as f64, v.len() as f64));
            turnaround.insert(
                p,
                Turnaround {
                    exams: v.len() as u64,
                    p50: round(percentile(&v, 50.0), 1),
                    p90: round(percentile(&v, 90.0), 1),
                },
            );
        }
        let total_missed: f64 = t.missed.values().sum();
        SimReport {
            department: department.to_string(),
            policy_version: policy_version.to_string(),
            start,
            days,
            seed,
            exams: t.exams,
            pathways: t.pathways,
            rules: t.rules,
            radiologist_reads,
            radiologist_reads_by_kind: t.radiologist_items,
            radiologist_minutes: round(t.radiologist_minutes, 1),
            baseline_radiologist_reads: t.baseline_reads,
            baseline_radiologist_minutes: round(t.baseline_minutes, 1),
            workload_reduction_pct: pct(
                t.baseline_minutes - t.radiologist_minutes,
                t.baseline_minutes,
            ),
            read_reduction_pct: pct(
                t.baseline_reads as f64 - radiologist_reads as f64,
                t.baseline_reads as f64,
            ),
            minutes_by_role: t
                .minutes_by_role
                .into_iter()
                .map(|(r, m)| (r, round(m, 1)))
                .collect(),
            expected_missed_findings: Missed {
                exams_with_finding: t.findings,
                total: round(total_missed, 2),
                baseline: round(t.baseline_missed, 2),
                by_pathway: t
                    .missed
                    .into_iter()
                    .map(|(p, m)| (p, round(m, 2)))
                    .collect(),
            },
            turnaround_minutes: turnaround,
            sla_compliance_pct: pct(met as f64, finished as f64),
            sla_compliance_pct_by_priority: sla_by,
            ai_results: t.ai_results,
            ai_results_missing: t.ai_missing,
            unfinished_exams: t.unfinished,
        }
    }

    /// A plain-text summary for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "radgate simulation (simulated AI applications; not diagnostic models)"
        );
        let _ = writeln!(s, "department     {}", self.department);
        let _ = writeln!(s, "policy         {}", self.policy_version);
        let _ = writeln!(
            s,
            "period         {} days from {}, seed {}",
            self.days, self.start, self.seed
        );
        let _ = writeln!(s, "exams          {}", self.exams);
        let _ = writeln!(s, "\npathway                      exams   share");
        for (p, n) in &self.pathways {
            let _ = writeln!(
                s,
                "  {:<26} {:>7}  {:>5.1}%",
                p.code(),
                n,
                pct(*n as f64, self.exams as f64)
            );
        }
        let _ = writeln!(s, "\nrule                               fired");
        for (r, n) in &self.rules {
            let _ = writeln!(s, "  {r:<32} {n:>7}");
        }
        let _ = writeln!(s, "\nradiologist workload         policy    baseline");
        let _ = writeln!(
            s,
            "  work items               {:>8}    {:>8}",
            self.radiologist_reads, self.baseline_radiologist_reads
        );
        let _ = writeln!(
            s,
            "  minutes                  {:>8.0}    {:>8.0}",
            self.radiologist_minutes, self.baseline_radiologist_minutes
        );
        let _ = writeln!(
            s,
            "  reduction                {:>7.1}% of minutes, {:.1}% of items",
            self.workload_reduction_pct, self.read_reduction_pct
        );
        for (k, n) in &self.radiologist_reads_by_kind {
            let _ = writeln!(s, "    {k:<22} {n:>8}");
        }
        let _ = writeln!(s, "\nminutes by role");
        for (r, m) in &self.minutes_by_role {
            let _ = writeln!(s, "  {:<26} {:>8.0}", r.code(), m);
        }
        let m = &self.expected_missed_findings;
        let _ = writeln!(
            s,
            "\nexpected missed findings ({} exams with an AI-targeted finding)",
            m.exams_with_finding
        );
        for (p, x) in &m.by_pathway {
            let _ = writeln!(s, "  {:<26} {:>8.2}", p.code(), x);
        }
        let _ = writeln!(
            s,
            "  total                      {:>8.2}   (baseline {:.2})",
            m.total, m.baseline
        );
        let _ = writeln!(
            s,
            "\nturnaround (minutes)   exams      p50      p90   within SLA"
        );
        for (p, t) in &self.turnaround_minutes {
            let sla = self
                .sla_compliance_pct_by_priority
                .get(p)
                .copied()
                .unwrap_or(0.0);
            let _ = writeln!(
                s,
                "  {:<18} {:>7} {:>8.1} {:>8.1}   {:>6.2}%",
                p.code(),
                t.exams,
                t.p50,
                t.p90,
                sla
            );
        }
        let _ = writeln!(
            s,
            "  all                                          {:>6.2}%",
            self.sla_compliance_pct
        );
        let _ = writeln!(
            s,
            "\nAI results {} delivered, {} missing or late",
            self.ai_results, self.ai_results_missing
        );
        if self.unfinished_exams > 0 {
            let _ = writeln!(
                s,
                "WARNING: {} exams were never finished: the roster cannot keep up",
                self.unfinished_exams
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 90.0), 9.0);
        assert_eq!(percentile(&v, 91.0), 10.0);
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
    }
}
