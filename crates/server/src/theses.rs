//! Thesis milestones over HTTP: the supervision team or the programme's staff record
//! that the work plan was handed in or the mid-term held; the domain's `thesis` says
//! where the milestones stand.

use axum::extract::{Path, State};
use chrono::Utc;
use radgate_domain::authz;
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

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
