//! `radgate programme progress|cohort|sample` on both backends, over assessments imported
//! with `radgate portfolio import`.

mod support;

use std::path::PathBuf;

use support::{databases, example, run};

/// Forty confirmed KKBs of ap-smit across the first year of the counting period (from
/// 2025-09-01), alternating placements, professionalism not observed; one requested.
fn import(db: &[String]) {
    let mut csv = String::from(
        "id,assessee,assessor,assessor_background,task,placement,date,expertise,communication,collaboration,organisation,knowledge_science,professionalism,entrustment,narrative,status\n",
    );
    for i in 0..40u64 {
        let date = chrono::NaiveDate::from_ymd_opt(2025, 9, 1).unwrap() + chrono::Days::new(i * 9);
        let placement = if i % 2 == 0 { "oncology" } else { "msk" };
        let assessor = if i % 3 == 0 {
            "rad-bakker"
        } else {
            "rad-devries"
        };
        csv += &format!(
            "k{i},ap-smit,{assessor},medical,oncology_preliminary_report,{placement},{date},4,4,4,4,4,n/o,3,,confirmed\n"
        );
    }
    csv += "r1,ap-smit,rad-devries,medical,oncology_preliminary_report,msk,2026-01-05,4,4,4,4,4,4,3,,requested\n";
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("programme-{}.csv", std::process::id()));
    std::fs::write(&file, csv).unwrap();
    let mut args = vec!["portfolio", "import"];
    args.extend(db.iter().map(String::as_str));
    let dept = example("department.toml");
    args.extend(["--department", &dept, file.to_str().unwrap()]);
    run(&args, None);
}

fn programme(db: &[String], args: &[&str]) -> String {
    let dept = example("department.toml");
    let mut all = vec!["programme", args[0]];
    all.extend(db.iter().map(String::as_str));
    all.extend(["--department", &dept]);
    all.extend(&args[1..]);
    run(&all, None)
}

#[test]
fn progress_cohort_and_sample_from_the_command_line() {
    for db in databases("programme_cli") {
        import(&db);
        let text = programme(
            &db,
            &["progress", "--person", "ap-smit", "--on", "2026-09-01"],
        );
        assert!(
            text.starts_with(
                "ap-smit (miro-master, counting 2025-09-01 to 2027-08-31): BEHIND, 40 of 60 assessments"
            ),
            "{text}"
        );
        assert!(
            text.contains("gap: domain professionalism: 0 of 6, 3 due by now"),
            "{text}"
        );

        let json: serde_json::Value = serde_json::from_str(&programme(
            &db,
            &[
                "progress",
                "--person",
                "ap-smit",
                "--on",
                "2026-09-01",
                "--format",
                "json",
            ],
        ))
        .unwrap();
        assert_eq!(json["per_placement"][0]["name"], "oncology");
        assert_eq!(json["per_placement"][0]["have"], 20);

        let cohort = programme(
            &db,
            &["cohort", "--programme", "miro-master", "--on", "2026-09-01"],
        );
        let first = cohort.lines().nth(1).unwrap();
        assert!(
            first.starts_with("ap-smit "),
            "those behind first: {cohort}"
        );
        assert!(
            cohort.contains("ap-dekker (miro-master, counting 2026-09-01"),
            "{cohort}"
        );

        let draw = |seed: &str| {
            programme(
                &db,
                &[
                    "sample",
                    "--programme",
                    "miro-master",
                    "--fraction",
                    "0.25",
                    "--seed",
                    seed,
                    "--format",
                    "json",
                ],
            )
        };
        let a: Vec<serde_json::Value> = serde_json::from_str(&draw("5")).unwrap();
        assert_eq!(
            a.len(),
            10,
            "a quarter of 40 confirmed; the requested one is not drawn"
        );
        assert!(a.iter().all(|x| x["status"] == "confirmed"));
        assert_eq!(draw("5"), draw("5"));
        assert_ne!(draw("5"), draw("6"));
    }
}

/// A small reproducible generator for the random markets (the test needs no more).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[test]
fn placement_matching_agrees_with_an_independent_implementation_on_random_markets() {
    use radgate_domain::matching::{Market, Ranking, Seat, VarietyRule, blocking_pairs};
    let kinds = ["oncology", "msk", "neuro", "cardio"];
    let mut rng = Lcg(20261202);
    let mut markets = Vec::new();
    for i in 0..60 {
        let placements = 1 + rng.below(12) as usize;
        let trainees = 1 + rng.below(60) as usize;
        let seats: Vec<Seat> = (0..placements)
            .map(|p| Seat {
                placement: format!("p{p}"),
                kind: kinds[rng.below(4) as usize].into(),
                capacity: 1 + rng.below(4) as u32,
            })
            .collect();
        let rankings: Vec<Ranking> = (0..trainees)
            .map(|t| {
                let mut pool: Vec<usize> = (0..placements).collect();
                let mut ranked = Vec::new();
                for _ in 0..rng.below(placements as u64 + 1) {
                    ranked.push(format!(
                        "p{}",
                        pool.remove(rng.below(pool.len() as u64) as usize)
                    ));
                }
                let done = (0..rng.below(2))
                    .map(|_| kinds[rng.below(4) as usize].to_string())
                    .collect();
                Ranking {
                    trainee: format!("t{t}"),
                    ranked,
                    done_kinds: done,
                }
            })
            .collect();
        markets.push(Market {
            seats,
            rankings,
            variety: if i % 2 == 0 {
                VarietyRule::NoRepeatKind
            } else {
                VarietyRule::None
            },
            seed: rng.below(u64::MAX),
        });
    }
    // The same markets for the `matching` package (hospital-resident game, solved
    // resident-optimal): each trainee's acceptable list, each placement's priority order
    // over the trainees who find it acceptable, the capacities.
    let mut games = Vec::new();
    let mut ours = Vec::new();
    for m in &markets {
        let o = m.solve().unwrap();
        assert!(blocking_pairs(m, &o).is_empty());
        let acceptable = |r: &Ranking| -> Vec<String> {
            r.ranked
                .iter()
                .filter(|p| {
                    let kind = &m.seats.iter().find(|s| &s.placement == *p).unwrap().kind;
                    m.variety == VarietyRule::None || !r.done_kinds.contains(kind)
                })
                .cloned()
                .collect()
        };
        let residents: serde_json::Map<String, serde_json::Value> = m
            .rankings
            .iter()
            .map(|r| (r.trainee.clone(), serde_json::json!(acceptable(r))))
            .collect();
        let mut by_priority: Vec<&Ranking> = m.rankings.iter().collect();
        by_priority.sort_by_key(|r| {
            (
                radgate_domain::matching::lottery(m.seed, &r.trainee),
                r.trainee.clone(),
            )
        });
        let hospitals: serde_json::Map<String, serde_json::Value> = m
            .seats
            .iter()
            .map(|s| {
                let who: Vec<&str> = by_priority
                    .iter()
                    .filter(|r| acceptable(r).contains(&s.placement))
                    .map(|r| r.trainee.as_str())
                    .collect();
                (s.placement.clone(), serde_json::json!(who))
            })
            .collect();
        let capacities: serde_json::Map<String, serde_json::Value> = m
            .seats
            .iter()
            .map(|s| (s.placement.clone(), serde_json::json!(s.capacity)))
            .collect();
        games.push(serde_json::json!({"residents": residents, "hospitals": hospitals, "capacities": capacities}));
        ours.push(serde_json::json!(o.assigned));
    }
    let theirs = support::python_json(
        r#"
import json, sys, warnings
from matching.games import HospitalResident
warnings.simplefilter("ignore")
out = []
for g in json.load(sys.stdin):
    residents = {r: p for r, p in g["residents"].items() if p}
    hospitals = {h: [r for r in rs if r in residents] for h, rs in g["hospitals"].items()}
    if not residents:
        out.append({})
        continue
    game = HospitalResident.create_from_dictionaries(residents, hospitals, g["capacities"])
    m = game.solve(optimal="resident")
    out.append({str(r): str(h) for h, rs in m.items() for r in rs})
print(json.dumps(out))
"#,
        &serde_json::json!(games),
    );
    let theirs = theirs.as_array().unwrap();
    assert_eq!(theirs.len(), ours.len());
    // Markets with real competition: many placements given, and trainees left over.
    let given: usize = ours.iter().map(|o| o.as_object().unwrap().len()).sum();
    let trainees: usize = markets.iter().map(|m| m.rankings.len()).sum();
    assert!(
        given > 300 && trainees > given + 100,
        "{given} of {trainees} trainees placed"
    );
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a, b, "market {i}: radgate against matching 1.4.3");
    }
}
