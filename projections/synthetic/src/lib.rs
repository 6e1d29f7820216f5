//! Event builders and a deterministic generator of valid domain event
//! sequences, written straight into a store. Used by this crate's tests and
//! its benchmark (the fixtures crate owns the realistic generator).

use std::collections::HashMap;
use std::sync::Arc;

use futures::{stream, StreamExt, TryStreamExt};
use opsledger_domain::alert::{
    Alert, AlertAttached, AlertGroupEvent, AlertGroupKey, AlertGroupReleased, AlertReceived,
    IncidentOpenedForGroupV2,
};
use opsledger_domain::change::{
    ChangeCategory, ChangeCompleted, ChangeEvent, ChangeFailed, ChangeRequested, ChangeRolledBack,
    ChangeScheduled, ChangeStarted, ChangeSubmitted, ChangeType, RiskLevel,
};
use opsledger_domain::incident::{
    ImpactLevel, IncidentAcknowledged, IncidentCauseChangeLinked, IncidentDeclared, IncidentEvent,
    IncidentImpactUpdated, IncidentResolved, IncidentStatus, IncidentStatusChanged,
    IncidentStatusUpdatePosted, ServiceImpact, Severity, Visibility,
};
use opsledger_domain::review::{
    ReviewActionItemAdded, ReviewCreated, ReviewEvent, ReviewPublished,
};
use opsledger_domain::service::{
    EscalationPolicy, ServiceEvent, ServiceProfile, ServiceRegistered, SloTarget, Tier,
};
use opsledger_domain::{
    ActionItemId, Actor, ChangeId, DomainEvent, IncidentId, ReviewId, ServiceId, TimeWindow,
    Timestamp,
};
use opsledger_storage::codec::encode_payload;
use opsledger_storage::{AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent};
use ulid::Ulid;

use opsledger_projections::ProjectionError;

/// The actor every synthetic event names.
pub fn actor() -> Actor {
    Actor("synthetic".into())
}

/// A deterministic ULID from a kind tag and a number.
pub fn ulid(kind: u8, n: u64) -> Ulid {
    Ulid((u128::from(kind) << 64) | u128::from(n) | (1u128 << 120))
}

/// A `ServiceRegistered` event.
// A flat test builder: one argument per profile field that tests vary.
#[allow(clippy::too_many_arguments)]
pub fn service_registered(
    id: ServiceId,
    name: &str,
    team: &str,
    tier: Tier,
    dependencies: Vec<ServiceId>,
    slo_ppm: u32,
    rto_secs: u64,
    at: i64,
) -> DomainEvent {
    DomainEvent::Service(ServiceEvent::Registered(ServiceRegistered {
        id,
        profile: ServiceProfile {
            name: name.into(),
            owner_team: team.into(),
            tier,
            description: String::new(),
            runbook_url: Some(format!("https://runbooks.example/{name}")),
            dependencies,
            slo_target: SloTarget(slo_ppm),
            rto_secs,
            rpo_secs: 0,
            escalation_policy: EscalationPolicy::default(),
        },
        by: actor(),
        at: Timestamp(at),
    }))
}

/// An `IncidentDeclared` event.
pub fn incident_declared(
    id: IncidentId,
    severity: Severity,
    impacts: &[(ServiceId, ImpactLevel)],
    started_at: i64,
    detected_at: i64,
    alert_group: Option<AlertGroupKey>,
) -> DomainEvent {
    DomainEvent::Incident(IncidentEvent::Declared(IncidentDeclared {
        id,
        title: "synthetic incident".into(),
        description: String::new(),
        severity,
        severity_derived: false,
        impacts: impacts
            .iter()
            .map(|&(service, level)| ServiceImpact { service, level })
            .collect(),
        started_at: Timestamp(started_at),
        detected_at: Timestamp(detected_at),
        alert_group,
        escalation_policy: EscalationPolicy::default(),
        by: actor(),
        at: Timestamp(detected_at),
    }))
}

/// An `IncidentAcknowledged` event.
pub fn incident_acknowledged(at: i64) -> DomainEvent {
    DomainEvent::Incident(IncidentEvent::Acknowledged(IncidentAcknowledged {
        by: actor(),
        at: Timestamp(at),
    }))
}

/// An `IncidentStatusChanged` event to monitoring (mitigated).
pub fn incident_mitigated(from: IncidentStatus, at: i64) -> DomainEvent {
    DomainEvent::Incident(IncidentEvent::StatusChanged(IncidentStatusChanged {
        from,
        to: IncidentStatus::Monitoring,
        by: actor(),
        at: Timestamp(at),
    }))
}

/// An `IncidentImpactUpdated` event.
pub fn impact_updated(service: ServiceId, level: ImpactLevel, at: i64) -> DomainEvent {
    DomainEvent::Incident(IncidentEvent::ImpactUpdated(IncidentImpactUpdated {
        service,
        previous: None,
        level,
        by: actor(),
        at: Timestamp(at),
    }))
}

/// An `IncidentStatusUpdatePosted` event.
pub fn status_update(
    visibility: Visibility,
    status: IncidentStatus,
    message: &str,
    at: i64,
) -> DomainEvent {
    DomainEvent::Incident(IncidentEvent::StatusUpdatePosted(
        IncidentStatusUpdatePosted {
            visibility,
            message: message.into(),
            status,
            by: actor(),
            at: Timestamp(at),
        },
    ))
}

/// An `IncidentCauseChangeLinked` event.
pub fn cause_linked(change: ChangeId, at: i64) -> DomainEvent {
    DomainEvent::Incident(IncidentEvent::CauseChangeLinked(
        IncidentCauseChangeLinked {
            change,
            previous: None,
            by: actor(),
            at: Timestamp(at),
        },
    ))
}

/// An `IncidentResolved` event.
pub fn incident_resolved(from: IncidentStatus, at: i64) -> DomainEvent {
    DomainEvent::Incident(IncidentEvent::Resolved(IncidentResolved {
        from,
        summary: "fixed".into(),
        by: actor(),
        at: Timestamp(at),
    }))
}

/// A `ChangeRequested` event.
pub fn change_requested(
    id: ChangeId,
    category: ChangeCategory,
    services: Vec<ServiceId>,
    window: (i64, i64),
    at: i64,
) -> DomainEvent {
    DomainEvent::Change(ChangeEvent::Requested(ChangeRequested {
        id,
        change_type: ChangeType::Standard,
        category,
        title: "synthetic change".into(),
        description: String::new(),
        services,
        window: TimeWindow::new(Timestamp(window.0), Timestamp(window.1)),
        implementation_plan: "do it".into(),
        rollback_plan: "undo it".into(),
        validation_steps: Vec::new(),
        risk: RiskLevel::Low,
        risk_points: 0,
        required_approvals: 0,
        requested_by: actor(),
        at: Timestamp(at),
    }))
}

/// The events taking a requested change to `Scheduled` (submitted, scheduled).
pub fn change_scheduled(window: (i64, i64), at: i64) -> Vec<DomainEvent> {
    vec![
        DomainEvent::Change(ChangeEvent::Submitted(ChangeSubmitted {
            by: actor(),
            at: Timestamp(at),
        })),
        DomainEvent::Change(ChangeEvent::Scheduled(ChangeScheduled {
            by: actor(),
            at: Timestamp(at),
            window: TimeWindow::new(Timestamp(window.0), Timestamp(window.1)),
            conflicts: Vec::new(),
            freezes_overridden: Vec::new(),
        })),
    ]
}

/// A `ChangeStarted` event.
pub fn change_started(at: i64) -> DomainEvent {
    DomainEvent::Change(ChangeEvent::Started(ChangeStarted {
        by: actor(),
        at: Timestamp(at),
    }))
}

/// How a synthetic change ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `ChangeCompleted`.
    Completed,
    /// `ChangeFailed`.
    Failed,
    /// `ChangeRolledBack`.
    RolledBack,
}

/// The event ending a started change.
pub fn change_ended(ending: Ending, at: i64) -> DomainEvent {
    let (by, at) = (actor(), Timestamp(at));
    DomainEvent::Change(match ending {
        Ending::Completed => ChangeEvent::Completed(ChangeCompleted {
            by,
            at,
            summary: "done".into(),
        }),
        Ending::Failed => ChangeEvent::Failed(ChangeFailed {
            by,
            at,
            reason: "broke".into(),
        }),
        Ending::RolledBack => ChangeEvent::RolledBack(ChangeRolledBack {
            by,
            at,
            reason: "reverted".into(),
        }),
    })
}

/// A `ReviewCreated` event.
pub fn review_created(
    id: ReviewId,
    incident: IncidentId,
    severity: Severity,
    at: i64,
) -> DomainEvent {
    DomainEvent::Review(ReviewEvent::Created(ReviewCreated {
        id,
        incident,
        severity,
        incident_status: IncidentStatus::Resolved,
        timeline: Vec::new(),
        by: actor(),
        at: Timestamp(at),
    }))
}

/// A `ReviewActionItemAdded` event.
pub fn action_item_added(id: ActionItemId, due: i64, at: i64) -> DomainEvent {
    DomainEvent::Review(ReviewEvent::ActionItemAdded(ReviewActionItemAdded {
        id,
        title: "follow up".into(),
        owner: "owner".into(),
        due: Timestamp(due),
        by: actor(),
        at: Timestamp(at),
    }))
}

/// A `ReviewPublished` event (the sections are not checked by projections).
pub fn review_published(at: i64) -> DomainEvent {
    DomainEvent::Review(ReviewEvent::Published(ReviewPublished {
        by: actor(),
        at: Timestamp(at),
    }))
}

/// Firing-alert events of a group: received, then opened or attached.
pub fn alert_fired(
    key: &AlertGroupKey,
    opened: Option<IncidentId>,
    attached_to: Option<IncidentId>,
    at: i64,
) -> Vec<DomainEvent> {
    let mut out = vec![DomainEvent::AlertGroup(AlertGroupEvent::Received(
        AlertReceived {
            alert: Alert {
                group: key.clone(),
                source: "synthetic".into(),
                summary: "alert".into(),
                severity_hint: None,
                labels: Vec::new(),
                started_at: None,
                received_at: Timestamp(at),
            },
        },
    ))];
    if let Some(incident_id) = opened {
        out.push(DomainEvent::AlertGroup(AlertGroupEvent::IncidentOpenedV2(
            IncidentOpenedForGroupV2 {
                incident_id,
                severity: Severity::Sev3,
                impact: ImpactLevel::Degraded,
                by: actor(),
                at: Timestamp(at),
            },
        )));
    }
    if let Some(incident_id) = attached_to {
        out.push(DomainEvent::AlertGroup(AlertGroupEvent::Attached(
            AlertAttached {
                incident_id,
                suppressed: true,
                at: Timestamp(at),
            },
        )));
    }
    out
}

/// An `AlertGroupReleased` event.
pub fn alert_group_released(incident_id: IncidentId, at: i64) -> DomainEvent {
    DomainEvent::AlertGroup(AlertGroupEvent::Released(AlertGroupReleased {
        incident_id,
        by: actor(),
        at: Timestamp(at),
    }))
}

/// Appends domain events to streams with exact expected versions.
pub struct Appender {
    store: Arc<dyn EventStore>,
    versions: HashMap<String, u64>,
    commands: u64,
}

impl Appender {
    /// An appender over `store` (streams assumed empty).
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Appender {
            store,
            versions: HashMap::new(),
            commands: 0,
        }
    }

    /// The request appending `events` to `stream_id`, recorded at `at`.
    pub fn request(
        &mut self,
        stream_id: &str,
        at: i64,
        events: &[DomainEvent],
    ) -> Result<AppendRequest, ProjectionError> {
        let expected = match self.versions.get(stream_id) {
            Some(v) => ExpectedVersion::Exact(*v),
            None => ExpectedVersion::NoStream,
        };
        let next = self.versions.get(stream_id).map_or(0, |v| v + 1);
        self.versions
            .insert(stream_id.to_owned(), next + events.len() as u64 - 1);
        self.commands += 1;
        let new_events = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Ok(NewEvent {
                    event_id: ulid(0xEE, (self.commands << 16) | i as u64),
                    type_name: e.type_name().to_owned(),
                    schema_version: e.schema_version(),
                    payload: encode_payload(e)?,
                })
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        Ok(AppendRequest {
            stream_id: stream_id.to_owned(),
            expected,
            command_id: format!("synthetic-{}", self.commands),
            actor: actor().0,
            correlation_id: ulid(0xCC, self.commands),
            causation_id: None,
            recorded_at_ms: at,
            events: new_events,
        })
    }

    /// Appends `events` to `stream_id`, recorded at `at`.
    pub async fn append(
        &mut self,
        stream_id: &str,
        at: i64,
        events: &[DomainEvent],
    ) -> Result<AppendOutcome, ProjectionError> {
        let req = self.request(stream_id, at, events)?;
        Ok(self.store.append(req).await?)
    }

    /// Appends many requests with up to `concurrency` in flight (group commit).
    pub async fn append_all(
        &self,
        requests: Vec<AppendRequest>,
        concurrency: usize,
    ) -> Result<(), ProjectionError> {
        let store = &self.store;
        stream::iter(requests)
            .map(|r| async move { store.append(r).await })
            .buffer_unordered(concurrency.max(1))
            .try_for_each(|_| async { Ok(()) })
            .await?;
        Ok(())
    }
}

/// A small deterministic PRNG (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 if `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// One append of a generated history: a stream, when, and its events.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// The stream.
    pub stream_id: String,
    /// Recorded at (UTC ms).
    pub at: i64,
    /// The events.
    pub events: Vec<DomainEvent>,
}

/// 2024-01-01 00:00 UTC, the start of generated histories.
pub const EPOCH_2024_MS: i64 = 1_704_067_200_000;

/// Generates a valid history of about `target_events` events: `services`
/// services in a dependency forest, then incidents (with alerts, impact
/// changes, status updates, resolution and sometimes a review) and changes
/// (completed, failed or rolled back, sometimes named as a cause).
pub fn generate(seed: u64, services: u64, target_events: u64) -> Vec<Batch> {
    Generator::new(seed, services, target_events).collect()
}

/// The streaming form of [`generate`]: yields batches in log order.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: Rng,
    ids: Vec<ServiceId>,
    registered: usize,
    t: i64,
    n: u64,
    last_change: Option<ChangeId>,
    count: u64,
    target: u64,
    pending: std::collections::VecDeque<Batch>,
}

impl Generator {
    /// A generator of about `target_events` events over `services` services.
    pub fn new(seed: u64, services: u64, target_events: u64) -> Self {
        Generator {
            rng: Rng::new(seed),
            ids: (0..services.max(1))
                .map(|n| ServiceId::new(ulid(1, n)))
                .collect(),
            registered: 0,
            t: EPOCH_2024_MS + 60_000,
            n: 0,
            last_change: None,
            count: 0,
            target: target_events,
            pending: std::collections::VecDeque::new(),
        }
    }

    fn register_next(&mut self) -> Batch {
        let n = self.registered;
        let id = self.ids[n];
        let deps = if n > 0 && self.rng.below(2) == 0 {
            vec![self.ids[self.rng.below(n as u64) as usize]]
        } else {
            Vec::new()
        };
        let tier = Tier::new((n % 3) as u8 + 1).unwrap_or(Tier::THREE);
        self.registered += 1;
        self.count += 1;
        Batch {
            stream_id: id.stream_id(),
            at: EPOCH_2024_MS,
            events: vec![service_registered(
                id,
                &format!("svc-{n}"),
                &format!("team-{}", n % 4),
                tier,
                deps,
                999_000,
                3600,
                EPOCH_2024_MS,
            )],
        }
    }

    fn change(&mut self, service: ServiceId) {
        let (rng, t) = (&mut self.rng, self.t);
        let id = ChangeId::new(ulid(3, self.n));
        let category = if rng.below(2) == 0 {
            ChangeCategory::Patch
        } else {
            ChangeCategory::Release
        };
        let window = (t, t + 3_600_000);
        let mut events = vec![change_requested(id, category, vec![service], window, t)];
        events.extend(change_scheduled(window, t));
        events.push(change_started(t + 60_000));
        let ending = match rng.below(10) {
            0 => Ending::Failed,
            1 => Ending::RolledBack,
            _ => Ending::Completed,
        };
        events.push(change_ended(ending, t + 120_000));
        self.count += events.len() as u64;
        self.pending.push_back(Batch {
            stream_id: id.stream_id(),
            at: t,
            events,
        });
        self.last_change = Some(id);
    }

    fn incident(&mut self, service: ServiceId) {
        let (rng, t, n) = (&mut self.rng, self.t, self.n);
        let id = IncidentId::new(ulid(2, n));
        let key = AlertGroupKey {
            service,
            dedup_key: format!("k{}", rng.below(5)),
        };
        let severity = match rng.below(4) {
            0 => Severity::Sev1,
            1 => Severity::Sev2,
            2 => Severity::Sev3,
            _ => Severity::Sev4,
        };
        let level = match rng.below(3) {
            0 => ImpactLevel::MajorOutage,
            1 => ImpactLevel::PartialOutage,
            _ => ImpactLevel::Degraded,
        };
        let started = t - rng.below(600) as i64 * 1000;
        let mut alerts = alert_fired(&key, Some(id), None, t);
        for k in 0..rng.below(4) {
            alerts.extend(alert_fired(
                &key,
                None,
                Some(id),
                t + k as i64 * 1000 + 1000,
            ));
        }
        let mut events = vec![incident_declared(
            id,
            severity,
            &[(service, level)],
            started,
            t,
            Some(key.clone()),
        )];
        events.push(incident_acknowledged(t + rng.below(1800) as i64 * 1000));
        if rng.below(2) == 0 {
            events.push(impact_updated(service, ImpactLevel::Degraded, t + 600_000));
        }
        events.push(status_update(
            Visibility::Public,
            IncidentStatus::Acknowledged,
            "looking",
            t + 700_000,
        ));
        events.push(incident_mitigated(
            IncidentStatus::Acknowledged,
            t + 900_000,
        ));
        if let (Some(change), 0) = (self.last_change, rng.below(5)) {
            events.push(cause_linked(change, t + 950_000));
        }
        let resolved = t + 1_000_000 + rng.below(3600) as i64 * 1000;
        events.push(incident_resolved(IncidentStatus::Monitoring, resolved));
        alerts.push(alert_group_released(id, resolved));
        let review = (severity <= Severity::Sev2 && rng.below(2) == 0).then(|| {
            let rid = ReviewId::new(ulid(4, n));
            let mut review = vec![review_created(rid, id, severity, resolved + 1000)];
            review.push(action_item_added(
                ActionItemId::new(ulid(5, n)),
                resolved + 7 * 86_400_000,
                resolved + 2000,
            ));
            if rng.below(2) == 0 {
                review.push(review_published(resolved + 3000));
            }
            Batch {
                stream_id: rid.stream_id(),
                at: resolved + 1000,
                events: review,
            }
        });
        self.count += (events.len() + alerts.len()) as u64;
        self.pending.push_back(Batch {
            stream_id: key.stream_id(),
            at: t,
            events: alerts,
        });
        self.pending.push_back(Batch {
            stream_id: id.stream_id(),
            at: t,
            events,
        });
        if let Some(r) = review {
            self.count += r.events.len() as u64;
            self.pending.push_back(r);
        }
    }
}

impl Iterator for Generator {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.registered < self.ids.len() {
            return Some(self.register_next());
        }
        if let Some(b) = self.pending.pop_front() {
            return Some(b);
        }
        if self.count >= self.target {
            return None;
        }
        self.n += 1;
        self.t += (self.rng.below(30) as i64 + 1) * 60_000;
        let service = self.ids[self.rng.below(self.ids.len() as u64) as usize];
        if self.rng.below(3) == 0 {
            self.change(service);
        } else {
            self.incident(service);
        }
        self.pending.pop_front()
    }
}

/// Writes a generated history into `store`, in order, one append per batch.
pub async fn write_history(
    store: Arc<dyn EventStore>,
    batches: &[Batch],
) -> Result<(), ProjectionError> {
    let mut appender = Appender::new(store);
    for b in batches {
        appender.append(&b.stream_id, b.at, &b.events).await?;
    }
    Ok(())
}

/// Writes generated batches into `store` with up to `concurrency` appends
/// in flight (group commit); batches of one stream keep their order, the
/// order across streams may change. Returns the events written.
pub async fn write_concurrently(
    store: Arc<dyn EventStore>,
    batches: impl Iterator<Item = Batch>,
    concurrency: usize,
) -> Result<u64, ProjectionError> {
    const WAVE: usize = 512;
    let mut appender = Appender::new(store);
    let mut wave = Vec::with_capacity(WAVE);
    let mut streams = std::collections::HashSet::new();
    let mut written = 0u64;
    for b in batches {
        if wave.len() == WAVE || streams.contains(&b.stream_id) {
            appender
                .append_all(std::mem::take(&mut wave), concurrency)
                .await?;
            streams.clear();
        }
        written += b.events.len() as u64;
        streams.insert(b.stream_id.clone());
        wave.push(appender.request(&b.stream_id, b.at, &b.events)?);
    }
    appender.append_all(wave, concurrency).await?;
    Ok(written)
}
