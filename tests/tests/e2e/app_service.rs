//! The application service in-process (no HTTP), with a manual clock:
//! automatic escalation, alert-group release on resolve and merge, and the
//! aggregate cache seeing another writer's appends.

use opsledger_api::app::escalation::{check_escalations, ESCALATION_ACTOR};
use opsledger_api::app::workflow::WorkflowRunner;
use opsledger_api::app::{
    AppCommand, AppError, AppService, CommandMeta, CommandOutcome, ManualClock,
};
use opsledger_api::auth::Principal;
use opsledger_domain::alert::{AlertGroupKey, IngestAlert};
use opsledger_domain::incident::{
    DeclareIncident, ImpactLevel, IncidentAcknowledged, IncidentCommand, IncidentEvent,
    IncidentNoteAdded, IncidentStatus, ServiceImpact,
};
use opsledger_domain::service::{
    EscalationLevel, EscalationPolicy, RegisterService, ServiceCommand, ServiceProfile, SloTarget,
    Tier,
};
use opsledger_domain::text::{BoundedText, Note, Summary};
use opsledger_domain::{Actor, DomainEvent, IncidentId, Role, ServiceId, Timestamp};
use opsledger_projections::{ProjectionRunner, ReadModels, RunnerConfig};
use opsledger_storage::{
    encode_payload, AppendRequest, Direction, EventStore, ExpectedVersion, NewEvent,
    SledEventStore, StoreConfig, Ulid,
};
use std::sync::Arc;

const T0: i64 = 1_714_564_800_000;

struct Harness {
    _workflows: WorkflowRunner,
    app: Arc<AppService>,
    clock: Arc<ManualClock>,
    store: Arc<dyn EventStore>,
    _runner: ProjectionRunner<ReadModels>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(
        SledEventStore::open(dir.path().join("log"), StoreConfig::default())
            .await
            .unwrap(),
    );
    let runner = ProjectionRunner::<ReadModels>::start(
        store.clone(),
        dir.path().join("projections"),
        RunnerConfig::default(),
    )
    .await
    .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let app = Arc::new(AppService::new(
        store.clone(),
        runner.handle(),
        clock.clone(),
    ));
    let workflows = WorkflowRunner::start(app.clone(), None);
    Harness {
        app,
        _workflows: workflows,
        clock,
        store,
        _runner: runner,
        _dir: dir,
    }
}

fn admin() -> Principal {
    Principal::new("root", vec![Role::Admin])
}

fn responder() -> Principal {
    Principal::new("rita", vec![Role::Responder])
}

async fn register(h: &Harness, name: &str) -> ServiceId {
    let profile = ServiceProfile {
        name: name.into(),
        owner_team: "core".into(),
        tier: Tier::ONE,
        description: String::new(),
        runbook_url: None,
        dependencies: vec![],
        slo_target: SloTarget::from_percent(99.9).unwrap(),
        rto_secs: 3600,
        rpo_secs: 0,
        escalation_policy: EscalationPolicy {
            levels: vec![
                EscalationLevel {
                    target: "primary".into(),
                    ack_timeout_secs: 300,
                },
                EscalationLevel {
                    target: "secondary".into(),
                    ack_timeout_secs: 300,
                },
            ],
        },
    };
    let id = ServiceId::new(Ulid::new());
    let out = h
        .app
        .execute(
            &admin(),
            CommandMeta::default(),
            AppCommand::Service {
                id,
                intent: ServiceCommand::Register(RegisterService { id, profile }),
            },
        )
        .await
        .unwrap();
    ServiceId::from_stream_id(&out.stream_id).unwrap()
}

/// A manual declaration of an incident on `service` (a fresh id).
fn declare(service: ServiceId, title: &str, level: ImpactLevel) -> AppCommand {
    let id = IncidentId::new(Ulid::new());
    AppCommand::Incident {
        id,
        intent: IncidentCommand::Declare(DeclareIncident {
            id,
            title: title.into(),
            description: String::new(),
            severity: None,
            impacts: vec![ServiceImpact { service, level }],
            started_at: None,
            detected_at: None,
            alert_group: None,
        }),
    }
}

async fn alert(h: &Harness, service: ServiceId, firing: bool) -> CommandOutcome {
    let input = IngestAlert {
        group: AlertGroupKey {
            service,
            dedup_key: "disk-full".into(),
        },
        source: "test".into(),
        summary: "disk full".into(),
        severity_hint: None,
        labels: vec![],
        firing,
        impact: ImpactLevel::Degraded,
        started_at: None,
        new_incident_id: IncidentId::new(Ulid::new()),
    };
    h.app
        .execute(
            &responder(),
            CommandMeta::default(),
            AppCommand::IngestAlert(input),
        )
        .await
        .unwrap()
}

async fn incident_command(h: &Harness, id: IncidentId, command: IncidentCommand) -> CommandOutcome {
    h.app
        .execute(
            &responder(),
            CommandMeta::default(),
            AppCommand::Incident {
                id,
                intent: command,
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn escalation_engine_pages_the_next_level_once_the_clock_passes_the_deadline() {
    let h = harness().await;
    let service = register(&h, "db").await;
    let out = h
        .app
        .execute(
            &responder(),
            CommandMeta::default(),
            declare(service, "db slow", ImpactLevel::MajorOutage),
        )
        .await
        .unwrap();
    let id = IncidentId::from_stream_id(&out.stream_id).unwrap();

    h.clock.advance_millis(299_000);
    assert_eq!(
        check_escalations(&h.app).await.unwrap(),
        0,
        "deadline not reached"
    );
    h.clock.advance_millis(1_000);
    assert_eq!(check_escalations(&h.app).await.unwrap(), 1);
    assert_eq!(
        check_escalations(&h.app).await.unwrap(),
        0,
        "no further level"
    );

    let view = h
        .app
        .projections()
        .read(|m| m.incidents.get(id).cloned())
        .unwrap();
    assert_eq!(view.escalation_level, 1);
    let events = h
        .store
        .read_stream(&out.stream_id, 0, Direction::Forward, 10)
        .await
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.type_name, "IncidentEscalated");
    assert_eq!(last.actor, ESCALATION_ACTOR);
    assert_eq!(last.recorded_at_ms, T0 + 300_000);
}

#[tokio::test]
async fn resolving_an_alert_incident_releases_the_group_so_the_next_alert_opens_a_new_one() {
    let h = harness().await;
    let service = register(&h, "disk").await;
    let first = alert(&h, service, true).await;
    let incident = first.incident.unwrap();
    let again = alert(&h, service, true).await;
    assert_eq!(again.incident, Some(incident), "attached while open");

    incident_command(
        &h,
        incident,
        IncidentCommand::Resolve {
            summary: Summary::parse("cleaned").expect("bounded"),
        },
    )
    .await;
    let group = h
        .app
        .projections()
        .read(|m| m.incidents.alert_groups().next().cloned())
        .unwrap();
    assert_eq!(group.open_incident, None);

    let next = alert(&h, service, true).await;
    let second = next.incident.unwrap();
    assert_ne!(second, incident);
    let status = h
        .app
        .projections()
        .read(|m| m.incidents.get(second).map(|v| v.status));
    assert_eq!(status, Some(IncidentStatus::Triggered));
}

#[tokio::test]
async fn merging_marks_the_duplicate_and_the_target_and_releases_the_duplicates_group() {
    let h = harness().await;
    let service = register(&h, "api").await;
    let duplicate = alert(&h, service, true).await.incident.unwrap();
    let target = h
        .app
        .execute(
            &responder(),
            CommandMeta::default(),
            declare(service, "api errors", ImpactLevel::PartialOutage),
        )
        .await
        .unwrap();
    let target = IncidentId::from_stream_id(&target.stream_id).unwrap();
    let out = h
        .app
        .execute(
            &responder(),
            CommandMeta::keyed("merge-1"),
            AppCommand::MergeIncident { duplicate, target },
        )
        .await
        .unwrap();
    assert_eq!(out.incident, Some(target));
    let (dup, tgt, group) = h.app.projections().read(|m| {
        (
            m.incidents.get(duplicate).cloned().unwrap(),
            m.incidents.get(target).cloned().unwrap(),
            m.incidents.alert_groups().next().cloned().unwrap(),
        )
    });
    assert_eq!(dup.merged_into, Some(target));
    assert_eq!(tgt.duplicates, vec![duplicate]);
    assert_eq!(group.open_incident, None);

    let replay = h
        .app
        .execute(
            &responder(),
            CommandMeta::keyed("merge-1"),
            AppCommand::MergeIncident { duplicate, target },
        )
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.position, out.position);
}

#[tokio::test]
async fn concurrent_calls_with_one_idempotency_key_write_once_and_agree() {
    let h = harness().await;
    let service = register(&h, "queue").await;
    let declare = || declare(service, "queue stuck", ImpactLevel::Degraded);
    let who = responder();
    let calls = (0..8).map(|_| {
        h.app
            .execute(&who, CommandMeta::keyed("same-key"), declare())
    });
    let outcomes: Vec<CommandOutcome> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let first = &outcomes[0];
    for other in &outcomes {
        assert_eq!(
            (&other.stream_id, other.position),
            (&first.stream_id, first.position)
        );
    }
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    let incidents = h.app.projections().read(|m| m.incidents.all().count());
    assert_eq!(incidents, 1);
}

async fn declare_incident(h: &Harness, service: ServiceId, title: &str) -> IncidentId {
    let out = h
        .app
        .execute(
            &responder(),
            CommandMeta::default(),
            declare(service, title, ImpactLevel::Degraded),
        )
        .await
        .unwrap();
    IncidentId::from_stream_id(&out.stream_id).unwrap()
}

/// The merge's race: the target recorded the duplicate (the merge command's
/// write), then the duplicate was closed before the policy marked it merged.
/// The policy's follow-up is refused, so it undoes the target's record: a
/// merge is both sides or neither.
#[tokio::test]
async fn a_merge_the_duplicate_refuses_is_undone_on_the_target() {
    use opsledger_domain::incident::{IncidentDuplicateMerged, IncidentEvent};
    use opsledger_domain::{Actor, DomainEvent};
    use opsledger_storage::{encode_payload, AppendRequest, ExpectedVersion, NewEvent, Ulid};

    let h = harness().await;
    let service = register(&h, "db").await;
    let target = declare_incident(&h, service, "db down").await;
    let duplicate = declare_incident(&h, service, "db slow").await;
    let summary = Summary::parse("gone").expect("bounded");
    incident_command(&h, duplicate, IncidentCommand::Resolve { summary }).await;
    incident_command(&h, duplicate, IncidentCommand::Close).await;

    let recorded = DomainEvent::Incident(IncidentEvent::DuplicateMerged(IncidentDuplicateMerged {
        duplicate,
        by: Actor("rita".into()),
        at: Timestamp::from_millis(T0),
    }));
    let outcome = h
        .store
        .append(AppendRequest {
            stream_id: target.stream_id(),
            expected: ExpectedVersion::Any,
            command_id: "merge-before-the-close".into(),
            actor: "rita".into(),
            correlation_id: Ulid::new(),
            causation_id: None,
            recorded_at_ms: T0,
            events: vec![NewEvent {
                event_id: Ulid::new(),
                type_name: recorded.type_name().into(),
                schema_version: recorded.schema_version(),
                payload: encode_payload(&recorded).unwrap(),
            }],
        })
        .await
        .unwrap();
    h.app.wait_workflows(outcome.last_position).await.unwrap();
    let head = h.store.head_position().unwrap();
    h.app.wait_for(head).await.unwrap();

    let events = h
        .store
        .read_stream(&target.stream_id(), 0, Direction::Forward, 100)
        .await
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.type_name, "IncidentDuplicateMergeUndone");
    assert!(
        last.command_id.starts_with("wf:unmerge:"),
        "{}",
        last.command_id
    );
    let (target_view, duplicate_view) = h.app.projections().read(|m| {
        (
            m.incidents.get(target).cloned().unwrap(),
            m.incidents.get(duplicate).cloned().unwrap(),
        )
    });
    assert!(
        target_view.duplicates.is_empty(),
        "{:?}",
        target_view.duplicates
    );
    assert_eq!(duplicate_view.merged_into, None);
    assert_eq!(duplicate_view.status, IncidentStatus::Closed);
    assert_eq!(
        h.store
            .read_stream(&duplicate.stream_id(), 0, Direction::Forward, 100)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.type_name == "IncidentMergedInto")
            .count(),
        0
    );
}

/// The service remembers folded aggregates (its aggregate cache), yet every command
/// reads its stream's tail: events another node appends straight to the store are
/// decided on by the next command.
#[tokio::test]
async fn a_write_by_another_writer_is_seen_through_the_aggregate_cache() {
    let h = harness().await;
    let service = register(&h, "search").await;
    let out = h
        .app
        .execute(
            &responder(),
            CommandMeta::default(),
            declare(service, "search down", ImpactLevel::MajorOutage),
        )
        .await
        .unwrap();
    let id = IncidentId::from_stream_id(&out.stream_id).unwrap();
    let note = |text: &str| IncidentCommand::AddNote {
        text: Note::parse(text).unwrap(),
    };
    let warm = incident_command(&h, id, note("looking")).await;
    assert_eq!(warm.stream_version, Some(1));

    // Another node acknowledges and adds three notes, behind this service's back.
    let other = Actor("otto".into());
    let at = Timestamp::from_millis(T0);
    let mut events = vec![IncidentEvent::Acknowledged(IncidentAcknowledged {
        by: other.clone(),
        at,
    })];
    events.extend((0..3).map(|n| {
        IncidentEvent::NoteAdded(IncidentNoteAdded {
            text: format!("other node {n}"),
            by: other.clone(),
            at,
        })
    }));
    let appended = h
        .store
        .append(AppendRequest {
            stream_id: id.stream_id(),
            expected: ExpectedVersion::Exact(1),
            command_id: Ulid::new().to_string(),
            actor: other.0.clone(),
            correlation_id: Ulid::new(),
            causation_id: None,
            recorded_at_ms: T0,
            events: events
                .into_iter()
                .map(|e| {
                    let e = DomainEvent::Incident(e);
                    NewEvent {
                        event_id: Ulid::new(),
                        type_name: e.type_name().into(),
                        schema_version: e.schema_version(),
                        payload: encode_payload(&e).unwrap(),
                    }
                })
                .collect(),
        })
        .await
        .unwrap();
    assert_eq!(appended.stream_version, 5);

    // Acknowledging again is a rule violation (a stale state would have tried and
    // lost the append as a conflict); a note lands after the other node's events.
    let again = h
        .app
        .execute(
            &responder(),
            CommandMeta::default(),
            AppCommand::Incident {
                id,
                intent: IncidentCommand::Acknowledge,
            },
        )
        .await;
    assert!(matches!(again, Err(AppError::Domain(_))), "{again:?}");
    let after = incident_command(&h, id, note("still here")).await;
    assert_eq!(after.stream_version, Some(6));
    let status = h
        .app
        .projections()
        .read(|m| m.incidents.get(id).map(|v| v.status));
    assert_eq!(status, Some(IncidentStatus::Acknowledged));
    let stats = h.app.aggregate_cache().stats();
    assert!(
        stats.hits >= 2,
        "the commands loaded through the cache: {stats:?}"
    );
}
