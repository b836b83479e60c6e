//! radgate's HTTP API (axum): ingest, routing decisions, worklists and claims, accounts
//! and API keys, health and metrics. Handlers translate HTTP to questions for the domain
//! and the store, and back.

mod adjudications;
mod api;
mod assessments;
mod auth;
mod charts;
mod dicom;
mod dicomweb;
mod drift;
mod extract;
mod fhir;
mod forward;
mod gatekeeping;
mod ingest;
pub mod labelling;
mod metrics;
mod mllp;
mod monitoring;
mod openapi;
mod outbox;
mod pilots;
mod placements;
mod problem;
mod programmes;
mod register;
pub mod replay;
mod reports;
mod rubrics;
mod sr_out;
mod state;
mod stats;
mod theses;
mod ui;
mod uid;
mod ups_rs;

use std::net::SocketAddr;
use std::sync::Arc;

use radgate_domain::{Department, Policy};
use radgate_store::Store;

/// How often the background drift check evaluates every AI application in use.
pub const DRIFT_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

pub use auth::{hash_password, new_secret, sha256_hex};
pub use dicom::{
    DicomConfig, MAX_ASSOCIATIONS as DICOM_MAX_ASSOCIATIONS,
    MAX_INSTANCE_BYTES as DICOM_MAX_INSTANCE_BYTES,
};
pub use extract::MAX_BODY_BYTES;
pub use forward::DicomNode;
pub use mllp::{IDLE as MLLP_IDLE, MAX_FRAME as MLLP_MAX_FRAME};
pub use openapi::DOCUMENT as OPENAPI;
pub use outbox::RisTarget;
pub use problem::Problem;
pub use ui::CSP;

/// The total size of the web screens' own assets (style, script, htmx), in bytes.
pub fn ui_asset_bytes() -> usize {
    ui::asset_bytes()
}

/// Everything the service needs to start.
pub struct Config {
    pub store: Store,
    pub policy: Policy,
    pub department: Department,
    pub listen: SocketAddr,
    pub secure_cookies: bool,
    /// A login session unused this long ends (default 30 minutes).
    pub session_idle: std::time::Duration,
    /// How often studies whose AI wait may have run out are routed again.
    pub reroute_every: std::time::Duration,
    /// Where the HL7 v2 (MLLP) listener takes orders; none when not given.
    pub mllp_listen: Option<SocketAddr>,
    /// An MLLP connection that sends nothing for this long is closed.
    pub mllp_idle: std::time::Duration,
    /// The addresses MLLP senders may connect from; empty allows any.
    pub mllp_allow: Vec<std::net::IpAddr>,
    /// Where authorized reports go as ORU^R01, through the durable outbox.
    pub ris: Option<RisTarget>,
    /// The DICOM receiver (C-ECHO, C-STORE SCP): where it listens and how it stores.
    pub dicom: Option<(SocketAddr, DicomConfig)>,
    /// The image viewer's launch URL template (`{study_uid}`, `{accession}`).
    pub viewer_url: Option<String>,
    /// The report labeller (the truth from free-text final reports).
    pub labeller: labelling::Labeller,
    /// The department's simulation parameters, for the minutes of a policy replay.
    pub costs: Option<radgate_sim::SimConfig>,
    /// Where radgate's DICOM SR of each AI result goes (the PACS), through the outbox.
    pub sr_to: Vec<DicomNode>,
    /// Whether studies owed to AI applications become UPS work items (IHE AIW-I).
    pub ai_workitems: bool,
}

/// A bound, not yet serving, radgate; tests and `radgate serve` both build it this way.
pub struct Server {
    listener: tokio::net::TcpListener,
    mllp: Option<tokio::net::TcpListener>,
    mllp_idle: std::time::Duration,
    mllp_allow: Vec<std::net::IpAddr>,
    dicom: Option<(std::net::TcpListener, Arc<DicomConfig>, Arc<dicom::Journal>)>,
    app: state::App,
    reroute_every: std::time::Duration,
    /// The nodes that get radgate's SRs, and the AE title it calls them with.
    sr_to: (Vec<DicomNode>, String),
}

/// The ingest path for feeders inside the process (the demo's simulated modalities and
/// AI applications): the same code the HTTP handlers call, recorded under `actor`.
#[derive(Clone)]
pub struct Ingest {
    app: state::App,
    actor: String,
}

impl Ingest {
    pub async fn study(&self, study: &radgate_domain::Study) -> Result<(), Problem> {
        ingest::study(&self.app, study, &self.actor).await.map(drop)
    }

    pub async fn ai_result(&self, result: &radgate_domain::ai::AiResult) -> Result<(), Problem> {
        ingest::ai_result(&self.app, result, &self.actor)
            .await
            .map(drop)
    }
}

/// Keeps large allocations out of glibc's heap arenas. glibc raises its mmap threshold
/// each time a large block is freed, after which blocks like argon2id's 19 MiB and a DICOM
/// association's data-set buffer are carved from the arenas and stay resident long after
/// they are freed: 300 wrong logins grew the process by 180 MB that it never gave back. A
/// fixed threshold keeps them mmapped, so their memory returns to the system when freed.
fn keep_large_blocks_mmapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; 128 KiB is glibc's default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

impl Server {
    pub async fn bind(config: Config) -> std::io::Result<Server> {
        keep_large_blocks_mmapped();
        let app = state::App {
            store: config.store,
            policy: Arc::new(config.policy),
            department: Arc::new(config.department),
            metrics: Arc::default(),
            throttle: Arc::default(),
            passwords: Arc::new(auth::PasswordChecks::start(auth::hash_permits())),
            session_idle: chrono::Duration::from_std(config.session_idle)
                .unwrap_or(chrono::Duration::MAX),
            secure_cookies: config.secure_cookies,
            ris: config.ris.map(Arc::new),
            changes: Arc::default(),
            facets: Arc::default(),
            chain_check: Arc::default(),
            viewer_url: config.viewer_url,
            labeller: Arc::new(config.labeller),
            costs: config.costs.map(Arc::new),
            sr_to: config.sr_to.iter().map(DicomNode::destination).collect(),
            ups: config.ai_workitems,
            wakeups: Arc::default(),
            dicom_storage: config.dicom.as_ref().map(|(_, d)| d.storage.clone()),
            ups_events: Arc::default(),
        };
        let calling_ae = config
            .dicom
            .as_ref()
            .map_or_else(|| "RADGATE".to_owned(), |(_, d)| d.ae_title.clone());
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let mllp = match config.mllp_listen {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
            None => None,
        };
        let dicom = match config.dicom {
            Some((addr, cfg)) => {
                std::fs::create_dir_all(&cfg.storage)?;
                let journal = dicom::open_journal(&app, &cfg).await?;
                Some((
                    std::net::TcpListener::bind(addr)?,
                    Arc::new(cfg),
                    Arc::new(journal),
                ))
            }
            None => None,
        };
        Ok(Server {
            listener,
            mllp,
            dicom,
            mllp_idle: config.mllp_idle,
            mllp_allow: config.mllp_allow,
            app,
            reroute_every: config.reroute_every,
            sr_to: (config.sr_to, calling_ae),
        })
    }

    pub fn ingest(&self, actor: &str) -> Ingest {
        Ingest {
            app: self.app.clone(),
            actor: actor.to_string(),
        }
    }

    /// Checks every AI application for drift now, as the background check does every
    /// [`DRIFT_EVERY`]; returns how many alarms it raised.
    pub async fn check_drift(&self) -> Result<usize, Problem> {
        drift::check_all(&self.app, chrono::Utc::now()).await
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The DICOM receiver's address, when there is one.
    pub fn dicom_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.dicom.as_ref().map(|(l, _, _)| l.local_addr())
    }

    /// The HL7 v2 listener's address, when there is one.
    pub fn mllp_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.mllp.as_ref().map(|l| l.local_addr())
    }

    /// Serves until `shutdown` completes, routing studies again as their AI waits run out
    /// and checking the AI applications for drift every [`DRIFT_EVERY`].
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (app, every) = (self.app.clone(), self.reroute_every);
        let sweeper = tokio::spawn(async move {
            let slack = chrono::Duration::from_std(every * 2).unwrap_or_default();
            loop {
                tokio::time::sleep(every).await;
                match ingest::sweep(&app, slack).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("routed {n} studies again after their AI wait"),
                    Err(p) => tracing::warn!("AI-wait sweep failed: {}", p.detail),
                }
            }
        });
        let monitor_app = self.app.clone();
        let monitor = tokio::spawn(async move {
            loop {
                tokio::time::sleep(DRIFT_EVERY).await;
                match drift::check_all(&monitor_app, chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!("AI monitoring raised {n} alarm(s)"),
                    Err(p) => tracing::warn!("AI drift check failed: {}", p.detail),
                }
            }
        });
        let changes = tokio::spawn(ui::Changes::run(self.app.clone()));
        let ups_app = self.app.clone();
        let expirer = self.app.ups.then(|| {
            tokio::spawn(async move {
                let mut pruned_at: Option<std::time::Instant> = None;
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    match ups_rs::expire(&ups_app).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!("{n} AI work item(s) expired and were escalated"),
                        Err(p) => tracing::warn!("AI work item expiry failed: {}", p.detail),
                    }
                    if pruned_at.is_none_or(|at| at.elapsed().as_secs() >= 3600) {
                        pruned_at = Some(std::time::Instant::now());
                        if let Err(p) = ups_rs::prune_events(&ups_app).await {
                            tracing::warn!("UPS event pruning failed: {}", p.detail);
                        }
                    }
                }
            })
        });
        let sender = self
            .app
            .ris
            .clone()
            .map(|ris| tokio::spawn(outbox::run(self.app.clone(), ris)));
        // One sender per node, whether it gets studies, radgate's SRs or both.
        let mut nodes: Vec<DicomNode> = self
            .dicom
            .as_ref()
            .map(|(_, cfg, _)| cfg.forward.clone())
            .unwrap_or_default();
        let (sr_nodes, calling_ae) = &self.sr_to;
        for n in sr_nodes {
            if !nodes.contains(n) {
                nodes.push(n.clone());
            }
        }
        let forwarders: Vec<_> = nodes
            .into_iter()
            .map(|node| tokio::spawn(forward::run(self.app.clone(), node, calling_ae.clone())))
            .collect();
        let completer = self.dicom.map(|(listener, cfg, journal)| {
            dicom::spawn(
                self.app.clone(),
                listener,
                cfg.clone(),
                journal,
                tokio::runtime::Handle::current(),
            );
            let app = self.app.clone();
            tokio::spawn(async move {
                let every = (cfg.completion.shortest_wait() / 4)
                    .to_std()
                    .unwrap_or_default()
                    .clamp(
                        std::time::Duration::from_millis(200),
                        std::time::Duration::from_secs(5),
                    );
                loop {
                    // Until the next poll, or sooner when a study may be complete sooner.
                    let now = chrono::Utc::now();
                    let soon = app
                        .wakeups
                        .next()
                        .map(|at| (at - now).to_std().unwrap_or_default())
                        .map_or(every, |d| d.min(every));
                    tokio::select! {
                        () = tokio::time::sleep(soon) => {}
                        // An arrival may be due before what we sleep for: look again.
                        () = app.wakeups.noted.notified() => continue,
                    }
                    app.wakeups.take_due(chrono::Utc::now());
                    match dicom::complete(&app, &cfg).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!("completed {n} DICOM studies"),
                        Err(p) => tracing::warn!("DICOM study completion failed: {}", p.detail),
                    }
                }
            })
        });
        let hl7 = self.mllp.map(|l| {
            tokio::spawn(mllp::serve(
                self.app.clone(),
                l,
                self.mllp_idle,
                self.mllp_allow,
            ))
        });
        let served = axum::serve(
            self.listener,
            api::router(self.app).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        sweeper.abort();
        monitor.abort();
        changes.abort();
        for task in [hl7, sender, completer, expirer]
            .into_iter()
            .flatten()
            .chain(forwarders)
        {
            task.abort();
        }
        served
    }
}
