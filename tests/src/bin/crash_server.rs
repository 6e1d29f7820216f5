//! Crash-test helper: the real `opsledger` CLI (same `cli::main` as the
//! `opsledger` binary), built as a binary of the tests crate so that
//! `tests/tests/e2e/crash_server_kill.rs` can find it through `CARGO_BIN_EXE_crash_server`
//! and SIGKILL `crash_server serve ...` under load.

fn main() -> std::process::ExitCode {
    opsledger_api::cli::main()
}
