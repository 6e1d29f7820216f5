//! The store's record bound seen from outside (issue 12.5): a command whose event would
//! pass `opsledger_storage::limits::MAX_RECORD_BYTES` is refused with `LIMIT`, naming the
//! bound, and nothing is written.

use opsledger_storage::limits::MAX_RECORD_BYTES;
use opsledger_storage::EventStore;
use opsledger_tests::{error_code, spawn_app, ADMIN_TOKEN, RESPONDER_TOKEN};
use serde_json::json;

#[tokio::test]
async fn a_note_whose_event_passes_the_record_bound_is_refused_with_limit_and_not_written() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql(
            Some(ADMIN_TOKEN),
            r#"mutation($input: ServiceInput!) { registerService(input: $input) { id } }"#,
            json!({"input": {
                "name": "api", "ownerTeam": "core", "tier": 2, "sloTargetPercent": 99.9,
                "rtoSecs": 3600, "escalationPolicy": [{"target": "primary", "ackTimeoutSecs": 300}]
            }}),
        )
        .await;
    let service = body["data"]["registerService"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            r#"mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id } }"#,
            json!({"input": {"title": "API errors", "impacts": [{"service": service, "level": "DEGRADED"}]}}),
        )
        .await;
    let incident = body["data"]["declareIncident"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let note = r#"mutation($id: ID!, $text: String!) { addIncidentNote(id: $id, text: $text) { position } }"#;
    let head = app.store.head_position();
    let (status, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            note,
            json!({"id": incident, "text": "x".repeat(MAX_RECORD_BYTES)}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(&MAX_RECORD_BYTES.to_string()), "{message}");
    assert_eq!(app.store.head_position(), head, "nothing written");
    // A note that fits is written.
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            note,
            json!({"id": incident, "text": "x".repeat(4000)}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    app.shutdown().await;
}
