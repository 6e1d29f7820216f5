//! The store's record bound seen from outside (issue 12.5): the edge's text budget per
//! command (`opsledger_domain::text::MAX_COMMAND_TEXT_BYTES`) keeps every command's
//! events below the store's hard cap (`opsledger_storage::limits::MAX_RECORD_BYTES`):
//! more text is refused with `LIMIT` naming the budget and nothing is written, and the
//! largest text the edge accepts is stored (the store would refuse a record over its cap).

use opsledger_domain::text::MAX_COMMAND_TEXT_BYTES;
use opsledger_storage::limits::MAX_RECORD_BYTES;
use opsledger_storage::EventStore;
use opsledger_tests::{error_code, spawn_app, ADMIN_TOKEN, RESPONDER_TOKEN};
use serde_json::json;

#[tokio::test]
async fn the_largest_note_the_edge_accepts_fits_the_stores_record_cap_and_more_is_refused() {
    const { assert!(MAX_COMMAND_TEXT_BYTES + 1024 <= MAX_RECORD_BYTES) };
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
            // 4,000 characters (the note's bound) of 3 bytes each: 12,000 bytes.
            json!({"id": incident, "text": "\u{20AC}".repeat(4000)}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&MAX_COMMAND_TEXT_BYTES.to_string()),
        "{message}"
    );
    assert_eq!(app.store.head_position(), head, "nothing written");
    // The largest note the edge accepts (5,120 bytes of four-byte characters) is written.
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            note,
            json!({"id": incident, "text": "\u{1F525}".repeat(MAX_COMMAND_TEXT_BYTES / 4)}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    app.shutdown().await;
}
