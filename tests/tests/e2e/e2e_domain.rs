//! End-to-end domain scenarios over real HTTP: incidents with reviews and KPIs,
//! changes with approvals and freezes, alert correlation under concurrency,
//! idempotency, optimistic concurrency, authorization and the Alertmanager webhook.

use opsledger_storage::{Direction, EventStore};
use opsledger_tests::{
    error_code, spawn_app, TestApp, ADMIN_TOKEN, APPROVER2_TOKEN, APPROVER_TOKEN,
    CHANGE_MANAGER_TOKEN, MANAGER_APPROVER_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN,
};
use serde_json::{json, Value};

/// Runs a GraphQL request that must succeed; returns `data`.
async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let (status, body) = app.graphql(Some(token), query, vars).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "unexpected errors: {body}");
    body["data"].clone()
}

/// Runs a GraphQL request that must fail; returns its `extensions.code`.
async fn fails(app: &TestApp, token: &str, query: &str, vars: Value) -> String {
    let (_, body) = app.graphql(Some(token), query, vars).await;
    error_code(&body)
        .unwrap_or_else(|| panic!("expected an error: {body}"))
        .to_string()
}

const REGISTER: &str = r#"mutation($input: ServiceInput!) {
  registerService(input: $input) { id position service { name tier } } }"#;

async fn register(app: &TestApp, name: &str, tier: i32) -> String {
    let input = json!({
        "name": name, "ownerTeam": "core", "tier": tier, "sloTargetPercent": 99.9,
        "rtoSecs": 3600, "escalationPolicy": [
            {"target": "primary", "ackTimeoutSecs": 300},
            {"target": "secondary", "ackTimeoutSecs": 600}]
    });
    let data = ok(app, ADMIN_TOKEN, REGISTER, json!({"input": input})).await;
    assert_eq!(data["registerService"]["service"]["name"], name);
    data["registerService"]["id"].as_str().unwrap().to_string()
}

const DECLARE: &str = r#"mutation($input: DeclareIncidentInput!, $key: String) {
  declareIncident(input: $input, idempotencyKey: $key) {
    id streamId position incident { status severity } } }"#;

fn declare_input(service: &str) -> Value {
    json!({"title": "Payments down", "impacts": [{"service": service, "level": "MAJOR_OUTAGE"}]})
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rfc3339(ms: i64) -> String {
    opsledger_api::graphql::scalars::format_rfc3339(ms)
}

#[tokio::test]
async fn incident_lifecycle_with_review_shows_in_queries_and_kpis() {
    let app = spawn_app().await;
    let payments = register(&app, "payments", 1).await;
    let data = ok(
        &app,
        RESPONDER_TOKEN,
        DECLARE,
        json!({"input": declare_input(&payments)}),
    )
    .await;
    let incident = data["declareIncident"]["id"].as_str().unwrap().to_string();
    assert_eq!(data["declareIncident"]["incident"]["severity"], "SEV1");
    assert_eq!(data["declareIncident"]["incident"]["status"], "TRIGGERED");

    let steps = [
        ("mutation($id: ID!) { acknowledgeIncident(id: $id) { incident { status } } }", json!({})),
        ("mutation($id: ID!, $t: String!) { addIncidentNote(id: $id, text: $t) { position } }", json!({"t": "rolled back deploy"})),
        ("mutation($id: ID!, $m: String!) { postStatusUpdate(id: $id, visibility: PUBLIC, message: $m) { position } }", json!({"m": "We are investigating"})),
        ("mutation($id: ID!) { advanceIncident(id: $id, to: MONITORING) { incident { status } } }", json!({})),
        ("mutation($id: ID!, $s: String!) { resolveIncident(id: $id, summary: $s) { incident { status resolutionSummary } } }", json!({"s": "bad deploy reverted"})),
    ];
    for (query, mut vars) in steps {
        vars["id"] = json!(incident);
        ok(&app, RESPONDER_TOKEN, query, vars).await;
    }

    let data = ok(
        &app,
        RESPONDER_TOKEN,
        "mutation($i: ID!) { createReview(incident: $i) { id review { status } } }",
        json!({"i": incident}),
    )
    .await;
    let review = data["createReview"]["id"].as_str().unwrap().to_string();
    assert_eq!(data["createReview"]["review"]["status"], "DRAFT");
    for section in [
        "SUMMARY",
        "CUSTOMER_IMPACT",
        "ROOT_CAUSE",
        "WHAT_WENT_WELL",
        "LESSONS_LEARNED",
    ] {
        ok(
            &app,
            RESPONDER_TOKEN,
            "mutation($id: ID!, $s: ReviewSectionKind!) { editReviewSection(id: $id, section: $s, text: \"filled\") { position } }",
            json!({"id": review, "s": section}),
        )
        .await;
    }
    ok(
        &app,
        RESPONDER_TOKEN,
        r#"mutation($id: ID!) { editReviewSection(id: $id, section: CONTRIBUTING_FACTORS,
            factors: [{category: CHANGE, description: "unreviewed deploy"}]) { position } }"#,
        json!({"id": review}),
    )
    .await;
    ok(
        &app,
        RESPONDER_TOKEN,
        "mutation($id: ID!) { submitReview(id: $id) { position } }",
        json!({"id": review}),
    )
    .await;
    let data = ok(
        &app,
        RESPONDER_TOKEN,
        "mutation($id: ID!) { publishReview(id: $id) { review { status } } }",
        json!({"id": review}),
    )
    .await;
    assert_eq!(data["publishReview"]["review"]["status"], "PUBLISHED");

    let data = ok(
        &app,
        VIEWER_TOKEN,
        "query($id: ID!) { incident(id: $id) { status commander resolutionSummary acknowledgedAt } }",
        json!({"id": incident}),
    )
    .await;
    assert_eq!(data["incident"]["status"], "RESOLVED");
    assert_eq!(data["incident"]["resolutionSummary"], "bad deploy reverted");
    assert!(data["incident"]["acknowledgedAt"].is_string());

    let now = now_ms();
    let data = ok(
        &app,
        VIEWER_TOKEN,
        "query($f: DateTime!, $t: DateTime!) { kpis(from: $f, to: $t) { totals { incidentsResolved reviewsRequired reviewsPublished } } }",
        json!({"f": rfc3339(now - 3_600_000), "t": rfc3339(now + 3_600_000)}),
    )
    .await;
    let totals = &data["kpis"]["totals"];
    assert_eq!(totals["incidentsResolved"], 1);
    assert_eq!(totals["reviewsRequired"], 1);
    assert_eq!(totals["reviewsPublished"], 1);
    app.shutdown().await;
}

const REQUEST: &str = r#"mutation($input: RequestChangeInput!) {
  requestChange(input: $input) { id change { status requiredApprovals } } }"#;

#[tokio::test]
async fn change_needs_two_other_approvers_and_respects_freezes() {
    let app = spawn_app().await;
    let ledger = register(&app, "ledger", 1).await;
    let day = 86_400_000;
    let start = now_ms() + 2 * day;
    let input = json!({
        "changeType": "NORMAL", "category": "RELEASE", "title": "ledger v2",
        "services": [ledger], "window": {"start": rfc3339(start), "end": rfc3339(start + 3_600_000)},
        "implementationPlan": "deploy", "rollbackPlan": "redeploy v1", "validationSteps": ["smoke"]
    });
    let data = ok(
        &app,
        MANAGER_APPROVER_TOKEN,
        REQUEST,
        json!({"input": input}),
    )
    .await;
    let change = data["requestChange"]["id"].as_str().unwrap().to_string();
    assert_eq!(data["requestChange"]["change"]["status"], "DRAFT");
    assert_eq!(data["requestChange"]["change"]["requiredApprovals"], 2);
    let id = json!({"id": change});
    ok(
        &app,
        MANAGER_APPROVER_TOKEN,
        "mutation($id: ID!) { submitChange(id: $id) { position } }",
        id.clone(),
    )
    .await;

    let approve =
        "mutation($id: ID!) { approveChange(id: $id, comment: \"ok\") { change { status } } }";
    assert_eq!(
        fails(&app, MANAGER_APPROVER_TOKEN, approve, id.clone()).await,
        "RULE_VIOLATION"
    );
    assert_eq!(
        fails(&app, CHANGE_MANAGER_TOKEN, approve, id.clone()).await,
        "FORBIDDEN"
    );
    let first = ok(&app, APPROVER_TOKEN, approve, id.clone()).await;
    assert_eq!(first["approveChange"]["change"]["status"], "SUBMITTED");
    assert_eq!(
        fails(&app, APPROVER_TOKEN, approve, id.clone()).await,
        "RULE_VIOLATION"
    );
    let second = ok(&app, APPROVER2_TOKEN, approve, id.clone()).await;
    assert_eq!(second["approveChange"]["change"]["status"], "APPROVED");

    let freeze = json!({"window": {"start": rfc3339(start - day), "end": rfc3339(start + day)}, "reason": "quarter end"});
    ok(
        &app,
        CHANGE_MANAGER_TOKEN,
        "mutation($input: CreateFreezeInput!) { createFreeze(input: $input) { id freeze { reason } } }",
        json!({"input": freeze}),
    )
    .await;
    let schedule = "mutation($id: ID!, $w: TimeWindowInput!) { scheduleChange(id: $id, window: $w) { change { status } } }";
    let in_freeze =
        json!({"id": change, "w": {"start": rfc3339(start), "end": rfc3339(start + 3_600_000)}});
    assert_eq!(
        fails(&app, CHANGE_MANAGER_TOKEN, schedule, in_freeze).await,
        "RULE_VIOLATION"
    );
    let later = start + 3 * day;
    let after =
        json!({"id": change, "w": {"start": rfc3339(later), "end": rfc3339(later + 3_600_000)}});
    let data = ok(&app, CHANGE_MANAGER_TOKEN, schedule, after).await;
    assert_eq!(data["scheduleChange"]["change"]["status"], "SCHEDULED");
    app.shutdown().await;
}

const INGEST: &str = r#"mutation($input: AlertInputGql!) {
  ingestAlert(input: $input) { streamId position incident { id } } }"#;

#[tokio::test]
async fn fifty_concurrent_alerts_for_one_group_open_exactly_one_incident() {
    let app = spawn_app().await;
    register(&app, "search", 2).await;
    let input = json!({"serviceName": "search", "dedupKey": "latency-high", "summary": "p99 > 2s"});
    let calls =
        (0..50).map(|_| app.graphql(Some(RESPONDER_TOKEN), INGEST, json!({"input": input})));
    let results = futures::future::join_all(calls).await;
    let mut incidents: Vec<String> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["ingestAlert"]["incident"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    incidents.dedup();
    assert_eq!(incidents.len(), 1, "every alert names the same incident");
    let data = ok(
        &app,
        VIEWER_TOKEN,
        "{ incidents { totalCount } alertGroups { received suppressed incidentsOpened openIncidentId } }",
        json!({}),
    )
    .await;
    assert_eq!(data["incidents"]["totalCount"], 1);
    let group = &data["alertGroups"][0];
    assert_eq!(group["received"], 50);
    assert_eq!(group["suppressed"], 49);
    assert_eq!(group["incidentsOpened"], 1);
    assert_eq!(group["openIncidentId"], incidents[0].as_str());
    app.shutdown().await;
}

#[tokio::test]
async fn same_idempotency_key_writes_once_and_stale_expected_version_conflicts() {
    let app = spawn_app().await;
    let payments = register(&app, "payments", 1).await;
    let vars = json!({"input": declare_input(&payments), "key": "declare-once"});
    let first = ok(&app, RESPONDER_TOKEN, DECLARE, vars.clone()).await;
    let head = app.store.head_position();
    let second = ok(&app, RESPONDER_TOKEN, DECLARE, vars).await;
    assert_eq!(
        first["declareIncident"]["position"],
        second["declareIncident"]["position"]
    );
    assert_eq!(
        first["declareIncident"]["id"],
        second["declareIncident"]["id"]
    );
    assert_eq!(app.store.head_position(), head, "the retry wrote nothing");

    let incident = first["declareIncident"]["id"].as_str().unwrap();
    let ack = "mutation($id: ID!, $v: Int) { acknowledgeIncident(id: $id, expectedVersion: $v) { position } }";
    let stale = json!({"id": incident, "v": 7});
    assert_eq!(fails(&app, RESPONDER_TOKEN, ack, stale).await, "CONFLICT");
    ok(&app, RESPONDER_TOKEN, ack, json!({"id": incident, "v": 0})).await;
    app.shutdown().await;
}

#[tokio::test]
async fn events_carry_the_authenticated_actor_and_roles_are_enforced() {
    let app = spawn_app().await;
    let payments = register(&app, "payments", 1).await;
    let vars = json!({"input": declare_input(&payments)});
    assert_eq!(
        fails(&app, VIEWER_TOKEN, DECLARE, vars.clone()).await,
        "FORBIDDEN"
    );
    assert_eq!(
        fails(
            &app,
            RESPONDER_TOKEN,
            REGISTER,
            json!({"input": {
        "name": "x", "ownerTeam": "t", "tier": 1, "sloTargetPercent": 99.0}})
        )
        .await,
        "FORBIDDEN"
    );
    let data = ok(&app, RESPONDER_TOKEN, DECLARE, vars).await;
    let stream = data["declareIncident"]["streamId"].as_str().unwrap();
    let events = app
        .store
        .read_stream(stream, 0, Direction::Forward, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].type_name, "IncidentDeclared");
    assert_eq!(events[0].actor, "rita");
    let bad_tier =
        json!({"input": {"name": "y", "ownerTeam": "t", "tier": 9, "sloTargetPercent": 99.0}});
    let (_, body) = app.graphql(Some(ADMIN_TOKEN), REGISTER, bad_tier).await;
    assert_eq!(error_code(&body), Some("VALIDATION"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("input.tier"),
        "{body}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_viewer_calling_a_mutation_is_forbidden_and_nothing_is_written() {
    let app = spawn_app().await;
    let payments = register(&app, "payments", 1).await;
    let head = app.store.head_position();
    let vars = json!({"input": declare_input(&payments), "key": "viewer-declare"});
    let (status, body) = app.graphql(Some(VIEWER_TOKEN), DECLARE, vars).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "actor `vera` lacks the role `responder`"
    );
    let approve = "mutation($id: ID!) { approveChange(id: $id) { position } }";
    let (_, body) = app
        .graphql(
            Some(RESPONDER_TOKEN),
            approve,
            json!({"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(app.store.head_position(), head);
    app.shutdown().await;
}

fn alertmanager_body(service: &str, fingerprint: &str) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "status": "firing",
        "receiver": "opsledger", "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": service, "severity": "critical"},
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": "2024-05-01T12:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint
        }]
    })
}

#[tokio::test]
async fn alertmanager_webhook_opens_an_incident_for_a_responder_only() {
    let app = spawn_app().await;
    register(&app, "checkout", 1).await;
    let url = app.url("/webhooks/alertmanager");
    let body = alertmanager_body("checkout", "fp-1");
    let anonymous = app.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let viewer = app
        .client
        .post(&url)
        .bearer_auth(VIEWER_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status().as_u16(), 403);
    let garbage = app
        .client
        .post(&url)
        .bearer_auth(RESPONDER_TOKEN)
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status().as_u16(), 400);

    let response = app
        .client
        .post(&url)
        .bearer_auth(RESPONDER_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["alerts"][0]["code"], "OK", "{report}");
    let incident = report["alerts"][0]["incident"]
        .as_str()
        .unwrap()
        .to_string();
    let data = ok(
        &app,
        VIEWER_TOKEN,
        "query($id: ID!) { incident(id: $id) { title severity status } }",
        json!({"id": incident}),
    )
    .await;
    assert_eq!(data["incident"]["title"], "5xx above 5%");
    assert_eq!(data["incident"]["severity"], "SEV1");
    assert_eq!(data["incident"]["status"], "TRIGGERED");

    let unknown = alertmanager_body("nope", "fp-2");
    let response = app
        .client
        .post(&url)
        .bearer_auth(RESPONDER_TOKEN)
        .json(&unknown)
        .send()
        .await
        .unwrap();
    // An unknown service may be registered soon: a retry can help (503), nothing is recorded.
    assert_eq!(response.status().as_u16(), 503);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["alerts"][0]["code"], "UNROUTED");
    assert_eq!(report["alerts"][0]["reason"], "unknown_service");
    app.shutdown().await;
}

/// The event types of incident `id`'s stream, read over GraphQL as an auditor would.
async fn stream_event_types(app: &TestApp, id: &str) -> Vec<String> {
    let data = ok(
        app,
        VIEWER_TOKEN,
        "query($s: String!) { events(stream: $s, first: 100) { edges { node { type } } } }",
        json!({"s": format!("incident-{id}")}),
    )
    .await;
    data["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["type"].as_str().unwrap().to_string())
        .collect()
}

async fn declare_one(app: &TestApp, service: &str) -> String {
    let data = ok(
        app,
        RESPONDER_TOKEN,
        DECLARE,
        json!({"input": declare_input(service)}),
    )
    .await;
    data["declareIncident"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_merge_refused_on_either_side_writes_nothing_on_the_other() {
    let app = spawn_app().await;
    let payments = register(&app, "payments", 1).await;
    let declare = |_: &TestApp| declare_one(&app, &payments);
    let target = declare(&app).await;
    let closed = declare(&app).await;
    for step in [
        "mutation($id: ID!) { resolveIncident(id: $id, summary: \"dup\") { position } }",
        "mutation($id: ID!) { closeIncident(id: $id) { position } }",
    ] {
        ok(&app, RESPONDER_TOKEN, step, json!({"id": closed})).await;
    }
    let before = stream_event_types(&app, &target).await;
    let merge =
        "mutation($id: ID!, $into: ID!) { mergeIncident(id: $id, into: $into) { position } }";
    assert_eq!(
        fails(
            &app,
            RESPONDER_TOKEN,
            merge,
            json!({"id": closed, "into": target})
        )
        .await,
        "RULE_VIOLATION"
    );
    // The reverse direction: an open duplicate into a closed target.
    let open = declare(&app).await;
    assert_eq!(
        fails(
            &app,
            RESPONDER_TOKEN,
            merge,
            json!({"id": open, "into": closed})
        )
        .await,
        "RULE_VIOLATION"
    );
    let after = stream_event_types(&app, &target).await;
    assert_eq!(after, before, "the target recorded a refused merge");
    assert!(!after.iter().any(|t| t == "IncidentDuplicateMerged"));
    let read = "query($id: ID!) { incident(id: $id) { mergedIntoId status } }";
    for id in [&closed, &open] {
        let data = ok(&app, VIEWER_TOKEN, read, json!({"id": id})).await;
        assert!(data["incident"]["mergedIntoId"].is_null(), "{data}");
    }
    let data = ok(&app, VIEWER_TOKEN, read, json!({"id": open})).await;
    assert_eq!(data["incident"]["status"], "TRIGGERED");
}
