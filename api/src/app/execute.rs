//! One function per command kind: gather the facts, decide, append, follow up.

use super::stream::{append, load, AppendMeta, Loaded};
use super::{AppCommand, AppError, AppService, CommandMeta, CommandOutcome, Decided, MAX_ATTEMPTS};
use crate::auth::Principal;
use opsledger_domain::alert::{
    Alert, AlertGroupCommand, AlertGroupEvent, AlertGroupKey, AlertGroupState, IngestAlert,
    ReleaseGroup,
};
use opsledger_domain::change::{
    ChangeCommand, ChangeState, RequestChange, ScheduleChange, ServiceFact,
};
use opsledger_domain::freeze::{CancelFreeze, CreateFreeze, FreezeCommand, FreezeState};
use opsledger_domain::incident::{
    DeclareIncident, ImpactedService, IncidentCommand, IncidentEvent, IncidentState, ServiceFacts,
};
use opsledger_domain::review::{IncidentFacts, ReviewCommand, ReviewState, TimelineEntry};
use opsledger_domain::service::{
    RegisterService, RetireService, ServiceCommand, ServiceProfile, ServiceState, UpdateService,
};
use opsledger_domain::{
    Actor, Aggregate, ChangeId, Context, DomainEvent, FreezeId, IncidentId, ReviewId, ServiceId,
};
use opsledger_storage::{command_id, decode_payload, Ulid};
use std::time::{Duration, Instant};

/// Whether a command needs its stream to exist (and what to call it when it does not).
#[derive(Clone, Copy)]
enum Existing {
    /// The command creates the stream.
    Creates,
    /// The stream must exist; NOT_FOUND names this kind.
    Required(&'static str),
}

/// Dispatches `command`.
pub(super) async fn run(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    key: &str,
    command: AppCommand,
) -> Result<CommandOutcome, AppError> {
    let call = Call {
        app,
        who,
        meta,
        key,
    };
    match command {
        AppCommand::RegisterService { id, profile } => {
            let id = id.unwrap_or_else(|| ServiceId::new(Ulid::new()));
            let stream = id.stream_id();
            decide_outcome::<ServiceState>(&call, stream, Existing::Creates, |_, _| {
                let (name_taken, graph) = service_facts_for(app, id, &profile);
                Ok(ServiceCommand::Register(RegisterService {
                    id,
                    profile: profile.clone(),
                    name_taken,
                    dependency_graph: graph,
                }))
            })
            .await
        }
        AppCommand::UpdateService { id, profile } => {
            let stream = id.stream_id();
            decide_outcome::<ServiceState>(&call, stream, Existing::Required("service"), |_, _| {
                let (name_taken, graph) = service_facts_for(app, id, &profile);
                Ok(ServiceCommand::Update(UpdateService {
                    profile: profile.clone(),
                    name_taken,
                    dependency_graph: graph,
                }))
            })
            .await
        }
        AppCommand::RetireService { id, reason } => {
            let stream = id.stream_id();
            decide_outcome::<ServiceState>(&call, stream, Existing::Required("service"), |_, _| {
                Ok(ServiceCommand::Retire(RetireService {
                    reason: reason.clone(),
                }))
            })
            .await
        }
        AppCommand::DeclareIncident { id, input } => {
            let id = id.unwrap_or_else(|| IncidentId::new(Ulid::new()));
            let stream = id.stream_id();
            let mut impacts = Vec::with_capacity(input.impacts.len());
            for impact in &input.impacts {
                impacts.push(ImpactedService {
                    impact: *impact,
                    facts: incident_service_facts(app, impact.service)?,
                });
            }
            decide_outcome::<IncidentState>(&call, stream, Existing::Creates, |_, ctx| {
                let detected_at = input.detected_at.unwrap_or(ctx.now);
                Ok(IncidentCommand::Declare(DeclareIncident {
                    id,
                    title: input.title.clone(),
                    description: input.description.clone(),
                    severity: input.severity,
                    impacts: impacts.clone(),
                    started_at: input.started_at.unwrap_or(detected_at),
                    detected_at,
                    alert_group: None,
                }))
            })
            .await
        }
        AppCommand::Incident { id, command } => {
            incident_command(app, who, meta, key, id, command).await
        }
        AppCommand::MergeIncident { duplicate, target } => {
            merge(app, who, meta, key, duplicate, target).await
        }
        AppCommand::IngestAlert(input) => ingest_alert(app, who, meta, key, input).await,
        AppCommand::RequestChange { id, input } => {
            let id = id.unwrap_or_else(|| ChangeId::new(Ulid::new()));
            let stream = id.stream_id();
            let mut service_facts = Vec::with_capacity(input.services.len());
            for service in &input.services {
                let tier = app
                    .projections
                    .read(|m| m.services.get(*service).map(|v| v.profile.tier))
                    .ok_or_else(|| AppError::not_found("service", service))?;
                service_facts.push(ServiceFact { id: *service, tier });
            }
            decide_outcome::<ChangeState>(&call, stream, Existing::Creates, |_, ctx| {
                let recent_failures = app
                    .projections
                    .read(|m| m.changes.recent_failure_history(&input.services, ctx.now));
                Ok(ChangeCommand::Request(RequestChange {
                    id,
                    change_type: input.change_type,
                    category: input.category,
                    title: input.title.clone(),
                    description: input.description.clone(),
                    services: input.services.clone(),
                    window: input.window,
                    implementation_plan: input.implementation_plan.clone(),
                    rollback_plan: input.rollback_plan.clone(),
                    validation_steps: input.validation_steps.clone(),
                    service_facts: service_facts.clone(),
                    recent_failures,
                }))
            })
            .await
        }
        AppCommand::ScheduleChange { id, window } => {
            let stream = id.stream_id();
            decide_outcome::<ChangeState>(
                &call,
                stream,
                Existing::Required("change"),
                |state, _| {
                    let services = state
                        .request
                        .as_ref()
                        .map(|r| r.services.clone())
                        .unwrap_or_default();
                    let (active_freezes, overlapping_changes) = app.projections.read(|m| {
                        (
                            m.changes.active_freezes_overlapping(window),
                            m.changes
                                .change_windows_overlapping(window, &services, Some(id)),
                        )
                    });
                    Ok(ChangeCommand::Schedule(ScheduleChange {
                        window,
                        active_freezes,
                        overlapping_changes,
                    }))
                },
            )
            .await
        }
        AppCommand::Change { id, command } => {
            if matches!(
                command,
                ChangeCommand::Request(_) | ChangeCommand::Schedule(_)
            ) {
                return Err(AppError::invalid(
                    "command",
                    "use RequestChange / ScheduleChange (they gather the facts)",
                ));
            }
            let stream = id.stream_id();
            decide_outcome::<ChangeState>(&call, stream, Existing::Required("change"), |_, _| {
                Ok(command.clone())
            })
            .await
        }
        AppCommand::CreateFreeze {
            id,
            window,
            scope,
            reason,
        } => {
            let id = id.unwrap_or_else(|| FreezeId::new(Ulid::new()));
            let stream = id.stream_id();
            decide_outcome::<FreezeState>(&call, stream, Existing::Creates, |_, _| {
                Ok(FreezeCommand::Create(CreateFreeze {
                    id,
                    window,
                    scope: scope.clone(),
                    reason: reason.clone(),
                }))
            })
            .await
        }
        AppCommand::CancelFreeze { id, reason } => {
            let stream = id.stream_id();
            decide_outcome::<FreezeState>(&call, stream, Existing::Required("freeze"), |_, _| {
                Ok(FreezeCommand::Cancel(CancelFreeze {
                    reason: reason.clone(),
                }))
            })
            .await
        }
        AppCommand::CreateReview { id, incident } => {
            let id = id.unwrap_or_else(|| ReviewId::new(Ulid::new()));
            let stream = id.stream_id();
            let facts = incident_facts(app, incident).await?;
            decide_outcome::<ReviewState>(&call, stream, Existing::Creates, |_, _| {
                Ok(ReviewCommand::Create {
                    id,
                    incident: facts.clone(),
                })
            })
            .await
        }
        AppCommand::Review { id, command } => {
            if matches!(command, ReviewCommand::Create { .. }) {
                return Err(AppError::invalid(
                    "command",
                    "use CreateReview (it gathers the facts)",
                ));
            }
            let stream = id.stream_id();
            decide_outcome::<ReviewState>(&call, stream, Existing::Required("review"), |_, _| {
                Ok(command.clone())
            })
            .await
        }
    }
}

/// Who runs which command, with which idempotency key.
struct Call<'a> {
    app: &'a AppService,
    who: &'a Principal,
    meta: &'a CommandMeta,
    key: &'a str,
}

/// [`decide`], answered with the stream's [`CommandOutcome`] (the commands with no follow-up).
async fn decide_outcome<A: Aggregate>(
    call: &Call<'_>,
    stream_id: String,
    existing: Existing,
    make: impl Fn(&A, &Context) -> Result<A::Command, AppError>,
) -> Result<CommandOutcome, AppError>
where
    A::Command: Clone,
{
    let Call {
        app,
        who,
        meta,
        key,
    } = *call;
    let decided = decide::<A>(app, who, meta, key, &stream_id, existing, make).await?;
    Ok(outcome_of(app, stream_id, &decided))
}

/// Loads, decides and appends on one stream, re-deciding after a lost race
/// (unless the client named the version it expects).
async fn decide<A: Aggregate>(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    command_id: &str,
    stream_id: &str,
    existing: Existing,
    make: impl Fn(&A, &Context) -> Result<A::Command, AppError>,
) -> Result<Decided<A>, AppError>
where
    A::Command: Clone,
{
    let correlation_id = Ulid::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let loaded: Loaded<A> = app.load(stream_id).await?;
        if let Existing::Required(what) = existing {
            if loaded.last_version.is_none() {
                return Err(AppError::not_found(what, stream_id));
            }
        }
        if let Some(expected) = meta.expected_version {
            if loaded.last_version != Some(expected) {
                return Err(AppError::Conflict {
                    stream_id: stream_id.to_string(),
                    expected: Some(expected),
                    actual: loaded.last_version,
                });
            }
        }
        let ctx = who.context(app.clock.now());
        let command = make(&loaded.state, &ctx)?;
        let events = loaded.state.decide(command.clone(), &ctx)?;
        if events.is_empty() {
            return Ok(Decided {
                before: loaded.state,
                command,
                events,
                outcome: None,
                stream_version: loaded.last_version,
            });
        }
        let started = Instant::now();
        let appended = append::<A>(
            app.store.as_ref(),
            AppendMeta {
                stream_id,
                expected: loaded.expected(),
                command_id,
                actor: who.actor.as_str(),
                correlation_id,
                recorded_at_ms: ctx.now.millis(),
            },
            &events,
        )
        .await;
        if let Some(metrics) = app.metrics.get() {
            metrics.observe_append(started.elapsed());
        }
        match appended {
            Ok(outcome) => {
                app.aggregate_cache
                    .remember_append(stream_id, &loaded, &events, &outcome);
                return Ok(Decided {
                    before: loaded.state,
                    command,
                    events,
                    stream_version: Some(outcome.stream_version),
                    outcome: Some(outcome),
                });
            }
            Err(AppError::Conflict { .. })
                if meta.expected_version.is_none() && attempt < MAX_ATTEMPTS =>
            {
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(other) => return Err(other),
        }
    }
}

/// A short, jittered pause before re-deciding after a lost race.
fn backoff(attempt: u32) -> Duration {
    let jitter = u64::from(Ulid::new().random() as u8 % 8);
    Duration::from_millis(u64::from(attempt.min(10)) + jitter)
}

/// The outcome of a single-stream command.
fn outcome_of<A: Aggregate>(
    app: &AppService,
    stream_id: String,
    decided: &Decided<A>,
) -> CommandOutcome {
    CommandOutcome {
        stream_id,
        position: decided
            .outcome
            .as_ref()
            .map(|o| o.last_position)
            .or_else(|| app.store.head_position())
            .unwrap_or(0),
        stream_version: decided.stream_version,
        events_written: decided.events.len(),
        replayed: false,
        incident: None,
    }
}

/// Name-uniqueness and dependency facts for registering or updating `id`.
fn service_facts_for(
    app: &AppService,
    id: ServiceId,
    profile: &ServiceProfile,
) -> (bool, opsledger_domain::service::DependencyGraph) {
    app.projections.read(|m| {
        let name_taken = m
            .services
            .by_name(&profile.name)
            .is_some_and(|other| other.id != id);
        (name_taken, m.services.dependency_graph_without(Some(id)))
    })
}

/// The facts about a service an incident declaration needs.
fn incident_service_facts(app: &AppService, id: ServiceId) -> Result<ServiceFacts, AppError> {
    app.projections
        .read(|m| {
            m.services.get(id).map(|v| ServiceFacts {
                tier: v.profile.tier,
                retired: v.retired,
                escalation_policy: v.profile.escalation_policy.clone(),
            })
        })
        .ok_or_else(|| AppError::not_found("service", id))
}

/// The facts about an incident a review needs (status, severity, generated timeline).
async fn incident_facts(app: &AppService, id: IncidentId) -> Result<IncidentFacts, AppError> {
    let loaded: Loaded<IncidentState> = load(app.store.as_ref(), &id.stream_id()).await?;
    if !loaded.state.is_declared() {
        return Err(AppError::not_found("incident", id));
    }
    let timeline =
        opsledger_projections::models::incidents::incident_timeline(app.store.as_ref(), id)
            .await
            .map_err(AppError::Projection)?
            .into_iter()
            .map(|item| TimelineEntry {
                at: item.at,
                actor: Actor(item.actor),
                kind: item.kind,
                text: item.text,
            })
            .collect();
    Ok(IncidentFacts {
        id,
        status: loaded.state.status,
        severity: loaded.state.severity,
        timeline,
    })
}

/// Any incident command but Declare / merge; releases alert groups when the incident ends.
async fn incident_command(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    key: &str,
    id: IncidentId,
    command: IncidentCommand,
) -> Result<CommandOutcome, AppError> {
    if matches!(
        command,
        IncidentCommand::Declare(_)
            | IncidentCommand::MergeInto { .. }
            | IncidentCommand::AbsorbDuplicate { .. }
    ) {
        return Err(AppError::invalid(
            "command",
            "use DeclareIncident / MergeIncident (they gather the facts)",
        ));
    }
    let stream = id.stream_id();
    let decided = decide::<IncidentState>(
        app,
        who,
        meta,
        key,
        &stream,
        Existing::Required("incident"),
        |_, _| Ok(command.clone()),
    )
    .await?;
    let mut outcome = outcome_of(app, stream, &decided);
    if ends_incident(&decided.events) {
        let released = release_groups(app, who, key, id, &decided.before.alert_groups).await?;
        outcome.position = released
            .max(Some(outcome.position))
            .unwrap_or(outcome.position);
    }
    outcome.incident = Some(id);
    Ok(outcome)
}

/// Whether the events resolve, close or merge the incident (its alert groups are then free).
fn ends_incident(events: &[IncidentEvent]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            IncidentEvent::Resolved(_) | IncidentEvent::Closed(_) | IncidentEvent::MergedInto(_)
        )
    })
}

/// Sends ReleaseGroup to every alert group of `incident`; a group that moved on is fine.
async fn release_groups(
    app: &AppService,
    who: &Principal,
    key: &str,
    incident: IncidentId,
    groups: &[AlertGroupKey],
) -> Result<Option<u64>, AppError> {
    let meta = CommandMeta::default();
    let mut last = None;
    for group in groups {
        let stream = group.stream_id();
        let command_id = release_key(key, &stream);
        let released = decide::<AlertGroupState>(
            app,
            who,
            &meta,
            &command_id,
            &stream,
            Existing::Required("alert group"),
            |_, _| {
                Ok(AlertGroupCommand::Release(ReleaseGroup {
                    incident_id: incident,
                }))
            },
        )
        .await;
        match released {
            Ok(decided) => {
                last = decided.outcome.map(|o| o.last_position).max(last);
            }
            Err(AppError::Domain(_)) | Err(AppError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(last)
}

/// The command id of the release of group `stream` caused by command `key` (untagged:
/// the command's own id part names it).
fn release_key(key: &str, stream: &str) -> String {
    format!("{}:release:{stream}", command_id::id_part(key))
}

/// AbsorbDuplicate on the target, then MergeInto on the duplicate.
async fn merge(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    key: &str,
    duplicate: IncidentId,
    target: IncidentId,
) -> Result<CommandOutcome, AppError> {
    let absorb_key = format!("{}:absorb", command_id::id_part(key));
    if app.store.command_outcome(&absorb_key).await?.is_none() {
        // Validate both sides before writing either: a refusal on the duplicate
        // (closed, already merged) must not leave the target recording it. Two
        // streams cannot be appended atomically, so a command that closes the
        // duplicate between this check and its MergeInto can still leave the
        // target's record behind (a narrow race, not a rule the client can hit).
        let dup: Loaded<IncidentState> = load(app.store.as_ref(), &duplicate.stream_id()).await?;
        let tgt: Loaded<IncidentState> = load(app.store.as_ref(), &target.stream_id()).await?;
        for (loaded, id) in [(&dup, duplicate), (&tgt, target)] {
            if loaded.last_version.is_none() {
                return Err(AppError::not_found("incident", id.stream_id()));
            }
        }
        let ctx = who.context(app.clock.now());
        opsledger_domain::incident::check_merge(&dup.state, &tgt.state, target, duplicate, &ctx)?;
        let target_meta = CommandMeta::default();
        decide::<IncidentState>(
            app,
            who,
            &target_meta,
            &absorb_key,
            &target.stream_id(),
            Existing::Required("incident"),
            |_, _| Ok(IncidentCommand::AbsorbDuplicate { duplicate }),
        )
        .await?;
    }
    let stream = duplicate.stream_id();
    let decided = decide::<IncidentState>(
        app,
        who,
        meta,
        key,
        &stream,
        Existing::Required("incident"),
        |_, _| Ok(IncidentCommand::MergeInto { target }),
    )
    .await?;
    let released = release_groups(app, who, key, duplicate, &decided.before.alert_groups).await?;
    let mut outcome = outcome_of(app, stream, &decided);
    outcome.position = released
        .max(Some(outcome.position))
        .unwrap_or(outcome.position);
    outcome.incident = Some(target);
    Ok(outcome)
}

/// Ingests an alert into its group; declares the incident when the group opens one.
async fn ingest_alert(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    key: &str,
    input: super::AlertInput,
) -> Result<CommandOutcome, AppError> {
    let service_facts = incident_service_facts(app, input.service)?;
    let group = AlertGroupKey::new(input.service, input.dedup_key.clone())
        .map_err(|e| AppError::Domain(e.into()))?;
    let stream = group.stream_id();
    let new_incident_id = IncidentId::new(Ulid::new());
    let decided =
        decide::<AlertGroupState>(app, who, meta, key, &stream, Existing::Creates, |_, ctx| {
            Ok(AlertGroupCommand::Ingest(IngestAlert {
                alert: Alert {
                    group: group.clone(),
                    source: input.source.clone(),
                    summary: input.summary.clone(),
                    severity_hint: input.severity_hint,
                    labels: input.labels.clone(),
                    started_at: input.started_at,
                    received_at: ctx.now,
                },
                firing: input.firing,
                impact: input.impact,
                new_incident_id,
                service_facts: service_facts.clone(),
            }))
        })
        .await?;
    let mut outcome = outcome_of(app, stream, &decided);
    outcome.incident = incident_of_group_events(&decided.events);
    if let (Some(opened), AlertGroupCommand::Ingest(ingest)) =
        (opened_incident(&decided.events), &decided.command)
    {
        let declare = ingest.declare_incident();
        let declare_key = declare_key(key);
        let declared = decide::<IncidentState>(
            app,
            who,
            &CommandMeta::default(),
            &declare_key,
            &opened.stream_id(),
            Existing::Creates,
            |_, _| Ok(IncidentCommand::Declare(declare.clone())),
        )
        .await?;
        if let Some(appended) = declared.outcome {
            outcome.position = appended.last_position;
        }
    } else if let Some(incident) = outcome.incident {
        // Attached to an incident whose declaration another writer may still be appending.
        app.wait_for(outcome.position).await?;
        app.wait_for_incident(incident).await;
    }
    Ok(outcome)
}

/// The command id of the declaration an alert's ingestion causes.
fn declare_key(key: &str) -> String {
    format!("{}:declare", command_id::id_part(key))
}

/// The incident a group opened in these events.
fn opened_incident(events: &[AlertGroupEvent]) -> Option<IncidentId> {
    events.iter().find_map(|e| match e {
        AlertGroupEvent::IncidentOpened(opened) => Some(opened.incident_id),
        _ => None,
    })
}

/// The incident an alert opened, attached to or resolved against.
fn incident_of_group_events(events: &[AlertGroupEvent]) -> Option<IncidentId> {
    events.iter().find_map(|e| match e {
        AlertGroupEvent::IncidentOpened(opened) => Some(opened.incident_id),
        AlertGroupEvent::Attached(attached) => Some(attached.incident_id),
        AlertGroupEvent::Resolved(resolved) => resolved.incident_id,
        _ => None,
    })
}

/// Fills in what a replayed command's original append implies (alert ingestion's incident).
pub(super) async fn complete_replay(
    app: &AppService,
    key: &str,
    appended: &[opsledger_storage::RecordedEvent],
    outcome: &mut CommandOutcome,
) -> Result<(), AppError> {
    if let Some(incident) = IncidentId::from_stream_id(&outcome.stream_id) {
        // The original call may have released alert groups after its own append.
        let loaded: Loaded<IncidentState> = load(app.store.as_ref(), &outcome.stream_id).await?;
        for group in &loaded.state.alert_groups {
            let release_key = release_key(key, &group.stream_id());
            if let Some(released) = app.store.command_outcome(&release_key).await? {
                outcome.position = outcome.position.max(released.last_position);
            }
        }
        outcome.incident = loaded.state.merged_into.or(Some(incident));
        return Ok(());
    }
    let events: Vec<AlertGroupEvent> = appended
        .iter()
        .filter_map(|r| match decode_payload::<DomainEvent>(&r.payload) {
            Ok(DomainEvent::AlertGroup(e)) => Some(e),
            _ => None,
        })
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    outcome.incident = incident_of_group_events(&events);
    if let Some(declared) = app.store.command_outcome(&declare_key(key)).await? {
        outcome.position = declared.last_position;
    }
    Ok(())
}
