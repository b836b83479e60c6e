//! The portfolio: my assessments (KKB), my progress over the six competence domains, my
//! authorizations with their evidence, what is missing and when they lapse; requesting an
//! assessment; the assessor's inbox to confirm.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};
use radgate_domain::ids::{ProfessionalId, TaskTypeId};
use radgate_domain::portfolio::{
    self, Assessment, AssessmentStatus, AuthorizationStatus, Entrustment,
};
use radgate_domain::programme;

use super::form::{Posted, Viewer};
use super::home::task_name;
use super::layout::{self, Nav};
use super::{after, shown};
use crate::assessments::NewAssessment;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

pub async fn mine(State(app): State<App>, v: Viewer) -> Response {
    let me = v.user.professional.to_string();
    show(&app, &v, &me).await
}

pub async fn of(State(app): State<App>, v: Viewer, Path(id): Path<String>) -> Response {
    show(&app, &v, &id).await
}

async fn show(app: &App, v: &Viewer, id: &str) -> Response {
    shown(v, build(app, v, id).await)
}

fn status_name(t: &super::text::Text, s: AuthorizationStatus) -> &'static str {
    let i = match s {
        AuthorizationStatus::Authorized => 0,
        AuthorizationStatus::NotYet => 1,
        AuthorizationStatus::Expired => 2,
        AuthorizationStatus::Suspended => 3,
    };
    t.auth_statuses[i]
}

async fn build(app: &App, v: &Viewer, id: &str) -> Result<Response, Problem> {
    let t = v.t();
    // The privacy rule of the API: owner, supervisors and programme staff only.
    let subject = crate::assessments::viewable_subject(app, &v.user.professional, id)?;
    let folio = app.store.portfolio(&subject.id).await?;
    let today = Utc::now().date_naive();
    let auths: Vec<_> = app
        .department
        .tasks
        .iter()
        .filter(|task| {
            !task.radiologist_only
                || subject.role == radgate_domain::professional::Role::Radiologist
        })
        .map(|task| {
            portfolio::derive(
                &subject.id,
                subject.role,
                &task.id,
                &app.department,
                &folio,
                today,
            )
        })
        .collect();
    let progress = app.department.trainee(&subject.id).and_then(|trainee| {
        app.department
            .programme(&trainee.programme)
            .map(|p| programme::progress(trainee, p, &folio.assessments, today))
    });
    let own = subject.id == v.user.professional;
    let ranking = match app.department.trainee(&subject.id) {
        Some(trainee) if own && !app.department.placements.is_empty() => {
            let round = current_round(today);
            let current =
                crate::placements::own_ranking(app, &trainee.programme, &round, &subject.id)
                    .await?;
            Some(ranking_form(
                app,
                v,
                &trainee.programme,
                &round,
                current.map(|r| r.ranked).unwrap_or_default(),
            ))
        }
        _ => None,
    };
    let body = html! {
        @if let Some(p) = &progress {
            h2 { (t.competence_domains) }
            (domain_chart(t, &p.per_domain))
            @if !p.gaps.is_empty() { ul { @for g in &p.gaps { li { (g) } } } }
        }
        h2 { (t.authorizations) }
        (layout::scroll(t.authorizations, html! {
            table {
                thead { tr { th scope="col" { (t.task) } th scope="col" { (t.status) } th scope="col" { (t.supervision) } th scope="col" { (t.evidence) } th scope="col" { (t.missing) } th scope="col" { (t.lapses_on) } } }
                tbody {
                    @for a in &auths {
                        tr {
                            td { (task_name(app, a.task.as_str())) }
                            td { @if a.status == AuthorizationStatus::Authorized { span.badge.ok { (status_name(t, a.status)) } } @else { span.badge.warn { (status_name(t, a.status)) } } }
                            td { (a.supervision.map(|s| t.supervision(s)).unwrap_or_default()) }
                            td { (a.evidence.join(", ")) }
                            td { (a.missing.join("; ")) }
                            td { (a.lapses_on.map(|d| d.to_string()).unwrap_or_default()) }
                        }
                    }
                }
            }
        }))
        h2 { (t.assessments) }
        @if folio.assessments.is_empty() { p.muted { (t.no_assessments) } } @else { (assessments_table(app, v, &folio.assessments, false)) }
        @if own { (request_form(app, v)) }
        @if let Some(r) = &ranking { (r) }
    };
    Ok(layout::page(
        v,
        app,
        &format!("{} · {}", t.portfolio, subject.id),
        Nav::Portfolio,
        body,
    ))
}

/// Assessments per competence domain against what the programme asks, as bars. Inline
/// SVG: no script, no style attribute, a text alternative in the table beside it.
fn domain_chart(t: &super::text::Text, counts: &[programme::Count]) -> Markup {
    let max = counts
        .iter()
        .map(|c| c.have.max(c.need))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let width = 300.0;
    html! {
        div.diff {
            svg role="img" aria-label=(t.competence_domains) viewBox=(format!("0 0 {} {}", width + 10.0, counts.len() * 24 + 4)) width="100%" {
                @for (i, c) in counts.iter().enumerate() {
                    rect x="0" y=(i * 24 + 4) width=(format!("{:.1}", width * c.have as f64 / max)) height="14" fill="#0b5cad" {}
                    rect x=(format!("{:.1}", width * c.need as f64 / max)) y=(i * 24) width="2" height="22" fill="#a4001d" {}
                }
            }
            table {
                thead { tr { th scope="col" { (t.competence_domains) } th scope="col" { "✔" } th scope="col" { "/" } } }
                tbody {
                    @for (i, c) in counts.iter().enumerate() {
                        tr { td { (t.domain_names.get(i).copied().unwrap_or(c.name.as_str())) } td { (c.have) } td { (c.need) } }
                    }
                }
            }
        }
    }
}

fn assessments_table(app: &App, v: &Viewer, list: &[Assessment], confirm: bool) -> Markup {
    let t = v.t();
    layout::scroll(
        t.assessments,
        html! {
            table {
                thead { tr {
                    th scope="col" { (t.date) } th scope="col" { (t.assessee) } th scope="col" { (t.assessor) } th scope="col" { (t.task) }
                    th scope="col" { (t.placement) } th scope="col" { (t.entrustment) } th scope="col" { (t.narrative) } th scope="col" { (t.status) }
                } }
                tbody {
                    @for a in list {
                        tr {
                            td { (a.date) } td { (a.assessee.as_str()) } td { (a.assessor.as_str()) } td { (task_name(app, a.task.as_str())) }
                            td { (a.placement) } td { (a.entrustment.level()) } td { (a.narrative) }
                            td {
                                @match a.status {
                                    AssessmentStatus::Confirmed => span.badge.ok { (t.confirmed) },
                                    AssessmentStatus::Requested => span.badge.warn { (t.requested) },
                                }
                                @if confirm && a.status == AssessmentStatus::Requested {
                                    form.inline method="post" action=(format!("/assessments/{}/confirm", a.id)) {
                                        (layout::csrf(v))
                                        " " button type="submit" aria-label=(format!("{} {}", t.confirm, a.id)) { (t.confirm) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn request_form(app: &App, v: &Viewer) -> Markup {
    let t = v.t();
    let today = Utc::now().date_naive();
    html! {
        section.panel #request {
            h2 { (t.request_assessment) }
            form method="post" action="/assessments/request" {
                (layout::csrf(v))
                div.filters {
                    div {
                        label for="rq-assessor" { (t.assessor) }
                        select #rq-assessor name="assessor" required {
                            @for p in app.department.professionals.iter().filter(|p| p.id != v.user.professional) {
                                option value=(p.id.as_str()) { (p.id.as_str()) " (" (t.role(p.role)) ")" }
                            }
                        }
                    }
                    div {
                        label for="rq-task" { (t.task) }
                        select #rq-task name="task" required {
                            @for task in &app.department.tasks { option value=(task.id.as_str()) { (task.name) } }
                        }
                    }
                    div {
                        label for="rq-date" { (t.date) }
                        input #rq-date type="date" name="date" value=(today.to_string()) max=(today.to_string()) required;
                    }
                    div {
                        label for="rq-placement" { (t.placement) }
                        input #rq-placement type="text" name="placement" required;
                    }
                    div {
                        label for="rq-entrustment" { (t.entrustment) }
                        select #rq-entrustment name="entrustment" {
                            @for level in 1..=5u8 { option value=(level) selected[level == 2] { (level) } }
                        }
                    }
                }
                fieldset {
                    legend { (t.competence_domains) }
                    div.filters {
                        @for (i, name) in t.domain_names.iter().enumerate() {
                            div {
                                label for=(format!("rq-score-{i}")) { (name) }
                                select id=(format!("rq-score-{i}")) name=(format!("score{i}")) {
                                    option value="" { "—" }
                                    @for s in 1..=5u8 { option value=(s) { (s) } }
                                }
                            }
                        }
                    }
                }
                label for="rq-narrative" { (t.narrative) }
                textarea #rq-narrative name="narrative" {}
                p { button type="submit" { (t.request) } }
            }
        }
    }
}

/// The round a trainee ranks for by default: the half-year of `today` (`2026-1` from
/// January to June, `2026-2` from July).
fn current_round(today: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!(
        "{}-{}",
        today.year(),
        if today.month() <= 6 { 1 } else { 2 }
    )
}

/// One select per choice, first choice first; an empty choice ends the list.
fn ranking_form(
    app: &App,
    v: &Viewer,
    programme: &str,
    round: &str,
    current: Vec<String>,
) -> Markup {
    let t = v.t();
    html! {
        section.panel #ranking {
            h2 { (t.placement_ranking) " · " (round) }
            form method="post" action="/placements/ranking" {
                (layout::csrf(v))
                input type="hidden" name="programme" value=(programme);
                input type="hidden" name="round" value=(round);
                div.filters {
                    @for i in 0..app.department.placements.len() {
                        div {
                            label for=(format!("choice-{i}")) { (t.choice) " " (i + 1) }
                            select id=(format!("choice-{i}")) name="choice" {
                                option value="" { "—" }
                                @for p in &app.department.placements {
                                    option value=(p.id) selected[current.get(i) == Some(&p.id)] { (p.subject) " (" (p.kind) ", " (p.institution) ")" }
                                }
                            }
                        }
                    }
                }
                p { button type="submit" { (t.save_ranking) } }
            }
        }
    }
}

pub async fn rank(State(app): State<App>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let ranked: Vec<String> = fields
        .all("choice")
        .map(str::trim)
        .take_while(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let programme = fields.get("programme").unwrap_or("").to_string();
    let round = fields.get("round").unwrap_or("").to_string();
    let done = crate::placements::rank(
        State(app),
        v.caller(),
        Path((programme, round)),
        Body(crate::placements::Ranked { ranked }),
    )
    .await;
    after(&v, done, "/portfolio")
}

fn parse_request(v: &Viewer, f: &super::form::Fields) -> Result<NewAssessment, Problem> {
    let field = |name: &'static str| {
        f.text(name)
            .ok_or_else(|| Problem::invalid(name, format!("`{name}` is required")))
    };
    let mut scores = [None; 6];
    for (i, s) in scores.iter_mut().enumerate() {
        if let Some(raw) = f.text(&format!("score{i}")) {
            *s = Some(
                raw.parse::<u8>()
                    .map_err(|e| Problem::invalid("scores", e.to_string()))?,
            );
        }
    }
    let level: u8 = field("entrustment")?
        .parse()
        .map_err(|e: std::num::ParseIntError| Problem::invalid("entrustment", e.to_string()))?;
    Ok(NewAssessment {
        id: format!("REQ-{}", &crate::auth::new_secret()[..12]),
        assessee: v.user.professional.clone(),
        assessor: ProfessionalId::parse(field("assessor")?.to_string())
            .map_err(|e| Problem::invalid("assessor", e.to_string()))?,
        assessor_background: None,
        task: TaskTypeId::parse(field("task")?.to_string())
            .map_err(|e| Problem::invalid("task", e.to_string()))?,
        placement: field("placement")?.to_string(),
        date: field("date")?
            .parse()
            .map_err(|e: chrono::ParseError| Problem::invalid("date", e.to_string()))?,
        scores,
        entrustment: Entrustment::try_from(level)
            .map_err(|e| Problem::invalid("entrustment", e))?,
        narrative: f.get("narrative").unwrap_or("").to_string(),
    })
}

/// The assessee asks; the API's handler checks who may assess (the domain's `may_assess`)
/// and notifies the assessor.
pub async fn request(State(app): State<App>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let new = match parse_request(&v, &fields) {
        Ok(n) => n,
        Err(p) => return v.problem(p),
    };
    after(
        &v,
        crate::assessments::create(State(app), v.caller(), Body(new)).await,
        "/portfolio",
    )
}

pub async fn inbox(State(app): State<App>, v: Viewer) -> Response {
    let t = v.t();
    match app.store.awaiting_confirmation(&v.user.professional).await {
        Ok(list) => {
            let body = html! {
                @if list.is_empty() { p.muted { (t.inbox_empty) } } @else { (assessments_table(&app, &v, &list, true)) }
            };
            layout::page(&v, &app, t.assessor_inbox, Nav::Inbox, body)
        }
        Err(e) => v.problem(e.into()),
    }
}

pub async fn confirm(State(app): State<App>, Path(id): Path<String>, posted: Posted) -> Response {
    let v = posted.viewer;
    after(
        &v,
        crate::assessments::confirm(State(app), v.caller(), Path(id)).await,
        "/assessments/inbox",
    )
}
