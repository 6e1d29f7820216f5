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
use crate::app::Operation;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, InputObject, MergedObject, Object, SimpleObject, ID};
use opsledger_domain::service::Tier;
use opsledger_domain::{ChangeId, FreezeId, IncidentId, ReviewId, ServiceId, TimeWindow};
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

mod change;
mod freeze;
mod incident;
mod review;
mod service;

/// Read queries over the read models, one object per noun (merged in this order: the
/// SDL's order). Lists are Relay connections: `first`/`after` or `last`/`before`, page
/// sizes clamped to 1..=100 (default 20).
#[derive(MergedObject, Default)]
pub struct ReadQuery(
    service::ServiceQuery,
    incident::IncidentQuery,
    change::ChangeQuery,
    freeze::FreezeQuery,
    review::ReviewQuery,
);
