//! Drawing one simulated exam: its study and what each AI application covering it sends.
//! The simulator and the live demo's feed both draw exams here.

use chrono::{DateTime, Duration, Utc};
use radgate_domain::ai::{AiFinding, AiResult};
use radgate_domain::ids::{AccessionNumber, PatientId};
use radgate_domain::study::{PatientName, Sex};
use radgate_domain::{Department, Study};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, LogNormal, Normal};

use crate::config::{ScoreModel, SimConfig};

/// z for the 90th percentile of the standard normal, to fit a log-normal latency.
const Z90: f64 = 1.281_551_565_544_600_5;
const MINUTE_MS: f64 = 60_000.0;

/// What one AI application does with one exam.
pub struct DrawnAi {
    /// The result it sends, received `latency_ms` after acquisition.
    pub result: AiResult,
    pub latency_ms: i64,
    /// It never answers.
    pub failed: bool,
}

pub struct DrawnExam {
    pub study: Study,
    pub ai: Vec<DrawnAi>,
    /// Whether the exam holds a finding that some simulated application targets.
    pub truth: bool,
}

/// An invented name for simulated patient `n`, taken from the exam number and not the
/// random stream, so that naming changes no simulated outcome.
fn synthetic_name(n: usize) -> PatientName {
    const FAMILY: [&str; 12] = [
        "Jansen", "de Boer", "Visser", "Smit", "Meijer", "de Groot", "Bos", "Mulder", "Peters",
        "Hendriks", "van Dijk", "Dekker",
    ];
    const GIVEN: [&str; 10] = [
        "Anna", "Sanne", "Eva", "Lotte", "Noor", "Daan", "Bram", "Sem", "Luuk", "Thijs",
    ];
    let given = GIVEN[(n / 12) % 5 + if n.is_multiple_of(2) { 0 } else { 5 }];
    PatientName::parse(format!("Sim-{}^{given}", FAMILY[n % 12])).expect("a valid name")
}

pub(crate) fn draw_exam(
    dept: &Department,
    cfg: &SimConfig,
    spec_idx: usize,
    accession: &str,
    n: usize,
    acquired_at: DateTime<Utc>,
    rng: &mut ChaCha8Rng,
) -> DrawnExam {
    let spec = &cfg.exams[spec_idx];
    let priority = *pick(&spec.priority, rng);
    let age = if spec.age.sd > 0.0 {
        Normal::new(spec.age.mean, spec.age.sd)
            .expect("sd > 0")
            .sample(rng)
    } else {
        spec.age.mean
    };
    let study = Study {
        accession: AccessionNumber::parse(accession)
            .expect("the caller makes SH-sized accession numbers"),
        study_uid: None,
        patient: PatientId::parse(format!("SIMPAT{n:08}")).expect("valid"),
        patient_name: Some(synthetic_name(n)),
        patient_sex: Some(if n.is_multiple_of(2) {
            Sex::Female
        } else {
            Sex::Male
        }),
        patient_age_years: Some((age.round().max(0.0) as u32).clamp(spec.age.min, spec.age.max)),
        modality: spec.modality.clone(),
        procedure_code: spec.procedure_code.clone(),
        body_part: spec.body_part.clone(),
        priority,
        site: pick(&spec.site, rng).clone(),
        ordering_department: pick(&spec.ordering_department, rng).clone(),
        clinical_question: None,
        ordered_at: None,
        acquired_at,
        manufacturer: None,
        model: None,
        protocol: None,
    };
    let mut truth = false;
    let mut ai = Vec::new();
    // AI applications in the register that cover this exam and are in use.
    for sim in &cfg.ai {
        let Some(app) = dept.ai_application(sim.app.as_str()) else {
            continue;
        };
        if !app.status.in_use() || !app.covers(&spec.modality, &spec.body_part) {
            continue;
        }
        let failed = rng.random_bool(sim.failure_rate);
        let sigma = ((sim.latency_p90.ln() - sim.latency_median.ln()) / Z90).max(0.0);
        let latency_min: f64 = if sigma > 0.0 {
            LogNormal::new(sim.latency_median.ln(), sigma)
                .expect("sigma > 0")
                .sample(rng)
        } else {
            sim.latency_median
        };
        let mut findings = Vec::new();
        for f in &sim.findings {
            let positive = rng.random_bool(f.prevalence);
            truth |= positive;
            let spec = app.finding(f.code.as_str());
            let range = spec.map_or((0.0, 1.0), |s| s.score_range);
            let score = draw_score(&f.model, positive, range, rng);
            findings.push(AiFinding {
                code: f.code.clone(),
                score: Some(score),
                critical: false,
                normal: false,
            });
        }
        let latency_ms = (latency_min * MINUTE_MS) as i64;
        let sent = AiResult {
            id: format!("{}-{accession}", sim.app),
            app: sim.app.clone(),
            app_version: app.version.clone(),
            accession: study.accession.clone(),
            received_at: acquired_at + Duration::milliseconds(latency_ms),
            findings,
        };
        // The flags are the register's reading of the scores, as in live routing.
        let result = radgate_domain::ai::read_result(std::slice::from_ref(app), &sent).expect(
            "the simulation table is checked against the register and draws scores in range",
        );
        ai.push(DrawnAi {
            result,
            latency_ms,
            failed,
        });
    }
    DrawnExam { study, ai, truth }
}

/// A stream of exams acquired now, for a live demo: the exam mix follows the declared
/// yearly volumes; hours and weekdays are left to the caller's pace.
pub struct Feed {
    dept: Department,
    cfg: SimConfig,
    rng: ChaCha8Rng,
    prefix: String,
    n: usize,
    mix: Vec<(usize, f64)>,
}

impl Feed {
    /// `prefix` (at most 8 characters) starts every accession number, so that feeds
    /// started at different times never reuse one.
    pub fn new(dept: Department, cfg: SimConfig, seed: u64, prefix: &str) -> Feed {
        let total: f64 = cfg.exams.iter().map(|e| e.per_year).sum();
        let mix = cfg
            .exams
            .iter()
            .enumerate()
            .map(|(i, e)| (i, e.per_year / total))
            .collect();
        Feed {
            dept,
            cfg,
            rng: ChaCha8Rng::seed_from_u64(seed),
            prefix: prefix.chars().take(8).collect(),
            n: 0,
            mix,
        }
    }

    /// The next exam, acquired at `at`.
    pub fn next_exam(&mut self, at: DateTime<Utc>) -> DrawnExam {
        self.n += 1;
        let spec = *pick(&self.mix, &mut self.rng);
        let accession = format!("{}{:06}", self.prefix, self.n % 1_000_000);
        draw_exam(
            &self.dept,
            &self.cfg,
            spec,
            &accession,
            self.n,
            at,
            &mut self.rng,
        )
    }
}

/// An index drawn with the given probabilities (which sum to 1).
pub(crate) fn draw_index(
    weights: impl ExactSizeIterator<Item = f64>,
    rng: &mut ChaCha8Rng,
) -> usize {
    let last = weights.len() - 1;
    let mut u = rng.random::<f64>();
    for (i, w) in weights.enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    // Rounding can leave u a hair above the total; the last outcome takes it.
    last
}

pub(crate) fn pick<'v, T>(weights: &'v [(T, f64)], rng: &mut ChaCha8Rng) -> &'v T {
    &weights[draw_index(weights.iter().map(|(_, w)| *w), rng)].0
}

/// A simulated application's score for one exam, on the finding's score range.
fn draw_score(model: &ScoreModel, positive: bool, range: (f64, f64), rng: &mut ChaCha8Rng) -> f64 {
    match model {
        ScoreModel::Beta {
            positive: p,
            negative: q,
        } => {
            let (a, b) = if positive { *p } else { *q };
            let x: f64 = Beta::new(a, b).expect("a, b > 0").sample(rng);
            range.0 + x * (range.1 - range.0)
        }
        ScoreModel::Categories {
            positive: p,
            negative: q,
        } => {
            let w = if positive { p } else { q };
            range.0 + draw_index(w.iter().copied(), rng) as f64
        }
        ScoreModel::SensSpec {
            sensitivity,
            specificity,
        } => {
            let call = if positive {
                rng.random_bool(*sensitivity)
            } else {
                !rng.random_bool(*specificity)
            };
            if call { range.1 } else { range.0 }
        }
    }
}
