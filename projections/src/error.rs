//! The crate's error types: how a caller reacts is in each variant's doc.

use std::sync::Arc;

use opsledger_storage::{CodecError, StoreError};

use crate::pagination::InvalidCursor;

/// Everything the runner, snapshots, time travel and queries can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProjectionError {
    /// Infrastructure: the event store failed.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// Infrastructure: the snapshot database failed.
    #[error("snapshot database: {0}")]
    Snapshot(#[source] Arc<sled::Error>),
    /// Infrastructure: a file system call failed.
    #[error("i/o error: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// Infrastructure: a snapshot could not be encoded.
    #[error("snapshot encoding: {0}")]
    Codec(#[from] CodecError),
    /// Client error: a pagination cursor this list did not produce.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Retryable: the read models did not reach the position in time.
    #[error("read models did not reach position {wanted} in time (at {reached:?})")]
    Timeout {
        /// The position waited for.
        wanted: u64,
        /// Where the read models were when the wait gave up.
        reached: Option<u64>,
    },
    /// Infrastructure: the runner stopped (store stopped or shut down).
    #[error("the projection runner stopped")]
    Stopped,
    /// Client error: a query argument is out of range (e.g. `to <= from`).
    #[error("invalid query: {0}")]
    InvalidQuery(&'static str),
}

impl From<sled::Error> for ProjectionError {
    fn from(e: sled::Error) -> Self {
        ProjectionError::Snapshot(Arc::new(e))
    }
}

impl From<std::io::Error> for ProjectionError {
    fn from(e: std::io::Error) -> Self {
        ProjectionError::Io(Arc::new(e))
    }
}

impl From<InvalidCursor> for ProjectionError {
    fn from(_: InvalidCursor) -> Self {
        ProjectionError::InvalidCursor
    }
}

/// Why one event could not be applied (the runner logs it and moves on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The event refers to an entity the read models do not know.
    #[error("{kind} of stream {stream_id} is unknown")]
    UnknownEntity {
        /// What kind of entity (incident, change, ...).
        kind: &'static str,
        /// The event's stream.
        stream_id: String,
    },
    /// The stream id does not name the aggregate the event belongs to.
    #[error("stream id {0} does not match its event")]
    BadStreamId(String),
}
