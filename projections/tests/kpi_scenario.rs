//! A hand-written history whose KPIs are computed by hand in the comments.

mod common;

use opsledger_domain::alert::AlertGroupKey;
use opsledger_domain::change::ChangeCategory;
use opsledger_domain::incident::{ImpactLevel, IncidentStatus, Severity};
use opsledger_domain::review::{ReviewActionItemCompleted, ReviewEvent};
use opsledger_domain::service::Tier;
use opsledger_domain::{
    ActionItemId, ChangeId, DomainEvent, IncidentId, ReviewId, ServiceId, Timestamp,
};
use opsledger_projections::bucket::BucketSize;
use opsledger_projections::kpi::{KpiReport, KpiWindow, SeverityCounts};
use opsledger_projections::{kpi_report, KpiQuery, KpiScope};
use opsledger_synthetic::*;

const T0: i64 = EPOCH_2024_MS; // Monday 2024-01-01 00:00 UTC
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Services: A (tier 1, team-a, SLO 99.9 %, RTO 1800 s) depends on B
/// (tier 2, team-b, SLO 99 %, RTO 600 s). Window: [T0, T0 + 7 d), now = T0 + 7 d.
async fn scenario(dir: &std::path::Path) -> (KpiReport, KpiReport) {
    let store = common::open_store(dir).await;
    let mut w = Appender::new(store.clone());
    let a = ServiceId::new(ulid(1, 1));
    let b = ServiceId::new(ulid(1, 2));
    let (i1, i2, i3, i4) = (
        IncidentId::new(ulid(2, 1)),
        IncidentId::new(ulid(2, 2)),
        IncidentId::new(ulid(2, 3)),
        IncidentId::new(ulid(2, 4)),
    );
    let c = |n| ChangeId::new(ulid(3, n));
    let (r1, r2) = (ReviewId::new(ulid(4, 1)), ReviewId::new(ulid(4, 2)));
    let (ai1, ai2, ai3) = (
        ActionItemId::new(ulid(5, 1)),
        ActionItemId::new(ulid(5, 2)),
        ActionItemId::new(ulid(5, 3)),
    );
    let cpu = AlertGroupKey {
        service: a,
        dedup_key: "cpu".into(),
    };
    let disk = AlertGroupKey {
        service: b,
        dedup_key: "disk".into(),
    };

    let mut append = |stream: String, at: i64, events: Vec<DomainEvent>| {
        let req = w.request(&stream, at, &events).unwrap();
        let store = store.clone();
        async move { store.append(req).await.unwrap() }
    };
    append(
        b.stream_id(),
        T0,
        vec![service_registered(
            b,
            "db",
            "team-b",
            Tier::TWO,
            vec![],
            990_000,
            600,
            T0,
        )],
    )
    .await;
    append(
        a.stream_id(),
        T0,
        vec![service_registered(
            a,
            "api",
            "team-a",
            Tier::ONE,
            vec![b],
            999_000,
            1800,
            T0,
        )],
    )
    .await;

    // Changes. C1 patch on A completed (later named the cause of I2); C2 patch on A failed;
    // C3 release on B rolled back; C4 release on B completed; C5 patch on B only scheduled.
    let change = |id: ChangeId, cat, svc, start: i64, end: Option<Ending>| {
        let mut ev = vec![change_requested(
            id,
            cat,
            vec![svc],
            (start, start + HOUR),
            start - HOUR,
        )];
        ev.extend(change_scheduled((start, start + HOUR), start - HOUR));
        if let Some(e) = end {
            ev.push(change_started(start));
            ev.push(change_ended(e, start + 30 * MIN));
        }
        (id.stream_id(), start - HOUR, ev)
    };
    for (s, at, ev) in [
        change(
            c(1),
            ChangeCategory::Patch,
            a,
            T0 + 30 * MIN,
            Some(Ending::Completed),
        ), // ends T0+1h
        change(
            c(2),
            ChangeCategory::Patch,
            a,
            T0 + DAY,
            Some(Ending::Failed),
        ),
        change(
            c(3),
            ChangeCategory::Release,
            b,
            T0 + 2 * DAY,
            Some(Ending::RolledBack),
        ),
        change(
            c(4),
            ChangeCategory::Release,
            b,
            T0 + 4 * DAY,
            Some(Ending::Completed),
        ),
        change(c(5), ChangeCategory::Patch, b, T0 + 10 * DAY, None),
    ] {
        append(s, at, ev).await;
    }

    // Alerts: 3 firing on A/cpu (1 opens I1, 2 suppressed), 2 on B/disk (open I3, then I4).
    let t = T0 + HOUR + 5 * MIN;
    let mut cpu_events = alert_fired(&cpu, Some(i1), None, t);
    cpu_events.extend(alert_fired(&cpu, None, Some(i1), t + MIN));
    cpu_events.extend(alert_fired(&cpu, None, Some(i1), t + 2 * MIN));
    append(cpu.stream_id(), t, cpu_events).await;

    // I1: SEV1, A major outage, started T0+1h, detected T0+1h05, acked +10 min,
    // mitigated T0+1h45, resolved T0+2h.
    append(
        i1.stream_id(),
        t,
        vec![
            incident_declared(
                i1,
                Severity::Sev1,
                &[(a, ImpactLevel::MajorOutage)],
                T0 + HOUR,
                t,
                Some(cpu.clone()),
            ),
            incident_acknowledged(t + 10 * MIN),
            incident_mitigated(IncidentStatus::Acknowledged, T0 + HOUR + 45 * MIN),
            incident_resolved(IncidentStatus::Monitoring, T0 + 2 * HOUR),
        ],
    )
    .await;
    append(
        cpu.stream_id(),
        T0 + 2 * HOUR,
        vec![alert_group_released(i1, T0 + 2 * HOUR)],
    )
    .await;

    // I2: SEV2, A major + B partial, started = detected = T0+1h30, acked +1 min,
    // caused by C1, resolved T0+3h (never mitigated).
    let t2 = T0 + HOUR + 30 * MIN;
    append(
        i2.stream_id(),
        t2,
        vec![
            incident_declared(
                i2,
                Severity::Sev2,
                &[
                    (a, ImpactLevel::MajorOutage),
                    (b, ImpactLevel::PartialOutage),
                ],
                t2,
                t2,
                None,
            ),
            incident_acknowledged(t2 + MIN),
            cause_linked(c(1), t2 + 2 * MIN),
            incident_resolved(IncidentStatus::Acknowledged, T0 + 3 * HOUR),
        ],
    )
    .await;

    // I3: SEV3, B degraded, from B/disk, started = detected = T0+2d, never acked, resolved +2h.
    let t3 = T0 + 2 * DAY;
    append(disk.stream_id(), t3, alert_fired(&disk, Some(i3), None, t3)).await;
    append(
        i3.stream_id(),
        t3,
        vec![
            incident_declared(
                i3,
                Severity::Sev3,
                &[(b, ImpactLevel::Degraded)],
                t3,
                t3,
                Some(disk.clone()),
            ),
            incident_resolved(IncidentStatus::Triggered, t3 + 2 * HOUR),
        ],
    )
    .await;
    append(
        disk.stream_id(),
        t3 + 2 * HOUR,
        vec![alert_group_released(i3, t3 + 2 * HOUR)],
    )
    .await;

    // I4: SEV4, B degraded, same fingerprint as I3 (recurring), T0+3d, acked +30 min, still open.
    let t4 = T0 + 3 * DAY;
    append(disk.stream_id(), t4, alert_fired(&disk, Some(i4), None, t4)).await;
    append(
        i4.stream_id(),
        t4,
        vec![
            incident_declared(
                i4,
                Severity::Sev4,
                &[(b, ImpactLevel::Degraded)],
                t4,
                t4,
                Some(disk.clone()),
            ),
            incident_acknowledged(t4 + 30 * MIN),
        ],
    )
    .await;

    // Reviews: R1 (I1) published with AI1 (done at T0+2d) and AI2 (due T0+5d, open);
    // R2 (I2) draft with AI3 (due T0+10d, open).
    append(
        r1.stream_id(),
        T0 + DAY,
        vec![
            review_created(r1, i1, Severity::Sev1, T0 + DAY),
            action_item_added(ai1, T0 + 3 * DAY, T0 + DAY),
            action_item_added(ai2, T0 + 5 * DAY, T0 + DAY),
            review_published(T0 + DAY + HOUR),
        ],
    )
    .await;
    append(
        r1.stream_id(),
        T0 + 2 * DAY,
        vec![DomainEvent::Review(ReviewEvent::ActionItemCompleted(
            ReviewActionItemCompleted {
                id: ai1,
                by: actor(),
                at: Timestamp(T0 + 2 * DAY),
            },
        ))],
    )
    .await;
    append(
        r2.stream_id(),
        T0 + DAY,
        vec![
            review_created(r2, i2, Severity::Sev2, T0 + DAY),
            action_item_added(ai3, T0 + 10 * DAY, T0 + DAY),
        ],
    )
    .await;

    let (runner, handle) = common::start_runner(&store, dir).await;
    common::caught_up(&store, &handle).await;
    let query = |scope| KpiQuery {
        window: KpiWindow::new(
            Timestamp(T0),
            Timestamp(T0 + 7 * DAY),
            Some(BucketSize::Day),
        )
        .unwrap(),
        scope,
        now: Timestamp(T0 + 7 * DAY),
    };
    let global = handle
        .read(|m| kpi_report(&m.kpi, &query(KpiScope::Global)))
        .unwrap();
    let team_b = handle
        .read(|m| kpi_report(&m.kpi, &query(KpiScope::Team("team-b".into()))))
        .unwrap();
    runner.shutdown().await.unwrap();
    (global, team_b)
}

#[tokio::test]
async fn kpis_of_the_hand_written_history_match_the_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let (global, team_b) = scenario(dir.path()).await;
    let k = &global.totals;

    // Resolved in the window: I1, I2, I3.
    assert_eq!(k.incidents_resolved, 3);
    // MTTD = detected - started: I1 300 s, I2 0, I3 0 -> mean 100, median 0, p90 (rank 3) 300.
    assert_eq!(
        (k.mttd.count, k.mttd.mean, k.mttd.median, k.mttd.p90),
        (3, Some(100.0), Some(0.0), Some(300.0))
    );
    // MTTA = acked - detected over acked ones: I1 600, I2 60 -> mean 330, median 330, p90 (rank 2) 600.
    assert_eq!(
        (k.mtta.count, k.mtta.mean, k.mtta.median, k.mtta.p90),
        (2, Some(330.0), Some(330.0), Some(600.0))
    );
    // MTTR = resolved - detected: I1 3300, I2 5400, I3 7200 -> mean 5300, median 5400, p90 7200.
    assert_eq!(
        (k.mttr.mean, k.mttr.median, k.mttr.p90),
        (Some(5300.0), Some(5400.0), Some(7200.0))
    );
    // Declared in the window: one of each severity.
    assert_eq!(
        k.incidents_by_severity,
        SeverityCounts {
            sev1: 1,
            sev2: 1,
            sev3: 1,
            sev4: 1
        }
    );
    // Alerts: 5 received, 2 suppressed, 3 opened incidents -> noise reduction 1 - 3/5 = 0.4.
    assert_eq!(
        (
            k.alerts_received,
            k.alerts_suppressed,
            k.incidents_opened_from_alerts
        ),
        (5, 2, 3)
    );
    assert!(close(k.noise_reduction_ratio.unwrap(), 0.4));
    // Ack SLA: I1 (SEV1) acked after 10 min > 5 min; I3 (SEV3) unacked for 2 h > 1 h.
    assert_eq!(
        k.ack_sla_breaches,
        SeverityCounts {
            sev1: 1,
            sev2: 0,
            sev3: 1,
            sev4: 0
        }
    );
    // RTO: I1 restore = mitigated - started = 45 min > A's 30 min; I2 = 90 min > 30 min;
    // I3 = 2 h > B's 10 min.
    assert_eq!(k.rto_breaches, 3);
    // Recurring: I4 (B/disk) detected 22 h after I3 (B/disk) was resolved.
    assert_eq!(k.recurring_incidents, 1);
    // Reviews: SEV1/2 resolved = I1, I2; published review only for I1 -> 0.5.
    assert_eq!(
        (
            k.reviews_required,
            k.reviews_published,
            k.review_completion_rate
        ),
        (2, 1, Some(0.5))
    );
    // Action items at T0+7d: AI1 done, AI2 open and overdue (due T0+5d), AI3 open (due T0+10d).
    assert_eq!((k.action_items_open, k.action_items_overdue), (2, 1));
    // Changes ended in the window: C1, C4 completed, C2 failed, C3 rolled back -> 2/4.
    assert_eq!(
        (k.changes_completed, k.changes_failed, k.changes_rolled_back),
        (2, 1, 1)
    );
    assert_eq!(k.change_success_rate, Some(0.5));
    // Completed changes named as a cause / completed (C1 of C1, C4) = 1/2; change failure
    // rate (DORA): C1 (named as a cause), C2 (failed), C3 (rolled back) of 4 ended = 3/4.
    assert_eq!(
        (
            k.changes_causing_incidents,
            k.completed_change_incident_rate
        ),
        (1, Some(0.5))
    );
    assert_eq!((k.failed_changes, k.change_failure_rate), (3, Some(0.75)));
    // Patch discipline: A had C1 completed and C2 failed -> 1 of 2; B's patch C5 never ended.
    assert_eq!(k.patch_discipline.len(), 1);
    assert_eq!(
        (
            k.patch_discipline[0].completed,
            k.patch_discipline[0].finished,
            k.patch_discipline[0].success_rate
        ),
        (1, 2, Some(0.5))
    );

    // Availability over 604 800 s. A: major [1h, 2h) from I1 and [1h30, 3h) from I2
    // -> union [1h, 3h) = 7200 s (not 9000); budget 0.1 % = 604.8 s; remaining -6595.2 s.
    let api = &k.availability[0];
    assert_eq!(api.name, "api");
    assert_eq!(api.major_outage_seconds, 7200.0);
    assert!(close(api.availability, 1.0 - 7200.0 / 604_800.0));
    assert!(close(api.error_budget_seconds, 604.8));
    assert!(close(api.error_budget_remaining_seconds, -6595.2));
    assert!(close(
        api.error_budget_remaining_ratio.unwrap(),
        -6595.2 / 604.8
    ));
    // B: no major outage; partial [1h30, 3h) = 5400 s; degraded I3 2 h + I4 from T0+3d
    // to now (T0+7d) 4 d = 7200 + 345 600 = 352 800 s; budget 1 % = 6048 s, untouched.
    let db = &k.availability[1];
    assert_eq!(db.name, "db");
    assert_eq!((db.availability, db.major_outage_seconds), (1.0, 0.0));
    assert_eq!(
        (db.partial_outage_seconds, db.degraded_seconds),
        (5400.0, 352_800.0)
    );
    assert!(close(db.error_budget_remaining_seconds, 6048.0));
    assert_eq!(db.error_budget_remaining_ratio, Some(1.0));

    // Day buckets: 7 of them; day 1 resolves I1 and I2 (MTTR mean (3300+5400)/2 = 4350),
    // day 3 resolves I3 (7200); day 2 has the failed C2.
    assert_eq!(global.buckets.len(), 7);
    assert_eq!(global.buckets[0].figures.mttr.mean, Some(4350.0));
    assert_eq!(global.buckets[2].figures.mttr.mean, Some(7200.0));
    assert_eq!(global.buckets[1].figures.changes_failed, 1);
    assert_eq!(global.buckets[3].figures.recurring_incidents, 1);

    // Team B (service db): I2, I3, I4; MTTR over I2, I3 = mean 6300; C3 rolled back and
    // C4 completed -> success 0.5, failure rate (DORA) 1/2; 2 alerts opened 2 incidents -> 0.
    let t = &team_b.totals;
    assert_eq!(
        t.incidents_by_severity,
        SeverityCounts {
            sev1: 0,
            sev2: 1,
            sev3: 1,
            sev4: 1
        }
    );
    assert_eq!(t.mttr.mean, Some(6300.0));
    assert_eq!(
        (
            t.change_success_rate,
            t.change_failure_rate,
            t.completed_change_incident_rate
        ),
        (Some(0.5), Some(0.5), Some(0.0))
    );
    assert_eq!((t.alerts_received, t.noise_reduction_ratio), (2, Some(0.0)));
    assert_eq!(t.availability.len(), 1);
    // Action items of incidents touching db: AI3 (I2) open, not overdue.
    assert_eq!((t.action_items_open, t.action_items_overdue), (1, 0));
}
