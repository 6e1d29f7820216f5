//! Workflows across streams survive a crash at any point and complete exactly
//! once: the real server (`crash_server serve`) is made to abort
//! (`OPSLEDGER_CRASH_AT`, as a `kill -9` would end it) between the two appends
//! of every workflow, then restarted on the same data directory without the
//! crash point. After the restart each workflow has completed exactly once,
//! the re-sent request answers with the whole workflow's effect, and the next
//! alert for the fingerprint behaves as it should.

use opsledger_tests::server_process::ServerProcess;
use serde_json::{json, Value};
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_crash_server");

const INGEST: &str = "mutation($input: AlertInputGql!, $key: String) {
  ingestAlert(input: $input, idempotencyKey: $key) { position incident { id status } } }";
const DECLARE: &str =
    "mutation($input: DeclareIncidentInput!) { declareIncident(input: $input) { id } }";
const RESOLVE: &str = "mutation($id: ID!, $key: String) {
  resolveIncident(id: $id, summary: \"done\", idempotencyKey: $key) { id position } }";
const MERGE: &str = "mutation($id: ID!, $into: ID!, $key: String) {
  mergeIncident(id: $id, into: $into, idempotencyKey: $key) { id position } }";
const INCIDENT: &str = "query($id: ID!) { incident(id: $id) {
  status mergedIntoId duplicateIds } }";

async fn register_service(server: &ServerProcess) -> String {
    let data = server
        .ok(
            "mutation($input: ServiceInput!) { registerService(input: $input) { id } }",
            json!({"input": {"name": "checkout", "ownerTeam": "core", "tier": 1,
                "sloTargetPercent": 99.9,
                "escalationPolicy": [{"target": "core", "ackTimeoutSecs": 3600}]}}),
        )
        .await;
    data["registerService"]["id"].as_str().unwrap().to_owned()
}

fn alert(service: &str, fingerprint: &str) -> Value {
    json!({"service": service, "dedupKey": fingerprint, "source": "alertmanager",
        "summary": format!("{fingerprint} is failing"), "impact": "MAJOR_OUTAGE"})
}

async fn ingest(server: &ServerProcess, service: &str, fingerprint: &str, key: &str) -> Value {
    server
        .ok(
            INGEST,
            json!({"input": alert(service, fingerprint), "key": key}),
        )
        .await["ingestAlert"]
        .clone()
}

async fn declare(server: &ServerProcess, service: &str, title: &str) -> String {
    let data = server
        .ok(
            DECLARE,
            json!({"input": {"title": title, "severity": "SEV3",
                "impacts": [{"service": service, "level": "DEGRADED"}]}}),
        )
        .await;
    data["declareIncident"]["id"].as_str().unwrap().to_owned()
}

async fn incident(server: &ServerProcess, id: &str) -> Value {
    server.ok(INCIDENT, json!({"id": id})).await["incident"].clone()
}

/// Sends `query` to a server that must abort at its crash point while answering.
async fn send_and_crash(server: &mut ServerProcess, query: &str, variables: Value) {
    let answer = server.graphql(query, variables).await;
    assert!(
        answer.is_none(),
        "the crash point was not reached: {answer:?}"
    );
    let status = server.wait_exit().await;
    assert!(
        !status.success(),
        "the server should have aborted: {status}"
    );
}

/// Restarts on `dir` without a crash point and waits for the policies to catch up.
async fn restart(dir: &Path) -> ServerProcess {
    let server = ServerProcess::start(BIN, dir, None).await;
    server.wait_workflows_caught_up().await;
    server
}

/// An alert whose process dies at `crash_at` (around the incident's
/// declaration): after the restart the incident is declared exactly once, the
/// re-sent alert answers with it, and the next alert attaches to it.
async fn alert_survives(crash_at: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(BIN, dir.path(), Some(crash_at)).await;
    let service = register_service(&server).await;
    send_and_crash(
        &mut server,
        INGEST,
        json!({"input": alert(&service, "fp-1"), "key": "alert-1"}),
    )
    .await;

    let server = restart(dir.path()).await;
    assert_eq!(server.count_events("IncidentOpenedForGroupV2").await, 1);
    assert_eq!(server.count_events("IncidentDeclared").await, 1);
    let resent = ingest(&server, &service, "fp-1", "alert-1").await;
    let opened = resent["incident"]["id"]
        .as_str()
        .expect("the incident")
        .to_owned();
    assert_eq!(resent["incident"]["status"], "TRIGGERED", "{resent}");
    let next = ingest(&server, &service, "fp-1", "alert-2").await;
    assert_eq!(next["incident"]["id"], opened.as_str(), "{next}");
    assert_eq!(server.count_events("IncidentDeclared").await, 1);
    assert_eq!(server.count_events("AlertAttached").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_process_dies_before_the_declaration_opens_its_incident_once() {
    alert_survives("workflow.before_follow_up:declare").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_process_dies_after_the_declaration_is_declared_once() {
    alert_survives("workflow.after_follow_up:declare").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_checkpoint_never_declares_twice() {
    alert_survives("workflow.before_checkpoint").await;
}

/// An incident ended by `ending` (resolve) whose process dies at `crash_at` (around the
/// release of its alert group): after the restart the group is released once
/// and the next alert for the fingerprint opens a new incident.
async fn ending_releases_the_group(ending: &str, crash_at: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), None).await;
    let service = register_service(&server).await;
    let first = ingest(&server, &service, "fp-1", "alert-1").await;
    let incident_id = first["incident"]["id"].as_str().unwrap().to_owned();
    drop(server);
    let mut server = ServerProcess::start(BIN, dir.path(), Some(crash_at)).await;
    send_and_crash(
        &mut server,
        ending,
        json!({"id": incident_id, "key": "end-1"}),
    )
    .await;

    let server = restart(dir.path()).await;
    assert_eq!(server.count_events("AlertGroupReleased").await, 1);
    let resent = server
        .ok(ending, json!({"id": incident_id, "key": "end-1"}))
        .await;
    assert!(resent["resolveIncident"]["position"].is_u64(), "{resent}");
    assert_eq!(incident(&server, &incident_id).await["status"], "RESOLVED");
    let next = ingest(&server, &service, "fp-1", "alert-2").await;
    let reopened = next["incident"]["id"].as_str().unwrap();
    assert_ne!(
        reopened, incident_id,
        "the alert attached to the resolved incident"
    );
    assert_eq!(server.count_events("IncidentDeclared").await, 2);
    assert_eq!(server.count_events("AlertGroupReleased").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_whose_process_dies_before_the_release_frees_the_group_once() {
    ending_releases_the_group(RESOLVE, "workflow.before_follow_up:release").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_whose_process_dies_after_the_release_frees_the_group_once() {
    ending_releases_the_group(RESOLVE, "workflow.after_follow_up:release").await;
}

/// A merge whose process dies at `crash_at`: after the restart both sides are
/// merged exactly once, and the duplicate's alert group is released.
async fn merge_completes(crash_at: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(BIN, dir.path(), None).await;
    let service = register_service(&server).await;
    let target = declare(&server, &service, "checkout down").await;
    let duplicate = ingest(&server, &service, "fp-dup", "alert-1").await["incident"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(server);
    let mut server = ServerProcess::start(BIN, dir.path(), Some(crash_at)).await;
    send_and_crash(
        &mut server,
        MERGE,
        json!({"id": duplicate, "into": target, "key": "merge-1"}),
    )
    .await;

    let server = restart(dir.path()).await;
    assert_eq!(server.count_events("IncidentDuplicateMerged").await, 1);
    assert_eq!(server.count_events("IncidentMergedInto").await, 1);
    assert_eq!(server.count_events("IncidentDuplicateMergeUndone").await, 0);
    assert_eq!(server.count_events("AlertGroupReleased").await, 1);
    let resent = server
        .ok(
            MERGE,
            json!({"id": duplicate, "into": target, "key": "merge-1"}),
        )
        .await;
    assert_eq!(resent["mergeIncident"]["id"], target.as_str(), "{resent}");
    assert_eq!(
        incident(&server, &duplicate).await["mergedIntoId"],
        target.as_str()
    );
    assert_eq!(
        incident(&server, &target).await["duplicateIds"],
        json!([duplicate])
    );
    let next = ingest(&server, &service, "fp-dup", "alert-2").await;
    assert_ne!(next["incident"]["id"], duplicate.as_str(), "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_whose_process_dies_before_the_duplicate_is_marked_completes_once() {
    merge_completes("workflow.before_follow_up:merge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_whose_process_dies_after_the_duplicate_is_marked_completes_once() {
    merge_completes("workflow.after_follow_up:merge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_whose_process_dies_before_the_duplicates_group_is_released_completes_once() {
    merge_completes("workflow.before_follow_up:release").await;
}
