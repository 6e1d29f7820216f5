//! What the transparency log and its verification can refuse.

use thiserror::Error;

/// An error of the transparency log or of verifying what it hands out.
#[derive(Debug, Error)]
pub enum TransparencyError {
    /// A size, position or range outside the tree.
    #[error("{0}")]
    OutOfRange(String),
    /// The tree has not reached this size yet (it is built asynchronously).
    #[error("the Merkle tree has {have} leaves, not yet {want}; retry shortly")]
    NotReady {
        /// Leaves the tree has.
        have: u64,
        /// Leaves asked for.
        want: u64,
    },
    /// No checkpoint was signed at that tree size.
    #[error("no checkpoint was signed at tree size {0}")]
    NoCheckpoint(u64),
    /// A proof, root, signature or note that does not verify.
    #[error("verification failed: {0}")]
    Verification(String),
    /// A malformed key, note, checkpoint or proof.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was malformed.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// A file of the transparency log could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The event log could not be read.
    #[error("event log: {0}")]
    Store(#[from] opsledger_storage::StoreError),
    /// The tree math failed (a proof that does not check, or a missing hash).
    #[error("Merkle tree: {0}")]
    Tlog(#[from] tlog_tiles::Error),
}

impl TransparencyError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TransparencyError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A verification failure.
    pub fn verification(why: impl Into<String>) -> Self {
        TransparencyError::Verification(why.into())
    }

    /// A malformed input.
    pub fn malformed(what: &'static str, why: impl Into<String>) -> Self {
        TransparencyError::Malformed {
            what,
            why: why.into(),
        }
    }
}
