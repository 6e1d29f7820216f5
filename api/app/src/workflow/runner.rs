//! The policy runner: one task per process that follows the log from its
//! durable checkpoint and carries out the follow-ups of every trigger, in log
//! order (a process manager, like esrs's event handlers or GoAlert's engine).
//!
//! It publishes how far it got (the next position it will react to), so a
//! command can wait for its own workflow; it saves its checkpoint after every
//! chunk with a trigger and at least once a second while events flow, only
//! after the chunk's follow-ups are durable. After a crash it reacts again from
//! the checkpoint; follow-ups already appended are skipped by their ids.

use super::checkpoint;
use super::follow_up::complete;
use super::rules::{trigger_of, Trigger};
use crate::{crash_point, AppError, AppService};
use futures::StreamExt;
use opsledger_domain::DomainEvent;
use opsledger_storage::{decode_payload, RecordedEvent};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Events taken from the subscription at once.
const CHUNK: usize = 256;
/// How often the checkpoint is saved while events without triggers flow.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// The longest pause between retries of a follow-up the store failed.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// The running policies of one process.
pub struct WorkflowRunner {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkflowRunner {
    /// Starts reacting from the checkpoint in `checkpoint_dir` (from the start
    /// of the log, and without saving, when `None`).
    pub fn start(app: Arc<AppService>, checkpoint_dir: Option<PathBuf>) -> WorkflowRunner {
        let path = checkpoint_dir.map(|dir| checkpoint::checkpoint_path(&dir));
        let next = path.as_deref().map_or(0, checkpoint::load);
        app.workflows_start_at(next);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(follow(app, path, next, stopped));
        WorkflowRunner { stop, task }
    }

    /// Stops after the follow-up in progress and saves the checkpoint.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(err) = self.task.await {
            tracing::warn!(error = %err, "the workflow policies ended abnormally");
        }
    }
}

/// Whether waiting for more is over.
fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

async fn follow(
    app: Arc<AppService>,
    path: Option<PathBuf>,
    mut next: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut saved = next;
    let mut last_save = Instant::now();
    'subscribe: while !stopping(&stop) {
        let mut events = app.store().subscribe(next).ready_chunks(CHUNK);
        loop {
            let chunk = tokio::select! {
                _ = stop.changed() => break 'subscribe,
                chunk = events.next() => chunk,
            };
            let Some(chunk) = chunk else {
                // The store stopped (shutdown) or the subscription ended: try again.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue 'subscribe;
            };
            let mut triggered = false;
            for item in chunk {
                let record = match item {
                    Ok(record) => record,
                    Err(err) => {
                        tracing::warn!(error = %err, "workflow subscription failed: resubscribing");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'subscribe;
                    }
                };
                if record.position < next {
                    continue;
                }
                if let Some(trigger) = trigger_in(&record) {
                    triggered = true;
                    if !react(&app, &record, &trigger, &mut stop).await {
                        break 'subscribe;
                    }
                }
                next = record.position + 1;
                app.workflows_passed(next);
            }
            if next != saved && (triggered || last_save.elapsed() >= SAVE_EVERY) {
                save(path.as_ref(), next);
                saved = next;
                last_save = Instant::now();
            }
        }
    }
    if next != saved {
        save(path.as_ref(), next);
    }
}

/// The workflow `record` starts (only triggering types are decoded).
fn trigger_in(record: &RecordedEvent) -> Option<Trigger> {
    if !super::rules::may_trigger(&record.type_name) {
        return None;
    }
    match decode_payload::<DomainEvent>(&record.payload) {
        Ok(event) => trigger_of(record, &event),
        Err(err) => {
            tracing::error!(position = record.position, error = %err, "undecodable event: no workflow can follow it");
            None
        }
    }
}

/// Carries out `trigger`, retrying what the infrastructure failed; `false`
/// when asked to stop before it succeeded.
async fn react(
    app: &AppService,
    record: &RecordedEvent,
    trigger: &Trigger,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let mut pause = Duration::from_millis(10);
    loop {
        match complete(app, record, trigger).await {
            Ok(()) => return true,
            Err(err) if is_transient(&err) => {
                tracing::warn!(position = record.position, error = %err, "workflow follow-up failed: retrying");
                app.workflow_failed(false);
                tokio::select! {
                    _ = stop.changed() => return false,
                    _ = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
            Err(err) => {
                tracing::error!(position = record.position, stream = %record.stream_id, error = %err, ?trigger, "workflow follow-up refused for good: it will not happen");
                app.workflow_failed(true);
                return true;
            }
        }
    }
}

/// Whether `err` may go away by trying again (the store, a race, a slow read model).
fn is_transient(err: &AppError) -> bool {
    matches!(
        err,
        AppError::Store(_)
            | AppError::Projection(_)
            | AppError::Conflict { .. }
            | AppError::ProjectionLag { .. }
            | AppError::WorkflowLag { .. }
    )
}

fn save(path: Option<&PathBuf>, next: u64) {
    let Some(path) = path else { return };
    crash_point::reach("workflow.before_checkpoint");
    if let Err(err) = checkpoint::save(path, next) {
        tracing::warn!(path = %path.display(), error = %err, "cannot save the workflow checkpoint (the policies will react again from the last one)");
    }
}
