//! # opsledger-domain
//!
//! The pure domain of opsledger: aggregates (services, alert groups,
//! incidents, changes, freeze windows, reviews), their commands, events and
//! typed errors. Every decision is a pure function
//! `decide(&State, Command, Facts, &Context) -> Result<Vec<Event>, DomainError>`
//! and every state change a total `evolve(State, &Event) -> State`.
//!
//! ## Invariants
//! - No IO, no async runtime, no storage, no system clock: time and the actor
//!   come in through [`Context`]; new ids come in the command.
//! - A command is the caller's intent only. Facts owned by other aggregates (a
//!   service's tier, active freezes, recent change failure rates, the reviewed
//!   incident) are a separate argument of `decide`, one plain-data type per
//!   aggregate ([`Aggregate::Facts`]), gathered by the caller; the domain never
//!   reads storage.
//! - Who may issue a command is not the domain's business: the application
//!   checks the actor's role once per operation before it decides.
//! - Events are contracts: named past-tense structs, bincode-friendly (no
//!   `flatten`, no internally tagged enums, no `skip_serializing_if`), with a
//!   stable [`DomainEvent::type_name`] and [`DomainEvent::schema_version`].
//!   New variants are appended at the end only (bincode encodes the variant
//!   index).
//!
//! ## Layout
//! - [`time`], [`ids`], [`context`], [`text`]: the shared vocabulary
//!   ([`text`] holds the bounded string types every client input is parsed into).
//! - one module per aggregate: [`service`], [`alert`], [`incident`],
//!   [`change`], [`freeze`], [`review`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alert;
pub mod alert_group_key;
pub mod change;
pub mod context;
pub mod freeze;
pub mod ids;
pub mod incident;
pub mod review;
pub mod service;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
pub mod time;

pub use context::{Actor, Context, Role};
pub use ids::{ActionItemId, ChangeId, FreezeId, IncidentId, ReviewId, ServiceId};
pub use time::{TimeWindow, Timestamp};

use serde::{Deserialize, Serialize};

/// Every event of every aggregate, as stored in the log's payload.
///
/// The variant order is part of the encoding: append new variants at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DomainEvent {
    /// An event of a service.
    Service(service::ServiceEvent),
    /// An event of an alert group.
    AlertGroup(alert::AlertGroupEvent),
    /// An event of an incident.
    Incident(incident::IncidentEvent),
    /// An event of a change.
    Change(change::ChangeEvent),
    /// An event of a freeze window.
    Freeze(freeze::FreezeEvent),
    /// An event of a post-incident review.
    Review(review::ReviewEvent),
}

impl DomainEvent {
    /// The stable type name stored in the envelope (e.g. `IncidentAcknowledged`).
    pub fn type_name(&self) -> &'static str {
        match self {
            DomainEvent::Service(e) => e.type_name(),
            DomainEvent::AlertGroup(e) => e.type_name(),
            DomainEvent::Incident(e) => e.type_name(),
            DomainEvent::Change(e) => e.type_name(),
            DomainEvent::Freeze(e) => e.type_name(),
            DomainEvent::Review(e) => e.type_name(),
        }
    }

    /// The schema version of this event type's encoding.
    pub fn schema_version(&self) -> u16 {
        match self {
            DomainEvent::Service(e) => e.schema_version(),
            DomainEvent::AlertGroup(e) => e.schema_version(),
            DomainEvent::Incident(e) => e.schema_version(),
            DomainEvent::Change(e) => e.schema_version(),
            DomainEvent::Freeze(e) => e.schema_version(),
            DomainEvent::Review(e) => e.schema_version(),
        }
    }
}

/// The contract every aggregate state implements, so the application
/// service can load (fold), decide and wrap events generically.
///
/// States are plain owned data (`Send + Sync + 'static`, `Clone`): the application
/// service may keep a folded state and fold only the events after it (its
/// aggregate cache); nothing here knows about that.
pub trait Aggregate: Default + Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The aggregate's commands: what the caller asks, without facts.
    type Command;
    /// What the caller read from other aggregates for a command (the commands
    /// that need none take the [`Default`] value).
    type Facts: Default;
    /// The aggregate's events.
    type Event: Clone + std::fmt::Debug;

    /// Decides which events `command` produces given `facts`, or why it is rejected.
    fn decide(
        &self,
        command: Self::Command,
        facts: Self::Facts,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, DomainError>;
    /// Folds one event into the state. Total: never panics.
    fn evolve(self, event: &Self::Event) -> Self;
    /// Wraps an aggregate event into the log's [`DomainEvent`].
    fn wrap(event: Self::Event) -> DomainEvent;
    /// Extracts this aggregate's event from a [`DomainEvent`], if it is one.
    fn unwrap(event: &DomainEvent) -> Option<&Self::Event>;
}

/// A rejected command: one variant per aggregate, each with one variant per rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A service rule was violated.
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    /// An alert rule was violated.
    #[error(transparent)]
    Alert(#[from] alert::AlertError),
    /// An incident rule was violated.
    #[error(transparent)]
    Incident(#[from] incident::IncidentError),
    /// A change rule was violated.
    #[error(transparent)]
    Change(#[from] change::ChangeError),
    /// A freeze window rule was violated.
    #[error(transparent)]
    Freeze(#[from] freeze::FreezeError),
    /// A review rule was violated.
    #[error(transparent)]
    Review(#[from] review::ReviewError),
    /// An input field failed validation.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field that failed.
        field: &'static str,
        /// Why it failed.
        reason: &'static str,
    },
}

impl DomainError {
    /// `Ok` if `value` holds non-blank text, else [`DomainError::Invalid`] naming `field`.
    pub fn require_text(field: &'static str, value: &str) -> Result<(), DomainError> {
        if value.trim().is_empty() {
            return Err(DomainError::Invalid {
                field,
                reason: "must not be empty",
            });
        }
        Ok(())
    }
}
