//! AI oversight for the RAIO and radiologists: the register with its warnings and status
//! changes, per application the metrics with intervals by month, the server's own SVG
//! charts, open alarms (cleared with a reason by the RAIO), the gatekeeper safety report
//! and the pilots.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use radgate_domain::monitoring::{MetricsRow, Rate};
use radgate_domain::truth::Source;

use super::form::{Posted, Viewer};
use super::home::task_name;
use super::layout::{self, Nav};
use super::{after, shown};
use crate::extract::{Body, Params};
use crate::problem::Problem;
use crate::state::App;

pub async fn dashboard(State(app): State<App>, v: Viewer) -> Response {
    shown(&v, build_dashboard(&app, &v).await)
}

fn rate(r: &Option<Rate>) -> Markup {
    html! {
        @match r {
            Some(r) => { (format!("{:.3}", r.estimate)) " " span.muted { (format!("[{:.3}, {:.3}]", r.wilson[0], r.wilson[1])) } }
            None => span.muted { "—" },
        }
    }
}

async fn build_dashboard(app: &App, v: &Viewer) -> Result<Response, Problem> {
    let t = v.t();
    let caller = v.caller();
    caller.ai_overseer()?;
    let changes = app.store.latest_status_changes().await?;
    let today = chrono::Utc::now().date_naive();
    let mut open_alarms = Vec::new();
    for a in &app.department.ai_applications {
        open_alarms.extend(app.store.alarms(a.id.as_str(), true).await?);
    }
    let mut safety = Vec::new();
    for task in app.department.tasks.iter().filter(|t| t.ai_supported) {
        let report = crate::gatekeeping::safety(
            State(app.clone()),
            caller.clone(),
            Path(task.id.to_string()),
            Params(crate::gatekeeping::Width { width: None }),
        )
        .await?;
        safety.push(report.0);
    }
    let pilots = app.store.pilots().await?;
    let body = html! {
        h2 { (t.alarms) }
        @if open_alarms.is_empty() { p.muted { (t.no_alarms) } } @else { (alarms_table(v, &open_alarms)) }
        h2 { (t.register) }
        (layout::scroll(t.register, html! {
            table {
                thead { tr { th scope="col" { (t.application) } th scope="col" { (t.version) } th scope="col" { (t.status) } th scope="col" { (t.warnings) } } }
                tbody {
                    @for a in &app.department.ai_applications {
                        @let current = a.in_force(&changes);
                        tr {
                            td { a href=(format!("/ai/{}", a.id.as_str())) { (a.name) } br; span.muted { (a.vendor) } }
                            td { (current.version) }
                            td { (t.ai_status(current.status)) }
                            td { ul { @for w in current.register_warnings(today) { li { (w.to_string()) } } } }
                        }
                    }
                }
            }
        }))
        h2 { (t.pilots) }
        ul { @for (p, d) in &pilots { li { a href=(format!("/pilots/{}", p.id)) { (p.id) } " · " (p.app.as_str()) " · " (p.start) " – " (p.end) @if let Some(d) = d { " · " strong { (d.outcome.code()) } } } } }
        h2 { (t.gatekeeper_safety) }
        (layout::scroll(t.gatekeeper_safety, html! {
            table {
                thead { tr { th scope="col" { (t.task) } th scope="col" { (t.reviewed) } th scope="col" { (t.missed) } th scope="col" { "NPV (Wilson 95%)" } th scope="col" { (t.more_reviews) } } }
                tbody {
                    @for s in &safety {
                        tr { td { (task_name(app, s.task.as_str())) } td { (s.reviewed) } td { (s.misses) } td { (rate(&s.npv)) } td { (s.more_reviews_needed.map(|n| n.to_string()).unwrap_or_default()) } }
                    }
                }
            }
        }))
    };
    Ok(layout::page(v, app, t.ai_dashboard, Nav::Ai, body))
}

fn alarms_table(v: &Viewer, alarms: &[radgate_store::Alarm]) -> Markup {
    let t = v.t();
    layout::scroll(
        t.alarms,
        html! {
            table {
                thead { tr { th scope="col" { (t.application) } th scope="col" { (t.finding) } th scope="col" { (t.kind) } th scope="col" { (t.detail) } th scope="col" { (t.raised) } th scope="col" { (t.clear_alarm) } } }
                tbody {
                    @for a in alarms {
                        tr.stat {
                            td { a href=(format!("/ai/{}", a.app)) { (a.app) } }
                            td { (a.finding) } td { (t.alarm_kind(&a.kind)) } td { (a.detail) } td { (layout::when(a.raised_at)) }
                            td {
                                @if a.cleared_at.is_none() {
                                    form method="post" action=(format!("/alarms/{}/clear", a.id)) {
                                        (layout::csrf(v))
                                        label for=(format!("reason-{}", a.id)) { (t.reason) }
                                        input type="text" id=(format!("reason-{}", a.id)) name="reason" required;
                                        " " button type="submit" { (t.clear_alarm) }
                                    }
                                } @else {
                                    (a.cleared_by.clone().unwrap_or_default())
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The application page's one choice: the metrics over calls whose truth came from one
/// source only.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFilter {
    source: Option<String>,
}

pub async fn application(
    State(app): State<App>,
    v: Viewer,
    Path(id): Path<String>,
    Params(f): Params<SourceFilter>,
) -> Response {
    shown(&v, build_application(&app, &v, id, f).await)
}

async fn build_application(
    app: &App,
    v: &Viewer,
    id: String,
    f: SourceFilter,
) -> Result<Response, Problem> {
    let t = v.t();
    let source = match f.source.as_deref() {
        None | Some("") => None,
        Some(s) => Some(Source::parse(s).ok_or_else(|| {
            Problem::invalid("source", format!("`{s}` is not a source of truth"))
        })?),
    };
    let caller = v.caller();
    let entry = crate::register::show(State(app.clone()), caller.clone(), Path(id.clone()))
        .await?
        .0;
    let window = |by: &str| crate::monitoring::Window {
        from: None,
        to: None,
        by: Some(by.to_string()),
        auc: false,
        source: source.map(|s| s.code().to_string()),
    };
    let mut strata: Vec<Vec<MetricsRow>> = Vec::new();
    for by in ["month", "site", "scanner"] {
        let rows = crate::monitoring::metrics(
            State(app.clone()),
            caller.clone(),
            Path(id.clone()),
            Params(window(by)),
        )
        .await?;
        strata.push(rows.0);
    }
    let [by_month, by_site, by_scanner] = <[Vec<MetricsRow>; 3]>::try_from(strata)
        .unwrap_or_else(|_| unreachable!("three strata asked, three answered"));
    let alarms = app.store.alarms(&id, false).await?;
    let pilots: Vec<_> = app
        .store
        .pilots()
        .await?
        .into_iter()
        .filter(|(p, _)| p.app.as_str() == id)
        .collect();
    let history = app.store.status_history(&id).await?;
    let keeper = radgate_domain::authz::keeps_ai_register(&v.user.professional, &app.department);
    let metrics_table = |rows: &[MetricsRow]| {
        layout::scroll(
            t.metrics,
            html! {
                table {
                    thead { tr { th scope="col" { (t.stratum) } th scope="col" { (t.version) } th scope="col" { (t.finding) } th scope="col" { "n" } th scope="col" { (t.sensitivity) } th scope="col" { (t.specificity) } th scope="col" { "PPV" } th scope="col" { "NPV" } } }
                    tbody {
                        @for r in rows {
                            @let c = &r.metrics.counts;
                            tr { td { (r.stratum.clone().unwrap_or_default()) } td { (r.version) } td { (r.finding) } td { (c.tp + c.fp + c.fn_ + c.tn) }
                                 td { (rate(&r.metrics.sensitivity)) } td { (rate(&r.metrics.specificity)) } td { (rate(&r.metrics.ppv)) } td { (rate(&r.metrics.npv)) } }
                        }
                    }
                }
            },
        )
    };
    let name = entry.entry.name.clone();
    let body = html! {
        p { (entry.entry.vendor) " · " (t.version) " " (entry.entry.version) " · " (t.status) " " strong { (t.ai_status(entry.status)) } }
        @if !entry.warnings.is_empty() { ul { @for w in &entry.warnings { li.error { (w.to_string()) } } } }
        h2 { (t.alarms) }
        @if alarms.iter().all(|a| a.cleared_at.is_some()) { p.muted { (t.no_alarms) } }
        @if !alarms.is_empty() { (alarms_table(v, &alarms)) }
        h2 { (t.charts) }
        @for (chart, label) in [("performance", t.chart_performance), ("cusum", t.chart_cusum), ("roc", t.chart_roc)] {
            figure.chart {
                img src=(format!("/api/v1/ai/{id}/charts/{chart}.svg")) alt=(format!("{name}: {label}"));
                figcaption { (label) }
            }
        }
        form.filters method="get" action=(format!("/ai/{id}")) {
            label for="truth-source" { (t.truth_source) }
            select #truth-source name="source" {
                option value="" selected[source.is_none()] { (t.all_sources) }
                @for s in Source::ALL { option value=(s.code()) selected[source == Some(s)] { (t.truth_source(s)) } }
            }
            " " button.secondary type="submit" { (t.filter) }
        }
        h2 { (t.metrics) " · " (t.by_month) }
        (metrics_table(&by_month))
        h2 { (t.metrics) " · " (t.site) }
        (metrics_table(&by_site))
        h2 { (t.metrics) " · " (t.scanner) }
        (metrics_table(&by_scanner))
        h2 { (t.status_changes) }
        ul { @for h in &history { li { (h.at.format("%Y-%m-%d")) ": " (h.from.code()) " → " (h.to.code()) " · " (h.by) " · " (h.reason) } } }
        @if keeper {
            section.panel #status {
                h3 { (t.change_status) }
                form method="post" action=(format!("/ai/{id}/status")) {
                    (layout::csrf(v))
                    label for="new-status" { (t.status) }
                    select #new-status name="status" {
                        @for s in radgate_domain::ai::AiStatus::ALL { option value=(s.code()) selected[s == entry.status] { (t.ai_status(s)) } }
                    }
                    label for="status-reason" { (t.reason) }
                    input #status-reason type="text" name="reason" required;
                    p { button type="submit" { (t.change_status) } }
                }
            }
        }
        h2 { (t.pilots) }
        ul {
            @for (p, decision) in &pilots {
                li { a href=(format!("/pilots/{}", p.id)) { (p.id) } ": " (p.start) " – " (p.end) @if let Some(d) = decision { " · " strong { (d.outcome.code()) } } }
            }
        }
    };
    Ok(layout::page(
        v,
        app,
        &format!("{} · {name}", t.ai_dashboard),
        Nav::Ai,
        body,
    ))
}

/// Only the RAIO clears, with a reason (the API's handler decides).
pub async fn clear_alarm(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let c = crate::drift::Clearance {
        reason: fields.get("reason").unwrap_or("").to_string(),
    };
    after(
        &v,
        crate::drift::clear(State(app), v.caller(), Path(id), Body(c)).await,
        "/ai",
    )
}

/// The RAIO changes an application's status, with a reason (the API's handler decides).
pub async fn change_status(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let b = crate::register::NewStatus {
        status: fields.get("status").unwrap_or("").to_string(),
        reason: fields.get("reason").unwrap_or("").to_string(),
    };
    after(
        &v,
        crate::register::change(State(app), v.caller(), Path(id.clone()), Body(b)).await,
        &format!("/ai/{id}"),
    )
}

fn verdict(t: &super::text::Text, v: radgate_domain::pilot::Verdict) -> Markup {
    use radgate_domain::pilot::Verdict;
    let (label, class) = match v {
        Verdict::Met => (t.verdict_met, "badge ok"),
        Verdict::NotShown => (t.verdict_not_shown, "badge warn"),
        Verdict::NotMet => (t.verdict_not_met, "badge stat"),
        Verdict::NoData => (t.verdict_no_data, "badge"),
    };
    html! { span class=(class) { (label) } }
}

/// A pilot: what was declared before it started against what was measured, and the
/// scale-up or stop decision (the RAIO's, once).
pub async fn pilot(State(app): State<App>, v: Viewer, Path(id): Path<String>) -> Response {
    let t = v.t();
    let report = match crate::pilots::report(State(app.clone()), v.caller(), Path(id.clone())).await
    {
        Ok(r) => r.0,
        Err(p) => return v.problem(p),
    };
    let keeper = radgate_domain::authz::keeps_ai_register(&v.user.professional, &app.department);
    let p = &report.pilot;
    let body = html! {
        p { (p.app.as_str()) " · " (p.start) " – " (p.end) " · " (t.baseline) " " (p.baseline_start) " – " (p.baseline_end) " · " (p.declared_by) " " (layout::when(p.declared_at)) }
        (layout::scroll(t.pilots, html! {
            table {
                thead { tr { th scope="col" { (t.declared) } th scope="col" { (t.measured) } th scope="col" { (t.verdict) } } }
                tbody { @for r in &report.rows { tr { td { (r.declared) } td { (r.measured) } td { (verdict(t, r.verdict)) } } } }
            }
        }))
        @match &report.decision {
            Some(d) => p.notice #decision { strong { (d.outcome.code()) } " · " (d.by) " · " (layout::when(d.at)) " · " (d.reason) },
            None => @if keeper {
                section.panel #decide {
                    h2 { (t.decide) }
                    form method="post" action=(format!("/pilots/{id}/decision")) {
                        (layout::csrf(&v))
                        fieldset {
                            legend { (t.decide) }
                            label { input type="radio" name="outcome" value="scale_up" required; " " (t.scale_up) }
                            label { input type="radio" name="outcome" value="stop"; " " (t.stop) }
                        }
                        label for="decision-reason" { (t.reason) }
                        textarea #decision-reason name="reason" required {}
                        p { button type="submit" { (t.decide) } }
                    }
                }
            },
        }
    };
    layout::page(&v, &app, &format!("{} · {id}", t.pilots), Nav::Ai, body)
}

pub async fn decide_pilot(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let b = crate::pilots::Decide {
        outcome: fields.get("outcome").unwrap_or("").to_string(),
        reason: fields.get("reason").unwrap_or("").to_string(),
    };
    after(
        &v,
        crate::pilots::decide(State(app), v.caller(), Path(id.clone()), Body(b)).await,
        &format!("/pilots/{id}"),
    )
}
