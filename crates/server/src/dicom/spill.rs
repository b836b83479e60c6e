//! A data set too large to hold in memory while it arrives: once an association has
//! received more than the journal takes, the bytes go to a file in the storage's
//! `.incoming` directory as they come, behind the Part 10 header the finished file needs.
//! Only the first part stays in memory, for the attributes routing reads. When the last
//! fragment is in, the file is flushed and renamed into place, as a large instance always
//! was; an association that ends first leaves nothing behind.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The bytes kept in memory for reading the routing attributes (they come before the
/// pixel data, in the first kilobytes of any data set).
pub(crate) const HEAD_BYTES: usize = 1 << 20;

pub(crate) struct Spill {
    file: File,
    path: PathBuf,
    /// The first bytes of the data set.
    pub head: Vec<u8>,
    /// Data set bytes written so far (the header not counted).
    pub len: u64,
    /// Renamed into place: nothing for Drop to remove.
    kept: bool,
}

impl Spill {
    /// Starts a spill file under `storage/.incoming` with `header` in front, then `first`.
    pub fn start(storage: &Path, header: &[u8], first: &[u8]) -> std::io::Result<Spill> {
        let dir = storage.join(".incoming");
        std::fs::create_dir_all(&dir)?;
        let mut name = [0u8; 12];
        getrandom::fill(&mut name).map_err(|e| std::io::Error::other(e.to_string()))?;
        let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!("{name}.part"));
        let mut file = File::create(&path)?;
        file.write_all(header)?;
        let mut s = Spill {
            file,
            path,
            head: Vec::new(),
            len: 0,
            kept: false,
        };
        s.append(first)?;
        Ok(s)
    }

    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Makes the file durable under `path` (its directory created and flushed as needed).
    pub fn finish(mut self, root: &Path, dir: &Path, path: &Path) -> std::io::Result<()> {
        super::durable_dir(root, dir)?;
        self.file.sync_all()?;
        std::fs::rename(&self.path, path)?;
        self.kept = true;
        File::open(dir)?.sync_all()
    }
}

impl Drop for Spill {
    /// An instance that was not finished (refused, aborted, too large) leaves no file.
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spill_keeps_its_head_and_leaves_nothing_when_dropped() {
        let root = std::env::temp_dir().join(format!("radgate-spill-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut s = Spill::start(&root, b"HDR", &vec![7u8; HEAD_BYTES - 10]).unwrap();
        s.append(&[8u8; 100]).unwrap();
        assert_eq!(s.head.len(), HEAD_BYTES);
        assert_eq!(s.len, HEAD_BYTES as u64 + 90);
        let incoming = root.join(".incoming");
        assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 1);
        drop(s);
        assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0, "removed");

        let mut s = Spill::start(&root, b"HDR", b"abc").unwrap();
        s.append(b"def").unwrap();
        let dir = root.join("1.2").join("1.2.3");
        let path = dir.join("1.2.3.4.dcm");
        s.finish(&root, &dir, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"HDRabcdef");
        assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&root);
    }
}
