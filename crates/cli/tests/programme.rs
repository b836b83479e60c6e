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
