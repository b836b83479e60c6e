//! The DICOM receiver: C-ECHO and C-STORE SCP. An instance is answered success only once
//! it is durably stored: appended to the receiver's journal and flushed (`journal`). A
//! background thread then writes it to its own file under `Study/Series/SOP.dcm` and
//! indexes it in the database (`materialize`); the journal keeps it until both are done
//! and synced, and replays it at start-up otherwise. An instance too large for the
//! journal is written to its file, fsync'd, renamed, its directory fsync'd and indexed
//! before it is answered. The received bytes are written through, never re-encoded; only
//! the attributes routing needs are read.
//!
//! A background task completes studies whose images have stopped coming (the domain's
//! `Completion`), builds the study with its order (`acquisition::study_from`) and routes
//! it through the ingest path; a late instance routes the study again.
//!
//! Associations run on their own threads (dicom-ul's blocking API); the database is
//! reached through the service's runtime.

mod buffers;
mod journal;
mod materialize;
mod spill;
mod sr;
mod wakeups;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use chrono::Utc;
use dicom_ul::association::Association;
use dicom_ul::association::server::{AccessControl, ServerAssociationOptions};
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu};
use radgate_domain::acquisition::{AcquiredInstance, Arrivals, Completion, study_from};
use radgate_interop::dicom::{
    Command, DicomError, VERIFICATION, command, read_command, read_instance, response, status,
};
use radgate_interop::pdu::{self, PData};
use radgate_store::Reconcile;

use buffers::Buffers;
pub(crate) use journal::Journal;
use materialize::{Journaled, Receipt, file_path};
use spill::Spill;
pub(crate) use wakeups::Wakeups;

use crate::state::App;

/// Transfer syntaxes the receiver accepts: the uncompressed ones and the common
/// compressed ones, whose bytes it stores as they are.
const TRANSFER_SYNTAXES: [&str; 9] = [
    "1.2.840.10008.1.2.1",    // Explicit VR Little Endian
    "1.2.840.10008.1.2",      // Implicit VR Little Endian
    "1.2.840.10008.1.2.4.50", // JPEG Baseline
    "1.2.840.10008.1.2.4.51", // JPEG Extended
    "1.2.840.10008.1.2.4.57", // JPEG Lossless
    "1.2.840.10008.1.2.4.70", // JPEG Lossless SV1
    "1.2.840.10008.1.2.4.90", // JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91", // JPEG 2000
    "1.2.840.10008.1.2.5",    // RLE Lossless
];

/// The largest PDU the receiver takes.
const MAX_PDU: u32 = 1 << 20;

/// How the receiver is set up.
#[derive(Debug, Clone)]
pub struct DicomConfig {
    pub ae_title: String,
    /// Root of the instance files.
    pub storage: PathBuf,
    pub completion: Completion,
    /// The site studies received here belong to.
    pub site: String,
    /// Where completed studies go (AI nodes, the PACS).
    pub forward: Vec<crate::forward::DicomNode>,
    /// Associations served at once; more are refused with A-ASSOCIATE-RJ (transient,
    /// local limit exceeded).
    pub max_associations: usize,
    /// The calling AE titles accepted; empty accepts any.
    pub allowed_callers: Vec<String>,
    /// The largest data set taken; a larger one aborts its association.
    pub max_instance_bytes: u64,
}

/// Defaults of the receiver's limits.
pub const MAX_ASSOCIATIONS: usize = 32;
pub const MAX_INSTANCE_BYTES: u64 = 4 << 30;

/// Accepts the calling AE titles of the configuration, or any when it lists none.
struct Callers<'a>(&'a [String]);

impl AccessControl for Callers<'_> {
    fn check_access(
        &self,
        _this: &str,
        calling: &str,
        _called: &str,
        _user: Option<&dicom_ul::pdu::UserIdentity>,
    ) -> Result<(), dicom_ul::pdu::AssociationRJServiceUserReason> {
        if self.0.is_empty() || self.0.iter().any(|a| a == calling.trim()) {
            Ok(())
        } else {
            Err(dicom_ul::pdu::AssociationRJServiceUserReason::CallingAETitleNotRecognized)
        }
    }
}

/// A-ASSOCIATE-RJ: rejected-transient (2), by the service provider's presentation layer
/// (3), local limit exceeded (2) (PS3.8 9.3.4).
const BUSY: [u8; 10] = [0x03, 0x00, 0, 0, 0, 4, 0x00, 0x02, 0x03, 0x02];

/// Answers an association over the limit: reads its request (briefly) and rejects it, so
/// the modality knows to try again later rather than that the network failed. An async
/// task, not a thread: a crowd of idle connections costs memory for a task each, at most
/// [`REFUSING`] of them at once, and never a thread.
async fn refuse_busy(stream: std::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let wait = Duration::from_secs(2);
    let Ok(()) = stream.set_nonblocking(true) else {
        return;
    };
    let Ok(mut stream) = tokio::net::TcpStream::from_std(stream) else {
        return;
    };
    let mut head = [0u8; 6];
    let Ok(Ok(_)) = tokio::time::timeout(wait, stream.read_exact(&mut head)).await else {
        return;
    };
    if head[0] != 0x01 {
        return;
    }
    let len = u32::from_be_bytes([head[2], head[3], head[4], head[5]]).min(64 * 1024);
    let mut rest = vec![0u8; len as usize];
    let Ok(Ok(_)) = tokio::time::timeout(wait, stream.read_exact(&mut rest)).await else {
        return;
    };
    let _ = tokio::time::timeout(wait, stream.write_all(&BUSY)).await;
    let _ = stream.shutdown().await;
}

/// Refusals answered at once; connections beyond them are closed without an answer.
const REFUSING: usize = 256;

/// Opens the receiver's journal, first finishing what an earlier run acknowledged.
pub(crate) async fn open_journal(app: &App, cfg: &DicomConfig) -> std::io::Result<Journal> {
    materialize::open_journal(app, cfg, journal::SEGMENT_BYTES).await
}

/// Where an association hands what it received.
#[derive(Clone)]
struct Intake {
    journal: Arc<Journal>,
    materializer: SyncSender<Journaled>,
    buffers: Arc<Buffers>,
}

/// How many acknowledged instances may wait for their files and index rows before the
/// associations wait too.
const BACKLOG: usize = 1024;

/// Accepts associations until the process ends, one thread each; writes and indexes
/// what they journal on another.
pub(crate) fn spawn(
    app: App,
    listener: TcpListener,
    cfg: Arc<DicomConfig>,
    journal: Arc<Journal>,
    rt: tokio::runtime::Handle,
) {
    let (tx, rx) = std::sync::mpsc::sync_channel(BACKLOG);
    let buffers = Arc::new(Buffers::default());
    let intake = Intake {
        journal: journal.clone(),
        materializer: tx,
        buffers: buffers.clone(),
    };
    {
        let (app, rt) = (app.clone(), rt.clone());
        let wait = cfg.completion.shortest_wait();
        std::thread::Builder::new()
            .name("dicom-materialize".into())
            .spawn(move || materialize::run(app, journal, buffers, rx, rt, wait))
            .expect("a thread for the DICOM materializer");
    }
    // Over the limit, associations are refused by async tasks, at most REFUSING at once;
    // the rest are closed at once.
    let refusing = Arc::new(tokio::sync::Semaphore::new(REFUSING));
    let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("dicom-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let stream = match stream {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("DICOM accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                use std::sync::atomic::Ordering;
                if active.fetch_add(1, Ordering::AcqRel) >= cfg.max_associations {
                    active.fetch_sub(1, Ordering::AcqRel);
                    tracing::warn!(
                        "DICOM: {} associations at once; refusing one more",
                        cfg.max_associations
                    );
                    if let Ok(permit) = refusing.clone().try_acquire_owned() {
                        rt.spawn(async move {
                            refuse_busy(stream).await;
                            drop(permit);
                        });
                    }
                    continue;
                }
                let (app, cfg, rt, intake) = (app.clone(), cfg.clone(), rt.clone(), intake.clone());
                let done = active.clone();
                let spawned = std::thread::Builder::new()
                    .name("dicom-association".into())
                    .spawn(move || {
                        if let Err(e) = association(&app, stream, &cfg, &intake, &rt) {
                            tracing::info!("DICOM association ended: {e}");
                        }
                        done.fetch_sub(1, Ordering::AcqRel);
                    });
                if let Err(e) = spawned {
                    active.fetch_sub(1, Ordering::AcqRel);
                    tracing::warn!("cannot start a DICOM association thread: {e}");
                }
            }
        })
        .expect("a thread for the DICOM listener");
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn association(
    app: &App,
    stream: std::net::TcpStream,
    cfg: &DicomConfig,
    intake: &Intake,
    rt: &tokio::runtime::Handle,
) -> Result<(), Failure> {
    // dicom-ul leaves Nagle's algorithm on; small responses would then wait ~40 ms each.
    stream.set_nodelay(true)?;
    let mut options = ServerAssociationOptions::new()
        .ae_access_control(Callers(&cfg.allowed_callers))
        .ae_title(cfg.ae_title.as_str())
        .promiscuous(true)
        .with_abstract_syntax(VERIFICATION)
        // Fewer, larger PDUs for images of megabytes.
        .max_pdu_length(MAX_PDU)
        .read_timeout(Duration::from_secs(120))
        .write_timeout(Duration::from_secs(120));
    for ts in TRANSFER_SYNTAXES {
        options = options.with_transfer_syntax(ts);
    }
    // After the negotiation the receiver reads the data PDUs itself, from its own handle
    // on the socket: dicom-ul reads nothing past the A-ASSOCIATE-RQ, as the peer sends
    // nothing more until it has the answer.
    let mut wire = std::io::BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let mut assoc = options.establish(stream)?;
    let calling = assoc.peer_ae_title().trim().to_owned();
    let max_pdu = assoc.acceptor_max_pdu_length();
    let contexts: Vec<(u8, String)> = assoc
        .presentation_contexts()
        .iter()
        .map(|pc| (pc.id, pc.transfer_syntax.clone()))
        .collect();
    let (mut cmd, mut data) = (Vec::new(), intake.buffers.take(0));
    let mut pending: Option<(Command, u8)> = None;
    // Memory per association stays bounded: past what the journal takes, a data set goes
    // to a spill file as it arrives.
    let spill_at = intake.journal.max_payload();
    let mut spill: Option<Spill> = None;
    let mut received: u64 = 0;
    loop {
        let header = match pdu::read_header(&mut wire, max_pdu) {
            Ok(h) => h,
            Err(e) => {
                tracing::info!("DICOM: association with {calling} broken off: {e}");
                let _ = assoc.abort();
                return Ok(());
            }
        };
        match header.kind {
            pdu::P_DATA_TF => {
                let mut pdvs = PData::new(header);
                loop {
                    let pdv = match pdvs.next(&mut wire).and_then(|p| {
                        if let Some(v) = &p {
                            let into = if v.command { &mut cmd } else { &mut data };
                            pdu::read_value(&mut wire, v, into)?;
                        }
                        Ok(p)
                    }) {
                        Ok(Some(v)) => v,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("DICOM: from {calling}: {e}");
                            let _ = assoc.abort();
                            return Ok(());
                        }
                    };
                    if !pdv.command {
                        received += u64::from(pdv.len);
                        if received > cfg.max_instance_bytes {
                            tracing::warn!(
                                "DICOM: a data set from {calling} passed {} bytes; association aborted",
                                cfg.max_instance_bytes
                            );
                            let _ = assoc.abort();
                            return Ok(());
                        }
                        if (spill.is_some() || data.len() >= spill_at)
                            && let Err(e) = spill_data(
                                &mut spill,
                                &mut data,
                                pending.as_ref(),
                                &contexts,
                                cfg,
                                &calling,
                            )
                        {
                            tracing::error!("DICOM: cannot spill a data set from {calling}: {e}");
                            let _ = assoc.abort();
                            return Ok(());
                        }
                    }
                    if !pdv.last {
                        continue;
                    }
                    let pc = pdv.context;
                    if pdv.command {
                        let request = read_command(&cmd);
                        cmd.clear();
                        match request {
                            Ok(c) if c.has_data_set => pending = Some((c, pc)),
                            Ok(c) if c.field == command::C_ECHO_RQ => {
                                reply(
                                    &mut assoc,
                                    pc,
                                    response(command::C_ECHO_RSP, &c, status::SUCCESS),
                                )?;
                            }
                            Ok(c) => {
                                tracing::info!(
                                    "DICOM: command 0x{:04X} from {calling} is not supported",
                                    c.field
                                );
                                reply(&mut assoc, pc, response(c.field | 0x8000, &c, 0x0211))?;
                            }
                            Err(e) => {
                                tracing::warn!("DICOM: unreadable command from {calling}: {e}");
                                let _ = assoc.abort();
                                return Ok(());
                            }
                        }
                        continue;
                    }
                    received = 0;
                    let Some((c, pc)) = pending.take() else {
                        data.clear();
                        spill = None;
                        continue;
                    };
                    let ts = contexts
                        .iter()
                        .find(|(id, _)| *id == pc)
                        .map_or("", |(_, ts)| ts.as_str());
                    let code = if let Some(mut s) = spill.take() {
                        match s.append(&data) {
                            Ok(()) if c.field == command::C_STORE_RQ => {
                                store_spilled(app, cfg, intake, rt, &c, ts, s, &calling)
                            }
                            Ok(()) => 0x0211,
                            Err(e) => {
                                tracing::error!(
                                    "DICOM: cannot spill a data set from {calling}: {e}"
                                );
                                status::OUT_OF_RESOURCES
                            }
                        }
                    } else if c.field == command::C_STORE_RQ {
                        // The next instance is likely as large: no regrowth.
                        let size = data.len();
                        let dataset = std::mem::replace(&mut data, intake.buffers.take(size));
                        store(app, cfg, intake, rt, &c, ts, dataset, &calling)
                    } else {
                        0x0211
                    };
                    data.clear();
                    reply(&mut assoc, pc, response(command::C_STORE_RSP, &c, code))?;
                }
            }
            pdu::A_RELEASE_RQ => {
                pdu::skip(&mut wire, header.length)?;
                assoc.send(&Pdu::ReleaseRP)?;
                return Ok(());
            }
            pdu::A_ABORT => return Ok(()),
            other => {
                tracing::info!("DICOM: unexpected PDU type 0x{other:02X} from {calling}");
                let _ = assoc.abort();
                return Ok(());
            }
        }
    }
}

fn reply(
    assoc: &mut dicom_ul::ServerAssociation<std::net::TcpStream>,
    pc: u8,
    command_set: Vec<u8>,
) -> Result<(), Failure> {
    assoc.send(&Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: pc,
            value_type: PDataValueType::Command,
            is_last: true,
            data: command_set,
        }],
    })?;
    Ok(())
}

/// A UID as a path component: digits and dots only, so no name can leave the storage.
fn safe_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !uid.starts_with('.')
}

/// The routing attributes of a received data set (or of its first bytes), when its UIDs
/// are valid and match the request; else the C-STORE status that refuses it.
fn accepted_instance(
    dataset: &[u8],
    ts: &str,
    c: &Command,
    calling: &str,
) -> Result<AcquiredInstance, u16> {
    let instance = match read_instance(dataset, ts) {
        Ok(i) => i,
        Err(e @ DicomError::TransferSyntax(_)) => {
            tracing::warn!("DICOM: {e} (from {calling})");
            return Err(status::CANNOT_UNDERSTAND);
        }
        Err(e) => {
            tracing::warn!(
                "DICOM: instance {} from {calling} refused: {e}",
                c.affected_sop_instance
            );
            return Err(status::CANNOT_UNDERSTAND);
        }
    };
    if instance.sop_instance_uid != c.affected_sop_instance
        || !safe_uid(&instance.study_uid)
        || !safe_uid(&instance.series_uid)
        || !safe_uid(&instance.sop_instance_uid)
    {
        tracing::warn!(
            "DICOM: instance {} from {calling} refused: its UIDs do not match the request or are not valid",
            c.affected_sop_instance
        );
        return Err(status::DATASET_MISMATCH);
    }
    Ok(instance)
}

/// What radgate keeps of a received instance besides its file.
fn receipt_of(
    c: &Command,
    instance: &AcquiredInstance,
    ts: &str,
    calling: &str,
    dataset: Vec<u8>,
) -> Receipt {
    Receipt {
        sop_class: c.affected_sop_class.clone(),
        sop_instance: instance.sop_instance_uid.clone(),
        transfer_syntax: ts.to_owned(),
        calling: calling.to_owned(),
        received_at: Utc::now(),
        dataset,
    }
}

/// Lets the instances answered before a large one be filed first, so that an older copy
/// of the same instance never replaces it (bounded: other senders keep adding).
fn wait_for_the_journal(intake: &Intake) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while intake.journal.pending() > 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Indexes an instance whose file is already durable; the C-STORE status.
fn index_stored(
    app: &App,
    rt: &tokio::runtime::Handle,
    receipt: &Receipt,
    instance: AcquiredInstance,
    path: &Path,
) -> u16 {
    let row = receipt.indexed(instance.clone(), path);
    let indexed = rt.block_on(app.store.record_instances(&[row]));
    match indexed {
        Ok(()) => {
            crate::metrics::Metrics::bump(&app.metrics.dicom_stored);
            // An SR this large is rare; read it as the journal's path does.
            if let Err(p) = rt.block_on(sr::read(app, receipt, &instance)) {
                tracing::error!(
                    "DICOM: stored SR {} but cannot read it: {}",
                    path.display(),
                    p.detail
                );
                return status::OUT_OF_RESOURCES;
            }
            status::SUCCESS
        }
        Err(e) => {
            tracing::error!("DICOM: stored {} but cannot index it: {e}", path.display());
            status::OUT_OF_RESOURCES
        }
    }
}

/// Stores one instance and returns the C-STORE status.
#[allow(clippy::too_many_arguments)]
fn store(
    app: &App,
    cfg: &DicomConfig,
    intake: &Intake,
    rt: &tokio::runtime::Handle,
    c: &Command,
    ts: &str,
    dataset: Vec<u8>,
    calling: &str,
) -> u16 {
    let instance = match accepted_instance(&dataset, ts, c, calling) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let receipt = receipt_of(c, &instance, ts, calling, dataset);
    let (dir, path) = file_path(&cfg.storage, &instance);
    let head = receipt.head();
    if head.len() + receipt.dataset.len() > intake.journal.max_payload() {
        wait_for_the_journal(intake);
        return store_directly(app, cfg, rt, receipt, instance, &dir, &path);
    }
    let seq = match intake.journal.append(&[&head, &receipt.dataset]) {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!("DICOM: cannot journal {}: {e}", path.display());
            return status::OUT_OF_RESOURCES;
        }
    };
    let journaled = Journaled {
        receipt,
        instance,
        dir,
        path,
        seq,
    };
    crate::metrics::Metrics::bump(&app.metrics.dicom_stored);
    if intake.materializer.send(journaled).is_err() {
        // Only when the process is ending: the journal replays it at the next start.
        tracing::warn!("DICOM: the materializer has stopped; the journal keeps the instance");
    }
    status::SUCCESS
}

/// Moves what `data` holds to the spill file, starting one when needed. Data without a
/// command to go with it is dropped (it could never be stored).
fn spill_data(
    spill: &mut Option<Spill>,
    data: &mut Vec<u8>,
    pending: Option<&(Command, u8)>,
    contexts: &[(u8, String)],
    cfg: &DicomConfig,
    calling: &str,
) -> std::io::Result<()> {
    match (spill.as_mut(), pending) {
        (Some(s), _) => s.append(data)?,
        (None, Some((c, pc))) => {
            let ts = contexts
                .iter()
                .find(|(id, _)| id == pc)
                .map_or("", |(_, ts)| ts.as_str());
            let header = radgate_interop::dicom::file_header(
                &c.affected_sop_class,
                &c.affected_sop_instance,
                ts,
                calling,
            );
            *spill = Some(Spill::start(&cfg.storage, &header, data)?);
        }
        (None, None) => {}
    }
    data.clear();
    Ok(())
}

/// Stores an instance that arrived in a spill file: its attributes read from the head,
/// the file made durable in its place, then indexed, before it is answered.
#[allow(clippy::too_many_arguments)]
fn store_spilled(
    app: &App,
    cfg: &DicomConfig,
    intake: &Intake,
    rt: &tokio::runtime::Handle,
    c: &Command,
    ts: &str,
    spill: Spill,
    calling: &str,
) -> u16 {
    let instance = match accepted_instance(&spill.head, ts, c, calling) {
        Ok(i) => i,
        Err(code) => return code,
    };
    // The bytes are in the spill file already.
    let receipt = receipt_of(c, &instance, ts, calling, Vec::new());
    let (dir, path) = file_path(&cfg.storage, &instance);
    wait_for_the_journal(intake);
    if let Err(e) = spill.finish(&cfg.storage, &dir, &path) {
        tracing::error!("DICOM: cannot store {}: {e}", path.display());
        return status::OUT_OF_RESOURCES;
    }
    index_stored(app, rt, &receipt, instance, &path)
}

/// Stores an instance too large for the journal: its file made durable, then indexed.
fn store_directly(
    app: &App,
    cfg: &DicomConfig,
    rt: &tokio::runtime::Handle,
    receipt: Receipt,
    instance: AcquiredInstance,
    dir: &Path,
    path: &Path,
) -> u16 {
    if let Err(e) = write_durably(
        &cfg.storage,
        dir,
        path,
        &receipt.file_header(),
        &receipt.dataset,
    ) {
        tracing::error!("DICOM: cannot store {}: {e}", path.display());
        return status::OUT_OF_RESOURCES;
    }
    index_stored(app, rt, &receipt, instance, path)
}

/// Creates `dir` under `root` if needed, with the new directories made durable as entries
/// of their parents.
fn durable_dir(root: &Path, dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        for d in [dir.parent(), Some(root)].into_iter().flatten() {
            std::fs::File::open(d)?.sync_all()?;
        }
    }
    Ok(())
}

/// Writes the file under a temporary name, fsyncs it, renames it into place and fsyncs
/// the directory, so that the file is whole and on disk before it is acknowledged.
fn write_durably(
    root: &Path,
    dir: &Path,
    path: &Path,
    header: &[u8],
    dataset: &[u8],
) -> std::io::Result<()> {
    durable_dir(root, dir)?;
    let tmp = path.with_extension("part");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(header)?;
    f.write_all(dataset)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Completes quiet studies: routes each with its order through the ingest path, or
/// again when late instances arrived after it was routed.
pub(crate) async fn complete(
    app: &App,
    cfg: &DicomConfig,
) -> Result<usize, crate::problem::Problem> {
    let now = Utc::now();
    let mut done = 0;
    for q in app
        .store
        .quiet_studies(now - cfg.completion.shortest_wait())
        .await?
    {
        let actor = "dicom";
        let order = match q.first.accession.as_deref() {
            Some(acc) => app.store.order(acc.trim()).await?,
            None => None,
        };
        let arrivals = Arrivals {
            last_instance_at: q.last_at,
            series: q.series,
            expected_series: order.as_ref().and_then(|o| o.expected_series),
        };
        if !cfg.completion.is_complete(arrivals, now) {
            continue;
        }
        let problem = match study_from(&q.first, order.as_ref(), &cfg.site, q.first_at) {
            Err(e) => {
                tracing::warn!(
                    "DICOM study {} ({} instances) not routed: {e}",
                    q.study_uid,
                    q.instances
                );
                Some(e.to_string())
            }
            Ok(study) => {
                let outcome = crate::ingest::study(app, &study, actor).await;
                match outcome {
                    Ok(o) if o.status == "unchanged" && q.completed_before => {
                        crate::ingest::reroute(app, study.accession.as_str()).await?;
                        None
                    }
                    Ok(_) => None,
                    Err(p) => {
                        tracing::warn!("DICOM study {} not routed: {}", q.study_uid, p.detail);
                        Some(p.detail)
                    }
                }
            }
        };
        let destinations: Vec<String> = cfg.forward.iter().map(|n| n.destination()).collect();
        let accession = q.first.accession.as_deref().unwrap_or_default().trim();
        // A study routed without its order went by defaults (UNKNOWN, routine): a person
        // must match it to its order, as with one that could not be routed at all.
        let reason = match (&problem, &order) {
            (Some(p), _) => Some(format!("not routed: {p}")),
            (None, None) if accession.is_empty() => {
                Some("no accession number: routed without an order".to_owned())
            }
            (None, None) => Some(format!(
                "no order for accession `{accession}`: routed as UNKNOWN, routine"
            )),
            (None, Some(_)) => None,
        };
        let reconcile = reason.as_deref().map(|reason| Reconcile {
            reason,
            instances: q.instances,
            notify: app.department.reconciler.as_ref(),
        });
        app.store
            .complete_study(
                &q.study_uid,
                accession,
                problem.as_deref(),
                reconcile.as_ref(),
                &destinations,
                Utc::now(),
            )
            .await?;
        done += 1;
    }
    Ok(done)
}

/// Stores an instance that arrived over HTTP (STOW-RS) the way the receiver stores a large
/// one: its file written, fsync'd and renamed, its directory fsync'd, then indexed and, if
/// it is an SR, read into its application's result. `dataset` is the data set as sent
/// (after its Part 10 header), in `transfer_syntax`; `from` is recorded as the sender.
pub(crate) async fn store_sent(
    app: &App,
    storage: &Path,
    sop_class: &str,
    transfer_syntax: &str,
    dataset: Vec<u8>,
    from: &str,
) -> Result<AcquiredInstance, String> {
    let instance = read_instance(&dataset, transfer_syntax).map_err(|e| e.to_string())?;
    let receipt = Receipt {
        sop_class: sop_class.to_owned(),
        sop_instance: instance.sop_instance_uid.clone(),
        transfer_syntax: transfer_syntax.to_owned(),
        calling: from.to_owned(),
        received_at: Utc::now(),
        dataset,
    };
    let (dir, path) = file_path(storage, &instance);
    let (root, header, r) = (storage.to_path_buf(), receipt.file_header(), receipt);
    let (r, written) = tokio::task::spawn_blocking(move || {
        let written = write_durably(&root, &dir, &path, &header, &r.dataset).map(|()| path);
        (r, written)
    })
    .await
    .map_err(|e| format!("the writer stopped: {e}"))?;
    let path = written.map_err(|e| format!("cannot store the instance: {e}"))?;
    app.store
        .record_instances(&[r.indexed(instance.clone(), &path)])
        .await
        .map_err(|e| format!("stored but cannot index it: {e}"))?;
    crate::metrics::Metrics::bump(&app.metrics.dicom_stored);
    sr::read(app, &r, &instance)
        .await
        .map_err(|p| format!("stored but cannot read its report: {}", p.detail))?;
    Ok(instance)
}
