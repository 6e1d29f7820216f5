//! Events of the review aggregate.

use super::model::{SectionContent, TimelineEntry};
use crate::context::Actor;
use crate::ids::{ActionItemId, IncidentId, ReviewId};
use crate::incident::{IncidentStatus, Severity};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Events of the review aggregate (append new variants at the end only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ReviewEvent {
    /// A review was created for a resolved incident.
    Created(ReviewCreated),
    /// A section was written or rewritten.
    SectionEdited(ReviewSectionEdited),
    /// An action item was added.
    ActionItemAdded(ReviewActionItemAdded),
    /// An action item was completed.
    ActionItemCompleted(ReviewActionItemCompleted),
    /// The draft was submitted for review.
    Submitted(ReviewSubmitted),
    /// The review was published.
    Published(ReviewPublished),
}

/// A review was created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewCreated {
    /// The review.
    pub id: ReviewId,
    /// The incident reviewed.
    pub incident: IncidentId,
    /// The incident's severity at creation.
    pub severity: Severity,
    /// The incident's status at creation (resolved or closed).
    pub incident_status: IncidentStatus,
    /// The timeline generated from the incident's entries, sorted by time.
    pub timeline: Vec<TimelineEntry>,
    /// Who created it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A section was written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewSectionEdited {
    /// The section and its new content.
    pub content: SectionContent,
    /// Who wrote it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// An action item was added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewActionItemAdded {
    /// The item.
    pub id: ActionItemId,
    /// What to do.
    pub title: String,
    /// Who owns it.
    pub owner: String,
    /// When it is due.
    pub due: Timestamp,
    /// Who added it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// An action item was completed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewActionItemCompleted {
    /// The item.
    pub id: ActionItemId,
    /// Who completed it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The draft was submitted for review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewSubmitted {
    /// Who submitted it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// The review was published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewPublished {
    /// Who published it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

impl ReviewEvent {
    /// The stable type name of the event.
    pub fn type_name(&self) -> &'static str {
        match self {
            ReviewEvent::Created(_) => "ReviewCreated",
            ReviewEvent::SectionEdited(_) => "ReviewSectionEdited",
            ReviewEvent::ActionItemAdded(_) => "ReviewActionItemAdded",
            ReviewEvent::ActionItemCompleted(_) => "ReviewActionItemCompleted",
            ReviewEvent::Submitted(_) => "ReviewSubmitted",
            ReviewEvent::Published(_) => "ReviewPublished",
        }
    }

    /// The schema version of the event's encoding.
    pub fn schema_version(&self) -> u16 {
        1
    }
}
