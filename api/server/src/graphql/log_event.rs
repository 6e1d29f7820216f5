//! One event of the log as the API renders it (the `events` query and
//! subscription, the audit filters): its envelope and its payload.

use crate::graphql::scalars::DateTime;
use async_graphql::SimpleObject;
use opsledger_domain::Timestamp;
use opsledger_storage::RecordedEvent;

/// One event of the log, by its envelope.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "LogEvent")]
pub struct LogEventObject {
    /// Global position (0-based, gap-free).
    pub position: u64,
    /// The stream it belongs to (`incident-<ulid>`, ...).
    pub stream_id: String,
    /// Version within the stream (0-based, gap-free).
    pub stream_version: u64,
    /// Unique id (ULID).
    pub event_id: String,
    /// Stable type name, e.g. `IncidentDeclared`.
    #[graphql(name = "type")]
    pub type_name: String,
    /// Schema version of the payload's encoding.
    pub schema_version: u16,
    /// When it was recorded.
    pub recorded_at: DateTime,
    /// Who did it.
    pub actor: String,
    /// The command that produced it.
    pub command_id: String,
    /// Correlation id (ULID) of the originating request.
    pub correlation_id: String,
    /// Causation id (ULID), if any.
    pub causation_id: Option<String>,
    /// Hash of the previous record, hex.
    pub prev_hash: String,
    /// BLAKE3 hash chaining this record to the previous one, hex.
    pub hash: String,
    /// The decoded domain event as JSON, ids as the same ULID text the API shows
    /// (e.g. `Incident.id`), timestamps as UTC milliseconds; null if it does not decode.
    pub payload: Option<serde_json::Value>,
}

impl From<&RecordedEvent> for LogEventObject {
    fn from(e: &RecordedEvent) -> Self {
        LogEventObject {
            position: e.position,
            stream_id: e.stream_id.clone(),
            stream_version: e.stream_version,
            event_id: e.event_id.to_string(),
            type_name: e.type_name.clone(),
            schema_version: e.schema_version,
            recorded_at: DateTime(Timestamp(e.recorded_at_ms)),
            actor: e.actor.clone(),
            command_id: e.command_id.clone(),
            correlation_id: e.correlation_id.to_string(),
            causation_id: e.causation_id.map(|id| id.to_string()),
            prev_hash: hex(&e.prev_hash),
            hash: hex(&e.hash),
            payload: crate::payload_json::payload_value(e),
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
