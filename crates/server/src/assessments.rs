//! Assessments over HTTP: the assessor records one, the assessee may request one, and a
//! person's assessments are visible to them and their supervisors only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use radgate_domain::authz;
use radgate_domain::ids::{ProfessionalId, TaskTypeId};
use radgate_domain::portfolio::{
    AdmitError, Assessment, AssessmentStatus, AssessorBackground, ConfirmError, Entrustment,
};
use radgate_store::ImportError;
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAssessment {
    pub(crate) id: String,
    pub(crate) assessee: ProfessionalId,
    pub(crate) assessor: ProfessionalId,
    /// Taken from the assessor's professional record; when given, it must agree.
    #[serde(default)]
    pub(crate) assessor_background: Option<AssessorBackground>,
    pub(crate) task: TaskTypeId,
    pub(crate) placement: String,
    pub(crate) date: NaiveDate,
    /// Six domain scores 1-5 (null: not observed), in the order of the competence domains.
    pub(crate) scores: [Option<u8>; 6],
    pub(crate) entrustment: Entrustment,
    #[serde(default)]
    pub(crate) narrative: String,
}

/// Records an assessment: confirmed when the assessor enters it, requested when the
/// assessee does; nobody else may.
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Body(n): Body<NewAssessment>,
) -> Result<(StatusCode, axum::Json<Assessment>), Problem> {
    let person = caller.person()?;
    for (field, who) in [("assessee", &n.assessee), ("assessor", &n.assessor)] {
        if app.department.professional(who.as_str()).is_none() {
            return Err(Problem::invalid(
                field,
                format!("`{who}` is not a professional of the department"),
            ));
        }
    }
    if app.department.task(n.task.as_str()).is_none() {
        return Err(Problem::invalid(
            "task",
            format!("`{}` is not in the department's task catalog", n.task),
        ));
    }
    let mut a = Assessment {
        id: n.id,
        assessee: n.assessee,
        assessor: n.assessor,
        assessor_background: AssessorBackground::Other,
        task: n.task,
        placement: n.placement,
        date: n.date,
        scores: n.scores,
        entrustment: n.entrustment,
        narrative: n.narrative,
        status: AssessmentStatus::Requested,
    };
    a.status = a.entered_by(&person.professional).ok_or_else(|| {
        Problem::forbidden("only the assessor or the assessee may enter an assessment")
    })?;
    let a = a
        .admit(
            n.assessor_background,
            &app.department,
            Utc::now().date_naive(),
        )
        .map_err(|e| match e {
            // The caller is the assessor and may not assess: not a matter of input.
            AdmitError::Assessor(_) if a_is_assessor(&person.professional, &e) => {
                Problem::forbidden(e.to_string())
            }
            e => Problem::invalid(e.field(), e.to_string()),
        })?;
    match app
        .store
        .import_assessments(
            std::slice::from_ref(&a),
            person.professional.as_str(),
            Utc::now(),
        )
        .await
    {
        Ok(done) if done.created == 1 => Ok((StatusCode::CREATED, axum::Json(a))),
        Ok(_) => Ok((StatusCode::OK, axum::Json(a))),
        Err(ImportError::Conflict(_)) => Err(Problem::conflict(format!(
            "assessment id {} is already used",
            a.id
        ))),
        Err(ImportError::Store(e)) => Err(e.into()),
    }
}

fn a_is_assessor(caller: &ProfessionalId, e: &AdmitError) -> bool {
    matches!(e, AdmitError::Assessor(authz::AssessorRefusal::NotAssessor { assessor, .. }) if assessor == caller)
}

/// The assessor confirms a requested assessment.
pub async fn confirm(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Assessment>, Problem> {
    let person = caller.person()?;
    let mut a = app
        .store
        .assessment(&id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no assessment {id}")))?;
    // The department may have changed since the request: the assessor must still be one.
    authz::may_assess(
        &a.assessor,
        &a.assessee,
        a.task.as_str(),
        &app.department,
        Utc::now().date_naive(),
    )
    .map_err(|e| Problem::forbidden(e.to_string()))?;
    a.confirm(&person.professional).map_err(|e| match e {
        ConfirmError::NotAssessor(_) => Problem::forbidden(e.to_string()),
        ConfirmError::AlreadyConfirmed => Problem::conflict(e.to_string()),
    })?;
    app.store
        .save_assessment(&a, person.professional.as_str(), Utc::now())
        .await?;
    Ok(axum::Json(a))
}

/// A person's assessments: visible to them and their supervisors, to no peer.
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<Assessment>>, Problem> {
    let person = caller.person()?;
    let subject = crate::assessments::viewable_subject(&app, &person.professional, &id)?;
    Ok(axum::Json(
        app.store.portfolio(&subject.id).await?.assessments,
    ))
}

/// The professional `id` whose portfolio `viewer` asks for, when the privacy rule lets them
/// see it: 404 for nobody, 403 for a peer.
pub(crate) fn viewable_subject<'a>(
    app: &'a App,
    viewer: &ProfessionalId,
    id: &str,
) -> Result<&'a radgate_domain::professional::Professional, Problem> {
    let Some(subject) = app.department.professional(id) else {
        return Err(Problem::not_found(format!(
            "no professional `{id}` in the department"
        )));
    };
    if !authz::may_view_portfolio(viewer, subject, &app.department, Utc::now().date_naive()) {
        return Err(Problem::forbidden(
            "a portfolio is visible to its owner, their supervisors and programme staff only",
        ));
    }
    Ok(subject)
}
