//! The store's error type: how a caller reacts is in each variant's doc.

use std::path::PathBuf;
use std::sync::Arc;

use crate::event::ExpectedVersion;

/// A failure of the codec: bytes that cannot be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A value could not be encoded.
    #[error("encode failed: {0}")]
    Encode(String),
    /// Bytes could not be decoded into the expected shape.
    #[error("decode failed: {0}")]
    Decode(String),
    /// The leading format-version byte is not one this build can read.
    #[error("unknown format version {0}")]
    UnknownFormatVersion(u8),
    /// The bytes end before the value does (or are empty).
    #[error("truncated input: {0}")]
    Truncated(String),
    /// Bytes remain after the value was decoded.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
}

/// Everything an [`crate::EventStore`] can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Conflict (retryable after reloading): the stream is not at the expected version.
    /// `actual` is the version of the stream's last event, `None` if the stream has no events.
    #[error(
        "wrong expected version on stream {stream_id}: expected {expected:?}, actual {actual:?}"
    )]
    WrongExpectedVersion {
        /// The stream appended to.
        stream_id: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// What the stream really is at.
        actual: Option<u64>,
    },
    /// Client error: this command id was already used for a different append.
    #[error("command id {command_id} was already used for different events")]
    IdempotencyConflict {
        /// The reused command id.
        command_id: String,
    },
    /// Client error: the request itself is malformed (empty, bad stream id, ...).
    #[error("invalid append: {reason}")]
    InvalidAppend {
        /// What is wrong with it.
        reason: String,
    },
    /// Client error: one event's stored record would pass [`crate::limits::MAX_RECORD_BYTES`];
    /// nothing of the append was written.
    #[error("an event's record would take {size} bytes, more than the {limit} bytes one record may take")]
    RecordTooLarge {
        /// Bytes the record would take.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Client error: an append's records together would pass
    /// [`crate::limits::MAX_APPEND_BYTES`]; nothing of it was written.
    #[error("an append's records would take {size} bytes, more than the {limit} bytes one append may take")]
    AppendTooLarge {
        /// Bytes its records would take.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Infrastructure: the store no longer accepts writes (a flush failed, or it was stopped).
    #[error("the store stopped taking writes: {reason}")]
    WritesStopped {
        /// Why it stopped.
        reason: String,
    },
    /// Infrastructure: another process (or handle) holds the store's directory.
    #[error("the store at {path} is locked by another process")]
    Locked {
        /// The lock file that could not be taken.
        path: PathBuf,
    },
    /// Infrastructure: the directory holds a store in a key layout this build does not read.
    #[error("the store at {path} uses storage layout {found}; this build reads layout {expected}: export it with the build that wrote it and import the export")]
    IncompatibleLayout {
        /// The store's sled directory.
        path: PathBuf,
        /// The layout found on disk.
        found: u8,
        /// The layout this build reads.
        expected: u8,
    },
    /// Infrastructure: a stored record is damaged or does not chain.
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt {
        /// Position of the first bad record.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Infrastructure: a file system call failed.
    #[error("i/o error: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// Infrastructure: the embedded database failed.
    #[error("database error: {0}")]
    Backend(#[source] Arc<sled::Error>),
    /// Infrastructure: bytes could not be encoded or decoded.
    #[error("codec error: {0}")]
    Codec(#[from] CodecError),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(Arc::new(e))
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(Arc::new(e))
    }
}
