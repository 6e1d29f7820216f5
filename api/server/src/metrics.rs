//! Prometheus metrics of one server instance (never a global registry, so
//! several servers can run in one test process), rendered by `GET /metrics`.

use crate::error::ErrorCode;
use opsledger_storage::SledEventStore;
use prometheus::{
    Counter, Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// At most this many distinct GraphQL operation names become label values;
/// later new names are counted as [`OTHER_OPERATION`].
pub const MAX_OPERATION_NAMES: usize = 100;

/// The operation-name label of operations past [`MAX_OPERATION_NAMES`] or with an invalid name.
pub const OTHER_OPERATION: &str = "other";

/// The operation-name label of unnamed operations.
pub const ANONYMOUS_OPERATION: &str = "anonymous";

/// The longest operation name kept as a label value.
pub const MAX_OPERATION_NAME_CHARS: usize = 64;

/// The sled store behind the server, if any: its size on disk and the writer's fsync counters.
#[derive(Clone, Default)]
pub struct StoreProbe(Option<Arc<SledEventStore>>);

impl std::fmt::Debug for StoreProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StoreProbe")
            .field(&self.0.is_some())
            .finish()
    }
}

impl StoreProbe {
    /// Probes `store`.
    pub fn sled(store: Arc<SledEventStore>) -> Self {
        StoreProbe(Some(store))
    }
}

/// What a [`StoreProbe`] read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreSample {
    /// Bytes of every file under the store's directory.
    pub size_bytes: u64,
    /// Group commits (one fdatasync each).
    pub fsyncs: u64,
    /// Total time in fdatasync.
    pub fsync_ns: u64,
    /// Total time in sled's flush.
    pub flush_ns: u64,
}

impl StoreProbe {
    /// Reads the store's size and writer counters (`None` without a sled store).
    pub fn sample(&self) -> Option<StoreSample> {
        let store = self.0.as_ref()?;
        let stats = store.writer_stats();
        Some(StoreSample {
            size_bytes: dir_size(store.dir()),
            fsyncs: stats.groups,
            fsync_ns: stats.fdatasync_ns,
            flush_ns: stats.flush_ns,
        })
    }
}

/// Bytes of the files under `dir` (unreadable entries count 0).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Why the metrics could not be set up or rendered.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounter,
    graphql_errors: IntCounterVec,
    append_latency: Histogram,
    log_position: IntGauge,
    projection_lag: IntGauge,
    ws_connections: IntGauge,
    ws_subscriptions: IntGauge,
    ws_slow_consumers: IntCounter,
    request_duration: HistogramVec,
    operation_names: Mutex<BTreeSet<String>>,
    projection_lag_seconds: Gauge,
    alerts_received: IntCounterVec,
    alerts_ingested: IntCounterVec,
    alerts_unrouted: IntCounterVec,
    alerts_rerouted: IntCounterVec,
    webhook_requests: IntCounterVec,
    ws_subscriptions_started: IntCounter,
    store_size: IntGauge,
    store_fsyncs: IntCounter,
    store_fsync_seconds: Counter,
    store_flush_seconds: Counter,
    workflow_lag: IntGauge,
    workflow_refused: IntCounter,
    workflow_retries: IntCounter,
    /// Serialises [`Metrics::set_store`] (counters advance to a total, never twice).
    store_update: Mutex<()>,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let http_requests = IntCounter::new(
            "opsledger_graphql_http_requests_total",
            "GraphQL HTTP requests received",
        )?;
        let graphql_errors = IntCounterVec::new(
            Opts::new(
                "opsledger_graphql_errors_total",
                "GraphQL errors returned, by extensions.code",
            ),
            &["code"],
        )?;
        let append_latency = Histogram::with_opts(
            HistogramOpts::new(
                "opsledger_append_latency_seconds",
                "Time from command to durable append",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
        )?;
        let log_position = IntGauge::new(
            "opsledger_log_position",
            "Number of events in the log (head position + 1)",
        )?;
        let projection_lag = IntGauge::new(
            "opsledger_projection_lag_events",
            "Events in the log not yet applied to the read models",
        )?;
        let ws_connections = IntGauge::new(
            "opsledger_ws_connections_active",
            "Open GraphQL WebSocket connections",
        )?;
        let ws_subscriptions = IntGauge::new(
            "opsledger_ws_subscriptions_active",
            "Active GraphQL subscriptions over WebSocket",
        )?;
        let ws_slow_consumers = IntCounter::new(
            "opsledger_ws_slow_consumers_dropped_total",
            "WebSocket connections closed because the client did not keep up",
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "opsledger_graphql_request_duration_seconds",
                "GraphQL HTTP request duration, by operation type and (bounded) operation name",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["operation_type", "operation_name"],
        )?;
        let projection_lag_seconds = Gauge::new(
            "opsledger_projection_lag_seconds",
            "Age of the oldest event not yet in the read models (0 when caught up)",
        )?;
        let alerts_received = IntCounterVec::new(
            Opts::new(
                "opsledger_alerts_received_total",
                "Alertmanager alerts received, by alert status",
            ),
            &["status"],
        )?;
        let alerts_ingested = IntCounterVec::new(
            Opts::new(
                "opsledger_alerts_ingested_total",
                "Alerts recorded in an alert group, by result (opened an incident, attached to the open one, recorded, duplicate delivery)",
            ),
            &["result"],
        )?;
        let alerts_unrouted = IntCounterVec::new(
            Opts::new(
                "opsledger_alerts_unrouted_total",
                "Alerts that could not be routed to a service (refused, not recorded), by reason",
            ),
            &["reason"],
        )?;
        let alerts_rerouted = IntCounterVec::new(
            Opts::new(
                "opsledger_alerts_default_routed_total",
                "Alerts routed to the default alert service, by why their own label could not route them",
            ),
            &["reason"],
        )?;
        let webhook_requests = IntCounterVec::new(
            Opts::new(
                "opsledger_webhook_requests_total",
                "Alertmanager webhook requests, by HTTP status code",
            ),
            &["code"],
        )?;
        let ws_subscriptions_started = IntCounter::new(
            "opsledger_ws_subscriptions_started_total",
            "GraphQL subscriptions started over WebSocket",
        )?;
        let store_size = IntGauge::new(
            "opsledger_store_size_bytes",
            "Bytes on disk of the event log's directory",
        )?;
        let store_fsyncs = IntCounter::new(
            "opsledger_store_fsyncs_total",
            "fdatasyncs of the log's data file (one per group commit) since the store opened",
        )?;
        let store_fsync_seconds = Counter::new(
            "opsledger_store_fsync_seconds_total",
            "Time spent in fdatasync of the log's data file since the store opened",
        )?;
        let store_flush_seconds = Counter::new(
            "opsledger_store_flush_seconds_total",
            "Time spent in sled's flush since the store opened",
        )?;
        let workflow_lag = IntGauge::new(
            "opsledger_workflow_lag_events",
            "Events in the log the workflow policies have not reacted to yet",
        )?;
        let workflow_refused = IntCounter::new(
            "opsledger_workflow_follow_ups_failed_total",
            "Workflow follow-ups refused for good since start (each is logged at error level with its trigger)",
        )?;
        let workflow_retries = IntCounter::new(
            "opsledger_workflow_follow_up_retries_total",
            "Workflow follow-ups retried after an infrastructure failure since start",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("opsledger_build_info", "Always 1; labels name the build"),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for collector in [
            Box::new(request_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(projection_lag_seconds.clone()),
            Box::new(alerts_received.clone()),
            Box::new(alerts_ingested.clone()),
            Box::new(alerts_unrouted.clone()),
            Box::new(alerts_rerouted.clone()),
            Box::new(webhook_requests.clone()),
            Box::new(ws_subscriptions_started.clone()),
            Box::new(store_size.clone()),
            Box::new(store_fsyncs.clone()),
            Box::new(store_fsync_seconds.clone()),
            Box::new(store_flush_seconds.clone()),
            Box::new(workflow_lag.clone()),
            Box::new(workflow_refused.clone()),
            Box::new(workflow_retries.clone()),
            Box::new(build_info),
            Box::new(crate::process_metrics::ProcessCollector::new()?),
        ] {
            registry.register(collector)?;
        }
        for status in ["firing", "resolved"] {
            alerts_received.with_label_values(&[status]);
        }
        for result in INGEST_RESULTS {
            alerts_ingested.with_label_values(&[result]);
        }
        registry.register(Box::new(ws_slow_consumers.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(graphql_errors.clone()))?;
        registry.register(Box::new(append_latency.clone()))?;
        registry.register(Box::new(log_position.clone()))?;
        registry.register(Box::new(projection_lag.clone()))?;
        registry.register(Box::new(ws_connections.clone()))?;
        registry.register(Box::new(ws_subscriptions.clone()))?;
        for code in ErrorCode::ALL {
            // Every code appears (at 0) so dashboards see the full set.
            graphql_errors.with_label_values(&[code.as_str()]);
        }
        Ok(Metrics {
            registry,
            http_requests,
            graphql_errors,
            append_latency,
            log_position,
            projection_lag,
            ws_connections,
            ws_subscriptions,
            ws_slow_consumers,
            request_duration,
            operation_names: Mutex::new(BTreeSet::new()),
            projection_lag_seconds,
            alerts_received,
            alerts_ingested,
            alerts_unrouted,
            alerts_rerouted,
            webhook_requests,
            workflow_lag,
            workflow_refused,
            workflow_retries,
            ws_subscriptions_started,
            store_size,
            store_fsyncs,
            store_fsync_seconds,
            store_flush_seconds,
            store_update: Mutex::new(()),
        })
    }

    /// Records one GraphQL HTTP request of `operation_type` (`query`, `mutation`,
    /// `subscription`, `batch`, `invalid`) named `name`, which took `elapsed`.
    /// Names are bounded: see [`MAX_OPERATION_NAMES`].
    pub fn observe_request(&self, operation_type: &str, name: Option<&str>, elapsed: Duration) {
        let name = self.operation_label(name);
        self.request_duration
            .with_label_values(&[operation_type, &name])
            .observe(elapsed.as_secs_f64());
    }

    /// The label value of operation `name`: itself if it is one of the first
    /// [`MAX_OPERATION_NAMES`] valid names seen, else [`OTHER_OPERATION`].
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return ANONYMOUS_OPERATION.to_string();
        };
        let valid = !name.is_empty()
            && name.len() <= MAX_OPERATION_NAME_CHARS
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && name != OTHER_OPERATION
            && name != ANONYMOUS_OPERATION;
        if !valid {
            return OTHER_OPERATION.to_string();
        }
        let mut names = self
            .operation_names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if names.contains(name) || names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_string());
            name.to_string()
        } else {
            OTHER_OPERATION.to_string()
        }
    }

    /// Counts one Alertmanager alert received.
    pub fn alert_received(&self, firing: bool) {
        let status = if firing { "firing" } else { "resolved" };
        self.alerts_received.with_label_values(&[status]).inc();
    }

    /// Counts one alert recorded with `result` (one of [`INGEST_RESULTS`]).
    pub fn alert_ingested(&self, result: &str) {
        self.alerts_ingested.with_label_values(&[result]).inc();
    }

    /// Shows every reason an alert can be misrouted (at 0), so dashboards see the full set.
    pub fn declare_misroute_reasons(&self, reasons: &[&str]) {
        for reason in reasons {
            self.alerts_unrouted.with_label_values(&[reason]);
            self.alerts_rerouted.with_label_values(&[reason]);
        }
    }

    /// Counts one alert refused as unrouted, by why (`MisrouteReason::as_str`).
    pub fn alert_unrouted(&self, reason: &str) {
        self.alerts_unrouted.with_label_values(&[reason]).inc();
    }

    /// Counts one alert routed to the default alert service, by why its label could not route it.
    pub fn alert_rerouted(&self, reason: &str) {
        self.alerts_rerouted.with_label_values(&[reason]).inc();
    }

    /// Counts one webhook request answered with HTTP `status`.
    pub fn webhook_request(&self, status: u16) {
        self.webhook_requests
            .with_label_values(&[&status.to_string()])
            .inc();
    }

    /// Sets the age in seconds of the oldest event not yet in the read models.
    pub fn set_projection_lag_seconds(&self, seconds: f64) {
        self.projection_lag_seconds.set(seconds.max(0.0));
    }

    /// Sets the store's size and writer counters.
    pub fn set_store(&self, sample: StoreSample) {
        let _serial = self
            .store_update
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.store_size.set(clamp_i64(sample.size_bytes));
        let fsyncs = sample.fsyncs.saturating_sub(self.store_fsyncs.get());
        self.store_fsyncs.inc_by(fsyncs);
        advance(
            &self.store_fsync_seconds,
            Duration::from_nanos(sample.fsync_ns).as_secs_f64(),
        );
        advance(
            &self.store_flush_seconds,
            Duration::from_nanos(sample.flush_ns).as_secs_f64(),
        );
    }

    /// Counts one GraphQL HTTP request.
    pub fn http_request(&self) {
        self.http_requests.inc();
    }

    /// Counts one GraphQL error with `code` (the wire string).
    pub fn graphql_error(&self, code: &str) {
        self.graphql_errors.with_label_values(&[code]).inc();
    }

    /// Sets the log head and the projection lag (called before rendering).
    pub fn set_positions(&self, log_len: u64, projection_lag: u64) {
        self.log_position.set(clamp_i64(log_len));
        self.projection_lag.set(clamp_i64(projection_lag));
    }

    /// Sets the workflow policies' lag and failure totals (called before rendering).
    pub fn set_workflows(&self, lag: u64, refused: u64, retries: u64) {
        self.workflow_lag.set(clamp_i64(lag));
        let _serial = self
            .store_update
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (counter, total) in [
            (&self.workflow_refused, refused),
            (&self.workflow_retries, retries),
        ] {
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// Tracks one open WebSocket connection until the guard drops.
    pub fn ws_connection(&self) -> GaugeGuard {
        GaugeGuard::new(&self.ws_connections)
    }

    /// Tracks one active subscription until the guard drops (and counts it as started).
    pub fn ws_subscription(&self) -> GaugeGuard {
        self.ws_subscriptions_started.inc();
        GaugeGuard::new(&self.ws_subscriptions)
    }

    /// Counts one connection dropped as a slow consumer.
    pub fn ws_slow_consumer_dropped(&self) {
        self.ws_slow_consumers.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The results [`Metrics::alert_ingested`] counts.
pub const INGEST_RESULTS: [&str; 4] = ["opened", "attached", "recorded", "duplicate"];

/// Moves `counter` up to `total` (a total kept elsewhere; never down).
pub(crate) use crate::process_metrics::advance;

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Increments a gauge on creation and decrements it on drop.
pub struct GaugeGuard(IntGauge);

impl GaugeGuard {
    fn new(gauge: &IntGauge) -> Self {
        gauge.inc();
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_counters_gauges_and_errors_by_code() {
        let m = Metrics::new().unwrap();
        m.http_request();
        m.graphql_error("LIMIT");
        let guard = m.ws_connection();
        m.set_positions(42, 3);
        m.declare_misroute_reasons(&["unknown_service"]);
        let text = m.render().unwrap();
        assert!(text.contains("opsledger_graphql_http_requests_total 1"));
        assert!(text.contains("opsledger_graphql_errors_total{code=\"LIMIT\"} 1"));
        assert!(text.contains("opsledger_graphql_errors_total{code=\"INTERNAL\"} 0"));
        assert!(text.contains("opsledger_ws_connections_active 1"));
        assert!(text.contains("opsledger_log_position 42"));
        assert!(text.contains("opsledger_projection_lag_events 3"));
        assert!(text.contains("opsledger_build_info{version="));
        assert!(text.contains("opsledger_alerts_unrouted_total{reason=\"unknown_service\"} 0"));
        drop(guard);
        assert!(m
            .render()
            .unwrap()
            .contains("opsledger_ws_connections_active 0"));
    }
}

#[cfg(test)]
mod operation_name_tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded_to_a_fixed_set() {
        let m = Metrics::new().unwrap();
        for i in 0..MAX_OPERATION_NAMES + 20 {
            m.observe_request("query", Some(&format!("Op{i}")), Duration::from_millis(1));
        }
        m.observe_request("query", None, Duration::from_millis(1));
        m.observe_request("query", Some("bad name\"}"), Duration::from_millis(1));
        let text = m.render().unwrap();
        let names: BTreeSet<&str> = text
            .lines()
            .filter(|l| l.starts_with("opsledger_graphql_request_duration_seconds_count"))
            .filter_map(|l| l.split("operation_name=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(names.len(), MAX_OPERATION_NAMES + 2, "{names:?}");
        assert!(names.contains(OTHER_OPERATION));
        assert!(names.contains(ANONYMOUS_OPERATION));
        assert!(names.contains("Op0"));
        assert!(!names.contains("Op100"));
    }
}

impl crate::app::AppendObserver for Metrics {
    /// Records the latency of one append (called by the application service).
    fn observe_append(&self, latency: Duration) {
        self.append_latency.observe(latency.as_secs_f64());
    }
}
