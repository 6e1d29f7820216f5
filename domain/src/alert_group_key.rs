//! The key of an alert group (service + dedup key): vocabulary shared by the alert
//! group and the incidents it opens, so neither module imports the other for it.

use crate::ids::ServiceId;
use serde::{Deserialize, Serialize};

/// Why a dedup key is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DedupKeyError {
    /// The dedup key is empty.
    #[error("dedup key is empty")]
    Empty,
    /// The dedup key is longer than [`MAX_DEDUP_KEY_CHARS`].
    #[error("dedup key is too long")]
    TooLong,
}

/// The longest accepted dedup key, in characters.
pub const MAX_DEDUP_KEY_CHARS: usize = 200;

/// The stream id of an alert group: `alertgroup-<service ulid>-<dedup key>`.
pub fn alert_group_stream_id(service: ServiceId, dedup_key: &str) -> String {
    format!("alertgroup-{service}-{dedup_key}")
}

/// Identifies an alert group: a service and a dedup key (fingerprint).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertGroupKey {
    /// The alerting service.
    pub service: ServiceId,
    /// The dedup key / fingerprint (non-empty, at most [`MAX_DEDUP_KEY_CHARS`]).
    pub dedup_key: String,
}

impl AlertGroupKey {
    /// A validated key.
    pub fn new(service: ServiceId, dedup_key: impl Into<String>) -> Result<Self, DedupKeyError> {
        let key = AlertGroupKey {
            service,
            dedup_key: dedup_key.into(),
        };
        key.validate()?;
        Ok(key)
    }

    /// Checks the dedup key: non-empty, at most [`MAX_DEDUP_KEY_CHARS`] characters.
    pub fn validate(&self) -> Result<(), DedupKeyError> {
        if self.dedup_key.is_empty() {
            Err(DedupKeyError::Empty)
        } else if self.dedup_key.chars().count() > MAX_DEDUP_KEY_CHARS {
            Err(DedupKeyError::TooLong)
        } else {
            Ok(())
        }
    }

    /// This group's stream id (see [`alert_group_stream_id`]).
    pub fn stream_id(&self) -> String {
        alert_group_stream_id(self.service, &self.dedup_key)
    }
}
