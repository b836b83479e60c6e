//! Drift checks and alarms over HTTP and in the background: the domain evaluates
//! (`radgate_domain::drift::evaluate`), this module raises what it finds as alarms with an
//! audit event and a notification to the RAIO, and lets only the RAIO clear them. While an
//! alarm is active, routing falls back for applications whose register entry asks for it
//! (see `ingest::usable`).

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::drift::{AlarmKind, DriftSettings, evaluate, input_mix};
use radgate_store::{Alarm, Stratum};
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

/// Evaluates every finding of the application and raises the new alarms.
pub async fn check(app: &App, app_id: &str, now: DateTime<Utc>) -> Result<Vec<Alarm>, Problem> {
    let Some(entry) = app.department.ai_application(app_id) else {
        return Err(Problem::not_found(format!(
            "no AI application `{app_id}` in the register"
        )));
    };
    let settings = DriftSettings::default();
    let today = now.date_naive();
    let mut raised = Vec::new();
    let mut signals = Vec::new();
    for spec in &entry.findings {
        let points = app.store.call_points(app_id, spec.code.as_str()).await?;
        // Each kind restarts from its own last clearance; evaluate once per distinct one.
        let mut found = Vec::new();
        for kind in [
            AlarmKind::Cusum,
            AlarmKind::BaselineRule,
            AlarmKind::SensitivityFloor,
            AlarmKind::ScoreShift,
        ]
        .map(AlarmKind::code)
        {
            let since = app
                .store
                .last_cleared(app_id, spec.code.as_str(), kind)
                .await?;
            found.extend(
                evaluate(&points, spec, &settings, since, today)
                    .into_iter()
                    .filter(|s| s.kind.code() == kind),
            );
        }
        signals.extend(found.into_iter().map(|s| (spec.code.to_string(), s)));
    }
    // The input mix is the application's, not a finding's: counted over its first
    // finding's calls (one per exam), and raised under the stratum's name.
    if let Some(spec) = entry.findings.first()
        && let Some(first) = app.store.first_call_day(app_id, spec.code.as_str()).await?
    {
        for by in Stratum::INPUT_MIX {
            let since = app
                .store
                .last_cleared(app_id, by.code(), AlarmKind::InputMix.code())
                .await?;
            let w = settings.windows(first, since, today);
            let count = |(from, to)| {
                app.store
                    .mix_counts(app_id, spec.code.as_str(), by, from, to)
            };
            let (base, recent) = (count(w.baseline).await?, count(w.recent).await?);
            if let Some(s) = input_mix(by.code(), &base, &recent, today) {
                signals.push((by.code().to_owned(), s));
            }
        }
    }
    for (finding, s) in signals {
        let falls_back = entry.fallback_on_alarm && s.kind.falls_back();
        let alarm = Alarm {
            id: format!("{app_id}:{finding}:{}:{}", s.kind.code(), s.day),
            app: app_id.to_owned(),
            finding,
            kind: s.kind.code().to_owned(),
            day: s.day,
            detail: s.detail,
            raised_at: now,
            cleared_at: None,
            cleared_by: None,
        };
        let mut tx = app.store.begin().await?;
        if tx.raise_alarm(&alarm).await? {
            let text = format!(
                "AI alarm on {app_id} ({}): {}{}",
                alarm.finding,
                alarm.detail,
                if falls_back {
                    "; routing falls back to reading without it until the alarm is cleared"
                } else {
                    ""
                }
            );
            if let Some(raio) = &app.department.raio {
                tx.notify(raio, now, &text).await?;
            }
            tx.audit(&AuditEvent {
                at: now,
                actor: "system".into(),
                kind: AuditKind::AiAlarm,
                subject: format!("ai/{app_id}"),
                detail: serde_json::json!({ "raised": alarm.id, "detail": alarm.detail,
                    "fallback": falls_back }),
            })
            .await?;
            tx.commit().await?;
            raised.push(alarm);
        }
    }
    Ok(raised)
}

/// The background check of every application in use or in shadow mode.
pub async fn check_all(app: &App, now: DateTime<Utc>) -> Result<usize, Problem> {
    let mut raised = 0;
    let changes = app.store.latest_status_changes().await?;
    for a in app
        .department
        .ai_applications
        .iter()
        .filter(|a| a.in_force(&changes).status.monitored())
    {
        raised += check(app, a.id.as_str(), now).await?.len();
    }
    Ok(raised)
}

pub async fn alarms(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<Alarm>>, Problem> {
    caller.ai_overseer()?;
    if app.department.ai_application(&id).is_none() {
        return Err(Problem::not_found(format!(
            "no AI application `{id}` in the register"
        )));
    }
    Ok(axum::Json(app.store.alarms(&id, false).await?))
}

/// Evaluates now instead of waiting for the background check; returns what it raised.
pub async fn run_check(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<Alarm>>, Problem> {
    caller.ai_overseer()?;
    Ok(axum::Json(check(&app, &id, Utc::now()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clearance {
    pub(crate) reason: String,
}

/// Only the RAIO clears an alarm, with a reason; routing uses the application again.
pub async fn clear(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(c): Body<Clearance>,
) -> Result<axum::Json<Alarm>, Problem> {
    let person = caller.register_keeper(&app.department)?;
    if c.reason.trim().is_empty() {
        return Err(Problem::invalid("reason", "say why the alarm is cleared"));
    }
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    let Some(alarm) = tx
        .clear_alarm(&id, person.professional.as_str(), now)
        .await?
    else {
        return Err(Problem::not_found(format!("no active alarm `{id}`")));
    };
    tx.audit(&AuditEvent {
        at: now,
        actor: person.professional.to_string(),
        kind: AuditKind::AiAlarm,
        subject: format!("ai/{}", alarm.app),
        detail: serde_json::json!({ "cleared": alarm.id, "reason": c.reason.trim() }),
    })
    .await?;
    tx.commit().await?;
    Ok(axum::Json(alarm))
}
