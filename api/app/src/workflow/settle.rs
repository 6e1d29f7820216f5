//! Read-your-writes across a workflow: a command whose events start workflows
//! answers once the policies passed its events and every follow-up (and the
//! follow-ups' own follow-ups) is in the read models.

use super::follow_up::follow_up_ids;
use super::rules::{trigger_of, FollowUpKind, Trigger};
use crate::{AppError, AppService};
use opsledger_domain::DomainEvent;
use opsledger_storage::{decode_payload, AppendOutcome, RecordedEvent};

/// How deep follow-ups cause follow-ups (duplicate recorded → merged → groups released).
const MAX_DEPTH: usize = 3;

/// What a workflow came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// The last position the workflow wrote (the command's own if it has no follow-ups).
    pub last_position: u64,
    /// Whether a merge was undone because the duplicate refused it.
    pub merge_undone: bool,
}

/// Whether any of `records` starts a workflow.
pub fn starts_workflow(records: &[RecordedEvent]) -> bool {
    records.iter().any(|r| decoded_trigger(r).is_some())
}

fn decoded_trigger(record: &RecordedEvent) -> Option<Trigger> {
    let event: DomainEvent = decode_payload(&record.payload).ok()?;
    trigger_of(record, &event)
}

/// The records of one append.
pub async fn appended_records(
    app: &AppService,
    outcome: &AppendOutcome,
) -> Result<Vec<RecordedEvent>, AppError> {
    let count = outcome
        .last_position
        .saturating_sub(outcome.first_position)
        .saturating_add(1);
    Ok(app
        .store()
        .read_all(
            outcome.first_position,
            usize::try_from(count).unwrap_or(usize::MAX),
        )
        .await?)
}

/// Waits until the workflows `records` start are complete; returns where they ended.
pub async fn settle(app: &AppService, records: &[RecordedEvent]) -> Result<Settled, AppError> {
    let mut settled = Settled {
        last_position: records.iter().map(|r| r.position).max().unwrap_or(0),
        merge_undone: false,
    };
    let mut level: Vec<RecordedEvent> = records.to_vec();
    for _ in 0..MAX_DEPTH {
        let triggers: Vec<(RecordedEvent, Trigger)> = level
            .iter()
            .filter_map(|r| decoded_trigger(r).map(|t| (r.clone(), t)))
            .collect();
        let Some(last) = triggers.iter().map(|(r, _)| r.position).max() else {
            break;
        };
        app.wait_workflows(last).await?;
        let mut next = Vec::new();
        for (record, trigger) in &triggers {
            for id in follow_up_ids(app, record, trigger).await? {
                let Some(outcome) = app.store().command_outcome(&id).await? else {
                    continue;
                };
                if id.starts_with(&format!("wf:{}:", FollowUpKind::Unmerge.as_str())) {
                    settled.merge_undone = true;
                }
                settled.last_position = settled.last_position.max(outcome.last_position);
                next.extend(appended_records(app, &outcome).await?);
            }
        }
        level = next;
    }
    Ok(settled)
}
