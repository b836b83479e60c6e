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
    /// Marks the session cookie `Secure`; on when radgate is served over TLS.
    pub secure_cookies: bool,
    /// Where results go, when configured.
    pub ris: Option<Arc<crate::outbox::RisTarget>>,
}
