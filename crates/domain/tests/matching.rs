//! Placement matching on random markets: stable, within capacities and the variety rule,
//! and the same for the same input.

use proptest::prelude::*;
use radgate_domain::matching::{Market, Ranking, Seat, VarietyRule, blocking_pairs};

const KINDS: [&str; 3] = ["oncology", "msk", "neuro"];

fn market() -> impl Strategy<Value = Market> {
    (1usize..12, 1usize..40, any::<u64>(), any::<bool>()).prop_flat_map(|(p, t, seed, variety)| {
        let seats = proptest::collection::vec((0usize..3, 0u32..4), p);
        let rankings = proptest::collection::vec(
            (
                proptest::sample::subsequence((0..p).collect::<Vec<_>>(), 0..=p),
                any::<u64>(),
                proptest::collection::btree_set(0usize..3, 0..2),
            ),
            t,
        );
        (seats, rankings).prop_map(move |(seats, rankings)| Market {
            seats: seats
                .iter()
                .enumerate()
                .map(|(i, (k, c))| Seat {
                    placement: format!("p{i}"),
                    kind: KINDS[*k].into(),
                    capacity: *c,
                })
                .collect(),
            rankings: rankings
                .into_iter()
                .enumerate()
                .map(|(i, (mut ranked, shuffle, done))| {
                    // A trainee's order of the placements they chose, from their own draw.
                    ranked.sort_by_key(|p| {
                        radgate_domain::matching::lottery(shuffle, &p.to_string())
                    });
                    Ranking {
                        trainee: format!("t{i}"),
                        ranked: ranked.into_iter().map(|p| format!("p{p}")).collect(),
                        done_kinds: done.into_iter().map(|k| KINDS[k].to_string()).collect(),
                    }
                })
                .collect(),
            variety: if variety {
                VarietyRule::NoRepeatKind
            } else {
                VarietyRule::None
            },
            seed,
        })
    })
}

proptest! {
    #[test]
    fn every_matching_is_stable_within_capacity_and_variety_and_reproducible(m in market()) {
        let o = m.solve().unwrap();
        prop_assert!(blocking_pairs(&m, &o).is_empty(), "{:?}", blocking_pairs(&m, &o));
        for s in &m.seats {
            let n = o.assigned.values().filter(|p| **p == s.placement).count();
            prop_assert!(n <= s.capacity as usize);
        }
        for r in &m.rankings {
            if let Some(p) = o.assigned.get(&r.trainee) {
                prop_assert!(r.ranked.contains(p), "only ranked placements are given");
                let kind = &m.seats.iter().find(|s| &s.placement == p).unwrap().kind;
                if m.variety == VarietyRule::NoRepeatKind {
                    prop_assert!(!r.done_kinds.contains(kind), "{} repeats {kind}", r.trainee);
                }
            }
        }
        prop_assert_eq!(o.assigned.len() + o.unmatched.len(), m.rankings.len());
        prop_assert_eq!(&m.solve().unwrap(), &o);
    }
}
