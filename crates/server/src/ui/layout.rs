//! The page shell (header, navigation, language switch) and the small formatting helpers
//! every screen shares.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use radgate_domain::authz;
use radgate_domain::report::authorization_task;

use super::assets;
use super::form::Viewer;
use super::text::{Lang, Text};
use crate::state::App;

/// Where a page sits in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Worklist,
    Queue,
    Mine,
    Portfolio,
    Inbox,
    Ai,
    Adjudication,
    Reconciliation,
    Audit,
    Policy,
    Programme,
    None,
}

/// The screens this person's role opens to them, as the domain's rules say. A link shown
/// is no permission: every page asks the domain again.
fn nav_items(v: &Viewer, app: &App) -> Vec<(Nav, String, &'static str)> {
    let t = v.t();
    let role = v.user.role;
    let today = Utc::now().date_naive();
    let mut items = vec![(Nav::Home, "/".to_string(), t.home)];
    if !authz::tasks_for(role, &app.department, today).is_empty() {
        items.push((Nav::Worklist, "/worklist".to_string(), t.worklist));
        items.push((Nav::Mine, "/mine".to_string(), t.my_items));
        if authz::tasks_for(role, &app.department, today).contains(&authorization_task()) {
            items.push((
                Nav::Queue,
                "/worklist?queue=authorize".to_string(),
                t.authorization_queue,
            ));
        }
    }
    items.push((Nav::Portfolio, "/portfolio".to_string(), t.portfolio));
    items.push((
        Nav::Inbox,
        "/assessments/inbox".to_string(),
        t.assessor_inbox,
    ));
    if let Some(p) = app
        .department
        .programmes
        .iter()
        .find(|p| authz::may_monitor_programme(&v.user.professional, p))
    {
        items.push((Nav::Programme, format!("/programmes/{}", p.id), t.programme));
    }
    if authz::may_oversee_ai(role) {
        items.push((Nav::Ai, "/ai".to_string(), t.ai_dashboard));
        items.push((Nav::Policy, "/policy".to_string(), t.policy));
    }
    if authz::may_adjudicate(role) {
        items.push((
            Nav::Adjudication,
            "/adjudications".to_string(),
            t.adjudication,
        ));
    }
    if authz::may_read_audit(role) {
        items.push((
            Nav::Reconciliation,
            "/reconciliation".to_string(),
            t.reconciliation,
        ));
        items.push((Nav::Audit, "/audit".to_string(), t.audit));
    }
    items
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx without its inline indicator style and without eval: the CSP allows neither.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0}"#;
            title { (title) " · radgate" }
            link rel="stylesheet" href=(assets::CSS);
            script src=(assets::HTMX) defer {}
            script src=(assets::JS) defer {}
        }
    }
}

fn language_switch(lang: Lang, t: &Text, csrf: Option<&str>) -> Markup {
    let other = match lang {
        Lang::En => Lang::Nl,
        Lang::Nl => Lang::En,
    };
    html! {
        form.inline method="post" action="/language" {
            @if let Some(c) = csrf { input type="hidden" name="csrf" value=(c); }
            input type="hidden" name="lang" value=(other.code());
            button.link type="submit" lang=(other.code()) { (t.switch_language) }
        }
    }
}

/// A whole page for a signed-in person.
pub fn page(v: &Viewer, app: &App, title: &str, current: Nav, body: Markup) -> Response {
    let t = v.t();
    let markup = html! {
        (DOCTYPE)
        html lang=(v.lang.code()) {
            (head(title))
            body {
                a.skip href="#main" { (t.skip_to_content) }
                header.top {
                    a.brand href="/" { "radgate" }
                    nav aria-label=(t.nav_label) {
                        ul {
                            @for (nav, href, label) in nav_items(v, app) {
                                li {
                                    @if nav == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (t.signed_in_as) " " strong { (v.user.username) } " (" (t.role(v.user.role)) ")" }
                        (language_switch(v.lang, t, Some(&v.csrf)))
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button.link type="submit" { (t.log_out) }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    markup.into_response()
}

/// A page for someone who may not be signed in (login, errors).
pub fn bare(lang: Lang, title: &str, status: StatusCode, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(title))
            body {
                header.top { a.brand href="/" { "radgate" } }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    (status, markup).into_response()
}

/// Says what went wrong and offers the way back.
pub fn error_page(v: Option<&Viewer>, lang: Lang, status: StatusCode, detail: &str) -> Response {
    let t = lang.t();
    let body = html! {
        p.error role="alert" { (detail) }
        p { a href="/" { (t.back) } }
    };
    let _ = v;
    bare(lang, t.error_title, status, body)
}

/// The hidden field every form of a session carries.
pub fn csrf(v: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(v.csrf); }
}

pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Time until `due` in whole minutes, negative when overdue.
pub fn minutes_left(due: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (due - now).num_minutes()
}

pub fn time_left(t: &Text, due: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    let m = minutes_left(due, now);
    let span = if m.abs() >= 120 {
        format!("{} h", m.abs() / 60)
    } else {
        format!("{} {}", m.abs(), t.minutes)
    };
    html! {
        @if m < 0 {
            span.overdue { (span) " " (t.overdue) }
        } @else {
            (span)
        }
    }
}

/// A table that scrolls sideways on narrow screens, reachable by keyboard.
pub fn scroll(label: &str, table: Markup) -> Markup {
    html! {
        div.scroll tabindex="0" role="region" aria-label=(label) { (table) }
    }
}
