//! Time travel and the on-demand incident timeline.

mod common;

use opsledger_domain::incident::{ImpactLevel, IncidentStatus, Severity};
use opsledger_domain::{IncidentId, ServiceId, Timestamp};
use opsledger_projections::models::incidents::incident_timeline;
use opsledger_projections::time_travel::incident_as_of;
use opsledger_projections::AsOf;
use opsledger_synthetic::*;

const T0: i64 = EPOCH_2024_MS;

#[tokio::test]
async fn incident_as_of_a_position_or_time_folds_only_the_events_up_to_there() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path()).await;
    let mut w = Appender::new(store.clone());
    let svc = ServiceId::new(ulid(1, 1));
    let id = IncidentId::new(ulid(2, 1));
    let declared = w
        .append(
            &id.stream_id(),
            T0,
            &[incident_declared(
                id,
                Severity::Sev2,
                &[(svc, ImpactLevel::Degraded)],
                T0,
                T0,
                None,
            )],
        )
        .await
        .unwrap();
    let acked = w
        .append(
            &id.stream_id(),
            T0 + 1000,
            &[incident_acknowledged(T0 + 1000)],
        )
        .await
        .unwrap();
    w.append(
        &id.stream_id(),
        T0 + 2000,
        &[incident_resolved(IncidentStatus::Acknowledged, T0 + 2000)],
    )
    .await
    .unwrap();

    let at_declare = incident_as_of(store.as_ref(), id, AsOf::Position(declared.last_position))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (at_declare.state.status, at_declare.stream_version),
        (IncidentStatus::Triggered, 0)
    );
    let at_ack = incident_as_of(store.as_ref(), id, AsOf::Time(T0 + 1500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (at_ack.state.status, at_ack.position),
        (IncidentStatus::Acknowledged, acked.last_position)
    );
    assert_eq!(at_ack.state.acknowledged_at, Some(Timestamp(T0 + 1000)));
    let now = incident_as_of(store.as_ref(), id, AsOf::Time(i64::MAX))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.state.status, IncidentStatus::Resolved);
    assert!(incident_as_of(store.as_ref(), id, AsOf::Time(T0 - 1))
        .await
        .unwrap()
        .is_none());

    let timeline = incident_timeline(store.as_ref(), id).await.unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "IncidentDeclared",
            "IncidentAcknowledged",
            "IncidentResolved"
        ]
    );
    assert_eq!(timeline[2].text, "resolved: fixed");
}
