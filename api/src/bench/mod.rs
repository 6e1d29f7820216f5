//! Benchmarks behind `opsledger bench ...` that need more than the storage crate.
//!
//! - [`peers`]: `opsledger bench peers`, opsledger against PostgreSQL and the raw disk limits.
//! - [`postgres`]: a throwaway local PostgreSQL cluster and its append workload.

pub mod peers;
pub mod postgres;
