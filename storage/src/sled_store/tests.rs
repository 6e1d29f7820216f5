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

#[tokio::test]
async fn flush_and_stop_twice_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    store.append(request("a")).await.unwrap();
    store.flush_and_stop().await.unwrap();
    store.flush_and_stop().await.unwrap();
}
