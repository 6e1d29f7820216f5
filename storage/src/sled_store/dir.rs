//! The store's directory: the exclusive lock and the repair done before sled opens.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use fs2::FileExt;

use crate::error::StoreError;
use crate::layout::LOCK_FILE;

/// Take the directory's exclusive lock (held as long as the returned file is open).
pub fn lock_directory(dir: &Path) -> Result<File, StoreError> {
    fs::create_dir_all(dir)?;
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    match file.try_lock_exclusive() {
        Ok(()) => Ok(file),
        Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
            Err(StoreError::Locked { path })
        }
        Err(e) => Err(e.into()),
    }
}

/// Remove sled's half-written snapshot files (`snap.<lsn>.generating`) from `sled_dir`.
///
/// Why: while opening, sled 0.34.7 writes its new snapshot to `snap.<lsn>.generating`
/// and renames it to `snap.<lsn>` only when it is complete. A kill between the two
/// leaves the `.generating` file behind, and the next open may load it and fail with
/// `Corruption` forever (sled issues 1387, 1527, 1533). The previous complete
/// snapshot is deleted only after the rename, so it is still there and sled falls
/// back to it (plus the log). Must run only while holding the directory lock, so a
/// live process's snapshot in progress is never removed. Returns how many were removed.
pub fn remove_half_written_snapshots(sled_dir: &Path) -> Result<usize, StoreError> {
    let entries = match fs::read_dir(sled_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %name, "removing half-written sled snapshot before open");
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
