//! The store's vocabulary: what an append asks for and what the log holds.

use ulid::Ulid;

/// What the caller believes about the stream before appending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must have no events yet.
    NoStream,
    /// The stream's last event has this version (0-based).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `actual` (None = empty) satisfies this expectation.
    pub fn accepts(self, actual: Option<u64>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::Exact(v) => actual == Some(v),
        }
    }
}

/// One event to append: its identity, type and encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique id of the event.
    pub event_id: Ulid,
    /// Stable type name, e.g. `IncidentDeclared`.
    pub type_name: String,
    /// Schema version of the payload's encoding.
    pub schema_version: u16,
    /// The encoded domain event (see [`crate::codec::encode_payload`]).
    pub payload: Vec<u8>,
}

/// An append of one or more events to one stream, on behalf of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// The stream appended to (must be non-empty and contain no NUL byte).
    pub stream_id: String,
    /// The optimistic concurrency check.
    pub expected: ExpectedVersion,
    /// The idempotency key: a command id seen before returns the first result (it may
    /// carry a request tag after `#`, see [`crate::command_id`]).
    pub command_id: String,
    /// Who did it.
    pub actor: String,
    /// Groups everything caused by one user request.
    pub correlation_id: Ulid,
    /// The event or command that caused this one, if any.
    pub causation_id: Option<Ulid>,
    /// When it was recorded (UTC, milliseconds since the Unix epoch).
    pub recorded_at_ms: i64,
    /// The events, in order (at least one).
    pub events: Vec<NewEvent>,
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Global position of the append's first event.
    pub first_position: u64,
    /// Global position of the append's last event.
    pub last_position: u64,
    /// Stream version of the append's last event.
    pub stream_version: u64,
}

/// An event as stored in the log, with its envelope and chain hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global position (0-based, gap-free).
    pub position: u64,
    /// The stream it belongs to.
    pub stream_id: String,
    /// Version within the stream (0-based, gap-free).
    pub stream_version: u64,
    /// Unique id of the event.
    pub event_id: Ulid,
    /// Stable type name.
    pub type_name: String,
    /// Schema version of the payload's encoding.
    pub schema_version: u16,
    /// When it was recorded (UTC, ms).
    pub recorded_at_ms: i64,
    /// Who did it.
    pub actor: String,
    /// The command that produced it.
    pub command_id: String,
    /// Correlation id of the originating request.
    pub correlation_id: Ulid,
    /// Causation id, if any.
    pub causation_id: Option<Ulid>,
    /// The encoded domain event.
    pub payload: Vec<u8>,
    /// Hash of the previous record (all zeros for position 0).
    pub prev_hash: [u8; 32],
    /// BLAKE3 over `prev_hash` and this record's bytes.
    pub hash: [u8; 32],
}

/// Reading order of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending versions, starting at `from_version`.
    Forward,
    /// Descending versions, starting at `from_version` (use `u64::MAX` for the end).
    Backward,
}

/// The result of walking the hash chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many records verified before the first bad one (or all of them).
    pub events_verified: u64,
    /// Position of the first bad record, if any.
    pub first_bad_position: Option<u64>,
    /// What is wrong with it, if anything.
    pub reason: Option<String>,
}
