//! The embedded default backend: one sled tree on a data directory.
//!
//! Layout of the directory: `LOCK` (exclusive lock, held while open) and `sled/`
//! (sled's files; keys in [`crate::layout`]). Writes go through one writer thread
//! (see `writer`); reads run on tokio's blocking pool and see only committed
//! (durable) events.

mod blobs;
mod chunk_walk;
mod digest;
mod dir;
mod index;
mod migrate;
mod release;
mod segments;
mod stats;
mod subscription;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, oneshot};

pub use dir::remove_half_written_snapshots;
pub use stats::WriterStats;

use crate::chain::{check_record, GENESIS_HASH};
use crate::codec::{self, HASH_LEN};
use crate::error::StoreError;
use crate::event::{AppendOutcome, AppendRequest, Direction, RecordedEvent, VerifyReport};
use crate::layout;
use crate::store::{EventStore, EventSubscription};
use stats::StatsCounters;
use writer::{Writer, WriterMsg};

/// Options of [`SledEventStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// sled's page cache bound in bytes (sled's own default is 1 GiB).
    pub cache_bytes: u64,
    /// fdatasync sled's data file after every group's flush (turn off only to measure its cost).
    pub fsync_data_file: bool,
    /// Committed groups buffered for live subscribers before a slow one lags (and re-reads disk).
    pub broadcast_groups: usize,
    /// Appends that may wait for the writer before `append` itself waits.
    pub queue_depth: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_bytes: 64 * 1024 * 1024,
            fsync_data_file: true,
            broadcast_groups: 1024,
            queue_depth: 8192,
        }
    }
}

/// The stop reason after a graceful [`EventStore::flush_and_stop`].
pub(crate) const GRACEFUL_STOP: &str = "the store was stopped";

/// What the store's handle, its writer and its subscriptions share.
pub(crate) struct Shared {
    /// sled's default tree: the one tree with key prefixes.
    tree: sled::Db,
    /// Positions below this are durable and visible to readers.
    committed: AtomicU64,
    /// Why writes stopped, once they have.
    stopped: Mutex<Option<String>>,
    stats: StatsCounters,
    /// The stream and command indexes, built from sled on first use.
    index: index::LazyIndex,
    #[cfg(test)]
    fail_writes: std::sync::atomic::AtomicBool,
    /// Test-only: appends past the size bounds are written (to make sled write a blob).
    #[cfg(test)]
    lift_record_cap: std::sync::atomic::AtomicBool,
    /// Dropped after sled: the directory stays locked while sled is open.
    _lock: File,
    /// Dropped after the lock: marks a stopped store's directory as still held until then.
    release: release::ReleaseMark,
}

impl Shared {
    fn stop_reason(&self) -> Option<String> {
        self.stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_stopped(&self, reason: &str) {
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        if stopped.is_none() {
            *stopped = Some(reason.to_owned());
        }
    }

    /// Read access to the index (built on first use).
    fn index_read(&self) -> Result<std::sync::RwLockReadGuard<'_, index::StoreIndex>, StoreError> {
        self.index.read(&self.tree, &self.committed)
    }

    /// Write access to the index (built on first use).
    fn index_write(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, index::StoreIndex>, StoreError> {
        self.index.write(&self.tree, &self.committed)
    }

    fn writes_stopped(&self) -> StoreError {
        StoreError::WritesStopped {
            reason: self.stop_reason().unwrap_or_else(|| GRACEFUL_STOP.into()),
        }
    }

    /// Whether writes stopped because of [`EventStore::flush_and_stop`] (not a failure).
    fn stopped_gracefully(&self) -> bool {
        self.stop_reason().as_deref() == Some(GRACEFUL_STOP)
    }

    #[cfg(test)]
    fn fault_check(&self) -> std::io::Result<()> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("injected fdatasync failure"));
        }
        Ok(())
    }

    #[cfg(not(test))]
    fn fault_check(&self) -> std::io::Result<()> {
        Ok(())
    }

    #[cfg(test)]
    fn record_cap_lifted(&self) -> bool {
        self.lift_record_cap.load(Ordering::SeqCst)
    }

    #[cfg(not(test))]
    fn record_cap_lifted(&self) -> bool {
        false
    }
}

/// The sled-backed [`EventStore`]: the embedded default.
pub struct SledEventStore {
    shared: Arc<Shared>,
    writer_tx: mpsc::Sender<WriterMsg>,
    /// Taken on stop, so live subscriptions end when the writer is gone.
    events_tx: Mutex<Option<broadcast::Sender<Arc<[RecordedEvent]>>>>,
    dir: PathBuf,
}

impl SledEventStore {
    /// Open (or create) the store in `dir`, which it owns entirely.
    ///
    /// Takes the directory's exclusive lock ([`StoreError::Locked`] if another
    /// process or a running store of this one has it; a store of this process
    /// that was stopped with `flush_and_stop` and is still going away is waited
    /// for, up to 5 s), removes half-written sled snapshots, opens sled with a
    /// bounded cache and restores the log's head and chain tail from disk.
    pub async fn open(dir: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let opened = {
            let dir = dir.clone();
            let config = config.clone();
            tokio::task::spawn_blocking(move || open_blocking(&dir, &config)).await
        };
        let (shared, data_file, tail) = opened.map_err(|e| join_error(&e))??;
        let blobs = blobs::BlobSync::new(&dir.join(layout::SLED_DIR));
        let (writer_tx, writer_rx) = mpsc::channel(config.queue_depth.max(1));
        let (events_tx, _) = broadcast::channel(config.broadcast_groups.max(1));
        let writer = Writer::new(
            shared.clone(),
            events_tx.clone(),
            data_file,
            config.fsync_data_file,
            blobs,
            tail,
        );
        std::thread::Builder::new()
            .name("opsledger-writer".into())
            .spawn(move || writer.run(writer_rx))?;
        Ok(SledEventStore {
            shared,
            writer_tx,
            events_tx: Mutex::new(Some(events_tx)),
            dir,
        })
    }

    /// The directory this store owns.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Build the in-memory stream and command index now if it is not built yet (it is
    /// otherwise built by the first append, stream read or command look-up after an
    /// open: a server calls this right after opening, so its first mutation does not wait).
    pub async fn warm_index(&self) -> Result<(), StoreError> {
        let shared = self.shared.clone();
        blocking(move || shared.index_read().map(|_| ())).await
    }

    /// The writer's group-commit counters so far.
    pub fn writer_stats(&self) -> WriterStats {
        self.shared.stats.snapshot()
    }

    #[cfg(test)]
    fn inject_write_failures(&self) {
        self.shared.fail_writes.store(true, Ordering::SeqCst);
    }

    #[cfg(test)]
    fn lift_record_cap(&self) {
        self.shared.lift_record_cap.store(true, Ordering::SeqCst);
    }
}

/// The log's tail: the next position and the last record's hash.
type Tail = (u64, [u8; HASH_LEN]);

/// Lock, repair, open sled, and read the tail of the log.
fn open_blocking(
    dir: &Path,
    config: &StoreConfig,
) -> Result<(Arc<Shared>, File, Tail), StoreError> {
    let lock = match dir::lock_directory(dir) {
        Err(StoreError::Locked { .. }) => {
            // Perhaps a store of this process that was just stopped and is going away.
            release::wait_while_stopped_store_holds(dir, release::RELEASE_WAIT);
            dir::lock_directory(dir)?
        }
        other => other?,
    };
    let sled_dir = dir.join(layout::SLED_DIR);
    dir::remove_half_written_snapshots(&sled_dir)?;
    let tree = sled::Config::new()
        .path(&sled_dir)
        .cache_capacity(config.cache_bytes)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(None)
        .open()?;
    check_layout(&tree, &sled_dir)?;
    let data_file = File::open(sled_dir.join(layout::SLED_DATA_FILE))?;
    let tail = read_tail(&tree)?;
    let shared = Arc::new(Shared {
        tree,
        committed: AtomicU64::new(tail.0),
        stopped: Mutex::new(None),
        stats: StatsCounters::default(),
        index: index::LazyIndex::default(),
        #[cfg(test)]
        fail_writes: std::sync::atomic::AtomicBool::new(false),
        #[cfg(test)]
        lift_record_cap: std::sync::atomic::AtomicBool::new(false),
        _lock: lock,
        release: release::ReleaseMark::default(),
    });
    Ok((shared, data_file, tail))
}

/// Migrate a layout 2 store, refuse one in another key layout; mark a new one with this build's.
fn check_layout(tree: &sled::Db, sled_dir: &Path) -> Result<(), StoreError> {
    let incompatible = |found: u8| StoreError::IncompatibleLayout {
        path: sled_dir.to_path_buf(),
        found,
        expected: layout::LAYOUT_VERSION,
    };
    match tree.get(layout::LAYOUT_KEY)?.as_deref() {
        Some([version]) if *version == layout::LAYOUT_VERSION => Ok(()),
        Some([version]) if *version == layout::LAYOUT_2 => migrate::from_layout_2(tree),
        Some([version]) => Err(incompatible(*version)),
        Some(_) => Err(incompatible(0)),
        None if tree
            .scan_prefix(layout::LAYOUT_1_RECORD_PREFIX)
            .next()
            .is_some() =>
        {
            Err(incompatible(1))
        }
        None => {
            tree.insert(layout::LAYOUT_KEY, &[layout::LAYOUT_VERSION])?;
            tree.flush()?;
            Ok(())
        }
    }
}

/// Next position and last hash, from the last record on disk.
fn read_tail(tree: &sled::Db) -> Result<Tail, StoreError> {
    let Some(segment) = segments::last_segment(tree)? else {
        return Ok((0, GENESIS_HASH));
    };
    let position = segment.end() - 1;
    let record = segment.record(position)?;
    let parts = codec::split_record(record).map_err(|e| StoreError::Corrupt {
        position,
        reason: e.to_string(),
    })?;
    Ok((position + 1, parts.hash))
}

fn join_error(e: &tokio::task::JoinError) -> StoreError {
    StoreError::Io(Arc::new(std::io::Error::other(format!(
        "blocking task failed: {e}"
    ))))
}

/// Run a blocking sled read on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| join_error(&e))?
}

/// Up to `max` committed events from `from` (on the blocking pool).
pub(crate) async fn read_all_blocking(
    shared: Arc<Shared>,
    from: u64,
    max: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    blocking(move || read_all_sync(&shared, from, max)).await
}

/// Pages at least this long are decoded on two threads (decoding is most of a replay's work).
const PARALLEL_DECODE_MIN_EVENTS: u64 = 2048;

fn read_all_sync(shared: &Shared, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
    let committed = shared.committed.load(Ordering::Acquire);
    let end = committed.min(from.saturating_add(max as u64));
    if from >= end {
        return Ok(Vec::new());
    }
    let segments = segments::covering(&shared.tree, from, end)?;
    if end - from < PARALLEL_DECODE_MIN_EVENTS || segments.len() < 2 {
        return segments::decode_range(&segments, from, end);
    }
    let (front, back) = segments.split_at(segments.len() / 2);
    // The front half goes straight into a vector sized for the whole page.
    let mut events = Vec::with_capacity(segments::events_in(&segments, from, end));
    let (decoded, rest) = std::thread::scope(|scope| {
        let back = scope.spawn(|| segments::decode_range(back, from, end));
        let front = segments::decode_into(&mut events, front, from, end);
        (front, back.join())
    });
    // The front half's error (an earlier position) is the one to report.
    decoded?;
    events.extend(rest.map_err(|_| StoreError::Corrupt {
        position: from,
        reason: "decoding thread panicked".into(),
    })??);
    Ok(events)
}

fn read_stream_sync(
    shared: &Shared,
    stream_id: &str,
    from_version: u64,
    direction: Direction,
    max: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let positions = shared
        .index_read()?
        .stream_positions(stream_id, from_version, direction, max);
    let mut events = Vec::with_capacity(positions.len());
    let mut segment: Option<segments::StoredSegment> = None;
    for (version, position) in positions {
        // Consecutive versions of a stream often share a segment: look it up once.
        let cached = match segment.take() {
            Some(s) if s.holds(position) => s,
            _ => segments::segment_holding(&shared.tree, position)?.ok_or_else(|| {
                StoreError::Corrupt {
                    position,
                    reason: "indexed record missing".into(),
                }
            })?,
        };
        let event = segments::decode_at(position, cached.record(position)?)?;
        if event.stream_id != stream_id || event.stream_version != version {
            return Err(StoreError::Corrupt {
                position,
                reason: format!(
                    "the index places version {version} of {stream_id} here, the record is version {} of {}",
                    event.stream_version, event.stream_id
                ),
            });
        }
        events.push(event);
        segment = Some(cached);
    }
    Ok(events)
}

/// Walk the records and the index chunks, then check sled's blob files (normally none).
fn verify_sync(shared: &Shared, sled_dir: &Path) -> Result<VerifyReport, StoreError> {
    let report = verify_records(shared)?;
    if report.first_bad_position.is_some() {
        return Ok(report);
    }
    match blobs::check_all(sled_dir)? {
        // Which stored value the blob held is unknown: nothing can be vouched for.
        Some(reason) => Ok(VerifyReport {
            events_verified: 0,
            first_bad_position: Some(0),
            reason: Some(reason),
        }),
        None => Ok(report),
    }
}

/// Walk the whole log's records and index chunks from position 0. A read sled fails or
/// panics on (a value in a lost blob file) is reported at the position it stopped.
fn verify_records(shared: &Shared) -> Result<VerifyReport, StoreError> {
    let committed = shared.committed.load(Ordering::Acquire);
    let mut prev_hash = GENESIS_HASH;
    let mut verified = 0u64;
    let mut index_walk = chunk_walk::ChunkWalk::new(&shared.tree);
    let bad = |position: u64, reason: String| {
        Ok(VerifyReport {
            events_verified: position,
            first_bad_position: Some(position),
            reason: Some(reason),
        })
    };
    let walked =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            segments::for_each_record(&shared.tree, 0, committed, |position, bytes| {
                match check_record(bytes, position, &prev_hash) {
                    Ok(event) => {
                        index_walk
                            .check(&event)
                            .map_err(|reason| StoreError::Corrupt {
                                position,
                                reason: format!("index chunk: {reason}"),
                            })?;
                        prev_hash = event.hash;
                        verified += 1;
                        Ok(())
                    }
                    Err(reason) => Err(StoreError::Corrupt { position, reason }),
                }
            })
        }));
    match walked {
        Ok(Ok(())) => {}
        Ok(Err(StoreError::Corrupt { position, reason })) => return bad(position, reason),
        Ok(Err(StoreError::Backend(e))) => {
            return bad(verified, format!("sled could not read the record: {e}"))
        }
        Ok(Err(other)) => return Err(other),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            return bad(
                verified,
                format!("sled panicked reading the record: {what}"),
            );
        }
    }
    Ok(VerifyReport {
        events_verified: verified,
        first_bad_position: None,
        reason: None,
    })
}

#[async_trait]
impl EventStore for SledEventStore {
    async fn append(&self, req: AppendRequest) -> Result<AppendOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer_tx
            .send(WriterMsg::Append(req, reply))
            .await
            .map_err(|_| self.shared.writes_stopped())?;
        answer.await.map_err(|_| self.shared.writes_stopped())?
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let shared = self.shared.clone();
        let stream_id = stream_id.to_owned();
        blocking(move || read_stream_sync(&shared, &stream_id, from_version, direction, max)).await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_all_blocking(self.shared.clone(), from_position, max).await
    }

    fn subscribe(&self, from_position: u64) -> EventSubscription {
        let live = self
            .events_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|tx| tx.subscribe());
        subscription::subscribe(self.shared.clone(), live, from_position)
    }

    fn head_position(&self) -> Option<u64> {
        self.shared.committed.load(Ordering::Acquire).checked_sub(1)
    }

    async fn command_outcome(&self, command_id: &str) -> Result<Option<AppendOutcome>, StoreError> {
        let shared = self.shared.clone();
        let command_id = command_id.to_owned();
        // The index holds committed (durable) appends only, like the events themselves.
        blocking(move || {
            let record = shared
                .index_read()?
                .find_command(&shared.tree, &command_id)?;
            Ok(record.map(|known| known.record.outcome()))
        })
        .await
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let shared = self.shared.clone();
        let sled_dir = self.dir.join(layout::SLED_DIR);
        blocking(move || verify_sync(&shared, &sled_dir)).await
    }

    async fn flush_and_stop(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let answered = match self.writer_tx.send(WriterMsg::Stop(reply)).await {
            Ok(()) => answer.await.ok(),
            Err(_) => None,
        };
        // No answer: the writer had already ended, after a stop or a failure.
        let result = answered.unwrap_or_else(|| {
            if self.shared.stopped_gracefully() {
                Ok(())
            } else {
                Err(self.shared.writes_stopped())
            }
        });
        self.events_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let shared = self.shared.clone();
        blocking(move || Ok(shared.tree.flush().map(|_| ())?)).await?;
        if self.shared.stopped_gracefully() {
            self.shared.release.stopped(&self.dir);
        }
        result
    }
}

#[cfg(test)]
mod tests;
