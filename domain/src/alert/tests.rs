//! Given/when/then tests of the alert group rules, plus a property test.

use super::*;
use crate::incident::{DeclarationFacts, IncidentCommand, IncidentEvent, IncidentState};
use crate::service::{EscalationPolicy, Tier};
use crate::testing;
use crate::ServiceId;
use proptest::prelude::*;
use ulid::Ulid;

const T0: i64 = 5_000_000;

fn sid(n: u128) -> ServiceId {
    ServiceId::new(Ulid(n))
}

fn iid(n: u128) -> IncidentId {
    IncidentId::new(Ulid(n))
}

fn ctx() -> Context {
    Context::new(Timestamp(T0), "alertmanager")
}

fn by() -> Actor {
    Actor("alertmanager".into())
}

fn key() -> AlertGroupKey {
    AlertGroupKey {
        service: sid(1),
        dedup_key: "cpu-high".into(),
    }
}

fn alert(received_at: i64) -> Alert {
    Alert {
        group: key(),
        source: "alertmanager".into(),
        summary: "CPU above 95%".into(),
        severity_hint: None,
        labels: vec![("instance".into(), "web-1".into())],
        started_at: Some(Timestamp(received_at - 30_000)),
        received_at: Timestamp(received_at),
    }
}

fn ingest_cmd(firing: bool, incident: u128) -> IngestAlert {
    let alert = alert(T0);
    IngestAlert {
        group: alert.group,
        source: alert.source,
        summary: alert.summary,
        severity_hint: alert.severity_hint,
        labels: alert.labels,
        started_at: alert.started_at,
        firing,
        impact: ImpactLevel::PartialOutage,
        new_incident_id: iid(incident),
    }
}

fn service_facts() -> ServiceFacts {
    ServiceFacts {
        tier: Tier::ONE,
        retired: false,
        escalation_policy: EscalationPolicy::default(),
    }
}

fn facts() -> AlertFacts {
    AlertFacts {
        service: Some(service_facts()),
    }
}

fn ingest(firing: bool, incident: u128) -> AlertGroupCommand {
    AlertGroupCommand::Ingest(ingest_cmd(firing, incident))
}

fn given(events: &[AlertGroupEvent]) -> AlertGroupState {
    events
        .iter()
        .fold(AlertGroupState::default(), |s, e| s.evolve(e))
}

fn when(
    events: &[AlertGroupEvent],
    command: AlertGroupCommand,
) -> Result<Vec<AlertGroupEvent>, DomainError> {
    given(events).decide(command, facts(), &ctx())
}

fn rejected(e: AlertError) -> Result<Vec<AlertGroupEvent>, DomainError> {
    Err(DomainError::Alert(e))
}

fn received() -> AlertGroupEvent {
    AlertGroupEvent::Received(AlertReceived { alert: alert(T0) })
}

fn opened(incident: u128) -> AlertGroupEvent {
    AlertGroupEvent::IncidentOpenedV2(IncidentOpenedForGroupV2 {
        incident_id: iid(incident),
        severity: Severity::Sev2,
        impact: ingest_cmd(true, incident).impact,
        by: by(),
        at: Timestamp(T0),
    })
}

fn opened_v1(incident: u128) -> AlertGroupEvent {
    AlertGroupEvent::IncidentOpened(IncidentOpenedForGroup {
        incident_id: iid(incident),
        severity: Severity::Sev2,
        by: by(),
        at: Timestamp(T0),
    })
}

#[test]
fn a_schema_1_opening_folds_like_a_schema_2_one() {
    assert_eq!(
        given(&[received(), opened_v1(7)]),
        given(&[received(), opened(7)])
    );
}

#[test]
fn the_declaration_is_rebuilt_from_the_groups_events_alone() {
    let cmd = ingest_cmd(true, 7);
    let events = when(&[], AlertGroupCommand::Ingest(cmd.clone())).expect("opens");
    let [AlertGroupEvent::Received(received), AlertGroupEvent::IncidentOpenedV2(opened)] =
        events.as_slice()
    else {
        panic!("expected Received then IncidentOpenedV2, got {events:?}");
    };
    let rebuilt = declaration_for(&received.alert, opened.incident_id, opened.impact);
    assert_eq!(
        rebuilt,
        declaration_for(&cmd.alert(ctx().now), iid(7), cmd.impact)
    );
}

fn released(incident: u128) -> AlertGroupEvent {
    AlertGroupEvent::Released(AlertGroupReleased {
        incident_id: iid(incident),
        by: by(),
        at: Timestamp(T0),
    })
}

#[test]
fn stream_id_names_service_and_dedup_key() {
    let service = sid(1);
    assert_eq!(
        alert_group_stream_id(service, "cpu-high"),
        format!("alertgroup-{}-cpu-high", service.0)
    );
    assert_eq!(
        key().stream_id(),
        alert_group_stream_id(service, "cpu-high")
    );
}

#[test]
fn dedup_key_must_be_non_empty_and_at_most_200_chars() {
    assert_eq!(
        AlertGroupKey::new(sid(1), "").map_err(AlertError::from),
        Err(AlertError::EmptyDedupKey)
    );
    assert_eq!(
        AlertGroupKey::new(sid(1), "k".repeat(201)).map_err(AlertError::from),
        Err(AlertError::DedupKeyTooLong)
    );
    assert_eq!(
        AlertGroupKey::new(sid(1), "k".repeat(200)).map(|k| k.dedup_key.len()),
        Ok(200)
    );
    let mut cmd = ingest_cmd(true, 9);
    cmd.group.dedup_key = String::new();
    assert_eq!(
        when(&[], AlertGroupCommand::Ingest(cmd)),
        rejected(AlertError::EmptyDedupKey)
    );
}

#[test]
fn firing_alert_without_open_incident_opens_one() {
    assert_eq!(when(&[], ingest(true, 9)), Ok(vec![received(), opened(9)]));
    let state = given(&[received(), opened(9)]);
    assert_eq!(
        (
            state.open_incident,
            state.alerts_received,
            state.incidents_opened
        ),
        (Some(iid(9)), 1, 1)
    );
}

/// The severity of the incident `cmd` opens on an empty group.
fn opened_severity(cmd: IngestAlert) -> Severity {
    let events = when(&[], AlertGroupCommand::Ingest(cmd)).expect("opens");
    match events.as_slice() {
        [_, AlertGroupEvent::IncidentOpenedV2(opened)] => opened.severity,
        other => panic!("{other:?}"),
    }
}

#[test]
fn opened_incident_severity_prefers_the_hint() {
    let mut cmd = ingest_cmd(true, 9);
    cmd.severity_hint = Some(Severity::Sev4);
    assert_eq!(opened_severity(cmd.clone()), Severity::Sev4);
    cmd.severity_hint = None;
    cmd.impact = ImpactLevel::MajorOutage;
    assert_eq!(opened_severity(cmd), Severity::Sev1);
}

#[test]
fn an_alert_opening_an_incident_needs_its_services_facts() {
    assert_eq!(
        given(&[]).decide(ingest(true, 9), AlertFacts::default(), &ctx()),
        rejected(AlertError::UnknownService)
    );
    // Attaching or recording a resolved alert needs none.
    let open = given(&[received(), opened(9)]);
    assert!(open
        .decide(ingest(true, 10), AlertFacts::default(), &ctx())
        .is_ok());
    assert!(open
        .decide(ingest(false, 10), AlertFacts::default(), &ctx())
        .is_ok());
}

#[test]
fn firing_alert_with_open_incident_attaches_as_suppressed() {
    let events = when(&[received(), opened(9)], ingest(true, 10));
    assert_eq!(
        events,
        Ok(vec![
            received(),
            AlertGroupEvent::Attached(AlertAttached {
                incident_id: iid(9),
                suppressed: true,
                at: Timestamp(T0),
            }),
        ])
    );
    let state = given(&[received(), opened(9), received()]);
    assert_eq!(state.alerts_received, 2);
    let mut all = vec![received(), opened(9)];
    all.extend(events.unwrap());
    assert_eq!(
        (given(&all).alerts_suppressed, given(&all).open_incident),
        (1, Some(iid(9)))
    );
}

#[test]
fn resolved_alert_is_recorded_and_leaves_the_incident_open() {
    let events = when(&[received(), opened(9)], ingest(false, 10));
    assert_eq!(
        events,
        Ok(vec![AlertGroupEvent::Resolved(AlertResolved {
            alert: alert(T0),
            incident_id: Some(iid(9)),
        })])
    );
    let mut all = vec![received(), opened(9)];
    all.extend(events.unwrap());
    let state = given(&all);
    assert_eq!(
        (state.open_incident, state.firing, state.alerts_resolved),
        (Some(iid(9)), false, 1)
    );
}

#[test]
fn released_group_opens_a_new_incident_on_the_next_firing_alert() {
    let release = AlertGroupCommand::Release(ReleaseGroup {
        incident_id: iid(9),
    });
    assert_eq!(
        when(&[received(), opened(9)], release),
        Ok(vec![released(9)])
    );
    let history = [received(), opened(9), released(9)];
    assert_eq!(
        when(&history, ingest(true, 10)),
        Ok(vec![received(), opened(10)])
    );
}

#[test]
fn release_needs_the_groups_open_incident() {
    let release = |n| {
        AlertGroupCommand::Release(ReleaseGroup {
            incident_id: iid(n),
        })
    };
    assert_eq!(when(&[], release(9)), rejected(AlertError::NoOpenIncident));
    assert_eq!(
        when(&[received(), opened(9)], release(8)),
        rejected(AlertError::IncidentMismatch)
    );
}

#[test]
fn alert_for_another_group_is_rejected() {
    let mut cmd = ingest_cmd(true, 9);
    cmd.group.dedup_key = "disk-full".into();
    assert_eq!(
        when(&[received(), opened(9)], AlertGroupCommand::Ingest(cmd)),
        rejected(AlertError::GroupKeyMismatch)
    );
}

#[test]
fn alert_needs_a_summary() {
    let mut cmd = ingest_cmd(true, 9);
    cmd.summary = " ".into();
    assert_eq!(
        when(&[], AlertGroupCommand::Ingest(cmd)),
        rejected(AlertError::EmptySummary)
    );
}

#[test]
fn an_alert_started_more_than_the_clock_skew_in_the_future_is_rejected() {
    let skew = crate::time::MAX_CLOCK_SKEW_MS;
    let mut cmd = ingest_cmd(true, 9);
    cmd.started_at = Some(Timestamp(T0 + skew + 1));
    assert_eq!(
        when(&[], AlertGroupCommand::Ingest(cmd.clone())),
        rejected(AlertError::StartedInFuture)
    );
    cmd.started_at = Some(Timestamp(T0 + skew));
    assert!(when(&[], AlertGroupCommand::Ingest(cmd)).is_ok());
}

#[test]
fn retired_service_alert_cannot_open_an_incident() {
    let mut retired = service_facts();
    retired.retired = true;
    let facts = AlertFacts {
        service: Some(retired),
    };
    assert_eq!(
        given(&[]).decide(ingest(true, 9), facts, &ctx()),
        rejected(AlertError::ServiceRetired)
    );
}

#[test]
fn declare_from_alert_builds_the_incident_declaration() {
    let cmd = ingest_cmd(true, 9);
    let declare = declaration_for(&cmd.alert(Timestamp(T0)), iid(9), cmd.impact);
    assert_eq!(declare.id, iid(9));
    assert_eq!(declare.title, "CPU above 95%");
    assert_eq!(declare.severity, None);
    assert_eq!(declare.started_at, Some(Timestamp(T0 - 30_000)));
    assert_eq!(declare.detected_at, Some(Timestamp(T0)));
    assert_eq!(declare.alert_group, Some(key()));
    let events = IncidentState::default()
        .decide(
            IncidentCommand::Declare(declare),
            DeclarationFacts::of(sid(1), service_facts()),
            &ctx(),
        )
        .unwrap();
    let [IncidentEvent::Declared(declared)] = events.as_slice() else {
        panic!("{events:?}")
    };
    // The incident derives the same severity the group recorded.
    assert_eq!(
        (declared.severity, declared.severity_derived),
        (opened_severity(cmd), true)
    );
}

fn arb_command() -> impl Strategy<Value = AlertGroupCommand> {
    prop_oneof![
        (any::<bool>(), 1u128..6).prop_map(|(firing, n)| ingest(firing, n)),
        (1u128..6).prop_map(|n| AlertGroupCommand::Release(ReleaseGroup {
            incident_id: iid(n)
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn rebuilt_group_equals_incremental_group(cmds in proptest::collection::vec(arb_command(), 0..24)) {
        let steps: Vec<_> = cmds.into_iter().map(|cmd| (cmd, facts(), ctx())).collect();
        prop_assert_eq!(testing::check_replay::<AlertGroupState>(steps.clone(), |s| s.version), Ok(()));
        // Every firing alert either opened the incident or was suppressed.
        let state = steps
            .into_iter()
            .fold(AlertGroupState::default(), |state, (cmd, facts, ctx)| match state.decide(cmd, facts, &ctx) {
                Ok(events) => events.iter().fold(state, |s, e| s.evolve(e)),
                Err(_) => state,
            });
        prop_assert_eq!(state.alerts_received, state.alerts_suppressed + state.incidents_opened);
    }
}
