//! `LogEvent.payload` over real HTTP and WebSocket: every event type renders its payload
//! (none is null), every id in it is the ULID text the API shows, never a 128-bit number.
//! The log holds one golden sample of every event type (`opsledger_tests::golden_log`).

use opsledger_domain::DomainEvent;
use opsledger_fixtures::golden::samples;
use opsledger_storage::{EventStore, Ulid};
use opsledger_tests::golden_log::{append_golden_samples, GOLDEN_ACTOR};
use opsledger_tests::{spawn_app, TestApp, ADMIN_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN};
use serde_json::{json, Value};

/// The golden samples' clock origin and id timestamp (`fixtures/src/golden.rs`).
const T0: i64 = 1_735_689_600_000;
const MIN: i64 = 60_000;
/// The largest integer a JSON reader with doubles (JavaScript, jq 1.6) holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The text of the golden id number `n`, built without serde.
fn id(n: u128) -> String {
    Ulid::from_parts(T0 as u64, n).to_string()
}

/// A server whose log holds every golden sample, projections caught up.
async fn golden_app() -> TestApp {
    let app = spawn_app().await;
    let outcomes = append_golden_samples(app.store.as_ref() as &dyn EventStore).await;
    let last = outcomes.last().expect("samples").last_position;
    app.app.wait_for(last).await.expect("projections catch up");
    app
}

/// `events` nodes (position, type, actor, payload) for `args`, all on one page,
/// without the follow-ups the workflow policies append to the golden events
/// (e.g. the golden duplicate, which does not exist, refuses its merge).
async fn events(app: &TestApp, args: &str) -> Vec<Value> {
    let query = format!(
        "{{ events({args}) {{ edges {{ node {{ position type actor payload commandId }} }} }} }}"
    );
    let (status, body) = app.graphql(Some(VIEWER_TOKEN), &query, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"].clone())
        .filter(|node| !node["commandId"].as_str().unwrap_or("").starts_with("wf:"))
        .collect()
}

/// Every number in `value` with the path to it.
fn numbers<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Number(_) => out.push((path, value)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                numbers(item, format!("{path}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                numbers(item, format!("{path}/{key}"), out);
            }
        }
        _ => {}
    }
}

/// Paths of the ids in the format-1 export written by the previous build, which held them
/// as 128-bit integers (every one larger than `u64::MAX`), with their value as a double.
fn format1_id_paths() -> Vec<Vec<(String, f64)>> {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/exports/golden_v1.jsonl"
    );
    std::fs::read_to_string(file)
        .expect("the format-1 golden export")
        .lines()
        .map(|line| {
            let line: Value = serde_json::from_str(line).expect("a format-1 line");
            let mut found = Vec::new();
            numbers(&line["payload"], String::new(), &mut found);
            found
                .into_iter()
                .filter_map(|(path, n)| {
                    n.as_f64()
                        .filter(|&v| v > u64::MAX as f64)
                        .map(|v| (path, v))
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_type_renders_its_payload_with_ids_as_ulid_text() {
    let app = golden_app().await;
    let nodes = events(&app, "first: 100").await;
    let samples = samples();
    assert_eq!(nodes.len(), samples.len());
    let id_paths = format1_id_paths();
    // Format 1 held the 46 types before the workflow events (2026-12).
    assert_eq!(id_paths.len(), 46);
    let no_ids = Vec::new();
    let id_paths_of = |i: usize| id_paths.get(i).unwrap_or(&no_ids);
    for (i, (node, sample)) in nodes.iter().zip(&samples).enumerate() {
        let ids = id_paths_of(i);
        let payload = &node["payload"];
        assert_eq!(node["type"], sample.type_name());
        assert!(
            payload.is_object(),
            "{}: payload {payload}",
            sample.type_name()
        );
        // Every field, compared with the event that was appended.
        let parsed: DomainEvent = serde_json::from_value(payload.clone())
            .unwrap_or_else(|e| panic!("{}: {e}: {payload}", sample.type_name()));
        assert_eq!(&parsed, sample);
        // No number a double cannot hold exactly (an id as an integer would be one).
        let mut found = Vec::new();
        numbers(payload, String::new(), &mut found);
        for (path, n) in found {
            let exact = n
                .as_i64()
                .is_some_and(|v| (v as f64).abs() <= MAX_SAFE_INTEGER);
            assert!(exact, "{} {path}: {n}", sample.type_name());
        }
        // Wherever the previous build wrote an id as a number, there is now its ULID text.
        for (path, old) in ids {
            let text = payload.pointer(path).and_then(Value::as_str);
            let ulid = text.and_then(|t| Ulid::from_string(t).ok());
            assert!(
                ulid.is_some_and(|u| u.0 as f64 == *old),
                "{} {path}: {:?} (was {old})",
                sample.type_name(),
                payload.pointer(path)
            );
        }
    }
    let with_ids = id_paths.iter().filter(|ids| !ids.is_empty()).count();
    assert!(with_ids >= 20, "only {with_ids} event types carry ids?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_match_independently_written_json() {
    let app = golden_app().await;
    let nodes = events(&app, "first: 100").await;
    let payload_of = |type_name: &str| {
        nodes
            .iter()
            .find(|n| n["type"] == type_name)
            .map(|n| n["payload"].clone())
            .unwrap_or_else(|| panic!("no {type_name}"))
    };
    let policy = json!({"levels": [
        {"target": "payments-primary", "ack_timeout_secs": 300},
        {"target": "payments-manager", "ack_timeout_secs": 900}
    ]});
    assert_eq!(
        payload_of("ServiceRegistered"),
        json!({"Service": {"Registered": {
            "id": id(1),
            "profile": {
                "name": "payments-api", "owner_team": "payments", "tier": 1,
                "description": "Card payments — «ünïcødé» too",
                "runbook_url": "https://runbooks.example.com/payments-api",
                "dependencies": [id(2), id(3)],
                "slo_target": 999_500, "rto_secs": 3600, "rpo_secs": 900,
                "escalation_policy": policy
            },
            "by": "root", "at": T0
        }}})
    );
    assert_eq!(
        payload_of("IncidentDeclared"),
        json!({"Incident": {"Declared": {
            "id": id(100), "title": "Payments failing", "description": "Opened by alert",
            "severity": "Sev1", "severity_derived": true,
            "impacts": [
                {"service": id(1), "level": "MajorOutage"},
                {"service": id(2), "level": "Degraded"}
            ],
            "started_at": T0 - 5 * MIN, "detected_at": T0,
            "alert_group": {"service": id(1), "dedup_key": "high-error-rate"},
            "escalation_policy": policy, "by": "rita", "at": T0
        }}})
    );
    assert_eq!(
        payload_of("IncidentOpenedForGroup"),
        json!({"AlertGroup": {"IncidentOpened": {
            "incident_id": id(100), "severity": "Sev2", "by": "alertmanager", "at": T0
        }}})
    );
    assert_eq!(
        payload_of("FreezeCreated"),
        json!({"Freeze": {"Created": {
            "id": id(300), "window": {"start": T0 + 60 * MIN, "end": T0 + 120 * MIN},
            "scope": {"Services": [id(1)]}, "reason": "peak", "by": "cm.priya", "at": T0
        }}})
    );
    assert_eq!(
        payload_of("ReviewActionItemAdded"),
        json!({"Review": {"ActionItemAdded": {
            "id": id(500), "title": "Add alert", "owner": "bo",
            "due": 1_736_889_600_000i64, "by": "rita", "at": T0 + 32 * MIN
        }}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_ids_are_the_strings_the_api_shows_for_the_entities() {
    let app = golden_app().await;
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "{ incidents(first: 5) { edges { node { id } } } changes(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let incident_ids: Vec<&str> = body["data"]["incidents"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| e["node"]["id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let change_ids: Vec<&str> = body["data"]["changes"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| e["node"]["id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(incident_ids.contains(&id(100).as_str()), "{body}");
    assert!(change_ids.contains(&id(200).as_str()), "{body}");
    let nodes = events(&app, "first: 100").await;
    let payload = |t: &str| {
        nodes
            .iter()
            .find(|n| n["type"] == t)
            .map(|n| n["payload"].clone())
    };
    assert_eq!(
        payload("IncidentDeclared").unwrap()["Incident"]["Declared"]["id"],
        id(100)
    );
    assert_eq!(
        payload("ChangeRequested").unwrap()["Change"]["Requested"]["id"],
        id(200)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_filters_and_the_subscription_render_the_same_payloads() {
    let app = golden_app().await;
    let all = events(&app, "first: 100").await;
    assert!(all.iter().all(|n| n["actor"] == GOLDEN_ACTOR));
    // The audit index path (any filter) renders through the same function.
    let by_actor = events(&app, &format!("actor: \"{GOLDEN_ACTOR}\", first: 100")).await;
    assert_eq!(by_actor, all);
    let declared = events(&app, "type: \"IncidentDeclared\"").await;
    assert_eq!(declared.len(), 1);
    assert_eq!(
        Some(&declared[0]),
        all.iter().find(|n| n["type"] == "IncidentDeclared")
    );

    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe(
        "1",
        "subscription { events(fromPosition: 0) { position type actor payload commandId } }",
        json!({}),
    )
    .await;
    for expected in &all {
        let event = loop {
            let message = ws.next_json().await;
            assert_eq!(message["type"], "next", "{message}");
            let event = message["payload"]["data"]["events"].clone();
            if !event["commandId"].as_str().unwrap_or("").starts_with("wf:") {
                break event;
            }
        };
        assert_eq!(&event, expected);
    }
}

/// Runs a mutation that must succeed; returns `data`.
async fn mutate(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = app.graphql(Some(token), query, variables).await;
    assert!(status == 200 && body["errors"].is_null(), "{body}");
    body["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_by_actor_match_the_actor_recorded_from_the_token_exactly() {
    let app = spawn_app().await;
    let registered = mutate(
        &app,
        ADMIN_TOKEN,
        r#"mutation($input: ServiceInput!) { registerService(input: $input) { id } }"#,
        json!({"input": {"name": "payments", "ownerTeam": "core", "tier": 1,
            "sloTargetPercent": 99.9, "rtoSecs": 3600,
            "escalationPolicy": [{"target": "primary", "ackTimeoutSecs": 300}]}}),
    )
    .await;
    let service = registered["registerService"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let declared = mutate(
        &app,
        RESPONDER_TOKEN,
        r#"mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id position } }"#,
        json!({"input": {"title": "Payments down",
            "impacts": [{"service": service, "level": "MAJOR_OUTAGE"}]}}),
    )
    .await;
    let incident = declared["declareIncident"]["id"].as_str().unwrap();

    // The responder token's actor is `rita`: her events are found by that name...
    let by_rita = events(&app, "actor: \"rita\", first: 10").await;
    assert_eq!(by_rita.len(), 1, "{by_rita:?}");
    assert_eq!(by_rita[0]["type"], "IncidentDeclared");
    assert_eq!(by_rita[0]["actor"], "rita");
    assert_eq!(
        by_rita[0]["payload"]["Incident"]["Declared"]["id"],
        incident
    );
    assert_eq!(
        by_rita[0]["payload"]["Incident"]["Declared"]["impacts"][0]["service"],
        service.as_str()
    );
    // ...exactly (no token secret, no other case, no prefix), and an unknown one is empty.
    for other in [RESPONDER_TOKEN, "Rita", "rit", "nobody"] {
        let found = events(&app, &format!("actor: \"{other}\", first: 10")).await;
        assert!(found.is_empty(), "{other}: {found:?}");
    }
    let by_root = events(&app, "actor: \"root\", first: 10").await;
    assert_eq!(by_root.len(), 1);
    assert_eq!(by_root[0]["type"], "ServiceRegistered");
}
