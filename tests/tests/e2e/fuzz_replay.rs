//! Replays every committed fuzz corpus file (`tests/fuzz/corpus/<target>/`) through the
//! harness its fuzz target calls, on the stable toolchain in CI: an input that once
//! crashed a target (its artifact is committed into the corpus) stays fixed.

use opsledger_tests::fuzz::{Target, TARGETS};
use std::path::{Path, PathBuf};

fn corpus_dir(target: &Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target.name)
}

/// Runs every file of the target's corpus; returns how many there were.
fn replay(target: &Target) -> usize {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    for file in &files {
        let input = std::fs::read(file).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| (target.run)(&input));
        assert!(
            outcome.is_ok(),
            "{} fails on {}",
            target.name,
            file.display()
        );
    }
    files.len()
}

fn replay_named(name: &str) {
    let target = TARGETS.iter().find(|t| t.name == name).expect("a target");
    let replayed = replay(target);
    assert!(replayed > 0, "the {name} corpus is empty");
    eprintln!("{name}: {replayed} corpus files replayed");
}

#[test]
fn graphql_request_corpus_replays_without_a_failure() {
    replay_named("graphql_request");
}

#[test]
fn storage_decoders_corpus_replays_without_a_failure() {
    replay_named("storage_decoders");
}

#[test]
fn alertmanager_webhook_corpus_replays_without_a_failure() {
    replay_named("alertmanager_webhook");
}

#[test]
fn import_lines_corpus_replays_without_a_failure() {
    replay_named("import_lines");
}

#[test]
fn every_target_has_a_replay_test() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "graphql_request",
            "storage_decoders",
            "alertmanager_webhook",
            "import_lines"
        ]
    );
}

/// Writes the generated part of the seed corpus (segments, index chunks, command records,
/// an export of the golden domain events). The fuzzer grew the corpus from these seeds and
/// the hand-written ones; rerunning this only adds the seed files back.
#[tokio::test]
#[ignore = "writes seed files into tests/fuzz/corpus: run with --ignored to regenerate"]
async fn write_generated_seeds() {
    use opsledger_storage::codec::{encode_command, encode_index_chunk, CommandRecord, IndexEntry};
    use opsledger_storage::export::export;
    use opsledger_storage::segment;
    use opsledger_storage::{
        AppendRequest, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig, Ulid,
    };

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("fuzz/corpus");
    let golden = root.join("../fixtures/golden");
    let record = std::fs::read(golden.join("envelopes/full_v1.bin")).unwrap();
    let minimal = std::fs::read(golden.join("envelopes/minimal_v1.bin")).unwrap();
    let seg = segment::encode([record.as_slice(), minimal.as_slice()].into_iter());
    std::fs::write(corpus.join("storage_decoders/seed-segment"), seg).unwrap();
    let entry = IndexEntry {
        command_id: "cmd-1",
        stream_id: "incident-7",
        first_version: 3,
        events: 2,
        request_digest: [7; 32],
    };
    let chunk = encode_index_chunk(&[entry.clone(), entry]).unwrap();
    std::fs::write(corpus.join("storage_decoders/seed-index-chunk"), chunk).unwrap();
    let command = encode_command(&CommandRecord {
        request_digest: [3; 32],
        first_position: 1,
        last_position: 4,
        stream_version: 300,
    })
    .unwrap();
    std::fs::write(corpus.join("storage_decoders/seed-command"), command).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = SledEventStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    let mut events: Vec<PathBuf> = std::fs::read_dir(golden.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    events.sort();
    for (i, file) in events.iter().take(6).enumerate() {
        let type_name = file.file_stem().unwrap().to_string_lossy().into_owned();
        store
            .append(AppendRequest {
                stream_id: format!("stream-{}", i % 2),
                expected: ExpectedVersion::Any,
                command_id: format!("cmd-{i}"),
                actor: "alice".into(),
                correlation_id: Ulid::from_parts(1, i as u128),
                causation_id: (i % 2 == 1).then(|| Ulid::from_parts(3, i as u128)),
                recorded_at_ms: 1_700_000_000_000 + i as i64,
                events: vec![NewEvent {
                    event_id: Ulid::from_parts(2, i as u128),
                    type_name,
                    schema_version: 1,
                    payload: std::fs::read(file).unwrap(),
                }],
            })
            .await
            .unwrap();
    }
    let mut out = Vec::new();
    let render = opsledger_api::cli_tools::transfer::render_payload;
    export(&store, 0, &mut out, &render, &mut |_, _| {})
        .await
        .unwrap();
    let first_line = out
        .split_inclusive(|b| *b == b'\n')
        .next()
        .unwrap()
        .to_vec();
    std::fs::write(corpus.join("import_lines/seed-export"), &out).unwrap();
    std::fs::write(corpus.join("import_lines/seed-one-line"), first_line).unwrap();
}
