//! HTTP handlers. Each reads like a sentence: authenticate, extract, ask the domain,
//! store, answer.

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
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
use serde::de::DeserializeOwned;

use crate::auth::{Caller, SESSION_COOKIE, hash_password, new_secret, sha256_hex, verify_password};
use crate::ingest::{self, Outcome};
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::state::App;

/// Larger bodies are refused with 413 before they are read: no radgate message is near it.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
const SESSION_HOURS: i64 = 10;

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
        .route("/api/v1/worklist", get(worklist))
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
        .fallback(|| async { Problem::not_found("no such endpoint; see /api/v1/openapi.json") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// A JSON body whose rejection is a problem naming the field and the reason.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                // serde names the path (`study.body_part`) and the reason.
                let detail =
                    std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string());
                let field = detail.split(':').next().unwrap_or("").trim().to_string();
                Err(Problem::invalid(field, detail))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Problem::bad_request(
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(Problem {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    kind: "about:blank#too-large",
                    title: "Body too large",
                    detail: format!("bodies are limited to {MAX_BODY_BYTES} bytes"),
                    field: None,
                })
            }
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
}

/// A work item id from the path, refused as a problem when it is not a number.
pub struct ItemId(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for ItemId {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        match Path::<u64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(ItemId(id)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(Problem::invalid("id", e.body_text()))
            }
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
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
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(open, outbox),
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

async fn login(State(app): State<App>, Body(l): Body<Login>) -> Result<Response, Problem> {
    if let Some(wait) = app.throttle.wait(&l.username) {
        return Err(Problem::too_many(format!(
            "too many failed logins for this user; try again in {wait} s"
        )));
    }
    let user = app.store.user(&l.username).await?;
    // Verify against a dummy hash for unknown users too, so timing does not tell them apart.
    let ok = match &user {
        Some(u) => verify_password(&l.password, &u.password_hash),
        None => {
            let _ = verify_password(
                &l.password,
                DUMMY_HASH.get_or_init(|| hash_password("radgate")),
            );
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        app.throttle.failed(&l.username);
        Metrics::bump(&app.metrics.logins_failed);
        return Err(Problem {
            detail: "unknown username or wrong password".into(),
            ..Problem::unauthenticated()
        });
    };
    app.throttle.succeeded(&l.username);
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
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(me_json(&user))).into_response())
}

static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn logout(State(app): State<App>, headers: axum::http::HeaderMap) -> Response {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == SESSION_COOKIE)
        .map(|(_, v)| v.to_string());
    if let Some(t) = token
        && let Err(e) = app.store.delete_session(&sha256_hex(&t)).await
    {
        return Problem::from(e).into_response();
    }
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response()
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
    caller.require_scope("ingest")?;
    Ok(ingested(
        ingest::order(&app, &order, &caller.actor()).await?,
    ))
}

async fn post_study(
    State(app): State<App>,
    caller: Caller,
    Body(study): Body<Study>,
) -> Result<Response, Problem> {
    caller.require_scope("ingest")?;
    Ok(ingested(
        ingest::study(&app, &study, &caller.actor()).await?,
    ))
}

async fn post_ai_result(
    State(app): State<App>,
    caller: Caller,
    Body(r): Body<AiResult>,
) -> Result<Response, Problem> {
    caller.require_scope("ingest")?;
    Ok(ingested(
        ingest::ai_result(&app, &r, &caller.actor()).await?,
    ))
}

async fn get_decision(
    State(app): State<App>,
    _caller: Caller,
    Path(accession): Path<String>,
) -> Result<Response, Problem> {
    let accession = AccessionNumber::parse(accession)
        .map_err(|e| Problem::invalid("accession", e.to_string()))?;
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

async fn claim(
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

async fn release(
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
