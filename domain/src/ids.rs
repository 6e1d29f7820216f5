//! Typed identifiers. Each is a ULID, encoded as a `u128` (16 bytes in
//! bincode, never a 26-character string), and names its stream.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(#[serde(with = "ulid::serde::ulid_as_u128")] pub Ulid);

        impl $name {
            /// The stream-id prefix of this aggregate.
            pub const PREFIX: &'static str = $prefix;

            /// The id made of a ULID.
            pub const fn new(ulid: Ulid) -> Self {
                $name(ulid)
            }

            /// The id of this aggregate's stream, e.g. `incident-01H...`.
            pub fn stream_id(&self) -> String {
                format!("{}-{}", $prefix, self.0)
            }

            /// Parses a stream id of this aggregate back into the id.
            pub fn from_stream_id(stream: &str) -> Option<Self> {
                let rest = stream.strip_prefix($prefix)?.strip_prefix('-')?;
                Ulid::from_string(rest).ok().map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ulid::DecodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ulid::from_string(s).map($name)
            }
        }
    };
}

ulid_id!(
    /// Identifies a service (stream `service-<ulid>`).
    ServiceId,
    "service"
);
ulid_id!(
    /// Identifies an incident (stream `incident-<ulid>`).
    IncidentId,
    "incident"
);
ulid_id!(
    /// Identifies a change (stream `change-<ulid>`).
    ChangeId,
    "change"
);
ulid_id!(
    /// Identifies a freeze window (stream `freeze-<ulid>`).
    FreezeId,
    "freeze"
);
ulid_id!(
    /// Identifies a post-incident review (stream `review-<ulid>`).
    ReviewId,
    "review"
);
ulid_id!(
    /// Identifies an action item inside a review (not a stream of its own).
    ActionItemId,
    "action"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_id_round_trips() {
        let id = IncidentId::new(Ulid::from_parts(1, 2));
        let stream = id.stream_id();
        assert!(stream.starts_with("incident-"));
        assert_eq!(IncidentId::from_stream_id(&stream), Some(id));
        assert_eq!(ChangeId::from_stream_id(&stream), None);
    }
}
