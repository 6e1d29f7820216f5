//! Client compatibility: real third-party clients and Prometheus tools against a
//! server spawned by the harness.
//!
//! - npm `graphql-ws` 6 and Apollo Client 4 (`tests/clients/*.mjs`): query,
//!   mutation, subscription, and keepAlive pings during a busy subscription.
//! - Python `gql` 4 with its websockets transport (`tests/clients/gql_subscription.py`):
//!   a subscription with gql's default subprotocol list and with
//!   graphql-transport-ws pinned.
//! - Debian's `prometheus-alertmanager`, started here on a free loopback port,
//!   delivering a group of three alerts to `POST /webhooks/alertmanager`.
//! - Debian's `promtool check metrics` on `/metrics`.
//!
//! Each client script gets the server URL, tokens and ids through the
//! environment and prints one `result: <JSON>` line that these tests assert on.
//! Pinned versions: `tests/clients/package-lock.json` and
//! `tests/clients/requirements.txt`; `.ci/run` installs them (and the Debian
//! packages). A missing prerequisite skips a test with a printed reason,
//! except when `CI` is set: then the test fails.

use opsledger_api::limits::Limits;
use opsledger_api::server::ServerConfig;
use opsledger_tests::{
    spawn_app, spawn_app_with, test_limits, TestApp, ADMIN_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The longest any client script or tool may run before the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// The service the client scripts declare incidents on.
const SERVICE: &str = "Checkout";

// ---------------------------------------------------------------------------
// Prerequisites

/// `tests/clients`, where the scripts, lock files, node_modules and .venv live.
fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// The Python of the pinned venv `.ci/run` creates.
fn venv_python() -> PathBuf {
    clients_dir().join(".venv").join("bin").join("python")
}

fn runs(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// What the Node clients need and is missing.
fn missing_node() -> Vec<String> {
    let mut missing = Vec::new();
    if !runs("node", "--version") {
        missing.push("node on PATH (Node.js 20 or newer)".to_owned());
    }
    let modules = clients_dir().join("node_modules");
    for package in ["graphql-ws", "@apollo/client", "ws"] {
        if !modules.join(package).is_dir() {
            missing.push(format!(
                "tests/clients/node_modules/{package} (run `npm ci` in tests/clients)"
            ));
        }
    }
    missing
}

/// What the Python client needs and is missing.
fn missing_python() -> Vec<String> {
    let python = venv_python();
    if python.is_file() {
        Vec::new()
    } else {
        vec![format!(
            "{} (python3 -m venv tests/clients/.venv && tests/clients/.venv/bin/pip install -r tests/clients/requirements.txt)",
            python.display()
        )]
    }
}

/// `path` if it is missing, with the Debian package that ships it.
fn missing_tool(path: &str, package: &str) -> Vec<String> {
    if Path::new(path).is_file() {
        Vec::new()
    } else {
        vec![format!("{path} (apt-get install {package})")]
    }
}

/// True if `test` can run; false (after a notice) if it is skipped.
/// Panics when something is missing and `CI` is set.
fn available(test: &str, missing: Vec<String>) -> bool {
    if missing.is_empty() {
        return true;
    }
    let what = missing.join("; ");
    if std::env::var_os("CI").is_some() {
        panic!("{test}: prerequisites missing in CI (.ci/run installs them): {what}");
    }
    eprintln!("SKIPPED {test}: missing {what}");
    false
}

// ---------------------------------------------------------------------------
// Running a client script

/// One client script run: its program, arguments and environment.
struct Script {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Script {
    /// `node tests/clients/<file> <mode>`.
    fn node(file: &str, mode: &str) -> Script {
        Script {
            program: "node".into(),
            args: vec![
                clients_dir().join(file).display().to_string(),
                mode.to_owned(),
            ],
            env: Vec::new(),
        }
    }

    /// `tests/clients/.venv/bin/python tests/clients/<file> <mode>`.
    fn python(file: &str, mode: &str) -> Script {
        Script {
            program: venv_python(),
            args: vec![
                clients_dir().join(file).display().to_string(),
                mode.to_owned(),
            ],
            env: Vec::new(),
        }
    }

    /// The server's URL and tokens, and the service to declare incidents on.
    fn against(mut self, app: &TestApp, service_id: &str) -> Script {
        self = self.with("OPSLEDGER_URL", &app.url(""));
        self = self.with("OPSLEDGER_READ_TOKEN", VIEWER_TOKEN);
        self = self.with("OPSLEDGER_WRITE_TOKEN", RESPONDER_TOKEN);
        self.with("OPSLEDGER_SERVICE_ID", service_id)
    }

    fn with(mut self, key: &str, value: &str) -> Script {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the script; returns its `result:` JSON (panics without one, or on an `error`).
    async fn result(self) -> Value {
        let description = format!("{} {}", self.program.display(), self.args.join(" "));
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env)
            .current_dir(clients_dir())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("{description} still running after {SCRIPT_TIMEOUT:?}"))
            .unwrap_or_else(|err| panic!("start {description}: {err}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let result = stdout
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("result: "))
            .map(|json| serde_json::from_str::<Value>(json).expect("the result line is JSON"))
            .unwrap_or_else(|| {
                panic!("{description} printed no result line ({})\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status)
            });
        assert!(
            result["error"].is_null() && output.status.success(),
            "{description} failed ({}): {}\nstderr:\n{stderr}",
            output.status,
            result["error"]
        );
        eprintln!("{description}: {result}");
        result
    }
}

// ---------------------------------------------------------------------------
// Server-side helpers

/// A GraphQL call that must succeed; returns `data`.
async fn must(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = app.graphql(Some(token), query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// Registers the service the clients work on; returns its id.
async fn register_service(app: &TestApp) -> String {
    let data = must(
        app,
        ADMIN_TOKEN,
        "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
        json!({ "input": {
            "name": SERVICE, "ownerTeam": "storefront", "tier": 2, "dependencies": [],
            "sloTargetPercent": 99.9,
            "escalationPolicy": [{ "target": "storefront", "ackTimeoutSecs": 300 }],
        }}),
    )
    .await;
    data["registerService"]["id"]
        .as_str()
        .expect("service id")
        .to_owned()
}

/// Status of an incident and the actors of its stream's events, read back over HTTP.
async fn incident_status_and_actors(app: &TestApp, id: &str) -> (String, Vec<String>) {
    let data = must(
        app,
        VIEWER_TOKEN,
        "query($id: ID!, $stream: String!) {
           incident(id: $id) { status }
           events(stream: $stream, first: 100) { edges { node { actor } } }
         }",
        json!({ "id": id, "stream": format!("incident-{id}") }),
    )
    .await;
    let actors = data["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["actor"].as_str().expect("actor").to_owned())
        .collect();
    (
        data["incident"]["status"]
            .as_str()
            .expect("status")
            .to_owned(),
        actors,
    )
}

/// What every `basic` client run must show: the query saw the catalogue, the
/// mutations took effect, the subscription delivered the first state and the
/// acknowledgement, and no socket closed on its own.
async fn assert_basic_run(app: &TestApp, result: &Value) {
    assert!(result["logHead"].is_u64(), "logHead: {result}");
    assert_eq!(result["services"], json!([SERVICE]), "{result}");
    assert_eq!(result["declared"]["status"], "TRIGGERED", "{result}");
    assert_eq!(result["acknowledged"], "ACKNOWLEDGED", "{result}");
    assert!(result["subscriptionError"].is_null(), "{result}");
    // graphql-ws is lazy: it closes its idle socket itself with 1000 between operations.
    let closes = result["closesBeforeDispose"].as_array().expect("closes");
    assert!(
        closes.iter().all(|close| close["code"] == 1000),
        "a socket closed with an error: {result}"
    );
    let updates = result["updates"].as_array().expect("updates");
    assert_eq!(updates.first(), Some(&json!("TRIGGERED")), "{result}");
    assert_eq!(updates.last(), Some(&json!("ACKNOWLEDGED")), "{result}");
    let id = result["declared"]["id"].as_str().expect("incident id");
    let (status, actors) = incident_status_and_actors(app, id).await;
    assert_eq!(status, "ACKNOWLEDGED");
    // The mutations ran as the responder token's actor, not the viewer's.
    assert!(
        !actors.is_empty() && actors.iter().all(|a| a == "rita"),
        "{actors:?}"
    );
}

// ---------------------------------------------------------------------------
// graphql-ws and Apollo Client

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_ws_client_queries_mutates_and_subscribes_over_the_socket() {
    if !available("graphql_ws basic", missing_node()) {
        return;
    }
    let app = spawn_app().await;
    let service = register_service(&app).await;
    let result = Script::node("graphql_ws.mjs", "basic")
        .against(&app, &service)
        .result()
        .await;
    assert_basic_run(&app, &result).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_client_queries_and_mutates_over_http_and_subscribes_over_graphql_ws_link() {
    if !available("apollo basic", missing_node()) {
        return;
    }
    let app = spawn_app().await;
    let service = register_service(&app).await;
    let result = Script::node("apollo.mjs", "basic")
        .against(&app, &service)
        .result()
        .await;
    assert_basic_run(&app, &result).await;
    // Apollo's normalised cache took the subscription's and mutation's results.
    assert_eq!(result["cachedStatus"], "ACKNOWLEDGED", "{result}");
}

/// The per-connection outgoing buffer of the keep-alive tests' server: small,
/// so that it is full whenever the client stalls (as under load) when a ping
/// arrives. A client that reads on must still never be closed.
const KEEP_ALIVE_OUTGOING_BUFFER: usize = 4;
/// The client is busy (not reading) this long across each moment a ping falls
/// due, so every ping leaves while the server's buffers are full: well inside
/// the slow-consumer grace below.
const STALL_MS: u64 = 300;
/// The keep-alive server's slow-consumer grace (10 stalls' worth of margin).
const KEEP_ALIVE_GRACE: Duration = Duration::from_millis(STALL_MS * 10);
/// Events the keep-alive client must receive at least (it also waits for [`PONGS`] pongs).
const KEEP_ALIVE_EVENTS: usize = 4_000;
/// Events per append while the keep-alive client runs.
const BURST: usize = 400;
/// Pause between bursts.
const BURST_PAUSE: Duration = Duration::from_millis(100);
/// The clients' keepAlive (ping period).
const KEEP_ALIVE_MS: u64 = 1_500;
/// Keep-alive round trips the client waits for.
const PONGS: u64 = 3;

/// Runs a keep-alive client (`file`) on an `events` subscription of one
/// stream, which the test keeps appending bursts to until the client is done
/// (at least [`KEEP_ALIVE_EVENTS`] events and [`PONGS`] pongs); returns its result.
async fn busy_subscription_with_keep_alive(file: &str) -> Value {
    let app = spawn_app_with(ServerConfig {
        dev: false,
        limits: Limits {
            ws_outgoing_buffer: KEEP_ALIVE_OUTGOING_BUFFER,
            ws_slow_consumer_grace: KEEP_ALIVE_GRACE,
            ..test_limits()
        },
        ..ServerConfig::default()
    })
    .await;
    let service = register_service(&app).await;
    let stream = format!("clientcompat-{}", ulid::Ulid::new());
    let client = tokio::spawn(
        Script::node(file, "keepalive")
            .against(&app, &service)
            .with("OPSLEDGER_STREAM", &stream)
            .with("OPSLEDGER_EXPECT", &KEEP_ALIVE_EVENTS.to_string())
            .with("OPSLEDGER_KEEPALIVE_MS", &KEEP_ALIVE_MS.to_string())
            .with("OPSLEDGER_STALL_MS", &STALL_MS.to_string())
            .with("OPSLEDGER_PONGS", &PONGS.to_string())
            .result(),
    );
    // Traffic for as long as the client runs (its own watchdog bounds it).
    let mut appended = 0;
    while !client.is_finished() {
        app.append(&stream, "ClientCompatTick", BURST).await;
        appended += BURST;
        tokio::time::sleep(BURST_PAUSE).await;
    }
    let result = client.await.expect("join the client");
    assert_eq!(result["timedOut"], false, "{result}");
    assert_eq!(result["closesBeforeDispose"], json!([]), "{result}");
    assert!(result["subscriptionError"].is_null(), "{result}");
    let received = result["received"].as_u64().expect("received") as usize;
    assert!(
        (KEEP_ALIVE_EVENTS..=appended).contains(&received),
        "{received} of {appended} events: {result}"
    );
    // From the stream's first event on, in order, without gaps or duplicates.
    assert_eq!(result["strictlyIncreasing"], true, "{result}");
    assert_eq!(result["versions"], json!([0, received - 1]), "{result}");
    assert!(
        result["pongsReceived"].as_u64() >= Some(PONGS),
        "the server answered fewer than {PONGS} pings: {result}"
    );
    assert!(
        result["stalls"].as_u64() >= Some(1),
        "the client never stalled across a ping: {result}"
    );
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_ws_keep_alive_pings_are_answered_during_a_busy_subscription() {
    if !available("graphql_ws keepalive", missing_node()) {
        return;
    }
    busy_subscription_with_keep_alive("graphql_ws.mjs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_keep_alive_pings_are_answered_during_a_busy_subscription() {
    if !available("apollo keepalive", missing_node()) {
        return;
    }
    busy_subscription_with_keep_alive("apollo.mjs").await;
}

// ---------------------------------------------------------------------------
// Python gql

/// Runs the gql script in `mode`; checks the query, subscription and acknowledgement.
async fn gql_run(mode: &str) -> Value {
    let app = spawn_app().await;
    let service = register_service(&app).await;
    let result = Script::python("gql_subscription.py", mode)
        .against(&app, &service)
        .result()
        .await;
    assert!(result["logHead"].is_u64(), "{result}");
    assert_eq!(result["acknowledged"], "ACKNOWLEDGED", "{result}");
    let updates = result["updates"].as_array().expect("updates");
    assert_eq!(updates.first(), Some(&json!("TRIGGERED")), "{result}");
    assert_eq!(updates.last(), Some(&json!("ACKNOWLEDGED")), "{result}");
    let id = result["incident"].as_str().expect("incident id");
    assert_eq!(incident_status_and_actors(&app, id).await.0, "ACKNOWLEDGED");
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gql_subscribes_with_its_default_subprotocol_list() {
    if !available("gql default", missing_python()) {
        return;
    }
    let result = gql_run("default").await;
    // gql offers both; the server speaks whichever it accepted.
    let chosen = result["subprotocol"].as_str().expect("subprotocol");
    assert!(
        ["graphql-ws", "graphql-transport-ws"].contains(&chosen),
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gql_subscribes_with_graphql_transport_ws_pinned() {
    if !available("gql pinned", missing_python()) {
        return;
    }
    let result = gql_run("pinned").await;
    assert_eq!(
        result["offered"],
        json!(["graphql-transport-ws"]),
        "{result}"
    );
    assert_eq!(result["subprotocol"], "graphql-transport-ws", "{result}");
}

// ---------------------------------------------------------------------------
// Prometheus Alertmanager

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const PROMTOOL: &str = "/usr/bin/promtool";

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// An Alertmanager process (killed and reaped on drop) with its temp dir.
struct Alertmanager {
    child: std::process::Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Its configuration: every alert to the opsledger webhook with the
    /// responder's bearer token, grouped by alertname and service, sent after 1 s.
    fn config(webhook: &str) -> String {
        format!(
            "route:
  receiver: opsledger
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: opsledger
    webhook_configs:
      - url: '{webhook}'
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: '{RESPONDER_TOKEN}'
"
        )
    }

    /// Starts Alertmanager (clustering off, storage in a temp dir) and waits until it is ready.
    async fn start(app: &TestApp) -> Alertmanager {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, Self::config(&app.url("/webhooks/alertmanager")))
            .expect("write config");
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).expect("log file");
        let port = free_port();
        let child = std::process::Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start prometheus-alertmanager");
        let mut alertmanager = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        alertmanager.wait_ready(app).await;
        alertmanager
    }

    async fn wait_ready(&mut self, app: &TestApp) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("alertmanager exited ({status}):\n{}", self.log());
            }
            let ready = app
                .client
                .get(format!("{}/-/ready", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager not ready in 15 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }

    /// Posts `alerts` to Alertmanager's own API v2.
    async fn post_alerts(&self, app: &TestApp, alerts: &Value) {
        let response = app
            .client
            .post(format!("{}/api/v2/alerts", self.url))
            .json(alerts)
            .send()
            .await
            .expect("POST /api/v2/alerts");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "alertmanager answered {status}: {body}"
        );
    }

    /// Alertmanager's own webhook notification counters, for failure messages.
    async fn notification_metrics(&self, app: &TestApp) -> String {
        let text = match app.client.get(format!("{}/metrics", self.url)).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(err) => return err.to_string(),
        };
        text.lines()
            .filter(|l| l.starts_with("alertmanager_notification") && l.contains("webhook"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The incidents on `service` with the alerts received by their alert groups.
async fn incidents_with_alerts(app: &TestApp, service: &str) -> Vec<(String, u64)> {
    let data = must(
        app,
        VIEWER_TOKEN,
        "query($service: ID!) {
           incidents(filter: { serviceId: $service }, first: 50) {
             edges { node { id alertGroups { received } } }
           }
         }",
        json!({ "service": service }),
    )
    .await;
    data["incidents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            let received = node["alertGroups"]
                .as_array()
                .expect("alertGroups")
                .iter()
                .map(|group| group["received"].as_u64().expect("received"))
                .sum();
            (node["id"].as_str().expect("id").to_owned(), received)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_group_of_three_alerts_opens_one_incident_with_all_three_attached() {
    if !available(
        "alertmanager webhook",
        missing_tool(ALERTMANAGER, "prometheus-alertmanager"),
    ) {
        return;
    }
    let app = spawn_app().await;
    let service = register_service(&app).await;
    let alertmanager = Alertmanager::start(&app).await;
    // No `startsAt`: Alertmanager stamps them now. (An alert that started
    // more than group_wait ago flushes its group at once, splitting the three.)
    let alerts: Vec<Value> = (1..=3)
        .map(|instance| {
            json!({
                "labels": {
                    "alertname": "CheckoutHighErrorRate", "service": SERVICE,
                    "severity": "critical", "instance": format!("web-{instance}"),
                },
                "annotations": { "summary": format!("Checkout 5xx above 5% on web-{instance}") },
                "generatorURL": "http://prometheus.invalid/graph",
            })
        })
        .collect();
    alertmanager.post_alerts(&app, &json!(alerts)).await;

    // Alertmanager sends the group after group_wait (1 s); wait for all three alerts.
    let deadline = Instant::now() + Duration::from_secs(20);
    let incidents = loop {
        let incidents = incidents_with_alerts(&app, &service).await;
        let received: u64 = incidents.iter().map(|(_, n)| n).sum();
        if received >= 3 {
            break incidents;
        }
        assert!(
            Instant::now() < deadline,
            "only {received} of 3 alerts arrived in 20 s; incidents {incidents:?}\nalertmanager:\n{}\n{}",
            alertmanager.notification_metrics(&app).await,
            alertmanager.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        incidents.len(),
        1,
        "one Alertmanager group must open one incident, got {incidents:?}"
    );
    assert_eq!(incidents[0].1, 3, "{incidents:?}");
    let metrics = alertmanager.notification_metrics(&app).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("alertmanager_notifications_failed_total") && l.ends_with(" 0")),
        "alertmanager saw failed webhook deliveries:\n{metrics}"
    );
}

// ---------------------------------------------------------------------------
// promtool

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_check_metrics_accepts_the_metrics_exposition() {
    if !available("promtool", missing_tool(PROMTOOL, "prometheus")) {
        return;
    }
    let app = spawn_app().await;
    // Traffic so that the request, error and WebSocket families have samples.
    register_service(&app).await;
    must(&app, VIEWER_TOKEN, "{ logHead }", json!({})).await;
    let (_, refused) = app
        .graphql(Some("not-a-token"), "{ logHead }", json!({}))
        .await;
    assert!(refused["errors"].is_array(), "{refused}");
    let ws = app.ws_ready(Some(VIEWER_TOKEN)).await;
    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain"),
        "content-type {content_type}"
    );
    let exposition = response.text().await.expect("metrics text");
    drop(ws);

    let mut promtool = tokio::process::Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start promtool");
    let mut stdin = promtool.stdin.take().expect("promtool stdin");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, exposition.as_bytes())
        .await
        .expect("write the exposition");
    drop(stdin);
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, promtool.wait_with_output())
        .await
        .expect("promtool in time")
        .expect("run promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.trim().is_empty(),
        "promtool check metrics ({}):\n{report}\n--- exposition ---\n{exposition}",
        output.status
    );
}
