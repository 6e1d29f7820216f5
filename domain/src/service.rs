//! TODO(in progress): the service aggregate.

use serde::{Deserialize, Serialize};

/// Events of the service aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServiceEvent {}

impl ServiceEvent {
    /// The stable type name of the event.
    pub fn type_name(&self) -> &'static str {
        match *self {}
    }
    /// The schema version of the event's encoding.
    pub fn schema_version(&self) -> u16 {
        match *self {}
    }
}

/// Rules of the service aggregate that a command can violate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {}
