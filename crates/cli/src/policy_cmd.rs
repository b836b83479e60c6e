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

/// `radgate policy replay`: the period's studies through the new policy, compared with
/// what was decided; progress on stderr; nothing is written.
pub fn replay(
    target: crate::serve_cmd::Target,
    policy_path: &Path,
    department: &Path,
    (from, to): (chrono::NaiveDate, chrono::NaiveDate),
    as_live: &[String],
    format: Format,
) -> Result<()> {
    if to < from {
        bail!("--to ({to}) is before --from ({from})");
    }
    let (dept, dept_text) = load::department(department)?;
    let as_live = as_live
        .iter()
        .map(|a| match dept.ai_application(a) {
            Some(app) => Ok(app.id.clone()),
            None => bail!(
                "--as-live: no AI application `{a}` in the register of {}",
                department.display()
            ),
        })
        .collect::<Result<Vec<_>>>()?;
    let text = load::read(policy_path)?;
    // Minutes need the department's simulation parameters; without them, items only.
    let costs = radgate_sim::SimConfig::parse(&dept_text, &dept).ok();
    let started = std::time::Instant::now();
    let replay = load::runtime()?.block_on(async {
        let store = target.open().await?;
        let policy = radgate_server::replay::checked(&store, &text, &dept, &as_live)
            .await?
            .map_err(|problems| {
                for p in &problems {
                    eprintln!("{}: {p}", policy_path.display());
                }
                anyhow::Error::from(Reported)
            })?;
        let mut last = std::time::Instant::now();
        let r = radgate_server::replay::run(
            &store,
            &policy,
            &dept,
            costs.as_ref(),
            (from, to),
            &as_live,
            |n| {
                if last.elapsed() >= std::time::Duration::from_secs(2) {
                    eprintln!("replayed {n} studies");
                    last = std::time::Instant::now();
                }
            },
        )
        .await?;
        anyhow::Ok(r)
    })?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&replay)?),
        Format::Text => print!("{}", replay_text(&replay, from, to, started.elapsed())),
    }
    Ok(())
}

fn replay_text(
    r: &radgate_domain::replay::Replay,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    took: std::time::Duration,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Replay of {} studies acquired {from} to {to} ({:.1} s): policy {} against {}",
        r.studies,
        took.as_secs_f64(),
        r.policy_new,
        if r.policies_in_force.is_empty() {
            "nothing".to_string()
        } else {
            r.policies_in_force.join(", ")
        }
    );
    if !r.as_live.is_empty() {
        let live: Vec<&str> = r.as_live.iter().map(|a| a.as_str()).collect();
        let _ = writeln!(s, "treated as live: {}", live.join(", "));
    }
    let _ = writeln!(s, "work would change for {} studies", r.changed);
    let _ = writeln!(s, "\npathway in force -> new pathway");
    for t in &r.transitions {
        let mark = if t.from == t.to { " " } else { "*" };
        let _ = writeln!(s, " {mark} {:>8}  {} -> {}", t.studies, t.from, t.to);
    }
    let _ = writeln!(s, "\nnew policy's rules");
    for c in &r.rules_new {
        let _ = writeln!(
            s,
            "   {:>8}  {}",
            c.studies,
            c.rule.as_deref().unwrap_or("(default)")
        );
    }
    let w = &r.radiologist;
    let _ = writeln!(
        s,
        "\nradiologist work items: {:.1} in force, {:.1} new ({:+.1})",
        w.items_in_force,
        w.items_new,
        w.items_new - w.items_in_force
    );
    match (w.minutes_in_force, w.minutes_new) {
        (Some(a), Some(b)) => {
            let _ = writeln!(
                s,
                "radiologist minutes: {:.0} in force, {:.0} new ({:+.0}, {:+.1}%)",
                a,
                b,
                b - a,
                if a > 0.0 { 100.0 * (b - a) / a } else { 0.0 }
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "radiologist minutes: not known (the department has no simulation parameters for every procedure)"
            );
        }
    }
    let a = &r.sent_away;
    let _ = writeln!(
        s,
        "\nsent away from a radiologist: {} studies ({} with a final report, {} of them with a finding); brought to one: {}",
        a.studies, a.reported, a.with_findings, a.brought_back
    );
    for f in &a.findings {
        let _ = writeln!(s, "   {:>8}  {}", f.studies, f.finding.as_str());
    }
    if let Some(e) = &a.missed_estimate {
        let _ = writeln!(
            s,
            "missed-finding estimate: {:.1} studies (Wilson 95% {:.1} to {:.1})",
            e.estimate, e.lower, e.upper
        );
    }
    s
}
