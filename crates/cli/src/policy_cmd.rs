//! `radgate policy check` and `radgate policy explain`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use radgate_domain::study::RoutingCase;
use radgate_domain::{Decision, Policy};

use crate::Format;
use crate::load::{self, Reported};

/// Checks a policy and reports every problem in one pass: those of reading it, and the
/// semantic ones of every rule that read cleanly (shadowing, the department's catalog,
/// agreements and register), by line.
pub fn check(file: &Path, department: Option<&Path>) -> Result<()> {
    let text = load::read(file)?;
    let (policy, mut problems) = Policy::parse_partly(&text);
    let Some(policy) = policy else {
        load::report(file, &problems);
        return Err(Reported.into());
    };
    let dept = match load::department_for(file, &policy, department) {
        Some(d) => Some(load::department(&d)?.0),
        None => {
            eprintln!(
                "note: {}: no department given (--department or `department = ...`): task agreements and the AI register were not checked",
                file.display()
            );
            None
        }
    };
    problems.extend(radgate_domain::policy::check(&policy, dept.as_ref()));
    if !problems.is_empty() {
        problems.sort_by_key(|d| d.line);
        load::report(file, &problems);
        return Err(Reported.into());
    }
    println!(
        "{}: ok (policy {}, {} rules)",
        file.display(),
        policy.version,
        policy.rules.len()
    );
    Ok(())
}

pub fn explain(
    policy_file: &Path,
    study_file: &Path,
    department: Option<&Path>,
    at: Option<&str>,
    format: Format,
) -> Result<()> {
    let (policy, dept) = load::checked_policy(policy_file, department)?;
    let text = load::read(study_file)?;
    let case: RoutingCase = load::json(study_file, &text)?;
    if let Err(e) = case.validate() {
        bail!("{}: {e}", study_file.display());
    }
    let now = match at {
        None => case.evaluation_time(),
        Some("now") => Utc::now(),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .with_context(|| {
                format!("--at {t:?} is not an RFC 3339 time such as 2026-03-02T10:20:00Z")
            })?
            .with_timezone(&Utc),
    };
    // AI results mean what the register says, as in live routing: without the department
    // there is no register to read them by.
    let results = match (&dept, case.ai_results.is_empty()) {
        (_, true) => Vec::new(),
        (None, false) => bail!(
            "{}: AI results are read against the department's AI register; give --department or set `department` in the policy",
            study_file.display()
        ),
        (Some(d), false) => case
            .ai_results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                d.read_ai_result(r).map_err(|e| {
                    anyhow::anyhow!(
                        "{}: ai_results[{i}].{}: {e}",
                        study_file.display(),
                        e.field()
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let decision = policy.decide(&case.study, &results, now);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&decision)?),
        Format::Text => print!("{}", text_of(&decision, now)),
    }
    Ok(())
}

fn text_of(d: &Decision, now: DateTime<Utc>) -> String {
    let rule = d
        .rule
        .as_ref()
        .map_or("(policy default)".to_string(), |r| r.to_string());
    let flags = if d.flags.is_empty() {
        "-".to_string()
    } else {
        d.flags.join(", ")
    };
    let mut s = format!(
        "policy    {}\nrule      {rule}\npathway   {}\ntask      {}\npriority  {}\ndue       {} ({} min after acquisition)\nreaders   {}\nreview    {:.1}%\nflags     {flags}\nevaluated {}\n",
        d.policy_version,
        d.pathway,
        d.task,
        d.priority,
        d.due.format("%Y-%m-%d %H:%M UTC"),
        d.sla_minutes,
        d.readers,
        d.review_fraction * 100.0,
        now.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    if !d.reasons.is_empty() {
        s.push_str("why\n");
        for r in &d.reasons {
            s.push_str(&format!("  - {r}\n"));
        }
    }
    s.push_str(&format!("\n{}\n", d.explanation));
    s
}
