//! The runner: loads a projection's snapshot, catches up on the log's
//! tail, then follows the store's subscription, publishing its position on
//! a `watch` channel (read-your-writes) and snapshotting periodically and on
//! shutdown. Also [`rebuild`], which replays everything from zero.

use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use opsledger_domain::DomainEvent;
use opsledger_storage::codec::decode_payload;
use opsledger_storage::{CodecError, EventStore, RecordedEvent, StoreError};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::ProjectionError;
use crate::projection::{Checkpointed, Projection};
use crate::snapshot::SnapshotStore;

/// How often the runner snapshots and how much it reads at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerConfig {
    /// Snapshot after this many new events.
    pub snapshot_every_events: u64,
    /// Snapshot after this much time with new events.
    pub snapshot_every: Duration,
    /// Events read per `read_all` call while catching up.
    pub read_batch: usize,
    /// Live events applied under one write lock at most.
    pub live_batch: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            snapshot_every_events: 100_000,
            snapshot_every: Duration::from_secs(30),
            read_batch: 4096,
            live_batch: 1024,
        }
    }
}

/// The models shared between the runner (the only writer) and queries.
pub type SharedModels<P> = Arc<RwLock<Checkpointed<P>>>;

/// A cloneable handle for queries: read the models, wait for a position.
pub struct ProjectionHandle<P> {
    models: SharedModels<P>,
    position: watch::Receiver<Option<u64>>,
}

impl<P> Clone for ProjectionHandle<P> {
    fn clone(&self) -> Self {
        ProjectionHandle {
            models: Arc::clone(&self.models),
            position: self.position.clone(),
        }
    }
}

impl<P: Projection> ProjectionHandle<P> {
    /// Runs `f` on the current models under a read lock (never held across `.await`).
    pub fn read<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        f(&read_lock(&self.models).model)
    }

    /// Runs `f` on the models with their checkpoint.
    pub fn read_checkpointed<R>(&self, f: impl FnOnce(&Checkpointed<P>) -> R) -> R {
        f(&read_lock(&self.models))
    }

    /// The position of the last event in the read models.
    pub fn position(&self) -> Option<u64> {
        *self.position.borrow()
    }

    /// A receiver that changes whenever the read models move (for live subscriptions).
    pub fn position_receiver(&self) -> watch::Receiver<Option<u64>> {
        self.position.clone()
    }

    /// Waits until the read models include `position` (read-your-writes).
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> Result<(), ProjectionError> {
        let mut rx = self.position.clone();
        let reached = |p: &Option<u64>| p.is_some_and(|p| p >= position);
        let waited =
            tokio::time::timeout(timeout, async { rx.wait_for(reached).await.map(|_| ()) }).await;
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                if reached(&self.position.borrow()) {
                    Ok(())
                } else {
                    Err(ProjectionError::Stopped)
                }
            }
            Err(_) => Err(ProjectionError::Timeout {
                wanted: position,
                reached: *self.position.borrow(),
            }),
        }
    }
}

fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_models<P: Projection>(models: &RwLock<Checkpointed<P>>, events: &[RecordedEvent]) {
    let mut guard = models
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for event in events {
        guard.apply_recorded(event);
    }
}

/// Keeps track of when to snapshot and writes snapshots.
struct Snapshotter {
    store: SnapshotStore,
    every_events: u64,
    every: Duration,
    saved_at: Option<u64>,
    since_events: u64,
    since: Instant,
}

impl Snapshotter {
    fn note(&mut self, events: usize) {
        self.since_events += events as u64;
    }

    fn due(&self) -> bool {
        self.since_events > 0
            && (self.since_events >= self.every_events || self.since.elapsed() >= self.every)
    }

    /// Snapshots the models if they moved since the last snapshot.
    fn save<P: Projection>(
        &mut self,
        models: &SharedModels<P>,
        last_hash: [u8; 32],
    ) -> Result<(), ProjectionError> {
        let checkpoint = {
            // Written part by part under the read lock (queries go on; the
            // runner is the only writer), never the whole encoding at once.
            let guard = read_lock(models);
            if guard.checkpoint == self.saved_at {
                return Ok(());
            }
            self.store.save(&*guard, last_hash)?;
            guard.checkpoint
        };
        self.saved_at = checkpoint;
        self.since_events = 0;
        self.since = Instant::now();
        tracing::debug!(projection = P::NAME, ?checkpoint, "snapshot written");
        Ok(())
    }
}

/// Feeds one projection from the log until shut down.
pub struct ProjectionRunner<P: Projection> {
    handle: ProjectionHandle<P>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ProjectionError>>>,
}

impl<P: Projection> ProjectionRunner<P> {
    /// Loads the snapshot from `snapshot_dir` (ignoring a bad one), catches up
    /// on the log's tail, then follows the store live in a background task.
    pub async fn start(
        store: Arc<dyn EventStore>,
        snapshot_dir: impl AsRef<Path>,
        config: RunnerConfig,
    ) -> Result<Self, ProjectionError> {
        let snapshots = SnapshotStore::open(snapshot_dir)?;
        let (state, mut last_hash) = load_verified::<P>(&snapshots, store.as_ref()).await?;
        let saved_at = state.checkpoint;
        let models: SharedModels<P> = Arc::new(RwLock::new(state));
        let mut snapshotter = Snapshotter {
            store: snapshots,
            every_events: config.snapshot_every_events,
            every: config.snapshot_every,
            saved_at,
            since_events: 0,
            since: Instant::now(),
        };
        let caught_up = catch_up(&store, &models, config.read_batch, |batch, _| {
            snapshotter.note(batch.len());
        })
        .await?;
        if let Some(hash) = caught_up {
            last_hash = hash;
        }
        snapshotter.save(&models, last_hash)?;
        let position = read_lock(&models).checkpoint;
        let (tx, rx) = watch::channel(position);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(follow(
            store,
            Arc::clone(&models),
            tx,
            stop_rx,
            snapshotter,
            last_hash,
            config.live_batch,
        ));
        Ok(ProjectionRunner {
            handle: ProjectionHandle {
                models,
                position: rx,
            },
            shutdown: Some(stop_tx),
            task: Some(task),
        })
    }

    /// A cloneable handle for queries and read-your-writes waits.
    pub fn handle(&self) -> ProjectionHandle<P> {
        self.handle.clone()
    }

    /// Stops following the log and writes a final snapshot.
    pub async fn shutdown(mut self) -> Result<(), ProjectionError> {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|_| ProjectionError::Stopped)?,
            None => Ok(()),
        }
    }
}

impl<P: Projection> Drop for ProjectionRunner<P> {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

/// The snapshot if it belongs to this log (its checkpoint's event has the
/// recorded hash), else an empty state.
async fn load_verified<P: Projection>(
    snapshots: &SnapshotStore,
    store: &dyn EventStore,
) -> Result<(Checkpointed<P>, [u8; 32]), ProjectionError> {
    let Some(loaded) = snapshots.load::<P>()? else {
        return Ok((Checkpointed::default(), [0; 32]));
    };
    let Some(checkpoint) = loaded.state.checkpoint else {
        return Ok((loaded.state, [0; 32]));
    };
    let at = store.read_all(checkpoint, 1).await?;
    match at.first() {
        Some(e) if e.position == checkpoint && e.hash == loaded.checkpoint_hash => {
            Ok((loaded.state, loaded.checkpoint_hash))
        }
        _ => {
            tracing::warn!(
                projection = P::NAME,
                checkpoint,
                "snapshot does not match the log: rebuilding from zero"
            );
            Ok((Checkpointed::default(), [0; 32]))
        }
    }
}

/// Reads one page of the log in a task of its own (so the next page loads
/// while the current one is applied).
fn prefetch(store: &Arc<dyn EventStore>, from: u64, batch: usize) -> JoinHandle<Prefetched> {
    let store = Arc::clone(store);
    tokio::spawn(async move {
        let events = store.read_all(from, batch).await?;
        let decoded = events
            .iter()
            .map(|e| decode_payload::<DomainEvent>(&e.payload))
            .collect();
        Ok((events, decoded))
    })
}

/// A page of the log with its payloads decoded.
type DecodedPage = (Vec<RecordedEvent>, Vec<Result<DomainEvent, CodecError>>);
/// A page read by a prefetch task.
type Prefetched = Result<DecodedPage, StoreError>;

/// Pages of the log read (and decoded) ahead of the one being applied.
const PAGES_AHEAD: u64 = 2;

/// Consecutive pages of the log being read ahead, each in a task of its own.
struct ReadAhead<'a> {
    store: &'a Arc<dyn EventStore>,
    batch: usize,
    /// First position of the next page to request.
    next_from: u64,
    pages: std::collections::VecDeque<(u64, JoinHandle<Prefetched>)>,
}

impl<'a> ReadAhead<'a> {
    fn new(store: &'a Arc<dyn EventStore>, from: u64, batch: usize) -> Self {
        let mut ahead = ReadAhead {
            store,
            batch,
            next_from: from,
            pages: std::collections::VecDeque::new(),
        };
        ahead.fill();
        ahead
    }

    fn fill(&mut self) {
        while (self.pages.len() as u64) < PAGES_AHEAD {
            let from = self.next_from;
            self.pages
                .push_back((from, prefetch(self.store, from, self.batch)));
            self.next_from = from + self.batch as u64;
        }
    }

    /// Waits for the pages in flight and drops them. They are not aborted: a
    /// page's blocking read cannot be stopped and holds the store (and its
    /// directory lock) until it ends, so a caller that closes the store after
    /// catching up would otherwise race with it and could not reopen the
    /// directory. The pages read at or past the end of the log, so they are quick.
    async fn discard(&mut self) {
        for (_, page) in self.pages.drain(..) {
            let _ = page.await;
        }
    }

    /// The next page in log order; empty once the log's end is reached.
    async fn next(&mut self) -> Result<DecodedPage, ProjectionError> {
        let Some((from, page)) = self.pages.pop_front() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let (events, decoded) = page.await.map_err(|_| ProjectionError::Stopped)??;
        if events.len() == self.batch {
            self.fill();
        } else {
            // A short page is the end of the log for now: pages requested
            // after it may have raced with new appends, so read on after it.
            self.discard().await;
            if let Some(last) = events.last() {
                self.next_from = last.position + 1;
                self.fill();
            }
        }
        debug_assert!(events.first().is_none_or(|e| e.position == from));
        Ok((events, decoded))
    }
}

/// Applies every committed event after the models' checkpoint, reading the
/// next pages while applying the current one; `on_batch` gets each batch and
/// the time its application took. Returns the hash of the last event applied.
pub async fn catch_up<P: Projection>(
    store: &Arc<dyn EventStore>,
    models: &RwLock<Checkpointed<P>>,
    batch: usize,
    mut on_batch: impl FnMut(&[RecordedEvent], Duration),
) -> Result<Option<[u8; 32]>, ProjectionError> {
    let batch = batch.max(1);
    let mut last_hash = None;
    let mut ahead = ReadAhead::new(store, read_lock(models).next_position(), batch);
    loop {
        let (events, decoded) = ahead.next().await?;
        let Some(last) = events.last() else {
            return Ok(last_hash);
        };
        last_hash = Some(last.hash);
        let applying = Instant::now();
        {
            let mut guard = models.write().unwrap_or_else(|p| p.into_inner());
            for (event, decoded) in events.iter().zip(&decoded) {
                guard.apply_decode_result(event, decoded);
            }
        }
        on_batch(&events, applying.elapsed());
    }
}

/// The live loop: subscribe after the checkpoint, apply, publish, snapshot.
async fn follow<P: Projection>(
    store: Arc<dyn EventStore>,
    models: SharedModels<P>,
    position: watch::Sender<Option<u64>>,
    mut stop: oneshot::Receiver<()>,
    mut snapshotter: Snapshotter,
    mut last_hash: [u8; 32],
    live_batch: usize,
) -> Result<(), ProjectionError> {
    let from = read_lock(&models).next_position();
    let mut events = store.subscribe(from).ready_chunks(live_batch.max(1));
    let mut tick = tokio::time::interval(snapshotter.every.max(Duration::from_millis(10)));
    let outcome = loop {
        tokio::select! {
            _ = &mut stop => break Ok(()),
            _ = tick.tick() => {
                if snapshotter.due() {
                    snapshotter.save(&models, last_hash)?;
                }
            }
            chunk = events.next() => {
                let Some(chunk) = chunk else { break Ok(()) };
                let mut ok = Vec::with_capacity(chunk.len());
                let mut failure = None;
                for item in chunk {
                    match item {
                        Ok(e) => ok.push(e),
                        Err(e) => { failure = Some(e); break; }
                    }
                }
                if let Some(last) = ok.last() {
                    last_hash = last.hash;
                    write_models(&models, &ok);
                    snapshotter.note(ok.len());
                    let at = read_lock(&models).checkpoint;
                    position.send_replace(at);
                }
                if let Some(e) = failure {
                    tracing::warn!(projection = P::NAME, error = %e, "subscription ended with an error");
                    break Err(ProjectionError::Store(e));
                }
                if snapshotter.due() {
                    snapshotter.save(&models, last_hash)?;
                }
            }
        }
    };
    snapshotter.save(&models, last_hash)?;
    snapshotter.store.flush()?;
    outcome
}

/// What a [`rebuild`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events replayed.
    pub events: u64,
    /// Position of the last event replayed.
    pub checkpoint: Option<u64>,
    /// Events skipped because they did not decode or apply.
    pub skipped_events: u64,
}

/// Drops `P`'s snapshot, replays the whole log into a fresh state and
/// snapshots it. `progress(done, total)` is called after every batch.
/// Must not run while a runner holds `snapshot_dir`.
pub async fn rebuild<P: Projection>(
    store: &Arc<dyn EventStore>,
    snapshot_dir: impl AsRef<Path>,
    read_batch: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<(Checkpointed<P>, RebuildReport), ProjectionError> {
    let snapshots = SnapshotStore::open(snapshot_dir)?;
    snapshots.clear::<P>()?;
    let total = store.head_position().map_or(0, |h| h + 1);
    let models = RwLock::new(Checkpointed::<P>::default());
    let mut done = 0u64;
    let last_hash = catch_up(store, &models, read_batch, |batch, _| {
        done += batch.len() as u64;
        progress(done, total);
    })
    .await?;
    let state = models.into_inner().unwrap_or_else(|p| p.into_inner());
    snapshots.save(&state, last_hash.unwrap_or([0; 32]))?;
    let report = RebuildReport {
        events: done,
        checkpoint: state.checkpoint,
        skipped_events: state.skipped_events,
    };
    Ok((state, report))
}
