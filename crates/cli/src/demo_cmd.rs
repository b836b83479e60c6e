//! `radgate demo`: the whole loop on the embedded default. An SQLite store, the example
//! department and policy, one login per role, and a feeder that streams simulated studies
//! and AI results through the real ingest path so the worklists move.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use radgate_server::{Config, Ingest, Server, hash_password, new_secret};
use radgate_sim::Feed;
use radgate_store::{Store, User};

use crate::bundled;

pub struct Options {
    pub listen: SocketAddr,
    pub db: Option<PathBuf>,
    /// New studies per minute.
    pub rate: f64,
    /// How many times faster than declared the simulated AI applications answer.
    pub speed: f64,
    /// Studies ingested at start, so worklists are not empty.
    pub backlog: u32,
    pub seed: u64,
    /// Days of seeded past work (0: none).
    pub history_days: u32,
    pub history_per_day: u32,
}

pub fn run(o: Options) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let (dept, policy, cfg) = bundled::load()?;
    let db = o.db.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("radgate-demo-{}.sqlite", std::process::id()))
    });
    crate::serve_cmd::ports_free(&[o.listen])?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = Store::open_sqlite(&db)
            .await
            .with_context(|| format!("cannot open {}", db.display()))?;
        crate::serve_cmd::record_configuration(&store, &dept, &policy).await?;
        println!("radgate demo: {}, policy {}", dept.name, policy.version);
        println!("database: {}", db.display());
        println!("logins (demo only; one per role, and the RAIO):");
        let mut seen = Vec::new();
        for p in dept.professionals.iter().filter(|p| {
            let first = !seen.contains(&p.role);
            seen.push(p.role);
            first || dept.raio.as_ref() == Some(&p.id)
        }) {
            let password = new_secret()[..16].to_string();
            let user = User {
                username: p.id.to_string(),
                professional: p.id.clone(),
                role: p.role,
                password_hash: hash_password(&password),
            };
            store.put_user(&user, Utc::now()).await?;
            let what = if dept.raio.as_ref() == Some(&p.id) {
                format!("{} (RAIO)", p.role.code())
            } else {
                p.role.code().to_string()
            };
            println!("  {what:<22} {:<14} {password}", p.id);
        }
        seed_evidence(&store, &dept).await?;
        println!(
            "(synthetic portfolio evidence seeded, so the delegates above may claim their work)"
        );
        if o.history_days > 0 {
            if store.study("H000001").await?.is_some() {
                println!("(the seeded past is already in {})", db.display());
            } else {
                let started = std::time::Instant::now();
                eprintln!(
                    "seeding {} days of past work, {} studies a day ...",
                    o.history_days, o.history_per_day
                );
                let h = crate::demo_history::seed(
                    &store,
                    &dept,
                    &policy,
                    cfg.clone(),
                    o.history_days,
                    o.history_per_day,
                    o.seed,
                )
                .await?;
                if let Some(raio) = &dept.raio {
                    crate::demo_history::declare_pilot(&store, &dept, raio).await?;
                }
                println!(
                    "(seeded {} days: {} studies, {} authorized reports, {} gatekeeper clearances with {} standard reports from the RIS, {} reviews, a pilot; in {:.1} s)",
                    o.history_days,
                    h.studies,
                    h.reports,
                    h.cleared,
                    h.ris_reports,
                    h.reviews,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let prefix = format!("D{:07X}", Utc::now().timestamp() & 0x0FFF_FFFF);
        let mut feed = Feed::new(dept.clone(), cfg.clone(), o.seed, &prefix);
        let server = Server::bind(Config {
            store,
            policy,
            department: dept,
            listen: o.listen,
            secure_cookies: false,
            session_idle: Duration::from_secs(30 * 60),
            reroute_every: Duration::from_secs(5),
            mllp_listen: None,
            mllp_idle: radgate_server::MLLP_IDLE,
            mllp_allow: Vec::new(),
            ris: None,
            dicom: None,
            viewer_url: None,
            labeller: radgate_server::labelling::Labeller::Vocabulary(
                crate::labeller_cmd::vocabulary(None)?,
            ),
            costs: Some(cfg),
            sr_to: Vec::new(),
            ai_workitems: false,
        })
        .await
        .with_context(|| format!("cannot listen on {}", o.listen))?;
        let ingest = server.ingest("demo-feeder");
        if o.history_days > 0 {
            match server.check_drift().await {
                Ok(n) => println!("(AI monitoring raised {n} alarm(s) on the seeded past)"),
                Err(p) => tracing::warn!("drift check on the seeded past failed: {}", p.detail),
            }
        }
        println!("radgate listening on http://{}", server.local_addr()?);
        println!("open http://{}/ in a browser and log in with one of the logins above", server.local_addr()?);
        eprintln!(
            "feeding {} studies per minute (AI {}x faster than declared); Ctrl-C stops",
            o.rate, o.speed
        );
        for _ in 0..o.backlog {
            feed_one(&ingest, &mut feed, o.speed).await;
        }
        let pace = Duration::from_secs_f64(60.0 / o.rate.max(0.01));
        let feeder = tokio::spawn(async move {
            loop {
                tokio::time::sleep(pace).await;
                feed_one(&ingest, &mut feed, o.speed).await;
            }
        });
        server.run(crate::serve_cmd::shutdown()).await?;
        feeder.abort();
        eprintln!(
            "radgate demo stopped; the database stays at {}",
            db.display()
        );
        Ok(())
    })
}

/// Ingests the next simulated study now, and its AI results when they would arrive.
async fn feed_one(ingest: &Ingest, feed: &mut Feed, speed: f64) {
    let exam = feed.next_exam(Utc::now());
    if let Err(p) = ingest.study(&exam.study).await {
        tracing::warn!(
            "demo study {} not ingested: {}",
            exam.study.accession,
            p.detail
        );
        return;
    }
    for ai in exam.ai.into_iter().filter(|a| !a.failed) {
        let ingest = ingest.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(
                (ai.latency_ms as f64 / speed.max(1.0)) as u64,
            ))
            .await;
            let mut result = ai.result;
            result.received_at = Utc::now();
            if let Err(p) = ingest.ai_result(&result).await {
                tracing::warn!("demo AI result {} not ingested: {}", result.id, p.detail);
            }
        });
    }
}

/// Synthetic assessments and certificates that meet every requirement of the agreements
/// the demo's delegates work under: demo data only, marked as such in each narrative.
async fn seed_evidence(store: &Store, dept: &radgate_domain::Department) -> Result<()> {
    use radgate_domain::portfolio::{
        Assessment, AssessmentStatus, AssessorBackground, Certificate,
    };
    use radgate_domain::professional::Role;
    let today = Utc::now().date_naive();
    let radiologists: Vec<_> = dept
        .professionals
        .iter()
        .filter(|p| p.role == Role::Radiologist)
        .map(|p| p.id.clone())
        .collect();
    let mut assessments = Vec::new();
    for p in dept
        .professionals
        .iter()
        .filter(|p| p.role != Role::Radiologist)
    {
        for a in dept
            .agreements
            .iter()
            .filter(|a| a.permits(p.role) && a.is_valid_on(today))
        {
            let Some(r) = &a.requirements else { continue };
            for i in 0..r.assessments.max(r.distinct_assessors) {
                assessments.push(Assessment {
                    id: format!("demo-{}-{}-{today}-{i}", p.id, a.task),
                    assessee: p.id.clone(),
                    assessor: radiologists[i as usize % radiologists.len().max(1)].clone(),
                    assessor_background: AssessorBackground::Medical,
                    task: a.task.clone(),
                    placement: "demo".into(),
                    date: today - chrono::Duration::days(7 * (i64::from(i) + 1)),
                    scores: [Some(4); 6],
                    entrustment: r.min_entrustment,
                    narrative: "synthetic demo assessment".into(),
                    status: AssessmentStatus::Confirmed,
                });
            }
            let ai = dept.task(a.task.as_str()).is_some_and(|t| t.ai_supported);
            for kind in r
                .certificates
                .iter()
                .map(String::as_str)
                .chain(ai.then_some("ai_literacy"))
            {
                let c = Certificate {
                    holder: p.id.clone(),
                    kind: kind.to_string(),
                    valid_until: today + chrono::Duration::days(365),
                };
                store.put_certificate(&c, "demo", Utc::now()).await?;
            }
        }
    }
    store
        .import_assessments(&assessments, "demo", Utc::now())
        .await?;
    Ok(())
}
