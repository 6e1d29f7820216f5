//! Fuzzing the export importer over arbitrary bytes (proptest, runs in CI): validating a
//! file of garbage, or a valid export with one byte flipped, returns a typed
//! [`TransferError`] (or, for a flip that leaves the records identical, the same count);
//! it never panics.

use opsledger_storage::export::{export, validate_file};
use opsledger_storage::{
    AppendRequest, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig, Ulid,
};
use proptest::prelude::*;
use std::path::Path;

/// Renders no payload JSON (the importer then checks the raw bytes only).
fn no_render(_: &opsledger_storage::RecordedEvent) -> Option<String> {
    None
}

/// A valid export of a small log (3 commands on 2 streams).
fn valid_export() -> Vec<u8> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SledEventStore::open(dir.path(), StoreConfig::default())
            .await
            .unwrap();
        for (i, stream) in ["incident-a", "incident-b", "incident-a"]
            .iter()
            .enumerate()
        {
            store
                .append(AppendRequest {
                    stream_id: (*stream).into(),
                    expected: ExpectedVersion::Any,
                    command_id: format!("cmd-{i}"),
                    actor: "alice".into(),
                    correlation_id: Ulid::from_parts(1, i as u128),
                    causation_id: None,
                    recorded_at_ms: 1_700_000_000_000 + i as i64,
                    events: vec![NewEvent {
                        event_id: Ulid::from_parts(2, i as u128),
                        type_name: "IncidentNoteAdded".into(),
                        schema_version: 1,
                        payload: vec![i as u8; 40],
                    }],
                })
                .await
                .unwrap();
        }
        let mut out = Vec::new();
        export(&store, 0, &mut out, &no_render, &mut |_, _| {})
            .await
            .unwrap();
        out
    })
}

fn validate_bytes(bytes: &[u8]) -> Result<u64, opsledger_storage::backup::TransferError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, bytes).unwrap();
    validate_file(Path::new(&file), &no_render)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn importer_refuses_arbitrary_bytes_with_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 1..512)) {
        let result = validate_bytes(&bytes);
        if bytes.iter().any(|b| !b.is_ascii_whitespace()) {
            prop_assert!(result.is_err(), "garbage accepted: {:?}", result);
        }
    }

    #[test]
    fn importer_refuses_a_flipped_byte_or_reads_identical_records(index in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let mut bytes = VALID.with(|v| v.clone());
        let at = index.index(bytes.len());
        bytes[at] ^= mask;
        match validate_bytes(&bytes) {
            Err(_) => {}
            Ok(count) => prop_assert_eq!(count, 3),
        }
    }
}

thread_local! {
    static VALID: Vec<u8> = valid_export();
}

#[test]
fn importer_accepts_the_untouched_export() {
    assert_eq!(validate_bytes(&valid_export()).unwrap(), 3);
}
