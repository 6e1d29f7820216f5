//! `opsledger export` / `opsledger import` as a user runs them: the real binary, files on
//! disk, and `jq` (1.6 here, which reads JSON numbers as doubles) reading the output.
//! The format-1 file is `fixtures/exports/golden_v1.jsonl`, written by the previous build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opsledger_storage::{EventStore, SledEventStore, StoreConfig};
use serde_json::Value;

fn format1_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/exports/golden_v1.jsonl")
}

fn opsledger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsledger"))
        .args(args)
        .output()
        .expect("run opsledger")
}

fn succeeds(args: &[&str]) -> Output {
    let output = opsledger(args);
    assert!(
        output.status.success(),
        "opsledger {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn lines(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// `jq -r FILTER FILE`'s output lines.
fn jq(filter: &str, file: &Path) -> Vec<String> {
    let output = Command::new("jq")
        .args(["-r", filter, s(file)])
        .output()
        .expect("jq is installed (.ci/run installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A data directory holding the golden log, imported from the format-1 file.
fn imported_golden(root: &Path, name: &str) -> PathBuf {
    let data = root.join(name);
    let out = succeeds(&["import", "--data", s(&data), s(&format1_file())]);
    let last_hash = lines(&format1_file()).last().unwrap()["hash"].clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imported 46 events") && stdout.contains(last_hash.as_str().unwrap()),
        "{stdout}"
    );
    data
}

#[test]
fn a_format_1_export_imports_with_every_record_and_hash_and_exports_as_format_2() {
    let root = tempfile::tempdir().unwrap();
    let data = imported_golden(root.path(), "a");
    let file = root.path().join("a.jsonl");
    succeeds(&["export", "--data", s(&data), "--out", s(&file)]);

    let new = lines(&file);
    assert_eq!(
        new[0],
        serde_json::json!({"format": "opsledger-export", "version": 2, "from": 0, "events": 46})
    );
    let old = lines(&format1_file());
    assert_eq!(new.len(), old.len() + 1);
    for (new, old) in new[1..].iter().zip(&old) {
        for field in [
            "position",
            "stream_id",
            "event_id",
            "actor",
            "payload_hex",
            "prev_hash",
            "hash",
        ] {
            assert_eq!(new[field], old[field], "{field} at {}", old["position"]);
        }
        assert!(new["payload"].is_object(), "{new}");
    }

    // The format-2 file imports too, and exports again byte for byte.
    let b = root.path().join("b");
    succeeds(&["import", "--data", s(&b), s(&file)]);
    let again = root.path().join("b.jsonl");
    succeeds(&["export", "--data", s(&b), "--out", s(&again)]);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

#[test]
fn jq_reads_every_id_of_an_export_as_the_exact_ulid_text() {
    let root = tempfile::tempdir().unwrap();
    let data = imported_golden(root.path(), "a");
    let file = root.path().join("a.jsonl");
    succeeds(&["export", "--data", s(&data), "--out", s(&file)]);

    // Numbers a double cannot hold: format 1 has its ids there, format 2 none at all.
    let unsafe_numbers =
        "select(.payload != null) | [.payload | .. | numbers | select(. > 9007199254740991)] | length";
    let per_line = |f: &Path| -> u64 {
        jq(unsafe_numbers, f)
            .iter()
            .map(|n| n.parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(
        per_line(&format1_file()),
        32,
        "the 32 ids of format 1, as Python counts them"
    );
    assert_eq!(per_line(&file), 0);

    let declared = "select(.type_name == \"IncidentDeclared\") | .payload.Incident.Declared \
                    | .id, .impacts[0].service, .alert_group.service";
    let incident = ulid::Ulid::from_parts(1_735_689_600_000, 100).to_string();
    let service = ulid::Ulid::from_parts(1_735_689_600_000, 1).to_string();
    assert_eq!(
        jq(declared, &file),
        vec![incident.clone(), service.clone(), service]
    );
    // What jq made of the same id in format 1 (the defect): a rounded double.
    let old = jq(declared, &format1_file());
    assert_ne!(old[0], incident);
    assert!(old[0].contains("e+36"), "{old:?}");
    assert_eq!(
        jq(&format!("select(.payload != null) | [.payload | .. | strings | select(. == \"{incident}\")] | length"), &file)
            .iter()
            .map(|n| n.parse::<u64>().unwrap())
            .sum::<u64>(),
        6,
        "the incident id appears as text wherever an event names it (6 times, as Python counts the integers in format 1)"
    );
}

#[test]
fn a_tampered_format_1_payload_is_refused_with_its_line() {
    let root = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(format1_file()).unwrap();
    let incident = ulid::Ulid::from_parts(1_735_689_600_000, 100).0;
    let other = incident + 1;
    let mut tampered_lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Line 9 is IncidentDeclared: change the id in its JSON payload only (not the bytes).
    tampered_lines[8] = tampered_lines[8].replacen(&incident.to_string(), &other.to_string(), 1);
    assert_ne!(tampered_lines[8], text.lines().nth(8).unwrap());
    let tampered = root.path().join("tampered.jsonl");
    std::fs::write(&tampered, tampered_lines.join("\n") + "\n").unwrap();
    let data = root.path().join("data");
    let output = opsledger(&["import", "--data", s(&data), s(&tampered)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 9") && stderr.contains("payload JSON does not match"),
        "{stderr}"
    );
    assert!(!data.join("log").exists());
}

#[test]
fn an_export_that_fails_leaves_no_out_file_and_an_existing_one_untouched() {
    let root = tempfile::tempdir().unwrap();
    let data = imported_golden(root.path(), "a");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A running store holds the lock, as a server would.
    let store = runtime
        .block_on(SledEventStore::open(
            data.join("log"),
            StoreConfig::default(),
        ))
        .unwrap();

    let out_dir = root.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let fresh = out_dir.join("fresh.jsonl");
    let output = opsledger(&["export", "--data", s(&data), "--out", s(&fresh)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(!fresh.exists());

    let existing = out_dir.join("existing.jsonl");
    std::fs::write(&existing, "yesterday's export\n").unwrap();
    let output = opsledger(&["export", "--data", s(&data), "--out", s(&existing)]);
    assert!(!output.status.success());
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "yesterday's export\n"
    );
    let names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("existing.jsonl")],
        "no temporary file left"
    );

    runtime.block_on(store.flush_and_stop()).unwrap();
    drop(store);
    succeeds(&["export", "--data", s(&data), "--out", s(&existing)]);
    assert_eq!(lines(&existing).len(), 47);
}

#[test]
fn an_export_that_fails_after_writing_leaves_no_temporary_file() {
    let root = tempfile::tempdir().unwrap();
    let data = imported_golden(root.path(), "a");
    let out_dir = root.path().join("out");
    // The export itself succeeds, but the rename over a non-empty directory cannot.
    let taken = out_dir.join("taken.jsonl");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("inside"), "x").unwrap();
    let output = opsledger(&["export", "--data", s(&data), "--out", s(&taken)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot rename the export"), "{stderr}");
    let names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("taken.jsonl")]);
    assert_eq!(std::fs::read_to_string(taken.join("inside")).unwrap(), "x");
}
