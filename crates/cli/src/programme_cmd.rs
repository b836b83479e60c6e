//! `radgate programme progress|cohort|sample`: programme monitoring from the command line.
//! Like every database command, for operators who hold the database itself; the HTTP API
//! applies the per-person privacy rules.

use std::path::Path;

use anyhow::{Result, bail};
use chrono::{NaiveDate, Utc};
use radgate_domain::Department;
use radgate_domain::ids::ProfessionalId;
use radgate_domain::portfolio::Assessment;
use radgate_domain::programme::{self, Programme, Progress, ProgressStatus};
use radgate_store::Store;

use crate::Format;
use crate::load;
use crate::serve_cmd::Target;

fn programme_of<'a>(dept: &'a Department, id: &str) -> Result<&'a Programme> {
    match dept.programme(id) {
        Some(p) => Ok(p),
        None => {
            let known: Vec<&str> = dept.programmes.iter().map(|p| p.id.as_str()).collect();
            bail!("no programme `{id}` (known: {})", known.join(", "))
        }
    }
}

async fn assessments_of(
    store: &Store,
    dept: &Department,
    programme: &Programme,
) -> Result<Vec<(ProfessionalId, Vec<Assessment>)>> {
    let mut out = Vec::new();
    for t in dept.trainees.iter().filter(|t| t.programme == programme.id) {
        out.push((
            t.person.clone(),
            store.portfolio(&t.person).await?.assessments,
        ));
    }
    Ok(out)
}

pub fn progress(
    target: Target,
    department: &Path,
    person: &str,
    on: Option<NaiveDate>,
    format: Format,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let Some(trainee) = dept.trainees.iter().find(|t| t.person.as_str() == person) else {
        bail!(
            "`{person}` is not a trainee of any programme in {}",
            department.display()
        );
    };
    let programme = programme_of(&dept, &trainee.programme)?;
    let today = on.unwrap_or_else(|| Utc::now().date_naive());
    let assessments = load::runtime()?.block_on(async {
        anyhow::Ok(
            target
                .open()
                .await?
                .portfolio(&trainee.person)
                .await?
                .assessments,
        )
    })?;
    let p = programme::progress(trainee, programme, &assessments, today);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&p)?),
        Format::Text => print!("{}", progress_text(&p, true)),
    }
    Ok(())
}

pub fn cohort(
    target: Target,
    department: &Path,
    id: &str,
    on: Option<NaiveDate>,
    format: Format,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let programme = programme_of(&dept, id)?;
    let today = on.unwrap_or_else(|| Utc::now().date_naive());
    let all = load::runtime()?.block_on(async {
        let store = target.open().await?;
        assessments_of(&store, &dept, programme).await
    })?;
    let view = programme::cohort(
        programme,
        &dept.trainees,
        |who| {
            all.iter()
                .find(|(p, _)| p == who)
                .map(|(_, a)| a.clone())
                .unwrap_or_default()
        },
        today,
    );
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&view)?),
        Format::Text => {
            println!("{} on {today}: {} trainee(s)", programme.name, view.len());
            for p in &view {
                print!("{}", progress_text(p, false));
            }
        }
    }
    Ok(())
}

pub fn sample(
    target: Target,
    department: &Path,
    id: &str,
    fraction: Option<f64>,
    seed: u64,
    format: Format,
) -> Result<()> {
    let (dept, _) = load::department(department)?;
    let programme = programme_of(&dept, id)?;
    let fraction = fraction.unwrap_or(programme.review_fraction);
    if !(0.0..=1.0).contains(&fraction) {
        bail!("--fraction must be between 0 and 1, got {fraction}");
    }
    let all: Vec<Assessment> = load::runtime()?
        .block_on(async {
            let store = target.open().await?;
            assessments_of(&store, &dept, programme).await
        })?
        .into_iter()
        .flat_map(|(_, a)| a)
        .collect();
    let drawn = programme::sample(&all, fraction, seed);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&drawn)?),
        Format::Text => {
            println!(
                "{}: {} of the confirmed assessments (fraction {fraction}, seed {seed})",
                programme.id,
                drawn.len()
            );
            for a in drawn {
                println!(
                    "  {}  {}  {}  assessor {}  {}",
                    a.date, a.id, a.assessee, a.assessor, a.task
                );
            }
        }
    }
    Ok(())
}

/// Matches a placement round from the rankings in the database, stores the result (the
/// later rounds' variety rule reads it) and prints it.
pub fn match_round(
    target: Target,
    department: &Path,
    id: &str,
    round: &str,
    format: Format,
) -> Result<()> {
    use radgate_domain::placement;
    let (dept, _) = load::department(department)?;
    let programme = programme_of(&dept, id)?;
    let round = placement::check_round(round).map_err(|e| anyhow::anyhow!("--round: {e}"))?;
    let outcome = load::runtime()?.block_on(async {
        let store = target.open().await?;
        let rankings = store.rankings(&programme.id, round).await?;
        let history = store.placements_before(&programme.id, round).await?;
        let outcome = placement::match_round(&dept, programme, &rankings, &history)?;
        store
            .record_round(&programme.id, round, &outcome.placed, "cli", Utc::now())
            .await?;
        anyhow::Ok(outcome)
    })?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        Format::Text => {
            let s = &outcome.shares;
            println!(
                "{} round {round} (seed {}): {} trainees; {:.0}% first choice, {:.0}% within their top three, {:.0}% unmatched",
                programme.id,
                outcome.seed,
                s.trainees,
                100.0 * s.first_choice,
                100.0 * s.top_three,
                100.0 * s.unmatched
            );
            for p in &outcome.placed {
                println!(
                    "  {:<14} {:<16} choice {}  medical {}  technical {}{}",
                    p.trainee.as_str(),
                    p.placement,
                    p.choice,
                    p.medical_supervisor,
                    p.technical_supervisor.as_deref().unwrap_or("-"),
                    if p.technical_assigned {
                        " (assigned)"
                    } else {
                        ""
                    }
                );
            }
            for t in &outcome.unmatched {
                println!("  {:<14} unmatched", t.as_str());
            }
            for e in outcome.excluded.iter().filter(|e| e.cost_a_claim) {
                println!("  {}: not {} ({})", e.trainee, e.placement, e.reason);
            }
        }
    }
    Ok(())
}

fn progress_text(p: &Progress, detail: bool) -> String {
    let status = match p.status {
        ProgressStatus::NotStarted => "not started",
        ProgressStatus::OnTrack => "on track",
        ProgressStatus::Behind => "BEHIND",
        ProgressStatus::Complete => "complete",
    };
    let mut s = format!(
        "{} ({}, counting {} to {}): {status}, {} of {} assessments\n",
        p.person, p.programme, p.period_from, p.period_until, p.total.have, p.total.need
    );
    if detail {
        for c in p.per_domain.iter().chain(&p.per_placement) {
            s += &format!(
                "  {:<20} {:>3} of {:<3} ({} due by now)\n",
                c.name, c.have, c.need, c.due_by_now
            );
        }
    }
    for g in &p.gaps {
        s += &format!("  gap: {g}\n");
    }
    s
}
