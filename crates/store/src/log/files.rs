//! The ingest log on disk: numbered records in segment files `<first lsn>.wlog`.
//!
//! A record is `len: u32, crc32(payload): u32, lsn: u64, payload`. Appends are whole
//! records followed by `fdatasync`; a write that fails is cut off again, so a record can
//! only be torn by a crash, and a crash only tears the last record of the last segment,
//! which was never acknowledged: opening cuts it off.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// A segment is sealed and a new one started beyond this size (our choice: deleting a
/// loaded segment frees 64 MiB at a time; replay reads one segment into memory at once).
pub const SEGMENT_BYTES_MAX: u64 = 64 << 20;
/// A record's payload, at most (our choice: a pipeline group is at most 100k events of a
/// few hundred bytes; anything larger than this in a header is a torn or foreign file).
pub const RECORD_BYTES_MAX: usize = 1 << 30;
const HEADER: usize = 16;
const SUFFIX: &str = "wlog";

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Engine(format!("ingest log {}: {e}", path.display()))
}

/// Frames one record.
pub fn frame(lsn: u64, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The whole records at the start of `bytes` (lsn, payload), and where they end.
pub fn records(bytes: &[u8]) -> (Vec<(u64, &[u8])>, usize) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= HEADER {
        let word = |i: usize| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&bytes[at + i..at + i + 4]);
            u32::from_le_bytes(a)
        };
        let len = word(0) as usize;
        let crc = word(4);
        let mut l = [0u8; 8];
        l.copy_from_slice(&bytes[at + 8..at + 16]);
        let lsn = u64::from_le_bytes(l);
        if len > RECORD_BYTES_MAX || bytes.len() - at - HEADER < len {
            break;
        }
        let payload = &bytes[at + HEADER..at + HEADER + len];
        if crc32fast::hash(payload) != crc {
            break;
        }
        out.push((lsn, payload));
        at += HEADER + len;
    }
    (out, at)
}

/// The segment files of `dir`, by first lsn.
pub fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if path.extension().and_then(|x| x.to_str()) != Some(SUFFIX) {
            continue;
        }
        if let Some(first) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a whole segment.
pub fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| io(path, e))?;
    Ok(bytes)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

/// The segment being appended to, and the sealed ones before it.
pub struct LogFiles {
    dir: PathBuf,
    active: File,
    active_path: PathBuf,
    active_len: u64,
    /// Sealed segments (first lsn, path), oldest first.
    sealed: Vec<(u64, PathBuf)>,
    active_first: u64,
    next_lsn: u64,
    /// A failed write could not be cut off: no more appends.
    broken: bool,
    buf: Vec<u8>,
}

impl LogFiles {
    /// Opens the log in `dir`: finds the last whole record, cuts off a torn tail, and
    /// starts a new segment for appends, numbered after both the last record and `floor`
    /// (the last lsn the store loaded: its segments may be gone). Returns the log and the
    /// last lsn written (0: none).
    pub fn open(dir: &Path, floor: u64) -> Result<(Self, u64), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut sealed = segments(dir)?;
        let mut last = 0u64;
        if let Some((first, path)) = sealed.last().cloned() {
            let bytes = read(&path)?;
            let (recs, end) = records(&bytes);
            last = recs.last().map_or(first.saturating_sub(1), |(lsn, _)| *lsn);
            if end < bytes.len() {
                tracing::warn!(
                    path = %path.display(),
                    cut = bytes.len() - end,
                    "cutting a torn record off the ingest log (written during a crash, never acknowledged)"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| io(&path, e))?;
                f.set_len(end as u64).map_err(|e| io(&path, e))?;
                f.sync_all().map_err(|e| io(&path, e))?;
            }
            if recs.is_empty() {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                sealed.pop();
            }
        }
        let next_lsn = last.max(floor) + 1;
        let (active, active_path) = create(dir, next_lsn)?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
                active,
                active_path,
                active_len: 0,
                sealed,
                active_first: next_lsn,
                next_lsn,
                broken: false,
                buf: Vec::new(),
            },
            last,
        ))
    }

    /// Appends one record and syncs it to disk; returns its lsn.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, StoreError> {
        if self.broken {
            return Err(StoreError::Engine(
                "the ingest log could not recover from a failed write; restart the server".into(),
            ));
        }
        if self.active_len >= SEGMENT_BYTES_MAX {
            self.seal()?;
        }
        let lsn = self.next_lsn;
        self.buf.clear();
        frame(lsn, payload, &mut self.buf);
        let written = self
            .active
            .write_all(&self.buf)
            .and_then(|()| self.active.sync_data());
        if let Err(e) = written {
            // Cut the partial record off so the next append follows a whole one.
            let cut = self
                .active
                .set_len(self.active_len)
                .and_then(|()| self.active.sync_data());
            if cut.is_err() {
                self.broken = true;
            }
            return Err(io(&self.active_path, e));
        }
        self.active_len += self.buf.len() as u64;
        self.next_lsn += 1;
        Ok(lsn)
    }

    fn seal(&mut self) -> Result<(), StoreError> {
        let (file, path) = create(&self.dir, self.next_lsn)?;
        let old = std::mem::replace(&mut self.active_path, path);
        self.sealed.push((self.active_first, old));
        self.active = file;
        self.active_len = 0;
        self.active_first = self.next_lsn;
        Ok(())
    }

    /// Deletes the sealed segments whose every record is at most `loaded`.
    pub fn forget_through(&mut self, loaded: u64) -> Result<(), StoreError> {
        while !self.sealed.is_empty() {
            let next_first = self.sealed.get(1).map_or(self.active_first, |(f, _)| *f);
            if next_first.saturating_sub(1) > loaded {
                break;
            }
            let (_, path) = self.sealed.remove(0);
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        }
        Ok(())
    }

    /// Bytes the log occupies.
    pub fn bytes(&self) -> u64 {
        let sealed: u64 = self
            .sealed
            .iter()
            .filter_map(|(_, p)| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        sealed + self.active_len
    }

    /// Sealed segments, oldest first (for replay).
    pub fn sealed(&self) -> &[(u64, PathBuf)] {
        &self.sealed
    }
}

fn create(dir: &Path, first: u64) -> Result<(File, PathBuf), StoreError> {
    let path = dir.join(format!("{first:020}.{SUFFIX}"));
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    sync_dir(dir)?;
    Ok((file, path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use super::*;

    #[test]
    fn a_torn_tail_is_cut_and_numbering_continues() {
        let dir = std::env::temp_dir().join(format!("waggle-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let (mut log, last) = LogFiles::open(&dir, 0).unwrap();
            assert_eq!(last, 0);
            assert_eq!(log.append(b"one").unwrap(), 1);
            assert_eq!(log.append(b"two").unwrap(), 2);
        }
        // A crash in the middle of a third record.
        let (_, path) = segments(&dir).unwrap().remove(0);
        let mut torn = Vec::new();
        frame(3, b"three", &mut torn);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&torn[..torn.len() - 2]).unwrap();
        drop(f);
        let (mut log, last) = LogFiles::open(&dir, 0).unwrap();
        assert_eq!(last, 2);
        let bytes = read(&path).unwrap();
        let (recs, end) = records(&bytes);
        assert_eq!(recs.len(), 2);
        assert_eq!(end as u64, std::fs::metadata(&path).unwrap().len());
        assert_eq!(log.append(b"three").unwrap(), 3);
        log.forget_through(2).unwrap();
        assert_eq!(
            segments(&dir).unwrap().len(),
            1,
            "the loaded segment is gone"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
