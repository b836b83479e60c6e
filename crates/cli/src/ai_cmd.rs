//! `radgate ai check`: the AI register's warnings.

use std::path::Path;

use anyhow::Result;
use chrono::{NaiveDate, Utc};

use crate::Format;
use crate::load;

pub fn check(department: &Path, on: Option<NaiveDate>, format: Format) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let today = on.unwrap_or_else(|| Utc::now().date_naive());
    let report: Vec<_> = dept
        .ai_applications
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
                    println!("  - {w}");
                }
            }
        }
    }
    Ok(())
}
