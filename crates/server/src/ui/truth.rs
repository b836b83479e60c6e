//! The truth AI monitoring counts, on screen: feedback on the AI at sign-off, the study
//! page's account of each call's truth and where it came from, and the adjudication list.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use radgate_domain::ai::AiResult;
use radgate_domain::ids::{AiAppId, FindingCode};
use radgate_domain::monitoring::ai_positive;
use radgate_domain::truth::{Feedback, Source, Verdict};
use radgate_store::TruthRecord;

use super::after;
use super::form::{Fields, Posted, Viewer};
use super::layout::{self, Nav};
use crate::adjudications::{Answer, adjudicator};
use crate::problem::Problem;
use crate::state::App;

const VERDICT: &str = "verdict:";
const COMMENT: &str = "verdict-comment:";

/// One select per AI finding of the study: the signer's verdict, optional.
pub fn feedback_fieldset(app: &App, v: &Viewer, ai: &[AiResult]) -> Markup {
    let t = v.t();
    if ai.is_empty() {
        return html! {};
    }
    html! {
        fieldset.feedback {
            legend { (t.ai_feedback) }
            p.muted { (t.ai_feedback_help) }
            @for r in ai { @for f in &r.findings {
                @let key = format!("{}:{}", r.app.as_str(), f.code.as_str());
                @let spec = app.department.ai_application(r.app.as_str()).and_then(|a| a.finding(f.code.as_str()));
                @let called = ai_positive(spec, f);
                div.verdict {
                    label for=(format!("v-{key}")) {
                        (r.app.as_str()) " · " (f.code.as_str()) ": "
                        strong { @if called { (t.called) } @else { (t.not_called) } }
                        @if let Some(s) = f.score { " (" (format!("{s:.2}")) ")" }
                    }
                    select id=(format!("v-{key}")) name=(format!("{VERDICT}{key}")) {
                        option value="" { (t.verdict_none) }
                        // Only the verdicts that can be true of this call.
                        @for x in Verdict::ALL.into_iter().filter(|x| x.fits(called)) {
                            option value=(x.code()) { (t.verdict(x)) }
                        }
                    }
                    label for=(format!("c-{key}")) { (t.comment) }
                    input type="text" id=(format!("c-{key}")) name=(format!("{COMMENT}{key}")) maxlength="2000";
                }
            } }
        }
    }
}

/// The verdicts a form states; an unstated one is left out.
pub fn feedback_from(fields: &Fields) -> Result<Vec<Feedback>, Problem> {
    let mut out = Vec::new();
    for (name, value) in fields.pairs() {
        let Some(key) = name.strip_prefix(VERDICT) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let bad = |e: String| Problem::invalid("feedback", e);
        let (app, finding) = key
            .split_once(':')
            .ok_or_else(|| bad(format!("`{name}` names no application and finding")))?;
        let verdict =
            Verdict::parse(value).ok_or_else(|| bad(format!("`{value}` is not a verdict")))?;
        out.push(Feedback {
            app: AiAppId::parse(app).map_err(|e| bad(e.to_string()))?,
            finding: FindingCode::parse(finding).map_err(|e| bad(e.to_string()))?,
            verdict,
            comment: fields.text(&format!("{COMMENT}{key}")).map(str::to_owned),
        });
    }
    Ok(out)
}

/// The study's truth for AI monitoring: each call's truth and source, the RIS's reports,
/// what the labeller read, and open adjudications.
pub fn section(v: &Viewer, r: &TruthRecord) -> Markup {
    let t = v.t();
    if r.calls.is_empty() && r.external_reports.is_empty() {
        return html! {};
    }
    let source = |s: &Option<String>| {
        s.as_deref()
            .and_then(Source::parse)
            .map_or(t.truth_unknown, |s| t.truth_source(s))
    };
    html! {
        section #truth {
            h2 { (t.truth) }
            p.muted { (t.truth_help) }
            @if !r.calls.is_empty() {
                (layout::scroll(t.truth, html! {
                    table {
                        thead { tr { th scope="col" { (t.application) } th scope="col" { (t.finding) } th scope="col" { (t.ai_call) } th scope="col" { (t.truth) } th scope="col" { (t.truth_source) } } }
                        tbody { @for c in &r.calls {
                            tr {
                                td { (c.app) " " (c.version) } td { (c.finding) }
                                td { @if c.positive { (t.called) } @else { (t.not_called) } }
                                td { @match c.truth { Some(true) => (t.present), Some(false) => (t.absent), None => span.muted { (t.truth_unknown) } } }
                                td { (source(&c.source)) }
                            }
                        } }
                    }
                }))
            }
            @if !r.feedback.is_empty() {
                h3 { (t.ai_feedback) }
                ul { @for f in &r.feedback {
                    li { (f.feedback.app.as_str()) " · " (f.feedback.finding.as_str()) ": " strong { (t.verdict(f.feedback.verdict)) }
                         @if let Some(c) = &f.feedback.comment { " · " (c) } " · " (f.given_by) ", " (layout::when(f.given_at)) }
                } }
            }
            @for a in r.adjudications.iter() {
                p { strong { (t.adjudication) ": " } (a.finding) " · " (t.adjudication_reason(a.reason)) " · "
                    @match a.present { Some(true) => (t.present), Some(false) => (t.absent), None => a href="/adjudications" { (t.adjudication_open) } }
                    @if let Some(by) = &a.answered_by { " · " (by) } }
            }
            @if !r.external_reports.is_empty() {
                h3 { (t.ris_reports) }
                @for e in &r.external_reports {
                    div.panel {
                        p.muted { "#" (e.seq) " · " (e.status.code()) " · " (e.signer.clone().unwrap_or_default()) " · " (layout::when(e.received_at)) }
                        pre.report-text { (e.text) }
                    }
                }
            }
            @let mentioned: Vec<_> = r.labels.iter().filter(|l| l.label.sentence.is_some()).collect();
            @if !mentioned.is_empty() {
                h3 { (t.labels) }
                (layout::scroll(t.labels, html! {
                    table {
                        thead { tr { th scope="col" { (t.finding) } th scope="col" { (t.label) } th scope="col" { (t.deciding_words) } th scope="col" { (t.version) } } }
                        tbody { @for l in &mentioned {
                            tr { td { (l.label.finding) } td { (t.label_value(l.label.value)) }
                                 td { "“" (l.label.sentence.clone().unwrap_or_default()) "”" @if let Some(c) = &l.label.cue { " · " strong { (c) } } }
                                 td { (l.label.version) } }
                        } }
                    }
                }))
            }
        }
    }
}

/// The adjudication list, with the words that put each finding there.
pub async fn list(State(app): State<App>, v: Viewer) -> Response {
    let t = v.t();
    let built = async {
        adjudicator(&v.caller())?;
        let open = app.store.adjudication_list(false, 100).await?;
        let mut rows = Vec::with_capacity(open.len());
        for a in open {
            let record =
                crate::adjudications::truth_seen(&app, &v.caller(), &a.accession).await?;
            rows.push((a, record));
        }
        Ok::<_, Problem>(html! {
            p.muted { (t.adjudication_help) }
            @if rows.is_empty() { p.muted { (t.adjudication_empty) } }
            @for (a, r) in &rows {
                @let key = format!("{}-{}", a.accession, a.finding);
                section.panel {
                    h2 { a href=(format!("/studies/{}", a.accession)) { (a.accession) } " · " (a.finding) }
                    p { (t.adjudication_reason(a.reason)) " · " (layout::when(a.opened_at)) }
                    ul {
                        @for c in r.calls.iter().filter(|c| c.finding == a.finding) {
                            li { (c.app) " " (c.version) ": " @if c.positive { (t.called) } @else { (t.not_called) } }
                        }
                        @for l in r.labels.iter().filter(|l| l.label.finding == a.finding && l.label.sentence.is_some()) {
                            li { "“" (l.label.sentence.clone().unwrap_or_default()) "”" @if let Some(c) = &l.label.cue { " · " strong { (c) } } }
                        }
                    }
                    form method="post" action=(format!("/adjudications/{}/{}", a.accession, a.finding)) {
                        (layout::csrf(&v))
                        label for=(format!("comment-{key}")) { (t.comment) }
                        input type="text" id=(format!("comment-{key}")) name="comment" maxlength="2000";
                        div.actions {
                            button type="submit" name="present" value="true" { (t.present) }
                            button.secondary type="submit" name="present" value="false" { (t.absent) }
                        }
                    }
                }
            }
        })
    }
    .await;
    match built {
        Ok(body) => layout::page(&v, &app, t.adjudication, Nav::Adjudication, body),
        Err(p) => v.problem(p),
    }
}

pub async fn answer(
    State(app): State<App>,
    Path((acc, finding)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let present = match fields.get("present") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return v.problem(Problem::invalid(
                "present",
                "say whether the finding is present",
            ));
        }
    };
    let a = Answer {
        present,
        comment: fields.text("comment").map(str::to_owned),
    };
    let done = crate::adjudications::answer_as(&app, &v.caller(), acc, finding, a).await;
    after(&v, done, "/adjudications")
}
