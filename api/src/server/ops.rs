//! Operational endpoints: `/healthz` (the process is up), `/readyz` (the read
//! models have caught up with the log) and `/metrics` (Prometheus text).

use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

/// Whether the server can answer with up-to-date read models.
///
/// The hook is the projection runner's position: a `watch` of how many log
/// events the read models have applied (= the next position they will apply,
/// positions being 0-based and gap-free). Without projections the server is
/// ready as soon as the store is open.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    applied: Option<watch::Receiver<u64>>,
}

impl Readiness {
    /// Ready whenever the store is open (no read models yet).
    pub fn store_only() -> Self {
        Readiness { applied: None }
    }

    /// Ready when the read models have applied every event of the log.
    pub fn with_projections(applied: watch::Receiver<u64>) -> Self {
        Readiness {
            applied: Some(applied),
        }
    }

    /// Events in the log (whose last position is `head`) not yet applied.
    pub fn lag(&self, head: Option<u64>) -> u64 {
        let log_len = head.map_or(0, |h| h.saturating_add(1));
        match &self.applied {
            Some(applied) => log_len.saturating_sub(*applied.borrow()),
            None => 0,
        }
    }
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
    let log_len = head.map_or(0, |h| h.saturating_add(1));
    state
        .metrics()
        .set_positions(log_len, state.readiness().lag(head));
    match state.metrics().render() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot render metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_projections_applied_the_whole_log() {
        let (tx, rx) = watch::channel(0);
        let readiness = Readiness::with_projections(rx);
        assert_eq!(readiness.lag(None), 0);
        assert_eq!(readiness.lag(Some(9)), 10);
        tx.send_replace(10);
        assert_eq!(readiness.lag(Some(9)), 0);
        assert_eq!(Readiness::store_only().lag(Some(9)), 0);
    }
}
