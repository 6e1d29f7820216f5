//! Post-incident reviews and their action items.

use super::*;

/// The review queries.
#[derive(Default)]
pub struct ReviewQuery;

#[Object]
impl ReviewQuery {
    /// Post-incident reviews, newest first (role viewer).
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        filter: Option<ReviewFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<CursorConnection<Review>> {
        authorize(ctx, Operation::Read)?;
        let input = filter.unwrap_or_default();
        let filter = ReviewFilter {
            status: input.status.map(Into::into),
            incident: optional_id("filter.incidentId", &input.incident_id)?,
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page =
            projections(ctx)?.read(|m| args.fetch(|request| m.reviews.list(&filter, request)))?;
        Ok(to_connection(page, Review::from))
    }

    /// One review (role viewer; NOT_FOUND if unknown).
    async fn review(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Review> {
        authorize(ctx, Operation::Read)?;
        let rid: ReviewId = parse_id("id", &id)?;
        Ok(Review::fetch(projections(ctx)?, rid).ok_or_else(|| not_found("review", rid))?)
    }

    /// Action items, earliest due first (role viewer).
    async fn action_items(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActionItemFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<CursorConnection<ActionItem>> {
        authorize(ctx, Operation::Read)?;
        let input = filter.unwrap_or_default();
        let filter = ActionItemFilter {
            owner: input.owner.clone(),
            open_only: input.open,
            overdue_at: input.overdue.then(now),
            review: optional_id("filter.reviewId", &input.review_id)?,
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page = projections(ctx)?
            .read(|m| args.fetch(|request| m.reviews.list_action_items(&filter, request)))?;
        Ok(to_connection(page, ActionItem))
    }
}
