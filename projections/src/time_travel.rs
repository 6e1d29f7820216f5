//! Time travel: the state of one aggregate as of a log position or a
//! timestamp, folded from its stream with the domain's own `evolve`.

use opsledger_domain::{Aggregate, DomainEvent};
use opsledger_storage::{codec::decode_payload, Direction, EventStore};

use crate::error::ProjectionError;

/// Up to where the stream is folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    /// Every event at or below this global log position.
    Position(u64),
    /// Every event recorded at or before this instant (UTC ms).
    Time(i64),
}

/// An aggregate state as of some point, with where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoricState<A> {
    /// The folded state.
    pub state: A,
    /// Stream version of the last event folded.
    pub stream_version: u64,
    /// Global position of the last event folded.
    pub position: u64,
    /// When the last event folded was recorded (UTC ms).
    pub recorded_at_ms: i64,
}

/// Events read per call while folding a stream.
const STREAM_PAGE: usize = 1024;

/// Folds `stream_id` with `A::evolve` up to `as_of`; `None` if the stream had
/// no event by then. Undecodable or foreign events are skipped with a warning.
pub async fn aggregate_as_of<A: Aggregate>(
    store: &dyn EventStore,
    stream_id: &str,
    as_of: AsOf,
) -> Result<Option<HistoricState<A>>, ProjectionError> {
    let mut folded: Option<HistoricState<A>> = None;
    let mut from = 0u64;
    'pages: loop {
        let page = store
            .read_stream(stream_id, from, Direction::Forward, STREAM_PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        from = last.stream_version + 1;
        let full = page.len() == STREAM_PAGE;
        for event in page {
            let included = match as_of {
                AsOf::Position(p) => event.position <= p,
                AsOf::Time(t) => event.recorded_at_ms <= t,
            };
            if !included {
                break 'pages;
            }
            let decoded = match decode_payload::<DomainEvent>(&event.payload) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(stream_id, position = event.position, error = %e,
                        "time travel skips an undecodable event");
                    continue;
                }
            };
            let Some(own) = A::unwrap(&decoded) else {
                tracing::warn!(
                    stream_id,
                    position = event.position,
                    "time travel skips an event of another aggregate"
                );
                continue;
            };
            let state = folded.take().map(|h| h.state).unwrap_or_default();
            folded = Some(HistoricState {
                state: state.evolve(own),
                stream_version: event.stream_version,
                position: event.position,
                recorded_at_ms: event.recorded_at_ms,
            });
        }
        if !full {
            break;
        }
    }
    Ok(folded)
}

/// An incident as of a position or time.
pub async fn incident_as_of(
    store: &dyn EventStore,
    id: opsledger_domain::IncidentId,
    as_of: AsOf,
) -> Result<Option<HistoricState<opsledger_domain::incident::IncidentState>>, ProjectionError> {
    aggregate_as_of(store, &id.stream_id(), as_of).await
}

/// A change as of a position or time.
pub async fn change_as_of(
    store: &dyn EventStore,
    id: opsledger_domain::ChangeId,
    as_of: AsOf,
) -> Result<Option<HistoricState<opsledger_domain::change::ChangeState>>, ProjectionError> {
    aggregate_as_of(store, &id.stream_id(), as_of).await
}

/// A post-incident review as of a position or time.
pub async fn review_as_of(
    store: &dyn EventStore,
    id: opsledger_domain::ReviewId,
    as_of: AsOf,
) -> Result<Option<HistoricState<opsledger_domain::review::ReviewState>>, ProjectionError> {
    aggregate_as_of(store, &id.stream_id(), as_of).await
}
