//! All bincode use lives here (bincode =2.0.1, serde API, standard config).
//!
//! Every stored value starts with a format-version byte so the encoding can be
//! changed (or bincode swapped out) without breaking stored data. A record is
//!
//! ```text
//! [ENVELOPE_FORMAT_V1] bincode(envelope body) prev_hash(32) hash(32)
//! ```
//!
//! where `hash = BLAKE3(prev_hash ‖ everything before prev_hash)`. ULIDs are
//! stored as 16 big-endian bytes, not as 26-char strings. The body layout of
//! format 1 is frozen: golden files under `fixtures/golden/envelopes` must
//! decode forever.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::error::CodecError;
use crate::event::{AppendOutcome, RecordedEvent};

mod envelope_reader;

/// Format byte of envelope records written by this build.
pub const ENVELOPE_FORMAT_V1: u8 = 1;
/// Format byte of stored command (idempotency) records.
pub const COMMAND_FORMAT_V1: u8 = 1;
/// Format byte of index chunks (see [`IndexEntry`]).
pub const INDEX_FORMAT_V1: u8 = 1;
/// Format byte of domain payloads encoded with [`encode_payload`].
pub const PAYLOAD_FORMAT_V1: u8 = 1;
/// Length of one chain hash.
pub const HASH_LEN: usize = 32;

/// Most bytes one decoded value may claim (strings, buffers, collections): a garbage
/// length prefix is a [`CodecError::Decode`] instead of a huge allocation that aborts.
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// [`config`] with the decode limit (same wire format: the limit only bounds claims).
fn decode_config() -> impl bincode::config::Config {
    config().with_limit::<MAX_DECODED_BYTES>()
}

/// Byte buffers as length + raw bytes (the same wire bytes as a `Vec<u8>`,
/// decoded in one copy instead of element by element).
mod raw_bytes {
    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a byte buffer")
        }
        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

/// Envelope body of format 1, borrowed for encoding. Field order is frozen.
#[derive(Serialize)]
struct EnvelopeV1Ref<'a> {
    position: u64,
    stream_id: &'a str,
    stream_version: u64,
    event_id: [u8; 16],
    type_name: &'a str,
    schema_version: u16,
    recorded_at_ms: i64,
    actor: &'a str,
    command_id: &'a str,
    correlation_id: [u8; 16],
    causation_id: Option<[u8; 16]>,
    #[serde(with = "raw_bytes")]
    payload: &'a [u8],
}

/// Envelope body of format 1, owned for decoding. Same field order as [`EnvelopeV1Ref`].
/// Read by [`envelope_reader`]; its serde derive is what that reader is tested against.
#[derive(Debug, PartialEq, Deserialize)]
struct EnvelopeV1 {
    position: u64,
    stream_id: String,
    stream_version: u64,
    event_id: [u8; 16],
    type_name: String,
    schema_version: u16,
    recorded_at_ms: i64,
    actor: String,
    command_id: String,
    correlation_id: [u8; 16],
    causation_id: Option<[u8; 16]>,
    #[serde(with = "raw_bytes")]
    payload: Vec<u8>,
}

/// A stored command id: what the append asked for (digest) and where it landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Digest of the request (see `sled_store::digest`).
    pub request_digest: [u8; 32],
    /// Global position of the first event.
    pub first_position: u64,
    /// Global position of the last event.
    pub last_position: u64,
    /// Stream version of the last event.
    pub stream_version: u64,
}

impl CommandRecord {
    /// The outcome the original append returned.
    pub fn outcome(&self) -> AppendOutcome {
        AppendOutcome {
            first_position: self.first_position,
            last_position: self.last_position,
            stream_version: self.stream_version,
        }
    }
}

/// The format byte followed by the value's bincode, encoded straight into one buffer (no
/// second copy: a projection snapshot part is tens of MB).
fn encode_versioned<T: Serialize>(version: u8, value: &T) -> Result<Vec<u8>, CodecError> {
    encode_versioned_into(Vec::new(), version, value)
}

/// [`encode_versioned`] into `out` (empty, perhaps with capacity reserved).
fn encode_versioned_into<T: Serialize>(
    mut out: Vec<u8>,
    version: u8,
    value: &T,
) -> Result<Vec<u8>, CodecError> {
    out.push(version);
    bincode::serde::encode_into_std_write(value, &mut out, config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(out)
}

fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, decode_config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - used));
    }
    Ok(value)
}

fn decode_versioned<T: DeserializeOwned>(expected: u8, bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Truncated("empty value".into())),
        Some((&v, body)) if v == expected => decode_exact(body),
        Some((&v, _)) => Err(CodecError::UnknownFormatVersion(v)),
    }
}

/// The hashed part of a record: format byte + bincode envelope body (hashes ignored).
pub fn encode_envelope_body(event: &RecordedEvent) -> Result<Vec<u8>, CodecError> {
    let body = EnvelopeV1Ref {
        position: event.position,
        stream_id: &event.stream_id,
        stream_version: event.stream_version,
        event_id: event.event_id.to_bytes(),
        type_name: &event.type_name,
        schema_version: event.schema_version,
        recorded_at_ms: event.recorded_at_ms,
        actor: &event.actor,
        command_id: &event.command_id,
        correlation_id: event.correlation_id.to_bytes(),
        causation_id: event.causation_id.map(|u| u.to_bytes()),
        payload: &event.payload,
    };
    // Room for the whole record (body, then the two hashes the writer appends), so
    // encoding it never reallocates: fixed fields take at most ~90 bytes in bincode.
    let strings =
        event.stream_id.len() + event.type_name.len() + event.actor.len() + event.command_id.len();
    let capacity = 128 + strings + event.payload.len() + 2 * HASH_LEN;
    encode_versioned_into(Vec::with_capacity(capacity), ENVELOPE_FORMAT_V1, &body)
}

/// A whole stored record: envelope body followed by `prev_hash` and `hash` as stored in `event`.
pub fn encode_record(event: &RecordedEvent) -> Result<Vec<u8>, CodecError> {
    let mut out = encode_envelope_body(event)?;
    out.extend_from_slice(&event.prev_hash);
    out.extend_from_slice(&event.hash);
    Ok(out)
}

/// A stored record cut into its hashed body, its `prev_hash` and its `hash`.
pub struct RecordParts<'a> {
    /// Format byte + envelope body: the bytes the hash covers (after `prev_hash`).
    pub body: &'a [u8],
    /// The stored previous hash.
    pub prev_hash: [u8; HASH_LEN],
    /// The stored hash.
    pub hash: [u8; HASH_LEN],
}

/// Cut a stored record into body and hashes without decoding the body.
pub fn split_record(bytes: &[u8]) -> Result<RecordParts<'_>, CodecError> {
    if bytes.len() < 1 + 2 * HASH_LEN {
        return Err(CodecError::Truncated(format!(
            "record of {} bytes",
            bytes.len()
        )));
    }
    let (body, hashes) = bytes.split_at(bytes.len() - 2 * HASH_LEN);
    let (prev, hash) = hashes.split_at(HASH_LEN);
    let mut parts = RecordParts {
        body,
        prev_hash: [0; HASH_LEN],
        hash: [0; HASH_LEN],
    };
    parts.prev_hash.copy_from_slice(prev);
    parts.hash.copy_from_slice(hash);
    Ok(parts)
}

/// Decode a stored record (any known format version) into a [`RecordedEvent`].
pub fn decode_record(bytes: &[u8]) -> Result<RecordedEvent, CodecError> {
    let parts = split_record(bytes)?;
    let env = match parts.body.split_first() {
        Some((&ENVELOPE_FORMAT_V1, body)) => envelope_reader::read_envelope_v1(body)?,
        Some((&v, _)) => return Err(CodecError::UnknownFormatVersion(v)),
        None => return Err(CodecError::Truncated("empty record".into())),
    };
    Ok(RecordedEvent {
        position: env.position,
        stream_id: env.stream_id,
        stream_version: env.stream_version,
        event_id: Ulid::from_bytes(env.event_id),
        type_name: env.type_name,
        schema_version: env.schema_version,
        recorded_at_ms: env.recorded_at_ms,
        actor: env.actor,
        command_id: env.command_id,
        correlation_id: Ulid::from_bytes(env.correlation_id),
        causation_id: env.causation_id.map(Ulid::from_bytes),
        payload: env.payload,
        prev_hash: parts.prev_hash,
        hash: parts.hash,
    })
}

/// One committed append as an index chunk stores it (layout 3, key `x/` + position).
///
/// A chunk holds the appends of one group commit (or part of one) in position order;
/// the first starts at the position in the chunk's key and each next one where the
/// previous one's events end. Field order is frozen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry<'a> {
    /// The append's command id.
    pub command_id: &'a str,
    /// The stream it appended to.
    pub stream_id: &'a str,
    /// Stream version of its first event.
    pub first_version: u64,
    /// How many events it appended (at least one).
    pub events: u32,
    /// Digest of the request (see `sled_store::digest`).
    pub request_digest: [u8; HASH_LEN],
}

impl IndexEntry<'_> {
    /// Its command record, given the position of its first event.
    pub fn command_record(&self, first_position: u64) -> CommandRecord {
        let last = u64::from(self.events.max(1)) - 1;
        CommandRecord {
            request_digest: self.request_digest,
            first_position,
            last_position: first_position + last,
            stream_version: self.first_version + last,
        }
    }
}

/// Encode an index chunk: the format byte and the entries.
pub fn encode_index_chunk(entries: &[IndexEntry<'_>]) -> Result<Vec<u8>, CodecError> {
    encode_versioned(INDEX_FORMAT_V1, &entries)
}

/// Decode an index chunk, borrowing its strings from `bytes`.
pub fn decode_index_chunk(bytes: &[u8]) -> Result<Vec<IndexEntry<'_>>, CodecError> {
    let body = match bytes.split_first() {
        None => return Err(CodecError::Truncated("empty index chunk".into())),
        Some((&INDEX_FORMAT_V1, body)) => body,
        Some((&v, _)) => return Err(CodecError::UnknownFormatVersion(v)),
    };
    let (entries, used): (Vec<IndexEntry<'_>>, usize) =
        bincode::serde::borrow_decode_from_slice(body, decode_config())
            .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::TrailingBytes(body.len() - used));
    }
    if entries.is_empty() || entries.iter().any(|e| e.events == 0) {
        return Err(CodecError::Decode(
            "an index chunk needs appends of at least one event".into(),
        ));
    }
    Ok(entries)
}

/// Encode a stored command record.
pub fn encode_command(record: &CommandRecord) -> Result<Vec<u8>, CodecError> {
    encode_versioned(COMMAND_FORMAT_V1, record)
}

/// Decode a stored command record.
pub fn decode_command(bytes: &[u8]) -> Result<CommandRecord, CodecError> {
    decode_versioned(COMMAND_FORMAT_V1, bytes)
}

/// Encode a domain event (or any serde value) for [`crate::NewEvent::payload`].
///
/// The encoding (bincode standard config) has no self-description: variants are
/// by index, so append new enum variants at the end only, and never use
/// `#[serde(flatten)]`, internally tagged / untagged enums or `skip_serializing_if`.
pub fn encode_payload<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_versioned(PAYLOAD_FORMAT_V1, value)
}

/// Decode a payload written by [`encode_payload`]; the whole input must be used.
pub fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_versioned(PAYLOAD_FORMAT_V1, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RecordedEvent {
        RecordedEvent {
            position: 7,
            stream_id: "incident-1".into(),
            stream_version: 2,
            event_id: Ulid::from_parts(1, 2),
            type_name: "IncidentDeclared".into(),
            schema_version: 1,
            recorded_at_ms: 1_700_000_000_000,
            actor: "alice".into(),
            command_id: "cmd-1".into(),
            correlation_id: Ulid::from_parts(3, 4),
            causation_id: Some(Ulid::from_parts(5, 6)),
            payload: vec![1, 2, 3, 255],
            prev_hash: [9; 32],
            hash: [8; 32],
        }
    }

    #[test]
    fn record_roundtrips_with_hashes_and_leading_format_byte() {
        let bytes = encode_record(&sample()).unwrap();
        assert_eq!(bytes[0], ENVELOPE_FORMAT_V1);
        assert_eq!(decode_record(&bytes).unwrap(), sample());
    }

    #[test]
    fn ulids_are_stored_as_16_bytes_not_strings() {
        let bytes = encode_envelope_body(&sample()).unwrap();
        let id = Ulid::from_parts(1, 2).to_bytes();
        assert!(bytes.windows(16).any(|w| w == id));
        assert!(!bytes
            .windows(26)
            .any(|w| w == Ulid::from_parts(1, 2).to_string().as_bytes()));
    }

    #[test]
    fn unknown_format_version_is_a_typed_error() {
        let mut bytes = encode_record(&sample()).unwrap();
        bytes[0] = 99;
        assert_eq!(
            decode_record(&bytes),
            Err(CodecError::UnknownFormatVersion(99))
        );
    }

    #[test]
    fn short_record_is_truncated_error() {
        assert!(matches!(
            decode_record(&[1, 2, 3]),
            Err(CodecError::Truncated(_))
        ));
    }

    #[test]
    fn payload_roundtrips_and_rejects_trailing_bytes() {
        let bytes = encode_payload(&("x".to_string(), 5u32)).unwrap();
        assert_eq!(
            decode_payload::<(String, u32)>(&bytes).unwrap(),
            ("x".to_string(), 5)
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode_payload::<(String, u32)>(&longer),
            Err(CodecError::TrailingBytes(1))
        );
    }

    #[test]
    fn command_record_roundtrips() {
        let rec = CommandRecord {
            request_digest: [3; 32],
            first_position: 1,
            last_position: 4,
            stream_version: 9,
        };
        assert_eq!(decode_command(&encode_command(&rec).unwrap()).unwrap(), rec);
    }

    #[test]
    fn index_chunks_roundtrip_and_refuse_empty_appends() {
        let entry = IndexEntry {
            command_id: "cmd-1",
            stream_id: "incident-1",
            first_version: 4,
            events: 3,
            request_digest: [9; HASH_LEN],
        };
        let bytes = encode_index_chunk(std::slice::from_ref(&entry)).unwrap();
        assert_eq!(bytes[0], INDEX_FORMAT_V1);
        assert_eq!(decode_index_chunk(&bytes).unwrap(), vec![entry.clone()]);
        let record = entry.command_record(10);
        assert_eq!(
            (
                record.first_position,
                record.last_position,
                record.stream_version
            ),
            (10, 12, 6)
        );
        let empty = encode_index_chunk(&[]).unwrap();
        assert!(decode_index_chunk(&empty).is_err());
        let zero = IndexEntry { events: 0, ..entry };
        assert!(decode_index_chunk(&encode_index_chunk(&[zero]).unwrap()).is_err());
        for cut in 0..bytes.len() {
            assert!(decode_index_chunk(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
