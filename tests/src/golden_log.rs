//! A log holding one golden sample of every domain event type
//! ([`opsledger_fixtures::golden::samples`]), appended with fixed envelopes
//! (event ids, correlation ids, times and actors), so tests can read every
//! event type back through the API, the export or the CLI.

use opsledger_domain::DomainEvent;
use opsledger_fixtures::golden::samples;
use opsledger_storage::{
    encode_payload, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, Ulid,
};

/// The actor recorded on every golden append.
pub const GOLDEN_ACTOR: &str = "golden.auditor";

/// When the first golden append is recorded (UTC ms); each next one a second later.
pub const GOLDEN_RECORDED_AT_MS: i64 = 1_735_689_600_000;

/// The stream a golden sample is appended to: one stream per aggregate kind.
pub fn golden_stream(event: &DomainEvent) -> String {
    let kind = match event {
        DomainEvent::Service(_) => "service",
        DomainEvent::AlertGroup(_) => "alertgroup",
        DomainEvent::Incident(_) => "incident",
        DomainEvent::Change(_) => "change",
        DomainEvent::Freeze(_) => "freeze",
        DomainEvent::Review(_) => "review",
    };
    format!("{kind}-golden")
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
