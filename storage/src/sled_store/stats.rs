//! Counters the writer keeps, read by the benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The phases of a group commit besides the flush and the fdatasync.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    /// Waiting for a first append.
    Wait,
    /// Checking and staging the group's appends.
    Stage,
    /// Building segments and applying the batch to sled.
    Apply,
    /// Answering callers and publishing to subscribers.
    Answer,
}

/// Running totals of the writer's group commits.
#[derive(Default)]
pub(crate) struct StatsCounters {
    groups: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
    flush_ns: AtomicU64,
    flushed_bytes: AtomicU64,
    fdatasync_ns: AtomicU64,
    wait_ns: AtomicU64,
    stage_ns: AtomicU64,
    apply_ns: AtomicU64,
    answer_ns: AtomicU64,
}

/// A snapshot of the writer's group-commit counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriterStats {
    /// Group commits done (answers sent in one go).
    pub groups: u64,
    /// Appends answered (including rejected ones).
    pub appends: u64,
    /// Events written.
    pub events: u64,
    /// Total time in sled's flush.
    pub flush_ns: u64,
    /// Bytes sled's flushes wrote to its log (records, index keys and sled's own pages).
    pub flushed_bytes: u64,
    /// Total time in the extra fdatasync of sled's data file.
    pub fdatasync_ns: u64,
    /// Total time the writer waited for a first append with nothing queued.
    pub wait_ns: u64,
    /// Total time checking and staging appends (idempotency, versions, encoding, hashing).
    pub stage_ns: u64,
    /// Total time building segments and applying groups to sled (in memory, before the flush).
    pub apply_ns: u64,
    /// Total time answering callers and publishing groups to subscribers.
    pub answer_ns: u64,
}

impl StatsCounters {
    pub(crate) fn record_group(&self, appends: u64, events: u64) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.appends.fetch_add(appends, Ordering::Relaxed);
        self.events.fetch_add(events, Ordering::Relaxed);
    }

    pub(crate) fn record_sync(&self, flush: Duration, flushed_bytes: usize, fdatasync: Duration) {
        self.flush_ns
            .fetch_add(flush.as_nanos() as u64, Ordering::Relaxed);
        self.flushed_bytes
            .fetch_add(flushed_bytes as u64, Ordering::Relaxed);
        self.fdatasync_ns
            .fetch_add(fdatasync.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Time spent in one phase of a group commit.
    pub(crate) fn record_phase(&self, phase: Phase, took: Duration) {
        let counter = match phase {
            Phase::Wait => &self.wait_ns,
            Phase::Stage => &self.stage_ns,
            Phase::Apply => &self.apply_ns,
            Phase::Answer => &self.answer_ns,
        };
        counter.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WriterStats {
        WriterStats {
            groups: self.groups.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            flush_ns: self.flush_ns.load(Ordering::Relaxed),
            flushed_bytes: self.flushed_bytes.load(Ordering::Relaxed),
            fdatasync_ns: self.fdatasync_ns.load(Ordering::Relaxed),
            wait_ns: self.wait_ns.load(Ordering::Relaxed),
            stage_ns: self.stage_ns.load(Ordering::Relaxed),
            apply_ns: self.apply_ns.load(Ordering::Relaxed),
            answer_ns: self.answer_ns.load(Ordering::Relaxed),
        }
    }
}
