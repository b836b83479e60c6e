//! Placement matching: trainees rank placements, placements have a capacity per round,
//! and a stable matching is computed by trainee-proposing deferred acceptance (Gale and
//! Shapley; with capacities, Roth's "college admissions"). Placements order the trainees
//! who apply by one declared, reproducible priority: a lottery drawn from a seed, the same
//! for every placement (single tie-breaking). Deferred acceptance then gives the
//! trainee-optimal stable matching for those priorities: no trainee can do better in any
//! stable matching, and no trainee gains by ranking untruthfully.
//!
//! The programme's variety rule (for example: no two placements of the same kind for one
//! trainee across rounds) removes placements from a trainee's list before matching. Where
//! that costs a trainee a placement they would otherwise have had a claim to, the outcome
//! names the trainee, the placement and the rule.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// A placement offered in the round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seat {
    pub placement: String,
    /// What kind of placement it is (e.g. `oncology`, `msk`, `neuro`), for the variety
    /// rule.
    pub kind: String,
    pub capacity: u32,
}

/// One trainee's ranking, most wanted first, and the kinds of placement they have done
/// in earlier rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranking {
    pub trainee: String,
    pub ranked: Vec<String>,
    pub done_kinds: BTreeSet<String>,
}

/// What the programme declares against repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarietyRule {
    /// Any placement may be taken, whatever was done before.
    None,
    /// No placement of a kind the trainee has already done.
    NoRepeatKind,
}

/// The round's input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Market {
    pub seats: Vec<Seat>,
    pub rankings: Vec<Ranking>,
    pub variety: VarietyRule,
    /// The lottery's seed: the same seed gives the same priorities and the same matching.
    pub seed: u64,
}

/// Why a ranked placement was taken off a trainee's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excluded {
    pub trainee: String,
    pub placement: String,
    pub reason: String,
    /// The trainee ranked it above what they got (or got nothing) and would have had a
    /// claim to it without the rule: it had room, or holds a trainee of lower priority.
    pub cost_a_claim: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shares {
    pub trainees: usize,
    pub first_choice: f64,
    pub top_three: f64,
    pub unmatched: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Trainee to placement, by trainee.
    pub assigned: BTreeMap<String, String>,
    pub unmatched: Vec<String>,
    pub excluded: Vec<Excluded>,
    pub shares: Shares,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    #[error("placement `{0}` is offered twice in the round")]
    DuplicateSeat(String),
    #[error("trainee `{0}` has two rankings in the round")]
    DuplicateTrainee(String),
    #[error("trainee `{trainee}` ranks `{placement}`, which the round does not offer")]
    UnknownPlacement { trainee: String, placement: String },
    #[error("trainee `{trainee}` ranks `{placement}` twice")]
    RankedTwice { trainee: String, placement: String },
}

/// The lottery number of `trainee` under `seed`: FNV-1a of the id, mixed with the seed by
/// SplitMix64. Fixed arithmetic, so every platform and version draws the same numbers.
pub fn lottery(seed: u64, trainee: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in trainee.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Market {
    /// The placements' priority: lower lottery number first, the id breaking the (never
    /// yet seen) tie of two equal numbers.
    fn priority(&self, trainee: &str) -> (u64, String) {
        (lottery(self.seed, trainee), trainee.to_owned())
    }

    fn check(&self) -> Result<(), MarketError> {
        let mut seats = BTreeSet::new();
        for s in &self.seats {
            if !seats.insert(s.placement.as_str()) {
                return Err(MarketError::DuplicateSeat(s.placement.clone()));
            }
        }
        let mut trainees = BTreeSet::new();
        for r in &self.rankings {
            if !trainees.insert(r.trainee.as_str()) {
                return Err(MarketError::DuplicateTrainee(r.trainee.clone()));
            }
            let mut seen = BTreeSet::new();
            for p in &r.ranked {
                if !seats.contains(p.as_str()) {
                    return Err(MarketError::UnknownPlacement {
                        trainee: r.trainee.clone(),
                        placement: p.clone(),
                    });
                }
                if !seen.insert(p.as_str()) {
                    return Err(MarketError::RankedTwice {
                        trainee: r.trainee.clone(),
                        placement: p.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn seat(&self, placement: &str) -> &Seat {
        self.seats
            .iter()
            .find(|s| s.placement == placement)
            .expect("checked: every ranked placement is offered")
    }

    /// The placements `r` may be matched to under the variety rule, in their order.
    fn acceptable<'a>(&'a self, r: &'a Ranking) -> Vec<&'a str> {
        r.ranked
            .iter()
            .filter(|p| self.allowed(r, p))
            .map(String::as_str)
            .collect()
    }

    fn allowed(&self, r: &Ranking, placement: &str) -> bool {
        match self.variety {
            VarietyRule::None => true,
            VarietyRule::NoRepeatKind => !r.done_kinds.contains(&self.seat(placement).kind),
        }
    }

    /// Trainee-proposing deferred acceptance over the acceptable lists.
    pub fn solve(&self) -> Result<Outcome, MarketError> {
        self.check()?;
        let lists: Vec<Vec<&str>> = self.rankings.iter().map(|r| self.acceptable(r)).collect();
        let index: BTreeMap<&str, usize> = self
            .seats
            .iter()
            .enumerate()
            .map(|(i, s)| (s.placement.as_str(), i))
            .collect();
        let prio: Vec<(u64, String)> = self
            .rankings
            .iter()
            .map(|r| self.priority(&r.trainee))
            .collect();
        // Each placement's tentative holds, kept sorted by priority (best first).
        let mut held: Vec<Vec<usize>> = vec![Vec::new(); self.seats.len()];
        let mut next = vec![0usize; self.rankings.len()];
        // Trainees yet to propose, lowest index first, so the run is deterministic.
        let mut free: Vec<usize> = (0..self.rankings.len()).rev().collect();
        while let Some(t) = free.pop() {
            let Some(p) = lists[t].get(next[t]) else {
                continue; // exhausted: unmatched
            };
            next[t] += 1;
            let s = index[p];
            let holds = &mut held[s];
            let at = holds.partition_point(|&o| prio[o] < prio[t]);
            holds.insert(at, t);
            if holds.len() > self.seats[s].capacity as usize {
                let rejected = holds.pop().expect("over capacity means not empty");
                free.push(rejected);
            }
        }
        let mut assigned = BTreeMap::new();
        for (s, holds) in held.iter().enumerate() {
            for &t in holds {
                assigned.insert(
                    self.rankings[t].trainee.clone(),
                    self.seats[s].placement.clone(),
                );
            }
        }
        let unmatched: Vec<String> = self
            .rankings
            .iter()
            .filter(|r| !assigned.contains_key(&r.trainee))
            .map(|r| r.trainee.clone())
            .collect();
        let excluded = self.exclusions(&assigned, &held, &prio);
        let shares = shares(&self.rankings, &assigned);
        Ok(Outcome {
            assigned,
            unmatched,
            excluded,
            shares,
        })
    }

    /// Every ranked placement the variety rule took off a list, and whether it cost the
    /// trainee a claim: ranked above the outcome, with room left or a lower-priority
    /// trainee holding it.
    fn exclusions(
        &self,
        assigned: &BTreeMap<String, String>,
        held: &[Vec<usize>],
        prio: &[(u64, String)],
    ) -> Vec<Excluded> {
        let mut out = Vec::new();
        for (t, r) in self.rankings.iter().enumerate() {
            let got = assigned.get(&r.trainee);
            let got_rank = got.and_then(|g| r.ranked.iter().position(|p| p == g));
            for (rank, p) in r.ranked.iter().enumerate() {
                if self.allowed(r, p) {
                    continue;
                }
                let s = self
                    .seats
                    .iter()
                    .position(|x| &x.placement == p)
                    .expect("checked");
                let preferred = got_rank.is_none_or(|g| rank < g);
                let room = (held[s].len() as u32) < self.seats[s].capacity;
                let outranks = held[s].iter().any(|&o| prio[t] < prio[o]);
                out.push(Excluded {
                    trainee: r.trainee.clone(),
                    placement: p.clone(),
                    reason: format!(
                        "the variety rule: {} already did a `{}` placement",
                        r.trainee,
                        self.seat(p).kind
                    ),
                    cost_a_claim: preferred && (room || outranks),
                });
            }
        }
        out
    }
}

fn shares(rankings: &[Ranking], assigned: &BTreeMap<String, String>) -> Shares {
    let n = rankings.len();
    let rank_of = |r: &Ranking| {
        assigned
            .get(&r.trainee)
            .and_then(|p| r.ranked.iter().position(|x| x == p))
    };
    let count =
        |f: &dyn Fn(Option<usize>) -> bool| rankings.iter().filter(|r| f(rank_of(r))).count();
    let share = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    Shares {
        trainees: n,
        first_choice: share(count(&|r| r == Some(0))),
        top_three: share(count(&|r| r.is_some_and(|r| r < 3))),
        unmatched: share(count(&|r| r.is_none())),
    }
}

/// Whether `o` is stable for `m`: every assignment is on the trainee's acceptable list,
/// no placement is over capacity, and no trainee and placement would both rather have
/// each other (a blocking pair: the trainee prefers the placement to what they got, and
/// the placement has room or holds someone of lower priority). Independent of
/// [`Market::solve`], for the tests.
pub fn blocking_pairs(m: &Market, o: &Outcome) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut load: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (t, p) in &o.assigned {
        load.entry(p.as_str()).or_default().push(t.as_str());
    }
    for r in &m.rankings {
        let list = m.acceptable(r);
        let got = o.assigned.get(&r.trainee).map(String::as_str);
        if let Some(g) = got
            && !list.contains(&g)
        {
            out.push((r.trainee.clone(), format!("{g} (not acceptable)")));
        }
        for p in list {
            if Some(p) == got {
                break;
            }
            let holders = load.get(p).cloned().unwrap_or_default();
            let room = (holders.len() as u32) < m.seat(p).capacity;
            let outranks = holders
                .iter()
                .any(|h| m.priority(&r.trainee) < m.priority(h));
            if room || outranks {
                out.push((r.trainee.clone(), p.to_owned()));
            }
        }
    }
    for s in &m.seats {
        if load.get(s.placement.as_str()).map_or(0, Vec::len) > s.capacity as usize {
            out.push(("(capacity)".into(), s.placement.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(p: &str, kind: &str, capacity: u32) -> Seat {
        Seat {
            placement: p.into(),
            kind: kind.into(),
            capacity,
        }
    }

    fn ranking(t: &str, ranked: &[&str], done: &[&str]) -> Ranking {
        Ranking {
            trainee: t.into(),
            ranked: ranked.iter().map(|s| s.to_string()).collect(),
            done_kinds: done.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_lottery_is_fixed_arithmetic() {
        // Values pinned: a change here would change every programme's past matchings.
        assert_eq!(lottery(1, "ap-smit"), lottery(1, "ap-smit"));
        assert_ne!(lottery(1, "ap-smit"), lottery(2, "ap-smit"));
        assert_ne!(lottery(1, "ap-smit"), lottery(1, "ap-dekker"));
        // The same numbers from an independent Python transcription of the arithmetic.
        assert_eq!(lottery(0, ""), 0xe9d3_2759_6b86_9820);
        assert_eq!(lottery(1, "ap-smit"), 0x20eb_ae4d_78d8_e2da);
    }

    #[test]
    fn a_popular_placement_goes_by_priority_and_the_others_take_their_next_choice() {
        let m = Market {
            seats: vec![seat("onc", "oncology", 1), seat("msk", "msk", 2)],
            rankings: vec![
                ranking("a", &["onc", "msk"], &[]),
                ranking("b", &["onc", "msk"], &[]),
                ranking("c", &["onc"], &[]),
            ],
            variety: VarietyRule::None,
            seed: 7,
        };
        let o = m.solve().unwrap();
        let winner = ["a", "b", "c"]
            .into_iter()
            .min_by_key(|t| m.priority(t))
            .unwrap();
        assert_eq!(o.assigned[winner], "onc");
        assert!(blocking_pairs(&m, &o).is_empty());
        // c ranked only onc: unmatched unless c won it.
        assert_eq!(o.unmatched.is_empty(), winner == "c");
        assert!((o.shares.first_choice - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_variety_rule_takes_a_done_kind_off_the_list_and_says_what_it_cost() {
        let m = Market {
            seats: vec![seat("onc", "oncology", 1), seat("msk", "msk", 1)],
            rankings: vec![ranking("a", &["onc", "msk"], &["oncology"])],
            variety: VarietyRule::NoRepeatKind,
            seed: 1,
        };
        let o = m.solve().unwrap();
        assert_eq!(o.assigned["a"], "msk");
        assert_eq!(o.excluded.len(), 1);
        assert!(
            o.excluded[0].cost_a_claim,
            "onc had room and a ranked it first"
        );
        assert!(o.excluded[0].reason.contains("`oncology`"));
        assert!(blocking_pairs(&m, &o).is_empty());
    }

    #[test]
    fn bad_input_is_named() {
        let m = |rankings| Market {
            seats: vec![seat("onc", "oncology", 1)],
            rankings,
            variety: VarietyRule::None,
            seed: 1,
        };
        assert!(matches!(
            m(vec![ranking("a", &["xyz"], &[])]).solve(),
            Err(MarketError::UnknownPlacement { .. })
        ));
        assert!(matches!(
            m(vec![ranking("a", &["onc", "onc"], &[])]).solve(),
            Err(MarketError::RankedTwice { .. })
        ));
        assert!(matches!(
            m(vec![ranking("a", &[], &[]), ranking("a", &[], &[])]).solve(),
            Err(MarketError::DuplicateTrainee(_))
        ));
    }
}
