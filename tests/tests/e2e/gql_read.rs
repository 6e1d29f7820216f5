//! The GraphQL read side against a real in-process server: status page
//! (public, over HTTP and a WebSocket subscription), incident connections,
//! filters, error codes, KPIs, time travel and the audit query. Data is
//! created by appending domain events straight to the store.

use opsledger_domain::change::ChangeCategory;
use opsledger_domain::incident::{ImpactLevel, IncidentStatus, Severity, Visibility};
use opsledger_domain::service::Tier;
use opsledger_domain::{ActionItemId, ChangeId, DomainEvent, IncidentId, ReviewId, ServiceId};
use opsledger_storage::EventStore;
use opsledger_synthetic::{self as syn, Appender};
use opsledger_tests::{error_code, spawn_app, TestApp, VIEWER_TOKEN, WAIT};
use serde_json::{json, Value};
use std::sync::Arc;

/// 2024-01-01T00:00:00Z in epoch milliseconds.
const T0: i64 = 1_704_067_200_000;
const MIN: i64 = 60_000;

/// Appends domain events and waits until the read models hold them.
struct Seed<'a> {
    app: &'a TestApp,
    appender: Appender,
}

impl<'a> Seed<'a> {
    fn new(app: &'a TestApp) -> Self {
        let store: Arc<dyn EventStore> = app.store.clone();
        Seed {
            app,
            appender: Appender::new(store),
        }
    }

    /// Appends `events` to `stream` as `actor`, recorded at `at`; returns the last position.
    async fn append_as(
        &mut self,
        actor: &str,
        stream: &str,
        at: i64,
        events: &[DomainEvent],
    ) -> u64 {
        let mut request = self.appender.request(stream, at, events).expect("request");
        request.actor = actor.to_string();
        let outcome = self.app.store.append(request).await.expect("append");
        self.app
            .app
            .projections()
            .wait_for(outcome.last_position, WAIT)
            .await
            .expect("read models caught up");
        outcome.last_position
    }

    async fn append(&mut self, stream: &str, at: i64, events: &[DomainEvent]) -> u64 {
        self.append_as("synthetic", stream, at, events).await
    }

    async fn service(&mut self, n: u64, name: &str) -> ServiceId {
        self.service_on(n, name, vec![]).await
    }

    async fn service_on(&mut self, n: u64, name: &str, deps: Vec<ServiceId>) -> ServiceId {
        let id = ServiceId(syn::ulid(1, n));
        let event = syn::service_registered(id, name, "payments", Tier::ONE, deps, 999_000, 0, T0);
        self.append(&id.stream_id(), T0, &[event]).await;
        id
    }

    async fn declare(
        &mut self,
        n: u64,
        service: ServiceId,
        severity: Severity,
        detected: i64,
    ) -> IncidentId {
        let id = IncidentId(syn::ulid(2, n));
        let event = syn::incident_declared(
            id,
            severity,
            &[(service, ImpactLevel::MajorOutage)],
            detected - MIN,
            detected,
            None,
        );
        self.append(&id.stream_id(), detected, &[event]).await;
        id
    }
}

async fn query(app: &TestApp, token: Option<&str>, q: &str, vars: Value) -> Value {
    let (status, body) = app.graphql(token, q, vars).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn viewer(app: &TestApp, q: &str, vars: Value) -> Value {
    let body = query(app, Some(VIEWER_TOKEN), q, vars).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

const STATUS_PAGE: &str = "{ statusPage { overall services { name health ownHealth } \
     activeIncidents { id title severity status impacts { service { name } level } updates { status message } } } }";

#[tokio::test]
async fn status_page_is_readable_without_a_token() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let incident = seed.declare(1, api, Severity::Sev1, T0).await;
    let update = syn::status_update(
        Visibility::Public,
        IncidentStatus::Triggered,
        "looking into it",
        T0 + MIN,
    );
    seed.append(&incident.stream_id(), T0 + MIN, &[update])
        .await;

    let body = query(&app, None, STATUS_PAGE, json!({})).await;
    assert_eq!(
        body["data"]["statusPage"],
        json!({
            "overall": "MAJOR_OUTAGE",
            "services": [{"name": "api", "health": "MAJOR_OUTAGE", "ownHealth": "MAJOR_OUTAGE"}],
            "activeIncidents": [{
                "id": incident.to_string(),
                "title": "synthetic incident",
                "severity": "SEV1",
                "status": "TRIGGERED",
                "impacts": [{"service": {"name": "api"}, "level": "MAJOR_OUTAGE"}],
                "updates": [{"status": "TRIGGERED", "message": "looking into it"}]
            }]
        })
    );
    app.shutdown().await;
}

#[tokio::test]
async fn status_page_subscription_pushes_a_declared_incident() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let mut ws = app.ws_ready(None).await;
    ws.subscribe(
        "s",
        "subscription { statusPage { overall activeIncidents { title severity } } }",
        json!({}),
    )
    .await;
    let first = ws.next_json().await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(
        first["payload"]["data"]["statusPage"],
        json!({"overall": "OPERATIONAL", "activeIncidents": []})
    );

    seed.declare(1, api, Severity::Sev2, T0).await;
    let pushed = ws.next_json().await;
    assert_eq!(
        pushed["payload"]["data"]["statusPage"],
        json!({"overall": "MAJOR_OUTAGE", "activeIncidents": [{"title": "synthetic incident", "severity": "SEV2"}]})
    );
    app.shutdown().await;
}

const INCIDENTS: &str = "query($first: Int, $after: String, $filter: IncidentFilterInput) { \
     incidents(first: $first, after: $after, filter: $filter) { totalCount \
       edges { cursor node { id severity } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn incidents_connection_pages_with_first_and_after_newest_first() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let a = seed.declare(1, api, Severity::Sev1, T0).await;
    let b = seed.declare(2, api, Severity::Sev3, T0 + MIN).await;
    let c = seed.declare(3, api, Severity::Sev3, T0 + 2 * MIN).await;

    let page1 = viewer(&app, INCIDENTS, json!({"first": 2})).await;
    let page1 = &page1["incidents"];
    assert_eq!(ids(page1), vec![c.to_string(), b.to_string()]);
    assert_eq!(page1["totalCount"], 3);
    assert_eq!(page1["pageInfo"]["hasNextPage"], true);
    assert_eq!(page1["pageInfo"]["hasPreviousPage"], false);
    let end = page1["pageInfo"]["endCursor"].clone();

    let page2 = viewer(&app, INCIDENTS, json!({"first": 2, "after": end.clone()})).await;
    let page2 = &page2["incidents"];
    assert_eq!(ids(page2), vec![a.to_string()]);
    assert_eq!(page2["pageInfo"]["hasNextPage"], false);
    assert_eq!(page2["pageInfo"]["hasPreviousPage"], true);

    let q = "query($before: String) { incidents(last: 1, before: $before) { \
         edges { node { id } } pageInfo { hasNextPage hasPreviousPage } } }";
    let tail = viewer(&app, q, json!({"before": end})).await;
    assert_eq!(ids(&tail["incidents"]), vec![c.to_string()]);
    assert_eq!(
        tail["incidents"]["pageInfo"],
        json!({"hasNextPage": true, "hasPreviousPage": false})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn incidents_filter_by_severity() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    seed.declare(1, api, Severity::Sev1, T0).await;
    let b = seed.declare(2, api, Severity::Sev3, T0 + MIN).await;

    let data = viewer(
        &app,
        INCIDENTS,
        json!({"filter": {"severities": ["SEV3"], "open": true}}),
    )
    .await;
    assert_eq!(ids(&data["incidents"]), vec![b.to_string()]);
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_incident_is_not_found_and_a_bad_id_or_cursor_is_validation() {
    let app = spawn_app().await;
    let q = "query($id: ID!) { incident(id: $id) { id } }";
    let unknown = IncidentId(syn::ulid(2, 99)).to_string();
    let body = query(&app, Some(VIEWER_TOKEN), q, json!({"id": unknown})).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let body = query(&app, Some(VIEWER_TOKEN), q, json!({"id": "not-a-ulid"})).await;
    assert_eq!(error_code(&body), Some("VALIDATION"));
    let body = query(&app, Some(VIEWER_TOKEN), INCIDENTS, json!({"after": "%%%"})).await;
    assert_eq!(error_code(&body), Some("VALIDATION"));
    let body = query(&app, None, q, json!({"id": unknown})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    app.shutdown().await;
}

#[tokio::test]
async fn kpis_report_the_figures_of_a_small_history() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    // Started T0-1min, detected T0, acknowledged T0+2min, resolved T0+60min.
    let id = seed.declare(1, api, Severity::Sev2, T0).await;
    let stream = id.stream_id();
    seed.append(
        &stream,
        T0 + 2 * MIN,
        &[syn::incident_acknowledged(T0 + 2 * MIN)],
    )
    .await;
    let resolved = syn::incident_resolved(IncidentStatus::Acknowledged, T0 + 60 * MIN);
    seed.append(&stream, T0 + 60 * MIN, &[resolved]).await;

    let q = "{ kpis(from: \"2024-01-01T00:00:00Z\", to: \"2024-01-02T00:00:00Z\", bucket: DAY) { \
         totals { incidentsResolved mttd { count mean median p90 } mtta { mean } mttr { mean } \
           incidentsBySeverity { sev1 sev2 total } changeSuccessRate \
           availability { name majorOutageSeconds } } buckets { from to incidentsResolved } } }";
    let data = viewer(&app, q, json!({})).await;
    assert_eq!(
        data["kpis"],
        json!({
            "totals": {
                "incidentsResolved": 1,
                "mttd": {"count": 1, "mean": 60.0, "median": 60.0, "p90": 60.0},
                "mtta": {"mean": 120.0},
                "mttr": {"mean": 3600.0},
                "incidentsBySeverity": {"sev1": 0, "sev2": 1, "total": 1},
                "changeSuccessRate": null,
                "availability": [{"name": "api", "majorOutageSeconds": 3600.0}]
            },
            "buckets": [{"from": "2024-01-01T00:00:00.000Z", "to": "2024-01-02T00:00:00.000Z", "incidentsResolved": 1}]
        })
    );
    app.shutdown().await;
}

#[tokio::test]
async fn incident_as_of_a_position_before_the_resolve_shows_the_earlier_status() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let id = seed.declare(1, api, Severity::Sev2, T0).await;
    let stream = id.stream_id();
    let acked = seed
        .append(&stream, T0 + MIN, &[syn::incident_acknowledged(T0 + MIN)])
        .await;
    let resolved = syn::incident_resolved(IncidentStatus::Acknowledged, T0 + 2 * MIN);
    seed.append(&stream, T0 + 2 * MIN, &[resolved]).await;

    let q =
        "query($id: ID!, $p: Int) { incidentAsOf(id: $id, position: $p) { position streamVersion \
         entity { status resolvedAt } } incident(id: $id) { status } }";
    let data = viewer(&app, q, json!({"id": id.to_string(), "p": acked})).await;
    assert_eq!(
        data,
        json!({
            "incidentAsOf": {"position": acked, "streamVersion": 1, "entity": {"status": "ACKNOWLEDGED", "resolvedAt": null}},
            "incident": {"status": "RESOLVED"}
        })
    );
    app.shutdown().await;
}

#[tokio::test]
async fn audit_events_filter_by_actor_and_type() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let id = seed.declare(1, api, Severity::Sev2, T0).await;
    let stream = id.stream_id();
    let acked = seed
        .append_as(
            "alice",
            &stream,
            T0 + MIN,
            &[syn::incident_acknowledged(T0 + MIN)],
        )
        .await;
    let note = syn::status_update(
        Visibility::Internal,
        IncidentStatus::Acknowledged,
        "hi",
        T0 + 2 * MIN,
    );
    let noted = seed.append_as("bob", &stream, T0 + 2 * MIN, &[note]).await;

    let q = "query($actor: String, $type: String, $stream: String) { \
         events(actor: $actor, type: $type, stream: $stream) { \
           edges { cursor node { position actor type payload } } } }";
    let by_alice = viewer(&app, q, json!({"actor": "alice"})).await;
    let edges = by_alice["events"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["cursor"], acked.to_string());
    assert_eq!(edges[0]["node"]["actor"], "alice");
    assert_eq!(edges[0]["node"]["type"], "IncidentAcknowledged");
    assert_eq!(
        edges[0]["node"]["payload"]["Incident"]["Acknowledged"]["at"],
        json!(T0 + MIN)
    );

    let by_type = viewer(
        &app,
        q,
        json!({"type": "IncidentStatusUpdatePosted", "stream": stream}),
    )
    .await;
    let positions: Vec<&Value> = by_type["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"]["position"])
        .collect();
    assert_eq!(positions, vec![&json!(noted)]);
    app.shutdown().await;
}

#[tokio::test]
async fn incident_updated_pushes_the_incident_after_each_event_on_its_stream() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let id = seed.declare(1, api, Severity::Sev2, T0).await;
    let other = seed.declare(2, api, Severity::Sev4, T0).await;
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe(
        "i",
        "subscription($id: ID!) { incidentUpdated(id: $id) { id status version } }",
        json!({"id": id.to_string()}),
    )
    .await;
    let now = ws.next_json().await;
    assert_eq!(
        now["payload"]["data"]["incidentUpdated"],
        json!({"id": id.to_string(), "status": "TRIGGERED", "version": 0})
    );
    // An event on another stream is not pushed.
    seed.append(
        &other.stream_id(),
        T0 + MIN,
        &[syn::incident_acknowledged(T0 + MIN)],
    )
    .await;
    seed.append(
        &id.stream_id(),
        T0 + MIN,
        &[syn::incident_acknowledged(T0 + MIN)],
    )
    .await;
    let pushed = ws.next_json().await;
    assert_eq!(
        pushed["payload"]["data"]["incidentUpdated"],
        json!({"id": id.to_string(), "status": "ACKNOWLEDGED", "version": 1})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn service_shows_its_dependency_graph_and_downstream_impact() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let db = seed.service(1, "db").await;
    let api = seed.service_on(2, "api", vec![db]).await;
    seed.service_on(3, "web", vec![api]).await;

    let q = "query($id: ID!) { service(id: $id) { name dependents { name } downstreamImpact { name } } \
         services(first: 10) { totalCount edges { node { name dependencies { name } } } } }";
    let data = viewer(&app, q, json!({"id": db.to_string()})).await;
    assert_eq!(
        data,
        json!({
            "service": {"name": "db", "dependents": [{"name": "api"}], "downstreamImpact": [{"name": "api"}, {"name": "web"}]},
            "services": {"totalCount": 3, "edges": [
                {"node": {"name": "api", "dependencies": [{"name": "db"}]}},
                {"node": {"name": "db", "dependencies": []}},
                {"node": {"name": "web", "dependencies": [{"name": "api"}]}}
            ]}
        })
    );
    app.shutdown().await;
}

#[tokio::test]
async fn scheduled_change_shows_in_changes_calendar_and_status_page() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let id = ChangeId(syn::ulid(3, 1));
    let window = (T0 + 60 * MIN, T0 + 120 * MIN);
    let requested = syn::change_requested(id, ChangeCategory::Patch, vec![api], window, T0);
    seed.append(&id.stream_id(), T0, &[requested]).await;
    seed.append(&id.stream_id(), T0, &syn::change_scheduled(window, T0))
        .await;

    let q = "{ changes(filter: {statuses: [SCHEDULED]}) { edges { node { id category risk services { name } } } } \
         changeCalendar(from: \"2024-01-01T00:00:00Z\", to: \"2024-01-02T00:00:00Z\") { changes { id } freezes { id } } \
         statusPage { scheduledMaintenance { changeId title services { name } window { start end } } } }";
    let data = viewer(&app, q, json!({})).await;
    assert_eq!(
        data,
        json!({
            "changes": {"edges": [{"node": {"id": id.to_string(), "category": "PATCH", "risk": "LOW", "services": [{"name": "api"}]}}]},
            "changeCalendar": {"changes": [{"id": id.to_string()}], "freezes": []},
            "statusPage": {"scheduledMaintenance": [{
                "changeId": id.to_string(),
                "title": "synthetic change",
                "services": [{"name": "api"}],
                "window": {"start": "2024-01-01T01:00:00.000Z", "end": "2024-01-01T02:00:00.000Z"}
            }]}
        })
    );
    app.shutdown().await;
}

#[tokio::test]
async fn incident_links_its_reviews_timeline_and_runbooks_and_action_items_list_overdue() {
    let app = spawn_app().await;
    let mut seed = Seed::new(&app);
    let api = seed.service(1, "api").await;
    let incident = seed.declare(1, api, Severity::Sev1, T0).await;
    let resolved = syn::incident_resolved(IncidentStatus::Triggered, T0 + MIN);
    let resolved_at = seed
        .append(&incident.stream_id(), T0 + MIN, &[resolved])
        .await;
    let review = ReviewId(syn::ulid(4, 1));
    let item = ActionItemId(syn::ulid(5, 1));
    let events = [
        syn::review_created(review, incident, Severity::Sev1, T0 + 2 * MIN),
        // Due in 2024: overdue now.
        syn::action_item_added(item, T0 + 60 * MIN, T0 + 2 * MIN),
    ];
    seed.append(&review.stream_id(), T0 + 2 * MIN, &events)
        .await;

    let q = "query($id: ID!) { incident(id: $id) { status reviews { id status actionItems { id overdue } } \
           runbooks { serviceName url } timeline { position kind } } \
         reviews(filter: {incidentId: $id}) { edges { node { id incident { id } } } } \
         actionItems(filter: {overdue: true}) { totalCount edges { node { id title owner status } } } }";
    let data = viewer(&app, q, json!({"id": incident.to_string()})).await;
    assert_eq!(
        data,
        json!({
            "incident": {
                "status": "RESOLVED",
                "reviews": [{"id": review.to_string(), "status": "DRAFT", "actionItems": [{"id": item.to_string(), "overdue": true}]}],
                "runbooks": [{"serviceName": "api", "url": "https://runbooks.example/api"}],
                "timeline": [
                    {"position": resolved_at - 1, "kind": "IncidentDeclared"},
                    {"position": resolved_at, "kind": "IncidentResolved"}
                ]
            },
            "reviews": {"edges": [{"node": {"id": review.to_string(), "incident": {"id": incident.to_string()}}}]},
            "actionItems": {"totalCount": 1, "edges": [{"node": {"id": item.to_string(), "title": "follow up", "owner": "owner", "status": "OPEN"}}]}
        })
    );
    app.shutdown().await;
}
