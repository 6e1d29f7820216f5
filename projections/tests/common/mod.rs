//! Shared helpers of the projections integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opsledger_projections::{ProjectionHandle, ProjectionRunner, ReadModels, RunnerConfig};
use opsledger_storage::{EventStore, SledEventStore, StoreConfig};

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn open_store(dir: &Path) -> Arc<dyn EventStore> {
    let config = StoreConfig {
        fsync_data_file: false,
        ..StoreConfig::default()
    };
    Arc::new(SledEventStore::open(dir.join("log"), config).await.unwrap())
}

pub async fn start_runner(
    store: &Arc<dyn EventStore>,
    dir: &Path,
) -> (ProjectionRunner<ReadModels>, ProjectionHandle<ReadModels>) {
    let runner = ProjectionRunner::<ReadModels>::start(
        Arc::clone(store),
        dir.join("projections"),
        RunnerConfig::default(),
    )
    .await
    .unwrap();
    let handle = runner.handle();
    (runner, handle)
}

pub async fn caught_up(store: &Arc<dyn EventStore>, handle: &ProjectionHandle<ReadModels>) {
    if let Some(head) = store.head_position() {
        handle.wait_for(head, WAIT).await.unwrap();
    }
}
