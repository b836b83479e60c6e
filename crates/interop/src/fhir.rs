//! FHIR R4 (JSON) views of the domain's records, and the two resources radgate takes in:
//! ServiceRequest (an order) and Observation (an AI result). Identifiers use radgate's own
//! URN systems; patients are referenced by identifier (radgate holds no Patient).

use chrono::{DateTime, SecondsFormat, Utc};
use radgate_domain::ai::{AiFinding, AiResult};
use radgate_domain::external_report::{ExternalReport, Status as ExternalStatus};
use radgate_domain::ids::{AccessionNumber, AiAppId, FindingCode, PatientId};
use radgate_domain::professional::Professional;
use radgate_domain::report::{Report, ReportState};
use radgate_domain::study::{Order, OrderStatus, Priority, Study};
use radgate_domain::workitem::{WorkItem, WorkItemState};
use serde_json::{Value, json};

pub const ACCESSION: &str = "urn:radgate:accession";
pub const PATIENT: &str = "urn:radgate:patient";
pub const PROFESSIONAL: &str = "urn:radgate:professional";
pub const PROCEDURE: &str = "urn:radgate:procedure";
pub const FINDING: &str = "urn:radgate:finding";
pub const AI_APP: &str = "urn:radgate:ai-application";
pub const AI_RESULT: &str = "urn:radgate:ai-result";
pub const ROLE: &str = "urn:radgate:role";
pub const TASK_TYPE: &str = "urn:radgate:task";
pub const DICOM_MODALITY: &str = "http://dicom.nema.org/resources/ontology/DCM";

/// The resource types the facade serves.
pub const RESOURCES: [&str; 7] = [
    "ServiceRequest",
    "ImagingStudy",
    "DiagnosticReport",
    "Observation",
    "Task",
    "Practitioner",
    "PractitionerRole",
];

/// Why a resource was refused: a FHIRPath-like location and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FhirError {
    pub path: String,
    pub reason: String,
}

fn refuse(path: &str, reason: impl Into<String>) -> FhirError {
    FhirError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn patient_ref(p: &PatientId) -> Value {
    json!({ "identifier": { "system": PATIENT, "value": p.as_str() } })
}

/// An OperationOutcome with one issue (`expression` names the element).
pub fn operation_outcome(code: &str, diagnostics: &str, expression: Option<&str>) -> Value {
    let mut issue = json!({ "severity": "error", "code": code, "diagnostics": diagnostics });
    if let Some(e) = expression {
        issue["expression"] = json!([e]);
    }
    json!({ "resourceType": "OperationOutcome", "issue": [issue] })
}

/// A searchset Bundle of one page of matches: `total` matches in all (when counted), and
/// the `self`, `next` and `previous` links as `(relation, url)`.
pub fn bundle(
    base: &str,
    resources: Vec<Value>,
    total: Option<usize>,
    links: &[(&str, String)],
) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let url = format!(
                "{base}/{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            );
            json!({ "fullUrl": url, "resource": r, "search": { "mode": "match" } })
        })
        .collect();
    let mut b = json!({ "resourceType": "Bundle", "type": "searchset" });
    if let Some(t) = total {
        b["total"] = json!(t);
    }
    if !links.is_empty() {
        b["link"] = links
            .iter()
            .map(|(rel, url)| json!({ "relation": rel, "url": url }))
            .collect();
    }
    if !entries.is_empty() {
        b["entry"] = json!(entries);
    }
    b
}

/// The CapabilityStatement at `/fhir/metadata`.
pub fn capability_statement(now: DateTime<Utc>) -> Value {
    let search = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({ "name": n, "type": if *n == "date" { "date" } else if *n == "patient" { "reference" } else { "token" } }))
            .collect()
    };
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|r| {
            let mut interaction = vec![json!({"code": "read"}), json!({"code": "search-type"})];
            if matches!(*r, "ServiceRequest" | "Observation") {
                interaction.push(json!({"code": "create"}));
            }
            let params: &[&str] = match *r {
                "Practitioner" | "PractitionerRole" => &["identifier"],
                _ => &["identifier", "patient", "status", "date"],
            };
            json!({ "type": r, "interaction": interaction, "searchParam": search(params) })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(now),
        "kind": "instance",
        "software": { "name": "radgate", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "radgate FHIR R4 facade" },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{ "mode": "server", "resource": resources }]
    })
}

pub fn practitioner(p: &Professional) -> Value {
    let mut v = json!({
        "resourceType": "Practitioner",
        "id": p.id.as_str(),
        "identifier": [{ "system": PROFESSIONAL, "value": p.id.as_str() }],
        "active": true,
        "name": [{ "text": p.name }]
    });
    if let Some(big) = &p.big_number {
        // The Dutch BIG register's identifier system.
        v["identifier"]
            .as_array_mut()
            .expect("an array")
            .push(json!({ "system": "http://fhir.nl/fhir/NamingSystem/big", "value": big }));
    }
    v
}

pub fn practitioner_role(p: &Professional) -> Value {
    json!({
        "resourceType": "PractitionerRole",
        "id": p.id.as_str(),
        "identifier": [{ "system": PROFESSIONAL, "value": p.id.as_str() }],
        "active": true,
        "practitioner": { "reference": format!("Practitioner/{}", p.id) },
        "code": [{ "coding": [{ "system": ROLE, "code": p.role.code() }] }]
    })
}

fn priority_code(p: Priority) -> &'static str {
    match p {
        Priority::Stat => "stat",
        Priority::Urgent => "urgent",
        Priority::Routine => "routine",
    }
}

pub fn service_request(o: &Order) -> Value {
    let status = match o.status {
        OrderStatus::Placed | OrderStatus::Changed => "active",
        OrderStatus::Cancelled => "revoked",
    };
    let mut v = json!({
        "resourceType": "ServiceRequest",
        "id": o.accession.as_str(),
        "identifier": [{ "system": ACCESSION, "value": o.accession.as_str() }],
        "status": status,
        "intent": "order",
        "priority": priority_code(o.priority),
        "code": { "coding": [{ "system": PROCEDURE, "code": o.procedure_code }] },
        "orderDetail": [{ "coding": [{ "system": DICOM_MODALITY, "code": o.modality }] }],
        "subject": patient_ref(&o.patient),
        "authoredOn": instant(o.ordered_at),
        "requester": { "display": o.ordering_department }
    });
    if let Some(q) = &o.clinical_question {
        v["reasonCode"] = json!([{ "text": q }]);
    }
    v
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(p)?,
        };
    }
    cur.as_str()
}

/// An order from a ServiceRequest: the accession from `identifier` (system
/// `urn:radgate:accession`), the patient from `subject.identifier.value`, procedure from
/// `code.coding[0].code`, modality from `orderDetail[0].coding[0].code`, priority,
/// ordering department from `requester.display`, clinical question from
/// `reasonCode[0].text`, `authoredOn`; `status` `revoked` cancels.
pub fn order_from_service_request(v: &Value) -> Result<Order, FhirError> {
    if v["resourceType"] != "ServiceRequest" {
        return Err(refuse("resourceType", "must be ServiceRequest"));
    }
    let accession = v["identifier"]
        .as_array()
        .and_then(|ids| ids.iter().find(|i| i["system"] == ACCESSION))
        .and_then(|i| i["value"].as_str())
        .ok_or_else(|| {
            refuse(
                "ServiceRequest.identifier",
                format!("an identifier with system {ACCESSION} (the accession number) is required"),
            )
        })?;
    let accession = AccessionNumber::parse(accession)
        .map_err(|e| refuse("ServiceRequest.identifier.value", e.to_string()))?;
    let patient = str_at(v, &["subject", "identifier", "value"]).ok_or_else(|| {
        refuse(
            "ServiceRequest.subject.identifier.value",
            "the patient identifier is required",
        )
    })?;
    let patient = PatientId::parse(patient)
        .map_err(|e| refuse("ServiceRequest.subject.identifier.value", e.to_string()))?;
    let procedure_code = str_at(v, &["code", "coding", "0", "code"])
        .ok_or_else(|| {
            refuse(
                "ServiceRequest.code.coding.code",
                "the procedure code is required",
            )
        })?
        .to_owned();
    let modality = str_at(v, &["orderDetail", "0", "coding", "0", "code"])
        .ok_or_else(|| {
            refuse(
                "ServiceRequest.orderDetail.coding.code",
                "the modality (DICOM code) is required",
            )
        })?
        .to_owned();
    let priority = match v["priority"].as_str().unwrap_or("routine") {
        "stat" => Priority::Stat,
        "urgent" | "asap" => Priority::Urgent,
        "routine" => Priority::Routine,
        other => {
            return Err(refuse(
                "ServiceRequest.priority",
                format!("`{other}` is not routine, urgent, asap or stat"),
            ));
        }
    };
    let status = match v["status"].as_str() {
        Some("active") | Some("draft") | None => OrderStatus::Placed,
        Some("revoked") | Some("entered-in-error") => OrderStatus::Cancelled,
        Some(other) => {
            return Err(refuse(
                "ServiceRequest.status",
                format!("`{other}` is not active or revoked"),
            ));
        }
    };
    let ordered_at = match v["authoredOn"].as_str() {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| refuse("ServiceRequest.authoredOn", e.to_string()))?
            .with_timezone(&Utc),
        None => {
            return Err(refuse(
                "ServiceRequest.authoredOn",
                "when the order was placed is required",
            ));
        }
    };
    Ok(Order {
        accession,
        patient,
        patient_name: None,
        patient_sex: None,
        procedure_code,
        modality,
        priority,
        ordering_department: str_at(v, &["requester", "display"])
            .unwrap_or("UNKNOWN")
            .to_owned(),
        clinical_question: str_at(v, &["reasonCode", "0", "text"]).map(str::to_owned),
        ordered_at,
        status,
        expected_series: None,
    })
}

pub fn imaging_study(s: &Study) -> Value {
    let mut identifier = vec![json!({ "system": ACCESSION, "value": s.accession.as_str() })];
    if let Some(uid) = &s.study_uid {
        identifier.insert(
            0,
            json!({ "system": "urn:dicom:uid", "value": format!("urn:oid:{uid}") }),
        );
    }
    json!({
        "resourceType": "ImagingStudy",
        "id": s.accession.as_str(),
        "identifier": identifier,
        "status": "available",
        "modality": [{ "system": DICOM_MODALITY, "code": s.modality }],
        "subject": patient_ref(&s.patient),
        "started": instant(s.acquired_at),
        "basedOn": [{ "reference": format!("ServiceRequest/{}", s.accession) }],
        "procedureCode": [{ "coding": [{ "system": PROCEDURE, "code": s.procedure_code }] }]
    })
}

pub fn diagnostic_report(r: &Report, s: &Study) -> Value {
    let status = match (r.state, r.addenda.is_empty()) {
        (ReportState::Draft, _) => "registered",
        (ReportState::Preliminary, _) => "preliminary",
        (ReportState::Authorized, true) => "final",
        (ReportState::Authorized, false) => "amended",
    };
    let mut text = r.content.text.clone();
    for a in &r.addenda {
        text.push_str("\n\nAddendum: ");
        text.push_str(&a.text);
    }
    let findings: Vec<Value> = r
        .final_findings()
        .unwrap_or_else(|| r.content.findings.clone())
        .iter()
        .map(|f| json!({ "coding": [{ "system": FINDING, "code": f.as_str() }] }))
        .collect();
    let mut interpreters = vec![json!({ "reference": format!("Practitioner/{}", r.author.id) })];
    if let Some(a) = &r.authorized_by {
        interpreters.push(json!({ "reference": format!("Practitioner/{}", a.id) }));
    }
    let mut v = json!({
        "resourceType": "DiagnosticReport",
        "id": r.accession.as_str(),
        "identifier": [{ "system": ACCESSION, "value": r.accession.as_str() }],
        "basedOn": [{ "reference": format!("ServiceRequest/{}", r.accession) }],
        "status": status,
        "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD" }] }],
        "code": { "coding": [{ "system": PROCEDURE, "code": s.procedure_code }] },
        "subject": patient_ref(&s.patient),
        "effectiveDateTime": instant(s.acquired_at),
        "resultsInterpreter": interpreters,
        "imagingStudy": [{ "reference": format!("ImagingStudy/{}", r.accession) }],
        "conclusion": text
    });
    if let Some(last) = r.history.last() {
        v["issued"] = json!(instant(last.at));
    }
    if !findings.is_empty() {
        v["conclusionCode"] = json!(findings);
    }
    v
}

/// A report written in the RIS, from a DiagnosticReport: the accession from `identifier`
/// (system `urn:radgate:accession`, or an identifier typed `ACSN`); `status` `final`, the
/// corrections `amended`, `corrected` and `appended`, or `preliminary`; the text from
/// `presentedForm` (`text/plain`, base64 `data`), else `conclusion`; the signer from
/// `resultsInterpreter[0]` (identifier value, reference id or display); `issued`.
pub fn external_report_from_diagnostic_report(v: &Value) -> Result<ExternalReport, FhirError> {
    use base64::Engine;
    if v["resourceType"] != "DiagnosticReport" {
        return Err(refuse("resourceType", "must be DiagnosticReport"));
    }
    let accession = v["identifier"]
        .as_array()
        .and_then(|ids| {
            ids.iter().find(|i| {
                i["system"] == ACCESSION
                    || i["type"]["coding"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c["code"] == "ACSN"))
            })
        })
        .and_then(|i| i["value"].as_str())
        .ok_or_else(|| {
            refuse(
                "DiagnosticReport.identifier",
                format!("an identifier with system {ACCESSION} or type ACSN (the accession number) is required"),
            )
        })?;
    let accession = AccessionNumber::parse(accession)
        .map_err(|e| refuse("DiagnosticReport.identifier.value", e.to_string()))?;
    let status = match v["status"].as_str() {
        Some("final") => ExternalStatus::Final,
        Some("amended" | "corrected" | "appended") => ExternalStatus::Corrected,
        Some("preliminary" | "partial") => ExternalStatus::Preliminary,
        other => {
            return Err(refuse(
                "DiagnosticReport.status",
                format!(
                    "{} is not final, amended, corrected, appended or preliminary",
                    other.map_or("a missing status".into(), |s| format!("`{s}`"))
                ),
            ));
        }
    };
    let mut parts: Vec<String> = Vec::new();
    for (i, form) in v["presentedForm"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let plain = form["contentType"]
            .as_str()
            .is_some_and(|t| t.starts_with("text/plain"));
        let Some(data) = form["data"].as_str().filter(|_| plain) else {
            continue;
        };
        let path = format!("DiagnosticReport.presentedForm[{i}].data");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| refuse(&path, format!("not base64: {e}")))?;
        parts.push(String::from_utf8(bytes).map_err(|_| refuse(&path, "not UTF-8 text"))?);
    }
    if parts.is_empty()
        && let Some(c) = v["conclusion"].as_str()
    {
        parts.push(c.to_owned());
    }
    let interpreter = &v["resultsInterpreter"][0];
    let signer = interpreter["identifier"]["value"]
        .as_str()
        .or_else(|| {
            interpreter["reference"]
                .as_str()
                .map(|r| r.rsplit('/').next().unwrap_or(r))
        })
        .or_else(|| interpreter["display"].as_str())
        .map(str::to_owned);
    let issued_at = match v["issued"].as_str() {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| refuse("DiagnosticReport.issued", e.to_string()))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    ExternalReport::new(accession, status, parts.join("\n\n"), signer, issued_at).map_err(|e| {
        refuse(
            "DiagnosticReport.presentedForm",
            format!("{e} (presentedForm text/plain or conclusion)"),
        )
    })
}

/// An AI result as one Observation: the application in `device.display` and `method`,
/// one component per finding with its score and flags.
pub fn observation(r: &AiResult) -> Value {
    let components: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let code = json!({ "coding": [{ "system": FINDING, "code": f.code.as_str() }] });
            let mut c = match f.score {
                Some(s) => json!({ "code": code, "valueQuantity": { "value": s } }),
                None => json!({ "code": code, "valueBoolean": f.critical }),
            };
            let mut flags = Vec::new();
            if f.critical {
                flags.push(json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "AA" }], "text": "critical" }));
            }
            if f.normal {
                flags.push(json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "N" }], "text": "normal" }));
            }
            if !flags.is_empty() {
                c["interpretation"] = json!(flags);
            }
            c
        })
        .collect();
    json!({
        "resourceType": "Observation",
        "id": fhir_id(&r.id),
        "identifier": [{ "system": AI_RESULT, "value": r.id }],
        "status": "final",
        "code": { "coding": [{ "system": AI_APP, "code": r.app.as_str(), "version": r.app_version }] },
        "focus": [{ "reference": format!("ImagingStudy/{}", r.accession) }],
        "issued": instant(r.received_at),
        "device": { "display": format!("{} {}", r.app, r.app_version) },
        "component": components
    })
}

/// A FHIR id (`[A-Za-z0-9\-\.]{1,64}`) for a sender's id: kept when it is one already.
pub fn fhir_id(id: &str) -> String {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        id.to_owned()
    } else {
        // FNV-1a: stable across releases, so the same result keeps its id.
        let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("ai-{h:016x}")
    }
}

/// An AI result from an Observation as [`observation`] writes it: `identifier` (system
/// `urn:radgate:ai-result`) the result id, `code.coding[0]` the application (code and
/// version), `focus[0].reference` `ImagingStudy/{accession}`, `issued`, and a component
/// per finding with `valueQuantity.value` the score; interpretation `AA` critical, `N`
/// normal.
pub fn ai_result_from_observation(v: &Value) -> Result<AiResult, FhirError> {
    if v["resourceType"] != "Observation" {
        return Err(refuse("resourceType", "must be Observation"));
    }
    let id = v["identifier"]
        .as_array()
        .and_then(|ids| ids.iter().find(|i| i["system"] == AI_RESULT))
        .and_then(|i| i["value"].as_str())
        .ok_or_else(|| {
            refuse(
                "Observation.identifier",
                format!("an identifier with system {AI_RESULT} (the result id) is required"),
            )
        })?
        .to_owned();
    let app = str_at(v, &["code", "coding", "0", "code"]).ok_or_else(|| {
        refuse(
            "Observation.code.coding.code",
            "the AI application is required",
        )
    })?;
    let app =
        AiAppId::parse(app).map_err(|e| refuse("Observation.code.coding.code", e.to_string()))?;
    let app_version = str_at(v, &["code", "coding", "0", "version"])
        .ok_or_else(|| {
            refuse(
                "Observation.code.coding.version",
                "the application version is required",
            )
        })?
        .to_owned();
    let focus = str_at(v, &["focus", "0", "reference"])
        .and_then(|r| r.strip_prefix("ImagingStudy/"))
        .ok_or_else(|| {
            refuse(
                "Observation.focus.reference",
                "ImagingStudy/{accession number} is required",
            )
        })?;
    let accession = AccessionNumber::parse(focus)
        .map_err(|e| refuse("Observation.focus.reference", e.to_string()))?;
    let received_at = match v["issued"].as_str() {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| refuse("Observation.issued", e.to_string()))?
            .with_timezone(&Utc),
        None => {
            return Err(refuse(
                "Observation.issued",
                "when the result was issued is required",
            ));
        }
    };
    let mut findings = Vec::new();
    for (i, c) in v["component"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        let path = format!("Observation.component[{i}]");
        let code = str_at(c, &["code", "coding", "0", "code"]).ok_or_else(|| {
            refuse(
                &format!("{path}.code.coding.code"),
                "the finding code is required",
            )
        })?;
        let code = FindingCode::parse(code)
            .map_err(|e| refuse(&format!("{path}.code.coding.code"), e.to_string()))?;
        let flag = |wanted: &str| {
            c["interpretation"].as_array().is_some_and(|is| {
                is.iter()
                    .any(|i| str_at(i, &["coding", "0", "code"]) == Some(wanted))
            })
        };
        let score = c["valueQuantity"]["value"].as_f64();
        if score.is_some_and(|s| !s.is_finite()) {
            return Err(refuse(
                &format!("{path}.valueQuantity.value"),
                "must be a finite number",
            ));
        }
        findings.push(AiFinding {
            code,
            score,
            critical: flag("AA") || c["valueBoolean"] == true && score.is_none(),
            normal: flag("N"),
        });
    }
    if findings.is_empty() {
        return Err(refuse(
            "Observation.component",
            "at least one finding is required",
        ));
    }
    Ok(AiResult {
        id,
        app,
        app_version,
        accession,
        received_at,
        findings,
    })
}

pub fn task(w: &WorkItem, study: Option<&Study>) -> Value {
    let (status, business) = match w.state {
        WorkItemState::Open => ("requested", "open"),
        WorkItemState::Claimed => ("in-progress", "claimed"),
        WorkItemState::Done => ("completed", "done"),
        WorkItemState::Escalated => ("completed", "escalated"),
        WorkItemState::Superseded => ("cancelled", "superseded"),
    };
    let mut v = json!({
        "resourceType": "Task",
        "id": w.id.to_string(),
        "identifier": [{ "system": "urn:radgate:work-item", "value": w.id.to_string() }],
        "status": status,
        "businessStatus": { "text": business },
        "intent": "order",
        "priority": priority_code(w.priority),
        "code": { "coding": [{ "system": TASK_TYPE, "code": w.task.as_str() }], "text": w.pathway.code() },
        "focus": { "reference": format!("ImagingStudy/{}", w.accession) },
        "authoredOn": instant(w.created_at),
        "restriction": { "period": { "end": instant(w.due) } }
    });
    if let Some(s) = study {
        v["for"] = patient_ref(&s.patient);
    }
    if let Some(a) = &w.assignee {
        v["owner"] = json!({ "reference": format!("Practitioner/{a}") });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_report_from_the_ris_reads_to_an_external_report() {
        let mut v = json!({
            "resourceType": "DiagnosticReport",
            "identifier": [{"system": ACCESSION, "value": "ACC9"}],
            "status": "amended",
            "conclusion": "  Conclusie: geen longembolie. ",
            "resultsInterpreter": [{"display": "Dr. A. de Vries"}]
        });
        let r = external_report_from_diagnostic_report(&v).unwrap();
        assert_eq!(r.accession.as_str(), "ACC9");
        assert_eq!(r.status, ExternalStatus::Corrected);
        assert_eq!(r.text, "Conclusie: geen longembolie.");
        assert_eq!(r.signer.as_deref(), Some("Dr. A. de Vries"));
        // presentedForm text wins over the conclusion; other content types are left out.
        v["presentedForm"] = json!([
            {"contentType": "application/pdf", "data": "JVBERi0="},
            {"contentType": "text/plain", "data": "TG9uZ2VtYm9saWUgcmVjaHRzLg=="}
        ]);
        assert_eq!(
            external_report_from_diagnostic_report(&v).unwrap().text,
            "Longembolie rechts."
        );
        let refusals = [
            (
                "/presentedForm/1/data",
                json!("not base64!"),
                "presentedForm[1].data",
            ),
            ("/status", json!("cancelled"), "status"),
            ("/identifier/0/system", json!("urn:other"), "identifier"),
        ];
        for (at, value, path) in refusals {
            let mut bad = v.clone();
            *bad.pointer_mut(at).unwrap() = value;
            let e = external_report_from_diagnostic_report(&bad).unwrap_err();
            assert!(e.path.ends_with(path), "{at}: {e:?}");
        }
    }

    #[test]
    fn a_service_request_round_trips_through_the_order() {
        let o = Order {
            accession: AccessionNumber::parse("ACC7").unwrap(),
            patient: PatientId::parse("PSEUDO-7").unwrap(),
            patient_name: None,
            patient_sex: None,
            procedure_code: "CTPA".into(),
            modality: "CT".into(),
            priority: Priority::Urgent,
            ordering_department: "SEH".into(),
            clinical_question: Some("PE?".into()),
            ordered_at: "2026-12-01T09:00:00Z".parse().unwrap(),
            status: OrderStatus::Placed,
            expected_series: None,
        };
        assert_eq!(order_from_service_request(&service_request(&o)).unwrap(), o);
        let mut bad = service_request(&o);
        bad["priority"] = json!("whenever");
        assert_eq!(
            order_from_service_request(&bad).unwrap_err().path,
            "ServiceRequest.priority"
        );
    }

    #[test]
    fn an_observation_round_trips_through_the_ai_result() {
        let r = AiResult {
            id: "res-1".into(),
            app: AiAppId::parse("pe-detect").unwrap(),
            app_version: "3.2.0".into(),
            accession: AccessionNumber::parse("ACC7").unwrap(),
            received_at: "2026-12-01T09:05:00Z".parse().unwrap(),
            findings: vec![AiFinding {
                code: FindingCode::parse("pulmonary_embolism").unwrap(),
                score: Some(0.91),
                critical: true,
                normal: false,
            }],
        };
        assert_eq!(ai_result_from_observation(&observation(&r)).unwrap(), r);
        assert_eq!(fhir_id("res-1"), "res-1");
        assert!(fhir_id("a b/c").starts_with("ai-"));
    }
}
