//! Input bounds from outside, over real HTTP against a spawned server: every
//! stored string has a bound (README "Input bounds"), timestamps are RFC 3339
//! within 1970..=9999 and not in the future beyond the clock skew, and ids are
//! strict ULIDs. Each refusal is a coded error naming the field, and writes
//! nothing (the log head does not move).

use opsledger_tests::{
    error_code, spawn_app, TestApp, ADMIN_TOKEN, CHANGE_MANAGER_TOKEN, RESPONDER_TOKEN,
    VIEWER_TOKEN,
};
use serde_json::{json, Value};

async fn log_head(app: &TestApp) -> Value {
    let (_, body) = app
        .graphql(Some(VIEWER_TOKEN), "{ logHead }", json!({}))
        .await;
    body["data"]["logHead"].clone()
}

async fn register_service(app: &TestApp, name: &str) -> String {
    let (_, body) = app
        .graphql(
            Some(ADMIN_TOKEN),
            "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
            json!({"input": {"name": name, "ownerTeam": "core", "tier": 1,
                "sloTargetPercent": 99.9,
                "escalationPolicy": [{"target": "core", "ackTimeoutSecs": 300}]}}),
        )
        .await;
    body["data"]["registerService"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("register: {body}"))
        .to_owned()
}

const DECLARE: &str = "mutation($input: DeclareIncidentInput!) {
    declareIncident(input: $input) { id incident { status startedAt detectedAt } } }";

async fn declare(app: &TestApp, service: &str, extra: Value) -> (u16, Value) {
    let mut input = json!({"title": "Checkout errors",
        "impacts": [{"service": service, "level": "MAJOR_OUTAGE"}]});
    for (k, v) in extra.as_object().expect("object") {
        input[k] = v.clone();
    }
    app.graphql(Some(RESPONDER_TOKEN), DECLARE, json!({ "input": input }))
        .await
}

async fn declared_incident(app: &TestApp, service: &str) -> String {
    let (_, body) = declare(app, service, json!({})).await;
    body["data"]["declareIncident"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("declare: {body}"))
        .to_owned()
}

/// Asserts a VALIDATION error whose message names `field` and contains `rule`.
fn assert_refused(body: &Value, field: &str, rule: &str) {
    assert_eq!(error_code(body), Some("VALIDATION"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(field), "`{field}` not named in {message}");
    assert!(message.contains(rule), "`{rule}` not in {message}");
}

#[tokio::test]
async fn over_long_strings_are_validation_naming_the_field_and_the_limit_and_write_nothing() {
    let app = spawn_app().await;
    let service = register_service(&app, "checkout").await;
    let incident = declared_incident(&app, &service).await;
    let head = log_head(&app).await;
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            RESPONDER_TOKEN,
            "mutation($id: ID!, $t: String!) { addIncidentNote(id: $id, text: $t) { position } }",
            json!({"id": incident, "t": long(4_001)}),
            "text",
            "at most 4000 characters",
        ),
        (
            RESPONDER_TOKEN,
            "mutation($id: ID!, $m: String!) {
                postStatusUpdate(id: $id, visibility: PUBLIC, message: $m) { position } }",
            json!({"id": incident, "m": long(1_000_000)}),
            "message",
            "at most 2000 characters",
        ),
        (
            RESPONDER_TOKEN,
            "mutation($id: ID!, $s: ID!, $k: String!) {
                linkAlert(id: $id, service: $s, dedupKey: $k) { position } }",
            json!({"id": incident, "s": service, "k": long(201)}),
            "dedupKey",
            "at most 200 characters",
        ),
        (
            RESPONDER_TOKEN,
            "mutation($id: ID!, $s: String!) { resolveIncident(id: $id, summary: $s) { position } }",
            json!({"id": incident, "s": long(4_001)}),
            "summary",
            "at most 4000 characters",
        ),
        (
            RESPONDER_TOKEN,
            "mutation($id: ID!, $c: String!) { assignCommander(id: $id, commander: $c) { position } }",
            json!({"id": incident, "c": "bob\nsmith"}),
            "commander",
            "control character U+000A",
        ),
        (
            ADMIN_TOKEN,
            "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
            json!({"input": {"name": "other", "ownerTeam": "core", "tier": 2,
                "sloTargetPercent": 99.0, "description": long(5_001)}}),
            "input.description",
            "at most 5000 characters",
        ),
        (
            ADMIN_TOKEN,
            "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
            json!({"input": {"name": "other", "ownerTeam": long(101), "tier": 2,
                "sloTargetPercent": 99.0}}),
            "input.ownerTeam",
            "at most 100 characters",
        ),
        (
            RESPONDER_TOKEN,
            "mutation($input: AlertInputGql!) { ingestAlert(input: $input) { position } }",
            json!({"input": {"service": service, "dedupKey": "k", "summary": long(1_001)}}),
            "input.summary",
            "at most 1000 characters",
        ),
        (
            RESPONDER_TOKEN,
            "mutation($input: AlertInputGql!) { ingestAlert(input: $input) { position } }",
            json!({"input": {"service": service, "dedupKey": "k", "summary": "s",
                "labels": [{"name": "instance", "value": long(1_001)}]}}),
            "input.labels[0].value",
            "at most 1000 characters",
        ),
        (
            CHANGE_MANAGER_TOKEN,
            "mutation($input: RequestChangeInput!) { requestChange(input: $input) { id } }",
            json!({"input": {"changeType": "NORMAL", "category": "RELEASE", "title": "t",
                "services": [service],
                "window": {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z"},
                "implementationPlan": long(5_001), "rollbackPlan": "r"}}),
            "input.implementationPlan",
            "at most 5000 characters",
        ),
        (
            RESPONDER_TOKEN,
            "mutation($id: ID!) { acknowledgeIncident(id: $id, idempotencyKey: \"k\\u0000\") { position } }",
            json!({"id": incident}),
            "idempotencyKey",
            "control character U+0000",
        ),
    ];
    for (token, query, variables, field, rule) in cases {
        let (_, body) = app.graphql(Some(token), query, variables).await;
        assert_refused(&body, field, rule);
    }
    assert_eq!(log_head(&app).await, head, "a refused command wrote events");
    let (_, page) = app
        .graphql(None, "{ statusPage { overall } }", json!({}))
        .await;
    assert!(page["errors"].is_null(), "{page}");
}

#[tokio::test]
async fn a_string_at_its_bound_is_accepted() {
    let app = spawn_app().await;
    let service = register_service(&app, "checkout").await;
    let incident = declared_incident(&app, &service).await;
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            "mutation($id: ID!, $t: String!) { addIncidentNote(id: $id, text: $t) { position } }",
            json!({"id": incident, "t": "x".repeat(4_000)}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // 1,280 four-byte characters: within the note's 4,000 characters and exactly
    // the 5 KiB text budget of one command.
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            "mutation($id: ID!, $t: String!) { addIncidentNote(id: $id, text: $t) { position } }",
            json!({"id": incident, "t": "\u{1F525}".repeat(1_280)}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn the_text_of_one_command_is_limited_to_5_kib() {
    let app = spawn_app().await;
    let service = register_service(&app, "checkout").await;
    let head = log_head(&app).await;
    // Each field within its 5,000-character bound, 7,200 bytes together.
    let wide = "\u{20AC}".repeat(800);
    let (_, body) = app
        .graphql(
            Some(CHANGE_MANAGER_TOKEN),
            "mutation($input: RequestChangeInput!) { requestChange(input: $input) { id } }",
            json!({"input": {"changeType": "NORMAL", "category": "RELEASE", "title": "t",
                "description": wide, "services": [service],
                "window": {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z"},
                "implementationPlan": wide, "rollbackPlan": wide}}),
        )
        .await;
    assert_eq!(error_code(&body), Some("LIMIT"), "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("5120 bytes"));
    assert_eq!(log_head(&app).await, head);
}

#[tokio::test]
async fn the_webhook_refuses_an_over_long_label_with_400_and_writes_nothing() {
    let app = spawn_app().await;
    register_service(&app, "checkout").await;
    let head = log_head(&app).await;
    let payload = json!({"version": "4", "alerts": [{
        "status": "firing", "fingerprint": "abc123",
        "labels": {"service": "checkout", "instance": "x".repeat(1_001)},
        "annotations": {"summary": "CPU high"},
        "startsAt": "2024-05-01T12:00:00Z"}]});
    let response = app
        .client
        .post(app.url("/webhooks/alertmanager"))
        .bearer_auth(RESPONDER_TOKEN)
        .json(&payload)
        .send()
        .await
        .expect("POST webhook");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json body");
    assert_refused(
        &body,
        "alerts[0].labels.instance",
        "at most 1000 characters",
    );
    assert_eq!(log_head(&app).await, head);
}

#[tokio::test]
async fn timestamps_must_be_rfc_3339_within_1970_to_9999() {
    let app = spawn_app().await;
    let service = register_service(&app, "checkout").await;
    let head = log_head(&app).await;
    for bad in [
        "9223372036854775807-01-01T00:00:00Z",
        "2024-1-1T0:0:0Z",
        "+2024-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2024-01-01T00:00:00",
    ] {
        // async-graphql does not name a variable's input field: the message
        // names the refused value and the input type instead.
        let (_, body) = declare(&app, &service, json!({ "detectedAt": bad })).await;
        assert_refused(&body, bad, "RFC 3339");
        assert_refused(&body, "DeclareIncidentInput", "1970-01-01");
    }
    assert_eq!(log_head(&app).await, head);
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "{ kpis(from: \"2024-1-1T0:0:0Z\", to: \"2025-01-01T00:00:00Z\") { totals { incidentsResolved } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}

#[tokio::test]
async fn timestamps_with_an_offset_are_accepted_and_normalised_to_utc() {
    let app = spawn_app().await;
    let service = register_service(&app, "checkout").await;
    let (_, body) = declare(
        &app,
        &service,
        json!({"startedAt": "2024-05-01T13:30:00+02:00", "detectedAt": "2024-05-01T12:00:00.250+00:00"}),
    )
    .await;
    let incident = &body["data"]["declareIncident"]["incident"];
    assert_eq!(incident["startedAt"], "2024-05-01T11:30:00.000Z", "{body}");
    assert_eq!(incident["detectedAt"], "2024-05-01T12:00:00.250Z", "{body}");
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "{ kpis(from: \"2024-01-01T02:00:00+02:00\", to: \"2025-01-01T00:00:00-00:00\") { totals { incidentsResolved } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn a_detection_in_the_future_beyond_the_clock_skew_is_refused() {
    let app = spawn_app().await;
    let service = register_service(&app, "checkout").await;
    let head = log_head(&app).await;
    let (_, body) = declare(
        &app,
        &service,
        json!({"detectedAt": "2100-01-01T00:00:00Z"}),
    )
    .await;
    assert_refused(&body, "detectedAt", "5 minutes");
    assert_eq!(log_head(&app).await, head);
    // A started-after-detected declaration is refused too.
    let (_, body) = declare(
        &app,
        &service,
        json!({"startedAt": "2024-05-01T12:00:01Z", "detectedAt": "2024-05-01T12:00:00Z"}),
    )
    .await;
    assert!(error_code(&body).is_some(), "{body}");
    assert_eq!(log_head(&app).await, head);
}

/// The id with its first character moved up by 8 (`0` → `8`): the same low
/// 128 bits, an overflowing 130-bit value.
fn overflowing(id: &str) -> String {
    let digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let first = digits.find(&id[..1]).expect("crockford digit");
    format!("{}{}", &digits[first + 8..first + 9], &id[1..])
}

#[tokio::test]
async fn an_overflowing_ulid_is_validation_and_never_touches_the_real_incident() {
    let app = spawn_app().await;
    let service = register_service(&app, "checkout").await;
    let incident = declared_incident(&app, &service).await;
    let head = log_head(&app).await;
    let bad = overflowing(&incident);
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            "mutation($id: ID!) { acknowledgeIncident(id: $id) { position } }",
            json!({ "id": bad }),
        )
        .await;
    assert_refused(&body, "id", "not a valid id");
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "query($id: ID!) { incident(id: $id) { id } }",
            json!({ "id": bad }),
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    assert_eq!(
        log_head(&app).await,
        head,
        "the overflowing id wrote events"
    );
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "query($id: ID!) { incident(id: $id) { status } }",
            json!({ "id": incident.to_ascii_lowercase() }),
        )
        .await;
    assert_eq!(body["data"]["incident"]["status"], "TRIGGERED", "{body}");
}
