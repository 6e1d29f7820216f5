//! Fuzzing over arbitrary bytes (proptest, runs in CI): every decoder of stored or
//! received bytes returns a typed [`CodecError`] on garbage, never panics or aborts.

use opsledger_domain::DomainEvent;
use opsledger_storage::chain::{check_record, GENESIS_HASH};
use opsledger_storage::codec::{
    decode_command, decode_index_chunk, decode_payload, decode_record, encode_index_chunk,
    encode_record, split_record, IndexEntry,
};
use opsledger_storage::segment::{self, Segment};
use opsledger_storage::{CodecError, RecordedEvent, Ulid};
use proptest::prelude::*;

fn sample_record() -> Vec<u8> {
    let event = RecordedEvent {
        position: 3,
        stream_id: "incident-7".into(),
        stream_version: 1,
        event_id: Ulid::from_parts(1, 2),
        type_name: "IncidentDeclared".into(),
        schema_version: 1,
        recorded_at_ms: 1_700_000_000_000,
        actor: "alice".into(),
        command_id: "cmd-9".into(),
        correlation_id: Ulid::from_parts(3, 4),
        causation_id: Some(Ulid::from_parts(5, 6)),
        payload: vec![1, 0, 2, 3],
        prev_hash: [1; 32],
        hash: [2; 32],
    };
    encode_record(&event).unwrap()
}

/// Every error is one of the codec's typed variants (this is what "typed" means here).
fn is_typed(e: &CodecError) -> bool {
    matches!(
        e,
        CodecError::Encode(_)
            | CodecError::Decode(_)
            | CodecError::UnknownFormatVersion(_)
            | CodecError::Truncated(_)
            | CodecError::TrailingBytes(_)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn record_decoder_returns_a_typed_error_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = decode_record(&bytes) {
            prop_assert!(is_typed(&e));
        }
        let _ = split_record(&bytes);
        let _ = check_record(&bytes, 0, &GENESIS_HASH);
    }

    #[test]
    fn record_decoder_survives_mutated_valid_records(
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = sample_record();
        let at = index.index(bytes.len());
        bytes[at] = byte;
        if let Err(e) = decode_record(&bytes) {
            prop_assert!(is_typed(&e));
        }
        bytes.truncate(cut.index(bytes.len()));
        prop_assert!(decode_record(&bytes).is_err() || bytes.is_empty());
    }

    #[test]
    fn segment_parser_returns_a_typed_error_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        match Segment::parse(&bytes) {
            Ok(seg) => prop_assert_eq!(seg.records().count(), seg.len()),
            Err(e) => prop_assert!(is_typed(&e)),
        }
    }

    #[test]
    fn segment_parser_survives_mutated_valid_segments(
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let record = sample_record();
        let mut bytes = segment::encode([record.as_slice(), record.as_slice()].into_iter());
        let at = index.index(bytes.len());
        bytes[at] = byte;
        if let Ok(seg) = Segment::parse(&bytes) {
            for r in seg.records() {
                let _ = decode_record(r);
            }
        }
        bytes.truncate(cut.index(bytes.len()));
        prop_assert!(Segment::parse(&bytes).is_err());
    }

    #[test]
    fn command_decoder_returns_a_typed_error_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Err(e) = decode_command(&bytes) {
            prop_assert!(is_typed(&e));
        }
    }

    #[test]
    fn index_chunk_decoder_returns_a_typed_error_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = decode_index_chunk(&bytes) {
            prop_assert!(is_typed(&e));
        }
    }

    #[test]
    fn index_chunk_decoder_survives_mutated_valid_chunks(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let entry = IndexEntry {
            command_id: "cmd-1",
            stream_id: "incident-7",
            first_version: 3,
            events: 2,
            request_digest: [7; 32],
        };
        let mut bytes = encode_index_chunk(&[entry.clone(), entry]).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Err(e) = decode_index_chunk(&bytes) {
            prop_assert!(is_typed(&e));
        }
    }

    #[test]
    fn domain_payload_decoder_returns_a_typed_error_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = decode_payload::<DomainEvent>(&bytes) {
            prop_assert!(is_typed(&e));
        }
    }

    #[test]
    fn domain_payload_decoder_survives_huge_length_prefixes(
        variant in 0u8..8,
        len_prefix in prop::collection::vec(Just(0xFFu8), 1..9),
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        // Format byte, a small enum index, then a varint claiming an enormous length.
        let mut bytes = vec![1, variant, 0, 0xFD];
        bytes.extend_from_slice(&len_prefix);
        bytes.extend_from_slice(&tail);
        prop_assert!(decode_payload::<DomainEvent>(&bytes).is_err());
    }
}

#[test]
fn empty_input_is_truncated_for_every_decoder() {
    assert!(matches!(decode_record(&[]), Err(CodecError::Truncated(_))));
    assert!(matches!(decode_command(&[]), Err(CodecError::Truncated(_))));
    assert!(matches!(
        decode_payload::<DomainEvent>(&[]),
        Err(CodecError::Truncated(_))
    ));
}
