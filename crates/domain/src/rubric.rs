//! Rubric assessments for theses and projects: a committee scores each criterion, records
//! its deliberation (the arguments and the discussion that led to the grade), and only then
//! finalises agreed scores. A final assessment does not change.
//!
//! Rubrics are declared in the department file (`[[rubric]]`, criteria with a weight and a
//! whole-point scale). The grade is the weighted mean of the agreed criterion scores.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Located, Reader, Table};
use crate::ids::ProfessionalId;
use crate::portfolio::AssessorBackground;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rubric {
    pub id: String,
    pub name: String,
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub id: String,
    pub weight: f64,
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeMember {
    pub person: ProfessionalId,
    pub background: AssessorBackground,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionScore {
    pub assessor: ProfessionalId,
    pub criterion: String,
    pub score: i64,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliberationNote {
    pub by: ProfessionalId,
    pub at: DateTime<Utc>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finalisation {
    pub by: ProfessionalId,
    pub at: DateTime<Utc>,
    /// The committee's agreed score per criterion.
    pub scores: BTreeMap<String, i64>,
    pub grade: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RubricAssessment {
    pub id: String,
    pub rubric: String,
    pub subject: ProfessionalId,
    /// The thesis or project assessed.
    pub title: String,
    pub committee: Vec<CommitteeMember>,
    /// Each member's own scores, before deliberation.
    pub scores: Vec<CriterionScore>,
    pub deliberation: Vec<DeliberationNote>,
    pub finalisation: Option<Finalisation>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RubricError {
    #[error("a committee needs at least two distinct members")]
    CommitteeTooSmall,
    #[error("`{0}` cannot sit on the committee that assesses their own work")]
    OwnWork(ProfessionalId),
    #[error("`{0}` is not on this assessment's committee")]
    NotOnCommittee(ProfessionalId),
    #[error("the assessment is final and cannot change")]
    Final,
    #[error("no criterion `{criterion}` in rubric `{rubric}`")]
    UnknownCriterion { rubric: String, criterion: String },
    #[error("criterion `{criterion}`: score {score} is outside {min}-{max}")]
    OutOfRange {
        criterion: String,
        score: i64,
        min: i64,
        max: i64,
    },
    #[error("a deliberation note needs text")]
    EmptyNote,
    #[error("the committee's deliberation must be recorded before the grade is final")]
    NoDeliberation,
    #[error("not final yet: {0}")]
    Incomplete(String),
}

impl RubricAssessment {
    /// A new, open assessment; checked against the rubric.
    pub fn new(
        id: String,
        rubric: &Rubric,
        subject: ProfessionalId,
        title: String,
        committee: Vec<CommitteeMember>,
    ) -> Result<RubricAssessment, RubricError> {
        let mut people: Vec<&ProfessionalId> = committee.iter().map(|m| &m.person).collect();
        people.sort();
        people.dedup();
        if people.len() < 2 || people.len() != committee.len() {
            return Err(RubricError::CommitteeTooSmall);
        }
        if people.contains(&&subject) {
            return Err(RubricError::OwnWork(subject));
        }
        Ok(RubricAssessment {
            id,
            rubric: rubric.id.clone(),
            subject,
            title,
            committee,
            scores: Vec::new(),
            deliberation: Vec::new(),
            finalisation: None,
        })
    }

    pub fn is_final(&self) -> bool {
        self.finalisation.is_some()
    }

    pub fn on_committee(&self, who: &ProfessionalId) -> bool {
        self.committee.iter().any(|m| &m.person == who)
    }

    fn open_for(&self, who: &ProfessionalId) -> Result<(), RubricError> {
        if self.is_final() {
            return Err(RubricError::Final);
        }
        if !self.on_committee(who) {
            return Err(RubricError::NotOnCommittee(who.clone()));
        }
        Ok(())
    }

    /// A member's own score on a criterion; scoring again replaces it (until final).
    pub fn score(
        &mut self,
        rubric: &Rubric,
        by: &ProfessionalId,
        criterion: &str,
        score: i64,
        comment: String,
    ) -> Result<(), RubricError> {
        self.open_for(by)?;
        check_score(rubric, criterion, score)?;
        self.scores
            .retain(|s| !(&s.assessor == by && s.criterion == criterion));
        self.scores.push(CriterionScore {
            assessor: by.clone(),
            criterion: criterion.to_owned(),
            score,
            comment,
        });
        Ok(())
    }

    pub fn deliberate(
        &mut self,
        by: &ProfessionalId,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RubricError> {
        self.open_for(by)?;
        if text.trim().is_empty() {
            return Err(RubricError::EmptyNote);
        }
        self.deliberation.push(DeliberationNote {
            by: by.clone(),
            at,
            text: text.trim().to_owned(),
        });
        Ok(())
    }

    /// Makes the grade final: every member has scored every criterion, the deliberation
    /// is on record, and the agreed scores cover every criterion. All changes nothing
    /// when any of that is missing.
    pub fn finalise(
        &mut self,
        rubric: &Rubric,
        by: &ProfessionalId,
        agreed: BTreeMap<String, i64>,
        at: DateTime<Utc>,
    ) -> Result<(), RubricError> {
        self.open_for(by)?;
        let mut missing = Vec::new();
        for m in &self.committee {
            for c in &rubric.criteria {
                if !self
                    .scores
                    .iter()
                    .any(|s| s.assessor == m.person && s.criterion == c.id)
                {
                    missing.push(format!("{} has not scored {}", m.person, c.id));
                }
            }
        }
        for c in &rubric.criteria {
            if !agreed.contains_key(&c.id) {
                missing.push(format!("no agreed score for {}", c.id));
            }
        }
        if !missing.is_empty() {
            return Err(RubricError::Incomplete(missing.join("; ")));
        }
        for (criterion, score) in &agreed {
            check_score(rubric, criterion, *score)?;
        }
        if self.deliberation.is_empty() {
            return Err(RubricError::NoDeliberation);
        }
        let total_weight: f64 = rubric.criteria.iter().map(|c| c.weight).sum();
        let grade = rubric
            .criteria
            .iter()
            .map(|c| c.weight * agreed[&c.id] as f64)
            .sum::<f64>()
            / total_weight;
        self.finalisation = Some(Finalisation {
            by: by.clone(),
            at,
            scores: agreed,
            grade,
        });
        Ok(())
    }

    /// The first two committee members' own scores, criterion by criterion, as pairs for
    /// the assessor-agreement report (rater a is the first member, b the second).
    pub fn score_pairs(&self) -> Vec<crate::assessor_agreement::ScorePair> {
        let [a, b] = match self.committee.as_slice() {
            [a, b, ..] => [&a.person, &b.person],
            _ => return Vec::new(),
        };
        let of = |who: &ProfessionalId, c: &str| {
            self.scores
                .iter()
                .find(|s| &s.assessor == who && s.criterion == c)
                .map(|s| s.score)
        };
        let mut criteria: Vec<&str> = self.scores.iter().map(|s| s.criterion.as_str()).collect();
        criteria.sort_unstable();
        criteria.dedup();
        criteria
            .into_iter()
            .filter_map(|c| {
                Some(crate::assessor_agreement::ScorePair {
                    item: self.id.clone(),
                    criterion: Some(c.to_owned()),
                    rater_a_score: of(a, c)?,
                    rater_b_score: of(b, c)?,
                })
            })
            .collect()
    }
}

fn check_score(rubric: &Rubric, criterion: &str, score: i64) -> Result<(), RubricError> {
    let Some(c) = rubric.criteria.iter().find(|c| c.id == criterion) else {
        return Err(RubricError::UnknownCriterion {
            rubric: rubric.id.clone(),
            criterion: criterion.to_owned(),
        });
    };
    if score < c.min || score > c.max {
        return Err(RubricError::OutOfRange {
            criterion: criterion.to_owned(),
            score,
            min: c.min,
            max: c.max,
        });
    }
    Ok(())
}

/// `[[rubric]]` in the department file:
/// `criteria = [{ id = "method", weight = 2, min = 1, max = 10 }, ...]`.
pub(crate) fn parse_rubric(
    r: &mut Reader,
    t: &mut Table,
    id: Option<Located<String>>,
) -> Option<Rubric> {
    let name = t.req_string(r, "name").map(|v| v.value);
    let mut criteria: Vec<Criterion> = Vec::new();
    for mut c in t.tables(r, "criteria") {
        let cid = c.req_string(r, "id");
        let weight = c.float(r, "weight").map_or(1.0, |w| {
            if w.value > 0.0 {
                w.value
            } else {
                r.error(w.line, format!("weight must be positive, got {}", w.value));
                1.0
            }
        });
        let min = c.integer(r, "min").map_or(1, |v| v.value);
        let max = c.req_count(r, "max");
        if let Some(m) = &max
            && i64::from(m.value) <= min
        {
            r.error(
                m.line,
                format!("max ({}) must be above min ({min})", m.value),
            );
        }
        if let Some(cid) = &cid
            && criteria.iter().any(|k| k.id == cid.value)
        {
            r.error(cid.line, format!("duplicate criterion `{}`", cid.value));
        }
        c.finish(r);
        if let (Some(cid), Some(max)) = (cid, max) {
            criteria.push(Criterion {
                id: cid.value,
                weight,
                min,
                max: i64::from(max.value),
            });
        }
    }
    if criteria.is_empty() {
        r.error(t.line, format!("{} needs at least one criterion", t.name));
    }
    Some(Rubric {
        id: id?.value,
        name: name?,
        criteria,
    })
}
