//! The storage benchmark (library part of `opsledger bench storage`).
//!
//! Everything runs on fresh temporary directories: durable appends with 1, 8 and
//! 64 concurrent writers (each on its own stream, ~300-byte records), replay
//! throughput (read + decode from disk), the cost of the extra fdatasync per group,
//! and the raw limits of plain sled with flush + fdatasync after each insert and
//! after every 64 inserts.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use ulid::Ulid;

use opsledger_storage::error::StoreError;
use opsledger_storage::event::{AppendRequest, ExpectedVersion, NewEvent};
use opsledger_storage::sled_store::{SledEventStore, StoreConfig, WriterStats};
use opsledger_storage::store::EventStore;

pub mod raw;

use raw::raw_sled_inserts;

/// Payload bytes per event; with its envelope a record is about 300 bytes.
pub const PAYLOAD_BYTES: usize = 200;
/// Concurrency levels measured.
const WRITER_LEVELS: [usize; 3] = [1, 8, 64];
/// Events per append when filling the replay log.
const REPLAY_APPEND_EVENTS: usize = 500;
/// Fewest events replayed (replay is too fast to time on a tiny log).
const MIN_REPLAY_EVENTS: u64 = 100_000;
/// Most inserts timed with one fdatasync each (they run at disk-flush speed).
const MAX_RAW_FLUSH_EACH: u64 = 2_000;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageBenchOptions {
    /// Events appended per concurrency level (and at least this many replayed).
    pub events: u64,
}

impl Default for StorageBenchOptions {
    fn default() -> Self {
        StorageBenchOptions { events: 20_000 }
    }
}

/// One figure per concurrency level; serializes as `{"1": .., "8": .., "64": ..}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PerWriters {
    /// With one writer.
    #[serde(rename = "1")]
    pub one: f64,
    /// With 8 concurrent writers.
    #[serde(rename = "8")]
    pub eight: f64,
    /// With 64 concurrent writers.
    #[serde(rename = "64")]
    pub sixty_four: f64,
}

impl PerWriters {
    fn set(&mut self, writers: usize, value: f64) {
        match writers {
            1 => self.one = value,
            8 => self.eight = value,
            _ => self.sixty_four = value,
        }
    }
}

/// Average milliseconds per group commit spent in each of the writer's phases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GroupPhasesMs {
    /// Waiting for a first append with nothing queued.
    pub wait: f64,
    /// Checking and staging the appends (idempotency, versions, encoding, hashing).
    pub stage: f64,
    /// Building segments and applying the batch to sled in memory.
    pub apply: f64,
    /// sled's own flush.
    pub sled_flush: f64,
    /// The extra fdatasync of sled's data file.
    pub fdatasync: f64,
    /// Answering callers and publishing to subscribers.
    pub answer: f64,
    /// Kilobytes sled's flush wrote (records, index keys, sled's own pages).
    pub sled_flushed_kb: f64,
}

impl GroupPhasesMs {
    /// Per-group averages of the writer's counters.
    pub fn of(stats: &WriterStats) -> Self {
        let per_group = |ns: u64| ns as f64 / stats.groups.max(1) as f64 / 1e6;
        GroupPhasesMs {
            wait: per_group(stats.wait_ns),
            stage: per_group(stats.stage_ns),
            apply: per_group(stats.apply_ns),
            sled_flush: per_group(stats.flush_ns),
            fdatasync: per_group(stats.fdatasync_ns),
            answer: per_group(stats.answer_ns),
            sled_flushed_kb: stats.flushed_bytes as f64 / stats.groups.max(1) as f64 / 1024.0,
        }
    }
}

/// The benchmark's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageBenchReport {
    /// Durable appends (one event each) per second, by concurrent writers.
    pub appends_per_s: PerWriters,
    /// Median append latency in milliseconds.
    pub append_p50_ms: PerWriters,
    /// 99th percentile append latency in milliseconds.
    pub append_p99_ms: PerWriters,
    /// Average appends committed per group (per flush + fdatasync).
    pub appends_per_group: PerWriters,
    /// Events read and decoded from disk per second, right after opening (sled's cache cold).
    pub replay_events_per_s: f64,
    /// The same, on a second pass (sled's cache warm).
    pub replay_warm_events_per_s: f64,
    /// Plain sled inserts per second with flush + fdatasync after each.
    pub raw_flush_each_per_s: f64,
    /// Plain sled inserts per second with flush + fdatasync after every 64.
    pub raw_flush_64_per_s: f64,
    /// Where a group commit's time goes with 64 writers (averages per group).
    pub group_phases_ms_64: GroupPhasesMs,
    /// Durable appends per second with 64 writers and the extra fdatasync turned off.
    pub appends_per_s_64_without_fdatasync: f64,
    /// Events appended per concurrency level.
    pub events: u64,
    /// Events replayed.
    pub replay_events: u64,
}

/// Run the whole benchmark on temporary directories (removed afterwards).
pub async fn run_storage_bench(
    opts: StorageBenchOptions,
) -> Result<StorageBenchReport, StoreError> {
    let events = opts.events.max(WRITER_LEVELS[2] as u64);
    let root = tempfile::Builder::new()
        .prefix("opsledger-bench-")
        .tempdir()?;
    let mut report = StorageBenchReport {
        appends_per_s: PerWriters::default(),
        append_p50_ms: PerWriters::default(),
        append_p99_ms: PerWriters::default(),
        appends_per_group: PerWriters::default(),
        replay_events_per_s: 0.0,
        replay_warm_events_per_s: 0.0,
        raw_flush_each_per_s: 0.0,
        raw_flush_64_per_s: 0.0,
        group_phases_ms_64: GroupPhasesMs::default(),
        appends_per_s_64_without_fdatasync: 0.0,
        events,
        replay_events: events.max(MIN_REPLAY_EVENTS),
    };
    for writers in WRITER_LEVELS {
        let dir = root.path().join(format!("writers-{writers}"));
        let run = run_appends(&dir, StoreConfig::default(), writers, events).await?;
        report.appends_per_s.set(writers, run.per_s);
        report.append_p50_ms.set(writers, run.p50_ms);
        report.append_p99_ms.set(writers, run.p99_ms);
        report.appends_per_group.set(writers, run.per_group);
        report.group_phases_ms_64 = run.phases;
    }
    let no_fsync = StoreConfig {
        fsync_data_file: false,
        ..StoreConfig::default()
    };
    report.appends_per_s_64_without_fdatasync =
        run_appends(&root.path().join("no-fdatasync"), no_fsync, 64, events)
            .await?
            .per_s;
    (report.replay_events_per_s, report.replay_warm_events_per_s) =
        run_replay(&root.path().join("replay"), report.replay_events).await?;
    let raw_dir = root.path().join("raw");
    let raw_events = events;
    let (each, every_64) =
        tokio::task::spawn_blocking(move || -> Result<(f64, f64), StoreError> {
            let each =
                raw_sled_inserts(&raw_dir.join("each"), raw_events.min(MAX_RAW_FLUSH_EACH), 1)?;
            let every_64 = raw_sled_inserts(&raw_dir.join("every-64"), raw_events, 64)?;
            Ok((each, every_64))
        })
        .await
        .map_err(|e| StoreError::Io(Arc::new(std::io::Error::other(e.to_string()))))??;
    report.raw_flush_each_per_s = each;
    report.raw_flush_64_per_s = every_64;
    Ok(report)
}

/// Figures of one append run.
struct AppendRun {
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    per_group: f64,
    phases: GroupPhasesMs,
}

/// A ~300-byte one-or-more-event append on `stream_id` with a fresh command id.
pub fn bench_request(stream_id: &str, expected: ExpectedVersion, events: usize) -> AppendRequest {
    AppendRequest {
        stream_id: stream_id.to_owned(),
        expected,
        command_id: Ulid::new().to_string(),
        actor: "bench".into(),
        correlation_id: Ulid::new(),
        causation_id: None,
        recorded_at_ms: 1_700_000_000_000,
        events: (0..events)
            .map(|_| NewEvent {
                event_id: Ulid::new(),
                type_name: "BenchEventRecorded".into(),
                schema_version: 1,
                payload: vec![0x5A; PAYLOAD_BYTES],
            })
            .collect(),
    }
}

/// `events` one-event appends spread over `writers` tasks, each on its own stream.
async fn run_appends(
    dir: &Path,
    config: StoreConfig,
    writers: usize,
    events: u64,
) -> Result<AppendRun, StoreError> {
    let store = Arc::new(SledEventStore::open(dir, config).await?);
    let figures = opsledger_appends(&store, writers, events).await?;
    let stats = store.writer_stats();
    store.flush_and_stop().await?;
    let groups = stats.groups.max(1) as f64;
    Ok(AppendRun {
        per_s: figures.per_s,
        p50_ms: figures.p50_ms,
        p99_ms: figures.p99_ms,
        per_group: stats.appends as f64 / groups,
        phases: GroupPhasesMs::of(&stats),
    })
}

/// `events` durable one-event appends (~300-byte records) to `store`, spread over
/// `writers` concurrent tasks, each on its own stream with exact expected versions.
pub async fn opsledger_appends(
    store: &Arc<SledEventStore>,
    writers: usize,
    events: u64,
) -> Result<AppendFigures, StoreError> {
    let streams: Vec<Arc<Mutex<ExpectedVersion>>> = (0..writers)
        .map(|_| Arc::new(Mutex::new(ExpectedVersion::NoStream)))
        .collect();
    let store = store.clone();
    drive_writers(writers, events, move |writer| {
        let store = store.clone();
        let expected = streams[writer].clone();
        async move {
            let current = *expected.lock().unwrap_or_else(PoisonError::into_inner);
            let request = bench_request(&format!("bench-{writer}"), current, 1);
            let outcome = store.append(request).await?;
            *expected.lock().unwrap_or_else(PoisonError::into_inner) =
                ExpectedVersion::Exact(outcome.stream_version);
            Ok(())
        }
    })
    .await
}

/// Throughput and latency of one concurrent append run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AppendFigures {
    /// Completed appends per second.
    pub per_s: f64,
    /// Median append latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile append latency, milliseconds.
    pub p99_ms: f64,
}

/// Run `events` calls of `append(writer)` spread over `writers` concurrent tasks
/// (each task calls it for its own writer index, one call at a time) and time them.
pub async fn drive_writers<F, Fut, E>(
    writers: usize,
    events: u64,
    append: F,
) -> Result<AppendFigures, E>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    let writers = writers.max(1);
    let per_writer = events.div_ceil(writers as u64);
    let append = Arc::new(append);
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let append = append.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_writer as usize);
                for _ in 0..per_writer {
                    let t = Instant::now();
                    append(writer).await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, E>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        match task.await {
            Ok(done) => latencies.extend(done?),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(AppendFigures {
        per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
    })
}

/// The nearest-rank `q` quantile of `sorted`, milliseconds (0 when empty).
pub(crate) fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1e3
}

/// Fill a log with `events` events, reopen it and time reading it all back: first with
/// sled's cache cold (just opened), then warm. Events per second.
async fn run_replay(dir: &Path, events: u64) -> Result<(f64, f64), StoreError> {
    let store = SledEventStore::open(dir, StoreConfig::default()).await?;
    let mut written = 0;
    while written < events {
        let n = REPLAY_APPEND_EVENTS.min((events - written) as usize);
        store
            .append(bench_request("replay", ExpectedVersion::Any, n))
            .await?;
        written += n as u64;
    }
    store.flush_and_stop().await?;
    drop(store);
    let store = SledEventStore::open(dir, StoreConfig::default()).await?;
    let cold = replay_all(&store).await?;
    let warm = replay_all(&store).await?;
    store.flush_and_stop().await?;
    Ok((cold, warm))
}

/// Read and decode the whole log once; events per second.
async fn replay_all(store: &SledEventStore) -> Result<f64, StoreError> {
    let started = Instant::now();
    let mut read = 0u64;
    loop {
        let page = store.read_all(read, 8192).await?;
        if page.is_empty() {
            break;
        }
        read += page.len() as u64;
    }
    Ok(read as f64 / started.elapsed().as_secs_f64())
}

impl fmt::Display for StorageBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "storage benchmark: {} one-event appends per level (~300-byte records)",
            self.events
        )?;
        writeln!(
            f,
            "{:<10} {:>14} {:>10} {:>10} {:>14}",
            "writers", "appends/s", "p50 ms", "p99 ms", "appends/group"
        )?;
        let rows = [
            (
                1,
                self.appends_per_s.one,
                self.append_p50_ms.one,
                self.append_p99_ms.one,
                self.appends_per_group.one,
            ),
            (
                8,
                self.appends_per_s.eight,
                self.append_p50_ms.eight,
                self.append_p99_ms.eight,
                self.appends_per_group.eight,
            ),
            (
                64,
                self.appends_per_s.sixty_four,
                self.append_p50_ms.sixty_four,
                self.append_p99_ms.sixty_four,
                self.appends_per_group.sixty_four,
            ),
        ];
        for (writers, per_s, p50, p99, per_group) in rows {
            writeln!(
                f,
                "{writers:<10} {per_s:>14.0} {p50:>10.2} {p99:>10.2} {per_group:>14.1}"
            )?;
        }
        writeln!(
            f,
            "64 writers without the extra fdatasync: {:.0} appends/s",
            self.appends_per_s_64_without_fdatasync
        )?;
        let phases = &self.group_phases_ms_64;
        writeln!(
            f,
            "per group (64 writers), ms: wait {:.3}, stage {:.3}, apply {:.3}, sled flush {:.3}, \
             extra fdatasync {:.3}, answer {:.3}; sled wrote {:.1} KB",
            phases.wait,
            phases.stage,
            phases.apply,
            phases.sled_flush,
            phases.fdatasync,
            phases.answer,
            phases.sled_flushed_kb
        )?;
        writeln!(
            f,
            "replay: {:.0} events/s read + decoded just after open, {:.0} warm ({} events)",
            self.replay_events_per_s, self.replay_warm_events_per_s, self.replay_events
        )?;
        writeln!(
            f,
            "raw sled, flush + fdatasync after each insert: {:.0} inserts/s",
            self.raw_flush_each_per_s
        )?;
        write!(
            f,
            "raw sled, flush + fdatasync every 64 inserts: {:.0} inserts/s",
            self.raw_flush_64_per_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_serializes_with_the_agreed_keys() {
        let report = StorageBenchReport {
            appends_per_s: PerWriters {
                one: 1.0,
                eight: 8.0,
                sixty_four: 64.0,
            },
            append_p50_ms: PerWriters::default(),
            append_p99_ms: PerWriters {
                one: 0.5,
                eight: 1.5,
                sixty_four: 2.5,
            },
            appends_per_group: PerWriters::default(),
            replay_events_per_s: 3.0,
            replay_warm_events_per_s: 3.5,
            raw_flush_each_per_s: 4.0,
            raw_flush_64_per_s: 5.0,
            group_phases_ms_64: GroupPhasesMs::default(),
            appends_per_s_64_without_fdatasync: 0.0,
            events: 10,
            replay_events: 10,
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["appends_per_s"],
            serde_json::json!({"1": 1.0, "8": 8.0, "64": 64.0})
        );
        assert_eq!(
            json["append_p99_ms"],
            serde_json::json!({"1": 0.5, "8": 1.5, "64": 2.5})
        );
        assert_eq!(json["replay_events_per_s"], 3.0);
        assert_eq!(json["raw_flush_each_per_s"], 4.0);
        assert_eq!(json["raw_flush_64_per_s"], 5.0);
    }

    #[test]
    fn percentile_picks_the_nearest_rank() {
        let sorted: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tiny_append_run_counts_every_append() {
        let dir = tempfile::tempdir().unwrap();
        let run = run_appends(dir.path(), StoreConfig::default(), 8, 64)
            .await
            .unwrap();
        assert!(run.per_group >= 1.0);
        assert!(run.p99_ms >= run.p50_ms);
    }
}
