//! Policy replay: every stored study of a period routed again through a new policy, with
//! the AI results it had when the policy in force decided it, and compared with what that
//! policy decided. Read-only by construction: it takes cases and returns counts.
//!
//! - The new policy sees every result the study received, as the policy in force did:
//!   each arrival routed the study again (a decision that changed no work is not stored,
//!   so the stored one can predate the last arrival). It decides at the later of the
//!   stored decision and the last arrival. Results are read against today's register;
//!   those of applications not in use are left out (`monitoring::usable_results`), except
//!   those the caller asks to treat as live ("what if this shadow application had been
//!   live").
//! - Radiologist work: one item per reader on reading pathways, the authorization of a
//!   delegated preliminary report, and the expected retrospective reviews
//!   (`review_fraction`) of gatekeeper and autonomous pathways; an escalation after
//!   gatekeeping is not foreseen and not counted. Minutes come from the caller's cost
//!   model (the department's simulation parameters) when it has one.
//! - Missed findings: of the studies the policy in force gave a radiologist and the new
//!   one sends away from them, those whose final report found something. Where only some
//!   of them have a final report, the share found among the reported is carried over to
//!   all, with its Wilson 95% interval.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use radgate_stats::{Method, proportion};
use serde::Serialize;

use crate::ai::{AiResult, AiStatus, StatusChange};
use crate::department::Department;
use crate::ids::{AiAppId, FindingCode};
use crate::monitoring::usable_results;
use crate::study::Study;
use crate::{Decision, Pathway, Policy};

/// One stored study: its AI results, the decision in force and when it was made, and
/// the findings of its final report (none without one).
#[derive(Debug, Clone)]
pub struct Case {
    pub study: Study,
    pub results: Vec<AiResult>,
    pub decided: Decision,
    pub decided_at: DateTime<Utc>,
    pub truth: Option<Vec<FindingCode>>,
}

/// Whether a radiologist sees the study on this pathway (reads it, or authorizes the
/// delegate's report).
pub fn radiologist_sees(p: Pathway) -> bool {
    matches!(
        p,
        Pathway::RadiologistRead
            | Pathway::SingleRead
            | Pathway::DoubleRead
            | Pathway::DelegatedPreliminary
    )
}

/// The radiologist work items a decision opens, counting expected reviews as fractions.
pub fn radiologist_items(d: &Decision) -> f64 {
    match d.pathway {
        Pathway::RadiologistRead | Pathway::SingleRead | Pathway::DoubleRead => {
            f64::from(d.readers)
        }
        Pathway::DelegatedPreliminary => 1.0,
        Pathway::Gatekeeper | Pathway::AutonomousNormal => d.review_fraction,
    }
}

/// The radiologist minutes of a decision for a study, by the caller's cost model.
pub type Minutes<'a> = &'a (dyn Fn(&Decision, &Study) -> Option<f64> + Sync);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub from: Pathway,
    pub to: Pathway,
    pub studies: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleCount {
    /// `None`: no rule fired, the policy's default applied.
    pub rule: Option<String>,
    pub studies: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Work {
    pub items_in_force: f64,
    pub items_new: f64,
    /// Absent without a cost model.
    pub minutes_in_force: Option<f64>,
    pub minutes_new: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingCount {
    pub finding: FindingCode,
    pub studies: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentAway {
    /// Studies a radiologist saw under the policy in force and would not under the new.
    pub studies: u64,
    /// Of those, the ones with a final report, and those whose report found something.
    pub reported: u64,
    pub with_findings: u64,
    /// The findings of those reports.
    pub findings: Vec<FindingCount>,
    /// Studies with a finding among all sent away: `with_findings` where every one is
    /// reported, else the reported share carried over (Wilson 95%). Absent when none of
    /// them is reported.
    pub missed_estimate: Option<Estimate>,
    /// Studies the new policy brings to a radiologist that the policy in force did not.
    pub brought_back: u64,
}

/// What the new policy would have done over the period, against what was done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    pub studies: u64,
    /// The policy versions that decided the period, and the new one.
    pub policies_in_force: Vec<String>,
    pub policy_new: String,
    /// Studies whose pathway, task, priority or readers would change.
    pub changed: u64,
    pub transitions: Vec<Transition>,
    pub rules_in_force: Vec<RuleCount>,
    pub rules_new: Vec<RuleCount>,
    pub radiologist: Work,
    pub reported: u64,
    pub sent_away: SentAway,
    /// The applications treated as live for the replay.
    pub as_live: Vec<AiAppId>,
}

/// The department as a replay sees it: each application at its status in force (the
/// latest of `changes`), those in `as_live` in use (pilot) whatever it is. The new policy
/// is checked against it and reads results by it.
pub fn register_for_replay(
    dept: &Department,
    changes: &[StatusChange],
    as_live: &[AiAppId],
) -> Department {
    let mut d = dept.clone();
    for a in d.ai_applications.iter_mut() {
        a.status = if as_live.contains(&a.id) {
            AiStatus::Pilot
        } else {
            a.in_force(changes).status
        };
    }
    d
}

/// Replays cases one at a time, so that a year of studies never sits in memory at once.
pub struct Replayer<'a> {
    policy: &'a Policy,
    /// Statuses already in force (`register_for_replay`).
    dept: Department,
    minutes: Option<Minutes<'a>>,
    as_live: Vec<AiAppId>,
    studies: u64,
    versions: Vec<String>,
    changed: u64,
    transitions: BTreeMap<(Pathway, Pathway), u64>,
    rules_old: BTreeMap<Option<String>, u64>,
    rules_new: BTreeMap<Option<String>, u64>,
    items: (f64, f64),
    minutes_sum: (f64, f64),
    minutes_known: bool,
    reported: u64,
    away: u64,
    away_reported: u64,
    away_found: u64,
    away_findings: BTreeMap<FindingCode, u64>,
    back: u64,
}

impl<'a> Replayer<'a> {
    /// `changes`: the latest status change of each application (the register in force);
    /// `as_live`: applications whose results the new policy may use whatever their status.
    pub fn new(
        policy: &'a Policy,
        dept: &Department,
        changes: &[StatusChange],
        as_live: &[AiAppId],
        minutes: Option<Minutes<'a>>,
    ) -> Replayer<'a> {
        Replayer {
            policy,
            dept: register_for_replay(dept, changes, as_live),
            minutes,
            as_live: as_live.to_vec(),
            studies: 0,
            versions: Vec::new(),
            changed: 0,
            transitions: BTreeMap::new(),
            rules_old: BTreeMap::new(),
            rules_new: BTreeMap::new(),
            items: (0.0, 0.0),
            minutes_sum: (0.0, 0.0),
            minutes_known: minutes.is_some(),
            reported: 0,
            away: 0,
            away_reported: 0,
            away_found: 0,
            away_findings: BTreeMap::new(),
            back: 0,
        }
    }

    /// What the new policy decides for one case, at the later of the stored decision and
    /// the last result's arrival. The store keeps a decision's moment to the millisecond
    /// and a result's arrival finer, so the decision's moment is the end of its millisecond.
    pub fn decide(&self, case: &Case) -> Decision {
        let decided = case.decided_at + chrono::Duration::nanoseconds(999_999);
        let at = case
            .results
            .iter()
            .map(|r| r.received_at)
            .fold(decided, DateTime::max);
        let arrived: Vec<AiResult> = case
            .results
            .iter()
            .filter_map(|r| self.dept.read_ai_result(r).ok())
            .collect();
        let usable = usable_results(arrived, &self.dept, &[], &[]);
        self.policy.decide(&case.study, &usable, at)
    }

    pub fn add(&mut self, case: &Case) {
        let new = self.decide(case);
        let old = &case.decided;
        self.studies += 1;
        if !self.versions.contains(&old.policy_version) {
            self.versions.push(old.policy_version.clone());
        }
        if new.changes_work_of(old) {
            self.changed += 1;
        }
        *self
            .transitions
            .entry((old.pathway, new.pathway))
            .or_default() += 1;
        let rule = |d: &Decision| d.rule.as_ref().map(|r| r.as_str().to_string());
        *self.rules_old.entry(rule(old)).or_default() += 1;
        *self.rules_new.entry(rule(&new)).or_default() += 1;
        self.items.0 += radiologist_items(old);
        self.items.1 += radiologist_items(&new);
        if let Some(m) = self.minutes {
            match (m(old, &case.study), m(&new, &case.study)) {
                (Some(a), Some(b)) => {
                    self.minutes_sum.0 += a;
                    self.minutes_sum.1 += b;
                }
                _ => self.minutes_known = false,
            }
        }
        if case.truth.is_some() {
            self.reported += 1;
        }
        match (radiologist_sees(old.pathway), radiologist_sees(new.pathway)) {
            (true, false) => {
                self.away += 1;
                if let Some(found) = &case.truth {
                    self.away_reported += 1;
                    if !found.is_empty() {
                        self.away_found += 1;
                    }
                    for f in found {
                        *self.away_findings.entry(f.clone()).or_default() += 1;
                    }
                }
            }
            (false, true) => self.back += 1,
            _ => {}
        }
    }

    pub fn finish(self) -> Replay {
        let counts = |m: BTreeMap<Option<String>, u64>| {
            m.into_iter()
                .map(|(rule, studies)| RuleCount { rule, studies })
                .collect()
        };
        let missed_estimate = (self.away_reported > 0).then(|| {
            let scale = self.away as f64;
            match proportion(self.away_found, self.away_reported, Method::Wilson, 0.95) {
                Ok(i) => Estimate {
                    estimate: i.estimate * scale,
                    lower: i.lower * scale,
                    upper: i.upper * scale,
                },
                Err(_) => Estimate {
                    estimate: self.away_found as f64,
                    lower: self.away_found as f64,
                    upper: self.away_found as f64,
                },
            }
        });
        let minutes = |m: f64| (self.minutes_known && self.studies > 0).then_some(m);
        Replay {
            studies: self.studies,
            policies_in_force: self.versions,
            policy_new: self.policy.version.clone(),
            changed: self.changed,
            transitions: self
                .transitions
                .into_iter()
                .map(|((from, to), studies)| Transition { from, to, studies })
                .collect(),
            rules_in_force: counts(self.rules_old),
            rules_new: counts(self.rules_new),
            radiologist: Work {
                items_in_force: self.items.0,
                items_new: self.items.1,
                minutes_in_force: minutes(self.minutes_sum.0),
                minutes_new: minutes(self.minutes_sum.1),
            },
            reported: self.reported,
            sent_away: SentAway {
                studies: self.away,
                reported: self.away_reported,
                with_findings: self.away_found,
                findings: self
                    .away_findings
                    .into_iter()
                    .map(|(finding, studies)| FindingCount { finding, studies })
                    .collect(),
                missed_estimate,
                brought_back: self.back,
            },
            as_live: self.as_live,
        }
    }
}
