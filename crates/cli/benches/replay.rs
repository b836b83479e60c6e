//! `radgate policy replay` over a year of a 300,000-exam department (the issue's bar:
//! under 10 s), on SQLite and, when `RADGATE_TEST_PG_URL` is set, PostgreSQL. The year is
//! bulk-loaded in SQL: chest X-rays, extremity X-rays and CTPAs in turn, each with its AI
//! result (scores spread over the range), the decision in force, and for one in three an
//! authorized report (a fracture or an embolism on some). Run with
//! `cargo bench -p radgate-cli --bench replay`; prints the median of three runs.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use sqlx::Executor;
use support::{example, run};

const STUDIES: u64 = 300_000;

/// The bodies, with `ACCX` for the accession (and `SCORE` for the AI's score).
const STUDY: [&str; 3] = [
    r#"{"accession":"ACCX","patient":"PSEUDO-1","patient_age_years":70,"modality":"DX","procedure_code":"XTHORAX","body_part":"CHEST","priority":"routine","site":"main","ordering_department":"GP","acquired_at":"2025-06-03T07:33:00Z"}"#,
    r#"{"accession":"ACCX","patient":"PSEUDO-2","patient_age_years":54,"modality":"DX","procedure_code":"XFRACTUUR","body_part":"EXTREMITY","priority":"routine","site":"main","ordering_department":"ED","acquired_at":"2025-06-03T07:24:45Z"}"#,
    r#"{"accession":"ACCX","patient":"PSEUDO-3","patient_age_years":62,"modality":"CT","procedure_code":"CTPA","body_part":"CHEST","priority":"urgent","site":"main","ordering_department":"INT","acquired_at":"2025-06-03T16:12:45Z"}"#,
];
const RESULT: [&str; 3] = [
    r#"{"id":"r-ACCX","app":"cxr-normal","app_version":"2.1.0","accession":"ACCX","received_at":"2025-06-03T07:36:22.444Z","findings":[{"code":"abnormality","score":SCORE,"critical":false,"normal":false},{"code":"pneumothorax","score":0.01,"critical":false,"normal":false}]}"#,
    r#"{"id":"r-ACCX","app":"fracture-detect","app_version":"1.4.2","accession":"ACCX","received_at":"2025-06-03T07:26:41.957Z","findings":[{"code":"fracture","score":SCORE,"critical":false,"normal":false}]}"#,
    r#"{"id":"r-ACCX","app":"pe-detect","app_version":"3.2.0","accession":"ACCX","received_at":"2025-06-03T16:19:25.734Z","findings":[{"code":"pulmonary_embolism","score":SCORE,"critical":false,"normal":false}]}"#,
];
const DECISION: &str = r#"{"policy_version":"2025.01-1","rule":null,"pathway":"radiologist_read","task":"final_report","priority":"routine","sla_minutes":2880,"due":"2025-06-05T07:33:00Z","readers":1,"review_fraction":0.0,"flags":[],"reasons":[],"ai_evidence":[],"explanation":"No rule matched; the policy default applies."}"#;
const REPORT: &str = r#"{"accession":"ACCX","author":{"id":"rad-devries","role":"radiologist","mandate":null},"state":"authorized","content":{"text":"Bench report.","findings":FINDINGS},"authorized_by":{"id":"rad-devries","role":"radiologist","mandate":null},"addenda":[],"history":[{"number":1,"act":"drafted","state":"draft","by":{"id":"rad-devries","role":"radiologist","mandate":null},"at":"2025-06-03T08:39:41.957Z","content":{"text":"Bench report.","findings":FINDINGS},"note":null},{"number":2,"act":"authorized","state":"authorized","by":{"id":"rad-devries","role":"radiologist","mandate":null},"at":"2025-06-03T08:39:41.957Z","content":{"text":"Bench report.","findings":FINDINGS},"note":null}]}"#;

async fn seed(url: &str, postgres: bool) {
    sqlx::any::install_default_drivers();
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let series = if postgres {
        format!("SELECT i FROM generate_series(1, {STUDIES}) AS s(i)")
    } else {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {STUDIES}) SELECT i FROM s"
        )
    };
    // 2025-01-01T00:00Z, one study every 105 s: the year.
    let t0 = 1_735_689_600_000i64;
    let q = |s: &str| s.replace('\'', "''");
    let by_kind = |bodies: &[&str; 3]| {
        format!(
            "CASE i % 3 WHEN 0 THEN '{}' WHEN 1 THEN '{}' ELSE '{}' END",
            q(bodies[0]),
            q(bodies[1]),
            q(bodies[2])
        )
    };
    let acc = "'B' || i";
    let score = "CAST(((CAST(i AS BIGINT) * 7919) % 1000) AS DOUBLE PRECISION) / 1000.0";
    let statements = [
        format!(
            "INSERT INTO studies (accession, study_uid, body, acquired_at, received_at, modality, site) \
             SELECT {acc}, NULL, replace({}, 'ACCX', {acc}), {t0} + CAST(i AS BIGINT) * 105000, {t0} + CAST(i AS BIGINT) * 105000, \
             CASE i % 3 WHEN 2 THEN 'CT' ELSE 'DX' END, 'main' FROM ({series}) q",
            by_kind(&STUDY)
        ),
        format!(
            "INSERT INTO ai_results (id, accession, app, body, received_at) \
             SELECT 'r-' || {acc}, {acc}, CASE i % 3 WHEN 0 THEN 'cxr-normal' WHEN 1 THEN 'fracture-detect' ELSE 'pe-detect' END, \
             replace(replace({}, 'ACCX', {acc}), 'SCORE', CAST({score} AS TEXT)), {t0} + CAST(i AS BIGINT) * 105000 + 60000 FROM ({series}) q",
            by_kind(&RESULT)
        ),
        format!(
            "INSERT INTO decisions (accession, policy_version, rule, body, decided_at) \
             SELECT {acc}, '2025.01-1', NULL, '{}', {t0} + CAST(i AS BIGINT) * 105000 + 1000 FROM ({series}) q",
            q(DECISION)
        ),
        format!(
            "INSERT INTO reports (accession, state, author, body, updated_at) \
             SELECT {acc}, 'authorized', 'rad-devries', replace(replace('{}', 'ACCX', {acc}), 'FINDINGS', \
               CASE WHEN i % 7 = 1 THEN '[\"fracture\"]' WHEN i % 7 = 2 THEN '[\"pulmonary_embolism\"]' ELSE '[]' END), \
             {t0} + CAST(i AS BIGINT) * 105000 + 3600000 FROM ({series}) q WHERE i % 3 = 1 OR i % 7 < 3",
            q(REPORT)
        ),
    ];
    for sql in statements {
        c.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
    c.execute("ANALYZE").await.unwrap();
}

fn main() {
    let file = support::fresh_sqlite("replay-bench", "bench");
    let mut targets = vec![(
        "sqlite",
        vec!["--db".to_string(), file.to_string_lossy().into_owned()],
        format!("sqlite://{}", file.display()),
    )];
    if std::env::var("RADGATE_TEST_PG_URL").is_ok() {
        let url = support::fresh_postgres("radgate_replay_bench");
        targets.push(("postgres", vec!["--database-url".into(), url.clone()], url));
    }
    let dept = example("department.toml");
    let policy = example("policy.toml");
    for (name, db, url) in targets {
        // Creates and migrates the database.
        let mut account = vec!["account", "add"];
        account.extend(db.iter().map(String::as_str));
        account.extend([
            "--department",
            &dept,
            "--username",
            "devries",
            "--professional",
            "rad-devries",
        ]);
        run(&account, Some("a-long-password-1\n"));
        let t = Instant::now();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(seed(&url, name == "postgres"));
        println!(
            "{name}: loaded {STUDIES} studies in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let mut args = vec!["policy", "replay"];
        args.extend(db.iter().map(String::as_str));
        args.extend([
            "--policy",
            &policy,
            "--department",
            &dept,
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
            "--format",
            "json",
        ]);
        let mut times = Vec::new();
        let mut last = String::new();
        for _ in 0..3 {
            let t = Instant::now();
            last = run(&args, None);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let r: serde_json::Value = serde_json::from_str(&last).unwrap();
        assert_eq!(r["studies"], STUDIES, "every study of the year replayed");
        println!(
            "{name}: replay of {} studies: median {:.2} s (runs {:?}); {} would change, {} sent away from a radiologist",
            r["studies"],
            times[1],
            times.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>(),
            r["changed"],
            r["sent_away"]["studies"]
        );
    }
}
