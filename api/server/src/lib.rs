//! # opsledger-server
//!
//! The server and transport layer of opsledger: GraphQL over HTTP and
//! WebSocket (axum + async-graphql), bearer-token auth, protective limits, the
//! one error-to-wire table, metrics and health. It drives the application core
//! ([`opsledger_app`]) and is composed and started by the CLI (`opsledger-api`).
//!
//! ## Layout
//! - [`error`]: [`ApiError`] and its stable `extensions.code`s (the one
//!   `AppError` → wire table).
//! - [`auth`]: tokens, [`auth::authorize`] (through the app's one guard, `opsledger_app::guard`).
//! - [`limits`]: every protective limit and the page-size clamp.
//! - [`graphql`]: the schema, one module per noun.
//! - [`server`]: the router, layers, health/readiness/metrics, the webhook, the
//!   online backup route, graceful shutdown; [`server::ws`]: graphql-transport-ws
//!   and legacy graphql-ws.
//! - [`metrics`]: Prometheus metrics; [`process_metrics`]: the process's own.
//! - [`payload_json`]: event payloads as JSON (GraphQL `events` and `export`).
//!
//! ## Invariants
//! - Every error a client sees carries `extensions.code`; internal causes are
//!   logged, never sent; a panic becomes a coded 500, never a stack trace.
//! - Production by default: introspection, suggestions and GraphiQL only with `--dev`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The application core this server drives (re-exported: `crate::app::...`).
pub use opsledger_app as app;

pub mod auth;
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
