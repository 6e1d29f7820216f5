//! Given/when/then tests of the incident rules, plus a property test.

use super::*;
use crate::alert::AlertGroupKey;
use crate::context::Actor;
use crate::ids::{ChangeId, IncidentId};
use crate::service::{EscalationLevel, EscalationPolicy, Tier};
use crate::testing;
use crate::text::{BoundedText, Note, Reason, StatusMessage, Summary};
use crate::time::Timestamp;
use proptest::prelude::*;
use ulid::Ulid;

const T0: i64 = 1_000_000;

fn iid(n: u128) -> IncidentId {
    IncidentId::new(Ulid(n))
}

fn sid(n: u128) -> ServiceId {
    ServiceId::new(Ulid(n))
}

fn ctx_at(ms: i64) -> Context {
    Context::new(Timestamp(ms), "alice")
}

fn ctx() -> Context {
    ctx_at(T0)
}

fn alice() -> Actor {
    Actor("alice".into())
}

fn policy() -> EscalationPolicy {
    let level = |target: &str, secs| EscalationLevel {
        target: target.into(),
        ack_timeout_secs: secs,
    };
    EscalationPolicy {
        levels: vec![
            level("primary", 300),
            level("secondary", 600),
            level("manager", 900),
        ],
    }
}

fn impacted(service: u128, level: ImpactLevel) -> ServiceImpact {
    ServiceImpact {
        service: sid(service),
        level,
    }
}

fn service_facts(tier: Tier) -> ServiceFacts {
    ServiceFacts {
        tier,
        retired: false,
        escalation_policy: policy(),
    }
}

/// The facts of services `n` with their tiers.
fn facts_of(tiers: &[(u128, Tier)]) -> DeclarationFacts {
    DeclarationFacts {
        services: tiers
            .iter()
            .map(|(n, tier)| (sid(*n), service_facts(*tier)))
            .collect(),
    }
}

/// What the tests' caller knows: services 1 to 3, all tier 1.
fn facts() -> DeclarationFacts {
    facts_of(&[(1, Tier::ONE), (2, Tier::ONE), (3, Tier::ONE)])
}

fn declare_cmd(severity: Option<Severity>, impacts: Vec<ServiceImpact>) -> DeclareIncident {
    DeclareIncident {
        id: iid(1),
        title: "Checkout down".into(),
        description: "5xx on /pay".into(),
        severity,
        impacts,
        started_at: Some(Timestamp(T0 - 60_000)),
        detected_at: Some(Timestamp(T0 - 10_000)),
        alert_group: None,
    }
}

fn declare() -> IncidentCommand {
    IncidentCommand::Declare(declare_cmd(
        None,
        vec![impacted(1, ImpactLevel::MajorOutage)],
    ))
}

/// Folds `events` (the "given").
fn given(events: &[IncidentEvent]) -> IncidentState {
    events
        .iter()
        .fold(IncidentState::default(), |s, e| s.evolve(e))
}

/// The events of applying `commands` in order at time `T0` (each must succeed).
fn history(commands: Vec<IncidentCommand>) -> Vec<IncidentEvent> {
    let mut events = Vec::new();
    for command in commands {
        let decided = given(&events)
            .decide(command, facts(), &ctx())
            .expect("history command accepted");
        events.extend(decided);
    }
    events
}

fn declared() -> Vec<IncidentEvent> {
    history(vec![declare()])
}

fn when(
    given_events: &[IncidentEvent],
    command: IncidentCommand,
) -> Result<Vec<IncidentEvent>, DomainError> {
    given(given_events).decide(command, facts(), &ctx())
}

fn rejected(e: IncidentError) -> Result<Vec<IncidentEvent>, DomainError> {
    Err(DomainError::Incident(e))
}

fn resolve() -> IncidentCommand {
    IncidentCommand::Resolve {
        summary: Summary::parse("rolled back").expect("bounded"),
    }
}

fn resolved() -> Vec<IncidentEvent> {
    history(vec![declare(), resolve()])
}

// ---- declaration ----

#[test]
fn declare_manually_emits_declared_with_all_facts() {
    let cmd = declare_cmd(
        Some(Severity::Sev2),
        vec![impacted(1, ImpactLevel::Degraded)],
    );
    let events = when(&[], IncidentCommand::Declare(cmd));
    assert_eq!(
        events,
        Ok(vec![IncidentEvent::Declared(IncidentDeclared {
            id: iid(1),
            title: "Checkout down".into(),
            description: "5xx on /pay".into(),
            severity: Severity::Sev2,
            severity_derived: false,
            impacts: vec![ServiceImpact {
                service: sid(1),
                level: ImpactLevel::Degraded,
            }],
            started_at: Timestamp(T0 - 60_000),
            detected_at: Timestamp(T0 - 10_000),
            alert_group: None,
            escalation_policy: policy(),
            by: alice(),
            at: Timestamp(T0),
        })])
    );
}

#[test]
fn severity_is_derived_from_tier_and_impact_table() {
    use ImpactLevel::*;
    let table = [
        (Tier::ONE, MajorOutage, Severity::Sev1),
        (Tier::ONE, PartialOutage, Severity::Sev2),
        (Tier::ONE, Degraded, Severity::Sev3),
        (Tier::TWO, MajorOutage, Severity::Sev2),
        (Tier::TWO, PartialOutage, Severity::Sev3),
        (Tier::TWO, Degraded, Severity::Sev3),
        (Tier::THREE, MajorOutage, Severity::Sev3),
        (Tier::THREE, PartialOutage, Severity::Sev4),
        (Tier::THREE, Degraded, Severity::Sev4),
    ];
    for (tier, impact, expected) in table {
        assert_eq!(
            Severity::derive(tier, impact),
            expected,
            "{tier:?} {impact:?}"
        );
    }
}

#[test]
fn absent_severity_is_the_worst_derived_over_impacted_services() {
    let impacts = vec![
        impacted(1, ImpactLevel::MajorOutage),
        impacted(2, ImpactLevel::MajorOutage),
    ];
    let facts = facts_of(&[(1, Tier::THREE), (2, Tier::TWO)]);
    let events = given(&[])
        .decide(
            IncidentCommand::Declare(declare_cmd(None, impacts)),
            facts,
            &ctx(),
        )
        .unwrap();
    let IncidentEvent::Declared(e) = &events[0] else {
        panic!("not declared: {events:?}")
    };
    assert_eq!((e.severity, e.severity_derived), (Severity::Sev2, true));
}

#[test]
fn retired_service_blocks_new_incidents() {
    let cmd = declare_cmd(None, vec![impacted(7, ImpactLevel::MajorOutage)]);
    let mut retired = service_facts(Tier::ONE);
    retired.retired = true;
    assert_eq!(
        given(&[]).decide(
            IncidentCommand::Declare(cmd),
            DeclarationFacts::of(sid(7), retired),
            &ctx()
        ),
        rejected(IncidentError::ServiceRetired { service: sid(7) })
    );
}

#[test]
fn a_declaration_needs_the_facts_of_every_impacted_service() {
    let cmd = declare_cmd(
        None,
        vec![
            impacted(1, ImpactLevel::MajorOutage),
            impacted(9, ImpactLevel::Degraded),
        ],
    );
    assert_eq!(
        when(&[], IncidentCommand::Declare(cmd)),
        rejected(IncidentError::UnknownService { service: sid(9) })
    );
}

#[test]
fn invalid_declarations_are_rejected() {
    let base = || declare_cmd(None, vec![impacted(1, ImpactLevel::MajorOutage)]);
    let mut empty_title = base();
    empty_title.title = " ".into();
    let mut long_title = base();
    long_title.title = "x".repeat(MAX_TITLE_CHARS + 1);
    let mut no_impacts = base();
    no_impacts.impacts.clear();
    let mut duplicate = base();
    duplicate.impacts.push(impacted(1, ImpactLevel::Degraded));
    let mut started_late = base();
    started_late.started_at = Some(Timestamp(T0));
    let cases = [
        (empty_title, IncidentError::EmptyTitle),
        (long_title, IncidentError::TitleTooLong),
        (no_impacts, IncidentError::NoImpactedServices),
        (
            duplicate,
            IncidentError::DuplicateImpactedService { service: sid(1) },
        ),
        (started_late, IncidentError::StartedAfterDetected),
    ];
    for (cmd, expected) in cases {
        assert_eq!(when(&[], IncidentCommand::Declare(cmd)), rejected(expected));
    }
}

#[test]
fn declare_twice_is_rejected() {
    assert_eq!(
        when(&declared(), declare()),
        rejected(IncidentError::AlreadyDeclared)
    );
}

#[test]
fn commands_before_declaration_are_rejected() {
    assert_eq!(
        when(&[], IncidentCommand::Acknowledge),
        rejected(IncidentError::NotDeclared)
    );
}

#[test]
fn acknowledge_records_who_and_when() {
    let events = when(&declared(), IncidentCommand::Acknowledge);
    assert_eq!(
        events,
        Ok(vec![IncidentEvent::Acknowledged(IncidentAcknowledged {
            by: alice(),
            at: Timestamp(T0),
        })])
    );
    let state = given(&history(vec![declare(), IncidentCommand::Acknowledge]));
    assert_eq!(
        (state.status, state.acknowledged_at),
        (IncidentStatus::Acknowledged, Some(Timestamp(T0)))
    );
}

#[test]
fn acknowledging_twice_is_an_invalid_transition() {
    let given_events = history(vec![declare(), IncidentCommand::Acknowledge]);
    assert_eq!(
        when(&given_events, IncidentCommand::Acknowledge),
        rejected(IncidentError::InvalidTransition {
            from: IncidentStatus::Acknowledged,
            to: IncidentStatus::Acknowledged,
        })
    );
}

#[test]
fn advancing_a_triggered_incident_acknowledges_it_implicitly() {
    let events = when(
        &declared(),
        IncidentCommand::Advance {
            to: Stage::Identified,
        },
    );
    assert_eq!(
        events,
        Ok(vec![
            IncidentEvent::Acknowledged(IncidentAcknowledged {
                by: alice(),
                at: Timestamp(T0),
            }),
            IncidentEvent::StatusChanged(IncidentStatusChanged {
                from: IncidentStatus::Acknowledged,
                to: IncidentStatus::Identified,
                by: alice(),
                at: Timestamp(T0),
            }),
        ])
    );
}

#[test]
fn skipping_forward_from_triggered_to_resolved_is_allowed() {
    let events = when(&declared(), resolve());
    assert_eq!(
        events,
        Ok(vec![IncidentEvent::Resolved(IncidentResolved {
            from: IncidentStatus::Triggered,
            summary: "rolled back".into(),
            by: alice(),
            at: Timestamp(T0),
        })])
    );
    let state = given(&resolved());
    assert_eq!(
        (state.status, state.acknowledged_at),
        (IncidentStatus::Resolved, None)
    );
}

#[test]
fn backwards_moves_are_rejected() {
    let given_events = history(vec![
        declare(),
        IncidentCommand::Advance {
            to: Stage::Monitoring,
        },
    ]);
    assert_eq!(
        when(
            &given_events,
            IncidentCommand::Advance {
                to: Stage::Investigating
            }
        ),
        rejected(IncidentError::InvalidTransition {
            from: IncidentStatus::Monitoring,
            to: IncidentStatus::Investigating,
        })
    );
    assert_eq!(
        when(
            &resolved(),
            IncidentCommand::Advance {
                to: Stage::Monitoring
            }
        ),
        rejected(IncidentError::InvalidTransition {
            from: IncidentStatus::Resolved,
            to: IncidentStatus::Monitoring,
        })
    );
}

#[test]
fn kpi_timestamps_are_recorded_in_state() {
    let mut events = declared();
    for (ms, command) in [
        (T0 + 1_000, IncidentCommand::Acknowledge),
        (
            T0 + 2_000,
            IncidentCommand::Advance {
                to: Stage::Monitoring,
            },
        ),
        (T0 + 3_000, resolve()),
        (T0 + 4_000, IncidentCommand::Close),
    ] {
        let decided = given(&events)
            .decide(command, facts(), &ctx_at(ms))
            .unwrap();
        events.extend(decided);
    }
    let s = given(&events);
    assert_eq!(
        (s.started_at, s.detected_at, s.triggered_at),
        (
            Timestamp(T0 - 60_000),
            Timestamp(T0 - 10_000),
            Timestamp(T0)
        )
    );
    assert_eq!(
        (
            s.acknowledged_at,
            s.mitigated_at,
            s.resolved_at,
            s.closed_at
        ),
        (
            Some(Timestamp(T0 + 1_000)),
            Some(Timestamp(T0 + 2_000)),
            Some(Timestamp(T0 + 3_000)),
            Some(Timestamp(T0 + 4_000))
        )
    );
    assert_eq!(s.resolution_summary.as_deref(), Some("rolled back"));
}

#[test]
fn resolve_needs_a_summary() {
    let cmd = IncidentCommand::Resolve {
        summary: Summary::parse("  ").expect("bounded"),
    };
    assert_eq!(
        when(&declared(), cmd),
        rejected(IncidentError::EmptyResolutionSummary)
    );
}

#[test]
fn close_needs_a_resolved_incident() {
    assert_eq!(
        when(&declared(), IncidentCommand::Close),
        rejected(IncidentError::NotResolved)
    );
    assert_eq!(
        when(&resolved(), IncidentCommand::Close),
        Ok(vec![IncidentEvent::Closed(IncidentClosed {
            by: alice(),
            at: Timestamp(T0),
        })])
    );
}

#[test]
fn commands_on_a_closed_incident_are_rejected() {
    let closed = history(vec![declare(), resolve(), IncidentCommand::Close]);
    for command in [
        IncidentCommand::AddNote {
            text: Note::parse("late").expect("bounded"),
        },
        IncidentCommand::Reopen {
            reason: Reason::parse("again").expect("bounded"),
        },
        IncidentCommand::Close,
        IncidentCommand::CheckEscalation,
    ] {
        assert_eq!(when(&closed, command), rejected(IncidentError::Closed));
    }
}

#[test]
fn reopen_goes_back_to_investigating() {
    let reopen = IncidentCommand::Reopen {
        reason: Reason::parse("errors again").expect("bounded"),
    };
    assert_eq!(
        when(&resolved(), reopen.clone()),
        Ok(vec![IncidentEvent::Reopened(IncidentReopened {
            reason: "errors again".into(),
            by: alice(),
            at: Timestamp(T0),
        })])
    );
    let s = given(&history(vec![declare(), resolve(), reopen]));
    assert_eq!(
        (
            s.status,
            s.resolved_at,
            s.resolution_summary,
            s.reopen_count
        ),
        (IncidentStatus::Investigating, None, None, 1)
    );
}

#[test]
fn reopen_needs_a_resolved_incident() {
    let cmd = IncidentCommand::Reopen {
        reason: Reason::parse("x").expect("bounded"),
    };
    assert_eq!(when(&declared(), cmd), rejected(IncidentError::NotResolved));
}

// ---- roles ----

#[test]
fn assigning_a_commander_and_handing_off() {
    let assign = |who: &str| IncidentCommand::AssignCommander {
        commander: Actor(who.into()),
    };
    let events = history(vec![declare(), assign("bob"), assign("carol")]);
    assert_eq!(
        events.last(),
        Some(&IncidentEvent::CommanderAssigned(
            IncidentCommanderAssigned {
                commander: Actor("carol".into()),
                previous: Some(Actor("bob".into())),
                by: alice(),
                at: Timestamp(T0),
            }
        ))
    );
    assert_eq!(given(&events).commander, Some(Actor("carol".into())));
    assert_eq!(
        when(&events, assign("carol")),
        rejected(IncidentError::AlreadyCommander)
    );
    assert_eq!(
        when(&events, assign(" ")),
        rejected(IncidentError::EmptyActorName)
    );
}

#[test]
fn responders_are_added_once_and_removed_if_present() {
    let bob = || Actor("bob".into());
    let add = IncidentCommand::AddResponder { responder: bob() };
    let remove = IncidentCommand::RemoveResponder { responder: bob() };
    let events = history(vec![declare(), add.clone()]);
    assert_eq!(given(&events).responders, vec![bob()]);
    assert_eq!(
        when(&events, add),
        rejected(IncidentError::AlreadyResponder)
    );
    let events = history(vec![
        declare(),
        IncidentCommand::AddResponder { responder: bob() },
        remove.clone(),
    ]);
    assert_eq!(given(&events).responders, Vec::<Actor>::new());
    assert_eq!(
        when(&events, remove),
        rejected(IncidentError::NotAResponder)
    );
}

// ---- escalation ----

fn check_at(events: &[IncidentEvent], ms: i64) -> Result<Vec<IncidentEvent>, DomainError> {
    given(events).decide(IncidentCommand::CheckEscalation, facts(), &ctx_at(ms))
}

fn escalated(level: u32, target: &str, automatic: bool, at: i64) -> IncidentEvent {
    IncidentEvent::Escalated(IncidentEscalated {
        level,
        target: target.into(),
        automatic,
        by: alice(),
        at: Timestamp(at),
    })
}

#[test]
fn escalation_due_after_ack_timeout_escalates_automatically() {
    let events = declared();
    assert_eq!(
        given(&events).escalation_deadline(),
        Some(Timestamp(T0 + 300_000))
    );
    assert_eq!(check_at(&events, T0 + 299_999), Ok(vec![]));
    assert_eq!(
        check_at(&events, T0 + 300_000),
        Ok(vec![escalated(1, "secondary", true, T0 + 300_000)])
    );
}

#[test]
fn escalation_timer_restarts_at_each_level() {
    let mut events = declared();
    events.push(escalated(1, "secondary", true, T0 + 300_000));
    assert_eq!(
        given(&events).escalation_deadline(),
        Some(Timestamp(T0 + 900_000))
    );
    assert_eq!(check_at(&events, T0 + 899_999), Ok(vec![]));
    assert_eq!(
        check_at(&events, T0 + 900_000),
        Ok(vec![escalated(2, "manager", true, T0 + 900_000)])
    );
}

#[test]
fn escalation_stops_at_the_last_level() {
    let mut events = declared();
    events.push(escalated(2, "manager", true, T0));
    assert_eq!(given(&events).escalation_deadline(), None);
    assert_eq!(check_at(&events, T0 + 10_000_000), Ok(vec![]));
    assert_eq!(
        when(&events, IncidentCommand::Escalate),
        rejected(IncidentError::NoFurtherEscalationLevel)
    );
}

#[test]
fn acknowledged_incident_does_not_escalate_automatically() {
    let events = history(vec![declare(), IncidentCommand::Acknowledge]);
    assert_eq!(given(&events).escalation_deadline(), None);
    assert_eq!(check_at(&events, T0 + 10_000_000), Ok(vec![]));
}

#[test]
fn manual_escalation_pages_the_next_level() {
    assert_eq!(
        when(&declared(), IncidentCommand::Escalate),
        Ok(vec![escalated(1, "secondary", false, T0)])
    );
    assert_eq!(
        when(&resolved(), IncidentCommand::Escalate),
        rejected(IncidentError::NotActive)
    );
}

// ---- severity, impact, notes, updates ----

#[test]
fn severity_change_records_from_and_to() {
    let cmd = IncidentCommand::ChangeSeverity { to: Severity::Sev3 };
    assert_eq!(
        when(&declared(), cmd),
        Ok(vec![IncidentEvent::SeverityChanged(
            IncidentSeverityChanged {
                from: Severity::Sev1,
                to: Severity::Sev3,
                by: alice(),
                at: Timestamp(T0),
            }
        )])
    );
    let same = IncidentCommand::ChangeSeverity { to: Severity::Sev1 };
    assert_eq!(
        when(&declared(), same),
        rejected(IncidentError::SameSeverity)
    );
}

#[test]
fn impact_is_updated_per_service() {
    let downgrade = IncidentCommand::UpdateImpact {
        service: sid(1),
        level: ImpactLevel::Degraded,
    };
    let add = IncidentCommand::UpdateImpact {
        service: sid(2),
        level: ImpactLevel::PartialOutage,
    };
    let events = history(vec![declare(), downgrade.clone(), add]);
    assert_eq!(
        events[1],
        IncidentEvent::ImpactUpdated(IncidentImpactUpdated {
            service: sid(1),
            previous: Some(ImpactLevel::MajorOutage),
            level: ImpactLevel::Degraded,
            by: alice(),
            at: Timestamp(T0),
        })
    );
    let expected = vec![
        ServiceImpact {
            service: sid(1),
            level: ImpactLevel::Degraded,
        },
        ServiceImpact {
            service: sid(2),
            level: ImpactLevel::PartialOutage,
        },
    ];
    assert_eq!(given(&events).impacts, expected);
    assert_eq!(
        when(&events, downgrade),
        rejected(IncidentError::SameImpact)
    );
}

#[test]
fn notes_need_text() {
    assert_eq!(
        when(
            &declared(),
            IncidentCommand::AddNote {
                text: Note::parse("restarted pods").expect("bounded")
            }
        ),
        Ok(vec![IncidentEvent::NoteAdded(IncidentNoteAdded {
            text: "restarted pods".into(),
            by: alice(),
            at: Timestamp(T0),
        })])
    );
    let empty = IncidentCommand::AddNote {
        text: Note::parse(String::new()).expect("bounded"),
    };
    assert_eq!(when(&declared(), empty), rejected(IncidentError::EmptyNote));
}

#[test]
fn status_updates_carry_visibility_and_current_status() {
    let cmd = IncidentCommand::PostStatusUpdate {
        visibility: Visibility::Public,
        message: StatusMessage::parse("We are investigating").expect("bounded"),
    };
    assert_eq!(
        when(&resolved(), cmd),
        Ok(vec![IncidentEvent::StatusUpdatePosted(
            IncidentStatusUpdatePosted {
                visibility: Visibility::Public,
                message: "We are investigating".into(),
                status: IncidentStatus::Resolved,
                by: alice(),
                at: Timestamp(T0),
            }
        )])
    );
    let empty = IncidentCommand::PostStatusUpdate {
        visibility: Visibility::Internal,
        message: StatusMessage::parse(" ").expect("bounded"),
    };
    assert_eq!(
        when(&declared(), empty),
        rejected(IncidentError::EmptyStatusUpdate)
    );
}

// ---- links and merging ----

#[test]
fn cause_change_is_linked_and_replaceable() {
    let link = |n| IncidentCommand::LinkCauseChange {
        change: ChangeId::new(Ulid(n)),
    };
    let events = history(vec![declare(), link(5), link(6)]);
    assert_eq!(
        events.last(),
        Some(&IncidentEvent::CauseChangeLinked(
            IncidentCauseChangeLinked {
                change: ChangeId::new(Ulid(6)),
                previous: Some(ChangeId::new(Ulid(5))),
                by: alice(),
                at: Timestamp(T0),
            }
        ))
    );
    assert_eq!(
        when(&events, link(6)),
        rejected(IncidentError::CauseAlreadyLinked)
    );
}

#[test]
fn alert_groups_are_linked_once() {
    let group = AlertGroupKey {
        service: sid(1),
        dedup_key: "cpu-high".into(),
    };
    let link = IncidentCommand::LinkAlertGroup {
        group: group.clone(),
    };
    let events = history(vec![declare(), link.clone()]);
    assert_eq!(given(&events).alert_groups, vec![group]);
    assert_eq!(
        when(&events, link),
        rejected(IncidentError::AlertGroupAlreadyLinked)
    );
}

#[test]
fn merged_duplicate_rejects_further_commands() {
    let merge = IncidentCommand::MergeInto { target: iid(2) };
    assert_eq!(
        when(&declared(), merge.clone()),
        Ok(vec![IncidentEvent::MergedInto(IncidentMergedInto {
            target: iid(2),
            by: alice(),
            at: Timestamp(T0),
        })])
    );
    let events = history(vec![declare(), merge]);
    assert_eq!(given(&events).merged_into, Some(iid(2)));
    assert_eq!(
        when(&events, IncidentCommand::Acknowledge),
        rejected(IncidentError::Merged)
    );
    assert_eq!(given(&events).escalation_deadline(), None);
}

#[test]
fn merging_into_itself_is_rejected() {
    let merge = IncidentCommand::MergeInto { target: iid(1) };
    assert_eq!(
        when(&declared(), merge),
        rejected(IncidentError::CannotMergeIntoSelf)
    );
    let absorb = IncidentCommand::AbsorbDuplicate { duplicate: iid(1) };
    assert_eq!(
        when(&declared(), absorb),
        rejected(IncidentError::CannotMergeIntoSelf)
    );
}

#[test]
fn a_merge_is_refused_when_either_side_refuses() {
    let open_target = given(&declared());
    let closed = given(&history(vec![declare(), resolve(), IncidentCommand::Close]));
    let open = given(&declared());
    assert_eq!(
        check_merge(&closed, &open_target, iid(2), iid(1), &ctx()),
        rejected(IncidentError::Closed).map(|_| ())
    );
    assert_eq!(
        check_merge(&open, &closed, iid(2), iid(1), &ctx()),
        rejected(IncidentError::Closed).map(|_| ())
    );
    assert_eq!(
        check_merge(&open, &open_target, iid(2), iid(3), &ctx()),
        Ok(())
    );
}

#[test]
fn target_records_each_merged_duplicate_once() {
    let absorb = IncidentCommand::AbsorbDuplicate { duplicate: iid(3) };
    let events = history(vec![declare(), absorb.clone()]);
    assert_eq!(
        events[1],
        IncidentEvent::DuplicateMerged(IncidentDuplicateMerged {
            duplicate: iid(3),
            by: alice(),
            at: Timestamp(T0),
        })
    );
    assert_eq!(given(&events).duplicates, vec![iid(3)]);
    assert_eq!(
        when(&events, absorb),
        rejected(IncidentError::DuplicateAlreadyMerged)
    );
}

#[test]
fn event_type_names_are_the_struct_names() {
    let names: Vec<&str> = history(vec![
        declare(),
        IncidentCommand::Advance {
            to: Stage::Investigating,
        },
    ])
    .iter()
    .map(|e| e.type_name())
    .collect();
    assert_eq!(
        names,
        [
            "IncidentDeclared",
            "IncidentAcknowledged",
            "IncidentStatusChanged"
        ]
    );
    assert_eq!(declared()[0].schema_version(), 1);
}

// ---- property: replay ----

fn arb_command() -> impl Strategy<Value = IncidentCommand> {
    let stage = prop_oneof![
        Just(Stage::Investigating),
        Just(Stage::Identified),
        Just(Stage::Monitoring)
    ];
    let severity = prop_oneof![
        Just(Severity::Sev1),
        Just(Severity::Sev2),
        Just(Severity::Sev3),
        Just(Severity::Sev4)
    ];
    let person = prop_oneof![Just("bob"), Just("carol")].prop_map(|p| Actor(p.into()));
    prop_oneof![
        Just(declare()),
        Just(IncidentCommand::Acknowledge),
        stage.prop_map(|to| IncidentCommand::Advance { to }),
        person
            .clone()
            .prop_map(|commander| IncidentCommand::AssignCommander { commander }),
        person
            .clone()
            .prop_map(|responder| IncidentCommand::AddResponder { responder }),
        person.prop_map(|responder| IncidentCommand::RemoveResponder { responder }),
        Just(IncidentCommand::Escalate),
        Just(IncidentCommand::CheckEscalation),
        severity.prop_map(|to| IncidentCommand::ChangeSeverity { to }),
        (1u128..3).prop_map(|n| IncidentCommand::UpdateImpact {
            service: sid(n),
            level: ImpactLevel::PartialOutage
        }),
        Just(IncidentCommand::AddNote {
            text: Note::parse("n").expect("bounded")
        }),
        (1u128..3).prop_map(|n| IncidentCommand::LinkCauseChange {
            change: ChangeId::new(Ulid(n))
        }),
        (1u128..4).prop_map(|n| IncidentCommand::AbsorbDuplicate { duplicate: iid(n) }),
        Just(IncidentCommand::MergeInto { target: iid(2) }),
        Just(resolve()),
        Just(IncidentCommand::Close),
        Just(IncidentCommand::Reopen {
            reason: Reason::parse("r").expect("bounded")
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn rebuilt_state_equals_incremental_state(
        steps in proptest::collection::vec((arb_command(), 0i64..600_000), 0..24)
    ) {
        let mut now = T0;
        let steps = steps
            .into_iter()
            .map(|(command, advance)| {
                now += advance;
                (command, facts(), ctx_at(now))
            })
            .collect();
        prop_assert_eq!(testing::check_replay::<IncidentState>(steps, |s| s.version), Ok(()));
    }
}

#[test]
fn a_detection_more_than_the_clock_skew_in_the_future_is_rejected() {
    let mut cmd = declare_cmd(None, vec![impacted(1, ImpactLevel::MajorOutage)]);
    cmd.started_at = Some(Timestamp(T0));
    cmd.detected_at = Some(Timestamp(T0 + crate::time::MAX_CLOCK_SKEW_MS + 1));
    assert_eq!(
        when(&[], IncidentCommand::Declare(cmd)),
        rejected(IncidentError::DetectedInFuture)
    );
}

#[test]
fn a_detection_within_the_clock_skew_is_recorded_as_now() {
    let mut cmd = declare_cmd(None, vec![impacted(1, ImpactLevel::MajorOutage)]);
    cmd.started_at = Some(Timestamp(T0 + 1_000));
    cmd.detected_at = Some(Timestamp(T0 + crate::time::MAX_CLOCK_SKEW_MS));
    let events = when(&[], IncidentCommand::Declare(cmd)).unwrap();
    let IncidentEvent::Declared(e) = &events[0] else {
        panic!("not declared: {events:?}")
    };
    assert_eq!(
        (e.started_at, e.detected_at),
        (Timestamp(T0), Timestamp(T0))
    );
}
