//! Fuzz harnesses: one function per fuzz target, each taking arbitrary bytes and
//! panicking only when the code under test breaks a rule (a panic, an abort, a decoded
//! value that does not survive its own round trip, an uncoded error).
//!
//! The coverage-guided fuzzer (`tests/fuzz`, cargo-fuzz, nightly only) calls these, and
//! so does the stable replay test `tests/tests/e2e/fuzz_replay.rs`, which feeds every file of
//! `tests/fuzz/corpus/<target>/` through the same function in CI: an input that once
//! crashed a target stays a regression test.

pub mod graphql;
pub mod import;
pub mod storage;
pub mod webhook;

/// A fuzz target: its corpus folder name and the harness function it calls.
pub struct Target {
    /// The folder under `tests/fuzz/corpus/` and the cargo-fuzz target's name.
    pub name: &'static str,
    /// The harness.
    pub run: fn(&[u8]),
}

/// Every target, in the order the README lists them.
pub const TARGETS: [Target; 4] = [
    Target {
        name: "graphql_request",
        run: graphql::graphql_request,
    },
    Target {
        name: "storage_decoders",
        run: storage::storage_decoders,
    },
    Target {
        name: "alertmanager_webhook",
        run: webhook::alertmanager_webhook,
    },
    Target {
        name: "import_lines",
        run: import::import_lines,
    },
];
