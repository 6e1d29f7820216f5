//! The Alertmanager webhook body parser (`POST /webhooks/alertmanager` before ingestion).
//!
//! Rule checked: it never panics, an accepted body is version 4 with every alert
//! fingerprinted and firing or resolved, and the per-alert derivations (summary,
//! severity, start time) never panic either.

use opsledger_api::server::webhook::{parse_alertmanager, SUPPORTED_VERSION};

/// The harness of the `alertmanager_webhook` target.
pub fn alertmanager_webhook(body: &[u8]) {
    let Ok(payload) = parse_alertmanager(body) else {
        return;
    };
    assert_eq!(payload.version, SUPPORTED_VERSION);
    for alert in &payload.alerts {
        assert!(
            !alert.fingerprint.trim().is_empty(),
            "unfingerprinted alert"
        );
        assert_eq!(alert.firing(), alert.status == "firing");
        assert!(
            alert.firing() || alert.status == "resolved",
            "unknown status"
        );
        assert!(!alert.summary().is_empty(), "empty summary");
        let _ = alert.severity_hint();
        if let Some(at) = alert.started_at() {
            assert!(at.millis() >= 0, "start before 1970: {at:?}");
        }
    }
}
