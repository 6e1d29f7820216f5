//! The projections benchmark behind `opsledger bench projections`: replay
//! speed into every read model, start-up time from a snapshot, peak RSS.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
use serde::Serialize;

use opsledger_projections::error::ProjectionError;
use opsledger_projections::models::ReadModels;
use opsledger_projections::projection::Checkpointed;
use opsledger_projections::runner::{catch_up, ProjectionRunner, RunnerConfig};
use opsledger_projections::snapshot::SnapshotStore;
use opsledger_synthetic::{write_concurrently, Generator};

/// Events in the default benchmark log.
pub const DEFAULT_BENCH_EVENTS: u64 = 1_000_000;
/// Services in the generated organisation.
const BENCH_SERVICES: u64 = 40;
/// Events read per `read_all` page while replaying.
const REPLAY_PAGE: usize = 8192;
/// sled cache of the log store while replaying: a replay reads every page
/// once, so a small cache is faster (less LRU work) and keeps RSS down.
pub const REPLAY_STORE_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// The benchmark's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProjectionBenchReport {
    /// Events per second of a full replay from the store into every read model
    /// (reading, decoding and applying).
    pub replay_projections_events_per_s: f64,
    /// Events per second of applying decoded events alone (reads and decoding,
    /// done on another task in parallel, excluded).
    pub apply_only_events_per_s: f64,
    /// Time for a runner to start from a snapshot of the whole log, ms.
    pub startup_with_snapshot_ms: f64,
    /// Encoded snapshot size, MB.
    pub snapshot_mb: f64,
    /// Peak resident memory (VmHWM) of the replay with its snapshot write, or of the
    /// start-up from the snapshot, whichever is larger, MB.
    pub peak_rss_mb: f64,
    /// Events in the log.
    pub events: u64,
}

impl std::fmt::Display for ProjectionBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "events in the log:              {}", self.events)?;
        writeln!(
            f,
            "replay into projections:        {:.0} events/s",
            self.replay_projections_events_per_s
        )?;
        writeln!(
            f,
            "  of which apply only:          {:.0} events/s",
            self.apply_only_events_per_s
        )?;
        writeln!(
            f,
            "start-up from a snapshot:       {:.1} ms",
            self.startup_with_snapshot_ms
        )?;
        writeln!(
            f,
            "snapshot size:                  {:.1} MB",
            self.snapshot_mb
        )?;
        write!(
            f,
            "peak RSS (VmHWM):               {:.1} MB",
            self.peak_rss_mb
        )
    }
}

/// Peak resident set size of this process in MB (`VmHWM`), 0 if unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn trace_rss(phase: &str) {
    if std::env::var_os("OPSLEDGER_BENCH_TRACE").is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let get = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .unwrap_or("")
                .to_owned()
        };
        eprintln!("{phase}: {} {}", get("VmRSS:"), get("VmHWM:"));
    }
}

/// Resets the peak RSS counter (Linux `clear_refs` 5), so the figure covers
/// what follows rather than the log generation.
fn reset_peak_rss() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        tracing::debug!(error = %e, "could not reset the peak RSS counter");
    }
}

/// Generates a log of about `events` events in a temporary directory and
/// measures replay, start-up from a snapshot and peak memory. (The peak then
/// also holds what the generator left in the allocator: run
/// [`generate_bench_log`] in another process and [`measure_projections`] for
/// a figure of the projections alone, as the example does.)
pub async fn run_projection_bench(events: u64) -> Result<ProjectionBenchReport, ProjectionError> {
    let root = tempfile::tempdir()?;
    let log_dir = root.path().join("log");
    generate_bench_log(&log_dir, events).await?;
    measure_projections(&log_dir).await
}

/// Writes the benchmark's synthetic history of about `events` events into a
/// new store in `log_dir` (64 concurrent appends, no fdatasync).
pub async fn generate_bench_log(log_dir: &Path, events: u64) -> Result<(), ProjectionError> {
    let fast = StoreConfig {
        fsync_data_file: false,
        ..StoreConfig::default()
    };
    let store: Arc<dyn EventStore> = Arc::new(SledEventStore::open(log_dir, fast).await?);
    write_concurrently(
        Arc::clone(&store),
        Generator::new(42, BENCH_SERVICES, events),
        64,
    )
    .await?;
    store.flush_and_stop().await?;
    Ok(())
}

/// Figures of a replay into every read model (see [`measure_replay`]).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ReplayFigures {
    /// Events in the log.
    pub events: u64,
    /// Events per second of the whole replay (read, decode, apply).
    pub replay_events_per_s: f64,
    /// Events per second of applying decoded events alone.
    pub apply_only_events_per_s: f64,
    /// Encoded snapshot size, MB.
    pub snapshot_mb: f64,
    /// Peak RSS of the replay and the snapshot write (VmHWM), MB.
    pub peak_rss_mb: f64,
}

/// Figures of a start-up from a snapshot (see [`measure_startup`]).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StartupFigures {
    /// Time for a runner to start from the snapshot, ms.
    pub startup_with_snapshot_ms: f64,
    /// Peak RSS of opening the store and starting from the snapshot (VmHWM), MB.
    pub peak_rss_mb: f64,
}

fn replay_store_config() -> StoreConfig {
    StoreConfig {
        cache_bytes: REPLAY_STORE_CACHE_BYTES,
        ..StoreConfig::default()
    }
}

/// Replays the log in `log_dir` into every read model and snapshots them into
/// `snap_dir`; the store is closed again afterwards.
pub async fn measure_replay(
    log_dir: &Path,
    snap_dir: &Path,
) -> Result<ReplayFigures, ProjectionError> {
    reset_peak_rss();
    let store: Arc<dyn EventStore> =
        Arc::new(SledEventStore::open(log_dir, replay_store_config()).await?);
    let total = store.head_position().map_or(0, |h| h + 1);
    trace_rss("opened");

    let models = RwLock::new(Checkpointed::<ReadModels>::default());
    let mut apply_secs = 0.0;
    let started = Instant::now();
    let last_hash = catch_up(&store, &models, REPLAY_PAGE, |_, took| {
        apply_secs += took.as_secs_f64();
    })
    .await?
    .unwrap_or([0; 32]);
    let replay_secs = started.elapsed().as_secs_f64();
    trace_rss("replayed");
    let state = models.into_inner().unwrap_or_else(|p| p.into_inner());
    let snapshot_bytes = {
        let snapshots = SnapshotStore::open(snap_dir)?;
        snapshots.save(&state, last_hash)?;
        snapshots.stored_bytes::<ReadModels>()?.unwrap_or(0)
    };
    trace_rss("snapshot written");
    drop(state);
    store.flush_and_stop().await?;
    Ok(ReplayFigures {
        events: total,
        replay_events_per_s: total as f64 / replay_secs.max(1e-9),
        apply_only_events_per_s: total as f64 / apply_secs.max(1e-9),
        snapshot_mb: snapshot_bytes as f64 / (1024.0 * 1024.0),
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Opens the log in `log_dir` and starts a runner from the snapshot in `snap_dir`
/// (as a restarted server does); the store is closed again afterwards.
pub async fn measure_startup(
    log_dir: &Path,
    snap_dir: &Path,
) -> Result<StartupFigures, ProjectionError> {
    reset_peak_rss();
    let opening = Instant::now();
    let store: Arc<dyn EventStore> =
        Arc::new(SledEventStore::open(log_dir, replay_store_config()).await?);
    trace_rss(&format!("store opened in {:?}", opening.elapsed()));
    let starting = Instant::now();
    let runner = ProjectionRunner::<ReadModels>::start(
        Arc::clone(&store),
        snap_dir,
        RunnerConfig::default(),
    )
    .await?;
    let startup_with_snapshot_ms = starting.elapsed().as_secs_f64() * 1000.0;
    trace_rss("started from snapshot");
    runner.shutdown().await?;
    store.flush_and_stop().await?;
    Ok(StartupFigures {
        startup_with_snapshot_ms,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// The report of a replay and a start-up (possibly measured in two processes):
/// the peak RSS is the larger of the two.
pub fn combine(replay: &ReplayFigures, startup: &StartupFigures) -> ProjectionBenchReport {
    ProjectionBenchReport {
        replay_projections_events_per_s: replay.replay_events_per_s,
        apply_only_events_per_s: replay.apply_only_events_per_s,
        startup_with_snapshot_ms: startup.startup_with_snapshot_ms,
        snapshot_mb: replay.snapshot_mb,
        peak_rss_mb: replay.peak_rss_mb.max(startup.peak_rss_mb),
        events: replay.events,
    }
}

/// Measures replay of the log in `log_dir`, a snapshot, start-up from it and
/// peak memory, all in this process (snapshots go to a temporary directory).
/// The start-up then runs on an allocator still holding the replay's freed
/// memory; `opsledger bench projections` starts up in a fresh process instead.
pub async fn measure_projections(log_dir: &Path) -> Result<ProjectionBenchReport, ProjectionError> {
    let snap_root = tempfile::tempdir()?;
    let snap_dir = snap_root.path().join("projections");
    let replay = measure_replay(log_dir, &snap_dir).await?;
    let startup = measure_startup(log_dir, &snap_dir).await?;
    Ok(combine(&replay, &startup))
}
