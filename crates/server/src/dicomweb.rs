//! DICOMweb for the AI node (DICOM PS3.18): QIDO-RS to find the studies radgate holds,
//! their series and instances, WADO-RS to fetch a study, a series or an instance (IHE
//! RAD-16, the Task Performer's input), STOW-RS to send results back. An AI node's key (scope `ai:APP`) reaches only the studies owed to its
//! application (`authz::may_exchange_images`); a key with `read` reaches all. Stored
//! instances go the receiver's way (`dicom::store_sent`): durable, indexed, and an SR
//! read into its application's result, which must be the node's own.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use radgate_domain::acquisition::AcquiredInstance;
use radgate_domain::ai::StatusChange;
use radgate_domain::ai_sr::result_from_sr;
use radgate_domain::authz;
use radgate_domain::ids::AccessionNumber;
use radgate_interop::dicom::read_file_meta;
use radgate_interop::multipart::{self, Part};
use radgate_interop::sr::{is_sr, read_sr};
use radgate_store::{StoredStudy, StudyPart};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::problem::Problem;
use crate::state::App;

const DICOM_JSON: &str = "application/dicom+json";
/// A STOW-RS failure: refused, not authorized (PS3.7 C.4.2, used by PS3.18 10.5.3).
const NOT_AUTHORIZED: u16 = 0x0124;
/// A STOW-RS failure: cannot understand.
const CANNOT_UNDERSTAND: u16 = 0xC000;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/dicom-web/studies", get(search).post(store))
        .route(
            "/dicom-web/studies/{study}",
            get(retrieve_study).post(store_into),
        )
        .route("/dicom-web/studies/{study}/series", get(search_series))
        .route(
            "/dicom-web/studies/{study}/series/{series}",
            get(retrieve_series),
        )
        .route(
            "/dicom-web/studies/{study}/series/{series}/instances",
            get(search_instances),
        )
        .route(
            "/dicom-web/studies/{study}/series/{series}/instances/{instance}",
            get(retrieve_instance),
        )
}

/// Whether the caller may exchange a stored study's images (`authz::may_exchange_images`),
/// given the register's status changes in force (read once per request).
fn may(app: &App, caller: &Caller, s: &StoredStudy, changes: &[StatusChange]) -> bool {
    let first = s
        .instances
        .iter()
        .find(|i| !is_sr(&i.sop_class_uid))
        .or(s.instances.first());
    let owed: Vec<&radgate_domain::ids::AiAppId> = first
        .map(|first| {
            radgate_domain::ups::owed(
                &app.department.ai_applications,
                changes,
                first.modality.as_deref().unwrap_or(""),
                first.body_part.as_deref().unwrap_or(""),
            )
        })
        .unwrap_or_default()
        .into_iter()
        .map(|a| &a.id)
        .collect();
    authz::may_exchange_images(caller.requester(), &owed)
}

fn text(vr: &str, s: &str) -> Value {
    json!({"vr": vr, "Value": [s]})
}

fn attr(vr: &str, s: Option<&str>) -> Value {
    match s.filter(|s| !s.is_empty()) {
        Some(s) => text(vr, s),
        None => json!({"vr": vr}),
    }
}

/// A study as QIDO-RS lists it (PS3.18 Table 10.6.3-3).
fn study_json(base: &str, s: &StoredStudy) -> Value {
    let first: Option<&AcquiredInstance> = s
        .instances
        .iter()
        .find(|i| !is_sr(&i.sop_class_uid))
        .or(s.instances.first());
    let mut modalities: Vec<&str> = s
        .instances
        .iter()
        .filter_map(|i| i.modality.as_deref())
        .collect();
    modalities.sort_unstable();
    modalities.dedup();
    let mut series: Vec<&str> = s.instances.iter().map(|i| i.series_uid.as_str()).collect();
    series.sort_unstable();
    series.dedup();
    let when = first.and_then(|i| i.study_time);
    json!({
        "0020000D": text("UI", &s.study_uid),
        "00080050": attr("SH", first.and_then(|i| i.accession.as_deref())),
        "00100020": attr("LO", first.and_then(|i| i.patient_id.as_deref())),
        "00100010": match first.and_then(|i| i.patient_name.as_deref()) {
            Some(n) => json!({"vr": "PN", "Value": [{"Alphabetic": n}]}),
            None => json!({"vr": "PN"}),
        },
        "00080020": attr("DA", when.map(|t| t.format("%Y%m%d").to_string()).as_deref()),
        "00080030": attr("TM", when.map(|t| t.format("%H%M%S").to_string()).as_deref()),
        "00081030": attr("LO", first.and_then(|i| i.study_description.as_deref())),
        "00080061": {"vr": "CS", "Value": modalities},
        "00201206": {"vr": "IS", "Value": [series.len()]},
        "00201208": {"vr": "IS", "Value": [s.instances.len()]},
        "00081190": text("UR", &format!("{base}/dicom-web/studies/{}", s.study_uid)),
    })
}

/// The service's own root, for Retrieve URLs.
pub(crate) fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn dicom_json(code: StatusCode, body: &Value) -> Response {
    let mut r = (code, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(DICOM_JSON));
    r
}

async fn search(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let q = Search::read(
        pairs,
        &[
            ("StudyInstanceUID", "0020000D"),
            ("AccessionNumber", "00080050"),
            ("PatientID", "00100020"),
        ],
    )?;
    let (uid, accession, patient) = (q.value(0), q.value(1), q.value(2));
    let base = base(&headers);
    let changes = app.store.latest_status_changes().await?;
    let mut out = Vec::new();
    for s in app.store.stored_studies(uid, 1000).await? {
        let first = s.instances.first();
        if !matches(accession, first.and_then(|i| i.accession.as_deref()))
            || !matches(patient, first.and_then(|i| i.patient_id.as_deref()))
            || !may(&app, &caller, &s, &changes)
        {
            continue;
        }
        out.push(study_json(&base, &s));
    }
    Ok(q.answer(out))
}

/// A QIDO-RS query: the matching keys asked for, and the page.
struct Search {
    values: Vec<Option<String>>,
    limit: usize,
    offset: usize,
}

impl Search {
    /// Reads the query string; `keys` are the matching attributes radgate takes, by
    /// keyword and by tag. Other attributes are returned anyway, and ignored as keys.
    fn read(pairs: Vec<(String, String)>, keys: &[(&str, &str)]) -> Result<Search, Problem> {
        let mut q = Search {
            values: vec![None; keys.len()],
            limit: 100,
            offset: 0,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    q.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Problem::bad_request("limit is a positive number"))?
                        .min(1000)
                }
                "offset" => {
                    q.offset = v
                        .parse()
                        .map_err(|_| Problem::bad_request("offset is a number"))?
                }
                k => {
                    if let Some(n) = keys.iter().position(|(word, tag)| k == *word || k == *tag) {
                        q.values[n] = Some(v);
                    }
                }
            }
        }
        Ok(q)
    }

    fn value(&self, n: usize) -> Option<&str> {
        self.values[n].as_deref()
    }

    /// The page of `found`: 200 with the matches, 204 when none.
    fn answer(&self, found: Vec<Value>) -> Response {
        let page: Vec<Value> = found
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        if page.is_empty() {
            return StatusCode::NO_CONTENT.into_response();
        }
        dicom_json(StatusCode::OK, &Value::Array(page))
    }
}

/// Single-value matching as QIDO-RS does it for the keys radgate takes: none asked, or
/// equal (DICOM pads values with spaces).
fn matches(want: Option<&str>, got: Option<&str>) -> bool {
    want.is_none_or(|w| got.is_some_and(|g| g.trim() == w))
}

/// The series of a study, in the order their first instance arrived, each with its
/// instances.
fn series_of(s: &StoredStudy) -> Vec<(&str, Vec<&AcquiredInstance>)> {
    let mut out: Vec<(&str, Vec<&AcquiredInstance>)> = Vec::new();
    for i in &s.instances {
        match out.iter_mut().find(|(uid, _)| *uid == i.series_uid) {
            Some((_, v)) => v.push(i),
            None => out.push((&i.series_uid, vec![i])),
        }
    }
    out
}

/// QIDO-RS series of a study (PS3.18 Table 10.6.3-4), matching SeriesInstanceUID and
/// Modality.
async fn search_series(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(study): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let q = Search::read(
        pairs,
        &[("SeriesInstanceUID", "0020000E"), ("Modality", "00080060")],
    )?;
    let s = reachable(&app, &caller, &study).await?;
    let base = base(&headers);
    let found = series_of(&s)
        .into_iter()
        .filter(|(uid, instances)| {
            matches(q.value(0), Some(uid))
                && matches(q.value(1), instances[0].modality.as_deref())
        })
        .map(|(uid, instances)| {
            json!({
                "0020000D": text("UI", &s.study_uid),
                "0020000E": text("UI", uid),
                "00080060": attr("CS", instances[0].modality.as_deref()),
                "00201209": {"vr": "IS", "Value": [instances.len()]},
                "00081190": text("UR", &format!("{base}/dicom-web/studies/{}/series/{uid}", s.study_uid)),
            })
        })
        .collect();
    Ok(q.answer(found))
}

/// QIDO-RS instances of a series (PS3.18 Table 10.6.3-5), matching SOPInstanceUID and
/// SOPClassUID.
async fn search_instances(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let q = Search::read(
        pairs,
        &[("SOPInstanceUID", "00080018"), ("SOPClassUID", "00080016")],
    )?;
    let s = reachable(&app, &caller, &study).await?;
    let base = base(&headers);
    let Some((_, instances)) = series_of(&s).into_iter().find(|(uid, _)| *uid == series) else {
        return Err(Problem::not_found(format!(
            "no series {series} in study {study}"
        )));
    };
    let found = instances
        .into_iter()
        .filter(|i| {
            matches(q.value(0), Some(&i.sop_instance_uid))
                && matches(q.value(1), Some(&i.sop_class_uid))
        })
        .map(|i| {
            json!({
                "0020000D": text("UI", &s.study_uid),
                "0020000E": text("UI", &i.series_uid),
                "00080016": text("UI", &i.sop_class_uid),
                "00080018": text("UI", &i.sop_instance_uid),
                "00080060": attr("CS", i.modality.as_deref()),
                "00081190": text("UR", &format!(
                    "{base}/dicom-web/studies/{}/series/{}/instances/{}",
                    s.study_uid, i.series_uid, i.sop_instance_uid
                )),
            })
        })
        .collect();
    Ok(q.answer(found))
}

/// The study, when the caller may exchange its images; a study it may not is "not found".
async fn reachable(app: &App, caller: &Caller, study: &str) -> Result<StoredStudy, Problem> {
    let changes = app.store.latest_status_changes().await?;
    match app.store.stored_studies(Some(study), 1).await?.pop() {
        Some(s) if may(app, caller, &s, &changes) => Ok(s),
        _ => Err(Problem::not_found(format!("no study {study} here"))),
    }
}

/// Whether the Accept header takes DICOM instances in a multipart body.
fn accepts_instances(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            let v = v.trim();
            v.starts_with("*/*")
                || v.starts_with("multipart/related")
                    && multipart::parameter(v, "type")
                        .is_none_or(|t| t.eq_ignore_ascii_case("application/dicom"))
        })
}

async fn send_instances(
    app: &App,
    headers: &HeaderMap,
    study: &str,
    series: Option<&str>,
    instance: Option<&str>,
) -> Result<Response, Problem> {
    if !accepts_instances(headers) {
        return Err(Problem {
            status: StatusCode::NOT_ACCEPTABLE,
            ..Problem::bad_request(
                "radgate answers with multipart/related; type=\"application/dicom\"",
            )
        });
    }
    let files = app
        .store
        .study_instances(&StudyPart {
            study_uid: study.to_owned(),
            completion: None,
        })
        .await?;
    let paths: Vec<String> = files
        .into_iter()
        .filter(|(sop, p, _)| {
            instance.is_none_or(|i| i == sop)
                && series.is_none_or(|s| {
                    std::path::Path::new(p)
                        .parent()
                        .and_then(|d| d.file_name())
                        .is_some_and(|d| d == s)
                })
        })
        .map(|(_, p, _)| p)
        .collect();
    if paths.is_empty() {
        return Err(Problem::not_found(format!(
            "no such series or instance in study {study}"
        )));
    }
    let parts = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .map(|p| {
                std::fs::read(p).map(|body| Part {
                    content_type: Some("application/dicom".into()),
                    body,
                })
            })
            .collect::<std::io::Result<Vec<Part>>>()
    })
    .await
    .map_err(|e| Problem::internal(format!("the reader stopped: {e}")))?
    .map_err(|e| Problem::internal(format!("cannot read a stored instance: {e}")))?;
    let boundary = format!("radgate-{}", crate::uid::derived(study));
    let body = multipart::write(&parts, &boundary);
    let mut r = (StatusCode::OK, body).into_response();
    let ct = format!("multipart/related; type=\"application/dicom\"; boundary={boundary}");
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).map_err(|e| Problem::internal(e.to_string()))?,
    );
    Ok(r)
}

async fn retrieve_study(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(study): Path<String>,
) -> Result<Response, Problem> {
    reachable(&app, &caller, &study).await?;
    send_instances(&app, &headers, &study, None, None).await
}

async fn retrieve_series(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
) -> Result<Response, Problem> {
    reachable(&app, &caller, &study).await?;
    send_instances(&app, &headers, &study, Some(&series), None).await
}

async fn retrieve_instance(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    reachable(&app, &caller, &study).await?;
    send_instances(&app, &headers, &study, Some(&series), Some(&instance)).await
}

async fn store(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    stow(&app, &caller, &headers, None, &body).await
}

async fn store_into(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(study): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    stow(&app, &caller, &headers, Some(&study), &body).await
}

/// Why one sent instance is not stored, as STOW-RS reports it.
fn failed(class: &str, instance: &str, reason: u16) -> Value {
    json!({
        "00081150": text("UI", class),
        "00081155": text("UI", instance),
        "00081197": {"vr": "US", "Value": [reason]},
    })
}

/// STOW-RS (PS3.18 10.5): each part is a Part 10 instance, stored into a study the caller
/// may exchange images of; an SR must carry the caller's own application's results.
async fn stow(
    app: &App,
    caller: &Caller,
    headers: &HeaderMap,
    target: Option<&str>,
    body: &[u8],
) -> Result<Response, Problem> {
    let Some(storage) = app.dicom_storage.clone() else {
        return Err(Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..Problem::bad_request(
                "STOW-RS stores instances with the DICOM receiver's; start radgate with --dicom-listen and --dicom-storage",
            )
        });
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multipart::boundary(ct).map_err(|e| Problem {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ..Problem::bad_request(format!(
            "{e}; STOW-RS takes multipart/related; type=\"application/dicom\""
        ))
    })?;
    let parts = multipart::parse(body, &boundary)
        .map_err(|e| Problem::bad_request(format!("the multipart body: {e}")))?;
    let base = base(headers);
    let changes = app.store.latest_status_changes().await?;
    // Whether the caller may exchange a study's images, asked once per study sent into.
    let mut reach: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let (mut stored, mut refused) = (Vec::new(), Vec::new());
    for part in parts {
        let Ok(meta) = read_file_meta(&part.body) else {
            refused.push(failed("", "", CANNOT_UNDERSTAND));
            continue;
        };
        let dataset = part.body[meta.dataset_offset..].to_vec();
        let instance = match radgate_interop::dicom::read_instance(&dataset, &meta.transfer_syntax)
        {
            Ok(i) => i,
            Err(_) => {
                refused.push(failed(
                    &meta.sop_class,
                    &meta.sop_instance,
                    CANNOT_UNDERSTAND,
                ));
                continue;
            }
        };
        if target.is_some_and(|t| t != instance.study_uid) {
            refused.push(failed(&meta.sop_class, &meta.sop_instance, 0xA900));
            continue;
        }
        // Into a study the caller may exchange images of (a study new to radgate: only
        // with `read`), and an SR only with the caller's own application's results.
        let allowed = match reach.get(&instance.study_uid) {
            Some(a) => *a,
            None => {
                let a = match app
                    .store
                    .stored_studies(Some(&instance.study_uid), 1)
                    .await?
                    .pop()
                {
                    Some(s) => may(app, caller, &s, &changes),
                    None => authz::may_exchange_images(caller.requester(), &[]),
                };
                reach.insert(instance.study_uid.clone(), a);
                a
            }
        };
        let own_report = !is_sr(&meta.sop_class) || {
            read_sr(&dataset, &meta.transfer_syntax)
                .ok()
                .and_then(|doc| {
                    let acc = doc
                        .accession
                        .clone()
                        .or_else(|| instance.accession.clone())?;
                    result_from_sr(
                        &app.department,
                        &doc.content,
                        "check",
                        AccessionNumber::parse(acc).ok()?,
                        chrono::Utc::now(),
                    )
                    .ok()
                })
                // A report that does not read is kept and listed for reconciliation, as
                // by C-STORE; one that reads must be results the caller may send
                // (`authz::may_feed`, the rule for a JSON result too).
                .is_none_or(|r| caller.may_feed(authz::Feed::AiResult(&r.app)).is_ok())
        };
        if !allowed || !own_report {
            refused.push(failed(&meta.sop_class, &meta.sop_instance, NOT_AUTHORIZED));
            continue;
        }
        let from = match caller {
            Caller::System(k, _) => format!("stow:{}", k.name),
            Caller::Person(u) => format!("stow:{}", u.username),
        };
        match crate::dicom::store_sent(
            app,
            &storage,
            &meta.sop_class,
            &meta.transfer_syntax,
            dataset,
            &from,
        )
        .await
        {
            Ok(i) => stored.push(json!({
                "00081150": text("UI", &meta.sop_class),
                "00081155": text("UI", &i.sop_instance_uid),
                "00081190": text("UR", &format!(
                    "{base}/dicom-web/studies/{}/series/{}",
                    i.study_uid, i.series_uid
                )),
            })),
            Err(e) => {
                tracing::error!("STOW-RS: {e}");
                refused.push(failed(&meta.sop_class, &meta.sop_instance, 0xA700));
            }
        }
    }
    let mut response = serde_json::Map::new();
    if let Some(t) = target {
        response.insert(
            "00081190".into(),
            text("UR", &format!("{base}/dicom-web/studies/{t}")),
        );
    }
    let code = match (stored.is_empty(), refused.is_empty()) {
        (false, true) => StatusCode::OK,
        (false, false) => StatusCode::ACCEPTED,
        (true, _) => StatusCode::CONFLICT,
    };
    if !stored.is_empty() {
        response.insert("00081199".into(), json!({"vr": "SQ", "Value": stored}));
    }
    if !refused.is_empty() {
        response.insert("00081198".into(), json!({"vr": "SQ", "Value": refused}));
    }
    Ok(dicom_json(code, &Value::Object(response)))
}
