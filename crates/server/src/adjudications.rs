//! The truth of a study over HTTP: what is known about it (feedback, the RIS's reports,
//! the labeller's labels, each AI call's truth and source), and the adjudication list
//! where radiologists decide what the report text left open.

use axum::extract::{Path, State};
use chrono::Utc;
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::authz;
use radgate_domain::truth::MAX_COMMENT;
use radgate_store::{Adjudication, TruthRecord};
use serde::Deserialize;

use crate::api::accession;
use crate::auth::Caller;
use crate::extract::{Body, Params};
use crate::problem::Problem;
use crate::state::App;

/// Whether the caller may work the adjudication list: a radiologist.
pub(crate) fn adjudicator(caller: &Caller) -> Result<&radgate_store::User, Problem> {
    let person = caller.person()?;
    if !authz::may_adjudicate(person.role) {
        return Err(Problem::forbidden(
            "only radiologists adjudicate report findings",
        ));
    }
    Ok(person)
}

/// Everything known about a study's truth, as `caller` may see it: the calls and feedback
/// of an application in shadow mode only for the RAIO.
pub(crate) async fn truth_seen(
    app: &App,
    caller: &Caller,
    acc: &str,
) -> Result<TruthRecord, Problem> {
    let mut record = app.store.truth_record(acc).await?;
    let raio = caller
        .person()
        .is_ok_and(|p| authz::keeps_ai_register(&p.professional, &app.department));
    if !raio {
        let changes = app.store.latest_status_changes().await?;
        let register = &app.department.ai_applications;
        let shown = |id: &str| !radgate_domain::ai::hidden_from_clinicians(register, &changes, id);
        record.calls.retain(|c| shown(&c.app));
        record.feedback.retain(|f| shown(f.feedback.app.as_str()));
    }
    Ok(record)
}

/// Everything known about a study's truth.
pub async fn truth(
    State(app): State<App>,
    caller: Caller,
    Path(acc): Path<String>,
) -> Result<axum::Json<TruthRecord>, Problem> {
    let acc = accession(acc)?;
    caller.may_read_study(&app, acc.as_str()).await?;
    Ok(axum::Json(truth_seen(&app, &caller, acc.as_str()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Also the answered ones (after the open ones).
    #[serde(default)]
    pub(crate) answered: bool,
    pub(crate) limit: Option<u32>,
}

/// The adjudication list: open findings, oldest first.
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<axum::Json<Vec<Adjudication>>, Problem> {
    adjudicator(&caller)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "limit is 1 to 1000"));
    }
    Ok(axum::Json(
        app.store.adjudication_list(q.answered, limit).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub(crate) present: bool,
    #[serde(default)]
    pub(crate) comment: Option<String>,
}

/// A radiologist's answer: the finding is present or absent. It becomes the truth of the
/// study's AI calls on that finding (unless feedback at sign-off says otherwise), and
/// is audited.
pub async fn answer(
    State(app): State<App>,
    caller: Caller,
    Path((acc, finding)): Path<(String, String)>,
    Body(a): Body<Answer>,
) -> Result<axum::Json<Adjudication>, Problem> {
    answer_as(&app, &caller, acc, finding, a)
        .await
        .map(axum::Json)
}

/// [`answer`] for the API and the screen.
pub(crate) async fn answer_as(
    app: &App,
    caller: &Caller,
    acc: String,
    finding: String,
    a: Answer,
) -> Result<Adjudication, Problem> {
    let person = adjudicator(caller)?;
    let acc = accession(acc)?;
    let comment = a
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT)
    {
        return Err(Problem::invalid(
            "comment",
            format!("a comment has at most {MAX_COMMENT} characters"),
        ));
    }
    let now = Utc::now();
    let by = person.professional.to_string();
    let mut tx = app.store.begin().await?;
    if !tx
        .adjudicate(
            acc.as_str(),
            &finding,
            a.present,
            comment.as_deref(),
            &by,
            now,
        )
        .await?
    {
        return Err(Problem::not_found(format!(
            "{finding} of {acc} is not on the adjudication list"
        )));
    }
    tx.audit(&AuditEvent {
        at: now,
        actor: by,
        kind: AuditKind::Truth,
        subject: acc.to_string(),
        detail: serde_json::json!({
            "adjudicated": finding,
            "present": a.present,
            "comment": comment,
        }),
    })
    .await?;
    tx.refresh_truth(acc.as_str(), now).await?;
    tx.commit().await?;
    app.store
        .adjudication(acc.as_str(), &finding)
        .await?
        .ok_or_else(|| Problem::internal("the answered adjudication is gone"))
}
