//! Logging in and out, and the language switch.

use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::form::{LANG_COOKIE, Posted, lang_of, read_form, same_token};
use super::layout;
use super::text::Lang;
use crate::auth::{ClientAddr, cookie, new_secret};
use crate::state::App;

/// Before there is a session, the login form is tied to the browser by a cookie of its
/// own (double submit), so another site cannot log a browser in under its account.
const LOGIN_COOKIE: &str = "radgate_login";

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only a path on this server: never an open redirect.
fn local(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/")
}

/// `; Secure` when radgate is served over TLS (`--secure-cookies`), as for the session.
fn secure(app: &App) -> &'static str {
    if app.secure_cookies { "; Secure" } else { "" }
}

fn form(app: &App, lang: Lang, next: &str, token: &str, failed: Option<&str>) -> Response {
    let t = lang.t();
    let body = html! {
        @if let Some(why) = failed { p.error role="alert" { (why) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(next);
            label for="username" { (t.username) }
            input #username type="text" name="username" autocomplete="username" required autofocus;
            label for="password" { (t.password) }
            input #password type="password" name="password" autocomplete="current-password" required;
            p { button type="submit" { (t.log_in) } }
        }
    };
    let status = if failed.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = layout::bare(lang, t.login_title, status, body);
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/login{}",
        secure(app)
    );
    if let Ok(v) = cookie.parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub async fn login_form(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Query(n): Query<Next>,
) -> Response {
    form(
        &app,
        lang_of(&headers),
        local(n.next.as_deref()),
        &new_secret(),
        None,
    )
}

pub async fn login(State(app): State<App>, ClientAddr(addr): ClientAddr, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.headers);
    let fields = match read_form(body, &parts.headers, lang, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let next = local(fields.get("next")).to_string();
    let bound = match (fields.get("csrf"), cookie(&parts.headers, LOGIN_COOKIE)) {
        (Some(f), Some(c)) => same_token(f, c),
        _ => false,
    };
    if !bound {
        let mut r = form(
            &app,
            lang,
            &next,
            &new_secret(),
            Some(lang.t().form_expired),
        );
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let username = fields.get("username").unwrap_or("").trim();
    let password = fields.get("password").unwrap_or("").to_string();
    match crate::api::start_session(&app, addr, username, password).await {
        Ok((_, session)) => {
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = session.parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(p) if p.status == StatusCode::UNAUTHORIZED => form(
            &app,
            lang,
            &next,
            &new_secret(),
            Some(lang.t().login_failed),
        ),
        Err(p) => {
            let mut r = form(&app, lang, &next, &new_secret(), Some(&p.detail));
            *r.status_mut() = p.status;
            r
        }
    }
}

pub async fn logout(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    posted: Posted,
) -> Response {
    match crate::api::end_session(&app, &headers).await {
        Ok(expired) => {
            let mut r = Redirect::to("/login").into_response();
            if let Ok(v) = expired.parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(p) => posted.viewer.problem(p),
    }
}

/// Remembers the chosen language in this browser for a year.
pub async fn language(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    posted: Posted,
) -> Response {
    let lang = posted
        .fields
        .get("lang")
        .and_then(Lang::parse)
        .unwrap_or(posted.viewer.lang);
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("://").map(|i| &r[i + 3..]))
        .and_then(|r| r.find('/').map(|i| r[i..].to_string()));
    let mut r = Redirect::to(local(back.as_deref())).into_response();
    let c = format!(
        "{LANG_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000{}",
        lang.code(),
        secure(&app)
    );
    if let Ok(v) = c.parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
