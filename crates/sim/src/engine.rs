//! The simulation: generate a stream of exams with simulated AI results, route each with
//! the real policy engine, then run the resulting work through a staffed queue.
//!
//! Two phases keep it reproducible: phase one draws every random number in arrival order
//! (exam attributes, AI scores and latencies, gatekeeper escalation, review sampling);
//! phase two is a deterministic discrete-event queue.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use radgate_domain::policy::Outcome as PolicyOutcome;
use radgate_domain::professional::Role;
use radgate_domain::report::{AUTHORIZATION_TASK as FINAL_REPORT, REVIEW_TASK as REVIEW};
use radgate_domain::{Department, Pathway, Policy, Priority};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use crate::config::{ConsensusWhen, Days, ExamSim, Shift, SimConfig, TaskSim};
use crate::draw::draw_exam;
use crate::report::{Outcome, Screen, Tally};

const MINUTE_MS: i64 = 60_000;
const DAY_MIN: i64 = 1440;
/// The queue keeps serving until done, but gives up this long after the last arrival so
/// that an understaffed roster ends with a count of unfinished work, not a hang.
const DRAIN_DAYS: i64 = 365;
/// Ten years: longer runs say nothing a policy designer needs and only cost memory.
pub const MAX_DAYS: u32 = 3653;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no one on the roster can do task `{task}`, which {needed_by}")]
    NoOneCanDo { task: String, needed_by: String },
    #[error(
        "task `{task}` is used for gatekeeping, so its [[simulation.task]] needs `specificity`"
    )]
    GatekeeperNeedsSpecificity { task: String },
    #[error(
        "task `{task}` reads screening exams, which can recall, so its [[simulation.task]] needs `specificity`"
    )]
    ScreeningNeedsSpecificity { task: String },
    #[error("days must be 1 to {MAX_DAYS}, got {0}")]
    Days(u32),
}

/// One routed exam and what the queue must do for it.
struct Exam {
    spec: usize,
    acquired_ms: i64,
    ready_ms: i64,
    due_ms: i64,
    priority: Priority,
    pathway: Pathway,
    /// Index into `Plan::tasks` of the decision's task.
    task: usize,
    /// Work items the decision opens, as the domain's `Decision::initial_tasks` says.
    initial_items: u8,
    escalate: bool,
    review: bool,
    /// A screening exam a reader flagged: the discussion task and its minutes, after the
    /// reads.
    discussion: Option<(usize, f64)>,
    /// Steps on the critical path still to do; the exam is reported when it reaches 0.
    pending: u8,
    done_ms: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    Read,
    Gatekeep,
    Escalation,
    Delegate,
    Authorize,
    Consensus,
    Review,
}

impl Step {
    /// How the report names this kind of work.
    fn kind(self) -> &'static str {
        match self {
            Step::Read => "read",
            Step::Gatekeep => "gatekeeping",
            Step::Escalation => "escalation",
            Step::Delegate => "delegated",
            Step::Authorize => "authorization",
            Step::Consensus => "consensus",
            Step::Review => "review",
        }
    }
}

#[derive(Clone, Copy)]
struct Item {
    exam: u32,
    task: usize,
    step: Step,
    minutes: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct QueueKey {
    priority: Priority,
    due_ms: i64,
    seq: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Ordered before completions at the same instant, so freed workers see new items.
    Ready(u32),
    Done(u32, u32),
    ShiftStart(u32),
}

struct Worker {
    role: Role,
    shift: Shift,
    tasks: Vec<usize>,
    busy: bool,
}

/// The whole department as the simulation needs it.
pub(crate) struct Plan<'a> {
    pub dept: &'a Department,
    pub cfg: &'a SimConfig,
    pub policy: &'a Policy,
    tasks: Vec<String>,
    index: HashMap<String, usize>,
}

impl<'a> Plan<'a> {
    pub fn new(dept: &'a Department, cfg: &'a SimConfig, policy: &'a Policy) -> Self {
        let mut plan = Plan {
            dept,
            cfg,
            policy,
            tasks: Vec::new(),
            index: HashMap::new(),
        };
        // Follow-up work uses these two tasks whatever the decisions name.
        plan.task_index(FINAL_REPORT);
        plan.task_index(REVIEW);
        plan
    }

    fn task_index(&mut self, id: &str) -> usize {
        if let Some(i) = self.index.get(id) {
            return *i;
        }
        self.tasks.push(id.to_string());
        self.index.insert(id.to_string(), self.tasks.len() - 1);
        self.tasks.len() - 1
    }

    /// The reading characteristics of `task`: its own, else the radiologist's read's.
    fn characteristics(&self, task: &str) -> Option<&TaskSim> {
        self.cfg.task(task).or_else(|| self.cfg.task(FINAL_REPORT))
    }

    fn sensitivity(&self, task: &str) -> f64 {
        self.characteristics(task).map_or(1.0, |t| t.sensitivity)
    }

    /// The chances that the reading of one screening exam flags it and recalls it.
    fn screen(
        &self,
        pathway: Pathway,
        task: &str,
        readers: u8,
        flags: &[String],
        cancer: bool,
    ) -> Screen {
        let (Some(t), Some(read)) = (self.characteristics(task), self.cfg.task(FINAL_REPORT))
        else {
            // `check_roster` refuses a screening simulation without these.
            return Screen::default();
        };
        let flag_chance = |t: &TaskSim, flags: &[String]| {
            if cancer {
                t.sensitivity_with(flags)
            } else {
                1.0 - t.specificity_with(flags).unwrap_or(1.0)
            }
        };
        let rho = if cancer { t.miss_correlation } else { 0.0 };
        let p_task = flag_chance(t, flags);
        // The radiologist who takes over from a gatekeeper or delegate reads unaided.
        let flagged = flag_probability(pathway, readers, p_task, flag_chance(read, &[]), rho);
        let consensus = if is_read(pathway) {
            t.consensus.as_ref().and_then(|c| self.cfg.task(c.as_str()))
        } else {
            None
        };
        match consensus {
            Some(c) if t.consensus_when == ConsensusWhen::Discordant => {
                // Correlated readers agree more: P(next flags | this flagged) mirrors the
                // misses' chain, p + rho (1 - p).
                let all = all_miss(p_task, readers, rho);
                let split = (flagged - all).max(0.0);
                Screen {
                    recalled: all + split * flag_chance(c, flags),
                    discussed: split,
                }
            }
            Some(c) => Screen {
                recalled: flagged * flag_chance(c, flags),
                discussed: flagged,
            },
            None => Screen {
                recalled: flagged,
                discussed: 0.0,
            },
        }
    }

    /// Every outcome the policy can decide, named for messages.
    fn outcomes(&self) -> impl Iterator<Item = (String, &'a PolicyOutcome)> + 'a {
        let policy = self.policy;
        std::iter::once(("the policy default".to_string(), &policy.default)).chain(
            policy
                .rules
                .iter()
                .map(|r| (format!("rule `{}`", r.id), &r.then)),
        )
    }

    /// Fails early when some work could never be done, instead of queueing forever.
    fn check_roster(&self) -> Result<(), SimError> {
        let mut needed: Vec<(String, String)> = Vec::new();
        for (name, o) in self.outcomes() {
            needed.push((o.task.to_string(), format!("{name} decides")));
            if o.review_fraction > 0.0 {
                needed.push((REVIEW.into(), format!("{name}'s review sampling needs")));
            }
            if matches!(
                o.pathway,
                Pathway::Gatekeeper | Pathway::DelegatedPreliminary
            ) {
                needed.push((
                    FINAL_REPORT.into(),
                    format!("{name}'s escalations and authorizations need"),
                ));
            }
            if o.pathway == Pathway::Gatekeeper
                && self
                    .cfg
                    .task(o.task.as_str())
                    .and_then(|t| t.specificity)
                    .is_none()
            {
                return Err(SimError::GatekeeperNeedsSpecificity {
                    task: o.task.to_string(),
                });
            }
        }
        if self.cfg.exams.iter().any(|e| e.screening) {
            // Every task that reads a screening exam can recall, so each needs both
            // characteristics; the radiologist's read only behind a gatekeeper or delegate.
            let mut readers: Vec<&str> = self.outcomes().map(|(_, o)| o.task.as_str()).collect();
            readers.extend(
                self.cfg
                    .exams
                    .iter()
                    .filter(|e| e.screening)
                    .filter_map(|e| e.baseline_task.as_ref().map(|t| t.as_str())),
            );
            if self.outcomes().any(|(_, o)| !is_read(o.pathway)) {
                readers.push(FINAL_REPORT);
            }
            for task in readers {
                if self
                    .characteristics(task)
                    .and_then(|t| t.specificity)
                    .is_none()
                {
                    return Err(SimError::ScreeningNeedsSpecificity {
                        task: task.to_string(),
                    });
                }
            }
            for t in &self.cfg.tasks {
                if let Some(c) = &t.consensus {
                    needed.push((
                        c.to_string(),
                        format!("task `{}`'s consensus discussions need", t.id),
                    ));
                }
            }
        }
        for (task, needed_by) in needed {
            if !self
                .cfg
                .staff
                .iter()
                .any(|s| s.count > 0 && s.tasks.iter().any(|t| t.as_str() == task))
            {
                return Err(SimError::NoOneCanDo { task, needed_by });
            }
        }
        Ok(())
    }
}

pub(crate) fn run(plan: &mut Plan, days: u32, seed: u64) -> Result<Tally, SimError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(SimError::Days(days));
    }
    plan.check_roster()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start_dt = plan
        .cfg
        .start
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let arrivals = arrivals(plan.cfg, days, &mut rng);
    let mut tally = Tally::default();
    let mut exams = Vec::with_capacity(arrivals.len());
    for (n, (t_ms, spec)) in arrivals.into_iter().enumerate() {
        exams.push(route(plan, n, t_ms, spec, start_dt, &mut rng, &mut tally));
    }
    let last_arrival = exams.iter().map(|e| e.ready_ms).max().unwrap_or(0);
    queue(
        plan,
        &mut exams,
        &mut tally,
        last_arrival + DRAIN_DAYS * DAY_MIN * MINUTE_MS,
    );
    for e in &exams {
        match e.done_ms {
            Some(done) => tally.turnaround(
                e.priority,
                (done - e.acquired_ms) as f64 / MINUTE_MS as f64,
                done <= e.due_ms,
            ),
            None => tally.unfinished += 1,
        }
    }
    Ok(tally)
}

/// Exam arrival times (ms since day 0) and which exam type, sorted by time.
fn arrivals(cfg: &SimConfig, days: u32, rng: &mut ChaCha8Rng) -> Vec<(i64, usize)> {
    let wf = cfg.weekend_factor;
    // Scales weekday volume so that a year of weeks adds up to `per_year`.
    let week_norm = 7.0 / (5.0 + 2.0 * wf);
    let mut out = Vec::new();
    for day in 0..days {
        let date = cfg.start + Duration::days(day.into());
        let factor = if is_weekend(date) { wf } else { 1.0 } * week_norm;
        for (i, e) in cfg.exams.iter().enumerate() {
            let profile = e.hourly_profile.as_ref().unwrap_or(&cfg.hourly_profile);
            let total: f64 = profile.iter().sum();
            let daily = e.per_year / 365.25 * factor;
            for (hour, w) in profile.iter().enumerate() {
                let lambda = daily * w / total;
                if lambda <= 0.0 {
                    continue;
                }
                let k: f64 = Poisson::new(lambda).expect("lambda > 0").sample(rng);
                for _ in 0..k as u64 {
                    let minute = (i64::from(day) * DAY_MIN + hour as i64 * 60) as f64
                        + rng.random::<f64>() * 60.0;
                    out.push(((minute * MINUTE_MS as f64) as i64, i));
                }
            }
        }
    }
    out.sort_by_key(|&(t, i)| (t, i));
    out
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The chance that the prospective reading on a pathway flags an exam, from the chance
/// that a reader of its task flags it (`p_task`) and that the radiologist's read does
/// (`p_read`): sensitivities for an exam with the finding, 1 - specificity without.
/// `correlation` ties double readers' misses (see `all_miss`).
fn flag_probability(
    pathway: Pathway,
    readers: u8,
    p_task: f64,
    p_read: f64,
    correlation: f64,
) -> f64 {
    match pathway {
        Pathway::RadiologistRead | Pathway::SingleRead | Pathway::DoubleRead => {
            1.0 - all_miss(1.0 - p_task, readers, correlation)
        }
        // Flagged only when the gatekeeper escalates and the radiologist then flags it.
        Pathway::Gatekeeper => p_task * p_read,
        // The delegate or the authorizing radiologist may flag it.
        Pathway::DelegatedPreliminary => 1.0 - (1.0 - p_task) * (1.0 - p_read),
        Pathway::AutonomousNormal => 0.0,
    }
}

/// Whether radiologists read the exam themselves on this pathway.
fn is_read(pathway: Pathway) -> bool {
    matches!(
        pathway,
        Pathway::RadiologistRead | Pathway::SingleRead | Pathway::DoubleRead
    )
}

/// The chance that all `readers` miss a finding each misses with chance `m`, when each
/// further reader's miss correlates with the previous one's by `rho` (exchangeable
/// Bernoulli misses: P(next misses | this missed) = m + rho (1 - m)).
fn all_miss(m: f64, readers: u8, rho: f64) -> f64 {
    if readers == 0 {
        return 1.0;
    }
    let given = m + rho * (1.0 - m);
    m * given.powi(i32::from(readers) - 1)
}

/// Draws one exam's attributes and AI results, routes it, and settles the random parts of
/// its pathway.
fn route(
    plan: &mut Plan,
    n: usize,
    acquired_ms: i64,
    spec_idx: usize,
    start_dt: DateTime<Utc>,
    rng: &mut ChaCha8Rng,
    tally: &mut Tally,
) -> Exam {
    let spec: &ExamSim = &plan.cfg.exams[spec_idx];
    let acquired_at = start_dt + Duration::milliseconds(acquired_ms);
    let accession = format!("SIM{n:010}");
    let drawn = draw_exam(
        plan.dept,
        plan.cfg,
        spec_idx,
        &accession,
        n,
        acquired_at,
        rng,
    );
    let (study, truth) = (drawn.study, drawn.truth);

    // Routing waits for each expected result up to the policy's wait for that application.
    let mut results = Vec::new();
    let mut wait_ms = 0i64;
    for ai in drawn.ai {
        let wait = i64::from(plan.policy.wait_minutes_for(&ai.result.app)) * MINUTE_MS;
        if !ai.failed && ai.latency_ms <= wait {
            wait_ms = wait_ms.max(ai.latency_ms);
            results.push(ai.result);
            tally.ai_results += 1;
        } else {
            wait_ms = wait_ms.max(wait);
            tally.ai_missing += 1;
        }
    }

    let now = acquired_at + Duration::milliseconds(wait_ms);
    let d = plan.policy.decide(&study, &results, now);
    let task = plan.task_index(d.task.as_str());
    let gate = plan.cfg.task(d.task.as_str());
    let escalate = d.pathway == Pathway::Gatekeeper && {
        let p = if truth {
            gate.map_or(1.0, |g| g.sensitivity)
        } else {
            1.0 - gate.and_then(|g| g.specificity).unwrap_or(0.0)
        };
        rng.random_bool(p)
    };
    let review = d.review_fraction > 0.0 && rng.random_bool(d.review_fraction);

    // What the baseline reads with: a named task, else the same task as the AI arm, that
    // is what the policy decides once every AI wait has run out with no result (its
    // `ai_missing` rules, else its default).
    let policy = plan.policy;
    let base_task = || match &spec.baseline_task {
        Some(t) => t.clone(),
        None => {
            policy
                .decide(&study, &[], acquired_at + Duration::days(366))
                .task
        }
    };
    let recovered = if truth {
        d.review_fraction * plan.sensitivity(REVIEW)
    } else {
        0.0
    };
    let mut discussion = None;
    if spec.screening {
        // Every read can recall; the chances are expected values over this exam's truth.
        let screen = plan.screen(d.pathway, d.task.as_str(), d.readers, &d.flags, truth);
        // The baseline is radiologists reading unaided.
        let base_task = base_task();
        let base = plan.screen(
            Pathway::RadiologistRead,
            base_task.as_str(),
            spec.baseline_readers,
            &[],
            truth,
        );
        if screen.discussed > 0.0 && rng.random_bool(screen.discussed.min(1.0)) {
            let c = plan
                .characteristics(d.task.as_str())
                .and_then(|t| t.consensus.clone())
                .expect("only a task with a consensus discusses");
            let minutes = plan
                .cfg
                .task(c.as_str())
                .and_then(|t| t.minutes)
                .unwrap_or(spec.read_minutes);
            discussion = Some((plan.task_index(c.as_str()), minutes));
        }
        let consensus_minutes = plan
            .characteristics(base_task.as_str())
            .and_then(|t| t.consensus.as_ref())
            .and_then(|c| plan.cfg.task(c.as_str()))
            .and_then(|t| t.minutes)
            .unwrap_or(spec.read_minutes);
        let reads = if is_read(d.pathway) { d.readers } else { 0 };
        tally.screen(
            reads,
            screen,
            recovered,
            spec.baseline_readers,
            base,
            consensus_minutes,
            truth,
        );
        if truth {
            tally.findings += 1;
            tally.missed(d.pathway, (1.0 - screen.recalled) * (1.0 - recovered));
            tally.baseline_missed += 1.0 - base.recalled;
        }
    } else if truth {
        // Expected misses: the chance the prospective reading misses a true finding, times
        // the chance retrospective review does not recover it.
        let s_read = plan.sensitivity(FINAL_REPORT);
        // A reader shown a flag by the AI reads with the task's aided sensitivity.
        let s_task = plan
            .characteristics(d.task.as_str())
            .map_or(1.0, |t| t.sensitivity_with(&d.flags));
        let rho = plan
            .cfg
            .task(d.task.as_str())
            .map_or(0.0, |t| t.miss_correlation);
        let p_detect = flag_probability(d.pathway, d.readers, s_task, s_read, rho);
        // The baseline is unaided: no AI flag reaches its readers.
        let base_task = base_task();
        let s_base = plan.sensitivity(base_task.as_str());
        let base_rho = plan
            .cfg
            .task(base_task.as_str())
            .map_or(0.0, |t| t.miss_correlation);
        tally.findings += 1;
        tally.missed(d.pathway, (1.0 - p_detect) * (1.0 - recovered));
        tally.baseline_missed += all_miss(1.0 - s_base, spec.baseline_readers, base_rho);
    }

    tally.exam(Outcome {
        pathway: d.pathway,
        rule: d.rule.as_ref().map_or("(default)", |r| r.as_str()),
        baseline_readers: spec.baseline_readers,
        read_minutes: spec.read_minutes,
    });
    let ready_ms = acquired_ms + wait_ms;
    Exam {
        spec: spec_idx,
        acquired_ms,
        ready_ms,
        due_ms: acquired_ms + i64::from(d.sla_minutes) * MINUTE_MS,
        priority: d.priority,
        pathway: d.pathway,
        task,
        initial_items: d.initial_tasks().len() as u8,
        escalate,
        review,
        discussion,
        pending: 0,
        done_ms: None,
    }
}

/// Whether `shift` covers minute-of-simulation `t` (day 0 starts at `start`).
fn on_shift(shift: &Shift, start: NaiveDate, t_min: i64) -> bool {
    let day = t_min.div_euclid(DAY_MIN);
    let m = t_min.rem_euclid(DAY_MIN) as u32;
    let works = |d: i64| days_match(shift.days, start + Duration::days(d));
    if shift.start < shift.end {
        works(day) && m >= shift.start && m < shift.end
    } else {
        (works(day) && m >= shift.start) || (works(day - 1) && m < shift.end)
    }
}

fn days_match(days: Days, date: NaiveDate) -> bool {
    match days {
        Days::All => true,
        Days::Weekdays => !is_weekend(date),
        Days::Weekends => is_weekend(date),
    }
}

/// The first shift start strictly after `t_ms`, if any within a week.
fn next_shift_start(shift: &Shift, start: NaiveDate, t_ms: i64) -> Option<i64> {
    let day = t_ms.div_euclid(DAY_MIN * MINUTE_MS);
    (day..day + 8)
        .filter(|d| days_match(shift.days, start + Duration::days(*d)))
        .map(|d| (d * DAY_MIN + i64::from(shift.start)) * MINUTE_MS)
        .find(|s| *s > t_ms)
}

struct Queue {
    items: Vec<Item>,
    keys: Vec<QueueKey>,
    queues: Vec<BinaryHeap<Reverse<QueueKey>>>,
    workers: Vec<Worker>,
    by_task: Vec<Vec<u32>>,
    events: BinaryHeap<Reverse<(i64, Event)>>,
}

impl Queue {
    fn add(&mut self, now: i64, item: Item, priority: Priority, due_ms: i64) {
        let seq = self.items.len() as u32;
        self.items.push(item);
        self.keys.push(QueueKey {
            priority,
            due_ms,
            seq,
        });
        self.events.push(Reverse((now, Event::Ready(seq))));
    }

    fn start_next(&mut self, w: u32, now: i64) {
        let worker = &self.workers[w as usize];
        let best = worker
            .tasks
            .iter()
            .filter_map(|t| self.queues[*t].peek().map(|k| (k.0, *t)))
            .min();
        if let Some((key, t)) = best {
            self.queues[t].pop();
            let item = &self.items[key.seq as usize];
            let end = now + (item.minutes * MINUTE_MS as f64) as i64;
            self.workers[w as usize].busy = true;
            self.events.push(Reverse((end, Event::Done(w, key.seq))));
        }
    }
}

/// How sampled exams are reviewed once they are finished.
#[derive(Clone, Copy)]
struct ReviewPlan {
    task: usize,
    minutes_factor: f64,
    sla_ms: i64,
}

impl Queue {
    /// Records an exam's final result and queues its retrospective review if sampled.
    fn finish(&mut self, e: &mut Exam, exam: u32, now: i64, read_minutes: f64, review: ReviewPlan) {
        e.done_ms = Some(now);
        if e.review {
            let item = Item {
                exam,
                task: review.task,
                step: Step::Review,
                minutes: read_minutes * review.minutes_factor,
            };
            self.add(now, item, Priority::Routine, now + review.sla_ms);
        }
    }
}

fn queue(plan: &Plan, exams: &mut [Exam], tally: &mut Tally, give_up_ms: i64) {
    let cfg = plan.cfg;
    let mut workers = Vec::new();
    for g in &cfg.staff {
        let tasks: Vec<usize> = g
            .tasks
            .iter()
            .filter_map(|t| plan.index.get(t.as_str()).copied())
            .collect();
        for _ in 0..g.count {
            workers.push(Worker {
                role: g.role,
                shift: g.shift,
                tasks: tasks.clone(),
                busy: false,
            });
        }
    }
    let mut by_task = vec![Vec::new(); plan.tasks.len()];
    for (i, w) in workers.iter().enumerate() {
        for t in &w.tasks {
            by_task[*t].push(i as u32);
        }
    }
    let mut q = Queue {
        items: Vec::new(),
        keys: Vec::new(),
        queues: (0..plan.tasks.len()).map(|_| BinaryHeap::new()).collect(),
        workers,
        by_task,
        events: BinaryHeap::new(),
    };
    let final_report = plan.index[FINAL_REPORT];
    let review = ReviewPlan {
        task: plan.index[REVIEW],
        minutes_factor: cfg.review_minutes_factor,
        sla_ms: i64::from(plan.policy.sla.routine) * MINUTE_MS,
    };
    for (w, worker) in q.workers.iter().enumerate() {
        let first = if on_shift(&worker.shift, cfg.start, 0) {
            Some(0)
        } else {
            next_shift_start(&worker.shift, cfg.start, 0)
        };
        if let Some(t) = first {
            q.events.push(Reverse((t, Event::ShiftStart(w as u32))));
        }
    }
    for (i, e) in exams.iter_mut().enumerate() {
        let read_minutes = cfg.exams[e.spec].read_minutes;
        let minutes = cfg
            .task(&plan.tasks[e.task])
            .and_then(|t| t.minutes)
            .unwrap_or(read_minutes);
        let exam = i as u32;
        let step = match e.pathway {
            Pathway::Gatekeeper => Step::Gatekeep,
            Pathway::DelegatedPreliminary => Step::Delegate,
            _ => Step::Read,
        };
        e.pending = e.initial_items;
        for _ in 0..e.initial_items {
            let item = Item {
                exam,
                task: e.task,
                step,
                minutes,
            };
            q.add(e.ready_ms, item, e.priority, e.due_ms);
        }
        if e.initial_items == 0 {
            q.finish(e, exam, e.ready_ms, read_minutes, review);
        }
    }

    let mut done_items = 0usize;
    while let Some(Reverse((now, ev))) = q.events.pop() {
        if now > give_up_ms {
            break;
        }
        match ev {
            Event::Ready(seq) => {
                let key = q.keys[seq as usize];
                let task = q.items[seq as usize].task;
                q.queues[task].push(Reverse(key));
                let idle = q.by_task[task].iter().copied().find(|w| {
                    let worker = &q.workers[*w as usize];
                    !worker.busy && on_shift(&worker.shift, cfg.start, now / MINUTE_MS)
                });
                if let Some(w) = idle {
                    q.start_next(w, now);
                }
            }
            Event::ShiftStart(w) => {
                if !q.workers[w as usize].busy {
                    q.start_next(w, now);
                }
                // Shifts recur only while work is open, so the loop ends when all is done.
                if q.items.len() > done_items
                    && let Some(next) =
                        next_shift_start(&q.workers[w as usize].shift, cfg.start, now)
                {
                    q.events.push(Reverse((next, Event::ShiftStart(w))));
                }
            }
            Event::Done(w, seq) => {
                done_items += 1;
                let worker = &mut q.workers[w as usize];
                worker.busy = false;
                let (role, shift) = (worker.role, worker.shift);
                let Item {
                    exam,
                    step,
                    minutes,
                    ..
                } = q.items[seq as usize];
                tally.work(role, step.kind(), minutes);
                let e = &mut exams[exam as usize];
                let read_minutes = cfg.exams[e.spec].read_minutes;
                let follow_up = match step {
                    Step::Gatekeep if e.escalate => {
                        Some((Step::Escalation, final_report, read_minutes))
                    }
                    Step::Delegate => Some((
                        Step::Authorize,
                        final_report,
                        read_minutes * cfg.authorize_minutes_factor,
                    )),
                    Step::Read
                    | Step::Escalation
                    | Step::Authorize
                    | Step::Gatekeep
                    | Step::Consensus => {
                        e.pending -= 1;
                        // A flagged screening exam is discussed once all its reads are in.
                        match e.discussion {
                            Some((task, minutes)) if step == Step::Read && e.pending == 0 => {
                                e.discussion = None;
                                e.pending = 1;
                                Some((Step::Consensus, task, minutes))
                            }
                            _ => None,
                        }
                    }
                    Step::Review => None,
                };
                match follow_up {
                    Some((step, task, minutes)) => {
                        let item = Item {
                            exam,
                            task,
                            step,
                            minutes,
                        };
                        q.add(now, item, e.priority, e.due_ms);
                    }
                    None if step != Step::Review && e.pending == 0 => {
                        q.finish(e, exam, now, read_minutes, review);
                    }
                    None => {}
                }
                if on_shift(&shift, cfg.start, now / MINUTE_MS) {
                    q.start_next(w, now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::draw_index;

    #[test]
    fn detection_probability_follows_each_pathway() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(
            flag_probability(Pathway::DoubleRead, 2, 0.8, 0.9, 0.0),
            0.96
        ));
        assert!(close(
            flag_probability(Pathway::Gatekeeper, 1, 0.9, 0.95, 0.0),
            0.855
        ));
        assert!(close(
            flag_probability(Pathway::DelegatedPreliminary, 1, 0.9, 0.95, 0.0),
            0.995
        ));
        assert_eq!(
            flag_probability(Pathway::AutonomousNormal, 1, 0.9, 0.95, 0.0),
            0.0
        );
    }

    #[test]
    fn correlated_readers_miss_together() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // Independent: 0.2 * 0.2; fully correlated: the second adds nothing.
        assert!(close(all_miss(0.2, 2, 0.0), 0.04));
        assert!(close(all_miss(0.2, 2, 1.0), 0.2));
        // Between: P(second misses | first missed) = 0.2 + 0.5 * 0.8 = 0.6.
        assert!(close(all_miss(0.2, 2, 0.5), 0.12));
        assert!(close(
            flag_probability(Pathway::DoubleRead, 2, 0.8, 0.9, 0.5),
            0.88
        ));
        assert!(
            close(all_miss(0.2, 1, 0.7), 0.2),
            "one reader has no partner"
        );
    }

    #[test]
    fn draw_index_follows_the_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[draw_index([0.2, 0.5, 0.3].into_iter(), &mut rng)] += 1;
        }
        // 3 standard deviations of a binomial(30000, p) proportion is below 0.009.
        for (c, p) in counts.iter().zip([0.2, 0.5, 0.3]) {
            assert!((f64::from(*c) / 30_000.0 - p).abs() < 0.009, "{counts:?}");
        }
    }

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
    }

    #[test]
    fn overnight_shift_covers_early_morning_of_next_day() {
        let s = Shift {
            start: 17 * 60,
            end: 8 * 60,
            days: Days::Weekdays,
        };
        // Friday 17:00 shift runs into Saturday 07:59, but no Saturday-evening shift.
        let fri = 4 * DAY_MIN;
        assert!(on_shift(&s, monday(), fri + 17 * 60));
        assert!(on_shift(&s, monday(), fri + DAY_MIN + 7 * 60 + 59));
        assert!(!on_shift(&s, monday(), fri + DAY_MIN + 17 * 60));
        assert!(!on_shift(&s, monday(), 12 * 60));
    }

    #[test]
    fn next_shift_start_skips_days_off() {
        let s = Shift {
            start: 8 * 60,
            end: 17 * 60,
            days: Days::Weekdays,
        };
        let fri_noon = (4 * DAY_MIN + 12 * 60) * MINUTE_MS;
        let next = next_shift_start(&s, monday(), fri_noon).unwrap();
        assert_eq!(next, (7 * DAY_MIN + 8 * 60) * MINUTE_MS, "Monday 08:00");
    }
}
