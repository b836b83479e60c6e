//! `radgate ai check|list|status`: the AI register's warnings, the register as it stands,
//! and the RAIO's status changes.

use std::path::Path;

use anyhow::{Result, bail};
use chrono::{NaiveDate, Utc};
use radgate_domain::ai::{AiApplication, AiStatus};
use radgate_domain::{Department, authz};

use crate::Format;
use crate::load;
use crate::serve_cmd::Target;

/// The register's warnings as the department file declares it.
/// The register's warnings from the file alone. Exits 1 when an application in use has a
/// warning that is an error (expired CE certificate, production without CE marking),
/// unless `warn_only`.
pub fn check(
    department: &Path,
    on: Option<NaiveDate>,
    format: Format,
    warn_only: bool,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let errors = print_register(&dept, &dept.ai_applications, on, format)?;
    if errors > 0 && !warn_only {
        eprintln!(
            "{}: {errors} error(s) in the AI register of applications in use (--warn-only to report them without failing)",
            department.display()
        );
        return Err(load::Reported.into());
    }
    Ok(())
}

/// The register with each entry's status in force in the database.
pub fn list(
    target: Target,
    department: &Path,
    on: Option<NaiveDate>,
    format: Format,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let changes = load::runtime()?
        .block_on(async { anyhow::Ok(target.open().await?.latest_status_changes().await?) })?;
    let entries: Vec<AiApplication> = dept
        .ai_applications
        .iter()
        .map(|a| a.in_force(&changes))
        .collect();
    print_register(&dept, &entries, on, format).map(drop)
}

pub fn status(
    target: Target,
    department: &Path,
    app: &str,
    status: &str,
    reason: &str,
    by: &str,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let Some(entry) = dept.ai_application(app) else {
        bail!(
            "no AI application `{app}` in the register of {}",
            department.display()
        );
    };
    let Some(to) = AiStatus::parse(status) else {
        bail!("--status must be shadow, pilot, production, suspended or retired, not `{status}`");
    };
    let by_id =
        radgate_domain::ids::ProfessionalId::parse(by).map_err(|e| anyhow::anyhow!("--by: {e}"))?;
    if !authz::keeps_ai_register(&by_id, &dept) {
        bail!("{by} is not the department's RAIO: only the RAIO changes the AI register");
    }
    let change = load::runtime()?.block_on(async {
        let store = target.open().await?;
        anyhow::Ok(
            store
                .change_ai_status(entry, to, reason, by, Utc::now())
                .await?,
        )
    })?;
    match change {
        Ok(c) => {
            println!(
                "{}: {} -> {} ({})",
                c.app,
                c.from.code(),
                c.to.code(),
                c.reason
            );
            Ok(())
        }
        Err(e) => bail!("{app}: {e}"),
    }
}

/// Prints each entry with its warnings; returns how many are errors on entries in use.
fn print_register(
    dept: &Department,
    entries: &[AiApplication],
    on: Option<NaiveDate>,
    format: Format,
) -> Result<usize> {
    let today = on.unwrap_or_else(|| Utc::now().date_naive());
    let report: Vec<_> = entries
        .iter()
        .map(|a| (a, a.register_warnings(today)))
        .collect();
    match format {
        Format::Json => {
            let json: Vec<_> = report
                .iter()
                .map(|(a, w)| serde_json::json!({ "app": a.id.as_str(), "version": a.version, "status": a.status, "warnings": w }))
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Text => {
            println!("AI register of {} on {today}", dept.name);
            for (a, warnings) in &report {
                println!(
                    "{} {} ({}): {} warning(s)",
                    a.id,
                    a.version,
                    a.status.code(),
                    warnings.len()
                );
                for w in warnings {
                    let level = if w.is_error() && a.status.in_use() {
                        "error"
                    } else {
                        "warning"
                    };
                    println!("  - {level}: {w}");
                }
            }
        }
    }
    Ok(report
        .iter()
        .filter(|(a, _)| a.status.in_use())
        .map(|(_, w)| w.iter().filter(|w| w.is_error()).count())
        .sum())
}
