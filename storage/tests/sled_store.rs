//! Behaviour specific to the sled backend: restarts, the directory lock, tampering.

use opsledger_storage::layout::{record_key, SLED_DIR};
use opsledger_storage::{
    AppendRequest, Direction, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig,
    StoreError, Ulid,
};

fn request(stream: &str, expected: ExpectedVersion, command_id: &str) -> AppendRequest {
    AppendRequest {
        stream_id: stream.into(),
        expected,
        command_id: command_id.into(),
        actor: "tester".into(),
        correlation_id: Ulid::from_parts(1, 1),
        causation_id: None,
        recorded_at_ms: 1,
        events: vec![NewEvent {
            event_id: Ulid::new(),
            type_name: "T".into(),
            schema_version: 1,
            payload: format!("payload of {command_id}").into_bytes(),
        }],
    }
}

async fn open(dir: &std::path::Path) -> SledEventStore {
    SledEventStore::open(dir, StoreConfig::default())
        .await
        .unwrap()
}

async fn close(store: SledEventStore) {
    store.flush_and_stop().await.unwrap();
    drop(store);
}

#[tokio::test]
async fn reopen_restores_heads_positions_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .append(request("a", ExpectedVersion::NoStream, "c1"))
        .await
        .unwrap();
    store
        .append(request("b", ExpectedVersion::NoStream, "c2"))
        .await
        .unwrap();
    store
        .append(request("a", ExpectedVersion::Exact(0), "c3"))
        .await
        .unwrap();
    close(store).await;

    let store = open(dir.path()).await;
    assert_eq!(store.head_position(), Some(2));
    let err = store
        .append(request("a", ExpectedVersion::Exact(0), "c4"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::WrongExpectedVersion {
            actual: Some(1),
            ..
        }
    ));
    let outcome = store
        .append(request("a", ExpectedVersion::Exact(1), "c5"))
        .await
        .unwrap();
    assert_eq!((outcome.first_position, outcome.stream_version), (3, 2));
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.events_verified, report.first_bad_position),
        (4, None)
    );
    let a = store
        .read_stream("a", 0, Direction::Forward, 10)
        .await
        .unwrap();
    assert_eq!(
        a.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
}

#[tokio::test]
async fn command_ids_are_kept_in_sled_and_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let req = request("a", ExpectedVersion::NoStream, "cmd");
    let first = store.append(req.clone()).await.unwrap();
    close(store).await;

    let store = open(dir.path()).await;
    assert_eq!(store.append(req).await.unwrap(), first);
    let mut different = request("a", ExpectedVersion::Any, "cmd");
    different.events[0].payload = b"something else".to_vec();
    assert!(matches!(
        store.append(different).await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(store.head_position(), Some(0));
}

#[tokio::test]
async fn second_open_of_the_same_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    match SledEventStore::open(dir.path(), StoreConfig::default()).await {
        Err(StoreError::Locked { path }) => assert_eq!(path, dir.path().join("LOCK")),
        Err(other) => panic!("expected Locked, got {other:?}"),
        Ok(_) => panic!("expected Locked, got a second store"),
    }
    close(store).await;
    let again = open(dir.path()).await;
    assert_eq!(again.head_position(), None);
}

#[tokio::test]
async fn flipping_a_byte_of_a_stored_event_makes_verify_fail_at_that_position() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..6 {
        store
            .append(request("a", ExpectedVersion::Any, &format!("c{i}")))
            .await
            .unwrap();
    }
    close(store).await;
    {
        let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
        let mut bytes = db.get(record_key(3)).unwrap().unwrap().to_vec();
        let in_payload = bytes.len() - 65; // last payload byte, before prev_hash and hash
        bytes[in_payload] ^= 0x01;
        db.insert(record_key(3), bytes).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path()).await;
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_bad_position, Some(3));
    assert_eq!(report.events_verified, 3);
    assert_eq!(
        report.reason.as_deref(),
        Some("hash does not match the record's bytes")
    );
}

#[tokio::test]
async fn removing_a_record_makes_verify_report_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..4 {
        store
            .append(request("a", ExpectedVersion::Any, &format!("c{i}")))
            .await
            .unwrap();
    }
    close(store).await;
    {
        let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
        db.remove(record_key(1)).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path()).await;
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.first_bad_position, report.reason.as_deref()),
        (Some(1), Some("record missing"))
    );
}
