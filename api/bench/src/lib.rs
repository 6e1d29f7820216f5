//! Every benchmark behind `opsledger bench ...`, apart from the libraries the server
//! links (moved here from the storage and projections crates and the old api library).
//!
//! - [`api`]: `opsledger bench api`, end-to-end load and subscription fan-out on loopback.
//! - [`peers`]: `opsledger bench peers`, opsledger against PostgreSQL and the raw disk limits.
//! - [`postgres`]: a throwaway local PostgreSQL cluster and its append workload.
//! - [`storage`]: `opsledger bench storage`; [`projections`]: `opsledger bench projections`.
//! - [`transparency`]: `opsledger bench transparency`, the Merkle tree's build, proofs,
//!   checkpoints and its cost to appends.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use opsledger_app as app;
use opsledger_server::{auth, server, SharedStore};

pub mod api;
pub mod peers;
pub mod postgres;
pub mod projections;
pub mod storage;
pub mod transparency;
