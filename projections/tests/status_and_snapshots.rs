//! Status page behaviour, read-your-writes, pagination over a real store,
//! and snapshot robustness.

mod common;

use opsledger_domain::change::ChangeCategory;
use opsledger_domain::incident::{ImpactLevel, IncidentStatus, Severity, Visibility};
use opsledger_domain::service::Tier;
use opsledger_domain::{ChangeId, IncidentId, ServiceId};
use opsledger_projections::models::incidents::IncidentFilter;
use opsledger_projections::pagination::PageRequest;
use opsledger_projections::{
    status_page, Checkpointed, ProjectionError, ReadModels, ServiceHealth, SnapshotStore,
};
use opsledger_synthetic::*;

const T0: i64 = EPOCH_2024_MS;

fn health(page: &opsledger_projections::StatusPage, name: &str) -> (ServiceHealth, Vec<ServiceId>) {
    let s = page.services.iter().find(|s| s.name == name).unwrap();
    (s.health, s.impacted_via.clone())
}

#[tokio::test]
async fn status_page_propagates_down_the_chain_shows_maintenance_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path()).await;
    let (runner, handle) = common::start_runner(&store, dir.path()).await;
    let mut w = Appender::new(store.clone());
    // web -> api -> db (web depends on api, api on db); batch stands alone.
    let [db, api, web, batch] = [1, 2, 3, 4].map(|n| ServiceId::new(ulid(1, n)));
    for (id, name, deps) in [
        (db, "db", vec![]),
        (api, "api", vec![db]),
        (web, "web", vec![api]),
        (batch, "batch", vec![]),
    ] {
        w.append(
            &id.stream_id(),
            T0,
            &[service_registered(
                id,
                name,
                "t",
                Tier::ONE,
                deps,
                999_000,
                0,
                T0,
            )],
        )
        .await
        .unwrap();
    }
    let incident = IncidentId::new(ulid(2, 1));
    w.append(
        &incident.stream_id(),
        T0 + 1000,
        &[
            incident_declared(
                incident,
                Severity::Sev1,
                &[(db, ImpactLevel::MajorOutage)],
                T0,
                T0 + 1000,
                None,
            ),
            status_update(
                Visibility::Public,
                IncidentStatus::Triggered,
                "db is down",
                T0 + 2000,
            ),
            status_update(
                Visibility::Internal,
                IncidentStatus::Triggered,
                "secret",
                T0 + 3000,
            ),
        ],
    )
    .await
    .unwrap();
    let running = ChangeId::new(ulid(3, 1));
    let mut ev = vec![change_requested(
        running,
        ChangeCategory::Patch,
        vec![batch],
        (T0, T0 + 3_600_000),
        T0,
    )];
    ev.extend(change_scheduled((T0, T0 + 3_600_000), T0));
    ev.push(change_started(T0 + 5000));
    w.append(&running.stream_id(), T0 + 5000, &ev)
        .await
        .unwrap();
    let upcoming = ChangeId::new(ulid(3, 2));
    let mut ev = vec![change_requested(
        upcoming,
        ChangeCategory::Release,
        vec![web],
        (T0 + 86_400_000, T0 + 90_000_000),
        T0,
    )];
    ev.extend(change_scheduled((T0 + 86_400_000, T0 + 90_000_000), T0));
    let out = w
        .append(&upcoming.stream_id(), T0 + 6000, &ev)
        .await
        .unwrap();
    handle
        .wait_for(out.last_position, common::WAIT)
        .await
        .unwrap();

    let page = handle.read(status_page);
    assert_eq!(health(&page, "db"), (ServiceHealth::MajorOutage, vec![]));
    assert_eq!(health(&page, "api"), (ServiceHealth::Degraded, vec![db]));
    assert_eq!(health(&page, "web"), (ServiceHealth::Degraded, vec![db]));
    assert_eq!(
        health(&page, "batch"),
        (ServiceHealth::UnderMaintenance, vec![])
    );
    assert_eq!(page.overall, ServiceHealth::MajorOutage);
    assert_eq!(page.active_incidents.len(), 1);
    let updates: Vec<&str> = page.active_incidents[0]
        .updates
        .iter()
        .map(|u| u.message.as_str())
        .collect();
    assert_eq!(updates, vec!["db is down"]);
    assert_eq!(page.scheduled_maintenance.len(), 1);
    assert_eq!(page.scheduled_maintenance[0].change, upcoming);
    assert_eq!(page.scheduled_maintenance[0].services, vec![web]);

    w.append(
        &incident.stream_id(),
        T0 + 7000,
        &[incident_resolved(IncidentStatus::Triggered, T0 + 7000)],
    )
    .await
    .unwrap();
    let out = w
        .append(
            &running.stream_id(),
            T0 + 8000,
            &[change_ended(Ending::Completed, T0 + 8000)],
        )
        .await
        .unwrap();
    handle
        .wait_for(out.last_position, common::WAIT)
        .await
        .unwrap();
    let page = handle.read(status_page);
    for name in ["db", "api", "web", "batch"] {
        assert_eq!(
            health(&page, name),
            (ServiceHealth::Operational, vec![]),
            "{name}"
        );
    }
    assert_eq!(page.overall, ServiceHealth::Operational);
    assert!(page.active_incidents.is_empty());
    runner.shutdown().await.unwrap();
}

#[tokio::test]
async fn incident_pages_walk_newest_first_without_gaps_and_reject_foreign_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path()).await;
    let mut w = Appender::new(store.clone());
    let svc = ServiceId::new(ulid(1, 1));
    w.append(
        &svc.stream_id(),
        T0,
        &[service_registered(
            svc,
            "s",
            "t",
            Tier::TWO,
            vec![],
            999_000,
            0,
            T0,
        )],
    )
    .await
    .unwrap();
    for n in 0..5 {
        let id = IncidentId::new(ulid(2, n));
        w.append(
            &id.stream_id(),
            T0,
            &[incident_declared(
                id,
                Severity::Sev3,
                &[(svc, ImpactLevel::Degraded)],
                T0 + n as i64,
                T0 + n as i64,
                None,
            )],
        )
        .await
        .unwrap();
    }
    let (runner, handle) = common::start_runner(&store, dir.path()).await;
    let filter = IncidentFilter {
        service: Some(svc),
        ..IncidentFilter::default()
    };
    let p1 = handle
        .read(|m| m.incidents.list(&filter, &PageRequest::first(3)))
        .unwrap();
    let got: Vec<i64> = p1.nodes().map(|i| i.detected_at.0 - T0).collect();
    assert_eq!(got, vec![4, 3, 2]);
    assert_eq!((p1.has_next_page, p1.total_count), (true, Some(5)));
    let next = PageRequest::after(3, p1.end_cursor().unwrap());
    let p2 = handle.read(|m| m.incidents.list(&filter, &next)).unwrap();
    let got: Vec<i64> = p2.nodes().map(|i| i.detected_at.0 - T0).collect();
    assert_eq!((got, p2.has_next_page), (vec![1, 0], false));
    let bad = PageRequest::after(3, "garbage");
    assert!(matches!(
        handle.read(|m| m.incidents.list(&filter, &bad)),
        Err(ProjectionError::InvalidCursor)
    ));
    runner.shutdown().await.unwrap();
}

async fn models_after_restart(dir: &std::path::Path) -> Checkpointed<ReadModels> {
    let store = common::open_store(dir).await;
    let (runner, handle) = common::start_runner(&store, dir).await;
    let state = handle.read_checkpointed(|c| opsledger_storage::codec::encode_payload(c).unwrap());
    runner.shutdown().await.unwrap();
    store.flush_and_stop().await.unwrap();
    opsledger_storage::codec::decode_payload(&state).unwrap()
}

#[tokio::test]
async fn corrupt_or_foreign_version_snapshot_is_ignored_and_models_rebuilt_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = common::open_store(dir.path()).await;
        write_history(store.clone(), &generate(7, 4, 120))
            .await
            .unwrap();
        store.flush_and_stop().await.unwrap();
    }
    let healthy = models_after_restart(dir.path()).await;
    assert!(healthy.checkpoint.is_some());
    assert_eq!(healthy.skipped_events, 0);

    let mut good_version_bad_body = vec![opsledger_projections::snapshot::SNAPSHOT_LAYOUT, 1];
    good_version_bad_body.extend_from_slice(b"\x01 definitely not bincode");
    let damaged: [&[u8]; 3] = [
        b"",
        &[
            opsledger_projections::snapshot::SNAPSHOT_LAYOUT,
            99,
            1,
            2,
            3,
        ],
        &good_version_bad_body,
    ];
    for bytes in damaged {
        let snapshots = SnapshotStore::open(dir.path().join("projections")).unwrap();
        snapshots.put_raw::<ReadModels>(bytes).unwrap();
        drop(snapshots);
        assert_eq!(models_after_restart(dir.path()).await, healthy);
    }
}

#[tokio::test]
async fn wait_for_times_out_below_an_unreached_position() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path()).await;
    let (runner, handle) = common::start_runner(&store, dir.path()).await;
    let err = handle
        .wait_for(5, std::time::Duration::from_millis(20))
        .await;
    assert!(matches!(
        err,
        Err(ProjectionError::Timeout {
            wanted: 5,
            reached: None
        })
    ));
    runner.shutdown().await.unwrap();
}
