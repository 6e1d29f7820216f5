//! Crash under load: the real server (`crash_server serve`, i.e. the `opsledger`
//! CLI) takes mutations from 16 clients and is SIGKILLed at a random moment,
//! then restarted on the same data directory. Every client opens its incidents
//! by alert ingestion, acknowledges and resolves them, each request with an
//! idempotency key; the request in flight at the kill is re-sent with its key
//! after the restart. Every mutation that got a success answer must be in the
//! log (its position holds its incident's stream) and in the read models (the
//! incident is at least as far as confirmed), and `verify` passes at the end.
//! Workflows across streams must be complete: every answered alert's incident
//! is declared, and the next alert for a resolved incident's fingerprint opens
//! a new incident (its group was released). Incomplete workflows must be 0.
//!
//! Cycles: 5 by default; `OPSLEDGER_CRASH_CYCLES=50` for the full run.
//! Seed: `OPSLEDGER_CRASH_SEED` replays a run (the seed is printed).

use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
use opsledger_tests::server_process::{ServerProcess, PROCESS_TOKEN};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = PROCESS_TOKEN;
const CLIENTS: usize = 16;

/// A tiny xorshift generator: enough randomness for kill timing, no extra dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// How far an incident was confirmed to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Declared,
    Acknowledged,
    Resolved,
}

/// One mutation that got a success answer.
#[derive(Clone, Debug)]
struct Ack {
    incident: String,
    stream: String,
    stage: Stage,
    position: u64,
    fingerprint: String,
}

/// A request that was in flight when the server died (re-sent after the restart).
#[derive(Clone, Debug)]
struct InFlight {
    stage: Stage,
    incident: Option<String>,
    fingerprint: String,
    variables: Value,
}

const INGEST: &str = "mutation($input: AlertInputGql!, $key: String) { ingestAlert(input: $input, idempotencyKey: $key) { position incident { id } } }";
const ACKNOWLEDGE: &str = "mutation($id: ID!, $key: String) { acknowledgeIncident(id: $id, idempotencyKey: $key) { position } }";
const RESOLVE: &str = "mutation($id: ID!, $key: String) { resolveIncident(id: $id, summary: \"done\", idempotencyKey: $key) { position } }";

fn query_of(stage: Stage) -> (&'static str, &'static str) {
    match stage {
        Stage::Declared => (INGEST, "ingestAlert"),
        Stage::Acknowledged => (ACKNOWLEDGE, "acknowledgeIncident"),
        Stage::Resolved => (RESOLVE, "resolveIncident"),
    }
}

fn alert_input(service: &str, fingerprint: &str) -> Value {
    json!({"service": service, "dedupKey": fingerprint, "source": "crash",
        "summary": format!("{fingerprint} firing")})
}

/// The ack for a successful answer `data` to a `stage` request.
fn ack_of(stage: Stage, incident: Option<&str>, fingerprint: &str, data: &Value) -> Ack {
    let (_, field) = query_of(stage);
    let payload = &data[field];
    let incident = match stage {
        Stage::Declared => payload["incident"]["id"]
            .as_str()
            .expect("the alert's incident"),
        _ => incident.expect("an incident"),
    }
    .to_owned();
    Ack {
        stream: format!("incident-{incident}"),
        incident,
        stage,
        position: payload["position"].as_u64().unwrap(),
        fingerprint: fingerprint.to_owned(),
    }
}

/// The real server on `dir`, ready.
async fn start_server(dir: &Path) -> ServerProcess {
    ServerProcess::start(env!("CARGO_BIN_EXE_crash_server"), dir, None).await
}

async fn graphql(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    variables: Value,
) -> Option<Value> {
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(TOKEN)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    assert!(body["errors"].is_null(), "a mutation was refused: {body}");
    Some(body["data"].clone())
}

async fn register_service(client: &reqwest::Client, base: &str) -> String {
    let data = graphql(
        client,
        base,
        "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
        json!({"input": {"name": "crash-edge", "ownerTeam": "core", "tier": 1,
            "sloTargetPercent": 99.9,
            "escalationPolicy": [{"target": "core", "ackTimeoutSecs": 3600}]}}),
    )
    .await
    .expect("register");
    data["registerService"]["id"].as_str().unwrap().to_owned()
}

/// One client: ingest an alert (opening an incident), acknowledge, resolve,
/// again, until a request fails (the kill): that request is left in `inflight`.
async fn client_loop(
    client: reqwest::Client,
    base: String,
    service: String,
    name: String,
    acks: Arc<Mutex<Vec<Ack>>>,
    inflight: Arc<Mutex<Vec<InFlight>>>,
) {
    for n in 0.. {
        let fingerprint = format!("{name}-{n}");
        let mut incident: Option<String> = None;
        for stage in [Stage::Declared, Stage::Acknowledged, Stage::Resolved] {
            let key = format!("{fingerprint}-{stage:?}");
            let variables = match &incident {
                None => json!({"input": alert_input(&service, &fingerprint), "key": key}),
                Some(id) => json!({"id": id, "key": key}),
            };
            let (query, _) = query_of(stage);
            let Some(data) = graphql(&client, &base, query, variables.clone()).await else {
                inflight.lock().unwrap().push(InFlight {
                    stage,
                    incident,
                    fingerprint,
                    variables,
                });
                return;
            };
            let ack = ack_of(stage, incident.as_deref(), &fingerprint, &data);
            incident = Some(ack.incident.clone());
            acks.lock().unwrap().push(ack);
        }
    }
}

/// Re-sends the requests in flight at the kill, with their keys; records the answers.
async fn resend(
    client: &reqwest::Client,
    base: &str,
    inflight: Vec<InFlight>,
    acks: &Mutex<Vec<Ack>>,
) {
    for request in inflight {
        let (query, _) = query_of(request.stage);
        let data = graphql(client, base, query, request.variables.clone())
            .await
            .expect("a re-sent request is answered");
        let ack = ack_of(
            request.stage,
            request.incident.as_deref(),
            &request.fingerprint,
            &data,
        );
        acks.lock().unwrap().push(ack);
    }
}

/// Workflows left incomplete: answered alerts whose incident is not declared,
/// and resolved incidents whose alert group still attaches the next alert.
async fn incomplete_workflows(
    client: &reqwest::Client,
    base: &str,
    service: &str,
    acks: &[Ack],
) -> Vec<String> {
    let mut incomplete = Vec::new();
    let mut resolved: HashMap<&str, &Ack> = HashMap::new();
    for ack in acks {
        if ack.stage == Stage::Resolved {
            resolved.insert(&ack.incident, ack);
        }
    }
    for ack in acks.iter().filter(|a| a.stage == Stage::Declared) {
        let data = graphql(
            client,
            base,
            "query($id: ID!) { incident(id: $id) { id } }",
            json!({"id": ack.incident}),
        )
        .await
        .expect("incident query");
        if data["incident"].is_null() {
            incomplete.push(format!(
                "alert {} answered, incident {} never declared",
                ack.fingerprint, ack.incident
            ));
        }
    }
    for ack in resolved.values() {
        let data = graphql(
            client,
            base,
            INGEST,
            json!({"input": alert_input(service, &ack.fingerprint), "key": format!("{}-next", ack.fingerprint)}),
        )
        .await
        .expect("the next alert");
        let next = data["ingestAlert"]["incident"]["id"].as_str().unwrap_or("");
        if next == ack.incident {
            incomplete.push(format!(
                "alert group {} not released: the next alert attached to resolved {}",
                ack.fingerprint, ack.incident
            ));
        }
    }
    incomplete
}

/// Every confirmed incident is in the read models at least as far as confirmed.
async fn check_read_models(client: &reqwest::Client, base: &str, acks: &[Ack]) {
    let mut confirmed: HashMap<&str, Stage> = HashMap::new();
    for ack in acks {
        let stage = confirmed.entry(&ack.incident).or_insert(ack.stage);
        *stage = (*stage).max(ack.stage);
    }
    for (id, stage) in confirmed {
        let data = graphql(
            client,
            base,
            "query($id: ID!) { incident(id: $id) { status } }",
            json!({"id": id}),
        )
        .await
        .expect("incident query");
        let status = data["incident"]["status"].as_str().unwrap_or("MISSING");
        let ok = match stage {
            Stage::Declared => status != "MISSING",
            Stage::Acknowledged => matches!(status, "ACKNOWLEDGED" | "RESOLVED"),
            Stage::Resolved => status == "RESOLVED",
        };
        assert!(
            ok,
            "incident {id} confirmed {stage:?} but read models say {status}"
        );
    }
}

/// Every confirmed mutation's position holds an event of its incident's stream.
async fn check_log(dir: &Path, acks: &[Ack]) {
    let store = SledEventStore::open(dir.join("log"), StoreConfig::default())
        .await
        .unwrap();
    let mut streams = Vec::new();
    loop {
        let page = store.read_all(streams.len() as u64, 4096).await.unwrap();
        if page.is_empty() {
            break;
        }
        streams.extend(page.into_iter().map(|e| e.stream_id));
    }
    for ack in acks {
        let stream = streams.get(ack.position as usize).map(String::as_str);
        // A resolve answers with its workflow's last write: its alert group's release.
        let released = stream.is_some_and(|s| {
            ack.stage == Stage::Resolved
                && s.starts_with("alertgroup-")
                && s.ends_with(&format!("-{}", ack.fingerprint))
        });
        if !released {
            assert_eq!(stream, Some(ack.stream.as_str()), "{ack:?}");
        }
    }
    store.flush_and_stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_keeps_every_answered_mutation() {
    let cycles: u64 = std::env::var("OPSLEDGER_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let seed = std::env::var("OPSLEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    println!("OPSLEDGER_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let acks = Arc::new(Mutex::new(Vec::new()));
    let inflight = Arc::new(Mutex::new(Vec::new()));
    let mut server = start_server(dir.path()).await;
    let service = register_service(&client, &server.base).await;
    let mut resent = 0;
    for cycle in 0..cycles {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(client_loop(
                    client.clone(),
                    server.base.clone(),
                    service.clone(),
                    format!("c{c}-k{cycle}"),
                    acks.clone(),
                    inflight.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200 + rng.below(1000))).await;
        server.kill(); // SIGKILL
        for task in clients {
            task.await.unwrap();
        }
        server = start_server(dir.path()).await;
        let pending = std::mem::take(&mut *inflight.lock().unwrap());
        resent += pending.len();
        resend(&client, &server.base, pending, &acks).await;
        let snapshot = acks.lock().unwrap().clone();
        check_read_models(&client, &server.base, &snapshot).await;
    }
    let snapshot = acks.lock().unwrap().clone();
    let incomplete = incomplete_workflows(&client, &server.base, &service, &snapshot).await;
    assert_eq!(incomplete, Vec::<String>::new(), "incomplete workflows");
    server.kill();
    let acks = acks.lock().unwrap().clone();
    assert!(!acks.is_empty(), "no mutation was answered");
    check_log(dir.path(), &acks).await;
    let verify = Command::new(env!("CARGO_BIN_EXE_crash_server"))
        .args(["verify", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify failed: {out}");
    assert!(out.starts_with("ok: "), "{out}");
    println!(
        "{cycles} kill cycles, {} answered mutations checked ({resent} re-sent after a kill), 0 incomplete workflows; {out}",
        acks.len()
    );
}
