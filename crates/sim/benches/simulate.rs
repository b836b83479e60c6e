//! A simulated year of a 300,000-exam department (target: under 10 s).

use criterion::{Criterion, criterion_group, criterion_main};
use radgate_domain::{Department, Policy};
use radgate_sim::{SimConfig, simulate};

const DEPARTMENT: &str = include_str!("../../../examples/department.toml");
const POLICY: &str = include_str!("../../../examples/policy.toml");

fn bench(c: &mut Criterion) {
    let dept = Department::parse(DEPARTMENT).unwrap();
    let mut cfg = SimConfig::parse(DEPARTMENT, &dept).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    // Scale the example hospital (about 175,000 exams) and its roster to 300,000 a year.
    let factor = 300_000.0 / cfg.exams.iter().map(|e| e.per_year).sum::<f64>();
    for e in &mut cfg.exams {
        e.per_year *= factor;
    }
    for s in &mut cfg.staff {
        s.count = (f64::from(s.count) * factor).ceil() as u32;
    }
    let check = simulate(&dept, &cfg, &policy, 365, 1).unwrap();
    assert!((290_000..310_000).contains(&check.exams), "{}", check.exams);
    assert_eq!(check.unfinished_exams, 0);
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    g.bench_function("year_300k_exams", |b| {
        b.iter(|| simulate(&dept, &cfg, &policy, 365, 1).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
