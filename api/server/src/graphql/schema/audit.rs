//! Audit and history: the filtered `events` page over the projections' audit
//! index (used by `Query.events` in `graphql/log.rs`; payloads as JSON come from
//! `crate::payload_json`), and time travel (`incidentAsOf`, `changeAsOf`, `reviewAsOf`): the
//! entity as the read models showed it at a log position or instant.

use super::types::{
    not_found, parse_id, projections, store, Change, Incident, PastModels, Review, Source,
};
use crate::app::Operation;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::graphql::log_event::LogEventObject;
use crate::graphql::scalars::DateTime;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Object, OutputType, SimpleObject, ID};
use opsledger_domain::{Aggregate, ChangeId, IncidentId, ReviewId, Timestamp};
use opsledger_projections::models::audit::AuditFilter;
use opsledger_projections::pagination::{encode_cursor, PageRequest};
use opsledger_projections::{aggregate_as_of, read_models_as_of, AsOf, ReadModels};
use std::sync::Arc;

/// Filters of the audit query; empty = the whole log.
#[derive(Clone, Debug, Default)]
pub struct AuditArgs {
    /// Exact stream id.
    pub stream: Option<String>,
    /// Exact actor name as recorded on the event (the token's actor, not the token).
    pub actor: Option<String>,
    /// Exact event type name.
    pub type_name: Option<String>,
    /// Recorded at or after.
    pub from: Option<DateTime>,
    /// Recorded before.
    pub to: Option<DateTime>,
}

impl AuditArgs {
    /// Whether no filter is set (the plain log read is enough).
    pub fn is_empty(&self) -> bool {
        self.stream.is_none()
            && self.actor.is_none()
            && self.type_name.is_none()
            && self.from.is_none()
            && self.to.is_none()
    }
}

/// One page of the log filtered through the audit index, after `after_position`;
/// cursors are positions like the unfiltered log connection.
pub async fn audit_page(
    ctx: &Context<'_>,
    args: AuditArgs,
    after_position: Option<u64>,
    page_size: usize,
) -> Result<Connection<u64, LogEventObject, EmptyFields, EmptyFields>, ApiError> {
    let filter = AuditFilter {
        stream_id: args.stream,
        actor: args.actor,
        type_name: args.type_name,
        from: args.from.map(|d| d.0),
        to: args.to.map(|d| d.0),
    };
    let request = PageRequest {
        first: Some(page_size),
        after: after_position.map(|p| encode_cursor(&p)),
    };
    let page = projections(ctx)?
        .read(|m| m.audit.query(&filter, &request))
        .map_err(super::connection::list_error)?;
    let store = store(ctx)?;
    let mut connection = Connection::new(page.has_previous_page, page.has_next_page);
    for entry in page.nodes() {
        let records = store
            .read_all(entry.position, 1)
            .await
            .map_err(ApiError::internal)?;
        if let Some(record) = records.first() {
            connection
                .edges
                .push(Edge::new(record.position, LogEventObject::from(record)));
        }
    }
    Ok(connection)
}

/// An entity as of a log position or instant. The point is the log prefix up to
/// `asOfPosition`: every event at or below the `position` asked for, or, for an
/// instant `at`, every event up to the first one recorded after it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(
    concrete(name = "IncidentAsOf", params(Incident)),
    concrete(name = "ChangeAsOf", params(Change)),
    concrete(name = "ReviewAsOf", params(Review))
)]
pub struct AsOfState<T: OutputType> {
    /// Position of the last event of its stream folded.
    pub position: u64,
    /// Version of that event within its stream.
    pub stream_version: u64,
    /// When that event was recorded.
    pub recorded_at: DateTime,
    /// The last log position of the point (any stream): what the links resolve
    /// against.
    pub as_of_position: u64,
    /// The entity then. Its links and lists resolve as of the same point, never
    /// against the present: a list (timeline, status updates, reviews, caused
    /// incidents, alert groups, conflicts, ...) holds only what was there then, and
    /// a linked entity (cause change, reviews, services, ...) is shown only if it
    /// existed and was linked then, as it was then.
    pub entity: T,
}

/// `position` or `at`, exactly one.
fn as_of_arg(position: Option<u64>, at: Option<DateTime>) -> Result<AsOf, ApiError> {
    match (position, at) {
        (Some(p), None) => Ok(AsOf::Position(p)),
        (None, Some(t)) => Ok(AsOf::Time(t.0 .0)),
        _ => Err(ApiError::validation(
            "position",
            "give exactly one of position or at",
        )),
    }
}

/// `build` applied to the read models as of `as_of` (None if the stream
/// `stream_id` had no event by then). The read models are the log's prefix up to
/// that point folded by the live projection's own apply, and the entity built
/// carries them as its [`Source`]: its links and lists resolve as of the same point.
async fn entity_as_of<A: Aggregate, T: OutputType>(
    ctx: &Context<'_>,
    stream_id: &str,
    as_of: AsOf,
    build: impl FnOnce(&ReadModels, &Source) -> Option<T>,
) -> Result<Option<AsOfState<T>>, ApiError> {
    let store = store(ctx)?;
    let past = read_models_as_of(store.as_ref(), as_of)
        .await
        .map_err(ApiError::internal)?;
    let Some(point) = past.checkpoint else {
        return Ok(None);
    };
    // The entity's own stream up to the same point (for an instant, the point is
    // the last event of the log prefix recorded by then).
    let Some(historic) = aggregate_as_of::<A>(store.as_ref(), stream_id, AsOf::Position(point))
        .await
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let past = Arc::new(PastModels {
        models: past.model,
        position: point,
    });
    let source = Source::Past(past.clone());
    Ok(build(&past.models, &source).map(|entity| AsOfState {
        position: historic.position,
        stream_version: historic.stream_version,
        recorded_at: DateTime(Timestamp(historic.recorded_at_ms)),
        as_of_position: point,
        entity,
    }))
}

/// Time-travel queries.
#[derive(Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// The incident as of a log `position` or instant `at` (exactly one); null if it
    /// did not exist yet, NOT_FOUND if it never did (role viewer).
    async fn incident_as_of(
        &self,
        ctx: &Context<'_>,
        id: ID,
        position: Option<u64>,
        at: Option<DateTime>,
    ) -> async_graphql::Result<Option<AsOfState<Incident>>> {
        authorize(ctx, Operation::Read)?;
        let iid: IncidentId = parse_id("id", &id)?;
        let as_of = as_of_arg(position, at)?;
        if Incident::fetch(projections(ctx)?, iid).is_none() {
            return Err(not_found("incident", iid).into());
        }
        let stream = iid.stream_id();
        Ok(
            entity_as_of::<opsledger_domain::incident::IncidentState, _>(
                ctx,
                &stream,
                as_of,
                |m, source| Incident::load_at(m, iid, source),
            )
            .await?,
        )
    }

    /// The change as of a log `position` or instant `at` (role viewer).
    async fn change_as_of(
        &self,
        ctx: &Context<'_>,
        id: ID,
        position: Option<u64>,
        at: Option<DateTime>,
    ) -> async_graphql::Result<Option<AsOfState<Change>>> {
        authorize(ctx, Operation::Read)?;
        let cid: ChangeId = parse_id("id", &id)?;
        let as_of = as_of_arg(position, at)?;
        if Change::fetch(projections(ctx)?, cid).is_none() {
            return Err(not_found("change", cid).into());
        }
        let stream = cid.stream_id();
        Ok(entity_as_of::<opsledger_domain::change::ChangeState, _>(
            ctx,
            &stream,
            as_of,
            |m, source| Change::load_at(m, cid, source),
        )
        .await?)
    }

    /// The review as of a log `position` or instant `at` (role viewer).
    async fn review_as_of(
        &self,
        ctx: &Context<'_>,
        id: ID,
        position: Option<u64>,
        at: Option<DateTime>,
    ) -> async_graphql::Result<Option<AsOfState<Review>>> {
        authorize(ctx, Operation::Read)?;
        let rid: ReviewId = parse_id("id", &id)?;
        let as_of = as_of_arg(position, at)?;
        if Review::fetch(projections(ctx)?, rid).is_none() {
            return Err(not_found("review", rid).into());
        }
        let stream = rid.stream_id();
        Ok(entity_as_of::<opsledger_domain::review::ReviewState, _>(
            ctx,
            &stream,
            as_of,
            |m, source| Review::load_at(m, rid, source),
        )
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn as_of_takes_exactly_one_of_position_or_at() {
        let at = DateTime(Timestamp(5));
        assert_eq!(as_of_arg(Some(3), None).ok(), Some(AsOf::Position(3)));
        assert_eq!(as_of_arg(None, Some(at)).ok(), Some(AsOf::Time(5)));
        for (position, at) in [(None, None), (Some(3), Some(at))] {
            let err = as_of_arg(position, at).err().map(|e| e.code());
            assert_eq!(err, Some(ErrorCode::Validation));
        }
    }

    #[test]
    fn empty_audit_args_use_the_plain_log() {
        assert!(AuditArgs::default().is_empty());
        let by_actor = AuditArgs {
            actor: Some("alice".into()),
            ..AuditArgs::default()
        };
        assert!(!by_actor.is_empty());
    }
}
