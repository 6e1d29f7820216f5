//! Benchmarks behind `opsledger bench ...` that need more than the storage crate.
//!
//! - [`api`]: `opsledger bench api`, end-to-end load and subscription fan-out on loopback.
//! - [`peers`]: `opsledger bench peers`, opsledger against PostgreSQL and the raw disk limits.
//! - [`postgres`]: a throwaway local PostgreSQL cluster and its append workload.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use opsledger_app as app;
use opsledger_server::{auth, server, SharedStore};

pub mod api;
pub mod peers;
pub mod postgres;
