//! radgate's DICOM SR of an AI result (IHE AI Results), for the PACS: built when the
//! outbox sends it (`forward`), from the stored result, the study and, for a report owed
//! by a routing decision, that decision, so a retry after a restart sends the same report.
//! Its UIDs derive from the result's id (and the decision's), so a PACS that gets it twice
//! keeps one, and each decision that used the result is a report of its own. The images of
//! the study radgate received are its image library and evidence.

use radgate_domain::ai_sr::{LOCAL_SCHEME, reported_findings};
use radgate_interop::sr::{ai_object_kind, is_sr};
use radgate_interop::sr_write::{Code, FindingOut, ImageRef, ReportOut, measurement_report};

use crate::forward::AI_SR_ROUTED;
use crate::state::App;
use crate::uid::derived as uid;

fn code(c: &radgate_domain::ai_sr::Concept, meaning: &str) -> Code {
    Code::new(&c.scheme, &c.value, meaning)
}

/// The outbox payload of the report of AI result `result` with decision `decision`.
pub(crate) fn routed_payload(decision: i64, result: &str) -> String {
    format!("{decision} {result}")
}

/// The Part 10 bytes of the report an outbox entry of `kind` and `payload` owes: of an AI
/// result alone (`ai_sr`), or with the routing decision that used it (`ai_sr_routed`).
pub(crate) async fn report(app: &App, kind: &str, payload: &str) -> Result<Vec<u8>, String> {
    let (decision_id, id) = if kind == AI_SR_ROUTED {
        let (d, id) = payload
            .split_once(' ')
            .and_then(|(d, id)| Some((d.parse::<i64>().ok()?, id)))
            .ok_or_else(|| format!("`{payload}` names no decision and result"))?;
        (Some(d), id)
    } else {
        (None, payload)
    };
    let result = app
        .store
        .ai_result(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no AI result `{id}` is stored"))?;
    let application = app
        .department
        .ai_application(result.app.as_str())
        .ok_or_else(|| format!("`{}` is not in the AI register", result.app))?;
    let accession = result.accession.as_str();
    let study = app
        .store
        .study(accession)
        .await
        .map_err(|e| e.to_string())?;
    let decision = match decision_id {
        Some(d) => Some(
            app.store
                .decision(accession, d)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no decision {d} of study {accession} is stored"))?,
        ),
        None => None,
    };
    let findings = reported_findings(application, &result)
        .into_iter()
        .map(|f| FindingOut {
            tracking_uid: uid(&format!("tracking:{id}:{}", f.finding)),
            score: f.score.map(|(score, concept, meaning, unit)| {
                (
                    score,
                    code(&concept, &meaning),
                    Code::new("UCUM", &unit, &unit),
                )
            }),
            finding: code(&f.finding, &f.finding_meaning),
            present: f.present,
        })
        .collect();
    // How radgate routed the study with this result.
    let notes = decision
        .map(|d| {
            let local = |value: &str, meaning: &str| Code::new(LOCAL_SCHEME, value, meaning);
            vec![
                (
                    local("routing-rule", "Routing rule"),
                    d.rule
                        .as_ref()
                        .map_or("(default)", |r| r.as_str())
                        .to_owned(),
                ),
                (
                    local("routing-policy", "Routing policy version"),
                    d.policy_version.clone(),
                ),
                (
                    local("routing-pathway", "Routing pathway"),
                    d.pathway.code().to_owned(),
                ),
                (
                    local("routing-priority", "Routing priority"),
                    d.priority.code().to_owned(),
                ),
            ]
        })
        .unwrap_or_default();
    let received_uid = study
        .as_ref()
        .and_then(|s| s.study_uid.as_ref())
        .map(|u| u.as_str().to_owned());
    // The study's images as received: what the application looked at (not the reports
    // and objects AI nodes sent back).
    let images = match &received_uid {
        Some(u) => app
            .store
            .stored_studies(Some(u), 1)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .flat_map(|s| s.instances)
            .filter(|i| !is_sr(&i.sop_class_uid) && ai_object_kind(&i.sop_class_uid).is_none())
            .map(|i| ImageRef {
                series_uid: i.series_uid,
                sop_class: i.sop_class_uid,
                sop_instance: i.sop_instance_uid,
            })
            .collect(),
        None => Vec::new(),
    };
    // A study known only by its accession number: a UID of its own, the same each time.
    let study_uid = received_uid.unwrap_or_else(|| uid(&format!("study:{accession}")));
    let out = ReportOut {
        sop_instance_uid: match decision_id {
            Some(d) => uid(&format!("sr:{id}:decision:{d}")),
            None => uid(&format!("sr:{id}")),
        },
        series_instance_uid: uid(&format!("sr-series:{accession}:{}", result.app)),
        study_uid,
        accession: accession.to_owned(),
        patient_id: study
            .as_ref()
            .map(|s| s.patient.as_str().to_owned())
            .unwrap_or_default(),
        patient_name: study
            .as_ref()
            .and_then(|s| s.patient_name.as_ref())
            .map(|n| n.as_str().to_owned()),
        patient_sex: study
            .as_ref()
            .and_then(|s| s.patient_sex)
            .map(|s| s.code().to_owned()),
        observed_at: result.received_at,
        study_at: study.as_ref().map(|s| s.acquired_at),
        device_uid: uid(&format!("device:{}", result.app)),
        device_name: application.name.clone(),
        device_manufacturer: application.vendor.clone(),
        algorithm_name: application
            .sr
            .as_ref()
            .map_or_else(|| application.name.clone(), |s| s.algorithm_name.clone()),
        algorithm_version: result.app_version.clone(),
        findings,
        notes,
        images,
    };
    measurement_report(&out).map_err(|e| e.to_string())
}
