//! Loading an aggregate from its stream and appending its decided events.

use super::cache::AggregateCache;
use super::AppError;
use opsledger_domain::{Aggregate, DomainEvent};
use opsledger_storage::{
    decode_payload, encode_payload, AppendOutcome, AppendRequest, Direction, EventStore,
    ExpectedVersion, NewEvent, RecordedEvent, Ulid,
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

/// Folds every event of `stream_id` into `A` (no cache: the whole stream).
pub async fn load<A: Aggregate>(
    store: &dyn EventStore,
    stream_id: &str,
) -> Result<Loaded<A>, AppError> {
    let empty = Loaded {
        state: A::default(),
        last_version: None,
    };
    Ok(fold_from(store, stream_id, empty, 0).await?.0)
}

/// Loads `stream_id` through `cache`: from the state it remembers, folding only the
/// events after it (read from the store, so other writers' appends are seen), or the
/// whole stream when it remembers none; the result is remembered for the next load.
///
/// The remembered state's own last event is read again and must be there: a state is
/// trusted only while its stream still holds the version it was folded to (else it is
/// forgotten and the stream folded from the start).
pub async fn load_cached<A: Aggregate>(
    store: &dyn EventStore,
    cache: &AggregateCache,
    stream_id: &str,
) -> Result<Loaded<A>, AppError> {
    if let Some(cached) = cache.get::<A>(stream_id) {
        let at = cached.last_version.unwrap_or(0);
        let page = store
            .read_stream(stream_id, at, Direction::Forward, PAGE)
            .await?;
        if page.first().map(|first| first.stream_version) == Some(at) {
            let (mut loaded, mut folded) = (cached, 0);
            fold_page(stream_id, &mut loaded, &page[1..], &mut folded)?;
            match page.last() {
                Some(last) if page.len() == PAGE => {
                    let next = last.stream_version + 1;
                    let (rest, more) = fold_from(store, stream_id, loaded, next).await?;
                    loaded = rest;
                    folded += more;
                }
                _ => {}
            }
            if folded > 0 {
                cache.put(stream_id, &loaded);
            }
            return Ok(loaded);
        }
        cache.remove(stream_id);
    }
    let loaded = load(store, stream_id).await?;
    cache.put(stream_id, &loaded);
    Ok(loaded)
}

/// Folds the events of `stream_id` from version `from` on into `loaded`; with the
/// number of events folded.
async fn fold_from<A: Aggregate>(
    store: &dyn EventStore,
    stream_id: &str,
    mut loaded: Loaded<A>,
    mut from: u64,
) -> Result<(Loaded<A>, u64), AppError> {
    let mut folded = 0;
    loop {
        let page = store
            .read_stream(stream_id, from, Direction::Forward, PAGE)
            .await?;
        fold_page(stream_id, &mut loaded, &page, &mut folded)?;
        match page.last() {
            Some(last) if page.len() == PAGE => from = last.stream_version + 1,
            _ => break,
        }
    }
    Ok((loaded, folded))
}

/// Decodes and folds `page` (events of `stream_id` in version order) into `loaded`.
fn fold_page<A: Aggregate>(
    stream_id: &str,
    loaded: &mut Loaded<A>,
    page: &[RecordedEvent],
    folded: &mut u64,
) -> Result<(), AppError> {
    for recorded in page {
        let event: DomainEvent =
            decode_payload(&recorded.payload).map_err(|e| AppError::Decode {
                stream_id: stream_id.to_string(),
                reason: e.to_string(),
            })?;
        if let Some(inner) = A::unwrap(&event) {
            loaded.state = std::mem::take(&mut loaded.state).evolve(inner);
        }
        loaded.last_version = Some(recorded.stream_version);
        *folded += 1;
    }
    Ok(())
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
