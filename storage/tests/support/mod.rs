//! Helpers shared by the storage test suites (each suite uses a part of them).
#![allow(dead_code)]

use std::path::Path;

use opsledger_storage::{
    AppendRequest, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig, Ulid,
};

/// An append of `n` events to `stream` with the command id `command_id`.
pub fn request_with_command(
    stream: &str,
    expected: ExpectedVersion,
    n: usize,
    command_id: &str,
) -> AppendRequest {
    AppendRequest {
        stream_id: stream.to_owned(),
        expected,
        command_id: command_id.to_owned(),
        actor: "tester".into(),
        correlation_id: Ulid::from_parts(1, 1),
        causation_id: None,
        recorded_at_ms: 1_700_000_000_000,
        events: (0..n)
            .map(|i| NewEvent {
                event_id: Ulid::new(),
                type_name: "Tested".into(),
                schema_version: 1,
                payload: format!("{stream}:{i}").into_bytes(),
            })
            .collect(),
    }
}

/// The sled store in `dir` with the default configuration.
pub async fn open(dir: &Path) -> SledEventStore {
    SledEventStore::open(dir, StoreConfig::default())
        .await
        .unwrap()
}

/// Stop the store (every queued append committed) and drop it.
pub async fn close(store: SledEventStore) {
    store.flush_and_stop().await.unwrap();
    drop(store);
}
