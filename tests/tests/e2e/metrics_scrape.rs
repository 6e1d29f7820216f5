//! `/metrics` scraped from outside and parsed: every family exists with sane
//! labels, and the counters and histograms move when a client acts.

use opsledger_tests::{spawn_app, TestApp, ADMIN_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: the `# TYPE` of every family and every sample.
struct Scrape {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').expect("TYPE name kind");
                types.insert(name.to_string(), ty.to_string());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("number in {line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("}"))),
                None => (series, BTreeMap::new()),
            };
            samples.push(Sample {
                name: name.to_string(),
                labels,
                value,
            });
        }
        Scrape { types, samples }
    }

    /// The value of the sample `name` whose labels include `labels`, summed over the rest.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// The values of label `label` over the samples of `name`.
    fn label_values(&self, name: &str, label: &str) -> BTreeSet<String> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.labels.get(label).cloned())
            .collect()
    }
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let end = after.find('"').expect("closing quote");
        labels.insert(
            key.trim_start_matches(',').to_string(),
            after[..end].to_string(),
        );
        rest = &after[end + 1..];
    }
    labels
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    Scrape::parse(&response.text().await.unwrap())
}

const FAMILIES: &[(&str, &str)] = &[
    ("opsledger_graphql_http_requests_total", "counter"),
    ("opsledger_graphql_errors_total", "counter"),
    ("opsledger_graphql_request_duration_seconds", "histogram"),
    ("opsledger_append_latency_seconds", "histogram"),
    ("opsledger_log_position", "gauge"),
    ("opsledger_projection_lag_events", "gauge"),
    ("opsledger_projection_lag_seconds", "gauge"),
    ("opsledger_alerts_received_total", "counter"),
    ("opsledger_alerts_ingested_total", "counter"),
    ("opsledger_alerts_unrouted_total", "counter"),
    ("opsledger_alerts_default_routed_total", "counter"),
    ("opsledger_webhook_requests_total", "counter"),
    ("opsledger_ws_connections_active", "gauge"),
    ("opsledger_ws_subscriptions_active", "gauge"),
    ("opsledger_ws_subscriptions_started_total", "counter"),
    ("opsledger_ws_slow_consumers_dropped_total", "counter"),
    ("opsledger_store_size_bytes", "gauge"),
    ("opsledger_store_fsyncs_total", "counter"),
    ("opsledger_store_fsync_seconds_total", "counter"),
    ("opsledger_store_flush_seconds_total", "counter"),
    ("opsledger_build_info", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_cpu_seconds_total", "counter"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
];

fn alert_body(service: &str) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"Latency\"}", "status": "firing",
        "alerts": [{
            "status": "firing", "labels": {"alertname": "Latency", "service": service},
            "annotations": {"summary": "p99 above 1 s"},
            "startsAt": "2026-05-01T12:00:00Z", "fingerprint": "fp-latency"
        }]
    })
}

#[tokio::test]
async fn every_family_is_exposed_and_moves_when_clients_act() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(
        before.label_values("opsledger_build_info", "version"),
        BTreeSet::from([env!("CARGO_PKG_VERSION").to_string()])
    );
    assert!(before.value("process_resident_memory_bytes", &[]) > 0.0);
    assert!(before.value("process_open_fds", &[]) > 0.0);
    assert!(before.value("opsledger_store_size_bytes", &[]) > 0.0);
    assert_eq!(
        before.label_values("opsledger_alerts_unrouted_total", "reason"),
        BTreeSet::from(["missing_service_label".into(), "unknown_service".into()])
    );

    // A named query, a mutation (an append with an fsync) and an alert.
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "query ListServices { services(first: 5) { edges { node { id } } } }",
            Value::Null,
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let register =
        r#"mutation Register($input: ServiceInput!) { registerService(input: $input) { id } }"#;
    let input = json!({"name": "api", "ownerTeam": "core", "tier": 2, "sloTargetPercent": 99.9,
        "escalationPolicy": [{"target": "primary", "ackTimeoutSecs": 300}]});
    let (_, body) = app
        .graphql(Some(ADMIN_TOKEN), register, json!({"input": input}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    for service in ["api", "unknown"] {
        app.client
            .post(app.url("/webhooks/alertmanager"))
            .bearer_auth(RESPONDER_TOKEN)
            .json(&alert_body(service))
            .send()
            .await
            .unwrap();
    }
    let mut ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    ws.subscribe("1", "subscription { statusPage { overall } }", Value::Null)
        .await;
    ws.next_json().await;

    let after = scrape(&app).await;
    // Prometheus naming: counters and only counters end in `_total`.
    for (family, ty) in &after.types {
        assert_eq!(
            family.ends_with("_total"),
            ty == "counter",
            "{family} is a {ty}"
        );
    }
    // Labelled families appear with their first series (request durations, webhook statuses).
    for (family, ty) in FAMILIES {
        assert_eq!(
            after.types.get(*family).map(String::as_str),
            Some(*ty),
            "family {family} of type {ty}"
        );
    }
    let duration = "opsledger_graphql_request_duration_seconds_count";
    assert_eq!(
        after.value(
            duration,
            &[
                ("operation_type", "query"),
                ("operation_name", "ListServices")
            ]
        ),
        1.0
    );
    assert_eq!(
        after.value(
            duration,
            &[
                ("operation_type", "mutation"),
                ("operation_name", "Register")
            ]
        ),
        1.0
    );
    let bucket = "opsledger_graphql_request_duration_seconds_bucket";
    assert_eq!(
        after.value(
            bucket,
            &[("operation_name", "ListServices"), ("le", "+Inf")]
        ),
        1.0
    );
    assert!(after.value("opsledger_append_latency_seconds_count", &[]) >= 2.0);
    assert!(
        after.value("opsledger_store_fsyncs_total", &[])
            > before.value("opsledger_store_fsyncs_total", &[])
    );
    assert!(after.value("opsledger_store_fsync_seconds_total", &[]) > 0.0);
    assert!(
        after.value("opsledger_log_position", &[]) > before.value("opsledger_log_position", &[])
    );
    assert_eq!(
        after.value("opsledger_alerts_received_total", &[("status", "firing")]),
        2.0
    );
    assert_eq!(
        after.value("opsledger_alerts_ingested_total", &[("result", "opened")]),
        1.0
    );
    assert_eq!(
        after.value(
            "opsledger_alerts_unrouted_total",
            &[("reason", "unknown_service")]
        ),
        1.0
    );
    assert_eq!(
        after.value("opsledger_webhook_requests_total", &[("code", "200")]),
        1.0
    );
    assert_eq!(
        after.value("opsledger_webhook_requests_total", &[("code", "503")]),
        1.0
    );
    assert_eq!(
        after.value("opsledger_ws_subscriptions_started_total", &[]),
        1.0
    );
    assert_eq!(after.value("opsledger_ws_subscriptions_active", &[]), 1.0);
    assert_eq!(after.value("opsledger_projection_lag_seconds", &[]), 0.0);
    assert!(after.value("process_cpu_seconds_total", &[]) > 0.0);
}
