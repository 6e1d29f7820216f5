//! sled's blob files: fsync'ed before an acknowledgement, checked by `verify`.
//!
//! sled 0.34 writes a message larger than a quarter of its log segment to its own file,
//! `blobs/<lsn>`, and never fsyncs it: our fdatasync of sled's data file does not cover
//! it, and a lost blob makes the log unopenable (or, if it was the last write, loses the
//! write). The store's size bounds keep every value it writes below that threshold
//! ([`crate::limits`]), so normally there is none; if sled ever writes one anyway, the
//! writer fsyncs it and the directory before the group is acknowledged.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A listing is skipped only while the directory's mtime is this much older than the
/// last listing (file times are taken from a coarse clock), and at least this often the
/// directory is listed anyway.
const MTIME_SLACK: Duration = Duration::from_secs(1);

/// The blob directory inside sled's directory.
pub(crate) const BLOB_DIR: &str = "blobs";

/// Bytes a blob starts with: a CRC32 of the rest, then sled's message-kind byte.
const BLOB_HEADER_LEN: u64 = 4 + 1;

/// The blobs fsync'ed so far (sled names them by increasing log sequence number).
pub(crate) struct BlobSync {
    dir: PathBuf,
    /// Blobs named up to this were synced.
    synced_up_to: Option<u64>,
    /// When the last listing started (every blob created before then was in it).
    listed_at: Option<SystemTime>,
}

impl BlobSync {
    /// Nothing synced yet: the first [`BlobSync::sync_new`] syncs every blob present.
    pub(crate) fn new(sled_dir: &Path) -> Self {
        BlobSync {
            dir: sled_dir.join(BLOB_DIR),
            synced_up_to: None,
            listed_at: None,
        }
    }

    /// Whether no blob can have appeared since the last listing: the directory's mtime
    /// (which a new entry moves to the creation time) is well before that listing, and
    /// the listing is recent. One `stat`.
    fn unchanged_since_listing(&self) -> bool {
        let Some(listed_at) = self.listed_at else {
            return false;
        };
        let recent = SystemTime::now()
            .duration_since(listed_at)
            .is_ok_and(|age| age < MTIME_SLACK);
        let mtime = match std::fs::metadata(&self.dir).and_then(|m| m.modified()) {
            Ok(mtime) => Some(mtime),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(_) => return false,
        };
        recent
            && match mtime {
                Some(mtime) => mtime + MTIME_SLACK < listed_at,
                None => true,
            }
    }

    /// fsync every blob written since the last call, then the directory (and its parent,
    /// which names it) if there was one. Returns how many were synced. When there are
    /// none this is one `stat` of the directory (a `readdir` once a second).
    pub(crate) fn sync_new(&mut self) -> io::Result<usize> {
        if self.unchanged_since_listing() {
            return Ok(0);
        }
        self.listed_at = Some(SystemTime::now());
        let mut synced = 0;
        let mut newest = self.synced_up_to;
        for (lsn, path) in blob_files(&self.dir)? {
            if self.synced_up_to.is_some_and(|done| lsn <= done) {
                continue;
            }
            match File::open(&path) {
                Ok(file) => file.sync_all()?,
                // sled removed it (garbage collected) since the listing.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            synced += 1;
            newest = newest.max(Some(lsn));
        }
        if synced > 0 {
            File::open(&self.dir)?.sync_all()?;
            if let Some(parent) = self.dir.parent() {
                File::open(parent)?.sync_all()?;
            }
            tracing::warn!(
                synced,
                "sled wrote blob files (values past its blob threshold); fsynced them"
            );
        }
        self.synced_up_to = newest;
        Ok(synced)
    }
}

/// The blob files in `dir` (none if it does not exist), with the number they are named by.
fn blob_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(lsn) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
            files.push((lsn, entry.path()));
        }
    }
    Ok(files)
}

/// Check every blob file in `sled_dir` the way sled reads one (header, then the CRC32 of
/// the rest): the first damaged one, as a reason naming it.
pub(crate) fn check_all(sled_dir: &Path) -> io::Result<Option<String>> {
    let mut files = blob_files(&sled_dir.join(BLOB_DIR))?;
    files.sort_unstable();
    for (lsn, path) in files {
        let mut bytes = Vec::new();
        match File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        if (bytes.len() as u64) < BLOB_HEADER_LEN {
            return Ok(Some(format!(
                "sled blob file {BLOB_DIR}/{lsn} holds {} bytes, not even its header: the value in it is lost",
                bytes.len()
            )));
        }
        let (crc, rest) = bytes.split_at(4);
        if crc32fast::hash(rest).to_le_bytes() != crc {
            return Ok(Some(format!(
                "sled blob file {BLOB_DIR}/{lsn} fails its CRC: the value in it is damaged"
            )));
        }
    }
    Ok(None)
}
