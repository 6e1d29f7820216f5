//! Disk faults: a read-only data directory and a full disk give typed errors, never a
//! panic, and never a damaged log (every acknowledged event is there and the chain verifies).
//!
//! As root, permission bits do not stop writes, so the read-only case uses a read-only
//! bind mount; the full disk is a tiny tmpfs (root only). Without root the read-only case
//! uses `chmod` and the full-disk case is skipped (it says so on stderr).

use std::path::{Path, PathBuf};
use std::process::Command;

use opsledger_storage::{
    AppendRequest, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig, StoreError,
    Ulid,
};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Run `mount` with `args`; false if it failed (no privilege, no tmpfs, ...).
fn mount(args: &[&str], target: &Path) -> bool {
    Command::new("mount")
        .args(args)
        .arg(target)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Unmounts its target when dropped (also when a test fails).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn request(command_id: &str, payload_bytes: usize) -> AppendRequest {
    AppendRequest {
        stream_id: "disk-fault".into(),
        expected: ExpectedVersion::Any,
        command_id: command_id.into(),
        actor: "tester".into(),
        correlation_id: Ulid::from_parts(1, 1),
        causation_id: None,
        recorded_at_ms: 0,
        events: vec![NewEvent {
            event_id: Ulid::new(),
            type_name: "DiskFaultProbed".into(),
            schema_version: 1,
            payload: vec![7; payload_bytes],
        }],
    }
}

/// Open again; after a failure the old writer threads release the lock just after the
/// last answer, so `Locked` is retried for a while.
async fn reopen(dir: &Path) -> SledEventStore {
    for _ in 0..500 {
        match SledEventStore::open(dir, StoreConfig::default()).await {
            Err(StoreError::Locked { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            other => return other.unwrap(),
        }
    }
    panic!("the store stayed locked after it was dropped");
}

/// The log holds exactly the acknowledged commands, in order, and its chain verifies.
async fn assert_log_holds(dir: &Path, acknowledged: &[String]) {
    let store = reopen(dir).await;
    let events = store.read_all(0, usize::MAX).await.unwrap();
    let commands: Vec<&str> = events.iter().map(|e| e.command_id.as_str()).collect();
    assert_eq!(&commands[..acknowledged.len()], acknowledged);
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_bad_position, None);
    assert_eq!(report.events_verified, events.len() as u64);
    store.flush_and_stop().await.unwrap();
}

fn set_tree_read_only(dir: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            set_tree_read_only(&path, read_only);
        } else {
            let mode = if read_only { 0o444 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
    let mode = if read_only { 0o555 } else { 0o755 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn read_only_data_directory_fails_open_with_an_io_error_and_keeps_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = SledEventStore::open(&dir, StoreConfig::default())
        .await
        .unwrap();
    let acknowledged: Vec<String> = (0..3).map(|i| format!("cmd-{i}")).collect();
    for command_id in &acknowledged {
        store.append(request(command_id, 100)).await.unwrap();
    }
    store.flush_and_stop().await.unwrap();
    drop(store);

    let guard = if is_root() {
        if !(mount(&["--bind", dir.to_str().unwrap()], &dir)
            && mount(&["-o", "remount,bind,ro"], &dir))
        {
            let _ = Command::new("umount").arg(&dir).status();
            eprintln!("skipped: root cannot make a read-only bind mount here");
            return;
        }
        Some(Mounted(dir.clone()))
    } else {
        set_tree_read_only(&dir, true);
        None
    };
    let opened = SledEventStore::open(&dir, StoreConfig::default()).await;
    match opened {
        Err(StoreError::Io(e)) => assert!(
            [Some(libc::EACCES), Some(libc::EROFS)].contains(&e.raw_os_error()),
            "unexpected i/o error {e}"
        ),
        Err(other) => panic!("expected an i/o error, got {other:?}"),
        Ok(_) => panic!("a read-only directory opened for writing"),
    }
    drop(guard);
    if !is_root() {
        set_tree_read_only(&dir, false);
    }
    assert_log_holds(&dir, &acknowledged).await;
}

#[tokio::test]
async fn full_disk_stops_writes_with_a_typed_error_and_keeps_acknowledged_events() {
    if !is_root() {
        eprintln!("skipped: a full disk is simulated with a tmpfs mount, which needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mount_point = tmp.path().join("tiny");
    std::fs::create_dir(&mount_point).unwrap();
    if !mount(&["-t", "tmpfs", "-o", "size=3m", "tmpfs"], &mount_point) {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    let _guard = Mounted(mount_point.clone());
    let dir = mount_point.join("log");
    let store = match SledEventStore::open(&dir, StoreConfig::default()).await {
        Ok(store) => store,
        Err(e) => panic!("a 3 MiB disk should open: {e:?}"),
    };
    let mut acknowledged = Vec::new();
    let mut failure = None;
    for i in 0..20_000 {
        let command_id = format!("cmd-{i}");
        match store.append(request(&command_id, 4096)).await {
            Ok(_) => acknowledged.push(command_id),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    eprintln!(
        "full disk after {} acknowledged appends: {failure:?}",
        acknowledged.len()
    );
    match failure {
        Some(StoreError::WritesStopped { reason }) => {
            assert!(!reason.is_empty(), "the stop reason is empty")
        }
        Some(StoreError::Backend(_) | StoreError::Io(_)) => {}
        other => panic!("expected a typed write failure on a full disk, got {other:?}"),
    }
    assert!(matches!(
        store.append(request("after-full", 10)).await,
        Err(StoreError::WritesStopped { .. })
    ));
    drop(store);
    // Give the disk room again, then every acknowledged event must be there.
    assert!(mount(&["-o", "remount,size=256m"], &mount_point));
    assert_log_holds(&dir, &acknowledged).await;
}
