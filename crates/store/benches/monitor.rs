//! Monthly metrics for one AI application over 10,000,000 AI calls, on SQLite and (when
//! RADGATE_TEST_PG_URL is set) PostgreSQL: the bar is under 2 s on SQLite.
//!
//! The calls and their day cells are generated inside the database (a recursive CTE on SQLite,
//! `generate_series` on PostgreSQL) over twelve months, one version, one finding, with about
//! 5% prevalence; the SQLite file is kept under target/ and reused by later runs. The
//! query is `Store::monitor_counts(app, year, Some(Month))`, the one `radgate monitor --by
//! month` runs; it is timed `RUNS` times and the median printed.
//!
//! `cargo bench -p radgate-store --bench monitor [-- ROWS]`

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use radgate_store::{Store, Stratum};
use sqlx::Executor;

const RUNS: usize = 7;

/// The calls of row `i`: acquired over 360 days of 2026, 5% truly positive, the AI right
/// about 90% of the time, the human call known for six in seven.
fn generator(rows: u64, series: &str) -> String {
    let d = format!("(i * 360 / {rows})");
    let two = |e: &str| format!("CASE WHEN {e} < 10 THEN '0' ELSE '' END || ({e})");
    let month = two(&format!("({d} / 30 + 1)"));
    let dom = two(&format!("({d} % 30 + 1)"));
    format!(
        "INSERT INTO ai_calls (accession, app, version, finding, score, positive, acquired_at, day, month, site, scanner, protocol, truth, found_later, human) \
         SELECT 'B' || i, 'pe-detect', '3.2.0', 'pulmonary_embolism', (i % 1000) / 1000.0, \
                CASE WHEN (i * 7919) % 100 < 5 THEN (CASE WHEN i % 10 = 0 THEN 0 ELSE 1 END) ELSE (CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END) END, \
                1767225600000 + {d} * 86400000, \
                '2026-' || {month} || '-' || {dom}, '2026-' || {month}, \
                CASE WHEN i % 3 = 0 THEN 'annex' ELSE 'main' END, 'Simulated CT-1', 'CTPA', \
                CASE WHEN (i * 7919) % 100 < 5 THEN 1 ELSE 0 END, 0, \
                CASE WHEN i % 7 = 0 THEN NULL ELSE CASE WHEN (i * 7919) % 100 < 5 THEN 1 ELSE 0 END END \
         FROM {series}"
    )
}

/// The day cells as the store keeps them in step, built in one pass here.
const CELLS: &str = "INSERT INTO ai_call_days (app, version, finding, day, month, site, scanner, protocol, positive, truth, found_later, human, n) \
    SELECT app, version, finding, day, month, site, scanner, protocol, positive, COALESCE(truth, -1), found_later, COALESCE(human, -1), COUNT(*) \
    FROM ai_calls WHERE true \
    GROUP BY app, version, finding, day, month, site, scanner, protocol, positive, COALESCE(truth, -1), found_later, COALESCE(human, -1)";

async fn fill(store_url: &str, rows: u64, postgres: bool) -> Store {
    let store = Store::connect(store_url).await.expect("database opens");
    let count = store.ai_call_count().await.expect("count");
    if count != rows {
        eprintln!("filling {rows} AI calls (once; {count} found) ...");
        let t = Instant::now();
        store
            .execute_raw("DELETE FROM ai_calls")
            .await
            .expect("clear");
        store
            .execute_raw("DELETE FROM ai_call_days")
            .await
            .expect("clear");
        let series = if postgres {
            format!("generate_series(0::bigint, {}) AS g(i)", rows - 1)
        } else {
            format!(
                "(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) SELECT i FROM n)",
                rows - 1
            )
        };
        store
            .execute_raw(&generator(rows, &series))
            .await
            .expect("fill");
        store.execute_raw(CELLS).await.expect("cells");
        if postgres {
            store
                .execute_raw("ANALYZE ai_calls")
                .await
                .expect("analyze");
        } else {
            store.execute_raw("ANALYZE").await.expect("analyze");
        }
        eprintln!("filled in {:.1} s", t.elapsed().as_secs_f64());
    }
    store
}

async fn time(label: &str, store: &Store) {
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    let mut runs = Vec::new();
    let mut months = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let rows = store
            .monitor_counts("pe-detect", from, to, Some(Stratum::Month))
            .await
            .expect("query");
        runs.push(t.elapsed().as_secs_f64());
        months = rows.len();
        let total: u64 = rows
            .iter()
            .map(|r| r.counts.tp + r.counts.fp + r.counts.fn_ + r.counts.tn)
            .sum();
        assert!(total > 0, "the query counted nothing");
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "{label}: monthly metrics ({months} months) median {:.3} s, min {:.3} s, max {:.3} s over {RUNS} runs",
        runs[RUNS / 2],
        runs[0],
        runs[RUNS - 1]
    );
}

fn main() {
    let rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    sqlx::any::install_default_drivers();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("monitor-{rows}.sqlite"));
        let store = fill(
            &format!("sqlite://{}?mode=rwc", file.display()),
            rows,
            false,
        )
        .await;
        time(&format!("SQLite, {rows} AI calls"), &store).await;
        if let Ok(pg) = std::env::var("RADGATE_TEST_PG_URL") {
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg)
                .await
                .unwrap();
            admin
                .execute("CREATE DATABASE radgate_bench_monitor")
                .await
                .ok();
            let (base, _) = pg.rsplit_once('/').unwrap();
            let store = fill(&format!("{base}/radgate_bench_monitor"), rows, true).await;
            time(&format!("PostgreSQL, {rows} AI calls"), &store).await;
        }
    });
}
