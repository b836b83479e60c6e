//! When an AI application stops being as good as it was: the alarms of issue 5.
//!
//! - **CUSUM** on AI-versus-report discordance (Bernoulli CUSUM, Reynolds & Stoumbos 1999):
//!   each exam adds its log-likelihood ratio of "discordance rate p1" against the in-control
//!   "p0"; the sum (floored at 0) alarms at the limit h. The weights are made integers (a
//!   discordant exam adds `up`, a concordant one takes 1 away), so the in-control average
//!   run length (ARL: exams between false alarms) is computed exactly from the Markov chain
//!   of the sum, and h is the smallest limit whose ARL reaches the stated one.
//! - **Baseline rule** (the one a large US centre used for a commercial PE detector): a
//!   day's discordance outside the 95% limits of the baseline window's daily rates (default
//!   the first 60 days) on N consecutive days (default 7).
//! - **Sensitivity floor**: the Wilson 95% lower bound of sensitivity below the floor the
//!   register declares.
//! - **Score shift**, label-free because reports lag: the population stability index and
//!   the Kolmogorov-Smirnov test of recent scores against the baseline's.

use chrono::NaiveDate;
use radgate_stats::{Method, ks_two_sample, proportion, psi};
use serde::{Deserialize, Serialize};

/// The design of a Bernoulli CUSUM: integer weights and the limit for a stated in-control
/// average run length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CusumDesign {
    /// The in-control discordance rate (from the baseline).
    pub p0: f64,
    /// The out-of-control rate the chart is tuned to detect.
    pub p1: f64,
    /// Integer weight of a discordant exam; a concordant one counts -1.
    pub up: u32,
    /// The alarm limit on the integer sum.
    pub limit: u32,
    /// Exams between false alarms while the rate stays p0, for this design (at least the
    /// one asked for).
    pub arl0: f64,
}

/// The rates a design can be made for; below 0.5% the integer chain grows too long.
pub const MIN_P0: f64 = 0.005;

impl CusumDesign {
    /// The CUSUM for a rise from `p0` to `p1` with an in-control ARL of at least `arl0`.
    pub fn for_arl(p0: f64, p1: f64, arl0: f64) -> CusumDesign {
        let p0 = p0.clamp(MIN_P0, 0.5);
        let p1 = p1.clamp(p0 * 1.01, 0.99);
        let a = (p1 / p0).ln();
        let b = ((1.0 - p1) / (1.0 - p0)).ln();
        // Scale so that a concordant exam weighs exactly -1.
        let up = (a / -b).round().max(1.0) as u32;
        let (mut lo, mut hi) = (1u32, up.max(2));
        while arl(up, hi, p0) < arl0 {
            lo = hi;
            hi *= 2;
            if hi > 1 << 14 {
                break;
            }
        }
        // The smallest limit whose in-control ARL reaches arl0 (ARL grows with the limit).
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if arl(up, mid, p0) >= arl0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        CusumDesign {
            p0,
            p1,
            up,
            limit: hi,
            arl0: arl(up, hi, p0),
        }
    }

    /// The average run length when the true discordance rate is `p`.
    pub fn arl(&self, p: f64) -> f64 {
        arl(self.up, self.limit, p)
    }
}

/// Exact ARL of the integer chart started at 0: solve (I - Q) L = 1 over the sums
/// 0..limit-1, where a discordant exam (probability p) adds `up` and a concordant one
/// takes 1 away, floored at 0; reaching `limit` alarms.
fn arl(up: u32, limit: u32, p: f64) -> f64 {
    let n = limit as usize;
    let up = up as usize;
    // Banded system: row s has -p at s+up (if below the limit), -(1-p) at max(s-1, 0).
    let mut m = vec![vec![0.0f64; n]; n];
    for (s, row) in m.iter_mut().enumerate() {
        row[s] += 1.0;
        if s + up < n {
            row[s + up] -= p;
        }
        row[s.saturating_sub(1)] -= 1.0 - p;
    }
    let mut rhs = vec![1.0; n];
    // Gaussian elimination without pivoting: the matrix is an M-matrix (diagonally
    // dominant in columns), for which this is stable.
    for c in 0..n {
        let pivot = m[c][c];
        if pivot.abs() < 1e-300 {
            return f64::INFINITY;
        }
        for r in c + 1..n {
            let f = m[r][c] / pivot;
            if f != 0.0 {
                let (top, bottom) = m.split_at_mut(r);
                for (x, y) in bottom[0][c..].iter_mut().zip(&top[c][c..]) {
                    *x -= f * y;
                }
                rhs[r] -= f * rhs[c];
            }
        }
    }
    let mut l = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| m[r][c] * l[c]).sum();
        l[r] = (rhs[r] - s) / m[r][r];
    }
    l[0]
}

/// A running CUSUM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cusum {
    pub design: CusumDesign,
    pub sum: u32,
    pub exams: u64,
}

impl Cusum {
    pub fn new(design: CusumDesign) -> Cusum {
        Cusum {
            design,
            sum: 0,
            exams: 0,
        }
    }

    /// Adds one exam; true when the sum reaches the limit (the chart then restarts at 0).
    pub fn push(&mut self, discordant: bool) -> bool {
        self.exams += 1;
        self.sum = if discordant {
            self.sum + self.design.up
        } else {
            self.sum.saturating_sub(1)
        };
        if self.sum >= self.design.limit {
            self.sum = 0;
            true
        } else {
            false
        }
    }
}

/// One day's discordance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Day {
    pub day: NaiveDate,
    pub discordant: u64,
    pub exams: u64,
}

/// The baseline rule: the 95% limits (mean ± 1.96 SD) of the daily discordance rates over
/// the first `baseline_days` days with exams, then the first day that ends a run of `run`
/// consecutive days outside them. `None` without enough baseline or without such a run.
pub fn baseline_rule(days: &[Day], baseline_days: usize, run: usize) -> Option<BaselineAlarm> {
    let rate = |d: &Day| d.discordant as f64 / d.exams as f64;
    let with_exams: Vec<&Day> = days.iter().filter(|d| d.exams > 0).collect();
    if with_exams.len() <= baseline_days || baseline_days < 2 || run == 0 {
        return None;
    }
    let base: Vec<f64> = with_exams[..baseline_days]
        .iter()
        .map(|d| rate(d))
        .collect();
    let mean = base.iter().sum::<f64>() / base.len() as f64;
    let sd =
        (base.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (base.len() - 1) as f64).sqrt();
    let (lower, upper) = (mean - 1.96 * sd, mean + 1.96 * sd);
    let mut streak = 0;
    for d in &with_exams[baseline_days..] {
        let r = rate(d);
        if r < lower || r > upper {
            streak += 1;
            if streak == run {
                return Some(BaselineAlarm {
                    day: d.day,
                    rate: r,
                    lower,
                    upper,
                });
            }
        } else {
            streak = 0;
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BaselineAlarm {
    pub day: NaiveDate,
    pub rate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The Wilson 95% lower bound of sensitivity when it lies below `floor`.
pub fn below_floor(tp: u64, fn_: u64, floor: f64) -> Option<f64> {
    let i = proportion(tp, tp + fn_, Method::Wilson, 0.95).ok()?;
    (i.lower < floor).then_some(i.lower)
}

/// Label-free shift of the score distribution against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreShift {
    pub psi: f64,
    pub ks_statistic: f64,
    pub ks_p_value: f64,
    /// PSI above 0.25 (the usual "significant shift") and KS p below 0.001, as for the
    /// input mix: PSI over ten bins is noisy on a small window, and alone raised alarms
    /// at p 0.87 on a few dozen unchanged scores.
    pub alarm: bool,
}

/// PSI over ten equal-width bins of `range` (empty bins floored at 1e-4) and the
/// two-sample KS test; `None` with fewer than 30 scores on either side.
pub fn score_shift(baseline: &[f64], recent: &[f64], range: (f64, f64)) -> Option<ScoreShift> {
    if baseline.len() < 30 || recent.len() < 30 {
        return None;
    }
    let edges: Vec<f64> = (0..=10)
        .map(|i| range.0 + (range.1 - range.0) * f64::from(i) / 10.0)
        .collect();
    let psi = psi(baseline, recent, &edges, 1e-4)?;
    let ks = ks_two_sample(baseline, recent)?;
    Some(ScoreShift {
        psi,
        ks_statistic: ks.statistic,
        ks_p_value: ks.p_value,
        alarm: psi > 0.25 && ks.p_value < 0.001,
    })
}

/// One AI call for drift evaluation: its day, score, call and (once reported) truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CallPoint {
    pub day: NaiveDate,
    pub score: Option<f64>,
    pub positive: bool,
    pub truth: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    Cusum,
    BaselineRule,
    SensitivityFloor,
    ScoreShift,
    /// The mix of sites, scanners or protocols sent to the application has shifted.
    InputMix,
}

impl AlarmKind {
    pub const ALL: [AlarmKind; 5] = [
        AlarmKind::Cusum,
        AlarmKind::BaselineRule,
        AlarmKind::SensitivityFloor,
        AlarmKind::ScoreShift,
        AlarmKind::InputMix,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AlarmKind::Cusum => "cusum",
            AlarmKind::BaselineRule => "baseline_rule",
            AlarmKind::SensitivityFloor => "sensitivity_floor",
            AlarmKind::ScoreShift => "score_shift",
            AlarmKind::InputMix => "input_mix",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmKind> {
        AlarmKind::ALL.into_iter().find(|k| k.code() == s)
    }

    /// Whether an active alarm of this kind makes routing fall back (for an application
    /// whose register entry asks for it). Only evidence against the reports does: the
    /// CUSUM, the baseline rule and the sensitivity floor. The label-free signals (scores,
    /// input mix) warn the RAIO early, before reports confirm anything; a new scanner alone
    /// does not make an application wrong.
    pub fn falls_back(self) -> bool {
        matches!(
            self,
            AlarmKind::Cusum | AlarmKind::BaselineRule | AlarmKind::SensitivityFloor
        )
    }
}

/// Something the evaluation found, with the day it happened and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub kind: AlarmKind,
    pub day: NaiveDate,
    pub detail: String,
}

/// The knobs, with the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DriftSettings {
    /// The baseline: the first this many days of calls.
    pub baseline_days: i64,
    /// Consecutive days outside the baseline limits that trip the baseline rule.
    pub run_days: usize,
    /// In-control exams between false CUSUM alarms.
    pub arl0: f64,
    /// The window of recent calls for the score shift.
    pub recent_days: i64,
    /// Labelled baseline exams needed before the CUSUM is designed.
    pub min_baseline_exams: usize,
    /// Reported positives needed before the sensitivity floor is judged.
    pub min_positives: u64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            baseline_days: 60,
            run_days: 7,
            arl0: 50_000.0,
            recent_days: 30,
            min_baseline_exams: 200,
            min_positives: 20,
        }
    }
}

/// The two windows drift is judged on, each as `[from, to)`: the baseline (the first
/// `baseline_days` from the first call) and the recent window of the label-free signals
/// (the last `recent_days` up to today, after the baseline and after the last clearance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Windows {
    pub baseline: (NaiveDate, NaiveDate),
    pub recent: (NaiveDate, NaiveDate),
}

impl DriftSettings {
    pub fn windows(&self, first: NaiveDate, since: Option<NaiveDate>, today: NaiveDate) -> Windows {
        let baseline_end = first + chrono::Duration::days(self.baseline_days);
        let mut from = (today - chrono::Duration::days(self.recent_days - 1)).max(baseline_end);
        if let Some(s) = since {
            from = from.max(s + chrono::Duration::days(1));
        }
        Windows {
            baseline: (first, baseline_end),
            recent: (from, today + chrono::Duration::days(1)),
        }
    }
}

/// Label-free shift of the input mix over one stratum (site, scanner or protocol): the
/// exams per category in the baseline and the recent window. A signal when the PSI
/// exceeds 0.25 (a significant shift) and the chi-square test of homogeneity gives
/// p < 0.001 (so that it is not noise of a small window); needs 30 exams on either side.
pub fn input_mix(
    stratum: &str,
    baseline: &[(String, u64)],
    recent: &[(String, u64)],
    today: NaiveDate,
) -> Option<Signal> {
    let mut categories: Vec<&str> = baseline
        .iter()
        .chain(recent)
        .map(|(c, _)| c.as_str())
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let count = |side: &[(String, u64)], c: &str| {
        side.iter()
            .filter(|(k, _)| k == c)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let a: Vec<u64> = categories.iter().map(|c| count(baseline, c)).collect();
    let b: Vec<u64> = categories.iter().map(|c| count(recent, c)).collect();
    let (na, nb) = (a.iter().sum::<u64>(), b.iter().sum::<u64>());
    if na < 30 || nb < 30 {
        return None;
    }
    let psi = radgate_stats::psi_counts(&a, &b, 1e-4)?;
    let test = radgate_stats::chi2_homogeneity(&a, &b)?;
    if !(psi > 0.25 && test.p_value < 0.001) {
        return None;
    }
    // Name the category whose share moved most, so the RAIO knows where to look.
    let (moved, from, to) = categories
        .iter()
        .zip(a.iter().zip(&b))
        .map(|(c, (&x, &y))| (*c, x as f64 / na as f64, y as f64 / nb as f64))
        .max_by(|l, r| (l.2 - l.1).abs().total_cmp(&(r.2 - r.1).abs()))?;
    Some(Signal {
        kind: AlarmKind::InputMix,
        day: today,
        detail: format!(
            "{stratum} mix shifted: PSI {psi:.3}, chi-square {:.1} (df {}, p {:.2e}) against the baseline; `{moved}` {:.0}% -> {:.0}% of exams",
            test.statistic,
            test.df,
            test.p_value,
            100.0 * from,
            100.0 * to
        ),
    })
}

/// The discordance CUSUM of one application finding: its design (from the baseline's
/// labelled exams) and the sum after each labelled exam since the baseline and the last
/// clearance. A sum at the limit is an alarm; the chart restarts from 0 after it. `None`
/// until the baseline has `min_baseline_exams` labelled exams.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CusumPath {
    pub design: CusumDesign,
    pub sums: Vec<(NaiveDate, u32)>,
}

pub fn cusum_path(
    points: &[CallPoint],
    settings: &DriftSettings,
    since: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<CusumPath> {
    let first = points.first()?.day;
    let baseline_end = settings.windows(first, since, today).baseline.1;
    let discordant = |p: &CallPoint| Some(p.positive) != p.truth;
    let base: Vec<&CallPoint> = points
        .iter()
        .filter(|p| p.day < baseline_end && p.truth.is_some())
        .collect();
    if base.len() < settings.min_baseline_exams {
        return None;
    }
    let p0 = base.iter().filter(|p| discordant(p)).count() as f64 / base.len() as f64;
    let design = CusumDesign::for_arl(p0, 2.0 * p0.max(MIN_P0), settings.arl0);
    let mut cusum = Cusum::new(design);
    let sums = points
        .iter()
        .filter(|p| p.day >= baseline_end && since.is_none_or(|s| p.day > s) && p.truth.is_some())
        .map(|p| {
            let alarm = cusum.push(discordant(p));
            (p.day, if alarm { design.limit } else { cusum.sum })
        })
        .collect();
    Some(CusumPath { design, sums })
}

/// Evaluates one application finding's calls (in acquisition order) on `today`. `since`
/// (the day its alarms were last cleared) restarts the CUSUM, the baseline rule and the
/// sensitivity count from that day; the baseline itself stays the first period.
pub fn evaluate(
    points: &[CallPoint],
    spec: &crate::ai::FindingSpec,
    settings: &DriftSettings,
    since: Option<NaiveDate>,
    today: NaiveDate,
) -> Vec<Signal> {
    let mut out = Vec::new();
    let Some(first) = points.first().map(|p| p.day) else {
        return out;
    };
    let windows = settings.windows(first, since, today);
    let baseline_end = windows.baseline.1;
    let labelled = |p: &&CallPoint| p.truth.is_some();
    let discordant = |p: &CallPoint| Some(p.positive) != p.truth;
    let base: Vec<&CallPoint> = points.iter().filter(|p| p.day < baseline_end).collect();
    let base_labelled: Vec<&CallPoint> = base.iter().copied().filter(labelled).collect();

    if let Some(path) = cusum_path(points, settings, since, today) {
        let design = path.design;
        if let Some((day, _)) = path.sums.iter().find(|(_, sum)| *sum >= design.limit) {
            out.push(Signal {
                kind: AlarmKind::Cusum,
                day: *day,
                detail: format!(
                    "discordance CUSUM crossed its limit {} (baseline rate {:.2}%, tuned to {:.2}%, in-control ARL {:.0} exams)",
                    design.limit, 100.0 * design.p0, 100.0 * design.p1, design.arl0
                ),
            });
        }
    }
    if base_labelled.len() >= settings.min_baseline_exams {
        let mut days: Vec<Day> = Vec::new();
        for p in points.iter().filter(labelled) {
            if p.day >= baseline_end && since.is_some_and(|s| p.day <= s) {
                continue;
            }
            match days.last_mut() {
                Some(d) if d.day == p.day => {
                    d.exams += 1;
                    d.discordant += u64::from(discordant(p));
                }
                _ => days.push(Day {
                    day: p.day,
                    exams: 1,
                    discordant: u64::from(discordant(p)),
                }),
            }
        }
        let baseline_count = days.iter().filter(|d| d.day < baseline_end).count();
        if let Some(a) = baseline_rule(&days, baseline_count, settings.run_days) {
            out.push(Signal {
                kind: AlarmKind::BaselineRule,
                day: a.day,
                detail: format!(
                    "daily discordance {:.1}% outside the baseline's 95% limits {:.1}-{:.1}% for {} consecutive days",
                    100.0 * a.rate,
                    100.0 * a.lower,
                    100.0 * a.upper,
                    settings.run_days
                ),
            });
        }
    }

    if let Some(floor) = spec.sensitivity_floor {
        let judged = points
            .iter()
            .filter(|p| p.truth == Some(true) && since.is_none_or(|s| p.day > s));
        let (mut tp, mut fn_) = (0u64, 0u64);
        let mut last = None;
        for p in judged {
            if p.positive {
                tp += 1;
            } else {
                fn_ += 1;
            }
            last = Some(p.day);
        }
        if tp + fn_ >= settings.min_positives
            && let (Some(lower), Some(day)) = (below_floor(tp, fn_, floor), last)
        {
            out.push(Signal {
                kind: AlarmKind::SensitivityFloor,
                day,
                detail: format!(
                    "sensitivity {tp}/{} = {:.1}%, Wilson 95% lower bound {:.1}% below the floor {:.1}%",
                    tp + fn_,
                    100.0 * tp as f64 / (tp + fn_) as f64,
                    100.0 * lower,
                    100.0 * floor
                ),
            });
        }
    }

    let (recent_from, recent_to) = windows.recent;
    let base_scores: Vec<f64> = base.iter().filter_map(|p| p.score).collect();
    let recent: Vec<f64> = points
        .iter()
        .filter(|p| p.day >= recent_from && p.day < recent_to)
        .filter_map(|p| p.score)
        .collect();
    if let Some(shift) = score_shift(&base_scores, &recent, spec.score_range)
        && shift.alarm
    {
        out.push(Signal {
            kind: AlarmKind::ScoreShift,
            day: today,
            detail: format!(
                "score distribution shifted: PSI {:.3}, KS {:.3} (p {:.2e}) against the baseline",
                shift.psi, shift.ks_statistic, shift.ks_p_value
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn mix(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect()
    }

    #[test]
    fn the_windows_are_the_first_sixty_days_and_the_last_thirty_after_them() {
        let s = DriftSettings::default();
        let w = s.windows(d("2026-01-01"), None, d("2026-06-30"));
        assert_eq!(w.baseline, (d("2026-01-01"), d("2026-03-02")));
        assert_eq!(w.recent, (d("2026-06-01"), d("2026-07-01")));
        // Early on the recent window starts where the baseline ends, and a clearance
        // restarts it the day after.
        let w = s.windows(d("2026-01-01"), None, d("2026-03-10"));
        assert_eq!(w.recent.0, d("2026-03-02"));
        let w = s.windows(d("2026-01-01"), Some(d("2026-06-20")), d("2026-06-30"));
        assert_eq!(w.recent.0, d("2026-06-21"));
    }

    #[test]
    fn a_new_scanner_taking_over_the_input_is_a_signal_and_a_steady_mix_is_not() {
        let base = mix(&[("GE Revolution", 100), ("Siemens Force", 100)]);
        // (0.5, 0.5) -> (0.1, 0.9): PSI = -0.4 ln 0.2 + 0.4 ln 1.8 = 0.879.
        let shifted = mix(&[("GE Revolution", 20), ("Siemens Force", 180)]);
        let s = input_mix("scanner", &base, &shifted, d("2026-06-30")).unwrap();
        assert_eq!(s.kind, AlarmKind::InputMix);
        assert!(s.detail.contains("PSI 0.879"), "{}", s.detail);
        // Both shares move by 40 points; the tie goes to the later category.
        assert!(
            s.detail.contains("`Siemens Force` 50% -> 90%"),
            "{}",
            s.detail
        );
        let steady = mix(&[("GE Revolution", 95), ("Siemens Force", 105)]);
        assert_eq!(input_mix("scanner", &base, &steady, d("2026-06-30")), None);
        // Too few recent exams to judge.
        let few = mix(&[("Siemens Force", 29)]);
        assert_eq!(input_mix("scanner", &base, &few, d("2026-06-30")), None);
        // A category only the recent window has counts too.
        let new = mix(&[("GE Revolution", 100), ("Philips Spectral", 100)]);
        assert!(input_mix("scanner", &base, &new, d("2026-06-30")).is_some());
    }

    #[test]
    fn only_evidence_against_the_reports_makes_routing_fall_back() {
        let falls: Vec<&str> = AlarmKind::ALL
            .into_iter()
            .filter(|k| k.falls_back())
            .map(AlarmKind::code)
            .collect();
        assert_eq!(falls, ["cusum", "baseline_rule", "sensitivity_floor"]);
        for k in AlarmKind::ALL {
            assert_eq!(AlarmKind::parse(k.code()), Some(k));
        }
    }

    #[test]
    fn the_exact_arl_of_a_tiny_chart_matches_its_closed_form() {
        // up = 1, limit = 1: the first discordant exam alarms, so ARL = 1/p.
        assert!((arl(1, 1, 0.1) - 10.0).abs() < 1e-9);
        // up = 1, limit = 2 from 0: a symmetric-ish walk; solve by hand:
        // L0 = 1 + p L1 + q L0, L1 = 1 + q L0  =>  L0 = (1 + p) / p^2.
        let p = 0.2;
        assert!((arl(1, 2, p) - (1.0 + p) / (p * p)).abs() < 1e-9);
    }

    #[test]
    fn the_design_reaches_the_stated_false_alarm_rate_and_detects_the_shift_faster() {
        let d = CusumDesign::for_arl(0.05, 0.10, 10_000.0);
        assert!(d.arl0 >= 10_000.0, "{d:?}");
        // One step lower would not reach it: the limit is the smallest that does.
        assert!(arl(d.up, d.limit - 1, 0.05) < 10_000.0);
        let out = d.arl(0.10);
        assert!(
            out < 500.0,
            "doubling is caught within a few hundred exams: {out}"
        );
        // Weights: ln(2) / -ln(0.9/0.95) = 12.8 -> 13.
        assert_eq!(d.up, 13);
    }

    #[test]
    fn the_baseline_rule_needs_a_full_run_outside_the_limits() {
        let day = |i: i64| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(i);
        let mut days: Vec<Day> = (0..60)
            .map(|i| Day {
                day: day(i),
                discordant: 5 + (i % 3) as u64,
                exams: 100,
            })
            .collect();
        // Six days high, one normal, then seven high: the alarm is on the seventh of those.
        for i in 60..66 {
            days.push(Day {
                day: day(i),
                discordant: 20,
                exams: 100,
            });
        }
        days.push(Day {
            day: day(66),
            discordant: 6,
            exams: 100,
        });
        for i in 67..74 {
            days.push(Day {
                day: day(i),
                discordant: 20,
                exams: 100,
            });
        }
        let alarm = baseline_rule(&days, 60, 7).unwrap();
        assert_eq!(alarm.day, day(73));
        assert!(baseline_rule(&days[..73], 60, 7).is_none());
    }

    #[test]
    fn the_floor_is_judged_on_the_wilson_lower_bound() {
        // 45/50 = 90%, Wilson lower bound about 78.6%.
        assert!(below_floor(45, 5, 0.75).is_none());
        let lb = below_floor(45, 5, 0.80).unwrap();
        assert!((lb - 0.7864).abs() < 1e-3, "{lb}");
    }

    fn spec(floor: Option<f64>) -> crate::ai::FindingSpec {
        crate::ai::FindingSpec {
            code: crate::ids::FindingCode::parse("pe").unwrap(),
            score_range: (0.0, 1.0),
            critical_at: Some(0.5),
            normal_below: None,
            positive_at: None,
            sensitivity_floor: floor,
            sr: None,
        }
    }

    /// Ten calls a day; day < 60 is the baseline. Every 20th call (baseline) or every
    /// `bad`-th call (after) is discordant: a missed positive. Scores follow the call.
    fn stream(days: i64, bad_after: usize) -> Vec<CallPoint> {
        let day0 = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut out = Vec::new();
        for d in 0..days {
            for k in 0..10usize {
                let i = d as usize * 10 + k;
                let every = if d < 60 { 20 } else { bad_after };
                let truth = i.is_multiple_of(5);
                let missed = i.is_multiple_of(every);
                let positive = truth && !missed;
                out.push(CallPoint {
                    day: day0 + chrono::Duration::days(d),
                    score: Some(if positive {
                        0.8
                    } else if d < 60 || bad_after >= 20 {
                        0.1
                    } else {
                        0.3
                    }),
                    positive,
                    truth: Some(truth),
                });
            }
        }
        out
    }

    #[test]
    fn a_stable_stream_raises_nothing_and_a_degraded_one_raises_every_kind() {
        let today = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        let settings = DriftSettings::default();
        let stable = evaluate(&stream(90, 20), &spec(Some(0.5)), &settings, None, today);
        assert_eq!(stable, vec![]);
        let bad = evaluate(&stream(90, 5), &spec(Some(0.5)), &settings, None, today);
        let kinds: Vec<AlarmKind> = bad.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                AlarmKind::Cusum,
                AlarmKind::BaselineRule,
                AlarmKind::SensitivityFloor,
                AlarmKind::ScoreShift
            ],
            "{bad:?}"
        );
        // Discordance goes from 5% to 20% on 2026-03-02 (ten exams a day): the CUSUM
        // (limit 125, +13 per discordant exam, -1 per concordant) needs about 7 days.
        assert_eq!(
            bad[0].day,
            NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(),
            "{bad:?}"
        );
        // Cleared on the last day: nothing after it to judge.
        let last = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let cleared = evaluate(
            &stream(90, 5),
            &spec(Some(0.5)),
            &settings,
            Some(last),
            today,
        );
        assert_eq!(cleared, vec![]);
    }

    #[test]
    fn too_little_evidence_is_not_judged() {
        let today = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        // Thirty days only: no full baseline, and the floor needs 20 reported positives.
        let short: Vec<CallPoint> = stream(30, 5).into_iter().take(90).collect();
        assert_eq!(
            evaluate(
                &short,
                &spec(Some(0.99)),
                &DriftSettings::default(),
                None,
                today
            ),
            vec![]
        );
    }

    #[test]
    fn a_large_psi_on_a_small_window_without_a_significant_ks_is_no_score_shift() {
        // Ten and twenty of thirty scores either side of a bin edge, then the other way
        // round: PSI 0.46, but KS p about 0.06.
        let baseline: Vec<f64> = (0..30).map(|i| if i < 10 { 0.09 } else { 0.11 }).collect();
        let recent: Vec<f64> = (0..30).map(|i| if i < 20 { 0.09 } else { 0.11 }).collect();
        let s = score_shift(&baseline, &recent, (0.0, 1.0)).unwrap();
        assert!(s.psi > 0.25, "{s:?}");
        assert!(s.ks_p_value > 0.001, "{s:?}");
        assert!(!s.alarm, "{s:?}");
    }
}
