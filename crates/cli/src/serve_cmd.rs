//! `radgate serve`, `radgate account add`, `radgate api-key create`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use radgate_server::{Config, Server, hash_password, new_secret, sha256_hex};
use radgate_store::{Store, User};

use crate::Database;
use crate::load;

/// The database a command works on.
pub enum Target {
    File(PathBuf),
    Url(String),
}

impl From<&Database> for Target {
    fn from(d: &Database) -> Target {
        match (&d.db, &d.database_url) {
            (Some(f), _) => Target::File(f.clone()),
            (None, Some(u)) => Target::Url(u.clone()),
            (None, None) => unreachable!("clap requires one of --db and --database-url"),
        }
    }
}

impl Target {
    pub async fn open(&self) -> Result<Store> {
        match self {
            Target::File(f) => Store::open_sqlite(f)
                .await
                .with_context(|| format!("cannot open {}", f.display())),
            Target::Url(u) => Store::connect(u).await.context("cannot open the database"),
        }
    }
}

/// Where `serve` listens: HTTP, and HL7 v2 over MLLP when asked.
pub struct Listen {
    pub http: SocketAddr,
    pub mllp: Option<SocketAddr>,
    pub mllp_idle: std::time::Duration,
    /// Addresses MLLP senders may connect from (empty: any).
    pub mllp_allow: Vec<std::net::IpAddr>,
    /// Where authorized reports go (ORU^R01 over MLLP).
    pub ris: Option<radgate_server::RisTarget>,
    pub dicom: Option<DicomListen>,
    /// The nodes that get radgate's SR of each AI result.
    pub sr_to: Vec<radgate_server::DicomNode>,
    /// AIW-I work items for the AI nodes.
    pub ai_workitems: bool,
}

/// The DICOM receiver's settings from the command line.
pub struct DicomListen {
    pub addr: SocketAddr,
    pub ae_title: String,
    pub storage: PathBuf,
    pub completion: radgate_domain::acquisition::Completion,
    pub forward: Vec<radgate_server::DicomNode>,
    pub max_associations: usize,
    pub allowed_callers: Vec<String>,
    pub max_instance_bytes: u64,
}

/// Fails with the address and the cause when one of `addresses` cannot be listened on
/// (another program has it); binds and lets go, so nothing is created first.
pub fn ports_free(addresses: &[SocketAddr]) -> Result<()> {
    for a in addresses {
        std::net::TcpListener::bind(a).with_context(|| format!("cannot listen on {a}"))?;
    }
    Ok(())
}

/// How login sessions are kept.
pub struct Sessions {
    /// The image viewer's launch URL template for the study screen.
    pub viewer_url: Option<String>,
    pub secure_cookies: bool,
    /// A session unused this long ends.
    pub idle: std::time::Duration,
}

pub fn serve(
    target: Target,
    listen: Listen,
    policy: &Path,
    department: &Path,
    sessions: Sessions,
    reroute_every: std::time::Duration,
    labeller: crate::labeller_cmd::Choice<'_>,
) -> Result<()> {
    let Listen {
        http: listen,
        mllp: mllp_listen,
        mllp_idle,
        mllp_allow,
        ris,
        dicom,
        sr_to: listen_sr_to,
        ai_workitems,
    } = listen;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let (policy, _) = load::checked_policy(policy, Some(department))?;
    let (department, department_text) = load::department(department)?;
    // Policy replay's minutes: the department's simulation parameters, when it has them.
    let costs = radgate_sim::SimConfig::parse(&department_text, &department).ok();
    let labeller = labeller.labeller(&department)?;
    let dicom = dicom.map(|d| {
        let site = department
            .sites
            .first()
            .cloned()
            .unwrap_or_else(|| "main".into());
        (
            d.addr,
            radgate_server::DicomConfig {
                ae_title: d.ae_title,
                storage: d.storage,
                completion: d.completion,
                site,
                forward: d.forward,
                max_associations: d.max_associations,
                allowed_callers: d.allowed_callers,
                max_instance_bytes: d.max_instance_bytes,
            },
        )
    });
    // Every address must be free before anything is created or printed.
    let mut addresses = vec![listen];
    addresses.extend(mllp_listen);
    addresses.extend(dicom.as_ref().map(|(a, _)| *a));
    ports_free(&addresses)?;
    load::runtime()?.block_on(async {
        let store = target.open().await?;
        record_configuration(&store, &department, &policy).await?;
        let server = Server::bind(Config {
            store,
            policy,
            department,
            listen,
            secure_cookies: sessions.secure_cookies,
            session_idle: sessions.idle,
            reroute_every,
            mllp_listen,
            mllp_idle,
            mllp_allow,
            ris,
            dicom,
            viewer_url: sessions.viewer_url.clone(),
            labeller,
            costs,
            sr_to: listen_sr_to,
            ai_workitems,
        })
        .await
        .with_context(|| format!("cannot listen on {listen} (or the MLLP address)"))?;
        let addr = server.local_addr()?;
        // Scripts and tests read these lines to find the ports.
        println!("radgate listening on http://{addr}");
        if let Some(mllp) = server.mllp_addr() {
            println!("radgate MLLP listening on {}", mllp?);
        }
        if let Some(dicom) = server.dicom_addr() {
            println!("radgate DICOM listening on {}", dicom?);
        }
        server
            .run(shutdown())
            .await
            .context("server stopped with an error")?;
        eprintln!("radgate stopped");
        Ok(())
    })
}

/// Records the department and policy the service starts with; every difference from the
/// last start is audited, and a reused policy version with other rules is refused.
pub async fn record_configuration(
    store: &Store,
    dept: &radgate_domain::Department,
    policy: &radgate_domain::Policy,
) -> Result<()> {
    let changes = store
        .record_configuration(dept, policy, chrono::Utc::now())
        .await?;
    if changes.is_empty() {
        eprintln!(
            "configuration unchanged since the last start (policy {})",
            policy.version
        );
    } else {
        eprintln!(
            "configuration recorded: {} change(s), audited",
            changes.len()
        );
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, so that in-flight requests finish first.
pub async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub fn add_account(
    target: Target,
    department: &Path,
    username: &str,
    professional: &str,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let Some(p) = dept.professional(professional) else {
        bail!("{}: no professional `{professional}`", department.display());
    };
    if username.trim().is_empty() || username.len() > 64 {
        bail!("--username must be 1 to 64 characters");
    }
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.chars().count() < 12 {
        bail!("the password must be at least 12 characters");
    }
    let user = User {
        username: username.to_string(),
        professional: p.id.clone(),
        role: p.role,
        password_hash: hash_password(password),
    };
    load::runtime()?.block_on(async {
        target
            .open()
            .await?
            .put_user(&user, chrono::Utc::now())
            .await?;
        eprintln!("account `{username}` for {} ({}) saved", p.id, p.role);
        Ok(())
    })
}

pub fn disable_account(target: Target, username: &str) -> Result<()> {
    load::runtime()?.block_on(async {
        let store = target.open().await?;
        if !store.disable_user(username, chrono::Utc::now()).await? {
            anyhow::bail!("no account `{username}`");
        }
        eprintln!("account `{username}` disabled; its sessions have ended");
        Ok(())
    })
}

pub fn create_api_key(
    target: Target,
    department: &Path,
    name: &str,
    scopes: &[String],
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    // Every scope must read, before anything is stored.
    let scopes: Vec<String> = scopes
        .iter()
        .map(|s| {
            radgate_domain::authz::Scope::parse(s.trim(), &dept)
                .map(|s| s.code())
                .map_err(|e| anyhow::anyhow!("--scopes: {e}"))
        })
        .collect::<Result<_>>()?;
    let key = new_secret();
    load::runtime()?.block_on(async {
        target
            .open()
            .await?
            .put_api_key(&sha256_hex(&key), name, &scopes, chrono::Utc::now())
            .await?;
        eprintln!(
            "API key `{name}` with scopes {} saved; it is shown once:",
            scopes.join(",")
        );
        println!("{key}");
        Ok(())
    })
}
