//! TODO(in progress): the change aggregate.

use serde::{Deserialize, Serialize};

/// Events of the change aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ChangeEvent {}

impl ChangeEvent {
    /// The stable type name of the event.
    pub fn type_name(&self) -> &'static str {
        match *self {}
    }
    /// The schema version of the event's encoding.
    pub fn schema_version(&self) -> u16 {
        match *self {}
    }
}

/// Rules of the change aggregate that a command can violate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {}
