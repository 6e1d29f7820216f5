//! Verifiable history (issue 17) from outside: a real node's signed checkpoints and
//! its inclusion and consistency proofs, fetched over GraphQL and checked by
//! `tests/clients/rfc9162.py`, an RFC 9162 / C2SP verifier written from the
//! specifications only (not from this project's Rust code). Also: the record in an
//! inclusion proof is the stored record of the event the log serves, the roles the
//! proofs need, the coded errors for sizes outside the tree, a checkpoint signed on
//! shutdown and the history kept over a restart, and the `checkpoints` subscription.
//!
//! The verifier runs in the pinned venv `tests/clients/.venv` (`.ci/run` creates it).
//! Without it the tests that need it are skipped with a printed reason, except when
//! `CI` is set: then they fail.

use opsledger_api::server::ServerConfig;
use opsledger_storage::chain::chain_hash;
use opsledger_storage::codec::{decode_record, split_record};
use opsledger_storage::hex::{hex, unhex};
use opsledger_tests::{
    error_code, spawn_app, spawn_app_in, test_limits, TestApp, WsClient, WsEvent, ADMIN_TOKEN,
    APPROVER_TOKEN, CHANGE_MANAGER_TOKEN, NO_ROLE_TOKEN, RESPONDER_TOKEN, VIEWER_TOKEN, WAIT,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

// ---------------------------------------------------------------------------
// The independent verifier

/// `tests/clients/.venv/bin/python`.
fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(".venv")
        .join("bin")
        .join("python")
}

/// `tests/clients/rfc9162.py`.
fn verifier_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join("rfc9162.py")
}

/// `rfc9162.py` serving JSON Lines on its stdin/stdout.
struct Verifier {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
}

impl Verifier {
    /// The verifier, or `None` (after a notice) when the venv is missing; panics then
    /// if `CI` is set.
    async fn start(test: &str) -> Option<Verifier> {
        let python = venv_python();
        if !python.is_file() {
            let what = format!(
                "{} (python3 -m venv tests/clients/.venv && tests/clients/.venv/bin/pip install -r tests/clients/requirements.txt)",
                python.display()
            );
            if std::env::var_os("CI").is_some() {
                panic!("{test}: prerequisites missing in CI (.ci/run installs them): {what}");
            }
            eprintln!("SKIPPED {test}: missing {what}");
            return None;
        }
        let mut child = tokio::process::Command::new(&python)
            .arg(verifier_script())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {} rfc9162.py: {e}", python.display()));
        let stdin = child.stdin.take().expect("verifier stdin");
        let stdout = BufReader::new(child.stdout.take().expect("verifier stdout")).lines();
        Some(Verifier {
            _child: child,
            stdin,
            stdout,
            next_id: 0,
        })
    }

    /// One request, one answer (with the request's id echoed).
    async fn call(&mut self, mut request: Value) -> Value {
        self.next_id += 1;
        request["id"] = json!(self.next_id);
        let line = format!("{request}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the verifier");
        self.stdin.flush().await.expect("flush the verifier");
        let answer = tokio::time::timeout(WAIT, self.stdout.next_line())
            .await
            .expect("the verifier answers in time")
            .expect("read the verifier")
            .expect("the verifier is still running");
        let answer: Value = serde_json::from_str(&answer).expect("the verifier answers JSON");
        assert_eq!(answer["id"], json!(self.next_id), "{answer}");
        answer
    }

    /// The answer to `request`, which must be accepted.
    async fn accepts(&mut self, what: &str, request: Value) -> Value {
        let answer = self.call(request.clone()).await;
        assert_eq!(
            answer["ok"],
            json!(true),
            "rfc9162.py refused {what}: {answer}\nrequest: {request}"
        );
        answer
    }

    /// `request` must be refused (for a reason other than a malformed request).
    async fn refuses(&mut self, what: &str, request: Value) {
        let answer = self.call(request.clone()).await;
        assert_eq!(
            answer["ok"],
            json!(false),
            "rfc9162.py accepted {what}\nrequest: {request}"
        );
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            !error.starts_with("request:") && !error.starts_with("internal:"),
            "{what} was refused as a malformed request, not as a bad proof: {answer}"
        );
    }

    /// Verifies `note` with the log's verifier key; returns origin, size, root, extensions.
    async fn checkpoint(&mut self, what: &str, note: &str, vkey: &str) -> Value {
        self.accepts(
            what,
            json!({"op": "checkpoint", "note": note, "vkey": vkey}),
        )
        .await
    }

    /// The RFC 9162 leaf hash of `record` (hex).
    async fn leaf_hash(&mut self, record: &str) -> String {
        self.accepts("leaf_hash", json!({"op": "leaf_hash", "leaf": record}))
            .await["hash"]
            .as_str()
            .expect("hash")
            .to_owned()
    }
}

// ---------------------------------------------------------------------------
// GraphQL helpers

const CHECKPOINT: &str = "query($s: Int) { checkpoint(treeSize: $s) {
    origin treeSize rootHash chainHead note } }";
const TRANSPARENCY_LOG: &str =
    "{ transparencyLog { origin verifierKey treeSize checkpointCount disagreements } }";
const INCLUSION: &str = "query($p: Int!, $t: Int) { inclusionProof(position: $p, treeSize: $t) {
    leafIndex treeSize record auditPath } }";
const CONSISTENCY: &str = "query($f: Int!, $t: Int) { consistencyProof(fromSize: $f, toSize: $t) {
    fromSize toSize path } }";
const LEAF_HASHES: &str = "query($s: Int!, $c: Int!) { leafHashes(start: $s, count: $c) }";
const CHECKPOINTS_SUBSCRIPTION: &str =
    "subscription { checkpoints { origin treeSize rootHash chainHead note } }";

/// A GraphQL call that must succeed; returns `data`.
async fn must(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = app.graphql(Some(token), query, variables).await;
    assert_eq!(status, 200, "{query}: {body}");
    assert!(body["errors"].is_null(), "{query}: {body}");
    body["data"].clone()
}

/// The error code of a GraphQL call that must fail (and return no data for the field).
async fn refused(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> String {
    let (_, body) = app.graphql(token, query, variables.clone()).await;
    assert!(
        !body["errors"].is_null(),
        "{query} {variables} succeeded: {body}"
    );
    assert!(
        body["data"].is_null()
            || body["data"]
                .as_object()
                .is_some_and(|o| o.values().all(Value::is_null)),
        "{query} {variables} refused but returned data: {body}"
    );
    error_code(&body)
        .unwrap_or_else(|| panic!("{query} {variables}: an error without a code: {body}"))
        .to_owned()
}

/// The checkpoint at `size` (the newest when `None`).
async fn checkpoint(app: &TestApp, token: &str, size: Option<u64>) -> Value {
    must(app, token, CHECKPOINT, json!({ "s": size })).await["checkpoint"].clone()
}

async fn transparency_log(app: &TestApp, token: &str) -> Value {
    must(app, token, TRANSPARENCY_LOG, json!({})).await["transparencyLog"].clone()
}

async fn inclusion(app: &TestApp, position: u64, size: Option<u64>) -> Value {
    must(
        app,
        ADMIN_TOKEN,
        INCLUSION,
        json!({"p": position, "t": size}),
    )
    .await["inclusionProof"]
        .clone()
}

async fn consistency(app: &TestApp, from: u64, to: Option<u64>) -> Value {
    must(app, ADMIN_TOKEN, CONSISTENCY, json!({"f": from, "t": to})).await["consistencyProof"]
        .clone()
}

async fn leaf_hashes(app: &TestApp, start: u64, count: u64) -> Vec<String> {
    let data = must(
        app,
        ADMIN_TOKEN,
        LEAF_HASHES,
        json!({"s": start, "c": count}),
    )
    .await;
    data["leafHashes"]
        .as_array()
        .expect("leafHashes")
        .iter()
        .map(|h| h.as_str().expect("hex").to_owned())
        .collect()
}

/// How many events the log holds (`logHead + 1`).
async fn log_size(app: &TestApp) -> u64 {
    must(app, VIEWER_TOKEN, "{ logHead }", json!({})).await["logHead"]
        .as_u64()
        .map_or(0, |head| head + 1)
}

fn u64_of(value: &Value, field: &str) -> u64 {
    value[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

/// Waits until the newest checkpoint covers the whole log (and the log stays put
/// between the two reads); returns that checkpoint.
async fn settle(app: &TestApp) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let head = log_size(app).await;
        let newest = checkpoint(app, VIEWER_TOKEN, None).await;
        if u64_of(&newest, "treeSize") == head && log_size(app).await == head {
            return newest;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint covers the log's {head} events after {WAIT:?}: newest {newest}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes events through real mutations: services, incidents declared on them and
/// notes on the incidents.
#[derive(Default)]
struct Writer {
    services: Vec<String>,
    incidents: Vec<String>,
    n: usize,
}

impl Writer {
    /// One mutation (one or more events).
    async fn write(&mut self, app: &TestApp) {
        let n = self.n;
        self.n += 1;
        if self.services.is_empty() || n.is_multiple_of(12) {
            let data = must(
                app,
                ADMIN_TOKEN,
                "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
                json!({"input": {"name": format!("svc-{n}"), "ownerTeam": "core", "tier": 2,
                    "sloTargetPercent": 99.9,
                    "escalationPolicy": [{"target": "primary", "ackTimeoutSecs": 300}]}}),
            )
            .await;
            self.services
                .push(str_of(&data["registerService"], "id").to_owned());
        } else if self.incidents.is_empty() || n % 5 == 1 {
            let service = &self.services[n % self.services.len()];
            let data = must(
                app,
                RESPONDER_TOKEN,
                "mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id } }",
                json!({"input": {"title": format!("incident {n}"),
                    "impacts": [{"service": service, "level": "MAJOR_OUTAGE"}]}}),
            )
            .await;
            self.incidents
                .push(str_of(&data["declareIncident"], "id").to_owned());
        } else {
            let id = &self.incidents[n % self.incidents.len()];
            must(
                app,
                RESPONDER_TOKEN,
                "mutation($id: ID!, $t: String!) { addIncidentNote(id: $id, text: $t) { id } }",
                json!({"id": id, "t": format!("note {n}: checked the dashboards")}),
            )
            .await;
        }
    }

    /// Writes until the log holds at least `events` events.
    async fn write_until(&mut self, app: &TestApp, events: u64) {
        while log_size(app).await < events {
            self.write(app).await;
        }
    }
}

/// `hex` with bit `bit` (counted over the whole byte string) flipped.
fn flip_bit(hex_text: &str, bit: usize) -> String {
    let mut bytes = unhex(hex_text).expect("hex");
    let bit = bit % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
    hex(&bytes)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// Checks `checkpoint` (a GraphQL `Checkpoint`) against its note as the verifier reads it.
async fn verify_checkpoint(py: &mut Verifier, what: &str, checkpoint: &Value, vkey: &str) {
    let parsed = py.checkpoint(what, str_of(checkpoint, "note"), vkey).await;
    assert_eq!(parsed["origin"], checkpoint["origin"], "{what}: {parsed}");
    assert_eq!(parsed["size"], checkpoint["treeSize"], "{what}: {parsed}");
    assert_eq!(parsed["root"], checkpoint["rootHash"], "{what}: {parsed}");
    assert_eq!(
        parsed["extensions"],
        json!([format!(
            "opsledger-blake3-chain-head {}",
            str_of(checkpoint, "chainHead")
        )]),
        "{what}: {parsed}"
    );
}

// ---------------------------------------------------------------------------
// The rules

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_proofs_verify_with_an_independent_rfc9162_implementation() {
    let Some(mut py) =
        Verifier::start("checkpoints_and_proofs_verify_with_an_independent_rfc9162_implementation")
            .await
    else {
        return;
    };
    let app = spawn_app().await;
    // Write ~150 events, noting every checkpoint size seen on the way.
    let mut seen = BTreeSet::new();
    let mut writer = Writer::default();
    while log_size(&app).await < 150 {
        writer.write(&app).await;
        seen.insert(u64_of(
            &checkpoint(&app, VIEWER_TOKEN, None).await,
            "treeSize",
        ));
    }
    let newest = settle(&app).await;
    let size = u64_of(&newest, "treeSize");
    let root = str_of(&newest, "rootHash").to_owned();
    let log = transparency_log(&app, VIEWER_TOKEN).await;
    let vkey = str_of(&log, "verifierKey").to_owned();
    assert_eq!(log["origin"], newest["origin"], "{log}");
    assert_eq!(u64_of(&log, "treeSize"), size, "{log}");
    assert!(strings(&log["disagreements"]).is_empty(), "{log}");
    assert!(
        seen.len() >= 5,
        "checkpoints every 20 events or 200 ms: only {seen:?} seen over {size} events"
    );
    verify_checkpoint(&mut py, "the newest checkpoint", &newest, &vkey).await;

    // Every position's inclusion proof in the newest tree.
    let mut records = Vec::new();
    for position in 0..size {
        let proof = inclusion(&app, position, Some(size)).await;
        assert_eq!(u64_of(&proof, "leafIndex"), position, "{proof}");
        assert_eq!(u64_of(&proof, "treeSize"), size, "{proof}");
        py.accepts(
            &format!("the inclusion proof of position {position} in tree {size}"),
            json!({"op": "inclusion", "leaf": proof["record"], "index": position,
                "tree_size": size, "path": proof["auditPath"], "root": root}),
        )
        .await;
        records.push(proof);
    }
    // Without treeSize, the proof is for the newest checkpoint.
    assert_eq!(
        inclusion(&app, size / 2, None).await,
        records[size as usize / 2]
    );
    // The root over every record, computed by the verifier, is the signed root.
    let leaves: Vec<&Value> = records.iter().map(|p| &p["record"]).collect();
    let mth = py
        .accepts("root", json!({"op": "root", "leaves": leaves}))
        .await;
    assert_eq!(
        mth["hash"],
        json!(root),
        "MTH of every record vs the checkpoint"
    );
    // The leaf hashes a monitor keeps are the RFC 9162 leaf hashes of those records.
    let served = leaf_hashes(&app, 0, size).await;
    assert_eq!(served.len() as u64, size);
    for (position, proof) in records.iter().enumerate() {
        let expected = py.leaf_hash(str_of(proof, "record")).await;
        assert_eq!(
            served[position], expected,
            "leaf hash of position {position}"
        );
    }
    assert_eq!(leaf_hashes(&app, 3, 5).await, served[3..8].to_vec());

    // The older checkpoints: each retrievable by its size and verifying.
    seen.insert(0);
    seen.insert(size);
    let mut roots = BTreeMap::new();
    for &s in &seen {
        let old = checkpoint(&app, VIEWER_TOKEN, Some(s)).await;
        assert_eq!(u64_of(&old, "treeSize"), s, "{old}");
        verify_checkpoint(&mut py, &format!("the checkpoint at {s}"), &old, &vkey).await;
        roots.insert(s, str_of(&old, "rootHash").to_owned());
    }
    let empty = py
        .accepts("empty root", json!({"op": "root", "leaves": []}))
        .await;
    assert_eq!(json!(roots[&0]), empty["hash"], "the empty tree's root");
    assert_eq!(roots[&size], root);
    // Inclusion in the older trees, against their own signed roots.
    for (&s, old_root) in roots.iter().filter(|(s, _)| **s > 0) {
        for position in BTreeSet::from([0, s / 2, s - 1]) {
            let proof = inclusion(&app, position, Some(s)).await;
            assert_eq!(proof["record"], records[position as usize]["record"]);
            py.accepts(
                &format!("the inclusion proof of position {position} in tree {s}"),
                json!({"op": "inclusion", "leaf": proof["record"], "index": position,
                    "tree_size": s, "path": proof["auditPath"], "root": old_root}),
            )
            .await;
        }
    }
    // Consistency between every pair of signed sizes (equal sizes included).
    let mut pairs = 0;
    for (&from, from_root) in &roots {
        for (&to, to_root) in roots.range(from..) {
            let proof = consistency(&app, from, Some(to)).await;
            assert_eq!(u64_of(&proof, "fromSize"), from, "{proof}");
            assert_eq!(u64_of(&proof, "toSize"), to, "{proof}");
            py.accepts(
                &format!("the consistency proof {from} -> {to}"),
                json!({"op": "consistency", "first": from, "second": to, "proof": proof["path"],
                    "first_root": from_root, "second_root": to_root}),
            )
            .await;
            pairs += 1;
        }
    }
    assert!(pairs >= 15, "only {pairs} consistency pairs");
    eprintln!(
        "rfc9162.py verified {size} inclusion proofs, {} checkpoints ({:?}) and {pairs} consistency proofs",
        roots.len(),
        roots.keys().collect::<Vec<_>>()
    );
    // Without toSize, the proof is to the newest checkpoint.
    let older = *roots.keys().nth(2).expect("three sizes");
    assert_eq!(
        consistency(&app, older, None).await,
        consistency(&app, older, Some(size)).await
    );

    // Tampered inclusion proofs are refused.
    let position = size / 3;
    let proof = &records[position as usize];
    let path = strings(&proof["auditPath"]);
    assert!(path.len() >= 3, "{proof}");
    let base = json!({"op": "inclusion", "leaf": proof["record"], "index": position,
        "tree_size": size, "path": path, "root": root});
    let with = |key: &str, value: Value| {
        let mut request = base.clone();
        request[key] = value;
        request
    };
    let mut longer = path.clone();
    longer.push(path[0].clone());
    py.refuses(
        "an audit path with an extra node",
        with("path", json!(longer)),
    )
    .await;
    let mut longer = path.clone();
    longer.insert(0, roots[&0].clone());
    py.refuses(
        "an audit path with an extra first node",
        with("path", json!(longer)),
    )
    .await;
    py.refuses(
        "an audit path missing its last node",
        with("path", json!(path[..path.len() - 1])),
    )
    .await;
    py.refuses(
        "an audit path missing its first node",
        with("path", json!(path[1..])),
    )
    .await;
    for (i, node) in path.iter().enumerate() {
        let mut flipped = path.clone();
        flipped[i] = flip_bit(node, 37 * i + 5);
        py.refuses(
            &format!("an audit path with a bit flipped in node {i}"),
            with("path", json!(flipped)),
        )
        .await;
    }
    py.refuses(
        "a record with a bit flipped",
        with("leaf", json!(flip_bit(str_of(proof, "record"), 100))),
    )
    .await;
    py.refuses(
        "the proof for another index",
        with("index", json!(position ^ 1)),
    )
    .await;
    let (&other_size, other_root) = roots
        .iter()
        .rev()
        .find(|(s, _)| **s > position && **s < size)
        .expect("an older checkpoint past the position");
    py.refuses(
        "the proof checked against another checkpoint's root",
        with("root", json!(other_root)),
    )
    .await;
    let mut other = with("root", json!(other_root));
    other["tree_size"] = json!(other_size);
    py.refuses(
        "the proof checked as one of another checkpoint (size and root)",
        other,
    )
    .await;

    // Tampered consistency proofs are refused.
    let from = *roots
        .keys()
        .find(|&&s| s > 2 && !s.is_power_of_two() && s < size)
        .expect("a signed size that is not a power of two");
    let proof = strings(&consistency(&app, from, Some(size)).await["path"]);
    assert!(proof.len() >= 2, "{proof:?}");
    let base = json!({"op": "consistency", "first": from, "second": size, "proof": proof,
        "first_root": roots[&from], "second_root": root});
    let with = |key: &str, value: Value| {
        let mut request = base.clone();
        request[key] = value;
        request
    };
    py.accepts("the untampered consistency proof", base.clone())
        .await;
    let mut longer = proof.clone();
    longer.push(proof[0].clone());
    py.refuses(
        "a consistency proof with an extra node",
        with("proof", json!(longer)),
    )
    .await;
    py.refuses(
        "a consistency proof missing a node",
        with("proof", json!(proof[..proof.len() - 1])),
    )
    .await;
    for (i, node) in proof.iter().enumerate() {
        let mut flipped = proof.clone();
        flipped[i] = flip_bit(node, 11 * i + 3);
        py.refuses(
            &format!("a consistency proof with a bit flipped in node {i}"),
            with("proof", json!(flipped)),
        )
        .await;
    }
    py.refuses(
        "a consistency proof against another old root",
        with("first_root", json!(roots[&0])),
    )
    .await;
    py.refuses(
        "a consistency proof against another new root",
        with("second_root", json!(other_root)),
    )
    .await;
    let mut swapped = with("first_root", json!(root));
    swapped["second_root"] = json!(roots[&from]);
    py.refuses("a consistency proof with the roots swapped", swapped)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_in_an_inclusion_proof_is_the_event_the_log_serves() {
    let app = spawn_app().await;
    Writer::default().write_until(&app, 40).await;
    let newest = settle(&app).await;
    let size = u64_of(&newest, "treeSize");
    // The whole log as the `events` query serves it.
    let mut events: Vec<Value> = Vec::new();
    loop {
        let after = events.last().map(|e| u64_of(e, "position"));
        let data = must(
            &app,
            VIEWER_TOKEN,
            "query($after: Int) { events(afterPosition: $after, first: 100) {
                nodes { position streamId streamVersion eventId type schemaVersion actor
                        commandId correlationId causationId prevHash hash }
                pageInfo { hasNextPage } } }",
            json!({ "after": after }),
        )
        .await;
        events.extend(data["events"]["nodes"].as_array().expect("nodes").clone());
        if data["events"]["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
    }
    assert_eq!(events.len() as u64, size, "the log and the tree");
    let zeros = hex(&[0; 32]);
    for (position, event) in (0..size).zip(&events) {
        assert_eq!(u64_of(event, "position"), position, "{event}");
        let proof = inclusion(&app, position, Some(size)).await;
        let bytes = unhex(str_of(&proof, "record")).expect("record hex");
        assert!(bytes.len() > 64, "record of {} bytes", bytes.len());
        // Stored record = format byte and envelope body, prev_hash, hash.
        assert_eq!(
            hex(&bytes[bytes.len() - 32..]),
            str_of(event, "hash"),
            "position {position}: the record's last 32 bytes are the event's chain hash"
        );
        assert_eq!(
            hex(&bytes[bytes.len() - 64..bytes.len() - 32]),
            str_of(event, "prevHash"),
            "position {position}: the 32 bytes before are its prevHash"
        );
        let parts = split_record(&bytes).expect("a record");
        assert_eq!(
            chain_hash(&parts.prev_hash, parts.body),
            parts.hash,
            "position {position}: hash = BLAKE3(prev_hash ‖ body)"
        );
        let expected_prev = if position == 0 {
            zeros.clone()
        } else {
            str_of(&events[position as usize - 1], "hash").to_owned()
        };
        assert_eq!(
            str_of(event, "prevHash"),
            expected_prev,
            "chain at {position}"
        );
        let record = decode_record(&bytes).expect("the record decodes");
        assert_eq!(record.position, position);
        assert_eq!(record.stream_id, str_of(event, "streamId"));
        assert_eq!(record.stream_version, u64_of(event, "streamVersion"));
        assert_eq!(record.event_id.to_string(), str_of(event, "eventId"));
        assert_eq!(record.type_name, str_of(event, "type"));
        assert_eq!(
            u64::from(record.schema_version),
            u64_of(event, "schemaVersion")
        );
        assert_eq!(record.actor, str_of(event, "actor"));
        assert_eq!(record.command_id, str_of(event, "commandId"));
        assert_eq!(
            record.correlation_id.to_string(),
            str_of(event, "correlationId")
        );
        assert_eq!(
            record.causation_id.map(|c| c.to_string()),
            event["causationId"].as_str().map(str::to_owned)
        );
    }
    // The checkpoint's chain head is the hash of its last event.
    assert_eq!(
        str_of(&newest, "chainHead"),
        str_of(&events[size as usize - 1], "hash")
    );
    assert_eq!(
        str_of(&checkpoint(&app, VIEWER_TOKEN, Some(0)).await, "chainHead"),
        zeros,
        "the empty tree's chain head"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_need_the_auditor_role_and_checkpoints_need_a_token() {
    let app = spawn_app().await;
    Writer::default().write_until(&app, 5).await;
    let size = u64_of(&settle(&app).await, "treeSize");
    let proofs = [
        (INCLUSION, json!({"p": 0, "t": size})),
        (CONSISTENCY, json!({"f": 1, "t": size})),
        (LEAF_HASHES, json!({"s": 0, "c": size})),
    ];
    let reads = [
        (CHECKPOINT, json!({"s": null})),
        (CHECKPOINT, json!({"s": size})),
        (TRANSPARENCY_LOG, json!({})),
    ];
    // No token: nothing.
    for (query, variables) in reads.iter().chain(&proofs) {
        assert_eq!(
            refused(&app, None, query, variables.clone()).await,
            "UNAUTHENTICATED",
            "{query}"
        );
    }
    // A token without any role: nothing either (every role grants viewer; none, nothing).
    for (query, variables) in reads.iter().chain(&proofs) {
        assert_eq!(
            refused(&app, Some(NO_ROLE_TOKEN), query, variables.clone()).await,
            "FORBIDDEN",
            "{query}"
        );
    }
    let newest = checkpoint(&app, ADMIN_TOKEN, None).await;
    for token in [
        VIEWER_TOKEN,
        RESPONDER_TOKEN,
        CHANGE_MANAGER_TOKEN,
        APPROVER_TOKEN,
    ] {
        // Any role reads the checkpoints and the log's identity…
        assert_eq!(checkpoint(&app, token, None).await, newest, "{token}");
        assert_eq!(checkpoint(&app, token, Some(size)).await, newest, "{token}");
        let log = transparency_log(&app, token).await;
        assert!(
            str_of(&log, "verifierKey").starts_with(&format!("{}+", str_of(&newest, "origin"))),
            "{log}"
        );
        // …but no proof, leaf hash or record without the auditor role.
        for (query, variables) in &proofs {
            let (_, body) = app.graphql(Some(token), query, variables.clone()).await;
            assert_eq!(
                error_code(&body),
                Some("FORBIDDEN"),
                "{token} {query}: {body}"
            );
            assert!(
                body["data"].is_null()
                    || body["data"]
                        .as_object()
                        .unwrap()
                        .values()
                        .all(Value::is_null),
                "{body}"
            );
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("auditor"), "{token} {query}: {message}");
        }
    }
    // Admin holds the auditor role.
    for (query, variables) in &proofs {
        must(&app, ADMIN_TOKEN, query, variables.clone()).await;
    }
    // The subscription needs it too.
    for (token, code) in [
        (None, "UNAUTHENTICATED"),
        (Some(VIEWER_TOKEN), "FORBIDDEN"),
        (Some(RESPONDER_TOKEN), "FORBIDDEN"),
    ] {
        let mut ws = app.ws_ready(token).await;
        ws.subscribe("1", CHECKPOINTS_SUBSCRIPTION, json!({})).await;
        let message = ws.next_json().await;
        assert_eq!(message["type"], "error", "{token:?}: {message}");
        assert_eq!(message["id"], "1", "{message}");
        assert_eq!(
            message["payload"][0]["extensions"]["code"], code,
            "{token:?}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_sizes_are_refused_with_a_coded_error() {
    let app = spawn_app().await;
    Writer::default().write_until(&app, 30).await;
    let size = u64_of(&settle(&app).await, "treeSize");
    let admin = Some(ADMIN_TOKEN);
    let cases = [
        (
            "a position at the tree size",
            INCLUSION,
            json!({"p": size, "t": size}),
            "VALIDATION",
        ),
        (
            "a position past a smaller tree",
            INCLUSION,
            json!({"p": 5, "t": 5}),
            "VALIDATION",
        ),
        (
            "a position past the newest checkpoint",
            INCLUSION,
            json!({"p": size + 7}),
            "VALIDATION",
        ),
        (
            "a position in the empty tree",
            INCLUSION,
            json!({"p": 0, "t": 0}),
            "VALIDATION",
        ),
        (
            "fromSize above toSize",
            CONSISTENCY,
            json!({"f": 10, "t": 9}),
            "VALIDATION",
        ),
        (
            "fromSize past the newest checkpoint",
            CONSISTENCY,
            json!({"f": size + 1}),
            "VALIDATION",
        ),
        (
            "leaf hashes past the tree",
            LEAF_HASHES,
            json!({"s": size, "c": 1}),
            "VALIDATION",
        ),
        (
            "leaf hashes running past the tree",
            LEAF_HASHES,
            json!({"s": 1, "c": size}),
            "VALIDATION",
        ),
        (
            "more than 10,000 leaf hashes",
            LEAF_HASHES,
            json!({"s": 0, "c": 10_001}),
            "LIMIT",
        ),
        (
            "a checkpoint size never reached",
            CHECKPOINT,
            json!({"s": size + 12_345}),
            "NOT_FOUND",
        ),
    ];
    for (what, query, variables, code) in cases {
        assert_eq!(
            refused(&app, admin, query, variables.clone()).await,
            code,
            "{what}: {variables}"
        );
    }
    // Within range, the boundary cases are served.
    assert_eq!(leaf_hashes(&app, 0, 0).await, Vec::<String>::new());
    assert_eq!(leaf_hashes(&app, size - 1, 1).await.len(), 1);
    assert_eq!(
        leaf_hashes(&app, 0, 10_000.min(size)).await.len() as u64,
        size
    );
    assert_eq!(consistency(&app, 0, Some(size)).await["path"], json!([]));
    assert_eq!(consistency(&app, size, Some(size)).await["path"], json!([]));
    assert_eq!(
        inclusion(&app, size - 1, Some(size)).await["leafIndex"],
        json!(size - 1)
    );
    // A size never signed inside the tree: NOT_FOUND, and the sizes that are found
    // are exactly the checkpoints signed (one per size on a fresh node).
    let mut found = 0;
    let mut missing = Vec::new();
    for s in 0..=size {
        let (_, body) = app
            .graphql(Some(VIEWER_TOKEN), CHECKPOINT, json!({ "s": s }))
            .await;
        match error_code(&body) {
            None => {
                assert_eq!(body["data"]["checkpoint"]["treeSize"], json!(s), "{body}");
                found += 1;
            }
            Some("NOT_FOUND") => missing.push(s),
            Some(other) => panic!("checkpoint(treeSize: {s}): {other}: {body}"),
        }
    }
    assert!(!missing.is_empty(), "every size 0..={size} was signed?");
    let count = u64_of(
        &transparency_log(&app, VIEWER_TOKEN).await,
        "checkpointCount",
    );
    assert_eq!(found, count, "signed sizes vs checkpointCount");
    // A tree size beyond the log: refused at once (waiting could never reach it).
    let started = Instant::now();
    let (a, b) = tokio::join!(
        refused(&app, admin, INCLUSION, json!({"p": 0, "t": size + 1_000})),
        refused(&app, admin, CONSISTENCY, json!({"f": 1, "t": size + 1_000})),
    );
    assert_eq!(a, "VALIDATION", "inclusion in a tree larger than the log");
    assert_eq!(b, "VALIDATION", "consistency to a tree larger than the log");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_is_signed_on_shutdown_and_history_survives_a_restart() {
    let Some(mut py) =
        Verifier::start("a_checkpoint_is_signed_on_shutdown_and_history_survives_a_restart").await
    else {
        return;
    };
    let mut app = spawn_app().await;
    let mut writer = Writer::default();
    writer.write_until(&app, 30).await;
    let first = settle(&app).await;
    let first_size = u64_of(&first, "treeSize");
    let log = transparency_log(&app, VIEWER_TOKEN).await;
    let vkey = str_of(&log, "verifierKey").to_owned();
    verify_checkpoint(&mut py, "the first checkpoint", &first, &vkey).await;
    // A few more events (fewer than 20, so no count-triggered checkpoint), then stop
    // at once: the newest checkpoint lags the log until the shutdown signs one.
    for _ in 0..3 {
        writer.write(&app).await;
    }
    let head = log_size(&app).await;
    let before = transparency_log(&app, VIEWER_TOKEN).await;
    let lagging = u64_of(&checkpoint(&app, VIEWER_TOKEN, None).await, "treeSize") < head;
    let count_before = u64_of(&before, "checkpointCount");
    // Keep the data directory over the shutdown (the app would remove its own).
    let data_dir = std::mem::replace(&mut app.data_dir, tempfile::tempdir().expect("temp dir"));
    app.shutdown().await;
    // What the stopped node left: every checkpoint, the last covering the whole log.
    let history = std::fs::read_to_string(data_dir.path().join("transparency/checkpoints.jsonl"))
        .expect("the checkpoint history");
    let lines: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.len() as u64,
        count_before + u64::from(lagging),
        "one checkpoint more at shutdown iff the newest lagged the log (lagging: {lagging})"
    );
    let last = lines.last().expect("a checkpoint");
    assert_eq!(
        u64_of(last, "size"),
        head,
        "the last checkpoint covers the log"
    );
    let parsed = py
        .checkpoint("the shutdown checkpoint", str_of(last, "note"), &vkey)
        .await;
    assert_eq!(parsed["size"], json!(head), "{parsed}");
    eprintln!("shutdown: newest checkpoint lagged the log: {lagging}; {head} events");

    // Restart over the same data directory.
    let app = spawn_app_in(
        data_dir,
        ServerConfig {
            dev: false,
            limits: test_limits(),
            ..ServerConfig::default()
        },
    )
    .await;
    let log = transparency_log(&app, VIEWER_TOKEN).await;
    assert_eq!(
        log["verifierKey"],
        json!(vkey),
        "the key survives the restart"
    );
    assert_eq!(log["origin"], first["origin"], "{log}");
    // The history as it was: the old checkpoints by size, the newest covering the log.
    assert_eq!(
        checkpoint(&app, VIEWER_TOKEN, Some(first_size)).await,
        first
    );
    let newest = settle(&app).await;
    assert_eq!(
        u64_of(&newest, "treeSize"),
        head,
        "nothing written at start"
    );
    assert_eq!(newest["note"], last["note"], "the newest is the shutdown's");
    verify_checkpoint(&mut py, "the newest after the restart", &newest, &vkey).await;
    let proof = consistency(&app, first_size, Some(head)).await;
    py.accepts(
        "consistency across the restart",
        json!({"op": "consistency", "first": first_size, "second": head, "proof": proof["path"],
            "first_root": first["rootHash"], "second_root": newest["rootHash"]}),
    )
    .await;
    // The restarted node goes on signing over the same tree, with the same key.
    writer.write_until(&app, head + 25).await;
    let later = settle(&app).await;
    let later_size = u64_of(&later, "treeSize");
    verify_checkpoint(&mut py, "a checkpoint after the restart", &later, &vkey).await;
    let log = transparency_log(&app, VIEWER_TOKEN).await;
    assert_eq!(
        strings(&log["disagreements"]),
        Vec::<String>::new(),
        "{log}"
    );
    assert_eq!(log["verifierKey"], json!(vkey));
    assert!(
        u64_of(&log, "checkpointCount") > lines.len() as u64,
        "{log}"
    );
    for (from, from_root) in [
        (first_size, &first["rootHash"]),
        (head, &newest["rootHash"]),
    ] {
        let proof = consistency(&app, from, Some(later_size)).await;
        py.accepts(
            &format!("consistency {from} -> {later_size} after the restart"),
            json!({"op": "consistency", "first": from, "second": later_size,
                "proof": proof["path"], "first_root": from_root,
                "second_root": later["rootHash"]}),
        )
        .await;
    }
    for position in [0, head - 1, head, later_size - 1] {
        let proof = inclusion(&app, position, Some(later_size)).await;
        py.accepts(
            &format!("inclusion of {position} after the restart"),
            json!({"op": "inclusion", "leaf": proof["record"], "index": position,
                "tree_size": later_size, "path": proof["auditPath"], "root": later["rootHash"]}),
        )
        .await;
    }
    app.shutdown().await;
}

/// The next `checkpoints` message of subscription "1".
async fn next_checkpoint(ws: &mut WsClient) -> Value {
    let message = ws.next_json().await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], "1", "{message}");
    message["payload"]["data"]["checkpoints"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoints_subscription_pushes_each_new_checkpoint() {
    let Some(mut py) =
        Verifier::start("the_checkpoints_subscription_pushes_each_new_checkpoint").await
    else {
        return;
    };
    let app = spawn_app().await;
    let mut writer = Writer::default();
    writer.write_until(&app, 3).await;
    settle(&app).await;
    let vkey = str_of(&transparency_log(&app, VIEWER_TOKEN).await, "verifierKey").to_owned();
    let count_before = u64_of(
        &transparency_log(&app, VIEWER_TOKEN).await,
        "checkpointCount",
    );
    let mut ws = app.ws_ready(Some(ADMIN_TOKEN)).await;
    ws.subscribe("1", CHECKPOINTS_SUBSCRIPTION, json!({})).await;
    // Give the subscription a moment to start before anything is signed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut received: Vec<Value> = Vec::new();
    // 25 events at a time: at least one checkpoint (every 20 events) per round.
    for round in 1..=4u64 {
        let target = log_size(&app).await + 25;
        writer.write_until(&app, target).await;
        let pushed = next_checkpoint(&mut ws).await;
        assert!(
            u64_of(&pushed, "treeSize") > 3,
            "round {round}: a checkpoint of before the subscription: {pushed}"
        );
        received.push(pushed);
    }
    // Then every one until the one covering the whole log.
    let newest = settle(&app).await;
    let head = u64_of(&newest, "treeSize");
    while u64_of(received.last().expect("one"), "treeSize") < head {
        received.push(next_checkpoint(&mut ws).await);
    }
    assert_eq!(received.last(), Some(&newest));
    let sizes: Vec<u64> = received.iter().map(|c| u64_of(c, "treeSize")).collect();
    assert!(
        sizes.windows(2).all(|w| w[0] < w[1]),
        "tree sizes increase: {sizes:?}"
    );
    // None skipped: each checkpoint signed since the subscription, in order.
    let count = u64_of(
        &transparency_log(&app, VIEWER_TOKEN).await,
        "checkpointCount",
    );
    assert_eq!(
        received.len() as u64,
        count - count_before,
        "every checkpoint signed after the subscription: {sizes:?}"
    );
    for (i, pushed) in received.iter().enumerate() {
        let s = u64_of(pushed, "treeSize");
        verify_checkpoint(&mut py, &format!("pushed checkpoint {s}"), pushed, &vkey).await;
        assert_eq!(
            &checkpoint(&app, VIEWER_TOKEN, Some(s)).await,
            pushed,
            "the pushed checkpoint is the one served at its size"
        );
        if i > 0 {
            let previous = &received[i - 1];
            let from = u64_of(previous, "treeSize");
            let proof = consistency(&app, from, Some(s)).await;
            py.accepts(
                &format!("consistency between pushed checkpoints {from} -> {s}"),
                json!({"op": "consistency", "first": from, "second": s, "proof": proof["path"],
                    "first_root": previous["rootHash"], "second_root": pushed["rootHash"]}),
            )
            .await;
        }
    }
    // Nothing more while the log is quiet (keep-alive pings aside).
    let quiet = tokio::time::timeout(Duration::from_millis(600), async {
        loop {
            match ws.next_event().await {
                WsEvent::Json(m) if m["type"] == "ping" => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a checkpoint without new events: {quiet:?}");
}
