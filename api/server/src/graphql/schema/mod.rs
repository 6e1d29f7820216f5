//! The read and write schema (named for what it serves, not after the domain crate): object types built from the projections'
//! read models, the read queries and subscriptions, and the mutations.

pub mod audit;
pub mod bounded_input;
pub mod connection;
pub mod kpi;
pub mod mutations;
pub mod mutations_inputs;
pub mod queries;
pub mod status;
pub mod subscriptions;
pub mod transparency;
pub mod types;
pub mod types_enums;
