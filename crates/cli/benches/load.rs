//! Load benchmark of the real `radgate serve` over loopback (run: `cargo bench -p
//! radgate-cli --bench load`; set RADGATE_TEST_PG_URL to measure PostgreSQL too).
//!
//! 1. Ingest -> decision -> worklist item: POST /api/v1/studies answers after the study
//!    is stored, routed and its work item opened, so its latency is the whole path. Sent
//!    open-loop at a fixed 200 requests/s (requests leave on schedule whether or not
//!    earlier ones have answered), p50/p99 over all of them.
//! 2. Worklist query: GET /api/v1/worklist with 1,000,000 historical studies (and their
//!    decisions and work items) and 10,000 open items, p50/p99 over 500 requests.
//! 3. Worklist screen: GET /worklist (the HTML page: the domain's claimable tasks, one
//!    page of 50 rows with study, order and AI findings, the filters) on the same store,
//!    unfiltered and filtered, p50/p99 over 500 requests each.
//!
//! The history is bulk-loaded with SQL written against the schema, not through the API:
//! a million HTTP ingests would take longer than the measurement is worth.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Executor;
use support::{Server, agent, example, run};

const RATE: u64 = 200;
const SECONDS: u64 = 20;
const HISTORY: i64 = 1_000_000;
const OPEN: i64 = 10_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        ms.len(),
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        ms.last().copied().unwrap_or(0.0)
    )
}

fn ingest_latency(url: &str, key: &str) -> String {
    let total = RATE * SECONDS;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let errors = Arc::new(Mutex::new(0u64));
    let start = Instant::now() + Duration::from_millis(200);
    let workers = 16;
    let mut handles = Vec::new();
    for w in 0..workers {
        let (url, key, latencies, errors) = (
            url.to_string(),
            key.to_string(),
            latencies.clone(),
            errors.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let a = agent();
            let mut i = w;
            while i < total {
                // Open loop: request i leaves at start + i/RATE.
                let due = start + Duration::from_micros(i * 1_000_000 / RATE);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let body = serde_json::json!({"accession": format!("L{i}"), "patient": "PSEUDO-1", "patient_age_years": 60,
                    "modality": "CT", "procedure_code": "CTTHAB-ONC", "body_part": "ABDOMEN", "priority": "routine",
                    "site": "main", "ordering_department": "ONC", "acquired_at": chrono::Utc::now().to_rfc3339()});
                let r = a.post(format!("{url}/api/v1/studies")).header("Authorization", format!("Bearer {key}")).send_json(&body);
                // Latency counts from the scheduled send time, so queueing in the client counts too.
                let ms = due.elapsed().as_secs_f64() * 1000.0;
                match r {
                    Ok(resp) if resp.status().as_u16() == 201 => latencies.lock().unwrap().push(ms),
                    _ => *errors.lock().unwrap() += 1,
                }
                i += workers;
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let lat = Arc::try_unwrap(latencies).unwrap().into_inner().unwrap();
    let achieved = lat.len() as f64 / elapsed;
    format!(
        "{} at {achieved:.0} req/s achieved, errors={}",
        summary(lat),
        errors.lock().unwrap()
    )
}

/// Bulk-loads the history: every study with a decision and a work item; all done but the
/// last OPEN, spread over the tasks and priorities a radiologist sees.
async fn seed_history(url: &str, postgres: bool) {
    sqlx::any::install_default_drivers();
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let (series, overriding) = if postgres {
        (
            format!("SELECT i FROM generate_series(1, {HISTORY}) AS s(i)"),
            "OVERRIDING SYSTEM VALUE",
        )
    } else {
        (
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {HISTORY}) SELECT i FROM s"
            ),
            "",
        )
    };
    let t0 = 1_700_000_000_000i64;
    let study_body = "'{\"accession\":\"H' || i || '\",\"patient\":\"PSEUDO-' || (i % 977) || '\",\"patient_age_years\":61,\"modality\":\"CT\",\"procedure_code\":\"CTTHAB-ONC\",\"body_part\":\"ABDOMEN\",\"priority\":\"routine\",\"site\":\"main\",\"ordering_department\":\"ONC\",\"clinical_question\":\"Follow-up of liver metastases\",\"acquired_at\":\"2026-11-30T08:00:00Z\"}'";
    let statements = [
        // The open items' studies carry a whole study body, as the screen shows them.
        format!(
            "INSERT INTO studies (accession, study_uid, body, acquired_at, received_at, modality, site) \
             SELECT 'H' || i, NULL, CASE WHEN i > {open_from} THEN {study_body} ELSE '{{}}' END, {t0} + i * 1000, {t0} + i * 1000, \
             CASE i % 2 WHEN 0 THEN 'CT' ELSE 'DX' END, 'main' FROM ({series}) q",
            open_from = HISTORY - OPEN,
        ),
        format!(
            "INSERT INTO decisions (id, accession, policy_version, rule, body, decided_at) {overriding} SELECT i + 1000000000, 'H' || i, 'bench', NULL, '{{}}', {t0} + i * 1000 FROM ({series}) q"
        ),
        format!(
            "INSERT INTO work_items (id, accession, decision_id, task, pathway, priority, due, created_at, state, assignee) {overriding} \
             SELECT i + 1000000000, 'H' || i, i + 1000000000, \
             CASE i % 4 WHEN 0 THEN 'final_report' WHEN 1 THEN 'oncology_preliminary_report' WHEN 2 THEN 'cxr_gatekeeping' ELSE 'liver_segmentation' END, \
             'radiologist_read', i % 3, {t0} + i * 1000 + 3600000, {t0} + i * 1000, \
             CASE WHEN i > {} THEN 'open' ELSE 'done' END, NULL FROM ({series}) q",
            HISTORY - OPEN
        ),
    ];
    for sql in statements {
        c.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
    // Fresh planner statistics, as a long-running database has them.
    c.execute("ANALYZE").await.unwrap();
}

fn worklist_latency(url: &str, cookie: &str) -> String {
    let a = agent();
    let mut ms = Vec::new();
    for i in 0..550 {
        let t = Instant::now();
        let mut r = a
            .get(format!("{url}/api/v1/worklist"))
            .header("Cookie", cookie)
            .call()
            .unwrap();
        let n = r
            .body_mut()
            .read_json::<serde_json::Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .len();
        assert_eq!(n, 200, "a full page of open items");
        if i >= 50 {
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    summary(ms)
}

/// The worklist screen, as a browser asks for it; `query` filters and pages.
fn worklist_page_latency(url: &str, cookie: &str, query: &str) -> String {
    let a = agent();
    let mut ms = Vec::new();
    for i in 0..550 {
        let t = Instant::now();
        let mut r = a
            .get(format!("{url}/worklist{query}"))
            .header("Cookie", cookie)
            .call()
            .unwrap();
        let html = r.body_mut().read_to_string().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(
            html.contains("aria-label=\"Claim H"),
            "a page of claimable rows"
        );
        if i >= 50 {
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    summary(ms)
}

fn login(url: &str) -> String {
    let r = agent()
        .post(format!("{url}/api/v1/login"))
        .send_json(serde_json::json!({"username": "devries", "password": "a-long-password-1"}))
        .unwrap();
    r.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let file = support::fresh_sqlite("load-bench", "bench");
    let mut targets = vec![(
        "sqlite",
        vec!["--db".to_string(), file.to_string_lossy().into_owned()],
        format!("sqlite://{}", file.display()),
    )];
    if std::env::var("RADGATE_TEST_PG_URL").is_ok() {
        let url = support::fresh_postgres("radgate_bench");
        targets.push(("postgres", vec!["--database-url".into(), url.clone()], url));
    }
    for (name, db, url) in targets {
        let mut account = vec!["account", "add"];
        account.extend(db.iter().map(String::as_str));
        let dept = example("department.toml");
        account.extend([
            "--department",
            &dept,
            "--username",
            "devries",
            "--professional",
            "rad-devries",
        ]);
        run(&account, Some("a-long-password-1\n"));
        let mut key_args = vec!["api-key", "create"];
        key_args.extend(db.iter().map(String::as_str));
        key_args.extend([
            "--department",
            &dept,
            "--name",
            "bench",
            "--scopes",
            "ingest,read,ai:pe-detect,ai:cxr-normal,ai:fracture-detect,ai:ich-detect,ai:cspine-fracture",
        ]);
        let key = run(&key_args, None);

        let server = Server::start(&db);
        println!(
            "{name}: ingest -> decision -> work item at {RATE}/s for {SECONDS} s: {}",
            ingest_latency(&server.url, &key)
        );
        drop(server);

        let t = Instant::now();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(seed_history(&url, name == "postgres"));
        println!(
            "{name}: loaded {HISTORY} historical studies ({OPEN} open items) in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let server = Server::start(&db);
        let cookie = login(&server.url);
        println!(
            "{name}: worklist query with {HISTORY} studies, {OPEN} open items: {}",
            worklist_latency(&server.url, &cookie)
        );
        for (what, query) in [
            ("worklist screen", ""),
            ("worklist screen, CT, page 3", "?modality=CT&page=3"),
        ] {
            println!(
                "{name}: {what} with {HISTORY} studies, {OPEN} open items: {}",
                worklist_page_latency(&server.url, &cookie, query)
            );
        }
    }
}
