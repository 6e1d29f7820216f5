//! Operational endpoints: `/healthz` (the process is up), `/readyz` (the read
//! models have caught up with the log) and `/metrics` (Prometheus text).

use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

/// Whether the server can answer with up-to-date read models.
///
/// The hook is the projection runner's position: a `watch` of the position
/// of the last event in the read models (`None` = none yet), as
/// `ProjectionHandle::position_receiver` gives it. Without projections the
/// server is ready as soon as the store is open.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    applied: Option<watch::Receiver<Option<u64>>>,
}

impl Readiness {
    /// Ready whenever the store is open (no read models yet).
    pub fn store_only() -> Self {
        Readiness { applied: None }
    }

    /// Ready when the read models have applied every event of the log.
    pub fn with_projections(applied: watch::Receiver<Option<u64>>) -> Self {
        Readiness {
            applied: Some(applied),
        }
    }

    /// Position of the last event in the read models (`None`: none yet, or no read models).
    pub fn applied(&self) -> Option<u64> {
        self.applied.as_ref().and_then(|applied| *applied.borrow())
    }

    /// Events in the log (whose last position is `head`) not yet applied.
    pub fn lag(&self, head: Option<u64>) -> u64 {
        match &self.applied {
            Some(applied) => event_count(head).saturating_sub(event_count(*applied.borrow())),
            None => 0,
        }
    }
}

/// How many events precede and include `last` (positions are 0-based and gap-free).
pub fn event_count(last: Option<u64>) -> u64 {
    last.map_or(0, |p| p.saturating_add(1))
}

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the read models are caught up, else 503 with the lag.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let lag = state.readiness().lag(state.store().head_position());
    if lag == 0 {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = format!("not ready: read models are {lag} events behind the log\n");
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let head = state.store().head_position();
    let lag = state.readiness().lag(head);
    state.metrics().set_positions(event_count(head), lag);
    let workflows = state.app().workflow_progress();
    let (refused, retries) = workflows.failures();
    let workflow_lag = event_count(head).saturating_sub(workflows.next());
    state
        .metrics()
        .set_workflows(workflow_lag, refused, retries);
    state
        .metrics()
        .set_projection_lag_seconds(projection_lag_seconds(&state, lag).await);
    if let Some(sample) = state.config().store_probe.sample() {
        state.metrics().set_store(sample);
    }
    match state.metrics().render() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot render metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Age of the oldest event the read models have not applied (0 when caught up).
async fn projection_lag_seconds(state: &AppState, lag_events: u64) -> f64 {
    if lag_events == 0 {
        return 0.0;
    }
    let next = event_count(state.readiness().applied());
    match state.store().read_all(next, 1).await {
        Ok(events) => events.first().map_or(0.0, |oldest| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            (now - oldest.recorded_at_ms).max(0) as f64 / 1000.0
        }),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_projections_applied_the_whole_log() {
        let (tx, rx) = watch::channel(None);
        let readiness = Readiness::with_projections(rx);
        assert_eq!(readiness.lag(None), 0);
        assert_eq!(readiness.lag(Some(9)), 10);
        tx.send_replace(Some(4));
        assert_eq!(readiness.lag(Some(9)), 5);
        tx.send_replace(Some(9));
        assert_eq!(readiness.lag(Some(9)), 0);
        assert_eq!(Readiness::store_only().lag(Some(9)), 0);
    }
}
