//! The DICOM receiver's write-ahead journal: where a received instance is made durable
//! before it is acknowledged.
//!
//! Why a journal: making a new file durable costs a flush of its data, its inode and its
//! directory (two or three device writes and a cache flush); writing into a file whose
//! blocks are already allocated and written costs one data write and a cache flush. A
//! sender that waits for each acknowledgement (dcmtk's `storescu`, most modalities) waits
//! for that flush, so the journal is what lets radgate acknowledge at close to the speed
//! of a receiver that does not flush at all.
//!
//! Records are written with `O_DIRECT | O_DSYNC`: each write reaches the disk on its own,
//! past the page cache, and several associations' writes are on their way at once. Measured
//! here on 0.5 MB records, that takes half the time of a buffered write and `fdatasync`, and
//! it does not ask the disk to write the page cache's other dirty pages first. Where the
//! file system takes no direct I/O, the records are written through the page cache with
//! `O_DSYNC`: slower, as durable.
//!
//! Layout: a directory of segment files, each allocated (and, when made before the
//! receiver takes instances, zero-filled) to a fixed size. A segment starts with a header
//! page (magic, state, sequence number, CRC); records follow, each at a 4 KiB boundary
//! (magic, the segment's sequence number, payload length, CRC of sequence, length and
//! payload; then the payload). A record counts only when its magic, sequence number and
//! CRC are right, so a torn record or the records of a segment's earlier use are never
//! read back. Replay stops at the first record that does not count, so a record is
//! acknowledged only once every record before it in its segment is on the disk too.
//!
//! A segment is recycled (its header marked free) only when it is no longer written to,
//! every record in it has been materialized and indexed, and the file system has been
//! synced; segments are recycled oldest first, so that replay never brings back an older
//! copy of an instance over a newer one. Sequence numbers only grow: a new one is larger
//! than any header's, and so than any record's, on the disk.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The default segment size: small instances fill it by the thousand, and an instance
/// larger than a quarter of it is stored without the journal.
pub const SEGMENT_BYTES: u64 = 32 << 20;
const HEADER_BYTES: u64 = 4096;
/// Where records start, and the multiple of their length on the disk: the alignment
/// direct I/O asks for on disks of 512-byte and of 4 KiB sectors.
const ALIGN: usize = 4096;
/// At most this many bytes of staging buffers are kept for the next records.
const STAGING_BYTES: usize = 32 << 20;
/// A segment whose records start at `ALIGN` boundaries.
const SEGMENT_MAGIC: u32 = u32::from_le_bytes(*b"RGJ2");
/// A segment of radgate before direct I/O, records back to back: still replayed.
const SEGMENT_MAGIC_PACKED: u32 = u32::from_le_bytes(*b"RGJS");
const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"RGJR");
const RECORD_HEAD: usize = 4 + 8 + 4 + 4;
const ACTIVE: u32 = 1;
const FREE: u32 = 2;

/// A segment written by an earlier run and not recycled: its records may not have been
/// materialized, and are to be replayed.
#[derive(Debug)]
pub struct Leftover {
    pub path: PathBuf,
    pub seq: u64,
    /// Records start at `ALIGN` boundaries (else back to back).
    aligned: bool,
}

impl Leftover {
    /// The segment's valid records, in the order they were written.
    pub fn records(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut bytes = Vec::new();
        File::open(&self.path)?.read_to_end(&mut bytes)?;
        let mut out = Vec::new();
        let mut at = HEADER_BYTES as usize;
        while let Some(head) = bytes.get(at..at + RECORD_HEAD) {
            let magic = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes"));
            let seq = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(head[12..16].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(head[16..20].try_into().expect("4 bytes"));
            if magic != RECORD_MAGIC || seq != self.seq {
                break;
            }
            let Some(payload) = bytes.get(at + RECORD_HEAD..at + RECORD_HEAD + len) else {
                break;
            };
            if record_crc(seq, len as u32, payload) != crc {
                break;
            }
            out.push(payload.to_vec());
            at += RECORD_HEAD + len;
            if self.aligned {
                at = at.next_multiple_of(ALIGN);
            }
        }
        Ok(out)
    }
}

/// What the journal directory holds at start-up: the segments to replay (oldest first)
/// and the free ones.
#[derive(Debug)]
pub struct Found {
    pub leftovers: Vec<Leftover>,
    free: Vec<PathBuf>,
    max_seq: u64,
    lock: File,
}

/// Takes the journal directory `dir` (created if missing) for this process and reads its
/// segment headers. A second receiver on the same storage would replay and recycle the
/// first one's segments: it is refused.
pub fn scan(dir: &Path) -> io::Result<Found> {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(dir)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    // SAFETY: flock only reads the descriptor, which `lock` keeps open; the lock lasts as
    // long as the file stays open, that is, as long as the journal.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "{} is in use by another radgate receiver ({e}); give each its own --dicom-storage",
                dir.display()
            ),
        ));
    }
    let mut found = Found {
        leftovers: Vec::new(),
        free: Vec::new(),
        max_seq: 0,
        lock,
    };
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "seg") {
            continue;
        }
        let mut head = [0u8; 20];
        let read = File::open(&path)?.read_exact(&mut head);
        match read.ok().and_then(|()| header(&head)) {
            Some((ACTIVE, seq, aligned)) => {
                found.max_seq = found.max_seq.max(seq);
                found.leftovers.push(Leftover { path, seq, aligned });
            }
            Some((_, seq, _)) => {
                found.max_seq = found.max_seq.max(seq);
                found.free.push(path);
            }
            // A torn header: written while the segment was being taken into use, before
            // any record in it was acknowledged.
            None => found.free.push(path),
        }
    }
    found.leftovers.sort_by_key(|l| l.seq);
    found.free.sort();
    Ok(found)
}

/// A segment header's state, sequence number and whether its records are aligned.
fn header(head: &[u8; 20]) -> Option<(u32, u64, bool)> {
    let magic = u32::from_le_bytes(head[0..4].try_into().ok()?);
    let state = u32::from_le_bytes(head[4..8].try_into().ok()?);
    let seq = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let crc = u32::from_le_bytes(head[16..20].try_into().ok()?);
    let aligned = match magic {
        SEGMENT_MAGIC => true,
        SEGMENT_MAGIC_PACKED => false,
        _ => return None,
    };
    (crc32fast::hash(&head[..16]) == crc).then_some((state, seq, aligned))
}

fn write_header(file: &File, state: u32, seq: u64) -> io::Result<()> {
    let mut head = [0u8; 20];
    head[0..4].copy_from_slice(&SEGMENT_MAGIC.to_le_bytes());
    head[4..8].copy_from_slice(&state.to_le_bytes());
    head[8..16].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&head[..16]);
    head[16..20].copy_from_slice(&crc.to_le_bytes());
    file.write_all_at(&head, 0)?;
    file.sync_data()
}

fn record_crc(seq: u64, len: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(&len.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Flushes everything written to the file system that holds `dir`: the materialized
/// instance files, their directories and the index's own files, in one call.
pub fn sync_file_system(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let d = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `d` keeps open for the call.
    if unsafe { libc::syncfs(d.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

struct Segment {
    seq: u64,
    path: PathBuf,
    /// For the header, through the page cache.
    file: Arc<File>,
    /// For the records: each write durable when it returns (`open_for_records`).
    records: Arc<File>,
    appended: u64,
    done: u64,
}

struct State {
    /// Segments in use, oldest first; the last is written to.
    open: VecDeque<Segment>,
    offset: u64,
    next_seq: u64,
    free: Vec<PathBuf>,
    created: u64,
    /// Records being written, as (segment, offset). A record is acknowledged only when
    /// none before it is still being written.
    writing: BTreeSet<(u64, u64)>,
    /// Segments in which a record could not be written, with the first such offset:
    /// replay stops there, so no later record of the segment may be acknowledged.
    broken: BTreeMap<u64, u64>,
}

/// The journal in use.
pub struct Journal {
    dir: PathBuf,
    segment_bytes: u64,
    state: Mutex<State>,
    /// Wakes the appenders waiting for the records before theirs.
    written: Condvar,
    /// Aligned buffers for direct writes, kept for reuse (fresh ones are page-faulted in).
    staging: Mutex<Vec<Vec<u8>>>,
    _lock: File,
}

impl Journal {
    /// Starts the journal once the leftovers of `found` were replayed: syncs the file
    /// system (the replayed files are then durable), frees the leftovers and takes a
    /// segment into use, keeping a free one ready.
    pub fn start(dir: &Path, segment_bytes: u64, found: Found) -> io::Result<Journal> {
        assert!(segment_bytes >= 4 * HEADER_BYTES, "a segment holds records");
        sync_file_system(dir)?;
        let mut free = found.free;
        for l in found.leftovers {
            let f = OpenOptions::new().write(true).open(&l.path)?;
            write_header(&f, FREE, l.seq)?;
            free.push(l.path);
        }
        let journal = Journal {
            dir: dir.to_owned(),
            _lock: found.lock,
            segment_bytes,
            state: Mutex::new(State {
                open: VecDeque::new(),
                offset: 0,
                next_seq: found.max_seq + 1,
                free,
                created: 0,
                writing: BTreeSet::new(),
                broken: BTreeMap::new(),
            }),
            written: Condvar::new(),
            staging: Mutex::new(Vec::new()),
        };
        {
            // One segment to write to and a spare, written through before the receiver
            // takes its first instance.
            let mut s = journal.lock();
            while s.free.len() < 2 {
                let segment = journal.create(&mut s, Fill::Zeros)?;
                s.free.push(segment);
            }
            journal.roll(&mut s)?;
        }
        Ok(journal)
    }

    /// The largest payload a record can carry.
    pub fn max_payload(&self) -> usize {
        ((self.segment_bytes - HEADER_BYTES) / 4) as usize
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a record, the concatenation of `parts`, and returns, once it and every
    /// record before it in its segment are on the disk, the sequence number of its
    /// segment (to be handed back to [`Journal::done`]).
    pub fn append(&self, parts: &[&[u8]]) -> io::Result<u64> {
        let size: usize = parts.iter().map(|p| p.len()).sum();
        assert!(size <= self.max_payload(), "record too large");
        let len = (RECORD_HEAD + size).next_multiple_of(ALIGN);
        // Space is taken under the lock; the write is not, so that several associations'
        // records are on their way to the disk at once.
        let (seq, offset, records) = {
            let mut s = self.lock();
            let current = s.open.back().map(|g| g.seq);
            if s.offset + len as u64 > self.segment_bytes
                || current.is_some_and(|c| s.broken.contains_key(&c))
            {
                self.roll(&mut s)?;
            }
            let offset = s.offset;
            s.offset += len as u64;
            let seg = s.open.back_mut().expect("a segment in use");
            seg.appended += 1;
            let (seq, records) = (seg.seq, seg.records.clone());
            s.writing.insert((seq, offset));
            (seq, offset, records)
        };
        let mut staging = self.staging_buffer(len);
        let at = staging.as_ptr().align_offset(ALIGN);
        let record = &mut staging[at..at + len];
        let mut crc = crc32fast::Hasher::new();
        crc.update(&seq.to_le_bytes());
        crc.update(&(size as u32).to_le_bytes());
        record[0..4].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
        record[4..12].copy_from_slice(&seq.to_le_bytes());
        record[12..16].copy_from_slice(&(size as u32).to_le_bytes());
        let mut end = RECORD_HEAD;
        for p in parts {
            crc.update(p);
            record[end..end + p.len()].copy_from_slice(p);
            end += p.len();
        }
        record[16..20].copy_from_slice(&crc.finalize().to_le_bytes());
        record[end..].fill(0);
        let wrote = records.write_all_at(record, offset);
        self.staging_done(staging);

        let mine = (seq, offset);
        let mut s = self.lock();
        s.writing.remove(&mine);
        if wrote.is_err() {
            let first = s.broken.entry(seq).or_insert(offset);
            *first = (*first).min(offset);
        }
        self.written.notify_all();
        let outcome = loop {
            if let Err(e) = &wrote {
                break Err(io::Error::new(e.kind(), e.to_string()));
            }
            if s.broken.get(&seq).is_some_and(|&at| at < offset) {
                break Err(io::Error::other(
                    "an earlier record of its journal segment could not be written",
                ));
            }
            if s.writing.first().is_none_or(|&first| first > mine) {
                break Ok(seq);
            }
            s = self.written.wait(s).unwrap_or_else(|p| p.into_inner());
        };
        drop(s);
        if outcome.is_err() {
            // Not acknowledged; the record must not keep its segment from being recycled.
            self.done(seq);
        }
        outcome
    }

    /// A buffer with `len` bytes from an `ALIGN` boundary.
    fn staging_buffer(&self, len: usize) -> Vec<u8> {
        let kept = self.staging.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut buffer = kept.unwrap_or_default();
        if buffer.len() < len + ALIGN {
            buffer.resize(len + ALIGN, 0);
        }
        buffer
    }

    fn staging_done(&self, buffer: Vec<u8>) {
        let mut kept = self.staging.lock().unwrap_or_else(|p| p.into_inner());
        // As many as associations write at once, in practice a handful, and no more than
        // a few large records' worth of memory.
        let bytes: usize = kept.iter().map(Vec::len).sum();
        if kept.len() < 16 && bytes + buffer.len() <= STAGING_BYTES {
            kept.push(buffer);
        }
    }

    /// Notes that a record of segment `seq` was materialized and indexed.
    pub fn done(&self, seq: u64) {
        let mut s = self.lock();
        if let Some(seg) = s.open.iter_mut().find(|g| g.seq == seq) {
            seg.done += 1;
        }
    }

    /// Recycles the oldest segments that are no longer written to and whose records are
    /// all done, after syncing the file system. Returns how many were recycled.
    pub fn checkpoint(&self) -> io::Result<usize> {
        let ready = {
            let s = self.lock();
            let writable = s.open.len().saturating_sub(1);
            s.open
                .iter()
                .take(writable)
                .take_while(|g| g.done >= g.appended)
                .count()
        };
        if ready == 0 {
            return Ok(0);
        }
        sync_file_system(&self.dir)?;
        let mut s = self.lock();
        for _ in 0..ready {
            let seg = s.open.pop_front().expect("counted above");
            s.broken.remove(&seg.seq);
            write_header(&seg.file, FREE, seg.seq)?;
            s.free.push(seg.path);
        }
        Ok(ready)
    }

    /// When every record is done, moves writing on to a fresh segment, so that the one
    /// written so far can be recycled and a restart has nothing to replay. Returns whether
    /// it moved. For the receiver's quiet moments.
    pub fn rotate_if_idle(&self) -> io::Result<bool> {
        let mut s = self.lock();
        let idle = s.open.iter().all(|g| g.done >= g.appended)
            && s.open.back().is_some_and(|g| g.appended > 0);
        if idle {
            self.roll(&mut s)?;
        }
        Ok(idle)
    }

    /// Segments no longer written to and not yet recycled.
    pub fn closed_segments(&self) -> usize {
        self.lock().open.len().saturating_sub(1)
    }

    /// Records appended and not yet done.
    pub fn pending(&self) -> u64 {
        self.lock().open.iter().map(|g| g.appended - g.done).sum()
    }

    /// Takes a free segment (or a new one) into use under the next sequence number.
    fn roll(&self, s: &mut State) -> io::Result<()> {
        let path = match s.free.pop() {
            Some(p) => p,
            // Instances are arriving faster than segments are recycled.
            None => self.create(s, Fill::Reserve)?,
        };
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let records = open_for_records(&path)?;
        let seq = s.next_seq;
        write_header(&file, ACTIVE, seq)?;
        s.next_seq += 1;
        s.offset = HEADER_BYTES;
        s.open.push_back(Segment {
            seq,
            path,
            file: Arc::new(file),
            records: Arc::new(records),
            appended: 0,
            done: 0,
        });
        Ok(())
    }

    /// Creates a segment, flushed with its directory entry. `Fill::Zeros` writes its
    /// blocks, so that appending into it flushes data only; `Fill::Reserve` only
    /// allocates them, which is quick, and its first use flushes the blocks' metadata
    /// as well (once: a recycled segment was written).
    fn create(&self, s: &mut State, fill: Fill) -> io::Result<PathBuf> {
        let path = loop {
            s.created += 1;
            let p = self
                .dir
                .join(format!("{:08}-{:04}.seg", s.next_seq, s.created));
            if !p.exists() {
                break p;
            }
        };
        let tmp = path.with_extension("new");
        let file = File::create(&tmp)?;
        match fill {
            Fill::Zeros => {
                let zeros = vec![0u8; 1 << 20];
                let mut at = 0;
                while at < self.segment_bytes {
                    let n = zeros.len().min((self.segment_bytes - at) as usize);
                    file.write_all_at(&zeros[..n], at)?;
                    at += n as u64;
                }
            }
            Fill::Reserve => reserve(&file, self.segment_bytes)?,
        }
        write_header(&file, FREE, 0)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(path)
    }
}

/// How a new segment's blocks are made ready.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fill {
    /// Written with zeros: for the segments made before the receiver takes instances.
    Zeros,
    /// Allocated only: for a segment needed while instances arrive, when writing its
    /// whole size first would double what the disk is asked to write.
    Reserve,
}

/// Allocates `len` bytes to `file` (`posix_fallocate`; set_len where the file system
/// cannot allocate ahead, as on tmpfs of old kernels).
fn reserve(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len_off = libc::off_t::try_from(len).map_err(io::Error::other)?;
    // SAFETY: posix_fallocate only reads the descriptor, which `file` keeps open.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len_off) } {
        0 => Ok(()),
        libc::EOPNOTSUPP => file.set_len(len),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Opens a segment for writing records that are durable when the write returns: direct
/// I/O where the file system has it, through the page cache otherwise.
fn open_for_records(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = |flags| {
        OpenOptions::new()
            .write(true)
            .custom_flags(flags)
            .open(path)
    };
    match open(libc::O_DIRECT | libc::O_DSYNC) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => open(libc::O_DSYNC),
        opened => opened,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: u64 = 64 * 1024;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("radgate-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn replayed(d: &Path) -> Vec<Vec<u8>> {
        scan(d)
            .unwrap()
            .leftovers
            .iter()
            .flat_map(|l| l.records().unwrap())
            .collect()
    }

    #[test]
    fn records_not_checkpointed_are_replayed_in_order_after_a_crash() {
        let d = dir("replay");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        let records: Vec<Vec<u8>> = (0..40u8).map(|n| vec![n; 1000 + n as usize]).collect();
        for r in &records {
            j.append(&[r]).unwrap();
        }
        drop(j); // no checkpoint: the process died
        assert_eq!(replayed(&d), records);
    }

    #[test]
    fn concurrent_appenders_lose_nothing_across_segments() {
        // Four associations at once, records large enough to fill several segments: each
        // append returns only once its record and those before it are written.
        let d = dir("group");
        let j = Arc::new(Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap());
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let j = j.clone();
                std::thread::spawn(move || {
                    for n in 0..50u8 {
                        j.append(&[&[t, n], &vec![n; 3000]]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(j.lock().writing.is_empty(), "every record written");
        drop(j);
        let mut got: Vec<(u8, u8)> = replayed(&d).iter().map(|r| (r[0], r[1])).collect();
        assert_eq!(got.len(), 200);
        // Each association's records in its own order.
        for t in 0..4u8 {
            let mine: Vec<u8> = got.iter().filter(|r| r.0 == t).map(|r| r.1).collect();
            assert_eq!(mine, (0..50u8).collect::<Vec<_>>());
        }
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 200);
    }

    #[test]
    fn a_torn_tail_ends_replay_and_recycled_segments_bring_nothing_back() {
        let d = dir("torn");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        // Fill several segments, materialize everything and checkpoint.
        for n in 0..100u8 {
            let seq = j.append(&[&[n; 3000]]).unwrap();
            j.done(seq);
        }
        let recycled = j.checkpoint().unwrap();
        assert!(recycled >= 3, "recycled {recycled}");
        // Only the segment in use is left to replay, with its own records.
        drop(j);
        let left = replayed(&d);
        assert!(!left.is_empty() && left.len() < 100);
        assert!(
            left.iter()
                .all(|r| r.len() == 3000 && r[0] >= 100 - left.len() as u8)
        );

        // A new run replays, frees, and writes two records into a recycled segment, the
        // second torn by a crash: only the first comes back, and none of the old ones.
        let found = scan(&d).unwrap();
        assert_eq!(found.leftovers.len(), 1);
        let j = Journal::start(&d, SMALL, found).unwrap();
        j.append(&[b"first"]).unwrap();
        j.append(&[b"second, torn"]).unwrap();
        let seg = {
            let s = j.lock();
            s.open.back().unwrap().path.clone()
        };
        drop(j);
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        let second = HEADER_BYTES + ALIGN as u64 + RECORD_HEAD as u64;
        f.write_all_at(b"XX", second + 3).unwrap();
        assert_eq!(replayed(&d), vec![b"first".to_vec()]);
    }

    #[test]
    fn a_segment_is_recycled_only_when_all_its_records_and_older_ones_are_done() {
        let d = dir("order");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        // Five records fill a segment: eleven make three segments.
        let seqs: Vec<u64> = (0..11u8)
            .map(|n| j.append(&[&[n; 12_000]]).unwrap())
            .collect();
        assert_eq!(seqs[0], seqs[4]);
        assert!(seqs[4] < seqs[5] && seqs[9] < seqs[10]);
        for &seq in &seqs[5..10] {
            j.done(seq);
        }
        assert_eq!(j.checkpoint().unwrap(), 0, "the oldest is not done");
        for &seq in &seqs[..4] {
            j.done(seq);
        }
        assert_eq!(j.checkpoint().unwrap(), 0, "one of its records is not done");
        j.done(seqs[4]);
        assert_eq!(j.checkpoint().unwrap(), 2);
        assert_eq!(j.pending(), 1);
        assert_eq!(j.checkpoint().unwrap(), 0, "the segment in use stays");
        drop(j);
        assert_eq!(replayed(&d), vec![vec![10; 12_000]]);
    }

    /// Takes space for a record as `append` does, without writing it: a record still on
    /// its way to the disk.
    fn in_flight(j: &Journal) -> (u64, u64) {
        let mut s = j.lock();
        let at = s.offset;
        s.offset += ALIGN as u64;
        let seg = s.open.back_mut().unwrap();
        seg.appended += 1;
        let mine = (seg.seq, at);
        s.writing.insert(mine);
        mine
    }

    fn finish(j: &Journal, record: (u64, u64), failed: bool) {
        let mut s = j.lock();
        s.writing.remove(&record);
        if failed {
            s.broken.insert(record.0, record.1);
        }
        j.written.notify_all();
    }

    #[test]
    fn a_record_is_acknowledged_after_those_before_it_and_refused_when_one_failed() {
        let d = dir("wait");
        let j = Arc::new(Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap());
        for failed in [false, true] {
            let earlier = in_flight(&j);
            let later = {
                let j = j.clone();
                std::thread::spawn(move || j.append(&[b"later"]))
            };
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert!(!later.is_finished(), "waits for the record before it");
            finish(&j, earlier, failed);
            let answer = later.join().unwrap();
            if failed {
                let e = answer.unwrap_err();
                assert!(e.to_string().contains("earlier record"), "{e}");
            } else {
                assert_eq!(answer.unwrap(), earlier.0);
            }
        }
        // The journal moves on from the broken segment.
        let broken = j.lock().open.back().unwrap().seq;
        assert!(j.append(&[b"next"]).unwrap() > broken);
    }

    #[test]
    fn a_record_that_cannot_be_written_is_not_acknowledged_and_the_next_goes_elsewhere() {
        let d = dir("fail");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        j.append(&[b"before"]).unwrap();
        let first = {
            let mut s = j.lock();
            let seg = s.open.back_mut().unwrap();
            // A handle that cannot write: every write to it fails.
            seg.records = Arc::new(File::open(&seg.path).unwrap());
            seg.seq
        };
        assert!(j.append(&[b"lost"]).is_err());
        let seq = j.append(&[b"after"]).unwrap();
        assert!(seq > first);
        drop(j);
        assert_eq!(replayed(&d), vec![b"before".to_vec(), b"after".to_vec()]);
    }

    #[test]
    fn a_segment_of_records_back_to_back_from_an_earlier_radgate_is_replayed() {
        let d = dir("packed");
        std::fs::create_dir_all(&d).unwrap();
        let mut bytes = vec![0u8; SMALL as usize];
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&SEGMENT_MAGIC_PACKED.to_le_bytes());
        head[4..8].copy_from_slice(&ACTIVE.to_le_bytes());
        head[8..16].copy_from_slice(&7u64.to_le_bytes());
        bytes[..16].copy_from_slice(&head);
        bytes[16..20].copy_from_slice(&crc32fast::hash(&head).to_le_bytes());
        let mut at = HEADER_BYTES as usize;
        for payload in [&b"one"[..], b"two, longer"] {
            let len = payload.len() as u32;
            bytes[at..at + 4].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
            bytes[at + 4..at + 12].copy_from_slice(&7u64.to_le_bytes());
            bytes[at + 12..at + 16].copy_from_slice(&len.to_le_bytes());
            bytes[at + 16..at + 20].copy_from_slice(&record_crc(7, len, payload).to_le_bytes());
            bytes[at + 20..at + 20 + payload.len()].copy_from_slice(payload);
            at += RECORD_HEAD + payload.len();
        }
        std::fs::write(d.join("00000007-0001.seg"), &bytes).unwrap();
        assert_eq!(replayed(&d), vec![b"one".to_vec(), b"two, longer".to_vec()]);
        // Replayed and freed, it is taken into use in the new layout, under a newer number.
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        assert!(j.append(&[b"three"]).unwrap() > 7);
        drop(j);
        assert_eq!(replayed(&d), vec![b"three".to_vec()]);
    }

    #[test]
    fn a_second_journal_on_the_same_directory_is_refused_while_the_first_is_open() {
        let d = dir("lock");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        let e = scan(&d).unwrap_err();
        assert!(
            e.to_string().contains("in use by another radgate receiver"),
            "{e}"
        );
        drop(j);
        assert!(scan(&d).is_ok());
    }

    #[test]
    fn an_idle_journal_rotates_so_that_nothing_is_left_to_replay() {
        let d = dir("idle");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        assert!(!j.rotate_if_idle().unwrap(), "nothing written yet");
        let seq = j.append(&[b"one"]).unwrap();
        assert!(!j.rotate_if_idle().unwrap(), "a record is not done");
        j.done(seq);
        assert!(j.rotate_if_idle().unwrap());
        assert_eq!(j.checkpoint().unwrap(), 1);
        drop(j);
        assert!(replayed(&d).is_empty());
    }

    #[test]
    fn sequence_numbers_grow_across_runs() {
        let d = dir("seq");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        let a = j.append(&[b"a"]).unwrap();
        drop(j);
        let found = scan(&d).unwrap();
        let j = Journal::start(&d, SMALL, found).unwrap();
        let b = j.append(&[b"b"]).unwrap();
        assert!(b > a);
        drop(j);
        assert_eq!(replayed(&d), vec![b"b".to_vec()]);
    }
}
