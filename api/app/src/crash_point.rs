//! Crash points for crash tests: `OPSLEDGER_CRASH_AT=<name>` makes the process
//! abort (as a `kill -9` would end it: no unwinding, no flush, no snapshot) the
//! first time it reaches the point `<name>`. Unset (production), a point costs
//! one comparison with a cached `None`.
//!
//! Points: `workflow.before_follow_up:<kind>` and `workflow.after_follow_up:<kind>`
//! around every follow-up append of the workflow policies (`<kind>`: `declare`,
//! `release`, `merge`, `unmerge`), and `workflow.before_checkpoint` before the
//! policies save their checkpoint.

use std::sync::OnceLock;

/// The environment variable naming the point to crash at.
pub const CRASH_AT_ENV: &str = "OPSLEDGER_CRASH_AT";

fn target() -> Option<&'static str> {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    TARGET
        .get_or_init(|| std::env::var(CRASH_AT_ENV).ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// Aborts the process if `OPSLEDGER_CRASH_AT` names `point`.
pub fn reach(point: &str) {
    if target() == Some(point) {
        eprintln!("opsledger: crash point {point} reached ({CRASH_AT_ENV}): aborting");
        std::process::abort();
    }
}
