//! The home screen: my open items, my notifications, my authorizations that lapse soon.

use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use maud::html;
use radgate_domain::portfolio;

use super::form::Viewer;
use super::layout::{self, Nav};
use super::shown;
use super::worklist::items_table;
use crate::problem::Problem;
use crate::state::App;

/// How far ahead the home screen warns of a lapsing authorization.
const LAPSE_WARNING_DAYS: i64 = 60;

pub async fn page(State(app): State<App>, v: Viewer) -> Response {
    shown(&v, build(&app, &v).await)
}

async fn build(app: &App, v: &Viewer) -> Result<Response, Problem> {
    let t = v.t();
    let me = &v.user.professional;
    let held = app.store.held_by(me).await?;
    let notes = app.store.notifications(me).await?;
    let today = Utc::now().date_naive();
    let folio = app.store.portfolio(me).await?;
    let lapsing: Vec<_> = app
        .department
        .tasks
        .iter()
        .map(|task| portfolio::derive(me, v.user.role, &task.id, &app.department, &folio, today))
        .filter(|a| {
            a.lapses_on
                .is_some_and(|d| (d - today).num_days() <= LAPSE_WARNING_DAYS)
        })
        .collect();
    let mut committees = Vec::new();
    for r in &app.department.rubrics {
        committees.extend(
            app.store
                .rubric_assessments(&r.id)
                .await?
                .into_iter()
                .filter(|a| a.on_committee(me) && a.finalisation.is_none()),
        );
    }
    // Thesis reminders addressed to me (as the trainee or the responsible supervisor).
    let mut reminders = Vec::new();
    for plan in &app.department.theses {
        let mine =
            plan.trainee == *me || plan.team.iter().any(|s| s.responsible && &s.person == me);
        if !mine {
            continue;
        }
        let (plan_on, mid_on) = app.store.milestones_of(&plan.trainee).await?;
        reminders.extend(
            radgate_domain::thesis::reminders(&plan.with(plan_on, mid_on), today)
                .into_iter()
                .filter(|r| &r.to == me),
        );
    }
    let body = html! {
        @if !reminders.is_empty() {
            h2 { (t.reminders) }
            ul #reminders { @for r in &reminders { li { (r.text) } } }
        }
        h2 { (t.my_open_items) }
        @if held.is_empty() {
            p.muted { (t.none_held) }
        } @else {
            (items_table(app, v, &held, true).await?)
        }
        h2 { (t.notifications) }
        @if notes.is_empty() {
            p.muted { (t.no_notifications) }
        } @else {
            ul.notifications {
                @for n in notes.iter().rev().take(20) {
                    li { span.muted { (layout::when(n.at)) } " " (n.text) }
                }
            }
        }
        @if !committees.is_empty() {
            h2 { (t.committees) }
            ul { @for a in &committees { li { a href=(format!("/rubric-assessments/{}", a.id)) { (a.title) } " · " (a.subject.as_str()) } } }
        }
        h2 { (t.lapsing_soon) }
        @if lapsing.is_empty() {
            p.muted { (t.nothing_lapses) }
        } @else {
            ul {
                @for a in &lapsing {
                    li {
                        (task_name(app, a.task.as_str())) ": " (t.lapses_on) " "
                        (a.lapses_on.map(|d| d.to_string()).unwrap_or_default())
                    }
                }
            }
        }
    };
    Ok(layout::page(v, app, t.home, Nav::Home, body))
}

/// A task as the department's catalog names it.
pub fn task_name<'a>(app: &'a App, id: &'a str) -> &'a str {
    app.department.task(id).map_or(id, |t| t.name.as_str())
}
