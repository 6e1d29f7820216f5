//! The incident aggregate (SPEC 2.3): declaration (manual or from an alert
//! group), the lifecycle `triggered → acknowledged → investigating →
//! identified → monitoring → resolved → closed` (skipping forward allowed,
//! `resolved → reopened(investigating)`, backwards moves rejected), roles,
//! escalation (manual and deadline-driven), severity and impact, notes,
//! status updates, links to a cause change and alert groups, merging.
//!
//! Rules worth knowing:
//! - Severity, when not given, is derived from tier and impact
//!   ([`Severity::derive`]), the worst over the impacted services.
//! - The first impacted service is the primary one: its escalation policy
//!   (from the declaration's [`DeclarationFacts`]) is recorded in the
//!   [`IncidentDeclared`] event and drives escalation.
//! - Moving a triggered incident to a working stage acknowledges it
//!   implicitly (an [`IncidentAcknowledged`] precedes the status change);
//!   resolving a triggered one does not.
//! - Commands on a closed or merged incident are rejected.

mod command;
mod decide;
mod event;
mod merge;
mod model;
mod state;

pub use command::{DeclareIncident, IncidentCommand};
pub use decide::MAX_TITLE_CHARS;
pub use event::*;
pub use merge::check_merge;
pub use model::{
    DeclarationFacts, ImpactLevel, IncidentStatus, ServiceFacts, ServiceImpact, Severity, Stage,
    Visibility,
};
pub use state::IncidentState;

use crate::context::Context;
use crate::ids::ServiceId;
use crate::{Aggregate, DomainError, DomainEvent};

/// Rules of the incident aggregate that a command can violate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// The stream already holds a declared incident.
    #[error("incident already declared")]
    AlreadyDeclared,
    /// The incident does not exist.
    #[error("incident not declared")]
    NotDeclared,
    /// The incident is closed: nothing more can happen to it.
    #[error("incident is closed")]
    Closed,
    /// The incident was merged into another: work on that one.
    #[error("incident was merged into another incident")]
    Merged,
    /// The title is empty or blank.
    #[error("title is empty")]
    EmptyTitle,
    /// The title is longer than [`MAX_TITLE_CHARS`].
    #[error("title is too long")]
    TitleTooLong,
    /// A declaration needs at least one impacted service.
    #[error("no impacted services")]
    NoImpactedServices,
    /// A service is listed twice among the impacted services.
    #[error("service {service} listed twice")]
    DuplicateImpactedService {
        /// The service.
        service: ServiceId,
    },
    /// The declaration names a service the caller passed no facts for.
    #[error("no facts known for service {service}")]
    UnknownService {
        /// The service.
        service: ServiceId,
    },
    /// The impact cannot start after it was detected.
    #[error("started after detected")]
    StartedAfterDetected,
    /// `detectedAt` lies more than [`crate::time::MAX_CLOCK_SKEW_MS`] after
    /// the server's clock (a detection cannot be in the future).
    #[error("detectedAt lies more than 5 minutes after the server's clock")]
    DetectedInFuture,
    /// A retired service cannot be named in a new incident.
    #[error("service {service} is retired")]
    ServiceRetired {
        /// The service.
        service: ServiceId,
    },
    /// The lifecycle does not allow this move (backwards or to the same status).
    #[error("cannot move from {from:?} to {to:?}")]
    InvalidTransition {
        /// The current status.
        from: IncidentStatus,
        /// The requested status.
        to: IncidentStatus,
    },
    /// Close and reopen need a resolved incident.
    #[error("incident is not resolved")]
    NotResolved,
    /// Escalation needs an incident that is not yet resolved.
    #[error("incident is no longer active")]
    NotActive,
    /// The escalation policy has no further level.
    #[error("no further escalation level")]
    NoFurtherEscalationLevel,
    /// This person is already the commander.
    #[error("already the commander")]
    AlreadyCommander,
    /// This person is already a responder.
    #[error("already a responder")]
    AlreadyResponder,
    /// This person is not a responder.
    #[error("not a responder")]
    NotAResponder,
    /// A commander or responder needs a name.
    #[error("person name is empty")]
    EmptyActorName,
    /// The severity is already this one.
    #[error("severity unchanged")]
    SameSeverity,
    /// The service already has this impact level.
    #[error("impact unchanged")]
    SameImpact,
    /// A note needs text.
    #[error("note is empty")]
    EmptyNote,
    /// A status update needs a message.
    #[error("status update is empty")]
    EmptyStatusUpdate,
    /// This change is already the linked cause.
    #[error("cause change already linked")]
    CauseAlreadyLinked,
    /// This alert group is already linked.
    #[error("alert group already linked")]
    AlertGroupAlreadyLinked,
    /// An incident cannot be merged into itself.
    #[error("cannot merge an incident into itself")]
    CannotMergeIntoSelf,
    /// This duplicate was already merged into this incident.
    #[error("duplicate already merged")]
    DuplicateAlreadyMerged,
    /// Resolving needs a resolution summary.
    #[error("resolution summary is empty")]
    EmptyResolutionSummary,
    /// A merge can only be undone for a duplicate this incident recorded.
    #[error("duplicate was not merged into this incident")]
    DuplicateNotMerged,
}

impl Aggregate for IncidentState {
    type Command = IncidentCommand;
    type Facts = DeclarationFacts;
    type Event = IncidentEvent;

    fn decide(
        &self,
        command: IncidentCommand,
        facts: DeclarationFacts,
        ctx: &Context,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        Ok(self.decide_command(command, facts, ctx)?)
    }

    fn evolve(self, event: &IncidentEvent) -> Self {
        self.apply(event)
    }

    fn wrap(event: IncidentEvent) -> DomainEvent {
        DomainEvent::Incident(event)
    }

    fn unwrap(event: &DomainEvent) -> Option<&IncidentEvent> {
        match event {
            DomainEvent::Incident(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
