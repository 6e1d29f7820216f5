//! The standard Prometheus process metrics (`process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_cpu_seconds_total`,
//! `process_open_fds`, `process_max_fds`, `process_start_time_seconds`), read
//! from `/proc/self` at each scrape. The prometheus crate's own `process`
//! feature needs the `procfs` crate, which this build cannot fetch; the names
//! and meanings here are the same. On systems without `/proc` the families
//! are absent.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge};
use std::sync::Mutex;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// A collector of the process metrics of this process.
pub struct ProcessCollector {
    resident: IntGauge,
    virtual_memory: IntGauge,
    cpu_seconds: Counter,
    /// Serialises collections (the CPU counter advances to a total).
    collecting: Mutex<()>,
    open_fds: IntGauge,
    max_fds: IntGauge,
    start_time: Gauge,
    descs: Vec<Desc>,
}

impl ProcessCollector {
    /// The collector, with its gauges described.
    pub fn new() -> Result<Self, prometheus::Error> {
        let resident = IntGauge::new(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        )?;
        let virtual_memory = IntGauge::new(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        )?;
        let cpu_seconds = Counter::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        )?;
        let open_fds = IntGauge::new("process_open_fds", "Number of open file descriptors.")?;
        let max_fds = IntGauge::new(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        )?;
        let start_time = Gauge::new(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )?;
        let descs = [
            resident.desc(),
            virtual_memory.desc(),
            cpu_seconds.desc(),
            open_fds.desc(),
            max_fds.desc(),
            start_time.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Ok(ProcessCollector {
            resident,
            virtual_memory,
            cpu_seconds,
            open_fds,
            max_fds,
            start_time,
            descs,
            collecting: Mutex::new(()),
        })
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _serial = self
            .collecting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(sample) = ProcessSample::read() else {
            return Vec::new();
        };
        self.resident.set(clamp(sample.resident_bytes));
        self.virtual_memory.set(clamp(sample.virtual_bytes));
        advance(&self.cpu_seconds, sample.cpu_seconds);
        self.open_fds.set(clamp(sample.open_fds));
        self.max_fds.set(clamp(sample.max_fds));
        self.start_time.set(sample.start_time_seconds);
        [
            self.resident.collect(),
            self.virtual_memory.collect(),
            self.cpu_seconds.collect(),
            self.open_fds.collect(),
            self.max_fds.collect(),
            self.start_time.collect(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One reading of `/proc/self`.
#[derive(Debug, Clone, PartialEq)]
struct ProcessSample {
    resident_bytes: u64,
    virtual_bytes: u64,
    cpu_seconds: f64,
    open_fds: u64,
    max_fds: u64,
    start_time_seconds: f64,
}

impl ProcessSample {
    fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let boot = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let times = StatTimes::parse(&stat)?;
        let boot_time = boot
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        Some(ProcessSample {
            resident_bytes: status_kib(&status, "VmRSS:")? * 1024,
            virtual_bytes: status_kib(&status, "VmSize:")? * 1024,
            cpu_seconds: (times.utime + times.stime) as f64 / TICKS_PER_SECOND,
            open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
            max_fds: max_open_files(&limits).unwrap_or(0),
            start_time_seconds: boot_time + times.start as f64 / TICKS_PER_SECOND,
        })
    }
}

/// A `Key:   123 kB` line of `/proc/self/status`, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU and start times (clock ticks) from `/proc/self/stat`.
struct StatTimes {
    utime: u64,
    stime: u64,
    start: u64,
}

impl StatTimes {
    /// Fields after the `(comm)` (which may hold spaces): state is field 3,
    /// utime 14, stime 15, starttime 22 (1-based, as in proc(5)).
    fn parse(stat: &str) -> Option<Self> {
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(StatTimes {
            utime: field(14)?,
            stime: field(15)?,
            start: field(22)?,
        })
    }
}

/// Advances `counter` to `total` (a counter never goes back).
pub(crate) fn advance(
    counter: &prometheus::core::GenericCounter<prometheus::core::AtomicF64>,
    total: f64,
) {
    let delta = total - counter.get();
    if delta > 0.0 {
        counter.inc_by(delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_a_command_name_with_spaces() {
        let stat = "42 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 1234 999 7";
        let times = StatTimes::parse(stat).unwrap();
        assert_eq!((times.utime, times.stime, times.start), (250, 50, 1234));
    }

    #[test]
    fn limits_and_status_lines_parse() {
        let limits = "Limit Soft Hard Units\nMax open files            1024                 4096                 files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(status_kib("VmRSS:\t  2048 kB\n", "VmRSS:"), Some(2048));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reports_memory_fds_and_cpu() {
        let sample = ProcessSample::read().unwrap();
        assert!(sample.resident_bytes > 0);
        assert!(sample.open_fds > 0);
        assert!(sample.max_fds >= sample.open_fds);
        assert!(sample.start_time_seconds > 1_500_000_000.0);
    }
}
