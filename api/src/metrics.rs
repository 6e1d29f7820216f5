//! Prometheus metrics of one server instance (never a global registry, so
//! several servers can run in one test process), rendered by `GET /metrics`.

use crate::error::ErrorCode;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::time::Duration;

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
        })
    }

    /// Counts one GraphQL HTTP request.
    pub fn http_request(&self) {
        self.http_requests.inc();
    }

    /// Counts one GraphQL error with `code` (the wire string).
    pub fn graphql_error(&self, code: &str) {
        self.graphql_errors.with_label_values(&[code]).inc();
    }

    /// Records the latency of one append (called by the application service).
    pub fn observe_append(&self, latency: Duration) {
        self.append_latency.observe(latency.as_secs_f64());
    }

    /// Sets the log head and the projection lag (called before rendering).
    pub fn set_positions(&self, log_len: u64, projection_lag: u64) {
        self.log_position.set(clamp_i64(log_len));
        self.projection_lag.set(clamp_i64(projection_lag));
    }

    /// Tracks one open WebSocket connection until the guard drops.
    pub fn ws_connection(&self) -> GaugeGuard {
        GaugeGuard::new(&self.ws_connections)
    }

    /// Tracks one active subscription until the guard drops.
    pub fn ws_subscription(&self) -> GaugeGuard {
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
        let text = m.render().unwrap();
        assert!(text.contains("opsledger_graphql_http_requests_total 1"));
        assert!(text.contains("opsledger_graphql_errors_total{code=\"LIMIT\"} 1"));
        assert!(text.contains("opsledger_graphql_errors_total{code=\"INTERNAL\"} 0"));
        assert!(text.contains("opsledger_ws_connections_active 1"));
        assert!(text.contains("opsledger_log_position 42"));
        assert!(text.contains("opsledger_projection_lag_events 3"));
        drop(guard);
        assert!(m
            .render()
            .unwrap()
            .contains("opsledger_ws_connections_active 0"));
    }
}
