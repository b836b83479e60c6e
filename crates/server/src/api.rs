//! HTTP handlers. Each reads like a sentence: authenticate, extract, ask the domain,
//! store, answer.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use radgate_domain::ai::AiResult;
use radgate_domain::authz;
use radgate_domain::ids::AccessionNumber;
use radgate_domain::study::{Order, Study};
use radgate_domain::workitem::WorkItem;
use radgate_store::ClaimError;
use serde::Deserialize;

use crate::auth::{Caller, ClientAddr, SESSION_COOKIE, hash_password, new_secret, sha256_hex};
use crate::ingest::{self, Outcome};
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::state::App;

pub use crate::extract::MAX_BODY_BYTES;

/// The largest STOW-RS body taken: a few AI results with their segmentations, in memory.
const STOW_MAX_BYTES: usize = 256 << 20;
use crate::extract::{Body, ItemId};
const SESSION_HOURS: i64 = 10;
/// Longer usernames and passwords are refused before any work is done for them.
const MAX_USERNAME: usize = 128;
const MAX_PASSWORD: usize = 1024;

pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/orders", post(post_order))
        .route("/api/v1/studies", post(post_study))
        .route("/api/v1/ai-results", post(post_ai_result))
        .route("/api/v1/studies/{accession}/decision", get(get_decision))
        .route(
            "/api/v1/studies/{accession}/ai-objects",
            get(get_ai_objects),
        )
        .route(
            "/api/v1/studies/{accession}/truth",
            get(crate::adjudications::truth),
        )
        .route("/api/v1/adjudications", get(crate::adjudications::list))
        .route("/api/v1/policy/replay", post(crate::replay::replay))
        .route(
            "/api/v1/adjudications/{accession}/{finding}",
            post(crate::adjudications::answer),
        )
        .route("/api/v1/worklist", get(worklist))
        .route("/api/v1/worklist/mine", get(my_items))
        .route("/api/v1/reconciliation", get(reconciliation))
        .route(
            "/api/v1/professionals/{id}/authorizations",
            get(authorizations),
        )
        .route(
            "/api/v1/suspensions/lift",
            post(crate::reports::lift_suspension),
        )
        .route("/api/v1/notifications", get(crate::reports::notifications))
        .route("/api/v1/assessments", post(crate::assessments::create))
        .route("/api/v1/stats/agreement", post(crate::stats::agreement))
        .route(
            "/api/v1/pilots",
            get(crate::pilots::list).post(crate::pilots::declare),
        )
        .route("/api/v1/pilots/{id}/report", get(crate::pilots::report))
        .route("/api/v1/pilots/{id}/decision", post(crate::pilots::decide))
        .route("/fhir/metadata", get(crate::fhir::metadata))
        .route(
            "/fhir/{kind}",
            get(crate::fhir::search).post(crate::fhir::create),
        )
        .route("/fhir/{kind}/{id}", get(crate::fhir::read))
        .route("/api/v1/ai", get(crate::register::list))
        .route("/api/v1/ai/{id}", get(crate::register::show))
        .route("/api/v1/ai/{id}/status", post(crate::register::change))
        .route("/api/v1/ai/{id}/metrics", get(crate::monitoring::metrics))
        .route(
            "/api/v1/ai/{id}/charts/performance.svg",
            get(crate::charts::performance),
        )
        .route(
            "/api/v1/ai/{id}/charts/cusum.svg",
            get(crate::charts::cusum),
        )
        .route("/api/v1/ai/{id}/charts/roc.svg", get(crate::charts::roc))
        .route("/api/v1/ai/{id}/alarms", get(crate::drift::alarms))
        .route(
            "/api/v1/ai/{id}/turnaround",
            get(crate::monitoring::turnaround),
        )
        .route("/api/v1/ai/{id}/drift-check", post(crate::drift::run_check))
        .route("/api/v1/ai-alarms/{id}/clear", post(crate::drift::clear))
        .route("/api/v1/rubric-assessments", post(crate::rubrics::create))
        .route("/api/v1/rubric-assessments/{id}", get(crate::rubrics::get))
        .route(
            "/api/v1/rubric-assessments/{id}/scores",
            post(crate::rubrics::score),
        )
        .route(
            "/api/v1/rubric-assessments/{id}/deliberation",
            post(crate::rubrics::deliberate),
        )
        .route(
            "/api/v1/rubric-assessments/{id}/finalise",
            post(crate::rubrics::finalise),
        )
        .route(
            "/api/v1/rubrics/{id}/agreement",
            get(crate::rubrics::agreement),
        )
        .route(
            "/api/v1/professionals/{id}/progress",
            get(crate::programmes::progress),
        )
        .route(
            "/api/v1/programmes/{id}/cohort",
            get(crate::programmes::cohort),
        )
        .route(
            "/api/v1/programmes/{id}/sample",
            get(crate::programmes::sample),
        )
        .route(
            "/api/v1/programmes/{id}/rounds/{round}/ranking",
            post(crate::placements::rank),
        )
        .route(
            "/api/v1/programmes/{id}/rounds/{round}/match",
            post(crate::placements::run),
        )
        .route(
            "/api/v1/theses/{trainee}/milestones",
            post(crate::theses::record_milestone),
        )
        .route(
            "/api/v1/assessments/{id}/confirm",
            post(crate::assessments::confirm),
        )
        .route(
            "/api/v1/professionals/{id}/assessments",
            get(crate::assessments::list),
        )
        .route("/api/v1/work-items/{id}/claim", post(claim))
        .route("/api/v1/work-items/{id}/release", post(release))
        .route("/api/v1/work-items/{id}/complete", post(complete))
        .route(
            "/api/v1/work-items/{id}/close",
            post(crate::reports::close_without_report),
        )
        .route(
            "/api/v1/work-items/{id}/clear",
            post(crate::gatekeeping::clear),
        )
        .route(
            "/api/v1/work-items/{id}/escalate",
            post(crate::gatekeeping::escalate),
        )
        .route(
            "/api/v1/work-items/{id}/review",
            post(crate::gatekeeping::review),
        )
        .route("/api/v1/safety/{task}", get(crate::gatekeeping::safety))
        .route("/api/v1/reports/{accession}", get(crate::reports::get))
        .route(
            "/api/v1/reports/{accession}/draft",
            post(crate::reports::draft),
        )
        .route(
            "/api/v1/reports/{accession}/submit",
            post(crate::reports::submit),
        )
        .route(
            "/api/v1/reports/{accession}/authorize",
            post(crate::reports::authorize),
        )
        .route(
            "/api/v1/reports/{accession}/return",
            post(crate::reports::return_for_correction),
        )
        .route(
            "/api/v1/reports/{accession}/addendum",
            post(crate::reports::addendum),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(crate::extract::refuse_nul))
        .layer(axum::middleware::from_fn(crate::extract::problems_only))
        .merge(crate::ups_rs::routes().layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        // STOW-RS bodies are instances: the receiver's limit on one data set applies.
        .merge(crate::dicomweb::routes().layer(DefaultBodyLimit::max(STOW_MAX_BYTES)))
        .merge(crate::ui::router())
        .fallback(fallback)
        .with_state(app)
}

/// Outside the API a missing page is a page; inside it, a problem document.
async fn fallback(uri: axum::http::Uri, viewer: Option<crate::ui::Viewer>) -> Response {
    let path = uri.path();
    if path.starts_with("/api/")
        || path.starts_with("/fhir/")
        || path == "/fhir"
        || path.starts_with("/dicom-web/")
    {
        return Problem::not_found("no such endpoint; see /api/v1/openapi.json").into_response();
    }
    crate::ui::not_found(viewer).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(app): State<App>) -> Result<&'static str, Problem> {
    app.store
        .ping()
        .await
        .map_err(|e| Problem::unavailable(format!("database: {e}")))?;
    Ok("ready")
}

async fn metrics(State(app): State<App>) -> Result<Response, Problem> {
    let open = app.store.open_item_count().await?;
    let outbox = app.store.backlog().await?;
    let unreconciled = app.store.reconciliation_count().await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(open, outbox, unreconciled),
    )
        .into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

async fn login(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    Body(l): Body<Login>,
) -> Result<Response, Problem> {
    let (user, cookie) = start_session(&app, addr, &l.username, l.password).await?;
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(me_json(&user))).into_response())
}

/// Checks a login and opens a session: the person and the `Set-Cookie` value that carries
/// it. The API's login and the login screen both come here.
pub(crate) async fn start_session(
    app: &App,
    addr: Option<std::net::IpAddr>,
    username: &str,
    password: String,
) -> Result<(radgate_store::User, String), Problem> {
    // Bounded before anything is kept of them (the throttle keys on the username).
    if username.chars().count() > MAX_USERNAME {
        return Err(Problem::invalid(
            "username",
            format!("a username has at most {MAX_USERNAME} characters"),
        ));
    }
    if password.chars().count() > MAX_PASSWORD {
        return Err(Problem::invalid(
            "password",
            format!("a password has at most {MAX_PASSWORD} characters"),
        ));
    }
    let addr = addr.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if let Some(wait) = app.throttle.wait(username, addr) {
        return Err(Problem::too_many(
            format!("too many failed logins from this address; try again in {wait} s"),
            wait,
        ));
    }
    let user = app.store.user(username).await?;
    // Verify against a dummy hash for unknown users too, so timing does not tell them apart.
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => DUMMY_HASH.get_or_init(|| hash_password("radgate")).clone(),
    };
    // A fixed number of hashes at a time, on their own threads: the rest are refused at
    // once, not queued.
    let Ok(ok) = app.passwords.verify(password, hash).await else {
        return Err(Problem::too_many(
            "too many logins at once; try again in a moment",
            1,
        ));
    };
    let ok = ok && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        app.throttle.failed(username, addr);
        Metrics::bump(&app.metrics.logins_failed);
        return Err(Problem {
            detail: "unknown username or wrong password".into(),
            ..Problem::unauthenticated()
        });
    };
    app.throttle.succeeded(username, addr);
    let token = new_secret();
    let now = Utc::now();
    app.store
        .create_session(
            &sha256_hex(&token),
            &user.username,
            now,
            now + chrono::Duration::hours(SESSION_HOURS),
        )
        .await?;
    let mut tx = app.store.begin().await?;
    tx.audit(&radgate_domain::audit::AuditEvent {
        at: now,
        actor: user.professional.to_string(),
        kind: radgate_domain::audit::AuditKind::Login,
        subject: format!("user/{}", user.username),
        detail: serde_json::json!({}),
    })
    .await?;
    tx.commit().await?;
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_HOURS * 3600
    );
    Ok((user, cookie))
}

static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn logout(State(app): State<App>, headers: axum::http::HeaderMap) -> Response {
    match end_session(&app, &headers).await {
        Ok(expired) => (StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response(),
        Err(p) => p.into_response(),
    }
}

/// Ends the request's session, if any: the `Set-Cookie` value that removes it.
pub(crate) async fn end_session(
    app: &App,
    headers: &axum::http::HeaderMap,
) -> Result<String, Problem> {
    if let Some(t) = crate::auth::cookie(headers, SESSION_COOKIE) {
        app.store.delete_session(&sha256_hex(t)).await?;
    }
    Ok(format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    ))
}

fn me_json(u: &radgate_store::User) -> serde_json::Value {
    serde_json::json!({ "username": u.username, "professional": u.professional.as_str(), "role": u.role.code() })
}

async fn me(caller: Caller) -> Result<axum::Json<serde_json::Value>, Problem> {
    Ok(axum::Json(me_json(caller.person()?)))
}

fn ingested(outcome: Outcome) -> Response {
    let status = if outcome.status == "unchanged" {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, axum::Json(outcome)).into_response()
}

async fn post_order(
    State(app): State<App>,
    caller: Caller,
    Body(order): Body<Order>,
) -> Result<Response, Problem> {
    caller.may_feed(authz::Feed::Order)?;
    Ok(ingested(
        ingest::order(&app, &order, &caller.actor()).await?,
    ))
}

async fn post_study(
    State(app): State<App>,
    caller: Caller,
    Body(study): Body<Study>,
) -> Result<Response, Problem> {
    caller.may_feed(authz::Feed::Study)?;
    Ok(ingested(
        ingest::study(&app, &study, &caller.actor()).await?,
    ))
}

async fn post_ai_result(
    State(app): State<App>,
    caller: Caller,
    Body(r): Body<AiResult>,
) -> Result<Response, Problem> {
    ingest::registered(&app, &r)?;
    caller.may_feed(authz::Feed::AiResult(&r.app))?;
    Ok(ingested(
        ingest::ai_result(&app, &r, &caller.actor()).await?,
    ))
}

/// A path's accession number, typed; invalid (422) when it is not one.
pub(crate) fn accession(raw: String) -> Result<AccessionNumber, Problem> {
    AccessionNumber::parse(raw).map_err(|e| Problem::invalid("accession", e.to_string()))
}

/// What AI nodes sent beside their reports for a study (segmentations, parametric maps,
/// secondary captures), with the application each came from.
async fn get_ai_objects(
    State(app): State<App>,
    caller: Caller,
    Path(accession): Path<String>,
) -> Result<Response, Problem> {
    let accession = caller.readable_study(&app, accession).await?;
    Ok(axum::Json(app.store.ai_objects_of(accession.as_str()).await?).into_response())
}

async fn get_decision(
    State(app): State<App>,
    caller: Caller,
    Path(accession): Path<String>,
) -> Result<Response, Problem> {
    let accession = caller.readable_study(&app, accession).await?;
    let mut tx = app.store.begin().await?;
    let decision = tx.latest_decision(accession.as_str()).await?;
    drop(tx);
    match decision {
        Some((_, d)) => Ok(axum::Json(d).into_response()),
        None => Err(Problem::not_found(format!(
            "no decision for accession {accession}"
        ))),
    }
}

/// The caller's own items: those they claimed, and reports returned to them for correction.
async fn my_items(
    State(app): State<App>,
    caller: Caller,
) -> Result<axum::Json<Vec<WorkItem>>, Problem> {
    let person = caller.person()?;
    Ok(axum::Json(app.store.held_by(&person.professional).await?))
}

/// Received studies that could not be routed as they came (no order, an accession number
/// or UID refused), with the reason: for those who may search clinical records.
async fn reconciliation(
    State(app): State<App>,
    caller: Caller,
) -> Result<axum::Json<Vec<radgate_store::Unreconciled>>, Problem> {
    caller.may_search_clinical()?;
    Ok(axum::Json(app.store.reconciliation().await?))
}

/// The caller's worklist: open items of the tasks the domain lets them claim.
async fn worklist(
    State(app): State<App>,
    caller: Caller,
) -> Result<axum::Json<Vec<WorkItem>>, Problem> {
    let person = caller.person()?;
    let portfolio = app.store.portfolio(&person.professional).await?;
    let tasks = authz::claimable_tasks(
        &person.professional,
        person.role,
        &app.department,
        &portfolio,
        Utc::now().date_naive(),
    );
    Ok(axum::Json(app.store.worklist(&tasks, 200).await?))
}

/// A professional's derived authorization for every task of the catalog. Private: the
/// person, their supervisors and their programme's staff may see it, peers may not.
async fn authorizations(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<radgate_domain::portfolio::Authorization>>, Problem> {
    let person = caller.person()?;
    let subject = crate::assessments::viewable_subject(&app, &person.professional, &id)?;
    let portfolio = app.store.portfolio(&subject.id).await?;
    let today = Utc::now().date_naive();
    Ok(axum::Json(
        app.department
            .tasks
            .iter()
            .map(|t| {
                radgate_domain::portfolio::derive(
                    &subject.id,
                    subject.role,
                    &t.id,
                    &app.department,
                    &portfolio,
                    today,
                )
            })
            .collect(),
    ))
}

fn claim_problem(e: ClaimError) -> Problem {
    match e {
        ClaimError::NotFound(id) => Problem::not_found(format!("work item {id} does not exist")),
        ClaimError::Refused(r) => Problem::conflict(r.to_string()),
        ClaimError::Store(s) => Problem::from(s),
    }
}

pub(crate) async fn claim(
    State(app): State<App>,
    caller: Caller,
    ItemId(id): ItemId,
) -> Result<axum::Json<WorkItem>, Problem> {
    let person = caller.person()?;
    let item = app
        .store
        .work_item(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("work item {id} does not exist")))?;
    let portfolio = app.store.portfolio(&person.professional).await?;
    authz::may_claim(
        &person.professional,
        person.role,
        item.task.as_str(),
        &app.department,
        &portfolio,
        Utc::now().date_naive(),
    )
    .map_err(|r| Problem::forbidden(r.to_string()))?;
    let item = app
        .store
        .claim(id, &person.professional, Utc::now())
        .await
        .map_err(claim_problem)?;
    Metrics::bump(&app.metrics.claims);
    Ok(axum::Json(item))
}

pub(crate) async fn release(
    State(app): State<App>,
    caller: Caller,
    ItemId(id): ItemId,
) -> Result<axum::Json<WorkItem>, Problem> {
    let person = caller.person()?;
    Ok(axum::Json(
        app.store
            .release(id, &person.professional, Utc::now())
            .await
            .map_err(claim_problem)?,
    ))
}

async fn complete(
    State(app): State<App>,
    caller: Caller,
    ItemId(id): ItemId,
) -> Result<axum::Json<WorkItem>, Problem> {
    let person = caller.person()?;
    // Each kind of work ends its own way (the domain's `ending`): gatekeeping by clear or
    // escalate, a review by its finding, delegated work by a preliminary report, a read by
    // an authorized report. A bare "complete" only ends a read whose report is signed.
    if let Some(item) = app.store.work_item(id).await? {
        crate::reports::require_complete(&app, person, &item).await?;
    }
    Ok(axum::Json(
        app.store
            .complete(id, &person.professional, Utc::now())
            .await
            .map_err(claim_problem)?,
    ))
}
