//! The composition root: the one place that builds a serving node from its parts,
//! in the order they depend on each other, and takes it down in reverse.
//!
//! Start: open the sled log (its index warmed in the background) → the Merkle log
//! following it → start the projections over it → load the demo if asked → the application service (with its
//! aggregate cache) → the workflow policies (before the server takes a request: a
//! command waits for its follow-ups) → the server → the escalation engine.
//! Stop: server (no new requests; in-flight ones finish) → escalation engine →
//! workflow policies (checkpoint) → Merkle log (last signed checkpoint) → projections (snapshot) → the log (flushed).
//!
//! `opsledger serve`, the end-to-end tests' `spawn_app` and the demo all start a node
//! here, so what the tests drive is what `serve` runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use opsledger_fixtures::FixtureConfig;
use opsledger_projections::{ProjectionRunner, ReadModels, RunnerConfig};
use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
use opsledger_transparency::service::transparency_dir;
use opsledger_transparency::{Transparency, TransparencyConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::escalation::spawn_escalation_engine;
use crate::app::workflow::WorkflowRunner;
use crate::app::{AppService, CacheBounds, SystemClock};
use crate::auth::TokenTable;
use crate::data_dir::{log_dir, projections_dir, workflows_dir};
use crate::metrics::StoreProbe;
use crate::server::{Readiness, RunningServer, ServerConfig};
use crate::SharedStore;

/// Everything a node is built from.
pub struct NodeConfig {
    /// The data directory (log, projection snapshots, workflow checkpoint).
    pub data: PathBuf,
    /// Where the server listens (port 0: any free one).
    pub listen: SocketAddr,
    /// The bearer tokens it answers (the demo adds its own).
    pub tokens: TokenTable,
    /// The server's options (its store probe is set here, from the log).
    pub server: ServerConfig,
    /// Load the demo organisation (if the log is empty) and its tokens.
    pub demo: Option<FixtureConfig>,
    /// The aggregate cache's bounds.
    pub aggregate_cache: CacheBounds,
    /// Run the escalation engine with this tick (`None`: not at all).
    pub escalation_tick: Option<Duration>,
    /// The Merkle log's key and checkpoint cadence.
    pub transparency: TransparencySettings,
}

/// How the node's Merkle log signs (README "Verifiable history").
#[derive(Clone, Debug)]
pub struct TransparencySettings {
    /// The signing key file (default `DATA/transparency/log.key`, generated 0600 on first start).
    pub key_path: Option<PathBuf>,
    /// The origin a newly generated key gets (default `opsledger.local/<random id>`).
    pub origin: Option<String>,
    /// Sign a checkpoint after this many new events…
    pub every_events: u64,
    /// …or after this long if the log grew (and always on shutdown).
    pub every: Duration,
}

impl Default for TransparencySettings {
    fn default() -> Self {
        TransparencySettings {
            key_path: None,
            origin: None,
            every_events: 1_000,
            every: Duration::from_secs(10),
        }
    }
}

impl TransparencySettings {
    fn config(&self, data: &std::path::Path) -> TransparencyConfig {
        let origin = self.origin.clone().unwrap_or_else(|| {
            format!(
                "opsledger.local/{}",
                opsledger_storage::Ulid::new().to_string().to_lowercase()
            )
        });
        let mut config = TransparencyConfig::new(transparency_dir(data), origin);
        config.key_path = self.key_path.clone();
        config.every_events = self.every_events;
        config.every = self.every;
        config
    }
}

/// A running node: its parts, for callers that drive them in process.
pub struct Node {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The event log.
    pub store: Arc<SledEventStore>,
    /// The application service.
    pub app: Arc<AppService>,
    /// The Merkle log over the event log.
    pub transparency: Transparency,
    runner: ProjectionRunner<ReadModels>,
    workflows: WorkflowRunner,
    server: RunningServer,
    escalation: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl Node {
    /// Builds and starts a node (see the module doc for the order).
    pub async fn start(config: NodeConfig) -> anyhow::Result<Node> {
        let NodeConfig {
            data,
            listen,
            mut tokens,
            mut server,
            demo,
            aggregate_cache,
            escalation_tick,
            transparency,
        } = config;
        let sled_store = Arc::new(open_log(&data).await?);
        warm_index_in_background(sled_store.clone());
        server.store_probe = StoreProbe::sled(sled_store.clone());
        let store: SharedStore = sled_store.clone();
        let transparency = Transparency::start(store.clone(), transparency.config(&data))
            .context("cannot start the Merkle log (its key or files under DATA/transparency)")?;
        server.transparency = Some(transparency.clone());
        let runner = ProjectionRunner::<ReadModels>::start(
            store.clone(),
            projections_dir(&data),
            RunnerConfig::default(),
        )
        .await
        .context("cannot start the projections (is another server using this data directory?)")?;
        let handle = runner.handle();
        if let Some(cfg) = demo {
            crate::cli_tools::demo::serve_demo_with(&store, &handle, &mut tokens, cfg).await?;
        }
        let app = Arc::new(
            AppService::new(store.clone(), handle.clone(), Arc::new(SystemClock))
                .with_aggregate_cache(aggregate_cache),
        );
        // The policies run before the server takes requests: a command waits for them.
        let workflows = WorkflowRunner::start(app.clone(), Some(workflows_dir(&data)));
        let running = RunningServer::start(
            listen,
            store,
            app.clone(),
            Arc::new(tokens),
            Readiness::with_projections(handle.position_receiver()),
            server,
        )
        .await?;
        let escalation = escalation_tick.map(|tick| {
            let (stop, stopped) = watch::channel(false);
            (stop, spawn_escalation_engine(app.clone(), tick, stopped))
        });
        Ok(Node {
            addr: running.addr,
            store: sled_store,
            app,
            transparency,
            runner,
            workflows,
            server: running,
            escalation,
        })
    }

    /// Stops the node in reverse order and flushes the log.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let Node {
            store,
            app,
            runner,
            workflows,
            server,
            escalation,
            transparency,
            ..
        } = self;
        server
            .shutdown()
            .await
            .context("the server failed while stopping")?;
        if let Some((stop, engine)) = escalation {
            stop.send_replace(true);
            if let Err(err) = engine.await {
                tracing::warn!(error = %err, "the escalation engine ended abnormally");
            }
        }
        workflows.shutdown().await;
        // After the last write, before the log stops: the last checkpoint covers everything.
        transparency.shutdown().await;
        runner
            .shutdown()
            .await
            .context("cannot snapshot the projections (they will be rebuilt from the log)")?;
        drop(app);
        store
            .flush_and_stop()
            .await
            .context("cannot flush the event log; run `opsledger verify` before the next start")?;
        Ok(())
    }
}

/// Opens the event log of the data directory `data`.
pub async fn open_log(data: &std::path::Path) -> anyhow::Result<SledEventStore> {
    let dir = log_dir(data);
    SledEventStore::open(&dir, StoreConfig::default())
        .await
        .with_context(|| format!("cannot open the event log at {}", dir.display()))
}

/// Build the store's stream and command index while the server starts (logged), so the
/// first mutation does not wait for it; a damaged index is logged here and reported to
/// each append and stream read as well.
fn warm_index_in_background(store: Arc<SledEventStore>) {
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match store.warm_index().await {
            Ok(()) => tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "event store index built"
            ),
            Err(e) => tracing::error!(error = %e, "event store index could not be built"),
        }
    });
}
