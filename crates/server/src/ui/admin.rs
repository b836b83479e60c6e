//! The department-wide screens: the reconciliation list, the audit viewer with the chain's
//! verification, and the routing policy with its versions, its check and a "what would
//! happen" form over the policy's own `decide`.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDate, TimeZone, Utc};
use maud::{Markup, html};
use radgate_domain::ai::AiResult;
use radgate_domain::{Decision, Study, authz};
use radgate_store::AuditSearch;
use serde::Deserialize;

use super::form::{Posted, Viewer};
use super::home::task_name;
use super::layout::{self, Nav};
use super::shown;
use crate::problem::Problem;
use crate::state::App;

const AUDIT_PAGE: u32 = 100;
/// How long a verification of the whole audit chain is shown before the next page view
/// walks the chain again (a walk reads every event, so it is not done per page).
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// The last walk of the audit chain: when, and what it found.
#[derive(Default)]
pub struct ChainCheck {
    last: std::sync::Mutex<Option<Verified>>,
}

type Verified = (
    std::time::Instant,
    chrono::DateTime<Utc>,
    Result<radgate_store::ChainReport, radgate_store::ChainBreak>,
);

impl ChainCheck {
    /// The latest verification, walking the chain again when it is older than
    /// [`VERIFIED_FOR`] or `now` asks for it.
    async fn get(&self, app: &App, now: bool) -> Result<Verified, Problem> {
        if !now
            && let Some(v) = self.last.lock().expect("chain check lock").as_ref()
            && v.0.elapsed() < VERIFIED_FOR
        {
            return Ok(v.clone());
        }
        let v = (
            std::time::Instant::now(),
            Utc::now(),
            app.store.verify_audit().await?,
        );
        *self.last.lock().expect("chain check lock") = Some(v.clone());
        Ok(v)
    }
}

fn require_audit_reader(v: &Viewer) -> Result<(), Problem> {
    if authz::may_read_audit(v.user.role) {
        Ok(())
    } else {
        Err(Problem::forbidden(
            "the audit trail and the reconciliation list are for radiologists",
        ))
    }
}

pub async fn reconciliation(State(app): State<App>, v: Viewer) -> Response {
    let t = v.t();
    let built = async {
        require_audit_reader(&v)?;
        let list = app.store.reconciliation().await?;
        Ok::<_, Problem>(html! {
            @if list.is_empty() { p.muted { (t.reconciliation_empty) } } @else {
                (layout::scroll(t.reconciliation, html! {
                    table {
                        thead { tr { th scope="col" { (t.accession) } th scope="col" { "Study UID" } th scope="col" { (t.reason) } th scope="col" { (t.instances) } th scope="col" { (t.received) } } }
                        tbody { @for u in &list { tr { td { (u.accession) } td { code { (u.study_uid) } @if let Some(sop) = &u.sop_uid { br; small { (t.reconciliation_instance) " " code { (sop) } } } } td { (u.reason) } td { (u.instances) } td { (layout::when(u.since)) } } } }
                    }
                }))
            }
        })
    }
    .await;
    match built {
        Ok(body) => layout::page(&v, &app, t.reconciliation, Nav::Reconciliation, body),
        Err(p) => v.problem(p),
    }
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    subject: Option<String>,
    actor: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
}

fn nonblank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn day_start(field: &'static str, s: &Option<String>) -> Result<Option<i64>, Problem> {
    nonblank(s)
        .map(|d| {
            let day: NaiveDate = d
                .parse()
                .map_err(|e: chrono::ParseError| Problem::invalid(field, e.to_string()))?;
            let at = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"));
            Ok(at.timestamp_millis())
        })
        .transpose()
}

pub async fn audit(State(app): State<App>, v: Viewer, Query(q): Query<AuditQuery>) -> Response {
    shown(&v, build_audit(&app, &v, &q, false).await)
}

/// Walks the whole chain now, whatever the last walk found.
pub async fn verify(State(app): State<App>, posted: Posted) -> Response {
    let v = posted.viewer;
    shown(
        &v,
        build_audit(&app, &v, &AuditQuery::default(), true).await,
    )
}

async fn build_audit(
    app: &App,
    v: &Viewer,
    q: &AuditQuery,
    verify_now: bool,
) -> Result<Response, Problem> {
    let t = v.t();
    require_audit_reader(v)?;
    let search = AuditSearch {
        subject: nonblank(&q.subject),
        actor: nonblank(&q.actor),
        kind: nonblank(&q.kind),
        from: day_start("from", &q.from)?,
        // The "to" day is included: events before the next midnight.
        to: day_start("to", &q.to)?.map(|ms| ms + 86_400_000),
        before: q.before,
        limit: AUDIT_PAGE,
    };
    let events = app.store.audit_search(&search).await?;
    let (_, verified_at, chain) = app.chain_check.get(app, verify_now).await?;
    let value = |s: &Option<String>| s.clone().unwrap_or_default();
    let older = events
        .last()
        .filter(|_| events.len() == AUDIT_PAGE as usize)
        .map(|e| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, val) in [
                ("subject", &q.subject),
                ("actor", &q.actor),
                ("kind", &q.kind),
                ("from", &q.from),
                ("to", &q.to),
            ] {
                if let Some(x) = nonblank(val) {
                    s.append_pair(k, &x);
                }
            }
            s.append_pair("before", &e.seq.to_string());
            format!("/audit?{}", s.finish())
        });
    let body = html! {
        @match &chain {
            Ok(report) => p.notice #chain { (t.chain_intact) " " (report.events) " " (t.events) ". " (t.head_hash) ": " code { (report.head) } },
            Err(brk) => p.error #chain role="alert" { (t.chain_broken) ": " (brk.to_string()) },
        }
        form.inline method="post" action="/audit/verify" {
            (layout::csrf(v))
            span.muted { (t.verified_at) " " (layout::when(verified_at)) " " }
            button.secondary type="submit" { (t.verify_now) }
        }
        form.filters method="get" action="/audit" {
            div { label for="a-subject" { (t.subject) " / " (t.accession) } input #a-subject type="search" name="subject" value=(value(&q.subject)); }
            div { label for="a-actor" { (t.actor) } input #a-actor type="search" name="actor" value=(value(&q.actor)); }
            div { label for="a-kind" { (t.kind) } input #a-kind type="search" name="kind" value=(value(&q.kind)); }
            div { label for="a-from" { (t.from) } input #a-from type="date" name="from" value=(value(&q.from)); }
            div { label for="a-to" { (t.to) } input #a-to type="date" name="to" value=(value(&q.to)); }
            div { button type="submit" { (t.search) } }
        }
        (layout::scroll(t.audit, html! {
            table {
                thead { tr { th scope="col" { "#" } th scope="col" { (t.at) } th scope="col" { (t.actor) } th scope="col" { (t.kind) } th scope="col" { (t.subject) } th scope="col" { (t.detail) } } }
                tbody {
                    @for e in &events {
                        tr {
                            td { (e.seq) }
                            td { (Utc.timestamp_millis_opt(e.at).single().map(layout::when).unwrap_or_default()) }
                            td { (e.actor) } td { (e.kind) } td { (e.subject) } td { code { (e.detail) } }
                        }
                    }
                }
            }
        }))
        @if let Some(href) = older { p { a.button.secondary href=(href) { (t.older) } } }
    };
    Ok(layout::page(v, app, t.audit, Nav::Audit, body))
}

fn decision_markup(app: &App, v: &Viewer, d: &Decision) -> Markup {
    let t = v.t();
    html! {
        dl.facts #explained {
            dt { (t.pathway) } dd { (t.pathway(d.pathway)) }
            dt { (t.task) } dd { (task_name(app, d.task.as_str())) }
            dt { (t.priority) } dd { (t.priority(d.priority)) }
            dt { (t.rule) } dd { @match &d.rule { Some(r) => code { (r.as_str()) }, None => span.muted { (t.no_rule) } } }
            dt { (t.policy_version) } dd { (d.policy_version) }
        }
        pre.text { (d.explanation) }
    }
}

async fn policy_page(
    app: &App,
    v: &Viewer,
    form: Option<(&str, &str)>,
    outcome: Option<Result<Decision, String>>,
) -> Result<Response, Problem> {
    let t = v.t();
    v.caller().ai_overseer()?;
    let versions = app.store.policy_versions().await?;
    let diagnostics = radgate_domain::policy::check(&app.policy, Some(&app.department));
    let (study, results) = form.unwrap_or(("", "[]"));
    let body = html! {
        h2 { (t.policy_in_force) }
        p { strong { (app.policy.version) } }
        h2 { (t.policy_check) }
        @if diagnostics.is_empty() { p.notice { (t.policy_clean) } } @else { ul { @for d in &diagnostics { li { (d.to_string()) } } } }
        h2 { (t.policy_versions) }
        ul { @for (ver, at) in &versions { li { (ver) " · " (layout::when(*at)) } } }
        p { a.button.secondary href="/policy/replay" { (t.replay_title) } }
        h2 { (t.what_would_happen) }
        @if let Some(o) = &outcome {
            @match o {
                Ok(d) => (decision_markup(app, v, d)),
                Err(e) => p.error role="alert" { (e) },
            }
        }
        form method="post" action="/policy/explain" {
            (layout::csrf(v))
            label for="x-study" { (t.study_json) }
            textarea #x-study name="study" required { (study) }
            label for="x-results" { (t.ai_results_json) }
            textarea #x-results name="ai_results" { (results) }
            p { button type="submit" { (t.explain) } }
        }
    };
    Ok(layout::page(v, app, t.policy, Nav::Policy, body))
}

pub async fn policy(State(app): State<App>, v: Viewer) -> Response {
    shown(&v, policy_page(&app, &v, None, None).await)
}

/// Routes a described study through the policy in force, reading its AI results by the
/// register as live ingest does; nothing is stored.
fn explain_case(app: &App, study: &str, results: &str) -> Result<Decision, String> {
    let study: Study = serde_json::from_str(study).map_err(|e| format!("study: {e}"))?;
    let raw: Vec<AiResult> = if results.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(results).map_err(|e| format!("AI results: {e}"))?
    };
    let read = raw
        .iter()
        .enumerate()
        .map(|(i, r)| {
            app.department
                .read_ai_result(r)
                .map_err(|e| format!("ai_results[{i}].{}: {e}", e.field()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(app.policy.decide(&study, &read, Utc::now()))
}

pub async fn explain(State(app): State<App>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let study = fields.get("study").unwrap_or("");
    let results = fields.get("ai_results").unwrap_or("");
    let outcome = explain_case(&app, study, results);
    shown(
        &v,
        policy_page(&app, &v, Some((study, results)), Some(outcome)).await,
    )
}
