//! Typed identifiers. Each is a ULID, encoded as a `u128` (16 bytes in
//! bincode, never a 26-character string), and names its stream.
//!
//! Text ids are parsed strictly by the ULID spec ([`parse_ulid`]): exactly 26
//! characters of Crockford's base32 alphabet (`0-9 A-Z` without `I L O U`),
//! the first one `0`-`7` (a larger first character would need 131 bits and
//! used to wrap around onto another id). Letters are case-insensitive, as the
//! spec says; Crockford's reading aliases (`I`/`L` as 1, `O` as 0) are
//! refused, so every id has exactly one spelling up to case.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// Why a text id is not a ULID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not exactly 26 characters.
    #[error("a ULID has 26 characters")]
    Length,
    /// A character outside Crockford's base32 alphabet.
    #[error("a ULID uses Crockford base32 (0-9, A-Z without I, L, O, U)")]
    Character,
    /// The first character is above `7`: the value does not fit 128 bits.
    #[error("a ULID starts with 0-7 (larger values overflow 128 bits)")]
    Overflow,
}

/// The value of one Crockford base32 digit (either case), if it is one.
fn crockford_digit(b: u8) -> Option<u8> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let upper = b.to_ascii_uppercase();
    ALPHABET.iter().position(|&a| a == upper).map(|v| v as u8)
}

/// Parses a 26-character ULID strictly (see the module docs).
pub fn parse_ulid(text: &str) -> Result<Ulid, IdError> {
    let bytes = text.as_bytes();
    if bytes.len() != 26 {
        return Err(IdError::Length);
    }
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let digit = crockford_digit(b).ok_or(IdError::Character)?;
        if i == 0 && digit > 7 {
            return Err(IdError::Overflow);
        }
        value = (value << 5) | u128::from(digit);
    }
    Ok(Ulid(value))
}

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
                parse_ulid(rest).ok().map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_ulid(s).map($name)
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
    fn a_ulid_whose_first_character_is_above_7_overflows_and_is_refused() {
        let real = Ulid::from_parts(1_700_000_000_000, 42);
        let text = real.to_string();
        assert_eq!(parse_ulid(&text), Ok(real));
        assert_eq!(
            parse_ulid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
            Ok(Ulid(u128::MAX))
        );
        // The same 125 low bits with a first digit of 8..Z used to wrap onto `real`.
        for first in ['8', 'G', 'Z', 'z'] {
            let overflowing = format!("{first}{}", &text[1..]);
            assert_eq!(
                parse_ulid(&overflowing),
                Err(IdError::Overflow),
                "{overflowing}"
            );
            assert!(overflowing.parse::<IncidentId>().is_err());
        }
    }

    #[test]
    fn ulids_are_26_crockford_characters_case_insensitive() {
        let real = Ulid::from_parts(1_700_000_000_000, 42);
        let text = real.to_string();
        assert_eq!(parse_ulid(&text.to_ascii_lowercase()), Ok(real));
        assert_eq!(parse_ulid(&text[1..]), Err(IdError::Length));
        assert_eq!(parse_ulid(&format!("{text}0")), Err(IdError::Length));
        assert_eq!(parse_ulid(""), Err(IdError::Length));
        for alias in ['I', 'L', 'O', 'U', '-', ' '] {
            let bad = format!("{}{alias}", &text[..25]);
            assert_eq!(parse_ulid(&bad), Err(IdError::Character), "{bad}");
        }
        // 26 bytes but not 26 ASCII characters.
        assert_eq!(
            parse_ulid(&format!("{}\u{e9}", &text[..24])),
            Err(IdError::Character)
        );
    }

    #[test]
    fn stream_id_round_trips() {
        let id = IncidentId::new(Ulid::from_parts(1, 2));
        let stream = id.stream_id();
        assert!(stream.starts_with("incident-"));
        assert_eq!(IncidentId::from_stream_id(&stream), Some(id));
        assert_eq!(ChangeId::from_stream_id(&stream), None);
    }
}
