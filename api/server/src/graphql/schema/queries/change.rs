//! Changes: the list, one by id, and the change calendar.

use super::*;

/// The change queries.
#[derive(Default)]
pub struct ChangeQuery;

#[Object]
impl ChangeQuery {
    /// Changes by window start (role viewer).
    async fn changes(
        &self,
        ctx: &Context<'_>,
        filter: Option<ChangeFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<CursorConnection<Change>> {
        authorize(ctx, Operation::Read)?;
        let filter = filter.unwrap_or_default().to_filter()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page =
            projections(ctx)?.read(|m| args.fetch(|request| m.changes.list(&filter, request)))?;
        Ok(to_connection(page, Change::from))
    }

    /// One change with risk, approvals and conflicts (role viewer; NOT_FOUND if unknown).
    async fn change(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Change> {
        authorize(ctx, Operation::Read)?;
        let cid: ChangeId = parse_id("id", &id)?;
        Ok(Change::fetch(projections(ctx)?, cid).ok_or_else(|| not_found("change", cid))?)
    }

    /// Changes and freezes overlapping [from, to), optionally of one service (role viewer).
    async fn change_calendar(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        service_id: Option<ID>,
    ) -> async_graphql::Result<ChangeCalendar> {
        authorize(ctx, Operation::Read)?;
        let range = window("to", from, to)?;
        let service = optional_id("serviceId", &service_id)?;
        let calendar = projections(ctx)?.read(|m| m.changes.calendar(range, service));
        Ok(ChangeCalendar {
            changes: calendar.changes.into_iter().map(Change::from).collect(),
            freezes: calendar.freezes.into_iter().map(Freeze).collect(),
        })
    }
}
