//! A hand-written reader of format 1 envelope bodies: the same bytes bincode (standard
//! config) writes for `EnvelopeV1Ref`, read without serde's visitors.
//!
//! Replay decodes every record of the log, and serde's generic path (fixed-size arrays
//! element by element, a visitor per field) was a fifth of a replay's time. The wire
//! format of format 1 is frozen, so reading it directly is safe; a property test checks
//! this reader against bincode on valid and on damaged bodies.
//!
//! Wire format (bincode 2 standard config): unsigned integers as varints (a value below
//! 251 is one byte; 251, 252, 253 announce a little-endian u16, u32, u64), `i64` zigzag
//! encoded then as a varint, strings and byte buffers as a varint length then the
//! bytes, `[u8; 16]` as 16 raw bytes, an `Option` as a 0/1 byte then the value.

use crate::error::CodecError;

use super::{EnvelopeV1, MAX_DECODED_BYTES};

/// Reads values off the front of a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.bytes.len() {
            return Err(CodecError::Decode(format!(
                "envelope ends early: {n} bytes wanted, {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        match self.array::<1>()?[0] {
            small @ 0..=250 => Ok(u64::from(small)),
            251 => Ok(u64::from(u16::from_le_bytes(self.array()?))),
            252 => Ok(u64::from(u32::from_le_bytes(self.array()?))),
            253 => Ok(u64::from_le_bytes(self.array()?)),
            other => Err(CodecError::Decode(format!("bad varint tag {other}"))),
        }
    }

    fn u16(&mut self) -> Result<u16, CodecError> {
        // Like bincode: a u16 is one byte or the u16 tag, never a wider one.
        match self.array::<1>()?[0] {
            small @ 0..=250 => Ok(u16::from(small)),
            251 => Ok(u16::from_le_bytes(self.array()?)),
            other => Err(CodecError::Decode(format!("bad u16 varint tag {other}"))),
        }
    }

    fn i64(&mut self) -> Result<i64, CodecError> {
        let zigzag = self.u64()?;
        Ok(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
    }

    fn len(&mut self) -> Result<usize, CodecError> {
        let len = self.u64()?;
        match usize::try_from(len) {
            Ok(len) if len <= MAX_DECODED_BYTES => Ok(len),
            _ => Err(CodecError::Decode(format!("length {len} over the limit"))),
        }
    }

    fn bytes(&mut self) -> Result<Vec<u8>, CodecError> {
        let len = self.len()?;
        Ok(self.take(len)?.to_vec())
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let len = self.len()?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| CodecError::Decode(format!("string is not UTF-8: {e}")))
    }

    fn option_array16(&mut self) -> Result<Option<[u8; 16]>, CodecError> {
        match self.array::<1>()?[0] {
            0 => Ok(None),
            1 => Ok(Some(self.array()?)),
            other => Err(CodecError::Decode(format!("bad option tag {other}"))),
        }
    }
}

/// Read a format 1 envelope body (after the format byte); every byte must be used.
pub(super) fn read_envelope_v1(body: &[u8]) -> Result<EnvelopeV1, CodecError> {
    let mut r = Reader { bytes: body };
    let envelope = EnvelopeV1 {
        position: r.u64()?,
        stream_id: r.string()?,
        stream_version: r.u64()?,
        event_id: r.array()?,
        type_name: r.string()?,
        schema_version: r.u16()?,
        recorded_at_ms: r.i64()?,
        actor: r.string()?,
        command_id: r.string()?,
        correlation_id: r.array()?,
        causation_id: r.option_array16()?,
        payload: r.bytes()?,
    };
    if !r.bytes.is_empty() {
        return Err(CodecError::TrailingBytes(r.bytes.len()));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::codec::{decode_exact, encode_envelope_body};
    use crate::event::RecordedEvent;

    fn event(
        numbers: (u64, u64, u16, i64),
        strings: (String, String, String, String),
        ids: ([u8; 16], [u8; 16], Option<[u8; 16]>),
        payload: Vec<u8>,
    ) -> RecordedEvent {
        RecordedEvent {
            position: numbers.0,
            stream_id: strings.0,
            stream_version: numbers.1,
            event_id: ulid::Ulid::from_bytes(ids.0),
            type_name: strings.1,
            schema_version: numbers.2,
            recorded_at_ms: numbers.3,
            actor: strings.2,
            command_id: strings.3,
            correlation_id: ulid::Ulid::from_bytes(ids.1),
            causation_id: ids.2.map(ulid::Ulid::from_bytes),
            payload,
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    /// What bincode's serde path makes of `body` (the reference this reader must match).
    fn by_bincode(body: &[u8]) -> Option<EnvelopeV1> {
        decode_exact::<EnvelopeV1>(body).ok()
    }

    proptest! {
        #[test]
        fn the_reader_reads_what_bincode_wrote(
            numbers in (any::<u64>(), any::<u64>(), any::<u16>(), any::<i64>()),
            strings in (".{0,40}", ".{0,20}", ".{0,10}", ".{0,30}"),
            ids in (any::<[u8; 16]>(), any::<[u8; 16]>(), any::<Option<[u8; 16]>>()),
            payload in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            let body = encode_envelope_body(&event(numbers, strings, ids, payload)).unwrap();
            let read = read_envelope_v1(&body[1..]).unwrap();
            prop_assert_eq!(Some(read), by_bincode(&body[1..]));
        }

        #[test]
        fn the_reader_agrees_with_bincode_on_damaged_bodies(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
            small in (0u64..300, 0u64..70_000, any::<i64>()),
        ) {
            let numbers = (small.0, small.1, 7, small.2);
            let strings = ("incident-7".into(), "IncidentDeclared".into(), "alice".into(), "cmd".into());
            let ids = ([1; 16], [2; 16], Some([3; 16]));
            let body = encode_envelope_body(&event(numbers, strings, ids, vec![5; 40])).unwrap();
            let mut damaged = body[1..].to_vec();
            let i = at.index(damaged.len());
            damaged[i] = byte;
            damaged.truncate(cut.index(damaged.len() + 1).max(i));
            prop_assert_eq!(read_envelope_v1(&damaged).ok(), by_bincode(&damaged));
        }
    }
}
