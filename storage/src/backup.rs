//! Copying a log into a fresh store: the shared core of import, backup and restore.
//!
//! Records are re-appended in order, one append at a time per original command (consecutive records
//! with the same command id), with exact expected versions. The store recomputes every
//! hash; since positions, envelopes and payloads are identical, so are the hashes, and the
//! copy is checked against the source's last hash. The copy is built in a temporary
//! sibling directory and renamed into place only when complete, so a failed copy leaves
//! nothing behind.

use std::path::{Path, PathBuf};

use crate::chain::GENESIS_HASH;
use crate::codec::HASH_LEN;
use crate::error::StoreError;
use crate::event::{AppendRequest, ExpectedVersion, NewEvent, RecordedEvent};
use crate::sled_store::{SledEventStore, StoreConfig};
use crate::store::EventStore;

/// Name of the manifest a backup writes next to its `log/` directory.
pub const MANIFEST_FILE: &str = "BACKUP";
/// Sub-directory of a backup (and of a data directory) holding the log.
pub const LOG_DIR: &str = "log";
/// Records read from a source store per page.
const PAGE: usize = 8192;

/// Why an import, backup or restore failed (nothing was written to the target).
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The target already holds data.
    #[error("target {0} is not empty (import, backup and restore only write into an empty place)")]
    TargetNotEmpty(PathBuf),
    /// A line of an export file is malformed or does not chain.
    #[error("line {line}{}: {reason}", position.map(|p| format!(" (position {p})")).unwrap_or_default())]
    BadLine {
        /// 1-based line number.
        line: u64,
        /// The position the line claims, if it could be read.
        position: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// The copy does not match its source (a bug or a concurrent modification).
    #[error("copy mismatch at position {position}: {reason}")]
    Mismatch {
        /// Where.
        position: u64,
        /// What.
        reason: String,
    },
    /// The source or target store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("i/o error on {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl TransferError {
    /// An i/o error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TransferError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What a copy wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyReport {
    /// Events copied.
    pub events: u64,
    /// Position of the last event copied (`None` for an empty log).
    pub last_position: Option<u64>,
    /// Hash of the last event copied (the genesis hash for an empty log).
    pub last_hash: [u8; HASH_LEN],
}

/// Fail unless `dir` is absent or an empty directory.
pub fn ensure_empty(dir: &Path) -> Result<(), TransferError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(TransferError::TargetNotEmpty(dir.to_path_buf())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TransferError::io(dir, e)),
    }
}

/// A store being built in a temporary sibling of its final directory.
pub struct StagedLog {
    store: SledEventStore,
    staging: PathBuf,
    target: PathBuf,
    events: u64,
    last: Option<(u64, [u8; HASH_LEN])>,
    /// The last command's records, held back until its end is certain.
    pending: Vec<RecordedEvent>,
}

impl StagedLog {
    /// Start a copy that will end up in `target` (which must be absent or empty).
    pub async fn create(target: &Path) -> Result<Self, TransferError> {
        ensure_empty(target)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "log".into());
        let staging = target.with_file_name(format!(".{name}.staging-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| TransferError::io(&staging, e))?;
        }
        // No fdatasync per append: the whole copy is synced once in `finish`, before the
        // rename makes it visible.
        let config = StoreConfig {
            fsync_data_file: false,
            ..StoreConfig::default()
        };
        let store = SledEventStore::open(&staging, config).await?;
        Ok(StagedLog {
            store,
            staging,
            target: target.to_path_buf(),
            events: 0,
            last: None,
            pending: Vec::new(),
        })
    }

    /// Append `records` (in log order, continuing the copy), one append per original command.
    /// The last command's records are held back until the next call (or [`Self::finish`]),
    /// so a command split across two calls is still appended whole.
    pub async fn append_records(
        &mut self,
        records: Vec<RecordedEvent>,
    ) -> Result<(), TransferError> {
        let mut groups: Vec<Vec<RecordedEvent>> = Vec::new();
        if !self.pending.is_empty() {
            groups.push(std::mem::take(&mut self.pending));
        }
        for record in records {
            match groups.last_mut() {
                Some(group)
                    if group[0].command_id == record.command_id
                        && group[0].stream_id == record.stream_id =>
                {
                    group.push(record)
                }
                _ => groups.push(vec![record]),
            }
        }
        self.pending = groups.pop().unwrap_or_default();
        self.append_groups(groups).await
    }

    async fn append_groups(
        &mut self,
        groups: Vec<Vec<RecordedEvent>>,
    ) -> Result<(), TransferError> {
        // One at a time: positions must come out in the source's order.
        for group in groups {
            let first = group[0].position;
            let last = group[group.len() - 1].position;
            let hash = group[group.len() - 1].hash;
            let n = group.len() as u64;
            let outcome = self.store.append(request_of(group)).await?;
            if outcome.first_position != first {
                return Err(TransferError::Mismatch {
                    position: first,
                    reason: format!("landed at position {}", outcome.first_position),
                });
            }
            self.events += n;
            self.last = Some((last, hash));
        }
        Ok(())
    }

    /// Check the copy's last hash against the source's, stop the store and move it into place.
    pub async fn finish(mut self) -> Result<CopyReport, TransferError> {
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            self.append_groups(vec![pending]).await?;
        }
        let report = CopyReport {
            events: self.events,
            last_position: self.last.map(|(p, _)| p),
            last_hash: self.last.map_or(GENESIS_HASH, |(_, h)| h),
        };
        if let Some((position, hash)) = self.last {
            let copied = self.store.read_all(position, 1).await?;
            if copied.first().map(|r| r.hash) != Some(hash) {
                return Err(TransferError::Mismatch {
                    position,
                    reason: "the copy's hash differs from the source's".into(),
                });
            }
        }
        self.store.flush_and_stop().await?;
        drop(self.store);
        sync_tree(&self.staging)?;
        ensure_empty(&self.target)?;
        if self.target.exists() {
            std::fs::remove_dir(&self.target).map_err(|e| TransferError::io(&self.target, e))?;
        }
        std::fs::rename(&self.staging, &self.target)
            .map_err(|e| TransferError::io(&self.target, e))?;
        Ok(report)
    }

    /// Give up: remove the staging directory.
    pub async fn abandon(self) {
        let _ = self.store.flush_and_stop().await;
        drop(self.store);
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// fsync every file under `dir`, then the directories themselves.
fn sync_tree(dir: &Path) -> Result<(), TransferError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TransferError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| TransferError::io(dir, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            let file = std::fs::File::open(&path).map_err(|e| TransferError::io(&path, e))?;
            file.sync_all().map_err(|e| TransferError::io(&path, e))?;
        }
    }
    let handle = std::fs::File::open(dir).map_err(|e| TransferError::io(dir, e))?;
    handle.sync_all().map_err(|e| TransferError::io(dir, e))
}

/// The append that re-creates one original command's records.
fn request_of(group: Vec<RecordedEvent>) -> AppendRequest {
    let first = &group[0];
    AppendRequest {
        stream_id: first.stream_id.clone(),
        expected: match first.stream_version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v - 1),
        },
        command_id: first.command_id.clone(),
        actor: first.actor.clone(),
        correlation_id: first.correlation_id,
        causation_id: first.causation_id,
        recorded_at_ms: first.recorded_at_ms,
        events: group
            .into_iter()
            .map(|r| NewEvent {
                event_id: r.event_id,
                type_name: r.type_name,
                schema_version: r.schema_version,
                payload: r.payload,
            })
            .collect(),
    }
}

/// Copy `source` up to and including `upto` (its head when the copy starts, if `None`)
/// into a new store at `target`: a consistent copy as of one log position, even while
/// `source` keeps taking writes. `progress(done, total)` is called after each page.
pub async fn copy_log(
    source: &dyn EventStore,
    upto: Option<u64>,
    target: &Path,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<CopyReport, TransferError> {
    let Some(end) = upto.or_else(|| source.head_position()) else {
        return StagedLog::create(target).await?.finish().await;
    };
    let mut staged = StagedLog::create(target).await?;
    let result = copy_pages(source, end, &mut staged, progress).await;
    match result {
        Ok(()) => staged.finish().await,
        Err(e) => {
            staged.abandon().await;
            Err(e)
        }
    }
}

async fn copy_pages(
    source: &dyn EventStore,
    end: u64,
    staged: &mut StagedLog,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<(), TransferError> {
    let mut next = 0u64;
    while next <= end {
        let max = PAGE.min((end - next + 1) as usize);
        let mut page = source.read_all(next, max).await?;
        if page.is_empty() {
            return Err(TransferError::Mismatch {
                position: next,
                reason: "the source ended early".into(),
            });
        }
        page.retain(|r| r.position <= end);
        next += page.len() as u64;
        staged.append_records(page).await?;
        progress(next, end + 1);
    }
    Ok(())
}

/// Back up the store in `data_log` (a stopped store: it is opened here) into `out/log`,
/// with a manifest naming the position and hash it is consistent as of.
pub async fn backup_offline(
    data_log: &Path,
    out: &Path,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<CopyReport, TransferError> {
    ensure_empty(out)?;
    let source = SledEventStore::open(data_log, StoreConfig::default()).await?;
    let result = backup_from(&source, out, progress).await;
    source.flush_and_stop().await?;
    result
}

/// Back up a running store (online: reads only, consistent as of its head when called).
pub async fn backup_from(
    source: &dyn EventStore,
    out: &Path,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<CopyReport, TransferError> {
    ensure_empty(out)?;
    std::fs::create_dir_all(out).map_err(|e| TransferError::io(out, e))?;
    let report = copy_log(source, None, &out.join(LOG_DIR), progress).await?;
    let manifest = out.join(MANIFEST_FILE);
    let text = format!(
        "opsledger backup\nevents = {}\nlast_position = {}\nlast_hash = {}\n",
        report.events,
        report
            .last_position
            .map_or("none".into(), |p| p.to_string()),
        crate::hex::hex(&report.last_hash),
    );
    std::fs::write(&manifest, text).map_err(|e| TransferError::io(&manifest, e))?;
    Ok(report)
}

/// Restore the backup in `from` (its `log/`) into `data_log`, which must be absent or empty.
/// The backup's chain is verified first; the copy is verified against it.
pub async fn restore(
    from: &Path,
    data_log: &Path,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<CopyReport, TransferError> {
    ensure_empty(data_log)?;
    let backup_log = from.join(LOG_DIR);
    if !backup_log.join(crate::layout::SLED_DIR).exists() {
        return Err(TransferError::io(
            &backup_log,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no backup log here"),
        ));
    }
    let source = SledEventStore::open(&backup_log, StoreConfig::default()).await?;
    let verified = source.verify().await?;
    if let (Some(position), Some(reason)) = (verified.first_bad_position, verified.reason) {
        source.flush_and_stop().await?;
        return Err(TransferError::Mismatch { position, reason });
    }
    let result = copy_log(&source, None, data_log, progress).await;
    source.flush_and_stop().await?;
    result
}
