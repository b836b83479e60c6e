//! Placement rounds over HTTP: a trainee ranks the placements for a round; programme
//! staff match the round (the domain's `placement::match_round`), which stores the
//! result for the later rounds' variety rule.

use axum::extract::{Path, State};
use chrono::Utc;
use radgate_domain::authz;
use radgate_domain::placement::{self, RoundOutcome, RoundRanking, match_round};
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

fn round_id(raw: &str) -> Result<&str, Problem> {
    placement::check_round(raw).map_err(|e| Problem::invalid(e.field(), e.to_string()))
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
    placement::check_ranking(&app.department, &b.ranked)
        .map_err(|e| Problem::invalid(e.field(), e.to_string()))?;
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
