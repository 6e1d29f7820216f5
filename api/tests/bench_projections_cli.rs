//! `opsledger bench projections` end to end: the real binary generates the log in one child
//! process, replays it, and starts up from the snapshot in another child process.

use std::process::Command;

#[test]
fn bench_projections_runs_generation_and_start_up_in_child_processes_and_prints_json() {
    let output = Command::new(env!("CARGO_BIN_EXE_opsledger"))
        .args(["bench", "projections", "--events", "3000", "--json"])
        .output()
        .expect("run opsledger");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    let events = report["events"].as_u64().unwrap();
    assert!((3000..3100).contains(&events), "{report}");
    for key in [
        "replay_projections_events_per_s",
        "startup_with_snapshot_ms",
        "peak_rss_mb",
        "snapshot_mb",
    ] {
        assert!(report[key].as_f64().unwrap() > 0.0, "{key}: {report}");
    }
}

#[test]
fn the_start_up_child_without_snapshots_is_refused_by_the_argument_parser() {
    let output = Command::new(env!("CARGO_BIN_EXE_opsledger"))
        .args(["bench", "projections", "--startup-from", "/nonexistent"])
        .output()
        .expect("run opsledger");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--snapshots"));
}
