//! The FHIR R4 facade (JSON) under `/fhir`: read and search of ServiceRequest,
//! ImagingStudy, DiagnosticReport, Observation (AI results), Task (work items),
//! Practitioner and PractitionerRole; create of ServiceRequest (an order) and Observation
//! (an AI result) through the same ingest path as the rest of the API; errors as
//! OperationOutcome; the CapabilityStatement at `/fhir/metadata`. The mapping is
//! `radgate_interop::fhir`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use radgate_domain::authz::Feed;
use radgate_interop::fhir::{self, FhirError, operation_outcome};
use serde_json::Value;

use crate::auth::Caller;
use crate::problem::Problem;
use crate::state::App;

const BASE: &str = "/fhir";
/// The most matches a search gathers; beyond them the Bundle has no `total`.
const MAX_ENTRIES: usize = 5000;
/// Entries per page unless `_count` says otherwise, and the most `_count` may ask.
const PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// A FHIR answer: the resource, or an OperationOutcome with its HTTP status.
pub struct Fhir(StatusCode, Value);

impl IntoResponse for Fhir {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "application/fhir+json")],
            self.1.to_string(),
        )
            .into_response()
    }
}

impl From<Problem> for Fhir {
    fn from(p: Problem) -> Fhir {
        let code = match p.status.as_u16() {
            401 => "login",
            403 => "forbidden",
            404 => "not-found",
            409 => "conflict",
            413 => "too-costly",
            422 | 400 => "invalid",
            _ => "exception",
        };
        Fhir(
            p.status,
            operation_outcome(code, &p.detail, p.field.as_deref()),
        )
    }
}

impl From<radgate_store::StoreError> for Fhir {
    fn from(e: radgate_store::StoreError) -> Fhir {
        Fhir::from(Problem::from(e))
    }
}

fn invalid(e: FhirError) -> Fhir {
    Fhir(
        StatusCode::UNPROCESSABLE_ENTITY,
        operation_outcome("invalid", &e.reason, Some(&e.path)),
    )
}

fn not_found(kind: &str, id: &str) -> Fhir {
    Fhir(
        StatusCode::NOT_FOUND,
        operation_outcome("not-found", &format!("{kind}/{id} is not known"), None),
    )
}

fn known(kind: &str) -> Result<(), Fhir> {
    if fhir::RESOURCES.contains(&kind) {
        Ok(())
    } else {
        Err(Fhir(
            StatusCode::NOT_FOUND,
            operation_outcome(
                "not-supported",
                &format!("radgate serves no {kind}; see /fhir/metadata"),
                None,
            ),
        ))
    }
}

pub async fn metadata() -> Fhir {
    Fhir(StatusCode::OK, fhir::capability_statement(Utc::now()))
}

/// One resource of `kind` by its id.
async fn resource(app: &App, kind: &str, id: &str) -> Result<Option<Value>, Fhir> {
    let dept = &app.department;
    Ok(match kind {
        "Practitioner" => dept.professional(id).map(fhir::practitioner),
        "PractitionerRole" => dept.professional(id).map(fhir::practitioner_role),
        "ServiceRequest" => app
            .store
            .order(id)
            .await?
            .map(|o| fhir::service_request(&o)),
        "ImagingStudy" => app.store.study(id).await?.map(|s| fhir::imaging_study(&s)),
        "DiagnosticReport" => match (app.store.report(id).await?, app.store.study(id).await?) {
            (Some(r), Some(s)) => Some(fhir::diagnostic_report(&r, &s)),
            _ => None,
        },
        // Observation ids are the sender's result ids (a result whose id is not a valid
        // FHIR id gets a stable hash instead, and is found by search, not read).
        "Observation" => match app.store.ai_result(id).await? {
            Some(r) => crate::register::visible(app, vec![r], false)
                .await?
                .first()
                .map(fhir::observation),
            None => None,
        },
        "Task" => match id.parse::<u64>() {
            Ok(n) => match app.store.work_item(n).await? {
                Some(w) => {
                    let study = app.store.study(w.accession.as_str()).await?;
                    Some(fhir::task(&w, study.as_ref()))
                }
                None => None,
            },
            Err(_) => None,
        },
        _ => None,
    })
}

/// The clinical resources (about patients and their studies); the department's people
/// (Practitioner, PractitionerRole) are a directory any caller may read.
fn clinical(kind: &str) -> bool {
    !matches!(kind, "Practitioner" | "PractitionerRole")
}

pub async fn read(
    State(app): State<App>,
    caller: Result<Caller, Problem>,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Fhir, Fhir> {
    let caller = caller?;
    known(&kind)?;
    if clinical(&kind) {
        caller.may_search_clinical()?;
    }
    match resource(&app, &kind, &id).await? {
        Some(v) => Ok(Fhir(StatusCode::OK, v)),
        None => Err(not_found(&kind, &id)),
    }
}

/// The resources of `kind` about `patient`.
async fn of_patient(app: &App, kind: &str, patient: &str) -> Result<Vec<Value>, Fhir> {
    if kind == "ServiceRequest" {
        return Ok(app
            .store
            .orders_of_patient(patient)
            .await?
            .iter()
            .map(fhir::service_request)
            .collect());
    }
    let studies = app.store.studies_of_patient(patient).await?;
    let mut out = Vec::new();
    for s in &studies {
        let acc = s.accession.as_str();
        match kind {
            "ImagingStudy" => out.push(fhir::imaging_study(s)),
            "DiagnosticReport" => {
                if let Some(r) = app.store.report(acc).await? {
                    out.push(fhir::diagnostic_report(&r, s));
                }
            }
            "Observation" => out.extend(
                crate::register::visible(app, app.store.ai_results_of(acc).await?, false)
                    .await?
                    .iter()
                    .map(fhir::observation),
            ),
            "Task" => out.extend(
                app.store
                    .work_items_for(acc)
                    .await?
                    .iter()
                    .map(|w| fhir::task(w, Some(s))),
            ),
            _ => {}
        }
        if out.len() >= MAX_ENTRIES {
            break;
        }
    }
    Ok(out)
}

/// `identifier` (`system|value` or `value`), `patient` (the patient identifier, or
/// `Patient/ID`), `status` and `date` (`YYYY-MM-DD`, the authored, started, effective or
/// issued day). A search of clinical resources needs `identifier` or `patient`: a
/// facade that lists every patient's records on request is not one a hospital wants.
pub async fn search(
    State(app): State<App>,
    caller: Result<Caller, Problem>,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Fhir, Fhir> {
    let caller = caller?;
    known(&kind)?;
    if clinical(&kind) {
        caller.may_search_clinical()?;
    }
    for key in q.keys() {
        if ![
            "identifier",
            "patient",
            "subject",
            "status",
            "date",
            "_format",
            "_count",
            "_offset",
        ]
        .contains(&key.as_str())
        {
            return Err(Fhir(
                StatusCode::BAD_REQUEST,
                operation_outcome(
                    "not-supported",
                    &format!("search parameter `{key}` is not supported; see /fhir/metadata"),
                    Some(key),
                ),
            ));
        }
    }
    let identifier = q
        .get("identifier")
        .map(|i| i.rsplit('|').next().unwrap_or(i).to_owned());
    let patient = q
        .get("patient")
        .or_else(|| q.get("subject"))
        .map(|p| p.rsplit(['/', '|']).next().unwrap_or(p).to_owned());
    let number = |key: &str, default: usize, max: usize| -> Result<usize, Fhir> {
        match q.get(key) {
            None => Ok(default),
            // A search that cannot be processed is a bad request (FHIR's search, 3.2.1.5).
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    Fhir(
                        StatusCode::BAD_REQUEST,
                        operation_outcome(
                            "invalid",
                            &format!("`{v}` is not a whole number from 0 to {max}"),
                            Some(key),
                        ),
                    )
                }),
        }
    };
    let count = number("_count", PAGE, MAX_PAGE)?;
    let offset = number("_offset", 0, MAX_ENTRIES)?;
    let date = match q.get("date") {
        None => None,
        Some(d) => Some(
            NaiveDate::parse_from_str(d.trim_start_matches("eq"), "%Y-%m-%d").map_err(|_| {
                invalid(FhirError {
                    path: "date".into(),
                    reason: format!("`{d}` is not a date (YYYY-MM-DD)"),
                })
            })?,
        ),
    };
    let mut found: Vec<Value> = match (kind.as_str(), &identifier, &patient) {
        ("Practitioner" | "PractitionerRole", ..) => app
            .department
            .professionals
            .iter()
            .filter(|p| identifier.as_deref().is_none_or(|i| p.id.as_str() == i))
            .map(|p| {
                if kind == "Practitioner" {
                    fhir::practitioner(p)
                } else {
                    fhir::practitioner_role(p)
                }
            })
            .collect(),
        (_, Some(id), _) => resource(&app, &kind, id).await?.into_iter().collect(),
        (_, None, Some(p)) => of_patient(&app, &kind, p).await?,
        (_, None, None) => {
            return Err(Fhir(
                StatusCode::BAD_REQUEST,
                operation_outcome(
                    "too-costly",
                    &format!("a {kind} search needs `identifier` or `patient`"),
                    None,
                ),
            ));
        }
    };
    if let Some(p) = &patient {
        found.retain(|r| {
            let subject = r.get("subject").or_else(|| r.get("for"));
            subject.is_none_or(|s| s["identifier"]["value"] == p.as_str())
                || r["resourceType"] == "Observation"
        });
    }
    if let Some(s) = q.get("status") {
        found.retain(|r| r["status"] == s.as_str());
    }
    if let Some(d) = date {
        let day = d.to_string();
        found.retain(|r| {
            ["authoredOn", "started", "effectiveDateTime", "issued"]
                .iter()
                .any(|k| r[*k].as_str().is_some_and(|t| t.starts_with(&day)))
        });
    }
    let total = (found.len() < MAX_ENTRIES).then_some(found.len());
    let more = found.len() > offset + count;
    let page: Vec<Value> = found.into_iter().skip(offset).take(count).collect();
    // The links repeat the search with its parameters in a stable order.
    let mut params: Vec<(&String, &String)> = q
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "_count" | "_offset"))
        .collect();
    params.sort();
    let link = |at: usize| {
        let mut query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("_count={count}"));
        query.push(format!("_offset={at}"));
        format!("{BASE}/{kind}?{}", query.join("&"))
    };
    let mut links = vec![("self", link(offset))];
    if more {
        links.push(("next", link(offset + count)));
    }
    if offset > 0 {
        links.push(("previous", link(offset.saturating_sub(count))));
    }
    Ok(Fhir(
        StatusCode::OK,
        fhir::bundle(BASE, page, total, &links),
    ))
}

/// A query parameter's name or value, percent-encoded where a URL needs it.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn create(
    State(app): State<App>,
    caller: Result<Caller, Problem>,
    Path(kind): Path<String>,
    body: Bytes,
) -> Result<Fhir, Fhir> {
    let caller = caller?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        invalid(FhirError {
            path: "body".into(),
            reason: format!("not JSON: {e}"),
        })
    })?;
    if v["resourceType"].as_str() != Some(kind.as_str()) {
        return Err(invalid(FhirError {
            path: "resourceType".into(),
            reason: format!("the body is a {}, not a {kind}", v["resourceType"]),
        }));
    }
    let (outcome, resource) = match kind.as_str() {
        "ServiceRequest" => {
            caller.may_feed(Feed::Order)?;
            let order = fhir::order_from_service_request(&v).map_err(invalid)?;
            let o = crate::ingest::order(&app, &order, &caller.actor()).await?;
            (o, fhir::service_request(&order))
        }
        "DiagnosticReport" => {
            caller.may_feed(Feed::Report)?;
            let report = fhir::external_report_from_diagnostic_report(&v).map_err(invalid)?;
            let o = crate::ingest::external_report(&app, &report, &caller.actor()).await?;
            (o, v)
        }
        "Observation" => {
            let result = fhir::ai_result_from_observation(&v).map_err(invalid)?;
            crate::ingest::registered(&app, &result)?;
            caller.may_feed(Feed::AiResult(&result.app))?;
            let o = crate::ingest::ai_result(&app, &result, &caller.actor()).await?;
            (o, fhir::observation(&result))
        }
        other => {
            known(other)?;
            return Err(Fhir(
                StatusCode::METHOD_NOT_ALLOWED,
                operation_outcome("not-supported", &format!("{other} is read-only here"), None),
            ));
        }
    };
    let status = if outcome.status == "unchanged" {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(Fhir(status, resource))
}
