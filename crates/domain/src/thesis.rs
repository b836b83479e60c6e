//! Thesis supervision (the Technical Medicine and MIRO master's rules): who supervises,
//! and the milestones after the start.
//!
//! - The team holds at least one technical and one medical supervisor with a doctorate;
//!   at least one member is appointed at a partner institution; exactly one member is the
//!   responsible supervisor, and that is one of the doctorate-holding technical or medical
//!   supervisors.
//! - The trainee hands in a work plan within two weeks of the start: by day 14 (the start
//!   is day 0), that day included.
//! - The formative mid-term assessment is held after twelve weeks: due on day 84.
//!
//! Reminders go to the trainee and the responsible supervisor from a week before a
//! milestone is due, and every day it is overdue, until it is done.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::config::{Reader, Table};
use crate::ids::ProfessionalId;
use crate::programme::Trainee;

/// Days from the start within which the work plan is due (inclusive).
pub const WORK_PLAN_DAYS: i64 = 14;
/// Days from the start on which the formative mid-term assessment is due.
pub const MIDTERM_DAYS: i64 = 84;
/// Days before a due date from which reminders are sent.
pub const REMIND_FROM_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorKind {
    Technical,
    Medical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Supervisor {
    pub person: ProfessionalId,
    pub kind: SupervisorKind,
    pub doctorate: bool,
    /// Where they are appointed.
    pub institution: String,
    pub responsible: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thesis {
    pub trainee: ProfessionalId,
    pub started: NaiveDate,
    pub team: Vec<Supervisor>,
    pub work_plan_handed_in: Option<NaiveDate>,
    pub midterm_held: Option<NaiveDate>,
}

/// A thesis as the department file declares it: the trainee, the start and the team.
/// What happens after the start (the work plan, the mid-term) is recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThesisPlan {
    pub trainee: ProfessionalId,
    pub started: NaiveDate,
    pub team: Vec<Supervisor>,
}

impl ThesisPlan {
    /// The thesis with what has been recorded since the start.
    pub fn with(&self, work_plan: Option<NaiveDate>, midterm: Option<NaiveDate>) -> Thesis {
        Thesis {
            trainee: self.trainee.clone(),
            started: self.started,
            team: self.team.clone(),
            work_plan_handed_in: work_plan,
            midterm_held: midterm,
        }
    }
}

/// `[[thesis]]` with `trainee`, `started` and one `[[thesis.supervisor]]` per member
/// (`person`, `kind` technical or medical, `doctorate`, `institution`, `responsible`). The
/// team's rules are not checked here: a team may be incomplete while it forms, and
/// [`check_team`] says what it lacks wherever the thesis is shown.
pub(crate) fn parse_thesis(
    r: &mut Reader,
    t: &mut Table,
    trainees: &[Trainee],
) -> Option<ThesisPlan> {
    let trainee = t.req_string(r, "trainee").and_then(|v| {
        let found = trainees.iter().find(|x| x.person.as_str() == v.value);
        if found.is_none() {
            r.error(
                v.line,
                format!("thesis of `{}`, who is not a trainee", v.value),
            );
        }
        found.map(|x| x.person.clone())
    });
    let started = t.date(r, "started");
    if !t.has("started") {
        r.error(
            t.line,
            format!("{} is missing required key `started`", t.name),
        );
    }
    let mut team = Vec::new();
    for mut m in t.tables(r, "supervisor") {
        m.name = format!("{} supervisor", t.name);
        let person = m.req_string(r, "person").and_then(|v| {
            ProfessionalId::parse(v.value.clone())
                .map_err(|e| r.error(v.line, format!("supervisor `{}`: {e}", v.value)))
                .ok()
        });
        let kind = m
            .req_string(r, "kind")
            .and_then(|v| match v.value.as_str() {
                "technical" => Some(SupervisorKind::Technical),
                "medical" => Some(SupervisorKind::Medical),
                other => {
                    r.error(
                        v.line,
                        format!("kind is `technical` or `medical`, not `{other}`"),
                    );
                    None
                }
            });
        let doctorate = m.boolean(r, "doctorate").is_some_and(|b| b.value);
        let institution = m.req_string(r, "institution").map(|v| v.value);
        let responsible = m.boolean(r, "responsible").is_some_and(|b| b.value);
        m.finish(r);
        if let (Some(person), Some(kind), Some(institution)) = (person, kind, institution) {
            team.push(Supervisor {
                person,
                kind,
                doctorate,
                institution,
                responsible,
            });
        }
    }
    Some(ThesisPlan {
        trainee: trainee?,
        started: started?.value,
        team,
    })
}

/// What the supervision team lacks, each named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum TeamProblem {
    #[error("no technical supervisor with a doctorate")]
    NoTechnicalDoctor,
    #[error("no medical supervisor with a doctorate")]
    NoMedicalDoctor,
    #[error("no supervisor appointed at a partner institution")]
    NoPartnerInstitution,
    #[error("no responsible supervisor")]
    NoResponsible,
    #[error("{count} responsible supervisors; one is")]
    SeveralResponsible { count: usize },
    #[error(
        "the responsible supervisor {person} is not a technical or medical supervisor with a doctorate"
    )]
    ResponsibleWithoutDoctorate { person: ProfessionalId },
    #[error("{person} is in the team twice")]
    Twice { person: ProfessionalId },
    #[error("the trainee {person} cannot supervise their own thesis")]
    OwnSupervisor { person: ProfessionalId },
}

/// Every rule the team breaks; empty when it is complete. `partner` says whether an
/// institution is one of the programme's partner institutions.
pub fn check_team(thesis: &Thesis, partner: impl Fn(&str) -> bool) -> Vec<TeamProblem> {
    let team = &thesis.team;
    let mut out = Vec::new();
    for (i, s) in team.iter().enumerate() {
        if s.person == thesis.trainee {
            out.push(TeamProblem::OwnSupervisor {
                person: s.person.clone(),
            });
        }
        if team[..i].iter().any(|o| o.person == s.person) {
            out.push(TeamProblem::Twice {
                person: s.person.clone(),
            });
        }
    }
    let doctor = |k: SupervisorKind| team.iter().any(|s| s.kind == k && s.doctorate);
    if !doctor(SupervisorKind::Technical) {
        out.push(TeamProblem::NoTechnicalDoctor);
    }
    if !doctor(SupervisorKind::Medical) {
        out.push(TeamProblem::NoMedicalDoctor);
    }
    if !team.iter().any(|s| partner(&s.institution)) {
        out.push(TeamProblem::NoPartnerInstitution);
    }
    let responsible: Vec<&Supervisor> = team.iter().filter(|s| s.responsible).collect();
    match responsible.as_slice() {
        [] => out.push(TeamProblem::NoResponsible),
        [one] if !one.doctorate => out.push(TeamProblem::ResponsibleWithoutDoctorate {
            person: one.person.clone(),
        }),
        [_] => {}
        many => out.push(TeamProblem::SeveralResponsible { count: many.len() }),
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MilestoneKind {
    WorkPlan,
    Midterm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MilestoneStatus {
    Upcoming,
    /// Within [`REMIND_FROM_DAYS`] of its due date, or on it.
    DueSoon,
    Overdue {
        days: i64,
    },
    Done {
        on: NaiveDate,
        late_days: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Milestone {
    pub kind: MilestoneKind,
    pub due: NaiveDate,
    pub status: MilestoneStatus,
}

fn milestone(
    kind: MilestoneKind,
    due: NaiveDate,
    done: Option<NaiveDate>,
    today: NaiveDate,
) -> Milestone {
    let status = match done {
        Some(on) => MilestoneStatus::Done {
            on,
            late_days: (on - due).num_days().max(0),
        },
        None if today > due => MilestoneStatus::Overdue {
            days: (today - due).num_days(),
        },
        None if (due - today).num_days() <= REMIND_FROM_DAYS => MilestoneStatus::DueSoon,
        None => MilestoneStatus::Upcoming,
    };
    Milestone { kind, due, status }
}

/// The work plan and the mid-term, with their due dates and where they stand on `today`.
pub fn milestones(thesis: &Thesis, today: NaiveDate) -> [Milestone; 2] {
    [
        milestone(
            MilestoneKind::WorkPlan,
            thesis.started + Duration::days(WORK_PLAN_DAYS),
            thesis.work_plan_handed_in,
            today,
        ),
        milestone(
            MilestoneKind::Midterm,
            thesis.started + Duration::days(MIDTERM_DAYS),
            thesis.midterm_held,
            today,
        ),
    ]
}

/// A reminder owed on `today`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    pub to: ProfessionalId,
    pub text: String,
}

/// The reminders owed on `today`: to the trainee and to the responsible supervisor (when
/// the team has one), for each milestone due soon or overdue.
pub fn reminders(thesis: &Thesis, today: NaiveDate) -> Vec<Reminder> {
    let mut out = Vec::new();
    let responsible = thesis
        .team
        .iter()
        .find(|s| s.responsible)
        .map(|s| &s.person);
    for m in milestones(thesis, today) {
        let what = match m.kind {
            MilestoneKind::WorkPlan => "the thesis work plan",
            MilestoneKind::Midterm => "the formative mid-term assessment",
        };
        let text = match m.status {
            MilestoneStatus::DueSoon => {
                format!("{} of {} is due on {}", what, thesis.trainee, m.due)
            }
            MilestoneStatus::Overdue { days } => format!(
                "{} of {} is {days} day(s) overdue (due {})",
                what, thesis.trainee, m.due
            ),
            MilestoneStatus::Upcoming | MilestoneStatus::Done { .. } => continue,
        };
        out.push(Reminder {
            to: thesis.trainee.clone(),
            text: text.clone(),
        });
        if let Some(r) = responsible {
            out.push(Reminder {
                to: r.clone(),
                text,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn p(s: &str) -> ProfessionalId {
        ProfessionalId::parse(s).unwrap()
    }

    fn sup(
        person: &str,
        kind: SupervisorKind,
        doctorate: bool,
        institution: &str,
        responsible: bool,
    ) -> Supervisor {
        Supervisor {
            person: p(person),
            kind,
            doctorate,
            institution: institution.into(),
            responsible,
        }
    }

    fn thesis(team: Vec<Supervisor>) -> Thesis {
        Thesis {
            trainee: p("tm-student"),
            started: d("2026-09-01"),
            team,
            work_plan_handed_in: None,
            midterm_held: None,
        }
    }

    fn partner(i: &str) -> bool {
        i == "tu-delft"
    }

    use SupervisorKind::{Medical, Technical};

    #[test]
    fn a_complete_team_breaks_no_rule() {
        let t = thesis(vec![
            sup("tech-a", Technical, true, "tu-delft", true),
            sup("rad-devries", Medical, true, "rijnvallei", false),
        ]);
        assert_eq!(check_team(&t, partner), vec![]);
    }

    #[test]
    fn each_rule_is_named_when_broken() {
        let cases = [
            (
                vec![
                    sup("tech-a", Technical, false, "tu-delft", false),
                    sup("rad-devries", Medical, true, "rijnvallei", true),
                ],
                vec![TeamProblem::NoTechnicalDoctor],
            ),
            (
                vec![
                    sup("tech-a", Technical, true, "tu-delft", true),
                    sup("rad-devries", Medical, false, "rijnvallei", false),
                ],
                vec![TeamProblem::NoMedicalDoctor],
            ),
            (
                vec![
                    sup("tech-a", Technical, true, "rijnvallei", true),
                    sup("rad-devries", Medical, true, "rijnvallei", false),
                ],
                vec![TeamProblem::NoPartnerInstitution],
            ),
            (
                vec![
                    sup("tech-a", Technical, true, "tu-delft", false),
                    sup("rad-devries", Medical, true, "rijnvallei", false),
                ],
                vec![TeamProblem::NoResponsible],
            ),
            (
                vec![
                    sup("tech-a", Technical, true, "tu-delft", true),
                    sup("rad-devries", Medical, true, "rijnvallei", true),
                ],
                vec![TeamProblem::SeveralResponsible { count: 2 }],
            ),
            (
                vec![
                    sup("tech-a", Technical, true, "tu-delft", false),
                    sup("rad-devries", Medical, true, "rijnvallei", false),
                    sup("tech-b", Technical, false, "tu-delft", true),
                ],
                vec![TeamProblem::ResponsibleWithoutDoctorate {
                    person: p("tech-b"),
                }],
            ),
            (
                vec![
                    sup("tech-a", Technical, true, "tu-delft", true),
                    sup("rad-devries", Medical, true, "rijnvallei", false),
                    sup("tech-a", Technical, true, "tu-delft", false),
                ],
                vec![TeamProblem::Twice {
                    person: p("tech-a"),
                }],
            ),
            (
                vec![
                    sup("tech-a", Technical, true, "tu-delft", true),
                    sup("rad-devries", Medical, true, "rijnvallei", false),
                    sup("tm-student", Technical, false, "tu-delft", false),
                ],
                vec![TeamProblem::OwnSupervisor {
                    person: p("tm-student"),
                }],
            ),
            (
                vec![],
                vec![
                    TeamProblem::NoTechnicalDoctor,
                    TeamProblem::NoMedicalDoctor,
                    TeamProblem::NoPartnerInstitution,
                    TeamProblem::NoResponsible,
                ],
            ),
        ];
        for (team, expected) in cases {
            assert_eq!(
                check_team(&thesis(team.clone()), partner),
                expected,
                "{team:?}"
            );
        }
    }

    #[test]
    fn the_work_plan_is_due_on_day_fourteen_that_day_included() {
        let mut t = thesis(vec![sup("tech-a", Technical, true, "tu-delft", true)]);
        let plan = |t: &Thesis, today: &str| milestones(t, d(today))[0];
        assert_eq!(plan(&t, "2026-09-01").due, d("2026-09-15"));
        assert_eq!(plan(&t, "2026-09-07").status, MilestoneStatus::Upcoming);
        assert_eq!(plan(&t, "2026-09-08").status, MilestoneStatus::DueSoon);
        assert_eq!(plan(&t, "2026-09-15").status, MilestoneStatus::DueSoon);
        assert_eq!(
            plan(&t, "2026-09-16").status,
            MilestoneStatus::Overdue { days: 1 }
        );
        t.work_plan_handed_in = Some(d("2026-09-15"));
        assert_eq!(
            plan(&t, "2026-09-20").status,
            MilestoneStatus::Done {
                on: d("2026-09-15"),
                late_days: 0
            }
        );
        t.work_plan_handed_in = Some(d("2026-09-16"));
        assert_eq!(
            plan(&t, "2026-09-20").status,
            MilestoneStatus::Done {
                on: d("2026-09-16"),
                late_days: 1
            }
        );
    }

    #[test]
    fn the_midterm_is_due_after_twelve_weeks() {
        let t = thesis(vec![]);
        let mid = |today: &str| milestones(&t, d(today))[1];
        assert_eq!(mid("2026-09-01").due, d("2026-11-24"));
        assert_eq!(mid("2026-11-16").status, MilestoneStatus::Upcoming);
        assert_eq!(mid("2026-11-17").status, MilestoneStatus::DueSoon);
        assert_eq!(mid("2026-11-24").status, MilestoneStatus::DueSoon);
        assert_eq!(
            mid("2026-11-25").status,
            MilestoneStatus::Overdue { days: 1 }
        );
    }

    #[test]
    fn reminders_go_to_the_trainee_and_the_responsible_supervisor_until_done() {
        let mut t = thesis(vec![
            sup("tech-a", Technical, true, "tu-delft", true),
            sup("rad-devries", Medical, true, "rijnvallei", false),
        ]);
        assert!(
            reminders(&t, d("2026-09-07")).is_empty(),
            "a week and a day before"
        );
        let r = reminders(&t, d("2026-09-08"));
        assert_eq!(
            r.iter().map(|r| r.to.as_str()).collect::<Vec<_>>(),
            ["tm-student", "tech-a"]
        );
        assert!(r[0].text.contains("work plan") && r[0].text.contains("2026-09-15"));
        let r = reminders(&t, d("2026-09-18"));
        assert!(r[0].text.contains("3 day(s) overdue"), "{r:?}");
        t.work_plan_handed_in = Some(d("2026-09-18"));
        assert!(reminders(&t, d("2026-09-19")).is_empty());
        // Without a responsible supervisor only the trainee hears.
        t.team.iter_mut().for_each(|s| s.responsible = false);
        assert_eq!(reminders(&t, d("2026-11-24")).len(), 1);
    }
}
