//! Workflows across streams as resumable policies (process managers).
//!
//! A command writes only to its own stream. Every effect on another stream —
//! alert → incident declaration; resolve / close / merge → release of the
//! incident's alert groups; a recorded duplicate → the duplicate marked merged
//! (or, if it refuses, the record undone) — is a follow-up that the
//! [`WorkflowRunner`] appends when it reaches the triggering event in the log,
//! with a command id derived from that event's id ([`rules`]). The runner keeps
//! a durable checkpoint; after a crash at any point it reacts again from there
//! and every follow-up happens exactly once. A command whose events start a
//! workflow answers once the workflow completed ([`settle`]), like
//! read-your-writes. Escalation deadlines are the one timer-driven policy
//! (`super::escalation`): its state is the incident's own deadline, so it
//! needs no checkpoint.

pub mod checkpoint;
pub mod follow_up;
pub mod rules;
pub mod runner;
pub mod settle;

pub use runner::WorkflowRunner;
pub use settle::{settle, Settled};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::watch;

/// How far the policies of this process got, for commands to wait on.
#[derive(Debug)]
pub struct WorkflowProgress {
    next: watch::Sender<u64>,
    running: AtomicBool,
    failed_for_good: AtomicU64,
    retried: AtomicU64,
}

impl Default for WorkflowProgress {
    fn default() -> Self {
        WorkflowProgress {
            next: watch::channel(0).0,
            running: AtomicBool::new(false),
            failed_for_good: AtomicU64::new(0),
            retried: AtomicU64::new(0),
        }
    }
}

impl WorkflowProgress {
    /// The runner starts reacting at `next`.
    pub fn start_at(&self, next: u64) {
        self.next.send_replace(next);
        self.running.store(true, Ordering::SeqCst);
    }

    /// Everything before `next` has been reacted to.
    pub fn passed(&self, next: u64) {
        self.next.send_replace(next);
    }

    /// Whether a runner reacts in this process.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// The next position the runner reacts to.
    pub fn next(&self) -> u64 {
        *self.next.borrow()
    }

    /// A receiver of the next position.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.next.subscribe()
    }

    /// Counts a failed follow-up (`for_good`: it will not happen).
    pub fn failed(&self, for_good: bool) {
        let counter = if for_good {
            &self.failed_for_good
        } else {
            &self.retried
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Follow-ups refused for good, and retried failures, since start.
    pub fn failures(&self) -> (u64, u64) {
        (
            self.failed_for_good.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
        )
    }
}
