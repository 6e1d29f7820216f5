//! The Alertmanager webhook from outside: one incident per notification group
//! (`groupKey`) by default, per fingerprint on request; alerts with a missing or
//! unknown `service` label go to the default alert service when one is
//! configured, else are refused as unrouted (non-2xx) and counted in `/metrics`.

use opsledger_api::server::alert_routing::AlertRouting;
use opsledger_api::server::ServerConfig;
use opsledger_tests::{
    spawn_app, spawn_app_with, test_limits, TestApp, ADMIN_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN,
};
use serde_json::{json, Value};

async fn register(app: &TestApp, name: &str) -> String {
    let query = r#"mutation($input: ServiceInput!) { registerService(input: $input) { id } }"#;
    let input = json!({
        "name": name, "ownerTeam": "core", "tier": 2, "sloTargetPercent": 99.9,
        "escalationPolicy": [{"target": "primary", "ackTimeoutSecs": 300}]
    });
    let (_, body) = app
        .graphql(Some(ADMIN_TOKEN), query, json!({"input": input}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["registerService"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A DiskFull notification group with one alert per instance.
fn disk_full_group(instances: &[&str], labels: Value) -> Value {
    let alerts: Vec<Value> = instances
        .iter()
        .map(|instance| {
            let mut alert_labels = json!({"alertname": "DiskFull", "instance": instance});
            for (k, v) in labels.as_object().unwrap() {
                alert_labels[k] = v.clone();
            }
            json!({
                "status": "firing", "labels": alert_labels,
                "annotations": {"summary": "Disk almost full"},
                "startsAt": "2026-05-01T12:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "", "fingerprint": format!("fp-{instance}")
            })
        })
        .collect();
    json!({
        "version": "4", "groupKey": "{}/{}:{alertname=\"DiskFull\"}", "status": "firing",
        "receiver": "opsledger", "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "alerts": alerts
    })
}

async fn post(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/webhooks/alertmanager"))
        .bearer_auth(RESPONDER_TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn incident_titles(app: &TestApp) -> Vec<String> {
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "{ incidents(first: 50) { edges { node { title } } } }",
            Value::Null,
        )
        .await;
    body["data"]["incidents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_string())
        .collect()
}

async fn alert_groups(app: &TestApp) -> Vec<Value> {
    let (_, body) = app
        .graphql(
            Some(VIEWER_TOKEN),
            "{ alertGroups { key { serviceId dedupKey } received suppressed openIncidentId } }",
            Value::Null,
        )
        .await;
    body["data"]["alertGroups"].as_array().unwrap().clone()
}

/// The value of `name{label="value"}` in `/metrics`.
async fn labelled_metric(app: &TestApp, name: &str, label: &str, value: &str) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{name}{{{label}=\"{value}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
}

#[tokio::test]
async fn one_notification_group_opens_one_incident_with_every_instance_attached() {
    let app = spawn_app().await;
    register(&app, "storage").await;
    let body = disk_full_group(&["db-1", "db-2", "db-3"], json!({"service": "storage"}));
    let (status, report) = post(&app, &body).await;
    assert_eq!(status, 200, "{report}");
    let results: Vec<&str> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["opened", "attached", "attached"], "{report}");
    let incidents: Vec<&Value> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["incident"])
        .collect();
    assert!(incidents.iter().all(|i| *i == incidents[0]));
    assert_eq!(incident_titles(&app).await, ["Disk almost full"]);
    let groups = alert_groups(&app).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["received"], 3);
    assert_eq!(groups[0]["suppressed"], 2);
    assert_eq!(
        labelled_metric(&app, "opsledger_alerts_ingested_total", "result", "opened").await,
        1
    );
    assert_eq!(
        labelled_metric(
            &app,
            "opsledger_alerts_ingested_total",
            "result",
            "attached"
        )
        .await,
        2
    );
    // Alertmanager's redelivery of the same notification writes nothing new.
    let (status, report) = post(&app, &body).await;
    assert_eq!(status, 200);
    assert!(report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["result"] == "duplicate"));
    assert_eq!(alert_groups(&app).await[0]["received"], 3);
}

#[tokio::test]
async fn the_grouping_label_asks_for_one_incident_per_fingerprint() {
    let app = spawn_app().await;
    register(&app, "storage").await;
    let labels = json!({"service": "storage", "opsledger_grouping": "fingerprint"});
    let (status, report) = post(&app, &disk_full_group(&["db-1", "db-2", "db-3"], labels)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(incident_titles(&app).await.len(), 3);
    assert_eq!(alert_groups(&app).await.len(), 3);
}

#[tokio::test]
async fn without_a_default_service_unroutable_alerts_are_refused_and_counted() {
    let app = spawn_app().await;
    register(&app, "storage").await;
    // No service label: a retry cannot help.
    let (status, report) = post(&app, &disk_full_group(&["db-1"], json!({}))).await;
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["alerts"][0]["code"], "UNROUTED");
    assert_eq!(report["alerts"][0]["reason"], "missing_service_label");
    // An unknown service: registering it makes Alertmanager's retry succeed.
    let unknown = disk_full_group(&["db-2"], json!({"service": "billing"}));
    let (status, report) = post(&app, &unknown).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["alerts"][0]["reason"], "unknown_service");
    assert!(alert_groups(&app).await.is_empty());
    assert!(incident_titles(&app).await.is_empty());
    let unrouted = "opsledger_alerts_unrouted_total";
    assert_eq!(
        labelled_metric(&app, unrouted, "reason", "missing_service_label").await,
        1
    );
    assert_eq!(
        labelled_metric(&app, unrouted, "reason", "unknown_service").await,
        1
    );
    assert_eq!(
        labelled_metric(&app, "opsledger_webhook_requests_total", "code", "503").await,
        1
    );
    register(&app, "billing").await;
    let (status, report) = post(&app, &unknown).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["alerts"][0]["result"], "opened");
}

#[tokio::test]
async fn the_default_alert_service_receives_what_labels_cannot_route() {
    let app = spawn_app_with(ServerConfig {
        limits: test_limits(),
        alert_routing: AlertRouting {
            default_service: Some("triage".into()),
        },
        ..ServerConfig::default()
    })
    .await;
    let triage = register(&app, "triage").await;
    let mixed = disk_full_group(&["db-1"], json!({"service": "billing"}));
    let (status, report) = post(&app, &mixed).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["alerts"][0]["result"], "opened");
    assert_eq!(report["alerts"][0]["reroutedBecause"], "unknown_service");
    let (status, report) = post(&app, &disk_full_group(&["db-2"], json!({}))).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["alerts"][0]["result"], "attached");
    let groups = alert_groups(&app).await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["key"]["serviceId"], triage.as_str());
    let routed = "opsledger_alerts_default_routed_total";
    assert_eq!(
        labelled_metric(&app, routed, "reason", "unknown_service").await,
        1
    );
    assert_eq!(
        labelled_metric(&app, routed, "reason", "missing_service_label").await,
        1
    );
}
