//! Services: the list and one by id.

use super::*;

/// The service queries.
#[derive(Default)]
pub struct ServiceQuery;

#[Object]
impl ServiceQuery {
    /// Services by name, with their dependency graph and downstream impact (role viewer).
    async fn services(
        &self,
        ctx: &Context<'_>,
        filter: Option<ServiceFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<CursorConnection<Service>> {
        authorize(ctx, Operation::Read)?;
        let filter = filter.unwrap_or_default().to_filter()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page =
            projections(ctx)?.read(|m| args.fetch(|request| m.services.list(&filter, request)))?;
        Ok(to_connection(page, Service::from))
    }

    /// One service (role viewer; NOT_FOUND if unknown).
    async fn service(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Service> {
        authorize(ctx, Operation::Read)?;
        let sid: ServiceId = parse_id("id", &id)?;
        Ok(Service::fetch(projections(ctx)?, sid).ok_or_else(|| not_found("service", sid))?)
    }
}
