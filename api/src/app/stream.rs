//! Loading an aggregate from its stream and appending its decided events.

use super::AppError;
use opsledger_domain::{Aggregate, DomainEvent};
use opsledger_storage::{
    decode_payload, encode_payload, AppendOutcome, AppendRequest, Direction, EventStore,
    ExpectedVersion, NewEvent, Ulid,
};

/// Events read per page while folding a stream.
const PAGE: usize = 512;

/// An aggregate folded from its stream.
#[derive(Clone, Debug)]
pub struct Loaded<A> {
    /// The folded state.
    pub state: A,
    /// Version (0-based) of the stream's last event, `None` if the stream is empty.
    pub last_version: Option<u64>,
}

impl<A> Loaded<A> {
    /// The append expectation matching this load.
    pub fn expected(&self) -> ExpectedVersion {
        match self.last_version {
            Some(v) => ExpectedVersion::Exact(v),
            None => ExpectedVersion::NoStream,
        }
    }
}

/// Folds every event of `stream_id` into `A`.
pub async fn load<A: Aggregate>(
    store: &dyn EventStore,
    stream_id: &str,
) -> Result<Loaded<A>, AppError> {
    let mut state = A::default();
    let mut last_version = None;
    let mut from = 0;
    loop {
        let page = store
            .read_stream(stream_id, from, Direction::Forward, PAGE)
            .await?;
        for recorded in &page {
            let event: DomainEvent =
                decode_payload(&recorded.payload).map_err(|e| AppError::Decode {
                    stream_id: stream_id.to_string(),
                    reason: e.to_string(),
                })?;
            if let Some(inner) = A::unwrap(&event) {
                state = state.evolve(inner);
            }
            last_version = Some(recorded.stream_version);
        }
        match page.last() {
            Some(last) if page.len() == PAGE => from = last.stream_version + 1,
            _ => break,
        }
    }
    Ok(Loaded {
        state,
        last_version,
    })
}

/// Everything about one append besides the events.
pub struct AppendMeta<'a> {
    /// The stream.
    pub stream_id: &'a str,
    /// The expectation.
    pub expected: ExpectedVersion,
    /// The command id (idempotency key).
    pub command_id: &'a str,
    /// The authenticated actor.
    pub actor: &'a str,
    /// Correlation of every append one command causes.
    pub correlation_id: Ulid,
    /// The record time.
    pub recorded_at_ms: i64,
}

/// Encodes and appends `events` of aggregate `A`.
pub async fn append<A: Aggregate>(
    store: &dyn EventStore,
    meta: AppendMeta<'_>,
    events: &[A::Event],
) -> Result<AppendOutcome, AppError> {
    let mut encoded = Vec::with_capacity(events.len());
    for event in events {
        let wrapped = A::wrap(event.clone());
        let payload = encode_payload(&wrapped).map_err(|e| {
            AppError::Store(opsledger_storage::StoreError::InvalidAppend {
                reason: format!("cannot encode {}: {e}", wrapped.type_name()),
            })
        })?;
        encoded.push(NewEvent {
            event_id: Ulid::new(),
            type_name: wrapped.type_name().to_string(),
            schema_version: wrapped.schema_version(),
            payload,
        });
    }
    let request = AppendRequest {
        stream_id: meta.stream_id.to_string(),
        expected: meta.expected,
        command_id: meta.command_id.to_string(),
        actor: meta.actor.to_string(),
        correlation_id: meta.correlation_id,
        causation_id: None,
        recorded_at_ms: meta.recorded_at_ms,
        events: encoded,
    };
    Ok(store.append(request).await?)
}
