//! The opsledger event store: one job, keeping the append-only, hash-chained event log.
//!
//! # Layout
//! - [`event`]: what an append asks for and what the log holds.
//! - [`store`]: the [`EventStore`] trait (the seam) and [`EventSubscription`].
//! - [`sled_store`]: the embedded default backend, [`SledEventStore`] (one writer
//!   thread, group commit, flush + fdatasync per group; stream and command indexes in
//!   memory, built from the index chunks each group writes).
//! - [`codec`]: all bincode use, with a leading format-version byte (records are read
//!   back by a hand-written reader of the frozen envelope format, tested against bincode).
//! - [`chain`]: the BLAKE3 hash chain; [`layout`]: sled key layout; [`segment`]: the
//!   framing of a run of records stored as one sled value; [`limits`]: the size bounds
//!   that keep every sled value and leaf below sled's blob-file threshold.
//! - [`export`] / [`backup`]: JSON Lines export and verified import, backup and restore.
//!
//! # Invariants
//! Positions are global, 0-based and gap-free; stream versions are 0-based and
//! gap-free per stream; all events of one append land together or not at all; an
//! acknowledged append is durable; readers and subscribers see only durable events.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod backup;
pub mod chain;
pub mod codec;
pub mod command_id;
pub mod error;
pub mod event;
pub mod export;
pub mod hex;
pub mod layout;
pub mod limits;
pub mod segment;
pub mod sled_store;
pub mod store;

pub use codec::{decode_payload, encode_payload};
pub use error::{CodecError, StoreError};
pub use event::{
    AppendOutcome, AppendRequest, Direction, ExpectedVersion, NewEvent, RecordedEvent, VerifyReport,
};
pub use sled_store::{SledEventStore, StoreConfig, WriterStats};
pub use store::{EventStore, EventSubscription};
pub use ulid::Ulid;
