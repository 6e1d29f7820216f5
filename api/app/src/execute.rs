//! One function per command kind: gather the facts, decide, append, follow up.

use super::decide::{decide, Existing};
use super::facts::{catalog_facts, incident_facts, incident_service_facts};
use super::stream::Loaded;
use super::workflow;
use super::{AppCommand, AppError, AppService, CommandMeta, CommandOutcome, Decided};
use crate::Principal;
use opsledger_domain::alert::{
    AlertError, AlertFacts, AlertGroupCommand, AlertGroupEvent, AlertGroupState, IngestAlert,
};
use opsledger_domain::change::{ChangeCommand, ChangeFacts, ChangeState, ServiceFact};
use opsledger_domain::freeze::{FreezeCommand, FreezeState};
use opsledger_domain::incident::{DeclarationFacts, IncidentCommand, IncidentState};
use opsledger_domain::review::{ReviewCommand, ReviewFacts, ReviewState};
use opsledger_domain::service::{ServiceCommand, ServiceState};
use opsledger_domain::{Aggregate, ChangeId, Context, DomainEvent, IncidentId, ServiceId};
use opsledger_storage::{decode_payload, RecordedEvent};

/// Dispatches `command`: gathers the facts its intent needs and decides it.
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
        AppCommand::Service { id, intent } => service_command(&call, id, intent).await,
        AppCommand::Incident { id, intent } => incident_command(&call, id, intent).await,
        AppCommand::MergeIncident { duplicate, target } => {
            merge(app, who, meta, key, duplicate, target).await
        }
        AppCommand::IngestAlert(intent) => ingest_alert(app, who, meta, key, intent).await,
        AppCommand::Change { id, intent } => change_command(&call, id, intent).await,
        AppCommand::Freeze { id, intent } => {
            let existing = match &intent {
                FreezeCommand::Create(create) => {
                    same_id("id", create.id, id)?;
                    Existing::Creates
                }
                FreezeCommand::Cancel(_) => Existing::Required("freeze"),
            };
            decide_outcome::<FreezeState>(&call, id.stream_id(), existing, &intent, |_, _| Ok(()))
                .await
        }
        AppCommand::Review { id, intent } => {
            let (existing, facts) = match &intent {
                ReviewCommand::Create {
                    id: named,
                    incident,
                } => {
                    same_id("id", *named, id)?;
                    let facts = ReviewFacts {
                        incident: Some(incident_facts(app, *incident).await?),
                    };
                    (Existing::Creates, facts)
                }
                _ => (Existing::Required("review"), ReviewFacts::default()),
            };
            decide_outcome::<ReviewState>(&call, id.stream_id(), existing, &intent, |_, _| {
                Ok(facts.clone())
            })
            .await
        }
    }
}

/// `Ok` if a creating intent names the id of the stream it is sent to.
fn same_id<T: PartialEq + std::fmt::Display>(
    field: &str,
    named: T,
    target: T,
) -> Result<(), AppError> {
    if named == target {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("the command creates {named} but is sent to {target}"),
        ))
    }
}

/// A service command, with the catalogue's facts for a register or update.
async fn service_command(
    call: &Call<'_>,
    id: ServiceId,
    intent: ServiceCommand,
) -> Result<CommandOutcome, AppError> {
    let app = call.app;
    let (existing, profile) = match &intent {
        ServiceCommand::Register(register) => {
            same_id("id", register.id, id)?;
            (Existing::Creates, Some(&register.profile))
        }
        ServiceCommand::Update(update) => (Existing::Required("service"), Some(&update.profile)),
        ServiceCommand::Retire(_) => (Existing::Required("service"), None),
    };
    decide_outcome::<ServiceState>(call, id.stream_id(), existing, &intent, |_, _| {
        Ok(profile
            .map(|profile| catalog_facts(app, id, profile))
            .unwrap_or_default())
    })
    .await
}

/// A change command, with the services' tiers and failure history for a request
/// and the freezes and other changes for a schedule.
async fn change_command(
    call: &Call<'_>,
    id: ChangeId,
    intent: ChangeCommand,
) -> Result<CommandOutcome, AppError> {
    let app = call.app;
    let stream = id.stream_id();
    match &intent {
        ChangeCommand::Request(request) => {
            same_id("id", request.id, id)?;
            let mut services = Vec::with_capacity(request.services.len());
            for service in &request.services {
                let tier = app
                    .projections
                    .read(|m| m.services.get(*service).map(|v| v.profile.tier))
                    .ok_or_else(|| AppError::not_found("service", service))?;
                services.push(ServiceFact { id: *service, tier });
            }
            decide_outcome::<ChangeState>(call, stream, Existing::Creates, &intent, |_, ctx| {
                let recent_failures = app
                    .projections
                    .read(|m| m.changes.recent_failure_history(&request.services, ctx.now));
                Ok(ChangeFacts {
                    services: services.clone(),
                    recent_failures,
                    ..ChangeFacts::default()
                })
            })
            .await
        }
        ChangeCommand::Schedule(schedule) => {
            let window = schedule.window;
            let required = Existing::Required("change");
            decide_outcome::<ChangeState>(call, stream, required, &intent, |state, _| {
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
                Ok(ChangeFacts {
                    active_freezes,
                    overlapping_changes,
                    ..ChangeFacts::default()
                })
            })
            .await
        }
        _ => {
            let required = Existing::Required("change");
            decide_outcome::<ChangeState>(call, stream, required, &intent, |_, _| {
                Ok(ChangeFacts::default())
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
    intent: &A::Command,
    facts: impl Fn(&A, &Context) -> Result<A::Facts, AppError>,
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
    let decided = decide::<A>(
        app, who, meta, key, &stream_id, existing, None, intent, facts,
    )
    .await?;
    Ok(outcome_of(app, stream_id, &decided))
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

/// An incident command but a merge: a declaration with its services' facts; any
/// other command's ending waits for the release of the incident's alert groups
/// (the release policy).
async fn incident_command(
    call: &Call<'_>,
    id: IncidentId,
    intent: IncidentCommand,
) -> Result<CommandOutcome, AppError> {
    let app = call.app;
    match &intent {
        IncidentCommand::Declare(declare) => {
            same_id("id", declare.id, id)?;
            let mut facts = DeclarationFacts::default();
            for impact in &declare.impacts {
                let service = incident_service_facts(app, impact.service)?;
                facts.services.insert(impact.service, service);
            }
            return decide_outcome::<IncidentState>(
                call,
                id.stream_id(),
                Existing::Creates,
                &intent,
                |_, _| Ok(facts.clone()),
            )
            .await;
        }
        IncidentCommand::MergeInto { .. }
        | IncidentCommand::AbsorbDuplicate { .. }
        | IncidentCommand::UndoDuplicateMerge { .. } => {
            return Err(AppError::invalid(
                "command",
                "use MergeIncident (it decides both sides of the merge)",
            ))
        }
        _ => {}
    }
    let stream = id.stream_id();
    let decided = decide::<IncidentState>(
        app,
        call.who,
        call.meta,
        call.key,
        &stream,
        Existing::Required("incident"),
        None,
        &intent,
        |_, _| Ok(DeclarationFacts::default()),
    )
    .await?;
    let mut outcome = outcome_of(app, stream, &decided);
    settle_outcome(app, &decided.outcome, &mut outcome).await?;
    outcome.incident = Some(id);
    Ok(outcome)
}

/// Waits for the workflows an append started and moves `outcome` to where they
/// ended; whether a merge among them was undone.
async fn settle_outcome(
    app: &AppService,
    appended: &Option<opsledger_storage::AppendOutcome>,
    outcome: &mut CommandOutcome,
) -> Result<bool, AppError> {
    let Some(appended) = appended else {
        return Ok(false);
    };
    let records = workflow::settle::appended_records(app, appended).await?;
    settle_records(app, &records, outcome).await
}

/// [`settle_outcome`] for the records of one append.
async fn settle_records(
    app: &AppService,
    records: &[RecordedEvent],
    outcome: &mut CommandOutcome,
) -> Result<bool, AppError> {
    if !workflow::settle::starts_workflow(records) {
        return Ok(false);
    }
    let settled = workflow::settle(app, records).await?;
    outcome.position = outcome.position.max(settled.last_position);
    Ok(settled.merge_undone)
}

/// Records the duplicate on the target (both sides validated first); the merge
/// policy then marks the duplicate merged, or undoes the record if the
/// duplicate refuses, so a merge is both sides or neither.
async fn merge(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    key: &str,
    duplicate: IncidentId,
    target: IncidentId,
) -> Result<CommandOutcome, AppError> {
    check_merge_now(app, who, meta, duplicate, target).await?;
    let stream = target.stream_id();
    let target_meta = CommandMeta {
        expected_version: None,
        ..meta.clone()
    };
    let decided = decide::<IncidentState>(
        app,
        who,
        &target_meta,
        key,
        &stream,
        Existing::Required("incident"),
        None,
        &IncidentCommand::AbsorbDuplicate { duplicate },
        |_, _| Ok(DeclarationFacts::default()),
    )
    .await?;
    let mut outcome = outcome_of(app, stream, &decided);
    if settle_outcome(app, &decided.outcome, &mut outcome).await? {
        return Err(merge_refusal(app, who, duplicate, target).await);
    }
    outcome.incident = Some(target);
    Ok(outcome)
}

/// Decides both sides of a merge purely (nothing is written): a refusal on
/// either side refuses the merge; `meta.expected_version` is the duplicate's.
async fn check_merge_now(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    duplicate: IncidentId,
    target: IncidentId,
) -> Result<(), AppError> {
    let dup: Loaded<IncidentState> = app.load(&duplicate.stream_id()).await?;
    let tgt: Loaded<IncidentState> = app.load(&target.stream_id()).await?;
    for (loaded, id) in [(&dup, duplicate), (&tgt, target)] {
        if loaded.last_version.is_none() {
            return Err(AppError::not_found("incident", id.stream_id()));
        }
    }
    if let Some(expected) = meta.expected_version {
        if dup.last_version != Some(expected) {
            return Err(AppError::Conflict {
                stream_id: duplicate.stream_id(),
                expected: Some(expected),
                actual: dup.last_version,
            });
        }
    }
    let ctx = who.context(app.clock.now());
    opsledger_domain::incident::check_merge(&dup.state, &tgt.state, target, duplicate, &ctx)?;
    Ok(())
}

/// Why a merge the policy undid was refused (the duplicate changed between the
/// check and its half of the merge): the rule it breaks now.
async fn merge_refusal(
    app: &AppService,
    who: &Principal,
    duplicate: IncidentId,
    target: IncidentId,
) -> AppError {
    let dup: Result<Loaded<IncidentState>, _> = app.load(&duplicate.stream_id()).await;
    match dup {
        Ok(dup) => {
            let ctx = who.context(app.clock.now());
            let merge = IncidentCommand::MergeInto { target };
            match dup.state.decide(merge, DeclarationFacts::default(), &ctx) {
                Err(rule) => AppError::Domain(rule),
                Ok(_) => AppError::Conflict {
                    stream_id: duplicate.stream_id(),
                    expected: None,
                    actual: dup.last_version,
                },
            }
        }
        Err(err) => err,
    }
}

/// Ingests an alert into its group; an opened incident is declared by the
/// declaration policy, which the answer waits for (it names the incident).
async fn ingest_alert(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    key: &str,
    intent: IngestAlert,
) -> Result<CommandOutcome, AppError> {
    let facts = AlertFacts {
        service: Some(incident_service_facts(app, intent.group.service)?),
    };
    intent
        .group
        .validate()
        .map_err(|e| AppError::Domain(AlertError::from(e).into()))?;
    let stream = intent.group.stream_id();
    let command = AlertGroupCommand::Ingest(intent);
    let decided = decide::<AlertGroupState>(
        app,
        who,
        meta,
        key,
        &stream,
        Existing::Creates,
        None,
        &command,
        |_, _| Ok(facts.clone()),
    )
    .await?;
    let mut outcome = outcome_of(app, stream, &decided);
    outcome.incident = incident_of_group_events(&decided.events);
    settle_outcome(app, &decided.outcome, &mut outcome).await?;
    if let (Some(_), Some(appended)) = (outcome.incident, &decided.outcome) {
        // Attached to an incident opened by an earlier alert: its declaration
        // (an earlier trigger) is appended once the policies passed this append,
        // possibly after it, so wait for the read models to hold the log as it is then.
        app.wait_workflows(appended.last_position).await?;
        let head = app.store.head_position().unwrap_or(outcome.position);
        app.wait_for(head.max(outcome.position)).await?;
    }
    Ok(outcome)
}

/// The incident an alert opened, attached to or resolved against.
fn incident_of_group_events(events: &[AlertGroupEvent]) -> Option<IncidentId> {
    events.iter().find_map(|e| match e {
        AlertGroupEvent::IncidentOpened(_) | AlertGroupEvent::IncidentOpenedV2(_) => {
            e.opened_incident()
        }
        AlertGroupEvent::Attached(attached) => Some(attached.incident_id),
        AlertGroupEvent::Resolved(resolved) => resolved.incident_id,
        _ => None,
    })
}

/// Fills in what a replayed command's original append implies: the workflows it
/// started (completed by the policies, also after a crash) and its incident.
pub(super) async fn complete_replay(
    app: &AppService,
    appended: &[RecordedEvent],
    outcome: &mut CommandOutcome,
) -> Result<(), AppError> {
    let merge_undone = settle_records(app, appended, outcome).await?;
    if let Some(incident) = IncidentId::from_stream_id(&outcome.stream_id) {
        if merge_undone {
            return Err(AppError::Conflict {
                stream_id: outcome.stream_id.clone(),
                expected: None,
                actual: None,
            });
        }
        outcome.incident = Some(incident);
        return Ok(());
    }
    let events: Vec<AlertGroupEvent> = appended
        .iter()
        .filter_map(|r| match decode_payload::<DomainEvent>(&r.payload) {
            Ok(DomainEvent::AlertGroup(e)) => Some(e),
            _ => None,
        })
        .collect();
    outcome.incident = incident_of_group_events(&events);
    if let Some(last) = appended.last() {
        // As in `ingest_alert`: the incident it attached to is declared by now.
        app.wait_workflows(last.position).await?;
        let head = app.store.head_position().unwrap_or(last.position);
        app.wait_for(head).await?;
    }
    Ok(())
}
