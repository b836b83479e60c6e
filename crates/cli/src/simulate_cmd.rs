//! `radgate simulate`.

use std::path::Path;

use anyhow::Result;
use radgate_sim::{SimConfig, SimReport, simulate as run};

use crate::Format;
use crate::load::{self, Reported};

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

fn print(report: &SimReport, format: Format) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Text => print!("{}", report.to_text()),
    }
    Ok(())
}
