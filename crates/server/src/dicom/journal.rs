//! The DICOM receiver's write-ahead journal: where a received instance is made durable
//! before it is acknowledged.
//!
//! Why a journal: making a new file durable costs a flush of its data, its inode and its
//! directory (two or three device writes and a cache flush); appending to a file whose
//! blocks are already allocated and written costs one data flush. A sender that waits
//! for each acknowledgement (dcmtk's `storescu`, most modalities) waits for that flush,
//! so the journal is what lets radgate acknowledge at the speed of a receiver that does
//! not flush at all.
//!
//! Layout: a directory of segment files, each allocated and zero-filled to a fixed size
//! when created. A segment starts with a header page (magic, state, sequence number,
//! CRC); records follow (magic, the segment's sequence number, payload length, CRC of
//! sequence, length and payload; then the payload). A record counts only when its magic,
//! sequence number and CRC are right, so a torn tail or the records of a segment's
//! earlier use are never read back.
//!
//! A segment is recycled (its header marked free) only when it is no longer written to,
//! every record in it has been materialized and indexed, and the file system has been
//! synced; segments are recycled oldest first, so that replay never brings back an older
//! copy of an instance over a newer one. Sequence numbers only grow: a new one is larger
//! than any header's, and so than any record's, on the disk.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The default segment size: small instances fill it by the thousand, and an instance
/// larger than a quarter of it is stored without the journal.
pub const SEGMENT_BYTES: u64 = 32 << 20;
const HEADER_BYTES: u64 = 4096;
const SEGMENT_MAGIC: u32 = u32::from_le_bytes(*b"RGJS");
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
            Some((ACTIVE, seq)) => {
                found.max_seq = found.max_seq.max(seq);
                found.leftovers.push(Leftover { path, seq });
            }
            Some((_, seq)) => {
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

fn header(head: &[u8; 20]) -> Option<(u32, u64)> {
    let magic = u32::from_le_bytes(head[0..4].try_into().ok()?);
    let state = u32::from_le_bytes(head[4..8].try_into().ok()?);
    let seq = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let crc = u32::from_le_bytes(head[16..20].try_into().ok()?);
    (magic == SEGMENT_MAGIC && crc32fast::hash(&head[..16]) == crc).then_some((state, seq))
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
    file: Arc<File>,
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
    /// The end of the last record written, and of the last one known on the disk, as
    /// (segment, offset): a record is durable once `synced` reaches its end.
    written: (u64, u64),
    synced: (u64, u64),
    /// An appender is flushing for everyone written before it started.
    flushing: bool,
}

/// The journal in use.
pub struct Journal {
    dir: PathBuf,
    segment_bytes: u64,
    state: Mutex<State>,
    /// Wakes the appenders waiting for a flush when one ends.
    flushed: Condvar,
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
                written: (0, 0),
                synced: (0, 0),
                flushing: false,
            }),
            flushed: Condvar::new(),
        };
        {
            let mut s = journal.lock();
            journal.roll(&mut s)?;
            if s.free.is_empty() {
                let spare = journal.create(&mut s)?;
                s.free.push(spare);
            }
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

    /// Appends a record, the concatenation of `parts`, and returns, once it is on the
    /// disk, the sequence number of its segment (to be handed back to [`Journal::done`]).
    pub fn append(&self, parts: &[&[u8]]) -> io::Result<u64> {
        let size: usize = parts.iter().map(|p| p.len()).sum();
        assert!(size <= self.max_payload(), "record too large");
        let len = (RECORD_HEAD + size) as u64;
        let (end, seq) = {
            let mut s = self.lock();
            if s.offset + len > self.segment_bytes {
                self.roll(&mut s)?;
            }
            let mut offset = s.offset;
            let seg = s.open.back_mut().expect("a segment in use");
            let mut crc = crc32fast::Hasher::new();
            crc.update(&seg.seq.to_le_bytes());
            crc.update(&(size as u32).to_le_bytes());
            for p in parts {
                crc.update(p);
            }
            let mut head = [0u8; RECORD_HEAD];
            head[0..4].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
            head[4..12].copy_from_slice(&seg.seq.to_le_bytes());
            head[12..16].copy_from_slice(&(size as u32).to_le_bytes());
            head[16..20].copy_from_slice(&crc.finalize().to_le_bytes());
            // Written under the lock, so that a later record never reaches the page cache
            // before an earlier one: replay stops at the first record that is not whole.
            for p in std::iter::once(&head[..]).chain(parts.iter().copied()) {
                seg.file.write_all_at(p, offset)?;
                offset += p.len() as u64;
            }
            seg.appended += 1;
            let seq = seg.seq;
            s.offset += len;
            s.written = (seq, s.offset);
            (s.offset, seq)
        };
        self.wait_until_on_disk(seq, end)?;
        Ok(seq)
    }

    /// Group commit: the first appender to find no flush under way flushes everything
    /// written so far; those that wrote meanwhile wait for it and, if it covered them,
    /// return without a flush of their own. Several associations so share one flush.
    fn wait_until_on_disk(&self, seq: u64, end: u64) -> io::Result<()> {
        let mine = (seq, end);
        let mut s = self.lock();
        loop {
            if s.synced >= mine {
                return Ok(());
            }
            if s.flushing {
                s = self.flushed.wait(s).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            s.flushing = true;
            let target = s.written;
            // Older segments were flushed when the journal moved on from them (`roll`).
            let file = s.open.back().expect("a segment in use").file.clone();
            drop(s);
            let flushed = file.sync_data();
            s = self.lock();
            s.flushing = false;
            if flushed.is_ok() {
                s.synced = s.synced.max(target);
            }
            self.flushed.notify_all();
            if let Err(e) = flushed {
                drop(s);
                // Not acknowledged; the record must not keep its segment from being recycled.
                self.done(seq);
                return Err(e);
            }
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

    /// Records appended and not yet done.
    pub fn pending(&self) -> u64 {
        self.lock().open.iter().map(|g| g.appended - g.done).sum()
    }

    /// Takes a free segment (or a new one) into use under the next sequence number.
    fn roll(&self, s: &mut State) -> io::Result<()> {
        // What was written to the segment left behind reaches the disk now, so that a
        // flush of the new one is all a later appender waits for.
        if let Some(old) = s.open.back() {
            old.file.sync_data()?;
            s.synced = s.synced.max(s.written);
        }
        let path = match s.free.pop() {
            Some(p) => p,
            None => self.create(s)?,
        };
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let seq = s.next_seq;
        write_header(&file, ACTIVE, seq)?;
        s.next_seq += 1;
        s.offset = HEADER_BYTES;
        s.open.push_back(Segment {
            seq,
            path,
            file: Arc::new(file),
            appended: 0,
            done: 0,
        });
        Ok(())
    }

    /// Creates a segment: its blocks written (zeros) and flushed, so that appending into
    /// it later flushes data only.
    fn create(&self, s: &mut State) -> io::Result<PathBuf> {
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
        let zeros = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < self.segment_bytes {
            let n = zeros.len().min((self.segment_bytes - at) as usize);
            file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        write_header(&file, FREE, 0)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(path)
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
    fn concurrent_appenders_sharing_flushes_lose_nothing_across_segments() {
        // Four associations at once, records large enough to fill several segments: each
        // append returns only once its record is covered by a flush, its own or another's.
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
        let (synced, written) = {
            let s = j.lock();
            (s.synced, s.written)
        };
        assert_eq!(synced, written, "every acknowledged record is on the disk");
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
        let second = HEADER_BYTES + (RECORD_HEAD + 5) as u64 + RECORD_HEAD as u64;
        f.write_all_at(b"XX", second + 3).unwrap();
        assert_eq!(replayed(&d), vec![b"first".to_vec()]);
    }

    #[test]
    fn a_segment_is_recycled_only_when_all_its_records_and_older_ones_are_done() {
        let d = dir("order");
        let j = Journal::start(&d, SMALL, scan(&d).unwrap()).unwrap();
        // Four records fill a segment: nine make three segments.
        let seqs: Vec<u64> = (0..9u8)
            .map(|n| j.append(&[&[n; 15_000]]).unwrap())
            .collect();
        assert_eq!(seqs[0], seqs[3]);
        assert!(seqs[3] < seqs[4] && seqs[7] < seqs[8]);
        for &seq in &seqs[4..8] {
            j.done(seq);
        }
        assert_eq!(j.checkpoint().unwrap(), 0, "the oldest is not done");
        for &seq in &seqs[..3] {
            j.done(seq);
        }
        assert_eq!(j.checkpoint().unwrap(), 0, "one of its records is not done");
        j.done(seqs[3]);
        assert_eq!(j.checkpoint().unwrap(), 2);
        assert_eq!(j.pending(), 1);
        assert_eq!(j.checkpoint().unwrap(), 0, "the segment in use stays");
        drop(j);
        assert_eq!(replayed(&d), vec![vec![8; 15_000]]);
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
