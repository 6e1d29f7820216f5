//! Subscriptions over the read models besides the status page:
//! `incidentUpdated(id)` sends the incident at once, then again after each
//! event of its stream, once the read models have folded it.

use super::types::{not_found, parse_id, projections, store, Incident};
use crate::app::Operation;
use crate::auth::authorize;
use crate::error::ApiError;
use async_graphql::{Context, Subscription, ID};
use futures::{Stream, StreamExt};
use opsledger_domain::IncidentId;
use std::time::Duration;

/// How long an update waits for the read models to fold its event.
const FOLD_WAIT: Duration = Duration::from_secs(5);

/// Read-side subscriptions that need a token.
#[derive(Default)]
pub struct ReadSubscription;

#[Subscription]
impl ReadSubscription {
    /// The incident at once, then after each new event of its stream (role viewer;
    /// NOT_FOUND if unknown).
    async fn incident_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Incident>>> {
        authorize(ctx, Operation::Read)?;
        let iid: IncidentId = parse_id("id", &id)?;
        let handle = projections(ctx)?.clone();
        // Follow the log from just after what the read models hold: no gap.
        let (now, from) =
            handle.read_checkpointed(|c| (Incident::load(&c.model, iid), c.next_position()));
        let Some(now) = now else {
            return Err(not_found("incident", iid).into());
        };
        let store = store(ctx)?;
        let stream_id = iid.stream_id();
        let events = store.subscribe(from);
        let updates = events.filter_map(move |item| {
            let handle = handle.clone();
            let stream_id = stream_id.clone();
            async move {
                match item {
                    Ok(event) if event.stream_id == stream_id => {
                        // A timeout still sends the freshest state there is.
                        let _ = handle.wait_for(event.position, FOLD_WAIT).await;
                        Incident::fetch(&handle, iid).map(Ok)
                    }
                    Ok(_) => None,
                    Err(err) => Some(Err(ApiError::internal(err).into())),
                }
            }
        });
        Ok(futures::stream::once(async move { Ok(now) }).chain(updates))
    }
}
