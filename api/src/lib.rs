//! # opsledger-api
//!
//! The server and transport layer of opsledger, and the `opsledger` CLI:
//! GraphQL over HTTP and WebSocket (axum + async-graphql), bearer-token auth,
//! protective limits, the one error-to-wire table, metrics and health.
//!
//! ## Layout
//! - [`app`]: the application core, with no transport crate (no axum, no
//!   async-graphql): the service (load, facts from the read models, decide,
//!   append, read-your-writes), [`app::Principal`], [`app::AppError`], the
//!   workflow policies and the escalation engine. Driven in process by the CLI,
//!   tests and the server alike.
//! - [`error`]: [`ApiError`] and its stable `extensions.code`s (the one
//!   `AppError` → wire table).
//! - [`auth`]: tokens, [`auth::require_role`].
//! - [`limits`]: every protective limit and the page-size clamp.
//! - [`graphql`]: the schema (merged roots; extension points for the domain).
//! - [`server`]: the router, layers, health/readiness/metrics, the webhook, the
//!   online backup route, graceful shutdown; [`server::ws`]: graphql-transport-ws
//!   and legacy graphql-ws.
//! - [`data_dir`]: the data directory's layout.
//! - [`metrics`]: Prometheus metrics.
//! - [`cli`]: the `opsledger` subcommands; [`cli_tools`]: demo, rebuild, export/import, backup/restore.
//! - [`bench`]: `opsledger bench peers` (opsledger against PostgreSQL and raw disk limits).
//!
//! ## Invariants
//! - Every error a client sees carries `extensions.code`; internal causes are
//!   logged, never sent; a panic becomes a coded 500, never a stack trace.
//! - Production by default: introspection, suggestions and GraphiQL only with `--dev`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod cli_tools;
pub mod data_dir;
pub mod error;
pub mod graphql;
pub mod limits;
pub mod metrics;
pub mod payload_json;
pub mod process_metrics;
pub mod server;

pub use error::{ApiError, ErrorCode};

/// The event store as shared by the server and the schema.
pub use app::SharedStore;
