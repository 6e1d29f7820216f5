//! Time travel: the state of one aggregate as of a log position or a
//! timestamp, folded from its stream with the domain's own `evolve`; and the
//! read models as of a point ([`read_models_as_of`]), the log's prefix folded
//! with the live projection's own `apply`, so an entity's links (reviews,
//! caused incidents, alert groups, services, ...) resolve as of the same point.

use opsledger_domain::{Aggregate, DomainEvent};
use opsledger_storage::{codec::decode_payload, Direction, EventStore};

use crate::error::ProjectionError;
use crate::models::ReadModels;
use crate::projection::Checkpointed;

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

impl AsOf {
    /// Whether an event at `position` recorded at `recorded_at_ms` is included.
    pub fn includes(self, position: u64, recorded_at_ms: i64) -> bool {
        match self {
            AsOf::Position(p) => position <= p,
            AsOf::Time(t) => recorded_at_ms <= t,
        }
    }
}

/// Events read per call while folding the log.
const LOG_PAGE: usize = 1024;

/// Folds the log into `models` from its next position while `as_of` includes
/// the events: the prefix of the log up to the last event at or below the
/// position (for [`AsOf::Time`], up to the first event recorded after the
/// instant). Undecodable or refused events are skipped exactly as the live
/// projection skips them. Folding on from an earlier checkpoint gives the same
/// state as folding from the start.
pub async fn advance_models(
    store: &dyn EventStore,
    models: &mut Checkpointed<ReadModels>,
    as_of: AsOf,
) -> Result<(), ProjectionError> {
    loop {
        let page = store.read_all(models.next_position(), LOG_PAGE).await?;
        let full = page.len() == LOG_PAGE;
        for event in &page {
            if !as_of.includes(event.position, event.recorded_at_ms) {
                return Ok(());
            }
            models.apply_recorded(event);
        }
        if !full {
            return Ok(());
        }
    }
}

/// The read models as of `as_of`: the log prefix [`advance_models`] folds;
/// `checkpoint` is the last position folded (`None` if no event is included).
pub async fn read_models_as_of(
    store: &dyn EventStore,
    as_of: AsOf,
) -> Result<Checkpointed<ReadModels>, ProjectionError> {
    let mut models = Checkpointed::default();
    advance_models(store, &mut models, as_of).await?;
    Ok(models)
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
            if !as_of.includes(event.position, event.recorded_at_ms) {
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
