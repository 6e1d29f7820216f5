//! Verifiable history (issue 17): a Merkle tree over the event log in RFC 9162 form,
//! signed checkpoints in the C2SP tlog-checkpoint format, inclusion and consistency
//! proofs, and witness cosignatures.
//!
//! # Layout
//! - [`tree`]: the tree's stored hashes and the proofs read from them (`tlog_tiles`).
//! - [`hash_file`], [`history`]: what is kept beside the log (derived tree hashes;
//!   every checkpoint ever signed).
//! - [`keys`], [`checkpoint`], [`cosign`]: keys, checkpoint notes, cosignatures.
//! - [`proof`]: what an auditor verifies offline.
//! - [`service`]: [`Transparency`], the running log of a node, built on any
//!   [`opsledger_storage::EventStore`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod cosign;
pub mod error;
pub mod hash_file;
pub mod history;
pub mod keys;
pub mod proof;
pub mod service;
pub mod tree;

pub use checkpoint::{verify_checkpoint, TreeHead, VerifiedCheckpoint};
pub use error::TransparencyError;
pub use proof::{verify_consistency, verify_inclusion, ConsistencyProof, InclusionProof};
pub use service::{Transparency, TransparencyConfig};
