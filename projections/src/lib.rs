//! # opsledger-projections
//!
//! The read side of opsledger: deterministic folds of the event log into
//! read models (services, incidents, changes, reviews, status page, KPIs,
//! audit indexes), the runner that feeds them from the store, their
//! snapshots and checkpoints, rebuild, and time travel.
//!
//! ## Invariants
//! - A projection is a pure fold: the same events in the same order give
//!   the same read models, whether applied live, rebuilt from zero, or
//!   resumed from a snapshot.
//! - Events at or below a projection's checkpoint are skipped (idempotent).
//! - Handlers return `Result` and never panic; a bad event is logged and
//!   skipped, a bad snapshot is discarded and the models rebuilt.
//!
//! ## Layout
//! - the machinery: [`projection`] (the contract and checkpoints),
//!   [`snapshot`], [`runner`] (live feed, read-your-writes, rebuild),
//!   [`time_travel`], [`error`].
//! - the read side: [`models`] (one [`ReadModels`] projection: services,
//!   incidents, changes, reviews, KPI facts, audit), [`status`] (status
//!   page), [`kpi`] (SPEC 2.6 figures).
//! - The synthetic event generator for tests and benchmarks is the crate
//!   `opsledger-synthetic` (`projections/synthetic`), the benchmark is in
//!   `opsledger-bench`: neither is linked by the server.
//! - generic helpers: [`pagination`], [`interval`], [`stats`], [`bucket`], [`graph`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bucket;
pub mod error;
pub mod graph;
pub mod interval;
pub mod kpi;
pub mod models;
pub mod pagination;
pub mod projection;
pub mod runner;
pub mod snapshot;
pub mod stats;
pub mod status;
pub mod time_travel;

pub use error::{ApplyError, ProjectionError};
pub use kpi::{kpi_report, KpiQuery, KpiReport, KpiScope};
pub use models::ReadModels;
pub use projection::{Applied, Checkpointed, EventMeta, Projection};
pub use runner::{rebuild, ProjectionHandle, ProjectionRunner, RebuildReport, RunnerConfig};
pub use snapshot::SnapshotStore;
pub use status::{status_page, ServiceHealth, StatusPage};
pub use time_travel::{advance_models, aggregate_as_of, read_models_as_of, AsOf, HistoricState};
