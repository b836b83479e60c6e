//! `radgate pilot declare|report|decide`: AI pilots with their expected effects declared
//! before the start, the report of declared against measured, and the decision.

use std::path::Path;

use anyhow::{Result, bail};
use chrono::Utc;
use radgate_domain::ids::ProfessionalId;
use radgate_domain::pilot::{Declaration, Outcome, Pilot, PilotError, PilotReport};
use radgate_domain::{Department, authz};

use crate::Format;
use crate::load;
use crate::serve_cmd::Target;

fn raio(dept: &Department, by: &str) -> Result<()> {
    let id = ProfessionalId::parse(by).map_err(|e| anyhow::anyhow!("--by: {e}"))?;
    if !authz::keeps_ai_register(&id, dept) {
        bail!("{by} is not the department's RAIO: only the RAIO declares and decides pilots");
    }
    Ok(())
}

/// Declares the pilot in `file` (the JSON the API takes).
pub fn declare(target: Target, department: &Path, file: &Path, by: &str) -> Result<()> {
    let (dept, _) = load::department(department)?;
    raio(&dept, by)?;
    let text = load::read(file)?;
    let d: Declaration = load::json(file, &text)?;
    let pilot = Pilot::declare(d, &dept, by, Utc::now())
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let stored = load::runtime()?
        .block_on(async { anyhow::Ok(target.open().await?.declare_pilot(&pilot).await?) })?;
    if !stored {
        bail!("{}", PilotError::AlreadyDeclared(pilot.id));
    }
    println!(
        "pilot {} of {} declared: {} to {}, baseline {} to {}, {} expected effect(s)",
        pilot.id,
        pilot.app,
        pilot.start,
        pilot.end,
        pilot.baseline_start,
        pilot.baseline_end,
        pilot.expected.len()
    );
    Ok(())
}

pub fn report(target: Target, department: &Path, id: &str, format: Format) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let report = load::runtime()?.block_on(async {
        let store = target.open().await?;
        let Some((pilot, decision)) = store.pilot(id).await? else {
            bail!("no pilot `{id}`");
        };
        let Some(measured) = store.pilot_measured(&pilot, &dept).await? else {
            bail!(
                "pilot `{id}`: application `{}` is not in the register",
                pilot.app
            );
        };
        anyhow::Ok(PilotReport::of(pilot, measured, decision))
    })?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", report.render()),
    }
    Ok(())
}

pub fn decide(
    target: Target,
    department: &Path,
    id: &str,
    outcome: &str,
    reason: &str,
    by: &str,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    raio(&dept, by)?;
    let Some(outcome) = Outcome::parse(outcome) else {
        bail!("--outcome is scale_up or stop, not `{outcome}`");
    };
    load::runtime()?.block_on(async {
        let store = target.open().await?;
        let Some((pilot, existing)) = store.pilot(id).await? else {
            bail!("no pilot `{id}`");
        };
        let decision = pilot.decide(existing.as_ref(), outcome, reason, by, Utc::now())?;
        let Some(entry) = dept.ai_application(pilot.app.as_str()) else {
            bail!(
                "pilot `{id}`: application `{}` is not in the register",
                pilot.app
            );
        };
        let Some(change) = store.decide_pilot(&pilot, entry, &decision).await? else {
            bail!("pilot `{id}` was decided meanwhile");
        };
        println!(
            "pilot {id}: {} ({})",
            decision.outcome.code(),
            decision.reason
        );
        if let Some(c) = change {
            println!("{}: {} -> {}", c.app, c.from.code(), c.to.code());
        }
        Ok(())
    })
}
