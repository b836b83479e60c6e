//! What every request handler shares.

use std::sync::Arc;

use radgate_domain::{Department, Policy};
use radgate_store::Store;

use crate::auth::Throttle;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub policy: Arc<Policy>,
    pub department: Arc<Department>,
    pub metrics: Arc<Metrics>,
    pub throttle: Arc<Throttle>,
    /// Password checks on a few threads of their own (`auth::hash_permits`); logins
    /// beyond them get 429.
    pub passwords: Arc<crate::auth::PasswordChecks>,
    /// A session unused this long ends, whatever its absolute expiry.
    pub session_idle: chrono::Duration,
    /// Marks the session cookie `Secure`; on when radgate is served over TLS.
    pub secure_cookies: bool,
    /// Where results go, when configured.
    pub ris: Option<Arc<crate::outbox::RisTarget>>,
    /// Tells open worklist screens that work changed.
    pub changes: Arc<crate::ui::Changes>,
    /// The worklist filters' choices, reused for a while.
    pub facets: Arc<crate::ui::Facets>,
    /// The audit viewer's last walk of the chain.
    pub chain_check: Arc<crate::ui::ChainCheck>,
    /// The department's image viewer, with `{study_uid}` and `{accession}` filled in per
    /// study (e.g. OHIF's `/viewer?StudyInstanceUIDs={study_uid}`).
    pub viewer_url: Option<String>,
    /// Reads final report texts for AI monitoring's truth.
    pub labeller: Arc<crate::labelling::Labeller>,
    /// The department's simulation parameters (policy replay's minutes), when it has them.
    pub costs: Option<Arc<radgate_sim::SimConfig>>,
    /// Outbox destinations owed radgate's DICOM SR of each AI result clinicians may see.
    pub sr_to: Arc<[String]>,
    /// Whether routed studies owed to AI applications become UPS work items (AIW-I).
    pub ups: bool,
    /// Where received instances are filed, when the DICOM receiver runs (STOW-RS too).
    pub dicom_storage: Option<std::path::PathBuf>,
    /// When received studies may next be complete, for the completer to wake then.
    pub wakeups: Arc<crate::dicom::Wakeups>,
    /// Wakes the UPS-RS event channels when a work item changed.
    pub ups_events: Arc<tokio::sync::Notify>,
}
