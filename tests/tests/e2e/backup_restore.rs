//! Export/import, backup/restore: byte-identical copies, verified before anything is written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsledger_api::cli_tools::{load_fixtures, render_payload};
use opsledger_domain::time::MS_PER_DAY;
use opsledger_fixtures::FixtureConfig;
use opsledger_projections::{
    kpi::KpiWindow, kpi_report, rebuild, KpiQuery, KpiScope, ProjectionRunner, ReadModels,
    RunnerConfig,
};
use opsledger_storage::backup::{backup_from, backup_offline, restore, TransferError, LOG_DIR};
use opsledger_storage::export::{export, import_file};
use opsledger_storage::{
    AppendRequest, EventStore, ExpectedVersion, NewEvent, RecordedEvent, SledEventStore,
    StoreConfig, Ulid,
};

fn small_org() -> FixtureConfig {
    FixtureConfig {
        services: 8,
        days: 12,
        ..FixtureConfig::default()
    }
}

/// A data directory whose log holds the small fixture organisation (store stopped).
async fn demo_data(root: &Path) -> PathBuf {
    let data = root.join("source");
    let store: Arc<dyn EventStore> = Arc::new(
        SledEventStore::open(data.join(LOG_DIR), StoreConfig::default())
            .await
            .unwrap(),
    );
    let runner = ProjectionRunner::<ReadModels>::start(
        store.clone(),
        data.join("projections"),
        RunnerConfig::default(),
    )
    .await
    .unwrap();
    let report = load_fixtures(store.clone(), runner.handle(), small_org(), &mut |_, _| {})
        .await
        .unwrap();
    assert!(
        report.events > 150 && report.rejected.is_empty(),
        "{report:?}"
    );
    runner.shutdown().await.unwrap();
    store.flush_and_stop().await.unwrap();
    data
}

async fn all_records(log: &Path) -> Vec<RecordedEvent> {
    let store = SledEventStore::open(log, StoreConfig::default())
        .await
        .unwrap();
    let records = store.read_all(0, usize::MAX).await.unwrap();
    store.flush_and_stop().await.unwrap();
    records
}

async fn rebuilt_models(data: &Path) -> ReadModels {
    let store: Arc<dyn EventStore> = Arc::new(
        SledEventStore::open(data.join(LOG_DIR), StoreConfig::default())
            .await
            .unwrap(),
    );
    let (state, _) = rebuild::<ReadModels>(&store, data.join("projections"), 4096, |_, _| {})
        .await
        .unwrap();
    store.flush_and_stop().await.unwrap();
    state.model
}

async fn export_to_file(log: &Path, file: &Path) -> u64 {
    let store = SledEventStore::open(log, StoreConfig::default())
        .await
        .unwrap();
    let mut out = std::fs::File::create(file).unwrap();
    let n = export(&store, 0, &mut out, &render_payload, &mut |_, _| {})
        .await
        .unwrap();
    store.flush_and_stop().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_store_gives_identical_records_read_models_and_kpis() {
    let root = tempfile::tempdir().unwrap();
    let source = demo_data(root.path()).await;
    let backup = root.path().join("backup");
    let report = backup_offline(&source.join(LOG_DIR), &backup, &mut |_, _| {})
        .await
        .unwrap();
    let restored = root.path().join("restored");
    let restored_report = restore(&backup, &restored.join(LOG_DIR), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(restored_report, report);
    assert!(backup.join("BACKUP").exists());

    let original = all_records(&source.join(LOG_DIR)).await;
    assert_eq!(original.len() as u64, report.events);
    assert_eq!(all_records(&restored.join(LOG_DIR)).await, original);

    let a = rebuilt_models(&source).await;
    let b = rebuilt_models(&restored).await;
    assert_eq!(a, b);
    let cfg = small_org();
    let query = KpiQuery {
        window: KpiWindow::new(
            cfg.start,
            cfg.start.plus_millis(i64::from(cfg.days) * MS_PER_DAY),
            None,
        )
        .unwrap(),
        scope: KpiScope::Global,
        now: cfg.start.plus_millis(i64::from(cfg.days) * MS_PER_DAY),
    };
    let kpis = kpi_report(&a.kpi, &query).unwrap();
    assert!(kpis.totals.alerts_received > 0);
    assert_eq!(kpis, kpi_report(&b.kpi, &query).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_non_empty_target() {
    let root = tempfile::tempdir().unwrap();
    let backup = root.path().join("backup");
    let target = root.path().join("data").join(LOG_DIR);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep.txt"), b"x").unwrap();
    let err = restore(&backup, &target, &mut |_, _| {}).await.unwrap_err();
    assert!(matches!(err, TransferError::TargetNotEmpty(p) if p == target));
    assert!(target.join("keep.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_round_trip_gives_identical_hashes() {
    let root = tempfile::tempdir().unwrap();
    let source = demo_data(root.path()).await;
    let file = root.path().join("log.jsonl");
    let exported = export_to_file(&source.join(LOG_DIR), &file).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let line = |n: usize| -> serde_json::Value {
        serde_json::from_str(text.lines().nth(n).unwrap()).unwrap()
    };
    assert_eq!(
        line(0),
        serde_json::json!({"format": "opsledger-export", "version": 2, "from": 0, "events": exported})
    );
    let first_event = line(1);
    assert_eq!(first_event["type_name"], "ServiceRegistered");
    let registered = &first_event["payload"]["Service"]["Registered"];
    assert!(registered["profile"]["name"].is_string());
    assert!(Ulid::from_string(registered["id"].as_str().unwrap()).is_ok());
    let target = root.path().join("imported").join(LOG_DIR);
    let report = import_file(&file, &target, &render_payload, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.events, exported);
    let original = all_records(&source.join(LOG_DIR)).await;
    let imported = all_records(&target).await;
    assert_eq!(imported, original);
    assert_eq!(report.last_hash, original.last().unwrap().hash);
}

/// Rewrite line `n` (1-based) of `file` with `edit`, or drop it if `edit` returns None.
fn edit_line(file: &Path, n: usize, edit: impl Fn(&str) -> Option<String>) {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            if i + 1 == n {
                edit(l)
            } else {
                Some(l.to_string())
            }
        })
        .collect();
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_or_gapped_exports_are_refused_with_the_line_and_nothing_is_written() {
    let root = tempfile::tempdir().unwrap();
    let source = demo_data(root.path()).await;
    let clean = root.path().join("clean.jsonl");
    export_to_file(&source.join(LOG_DIR), &clean).await;
    let target = root.path().join("imported").join(LOG_DIR);

    // Line 1 is the header: line n holds position n - 2.
    let tampered = root.path().join("tampered.jsonl");
    std::fs::copy(&clean, &tampered).unwrap();
    edit_line(&tampered, 5, |l| {
        Some(l.replace("platform.admin", "mallory"))
    });
    let err = import_file(&tampered, &target, &render_payload, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransferError::BadLine {
                line: 5,
                position: Some(3),
                ..
            }
        ),
        "{err}"
    );
    assert!(!target.exists());

    let payload_edit = root.path().join("payload.jsonl");
    std::fs::copy(&clean, &payload_edit).unwrap();
    edit_line(&payload_edit, 2, |l| {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["payload"]["Service"]["Registered"]["profile"]["name"] = "renamed".into();
        Some(v.to_string())
    });
    let err = import_file(&payload_edit, &target, &render_payload, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransferError::BadLine { line: 2, .. }),
        "{err}"
    );

    let gapped = root.path().join("gapped.jsonl");
    std::fs::copy(&clean, &gapped).unwrap();
    edit_line(&gapped, 3, |_| None);
    let err = import_file(&gapped, &target, &render_payload, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransferError::BadLine {
                line: 3,
                position: Some(2),
                ..
            }
        ),
        "{err}"
    );
    assert!(!target.exists());

    // A file cut after a whole line still chains: the header's count catches it.
    let truncated = root.path().join("truncated.jsonl");
    std::fs::copy(&clean, &truncated).unwrap();
    let lines = std::fs::read_to_string(&clean).unwrap().lines().count();
    edit_line(&truncated, lines, |_| None);
    let err = import_file(&truncated, &target, &render_payload, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransferError::BadLine { line, reason, .. }
            if *line == lines as u64 && reason.contains("announces")),
        "{err}"
    );
    assert!(!target.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_backup_during_concurrent_writes_is_consistent_and_verifies() {
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SledEventStore::open(root.path().join("live"), StoreConfig::default())
            .await
            .unwrap(),
    );
    let append = |store: Arc<SledEventStore>, writer: usize, i: u64| async move {
        store
            .append(AppendRequest {
                stream_id: format!("test-{writer}"),
                expected: ExpectedVersion::Any,
                command_id: format!("w{writer}-{i}"),
                actor: "tester".into(),
                correlation_id: Ulid::new(),
                causation_id: None,
                recorded_at_ms: 1_700_000_000_000,
                events: vec![NewEvent {
                    event_id: Ulid::new(),
                    type_name: "TestEvent".into(),
                    schema_version: 1,
                    payload: vec![i as u8; 64],
                }],
            })
            .await
            .unwrap()
    };
    for i in 0..200 {
        append(store.clone(), 0, i).await;
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (1..4)
        .map(|w| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    append(store.clone(), w, i).await;
                    i += 1;
                }
                i
            })
        })
        .collect();
    let out = root.path().join("backup");
    let report = backup_from(store.as_ref(), &out, &mut |_, _| {})
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut written = 0;
    for w in writers {
        written += w.await.unwrap();
    }
    assert!(written > 0, "no write ran concurrently with the backup");
    let last = report.last_position.unwrap();
    assert!(last >= 199);
    let source_record = store.read_all(last, 1).await.unwrap().remove(0);
    assert_eq!(report.last_hash, source_record.hash);

    let copy = SledEventStore::open(out.join(LOG_DIR), StoreConfig::default())
        .await
        .unwrap();
    let verified = copy.verify().await.unwrap();
    assert_eq!(verified.first_bad_position, None);
    assert_eq!(verified.events_verified, last + 1);
    assert_eq!(copy.head_position(), Some(last));
    assert_eq!(
        copy.read_all(0, usize::MAX).await.unwrap(),
        store.read_all(0, (last + 1) as usize).await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_straddling_a_read_page_is_copied_as_one_append() {
    let root = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(root.path().join("live"), StoreConfig::default())
        .await
        .unwrap();
    let append = |command: String, n: usize| AppendRequest {
        stream_id: format!("test-{command}"),
        expected: ExpectedVersion::NoStream,
        command_id: command,
        actor: "tester".into(),
        correlation_id: Ulid::new(),
        causation_id: None,
        recorded_at_ms: 1_700_000_000_000,
        events: (0..n)
            .map(|_| NewEvent {
                event_id: Ulid::new(),
                type_name: "TestEvent".into(),
                schema_version: 1,
                payload: vec![7; 8],
            })
            .collect(),
    };
    // 8191 one-event commands (concurrent, so a few group commits: one append may hold
    // at most 256 KiB of records), then one of three events over positions 8191..=8193.
    let first: Vec<_> = (0..8191)
        .map(|i| store.append(append(format!("first-{i}"), 1)))
        .collect();
    for outcome in futures::future::join_all(first).await {
        outcome.unwrap();
    }
    let straddling = store
        .append(append("straddles-8192".into(), 3))
        .await
        .unwrap();
    assert_eq!(straddling.first_position, 8191);
    let out = root.path().join("backup");
    let report = backup_from(&store, &out, &mut |_, _| {}).await.unwrap();
    assert_eq!((report.events, report.last_position), (8194, Some(8193)));
    let copy = SledEventStore::open(out.join(LOG_DIR), StoreConfig::default())
        .await
        .unwrap();
    assert_eq!(
        copy.command_outcome("straddles-8192").await.unwrap(),
        store.command_outcome("straddles-8192").await.unwrap()
    );
}
