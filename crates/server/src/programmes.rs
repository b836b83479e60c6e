//! Programme monitoring over HTTP: a trainee's progress (private like the rest of their
//! portfolio), and for programme staff the cohort view and the exam committee's sample.

use axum::extract::{Path, State};
use chrono::Utc;
use radgate_domain::authz;
use radgate_domain::portfolio::Assessment;
use radgate_domain::programme::{self, Programme, Progress};
use serde::{Deserialize, Serialize};

use radgate_store::User;

use crate::auth::Caller;
use crate::extract::Params;
use crate::problem::Problem;
use crate::state::App;

pub async fn progress(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Progress>, Problem> {
    let person = caller.person()?;
    let today = Utc::now().date_naive();
    let subject = crate::assessments::viewable_subject(&app, &person.professional, &id)?;
    let Some(trainee) = app.department.trainee(&subject.id) else {
        return Err(Problem::not_found(format!(
            "`{id}` is not a trainee of any programme"
        )));
    };
    let programme = app
        .department
        .programme(&trainee.programme)
        .expect("the department file names only known programmes");
    let assessments = app.store.portfolio(&subject.id).await?.assessments;
    Ok(axum::Json(programme::progress(
        trainee,
        programme,
        &assessments,
        today,
    )))
}

fn staff_programme<'a>(app: &'a App, person: &User, id: &str) -> Result<&'a Programme, Problem> {
    let Some(p) = app.department.programme(id) else {
        return Err(Problem::not_found(format!("no programme `{id}`")));
    };
    if !authz::may_monitor_programme(&person.professional, p) {
        return Err(Problem::forbidden(
            "the cohort and its review sample are for the programme's staff",
        ));
    }
    Ok(p)
}

pub async fn cohort(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<Progress>>, Problem> {
    let programme = staff_programme(&app, caller.person()?, &id)?;
    let mut by_person = Vec::new();
    for t in app
        .department
        .trainees
        .iter()
        .filter(|t| t.programme == programme.id)
    {
        by_person.push((
            t.person.clone(),
            app.store.portfolio(&t.person).await?.assessments,
        ));
    }
    Ok(axum::Json(programme::cohort(
        programme,
        &app.department.trainees,
        |who| {
            by_person
                .iter()
                .find(|(p, _)| p == who)
                .map(|(_, a)| a.clone())
                .unwrap_or_default()
        },
        Utc::now().date_naive(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleQuery {
    pub(crate) fraction: Option<f64>,
    pub(crate) seed: Option<u64>,
}

#[derive(Serialize)]
pub struct Sample {
    pub(crate) programme: String,
    pub(crate) fraction: f64,
    pub(crate) seed: u64,
    /// Confirmed assessments of the programme's trainees the sample was drawn from.
    pub(crate) population: usize,
    pub(crate) assessments: Vec<Assessment>,
}

/// The exam committee's sample: the programme's review fraction unless `fraction` is given,
/// and seed 1 unless `seed` is; both are echoed so the draw can be repeated.
pub async fn sample(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<SampleQuery>,
) -> Result<axum::Json<Sample>, Problem> {
    let programme = staff_programme(&app, caller.person()?, &id)?;
    let fraction = q.fraction.unwrap_or(programme.review_fraction);
    if !(0.0..=1.0).contains(&fraction) {
        return Err(Problem::invalid(
            "fraction",
            format!("fraction must be between 0 and 1, got {fraction}"),
        ));
    }
    let seed = q.seed.unwrap_or(1);
    let mut all = Vec::new();
    for t in app
        .department
        .trainees
        .iter()
        .filter(|t| t.programme == programme.id)
    {
        all.extend(app.store.portfolio(&t.person).await?.assessments);
    }
    let drawn = programme::sample(&all, fraction, seed);
    Ok(axum::Json(Sample {
        programme: programme.id.clone(),
        fraction,
        seed,
        population: all
            .iter()
            .filter(|a| a.status == radgate_domain::portfolio::AssessmentStatus::Confirmed)
            .count(),
        assessments: drawn.into_iter().cloned().collect(),
    }))
}
