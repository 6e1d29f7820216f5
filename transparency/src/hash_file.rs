//! The tree's stored hashes on disk: `tree.hashes`, the 32-byte hashes in stored-hash-
//! index order, appended as the tree grows. Derived data: rebuilt from the log when it
//! is missing, short or disagrees (see [`crate::service`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tlog_tiles::Hash;

use crate::error::TransparencyError;

/// The stored-hash file, open for appending.
pub struct HashFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl HashFile {
    /// Open (creating) the file at `path`; returns it with the whole hashes it holds
    /// (a torn last hash is dropped).
    pub fn open(path: &Path) -> Result<(HashFile, Vec<Hash>), TransparencyError> {
        let io = |e| TransparencyError::io(path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let hashes: Vec<Hash> = bytes
            .chunks_exact(32)
            .map(|c| Hash(c.try_into().expect("32 bytes")))
            .collect();
        let mut this = HashFile {
            path: path.to_owned(),
            file,
            len: bytes.len() as u64 / 32,
        };
        if bytes.len() % 32 != 0 {
            this.truncate(this.len)?;
        }
        Ok((this, hashes))
    }

    /// How many hashes the file holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file holds no hash.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keep only the first `len` hashes.
    pub fn truncate(&mut self, len: u64) -> Result<(), TransparencyError> {
        self.file
            .set_len(len * 32)
            .map_err(|e| TransparencyError::io(&self.path, e))?;
        self.len = len;
        Ok(())
    }

    /// Append `hashes` (not yet synced).
    pub fn append(&mut self, hashes: &[Hash]) -> Result<(), TransparencyError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(hashes.len() * 32);
        for h in hashes {
            bytes.extend_from_slice(&h.0);
        }
        self.file
            .write_all(&bytes)
            .map_err(|e| TransparencyError::io(&self.path, e))?;
        self.len += hashes.len() as u64;
        Ok(())
    }

    /// Make what was appended durable.
    pub fn sync(&mut self) -> Result<(), TransparencyError> {
        self.file
            .sync_data()
            .map_err(|e| TransparencyError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_hash_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tree.hashes");
        let (mut file, _) = HashFile::open(&path).unwrap();
        file.append(&[Hash([1; 32]), Hash([2; 32])]).unwrap();
        file.sync().unwrap();
        drop(file);
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&[9; 7]).unwrap();
        let (file, hashes) = HashFile::open(&path).unwrap();
        assert_eq!(hashes, vec![Hash([1; 32]), Hash([2; 32])]);
        assert_eq!(file.len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 64);
    }
}
