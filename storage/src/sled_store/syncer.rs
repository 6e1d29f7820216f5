//! The second stage of the write pipeline: makes applied groups durable, then answers.
//!
//! The writer thread stages a group and applies it to sled (in memory), then hands it
//! here and goes on with the next group while this thread runs sled's flush and the
//! fdatasync of sled's data file. Groups are handled strictly in order; whatever is
//! queued when a flush starts is covered by that one flush. Only after its own flush
//! and fdatasync succeeded is a group made visible (`committed`), answered and
//! published. A failed flush or fdatasync is never acknowledged: writes stop, that
//! group and every later one get [`StoreError::WritesStopped`] with the reason.

use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::broadcast;

use super::writer::AppendReply;
use super::Shared;
use crate::error::StoreError;
use crate::event::{AppendOutcome, RecordedEvent};

/// A group already applied to sled, waiting to be made durable and answered.
pub(crate) struct AppliedGroup {
    /// The log's next position once this group is committed.
    pub(crate) next_position: u64,
    /// The group's events, in position order (empty if every append was rejected or a replay).
    pub(crate) events: Vec<RecordedEvent>,
    /// Every append's answer, sent once the group is durable.
    pub(crate) replies: Vec<(AppendReply, Result<AppendOutcome, StoreError>)>,
}

/// The durability stage: owns sled's data file and the subscribers' broadcast.
pub(crate) struct Syncer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) events_tx: broadcast::Sender<Arc<[RecordedEvent]>>,
    pub(crate) data_file: File,
    pub(crate) fsync_data_file: bool,
}

impl Syncer {
    /// Commit groups in order until the writer hangs up.
    pub(crate) fn run(self, rx: Receiver<AppliedGroup>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while let Ok(group) = rx.try_recv() {
                batch.push(group);
            }
            self.commit(batch);
        }
    }

    /// One flush + fdatasync for all of `batch` (if it wrote anything), then answer in order.
    fn commit(&self, batch: Vec<AppliedGroup>) {
        // Writes stop gracefully only after this thread ended: a reason here is a failure.
        if let Some(reason) = self.shared.stop_reason() {
            return reject_all(batch, &reason);
        }
        if batch.iter().any(|g| !g.events.is_empty()) {
            if let Err(reason) = self.make_durable() {
                tracing::error!(%reason, "event store write failed; it stops taking writes");
                self.shared.set_stopped(&reason);
                return reject_all(batch, &reason);
            }
        }
        for group in batch {
            if !group.events.is_empty() {
                self.shared
                    .committed
                    .store(group.next_position, Ordering::Release);
            }
            self.shared
                .stats
                .record_group(group.replies.len() as u64, group.events.len() as u64);
            for (reply, result) in group.replies {
                let _ = reply.send(result);
            }
            if !group.events.is_empty() {
                let _ = self.events_tx.send(Arc::from(group.events));
            }
        }
    }

    /// sled flush + fdatasync of its data file; the error says which step failed.
    fn make_durable(&self) -> Result<(), String> {
        self.shared
            .fault_check()
            .map_err(|e| format!("injected failure: {e}"))?;
        let started = Instant::now();
        self.shared
            .tree
            .flush()
            .map_err(|e| format!("sled flush failed: {e}"))?;
        let flushed = Instant::now();
        if self.fsync_data_file {
            self.data_file
                .sync_data()
                .map_err(|e| format!("fdatasync of sled's data file failed: {e}"))?;
        }
        self.shared
            .stats
            .record_sync(flushed - started, flushed.elapsed());
        Ok(())
    }
}

/// Answer every append of `batch` with [`StoreError::WritesStopped`].
pub(crate) fn reject_all(batch: Vec<AppliedGroup>, reason: &str) {
    for group in batch {
        for (reply, _) in group.replies {
            let _ = reply.send(Err(StoreError::WritesStopped {
                reason: reason.to_owned(),
            }));
        }
    }
}
