//! Training programmes (MIRO master, Technical Medicine, radiology residency): their
//! assessment requirements as data, each trainee's progress against them with the gaps
//! named, the cohort view of who is behind, and the exam committee's reproducible sample
//! of confirmed assessments to re-assess.
//!
//! Progress counts confirmed assessments of the trainee dated inside the counting period
//! (programme years `from_year` to `to_year`, counted from the trainee's start). A domain
//! counts an assessment when it was scored (not "not observed"). A trainee is behind when
//! the total or any domain is below the pro-rata share of its target for the part of the
//! period that has passed; at the end of the period that is the whole target.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::config::{Located, Reader, Table};
use crate::ids::ProfessionalId;
use crate::portfolio::{Assessment, AssessmentStatus, DOMAINS};
use crate::professional::Professional;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Programme {
    pub id: String,
    pub name: String,
    /// Programme staff (opleidingsstaf, exam committee): they see every trainee's portfolio.
    pub staff: Vec<ProfessionalId>,
    pub requirements: ProgrammeRequirements,
    /// Share of confirmed assessments the exam committee re-assesses.
    pub review_fraction: f64,
    /// Whether its staff assess its trainees (record and confirm KKBs), besides their
    /// supervisors and the radiologists (`staff_assess`, default false).
    pub staff_assess: bool,
    /// What placement matching forbids across rounds (`variety`: `none`, the default, or
    /// `no_repeat_kind`).
    pub variety: crate::matching::VarietyRule,
    /// The seed of the placements' lottery (`matching_seed`, default 1).
    pub matching_seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgrammeRequirements {
    pub assessments: u32,
    /// Programme years (1 = the first year after the start) the count covers, inclusive.
    pub from_year: u32,
    pub to_year: u32,
    pub per_domain: u32,
    /// Minimum assessments per placement, for the placements the programme names.
    pub per_placement: Vec<(String, u32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trainee {
    pub person: ProfessionalId,
    pub programme: String,
    pub started: NaiveDate,
    /// Their supervisors (opleiders, werkbegeleiders): they see the trainee's portfolio.
    pub supervisors: Vec<ProfessionalId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    /// The counting period has not begun.
    NotStarted,
    OnTrack,
    Behind,
    /// Every target met.
    Complete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub have: u32,
    pub need: u32,
    /// The pro-rata share of `need` due by today.
    pub due_by_now: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub person: ProfessionalId,
    pub programme: String,
    pub period_from: NaiveDate,
    pub period_until: NaiveDate,
    pub status: ProgressStatus,
    pub total: Count,
    pub per_domain: Vec<Count>,
    pub per_placement: Vec<Count>,
    /// Human-readable shortfalls against the final targets, most pressing first.
    pub gaps: Vec<String>,
}

impl Programme {
    /// The first and last day that count for someone who started on `started`.
    pub fn period(&self, started: NaiveDate) -> (NaiveDate, NaiveDate) {
        let r = &self.requirements;
        let from = started + Months::new(12 * (r.from_year.max(1) - 1));
        let until = started + Months::new(12 * r.to_year.max(r.from_year)) - chrono::Days::new(1);
        (from, until)
    }
}

/// One trainee's progress on `today`, from all of their assessments (any status, any date:
/// only confirmed ones inside the period count).
pub fn progress(
    trainee: &Trainee,
    programme: &Programme,
    assessments: &[Assessment],
    today: NaiveDate,
) -> Progress {
    let (from, until) = programme.period(trainee.started);
    let counted: Vec<&Assessment> = assessments
        .iter()
        .filter(|a| {
            a.assessee == trainee.person
                && a.status == AssessmentStatus::Confirmed
                && a.date >= from
                && a.date <= until
                && a.date <= today
        })
        .collect();
    // The share of the period that has passed, in days, 0 before it and 1 after it.
    let length = (until - from).num_days() + 1;
    let passed = ((today - from).num_days() + 1).clamp(0, length);
    let share = passed as f64 / length as f64;
    let due = |need: u32| (f64::from(need) * share).floor() as u32;
    let count = |name: &str, have: usize, need: u32| Count {
        name: name.to_owned(),
        have: have as u32,
        need,
        due_by_now: due(need),
    };
    let r = &programme.requirements;
    let total = count("total", counted.len(), r.assessments);
    let per_domain: Vec<Count> = DOMAINS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let have = counted.iter().filter(|a| a.scores[i].is_some()).count();
            count(d, have, r.per_domain)
        })
        .collect();
    let per_placement: Vec<Count> = r
        .per_placement
        .iter()
        .map(|(p, need)| {
            let have = counted.iter().filter(|a| &a.placement == p).count();
            count(p, have, *need)
        })
        .collect();
    let all = || {
        std::iter::once(&total)
            .chain(&per_domain)
            .chain(&per_placement)
    };
    let status = if today < from {
        ProgressStatus::NotStarted
    } else if all().all(|c| c.have >= c.need) {
        ProgressStatus::Complete
    } else if all().any(|c| c.have < c.due_by_now) {
        ProgressStatus::Behind
    } else {
        ProgressStatus::OnTrack
    };
    let mut short: Vec<(&str, &Count)> = std::iter::once(("assessments", &total))
        .chain(per_domain.iter().map(|c| ("domain", c)))
        .chain(per_placement.iter().map(|c| ("placement", c)))
        .filter(|(_, c)| c.have < c.need)
        .collect();
    // Furthest behind schedule first, then the largest remaining shortfall.
    short.sort_by_key(|(_, c)| {
        (
            std::cmp::Reverse(c.due_by_now.saturating_sub(c.have)),
            std::cmp::Reverse(c.need - c.have),
        )
    });
    let gaps = short
        .into_iter()
        .map(|(kind, c)| {
            let what = if kind == "assessments" {
                "assessments in total".to_owned()
            } else {
                format!("{kind} {}", c.name)
            };
            let behind = if c.have < c.due_by_now {
                format!(", {} due by now", c.due_by_now)
            } else {
                String::new()
            };
            format!("{what}: {} of {}{behind}", c.have, c.need)
        })
        .collect();
    Progress {
        person: trainee.person.clone(),
        programme: programme.id.clone(),
        period_from: from,
        period_until: until,
        status,
        total,
        per_domain,
        per_placement,
        gaps,
    }
}

/// Every trainee of the programme, those behind first (then not complete, by the largest
/// total shortfall), so the cohort view opens on who needs attention.
pub fn cohort(
    programme: &Programme,
    trainees: &[Trainee],
    assessments_of: impl Fn(&ProfessionalId) -> Vec<Assessment>,
    today: NaiveDate,
) -> Vec<Progress> {
    let mut all: Vec<Progress> = trainees
        .iter()
        .filter(|t| t.programme == programme.id)
        .map(|t| progress(t, programme, &assessments_of(&t.person), today))
        .collect();
    let rank = |s: ProgressStatus| match s {
        ProgressStatus::Behind => 0,
        ProgressStatus::OnTrack => 1,
        ProgressStatus::NotStarted => 2,
        ProgressStatus::Complete => 3,
    };
    all.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then(
                (b.total.need.saturating_sub(b.total.have))
                    .cmp(&a.total.need.saturating_sub(a.total.have)),
            )
            .then(a.person.cmp(&b.person))
    });
    all
}

/// The exam committee's sample: `ceil(fraction x n)` of the confirmed assessments, those
/// with the lowest keyed hash of their id. The same seed and assessments give the same
/// sample on any machine, and an assessment added later does not reshuffle the others (it
/// either ranks in or not).
pub fn sample(assessments: &[Assessment], fraction: f64, seed: u64) -> Vec<&Assessment> {
    let mut confirmed: Vec<(u64, &Assessment)> = assessments
        .iter()
        .filter(|a| a.status == AssessmentStatus::Confirmed)
        .map(|a| (crate::sampling::keyed_hash(&seed.to_le_bytes(), &a.id), a))
        .collect();
    confirmed.sort_by(|(h1, a1), (h2, a2)| h1.cmp(h2).then(a1.id.cmp(&a2.id)));
    let take = (fraction.clamp(0.0, 1.0) * confirmed.len() as f64).ceil() as usize;
    let mut chosen: Vec<&Assessment> = confirmed.into_iter().take(take).map(|(_, a)| a).collect();
    chosen.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
    chosen
}

/// `[[programme]]` in the department file.
pub(crate) fn parse_programme(
    r: &mut Reader,
    t: &mut Table,
    id: Option<Located<String>>,
    people: &[Professional],
) -> Option<Programme> {
    let name = t.req_string(r, "name").map(|v| v.value);
    let staff = people_list(r, t, "staff", people);
    let staff_assess = t.boolean(r, "staff_assess").is_some_and(|b| b.value);
    let variety = match t.string(r, "variety") {
        None => crate::matching::VarietyRule::None,
        Some(v) => match v.value.as_str() {
            "none" => crate::matching::VarietyRule::None,
            "no_repeat_kind" => crate::matching::VarietyRule::NoRepeatKind,
            other => {
                r.error(
                    v.line,
                    format!("variety is `none` or `no_repeat_kind`, not `{other}`"),
                );
                crate::matching::VarietyRule::None
            }
        },
    };
    let matching_seed = t
        .integer(r, "matching_seed")
        .map_or(1, |v| match u64::try_from(v.value) {
            Ok(s) => s,
            Err(_) => {
                r.error(
                    v.line,
                    format!("matching_seed must not be negative, got {}", v.value),
                );
                1
            }
        });
    let review_fraction = t.float(r, "review_fraction").map_or(0.1, |v| {
        if (0.0..=1.0).contains(&v.value) {
            v.value
        } else {
            r.error(
                v.line,
                format!("review_fraction must be between 0 and 1, got {}", v.value),
            );
            0.1
        }
    });
    let requirements = match t.table(r, "requirements") {
        Some(mut q) => {
            q.name = format!("{}.requirements", t.name);
            let assessments = q.req_count(r, "assessments").map(|v| v.value);
            let from_year = q.count(r, "from_year").map_or(1, |v| v.value);
            let to_year = q.req_count(r, "to_year");
            if let Some(to) = &to_year
                && to.value < from_year.max(1)
            {
                r.error(
                    to.line,
                    format!("to_year ({}) is before from_year ({from_year})", to.value),
                );
            }
            let per_domain = q.count(r, "per_domain").map_or(0, |v| v.value);
            let per_placement = q.table(r, "per_placement").map(|mut pp| {
                pp.name = format!("{}.per_placement", q.name);
                let entries = pp.entries(r);
                let mut out = Vec::new();
                for (key, value) in entries {
                    match crate::config::integer(value.get_ref())
                        .and_then(|n| u32::try_from(n).ok())
                    {
                        Some(n) => out.push((key.value, n)),
                        None => r.error(
                            key.line,
                            format!("placement `{}`: expected a count", key.value),
                        ),
                    }
                }
                out
            });
            q.finish(r);
            Some(ProgrammeRequirements {
                assessments: assessments?,
                from_year: from_year.max(1),
                to_year: to_year?.value,
                per_domain,
                per_placement: per_placement.unwrap_or_default(),
            })
        }
        None => {
            r.error(
                t.line,
                format!("{} is missing its [requirements] table", t.name),
            );
            None
        }
    };
    Some(Programme {
        id: id?.value,
        name: name?,
        staff,
        requirements: requirements?,
        review_fraction,
        staff_assess,
        variety,
        matching_seed,
    })
}

/// `[[trainee]]` in the department file.
pub(crate) fn parse_trainee(
    r: &mut Reader,
    t: &mut Table,
    people: &[Professional],
    programmes: &[Programme],
) -> Option<Trainee> {
    let person = t.req_string(r, "person").and_then(|v| {
        let found = people.iter().find(|p| p.id.as_str() == v.value);
        if found.is_none() {
            r.error(
                v.line,
                format!("trainee `{}` is not a known professional", v.value),
            );
        }
        found.map(|p| p.id.clone())
    });
    let programme = t.req_string(r, "programme").and_then(|v| {
        if programmes.iter().any(|p| p.id == v.value) {
            Some(v.value)
        } else {
            let known: Vec<&str> = programmes.iter().map(|p| p.id.as_str()).collect();
            r.error(
                v.line,
                format!(
                    "unknown programme `{}` (known: {})",
                    v.value,
                    known.join(", ")
                ),
            );
            None
        }
    });
    let started = t.date(r, "started");
    if !t.has("started") {
        r.error(
            t.line,
            format!("{} is missing required key `started`", t.name),
        );
    }
    let supervisors = people_list(r, t, "supervisors", people);
    Some(Trainee {
        person: person?,
        programme: programme?,
        started: started?.value,
        supervisors,
    })
}

fn people_list(
    r: &mut Reader,
    t: &mut Table,
    key: &'static str,
    people: &[Professional],
) -> Vec<ProfessionalId> {
    let name = t.name.clone();
    t.list(r, key, |r, id| {
        let found = people.iter().find(|p| p.id.as_str() == id.value);
        if found.is_none() {
            r.error(
                id.line,
                format!("{name}: {key} `{}` is not a known professional", id.value),
            );
        }
        found.map(|p| p.id.clone())
    })
    .map_or_else(Vec::new, |l| l.value)
}
