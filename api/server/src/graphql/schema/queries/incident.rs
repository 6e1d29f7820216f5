//! Incidents: the list, one by id, and the alert groups.

use super::*;

/// The incident queries.
#[derive(Default)]
pub struct IncidentQuery;

#[Object]
impl IncidentQuery {
    /// Incidents, newest detection first (role viewer).
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        filter: Option<IncidentFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<CursorConnection<Incident>> {
        authorize(ctx, Operation::Read)?;
        let filter = filter.unwrap_or_default().to_filter()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page =
            projections(ctx)?.read(|m| args.fetch(|request| m.incidents.list(&filter, request)))?;
        Ok(to_connection(page, Incident::from))
    }

    /// One incident with its timeline, links and runbooks (role viewer; NOT_FOUND if unknown).
    async fn incident(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Incident> {
        authorize(ctx, Operation::Read)?;
        let iid: IncidentId = parse_id("id", &id)?;
        Ok(Incident::fetch(projections(ctx)?, iid).ok_or_else(|| not_found("incident", iid))?)
    }

    /// Every alert group (role viewer).
    async fn alert_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AlertGroup>> {
        authorize(ctx, Operation::Read)?;
        Ok(projections(ctx)?.read(|m| m.incidents.alert_groups().map(AlertGroup::from).collect()))
    }
}
