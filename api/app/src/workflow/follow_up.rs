//! Carrying out a trigger's follow-ups, each at most once (its command id is
//! derived from the triggering event, see [`super::rules`]), whoever reacts and
//! however often.

use super::rules::{follow_up_id, FollowUpKind, Trigger};
use crate::crash_point;
use crate::decide::{decide, Existing};
use crate::facts::incident_service_facts;
use crate::stream::Loaded;
use crate::Principal;
use crate::{AppError, AppService, CommandMeta};
use opsledger_domain::alert::{
    declaration_for, AlertGroupCommand, AlertGroupEvent, AlertGroupState, ReleaseGroup,
};
use opsledger_domain::incident::{
    DeclarationFacts, ImpactLevel, IncidentCommand, IncidentError, IncidentState, IncidentStatus,
};
use opsledger_domain::{Aggregate, DomainError, DomainEvent, IncidentId, Role};
use opsledger_storage::{decode_payload, Direction, RecordedEvent};

/// The impact of incidents opened by schema-1 openings, which did not record
/// theirs (only a crash inside an older version leaves one undeclared).
pub const SCHEMA_1_IMPACT: ImpactLevel = ImpactLevel::Degraded;

/// Carries out every follow-up of `trigger` (caused by `record`) not done yet.
pub async fn complete(
    app: &AppService,
    record: &RecordedEvent,
    trigger: &Trigger,
) -> Result<(), AppError> {
    match trigger {
        Trigger::Declare {
            incident, impact, ..
        } => declare(app, record, trigger, *incident, *impact).await,
        Trigger::Release { incident, .. } => release(app, record, trigger, *incident).await,
        Trigger::MarkMerged {
            target, duplicate, ..
        } => mark_merged(app, record, trigger, *target, *duplicate).await,
    }
}

/// The ids of `trigger`'s follow-ups (they may not all have happened).
pub async fn follow_up_ids(
    app: &AppService,
    record: &RecordedEvent,
    trigger: &Trigger,
) -> Result<Vec<String>, AppError> {
    let id = |kind, stream: Option<&str>| follow_up_id(kind, record.event_id, stream);
    Ok(match trigger {
        Trigger::Declare { .. } => vec![id(FollowUpKind::Declare, None)],
        Trigger::Release { incident, .. } => {
            let loaded: Loaded<IncidentState> = app.load(&incident.stream_id()).await?;
            loaded
                .state
                .alert_groups
                .iter()
                .map(|g| id(FollowUpKind::Release, Some(&g.stream_id())))
                .collect()
        }
        Trigger::MarkMerged { .. } => vec![
            id(FollowUpKind::Merge, None),
            id(FollowUpKind::Unmerge, None),
        ],
    })
}

/// The principal a follow-up acts as: the actor of the triggering command (who
/// was allowed to cause it; a follow-up is not an operation the guard checks).
fn acting_for(record: &RecordedEvent) -> Principal {
    Principal::new(record.actor.clone(), vec![Role::Responder])
}

/// Whether the follow-up `command_id` was already appended.
async fn done(app: &AppService, command_id: &str) -> Result<bool, AppError> {
    Ok(app.store().command_outcome(command_id).await?.is_some())
}

/// One follow-up of one trigger: what caused it, what it is, its derived id.
struct FollowUp<'a> {
    record: &'a RecordedEvent,
    trigger: &'a Trigger,
    kind: FollowUpKind,
    command_id: &'a str,
}

/// Appends one follow-up with `decide`, between its crash points; a follow-up
/// someone else appended first (the same derived id) counts as done.
async fn append_follow_up<A: Aggregate>(
    app: &AppService,
    follow_up: FollowUp<'_>,
    stream: &str,
    existing: Existing,
    command: A::Command,
    facts: A::Facts,
) -> Result<(), AppError>
where
    A::Facts: Clone,
    A::Command: Clone,
{
    let FollowUp {
        record,
        trigger,
        kind,
        command_id,
    } = follow_up;
    crash_point::reach(&format!("workflow.before_follow_up:{}", kind.as_str()));
    let decided = decide::<A>(
        app,
        &acting_for(record),
        &CommandMeta::default(),
        command_id,
        stream,
        existing,
        Some(trigger.at()),
        &command,
        |_, _| Ok(facts.clone()),
    )
    .await;
    match decided {
        Ok(_) => {}
        Err(AppError::IdempotencyConflict { key }) if key == command_id => {}
        Err(other) => return Err(other),
    }
    crash_point::reach(&format!("workflow.after_follow_up:{}", kind.as_str()));
    Ok(())
}

/// Declares the incident a group opened, from the group's own events.
async fn declare(
    app: &AppService,
    record: &RecordedEvent,
    trigger: &Trigger,
    incident: IncidentId,
    impact: Option<ImpactLevel>,
) -> Result<(), AppError> {
    let command_id = follow_up_id(FollowUpKind::Declare, record.event_id, None);
    if done(app, &command_id).await? {
        return Ok(());
    }
    let stream = incident.stream_id();
    let current: Loaded<IncidentState> = app.load(&stream).await?;
    if current.state.is_declared() {
        // Declared in line by a version before the policies.
        return Ok(());
    }
    let alert = received_alert_before(app, record).await?;
    let facts = DeclarationFacts::of(
        alert.group.service,
        incident_service_facts(app, alert.group.service)?,
    );
    let declaration = declaration_for(&alert, incident, impact.unwrap_or(SCHEMA_1_IMPACT));
    let outcome = append_follow_up::<IncidentState>(
        app,
        FollowUp {
            record,
            trigger,
            kind: FollowUpKind::Declare,
            command_id: &command_id,
        },
        &stream,
        Existing::Creates,
        IncidentCommand::Declare(declaration),
        facts,
    )
    .await;
    match outcome {
        Err(AppError::Domain(DomainError::Incident(IncidentError::AlreadyDeclared))) => Ok(()),
        other => other,
    }
}

/// The alert of the `AlertReceived` the same append recorded just before `record`.
async fn received_alert_before(
    app: &AppService,
    record: &RecordedEvent,
) -> Result<opsledger_domain::alert::Alert, AppError> {
    let missing = || AppError::Decode {
        stream_id: record.stream_id.clone(),
        reason: format!(
            "no AlertReceived before the opening at version {}",
            record.stream_version
        ),
    };
    let before = record.stream_version.checked_sub(1).ok_or_else(missing)?;
    let events = app
        .store()
        .read_stream(&record.stream_id, before, Direction::Forward, 1)
        .await?;
    let received = events.first().ok_or_else(missing)?;
    match decode_payload::<DomainEvent>(&received.payload) {
        Ok(DomainEvent::AlertGroup(AlertGroupEvent::Received(r)))
            if received.command_id == record.command_id =>
        {
            Ok(r.alert)
        }
        _ => Err(missing()),
    }
}

/// Whether the incident is still over (a reopened incident keeps its groups).
fn still_ended(state: &IncidentState) -> bool {
    state.merged_into.is_some() || state.status >= IncidentStatus::Resolved
}

/// Releases every alert group of an incident that ended (and is still over).
async fn release(
    app: &AppService,
    record: &RecordedEvent,
    trigger: &Trigger,
    incident: IncidentId,
) -> Result<(), AppError> {
    let loaded: Loaded<IncidentState> = app.load(&incident.stream_id()).await?;
    if !still_ended(&loaded.state) {
        return Ok(());
    }
    for group in &loaded.state.alert_groups {
        let stream = group.stream_id();
        let command_id = follow_up_id(FollowUpKind::Release, record.event_id, Some(&stream));
        if done(app, &command_id).await? {
            continue;
        }
        let released = append_follow_up::<AlertGroupState>(
            app,
            FollowUp {
                record,
                trigger,
                kind: FollowUpKind::Release,
                command_id: &command_id,
            },
            &stream,
            Existing::Required("alert group"),
            AlertGroupCommand::Release(ReleaseGroup {
                incident_id: incident,
            }),
            Default::default(),
        )
        .await;
        match released {
            // The group moved on (released before, or another incident's now).
            Ok(()) | Err(AppError::Domain(_)) | Err(AppError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// Marks the duplicate a target recorded as merged into it; when the duplicate
/// refuses, takes it back from the target, so a merge is both sides or neither.
async fn mark_merged(
    app: &AppService,
    record: &RecordedEvent,
    trigger: &Trigger,
    target: IncidentId,
    duplicate: IncidentId,
) -> Result<(), AppError> {
    let merge_id = follow_up_id(FollowUpKind::Merge, record.event_id, None);
    let unmerge_id = follow_up_id(FollowUpKind::Unmerge, record.event_id, None);
    if done(app, &merge_id).await? || done(app, &unmerge_id).await? {
        return Ok(());
    }
    let dup: Loaded<IncidentState> = app.load(&duplicate.stream_id()).await?;
    if dup.state.merged_into == Some(target) {
        // Merged in line by a version before the policies.
        return Ok(());
    }
    let merged = append_follow_up::<IncidentState>(
        app,
        FollowUp {
            record,
            trigger,
            kind: FollowUpKind::Merge,
            command_id: &merge_id,
        },
        &duplicate.stream_id(),
        Existing::Required("incident"),
        IncidentCommand::MergeInto { target },
        DeclarationFacts::default(),
    )
    .await;
    let refusal = match merged {
        Ok(()) => return Ok(()),
        Err(refused @ (AppError::Domain(_) | AppError::NotFound { .. })) => refused,
        Err(other) => return Err(other),
    };
    tracing::warn!(%target, %duplicate, reason = %refusal, "the duplicate refused its merge: undoing the target's record");
    let undone = append_follow_up::<IncidentState>(
        app,
        FollowUp {
            record,
            trigger,
            kind: FollowUpKind::Unmerge,
            command_id: &unmerge_id,
        },
        &target.stream_id(),
        Existing::Required("incident"),
        IncidentCommand::UndoDuplicateMerge {
            duplicate,
            reason: refusal.to_string(),
        },
        DeclarationFacts::default(),
    )
    .await;
    match undone {
        Ok(()) | Err(AppError::Domain(_)) => Ok(()),
        Err(other) => Err(other),
    }
}
