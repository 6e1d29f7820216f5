//! The storage-only part of the schema: the log's head, its verification,
//! a cursor connection over the whole log and the `events` subscription
//! (catch-up from a position, then live). Payloads are rendered by
//! `crate::payload_json`, the same JSON `opsledger export` writes.

use crate::app::Operation;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use crate::graphql::schema::audit::{audit_page, AuditArgs};
use crate::limits::clamp_page;
use crate::SharedStore;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, InputObject, Object, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use opsledger_storage::{RecordedEvent, VerifyReport};

/// The one log verification a server runs at a time (a walk of the whole log:
/// unbounded aliases of `verifyLog` kept both cores busy past the request timeout).
static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

pub use super::log_event::{hex, LogEventObject};

/// The outcome of walking the hash chain.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "LogVerification")]
pub struct LogVerificationObject {
    /// Records that verified before the first bad one (or all of them).
    pub events_verified: u64,
    /// Position of the first bad record, null when the whole log verifies.
    pub first_bad_position: Option<u64>,
    /// What is wrong with the first bad record.
    pub reason: Option<String>,
}

impl From<VerifyReport> for LogVerificationObject {
    fn from(r: VerifyReport) -> Self {
        LogVerificationObject {
            events_verified: r.events_verified,
            first_bad_position: r.first_bad_position,
            reason: r.reason,
        }
    }
}

/// Which events a subscription wants.
#[derive(InputObject, Clone, Debug, Default)]
pub struct EventFilter {
    /// Only streams whose id starts with this (e.g. `incident-`).
    pub stream_prefix: Option<String>,
    /// Only these event types.
    pub types: Option<Vec<String>>,
}

impl EventFilter {
    /// Whether `event` passes the filter.
    pub fn accepts(&self, event: &RecordedEvent) -> bool {
        let prefix_ok = self
            .stream_prefix
            .as_deref()
            .is_none_or(|p| event.stream_id.starts_with(p));
        let type_ok = self
            .types
            .as_ref()
            .is_none_or(|types| types.contains(&event.type_name));
        prefix_ok && type_ok
    }
}

/// The store shared through the schema data.
fn store<'a>(ctx: &Context<'a>) -> Result<&'a SharedStore, ApiError> {
    ctx.data::<SharedStore>()
        .map_err(|_| ApiError::internal("the event store is missing from the schema data"))
}

/// Queries about the log itself.
#[derive(Default)]
pub struct LogQuery;

/// How much of a query's complexity budget one `verifyLog` weighs (the guard
/// reads it from [`super::guard::FIELD_WEIGHTS`]).
pub const VERIFY_LOG_COMPLEXITY: usize = 600;

#[Object]
impl LogQuery {
    /// Position of the last event in the log, null when the log is empty (role viewer).
    async fn log_head(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<u64>> {
        authorize(ctx, Operation::Read)?;
        Ok(store(ctx)?.head_position())
    }

    /// Walks the whole log and checks positions and the hash chain (role viewer).
    /// One verification runs at a time per server: another request for one while it
    /// runs is refused with `LIMIT`, and it weighs 600 of a query's complexity
    /// budget, so one query holds at most one `verifyLog`.
    #[graphql(complexity = "VERIFY_LOG_COMPLEXITY")]
    async fn verify_log(&self, ctx: &Context<'_>) -> async_graphql::Result<LogVerificationObject> {
        authorize(ctx, Operation::Read)?;
        let Ok(_running) = VERIFYING.try_acquire() else {
            return Err(ApiError::limit(
                "one log verification runs at a time on this server, and one is running: retry when it has finished",
            )
            .into());
        };
        let report = store(ctx)?.verify().await.map_err(ApiError::internal)?;
        Ok(report.into())
    }

    /// Events in log order after `afterPosition` (or the `after` cursor), `first` at
    /// most 100 (role viewer). Cursors are positions. With any of `stream`, `actor`,
    /// `type`, `from` (inclusive), `to` (exclusive) the audit index is used; each filter
    /// matches exactly (case-sensitive), and `actor` is the actor name recorded on the
    /// event, i.e. the actor of the token that sent the command (e.g. `rita.responder`),
    /// never the token itself. A name no event carries gives an empty page.
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        ctx: &Context<'_>,
        after_position: Option<u64>,
        first: Option<i32>,
        after: Option<String>,
        stream: Option<String>,
        actor: Option<String>,
        #[graphql(name = "type")] type_name: Option<String>,
        from: Option<DateTime>,
        to: Option<DateTime>,
    ) -> async_graphql::Result<Connection<u64, LogEventObject, EmptyFields, EmptyFields>> {
        authorize(ctx, Operation::Read)?;
        let page = clamp_page(first, None);
        let after_position = match after {
            Some(cursor) => Some(
                cursor
                    .parse::<u64>()
                    .map_err(|_| ApiError::validation("after", "not a cursor of this list"))?,
            ),
            None => after_position,
        };
        let filters = AuditArgs {
            stream,
            actor,
            type_name,
            from,
            to,
        };
        if !filters.is_empty() {
            return Ok(audit_page(ctx, filters, after_position, page).await?);
        }
        let from = after_position.map_or(0, |p| p.saturating_add(1));
        // One more than the page tells whether there is a next page.
        let mut events = store(ctx)?
            .read_all(from, page + 1)
            .await
            .map_err(ApiError::internal)?;
        let has_next = events.len() > page;
        events.truncate(page);
        let mut connection = Connection::new(from > 0, has_next);
        connection.edges.extend(
            events
                .iter()
                .map(|e| Edge::new(e.position, LogEventObject::from(e))),
        );
        Ok(connection)
    }
}

/// Subscriptions to the log itself.
#[derive(Default)]
pub struct LogSubscription;

#[Subscription]
impl LogSubscription {
    /// Every event from `fromPosition` (inclusive) that passes `filter`:
    /// catch-up from the log, then live, without gaps (role viewer).
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] from_position: u64,
        filter: Option<EventFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LogEventObject>>> {
        authorize(ctx, Operation::Read)?;
        let filter = filter.unwrap_or_default();
        let events = store(ctx)?.subscribe(from_position);
        Ok(events.filter_map(move |item| {
            let out = match item {
                Ok(event) if filter.accepts(&event) => Some(Ok(LogEventObject::from(&event))),
                Ok(_) => None,
                Err(err) => Some(Err(ApiError::internal(err).into())),
            };
            futures::future::ready(out)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stream: &str, type_name: &str) -> RecordedEvent {
        RecordedEvent {
            position: 0,
            stream_id: stream.into(),
            stream_version: 0,
            event_id: ulid::Ulid::nil(),
            type_name: type_name.into(),
            schema_version: 1,
            recorded_at_ms: 0,
            actor: "alice".into(),
            command_id: "c".into(),
            correlation_id: ulid::Ulid::nil(),
            causation_id: None,
            payload: vec![],
            prev_hash: [0; 32],
            hash: [0xab; 32],
        }
    }

    #[test]
    fn filter_matches_prefix_and_types() {
        let filter = EventFilter {
            stream_prefix: Some("incident-".into()),
            types: Some(vec!["IncidentDeclared".into()]),
        };
        assert!(filter.accepts(&event("incident-1", "IncidentDeclared")));
        assert!(!filter.accepts(&event("change-1", "IncidentDeclared")));
        assert!(!filter.accepts(&event("incident-1", "IncidentResolved")));
        assert!(EventFilter::default().accepts(&event("change-1", "ChangeDrafted")));
    }

    #[test]
    fn hashes_are_lower_hex() {
        assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
        assert_eq!(LogEventObject::from(&event("s", "T")).hash, "ab".repeat(32));
    }
}
