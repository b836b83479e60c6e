//! `radgate simulate` and, on the bundled example department, `radgate demo`.

use std::path::Path;

use anyhow::Result;
use radgate_domain::policy::check;
use radgate_domain::{Department, Policy};
use radgate_sim::{SimConfig, SimReport, simulate as run};

use crate::Format;
use crate::load::{self, Reported};

const DEMO_DEPARTMENT: &str = include_str!("../../../examples/department.toml");
const DEMO_POLICY: &str = include_str!("../../../examples/policy.toml");

pub fn simulate(
    department: &Path,
    policy: &Path,
    days: u32,
    seed: u64,
    format: Format,
) -> Result<()> {
    let (dept, text) = load::department(department)?;
    let (policy, _) = load::checked_policy(policy, Some(department))?;
    let cfg = SimConfig::parse(&text, &dept).map_err(|problems| {
        load::report(department, &problems.0);
        Reported
    })?;
    print(&run(&dept, &cfg, &policy, days, seed)?, format)
}

pub fn demo(days: u32, seed: u64, format: Format) -> Result<()> {
    // The bundled examples are checked by the test suite; a failure here is a build defect.
    let dept = Department::parse(DEMO_DEPARTMENT)
        .map_err(|e| anyhow::anyhow!("bundled department: {e}"))?;
    let policy = Policy::parse(DEMO_POLICY).map_err(|e| anyhow::anyhow!("bundled policy: {e}"))?;
    if let Some(p) = check(&policy, Some(&dept)).first() {
        anyhow::bail!("bundled policy: {p}");
    }
    let cfg = SimConfig::parse(DEMO_DEPARTMENT, &dept)
        .map_err(|e| anyhow::anyhow!("bundled simulation: {e}"))?;
    if matches!(format, Format::Text) {
        eprintln!(
            "radgate demo: simulating {days} days of {} under policy {} (seed {seed})",
            dept.name, policy.version
        );
    }
    print(&run(&dept, &cfg, &policy, days, seed)?, format)
}

fn print(report: &SimReport, format: Format) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Text => print!("{}", report.to_text()),
    }
    Ok(())
}
