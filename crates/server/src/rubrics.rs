//! Rubric assessments over HTTP. The committee scores, deliberates and finalises; the
//! subject, their supervisors and programme staff may read; programme staff see how the
//! two assessors of a rubric agree.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use radgate_domain::assessor_agreement::{AgreementReport, ScorePair, agreement_report};
use radgate_domain::authz;
use radgate_domain::ids::ProfessionalId;
use radgate_domain::rubric::{CommitteeMember, Rubric, RubricAssessment, RubricError};
use radgate_store::{Inserted, User};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRubricAssessment {
    id: String,
    rubric: String,
    subject: ProfessionalId,
    title: String,
    committee: Vec<CommitteeMember>,
}

fn rule_problem(e: RubricError) -> Problem {
    match e {
        RubricError::NotOnCommittee(_) => Problem::forbidden(e.to_string()),
        RubricError::Final | RubricError::NoDeliberation | RubricError::Incomplete(_) => {
            Problem::conflict(e.to_string())
        }
        _ => Problem::invalid("rubric_assessment", e.to_string()),
    }
}

fn rubric<'a>(app: &'a App, id: &str) -> Result<&'a Rubric, Problem> {
    app.department
        .rubric(id)
        .ok_or_else(|| Problem::invalid("rubric", format!("no rubric `{id}` in the department")))
}

fn is_programme_staff(app: &App, who: &ProfessionalId) -> bool {
    app.department
        .programmes
        .iter()
        .any(|p| authz::may_monitor_programme(who, p))
}

/// Committee members or programme staff set an assessment up.
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Body(n): Body<NewRubricAssessment>,
) -> Result<(StatusCode, axum::Json<RubricAssessment>), Problem> {
    let person = caller.person()?;
    let r = rubric(&app, &n.rubric)?;
    for who in std::iter::once(&n.subject).chain(n.committee.iter().map(|m| &m.person)) {
        if app.department.professional(who.as_str()).is_none() {
            return Err(Problem::invalid(
                "committee",
                format!("`{who}` is not a professional of the department"),
            ));
        }
    }
    let a =
        RubricAssessment::new(n.id, r, n.subject, n.title, n.committee).map_err(rule_problem)?;
    if !a.on_committee(&person.professional) && !is_programme_staff(&app, &person.professional) {
        return Err(Problem::forbidden(
            "a rubric assessment is set up by its committee or by programme staff",
        ));
    }
    match app
        .store
        .create_rubric_assessment(&a, person.professional.as_str(), Utc::now())
        .await?
    {
        Inserted::Created => Ok((StatusCode::CREATED, axum::Json(a))),
        Inserted::Unchanged | Inserted::Changed => Ok((StatusCode::OK, axum::Json(a))),
        Inserted::Conflict => Err(Problem::conflict(format!(
            "rubric assessment `{}` exists with different content",
            a.id
        ))),
    }
}

fn may_read(app: &App, person: &User, a: &RubricAssessment) -> bool {
    a.on_committee(&person.professional)
        || app
            .department
            .professional(a.subject.as_str())
            .is_some_and(|s| {
                authz::may_view_portfolio(
                    &person.professional,
                    s,
                    &app.department,
                    Utc::now().date_naive(),
                )
            })
}

pub async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<RubricAssessment>, Problem> {
    let person = caller.person()?;
    let Some(a) = app.store.rubric_assessment(&id).await? else {
        return Err(Problem::not_found(format!("no rubric assessment `{id}`")));
    };
    if !may_read(&app, person, &a) {
        return Err(Problem::forbidden(
            "a rubric assessment is visible to its committee, its subject, their supervisors and programme staff",
        ));
    }
    Ok(axum::Json(a))
}

/// Applies a committee member's change through the domain, under the store's row lock.
async fn change(
    app: &App,
    person: &User,
    id: &str,
    what: serde_json::Value,
    f: impl FnOnce(&mut RubricAssessment, &Rubric) -> Result<(), RubricError>,
) -> Result<axum::Json<RubricAssessment>, Problem> {
    let Some(current) = app.store.rubric_assessment(id).await? else {
        return Err(Problem::not_found(format!("no rubric assessment `{id}`")));
    };
    let r = rubric(app, &current.rubric)?;
    match app
        .store
        .change_rubric_assessment(id, person.professional.as_str(), Utc::now(), what, |a| {
            f(a, r)
        })
        .await?
    {
        None => Err(Problem::not_found(format!("no rubric assessment `{id}`"))),
        Some(Err(e)) => Err(rule_problem(e)),
        Some(Ok(a)) => Ok(axum::Json(a)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scores {
    pub(crate) scores: Vec<NewScore>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScore {
    pub(crate) criterion: String,
    pub(crate) score: i64,
    #[serde(default)]
    pub(crate) comment: String,
}

/// The caller's own scores; all or nothing.
pub async fn score(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(s): Body<Scores>,
) -> Result<axum::Json<RubricAssessment>, Problem> {
    let person = caller.person()?;
    let by = person.professional.clone();
    let criteria: Vec<&str> = s.scores.iter().map(|x| x.criterion.as_str()).collect();
    let what = json!({ "scored": criteria });
    change(&app, person, &id, what, |a, r| {
        for x in s.scores {
            a.score(r, &by, &x.criterion, x.score, x.comment)?;
        }
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub(crate) text: String,
}

pub async fn deliberate(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(n): Body<Note>,
) -> Result<axum::Json<RubricAssessment>, Problem> {
    let person = caller.person()?;
    let by = person.professional.clone();
    let now = Utc::now();
    change(
        &app,
        person,
        &id,
        json!({ "deliberation_note": true }),
        |a, _| a.deliberate(&by, &n.text, now),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreed {
    pub(crate) scores: BTreeMap<String, i64>,
}

pub async fn finalise(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(g): Body<Agreed>,
) -> Result<axum::Json<RubricAssessment>, Problem> {
    let person = caller.person()?;
    let by = person.professional.clone();
    let now = Utc::now();
    let what = json!({ "finalised": g.scores });
    change(&app, person, &id, what, |a, r| {
        a.finalise(r, &by, g.scores, now)
    })
    .await
}

/// How the first two committee members of every assessment on the rubric agree, per
/// criterion and overall (programme staff).
pub async fn agreement(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<AgreementReport>, Problem> {
    let person = caller.person()?;
    if app.department.rubric(&id).is_none() {
        return Err(Problem::not_found(format!("no rubric `{id}`")));
    }
    if !is_programme_staff(&app, &person.professional) {
        return Err(Problem::forbidden(
            "assessor agreement is for programme staff",
        ));
    }
    let pairs: Vec<ScorePair> = app
        .store
        .rubric_assessments(&id)
        .await?
        .iter()
        .flat_map(RubricAssessment::score_pairs)
        .collect();
    agreement_report(&pairs)
        .map(axum::Json)
        .map_err(|e| Problem::invalid("rubric", e.to_string()))
}
