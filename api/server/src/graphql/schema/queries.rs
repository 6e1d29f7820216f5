//! Read queries over the projections' read models: services, incidents,
//! alert groups, changes, the change calendar, freezes, reviews and action
//! items, each list a Relay connection with a filter. Every field needs at
//! least the viewer role.

use super::connection::{to_connection, CursorConnection, PageArgs};
use super::types::{
    not_found, now, parse_id, projections, ActionItem, AlertGroup, Change, ChangeCategory,
    ChangeStatus, ChangeType, Freeze, Incident, IncidentStatus, Review, ReviewStatus, RiskLevel,
    Service, Severity,
};
use crate::auth::require_role;
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use opsledger_domain::service::Tier;
use opsledger_domain::{ChangeId, FreezeId, IncidentId, ReviewId, Role, ServiceId, TimeWindow};
use opsledger_projections::models::changes::ChangeFilter;
use opsledger_projections::models::incidents::IncidentFilter;
use opsledger_projections::models::reviews::{ActionItemFilter, ReviewFilter};
use opsledger_projections::models::services::ServiceFilter;

/// Which services to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ServiceFilterInput {
    /// Only services of this owner team.
    pub owner_team: Option<String>,
    /// Only this tier (1..3).
    pub tier: Option<u8>,
    /// Include retired services (default false).
    #[graphql(default)]
    pub include_retired: bool,
    /// Only names containing this (case-insensitive).
    pub name_contains: Option<String>,
}

impl ServiceFilterInput {
    fn to_filter(&self) -> Result<ServiceFilter, ApiError> {
        let tier = match self.tier {
            Some(n) => Some(
                Tier::new(n).ok_or_else(|| ApiError::validation("tier", "must be 1, 2 or 3"))?,
            ),
            None => None,
        };
        Ok(ServiceFilter {
            owner_team: self.owner_team.clone(),
            tier,
            include_retired: self.include_retired,
            name_contains: self.name_contains.clone(),
        })
    }
}

/// Which incidents to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct IncidentFilterInput {
    /// Only these statuses.
    pub statuses: Option<Vec<IncidentStatus>>,
    /// Only these severities.
    pub severities: Option<Vec<Severity>>,
    /// Only incidents impacting this service.
    pub service_id: Option<ID>,
    /// Only active (open) incidents.
    #[graphql(default)]
    pub open: bool,
    /// Detected at or after.
    pub detected_from: Option<DateTime>,
    /// Detected before.
    pub detected_to: Option<DateTime>,
}

impl IncidentFilterInput {
    fn to_filter(&self) -> Result<IncidentFilter, ApiError> {
        Ok(IncidentFilter {
            statuses: convert_all(&self.statuses),
            severities: convert_all(&self.severities),
            service: optional_id("filter.serviceId", &self.service_id)?,
            active_only: self.open,
            detected_from: self.detected_from.map(|d| d.0),
            detected_to: self.detected_to.map(|d| d.0),
        })
    }
}

/// Which changes to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ChangeFilterInput {
    /// Only these statuses.
    pub statuses: Option<Vec<ChangeStatus>>,
    /// Only changes touching this service.
    pub service_id: Option<ID>,
    /// Only this type.
    pub change_type: Option<ChangeType>,
    /// Only this category.
    pub category: Option<ChangeCategory>,
    /// Only this risk level.
    pub risk: Option<RiskLevel>,
    /// Only windows overlapping [overlapsFrom, overlapsTo) (both needed).
    pub overlaps_from: Option<DateTime>,
    /// End of the overlap window.
    pub overlaps_to: Option<DateTime>,
}

impl ChangeFilterInput {
    fn to_filter(&self) -> Result<ChangeFilter, ApiError> {
        let overlapping = match (self.overlaps_from, self.overlaps_to) {
            (Some(from), Some(to)) => Some(window("filter.overlapsTo", from, to)?),
            (None, None) => None,
            _ => {
                return Err(ApiError::validation(
                    "filter.overlapsFrom",
                    "overlapsFrom and overlapsTo go together",
                ))
            }
        };
        Ok(ChangeFilter {
            statuses: convert_all(&self.statuses),
            service: optional_id("filter.serviceId", &self.service_id)?,
            change_type: self.change_type.map(Into::into),
            category: self.category.map(Into::into),
            risk: self.risk.map(Into::into),
            overlapping,
        })
    }
}

/// Which reviews to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ReviewFilterInput {
    /// Only this status.
    pub status: Option<ReviewStatus>,
    /// Only reviews of this incident.
    pub incident_id: Option<ID>,
}

/// Which action items to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ActionItemFilterInput {
    /// Only this owner.
    pub owner: Option<String>,
    /// Only open items.
    #[graphql(default)]
    pub open: bool,
    /// Only items open and past due now.
    #[graphql(default)]
    pub overdue: bool,
    /// Only items of this review.
    pub review_id: Option<ID>,
}

/// Changes and freezes in a calendar range.
#[derive(SimpleObject, Clone, Debug)]
pub struct ChangeCalendar {
    /// Changes whose window overlaps the range (not cancelled or rejected), by start.
    pub changes: Vec<Change>,
    /// Freezes overlapping the range (not cancelled).
    pub freezes: Vec<Freeze>,
}

/// Converts a list of GraphQL enums into domain enums (absent = empty = any).
fn convert_all<G: Copy + Into<D>, D>(list: &Option<Vec<G>>) -> Vec<D> {
    list.iter().flatten().map(|&g| g.into()).collect()
}

/// Parses an optional id argument.
fn optional_id<T: std::str::FromStr>(field: &str, id: &Option<ID>) -> Result<Option<T>, ApiError> {
    id.as_ref().map(|id| parse_id(field, id)).transpose()
}

/// A valid window `[from, to)`, else VALIDATION on `field`.
pub fn window(field: &str, from: DateTime, to: DateTime) -> Result<TimeWindow, ApiError> {
    let w = TimeWindow {
        start: from.0,
        end: to.0,
    };
    if w.is_valid() {
        Ok(w)
    } else {
        Err(ApiError::validation(field, "must be after the start"))
    }
}

/// Read queries over the read models. Lists are Relay connections: `first`/`after`
/// or `last`/`before`, page sizes clamped to 1..=100 (default 20).
#[derive(Default)]
pub struct ReadQuery;

#[Object]
impl ReadQuery {
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
        require_role(ctx, Role::Viewer)?;
        let filter = filter.unwrap_or_default().to_filter()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page =
            projections(ctx)?.read(|m| args.fetch(|request| m.services.list(&filter, request)))?;
        Ok(to_connection(page, Service))
    }

    /// One service (role viewer; NOT_FOUND if unknown).
    async fn service(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Service> {
        require_role(ctx, Role::Viewer)?;
        let sid: ServiceId = parse_id("id", &id)?;
        Ok(Service::fetch(projections(ctx)?, sid).ok_or_else(|| not_found("service", sid))?)
    }

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
        require_role(ctx, Role::Viewer)?;
        let filter = filter.unwrap_or_default().to_filter()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page =
            projections(ctx)?.read(|m| args.fetch(|request| m.incidents.list(&filter, request)))?;
        Ok(to_connection(page, Incident))
    }

    /// One incident with its timeline, links and runbooks (role viewer; NOT_FOUND if unknown).
    async fn incident(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Incident> {
        require_role(ctx, Role::Viewer)?;
        let iid: IncidentId = parse_id("id", &id)?;
        Ok(Incident::fetch(projections(ctx)?, iid).ok_or_else(|| not_found("incident", iid))?)
    }

    /// Every alert group (role viewer).
    async fn alert_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AlertGroup>> {
        require_role(ctx, Role::Viewer)?;
        Ok(projections(ctx)?.read(|m| m.incidents.alert_groups().map(AlertGroup::from).collect()))
    }

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
        require_role(ctx, Role::Viewer)?;
        let filter = filter.unwrap_or_default().to_filter()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page =
            projections(ctx)?.read(|m| args.fetch(|request| m.changes.list(&filter, request)))?;
        Ok(to_connection(page, Change))
    }

    /// One change with risk, approvals and conflicts (role viewer; NOT_FOUND if unknown).
    async fn change(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Change> {
        require_role(ctx, Role::Viewer)?;
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
        require_role(ctx, Role::Viewer)?;
        let range = window("to", from, to)?;
        let service = optional_id("serviceId", &service_id)?;
        let calendar = projections(ctx)?.read(|m| m.changes.calendar(range, service));
        Ok(ChangeCalendar {
            changes: calendar.changes.into_iter().map(Change).collect(),
            freezes: calendar.freezes.into_iter().map(Freeze).collect(),
        })
    }

    /// Freeze windows by start (role viewer).
    async fn freezes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_cancelled: bool,
    ) -> async_graphql::Result<Vec<Freeze>> {
        require_role(ctx, Role::Viewer)?;
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
        require_role(ctx, Role::Viewer)?;
        let fid: FreezeId = parse_id("id", &id)?;
        Ok(Freeze::fetch(projections(ctx)?, fid).ok_or_else(|| not_found("freeze", fid))?)
    }

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
        require_role(ctx, Role::Viewer)?;
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
        Ok(to_connection(page, Review))
    }

    /// One review (role viewer; NOT_FOUND if unknown).
    async fn review(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Review> {
        require_role(ctx, Role::Viewer)?;
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
        require_role(ctx, Role::Viewer)?;
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
