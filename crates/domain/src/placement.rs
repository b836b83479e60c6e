//! Clinical placements as data (institutions, partner institutions among them, placements
//! with their kind, subject, capacity a round and supervisors) and one matching round of
//! a programme: the trainees' rankings, matched by [`crate::matching`] under the
//! programme's variety rule, and a technical supervisor from a partner institution for
//! each placement that has none.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::{Located, Reader, Table};
use crate::department::Department;
use crate::ids::ProfessionalId;
use crate::matching::{Excluded, Market, MarketError, Ranking, Seat, Shares};
use crate::professional::Professional;
use crate::programme::Programme;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Institution {
    pub id: String,
    pub name: String,
    /// One of the programme's partner institutions (for the Technical Medicine master:
    /// LUMC, Erasmus MC, TU Delft).
    pub partner: bool,
    /// Who there can supervise a placement's technical side, in the order they are
    /// assigned.
    pub technical_supervisors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub id: String,
    pub institution: String,
    pub department: String,
    pub kind: String,
    pub subject: String,
    /// Trainees it takes a round.
    pub capacity: u32,
    pub medical_supervisor: ProfessionalId,
    pub technical_supervisor: Option<String>,
}

pub(crate) fn parse_institution(
    r: &mut Reader,
    t: &mut Table,
    id: Option<Located<String>>,
) -> Option<Institution> {
    let name = t.req_string(r, "name").map(|v| v.value);
    let partner = t.boolean(r, "partner").is_some_and(|b| b.value);
    let technical_supervisors = t
        .strings(r, "technical_supervisors")
        .map(|v| v.value)
        .unwrap_or_default();
    Some(Institution {
        id: id?.value,
        name: name?,
        partner,
        technical_supervisors,
    })
}

pub(crate) fn parse_placement(
    r: &mut Reader,
    t: &mut Table,
    id: Option<Located<String>>,
    people: &[Professional],
    institutions: &[Institution],
) -> Option<Placement> {
    let institution = t.req_string(r, "institution").and_then(|v| {
        if institutions.iter().any(|i| i.id == v.value) {
            Some(v.value)
        } else {
            r.error(v.line, format!("unknown institution `{}`", v.value));
            None
        }
    });
    let department = t.req_string(r, "department").map(|v| v.value);
    let kind = t.req_string(r, "kind").map(|v| v.value);
    let subject = t.req_string(r, "subject").map(|v| v.value);
    let capacity = t.req_count(r, "capacity").map(|v| v.value);
    let medical_supervisor = t.req_string(r, "medical_supervisor").and_then(|v| {
        let found = people.iter().find(|p| p.id.as_str() == v.value);
        if found.is_none() {
            r.error(
                v.line,
                format!(
                    "medical_supervisor `{}` is not a known professional",
                    v.value
                ),
            );
        }
        found.map(|p| p.id.clone())
    });
    let technical_supervisor = t.string(r, "technical_supervisor").map(|v| v.value);
    Some(Placement {
        id: id?.value,
        institution: institution?,
        department: department?,
        kind: kind?,
        subject: subject?,
        capacity: capacity?,
        medical_supervisor: medical_supervisor?,
        technical_supervisor,
    })
}

/// A round id is what orders rounds (`2026-1` before `2026-2`): 1 to 32 letters,
/// digits, `.`, `_` or `-`.
pub fn check_round(raw: &str) -> Result<&str, RankingError> {
    let ok = !raw.is_empty()
        && raw.len() <= 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(raw)
    } else {
        Err(RankingError::Round(raw.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RankingError {
    #[error("a round id is 1 to 32 letters, digits, `.`, `_` or `-`, not {0:?}")]
    Round(String),
    #[error("`{placement}` is not a placement of the department")]
    Unknown { index: usize, placement: String },
    #[error("`{placement}` is ranked twice")]
    Twice { index: usize, placement: String },
}

impl RankingError {
    /// The field of a ranking request it is about.
    pub fn field(&self) -> String {
        match self {
            RankingError::Round(_) => "round".into(),
            RankingError::Unknown { index, .. } | RankingError::Twice { index, .. } => {
                format!("ranked[{index}]")
            }
        }
    }
}

/// A ranking names placements of the department, each once.
pub fn check_ranking(dept: &Department, ranked: &[String]) -> Result<(), RankingError> {
    for (index, r) in ranked.iter().enumerate() {
        if dept.placements.iter().all(|x| &x.id != r) {
            return Err(RankingError::Unknown {
                index,
                placement: r.clone(),
            });
        }
        if ranked[..index].contains(r) {
            return Err(RankingError::Twice {
                index,
                placement: r.clone(),
            });
        }
    }
    Ok(())
}

/// One trainee's ranking for a round, most wanted first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundRanking {
    pub trainee: ProfessionalId,
    pub ranked: Vec<String>,
}

/// A placement a trainee did in an earlier round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PastPlacement {
    pub trainee: ProfessionalId,
    pub placement: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placed {
    pub trainee: ProfessionalId,
    pub placement: String,
    pub institution: String,
    pub medical_supervisor: ProfessionalId,
    /// The placement's own, else one assigned from a partner institution, else none (the
    /// programme's partners name nobody).
    pub technical_supervisor: Option<String>,
    /// Whether the technical supervisor was assigned by the round.
    pub technical_assigned: bool,
    /// 1 for the trainee's first choice.
    pub choice: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundOutcome {
    pub programme: String,
    pub seed: u64,
    pub placed: Vec<Placed>,
    pub unmatched: Vec<ProfessionalId>,
    /// What the variety rule took off trainees' lists, and where it cost a claim.
    pub excluded: Vec<Excluded>,
    pub shares: Shares,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    #[error("`{0}` is not a trainee of programme `{1}`")]
    NotATrainee(ProfessionalId, String),
    #[error("earlier placement `{placement}` of {trainee} is not a placement of the department")]
    UnknownPast {
        trainee: ProfessionalId,
        placement: String,
    },
    #[error(transparent)]
    Market(#[from] MarketError),
}

/// Matches one round of `programme`: every placement of the department is offered at its
/// capacity; trainees of the programme rank them.
pub fn match_round(
    dept: &Department,
    programme: &Programme,
    rankings: &[RoundRanking],
    history: &[PastPlacement],
) -> Result<RoundOutcome, RoundError> {
    let placement = |id: &str| dept.placements.iter().find(|p| p.id == id);
    for r in rankings {
        if !dept
            .trainees
            .iter()
            .any(|t| t.person == r.trainee && t.programme == programme.id)
        {
            return Err(RoundError::NotATrainee(
                r.trainee.clone(),
                programme.id.clone(),
            ));
        }
    }
    let mut done: BTreeMap<&ProfessionalId, BTreeSet<String>> = BTreeMap::new();
    for h in history {
        let Some(p) = placement(&h.placement) else {
            return Err(RoundError::UnknownPast {
                trainee: h.trainee.clone(),
                placement: h.placement.clone(),
            });
        };
        done.entry(&h.trainee).or_default().insert(p.kind.clone());
    }
    let market = Market {
        seats: dept
            .placements
            .iter()
            .map(|p| Seat {
                placement: p.id.clone(),
                kind: p.kind.clone(),
                capacity: p.capacity,
            })
            .collect(),
        rankings: rankings
            .iter()
            .map(|r| Ranking {
                trainee: r.trainee.to_string(),
                ranked: r.ranked.clone(),
                done_kinds: done.get(&r.trainee).cloned().unwrap_or_default(),
            })
            .collect(),
        variety: programme.variety,
        seed: programme.matching_seed,
    };
    let o = market.solve()?;
    // Technical supervisors from the partner institutions' lists, in turn, for the
    // placements without one; trainees in id order, so the same round assigns the same.
    let pool: Vec<&String> = dept
        .institutions
        .iter()
        .filter(|i| i.partner)
        .flat_map(|i| &i.technical_supervisors)
        .collect();
    let mut next = 0usize;
    let mut placed = Vec::new();
    let mut in_order: Vec<&RoundRanking> = rankings.iter().collect();
    in_order.sort_by(|a, b| a.trainee.cmp(&b.trainee));
    for r in in_order {
        let Some(id) = o.assigned.get(r.trainee.as_str()) else {
            continue;
        };
        let p = placement(id).expect("matched placements are the department's");
        let (technical_supervisor, technical_assigned) = match &p.technical_supervisor {
            Some(s) => (Some(s.clone()), false),
            None if pool.is_empty() => (None, false),
            None => {
                let s = pool[next % pool.len()].clone();
                next += 1;
                (Some(s), true)
            }
        };
        placed.push(Placed {
            trainee: r.trainee.clone(),
            placement: p.id.clone(),
            institution: p.institution.clone(),
            medical_supervisor: p.medical_supervisor.clone(),
            technical_supervisor,
            technical_assigned,
            choice: r.ranked.iter().position(|x| x == id).map_or(0, |i| i + 1),
        });
    }
    let unmatched = rankings
        .iter()
        .filter(|r| !o.assigned.contains_key(r.trainee.as_str()))
        .map(|r| r.trainee.clone())
        .collect();
    Ok(RoundOutcome {
        programme: programme.id.clone(),
        seed: programme.matching_seed,
        placed,
        unmatched,
        excluded: o.excluded,
        shares: o.shares,
    })
}
