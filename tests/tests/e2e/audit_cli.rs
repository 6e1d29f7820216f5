//! `opsledger audit ...` from outside, as an auditor runs it: the real binary against
//! a real `serve` process, and the tamper scenarios of issue 17 done the way an insider
//! with write access to the data directory would (rewrite one event, recompute the
//! BLAKE3 chain, import the forged log, keep the signing key, restart): the monitor
//! that kept an earlier checkpoint reports the fork and its first differing position;
//! a truncated log is a rollback; a swapped key, a proof for another tree size and a
//! proof with a node too many or too few are refused.

use opsledger_storage::chain::chain_hash;
use opsledger_storage::codec::encode_envelope_body;
use opsledger_storage::export::ExportLine;
use opsledger_storage::hex::{hex, unhex};
use opsledger_tests::server_process::ServerProcess;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_crash_server");
const TOKEN: &str = opsledger_tests::server_process::PROCESS_TOKEN;
const FAST_CHECKPOINTS: &[&str] = &[
    "--checkpoint-every-events",
    "5",
    "--checkpoint-every-secs",
    "1",
];

fn opsledger(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("OPSLEDGER_TOKENS")
        .output()
        .expect("run opsledger")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn start(dir: &Path) -> ServerProcess {
    ServerProcess::start_with(BIN, dir, None, FAST_CHECKPOINTS).await
}

/// Register `n` services (one event each) through the API.
async fn write_events(server: &ServerProcess, tag: &str, n: usize) {
    for i in 0..n {
        server
            .ok(
                "mutation($k: String!, $n: String!) { registerService(idempotencyKey: $k, input: { name: $n, tier: 2, ownerTeam: \"sre\", sloTargetPercent: 99.9 }) { position } }",
                json!({"k": format!("{tag}-{i}"), "n": format!("{tag}-svc-{i}")}),
            )
            .await;
    }
}

/// Wait until the newest checkpoint covers the whole log; its note and size.
async fn settled_checkpoint(server: &ServerProcess) -> (String, u64) {
    for _ in 0..200 {
        let data = server
            .ok("{ checkpoint { treeSize note } logHead }", json!({}))
            .await;
        let size = data["checkpoint"]["treeSize"].as_u64().unwrap();
        let head = data["logHead"].as_u64();
        if head.map(|h| h + 1) == Some(size) {
            return (
                data["checkpoint"]["note"].as_str().unwrap().to_owned(),
                size,
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covered the log");
}

fn key_of(data: &Path) -> String {
    let out = opsledger(&["audit", "key", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .expect("a key line")
        .to_owned()
}

fn monitor(server: &ServerProcess, key: &str, state: &Path) -> Output {
    opsledger(&[
        "audit",
        "monitor",
        "--url",
        &server.base,
        "--token",
        TOKEN,
        "--key",
        key,
        "--state",
        state.to_str().unwrap(),
    ])
}

/// An export of `data` whose event at `position` names another actor, with the BLAKE3
/// chain recomputed from there on (what an insider can do with the data directory).
fn forged_export(export: &Path, position: u64, keep: Option<u64>) -> String {
    let text = std::fs::read_to_string(export).unwrap();
    let mut lines = text.lines();
    let mut header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let mut events: Vec<ExportLine> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    if let Some(n) = keep {
        events.truncate(n as usize);
    }
    let mut prev = [0u8; 32];
    for line in &mut events {
        if line.position == position {
            line.actor = "someone.else".into();
        }
        line.prev_hash = hex(&prev);
        let record = line.to_record().unwrap();
        let body = encode_envelope_body(&record).unwrap();
        let hash = chain_hash(&prev, &body);
        line.hash = hex(&hash);
        prev = hash;
    }
    header["events"] = json!(events.len());
    let mut out = format!("{header}\n");
    for line in events {
        out.push_str(&serde_json::to_string(&line).unwrap());
        out.push('\n');
    }
    out
}

/// A data directory holding `export_text` imported, with `key_from`'s signing key
/// (and its checkpoint history, if `keep_history`).
fn forged_data_dir(
    root: &Path,
    name: &str,
    export_text: &str,
    key_from: Option<&Path>,
    keep_history: bool,
) -> std::path::PathBuf {
    let dir = root.join(name);
    let file = root.join(format!("{name}.jsonl"));
    std::fs::write(&file, export_text).unwrap();
    let out = opsledger(&[
        "import",
        "--data",
        dir.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    if let Some(from) = key_from {
        let t = dir.join("transparency");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::copy(from.join("transparency/log.key"), t.join("log.key")).unwrap();
        if keep_history {
            std::fs::copy(
                from.join("transparency/checkpoints.jsonl"),
                t.join("checkpoints.jsonl"),
            )
            .unwrap();
        }
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_tools_verify_an_honest_log_and_report_every_tampering() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut server = start(&data).await;
    write_events(&server, "a", 12).await;
    let key = key_of(&data);
    let state = root.path().join("monitor");

    // First run: trust on first use; then the log grows and stays consistent.
    let out = monitor(&server, &key, &state);
    assert!(out.status.success(), "{}", text(&out));
    let (_, first_size) = settled_checkpoint(&server).await;
    write_events(&server, "b", 9).await;
    let (note, size) = settled_checkpoint(&server).await;
    assert!(size > first_size);
    let out = monitor(&server, &key, &state);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("consistent"),
        "{}",
        text(&out)
    );

    // One event, proven and decoded.
    let out = opsledger(&[
        "audit",
        "verify-event",
        "--url",
        &server.base,
        "--token",
        TOKEN,
        "--key",
        &key,
        "--position",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let event: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["position"], 3);
    assert_eq!(event["type_name"], "ServiceRegistered");

    // Offline: the proof and checkpoint as files; a proof for another size, or with a
    // node too many or too few, is refused.
    let proof = server
        .ok(
            "query($s: Int) { inclusionProof(position: 4, treeSize: $s) { leafIndex treeSize record auditPath } }",
            json!({"s": size}),
        )
        .await;
    let files = root.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let note_file = files.join("checkpoint.txt");
    std::fs::write(&note_file, &note).unwrap();
    let check_offline = |proof: &Value, name: &str| {
        let path = files.join(name);
        std::fs::write(&path, proof.to_string()).unwrap();
        opsledger(&[
            "audit",
            "verify-event",
            "--key",
            &key,
            "--checkpoint",
            note_file.to_str().unwrap(),
            "--proof",
            path.to_str().unwrap(),
        ])
    };
    let good = proof["inclusionProof"].clone();
    let out = check_offline(&good, "good.json");
    assert!(out.status.success(), "{}", text(&out));
    let older = server
        .ok(
            "query($s: Int) { inclusionProof(position: 4, treeSize: $s) { leafIndex treeSize record auditPath } }",
            json!({"s": size - 1}),
        )
        .await["inclusionProof"]
        .clone();
    let out = check_offline(&older, "older.json");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let mut extra = good.clone();
    extra["auditPath"]
        .as_array_mut()
        .unwrap()
        .push(json!(hex(&[7; 32])));
    assert_eq!(check_offline(&extra, "extra.json").status.code(), Some(3));
    let mut missing = good.clone();
    missing["auditPath"].as_array_mut().unwrap().pop();
    assert_eq!(
        check_offline(&missing, "missing.json").status.code(),
        Some(3)
    );
    let mut flipped = good.clone();
    let record = flipped["record"].as_str().unwrap().to_owned();
    let mut bytes = unhex(&record).unwrap();
    bytes[10] ^= 1;
    flipped["record"] = json!(hex(&bytes));
    assert_eq!(
        check_offline(&flipped, "flipped.json").status.code(),
        Some(3)
    );

    // A witness cosigns; it refuses to go back.
    let witness_state = root.path().join("witness");
    let witness_key = root.path().join("witness.key");
    let cosign = |checkpoint: Option<&Path>| {
        let mut args = vec![
            "audit".to_owned(),
            "cosign".into(),
            "--url".into(),
            server.base.clone(),
            "--token".into(),
            TOKEN.into(),
            "--key".into(),
            key.clone(),
            "--witness-key".into(),
            witness_key.to_str().unwrap().into(),
            "--witness-name".into(),
            "witness.test/w1".into(),
            "--state".into(),
            witness_state.to_str().unwrap().into(),
        ];
        if let Some(c) = checkpoint {
            args.extend(["--checkpoint".into(), c.to_str().unwrap().into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        opsledger(&args)
    };
    let out = cosign(None);
    assert!(out.status.success(), "{}", text(&out));
    let cosigned = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(cosigned.contains("\n— witness.test/w1 "), "{cosigned}");
    let first_note_file = files.join("first.txt");
    let (first_note, _) = (
        server
            .ok(
                "query($s: Int) { checkpoint(treeSize: $s) { note } }",
                json!({"s": first_size}),
            )
            .await["checkpoint"]["note"]
            .as_str()
            .unwrap()
            .to_owned(),
        (),
    );
    std::fs::write(&first_note_file, first_note).unwrap();
    let out = cosign(Some(&first_note_file));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // Stop (a last checkpoint is signed), export, and check the export offline.
    assert!(server.stop().await.success());
    let export = root.path().join("export.jsonl");
    let out = opsledger(&[
        "export",
        "--data",
        data.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = opsledger(&[
        "audit",
        "verify-export",
        "--file",
        export.to_str().unwrap(),
        "--checkpoint",
        note_file.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // Insider 1: rewrite event 5, recompute the chain, keep the key, drop the history.
    let forged = forged_export(&export, 5, None);
    let forged_file = root.path().join("forged-export.jsonl");
    std::fs::write(&forged_file, &forged).unwrap();
    let out = opsledger(&[
        "audit",
        "verify-export",
        "--file",
        forged_file.to_str().unwrap(),
        "--checkpoint",
        note_file.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let fork_dir = forged_data_dir(root.path(), "fork", &forged, Some(&data), false);
    let mut server = start(&fork_dir).await;
    settled_checkpoint(&server).await;
    let out = monitor(&server, &key, &state);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        stderr.contains("fork") && stderr.contains("first differing position: 5"),
        "{stderr}"
    );
    server.kill();

    // Insider 2: the same, keeping the checkpoint history: the node itself reports it.
    let fork_dir = forged_data_dir(root.path(), "fork-history", &forged, Some(&data), true);
    let mut server = start(&fork_dir).await;
    settled_checkpoint(&server).await;
    let found = server
        .ok("{ transparencyLog { disagreements } }", json!({}))
        .await;
    let disagreements = found["transparencyLog"]["disagreements"].to_string();
    assert!(disagreements.contains("fork"), "{disagreements}");
    assert_eq!(monitor(&server, &key, &state).status.code(), Some(3));
    server.kill();

    // Insider 3: truncate the log below what the monitor accepted: a rollback.
    let truncated = forged_export(&export, u64::MAX, Some(size - 4));
    let short_dir = forged_data_dir(root.path(), "short", &truncated, Some(&data), false);
    let mut server = start(&short_dir).await;
    settled_checkpoint(&server).await;
    let out = monitor(&server, &key, &state);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rollback"),
        "{}",
        text(&out)
    );
    server.kill();

    // Insider 4: the honest log signed with a swapped key.
    let honest = std::fs::read_to_string(&export).unwrap();
    let swapped_dir = forged_data_dir(root.path(), "swapped", &honest, None, false);
    let mut server = start(&swapped_dir).await;
    settled_checkpoint(&server).await;
    let out = monitor(&server, &key, &state);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not signed by the log key"),
        "{}",
        text(&out)
    );
    server.kill();

    // And the honest data directory, restarted, is still consistent with what was accepted.
    let mut server = start(&data).await;
    write_events(&server, "c", 3).await;
    settled_checkpoint(&server).await;
    let out = monitor(&server, &key, &state);
    assert!(out.status.success(), "{}", text(&out));
    server.kill();
}
