//! sled 0.34.7 can be left unopenable by a kill during its own open: a half-written
//! `snap.<lsn>.generating` file makes plain sled fail with `Corruption` forever
//! (sled issues 1387, 1527, 1533). The store removes such files before opening.

use opsledger_storage::layout::SLED_DIR;
use opsledger_storage::{
    AppendRequest, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig, Ulid,
};

fn request(n: u64) -> AppendRequest {
    AppendRequest {
        stream_id: "s".into(),
        expected: ExpectedVersion::Any,
        command_id: format!("c{n}"),
        actor: "tester".into(),
        correlation_id: Ulid::from_parts(n, 1),
        causation_id: None,
        recorded_at_ms: 0,
        events: vec![NewEvent {
            event_id: Ulid::new(),
            type_name: "T".into(),
            schema_version: 1,
            payload: vec![n as u8],
        }],
    }
}

#[tokio::test]
async fn planted_empty_generating_snapshot_does_not_stop_the_store_from_opening() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    for n in 0..20 {
        store.append(request(n)).await.unwrap();
    }
    store.flush_and_stop().await.unwrap();
    drop(store);

    let planted = dir
        .path()
        .join(SLED_DIR)
        .join("snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::write(&planted, b"").unwrap();
    // Plain sled picks the half-written file and refuses to open.
    match sled::open(dir.path().join(SLED_DIR)) {
        Err(sled::Error::Corruption { .. }) => {}
        Err(other) => panic!("expected sled Corruption, got {other:?}"),
        Ok(_) => panic!("expected plain sled to fail on the planted snapshot"),
    }

    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    assert!(!planted.exists());
    assert_eq!(store.head_position(), Some(19));
    let events = store.read_all(0, 100).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.payload[0] as u64)
            .collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>()
    );
    assert_eq!(store.verify().await.unwrap().first_bad_position, None);
}
