//! Idempotency keys over real HTTP (issue 12.6): a key is scoped to the actor that sends
//! it and bound to the request it was first sent with (operation + normalized arguments).
//! The same actor, operation and arguments get the first result; another operation or
//! other arguments are `IDEMPOTENCY_KEY_REUSED` naming the first operation; another actor's
//! identical key is its own command. The binding survives a restart.

use opsledger_tests::{
    error_code, spawn_app, TestApp, ADMIN_TOKEN, APPROVER2_TOKEN, APPROVER_TOKEN,
    MANAGER_APPROVER_TOKEN, RESPONDER_TOKEN,
};
use serde_json::{json, Value};

const REGISTER: &str = r#"mutation($input: ServiceInput!, $key: String) {
  registerService(input: $input, idempotencyKey: $key) { id position service { name } } }"#;

const DECLARE: &str = r#"mutation($input: DeclareIncidentInput!, $key: String) {
  declareIncident(input: $input, idempotencyKey: $key) { id streamId incident { title } } }"#;

const NOTE: &str = r#"mutation($id: ID!, $text: String!, $key: String) {
  addIncidentNote(id: $id, text: $text, idempotencyKey: $key) { position } }"#;

fn service(name: &str) -> Value {
    json!({
        "name": name, "ownerTeam": "core", "tier": 2, "sloTargetPercent": 99.9,
        "rtoSecs": 3600, "escalationPolicy": [{"target": "primary", "ackTimeoutSecs": 300}]
    })
}

async fn call(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (status, body) = app.graphql(Some(token), query, vars).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let body = call(app, token, query, vars).await;
    assert!(body["errors"].is_null(), "unexpected errors: {body}");
    body["data"].clone()
}

/// The error of a request that must be refused as a reused key, naming `first_operation`.
async fn reused(app: &TestApp, token: &str, query: &str, vars: Value, first_operation: &str) {
    let body = call(app, token, query, vars).await;
    assert_eq!(error_code(&body), Some("IDEMPOTENCY_KEY_REUSED"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(first_operation), "{message}");
}

fn head(app: &TestApp) -> Option<u64> {
    opsledger_storage::EventStore::head_position(app.store.as_ref())
}

async fn registered(app: &TestApp, name: &str, key: &str) -> Value {
    ok(
        app,
        ADMIN_TOKEN,
        REGISTER,
        json!({"input": service(name), "key": key}),
    )
    .await["registerService"]
        .clone()
}

#[tokio::test]
async fn the_same_actor_operation_and_arguments_get_the_first_result_and_write_once() {
    let app = spawn_app().await;
    let first = registered(&app, "payments", "k-same").await;
    let written = head(&app);
    // A retry of the same request (the variables sent in another order).
    let again = ok(
        &app,
        ADMIN_TOKEN,
        REGISTER,
        json!({"key": "k-same", "input": service("payments")}),
    )
    .await["registerService"]
        .clone();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["position"], first["position"]);
    assert_eq!(head(&app), written);
    app.shutdown().await;
}

#[tokio::test]
async fn a_key_reused_with_other_arguments_is_refused_naming_the_first_operation() {
    let app = spawn_app().await;
    registered(&app, "service-a", "k-args").await;
    let written = head(&app);
    reused(
        &app,
        ADMIN_TOKEN,
        REGISTER,
        json!({"input": service("service-b"), "key": "k-args"}),
        "registerService",
    )
    .await;
    assert_eq!(head(&app), written, "nothing written");
    app.shutdown().await;
}

#[tokio::test]
async fn a_key_reused_for_another_mutation_is_refused_naming_the_first_operation() {
    let app = spawn_app().await;
    let svc = registered(&app, "checkout", "k-op").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let written = head(&app);
    let input =
        json!({"title": "Checkout down", "impacts": [{"service": svc, "level": "MAJOR_OUTAGE"}]});
    // Same actor (root is admin, which responds too), another mutation.
    reused(
        &app,
        ADMIN_TOKEN,
        DECLARE,
        json!({"input": input, "key": "k-op"}),
        "registerService",
    )
    .await;
    assert_eq!(head(&app), written, "nothing written");
    app.shutdown().await;
}

#[tokio::test]
async fn another_actors_identical_key_is_its_own_command() {
    let app = spawn_app().await;
    let svc = registered(&app, "search", "k-svc").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let input = json!({"title": "Search slow", "impacts": [{"service": svc, "level": "DEGRADED"}]});
    let incident = ok(&app, RESPONDER_TOKEN, DECLARE, json!({"input": input})).await
        ["declareIncident"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let note = |text: &str| json!({"id": incident, "text": text, "key": "k-note"});
    let by_rita = ok(&app, RESPONDER_TOKEN, NOTE, note("rita's note")).await;
    // root sends the same key: a command of its own, written.
    let by_root = ok(&app, ADMIN_TOKEN, NOTE, note("root's note")).await;
    assert!(
        by_root["addIncidentNote"]["position"].as_u64()
            > by_rita["addIncidentNote"]["position"].as_u64()
    );
    let notes = opsledger_storage::EventStore::read_stream(
        app.store.as_ref(),
        &format!("incident-{incident}"),
        0,
        opsledger_storage::Direction::Forward,
        100,
    )
    .await
    .unwrap();
    let actors: Vec<&str> = notes
        .iter()
        .filter(|e| e.type_name == "IncidentNoteAdded")
        .map(|e| e.actor.as_str())
        .collect();
    assert_eq!(actors, ["rita", "root"]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_second_approver_reusing_the_first_approvers_key_is_counted() {
    let app = spawn_app().await;
    let svc = registered(&app, "ledger", "k-ledger").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 2 * 86_400_000;
    let fmt = opsledger_api::graphql::scalars::format_rfc3339;
    let input = json!({
        "changeType": "NORMAL", "category": "RELEASE", "title": "ledger v2",
        "services": [svc], "window": {"start": fmt(start), "end": fmt(start + 3_600_000)},
        "implementationPlan": "deploy", "rollbackPlan": "redeploy v1", "validationSteps": ["smoke"]
    });
    let change = ok(
        &app,
        MANAGER_APPROVER_TOKEN,
        "mutation($input: RequestChangeInput!) { requestChange(input: $input) { id } }",
        json!({"input": input}),
    )
    .await["requestChange"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app,
        MANAGER_APPROVER_TOKEN,
        "mutation($id: ID!) { submitChange(id: $id) { position } }",
        json!({"id": change}),
    )
    .await;
    let approve = r#"mutation($id: ID!, $key: String) {
      approveChange(id: $id, comment: "ok", idempotencyKey: $key) { change { status } } }"#;
    let vars = json!({"id": change, "key": "approve-1"});
    let first = ok(&app, APPROVER_TOKEN, approve, vars.clone()).await;
    assert_eq!(first["approveChange"]["change"]["status"], "SUBMITTED");
    let second = ok(&app, APPROVER2_TOKEN, approve, vars).await;
    assert_eq!(second["approveChange"]["change"]["status"], "APPROVED");
    app.shutdown().await;
}

#[tokio::test]
async fn the_binding_of_a_key_survives_a_restart() {
    let app = spawn_app().await;
    let first = registered(&app, "billing", "k-restart").await;
    let app = app.restart().await;
    let written = head(&app);
    let again = registered(&app, "billing", "k-restart").await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["position"], first["position"]);
    reused(
        &app,
        ADMIN_TOKEN,
        REGISTER,
        json!({"input": service("other"), "key": "k-restart"}),
        "registerService",
    )
    .await;
    assert_eq!(head(&app), written, "nothing written after the restart");
    app.shutdown().await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_and_other_arguments_write_one_and_refuse_the_rest() {
    let app = spawn_app().await;
    let calls = (0..6).map(|i| {
        let app = &app;
        async move {
            call(
                app,
                ADMIN_TOKEN,
                REGISTER,
                json!({"input": service(&format!("race-{i}")), "key": "k-race"}),
            )
            .await
        }
    });
    let bodies = futures::future::join_all(calls).await;
    let written = bodies.iter().filter(|b| b["errors"].is_null()).count();
    let refused = bodies
        .iter()
        .filter(|b| error_code(b) == Some("IDEMPOTENCY_KEY_REUSED"))
        .count();
    assert_eq!((written, refused), (1, 5), "{bodies:?}");
    app.shutdown().await;
}
