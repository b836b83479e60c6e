//! The worklist: the items the person may claim, in worklist order, with filters and
//! paging; their own items; claim and release. The list refreshes itself over server-sent
//! events whenever the store's change stamp moves, whichever instance moved it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{Markup, html};
use radgate_domain::Priority;
use radgate_domain::ai::AiResult;
use radgate_domain::authz;
use radgate_domain::ids::TaskTypeId;
use radgate_domain::workitem::WorkItem;
use radgate_store::{WorklistQuery, WorklistRow};
use serde::Deserialize;
use tokio::sync::watch;

use super::form::{Posted, Viewer};
use super::home::task_name;
use super::layout::{self, Nav};
use super::{after, see_other, shown};
use crate::extract::ItemId;
use crate::problem::Problem;
use crate::state::App;

const PAGE_SIZE: u32 = 50;
/// How often the store's change stamp is read while anyone watches a worklist.
pub const POLL_EVERY: Duration = Duration::from_millis(1000);

/// Tells open worklists that work changed. One poller per process reads the store's
/// change stamp (so changes made by other instances on the same PostgreSQL arrive too),
/// and only while someone is watching.
pub struct Changes {
    stamp: watch::Sender<i64>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            stamp: watch::channel(0).0,
        }
    }
}

impl Changes {
    pub fn watch(&self) -> watch::Receiver<i64> {
        self.stamp.subscribe()
    }

    /// Reads the stamp forever, publishing each new value while there are watchers.
    pub async fn run(app: App) {
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            if app.changes.stamp.receiver_count() == 0 {
                continue;
            }
            match app.store.change_stamp().await {
                Ok(s) => {
                    app.changes.stamp.send_if_modified(|old| {
                        let moved = *old != s;
                        *old = s;
                        moved
                    });
                }
                Err(e) => tracing::warn!("worklist change stamp: {e}"),
            }
        }
    }
}

/// How long the filters' choices (the modalities and sites with open work) are reused:
/// finding them reads every open item, and they change rarely.
const FACETS_FOR: Duration = Duration::from_secs(30);

/// The modalities and the sites with open work.
type Choices = (Vec<String>, Vec<String>);

/// The filters' choices, kept for [`FACETS_FOR`].
#[derive(Default)]
pub struct Facets {
    kept: std::sync::Mutex<Option<(std::time::Instant, Choices)>>,
}

impl Facets {
    async fn get(&self, app: &App) -> Result<Choices, Problem> {
        if let Some((at, f)) = self.kept.lock().expect("facets lock").as_ref()
            && at.elapsed() < FACETS_FOR
        {
            return Ok(f.clone());
        }
        let f = app.store.open_work_facets().await?;
        *self.kept.lock().expect("facets lock") = Some((std::time::Instant::now(), f.clone()));
        Ok(f)
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    modality: Option<String>,
    site: Option<String>,
    priority: Option<String>,
    task: Option<String>,
    /// `authorize`: the authorization queue, items whose report waits as preliminary.
    queue: Option<String>,
    page: Option<u32>,
}

impl Filters {
    fn nonblank(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    fn authorization_queue(&self) -> bool {
        Filters::nonblank(&self.queue) == Some("authorize")
    }

    fn query_string(&self, page: u32) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("modality", &self.modality),
            ("site", &self.site),
            ("priority", &self.priority),
            ("task", &self.task),
            ("queue", &self.queue),
        ] {
            if let Some(v) = Filters::nonblank(v) {
                q.append_pair(k, v);
            }
        }
        if page > 0 {
            q.append_pair("page", &page.to_string());
        }
        q.finish()
    }
}

/// The worklist query this person may run: the domain decides the tasks.
async fn query(app: &App, v: &Viewer, f: &Filters) -> Result<WorklistQuery, Problem> {
    let portfolio = app.store.portfolio(&v.user.professional).await?;
    let tasks = authz::claimable_tasks(
        &v.user.professional,
        v.user.role,
        &app.department,
        &portfolio,
        Utc::now().date_naive(),
    );
    let priority = match Filters::nonblank(&f.priority) {
        Some(p) => Some(
            Priority::ALL
                .into_iter()
                .find(|x| x.code() == p)
                .ok_or_else(|| Problem::invalid("priority", format!("unknown priority `{p}`")))?,
        ),
        None => None,
    };
    let task = match Filters::nonblank(&f.task) {
        Some(t) => Some(TaskTypeId::parse(t).map_err(|e| Problem::invalid("task", e.to_string()))?),
        None => None,
    };
    Ok(WorklistQuery {
        tasks,
        modality: Filters::nonblank(&f.modality).map(str::to_string),
        site: Filters::nonblank(&f.site).map(str::to_string),
        priority,
        task,
        preliminary_only: f.authorization_queue(),
        offset: f.page.unwrap_or(0).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
    })
}

pub async fn page(State(app): State<App>, v: Viewer, Query(f): Query<Filters>) -> Response {
    shown(&v, build_page(&app, &v, &f).await)
}

async fn build_page(app: &App, v: &Viewer, f: &Filters) -> Result<Response, Problem> {
    let t = v.t();
    let q = query(app, v, f).await?;
    let (modalities, sites) = app.facets.get(app).await?;
    let selected =
        |value: &str, current: &Option<String>| Filters::nonblank(current) == Some(value);
    let queue = f.authorization_queue();
    let body = html! {
        form.filters method="get" action="/worklist" {
            @if queue { input type="hidden" name="queue" value="authorize"; }
            div {
                label for="f-modality" { (t.modality) }
                select #f-modality name="modality" {
                    option value="" { (t.any) }
                    @for m in &modalities { option value=(m) selected[selected(m, &f.modality)] { (m) } }
                }
            }
            div {
                label for="f-site" { (t.site) }
                select #f-site name="site" {
                    option value="" { (t.any) }
                    @for s in &sites { option value=(s) selected[selected(s, &f.site)] { (s) } }
                }
            }
            div {
                label for="f-priority" { (t.priority) }
                select #f-priority name="priority" {
                    option value="" { (t.any) }
                    @for p in Priority::ALL { option value=(p.code()) selected[selected(p.code(), &f.priority)] { (t.priority(p)) } }
                }
            }
            div {
                label for="f-task" { (t.task) }
                select #f-task name="task" {
                    option value="" { (t.any) }
                    @for task in &q.tasks { option value=(task.as_str()) selected[selected(task.as_str(), &f.task)] { (task_name(app, task.as_str())) } }
                }
            }
            div { button type="submit" { (t.filter) } }
        }
        p.muted { (t.live_updates) }
        (rows_markup(app, v, f, &q).await?)
    };
    let (title, nav) = if queue {
        (t.authorization_queue, Nav::Queue)
    } else {
        (t.worklist, Nav::Worklist)
    };
    Ok(layout::page(v, app, title, nav, body))
}

/// The table alone, for the live refresh.
pub async fn rows(State(app): State<App>, v: Viewer, Query(f): Query<Filters>) -> Response {
    let q = match query(&app, &v, &f).await {
        Ok(q) => q,
        Err(p) => return v.problem(p),
    };
    match rows_markup(&app, &v, &f, &q).await {
        Ok(m) => m.into_response(),
        Err(p) => v.problem(p),
    }
}

/// AI findings by accession number, for a page of rows.
async fn findings_of(
    app: &App,
    accessions: &[&str],
) -> Result<HashMap<String, Vec<AiResult>>, Problem> {
    let mut by: HashMap<String, Vec<AiResult>> = HashMap::new();
    // A worklist is clinical: no shadow application's results, whoever looks.
    let results = app.store.ai_results_of_many(accessions).await?;
    for r in crate::register::visible(app, results, false).await? {
        by.entry(r.accession.to_string()).or_default().push(r);
    }
    Ok(by)
}

pub fn findings_cell(t: &super::text::Text, results: Option<&Vec<AiResult>>) -> Markup {
    html! {
        @if let Some(results) = results {
            @for r in results {
                @for f in &r.findings {
                    div {
                        @if f.critical { span.badge.stat { (t.critical) } " " }
                        (f.code.as_str())
                        @if let Some(s) = f.score { " " (format!("{s:.2}")) }
                        @if f.normal { " " span.badge.ok { (t.normal) } }
                    }
                }
            }
        }
    }
}

async fn rows_markup(
    app: &App,
    v: &Viewer,
    f: &Filters,
    q: &WorklistQuery,
) -> Result<Markup, Problem> {
    let t = v.t();
    let (rows, more) = app.store.worklist_page(q).await?;
    let accessions: Vec<&str> = rows.iter().map(|r| r.item.accession.as_str()).collect();
    let ai = findings_of(app, &accessions).await?;
    let now = Utc::now();
    let page = f.page.unwrap_or(0);
    let live = "/worklist/events";
    let refresh = format!("/worklist/rows?{}", f.query_string(page));
    Ok(html! {
        div #worklist data-live=(live) hx-get=(refresh) hx-trigger="refresh" hx-swap="outerHTML" {
            @if rows.is_empty() {
                p.muted { (t.worklist_empty) }
            } @else {
                (layout::scroll(t.worklist, html! {
                    table {
                        caption.muted { (t.worklist) " (" (rows.len()) ")" }
                        thead { tr {
                            th scope="col" { (t.priority) }
                            th scope="col" { (t.patient) }
                            th scope="col" { (t.age) }
                            th scope="col" { (t.sex) }
                            th scope="col" { (t.procedure) }
                            th scope="col" { (t.clinical_question) }
                            th scope="col" { (t.ai_findings) }
                            th scope="col" { (t.due) }
                            th scope="col" { (t.time_left) }
                            th scope="col" { (t.pathway) }
                            th scope="col" { (t.task) }
                            th scope="col" { span.muted { "—" } }
                        } }
                        tbody {
                            @for row in &rows { (row_markup(app, v, row, ai.get(row.item.accession.as_str()), now)) }
                        }
                    }
                }))
            }
            nav.actions aria-label=(t.worklist) {
                @if page > 0 { a.button.secondary href=(format!("/worklist?{}", f.query_string(page - 1))) { (t.previous_page) } }
                @if more { a.button.secondary href=(format!("/worklist?{}", f.query_string(page + 1))) { (t.next_page) } }
            }
        }
    })
}

fn row_markup(
    app: &App,
    v: &Viewer,
    row: &WorklistRow,
    ai: Option<&Vec<AiResult>>,
    now: chrono::DateTime<Utc>,
) -> Markup {
    let t = v.t();
    let item = &row.item;
    let stat = item.priority == Priority::Stat;
    let study = row.study.as_ref();
    let procedure = study
        .map(|s| format!("{} {}", s.modality, s.procedure_code))
        .or_else(|| {
            row.order
                .as_ref()
                .map(|o| format!("{} {}", o.modality, o.procedure_code))
        })
        .unwrap_or_default();
    // The study's, else the order's (the RIS may know what the modality did not send).
    let name = study
        .and_then(|s| s.patient_name.as_ref())
        .or_else(|| row.order.as_ref().and_then(|o| o.patient_name.as_ref()));
    let sex = study
        .and_then(|s| s.patient_sex)
        .or_else(|| row.order.as_ref().and_then(|o| o.patient_sex));
    let patient = study
        .map(|s| s.patient.as_str())
        .or_else(|| row.order.as_ref().map(|o| o.patient.as_str()))
        .unwrap_or("");
    let question = study
        .and_then(|s| s.clinical_question.clone())
        .or_else(|| row.order.as_ref().and_then(|o| o.clinical_question.clone()))
        .unwrap_or_default();
    html! {
        tr.stat[stat] {
            td { @if stat { span.badge.stat { (t.priority(item.priority)) } } @else { (t.priority(item.priority)) } }
            td {
                a href=(format!("/studies/{}", item.accession)) {
                    @match name { Some(n) => (n.display()), None => (patient) }
                }
                br; span.muted { @if name.is_some() { (patient) " · " } (item.accession.as_str()) }
            }
            td { @if let Some(a) = study.and_then(|s| s.patient_age_years) { (a) " " (t.years) } }
            td { (sex.map(|s| s.code()).unwrap_or("")) }
            td { (procedure) @if let Some(s) = study { br; span.muted { (s.site) } } }
            td { (question) }
            td { (findings_cell(t, ai)) }
            td { (layout::when(item.due)) }
            td { (layout::time_left(t, item.due, now)) }
            td { (t.pathway(item.pathway)) }
            td { (task_name(app, item.task.as_str())) }
            td {
                form.inline method="post" action=(format!("/items/{}/claim", item.id)) {
                    (layout::csrf(v))
                    // The id lets focus return here when the list refreshes itself.
                    button id=(format!("claim-{}", item.id)) type="submit" aria-label=(format!("{} {}", t.claim, item.accession)) { (t.claim) }
                }
            }
        }
    }
}

/// A table of items a person holds (home, "my items"), each with release and open.
pub async fn items_table(
    app: &App,
    v: &Viewer,
    items: &[WorkItem],
    release: bool,
) -> Result<Markup, Problem> {
    let t = v.t();
    let accessions: Vec<&str> = items.iter().map(|i| i.accession.as_str()).collect();
    let ai = findings_of(app, &accessions).await?;
    let now = Utc::now();
    Ok(layout::scroll(
        t.my_items,
        html! {
            table {
                thead { tr {
                    th scope="col" { (t.priority) }
                    th scope="col" { (t.accession) }
                    th scope="col" { (t.task) }
                    th scope="col" { (t.ai_findings) }
                    th scope="col" { (t.time_left) }
                    th scope="col" { span.muted { "—" } }
                } }
                tbody {
                    @for item in items {
                        tr.stat[item.priority == Priority::Stat] {
                            td { (t.priority(item.priority)) }
                            td { a href=(format!("/studies/{}", item.accession)) { (item.accession.as_str()) } }
                            td { (task_name(app, item.task.as_str())) }
                            td { (findings_cell(t, ai.get(item.accession.as_str()))) }
                            td { (layout::time_left(t, item.due, now)) }
                            td {
                                @if release {
                                    form.inline method="post" action=(format!("/items/{}/release", item.id)) {
                                        (layout::csrf(v))
                                        button.secondary type="submit" aria-label=(format!("{} {}", t.release, item.accession)) { (t.release) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

pub async fn mine(State(app): State<App>, v: Viewer) -> Response {
    let t = v.t();
    let built = async {
        let held = app.store.held_by(&v.user.professional).await?;
        Ok::<_, Problem>(html! {
            @if held.is_empty() { p.muted { (t.none_held) } } @else { (items_table(&app, &v, &held, true).await?) }
        })
    }
    .await;
    match built {
        Ok(body) => layout::page(&v, &app, t.my_items, Nav::Mine, body),
        Err(p) => v.problem(p),
    }
}

/// Server-sent events: `changed` each time the work changes.
pub async fn events(
    State(app): State<App>,
    _v: Viewer,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = app.changes.watch();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let stamp = *rx.borrow_and_update();
        Some((
            Ok(Event::default().event("changed").data(stamp.to_string())),
            rx,
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Claims through the API's own handler (the domain's `may_claim`), then opens the study.
pub async fn claim(State(app): State<App>, Path(id): Path<u64>, posted: Posted) -> Response {
    let v = posted.viewer;
    match crate::api::claim(State(app), v.caller(), ItemId(id)).await {
        Ok(item) => see_other(&format!("/studies/{}", item.0.accession)),
        Err(p) => v.problem(p),
    }
}

pub async fn release(State(app): State<App>, Path(id): Path<u64>, posted: Posted) -> Response {
    let v = posted.viewer;
    after(
        &v,
        crate::api::release(State(app), v.caller(), ItemId(id)).await,
        "/mine",
    )
}
