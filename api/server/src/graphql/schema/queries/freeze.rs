//! Freeze windows: the list and one by id.

use super::*;

/// The freeze queries.
#[derive(Default)]
pub struct FreezeQuery;

#[Object]
impl FreezeQuery {
    /// Freeze windows by start (role viewer).
    async fn freezes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_cancelled: bool,
    ) -> async_graphql::Result<Vec<Freeze>> {
        authorize(ctx, Operation::Read)?;
        let mut list: Vec<Freeze> = projections(ctx)?.read(|m| {
            m.changes
                .freezes()
                .filter(|f| include_cancelled || f.cancelled_at.is_none())
                .cloned()
                .map(Freeze)
                .collect()
        });
        list.sort_by_key(|f| (f.0.window.start, f.0.id));
        Ok(list)
    }

    /// One freeze window (role viewer; NOT_FOUND if unknown).
    async fn freeze(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Freeze> {
        authorize(ctx, Operation::Read)?;
        let fid: FreezeId = parse_id("id", &id)?;
        Ok(Freeze::fetch(projections(ctx)?, fid).ok_or_else(|| not_found("freeze", fid))?)
    }
}
