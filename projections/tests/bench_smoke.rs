//! The benchmark library runs end to end on a small log.

#[tokio::test]
async fn projection_bench_reports_every_figure_for_the_generated_log() {
    let report = opsledger_projections::bench::run_projection_bench(3_000)
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
