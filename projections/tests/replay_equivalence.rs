//! Property: live incremental projection, a full rebuild, and a snapshot at
//! a random point plus the tail all give identical read models and KPIs.

mod common;

use std::sync::Arc;

use opsledger_domain::Timestamp;
use opsledger_projections::bucket::BucketSize;
use opsledger_projections::kpi::KpiWindow;
use opsledger_projections::{
    kpi_report, rebuild, status_page, Checkpointed, KpiQuery, KpiReport, KpiScope, ReadModels,
    SnapshotStore, StatusPage,
};
use opsledger_synthetic::{generate, Batch, EPOCH_2024_MS};
use proptest::prelude::*;

type Answers = (Checkpointed<ReadModels>, KpiReport, KpiReport, StatusPage);

fn answers(state: Checkpointed<ReadModels>) -> Answers {
    let query = |scope| KpiQuery {
        window: KpiWindow::new(
            Timestamp(EPOCH_2024_MS),
            Timestamp(EPOCH_2024_MS + 30 * 86_400_000),
            Some(BucketSize::Week),
        )
        .unwrap(),
        scope,
        now: Timestamp(EPOCH_2024_MS + 31 * 86_400_000),
    };
    let global = kpi_report(&state.model.kpi, &query(KpiScope::Global)).unwrap();
    let team = kpi_report(&state.model.kpi, &query(KpiScope::Team("team-1".into()))).unwrap();
    let page = status_page(&state.model);
    (state, global, team, page)
}

fn clone_state(state: &Checkpointed<ReadModels>) -> Checkpointed<ReadModels> {
    state.clone()
}

async fn check(batches: Vec<Batch>, cut_ratio: f64) {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path()).await;
    // Incremental: the runner follows the appends live.
    let (runner, handle) = common::start_runner(&store, dir.path()).await;
    let mut appender = opsledger_synthetic::Appender::new(Arc::clone(&store));
    for b in &batches {
        appender
            .append(&b.stream_id, b.at, &b.events)
            .await
            .unwrap();
    }
    common::caught_up(&store, &handle).await;
    let incremental = handle.read_checkpointed(clone_state);
    runner.shutdown().await.unwrap();

    // Full rebuild into another snapshot directory.
    let (rebuilt, report) = rebuild::<ReadModels>(&store, dir.path().join("rebuild"), 7, |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.events, store.head_position().unwrap() + 1);

    // Snapshot after a random prefix, then start a runner that reads the tail.
    let head = store.head_position().unwrap();
    let cut = ((head as f64) * cut_ratio) as u64;
    let prefix = store.read_all(0, cut as usize + 1).await.unwrap();
    let mut partial = Checkpointed::<ReadModels>::default();
    for e in &prefix {
        partial.apply_recorded(e);
    }
    let snapshots = SnapshotStore::open(dir.path().join("cut")).unwrap();
    snapshots
        .save(&partial, prefix.last().unwrap().hash)
        .unwrap();
    drop(snapshots);
    let runner = opsledger_projections::ProjectionRunner::<ReadModels>::start(
        Arc::clone(&store),
        dir.path().join("cut"),
        Default::default(),
    )
    .await
    .unwrap();
    let resumed = runner.handle().read_checkpointed(clone_state);
    runner.shutdown().await.unwrap();

    let a = answers(incremental);
    assert_eq!(a, answers(rebuilt));
    assert_eq!(a, answers(resumed));
    assert_eq!(a.0.skipped_events, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn incremental_rebuild_and_snapshot_plus_tail_agree(
        seed in any::<u64>(),
        services in 2u64..7,
        events in 40u64..160,
        cut_ratio in 0.0f64..1.0,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(check(generate(seed, services, events), cut_ratio));
    }
}
