//! The store's size bounds (`opsledger_storage::limits`): the largest allowed records never
//! make sled 0.34 write a blob file (which our fdatasync of sled's data file would not
//! cover), and anything larger is refused with a typed error before anything is written.

mod support;

use std::path::Path;
use std::sync::Arc;

use opsledger_storage::codec::encode_record;
use opsledger_storage::layout::SLED_DIR;
use opsledger_storage::limits::{MAX_APPEND_BYTES, MAX_RECORD_BYTES};
use opsledger_storage::{
    AppendRequest, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError, Ulid,
};
use support::{close, open, request_with_command};

/// Positions below this encode in one varint byte: every record of a test stays below,
/// so a payload sized once makes every record exactly `MAX_RECORD_BYTES`.
const ONE_BYTE_POSITIONS: u64 = 251;

/// The stored size of an event of `req` at `position`/`version` with a payload of `len`.
fn record_bytes(req: &AppendRequest, position: u64, version: u64, len: usize) -> usize {
    let event = RecordedEvent {
        position,
        stream_id: req.stream_id.clone(),
        stream_version: version,
        event_id: Ulid::new(),
        type_name: "Big".into(),
        schema_version: 1,
        recorded_at_ms: req.recorded_at_ms,
        actor: req.actor.clone(),
        command_id: req.command_id.clone(),
        correlation_id: req.correlation_id,
        causation_id: req.causation_id,
        payload: vec![0; len],
        prev_hash: [0; 32],
        hash: [0; 32],
    };
    encode_record(&event).unwrap().len()
}

/// An append of `count` events whose records take exactly `MAX_RECORD_BYTES` + `extra`.
fn largest_records(stream: &str, command_id: &str, count: usize, extra: usize) -> AppendRequest {
    let mut req = request_with_command(stream, ExpectedVersion::Any, 1, command_id);
    let target = MAX_RECORD_BYTES + extra;
    let mut len = target - record_bytes(&req, 0, 0, 0);
    // The payload's length prefix grows with it: settle on the exact size.
    while record_bytes(&req, 0, 0, len) > target {
        len -= 1;
    }
    assert_eq!(record_bytes(&req, 0, 0, len), target);
    req.events = (0..count)
        .map(|i| NewEvent {
            event_id: Ulid::new(),
            type_name: "Big".into(),
            schema_version: 1,
            payload: vec![i as u8; len],
        })
        .collect();
    req
}

/// sled's blob files under the store's directory.
fn blob_files(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir.join(SLED_DIR).join("blobs")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn the_largest_allowed_records_appended_concurrently_never_make_a_blob_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()).await);
    // 64 concurrent one-record appends and 4 appends of as many largest records as one
    // append may hold: full leaves of the largest segments and index chunks.
    let per_append = MAX_APPEND_BYTES / MAX_RECORD_BYTES;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let req = largest_records(&format!("s{}", i % 8), &format!("one-{i:03}"), 1, 0);
            store.append(req).await.unwrap()
        }));
    }
    for i in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let req = largest_records(&format!("m{i}"), &format!("many-{i:02}"), per_append, 0);
            store.append(req).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = 64 + 4 * per_append as u64;
    assert!(events < ONE_BYTE_POSITIONS);
    let all = store.read_all(0, 1000).await.unwrap();
    assert_eq!(all.len() as u64, events);
    for event in &all {
        let stored = encode_record(event).unwrap().len();
        assert_eq!(stored, MAX_RECORD_BYTES, "position {}", event.position);
    }
    assert_eq!(blob_files(dir.path()), Vec::<String>::new());
    let store = Arc::into_inner(store).unwrap();
    close(store).await;
    assert_eq!(blob_files(dir.path()), Vec::<String>::new());

    let store = open(dir.path()).await;
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.events_verified, report.first_bad_position),
        (events, None)
    );
}

#[tokio::test]
async fn a_record_one_byte_over_the_cap_is_refused_typed_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .append(largest_records("s", "fits", 1, 0))
        .await
        .unwrap();
    // The second record of this append is the one too large: the first is not written either.
    let mut over = largest_records("s", "over", 1, 1);
    over.events
        .insert(0, largest_records("s", "over", 1, 0).events.remove(0));
    match store.append(over).await {
        Err(StoreError::RecordTooLarge { size, limit }) => {
            assert_eq!((size, limit), (MAX_RECORD_BYTES + 1, MAX_RECORD_BYTES));
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!(store.head_position(), Some(0));
    assert_eq!(store.command_outcome("over").await.unwrap(), None);
    // The command id was not used up: the same id with an allowed request is written.
    store
        .append(largest_records("s", "over", 1, 0))
        .await
        .unwrap();
    assert_eq!(store.head_position(), Some(1));
    close(store).await;
}

#[tokio::test]
async fn an_append_over_its_cap_is_refused_typed_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let fits = MAX_APPEND_BYTES / MAX_RECORD_BYTES;
    store
        .append(largest_records("s", "fits", fits, 0))
        .await
        .unwrap();
    match store
        .append(largest_records("s", "over", fits + 1, 0))
        .await
    {
        Err(StoreError::AppendTooLarge { size, limit }) => {
            assert_eq!(
                (size, limit),
                ((fits + 1) * MAX_RECORD_BYTES, MAX_APPEND_BYTES)
            );
        }
        other => panic!("expected AppendTooLarge, got {other:?}"),
    }
    assert_eq!(store.head_position(), Some(fits as u64 - 1));
    assert_eq!(store.command_outcome("over").await.unwrap(), None);
    assert_eq!(store.verify().await.unwrap().first_bad_position, None);
    close(store).await;
}
