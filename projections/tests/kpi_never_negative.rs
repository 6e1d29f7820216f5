//! Property: no KPI is ever negative (error-budget *remaining* excepted: it is
//! negative by definition when the budget is blown).
//!
//! Generated histories go through the real domain (`IncidentState::decide` at
//! a moving `Context::now`) and the real read models, with client-supplied
//! `startedAt` / `detectedAt` anywhere from a day before to a day after the
//! server's clock. Every duration (MTTD, MTTA, MTTR), outage time, count and
//! rate of every report and bucket must be >= 0, rates and availability <= 1.

use opsledger_domain::incident::{
    DeclarationFacts, DeclareIncident, ImpactLevel, IncidentCommand, IncidentState, ServiceFacts,
    ServiceImpact, Severity, Stage,
};
use opsledger_domain::service::{EscalationPolicy, Tier};
use opsledger_domain::text::{self, BoundedText, Reason};
use opsledger_domain::{Aggregate, Context, DomainEvent, IncidentId, ServiceId, Timestamp};
use opsledger_projections::bucket::BucketSize;
use opsledger_projections::kpi::KpiWindow;
use opsledger_projections::stats::Summary;
use opsledger_projections::{kpi_report, EventMeta, KpiQuery, KpiScope, Projection, ReadModels};
use opsledger_synthetic::{service_registered, ulid, EPOCH_2024_MS};
use proptest::prelude::*;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const INCIDENTS: usize = 3;

/// One generated step: let time pass, then send a command to one incident.
#[derive(Clone, Debug)]
enum Op {
    Declare {
        started: i64,
        detected: i64,
        level: ImpactLevel,
    },
    Acknowledge,
    Advance(Stage),
    Impact(ImpactLevel),
    Severity(Severity),
    Resolve,
    Reopen,
    Close,
}

fn arb_level() -> impl Strategy<Value = ImpactLevel> {
    prop_oneof![
        Just(ImpactLevel::MajorOutage),
        Just(ImpactLevel::PartialOutage),
        Just(ImpactLevel::Degraded),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (-DAY..DAY, -DAY..DAY, arb_level())
            .prop_map(|(started, detected, level)| Op::Declare { started, detected, level }),
        2 => Just(Op::Acknowledge),
        1 => prop_oneof![Just(Stage::Investigating), Just(Stage::Identified), Just(Stage::Monitoring)]
            .prop_map(Op::Advance),
        1 => arb_level().prop_map(Op::Impact),
        1 => prop_oneof![Just(Severity::Sev1), Just(Severity::Sev3)].prop_map(Op::Severity),
        2 => Just(Op::Resolve),
        1 => Just(Op::Reopen),
        1 => Just(Op::Close),
    ]
}

fn service() -> ServiceId {
    ServiceId::new(ulid(1, 1))
}

/// What the caller knows: the one service, tier 1.
fn facts() -> DeclarationFacts {
    DeclarationFacts::of(
        service(),
        ServiceFacts {
            tier: Tier::ONE,
            retired: false,
            escalation_policy: EscalationPolicy::default(),
        },
    )
}

fn command(op: &Op, id: IncidentId, now: i64) -> IncidentCommand {
    match op {
        Op::Declare {
            started,
            detected,
            level,
        } => IncidentCommand::Declare(DeclareIncident {
            id,
            title: "generated".into(),
            description: String::new(),
            severity: None,
            impacts: vec![ServiceImpact {
                service: service(),
                level: *level,
            }],
            started_at: Some(Timestamp(now + started.min(detected))),
            detected_at: Some(Timestamp(now + detected)),
            alert_group: None,
        }),
        Op::Acknowledge => IncidentCommand::Acknowledge,
        Op::Advance(to) => IncidentCommand::Advance { to: *to },
        Op::Impact(level) => IncidentCommand::UpdateImpact {
            service: service(),
            level: *level,
        },
        Op::Severity(to) => IncidentCommand::ChangeSeverity { to: *to },
        Op::Resolve => IncidentCommand::Resolve {
            summary: text::Summary::parse("fixed").expect("bounded"),
        },
        Op::Reopen => IncidentCommand::Reopen {
            reason: Reason::parse("back").expect("bounded"),
        },
        Op::Close => IncidentCommand::Close,
    }
}

/// Folds `event` into the read models as the runner would.
fn apply(
    models: &mut ReadModels,
    position: &mut u64,
    stream: &str,
    version: u64,
    now: i64,
    event: &DomainEvent,
) {
    *position += 1;
    let meta = EventMeta {
        position: *position,
        recorded_at: Timestamp(now),
        actor: "gen",
        stream_id: stream,
        stream_version: version,
        type_name: event.type_name(),
    };
    models.apply(&meta, event).expect("apply");
}

/// Runs the history; returns the read models and the final `now`.
fn run(steps: &[(i64, usize, Op)]) -> (ReadModels, i64) {
    let mut models = ReadModels::default();
    let mut position = 0;
    let mut now = EPOCH_2024_MS;
    let registered = service_registered(
        service(),
        "svc",
        "team",
        Tier::ONE,
        vec![],
        999_000,
        600,
        now,
    );
    apply(
        &mut models,
        &mut position,
        &service().stream_id(),
        1,
        now,
        &registered,
    );
    let ids: Vec<IncidentId> = (0..INCIDENTS as u64)
        .map(|n| IncidentId::new(ulid(2, n)))
        .collect();
    let mut states = vec![(IncidentState::default(), 0u64); INCIDENTS];
    for (advance, which, op) in steps {
        now += advance;
        let ctx = Context::new(Timestamp(now), "gen");
        let (state, version) = &mut states[*which];
        let Ok(events) = state.decide(command(op, ids[*which], now), facts(), &ctx) else {
            continue;
        };
        for event in events {
            *version += 1;
            *state = std::mem::take(state).evolve(&event);
            let wrapped = IncidentState::wrap(event);
            apply(
                &mut models,
                &mut position,
                &ids[*which].stream_id(),
                *version,
                now,
                &wrapped,
            );
        }
    }
    (models, now)
}

fn non_negative_summary(name: &str, s: &Summary) -> Result<(), TestCaseError> {
    for value in [s.mean, s.median, s.p90].into_iter().flatten() {
        prop_assert!(value >= 0.0, "{name} = {value}");
    }
    Ok(())
}

fn ratio(name: &str, value: Option<f64>) -> Result<(), TestCaseError> {
    if let Some(v) = value {
        prop_assert!((0.0..=1.0).contains(&v), "{name} = {v}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_kpi_is_ever_negative_over_generated_histories(
        steps in prop::collection::vec((0..2 * HOUR, 0..INCIDENTS, arb_op()), 1..40)
    ) {
        let (models, now) = run(&steps);
        let window = KpiWindow::new(
            Timestamp(EPOCH_2024_MS - 2 * DAY),
            Timestamp(now + 2 * DAY),
            Some(BucketSize::Day),
        )
        .expect("a window within the bounds");
        let query = KpiQuery {
            window,
            scope: KpiScope::Global,
            now: Timestamp(now),
        };
        let report = kpi_report(&models.kpi, &query).expect("report");
        let all = std::iter::once(&report.totals).chain(report.buckets.iter().map(|b| &b.figures));
        for f in all {
            non_negative_summary("mttd", &f.mttd)?;
            non_negative_summary("mtta", &f.mtta)?;
            non_negative_summary("mttr", &f.mttr)?;
            ratio("noise_reduction_ratio", f.noise_reduction_ratio)?;
            ratio("change_success_rate", f.change_success_rate)?;
            ratio("change_failure_rate", f.change_failure_rate)?;
            ratio("review_completion_rate", f.review_completion_rate)?;
            for a in &f.availability {
                prop_assert!((0.0..=1.0).contains(&a.availability), "availability = {}", a.availability);
                prop_assert!(a.major_outage_seconds >= 0.0, "major = {}", a.major_outage_seconds);
                prop_assert!(a.partial_outage_seconds >= 0.0, "partial = {}", a.partial_outage_seconds);
                prop_assert!(a.degraded_seconds >= 0.0, "degraded = {}", a.degraded_seconds);
                prop_assert!(a.error_budget_seconds >= 0.0, "budget = {}", a.error_budget_seconds);
            }
        }
    }
}
