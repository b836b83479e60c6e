//! The training programme's screens: the cohort view and the exam committee's sample for
//! programme staff; thesis rubrics with each committee member's scores, the deliberation
//! record and the finalisation; the assessor agreement report.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use radgate_domain::programme::ProgressStatus;
use radgate_domain::rubric::RubricAssessment;

use super::after;
use super::form::{Posted, Viewer};
use super::home::task_name;
use super::layout::{self, Nav};
use crate::extract::{Body, Params};
use crate::problem::Problem;
use crate::programmes::SampleQuery;
use crate::rubrics::{Agreed, NewScore, Note, Scores};
use crate::state::App;

fn status(t: &super::text::Text, s: ProgressStatus) -> Markup {
    let (label, class) = match s {
        ProgressStatus::NotStarted => (t.progress_not_started, "badge"),
        ProgressStatus::OnTrack => (t.progress_on_track, "badge ok"),
        ProgressStatus::Behind => (t.progress_behind, "badge warn"),
        ProgressStatus::Complete => (t.progress_complete, "badge ok"),
    };
    html! { span class=(class) { (label) } }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.2}"))
}

pub async fn cohort(
    State(app): State<App>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<SampleQuery>,
) -> Response {
    let t = v.t();
    let built = async {
        let caller = v.caller();
        let cohort = crate::programmes::cohort(State(app.clone()), caller.clone(), Path(id.clone())).await?.0;
        let sample = crate::programmes::sample(
            State(app.clone()),
            caller,
            Path(id.clone()),
            Params(SampleQuery { fraction: q.fraction, seed: q.seed }),
        )
        .await?
        .0;
        let rubrics = &app.department.rubrics;
        let today = chrono::Utc::now().date_naive();
        let mut theses = Vec::new();
        for plan in app.department.theses.iter().filter(|th| {
            app.department
                .trainee(&th.trainee)
                .is_some_and(|tr| tr.programme == id)
        }) {
            let (plan_on, mid_on) = app.store.milestones_of(&plan.trainee).await?;
            let thesis = plan.with(plan_on, mid_on);
            let problems = radgate_domain::thesis::check_team(&thesis, |i| app.department.is_partner(i));
            theses.push((plan, problems, radgate_domain::thesis::milestones(&thesis, today)));
        }
        Ok::<_, Problem>(html! {
            h2 { (t.cohort) }
            (layout::scroll(t.cohort, html! {
                table {
                    thead { tr { th scope="col" { (t.trainee) } th scope="col" { (t.status) } th scope="col" { (t.assessments) } th scope="col" { (t.gaps) } } }
                    tbody {
                        @for p in &cohort {
                            tr {
                                td { a href=(format!("/portfolio/{}", p.person)) { (p.person.as_str()) } }
                                td { (status(t, p.status)) }
                                td { (p.total.have) " / " (p.total.need) " (" (p.total.due_by_now) " " (t.due_by_now) ")" }
                                td { ul { @for g in &p.gaps { li { (g) } } } }
                            }
                        }
                    }
                }
            }))
            @if !theses.is_empty() {
                h2 { (t.theses) }
                @for (plan, problems, milestones) in &theses {
                    section.panel id=(format!("thesis-{}", plan.trainee)) {
                        h3 { (plan.trainee.as_str()) " · " (t.started) " " (plan.started) }
                        ul {
                            @for m in &plan.team {
                                li {
                                    (m.person.as_str()) " · " (supervisor_kind(t, m.kind)) " · " (m.institution)
                                    @if m.doctorate { " · " (t.doctorate) }
                                    @if m.responsible { " · " strong { (t.responsible) } }
                                }
                            }
                        }
                        @if problems.is_empty() { p.notice { (t.team_complete) } } @else {
                            ul { @for pr in problems { li.error { (pr.to_string()) } } }
                        }
                        (milestone_table(t, milestones))
                        form.filters method="post" action=(format!("/theses/{}/milestones", plan.trainee)) {
                            (layout::csrf(&v))
                            input type="hidden" name="back" value=(format!("/programmes/{id}"));
                            div {
                                label for=(format!("ms-kind-{}", plan.trainee)) { (t.milestone) }
                                select id=(format!("ms-kind-{}", plan.trainee)) name="kind" {
                                    option value="work_plan" { (t.work_plan) }
                                    option value="midterm" { (t.midterm) }
                                }
                            }
                            div {
                                label for=(format!("ms-on-{}", plan.trainee)) { (t.date) }
                                input type="date" id=(format!("ms-on-{}", plan.trainee)) name="on" required;
                            }
                            div { button type="submit" { (t.record) } }
                        }
                    }
                }
            }
            h2 { (t.committee_sample) }
            form.filters method="get" action=(format!("/programmes/{id}")) {
                div { label for="s-fraction" { (t.fraction) } input #s-fraction type="text" inputmode="decimal" name="fraction" value=(sample.fraction); }
                div { label for="s-seed" { (t.seed) } input #s-seed type="text" inputmode="numeric" name="seed" value=(sample.seed); }
                div { button type="submit" { (t.draw) } }
            }
            p { (sample.assessments.len()) " / " (sample.population) }
            (layout::scroll(t.committee_sample, html! {
                table {
                    thead { tr { th scope="col" { "id" } th scope="col" { (t.date) } th scope="col" { (t.assessee) } th scope="col" { (t.assessor) } th scope="col" { (t.task) } th scope="col" { (t.narrative) } } }
                    tbody {
                        @for a in &sample.assessments {
                            tr { td { (a.id) } td { (a.date) } td { (a.assessee.as_str()) } td { (a.assessor.as_str()) } td { (task_name(&app, a.task.as_str())) } td { (a.narrative) } }
                        }
                    }
                }
            }))
            section.panel #matching {
                h2 { (t.placement_matching) }
                form method="post" action=(format!("/programmes/{id}/match")) {
                    (layout::csrf(&v))
                    label for="m-round" { (t.round) }
                    input #m-round type="text" name="round" required pattern="[A-Za-z0-9._-]{1,32}";
                    " " button type="submit" { (t.run_matching) }
                }
            }
            h2 { (t.rubrics) }
            ul { @for r in rubrics { li { a href=(format!("/rubrics/{}", r.id)) { (r.name) } } } }
        })
    }
    .await;
    match built {
        Ok(body) => layout::page(
            &v,
            &app,
            &format!("{} · {id}", t.programme),
            Nav::Programme,
            body,
        ),
        Err(p) => v.problem(p),
    }
}

fn supervisor_kind(
    t: &super::text::Text,
    k: radgate_domain::thesis::SupervisorKind,
) -> &'static str {
    match k {
        radgate_domain::thesis::SupervisorKind::Technical => t.technical,
        radgate_domain::thesis::SupervisorKind::Medical => t.medical,
    }
}

/// The thesis milestones with their due dates and where they stand.
pub fn milestone_table(t: &super::text::Text, ms: &[radgate_domain::thesis::Milestone]) -> Markup {
    use radgate_domain::thesis::{MilestoneKind, MilestoneStatus};
    html! {
        table {
            thead { tr { th scope="col" { (t.milestone) } th scope="col" { (t.due) } th scope="col" { (t.status) } } }
            tbody {
                @for m in ms {
                    tr {
                        td { @match m.kind { MilestoneKind::WorkPlan => (t.work_plan), MilestoneKind::Midterm => (t.midterm) } }
                        td { (m.due) }
                        td {
                            @match m.status {
                                MilestoneStatus::Upcoming => span.badge { (t.upcoming) },
                                MilestoneStatus::DueSoon => span.badge.warn { (t.due_soon) },
                                MilestoneStatus::Overdue { days } => span.badge.stat { (t.overdue) " " (days) " d" },
                                MilestoneStatus::Done { on, late_days } => { span.badge.ok { (t.done_on) " " (on) } @if late_days > 0 { " (" (late_days) " d " (t.late) ")" } },
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A supervisor or programme staff records a milestone.
pub async fn record_milestone(
    State(app): State<App>,
    Path(trainee): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let kind = match fields.get("kind") {
        Some("work_plan") => radgate_domain::thesis::MilestoneKind::WorkPlan,
        Some("midterm") => radgate_domain::thesis::MilestoneKind::Midterm,
        _ => return v.problem(Problem::invalid("kind", "work_plan or midterm")),
    };
    let on = match fields.get("on").map(str::parse::<chrono::NaiveDate>) {
        Some(Ok(d)) => d,
        _ => return v.problem(Problem::invalid("on", "a date, YYYY-MM-DD")),
    };
    let back = fields
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/")
        .to_string();
    let done = crate::theses::record_milestone(
        State(app),
        v.caller(),
        Path(trainee),
        Body(crate::theses::NewMilestone { kind, on }),
    )
    .await;
    after(&v, done, &back)
}

pub async fn rubric(State(app): State<App>, v: Viewer, Path(id): Path<String>) -> Response {
    let t = v.t();
    let built = async {
        let report = crate::rubrics::agreement(State(app.clone()), v.caller(), Path(id.clone())).await;
        let list = app.store.rubric_assessments(&id).await?;
        Ok::<_, Problem>(html! {
            h2 { (t.rubric_assessments) }
            ul { @for a in &list { li { a href=(format!("/rubric-assessments/{}", a.id)) { (a.title) } " · " (a.subject.as_str()) @if a.finalisation.is_some() { " · " span.badge.ok { (t.finalised) } } } } }
            h2 { (t.assessor_agreement) }
            @match &report {
                Ok(r) => {
                    (layout::scroll(t.assessor_agreement, html! {
                        table {
                            thead { tr { th scope="col" { (t.criterion) } th scope="col" { "n" } th scope="col" { "κ (quadratic)" } th scope="col" { "ICC(2,1)" } th scope="col" { "α (ordinal)" } th scope="col" { (t.mean_difference) } } }
                            tbody {
                                @for (name, c) in r.0.criteria.iter().chain(std::iter::once((&t.overall.to_string(), &r.0.overall))) {
                                    tr { td { (name) } td { (c.n) } td { (opt(c.kappa_quadratic)) } td { (opt(c.icc2_1)) } td { (opt(c.krippendorff_alpha_ordinal)) } td { (opt(c.mean_difference)) } }
                                }
                            }
                        }
                    }))
                }
                Err(p) => p.muted { (p.detail) },
            }
        })
    }
    .await;
    match built {
        Ok(body) => layout::page(
            &v,
            &app,
            &format!("{} · {id}", t.rubrics),
            Nav::Programme,
            body,
        ),
        Err(p) => v.problem(p),
    }
}

fn detail(app: &App, v: &Viewer, a: &RubricAssessment) -> Markup {
    let t = v.t();
    let me = &v.user.professional;
    let criteria = app
        .department
        .rubric(&a.rubric)
        .map(|r| r.criteria.clone())
        .unwrap_or_default();
    let member = a.on_committee(me) && a.finalisation.is_none();
    html! {
        p { (t.subject) ": " (a.subject.as_str()) " · " (t.committee) ": " @for m in &a.committee { (m.person.as_str()) " (" (format!("{:?}", m.background).to_lowercase()) ") " } }
        h2 { (t.scores) }
        (layout::scroll(t.scores, html! {
            table {
                thead { tr { th scope="col" { (t.assessor) } th scope="col" { (t.criterion) } th scope="col" { (t.score) } th scope="col" { (t.narrative) } } }
                tbody { @for s in &a.scores { tr { td { (s.assessor.as_str()) } td { (s.criterion) } td { (s.score) } td { (s.comment) } } } }
            }
        }))
        h2 { (t.deliberation) }
        ul { @for n in &a.deliberation { li { (layout::when(n.at)) " · " (n.by.as_str()) ": " (n.text) } } }
        @if let Some(f) = &a.finalisation {
            p.notice { (t.finalised) " · " (f.by.as_str()) " · " (layout::when(f.at)) }
            ul { @for (c, s) in &f.scores { li { (c) ": " (s) } } }
        }
        @if member {
            section.panel #my-scores {
                h2 { (t.my_scores) }
                form method="post" action=(format!("/rubric-assessments/{}/scores", a.id)) {
                    (layout::csrf(v))
                    @for c in &criteria {
                        fieldset {
                            legend { (c.id) " (" (c.min) "–" (c.max) ")" }
                            label for=(format!("score-{}", c.id)) { (t.score) }
                            select id=(format!("score-{}", c.id)) name=(format!("score.{}", c.id)) {
                                @for s in c.min..=c.max { option value=(s) { (s) } }
                            }
                            label for=(format!("comment-{}", c.id)) { (t.narrative) }
                            input type="text" id=(format!("comment-{}", c.id)) name=(format!("comment.{}", c.id));
                        }
                    }
                    p { button type="submit" { (t.save_scores) } }
                }
            }
            section.panel #deliberate {
                h2 { (t.deliberation) }
                form method="post" action=(format!("/rubric-assessments/{}/deliberation", a.id)) {
                    (layout::csrf(v))
                    label for="note" { (t.narrative) }
                    textarea #note name="text" required {}
                    p { button type="submit" { (t.add_note) } }
                }
            }
            section.panel #finalise {
                h2 { (t.finalise) }
                form method="post" action=(format!("/rubric-assessments/{}/finalise", a.id)) {
                    (layout::csrf(v))
                    @for c in &criteria {
                        label for=(format!("agreed-{}", c.id)) { (c.id) }
                        select id=(format!("agreed-{}", c.id)) name=(format!("agreed.{}", c.id)) {
                            @for s in c.min..=c.max { option value=(s) { (s) } }
                        }
                    }
                    p { button type="submit" { (t.finalise) } }
                }
            }
        }
    }
}

pub async fn rubric_assessment(
    State(app): State<App>,
    v: Viewer,
    Path(id): Path<String>,
) -> Response {
    let t = v.t();
    match crate::rubrics::get(State(app.clone()), v.caller(), Path(id)).await {
        Ok(a) => layout::page(
            &v,
            &app,
            &format!("{} · {}", t.rubric_assessments, a.0.title),
            Nav::Programme,
            detail(&app, &v, &a.0),
        ),
        Err(p) => v.problem(p),
    }
}

/// Reads `prefix.CRITERION` fields as numbers.
fn per_criterion(f: &super::form::Fields, prefix: &str) -> Result<BTreeMap<String, i64>, Problem> {
    let mut out = BTreeMap::new();
    for (name, value) in f.pairs() {
        if let Some(c) = name.strip_prefix(prefix) {
            let n = value
                .parse::<i64>()
                .map_err(|e| Problem::invalid("scores", format!("{c}: {e}")))?;
            out.insert(c.to_string(), n);
        }
    }
    Ok(out)
}

pub async fn score(State(app): State<App>, Path(id): Path<String>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let scores = match per_criterion(&fields, "score.") {
        Ok(s) => s,
        Err(p) => return v.problem(p),
    };
    let scores = Scores {
        scores: scores
            .into_iter()
            .map(|(criterion, score)| NewScore {
                comment: fields
                    .get(&format!("comment.{criterion}"))
                    .unwrap_or("")
                    .to_string(),
                criterion,
                score,
            })
            .collect(),
    };
    after(
        &v,
        crate::rubrics::score(State(app), v.caller(), Path(id.clone()), Body(scores)).await,
        &format!("/rubric-assessments/{id}"),
    )
}

pub async fn deliberate(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let note = Note {
        text: fields.get("text").unwrap_or("").to_string(),
    };
    after(
        &v,
        crate::rubrics::deliberate(State(app), v.caller(), Path(id.clone()), Body(note)).await,
        &format!("/rubric-assessments/{id}"),
    )
}

pub async fn finalise(State(app): State<App>, Path(id): Path<String>, posted: Posted) -> Response {
    let Posted { viewer: v, fields } = posted;
    let scores = match per_criterion(&fields, "agreed.") {
        Ok(s) => s,
        Err(p) => return v.problem(p),
    };
    let done = crate::rubrics::finalise(
        State(app),
        v.caller(),
        Path(id.clone()),
        Body(Agreed { scores }),
    )
    .await;
    after(&v, done, &format!("/rubric-assessments/{id}"))
}

/// Programme staff run a round's matching; the page shows the result.
pub async fn run_matching(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { viewer: v, fields } = posted;
    let t = v.t();
    let round = fields.get("round").unwrap_or("").trim().to_string();
    let outcome = match crate::placements::run(
        State(app.clone()),
        v.caller(),
        Path((id.clone(), round.clone())),
    )
    .await
    {
        Ok(o) => o.0,
        Err(p) => return v.problem(p),
    };
    let s = &outcome.shares;
    let pct = |x: f64| format!("{:.0}%", 100.0 * x);
    let body = html! {
        p #match-summary {
            (s.trainees) " · " (t.first_choice) " " (pct(s.first_choice)) " · " (t.top_three) " " (pct(s.top_three)) " · " (t.unmatched) " " (pct(s.unmatched))
            " · seed " (outcome.seed)
        }
        (layout::scroll(t.placement_matching, html! {
            table {
                thead { tr { th scope="col" { (t.trainee) } th scope="col" { (t.placement) } th scope="col" { (t.choice) } th scope="col" { (t.medical_supervisor) } th scope="col" { (t.technical_supervisor) } } }
                tbody {
                    @for p in &outcome.placed {
                        tr { td { (p.trainee.as_str()) } td { (p.placement) } td { (p.choice) } td { (p.medical_supervisor.as_str()) }
                             td { (p.technical_supervisor.clone().unwrap_or_default()) @if p.technical_assigned { " " span.badge { (t.assigned) } } } }
                    }
                    @for u in &outcome.unmatched { tr { td { (u.as_str()) } td colspan="4" { (t.unmatched) } } }
                }
            }
        }))
        @let costly: Vec<_> = outcome.excluded.iter().filter(|e| e.cost_a_claim).collect();
        @if !costly.is_empty() {
            h2 { (t.variety_rule) }
            ul { @for e in costly { li { (e.trainee) ": " (e.placement) " — " (e.reason) } } }
        }
        p { a href=(format!("/programmes/{id}")) { (t.back) } }
    };
    layout::page(
        &v,
        &app,
        &format!("{} · {id} · {round}", t.placement_matching),
        Nav::Programme,
        body,
    )
}
