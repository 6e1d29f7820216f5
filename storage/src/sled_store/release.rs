//! Reopening a directory in the same process right after its store was stopped.
//!
//! After [`crate::EventStore::flush_and_stop`] the store's shared state (sled and the
//! directory lock) lives on until its last holder lets go: a blocking read that was
//! already running, a subscription its consumer has not dropped yet. An open of the
//! same directory in that moment would fail with `Locked` although nobody is using
//! the store any more. So a stopped store is registered here until its lock file is
//! closed, and an open that finds the directory locked waits (for a bounded time)
//! while a stopped store of this process still holds it. A store that is not
//! stopped, or another process, still gets `Locked` at once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an open waits for a stopped store of this process to let go.
pub(super) const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Directories of stopped stores of this process whose lock is still held.
static STOPPED_HOLDING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Part of a store's shared state, dropped after its lock file: once the store
/// is stopped, it marks the directory as "held by a stopped store" until then.
#[derive(Default)]
pub(super) struct ReleaseMark {
    dir: Mutex<Option<PathBuf>>,
}

impl ReleaseMark {
    /// The store of `dir` stopped gracefully: register it until it is dropped.
    pub(super) fn stopped(&self, dir: &Path) {
        let Some(key) = key_of(dir) else { return };
        let mut mark = self.dir.lock().unwrap_or_else(PoisonError::into_inner);
        if mark.is_none() {
            with_registry(|holding| holding.insert(key.clone()));
            *mark = Some(key);
        }
    }
}

impl Drop for ReleaseMark {
    fn drop(&mut self) {
        let mark = self.dir.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = mark.take() {
            with_registry(|holding| holding.remove(&key));
        }
    }
}

/// Wait (up to `limit`) while a stopped store of this process holds `dir`.
/// Returns at once if none does.
pub(super) fn wait_while_stopped_store_holds(dir: &Path, limit: Duration) {
    let Some(key) = key_of(dir) else { return };
    let deadline = Instant::now() + limit;
    while with_registry(|holding| holding.contains(&key)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn with_registry<T>(f: impl FnOnce(&mut HashSet<PathBuf>) -> T) -> T {
    let mut registry = STOPPED_HOLDING
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    f(registry.get_or_insert_with(HashSet::new))
}

/// One name per directory, however it was spelled.
fn key_of(dir: &Path) -> Option<PathBuf> {
    dir.canonicalize().ok()
}
