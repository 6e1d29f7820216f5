//! Why a command failed, before it is mapped to the wire (see `opsledger_server::error`).

use opsledger_domain::{DomainError, Role};
use opsledger_projections::ProjectionError;
use opsledger_storage::StoreError;

/// Every way the application service can refuse or fail a command.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The principal lacks the role the operation needs (see [`super::guard`]).
    #[error("actor `{actor}` lacks the role `{}`", role.as_str())]
    Forbidden {
        /// The actor who asked.
        actor: String,
        /// The role that was needed.
        role: Role,
    },
    /// The domain rejected the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// An entity named by the command does not exist.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// The kind of entity.
        what: &'static str,
        /// Its id or name.
        id: String,
    },
    /// An input is invalid before it reaches the domain.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The input field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The stream is not at the version the client expected (or writers kept racing).
    #[error("stream {stream_id} is at version {actual:?}, expected {expected:?}")]
    Conflict {
        /// The stream.
        stream_id: String,
        /// What the client expected.
        expected: Option<u64>,
        /// What the stream is at.
        actual: Option<u64>,
    },
    /// The idempotency key was used before for a different command.
    #[error("idempotency key `{key}` was already used for a different command")]
    IdempotencyConflict {
        /// The reused key.
        key: String,
    },
    /// The idempotency key was used before by this actor for another operation or other
    /// arguments (nothing was written).
    #[error("idempotency key `{key}` was already used for {first_operation} with other arguments; use a new key for a new request")]
    IdempotencyKeyReused {
        /// The reused key.
        key: String,
        /// The operation of the request the key was first used for.
        first_operation: String,
    },
    /// The command's events are larger than the store takes (nothing was written).
    #[error("{detail}")]
    TooLarge {
        /// Which bound, and by how much.
        detail: String,
    },
    /// The read models did not catch up in time (the write is durable).
    #[error("the read models did not reach position {position} in time")]
    ProjectionLag {
        /// The position written.
        position: u64,
    },
    /// The workflow policies did not complete the command's follow-ups in time
    /// (the command is durable; the policies complete it, also after a restart).
    #[error("the workflow policies did not pass position {position} in time")]
    WorkflowLag {
        /// The position the follow-ups wait on.
        position: u64,
    },
    /// The event store failed (infrastructure).
    #[error("event store: {0}")]
    Store(#[source] StoreError),
    /// The projections failed (infrastructure).
    #[error("projections: {0}")]
    Projection(#[source] ProjectionError),
    /// A stored event could not be decoded.
    #[error("undecodable event in stream {stream_id}: {reason}")]
    Decode {
        /// The stream.
        stream_id: String,
        /// The decoder's message.
        reason: String,
    },
}

impl AppError {
    /// A not-found error.
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        AppError::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// An invalid-input error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::WrongExpectedVersion {
                stream_id,
                expected,
                actual,
            } => AppError::Conflict {
                stream_id,
                expected: match expected {
                    opsledger_storage::ExpectedVersion::Exact(v) => Some(v),
                    _ => None,
                },
                actual,
            },
            StoreError::IdempotencyConflict { command_id } => {
                AppError::IdempotencyConflict { key: command_id }
            }
            StoreError::RecordTooLarge { size, limit } => AppError::TooLarge {
                detail: format!(
                    "one event of the command would take {size} bytes stored, at most {limit} are allowed: shorten its text"
                ),
            },
            StoreError::AppendTooLarge { size, limit } => AppError::TooLarge {
                detail: format!(
                    "the command's events would take {size} bytes stored, at most {limit} are allowed: shorten its text"
                ),
            },
            other => AppError::Store(other),
        }
    }
}
