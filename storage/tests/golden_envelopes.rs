//! Golden envelope bytes under `fixtures/golden/envelopes` must decode forever.
//!
//! Regenerate (only when adding a new file, never to "fix" an old one):
//! `OPSLEDGER_WRITE_GOLDEN=1 cargo test -p opsledger-storage --test golden_envelopes`.

use std::path::PathBuf;

use opsledger_storage::chain::{chain_hash, check_record, GENESIS_HASH};
use opsledger_storage::codec::{
    decode_record, encode_envelope_body, encode_record, ENVELOPE_FORMAT_V1,
};
use opsledger_storage::{RecordedEvent, Ulid};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/golden/envelopes")
}

/// A record with its hash computed over `prev_hash` and its body.
fn chained(mut event: RecordedEvent) -> RecordedEvent {
    let body = encode_envelope_body(&event).unwrap();
    event.hash = chain_hash(&event.prev_hash, &body);
    event
}

fn minimal_v1() -> RecordedEvent {
    chained(RecordedEvent {
        position: 0,
        stream_id: "incident-01HV0000000000000000000000".into(),
        stream_version: 0,
        event_id: Ulid::from_parts(1_700_000_000_000, 1),
        type_name: "IncidentDeclared".into(),
        schema_version: 1,
        recorded_at_ms: 1_700_000_000_000,
        actor: "alice".into(),
        command_id: "cmd-0001".into(),
        correlation_id: Ulid::from_parts(1_700_000_000_000, 2),
        causation_id: None,
        payload: Vec::new(),
        prev_hash: GENESIS_HASH,
        hash: [0; 32],
    })
}

fn full_v1() -> RecordedEvent {
    chained(RecordedEvent {
        position: 41,
        stream_id: "change-01HV0000000000000000000001".into(),
        stream_version: 7,
        event_id: Ulid::from_parts(1_700_000_123_456, 0xDEAD_BEEF),
        type_name: "ChangeApproved".into(),
        schema_version: 2,
        recorded_at_ms: 1_712_345_678_901,
        actor: "jöran@ops — CAB".into(),
        command_id: "8f14e45f-ceea-467a-9575-5b3c1d2e3f40".into(),
        correlation_id: Ulid::from_parts(1_700_000_123_000, 3),
        causation_id: Some(Ulid::from_parts(1_700_000_122_999, 4)),
        payload: (0u8..=255).collect(),
        prev_hash: [0xAB; 32],
        hash: [0; 32],
    })
}

fn extremes_v1() -> RecordedEvent {
    chained(RecordedEvent {
        position: u64::MAX - 1,
        stream_id: "s".into(),
        stream_version: u64::MAX - 1,
        event_id: Ulid::from_parts(u64::MAX >> 16, u128::MAX >> 48),
        type_name: "X".into(),
        schema_version: u16::MAX,
        recorded_at_ms: -1,
        actor: String::new(),
        command_id: "c".into(),
        correlation_id: Ulid::nil(),
        causation_id: Some(Ulid::nil()),
        payload: vec![0; 300],
        prev_hash: [0xFF; 32],
        hash: [0; 32],
    })
}

fn check(name: &str, expected: RecordedEvent) {
    let path = golden_dir().join(name);
    if std::env::var_os("OPSLEDGER_WRITE_GOLDEN").is_some() && !path.exists() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, encode_record(&expected).unwrap()).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes[0], ENVELOPE_FORMAT_V1);
    assert_eq!(decode_record(&bytes).unwrap(), expected);
    let checked = check_record(&bytes, expected.position, &expected.prev_hash).unwrap();
    assert_eq!(checked.hash, expected.hash);
    // Format 1 is still what this build writes: encoding must not drift.
    assert_eq!(encode_record(&expected).unwrap(), bytes);
}

#[test]
fn golden_minimal_envelope_v1_decodes() {
    check("minimal_v1.bin", minimal_v1());
}

#[test]
fn golden_full_envelope_v1_decodes() {
    check("full_v1.bin", full_v1());
}

#[test]
fn golden_extremes_envelope_v1_decodes() {
    check("extremes_v1.bin", extremes_v1());
}
