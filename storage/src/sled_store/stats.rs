//! Counters the writer keeps, read by the benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Running totals of the writer's group commits.
#[derive(Default)]
pub(crate) struct StatsCounters {
    groups: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
    flush_ns: AtomicU64,
    fdatasync_ns: AtomicU64,
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
    /// Total time in the extra fdatasync of sled's data file.
    pub fdatasync_ns: u64,
}

impl StatsCounters {
    pub(crate) fn record_group(&self, appends: u64, events: u64) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.appends.fetch_add(appends, Ordering::Relaxed);
        self.events.fetch_add(events, Ordering::Relaxed);
    }

    pub(crate) fn record_sync(&self, flush: Duration, fdatasync: Duration) {
        self.flush_ns
            .fetch_add(flush.as_nanos() as u64, Ordering::Relaxed);
        self.fdatasync_ns
            .fetch_add(fdatasync.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WriterStats {
        WriterStats {
            groups: self.groups.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            flush_ns: self.flush_ns.load(Ordering::Relaxed),
            fdatasync_ns: self.fdatasync_ns.load(Ordering::Relaxed),
        }
    }
}
