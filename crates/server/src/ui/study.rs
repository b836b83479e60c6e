//! The study page (order, images, AI results, the routing decision and its history, work
//! items, report versions) and the work done from it: gatekeeping, reporting,
//! authorization with a discrepancy grade, return for correction, addenda, review.
//! Every action goes through the API's own handler, so the domain decides it once.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};
use radgate_domain::ending::Work;
use radgate_domain::ids::FindingCode;
use radgate_domain::quality::Discrepancy;
use radgate_domain::report::{Report, ReportState};
use radgate_domain::workitem::{WorkItem, WorkItemState};

use super::diff;
use super::form::{Posted, Viewer};
use super::home::task_name;
use super::layout::{self, Nav};
use super::worklist::findings_cell;
use super::{after, see_other, shown};
use crate::extract::{Body, ItemId};
use crate::problem::Problem;
use crate::reports::{Grading, Reason, Text};
use crate::state::App;

pub async fn page(State(app): State<App>, v: Viewer, Path(acc): Path<String>) -> Response {
    shown(&v, build(&app, &v, &acc).await)
}

/// What the viewer holds on this study, and what that work is under their mandate.
fn held(app: &App, v: &Viewer, items: &[WorkItem]) -> Vec<(WorkItem, Work)> {
    items
        .iter()
        .filter(|i| {
            i.state == WorkItemState::Claimed && i.assignee.as_ref() == Some(&v.user.professional)
        })
        .filter_map(|i| {
            crate::reports::mandate_and_work(app, &v.user, i)
                .ok()
                .map(|(_, w)| (i.clone(), w))
        })
        .collect()
}

async fn build(app: &App, v: &Viewer, acc: &str) -> Result<Response, Problem> {
    let t = v.t();
    let accession = v.caller().readable_study(app, acc.to_string()).await?;
    let acc = accession.as_str();
    let study = app.store.study(acc).await?;
    let order = app.store.order(acc).await?;
    let raio = radgate_domain::authz::keeps_ai_register(&v.user.professional, &app.department);
    let ai = crate::register::visible(app, app.store.ai_results_of(acc).await?, raio).await?;
    // What only the RAIO sees is marked as such.
    let changes = app.store.latest_status_changes().await?;
    let shadow = |id: &str| {
        radgate_domain::ai::hidden_from_clinicians(&app.department.ai_applications, &changes, id)
    };
    let decisions = app.store.decisions_of(acc).await?;
    let items = app.store.work_items_for(acc).await?;
    let report = app.store.report(acc).await?;
    let grade = app.store.discrepancy_of(acc).await?;
    let truth = crate::adjudications::truth_seen(app, &v.caller(), acc).await?;
    let mine = held(app, v, &items);
    let now = Utc::now();
    let viewer_link = match (&app.viewer_url, study.as_ref()) {
        (Some(template), Some(s)) => Some(viewer_url(
            template,
            s.study_uid.as_ref().map_or("", |u| u.as_str()),
            acc,
        )),
        _ => None,
    };
    let body = html! {
        section.panel {
            h2 { (t.study) }
            dl.facts {
                dt { (t.accession) } dd { (acc) }
                @if let Some(s) = &study {
                    dt { (t.patient) } dd { @if let Some(n) = &s.patient_name { (n.display()) " · " } (s.patient.as_str()) }
                    @if let Some(a) = s.patient_age_years { dt { (t.age) } dd { (a) " " (t.years) } }
                    @if let Some(x) = s.patient_sex { dt { (t.sex) } dd { (x.code()) } }
                    dt { (t.procedure) } dd { (s.modality) " " (s.procedure_code) " (" (s.body_part) ")" }
                    dt { (t.site) } dd { (s.site) }
                    @if let Some(q) = &s.clinical_question { dt { (t.clinical_question) } dd { (q) } }
                } @else if let Some(o) = &order {
                    dt { (t.patient) } dd { @if let Some(n) = &o.patient_name { (n.display()) " · " } (o.patient.as_str()) }
                    dt { (t.procedure) } dd { (o.modality) " " (o.procedure_code) }
                    @if let Some(q) = &o.clinical_question { dt { (t.clinical_question) } dd { (q) } }
                }
                @if let Some(o) = &order { dt { (t.order) } dd { (o.ordering_department) ", " (layout::when(o.ordered_at)) } }
            }
            @match &viewer_link {
                Some(href) => p { a.button.secondary href=(href) target="_blank" rel="noopener noreferrer" { (t.open_viewer) } },
                None => p.muted { (t.no_viewer) },
            }
        }
        @for (item, work) in &mine { (work_panel(app, v, item, *work, report.as_ref(), &ai)) }
        section {
            h2 { (t.ai_results) }
            @if ai.is_empty() { p.muted { (t.no_ai_results) } } @else {
                (layout::scroll(t.ai_results, html! {
                    table {
                        thead { tr { th scope="col" { (t.application) } th scope="col" { (t.version) } th scope="col" { (t.finding) } th scope="col" { (t.score) } th scope="col" { (t.flags) } th scope="col" { (t.received) } } }
                        tbody {
                            @for r in &ai { @for f in &r.findings {
                                tr {
                                    td { (r.app.as_str()) } td { (r.app_version) } td { (f.code.as_str()) }
                                    td { @if let Some(s) = f.score { (format!("{s:.3}")) } }
                                    td { @if shadow(r.app.as_str()) { span.badge { (t.shadow_mode) } " " } @if f.critical { span.badge.stat { (t.critical) } " " } @if f.normal { span.badge.ok { (t.normal) } } }
                                    td { (layout::when(r.received_at)) }
                                }
                            } }
                        }
                    }
                }))
            }
        }
        section {
            h2 { (t.decision) }
            @for (i, (at, d)) in decisions.iter().enumerate().rev() {
                div.panel {
                    @if i + 1 < decisions.len() { p.muted { "(" (layout::when(*at)) ")" } }
                    dl.facts {
                        dt { (t.pathway) } dd { (t.pathway(d.pathway)) }
                        dt { (t.task) } dd { (task_name(app, d.task.as_str())) }
                        dt { (t.priority) } dd { (t.priority(d.priority)) }
                        dt { (t.rule) } dd { @match &d.rule { Some(r) => code { (r.as_str()) }, None => span.muted { (t.no_rule) } } }
                        dt { (t.policy_version) } dd { (d.policy_version) }
                        dt { (t.due) } dd { (layout::when(d.due)) }
                        dt { (t.at) } dd { (layout::when(*at)) }
                    }
                    @if !d.reasons.is_empty() {
                        p { strong { (t.reasons) } }
                        ul { @for r in &d.reasons { li { (r) } } }
                    }
                }
            }
        }
        section {
            h2 { (t.work_items) }
            (layout::scroll(t.work_items, html! {
                table {
                    thead { tr { th scope="col" { "#" } th scope="col" { (t.task) } th scope="col" { (t.state) } th scope="col" { (t.assignee) } th scope="col" { (t.time_left) } } }
                    tbody {
                        @for i in &items {
                            tr {
                                td { (i.id) } td { (task_name(app, i.task.as_str())) } td { (t.state(i.state)) }
                                td { (i.assignee.as_ref().map(|a| a.as_str()).unwrap_or("")) }
                                td { @if matches!(i.state, WorkItemState::Open | WorkItemState::Claimed) { (layout::time_left(t, i.due, now)) } }
                            }
                        }
                    }
                }
            }))
        }
        (super::truth::section(v, &truth))
        section {
            h2 { (t.report) }
            @match &report {
                None if !truth.external_reports.is_empty() => p.muted { (t.report_in_ris) },
                None => p.muted { (t.no_report) },
                Some(r) => (report_markup(v, r, grade.as_ref())),
            }
            @if report.as_ref().is_some_and(|r| r.state == ReportState::Authorized) && v.user.role == radgate_domain::professional::Role::Radiologist {
                section.panel #addendum {
                    h3 { (t.add_addendum) }
                    form method="post" action=(format!("/studies/{acc}/addendum")) {
                        (layout::csrf(v))
                        label for="addendum-text" { (t.addendum) }
                        textarea #addendum-text name="text" required {}
                        p { button type="submit" { (t.add_addendum) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        v,
        app,
        &format!("{} {acc}", t.study),
        Nav::None,
        body,
    ))
}

/// The department's viewer for one study: the template with the study's UID and accession
/// number filled in, each percent-encoded so that no value changes the URL's shape.
pub fn viewer_url(template: &str, study_uid: &str, accession: &str) -> String {
    let enc = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    template
        .replace("{study_uid}", &enc(study_uid))
        .replace("{accession}", &enc(accession))
}

fn report_markup(v: &Viewer, r: &Report, grade: Option<&radgate_store::GivenGrade>) -> Markup {
    let t = v.t();
    html! {
        p { strong { (t.state) ": " } (t.report_state(r.state)) " · " (t.by) " " (r.author.id.as_str()) }
        pre.text { (r.content.text) }
        @if !r.content.findings.is_empty() {
            p { (t.coded_findings) ": " @for f in &r.content.findings { code { (f.as_str()) } " " } }
        }
        @if let Some(g) = grade {
            p.notice #grade { strong { (t.grade_given) ": " } (discrepancy_label(t, g.grade)) " · " (g.graded_by.as_str()) " · " (layout::when(g.at)) }
        }
        @for a in &r.addenda {
            div.panel { strong { (t.addendum) } " · " (a.by.id.as_str()) " · " (layout::when(a.at)) pre.text { (a.text) } }
        }
        h3 { (t.report_history) }
        (layout::scroll(t.report_history, html! {
            table {
                thead { tr { th scope="col" { "v" } th scope="col" { (t.act) } th scope="col" { (t.state) } th scope="col" { (t.by) } th scope="col" { (t.at) } th scope="col" { (t.reason) } } }
                tbody {
                    @for h in &r.history {
                        tr { td { (h.number) } td { (t.act(h.act)) } td { (t.report_state(h.state)) } td { (h.by.id.as_str()) } td { (layout::when(h.at)) } td { (h.note.clone().unwrap_or_default()) } }
                    }
                }
            }
        }))
    }
}

fn discrepancy_label(t: &super::text::Text, d: Discrepancy) -> &'static str {
    match d {
        Discrepancy::None => t.discrepancy_none,
        Discrepancy::Minor => t.discrepancy_minor,
        Discrepancy::Major => t.discrepancy_major,
    }
}

/// The findings a report can code: every finding of the AI register, in register order.
fn pick_list(app: &App) -> Vec<&FindingCode> {
    let mut codes: Vec<&FindingCode> = Vec::new();
    for a in &app.department.ai_applications {
        for f in &a.findings {
            if !codes.contains(&&f.code) {
                codes.push(&f.code);
            }
        }
    }
    codes
}

/// What the viewer can do with an item they hold on this study.
fn work_panel(
    app: &App,
    v: &Viewer,
    item: &WorkItem,
    work: Work,
    report: Option<&Report>,
    ai: &[radgate_domain::ai::AiResult],
) -> Markup {
    let t = v.t();
    let acc = item.accession.as_str();
    let state = report.map(|r| r.state);
    match work {
        Work::Gatekeeping => html! {
            section.panel #gatekeeping {
                h2 { (t.gatekeeping) }
                p { (t.gatekeeping_help) }
                div { strong { (t.ai_findings) ": " } (findings_cell(t, Some(&ai.to_vec()))) }
                p { strong { (t.standard_text) ": " } (t.standard_clearance) }
                div.actions {
                    a.button href=(format!("/items/{}/clear", item.id)) { (t.clear_normal) }
                    a.button.secondary href=(format!("/items/{}/escalate", item.id)) { (t.escalate) }
                }
            }
        },
        Work::Review => html! {
            section.panel #review {
                h2 { (task_name(app, item.task.as_str())) }
                form method="post" action=(format!("/items/{}/review", item.id)) {
                    (layout::csrf(v))
                    fieldset {
                        legend { (t.missed_finding) }
                        label { input type="radio" name="missed" value="false" required; " " (t.no) }
                        label { input type="radio" name="missed" value="true"; " " (t.yes) }
                    }
                    label for="review-note" { (t.narrative) }
                    textarea #review-note name="note" {}
                    p { button type="submit" { (t.confirm) } }
                }
            }
        },
        Work::Preliminary | Work::Final { .. } => {
            let radiologist = matches!(work, Work::Final { radiologist: true });
            let signs_own = matches!(work, Work::Final { .. });
            match state {
                Some(ReportState::Preliminary) if radiologist => {
                    authorize_panel(app, v, item, report.expect("a preliminary report"), ai)
                }
                Some(ReportState::Authorized | ReportState::Preliminary) => html! {},
                _ => {
                    let current = report.map(|r| &r.content);
                    html! {
                        section.panel #reporting {
                            h2 { (t.report) " · " (task_name(app, item.task.as_str())) }
                            form method="post" action=(format!("/studies/{acc}/report")) {
                                (layout::csrf(v))
                                label for="report-text" { (t.report_text) }
                                textarea #report-text name="text" required { (current.map(|c| c.text.as_str()).unwrap_or("")) }
                                fieldset {
                                    legend { (t.coded_findings) }
                                    @for code in pick_list(app) {
                                        label.check {
                                            input type="checkbox" name="finding" value=(code.as_str()) checked[current.is_some_and(|c| c.findings.contains(code))];
                                            " " (code.as_str())
                                        }
                                    }
                                }
                                @if signs_own { (super::truth::feedback_fieldset(app, v, ai)) }
                                div.actions {
                                    button.secondary type="submit" name="action" value="save" { (t.save_draft) }
                                    @if signs_own {
                                        button type="submit" name="action" value="sign" { (t.authorize) }
                                    } @else {
                                        button type="submit" name="action" value="submit" { (t.submit_preliminary) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn authorize_panel(
    app: &App,
    v: &Viewer,
    item: &WorkItem,
    r: &Report,
    ai: &[radgate_domain::ai::AiResult],
) -> Markup {
    let t = v.t();
    let acc = item.accession.as_str();
    // The preliminary text submitted before this one, when the report was returned and
    // submitted again: what changed is what the radiologist checks.
    let earlier = r
        .history
        .iter()
        .filter(|h| h.act == radgate_domain::report::Act::SubmittedPreliminary)
        .rev()
        .nth(1)
        .map(|h| h.content.text.as_str());
    html! {
        section.panel #authorize {
            h2 { (t.authorize) }
            @if let Some(before) = earlier {
                h3 { (t.difference) }
                (diff::side_by_side(t.previous_preliminary, before, t.current_text, &r.content.text))
            }
            form method="post" action=(format!("/studies/{acc}/authorize")) {
                (layout::csrf(v))
                @if r.needs_discrepancy_grade() {
                    fieldset {
                        legend { (t.discrepancy) }
                        @for (value, label) in [(0, t.discrepancy_none), (1, t.discrepancy_minor), (2, t.discrepancy_major)] {
                            label { input type="radio" name="discrepancy" value=(value) required; " " (label) }
                        }
                    }
                }
                (super::truth::feedback_fieldset(app, v, ai))
                p { button type="submit" { (t.authorize) } }
            }
            form method="post" action=(format!("/studies/{acc}/return")) {
                (layout::csrf(v))
                label for="return-reason" { (t.reason) }
                textarea #return-reason name="reason" required {}
                p { button.secondary type="submit" { (t.return_for_correction) } }
            }
        }
    }
}

fn confirm_page(
    app: &App,
    v: &Viewer,
    id: u64,
    question: &str,
    action: &str,
    label: &str,
) -> Response {
    let t = v.t();
    let body = html! {
        form method="post" action=(format!("/items/{id}/{action}")) {
            (layout::csrf(v))
            p { (question) }
            @if action == "clear" { p { strong { (t.standard_text) ": " } (t.standard_clearance) } }
            div.actions {
                button type="submit" { (label) }
                a.button.secondary href="/mine" { (t.cancel) }
            }
        }
    };
    layout::page(v, app, t.confirm, Nav::None, body)
}

pub async fn confirm_clear(State(app): State<App>, v: Viewer, Path(id): Path<u64>) -> Response {
    let t = v.t();
    confirm_page(&app, &v, id, t.confirm_clear, "clear", t.clear_normal)
}

pub async fn confirm_escalate(State(app): State<App>, v: Viewer, Path(id): Path<u64>) -> Response {
    let t = v.t();
    confirm_page(&app, &v, id, t.confirm_escalate, "escalate", t.escalate)
}

pub async fn clear(State(app): State<App>, Path(id): Path<u64>, posted: Posted) -> Response {
    let v = posted.viewer;
    after(
        &v,
        crate::gatekeeping::clear(State(app), v.caller(), ItemId(id)).await,
        "/worklist",
    )
}

pub async fn escalate(State(app): State<App>, Path(id): Path<u64>, posted: Posted) -> Response {
    let v = posted.viewer;
    after(
        &v,
        crate::gatekeeping::escalate(State(app), v.caller(), ItemId(id)).await,
        "/worklist",
    )
}

pub async fn review(State(app): State<App>, Path(id): Path<u64>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let missed = match fields.get("missed") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return v.problem(Problem::invalid(
                "missed",
                "say whether the review found a missed finding",
            ));
        }
    };
    let review = crate::gatekeeping::Review {
        missed,
        note: fields.get("note").unwrap_or("").to_string(),
    };
    after(
        &v,
        crate::gatekeeping::review(State(app), v.caller(), ItemId(id), Body(review)).await,
        "/worklist",
    )
}

pub async fn write_report(
    State(app): State<App>,
    Path(acc): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let findings: Result<Vec<FindingCode>, _> = fields
        .all("finding")
        .map(|f| FindingCode::parse(f.to_string()))
        .collect();
    let findings = match findings {
        Ok(f) => f,
        Err(e) => return v.problem(Problem::invalid("findings", e.to_string())),
    };
    let text = Text {
        text: fields.get("text").unwrap_or("").to_string(),
        findings,
    };
    let caller = v.caller();
    if let Err(p) = crate::reports::draft(
        State(app.clone()),
        caller.clone(),
        Path(acc.clone()),
        Body(text),
    )
    .await
    {
        return v.problem(p);
    }
    let done = match fields.get("action") {
        Some("submit") => crate::reports::submit(State(app), caller, Path(acc.clone()))
            .await
            .map(drop),
        Some("sign") => match super::truth::feedback_from(&fields) {
            Ok(feedback) => crate::reports::authorize_graded(
                app,
                caller,
                acc.clone(),
                Grading {
                    discrepancy: None,
                    feedback,
                },
            )
            .await
            .map(drop),
            Err(p) => Err(p),
        },
        _ => Ok(()),
    };
    match done {
        Ok(()) => see_other(&format!("/studies/{acc}")),
        Err(p) => v.problem(p),
    }
}

pub async fn authorize(
    State(app): State<App>,
    Path(acc): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let discrepancy = match fields.get("discrepancy") {
        None => None,
        Some(g) => match g
            .parse::<u8>()
            .map_err(|e| e.to_string())
            .and_then(Discrepancy::try_from)
        {
            Ok(d) => Some(d),
            Err(e) => return v.problem(Problem::invalid("discrepancy", e)),
        },
    };
    let feedback = match super::truth::feedback_from(&fields) {
        Ok(f) => f,
        Err(p) => return v.problem(p),
    };
    let done = crate::reports::authorize_graded(
        app,
        v.caller(),
        acc.clone(),
        Grading {
            discrepancy,
            feedback,
        },
    )
    .await;
    after(&v, done, &format!("/studies/{acc}"))
}

pub async fn return_report(
    State(app): State<App>,
    Path(acc): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let reason = Reason {
        reason: fields.get("reason").unwrap_or("").to_string(),
    };
    after(
        &v,
        crate::reports::return_for_correction(State(app), v.caller(), Path(acc), Body(reason))
            .await,
        "/worklist",
    )
}

pub async fn addendum(State(app): State<App>, Path(acc): Path<String>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let text = Text {
        text: fields.get("text").unwrap_or("").to_string(),
        findings: Vec::new(),
    };
    after(
        &v,
        crate::reports::addendum(State(app), v.caller(), Path(acc.clone()), Body(text)).await,
        &format!("/studies/{acc}"),
    )
}

#[cfg(test)]
mod tests {
    use super::viewer_url;

    #[test]
    fn the_viewer_link_fills_the_template_and_keeps_its_shape() {
        assert_eq!(
            viewer_url(
                "https://pacs/ohif/viewer?StudyInstanceUIDs={study_uid}",
                "1.2.840.1",
                "A1"
            ),
            "https://pacs/ohif/viewer?StudyInstanceUIDs=1.2.840.1"
        );
        assert_eq!(
            viewer_url(
                "https://pacs/launch?acc={accession}&uid={study_uid}",
                "1.2",
                "A&B #1"
            ),
            "https://pacs/launch?acc=A%26B+%231&uid=1.2"
        );
    }
}
