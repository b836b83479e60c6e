//! The example department and policy, built into the binary for `radgate demo`.

use anyhow::{Result, anyhow, bail};
use radgate_domain::policy::check;
use radgate_domain::{Department, Policy};
use radgate_sim::SimConfig;

pub const DEPARTMENT: &str = include_str!("../../../examples/department.toml");
pub const POLICY: &str = include_str!("../../../examples/policy.toml");

/// The bundled examples; the test suite checks them, so a failure here is a build defect.
pub fn load() -> Result<(Department, Policy, SimConfig)> {
    let dept = Department::parse(DEPARTMENT).map_err(|e| anyhow!("bundled department: {e}"))?;
    let policy = Policy::parse(POLICY).map_err(|e| anyhow!("bundled policy: {e}"))?;
    if let Some(p) = check(&policy, Some(&dept)).first() {
        bail!("bundled policy: {p}");
    }
    let cfg =
        SimConfig::parse(DEPARTMENT, &dept).map_err(|e| anyhow!("bundled simulation: {e}"))?;
    Ok((dept, policy, cfg))
}
