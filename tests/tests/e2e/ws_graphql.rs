//! GraphQL over WebSocket against a real server: graphql-transport-ws close
//! codes, the subscription limit, the `events` subscription (catch-up then
//! live), the legacy protocol, and dropping a slow consumer.

use opsledger_api::server::ServerConfig;
use opsledger_tests::{
    spawn_app, spawn_app_with, test_limits, WsClient, WsEvent, NO_ROLE_TOKEN, VIEWER_TOKEN,
};
use serde_json::{json, Value};
use std::time::Duration;

const EVENTS: &str = "subscription($from: Int!, $filter: EventFilter) {
    events(fromPosition: $from, filter: $filter) { position streamId type } }";

const EVENTS_IN_FULL: &str = "subscription($from: Int!) { events(fromPosition: $from) {
    position streamId streamVersion eventId type schemaVersion recordedAt actor
    commandId correlationId causationId prevHash hash } }";

fn positions(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["payload"]["data"]["events"]["position"].as_u64().unwrap())
        .collect()
}

async fn next_messages(ws: &mut WsClient, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(ws.next_json().await);
    }
    out
}

#[tokio::test]
async fn no_init_in_time_closes_4408() {
    let app = spawn_app().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    assert_eq!(ws.close_code().await, 4408);
}

#[tokio::test]
async fn bad_token_closes_4403() {
    let app = spawn_app().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"authorization": "Bearer nope"}}))
        .await;
    assert_eq!(ws.close_code().await, 4403);
}

#[tokio::test]
async fn subscribe_before_ack_closes_4401() {
    let app = spawn_app().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.subscribe("1", EVENTS, json!({"from": 0})).await;
    assert_eq!(ws.close_code().await, 4401);
}

#[tokio::test]
async fn duplicate_subscription_id_closes_4409() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe("1", EVENTS, json!({"from": 0})).await;
    ws.subscribe("1", EVENTS, json!({"from": 0})).await;
    assert_eq!(ws.close_code().await, 4409);
}

#[tokio::test]
async fn second_init_closes_4429() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(None).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.close_code().await, 4429);
}

#[tokio::test]
async fn invalid_message_closes_4400() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(None).await;
    ws.send_text("{\"type\": \"subscribe\"}").await;
    assert_eq!(ws.close_code().await, 4400);
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(None).await;
    ws.send(json!({"type": "ping", "payload": {"n": 1}})).await;
    assert_eq!(
        ws.next_json().await,
        json!({"type": "pong", "payload": {"n": 1}})
    );
}

#[tokio::test]
async fn twenty_first_subscription_gets_a_limit_error() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    for id in 0..21 {
        ws.subscribe(&id.to_string(), EVENTS, json!({"from": 0}))
            .await;
    }
    let error = ws.next_json().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "20");
    assert_eq!(error["payload"][0]["extensions"]["code"], "LIMIT");
}

#[tokio::test]
async fn subscription_without_the_role_gets_a_forbidden_error() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(Some(NO_ROLE_TOKEN)).await;
    ws.subscribe("1", EVENTS, json!({"from": 0})).await;
    let error = ws.next_json().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["payload"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn events_subscription_catches_up_then_goes_live_without_gaps() {
    let app = spawn_app().await;
    app.append("incident-a", "TestHappened", 3).await;
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe("s", EVENTS, json!({"from": 1})).await;
    let caught_up = next_messages(&mut ws, 2).await;
    assert_eq!(positions(&caught_up), vec![1, 2]);
    assert_eq!(caught_up[0]["type"], "next");
    assert_eq!(caught_up[0]["id"], "s");
    app.append("incident-b", "TestHappened", 2).await;
    app.append("incident-a", "TestHappened", 1).await;
    assert_eq!(positions(&next_messages(&mut ws, 3).await), vec![3, 4, 5]);
}

#[tokio::test]
async fn events_subscription_applies_the_filter() {
    let app = spawn_app().await;
    app.append("incident-a", "IncidentThing", 2).await;
    app.append("change-a", "ChangeThing", 2).await;
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe(
        "s",
        EVENTS,
        json!({"from": 0, "filter": {"streamPrefix": "change-"}}),
    )
    .await;
    app.append("incident-a", "IncidentThing", 1).await;
    app.append("change-b", "ChangeThing", 1).await;
    let got = next_messages(&mut ws, 3).await;
    assert_eq!(positions(&got), vec![2, 3, 5]);
    assert!(got
        .iter()
        .all(|m| m["payload"]["data"]["events"]["type"] == "ChangeThing"));
}

#[tokio::test]
async fn complete_stops_a_subscription_and_frees_its_id() {
    let app = spawn_app().await;
    app.append("incident-a", "TestHappened", 1).await;
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe("s", EVENTS, json!({"from": 0})).await;
    assert_eq!(positions(&next_messages(&mut ws, 1).await), vec![0]);
    ws.send(json!({"type": "complete", "id": "s"})).await;
    // Reusing the id is not a duplicate once completed.
    ws.subscribe("s", EVENTS, json!({"from": 0})).await;
    assert_eq!(positions(&next_messages(&mut ws, 1).await), vec![0]);
}

#[tokio::test]
async fn queries_run_over_websocket_and_complete() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe("q", "{ logHead }", Value::Null).await;
    assert_eq!(
        ws.next_json().await,
        json!({"type": "next", "id": "q", "payload": {"data": {"logHead": null}}})
    );
    assert_eq!(ws.next_json().await, json!({"type": "complete", "id": "q"}));
}

#[tokio::test]
async fn legacy_graphql_ws_protocol_is_supported() {
    let app = spawn_app().await;
    app.append("incident-a", "TestHappened", 2).await;
    let mut ws = app.ws("graphql-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"token": VIEWER_TOKEN}}))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.send(
        json!({"type": "start", "id": "1", "payload": {"query": EVENTS, "variables": {"from": 0}}}),
    )
    .await;
    let got = next_messages(&mut ws, 2).await;
    assert_eq!(got[0]["type"], "data");
    assert_eq!(positions(&got), vec![0, 1]);
    ws.send(json!({"type": "stop", "id": "1"})).await;
    ws.send(json!({"type": "connection_terminate"})).await;
    assert_eq!(ws.close_code().await, 1000);
}

#[tokio::test]
async fn slow_consumer_is_dropped_without_blocking_another_subscriber() {
    let mut limits = test_limits();
    limits.ws_outgoing_buffer = 8;
    limits.ws_slow_consumer_grace = Duration::from_millis(200);
    let app = spawn_app_with(ServerConfig {
        dev: false,
        limits,
        ..ServerConfig::default()
    })
    .await;
    let mut slow = app.ws_ready_small_buffer(Some(VIEWER_TOKEN)).await;
    // Large messages fill the socket buffers sooner.
    slow.subscribe("s", EVENTS_IN_FULL, json!({"from": 0}))
        .await;
    let mut fast = app.ws_ready(Some(VIEWER_TOKEN)).await;
    fast.subscribe("f", EVENTS, json!({"from": 0})).await;

    let mut appended = 0u64;
    while app
        .metric("opsledger_ws_slow_consumers_dropped_total")
        .await
        == 0
    {
        assert!(appended < 50_000, "the slow consumer was never dropped");
        app.append("incident-a", "TestHappened", 500).await;
        let got = next_messages(&mut fast, 500).await;
        assert_eq!(
            positions(&got),
            (appended..appended + 500).collect::<Vec<_>>()
        );
        appended += 500;
    }

    // The slow client gets what was buffered, in order, then the close.
    let mut expected = 0;
    let code = loop {
        match slow.next_event().await {
            WsEvent::Json(m) => {
                assert_eq!(positions(&[m]), vec![expected]);
                expected += 1;
            }
            WsEvent::Closed(code, _) => break code,
            WsEvent::Ended => panic!("ended without a close frame after {expected} events"),
        }
    };
    assert_eq!(code, 1013);
    assert!(expected < appended);
}

#[tokio::test]
async fn message_over_the_body_limit_closes_1009_and_the_server_stays_up() {
    let app = spawn_app().await;
    let limit = test_limits().body_bytes;
    let mut ws = app.ws_ready(None).await;
    let padding = "y".repeat(2 * 1024 * 1024);
    ws.subscribe("big", "{ __typename }", json!({ "pad": padding }))
        .await;
    match ws.next_event().await {
        WsEvent::Closed(code, reason) => {
            assert_eq!(code, 1009);
            assert_eq!(reason, format!("message too big: at most {limit} bytes"));
        }
        other => panic!("expected a 1009 close, got {other:?}"),
    }
    // Just under the limit is still served.
    let mut ws = app.ws_ready(None).await;
    let padding = "y".repeat(limit - 1024);
    ws.subscribe("fits", "{ __typename }", json!({ "pad": padding }))
        .await;
    assert_eq!(ws.next_json().await["type"], "next");
    // A fresh connection works and HTTP still answers.
    let mut fresh = app.ws_ready(Some(VIEWER_TOKEN)).await;
    fresh.subscribe("q", "{ logHead }", Value::Null).await;
    assert_eq!(fresh.next_json().await["type"], "next");
    let (status, _) = app
        .graphql(Some(VIEWER_TOKEN), "{ logHead }", json!({}))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn pings_during_a_catch_up_are_answered_without_closing_the_connection() {
    let app = spawn_app().await;
    const EVENTS_TOTAL: u64 = 50_000;
    for _ in 0..10 {
        app.append("incident-a", "TestHappened", 5_000).await;
    }
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe("s", EVENTS, json!({"from": 0})).await;
    let ping_every = Duration::from_millis(10);
    let mut last_ping = std::time::Instant::now();
    let (mut next_position, mut pings, mut pongs) = (0u64, 0u64, 0u64);
    while next_position < EVENTS_TOTAL {
        // Ping whenever 10 ms passed (a graphql-ws keepAlive, only much more often).
        if last_ping.elapsed() >= ping_every {
            ws.send(json!({"type": "ping"})).await;
            pings += 1;
            last_ping = std::time::Instant::now();
        }
        match ws.next_event().await {
            WsEvent::Json(m) if m["type"] == "pong" => pongs += 1,
            WsEvent::Json(m) => {
                assert_eq!(m["type"], "next", "{m}");
                assert_eq!(positions(&[m]), vec![next_position]);
                next_position += 1;
            }
            other => panic!("after {next_position} events and {pings} pings: {other:?}"),
        }
    }
    assert!(pings > 0, "the catch-up ended before a ping");
    // Every ping is answered; then the subscription stays open (a query still runs on it).
    while pongs < pings {
        assert_eq!(ws.next_json().await["type"], "pong");
        pongs += 1;
    }
    ws.subscribe("q", "{ logHead }", Value::Null).await;
    let answer = ws.next_json().await;
    assert_eq!(
        answer["payload"]["data"]["logHead"],
        EVENTS_TOTAL - 1,
        "{answer}"
    );
}

#[tokio::test]
async fn unauthenticated_operation_over_websocket_names_the_connection_init_payload() {
    let app = spawn_app().await;
    let mut ws = app.ws_ready(None).await;
    ws.subscribe("1", EVENTS, json!({"from": 0})).await;
    let error = ws.next_json().await;
    assert_eq!(error["type"], "error");
    let error = &error["payload"][0];
    assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(r#"connection_init's payload: {"authorization": "Bearer <token>"}"#),
        "{message}"
    );
    assert!(!message.contains("Authorization: Bearer"), "{message}");
    // And the payload it names does authenticate.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {VIEWER_TOKEN}")}}))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.subscribe("q", "{ logHead }", Value::Null).await;
    assert_eq!(ws.next_json().await["type"], "next");
}
