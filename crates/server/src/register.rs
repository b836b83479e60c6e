//! The AI register over HTTP: the entries as they stand (status in force, warnings), each
//! entry's status history, and the RAIO's status changes, each an audit event.

use axum::extract::{Path, State};
use chrono::Utc;
use radgate_domain::ai::{
    AiApplication, AiStatus, RegisterWarning, StatusChange, StatusChangeError,
};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

/// A register entry as it stands today.
#[derive(Serialize)]
pub struct Entry {
    /// The status in force: the latest change, else the department file's.
    pub(crate) status: AiStatus,
    pub(crate) warnings: Vec<RegisterWarning>,
    pub(crate) entry: AiApplication,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) history: Option<Vec<StatusChange>>,
}

fn entry(app: AiApplication, history: Option<Vec<StatusChange>>) -> Entry {
    Entry {
        status: app.status,
        warnings: app.register_warnings(Utc::now().date_naive()),
        entry: app,
        history,
    }
}

/// The AI results a viewer may see: a shadow application's only by the RAIO
/// (`ai::visible_results`, with the register's status in force).
pub(crate) async fn visible(
    app: &App,
    results: Vec<radgate_domain::ai::AiResult>,
    keeps_register: bool,
) -> Result<Vec<radgate_domain::ai::AiResult>, Problem> {
    let changes = app.store.latest_status_changes().await?;
    Ok(radgate_domain::ai::visible_results(
        results,
        &app.department.ai_applications,
        &changes,
        keeps_register,
    ))
}

fn registered<'a>(app: &'a App, id: &str) -> Result<&'a AiApplication, Problem> {
    app.department
        .ai_application(id)
        .ok_or_else(|| Problem::not_found(format!("no AI application `{id}` in the register")))
}

pub async fn list(
    State(app): State<App>,
    caller: Caller,
) -> Result<axum::Json<Vec<Entry>>, Problem> {
    caller.ai_overseer()?;
    let changes = app.store.latest_status_changes().await?;
    Ok(axum::Json(
        app.department
            .ai_applications
            .iter()
            .map(|a| entry(a.in_force(&changes), None))
            .collect(),
    ))
}

pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Entry>, Problem> {
    caller.ai_overseer()?;
    let declared = registered(&app, &id)?;
    let history = app.store.status_history(&id).await?;
    let current = declared.in_force(history.last().map_or(&[][..], std::slice::from_ref));
    Ok(axum::Json(entry(current, Some(history))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStatus {
    pub(crate) status: String,
    pub(crate) reason: String,
}

/// The RAIO changes an application's status; routing follows at once (a suspended or
/// retired application's results are not used).
pub async fn change(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body<NewStatus>,
) -> Result<axum::Json<StatusChange>, Problem> {
    let person = caller.register_keeper(&app.department)?;
    let declared = registered(&app, &id)?.clone();
    let Some(to) = AiStatus::parse(&b.status) else {
        return Err(Problem::invalid(
            "status",
            format!(
                "status must be shadow, pilot, production, suspended or retired, not `{}`",
                b.status
            ),
        ));
    };
    let c = app
        .store
        .change_ai_status(
            &declared,
            to,
            &b.reason,
            person.professional.as_str(),
            Utc::now(),
        )
        .await?
        .map_err(|e| match e {
            StatusChangeError::NoReason => Problem::invalid("reason", e.to_string()),
            StatusChangeError::Unchanged(_) | StatusChangeError::Retired => {
                Problem::conflict(e.to_string())
            }
        })?;
    Ok(axum::Json(c))
}
