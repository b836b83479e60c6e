//! UPS-RS (DICOM PS3.18 section 11): radgate as the AIW-I Task Manager. An AI node (an API
//! key with the `ai:APP` scope of its application) searches the worklist for its scheduled
//! work items (RAD-81), claims one with its Transaction UID (RAD-82), reports progress
//! (RAD-84), and completes or cancels it (RAD-82); anyone may ask to cancel (RAD-85), and
//! watchers subscribe (RAD-86) and receive the events on the WebSocket event channel
//! (RAD-87). The state rules are the domain's (`radgate_domain::ups`); refusals are
//! answered with the HTTP status and Warning text PS3.18 gives them.
//!
//! Work items are created by radgate, when a study it routes is owed to an application of
//! the register (`schedule`), or on request (RAD-80, `create`: by the RIS or PACS, or a
//! radiologist), and expire by the domain's rule (`expire`): retried once,
//! then canceled, the RAIO told, and the study routed again so that the policy's
//! `ai_missing` rules take it the way without AI.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use radgate_domain::Study;
use radgate_domain::ai_sr::LOCAL_SCHEME;
use radgate_domain::authz::{self, AiWork};
use radgate_domain::ups::{self, CancelRequest, CreateRefusal, Granted, UpsRefusal, UpsState};
use radgate_store::{UpsEvent, UpsOutcome, UpsQuery, UpsWorkitem};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::dicomweb::base;
use crate::problem::Problem;
use crate::state::App;

/// The UPS Push SOP Class, the class of every work item.
const UPS_PUSH: &str = "1.2.840.10008.5.1.4.34.6.1";
/// The well-known UID that names the whole worklist in a subscription.
const WORKLIST: &str = "1.2.840.10008.5.1.4.34.5";
const DICOM_JSON: &str = "application/dicom+json";
/// The service named in Warning headers (`299 <service>: ...`).
const SERVICE: &str = "radgate";

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/dicom-web/workitems", get(search).post(create))
        .route("/dicom-web/workitems/{uid}", get(retrieve).post(update))
        .route("/dicom-web/workitems/{uid}/state", put(change_state))
        .route(
            "/dicom-web/workitems/{uid}/cancelrequest",
            post(cancel_request),
        )
        .route(
            "/dicom-web/workitems/{uid}/subscribers/{ae}",
            post(subscribe).delete(unsubscribe),
        )
        .route("/dicom-web/ws/subscribers/{ae}", get(event_channel))
}

/// The applications whose work items the caller may see, and whether it may act on them.
fn access(caller: &Caller) -> Result<(Option<Vec<String>>, bool), Problem> {
    match authz::ai_work(caller.requester()) {
        AiWork::Perform(apps) => Ok((
            Some(apps.iter().map(|a| a.as_str().to_owned()).collect()),
            true,
        )),
        AiWork::Oversee => Ok((None, false)),
        AiWork::None => Err(Problem::forbidden(
            "UPS work items are for AI nodes (an API key with the `ai:APP` scope) and for radiologists who oversee AI",
        )),
    }
}

/// The work item, when the caller may see it (others' are "not found", not "forbidden":
/// one vendor's key learns nothing of another's work).
async fn visible(
    app: &App,
    caller: &Caller,
    uid: &str,
    act: bool,
) -> Result<UpsWorkitem, Response> {
    let (apps, may_act) = access(caller).map_err(IntoResponse::into_response)?;
    let found = app
        .store
        .workitem(uid)
        .await
        .map_err(|e| Problem::from(e).into_response())?;
    match found {
        Some(w) if apps.as_ref().is_none_or(|a| a.contains(&w.app)) => {
            if act && !may_act {
                Err(Problem::forbidden(
                    "only the AI node of the work item's application acts on it",
                )
                .into_response())
            } else {
                Ok(w)
            }
        }
        _ => Err(status(StatusCode::NOT_FOUND, None)),
    }
}

/// An empty answer with a status and, if given, PS3.18's Warning text.
fn status(code: StatusCode, warning: Option<&str>) -> Response {
    let mut r = code.into_response();
    if let Some(w) = warning
        && let Ok(v) = HeaderValue::from_str(&format!("299 {SERVICE}: {w}"))
    {
        r.headers_mut().insert(header::WARNING, v);
    }
    r
}

/// An answer without a payload: a status and, if any, PS3.18's Warning text.
struct Answer(StatusCode, String);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        status(self.0, Some(&self.1))
    }
}

fn refused(r: UpsRefusal) -> Response {
    refusal(r.http_status(), r.status(), &r.to_string())
}

fn create_refused(r: CreateRefusal) -> Response {
    refusal(r.http_status(), r.status(), &r.to_string())
}

/// A refusal: its HTTP status and Warning text, and the DIMSE status in `X-DICOM-Status`
/// for user agents that speak UPS DIMSE too.
fn refusal(http: u16, dimse: u16, text: &str) -> Response {
    let code = StatusCode::from_u16(http).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = status(code, Some(text));
    if let Ok(v) = HeaderValue::from_str(&format!("{dimse:04X}")) {
        resp.headers_mut().insert("X-DICOM-Status", v);
    }
    resp
}

fn dicom_json(code: StatusCode, body: &Value, warning: Option<&str>) -> Response {
    let mut r = (code, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(DICOM_JSON));
    if let Some(w) = warning
        && let Ok(v) = HeaderValue::from_str(&format!("299 {SERVICE}: {w}"))
    {
        r.headers_mut().insert(header::WARNING, v);
    }
    r
}

fn elem(vr: &str, values: Vec<Value>) -> Value {
    if values.is_empty() {
        json!({ "vr": vr })
    } else {
        json!({ "vr": vr, "Value": values })
    }
}

fn text(vr: &str, s: &str) -> Value {
    elem(vr, vec![json!(s)])
}

fn dt(t: DateTime<Utc>) -> Value {
    text("DT", &t.format("%Y%m%d%H%M%S%.3f+0000").to_string())
}

fn code(value: &str, scheme: &str, meaning: &str) -> Value {
    json!({
        "00080100": text("SH", value),
        "00080102": text("SH", scheme),
        "00080104": text("LO", meaning),
    })
}

/// The work item as a DICOM JSON data set (PS3.18 F.2): the UPS attributes an AI node
/// needs (PS3.4 CC.2.5). The Transaction UID is never disclosed.
fn dataset(app: &App, w: &UpsWorkitem, study: Option<&Study>, base: &str) -> Value {
    let name = app
        .department
        .ai_application(&w.app)
        .map_or(w.app.as_str(), |a| a.name.as_str());
    let priority = match study.map(|s| s.priority) {
        Some(radgate_domain::Priority::Stat) => "HIGH",
        Some(radgate_domain::Priority::Routine) => "LOW",
        _ => "MEDIUM",
    };
    let mut progress = serde_json::Map::new();
    if let Some(p) = w.progress {
        progress.insert("00741004".into(), elem("DS", vec![json!(p)]));
    }
    if let Some(d) = &w.progress_description {
        progress.insert("00741006".into(), text("ST", d));
    }
    if let Some(at) = w.cancel_requested_at {
        progress.insert("00404052".into(), dt(at));
        if let Some(r) = &w.reason {
            progress.insert("00741238".into(), text("LT", r));
        }
    }
    let mut input = serde_json::Map::new();
    if let Some(uid) = &w.study_uid {
        input.insert("0020000D".into(), text("UI", uid));
        // Where the node fetches its input (WADO-RS, IHE RAD-16).
        input.insert(
            "00081190".into(),
            text("UR", &format!("{base}/dicom-web/studies/{uid}")),
        );
    }
    let mut request = serde_json::Map::new();
    request.insert("00080050".into(), text("SH", &w.accession));
    if let Some(uid) = &w.study_uid {
        request.insert("0020000D".into(), text("UI", uid));
    }
    if let Some(s) = study {
        request.insert("00321060".into(), text("LO", &s.procedure_code));
        request.insert("00401001".into(), text("SH", &w.accession));
    }
    let mut ds = json!({
        "00080016": text("UI", UPS_PUSH),
        "00080018": text("UI", &w.uid),
        "00100010": elem("PN", study.and_then(|s| s.patient_name.as_ref()).map(|n| json!({"Alphabetic": n.as_str()})).into_iter().collect()),
        "00100020": elem("LO", study.map(|s| json!(s.patient.as_str())).into_iter().collect()),
        "0020000D": elem("UI", w.study_uid.iter().map(|u| json!(u)).collect()),
        "0040A370": elem("SQ", vec![Value::Object(request)]),
        "00404005": dt(w.created_at),
        "00404011": dt(w.deadline_at),
        "00404018": elem("SQ", vec![code("ai-analysis", LOCAL_SCHEME, "AI analysis")]),
        "00404025": elem("SQ", vec![code(&w.app, LOCAL_SCHEME, name)]),
        "00404021": elem("SQ", vec![Value::Object(input)]),
        "00404041": text("CS", "READY"),
        "00741000": text("CS", w.state.code()),
        "00741200": text("CS", priority),
        "00741204": text("LO", &format!("AI analysis by {name}")),
    });
    if !progress.is_empty() {
        ds["00741002"] = elem("SQ", vec![Value::Object(progress)]);
    }
    ds
}

async fn with_study(app: &App, w: &UpsWorkitem) -> Result<Option<Study>, Problem> {
    Ok(app.store.study(&w.accession).await?)
}

async fn retrieve(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> Response {
    let w = match visible(&app, &caller, &uid, false).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    match with_study(&app, &w).await {
        Ok(study) => dicom_json(
            StatusCode::OK,
            &json!([dataset(&app, &w, study.as_ref(), &base(&headers))]),
            None,
        ),
        Err(p) => p.into_response(),
    }
}

/// The search keys radgate matches, by keyword or tag path.
fn key(k: &str) -> Option<&'static str> {
    Some(match k {
        "ProcedureStepState" | "00741000" => "state",
        "ScheduledStationNameCodeSequence.CodeValue" | "00404025.00080100" => "app",
        "StudyInstanceUID" | "0020000D" => "study",
        "AccessionNumber"
        | "00080050"
        | "ReferencedRequestSequence.AccessionNumber"
        | "0040A370.00080050" => "accession",
        "limit" => "limit",
        "offset" => "offset",
        "includefield" => "includefield",
        _ => return None,
    })
}

async fn search(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let base = base(&headers);
    let (apps, _) = match access(&caller) {
        Ok(a) => a,
        Err(p) => return p.into_response(),
    };
    let mut q = UpsQuery {
        apps,
        limit: 100,
        ..UpsQuery::default()
    };
    let mut unsupported = Vec::new();
    for (k, v) in pairs {
        let bad = |what: &str| {
            status(
                StatusCode::BAD_REQUEST,
                Some(&format!(
                    "The value of query parameter {k} is not valid: {what}"
                )),
            )
        };
        match key(&k) {
            Some("state") => match UpsState::parse(&v) {
                Some(s) => q.state = Some(s),
                None => return bad("not a Procedure Step State"),
            },
            Some("app") => q.app = Some(v),
            Some("study") => q.study_uid = Some(v),
            Some("accession") => q.accession = Some(v),
            Some("limit") => match v.parse::<u32>() {
                Ok(n) if n > 0 => q.limit = n.min(1000),
                _ => return bad("not a positive number"),
            },
            Some("offset") => match v.parse::<u32>() {
                Ok(n) => q.offset = n,
                _ => return bad("not a number"),
            },
            // Every attribute radgate keeps is returned anyway.
            Some(_) => {}
            None => unsupported.push(k),
        }
    }
    let found = match app.store.workitems(&q).await {
        Ok(f) => f,
        Err(e) => return Problem::from(e).into_response(),
    };
    let warning = (!unsupported.is_empty()).then(|| {
        format!(
            "The following query parameters are not supported and were ignored: {}",
            unsupported.join(", ")
        )
    });
    if found.is_empty() {
        return status(StatusCode::NO_CONTENT, warning.as_deref());
    }
    let mut out = Vec::with_capacity(found.len());
    for w in &found {
        match with_study(&app, w).await {
            Ok(s) => out.push(dataset(&app, w, s.as_ref(), &base)),
            Err(p) => return p.into_response(),
        }
    }
    dicom_json(StatusCode::OK, &Value::Array(out), warning.as_deref())
}

/// The first item of sequence `tag` in `ds`.
fn first_item<'a>(ds: &'a Value, tag: &str) -> Option<&'a Value> {
    ds.get(tag)?.get("Value")?.get(0)
}

/// RAD-80: a work item requested for a study radgate holds, for an application that may
/// take it (`ups::requested_for`). The request names the study by the Accession Number in
/// its Referenced Request Sequence (and, if it gives one, the Study Instance UID of its
/// Input Information Sequence must be the study's) and the application by the code of its
/// Scheduled Station Name Code Sequence, as radgate's own work items do. The work item's
/// UID is the query's (`?{uid}`), else the data set's, else radgate's; its deadline is the
/// policy's wait for the application. Answers 201 with its Location.
async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    if !authz::may_request_ai_work(caller.requester()) {
        return Problem::forbidden(
            "AI work is requested by the RIS or PACS (an API key with `ingest`) or by a radiologist",
        )
        .into_response();
    }
    if !app.ups {
        return Answer(
            StatusCode::NOT_FOUND,
            "radgate schedules no AI work items here (serve --ai-workitems)".into(),
        )
        .into_response();
    }
    let ds = match first_dataset(&body) {
        Ok(ds) => ds,
        Err(a) => return a.into_response(),
    };
    match create_from(&app, &headers, query.as_deref(), &ds).await {
        Ok(Ok(location)) => {
            app.ups_events.notify_waiters();
            let mut r = StatusCode::CREATED.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v.clone());
                r.headers_mut().insert(header::CONTENT_LOCATION, v);
            }
            r
        }
        Ok(Err(refusal)) => create_refused(refusal),
        Err(p) => p.into_response(),
    }
}

/// The work item `ds` asks for, scheduled; its URL, or why it was refused.
async fn create_from(
    app: &App,
    headers: &HeaderMap,
    query: Option<&str>,
    ds: &Value,
) -> Result<Result<String, CreateRefusal>, Problem> {
    if let Err(r) = ups::check_new(
        string_of(ds, "00741000").as_deref(),
        string_of(ds, "00081195").as_deref(),
    ) {
        return Ok(Err(r));
    }
    let Some(accession) = first_item(ds, "0040A370").and_then(|r| string_of(r, "00080050")) else {
        return Ok(Err(CreateRefusal::Missing(
            "Accession Number of the Referenced Request Sequence",
        )));
    };
    let Some(app_id) = first_item(ds, "00404025").and_then(|c| string_of(c, "00080100")) else {
        return Ok(Err(CreateRefusal::Missing(
            "code of the Scheduled Station Name Code Sequence (the AI application)",
        )));
    };
    let Some(study) = app.store.study(&accession).await? else {
        return Ok(Err(CreateRefusal::Invalid(format!(
            "radgate holds no study with Accession Number {accession}."
        ))));
    };
    let study_uid = study.study_uid.as_ref().map(|u| u.as_str().to_owned());
    if let Some(asked) = first_item(ds, "00404021").and_then(|i| string_of(i, "0020000D"))
        && study_uid.as_deref() != Some(asked.as_str())
    {
        return Ok(Err(CreateRefusal::Invalid(format!(
            "Study {asked} of the Input Information Sequence is not the study of Accession Number {accession}."
        ))));
    }
    let changes = app.store.latest_status_changes().await?;
    let a = match ups::requested_for(
        &app.department.ai_applications,
        &changes,
        &app_id,
        &study.modality,
        &study.body_part,
    ) {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let uid = query
        .filter(|q| !q.is_empty() && !q.contains('='))
        .map(str::to_owned)
        .or_else(|| string_of(ds, "00080018"))
        .unwrap_or_else(|| crate::uid::derived(&format!("ups:{accession}:{}", a.id)));
    // A UID's grammar is one for studies and work items alike.
    if radgate_domain::ids::StudyInstanceUid::parse(&uid).is_err() {
        return Ok(Err(CreateRefusal::Invalid(format!(
            "`{uid}` is not a UID."
        ))));
    }
    let now = Utc::now();
    let deadline = ups::deadline(now, app.policy.wait_minutes_for(&a.id));
    let mut tx = app.store.begin().await?;
    let created = tx
        .schedule_workitem(
            &uid,
            &accession,
            study_uid.as_deref(),
            a.id.as_str(),
            deadline,
            now,
        )
        .await?;
    if !created {
        return Ok(Err(CreateRefusal::Duplicate));
    }
    tx.commit().await?;
    Ok(Ok(format!("{}/dicom-web/workitems/{uid}", base(headers))))
}

/// The first data set of a DICOM JSON body (an array of one, or the object itself).
fn first_dataset(body: &[u8]) -> Result<Value, Answer> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Answer(
            StatusCode::BAD_REQUEST,
            format!("The payload is not DICOM JSON: {e}"),
        )
    })?;
    Ok(match v {
        Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        Value::Object(_) => v,
        _ => json!({}),
    })
}

/// The work item a request is about, when the caller may see (and, `act`, act on) it, and
/// the first data set of the request's payload.
async fn request(
    app: &App,
    caller: &Caller,
    uid: &str,
    act: bool,
    body: &[u8],
) -> Result<(UpsWorkitem, Value), Response> {
    let w = visible(app, caller, uid, act).await?;
    let ds = first_dataset(body).map_err(IntoResponse::into_response)?;
    Ok((w, ds))
}

/// The answer to a request the store applied the domain's rules to; watchers are woken
/// when it changed something.
fn answered<T>(
    app: &App,
    r: radgate_store::Result<UpsOutcome<T>>,
    done: impl FnOnce(T) -> Response,
) -> Response {
    match r {
        Ok(UpsOutcome::Done(t)) => {
            app.ups_events.notify_waiters();
            done(t)
        }
        Ok(UpsOutcome::Refused(r)) => refused(r),
        Ok(UpsOutcome::NotFound) => status(StatusCode::NOT_FOUND, None),
        Err(e) => Problem::from(e).into_response(),
    }
}

fn string_of(ds: &Value, tag: &str) -> Option<String> {
    ds.get(tag)?
        .get("Value")?
        .get(0)?
        .as_str()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

async fn change_state(
    State(app): State<App>,
    caller: Caller,
    Path(uid): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (w, ds) = match request(&app, &caller, &uid, true, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(requested) = string_of(&ds, "00741000").and_then(|s| UpsState::parse(&s)) else {
        return status(
            StatusCode::BAD_REQUEST,
            Some("The payload names no Procedure Step State (0074,1000) to change to."),
        );
    };
    let tx = string_of(&ds, "00081195");
    let changed = app
        .store
        .change_workitem_state(&w.uid, requested, tx.as_deref(), Utc::now())
        .await;
    answered(&app, changed, |granted| {
        if let Granted::To(state) = granted
            && state.is_final()
        {
            tracing::info!("UPS {} of {} is {}", w.uid, w.app, state.code());
        }
        status(StatusCode::OK, granted.warning().as_deref())
    })
}

/// The Transaction UID of an update: `?transaction=UID`, a bare `?UID`, or the payload's.
fn transaction_of(pairs: &[(String, String)], ds: &Value) -> Option<String> {
    pairs
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v.as_str()) {
            ("transaction", t) => Some(t.to_owned()),
            (bare, "") if bare.starts_with(|c: char| c.is_ascii_digit()) => Some(bare.to_owned()),
            _ => None,
        })
        .or_else(|| string_of(ds, "00081195"))
}

async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(uid): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    body: axum::body::Bytes,
) -> Response {
    let (w, ds) = match request(&app, &caller, &uid, true, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if ds.get("00741000").is_some() {
        return status(
            StatusCode::BAD_REQUEST,
            Some(
                "The Procedure Step State changes through the Change State transaction, not an update.",
            ),
        );
    }
    let progress_item = ds
        .get("00741002")
        .and_then(|e| e.get("Value"))
        .and_then(|v| v.get(0));
    let progress = progress_item
        .and_then(|i| i.get("00741004"))
        .and_then(|e| e.get("Value"))
        .and_then(|v| v.get(0))
        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()));
    if progress.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
        return status(
            StatusCode::BAD_REQUEST,
            Some("Procedure Step Progress (0074,1004) is a percentage, 0 to 100."),
        );
    }
    let description = progress_item.and_then(|i| string_of(i, "00741006"));
    let tx = transaction_of(&pairs, &ds);
    let updated = app
        .store
        .update_workitem_progress(
            &w.uid,
            tx.as_deref(),
            progress,
            description.as_deref(),
            Utc::now(),
        )
        .await;
    answered(&app, updated, |()| status(StatusCode::OK, None))
}

async fn cancel_request(
    State(app): State<App>,
    caller: Caller,
    Path(uid): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (w, ds) = match request(&app, &caller, &uid, false, &body).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let reason = string_of(&ds, "00741238");
    let asked = app
        .store
        .request_workitem_cancel(&w.uid, reason.as_deref(), Utc::now())
        .await;
    answered(&app, asked, |what| {
        let warning = (what == CancelRequest::AlreadyCanceled)
            .then_some("The UPS is already in the requested state of CANCELED.");
        status(StatusCode::ACCEPTED, warning)
    })
}

/// Checks an AE title as PS3.5 allows it (1 to 16 characters, no backslash or control).
fn ae_title(ae: &str) -> Result<&str, Answer> {
    let ae = ae.trim();
    if ae.is_empty() || ae.len() > 16 || ae.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(Answer(
            StatusCode::BAD_REQUEST,
            "The AE Title is 1 to 16 characters, without a backslash.".into(),
        ));
    }
    Ok(ae)
}

async fn subscribe(
    State(app): State<App>,
    caller: Caller,
    Path((uid, ae)): Path<(String, String)>,
) -> Response {
    let ae = match ae_title(&ae) {
        Ok(ae) => ae.to_owned(),
        Err(a) => return a.into_response(),
    };
    let target = if uid == WORKLIST {
        if let Err(p) = access(&caller) {
            return p.into_response();
        }
        "*".to_owned()
    } else {
        match visible(&app, &caller, &uid, false).await {
            Ok(w) => w.uid,
            Err(r) => return r,
        }
    };
    match app.store.subscribe_ups(&ae, &target, Utc::now()).await {
        Ok(()) => status(StatusCode::CREATED, None),
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn unsubscribe(
    State(app): State<App>,
    caller: Caller,
    Path((uid, ae)): Path<(String, String)>,
) -> Response {
    if let Err(p) = access(&caller) {
        return p.into_response();
    }
    let ae = match ae_title(&ae) {
        Ok(ae) => ae.to_owned(),
        Err(a) => return a.into_response(),
    };
    let target = if uid == WORKLIST { "*".to_owned() } else { uid };
    match app.store.unsubscribe_ups(&ae, &target).await {
        Ok(true) => status(StatusCode::OK, None),
        Ok(false) => status(StatusCode::NOT_FOUND, None),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// A UPS event report as DICOM JSON (PS3.4 CC.2.4, Table CC.2.4-1 per event type).
fn report(e: &UpsEvent) -> Value {
    let mut r = json!({
        "00000002": text("UI", UPS_PUSH),
        "00001000": text("UI", &e.uid),
        "00001002": elem("US", vec![json!(e.event_type)]),
        "00741000": text("CS", e.state.code()),
    });
    match e.event_type {
        1 => r["00404041"] = text("CS", "READY"),
        2 => {
            if let Some(reason) = &e.reason {
                r["00741238"] = text("LT", reason);
            }
        }
        3 => {
            if let Some(p) = e.progress {
                r["00741002"] = elem("SQ", vec![json!({"00741004": elem("DS", vec![json!(p)])})]);
            }
        }
        _ => {}
    }
    r
}

/// The event channel (PS3.18 8.10.4, RAD-87): every event of a work item the AE title is
/// subscribed to, or of any when it subscribed to the worklist, from the moment it opens.
async fn event_channel(
    State(app): State<App>,
    caller: Caller,
    Path(ae): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let (apps, _) = match access(&caller) {
        Ok(a) => a,
        Err(p) => return p.into_response(),
    };
    let ae = match ae_title(&ae) {
        Ok(ae) => ae.to_owned(),
        Err(a) => return a.into_response(),
    };
    let start = match app.store.last_ups_event().await {
        Ok(id) => id,
        Err(e) => return Problem::from(e).into_response(),
    };
    ws.on_upgrade(move |socket| send_events(app, socket, ae, apps, start))
}

async fn send_events(
    app: App,
    mut socket: WebSocket,
    ae: String,
    apps: Option<Vec<String>>,
    mut after: i64,
) {
    loop {
        let woken = app.ups_events.notified();
        let subscribed = match app.store.ups_subscriptions(&ae).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("UPS event channel of {ae}: {e}");
                return;
            }
        };
        let (events, last) = match app
            .store
            .ups_events_after(after, apps.as_deref(), 500)
            .await
        {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!("UPS event channel of {ae}: {e}");
                return;
            }
        };
        after = last;
        for e in &events {
            let wanted = subscribed.iter().any(|t| t == "*" || *t == e.uid);
            if wanted
                && socket
                    .send(Message::Text(report(e).to_string().into()))
                    .await
                    .is_err()
            {
                return;
            }
        }
        // Woken by a change here, or every second for changes made by another instance.
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Schedules a work item for every application `study` is owed to (`ups::owed`), in the
/// transaction that stores the study; the deadline is the policy's wait for it.
pub(crate) async fn schedule(
    app: &App,
    tx: &mut radgate_store::Tx,
    study: &Study,
    now: DateTime<Utc>,
) -> Result<usize, Problem> {
    if !app.ups {
        return Ok(0);
    }
    let changes = tx.latest_status_changes().await?;
    let mut created = 0;
    for a in ups::owed(
        &app.department.ai_applications,
        &changes,
        &study.modality,
        &study.body_part,
    ) {
        let uid = crate::uid::derived(&format!("ups:{}:{}", study.accession, a.id));
        let deadline = ups::deadline(now, app.policy.wait_minutes_for(&a.id));
        let study_uid = study.study_uid.as_ref().map(|u| u.as_str());
        if tx
            .schedule_workitem(
                &uid,
                study.accession.as_str(),
                study_uid,
                a.id.as_str(),
                deadline,
                now,
            )
            .await?
        {
            created += 1;
        }
    }
    if created > 0 {
        app.ups_events.notify_waiters();
    }
    Ok(created)
}

/// How long state-change events are kept: a watcher reads them within a second of their
/// making, so a day is ample, and the table does not grow without end.
const EVENTS_KEPT: chrono::Duration = chrono::Duration::hours(24);

/// Deletes the events older than [`EVENTS_KEPT`]; returns how many.
pub(crate) async fn prune_events(app: &App) -> Result<u64, Problem> {
    Ok(app.store.prune_ups_events(Utc::now() - EVENTS_KEPT).await?)
}

/// Applies the expiry rule to every overdue work item: retried with a fresh deadline, or
/// canceled, the RAIO told and the study routed again without the application.
pub(crate) async fn expire(app: &App) -> Result<usize, Problem> {
    let now = Utc::now();
    let mut escalated = 0;
    for w in app.store.overdue_workitems(now).await? {
        let id = radgate_domain::ids::AiAppId::parse(&w.app).ok();
        let wait = id.as_ref().map_or(1, |a| app.policy.wait_minutes_for(a));
        let reason = format!(
            "{} did not complete the work item for study {} in time ({} by {})",
            w.app,
            w.accession,
            w.state.code(),
            w.deadline_at.format("%Y-%m-%d %H:%M UTC")
        );
        match app
            .store
            .expire_workitem(&w.uid, ups::deadline(now, wait), &reason, now)
            .await?
        {
            Some(ups::Expiry::Escalate) => {
                escalated += 1;
                if let Some(raio) = &app.department.raio {
                    let mut tx = app.store.begin().await?;
                    tx.notify(raio, now, &reason).await?;
                    tx.commit().await?;
                }
                crate::ingest::reroute(app, &w.accession).await?;
            }
            Some(ups::Expiry::Retry) | None => {}
        }
        app.ups_events.notify_waiters();
    }
    Ok(escalated)
}
