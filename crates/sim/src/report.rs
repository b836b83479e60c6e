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

/// What the reading of one screening exam does, as chances.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Screen {
    /// It is recalled (after the discussion, where there is one).
    pub recalled: f64,
    /// It is discussed at a consensus or arbitration.
    pub discussed: f64,
}

/// One arm's screening outcomes, summed as expected values over the screens.
#[derive(Default)]
struct ArmTally {
    screens: u64,
    cancers: u64,
    reads: u64,
    discussions: f64,
    recalls: f64,
    detected: f64,
}

impl ArmTally {
    fn add(&mut self, reads: u8, s: Screen, recovered: f64, cancer: bool) {
        self.screens += 1;
        self.reads += u64::from(reads);
        self.discussions += s.discussed;
        // A cancer the screen missed but retrospective review found is recalled then.
        let later = if cancer {
            (1.0 - s.recalled) * recovered
        } else {
            0.0
        };
        self.recalls += s.recalled + later;
        if cancer {
            self.cancers += 1;
            self.detected += s.recalled + later;
        }
    }
}

#[derive(Default)]
pub(crate) struct Tally {
    exams: u64,
    pathways: BTreeMap<Pathway, u64>,
    rules: BTreeMap<String, u64>,
    baseline_reads: u64,
    /// Expected baseline work beyond its reads: consensus discussions.
    baseline_items: f64,
    baseline_minutes: f64,
    radiologist_items: BTreeMap<&'static str, u64>,
    radiologist_minutes: f64,
    minutes_by_role: BTreeMap<Role, f64>,
    pub findings: u64,
    missed: BTreeMap<Pathway, f64>,
    pub baseline_missed: f64,
    screening: Option<(ArmTally, ArmTally)>,
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

    /// One screening exam: the policy's reads and chances, and the baseline's.
    #[allow(clippy::too_many_arguments)]
    pub fn screen(
        &mut self,
        reads: u8,
        policy: Screen,
        recovered: f64,
        baseline_readers: u8,
        baseline: Screen,
        consensus_minutes: f64,
        cancer: bool,
    ) {
        let (p, b) = self.screening.get_or_insert_with(Default::default);
        p.add(reads, policy, recovered, cancer);
        b.add(baseline_readers, baseline, 0.0, cancer);
        // The baseline's radiologists discuss what they flag too.
        self.baseline_items += baseline.discussed;
        self.baseline_minutes += baseline.discussed * consensus_minutes;
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

/// One arm's screening outcomes. Counts are expected values over the simulated screens
/// (each screen's truth and AI score are drawn; what its reading then does is a chance).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScreeningArm {
    pub screens: u64,
    /// Screens with a cancer (one the simulated AI application targets).
    pub cancers: u64,
    pub screen_reads: u64,
    pub consensus_discussions: f64,
    pub recalls: f64,
    pub cancers_detected: f64,
    pub false_positives: f64,
    pub recall_rate_pct: f64,
    /// False-positive recalls per screen, in percent.
    pub false_positive_rate_pct: f64,
    /// Cancers detected per recall, in percent.
    pub ppv_of_recall_pct: f64,
    pub cancer_detection_per_1000: f64,
    pub sensitivity_pct: f64,
    pub specificity_pct: f64,
    /// Cancers the screen missed, the future interval cancers, per 1,000 screens.
    pub interval_cancers_per_1000: f64,
}

impl ScreeningArm {
    fn from(t: &ArmTally) -> Self {
        let n = t.screens as f64;
        let negatives = n - t.cancers as f64;
        let fp = t.recalls - t.detected;
        let per_1000 = |x: f64| {
            if n > 0.0 {
                round(1000.0 * x / n, 2)
            } else {
                0.0
            }
        };
        ScreeningArm {
            screens: t.screens,
            cancers: t.cancers,
            screen_reads: t.reads,
            consensus_discussions: round(t.discussions, 1),
            recalls: round(t.recalls, 1),
            cancers_detected: round(t.detected, 1),
            false_positives: round(fp, 1),
            recall_rate_pct: pct(t.recalls, n),
            false_positive_rate_pct: pct(fp, n),
            ppv_of_recall_pct: pct(t.detected, t.recalls),
            cancer_detection_per_1000: per_1000(t.detected),
            sensitivity_pct: pct(t.detected, t.cancers as f64),
            specificity_pct: pct(negatives - fp, negatives),
            interval_cancers_per_1000: per_1000(t.cancers as f64 - t.detected),
        }
    }
}

/// Screening outcomes of the policy against the baseline, on the same screens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Screening {
    pub policy: ScreeningArm,
    pub baseline: ScreeningArm,
    /// Reduction in screen reads (not discussions) against the baseline, in percent.
    pub screen_read_reduction_pct: f64,
}

impl Screening {
    fn write_text(&self, s: &mut String) {
        let (p, b) = (&self.policy, &self.baseline);
        let _ = writeln!(
            s,
            "\nscreening ({} screens, {} with cancer)     policy    baseline",
            p.screens, p.cancers
        );
        let rows: [(&str, f64, f64, usize); 12] = [
            (
                "screen reads",
                p.screen_reads as f64,
                b.screen_reads as f64,
                0,
            ),
            (
                "consensus discussions",
                p.consensus_discussions,
                b.consensus_discussions,
                1,
            ),
            ("recalls", p.recalls, b.recalls, 1),
            (
                "cancers detected",
                p.cancers_detected,
                b.cancers_detected,
                1,
            ),
            ("false positives", p.false_positives, b.false_positives, 1),
            ("recall rate %", p.recall_rate_pct, b.recall_rate_pct, 2),
            (
                "false-positive rate %",
                p.false_positive_rate_pct,
                b.false_positive_rate_pct,
                2,
            ),
            (
                "PPV of recall %",
                p.ppv_of_recall_pct,
                b.ppv_of_recall_pct,
                2,
            ),
            (
                "cancer detection /1000",
                p.cancer_detection_per_1000,
                b.cancer_detection_per_1000,
                2,
            ),
            ("sensitivity %", p.sensitivity_pct, b.sensitivity_pct, 2),
            ("specificity %", p.specificity_pct, b.specificity_pct, 2),
            (
                "interval cancers /1000",
                p.interval_cancers_per_1000,
                b.interval_cancers_per_1000,
                2,
            ),
        ];
        for (name, x, y, places) in rows {
            let _ = writeln!(s, "  {name:<32} {x:>10.places$}  {y:>10.places$}");
        }
        let _ = writeln!(
            s,
            "  screen-read reduction            {:>9.1}%",
            self.screen_read_reduction_pct
        );
    }
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
    /// Every work item a radiologist did: reads, escalations, authorizations, consensus
    /// discussions, reviews.
    pub radiologist_reads: u64,
    pub radiologist_reads_by_kind: BTreeMap<&'static str, u64>,
    pub radiologist_minutes: f64,
    /// The baseline's work items: its reads, and on screening exams the expected
    /// consensus discussions of what its readers flag.
    pub baseline_radiologist_reads: u64,
    pub baseline_radiologist_minutes: f64,
    /// Reduction in radiologist minutes against the baseline, in percent.
    pub workload_reduction_pct: f64,
    /// Reduction in radiologist work items against the baseline, in percent.
    pub read_reduction_pct: f64,
    pub minutes_by_role: BTreeMap<Role, f64>,
    pub expected_missed_findings: Missed,
    /// Present when some exam type is a screening exam.
    pub screening: Option<Screening>,
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
        let screening = t.screening.as_ref().map(|(p, b)| Screening {
            policy: ScreeningArm::from(p),
            baseline: ScreeningArm::from(b),
            screen_read_reduction_pct: pct(b.reads as f64 - p.reads as f64, b.reads as f64),
        });
        let baseline_items = t.baseline_reads as f64 + t.baseline_items;
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
            baseline_radiologist_reads: baseline_items.round() as u64,
            baseline_radiologist_minutes: round(t.baseline_minutes, 1),
            workload_reduction_pct: pct(
                t.baseline_minutes - t.radiologist_minutes,
                t.baseline_minutes,
            ),
            read_reduction_pct: pct(baseline_items - radiologist_reads as f64, baseline_items),
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
            screening,
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
        if let Some(sc) = &self.screening {
            sc.write_text(&mut s);
        }
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
