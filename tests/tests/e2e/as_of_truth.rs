//! Time travel checked from outside (issue 17): random histories are written
//! through the real server over GraphQL, the whole log is read back with the
//! `events` query, and for random (entity, position) pairs `incidentAsOf` /
//! `changeAsOf` are compared field by field, lists included, with a small fold
//! of the event payloads written here (independent of the projections' apply).
//! Also: a linked alert group that never fired is listed; `events(actor:)`
//! filters by the actor name as recorded.

use opsledger_tests::{spawn_app, TestApp, ADMIN_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One step of a generated history (indices are taken modulo what exists).
#[derive(Clone, Debug)]
enum Op {
    Declare,
    Ack(usize),
    Advance(usize, u8),
    Responder(usize, u8),
    Update(usize),
    LinkAlert(usize, u8),
    RequestChange,
    LinkCause(usize, usize),
    Resolve(usize),
    Reopen(usize),
    Close(usize),
    Review(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0usize..8;
    prop_oneof![
        3 => Just(Op::Declare),
        2 => i.clone().prop_map(Op::Ack),
        2 => (i.clone(), 0u8..3).prop_map(|(a, b)| Op::Advance(a, b)),
        2 => (i.clone(), 0u8..3).prop_map(|(a, b)| Op::Responder(a, b)),
        2 => i.clone().prop_map(Op::Update),
        2 => (i.clone(), 0u8..3).prop_map(|(a, b)| Op::LinkAlert(a, b)),
        2 => Just(Op::RequestChange),
        3 => (i.clone(), i.clone()).prop_map(|(a, b)| Op::LinkCause(a, b)),
        2 => i.clone().prop_map(Op::Resolve),
        1 => i.clone().prop_map(Op::Reopen),
        1 => i.clone().prop_map(Op::Close),
        2 => i.prop_map(Op::Review),
    ]
}

/// A generated history and the (entity, position) samples to check in it.
fn case() -> impl Strategy<Value = (Vec<Op>, Vec<(usize, u64)>)> {
    (
        prop::collection::vec(op(), 10..40),
        prop::collection::vec((0usize..64, 0u64..10_000), 12),
    )
}

/// Sends a mutation; `None` if the domain refused it (refusals are part of a
/// random history).
async fn send(app: &TestApp, token: &str, query: &str, variables: Value) -> Option<Value> {
    let (status, body) = app.graphql(Some(token), query, variables).await;
    assert_eq!(status, 200, "{query}: {body}");
    if body["errors"].is_null() {
        Some(body["data"].clone())
    } else {
        None
    }
}

fn pick(list: &[String], i: usize) -> Option<String> {
    (!list.is_empty()).then(|| list[i % list.len()].clone())
}

/// Registers two services, then plays `ops`; returns (services, incidents, changes).
async fn play(app: &TestApp, ops: &[Op]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut services = Vec::new();
    for name in ["payments", "search"] {
        let data = send(
            app,
            ADMIN_TOKEN,
            "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
            json!({"input": {"name": name, "ownerTeam": "core", "tier": 1,
                "sloTargetPercent": 99.9, "rtoSecs": 3600,
                "escalationPolicy": [{"target": "primary", "ackTimeoutSecs": 300}]}}),
        )
        .await
        .expect("service registered");
        services.push(data["registerService"]["id"].as_str().unwrap().to_string());
    }
    let (mut incidents, mut changes) = (Vec::new(), Vec::new());
    let day = 86_400_000i64;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let rfc = chrono_like;
    for (n, op) in ops.iter().enumerate() {
        let inc = |i: usize| pick(&incidents, i);
        let r = RESPONDER_TOKEN;
        match op {
            Op::Declare => {
                let service = &services[n % 2];
                if let Some(d) = send(app, r,
                    "mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id } }",
                    json!({"input": {"title": format!("incident {n}"),
                        "impacts": [{"service": service, "level": "MAJOR_OUTAGE"}]}})).await
                {
                    incidents.push(d["declareIncident"]["id"].as_str().unwrap().to_string());
                }
            }
            Op::Ack(i) => {
                if let Some(id) = inc(*i) {
                    send(
                        app,
                        r,
                        "mutation($id: ID!) { acknowledgeIncident(id: $id) { id } }",
                        json!({"id": id}),
                    )
                    .await;
                }
            }
            Op::Advance(i, s) => {
                if let Some(id) = inc(*i) {
                    let to = ["INVESTIGATING", "IDENTIFIED", "MONITORING"][*s as usize];
                    send(app, r, "mutation($id: ID!, $to: IncidentStage!) { advanceIncident(id: $id, to: $to) { id } }",
                        json!({"id": id, "to": to})).await;
                }
            }
            Op::Responder(i, who) => {
                if let Some(id) = inc(*i) {
                    send(app, r, "mutation($id: ID!, $who: String!) { addResponder(id: $id, responder: $who) { id } }",
                        json!({"id": id, "who": format!("responder.{who}")})).await;
                }
            }
            Op::Update(i) => {
                if let Some(id) = inc(*i) {
                    send(app, r, "mutation($id: ID!, $m: String!) { postStatusUpdate(id: $id, visibility: PUBLIC, message: $m) { id } }",
                        json!({"id": id, "m": format!("update {n}")})).await;
                }
            }
            Op::LinkAlert(i, k) => {
                if let Some(id) = inc(*i) {
                    send(app, r, "mutation($id: ID!, $s: ID!, $k: String!) { linkAlert(id: $id, service: $s, dedupKey: $k) { id } }",
                        json!({"id": id, "s": services[*k as usize % 2], "k": format!("key-{k}")})).await;
                }
            }
            Op::RequestChange => {
                let start = (now / day + 2 + n as i64) * day;
                if let Some(d) = send(
                    app,
                    ADMIN_TOKEN,
                    "mutation($input: RequestChangeInput!) { requestChange(input: $input) { id } }",
                    json!({"input": {"changeType": "NORMAL", "category": "RELEASE",
                        "title": format!("change {n}"), "services": [services[n % 2]],
                        "window": {"start": rfc(start), "end": rfc(start + 3_600_000)},
                        "implementationPlan": "Deploy.", "rollbackPlan": "Roll back."}}),
                )
                .await
                {
                    changes.push(d["requestChange"]["id"].as_str().unwrap().to_string());
                }
            }
            Op::LinkCause(i, c) => {
                if let (Some(id), Some(change)) = (inc(*i), pick(&changes, *c)) {
                    send(app, r, "mutation($id: ID!, $c: ID!) { linkCauseChange(id: $id, change: $c) { id } }",
                        json!({"id": id, "c": change})).await;
                }
            }
            Op::Resolve(i) => {
                if let Some(id) = inc(*i) {
                    send(app, r, "mutation($id: ID!) { resolveIncident(id: $id, summary: \"fixed\") { id } }",
                        json!({"id": id})).await;
                }
            }
            Op::Reopen(i) => {
                if let Some(id) = inc(*i) {
                    send(
                        app,
                        r,
                        "mutation($id: ID!) { reopenIncident(id: $id, reason: \"back\") { id } }",
                        json!({"id": id}),
                    )
                    .await;
                }
            }
            Op::Close(i) => {
                if let Some(id) = inc(*i) {
                    send(
                        app,
                        r,
                        "mutation($id: ID!) { closeIncident(id: $id) { id } }",
                        json!({"id": id}),
                    )
                    .await;
                }
            }
            Op::Review(i) => {
                if let Some(id) = inc(*i) {
                    send(
                        app,
                        r,
                        "mutation($id: ID!) { createReview(incident: $id) { id } }",
                        json!({"id": id}),
                    )
                    .await;
                }
            }
        }
    }
    (services, incidents, changes)
}

/// RFC 3339 of UTC milliseconds (whole seconds), without a date library.
fn chrono_like(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The whole log through `events`, page by page: (position, streamId, type, actor, payload).
async fn whole_log(app: &TestApp, filter: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let after = out
            .last()
            .map(|e| format!("afterPosition: {}, ", e["position"]))
            .unwrap_or_default();
        let query = format!(
            "{{ events({after}first: 100{filter}) {{ pageInfo {{ hasNextPage }} \
             edges {{ node {{ position streamId type actor payload }} }} }} }}"
        );
        let (status, body) = app.graphql(Some(VIEWER_TOKEN), &query, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");
        let page = &body["data"]["events"];
        out.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
    }
}

/// An incident as the independent fold sees it.
#[derive(Clone, Debug, Default)]
struct FoldIncident {
    status: String,
    last_position: u64,
    timeline: Vec<u64>,
    responders: Vec<String>,
    updates: Vec<String>,
    alert_groups: Vec<String>,
    reviews: Vec<String>,
    cause: Option<String>,
    reopen_count: u64,
}

/// A change as the independent fold sees it.
#[derive(Clone, Debug, Default)]
struct FoldChange {
    last_position: u64,
    caused: Vec<String>,
}

/// The fold of the log's events at or below `until`, from the payload JSON only.
fn fold(
    log: &[Value],
    until: u64,
) -> (BTreeMap<String, FoldIncident>, BTreeMap<String, FoldChange>) {
    let mut incidents: BTreeMap<String, FoldIncident> = BTreeMap::new();
    let mut changes: BTreeMap<String, FoldChange> = BTreeMap::new();
    let mut by_stream: BTreeMap<String, String> = BTreeMap::new();
    let screaming = |v: &Value| v.as_str().unwrap_or_default().to_uppercase();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    for e in log {
        let position = e["position"].as_u64().unwrap();
        if position > until {
            break;
        }
        let stream = text(&e["streamId"]);
        let p = &e["payload"];
        if let Some(ev) = p.get("Incident").and_then(Value::as_object) {
            let (kind, body) = ev.iter().next().unwrap();
            if kind == "Declared" {
                by_stream.insert(stream.clone(), text(&body["id"]));
                let mut fresh = FoldIncident {
                    status: "TRIGGERED".into(),
                    ..FoldIncident::default()
                };
                if let Some(k) = body["alert_group"]["dedup_key"].as_str() {
                    fresh.alert_groups.push(k.to_string());
                }
                incidents.insert(text(&body["id"]), fresh);
            }
            let Some(id) = by_stream.get(&stream).cloned() else {
                continue;
            };
            let i = incidents.get_mut(&id).unwrap();
            i.last_position = position;
            i.timeline.push(position);
            match kind.as_str() {
                "Acknowledged" => i.status = "ACKNOWLEDGED".into(),
                "StatusChanged" => i.status = screaming(&body["to"]),
                "ResponderAdded" => i.responders.push(text(&body["responder"])),
                "ResponderRemoved" => {
                    let who = text(&body["responder"]);
                    i.responders.retain(|r| *r != who);
                }
                "StatusUpdatePosted" => i.updates.push(text(&body["message"])),
                "AlertGroupLinked" => i.alert_groups.push(text(&body["group"]["dedup_key"])),
                "Resolved" => i.status = "RESOLVED".into(),
                "Closed" => i.status = "CLOSED".into(),
                "Reopened" => {
                    i.status = "INVESTIGATING".into();
                    i.reopen_count += 1;
                }
                "CauseChangeLinked" => {
                    let change = text(&body["change"]);
                    i.cause = Some(change.clone());
                    if let Some(prev) = body["previous"].as_str() {
                        if let Some(c) = changes.get_mut(prev) {
                            c.caused.retain(|x| *x != id);
                        }
                    }
                    if let Some(c) = changes.get_mut(&change) {
                        if !c.caused.contains(&id) {
                            c.caused.push(id.clone());
                        }
                    }
                }
                _ => {}
            }
        } else if let Some(ev) = p.get("Change").and_then(Value::as_object) {
            let (kind, body) = ev.iter().next().unwrap();
            if kind == "Requested" {
                by_stream.insert(stream.clone(), text(&body["id"]));
                changes.insert(text(&body["id"]), FoldChange::default());
            }
            if let Some(c) = by_stream.get(&stream).and_then(|id| changes.get_mut(id)) {
                c.last_position = position;
            }
        } else if let Some(created) = p.get("Review").and_then(|r| r.get("Created")) {
            if let Some(i) = incidents.get_mut(&text(&created["incident"])) {
                i.reviews.push(text(&created["id"]));
            }
        }
    }
    (incidents, changes)
}

const INCIDENT_AS_OF: &str = "query($id: ID!, $p: Int) { incidentAsOf(id: $id, position: $p) { \
    position asOfPosition entity { status responders reopenCount causeChangeId \
    statusUpdates { message } alertGroups { key { dedupKey } } reviews { id incidentId } \
    timeline { position } causeChange { id } } } }";

const CHANGE_AS_OF: &str = "query($id: ID!, $p: Int) { changeAsOf(id: $id, position: $p) { \
    position asOfPosition entity { causedIncidents { id status timeline { position } } } } }";

async fn query(app: &TestApp, q: &str, vars: Value) -> Value {
    let (status, body) = app.graphql(Some(VIEWER_TOKEN), q, vars).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{q}: {body}");
    body["data"].clone()
}

/// Checks `incidentAsOf(id, p)` against the fold up to `p`.
async fn check_incident(app: &TestApp, log: &[Value], id: &str, p: u64, ctx: &str) {
    let (incidents, _) = fold(log, p);
    let got = &query(app, INCIDENT_AS_OF, json!({"id": id, "p": p})).await["incidentAsOf"];
    let Some(want) = incidents.get(id) else {
        assert!(
            got.is_null(),
            "{ctx}: {id} at {p} should not exist yet: {got}"
        );
        return;
    };
    let strings = |v: &Value, f: &dyn Fn(&Value) -> &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| f(x).as_str().unwrap().to_string())
            .collect()
    };
    let e = &got["entity"];
    let at = format!("{ctx}: incident {id} as of {p}: {got}");
    assert_eq!(got["position"], want.last_position, "{at}");
    assert_eq!(got["asOfPosition"], p, "{at}");
    assert_eq!(e["status"], want.status.as_str(), "{at}");
    assert_eq!(e["reopenCount"], want.reopen_count, "{at}");
    assert_eq!(strings(&e["responders"], &|x| x), want.responders, "{at}");
    assert_eq!(
        strings(&e["statusUpdates"], &|x| &x["message"]),
        want.updates,
        "{at}"
    );
    assert_eq!(
        strings(&e["alertGroups"], &|x| &x["key"]["dedupKey"]),
        want.alert_groups,
        "{at}"
    );
    assert_eq!(strings(&e["reviews"], &|x| &x["id"]), want.reviews, "{at}");
    for r in e["reviews"].as_array().unwrap() {
        assert_eq!(r["incidentId"], id, "{at}");
    }
    let timeline: Vec<u64> = e["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["position"].as_u64().unwrap())
        .collect();
    assert_eq!(timeline, want.timeline, "{at}");
    assert_eq!(e["causeChangeId"].as_str(), want.cause.as_deref(), "{at}");
    assert_eq!(
        e["causeChange"]["id"].as_str(),
        want.cause.as_deref(),
        "{at}"
    );
}

/// Checks `changeAsOf(id, p)` against the fold up to `p` (the caused incidents
/// each as they were at `p`).
async fn check_change(app: &TestApp, log: &[Value], id: &str, p: u64, ctx: &str) {
    let (incidents, changes) = fold(log, p);
    let got = &query(app, CHANGE_AS_OF, json!({"id": id, "p": p})).await["changeAsOf"];
    let Some(want) = changes.get(id) else {
        assert!(
            got.is_null(),
            "{ctx}: {id} at {p} should not exist yet: {got}"
        );
        return;
    };
    let at = format!("{ctx}: change {id} as of {p}: {got}");
    assert_eq!(got["position"], want.last_position, "{at}");
    let caused = got["entity"]["causedIncidents"].as_array().unwrap();
    let ids: Vec<&str> = caused.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, want.caused, "{at}");
    for i in caused {
        let w = &incidents[i["id"].as_str().unwrap()];
        assert_eq!(i["status"], w.status.as_str(), "{at}");
        let timeline: Vec<u64> = i["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["position"].as_u64().unwrap())
            .collect();
        assert_eq!(timeline, w.timeline, "{at}");
    }
}

#[tokio::test]
async fn as_of_views_match_an_independent_fold_of_the_events() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let cases = std::env::var("AS_OF_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(4usize);
    for n in 0..cases {
        let (mut ops, samples) = case().new_tree(&mut runner).unwrap().current();
        // Every history declares an incident first (so it has the responder's events).
        ops.insert(0, Op::Declare);
        let ctx = format!("case {n}: {ops:?}");
        let app = spawn_app().await;
        let (_services, incidents, changes) = play(&app, &ops).await;
        let log = whole_log(&app, "").await;
        let head = log.last().unwrap()["position"].as_u64().unwrap();
        app.app.wait_for(head).await.expect("projections catch up");
        // Every incident at its first position (the case) and at the head.
        for id in &incidents {
            let first = log
                .iter()
                .find(|e| e["payload"]["Incident"]["Declared"]["id"] == id.as_str())
                .unwrap()["position"]
                .as_u64()
                .unwrap();
            check_incident(&app, &log, id, first, &ctx).await;
            check_incident(&app, &log, id, head, &ctx).await;
            if first > 0 {
                check_incident(&app, &log, id, first - 1, &ctx).await;
            }
        }
        for id in &changes {
            check_change(&app, &log, id, head, &ctx).await;
        }
        // Random (entity, position) pairs.
        let entities: Vec<(bool, &String)> = incidents
            .iter()
            .map(|i| (true, i))
            .chain(changes.iter().map(|c| (false, c)))
            .collect();
        if !entities.is_empty() {
            for (e, p) in &samples {
                let (is_incident, id) = entities[e % entities.len()];
                let p = p % (head + 1);
                if is_incident {
                    check_incident(&app, &log, id, p, &ctx).await;
                } else {
                    check_change(&app, &log, id, p, &ctx).await;
                }
            }
        }
        // `events(actor:)` is exactly the events whose recorded actor is that name.
        let mut actors: Vec<&str> = log.iter().filter_map(|e| e["actor"].as_str()).collect();
        actors.sort_unstable();
        actors.dedup();
        assert!(actors.contains(&"rita"), "{ctx}: {actors:?}");
        for actor in actors {
            let by_actor = whole_log(&app, &format!(", actor: \"{actor}\"")).await;
            let want: Vec<&Value> = log.iter().filter(|e| e["actor"] == actor).collect();
            let got: Vec<&Value> = by_actor.iter().collect();
            assert_eq!(got, want, "{ctx}: events(actor: {actor})");
        }
        let none = whole_log(&app, &format!(", actor: \"{RESPONDER_TOKEN}\"")).await;
        assert!(
            none.is_empty(),
            "the token secret is never an actor: {none:?}"
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn a_linked_alert_group_that_never_fired_is_listed_with_zero_counters() {
    let app = spawn_app().await;
    let (services, incidents, _) = play(&app, &[Op::Declare]).await;
    let id = &incidents[0];
    let linked = send(
        &app,
        RESPONDER_TOKEN,
        "mutation($id: ID!, $s: ID!) { linkAlert(id: $id, service: $s, dedupKey: \"never-fired\") { position } }",
        json!({"id": id, "s": services[1]}),
    )
    .await
    .expect("linkAlert of a group that never fired succeeds");
    let position = linked["linkAlert"]["position"].as_u64().unwrap();
    app.app.wait_for(position).await.unwrap();
    let groups = "alertGroups { key { serviceId dedupKey } openIncidentId firing received \
        suppressed resolved incidentsOpened lastReceivedAt }";
    let want = json!([{"key": {"serviceId": services[1], "dedupKey": "never-fired"},
        "openIncidentId": null, "firing": false, "received": 0, "suppressed": 0,
        "resolved": 0, "incidentsOpened": 0, "lastReceivedAt": null}]);
    let live = query(
        &app,
        &format!("query($id: ID!) {{ incident(id: $id) {{ {groups} }} }}"),
        json!({"id": id}),
    )
    .await;
    assert_eq!(live["incident"]["alertGroups"], want, "{live}");
    let then = query(
        &app,
        &format!("query($id: ID!, $p: Int) {{ incidentAsOf(id: $id, position: $p) {{ entity {{ {groups} }} }} }}"),
        json!({"id": id, "p": position}),
    )
    .await;
    assert_eq!(
        then["incidentAsOf"]["entity"]["alertGroups"], want,
        "{then}"
    );
    let before = query(
        &app,
        &format!("query($id: ID!, $p: Int) {{ incidentAsOf(id: $id, position: $p) {{ entity {{ {groups} }} }} }}"),
        json!({"id": id, "p": position - 1}),
    )
    .await;
    assert_eq!(
        before["incidentAsOf"]["entity"]["alertGroups"],
        json!([]),
        "{before}"
    );
}
