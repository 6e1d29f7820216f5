//! TODO(in progress): the incident aggregate.

use serde::{Deserialize, Serialize};

/// Events of the incident aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum IncidentEvent {}

impl IncidentEvent {
    /// The stable type name of the event.
    pub fn type_name(&self) -> &'static str {
        match *self {}
    }
    /// The schema version of the event's encoding.
    pub fn schema_version(&self) -> u16 {
        match *self {}
    }
}

/// Rules of the incident aggregate that a command can violate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {}
