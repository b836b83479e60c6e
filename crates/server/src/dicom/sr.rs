//! AI results that arrive as DICOM structured reports (IHE AI Results). An SR is filed
//! and indexed like any instance; once it is, it is also read against the register
//! (`radgate_domain::ai_sr`) into an AI result of the application that names itself in
//! it, which goes through the one ingest path (`ingest::ai_result`), so routing,
//! monitoring and drift see it as they see a JSON result. An SR that cannot be read or
//! does not match its application's declaration is kept, not routed, and listed for
//! reconciliation with the reason. Reading again is harmless: the result's id is the
//! SR's SOP Instance UID.
//!
//! Segmentations, parametric maps and secondary captures from an AI node are not
//! interpreted: they are linked to their study and, when they name a registered
//! algorithm (`ai_sr::object_application`), to its application.

use chrono::Utc;
use radgate_domain::acquisition::AcquiredInstance;
use radgate_domain::ai_sr::{object_application, result_from_sr};
use radgate_domain::ids::AccessionNumber;
use radgate_interop::sr::{ai_object_kind, algorithm_names, is_sr, read_sr};

use super::materialize::Receipt;
use crate::problem::Problem;
use crate::state::App;

/// Who the audit trail names for results read from received SRs.
const ACTOR: &str = "dicom-sr";

/// Reads a received instance into an AI result if it is an SR. `Err` only when the
/// database could not be reached: the caller tries again.
pub(crate) async fn read(
    app: &App,
    receipt: &Receipt,
    instance: &AcquiredInstance,
) -> Result<(), Problem> {
    if let Some(kind) = ai_object_kind(&receipt.sop_class) {
        return link_object(app, receipt, instance, kind).await;
    }
    if !is_sr(&receipt.sop_class) {
        return Ok(());
    }
    let sop = &instance.sop_instance_uid;
    let unmatched = |accession: String, reason: String| async move {
        tracing::warn!("DICOM SR {sop} not read: {reason}");
        app.store
            .reconcile_instance(
                sop,
                &instance.study_uid,
                &accession,
                &reason,
                app.department.reconciler.as_ref(),
                Utc::now(),
            )
            .await
            .map_err(Problem::from)
    };
    let doc = match read_sr(&receipt.dataset, &receipt.transfer_syntax) {
        Ok(doc) => doc,
        Err(e) => return unmatched(String::new(), format!("the SR cannot be read: {e}")).await,
    };
    let accession = match doc.accession.clone() {
        Some(a) => Some(a),
        None => app.store.study_accession(&doc.study_uid).await?,
    };
    let Some(accession) = accession.and_then(|a| AccessionNumber::parse(a).ok()) else {
        return unmatched(
            String::new(),
            "the SR and its study carry no usable accession number".into(),
        )
        .await;
    };
    let id = format!("sr:{sop}");
    let result = match result_from_sr(
        &app.department,
        &doc.content,
        &id,
        accession.clone(),
        receipt.received_at,
    ) {
        Ok(r) => r,
        Err(m) => return unmatched(accession.to_string(), m.to_string()).await,
    };
    match crate::ingest::ai_result(app, &result, ACTOR).await {
        Ok(_) => Ok(app.store.resolve_instance(sop, Utc::now()).await?),
        // Refused as a JSON result would be (409: stored before with other content).
        Err(p) if p.status.is_client_error() => unmatched(accession.to_string(), p.detail).await,
        Err(p) => Err(p),
    }
}

/// Links an AI object to its study and the application whose algorithm it names.
async fn link_object(
    app: &App,
    receipt: &Receipt,
    instance: &AcquiredInstance,
    kind: &str,
) -> Result<(), Problem> {
    let accession = match instance.accession.clone().filter(|a| !a.trim().is_empty()) {
        Some(a) => Some(a.trim().to_owned()),
        None => app.store.study_accession(&instance.study_uid).await?,
    };
    let Some(accession) = accession else {
        tracing::warn!(
            "DICOM {kind} {} stored, but neither it nor its study has an accession number to link it to",
            instance.sop_instance_uid
        );
        return Ok(());
    };
    // An object whose names cannot be read is still linked to its study, to no application.
    let names = algorithm_names(&receipt.dataset, &receipt.transfer_syntax).unwrap_or_default();
    let from = object_application(&app.department.ai_applications, &names);
    let object = radgate_store::AiObject {
        sop_uid: instance.sop_instance_uid.clone(),
        study_uid: instance.study_uid.clone(),
        series_uid: instance.series_uid.clone(),
        kind: kind.to_owned(),
        sop_class: receipt.sop_class.clone(),
        app: from.map(|a| a.id.as_str().to_owned()),
        received_at: receipt.received_at,
    };
    Ok(app.store.record_ai_object(&accession, &object).await?)
}
