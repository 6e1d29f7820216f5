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

/// A 200 KiB record, past sled's blob threshold (written only with the cap lifted).
fn blob_sized(command_id: &str) -> AppendRequest {
    let mut req = request(command_id);
    req.events[0].payload = vec![7; 200 * 1024];
    req
}

fn blob_paths(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir.join(layout::SLED_DIR).join(blobs::BLOB_DIR)) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Whether the store in `dir` opens and verifies clean (all `events` of it).
async fn opens_and_verifies_clean(dir: &Path, events: u64) -> bool {
    let Ok(store) = SledEventStore::open(dir, StoreConfig::default()).await else {
        return false;
    };
    let verified = matches!(
        store.verify().await,
        Ok(VerifyReport { events_verified, first_bad_position: None, .. }) if events_verified == events
    );
    let _ = store.flush_and_stop().await;
    verified
}

/// Makes sled write a blob (the size bounds lifted) and damages it as `damage` does:
/// verify (or the open) must fail, never answer ok.
async fn damaged_blob_is_never_reported_ok(damage: impl Fn(&Path), later_write: bool) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    store.append(request("small")).await.unwrap();
    store.lift_record_cap();
    store.append(blob_sized("big")).await.unwrap();
    let mut events = 2;
    if later_write {
        store.append(request("after")).await.unwrap();
        events += 1;
    }
    let blobs = blob_paths(dir.path());
    assert!(
        !blobs.is_empty(),
        "a 200 KiB record makes sled write a blob file"
    );
    assert_eq!(store.verify().await.unwrap().first_bad_position, None);
    store.flush_and_stop().await.unwrap();
    drop(store);
    assert!(opens_and_verifies_clean(dir.path(), events).await);
    for blob in &blobs {
        damage(blob);
    }
    assert!(
        !opens_and_verifies_clean(dir.path(), events).await,
        "a damaged blob must fail the open or verify"
    );
}

#[tokio::test]
async fn an_emptied_blob_file_fails_the_open_or_verify_never_ok() {
    damaged_blob_is_never_reported_ok(|p| std::fs::write(p, b"").unwrap(), false).await;
    damaged_blob_is_never_reported_ok(|p| std::fs::write(p, b"").unwrap(), true).await;
}

#[tokio::test]
async fn a_removed_blob_file_fails_the_open_or_verify_never_ok() {
    damaged_blob_is_never_reported_ok(|p| std::fs::remove_file(p).unwrap(), true).await;
    damaged_blob_is_never_reported_ok(|p| std::fs::remove_file(p).unwrap(), false).await;
}

/// sled still holds the value in its cache, so the walk over the records passes: the
/// check of the blob files is what fails verify (the next open would fail).
#[tokio::test]
async fn a_blob_damaged_under_a_running_store_fails_verify_naming_the_file() {
    for damage in [b"".as_slice(), b"\0\0\0\0\x01garbage".as_slice()] {
        let dir = tempfile::tempdir().unwrap();
        let store = SledEventStore::open(dir.path(), StoreConfig::default())
            .await
            .unwrap();
        store.lift_record_cap();
        store.append(blob_sized("big")).await.unwrap();
        assert_eq!(store.verify().await.unwrap().first_bad_position, None);
        for blob in blob_paths(dir.path()) {
            std::fs::write(blob, damage).unwrap();
        }
        let report = store.verify().await.unwrap();
        assert_eq!(report.first_bad_position, Some(0), "{report:?}");
        let reason = report.reason.unwrap();
        assert!(reason.contains("sled blob file blobs/"), "{reason}");
        store.flush_and_stop().await.unwrap();
    }
}

#[tokio::test]
async fn blob_sync_fsyncs_each_blob_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    store.lift_record_cap();
    store.append(blob_sized("big")).await.unwrap();
    assert!(!blob_paths(dir.path()).is_empty());
    // The writer's blob sync has seen it: a second pass finds nothing new.
    let mut sync = blobs::BlobSync::new(&dir.path().join(layout::SLED_DIR));
    assert_eq!(sync.sync_new().unwrap(), blob_paths(dir.path()).len());
    assert_eq!(sync.sync_new().unwrap(), 0);
    store.flush_and_stop().await.unwrap();
}
