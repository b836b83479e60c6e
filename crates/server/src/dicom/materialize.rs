//! From journal to files and index: what the receiver does with an instance after it
//! has acknowledged it. A background thread writes each journaled instance to its file
//! under `Study/Series/SOP.dcm` and indexes batches of them in one transaction; the
//! journal recycles a segment once all its instances are written, indexed and synced.
//! At start-up the instances of segments not recycled are written and indexed again
//! (both steps are idempotent), so an instance acknowledged before a crash is never lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use radgate_domain::acquisition::AcquiredInstance;
use radgate_interop::dicom::{file_header, read_instance};
use radgate_store::ReceivedInstance;

use super::DicomConfig;
use super::journal::{self, Journal};
use crate::state::App;

/// What was received: enough to write the instance's file again, byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Receipt {
    pub sop_class: String,
    pub sop_instance: String,
    pub transfer_syntax: String,
    pub calling: String,
    pub received_at: DateTime<Utc>,
    pub dataset: Vec<u8>,
}

impl Receipt {
    /// The journal record's fields before the data set (which follows as it is).
    pub fn head(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(&self.received_at.timestamp_millis().to_le_bytes());
        for s in [
            &self.sop_class,
            &self.sop_instance,
            &self.transfer_syntax,
            &self.calling,
        ] {
            let b = s.as_bytes();
            out.extend_from_slice(&(b.len().min(u16::MAX as usize) as u16).to_le_bytes());
            out.extend_from_slice(&b[..b.len().min(u16::MAX as usize)]);
        }
        out
    }

    /// Reads a journal record back.
    pub fn decode(record: &[u8]) -> Option<Receipt> {
        let millis = i64::from_le_bytes(record.get(0..8)?.try_into().ok()?);
        let mut at = 8;
        let mut field = || {
            let len = u16::from_le_bytes(record.get(at..at + 2)?.try_into().ok()?) as usize;
            let s = std::str::from_utf8(record.get(at + 2..at + 2 + len)?).ok()?;
            at += 2 + len;
            Some(s.to_owned())
        };
        let (sop_class, sop_instance, transfer_syntax, calling) =
            (field()?, field()?, field()?, field()?);
        Some(Receipt {
            sop_class,
            sop_instance,
            transfer_syntax,
            calling,
            received_at: Utc.timestamp_millis_opt(millis).single()?,
            dataset: record[at..].to_vec(),
        })
    }

    /// The index row of the instance received, filed at `path`.
    pub fn indexed(&self, instance: AcquiredInstance, path: &Path) -> ReceivedInstance {
        ReceivedInstance {
            instance,
            path: path.to_string_lossy().into_owned(),
            calling_ae: self.calling.clone(),
            received_at: self.received_at,
        }
    }

    /// The Part 10 file: the header for the received data set, then its bytes.
    pub fn file_header(&self) -> Vec<u8> {
        file_header(
            &self.sop_class,
            &self.sop_instance,
            &self.transfer_syntax,
            &self.calling,
        )
    }
}

/// Where an instance's file goes.
pub(crate) fn file_path(storage: &Path, i: &AcquiredInstance) -> (PathBuf, PathBuf) {
    let dir = storage.join(&i.study_uid).join(&i.series_uid);
    let path = dir.join(format!("{}.dcm", i.sop_instance_uid));
    (dir, path)
}

/// An acknowledged instance on its way to its file and the index.
pub(crate) struct Journaled {
    pub receipt: Receipt,
    pub instance: AcquiredInstance,
    pub dir: PathBuf,
    pub path: PathBuf,
    pub seq: u64,
}

/// Writes the file, replacing any earlier one whole. Not flushed: the journal holds the
/// instance until the file system is synced.
fn write_file(dir: &Path, path: &Path, r: &Receipt) -> std::io::Result<()> {
    use std::io::Write;
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("part");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&r.file_header())?;
    f.write_all(&r.dataset)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// How many instances go into one index transaction at most.
const BATCH: usize = 256;
/// How long the materializer gathers instances for one index transaction.
const GATHER: Duration = Duration::from_millis(20);
/// How many segments the journal fills while instances keep arriving before it syncs the
/// file system and recycles them: bursts of up to half a gigabyte are taken without a
/// sync, and the journal's disk space stays bounded.
const BURST_SEGMENTS: usize = 16;
/// How long the receiver is quiet before the journal moves on to a fresh segment (a
/// modality's pause between series is shorter).
const ROTATE_WHEN_QUIET: Duration = Duration::from_secs(30);

/// Writes and indexes journaled instances until the receiver's channel closes.
pub(crate) fn run(
    app: App,
    journal: Arc<Journal>,
    buffers: Arc<super::Buffers>,
    rx: Receiver<Journaled>,
    rt: tokio::runtime::Handle,
    wait: chrono::Duration,
) {
    let mut last = Instant::now();
    loop {
        let first = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => {
                // Quiet for a while: close the segment so that a restart replays nothing.
                if last.elapsed() >= ROTATE_WHEN_QUIET
                    && let Err(e) = journal.rotate_if_idle()
                {
                    tracing::error!("DICOM journal: cannot take a fresh segment: {e}");
                }
                checkpoint(&journal);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // Gather for a moment: one index commit for many instances costs about what one
        // costs for one.
        last = Instant::now();
        let mut batch = vec![first];
        let until = Instant::now() + GATHER;
        while batch.len() < BATCH {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(j) => batch.push(j),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let unfiled = |n| {
            app.metrics
                .dicom_unfiled
                .store(n, std::sync::atomic::Ordering::Relaxed)
        };
        unfiled(journal.pending());
        persist(&app, &rt, &batch);
        // Indexed: the study can be complete once the shortest wait has passed since
        // the last of these arrived (a millisecond more: the index keeps milliseconds).
        if let Some(last) = batch.iter().map(|j| j.receipt.received_at).max() {
            app.wakeups
                .note(last + wait + chrono::Duration::milliseconds(1));
        }
        for j in batch {
            journal.done(j.seq);
            buffers.give(j.receipt.dataset);
        }
        unfiled(journal.pending());
        // Recycling syncs the file system, which writes every file filed since: while
        // instances keep coming, that competes with the journal for the disk, so it
        // waits for a quiet second or for the journal to reach its bound.
        if journal.closed_segments() >= BURST_SEGMENTS {
            checkpoint(&journal);
        }
    }
}

fn checkpoint(journal: &Journal) {
    if let Err(e) = journal.checkpoint() {
        tracing::error!("DICOM journal: cannot recycle a segment: {e}");
    }
}

/// Writes the batch's files and indexes them, retrying until both succeed: the
/// instances were acknowledged, and the journal keeps them until then.
fn persist(app: &App, rt: &tokio::runtime::Handle, batch: &[Journaled]) {
    let mut wait = Duration::from_secs(1);
    loop {
        let written = batch.iter().try_for_each(|j| {
            write_file(&j.dir, &j.path, &j.receipt)
                .map_err(|e| format!("cannot write {}: {e}", j.path.display()))
        });
        let outcome = written.and_then(|()| {
            let rows: Vec<ReceivedInstance> = batch
                .iter()
                .map(|j| j.receipt.indexed(j.instance.clone(), &j.path))
                .collect();
            rt.block_on(app.store.record_instances(&rows))
                .map_err(|e| format!("cannot index {} instances: {e}", rows.len()))
        });
        // Indexed: an AI node's SR is read into its results (idempotent, so a retry of
        // the whole batch is harmless).
        let outcome = outcome.and_then(|()| {
            batch.iter().try_for_each(|j| {
                rt.block_on(super::sr::read(app, &j.receipt, &j.instance))
                    .map_err(|p| {
                        format!(
                            "cannot read the SR {}: {}",
                            j.instance.sop_instance_uid, p.detail
                        )
                    })
            })
        });
        match outcome {
            Ok(()) => return,
            Err(e) => {
                tracing::error!("DICOM: {e}; the journal keeps them, retrying in {wait:?}");
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Opens the receiver's journal under the storage root, first writing and indexing the
/// instances an earlier run acknowledged and had not finished with.
pub(crate) async fn open_journal(
    app: &App,
    cfg: &DicomConfig,
    segment_bytes: u64,
) -> std::io::Result<Journal> {
    let dir = cfg.storage.join(".journal");
    let found = journal::scan(&dir)?;
    let mut replayed = 0;
    for leftover in &found.leftovers {
        let mut rows = Vec::new();
        let mut reports = Vec::new();
        for record in leftover.records()? {
            let Some(receipt) = Receipt::decode(&record) else {
                // CRC-checked, so written by a different version of radgate.
                return Err(std::io::Error::other(format!(
                    "DICOM journal {}: a record radgate cannot read",
                    leftover.path.display()
                )));
            };
            let instance = read_instance(&receipt.dataset, &receipt.transfer_syntax)
                .map_err(|e| std::io::Error::other(format!("DICOM journal: {e}")))?;
            // A newer copy came since (too large for the journal, so filed and indexed
            // before it was answered): the older one must not replace it.
            let indexed = app
                .store
                .instance_received_at(&instance.sop_instance_uid)
                .await
                .map_err(|e| std::io::Error::other(format!("DICOM journal: {e}")))?;
            if indexed.is_some_and(|at| at > receipt.received_at) {
                continue;
            }
            let (dir, path) = file_path(&cfg.storage, &instance);
            write_file(&dir, &path, &receipt)?;
            rows.push(receipt.indexed(instance.clone(), &path));
            if radgate_interop::sr::is_sr(&receipt.sop_class)
                || radgate_interop::sr::ai_object_kind(&receipt.sop_class).is_some()
            {
                reports.push((receipt, instance));
            }
        }
        for chunk in rows.chunks(BATCH) {
            app.store
                .record_instances(chunk)
                .await
                .map_err(|e| std::io::Error::other(format!("DICOM journal: {e}")))?;
        }
        for (receipt, instance) in &reports {
            super::sr::read(app, receipt, instance)
                .await
                .map_err(|p| std::io::Error::other(format!("DICOM journal: {}", p.detail)))?;
        }
        replayed += rows.len();
    }
    if replayed > 0 {
        tracing::info!("DICOM journal: wrote and indexed {replayed} instances again");
    }
    Journal::start(&dir, segment_bytes, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_reads_back_as_written() {
        let r = Receipt {
            sop_class: "1.2.840.10008.5.1.4.1.1.2".into(),
            sop_instance: "1.2.3.4".into(),
            transfer_syntax: "1.2.840.10008.1.2.1".into(),
            calling: "CT01".into(),
            received_at: Utc.timestamp_millis_opt(1_796_000_000_123).unwrap(),
            dataset: (0..=255u8).cycle().take(5000).collect(),
        };
        let mut record = r.head();
        record.extend_from_slice(&r.dataset);
        assert_eq!(Receipt::decode(&record), Some(r.clone()));
        assert_eq!(Receipt::decode(&record[..20]), None);
    }
}
