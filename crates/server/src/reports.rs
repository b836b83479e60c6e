//! Reports over HTTP: draft -> preliminary -> authorized, return for correction, addenda.
//! The domain's state machine decides every transition; this module finds who is acting,
//! under which mandate, and moves the work along with the report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::authz;
use radgate_domain::ending::{self, Ending, EndingRefusal, Work};
use radgate_domain::ids::{AccessionNumber, FindingCode, ProfessionalId, TaskTypeId};
use radgate_domain::portfolio::Suspension;
use radgate_domain::quality::{Discrepancy, LiftError, judge, suspension_supervisor};
use radgate_domain::report::{
    Mandate, Report, ReportContent, ReportError, ReportState, Signer, authorization_task,
};
use radgate_domain::truth::{Feedback, feedback_truth};
use radgate_domain::workitem::WorkItem;
use radgate_store::{NewWorkItem, Tx, User};
use serde::Deserialize;

use crate::api::accession;
use crate::auth::Caller;
use crate::extract::{Body, ItemId};
use crate::problem::Problem;
use crate::state::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) findings: Vec<FindingCode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub(crate) reason: String,
}

fn report_problem(e: ReportError) -> Problem {
    match e {
        ReportError::NotAuthor { .. }
        | ReportError::AuthorizerIsAuthor
        | ReportError::MayNotSignFinal(_)
        | ReportError::RadiologistOnly(_) => Problem::forbidden(e.to_string()),
        ReportError::EmptyText => Problem::invalid("text", e.to_string()),
        ReportError::EmptyReason => Problem::invalid("reason", e.to_string()),
        ReportError::WrongState { .. } | ReportError::MustResubmit => {
            Problem::conflict(e.to_string())
        }
    }
}

/// The person acting on a study's report, the work item they hold for it, what that item
/// is under their mandate (the domain's `ending::work_of`), and their signer record.
async fn acting(
    app: &App,
    tx: &mut Tx,
    person: &User,
    accession: &AccessionNumber,
) -> Result<(Signer, WorkItem, Work), Problem> {
    let held = tx
        .claimed_items(accession.as_str(), &person.professional)
        .await?;
    if held.is_empty() {
        return Err(Problem::conflict(format!(
            "claim a work item of {accession} before reporting on it"
        )));
    }
    let mut refusal = None;
    for item in held {
        let (mandate, work) = mandate_and_work(app, person, &item)?;
        match ending::may_end(work, Ending::Report, None, None) {
            Ok(()) => {
                let signer = Signer {
                    id: person.professional.clone(),
                    role: person.role,
                    mandate,
                };
                return Ok((signer, item, work));
            }
            Err(e) => refusal = refusal.or(Some((item.id, e))),
        }
    }
    let (id, e) = refusal.expect("at least one held item was refused");
    Err(Problem::conflict(format!("work item {id}: {e}")))
}

/// Refuses an ending the domain does not allow for this work.
fn require_ending(
    work: Work,
    how: Ending,
    report: Option<ReportState>,
    reason: Option<&str>,
) -> Result<(), Problem> {
    ending::may_end(work, how, report, reason).map_err(ending_problem)
}

fn ending_problem(e: EndingRefusal) -> Problem {
    match e {
        EndingRefusal::Delegated | EndingRefusal::CloseIsRadiologists => {
            Problem::forbidden(e.to_string())
        }
        EndingRefusal::EmptyReason => Problem::invalid("reason", e.to_string()),
        _ => Problem::conflict(e.to_string()),
    }
}

/// A report transition in progress: the open transaction, who acts with which item, and
/// the report under a row lock.
struct Step {
    tx: Tx,
    signer: Signer,
    item: WorkItem,
    work: Work,
    report: Report,
    now: DateTime<Utc>,
}

async fn begin_step(app: &App, person: &User, acc: String) -> Result<Step, Problem> {
    let acc = accession(acc)?;
    let mut tx = app.store.begin().await?;
    let (signer, item, work) = acting(app, &mut tx, person, &acc).await?;
    let report = tx
        .report_for_update(acc.as_str())
        .await?
        .ok_or_else(|| Problem::not_found(format!("no report for {acc}")))?;
    Ok(Step {
        tx,
        signer,
        item,
        work,
        report,
        now: Utc::now(),
    })
}

async fn finish_item(tx: &mut Tx, mut item: WorkItem, person: &User) -> Result<WorkItem, Problem> {
    item.complete(&person.professional)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    tx.save_work_item(&item).await?;
    Ok(item)
}

/// Opens follow-up work for the study, with the priority and due time of `like`.
async fn open_item(
    tx: &mut Tx,
    like: &WorkItem,
    task: TaskTypeId,
    now: DateTime<Utc>,
) -> Result<WorkItem, Problem> {
    let (decision_id, _) = tx
        .latest_decision(like.accession.as_str())
        .await?
        .ok_or_else(|| Problem::internal(format!("work item {} without a decision", like.id)))?;
    let new = NewWorkItem {
        accession: like.accession.clone(),
        decision_id,
        task,
        pathway: like.pathway,
        priority: like.priority,
        due: like.due,
        created_at: now,
    };
    Ok(tx.insert_work_item(&new).await?)
}

/// Saves the report's new version and audits it, then the work items it moved along.
async fn record(
    app: &App,
    tx: &mut Tx,
    report: &Report,
    now: DateTime<Utc>,
    moved: &[(AuditKind, &WorkItem)],
) -> Result<(), Problem> {
    tx.save_report(report).await?;
    // In the same transaction: a report the RIS is owed is never lost.
    crate::outbox::owe_report(app, tx, report, now).await?;
    let v = report.history.last().expect("a report has a version");
    let actor = v.by.id.to_string();
    tx.audit(&AuditEvent {
        at: now,
        actor: actor.clone(),
        kind: AuditKind::ReportTransition,
        subject: report.accession.to_string(),
        detail: serde_json::json!({
            "act": v.act.code(),
            "version": v.number,
            "state": v.state.code(),
            "role": v.by.role.code(),
            "agreement": v.by.mandate.as_ref().map(|m| m.agreement_id.as_str()),
        }),
    })
    .await?;
    for (kind, item) in moved {
        tx.audit(&AuditEvent {
            at: now,
            actor: actor.clone(),
            kind: *kind,
            subject: format!("work_item/{}", item.id),
            detail: serde_json::json!({
                "accession": item.accession.as_str(),
                "task": item.task.as_str(),
                "state": item.state.code(),
                "assignee": item.assignee.as_ref().map(|a| a.as_str()),
            }),
        })
        .await?;
    }
    Ok(())
}

pub async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(acc): Path<String>,
) -> Result<axum::Json<Report>, Problem> {
    let acc = accession(acc)?;
    caller.may_read_study(&app, acc.as_str()).await?;
    match app.store.report(acc.as_str()).await? {
        Some(r) => Ok(axum::Json(r)),
        None => Err(Problem::not_found(format!("no report for {acc}"))),
    }
}

/// Starts the report, or edits the draft.
pub async fn draft(
    State(app): State<App>,
    caller: Caller,
    Path(acc): Path<String>,
    Body(t): Body<Text>,
) -> Result<(StatusCode, axum::Json<Report>), Problem> {
    let person = caller.person()?;
    let acc = accession(acc)?;
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let (signer, _, _) = acting(&app, &mut tx, person, &acc).await?;
    let content = ReportContent {
        text: t.text,
        findings: t.findings,
    };
    let (status, report) = match tx.report_for_update(acc.as_str()).await? {
        None => (
            StatusCode::CREATED,
            Report::draft(acc, signer, content, now),
        ),
        Some(mut r) => {
            r.edit(&signer, content, now).map_err(report_problem)?;
            (StatusCode::OK, r)
        }
    };
    record(&app, &mut tx, &report, now, &[]).await?;
    tx.commit().await?;
    Ok((status, axum::Json(report)))
}

/// Submits the draft as preliminary: the author's item is done and a radiologist's
/// authorization item opens.
pub async fn submit(
    State(app): State<App>,
    caller: Caller,
    Path(acc): Path<String>,
) -> Result<axum::Json<Report>, Problem> {
    let person = caller.person()?;
    let Step {
        mut tx,
        signer,
        item,
        work,
        mut report,
        now,
    } = begin_step(&app, person, acc).await?;
    require_ending(work, Ending::SubmitPreliminary, Some(report.state), None)?;
    report
        .submit_preliminary(&signer, now)
        .map_err(report_problem)?;
    let next = open_item(&mut tx, &item, authorization_task(), now).await?;
    let done = finish_item(&mut tx, item, person).await?;
    record(
        &app,
        &mut tx,
        &report,
        now,
        &[
            (AuditKind::Complete, &done),
            (AuditKind::WorkItemCreated, &next),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(report))
}

/// The optional body of an authorization: the discrepancy grade a delegated preliminary
/// report needs.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Grading {
    pub(crate) discrepancy: Option<Discrepancy>,
    /// The signer's verdict on the study's AI calls: the strongest truth it can have.
    #[serde(default)]
    pub(crate) feedback: Vec<Feedback>,
}

/// Authorizes a preliminary report, or signs one's own draft where the mandate allows.
/// A delegate's preliminary report must be graded; the grade feeds their quality record.
pub async fn authorize(
    State(app): State<App>,
    caller: Caller,
    Path(acc): Path<String>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Report>, Problem> {
    let grading: Grading = if body.iter().all(u8::is_ascii_whitespace) {
        Grading::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Problem::invalid("discrepancy", e.to_string()))?
    };
    authorize_graded(app, caller, acc, grading)
        .await
        .map(axum::Json)
}

/// Authorizes with the grading given (the API's JSON body, or the screen's form).
pub(crate) async fn authorize_graded(
    app: App,
    caller: Caller,
    acc: String,
    grading: Grading,
) -> Result<Report, Problem> {
    let person = caller.person()?;
    let Step {
        mut tx,
        signer,
        item,
        work,
        mut report,
        now,
    } = begin_step(&app, person, acc).await?;
    require_ending(work, Ending::SignFinal, Some(report.state), None)?;
    let grade = match (report.needs_discrepancy_grade(), grading.discrepancy) {
        (true, None) => {
            return Err(Problem::invalid(
                "discrepancy",
                "grade this delegated preliminary report: 0 none, 1 minor, 2 major discrepancy",
            ));
        }
        (false, Some(_)) => {
            return Err(Problem::invalid(
                "discrepancy",
                "only delegated preliminary reports are graded",
            ));
        }
        (_, g) => g,
    };
    report.authorize(&signer, now).map_err(report_problem)?;
    if !grading.feedback.is_empty() {
        let calls = tx.calls_of(report.accession.as_str()).await?;
        feedback_truth(&grading.feedback, &calls)
            .map_err(|e| Problem::invalid("feedback", e.to_string()))?;
        tx.save_feedback(
            report.accession.as_str(),
            &grading.feedback,
            person.professional.as_str(),
            now,
        )
        .await?;
    }
    let done = finish_item(&mut tx, item, person).await?;
    // Before any audit append: appending locks the audit log, and a concurrent lift holds
    // the suspension row while it waits for that lock.
    let suspended = match grade {
        Some(g) => quality_feedback(&app, &mut tx, &report, g, person, now).await?,
        None => None,
    };
    record(&app, &mut tx, &report, now, &[(AuditKind::Complete, &done)]).await?;
    if !grading.feedback.is_empty() {
        tx.audit(&AuditEvent {
            at: now,
            actor: person.professional.to_string(),
            kind: AuditKind::Truth,
            subject: report.accession.to_string(),
            detail: serde_json::json!({ "feedback": grading.feedback }),
        })
        .await?;
    }
    if let Some(s) = suspended {
        tx.audit(&AuditEvent {
            at: now,
            actor: "system".into(),
            kind: AuditKind::AuthorizationChange,
            subject: format!("portfolio/{}", s.professional),
            detail: serde_json::json!({ "suspended": s.task.as_str(), "reason": s.reason, "supervisor": s.supervisor.as_str() }),
        })
        .await?;
    }
    tx.commit().await?;
    crate::labelling::after_report(&app.store, &app.labeller, report.accession.as_str()).await;
    Ok(report)
}

/// Records the grade and judges the author's recent reports; suspends the authorization
/// (and notifies the supervisor and the author) when the domain says so.
async fn quality_feedback(
    app: &App,
    tx: &mut Tx,
    report: &Report,
    grade: Discrepancy,
    by: &User,
    now: DateTime<Utc>,
) -> Result<Option<Suspension>, Problem> {
    let author = &report.author.id;
    let task = report.author_task(&app.department);
    tx.record_discrepancy(
        report.accession.as_str(),
        author,
        &task,
        grade,
        &by.professional,
        now,
    )
    .await?;
    let limits = report.discrepancy_limits(&app.department);
    let j = judge(
        &tx.recent_grades(author, &task, limits.window).await?,
        &limits,
    );
    let Some(reason) = j.suspend else {
        return Ok(None);
    };
    let today = now.date_naive();
    if tx.active_suspension(author, &task, today).await?.is_some() {
        return Ok(None);
    }
    let supervisor = suspension_supervisor(report, &app.department, &by.professional);
    let s = Suspension::by_monitoring(
        author.clone(),
        task.clone(),
        today,
        reason.clone(),
        supervisor.clone(),
    );
    tx.save_suspension(&s).await?;
    tx.notify(
        &supervisor,
        now,
        &format!("{author} is suspended for {task}: {reason}. Only you can lift it."),
    )
    .await?;
    tx.notify(
        author,
        now,
        &format!("Your authorization for {task} is suspended: {reason}. {supervisor} can lift it."),
    )
    .await?;
    Ok(Some(s))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lift {
    professional: ProfessionalId,
    task: TaskTypeId,
}

/// Lifts a suspension: only the supervisor named on it may.
pub async fn lift_suspension(
    State(app): State<App>,
    caller: Caller,
    Body(l): Body<Lift>,
) -> Result<axum::Json<Suspension>, Problem> {
    let person = caller.person()?;
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let mut s = tx
        .active_suspension(&l.professional, &l.task, now.date_naive())
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!(
                "{} is not suspended for {}",
                l.professional, l.task
            ))
        })?;
    s.lift(&person.professional, now.date_naive())
        .map_err(|e| match e {
            LiftError::NotSupervisor { .. } => Problem::forbidden(e.to_string()),
            LiftError::AlreadyLifted(_) => Problem::conflict(e.to_string()),
        })?;
    tx.save_suspension(&s).await?;
    tx.notify(
        &s.professional,
        now,
        &format!(
            "Your suspension for {} was lifted by {}.",
            s.task, person.professional
        ),
    )
    .await?;
    tx.audit(&AuditEvent {
        at: now,
        actor: person.professional.to_string(),
        kind: AuditKind::AuthorizationChange,
        subject: format!("portfolio/{}", s.professional),
        detail: serde_json::json!({ "lifted": s.task.as_str(), "since": s.since.to_string() }),
    })
    .await?;
    tx.commit().await?;
    Ok(axum::Json(s))
}

pub async fn notifications(
    State(app): State<App>,
    caller: Caller,
) -> Result<axum::Json<Vec<radgate_store::Notification>>, Problem> {
    let person = caller.person()?;
    Ok(axum::Json(
        app.store.notifications(&person.professional).await?,
    ))
}

/// Returns a preliminary report to its author, whose work item reopens in their name.
pub async fn return_for_correction(
    State(app): State<App>,
    caller: Caller,
    Path(acc): Path<String>,
    Body(r): Body<Reason>,
) -> Result<axum::Json<Report>, Problem> {
    let person = caller.person()?;
    let Step {
        mut tx,
        signer,
        item,
        work,
        mut report,
        now,
    } = begin_step(&app, person, acc).await?;
    // Returning a preliminary report is the authorizing read's other outcome.
    require_ending(work, Ending::SignFinal, Some(report.state), None)?;
    report
        .return_for_correction(&signer, &r.reason, now)
        .map_err(report_problem)?;
    let mut back = open_item(&mut tx, &item, report.author_task(&app.department), now).await?;
    back.claim(&report.author.id)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    tx.save_work_item(&back).await?;
    tx.notify(
        &report.author.id,
        now,
        &format!(
            "{} returned your report of {} for correction: {}",
            person.professional,
            report.accession,
            r.reason.trim()
        ),
    )
    .await?;
    let done = finish_item(&mut tx, item, person).await?;
    record(
        &app,
        &mut tx,
        &report,
        now,
        &[
            (AuditKind::Complete, &done),
            (AuditKind::WorkItemCreated, &back),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(report))
}

/// Adds to an authorized report: radiologists, or an author with an independent mandate.
pub async fn addendum(
    State(app): State<App>,
    caller: Caller,
    Path(acc): Path<String>,
    Body(t): Body<Text>,
) -> Result<axum::Json<Report>, Problem> {
    let person = caller.person()?;
    let acc = accession(acc)?;
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let mut report = tx
        .report_for_update(acc.as_str())
        .await?
        .ok_or_else(|| Problem::not_found(format!("no report for {acc}")))?;
    let task = report.author_task(&app.department);
    let mandate = authz::mandate(
        person.role,
        task.as_str(),
        &app.department,
        now.date_naive(),
    )
    .map_err(|r| Problem::forbidden(r.to_string()))?;
    let signer = Signer {
        id: person.professional.clone(),
        role: person.role,
        mandate,
    };
    report
        .addendum(&signer, &t.text, t.findings, now)
        .map_err(report_problem)?;
    record(&app, &mut tx, &report, now, &[]).await?;
    tx.commit().await?;
    crate::labelling::after_report(&app.store, &app.labeller, acc.as_str()).await;
    Ok(axum::Json(report))
}

/// What `item` is for `person`, under the mandate they hold for its task today.
pub(crate) fn mandate_and_work(
    app: &App,
    person: &User,
    item: &WorkItem,
) -> Result<(Option<Mandate>, Work), Problem> {
    let mandate = authz::mandate(
        person.role,
        item.task.as_str(),
        &app.department,
        Utc::now().date_naive(),
    )
    .map_err(|r| Problem::forbidden(r.to_string()))?;
    let work = ending::work_of(item, person.role, mandate.as_ref());
    Ok((mandate, work))
}

fn work_for(app: &App, person: &User, item: &WorkItem) -> Result<Work, Problem> {
    mandate_and_work(app, person, item).map(|(_, work)| work)
}

/// Refuses a bare "complete" of work that must end another way.
pub(crate) async fn require_complete(
    app: &App,
    person: &User,
    item: &WorkItem,
) -> Result<(), Problem> {
    let work = work_for(app, person, item)?;
    let report = app
        .store
        .report(item.accession.as_str())
        .await?
        .map(|r| r.state);
    require_ending(work, Ending::Complete, report, None)
}

/// Ends a radiologist's read without a report, with the reason on the audit trail (an
/// order cancelled after acquisition, a duplicate exam, images not diagnostic).
pub async fn close_without_report(
    State(app): State<App>,
    caller: Caller,
    ItemId(id): ItemId,
    Body(r): Body<Reason>,
) -> Result<axum::Json<WorkItem>, Problem> {
    let person = caller.person()?;
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let mut item = tx
        .work_item_for_update(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("work item {id} does not exist")))?;
    let work = work_for(&app, person, &item)?;
    require_ending(work, Ending::CloseWithoutReport, None, Some(&r.reason))?;
    item.complete(&person.professional)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    tx.save_work_item(&item).await?;
    tx.audit(&AuditEvent {
        at: now,
        actor: person.professional.to_string(),
        kind: AuditKind::Complete,
        subject: format!("work_item/{id}"),
        detail: serde_json::json!({
            "accession": item.accession.as_str(),
            "task": item.task.as_str(),
            "outcome": "closed without report",
            "reason": r.reason.trim(),
        }),
    })
    .await?;
    tx.commit().await?;
    Ok(axum::Json(item))
}
