//! How gatekeeping and retrospective review end, over HTTP. A gatekeeper clears an exam
//! (`/clear`) or sends it to a radiologist (`/escalate`); a cleared exam drawn for review
//! (the domain's `safety::drawn_for_review`) gets a retrospective-review item at once; the
//! reviewing radiologist records whether anything was missed (`/review`). The safety
//! report counts the reviews.

use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::decision::Pathway;
use radgate_domain::ending::{ItemKind, kind_of};
use radgate_domain::ids::TaskTypeId;
use radgate_domain::report::{AUTHORIZATION_TASK, REVIEW_TASK};
use radgate_domain::safety::{SafetyReport, agreed_width, drawn_for_review};
use radgate_domain::study::Priority;
use radgate_domain::workitem::WorkItem;
use radgate_store::{NewWorkItem, SafetyReview, Tx};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::extract::Params;
use crate::extract::{Body, ItemId};
use crate::problem::Problem;
use crate::state::App;

/// How long a retrospective review may wait.
const REVIEW_WITHIN_DAYS: i64 = 7;

#[derive(Serialize)]
pub struct Ended {
    item: WorkItem,
    /// The follow-up work it opened: a radiologist's read after an escalation, or a
    /// retrospective review when a cleared exam was drawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    follow_up: Option<WorkItem>,
}

/// Loads the item under a row lock and checks it is the kind of step the action ends.
async fn locked(tx: &mut Tx, id: u64, kind: ItemKind, action: &str) -> Result<WorkItem, Problem> {
    let Some(item) = tx.work_item_for_update(id).await? else {
        return Err(Problem::not_found(format!("work item {id} does not exist")));
    };
    if kind_of(&item) != kind {
        return Err(Problem::conflict(format!(
            "work item {id} ({}) cannot be {action}",
            item.task
        )));
    }
    Ok(item)
}

fn audit(
    item: &WorkItem,
    by: &str,
    kind: AuditKind,
    outcome: &str,
    now: DateTime<Utc>,
) -> AuditEvent {
    AuditEvent {
        at: now,
        actor: by.to_owned(),
        kind,
        subject: format!("work_item/{}", item.id),
        detail: serde_json::json!({ "accession": item.accession.as_str(), "task": item.task.as_str(),
            "outcome": outcome }),
    }
}

/// Opens a review item for the exam when the decision's draw says so.
pub(crate) async fn open_review_if_drawn(
    tx: &mut Tx,
    item_accession: &radgate_domain::ids::AccessionNumber,
    pathway: Pathway,
    now: DateTime<Utc>,
) -> Result<Option<WorkItem>, Problem> {
    let Some((decision_id, decision)) = tx.latest_decision(item_accession.as_str()).await? else {
        return Ok(None);
    };
    if !drawn_for_review(item_accession, &decision) {
        return Ok(None);
    }
    let review = tx
        .insert_work_item(&NewWorkItem {
            accession: item_accession.clone(),
            decision_id,
            task: TaskTypeId::parse(REVIEW_TASK).expect("a valid task id"),
            pathway,
            priority: Priority::Routine,
            due: now + Duration::days(REVIEW_WITHIN_DAYS),
            created_at: now,
        })
        .await?;
    Ok(Some(review))
}

pub async fn clear(
    State(app): State<App>,
    caller: Caller,
    ItemId(id): ItemId,
) -> Result<axum::Json<Ended>, Problem> {
    let person = caller.person()?;
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let mut item = locked(&mut tx, id, ItemKind::Gatekeeping, "cleared").await?;
    item.complete(&person.professional)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    tx.save_work_item(&item).await?;
    let follow_up =
        open_review_if_drawn(&mut tx, &item.accession, Pathway::Gatekeeper, now).await?;
    let outcome = if follow_up.is_some() {
        "cleared, drawn for review"
    } else {
        "cleared"
    };
    tx.audit(&audit(
        &item,
        person.professional.as_str(),
        AuditKind::Complete,
        outcome,
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Ended { item, follow_up }))
}

pub async fn escalate(
    State(app): State<App>,
    caller: Caller,
    ItemId(id): ItemId,
) -> Result<axum::Json<Ended>, Problem> {
    let person = caller.person()?;
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let mut item = locked(&mut tx, id, ItemKind::Gatekeeping, "escalated").await?;
    item.escalate_by(&person.professional)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    tx.save_work_item(&item).await?;
    let Some((decision_id, decision)) = tx.latest_decision(item.accession.as_str()).await? else {
        return Err(Problem::internal("an escalated item has no decision"));
    };
    let read = tx
        .insert_work_item(&NewWorkItem {
            accession: item.accession.clone(),
            decision_id,
            task: TaskTypeId::parse(AUTHORIZATION_TASK).expect("a valid task id"),
            pathway: Pathway::Gatekeeper,
            priority: item.priority,
            due: decision.due.max(now),
            created_at: now,
        })
        .await?;
    tx.audit(&audit(
        &item,
        person.professional.as_str(),
        AuditKind::Escalate,
        "escalated",
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Ended {
        item,
        follow_up: Some(read),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Whether the radiologist found something the clearance (or the AI's "normal")
    /// missed.
    pub(crate) missed: bool,
    #[serde(default)]
    pub(crate) note: String,
}

pub async fn review(
    State(app): State<App>,
    caller: Caller,
    ItemId(id): ItemId,
    Body(r): Body<Review>,
) -> Result<axum::Json<Ended>, Problem> {
    let person = caller.person()?;
    if r.missed && r.note.trim().is_empty() {
        return Err(Problem::invalid("note", "say what was missed"));
    }
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let mut item = locked(&mut tx, id, ItemKind::Review, "reviewed").await?;
    item.complete(&person.professional)
        .map_err(|e| Problem::conflict(e.to_string()))?;
    tx.save_work_item(&item).await?;
    let Some((_, decision)) = tx.latest_decision(item.accession.as_str()).await? else {
        return Err(Problem::internal("a review item has no decision"));
    };
    let cleared_by = match item.pathway {
        Pathway::Gatekeeper => tx
            .cleared_by(item.accession.as_str(), &decision.task)
            .await?
            .unwrap_or_default(),
        _ => "ai".to_owned(),
    };
    tx.record_review(&SafetyReview {
        accession: item.accession.as_str(),
        task: &decision.task,
        pathway: item.pathway,
        cleared_by: &cleared_by,
        reviewer: person.professional.as_str(),
        missed: r.missed,
        note: r.note.trim(),
        at: now,
    })
    .await?;
    let outcome = if r.missed {
        "missed finding"
    } else {
        "confirmed"
    };
    tx.audit(&audit(
        &item,
        person.professional.as_str(),
        AuditKind::Complete,
        outcome,
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Ended {
        item,
        follow_up: None,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Width {
    /// The width of the NPV's 95% interval to aim for; the task agreement's by default.
    pub(crate) width: Option<f64>,
}

pub async fn safety(
    State(app): State<App>,
    caller: Caller,
    Path(task): Path<String>,
    Params(w): Params<Width>,
) -> Result<axum::Json<SafetyReport>, Problem> {
    caller.ai_overseer()?;
    let Some(task) = app.department.task(&task).map(|t| t.id.clone()) else {
        return Err(Problem::not_found(format!(
            "no task `{task}` in the department's catalog"
        )));
    };
    let width = w
        .width
        .unwrap_or_else(|| agreed_width(&app.department, &task));
    if !(width > 0.0 && width < 1.0) {
        return Err(Problem::invalid(
            "width",
            "the interval width lies between 0 and 1",
        ));
    }
    let (reviewed, misses) = app.store.review_counts(&task).await?;
    Ok(axum::Json(SafetyReport::of(task, reviewed, misses, width)))
}
