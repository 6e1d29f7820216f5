//! The [`Projection`] contract and the checkpointed wrapper that makes
//! every projection idempotent.

use opsledger_domain::{DomainEvent, Timestamp};
use opsledger_storage::codec::{decode_payload, encode_payload};
use opsledger_storage::{CodecError, RecordedEvent};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::ApplyError;

/// Envelope metadata of one event, as a projection sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventMeta<'a> {
    /// Global log position.
    pub position: u64,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Who did it.
    pub actor: &'a str,
    /// Its stream.
    pub stream_id: &'a str,
    /// Its version within the stream.
    pub stream_version: u64,
    /// Its stable type name.
    pub type_name: &'a str,
}

impl<'a> EventMeta<'a> {
    /// The metadata of a recorded event.
    pub fn of(event: &'a RecordedEvent) -> Self {
        EventMeta {
            position: event.position,
            recorded_at: Timestamp(event.recorded_at_ms),
            actor: &event.actor,
            stream_id: &event.stream_id,
            stream_version: event.stream_version,
            type_name: &event.type_name,
        }
    }
}

/// A deterministic fold of domain events into read models.
///
/// `apply` must depend only on its arguments and the current state, never
/// panic, and return an error for an event it cannot use (it is skipped).
pub trait Projection: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name, the key of its snapshot.
    const NAME: &'static str;
    /// Version of the snapshot encoding: bump it when the state's shape changes
    /// (an older snapshot is then discarded and the projection rebuilt).
    const SNAPSHOT_VERSION: u8;

    /// Folds one event into the state.
    fn apply(&mut self, meta: &EventMeta<'_>, event: &DomainEvent) -> Result<(), ApplyError>;

    /// Encodes the state for a snapshot as a sequence of parts handed to
    /// `sink` one at a time (several small parts keep snapshotting's memory
    /// low); the default is the whole state as one part.
    fn encode_parts(
        &self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), crate::ProjectionError>,
    ) -> Result<(), crate::ProjectionError> {
        sink(&encode_payload(self)?)
    }

    /// Rebuilds the state from the parts written by [`Projection::encode_parts`].
    fn decode_parts(parts: &[&[u8]]) -> Result<Self, CodecError> {
        match parts {
            [whole] => decode_payload(whole),
            _ => Err(CodecError::Decode(format!(
                "expected 1 snapshot part, found {}",
                parts.len()
            ))),
        }
    }
}

/// What happened to one recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Folded into the state.
    Applied,
    /// At or below the checkpoint: already folded.
    Skipped,
    /// The payload did not decode; the checkpoint moved past it.
    Undecodable,
    /// The handler refused it; the checkpoint moved past it.
    Rejected(ApplyError),
}

/// A projection with its checkpoint: the position of the last event folded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpointed<P> {
    /// Position of the last event folded (`None` before the first).
    pub checkpoint: Option<u64>,
    /// Events that were skipped because they did not decode or apply.
    pub skipped_events: u64,
    /// The projection's state.
    pub model: P,
}

impl<P: Projection> Checkpointed<P> {
    /// The position of the next event to fold.
    pub fn next_position(&self) -> u64 {
        self.checkpoint.map_or(0, |c| c + 1)
    }

    /// Decodes and folds one recorded event, skipping it if already folded.
    pub fn apply_recorded(&mut self, event: &RecordedEvent) -> Applied {
        if self.checkpoint.is_some_and(|c| event.position <= c) {
            return Applied::Skipped;
        }
        self.apply_decode_result(event, &decode_payload::<DomainEvent>(&event.payload))
    }

    /// Folds one event whose payload was decoded elsewhere (e.g. on another
    /// thread), skipping it if already folded; a decode failure is logged
    /// and skipped.
    pub fn apply_decode_result(
        &mut self,
        event: &RecordedEvent,
        decoded: &Result<DomainEvent, CodecError>,
    ) -> Applied {
        match decoded {
            Ok(decoded) => self.apply_decoded(event, decoded),
            Err(_) if self.checkpoint.is_some_and(|c| event.position <= c) => Applied::Skipped,
            Err(e) => {
                tracing::warn!(position = event.position, type_name = %event.type_name,
                    error = %e, projection = P::NAME, "skipping an undecodable event");
                self.checkpoint = Some(event.position);
                self.skipped_events += 1;
                Applied::Undecodable
            }
        }
    }

    /// Folds one already decoded event, skipping it if already folded.
    pub fn apply_decoded(&mut self, event: &RecordedEvent, decoded: &DomainEvent) -> Applied {
        if self.checkpoint.is_some_and(|c| event.position <= c) {
            return Applied::Skipped;
        }
        self.checkpoint = Some(event.position);
        match self.model.apply(&EventMeta::of(event), decoded) {
            Ok(()) => Applied::Applied,
            Err(e) => {
                tracing::warn!(position = event.position, type_name = %event.type_name,
                    error = %e, projection = P::NAME, "skipping an event the projection refused");
                self.skipped_events += 1;
                Applied::Rejected(e)
            }
        }
    }
}
