//! A placement round: 2,000 trainees ranking 10 of 500 placements (popular ones more
//! often), 2,250 seats, the variety rule on (target: under 1 s).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use radgate_domain::matching::{Market, Ranking, Seat, VarietyRule, lottery};

fn market() -> Market {
    let kinds = ["oncology", "msk", "neuro", "cardio", "abdomen"];
    let seats = (0..500)
        .map(|p| Seat {
            placement: format!("placement-{p:03}"),
            kind: kinds[p % 5].into(),
            capacity: if p % 2 == 0 { 4 } else { 5 },
        })
        .collect();
    let rankings = (0..2000)
        .map(|t| {
            let trainee = format!("trainee-{t:04}");
            let mut ranked: Vec<String> = Vec::new();
            let mut k = 0u64;
            while ranked.len() < 10 {
                // Skewed: the lower numbers (the popular placements) come up more often.
                let r = lottery(k, &trainee);
                let p = ((r % 500) * (r % 500)) / 500;
                let id = format!("placement-{p:03}");
                if !ranked.contains(&id) {
                    ranked.push(id);
                }
                k += 1;
            }
            Ranking {
                trainee,
                ranked,
                done_kinds: std::iter::once(kinds[t % 5].to_string()).collect(),
            }
        })
        .collect();
    Market {
        seats,
        rankings,
        variety: VarietyRule::NoRepeatKind,
        seed: 2026,
    }
}

fn bench(c: &mut Criterion) {
    let m = market();
    let o = m.solve().unwrap();
    println!(
        "2,000 trainees, 500 placements: {} placed, {:.1}% first choice, {:.1}% top three, {:.1}% unmatched",
        o.assigned.len(),
        100.0 * o.shares.first_choice,
        100.0 * o.shares.top_three,
        100.0 * o.shares.unmatched
    );
    c.bench_function("match 2,000 trainees to 500 placements", |b| {
        b.iter(|| black_box(&m).solve().unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
