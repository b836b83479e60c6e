//! The policy replay screen: a new policy's TOML and a period in, the comparison with
//! what the policy in force decided out. It calls the API's replay handler.

use axum::extract::State;
use axum::response::Response;
use chrono::{Days, NaiveDate, Utc};
use maud::{Markup, html};
use radgate_domain::ai::AiStatus;
use radgate_domain::ids::AiAppId;
use radgate_domain::replay::Replay;

use super::form::{Posted, Viewer};
use super::layout::{self, Nav};
use super::shown;
use crate::extract::Body;
use crate::problem::Problem;
use crate::replay::ReplayRequest;
use crate::state::App;

/// What the form holds.
struct Asked {
    policy: String,
    from: NaiveDate,
    to: NaiveDate,
    as_live: Vec<AiAppId>,
}

pub async fn page(State(app): State<App>, v: Viewer) -> Response {
    let today = Utc::now().date_naive();
    let asked = Asked {
        policy: String::new(),
        from: today - Days::new(30),
        to: today,
        as_live: Vec::new(),
    };
    shown(&v, build(&app, &v, &asked, None).await)
}

pub async fn run(State(app): State<App>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let date = |name: &str| fields.get(name).and_then(|d| d.parse::<NaiveDate>().ok());
    let (Some(from), Some(to)) = (date("from"), date("to")) else {
        return v.problem(Problem::invalid("from", "give the period as two dates"));
    };
    let as_live: Result<Vec<AiAppId>, _> = fields.all("as_live").map(AiAppId::parse).collect();
    let as_live = match as_live {
        Ok(a) => a,
        Err(e) => return v.problem(Problem::invalid("as_live", e.to_string())),
    };
    let asked = Asked {
        policy: fields.get("policy").unwrap_or("").to_string(),
        from,
        to,
        as_live,
    };
    let outcome = crate::replay::replay(
        State(app.clone()),
        v.caller(),
        Body(ReplayRequest {
            policy: asked.policy.clone(),
            from,
            to,
            as_live: asked.as_live.clone(),
        }),
    )
    .await
    .map(|j| j.0);
    shown(&v, build(&app, &v, &asked, Some(outcome)).await)
}

async fn build(
    app: &App,
    v: &Viewer,
    asked: &Asked,
    outcome: Option<Result<Replay, Problem>>,
) -> Result<Response, Problem> {
    let t = v.t();
    v.caller().ai_overseer()?;
    let changes = app.store.latest_status_changes().await?;
    let shadow: Vec<&AiAppId> = app
        .department
        .ai_applications
        .iter()
        .filter(|a| a.in_force(&changes).status == AiStatus::Shadow)
        .map(|a| &a.id)
        .collect();
    let body = html! {
        p.muted { (t.replay_help) }
        @match &outcome {
            Some(Ok(r)) => (result(v, r)),
            Some(Err(p)) => p.error role="alert" { (p.detail) },
            None => {},
        }
        form method="post" action="/policy/replay" {
            (layout::csrf(v))
            label for="r-policy" { (t.replay_policy) }
            textarea #r-policy.code name="policy" rows="16" required { (asked.policy) }
            div.filters {
                label for="r-from" { (t.from) } input #r-from type="date" name="from" value=(asked.from) required;
                label for="r-to" { (t.to) } input #r-to type="date" name="to" value=(asked.to) required;
            }
            @if !shadow.is_empty() {
                fieldset {
                    legend { (t.replay_as_live) }
                    @for a in &shadow {
                        label.check { input type="checkbox" name="as_live" value=(a.as_str()) checked[asked.as_live.contains(a)]; " " (a.as_str()) }
                    }
                }
            }
            p { button type="submit" { (t.replay_run) } }
        }
    };
    Ok(layout::page(v, app, t.replay_title, Nav::Policy, body))
}

fn result(v: &Viewer, r: &Replay) -> Markup {
    let t = v.t();
    let w = &r.radiologist;
    let a = &r.sent_away;
    let mut rules: Vec<Option<String>> = r
        .rules_in_force
        .iter()
        .chain(&r.rules_new)
        .map(|c| c.rule.clone())
        .collect();
    rules.sort();
    rules.dedup();
    let n = |list: &[radgate_domain::replay::RuleCount], rule: &Option<String>| {
        list.iter()
            .find(|c| &c.rule == rule)
            .map_or(0, |c| c.studies)
    };
    html! {
        section.panel #replay-result {
            h2 { (t.replay_result) }
            p { (r.studies) " " (t.studies) " · " (r.policy_new) " ← " (r.policies_in_force.join(", ")) " · " (t.replay_changed) ": " strong { (r.changed) } }
            (layout::scroll(t.replay_transitions, html! {
                table {
                    thead { tr { th scope="col" { (t.replay_in_force) } th scope="col" { (t.replay_new) } th scope="col" { (t.studies_header) } } }
                    tbody { @for x in &r.transitions {
                        tr { td { (t.pathway(x.from)) } td { @if x.from != x.to { strong { (t.pathway(x.to)) } } @else { (t.pathway(x.to)) } } td { (x.studies) } }
                    } }
                }
            }))
            h3 { (t.replay_radiologist) }
            dl.facts {
                dt { (t.replay_items) } dd { (format!("{:.1} → {:.1} ({:+.1})", w.items_in_force, w.items_new, w.items_new - w.items_in_force)) }
                dt { (t.replay_minutes) } dd { @match (w.minutes_in_force, w.minutes_new) {
                    (Some(x), Some(y)) => (format!("{x:.0} → {y:.0} ({:+.0})", y - x)),
                    _ => span.muted { (t.replay_minutes_unknown) },
                } }
            }
            h3 { (t.replay_sent_away) }
            p { (a.studies) " " (t.studies) " · " (t.replay_reported) " " (a.reported) " · " (t.replay_with_findings) " " (a.with_findings) " · " (t.replay_brought_back) " " (a.brought_back) }
            @if !a.findings.is_empty() { ul { @for f in &a.findings { li { (f.finding.as_str()) ": " (f.studies) } } } }
            @if let Some(e) = &a.missed_estimate {
                p { strong { (t.replay_missed) ": " } (format!("{:.1} ({:.1}–{:.1}, Wilson 95%)", e.estimate, e.lower, e.upper)) }
            }
            (layout::scroll(t.replay_rules, html! {
                table {
                    thead { tr { th scope="col" { (t.rule) } th scope="col" { (t.replay_in_force) } th scope="col" { (t.replay_new) } } }
                    tbody {
                        @for rule in &rules {
                            tr { td { code { (rule.clone().unwrap_or_else(|| t.no_rule.to_string())) } } td { (n(&r.rules_in_force, rule)) } td { (n(&r.rules_new, rule)) } }
                        }
                    }
                }
            }))
        }
    }
}
