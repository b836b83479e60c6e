//! AI pilots over HTTP: the RAIO declares a pilot before it starts and decides it at the
//! end; radiologists read the report of declared against measured.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use radgate_domain::pilot::{Declaration, Outcome, Pilot, PilotDecision, PilotError, PilotReport};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

fn problem(e: PilotError) -> Problem {
    match e {
        PilotError::Invalid { field, reason } => Problem::invalid(field, reason),
        PilotError::AlreadyDeclared(_) | PilotError::AlreadyDecided(..) => {
            Problem::conflict(e.to_string())
        }
        PilotError::NotStarted(..) => Problem::conflict(e.to_string()),
    }
}

pub async fn declare(
    State(app): State<App>,
    caller: Caller,
    Body(d): Body<Declaration>,
) -> Result<(StatusCode, axum::Json<Pilot>), Problem> {
    let by = caller
        .register_keeper(&app.department)?
        .professional
        .to_string();
    let pilot = Pilot::declare(d, &app.department, &by, Utc::now()).map_err(problem)?;
    if !app.store.declare_pilot(&pilot).await? {
        return Err(problem(PilotError::AlreadyDeclared(pilot.id)));
    }
    Ok((StatusCode::CREATED, axum::Json(pilot)))
}

#[derive(Serialize)]
pub struct Listed {
    pilot: Pilot,
    decision: Option<PilotDecision>,
}

pub async fn list(
    State(app): State<App>,
    caller: Caller,
) -> Result<axum::Json<Vec<Listed>>, Problem> {
    caller.ai_overseer()?;
    Ok(axum::Json(
        app.store
            .pilots()
            .await?
            .into_iter()
            .map(|(pilot, decision)| Listed { pilot, decision })
            .collect(),
    ))
}

async fn load(app: &App, id: &str) -> Result<(Pilot, Option<PilotDecision>), Problem> {
    app.store
        .pilot(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no pilot `{id}`")))
}

pub async fn report(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<PilotReport>, Problem> {
    caller.ai_overseer()?;
    let (pilot, decision) = load(&app, &id).await?;
    let Some(measured) = app.store.pilot_measured(&pilot, &app.department).await? else {
        return Err(Problem::conflict(format!(
            "pilot `{id}`: application `{}` is no longer in the register",
            pilot.app
        )));
    };
    Ok(axum::Json(PilotReport::of(pilot, measured, decision)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    pub(crate) outcome: String,
    pub(crate) reason: String,
}

#[derive(Serialize)]
pub struct Decided {
    decision: PilotDecision,
    /// The register status change that followed, if the status moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_change: Option<radgate_domain::ai::StatusChange>,
}

pub async fn decide(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body<Decide>,
) -> Result<axum::Json<Decided>, Problem> {
    let by = caller
        .register_keeper(&app.department)?
        .professional
        .to_string();
    let Some(outcome) = Outcome::parse(&b.outcome) else {
        return Err(Problem::invalid(
            "outcome",
            format!("outcome is scale_up or stop, not `{}`", b.outcome),
        ));
    };
    let (pilot, existing) = load(&app, &id).await?;
    let decision = pilot
        .decide(existing.as_ref(), outcome, &b.reason, &by, Utc::now())
        .map_err(problem)?;
    let Some(entry) = app.department.ai_application(pilot.app.as_str()) else {
        return Err(Problem::conflict(format!(
            "pilot `{id}`: application `{}` is no longer in the register",
            pilot.app
        )));
    };
    match app.store.decide_pilot(&pilot, entry, &decision).await? {
        None => Err(problem(PilotError::AlreadyDecided(
            id,
            "decided meanwhile".into(),
        ))),
        Some(status_change) => Ok(axum::Json(Decided {
            decision,
            status_change,
        })),
    }
}
