//! Completed studies to the AI nodes and the PACS: the study is owed to each node in the
//! outbox, written when the study completes; a sender per node sends every stored
//! instance with C-STORE (dicom-ul's SCU) in the transfer syntax it was stored in, and
//! marks the study sent only when every instance was accepted, retrying with back-off.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use dicom_ul::association::client::ClientAssociationOptions;
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu, PresentationContextResultReason};
use radgate_interop::dicom::{read_command, read_file_meta, store_request};

use crate::state::App;

const MAX_BACKOFF_SECS: i64 = 300;

/// The outbox kind of radgate's SR of an AI result (its payload: the result's id).
pub(crate) const AI_SR: &str = "ai_sr";
/// The outbox kind of radgate's SR of an AI result with the routing decision that used it
/// (its payload: the decision's id, a space, the result's id).
pub(crate) const AI_SR_ROUTED: &str = "ai_sr_routed";

/// A DICOM node to forward to, written `AE@HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DicomNode {
    pub ae: String,
    pub addr: String,
}

impl DicomNode {
    pub fn parse(s: &str) -> Result<DicomNode, String> {
        let (ae, addr) = s
            .split_once('@')
            .ok_or_else(|| format!("`{s}`: write the node as AE@HOST:PORT"))?;
        if ae.is_empty() || ae.len() > 16 || !ae.is_ascii() {
            return Err(format!("`{ae}`: an AE title is 1 to 16 ASCII characters"));
        }
        if addr
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(format!("`{addr}`: expected HOST:PORT"));
        }
        Ok(DicomNode {
            ae: ae.to_owned(),
            addr: addr.to_owned(),
        })
    }

    /// Its name in the outbox.
    pub fn destination(&self) -> String {
        format!("dicom:{}@{}", self.ae, self.addr)
    }
}

/// Delivers the studies owed to `node` until aborted.
pub(crate) async fn run(app: App, node: DicomNode, calling_ae: String) {
    let destination = node.destination();
    let lease = chrono::Duration::minutes(10);
    loop {
        let next = match app.store.next_due(&destination, Utc::now(), lease).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("forward to {}: cannot read the outbox: {e}", node.ae);
                None
            }
        };
        let Some(m) = next else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let sent = if m.kind == AI_SR || m.kind == AI_SR_ROUTED {
            match crate::sr_out::report(&app, &m.kind, &m.payload).await {
                Ok(bytes) => send(&node, &calling_ae, vec![bytes]).await,
                Err(e) => Err(format!(
                    "cannot write the SR of AI result {}: {e}",
                    m.payload
                )),
            }
        } else {
            match m.payload.parse::<radgate_store::StudyPart>() {
                Ok(part) => send_part(&app, &node, &calling_ae, &part).await,
                Err(e) => Err(format!("outbox entry {} unreadable: {e}", m.payload)),
            }
        };
        let recorded = match &sent {
            Ok(n) => {
                tracing::info!(
                    "forwarded {} {} ({n} instances) to {}",
                    m.kind,
                    m.payload,
                    node.ae
                );
                app.store.mark_sent(m.id, Utc::now()).await
            }
            Err(e) => {
                let wait = (1i64 << m.attempts.clamp(0, 16)).min(MAX_BACKOFF_SECS);
                tracing::warn!(
                    "forward of {} {} to {} failed (attempt {}): {e}; next try in {wait} s",
                    m.kind,
                    m.payload,
                    node.ae,
                    m.attempts + 1
                );
                app.store
                    .mark_failed(m.id, e, Utc::now() + chrono::Duration::seconds(wait))
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!("forward to {}: cannot record the attempt: {e}", node.ae);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Sends the instances of a study (or of one of its completions) stored here.
async fn send_part(
    app: &App,
    node: &DicomNode,
    calling: &str,
    part: &radgate_store::StudyPart,
) -> Result<usize, String> {
    let files = app
        .store
        .study_instances(part)
        .await
        .map_err(|e| format!("cannot list the study's instances: {e}"))?;
    // Never back to the node that sent them: an AI node's own results (its SR) are for
    // the PACS, not for another run of the AI.
    let paths: Vec<String> = files
        .into_iter()
        .filter(|(_, _, from)| from.trim() != node.ae)
        .map(|(_, p, _)| p)
        .collect();
    if paths.is_empty() {
        return Ok(0);
    }
    let read = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .map(|p| std::fs::read(p).map_err(|e| format!("{p}: {e}")))
            .collect::<Result<Vec<_>, String>>()
    })
    .await
    .map_err(|e| format!("the reader stopped: {e}"))??;
    send(node, calling, read).await
}

/// Sends Part 10 files over one association, off the async threads.
async fn send(node: &DicomNode, calling: &str, files: Vec<Vec<u8>>) -> Result<usize, String> {
    let (node, calling) = (node.clone(), calling.to_owned());
    tokio::task::spawn_blocking(move || send_files(&node, &calling, files))
        .await
        .unwrap_or_else(|e| Err(format!("the sender stopped: {e}")))
}

/// Sends the files over one association; the number sent, or why not.
fn send_files(node: &DicomNode, calling: &str, files: Vec<Vec<u8>>) -> Result<usize, String> {
    let files: Vec<(Vec<u8>, radgate_interop::dicom::FileMeta)> = files
        .into_iter()
        .map(|bytes| {
            let meta = read_file_meta(&bytes).map_err(|e| e.to_string())?;
            Ok((bytes, meta))
        })
        .collect::<Result<_, String>>()?;
    if files.is_empty() {
        return Ok(0);
    }
    let mut contexts: Vec<(String, String)> = files
        .iter()
        .map(|(_, m)| (m.sop_class.clone(), m.transfer_syntax.clone()))
        .collect();
    contexts.sort();
    contexts.dedup();
    let mut options = ClientAssociationOptions::new()
        .calling_ae_title(calling)
        .called_ae_title(node.ae.as_str())
        .connection_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .write_timeout(Duration::from_secs(60));
    for (class, ts) in &contexts {
        options = options.with_presentation_context(class.as_str(), vec![ts.as_str()]);
    }
    let mut assoc = options
        .establish_with(&format!("{}@{}", node.ae, node.addr))
        .map_err(|e| format!("no association with {}: {e}", node.ae))?;
    // dicom-ul leaves Nagle's algorithm on; each response would wait for it.
    let _ = assoc.inner_stream().set_nodelay(true);
    let accepted: Vec<(u8, String, String)> = assoc
        .presentation_contexts()
        .iter()
        .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .map(|pc| {
            (
                pc.id,
                pc.abstract_syntax.clone(),
                pc.transfer_syntax.clone(),
            )
        })
        .collect();
    for (i, (bytes, meta)) in files.iter().enumerate() {
        let Some((pc, ..)) = accepted.iter().find(|(_, a, t)| {
            a.trim_end_matches('\0') == meta.sop_class
                && t.trim_end_matches('\0') == meta.transfer_syntax
        }) else {
            let _ = assoc.abort();
            return Err(format!(
                "{} accepts no context for {} in {}",
                node.ae, meta.sop_class, meta.transfer_syntax
            ));
        };
        let message_id = u16::try_from(i % 65_535 + 1).unwrap_or(1);
        let command = store_request(message_id, &meta.sop_class, &meta.sop_instance);
        assoc
            .send(&Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: *pc,
                    value_type: PDataValueType::Command,
                    is_last: true,
                    data: command,
                }],
            })
            .map_err(|e| format!("sending to {}: {e}", node.ae))?;
        {
            let mut w = assoc.send_pdata(*pc);
            w.write_all(&bytes[meta.dataset_offset..])
                .map_err(|e| format!("sending to {}: {e}", node.ae))?;
            w.finish()
                .map_err(|e| format!("sending to {}: {e}", node.ae))?;
        }
        let status = match assoc
            .receive()
            .map_err(|e| format!("no response from {}: {e}", node.ae))?
        {
            Pdu::PData { data } => {
                let cmd: Vec<u8> = data
                    .into_iter()
                    .filter(|v| v.value_type == PDataValueType::Command)
                    .flat_map(|v| v.data)
                    .collect();
                read_command(&cmd).map_err(|e| e.to_string())?.status
            }
            other => return Err(format!("{} answered {other:?}", node.ae)),
        };
        // 0x0000 success; 0xB000, 0xB007, 0xB006 warnings (stored, with coercion).
        match status {
            Some(0x0000) | Some(0xB000) | Some(0xB006) | Some(0xB007) => {}
            s => {
                let _ = assoc.abort();
                return Err(format!(
                    "{} refused {}: status {s:04X?}",
                    node.ae, meta.sop_instance
                ));
            }
        }
    }
    assoc
        .release()
        .map_err(|e| format!("release with {}: {e}", node.ae))?;
    Ok(files.len())
}
