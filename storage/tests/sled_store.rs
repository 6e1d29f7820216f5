//! Behaviour specific to the sled backend: restarts, the directory lock, tampering.

use opsledger_storage::layout::{segment_key, SLED_DIR};
use opsledger_storage::segment::Segment;
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

mod support;
use support::{close, open};

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

/// A stopped store lives on while something still holds it (here a subscription
/// its consumer drops 100 ms later): an open of the same directory in this process
/// waits for it to go instead of failing with `Locked`.
#[tokio::test]
async fn a_stopped_store_still_held_by_a_subscriber_is_waited_for_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    closed_store_of_single_appends(dir.path(), 3).await;
    let store = open(dir.path()).await;
    let subscription = store.subscribe(0);
    close(store).await;
    let consumer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(subscription);
    });
    let reopened = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .expect("the stopped store's directory once its subscriber let go");
    assert_eq!(reopened.head_position(), Some(2));
    consumer.await.unwrap();
    // A running store is still exclusive, at once.
    match SledEventStore::open(dir.path(), StoreConfig::default()).await {
        Err(StoreError::Locked { .. }) => {}
        Err(other) => panic!("expected Locked, got {other:?}"),
        Ok(_) => panic!("expected Locked, got a second store"),
    }
    close(reopened).await;
}

#[tokio::test]
async fn flipping_a_byte_of_a_stored_event_makes_verify_fail_at_that_position() {
    let dir = tempfile::tempdir().unwrap();
    closed_store_of_single_appends(dir.path(), 6).await;
    {
        let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
        let mut bytes = db.get(segment_key(3)).unwrap().unwrap().to_vec();
        let record = Segment::parse(&bytes).unwrap().record_range(0).unwrap();
        let in_payload = record.end - 65; // last payload byte, before prev_hash and hash
        bytes[in_payload] ^= 0x01;
        db.insert(segment_key(3), bytes).unwrap();
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
    closed_store_of_single_appends(dir.path(), 4).await;
    {
        let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
        db.remove(segment_key(1))
            .unwrap()
            .expect("a segment starting at 1");
        db.flush().unwrap();
    }
    let store = open(dir.path()).await;
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.first_bad_position, report.reason.as_deref()),
        (Some(1), Some("record missing"))
    );
}

/// A closed store in `dir` with `appends` one-event appends to stream "a", each
/// committed alone: every event is the only record of its own segment.
async fn closed_store_of_single_appends(dir: &std::path::Path, appends: usize) {
    let store = open(dir).await;
    for i in 0..appends {
        store
            .append(request("a", ExpectedVersion::Any, &format!("c{i}")))
            .await
            .unwrap();
    }
    close(store).await;
}

/// One append of `count` events of `payload_bytes` each to `stream`.
fn big_append(stream: &str, command_id: &str, count: usize, payload_bytes: usize) -> AppendRequest {
    let mut req = request(stream, ExpectedVersion::Any, command_id);
    req.events = (0..count)
        .map(|i| NewEvent {
            event_id: Ulid::new(),
            type_name: "T".into(),
            schema_version: 1,
            payload: vec![i as u8; payload_bytes],
        })
        .collect();
    req
}

/// Length of the first record of the segment starting at `first`.
fn record_len(dir: &std::path::Path, first: u64) -> usize {
    let db = sled::open(dir.join(SLED_DIR)).unwrap();
    let bytes = db.get(segment_key(first)).unwrap().unwrap();
    Segment::parse(&bytes).unwrap().record(0).unwrap().len()
}

/// Keys and record counts of the stored segments, in order.
fn stored_segments(dir: &std::path::Path) -> Vec<(u64, usize)> {
    let db = sled::open(dir.join(SLED_DIR)).unwrap();
    db.scan_prefix(b"g/")
        .map(|entry| {
            let (key, bytes) = entry.unwrap();
            let first = u64::from_be_bytes(key[2..].try_into().unwrap());
            (first, Segment::parse(&bytes).unwrap().len())
        })
        .collect()
}

#[tokio::test]
async fn a_group_is_stored_as_segments_and_every_position_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // 200 small events in one append: one group, more than one segment's worth of records.
    store.append(big_append("a", "c1", 200, 20)).await.unwrap();
    // 10 events of 4 KiB: a segment closes by bytes, not count.
    store.append(big_append("b", "c2", 10, 4096)).await.unwrap();
    store
        .append(request("a", ExpectedVersion::Exact(199), "c3"))
        .await
        .unwrap();
    let all = store.read_all(0, 1000).await.unwrap();
    assert_eq!(all.len(), 211);
    for from in [0u64, 1, 63, 64, 65, 127, 199, 200, 205, 209, 210] {
        for max in [1usize, 2, 70, 1000] {
            let page = store.read_all(from, max).await.unwrap();
            let expected: Vec<u64> = (from..211).take(max).collect();
            let got: Vec<u64> = page.iter().map(|e| e.position).collect();
            assert_eq!(got, expected, "read_all({from}, {max})");
        }
    }
    let a = store
        .read_stream("a", 0, Direction::Forward, 1000)
        .await
        .unwrap();
    assert_eq!(a.len(), 201);
    assert_eq!(a[200].position, 210);
    assert!(a
        .iter()
        .enumerate()
        .all(|(i, e)| e.stream_version == i as u64));
    let b_back = store
        .read_stream("b", u64::MAX, Direction::Backward, 3)
        .await
        .unwrap();
    let versions: Vec<u64> = b_back.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, vec![9, 8, 7]);
    assert_eq!(b_back[0].payload, vec![9u8; 4096]);
    close(store).await;

    let segments = stored_segments(dir.path());
    // 200 records of 137-139 bytes (20-byte payload + envelope; positions are varints): a
    // segment closes at 6 KiB, 44 × 139 = 6116 <= 6144 < 45 × 137 = 6165, so 44 + 44 + 44 + 44 + 24; ten ~4.2 KiB
    // records: one each; then one.
    let lens: Vec<usize> = segments.iter().map(|(_, len)| *len).collect();
    assert!((137..=139).contains(&record_len(dir.path(), 0)));
    assert!((137..=139).contains(&record_len(dir.path(), 176)));
    assert_eq!(opsledger_storage::segment::MAX_SEGMENT_BYTES, 6144);
    let mut expected = vec![44, 44, 44, 44, 24];
    expected.extend([1; 10]);
    expected.push(1);
    assert_eq!(lens, expected);
    let mut next = 0;
    for (first, len) in &segments {
        assert_eq!(*first, next, "segments are contiguous: {segments:?}");
        next += *len as u64;
    }
    assert_eq!(next, 211);

    let store = open(dir.path()).await;
    assert_eq!(store.head_position(), Some(210));
    assert_eq!(store.verify().await.unwrap().events_verified, 211);
}

#[tokio::test]
async fn flipping_a_byte_inside_a_shared_segment_fails_verify_at_that_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.append(big_append("a", "c1", 30, 20)).await.unwrap();
    close(store).await;
    {
        let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
        let mut bytes = db.get(segment_key(0)).unwrap().unwrap().to_vec();
        let segment = Segment::parse(&bytes).unwrap();
        assert_eq!(segment.len(), 30);
        let record = segment.record_range(17).unwrap();
        bytes[record.end - 65] ^= 0x01;
        db.insert(segment_key(0), bytes).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path()).await;
    let report = store.verify().await.unwrap();
    assert_eq!(
        (report.first_bad_position, report.events_verified),
        (Some(17), 17)
    );
}

#[tokio::test]
async fn a_store_in_the_per_event_layout_1_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
        let mut key = b"e/".to_vec();
        key.extend_from_slice(&0u64.to_be_bytes());
        db.insert(key, b"old record".as_slice()).unwrap();
        db.flush().unwrap();
    }
    match SledEventStore::open(dir.path(), StoreConfig::default()).await {
        Err(
            err @ StoreError::IncompatibleLayout {
                found: 1,
                expected: 3,
                ..
            },
        ) => {
            assert!(err.to_string().contains("export"), "{err}");
        }
        Err(other) => panic!("expected IncompatibleLayout, got {other:?}"),
        Ok(_) => panic!("a layout 1 store was opened"),
    }
}

#[tokio::test]
async fn a_long_page_decoded_on_two_threads_keeps_order_and_reports_a_gap_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..30 {
        store
            .append(big_append("a", &format!("c{i}"), 100, 20))
            .await
            .unwrap();
    }
    let all = store.read_all(0, 5000).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (0..3000).collect::<Vec<u64>>());
    close(store).await;

    let (first, len) = *stored_segments(dir.path())
        .iter()
        .find(|(first, len)| (*first..*first + *len as u64).contains(&2500))
        .unwrap();
    {
        let db = sled::open(dir.path().join(SLED_DIR)).unwrap();
        db.remove(segment_key(first)).unwrap().unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path()).await;
    assert_eq!(store.read_all(0, 2000).await.unwrap().len(), 2000);
    match store.read_all(0, 5000).await {
        Err(StoreError::Corrupt { position, reason }) => {
            assert_eq!((position, reason.as_str()), (first, "record missing"));
        }
        other => panic!("expected a missing record at {first}, got {other:?}"),
    }
    assert!(len > 1);
}
