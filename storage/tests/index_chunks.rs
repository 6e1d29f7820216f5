//! Layout 3's index chunks: the stream and command indexes rebuilt from them after a
//! restart, damaged chunks as typed errors, and the migration of a layout 2 store.

use std::path::Path;

use opsledger_storage::codec::{decode_index_chunk, encode_index_chunk, IndexEntry};
use opsledger_storage::layout::{index_key, INDEX_PREFIX, LAYOUT_KEY, LAYOUT_VERSION, SLED_DIR};
use opsledger_storage::{
    AppendOutcome, AppendRequest, Direction, EventStore, ExpectedVersion, NewEvent, SledEventStore,
    StoreError, Ulid,
};

mod support;
use support::{close, open};

fn request(
    stream: &str,
    expected: ExpectedVersion,
    command_id: &str,
    events: usize,
) -> AppendRequest {
    support::request_with_command(stream, expected, events, command_id)
}

async fn positions(store: &SledEventStore, stream: &str, direction: Direction) -> Vec<u64> {
    let from = match direction {
        Direction::Forward => 0,
        Direction::Backward => u64::MAX,
    };
    store
        .read_stream(stream, from, direction, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect()
}

/// Streams a, b, c interleaved by 16 concurrent writers: groups of several appends.
async fn interleaved_store(dir: &Path) -> Vec<(String, AppendOutcome)> {
    let store = std::sync::Arc::new(open(dir).await);
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..10 {
                let stream = ["a", "b", "c"][(writer + i) % 3];
                let command = format!("w{writer}-{i}");
                let req = request(stream, ExpectedVersion::Any, &command, 1 + i % 3);
                outcomes.push((command, store.append(req).await.unwrap()));
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await.unwrap());
    }
    store.flush_and_stop().await.unwrap();
    outcomes
}

#[tokio::test]
async fn stream_reads_heads_and_command_ids_are_the_same_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let outcomes = interleaved_store(dir.path()).await;
    let before = open(dir.path()).await;
    let mut seen = Vec::new();
    for stream in ["a", "b", "c"] {
        seen.push(positions(&before, stream, Direction::Forward).await);
        seen.push(positions(&before, stream, Direction::Backward).await);
    }
    close(before).await;

    let after = open(dir.path()).await;
    after.warm_index().await.unwrap();
    let mut again = Vec::new();
    for stream in ["a", "b", "c"] {
        let events = after
            .read_stream(stream, 0, Direction::Forward, 1000)
            .await
            .unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (0..events.len() as u64).collect::<Vec<_>>());
        assert!(events.iter().all(|e| e.stream_id == stream));
        again.push(positions(&after, stream, Direction::Forward).await);
        again.push(positions(&after, stream, Direction::Backward).await);
    }
    assert_eq!(again, seen);
    let total: usize = again.iter().step_by(2).map(Vec::len).sum();
    assert_eq!(after.head_position(), Some(total as u64 - 1));
    for (command, outcome) in &outcomes {
        assert_eq!(
            after.command_outcome(command).await.unwrap(),
            Some(*outcome)
        );
    }
    assert_eq!(after.command_outcome("never-sent").await.unwrap(), None);
    // Heads: the next exact append to each stream is accepted at its head only.
    let head_a = seen[0].len() as u64 - 1;
    let stale = after
        .append(request("a", ExpectedVersion::Exact(head_a - 1), "late", 1))
        .await;
    assert!(matches!(
        stale,
        Err(StoreError::WrongExpectedVersion { .. })
    ));
    after
        .append(request("a", ExpectedVersion::Exact(head_a), "on-time", 1))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_group_commit_writes_index_chunks_not_a_key_per_event_or_command() {
    let dir = tempfile::tempdir().unwrap();
    let outcomes = interleaved_store(dir.path()).await;
    let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
    // The chunks, read in key order, list every append once, at its outcome's position.
    let mut listed = Vec::new();
    let mut chunks = 0;
    for chunk in db.scan_prefix(INDEX_PREFIX) {
        let (key, bytes) = chunk.unwrap();
        chunks += 1;
        let mut position = u64::from_be_bytes(key[INDEX_PREFIX.len()..].try_into().unwrap());
        for entry in decode_index_chunk(&bytes).unwrap() {
            let outcome = AppendOutcome {
                first_position: position,
                last_position: position + u64::from(entry.events) - 1,
                stream_version: entry.first_version + u64::from(entry.events) - 1,
            };
            listed.push((entry.command_id.to_owned(), outcome));
            position += u64::from(entry.events);
        }
    }
    let mut expected = outcomes.clone();
    expected.sort_by_key(|(_, outcome)| outcome.first_position);
    assert_eq!(listed, expected);
    // 160 appends from 16 concurrent writers are grouped: fewer chunks than appends.
    assert!(
        chunks < outcomes.len(),
        "{chunks} chunks for {} appends",
        outcomes.len()
    );
    assert_eq!(db.scan_prefix(b"s/").count(), 0);
    assert_eq!(db.scan_prefix(b"c/").count(), 0);
    assert_eq!(
        db.get(LAYOUT_KEY).unwrap().as_deref(),
        Some(&[LAYOUT_VERSION][..])
    );
}

/// A closed store with three appends (positions 0, 1..3, 4), then `damage` on its sled tree.
async fn damaged_store(dir: &Path, damage: impl FnOnce(&sled::Db)) {
    let store = open(dir).await;
    for (stream, command, events) in [("a", "c0", 1), ("b", "c1", 3), ("a", "c2", 1)] {
        store
            .append(request(stream, ExpectedVersion::Any, command, events))
            .await
            .unwrap();
    }
    close(store).await;
    let db = sled::open(dir.join(SLED_DIR)).unwrap();
    damage(&db);
    db.flush().unwrap();
}

/// Change the first append of the stored index chunk at `position` with `change`.
fn rewrite_chunk(db: &sled::Db, position: u64, change: impl FnOnce(&mut IndexEntry<'_>)) {
    let key = index_key(position);
    let bytes = db.get(key).unwrap().unwrap();
    let mut entries = decode_index_chunk(&bytes).unwrap();
    change(&mut entries[0]);
    db.insert(key, encode_index_chunk(&entries).unwrap())
        .unwrap();
}

fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Corrupt { .. })),
        "expected Corrupt, got {result:?}"
    );
}

#[tokio::test]
async fn a_damaged_index_chunk_is_a_typed_error_and_the_log_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    damaged_store(dir.path(), |db| {
        let (key, value) = db.scan_prefix(INDEX_PREFIX).next().unwrap().unwrap();
        let mut bytes = value.to_vec();
        bytes.truncate(bytes.len() / 2);
        db.insert(key, bytes).unwrap();
    })
    .await;
    let store = open(dir.path()).await;
    assert_corrupt(store.warm_index().await);
    assert_corrupt(store.read_stream("a", 0, Direction::Forward, 10).await);
    assert_corrupt(store.command_outcome("c0").await);
    assert_corrupt(
        store
            .append(request("a", ExpectedVersion::Any, "c3", 1))
            .await,
    );
    assert_eq!(store.head_position(), Some(4));
    assert_eq!(store.read_all(0, 10).await.unwrap().len(), 5);
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_bad_position, Some(0));
    assert!(report.reason.unwrap().contains("index chunk"));
}

#[tokio::test]
async fn an_index_chunk_rewritten_to_move_an_append_to_another_stream_fails_verify_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    damaged_store(dir.path(), |db| {
        // The second append (positions 1..=3, stream b) now claims stream "a" ...
        rewrite_chunk(db, 1, |entry| {
            entry.stream_id = "a";
            entry.first_version = 1;
        });
        // ... and the third (stream a, version 1) follows it at version 4.
        rewrite_chunk(db, 4, |entry| entry.first_version = 4);
    })
    .await;
    let store = open(dir.path()).await;
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_bad_position, Some(1), "{report:?}");
    assert!(report.reason.unwrap().contains("index chunk"));
    assert_corrupt(store.read_stream("a", 0, Direction::Forward, 10).await);
}

#[tokio::test]
async fn a_missing_index_chunk_is_reported_at_the_first_unindexed_position() {
    let dir = tempfile::tempdir().unwrap();
    damaged_store(dir.path(), |db| {
        let keys: Vec<_> = db
            .scan_prefix(INDEX_PREFIX)
            .keys()
            .map(Result::unwrap)
            .collect();
        db.remove(keys.last().unwrap()).unwrap();
    })
    .await;
    let store = open(dir.path()).await;
    // The last chunk (the append at position 4) is gone.
    match store.read_stream("b", 0, Direction::Forward, 10).await {
        Err(StoreError::Corrupt { position, .. }) => assert_eq!(position, 4),
        other => panic!("expected Corrupt at 4, got {other:?}"),
    }
    // Its events are still in the log; only the index lacks them.
    assert_eq!(store.read_all(4, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_index_chunk_with_another_request_digest_fails_verify_at_the_append_s_last_event() {
    let dir = tempfile::tempdir().unwrap();
    damaged_store(dir.path(), |db| {
        // The second append (positions 1..=3) now claims other events were asked for.
        rewrite_chunk(db, 1, |entry| entry.request_digest[0] ^= 1);
    })
    .await;
    let store = open(dir.path()).await;
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_bad_position, Some(3), "{report:?}");
    assert!(report.reason.unwrap().contains("request digest"));
}

/// Copy the layout 2 fixture store (written by commit 3d39c4b) into `dir`.
fn copy_layout_2_fixture(dir: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/stores/layout2/sled");
    let sled_dir = dir.join(SLED_DIR);
    std::fs::create_dir_all(&sled_dir).unwrap();
    for file in ["conf", "db"] {
        std::fs::copy(fixture.join(file), sled_dir.join(file)).unwrap();
    }
}

/// The request the fixture's writer sent as its `n`th append (see fixtures/stores/README.md).
fn fixture_request(n: u64, stream: &str, events: u64, expected: ExpectedVersion) -> AppendRequest {
    AppendRequest {
        stream_id: stream.into(),
        expected,
        command_id: format!("layout2-command-{n}"),
        actor: "fixture".into(),
        correlation_id: Ulid::from_parts(1, n as u128),
        causation_id: None,
        recorded_at_ms: 1_700_000_000_000 + n as i64,
        events: (0..events)
            .map(|i| NewEvent {
                event_id: Ulid::from_parts(2, (n * 10 + i) as u128),
                type_name: format!("Type{i}"),
                schema_version: 1,
                payload: format!("payload {n}/{i}").into_bytes(),
            })
            .collect(),
    }
}

#[tokio::test]
async fn a_layout_2_store_is_migrated_at_open_without_losing_or_changing_anything() {
    let dir = tempfile::tempdir().unwrap();
    copy_layout_2_fixture(dir.path());
    let store = open(dir.path()).await;
    assert_eq!(store.head_position(), Some(7));
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.events_verified, report.first_bad_position),
        (8, None)
    );
    assert_eq!(
        positions(&store, "incident-a", Direction::Forward).await,
        vec![0, 4, 5]
    );
    assert_eq!(
        positions(&store, "change-b", Direction::Backward).await,
        vec![6, 3, 2, 1]
    );
    assert_eq!(
        positions(&store, "incident-c", Direction::Forward).await,
        vec![7]
    );
    let outcome = |first, last, version| AppendOutcome {
        first_position: first,
        last_position: last,
        stream_version: version,
    };
    assert_eq!(
        store.command_outcome("layout2-command-3").await.unwrap(),
        Some(outcome(4, 5, 2))
    );
    // A retry of an old command returns its first outcome (the digest survived) ...
    let retry = fixture_request(2, "change-b", 3, ExpectedVersion::NoStream);
    assert_eq!(store.append(retry).await.unwrap(), outcome(1, 3, 2));
    // ... the same id with other events is a conflict, and heads continue.
    let conflict = fixture_request(2, "change-b", 1, ExpectedVersion::NoStream);
    assert!(matches!(
        store.append(conflict).await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    let next = fixture_request(6, "incident-a", 1, ExpectedVersion::Exact(2));
    assert_eq!(store.append(next).await.unwrap(), outcome(8, 8, 3));
    close(store).await;

    let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
    assert_eq!(db.scan_prefix(b"s/").count(), 0);
    assert_eq!(db.scan_prefix(b"c/").count(), 0);
    assert_eq!(
        db.get(LAYOUT_KEY).unwrap().as_deref(),
        Some(&[LAYOUT_VERSION][..])
    );
    drop(db);
    let reopened = open(dir.path()).await;
    assert_eq!(
        positions(&reopened, "incident-a", Direction::Forward).await,
        vec![0, 4, 5, 8]
    );
    assert_eq!(reopened.verify().await.unwrap().events_verified, 9);
}
