//! Failure paths that need fault injection inside the writer.

use super::*;
use crate::event::{ExpectedVersion, NewEvent};
use ulid::Ulid;

fn request(command_id: &str) -> AppendRequest {
    AppendRequest {
        stream_id: "s".into(),
        expected: ExpectedVersion::Any,
        command_id: command_id.into(),
        actor: "tester".into(),
        correlation_id: Ulid::from_parts(1, 1),
        causation_id: None,
        recorded_at_ms: 0,
        events: vec![NewEvent {
            event_id: Ulid::new(),
            type_name: "T".into(),
            schema_version: 1,
            payload: vec![1],
        }],
    }
}

#[tokio::test]
async fn failed_fsync_is_never_acknowledged_and_stops_writes_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    store.append(request("ok")).await.unwrap();
    store.inject_write_failures();
    match store.append(request("lost")).await {
        Err(StoreError::WritesStopped { reason }) => {
            assert!(reason.contains("injected fdatasync failure"))
        }
        other => panic!("expected WritesStopped, got {other:?}"),
    }
    match store.append(request("after")).await {
        Err(StoreError::WritesStopped { reason }) => {
            assert!(reason.contains("injected fdatasync failure"))
        }
        other => panic!("expected WritesStopped, got {other:?}"),
    }
    assert_eq!(store.head_position(), Some(0));
    assert_eq!(store.read_all(0, 10).await.unwrap().len(), 1);
    assert_eq!(store.command_outcome("lost").await.unwrap(), None);
}

/// The second stop may reach the writer's queue while the writer is still ending
/// (it raced with the first stop's answer once in CI): it must still succeed, and
/// an append after a stop is refused with the graceful reason.
#[tokio::test]
async fn flush_and_stop_twice_is_fine() {
    for round in 0..30 {
        let dir = tempfile::tempdir().unwrap();
        let store = SledEventStore::open(dir.path(), StoreConfig::default())
            .await
            .unwrap();
        store.append(request("a")).await.unwrap();
        store.flush_and_stop().await.unwrap();
        store
            .flush_and_stop()
            .await
            .unwrap_or_else(|e| panic!("round {round}: second stop failed: {e}"));
        match store.append(request("b")).await {
            Err(StoreError::WritesStopped { reason }) => assert_eq!(reason, GRACEFUL_STOP),
            other => panic!("round {round}: expected WritesStopped, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn writer_stats_account_every_phase_of_a_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    for n in 0..3 {
        store.append(request(&format!("c{n}"))).await.unwrap();
    }
    let stats = store.writer_stats();
    assert_eq!((stats.appends, stats.events), (3, 3));
    assert!(stats.groups >= 1 && stats.groups <= 3, "{stats:?}");
    for (phase, ns) in [
        ("stage", stats.stage_ns),
        ("apply", stats.apply_ns),
        ("flush", stats.flush_ns),
        ("fdatasync", stats.fdatasync_ns),
        ("answer", stats.answer_ns),
    ] {
        assert!(ns > 0, "{phase} not accounted: {stats:?}");
    }
    // Each record is over 80 bytes (its two hashes alone are 64); sled logs it and its keys.
    assert!(stats.flushed_bytes >= 3 * 80, "{stats:?}");
    store.flush_and_stop().await.unwrap();
}
