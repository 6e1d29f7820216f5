//! The benchmark library runs end to end on a small log.

#[tokio::test]
async fn projection_bench_reports_every_figure_for_the_generated_log() {
    let report = opsledger_bench::projections::run_projection_bench(3_000)
        .await
        .unwrap();
    assert!(
        report.events >= 3_000 && report.events < 3_100,
        "{}",
        report.events
    );
    assert!(report.replay_projections_events_per_s > 0.0);
    assert!(report.snapshot_mb > 0.0);
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "replay_projections_events_per_s",
        "startup_with_snapshot_ms",
        "peak_rss_mb",
        "events",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
}

/// A replay reads pages ahead; once it returns and the store is stopped, no
/// read may still hold the store, so the same process can open it again at once.
#[tokio::test]
async fn replay_leaves_no_read_holding_the_store_once_it_returns() {
    use opsledger_bench::projections::{generate_bench_log, measure_replay};
    use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
    let root = tempfile::tempdir().unwrap();
    let log_dir = root.path().join("log");
    generate_bench_log(&log_dir, 1_000).await.unwrap();
    for round in 0..20 {
        let snap_dir = root.path().join(format!("snap-{round}"));
        let replayed = measure_replay(&log_dir, &snap_dir).await.unwrap();
        let store = SledEventStore::open(&log_dir, StoreConfig::default())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(store.head_position(), Some(replayed.events - 1));
        store.flush_and_stop().await.unwrap();
    }
}
