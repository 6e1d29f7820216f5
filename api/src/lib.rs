//! # opsledger-api
//!
//! The `opsledger` CLI and the composition root: [`node`] builds the store, the
//! projections, the workflow runner, the application service and the server (and
//! takes them down); [`cli`] runs every subcommand; [`cli_tools`]: demo, rebuild, export/import,
//! backup/restore.
//!
//! The layers it composes are crates of their own (see the README's
//! Architecture section), re-exported here under their old paths:
//! - [`app`] ([`opsledger_app`]): the application core, with no transport
//!   crate: commands, facts, workflow policies, principal and roles, `AppError`.
//! - [`opsledger_server`]: HTTP, GraphQL, WebSocket, auth, limits, metrics.
//! - [`bench`] ([`opsledger_bench`]): `opsledger bench ...`; its dependencies
//!   (tokio-postgres, reqwest, tungstenite) are linked by this binary only,
//!   never by the server library.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use opsledger_app as app;
pub use opsledger_app::data_dir;
pub use opsledger_bench as bench;
pub use opsledger_server::{
    auth, error, graphql, limits, metrics, payload_json, process_metrics, server, ApiError,
    ErrorCode, SharedStore,
};

pub mod cli;
pub mod cli_tools;
pub mod node;
