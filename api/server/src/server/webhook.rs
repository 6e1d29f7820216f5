//! `POST /webhooks/alertmanager`: the Prometheus Alertmanager webhook (version 4).
//! Each alert is routed to a service ([`super::alert_routing`]: its `service`
//! label, else the default alert service, else unrouted) and ingested into its
//! alert group (the payload's `groupKey` by default); authenticated by a
//! responder bearer token.

use super::alert_routing::{dedup_key, MisrouteReason, Route, REROUTED_LABEL};
use super::caller::{Caller, CallerRejection};
use super::AppState;
use crate::app::{AppCommand, CommandMeta, Operation};
use crate::error::{error_body, ApiError, ErrorCode};
use crate::graphql::scalars::parse_rfc3339;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use opsledger_domain::alert::{AlertGroupKey, IngestAlert};
use opsledger_domain::incident::{ImpactLevel, Severity};
use opsledger_domain::{IncidentId, Timestamp};
use opsledger_storage::{Direction, Ulid};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The webhook payload version this endpoint understands.
pub const SUPPORTED_VERSION: &str = "4";

/// Why a webhook body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The body is not the expected JSON.
    #[error("malformed JSON payload: {0}")]
    Json(String),
    /// The payload version is not 4.
    #[error("unsupported webhook version `{0}` (expected \"4\")")]
    UnsupportedVersion(String),
    /// An alert has an empty fingerprint.
    #[error("alert {index} has no fingerprint")]
    MissingFingerprint {
        /// The alert's index in `alerts`.
        index: usize,
    },
    /// A field opsledger stores breaks its bound (see README "Input bounds").
    #[error("`{field}`: {reason}")]
    OutOfBounds {
        /// The field, e.g. `alerts[0].labels.instance`.
        field: String,
        /// The rule, e.g. `at most 1000 characters`.
        reason: String,
    },
    /// An alert's status is neither `firing` nor `resolved`.
    #[error("alert {index} has status `{status}` (expected firing or resolved)")]
    UnknownStatus {
        /// The alert's index.
        index: usize,
        /// The status sent.
        status: String,
    },
}

/// The webhook body as Alertmanager sends it (only the fields opsledger uses are typed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerPayload {
    /// Payload version ("4").
    pub version: String,
    /// The notification group's key.
    #[serde(default)]
    pub group_key: String,
    /// `firing` or `resolved` (for the whole group).
    #[serde(default)]
    pub status: String,
    /// The receiver's name.
    #[serde(default)]
    pub receiver: String,
    /// Labels the group is keyed by.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert shares.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert shares.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Link back to Alertmanager.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    #[serde(default)]
    pub alerts: Vec<AlertmanagerAlert>,
}

/// One alert of the payload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels (`alertname`, `service`, `severity`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations (`summary`, `description`, ...).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    #[serde(default)]
    pub starts_at: String,
    /// When it ended (RFC 3339; the zero time while firing).
    #[serde(default)]
    pub ends_at: String,
    /// Link to the source expression.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Stable identity of the alert (the dedup key).
    #[serde(default)]
    pub fingerprint: String,
}

impl AlertmanagerAlert {
    /// Whether the alert is firing.
    pub fn firing(&self) -> bool {
        self.status == "firing"
    }

    /// `annotations.summary`, else `labels.alertname`, else the fingerprint.
    pub fn summary(&self) -> String {
        self.annotations
            .get("summary")
            .or_else(|| self.labels.get("alertname"))
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| format!("alert {}", self.fingerprint))
    }

    /// The severity hint from `labels.severity` (sev1..sev4, critical, high/error, warning, info).
    pub fn severity_hint(&self) -> Option<Severity> {
        let label = self.labels.get("severity")?.to_ascii_lowercase();
        match label.as_str() {
            "sev1" | "critical" | "page" => Some(Severity::Sev1),
            "sev2" | "high" | "error" | "major" => Some(Severity::Sev2),
            "sev3" | "warning" | "minor" => Some(Severity::Sev3),
            "sev4" | "info" | "low" => Some(Severity::Sev4),
            _ => None,
        }
    }

    /// `startsAt` as an instant, if it is a plain UTC RFC 3339 time after 1970.
    pub fn started_at(&self) -> Option<Timestamp> {
        parse_time(&self.starts_at)
    }
}

/// Parses a webhook time (RFC 3339 within 1970..=9999, else none: Alertmanager
/// sends `0001-01-01T00:00:00Z` for "unset").
fn parse_time(text: &str) -> Option<Timestamp> {
    parse_rfc3339(text).map(Timestamp::from_millis)
}

/// Checks the fields of one alert that opsledger stores against the same
/// bounded types as `ingestAlert`: the fingerprint (dedup key), the labels
/// (count, names, values) and the summary. Over-long values are refused, never
/// truncated (a truncated fingerprint could merge two alert groups).
fn check_bounds(index: usize, alert: &AlertmanagerAlert) -> Result<(), WebhookError> {
    use opsledger_domain::text::{
        AlertSummary, BoundedText, DedupKey, LabelName, LabelValue, MAX_LABELS,
    };
    let out = |field: String, reason: String| WebhookError::OutOfBounds { field, reason };
    DedupKey::parse(alert.fingerprint.as_str())
        .map_err(|e| out(format!("alerts[{index}].fingerprint"), e.to_string()))?;
    if alert.labels.len() > MAX_LABELS {
        let reason = format!("at most {MAX_LABELS} labels");
        return Err(out(format!("alerts[{index}].labels"), reason));
    }
    for (name, value) in &alert.labels {
        let field = || {
            format!(
                "alerts[{index}].labels.{}",
                name.chars().take(100).collect::<String>()
            )
        };
        LabelName::parse(name.as_str()).map_err(|e| out(field(), format!("name: {e}")))?;
        LabelValue::parse(value.as_str()).map_err(|e| out(field(), e.to_string()))?;
    }
    AlertSummary::parse(alert.summary()).map_err(|e| {
        out(
            format!("alerts[{index}].annotations.summary"),
            e.to_string(),
        )
    })?;
    Ok(())
}

/// Parses and checks a webhook body; never panics on any input.
pub fn parse_alertmanager(body: &[u8]) -> Result<AlertmanagerPayload, WebhookError> {
    let payload: AlertmanagerPayload =
        serde_json::from_slice(body).map_err(|e| WebhookError::Json(e.to_string()))?;
    if payload.version != SUPPORTED_VERSION {
        return Err(WebhookError::UnsupportedVersion(payload.version));
    }
    for (index, alert) in payload.alerts.iter().enumerate() {
        if alert.fingerprint.trim().is_empty() {
            return Err(WebhookError::MissingFingerprint { index });
        }
        if alert.status != "firing" && alert.status != "resolved" {
            return Err(WebhookError::UnknownStatus {
                index,
                status: alert.status.clone(),
            });
        }
        check_bounds(index, alert)?;
    }
    Ok(payload)
}

/// The webhook handler: authenticate, parse, route and ingest every alert, report per alert.
///
/// The status is 200 when every alert was recorded; 503 when some alert could not
/// be recorded but a retry can succeed (an unknown service that may be registered,
/// a storage failure); 422 when some alert can never be recorded as sent (no
/// `service` label and no default service). Alerts recorded before a refusal are
/// idempotent, so Alertmanager's retry of the whole payload writes them once.
pub async fn alertmanager(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    let who = match caller.authorize(Operation::AlertWebhook) {
        Ok(who) => who,
        Err((status, err)) => return refuse(status, &err),
    };
    let payload = match parse_alertmanager(&body) {
        Ok(payload) => payload,
        Err(err) => {
            let err = ApiError::validation("body", err.to_string());
            return refuse(StatusCode::BAD_REQUEST, &err);
        }
    };
    let mut status = StatusCode::OK;
    let mut results = Vec::with_capacity(payload.alerts.len());
    for alert in &payload.alerts {
        state.metrics().alert_received(alert.firing());
        let outcome = ingest_one(&state, &who, &payload.group_key, alert).await;
        status = worse(status, outcome.status());
        results.push(outcome.report(&alert.fingerprint));
    }
    (status, Json(serde_json::json!({ "alerts": results }))).into_response()
}

/// The more serious of two statuses (200 < 422 < 503: a retry of the payload
/// is asked for whenever it can help any of its alerts).
fn worse(a: StatusCode, b: StatusCode) -> StatusCode {
    let rank = |s: StatusCode| match s {
        StatusCode::OK => 0,
        StatusCode::UNPROCESSABLE_ENTITY => 1,
        _ => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// What happened to one alert.
enum AlertOutcome {
    /// Recorded in its group (`opened`, `attached`, `recorded` or `duplicate`).
    Recorded {
        position: u64,
        incident: Option<String>,
        result: &'static str,
        rerouted: Option<MisrouteReason>,
    },
    /// No service to record it under.
    Unrouted(MisrouteReason),
    /// The service refused it (a coded error).
    Failed(ApiError),
}

impl AlertOutcome {
    fn status(&self) -> StatusCode {
        match self {
            AlertOutcome::Recorded { .. } => StatusCode::OK,
            AlertOutcome::Unrouted(reason) if reason.retry_can_help() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AlertOutcome::Unrouted(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AlertOutcome::Failed(err) => match err.code() {
                ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::Conflict => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }

    fn report(&self, fingerprint: &str) -> serde_json::Value {
        match self {
            AlertOutcome::Recorded {
                position,
                incident,
                result,
                rerouted,
            } => serde_json::json!({
                "fingerprint": fingerprint,
                "code": "OK",
                "result": result,
                "position": position,
                "incident": incident,
                "reroutedBecause": rerouted.map(MisrouteReason::as_str),
            }),
            AlertOutcome::Unrouted(reason) => serde_json::json!({
                "fingerprint": fingerprint,
                "code": "UNROUTED",
                "reason": reason.as_str(),
                "message": match reason {
                    MisrouteReason::MissingServiceLabel => "the alert has no `service` label and no default alert service is configured",
                    MisrouteReason::UnknownService => "the alert's service (or the default alert service) is not registered",
                },
            }),
            AlertOutcome::Failed(err) => serde_json::json!({
                "fingerprint": fingerprint,
                "code": err.code().as_str(),
                "message": err.message(),
            }),
        }
    }
}

/// Routes and ingests one alert.
async fn ingest_one(
    state: &AppState,
    who: &crate::auth::Principal,
    group_key: &str,
    alert: &AlertmanagerAlert,
) -> AlertOutcome {
    let app = state.app();
    let route = state.config().alert_routing.route(&alert.labels, |name| {
        app.projections()
            .read(|m| m.services.by_name(name).map(|s| s.id))
    });
    let (service, rerouted) = match route {
        Route::Own(service) => (service, None),
        Route::Default(service, reason) => (service, Some(reason)),
        Route::Unrouted(reason) => {
            state.metrics().alert_unrouted(reason.as_str());
            tracing::warn!(
                fingerprint = %alert.fingerprint,
                service = alert.labels.get("service").map(String::as_str).unwrap_or(""),
                reason = reason.as_str(),
                "Alertmanager alert unrouted"
            );
            return AlertOutcome::Unrouted(reason);
        }
    };
    let mut labels: Vec<(String, String)> = alert
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(reason) = rerouted {
        state.metrics().alert_rerouted(reason.as_str());
        labels.push((REROUTED_LABEL.into(), reason.as_str().into()));
    }
    let input = IngestAlert {
        group: AlertGroupKey {
            service,
            dedup_key: dedup_key(group_key, &alert.fingerprint, &alert.labels),
        },
        source: "alertmanager".into(),
        summary: alert.summary(),
        severity_hint: alert.severity_hint(),
        labels,
        firing: alert.firing(),
        impact: ImpactLevel::PartialOutage,
        started_at: alert.started_at(),
        new_incident_id: IncidentId::new(Ulid::new()),
    };
    // A redelivery of the same alert instance (same start, same status) is written once.
    let key = format!(
        "alertmanager:{}:{}:{}",
        alert.fingerprint, alert.status, alert.starts_at
    );
    let key: String = key.chars().take(200).collect();
    match app
        .execute(who, CommandMeta::keyed(key), AppCommand::IngestAlert(input))
        .await
    {
        Ok(out) => {
            let result = if out.replayed {
                "duplicate"
            } else {
                group_result(state, &out).await
            };
            state.metrics().alert_ingested(result);
            AlertOutcome::Recorded {
                position: out.position,
                incident: out.incident.map(|id| id.to_string()),
                result,
                rerouted,
            }
        }
        Err(err) => AlertOutcome::Failed(ApiError::from(err)),
    }
}

/// What the ingestion wrote to its group, read back from the log:
/// `opened` (a new incident), `attached` (to the open one) or `recorded`.
async fn group_result(state: &AppState, out: &crate::app::CommandOutcome) -> &'static str {
    let (Some(last), Ok(written)) = (out.stream_version, u64::try_from(out.events_written)) else {
        return "recorded";
    };
    let first = (last + 1).saturating_sub(written);
    let events = state
        .store()
        .read_stream(
            &out.stream_id,
            first,
            Direction::Forward,
            out.events_written,
        )
        .await
        .unwrap_or_default();
    if events
        .iter()
        .any(|e| e.type_name.starts_with("IncidentOpenedForGroup"))
    {
        "opened"
    } else if events.iter().any(|e| e.type_name == "AlertAttached") {
        "attached"
    } else {
        "recorded"
    }
}

/// A coded error response.
fn refuse(status: StatusCode, err: &ApiError) -> Response {
    (status, Json(error_body(err))).into_response()
}

/// [`alertmanager`], counting each answer by status in `/metrics`.
/// (A refused token is counted too: the extractor's rejection is answered here.)
pub async fn alertmanager_counted(
    state: State<AppState>,
    caller: Result<Caller, CallerRejection>,
    body: Bytes,
) -> Response {
    let metrics = state.0.clone();
    let response = match caller {
        Ok(caller) => alertmanager(state, caller, body).await,
        Err(rejected) => rejected.into_response(),
    };
    metrics
        .metrics()
        .webhook_request(response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALISTIC: &str = r#"{
      "version": "4",
      "groupKey": "{}:{alertname=\"HighErrorRate\"}",
      "truncatedAlerts": 0,
      "status": "firing",
      "receiver": "opsledger",
      "groupLabels": {"alertname": "HighErrorRate"},
      "commonLabels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
      "commonAnnotations": {"summary": "Checkout 5xx above 5%"},
      "externalURL": "http://alertmanager:9093",
      "alerts": [
        {
          "status": "firing",
          "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical", "instance": "web-1"},
          "annotations": {"summary": "Checkout 5xx above 5%", "description": "rate 7.2%"},
          "startsAt": "2024-05-01T12:00:00.123456789Z",
          "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
          "fingerprint": "c0ffee1234567890"
        },
        {
          "status": "resolved",
          "labels": {"alertname": "DiskFull", "service": "checkout"},
          "annotations": {},
          "startsAt": "2024-05-01T11:00:00Z",
          "endsAt": "2024-05-01T11:30:00Z",
          "generatorURL": "",
          "fingerprint": "deadbeef"
        }
      ]
    }"#;

    #[test]
    fn realistic_payload_parses_with_summary_severity_and_start() {
        let payload = parse_alertmanager(REALISTIC.as_bytes()).unwrap();
        assert_eq!(payload.receiver, "opsledger");
        assert_eq!(payload.external_url, "http://alertmanager:9093");
        assert_eq!(payload.alerts.len(), 2);
        let first = &payload.alerts[0];
        assert!(first.firing());
        assert_eq!(first.summary(), "Checkout 5xx above 5%");
        assert_eq!(first.severity_hint(), Some(Severity::Sev1));
        assert_eq!(
            first.started_at(),
            Some(Timestamp::from_millis(1_714_564_800_123))
        );
        let second = &payload.alerts[1];
        assert!(!second.firing());
        assert_eq!(second.summary(), "DiskFull");
        assert_eq!(second.severity_hint(), None);
    }

    #[test]
    fn other_versions_are_refused() {
        let body = br#"{"version":"3","alerts":[]}"#;
        assert_eq!(
            parse_alertmanager(body),
            Err(WebhookError::UnsupportedVersion("3".into()))
        );
    }

    #[test]
    fn an_alert_without_fingerprint_is_refused_by_index() {
        let body = br#"{"version":"4","alerts":[{"status":"firing","fingerprint":"a"},{"status":"firing"}]}"#;
        assert_eq!(
            parse_alertmanager(body),
            Err(WebhookError::MissingFingerprint { index: 1 })
        );
    }

    #[test]
    fn unknown_alert_status_is_refused() {
        let body = br#"{"version":"4","alerts":[{"status":"pending","fingerprint":"a"}]}"#;
        assert_eq!(
            parse_alertmanager(body),
            Err(WebhookError::UnknownStatus {
                index: 0,
                status: "pending".into()
            })
        );
    }

    #[test]
    fn an_over_long_label_value_refuses_the_body_naming_the_label() {
        let mut payload: serde_json::Value = serde_json::from_str(REALISTIC).unwrap();
        payload["alerts"][0]["labels"]["instance"] = "x".repeat(1_001).into();
        let body = serde_json::to_vec(&payload).unwrap();
        assert_eq!(
            parse_alertmanager(&body),
            Err(WebhookError::OutOfBounds {
                field: "alerts[0].labels.instance".into(),
                reason: "at most 1000 characters".into()
            })
        );
    }

    #[test]
    fn an_over_long_summary_or_fingerprint_refuses_the_body() {
        let mut payload: serde_json::Value = serde_json::from_str(REALISTIC).unwrap();
        payload["alerts"][1]["annotations"]["summary"] = "s".repeat(1_001).into();
        let body = serde_json::to_vec(&payload).unwrap();
        assert!(matches!(
            parse_alertmanager(&body),
            Err(WebhookError::OutOfBounds { field, .. }) if field == "alerts[1].annotations.summary"
        ));
        let mut payload: serde_json::Value = serde_json::from_str(REALISTIC).unwrap();
        payload["alerts"][0]["fingerprint"] = "f".repeat(201).into();
        let body = serde_json::to_vec(&payload).unwrap();
        assert!(matches!(
            parse_alertmanager(&body),
            Err(WebhookError::OutOfBounds { field, .. }) if field == "alerts[0].fingerprint"
        ));
    }

    #[test]
    fn garbage_is_a_json_error() {
        assert!(matches!(
            parse_alertmanager(b"\xff\x00{"),
            Err(WebhookError::Json(_))
        ));
    }

    #[test]
    fn absurd_times_are_ignored_not_panics() {
        let mut alert = parse_alertmanager(REALISTIC.as_bytes()).unwrap().alerts[0].clone();
        for text in [
            "99999999999999999999-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "",
            "2024-13-01T00:00:00Z",
        ] {
            alert.starts_at = text.into();
            assert_eq!(alert.started_at(), None, "{text}");
        }
    }

    /// Arbitrary bytes and mutations of a real payload (truncations, byte flips) never panic.
    #[test]
    fn parser_never_panics_on_arbitrary_or_mangled_bytes() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let real = REALISTIC.as_bytes();
        for round in 0..3000 {
            let bytes: Vec<u8> = match round % 3 {
                0 => (0..next() % 300).map(|_| next() as u8).collect(),
                1 => real[..(next() as usize % real.len())].to_vec(),
                _ => {
                    let mut b = real.to_vec();
                    for _ in 0..1 + next() % 4 {
                        let at = next() as usize % b.len();
                        b[at] = next() as u8;
                    }
                    b
                }
            };
            let _ = parse_alertmanager(&bytes);
        }
    }
}
