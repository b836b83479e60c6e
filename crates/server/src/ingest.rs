//! The ingest path every interface uses (HTTP now; HL7, FHIR and DICOM later): store the
//! message, route the study with the policy, open its work, audit it, in one transaction.

use chrono::{DateTime, Utc};
use radgate_domain::Decision;
use radgate_domain::ai::AiResult;
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::drift::AlarmKind;
use radgate_domain::external_report::ExternalReport;
use radgate_domain::ids::AiAppId;
use radgate_domain::study::{Order, Study};
use radgate_domain::workitem::WorkItem;
use radgate_store::{Inserted, NewWorkItem, Tx};
use serde::Serialize;

use crate::metrics::{Kind, Metrics};
use crate::problem::Problem;
use crate::state::App;

#[derive(Debug, Serialize)]
pub struct Outcome {
    /// `created`, `unchanged` (a repeat: nothing changed) or `changed` (orders).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub work_items: Vec<WorkItem>,
    /// Work items of an earlier decision that gave way to this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<u64>,
}

impl Outcome {
    fn status(status: &'static str) -> Outcome {
        Outcome {
            status,
            decision: None,
            work_items: Vec::new(),
            superseded: Vec::new(),
        }
    }
}

fn event(
    now: DateTime<Utc>,
    actor: &str,
    kind: AuditKind,
    subject: &str,
    detail: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        at: now,
        actor: actor.to_string(),
        kind,
        subject: subject.to_string(),
        detail,
    }
}

fn count(app: &App, kind: Kind, outcome: &Result<Outcome, Problem>) {
    let m = &app.metrics;
    let i = kind as usize;
    Metrics::bump(match outcome {
        Ok(o) if o.status == "unchanged" => &m.ingest_unchanged[i],
        Ok(_) => &m.ingest_created[i],
        Err(_) => &m.ingest_rejected[i],
    });
}

fn refused(e: radgate_domain::study::ValueRefusal) -> Problem {
    Problem::invalid(e.field(), e.to_string())
}

pub async fn order(app: &App, order: &Order, actor: &str) -> Result<Outcome, Problem> {
    let result = async {
        let now = Utc::now();
        order.check_values(now).map_err(refused)?;
        let mut tx = app.store.begin().await?;
        let status = match tx.insert_order(order, now).await? {
            Err(refused) => return Err(Problem::conflict(refused.to_string())),
            Ok(Inserted::Created) => "created",
            Ok(Inserted::Changed) => "changed",
            Ok(Inserted::Unchanged) => return Ok(Outcome::status("unchanged")),
            Ok(Inserted::Conflict) => return Err(Problem::conflict("order conflict")),
        };
        let kind = if status == "created" { AuditKind::OrderIngested } else { AuditKind::OrderChanged };
        let detail = serde_json::json!({ "status": order.status.code(), "procedure_code": order.procedure_code });
        tx.audit(&event(now, actor, kind, order.accession.as_str(), detail)).await?;
        tx.commit().await?;
        Ok(Outcome::status(status))
    }
    .await;
    count(app, Kind::Order, &result);
    result
}

/// Stores a report written in the RIS; once committed it is labelled and the study's
/// truth decided again (after the commit: see `labelling`). A repeat is `unchanged`.
pub async fn external_report(
    app: &App,
    report: &ExternalReport,
    actor: &str,
) -> Result<Outcome, Problem> {
    let result = async {
        let now = Utc::now();
        let acc = report.accession.as_str();
        let mut tx = app.store.begin().await?;
        let Some(seq) = tx.insert_external_report(report, actor, now).await? else {
            return Ok(Outcome::status("unchanged"));
        };
        let detail = serde_json::json!({
            "seq": seq,
            "status": report.status.code(),
            "signer": report.signer,
            "characters": report.text.chars().count(),
        });
        tx.audit(&event(now, actor, AuditKind::ExternalReport, acc, detail))
            .await?;
        tx.commit().await?;
        if report.status.is_final() {
            crate::labelling::after_report(&app.store, &app.labeller, acc).await;
        }
        Ok(Outcome::status("created"))
    }
    .await;
    count(app, Kind::Report, &result);
    result
}

pub async fn study(app: &App, study: &Study, actor: &str) -> Result<Outcome, Problem> {
    let result = async {
        let now = Utc::now();
        study.check_values(now).map_err(refused)?;
        let mut tx = app.store.begin().await?;
        match tx.insert_study(study, now).await? {
            Inserted::Created => {}
            Inserted::Unchanged | Inserted::Changed => {
                let decision = tx.latest_decision(study.accession.as_str()).await?.map(|(_, d)| d);
                return Ok(Outcome { decision, ..Outcome::status("unchanged") });
            }
            Inserted::Conflict => {
                return Err(Problem::conflict(format!(
                    "accession {} or its Study Instance UID is already stored with different study data",
                    study.accession
                )));
            }
        }
        let detail = serde_json::json!({ "modality": study.modality, "procedure_code": study.procedure_code });
        let results = tx.ai_results_for(study.accession.as_str()).await?;
        for r in &results {
            tx.record_ai_calls(study, r, &app.department).await?;
        }
        let results = usable(app, &mut tx, results).await?;
        let decision = app.policy.decide(study, &results, now);
        let work_items = open_work(app, &mut tx, study, &decision, now).await?;
        crate::ups_rs::schedule(app, &mut tx, study, now).await?;
        tx.audit(&event(now, actor, AuditKind::StudyIngested, study.accession.as_str(), detail)).await?;
        audit_decision(&mut tx, now, study, &decision, &work_items).await?;
        tx.commit().await?;
        Ok(Outcome { decision: Some(decision), work_items, ..Outcome::status("created") })
    }
    .await;
    count(app, Kind::Study, &result);
    result
}

/// Refuses, before anyone's scope is asked, a result of an application the register does
/// not hold: no key can speak for it, and the sender should hear which field is wrong
/// rather than that its key lacks a scope.
pub fn registered(app: &App, r: &AiResult) -> Result<(), Problem> {
    match app.department.read_ai_result(r) {
        Err(e @ radgate_domain::ai::ResultRefusal::UnknownApp(_)) => {
            Err(Problem::invalid(e.field(), e.to_string()))
        }
        _ => Ok(()),
    }
}

/// Stores an AI result and, when its study is known, routes the study again; if the new
/// decision changes the work, the open items of the old one give way to new ones.
pub async fn ai_result(app: &App, r: &AiResult, actor: &str) -> Result<Outcome, Problem> {
    let result = async {
        // The result as the register says it means: flags from the operating points.
        let read = app
            .department
            .read_ai_result(r)
            .map_err(|e| Problem::invalid(e.field(), e.to_string()))?;
        let r = &read;
        let now = Utc::now();
        radgate_domain::study::check_clinical_time("received_at", r.received_at, now)
            .and_then(|()| radgate_domain::study::check_text("id", &r.id))
            .and_then(|()| radgate_domain::study::check_text("app_version", &r.app_version))
            .map_err(refused)?;
        let mut tx = app.store.begin().await?;
        match tx.insert_ai_result(r, now).await? {
            Inserted::Created => {}
            Inserted::Unchanged | Inserted::Changed => return Ok(Outcome::status("unchanged")),
            Inserted::Conflict => {
                return Err(Problem::conflict(format!(
                    "AI result id {} is already stored with different content",
                    r.id
                )));
            }
        }
        let detail =
            serde_json::json!({ "id": r.id, "app": r.app.as_str(), "app_version": r.app_version });
        let ingested = event(
            now,
            actor,
            AuditKind::AiResultIngested,
            r.accession.as_str(),
            detail,
        );
        let mut outcome = Outcome::status("created");
        let rerouted = match tx.study(r.accession.as_str()).await? {
            Some(study) => {
                tx.record_ai_calls(&study, r, &app.department).await?;
                route_again(app, &mut tx, &study, now, &mut outcome).await?
            }
            None => None,
        };
        // Owed to the PACS as radgate's SR, unless clinicians may not see it (shadow); a
        // new decision that used it owed its report with the routing already.
        let reported = match (&rerouted, &outcome.decision) {
            (Some(_), Some(d)) if !app.sr_to.is_empty() => {
                used_results(app, &mut tx, r.accession.as_str(), d)
                    .await?
                    .contains(&r.id)
            }
            _ => false,
        };
        if !app.sr_to.is_empty() && !reported {
            let changes = tx.latest_status_changes().await?;
            let hidden = radgate_domain::ai::hidden_from_clinicians(
                &app.department.ai_applications,
                &changes,
                r.app.as_str(),
            );
            if !hidden {
                for d in app.sr_to.iter() {
                    tx.enqueue(d, r.accession.as_str(), crate::forward::AI_SR, &r.id, now)
                        .await?;
                }
            }
        }
        // Audit events go last: on PostgreSQL appending locks the log until commit, and
        // taking it before row locks would let a concurrent claim deadlock with us.
        tx.audit(&ingested).await?;
        if let (Some(study), Some(decision)) = (&rerouted, &outcome.decision) {
            audit_decision(&mut tx, now, study, decision, &outcome.work_items).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }
    .await;
    count(app, Kind::AiResult, &result);
    result
}

/// The results routing may use: those of suspended or retired applications, and of
/// applications in fallback for an active monitoring alarm, are left out
/// (`monitoring::usable_results`).
async fn usable(app: &App, tx: &mut Tx, results: Vec<AiResult>) -> Result<Vec<AiResult>, Problem> {
    let alarmed: Vec<(AiAppId, AlarmKind)> = tx
        .active_alarm_kinds()
        .await?
        .iter()
        .filter_map(|(app, kind)| Some((AiAppId::parse(app).ok()?, AlarmKind::parse(kind)?)))
        .collect();
    let changes = tx.latest_status_changes().await?;
    // Read again against the register in force: a result stored before the register
    // changed (another version, another operating point) means what the register says now.
    let results = results
        .iter()
        .filter_map(|r| app.department.read_ai_result(r).ok())
        .collect();
    Ok(radgate_domain::monitoring::usable_results(
        results,
        &app.department,
        &alarmed,
        &changes,
    ))
}

/// Decides for `study` again at `now`. When the decision changes the work, the open items
/// of the previous decision give way to new ones; returns the study then, so the caller can
/// audit the new decision last in its transaction.
async fn route_again(
    app: &App,
    tx: &mut Tx,
    study: &Study,
    now: DateTime<Utc>,
    outcome: &mut Outcome,
) -> Result<Option<Study>, Problem> {
    let results = tx.ai_results_for(study.accession.as_str()).await?;
    let results = usable(app, tx, results).await?;
    let decision = app.policy.decide(study, &results, now);
    let previous = tx.latest_decision(study.accession.as_str()).await?;
    let changes = previous
        .as_ref()
        .is_none_or(|(_, old)| decision.changes_work_of(old));
    let mut rerouted = None;
    if changes {
        if let Some((old_id, _)) = &previous {
            outcome.superseded = tx.supersede_open_items(*old_id).await?;
            Metrics::bump(&app.metrics.reroutes);
        }
        outcome.work_items = open_work(app, tx, study, &decision, now).await?;
        rerouted = Some(study.clone());
    }
    outcome.decision = Some(decision);
    Ok(rerouted)
}

/// Routes again the recent studies whose AI wait may have run out, so that rules on a
/// missing AI result (`ai_missing`) take effect without a message to trigger them. Looks
/// at studies acquired within the policy's longest wait plus `slack` that still have open
/// work; returns how many changed.
pub async fn sweep(app: &App, slack: chrono::Duration) -> Result<usize, Problem> {
    let now = Utc::now();
    let since = now - chrono::Duration::minutes(app.policy.longest_wait_minutes().into()) - slack;
    let mut changed = 0;
    for accession in app.store.recent_studies_with_open_work(since).await? {
        let mut tx = app.store.begin().await?;
        let Some(study) = tx.study(&accession).await? else {
            continue;
        };
        let mut outcome = Outcome::status("rerouted");
        if let Some(study) = route_again(app, &mut tx, &study, now, &mut outcome).await? {
            let decision = outcome.decision.as_ref().expect("route_again decided");
            audit_decision(&mut tx, now, &study, decision, &outcome.work_items).await?;
            changed += 1;
        }
        tx.commit().await?;
    }
    Ok(changed)
}

/// Routes a stored study again now (late images arrived after it was routed); true when
/// the decision changed its work.
pub async fn reroute(app: &App, accession: &str) -> Result<bool, Problem> {
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let Some(study) = tx.study(accession).await? else {
        return Ok(false);
    };
    let mut outcome = Outcome::status("rerouted");
    let changed = match route_again(app, &mut tx, &study, now, &mut outcome).await? {
        Some(study) => {
            let decision = outcome.decision.as_ref().expect("route_again decided");
            audit_decision(&mut tx, now, &study, decision, &outcome.work_items).await?;
            true
        }
        None => false,
    };
    tx.commit().await?;
    Ok(changed)
}

async fn open_work(
    app: &App,
    tx: &mut Tx,
    study: &Study,
    d: &Decision,
    now: DateTime<Utc>,
) -> Result<Vec<WorkItem>, Problem> {
    let id = tx.insert_decision(study.accession.as_str(), d, now).await?;
    owe_routed_reports(app, tx, study, id, d, now).await?;
    let mut items = Vec::new();
    for new in NewWorkItem::for_decision(&study.accession, id, d, now) {
        items.push(tx.insert_work_item(&new).await?);
    }
    // Autonomous normal has no prospective read: its sampled review opens now.
    if d.pathway == radgate_domain::decision::Pathway::AutonomousNormal {
        items.extend(
            crate::gatekeeping::open_review_if_drawn(tx, &study.accession, d.pathway, now).await?,
        );
    }
    Ok(items)
}

/// Owes the PACS (`--sr-to`) radgate's SR of each AI result decision `id` used, with how
/// it routed the study: a new decision is a new report, so the viewer shows the routing in
/// force.
async fn owe_routed_reports(
    app: &App,
    tx: &mut Tx,
    study: &Study,
    id: i64,
    d: &Decision,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    if app.sr_to.is_empty() || d.ai_evidence.is_empty() {
        return Ok(());
    }
    let accession = study.accession.as_str();
    for result in used_results(app, tx, accession, d).await? {
        let payload = crate::sr_out::routed_payload(id, &result);
        for dest in app.sr_to.iter() {
            tx.enqueue(dest, accession, crate::forward::AI_SR_ROUTED, &payload, now)
                .await?;
        }
    }
    Ok(())
}

/// The ids of the AI results of study `accession` that decision `d` used and clinicians
/// may see (`ai::used_by`).
async fn used_results(
    app: &App,
    tx: &mut Tx,
    accession: &str,
    d: &Decision,
) -> Result<Vec<String>, Problem> {
    let results = tx.ai_results_for(accession).await?;
    let changes = tx.latest_status_changes().await?;
    let used = radgate_domain::ai::used_by(d, &results, &app.department.ai_applications, &changes);
    Ok(used.into_iter().map(|r| r.id.clone()).collect())
}

async fn audit_decision(
    tx: &mut Tx,
    now: DateTime<Utc>,
    study: &Study,
    d: &Decision,
    items: &[WorkItem],
) -> Result<(), Problem> {
    let detail = serde_json::json!({
        "policy_version": d.policy_version,
        "rule": d.rule.as_ref().map(|r| r.as_str()),
        "pathway": d.pathway.code(),
        "task": d.task.as_str(),
        "priority": d.priority.code(),
        "work_items": items.iter().map(|w| w.id).collect::<Vec<_>>(),
    });
    tx.audit(&event(
        now,
        "system",
        AuditKind::Decision,
        study.accession.as_str(),
        detail,
    ))
    .await?;
    Ok(())
}
