//! A log holding one golden sample of every domain event type
//! ([`opsledger_fixtures::golden::samples`]), appended with fixed envelopes
//! (event ids, correlation ids, times and actors), so tests can read every
//! event type back through the API, the export or the CLI.

use opsledger_domain::alert::AlertGroupKey;
use opsledger_domain::{ChangeId, DomainEvent, FreezeId, IncidentId, ReviewId, ServiceId};
use opsledger_fixtures::golden::samples;
use opsledger_storage::{
    encode_payload, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, Ulid,
};

/// The actor recorded on every golden append.
pub const GOLDEN_ACTOR: &str = "golden.auditor";

/// When the first golden append is recorded (UTC ms); each next one a second later.
pub const GOLDEN_RECORDED_AT_MS: i64 = 1_735_689_600_000;

/// The golden samples' id number `n` (`fixtures/src/golden.rs`: ULIDs at its clock origin).
fn golden_ulid(n: u128) -> Ulid {
    Ulid::from_parts(GOLDEN_RECORDED_AT_MS as u64, n)
}

/// The stream a golden sample belongs to: the samples describe one service (id 1), its
/// alert group, one incident (100), one change (200), one freeze (300) and one review
/// (400), so the projections build them as they would from real commands.
pub fn golden_stream(event: &DomainEvent) -> String {
    match event {
        DomainEvent::Service(_) => ServiceId::new(golden_ulid(1)).stream_id(),
        DomainEvent::AlertGroup(_) => AlertGroupKey {
            service: ServiceId::new(golden_ulid(1)),
            dedup_key: "high-error-rate".into(),
        }
        .stream_id(),
        DomainEvent::Incident(_) => IncidentId::new(golden_ulid(100)).stream_id(),
        DomainEvent::Change(_) => ChangeId::new(golden_ulid(200)).stream_id(),
        DomainEvent::Freeze(_) => FreezeId::new(golden_ulid(300)).stream_id(),
        DomainEvent::Review(_) => ReviewId::new(golden_ulid(400)).stream_id(),
    }
}

/// The fixed envelope ids of the `n`-th golden append: (event id, correlation id).
pub fn golden_envelope_ids(n: u64) -> (Ulid, Ulid) {
    let ms = GOLDEN_RECORDED_AT_MS as u64;
    (
        Ulid::from_parts(ms, 1_000 + u128::from(n)),
        Ulid::from_parts(ms, 2_000 + u128::from(n)),
    )
}

/// Appends every golden sample, one append each, in sample order; every second append
/// names the previous one's event as its causation. Returns the outcomes in order.
pub async fn append_golden_samples(store: &dyn EventStore) -> Vec<AppendOutcome> {
    let mut outcomes = Vec::new();
    let mut previous_event = None;
    for (n, event) in samples().iter().enumerate() {
        let n = n as u64;
        let (event_id, correlation_id) = golden_envelope_ids(n);
        let outcome = store
            .append(AppendRequest {
                stream_id: golden_stream(event),
                expected: ExpectedVersion::Any,
                command_id: format!("golden-command-{n}"),
                actor: GOLDEN_ACTOR.to_string(),
                correlation_id,
                causation_id: previous_event.filter(|_| n % 2 == 1),
                recorded_at_ms: GOLDEN_RECORDED_AT_MS + n as i64 * 1_000,
                events: vec![NewEvent {
                    event_id,
                    type_name: event.type_name().to_string(),
                    schema_version: event.schema_version(),
                    payload: encode_payload(event).expect("a golden sample encodes"),
                }],
            })
            .await
            .expect("append a golden sample");
        outcomes.push(outcome);
        previous_event = Some(event_id);
    }
    outcomes
}
