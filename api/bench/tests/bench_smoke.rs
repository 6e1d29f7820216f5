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

/// The transparency benchmark on a tiny log: every part runs and its counts agree
/// (tree sizes, stored hashes, proof lengths, alternating runs); no timing is asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transparency_bench_reports_consistent_counts_on_a_tiny_log() {
    use opsledger_bench::transparency::{run_transparency_bench, TransparencyBenchOptions};
    const EVENTS: u64 = 2_000;
    let report = run_transparency_bench(TransparencyBenchOptions {
        events: EVENTS,
        append_events: 200,
        writers: 8,
        rounds: 3,
        samples: 300,
        checkpoint_every: 50,
    })
    .await
    .unwrap();
    assert_eq!(report.events, EVENTS);
    // RFC 9162 tree in tlog's stored order: 2n - popcount(n) hashes for n leaves.
    let stored = 2 * EVENTS - u64::from(EVENTS.count_ones());
    for build in [&report.build_in_memory.build, &report.build_from_sled.build] {
        assert_eq!(build.tree_size, EVENTS);
        assert_eq!(build.stored_hashes, stored);
        assert!((build.tree_mb - (stored * 32) as f64 / 1e6).abs() < 1e-9);
    }
    let record = report.build_in_memory.record_bytes_avg;
    assert!((250.0..400.0).contains(&record), "{record}");
    assert!(report.build_from_sled.log_mb > 0.0);

    // ceil(log2 2000) = 11: an audit path has at most 11 hashes, and the leaves of the
    // tree's complete left subtree of 1024 have exactly 11.
    let depth = 64 - (EVENTS - 1).leading_zeros() as usize;
    assert_eq!(depth, 11);
    let inclusion = &report.inclusion;
    assert_eq!(inclusion.tree_size, EVENTS);
    assert_eq!(inclusion.samples, 300);
    assert!(inclusion.hashes_min >= 1 && inclusion.hashes_max == depth);
    assert_eq!(inclusion.path_bytes_median, inclusion.hashes_median * 32);
    assert!(inclusion.record_bytes as f64 >= record * 0.9);
    assert!(
        inclusion.json_bytes_median > 2 * (inclusion.path_bytes_median + inclusion.record_bytes)
    );
    let consistency = &report.consistency;
    assert_eq!(consistency.samples, 300);
    assert!(consistency.hashes_min >= 1 && consistency.hashes_max <= 2 * depth);
    assert_eq!(consistency.record_bytes, 0);
    assert!(report.checkpoint.note_bytes > 100);
    assert_eq!(report.checkpoint.samples, 300);

    let appends = &report.appends;
    assert_eq!(appends.runs.len(), 6);
    assert_eq!(appends.pair_ratios.len(), 3);
    for (i, run) in appends.runs.iter().enumerate() {
        assert_eq!(run.with_tree, i % 2 == 0, "run {i}");
        assert_eq!(run.appends, 200, "run {i}");
        assert!(
            run.appends_per_group >= 1.0 && run.appends_per_group <= 8.0,
            "run {i}"
        );
        if run.with_tree {
            assert_eq!(run.tree_size_after, Some(200));
            assert!(run.tree_lag_at_end.unwrap() <= 200);
            // One at the start, then one whenever a batch took the tree 50 past the last.
            assert!(run.checkpoints.unwrap() >= 2, "{:?}", run.checkpoints);
            assert!(run.catch_up_ms.is_some());
        } else {
            assert_eq!(run.tree_size_after, None);
            assert_eq!(run.checkpoints, None);
        }
    }
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "build_in_memory",
        "build_from_sled",
        "inclusion",
        "consistency",
        "checkpoint",
        "appends",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(report.to_string().contains("with/without"));
}
