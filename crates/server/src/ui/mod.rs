//! The web screens: server-rendered HTML (maud) over the same handlers and domain rules as
//! the JSON API. Every form works without script; the vendored htmx and a few lines of
//! our own script only refresh the worklist when the server says it changed. Permissions
//! are the domain's (`authz`), asked on the server for every page and every post.

mod admin;
mod assets;
mod diff;
mod form;
mod home;
mod layout;
mod portfolio;
mod programme;
mod raio;
mod replay;
mod session;
mod study;
pub mod text;
mod truth;
mod worklist;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::state::App;

pub use form::Viewer;

pub fn asset_bytes() -> usize {
    assets::total_bytes()
}
pub use admin::ChainCheck;
pub use worklist::{Changes, Facets};

/// The browser may load and connect to nothing but this server: no inline script or
/// style, no eval, no framing, forms post only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home::page))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/language", post(session::language))
        .route("/assets/{file}", get(assets::serve))
        .route("/worklist", get(worklist::page))
        .route("/worklist/rows", get(worklist::rows))
        .route("/worklist/events", get(worklist::events))
        .route("/mine", get(worklist::mine))
        .route("/items/{id}/claim", post(worklist::claim))
        .route("/items/{id}/release", post(worklist::release))
        .route(
            "/items/{id}/clear",
            get(study::confirm_clear).post(study::clear),
        )
        .route(
            "/items/{id}/escalate",
            get(study::confirm_escalate).post(study::escalate),
        )
        .route("/items/{id}/review", post(study::review))
        .route("/studies/{accession}", get(study::page))
        .route("/studies/{accession}/report", post(study::write_report))
        .route("/studies/{accession}/authorize", post(study::authorize))
        .route("/studies/{accession}/return", post(study::return_report))
        .route("/studies/{accession}/addendum", post(study::addendum))
        .route("/portfolio", get(portfolio::mine))
        .route("/portfolio/{id}", get(portfolio::of))
        .route("/assessments/request", post(portfolio::request))
        .route("/assessments/inbox", get(portfolio::inbox))
        .route("/assessments/{id}/confirm", post(portfolio::confirm))
        .route("/ai", get(raio::dashboard))
        .route("/ai/{id}", get(raio::application))
        .route("/alarms/{id}/clear", post(raio::clear_alarm))
        .route("/ai/{id}/status", post(raio::change_status))
        .route("/pilots/{id}", get(raio::pilot))
        .route("/pilots/{id}/decision", post(raio::decide_pilot))
        .route("/programmes/{id}", get(programme::cohort))
        .route("/programmes/{id}/match", post(programme::run_matching))
        .route("/placements/ranking", post(portfolio::rank))
        .route(
            "/theses/{trainee}/milestones",
            post(programme::record_milestone),
        )
        .route("/rubrics/{id}", get(programme::rubric))
        .route(
            "/rubric-assessments/{id}",
            get(programme::rubric_assessment),
        )
        .route("/rubric-assessments/{id}/scores", post(programme::score))
        .route(
            "/rubric-assessments/{id}/deliberation",
            post(programme::deliberate),
        )
        .route(
            "/rubric-assessments/{id}/finalise",
            post(programme::finalise),
        )
        .route("/adjudications", get(truth::list))
        .route("/adjudications/{accession}/{finding}", post(truth::answer))
        .route("/reconciliation", get(admin::reconciliation))
        .route("/audit", get(admin::audit))
        .route("/audit/verify", post(admin::verify))
        .route("/policy", get(admin::policy))
        .route("/policy/explain", post(admin::explain))
        .route("/policy/replay", get(replay::page).post(replay::run))
        .layer(axum::middleware::from_fn(secure_headers))
}

/// Pages carry patient data: never cached, never framed, and held to [`CSP`].
async fn secure_headers(req: axum::extract::Request, next: Next) -> Response {
    let asset = req.uri().path().starts_with("/assets/");
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// After a post that worked: back to a page with a plain GET (post/redirect/get).
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// What a form post answers: on to `to` when the handler agreed, else its refusal as a
/// page.
fn after<T>(v: &Viewer, done: Result<T, crate::problem::Problem>, to: &str) -> Response {
    match done {
        Ok(_) => see_other(to),
        Err(p) => v.problem(p),
    }
}

/// A page, or the reason it cannot be shown.
fn shown(v: &Viewer, page: Result<Response, crate::problem::Problem>) -> Response {
    page.unwrap_or_else(|p| v.problem(p))
}

/// The 404 of everything outside the API: a page, not JSON.
pub async fn not_found(viewer: Option<Viewer>) -> Response {
    let lang = viewer.as_ref().map_or(text::Lang::En, |v| v.lang);
    let t = lang.t();
    layout::error_page(
        viewer.as_ref(),
        lang,
        axum::http::StatusCode::NOT_FOUND,
        t.not_found,
    )
}
