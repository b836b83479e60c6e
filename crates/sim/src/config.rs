//! The `[simulation]` table of a department file: arrivals, AI operating characteristics,
//! human steps and the roster. Checked against the department (register, catalog,
//! agreements) so that a simulation never runs on references that do not exist.

use chrono::NaiveDate;
use radgate_domain::Department;
use radgate_domain::Priority;
use radgate_domain::config::{Diagnostics, Located, Reader, Table, number};
use radgate_domain::ids::{AiAppId, FindingCode, TaskTypeId};
use radgate_domain::professional::Role;

/// Exams per year of one exam type: far above any department, low enough to keep a
/// simulation in memory.
pub const MAX_PER_YEAR: f64 = 5_000_000.0;

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Day 0 of every simulation.
    pub start: NaiveDate,
    pub weekend_factor: f64,
    pub hourly_profile: [f64; 24],
    pub authorize_minutes_factor: f64,
    pub review_minutes_factor: f64,
    pub tasks: Vec<TaskSim>,
    pub exams: Vec<ExamSim>,
    pub ai: Vec<AiSim>,
    pub staff: Vec<StaffGroup>,
}

/// A human step: how long it takes and how often it catches a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSim {
    pub id: TaskTypeId,
    /// `None`: the exam's read minutes.
    pub minutes: Option<f64>,
    pub sensitivity: f64,
    /// For gatekeeping: the share of exams without a finding that the gatekeeper clears.
    pub specificity: Option<f64>,
    /// The sensitivity of a reader the AI has shown a decision flag to (e.g. `high_risk`,
    /// MASAI's CAD marks): flag and sensitivity; the highest of the flags shown applies.
    pub aided_sensitivity: Vec<(String, f64)>,
    /// The specificity of a reader the AI has shown a flag to; the lowest of the flags
    /// shown applies (the most alarmed reader). Readers' false flags are independent.
    pub aided_specificity: Vec<(String, f64)>,
    /// How much two readers' misses go together on a double read: 0 independent, 1 the
    /// second reader misses whatever the first missed.
    pub miss_correlation: f64,
    /// On a screening exam, reads that flag the exam go to a discussion of this task
    /// (consensus or arbitration), which decides the recall; without one, a flag recalls.
    pub consensus: Option<TaskTypeId>,
    /// Which flagged screens the consensus discusses.
    pub consensus_when: ConsensusWhen,
}

/// Which flagged screens go to the consensus task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsensusWhen {
    /// Every screen some reader flagged (consensus, as in Sweden and MASAI).
    #[default]
    AnyFlag,
    /// Only screens the readers disagree on (arbitration); a screen every reader flagged
    /// is recalled, and a single reader's flag recalls.
    Discordant,
}

impl TaskSim {
    /// The sensitivity of a read of this task when the decision carries `flags`.
    pub fn sensitivity_with(&self, flags: &[String]) -> f64 {
        self.aided_sensitivity
            .iter()
            .filter(|(f, _)| flags.contains(f))
            .map(|(_, s)| *s)
            .fold(self.sensitivity, f64::max)
    }

    /// The specificity of a read of this task when the decision carries `flags`, if the
    /// task declares one.
    pub fn specificity_with(&self, flags: &[String]) -> Option<f64> {
        let base = self.specificity?;
        Some(
            self.aided_specificity
                .iter()
                .filter(|(f, _)| flags.contains(f))
                .map(|(_, s)| *s)
                .fold(base, f64::min),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExamSim {
    pub procedure_code: String,
    pub modality: String,
    pub body_part: String,
    pub per_year: f64,
    pub read_minutes: f64,
    /// Radiologist reads per exam in the baseline (2 where double reading is standard).
    pub baseline_readers: u8,
    /// The task whose sensitivity the baseline read has; unset, the task the policy gives
    /// the exam without AI (so the baseline reads as the AI arm's readers do).
    pub baseline_task: Option<TaskTypeId>,
    /// A screening exam: every read can recall, and the report carries screening outcomes
    /// (recall rate, cancer detection, PPV, interval cancers) for both arms.
    pub screening: bool,
    pub priority: Vec<(Priority, f64)>,
    pub ordering_department: Vec<(String, f64)>,
    pub site: Vec<(String, f64)>,
    pub age: AgeSim,
    pub hourly_profile: Option<[f64; 24]>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeSim {
    pub mean: f64,
    pub sd: f64,
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AiSim {
    pub app: AiAppId,
    pub latency_median: f64,
    pub latency_p90: f64,
    pub failure_rate: f64,
    pub findings: Vec<FindingSim>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FindingSim {
    pub code: FindingCode,
    pub prevalence: f64,
    pub model: ScoreModel,
}

/// How the simulated application scores exams with and without the finding.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreModel {
    /// Beta(a, b) scores on the application's score range, per class.
    Beta {
        positive: (f64, f64),
        negative: (f64, f64),
    },
    /// Probabilities of each integer score from the low to the high end of the range.
    Categories {
        positive: Vec<f64>,
        negative: Vec<f64>,
    },
    /// A binary call: the top of the range when positive, the bottom when negative.
    SensSpec { sensitivity: f64, specificity: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaffGroup {
    pub role: Role,
    pub count: u32,
    pub shift: Shift,
    pub tasks: Vec<TaskTypeId>,
}

/// A daily shift in minutes after midnight; an end before the start runs past midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    pub start: u32,
    pub end: u32,
    pub days: Days,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    All,
    Weekdays,
    Weekends,
}

impl SimConfig {
    pub fn task(&self, id: &str) -> Option<&TaskSim> {
        self.tasks.iter().find(|t| t.id.as_str() == id)
    }

    /// Reads the `[simulation]` table of a department file and checks it against `dept`.
    pub fn parse(text: &str, dept: &Department) -> Result<SimConfig, Diagnostics> {
        let mut r = Reader::new(text);
        let Some(doc) = r.parse() else {
            return Err(r.into_result(()).unwrap_err());
        };
        let mut top = Table::new(&doc, "the department file", 1);
        let Some(mut t) = top.table(&mut r, "simulation") else {
            r.error(
                1,
                "the department file has no [simulation] table to simulate from",
            );
            return Err(r.into_result(()).unwrap_err());
        };
        t.name = "[simulation]".into();
        let start = t.date(&mut r, "start").map(|d| d.value);
        if !t.has("start") {
            r.error(
                t.line,
                "[simulation] is missing `start` (a date, day 0 of the simulation)",
            );
        }
        let weekend_factor = fraction(&mut r, &mut t, "weekend_factor", 0.0, 1.0).unwrap_or(1.0);
        let hourly_profile = profile(&mut r, &mut t, "hourly_profile").unwrap_or([1.0; 24]);
        let authorize_minutes_factor =
            fraction(&mut r, &mut t, "authorize_minutes_factor", 0.0, 10.0).unwrap_or(0.5);
        let review_minutes_factor =
            fraction(&mut r, &mut t, "review_minutes_factor", 0.0, 10.0).unwrap_or(0.5);

        let mut tasks = Vec::new();
        let mut consensus_refs = Vec::new();
        for mut k in t.tables(&mut r, "task") {
            let id = k
                .req_string(&mut r, "id")
                .and_then(|v| catalog_task(&mut r, dept, v));
            let minutes = positive(&mut r, &mut k, "minutes");
            let sensitivity = fraction(&mut r, &mut k, "sensitivity", 0.0, 1.0);
            if !k.has("sensitivity") {
                r.error(k.line, format!("{} is missing `sensitivity`", k.name));
            }
            let specificity = fraction(&mut r, &mut k, "specificity", 0.0, 1.0);
            let aided_sensitivity = per_flag(&mut r, &mut k, "aided_sensitivity");
            let aided_specificity = per_flag(&mut r, &mut k, "aided_specificity");
            if !aided_specificity.is_empty() && specificity.is_none() {
                r.error(
                    k.line,
                    format!(
                        "{} has `aided_specificity` but no `specificity` to aid",
                        k.name
                    ),
                );
            }
            let consensus = k
                .string(&mut r, "consensus")
                .map(|v| (v.line, catalog_task(&mut r, dept, v)));
            let consensus_when = match k.string(&mut r, "consensus_when") {
                None => ConsensusWhen::AnyFlag,
                Some(v) if consensus.is_none() => {
                    r.error(
                        v.line,
                        format!("{}: `consensus_when` needs `consensus`", k.name),
                    );
                    ConsensusWhen::AnyFlag
                }
                Some(v) => match v.value.as_str() {
                    "any_flag" => ConsensusWhen::AnyFlag,
                    "discordant" => ConsensusWhen::Discordant,
                    other => {
                        r.error(
                            v.line,
                            format!("`consensus_when` must be `any_flag` or `discordant`, found `{other}`"),
                        );
                        ConsensusWhen::AnyFlag
                    }
                },
            };
            let miss_correlation =
                fraction(&mut r, &mut k, "miss_correlation", 0.0, 1.0).unwrap_or(0.0);
            k.finish(&mut r);
            if let (Some(id), Some(sensitivity)) = (id, sensitivity) {
                tasks.push(TaskSim {
                    id,
                    minutes,
                    sensitivity,
                    specificity,
                    aided_sensitivity,
                    aided_specificity,
                    miss_correlation,
                    consensus: consensus.as_ref().and_then(|(_, c)| c.clone()),
                    consensus_when,
                });
                if let Some((line, Some(c))) = consensus {
                    consensus_refs.push((line, c));
                }
            }
        }
        // A consensus discussion decides recalls, so it needs both characteristics.
        for (line, c) in consensus_refs {
            if !tasks.iter().any(|k| k.id == c && k.specificity.is_some()) {
                r.error(
                    line,
                    format!("consensus task `{c}` needs its own [[simulation.task]] with `sensitivity` and `specificity`"),
                );
            }
        }
        if !tasks.iter().any(|k| k.id.as_str() == "final_report") {
            r.error(t.line, "[simulation] needs a [[simulation.task]] for `final_report` (the radiologist's read)");
        }

        let default_site = dept.sites.first().cloned().unwrap_or_else(|| "main".into());
        let mut exams = Vec::new();
        for mut e in t.tables(&mut r, "exam") {
            if let Some(x) = exam(&mut r, &mut e, dept, &default_site) {
                exams.push(x);
            }
            e.finish(&mut r);
        }
        if exams.is_empty() {
            r.error(
                t.line,
                "[simulation] needs at least one [[simulation.exam]]",
            );
        }

        let mut ai = Vec::new();
        for mut a in t.tables(&mut r, "ai") {
            if let Some(x) = ai_sim(&mut r, &mut a, dept) {
                ai.push(x);
            }
            a.finish(&mut r);
        }

        let mut staff = Vec::new();
        for mut s in t.tables(&mut r, "staff") {
            if let (Some(x), Some(start)) = (staff_group(&mut r, &mut s, dept), start)
                && x.tasks.iter().all(|task| {
                    let ok = dept.role_may_perform(x.role, task.as_str(), start);
                    if !ok {
                        r.error(
                            s.line,
                            format!(
                                "{}: a {} may not perform `{task}`: no task agreement valid on {start} permits the role",
                                s.name, x.role
                            ),
                        );
                    }
                    ok
                })
            {
                staff.push(x);
            }
            s.finish(&mut r);
        }
        t.finish(&mut r);
        let Some(start) = start else {
            return Err(r.into_result(()).unwrap_err());
        };
        r.into_result(SimConfig {
            start,
            weekend_factor,
            hourly_profile,
            authorize_minutes_factor,
            review_minutes_factor,
            tasks,
            exams,
            ai,
            staff,
        })
    }
}

fn fraction(r: &mut Reader, t: &mut Table, key: &'static str, lo: f64, hi: f64) -> Option<f64> {
    let v = t.float(r, key)?;
    if (lo..=hi).contains(&v.value) {
        Some(v.value)
    } else {
        r.error(
            v.line,
            format!("`{key}` must lie in [{lo}, {hi}], found {}", v.value),
        );
        None
    }
}

/// A table of per-flag fractions such as `aided_sensitivity = { high_risk = 0.9 }`.
fn per_flag(r: &mut Reader, t: &mut Table, key: &'static str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    if let Some(a) = t.table(r, key) {
        for (flag, v) in a.entries(r) {
            match number(v.get_ref()) {
                Some(x) if (0.0..=1.0).contains(&x) => out.push((flag.value, x)),
                _ => r.error(
                    flag.line,
                    format!(
                        "`{key}` of flag `{}` must be a number in [0, 1]",
                        flag.value
                    ),
                ),
            }
        }
    }
    out
}

fn positive(r: &mut Reader, t: &mut Table, key: &'static str) -> Option<f64> {
    let v = t.float(r, key)?;
    if v.value > 0.0 && v.value.is_finite() {
        Some(v.value)
    } else {
        r.error(
            v.line,
            format!("`{key}` must be a positive number, found {}", v.value),
        );
        None
    }
}

fn catalog_task(r: &mut Reader, dept: &Department, v: Located<String>) -> Option<TaskTypeId> {
    if dept.task(&v.value).is_none() {
        r.error(
            v.line,
            format!("task `{}` is not in the department's task catalog", v.value),
        );
        return None;
    }
    TaskTypeId::parse(v.value).ok()
}

fn profile(r: &mut Reader, t: &mut Table, key: &'static str) -> Option<[f64; 24]> {
    let v = t.floats(r, key)?;
    if v.value.len() != 24 || v.value.iter().any(|x| *x < 0.0) || v.value.iter().sum::<f64>() <= 0.0
    {
        r.error(
            v.line,
            format!("`{key}` must hold 24 non-negative weights, one per hour, not all zero"),
        );
        return None;
    }
    let mut out = [0.0; 24];
    out.copy_from_slice(&v.value);
    Some(out)
}

/// A table of non-negative weights such as `{ stat = 0.1, routine = 0.9 }`, normalised.
fn weights(
    r: &mut Reader,
    t: &mut Table,
    key: &'static str,
) -> Option<Vec<(Located<String>, f64)>> {
    let w = t.table(r, key)?;
    let mut out = Vec::new();
    for (k, v) in w.entries(r) {
        match number(v.get_ref()) {
            Some(x) if x >= 0.0 && x.is_finite() => out.push((k, x)),
            _ => r.error(
                k.line,
                format!("weight `{}` in `{key}` must be a number >= 0", k.value),
            ),
        }
    }
    let total: f64 = out.iter().map(|(_, x)| x).sum();
    if total <= 0.0 {
        r.error(
            w.line,
            format!("`{key}` needs at least one positive weight"),
        );
        return None;
    }
    Some(out.into_iter().map(|(k, x)| (k, x / total)).collect())
}

fn exam(r: &mut Reader, e: &mut Table, dept: &Department, default_site: &str) -> Option<ExamSim> {
    let procedure_code = e.req_string(r, "procedure_code");
    if let Some(p) = &procedure_code {
        e.name = format!("exam `{}`", p.value);
    }
    let modality = e.req_string(r, "modality").map(|v| v.value);
    let body_part = e.req_string(r, "body_part").map(|v| v.value);
    let per_year = e.float(r, "per_year").and_then(|v| {
        if (0.0..=MAX_PER_YEAR).contains(&v.value) {
            Some(v.value)
        } else {
            r.error(
                v.line,
                format!(
                    "`per_year` must lie in [0, {MAX_PER_YEAR}], found {}",
                    v.value
                ),
            );
            None
        }
    });
    if !e.has("per_year") {
        r.error(e.line, format!("{} is missing `per_year`", e.name));
    }
    let read_minutes = positive(r, e, "read_minutes");
    if !e.has("read_minutes") {
        r.error(e.line, format!("{} is missing `read_minutes`", e.name));
    }
    let baseline_readers = e
        .count(r, "baseline_readers")
        .map_or(1, |v| v.value.clamp(1, 4) as u8);
    let baseline_task = e
        .string(r, "baseline_task")
        .and_then(|v| catalog_task(r, dept, v));
    let screening = e.boolean(r, "screening").is_some_and(|v| v.value);
    let priority = weights(r, e, "priority").map(|w| {
        w.into_iter()
            .filter_map(|(k, x)| match Priority::parse(&k.value) {
                Some(p) => Some((p, x)),
                None => {
                    r.error(
                        k.line,
                        format!(
                            "unknown priority `{}` (known: stat, urgent, routine)",
                            k.value
                        ),
                    );
                    None
                }
            })
            .collect()
    });
    if !e.has("priority") {
        r.error(e.line, format!("{} is missing its `priority` mix", e.name));
    }
    let ordering_department = weights(r, e, "ordering_department")
        .map(|w| w.into_iter().map(|(k, x)| (k.value, x)).collect())
        .unwrap_or_else(|| vec![("UNKNOWN".to_string(), 1.0)]);
    let site = weights(r, e, "site")
        .map(|w| {
            w.into_iter()
                .map(|(k, x)| {
                    if !dept.sites.is_empty() && !dept.sites.contains(&k.value) {
                        r.error(
                            k.line,
                            format!("site `{}` is not one of the department's sites", k.value),
                        );
                    }
                    (k.value, x)
                })
                .collect()
        })
        .unwrap_or_else(|| vec![(default_site.to_string(), 1.0)]);
    let age = match e.table(r, "age") {
        Some(mut a) => {
            let mean = a.float(r, "mean").map_or(50.0, |v| v.value);
            let sd = a.float(r, "sd").map_or(0.0, |v| v.value.max(0.0));
            let min = a.count(r, "min").map_or(0, |v| v.value);
            let max = a.count(r, "max").map_or(105, |v| v.value);
            if min > max {
                r.error(a.line, "age `min` is greater than `max`");
            }
            a.finish(r);
            AgeSim { mean, sd, min, max }
        }
        None => AgeSim {
            mean: 50.0,
            sd: 20.0,
            min: 0,
            max: 105,
        },
    };
    let hourly_profile = profile(r, e, "hourly_profile");
    Some(ExamSim {
        procedure_code: procedure_code?.value,
        modality: modality?,
        body_part: body_part?,
        per_year: per_year?,
        read_minutes: read_minutes?,
        baseline_readers,
        baseline_task,
        screening,
        priority: priority?,
        ordering_department,
        site,
        age,
        hourly_profile,
    })
}

fn ai_sim(r: &mut Reader, a: &mut Table, dept: &Department) -> Option<AiSim> {
    let app_id = a.req_string(r, "app");
    let app = app_id.as_ref().and_then(|v| {
        let app = dept.ai_application(&v.value);
        if app.is_none() {
            r.error(
                v.line,
                format!(
                    "AI application `{}` is not in the department's AI register",
                    v.value
                ),
            );
        }
        app
    });
    if let Some(v) = &app_id {
        a.name = format!("simulated AI `{}`", v.value);
    }
    let (median, p90) = match a.table(r, "latency_minutes") {
        Some(mut l) => {
            let m = positive(r, &mut l, "median");
            let p = positive(r, &mut l, "p90");
            if let (Some(m), Some(p)) = (m, p)
                && p < m
            {
                r.error(l.line, "latency `p90` must be at least the `median`");
            }
            l.finish(r);
            (m.unwrap_or(1.0), p.unwrap_or(1.0))
        }
        None => (1.0, 1.0),
    };
    let failure_rate = fraction(r, a, "failure_rate", 0.0, 1.0).unwrap_or(0.0);
    let mut findings = Vec::new();
    for mut f in a.tables(r, "finding") {
        let code = f.req_string(r, "code");
        let spec = match (app, &code) {
            (Some(app), Some(c)) => {
                let s = app.finding(&c.value);
                if s.is_none() {
                    r.error(
                        c.line,
                        format!(
                            "AI application `{}` does not report finding `{}`",
                            app.id, c.value
                        ),
                    );
                }
                s
            }
            _ => None,
        };
        let prevalence = fraction(r, &mut f, "prevalence", 0.0, 1.0);
        if !f.has("prevalence") {
            r.error(
                f.line,
                format!("{} finding is missing `prevalence`", a.name),
            );
        }
        let model = score_model(r, &mut f, spec.map(|s| s.score_range));
        f.finish(r);
        if let (Some(code), Some(prevalence), Some(model)) = (code, prevalence, model)
            && let Ok(code) = FindingCode::parse(code.value)
        {
            findings.push(FindingSim {
                code,
                prevalence,
                model,
            });
        }
    }
    Some(AiSim {
        app: app?.id.clone(),
        latency_median: median,
        latency_p90: p90,
        failure_rate,
        findings,
    })
}

fn score_model(r: &mut Reader, f: &mut Table, range: Option<(f64, f64)>) -> Option<ScoreModel> {
    let sens = fraction(r, f, "sensitivity", 0.0, 1.0);
    let spec = fraction(r, f, "specificity", 0.0, 1.0);
    let pos = f.table(r, "positive_scores").map(|mut t| {
        let d = distribution(r, &mut t, range);
        t.finish(r);
        d
    });
    let neg = f.table(r, "negative_scores").map(|mut t| {
        let d = distribution(r, &mut t, range);
        t.finish(r);
        d
    });
    match (sens, spec, pos, neg) {
        (Some(sensitivity), Some(specificity), None, None) => Some(ScoreModel::SensSpec {
            sensitivity,
            specificity,
        }),
        (None, None, Some(Some(Dist::Beta(p))), Some(Some(Dist::Beta(n)))) => {
            Some(ScoreModel::Beta {
                positive: p,
                negative: n,
            })
        }
        (None, None, Some(Some(Dist::Categories(p))), Some(Some(Dist::Categories(n)))) => {
            Some(ScoreModel::Categories {
                positive: p,
                negative: n,
            })
        }
        (None, None, Some(None), _) | (None, None, _, Some(None)) => None,
        _ => {
            r.error(
                f.line,
                "give either `sensitivity` and `specificity`, or `positive_scores` and `negative_scores` of the same kind",
            );
            None
        }
    }
}

enum Dist {
    Beta((f64, f64)),
    Categories(Vec<f64>),
}

fn distribution(r: &mut Reader, t: &mut Table, range: Option<(f64, f64)>) -> Option<Dist> {
    let beta = t.floats(r, "beta");
    let cats = t.floats(r, "categories");
    match (beta, cats) {
        (Some(b), None) => {
            if b.value.len() == 2 && b.value.iter().all(|x| *x > 0.0) {
                Some(Dist::Beta((b.value[0], b.value[1])))
            } else {
                r.error(b.line, "`beta` must be [a, b] with a, b > 0");
                None
            }
        }
        (None, Some(c)) => {
            let (lo, hi) = range.unwrap_or((0.0, 1.0));
            let expected = (hi - lo).round() as usize + 1;
            let total: f64 = c.value.iter().sum();
            if c.value.len() != expected || c.value.iter().any(|x| *x < 0.0) || total <= 0.0 {
                r.error(
                    c.line,
                    format!("`categories` must hold {expected} non-negative weights, one per score {lo} to {hi}"),
                );
                None
            } else {
                Some(Dist::Categories(
                    c.value.iter().map(|x| x / total).collect(),
                ))
            }
        }
        _ => {
            r.error(
                t.line,
                format!("{} needs exactly one of `beta` or `categories`", t.name),
            );
            None
        }
    }
}

fn staff_group(r: &mut Reader, s: &mut Table, dept: &Department) -> Option<StaffGroup> {
    let role = s.req_string(r, "role").and_then(|v| {
        let role = Role::parse(&v.value);
        if role.is_none() {
            r.error(v.line, format!("unknown role `{}`", v.value));
        }
        role
    });
    let count = s.req_count(r, "count").map(|v| v.value);
    let shift = s.req_string(r, "hours").and_then(|v| {
        let parsed = parse_hours(&v.value);
        if parsed.is_none() {
            r.error(
                v.line,
                format!(
                    "`hours` must look like \"08:00-17:00\" (end may pass midnight), found {:?}",
                    v.value
                ),
            );
        }
        parsed
    });
    let days = match s.string(r, "days") {
        None => Some(Days::All),
        Some(v) => match v.value.as_str() {
            "all" => Some(Days::All),
            "weekdays" => Some(Days::Weekdays),
            "weekends" => Some(Days::Weekends),
            other => {
                r.error(
                    v.line,
                    format!("unknown `days` {other:?} (known: all, weekdays, weekends)"),
                );
                None
            }
        },
    };
    let tasks: Vec<TaskTypeId> = s
        .list(r, "tasks", |r, t| catalog_task(r, dept, t))
        .map_or_else(Vec::new, |l| l.value);
    if tasks.is_empty() {
        r.error(
            s.line,
            format!("{} must list the `tasks` the group does", s.name),
        );
    }
    let (start, end) = shift?;
    Some(StaffGroup {
        role: role?,
        count: count?,
        shift: Shift {
            start,
            end,
            days: days?,
        },
        tasks,
    })
}

/// "08:00-17:00" to minutes after midnight; "24:00" is allowed as an end.
fn parse_hours(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let hm = |x: &str| -> Option<u32> {
        let (h, m) = x.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (hm(a)?, hm(b)?);
    (start != end && start < 1440).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_including_overnight_and_midnight_end() {
        assert_eq!(parse_hours("08:00-17:00"), Some((480, 1020)));
        assert_eq!(parse_hours("17:00-08:00"), Some((1020, 480)));
        assert_eq!(parse_hours("00:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_hours("08:00-08:00"), None);
        assert_eq!(parse_hours("8-17"), None);
        assert_eq!(parse_hours("08:61-09:00"), None);
    }
}
