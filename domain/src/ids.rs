//! Typed identifiers. Each is a ULID and names its stream. In the log (bincode) an id is a
//! `u128` (16 bytes, never a 26-character string); in JSON and every other human-readable
//! format it is the 26-character ULID text the API shows (see [`id_serde`]).
//!
//! Text ids are parsed strictly by the ULID spec ([`parse_ulid`]): exactly 26
//! characters of Crockford's base32 alphabet (`0-9 A-Z` without `I L O U`),
//! the first one `0`-`7` (a larger first character would need 131 bits and
//! used to wrap around onto another id). Letters are case-insensitive, as the
//! spec says; Crockford's reading aliases (`I`/`L` as 1, `O` as 0) are
//! refused, so every id has exactly one spelling up to case.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// The serde form of every typed id: the `u128` in binary formats (bincode: 16 bytes, the
/// form the log has always stored, so stored events and golden files are unchanged), the
/// 26-character ULID text in human-readable formats such as JSON. A JSON number cannot
/// carry 128 bits: `serde_json::Value` refuses it (NumberOutOfRange, so a payload rendered
/// through it came out null) and jq and JavaScript round it to a double (2.098e+36).
pub mod id_serde {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};
    use ulid::Ulid;

    /// Writes `id` as ULID text (human-readable formats) or as a `u128` (binary formats).
    pub fn serialize<S: Serializer>(id: &Ulid, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(id)
        } else {
            serializer.serialize_u128(id.0)
        }
    }

    /// Reads what [`serialize`] writes: ULID text (human-readable) or a `u128` (binary).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Ulid, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(UlidText)
        } else {
            deserializer.deserialize_u128(UlidBits)
        }
    }

    struct UlidText;

    impl Visitor<'_> for UlidText {
        type Value = Ulid;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a ULID as 26 characters of Crockford base32")
        }

        fn visit_str<E: Error>(self, text: &str) -> Result<Ulid, E> {
            super::parse_ulid(text).map_err(|e| E::custom(format!("bad ULID {text:?}: {e}")))
        }
    }

    struct UlidBits;

    impl Visitor<'_> for UlidBits {
        type Value = Ulid;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a ULID as a 128-bit unsigned integer")
        }

        fn visit_u128<E: Error>(self, bits: u128) -> Result<Ulid, E> {
            Ok(Ulid(bits))
        }
    }
}

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
        pub struct $name(#[serde(with = "id_serde")] pub Ulid);

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

    #[test]
    fn ids_are_ulid_text_in_json() {
        let id = IncidentId::new(Ulid::from_parts(1_735_689_600_000, 100));
        let json = serde_json::to_value(id).unwrap();
        assert_eq!(json, serde_json::Value::String(id.to_string()));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        assert_eq!(serde_json::from_value::<IncidentId>(json).unwrap(), id);
        let err = serde_json::from_str::<IncidentId>("\"not-a-ulid\"").unwrap_err();
        assert!(err.to_string().contains("bad ULID"), "{err}");
    }
}
