//! Crash under load: the real server (`crash_server serve`, i.e. the `opsledger`
//! CLI) takes mutations from 16 clients and is SIGKILLed at a random moment,
//! then restarted on the same data directory. Every mutation that got a
//! success answer must be in the log (its position holds its incident's
//! stream) and in the read models (the incident is at least as far as
//! acknowledged), and `verify` passes at the end.
//!
//! Cycles: 5 by default; `OPSLEDGER_CRASH_CYCLES=50` for the full run.
//! Seed: `OPSLEDGER_CRASH_SEED` replays a run (the seed is printed).

use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "crash-admin-secret";
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
}

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn start_server(dir: &Path, client: &reqwest::Client) -> Server {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_server"))
        .args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("OPSLEDGER_TOKENS", format!("{TOKEN}:root:admin"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().as_u16() == 200 {
                return Server { child, base };
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not become ready");
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

/// One client: declare, acknowledge, resolve, again, until a request fails (the kill).
async fn client_loop(
    client: reqwest::Client,
    base: String,
    service: String,
    acks: Arc<Mutex<Vec<Ack>>>,
) {
    loop {
        let Some(data) = graphql(
            &client,
            &base,
            "mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id streamId position } }",
            json!({"input": {"title": "crash", "severity": "SEV3",
                "impacts": [{"service": service, "level": "DEGRADED"}]}}),
        )
        .await
        else {
            return;
        };
        let id = data["declareIncident"]["id"].as_str().unwrap().to_owned();
        let stream = data["declareIncident"]["streamId"]
            .as_str()
            .unwrap()
            .to_owned();
        let record = |stage, payload: &Value| {
            acks.lock().unwrap().push(Ack {
                incident: id.clone(),
                stream: stream.clone(),
                stage,
                position: payload["position"].as_u64().unwrap(),
            })
        };
        record(Stage::Declared, &data["declareIncident"]);
        for (stage, field, query) in [
            (
                Stage::Acknowledged,
                "acknowledgeIncident",
                "mutation($id: ID!) { acknowledgeIncident(id: $id) { position } }",
            ),
            (
                Stage::Resolved,
                "resolveIncident",
                "mutation($id: ID!) { resolveIncident(id: $id, summary: \"done\") { position } }",
            ),
        ] {
            let Some(data) = graphql(&client, &base, query, json!({ "id": id })).await else {
                return;
            };
            record(stage, &data[field]);
        }
    }
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
        assert_eq!(stream, Some(ack.stream.as_str()), "{ack:?}");
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
    let mut server = start_server(dir.path(), &client).await;
    let service = register_service(&client, &server.base).await;
    for _ in 0..cycles {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                tokio::spawn(client_loop(
                    client.clone(),
                    server.base.clone(),
                    service.clone(),
                    acks.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200 + rng.below(1000))).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        for task in clients {
            task.await.unwrap();
        }
        server = start_server(dir.path(), &client).await;
        let snapshot = acks.lock().unwrap().clone();
        check_read_models(&client, &server.base, &snapshot).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
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
        "{cycles} kill cycles, {} answered mutations checked; {out}",
        acks.len()
    );
}
