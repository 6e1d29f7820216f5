//! The application service: checks the principal's role ([`guard`]), loads an
//! aggregate from its stream, gathers the cross-aggregate facts from the read
//! models, decides with the injected clock and the authenticated actor, appends with optimistic concurrency and the
//! idempotency key, and waits until the read models reach the append
//! (read-your-writes). Callable in-process without HTTP (fixtures, tests).
//!
//! Aggregates are loaded through a bounded LRU of recently used states
//! ([`cache`]): a command folds only the events after the state it remembers.
//!
//! This crate imports no transport crate (no axum, no async-graphql): the CLI,
//! the tests and the server all drive it in process.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod clock;
pub mod command;
pub mod crash_point;
pub mod data_dir;
mod decide;
pub mod error;
pub mod escalation;
mod execute;
mod facts;
pub mod guard;
pub mod loaded;
pub mod principal;
pub mod request;
pub mod stream;
pub mod workflow;

pub use cache::{AggregateCache, CacheBounds, CacheStats};
pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{AppCommand, CommandMeta};
pub use error::AppError;
pub use guard::{authorize, required_role, Operation};
pub use request::RequestFingerprint;

use opsledger_domain::{Aggregate, IncidentId};
use opsledger_projections::{ProjectionHandle, ReadModels};
use opsledger_storage::{AppendOutcome, Ulid};
pub use principal::Principal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The event store the application appends to and reads from.
pub type SharedStore = std::sync::Arc<dyn opsledger_storage::EventStore>;

/// How many times a command is re-decided after losing a race on its stream.
pub const MAX_ATTEMPTS: u32 = 64;

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The stream of the entity the command is about.
    pub stream_id: String,
    /// Log position of the last event written (the log head if nothing was written).
    pub position: u64,
    /// Version (0-based) of the stream's last event after the command.
    pub stream_version: Option<u64>,
    /// Number of events written to `stream_id` by this call (0 when replayed or a no-op).
    pub events_written: usize,
    /// Whether the idempotency key had been used: the original outcome is returned.
    pub replayed: bool,
    /// For alert ingestion: the incident the alert opened or attached to.
    pub incident: Option<IncidentId>,
}

/// Where the application reports how long its appends take (the server's
/// metrics implement it; the core names no metrics library).
pub trait AppendObserver: Send + Sync {
    /// One append took `latency`.
    fn observe_append(&self, latency: Duration);
}

/// The application service (cheap to share behind an `Arc`).
pub struct AppService {
    store: SharedStore,
    projections: ProjectionHandle<ReadModels>,
    clock: Arc<dyn Clock>,
    metrics: OnceLock<Arc<dyn AppendObserver>>,
    wait_timeout: Duration,
    workflows: workflow::WorkflowProgress,
    aggregate_cache: AggregateCache,
}

/// One decided-and-appended command on one stream.
struct Decided<A: Aggregate> {
    /// The events written (empty for a no-op).
    events: Vec<A::Event>,
    /// The append, `None` for a no-op.
    outcome: Option<AppendOutcome>,
    /// Version of the stream's last event after the command.
    stream_version: Option<u64>,
}

impl AppService {
    /// A service on `store` whose facts come from `projections`, deciding at `clock`'s
    /// time, with the default aggregate cache ([`CacheBounds::default`]: 10,000 streams).
    pub fn new(
        store: SharedStore,
        projections: ProjectionHandle<ReadModels>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        AppService {
            store,
            projections,
            clock,
            metrics: OnceLock::new(),
            wait_timeout: Duration::from_secs(10),
            workflows: workflow::WorkflowProgress::default(),
            aggregate_cache: AggregateCache::new(CacheBounds::default()),
        }
    }

    /// How far this process's workflow policies got.
    pub fn workflow_progress(&self) -> &workflow::WorkflowProgress {
        &self.workflows
    }

    pub(crate) fn workflows_start_at(&self, next: u64) {
        self.workflows.start_at(next);
    }

    pub(crate) fn workflows_passed(&self, next: u64) {
        self.workflows.passed(next);
    }

    pub(crate) fn workflow_failed(&self, for_good: bool) {
        self.workflows.failed(for_good);
    }

    /// Waits (bounded) until the workflow policies reacted to `position`.
    pub async fn wait_workflows(&self, position: u64) -> Result<(), AppError> {
        if !self.workflows.running() {
            tracing::error!("a command waits for the workflow policies, but none run in this process (start a WorkflowRunner)");
            return Err(AppError::WorkflowLag { position });
        }
        let mut next = self.workflows.subscribe();
        let reached =
            tokio::time::timeout(self.wait_timeout, next.wait_for(|n| *n > position)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(AppError::WorkflowLag { position }),
        }
    }

    /// The service with an empty aggregate cache within `bounds`
    /// ([`CacheBounds::disabled`]: every command folds its whole stream).
    pub fn with_aggregate_cache(mut self, bounds: CacheBounds) -> Self {
        self.aggregate_cache = AggregateCache::new(bounds);
        self
    }

    /// The aggregate cache.
    pub fn aggregate_cache(&self) -> &AggregateCache {
        &self.aggregate_cache
    }

    /// Loads the aggregate of `stream_id` through the aggregate cache: the remembered
    /// state plus the stream's events after it (see [`stream::load_cached`]).
    pub async fn load<A: Aggregate>(&self, stream_id: &str) -> Result<stream::Loaded<A>, AppError> {
        stream::load_cached(self.store.as_ref(), &self.aggregate_cache, stream_id).await
    }

    /// Records append latencies into `metrics` (first call wins).
    pub fn attach_metrics(&self, metrics: Arc<dyn AppendObserver>) {
        let _ = self.metrics.set(metrics);
    }

    /// The event store.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// The read models.
    pub fn projections(&self) -> &ProjectionHandle<ReadModels> {
        &self.projections
    }

    /// The clock decisions are made with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Executes `command` on behalf of `who` (refused first unless `who` holds the role
    /// it needs: [`guard::required_role`]); returns once the read models include it.
    pub async fn execute(
        &self,
        who: &Principal,
        meta: CommandMeta,
        command: AppCommand,
    ) -> Result<CommandOutcome, AppError> {
        authorize(who, Operation::Command(&command))?;
        let key = meta
            .idempotency_key
            .clone()
            .unwrap_or_else(|| Ulid::new().to_string());
        if key.trim().is_empty() || key.len() > 200 {
            return Err(AppError::invalid(
                "idempotencyKey",
                "must be 1 to 200 characters",
            ));
        }
        let request = meta
            .request
            .clone()
            .unwrap_or_else(|| RequestFingerprint::operation_only(command.operation()));
        let command_id = request::command_id_for(who.actor.as_str(), &key, &request);
        if let Some(previous) = self.store.command_outcome(&command_id).await? {
            return self.replayed(&key, &command_id, previous).await;
        }
        let outcome = match execute::run(self, who, &meta, &command_id, command).await {
            Ok(outcome) => outcome,
            // A concurrent call with the same key won: answer with its outcome (or, if it
            // was another request, the reused key).
            Err(AppError::IdempotencyConflict { key: used }) if used == command_id => {
                match self.store.command_outcome(&command_id).await? {
                    Some(previous) => return self.replayed(&key, &command_id, previous).await,
                    None => return Err(AppError::IdempotencyConflict { key }),
                }
            }
            Err(other) => return Err(other),
        };
        self.wait_for(outcome.position).await?;
        Ok(outcome)
    }

    /// Waits until the read models include `position`.
    pub async fn wait_for(&self, position: u64) -> Result<(), AppError> {
        match self.projections.wait_for(position, self.wait_timeout).await {
            Ok(()) => Ok(()),
            Err(opsledger_projections::ProjectionError::Timeout { .. }) => {
                Err(AppError::ProjectionLag { position })
            }
            Err(other) => Err(AppError::Projection(other)),
        }
    }

    /// The outcome of a command whose key was used before: the first outcome if it was
    /// the same request (`command_id`'s request tag), else the key was reused.
    async fn replayed(
        &self,
        key: &str,
        command_id: &str,
        previous: AppendOutcome,
    ) -> Result<CommandOutcome, AppError> {
        let count = previous
            .last_position
            .saturating_sub(previous.first_position)
            .saturating_add(1);
        let appended = self
            .store
            .read_all(
                previous.first_position,
                usize::try_from(count).unwrap_or(usize::MAX),
            )
            .await?;
        if let Some(first) = appended.first() {
            let stored = opsledger_storage::command_id::request_tag(&first.command_id);
            if stored != opsledger_storage::command_id::request_tag(command_id) {
                return Err(AppError::IdempotencyKeyReused {
                    key: key.to_owned(),
                    first_operation: request::operation_of(&first.command_id)
                        .unwrap_or("an earlier request")
                        .to_owned(),
                });
            }
        }
        let stream_id = appended
            .first()
            .map(|e| e.stream_id.clone())
            .unwrap_or_default();
        let mut outcome = CommandOutcome {
            stream_id,
            position: previous.last_position,
            stream_version: Some(previous.stream_version),
            events_written: 0,
            replayed: true,
            incident: None,
        };
        execute::complete_replay(self, &appended, &mut outcome).await?;
        self.wait_for(outcome.position).await?;
        Ok(outcome)
    }
}
