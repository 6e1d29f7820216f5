//! The GraphQL object types of the read side, each a snapshot of one
//! projections read model view (`Incident(IncidentView)`, ...). Scalar fields
//! come from the snapshot; links to other entities (services of an incident,
//! its cause change, reviews, timeline, ...) are resolved on demand from the
//! current read models in the schema data.
//!
//! Build them with `Incident::load(&models, id)` inside `handle.read(..)`, or
//! `Incident::fetch(&handle, id)`.

use crate::error::ApiError;
use crate::graphql::scalars::DateTime;
use crate::SharedStore;
use async_graphql::{Context, Object, SimpleObject, ID};
use opsledger_domain::{
    ChangeId, FreezeId, IncidentId, ReviewId, ServiceId, TimeWindow as DomainWindow, Timestamp,
};
use opsledger_projections::models::changes::{ChangeView, FreezeView};
use opsledger_projections::models::incidents::{AlertGroupView, IncidentView};
use opsledger_projections::models::reviews::{ActionItemView, ReviewView};
use opsledger_projections::models::services::ServiceView;
use opsledger_projections::{ProjectionHandle, ReadModels};
use std::sync::Arc;

pub use super::types_enums::*;

mod change;
mod incident;
mod review;
mod service;

pub use change::*;
pub use incident::*;
pub use review::*;
pub use service::*;

/// The projections handle as it sits in the schema data.
pub type Projections = ProjectionHandle<ReadModels>;

/// The projections handle from the schema data.
pub fn projections<'a>(ctx: &Context<'a>) -> Result<&'a Projections, ApiError> {
    ctx.data::<Projections>()
        .map_err(|_| ApiError::internal("the projections handle is missing from the schema data"))
}

/// The event store from the schema data.
pub fn store<'a>(ctx: &Context<'a>) -> Result<&'a SharedStore, ApiError> {
    ctx.data::<SharedStore>()
        .map_err(|_| ApiError::internal("the event store is missing from the schema data"))
}

/// A wire instant.
pub fn dt(t: Timestamp) -> DateTime {
    DateTime(t)
}

/// An id on the wire.
pub fn gid(id: impl std::fmt::Display) -> ID {
    ID(id.to_string())
}

/// Parses a wire id into a typed id; a bad one is a VALIDATION error on `field`.
pub fn parse_id<T: std::str::FromStr>(field: &str, id: &ID) -> Result<T, ApiError> {
    id.parse::<T>()
        .map_err(|_| ApiError::validation(field, format!("`{}` is not a valid id", id.as_str())))
}

/// A NOT_FOUND error for `what` with `id`.
pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound {
        what,
        id: id.to_string(),
    }
}

/// The read models as of a past log position (time travel).
#[derive(Debug)]
pub struct PastModels {
    /// The log prefix up to and including `position`, folded.
    pub models: ReadModels,
    /// The last log position folded.
    pub position: u64,
}

/// Where an object's links resolve.
#[derive(Clone, Debug, Default)]
pub enum Source {
    /// The current read models in the schema data.
    #[default]
    Live,
    /// The read models as of a past log position.
    Past(Arc<PastModels>),
}

impl Source {
    /// `f` applied to the read models of this source.
    pub fn read<R>(
        &self,
        ctx: &Context<'_>,
        f: impl FnOnce(&ReadModels) -> R,
    ) -> Result<R, ApiError> {
        match self {
            Source::Live => Ok(projections(ctx)?.read(f)),
            Source::Past(past) => Ok(f(&past.models)),
        }
    }

    /// The last log position this source shows (`None` = the live head).
    pub fn position(&self) -> Option<u64> {
        match self {
            Source::Live => None,
            Source::Past(past) => Some(past.position),
        }
    }
}

/// Reads several ids through `load` from `source`, skipping the missing ones.
fn load_many<I: Copy, T>(
    ctx: &Context<'_>,
    source: &Source,
    ids: &[I],
    load: impl Fn(&ReadModels, I, &Source) -> Option<T>,
) -> async_graphql::Result<Vec<T>> {
    Ok(source.read(ctx, |m| {
        ids.iter().filter_map(|&id| load(m, id, source)).collect()
    })?)
}

/// A half-open time window `[start, end)`.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct TimeWindow {
    /// Inclusive start.
    pub start: DateTime,
    /// Exclusive end.
    pub end: DateTime,
}

impl From<DomainWindow> for TimeWindow {
    fn from(w: DomainWindow) -> Self {
        TimeWindow {
            start: dt(w.start),
            end: dt(w.end),
        }
    }
}
