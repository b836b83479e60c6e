//! The FHIR R4 facade of the real `radgate serve`: every resource it emits (and every
//! Bundle and OperationOutcome) is validated by fhir.resources (PyPI), an independent
//! FHIR model; orders and AI results created through it go the ingest path.

mod support;

use serde_json::{Value, json};
use support::http::{Reply, call, login, provision_people, send, study};
use support::{Server, databases};

/// Validates each resource against fhir.resources' model of its type; prints the errors.
const VALIDATE: &str = r#"
import json, sys
from fhir.resources.R4B import get_fhir_model_class
errors = []
for r in json.load(sys.stdin):
    try:
        get_fhir_model_class(r["resourceType"]).model_validate(r)
    except Exception as e:
        errors.append(f'{r.get("resourceType")}/{r.get("id")}: {e}')
print(json.dumps(errors))
"#;

fn validate(resources: &[Value]) {
    let errors = support::python_json(VALIDATE, &Value::from(resources.to_vec()));
    assert_eq!(errors, serde_json::json!([]), "{errors:#}");
}

fn fhir(method: &str, url: &str, key: Option<&str>, body: Option<&Value>) -> Reply {
    send(
        method,
        url,
        key,
        None,
        body.map(|b| ("application/fhir+json", b.to_string())),
    )
}

#[test]
fn the_fhir_facade_reads_searches_and_creates_valid_r4_resources_on_both_backends() {
    for db in databases("fhir") {
        let s = Server::start(&db);
        let key = provision_people(&db);
        let rad = login(&s.url, "devries");
        let u = |p: &str| format!("{}{p}", s.url);
        let mut emitted = Vec::new();

        let meta = fhir("GET", &u("/fhir/metadata"), None, None);
        assert_eq!(meta.status, 200);
        assert_eq!(meta.body["fhirVersion"], "4.0.1");
        emitted.push(meta.body);

        let order = json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "identifier": [{"system": "urn:radgate:accession", "value": "FHIR1"}],
            "priority": "stat", "code": {"coding": [{"system": "urn:radgate:procedure", "code": "CTPA"}]},
            "orderDetail": [{"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]}],
            "subject": {"identifier": {"system": "urn:radgate:patient", "value": "PSEUDO-1"}},
            "authoredOn": "2026-12-01T09:00:00Z", "requester": {"display": "SEH"},
            "reasonCode": [{"text": "Suspected PE"}]});
        let created = fhir("POST", &u("/fhir/ServiceRequest"), Some(&key), Some(&order));
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(
            fhir("POST", &u("/fhir/ServiceRequest"), Some(&key), Some(&order)).status,
            200,
            "a repeat"
        );
        let mut broken = order.clone();
        broken["identifier"] = json!([]);
        let refused = fhir(
            "POST",
            &u("/fhir/ServiceRequest"),
            Some(&key),
            Some(&broken),
        );
        assert_eq!(refused.status, 422);
        assert_eq!(refused.body["resourceType"], "OperationOutcome");
        assert_eq!(
            refused.body["issue"][0]["expression"][0],
            "ServiceRequest.identifier"
        );
        emitted.push(refused.body);

        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&study("FHIR1", "CTPA", "CT", "CHEST")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let observation = json!({"resourceType": "Observation", "status": "final",
            "identifier": [{"system": "urn:radgate:ai-result", "value": "ai-fhir-1"}],
            "code": {"coding": [{"system": "urn:radgate:ai-application", "code": "pe-detect", "version": "3.2.0"}]},
            "focus": [{"reference": "ImagingStudy/FHIR1"}], "issued": chrono::Utc::now().to_rfc3339(),
            "component": [{"code": {"coding": [{"system": "urn:radgate:finding", "code": "pulmonary_embolism"}]},
                "valueQuantity": {"value": 0.93},
                "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "AA"}]}]}]});
        let r = fhir(
            "POST",
            &u("/fhir/Observation"),
            Some(&key),
            Some(&observation),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        // The AI result went the ingest path: the PE-positive study is now stat.
        let d = call(
            "GET",
            &u("/api/v1/studies/FHIR1/decision"),
            Some(&key),
            None,
            None,
        );
        assert_eq!(d.body["rule"], "ctpa-pe-positive", "{}", d.body);

        let item = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None)
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["accession"] == "FHIR1")
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        call(
            "POST",
            &u(&format!("/api/v1/work-items/{item}/claim")),
            None,
            Some(&rad),
            None,
        );
        let draft = json!({"text": "Segmental PE.", "findings": ["pulmonary_embolism"]});
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/reports/FHIR1/draft"),
                None,
                Some(&rad),
                Some(&draft)
            )
            .status,
            201
        );
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/reports/FHIR1/authorize"),
                None,
                Some(&rad),
                None
            )
            .status,
            200
        );

        for path in [
            "ServiceRequest/FHIR1".to_string(),
            "ImagingStudy/FHIR1".into(),
            "DiagnosticReport/FHIR1".into(),
            "Observation/ai-fhir-1".into(),
            format!("Task/{item}"),
            "Practitioner/rad-devries".into(),
            "PractitionerRole/rad-devries".into(),
        ] {
            let r = fhir("GET", &u(&format!("/fhir/{path}")), Some(&key), None);
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            emitted.push(r.body);
        }
        let report = &emitted[emitted.len() - 5];
        assert_eq!(report["status"], "final");
        assert_eq!(
            report["conclusionCode"][0]["coding"][0]["code"],
            "pulmonary_embolism"
        );

        let bundle = |q: &str| fhir("GET", &u(&format!("/fhir/{q}")), Some(&key), None);
        let b = bundle("Task?patient=PSEUDO-1&status=completed");
        assert_eq!(b.status, 200, "{}", b.body);
        assert_eq!(b.body["total"], 1, "the done read: {}", b.body);
        emitted.push(b.body);
        let b = bundle("ServiceRequest?patient=Patient/PSEUDO-1");
        assert_eq!(b.body["total"], 1);
        emitted.push(b.body);
        let b = bundle("DiagnosticReport?identifier=urn:radgate:accession|FHIR1&date=2026-01-01");
        assert_eq!(b.body["total"], 0, "another day");
        let b = bundle("Observation?patient=PSEUDO-1");
        assert_eq!(b.body["total"], 1);
        emitted.push(b.body);
        let b = bundle("Practitioner?identifier=rad-devries");
        assert_eq!(b.body["total"], 1);
        emitted.push(b.body);
        // Paging: two at a time through every practitioner, by the `next` links.
        let all = bundle("Practitioner?_count=500");
        let total = all.body["total"].as_u64().unwrap() as usize;
        assert!(total > 4, "{}", all.body);
        let mut next = Some("/fhir/Practitioner?_count=2".to_string());
        let (mut ids, mut pages) = (Vec::new(), 0);
        while let Some(url) = next {
            let b = fhir("GET", &u(&url), Some(&key), None);
            assert_eq!(b.status, 200, "{url}: {}", b.body);
            assert_eq!(b.body["total"], total);
            let entries = b.body["entry"].as_array().unwrap();
            assert!(entries.len() <= 2);
            ids.extend(entries.iter().map(|e| e["resource"]["id"].clone()));
            next = b.body["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "next")
                .map(|l| l["url"].as_str().unwrap().to_owned());
            pages += 1;
            emitted.push(b.body);
        }
        assert_eq!(pages, total.div_ceil(2));
        let expected: Vec<Value> = all.body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["id"].clone())
            .collect();
        assert_eq!(ids, expected, "every practitioner once, in order");
        let r = bundle("Practitioner?_count=many");
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["issue"][0]["expression"][0], "_count");
        for (q, status) in [
            ("ImagingStudy", 400),
            ("ImagingStudy?color=blue", 400),
            ("Patient/PSEUDO-1", 404),
            ("ImagingStudy/NOPE", 404),
        ] {
            let r = bundle(q);
            assert_eq!(r.status, status, "{q}: {}", r.body);
            assert_eq!(r.body["resourceType"], "OperationOutcome", "{q}");
            emitted.push(r.body);
        }
        let anonymous = fhir("GET", &u("/fhir/ImagingStudy/FHIR1"), None, None);
        assert_eq!(anonymous.status, 401);
        emitted.push(anonymous.body);
        validate(&emitted);
    }
}
