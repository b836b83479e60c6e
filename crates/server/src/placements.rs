//! Placement rounds over HTTP: a trainee ranks the placements for a round; programme
//! staff match the round (the domain's `placement::match_round`), which stores the
//! result for the later rounds' variety rule.

use axum::extract::{Path, State};
use chrono::Utc;
use radgate_domain::authz;
use radgate_domain::placement::{RoundOutcome, RoundRanking, match_round};
use radgate_domain::programme::Programme;
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ranked {
    pub(crate) ranked: Vec<String>,
}

/// A round id: what sorts rounds (`2026-1` before `2026-2`), so letters, digits, `.`,
/// `_` and `-`, at most 32.
pub(crate) fn round_id(raw: &str) -> Result<&str, Problem> {
    let ok = !raw.is_empty()
        && raw.len() <= 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(raw)
    } else {
        Err(Problem::invalid(
            "round",
            "a round id is 1 to 32 letters, digits, `.`, `_` or `-`",
        ))
    }
}

fn programme<'a>(app: &'a App, id: &str) -> Result<&'a Programme, Problem> {
    app.department
        .programme(id)
        .ok_or_else(|| Problem::not_found(format!("no programme `{id}`")))
}

/// The caller's own ranking for the round; ranking again replaces it.
pub async fn rank(
    State(app): State<App>,
    caller: Caller,
    Path((id, round)): Path<(String, String)>,
    Body(b): Body<Ranked>,
) -> Result<axum::Json<RoundRanking>, Problem> {
    let person = caller.person()?;
    let round = round_id(&round)?;
    let p = programme(&app, &id)?;
    if !authz::may_rank_placements(&person.professional, p, &app.department) {
        return Err(Problem::forbidden(format!(
            "only trainees of `{id}` rank its placements"
        )));
    }
    for (i, r) in b.ranked.iter().enumerate() {
        if app.department.placements.iter().all(|x| &x.id != r) {
            return Err(Problem::invalid(
                format!("ranked[{i}]"),
                format!("`{r}` is not a placement of the department"),
            ));
        }
        if b.ranked[..i].contains(r) {
            return Err(Problem::invalid(
                format!("ranked[{i}]"),
                format!("`{r}` is ranked twice"),
            ));
        }
    }
    let ranking = RoundRanking {
        trainee: person.professional.clone(),
        ranked: b.ranked,
    };
    app.store
        .put_ranking(&p.id, round, &ranking, Utc::now())
        .await?;
    Ok(axum::Json(ranking))
}

/// The caller's ranking for the round, if they made one.
pub(crate) async fn own_ranking(
    app: &App,
    programme: &str,
    round: &str,
    who: &radgate_domain::ids::ProfessionalId,
) -> Result<Option<RoundRanking>, Problem> {
    Ok(app
        .store
        .rankings(programme, round)
        .await?
        .into_iter()
        .find(|r| &r.trainee == who))
}

/// Programme staff match the round: the stable matching of its rankings under the
/// programme's variety rule and seed, stored (replacing an earlier run of the round).
pub async fn run(
    State(app): State<App>,
    caller: Caller,
    Path((id, round)): Path<(String, String)>,
) -> Result<axum::Json<RoundOutcome>, Problem> {
    let person = caller.person()?;
    let round = round_id(&round)?;
    let p = programme(&app, &id)?;
    if !authz::may_monitor_programme(&person.professional, p) {
        return Err(Problem::forbidden(format!(
            "only the staff of `{id}` match its placements"
        )));
    }
    let rankings = app.store.rankings(&p.id, round).await?;
    let history = app.store.placements_before(&p.id, round).await?;
    let outcome = match_round(&app.department, p, &rankings, &history)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    app.store
        .record_round(
            &p.id,
            round,
            &outcome.placed,
            person.professional.as_str(),
            Utc::now(),
        )
        .await?;
    Ok(axum::Json(outcome))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMilestone {
    pub(crate) kind: radgate_domain::thesis::MilestoneKind,
    pub(crate) on: chrono::NaiveDate,
}

/// A thesis milestone happened (the work plan handed in, the mid-term held): recorded by
/// a member of the supervision team or the programme's staff, on a day between the start
/// and today.
pub async fn record_milestone(
    State(app): State<App>,
    caller: Caller,
    Path(trainee): Path<String>,
    Body(m): Body<NewMilestone>,
) -> Result<axum::Json<Vec<radgate_domain::thesis::Milestone>>, Problem> {
    let person = caller.person()?;
    let Some(plan) = app
        .department
        .theses
        .iter()
        .find(|t| t.trainee.as_str() == trainee)
    else {
        return Err(Problem::not_found(format!("no thesis of `{trainee}`")));
    };
    if !authz::may_record_thesis(&person.professional, plan, &app.department) {
        return Err(Problem::forbidden(
            "a thesis's milestones are recorded by its supervisors and the programme's staff",
        ));
    }
    let today = Utc::now().date_naive();
    if m.on < plan.started || m.on > today {
        return Err(Problem::invalid(
            "on",
            format!(
                "a milestone happens between the start ({}) and today",
                plan.started
            ),
        ));
    }
    app.store
        .record_milestone(
            &plan.trainee,
            m.kind,
            m.on,
            person.professional.as_str(),
            Utc::now(),
        )
        .await?;
    let (plan_on, mid_on) = app.store.milestones_of(&plan.trainee).await?;
    Ok(axum::Json(
        radgate_domain::thesis::milestones(&plan.with(plan_on, mid_on), today).to_vec(),
    ))
}
