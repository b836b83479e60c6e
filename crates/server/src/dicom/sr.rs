//! AI results that arrive as DICOM structured reports (IHE AI Results). An SR is filed
//! and indexed like any instance; once it is, it is also read against the register
//! (`radgate_domain::ai_sr`) into an AI result of the application that names itself in
//! it, which goes through the one ingest path (`ingest::ai_result`), so routing,
//! monitoring and drift see it as they see a JSON result. An SR that cannot be read or
//! does not match its application's declaration is kept, not routed, and listed for
//! reconciliation with the reason. Reading again is harmless: the result's id is the
//! SR's SOP Instance UID.

use chrono::Utc;
use radgate_domain::acquisition::AcquiredInstance;
use radgate_domain::ai_sr::result_from_sr;
use radgate_domain::ids::AccessionNumber;
use radgate_interop::sr::{is_sr, read_sr};

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
